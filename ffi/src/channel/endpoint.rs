//! Layer I in C, the endpoints: writing (copying and zero-copy), reading
//! (copying and zero-copy), closing, spin and statistics.

use super::{ipc_reader, ipc_stats, ipc_writer};
use crate::boundary::{boundary, boundary_void, deadline, ipc_result, try_ipc, write_out, Handle};
use std::time::Duration;

/// Frees a writer (NULL: nothing): publishes what was written and closes
/// the channel; the reader drains it, then sees the end.
///
/// Not thread-safe with other calls on the same writer. Real-time safe.
///
/// # Safety
/// `writer` came from `ipc_segment_writer` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ipc_writer_free(writer: *mut ipc_writer) {
    boundary_void!(non_null(writer) {
        // SAFETY: the caller's contract.
        drop(unsafe { ipc_writer::take(writer) });
    })
}

/// Frees a reader (NULL: nothing): the writer then gets `IPC_CLOSED`.
///
/// Not thread-safe with other calls on the same reader. Real-time safe.
///
/// # Safety
/// `reader` came from `ipc_segment_reader` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ipc_reader_free(reader: *mut ipc_reader) {
    boundary_void!(non_null(reader) {
        // SAFETY: the caller's contract.
        drop(unsafe { ipc_reader::take(reader) });
    })
}

/// Appends `len` bytes to the current blob, waiting for space at most
/// `timeout_ns` in all (`IPC_FOREVER`: as long as it takes; 0: not at all).
/// `written_out` gets how many were appended (fewer than `len` only when
/// the timeout passed after some progress). Nothing is visible to the
/// reader before `ipc_writer_commit`.
///
/// Not thread-safe on one writer. Real-time safe (no allocation; it waits
/// only as long as told).
///
/// # Errors
/// `IPC_TIMEOUT` if not a byte fitted, `IPC_CLOSED`, `IPC_PEER_DIED`,
/// `IPC_CORRUPTED`.
///
/// # Safety
/// `writer` is valid; `data` has `len` readable bytes; `written_out` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_writer_write(
    writer: *mut ipc_writer,
    data: *const u8,
    len: usize,
    timeout_ns: u64,
    written_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(writer, data, written_out) {
        // SAFETY: a valid writer, used by this thread only.
        let writer = unsafe { ipc_writer::get_mut(writer) };
        // SAFETY: `len` readable bytes.
        let data = unsafe { std::slice::from_raw_parts(data, len) };
        let n = try_ipc!(writer.append_deadline(data, &deadline(timeout_ns)));
        // SAFETY: writable.
        unsafe { write_out(written_out, n) }
    })
}

/// Publishes the current blob (one wake-up of the reader, if it sleeps).
/// Never waits.
///
/// Not thread-safe on one writer. Real-time safe.
///
/// # Errors
/// `IPC_CLOSED` if the reader has gone, `IPC_CORRUPTED`.
///
/// # Safety
/// `writer` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_writer_commit(writer: *mut ipc_writer) -> ipc_result {
    boundary!(non_null(writer) {
        // SAFETY: a valid writer, used by this thread only.
        try_ipc!(unsafe { ipc_writer::get_mut(writer) }.commit());
        ipc_result::IPC_OK
    })
}

/// Lends at least `min` bytes of free ring space for writing in place, as
/// one span (`first_out`, `first_len_out`) and the part after the wrap
/// (`second_out`, `second_len_out`, maybe empty), waiting at most
/// `timeout_ns`. Write into them, then `ipc_writer_advance` by what was
/// written; the spans stay valid until the next call on this writer.
///
/// Not thread-safe on one writer. Real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` if `min` exceeds the capacity, `IPC_TIMEOUT`, or
/// as for `ipc_writer_write`.
///
/// # Safety
/// `writer` is valid; the four out-parameters are writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_writer_reserve(
    writer: *mut ipc_writer,
    min: usize,
    timeout_ns: u64,
    first_out: *mut *mut u8,
    first_len_out: *mut usize,
    second_out: *mut *mut u8,
    second_len_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(writer, first_out, first_len_out, second_out, second_len_out) {
        // SAFETY: a valid writer, used by this thread only.
        let writer = unsafe { ipc_writer::get_mut(writer) };
        let (a, b) = try_ipc!(writer.reserve_deadline(min, &deadline(timeout_ns))).into_mut_slices();
        // SAFETY: the out-parameters are writable.
        unsafe {
            first_out.write(a.as_mut_ptr());
            first_len_out.write(a.len());
            second_out.write(b.as_mut_ptr());
            second_len_out.write(b.len());
        }
        ipc_result::IPC_OK
    })
}

