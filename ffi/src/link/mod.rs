//! Layer III in C: the host (spawn, supervise, shut down), the plugin
//! (connect, wait for stop), and the main link (handlers as C function
//! pointers with user data, sends, requests with reply callbacks, blocking
//! requests, replies).
//!
//! `host` holds the host's and the plugin's functions, `main_link` the
//! main link's and a handler's.

mod host;
mod main_link;

pub use host::*;
pub use main_link::*;

use crate::boundary::{bounded, handles, ipc_result};
use crate::message::{ipc_decoder, ipc_header, ipc_limits};
use ipc_link::{Host, Incoming, LinkConfig, MainLink, Plugin, Stop};
use std::ffi::c_void;

/// A running plugin process and the host's ends of its links (free it
/// with `ipc_host_free`, or end it with `ipc_host_shutdown`).
pub struct ipc_host {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

/// The plugin's ends of the links (free it with `ipc_plugin_free`).
pub struct ipc_plugin {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

/// One side of the main link, lent by its host or plugin (valid as long
/// as they are). Usable from any thread.
pub struct ipc_main_link {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

/// A message being handled, lent to a handler for the call.
pub struct ipc_incoming {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

handles! {
    ipc_host => Host;
    ipc_plugin => Plugin;
    ipc_main_link => MainLink;
    ipc_incoming => Incoming<'static>;
}

/// Sizes and bounds of a link (see `LinkConfig` of ipc-link: the ring
/// capacities are the host's; every other field is each side's own).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ipc_config {
    /// Ring size of each main-link channel (a power of two, 64 B to 1 GiB).
    pub main_capacity: usize,
    /// Ring size of each real-time channel.
    pub rt_capacity: usize,
    /// How long the handshake may take, in nanoseconds.
    pub connect_timeout_ns: u64,
    /// How long a main-link send may wait for ring space, in nanoseconds.
    pub send_timeout_ns: u64,
    /// Whether `ipc_host_spawn` also appends the connection string to the
    /// plugin's arguments (it is always in `IPC_LINK_CONNECTION`).
    pub connection_argument: bool,
    /// Bounds on incoming messages.
    pub limits: ipc_limits,
}

impl From<&ipc_config> for LinkConfig {
    fn from(c: &ipc_config) -> LinkConfig {
        LinkConfig {
            main_capacity: c.main_capacity,
            rt_capacity: c.rt_capacity,
            connect_timeout: bounded(c.connect_timeout_ns),
            send_timeout: bounded(c.send_timeout_ns),
            connection_argument: c.connection_argument,
            limits: (&c.limits).into(),
        }
    }
}

/// How a plugin ended under `ipc_host_shutdown`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ipc_ended {
    /// It did not exit in time and was killed.
    pub killed: bool,
    /// It exited by itself with status 0.
    pub success: bool,
    /// Its exit code, or -1 if a signal ended it.
    pub code: i32,
}

/// Why a plugin should stop.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ipc_stop {
    /// The host asked it to quit (or closed the link cleanly).
    pub quit: bool,
    /// Otherwise, how the link went down (an `ipc_result`).
    pub reason: u32,
}

impl From<Stop> for ipc_stop {
    fn from(stop: Stop) -> ipc_stop {
        match stop {
            Stop::Quit => ipc_stop {
                quit: true,
                reason: ipc_result::IPC_OK as u32,
            },
            Stop::HostGone(e) => ipc_stop {
                quit: false,
                reason: ipc_result::from(e.kind()) as u32,
            },
        }
    }
}

/// Frees user data (called once, when the library no longer needs it).
pub type ipc_free_fn = Option<unsafe extern "C" fn(user: *mut c_void)>;

/// Registers main-link handlers before any message is dispatched; returns
/// an `ipc_result` (anything but `IPC_OK` aborts the spawn or connect).
pub type ipc_setup_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, link: *const ipc_main_link) -> u32>;

/// The first step of a handler: reads the payload in place (while the
/// link's reader is held: decode only, never wait here) into something of
/// the caller's, whose pointer goes to `message_out`; returns an
/// `ipc_result` (a request whose decode fails is answered with that error).
pub type ipc_message_decode_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        header: *const ipc_header,
        payload: *mut ipc_decoder,
        message_out: *mut *mut c_void,
    ) -> u32,
>;

/// The second step of a handler, on the listener thread: handles what
/// `decode` made (and frees it); may send, reply and make requests.
pub type ipc_message_handle_fn = Option<
    unsafe extern "C" fn(user: *mut c_void, message: *mut c_void, incoming: *const ipc_incoming),
>;

/// Gets a message no handler takes (its payload skipped; a request among
/// them was answered with `IPC_NO_HANDLER`).
pub type ipc_unknown_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, header: *const ipc_header)>;

/// Learns why the link went down (an `ipc_result`).
pub type ipc_disconnect_fn = Option<unsafe extern "C" fn(user: *mut c_void, reason: u32)>;

/// Gets the outcome of a request made with `ipc_main_link_request`: an
/// `ipc_result`, and on `IPC_OK` what the reply decoder made. On the
/// listener thread.
pub type ipc_reply_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, result: u32, reply: *mut c_void)>;

/// A frees-nothing `ipc_free_fn`, for user data the caller frees itself.
///
/// Thread-safe; real-time safe.
#[no_mangle]
pub extern "C" fn ipc_free_nothing(_user: *mut c_void) {}

/// User data of a callback, freed once by its free function when the last
/// holder goes. The C side promises that its callbacks may run on the
/// link's threads (what it documents for each).
struct User {
    ptr: *mut c_void,
    free: unsafe extern "C" fn(*mut c_void),
}

// SAFETY: the C caller's contract: its user data may be used from the
// link's threads (each function that takes user data says so).
unsafe impl Send for User {}
// SAFETY: as above.
unsafe impl Sync for User {}

impl User {
    /// The pointer (a method, so that a closure captures the whole `User`,
    /// which is `Send`, not its field).
    fn ptr(&self) -> *mut c_void {
        self.ptr
    }
}

impl Drop for User {
    fn drop(&mut self) {
        // SAFETY: the free function takes the user data it came with, once.
        unsafe { (self.free)(self.ptr) }
    }
}

/// A pointer the C side made, moved to another thread with its owner's
/// consent.
struct Sent(*mut c_void);

// SAFETY: as for `User`.
unsafe impl Send for Sent {}
