//! macOS backend: POSIX shared memory (`shm_open`, 0600, unlinked as soon
//! as the peer has attached; macOS sizes an object once and refuses to
//! resize it afterwards, so a peer cannot shrink it under us), sleeping on the shared word with `os_sync_wait_on_address` (macOS 14.4+)
//! or, on older systems, the private `__ulock` calls it is built on, and a
//! kqueue `EVFILT_PROC` watch to tell whether the peer process still runs.
//!
//! No macOS machine is reachable from CI: this file is checked by compilation
//! only (`cargo clippy --target {aarch64,x86_64}-apple-darwin`), never run.
//! Keep it small, and review every FFI signature against Apple's headers.
//!
//! Every wait-on-address entry point is resolved at run time with `dlsym`,
//! never linked directly: the binary must still start on systems older than
//! the symbol (Rust's minimum is macOS 10.12 on `x86_64`, 11.0 on arm64, and
//! rustc cannot weak-link), and `__ulock_*` are absent from some SDK stubs.

use super::posix::{check, mapped_memory, private_size, Fd, Mapped};
use super::{Backend, NoDeathWatch, SharedMemory, Slot, WaitWord, WatchPeer};
use crate::sync::{AtomicBool, AtomicU32, Ordering};
use libc::{c_int, c_void, size_t};
use std::ffi::{CStr, CString};
use std::io;
use std::sync::OnceLock;
use std::time::Duration;

/// The macOS backend. Sleepers notice a dead peer when a sleep slice ends
/// (wait-on-address cannot also wait on a process), so there is no death
/// watch.
#[derive(Debug)]
pub(crate) struct Os;

impl Backend for Os {
    type Memory = Memory;
    type Signal = Signal;
    type Peer = PeerWatch;
    type DeathWatch = NoDeathWatch;
}

/// A mapped POSIX shared-memory object `/<name>`.
#[derive(Debug)]
pub(crate) struct Memory {
    mapped: Mapped,
    name: CString,
    /// Whether the name is gone (unlinked by us or by the opener).
    withdrawn: AtomicBool,
}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(format!("/{name}")).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// On macOS the connection string is the name itself (at most 31
/// characters, macOS's limit).
pub(crate) fn is_connection_string(s: &str) -> bool {
    super::is_name(s)
}

impl SharedMemory for Memory {
    fn create(name: &str, len: usize) -> io::Result<(Self, String)> {
        let c = c_name(name)?;
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_RDWR;
        // SAFETY: `c` is a valid NUL-terminated string.
        let fd = Fd(check(unsafe {
            libc::shm_open(c.as_ptr(), flags, 0o600 as libc::c_uint)
        })?);
        let mapped = (|| {
            // SAFETY: `fd` is an open descriptor we own.
            check(unsafe { libc::fchmod(fd.0, 0o600) })?;
            let size = libc::off_t::try_from(len)
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            // SAFETY: as above.
            check(unsafe { libc::ftruncate(fd.0, size) })?;
            Mapped::new(&fd, len)
        })();
        match mapped {
            Ok(mapped) => Ok((
                Memory {
                    mapped,
                    name: c,
                    withdrawn: AtomicBool::new(false),
                },
                name.to_owned(),
            )),
            Err(e) => {
                // SAFETY: `c` is a valid NUL-terminated string; we created it.
                unsafe { libc::shm_unlink(c.as_ptr()) };
                Err(e)
            }
        }
    }

    fn open(connection: &str) -> io::Result<(Self, String)> {
        open_object(connection, false)
    }

    fn open_read_only(connection: &str) -> io::Result<(Self, String)> {
        open_object(connection, true)
    }

    mapped_memory!();

