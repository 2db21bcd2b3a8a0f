//! Errors of the message layer. Each says whether the stream is still usable.

use crate::de::DeError;
use std::fmt;
use std::io;
use std::sync::Arc;

/// What went wrong sending or receiving a message.
///
/// `Clone`, so that one failure can reach several waiters; the `Display`
/// text includes the cause and [`source`](std::error::Error::source)
/// returns nothing (so that chain printers do not show it twice).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The channel failed: closed, peer died, timed out, corrupted. (Every
    /// failure of the channel reaches the caller here and nowhere else.)
    Channel(ipc_channel_shm::Error),
    /// The `io` transport failed (the [`stream`](crate::stream) functions).
    Io(Arc<io::Error>),
    /// The bytes are not an envelope: the stream can no longer be followed.
    Framing(&'static str),
    /// The envelope announces a payload above the receiver's limit. The
    /// payload was skipped without being decoded; the stream is usable.
    TooLarge {
        /// Message ID from the envelope.
        id: u32,
        /// Announced payload length.
        len: u32,
        /// The receiver's limit.
        max: u32,
    },
    /// The payload does not decode as the expected type. The rest of the
    /// payload was skipped; the stream is usable.
    Malformed {
        /// Message ID from the envelope.
        id: u32,
        /// What was wrong.
        reason: String,
    },
    /// A message with another ID arrived than the one asked for. Its payload
    /// was skipped; the stream is usable.
    UnexpectedId {
        /// The ID asked for.
        expected: u32,
        /// The envelope that arrived instead.
        got: crate::Header,
    },
    /// The value could not be serialised (nothing was sent).
    Encode {
        /// Message ID.
        id: u32,
        /// What was wrong.
        reason: String,
    },
}

impl Error {
    /// Whether the next message can still be read after this error: true for
    /// errors confined to one message, false when the transport or the
    /// framing broke. (A `Timeout` while waiting for an envelope consumed
    /// nothing and leaves the stream usable too; one in the middle of a
    /// payload does not.)
    pub fn stream_usable(&self) -> bool {
        matches!(
            self,
            Error::TooLarge { .. }
                | Error::Malformed { .. }
                | Error::UnexpectedId { .. }
                | Error::Encode { .. }
        )
    }

    pub(crate) fn from_io(e: io::Error) -> Error {
        if ipc_channel_shm::Error::from_io(&e).is_some() {
            let inner = e.into_inner().expect("checked above");
            match inner.downcast::<ipc_channel_shm::Error>() {
                Ok(channel) => Error::Channel(*channel),
                Err(other) => Error::Io(Arc::new(io::Error::other(other))),
            }
        } else {
            Error::Io(Arc::new(e))
        }
    }

    pub(crate) fn from_de(e: DeError, id: u32) -> Error {
        match e {
            DeError::Io(io) => Error::from_io(io),
            other => Error::Malformed {
                id,
                reason: other.to_string(),
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Channel(e) => fmt::Display::fmt(e, f),
            Error::Io(e) => write!(f, "transport: {e}"),
            Error::Framing(what) => write!(f, "lost message framing: {what}"),
            Error::TooLarge { id, len, max } => {
                write!(
                    f,
                    "message {id}: payload of {len} bytes exceeds the limit of {max}"
                )
            }
            Error::Malformed { id, reason } => {
                write!(f, "message {id}: malformed payload: {reason}")
            }
            Error::UnexpectedId { expected, got } => {
                write!(f, "expected message {expected}, got message {}", got.id)
            }
            Error::Encode { id, reason } => write!(f, "message {id}: cannot encode: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ipc_channel_shm::Error> for Error {
    fn from(e: ipc_channel_shm::Error) -> Self {
        Error::Channel(e)
    }
}
