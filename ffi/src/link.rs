//! Layer III in C: the host (spawn, supervise, shut down), the plugin
//! (connect, wait for stop), and the main link (handlers as C function
//! pointers with user data, sends, requests with reply callbacks, blocking
//! requests, replies).

use crate::boundary::{
    boundary, boundary_void, bounded, c_str, duration, fail, handles, ipc_result, try_ipc,
    write_out, Handle, IPC_FOREVER,
};
use crate::message::{
    encoder, ipc_decode_fn, ipc_decoder, ipc_encode_fn, ipc_header, ipc_limits, run_decode,
};
use crate::rt::{ipc_rt_caller, ipc_rt_server};
use ipc_link::{Ended, Host, Incoming, LinkConfig, LinkError, MainLink, Plugin, Stop};
use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::process::Command;
use std::sync::Arc;

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

/// The default configuration (1 MiB main rings, 64 KiB real-time rings,
/// 10 s connect and send timeouts, the connection string also as the last
/// argument, the default limits).
///
/// Thread-safe; real-time safe.
///
/// # Safety
/// `config_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_config_default(config_out: *mut ipc_config) -> ipc_result {
    boundary!(non_null(config_out) {
        let c = LinkConfig::default();
        let ns = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(IPC_FOREVER - 1);
        let config = ipc_config {
            main_capacity: c.main_capacity,
            rt_capacity: c.rt_capacity,
            connect_timeout_ns: ns(c.connect_timeout),
            send_timeout_ns: ns(c.send_timeout),
            connection_argument: c.connection_argument,
            limits: (&c.limits).into(),
        };
        // SAFETY: writable.
        unsafe { write_out(config_out, config) }
    })
}

/// A setup callback as the crates' setup closures take it.
fn setup_with(
    setup: unsafe extern "C" fn(*mut c_void, *const ipc_main_link) -> u32,
    user: *mut c_void,
) -> impl FnOnce(&MainLink) -> Result<(), LinkError> {
    move |link| {
        // SAFETY: the callback's contract; the link lives for the call.
        let code = unsafe { setup(user, ipc_main_link::lend(link)) };
        match ipc_result::from_u32(code) {
            Some(ipc_result::IPC_OK) => Ok(()),
            _ => Err(LinkError::InvalidArgument("the setup callback failed")),
        }
    }
}

/// Starts `program` with `arg_count` arguments (`args`, may be an empty
/// array but not NULL) and the link's connection string, waits for its
/// handshake (at most `config->connect_timeout_ns`); `setup` registers
/// main-link handlers before any message is dispatched (it runs on this
/// thread, before this returns).
///
/// Thread-safe. Not real-time safe (starts a process).
///
/// # Errors
/// `IPC_SPAWN` (a missing program: see `ipc_last_error`),
/// `IPC_PLUGIN_EXITED`, `IPC_TIMEOUT`, `IPC_HANDSHAKE`,
/// `IPC_INVALID_ARGUMENT` (a bad configuration, or `setup` failed).
///
/// # Safety
/// `program` and the `args` strings are NUL-terminated; `config` is valid;
/// `setup` is a valid callback; `host_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_host_spawn(
    program: *const c_char,
    args: *const *const c_char,
    arg_count: usize,
    config: *const ipc_config,
    setup: ipc_setup_fn,
    user: *mut c_void,
    host_out: *mut *mut ipc_host,
) -> ipc_result {
    boundary!(non_null(program, args, config, setup, host_out) {
        let Some(setup) = setup else { return ipc_result::IPC_NULL_ARGUMENT };
        // SAFETY: a NUL-terminated string.
        let mut command = Command::new(try_ipc!(unsafe { c_str(program) }));
        // SAFETY: `arg_count` string pointers.
        for &arg in unsafe { std::slice::from_raw_parts(args, arg_count) } {
            if arg.is_null() {
                return ipc_result::IPC_NULL_ARGUMENT;
            }
            // SAFETY: a NUL-terminated string.
            command.arg(try_ipc!(unsafe { c_str(arg) }));
        }
        // SAFETY: a valid configuration.
        let config = LinkConfig::from(unsafe { &*config });
        let host = try_ipc!(Host::spawn(&mut command, &config, setup_with(setup, user)));
        // SAFETY: writable.
        unsafe { write_out(host_out, ipc_host::own(host)) }
    })
}