/// Appends the first `n` bytes of the space `ipc_writer_reserve` lent to
/// the current blob.
///
/// Not thread-safe on one writer. Real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` if `n` is more than is free.
///
/// # Safety
/// `writer` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_writer_advance(writer: *mut ipc_writer, n: usize) -> ipc_result {
    boundary!(non_null(writer) {
        // SAFETY: a valid writer, used by this thread only.
        let writer = unsafe { ipc_writer::get_mut(writer) };
        let reservation = try_ipc!(writer.try_reserve(0));
        if n > reservation.len() {
            return ipc_result::IPC_INVALID_ARGUMENT;
        }
        reservation.advance(n);
        ipc_result::IPC_OK
    })
}

/// Closes the channel now without publishing what was appended since the
/// last commit (a blob that cannot be finished); later calls give
/// `IPC_CLOSED`.
///
/// Not thread-safe on one writer. Real-time safe.
///
/// # Safety
/// `writer` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_writer_close(writer: *mut ipc_writer) -> ipc_result {
    boundary!(non_null(writer) {
        // SAFETY: a valid writer, used by this thread only.
        unsafe { ipc_writer::get_mut(writer) }.close();
        ipc_result::IPC_OK
    })
}

/// Closes the channel from the reading end now: what was not read is
/// dropped, the writer's next call gives `IPC_CLOSED`, and so does every
/// later call here (a reader that can no longer follow its stream).
///
/// Not thread-safe on one reader. Real-time safe.
///
/// # Safety
/// `reader` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_reader_close(reader: *mut ipc_reader) -> ipc_result {
    boundary!(non_null(reader) {
        // SAFETY: a valid reader, used by this thread only.
        unsafe { ipc_reader::get_mut(reader) }.close();
        ipc_result::IPC_OK
    })
}

/// Reads at least one byte into `buf` (as many as are there and fit),
/// waiting at most `timeout_ns`; `read_out` gets how many.
///
/// Not thread-safe on one reader. Real-time safe.
///
/// # Errors
/// `IPC_TIMEOUT` (nothing consumed), `IPC_CLOSED` at the end of the stream,
/// `IPC_PEER_DIED` once a dead writer's data is drained, `IPC_CORRUPTED`.
///
/// # Safety
/// `reader` is valid; `buf` has `len` writable bytes; `read_out` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_reader_read(
    reader: *mut ipc_reader,
    buf: *mut u8,
    len: usize,
    timeout_ns: u64,
    read_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(reader, buf, read_out) {
        // SAFETY: a valid reader, used by this thread only.
        let reader = unsafe { ipc_reader::get_mut(reader) };
        // SAFETY: `len` writable bytes.
        let buf = unsafe { std::slice::from_raw_parts_mut(buf, len) };
        let n = try_ipc!(reader.read_into_deadline(buf, &deadline(timeout_ns)));
        // SAFETY: writable.
        unsafe { write_out(read_out, n) }
    })
}

/// Fills all `len` bytes of `buf`, waiting at most `timeout_ns` in all
/// (when `len` fits in the ring, a timeout consumes nothing).
///
/// Not thread-safe on one reader. Real-time safe.
///
/// # Errors
/// As for `ipc_reader_read`.
///
/// # Safety
/// `reader` is valid; `buf` has `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn ipc_reader_read_exact(
    reader: *mut ipc_reader,
    buf: *mut u8,
    len: usize,
    timeout_ns: u64,
) -> ipc_result {
    boundary!(non_null(reader, buf) {
        // SAFETY: a valid reader, used by this thread only.
        let reader = unsafe { ipc_reader::get_mut(reader) };
        // SAFETY: `len` writable bytes.
        let buf = unsafe { std::slice::from_raw_parts_mut(buf, len) };
        try_ipc!(reader.read_exact_into_deadline(buf, &deadline(timeout_ns)));
        ipc_result::IPC_OK
    })
}

