//! The message set the C++ layer (`include/ipc.hpp`) is checked against,
//! byte for byte: every shape the C++ serialisation maps (scalars at the
//! edges of each integer format, strings and byte strings of each length
//! format, collections, tuples, unit and newtype structs, enums of every
//! variant shape, options, recursion), each a named value whose encoding
//! `ipc-wire-vectors` prints, and the hostile payloads both decoders must
//! refuse. `tests/cpp/` holds the same values in C++; `tests/cpp_layer.rs`
//! runs that side.

use ipc_msgpack::{slice, Flags, Header, Limits, Message};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

/// Every scalar type.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Scalars {
    /// A `u8`.
    pub a: u8,
    /// A `u16`.
    pub b: u16,
    /// A `u32`.
    pub c: u32,
    /// A `u64`.
    pub d: u64,
    /// An `i8`.
    pub e: i8,
    /// An `i16`.
    pub f: i16,
    /// An `i32`.
    pub g: i32,
    /// An `i64`.
    pub h: i64,
    /// An `f32`.
    pub x: f32,
    /// An `f64`.
    pub y: f64,
    /// A `bool`.
    pub flag: bool,
    /// A `char` (C++ `char32_t`).
    pub letter: char,
}

/// Strings of each length format, and options.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Text {
    /// Some text.
    pub s: String,
    /// An empty string.
    pub empty: String,
    /// A present option.
    pub some: Option<String>,
    /// An absent option.
    pub none: Option<u32>,
    /// A long string (str 16 or str 32).
    pub long: String,
}

/// Byte strings (`bin`) of each length format.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Blobs {
    /// No bytes.
    #[serde(with = "serde_bytes")]
    pub empty: Vec<u8>,
    /// A few (bin 8).
    #[serde(with = "serde_bytes")]
    pub small: Vec<u8>,
    /// Hundreds (bin 16).
    #[serde(with = "serde_bytes")]
    pub medium: Vec<u8>,
    /// Tens of thousands (bin 32).
    #[serde(with = "serde_bytes")]
    pub large: Vec<u8>,
    /// A present optional byte string.
    #[serde(with = "serde_bytes")]
    pub maybe: Option<Vec<u8>>,
    /// An absent one.
    #[serde(with = "serde_bytes")]
    pub none: Option<Vec<u8>>,
}

/// Vectors, maps and fixed-size arrays.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Collections {
    /// Vectors of vectors.
    pub rows: Vec<Vec<u32>>,
    /// A map with string keys (ordered: the same bytes on both sides).
    pub by_name: BTreeMap<String, Vec<i64>>,
    /// A map with integer keys (C++ `unordered_map`).
    pub by_id: HashMap<u32, String>,
    /// A fixed-size array.
    pub fixed: [u16; 3],
    /// Booleans.
    pub flags: Vec<bool>,
    /// Enough elements for `array 16`, or more for `array 32`.
    pub many: Vec<u16>,
    /// Enough entries for `map 16`.
    pub wide: BTreeMap<u8, i8>,
}

/// A tuple struct of nested tuples.
#[allow(clippy::type_complexity)] // nested on purpose
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Tuples(
    pub u8,
    pub (i16, (String, (bool, u64))),
    pub (u32, f64),
    pub [i8; 2],
);

/// A unit struct (an empty array).
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Unit;

/// A newtype struct (the value itself).
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Newtype(pub u64);

/// An enum of unit variants (its variant names on the wire).
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Copy, Default)]
pub enum Mode {
    /// First.
    #[default]
    Sine,
    /// Second.
    Square,
    /// Third.
    Saw,
}

/// Unit-variant enums by name, and a C++ enum as its underlying integer.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Modes {
    /// One.
    pub mode: Mode,
    /// Several.
    pub all: Vec<Mode>,
    /// A C++ `enum class : uint8_t` without names: its integer.
    pub level: u8,
}

/// An enum of every variant shape, recursive.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub enum Shape {
    /// A unit variant.
    Empty,
    /// A newtype variant.
    Circle(f32),
    /// A tuple variant.
    Point(i32, i32),
    /// A struct variant.
    Rect {
        /// Width.
        w: u32,
        /// Height.
        h: u32,
    },
    /// A recursive variant.
    Group(Vec<Shape>),
}

