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
use super::{Backend, PeerFlags, SharedMemory, Slot, WaitWord, WatchPeer};
use crate::sync::{AtomicU32, Mutex, Ordering};
use std::ffi::CString;
use std::io;
use std::sync::{Arc, Weak};
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

/// This process's pidfds of peer processes, one per peer, shared by every
/// watch of it (the death watch and each endpoint's), so that a plugin
/// costs its host one descriptor however many of its endpoints have slept.
static PIDFDS: Mutex<Vec<(libc::pid_t, Weak<Fd>)>> = Mutex::new(Vec::new());

/// A pidfd for `pid`, shared with the other watches of that process.
///
/// A cached pidfd is handed out only while its process runs: a running
/// process keeps its pid, so it is the same process. One that has exited
/// may have had its pid reused by a new process, which gets a pidfd of its
/// own (or `ESRCH` if there is none).
fn shared_pidfd(pid: libc::pid_t) -> io::Result<Arc<Fd>> {
    let mut cache = PIDFDS.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|(_, fd)| fd.strong_count() > 0);
    let cached = cache
        .iter()
        .find(|(p, _)| *p == pid)
        .and_then(|(_, fd)| fd.upgrade());
    if let Some(fd) = cached {
        if !pidfd_exited(&fd) {
            return Ok(fd);
        }
    }
    let fd = Arc::new(pidfd_open(pid)?);
    cache.retain(|(p, _)| *p != pid);
    cache.push((pid, Arc::downgrade(&fd)));
    Ok(fd)
}

