//! Messages over a Layer I channel: encoded straight into the ring, decoded
//! straight out of it.

use crate::envelope::{Flags, Header, HEADER_LEN};
use crate::source::{ReadSource, SliceSource, SplitSource};
use crate::{decode_from, finish, Error, Limits, Message};
use ipc_channel_shm::{Peek, Reader, Writer};
use serde::de::{DeserializeOwned, DeserializeSeed};
use std::io;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// Encodes `msg` with its envelope into the ring and commits it: the reader
/// is woken once (if it sleeps), whatever the size of the message. A message
/// larger than the ring streams through it.
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
    crate::encode::write_to_channel(writer, msg, correlation, flags)?;
    writer.commit()?;
    Ok(())
}

/// Reads the next envelope, waiting at most `timeout` (`None`: as long as
/// it takes; the channel still reports a dead or closed peer). A timeout
/// consumes nothing.
///
/// # Errors
/// [`Error::Channel`] (including `Timeout` and `Closed`), [`Error::Framing`],
/// or [`Error::TooLarge`] after skipping the oversized payload.
#[inline]
pub fn recv_header(
    reader: &mut Reader,
    limits: &Limits,
    timeout: Option<Duration>,
) -> Result<Header, Error> {
    let peek = wait_envelope(reader, timeout)?;
    let b = envelope_bytes(&peek);
    // The payload follows at once: its consume hands both back together.
    peek.consume_deferred(HEADER_LEN);
    Header::parse(&b, limits.max_message).map_err(|e| skip_if_too_large(reader, e))
}

/// Waits for an envelope's worth of bytes.
#[inline]
fn wait_envelope(reader: &mut Reader, timeout: Option<Duration>) -> Result<Peek<'_>, Error> {
    Ok(match timeout {
        Some(t) => reader.peek_wait_timeout(HEADER_LEN, t)?,
        None => reader.peek_wait(HEADER_LEN)?,
    })
}

/// The 16 envelope bytes at the front of `peek`, across the wrap if need be.
#[inline]
fn envelope_bytes(peek: &Peek<'_>) -> [u8; HEADER_LEN] {
    let (first, second) = peek.as_slices();
    match first.first_chunk::<HEADER_LEN>() {
        Some(whole) => *whole,
        None => {
            let mut b = [0u8; HEADER_LEN];
            b[..first.len()].copy_from_slice(first);
            b[first.len()..].copy_from_slice(&second[..HEADER_LEN - first.len()]);
            b
        }
    }
}

/// An envelope refused by [`Header::parse`]: an oversized payload is
/// skipped (its envelope already consumed) so that the stream goes on.
#[cold]
fn skip_if_too_large(reader: &mut Reader, e: Error) -> Error {
    match e {
        Error::TooLarge { id, len, max } => match skip_bytes(reader, len as usize) {
            Ok(()) => Error::TooLarge { id, len, max },
            Err(e) => e,
        },
        other => other,
    }
}

/// Receives the next message whole and hands its envelope and payload to
/// `f`, which decodes the payload (or not: an undecoded payload is
/// skipped). Waits at most `timeout` for the envelope (`None`: as long as it
/// takes); a timeout consumes nothing.
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
    timeout: Option<Duration>,
    f: impl FnOnce(&Header, Payload<'_>) -> Result<R, Error>,
) -> Result<R, Error> {
    let peek = wait_envelope(reader, timeout)?;
    let b = envelope_bytes(&peek);
    let header = match Header::parse(&b, limits.max_message) {
        Ok(h) => h,
        Err(e) => {
            peek.consume_deferred(HEADER_LEN);
            return Err(skip_if_too_large(reader, e));
        }
    };
    let (first, second) = peek.as_slices();
    let len = header.len as usize;
    let total = HEADER_LEN + len;
    if peek.len() >= total {
        // The whole message is here: decode it where it lies.
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
    // arrives.
    peek.consume_deferred(HEADER_LEN);
    let mut decoded = false;
    let payload = Payload {
        kind: Kind::Stream {
            reader: &mut *reader,
            header,
            decoded: &mut decoded,
        },
        id: header.id,
        limits,
    };
    let result = f(&header, payload);
    if !decoded {
        skip(reader, &header)?;
    }
    result
}

/// The payload of a message received by [`recv_with`], to decode once.
#[derive(Debug)]
pub struct Payload<'a> {
    kind: Kind<'a>,
    id: u32,
    limits: &'a Limits,
}