/// Frees a host (NULL: nothing): closes its ends of both links and kills
/// the plugin if it still runs (no orphans). `ipc_host_shutdown` asks it to
/// quit first.
///
/// Thread-safe (once). Not real-time safe.
///
/// # Safety
/// `host` came from `ipc_host_spawn` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ipc_host_free(host: *mut ipc_host) {
    boundary_void!(non_null(host) {
        // SAFETY: the caller's contract.
        drop(unsafe { ipc_host::take(host) });
    })
}

/// Clean shutdown, which frees the host: sends `Quit` (which ends the
/// plugin's real-time serving loop and its wait for stop), closes this
/// side's ends of both links (whether or not the audio thread still holds
/// the real-time caller), waits at most `timeout_ns` for the plugin to
/// exit, then kills it. `ended_out` says which.
///
/// Thread-safe (once). Not real-time safe.
///
/// # Errors
/// `IPC_OS` if the process cannot be waited for (the host is freed all the
/// same).
///
/// # Safety
/// `host` came from `ipc_host_spawn` and is not used afterwards;
/// `ended_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_host_shutdown(
    host: *mut ipc_host,
    timeout_ns: u64,
    ended_out: *mut ipc_ended,
) -> ipc_result {
    boundary!(non_null(host, ended_out) {
        // SAFETY: the caller's contract.
        let host = unsafe { ipc_host::take(host) };
        let ended = try_ipc!(host.shutdown_timeout(bounded(timeout_ns)));
        let status = ended.status();
        let out = ipc_ended {
            killed: matches!(ended, Ended::Killed(_)),
            success: ended.is_clean(),
            code: status.code().unwrap_or(-1),
        };
        // SAFETY: writable.
        unsafe { write_out(ended_out, out) }
    })
}

/// The host's main link (valid as long as the host).
///
/// Thread-safe. Real-time safe.
///
/// # Safety
/// `host` is valid; `link_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_host_main_link(
    host: *const ipc_host,
    link_out: *mut *const ipc_main_link,
) -> ipc_result {
    boundary!(non_null(host, link_out) {
        // SAFETY: a valid host; writable.
        unsafe { write_out(link_out, ipc_main_link::lend(ipc_host::get(host).main_link())) }
    })
}

/// Takes the host's end of the real-time link (once), to give to the audio
/// thread; free it with `ipc_rt_caller_free`.
///
/// Not thread-safe with other calls on the host. Not real-time safe.
///
/// # Errors
/// `IPC_TAKEN` the second time.
///
/// # Safety
/// `host` is valid; `rt_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_host_take_rt(
    host: *mut ipc_host,
    rt_out: *mut *mut ipc_rt_caller,
) -> ipc_result {
    boundary!(non_null(host, rt_out) {
        // SAFETY: a valid host, used by this thread.
        match unsafe { ipc_host::get_mut(host) }.take_rt() {
            // SAFETY: writable.
            Some(rt) => unsafe { write_out(rt_out, ipc_rt_caller::own(rt)) },
            None => ipc_result::IPC_TAKEN,
        }
    })
}

/// The plugin's process ID.
///
/// Thread-safe. Real-time safe.
///
/// # Safety
/// `host` is valid; `pid_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_host_plugin_pid(
    host: *const ipc_host,
    pid_out: *mut u32,
) -> ipc_result {
    boundary!(non_null(host, pid_out) {
        // SAFETY: a valid host; writable.
        unsafe { write_out(pid_out, ipc_host::get(host).plugin_pid()) }
    })
}

