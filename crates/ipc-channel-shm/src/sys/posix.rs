//! POSIX shared memory (`shm_open` + `mmap`), shared by the Linux and macOS
//! backends. Only the sleeping primitive differs between those two.

use std::ffi::CString;
use std::io;

/// A mapped, named POSIX shared-memory object.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory; all access to it goes through atomics
// or raw-pointer copies whose synchronisation the channel protocol provides.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(format!("/{name}")).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Closes a file descriptor when dropped.
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this guard and closed once.
        unsafe { libc::close(self.0) };
    }
}

impl Mapping {
    /// Creates `name` exclusively with mode 0600, sizes it to `len` bytes and
    /// maps it. On failure nothing is left in the namespace.
    pub(crate) fn create(name: &str, len: usize) -> io::Result<Mapping> {
        let c = c_name(name)?;
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_RDWR;
        // SAFETY: `c` is a valid NUL-terminated string.
        let fd = Fd(check(unsafe {
            libc::shm_open(c.as_ptr(), flags, 0o600 as libc::c_uint)
        })?);
        let result = (|| {
            // SAFETY: `fd` is an open descriptor we own.
            check(unsafe { libc::fchmod(fd.0, 0o600) })?;
            let size = libc::off_t::try_from(len)
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            // SAFETY: as above.
            check(unsafe { libc::ftruncate(fd.0, size) })?;
            map(&fd, len)
        })();
        if result.is_err() {
            // SAFETY: `c` is a valid NUL-terminated string; we created it.
            unsafe { libc::shm_unlink(c.as_ptr()) };
        }
        result
    }

    /// Opens and maps an existing object made by [`Mapping::create`]. Refuses
    /// one that another user owns or that others may access.
    pub(crate) fn open(name: &str) -> io::Result<Mapping> {
        let c = c_name(name)?;
        // SAFETY: `c` is a valid NUL-terminated string.
        let fd = Fd(check(unsafe {
            libc::shm_open(c.as_ptr(), libc::O_RDWR, 0)
        })?);
        // SAFETY: an all-zero `stat` is a valid value to be overwritten.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is open and `st` is a valid out-pointer.
        check(unsafe { libc::fstat(fd.0, &mut st) })?;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if st.st_uid != me || (st.st_mode as u32) & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "shared segment is not private to this user",
            ));
        }
        let len =
            usize::try_from(st.st_size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "shared segment is empty",
            ));
        }
        map(&fd, len)
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Pins the pages in memory (they are already faulted in by `map`).
    pub(crate) fn lock(&self) -> io::Result<()> {
        // SAFETY: the range is exactly our mapping.
        check(unsafe { libc::mlock(self.ptr.cast(), self.len) }).map(drop)
    }
}

fn map(fd: &Fd, len: usize) -> io::Result<Mapping> {
    #[cfg(target_os = "linux")]
    let flags = libc::MAP_SHARED | libc::MAP_POPULATE;
    #[cfg(not(target_os = "linux"))]
    let flags = libc::MAP_SHARED;
    // SAFETY: a fresh mapping chosen by the kernel; `fd` is open.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            fd.0,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let ptr = ptr.cast::<u8>();
    #[cfg(not(target_os = "linux"))]
    for off in (0..len).step_by(4096) {
        // SAFETY: `off < len`, inside the mapping; the read faults the page in.
        unsafe { std::ptr::read_volatile(ptr.add(off)) };
    }
    Ok(Mapping { ptr, len })
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: this is our mapping, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Removes `name` from the namespace. Mappings stay valid until unmapped.
pub(crate) fn unlink(name: &str) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: `c` is a valid NUL-terminated string.
    check(unsafe { libc::shm_unlink(c.as_ptr()) }).map(drop)
}

/// Whether process `pid` no longer exists (`kill(pid, 0)` fails with
/// `ESRCH`): the fallback peer check where no process descriptor is at hand.
/// Subject to PID reuse, which is why the callers prefer a pidfd or kqueue.
pub(crate) fn process_gone(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks for existence; no memory is passed.
    let r = unsafe { libc::kill(pid, 0) };
    r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}
