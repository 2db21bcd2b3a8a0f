//! Linux: `sched_setaffinity`, `PR_SET_PDEATHSIG`, a `memfd` mapping with
//! shared (not private) futex words, and Unix stream sockets.

use super::Woken;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The CPUs this process may run on.
pub fn available_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: an all-zero cpu_set_t is the empty set, a valid value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid out-pointer of the size passed.
    check(unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) })?;
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `cpu < max`, inside the set; CPU_ISSET only reads it.
    Ok((0..max)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Restricts the calling thread (and the children it spawns later) to `cpu`.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "CPU number out of range",
        ));
    }
    // SAFETY: an all-zero cpu_set_t is the empty set, a valid value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is inside the set (checked above).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    check(unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) })
        .map(drop)
}

/// Has the kernel kill this process when its parent dies, and fails if the
/// parent (`parent`, its pid) is already gone.
pub fn exit_with_parent(parent: u32) -> io::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number; no memory is passed.
    check(unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    })?;
    if !parent_alive(parent) {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the parent process is already gone",
        ));
    }
    Ok(())
}

/// Whether the process that started us (pid `parent`) is still our parent.
pub fn parent_alive(parent: u32) -> bool {
    // SAFETY: getppid has no preconditions.
    let ppid = unsafe { libc::getppid() };
    u32::try_from(ppid) == Ok(parent)
}

/// Sleeps while `*word == expected`, at most `timeout` (FUTEX_WAIT, shared
/// between processes).
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) -> io::Result<Woken> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a valid, aligned 32-bit word for the whole call; the
    // relative timeout is a valid timespec.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
        )
    };
    if r == 0 {
        return Ok(Woken::Maybe);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ETIMEDOUT) => Ok(Woken::TimedOut),
        Some(libc::EAGAIN | libc::EINTR) => Ok(Woken::Maybe),
        _ => Err(e),
    }
}

/// Wakes one process sleeping on `word` (FUTEX_WAKE, shared).
pub fn futex_wake(word: &AtomicU32) -> io::Result<()> {
    // SAFETY: `word` is a valid, aligned 32-bit word; waking has no other
    // precondition.
    let r = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A descriptor made inheritable for the next child spawned; it is
/// close-on-exec again when this guard drops. Spawn while it lives.
#[derive(Debug)]
pub struct Inherited<'a> {
    fd: BorrowedFd<'a>,
}

impl Inherited<'_> {
    fn new(fd: BorrowedFd<'_>) -> io::Result<Inherited<'_>> {
        set_cloexec(fd.as_raw_fd(), false)?;
        Ok(Inherited { fd })
    }

    /// The argument that names the descriptor to the child.
    pub fn arg(&self) -> String {
        self.fd.as_raw_fd().to_string()
    }
}

impl Drop for Inherited<'_> {
    fn drop(&mut self) {
        let _ = set_cloexec(self.fd.as_raw_fd(), true);
    }
}

fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: F_GETFD on a descriptor we hold (borrowed by the caller).
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    let flags = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above, F_SETFD with valid flags.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, flags) }).map(drop)
}

/// Takes ownership of the descriptor a parent passed as `arg`.
fn inherited_fd(arg: &str) -> io::Result<OwnedFd> {
    let fd: RawFd = arg.parse().ok().filter(|&fd| fd > 2).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not an inherited descriptor: {arg:?}"),
        )
    })?;
    // SAFETY: F_GETFD only checks that the descriptor is open.
    check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    set_cloexec(fd, true)?;
    // SAFETY: the parent made this descriptor for us alone and nothing else in
    // this process refers to it, so we may own (and close) it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A page of memory shared with a child process (a `memfd`, mapped shared
/// and pre-faulted), accessed only through atomics and bounded copies.
#[derive(Debug)]
pub struct SharedPage {
    ptr: NonNull<u8>,
    len: usize,
    fd: OwnedFd,
}

