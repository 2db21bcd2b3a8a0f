//! The boundary between C and the crates: the result codes, the one macro
//! every exported function runs its body in (panics caught, pointers
//! checked before anything is touched), handle conversions, timeouts, and
//! the thread's last error text. Nothing here decides behaviour: that is
//! the crates'.

use ipc_link::{ErrorKind, LinkError, Waited};
use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CStr};
use std::fmt::Write as _;
use std::time::Duration;

/// The result of every fallible call: `IPC_OK` (0), an error kind of the
/// link layer (1 to 99, the numbers of `ipc_link::ErrorKind`, stable), or an
/// error of the C interface itself (100 and up). Numbers are never reused.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ipc_result {
    /// Success.
    IPC_OK = 0,
    /// The peer closed the link or channel.
    IPC_CLOSED = 1,
    /// The peer process died without closing.
    IPC_PEER_DIED = 2,
    /// A wait ended before what it waited for came.
    IPC_TIMEOUT = 3,
    /// The peer wrote impossible values into shared memory.
    IPC_CORRUPTED = 4,
    /// The peer's messages cannot be followed any more.
    IPC_FRAMING = 5,
    /// A message was larger than the receiver's limit (it was skipped).
    IPC_TOO_LARGE = 6,
    /// A payload did not decode (it was skipped).
    IPC_MALFORMED = 7,
    /// A message of another type (ID) came than the one expected.
    IPC_UNEXPECTED_ID = 8,
    /// A value could not be encoded (nothing was sent).
    IPC_ENCODE = 9,
    /// The two sides do not speak the same protocol.
    IPC_HANDSHAKE = 10,
    /// The plugin process could not be started.
    IPC_SPAWN = 11,
    /// The plugin process exited before it connected.
    IPC_PLUGIN_EXITED = 12,
    /// A request came that no handler takes.
    IPC_NO_HANDLER = 13,
    /// A handler is already registered for this ID.
    IPC_HANDLER_EXISTS = 14,
    /// A handler failed while handling a message (in Rust: it panicked).
    IPC_HANDLER_PANICKED = 15,
    /// The peer answered the request with an error.
    IPC_REMOTE = 16,
    /// A handler rejected the request (the cause of an `IPC_REMOTE`).
    IPC_REJECTED = 17,
    /// An argument is out of range.
    IPC_INVALID_ARGUMENT = 18,
    /// An endpoint or segment was claimed already.
    IPC_ALREADY_CLAIMED = 19,
    /// The shared memory has another layout version.
    IPC_VERSION_MISMATCH = 20,
    /// The operating system refused.
    IPC_OS = 21,
    /// A pointer argument was NULL.
    IPC_NULL_ARGUMENT = 100,
    /// The library failed inside (a bug); the call had no effect that can
    /// be relied upon. It never unwinds into the caller.
    IPC_PANIC = 101,
    /// A buffer the caller passed is too small (the needed size is in the
    /// length out-parameter).
    IPC_BUFFER_TOO_SMALL = 102,
    /// A string argument is not UTF-8.
    IPC_INVALID_UTF8 = 103,
    /// The object was taken already (a real-time end, once).
    IPC_TAKEN = 104,
    /// A decoder reached the end of its payload.
    IPC_END = 105,
}