/// Whether the process behind `pidfd` has exited (it is readable then).
fn pidfd_exited(pidfd: &Fd) -> bool {
    let mut p = libc::pollfd {
        fd: pidfd.0,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & libc::POLLIN != 0
}

/// Watches a peer process through a pidfd (immune to PID reuse), falling back
/// to `kill(pid, 0)` on kernels older than 5.3.
#[derive(Debug)]
pub(crate) struct PeerWatch {
    pid: libc::pid_t,
    pidfd: Option<Arc<Fd>>,
    gone: bool,
}

impl WatchPeer for PeerWatch {
    fn new(pid: u32) -> Option<PeerWatch> {
        let pid = libc::pid_t::try_from(pid).ok().filter(|&p| p > 0)?;
        match shared_pidfd(pid) {
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
            Some(fd) => pidfd_exited(fd),
            None => super::posix::process_gone(self.pid),
        };
        !self.gone
    }
}

/// One process-wide thread that sleeps in `epoll_wait` on a pidfd per
/// watched segment and, when a peer exits, wakes every endpoint of that
/// segment sleeping in this process, so that a dead peer is reported at once
/// instead of when a sleep slice ends. A host with 64 plugins pays one
/// thread in all and one pidfd per plugin (shared with its endpoints' peer
/// checks), not a thread, an eventfd and a pidfd per segment.
///
/// It marks the death in `gone` first, then sets every sleep word of the
/// segment to `AWAKE` and wakes its sleepers. A waiter checks `gone` after
/// setting its word to `SLEEPING`, so it either sees the mark or finds its
/// word changed (the futex wait returns at once): no wake-up is lost.
///
/// A `DeathWatch` is one registration; dropping it deregisters the segment.
/// The thread wakes a segment's words only while holding the registry's
/// lock and only for a registration still in it, so once the drop has
/// removed it the words (and the mapping) are never touched again.
#[derive(Debug)]
pub(crate) struct DeathWatch {
    watcher: &'static Watcher,
    token: u64,
}

/// The thread's side: the epoll instance and what is registered with it.
struct Watcher {
    epoll: Fd,
    /// Watched segments by token. Tokens are never reused, so a stale event
    /// of a registration that is gone cannot fire for a newer one.
    entries: Mutex<Entries>,
    /// The process that started the thread (a child forked without `exec`
    /// has no thread: it starts its own).
    pid: u32,
}

#[derive(Default)]
struct Entries {
    next: u64,
    /// Set once the thread has ended (it never does but on an unexpected
    /// `epoll_wait` error): then no new registration is taken.
    stopped: bool,
    map: std::collections::HashMap<u64, Entry>,
}

/// One watched segment: the peer's pidfd, the addresses of the segment's
/// sleep words (inside a mapping that outlives the registration), and the
/// segment's mark.
struct Entry {
    pidfd: Arc<Fd>,
    words: Vec<usize>,
    flags: Arc<PeerFlags>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("epoll", &self.epoll)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// The process's watcher, started with the first registration; it lives
/// as long as the process (one thread asleep in `epoll_wait`).
static WATCHER: Mutex<Option<&'static Watcher>> = Mutex::new(None);

/// The watcher of this process, started if there is none yet.
fn watcher() -> Option<&'static Watcher> {
    let mut slot = WATCHER.lock().unwrap_or_else(|e| e.into_inner());
    let me = std::process::id();
    if let Some(w) = *slot {
        if w.pid == me {
            return Some(w);
        }
    }
    let w = Watcher::new()?;
    std::thread::Builder::new()
        .name("ipc-peer-watch".into())
        .stack_size(64 * 1024)
        .spawn(move || w.run())
        .ok()?;
    *slot = Some(w);
    Some(w)
}

impl Watcher {
    /// A watcher with no thread yet, for the rest of the process (leaked on
    /// purpose: its thread refers to it until the process ends).
    fn new() -> Option<&'static Watcher> {
        // SAFETY: epoll_create1 takes flags only.
        let epoll = Fd(check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }).ok()?);
        Some(Box::leak(Box::new(Watcher {
            epoll,
            entries: Mutex::new(Entries::default()),
            pid: std::process::id(),
        })))
    }

    fn entries(&self) -> impl std::ops::DerefMut<Target = Entries> + '_ {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a segment; `None` if the thread has ended or epoll refuses.
    fn register(&self, pidfd: Arc<Fd>, words: Vec<usize>, flags: Arc<PeerFlags>) -> Option<u64> {
        let mut entries = self.entries();
        if entries.stopped {
            return None;
        }
        let token = entries.next;
        entries.next += 1;
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        let add = |fd: &Fd, event: &mut libc::epoll_event| {
            // SAFETY: both descriptors are open; `event` is a valid epoll_event.
            check(unsafe { libc::epoll_ctl(self.epoll.0, libc::EPOLL_CTL_ADD, fd.0, event) })
        };
        let pidfd = match add(&pidfd, &mut event) {
            Ok(_) => pidfd,
            // The same peer's pidfd is watched for another segment already
            // (a process with two links to one peer): a copy of its own.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                // SAFETY: duplicating an open descriptor.
                let copy = check(unsafe { libc::fcntl(pidfd.0, libc::F_DUPFD_CLOEXEC, 0) }).ok()?;
                let copy = Arc::new(Fd(copy));
                add(&copy, &mut event).ok()?;
                copy
            }
            Err(_) => return None,
        };
        entries.map.insert(
            token,
            Entry {
                pidfd,
                words,
                flags,
            },
        );
        Some(token)
    }

    /// Removes a segment (if the thread has not already fired it).
    fn deregister(&self, token: u64) {
        let mut entries = self.entries();
        if let Some(entry) = entries.map.remove(&token) {
            self.forget(&entry);
        }
    }

    /// Takes `entry`'s pidfd out of the epoll set (before it is closed).
    fn forget(&self, entry: &Entry) {
        // SAFETY: both descriptors are open; DEL ignores the event argument.
        unsafe {
            libc::epoll_ctl(
                self.epoll.0,
                libc::EPOLL_CTL_DEL,
                entry.pidfd.0,
                std::ptr::null_mut(),
            )
        };
    }

    /// Stops watching (never expected: `epoll_wait` failed). Sleepers fall
    /// back to their 25 ms slices; those asleep now are woken (their peers
    /// not marked gone) to see that the watch stopped, and no segment is
    /// taken any more.
    fn stop(&self) {
        let mut entries = self.entries();
        entries.stopped = true;
        for (_, entry) in entries.map.drain() {
            self.forget(&entry);
            entry.flags.unwatched.store(true, Ordering::SeqCst);
            wake_words(&entry);
        }
    }

    /// The thread: waits for peers to exit and wakes their segments.
    fn run(&self) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 16];
        loop {
            // SAFETY: `events` is a valid buffer of 16 entries; no timeout.
            let n = unsafe { libc::epoll_wait(self.epoll.0, events.as_mut_ptr(), 16, -1) };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.stop();
                return;
            }
            let mut entries = self.entries();
            for event in &events[..n as usize] {
                let token = event.u64;
                // A pidfd is readable once its process has exited; an entry
                // deregistered meanwhile is not in the map any more.
                if let Some(entry) = entries.map.remove(&token) {
                    self.forget(&entry);
                    wake_all(&entry);
                }
            }
        }
    }
}

