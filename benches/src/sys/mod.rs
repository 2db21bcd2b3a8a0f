//! The operating-system seam of the harness: pinning to a CPU, dying with the
//! parent, a page of memory shared with a child process and futex waits on
//! words in it, and descriptors a child inherits. One file per OS; the
//! harness itself names no OS.
//!
//! Only Linux is implemented; elsewhere every call fails with
//! `ErrorKind::Unsupported`, so the workspace still builds there.

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod imp;

#[cfg(not(target_os = "linux"))]
#[path = "unsupported.rs"]
mod imp;

pub use imp::{
    available_cpus, exit_with_parent, futex_wait, futex_wake, parent_alive, pin_to_cpu, Inherited,
    SharedPage, Socket,
};

/// How a [`futex_wait`] ended. Either way the caller re-checks its word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// Woken, interrupted, or the word had already changed.
    Maybe,
    /// The timeout passed.
    TimedOut,
}
