//! Layer III's real-time link in C: the host's call (with a timeout, no
//! allocation, no lock), the plugin's serving, shared audio buffers, and
//! real-time thread priority.

use crate::boundary::{
    boundary, boundary_void, deadline, handles, ipc_result, try_ipc, write_out, Handle,
};
use crate::link::{ipc_stop, settle};
use crate::message::{encoder, ipc_decode_fn, ipc_decoder, ipc_encode_fn, ipc_header, run_decode};
use ipc_link::{AudioBuffers, LinkError, Responder, RtCaller, RtServer};
use std::cell::Cell;
use std::ffi::c_void;
use std::time::Duration;

/// The host's end of the real-time link, owned by the audio thread.
pub struct ipc_rt_caller {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

/// The plugin's end of the real-time link, owned by its real-time thread.
pub struct ipc_rt_server {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

/// Planar `float` audio channels shared by host and plugin (inputs
/// first, then outputs), lent by the caller or to the serving handler.
pub struct ipc_audio {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

/// How a serving handler answers its request (lent for the call).
pub struct ipc_responder {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

handles! {
    ipc_rt_caller => RtCaller;
    ipc_rt_server => RtServer;
    ipc_audio => AudioBuffers;
    ipc_responder => Responder<'static>;
}

/// Serves one real-time request: reads it in place from `payload` (the
/// header's ID says its type: check it), renders into `audio` (NULL if the
/// host attached none), and answers once through `responder`. Returns an
/// `ipc_result`: anything but `IPC_OK`, or no answer, answers the host's
/// call with an error. On the real-time thread: allocate nothing, wait for
/// nothing.
pub type ipc_rt_handler_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        header: *const ipc_header,
        payload: *mut ipc_decoder,
        audio: *mut ipc_audio,
        responder: *mut ipc_responder,
    ) -> u32,
>;

/// Frees the caller's end (NULL: nothing): the plugin sees the real-time
/// link close.
///
/// Real-time safe (no allocation; it unmaps memory).
///
/// # Safety
/// `caller` came from `ipc_host_take_rt` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ipc_rt_caller_free(caller: *mut ipc_rt_caller) {
    boundary_void!(non_null(caller) {
        // SAFETY: the caller's contract.
        drop(unsafe { ipc_rt_caller::take(caller) });
    })
}

/// One real-time call: sends a request of ID `id` whose payload `encode`
/// writes, and blocks until the reply of ID `reply_id`, which `decode`
/// reads in place; at most `timeout_ns` in all, the send included. One
/// wake-up each way; the clock is read only if the call has to wait. A
/// reply that comes too late for its call is discarded by a later one.
///
/// Not thread-safe on one caller (the audio thread owns it). Real-time
/// safe: no allocation and no lock, if `encode` and `decode` are.
///
/// # Errors
/// `IPC_TIMEOUT` (the link stays usable), `IPC_PEER_DIED`, `IPC_CLOSED`,
/// `IPC_REMOTE` (the plugin could not serve it), `IPC_UNEXPECTED_ID`, what
/// the callbacks returned.
///
/// # Safety
/// `caller` is valid; `encode` and `decode` are valid callbacks.
#[no_mangle]
pub unsafe extern "C" fn ipc_rt_caller_call(
    caller: *mut ipc_rt_caller,
    id: u32,
    encode: ipc_encode_fn,
    encode_user: *mut c_void,
    reply_id: u32,
    decode: ipc_decode_fn,
    decode_user: *mut c_void,
    timeout_ns: u64,
) -> ipc_result {
    boundary!(non_null(caller, encode, decode) {
        let (Some(encode), Some(decode)) = (encode, decode) else {
            return ipc_result::IPC_NULL_ARGUMENT;
        };
        // SAFETY: a valid caller, used by this thread only.
        let caller = unsafe { ipc_rt_caller::get_mut(caller) };
        let failed = Cell::new(None);
        let decoded = Cell::new(None);
        let got = caller.call_raw_timeout(
            id,
            encoder(encode, encode_user, id, &failed),
            reply_id,
            |payload| {
                let header = ipc_msgpack::Header::new(reply_id, payload.len() as u32);
                if let Err(code) = run_decode(decode, decode_user, &header, payload.bytes()) {
                    decoded.set(Some(code));
                }
                Ok(())
            },
            crate::boundary::bounded(timeout_ns),
        );
        match decoded.get() {
            Some(code) if got.is_ok() => code,
            _ => settle(got, &failed),
        }
    })
}

/// Creates shared audio buffers of these counts (planar `float`s: inputs,
/// then outputs, `frames` each), hands them to the plugin over the
/// real-time link, and keeps them (`ipc_rt_caller_audio`). Call again when
/// the counts change; the old buffers are released.
///
/// Not thread-safe on one caller. Not real-time safe (maps memory).
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` for counts out of range, `IPC_REMOTE` if the
/// plugin could not map them, or as for `ipc_rt_caller_call`.
///
/// # Safety
/// `caller` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_rt_caller_attach_audio(
    caller: *mut ipc_rt_caller,
    inputs: usize,
    outputs: usize,
    frames: usize,
    timeout_ns: u64,
) -> ipc_result {
    boundary!(non_null(caller) {
        // SAFETY: a valid caller, used by this thread only.
        let caller = unsafe { ipc_rt_caller::get_mut(caller) };
        try_ipc!(caller.attach_audio(inputs, outputs, frames, crate::boundary::bounded(timeout_ns)));
        ipc_result::IPC_OK
    })
}

/// The attached audio buffers, to fill the inputs before a call and read
/// the outputs after it (valid until the next attach or the caller's free).
///
/// Not thread-safe on one caller. Real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` if none are attached.
///
/// # Safety
/// `caller` is valid; `audio_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_rt_caller_audio(
    caller: *mut ipc_rt_caller,
    audio_out: *mut *mut ipc_audio,
) -> ipc_result {
    boundary!(non_null(caller, audio_out) {
        // SAFETY: a valid caller, used by this thread only.
        match unsafe { ipc_rt_caller::get_mut(caller) }.audio_mut() {
            // SAFETY: writable.
            Some(audio) => unsafe { write_out(audio_out, (audio as *mut AudioBuffers).cast::<ipc_audio>()) },
            None => ipc_result::IPC_INVALID_ARGUMENT,
        }
    })
}

/// Spins for up to `spin_ns` before sleeping while waiting for a reply (0,
/// the default, sleeps at once): removes the wake-up latency when the
/// plugin answers quickly. Bounded.
///
/// Not thread-safe on one caller. Real-time safe.
///
/// # Safety
/// `caller` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_rt_caller_set_spin(
    caller: *mut ipc_rt_caller,
    spin_ns: u64,
) -> ipc_result {
    boundary!(non_null(caller) {
        // SAFETY: a valid caller, used by this thread only.
        unsafe { ipc_rt_caller::get_mut(caller) }.set_spin(Duration::from_nanos(spin_ns));
        ipc_result::IPC_OK
    })
}

