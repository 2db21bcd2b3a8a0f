//! The encoder writes what `rmp_serde::Serializer::new` writes, byte for
//! byte, for every form serde has: integers and lengths at each boundary of
//! their encodings, every kind of enum variant, options, maps, sequences
//! and maps of unknown length (nested), flattened structs, 128-bit
//! integers, and sizes on both sides of 64 KiB. Each payload also decodes
//! back to its value, and goes the same way through every output (a `Vec`,
//! a stream, a ring it fits in, a ring it streams through).

use ipc_channel_shm::Segment;
use ipc_msgpack::{slice, stream, Flags, Limits, Message};
use serde::de::DeserializeOwned;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Debug;

/// A value carried as the payload of message 1.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Carry<T>(T);

impl<T: Serialize> Message for Carry<T> {
    const ID: u32 = 1;
}

fn ours<T: Serialize>(value: &T) -> Vec<u8> {
    let bytes = slice::to_vec(&Carry(value), 0, Flags::NONE).unwrap();
    bytes[ipc_msgpack::HEADER_LEN..].to_vec()
}

/// Same bytes as rmp-serde, and back to the value through the decoder.
#[track_caller]
fn same<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: T) {
    let theirs = rmp_serde::to_vec(&value).unwrap();
    let mine = ours(&value);
    assert_eq!(mine, theirs, "{value:?}");
    let whole = slice::to_vec(&Carry(&value), 0, Flags::NONE).unwrap();
    let (_, back): (_, Carry<T>) = slice::recv(&mut &whole[..], &Limits::default()).unwrap();
    assert_eq!(back.0, value);
}

/// Same bytes as rmp-serde (for values the decoder cannot rebuild as
/// written, e.g. a sequence serialised from an iterator).
#[track_caller]
fn same_bytes<T: Serialize + Debug>(value: T) {
    assert_eq!(
        ours(&value),
        rmp_serde::to_vec(&value).unwrap(),
        "{value:?}"
    );
}

#[test]
fn integers_at_every_boundary() {
    let edges: Vec<i64> = vec![
        0,
        1,
        31,
        32,
        127,
        128,
        255,
        256,
        65_535,
        65_536,
        4_294_967_295,
        4_294_967_296,
        i64::MAX,
        -1,
        -31,
        -32,
        -33,
        -127,
        -128,
        -129,
        -32_768,
        -32_769,
        -2_147_483_648,
        -2_147_483_649,
        i64::MIN,
    ];
    for &v in &edges {
        same(v);
        if let Ok(v) = i8::try_from(v) {
            same(v);
        }
        if let Ok(v) = i16::try_from(v) {
            same(v);
        }
        if let Ok(v) = i32::try_from(v) {
            same(v);
        }
        if let Ok(v) = u8::try_from(v) {
            same(v);
        }
        if let Ok(v) = u16::try_from(v) {
            same(v);
        }
        if let Ok(v) = u32::try_from(v) {
            same(v);
        }
        if let Ok(v) = u64::try_from(v) {
            same(v);
        }
    }
    same(u64::MAX);
    same(i128::MIN);
    same(u128::MAX);
    same(-5i128);
}

#[test]
fn floats_bools_chars_and_units() {
    for v in [
        0.0f64,
        -0.0,
        1.5,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::INFINITY,
    ] {
        same(v);
        same(v as f32);
    }
    same_bytes(f64::NAN);
    same(true);
    same(false);
    same('x');
    same('\u{1F3B5}');
    same(());
    same(None::<u8>);
    same(Some(Some(3u8)));
}