impl ipc_result {
    /// Every code, in number order.
    pub const ALL: &'static [ipc_result] = &[
        ipc_result::IPC_OK,
        ipc_result::IPC_CLOSED,
        ipc_result::IPC_PEER_DIED,
        ipc_result::IPC_TIMEOUT,
        ipc_result::IPC_CORRUPTED,
        ipc_result::IPC_FRAMING,
        ipc_result::IPC_TOO_LARGE,
        ipc_result::IPC_MALFORMED,
        ipc_result::IPC_UNEXPECTED_ID,
        ipc_result::IPC_ENCODE,
        ipc_result::IPC_HANDSHAKE,
        ipc_result::IPC_SPAWN,
        ipc_result::IPC_PLUGIN_EXITED,
        ipc_result::IPC_NO_HANDLER,
        ipc_result::IPC_HANDLER_EXISTS,
        ipc_result::IPC_HANDLER_PANICKED,
        ipc_result::IPC_REMOTE,
        ipc_result::IPC_REJECTED,
        ipc_result::IPC_INVALID_ARGUMENT,
        ipc_result::IPC_ALREADY_CLAIMED,
        ipc_result::IPC_VERSION_MISMATCH,
        ipc_result::IPC_OS,
        ipc_result::IPC_NULL_ARGUMENT,
        ipc_result::IPC_PANIC,
        ipc_result::IPC_BUFFER_TOO_SMALL,
        ipc_result::IPC_INVALID_UTF8,
        ipc_result::IPC_TAKEN,
        ipc_result::IPC_END,
    ];

    /// The code with this number.
    pub fn from_u32(code: u32) -> Option<ipc_result> {
        Self::ALL.iter().copied().find(|r| *r as u32 == code)
    }

    /// The fixed text of the code, NUL-terminated.
    pub fn text(self) -> &'static CStr {
        match self {
            ipc_result::IPC_OK => c"ok",
            ipc_result::IPC_NULL_ARGUMENT => c"a pointer argument is NULL",
            ipc_result::IPC_PANIC => c"the library failed inside (a bug)",
            ipc_result::IPC_BUFFER_TOO_SMALL => c"the buffer is too small",
            ipc_result::IPC_INVALID_UTF8 => c"a string argument is not UTF-8",
            ipc_result::IPC_TAKEN => c"taken already",
            ipc_result::IPC_END => c"the end of the payload",
            ipc_result::IPC_CLOSED => c"the peer closed the link",
            ipc_result::IPC_PEER_DIED => c"the peer process died",
            ipc_result::IPC_TIMEOUT => c"timed out",
            ipc_result::IPC_CORRUPTED => c"the peer corrupted the shared memory",
            ipc_result::IPC_FRAMING => c"lost the message framing",
            ipc_result::IPC_TOO_LARGE => c"message larger than the limit",
            ipc_result::IPC_MALFORMED => c"malformed message",
            ipc_result::IPC_UNEXPECTED_ID => c"a message of another type came",
            ipc_result::IPC_ENCODE => c"the value cannot be encoded",
            ipc_result::IPC_HANDSHAKE => c"handshake failed",
            ipc_result::IPC_SPAWN => c"cannot start the plugin",
            ipc_result::IPC_PLUGIN_EXITED => c"the plugin exited before connecting",
            ipc_result::IPC_NO_HANDLER => c"no handler for the message",
            ipc_result::IPC_HANDLER_EXISTS => c"a handler is already registered for this message",
            ipc_result::IPC_HANDLER_PANICKED => c"the handler failed",
            ipc_result::IPC_REMOTE => c"the peer answered with an error",
            ipc_result::IPC_REJECTED => c"the handler rejected the request",
            ipc_result::IPC_INVALID_ARGUMENT => c"invalid argument",
            ipc_result::IPC_ALREADY_CLAIMED => c"already claimed",
            ipc_result::IPC_VERSION_MISMATCH => c"shared memory of another layout version",
            ipc_result::IPC_OS => c"the operating system refused",
        }
    }
}

impl From<ErrorKind> for ipc_result {
    fn from(kind: ErrorKind) -> ipc_result {
        match kind {
            ErrorKind::Closed => ipc_result::IPC_CLOSED,
            ErrorKind::PeerDied => ipc_result::IPC_PEER_DIED,
            ErrorKind::Timeout => ipc_result::IPC_TIMEOUT,
            ErrorKind::Corrupted => ipc_result::IPC_CORRUPTED,
            ErrorKind::Framing => ipc_result::IPC_FRAMING,
            ErrorKind::TooLarge => ipc_result::IPC_TOO_LARGE,
            ErrorKind::Malformed => ipc_result::IPC_MALFORMED,
            ErrorKind::UnexpectedId => ipc_result::IPC_UNEXPECTED_ID,
            ErrorKind::Encode => ipc_result::IPC_ENCODE,
            ErrorKind::Handshake => ipc_result::IPC_HANDSHAKE,
            ErrorKind::Spawn => ipc_result::IPC_SPAWN,
            ErrorKind::PluginExited => ipc_result::IPC_PLUGIN_EXITED,
            ErrorKind::NoHandler => ipc_result::IPC_NO_HANDLER,
            ErrorKind::HandlerExists => ipc_result::IPC_HANDLER_EXISTS,
            ErrorKind::HandlerPanicked => ipc_result::IPC_HANDLER_PANICKED,
            ErrorKind::Remote => ipc_result::IPC_REMOTE,
            ErrorKind::Rejected => ipc_result::IPC_REJECTED,
            ErrorKind::InvalidArgument => ipc_result::IPC_INVALID_ARGUMENT,
            ErrorKind::AlreadyClaimed => ipc_result::IPC_ALREADY_CLAIMED,
            ErrorKind::VersionMismatch => ipc_result::IPC_VERSION_MISMATCH,
            ErrorKind::Os => ipc_result::IPC_OS,
            _ => ipc_result::IPC_OS,
        }
    }
}

