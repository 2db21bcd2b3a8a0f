//! The operating-system seam.
//!
//! Every backend is one file implementing the same four traits, so that the
//! compiler checks that they offer one interface:
//!
//! * [`SharedMemory`]: memory one process creates and another opens from a
//!   connection string, private to the user, pre-faulted, lockable, and
//!   [`withdrawn`](SharedMemory::withdraw) once the peer has attached so that
//!   no third process can open it and a crash leaves nothing behind;
//! * [`WaitWord`]: sleeping on a 32-bit word in that memory and waking its
//!   sleeper (futex, wait-on-address, or a kernel event both processes hold);
//! * [`WatchPeer`]: whether the peer process still runs;
//! * [`DeathWatch`]: something that wakes this process's sleepers the moment
//!   the peer exits (on Linux one thread per process in `epoll_wait` on a
//!   pidfd per segment; nothing elsewhere, where
//!   sleepers notice in slices or, on Windows, wait on the process itself).
//!
//! [`Backend`] names one implementation of each. `Os` is this system's
//! (`linux.rs`, `macos.rs`, `windows.rs`), `local::Local` the in-process one
//! (heap memory, condition variables) that `Segment::in_process`, Miri and
//! loom use. One conformance suite (`conformance.rs`), generic over
//! [`Backend`], runs against each backend that can run on the test machine.
//! Nothing outside `sys` names an operating system.

use crate::sync::{AtomicBool, AtomicU32};
use std::io;
use std::sync::Arc;
use std::time::Duration;

pub(crate) mod local;

#[cfg(all(not(any(loom, miri)), any(target_os = "linux", target_os = "macos")))]
mod posix;

#[cfg(all(not(any(loom, miri)), target_os = "linux"))]
#[path = "linux.rs"]
mod imp;

#[cfg(all(not(any(loom, miri)), target_os = "macos"))]
#[path = "macos.rs"]
mod imp;

#[cfg(all(not(any(loom, miri)), windows))]
#[path = "windows.rs"]
mod imp;

// Under Miri and loom there is no operating system to talk to: the
// in-process backend stands in for it.
#[cfg(any(loom, miri))]
use local as imp;

#[cfg(not(any(loom, miri, target_os = "linux", target_os = "macos", windows)))]
compile_error!(
    "ipc-channel-shm supports Linux, macOS and Windows: this target has no shared-memory backend \
     (add one in crates/ipc-channel-shm/src/sys/)"
);

#[cfg(test)]
mod conformance;

/// This system's backend.
pub(crate) type Os = imp::Os;

/// One implementation of the seam.
pub(crate) trait Backend: 'static {
    /// Shared memory.
    type Memory: SharedMemory;
    /// Sleeping on a word of that memory.
    type Signal: WaitWord<Peer = Self::Peer>;
    /// The state of the peer process.
    type Peer: WatchPeer;
    /// Waking sleepers when the peer dies.
    type DeathWatch: DeathWatch;
}

/// Memory shared with one peer process.
pub(crate) trait SharedMemory: Sized + Send + Sync + std::fmt::Debug {
    /// Creates `len` zeroed bytes under `name` (`ipc-` and 20 random
    /// characters), exclusively and readable by this user only, mapped
    /// read-write and pre-faulted. Returns the memory and the connection
    /// string a peer passes to [`open`](SharedMemory::open) (it starts with
    /// `name`). Leaves nothing behind on failure.
    fn create(name: &str, len: usize) -> io::Result<(Self, String)>;
    /// Opens memory made by `create` from its connection string (whose
    /// syntax the caller has checked with [`is_connection_string`]).
    /// Refuses memory another user owns or that others may access, and
    /// (where the system can resize it) memory that is not sealed against
    /// resizing. Returns the memory and the `name` it was created under.
    fn open(connection: &str) -> io::Result<(Self, String)>;
    /// Like [`open`](SharedMemory::open), mapped read-only: a write through
    /// the mapping faults (where the system can protect it: not for the
    /// in-process backend). The caller must not write through `as_ptr`.
    fn open_read_only(connection: &str) -> io::Result<(Self, String)>;
    /// The first byte (page-aligned).
    fn as_ptr(&self) -> *mut u8;
    /// The length in bytes.
    fn len(&self) -> usize;
    /// Pins the pages in RAM.
    fn lock(&self) -> io::Result<()> {
        self.lock_range(0, self.len())
    }
    /// Pins the pages holding bytes `offset..offset + len` in RAM (a range
    /// inside the memory; pages locked twice count once).
    fn lock_range(&self, offset: usize, len: usize) -> io::Result<()>;
    /// Makes the memory impossible to open from now on (the peer has
    /// attached, or the creator gives up); mappings stay valid. Idempotent.
    fn withdraw(&self) -> io::Result<()>;
}

