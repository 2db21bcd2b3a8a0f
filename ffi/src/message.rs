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

/// The next span of ring memory to write the payload into; write into it,
/// then `ipc_encoder_advance` by what was written. Valid until the next
/// call on this encoder.
///
/// Real-time safe. Only within the encode callback.
///
/// # Errors
/// `IPC_TIMEOUT` (a message larger than the ring waits for space),
/// `IPC_ENCODE` (more bytes than the message was counted with).
///
/// # Safety
/// `encoder` is the callback's; `span_out` and `len_out` are writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_encoder_span(
    encoder: *mut ipc_encoder,
    span_out: *mut *mut u8,
    len_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(encoder, span_out, len_out) {
        // SAFETY: the callback's encoder.
        let encoder = unsafe { ipc_encoder::get_mut(encoder) };
        let span = match encoder.0.span() {
            Ok(span) => span,
            Err(e) => {
                let code = fail(e.clone());
                encoder.1 = Some((code, e));
                return code;
            }
        };
        // SAFETY: writable.
        unsafe {
            span_out.write(span.as_mut_ptr());
            len_out.write(span.len());
        }
        ipc_result::IPC_OK
    })
}

/// Marks the first `n` bytes of the last span as written.
///
/// Real-time safe. Only within the encode callback.
///
/// # Safety
/// `encoder` is the callback's; `n` is at most the last span's length.
#[no_mangle]
pub unsafe extern "C" fn ipc_encoder_advance(encoder: *mut ipc_encoder, n: usize) -> ipc_result {
    boundary!(non_null(encoder) {
        // SAFETY: the callback's encoder.
        unsafe { ipc_encoder::get_mut(encoder) }.0.advance(n);
        ipc_result::IPC_OK
    })
}

/// Copies `len` bytes into the payload (pre-encoded MessagePack).
///
/// Real-time safe. Only within the encode callback.
///
/// # Safety
/// `encoder` is the callback's; `bytes` has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ipc_encoder_write(
    encoder: *mut ipc_encoder,
    bytes: *const u8,
    len: usize,
) -> ipc_result {
    boundary!(non_null(encoder, bytes) {
        // SAFETY: the callback's encoder; `len` readable bytes.
        let (encoder, bytes) = unsafe { (ipc_encoder::get_mut(encoder), std::slice::from_raw_parts(bytes, len)) };
        try_ipc!(encoder.0.put(bytes));
        ipc_result::IPC_OK
    })
}

/// Writes the head of one value, in the smallest format that holds it (as
/// the Rust side writes it): a string's or byte string's bytes follow with
/// `ipc_encoder_write`, an array's or map's values with more calls.
///
/// Real-time safe. Only within the encode callback.
///
/// # Safety
/// `encoder` is the callback's; `token` is valid.
#[no_mangle]
pub unsafe extern "C" fn ipc_encode_token(
    encoder: *mut ipc_encoder,
    token: *const ipc_token,
) -> ipc_result {
    boundary!(non_null(encoder, token) {
        // SAFETY: the callback's encoder; a readable token (any bits: the
        // kind is checked below).
        // Only the fields its kind names are read: the others may hold
        // anything (even invalid `bool` bits).
        let encoder = unsafe { ipc_encoder::get_mut(encoder) };
        // SAFETY: `token` is readable; each field is read on its own.
        let token = unsafe {
            match (*token).kind {
                0 => Token::Nil,
                1 => Token::Bool((*token).boolean),
                2 => Token::Uint((*token).uint),
                3 => Token::Int((*token).sint),
                4 => Token::F32((*token).real as f32),
                5 => Token::F64((*token).real),
                6 => Token::Str((*token).len),
                7 => Token::Bin((*token).len),
                8 => Token::Array((*token).len),
                9 => Token::Map((*token).len),
                _ => return ipc_result::IPC_INVALID_ARGUMENT,
            }
        };
        try_ipc!(ipc_msgpack::write_token(encoder.0, token));
        ipc_result::IPC_OK
    })
}

/// Writes a string (head and `len` bytes of UTF-8; not checked here: the
/// receiver checks).
///
/// Real-time safe. Only within the encode callback.
///
/// # Safety
/// `encoder` is the callback's; `s` has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ipc_encode_str(
    encoder: *mut ipc_encoder,
    s: *const u8,
    len: u32,
) -> ipc_result {
    boundary!(non_null(encoder, s) {
        // SAFETY: as for `ipc_encoder_write`.
        let (encoder, bytes) = unsafe { (ipc_encoder::get_mut(encoder), std::slice::from_raw_parts(s, len as usize)) };
        try_ipc!(ipc_msgpack::write_token(encoder.0, Token::Str(len)));
        try_ipc!(encoder.0.put(bytes));
        ipc_result::IPC_OK
    })
}

