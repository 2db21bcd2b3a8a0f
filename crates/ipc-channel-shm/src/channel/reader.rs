//! The reading end of a channel, and the committed bytes it lends for
//! reading in place.

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

/// The reading end of a channel.
///
/// Reads see what the writer committed (or published because the ring was
/// full). After the writer closes, the reader drains what is left and then
/// gets [`Error::Closed`] (`Ok(0)` through `io::Read`). Consuming bytes wakes
/// the writer only if it sleeps waiting for that much space.
pub struct Reader {
    ep: Endpoint,
    /// Next byte to read (published to `read_pos` after each read).
    read_local: u64,
    /// Last validated `write_pos`.
    write_seen: u64,
    /// Last value stored to `read_pos` (behind `read_local` after a
    /// deferred consume).
    released: u64,
    /// Message alignment minus one ([`Reader::set_align`]).
    align_mask: u64,
}

impl Side for Reader {
    const SLOT: Slot = Slot::Reader;

    fn endpoint(&mut self) -> &mut Endpoint {
        &mut self.ep
    }

    /// Prefetches the line the next message starts in (after the padding
    /// of an aligned channel): its miss then overlaps the wait for
    /// `write_pos` instead of following it. The line may change hands while
    /// the writer fills it; the hint costs the writer nothing it would not
    /// pay for the reader's first load.
    #[inline]
    fn spinning(&mut self) {
        let pos = self.read_local.wrapping_add(self.padding() as u64);
        let off = (pos & (self.ep.capacity - 1)) as usize;
        crate::sync::prefetch(self.ep.data.wrapping_add(off));
    }

    #[inline]
    fn poll(&mut self, want: u64) -> Result<Option<u64>, Error> {
        let avail = self.load_available()?;
        if avail >= want.max(1) {
            return Ok(Some(avail));
        }
        if self.ep.header().writer_state.load(Ordering::Acquire) & STATE_CLOSED != 0
            || self.ep.closed_here()
        {
            // The writer publishes before it closes: look once more.
            let avail = self.load_available()?;
            return if avail > 0 {
                Ok(Some(avail))
            } else {
                Err(Error::Closed)
            };
        }
        Ok(None)
    }

    fn peer_died(&mut self, _want: u64) -> Result<u64, Error> {
        // Drain what the dead writer published before reporting its death.
        match self.load_available()? {
            0 => Err(Error::PeerDied),
            n => Ok(n),
        }
    }
}

impl Reader {
    pub(crate) fn new(shared: Arc<Shared>, channel: usize) -> Reader {
        Reader {
            ep: Endpoint::new(shared, channel, Slot::Reader),
            read_local: 0,
            write_seen: 0,
            released: 0,
            align_mask: 0,
        }
    }

    /// Where the layer above expects messages to start: at multiples of
    /// `align` bytes of the stream, as the writer puts them
    /// ([`Writer::set_align`](crate::Writer::set_align)).
    ///
    /// # Panics
    /// If `align` is not a power of two from 1 to 64 (a bug of the caller).
    pub fn set_align(&mut self, align: usize) {
        self.align_mask = super::align_mask(align);
    }

    /// How many bytes to skip before the next message, at the alignment
    /// [`set_align`](Reader::set_align) asked for (0 without). Whatever
    /// they hold is ignored.
    #[inline]
    pub fn padding(&self) -> usize {
        super::padding_at(self.read_local, self.align_mask)
    }

    /// Loads and validates `write_pos`; returns the readable byte count.
    #[inline]
    fn load_available(&mut self) -> Result<u64, Error> {
        let w = self.ep.header().write_pos.load(Ordering::Acquire);
        let avail = w.wrapping_sub(self.read_local);
        if avail > self.ep.capacity || w.wrapping_sub(self.write_seen) > self.ep.capacity {
            return Err(self.ep.fail("write position out of range"));
        }
        self.write_seen = w;
        Ok(avail)
    }

    /// Readable bytes according to the last validated write position.
    #[inline]
    fn cached_available(&self) -> u64 {
        self.write_seen.wrapping_sub(self.read_local)
    }