/// What an exported function's arguments are checked for: a NULL pointer
/// or a NULL function pointer.
pub(crate) trait Nullable {
    fn is_null_argument(&self) -> bool;
}

impl<T: ?Sized> Nullable for *const T {
    fn is_null_argument(&self) -> bool {
        self.is_null()
    }
}

impl<T: ?Sized> Nullable for *mut T {
    fn is_null_argument(&self) -> bool {
        self.is_null()
    }
}

impl<F> Nullable for Option<F> {
    fn is_null_argument(&self) -> bool {
        self.is_none()
    }
}

/// The body of every exported function: runs it with panics caught (a panic
/// becomes `IPC_PANIC` and never unwinds into C), after checking, before
/// anything else, that none of the named pointer arguments is NULL (so a
/// NULL argument is `IPC_NULL_ARGUMENT` whatever the other arguments hold).
/// A failure the body returned without recording it (a code returned as it
/// is) is recorded with the code's text, so that `ipc_last_error` always
/// describes the last failure, never an older one.
macro_rules! boundary {
    (non_null($($arg:ident),* $(,)?) $body:block) => {{
        $(
            if $crate::boundary::Nullable::is_null_argument(&$arg) {
                return $crate::boundary::fail($crate::boundary::ipc_result::IPC_NULL_ARGUMENT);
            }
        )*
        let recorded = $crate::boundary::failures();
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> $crate::boundary::ipc_result { $body },
        )) {
            Ok($crate::boundary::ipc_result::IPC_OK) => $crate::boundary::ipc_result::IPC_OK,
            Ok(code) if $crate::boundary::failures() == recorded => $crate::boundary::fail(code),
            Ok(code) => code,
            Err(_) => $crate::boundary::record_panic(),
        }
    }};
}
pub(crate) use boundary;

/// The body of a function that returns nothing (`_free`): NULL is a no-op,
/// panics are caught.
macro_rules! boundary_void {
    (non_null($arg:ident) $body:block) => {{
        if $arg.is_null() {
            return;
        }
        let _ = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body));
    }};
}
pub(crate) use boundary_void;

/// Evaluates a `Result`; an error returns its code from the function (and
/// becomes the thread's last error).
macro_rules! try_ipc {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return $crate::boundary::fail(e),
        }
    };
}
pub(crate) use try_ipc;

thread_local! {
    /// The last error's description on this thread (a fixed buffer: failing
    /// calls on an audio thread allocate nothing).
    static LAST_ERROR: RefCell<([u8; 512], usize)> = const { RefCell::new(([0; 512], 0)) };
    /// How many failures this thread recorded (so that a call knows whether
    /// it recorded its own).
    static FAILURES: Cell<u64> = const { Cell::new(0) };
}

/// How many failures this thread has recorded so far.
pub(crate) fn failures() -> u64 {
    FAILURES.with(Cell::get)
}

/// Writes into a fixed buffer, dropping what does not fit.
struct Fixed<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl std::fmt::Write for Fixed<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.buf.len() - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Records `error` as this thread's last error and returns its code.
pub(crate) fn fail(error: impl Into<CError>) -> ipc_result {
    let CError(code, error) = error.into();
    FAILURES.with(|n| n.set(n.get().wrapping_add(1)));
    LAST_ERROR.with(|last| {
        let mut last = last.borrow_mut();
        let (buf, len) = &mut *last;
        let mut out = Fixed { buf, len: 0 };
        match &error {
            Some(e) => {
                let _ = write!(out, "{e}");
            }
            None => {
                let _ = out.write_str(code.text().to_str().unwrap_or(""));
            }
        }
        *len = out.len;
    });
    code
}

/// A panic inside the library, caught at the boundary.
pub(crate) fn record_panic() -> ipc_result {
    fail(CError(ipc_result::IPC_PANIC, None))
}

/// An error on its way to C: its code and, where it has one, the error.
pub(crate) struct CError(pub(crate) ipc_result, pub(crate) Option<LinkError>);

impl From<LinkError> for CError {
    fn from(e: LinkError) -> CError {
        CError(e.kind().into(), Some(e))
    }
}

impl From<ipc_channel_shm::Error> for CError {
    fn from(e: ipc_channel_shm::Error) -> CError {
        LinkError::from_channel(e, Waited::Message).into()
    }
}

impl From<ipc_msgpack::Error> for CError {
    fn from(e: ipc_msgpack::Error) -> CError {
        LinkError::from_message(e, Waited::Message).into()
    }
}

impl From<ipc_result> for CError {
    fn from(code: ipc_result) -> CError {
        CError(code, None)
    }
}