/// Whether the plugin process has exited (reaping it if so): `exited_out`,
/// and its exit code in `code_out` (-1 for a signal; untouched while it
/// runs).
///
/// Not thread-safe with other calls on the host. Not real-time safe.
///
/// # Safety
/// `host` is valid; `exited_out` and `code_out` are writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_host_try_wait(
    host: *mut ipc_host,
    exited_out: *mut bool,
    code_out: *mut i32,
) -> ipc_result {
    boundary!(non_null(host, exited_out, code_out) {
        // SAFETY: a valid host, used by this thread.
        let status = try_ipc!(unsafe { ipc_host::get_mut(host) }.try_wait());
        // SAFETY: writable.
        unsafe {
            if let Some(s) = status {
                code_out.write(s.code().unwrap_or(-1));
            }
            write_out(exited_out, status.is_some())
        }
    })
}

/// Kills the plugin process at once and reaps it.
///
/// Not thread-safe with other calls on the host. Not real-time safe.
///
/// # Safety
/// `host` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_host_kill(host: *mut ipc_host) -> ipc_result {
    boundary!(non_null(host) {
        // SAFETY: a valid host, used by this thread.
        try_ipc!(unsafe { ipc_host::get_mut(host) }.kill());
        ipc_result::IPC_OK
    })
}

/// Connects to the link named by `connection` (the host passes it in
/// `IPC_LINK_CONNECTION` and as the last argument), handshakes (a host that
/// dies meanwhile is noticed at once), runs `setup` to register handlers,
/// then starts listening.
///
/// Thread-safe. Not real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` for a malformed string, `IPC_OS` if the link does
/// not exist (any more), `IPC_HANDSHAKE`, `IPC_TIMEOUT`, `IPC_PEER_DIED`.
///
/// # Safety
/// `connection` is NUL-terminated; `config` is valid; `setup` is a valid
/// callback; `plugin_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_plugin_connect(
    connection: *const c_char,
    config: *const ipc_config,
    setup: ipc_setup_fn,
    user: *mut c_void,
    plugin_out: *mut *mut ipc_plugin,
) -> ipc_result {
    boundary!(non_null(connection, config, setup, plugin_out) {
        let Some(setup) = setup else { return ipc_result::IPC_NULL_ARGUMENT };
        // SAFETY: a NUL-terminated string; a valid configuration.
        let (connection, config) = (try_ipc!(unsafe { c_str(connection) }), LinkConfig::from(unsafe { &*config }));
        let plugin = try_ipc!(Plugin::connect(connection, &config, setup_with(setup, user)));
        // SAFETY: writable.
        unsafe { write_out(plugin_out, ipc_plugin::own(plugin)) }
    })
}

/// `ipc_plugin_connect` with the connection string from the environment
/// (`IPC_LINK_CONNECTION`, or the last argument of the process).
///
/// Thread-safe. Not real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` if there is none; as for `ipc_plugin_connect`.
///
/// # Safety
/// As for `ipc_plugin_connect`.
#[no_mangle]
pub unsafe extern "C" fn ipc_plugin_connect_from_env(
    config: *const ipc_config,
    setup: ipc_setup_fn,
    user: *mut c_void,
    plugin_out: *mut *mut ipc_plugin,
) -> ipc_result {
    boundary!(non_null(config, setup, plugin_out) {
        let Some(setup) = setup else { return ipc_result::IPC_NULL_ARGUMENT };
        // SAFETY: a valid configuration.
        let config = LinkConfig::from(unsafe { &*config });
        let plugin = try_ipc!(Plugin::connect_from_env(&config, setup_with(setup, user)));
        // SAFETY: writable.
        unsafe { write_out(plugin_out, ipc_plugin::own(plugin)) }
    })
}

/// Frees the plugin's ends (NULL: nothing): the host sees the links closed
/// (a clean exit, not a crash).
///
/// Thread-safe (once). Not real-time safe.
///
/// # Safety
/// `plugin` came from `ipc_plugin_connect*` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ipc_plugin_free(plugin: *mut ipc_plugin) {
    boundary_void!(non_null(plugin) {
        // SAFETY: the caller's contract.
        drop(unsafe { ipc_plugin::take(plugin) });
    })
}

