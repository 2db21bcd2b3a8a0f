//! What the Linux and macOS backends share: mapping a descriptor, owning
//! descriptors, checking ownership, and the `kill(pid, 0)` fallback.

use std::io;

/// A shared, read-write mapping of a whole object, unmapped when dropped.
#[derive(Debug)]
pub(crate) struct Mapped {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory; all access to it goes through atomics
// or raw-pointer copies whose synchronisation the channel protocol provides.
unsafe impl Send for Mapped {}
// SAFETY: as above.
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Maps `len` bytes of `fd` shared and read-write, and faults every page
    /// in (`MAP_POPULATE` where the system has it, a read of each page
    /// otherwise).
    pub(crate) fn new(fd: &Fd, len: usize) -> io::Result<Mapped> {
        Self::with_protection(fd, len, libc::PROT_READ | libc::PROT_WRITE)
    }

    /// Like [`new`](Mapped::new), mapped read-only: a write through it
    /// faults (`fd` may be opened read-only).
    pub(crate) fn new_read_only(fd: &Fd, len: usize) -> io::Result<Mapped> {
        Self::with_protection(fd, len, libc::PROT_READ)
    }

    fn with_protection(fd: &Fd, len: usize, protection: libc::c_int) -> io::Result<Mapped> {
        #[cfg(target_os = "linux")]
        let flags = libc::MAP_SHARED | libc::MAP_POPULATE;
        #[cfg(not(target_os = "linux"))]
        let flags = libc::MAP_SHARED;
        // SAFETY: a fresh mapping chosen by the kernel; `fd` is open.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, protection, flags, fd.0, 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = ptr.cast::<u8>();
        #[cfg(not(target_os = "linux"))]
        for off in (0..len).step_by(4096) {
            // SAFETY: `off < len`, inside the mapping; the read faults the page in.
            unsafe { std::ptr::read_volatile(ptr.add(off)) };
        }
        Ok(Mapped { ptr, len })
    }

    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Pins the pages holding `offset..offset + len` in memory (they are
    /// already faulted in).
    pub(crate) fn lock_range(&self, offset: usize, len: usize) -> io::Result<()> {
        if offset.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: the range lies inside our mapping (checked above).
        check(unsafe { libc::mlock(self.ptr.add(offset).cast(), len) }).map(drop)
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: this is our mapping, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// The `SharedMemory` methods a backend over a [`Mapped`] field `mapped`
/// delegates to it.
macro_rules! mapped_memory {
    () => {
        fn as_ptr(&self) -> *mut u8 {
            self.mapped.as_ptr()
        }

        fn len(&self) -> usize {
            self.mapped.len()
        }

        fn lock_range(&self, offset: usize, len: usize) -> io::Result<()> {
            self.mapped.lock_range(offset, len)
        }
    };
}
pub(crate) use mapped_memory;

/// An owned file descriptor, closed when dropped.
#[derive(Debug)]
pub(crate) struct Fd(pub(crate) libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this guard and closed once.
        unsafe { libc::close(self.0) };
    }
}

/// `ret` as a result: negative values are the thread's `errno`.
pub(crate) fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The size of the object behind `fd`, refusing one that another user owns
/// or that group or others may access, and an empty one.
pub(crate) fn private_size(fd: &Fd) -> io::Result<usize> {
    // SAFETY: an all-zero `stat` is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is a valid out-pointer.
    check(unsafe { libc::fstat(fd.0, &mut st) })?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if st.st_uid != me || (st.st_mode as u32) & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "shared memory is not private to this user",
        ));
    }
    let len =
        usize::try_from(st.st_size).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    if len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "shared memory is empty",
        ));
    }
    Ok(len)
}

/// Whether process `pid` no longer exists (`kill(pid, 0)` fails with
/// `ESRCH`): the fallback peer check where no process descriptor is at hand.
/// Subject to PID reuse, which is why the callers prefer a pidfd or kqueue.
pub(crate) fn process_gone(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks for existence; no memory is passed.
    let r = unsafe { libc::kill(pid, 0) };
    r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}
