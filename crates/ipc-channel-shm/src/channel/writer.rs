//! The writing end of a channel, and the free space it lends for writing
//! in place.

use super::{block, endpoint_accessors, Deadline, Endpoint, Side};
use crate::layout::{SLEEPING, STATE_CLOSED};
use crate::segment::Shared;
use crate::stats::Stats;
use crate::sync::{fence, AtomicU32, Ordering};
use crate::sys::Slot;
use crate::Error;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// The writing end of a channel.
///
/// Bytes written with [`append`](Writer::append) (or `io::Write::write`) go
/// into the ring at once but become visible to the reader only when the
/// writer [`commit`](Writer::commit)s (or `flush`es). A blob larger than the
/// ring streams through it: when the ring is full, the writer publishes what
/// it has and waits for space. The reader is signalled only when it sleeps,
/// and at most once per commit or full-ring wait.
///
/// Dropping the writer publishes what was written and closes the channel: the
/// reader drains it, then sees the end of the stream.
pub struct Writer {
    ep: Endpoint,
    /// Next byte to write (not yet published beyond `published`).
    write_local: u64,
    /// Last value stored to `write_pos`.
    published: u64,
    /// Last validated `read_pos`.
    read_seen: u64,
    /// Free space worth waking the writer for, announced while it sleeps.
    wake_at: u64,
    /// Message alignment minus one ([`Writer::set_align`]).
    align_mask: u64,
}

impl Side for Writer {
    const SLOT: Slot = Slot::Writer;

    fn endpoint(&mut self) -> &mut Endpoint {
        &mut self.ep
    }

    #[inline]
    fn poll(&mut self, want: u64) -> Result<Option<u64>, Error> {
        let h = self.ep.header();
        if h.reader_state.load(Ordering::Acquire) & STATE_CLOSED != 0 || self.ep.closed_here() {
            return Err(Error::Closed);
        }
        let r = h.read_pos.load(Ordering::Acquire);
        let used = self.write_local.wrapping_sub(r);
        if used > self.ep.capacity || r.wrapping_sub(self.read_seen) > self.ep.capacity {
            return Err(self.ep.fail("read position out of range"));
        }
        self.read_seen = r;
        let free = self.ep.capacity - used;
        Ok((free >= want).then_some(free))
    }

    fn announce(&mut self, want: u64) {
        let wanted = self.wake_at.max(want);
        self.ep
            .header()
            .space_wanted
            .store(wanted, Ordering::Relaxed);
    }

    fn peer_died(&mut self, _want: u64) -> Result<u64, Error> {
        Err(Error::PeerDied)
    }
}

impl Writer {
    pub(crate) fn new(shared: Arc<Shared>, channel: usize) -> Writer {
        Writer {
            ep: Endpoint::new(shared, channel, Slot::Writer),
            write_local: 0,
            published: 0,
            read_seen: 0,
            wake_at: 1,
            align_mask: 0,
        }
    }

    /// Where the layer above starts its messages: at multiples of `align`
    /// bytes of the stream (1, the default: anywhere). The ring starts on a
    /// cache line, so with 32 a message of up to 32 bytes never straddles
    /// two lines, and the reader takes it with one line transfer instead of
    /// two every so often. Both ends must agree ([`Reader::set_align`]):
    /// the writer appends [`padding`](Writer::padding) zero bytes in front
    /// of a message, the reader skips as many.
    ///
    /// [`Reader::set_align`]: crate::Reader::set_align
    ///
    /// # Panics
    /// If `align` is not a power of two from 1 to 64 (a bug of the caller).
    pub fn set_align(&mut self, align: usize) {
        self.align_mask = super::align_mask(align);
    }

    /// How many bytes to append before the next message starts at the
    /// alignment [`set_align`](Writer::set_align) asked for (0 without).
    #[inline]
    pub fn padding(&self) -> usize {
        super::padding_at(self.write_local, self.align_mask)
    }

