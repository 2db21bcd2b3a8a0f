//! Encoding: the envelope, then the MessagePack payload written straight into
//! the destination: one copy from the native value to the ring, no buffer.
//! Into a channel with room, in one pass (the envelope is written after the
//! payload, before the commit); otherwise the value is first serialised into a
//! byte counter (no memory written) to learn the length, then written.

use crate::channel::TimedWriter;
use crate::envelope::{Flags, Header};
use crate::{Error, Message};
use serde::Serialize;
use std::io;

/// An `io::Write` that only counts.
struct Counter(u64);

impl io::Write for Counter {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An `io::Write` that stops at the announced length, so that a value whose
/// second serialisation differs from its first cannot overrun its envelope.
struct Bounded<'a, W> {
    inner: &'a mut W,
    left: u64,
}

impl<W: io::Write> io::Write for Bounded<'_, W> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "value serialised longer the second time",
            ));
        }
        self.inner.write_all(buf)?;
        self.left -= buf.len() as u64;
        Ok(buf.len())
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[inline]
fn serialize<T: Serialize + ?Sized, W: io::Write>(
    out: W,
    value: &T,
) -> Result<(), rmp_serde::encode::Error> {
    value.serialize(&mut rmp_serde::Serializer::new(out))
}

/// An `io::Write` into ring space reserved in place (one or two slices):
/// serialising through it is the one copy from the value into the ring. It
/// refuses to go past the reservation (`WriteZero`).
struct InPlace<'a> {
    first: &'a mut [u8],
    second: &'a mut [u8],
    pos: usize,
}

impl InPlace<'_> {
    /// Copies `bytes` to offset `at` of the reservation, across the wrap;
    /// false (nothing copied) if they do not fit.
    #[inline]
    fn put(&mut self, mut at: usize, mut bytes: &[u8]) -> bool {
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
}

impl InPlace<'_> {
    #[cold]
    #[inline(never)]
    fn write_slow(&mut self, buf: &[u8]) -> io::Result<()> {
        if !self.put(self.pos, buf) {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "message larger than the free space",
            ));
        }
        self.pos += buf.len();
        Ok(())
    }
}

impl io::Write for InPlace<'_> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    /// The encoder's only entry: marker and data bytes arrive in pieces of
    /// known size, which this copies without a call once inlined.
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // Most writes land before the wrap: one bounds check and a copy.
        if let Some(dst) = self.first.get_mut(self.pos..self.pos + buf.len()) {
            dst.copy_from_slice(buf);
            self.pos += buf.len();
            return Ok(());
        }
        self.write_slow(buf)
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
    match serialize(&mut place, msg) {
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
                None => drop(place.put(0, &header.to_bytes())),
            }
            let written = place.pos;
            reservation.advance(written);
            Ok(Some(()))
        }
        Err(rmp_serde::encode::Error::InvalidValueWrite(
            rmp::encode::ValueWriteError::InvalidMarkerWrite(e)
            | rmp::encode::ValueWriteError::InvalidDataWrite(e),
        )) if e.kind() == io::ErrorKind::WriteZero => Ok(None),
        Err(e) => Err(Error::Encode {
            id: M::ID,
            reason: e.to_string(),
        }),
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
    let mut counter = Counter(0);
    serialize(&mut counter, value).map_err(|e| Error::Encode {
        id,
        reason: e.to_string(),
    })?;
    u32::try_from(counter.0).map_err(|_| Error::Encode {
        id,
        reason: "payload larger than 4 GiB".into(),
    })
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
    let mut bounded = Bounded {
        inner: out,
        left: u64::from(len),
    };
    match serialize(&mut bounded, msg) {
        Ok(()) if bounded.left == 0 => Ok(crate::HEADER_LEN.saturating_add(len as usize)),
        Ok(()) => Err(Error::Framing("value serialised shorter the second time")),
        Err(rmp_serde::encode::Error::InvalidValueWrite(
            rmp::encode::ValueWriteError::InvalidMarkerWrite(e)
            | rmp::encode::ValueWriteError::InvalidDataWrite(e),
        )) => Err(Error::from_io(e)),
        Err(e) => Err(Error::Encode {
            id: M::ID,
            reason: e.to_string(),
        }),
    }
}
