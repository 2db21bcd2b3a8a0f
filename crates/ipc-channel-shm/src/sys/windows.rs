//! Windows backend: a pagefile-backed named file mapping for the segment, a
//! named auto-reset event per sleep word (both processes hold a handle), and a
//! process handle to tell whether the peer still runs (and to wake a sleeper
//! the moment it dies).
//!
//! Every named object lives in the session's `Local\` namespace and carries a
//! DACL that grants access to the current user only. A name lives exactly as
//! long as some process holds a handle to the object, so nothing outlives the
//! two processes and there is nothing to unlink; instead `Mapping::open`
//! refuses a segment whose header shows that its peer has already attached.

use super::{Backend, NoDeathWatch, SharedMemory, Slot, WaitWord, WatchPeer};
use crate::layout::SegmentHeader;
use crate::sync::{AtomicU32, Ordering};
use std::io;
use std::mem::size_of;
use std::ptr;
use std::time::Duration;
use windows_sys::Win32::Foundation::{
    CloseHandle, GetLastError, ERROR_ALREADY_EXISTS, ERROR_INSUFFICIENT_BUFFER,
    ERROR_INVALID_PARAMETER, HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0,
};
use windows_sys::Win32::Security::{
    AddAccessAllowedAce, GetLengthSid, GetTokenInformation, InitializeAcl,
    InitializeSecurityDescriptor, SetSecurityDescriptorDacl, TokenUser, ACCESS_ALLOWED_ACE, ACL,
    ACL_REVISION, SECURITY_ATTRIBUTES, SECURITY_DESCRIPTOR, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::System::Memory::{
    CreateFileMappingW, MapViewOfFile, OpenFileMappingW, UnmapViewOfFile, VirtualLock,
    VirtualQuery, FILE_MAP, FILE_MAP_ALL_ACCESS, FILE_MAP_READ, FILE_MAP_WRITE,
    MEMORY_BASIC_INFORMATION, MEMORY_MAPPED_VIEW_ADDRESS, PAGE_READWRITE,
};
use windows_sys::Win32::System::Threading::{
    CreateEventW, GetCurrentProcess, OpenEventW, OpenProcess, OpenProcessToken, SetEvent,
    WaitForMultipleObjects, WaitForSingleObject, EVENT_ALL_ACCESS, EVENT_MODIFY_STATE, INFINITE,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, SYNCHRONIZATION_SYNCHRONIZE,
};

/// The Windows backend. A sleeper waits on its event and on the peer's
/// process handle together, so a dead peer wakes it at once: no death watch.
#[derive(Debug)]
pub(crate) struct Os;

impl Backend for Os {
    type Memory = Mapping;
    type Signal = Signal;
    type Peer = PeerWatch;
    type DeathWatch = NoDeathWatch;
}

/// On Windows the connection string is the segment's name.
pub(crate) fn is_connection_string(s: &str) -> bool {
    super::is_name(s)
}

/// `SECURITY_DESCRIPTOR_REVISION` (winnt.h); windows-sys files it under a
/// feature this crate does not otherwise need.
const SECURITY_DESCRIPTOR_REVISION: u32 = 1;

/// Step for touching every page. 4 KiB is the smallest page size of every
/// Windows target; a larger real page size only means some pages are touched
/// more than once.
const PAGE_STEP: usize = 4096;

/// `\0`-terminated UTF-16 for a Win32 `W` function.
fn wide(s: &str) -> io::Result<Vec<u16>> {
    if s.contains('\0') {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    Ok(s.encode_utf16().chain(Some(0)).collect())
}

/// The object name `Local\<name><suffix>`.
fn object_name(name: &str, suffix: &str) -> io::Result<Vec<u16>> {
    wide(&format!("Local\\{name}{suffix}"))
}

/// A kernel handle, closed when dropped.
#[derive(Debug)]
struct Handle(HANDLE);

// SAFETY: a kernel handle is a process-wide value usable from any thread; the
// objects used here (sections, events, processes) are thread-safe.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

impl Handle {
    /// Wraps a handle returned by a Win32 call that signals failure with NULL.
    fn checked(h: HANDLE) -> io::Result<Handle> {
        if h.is_null() {
            Err(io::Error::last_os_error())
        } else {
            Ok(Handle(h))
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle is owned by this guard and closed once.
        unsafe { CloseHandle(self.0) };
    }
}

/// A security descriptor whose DACL grants `access` to the current user and
/// to nobody else. The buffers it points into live inside this value.
struct OwnerOnly {
    descriptor: Box<SECURITY_DESCRIPTOR>,
    /// Backing store of the DACL (`u32` for the alignment an ACL needs).
    _acl: Vec<u32>,
}

impl OwnerOnly {
    fn new(access: u32) -> io::Result<OwnerOnly> {
        let mut token = ptr::null_mut();
        // SAFETY: the pseudo handle of the current process needs no closing;
        // `token` is a valid out-pointer.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let token = Handle(token);
        let mut needed = 0u32;
        // SAFETY: a size query: no buffer, valid out-pointer for the size.
        let ok =
            unsafe { GetTokenInformation(token.0, TokenUser, ptr::null_mut(), 0, &mut needed) };
        // SAFETY: GetLastError has no preconditions.
        if ok == 0 && unsafe { GetLastError() } != ERROR_INSUFFICIENT_BUFFER {
            return Err(io::Error::last_os_error());
        }
        // `u64` storage: TOKEN_USER starts with a pointer.
        let mut user = vec![0u64; (needed as usize).div_ceil(8).max(1)];
        let len = u32::try_from(user.len() * 8)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        // SAFETY: `user` is a writable, aligned buffer of `len` bytes.
        if unsafe {
            GetTokenInformation(
                token.0,
                TokenUser,
                user.as_mut_ptr().cast(),
                len,
                &mut needed,
            )
        } == 0
        {
            return Err(io::Error::last_os_error());
        }
        if (needed as usize) < size_of::<TOKEN_USER>() {
            return Err(io::Error::from(io::ErrorKind::InvalidData));
        }
        // SAFETY: the call filled in a TOKEN_USER at the start of the buffer;
        // its SID points into the same buffer, which outlives this use.
        let sid = unsafe { (*user.as_ptr().cast::<TOKEN_USER>()).User.Sid };
        // SAFETY: `sid` is the valid SID the token returned.
        let sid_len = unsafe { GetLengthSid(sid) } as usize;
        let acl_len =
            size_of::<ACL>() + size_of::<ACCESS_ALLOWED_ACE>() - size_of::<u32>() + sid_len;
        let mut acl = vec![0u32; acl_len.div_ceil(4)];
        let acl_bytes = u32::try_from(acl.len() * 4)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        let acl_ptr = acl.as_mut_ptr().cast::<ACL>();
        // SAFETY: `acl_ptr` points to `acl_bytes` writable, 4-aligned bytes,
        // room for the header and one ACE holding `sid` (which is copied).
        let ok = unsafe {
            InitializeAcl(acl_ptr, acl_bytes, ACL_REVISION) != 0
                && AddAccessAllowedAce(acl_ptr, ACL_REVISION, access, sid) != 0
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: SECURITY_DESCRIPTOR is plain data; all zeroes is a valid
        // value that the next call overwrites.
        let mut descriptor: Box<SECURITY_DESCRIPTOR> = Box::new(unsafe { std::mem::zeroed() });
        let sd = ptr::from_mut(&mut *descriptor).cast();
        // SAFETY: `sd` is a SECURITY_DESCRIPTOR-sized buffer (the absolute
        // format); the DACL it records lives in `acl`, kept in `self`.
        let ok = unsafe {
            InitializeSecurityDescriptor(sd, SECURITY_DESCRIPTOR_REVISION) != 0
                && SetSecurityDescriptorDacl(sd, 1, acl_ptr, 0) != 0
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnerOnly {
            descriptor,
            _acl: acl,
        })
    }

    /// Attributes for a `Create*W` call; valid while `self` lives.
    fn attributes(&mut self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: ptr::from_mut(&mut *self.descriptor).cast(),
            bInheritHandle: 0,
        }
    }
}

/// A mapped view of a named, pagefile-backed file mapping.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: *mut u8,
    len: usize,
    _section: Handle,
}

// SAFETY: the mapping is plain memory; all access to it goes through atomics
// or raw-pointer copies whose synchronisation the channel protocol provides.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl SharedMemory for Mapping {
    /// Creates the mapping `Local\<name>` of `len` bytes, exclusively (an
    /// existing object of that name is `AlreadyExists`), for this user only,
    /// maps it and faults every page in. A section cannot be resized once
    /// created, so a peer cannot shrink it under us.
    fn create(name: &str, len: usize) -> io::Result<(Mapping, String)> {
        let wname = object_name(name, "")?;
        let size = u64::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        if len == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let mut security = OwnerOnly::new(FILE_MAP_ALL_ACCESS)?;
        let sa = security.attributes();
        // SAFETY: `sa` and the descriptor it points to are valid for the call;
        // `wname` is NUL-terminated. INVALID_HANDLE_VALUE asks for a
        // pagefile-backed section.
        let h = unsafe {
            CreateFileMappingW(
                INVALID_HANDLE_VALUE,
                &sa,
                PAGE_READWRITE,
                (size >> 32) as u32,
                size as u32,
                wname.as_ptr(),
            )
        };
        // SAFETY: GetLastError has no preconditions; read straight after the
        // call, before anything else can change it.
        let existed = unsafe { GetLastError() } == ERROR_ALREADY_EXISTS;
        let section = Handle::checked(h)?;
        if existed {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "shared segment name already in use",
            ));
        }
        let ptr = map_view(&section)?;
        let mapping = Mapping {
            ptr,
            len,
            _section: section,
        };
        for off in (0..len).step_by(PAGE_STEP) {
            // SAFETY: `off < len`, inside our view of a fresh, zeroed section
            // whose header is not written yet; storing the zero it holds
            // faults the page in for real (a read might map a shared zero
            // page).
            unsafe { ptr::write_volatile(ptr.add(off), 0) };
        }
        Ok((mapping, name.to_owned()))
    }

    /// Opens and maps `Local\<name>`. The length is the `segment_size` the
    /// creator recorded in the header, accepted only if it fits inside the
    /// mapped region (whose size Windows rounds to whole pages); the caller
    /// validates the rest of the header. (A segment that a peer has already
    /// opened is refused by `Segment::open`, which stands in for the POSIX
    /// unlink here.)
    fn open(name: &str) -> io::Result<(Mapping, String)> {
        open_mapping(name, FILE_MAP_READ | FILE_MAP_WRITE)
    }

    /// Like `open`, with a view that only reads.
    fn open_read_only(name: &str) -> io::Result<(Mapping, String)> {
        open_mapping(name, FILE_MAP_READ)
    }

    fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Nothing to do: a Windows object name exists exactly as long as some
    /// process holds a handle to the object, so the segment's name
    /// disappears with the last handle of either side and a crash leaves
    /// nothing behind. Until then the name stays visible; `Segment::open`
    /// stands in for the removal by refusing a segment whose header shows
    /// an attached peer, and the DACL keeps other users out.
    fn withdraw(&self) -> io::Result<()> {
        Ok(())
    }

    /// Pins the pages in memory (they are already faulted in). This fails when
    /// the process's minimum working set is too small; the caller logs that.
    fn lock_range(&self, offset: usize, len: usize) -> io::Result<()> {
        if offset.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: the range lies inside our view (checked above).
        if unsafe { VirtualLock(self.ptr.add(offset).cast_const().cast(), len) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Opens `Local\<name>` and maps it with `access` (its length as `open`
/// says).
fn open_mapping(name: &str, access: FILE_MAP) -> io::Result<(Mapping, String)> {
    let wname = object_name(name, "")?;
    // SAFETY: `wname` is NUL-terminated.
    let h = unsafe { OpenFileMappingW(access, 0, wname.as_ptr()) };
    let section = Handle::checked(h)?;
    let ptr = map_view_with(&section, access)?;
    // From here on, dropping `mapping` unmaps the view.
    let mut mapping = Mapping {
        ptr,
        len: 0,
        _section: section,
    };
    // SAFETY: an all-zero MEMORY_BASIC_INFORMATION is a valid value.
    let mut info: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: `ptr` is the base of our view; `info` is a valid out-buffer
    // of the size passed.
    let n = unsafe {
        VirtualQuery(
            ptr.cast_const().cast(),
            &mut info,
            size_of::<MEMORY_BASIC_INFORMATION>(),
        )
    };
    if n == 0 {
        return Err(io::Error::last_os_error());
    }
    let region = info.RegionSize;
    if region < size_of::<SegmentHeader>() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "shared segment is smaller than its header",
        ));
    }
    // SAFETY: the view is at least one header long (checked above) and
    // page-aligned; every field is an atomic, valid for any bit pattern
    // (the peer may be writing them).
    let header = unsafe { &*ptr.cast::<SegmentHeader>() };
    // The exact length is what the creator recorded, if the mapping holds
    // that much. Otherwise the whole region: then `segment_size` differs
    // from the length and header validation reports the corruption.
    let len = match usize::try_from(header.segment_size.load(Ordering::Relaxed)) {
        Ok(len) if (size_of::<SegmentHeader>()..=region).contains(&len) => len,
        _ => region,
    };
    mapping.len = len;
    for off in (0..len).step_by(PAGE_STEP) {
        // SAFETY: `off < len <= region`, inside the view; the read faults
        // the page in.
        unsafe { ptr::read_volatile(ptr.add(off)) };
    }
    Ok((mapping, name.to_owned()))
}

