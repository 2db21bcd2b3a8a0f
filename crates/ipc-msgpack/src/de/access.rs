//! The access types the deserializer hands to visitors: elements of an
//! array, entries of a map, a variant, and a byte string in chunks.

use super::{DeError, Deserializer, Result};
use crate::source::Source;
use serde::de::{self, DeserializeSeed, Visitor};

/// A byte string handed to [`BytesInto`](crate::BytesInto) in chunks as
/// they lie in the input: no copy on the way.
pub(super) struct Chunks<'a, S> {
    pub(super) src: &'a mut S,
    pub(super) left: usize,
}

impl<'de, S: Source<'de>> de::SeqAccess<'de> for Chunks<'_, S> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        let chunk = self.src.chunk(self.left)?;
        self.left -= chunk.len();
        seed.deserialize(Chunk(chunk)).map(Some)
    }
}

/// One chunk of a [`Chunks`] byte string: a deserializer that has bytes.
struct Chunk<'c>(&'c [u8]);

impl<'de> de::Deserializer<'de> for Chunk<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_bytes(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

pub(super) struct Seq<'a, 'b, S> {
    pub(super) de: &'a mut Deserializer<'b, S>,
    pub(super) left: usize,
}

impl<'de, S: Source<'de>> de::SeqAccess<'de> for &mut Seq<'_, '_, S> {
    type Error = DeError;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        // Bounded by the payload already (checked in `visit_array`), so a
        // `Vec` pre-sized from it is bounded by the message size limit.
        Some(self.left)
    }
}

pub(super) struct Map<'a, 'b, S> {
    pub(super) de: &'a mut Deserializer<'b, S>,
    pub(super) left: usize,
}

impl<'de, S: Source<'de>> de::MapAccess<'de> for &mut Map<'_, '_, S> {
    type Error = DeError;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

pub(super) struct Enum<'a, 'b, S> {
    pub(super) de: &'a mut Deserializer<'b, S>,
    pub(super) has_value: bool,
}

impl<'a, 'b, 'de, S: Source<'de>> de::EnumAccess<'de> for Enum<'a, 'b, S> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        // The variant is a name (string) or an index (integer); the
        // identifier visitor serde derives accepts both.
        let m = self.de.src.peek_u8()?;
        if !matches!(m, 0x00..=0x7f | 0xa0..=0xbf | 0xcc..=0xcf | 0xd9..=0xdb) {
            return Err(DeError::Invalid(
                "an enum variant must be a name or an index".into(),
            ));
        }
        let v = seed.deserialize(&mut *self.de)?;
        Ok((v, self))
    }
}

impl<'de, S: Source<'de>> de::VariantAccess<'de> for Enum<'_, '_, S> {
    type Error = DeError;

    fn unit_variant(self) -> Result<()> {
        if self.has_value {
            // `{name: nil}` is accepted as a unit variant too.
            de::Deserialize::deserialize(&mut *self.de)
        } else {
            Ok(())
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        if !self.has_value {
            return Err(DeError::Invalid("variant without its value".into()));
        }
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        if !self.has_value {
            return Err(DeError::Invalid("variant without its value".into()));
        }
        de::Deserializer::deserialize_any(&mut *self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.tuple_variant(0, visitor)
    }
}