/// Marks the peer of `entry` gone and wakes every sleeper of its segment.
fn wake_all(entry: &Entry) {
    entry.flags.gone.store(true, Ordering::SeqCst);
    wake_words(entry);
}

/// Wakes every sleeper of `entry`'s segment. Called with the entries locked.
fn wake_words(entry: &Entry) {
    for &address in &entry.words {
        // SAFETY: the address is a sleep word in the segment's mapping,
        // which stays mapped while the registration is in the map (its drop
        // removes it under the lock held here, before the mapping goes).
        let word = unsafe { &*(address as *const AtomicU32) };
        if word.swap(crate::layout::AWAKE, Ordering::SeqCst) == crate::layout::SLEEPING {
            futex_wake(word);
        }
    }
}

impl super::DeathWatch for DeathWatch {
    /// `None` if the system has no pidfd (before Linux 5.3) or the watch
    /// thread cannot be started: sleepers then notice the death when a
    /// slice ends. Also `None` for a peer that is gone already, with `gone`
    /// set.
    fn start(pid: u32, words: Vec<*const AtomicU32>, flags: Arc<PeerFlags>) -> Option<DeathWatch> {
        let pid = libc::pid_t::try_from(pid).ok().filter(|&p| p > 0)?;
        let pidfd = match shared_pidfd(pid) {
            Ok(fd) => fd,
            Err(e) => {
                // Gone already (exited and reaped, e.g. a host killed while
                // its plugin connected): say so now. Without a watch, the
                // first sleep would only notice when its 25 ms slice ends.
                if e.raw_os_error() == Some(libc::ESRCH) {
                    flags.gone.store(true, Ordering::SeqCst);
                }
                return None;
            }
        };
        let watcher = watcher()?;
        let words = words.into_iter().map(|w| w as usize).collect();
        let token = watcher.register(pidfd, words, flags)?;
        Some(DeathWatch { watcher, token })
    }
}

impl Drop for DeathWatch {
    fn drop(&mut self) {
        self.watcher.deregister(self.token);
    }
}

#[cfg(test)]
mod tests {
    use super::super::DeathWatch as _;
    use super::*;
    use crate::layout::SLEEPING;
    use std::time::{Duration, Instant};

    const NEVER: Duration = Duration::from_secs(60);

    fn sleeper() -> std::process::Child {
        std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .expect("start a long-lived process")
    }