    /// Free space according to the last validated read position.
    #[inline]
    fn cached_free(&self) -> u64 {
        self.ep.capacity - self.write_local.wrapping_sub(self.read_seen)
    }

    /// At least `want` bytes of free space (`want <= capacity`), waiting for
    /// the reader if needed. Publishes pending bytes before it sleeps, and
    /// asks to be woken only once `wake_at` bytes are free (fewer wake-ups
    /// when streaming).
    #[inline]
    fn space(&mut self, want: u64, wake_at: u64, deadline: &Deadline) -> Result<u64, Error> {
        let free = self.cached_free();
        if free >= want {
            return Ok(free);
        }
        if let Some(free) = self.poll(want)? {
            return Ok(free);
        }
        // The reader must see what we have before we wait for it.
        self.publish();
        self.wake_at = wake_at;
        block(self, want, deadline)
    }

    /// Makes every written byte visible to the reader and wakes it if it
    /// sleeps.
    #[inline]
    fn publish(&mut self) {
        if self.write_local == self.published {
            return;
        }
        let h = self.ep.header();
        h.write_pos.store(self.write_local, Ordering::Release);
        self.published = self.write_local;
        fence(Ordering::SeqCst);
        if h.reader_sleep.load(Ordering::Relaxed) == SLEEPING {
            let word: *const AtomicU32 = &h.reader_sleep;
            // SAFETY: the word lives in the mapping kept alive by `self.ep`.
            self.ep.wake_peer(unsafe { &*word }, Slot::Reader);
        }
    }

    /// Like [`append_timeout`](Writer::append_timeout), waiting until
    /// `deadline`.
    ///
    /// # Errors
    /// As for [`append_timeout`](Writer::append_timeout).
    pub fn append_deadline(&mut self, mut buf: &[u8], deadline: &Deadline) -> Result<usize, Error> {
        self.ep.check()?;
        let mut done = 0;
        while !buf.is_empty() {
            // Fill every free byte before sleeping (a reader may wait for a
            // full ring), then sleep until half the ring or the rest is free.
            let wake_at = (buf.len() as u64).min(self.ep.capacity / 2);
            let free = match self.space(1, wake_at, deadline) {
                Ok(free) => free,
                Err(Error::Timeout) if done > 0 => break,
                Err(e) => return Err(e),
            };
            let n = (buf.len() as u64).min(free) as usize;
            // SAFETY: `n <= free`: the range after `write_local` is ours.
            unsafe { self.ep.copy_in(self.write_local, &buf[..n]) };
            self.write_local = self.write_local.wrapping_add(n as u64);
            buf = &buf[n..];
            done += n;
        }
        self.ep.stats.bytes += done as u64;
        Ok(done)
    }

    /// Appends all of `buf` to the current blob, waiting for space as long as
    /// needed (a blob may be larger than the ring).
    ///
    /// # Errors
    /// [`Error::Closed`] if the reader has gone, [`Error::PeerDied`] if its
    /// process died while the ring was full, [`Error::Corrupted`].
    #[inline]
    pub fn append(&mut self, buf: &[u8]) -> Result<(), Error> {
        self.append_deadline(buf, &Deadline::never()).map(drop)
    }

    /// Appends as much of `buf` as fits now, without waiting; returns how
    /// many bytes that was.
    ///
    /// # Errors
    /// [`Error::Timeout`] if not a byte fits; otherwise as for `append`.
    pub fn try_append(&mut self, buf: &[u8]) -> Result<usize, Error> {
        self.append_deadline(buf, &Deadline::now())
    }

    /// Like [`append`](Writer::append), but waits for space at most `timeout`
    /// in all. Returns how many bytes were appended: fewer than `buf.len()`
    /// only when the deadline passed after some progress; those bytes stay in
    /// the current blob (and may have been published if the ring filled up).
    ///
    /// # Errors
    /// [`Error::Timeout`] if not a byte fitted in time; otherwise as `append`.
    pub fn append_timeout(&mut self, buf: &[u8], timeout: Duration) -> Result<usize, Error> {
        self.append_deadline(buf, &Deadline::after(timeout))
    }

