//! A MessagePack deserializer for serde, written for untrusted input.
//!
//! It reads the format `rmp-serde` writes (structs as arrays or maps, enums
//! as a variant name or a one-entry map `{name: value}`, `Option` as nil or
//! the value), and:
//! * never reads past the payload, and checks every claimed length against the
//!   bytes left before allocating or looping (an array element takes at least
//!   one byte, a map entry two);
//! * limits nesting depth;
//! * copies once: strings and byte strings are borrowed when the input is a
//!   slice, and otherwise read straight into the `String`/`Vec` handed to
//!   the visitor, never through a scratch buffer;
//! * allocates nothing for numbers, booleans, arrays and structs of them.

mod access;

use crate::source::Source;
use access::{Chunks, Enum, Map, Seq};
use serde::de::{self, Visitor};
use std::fmt;
use std::io;

/// Why decoding stopped.
#[derive(Debug)]
pub(crate) enum DeError {
    /// The transport failed (channel closed, peer died, timeout, I/O).
    Io(io::Error),
    /// The payload ended before the value did.
    Truncated { needed: usize, left: usize },
    /// Anything else: the text says what (allocated only on this error path).
    Invalid(String),
}

impl DeError {
    #[inline]
    pub(crate) fn io(e: io::Error) -> DeError {
        DeError::Io(e)
    }

    #[inline]
    pub(crate) fn truncated(needed: usize, left: usize) -> DeError {
        DeError::Truncated { needed, left }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeError::Io(e) => write!(f, "transport: {e}"),
            DeError::Truncated { needed, left } => {
                write!(
                    f,
                    "a value needs {needed} more bytes but the payload has {left}"
                )
            }
            DeError::Invalid(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::Invalid(msg.to_string())
    }
}

type Result<T> = std::result::Result<T, DeError>;

/// The MessagePack deserializer over a [`Source`].
pub(crate) struct Deserializer<'a, S> {
    src: &'a mut S,
    depth_left: u32,
}

impl<'a, 'de, S: Source<'de>> Deserializer<'a, S> {
    #[inline]
    pub(crate) fn new(src: &'a mut S, max_depth: u32) -> Self {
        Deserializer {
            src,
            depth_left: max_depth,
        }
    }

    #[inline]
    fn be<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.src.read_exact(&mut b)?;
        Ok(b)
    }

    #[inline]
    fn len8(&mut self) -> Result<usize> {
        Ok(usize::from(self.src.read_u8()?))
    }

    #[inline]
    fn len16(&mut self) -> Result<usize> {
        Ok(usize::from(u16::from_be_bytes(self.be()?)))
    }

    #[inline]
    fn len32(&mut self) -> Result<usize> {
        usize::try_from(u32::from_be_bytes(self.be()?))
            .map_err(|_| DeError::Invalid("length does not fit".into()))
    }

    #[inline]
    fn nest<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth_left == 0 {
            return Err(DeError::Invalid("nesting deeper than the limit".into()));
        }
        self.depth_left -= 1;
        let r = f(self);
        self.depth_left += 1;
        r
    }

    fn visit_str<V: Visitor<'de>>(&mut self, len: usize, visitor: V) -> Result<V::Value> {
        self.src.ensure(len)?;
        if let Some(bytes) = self.src.borrow(len) {
            let s = std::str::from_utf8(bytes)
                .map_err(|_| DeError::Invalid("string is not UTF-8".into()))?;
            return visitor.visit_borrowed_str(s);
        }
        let buf = self.src.read_vec(len)?;
        let s =
            String::from_utf8(buf).map_err(|_| DeError::Invalid("string is not UTF-8".into()))?;
        visitor.visit_string(s)
    }

    fn visit_bin<V: Visitor<'de>>(&mut self, len: usize, visitor: V) -> Result<V::Value> {
        self.src.ensure(len)?;
        if let Some(bytes) = self.src.borrow(len) {
            return visitor.visit_borrowed_bytes(bytes);
        }
        visitor.visit_byte_buf(self.src.read_vec(len)?)
    }

    fn visit_array<V: Visitor<'de>>(&mut self, len: usize, visitor: V) -> Result<V::Value> {
        // Each element takes at least one byte.
        self.src.ensure(len)?;
        self.nest(|de| {
            let mut access = Seq { de, left: len };
            let value = visitor.visit_seq(&mut access)?;
            // Trailing elements a newer peer added: skip them.
            while access.left > 0 {
                access.left -= 1;
                de::Deserializer::deserialize_ignored_any(&mut *access.de, de::IgnoredAny)?;
            }
            Ok(value)
        })
    }

    fn visit_map<V: Visitor<'de>>(&mut self, len: usize, visitor: V) -> Result<V::Value> {
        // Each entry takes at least two bytes.
        self.src.ensure(len.saturating_mul(2))?;
        self.nest(|de| {
            let mut access = Map { de, left: len };
            let value = visitor.visit_map(&mut access)?;
            if access.left > 0 {
                return Err(DeError::Invalid("map entries left unread".into()));
            }
            Ok(value)
        })
    }

    fn skip_ext(&mut self, len: usize) -> Result<()> {
        self.src.skip(1 + len) // type byte + data
    }
}

