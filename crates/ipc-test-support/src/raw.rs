//! A segment's shared memory mapped a second time, from its connection
//! string, without the library: what a hostile peer gets to scribble on.
//! Linux opens the creator's memfd through `/proc/<pid>/fd/<fd>`, macOS the
//! POSIX shared-memory name, Windows the named mapping `Local\<name>`.
//!
//! Byte offsets are those of `docs/PROTOCOL.md`.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

/// Size of the segment header, after which the channel table starts.
pub const SEGMENT_HEADER: usize = 128;
/// Size of one channel-table entry (`offset`, `capacity`: two `u64`s).
pub const TABLE_ENTRY: usize = 16;
/// Size of a channel's control block, after which its ring starts.
pub const CONTROL_BLOCK: usize = 640;

/// A read-write mapping of a segment (or region), unmapped when dropped.
#[derive(Debug)]
pub struct SegmentMemory {
    ptr: *mut u8,
    len: usize,
    #[cfg(windows)]
    section: windows_sys::Win32::Foundation::HANDLE,
}

impl SegmentMemory {
    /// Maps the memory named by `connection` (a
    /// `Segment::connection_string`), as long as its creator has not
    /// withdrawn it.
    ///
    /// # Errors
    /// `InvalidInput` for a string that names nothing this system's backend
    /// makes; the system's error if the memory cannot be opened or mapped.
    pub fn open(connection: &str) -> io::Result<SegmentMemory> {
        imp::open(connection)
    }

    /// The shared-memory object itself, opened read-write as `open` opens
    /// it (Linux: the creator's memfd through `/proc`; macOS: the POSIX
    /// name), for a peer that tries to resize it.
    ///
    /// # Errors
    /// As for [`open`](SegmentMemory::open).
    #[cfg(unix)]
    pub fn open_file(connection: &str) -> io::Result<std::fs::File> {
        imp::file(connection)
    }

    /// Mapped bytes (on Windows, whole pages: possibly more than the
    /// segment).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a mapping holds at least one page.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn word(&self, offset: usize) -> &AtomicU64 {
        assert!(
            offset % 8 == 0 && offset.checked_add(8).is_some_and(|end| end <= self.len),
            "offset {offset} is not an aligned u64 inside {} bytes",
            self.len
        );
        // SAFETY: the eight bytes at `offset` lie inside the mapping (checked
        // above), which lives as long as `self`, and are 8-aligned (the
        // mapping is page-aligned). Every process touches this memory only
        // through atomics, and an `AtomicU64` is valid for any bits.
        unsafe { AtomicU64::from_ptr(self.ptr.add(offset).cast::<u64>()) }
    }

    /// The `u64` at byte `offset`.
    ///
    /// # Panics
    /// If `offset` is not 8-aligned or the word is not inside the mapping.
    pub fn read_u64(&self, offset: usize) -> u64 {
        self.word(offset).load(Ordering::SeqCst)
    }

    /// Stores `value` at byte `offset`, whatever the peer is doing.
    ///
    /// # Panics
    /// As for [`read_u64`](SegmentMemory::read_u64).
    pub fn write_u64(&self, offset: usize, value: u64) {
        self.word(offset).store(value, Ordering::SeqCst);
    }

    /// Where channel `channel`'s control block starts, as the channel table
    /// says (the peer may have changed that too).
    ///
    /// # Errors
    /// `InvalidData` if the table entry points outside the mapping.
    pub fn control_block(&self, channel: usize) -> io::Result<usize> {
        let entry = SEGMENT_HEADER + TABLE_ENTRY * channel;
        if entry + 8 > self.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "channel table entry outside the mapping",
            ));
        }
        usize::try_from(self.read_u64(entry))
            .ok()
            .filter(|&off| {
                off % 8 == 0
                    && off
                        .checked_add(CONTROL_BLOCK)
                        .is_some_and(|e| e <= self.len)
            })
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "channel table entry out of range",
                )
            })
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

#[cfg(unix)]
mod imp {
    use super::{invalid, SegmentMemory};
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;

