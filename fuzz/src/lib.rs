//! What the `decode` fuzz target checks, and the message types it decodes.
//! A library so that the seed-corpus generator (`examples/gen_corpus.rs`)
//! and a plain `cargo test` replay of the corpus share them.
//!
//! [`check`] takes arbitrary bytes as a stream of enveloped messages and
//! decodes them twice, from memory ([`slice::recv_header`] +
//! [`slice::recv_payload`]) and from an `io::Read` ([`stream::recv_header`] +
//! [`stream::recv_payload`]). Each payload is decoded as one of [`KINDS`]
//! representative types, chosen by the envelope's ID modulo [`KINDS`]. It
//! panics (a finding) if:
//! * a value that decoded does not survive [`slice::to_vec`] and a second
//!   decode unchanged (the decoder disagrees with the encoder, `rmp-serde`);
//! * the two paths disagree about any message (same bytes, different
//!   result depending on the transport), or either consumes other than the
//!   whole payload;
//! * a decode error is of a kind the input cannot explain.
//!
//! Panics, hangs and oversized allocations inside `ipc-msgpack` itself are
//! caught by libFuzzer (`-timeout`, `-rss_limit_mb`, `-malloc_limit_mb`).
#![deny(unsafe_code)]

use ipc_msgpack::{message, slice, stream, Error, Flags, FramesInto, Header, Limits, Message};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Cursor;

/// The receiver's limits while fuzzing.
pub const LIMITS: Limits = Limits {
    max_message: 1 << 20,
    max_depth: 32,
    payload_timeout: None,
};

/// The limits for decoding what `slice::to_vec` re-encoded: a value can take more
/// bytes in the encoder's form (a variant name for an index, say) than it
/// did in the input.
const RELAXED: Limits = Limits {
    max_message: u32::MAX,
    ..LIMITS
};

/// How many message types a payload may be decoded as (ID modulo this).
pub const KINDS: u32 = 7;

/// Samples [`FramesInto`] may write: a real-time thread's stack buffer.
pub const FRAMES: usize = 64;

/// An `f32` compared bit for bit, so that NaN round-trips count as equal.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default)]
#[serde(transparent)]
pub struct F32(pub f32);

impl PartialEq for F32 {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

/// An `f64` compared bit for bit.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, Default)]
#[serde(transparent)]
pub struct F64(pub f64);

impl PartialEq for F64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

/// Kind 0: fixed-size fields only (the real-time case).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Numbers {
    pub a: u8,
    pub b: u16,
    pub c: u32,
    pub d: u64,
    pub e: i8,
    pub f: i16,
    pub g: i32,
    pub h: i64,
    pub x: F32,
    pub y: F64,
    pub on: bool,
    pub pad: [u8; 4],
    pub wide: i128,
    pub uwide: u128,
}

/// Kind 1: strings, options, nested vectors, a map.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Text {
    pub name: String,
    pub note: Option<String>,
    pub grid: Vec<Vec<u32>>,
    pub counts: BTreeMap<String, i64>,
    pub initial: char,
}

/// Kind 2: byte strings (MessagePack `bin`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Blob {
    pub id: u32,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub extra: Option<Vec<u8>>,
}

/// Kind 3: every variant shape, recursive (depth limit).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Command {
    Stop,
    Gain(F32),
    Move(i32, i32),
    Note {
        key: u8,
        velocity: F32,
        then: Option<Box<Command>>,
    },
    Batch(Vec<Command>),
}

/// Kind 4: nested tuples and a fixed-size array.
#[allow(clippy::type_complexity)] // nested on purpose
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Tuples(
    pub (u8, (i16, (String, (bool, u64)))),
    pub [u16; 3],
    pub Vec<(u8, Option<i64>)>,
);

/// Kind 5, on the encoding side: samples, decoded with [`FramesInto`].
#[derive(Serialize, Debug)]
pub struct Samples<'a>(pub &'a [f32]);

/// Kind 6: all of the above in one message.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Everything {
    pub numbers: Numbers,
    pub text: Option<Text>,
    pub blobs: Vec<Blob>,
    pub commands: Vec<Command>,
    pub tuples: Tuples,
    pub samples: Vec<F32>,
    pub marker: Marker,
}

/// A unit struct (`rmp-serde` writes an empty array).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Marker;

