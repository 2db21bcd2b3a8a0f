//! Messages over a Layer I channel: encoded straight into the ring, decoded
//! straight out of it.
//!
//! Every function that may wait comes in three forms, as in Layer I: `x`
//! waits as long as it takes (and still reports a closed or dead peer),
//! `try_x` never waits for a message to begin, `x_timeout(d)` waits at most
//! `d` for all of it. Once an envelope has arrived, the rest of its message
//! must arrive within [`Limits::payload_timeout`] as well, whatever the
//! form: a peer that stops in the middle of a message cannot hold a
//! receiver for longer.

use crate::envelope::{Flags, Header, HEADER_LEN};
use crate::source::{ReadSource, SliceSource, SplitSource};
use crate::{decode_from, finish, Error, Limits, Message};
use ipc_channel_shm::{Deadline, Error as ChannelError, Peek, Reader, Writer};
use serde::de::{DeserializeOwned, DeserializeSeed};
use std::io;
use std::marker::PhantomData;
use std::time::Duration;

mod payload;

pub use payload::Payload;
use payload::{Kind, TimedReader};

/// The deadline for the rest of a message whose envelope has arrived: the
/// call's own (a `try_` call's "now" does not apply any more: the message
/// has begun), and at most [`Limits::payload_timeout`] from now.
fn rest_of_message(deadline: &Deadline, limits: &Limits) -> Deadline {
    if deadline.is_now() {
        Deadline::never().within(limits.payload_timeout)
    } else {
        deadline.within(limits.payload_timeout)
    }
}

/// Waits for at least `min` readable bytes until `deadline`.
#[inline]
fn peek<'r>(
    reader: &'r mut Reader,
    min: usize,
    deadline: &Deadline,
) -> Result<Peek<'r>, ChannelError> {
    reader.peek_deadline(min, deadline)
}

/// Appends the zero bytes that put the next message where the writer's
/// alignment wants it ([`Writer::set_align`]; nothing without one).
///
/// # Errors
/// As for [`Writer::append_deadline`] (nothing of the message is written
/// yet; padding already appended stays in front of the next one).
#[inline]
pub(crate) fn pad(writer: &mut Writer, deadline: &Deadline) -> Result<(), Error> {
    const ZEROS: [u8; 64] = [0; 64];
    let mut left = writer.padding();
    while left > 0 {
        left -= writer.append_deadline(&ZEROS[..left], deadline)?;
    }
    Ok(())
}

/// Skips the bytes in front of the next envelope at the reader's alignment
/// ([`Reader::set_align`]; nothing without one), consumed without handing
/// the space back yet (the envelope's consume does).
///
/// # Errors
/// As for the envelope's wait; [`Error::Framing`] or the channel's error
/// if the stream ends inside them.
#[inline]
fn skip_padding(reader: &mut Reader, deadline: &Deadline) -> Result<(), Error> {
    let n = reader.padding();
    if n == 0 {
        return Ok(());
    }
    let peek = peek(reader, n, deadline)?;
    if peek.len() < n {
        let got = peek.len();
        peek.consume(got);
        return Err(ended_inside_a_message(reader));
    }
    peek.consume_deferred(n);
    Ok(())
}

/// A wait inside a message (its envelope consumed) ended in `e`. A timeout
/// leaves the reader in the middle of the message, where nothing can be
/// followed: the reader is closed ([`Reader::close`]), as a writer is when
/// a send is cut, so that the next call says `Closed` instead of taking the
/// rest for a message.
#[cold]
fn cut_inside_a_message(reader: &mut Reader, e: ChannelError) -> ChannelError {
    if matches!(e, ChannelError::Timeout) {
        reader.close();
    }
    e
}

/// Encodes `msg` with its envelope into the ring and commits it: the reader
/// is woken once (if it sleeps), whatever the size of the message. Waits for
/// space as long as needed; a message larger than the ring streams through
/// it.
///
/// # Errors
/// [`Error::Encode`] if the value cannot be serialised (nothing was written),
/// [`Error::Channel`] if the channel fails.
#[inline]
pub fn send<M: Message + ?Sized>(
    writer: &mut Writer,
    msg: &M,
    correlation: u32,
    flags: Flags,
) -> Result<(), Error> {
    send_deadline(writer, msg, correlation, flags, &Deadline::never())
}