impl<'de, S: Source<'de>> de::Deserializer<'de> for &mut Deserializer<'_, S> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let m = self.src.read_u8()?;
        self.any_from(m, visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.src.peek_u8()? == 0xc0 {
            self.src.read_u8()?;
            visitor.visit_none()
        } else {
            // `Some(x)` is `x` on the wire: no byte is consumed for this
            // level, so only the depth limit stops `Option<Box<Self>>`.
            self.nest(|de| visitor.visit_some(de))
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.src.read_u8()? {
            // nil, or the empty array rmp-serde writes for unit structs
            0xc0 | 0x90 => visitor.visit_unit(),
            _ => Err(DeError::Invalid("expected nil".into())),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == crate::bytes_into::BYTES_INTO {
            if let Some(len) = self.byte_string_len()? {
                return visitor.visit_seq(Chunks {
                    src: &mut *self.src,
                    left: len,
                });
            }
        }
        // As for `Some`: a level that consumes no input counts as one.
        self.nest(|de| visitor.visit_newtype_struct(de))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let m = self.src.peek_u8()?;
        let one_entry_map = match m {
            0x81 => {
                self.src.read_u8()?;
                true
            }
            0xde | 0xdf => {
                self.src.read_u8()?;
                let len = if m == 0xde {
                    self.len16()?
                } else {
                    self.len32()?
                };
                if len != 1 {
                    return Err(DeError::Invalid(
                        "an enum map must have exactly one entry".into(),
                    ));
                }
                true
            }
            _ => false,
        };
        if one_entry_map {
            self.nest(|de| {
                visitor.visit_enum(Enum {
                    de,
                    has_value: true,
                })
            })
        } else {
            // A bare variant name or index: a unit variant.
            visitor.visit_enum(Enum {
                de: self,
                has_value: false,
            })
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let m = self.src.read_u8()?;
        match m {
            0x00..=0x7f | 0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => {}
            0x80..=0x8f => self.skip_items(2 * usize::from(m & 0x0f))?,
            0x90..=0x9f => self.skip_items(usize::from(m & 0x0f))?,
            0xa0..=0xbf => self.src.skip(usize::from(m & 0x1f))?,
            0xc4 | 0xd9 => {
                let n = self.len8()?;
                self.src.skip(n)?
            }
            0xc5 | 0xda => {
                let n = self.len16()?;
                self.src.skip(n)?
            }
            0xc6 | 0xdb => {
                let n = self.len32()?;
                self.src.skip(n)?
            }
            0xc7 => {
                let n = self.len8()?;
                self.skip_ext(n)?
            }
            0xc8 => {
                let n = self.len16()?;
                self.skip_ext(n)?
            }
            0xc9 => {
                let n = self.len32()?;
                self.skip_ext(n)?
            }
            0xca | 0xce | 0xd2 => self.src.skip(4)?,
            0xcb | 0xcf | 0xd3 => self.src.skip(8)?,
            0xcc | 0xd0 => self.src.skip(1)?,
            0xcd | 0xd1 => self.src.skip(2)?,
            0xd4 => self.src.skip(2)?,
            0xd5 => self.src.skip(3)?,
            0xd6 => self.src.skip(5)?,
            0xd7 => self.src.skip(9)?,
            0xd8 => self.src.skip(17)?,
            0xdc => {
                let n = self.len16()?;
                self.skip_items(n)?
            }
            0xdd => {
                let n = self.len32()?;
                self.skip_items(n)?
            }
            0xde => {
                let n = self.len16()?;
                self.skip_items(n.saturating_mul(2))?
            }
            0xdf => {
                let n = self.len32()?;
                self.skip_items(n.saturating_mul(2))?
            }
            0xc1 => return Err(DeError::Invalid("marker 0xc1 is never used".into())),
        }
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        false
    }

    /// `rmp-serde` writes 128-bit integers as a 16-byte big-endian `bin`;
    /// smaller values written as plain integers are accepted too.
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.wide()? {
            Some(b) => visitor.visit_i128(i128::from_be_bytes(b)),
            None => de::Deserializer::deserialize_any(self, visitor),
        }
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.wide()? {
            Some(b) => visitor.visit_u128(u128::from_be_bytes(b)),
            None => de::Deserializer::deserialize_any(self, visitor),
        }
    }

    // Numbers and booleans have a fast path for their usual formats
    // (an array of them, a sample buffer, decodes at a few instructions
    // an element); any other format goes through `deserialize_any`.
    #[inline]
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // The bytes of a plain `Vec<u8>` (no `serde_bytes`) are half one
        // byte (below 128), half two (`0xcc`, byte): a select, not a branch
        // the CPU would mispredict every other byte.
        if let Some([m, next]) = self.src.peek2() {
            let wide = m == 0xcc;
            if m < 0x80 || wide {
                self.src.consume_peeked(1 + usize::from(wide));
                return visitor.visit_u8(if wide { next } else { m });
            }
        }
        match self.src.read_u8()? {
            m @ 0x00..=0x7f => visitor.visit_u8(m),
            0xcc => visitor.visit_u8(self.src.read_u8()?),
            m => self.number_from(m, visitor),
        }
    }

    #[inline]
    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.src.read_u8()? {
            m @ (0x00..=0x7f | 0xe0..=0xff) => visitor.visit_i8(m as i8),
            0xd0 => visitor.visit_i8(self.src.read_u8()? as i8),
            m => self.number_from(m, visitor),
        }
    }

    #[inline]
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.src.read_u8()? {
            m @ 0x00..=0x7f => visitor.visit_u8(m),
            0xcc => visitor.visit_u8(self.src.read_u8()?),
            0xcd => visitor.visit_u16(u16::from_be_bytes(self.be()?)),
            m => self.number_from(m, visitor),
        }
    }

    #[inline]
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.src.read_u8()? {
            m @ 0x00..=0x7f => visitor.visit_u8(m),
            0xce => visitor.visit_u32(u32::from_be_bytes(self.be()?)),
            m => self.number_from(m, visitor),
        }
    }

    #[inline]
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.src.read_u8()? {
            0xca => visitor.visit_f32(f32::from_be_bytes(self.be()?)),
            m => self.number_from(m, visitor),
        }
    }

    #[inline]
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.src.read_u8()? {
            0xcb => visitor.visit_f64(f64::from_be_bytes(self.be()?)),
            m => self.number_from(m, visitor),
        }
    }

    #[inline]
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.src.read_u8()? {
            0xc2 => visitor.visit_bool(false),
            0xc3 => visitor.visit_bool(true),
            m => self.number_from(m, visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        i16 i32 i64 u64 char str string
        bytes byte_buf seq tuple tuple_struct map struct identifier
    }
}