    fn withdraw(&self) -> io::Result<()> {
        if self.withdrawn.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // SAFETY: `name` is a valid NUL-terminated string.
        match check(unsafe { libc::shm_unlink(self.name.as_ptr()) }) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Opens and maps the object named by `connection`, read-only or
/// read-write, then removes its name.
fn open_object(connection: &str, read_only: bool) -> io::Result<(Memory, String)> {
    let c = c_name(connection)?;
    let access = if read_only {
        libc::O_RDONLY
    } else {
        libc::O_RDWR
    };
    // SAFETY: `c` is a valid NUL-terminated string.
    let fd = Fd(check(unsafe { libc::shm_open(c.as_ptr(), access, 0) })?);
    let len = private_size(&fd)?;
    let mapped = if read_only {
        Mapped::new_read_only(&fd, len)?
    } else {
        Mapped::new(&fd, len)?
    };
    let memory = Memory {
        mapped,
        name: c,
        withdrawn: AtomicBool::new(false),
    };
    // The name has served its purpose.
    memory.withdraw()?;
    Ok((memory, connection.to_owned()))
}

/// `<os/os_sync_wait_on_address.h>` (macOS 14.4+). `timeout_ns` is a
/// *relative* timeout in nanoseconds, measured on `clockid` (only
/// `OS_CLOCK_MACH_ABSOLUTE_TIME` is accepted); zero is `EINVAL`. (The
/// `_with_deadline` variant is the one that takes mach ticks.)
type OsSyncWaitWithTimeout = unsafe extern "C" fn(
    addr: *mut c_void,
    value: u64,
    size: size_t,
    flags: u32,
    clockid: u32,
    timeout_ns: u64,
) -> c_int;

/// `os_sync_wake_by_address_any` (macOS 14.4+).
type OsSyncWakeAny = unsafe extern "C" fn(addr: *mut c_void, size: size_t, flags: u32) -> c_int;

/// `__ulock_wait2` from xnu's `<sys/ulock.h>` (private, macOS 11+):
/// `timeout_ns` in nanoseconds, **0 means forever**; `value2` is unused by
/// the compare-and-wait operations.
type UlockWait2 = unsafe extern "C" fn(
    operation: u32,
    addr: *mut c_void,
    value: u64,
    timeout_ns: u64,
    value2: u64,
) -> c_int;

/// `__ulock_wait` (private, macOS 10.12+): `timeout_us` in **microseconds**,
/// **0 means forever**.
type UlockWait =
    unsafe extern "C" fn(operation: u32, addr: *mut c_void, value: u64, timeout_us: u32) -> c_int;

/// `__ulock_wake` (private, macOS 10.12+).
type UlockWake = unsafe extern "C" fn(operation: u32, addr: *mut c_void, wake_value: u64) -> c_int;

/// `<sys/ulock.h>`: compare-and-wait on a 32-bit word in memory that may be
/// mapped in several processes (the kernel keys it by VM object and offset,
/// as `os_sync_*` with the `SHARED` flags does; it is built on this).
const UL_COMPARE_AND_WAIT_SHARED: u32 = 3;

/// Size in bytes of the sleep word, as the wait-on-address calls want it.
const WORD_SIZE: size_t = std::mem::size_of::<u32>();

/// Longest single sleep. The caller sleeps in short slices anyway; capping
/// keeps huge `Duration`s from overflowing the kernel's deadline arithmetic
/// (an early return is allowed: the caller re-checks and sleeps again).
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// The sleeping primitive this system offers, resolved once per process.
#[derive(Debug, Clone, Copy)]
enum Primitive {
    /// The public API, macOS 14.4+.
    OsSync {
        wait: OsSyncWaitWithTimeout,
        wake: OsSyncWakeAny,
    },
    /// The private calls, with a nanosecond timeout (macOS 11+).
    Ulock2 { wait: UlockWait2, wake: UlockWake },
    /// The private calls, with a microsecond timeout (macOS 10.12+).
    Ulock { wait: UlockWait, wake: UlockWake },
}

/// Looks `name` up in every image loaded into the process.
fn symbol(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: `name` is NUL-terminated; RTLD_DEFAULT is a valid pseudo-handle
    // and dlsym has no other precondition.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

fn resolve() -> Option<Primitive> {
    if let (Some(wait), Some(wake)) = (
        symbol(c"os_sync_wait_on_address_with_timeout"),
        symbol(c"os_sync_wake_by_address_any"),
    ) {
        // SAFETY: both symbols are libSystem's functions of exactly these
        // signatures (see the type aliases); a non-null code address turned
        // into a function pointer of the right type.
        let (wait, wake) = unsafe {
            (
                std::mem::transmute::<*mut c_void, OsSyncWaitWithTimeout>(wait),
                std::mem::transmute::<*mut c_void, OsSyncWakeAny>(wake),
            )
        };
        return Some(Primitive::OsSync { wait, wake });
    }
    let wake = symbol(c"__ulock_wake")?;
    // SAFETY: as above, for xnu's `__ulock_wake`.
    let wake = unsafe { std::mem::transmute::<*mut c_void, UlockWake>(wake) };
    if let Some(wait) = symbol(c"__ulock_wait2") {
        // SAFETY: as above, for `__ulock_wait2`.
        let wait = unsafe { std::mem::transmute::<*mut c_void, UlockWait2>(wait) };
        return Some(Primitive::Ulock2 { wait, wake });
    }
    let wait = symbol(c"__ulock_wait")?;
    // SAFETY: as above, for `__ulock_wait`.
    let wait = unsafe { std::mem::transmute::<*mut c_void, UlockWait>(wait) };
    Some(Primitive::Ulock { wait, wake })
}

fn primitive() -> io::Result<Primitive> {
    static PRIMITIVE: OnceLock<Option<Primitive>> = OnceLock::new();
    PRIMITIVE.get_or_init(resolve).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "neither os_sync_wait_on_address nor __ulock_wait is available",
        )
    })
}

