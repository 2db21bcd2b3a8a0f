//! Layer II in C: framed MessagePack messages over a channel. A message is
//! sent by an encode callback that writes its payload straight into ring
//! memory through an `ipc_encoder`, and received by a decode callback that
//! reads it straight out of the ring through an `ipc_decoder`.

use crate::boundary::{
    boundary, deadline, duration, fail, handles, ipc_result, try_ipc, write_out, Handle,
    IPC_FOREVER,
};
use crate::channel::{ipc_reader, ipc_writer};
use ipc_msgpack::{Flags, Header, Limits, PayloadBytes, Sink, Token};
use std::cell::Cell;
use std::ffi::c_void;

mod codec;
pub use codec::*;

/// Where an encode callback writes a payload (valid during the callback).
pub struct ipc_encoder {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

/// Where a decode callback reads a payload (valid during the callback).
pub struct ipc_decoder {
    // Zero-sized and not `repr(C)`: C sees an opaque type.
    _private: [u8; 0],
}

handles! {
    ipc_encoder => Encoder<'static>;
    ipc_decoder => PayloadBytes<'static>;
}

/// A payload sink as C sees it, and the last error its span refused with
/// (with the code C got for it): a callback that passes that code on fails
/// for the library's reason, not its own.
pub(crate) struct Encoder<'a>(
    pub(crate) &'a mut dyn Sink,
    pub(crate) Option<(ipc_result, ipc_msgpack::Error)>,
);

/// A message's envelope.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ipc_header {
    /// The message type's ID.
    pub id: u32,
    /// Ties a reply to its request (0: none).
    pub correlation: u32,
    /// `IPC_FLAG_REQUEST`, `IPC_FLAG_REPLY`, `IPC_FLAG_ERROR`.
    pub flags: u8,
    /// Payload bytes.
    pub len: u32,
}

/// The sender expects a reply with the same correlation number.
pub const IPC_FLAG_REQUEST: u8 = 1;
/// This message answers the request with the same correlation number.
pub const IPC_FLAG_REPLY: u8 = 2;
/// The request failed (with `IPC_FLAG_REPLY`).
pub const IPC_FLAG_ERROR: u8 = 4;

impl From<&Header> for ipc_header {
    fn from(h: &Header) -> ipc_header {
        ipc_header {
            id: h.id,
            correlation: h.correlation,
            flags: h.flags.bits(),
            len: h.len,
        }
    }
}

/// Bounds on incoming messages.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ipc_limits {
    /// Largest payload accepted, in bytes (default 256 MiB).
    pub max_message: u32,
    /// Deepest nesting (default 64).
    pub max_depth: u32,
    /// How long the rest of a message may take once its envelope arrived,
    /// in nanoseconds (`IPC_FOREVER`: no bound; default 10 s).
    pub payload_timeout_ns: u64,
}

impl From<&ipc_limits> for Limits {
    fn from(l: &ipc_limits) -> Limits {
        Limits {
            max_message: l.max_message,
            max_depth: l.max_depth,
            payload_timeout: duration(l.payload_timeout_ns),
        }
    }
}

impl From<&Limits> for ipc_limits {
    fn from(l: &Limits) -> ipc_limits {
        ipc_limits {
            max_message: l.max_message,
            max_depth: l.max_depth,
            payload_timeout_ns: l.payload_timeout.map_or(IPC_FOREVER, |d| {
                u64::try_from(d.as_nanos()).unwrap_or(IPC_FOREVER - 1)
            }),
        }
    }
}

/// The kind of an `ipc_token`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ipc_token_kind {
    /// `nil`.
    IPC_TOKEN_NIL = 0,
    /// `boolean`.
    IPC_TOKEN_BOOL = 1,
    /// A non-negative integer in `uint`.
    IPC_TOKEN_UINT = 2,
    /// A negative integer in `sint` (non-negative ones are `UINT`).
    IPC_TOKEN_INT = 3,
    /// A `float 32` in `real`.
    IPC_TOKEN_F32 = 4,
    /// A `float 64` in `real`.
    IPC_TOKEN_F64 = 5,
    /// A UTF-8 string of `len` bytes, which follow.
    IPC_TOKEN_STR = 6,
    /// A byte string of `len` bytes, which follow.
    IPC_TOKEN_BIN = 7,
    /// An array of `len` values, which follow.
    IPC_TOKEN_ARRAY = 8,
    /// A map of `len` key-value pairs, which follow.
    IPC_TOKEN_MAP = 9,
}

