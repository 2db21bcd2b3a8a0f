//! Message types covering every serde shape used in practice: what the
//! Layer II tests send to `ipc-msgpack-peer`, which decodes each into its
//! type and sends it back re-encoded, and what the codec tests compare with
//! `rmp-serde`.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Every fixed-size scalar.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Numbers {
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
    /// A `char`.
    pub letter: char,
}

/// Strings and options.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Text {
    /// Some text.
    pub s: String,
    /// An empty string.
    pub empty: String,
    /// A present option.
    pub some: Option<String>,
    /// An absent option.
    pub none: Option<u32>,
}

/// Nested vectors and maps.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Nested {
    /// Vectors of vectors.
    pub rows: Vec<Vec<u32>>,
    /// A map with string keys.
    pub by_name: BTreeMap<String, Vec<i64>>,
    /// A map with integer keys.
    pub by_id: HashMap<u32, String>,
}

/// A byte string (MessagePack `bin`).
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Blob {
    /// The bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// A tuple struct with a nested tuple.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Tuple(pub u32, pub String, pub (i8, f64));

/// A unit struct.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Unit;

/// A newtype struct.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Newtype(pub u64);

/// An enum with every variant shape, recursive.
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

/// A sequence of enums.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Shapes(pub Vec<Shape>);

/// Audio samples.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Frames {
    /// Interleaved channels.
    pub channels: u8,
    /// The samples.
    pub samples: Vec<f32>,
}

/// Sent by the peer when it could not echo a message.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Report {
    /// The ID of the message it could not echo.
    pub id: u32,
    /// The error, as text (`skipped` for an ID it does not know).
    pub error: String,
    /// Whether the stream stayed usable after it.
    pub usable: bool,
}

ipc_msgpack::message!(
    Numbers = 1,
    Text = 2,
    Nested = 3,
    Blob = 4,
    Tuple = 5,
    Unit = 6,
    Newtype = 7,
    Shapes = 8,
    Frames = 9,
    Report = 100,
);