/// Frees the server's end (NULL: nothing).
///
/// Real-time safe (no allocation; it unmaps memory).
///
/// # Safety
/// `server` came from `ipc_plugin_take_rt` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ipc_rt_server_free(server: *mut ipc_rt_server) {
    boundary_void!(non_null(server) {
        // SAFETY: the caller's contract.
        drop(unsafe { ipc_rt_server::take(server) });
    })
}

/// Serves one request, waiting at most `timeout_ns` for it (audio
/// attachments from the host are handled here too). A handler that returns
/// an error (or does not answer) has the host's call answered with it.
///
/// Not thread-safe on one server. Real-time safe if `handler` is.
///
/// # Errors
/// `IPC_TIMEOUT` if no request came, `IPC_CLOSED` once the host closed the
/// link or asked to quit, `IPC_PEER_DIED`; for one request that could not
/// be served (the link stays usable): what `handler` returned.
///
/// # Safety
/// `server` is valid; `handler` is a valid callback.
#[no_mangle]
pub unsafe extern "C" fn ipc_rt_server_serve_one(
    server: *mut ipc_rt_server,
    timeout_ns: u64,
    handler: ipc_rt_handler_fn,
    user: *mut c_void,
) -> ipc_result {
    boundary!(non_null(server, handler) {
        let Some(handler) = handler else { return ipc_result::IPC_NULL_ARGUMENT };
        // SAFETY: a valid server, used by this thread only.
        let server = unsafe { ipc_rt_server::get_mut(server) };
        match serve_one(server, &deadline(timeout_ns), handler, user) {
            Ok(()) => ipc_result::IPC_OK,
            Err(e) => crate::boundary::fail(e),
        }
    })
}