message!(Numbers = 0, Text = 1, Blob = 2, Command = 3, Tuples = 4, Samples<'_> = 5, Everything = 6);

/// What became of one message; both decoding paths must agree on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It decoded; the value re-encoded by `slice::to_vec` (a canonical form).
    Decoded(Vec<u8>),
    /// The payload was rejected ([`Error::Malformed`]).
    Malformed,
    /// The envelope announced more than [`LIMITS`] allow.
    TooLarge,
}

/// Runs every check on `data`; returns what became of each message.
///
/// # Panics
/// On a finding (see the crate documentation).
pub fn check(data: &[u8]) -> Vec<Outcome> {
    let sliced = slice_path(data);
    let streamed = stream_path(data);
    assert_eq!(sliced, streamed, "slice and stream decoding disagree");
    sliced
}

/// [`slice::recv_header`] + [`slice::recv_payload`] until the framing
/// breaks.
fn slice_path(mut data: &[u8]) -> Vec<Outcome> {
    let mut out = Vec::new();
    loop {
        let before = data.len();
        match slice::recv_header(&mut data, &LIMITS) {
            Ok(header) => {
                let at_payload = data.len();
                out.push(decode_slice(&header, &mut data));
                // Whatever happened, the whole payload was consumed.
                assert_eq!(
                    at_payload - data.len(),
                    header.len as usize,
                    "payload not consumed exactly"
                );
            }
            Err(Error::TooLarge { len, .. }) => {
                // Skipped with its envelope, as the stream reader does.
                assert_eq!(
                    before - data.len(),
                    ipc_msgpack::HEADER_LEN + len as usize,
                    "an oversized message not skipped exactly"
                );
                out.push(Outcome::TooLarge);
            }
            Err(Error::Framing(_)) => return out,
            Err(e) => panic!("slice::recv_header: unexpected error {e:?}"),
        }
    }
}

/// [`stream::recv_header`] + [`stream::recv_payload`] until an error that
/// leaves the stream unusable.
fn stream_path(data: &[u8]) -> Vec<Outcome> {
    let mut input = Cursor::new(data);
    let mut out = Vec::new();
    loop {
        let header = match stream::recv_header(&mut input, &LIMITS) {
            Ok(h) => h,
            Err(Error::TooLarge { .. }) => {
                out.push(Outcome::TooLarge);
                continue;
            }
            Err(e) if e.stream_usable() => panic!("stream::recv_header: unexpected error {e:?}"),
            Err(_) => return out,
        };
        let before = input.position();
        let outcome = decode_stream(&header, &mut input);
        match outcome {
            Some(o) => {
                // Whatever happened, the whole payload was consumed.
                assert_eq!(
                    input.position() - before,
                    u64::from(header.len),
                    "payload not consumed exactly"
                );
                out.push(o);
            }
            None => return out,
        }
    }
}

/// The types a payload is decoded as, both ways.
trait Kind: Message + DeserializeOwned + PartialEq + Debug {}
impl<T: Message + DeserializeOwned + PartialEq + Debug> Kind for T {}

/// Decodes the payload at the front of `input`, advancing past it.
fn decode_slice(header: &Header, input: &mut &[u8]) -> Outcome {
    match header.id % KINDS {
        0 => slice_as::<Numbers>(input, header),
        1 => slice_as::<Text>(input, header),
        2 => slice_as::<Blob>(input, header),
        3 => slice_as::<Command>(input, header),
        4 => slice_as::<Tuples>(input, header),
        5 => {
            let mut buf = [0f32; FRAMES];
            match slice::recv_payload_seed(input, header, &LIMITS, FramesInto(&mut buf)) {
                Ok(n) => frames_round_trip(&buf, n),
                Err(e) => rejected(e),
            }
        }
        _ => slice_as::<Everything>(input, header),
    }
}

/// `None`: the stream broke (only possible if the input ends early, which
/// the slice path reports as a framing error).
fn decode_stream(header: &Header, input: &mut Cursor<&[u8]>) -> Option<Outcome> {
    let result = match header.id % KINDS {
        0 => stream_as::<Numbers>(input, header),
        1 => stream_as::<Text>(input, header),
        2 => stream_as::<Blob>(input, header),
        3 => stream_as::<Command>(input, header),
        4 => stream_as::<Tuples>(input, header),
        5 => {
            let mut buf = [0f32; FRAMES];
            stream::recv_payload_seed(input, header, &LIMITS, FramesInto(&mut buf))
                .map(|n| frames_round_trip(&buf, n))
        }
        _ => stream_as::<Everything>(input, header),
    };
    match result {
        Ok(o) => Some(o),
        Err(e) if e.stream_usable() => Some(rejected(e)),
        Err(_) => None,
    }
}