impl SharedPage {
    /// Creates a zeroed shared mapping of `len` bytes.
    pub fn create(len: usize) -> io::Result<SharedPage> {
        // SAFETY: a valid NUL-terminated name and flags.
        let fd = check(unsafe { libc::memfd_create(c"ipc-bench".as_ptr(), libc::MFD_CLOEXEC) })?;
        // SAFETY: memfd_create just returned this descriptor, which nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let size =
            libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `fd` is an open memfd.
        check(unsafe { libc::ftruncate(fd.as_raw_fd(), size) })?;
        SharedPage::map(fd, len)
    }

    /// Maps the page a parent created and passed as `arg` (see
    /// [`inheritable`](SharedPage::inheritable)).
    pub fn open_inherited(arg: &str) -> io::Result<SharedPage> {
        let fd = inherited_fd(arg)?;
        // SAFETY: an all-zero `stat` is a valid value to be overwritten.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is open and `st` a valid out-pointer.
        check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
        let len =
            usize::try_from(st.st_size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        SharedPage::map(fd, len)
    }

    fn map(fd: OwnedFd, len: usize) -> io::Result<SharedPage> {
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "empty shared page",
            ));
        }
        // SAFETY: a fresh mapping placed by the kernel over an open descriptor.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::from(io::ErrorKind::Other))?;
        Ok(SharedPage { ptr, len, fd })
    }

    /// Makes the page inheritable by the next child spawned.
    pub fn inheritable(&self) -> io::Result<Inherited<'_>> {
        Inherited::new(self.fd.as_fd())
    }

    /// The 32-bit word at byte `offset`.
    ///
    /// # Panics
    /// If `offset` is unaligned or out of the page.
    pub fn word(&self, offset: usize) -> &AtomicU32 {
        assert!(
            offset % 4 == 0 && offset + 4 <= self.len,
            "word outside the shared page"
        );
        // SAFETY: aligned, inside the mapping, which lives as long as `self`;
        // an AtomicU32 is valid for any bit pattern the peer may write.
        unsafe { &*self.ptr.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// Copies `src` into the page at byte `offset`.
    ///
    /// # Panics
    /// If the range is out of the page.
    pub fn write(&self, offset: usize, src: &[u8]) {
        let dst = self.range(offset, src.len());
        // SAFETY: `range` checked that the bytes are inside the mapping; the
        // protocol of the caller (release/acquire on a word) keeps the peer
        // off them.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
    }

    /// Copies bytes of the page at `offset` into `dst`.
    ///
    /// # Panics
    /// If the range is out of the page.
    pub fn read(&self, offset: usize, dst: &mut [u8]) {
        let src = self.range(offset, dst.len());
        // SAFETY: as in `write`, with source and destination swapped.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) };
    }

    /// The address of the `len` bytes at `offset`.
    ///
    /// # Panics
    /// If they are not all inside the page.
    fn range(&self, offset: usize, len: usize) -> *mut u8 {
        assert!(
            offset.checked_add(len).is_some_and(|end| end <= self.len),
            "access outside the shared page"
        );
        // SAFETY: `offset <= self.len` (checked), so the result is inside the
        // mapping or one past its end.
        unsafe { self.ptr.as_ptr().add(offset) }
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// One end of a connected Unix stream socket.
#[derive(Debug)]
pub struct Socket(UnixStream);

impl Socket {
    /// A connected pair (`socketpair(AF_UNIX, SOCK_STREAM)`), default buffer sizes.
    pub fn pair() -> io::Result<(Socket, Socket)> {
        let (a, b) = UnixStream::pair()?;
        Ok((Socket(a), Socket(b)))
    }

    /// The end a parent passed as `arg` (see [`inheritable`](Socket::inheritable)).
    pub fn open_inherited(arg: &str) -> io::Result<Socket> {
        Ok(Socket(UnixStream::from(inherited_fd(arg)?)))
    }

    /// Makes this end inheritable by the next child spawned.
    pub fn inheritable(&self) -> io::Result<Inherited<'_>> {
        Inherited::new(self.0.as_fd())
    }

    /// Bounds every blocking read (`None`: no bound).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(timeout)
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