/// The head of one MessagePack value.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ipc_token {
    /// What it is (an `ipc_token_kind`); the field below that goes with it
    /// holds its value.
    pub kind: u32,
    /// For `IPC_TOKEN_BOOL`.
    pub boolean: bool,
    /// For `IPC_TOKEN_UINT`.
    pub uint: u64,
    /// For `IPC_TOKEN_INT`.
    pub sint: i64,
    /// For `IPC_TOKEN_F32` and `IPC_TOKEN_F64`.
    pub real: f64,
    /// For `IPC_TOKEN_STR`, `_BIN`, `_ARRAY`, `_MAP`.
    pub len: u32,
}

impl From<Token> for ipc_token {
    fn from(t: Token) -> ipc_token {
        let mut out = ipc_token {
            kind: ipc_token_kind::IPC_TOKEN_NIL as u32,
            boolean: false,
            uint: 0,
            sint: 0,
            real: 0.0,
            len: 0,
        };
        match t {
            Token::Nil => {}
            Token::Bool(b) => (out.kind, out.boolean) = (ipc_token_kind::IPC_TOKEN_BOOL as u32, b),
            Token::Uint(v) => (out.kind, out.uint) = (ipc_token_kind::IPC_TOKEN_UINT as u32, v),
            Token::Int(v) => (out.kind, out.sint) = (ipc_token_kind::IPC_TOKEN_INT as u32, v),
            Token::F32(v) => {
                (out.kind, out.real) = (ipc_token_kind::IPC_TOKEN_F32 as u32, f64::from(v))
            }
            Token::F64(v) => (out.kind, out.real) = (ipc_token_kind::IPC_TOKEN_F64 as u32, v),
            Token::Str(n) => (out.kind, out.len) = (ipc_token_kind::IPC_TOKEN_STR as u32, n),
            Token::Bin(n) => (out.kind, out.len) = (ipc_token_kind::IPC_TOKEN_BIN as u32, n),
            Token::Array(n) => (out.kind, out.len) = (ipc_token_kind::IPC_TOKEN_ARRAY as u32, n),
            Token::Map(n) => (out.kind, out.len) = (ipc_token_kind::IPC_TOKEN_MAP as u32, n),
        }
        out
    }
}

/// Writes a payload into `encoder`; returns an `ipc_result` (anything but
/// `IPC_OK` cancels the message: it is not sent, and the send returns that
/// code). It may be called twice for one message (first to count, then to
/// write, for a message larger than the free space): it must write the same
/// bytes each time.
pub type ipc_encode_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, encoder: *mut ipc_encoder) -> u32>;

/// Reads a payload from `decoder` (what it leaves is skipped); returns an
/// `ipc_result`, which the receive returns.
pub type ipc_decode_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        header: *const ipc_header,
        decoder: *mut ipc_decoder,
    ) -> u32,
>;

/// An encode callback as the crates' encoder closures take it. The code it
/// returned, when it failed, lands in `failed`.
pub(crate) fn encoder<'a>(
    encode: unsafe extern "C" fn(*mut c_void, *mut ipc_encoder) -> u32,
    user: *mut c_void,
    id: u32,
    failed: &'a Cell<Option<ipc_result>>,
) -> impl FnMut(&mut dyn Sink) -> Result<(), ipc_msgpack::Error> + 'a {
    move |sink| {
        let mut encoder = Encoder(sink, None);
        let handle = (&mut encoder as *mut Encoder<'_>).cast::<ipc_encoder>();
        // SAFETY: the callback's contract: `user` is the caller's, the
        // encoder lives for the call.
        let code = unsafe { encode(user, handle) };
        match ipc_result::from_u32(code) {
            Some(ipc_result::IPC_OK) => Ok(()),
            // The span's own error, passed on (the free space ran out, which
            // the send answers with a second pass, or a timeout): the send
            // reports it as it is, not as the callback's failure.
            Some(passed) if matches!(&encoder.1, Some((c, _)) if *c == passed) => {
                Err(encoder.1.take().map(|(_, e)| e).expect("matched above"))
            }
            other => {
                failed.set(Some(other.unwrap_or(ipc_result::IPC_ENCODE)));
                Err(ipc_msgpack::Error::Encode {
                    id,
                    reason: "the encode callback failed".into(),
                })
            }
        }
    }
}