    /// `/proc/<creator pid>/fd/<fd>` of a connection string
    /// `ipc-<20 characters>-<creator pid>-<fd>`.
    #[cfg(target_os = "linux")]
    pub(super) fn file(connection: &str) -> io::Result<File> {
        let (name, rest) = connection
            .split_at_checked(24)
            .ok_or_else(|| invalid("connection string too short"))?;
        let (pid, fd) = rest
            .strip_prefix('-')
            .and_then(|r| r.split_once('-'))
            .ok_or_else(|| invalid("no <pid>-<fd> after the name"))?;
        let number = |s: &str| s.parse::<u32>().map_err(|_| invalid("not a number"));
        if !name.starts_with("ipc-") {
            return Err(invalid("not an ipc segment name"));
        }
        let (pid, fd) = (number(pid)?, number(fd)?);
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!("/proc/{pid}/fd/{fd}"))
    }

    /// The POSIX shared-memory object `/<connection>`.
    #[cfg(not(target_os = "linux"))]
    pub(super) fn file(connection: &str) -> io::Result<File> {
        use std::os::fd::FromRawFd;
        if !connection.starts_with("ipc-")
            || !connection
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid("not an ipc segment name"));
        }
        let name = std::ffi::CString::new(format!("/{connection}")).expect("no NUL");
        // SAFETY: `name` is a valid NUL-terminated string; no mode is needed
        // without O_CREAT.
        let fd = unsafe { libc::shm_open(name.as_ptr(), libc::O_RDWR, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a descriptor we just opened and nobody else owns.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    pub(super) fn open(connection: &str) -> io::Result<SegmentMemory> {
        let file = file(connection)?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| invalid("segment larger than the address space"))?;
        if len == 0 {
            return Err(invalid("empty shared memory"));
        }
        // SAFETY: a fresh shared mapping of the whole object, at an address
        // the kernel chooses; `file` is open for reading and writing. The
        // mapping outlives the descriptor, which is closed when `file` drops.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SegmentMemory {
            ptr: ptr.cast(),
            len,
        })
    }

    impl Drop for SegmentMemory {
        fn drop(&mut self) {
            // SAFETY: our own mapping of `len` bytes, unmapped once.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }
}

#[cfg(windows)]
mod imp {
    use super::{invalid, SegmentMemory};
    use std::io;
    use std::mem::size_of;
    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::Memory::{
        MapViewOfFile, OpenFileMappingW, UnmapViewOfFile, VirtualQuery, FILE_MAP_READ,
        FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION, MEMORY_MAPPED_VIEW_ADDRESS,
    };

    pub(super) fn open(connection: &str) -> io::Result<SegmentMemory> {
        if !connection.starts_with("ipc-")
            || !connection
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid("not an ipc segment name"));
        }
        let name: Vec<u16> = format!("Local\\{connection}")
            .encode_utf16()
            .chain(Some(0))
            .collect();
        // SAFETY: `name` is NUL-terminated UTF-16.
        let section = unsafe { OpenFileMappingW(FILE_MAP_READ | FILE_MAP_WRITE, 0, name.as_ptr()) };
        if section.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `section` is an open section handle; a length of 0 maps all
        // of it at an address the system chooses.
        let view = unsafe { MapViewOfFile(section, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0) };
        if view.Value.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: our handle, closed once.
            unsafe { CloseHandle(section) };
            return Err(e);
        }
        // From here on, dropping `memory` unmaps the view and closes the
        // handle.
        let mut memory = SegmentMemory {
            ptr: view.Value.cast(),
            len: 0,
            section,
        };
        // SAFETY: an all-zero MEMORY_BASIC_INFORMATION is a valid value.
        let mut info: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: the base of our view, and a valid out-buffer of the size
        // passed.
        let n = unsafe {
            VirtualQuery(
                memory.ptr.cast_const().cast(),
                &mut info,
                size_of::<MEMORY_BASIC_INFORMATION>(),
            )
        };
        if n == 0 {
            return Err(io::Error::last_os_error());
        }
        memory.len = info.RegionSize;
        Ok(memory)
    }

    impl Drop for SegmentMemory {
        fn drop(&mut self) {
            // SAFETY: the base of the view we mapped, unmapped once, then our
            // section handle, closed once.
            unsafe {
                UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
                    Value: self.ptr.cast(),
                });
                CloseHandle(self.section);
            }
        }
    }
}
