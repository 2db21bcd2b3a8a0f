//! Layer I in C: plain shared regions (bytes two processes map, with no
//! ring), for data one side publishes and the other reads, or buffers whose
//! access a channel orders.

use crate::boundary::{
    boundary, boundary_void, c_str, handles, ipc_result, try_ipc, write_out, Handle,
};
use crate::channel::copy_string;
use ipc_channel_shm::Region;
use std::ffi::c_char;

/// A shared region of plain bytes (free it with `ipc_region_free`; the
/// mapping goes with the handle).
pub struct ipc_region {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

handles! {
    ipc_region => Region;
}

/// Creates a zero-filled region of `len` bytes (1 byte to 1 GiB) in the
/// system's shared memory, private to this user. Pass its connection string
/// (`ipc_region_connection_string`) to the peer process, which opens it with
/// `ipc_region_open` or `ipc_region_open_read_only`.
///
/// Thread-safe. Not real-time safe (maps and locks memory).
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` for a length out of range, `IPC_OS`.
///
/// # Safety
/// `region_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_region_create(
    len: usize,
    region_out: *mut *mut ipc_region,
) -> ipc_result {
    boundary!(non_null(region_out) {
        let region = try_ipc!(Region::create(len));
        // SAFETY: `region_out` is writable.
        unsafe { write_out(region_out, ipc_region::own(region)) }
    })
}

/// Opens the region named by `connection` for reading and writing (made by
/// `ipc_region_create` in another process). One process may do so: the
/// region is claimed.
///
/// Thread-safe. Not real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` for a malformed string, `IPC_CORRUPTED` for a bad
/// header, `IPC_ALREADY_CLAIMED`, `IPC_OS` if it does not exist (any more)
/// or is not private.
///
/// # Safety
/// `connection` is NUL-terminated; `region_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_region_open(
    connection: *const c_char,
    region_out: *mut *mut ipc_region,
) -> ipc_result {
    boundary!(non_null(connection, region_out) {
        // SAFETY: a NUL-terminated string.
        let connection = try_ipc!(unsafe { c_str(connection) });
        let region = try_ipc!(Region::open(connection));
        // SAFETY: `region_out` is writable.
        unsafe { write_out(region_out, ipc_region::own(region)) }
    })
}

/// Opens the region named by `connection` for reading only: the mapping is
/// read-only (a write through `ipc_region_data`'s pointer faults) and claims
/// nothing.
///
/// Thread-safe. Not real-time safe.
///
/// # Errors
/// As for `ipc_region_open`, without `IPC_ALREADY_CLAIMED`.
///
/// # Safety
/// `connection` is NUL-terminated; `region_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_region_open_read_only(
    connection: *const c_char,
    region_out: *mut *mut ipc_region,
) -> ipc_result {
    boundary!(non_null(connection, region_out) {
        // SAFETY: a NUL-terminated string.
        let connection = try_ipc!(unsafe { c_str(connection) });
        let region = try_ipc!(Region::open_read_only(connection));
        // SAFETY: `region_out` is writable.
        unsafe { write_out(region_out, ipc_region::own(region)) }
    })
}

/// Frees a region handle (NULL: nothing) and unmaps it; a creator's region
/// can no longer be opened afterwards.
///
/// Thread-safe. Not real-time safe (unmaps memory).
///
/// # Safety
/// `region` came from an `ipc_region_create`/`_open*` call and is not used
/// afterwards (nor the memory `ipc_region_data` gave).
#[no_mangle]
pub unsafe extern "C" fn ipc_region_free(region: *mut ipc_region) {
    boundary_void!(non_null(region) {
        // SAFETY: the caller's contract.
        drop(unsafe { ipc_region::take(region) });
    })
}

/// The region's memory: its first byte (aligned to 128 bytes) and its
/// length. The bytes are the peer's too: it may change them at any time, so
/// treat what is read there as untrusted. Only read through the pointer of
/// a region opened read-only.
///
/// Thread-safe. Real-time safe.
///
/// # Safety
/// `region` is valid; `data_out` and `len_out` are writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_region_data(
    region: *const ipc_region,
    data_out: *mut *mut u8,
    len_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(region, data_out, len_out) {
        // SAFETY: a valid region.
        let region = unsafe { ipc_region::get(region) };
        // SAFETY: both out-parameters are writable.
        unsafe {
            data_out.write(region.as_ptr());
            write_out(len_out, region.len())
        }
    })
}

