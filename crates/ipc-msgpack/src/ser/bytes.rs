//! Byte sequences (a `Vec<u8>` without `serde_bytes`) encoded in a tight
//! loop: a probe tells `u8` elements from anything else of their size.

use super::{Encoder, Out, Result};
use serde::ser::{self, Serialize};
use std::fmt;

/// Bytes encoded per stack buffer in [`encode_bytes`].
const BYTE_CHUNK: usize = 4096;

/// Encodes the elements of a byte sequence (array header written) as
/// positive fixints and `0xcc` bytes, without a branch per byte. An element
/// that turns out not to be a `u8` ends the fast path: it and the rest go
/// the general way, after the bytes before it (which are what the general
/// way writes too).
pub(super) fn encode_bytes<O: Out, I: Iterator>(enc: &mut Encoder<'_, O>, mut iter: I) -> Result<()>
where
    I::Item: Serialize,
{
    let mut buf = [0u8; BYTE_CHUNK + 2];
    let mut n = 0;
    while let Some(item) = iter.next() {
        let Ok(b) = item.serialize(ByteProbe) else {
            enc.out.put(&buf[..n])?;
            item.serialize(&mut *enc)?;
            return iter.try_for_each(|item| item.serialize(&mut *enc));
        };
        let wide = b >= 128;
        buf[n] = if wide { 0xcc } else { b };
        buf[n + 1] = b;
        n += 1 + usize::from(wide);
        if n >= BYTE_CHUNK {
            enc.out.put(&buf[..n])?;
            n = 0;
        }
    }
    enc.out.put(&buf[..n])
}

/// A serializer that accepts a `u8` and nothing else: tells a byte
/// sequence's elements apart from anything else of the same size.
struct ByteProbe;

/// What [`ByteProbe`] says to anything but a `u8`.
#[derive(Debug)]
struct NotAByte;

impl fmt::Display for NotAByte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a byte")
    }
}

impl std::error::Error for NotAByte {}

impl ser::Error for NotAByte {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotAByte
    }
}

macro_rules! not_a_byte {
    ($($method:ident($($arg:ty),*);)*) => {$(
        #[inline]
        fn $method(self, $(_: $arg),*) -> std::result::Result<u8, NotAByte> {
            Err(NotAByte)
        }
    )*};
}

impl ser::Serializer for ByteProbe {
    type Ok = u8;
    type Error = NotAByte;
    type SerializeSeq = ser::Impossible<u8, NotAByte>;
    type SerializeTuple = ser::Impossible<u8, NotAByte>;
    type SerializeTupleStruct = ser::Impossible<u8, NotAByte>;
    type SerializeTupleVariant = ser::Impossible<u8, NotAByte>;
    type SerializeMap = ser::Impossible<u8, NotAByte>;
    type SerializeStruct = ser::Impossible<u8, NotAByte>;
    type SerializeStructVariant = ser::Impossible<u8, NotAByte>;

    #[inline]
    fn serialize_u8(self, v: u8) -> std::result::Result<u8, NotAByte> {
        Ok(v)
    }

    not_a_byte! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> std::result::Result<u8, NotAByte> {
        Err(NotAByte)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<u8, NotAByte> {
        Err(NotAByte)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> std::result::Result<u8, NotAByte> {
        Err(NotAByte)
    }

    fn serialize_seq(self, _: Option<usize>) -> std::result::Result<Self::SerializeSeq, NotAByte> {
        Err(NotAByte)
    }

    fn serialize_tuple(self, _: usize) -> std::result::Result<Self::SerializeTuple, NotAByte> {
        Err(NotAByte)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleStruct, NotAByte> {
        Err(NotAByte)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeTupleVariant, NotAByte> {
        Err(NotAByte)
    }

    fn serialize_map(self, _: Option<usize>) -> std::result::Result<Self::SerializeMap, NotAByte> {
        Err(NotAByte)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStruct, NotAByte> {
        Err(NotAByte)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> std::result::Result<Self::SerializeStructVariant, NotAByte> {
        Err(NotAByte)
    }
}
