//! The two ends of a channel and the wait/wake protocol between them.
//!
//! Positions are free-running 64-bit byte counts. The writer owns
//! `write_pos`, the reader `read_pos`; each keeps its own position in a local
//! variable and only ever *stores* it to shared memory, so a peer that
//! scribbles on it cannot mislead its owner. The peer's position is loaded,
//! checked (`0 <= write_pos - read_pos <= capacity`, and never moving
//! backwards) and only then used.
//!
//! Sleeping follows the classic store-fence-load handshake: the sleeper sets
//! its sleep word to `SLEEPING`, issues a `SeqCst` fence and re-checks the
//! condition; the other side stores its position, issues a `SeqCst` fence and
//! loads the sleep word. At least one of them sees the other's store, so a
//! wake-up cannot be lost; the waker clears the word with a swap, so it
//! signals at most once per sleep. See `docs/PROTOCOL.md`.

use crate::layout::{ChannelHeader, AWAKE, SLEEPING, STATE_CLOSED};
use crate::segment::{Shared, Signal};
use crate::stats::Stats;
use crate::sync::{fence, spin_loop, AtomicU32, Ordering};
use crate::sys::{Slot, PEER_CHECK_INTERVAL};
use crate::Error;
use std::cell::Cell;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Spin iterations between two reads of the clock while spinning.
const SPIN_BATCH: u32 = 64;

/// What a writer and a reader both hold.
struct Endpoint {
    shared: Arc<Shared>,
    channel: usize,
    /// The channel's control block inside `shared`'s mapping (looked up
    /// once: every operation touches it).
    header: *const ChannelHeader,
    data: *mut u8,
    capacity: u64,
    spin: Duration,
    io_timeout: Option<Duration>,
    stats: Stats,
    /// Sticky failure: once the shared memory was found corrupted, every call
    /// reports it.
    failure: Option<Error>,
    #[cfg(not(any(loom, miri)))]
    peer: Option<(u32, crate::sys::PeerWatch)>,
    /// Set once the peer process was seen dead: a process does not come
    /// back, so later waits report it at once instead of sleeping first.
    peer_dead: bool,
}

// SAFETY: the raw header and data pointers point into `shared`, which is
// Send + Sync; the endpoint is used by one thread at a time (`&mut self`).
unsafe impl Send for Endpoint {}

impl Endpoint {
    fn new(shared: Arc<Shared>, channel: usize) -> Endpoint {
        let g = shared.geometry(channel);
        // SAFETY: the ring follows the header inside the mapping (validated
        // or planned by `layout`).
        let data = unsafe {
            shared
                .base()
                .add(g.offset + core::mem::size_of::<ChannelHeader>())
        };
        let header: *const ChannelHeader = shared.header(channel);
        Endpoint {
            shared,
            channel,
            header,
            data,
            capacity: g.capacity as u64,
            spin: Duration::ZERO,
            io_timeout: None,
            stats: Stats::default(),
            failure: None,
            #[cfg(not(any(loom, miri)))]
            peer: None,
            peer_dead: false,
        }
    }

    #[inline]
    fn header(&self) -> &ChannelHeader {
        // SAFETY: `header` points into the mapping that `self.shared` keeps
        // alive as long as `self`; its fields are atomics and padding.
        unsafe { &*self.header }
    }

    #[inline]
    fn check(&self) -> Result<(), Error> {
        match &self.failure {
            Some(e) => Err(e.duplicate()),
            None => Ok(()),
        }
    }

    fn fail(&mut self, what: &'static str) -> Error {
        self.failure = Some(Error::Corrupted(what));
        Error::Corrupted(what)
    }

    /// Wakes the peer sleeping on `word` (of `slot`) if it sleeps, once.
    fn wake_peer(&mut self, word: &AtomicU32, slot: Slot) {
        if word.swap(AWAKE, Ordering::AcqRel) == SLEEPING {
            match self.shared.signal(self.channel, slot) {
                #[cfg(not(any(loom, miri)))]
                Signal::Os(s) => s.wake(word),
                Signal::Local(s) => s.wake(),
            }
            self.stats.signals += 1;
        }
    }