    /// At least `want` readable bytes (`1 <= want <= capacity`), waiting for
    /// the writer if needed; fewer only at the end of the stream.
    #[inline]
    fn data(&mut self, want: u64, deadline: &Deadline) -> Result<u64, Error> {
        let avail = self.cached_available();
        if avail >= want {
            return Ok(avail);
        }
        if let Some(avail) = self.poll(want)? {
            return Ok(avail);
        }
        // Before waiting, hand back what was consumed without telling: the
        // writer may be waiting for exactly that space.
        if self.released != self.read_local {
            self.release(0);
        }
        self.wake_batching_writer();
        block(self, want, deadline)
    }

    /// Wakes the writer if it sleeps (once).
    #[inline]
    fn wake_writer(&mut self) {
        let word: *const AtomicU32 = &self.ep.header().writer_sleep;
        // SAFETY: the word lives in the mapping kept alive by `self.ep`.
        self.ep.wake_peer(unsafe { &*word }, Slot::Writer);
    }

    /// Wakes a writer asleep until more space is free than there is, now
    /// that this reader waits for data only that writer can add. A streaming
    /// writer asks to be woken once half the ring is free (fewer wake-ups);
    /// a reader that consumed less than that and then waits for more than is
    /// published would otherwise leave both asleep until a deadline. Woken,
    /// the writer fills what is free and publishes it (it sleeps only when
    /// nothing is free).
    #[inline]
    fn wake_batching_writer(&mut self) {
        let h = self.ep.header();
        // Our last `read_pos` store before the load of the writer's word,
        // as in `release` (either the writer's own check sees the space, or
        // we see it asleep).
        fence(Ordering::SeqCst);
        if h.writer_sleep.load(Ordering::Acquire) != SLEEPING {
            return;
        }
        let used = h
            .write_pos
            .load(Ordering::Acquire)
            .wrapping_sub(self.read_local);
        // A nonsensical write position is reported by the next read; here it
        // only means "wake the writer".
        if used != self.ep.capacity {
            self.wake_writer();
        }
    }

    /// Hands `n` bytes back to the writer and wakes it if it sleeps waiting
    /// for that much space.
    #[inline]
    fn release(&mut self, n: u64) {
        self.read_local = self.read_local.wrapping_add(n);
        self.ep.stats.bytes += n;
        self.released = self.read_local;
        let h = self.ep.header();
        h.read_pos.store(self.read_local, Ordering::Release);
        fence(Ordering::SeqCst);
        if h.writer_sleep.load(Ordering::Acquire) == SLEEPING {
            let wanted = h
                .space_wanted
                .load(Ordering::Relaxed)
                .clamp(1, self.ep.capacity);
            let used = h
                .write_pos
                .load(Ordering::Acquire)
                .wrapping_sub(self.read_local);
            // A nonsensical write position is reported by the next read; here
            // it only means "wake the writer".
            let free = self.ep.capacity.saturating_sub(used);
            if free >= wanted || used > self.ep.capacity {
                self.wake_writer();
            }
        }
    }

    /// Like [`read_into`](Reader::read_into), waiting until `deadline`.
    ///
    /// # Errors
    /// [`Error::Timeout`] once it passed (nothing consumed); otherwise as
    /// for [`read_into`](Reader::read_into).
    pub fn read_into_deadline(
        &mut self,
        buf: &mut [u8],
        deadline: &Deadline,
    ) -> Result<usize, Error> {
        self.ep.check()?;
        if buf.is_empty() {
            return Ok(0);
        }
        let avail = self.data(1, deadline)?;
        let n = (buf.len() as u64).min(avail) as usize;
        // SAFETY: `n <= avail`: committed bytes after `read_local`.
        unsafe { self.ep.copy_out(self.read_local, &mut buf[..n]) };
        self.release(n as u64);
        Ok(n)
    }

    /// Reads at least one byte into `buf` (as many as are available and fit),
    /// waiting as long as needed. Returns `Ok(0)` only for an empty `buf`.
    ///
    /// # Errors
    /// [`Error::Closed`] at the end of the stream (the writer closed and all
    /// was read), [`Error::PeerDied`] once the dead writer's data is drained,
    /// [`Error::Corrupted`].
    pub fn read_into(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.read_into_deadline(buf, &Deadline::never())
    }

