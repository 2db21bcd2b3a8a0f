//! Encoding: the envelope, then the MessagePack payload written straight into
//! the destination: one copy from the native value to the ring, no buffer.
//! Into a channel with room, in one pass (the envelope is written after the
//! payload, before the commit); otherwise the value is first serialised into a
//! byte counter (no memory written) to learn the length, then written.

use crate::channel::TimedWriter;
use crate::envelope::{Flags, Header};
use crate::ser::{encode, Count, Out, SerError};
use crate::{Error, Message};
use serde::Serialize;
use std::io;

/// The error of encoding message `id`.
fn encode_error(e: SerError, id: u32) -> Error {
    match e {
        SerError::Io(e) => Error::from_io(e),
        SerError::Longer => Error::Framing("value serialised longer the second time"),
        SerError::Full => Error::Framing("message larger than the free space"),
        other => Error::Encode {
            id,
            reason: other.to_string(),
        },
    }
}

/// Ring space reserved in place (one or two slices): serialising into it is
/// the one copy from the value into the ring. It refuses to go past the
/// reservation ([`SerError::Full`]).
struct InPlace<'a> {
    first: &'a mut [u8],
    second: &'a mut [u8],
    pos: usize,
}

impl InPlace<'_> {
    /// Copies `bytes` to offset `at` of the reservation, across the wrap;
    /// false (nothing copied) if they do not fit.
    #[inline]
    fn put_at(&mut self, mut at: usize, mut bytes: &[u8]) -> bool {
        let head = self.first.len();
        if at + bytes.len() > head + self.second.len() {
            return false;
        }
        if at < head {
            let n = bytes.len().min(head - at);
            self.first[at..at + n].copy_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            at += n;
        }
        if !bytes.is_empty() {
            let at = at - head;
            self.second[at..at + bytes.len()].copy_from_slice(bytes);
        }
        true
    }

    #[cold]
    #[inline(never)]
    fn put_slow(&mut self, bytes: &[u8]) -> Result<(), SerError> {
        if !self.put_at(self.pos, bytes) {
            return Err(SerError::Full);
        }
        self.pos += bytes.len();
        Ok(())
    }
}

impl Out for InPlace<'_> {
    /// Writes land before the wrap or after it, one bounds check and a
    /// copy; only a piece that straddles the wrap (or overflows) goes slow.
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), SerError> {
        let head = self.first.len();
        let end = self.pos + bytes.len();
        let dst = if end <= head {
            self.first.get_mut(self.pos..end)
        } else if self.pos >= head {
            self.second.get_mut(self.pos - head..end - head)
        } else {
            None
        };
        match dst {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.pos = end;
                Ok(())
            }
            None => self.put_slow(bytes),
        }
    }

    #[inline]
    fn put_1_or_2(&mut self, bytes: [u8; 2], n: usize) -> Result<(), SerError> {
        match self.first.get_mut(self.pos..self.pos + 2) {
            Some(dst) => {
                dst.copy_from_slice(&bytes);
                self.pos += n;
                Ok(())
            }
            None => self.put(&bytes[..n]),
        }
    }
}

/// Bytes gathered before they go to a stream in one write: a payload too
/// large for the ring, or one written to a socket, would otherwise cost a
/// channel call or a system call per value.
const GATHER: usize = 16 * 1024;

/// A stream output that stops at the announced length, so that a value
/// whose second serialisation differs from its first cannot overrun its
/// envelope. Small pieces are gathered into [`GATHER`]-byte writes; a piece
/// at least that large (a byte string) is written straight through.
struct Gathered<'a, W> {
    inner: &'a mut W,
    buf: Vec<u8>,
    left: u64,
}

impl<'a, W: io::Write> Gathered<'a, W> {
    fn new(inner: &'a mut W, len: u32) -> Self {
        Gathered {
            inner,
            buf: Vec::with_capacity(GATHER.min(len as usize)),
            left: u64::from(len),
        }
    }

    fn flush(&mut self) -> Result<(), SerError> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf).map_err(SerError::Io)?;
            self.buf.clear();
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn put_slow(&mut self, bytes: &[u8]) -> Result<(), SerError> {
        self.flush()?;
        if bytes.len() >= GATHER {
            self.inner.write_all(bytes).map_err(SerError::Io)
        } else {
            self.buf.extend_from_slice(bytes);
            Ok(())
        }
    }
}

impl<W: io::Write> Out for Gathered<'_, W> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), SerError> {
        if bytes.len() as u64 > self.left {
            return Err(SerError::Longer);
        }
        self.left -= bytes.len() as u64;
        if self.buf.len() + bytes.len() <= GATHER {
            self.buf.extend_from_slice(bytes);
            return Ok(());
        }
        self.put_slow(bytes)
    }

    #[inline]
    fn put_1_or_2(&mut self, bytes: [u8; 2], n: usize) -> Result<(), SerError> {
        if n as u64 <= self.left && self.buf.len() + 2 <= GATHER {
            self.left -= n as u64;
            self.buf.extend_from_slice(&bytes);
            self.buf.truncate(self.buf.len() - (2 - n));
            return Ok(());
        }
        self.put(&bytes[..n])
    }
}

/// Smallest free space worth trying the one-pass encoding in.
const ONE_PASS_MIN: usize = 64;

