//! Linux backend: POSIX shared memory, a futex on the shared sleep word
//! (not `FUTEX_PRIVATE`: the word is shared between processes), and a pidfd
//! to tell whether the peer process still runs.

pub(crate) use super::posix::{unlink, Mapping};
use super::Slot;
use crate::sync::AtomicU32;
use std::io;
use std::time::Duration;

/// Linux needs no kernel object besides the futex word itself.
#[derive(Debug)]
pub(crate) struct Signal;

impl Signal {
    pub(crate) fn create(_name: &str, _channel: usize, _slot: Slot) -> io::Result<Signal> {
        Ok(Signal)
    }

    pub(crate) fn open(_name: &str, _channel: usize, _slot: Slot) -> io::Result<Signal> {
        Ok(Signal)
    }

    /// Sleeps while `*word == expected`, at most `timeout`. Returns on a wake,
    /// a timeout, a signal (EINTR) or a spurious wake; the caller re-checks.
    pub(crate) fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        timeout: Duration,
        _peer: Option<&PeerWatch>,
    ) {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `word` is a valid, aligned 32-bit word that stays mapped for
        // the call; the timeout is relative (FUTEX_WAIT measures it on the
        // monotonic clock). Any result is fine: the caller re-checks.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                expected,
                &ts as *const libc::timespec,
            );
        }
    }

    /// Wakes the one endpoint that may sleep on `word`.
    pub(crate) fn wake(&self, word: &AtomicU32) {
        // SAFETY: `word` is a valid, aligned 32-bit word; waking has no other
        // precondition.
        unsafe {
            libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
        }
    }
}

/// Watches a peer process through a pidfd (immune to PID reuse), falling back
/// to `kill(pid, 0)` on kernels older than 5.3.
#[derive(Debug)]
pub(crate) struct PeerWatch {
    pid: libc::pid_t,
    pidfd: Option<libc::c_int>,
    gone: bool,
}

impl PeerWatch {
    pub(crate) fn new(pid: u32) -> Option<PeerWatch> {
        let pid = libc::pid_t::try_from(pid).ok().filter(|&p| p > 0)?;
        // SAFETY: pidfd_open takes a pid and flags; no memory is passed.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd >= 0 {
            return Some(PeerWatch {
                pid,
                pidfd: Some(fd as libc::c_int),
                gone: false,
            });
        }
        let gone = io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        Some(PeerWatch {
            pid,
            pidfd: None,
            gone,
        })
    }

    pub(crate) fn is_alive(&mut self) -> bool {
        if self.gone {
            return false;
        }
        self.gone = match self.pidfd {
            Some(fd) => {
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, zero timeout.
                let n = unsafe { libc::poll(&mut p, 1, 0) };
                n == 1 && p.revents & libc::POLLIN != 0
            }
            None => {
                // SAFETY: signal 0 only checks for existence.
                let r = unsafe { libc::kill(self.pid, 0) };
                r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
            }
        };
        !self.gone
    }
}

impl Drop for PeerWatch {
    fn drop(&mut self) {
        if let Some(fd) = self.pidfd {
            // SAFETY: the pidfd is ours and closed once.
            unsafe { libc::close(fd) };
        }
    }
}
