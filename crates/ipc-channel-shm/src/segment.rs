//! A shared segment: one mapping that holds one or more channels, created by
//! one process and opened by another from a short connection string.

use crate::channel::{Reader, Writer};
use crate::layout::{self, ChannelGeometry, ChannelHeader, SegmentHeader, AWAKE, STATE_CLOSED};
use crate::sync::{fence, AtomicBool, AtomicU32, Ordering};
use crate::sys::{
    self, local, Backend, DeathWatch, Memory, OsDeathWatch, PeerFlags, SharedMemory, Signal, Slot,
    WaitWord,
};
use crate::Error;
use std::fmt;
use std::sync::{Arc, Once, OnceLock};

/// What every endpoint of a segment shares; the memory stays mapped until the
/// last endpoint and the last `Segment` handle are gone.
#[derive(Debug)]
pub(crate) struct Shared {
    memory: Memory,
    /// The connection string (`None` for an in-process segment).
    connection: Option<String>,
    creator: bool,
    locked: bool,
    withdrawn: AtomicBool,
    channels: Vec<ChannelGeometry>,
    /// Two per channel: `[reader, writer]` sleep words' partners.
    signals: Vec<[Signal; 2]>,
    /// Two per channel, `[reader, writer]`: this handle claimed that end.
    claimed: Vec<[AtomicBool; 2]>,
    /// Two per channel, `[reader, writer]`: this process closed that end
    /// with [`Segment::close`] (process-local: the peer cannot set it).
    closed: Vec<[AtomicBool; 2]>,
    /// Set once the peer process was seen to exit (by the death watch).
    peer: Arc<PeerFlags>,
    /// Wakes this process's sleepers when the peer exits; started once the
    /// peer is known (`None`: not started, or no watch on this system).
    death_watch: OnceLock<Option<OsDeathWatch>>,
}