/// The plugin's main link (valid as long as the plugin).
///
/// Thread-safe. Real-time safe.
///
/// # Safety
/// `plugin` is valid; `link_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_plugin_main_link(
    plugin: *const ipc_plugin,
    link_out: *mut *const ipc_main_link,
) -> ipc_result {
    boundary!(non_null(plugin, link_out) {
        // SAFETY: a valid plugin; writable.
        unsafe { write_out(link_out, ipc_main_link::lend(ipc_plugin::get(plugin).main_link())) }
    })
}

/// Takes the plugin's end of the real-time link (once), to give to its
/// real-time thread; free it with `ipc_rt_server_free`.
///
/// Not thread-safe with other calls on the plugin. Not real-time safe.
///
/// # Errors
/// `IPC_TAKEN` the second time.
///
/// # Safety
/// `plugin` is valid; `rt_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_plugin_take_rt(
    plugin: *mut ipc_plugin,
    rt_out: *mut *mut ipc_rt_server,
) -> ipc_result {
    boundary!(non_null(plugin, rt_out) {
        // SAFETY: a valid plugin, used by this thread.
        match unsafe { ipc_plugin::get_mut(plugin) }.take_rt() {
            // SAFETY: writable.
            Some(rt) => unsafe { write_out(rt_out, ipc_rt_server::own(rt)) },
            None => ipc_result::IPC_TAKEN,
        }
    })
}

/// Waits until the host says `Quit`, closes the link or goes away, at most
/// `timeout_ns` (`IPC_FOREVER`: as long as it takes). A plugin returns from
/// `main` after this, so it never outlives its host.
///
/// Thread-safe. Not real-time safe.
///
/// # Errors
/// `IPC_TIMEOUT` if none of that happened in time.
///
/// # Safety
/// `plugin` is valid; `stop_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_plugin_wait_for_stop(
    plugin: *const ipc_plugin,
    timeout_ns: u64,
    stop_out: *mut ipc_stop,
) -> ipc_result {
    boundary!(non_null(plugin, stop_out) {
        // SAFETY: a valid plugin.
        let plugin = unsafe { ipc_plugin::get(plugin) };
        let stop = match duration(timeout_ns) {
            None => plugin.wait_for_stop(),
            Some(t) => try_ipc!(plugin.wait_for_stop_timeout(t)),
        };
        // SAFETY: writable.
        unsafe { write_out(stop_out, stop.into()) }
    })
}