/// Like [`send`], without waiting for space.
///
/// # Errors
/// `Error::Channel(Timeout)` if the message does not fit in the free space
/// now (nothing was written); otherwise as for [`send`].
#[inline]
pub fn try_send<M: Message + ?Sized>(
    writer: &mut Writer,
    msg: &M,
    correlation: u32,
    flags: Flags,
) -> Result<(), Error> {
    send_deadline(writer, msg, correlation, flags, &Deadline::now())
}

/// Like [`send`], waiting for space at most `timeout`.
///
/// A message that fits in the ring is written only once there is room for
/// all of it, so a timeout leaves nothing behind and the channel usable. A
/// message larger than the ring must stream: if the reader stops taking it
/// partway, the message is cut, and the writer is closed (the reader sees
/// the stream end inside a message) so that nothing else can be mistaken
/// for its rest.
///
/// # Errors
/// `Error::Channel(Timeout)` when the deadline passes; otherwise as for
/// [`send`].
#[inline]
pub fn send_timeout<M: Message + ?Sized>(
    writer: &mut Writer,
    msg: &M,
    correlation: u32,
    flags: Flags,
    timeout: Duration,
) -> Result<(), Error> {
    send_deadline(writer, msg, correlation, flags, &Deadline::after(timeout))
}

/// Like [`send_timeout`], waiting until `deadline` (which may span this
/// send and the wait for its reply).
///
/// # Errors
/// As for [`send_timeout`].
#[inline]
pub fn send_deadline<M: Message + ?Sized>(
    writer: &mut Writer,
    msg: &M,
    correlation: u32,
    flags: Flags,
    deadline: &Deadline,
) -> Result<(), Error> {
    crate::encode::write_to_channel(writer, msg, correlation, flags, deadline)?;
    writer.commit()?;
    Ok(())
}

/// `io::Write` over a channel writer with an overall deadline.
pub(crate) struct TimedWriter<'a> {
    pub(crate) writer: &'a mut Writer,
    pub(crate) deadline: &'a Deadline,
}

impl io::Write for TimedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer
            .append_deadline(buf, self.deadline)
            .map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads the next envelope, waiting as long as it takes. Its payload must
/// be read next, with [`recv_payload`] (or [`skip`]).
///
/// # Errors
/// [`Error::Channel`] (`Closed` at the end of the stream, `PeerDied`),
/// [`Error::Framing`], or [`Error::TooLarge`] after skipping the oversized
/// payload.
#[inline]
pub fn recv_header(reader: &mut Reader, limits: &Limits) -> Result<Header, Error> {
    recv_header_deadline(reader, limits, &Deadline::never())
}

/// Like [`recv_header`], without waiting.
///
/// # Errors
/// `Error::Channel(Timeout)` if no envelope is there (nothing consumed).
#[inline]
pub fn try_recv_header(reader: &mut Reader, limits: &Limits) -> Result<Header, Error> {
    recv_header_deadline(reader, limits, &Deadline::now())
}

/// Like [`recv_header`], waiting at most `timeout` for the envelope; a
/// timeout consumes nothing. (An oversized message is skipped within the
/// payload bound.)
///
/// # Errors
/// `Error::Channel(Timeout)`, or as for [`recv_header`].
#[inline]
pub fn recv_header_timeout(
    reader: &mut Reader,
    limits: &Limits,
    timeout: Duration,
) -> Result<Header, Error> {
    recv_header_deadline(reader, limits, &Deadline::after(timeout))
}

/// Like [`recv_header_timeout`], waiting until `deadline`.
///
/// # Errors
/// As for [`recv_header_timeout`].
#[inline]
pub fn recv_header_deadline(
    reader: &mut Reader,
    limits: &Limits,
    deadline: &Deadline,
) -> Result<Header, Error> {
    skip_padding(reader, deadline)?;
    let peek = peek(reader, HEADER_LEN, deadline)?;
    let Some(b) = envelope_bytes(&peek) else {
        let n = peek.len();
        peek.consume(n);
        return Err(ended_inside_a_message(reader));
    };
    // The payload follows at once: its consume hands both back together.
    peek.consume_deferred(HEADER_LEN);
    Header::parse(&b, limits.max_message)
        .map_err(|e| skip_if_too_large(reader, e, limits, deadline))
}

