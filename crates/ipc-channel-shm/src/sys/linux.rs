//! Linux backend: anonymous, sealed shared memory (`memfd_create` with
//! `F_SEAL_SHRINK | F_SEAL_GROW`, as PipeWire uses), a futex on the shared
//! sleep word (not `FUTEX_PRIVATE`: the word is shared between processes),
//! and a pidfd to tell whether the peer process still runs and to wake
//! sleepers the moment it exits.
//!
//! The memory never has a name: a crash of either side at any moment leaves
//! nothing in `/dev/shm`. The peer opens the creator's descriptor through
//! `/proc/<creator pid>/fd/<fd>`, which the kernel allows only to processes
//! of the same user (it is a ptrace "read" check, which Yama leaves alone);
//! the creator closes that descriptor once the peer has attached, after
//! which nothing can open the memory any more. The seals make it impossible
//! for either side to shrink or grow the object, so a hostile peer cannot
//! turn the other's accesses into `SIGBUS`.

use super::posix::{check, mapped_memory, private_size, Fd, Mapped};
use super::{Backend, SharedMemory, Slot, WaitWord, WatchPeer};
use crate::sync::{AtomicBool, AtomicU32, Mutex, Ordering};
use std::ffi::CString;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// The Linux backend.
#[derive(Debug)]
pub(crate) struct Os;

impl Backend for Os {
    type Memory = Memory;
    type Signal = Signal;
    type Peer = PeerWatch;
    type DeathWatch = DeathWatch;
}

/// The seals every segment carries; an opener refuses memory without them.
const SEALS: libc::c_int = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;

/// A mapping of a sealed memfd; the creator keeps the descriptor open until
/// the peer has attached.
#[derive(Debug)]
pub(crate) struct Memory {
    mapped: Mapped,
    /// The creator's descriptor, which the peer opens; `None` once withdrawn.
    fd: Mutex<Option<Fd>>,
}

/// `<name>-<pid>-<fd>`: where the peer finds the creator's descriptor.
fn connection_string(name: &str, fd: libc::c_int) -> String {
    format!("{name}-{}-{fd}", std::process::id())
}

/// The parts of a connection string: name, creator pid, descriptor.
fn parse(connection: &str) -> Option<(&str, u32, u32)> {
    let name_len = super::NAME_PREFIX.len() + super::NAME_RANDOM_LEN;
    let name = connection.get(..name_len)?;
    let rest = connection.get(name_len..)?.strip_prefix('-')?;
    let (pid, fd) = rest.split_once('-')?;
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    Some((name, number(pid)?, number(fd)?)).filter(|(n, _, _)| super::is_name(n))
}

pub(crate) fn is_connection_string(s: &str) -> bool {
    parse(s).is_some()
}

impl SharedMemory for Memory {
    fn create(name: &str, len: usize) -> io::Result<(Self, String)> {
        let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `c` is a valid NUL-terminated string; flags are plain values.
        let fd = Fd(check(unsafe {
            libc::memfd_create(c.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
        })?);
        let size =
            libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `fd` is an open descriptor we own; plain values.
        check(unsafe { libc::fchmod(fd.0, 0o600) })?;
        // SAFETY: as above.
        check(unsafe { libc::ftruncate(fd.0, size) })?;
        // SAFETY: as above.
        check(unsafe { libc::fcntl(fd.0, libc::F_ADD_SEALS, SEALS) })?;
        let mapped = Mapped::new(&fd, len)?;
        let connection = connection_string(name, fd.0);
        Ok((
            Memory {
                mapped,
                fd: Mutex::new(Some(fd)),
            },
            connection,
        ))
    }

    fn open(connection: &str) -> io::Result<(Self, String)> {
        open_memfd(connection, false)
    }

    fn open_read_only(connection: &str) -> io::Result<(Self, String)> {
        open_memfd(connection, true)
    }

    mapped_memory!();

    fn withdraw(&self) -> io::Result<()> {
        drop(self.fd.lock().unwrap_or_else(|e| e.into_inner()).take());
        Ok(())
    }
}

/// Opens and maps the creator's memfd named by `connection`, read-only or
/// read-write.
fn open_memfd(connection: &str, read_only: bool) -> io::Result<(Memory, String)> {
    let (name, pid, fd) =
        parse(connection).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let path = CString::new(format!("/proc/{pid}/fd/{fd}")).expect("no NUL");
    let access = if read_only {
        libc::O_RDONLY
    } else {
        libc::O_RDWR
    };
    // SAFETY: `path` is a valid NUL-terminated string.
    let fd = Fd(check(unsafe {
        libc::open(path.as_ptr(), access | libc::O_CLOEXEC)
    })?);
    // The descriptor must be the memfd made under this name, not one that
    // took its number after the segment it was went away.
    if memfd_name(&fd)?.as_deref() != Some(name) {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the descriptor is not this segment's (its creator closed it)",
        ));
    }
    let len = private_size(&fd)?;
    // SAFETY: `fd` is open; F_GET_SEALS takes no argument.
    let seals = unsafe { libc::fcntl(fd.0, libc::F_GET_SEALS) };
    if seals < 0
        || seals & (libc::F_SEAL_SHRINK | libc::F_SEAL_GROW)
            != libc::F_SEAL_SHRINK | libc::F_SEAL_GROW
    {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "shared memory is not sealed against resizing",
        ));
    }
    let mapped = if read_only {
        Mapped::new_read_only(&fd, len)?
    } else {
        Mapped::new(&fd, len)?
    };
    // The descriptor is not needed once mapped.
    Ok((
        Memory {
            mapped,
            fd: Mutex::new(None),
        },
        name.to_owned(),
    ))
}