/// Handles every incoming message with ID `id`, in two steps: `decode`
/// reads the payload in place while the reader is held and makes a
/// message, `handle` handles it afterwards on the listener thread (and
/// frees it). `free_user` frees `user` when the handler goes (with the
/// link, or `ipc_main_link_remove_handler`). Both callbacks run on the
/// listener thread.
///
/// Thread-safe. Not real-time safe.
///
/// # Errors
/// `IPC_HANDLER_EXISTS` if `id` has a handler already (nothing replaces
/// one silently), `IPC_INVALID_ARGUMENT` for an ID reserved for the link.
///
/// # Safety
/// `link` is valid; the callbacks are valid for as long as the handler is
/// registered, and `user` may be used from the listener thread.
#[no_mangle]
pub unsafe extern "C" fn ipc_main_link_on(
    link: *const ipc_main_link,
    id: u32,
    decode: ipc_message_decode_fn,
    handle: ipc_message_handle_fn,
    user: *mut c_void,
    free_user: ipc_free_fn,
) -> ipc_result {
    boundary!(non_null(link, decode, handle, free_user) {
        let (Some(decode), Some(handle), Some(free)) = (decode, handle, free_user) else {
            return ipc_result::IPC_NULL_ARGUMENT;
        };
        let user = Arc::new(User { ptr: user, free });
        let for_decode = user.clone();
        // SAFETY: a valid link.
        let registered = unsafe { ipc_main_link::get(link) }.on_raw(
            id,
            move |header, payload| {
                let mut message = std::ptr::null_mut();
                let h = ipc_header::from(header);
                let mut bytes = payload.bytes();
                let d = (&mut bytes as *mut ipc_msgpack::PayloadBytes<'_>).cast::<ipc_decoder>();
                // SAFETY: the callback's contract; header, decoder and the
                // out-parameter live for the call.
                let code = unsafe { decode(for_decode.ptr(), &h, d, &mut message) };
                match ipc_result::from_u32(code) {
                    Some(ipc_result::IPC_OK) => Ok(Sent(message)),
                    _ => Err(ipc_msgpack::Error::Malformed {
                        id: header.id,
                        reason: format!("the decode callback said {code}"),
                    }),
                }
            },
            move |message: Sent, incoming| {
                let lent = (incoming as *const Incoming<'_>).cast::<ipc_incoming>();
                // SAFETY: the callback's contract; the incoming message lives
                // for the call, and the decoded message is the callback's.
                unsafe { handle(user.ptr(), message.0, lent) };
            },
        );
        try_ipc!(registered);
        ipc_result::IPC_OK
    })
}

/// Removes the handler for `id`; `removed_out` says whether there was one.
///
/// Thread-safe. Not real-time safe.
///
/// # Safety
/// `link` is valid; `removed_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_main_link_remove_handler(
    link: *const ipc_main_link,
    id: u32,
    removed_out: *mut bool,
) -> ipc_result {
    boundary!(non_null(link, removed_out) {
        // SAFETY: a valid link; writable.
        unsafe { write_out(removed_out, ipc_main_link::get(link).remove_handler(id)) }
    })
}

/// Gets messages no handler takes (after their payload was skipped; a
/// request among them was answered with `IPC_NO_HANDLER`). On the listener
/// thread.
///
/// Thread-safe. Not real-time safe.
///
/// # Safety
/// `link` is valid; `unknown` is valid as long as the link; `user` may be
/// used from the listener thread.
#[no_mangle]
pub unsafe extern "C" fn ipc_main_link_on_unknown(
    link: *const ipc_main_link,
    unknown: ipc_unknown_fn,
    user: *mut c_void,
    free_user: ipc_free_fn,
) -> ipc_result {
    boundary!(non_null(link, unknown, free_user) {
        let (Some(unknown), Some(free)) = (unknown, free_user) else {
            return ipc_result::IPC_NULL_ARGUMENT;
        };
        let user = User { ptr: user, free };
        // SAFETY: a valid link.
        unsafe { ipc_main_link::get(link) }.on_unknown(move |header| {
            let h = ipc_header::from(header);
            // SAFETY: the callback's contract.
            unsafe { unknown(user.ptr(), &h) };
        });
        ipc_result::IPC_OK
    })
}

/// Calls `disconnect` once when the link goes down (at once if it is down
/// already), with why (an `ipc_result`); then frees `user`.
///
/// Thread-safe. Not real-time safe.
///
/// # Safety
/// `link` is valid; `disconnect` is valid until it ran; `user` may be used
/// from the listener thread.
#[no_mangle]
pub unsafe extern "C" fn ipc_main_link_on_disconnect(
    link: *const ipc_main_link,
    disconnect: ipc_disconnect_fn,
    user: *mut c_void,
    free_user: ipc_free_fn,
) -> ipc_result {
    boundary!(non_null(link, disconnect, free_user) {
        let (Some(disconnect), Some(free)) = (disconnect, free_user) else {
            return ipc_result::IPC_NULL_ARGUMENT;
        };
        let user = User { ptr: user, free };
        // SAFETY: a valid link.
        unsafe { ipc_main_link::get(link) }.on_disconnect(move |e| {
            // SAFETY: the callback's contract.
            unsafe { disconnect(user.ptr(), ipc_result::from(e.kind()) as u32) };
        });
        ipc_result::IPC_OK
    })
}

/// Whether the link is up.
///
/// Thread-safe. Real-time safe (a short lock).
///
/// # Safety
/// `link` is valid; `connected_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_main_link_is_connected(
    link: *const ipc_main_link,
    connected_out: *mut bool,
) -> ipc_result {
    boundary!(non_null(link, connected_out) {
        // SAFETY: a valid link; writable.
        unsafe { write_out(connected_out, ipc_main_link::get(link).is_connected()) }
    })
}