/// Lends the readable bytes for reading in place once at least `min` are
/// there (fewer only at the end of the stream), waiting at most
/// `timeout_ns`: one span and the part after the wrap (maybe empty). They
/// stay valid until the next call on this reader; `ipc_reader_consume`
/// hands bytes back. The bytes come from the peer: untrusted input.
///
/// Not thread-safe on one reader. Real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` if `min` exceeds the capacity, `IPC_TIMEOUT`, or
/// as for `ipc_reader_read`.
///
/// # Safety
/// `reader` is valid; the four out-parameters are writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_reader_peek(
    reader: *mut ipc_reader,
    min: usize,
    timeout_ns: u64,
    first_out: *mut *const u8,
    first_len_out: *mut usize,
    second_out: *mut *const u8,
    second_len_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(reader, first_out, first_len_out, second_out, second_len_out) {
        // SAFETY: a valid reader, used by this thread only.
        let reader = unsafe { ipc_reader::get_mut(reader) };
        let (a, b) = try_ipc!(reader.peek_deadline(min, &deadline(timeout_ns))).into_slices();
        // SAFETY: the out-parameters are writable.
        unsafe {
            first_out.write(a.as_ptr());
            first_len_out.write(a.len());
            second_out.write(b.as_ptr());
            second_len_out.write(b.len());
        }
        ipc_result::IPC_OK
    })
}

/// Consumes the first `n` readable bytes (handing the space back to the
/// writer, which wakes if it waits for it).
///
/// Not thread-safe on one reader. Real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` if fewer than `n` bytes are readable.
///
/// # Safety
/// `reader` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_reader_consume(reader: *mut ipc_reader, n: usize) -> ipc_result {
    boundary!(non_null(reader) {
        if n == 0 {
            return ipc_result::IPC_OK;
        }
        // SAFETY: a valid reader, used by this thread only.
        let reader = unsafe { ipc_reader::get_mut(reader) };
        match reader.try_peek(n) {
            Ok(peek) if peek.len() >= n => {
                peek.consume(n);
                ipc_result::IPC_OK
            }
            Ok(_) | Err(ipc_channel_shm::Error::Timeout) => ipc_result::IPC_INVALID_ARGUMENT,
            Err(e) => crate::boundary::fail(e),
        }
    })
}

/// Spins for up to `spin_ns` re-checking before sleeping (0, the default,
/// sleeps at once). Bounded: never a busy loop without end.
///
/// Not thread-safe on one writer. Real-time safe.
///
/// # Safety
/// `writer` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_writer_set_spin(writer: *mut ipc_writer, spin_ns: u64) -> ipc_result {
    boundary!(non_null(writer) {
        // SAFETY: a valid writer, used by this thread only.
        unsafe { ipc_writer::get_mut(writer) }.set_spin(Duration::from_nanos(spin_ns));
        ipc_result::IPC_OK
    })
}

/// As `ipc_writer_set_spin`, for a reader.
///
/// Not thread-safe on one reader. Real-time safe.
///
/// # Safety
/// `reader` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_reader_set_spin(reader: *mut ipc_reader, spin_ns: u64) -> ipc_result {
    boundary!(non_null(reader) {
        // SAFETY: a valid reader, used by this thread only.
        unsafe { ipc_reader::get_mut(reader) }.set_spin(Duration::from_nanos(spin_ns));
        ipc_result::IPC_OK
    })
}

/// The writer's counters.
///
/// Not thread-safe on one writer. Real-time safe.
///
/// # Safety
/// `writer` is valid; `stats_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_writer_stats(
    writer: *const ipc_writer,
    stats_out: *mut ipc_stats,
) -> ipc_result {
    boundary!(non_null(writer, stats_out) {
        // SAFETY: a valid writer.
        let stats = unsafe { ipc_writer::get(writer) }.stats();
        // SAFETY: writable.
        unsafe { write_out(stats_out, stats.into()) }
    })
}

/// The reader's counters.
///
/// Not thread-safe on one reader. Real-time safe.
///
/// # Safety
/// `reader` is valid; `stats_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_reader_stats(
    reader: *const ipc_reader,
    stats_out: *mut ipc_stats,
) -> ipc_result {
    boundary!(non_null(reader, stats_out) {
        // SAFETY: a valid reader.
        let stats = unsafe { ipc_reader::get(reader) }.stats();
        // SAFETY: writable.
        unsafe { write_out(stats_out, stats.into()) }
    })
}