#[derive(Debug)]
enum Kind<'a> {
    /// All of it, in the ring: one or two slices around the wrap.
    Ring(&'a [u8], &'a [u8]),
    /// Still arriving through the reader.
    Stream {
        reader: &'a mut Reader,
        header: Header,
        decoded: &'a mut bool,
    },
}

impl Payload<'_> {
    /// Decodes the payload as a `T`.
    ///
    /// # Errors
    /// [`Error::Malformed`] naming the message ID, or [`Error::Channel`].
    #[inline]
    pub fn decode<T: DeserializeOwned>(self) -> Result<T, Error> {
        self.decode_seed(PhantomData::<T>)
    }

    /// Decodes the payload with a `DeserializeSeed`, e.g.
    /// [`FramesInto`](crate::FramesInto).
    ///
    /// # Errors
    /// As for [`decode`](Payload::decode).
    #[inline]
    pub fn decode_seed<S, V>(self, seed: S) -> Result<V, Error>
    where
        S: for<'de> DeserializeSeed<'de, Value = V>,
    {
        match self.kind {
            Kind::Ring(a, []) => decode_from(&mut SliceSource::new(a), seed, self.id, self.limits),
            Kind::Ring(a, b) => {
                decode_from(&mut SplitSource::new(a, b), seed, self.id, self.limits)
            }
            Kind::Stream {
                reader,
                header,
                decoded,
            } => {
                *decoded = true;
                recv_payload_seed(reader, &header, self.limits, seed)
            }
        }
    }
}

/// Decodes the payload announced by `header` as a `T`. The whole payload is
/// consumed whatever happens, so a malformed one leaves the stream at the
/// next envelope.
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
    let len = header.len as usize;
    if len <= reader.capacity() {
        // The whole payload fits in the ring: decode it in place.
        let deadline = limits.payload_timeout;
        let peek = match deadline {
            Some(t) => reader.peek_wait_timeout(len, t)?,
            None => reader.peek_wait(len)?,
        };
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
        let deadline = limits.payload_timeout.map(|t| Instant::now() + t);
        let mut src = ReadSource::new(Timed { reader, deadline }, len);
        let result = decode_from(&mut src, seed, header.id, limits);
        finish(result, || src.drain())
    }
}

/// Consumes the payload announced by `header` without decoding it (an ID
/// nobody handles).
///
/// # Errors
/// [`Error::Channel`].
#[inline]
pub fn skip(reader: &mut Reader, header: &Header) -> Result<(), Error> {
    skip_bytes(reader, header.len as usize)
}

fn skip_bytes(reader: &mut Reader, mut len: usize) -> Result<(), Error> {
    while len > 0 {
        let peek = reader.peek_wait(1)?;
        let n = peek.len().min(len);
        peek.consume(n);
        len -= n;
    }
    Ok(())
}

/// Receives the next message, which must be an `M`.
///
/// # Errors
/// [`Error::Unexpected`] (payload skipped) if another ID arrived; otherwise
/// as [`recv_header`] and [`recv_payload`].
pub fn recv<M: Message + DeserializeOwned>(
    reader: &mut Reader,
    limits: &Limits,
    timeout: Option<Duration>,
) -> Result<(Header, M), Error> {
    recv_with(reader, limits, timeout, |header, payload| {
        if header.id != M::ID {
            return Err(Error::Unexpected {
                expected: M::ID,
                got: *header,
            });
        }
        Ok((*header, payload.decode()?))
    })
}

/// `io::Read` over a channel reader with an overall deadline.
struct Timed<'a> {
    reader: &'a mut Reader,
    deadline: Option<Instant>,
}

impl io::Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = match self.deadline {
            None => self.reader.read_into(buf),
            Some(d) => self
                .reader
                .read_into_timeout(buf, d.saturating_duration_since(Instant::now())),
        };
        match r {
            Ok(n) => Ok(n),
            Err(ipc_channel_shm::Error::Closed) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}
