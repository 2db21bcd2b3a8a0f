//! Message types covering every serde shape used in practice, shared by the
//! peer program and the tests (the tests include this file by path).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Numbers {
    pub a: u8,
    pub b: u16,
    pub c: u32,
    pub d: u64,
    pub e: i8,
    pub f: i16,
    pub g: i32,
    pub h: i64,
    pub x: f32,
    pub y: f64,
    pub flag: bool,
    pub letter: char,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Text {
    pub s: String,
    pub empty: String,
    pub some: Option<String>,
    pub none: Option<u32>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Nested {
    pub rows: Vec<Vec<u32>>,
    pub by_name: BTreeMap<String, Vec<i64>>,
    pub by_id: HashMap<u32, String>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Blob {
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Tuple(pub u32, pub String, pub (i8, f64));

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Unit;

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Newtype(pub u64);

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub enum Shape {
    Empty,
    Circle(f32),
    Point(i32, i32),
    Rect { w: u32, h: u32 },
    Group(Vec<Shape>),
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Shapes(pub Vec<Shape>);

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Frames {
    pub channels: u8,
    pub samples: Vec<f32>,
}

/// Sent by the peer when it could not echo a message.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
pub struct Report {
    pub id: u32,
    pub error: String,
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