    /// Whether the process holding the other end still runs. `slot` is our
    /// own side. Unknown (not yet claimed) peers count as alive.
    #[cfg(not(any(loom, miri)))]
    fn peer_alive(&mut self, slot: Slot) -> bool {
        let h = self.shared.header(self.channel);
        let pid = match slot {
            Slot::Reader => h.writer_pid.load(Ordering::Acquire),
            Slot::Writer => h.reader_pid.load(Ordering::Acquire),
        };
        if pid == 0 || pid == std::process::id() {
            return true;
        }
        if self.shared.peer_gone() {
            self.peer_dead = true;
            return false;
        }
        if self.peer.as_ref().map(|(p, _)| *p) != Some(pid) {
            self.peer = crate::sys::PeerWatch::new(pid).map(|w| (pid, w));
        }
        let alive = self.peer.as_mut().is_none_or(|(_, w)| w.is_alive());
        self.peer_dead |= !alive;
        alive
    }

    #[cfg(any(loom, miri))]
    fn peer_alive(&mut self, _slot: Slot) -> bool {
        true
    }

    fn sleep(&self, word: &AtomicU32, slot: Slot, timeout: Duration) {
        match self.shared.signal(self.channel, slot) {
            #[cfg(not(any(loom, miri)))]
            Signal::Os(s) => s.wait(word, SLEEPING, timeout, self.peer.as_ref().map(|(_, w)| w)),
            Signal::Local(s) => s.wait(word, SLEEPING, timeout),
        }
    }

    /// Copies `src` into the ring at position `pos`, around the wrap.
    ///
    /// # Safety
    /// `[pos, pos + src.len())` is free space the writer owns: at most
    /// `capacity` bytes past the last `read_pos` it validated.
    #[inline]
    unsafe fn copy_in(&self, pos: u64, src: &[u8]) {
        debug_assert!(src.len() as u64 <= self.capacity);
        let off = (pos & (self.capacity - 1)) as usize;
        let first = src.len().min(self.capacity as usize - off);
        // SAFETY: `off + first <= capacity` and `src.len() - first <= off`
        // (the part that wraps lands before `off`); the range is ours.
        unsafe {
            core::ptr::copy_nonoverlapping(src.as_ptr(), self.data.add(off), first);
            if first < src.len() {
                core::ptr::copy_nonoverlapping(
                    src.as_ptr().add(first),
                    self.data,
                    src.len() - first,
                );
            }
        }
    }

    /// Copies ring bytes at `pos` into `dst`.
    ///
    /// # Safety
    /// `[pos, pos + dst.len())` is committed data the reader owns.
    #[inline]
    unsafe fn copy_out(&self, pos: u64, dst: &mut [u8]) {
        debug_assert!(dst.len() as u64 <= self.capacity);
        let off = (pos & (self.capacity - 1)) as usize;
        let first = dst.len().min(self.capacity as usize - off);
        // SAFETY: as in `copy_in`, with source and destination swapped.
        unsafe {
            core::ptr::copy_nonoverlapping(self.data.add(off), dst.as_mut_ptr(), first);
            if first < dst.len() {
                core::ptr::copy_nonoverlapping(
                    self.data,
                    dst.as_mut_ptr().add(first),
                    dst.len() - first,
                );
            }
        }
    }

    /// The ring bytes `[pos, pos + len)` as at most two (pointer, length)
    /// runs around the wrap.
    #[inline]
    fn runs(&self, pos: u64, len: usize) -> [(*mut u8, usize); 2] {
        let off = (pos & (self.capacity - 1)) as usize;
        let first = len.min(self.capacity as usize - off);
        // SAFETY: `off < capacity`, inside the ring.
        let p = unsafe { self.data.add(off) };
        [(p, first), (self.data, len - first)]
    }
}

/// One side of the blocking protocol (see [`block`]).
trait Side {
    const SLOT: Slot;
    fn endpoint(&mut self) -> &mut Endpoint;
    /// `Ok(Some(n))` once `n >= want` bytes (of data or of space) are there,
    /// `Ok(None)` while not, `Err` when waiting is pointless.
    fn poll(&mut self, want: u64) -> Result<Option<u64>, Error>;
    /// Called before each sleep, after which the sleep word is set.
    fn announce(&mut self, _want: u64) {}
    /// What to return when the peer process has died.
    fn peer_died(&mut self, want: u64) -> Result<u64, Error>;
}

/// The sleep word of `S`'s own side, detached from the borrow of `s`.
fn sleep_word<S: Side>(s: &mut S) -> *const AtomicU32 {
    let h = s.endpoint().header();
    match S::SLOT {
        Slot::Reader => &h.reader_sleep,
        Slot::Writer => &h.writer_sleep,
    }
}

