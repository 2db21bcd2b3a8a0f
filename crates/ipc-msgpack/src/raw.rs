//! Messages whose payload the caller encodes and decodes itself: a C or
//! C++ peer's own MessagePack, or bytes encoded elsewhere. The payload is
//! written straight into ring memory through a [`Sink`] and read straight
//! out of it through [`PayloadBytes`]: one copy each way, as for serde types.
//!
//! [`send_raw`] calls its encoder once when the message fits in the ring's
//! free space; otherwise twice, as the serde path serialises twice: once
//! into a counter to learn the length, then for real (so the encoder must
//! write the same bytes both times).

use crate::envelope::{Flags, Header, HEADER_LEN};
use crate::Error;
use ipc_channel_shm::{Deadline, Reader, Writer};

/// Where an encoder writes a payload: spans of memory, one after the other.
pub trait Sink {
    /// The next span to write into. Empty only when the payload cannot grow
    /// (an error is returned instead when it must not).
    ///
    /// # Errors
    /// `Error::Channel(Timeout)` when no room came in time; a message that
    /// outgrows what was announced for it.
    fn span(&mut self) -> Result<&mut [u8], Error>;
    /// Marks the first `n` bytes of the last span as written.
    fn advance(&mut self, n: usize);
    /// Payload bytes written so far.
    fn written(&self) -> u64;

    /// Copies `bytes` in, span by span.
    ///
    /// # Errors
    /// As for [`span`](Sink::span).
    fn put(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        while !bytes.is_empty() {
            let span = self.span()?;
            if span.is_empty() {
                return Err(Error::Framing("the payload outgrew its message"));
            }
            let n = span.len().min(bytes.len());
            span[..n].copy_from_slice(&bytes[..n]);
            self.advance(n);
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

/// Encodes nothing anywhere: counts (the first pass of a large message).
struct Counter {
    scratch: [u8; 256],
    written: u64,
}

impl Sink for Counter {
    fn span(&mut self) -> Result<&mut [u8], Error> {
        Ok(&mut self.scratch)
    }

    fn advance(&mut self, n: usize) {
        self.written += n as u64;
    }

    fn written(&self) -> u64 {
        self.written
    }
}

/// The payload written in place into the writer's free space, after room
/// for the envelope; nothing is published before [`InPlace::finish`].
struct InPlace<'w> {
    writer: &'w mut Writer,
    /// Bytes used, the envelope's room included.
    used: usize,
    /// At most this many (the announced message), or all free space.
    limit: usize,
    /// The free space ran out (the message does not fit in place).
    overflowed: bool,
}

impl Sink for InPlace<'_> {
    fn span(&mut self) -> Result<&mut [u8], Error> {
        let (first, second) = self.writer.try_reserve(0)?.into_mut_slices();
        let free = (first.len() + second.len()).min(self.limit);
        if self.used >= free {
            self.overflowed = true;
            return Err(Error::Framing("the payload outgrew the free space"));
        }
        let end = free - self.used;
        Ok(if self.used < first.len() {
            let stop = first.len().min(self.used + end);
            &mut first[self.used..stop]
        } else {
            let at = self.used - first.len();
            &mut second[at..at + end]
        })
    }

    fn advance(&mut self, n: usize) {
        self.used += n;
    }

    fn written(&self) -> u64 {
        (self.used - HEADER_LEN) as u64
    }
}

impl InPlace<'_> {
    /// Writes the envelope in front of the payload and appends the whole
    /// message to the writer's blob.
    fn finish(self, id: u32, correlation: u32, flags: Flags) -> Result<(), Error> {
        let len = u32::try_from(self.used - HEADER_LEN).map_err(|_| Error::Encode {
            id,
            reason: "payload larger than 4 GiB".into(),
        })?;
        let bytes = Header {
            id,
            correlation,
            flags,
            len,
        }
        .to_bytes();
        let mut reservation = self.writer.try_reserve(0)?;
        let (first, second) = reservation.as_mut_slices();
        let n = first.len().min(HEADER_LEN);
        first[..n].copy_from_slice(&bytes[..n]);
        second[..HEADER_LEN - n].copy_from_slice(&bytes[n..]);
        reservation.advance(self.used);
        Ok(())
    }
}

/// The payload of a message larger than the ring, streamed through it.
struct Streamed<'w> {
    writer: &'w mut Writer,
    deadline: &'w Deadline,
    /// Bytes the announced length still allows.
    left: u64,
    /// Written into the last span, not yet appended.
    pending: usize,
    written: u64,
}