impl<'de, S: Source<'de>> Deserializer<'_, S> {
    /// Decodes the value whose marker `m` was just read.
    #[inline]
    fn any_from<V: Visitor<'de>>(&mut self, m: u8, visitor: V) -> Result<V::Value> {
        match m {
            0x00..=0x7f => visitor.visit_u8(m),
            0x80..=0x8f => self.visit_map(usize::from(m & 0x0f), visitor),
            0x90..=0x9f => self.visit_array(usize::from(m & 0x0f), visitor),
            0xa0..=0xbf => self.visit_str(usize::from(m & 0x1f), visitor),
            0xc0 => visitor.visit_unit(),
            0xc2 => visitor.visit_bool(false),
            0xc3 => visitor.visit_bool(true),
            0xc4 => {
                let n = self.len8()?;
                self.visit_bin(n, visitor)
            }
            0xc5 => {
                let n = self.len16()?;
                self.visit_bin(n, visitor)
            }
            0xc6 => {
                let n = self.len32()?;
                self.visit_bin(n, visitor)
            }
            0xca => visitor.visit_f32(f32::from_be_bytes(self.be()?)),
            0xcb => visitor.visit_f64(f64::from_be_bytes(self.be()?)),
            0xcc => visitor.visit_u8(self.src.read_u8()?),
            0xcd => visitor.visit_u16(u16::from_be_bytes(self.be()?)),
            0xce => visitor.visit_u32(u32::from_be_bytes(self.be()?)),
            0xcf => visitor.visit_u64(u64::from_be_bytes(self.be()?)),
            0xd0 => visitor.visit_i8(i8::from_be_bytes(self.be()?)),
            0xd1 => visitor.visit_i16(i16::from_be_bytes(self.be()?)),
            0xd2 => visitor.visit_i32(i32::from_be_bytes(self.be()?)),
            0xd3 => visitor.visit_i64(i64::from_be_bytes(self.be()?)),
            0xd9 => {
                let n = self.len8()?;
                self.visit_str(n, visitor)
            }
            0xda => {
                let n = self.len16()?;
                self.visit_str(n, visitor)
            }
            0xdb => {
                let n = self.len32()?;
                self.visit_str(n, visitor)
            }
            0xdc => {
                let n = self.len16()?;
                self.visit_array(n, visitor)
            }
            0xdd => {
                let n = self.len32()?;
                self.visit_array(n, visitor)
            }
            0xde => {
                let n = self.len16()?;
                self.visit_map(n, visitor)
            }
            0xdf => {
                let n = self.len32()?;
                self.visit_map(n, visitor)
            }
            0xe0..=0xff => visitor.visit_i8(m as i8),
            0xc1 => Err(DeError::Invalid("marker 0xc1 is never used".into())),
            0xc7..=0xc9 | 0xd4..=0xd8 => {
                Err(DeError::Invalid("extension types are not supported".into()))
            }
        }
    }

    /// A number whose marker is not the usual one for its type: any
    /// format the visitor accepts.
    #[cold]
    fn number_from<V: Visitor<'de>>(&mut self, m: u8, visitor: V) -> Result<V::Value> {
        self.any_from(m, visitor)
    }
}

