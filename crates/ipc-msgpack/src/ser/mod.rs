//! The MessagePack encoder: a serde `Serializer` that writes the format
//! `rmp_serde::Serializer::new` writes (structs as arrays, enums as
//! `{variant: value}` or the variant's name, the smallest integer and length
//! forms), byte for byte, into an [`Out`].
//!
//! Why our own: through `rmp_serde`, every element of a sequence costs an
//! out-of-line `write_uint` and two `io::Write` calls, so a plain `Vec<u8>`
//! (without `serde_bytes`) cost about 15 ns per byte to encode. Here a value
//! is one inlined branch and a store into the output's current span.
//! `tests/codec.rs` checks the bytes against `rmp_serde` for every shape the
//! tests know.

use serde::ser::{self, Serialize};
use std::fmt;

mod bytes;
mod compound;

use bytes::encode_bytes;
pub(crate) use compound::{Compound, Sequence};

/// Where the encoder writes.
pub(crate) trait Out {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]) -> Result<()>;

    /// Appends the first `n` (1 or 2) of `bytes`. Outputs with room write
    /// both and advance by `n`: the length of a `u8` value then costs a
    /// select, not a branch the CPU mispredicts on random bytes.
    #[inline]
    fn put_1_or_2(&mut self, bytes: [u8; 2], n: usize) -> Result<()> {
        self.put(&bytes[..n])
    }
}

impl Out for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.extend_from_slice(bytes);
        Ok(())
    }

    #[inline]
    fn put_1_or_2(&mut self, bytes: [u8; 2], n: usize) -> Result<()> {
        self.extend_from_slice(&bytes);
        self.truncate(self.len() - (2 - n));
        Ok(())
    }
}

/// Counts the bytes a value encodes to, writing nothing.
#[derive(Debug, Default)]
pub(crate) struct Count(pub(crate) u64);

impl Out for Count {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.0 += bytes.len() as u64;
        Ok(())
    }

    #[inline]
    fn put_1_or_2(&mut self, _: [u8; 2], n: usize) -> Result<()> {
        self.0 += n as u64;
        Ok(())
    }
}

/// Why a value could not be encoded.
#[derive(Debug)]
pub(crate) enum SerError {
    /// The output is full (a message that does not fit in place).
    Full,
    /// The output failed (a channel that timed out or closed, a socket).
    Io(std::io::Error),
    /// The value serialised to more bytes than its first serialisation.
    Longer,
    /// A length beyond what MessagePack can say (4 GiB - 1).
    TooLong,
    /// The value's `Serialize` implementation refused.
    Custom(String),
}

impl fmt::Display for SerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SerError::Full => f.write_str("message larger than the free space"),
            SerError::Io(e) => write!(f, "output failed: {e}"),
            SerError::Longer => f.write_str("value serialised longer the second time"),
            SerError::TooLong => f.write_str("a length of 4 GiB or more"),
            SerError::Custom(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for SerError {}

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerError::Custom(msg.to_string())
    }
}

type Result<T> = std::result::Result<T, SerError>;

/// Serialises `value` into `out`.
#[inline]
pub(crate) fn encode<T: Serialize + ?Sized, O: Out>(out: &mut O, value: &T) -> Result<()> {
    value.serialize(&mut Encoder { out })
}

/// The serde `Serializer`.
pub(crate) struct Encoder<'o, O> {
    out: &'o mut O,
}

#[inline]
fn len32(len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| SerError::TooLong)
}