/// The 16 envelope bytes at the front of `peek`, across the wrap if need be;
/// `None` if fewer arrived (the stream ended inside the envelope).
#[inline]
fn envelope_bytes(peek: &Peek<'_>) -> Option<[u8; HEADER_LEN]> {
    envelope_bytes_at(peek, 0)
}

/// The 16 envelope bytes `at` bytes into `peek` (see [`envelope_bytes`]).
#[inline]
fn envelope_bytes_at(peek: &Peek<'_>, at: usize) -> Option<[u8; HEADER_LEN]> {
    let (first, second) = peek.as_slices();
    let (first, second) = match first.get(at..) {
        Some(rest) => (rest, second),
        None => (&[][..], second.get(at - first.len()..)?),
    };
    if let Some(whole) = first.first_chunk::<HEADER_LEN>() {
        return Some(*whole);
    }
    let rest = second.get(..HEADER_LEN.checked_sub(first.len())?)?;
    let mut b = [0u8; HEADER_LEN];
    b[..first.len()].copy_from_slice(first);
    b[first.len()..].copy_from_slice(rest);
    Some(b)
}

/// The stream ended inside a message (the peer closed or died partway, and
/// what arrived has been consumed): why it ended.
#[cold]
fn ended_inside_a_message(reader: &mut Reader) -> Error {
    match reader.try_peek(1) {
        Err(e @ (ChannelError::Closed | ChannelError::PeerDied | ChannelError::Corrupted(_))) => {
            Error::Channel(e)
        }
        _ => Error::Framing("the stream ended inside a message"),
    }
}

/// An envelope refused by [`Header::parse`]: an oversized payload is
/// skipped (its envelope already consumed) so that the stream goes on.
#[cold]
fn skip_if_too_large(reader: &mut Reader, e: Error, limits: &Limits, deadline: &Deadline) -> Error {
    match e {
        Error::TooLarge { id, len, max } => {
            match skip_bytes(reader, len as usize, &rest_of_message(deadline, limits)) {
                Ok(()) => Error::TooLarge { id, len, max },
                Err(e) => e,
            }
        }
        other => other,
    }
}

/// Waits until `deadline` for the next message to be there whole when it
/// fits in the ring (its envelope, when it does not), consuming nothing: a
/// timeout leaves the stream as it was, so a wait that must end by its own
/// deadline never takes in a message that stops partway. An envelope the
/// receive would refuse ends the wait at once (the receive reports it).
/// A [`try_recv_with`] afterwards then reads a message that fits without
/// waiting.
///
/// # Errors
/// `Error::Channel(Timeout)` (nothing consumed), or the channel's error.
pub fn wait_whole_deadline(
    reader: &mut Reader,
    limits: &Limits,
    deadline: &Deadline,
) -> Result<(), Error> {
    let capacity = reader.capacity();
    let pad = reader.padding();
    let front = pad + HEADER_LEN;
    let envelope = envelope_bytes_at(&peek(reader, front, deadline)?, pad);
    let whole = envelope
        .and_then(|b| Header::parse(&b, limits.max_message).ok())
        .and_then(|h| front.checked_add(h.len as usize))
        .filter(|&n| n <= capacity);
    if let Some(n) = whole {
        peek(reader, n, deadline)?;
    }
    Ok(())
}

