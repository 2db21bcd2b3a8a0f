//! Windows: time-critical thread priority.

use std::io;
use windows_sys::Win32::System::Threading::{
    GetCurrentThread, SetThreadPriority, THREAD_PRIORITY_TIME_CRITICAL,
};

pub(crate) fn set_realtime_priority(_priority: u8) -> io::Result<()> {
    // SAFETY: the pseudo-handle of the calling thread is always valid.
    let ok = unsafe { SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_TIME_CRITICAL) };
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