/// Waits until the link goes down, at most `timeout_ns`; `reason_out` gets
/// why (an `ipc_result`).
///
/// Thread-safe. Not real-time safe.
///
/// # Errors
/// `IPC_TIMEOUT` if it is still up.
///
/// # Safety
/// `link` is valid; `reason_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_main_link_wait_disconnected(
    link: *const ipc_main_link,
    timeout_ns: u64,
    reason_out: *mut u32,
) -> ipc_result {
    boundary!(non_null(link, reason_out) {
        // SAFETY: a valid link.
        let link = unsafe { ipc_main_link::get(link) };
        let why = match duration(timeout_ns) {
            None => link.wait_disconnected(),
            Some(t) => try_ipc!(link.wait_disconnected_timeout(t)),
        };
        // SAFETY: writable.
        unsafe { write_out(reason_out, ipc_result::from(why.kind()) as u32) }
    })
}

/// Closes this side's sending end: the peer drains what was sent, then sees
/// the link close.
///
/// Thread-safe. Not real-time safe.
///
/// # Safety
/// `link` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_main_link_close(link: *const ipc_main_link) -> ipc_result {
    boundary!(non_null(link) {
        // SAFETY: a valid link.
        unsafe { ipc_main_link::get(link) }.close();
        ipc_result::IPC_OK
    })
}

/// Sends a message of ID `id` whose payload `encode` writes (it runs on
/// this thread, once, or twice for a message larger than the free space),
/// waiting for ring space at most the link's send timeout. Messages from
/// one thread arrive in the order sent.
///
/// Thread-safe. Not real-time safe (waits for other senders).
///
/// # Errors
/// `IPC_CLOSED`/`IPC_PEER_DIED` once the link is down, `IPC_TIMEOUT` if the
/// peer does not read, what `encode` returned.
///
/// # Safety
/// `link` is valid; `encode` is a valid callback.
#[no_mangle]
pub unsafe extern "C" fn ipc_main_link_send(
    link: *const ipc_main_link,
    id: u32,
    encode: ipc_encode_fn,
    user: *mut c_void,
) -> ipc_result {
    boundary!(non_null(link, encode) {
        let Some(encode) = encode else { return ipc_result::IPC_NULL_ARGUMENT };
        let failed = Cell::new(None);
        // SAFETY: a valid link.
        let sent = unsafe { ipc_main_link::get(link) }.send_raw(id, encoder(encode, user, id, &failed));
        settle(sent, &failed)
    })
}

/// Like `ipc_main_link_send`, waiting for space at most `timeout_ns` (0:
/// only if it fits now). A message that fits in the ring is sent whole or
/// not at all; a larger one cut by the timeout closes the link.
///
/// Thread-safe. Not real-time safe.
///
/// # Errors
/// As for `ipc_main_link_send`.
///
/// # Safety
/// As for `ipc_main_link_send`.
#[no_mangle]
pub unsafe extern "C" fn ipc_main_link_send_timeout(
    link: *const ipc_main_link,
    id: u32,
    timeout_ns: u64,
    encode: ipc_encode_fn,
    user: *mut c_void,
) -> ipc_result {
    boundary!(non_null(link, encode) {
        let Some(encode) = encode else { return ipc_result::IPC_NULL_ARGUMENT };
        let failed = Cell::new(None);
        // SAFETY: a valid link.
        let link = unsafe { ipc_main_link::get(link) };
        let sent = link.send_raw_timeout(id, bounded(timeout_ns), encoder(encode, user, id, &failed));
        settle(sent, &failed)
    })
}