    /// Like [`read_into`](Reader::read_into), without waiting.
    ///
    /// # Errors
    /// [`Error::Timeout`] if nothing is readable now.
    pub fn try_read_into(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        self.read_into_deadline(buf, &Deadline::now())
    }

    /// Like [`read_into`](Reader::read_into), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if nothing arrived in time (nothing was consumed).
    pub fn read_into_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, Error> {
        self.read_into_deadline(buf, &Deadline::after(timeout))
    }

    /// Fills all of `buf`, waiting as long as needed.
    ///
    /// # Errors
    /// As for [`read_into`](Reader::read_into); at the end of the stream the
    /// bytes read so far are in `buf` and consumed.
    pub fn read_exact_into(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        self.read_exact_into_deadline(buf, &Deadline::never())
    }

    /// Like [`read_exact_into`](Reader::read_exact_into), waiting at most
    /// `timeout` in all. When `buf` fits in the ring, a timeout consumes
    /// nothing (the read waits until all of `buf` is there); a larger read
    /// streams and a timeout leaves the bytes read so far consumed.
    ///
    /// # Errors
    /// [`Error::Timeout`], or as for [`read_into`](Reader::read_into).
    pub fn read_exact_into_timeout(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<(), Error> {
        self.read_exact_into_deadline(buf, &Deadline::after(timeout))
    }

    /// Like [`read_exact_into_timeout`](Reader::read_exact_into_timeout),
    /// waiting until `deadline`.
    ///
    /// # Errors
    /// As for [`read_exact_into_timeout`](Reader::read_exact_into_timeout).
    pub fn read_exact_into_deadline(
        &mut self,
        mut buf: &mut [u8],
        deadline: &Deadline,
    ) -> Result<(), Error> {
        self.ep.check()?;
        while !buf.is_empty() {
            // With a deadline, a read that fits waits for all its bytes so
            // that a timeout consumes nothing. Without one, it streams: the
            // writer may be waiting for space to publish the rest.
            let want = if deadline.is_set() {
                (buf.len() as u64).min(self.ep.capacity)
            } else {
                1
            };
            let avail = self.data(want, deadline)?;
            let n = (buf.len() as u64).min(avail) as usize;
            // SAFETY: `n <= avail`: committed bytes after `read_local`.
            unsafe { self.ep.copy_out(self.read_local, &mut buf[..n]) };
            self.release(n as u64);
            buf = &mut buf[n..];
        }
        Ok(())
    }

    /// Waits until at least `min` bytes are readable (fewer only at the end of
    /// the stream, never zero), then lends every readable byte for reading in
    /// place.
    ///
    /// The writer must get to publish `min` bytes: one that appends fills the
    /// ring before it waits, so that always holds; one that waits in
    /// [`Writer::reserve`](crate::Writer::reserve)`(m)` needs
    /// `min + m <= capacity`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `min` exceeds the capacity; otherwise as
    /// for [`read_into`](Reader::read_into).
    #[inline]
    pub fn peek(&mut self, min: usize) -> Result<Peek<'_>, Error> {
        self.peek_deadline(min, &Deadline::never())
    }