impl<O: Out> Encoder<'_, O> {
    #[inline]
    fn uint(&mut self, v: u64) -> Result<()> {
        if v < 128 {
            self.out.put(&[v as u8])
        } else if v < 256 {
            self.out.put(&[0xcc, v as u8])
        } else if v < 65_536 {
            let b = (v as u16).to_be_bytes();
            self.out.put(&[0xcd, b[0], b[1]])
        } else if v < 1 << 32 {
            let b = (v as u32).to_be_bytes();
            self.out.put(&[0xce, b[0], b[1], b[2], b[3]])
        } else {
            self.marked(0xcf, &v.to_be_bytes())
        }
    }

    #[inline]
    fn sint(&mut self, v: i64) -> Result<()> {
        if v >= 0 {
            return self.uint(v as u64);
        }
        if v >= -32 {
            self.out.put(&[v as u8])
        } else if v >= -128 {
            self.out.put(&[0xd0, v as u8])
        } else if v >= -32_768 {
            let b = (v as i16).to_be_bytes();
            self.out.put(&[0xd1, b[0], b[1]])
        } else if v >= -(1 << 31) {
            let b = (v as i32).to_be_bytes();
            self.out.put(&[0xd2, b[0], b[1], b[2], b[3]])
        } else {
            self.marked(0xd3, &v.to_be_bytes())
        }
    }

    /// A marker byte and up to eight data bytes, in one piece.
    #[inline]
    fn marked(&mut self, marker: u8, data: &[u8]) -> Result<()> {
        let mut b = [0u8; 9];
        b[0] = marker;
        b[1..=data.len()].copy_from_slice(data);
        self.out.put(&b[..=data.len()])
    }

    /// A length header: the fix form below `fix_below` (`fix | len`), else
    /// the 8-bit form if there is one (`m8`), else 16 or 32 bits.
    #[inline]
    fn len_header(&mut self, len: usize, fix: (u8, u32), m8: Option<u8>, m16: u8) -> Result<()> {
        let len = len32(len)?;
        let (fix, fix_below) = fix;
        if len < fix_below {
            self.out.put(&[fix | len as u8])
        } else if let (Some(m8), true) = (m8, len < 256) {
            self.out.put(&[m8, len as u8])
        } else if len < 65_536 {
            let b = (len as u16).to_be_bytes();
            self.out.put(&[m16, b[0], b[1]])
        } else {
            self.marked(m16 + 1, &len.to_be_bytes())
        }
    }

    #[inline]
    fn array_len(&mut self, len: usize) -> Result<()> {
        self.len_header(len, (0x90, 16), None, 0xdc)
    }

    #[inline]
    fn map_len(&mut self, len: usize) -> Result<()> {
        self.len_header(len, (0x80, 16), None, 0xde)
    }

    #[inline]
    fn str(&mut self, v: &str) -> Result<()> {
        self.len_header(v.len(), (0xa0, 32), Some(0xd9), 0xda)?;
        self.out.put(v.as_bytes())
    }

    #[inline]
    fn bin(&mut self, v: &[u8]) -> Result<()> {
        // bin has no fix form: "below 0" never holds.
        self.len_header(v.len(), (0, 0), Some(0xc4), 0xc5)?;
        self.out.put(v)
    }

    /// `{variant: ...}`, the form of an enum variant with data.
    #[inline]
    fn variant_key(&mut self, variant: &str) -> Result<()> {
        self.out.put(&[0x81])?;
        self.str(variant)
    }

    #[inline]
    fn compound(&mut self) -> Compound<'_, O> {
        Compound {
            out: Encoder { out: self.out },
        }
    }

    /// A sequence or map of known length writes straight through; one of
    /// unknown length is encoded aside, then written after its count.
    #[inline]
    fn maybe_unknown(&mut self, len: Option<usize>, map: bool) -> Result<Sequence<'_, O>> {
        match len {
            Some(len) => {
                if map {
                    self.map_len(len)?;
                } else {
                    self.array_len(len)?;
                }
                Ok(Sequence::Known(Encoder { out: self.out }))
            }
            None => Ok(Sequence::Unknown {
                parent: Encoder { out: self.out },
                aside: Vec::with_capacity(128),
                items: 0,
                map,
            }),
        }
    }
}

/// Integers narrower than 64 bits: encoded as their 64-bit value (the
/// smallest form is chosen from the value, not the type).
macro_rules! widen {
    ($($method:ident($t:ty) => $to:ident;)*) => {$(
        #[inline]
        fn $method(self, v: $t) -> Result<()> {
            self.$to(v.into())
        }
    )*};
}

impl<'a, 'o, O: Out> ser::Serializer for &'a mut Encoder<'o, O> {
    type Ok = ();
    type Error = SerError;
    type SerializeSeq = Sequence<'a, O>;
    type SerializeTuple = Compound<'a, O>;
    type SerializeTupleStruct = Compound<'a, O>;
    type SerializeTupleVariant = Compound<'a, O>;
    type SerializeMap = Sequence<'a, O>;
    type SerializeStruct = Compound<'a, O>;
    type SerializeStructVariant = Compound<'a, O>;

    #[inline]
    fn is_human_readable(&self) -> bool {
        false
    }

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<()> {
        self.out.put(&[if v { 0xc3 } else { 0xc2 }])
    }

    widen! {
        serialize_i8(i8) => sint;
        serialize_i16(i16) => sint;
        serialize_i32(i32) => sint;
        serialize_u16(u16) => uint;
        serialize_u32(u32) => uint;
    }

    #[inline]
    fn serialize_i64(self, v: i64) -> Result<()> {
        self.sint(v)
    }

    fn serialize_i128(self, v: i128) -> Result<()> {
        self.bin(&v.to_be_bytes())
    }

    #[inline]
    fn serialize_u8(self, v: u8) -> Result<()> {
        let wide = v >= 128;
        self.out
            .put_1_or_2([if wide { 0xcc } else { v }, v], 1 + usize::from(wide))
    }

    #[inline]
    fn serialize_u64(self, v: u64) -> Result<()> {
        self.uint(v)
    }

    fn serialize_u128(self, v: u128) -> Result<()> {
        self.bin(&v.to_be_bytes())
    }

    #[inline]
    fn serialize_f32(self, v: f32) -> Result<()> {
        let b = v.to_bits().to_be_bytes();
        self.out.put(&[0xca, b[0], b[1], b[2], b[3]])
    }