impl Sink for Streamed<'_> {
    fn span(&mut self) -> Result<&mut [u8], Error> {
        self.flush()?;
        if self.left == 0 {
            return Ok(&mut []);
        }
        let (first, _) = self
            .writer
            .reserve_deadline(1, self.deadline)?
            .into_mut_slices();
        let n = first.len().min(self.left as usize);
        Ok(&mut first[..n])
    }

    fn advance(&mut self, n: usize) {
        self.pending += n;
        self.left -= n as u64;
        self.written += n as u64;
    }

    fn written(&self) -> u64 {
        self.written
    }
}

impl Streamed<'_> {
    fn flush(&mut self) -> Result<(), Error> {
        if self.pending > 0 {
            self.writer.try_reserve(0)?.advance(self.pending);
            self.pending = 0;
        }
        Ok(())
    }
}

/// Sends a message whose payload `encode` writes into a [`Sink`], waiting
/// for space until `deadline`, and commits it. `encode` runs once when the
/// message fits in the free space, else twice (counting, then writing: it
/// must write the same bytes both times). As for [`send_deadline`](crate::send_deadline),
/// a message that fits in the ring is sent whole or not at all, and a
/// larger one cut by the deadline closes the writer.
///
/// # Errors
/// What `encode` returns (nothing is sent if it fails before anything was
/// published), `Error::Channel(Timeout)`, [`Error::Encode`] if the second
/// pass wrote other bytes than the first, or [`Error::Channel`].
pub fn send_raw(
    writer: &mut Writer,
    id: u32,
    correlation: u32,
    flags: Flags,
    deadline: &Deadline,
    mut encode: impl FnMut(&mut dyn Sink) -> Result<(), Error>,
) -> Result<(), Error> {
    crate::channel::pad(writer, deadline)?;
    // In place, in the free space there is: the usual case, one pass.
    if writer.free_space()? >= 64 + HEADER_LEN {
        let mut place = InPlace {
            writer: &mut *writer,
            used: HEADER_LEN,
            limit: usize::MAX,
            overflowed: false,
        };
        match encode(&mut place) {
            Ok(()) => {
                place.finish(id, correlation, flags)?;
                writer.commit()?;
                return Ok(());
            }
            Err(_) if place.overflowed => {} // larger than the free space
            Err(e) => return Err(e),
        }
    }
    let mut counter = Counter {
        scratch: [0; 256],
        written: 0,
    };
    encode(&mut counter)?;
    let len = u32::try_from(counter.written).map_err(|_| Error::Encode {
        id,
        reason: "payload larger than 4 GiB".into(),
    })?;
    let total = HEADER_LEN.saturating_add(len as usize);
    let second_pass = |written: u64| {
        (written != u64::from(len)).then(|| Error::Encode {
            id,
            reason: "the encoder wrote other bytes the second time".into(),
        })
    };
    if total <= writer.capacity() {
        // Wait for room for all of it, then write it in place.
        writer.reserve_deadline(total, deadline)?;
        let mut place = InPlace {
            writer: &mut *writer,
            used: HEADER_LEN,
            limit: total,
            overflowed: false,
        };
        let wrote = encode(&mut place);
        if place.overflowed {
            return Err(
                second_pass(u64::MAX).unwrap_or(Error::Framing("the payload outgrew its message"))
            );
        }
        wrote?;
        if let Some(e) = second_pass(place.written()) {
            return Err(e);
        }
        place.finish(id, correlation, flags)?;
        writer.commit()?;
        return Ok(());
    }
    // Larger than the ring: stream it; a failure partway cuts the message.
    let header = Header {
        id,
        correlation,
        flags,
        len,
    };
    let streamed = (|| {
        append_all(writer, &header.to_bytes(), deadline)?;
        let mut stream = Streamed {
            writer: &mut *writer,
            deadline,
            left: u64::from(len),
            pending: 0,
            written: 0,
        };
        encode(&mut stream)?;
        stream.flush()?;
        match second_pass(stream.written()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })();
    match streamed {
        Ok(()) => Ok(writer.commit()?),
        Err(e) => {
            writer.close();
            Err(e)
        }
    }
}

fn append_all(writer: &mut Writer, mut bytes: &[u8], deadline: &Deadline) -> Result<(), Error> {
    while !bytes.is_empty() {
        let n = writer.append_deadline(bytes, deadline)?;
        bytes = &bytes[n..];
    }
    Ok(())
}

/// The bytes of a payload, read in place: one or two slices of ring memory
/// when the whole message is in the ring, or chunks of it as they arrive.
/// From [`Payload::bytes`](crate::Payload::bytes).
#[derive(Debug)]
pub struct PayloadBytes<'a> {
    pub(crate) kind: BytesKind<'a>,
    /// The message's ID, for errors.
    pub(crate) id: u32,
}