/// The name a memfd was created under (`None` for any other file), read
/// from the kernel's `/memfd:<name> (deleted)` link for our descriptor.
fn memfd_name(fd: &Fd) -> io::Result<Option<String>> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.0))?;
    let link = link.to_string_lossy();
    Ok(link
        .strip_prefix("/memfd:")
        .and_then(|rest| rest.strip_suffix(" (deleted)"))
        .map(str::to_owned))
}

/// Linux needs no kernel object besides the futex word itself.
#[derive(Debug)]
pub(crate) struct Signal;

impl WaitWord for Signal {
    type Peer = PeerWatch;

    fn create(_name: &str, _channel: usize, _slot: Slot) -> io::Result<Signal> {
        Ok(Signal)
    }

    fn open(_name: &str, _channel: usize, _slot: Slot) -> io::Result<Signal> {
        Ok(Signal)
    }

    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Duration, _peer: Option<&PeerWatch>) {
        futex_wait(word, expected, timeout);
    }

    fn wake(&self, word: &AtomicU32) {
        futex_wake(word);
    }
}

/// Sleeps while `*word == expected`, at most `timeout`. Returns on a wake,
/// a timeout, a signal (EINTR) or a spurious wake; the caller re-checks.
fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
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
fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a valid, aligned 32-bit word; waking has no other
    // precondition.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}

/// Opens a pidfd for `pid`, or the `errno` of the refusal.
fn pidfd_open(pid: libc::pid_t) -> io::Result<Fd> {
    // No flags: a pidfd is always close-on-exec, and the only flag the
    // call accepts is PIDFD_NONBLOCK (any other, O_CLOEXEC included, is
    // EINVAL).
    // SAFETY: pidfd_open takes a pid and flags; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Fd(fd as libc::c_int))
}

/// Watches a peer process through a pidfd (immune to PID reuse), falling back
/// to `kill(pid, 0)` on kernels older than 5.3.
#[derive(Debug)]
pub(crate) struct PeerWatch {
    pid: libc::pid_t,
    pidfd: Option<Fd>,
    gone: bool,
}

impl WatchPeer for PeerWatch {
    fn new(pid: u32) -> Option<PeerWatch> {
        let pid = libc::pid_t::try_from(pid).ok().filter(|&p| p > 0)?;
        match pidfd_open(pid) {
            Ok(fd) => Some(PeerWatch {
                pid,
                pidfd: Some(fd),
                gone: false,
            }),
            Err(e) => Some(PeerWatch {
                pid,
                pidfd: None,
                gone: e.raw_os_error() == Some(libc::ESRCH),
            }),
        }
    }

    fn is_alive(&mut self) -> bool {
        if self.gone {
            return false;
        }
        self.gone = match &self.pidfd {
            Some(fd) => {
                let mut p = libc::pollfd {
                    fd: fd.0,
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
    stop: Arc<Fd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Addresses of sleep words inside a mapping that outlives the watch.
struct Words(Vec<usize>);

impl super::DeathWatch for DeathWatch {
    /// `None` if the system has no pidfd (before Linux 5.3) or no thread
    /// can be started: sleepers then notice the death when a slice ends.
    /// Also `None` for a peer that is gone already, with `gone` set.
    fn start(pid: u32, words: Vec<*const AtomicU32>, gone: Arc<AtomicBool>) -> Option<DeathWatch> {
        let pid = libc::pid_t::try_from(pid).ok().filter(|&p| p > 0)?;
        let pidfd = match pidfd_open(pid) {
            Ok(fd) => fd,
            Err(e) => {
                // Gone already (exited and reaped, e.g. a host killed while
                // its plugin connected): say so now. Without a watch, the
                // first sleep would only notice when its 25 ms slice ends.
                if e.raw_os_error() == Some(libc::ESRCH) {
                    gone.store(true, Ordering::SeqCst);
                }
                return None;
            }
        };
        // SAFETY: eventfd takes an initial value and flags.
        let stop = Arc::new(Fd(
            check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) }).ok()?
        ));
        let words = Words(words.into_iter().map(|w| w as usize).collect());
        let stop_fd = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ipc-peer-watch".into())
            .stack_size(64 * 1024)
            .spawn(move || watch(&pidfd, &stop_fd, &words, &gone))
            .ok()?;
        Some(DeathWatch {
            stop,
            thread: Some(thread),
        })
    }
}

/// The watch thread: waits for the pidfd (the peer exited) or the eventfd
/// (the segment is going away).
fn watch(pidfd: &Fd, stop: &Fd, words: &Words, gone: &AtomicBool) {
    let mut fds = [
        libc::pollfd {
            fd: pidfd.0,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: stop.0,
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
        gone.store(true, Ordering::SeqCst);
        for &address in &words.0 {
            // SAFETY: the address is a sleep word in the segment's mapping,
            // which stays mapped until this thread has been joined.
            let word = unsafe { &*(address as *const AtomicU32) };
            if word.swap(crate::layout::AWAKE, Ordering::SeqCst) == crate::layout::SLEEPING {
                futex_wake(word);
            }
        }
    }
}

impl Drop for DeathWatch {
    fn drop(&mut self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe { libc::write(self.stop.0, (&one as *const u64).cast(), 8) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