/// A sequence of shapes.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Shapes(pub Vec<Shape>);

/// An enum whose C++ alternatives are plain types (named by a trait).
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A string.
    Text(String),
    /// A boolean.
    Flag(bool),
    /// Nothing (C++ `std::monostate`).
    Nothing,
}

/// A sequence of values.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Values(pub Vec<Value>);

/// The worked example of docs/PROTOCOL.md.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct NoteOn {
    /// MIDI channel.
    pub channel: u8,
    /// Key.
    pub key: u8,
    /// Velocity.
    pub velocity: f32,
}

/// A linked list through `Option<Box<_>>` (C++ `std::unique_ptr`).
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Chain {
    /// This link's value.
    pub value: i32,
    /// The rest.
    pub next: Option<Box<Chain>>,
}

/// All of it, nested.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default)]
pub struct Everything {
    /// An optional vector of enums.
    pub shapes: Option<Vec<Shape>>,
    /// A map of optional tuple structs.
    pub table: BTreeMap<String, Option<Tuples>>,
    /// Optional structs of byte strings.
    pub blobs: Vec<Option<Blobs>>,
    /// Vectors of optional enums.
    pub nested: Vec<Vec<Option<Value>>>,
    /// A recursive struct.
    pub chain: Chain,
    /// A unit struct as a field.
    pub marker: Unit,
    /// A newtype as a field.
    pub id: Newtype,
    /// A map of tuples to pairs.
    pub pairs: BTreeMap<u8, (String, Mode)>,
}

ipc_msgpack::message!(
    Scalars = 1,
    Text = 2,
    Blobs = 3,
    Collections = 4,
    Tuples = 5,
    Unit = 6,
    Newtype = 7,
    Modes = 8,
    Shapes = 9,
    Values = 10,
    NoteOn = 11,
    Chain = 12,
    Everything = 13,
);

/// A message of the set, whichever type it is.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // one variant per type, named after it
pub enum Any {
    Scalars(Scalars),
    Text(Text),
    Blobs(Blobs),
    Collections(Collections),
    Tuples(Tuples),
    Unit(Unit),
    Newtype(Newtype),
    Modes(Modes),
    Shapes(Shapes),
    Values(Values),
    NoteOn(NoteOn),
    Chain(Chain),
    Everything(Everything),
}

/// Runs `$body` with `$v` bound to the message inside `$any`.
macro_rules! with_any {
    ($any:expr, $v:ident => $body:expr) => {
        match $any {
            Any::Scalars($v) => $body,
            Any::Text($v) => $body,
            Any::Blobs($v) => $body,
            Any::Collections($v) => $body,
            Any::Tuples($v) => $body,
            Any::Unit($v) => $body,
            Any::Newtype($v) => $body,
            Any::Modes($v) => $body,
            Any::Shapes($v) => $body,
            Any::Values($v) => $body,
            Any::NoteOn($v) => $body,
            Any::Chain($v) => $body,
            Any::Everything($v) => $body,
        }
    };
}

/// The payload of `msg` as `ipc-msgpack` writes it (checked against
/// `rmp_serde`, which it must equal).
fn payload<M: Message + Debug>(msg: &M) -> Vec<u8> {
    let bytes = slice::to_vec(msg, 0, Flags::NONE).expect("the set encodes");
    let ours = bytes[ipc_msgpack::HEADER_LEN..].to_vec();
    let reference = rmp_serde::to_vec(msg).expect("rmp-serde encodes the set");
    assert_eq!(
        ours, reference,
        "ipc-msgpack and rmp-serde differ on {msg:?}"
    );
    ours
}

/// Decodes `bytes` as an `M` with the default limits.
fn decode<M: Message + DeserializeOwned>(bytes: &[u8]) -> Result<M, String> {
    let len = u32::try_from(bytes.len()).map_err(|_| "payload too large".to_owned())?;
    let header = Header::new(M::ID, len);
    let mut input = bytes;
    slice::recv_payload::<M>(&mut input, &header, &Limits::default()).map_err(|e| e.to_string())
}

impl Any {
    /// The message ID of its type.
    pub fn id(&self) -> u32 {
        fn id_of<M: Message>(_: &M) -> u32 {
            M::ID
        }
        with_any!(self, v => id_of(v))
    }

