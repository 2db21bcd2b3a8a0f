//! The main link in C: handlers as C function pointers with user data,
//! sends, requests with reply callbacks, blocking requests, replies.

use super::{
    ipc_disconnect_fn, ipc_free_fn, ipc_incoming, ipc_main_link, ipc_message_decode_fn,
    ipc_message_handle_fn, ipc_reply_fn, ipc_unknown_fn, Sent, User,
};
use crate::boundary::{
    boundary, bounded, c_str, duration, fail, ipc_result, try_ipc, write_out, Handle,
};
use crate::message::{encoder, ipc_decode_fn, ipc_decoder, ipc_encode_fn, ipc_header, run_decode};
use ipc_channel_shm::Deadline;
use ipc_link::Waited;
use ipc_link::{Incoming, LinkError};
use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

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

/// Whether a request's C decoder may still run, runs, or cannot run any
/// more. It may write into its caller's memory (a stack variable of the
/// C++ `request`), so the caller returns only once it cannot run: it waits
/// for a decoder that has begun (which gives up at the caller's deadline)
/// and stops one that has not.
#[derive(Debug, Default)]
struct DecoderTurn {
    state: Mutex<Turn>,
    over: Condvar,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Turn {
    #[default]
    NotYet,
    Running,
    Over,
}

impl DecoderTurn {
    fn state(&self) -> MutexGuard<'_, Turn> {
        // Nothing panics while holding it; a poisoned lock is still right.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The decoder's start: `false` if the caller has returned.
    fn begin(&self) -> bool {
        let mut state = self.state();
        if *state == Turn::Over {
            return false;
        }
        *state = Turn::Running;
        true
    }

    /// The decoder's end.
    fn end(&self) {
        *self.state() = Turn::Over;
        self.over.notify_all();
    }

    /// The caller's return: waits for a running decoder, stops a later one.
    fn close(&self) {
        let mut state = self.state();
        while *state == Turn::Running {
            state = self
                .over
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *state = Turn::Over;
    }
}

/// Sends a request of ID `id` and waits at most `timeout_ns` in all for its
/// reply, which `decode` reads in place (on the listener thread, while this
/// thread waits: it may write into memory of this thread's). Called from a
/// handler, it keeps dispatching while it waits.
///
/// Returns within `timeout_ns` even when the reply stops partway: the
/// decoder's reads then fail at that moment with `IPC_TIMEOUT`, and it is
/// never called after this function has returned.
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
        let timeout = bounded(timeout_ns);
        let give_up = Instant::now()
            .checked_add(timeout)
            .map_or_else(Deadline::never, Deadline::at);
        let turn = Arc::new(DecoderTurn::default());
        let decoder_turn = turn.clone();
        // SAFETY: a valid link.
        let got = unsafe { ipc_main_link::get(link) }.request_raw_timeout(
            id,
            encoder(encode, encode_user, id, &failed),
            move |header, payload| {
                let user = decode_user;
                if !decoder_turn.begin() {
                    // The caller has returned: its memory may be gone.
                    return Err(LinkError::Timeout(Waited::Reply));
                }
                // A reply that stops partway fails the decoder's reads at
                // the caller's deadline (the listener then skips the rest).
                let bytes = payload.bytes().until(&give_up);
                let decoded = run_decode(decode, user.0, header, bytes);
                decoder_turn.end();
                decoded.map_err(|code| match code {
                    // Its reads gave up at the caller's deadline.
                    ipc_result::IPC_TIMEOUT => LinkError::Timeout(Waited::Reply),
                    code => LinkError::Malformed {
                        id: header.id,
                        reason: format!("the reply decoder said {}", code as u32),
                    },
                })
            },
            timeout,
        );
        turn.close();
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
