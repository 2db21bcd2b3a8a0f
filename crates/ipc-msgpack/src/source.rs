//! Where the decoder reads a payload from: a byte slice (which it can borrow
//! from), two slices around a ring's wrap, or any `io::Read` (a channel
//! reader streaming a payload larger than its ring, or the old socket
//! transport). Every source knows how many payload bytes remain, so that no
//! length claimed inside the payload can make the decoder read past it or
//! allocate more than the payload holds.

use crate::de::DeError;
use std::io;

/// Payload bytes for the decoder.
pub(crate) trait Source<'de> {
    /// Payload bytes not yet consumed.
    fn remaining(&self) -> usize;
    /// The next byte, without consuming it.
    fn peek_u8(&mut self) -> Result<u8, DeError>;
    /// Fills `buf` from the payload.
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), DeError>;
    /// Consumes `len` bytes and returns them as a slice of the input, if the
    /// input is memory that lives for `'de` and the bytes are contiguous.
    fn borrow(&mut self, len: usize) -> Option<&'de [u8]>;
    /// Consumes `len` bytes without looking at them.
    fn skip(&mut self, len: usize) -> Result<(), DeError>;

    /// The next `len` bytes (already checked to be within the payload) in a
    /// new vector. Memory sources hold them all: one allocation of `len`.
    #[inline]
    fn read_vec(&mut self, len: usize) -> Result<Vec<u8>, DeError> {
        let mut buf = vec![0u8; len];
        self.read_exact(&mut buf)?;
        Ok(buf)
    }

    #[inline]
    fn read_u8(&mut self) -> Result<u8, DeError> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    /// Checks that `len` more bytes exist before anything is allocated or
    /// looped over on behalf of a claimed length.
    #[inline]
    fn ensure(&self, len: usize) -> Result<(), DeError> {
        if len > self.remaining() {
            Err(DeError::truncated(len, self.remaining()))
        } else {
            Ok(())
        }
    }
}

/// A contiguous payload in memory.
pub(crate) struct SliceSource<'de> {
    data: &'de [u8],
}

impl<'de> SliceSource<'de> {
    #[inline]
    pub(crate) fn new(data: &'de [u8]) -> Self {
        SliceSource { data }
    }
}

impl<'de> Source<'de> for SliceSource<'de> {
    #[inline]
    fn remaining(&self) -> usize {
        self.data.len()
    }

    #[inline]
    fn peek_u8(&mut self) -> Result<u8, DeError> {
        self.data.first().copied().ok_or(DeError::truncated(1, 0))
    }

    #[inline]
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), DeError> {
        self.ensure(buf.len())?;
        let (head, tail) = self.data.split_at(buf.len());
        buf.copy_from_slice(head);
        self.data = tail;
        Ok(())
    }

    #[inline]
    fn borrow(&mut self, len: usize) -> Option<&'de [u8]> {
        if len > self.data.len() {
            return None;
        }
        let (head, tail) = self.data.split_at(len);
        self.data = tail;
        Some(head)
    }

    #[inline]
    fn skip(&mut self, len: usize) -> Result<(), DeError> {
        self.ensure(len)?;
        self.data = &self.data[len..];
        Ok(())
    }
}

/// A payload lying in two pieces (the end of a ring, then its start).
pub(crate) struct SplitSource<'de> {
    first: &'de [u8],
    second: &'de [u8],
}

impl<'de> SplitSource<'de> {
    #[inline]
    pub(crate) fn new(first: &'de [u8], second: &'de [u8]) -> Self {
        SplitSource { first, second }
    }

    #[inline]
    fn settle(&mut self) {
        if self.first.is_empty() {
            self.first = std::mem::take(&mut self.second);
        }
    }
}

