//! The one error type of this crate, and its mapping onto `std::io::Error`.

use std::fmt;
use std::io;
use std::sync::Arc;

/// What went wrong with a segment or a channel endpoint.
///
/// Every kind is distinct so that a caller can tell a peer that closed its end
/// ([`Closed`](Error::Closed)) from one that died ([`PeerDied`](Error::PeerDied)),
/// a slow peer ([`Timeout`](Error::Timeout)) from a hostile or buggy one
/// ([`Corrupted`](Error::Corrupted)).
///
/// Errors are `Clone` (an operating-system error is shared through an
/// `Arc`), so that one failure can be reported to several waiters. The
/// `Display` text includes the cause; [`source`](std::error::Error::source)
/// returns nothing, so that chain printers do not show it twice.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The peer closed its endpoint. A reader sees this only after it has
    /// drained everything the writer committed (end of stream).
    Closed,
    /// The peer process ended without closing its endpoint.
    PeerDied,
    /// The deadline passed before the operation could complete (a reader
    /// waited for data, a writer for space). A `try_` call that would have
    /// had to wait reports this too.
    Timeout,
    /// A value read from shared memory is impossible (the peer wrote garbage).
    /// The endpoint stays unusable afterwards; nothing out of bounds was read
    /// or written.
    Corrupted(&'static str),
    /// The segment was made by a build with another layout version.
    VersionMismatch {
        /// The layout version of this build.
        ours: u32,
        /// The layout version found in the segment.
        theirs: u32,
    },
    /// The endpoint is already held, here or in another process.
    AlreadyClaimed,
    /// An argument is out of range (the text says which rule it broke).
    InvalidArgument(&'static str),
    /// The operating system refused a request.
    Os(Arc<io::Error>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("the peer closed the channel"),
            Error::PeerDied => f.write_str("the peer process died"),
            Error::Timeout => f.write_str("timed out"),
            Error::Corrupted(what) => write!(f, "shared memory corrupted: {what}"),
            Error::VersionMismatch { ours, theirs } => {
                write!(
                    f,
                    "segment layout version {theirs}, this build speaks {ours}"
                )
            }
            Error::AlreadyClaimed => f.write_str("the endpoint is already claimed"),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::Os(e) => write!(f, "operating system error: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Os(Arc::new(e))
    }
}

impl Error {
    /// The `io::ErrorKind` this error maps to in the `io::Read`/`io::Write`
    /// implementations.
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Closed => io::ErrorKind::BrokenPipe,
            Error::PeerDied => io::ErrorKind::ConnectionAborted,
            Error::Timeout => io::ErrorKind::TimedOut,
            Error::Corrupted(_) | Error::VersionMismatch { .. } => io::ErrorKind::InvalidData,
            Error::AlreadyClaimed => io::ErrorKind::AddrInUse,
            Error::InvalidArgument(_) => io::ErrorKind::InvalidInput,
            Error::Os(e) => e.kind(),
        }
    }

    /// Recovers the channel error carried by an `io::Error` produced by this
    /// crate's `io::Read`/`io::Write` implementations, if it is one.
    pub fn from_io(e: &io::Error) -> Option<&Error> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
    }
}

impl From<Error> for io::Error {
    /// An `io::Error` of the matching kind that carries this error (recover
    /// it with [`Error::from_io`]).
    fn from(e: Error) -> Self {
        io::Error::new(e.io_kind(), e)
    }
}
