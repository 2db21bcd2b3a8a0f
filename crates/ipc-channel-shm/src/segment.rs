//! A shared segment: one mapping that holds one or more channels, created by
//! one process and opened by another from a short connection string.

use crate::channel::{Reader, Writer};
use crate::layout::{self, ChannelGeometry, ChannelHeader, SegmentHeader};
use crate::sync::Ordering;
#[cfg(not(any(loom, miri)))]
use crate::sys;
use crate::sys::{local, Slot};
use crate::Error;
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[cfg_attr(any(loom, miri), allow(dead_code))]
/// Prefix of every segment name; the rest is 20 random base-32 characters.
const NAME_PREFIX: &str = "ipc-";
#[cfg_attr(any(loom, miri), allow(dead_code))]
const NAME_RANDOM_LEN: usize = 20;
#[cfg_attr(any(loom, miri), allow(dead_code))]
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The memory behind a segment.
#[derive(Debug)]
enum Memory {
    #[cfg(not(any(loom, miri)))]
    Os(sys::Mapping),
    Heap(local::HeapMemory),
}

/// The partner of one sleep word.
#[derive(Debug)]
pub(crate) enum Signal {
    #[cfg(not(any(loom, miri)))]
    Os(sys::Signal),
    Local(local::Signal),
}

/// What every endpoint of a segment shares; the memory stays mapped until the
/// last endpoint and the last `Segment` handle are gone.
#[derive(Debug)]
pub(crate) struct Shared {
    memory: Memory,
    len: usize,
    name: Option<String>,
    creator: bool,
    locked: bool,
    unlinked: AtomicBool,
    channels: Vec<ChannelGeometry>,
    /// Two per channel: `[reader, writer]` sleep words.
    signals: Vec<[Signal; 2]>,
    /// Set once the peer process was seen to exit (by the death watch).
    peer_gone: Arc<AtomicBool>,
    /// Wakes this process's sleepers when the peer exits; started by the
    /// first endpoint that sleeps once the peer is known.
    #[cfg(all(not(any(loom, miri)), target_os = "linux"))]
    death_watch: std::sync::OnceLock<Option<sys::DeathWatch>>,
}

// SAFETY: the raw memory is only touched through atomics and through copies
// whose ordering the channel protocol establishes; the OS handles are
// thread-safe.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    pub(crate) fn base(&self) -> *mut u8 {
        match &self.memory {
            #[cfg(not(any(loom, miri)))]
            Memory::Os(m) => m.as_ptr(),
            Memory::Heap(h) => h.as_ptr(),
        }
    }

    /// Whether the death watch saw the peer process exit.
    #[inline]
    pub(crate) fn peer_gone(&self) -> bool {
        self.peer_gone.load(Ordering::SeqCst)
    }

    /// Starts the death watch once the peer process is known (Linux; a
    /// no-op elsewhere, after the first start, and for in-process segments).
    /// Returns whether a watch runs.
    pub(crate) fn watch_peer(&self) -> bool {
        #[cfg(all(not(any(loom, miri)), target_os = "linux"))]
        {
            if let Some(watch) = self.death_watch.get() {
                return watch.is_some();
            }
            if !matches!(self.memory, Memory::Os(_)) {
                return false;
            }
            let h = self.segment_header();
            let pid = if self.creator {
                h.opener_pid.load(Ordering::Acquire)
            } else {
                h.creator_pid.load(Ordering::Acquire)
            };
            if pid == 0 || pid == std::process::id() {
                return false;
            }
            let words = (0..self.channels.len())
                .flat_map(|c| {
                    let ch = self.header(c);
                    [
                        &ch.reader_sleep as *const crate::sync::AtomicU32,
                        &ch.writer_sleep as *const crate::sync::AtomicU32,
                    ]
                })
                .collect();
            self.death_watch
                .get_or_init(|| sys::DeathWatch::start(pid, words, Arc::clone(&self.peer_gone)))
                .is_some()
        }
        #[cfg(not(all(not(any(loom, miri)), target_os = "linux")))]
        false
    }

    pub(crate) fn geometry(&self, channel: usize) -> ChannelGeometry {
        self.channels[channel]
    }

    pub(crate) fn signal(&self, channel: usize, slot: Slot) -> &Signal {
        &self.signals[channel][match slot {
            Slot::Reader => 0,
            Slot::Writer => 1,
        }]
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

    fn unlink(&self) -> Result<(), Error> {
        if let Some(_name) = &self.name {
            if !self
                .unlinked
                .swap(true, std::sync::atomic::Ordering::AcqRel)
            {
                #[cfg(not(any(loom, miri)))]
                match sys::unlink(_name) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The watch thread touches the mapping: stop it first.
        #[cfg(all(not(any(loom, miri)), target_os = "linux"))]
        drop(self.death_watch.take());
        // The creator removes the name if the peer never attached (the
        // opener removes it as soon as it has mapped the segment).
        if self.creator {
            let _ = self.unlink();
        }
    }
}

/// A shared-memory segment holding one or more one-way channels.
///
/// One process [`create`](Segment::create)s it and passes
/// [`connection_string`](Segment::connection_string) to the other (on its
/// command line, say), which [`open`](Segment::open)s it. Each side then
/// claims the endpoints it uses with [`writer`](Segment::writer) and
/// [`reader`](Segment::reader). The name disappears from the system
/// namespace as soon as the peer has attached, so a crash of either side
/// leaves nothing behind.
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
            .field("name", &self.shared.name)
            .field("len", &self.shared.len)
            .field("channels", &self.shared.channels.len())
            .field("creator", &self.shared.creator)
            .finish()
    }
}