/// Sleeps and wakes on the shared word with the best primitive the system
/// has. Both processes of a channel run on the same system, so they pick
/// the same one (and `os_sync_*` with the `SHARED` flags is built on
/// `UL_COMPARE_AND_WAIT_SHARED` anyway).
#[derive(Debug)]
pub(crate) struct Signal {
    primitive: Primitive,
}

impl WaitWord for Signal {
    type Peer = PeerWatch;

    /// Fails with `Unsupported` only if the system has no wait-on-address
    /// primitive at all (not seen on any macOS Rust supports).
    fn create(_name: &str, _channel: usize, _slot: Slot) -> io::Result<Signal> {
        Ok(Signal {
            primitive: primitive()?,
        })
    }

    fn open(_name: &str, _channel: usize, _slot: Slot) -> io::Result<Signal> {
        Ok(Signal {
            primitive: primitive()?,
        })
    }

    /// Sleeps while `*word == expected`, at most `timeout`. Returns on a wake,
    /// a timeout, a signal (EINTR) or a spurious wake; the caller re-checks.
    ///
    /// The peer is not watched here: wait-on-address cannot also wait on a
    /// kqueue, so the caller's bounded slices notice a dead peer.
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Duration, _peer: Option<&PeerWatch>) {
        // Zero is EINVAL for os_sync and *forever* for __ulock: never pass it.
        if timeout.is_zero() {
            return;
        }
        let addr = word.as_ptr().cast::<c_void>();
        let ns = u64::try_from(timeout.min(MAX_SLEEP).as_nanos()).unwrap_or(u64::MAX);
        match self.primitive {
            // SAFETY: `addr` is a valid, 4-byte-aligned 32-bit word that stays
            // mapped (MAP_SHARED) for the call; size, flags and clock are the
            // documented ones; `ns` is non-zero. Any result is fine: the caller
            // re-checks.
            Primitive::OsSync { wait, .. } => unsafe {
                wait(
                    addr,
                    u64::from(expected),
                    WORD_SIZE,
                    libc::OS_SYNC_WAIT_ON_ADDRESS_SHARED,
                    libc::OS_CLOCK_MACH_ABSOLUTE_TIME,
                    ns,
                );
            },
            // SAFETY: as above; `ns` is non-zero, so not "forever".
            Primitive::Ulock2 { wait, .. } => unsafe {
                wait(UL_COMPARE_AND_WAIT_SHARED, addr, u64::from(expected), ns, 0);
            },
            Primitive::Ulock { wait, .. } => {
                // Round up: a sub-microsecond timeout must not become 0 (forever).
                let us = u32::try_from(ns.div_ceil(1000)).unwrap_or(u32::MAX).max(1);
                // SAFETY: as above; `us` is non-zero, so not "forever".
                unsafe {
                    wait(UL_COMPARE_AND_WAIT_SHARED, addr, u64::from(expected), us);
                }
            }
        }
    }

    /// Wakes the one endpoint that may sleep on `word`.
    fn wake(&self, word: &AtomicU32) {
        let addr = word.as_ptr().cast::<c_void>();
        match self.primitive {
            // SAFETY: `addr` is a valid, aligned 32-bit word; the flags match
            // the waiter's. ENOENT (nobody sleeps) is fine.
            Primitive::OsSync { wake, .. } => unsafe {
                wake(addr, WORD_SIZE, libc::OS_SYNC_WAKE_BY_ADDRESS_SHARED);
            },
            // SAFETY: as above; the operation matches the waiter's.
            Primitive::Ulock2 { wake, .. } | Primitive::Ulock { wake, .. } => unsafe {
                wake(UL_COMPARE_AND_WAIT_SHARED, addr, 0);
            },
        }
    }
}