/// Sleeping on a 32-bit word of shared memory and waking its sleeper.
pub(crate) trait WaitWord: Sized + Send + Sync + std::fmt::Debug {
    /// The peer watch a wait may also wait on.
    type Peer;
    /// The partner of sleep word `slot` of `channel` in a new segment `name`.
    fn create(name: &str, channel: usize, slot: Slot) -> io::Result<Self>;
    /// The same partner, from the peer process.
    fn open(name: &str, channel: usize, slot: Slot) -> io::Result<Self>;
    /// Sleeps while `*word == expected`, at most `timeout`. May return early
    /// (a wake, a signal, a spurious wake, the peer's death): the caller
    /// re-checks.
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Duration, peer: Option<&Self::Peer>);
    /// Wakes the one endpoint that may sleep on `word`; the caller changed
    /// the word first.
    fn wake(&self, word: &AtomicU32);
}

/// Whether a peer process still runs.
pub(crate) trait WatchPeer: Sized + Send + std::fmt::Debug {
    /// A watch on process `pid`; `None` if its state cannot be observed
    /// (then the peer counts as alive, and waits end by timeout).
    fn new(pid: u32) -> Option<Self>;
    /// False once the process has ended.
    fn is_alive(&mut self) -> bool;
    /// Whether a sleep given this watch (`WaitWord::wait`) ends when the
    /// process ends, so that the sleeper need not cut its sleep into slices
    /// to look.
    fn wakes_sleeper(&self) -> bool {
        false
    }
}

/// Wakes this process's sleepers when the peer process exits.
pub(crate) trait DeathWatch: Sized + Send + Sync + std::fmt::Debug {
    /// Starts watching `pid`. When it exits: `flags.gone` is set, then every word
    /// of `words` is set to awake and its sleeper woken. The words must stay
    /// valid until the watch is dropped (which stops it: once `drop` has
    /// returned, nothing touches them). `None` where the
    /// system offers no such watch, and where the peer has ended already
    /// (then `flags.gone` is set before it returns, where the system can
    /// tell). A watch that stops before the peer exits (its thread hit an
    /// error) sets `flags.unwatched`, then wakes every sleeper of `words`,
    /// which go back to sleeping in slices.
    fn start(pid: u32, words: Vec<*const AtomicU32>, flags: Arc<PeerFlags>) -> Option<Self>;
}

/// What a death watch tells the endpoints of a segment, in one allocation
/// (one cache line that every sleep looks at).
#[derive(Debug)]
pub(crate) struct PeerFlags {
    /// The peer process has exited.
    pub(crate) gone: AtomicBool,
    /// The watch stopped before the peer exited (never expected).
    pub(crate) unwatched: AtomicBool,
}

impl Default for PeerFlags {
    fn default() -> PeerFlags {
        PeerFlags {
            gone: AtomicBool::new(false),
            unwatched: AtomicBool::new(false),
        }
    }
}

/// A death watch that never starts: for systems whose sleepers notice a
/// dead peer otherwise.
#[derive(Debug)]
pub(crate) struct NoDeathWatch;

impl DeathWatch for NoDeathWatch {
    fn start(_pid: u32, _words: Vec<*const AtomicU32>, _flags: Arc<PeerFlags>) -> Option<Self> {
        None
    }
}

/// Which sleep word of a channel a signal serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The reader sleeps here waiting for data.
    Reader,
    /// The writer sleeps here waiting for space.
    Writer,
}

impl Slot {
    pub(crate) fn index(self) -> usize {
        match self {
            Slot::Reader => 0,
            Slot::Writer => 1,
        }
    }
}

/// How long a sleeping endpoint goes without checking that its peer is alive,
/// where nothing wakes it when the peer dies. Peer death is thus noticed
/// within this bound (the design target is 100 ms).
pub(crate) const PEER_CHECK_INTERVAL: Duration = Duration::from_millis(25);