impl Segment {
    /// Creates a segment in the system's shared memory with one channel per
    /// entry of `capacities` (ring sizes in bytes: powers of two from 64 bytes
    /// to 1 GiB).
    ///
    /// The name is random (from the OS random source), created exclusively and
    /// readable by this user only. The memory is pre-faulted and, where the
    /// system allows, locked; a refused lock is logged, not an error
    /// (see [`is_memory_locked`](Segment::is_memory_locked)).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a bad capacity or channel count,
    /// [`Error::Os`] when the system refuses the segment.
    #[cfg(not(any(loom, miri)))]
    pub fn create(capacities: &[usize]) -> Result<Segment, Error> {
        let (geometry, total) = layout::plan(capacities)?;
        let (name, mapping) = create_named(total)?;
        // SAFETY: the mapping is fresh, zeroed, exclusively ours, `total`
        // bytes long and page-aligned.
        unsafe { layout::initialise(mapping.as_ptr(), total, &geometry, std::process::id()) };
        let signals = (0..geometry.len())
            .map(|i| {
                Ok([
                    Signal::Os(sys::Signal::create(&name, i, Slot::Reader)?),
                    Signal::Os(sys::Signal::create(&name, i, Slot::Writer)?),
                ])
            })
            .collect::<Result<Vec<_>, std::io::Error>>();
        let signals = match signals {
            Ok(s) => s,
            Err(e) => {
                let _ = sys::unlink(&name);
                return Err(e.into());
            }
        };
        let locked = lock_memory(&mapping);
        Ok(Segment {
            shared: Arc::new(Shared {
                len: total,
                memory: Memory::Os(mapping),
                name: Some(name),
                creator: true,
                locked,
                unlinked: AtomicBool::new(false),
                channels: geometry,
                signals,
                peer_gone: Arc::new(AtomicBool::new(false)),
                #[cfg(all(not(any(loom, miri)), target_os = "linux"))]
                death_watch: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Opens the segment named by `connection` (from
    /// [`connection_string`](Segment::connection_string) in the creating
    /// process), checks every header value, and removes the name from the
    /// system namespace.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a malformed connection string,
    /// [`Error::Corrupted`] or [`Error::VersionMismatch`] for a segment whose
    /// headers do not hold, [`Error::AlreadyClaimed`] if another process has
    /// opened it already, [`Error::Os`] when the segment does not exist or is
    /// not private to this user.
    #[cfg(not(any(loom, miri)))]
    pub fn open(connection: &str) -> Result<Segment, Error> {
        if !is_valid_name(connection) {
            return Err(Error::InvalidArgument("not a segment connection string"));
        }
        let mapping = sys::Mapping::open(connection)?;
        // Whatever the headers say, the name has served its purpose.
        let _ = sys::unlink(connection);
        // SAFETY: the mapping is page-aligned and `len` bytes long.
        let geometry = unsafe { layout::validate(mapping.as_ptr(), mapping.len())? };
        let signals = (0..geometry.len())
            .map(|i| {
                Ok([
                    Signal::Os(sys::Signal::open(connection, i, Slot::Reader)?),
                    Signal::Os(sys::Signal::open(connection, i, Slot::Writer)?),
                ])
            })
            .collect::<Result<Vec<_>, std::io::Error>>()?;
        let locked = lock_memory(&mapping);
        let segment = Segment {
            shared: Arc::new(Shared {
                len: mapping.len(),
                memory: Memory::Os(mapping),
                name: Some(connection.to_owned()),
                creator: false,
                locked,
                unlinked: AtomicBool::new(true),
                channels: geometry,
                signals,
                peer_gone: Arc::new(AtomicBool::new(false)),
                #[cfg(all(not(any(loom, miri)), target_os = "linux"))]
                death_watch: std::sync::OnceLock::new(),
            }),
        };
        // One peer per segment. On POSIX the name is already gone; on Windows,
        // where a name lives as long as the creator's handle, this is what
        // keeps a second opener out.
        let h = segment.shared.segment_header();
        h.attach_count
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
            .map_err(|_| Error::AlreadyClaimed)?;
        h.opener_pid.store(std::process::id(), Ordering::Relaxed);
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
        let memory = local::HeapMemory::new(total);
        // SAFETY: fresh zeroed heap memory of `total` bytes aligned to LINE.
        unsafe { layout::initialise(memory.as_ptr(), total, &geometry, std::process::id()) };
        let signals = (0..geometry.len())
            .map(|_| {
                [
                    Signal::Local(local::Signal::default()),
                    Signal::Local(local::Signal::default()),
                ]
            })
            .collect();
        Ok(Segment {
            shared: Arc::new(Shared {
                len: total,
                memory: Memory::Heap(memory),
                name: None,
                creator: true,
                locked: false,
                unlinked: AtomicBool::new(true),
                channels: geometry,
                signals,
                peer_gone: Arc::new(AtomicBool::new(false)),
                #[cfg(all(not(any(loom, miri)), target_os = "linux"))]
                death_watch: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Starts watching the peer process now rather than at the first sleep
    /// (Linux: one small thread per segment wakes this process's sleepers
    /// the moment the peer exits; see `docs/ARCHITECTURE.md`). Call it once
    /// the peer has opened the segment, from a thread that may allocate:
    /// otherwise the first endpoint to sleep starts the watch, which could
    /// be a real-time thread. Returns whether a watch runs (false on other
    /// systems, before the peer attached, for in-process segments, and on
    /// kernels without pidfd).
    pub fn watch_peer(&self) -> bool {
        self.shared.watch_peer()
    }

    /// The string another process passes to [`Segment::open`]: at most 24
    /// ASCII characters, safe on a command line. `None` for an
    /// [`in_process`](Segment::in_process) segment.
    pub fn connection_string(&self) -> Option<&str> {
        self.shared.name.as_deref()
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
        self.shared.len
    }

    /// Always false: a segment holds at least one channel.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether this handle created the segment (rather than opened it).
    pub fn is_creator(&self) -> bool {
        self.shared.creator
    }

    /// Whether another process has opened the segment (always false for the
    /// opener's own view before it attached, and for in-process segments).
    pub fn peer_attached(&self) -> bool {
        self.shared
            .segment_header()
            .attach_count
            .load(Ordering::Acquire)
            > 0
    }

    /// Whether the pages are locked in RAM (see [`Segment::create`]).
    pub fn is_memory_locked(&self) -> bool {
        self.shared.locked
    }

    /// Removes the name from the system namespace now (it is removed anyway
    /// when the peer attaches or when the creator drops the segment). Other
    /// processes can no longer open it; mappings stay valid.
    ///
    /// # Errors
    /// [`Error::Os`] if the system refuses.
    pub fn unlink(&self) -> Result<(), Error> {
        self.shared.unlink()
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
        Ok(())
    }

    /// The raw mapping, for diagnostics and for tests that play a hostile
    /// peer. Writing through it can only make this crate report
    /// [`Error::Corrupted`]; it cannot make it misbehave.
    #[doc(hidden)]
    pub fn raw_memory(&self) -> (*mut u8, usize) {
        (self.shared.base(), self.shared.len)
    }
}

#[cfg(not(any(loom, miri)))]
fn lock_memory(mapping: &sys::Mapping) -> bool {
    match mapping.lock() {
        Ok(()) => true,
        Err(e) => {
            log::warn!(
                "could not lock {} bytes of shared memory in RAM ({e}); page faults may reach the audio path",
                mapping.len()
            );
            false
        }
    }
}

/// Creates a mapping of `len` bytes under a fresh random name.
#[cfg(not(any(loom, miri)))]
pub(crate) fn create_named(len: usize) -> Result<(String, sys::Mapping), Error> {
    // A collision of 100 random bits is not expected; retrying on
    // `AlreadyExists` keeps even that from being an error.
    let mut attempts = 0;
    loop {
        let name = random_name()?;
        match sys::Mapping::create(&name, len) {
            Ok(m) => return Ok((name, m)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 4 => {
                attempts += 1
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(not(any(loom, miri)))]
fn random_name() -> Result<String, Error> {
    let mut bytes = [0u8; NAME_RANDOM_LEN];
    getrandom::getrandom(&mut bytes).map_err(|e| Error::Os(e.into()))?;
    let mut name = String::with_capacity(NAME_PREFIX.len() + NAME_RANDOM_LEN);
    name.push_str(NAME_PREFIX);
    name.extend(bytes.iter().map(|b| BASE32[usize::from(b & 31)] as char));
    Ok(name)
}

/// Whether `s` has the shape of a name made by `random_name`: this keeps a
/// connection string from naming anything else (a path, another object).
#[cfg_attr(any(loom, miri), allow(dead_code))]
pub(crate) fn is_valid_name(s: &str) -> bool {
    s.len() == NAME_PREFIX.len() + NAME_RANDOM_LEN
        && s.starts_with(NAME_PREFIX)
        && s.bytes()
            .skip(NAME_PREFIX.len())
            .all(|b| BASE32.contains(&b))
}
