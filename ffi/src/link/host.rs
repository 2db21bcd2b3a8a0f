//! The host (spawn, supervise, shut down) and the plugin (connect, wait
//! for stop).

use super::{ipc_config, ipc_ended, ipc_host, ipc_main_link, ipc_plugin, ipc_setup_fn, ipc_stop};
use crate::boundary::{
    boundary, boundary_void, bounded, c_str, duration, ipc_result, try_ipc, write_out, Handle,
    IPC_FOREVER,
};
use crate::rt::{ipc_rt_caller, ipc_rt_server};
use ipc_link::{Ended, Host, LinkConfig, LinkError, MainLink, Plugin};
use std::ffi::{c_char, c_void};
use std::process::Command;

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
