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
            None => super::posix::process_gone(self.pid),
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

/// A thread that sleeps until the peer process exits and then wakes every
/// endpoint of the segment sleeping in this process, so that a dead peer is
/// reported at once instead of when a sleep slice ends.
///
/// It marks the death in `gone` first, then sets every sleep word of the
/// segment to `AWAKE` and wakes its sleepers. A waiter checks `gone` after
/// setting its word to `SLEEPING`, so it either sees the mark or finds its
/// word changed (the futex wait returns at once): no wake-up is lost.
#[derive(Debug)]
pub(crate) struct DeathWatch {
    /// An eventfd that asks the thread to stop.
    stop: libc::c_int,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Addresses of sleep words inside a mapping that outlives the watch.
struct Words(Vec<usize>);

impl DeathWatch {
    /// Starts watching `pid`; `words` are the addresses of the segment's
    /// sleep words, which must stay mapped until the watch is dropped.
    /// `None` if the system has no pidfd (before Linux 5.3) or no thread
    /// can be started: sleepers then notice the death when a slice ends.
    pub(crate) fn start(
        pid: u32,
        words: Vec<*const AtomicU32>,
        gone: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Option<DeathWatch> {
        let pid = libc::pid_t::try_from(pid).ok().filter(|&p| p > 0)?;
        // SAFETY: pidfd_open takes a pid and flags; no memory is passed.
        let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if pidfd < 0 {
            return None;
        }
        let pidfd = pidfd as libc::c_int;
        // SAFETY: eventfd takes an initial value and flags.
        let stop = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if stop < 0 {
            // SAFETY: the pidfd is ours and closed once.
            unsafe { libc::close(pidfd) };
            return None;
        }
        let words = Words(words.into_iter().map(|w| w as usize).collect());
        let thread = std::thread::Builder::new()
            .name("ipc-peer-watch".into())
            .stack_size(64 * 1024)
            .spawn(move || watch(pidfd, stop, &words, &gone));
        match thread {
            Ok(thread) => Some(DeathWatch {
                stop,
                thread: Some(thread),
            }),
            Err(_) => {
                // SAFETY: both descriptors are ours (the closure that owned
                // the pidfd was never run, so it is closed here once).
                unsafe {
                    libc::close(pidfd);
                    libc::close(stop);
                }
                None
            }
        }
    }
}

/// The watch thread: waits for the pidfd (the peer exited) or the eventfd
/// (the segment is going away).
fn watch(
    pidfd: libc::c_int,
    stop: libc::c_int,
    words: &Words,
    gone: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering as StdOrdering;
    let mut fds = [
        libc::pollfd {
            fd: pidfd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: stop,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let died = loop {
        // SAFETY: two valid pollfds, no timeout.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n > 0 {
            break fds[0].revents & libc::POLLIN != 0;
        }
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break false;
        }
    };
    if died {
        gone.store(true, StdOrdering::SeqCst);
        for &address in &words.0 {
            // SAFETY: the address is a sleep word in the segment's mapping,
            // which stays mapped until this thread has been joined.
            let word = unsafe { &*(address as *const AtomicU32) };
            if word.swap(crate::layout::AWAKE, crate::sync::Ordering::SeqCst)
                == crate::layout::SLEEPING
            {
                Signal.wake(word);
            }
        }
    }
    // SAFETY: the pidfd belongs to this thread and is closed once.
    unsafe { libc::close(pidfd) };
}

impl Drop for DeathWatch {
    fn drop(&mut self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe { libc::write(self.stop, (&one as *const u64).cast(), 8) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // SAFETY: the eventfd is ours and closed once, after the thread that
        // polled it has ended.
        unsafe { libc::close(self.stop) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{AWAKE, SLEEPING};
    use crate::sync::Ordering;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    fn child() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .expect("start `sleep`")
    }

    /// Waits while `word` is `SLEEPING`, at most about ten seconds in all
    /// (a safety net against a hang, not a measurement).
    fn sleep_on(word: &AtomicU32) {
        for _ in 0..100 {
            if word.load(Ordering::SeqCst) != SLEEPING {
                return;
            }
            Signal.wait(word, SLEEPING, Duration::from_millis(100), None);
        }
    }

    #[test]
    fn the_death_watch_wakes_sleepers_when_the_peer_exits() {
        let mut peer = child();
        let words = [AtomicU32::new(SLEEPING), AtomicU32::new(SLEEPING)];
        let gone = Arc::new(AtomicBool::new(false));
        let watch = DeathWatch::start(
            peer.id(),
            words.iter().map(|w| w as *const AtomicU32).collect(),
            Arc::clone(&gone),
        )
        .expect("pidfd and a thread");
        assert!(!gone.load(Ordering::SeqCst));
        peer.kill().expect("kill");
        peer.wait().expect("reap");
        // The watch sets the words one after the other: wait for each.
        for word in &words {
            sleep_on(word);
        }
        assert_eq!(words[0].load(Ordering::SeqCst), AWAKE);
        assert_eq!(words[1].load(Ordering::SeqCst), AWAKE);
        assert!(gone.load(Ordering::SeqCst));
        drop(watch);
    }

    #[test]
    fn a_dropped_death_watch_stops_and_touches_nothing() {
        let mut peer = child();
        let word = AtomicU32::new(SLEEPING);
        let gone = Arc::new(AtomicBool::new(false));
        let watch = DeathWatch::start(
            peer.id(),
            vec![&word as *const AtomicU32],
            Arc::clone(&gone),
        )
        .expect("pidfd and a thread");
        drop(watch); // joins the thread
        peer.kill().expect("kill");
        peer.wait().expect("reap");
        assert_eq!(word.load(Ordering::SeqCst), SLEEPING);
        assert!(!gone.load(Ordering::SeqCst));
    }
}
