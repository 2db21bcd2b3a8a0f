//! The 16-byte envelope in front of every message: the framing that the byte
//! channel does not provide. Layout in `docs/PROTOCOL.md` (Layer II).

use crate::Error;

/// Size of the envelope in bytes.
pub const HEADER_LEN: usize = 16;
/// First byte of every envelope; a receiver that finds anything else has lost
/// the framing.
pub const MAGIC: u8 = 0xA7;
/// Envelope format version.
pub const VERSION: u8 = 1;

/// What an envelope says about its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    /// A plain message (no reply expected, not a reply).
    pub const NONE: Flags = Flags(0);
    /// The sender expects a reply carrying the same correlation number.
    pub const REQUEST: Flags = Flags(1);
    /// This message answers the request with the same correlation number.
    pub const REPLY: Flags = Flags(2);
    /// The request failed; the payload describes why (with `REPLY`).
    pub const ERROR: Flags = Flags(4);
    const KNOWN: u8 = 1 | 2 | 4;

    /// The raw bits.
    #[inline]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Flags from raw bits, or `None` if an unknown bit is set.
    #[inline]
    pub const fn from_bits(bits: u8) -> Option<Flags> {
        if bits & !Self::KNOWN == 0 {
            Some(Flags(bits))
        } else {
            None
        }
    }

    /// Whether every bit of `other` is set.
    #[inline]
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    #[inline]
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// A decoded, validated envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The message type's ID ([`Message::ID`](crate::Message::ID)).
    pub id: u32,
    /// Ties a reply to its request; 0 when unused.
    pub correlation: u32,
    /// Request, reply, error.
    pub flags: Flags,
    /// Bytes of MessagePack payload after the envelope.
    pub len: u32,
}

impl Header {
    /// A header for a plain message with `len` bytes of payload.
    #[inline]
    pub fn new(id: u32, len: u32) -> Header {
        Header {
            id,
            correlation: 0,
            flags: Flags::NONE,
            len,
        }
    }

    /// The 16 bytes on the wire.
    #[inline]
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        self.write_to(&mut b);
        b
    }

    /// Writes the 16 bytes to `out` in two word-sized stores (no bytes
    /// assembled elsewhere and copied: the envelope goes straight into
    /// the ring).
    #[inline]
    pub fn write_to(&self, out: &mut [u8; HEADER_LEN]) {
        let low = u64::from(MAGIC)
            | u64::from(VERSION) << 8
            | u64::from(self.flags.bits()) << 16
            | u64::from(self.id) << 32;
        let high = u64::from(self.correlation) | u64::from(self.len) << 32;
        out[..8].copy_from_slice(&low.to_le_bytes());
        out[8..].copy_from_slice(&high.to_le_bytes());
    }

    /// Parses and checks an envelope; `max_len` bounds the payload length.
    ///
    /// # Errors
    /// [`Error::Framing`] if the bytes are not an envelope (the stream can no
    /// longer be followed); [`Error::TooLarge`] if the payload exceeds
    /// `max_len` (the envelope itself is sound: the payload can be skipped).
    #[inline]
    pub fn parse(b: &[u8; HEADER_LEN], max_len: u32) -> Result<Header, Error> {
        if b[0] != MAGIC {
            return Err(Error::Framing("bad envelope magic"));
        }
        if b[1] != VERSION {
            return Err(Error::Framing("unknown envelope version"));
        }
        let flags = Flags::from_bits(b[2]).ok_or(Error::Framing("unknown envelope flags"))?;
        if b[3] != 0 {
            return Err(Error::Framing("reserved envelope byte is not zero"));
        }
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let header = Header {
            id: word(4),
            correlation: word(8),
            flags,
            len: word(12),
        };
        if header.len > max_len {
            return Err(Error::TooLarge {
                id: header.id,
                len: header.len,
                max: max_len,
            });
        }
        Ok(header)
    }
}