/// Runs a decode callback over a payload; its non-`IPC_OK` code comes back
/// as `Err`.
pub(crate) fn run_decode(
    decode: unsafe extern "C" fn(*mut c_void, *const ipc_header, *mut ipc_decoder) -> u32,
    user: *mut c_void,
    header: &Header,
    mut bytes: PayloadBytes<'_>,
) -> Result<(), ipc_result> {
    let h = ipc_header::from(header);
    let handle = (&mut bytes as *mut PayloadBytes<'_>).cast::<ipc_decoder>();
    // SAFETY: the callback's contract; the header and decoder live for the
    // call.
    let code = unsafe { decode(user, &h, handle) };
    match ipc_result::from_u32(code) {
        Some(ipc_result::IPC_OK) => Ok(()),
        other => Err(other.unwrap_or(ipc_result::IPC_MALFORMED)),
    }
}

/// The default limits (256 MiB, depth 64, 10 s for a message to finish).
///
/// Thread-safe; real-time safe.
///
/// # Safety
/// `limits_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_limits_default(limits_out: *mut ipc_limits) -> ipc_result {
    boundary!(non_null(limits_out) {
        // SAFETY: writable.
        unsafe { write_out(limits_out, ipc_limits::from(&Limits::default())) }
    })
}

/// Sends a message of ID `id` whose payload `encode` writes straight into
/// the ring, then commits it (one wake-up of the reader, if it sleeps).
/// Waits for space at most `timeout_ns`: a message that fits in the ring is
/// sent whole or not at all; a larger one streams, and a timeout partway
/// closes the writer (the reader sees the stream end inside a message).
///
/// Not thread-safe on one writer. Real-time safe if `encode` is (it
/// allocates nothing for a message that fits in the free space).
///
/// # Errors
/// What `encode` returned, `IPC_TIMEOUT`, `IPC_CLOSED`, `IPC_PEER_DIED`,
/// `IPC_ENCODE` (it wrote other bytes the second time).
///
/// # Safety
/// `writer` is valid; `encode` is a valid callback.
#[no_mangle]
pub unsafe extern "C" fn ipc_message_send(
    writer: *mut ipc_writer,
    id: u32,
    correlation: u32,
    flags: u8,
    timeout_ns: u64,
    encode: ipc_encode_fn,
    user: *mut c_void,
) -> ipc_result {
    boundary!(non_null(writer, encode) {
        let Some(encode) = encode else { return ipc_result::IPC_NULL_ARGUMENT };
        let Some(flags) = Flags::from_bits(flags) else {
            return ipc_result::IPC_INVALID_ARGUMENT;
        };
        // SAFETY: a valid writer, used by this thread only.
        let writer = unsafe { ipc_writer::get_mut(writer) };
        let failed = Cell::new(None);
        let sent = ipc_msgpack::send_raw(
            writer,
            id,
            correlation,
            flags,
            &deadline(timeout_ns),
            encoder(encode, user, id, &failed),
        );
        match (sent, failed.get()) {
            (Ok(()), _) => ipc_result::IPC_OK,
            (Err(_), Some(code)) => code,
            (Err(e), None) => fail(e),
        }
    })
}

/// Receives the next message, waiting at most `timeout_ns` for it, and
/// hands its envelope and payload to `decode`, which reads the payload in
/// place (what it leaves is skipped). A timeout before the message began
/// consumes nothing.
///
/// Not thread-safe on one reader. Real-time safe if `decode` is.
///
/// # Errors
/// What `decode` returned (the stream stays usable), `IPC_TIMEOUT`,
/// `IPC_CLOSED` at the end of the stream, `IPC_PEER_DIED`, `IPC_FRAMING`,
/// `IPC_TOO_LARGE` (the message was skipped).
///
/// # Safety
/// `reader` and `limits` are valid; `decode` is a valid callback.
#[no_mangle]
pub unsafe extern "C" fn ipc_message_recv(
    reader: *mut ipc_reader,
    limits: *const ipc_limits,
    timeout_ns: u64,
    decode: ipc_decode_fn,
    user: *mut c_void,
) -> ipc_result {
    boundary!(non_null(reader, limits, decode) {
        let Some(decode) = decode else { return ipc_result::IPC_NULL_ARGUMENT };
        // SAFETY: a valid reader, used by this thread only; valid limits.
        let (reader, limits) = unsafe { (ipc_reader::get_mut(reader), Limits::from(&*limits)) };
        let got = ipc_msgpack::recv_with_deadline(reader, &limits, &deadline(timeout_ns), |h, p| {
            Ok(run_decode(decode, user, h, p.bytes()))
        });
        match try_ipc!(got) {
            Ok(()) => ipc_result::IPC_OK,
            Err(code) => code,
        }
    })
}
