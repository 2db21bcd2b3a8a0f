//! Audio frames without allocation: `&[f32]` serialises as a MessagePack
//! array of `float 32`; [`FramesInto`] decodes such an array into a buffer
//! the caller owns (a real-time thread's preallocated block).

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use std::fmt;

/// Decodes an array of numbers into `self.0`; the value is the number of
/// samples written. More samples than the buffer holds is an error, never
/// a write past its end.
///
/// Use it with [`Payload::decode_seed`](crate::Payload::decode_seed),
/// [`recv_payload_seed`](crate::recv_payload_seed) and their `stream` and
/// `slice` twins, or from a hand-written `DeserializeSeed` of a larger
/// message.
#[derive(Debug)]
pub struct FramesInto<'a>(pub &'a mut [f32]);

impl<'de> DeserializeSeed<'de> for FramesInto<'_> {
    type Value = usize;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for FramesInto<'_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of at most {} samples", self.0.len())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut n = 0;
        while let Some(sample) = seq.next_element::<f32>()? {
            let slot = self.0.get_mut(n).ok_or_else(|| {
                de::Error::invalid_length(n + 1, &"no more samples than the buffer holds")
            })?;
            *slot = sample;
            n += 1;
        }
        Ok(n)
    }
}
