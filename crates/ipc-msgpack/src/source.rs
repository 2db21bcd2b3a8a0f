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

    /// Consumes and returns the next bytes as they lie in the input: at
    /// least one, at most `max` (which the payload is known to hold).
    fn chunk(&mut self, max: usize) -> Result<&[u8], DeError>;

    /// The next two bytes if they are at hand (in memory, contiguous),
    /// without consuming them: lets the decoder read a `u8` without a
    /// branch on its marker. `None` sends it down the general path.
    #[inline]
    fn peek2(&self) -> Option<[u8; 2]> {
        None
    }

    /// Consumes `n` bytes that [`peek2`](Source::peek2) showed.
    #[inline]
    fn consume_peeked(&mut self, n: usize) {
        let _ = n;
        unreachable!("peek2 returned None")
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
    fn read_u8(&mut self) -> Result<u8, DeError> {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                Ok(b)
            }
            None => Err(DeError::truncated(1, 0)),
        }
    }

    #[inline]
    fn peek_u8(&mut self) -> Result<u8, DeError> {
        self.data.first().copied().ok_or(DeError::truncated(1, 0))
    }

    #[inline]
    fn peek2(&self) -> Option<[u8; 2]> {
        self.data.first_chunk().copied()
    }

    fn chunk(&mut self, max: usize) -> Result<&[u8], DeError> {
        let n = max.min(self.data.len());
        if n == 0 {
            return Err(DeError::truncated(max, 0));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    #[inline]
    fn consume_peeked(&mut self, n: usize) {
        self.data = &self.data[n..];
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
    fn read_u8(&mut self) -> Result<u8, DeError> {
        self.settle();
        match self.first.split_first() {
            Some((&b, rest)) => {
                self.first = rest;
                Ok(b)
            }
            None => Err(DeError::truncated(1, 0)),
        }
    }

    #[inline]
    fn peek_u8(&mut self) -> Result<u8, DeError> {
        self.settle();
        self.first.first().copied().ok_or(DeError::truncated(1, 0))
    }

    #[inline]
    fn peek2(&self) -> Option<[u8; 2]> {
        self.first.first_chunk().copied()
    }

    fn chunk(&mut self, max: usize) -> Result<&[u8], DeError> {
        self.settle();
        let n = max.min(self.first.len());
        if n == 0 {
            return Err(DeError::truncated(max, 0));
        }
        let (head, tail) = self.first.split_at(n);
        self.first = tail;
        self.settle();
        Ok(head)
    }

    #[inline]
    fn consume_peeked(&mut self, n: usize) {
        self.first = &self.first[n..];
        self.settle();
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

/// Bytes read ahead from a stream: a payload of small values would
/// otherwise cost a channel call (or a system call) per value. Never more
/// than the payload still holds, so the stream is never read past it.
const READ_AHEAD: usize = 16 * 1024;

/// A stream a payload is read from. A ring can also lend its bytes where
/// they lie, so that a byte string decoded with
/// [`BytesInto`](crate::BytesInto) is copied once, not through the
/// read-ahead.
pub(crate) trait Stream: io::Read {
    /// Whether [`lend`](Stream::lend) works.
    fn can_lend(&self) -> bool {
        false
    }

    /// At least one and at most `max` next bytes, in place (waiting for
    /// them), not consumed until [`give_back`](Stream::give_back).
    fn lend(&mut self, max: usize) -> io::Result<&[u8]> {
        let _ = max;
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Consumes the `n` bytes the last [`lend`](Stream::lend) lent.
    fn give_back(&mut self, n: usize) -> io::Result<()> {
        let _ = n;
        Ok(())
    }
}

/// Any `io::Read` (a socket, a pipe): nothing to lend.
pub(crate) struct Plain<R>(pub(crate) R);

impl<R: io::Read> io::Read for Plain<R> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: io::Read> Stream for Plain<R> {}

/// A payload of known length read from a stream.
pub(crate) struct ReadSource<R> {
    inner: R,
    /// Payload bytes not yet read from `inner` (lent ones counted as read).
    unread: usize,
    /// Read ahead: `buf[pos..]` are the next payload bytes.
    buf: Vec<u8>,
    pos: usize,
    /// Bytes lent by `inner` and not yet given back (the read-ahead is
    /// empty while there are any).
    lent: usize,
}

impl<R: Stream> ReadSource<R> {
    #[inline]
    pub(crate) fn new(inner: R, len: usize) -> Self {
        ReadSource {
            inner,
            unread: len,
            buf: Vec::new(),
            pos: 0,
            lent: 0,
        }
    }

    /// Gives back what the stream lent, before anything else is read.
    #[inline]
    fn settle(&mut self) -> io::Result<()> {
        if self.lent > 0 {
            let n = std::mem::take(&mut self.lent);
            self.inner.give_back(n)?;
        }
        Ok(())
    }

    /// Reads and drops whatever the decoder left of the payload, so that the
    /// stream stands at the next envelope.
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        self.settle()?;
        self.buf.clear();
        self.pos = 0;
        let mut scratch = [0u8; 256];
        while self.unread > 0 {
            let n = self.unread.min(scratch.len());
            self.inner.read_exact(&mut scratch[..n])?;
            self.unread -= n;
        }
        Ok(())
    }

    #[inline]
    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Reads ahead once the buffer is used up: whatever the stream has, up
    /// to [`READ_AHEAD`] and the end of the payload. At least one byte.
    #[cold]
    fn fill(&mut self) -> Result<(), DeError> {
        debug_assert!(self.buffered().is_empty());
        self.settle().map_err(DeError::io)?;
        if self.unread == 0 {
            return Err(DeError::truncated(1, 0));
        }
        let want = self.unread.min(READ_AHEAD);
        self.buf.resize(want, 0);
        self.pos = 0;
        let n = loop {
            match self.inner.read(&mut self.buf[..want]) {
                Ok(0) => return Err(DeError::io(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.clear();
                    return Err(DeError::io(e));
                }
            }
        };
        self.buf.truncate(n);
        self.unread -= n;
        Ok(())
    }
}

impl<'de, R: Stream> Source<'de> for ReadSource<R> {
    #[inline]
    fn remaining(&self) -> usize {
        self.unread + self.buffered().len()
    }

    #[inline]
    fn read_u8(&mut self) -> Result<u8, DeError> {
        if self.pos == self.buf.len() {
            self.fill()?;
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn peek_u8(&mut self) -> Result<u8, DeError> {
        if self.pos == self.buf.len() {
            self.fill()?;
        }
        Ok(self.buf[self.pos])
    }

    #[inline]
    fn peek2(&self) -> Option<[u8; 2]> {
        self.buffered().first_chunk().copied()
    }

    /// Lent by the stream where it can (a ring: no copy), else from the
    /// read-ahead (copied once more, in pieces that stay in the cache).
    fn chunk(&mut self, max: usize) -> Result<&[u8], DeError> {
        if self.pos == self.buf.len() {
            self.settle().map_err(DeError::io)?;
            let want = max.min(self.unread);
            if want > 0 && self.inner.can_lend() {
                let lent = self.inner.lend(want).map_err(DeError::io)?;
                let n = lent.len().min(want);
                self.unread -= n;
                self.lent = n;
                return Ok(&lent[..n]);
            }
            self.fill()?;
        }
        let n = max.min(self.buf.len() - self.pos);
        let at = self.pos;
        self.pos += n;
        Ok(&self.buf[at..at + n])
    }

    #[inline]
    fn consume_peeked(&mut self, n: usize) {
        self.pos += n;
    }

    #[inline]
    fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), DeError> {
        self.ensure(buf.len())?;
        let ahead = self.buffered();
        if buf.len() <= ahead.len() {
            buf.copy_from_slice(&ahead[..buf.len()]);
            self.pos += buf.len();
            return Ok(());
        }
        buf[..ahead.len()].copy_from_slice(ahead);
        buf = &mut buf[ahead.len()..];
        self.pos = self.buf.len();
        if buf.len() >= READ_AHEAD {
            // Large: straight from the stream, no second copy.
            self.settle().map_err(DeError::io)?;
            self.inner.read_exact(buf).map_err(DeError::io)?;
            self.unread -= buf.len();
            return Ok(());
        }
        while !buf.is_empty() {
            self.fill()?;
            let ahead = self.buffered();
            let n = ahead.len().min(buf.len());
            buf[..n].copy_from_slice(&ahead[..n]);
            self.pos += n;
            buf = &mut buf[n..];
        }
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
        self.settle().map_err(DeError::io)?;
        let n = len.min(self.buffered().len());
        self.pos += n;
        len -= n;
        let mut scratch = [0u8; 256];
        while len > 0 {
            let n = len.min(scratch.len());
            self.inner
                .read_exact(&mut scratch[..n])
                .map_err(DeError::io)?;
            self.unread -= n;
            len -= n;
        }
        Ok(())
    }
}
