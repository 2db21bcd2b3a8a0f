//! The encoder's compound values: fields of structs, tuples and variants
//! (their count written up front), and sequences and maps (of a count known
//! up front, or counted while they are written aside).

use super::{Encoder, Out, Result, SerError};
use serde::ser::{self, Serialize};

/// Fields of a struct, tuple or variant: their count was written up front.
pub(crate) struct Compound<'a, O> {
    pub(super) out: Encoder<'a, O>,
}

macro_rules! compound_impl {
    ($($trait:ident :: $method:ident $(($key:ident))?),* $(,)?) => {$(
        impl<O: Out> ser::$trait for Compound<'_, O> {
            type Ok = ();
            type Error = SerError;

            #[inline]
            fn $method<T: Serialize + ?Sized>(
                &mut self,
                $($key: &'static str,)?
                value: &T,
            ) -> Result<()> {
                $(let _ = $key;)?
                value.serialize(&mut self.out)
            }

            #[inline]
            fn end(self) -> Result<()> {
                Ok(())
            }
        }
    )*};
}

compound_impl!(
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
    SerializeStruct::serialize_field(key),
    SerializeStructVariant::serialize_field(key),
);

/// Elements of a sequence or entries of a map.
pub(crate) enum Sequence<'a, O> {
    /// The count is written: elements go straight to the output.
    Known(Encoder<'a, O>),
    /// No count yet: elements are encoded aside and counted.
    Unknown {
        parent: Encoder<'a, O>,
        aside: Vec<u8>,
        /// Elements, or keys and values for a map.
        items: usize,
        map: bool,
    },
}

impl<O: Out> Sequence<'_, O> {
    #[inline]
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        match self {
            Sequence::Known(out) => value.serialize(out),
            Sequence::Unknown { aside, items, .. } => {
                *items += 1;
                value.serialize(&mut Encoder { out: aside })
            }
        }
    }

    fn finish(self) -> Result<()> {
        if let Sequence::Unknown {
            mut parent,
            aside,
            items,
            map,
        } = self
        {
            if map {
                parent.map_len(items / 2)?;
            } else {
                parent.array_len(items)?;
            }
            parent.out.put(&aside)?;
        }
        Ok(())
    }
}

impl<O: Out> ser::SerializeSeq for Sequence<'_, O> {
    type Ok = ();
    type Error = SerError;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.item(value)
    }

    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl<O: Out> ser::SerializeMap for Sequence<'_, O> {
    type Ok = ();
    type Error = SerError;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.item(key)
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.item(value)
    }

    #[inline]
    fn end(self) -> Result<()> {
        self.finish()
    }
}
