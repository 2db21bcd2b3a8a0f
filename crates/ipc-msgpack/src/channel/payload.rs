//! What a receive hands to its closure: a message's payload, in the ring
//! or still arriving, to decode once (or to read raw); and the timed
//! reader a streamed payload is read through.

use super::{cut_inside_a_message, payload_within};
use crate::envelope::Header;
use crate::raw::{BytesKind, PayloadBytes};
use crate::source::{SliceSource, SplitSource, Stream};
use crate::{decode_from, Error, Limits};
use ipc_channel_shm::{Deadline, Reader};
use serde::de::{DeserializeOwned, DeserializeSeed};
use std::io;
use std::marker::PhantomData;

/// The payload of a message received by [`recv_with`](super::recv_with), to decode once.
#[derive(Debug)]
pub struct Payload<'a> {
    pub(super) kind: Kind<'a>,
    pub(super) id: u32,
    pub(super) limits: &'a Limits,
}

#[derive(Debug)]
pub(super) enum Kind<'a> {
    /// All of it, in the ring: one or two slices around the wrap.
    Ring(&'a [u8], &'a [u8]),
    /// Still arriving through the reader.
    Stream {
        reader: &'a mut Reader,
        header: Header,
        deadline: &'a Deadline,
        /// Payload bytes consumed (the receive skips the rest).
        consumed: &'a mut usize,
    },
}

impl<'a> Payload<'a> {
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
                deadline,
                consumed,
            } => {
                // Consumed whatever happens (drained on a decoding error).
                *consumed = header.len as usize;
                payload_within(reader, &header, self.limits, seed, deadline)
            }
        }
    }

    /// The payload's bytes, to read in place (a peer's own MessagePack):
    /// the whole payload as one or two slices when it is in the ring,
    /// chunks as they arrive otherwise. What is not read is skipped.
    #[inline]
    pub fn bytes(self) -> PayloadBytes<'a> {
        match self.kind {
            Kind::Ring(a, b) => PayloadBytes {
                kind: BytesKind::Ring(a, b),
                id: self.id,
            },
            Kind::Stream {
                reader,
                header,
                deadline,
                consumed,
            } => PayloadBytes::streamed(reader, self.id, header.len as usize, deadline, consumed),
        }
    }

    /// The payload's length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::Ring(a, b) => a.len() + b.len(),
            Kind::Stream { header, .. } => header.len as usize,
        }
    }

    /// Whether the payload is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `io::Read` over a channel reader with an overall deadline.
pub(super) struct TimedReader<'a> {
    pub(super) reader: &'a mut Reader,
    pub(super) deadline: &'a Deadline,
}

impl Stream for TimedReader<'_> {
    fn can_lend(&self) -> bool {
        true
    }

    fn lend(&mut self, max: usize) -> io::Result<&[u8]> {
        // Wait first (a timeout closes the reader), then look: the bytes
        // are there, and the look lends them without a borrow across the
        // wait's error path.
        if let Err(e) = self.reader.peek_deadline(1, self.deadline) {
            return Err(io::Error::from(cut_inside_a_message(self.reader, e)));
        }
        let (first, _) = self
            .reader
            .try_peek(1)
            .map_err(io::Error::from)?
            .into_slices();
        Ok(&first[..first.len().min(max)])
    }

    fn give_back(&mut self, n: usize) -> io::Result<()> {
        self.reader.try_peek(n).map_err(io::Error::from)?.consume(n);
        Ok(())
    }
}

impl io::Read for TimedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.reader.read_into_deadline(buf, self.deadline);
        // The end of the stream inside a payload is an error (`Closed`),
        // not the end of the payload.
        r.map_err(|e| io::Error::from(cut_inside_a_message(self.reader, e)))
    }
}