/// Receives the next message whole and hands its envelope and payload to
/// `f`, which decodes the payload (or not: an undecoded payload is
/// skipped). Waits as long as it takes for the envelope.
///
/// When the whole message is already in the ring, which is the rule for
/// messages sent with [`send`] into a ring with room, envelope and payload
/// are read from one look at the ring and handed back to the writer
/// together; otherwise the payload is waited for and streamed as by
/// [`recv_payload`]. The payload is consumed whatever `f` returns.
///
/// # Errors
/// As for [`recv_header`], then whatever `f` returns, or [`Error::Channel`]
/// while skipping a payload `f` left.
#[inline]
pub fn recv_with<R>(
    reader: &mut Reader,
    limits: &Limits,
    f: impl FnOnce(&Header, Payload<'_>) -> Result<R, Error>,
) -> Result<R, Error> {
    recv_with_deadline(reader, limits, &Deadline::never(), f)
}

/// Like [`recv_with`], without waiting for a message to begin.
///
/// # Errors
/// `Error::Channel(Timeout)` if no envelope is there (nothing consumed);
/// otherwise as for [`recv_with`].
#[inline]
pub fn try_recv_with<R>(
    reader: &mut Reader,
    limits: &Limits,
    f: impl FnOnce(&Header, Payload<'_>) -> Result<R, Error>,
) -> Result<R, Error> {
    recv_with_deadline(reader, limits, &Deadline::now(), f)
}

/// Like [`recv_with`], waiting at most `timeout` for the whole message. A
/// timeout before the envelope arrived consumes nothing; one while its
/// payload is still arriving leaves the stream inside the message
/// (`Error::Channel(Timeout)`, [`Error::stream_usable`] false) and closes
/// the reader, so that later calls return `Closed`.
///
/// # Errors
/// As for [`recv_with`].
#[inline]
pub fn recv_with_timeout<R>(
    reader: &mut Reader,
    limits: &Limits,
    timeout: Duration,
    f: impl FnOnce(&Header, Payload<'_>) -> Result<R, Error>,
) -> Result<R, Error> {
    recv_with_deadline(reader, limits, &Deadline::after(timeout), f)
}

/// Like [`recv_with_timeout`], waiting until `deadline` (which may have
/// started with the send of a request this message answers).
///
/// # Errors
/// As for [`recv_with`].
#[inline]
pub fn recv_with_deadline<R>(
    reader: &mut Reader,
    limits: &Limits,
    deadline: &Deadline,
    f: impl FnOnce(&Header, Payload<'_>) -> Result<R, Error>,
) -> Result<R, Error> {
    skip_padding(reader, deadline)?;
    let peek = peek(reader, HEADER_LEN, deadline)?;
    let Some(b) = envelope_bytes(&peek) else {
        let n = peek.len();
        peek.consume(n);
        return Err(ended_inside_a_message(reader));
    };
    let header = match Header::parse(&b, limits.max_message) {
        Ok(h) => h,
        Err(e) => {
            peek.consume_deferred(HEADER_LEN);
            return Err(skip_if_too_large(reader, e, limits, deadline));
        }
    };
    let len = header.len as usize;
    let total = HEADER_LEN.saturating_add(len);
    if peek.len() >= total {
        // The whole message is here: decode it where it lies.
        let (first, second) = peek.as_slices();
        let (a, b) = if first.len() >= total {
            (&first[HEADER_LEN..total], &[][..])
        } else if first.len() >= HEADER_LEN {
            (&first[HEADER_LEN..], &second[..total - first.len()])
        } else {
            let start = HEADER_LEN - first.len();
            (&second[start..start + len], &[][..])
        };
        let payload = Payload {
            kind: Kind::Ring(a, b),
            id: header.id,
            limits,
        };
        let result = f(&header, payload);
        peek.consume(total);
        return result;
    }
    // The rest is still coming (or larger than the ring): read it as it
    // arrives, within the payload's own bound.
    peek.consume_deferred(HEADER_LEN);
    let deadline = rest_of_message(deadline, limits);
    let mut consumed = 0;
    let payload = Payload {
        kind: Kind::Stream {
            reader: &mut *reader,
            header,
            deadline: &deadline,
            consumed: &mut consumed,
        },
        id: header.id,
        limits,
    };
    let result = f(&header, payload);
    if consumed < len {
        skip_bytes(reader, len - consumed, &deadline)?;
    }
    result
}

/// Decodes the payload announced by `header` as a `T`. The whole payload is
/// consumed whatever happens, so a malformed one leaves the stream at the
/// next envelope. Waits at most [`Limits::payload_timeout`] for it.
///
/// # Errors
/// [`Error::Malformed`] naming the message ID, or [`Error::Channel`].
#[inline]
pub fn recv_payload<T: DeserializeOwned>(
    reader: &mut Reader,
    header: &Header,
    limits: &Limits,
) -> Result<T, Error> {
    recv_payload_seed(reader, header, limits, PhantomData::<T>)
}

/// Like [`recv_payload`] with a `DeserializeSeed`, e.g. [`FramesInto`](crate::FramesInto)
/// to decode samples into a caller's buffer without allocating.
///
/// # Errors
/// As for [`recv_payload`].
#[inline]
pub fn recv_payload_seed<S, V>(
    reader: &mut Reader,
    header: &Header,
    limits: &Limits,
    seed: S,
) -> Result<V, Error>
where
    S: for<'de> DeserializeSeed<'de, Value = V>,
{
    let deadline = Deadline::never().within(limits.payload_timeout);
    payload_within(reader, header, limits, seed, &deadline)
}

fn payload_within<S, V>(
    reader: &mut Reader,
    header: &Header,
    limits: &Limits,
    seed: S,
    deadline: &Deadline,
) -> Result<V, Error>
where
    S: for<'de> DeserializeSeed<'de, Value = V>,
{
    let len = header.len as usize;
    if len <= reader.capacity() {
        // The whole payload fits in the ring: decode it in place.
        let peek = match peek(reader, len, deadline) {
            Ok(peek) => peek,
            Err(e) => return Err(Error::Channel(cut_inside_a_message(reader, e))),
        };
        if peek.len() < len {
            let n = peek.len();
            peek.consume(n);
            return Err(ended_inside_a_message(reader));
        }
        let (a, b) = peek.as_slices();
        let result = if a.len() >= len {
            decode_from(&mut SliceSource::new(&a[..len]), seed, header.id, limits)
        } else {
            decode_from(
                &mut SplitSource::new(a, &b[..len - a.len()]),
                seed,
                header.id,
                limits,
            )
        };
        peek.consume(len);
        result
    } else {
        // Larger than the ring: stream it.
        let mut src = ReadSource::new(TimedReader { reader, deadline }, len);
        let result = decode_from(&mut src, seed, header.id, limits);
        finish(result, || src.drain())
    }
}

/// Consumes the payload announced by `header` without decoding it (an ID
/// nobody handles), waiting at most [`Limits::payload_timeout`] for it.
///
/// # Errors
/// [`Error::Channel`], or [`Error::Framing`] if the stream ends first.
#[inline]
pub fn skip(reader: &mut Reader, header: &Header, limits: &Limits) -> Result<(), Error> {
    skip_bytes(
        reader,
        header.len as usize,
        &Deadline::never().within(limits.payload_timeout),
    )
}

fn skip_bytes(reader: &mut Reader, mut len: usize, deadline: &Deadline) -> Result<(), Error> {
    while len > 0 {
        let peek = match peek(reader, 1, deadline) {
            Ok(peek) => peek,
            Err(e) => return Err(Error::Channel(cut_inside_a_message(reader, e))),
        };
        let n = peek.len().min(len);
        peek.consume(n);
        len -= n;
    }
    Ok(())
}

/// Receives the next message, which must be an `M`, waiting as long as it
/// takes.
///
/// # Errors
/// [`Error::UnexpectedId`] (payload skipped) if another ID arrived; otherwise
/// as [`recv_with`].
pub fn recv<M: Message + DeserializeOwned>(
    reader: &mut Reader,
    limits: &Limits,
) -> Result<(Header, M), Error> {
    recv_with(reader, limits, expect::<M>)
}

/// Like [`recv`], without waiting for a message to begin.
///
/// # Errors
/// As for [`try_recv_with`] and [`recv`].
pub fn try_recv<M: Message + DeserializeOwned>(
    reader: &mut Reader,
    limits: &Limits,
) -> Result<(Header, M), Error> {
    try_recv_with(reader, limits, expect::<M>)
}

/// Like [`recv`], waiting at most `timeout`.
///
/// # Errors
/// As for [`recv_with_timeout`] and [`recv`].
pub fn recv_timeout<M: Message + DeserializeOwned>(
    reader: &mut Reader,
    limits: &Limits,
    timeout: Duration,
) -> Result<(Header, M), Error> {
    recv_with_timeout(reader, limits, timeout, expect::<M>)
}

/// Like [`recv_timeout`], waiting until `deadline`.
///
/// # Errors
/// As for [`recv_timeout`].
pub fn recv_deadline<M: Message + DeserializeOwned>(
    reader: &mut Reader,
    limits: &Limits,
    deadline: &Deadline,
) -> Result<(Header, M), Error> {
    recv_with_deadline(reader, limits, deadline, expect::<M>)
}

fn expect<M: Message + DeserializeOwned>(
    header: &Header,
    payload: Payload<'_>,
) -> Result<(Header, M), Error> {
    // An undecoded payload is skipped by `recv_with`.
    crate::expect_id::<M>(header, || Ok(()))?;
    Ok((*header, payload.decode()?))
}
