//! Operating-system code of the link layer: real-time thread priority.

#[cfg(unix)]
#[path = "unix.rs"]
mod imp;

#[cfg(windows)]
#[path = "windows.rs"]
mod imp;

pub(crate) use imp::set_realtime_priority;