/// The result of a send whose encode callback may have failed.
pub(crate) fn settle(sent: Result<(), LinkError>, failed: &Cell<Option<ipc_result>>) -> ipc_result {
    match (sent, failed.get()) {
        (Ok(()), _) => ipc_result::IPC_OK,
        (Err(_), Some(code)) => code,
        (Err(e), None) => fail(e),
    }
}

/// A reply decoder as the crates' reply closures take it: the callback's
/// code, or the reply it made.
fn reply_decoder(
    decode: unsafe extern "C" fn(
        *mut c_void,
        *const ipc_header,
        *mut ipc_decoder,
        *mut *mut c_void,
    ) -> u32,
    user: Arc<User>,
) -> impl FnOnce(&ipc_msgpack::Header, ipc_msgpack::Payload<'_>) -> Result<Sent, LinkError>
       + Send
       + 'static {
    move |header, payload| {
        let mut reply = std::ptr::null_mut();
        let h = ipc_header::from(header);
        let mut bytes = payload.bytes();
        let d = (&mut bytes as *mut ipc_msgpack::PayloadBytes<'_>).cast::<ipc_decoder>();
        // SAFETY: the callback's contract; all it is given lives for the call.
        let code = unsafe { decode(user.ptr(), &h, d, &mut reply) };
        match ipc_result::from_u32(code) {
            Some(ipc_result::IPC_OK) => Ok(Sent(reply)),
            _ => Err(LinkError::Malformed {
                id: header.id,
                reason: format!("the reply decoder said {code}"),
            }),
        }
    }
}

/// Sends a request of ID `id` (payload from `encode`, on this thread);
/// when its reply comes, `decode` reads it in place (the header's ID is the
/// reply's type: check it) and makes a reply, and `on_reply` gets the
/// outcome (an error reply or the link going down skip `decode`); both on
/// the listener thread. Then `user` is freed.
///
/// Thread-safe. Not real-time safe.
///
/// # Errors
/// As for `ipc_main_link_send` (then no callback runs, and `user` is
/// freed).
///
/// # Safety
/// `link` is valid; the callbacks are valid until `free_user` ran; `user`
/// may be used from the listener thread.
#[no_mangle]
pub unsafe extern "C" fn ipc_main_link_request(
    link: *const ipc_main_link,
    id: u32,
    encode: ipc_encode_fn,
    encode_user: *mut c_void,
    decode: ipc_message_decode_fn,
    on_reply: ipc_reply_fn,
    user: *mut c_void,
    free_user: ipc_free_fn,
) -> ipc_result {
    boundary!(non_null(link, encode, decode, on_reply, free_user) {
        let (Some(encode), Some(decode), Some(on_reply), Some(free)) = (encode, decode, on_reply, free_user) else {
            return ipc_result::IPC_NULL_ARGUMENT;
        };
        let user = Arc::new(User { ptr: user, free });
        let reply_user = user.clone();
        let failed = Cell::new(None);
        // SAFETY: a valid link.
        let sent = unsafe { ipc_main_link::get(link) }.request_raw(
            id,
            encoder(encode, encode_user, id, &failed),
            reply_decoder(decode, user),
            move |reply: Result<Sent, LinkError>| {
                let (code, ptr) = match reply {
                    Ok(Sent(p)) => (ipc_result::IPC_OK, p),
                    Err(e) => (ipc_result::from(e.kind()), std::ptr::null_mut()),
                };
                // SAFETY: the callback's contract.
                unsafe { on_reply(reply_user.ptr(), code as u32, ptr) };
            },
        );
        settle(sent, &failed)
    })
}

/// Sends a request of ID `id` and waits at most `timeout_ns` in all for its
/// reply, which `decode` reads in place (on the listener thread, while this
/// thread waits: it may write into memory of this thread's). Called from a
/// handler, it keeps dispatching while it waits.
///
/// Thread-safe. Not real-time safe.
///
/// # Errors
/// `IPC_TIMEOUT` (a late reply is then discarded), `IPC_REMOTE` if the
/// peer answered with an error (`ipc_last_error` says which), what
/// `decode` returned, or as for `ipc_main_link_send`.
///
/// # Safety
/// `link` is valid; `encode` and `decode` are valid callbacks.
#[no_mangle]
pub unsafe extern "C" fn ipc_main_link_request_timeout(
    link: *const ipc_main_link,
    id: u32,
    encode: ipc_encode_fn,
    encode_user: *mut c_void,
    decode: ipc_decode_fn,
    decode_user: *mut c_void,
    timeout_ns: u64,
) -> ipc_result {
    boundary!(non_null(link, encode, decode) {
        let (Some(encode), Some(decode)) = (encode, decode) else {
            return ipc_result::IPC_NULL_ARGUMENT;
        };
        let failed = Cell::new(None);
        let decode_user = Sent(decode_user);
        // SAFETY: a valid link.
        let got = unsafe { ipc_main_link::get(link) }.request_raw_timeout(
            id,
            encoder(encode, encode_user, id, &failed),
            move |header, payload| {
                let user = decode_user;
                run_decode(decode, user.0, header, payload.bytes()).map_err(|code| LinkError::Malformed {
                    id: header.id,
                    reason: format!("the reply decoder said {}", code as u32),
                })
            },
            bounded(timeout_ns),
        );
        settle(got, &failed)
    })
}

/// The envelope of the message being handled.
///
/// Real-time safe. Only within the handler.
///
/// # Safety
/// `incoming` is the handler's; `header_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_incoming_header(
    incoming: *const ipc_incoming,
    header_out: *mut ipc_header,
) -> ipc_result {
    boundary!(non_null(incoming, header_out) {
        // SAFETY: the handler's; writable.
        unsafe { write_out(header_out, ipc_header::from(&ipc_incoming::get(incoming).header)) }
    })
}