    /// Its payload.
    pub fn encode(&self) -> Vec<u8> {
        with_any!(self, v => payload(v))
    }

    /// Decodes `bytes` as a message of the same type as `self`.
    ///
    /// # Errors
    /// The decoder's error, as text.
    pub fn decode_like(&self, bytes: &[u8]) -> Result<Any, String> {
        Ok(match self {
            Any::Scalars(_) => Any::Scalars(decode(bytes)?),
            Any::Text(_) => Any::Text(decode(bytes)?),
            Any::Blobs(_) => Any::Blobs(decode(bytes)?),
            Any::Collections(_) => Any::Collections(decode(bytes)?),
            Any::Tuples(_) => Any::Tuples(decode(bytes)?),
            Any::Unit(_) => Any::Unit(decode(bytes)?),
            Any::Newtype(_) => Any::Newtype(decode(bytes)?),
            Any::Modes(_) => Any::Modes(decode(bytes)?),
            Any::Shapes(_) => Any::Shapes(decode(bytes)?),
            Any::Values(_) => Any::Values(decode(bytes)?),
            Any::NoteOn(_) => Any::NoteOn(decode(bytes)?),
            Any::Chain(_) => Any::Chain(decode(bytes)?),
            Any::Everything(_) => Any::Everything(decode(bytes)?),
        })
    }

    /// A default value of the type with this ID (to decode into).
    pub fn default_of(id: u32) -> Option<Any> {
        Some(match id {
            Scalars::ID => Any::Scalars(Scalars::default()),
            Text::ID => Any::Text(Text::default()),
            Blobs::ID => Any::Blobs(Blobs::default()),
            Collections::ID => Any::Collections(Collections::default()),
            Tuples::ID => Any::Tuples(Tuples::default()),
            Unit::ID => Any::Unit(Unit),
            Newtype::ID => Any::Newtype(Newtype::default()),
            Modes::ID => Any::Modes(Modes::default()),
            Shapes::ID => Any::Shapes(Shapes::default()),
            Values::ID => Any::Values(Values::default()),
            NoteOn::ID => Any::NoteOn(NoteOn::default()),
            Chain::ID => Any::Chain(Chain::default()),
            Everything::ID => Any::Everything(Everything::default()),
            _ => return None,
        })
    }
}

/// One named value of the set.
#[derive(Debug, Clone)]
pub struct Vector {
    /// Its name (the C++ side has a value of the same name). A name ending
    /// in `~unordered` holds a `HashMap` of several entries, whose order is
    /// the map's own: compared by value, not byte for byte.
    pub name: &'static str,
    /// The value.
    pub value: Any,
}

/// `n` bytes of a pattern that is not all one value.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

fn blobs(seed: u8) -> Blobs {
    Blobs {
        empty: vec![],
        small: pattern(5, seed),
        medium: pattern(300, seed),
        large: pattern(70_000, seed),
        maybe: Some(pattern(3, seed)),
        none: None,
    }
}

fn tuples() -> Tuples {
    Tuples(
        7,
        (-300, ("seven".into(), (true, u64::MAX))),
        (70_000, -2.5),
        [-128, 127],
    )
}

fn chain(n: i32) -> Chain {
    let mut c = Chain {
        value: n,
        next: None,
    };
    for v in (0..n).rev() {
        c = Chain {
            value: v,
            next: Some(Box::new(c)),
        };
    }
    c
}