/// Watches a peer process through a kqueue `EVFILT_PROC`/`NOTE_EXIT`
/// registration, polled with a zero timeout. Once registered, the watch is
/// tied to that process, not to its PID, so PID reuse cannot fool it.
///
/// Falls back to `kill(pid, 0)` (ESRCH means dead) if the registration is
/// refused for another reason than the process being gone (e.g. a sandbox).
/// That fallback has two known limits: a PID reused by a new process looks
/// alive, and so does an exited peer its parent has not yet reaped (zombie).
#[derive(Debug)]
pub(crate) struct PeerWatch {
    pid: libc::pid_t,
    kqueue: Option<c_int>,
    gone: bool,
}

const ZERO_TIMEOUT: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

impl WatchPeer for PeerWatch {
    fn new(pid: u32) -> Option<PeerWatch> {
        let pid = libc::pid_t::try_from(pid).ok().filter(|&p| p > 0)?;
        let mut watch = PeerWatch {
            pid,
            kqueue: None,
            gone: false,
        };
        // SAFETY: kqueue takes no arguments.
        let kq = unsafe { libc::kqueue() };
        if kq < 0 {
            return Some(watch);
        }
        // Kqueues are not inherited by fork; keep it out of exec'd children too.
        // SAFETY: `kq` is an open descriptor we own.
        unsafe { libc::fcntl(kq, libc::F_SETFD, libc::FD_CLOEXEC) };
        let change = libc::kevent {
            ident: pid.unsigned_abs() as libc::uintptr_t, // pid > 0
            filter: libc::EVFILT_PROC,
            flags: libc::EV_ADD | libc::EV_ONESHOT,
            fflags: libc::NOTE_EXIT,
            data: 0,
            udata: std::ptr::null_mut(),
        };
        // With no room for events, a refused change is reported as -1/errno.
        // SAFETY: one valid change, no event buffer, a valid zero timeout.
        let r = unsafe { libc::kevent(kq, &change, 1, std::ptr::null_mut(), 0, &ZERO_TIMEOUT) };
        if r == 0 {
            watch.kqueue = Some(kq);
        } else {
            // ESRCH: no such process, or already a zombie (exited).
            watch.gone = io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            // SAFETY: `kq` is ours, not stored, closed once.
            unsafe { libc::close(kq) };
        }
        Some(watch)
    }

    fn is_alive(&mut self) -> bool {
        if self.gone {
            return false;
        }
        self.gone = match self.kqueue {
            Some(kq) => {
                // SAFETY: an all-zero kevent (integers and a null pointer) is valid.
                let mut event: libc::kevent = unsafe { std::mem::zeroed() };
                // SAFETY: no changes, room for one event, a valid zero timeout.
                let n =
                    unsafe { libc::kevent(kq, std::ptr::null(), 0, &mut event, 1, &ZERO_TIMEOUT) };
                // Copy fields out of the packed struct before testing them.
                let (filter, fflags) = (event.filter, event.fflags);
                // n < 0 (EINTR): unknown, count as alive until the next check.
                n > 0 && filter == libc::EVFILT_PROC && fflags & libc::NOTE_EXIT != 0
            }
            None => super::posix::process_gone(self.pid),
        };
        !self.gone
    }
}

impl Drop for PeerWatch {
    fn drop(&mut self) {
        if let Some(kq) = self.kqueue {
            // SAFETY: the kqueue is ours and closed once.
            unsafe { libc::close(kq) };
        }
    }
}
