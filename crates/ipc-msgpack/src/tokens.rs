//! MessagePack one value head at a time, for encoders and decoders written
//! outside serde (the C interface): written in the smallest format, as
//! `rmp-serde` writes it, and read with every length checked against the
//! bytes left in the payload.

use crate::raw::{PayloadBytes, Sink};
use crate::Error;

/// The head of one MessagePack value. `Str` and `Bin` are followed by that
/// many bytes, `Array` by that many values, `Map` by that many key-value
/// pairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Token {
    /// `nil` (a unit, `None`).
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// A non-negative integer.
    Uint(u64),
    /// A negative integer (non-negative ones are written as `Uint`).
    Int(i64),
    /// A `float 32`.
    F32(f32),
    /// A `float 64`.
    F64(f64),
    /// A UTF-8 string of this many bytes.
    Str(u32),
    /// A byte string of this many bytes.
    Bin(u32),
    /// An array of this many values.
    Array(u32),
    /// A map of this many pairs.
    Map(u32),
}

/// Writes `token` in the smallest format that holds it (an `Int` that is
/// not negative is written as an unsigned integer, as `rmp-serde` does).
///
/// # Errors
/// As for [`Sink::put`].
pub fn write_token(sink: &mut dyn Sink, token: Token) -> Result<(), Error> {
    let mut buf = [0u8; 9];
    let n = {
        let mut out = &mut buf[..];
        let before = out.len();
        let written = match token {
            Token::Nil => rmp::encode::write_nil(&mut out).map_err(drop),
            Token::Bool(b) => rmp::encode::write_bool(&mut out, b).map_err(drop),
            Token::Uint(v) => rmp::encode::write_uint(&mut out, v).map(drop).map_err(drop),
            Token::Int(v) => rmp::encode::write_sint(&mut out, v).map(drop).map_err(drop),
            Token::F32(v) => rmp::encode::write_f32(&mut out, v).map_err(drop),
            Token::F64(v) => rmp::encode::write_f64(&mut out, v).map_err(drop),
            Token::Str(len) => rmp::encode::write_str_len(&mut out, len)
                .map(drop)
                .map_err(drop),
            Token::Bin(len) => rmp::encode::write_bin_len(&mut out, len)
                .map(drop)
                .map_err(drop),
            Token::Array(len) => rmp::encode::write_array_len(&mut out, len)
                .map(drop)
                .map_err(drop),
            Token::Map(len) => rmp::encode::write_map_len(&mut out, len)
                .map(drop)
                .map_err(drop),
        };
        if written.is_err() {
            return Err(Error::Framing("a value head larger than nine bytes"));
        }
        before - out.len()
    };
    sink.put(&buf[..n])
}

