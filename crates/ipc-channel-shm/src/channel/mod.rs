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

mod deadline;
mod reader;
mod writer;

#[cfg(all(test, not(loom)))]
mod hostile_tests;

pub use deadline::Deadline;
pub use reader::{Peek, Reader};
pub use writer::{Reservation, Writer};

use crate::layout::{ChannelHeader, AWAKE, SLEEPING, STATE_CLOSED};
use crate::segment::Shared;
use crate::stats::Stats;
use crate::sync::{fence, spin_loop, AtomicBool, AtomicU32, Ordering};
use crate::sys::{PeerWatch, Slot, WatchPeer, PEER_CHECK_INTERVAL, WATCHED_CHECK_INTERVAL};
use crate::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Spin iterations between two reads of the clock while spinning.
const SPIN_BATCH: u32 = 64;

/// The accessors a writer and a reader both have, over their endpoint;
/// `$waits_for` is what the spin waits for, `$io` the std trait.
macro_rules! endpoint_accessors {
    ($waits_for:literal, $io:literal) => {
        /// Ring capacity in bytes.
        #[inline]
        pub fn capacity(&self) -> usize {
            self.ep.capacity as usize
        }

        /// Index of the channel in its segment.
        pub fn channel(&self) -> usize {
            self.ep.channel
        }

        #[doc = concat!("Spins for up to `spin` re-checking for ", $waits_for, " before sleeping")]
        /// (zero, the default, sleeps at once). Bounded: never a busy loop
        /// without end.
        pub fn set_spin(&mut self, spin: Duration) {
            self.ep.spin = spin;
        }

        #[doc = concat!("Deadline applied to each `", $io, "` call (default: none).")]
        pub fn set_io_timeout(&mut self, timeout: Option<Duration>) {
            self.ep.io_timeout = timeout;
        }

        /// Counters of signals, waits and bytes.
        pub fn stats(&self) -> Stats {
            self.ep.stats
        }
    };
}
pub(crate) use endpoint_accessors;

/// What a writer and a reader both hold.
struct Endpoint {
    shared: Arc<Shared>,
    channel: usize,
    /// The channel's control block inside `shared`'s mapping (looked up
    /// once: every operation touches it).
    header: *const ChannelHeader,
    /// This process closed this end (`Segment::close`), looked up once.
    closed_here: *const AtomicBool,
    data: *mut u8,
    capacity: u64,
    spin: Duration,
    io_timeout: Option<Duration>,
    stats: Stats,
    /// Sticky failure: once the shared memory was found corrupted, every call
    /// reports it.
    failure: Option<Error>,
    peer: Option<(u32, PeerWatch)>,
    /// Set once the peer process was seen dead: a process does not come
    /// back, so later waits report it at once instead of sleeping first.
    peer_dead: bool,
}

// SAFETY: the raw header and data pointers point into `shared`, which is
// Send + Sync; the endpoint is used by one thread at a time (`&mut self`).
unsafe impl Send for Endpoint {}