impl<'de, S: Source<'de>> Deserializer<'_, S> {
    /// A 128-bit integer's 16 bytes, if the next value is a `bin 8` of that
    /// length; `None` (nothing consumed) for any other value.
    fn wide(&mut self) -> Result<Option<[u8; 16]>> {
        if self.src.peek_u8()? != 0xc4 {
            return Ok(None);
        }
        self.src.read_u8()?;
        if self.len8()? != 16 {
            return Err(DeError::Invalid(
                "a 128-bit integer must be 16 bytes".into(),
            ));
        }
        Ok(Some(self.be()?))
    }

    /// Skips `items` values (array elements, or map keys and values).
    fn skip_items(&mut self, items: usize) -> Result<()> {
        self.src.ensure(items)?;
        self.nest(|de| {
            for _ in 0..items {
                de::Deserializer::deserialize_ignored_any(&mut *de, de::IgnoredAny)?;
            }
            Ok(())
        })
    }
}

impl<'de, S: Source<'de>> Deserializer<'_, S> {
    /// The length of the `bin` or `str` that comes next (its header
    /// consumed, its bytes checked to be within the payload); `None`, with
    /// nothing consumed, for any other value.
    fn byte_string_len(&mut self) -> Result<Option<usize>> {
        let len = match self.src.peek_u8()? {
            m @ 0xa0..=0xbf => {
                self.src.read_u8()?;
                usize::from(m & 0x1f)
            }
            0xc4 | 0xd9 => {
                self.src.read_u8()?;
                self.len8()?
            }
            0xc5 | 0xda => {
                self.src.read_u8()?;
                self.len16()?
            }
            0xc6 | 0xdb => {
                self.src.read_u8()?;
                self.len32()?
            }
            _ => return Ok(None),
        };
        self.src.ensure(len)?;
        Ok(Some(len))
    }
}
