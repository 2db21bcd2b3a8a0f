//! Layer I in C: segments of one-way byte channels, their writers and
//! readers (copying and zero-copy), timeouts, spin and statistics.

use crate::boundary::{
    boundary, boundary_void, c_str, handles, ipc_result, try_ipc, write_out, Handle,
};
use ipc_channel_shm::{Reader, Segment, Writer};
use std::ffi::c_char;

mod endpoint;
pub use endpoint::*;

/// A shared segment of channels (a handle: free it with
/// `ipc_segment_free`; writers and readers keep the memory alive).
pub struct ipc_segment {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

/// The writing end of a channel, owned by one thread at a time.
pub struct ipc_writer {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

/// The reading end of a channel, owned by one thread at a time.
pub struct ipc_reader {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

handles! {
    ipc_segment => Segment;
    ipc_writer => Writer;
    ipc_reader => Reader;
}

/// What one endpoint has done since it was made.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ipc_stats {
    /// Wake-ups sent to the peer (each one system call).
    pub signals: u64,
    /// Times the endpoint had to wait for its peer.
    pub waits: u64,
    /// Waits the bounded spin ended without sleeping.
    pub spin_hits: u64,
    /// Times it slept in the kernel.
    pub sleeps: u64,
    /// Blobs the writer published (0 for a reader).
    pub commits: u64,
    /// Bytes written or read.
    pub bytes: u64,
}

impl From<ipc_channel_shm::Stats> for ipc_stats {
    fn from(s: ipc_channel_shm::Stats) -> ipc_stats {
        ipc_stats {
            signals: s.signals,
            waits: s.waits,
            spin_hits: s.spin_hits,
            sleeps: s.sleeps,
            commits: s.commits,
            bytes: s.bytes,
        }
    }
}

/// Creates a segment in the system's shared memory with `count` channels of
/// `capacities[i]` bytes each (powers of two, 64 bytes to 1 GiB; 1 to 64
/// channels). Pass its connection string (`ipc_segment_connection_string`)
/// to the peer process, which opens it with `ipc_segment_open`.
///
/// Thread-safe. Not real-time safe (maps and locks memory).
///
/// # Safety
/// `capacities` points to `count` values; `segment_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_segment_create(
    capacities: *const usize,
    count: usize,
    segment_out: *mut *mut ipc_segment,
) -> ipc_result {
    boundary!(non_null(capacities, segment_out) {
        // SAFETY: the caller gives `count` values at `capacities`.
        let capacities = unsafe { std::slice::from_raw_parts(capacities, count) };
        let segment = try_ipc!(Segment::create(capacities));
        // SAFETY: `segment_out` is writable.
        unsafe { write_out(segment_out, ipc_segment::own(segment)) }
    })
}

/// Opens the segment named by `connection` (made by `ipc_segment_create`
/// in another process) and checks all its headers.
///
/// Thread-safe. Not real-time safe.
///
/// # Safety
/// `connection` is a NUL-terminated string; `segment_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_segment_open(
    connection: *const c_char,
    segment_out: *mut *mut ipc_segment,
) -> ipc_result {
    boundary!(non_null(connection, segment_out) {
        // SAFETY: a NUL-terminated string.
        let connection = try_ipc!(unsafe { c_str(connection) });
        let segment = try_ipc!(Segment::open(connection));
        // SAFETY: `segment_out` is writable.
        unsafe { write_out(segment_out, ipc_segment::own(segment)) }
    })
}

/// Frees a segment handle (NULL: nothing). Endpoints made from it stay
/// valid; the memory goes when the last of them does.
///
/// Thread-safe. Not real-time safe.
///
/// # Safety
/// `segment` came from `ipc_segment_create`/`ipc_segment_open` and is not
/// used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ipc_segment_free(segment: *mut ipc_segment) {
    boundary_void!(non_null(segment) {
        // SAFETY: the caller's contract.
        drop(unsafe { ipc_segment::take(segment) });
    })
}