    /// Publishes the current blob: everything appended so far becomes visible
    /// to the reader, which is woken if it sleeps. Never blocks.
    ///
    /// # Errors
    /// [`Error::Closed`] if the reader has gone (the bytes are not delivered),
    /// [`Error::Corrupted`].
    #[inline]
    pub fn commit(&mut self) -> Result<(), Error> {
        self.ep.check()?;
        if self.ep.header().reader_state.load(Ordering::Acquire) & STATE_CLOSED != 0
            || self.ep.closed_here()
        {
            return Err(Error::Closed);
        }
        self.publish();
        self.ep.stats.commits += 1;
        Ok(())
    }

    /// Reserves at least `min` bytes of free ring space for writing in place,
    /// waiting for the reader if needed. The reservation covers all free space
    /// (one or two slices around the wrap); [`Reservation::advance`] appends
    /// the bytes filled to the current blob.
    ///
    /// Unlike `append`, this waits for `min` contiguous-in-order bytes even if
    /// some space is free: a reader that waits for `n` bytes at once
    /// ([`Reader::peek`](crate::Reader::peek)) needs `n + min <= capacity`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `min` exceeds the capacity; otherwise as
    /// for [`append`](Writer::append).
    #[inline]
    pub fn reserve(&mut self, min: usize) -> Result<Reservation<'_>, Error> {
        self.reserve_deadline(min, &Deadline::never())
    }

    /// Like [`reserve`](Writer::reserve), without waiting.
    ///
    /// # Errors
    /// [`Error::Timeout`] if `min` bytes are not free now.
    #[inline]
    pub fn try_reserve(&mut self, min: usize) -> Result<Reservation<'_>, Error> {
        self.reserve_deadline(min, &Deadline::now())
    }

    /// Like [`reserve`](Writer::reserve), waiting at most `timeout`. A
    /// timeout publishes nothing that was not published before.
    ///
    /// # Errors
    /// [`Error::Timeout`] when not enough space freed up in time.
    #[inline]
    pub fn reserve_timeout(
        &mut self,
        min: usize,
        timeout: Duration,
    ) -> Result<Reservation<'_>, Error> {
        self.reserve_deadline(min, &Deadline::after(timeout))
    }

    /// Like [`reserve`](Writer::reserve), waiting until `deadline`.
    ///
    /// # Errors
    /// [`Error::Timeout`] once it passed; otherwise as for
    /// [`reserve`](Writer::reserve).
    #[inline]
    pub fn reserve_deadline(
        &mut self,
        min: usize,
        deadline: &Deadline,
    ) -> Result<Reservation<'_>, Error> {
        self.ep.check()?;
        if min as u64 > self.ep.capacity {
            return Err(Error::InvalidArgument("reservation larger than the ring"));
        }
        let free = self.space(min as u64, min as u64, deadline)? as usize;
        let runs = self.ep.runs(self.write_local, free);
        Ok(Reservation { writer: self, runs })
    }

    /// Bytes appended but not yet visible to the reader.
    pub fn uncommitted(&self) -> usize {
        self.write_local.wrapping_sub(self.published) as usize
    }

    /// Free ring space known without waiting: appending up to this many
    /// bytes neither blocks nor publishes anything. It may be less than the
    /// space really free (the reader's position is re-read only when the
    /// last one read shows less than half the ring free).
    ///
    /// # Errors
    /// [`Error::Closed`] if the reader has gone, [`Error::Corrupted`].
    #[inline]
    pub fn free_space(&mut self) -> Result<usize, Error> {
        self.ep.check()?;
        let cached = self.cached_free();
        if cached >= self.ep.capacity / 2 {
            return Ok(cached as usize);
        }
        Ok(self.poll(0)?.unwrap_or(0) as usize)
    }

    endpoint_accessors!("space", "io::Write");

    /// Closes the channel now, without publishing what was appended since
    /// the last commit: the reader drains what was committed, then sees the
    /// end of the stream; every later call here returns [`Error::Closed`].
    /// For a writer that cannot finish what it started (a message cut by a
    /// timeout), so that nothing can be taken for its rest.
    pub fn close(&mut self) {
        if self.ep.failure.is_none() {
            self.ep.failure = Some(Error::Closed);
        }
        self.ep.close_and_wake_peer(Slot::Writer);
    }

    /// Whether the reader has closed its end (or this process closed this
    /// end with [`Segment::close`](crate::Segment::close)).
    pub fn is_closed(&self) -> bool {
        self.ep.header().reader_state.load(Ordering::Acquire) & STATE_CLOSED != 0
            || self.ep.closed_here()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.ep.failure.is_some() {
            return;
        }
        self.publish();
        self.ep.close_and_wake_peer(Slot::Writer);
    }
}