/// Whether the region was opened read-only.
///
/// Thread-safe. Real-time safe.
///
/// # Safety
/// `region` is valid; `read_only_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_region_is_read_only(
    region: *const ipc_region,
    read_only_out: *mut bool,
) -> ipc_result {
    boundary!(non_null(region, read_only_out) {
        // SAFETY: a valid region; a writable out-parameter.
        unsafe { write_out(read_only_out, ipc_region::get(region).is_read_only()) }
    })
}

/// Copies the region's connection string (ASCII, safe on a command line and
/// in an environment variable) into `buf`.
///
/// Thread-safe. Real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` if it has none.
///
/// # Safety
/// `region` is valid; `buf` points to `capacity` writable bytes, into which
/// the string and its NUL are copied (`IPC_BUFFER_TOO_SMALL` otherwise);
/// `len_out` is writable and gets the string's length without the NUL (also
/// when the buffer is too small: the length needed).
#[no_mangle]
pub unsafe extern "C" fn ipc_region_connection_string(
    region: *const ipc_region,
    buf: *mut c_char,
    capacity: usize,
    len_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(region, buf, len_out) {
        // SAFETY: a valid region.
        let region = unsafe { ipc_region::get(region) };
        let Some(conn) = region.connection_string() else {
            return ipc_result::IPC_INVALID_ARGUMENT;
        };
        // SAFETY: the caller's buffer and length.
        unsafe { copy_string(conn, buf, capacity, len_out) }
    })
}

/// Makes a region this process created impossible to open from now on (once
/// the peer has opened it); the mappings stay valid. Idempotent.
///
/// Thread-safe. Not real-time safe.
///
/// # Safety
/// `region` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_region_withdraw(region: *const ipc_region) -> ipc_result {
    boundary!(non_null(region) {
        // SAFETY: a valid region.
        try_ipc!(unsafe { ipc_region::get(region) }.withdraw());
        ipc_result::IPC_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_shared_through_its_connection_string() {
        let mut region = std::ptr::null_mut();
        // SAFETY: a writable out-parameter.
        let created = unsafe { ipc_region_create(4096, &mut region) };
        assert_eq!(created, ipc_result::IPC_OK);
        let mut buf = [0 as c_char; 128];
        let mut len = 0;
        // SAFETY: a valid region, a buffer of 128 bytes and a writable length.
        let r =
            unsafe { ipc_region_connection_string(region, buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(r, ipc_result::IPC_OK);
        let mut reader = std::ptr::null_mut();
        // SAFETY: the string was NUL-terminated by the call above.
        let opened = unsafe { ipc_region_open_read_only(buf.as_ptr(), &mut reader) };
        assert_eq!(opened, ipc_result::IPC_OK);
        let (mut at, mut n, mut read_only) = (std::ptr::null_mut(), 0, false);
        let (mut seen_at, mut seen_n) = (std::ptr::null_mut(), 0);
        // SAFETY: valid regions and writable out-parameters; the creator's
        // 4096 bytes are written, the reader's only read.
        unsafe {
            assert_eq!(ipc_region_data(region, &mut at, &mut n), ipc_result::IPC_OK);
            assert_eq!(
                ipc_region_data(reader, &mut seen_at, &mut seen_n),
                ipc_result::IPC_OK
            );
            assert_eq!(
                ipc_region_is_read_only(reader, &mut read_only),
                ipc_result::IPC_OK
            );
            at.add(4095).write_volatile(9);
            assert_eq!(seen_at.add(4095).read_volatile(), 9);
            assert_eq!(ipc_region_withdraw(region), ipc_result::IPC_OK);
            ipc_region_free(reader);
            ipc_region_free(region);
            ipc_region_free(std::ptr::null_mut());
        }
        assert_eq!((n, seen_n), (4096, 4096));
        assert!(read_only);
        // SAFETY: a writable out-parameter.
        let refused = unsafe { ipc_region_create(0, &mut region) };
        assert_eq!(refused, ipc_result::IPC_INVALID_ARGUMENT);
    }
}