fn serve_one(
    server: &mut RtServer,
    deadline: &ipc_channel_shm::Deadline,
    handler: unsafe extern "C" fn(
        *mut c_void,
        *const ipc_header,
        *mut ipc_decoder,
        *mut ipc_audio,
        *mut ipc_responder,
    ) -> u32,
    user: *mut c_void,
) -> Result<(), LinkError> {
    server.serve_one_raw_deadline(deadline, |header, payload, audio, responder| {
        let h = ipc_header::from(header);
        let mut bytes = payload.bytes();
        let d = (&mut bytes as *mut ipc_msgpack::PayloadBytes<'_>).cast::<ipc_decoder>();
        let a = audio.map_or(std::ptr::null_mut(), |a| {
            (a as *mut AudioBuffers).cast::<ipc_audio>()
        });
        let r = (responder as *mut Responder<'_>).cast::<ipc_responder>();
        // SAFETY: the callback's contract; everything it is given lives for
        // the call.
        let code = unsafe { handler(user, &h, d, a, r) };
        match ipc_result::from_u32(code) {
            Some(ipc_result::IPC_OK) => Ok(()),
            other => Err(LinkError::Remote {
                kind: rejected(other),
                message: format!("the real-time handler of message {} said {code}", header.id),
            }),
        }
    })
}

/// The error kind a handler's failing code stands for.
fn rejected(code: Option<ipc_result>) -> ipc_link::ErrorKind {
    code.and_then(|c| ipc_link::ErrorKind::from_code(c as u32))
        .unwrap_or(ipc_link::ErrorKind::Rejected)
}

/// Serves requests until the host asks to quit or closes the link
/// (`stop_out->quit`), or goes away (`stop_out->reason`). A request that
/// cannot be served is answered with its error; serving goes on.
///
/// Not thread-safe on one server. Real-time safe if `handler` is.
///
/// # Safety
/// `server` is valid; `handler` is a valid callback; `stop_out` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_rt_server_serve(
    server: *mut ipc_rt_server,
    handler: ipc_rt_handler_fn,
    user: *mut c_void,
    stop_out: *mut ipc_stop,
) -> ipc_result {
    boundary!(non_null(server, handler, stop_out) {
        let Some(handler) = handler else { return ipc_result::IPC_NULL_ARGUMENT };
        // SAFETY: a valid server, used by this thread only.
        let server = unsafe { ipc_rt_server::get_mut(server) };
        let stop = loop {
            match serve_one(server, &ipc_channel_shm::Deadline::never(), handler, user) {
                Ok(()) => {}
                Err(LinkError::Closed) => break ipc_link::Stop::Quit,
                Err(e) if e.is_disconnect() => break ipc_link::Stop::HostGone(e),
                Err(_) => {}
            }
        };
        // SAFETY: writable.
        unsafe { write_out(stop_out, stop.into()) }
    })
}

/// Spins for up to `spin_ns` before sleeping while waiting for a request.
///
/// Not thread-safe on one server. Real-time safe.
///
/// # Safety
/// `server` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_rt_server_set_spin(
    server: *mut ipc_rt_server,
    spin_ns: u64,
) -> ipc_result {
    boundary!(non_null(server) {
        // SAFETY: a valid server, used by this thread only.
        unsafe { ipc_rt_server::get_mut(server) }.set_spin(Duration::from_nanos(spin_ns));
        ipc_result::IPC_OK
    })
}

