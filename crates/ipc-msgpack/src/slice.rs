//! Messages in memory: the same names as over a channel or a stream, over a
//! `Vec<u8>` to append to and a `&[u8]` cursor to read from (which
//! [`recv_payload`] can borrow strings and byte strings from). For tests,
//! fuzzing, and transports that hand over whole buffers.

use crate::envelope::{Flags, Header, HEADER_LEN};
use crate::source::SliceSource;
use crate::{decode_from, Error, Limits, Message};
use serde::de::{Deserialize, DeserializeSeed};
use std::marker::PhantomData;

/// Appends envelope and payload of `msg` to `out`; returns the bytes added.
///
/// # Errors
/// [`Error::Encode`] (nothing appended).
pub fn send<M: Message + ?Sized>(
    out: &mut Vec<u8>,
    msg: &M,
    correlation: u32,
    flags: Flags,
) -> Result<usize, Error> {
    crate::encode::append_message(out, msg, correlation, flags)
}

/// `msg` with its envelope, in a new vector.
///
/// # Errors
/// [`Error::Encode`].
pub fn to_vec<M: Message + ?Sized>(
    msg: &M,
    correlation: u32,
    flags: Flags,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    send(&mut out, msg, correlation, flags)?;
    Ok(out)
}

/// Reads the envelope at the front of `input` and advances past it; the
/// payload follows (checked to be all there).
///
/// # Errors
/// [`Error::Framing`] for a bad envelope or a message cut short,
/// [`Error::TooLarge`] (the payload is skipped too).
pub fn recv_header(input: &mut &[u8], limits: &Limits) -> Result<Header, Error> {
    let (head, rest) = input
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(Error::Framing("the stream ended inside an envelope"))?;
    let parsed = Header::parse(head, limits.max_message);
    let len = match &parsed {
        Ok(h) => h.len,
        Err(Error::TooLarge { len, .. }) => *len,
        Err(_) => return parsed,
    } as usize;
    if rest.len() < len {
        return Err(Error::Framing("the stream ended inside a message"));
    }
    *input = rest;
    if parsed.is_err() {
        *input = &rest[len..];
    }
    parsed
}

/// Decodes the payload announced by `header` from the front of `input` and
/// advances past it, whatever the outcome. Borrowed fields (`&str`, `&[u8]`
/// with `serde_bytes`) point into `input`.
///
/// # Errors
/// [`Error::Framing`] if the payload is not all there (nothing consumed),
/// [`Error::TooLarge`] for a payload above the limit (skipped undecoded),
/// [`Error::Malformed`].
pub fn recv_payload<'de, T: Deserialize<'de>>(
    input: &mut &'de [u8],
    header: &Header,
    limits: &Limits,
) -> Result<T, Error> {
    recv_payload_seed(input, header, limits, PhantomData::<T>)
}

/// Like [`recv_payload`] with a `DeserializeSeed`.
///
/// # Errors
/// As for [`recv_payload`].
pub fn recv_payload_seed<'de, S: DeserializeSeed<'de>>(
    input: &mut &'de [u8],
    header: &Header,
    limits: &Limits,
    seed: S,
) -> Result<S::Value, Error> {
    let len = header.len as usize;
    if len > limits.max_message as usize {
        // Skipped undecoded, as `recv_header` skips it: the cursor moves on.
        if let Some(rest) = input.get(len..) {
            *input = rest;
        }
        return Err(Error::TooLarge {
            id: header.id,
            len: header.len,
            max: limits.max_message,
        });
    }
    let (payload, rest) = input
        .split_at_checked(len)
        .ok_or(Error::Framing("the stream ended inside a message"))?;
    *input = rest;
    decode_from(&mut SliceSource::new(payload), seed, header.id, limits)
}

/// Advances past the payload announced by `header`.
///
/// # Errors
/// [`Error::Framing`] if it is not all there.
pub fn skip(input: &mut &[u8], header: &Header) -> Result<(), Error> {
    let rest = input
        .get(header.len as usize..)
        .ok_or(Error::Framing("the stream ended inside a message"))?;
    *input = rest;
    Ok(())
}

/// Reads the message at the front of `input`, which must be an `M`.
///
/// # Errors
/// [`Error::UnexpectedId`] (payload skipped) if another ID is there;
/// otherwise as [`recv_header`] and [`recv_payload`].
pub fn recv<'de, M: Message + Deserialize<'de>>(
    input: &mut &'de [u8],
    limits: &Limits,
) -> Result<(Header, M), Error> {
    let header = recv_header(input, limits)?;
    crate::expect_id::<M>(&header, || skip(input, &header))?;
    Ok((header, recv_payload(input, &header, limits)?))
}
