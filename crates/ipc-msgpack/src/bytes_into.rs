//! Big byte strings into a buffer the caller already has: [`BytesInto`]
//! decodes a `bin` (a `serde_bytes` field), a `str`, or an array of
//! integers into a `Vec<u8>`, reusing its capacity. With a buffer that held
//! the last state, a 64 MiB state costs one copy out of the ring and no
//! page fault, where decoding into a fresh `Vec` pays both.
//!
//! With this crate's decoder the bytes come in chunks straight from the
//! ring into the buffer, also when the message streams through a ring
//! smaller than it (a socket's come through the read-ahead); with any other
//! serde deserializer [`BytesInto`] works too, through `deserialize_byte_buf`.

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use std::fmt;

/// The newtype name under which [`BytesInto`] asks this crate's decoder
/// for chunks.
pub(crate) const BYTES_INTO: &str = "\0ipc_msgpack::BytesInto";

/// Decodes a byte string (`bin`, `str`, or an array of integers 0-255)
/// into `self.0`, replacing what it held and keeping its allocation; the
/// value is the number of bytes. The buffer grows only with bytes that
/// arrived, never with what a length claims.
///
/// Use it with [`Payload::decode_seed`](crate::Payload::decode_seed),
/// [`recv_payload_seed`](crate::recv_payload_seed) and their `stream` and
/// `slice` twins, from a link's raw decode closure, or from a hand-written
/// `DeserializeSeed` of a larger message:
///
/// ```
/// use ipc_msgpack::{slice, BytesInto, Flags, Limits};
///
/// #[derive(serde::Serialize)]
/// struct State(#[serde(with = "serde_bytes")] Vec<u8>);
/// ipc_msgpack::message!(State = 7);
///
/// let wire = slice::to_vec(&State(vec![1, 2, 3]), 0, Flags::NONE)?;
/// let mut input = &wire[..];
/// let header = slice::recv_header(&mut input, &Limits::default())?;
/// // A buffer kept from the last state: its capacity is reused.
/// let mut buffer = Vec::with_capacity(1 << 20);
/// // `State` is a newtype: its payload is the byte string itself.
/// let n = slice::recv_payload_seed(&mut input, &header, &Limits::default(), BytesInto(&mut buffer))?;
/// assert_eq!((n, &buffer[..]), (3, &[1u8, 2, 3][..]));
/// assert!(buffer.capacity() >= 1 << 20);
/// # Ok::<(), ipc_msgpack::Error>(())
/// ```
#[derive(Debug)]
pub struct BytesInto<'a>(pub &'a mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for BytesInto<'_> {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        self.0.clear();
        deserializer.deserialize_newtype_struct(BYTES_INTO, Into(self.0))
    }
}

/// The visitor behind [`BytesInto`]: chunks from this crate's decoder
/// (`visit_seq` of byte strings), or one byte string from any other.
struct Into<'a>(&'a mut Vec<u8>);

impl<'de> Visitor<'de> for Into<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    /// Any other deserializer: the byte string whole.
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_byte_buf(Whole(self.0))
    }

    /// This crate's decoder: the byte string in chunks, each appended.
    fn visit_seq<A: SeqAccess<'de>>(self, mut chunks: A) -> Result<usize, A::Error> {
        while chunks.next_element_seed(Append(&mut *self.0))?.is_some() {}
        Ok(self.0.len())
    }
}

/// Appends one chunk.
struct Append<'a>(&'a mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for Append<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for Append<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a chunk of a byte string")
    }

    fn visit_bytes<E: de::Error>(self, chunk: &[u8]) -> Result<(), E> {
        self.0.extend_from_slice(chunk);
        Ok(())
    }
}

/// A whole byte string, in whatever form the deserializer has it.
struct Whole<'a>(&'a mut Vec<u8>);

impl<'de> Visitor<'de> for Whole<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<usize, E> {
        self.0.extend_from_slice(v);
        Ok(v.len())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<usize, E> {
        self.visit_bytes(&v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
        self.visit_bytes(v.as_bytes())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        while let Some(b) = seq.next_element::<u8>()? {
            self.0.push(b);
        }
        Ok(self.0.len())
    }
}