/// Serialises `msg` in place into `reservation` after room for the
/// envelope, then writes the envelope; `Ok(None)` if it does not fit.
#[inline]
fn write_in_place<M: Message + ?Sized>(
    reservation: ipc_channel_shm::Reservation<'_>,
    msg: &M,
    correlation: u32,
    flags: Flags,
) -> Result<Option<()>, Error> {
    let mut reservation = reservation;
    let (first, second) = reservation.as_mut_slices();
    let mut place = InPlace {
        first,
        second,
        pos: crate::HEADER_LEN,
    };
    match encode(&mut place, msg) {
        Ok(()) => {
            let len = u32::try_from(place.pos - crate::HEADER_LEN).map_err(|_| Error::Encode {
                id: M::ID,
                reason: "payload larger than 4 GiB".into(),
            })?;
            let header = Header {
                id: M::ID,
                correlation,
                flags,
                len,
            };
            match place.first.first_chunk_mut::<{ crate::HEADER_LEN }>() {
                Some(dst) => header.write_to(dst),
                None => drop(place.put_at(0, &header.to_bytes())),
            }
            let written = place.pos;
            reservation.advance(written);
            Ok(Some(()))
        }
        Err(SerError::Full) => Ok(None),
        Err(e) => Err(encode_error(e, M::ID)),
    }
}

/// Writes `msg` into a channel, waiting for space as `wait` allows.
///
/// When the ring has room, in one pass, in place: the payload is serialised
/// straight into the reserved free space after room for the envelope, whose
/// length is then filled in (the reader sees nothing before the commit).
/// Otherwise the length is counted first; a message that fits in the ring
/// then waits for room for all of it and is written in place (a timeout
/// leaves nothing behind), and a larger one streams through the ring (a
/// timeout partway closes the writer: the message is cut).
#[inline]
pub(crate) fn write_to_channel<M: Message + ?Sized>(
    writer: &mut ipc_channel_shm::Writer,
    msg: &M,
    correlation: u32,
    flags: Flags,
    deadline: &ipc_channel_shm::Deadline,
) -> Result<(), Error> {
    crate::channel::pad(writer, deadline)?;
    if writer.free_space()? >= ONE_PASS_MIN + crate::HEADER_LEN {
        if let Some(()) = write_in_place(writer.try_reserve(0)?, msg, correlation, flags)? {
            return Ok(());
        }
    }
    let len = payload_len(msg, M::ID)?;
    let total = crate::HEADER_LEN.saturating_add(len as usize);
    if total <= writer.capacity() {
        let reservation = writer.reserve_deadline(total, deadline)?;
        return match write_in_place(reservation, msg, correlation, flags)? {
            Some(()) => Ok(()),
            None => Err(Error::Framing("value serialised longer the second time")),
        };
    }
    let mut timed = TimedWriter { writer, deadline };
    match write_counted(&mut timed, msg, correlation, flags, len) {
        Ok(_) => Ok(()),
        Err(e) => {
            // Part of the message may be published already: nothing may
            // follow it, or the reader would take it for the rest.
            timed.writer.close();
            Err(e)
        }
    }
}

/// The MessagePack size of `value` in bytes.
pub(crate) fn payload_len<T: Serialize + ?Sized>(value: &T, id: u32) -> Result<u32, Error> {
    let mut counter = Count::default();
    encode(&mut counter, value).map_err(|e| encode_error(e, id))?;
    u32::try_from(counter.0).map_err(|_| Error::Encode {
        id,
        reason: "payload larger than 4 GiB".into(),
    })
}

/// Appends envelope and payload of `msg` to `out` in one pass (the length
/// is filled in afterwards); returns the bytes added. Nothing is left
/// behind if the value cannot be serialised.
pub(crate) fn append_message<M: Message + ?Sized>(
    out: &mut Vec<u8>,
    msg: &M,
    correlation: u32,
    flags: Flags,
) -> Result<usize, Error> {
    let start = out.len();
    out.extend_from_slice(&[0; crate::HEADER_LEN]);
    let len = encode(out, msg)
        .map_err(|e| encode_error(e, M::ID))
        .and_then(|()| {
            u32::try_from(out.len() - start - crate::HEADER_LEN).map_err(|_| Error::Encode {
                id: M::ID,
                reason: "payload larger than 4 GiB".into(),
            })
        });
    match len {
        Ok(len) => {
            let header = Header {
                id: M::ID,
                correlation,
                flags,
                len,
            };
            out[start..start + crate::HEADER_LEN].copy_from_slice(&header.to_bytes());
            Ok(out.len() - start)
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Writes envelope and payload of `msg` to `out`; returns the bytes written.
/// Nothing is written if the value cannot be serialised.
pub(crate) fn write_message<M: Message + ?Sized, W: io::Write>(
    out: &mut W,
    msg: &M,
    correlation: u32,
    flags: Flags,
) -> Result<usize, Error> {
    let len = payload_len(msg, M::ID)?;
    write_counted(out, msg, correlation, flags, len)
}

/// [`write_message`] once the payload length is known.
fn write_counted<M: Message + ?Sized, W: io::Write>(
    out: &mut W,
    msg: &M,
    correlation: u32,
    flags: Flags,
    len: u32,
) -> Result<usize, Error> {
    let header = Header {
        id: M::ID,
        correlation,
        flags,
        len,
    };
    out.write_all(&header.to_bytes()).map_err(Error::from_io)?;
    let mut gathered = Gathered::new(out, len);
    encode(&mut gathered, msg)
        .and_then(|()| gathered.flush())
        .map_err(|e| encode_error(e, M::ID))?;
    if gathered.left == 0 {
        Ok(crate::HEADER_LEN.saturating_add(len as usize))
    } else {
        Err(Error::Framing("value serialised shorter the second time"))
    }
}