    fn watch_threads() -> usize {
        std::fs::read_dir("/proc/self/task")
            .expect("tasks")
            .filter_map(Result::ok)
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.trim_end() == "ipc-peer-watch")
            })
            .count()
    }

    /// Many segments share one thread; each peer's death wakes its own
    /// segment's words and only those; a dropped registration is gone.
    #[test]
    fn one_thread_watches_every_segment() {
        const N: usize = 8;
        let words: Vec<[AtomicU32; 2]> = (0..N)
            .map(|_| [AtomicU32::new(SLEEPING), AtomicU32::new(SLEEPING)])
            .collect();
        let gone: Vec<Arc<PeerFlags>> = (0..N).map(|_| Arc::default()).collect();
        let mut children: Vec<_> = (0..N).map(|_| sleeper()).collect();
        let mut watches: Vec<Option<DeathWatch>> = (0..N)
            .map(|i| {
                DeathWatch::start(
                    children[i].id(),
                    words[i].iter().map(|w| w as *const AtomicU32).collect(),
                    Arc::clone(&gone[i]),
                )
            })
            .collect();
        assert!(watches.iter().all(Option::is_some), "pidfd watches start");
        assert_eq!(watch_threads(), 1, "one watch thread for {N} segments");
        // Deregister the last one before its peer dies: it must stay asleep.
        drop(watches[N - 1].take());
        // Kill the even ones only.
        for (i, child) in children.iter_mut().enumerate() {
            if i % 2 == 0 || i == N - 1 {
                child.kill().expect("kill");
                child.wait().expect("reap");
            }
        }
        let t = Instant::now();
        for i in (0..N).step_by(2) {
            for word in &words[i] {
                while word.load(Ordering::SeqCst) == SLEEPING {
                    std::thread::sleep(Duration::from_millis(1));
                    assert!(t.elapsed() < NEVER, "segment {i} never woken");
                }
            }
            assert!(gone[i].gone.load(Ordering::SeqCst));
        }
        for i in (1..N).step_by(2) {
            assert!(
                !gone[i].gone.load(Ordering::SeqCst),
                "segment {i} marked gone"
            );
            for word in &words[i] {
                assert_eq!(word.load(Ordering::SeqCst), SLEEPING, "segment {i} woken");
            }
        }
        drop(watches);
        for child in children.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert_eq!(watch_threads(), 1, "the thread stays for the next segment");
    }

    /// A watch that stops (its thread's `epoll_wait` failing, never
    /// expected) wakes its sleepers without marking their peers gone, says
    /// that it stopped, and takes no new segment.
    #[test]
    fn a_stopped_watch_wakes_its_sleepers_and_says_so() {
        let mut child = sleeper();
        let w = Watcher::new().expect("epoll");
        let word = AtomicU32::new(SLEEPING);
        let flags = Arc::new(PeerFlags::default());
        let pidfd = shared_pidfd(child.id() as libc::pid_t).expect("pidfd");
        let address = &word as *const AtomicU32 as usize;
        w.register(Arc::clone(&pidfd), vec![address], Arc::clone(&flags))
            .expect("registered");
        w.stop();
        assert_eq!(word.load(Ordering::SeqCst), crate::layout::AWAKE);
        assert!(flags.unwatched.load(Ordering::SeqCst));
        assert!(!flags.gone.load(Ordering::SeqCst), "the peer still runs");
        assert!(w.register(pidfd, vec![], Arc::default()).is_none());
        child.kill().expect("kill");
        child.wait().expect("reap");
    }

    /// Every watch of one process shares one pidfd; a pid whose process
    /// has exited gets a fresh one.
    #[test]
    fn watches_of_one_process_share_its_pidfd() {
        let mut child = sleeper();
        let fd = |w: &PeerWatch| w.pidfd.as_ref().map(|f| f.0);
        let mut a = PeerWatch::new(child.id()).expect("a watch");
        let b = PeerWatch::new(child.id()).expect("a watch");
        assert!(fd(&a).is_some());
        assert_eq!(fd(&a), fd(&b), "two descriptors for one peer");
        let gone = Arc::new(PeerFlags::default());
        let word = AtomicU32::new(SLEEPING);
        let watch = DeathWatch::start(child.id(), vec![&word as *const AtomicU32], gone.clone())
            .expect("a death watch");
        child.kill().expect("kill");
        child.wait().expect("reap");
        assert!(!a.is_alive(), "a dead peer counts as alive");
        let t = Instant::now();
        while !gone.gone.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
            assert!(t.elapsed() < NEVER, "the death watch never fired");
        }
        drop(watch);
        // The pid of an exited process never gets its old descriptor back.
        let c = PeerWatch::new(child.id()).expect("a watch");
        assert!(
            c.gone || fd(&c) != fd(&a),
            "an exited process's pidfd reused"
        );
    }
}