// SAFETY: the raw memory is only touched through atomics and through copies
// whose ordering the channel protocol establishes; the OS handles are
// thread-safe.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    fn new(
        memory: Memory,
        connection: Option<String>,
        creator: bool,
        channels: Vec<ChannelGeometry>,
        signals: Vec<[Signal; 2]>,
    ) -> Shared {
        let locked = creator_or_opener_lock(&memory, &channels);
        let n = channels.len();
        let flags = || {
            (0..n)
                .map(|_| [AtomicBool::new(false), AtomicBool::new(false)])
                .collect()
        };
        Shared {
            memory,
            connection,
            creator,
            locked,
            withdrawn: AtomicBool::new(!creator),
            channels,
            signals,
            claimed: flags(),
            closed: flags(),
            peer: Arc::default(),
            death_watch: OnceLock::new(),
        }
    }

    pub(crate) fn base(&self) -> *mut u8 {
        self.memory.as_ptr()
    }

    /// Whether the death watch saw the peer process exit.
    #[inline]
    pub(crate) fn peer_gone(&self) -> bool {
        self.peer.gone.load(Ordering::SeqCst)
    }

    /// Whether this process closed its `slot` end of `channel` with
    /// [`Segment::close`].
    #[inline]
    pub(crate) fn closed_here(&self, channel: usize, slot: Slot) -> bool {
        self.closed[channel][slot.index()].load(Ordering::SeqCst)
    }

    /// The flag behind [`closed_here`](Shared::closed_here).
    pub(crate) fn closed_flag(&self, channel: usize, slot: Slot) -> &AtomicBool {
        &self.closed[channel][slot.index()]
    }

    /// The peer's process ID as the header records it (0: not yet known).
    fn peer_pid(&self) -> u32 {
        let h = self.segment_header();
        if self.creator {
            h.opener_pid.load(Ordering::Acquire)
        } else {
            h.creator_pid.load(Ordering::Acquire)
        }
    }

    /// Once the peer has attached: withdraws the memory (the creator's; see
    /// [`Segment::withdraw`]) and starts the death watch (where the system
    /// has one). Returns whether a watch runs.
    #[inline]
    pub(crate) fn watch_peer(&self) -> bool {
        // Asked before every sleep: the answer, once known, in the caller's
        // code (not a call into another page of code after a wake-up).
        if let Some(watch) = self.death_watch.get() {
            return watch.is_some() && !self.peer.unwatched.load(Ordering::SeqCst);
        }
        self.start_watch()
    }

    /// [`watch_peer`](Shared::watch_peer) before the watch is settled.
    #[cold]
    #[inline(never)]
    fn start_watch(&self) -> bool {
        let pid = self.peer_pid();
        if pid == 0 || !self.peer_attached() {
            return false;
        }
        let _ = self.withdraw();
        if pid == std::process::id() || matches!(self.memory, Memory::Local(_)) {
            return false;
        }
        let words = (0..self.channels.len())
            .flat_map(|c| {
                let ch = self.header(c);
                [
                    &ch.reader_sleep as *const AtomicU32,
                    &ch.writer_sleep as *const AtomicU32,
                ]
            })
            .collect();
        self.death_watch
            .get_or_init(|| OsDeathWatch::start(pid, words, Arc::clone(&self.peer)))
            .is_some()
    }

    fn peer_attached(&self) -> bool {
        self.segment_header().attach_count.load(Ordering::Acquire) > 0
    }

    pub(crate) fn geometry(&self, channel: usize) -> ChannelGeometry {
        self.channels[channel]
    }

    pub(crate) fn signal(&self, channel: usize, slot: Slot) -> &Signal {
        &self.signals[channel][slot.index()]
    }

    /// The control block of `channel`.
    pub(crate) fn header(&self, channel: usize) -> &ChannelHeader {
        let g = self.channels[channel];
        // SAFETY: `g.offset` was validated (or planned) to lie inside the
        // mapping with room for a whole header, the mapping lives as long as
        // `self`, and every field is an atomic or padding in an `UnsafeCell`.
        unsafe { &*self.base().add(g.offset).cast::<ChannelHeader>() }
    }

    fn segment_header(&self) -> &SegmentHeader {
        // SAFETY: every mapping is at least one header long (checked at open)
        // and all fields are atomics.
        unsafe { &*self.base().cast::<SegmentHeader>() }
    }

    fn withdraw(&self) -> Result<(), Error> {
        if !self.withdrawn.swap(true, Ordering::AcqRel) {
            self.memory.withdraw()?;
        }
        Ok(())
    }

    /// Closes this process's ends of `channel` (see [`Segment::close`]).
    fn close(&self, channel: usize) {
        let h = self.header(channel);
        for (slot, state, own_word, peer_word) in [
            (
                Slot::Reader,
                &h.reader_state,
                &h.reader_sleep,
                &h.writer_sleep,
            ),
            (
                Slot::Writer,
                &h.writer_state,
                &h.writer_sleep,
                &h.reader_sleep,
            ),
        ] {
            // Only ends claimed through this handle; the peer's are not ours.
            if !self.claimed[channel][slot.index()].load(Ordering::SeqCst)
                || self.closed_here(channel, slot)
            {
                continue;
            }
            self.closed[channel][slot.index()].store(true, Ordering::SeqCst);
            state.fetch_or(STATE_CLOSED, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            // Wake our own end if it sleeps (it then sees the close), and the
            // peer's, which then sees the closed bit.
            if own_word.swap(AWAKE, Ordering::SeqCst) == layout::SLEEPING {
                self.signal(channel, slot).wake(own_word);
            }
            let peer_slot = match slot {
                Slot::Reader => Slot::Writer,
                Slot::Writer => Slot::Reader,
            };
            if peer_word.swap(AWAKE, Ordering::SeqCst) == layout::SLEEPING {
                self.signal(channel, peer_slot).wake(peer_word);
            }
        }
    }
}