/// Answers the request being served with a reply of ID `id` (once) whose
/// payload `encode` writes.
///
/// Real-time safe if `encode` is. Only within the serving handler.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` if it was answered already, `IPC_CLOSED`,
/// `IPC_PEER_DIED`, what `encode` returned.
///
/// # Safety
/// `responder` is the handler's; `encode` is a valid callback.
#[no_mangle]
pub unsafe extern "C" fn ipc_responder_reply(
    responder: *mut ipc_responder,
    id: u32,
    encode: ipc_encode_fn,
    user: *mut c_void,
) -> ipc_result {
    boundary!(non_null(responder, encode) {
        let Some(encode) = encode else { return ipc_result::IPC_NULL_ARGUMENT };
        let failed = Cell::new(None);
        // SAFETY: the handler's responder.
        let sent = unsafe { ipc_responder::get_mut(responder) }.reply_raw(id, encoder(encode, user, id, &failed));
        settle(sent, &failed)
    })
}

/// The shape of the audio buffers: channel counts and frames per channel.
///
/// Real-time safe.
///
/// # Safety
/// `audio` is valid; the out-parameters are writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_audio_shape(
    audio: *const ipc_audio,
    inputs_out: *mut usize,
    outputs_out: *mut usize,
    frames_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(audio, inputs_out, outputs_out, frames_out) {
        // SAFETY: valid audio; writable.
        unsafe {
            let a = ipc_audio::get(audio);
            inputs_out.write(a.inputs());
            outputs_out.write(a.outputs());
            write_out(frames_out, a.frames())
        }
    })
}

/// Input channel `channel`: `frames` samples (the host fills them before a
/// call; the plugin reads them while serving it).
///
/// Real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` for a channel out of range.
///
/// # Safety
/// `audio` is valid; `samples_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_audio_input(
    audio: *mut ipc_audio,
    channel: usize,
    samples_out: *mut *mut f32,
) -> ipc_result {
    boundary!(non_null(audio, samples_out) {
        // SAFETY: valid audio, lent to this thread.
        let audio = unsafe { ipc_audio::get_mut(audio) };
        if channel >= audio.inputs() {
            return ipc_result::IPC_INVALID_ARGUMENT;
        }
        // SAFETY: writable.
        unsafe { write_out(samples_out, audio.input_mut(channel).as_mut_ptr()) }
    })
}

/// Output channel `channel`: `frames` samples (the plugin writes them while
/// serving a call; the host reads them after it). Any bits a plugin wrote
/// are some `float`: check them if it matters.
///
/// Real-time safe.
///
/// # Errors
/// `IPC_INVALID_ARGUMENT` for a channel out of range.
///
/// # Safety
/// `audio` is valid; `samples_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_audio_output(
    audio: *mut ipc_audio,
    channel: usize,
    samples_out: *mut *mut f32,
) -> ipc_result {
    boundary!(non_null(audio, samples_out) {
        // SAFETY: valid audio, lent to this thread.
        let audio = unsafe { ipc_audio::get_mut(audio) };
        if channel >= audio.outputs() {
            return ipc_result::IPC_INVALID_ARGUMENT;
        }
        // SAFETY: writable.
        unsafe { write_out(samples_out, audio.output_mut(channel).as_mut_ptr()) }
    })
}

/// Gives the calling thread real-time scheduling (`SCHED_FIFO` at
/// `priority` on Linux and macOS, time-critical on Windows): for the
/// plugin's serving thread and the host's audio thread.
///
/// Thread-safe. Not real-time safe (a system call).
///
/// # Errors
/// `IPC_OS` if the system refuses (`ipc_last_error` says why); the thread
/// keeps its priority.
#[no_mangle]
pub extern "C" fn ipc_promote_current_thread(priority: u8) -> ipc_result {
    let p: *const u8 = &priority;
    boundary!(non_null(p) {
        try_ipc!(ipc_link::promote_current_thread(priority));
        ipc_result::IPC_OK
    })
}