    /// Like [`peek`](Reader::peek), without waiting.
    ///
    /// # Errors
    /// [`Error::Timeout`] if fewer than `min` bytes (and no end of stream)
    /// are there now.
    #[inline]
    pub fn try_peek(&mut self, min: usize) -> Result<Peek<'_>, Error> {
        self.peek_deadline(min, &Deadline::now())
    }

    /// Like [`peek`](Reader::peek), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if `min` bytes did not arrive in time.
    #[inline]
    pub fn peek_timeout(&mut self, min: usize, timeout: Duration) -> Result<Peek<'_>, Error> {
        self.peek_deadline(min, &Deadline::after(timeout))
    }

    /// Like [`peek`](Reader::peek), waiting until `deadline`.
    ///
    /// # Errors
    /// [`Error::Timeout`] once it passed; otherwise as for
    /// [`peek`](Reader::peek).
    #[inline]
    pub fn peek_deadline(&mut self, min: usize, deadline: &Deadline) -> Result<Peek<'_>, Error> {
        self.ep.check()?;
        if min as u64 > self.ep.capacity {
            return Err(Error::InvalidArgument("peek larger than the ring"));
        }
        let avail = self.data((min as u64).max(1), deadline)?;
        Ok(self.peek_of(avail))
    }

    #[inline]
    fn peek_of(&mut self, avail: u64) -> Peek<'_> {
        let runs = self.ep.runs(self.read_local, avail as usize);
        Peek { reader: self, runs }
    }

    /// Closes the channel from this end now: what was not read is dropped,
    /// the writer's next call returns [`Error::Closed`], and so does every
    /// later call here. For a reader that can no longer follow the stream
    /// (a message cut off by a timeout), so that nothing is taken for its
    /// rest.
    pub fn close(&mut self) {
        if self.ep.failure.is_none() {
            self.ep.failure = Some(Error::Closed);
        }
        self.ep.close_and_wake_peer(Slot::Reader);
    }

    endpoint_accessors!("data", "io::Read");
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.ep.close_and_wake_peer(Slot::Reader);
    }
}

impl io::Read for Reader {
    /// Reads what is available (waiting for at least one byte); `Ok(0)` at
    /// the end of the stream.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = Deadline::from(self.ep.io_timeout);
        match self.read_into_deadline(buf, &deadline) {
            Ok(n) => Ok(n),
            Err(Error::Closed) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

/// Readable ring bytes lent by [`Reader::peek`], as one or two slices.
pub struct Peek<'a> {
    reader: &'a mut Reader,
    runs: [(*mut u8, usize); 2],
}

impl fmt::Debug for Peek<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peek").field("len", &self.len()).finish()
    }
}

impl<'a> Peek<'a> {
    /// Total bytes readable.
    #[inline]
    pub fn len(&self) -> usize {
        self.runs[0].1 + self.runs[1].1
    }

    /// Whether nothing is readable.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The readable bytes: the first slice, then the part after the wrap.
    ///
    /// The bytes come from the peer: treat them as untrusted input.
    #[inline]
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        // SAFETY: both runs are committed data the writer no longer touches
        // until the reader releases it; plain `u8` is valid for any value a
        // misbehaving peer might still write.
        unsafe {
            (
                std::slice::from_raw_parts(self.runs[0].0, self.runs[0].1),
                std::slice::from_raw_parts(self.runs[1].0, self.runs[1].1),
            )
        }
    }

    /// The readable bytes as slices that borrow the reader itself (for a
    /// caller that reads them over several steps and then consumes through
    /// a new peek).
    #[inline]
    pub fn into_slices(self) -> (&'a [u8], &'a [u8]) {
        // SAFETY: as in `as_slices`; the slices keep the reader borrowed for
        // 'a, so it cannot consume (hand the bytes back) meanwhile.
        unsafe {
            (
                std::slice::from_raw_parts(self.runs[0].0, self.runs[0].1),
                std::slice::from_raw_parts(self.runs[1].0, self.runs[1].1),
            )
        }
    }

    /// Consumes the first `n` bytes, handing the space back to the writer.
    ///
    /// # Panics
    /// If `n > self.len()`: a bug of the caller, never caused by the peer.
    #[inline]
    pub fn consume(self, n: usize) {
        assert!(n <= self.len(), "consume past the peeked bytes");
        self.reader.release(n as u64);
    }

    /// Consumes the first `n` bytes without handing the space back yet: the
    /// writer learns of it with the next `consume` or read, or before this
    /// reader waits. Saves a store and a fence when a message is read in two
    /// steps (its envelope, then its payload).
    ///
    /// # Panics
    /// If `n > self.len()`: a bug of the caller, never caused by the peer.
    #[inline]
    pub fn consume_deferred(self, n: usize) {
        assert!(n <= self.len(), "consume past the peeked bytes");
        self.reader.read_local = self.reader.read_local.wrapping_add(n as u64);
        self.reader.ep.stats.bytes += n as u64;
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.ep
            .debug(f, "Reader")
            .field("read_pos", &self.read_local)
            .finish()
    }
}