/// Copies the calling thread's last error description (UTF-8, not
/// NUL-terminated) into `buf`, at most `capacity` bytes; its full length
/// goes to `len_out`. Only failing calls set it; it describes the last one
/// on this thread.
///
/// Thread-safe (per thread); real-time safe.
///
/// # Errors
/// `IPC_BUFFER_TOO_SMALL` if it was cut (`len_out` has the full length).
///
/// # Safety
/// `buf` points to `capacity` writable bytes; `len_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_last_error(
    buf: *mut u8,
    capacity: usize,
    len_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(buf, len_out) {
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            let (text, len) = (&last.0, last.1);
            let n = len.min(capacity);
            // SAFETY: the caller gives `capacity` writable bytes at `buf`;
            // `n <= capacity`; the regions do not overlap (ours is a
            // thread-local of this library).
            unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), buf, n) };
            // SAFETY: `len_out` is writable (checked non-NULL above).
            unsafe { len_out.write(len) };
            if n < len {
                // Counted as recorded, so that the boundary keeps the text:
                // it is what the caller is asking for.
                FAILURES.with(|n| n.set(n.get().wrapping_add(1)));
                ipc_result::IPC_BUFFER_TOO_SMALL
            } else {
                ipc_result::IPC_OK
            }
        })
    })
}

/// The fixed description of a result code (a static, NUL-terminated
/// string; "unknown result code" for a number that is none).
///
/// Thread-safe; real-time safe.
#[no_mangle]
pub extern "C" fn ipc_result_str(result: u32) -> *const c_char {
    match ipc_result::from_u32(result) {
        Some(r) => r.text().as_ptr(),
        None => c"unknown result code".as_ptr(),
    }
}

/// Wait forever: as a `timeout_ns` argument.
pub const IPC_FOREVER: u64 = u64::MAX;

/// A `timeout_ns` argument as a deadline: `IPC_FOREVER` waits as long as it
/// takes, 0 never waits, anything else waits at most that many nanoseconds.
pub(crate) fn deadline(timeout_ns: u64) -> ipc_channel_shm::Deadline {
    match timeout_ns {
        IPC_FOREVER => ipc_channel_shm::Deadline::never(),
        0 => ipc_channel_shm::Deadline::now(),
        ns => ipc_channel_shm::Deadline::after(Duration::from_nanos(ns)),
    }
}

/// A `*_ns` duration argument (`IPC_FOREVER` is no bound at all).
pub(crate) fn duration(ns: u64) -> Option<Duration> {
    (ns != IPC_FOREVER).then(|| Duration::from_nanos(ns))
}

/// A bounded duration argument: `IPC_FOREVER` becomes a very long one.
pub(crate) fn bounded(ns: u64) -> Duration {
    duration(ns).unwrap_or(Duration::from_secs(100 * 365 * 86_400))
}

/// A string argument.
///
/// # Safety
/// `s` is a valid NUL-terminated string that lives for `'a`.
pub(crate) unsafe fn c_str<'a>(s: *const c_char) -> Result<&'a str, ipc_result> {
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(s) }
        .to_str()
        .map_err(|_| ipc_result::IPC_INVALID_UTF8)
}

/// Writes `value` to an out-parameter (only on success).
///
/// # Safety
/// `out` is valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) -> ipc_result {
    // SAFETY: the caller's contract.
    unsafe { out.write(value) };
    ipc_result::IPC_OK
}

/// A C handle type standing for a Rust value: `Box`-owned when the C side
/// owns it (`_new`/`_free`), borrowed otherwise.
///
/// # Safety
/// `Self` is an opaque, zero-sized `#[repr(C)]` struct that exists only
/// behind pointers made by these functions.
pub(crate) unsafe trait Handle: Sized {
    type Rust;

    fn own(value: Self::Rust) -> *mut Self {
        Box::into_raw(Box::new(value)).cast()
    }

    fn lend(value: &Self::Rust) -> *const Self {
        (value as *const Self::Rust).cast()
    }

    /// # Safety
    /// `p` came from [`own`](Handle::own) or [`lend`](Handle::lend) and the
    /// value lives for `'a`.
    unsafe fn get<'a>(p: *const Self) -> &'a Self::Rust {
        // SAFETY: the caller's contract.
        unsafe { &*p.cast::<Self::Rust>() }
    }

    /// # Safety
    /// `p` came from [`own`](Handle::own) (or lends a value mutably), the
    /// value lives for `'a`, and nothing else uses it meanwhile.
    unsafe fn get_mut<'a>(p: *mut Self) -> &'a mut Self::Rust {
        // SAFETY: the caller's contract.
        unsafe { &mut *p.cast::<Self::Rust>() }
    }