impl<'de> Source<'de> for SplitSource<'de> {
    #[inline]
    fn remaining(&self) -> usize {
        self.first.len() + self.second.len()
    }

    #[inline]
    fn peek_u8(&mut self) -> Result<u8, DeError> {
        self.settle();
        self.first.first().copied().ok_or(DeError::truncated(1, 0))
    }

    #[inline]
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), DeError> {
        self.ensure(buf.len())?;
        let n = buf.len().min(self.first.len());
        buf[..n].copy_from_slice(&self.first[..n]);
        self.first = &self.first[n..];
        let rest = buf.len() - n;
        buf[n..].copy_from_slice(&self.second[..rest]);
        self.second = &self.second[rest..];
        self.settle();
        Ok(())
    }

    #[inline]
    fn borrow(&mut self, len: usize) -> Option<&'de [u8]> {
        self.settle();
        if len > self.first.len() {
            return None; // straddles the wrap: the caller copies instead
        }
        let (head, tail) = self.first.split_at(len);
        self.first = tail;
        self.settle();
        Some(head)
    }

    #[inline]
    fn skip(&mut self, len: usize) -> Result<(), DeError> {
        self.ensure(len)?;
        let n = len.min(self.first.len());
        self.first = &self.first[n..];
        self.second = &self.second[len - n..];
        self.settle();
        Ok(())
    }
}

/// Bytes a streamed string or byte string may reserve before any arrived.
const FIRST_RESERVATION: usize = 64 * 1024;

/// A payload of known length read from a stream.
pub(crate) struct ReadSource<R> {
    inner: R,
    remaining: usize,
    peeked: Option<u8>,
}

impl<R: io::Read> ReadSource<R> {
    #[inline]
    pub(crate) fn new(inner: R, len: usize) -> Self {
        ReadSource {
            inner,
            remaining: len,
            peeked: None,
        }
    }

    /// Reads and drops whatever the decoder left of the payload, so that the
    /// stream stands at the next envelope.
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        self.peeked = None;
        let mut scratch = [0u8; 256];
        while self.remaining > 0 {
            let n = self.remaining.min(scratch.len());
            self.inner.read_exact(&mut scratch[..n])?;
            self.remaining -= n;
        }
        Ok(())
    }
}

impl<'de, R: io::Read> Source<'de> for ReadSource<R> {
    #[inline]
    fn remaining(&self) -> usize {
        self.remaining + usize::from(self.peeked.is_some())
    }

    #[inline]
    fn peek_u8(&mut self) -> Result<u8, DeError> {
        if let Some(b) = self.peeked {
            return Ok(b);
        }
        self.ensure(1)?;
        let mut b = [0u8; 1];
        self.inner.read_exact(&mut b).map_err(DeError::io)?;
        self.remaining -= 1;
        self.peeked = Some(b[0]);
        Ok(b[0])
    }

    #[inline]
    fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), DeError> {
        self.ensure(buf.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(b) = self.peeked.take() {
            buf[0] = b;
            buf = &mut buf[1..];
        }
        self.inner.read_exact(buf).map_err(DeError::io)?;
        self.remaining -= buf.len();
        Ok(())
    }

    #[inline]
    fn borrow(&mut self, _len: usize) -> Option<&'de [u8]> {
        None
    }

    /// A stream's bytes have not arrived yet: the vector grows with what
    /// does arrive (at most [`FIRST_RESERVATION`] before the first byte,
    /// then doubling), never with what the length claims.
    fn read_vec(&mut self, len: usize) -> Result<Vec<u8>, DeError> {
        let mut buf = Vec::with_capacity(len.min(FIRST_RESERVATION));
        while buf.len() < len {
            if buf.len() == buf.capacity() {
                buf.reserve((len - buf.len()).min(buf.capacity().max(FIRST_RESERVATION)));
            }
            let start = buf.len();
            let n = (len - start).min(buf.capacity() - start);
            buf.resize(start + n, 0);
            self.read_exact(&mut buf[start..])?;
        }
        Ok(buf)
    }

    #[inline]
    fn skip(&mut self, mut len: usize) -> Result<(), DeError> {
        self.ensure(len)?;
        if len > 0 && self.peeked.take().is_some() {
            len -= 1;
        }
        let mut scratch = [0u8; 256];
        while len > 0 {
            let n = len.min(scratch.len());
            self.inner
                .read_exact(&mut scratch[..n])
                .map_err(DeError::io)?;
            self.remaining -= n;
            len -= n;
        }
        Ok(())
    }
}