/// How long an endpoint that the peer's death wakes (the death watch on
/// Linux, the process handle on Windows) sleeps before it looks at its
/// control block again: a peer that is alive but overwrote it is noticed
/// within this bound, even by a wait with a long deadline (a listener in the
/// middle of a message, which a caller with a short timeout may be waiting
/// for). Ten times the unwatched slice: an idle link costs a tenth of the
/// wake-ups.
pub(crate) const WATCHED_CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// Prefix of every segment name and connection string.
pub(crate) const NAME_PREFIX: &str = "ipc-";
/// Random characters after the prefix.
pub(crate) const NAME_RANDOM_LEN: usize = 20;
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A fresh name: the prefix and 100 random bits from the OS random source.
pub(crate) fn random_name() -> io::Result<String> {
    let mut bytes = [0u8; NAME_RANDOM_LEN];
    getrandom::getrandom(&mut bytes).map_err(io::Error::from)?;
    let mut name = String::with_capacity(NAME_PREFIX.len() + NAME_RANDOM_LEN);
    name.push_str(NAME_PREFIX);
    name.extend(bytes.iter().map(|b| BASE32[usize::from(b & 31)] as char));
    Ok(name)
}

/// Whether `s` has the shape of a name made by [`random_name`].
pub(crate) fn is_name(s: &str) -> bool {
    s.len() == NAME_PREFIX.len() + NAME_RANDOM_LEN
        && s.starts_with(NAME_PREFIX)
        && s.bytes()
            .skip(NAME_PREFIX.len())
            .all(|b| BASE32.contains(&b))
}

/// Whether `s` has the shape of a connection string of this system's
/// backend (so that one can never name a path or another object).
pub(crate) fn is_connection_string(s: &str) -> bool {
    imp::is_connection_string(s)
}

/// Creates memory of `len` bytes under a fresh random name, retrying the
/// (never expected) collision of two names.
pub(crate) fn create_named<M: SharedMemory>(len: usize) -> io::Result<(M, String, String)> {
    let mut attempts = 0;
    loop {
        let name = random_name()?;
        match M::create(&name, len) {
            Ok((m, connection)) => return Ok((m, name, connection)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 4 => attempts += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Memory of either backend: the system's, or this process's heap.
#[derive(Debug)]
pub(crate) enum Memory {
    Os(<Os as Backend>::Memory),
    Local(local::HeapMemory),
}

impl Memory {
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        match self {
            Memory::Os(m) => m.as_ptr(),
            Memory::Local(m) => m.as_ptr(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Memory::Os(m) => m.len(),
            Memory::Local(m) => m.len(),
        }
    }

    pub(crate) fn lock(&self) -> io::Result<()> {
        match self {
            Memory::Os(m) => m.lock(),
            Memory::Local(m) => m.lock(),
        }
    }

    pub(crate) fn lock_range(&self, offset: usize, len: usize) -> io::Result<()> {
        match self {
            Memory::Os(m) => m.lock_range(offset, len),
            Memory::Local(m) => m.lock_range(offset, len),
        }
    }

    pub(crate) fn withdraw(&self) -> io::Result<()> {
        match self {
            Memory::Os(m) => m.withdraw(),
            Memory::Local(m) => m.withdraw(),
        }
    }
}

/// The partner of one sleep word, of either backend.
#[derive(Debug)]
pub(crate) enum Signal {
    Os(<Os as Backend>::Signal),
    Local(local::Signal),
}

/// This system's peer watch.
pub(crate) type PeerWatch = <Os as Backend>::Peer;

impl Signal {
    pub(crate) fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        timeout: Duration,
        peer: Option<&PeerWatch>,
    ) {
        match self {
            Signal::Os(s) => s.wait(word, expected, timeout, peer),
            Signal::Local(s) => s.wait(word, expected, timeout, None),
        }
    }

    pub(crate) fn wake(&self, word: &AtomicU32) {
        match self {
            Signal::Os(s) => s.wake(word),
            Signal::Local(s) => s.wake(word),
        }
    }
}

/// This system's death watch (one that never starts where there is none).
pub(crate) type OsDeathWatch = <Os as Backend>::DeathWatch;