/// The whole set, in a fixed order.
pub fn vectors() -> Vec<Vector> {
    let v = |name, value| Vector { name, value };
    let scalars = |a, b, c, d, e, f, g, h, x, y, flag, letter| Scalars {
        a,
        b,
        c,
        d,
        e,
        f,
        g,
        h,
        x,
        y,
        flag,
        letter,
    };
    vec![
        v(
            "scalars-zero",
            Any::Scalars(scalars(0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, false, 'a')),
        ),
        v(
            "scalars-max",
            Any::Scalars(scalars(
                u8::MAX,
                u16::MAX,
                u32::MAX,
                u64::MAX,
                i8::MAX,
                i16::MAX,
                i32::MAX,
                i64::MAX,
                f32::MAX,
                f64::MAX,
                true,
                '\u{10FFFF}',
            )),
        ),
        v(
            "scalars-min",
            Any::Scalars(scalars(
                0,
                0,
                0,
                0,
                i8::MIN,
                i16::MIN,
                i32::MIN,
                i64::MIN,
                f32::MIN_POSITIVE,
                -0.0,
                false,
                'ß',
            )),
        ),
        v(
            "scalars-format-edges-1",
            Any::Scalars(scalars(
                127,
                128,
                255,
                256,
                -32,
                -33,
                127,
                128,
                -1.5e-7,
                std::f64::consts::PI,
                true,
                '€',
            )),
        ),
        v(
            "scalars-format-edges-2",
            Any::Scalars(scalars(
                128,
                255,
                65_535,
                65_536,
                -1,
                -129,
                -32_769,
                -2_147_483_649,
                f32::INFINITY,
                f64::NEG_INFINITY,
                false,
                '🎹',
            )),
        ),
        v(
            "scalars-format-edges-3",
            Any::Scalars(scalars(
                1,
                256,
                65_536,
                4_294_967_295,
                -128,
                -32_768,
                -2_147_483_648,
                4_294_967_296,
                1e-45,
                5e-324,
                true,
                '\u{7f}',
            )),
        ),
        v(
            "scalars-signed-as-unsigned",
            Any::Scalars(scalars(
                0,
                0,
                0,
                u64::from(u32::MAX) + 1,
                100,
                200,
                70_000,
                5_000_000_000,
                0.8,
                0.1,
                false,
                '\u{80}',
            )),
        ),
        v(
            "text",
            Any::Text(Text {
                s: "grüße, 音楽 🎹".into(),
                empty: String::new(),
                some: Some("x".repeat(31)),
                none: None,
                long: "y".repeat(300),
            }),
        ),
        v(
            "text-format-edges",
            Any::Text(Text {
                s: "z".repeat(32),
                empty: "w".repeat(255),
                some: Some("v".repeat(256)),
                none: Some(u32::MAX),
                long: "long ".repeat(14_000),
            }),
        ),
        v("blobs", Any::Blobs(blobs(1))),
        v(
            "blobs-format-edges",
            Any::Blobs(Blobs {
                empty: pattern(255, 2),
                small: pattern(256, 3),
                medium: pattern(65_535, 4),
                large: pattern(65_536, 5),
                maybe: Some(vec![]),
                none: None,
            }),
        ),
        v(
            "collections",
            Any::Collections(Collections {
                rows: vec![vec![], vec![1], (0..1000).collect()],
                by_name: [
                    ("first".to_owned(), vec![1, -2, 3]),
                    (String::new(), vec![]),
                    ("big".to_owned(), vec![i64::MIN, i64::MAX]),
                ]
                .into_iter()
                .collect(),
                by_id: [(42, "answer".to_owned())].into_iter().collect(),
                fixed: [0, 255, 65_535],
                flags: vec![true, false, true],
                many: (0..20).collect(),
                wide: (0..20).map(|i| (i, -(i as i8))).collect(),
            }),
        ),
        v(
            "collections-empty",
            Any::Collections(Collections {
                fixed: [1, 2, 3],
                many: (0..15).collect(),
                wide: (0..15).map(|i| (i, i as i8)).collect(),
                ..Collections::default()
            }),
        ),
        v(
            "collections-large",
            Any::Collections(Collections {
                many: (0..70_000u32).map(|i| i as u16).collect(),
                wide: (0..=255u8).map(|i| (i, i as i8)).collect(),
                ..Collections::default()
            }),
        ),
        v(
            "collections-hashmap~unordered",
            Any::Collections(Collections {
                by_id: (0..100).map(|i| (i * 7, format!("v{i}"))).collect(),
                ..Collections::default()
            }),
        ),
        v("tuples", Any::Tuples(tuples())),
        v("unit", Any::Unit(Unit)),
        v("newtype", Any::Newtype(Newtype(1 << 40))),
        v("newtype-small", Any::Newtype(Newtype(5))),
        v(
            "modes",
            Any::Modes(Modes {
                mode: Mode::Square,
                all: vec![Mode::Sine, Mode::Square, Mode::Saw],
                level: 2,
            }),
        ),
        v(
            "shapes",
            Any::Shapes(Shapes(vec![
                Shape::Empty,
                Shape::Circle(2.5),
                Shape::Point(-1, 1),
                Shape::Rect { w: 640, h: 480 },
                Shape::Group(vec![Shape::Empty, Shape::Group(vec![Shape::Circle(1.0)])]),
            ])),
        ),
        v(
            "values",
            Any::Values(Values(vec![
                Value::Int(-5),
                Value::Int(1 << 33),
                Value::Text("hi".into()),
                Value::Flag(true),
                Value::Nothing,
            ])),
        ),
        v(
            "note-on",
            Any::NoteOn(NoteOn {
                channel: 0,
                key: 60,
                velocity: 0.8,
            }),
        ),
        v("chain", Any::Chain(chain(20))),
        v(
            "everything",
            Any::Everything(Everything {
                shapes: Some(vec![Shape::Rect { w: 1, h: 2 }, Shape::Empty]),
                table: [("a".to_owned(), Some(tuples())), ("b".to_owned(), None)]
                    .into_iter()
                    .collect(),
                blobs: vec![None, Some(blobs(9))],
                nested: vec![
                    vec![],
                    vec![None, Some(Value::Nothing), Some(Value::Int(0))],
                ],
                chain: chain(3),
                marker: Unit,
                id: Newtype(0),
                pairs: [(1, ("one".to_owned(), Mode::Saw))].into_iter().collect(),
            }),
        ),
        v("everything-default", Any::Everything(Everything::default())),
    ]
}