impl Endpoint {
    fn new(shared: Arc<Shared>, channel: usize, slot: Slot) -> Endpoint {
        let g = shared.geometry(channel);
        // SAFETY: the ring follows the header inside the mapping (validated
        // or planned by `layout`).
        let data = unsafe {
            shared
                .base()
                .add(g.offset + core::mem::size_of::<ChannelHeader>())
        };
        let header: *const ChannelHeader = shared.header(channel);
        let closed_here: *const AtomicBool = shared.closed_flag(channel, slot);
        Endpoint {
            shared,
            channel,
            header,
            closed_here,
            data,
            capacity: g.capacity as u64,
            spin: Duration::ZERO,
            io_timeout: None,
            stats: Stats::default(),
            failure: None,
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

    /// Whether this process closed this end from another thread.
    #[inline]
    fn closed_here(&self) -> bool {
        // SAFETY: the flag lives in `self.shared`, which outlives `self`.
        unsafe { &*self.closed_here }.load(Ordering::SeqCst)
    }

    #[inline]
    fn check(&self) -> Result<(), Error> {
        match &self.failure {
            Some(e) => Err(e.clone()),
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
            self.shared.signal(self.channel, slot).wake(word);
            self.stats.signals += 1;
        }
    }

    /// The fields both ends show in `Debug`, under `name`.
    fn debug<'f, 'b>(
        &self,
        f: &'f mut std::fmt::Formatter<'b>,
        name: &str,
    ) -> std::fmt::DebugStruct<'f, 'b> {
        let mut d = f.debug_struct(name);
        d.field("channel", &self.channel)
            .field("capacity", &self.capacity)
            .field("stats", &self.stats);
        d
    }

    /// Sets this end's closed bit (`slot` is our side) and wakes the peer if
    /// it sleeps, so that it sees the close.
    fn close_and_wake_peer(&mut self, slot: Slot) {
        let h = self.header();
        let (state, peer_word, peer_slot) = match slot {
            Slot::Reader => (&h.reader_state, &h.writer_sleep, Slot::Writer),
            Slot::Writer => (&h.writer_state, &h.reader_sleep, Slot::Reader),
        };
        state.fetch_or(STATE_CLOSED, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let word: *const AtomicU32 = peer_word;
        // SAFETY: the word lives in the mapping kept alive by `self.shared`.
        self.wake_peer(unsafe { &*word }, peer_slot);
    }

    /// Whether the death of the process holding the other end wakes a sleep
    /// of this end: the segment's death watch runs (Linux), or the watch on
    /// that process is one the sleep waits on (Windows). `slot` is our own
    /// side. Makes the watch once per peer, checks nothing.
    fn peer_death_wakes(&mut self, slot: Slot) -> bool {
        if self.shared.watch_peer() {
            return true;
        }
        self.peer_watch(slot)
            .is_some_and(|(_, w)| w.wakes_sleeper())
    }

    /// Whether the process holding the other end still runs. `slot` is our
    /// own side. Unknown (not yet claimed) peers count as alive.
    fn peer_alive(&mut self, slot: Slot) -> bool {
        if self.peer_pid(slot).is_none() {
            return true;
        }
        if self.shared.peer_gone() {
            self.peer_dead = true;
            return false;
        }
        let alive = self.peer_watch(slot).is_none_or(|(_, w)| w.is_alive());
        self.peer_dead |= !alive;
        alive
    }

    /// The process ID the peer's end records, if it is another process's.
    fn peer_pid(&self, slot: Slot) -> Option<u32> {
        let h = self.shared.header(self.channel);
        let pid = match slot {
            Slot::Reader => h.writer_pid.load(Ordering::Acquire),
            Slot::Writer => h.reader_pid.load(Ordering::Acquire),
        };
        (pid != 0 && pid != std::process::id()).then_some(pid)
    }

    /// The watch on the peer's process, made once per peer ID (`None`: no
    /// other process, or one whose state cannot be observed).
    fn peer_watch(&mut self, slot: Slot) -> Option<&mut (u32, PeerWatch)> {
        let pid = self.peer_pid(slot)?;
        if self.peer.as_ref().map(|(p, _)| *p) != Some(pid) {
            self.peer = PeerWatch::new(pid).map(|w| (pid, w));
        }
        self.peer.as_mut()
    }

    fn sleep(&self, word: &AtomicU32, slot: Slot, timeout: Duration) {
        self.shared.signal(self.channel, slot).wait(
            word,
            SLEEPING,
            timeout,
            self.peer.as_ref().map(|(_, w)| w),
        );
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
    /// Called on each turn of a spin: a hint to the CPU, no state changes.
    fn spinning(&mut self) {}
    /// What to return when the peer process has died.
    fn peer_died(&mut self, want: u64) -> Result<u64, Error>;
}

/// The mask of a message alignment (`Writer::set_align`, `Reader::set_align`).
///
/// # Panics
/// If `align` is not a power of two from 1 to 64 (a bug of the caller).
fn align_mask(align: usize) -> u64 {
    assert!(
        align.is_power_of_two() && align <= 64,
        "a message alignment is a power of two from 1 to 64"
    );
    align as u64 - 1
}

/// Bytes from stream position `pos` to the next multiple of the alignment
/// whose mask is `mask`.
#[inline]
fn padding_at(pos: u64, mask: u64) -> usize {
    (pos.wrapping_neg() & mask) as usize
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
/// Spins first if the endpoint asks for it, then sleeps in slices, checking
/// the control block and the peer whenever a slice ends without a wake-up:
/// of at most [`WATCHED_CHECK_INTERVAL`] where the peer's death wakes the
/// sleeper (see [`Endpoint::peer_death_wakes`]), of [`PEER_CHECK_INTERVAL`]
/// elsewhere.
fn block<S: Side>(side: &mut S, want: u64, deadline: &Deadline) -> Result<u64, Error> {
    side.endpoint().stats.waits += 1;
    if deadline.is_now() {
        // A `try_` call: no spin, no sleep, no system call.
        let ep = side.endpoint();
        if ep.peer_dead || ep.shared.peer_gone() {
            ep.peer_dead = true;
            return side.peer_died(want);
        }
        return Err(Error::Timeout);
    }
    let spin = side.endpoint().spin;
    if !spin.is_zero() {
        // The clock is first read after one batch: a peer that answers
        // within it costs no clock read at all (the spin then lasts one
        // batch longer than asked, a few hundred nanoseconds).
        let mut limit = None;
        loop {
            for _ in 0..SPIN_BATCH {
                spin_loop();
                side.spinning();
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
                return done.map(|n| n.unwrap_or(0));
            }
        }
        // Checked after the word is set: a death watch that marks the
        // death later also changes the word, so the sleep below returns.
        if side.endpoint().peer_dead || side.endpoint().shared.peer_gone() {
            side.endpoint().peer_dead = true;
            word.store(AWAKE, Ordering::Relaxed);
            return side.peer_died(want);
        }
        // Where the peer's death wakes this sleep, only a control block
        // overwritten by a live peer needs a look: less often.
        let most = if side.endpoint().peer_death_wakes(S::SLOT) {
            WATCHED_CHECK_INTERVAL
        } else {
            PEER_CHECK_INTERVAL
        };
        let slice = match deadline.instant() {
            None => most,
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    word.store(AWAKE, Ordering::Relaxed);
                    return Err(Error::Timeout);
                }
                (d - now).min(most)
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