/// Blocks until `side.poll(want)` is ready, the deadline passes, the peer
/// dies, or the shared memory turns out corrupted. The caller has just seen
/// `poll` fail: this counts as one wait.
///
/// Spins first if the endpoint asks for it, then sleeps in slices of at most
/// [`PEER_CHECK_INTERVAL`], checking the peer's health whenever a slice ends
/// without a wake-up.
fn block<S: Side>(side: &mut S, want: u64, deadline: &Deadline) -> Result<u64, Error> {
    side.endpoint().stats.waits += 1;
    let spin = side.endpoint().spin;
    if !spin.is_zero() {
        // The clock is first read after one batch: a peer that answers
        // within it costs no clock read at all (the spin then lasts one
        // batch longer than asked, a few hundred nanoseconds).
        let mut limit = None;
        loop {
            for _ in 0..SPIN_BATCH {
                spin_loop();
                if let Some(n) = side.poll(want)? {
                    side.endpoint().stats.spin_hits += 1;
                    return Ok(n);
                }
            }
            let now = Instant::now();
            let limit = *limit.get_or_insert_with(|| {
                let end = now + spin;
                deadline.instant().map_or(end, |d| d.min(end))
            });
            if now >= limit {
                break;
            }
        }
    }
    // SAFETY: the word lives in the mapping owned by the endpoint's `shared`,
    // which `side` (borrowed for this whole call) keeps alive.
    let word = unsafe { &*sleep_word(side) };
    // Sleeping: from here on the peer's death should wake us (Linux).
    let _ = side.endpoint().shared.watch_peer();
    loop {
        side.announce(want);
        word.swap(SLEEPING, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        match side.poll(want) {
            Ok(None) => {}
            done => {
                word.store(AWAKE, Ordering::Relaxed);
                return done.map(|n| n.expect("matched"));
            }
        }
        // Checked after the word is set: a death watch that marks the
        // death later also changes the word, so the sleep below returns.
        if side.endpoint().peer_dead || side.endpoint().shared.peer_gone() {
            side.endpoint().peer_dead = true;
            word.store(AWAKE, Ordering::Relaxed);
            return side.peer_died(want);
        }
        let slice = match deadline.instant() {
            None => PEER_CHECK_INTERVAL,
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    word.store(AWAKE, Ordering::Relaxed);
                    return Err(Error::Timeout);
                }
                (d - now).min(PEER_CHECK_INTERVAL)
            }
        };
        side.endpoint().stats.sleeps += 1;
        side.endpoint().sleep(word, S::SLOT, slice);
        if word.load(Ordering::Acquire) == AWAKE {
            // Woken by the peer: look before announcing another sleep, so
            // that one wait costs the peer at most one signal.
            if let Some(n) = side.poll(want)? {
                return Ok(n);
            }
        } else {
            // Not woken by the peer: a timeout, a signal, or the peer's death.
            let ep = side.endpoint();
            if ep.header().magic.load(Ordering::Relaxed) != crate::layout::CHANNEL_MAGIC {
                word.store(AWAKE, Ordering::Relaxed);
                return Err(ep.fail("channel header overwritten"));
            }
            if !ep.peer_alive(S::SLOT) {
                word.store(AWAKE, Ordering::Relaxed);
                return side.peer_died(want);
            }
        }
    }
}

/// A deadline that reads the clock only when first needed: most calls find
/// their data or space at once and never do.
struct Deadline {
    timeout: Option<Duration>,
    at: Cell<Option<Instant>>,
}

impl Deadline {
    fn never() -> Deadline {
        Deadline {
            timeout: None,
            at: Cell::new(None),
        }
    }

    fn after(timeout: Duration) -> Deadline {
        Deadline {
            timeout: Some(timeout),
            at: Cell::new(None),
        }
    }

    fn from(timeout: Option<Duration>) -> Deadline {
        Deadline {
            timeout,
            at: Cell::new(None),
        }
    }

    fn is_set(&self) -> bool {
        self.timeout.is_some()
    }

    /// The instant, fixed the first time it is asked for.
    fn instant(&self) -> Option<Instant> {
        let timeout = self.timeout?;
        if let Some(at) = self.at.get() {
            return Some(at);
        }
        let now = Instant::now();
        let at = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        self.at.set(Some(at));
        Some(at)
    }
}

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
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("channel", &self.ep.channel)
            .field("capacity", &self.ep.capacity)
            .field("write_pos", &self.write_local)
            .field("published", &self.published)
            .field("stats", &self.ep.stats)
            .finish()
    }
}

impl Side for Writer {
    const SLOT: Slot = Slot::Writer;

    fn endpoint(&mut self) -> &mut Endpoint {
        &mut self.ep
    }