/// Locks the memory in RAM, or as much of it as the system allows, what the
/// real-time path needs first; logs what could not be locked. Returns
/// whether all of it is locked.
///
/// Under a memory-lock limit (8 MiB on a desktop Linux) the first few
/// segments lock whole and the next refuse. A refused segment still locks
/// the pages every call touches (the segment and channel headers), then
/// its rings smallest first (a link's real-time rings before its main
/// link's), each as far as the limit allows. Nothing fails for want of a
/// lock: the pages are faulted in at creation and leave RAM only if the
/// system swaps them out.
fn creator_or_opener_lock(memory: &Memory, channels: &[ChannelGeometry]) -> bool {
    if matches!(memory, Memory::Local(_)) {
        return false;
    }
    let Err(e) = memory.lock() else {
        return true;
    };
    let control = std::mem::size_of::<ChannelHeader>();
    let mut headers = vec![(0, layout::header_size(channels.len()) as usize)];
    headers.extend(channels.iter().map(|g| (g.offset, control)));
    let headers_locked = headers
        .into_iter()
        .all(|(offset, len)| memory.lock_range(offset, len).is_ok());
    let mut rings: Vec<&ChannelGeometry> = channels.iter().collect();
    rings.sort_by_key(|g| g.capacity);
    let rings_locked = if headers_locked {
        rings
            .iter()
            .take_while(|g| memory.lock_range(g.offset + control, g.capacity).is_ok())
            .count()
    } else {
        0
    };
    // The first refusal says it all; a host starting many plugins would
    // otherwise log one warning per plugin.
    static WARNED: Once = Once::new();
    let mut first = false;
    WARNED.call_once(|| first = true);
    let what = format!(
        "could not lock all {} bytes of a shared segment in RAM ({e}); locked {} and {rings_locked} of its {} rings, smallest first",
        memory.len(),
        if headers_locked { "its control blocks" } else { "none of its control blocks" },
        channels.len()
    );
    if !first {
        log::debug!("{what}");
    } else {
        log::warn!(
            "{what}; page faults may reach the audio path if the system swaps. Raise RLIMIT_MEMLOCK (ulimit -l; an audio group's memlock limit) to lock every segment; further refusals are logged at debug level"
        );
    }
    false
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The watch thread touches the mapping: deregister from it first.
        self.death_watch = OnceLock::new();
        let _ = self.withdraw();
    }
}

/// A shared-memory segment holding one or more one-way channels.
///
/// One process [`create`](Segment::create)s it and passes
/// [`connection_string`](Segment::connection_string) to the other (on its
/// command line or in its environment), which [`open`](Segment::open)s it.
/// Each side then claims the endpoints it uses with
/// [`writer`](Segment::writer) and [`reader`](Segment::reader).
///
/// The memory is never reachable by a name another user could see, and
/// nothing of it outlives the two processes: on Linux it is an anonymous,
/// sealed memory file that the peer opens through the creator's descriptor
/// (which the creator closes once the peer has attached); on macOS a POSIX
/// shared-memory name removed as soon as the peer attached; on Windows a
/// pagefile-backed section whose name lives as long as its handles.
///
/// `Segment` is a cheap handle: clones share the mapping, which lives until
/// the last handle and endpoint are dropped.
#[derive(Clone)]
pub struct Segment {
    shared: Arc<Shared>,
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("connection", &self.shared.connection)
            .field("len", &self.shared.memory.len())
            .field("channels", &self.shared.channels.len())
            .field("creator", &self.shared.creator)
            .finish()
    }
}

/// The sleep-word partners of every channel of a segment `name`.
fn signals<W: WaitWord>(
    name: &str,
    channels: usize,
    make: impl Fn(&str, usize, Slot) -> std::io::Result<W>,
    wrap: impl Fn(W) -> Signal,
) -> Result<Vec<[Signal; 2]>, Error> {
    (0..channels)
        .map(|i| {
            Ok([
                wrap(make(name, i, Slot::Reader)?),
                wrap(make(name, i, Slot::Writer)?),
            ])
        })
        .collect::<Result<Vec<_>, std::io::Error>>()
        .map_err(Error::from)
}

impl Segment {
    /// Creates a segment in the system's shared memory with one channel per
    /// entry of `capacities` (ring sizes in bytes: powers of two from 64 bytes
    /// to 1 GiB).
    ///
    /// The memory is private to this user and pre-faulted and, where the
    /// system allows, locked; a refused lock is logged, not an error (see
    /// [`is_memory_locked`](Segment::is_memory_locked)).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a bad capacity or channel count,
    /// [`Error::Os`] when the system refuses the segment.
    pub fn create(capacities: &[usize]) -> Result<Segment, Error> {
        Self::create_in::<sys::Os>(capacities, Memory::Os, Signal::Os)
    }

    fn create_in<B: Backend>(
        capacities: &[usize],
        wrap: impl FnOnce(B::Memory) -> Memory,
        wrap_signal: fn(B::Signal) -> Signal,
    ) -> Result<Segment, Error> {
        let (geometry, total) = layout::plan(capacities)?;
        let (memory, name, connection) = sys::create_named::<B::Memory>(total)?;
        // SAFETY: the memory is fresh, zeroed, exclusively ours, `total`
        // bytes long and page-aligned.
        unsafe { layout::initialise(memory.as_ptr(), total, &geometry, std::process::id()) };
        let signals = signals(&name, geometry.len(), B::Signal::create, wrap_signal)?;
        Ok(Segment {
            shared: Arc::new(Shared::new(
                wrap(memory),
                Some(connection),
                true,
                geometry,
                signals,
            )),
        })
    }