#[derive(Debug)]
pub(crate) enum BytesKind<'a> {
    /// In the ring: what is left of the two slices.
    Ring(&'a [u8], &'a [u8]),
    /// Still arriving.
    Stream {
        reader: &'a mut Reader,
        deadline: Deadline,
        /// Payload bytes not yet consumed.
        left: usize,
        /// Read from the last chunk, not yet handed back.
        pending: usize,
        /// Shared with the receive: what it must not skip again.
        consumed: &'a mut usize,
    },
}

impl<'a> PayloadBytes<'a> {
    /// The bytes of a payload of `len` still arriving by `deadline` (the
    /// one for the rest of its message).
    pub(crate) fn streamed(
        reader: &'a mut Reader,
        id: u32,
        len: usize,
        deadline: &Deadline,
        consumed: &'a mut usize,
    ) -> PayloadBytes<'a> {
        PayloadBytes {
            id,
            kind: BytesKind::Stream {
                reader,
                deadline: deadline.clone(),
                left: len,
                pending: 0,
                consumed,
            },
        }
    }

    /// Waits for the rest of the payload no later than `deadline` either: a
    /// caller's own, when it is earlier than the payload's. Once it has
    /// passed, [`chunk`](PayloadBytes::chunk) fails with
    /// `Error::Channel(Timeout)` and nothing is lost: the receive skips
    /// what is left within the payload's own deadline, so the stream goes
    /// on if the rest arrives in time. (A payload already whole in the ring
    /// never waits.)
    #[must_use]
    pub fn until(mut self, deadline: &Deadline) -> Self {
        if let BytesKind::Stream { deadline: own, .. } = &mut self.kind {
            if let Some(at) = deadline.instant() {
                if own.instant().is_none_or(|o| at < o) {
                    *own = Deadline::at(at);
                }
            }
        }
        self
    }

    /// Payload bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        match &self.kind {
            BytesKind::Ring(a, b) => a.len() + b.len(),
            BytesKind::Stream { left, .. } => *left,
        }
    }

    /// The next bytes of the payload, in place (empty once all is
    /// consumed). What it returns stays until [`consume`](PayloadBytes::consume).
    ///
    /// # Errors
    /// `Error::Channel(Timeout)` if the rest does not arrive within the
    /// payload's deadline, `Closed`/`PeerDied` if the stream ends first.
    pub fn chunk(&mut self) -> Result<&[u8], Error> {
        match &mut self.kind {
            BytesKind::Ring(a, b) => Ok(if a.is_empty() { *b } else { *a }),
            BytesKind::Stream {
                reader,
                deadline,
                left,
                pending,
                consumed,
            } => {
                if *pending > 0 {
                    reader.try_peek(*pending)?.consume(*pending);
                    **consumed += *pending;
                    *pending = 0;
                }
                if *left == 0 {
                    return Ok(&[]);
                }
                let (first, _) = reader.peek_deadline(1, deadline)?.into_slices();
                Ok(&first[..first.len().min(*left)])
            }
        }
    }

    /// Consumes the first `n` bytes of the last chunk.
    ///
    /// # Errors
    /// `Error::Framing` if `n` is more than the chunk held.
    pub fn consume(&mut self, n: usize) -> Result<(), Error> {
        match &mut self.kind {
            BytesKind::Ring(a, b) => {
                let run = if a.is_empty() { b } else { a };
                let rest = run
                    .get(n..)
                    .ok_or(Error::Framing("consumed past the payload"))?;
                *run = rest;
            }
            BytesKind::Stream { left, pending, .. } => {
                if n > *left {
                    return Err(Error::Framing("consumed past the payload"));
                }
                *left -= n;
                *pending += n;
            }
        }
        Ok(())
    }

    /// Copies the next `buf.len()` bytes into `buf`.
    ///
    /// # Errors
    /// As for [`chunk`](PayloadBytes::chunk); `Error::Framing` if the
    /// payload has fewer bytes left.
    pub fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), Error> {
        if buf.len() > self.remaining() {
            return Err(Error::Framing("read past the payload"));
        }
        while !buf.is_empty() {
            let chunk = self.chunk()?;
            let n = chunk.len().min(buf.len());
            if n == 0 {
                return Err(Error::Framing("read past the payload"));
            }
            buf[..n].copy_from_slice(&chunk[..n]);
            self.consume(n)?;
            buf = &mut buf[n..];
        }
        Ok(())
    }
}

impl Drop for PayloadBytes<'_> {
    fn drop(&mut self) {
        // Hand back what was read; the receive skips what was not.
        if let BytesKind::Stream {
            reader,
            pending,
            consumed,
            ..
        } = &mut self.kind
        {
            if *pending > 0 {
                if let Ok(peek) = reader.try_peek(*pending) {
                    peek.consume(*pending);
                    **consumed += *pending;
                }
            }
        }
    }
}