    /// # Safety
    /// `p` came from [`own`](Handle::own) and is not used afterwards.
    unsafe fn take(p: *mut Self) -> Self::Rust {
        // SAFETY: the caller's contract.
        *unsafe { Box::from_raw(p.cast::<Self::Rust>()) }
    }
}

/// Ties opaque C handle types (declared as plain structs, so that
/// cbindgen sees them) to the Rust types they stand for.
macro_rules! handles {
    ($($c:ident => $rust:ty;)*) => {$(
        // SAFETY: a zero-sized opaque struct, only ever behind pointers
        // made by `Handle`.
        unsafe impl $crate::boundary::Handle for $c {
            type Rust = $rust;
        }

        impl ::std::fmt::Debug for $c {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(stringify!($c))
            }
        }
    )*};
}
pub(crate) use handles;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_name_a_text_and_the_link_layers_number() {
        let mut seen = std::collections::HashSet::new();
        for &r in ipc_result::ALL {
            assert!(seen.insert(r as u32), "{r:?} reuses a number");
            assert!(!r.text().to_bytes().is_empty());
            assert_eq!(ipc_result::from_u32(r as u32), Some(r));
            // SAFETY: a static NUL-terminated string.
            let text = unsafe { CStr::from_ptr(ipc_result_str(r as u32)) };
            assert_eq!(text, r.text());
        }
        for &kind in ErrorKind::ALL {
            assert_eq!(ipc_result::from(kind) as u32, kind.code(), "{kind:?}");
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(ipc_result_str(9999)) };
        assert_eq!(unknown, c"unknown result code");
    }

    #[test]
    fn a_panic_never_crosses_the_boundary() {
        fn panics() -> ipc_result {
            let p: *const u8 = &0;
            boundary!(non_null(p) {
                panic!("inside");
            })
        }
        assert_eq!(panics(), ipc_result::IPC_PANIC);
        let mut buf = [0u8; 64];
        let mut len = 0;
        // SAFETY: a buffer of 64 bytes and a writable length.
        let r = unsafe { ipc_last_error(buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(r, ipc_result::IPC_OK);
        assert_eq!(&buf[..len], ipc_result::IPC_PANIC.text().to_bytes());
    }

    #[test]
    fn the_last_error_is_cut_to_the_buffer_and_says_so() {
        fail(LinkError::InvalidArgument(
            "a rather long reason for a small buffer",
        ));
        let mut buf = [0u8; 8];
        let mut len = 0;
        // SAFETY: as above.
        let r = unsafe { ipc_last_error(buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(r, ipc_result::IPC_BUFFER_TOO_SMALL);
        assert!(len > 8);
        assert_eq!(&buf, b"invalid ");
    }

    #[test]
    fn a_failure_returned_without_its_text_replaces_an_older_text() {
        fail(LinkError::InvalidArgument("an older failure"));
        let p: *const u8 = std::ptr::null();
        let code = (|| boundary!(non_null(p) { ipc_result::IPC_OK }))();
        assert_eq!(code, ipc_result::IPC_NULL_ARGUMENT);
        let mut buf = [0u8; 64];
        let mut len = 0;
        // SAFETY: a buffer of 64 bytes and a writable length.
        unsafe { ipc_last_error(buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(&buf[..len], ipc_result::IPC_NULL_ARGUMENT.text().to_bytes());
        let q: *const u8 = &0;
        let code = (|| boundary!(non_null(q) { ipc_result::IPC_TAKEN }))();
        assert_eq!(code, ipc_result::IPC_TAKEN);
        // SAFETY: as above.
        unsafe { ipc_last_error(buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(&buf[..len], ipc_result::IPC_TAKEN.text().to_bytes());
        // Asking with too small a buffer keeps the text it asks for.
        let mut small = [0u8; 2];
        // SAFETY: a buffer of 2 bytes and a writable length.
        let r = unsafe { ipc_last_error(small.as_mut_ptr(), small.len(), &mut len) };
        assert_eq!(r, ipc_result::IPC_BUFFER_TOO_SMALL);
        // SAFETY: as above.
        unsafe { ipc_last_error(buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(&buf[..len], ipc_result::IPC_TAKEN.text().to_bytes());
    }

    #[test]
    fn timeouts_map_to_deadlines() {
        assert!(!deadline(IPC_FOREVER).is_set());
        assert!(deadline(0).is_now());
        assert_eq!(deadline(5).timeout(), Some(Duration::from_nanos(5)));
        assert_eq!(duration(IPC_FOREVER), None);
    }
}