    /// Opens the segment named by `connection` (from
    /// [`connection_string`](Segment::connection_string) in the creating
    /// process) and checks every header value.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a malformed connection string,
    /// [`Error::Corrupted`] or [`Error::VersionMismatch`] for a segment whose
    /// headers do not hold, [`Error::AlreadyClaimed`] if another process has
    /// opened it already, [`Error::Os`] when the segment does not exist (any
    /// more), is not private to this user, or could be resized by its
    /// creator.
    pub fn open(connection: &str) -> Result<Segment, Error> {
        if !sys::is_connection_string(connection) {
            return Err(Error::InvalidArgument("not a segment connection string"));
        }
        Self::open_in::<sys::Os>(connection, Memory::Os, Signal::Os)
    }

    /// Opens a segment made by [`Segment::create_in_process_named`] in this
    /// process, as another thread would open a shared one (tests, and
    /// single-process use of the same code paths).
    ///
    /// # Errors
    /// As for [`open`](Segment::open).
    pub fn open_in_process(connection: &str) -> Result<Segment, Error> {
        if !sys::is_name(connection) {
            return Err(Error::InvalidArgument("not a segment connection string"));
        }
        Self::open_in::<local::Local>(connection, Memory::Local, Signal::Local)
    }

    fn open_in<B: Backend>(
        connection: &str,
        wrap: impl FnOnce(B::Memory) -> Memory,
        wrap_signal: fn(B::Signal) -> Signal,
    ) -> Result<Segment, Error> {
        let (memory, name) = B::Memory::open(connection)?;
        let memory = wrap(memory);
        // SAFETY: the mapping is page-aligned and `len` bytes long.
        let geometry = unsafe { layout::validate(memory.as_ptr(), memory.len())? };
        let signals = signals(&name, geometry.len(), B::Signal::open, wrap_signal)?;
        let segment = Segment {
            shared: Arc::new(Shared::new(
                memory,
                Some(connection.to_owned()),
                false,
                geometry,
                signals,
            )),
        };
        // One peer per segment. On Linux and macOS the memory cannot be
        // opened again anyway once its creator saw us; on Windows, where a
        // name lives as long as the creator's handle, this is what keeps a
        // second opener out.
        let h = segment.shared.segment_header();
        h.attach_count
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
            .map_err(|_| Error::AlreadyClaimed)?;
        h.opener_pid.store(std::process::id(), Ordering::Release);
        Ok(segment)
    }

    /// Creates a segment in this process's heap, for endpoints used by
    /// threads of one process. It follows the same protocol as a shared
    /// segment; it is also what the Miri and loom test runs use.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a bad capacity or channel count.
    pub fn in_process(capacities: &[usize]) -> Result<Segment, Error> {
        let (geometry, total) = layout::plan(capacities)?;
        let memory = local::HeapMemory::anonymous(total);
        // SAFETY: fresh zeroed heap memory of `total` bytes aligned to LINE.
        unsafe { layout::initialise(memory.as_ptr(), total, &geometry, std::process::id()) };
        let signals = signals("", geometry.len(), local::Signal::create, Signal::Local)?;
        Ok(Segment {
            shared: Arc::new(Shared::new(
                Memory::Local(memory),
                None,
                true,
                geometry,
                signals,
            )),
        })
    }

    /// Like [`in_process`](Segment::in_process), but with a connection
    /// string that [`open_in_process`](Segment::open_in_process) accepts,
    /// so that the other side goes through the opener's checks.
    ///
    /// # Errors
    /// As for [`in_process`](Segment::in_process).
    pub fn create_in_process_named(capacities: &[usize]) -> Result<Segment, Error> {
        Self::create_in::<local::Local>(capacities, Memory::Local, Signal::Local)
    }

    /// Starts watching the peer process now rather than at the first sleep
    /// (Linux: one small thread per process, shared by every segment, wakes
    /// this process's sleepers the moment the peer exits; see
    /// `docs/ARCHITECTURE.md`), and, on the
    /// creating side, [`withdraw`](Segment::withdraw)s the memory. Call it
    /// once the peer has opened the segment, from a thread that may
    /// allocate: otherwise the first endpoint to sleep does this, which
    /// could be a real-time thread. Returns whether a watch runs (false on
    /// systems without one, before the peer attached, for in-process
    /// segments, and on kernels without pidfd).
    pub fn watch_peer(&self) -> bool {
        self.shared.watch_peer()
    }