impl PayloadBytes<'_> {
    /// Reads the head of the next value. A length it announces is checked
    /// against the bytes left in the payload (a string or byte string must
    /// fit, each array element takes at least one byte, each map entry two),
    /// so a caller may act on it before reading further.
    ///
    /// # Errors
    /// [`Error::Malformed`] at the end of the payload, for an unknown
    /// marker, an extension type, or a length longer than what is left (the
    /// rest of the payload is skipped by the receive, so the stream stays
    /// usable); the transport's errors.
    pub fn next_token(&mut self) -> Result<Token, Error> {
        let m = self.byte()?;
        let token = match m {
            0x00..=0x7f => Token::Uint(u64::from(m)),
            0x80..=0x8f => Token::Map(u32::from(m & 0x0f)),
            0x90..=0x9f => Token::Array(u32::from(m & 0x0f)),
            0xa0..=0xbf => Token::Str(u32::from(m & 0x1f)),
            0xc0 => Token::Nil,
            0xc2 => Token::Bool(false),
            0xc3 => Token::Bool(true),
            0xc4 => Token::Bin(u32::from(self.byte()?)),
            0xc5 => Token::Bin(u32::from(u16::from_be_bytes(self.take()?))),
            0xc6 => Token::Bin(u32::from_be_bytes(self.take()?)),
            0xca => Token::F32(f32::from_be_bytes(self.take()?)),
            0xcb => Token::F64(f64::from_be_bytes(self.take()?)),
            0xcc => Token::Uint(u64::from(self.byte()?)),
            0xcd => Token::Uint(u64::from(u16::from_be_bytes(self.take()?))),
            0xce => Token::Uint(u64::from(u32::from_be_bytes(self.take()?))),
            0xcf => Token::Uint(u64::from_be_bytes(self.take()?)),
            0xd0 => Token::Int(i64::from(i8::from_be_bytes(self.take()?))),
            0xd1 => Token::Int(i64::from(i16::from_be_bytes(self.take()?))),
            0xd2 => Token::Int(i64::from(i32::from_be_bytes(self.take()?))),
            0xd3 => Token::Int(i64::from_be_bytes(self.take()?)),
            0xd9 => Token::Str(u32::from(self.byte()?)),
            0xda => Token::Str(u32::from(u16::from_be_bytes(self.take()?))),
            0xdb => Token::Str(u32::from_be_bytes(self.take()?)),
            0xdc => Token::Array(u32::from(u16::from_be_bytes(self.take()?))),
            0xdd => Token::Array(u32::from_be_bytes(self.take()?)),
            0xde => Token::Map(u32::from(u16::from_be_bytes(self.take()?))),
            0xdf => Token::Map(u32::from_be_bytes(self.take()?)),
            0xe0..=0xff => Token::Int(i64::from(m as i8)),
            0xc1 | 0xc7..=0xc9 | 0xd4..=0xd8 => {
                return Err(self.malformed("marker not supported (0xc1 or an extension)"))
            }
        };
        let needed = match token {
            Token::Str(n) | Token::Bin(n) | Token::Array(n) => u64::from(n),
            Token::Map(n) => 2 * u64::from(n),
            _ => 0,
        };
        if needed > self.remaining() as u64 {
            return Err(self.malformed("a length longer than the payload left"));
        }
        Ok(token)
    }

    /// Skips one whole value (nested ones included, at most `max_depth`
    /// deep, and never more than 128). Allocates nothing.
    ///
    /// # Errors
    /// As for [`next_token`](PayloadBytes::next_token); too deep a nesting.
    pub fn skip_value(&mut self, max_depth: u32) -> Result<(), Error> {
        const MOST: usize = 128;
        let max_depth = (max_depth as usize).min(MOST);
        // Values still to skip at each open level.
        let mut open = [0u64; MOST];
        let mut depth = 0usize;
        let mut pending: u64 = 1;
        loop {
            if pending == 0 {
                if depth == 0 {
                    return Ok(());
                }
                depth -= 1;
                pending = open[depth];
                continue;
            }
            pending -= 1;
            let inner = match self.next_token()? {
                Token::Str(n) | Token::Bin(n) => {
                    self.skip_bytes(n as usize)?;
                    0
                }
                Token::Array(n) => u64::from(n),
                Token::Map(n) => 2 * u64::from(n),
                _ => 0,
            };
            if inner > 0 {
                if depth >= max_depth {
                    return Err(self.malformed("nesting deeper than the limit"));
                }
                open[depth] = pending;
                pending = inner;
                depth += 1;
            }
        }
    }

    #[cold]
    fn malformed(&self, reason: &str) -> Error {
        Error::Malformed {
            id: self.id,
            reason: reason.to_owned(),
        }
    }

    fn skip_bytes(&mut self, mut n: usize) -> Result<(), Error> {
        while n > 0 {
            let chunk = self.chunk()?.len().min(n);
            if chunk == 0 {
                return Err(self.malformed("the payload ended inside a value"));
            }
            self.consume(chunk)?;
            n -= chunk;
        }
        Ok(())
    }

    fn byte(&mut self) -> Result<u8, Error> {
        let [b] = self.take()?;
        Ok(b)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut b = [0u8; N];
        if self.remaining() < N {
            return Err(self.malformed("the payload ended inside a value"));
        }
        self.read_exact(&mut b)?;
        Ok(b)
    }
}