/// Writes a byte string (MessagePack `bin`, what Rust's `serde_bytes`
/// reads): head and `len` bytes.
///
/// Real-time safe. Only within the encode callback.
///
/// # Safety
/// `encoder` is the callback's; `data` has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ipc_encode_bin(
    encoder: *mut ipc_encoder,
    data: *const u8,
    len: u32,
) -> ipc_result {
    boundary!(non_null(encoder, data) {
        // SAFETY: as for `ipc_encoder_write`.
        let (encoder, bytes) = unsafe { (ipc_encoder::get_mut(encoder), std::slice::from_raw_parts(data, len as usize)) };
        try_ipc!(ipc_msgpack::write_token(encoder.0, Token::Bin(len)));
        try_ipc!(encoder.0.put(bytes));
        ipc_result::IPC_OK
    })
}

/// Payload bytes the decoder has not consumed.
///
/// Real-time safe. Only within the decode callback.
///
/// # Safety
/// `decoder` is the callback's; `remaining_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_decoder_remaining(
    decoder: *const ipc_decoder,
    remaining_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(decoder, remaining_out) {
        // SAFETY: the callback's decoder; writable.
        unsafe { write_out(remaining_out, ipc_decoder::get(decoder).remaining()) }
    })
}

/// The next bytes of the payload, in place (an empty chunk once all is
/// consumed); valid until the next call on this decoder. They come from
/// the peer: untrusted input.
///
/// Real-time safe. Only within the decode callback.
///
/// # Errors
/// `IPC_TIMEOUT` (the rest did not arrive in time), `IPC_CLOSED`,
/// `IPC_PEER_DIED`.
///
/// # Safety
/// `decoder` is the callback's; `chunk_out` and `len_out` are writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_decoder_chunk(
    decoder: *mut ipc_decoder,
    chunk_out: *mut *const u8,
    len_out: *mut usize,
) -> ipc_result {
    boundary!(non_null(decoder, chunk_out, len_out) {
        // SAFETY: the callback's decoder.
        let chunk = try_ipc!(unsafe { ipc_decoder::get_mut(decoder) }.chunk());
        // SAFETY: writable.
        unsafe {
            chunk_out.write(chunk.as_ptr());
            len_out.write(chunk.len());
        }
        ipc_result::IPC_OK
    })
}

/// Consumes the first `n` bytes of the last chunk.
///
/// Real-time safe. Only within the decode callback.
///
/// # Errors
/// `IPC_FRAMING` if `n` is more than the chunk held.
///
/// # Safety
/// `decoder` is the callback's.
#[no_mangle]
pub unsafe extern "C" fn ipc_decoder_consume(decoder: *mut ipc_decoder, n: usize) -> ipc_result {
    boundary!(non_null(decoder) {
        // SAFETY: the callback's decoder.
        try_ipc!(unsafe { ipc_decoder::get_mut(decoder) }.consume(n));
        ipc_result::IPC_OK
    })
}

/// Copies the next `len` payload bytes into `buf`.
///
/// Real-time safe. Only within the decode callback.
///
/// # Errors
/// `IPC_END` if fewer are left; as for `ipc_decoder_chunk`.
///
/// # Safety
/// `decoder` is the callback's; `buf` has `len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn ipc_decoder_read(
    decoder: *mut ipc_decoder,
    buf: *mut u8,
    len: usize,
) -> ipc_result {
    boundary!(non_null(decoder, buf) {
        // SAFETY: the callback's decoder; `len` writable bytes.
        let (decoder, buf) = unsafe { (ipc_decoder::get_mut(decoder), std::slice::from_raw_parts_mut(buf, len)) };
        if len > decoder.remaining() {
            return ipc_result::IPC_END;
        }
        try_ipc!(decoder.read_exact(buf));
        ipc_result::IPC_OK
    })
}

/// Reads the head of the next value. A length it announces has been
/// checked against the payload bytes left.
///
/// Real-time safe. Only within the decode callback.
///
/// # Errors
/// `IPC_END` at the end of the payload, `IPC_MALFORMED` for what is not a
/// supported value head or a length longer than what is left.
///
/// # Safety
/// `decoder` is the callback's; `token_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ipc_decode_token(
    decoder: *mut ipc_decoder,
    token_out: *mut ipc_token,
) -> ipc_result {
    boundary!(non_null(decoder, token_out) {
        // SAFETY: the callback's decoder.
        let decoder = unsafe { ipc_decoder::get_mut(decoder) };
        if decoder.remaining() == 0 {
            return ipc_result::IPC_END;
        }
        let token = try_ipc!(decoder.next_token());
        // SAFETY: writable.
        unsafe { write_out(token_out, token.into()) }
    })
}

/// Skips one whole value, nested ones included (at most `max_depth` deep).
///
/// Real-time safe. Only within the decode callback.
///
/// # Errors
/// As for `ipc_decode_token`.
///
/// # Safety
/// `decoder` is the callback's.
#[no_mangle]
pub unsafe extern "C" fn ipc_decode_skip(decoder: *mut ipc_decoder, max_depth: u32) -> ipc_result {
    boundary!(non_null(decoder) {
        // SAFETY: the callback's decoder.
        try_ipc!(unsafe { ipc_decoder::get_mut(decoder) }.skip_value(max_depth));
        ipc_result::IPC_OK
    })
}