    /// The string another process passes to [`Segment::open`]: ASCII, safe
    /// on a command line and in an environment variable. `None` for an
    /// [`in_process`](Segment::in_process) segment.
    pub fn connection_string(&self) -> Option<&str> {
        self.shared.connection.as_deref()
    }

    /// Number of channels in the segment.
    pub fn channel_count(&self) -> usize {
        self.shared.channels.len()
    }

    /// Ring capacity of `channel` in bytes.
    ///
    /// # Panics
    /// If `channel >= channel_count()`.
    pub fn capacity(&self, channel: usize) -> usize {
        self.shared.channels[channel].capacity
    }

    /// Size of the whole mapping in bytes.
    pub fn len(&self) -> usize {
        self.shared.memory.len()
    }

    /// Always false: a segment holds at least one channel.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether this handle created the segment (rather than opened it).
    pub fn is_creator(&self) -> bool {
        self.shared.creator
    }

    /// Whether another process (or, in process, another handle) has opened
    /// the segment.
    pub fn peer_attached(&self) -> bool {
        self.shared.peer_attached()
    }

    /// Whether all the pages are locked in RAM (see [`Segment::create`]).
    /// False where a memory-lock limit refused some: the control blocks and
    /// then the smallest rings are locked first, as far as the limit goes.
    pub fn is_memory_locked(&self) -> bool {
        self.shared.locked
    }

    /// The whole mapping: its first byte and its length. For the crate's
    /// own tests, which play a peer that scribbles on the memory.
    #[cfg(test)]
    pub(crate) fn memory(&self) -> (*mut u8, usize) {
        (self.shared.base(), self.shared.memory.len())
    }

    /// Makes the segment impossible to open from now on: the creator closes
    /// the descriptor the peer opens (Linux) or removes the name (macOS).
    /// Done anyway once the peer has attached (at [`watch_peer`] or the
    /// first sleep) and when the creator drops the segment. Mappings stay
    /// valid.
    ///
    /// [`watch_peer`]: Segment::watch_peer
    ///
    /// # Errors
    /// [`Error::Os`] if the system refuses.
    pub fn withdraw(&self) -> Result<(), Error> {
        self.shared.withdraw()
    }

    /// Closes this process's ends of `channel`, from any thread, while the
    /// endpoints may still be in use elsewhere: a [`Reader`] of it here
    /// drains what was committed and then returns [`Error::Closed`] (a
    /// sleeping one wakes at once); a [`Writer`] here returns `Closed` from
    /// its next call; the peer sees the channel closed as if the endpoints
    /// had been dropped. Bytes a writer had not committed are lost. Ends
    /// not claimed by this process are left alone.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a channel out of range.
    pub fn close(&self, channel: usize) -> Result<(), Error> {
        if channel >= self.shared.channels.len() {
            return Err(Error::InvalidArgument("channel index out of range"));
        }
        self.shared.close(channel);
        Ok(())
    }

    /// Claims the writing end of `channel`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a channel out of range,
    /// [`Error::AlreadyClaimed`] if any process has claimed it before.
    pub fn writer(&self, channel: usize) -> Result<Writer, Error> {
        self.claim(channel, Slot::Writer)?;
        Ok(Writer::new(self.shared.clone(), channel))
    }

    /// Claims the reading end of `channel`.
    ///
    /// # Errors
    /// As for [`writer`](Segment::writer).
    pub fn reader(&self, channel: usize) -> Result<Reader, Error> {
        self.claim(channel, Slot::Reader)?;
        Ok(Reader::new(self.shared.clone(), channel))
    }

    fn claim(&self, channel: usize, slot: Slot) -> Result<(), Error> {
        if channel >= self.shared.channels.len() {
            return Err(Error::InvalidArgument("channel index out of range"));
        }
        let h = self.shared.header(channel);
        let (state, pid) = match slot {
            Slot::Writer => (&h.writer_state, &h.writer_pid),
            Slot::Reader => (&h.reader_state, &h.reader_pid),
        };
        state
            .compare_exchange(
                0,
                layout::STATE_CLAIMED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .map_err(|_| Error::AlreadyClaimed)?;
        pid.store(std::process::id(), Ordering::Release);
        self.shared.claimed[channel][slot.index()].store(true, Ordering::SeqCst);
        Ok(())
    }
}