    #[inline]
    fn poll(&mut self, want: u64) -> Result<Option<u64>, Error> {
        let h = self.ep.header();
        if h.reader_state.load(Ordering::Acquire) & STATE_CLOSED != 0 {
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
            ep: Endpoint::new(shared, channel),
            write_local: 0,
            published: 0,
            read_seen: 0,
            wake_at: 1,
        }
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

    fn append_until(&mut self, mut buf: &[u8], deadline: &Deadline) -> Result<usize, Error> {
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
        self.append_until(buf, &Deadline::never()).map(drop)
    }

    /// Like [`append`](Writer::append), but waits for space at most `timeout`
    /// in all. Returns how many bytes were appended: fewer than `buf.len()`
    /// only when the deadline passed after some progress; those bytes stay in
    /// the current blob.
    ///
    /// # Errors
    /// [`Error::Timeout`] if not a byte fitted in time; otherwise as `append`.
    pub fn append_timeout(&mut self, buf: &[u8], timeout: Duration) -> Result<usize, Error> {
        self.append_until(buf, &Deadline::after(timeout))
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
        if self.ep.header().reader_state.load(Ordering::Acquire) & STATE_CLOSED != 0 {
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
    /// ([`Reader::peek_wait`]) needs `n + min <= capacity`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `min` exceeds the capacity; otherwise as
    /// for [`append`](Writer::append).
    #[inline]
    pub fn reserve(&mut self, min: usize) -> Result<Reservation<'_>, Error> {
        self.reserve_until(min, &Deadline::never())
    }

    /// Like [`reserve`](Writer::reserve), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] when not enough space freed up in time.
    pub fn reserve_timeout(
        &mut self,
        min: usize,
        timeout: Duration,
    ) -> Result<Reservation<'_>, Error> {
        self.reserve_until(min, &Deadline::after(timeout))
    }

    #[inline]
    fn reserve_until(&mut self, min: usize, deadline: &Deadline) -> Result<Reservation<'_>, Error> {
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

    /// Ring capacity in bytes.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.ep.capacity as usize
    }

    /// Index of the channel in its segment.
    pub fn channel(&self) -> usize {
        self.ep.channel
    }

    /// Spins for up to `spin` re-checking for space before sleeping (zero,
    /// the default, sleeps at once). Bounded: never a busy loop without end.
    pub fn set_spin(&mut self, spin: Duration) {
        self.ep.spin = spin;
    }

    /// Deadline applied to each `io::Write` call (default: none).
    pub fn set_io_timeout(&mut self, timeout: Option<Duration>) {
        self.ep.io_timeout = timeout;
    }

    /// Counters of signals, waits and bytes.
    pub fn stats(&self) -> Stats {
        self.ep.stats
    }

    /// Whether the reader has closed its end.
    pub fn is_closed(&self) -> bool {
        self.ep.header().reader_state.load(Ordering::Acquire) & STATE_CLOSED != 0
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.ep.failure.is_some() {
            return;
        }
        self.publish();
        let h = self.ep.header();
        h.writer_state.fetch_or(STATE_CLOSED, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let word: *const AtomicU32 = &h.reader_sleep;
        // SAFETY: the word lives in the mapping kept alive by `self.ep`.
        self.ep.wake_peer(unsafe { &*word }, Slot::Reader);
    }
}

impl io::Write for Writer {
    /// Appends all of `buf` (waiting for space), or fewer bytes if the I/O
    /// timeout passed after some progress.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let deadline = Deadline::from(self.ep.io_timeout);
        Ok(self.append_until(buf, &deadline)?)
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

impl Reservation<'_> {
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

    /// Appends the first `n` reserved bytes to the current blob (still to be
    /// committed).
    ///
    /// # Panics
    /// If `n > self.len()`.
    #[inline]
    pub fn advance(self, n: usize) {
        assert!(n <= self.len(), "advance past the reservation");
        self.writer.write_local = self.writer.write_local.wrapping_add(n as u64);
        self.writer.ep.stats.bytes += n as u64;
    }
}

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
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("channel", &self.ep.channel)
            .field("capacity", &self.ep.capacity)
            .field("read_pos", &self.read_local)
            .field("stats", &self.ep.stats)
            .finish()
    }
}

impl Side for Reader {
    const SLOT: Slot = Slot::Reader;

    fn endpoint(&mut self) -> &mut Endpoint {
        &mut self.ep
    }