fn slice_as<T: Kind>(input: &mut &[u8], header: &Header) -> Outcome {
    match slice::recv_payload::<T>(input, header, &LIMITS) {
        Ok(value) => Outcome::Decoded(round_trip(&value)),
        Err(e) => rejected(e),
    }
}

fn stream_as<T: Kind>(input: &mut Cursor<&[u8]>, header: &Header) -> Result<Outcome, Error> {
    stream::recv_payload::<T, _>(input, header, &LIMITS)
        .map(|value| Outcome::Decoded(round_trip(&value)))
}

/// A decode error of a message whose envelope was sound: it must be
/// confined to that message.
fn rejected(e: Error) -> Outcome {
    match e {
        Error::Malformed { .. } => Outcome::Malformed,
        other => panic!("a payload within the limits failed with {other:?}"),
    }
}

/// Encodes `value`, decodes it again: it must come back equal, and encode
/// to the same bytes. Returns those bytes (the payload).
fn round_trip<T: Kind>(value: &T) -> Vec<u8> {
    let bytes = slice::to_vec(value, 7, Flags::REPLY).expect("a decoded value must encode");
    let mut input = &bytes[..];
    let header = slice::recv_header(&mut input, &RELAXED).expect("to_vec writes one message");
    let payload = input;
    assert_eq!(
        (header.id, header.correlation, header.flags),
        (T::ID, 7, Flags::REPLY)
    );
    let again: T = match slice::recv_payload(&mut input, &header, &RELAXED) {
        Ok(v) => v,
        Err(e) => panic!("re-encoded {value:?} as {payload:02x?}, which does not decode: {e}"),
    };
    assert!(input.is_empty(), "to_vec writes one message");
    assert_eq!(
        &again, value,
        "round trip through {payload:02x?} changed the value"
    );
    let bytes2 = slice::to_vec(&again, 7, Flags::REPLY).expect("encodes");
    assert_eq!(bytes, bytes2, "encoding of {value:?} is not stable");
    payload.to_vec()
}

fn frames_round_trip(buf: &[f32; FRAMES], n: usize) -> Outcome {
    assert!(
        n <= FRAMES,
        "FramesInto reported {n} samples for a buffer of {FRAMES}"
    );
    let samples = &buf[..n];
    let bytes = slice::to_vec(&Samples(samples), 0, Flags::NONE).expect("samples encode");
    let mut input = &bytes[..];
    let header = slice::recv_header(&mut input, &RELAXED).expect("to_vec writes one message");
    let payload = input;
    let mut again = [0f32; FRAMES];
    let m = match slice::recv_payload_seed(&mut input, &header, &RELAXED, FramesInto(&mut again)) {
        Ok(m) => m,
        Err(e) => {
            panic!("re-encoded samples {samples:?} as {payload:02x?}, which do not decode: {e}")
        }
    };
    let bits = |s: &[f32]| s.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&again[..m]),
        bits(samples),
        "samples changed in a round trip through {payload:02x?}"
    );
    Outcome::Decoded(payload.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    /// Every seed is a sequence of valid messages: all of them decode, the
    /// same both ways. (Catches a decoder regression, or a stale corpus.)
    #[test]
    fn seed_corpus_decodes() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/decode");
        let mut files = 0;
        for entry in fs::read_dir(&dir).expect("corpus/decode exists") {
            let path = entry.unwrap().path();
            let data = fs::read(&path).unwrap();
            let outcomes = check(&data);
            assert!(!outcomes.is_empty(), "{}: no message", path.display());
            for (i, o) in outcomes.iter().enumerate() {
                assert!(
                    matches!(o, Outcome::Decoded(_)),
                    "{}: message {i}: {o:?}",
                    path.display()
                );
            }
            files += 1;
        }
        assert!(files > 0, "empty corpus");
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        assert!(check(b"").is_empty());
        assert!(check(&[0xA7; 40]).is_empty());
        let mut msg = Header::new(3, 2).to_bytes().to_vec();
        msg.extend([0x91, 0xc1]);
        assert_eq!(check(&msg), [Outcome::Malformed]);
    }
}
