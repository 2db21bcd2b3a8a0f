//! Messages over any byte stream (`io::Write`/`io::Read`): a Unix socket, a
//! pipe, the old transport. Same envelope and payload as over a channel, and
//! the same names: [`send`], [`recv_header`], [`recv_payload`], [`skip`],
//! [`recv`]. Timeouts are the stream's own (a socket's read timeout, say).

use crate::envelope::{Flags, Header, HEADER_LEN};
use crate::source::{Plain, ReadSource};
use crate::{decode_from, finish, Error, Limits, Message};
use serde::de::{DeserializeOwned, DeserializeSeed};
use std::io::{self, Read};
use std::marker::PhantomData;

/// Writes envelope and payload of `msg`; returns the bytes written. Small
/// values are gathered into writes of 16 KiB, large byte strings written
/// straight through, so an unbuffered socket needs no `BufWriter`.
///
/// # Errors
/// [`Error::Encode`] (nothing written) or [`Error::Io`].
pub fn send<M: Message + ?Sized, W: io::Write>(
    out: &mut W,
    msg: &M,
    correlation: u32,
    flags: Flags,
) -> Result<usize, Error> {
    crate::encode::write_message(out, msg, correlation, flags)
}

/// Reads the next envelope.
///
/// # Errors
/// [`Error::Io`], [`Error::Framing`], or [`Error::TooLarge`] after skipping
/// the oversized payload.
pub fn recv_header<R: io::Read>(input: &mut R, limits: &Limits) -> Result<Header, Error> {
    let mut b = [0u8; HEADER_LEN];
    input.read_exact(&mut b).map_err(Error::from_io)?;
    match Header::parse(&b, limits.max_message) {
        Err(Error::TooLarge { id, len, max }) => {
            skip(input, &Header::new(id, len))?;
            Err(Error::TooLarge { id, len, max })
        }
        other => other,
    }
}

/// Decodes the payload announced by `header`, consuming all of it.
///
/// # Errors
/// [`Error::Malformed`] naming the message ID, or [`Error::Io`].
pub fn recv_payload<T: DeserializeOwned, R: io::Read>(
    input: &mut R,
    header: &Header,
    limits: &Limits,
) -> Result<T, Error> {
    recv_payload_seed(input, header, limits, PhantomData::<T>)
}

/// Like [`recv_payload`] with a `DeserializeSeed`.
///
/// # Errors
/// As for [`recv_payload`].
pub fn recv_payload_seed<S, V, R: io::Read>(
    input: &mut R,
    header: &Header,
    limits: &Limits,
    seed: S,
) -> Result<V, Error>
where
    S: for<'de> DeserializeSeed<'de, Value = V>,
{
    let mut src = ReadSource::new(Plain(input), header.len as usize);
    let result = decode_from(&mut src, seed, header.id, limits);
    finish(result, || src.drain())
}

/// Consumes the payload announced by `header` without decoding it.
///
/// # Errors
/// [`Error::Io`].
pub fn skip<R: io::Read>(input: &mut R, header: &Header) -> Result<(), Error> {
    let copied = io::copy(
        &mut input.by_ref().take(u64::from(header.len)),
        &mut io::sink(),
    )
    .map_err(Error::from_io)?;
    if copied != u64::from(header.len) {
        return Err(Error::from_io(io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(())
}

/// Reads the next message, which must be an `M`.
///
/// # Errors
/// [`Error::UnexpectedId`] (payload skipped) if another ID arrived.
pub fn recv<M: Message + DeserializeOwned, R: io::Read>(
    input: &mut R,
    limits: &Limits,
) -> Result<(Header, M), Error> {
    let header = recv_header(input, limits)?;
    crate::expect_id::<M>(&header, || skip(input, &header))?;
    Ok((header, recv_payload(input, &header, limits)?))
}
