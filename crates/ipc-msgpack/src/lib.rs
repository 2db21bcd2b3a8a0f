//! Typed MessagePack messages over shared-memory channels (and any byte
//! stream), with serde.
//!
//! A message is a serde type with a stable numeric ID:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct NoteOn { channel: u8, key: u8, velocity: f32 }
//! ipc_msgpack::message!(NoteOn = 8);
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let segment = ipc_channel_shm::Segment::in_process(&[4096])?;
//! let (mut writer, mut reader) = (segment.writer(0)?, segment.reader(0)?);
//! let limits = ipc_msgpack::Limits::default();
//!
//! let note = NoteOn { channel: 0, key: 60, velocity: 0.8 };
//! ipc_msgpack::send(&mut writer, &note, 0, ipc_msgpack::Flags::NONE)?;
//! let (header, got) = ipc_msgpack::recv::<NoteOn>(&mut reader, &limits)?;
//! assert_eq!((header.id, got), (8, note));
//! # Ok(())
//! # }
//! ```
//!
//! * **One copy each way.** [`send`] serialises the value straight into the
//!   ring, in place (the envelope's length is filled in before the commit);
//!   [`recv_with`] (or [`recv_header`] then [`recv_payload`]) decodes
//!   straight out of the ring, in place when the payload fits in it,
//!   streaming when it does not.
//! * **Framing** is a 16-byte envelope (ID, correlation number, flags,
//!   payload length), specified in `docs/PROTOCOL.md` so that a C++ peer can
//!   speak it. A receiver can bound a message before decoding it and
//!   [`skip`] one it has no handler for.
//! * **Hostile input** is bounded by [`Limits`]: message size (checked on the
//!   envelope, before decoding), nesting depth, and every length inside the
//!   payload checked against the bytes left before anything is allocated. A
//!   malformed payload is an error naming the message ID; the rest of it is
//!   skipped, and the next message decodes.
//! * **Real time.** Encoding and decoding a message of numbers, arrays and
//!   structs of them allocates nothing; [`FramesInto`] decodes samples into
//!   a caller's buffer.
//! * **Byte strings: use `serde_bytes`.** Put
//!   `#[serde(with = "serde_bytes")]` (re-exported as [`serde_bytes`]) on
//!   every `Vec<u8>`/`&[u8]` field that holds bytes: it makes one MessagePack
//!   `bin`, copied whole. Without it serde makes an array of integers, one
//!   per byte: 1.5 bytes on the wire per random byte, and, although encoded
//!   and decoded in a tight loop, about 15 to 25 times the time (10 MiB: some
//!   65 ms instead of 3; `serde_bytes_trap` in `docs/BENCHMARKS.md`).
//!   [`BytesInto`] decodes a big byte string into a buffer you keep, with no
//!   allocation and no page fault.
//! * **Waiting** follows one scheme: `send`/`recv`/`recv_with`/`recv_header`
//!   wait as long as it takes, `try_` forms never wait for a message to
//!   begin, `_timeout` forms wait at most the given time for all of it. A
//!   message that has begun must finish within [`Limits::payload_timeout`].
//!
//! The same operations, under the same names, exist over
//! `io::Write`/`io::Read` in [`stream`] and over memory in [`slice`](mod@slice).
#![deny(unsafe_code)]

mod bytes_into;
mod channel;
mod de;
mod encode;
mod envelope;
mod error;
mod frames;
mod raw;
mod ser;
pub mod slice;
mod source;
pub mod stream;
mod tokens;

pub use bytes_into::BytesInto;
pub use channel::{
    recv, recv_deadline, recv_header, recv_header_deadline, recv_header_timeout, recv_payload,
    recv_payload_seed, recv_timeout, recv_with, recv_with_deadline, recv_with_timeout, send,
    send_deadline, send_timeout, skip, try_recv, try_recv_header, try_recv_with, try_send,
    wait_whole_deadline, Payload,
};
pub use envelope::{Flags, Header, HEADER_LEN, MAGIC, VERSION};
pub use error::Error;
pub use frames::FramesInto;
pub use ipc_channel_shm::Deadline;
pub use raw::{send_raw, PayloadBytes, Sink};
pub use serde_bytes;
pub use tokens::{write_token, Token};

use serde::de::DeserializeSeed;
use serde::Serialize;
use source::Source;
use std::io;
use std::time::Duration;

/// A message type: a serde type with a stable numeric ID.
///
/// IDs are per protocol: two protocols (say, two plugin kinds) may give the
/// same ID to different types; a receiver dispatches on the IDs of the
/// protocol it speaks. Declare with [`message!`].
pub trait Message: Serialize {
    /// The ID carried in the envelope.
    const ID: u32;
}

/// Declares message types and their IDs: `message!(NoteOn = 8, NoteOff = 9);`.
#[macro_export]
macro_rules! message {
    ($($ty:ty = $id:expr),+ $(,)?) => {
        $(impl $crate::Message for $ty {
            const ID: u32 = $id;
        })+
    };
}

/// Bounds applied to incoming messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload accepted, in bytes (checked on the envelope, before
    /// anything is decoded or allocated). Default: 256 MiB.
    ///
    /// A decoded value may take more memory than its payload: an empty
    /// vector is one byte on the wire and 24 in memory, so a hostile payload
    /// of nested empty collections can grow about 32 times. Lower this limit
    /// for peers you trust less.
    pub max_message: u32,
    /// Deepest nesting of arrays, maps and enums. Default: 64.
    pub max_depth: u32,
    /// How long the rest of a message may take to arrive once its envelope
    /// has: a peer that stops (or crawls) in the middle of a message is
    /// reported then (`Error::Channel(Timeout)`, and the stream is broken),
    /// whatever the call's own timeout. `None`: no such bound (a closed or
    /// dead peer is still reported). Default: 10 s, ample for the largest
    /// default message (256 MiB move at several hundred MB/s).
    pub payload_timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 256 << 20,
            max_depth: 64,
            payload_timeout: Some(Duration::from_secs(10)),
        }
    }
}

/// Runs the deserializer over a payload source; the payload must be used up.
fn decode_from<'de, S: Source<'de>, T: DeserializeSeed<'de>>(
    src: &mut S,
    seed: T,
    id: u32,
    limits: &Limits,
) -> Result<T::Value, Error> {
    let mut de = de::Deserializer::new(src, limits.max_depth);
    let value = seed
        .deserialize(&mut de)
        .map_err(|e| Error::from_de(e, id))?;
    match src.remaining() {
        0 => Ok(value),
        n => Err(Error::Malformed {
            id,
            reason: format!("{n} bytes left after the value"),
        }),
    }
}

/// `Ok` if `header` is an `M`'s; otherwise skips its payload and reports
/// the other ID (the stream stays at the next envelope).
fn expect_id<M: Message + ?Sized>(
    header: &Header,
    skip: impl FnOnce() -> Result<(), Error>,
) -> Result<(), Error> {
    if header.id == M::ID {
        return Ok(());
    }
    skip()?;
    Err(Error::UnexpectedId {
        expected: M::ID,
        got: *header,
    })
}

/// Ends a streamed payload: drains what the decoder left, unless the
/// transport already failed (then there is nothing sensible to drain).
fn finish<T>(result: Result<T, Error>, drain: impl FnOnce() -> io::Result<()>) -> Result<T, Error> {
    if matches!(&result, Err(e) if !e.stream_usable()) {
        return result;
    }
    drain().map_err(Error::from_io)?;
    result
}