/// A payload both decoders must refuse: what it is, the ID of the type it
/// is decoded as, and its bytes.
#[derive(Debug, Clone)]
pub struct Hostile {
    /// What is wrong with it.
    pub what: &'static str,
    /// The message ID of the type to decode it as.
    pub id: u32,
    /// The payload.
    pub bytes: Vec<u8>,
}

/// The hostile payloads (those of `tests/msgpack_process.rs` and the
/// codec tests, and more), each refused by the Rust decoder (checked by
/// `tests/cpp_layer.rs`).
pub fn hostile() -> Vec<Hostile> {
    let h = |what, id, bytes: Vec<u8>| Hostile { what, id, bytes };
    // Shape::Group(vec![Shape::Group(vec![...])]) 40 levels deep.
    let mut deep_groups = vec![0x91u8];
    for _ in 0..40 {
        deep_groups.extend_from_slice(b"\x81\xa5Group\x91");
    }
    deep_groups.extend_from_slice(b"\xa5Empty");
    // Chain { value: 0, next: Some(...) } 100 levels deep.
    let mut deep_chain = Vec::new();
    for _ in 0..100 {
        deep_chain.extend_from_slice(&[0x92, 0x00]);
    }
    deep_chain.push(0xc0);
    // A NoteOn whose trailing (skipped) field nests 200 arrays deep.
    let mut deep_trailing = vec![0x94, 0x00, 0x3c, 0xca, 0x3f, 0x4c, 0xcc, 0xcd];
    deep_trailing.extend(std::iter::repeat_n(0x91, 200));
    deep_trailing.push(0x90);
    let note = |tail: &[u8]| {
        let mut v = vec![0x93, 0x00, 0x3c];
        v.extend_from_slice(tail);
        v
    };
    vec![
        h("empty payload", NoteOn::ID, vec![]),
        h("too deep (enum groups)", Shapes::ID, deep_groups),
        h("too deep (options of boxes)", Chain::ID, deep_chain),
        h(
            "too deep (skipped trailing field)",
            NoteOn::ID,
            deep_trailing,
        ),
        h(
            "bin claiming 4 GiB",
            Blobs::ID,
            vec![0x96, 0xc6, 0xff, 0xff, 0xff, 0xf0, 1, 2, 3],
        ),
        h(
            "str claiming 4 GiB",
            Text::ID,
            vec![0x95, 0xdb, 0xff, 0xff, 0xff, 0xff, b'a'],
        ),
        h(
            "array claiming 4 G elements",
            Collections::ID,
            vec![0x97, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x90, 0x80, 0x80],
        ),
        h(
            "map claiming 64 K entries",
            Collections::ID,
            vec![0x97, 0x90, 0xde, 0xff, 0xff, 0x80],
        ),
        h(
            "map claiming 4 G entries",
            Collections::ID,
            vec![0x97, 0x90, 0xdf, 0xff, 0xff, 0xff, 0xff, 0x80],
        ),
        h(
            "map entry without its value",
            Collections::ID,
            vec![0x97, 0x90, 0x81, 0xa1, b'k'],
        ),
        h(
            "invalid UTF-8",
            Text::ID,
            vec![0x95, 0xa2, 0xff, 0xfe, 0xa0, 0xc0, 0xc0, 0xa0],
        ),
        h(
            "overlong UTF-8",
            Text::ID,
            vec![0x95, 0xa2, 0xc0, 0xaf, 0xa0, 0xc0, 0xc0, 0xa0],
        ),
        h(
            "UTF-8 surrogate",
            Text::ID,
            vec![0x95, 0xa3, 0xed, 0xa0, 0x80, 0xa0, 0xc0, 0xc0, 0xa0],
        ),
        h("wrong type", Newtype::ID, vec![0xa3, b'a', b'b', b'c']),
        h("nil for an integer", Newtype::ID, vec![0xc0]),
        h(
            "float for an integer",
            Newtype::ID,
            vec![0xca, 0x3f, 0x80, 0, 0],
        ),
        h("negative for an unsigned", Newtype::ID, vec![0xff]),
        h("trailing bytes", Newtype::ID, vec![0x05, 0x06]),
        h("cut-short value", Newtype::ID, vec![0xcf, 1, 2]),
        h("reserved marker", Newtype::ID, vec![0xc1]),
        h("extension type", Newtype::ID, vec![0xd4, 1, 2]),
        h("float given as a string", NoteOn::ID, note(&[0xa1, b'x'])),
        h(
            "i8 given 200",
            Tuples::ID,
            vec![
                0x94, 0x00, 0x92, 0x00, 0x92, 0xa0, 0x92, 0xc2, 0x00, 0x92, 0x00, 0x00, 0x92, 0xcc,
                0xc8, 0x00,
            ],
        ),
        h(
            "u8 given 256",
            NoteOn::ID,
            vec![0x93, 0xcd, 0x01, 0x00, 0x3c, 0xca, 0, 0, 0, 0],
        ),
        h(
            "struct with too few fields",
            NoteOn::ID,
            vec![0x92, 0x00, 0x3c],
        ),
        h("struct as a string", NoteOn::ID, vec![0xa1, b'x']),
        h(
            "struct map missing a field",
            NoteOn::ID,
            b"\x82\xa7channel\x00\xa3key\x3c".to_vec(),
        ),
        h(
            "struct map with a duplicate field",
            NoteOn::ID,
            b"\x84\xa7channel\x00\xa3key\x3c\xa8velocity\x00\xa3key\x3c".to_vec(),
        ),
        h(
            "unit struct as a non-empty array",
            Unit::ID,
            vec![0x91, 0x00],
        ),
        h("unknown variant", Shapes::ID, b"\x91\x91\xa4Oval".to_vec()),
        h(
            "variant index out of range",
            Shapes::ID,
            vec![0x91, 0x91, 0x07],
        ),
        h(
            "variant without its value",
            Shapes::ID,
            b"\x91\x91\xa6Circle".to_vec(),
        ),
        h(
            "enum map with two entries",
            Shapes::ID,
            b"\x91\x91\x82\xa6Circle\x00\xa5Empty\xc0".to_vec(),
        ),
        h(
            "variant name of the wrong type",
            Shapes::ID,
            vec![0x91, 0x91, 0x81, 0xc3, 0x00],
        ),
        h(
            "unknown unit variant",
            Modes::ID,
            b"\x93\xa8Triangle\x90\x00".to_vec(),
        ),
        h(
            "char of two code points",
            Scalars::ID,
            b"\x9c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc2\xa2ab".to_vec(),
        ),
        h(
            "fixed array too short",
            Collections::ID,
            vec![0x97, 0x90, 0x80, 0x80, 0x92, 0x00, 0x00, 0x90, 0x90, 0x80],
        ),
        h(
            "bool for a byte string",
            Blobs::ID,
            vec![0x96, 0xc3, 0xc4, 0, 0xc4, 0, 0xc4, 0, 0xc0, 0xc0],
        ),
    ]
}