/// Maps the whole of `section` read-write.
fn map_view(section: &Handle) -> io::Result<*mut u8> {
    map_view_with(section, FILE_MAP_READ | FILE_MAP_WRITE)
}

/// Maps the whole of `section` with `access`.
fn map_view_with(section: &Handle, access: FILE_MAP) -> io::Result<*mut u8> {
    // SAFETY: `section` is an open section handle; a length of 0 maps all of
    // it at an address the system chooses.
    let view = unsafe { MapViewOfFile(section.0, access, 0, 0, 0) };
    if view.Value.is_null() {
        return Err(io::Error::last_os_error());
    }
    Ok(view.Value.cast())
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` is the base of the view we mapped, unmapped once; the
        // section handle is closed afterwards by its own drop.
        unsafe {
            UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS {
                Value: self.ptr.cast(),
            })
        };
    }
}

/// The name suffix of the event of `channel`'s `slot`.
fn event_suffix(channel: usize, slot: Slot) -> String {
    let s = match slot {
        Slot::Reader => 'r',
        Slot::Writer => 'w',
    };
    format!("-{channel}{s}")
}

/// A named auto-reset event that partners one sleep word. Both processes hold
/// a handle; `wake` sets it, `wait` sleeps on it. The event remembers a wake
/// that comes before the sleep, so none is lost between the waiter's check of
/// the word and its sleep.
#[derive(Debug)]
pub(crate) struct Signal {
    event: Handle,
}

impl WaitWord for Signal {
    type Peer = PeerWatch;

    /// Creates the event `Local\<name>-<channel>{r,w}` exclusively, for this
    /// user only.
    fn create(name: &str, channel: usize, slot: Slot) -> io::Result<Signal> {
        let wname = object_name(name, &event_suffix(channel, slot))?;
        let mut security = OwnerOnly::new(EVENT_ALL_ACCESS)?;
        let sa = security.attributes();
        // SAFETY: `sa` and its descriptor are valid for the call; `wname` is
        // NUL-terminated. Auto-reset, initially not signalled.
        let h = unsafe { CreateEventW(&sa, 0, 0, wname.as_ptr()) };
        // SAFETY: GetLastError has no preconditions; read straight after.
        let existed = unsafe { GetLastError() } == ERROR_ALREADY_EXISTS;
        let event = Handle::checked(h)?;
        if existed {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "event name already in use",
            ));
        }
        Ok(Signal { event })
    }

    /// Opens the event made by [`Signal::create`] in the peer process.
    fn open(name: &str, channel: usize, slot: Slot) -> io::Result<Signal> {
        let wname = object_name(name, &event_suffix(channel, slot))?;
        // SAFETY: `wname` is NUL-terminated.
        let h = unsafe {
            OpenEventW(
                EVENT_MODIFY_STATE | SYNCHRONIZATION_SYNCHRONIZE,
                0,
                wname.as_ptr(),
            )
        };
        Ok(Signal {
            event: Handle::checked(h)?,
        })
    }

    /// Sleeps while `*word == expected`, at most `timeout` (rounded up to
    /// whole milliseconds), or until `peer`'s process ends. Returns on a wake,
    /// a timeout, the peer's death or a failure; the caller re-checks.
    fn wait(&self, word: &AtomicU32, expected: u32, timeout: Duration, peer: Option<&PeerWatch>) {
        if word.load(Ordering::SeqCst) != expected {
            return;
        }
        let ms = u32::try_from(timeout.as_nanos().div_ceil(1_000_000))
            .unwrap_or(u32::MAX)
            .min(INFINITE - 1);
        let mut handles = [self.event.0, ptr::null_mut()];
        let mut count = 1;
        if let Some(process) = peer.and_then(|p| p.process.as_ref()) {
            handles[1] = process.0;
            count = 2;
        }
        // SAFETY: the first `count` entries are open handles that live for
        // the call. Any result is fine: the caller re-checks.
        unsafe { WaitForMultipleObjects(count, handles.as_ptr(), 0, ms) };
    }

    /// Wakes the one endpoint that may sleep on this event. The caller has
    /// changed the word first.
    fn wake(&self, _word: &AtomicU32) {
        // SAFETY: the event handle is open. A failure cannot be acted upon
        // here; the sleeper's bounded wait then notices the word changed.
        unsafe { SetEvent(self.event.0) };
    }
}

/// Watches a peer process through a handle to it. The handle keeps the
/// process object (and so its id) from being reused while we hold it, and it
/// becomes signalled when the process ends, which also wakes a sleeper.
#[derive(Debug)]
pub(crate) struct PeerWatch {
    /// `None` when the process was already gone when the watch was made.
    process: Option<Handle>,
}

impl WatchPeer for PeerWatch {
    /// A watch on process `pid`; `None` if its state cannot be observed
    /// (access denied, say), in which case the peer counts as alive.
    fn new(pid: u32) -> Option<PeerWatch> {
        if pid == 0 {
            return None;
        }
        // SAFETY: OpenProcess takes plain values.
        let h = unsafe {
            OpenProcess(
                PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
                0,
                pid,
            )
        };
        if !h.is_null() {
            return Some(PeerWatch {
                process: Some(Handle(h)),
            });
        }
        // SAFETY: GetLastError has no preconditions.
        match unsafe { GetLastError() } {
            // What OpenProcess reports for an id that names no process.
            ERROR_INVALID_PARAMETER => Some(PeerWatch { process: None }),
            _ => None,
        }
    }

    fn is_alive(&mut self) -> bool {
        match &self.process {
            Some(h) => {
                // SAFETY: the process handle is open; a zero timeout only polls.
                let state = unsafe { WaitForSingleObject(h.0, 0) };
                state != WAIT_OBJECT_0
            }
            None => false,
        }
    }

    /// `wait` waits on the process handle too, which is signalled when the
    /// process ends.
    fn wakes_sleeper(&self) -> bool {
        self.process.is_some()
    }
}

#[cfg(test)]
mod tests {
    //! What only the Windows backend does; the conformance suite covers the
    //! rest.
    use super::*;

    #[test]
    fn create_is_exclusive_and_open_sees_the_recorded_size() {
        let name = super::super::random_name().unwrap();
        let len = 3 * 4096 + 128;
        let (a, _) = Mapping::create(&name, len).unwrap();
        assert_eq!(a.len(), len);
        let again = Mapping::create(&name, len).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        // No header yet: the recorded size (0) is refused, the whole region
        // (whole pages) is reported, so header validation will fail.
        let (b, _) = Mapping::open(&name).unwrap();
        assert!(b.len() >= len && b.len() % 4096 == 0, "{}", b.len());
        drop(b);
        // SAFETY: offset 16 is inside the mapping and 8-aligned; only this
        // test uses it.
        unsafe { ptr::write_volatile(a.as_ptr().add(16).cast::<u64>(), len as u64) };
        let (c, _) = Mapping::open(&name).unwrap();
        assert_eq!(c.len(), len);
        drop((a, c));
        // The last handle is gone, and the name with it.
        assert_eq!(
            Mapping::open(&name).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn events_are_exclusive_and_a_missing_one_is_not_found() {
        let name = super::super::random_name().unwrap();
        let _a = Signal::create(&name, 3, Slot::Reader).unwrap();
        assert_eq!(
            Signal::create(&name, 3, Slot::Reader).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            Signal::open(&name, 3, Slot::Writer).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn a_process_that_never_existed_is_not_alive() {
        // An id that never names a process: Windows ids are multiples of 4.
        let mut nobody = PeerWatch::new(0xffff_fff1).unwrap();
        assert!(!nobody.is_alive());
    }

    #[test]
    fn names_with_nul_are_refused() {
        assert_eq!(
            Mapping::create("a\0b", 4096).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(
            Mapping::create("ok", 0).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
