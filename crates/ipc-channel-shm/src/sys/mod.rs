//! The operating-system seam.
//!
//! Each OS backend is one file with the same small interface:
//!
//! * `Mapping::create(name, len)` / `Mapping::open(name)` / `unlink(name)`:
//!   a named shared segment, created exclusively with owner-only permissions,
//!   mapped read-write, pre-faulted; `Mapping::lock` pins it in memory;
//! * `Signal::create(name, slot)` / `Signal::open(name, slot)` with
//!   `wait(word, expected, timeout, peer)` and `wake(word)`: sleeping on a
//!   32-bit word in the segment (futex, wait-on-address, or a kernel event
//!   whose handle both processes hold);
//! * `PeerWatch::new(pid)` / `is_alive()`: whether the peer process still runs;
//! * Linux also has `DeathWatch`, which wakes sleepers when the peer exits.
//!
//! `local` is the in-process implementation (heap memory, condition
//! variables) used by `Segment::in_process`, Miri and loom. Nothing outside
//! `sys` names an operating system.

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

#[cfg(not(any(loom, miri)))]
pub(crate) use imp::{unlink, Mapping, PeerWatch, Signal};

/// Linux only: a thread per segment that wakes this process's sleepers the
/// moment the peer process exits (elsewhere sleepers check in slices, or,
/// on Windows, wait on the peer's process handle as well).
#[cfg(all(not(any(loom, miri)), target_os = "linux"))]
pub(crate) use imp::DeathWatch;

/// Which sleep word of a channel a [`Signal`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(any(loom, miri), allow(dead_code))]
pub(crate) enum Slot {
    /// The reader sleeps here waiting for data.
    Reader,
    /// The writer sleeps here waiting for space.
    Writer,
}

/// How long a sleeping endpoint goes without checking that its peer is alive,
/// on systems that cannot wake it when the peer dies. Peer death is thus
/// noticed within this bound (the design target is 100 ms).
pub(crate) const PEER_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(25);