/// Copies the connection string of a segment this process created (ASCII,
/// safe on a command line and in an environment variable) into `buf`.
///
/// Thread-safe. Real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` if the segment has none.
///
/// # Safety
/// `segment` is valid; `buf` points to `capacity` writable bytes, into
/// which the string and its NUL are copied (`IPC_BUFFER_TOO_SMALL`
/// otherwise); `len_out` is writable and gets the string's length without
/// the NUL (also when the buffer is too small: the length needed).
#[no_mangle]
pub unsafe extern "C" fn ipc_segment_connection_string(
    segment: *const ipc_segment,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(segment, buf, len_out) {
        // SAFETY: a valid segment.
        let segment = unsafe { ipc_segment::get(segment) };
        let Some(conn) = segment.connection_string() else {
            return ipc_result::IPC_INVALID_ARGUMENT;
        };
        // SAFETY: the caller's buffer and length.
        unsafe { copy_string(conn, buf, capacity, len_out) }
    })
}

/// Copies `s` and a NUL into `buf` if they fit; `len_out` gets `s.len()`.
///
/// # Safety
/// `buf` has `capacity` writable bytes; `len_out` is writable.
pub(crate) unsafe fn copy_string(
    s: &str,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> ipc_result {
    // SAFETY: `len_out` is writable.
    unsafe { len_out.write(s.len()) };
    if s.len() >= capacity {
        return ipc_result::IPC_BUFFER_TOO_SMALL;
    }
    // SAFETY: `s.len() + 1 <= capacity` bytes at `buf` are writable.
    unsafe {
        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), s.len());
        buf.add(s.len()).write(0);
    }
    ipc_result::IPC_OK
}

/// Claims the writing end of `channel`.
///
/// Thread-safe. Not real-time safe (allocates the endpoint).
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` for a channel out of range, `IPC_ALREADY_CLAIMED`.
///
/// # Safety
/// `segment` is valid; `writer_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_segment_writer(
    segment: *const ipc_segment,
    channel: usize,
    writer_out: *mut *mut ipc_writer,
) -> ipc_result {
    boundary!(non_null(segment, writer_out) {
        // SAFETY: a valid segment.
        let writer = try_ipc!(unsafe { ipc_segment::get(segment) }.writer(channel));
        // SAFETY: `writer_out` is writable.
        unsafe { write_out(writer_out, ipc_writer::own(writer)) }
    })
}

/// Claims the reading end of `channel`.
///
/// Thread-safe. Not real-time safe (allocates the endpoint).
///
/// # Errors
/// As for `ipc_segment_writer`.
///
/// # Safety
/// `segment` is valid; `reader_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_segment_reader(
    segment: *const ipc_segment,
    channel: usize,
    reader_out: *mut *mut ipc_reader,
) -> ipc_result {
    boundary!(non_null(segment, reader_out) {
        // SAFETY: a valid segment.
        let reader = try_ipc!(unsafe { ipc_segment::get(segment) }.reader(channel));
        // SAFETY: `reader_out` is writable.
        unsafe { write_out(reader_out, ipc_reader::own(reader)) }
    })
}

/// Closes this process's ends of `channel` from any thread, while they may
/// be in use on others: a reader drains what was committed, then gets
/// `IPC_CLOSED` (a sleeping one wakes); a writer gets `IPC_CLOSED`; the
/// peer sees the channel closed.
///
/// Thread-safe. Real-time safe.
///
/// # Safety
/// `segment` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_segment_close(
    segment: *const ipc_segment,
    channel: usize,
) -> ipc_result {
    boundary!(non_null(segment) {
        // SAFETY: a valid segment.
        try_ipc!(unsafe { ipc_segment::get(segment) }.close(channel));
        ipc_result::IPC_OK
    })
}

/// Starts watching the peer process now (Linux: a thread that wakes this
/// process's sleepers the moment it dies) and, on the creating side, makes
/// the segment impossible to open from now on. Call it once the peer has
/// opened the segment, from a thread that may allocate. `watching_out`
/// says whether a watch runs.
///
/// Thread-safe. Not real-time safe.
///
/// # Safety
/// `segment` is valid; `watching_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_segment_watch_peer(
    segment: *const ipc_segment,
    watching_out: *mut bool,
) -> ipc_result {
    boundary!(non_null(segment, watching_out) {
        // SAFETY: a valid segment.
        let watching = unsafe { ipc_segment::get(segment) }.watch_peer();
        // SAFETY: writable.
        unsafe { write_out(watching_out, watching) }
    })
}