/// The link the message came on (valid for the handler's call; it may
/// send, request and reply).
///
/// Real-time safe. Only within the handler.
///
/// # Safety
/// `incoming` is the handler's; `link_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_incoming_link(
    incoming: *const ipc_incoming,
    link_out: *mut *const ipc_main_link,
) -> ipc_result {
    boundary!(non_null(incoming, link_out) {
        // SAFETY: the handler's; writable.
        unsafe { write_out(link_out, ipc_main_link::lend(ipc_incoming::get(incoming).link)) }
    })
}

/// Answers the message with a reply of ID `id` (the reply type's own ID)
/// whose payload `encode` writes.
///
/// Not real-time safe. Only within the handler.
///
/// # Errors
/// As for `ipc_main_link_send`.
///
/// # Safety
/// `incoming` is the handler's; `encode` is a valid callback.
#[no_mangle]
pub unsafe extern "C" fn ipc_incoming_reply(
    incoming: *const ipc_incoming,
    id: u32,
    encode: ipc_encode_fn,
    user: *mut c_void,
) -> ipc_result {
    boundary!(non_null(incoming, encode) {
        let Some(encode) = encode else { return ipc_result::IPC_NULL_ARGUMENT };
        let failed = Cell::new(None);
        // SAFETY: the handler's.
        let sent = unsafe { ipc_incoming::get(incoming) }.reply_raw(id, encoder(encode, user, id, &failed));
        settle(sent, &failed)
    })
}

/// Answers the request with an error: the requester gets `IPC_REMOTE`
/// (caused by `IPC_REJECTED`) with this text.
///
/// Not real-time safe. Only within the handler.
///
/// # Safety
/// `incoming` is the handler's; `message` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ipc_incoming_reply_error(
    incoming: *const ipc_incoming,
    message: *const c_char,
) -> ipc_result {
    boundary!(non_null(incoming, message) {
        // SAFETY: a NUL-terminated string; the handler's incoming message.
        let (message, incoming) = (try_ipc!(unsafe { c_str(message) }), unsafe { ipc_incoming::get(incoming) });
        try_ipc!(incoming.reply_error(message));
        ipc_result::IPC_OK
    })
}