impl io::Write for Writer {
    /// Appends all of `buf` (waiting for space), or fewer bytes if the I/O
    /// timeout passed after some progress.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let deadline = Deadline::from(self.ep.io_timeout);
        Ok(self.append_deadline(buf, &deadline)?)
    }

    /// Commits the current blob.
    fn flush(&mut self) -> io::Result<()> {
        Ok(self.commit()?)
    }
}

/// Free ring space lent by [`Writer::reserve`], as one or two slices.
pub struct Reservation<'a> {
    writer: &'a mut Writer,
    runs: [(*mut u8, usize); 2],
}

impl fmt::Debug for Reservation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("len", &self.len())
            .finish()
    }
}

impl<'a> Reservation<'a> {
    /// Total bytes reserved.
    #[inline]
    pub fn len(&self) -> usize {
        self.runs[0].1 + self.runs[1].1
    }

    /// Whether nothing is reserved.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The reserved space: the first slice, then the part after the wrap
    /// (empty when the space does not wrap). The contents are unspecified.
    #[inline]
    pub fn as_mut_slices(&mut self) -> (&mut [u8], &mut [u8]) {
        // SAFETY: both runs lie in the ring's free space, which the reader does
        // not touch until the writer publishes it, and they do not overlap. A
        // misbehaving peer could still write here; the bytes are plain `u8`,
        // valid for any value.
        unsafe {
            (
                std::slice::from_raw_parts_mut(self.runs[0].0, self.runs[0].1),
                std::slice::from_raw_parts_mut(self.runs[1].0, self.runs[1].1),
            )
        }
    }

    /// The reserved space as slices that borrow the writer itself (for a
    /// caller that fills them over several steps and then makes a new
    /// reservation to [`advance`](Reservation::advance) by what it wrote: the
    /// free space only grows meanwhile).
    #[inline]
    pub fn into_mut_slices(self) -> (&'a mut [u8], &'a mut [u8]) {
        // SAFETY: as in `as_mut_slices`; the slices keep the writer borrowed
        // for 'a, so nothing else touches the space meanwhile.
        unsafe {
            (
                std::slice::from_raw_parts_mut(self.runs[0].0, self.runs[0].1),
                std::slice::from_raw_parts_mut(self.runs[1].0, self.runs[1].1),
            )
        }
    }

    /// Appends the first `n` reserved bytes to the current blob (still to be
    /// committed).
    ///
    /// # Panics
    /// If `n > self.len()`: a bug of the caller, never caused by the peer.
    #[inline]
    pub fn advance(self, n: usize) {
        assert!(n <= self.len(), "advance past the reservation");
        self.writer.write_local = self.writer.write_local.wrapping_add(n as u64);
        self.writer.ep.stats.bytes += n as u64;
    }
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ep
            .debug(f, "Writer")
            .field("write_pos", &self.write_local)
            .field("published", &self.published)
            .finish()
    }
}