    #[inline]
    fn poll(&mut self, want: u64) -> Result<Option<u64>, Error> {
        let avail = self.load_available()?;
        if avail >= want.max(1) {
            return Ok(Some(avail));
        }
        if self.ep.header().writer_state.load(Ordering::Acquire) & STATE_CLOSED != 0 {
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
            ep: Endpoint::new(shared, channel),
            read_local: 0,
            write_seen: 0,
            released: 0,
        }
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
        block(self, want, deadline)
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
                let word: *const AtomicU32 = &h.writer_sleep;
                // SAFETY: the word lives in the mapping kept alive by `self.ep`.
                self.ep.wake_peer(unsafe { &*word }, Slot::Writer);
            }
        }
    }

    fn read_until(&mut self, buf: &mut [u8], deadline: &Deadline) -> Result<usize, Error> {
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
        self.read_until(buf, &Deadline::never())
    }

    /// Like [`read_into`](Reader::read_into), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if nothing arrived in time (nothing was consumed).
    pub fn read_into_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, Error> {
        self.read_until(buf, &Deadline::after(timeout))
    }

    /// Fills all of `buf`, waiting as long as needed.
    ///
    /// # Errors
    /// As for [`read_into`](Reader::read_into); at the end of the stream the
    /// bytes read so far are in `buf` and consumed.
    pub fn read_exact_into(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        self.read_exact_until(buf, &Deadline::never())
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
        self.read_exact_until(buf, &Deadline::after(timeout))
    }

    fn read_exact_until(&mut self, mut buf: &mut [u8], deadline: &Deadline) -> Result<(), Error> {
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

    /// The bytes readable now, without waiting, for reading in place.
    ///
    /// # Errors
    /// [`Error::Closed`] at the end of the stream, [`Error::Corrupted`].
    pub fn peek(&mut self) -> Result<Peek<'_>, Error> {
        self.ep.check()?;
        let avail = match self.poll(1) {
            Ok(Some(n)) => n,
            Ok(None) => 0,
            Err(e) => return Err(e),
        };
        Ok(self.peek_of(avail))
    }

    /// Waits until at least `min` bytes are readable (fewer only at the end of
    /// the stream), then lends them for reading in place.
    ///
    /// The writer must get to publish `min` bytes: one that appends fills the
    /// ring before it waits, so that always holds; one that waits in
    /// [`Writer::reserve`]`(m)` needs `min + m <= capacity`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `min` exceeds the capacity; otherwise as
    /// for [`read_into`](Reader::read_into).
    #[inline]
    pub fn peek_wait(&mut self, min: usize) -> Result<Peek<'_>, Error> {
        self.peek_until(min, &Deadline::never())
    }

    /// Like [`peek_wait`](Reader::peek_wait), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if `min` bytes did not arrive in time.
    #[inline]
    pub fn peek_wait_timeout(&mut self, min: usize, timeout: Duration) -> Result<Peek<'_>, Error> {
        self.peek_until(min, &Deadline::after(timeout))
    }

    #[inline]
    fn peek_until(&mut self, min: usize, deadline: &Deadline) -> Result<Peek<'_>, Error> {
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

    /// Ring capacity in bytes.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.ep.capacity as usize
    }

    /// Index of the channel in its segment.
    pub fn channel(&self) -> usize {
        self.ep.channel
    }

    /// Spins for up to `spin` re-checking for data before sleeping (zero, the
    /// default, sleeps at once). Bounded: never a busy loop without end.
    pub fn set_spin(&mut self, spin: Duration) {
        self.ep.spin = spin;
    }

    /// Deadline applied to each `io::Read` call (default: none).
    pub fn set_io_timeout(&mut self, timeout: Option<Duration>) {
        self.ep.io_timeout = timeout;
    }

    /// Counters of signals, waits and bytes.
    pub fn stats(&self) -> Stats {
        self.ep.stats
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let h = self.ep.header();
        h.reader_state.fetch_or(STATE_CLOSED, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let word: *const AtomicU32 = &h.writer_sleep;
        // SAFETY: the word lives in the mapping kept alive by `self.ep`.
        self.ep.wake_peer(unsafe { &*word }, Slot::Writer);
    }
}

impl io::Read for Reader {
    /// Reads what is available (waiting for at least one byte); `Ok(0)` at
    /// the end of the stream.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = Deadline::from(self.ep.io_timeout);
        match self.read_until(buf, &deadline) {
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

impl Peek<'_> {
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

    /// Consumes the first `n` bytes, handing the space back to the writer.
    ///
    /// # Panics
    /// If `n > self.len()`.
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
    /// If `n > self.len()`.
    #[inline]
    pub fn consume_deferred(self, n: usize) {
        assert!(n <= self.len(), "consume past the peeked bytes");
        self.reader.read_local = self.reader.read_local.wrapping_add(n as u64);
        self.reader.ep.stats.bytes += n as u64;
    }
}
