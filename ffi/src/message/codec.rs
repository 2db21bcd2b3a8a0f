//! Layer II in C, inside the callbacks: the encoder's spans and tokens, the
//! decoder's chunks and tokens, all bounds-checked.

use super::{ipc_decoder, ipc_encoder, ipc_token};
use crate::boundary::{boundary, fail, ipc_result, try_ipc, write_out, Handle};
use ipc_msgpack::Token;

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