    #[inline]
    fn serialize_f64(self, v: f64) -> Result<()> {
        self.marked(0xcb, &v.to_bits().to_be_bytes())
    }

    #[inline]
    fn serialize_char(self, v: char) -> Result<()> {
        self.str(v.encode_utf8(&mut [0u8; 4]))
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<()> {
        self.str(v)
    }

    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        self.bin(v)
    }

    #[inline]
    fn serialize_none(self) -> Result<()> {
        self.out.put(&[0xc0])
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result<()> {
        self.out.put(&[0xc0])
    }

    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        self.out.put(&[0x90])
    }

    #[inline]
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.str(variant)
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<()> {
        if name == EXT_STRUCT {
            return Err(SerError::Custom("extension types are not supported".into()));
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.variant_key(variant)?;
        value.serialize(self)
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Sequence<'a, O>> {
        self.maybe_unknown(len, false)
    }

    /// Sequences of bytes (a `Vec<u8>` or `&[u8]` without `serde_bytes`)
    /// are encoded in a tight loop through a stack buffer; the bytes are
    /// the same as element by element.
    fn collect_seq<I>(self, iter: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: Serialize,
    {
        let iter = iter.into_iter();
        let len = match iter.size_hint() {
            (lo, Some(hi)) if lo == hi => lo,
            _ => {
                let mut seq = self.maybe_unknown(None, false)?;
                for item in iter {
                    ser::SerializeSeq::serialize_element(&mut seq, &item)?;
                }
                return ser::SerializeSeq::end(seq);
            }
        };
        self.array_len(len)?;
        // `u8`, `&u8`, `Box<u8>`: anything else fails the probe at once.
        if std::mem::size_of::<I::Item>() <= std::mem::size_of::<&u8>() {
            encode_bytes(self, iter)
        } else {
            iter.into_iter()
                .try_for_each(|item| item.serialize(&mut *self))
        }
    }

    #[inline]
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, O>> {
        self.array_len(len)?;
        Ok(self.compound())
    }

    #[inline]
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a, O>> {
        self.array_len(len)?;
        Ok(self.compound())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, O>> {
        self.variant_key(variant)?;
        self.array_len(len)?;
        Ok(self.compound())
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Sequence<'a, O>> {
        self.maybe_unknown(len, true)
    }

    #[inline]
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'a, O>> {
        self.array_len(len)?;
        Ok(self.compound())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, O>> {
        self.variant_key(variant)?;
        self.array_len(len)?;
        Ok(self.compound())
    }
}

/// The newtype name `rmp_serde` reserves for MessagePack extension values,
/// which this codec does not carry (the decoder refuses them too).
const EXT_STRUCT: &str = "_ExtStruct";

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, v).unwrap();
        out
    }

    #[test]
    fn integer_boundaries_take_the_smallest_form() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0xcc, 0x80]),
            (255, &[0xcc, 0xff]),
            (256, &[0xcd, 0x01, 0x00]),
            (65_535, &[0xcd, 0xff, 0xff]),
            (65_536, &[0xce, 0, 1, 0, 0]),
            (-1, &[0xff]),
            (-32, &[0xe0]),
            (-33, &[0xd0, 0xdf]),
            (-128, &[0xd0, 0x80]),
            (-129, &[0xd1, 0xff, 0x7f]),
            (-32_769, &[0xd2, 0xff, 0xff, 0x7f, 0xff]),
            (i64::MIN, &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for &(v, want) in cases {
            assert_eq!(bytes(&v), want, "{v}");
        }
        assert_eq!(
            bytes(&u64::MAX),
            [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn length_headers_switch_form_at_their_limits() {
        assert_eq!(bytes("")[0], 0xa0);
        assert_eq!(bytes(&"x".repeat(31))[0], 0xbf);
        assert_eq!(&bytes(&"x".repeat(32))[..2], [0xd9, 32]);
        assert_eq!(&bytes(&"x".repeat(256))[..3], [0xda, 1, 0]);
        assert_eq!(&bytes(&vec![0u8; 15])[..1], [0x9f]);
        assert_eq!(&bytes(&vec![0u8; 16])[..3], [0xdc, 0, 16]);
        assert_eq!(&bytes(&vec![0u8; 65_536])[..5], [0xdd, 0, 1, 0, 0]);
        assert_eq!(&bytes(serde_bytes::Bytes::new(&[]))[..], [0xc4, 0]);
        assert_eq!(
            &bytes(serde_bytes::Bytes::new(&[0; 256]))[..3],
            [0xc5, 1, 0]
        );
    }

    #[test]
    fn extension_newtypes_are_refused() {
        #[derive(serde::Serialize)]
        #[serde(rename = "_ExtStruct")]
        struct Ext((i8, serde_bytes::ByteBuf));
        let err = encode(&mut Vec::new(), &Ext((1, serde_bytes::ByteBuf::new()))).unwrap_err();
        assert!(err.to_string().contains("extension"), "{err}");
    }
}