#[test]
fn strings_byte_strings_and_sequences_at_every_length_form() {
    for n in [0usize, 1, 15, 16, 31, 32, 255, 256, 65_535, 65_536, 70_000] {
        same("é".repeat(n / 2) + &"a".repeat(n % 2));
        same("a".repeat(n));
        same(serde_bytes::ByteBuf::from(vec![7u8; n]));
        same((0..n).map(|i| i as u16).collect::<Vec<u16>>());
        same(
            (0..n.min(20_000))
                .map(|i| (i as u32, i % 3 == 0))
                .collect::<BTreeMap<_, _>>(),
        );
    }
    // A plain Vec<u8> is an array of integers, of both widths.
    same((0..=255u8).cycle().take(100_000).collect::<Vec<u8>>());
    same([1u8, 200, 3, 4]);
    same([0u32; 17]);
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Every {
    Unit,
    Newtype(i32),
    Tuple(u8, String),
    Struct { a: Option<u8>, b: Vec<Every> },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Named {
    first: u8,
    every: Vec<Every>,
    unit: UnitStruct,
    tuple: TupleStruct,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct UnitStruct;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct TupleStruct(i8, (), [u8; 3]);

#[test]
fn every_kind_of_struct_and_variant() {
    same(Every::Unit);
    same(Every::Newtype(-7));
    same(Every::Tuple(9, "nine".into()));
    same(Named {
        first: 1,
        every: vec![
            Every::Unit,
            Every::Struct {
                a: Some(2),
                b: vec![Every::Newtype(3), Every::Struct { a: None, b: vec![] }],
            },
        ],
        unit: UnitStruct,
        tuple: TupleStruct(-1, (), [1, 2, 3]),
    });
}

#[derive(Serialize, Debug)]
struct Flattened {
    id: u32,
    #[serde(flatten)]
    rest: BTreeMap<String, u32>,
}

/// A sequence whose length is only known at its end, holding another.
#[derive(Debug)]
struct Unknown(usize);

impl Serialize for Unknown {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for i in 0..self.0 {
            if i % 7 == 0 {
                seq.serialize_element(&Unknown(i % 3))?;
            } else {
                seq.serialize_element(&i)?;
            }
        }
        seq.end()
    }
}

/// A map whose length is only known at its end.
#[derive(Debug)]
struct UnknownMap(u32);

impl Serialize for UnknownMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for i in 0..self.0 {
            map.serialize_entry(&i, &format!("v{i}"))?;
        }
        map.end()
    }
}

#[test]
fn sequences_and_maps_of_unknown_length() {
    for n in [0, 1, 15, 16, 100, 70_000] {
        same_bytes(Unknown(n));
        same_bytes(UnknownMap(n as u32));
    }
    same_bytes(Flattened {
        id: 3,
        rest: [("a".to_string(), 1), ("b".to_string(), 2)].into(),
    });
    same_bytes(Carry(Unknown(20)));
}

/// Every output writes the same bytes: a `Vec`, a stream, a ring with room,
/// and a ring the message streams through (it is far larger than the ring).
#[test]
fn every_output_writes_the_same_bytes() {
    let value: Vec<u32> = (0..300_000u32)
        .map(|i| i.wrapping_mul(2_654_435_761) >> (i % 32))
        .collect();
    let msg = Carry(value.clone());
    let in_memory = slice::to_vec(&msg, 9, Flags::NONE).unwrap();
    let mut streamed = Vec::new();
    stream::send(&mut streamed, &msg, 9, Flags::NONE).unwrap();
    assert_eq!(streamed, in_memory);
    for capacity in [8 << 20, 64 << 10] {
        let host = Segment::create(&[capacity]).unwrap();
        let peer = Segment::open(host.connection_string().unwrap()).unwrap();
        let mut writer = host.writer(0).unwrap();
        let mut reader = peer.reader(0).unwrap();
        let sent = msg.clone();
        let sender = std::thread::spawn(move || {
            ipc_msgpack::send(&mut writer, &sent, 9, Flags::NONE).unwrap();
            writer
        });
        let mut got = vec![0u8; in_memory.len()];
        reader.read_exact_into(&mut got).unwrap();
        drop(sender.join().unwrap());
        assert_eq!(got, in_memory, "ring of {capacity} bytes");
    }
}
