//! Linux and macOS: `SCHED_FIFO` through `pthread_setschedparam`.

use std::io;

pub(crate) fn set_realtime_priority(priority: u8) -> io::Result<()> {
    // SAFETY: plain queries of the scheduler's priority range.
    let (min, max) = unsafe {
        (
            libc::sched_get_priority_min(libc::SCHED_FIFO),
            libc::sched_get_priority_max(libc::SCHED_FIFO),
        )
    };
    // SAFETY: `sched_param` is plain data (macOS adds private padding, which
    // rules out a struct literal); all zeroes is a valid value.
    let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
    param.sched_priority = i32::from(priority).clamp(min, max);
    // SAFETY: `pthread_self()` is the calling thread; `param` is a valid value.
    let rc = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}
