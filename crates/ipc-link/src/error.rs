//! The error model of the link layer: one flat error type, one stable number
//! per kind (the C ABI's `ipc_result`), and the mapping from the layers
//! below.

use crate::protocol::Layout;
use std::fmt;
use std::io;
use std::process::ExitStatus;
use std::sync::Arc;

/// What went wrong on a link.
///
/// Flat: every failure has exactly one variant, whichever layer noticed it
/// (a corrupted ring is [`Corrupted`](LinkError::Corrupted), never a channel
/// error wrapped in a message error). `Clone`, so that one failure reaches
/// every waiter; the `Display` text includes the cause and
/// [`source`](std::error::Error::source) returns nothing, so a chain printer
/// shows it once. [`kind`](LinkError::kind) gives its stable number.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LinkError {
    /// The peer closed the link (it quit or dropped its end).
    Closed,
    /// The peer process died without closing the link.
    PeerDied,
    /// A wait ended before what it waited for came; the link stays usable
    /// unless the error says otherwise (see [`is_disconnect`](LinkError::is_disconnect)).
    Timeout(Waited),
    /// The peer wrote impossible values into shared memory. Nothing out of
    /// bounds was read or written; the link is unusable.
    Corrupted(&'static str),
    /// The peer's messages cannot be followed any more (bad envelope, or
    /// the stream ended inside a message); the link is unusable.
    Framing(&'static str),
    /// A message announced a payload above the receiver's limit; it was
    /// skipped.
    TooLarge {
        /// The message ID.
        id: u32,
        /// The announced payload length.
        len: u32,
        /// The receiver's limit.
        max: u32,
    },
    /// A payload did not decode as its type; it was skipped.
    Malformed {
        /// The message ID.
        id: u32,
        /// What was wrong.
        reason: String,
    },
    /// A message (a reply, a real-time request) carried another ID than the
    /// type expected: it was not decoded as that type.
    UnexpectedId {
        /// The ID of the type that was expected.
        expected: u32,
        /// The ID that came.
        got: u32,
    },
    /// A value could not be serialised (nothing was sent).
    Encode {
        /// The message ID.
        id: u32,
        /// What was wrong.
        reason: String,
    },
    /// The two sides do not speak the same protocol.
    Handshake(HandshakeError),
    /// The plugin process could not be started.
    Spawn {
        /// The program, as the command named it.
        program: String,
        /// Why the system refused (`NotFound` for a missing program).
        error: Arc<io::Error>,
    },
    /// The plugin process exited before it connected.
    PluginExited(ExitStatus),
    /// A request came with an ID no handler takes (it was answered with this
    /// error).
    NoHandler {
        /// The message ID.
        id: u32,
    },
    /// A handler is already registered for this ID.
    HandlerExists {
        /// The message ID.
        id: u32,
    },
    /// A handler panicked while handling a message (its request, if any,
    /// was answered with this error; the link carries on).
    HandlerPanicked {
        /// The message ID.
        id: u32,
        /// The panic's message.
        message: String,
    },
    /// The peer answered the request with an error.
    Remote {
        /// What failed on the peer's side ([`ErrorKind::Rejected`] when its
        /// handler answered with [`Incoming::reply_error`](crate::Incoming::reply_error)).
        kind: ErrorKind,
        /// The peer's description.
        message: String,
    },
    /// An argument is out of range (the text says which rule it broke).
    InvalidArgument(&'static str),
    /// An endpoint or segment was already claimed.
    AlreadyClaimed,
    /// The peer's shared memory has another layout version.
    VersionMismatch {
        /// Ours.
        ours: u32,
        /// Theirs.
        theirs: u32,
    },
    /// The operating system refused (memory, real-time priority, process
    /// control).
    Os(Arc<io::Error>),
}

/// What a [`LinkError::Timeout`] waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Waited {
    /// The handshake with the peer.
    Connect,
    /// The reply to a request or real-time call.
    Reply,
    /// Room in the ring to send (the peer does not read).
    Space,
    /// An incoming message (a real-time request to serve, the rest of a
    /// message that had begun).
    Message,
    /// The link to go down.
    Disconnect,
    /// The host to say stop.
    Stop,
}

impl fmt::Display for Waited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Waited::Connect => "the handshake",
            Waited::Reply => "the reply",
            Waited::Space => "room to send (the peer is not reading)",
            Waited::Message => "a message",
            Waited::Disconnect => "the link to go down",
            Waited::Stop => "the host to stop the plugin",
        })
    }
}

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer is not an ipc-link peer.
    NotALink {
        /// The magic number it sent.
        magic: u64,
    },
    /// The peer speaks another version of the link protocol.
    Version {
        /// The host's version.
        host: u32,
        /// The plugin's version.
        plugin: u32,
    },
    /// The peer was built with other layout sizes.
    Layout {
        /// The host's.
        host: Layout,
        /// The plugin's.
        plugin: Layout,
    },
    /// The host refused the plugin (what the plugin sees), saying why.
    Refused(String),
    /// The first message was not a handshake message.
    Unexpected {
        /// Its ID.
        id: u32,
    },
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::NotALink { magic } => {
                write!(f, "not an ipc-link peer (magic {magic:#018x})")
            }
            HandshakeError::Version { host, plugin } => write!(
                f,
                "plugin speaks link protocol {plugin}, host speaks {host}"
            ),
            HandshakeError::Layout { host, plugin } => {
                write!(f, "layout differs: plugin {plugin:?}, host {host:?}")
            }
            HandshakeError::Refused(why) => write!(f, "the host refused: {why}"),
            HandshakeError::Unexpected { id } => {
                write!(f, "message {id} came instead of the handshake")
            }
        }
    }
}

/// The kind of a [`LinkError`] as a stable number: the C ABI's `ipc_result`
/// (with `IPC_OK = 0` and the ABI's own codes from 100 up). Numbers are
/// never reused or changed; new kinds get new numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`LinkError::Closed`].
    Closed = 1,
    /// [`LinkError::PeerDied`].
    PeerDied = 2,
    /// [`LinkError::Timeout`].
    Timeout = 3,
    /// [`LinkError::Corrupted`].
    Corrupted = 4,
    /// [`LinkError::Framing`].
    Framing = 5,
    /// [`LinkError::TooLarge`].
    TooLarge = 6,
    /// [`LinkError::Malformed`].
    Malformed = 7,
    /// [`LinkError::UnexpectedId`].
    UnexpectedId = 8,
    /// [`LinkError::Encode`].
    Encode = 9,
    /// [`LinkError::Handshake`].
    Handshake = 10,
    /// [`LinkError::Spawn`].
    Spawn = 11,
    /// [`LinkError::PluginExited`].
    PluginExited = 12,
    /// [`LinkError::NoHandler`].
    NoHandler = 13,
    /// [`LinkError::HandlerExists`].
    HandlerExists = 14,
    /// [`LinkError::HandlerPanicked`].
    HandlerPanicked = 15,
    /// [`LinkError::Remote`].
    Remote = 16,
    /// A request was answered with
    /// [`Incoming::reply_error`](crate::Incoming::reply_error): the cause of
    /// a [`LinkError::Remote`], never a local error.
    Rejected = 17,
    /// [`LinkError::InvalidArgument`].
    InvalidArgument = 18,
    /// [`LinkError::AlreadyClaimed`].
    AlreadyClaimed = 19,
    /// [`LinkError::VersionMismatch`].
    VersionMismatch = 20,
    /// [`LinkError::Os`].
    Os = 21,
}

impl ErrorKind {
    /// Every kind, in number order.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Closed,
        ErrorKind::PeerDied,
        ErrorKind::Timeout,
        ErrorKind::Corrupted,
        ErrorKind::Framing,
        ErrorKind::TooLarge,
        ErrorKind::Malformed,
        ErrorKind::UnexpectedId,
        ErrorKind::Encode,
        ErrorKind::Handshake,
        ErrorKind::Spawn,
        ErrorKind::PluginExited,
        ErrorKind::NoHandler,
        ErrorKind::HandlerExists,
        ErrorKind::HandlerPanicked,
        ErrorKind::Remote,
        ErrorKind::Rejected,
        ErrorKind::InvalidArgument,
        ErrorKind::AlreadyClaimed,
        ErrorKind::VersionMismatch,
        ErrorKind::Os,
    ];

    /// The stable number.
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The kind with this number, if any.
    pub fn from_code(code: u32) -> Option<ErrorKind> {
        Self::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// A short, fixed description (what `ipc_result_str` returns).
    pub const fn describe(self) -> &'static str {
        match self {
            ErrorKind::Closed => "the peer closed the link",
            ErrorKind::PeerDied => "the peer process died",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Corrupted => "the peer corrupted the shared memory",
            ErrorKind::Framing => "lost the message framing",
            ErrorKind::TooLarge => "message larger than the limit",
            ErrorKind::Malformed => "malformed message",
            ErrorKind::UnexpectedId => "a message of another type came",
            ErrorKind::Encode => "the value cannot be encoded",
            ErrorKind::Handshake => "handshake failed",
            ErrorKind::Spawn => "cannot start the plugin",
            ErrorKind::PluginExited => "the plugin exited before connecting",
            ErrorKind::NoHandler => "no handler for the message",
            ErrorKind::HandlerExists => "a handler is already registered for this message",
            ErrorKind::HandlerPanicked => "the handler panicked",
            ErrorKind::Remote => "the peer answered with an error",
            ErrorKind::Rejected => "the handler rejected the request",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::AlreadyClaimed => "already claimed",
            ErrorKind::VersionMismatch => "shared memory of another layout version",
            ErrorKind::Os => "the operating system refused",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

impl LinkError {
    /// The kind, with its stable number.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LinkError::Closed => ErrorKind::Closed,
            LinkError::PeerDied => ErrorKind::PeerDied,
            LinkError::Timeout(_) => ErrorKind::Timeout,
            LinkError::Corrupted(_) => ErrorKind::Corrupted,
            LinkError::Framing(_) => ErrorKind::Framing,
            LinkError::TooLarge { .. } => ErrorKind::TooLarge,
            LinkError::Malformed { .. } => ErrorKind::Malformed,
            LinkError::UnexpectedId { .. } => ErrorKind::UnexpectedId,
            LinkError::Encode { .. } => ErrorKind::Encode,
            LinkError::Handshake(_) => ErrorKind::Handshake,
            LinkError::Spawn { .. } => ErrorKind::Spawn,
            LinkError::PluginExited(_) => ErrorKind::PluginExited,
            LinkError::NoHandler { .. } => ErrorKind::NoHandler,
            LinkError::HandlerExists { .. } => ErrorKind::HandlerExists,
            LinkError::HandlerPanicked { .. } => ErrorKind::HandlerPanicked,
            LinkError::Remote { .. } => ErrorKind::Remote,
            LinkError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            LinkError::AlreadyClaimed => ErrorKind::AlreadyClaimed,
            LinkError::VersionMismatch { .. } => ErrorKind::VersionMismatch,
            LinkError::Os(_) => ErrorKind::Os,
        }
    }

    /// Whether the link is gone for good (as opposed to one failed call).
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            LinkError::Closed
                | LinkError::PeerDied
                | LinkError::Corrupted(_)
                | LinkError::Framing(_)
        )
    }

    /// A channel failure, seen while waiting for `waited`.
    pub fn from_channel(e: ipc_channel_shm::Error, waited: Waited) -> LinkError {
        use ipc_channel_shm::Error as C;
        match e {
            C::Closed => LinkError::Closed,
            C::PeerDied => LinkError::PeerDied,
            C::Timeout => LinkError::Timeout(waited),
            C::Corrupted(what) => LinkError::Corrupted(what),
            C::VersionMismatch { ours, theirs } => LinkError::VersionMismatch { ours, theirs },
            C::AlreadyClaimed => LinkError::AlreadyClaimed,
            C::InvalidArgument(what) => LinkError::InvalidArgument(what),
            C::Os(e) => LinkError::Os(e),
            other => LinkError::Os(Arc::new(io::Error::other(other))),
        }
    }

    /// A message-layer failure, seen while waiting for `waited`.
    pub fn from_message(e: ipc_msgpack::Error, waited: Waited) -> LinkError {
        use ipc_msgpack::Error as M;
        match e {
            M::Channel(c) => LinkError::from_channel(c, waited),
            M::Io(e) if e.kind() == io::ErrorKind::TimedOut => LinkError::Timeout(waited),
            M::Io(e) => LinkError::Os(e),
            M::Framing(what) => LinkError::Framing(what),
            M::TooLarge { id, len, max } => LinkError::TooLarge { id, len, max },
            M::Malformed { id, reason } => LinkError::Malformed { id, reason },
            M::UnexpectedId { expected, got } => LinkError::UnexpectedId {
                expected,
                got: got.id,
            },
            M::Encode { id, reason } => LinkError::Encode { id, reason },
            other => LinkError::Os(Arc::new(io::Error::other(other))),
        }
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Closed => f.write_str("the peer closed the link"),
            LinkError::PeerDied => f.write_str("the peer process died"),
            LinkError::Timeout(w) => write!(f, "timed out waiting for {w}"),
            LinkError::Corrupted(what) => write!(f, "shared memory corrupted: {what}"),
            LinkError::Framing(what) => write!(f, "lost message framing: {what}"),
            LinkError::TooLarge { id, len, max } => write!(
                f,
                "message {id}: payload of {len} bytes exceeds the limit of {max}"
            ),
            LinkError::Malformed { id, reason } => {
                write!(f, "message {id}: malformed payload: {reason}")
            }
            LinkError::UnexpectedId { expected, got } => {
                write!(f, "expected message {expected}, got message {got}")
            }
            LinkError::Encode { id, reason } => write!(f, "message {id}: cannot encode: {reason}"),
            LinkError::Handshake(e) => write!(f, "handshake failed: {e}"),
            LinkError::Spawn { program, error } => {
                write!(f, "cannot start the plugin {program:?}: {error}")
            }
            LinkError::PluginExited(status) => {
                write!(f, "the plugin exited before connecting ({status})")
            }
            LinkError::NoHandler { id } => write!(f, "no handler for message {id}"),
            LinkError::HandlerExists { id } => {
                write!(f, "a handler for message {id} is already registered")
            }
            LinkError::HandlerPanicked { id, message } => {
                write!(f, "the handler of message {id} panicked: {message}")
            }
            LinkError::Remote { kind, message } => {
                write!(f, "the peer reported ({kind}): {message}")
            }
            LinkError::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            LinkError::AlreadyClaimed => f.write_str("the endpoint is already claimed"),
            LinkError::VersionMismatch { ours, theirs } => write!(
                f,
                "shared memory layout version {theirs}, this build speaks {ours}"
            ),
            LinkError::Os(e) => write!(f, "operating system: {e}"),
        }
    }
}

impl std::error::Error for LinkError {}

impl From<HandshakeError> for LinkError {
    fn from(e: HandshakeError) -> Self {
        LinkError::Handshake(e)
    }
}

impl From<&ipc_channel_shm::Error> for ErrorKind {
    /// The number a channel error has at every layer (a timeout is
    /// [`ErrorKind::Timeout`] whatever it waited for).
    fn from(e: &ipc_channel_shm::Error) -> ErrorKind {
        LinkError::from_channel(e.clone(), Waited::Message).kind()
    }
}

impl From<&ipc_msgpack::Error> for ErrorKind {
    /// The number a message error has at every layer.
    fn from(e: &ipc_msgpack::Error) -> ErrorKind {
        LinkError::from_message(e.clone(), Waited::Message).kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_number_and_a_text() {
        let mut seen = std::collections::HashSet::new();
        for &kind in ErrorKind::ALL {
            assert!(seen.insert(kind.code()), "{kind:?} reuses a number");
            assert_ne!(kind.code(), 0, "0 is IPC_OK");
            assert!(!kind.describe().is_empty());
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(ErrorKind::from_code(0), None);
        // The numbers are the C ABI's: they never change.
        assert_eq!(ErrorKind::Closed.code(), 1);
        assert_eq!(ErrorKind::Timeout.code(), 3);
        assert_eq!(ErrorKind::Os.code(), 21);
    }

    #[test]
    fn lower_layer_errors_take_one_route() {
        let corrupted = ipc_channel_shm::Error::Corrupted("write position");
        let direct = LinkError::from_channel(corrupted.clone(), Waited::Reply);
        let through_messages =
            LinkError::from_message(ipc_msgpack::Error::Channel(corrupted), Waited::Reply);
        assert!(matches!(direct, LinkError::Corrupted("write position")));
        assert!(matches!(
            through_messages,
            LinkError::Corrupted("write position")
        ));
        let timeout = LinkError::from_message(
            ipc_msgpack::Error::Channel(ipc_channel_shm::Error::Timeout),
            Waited::Space,
        );
        assert!(matches!(timeout, LinkError::Timeout(Waited::Space)));
        assert_eq!(
            ErrorKind::from(&ipc_msgpack::Error::Framing("x")),
            ErrorKind::Framing
        );
    }

    #[test]
    fn errors_are_clone_and_print_their_cause_once() {
        let e = LinkError::Spawn {
            program: "/no/such/plugin".into(),
            error: Arc::new(io::Error::from(io::ErrorKind::NotFound)),
        };
        let copy = e.clone();
        match &copy {
            LinkError::Spawn { error, .. } => assert_eq!(error.kind(), io::ErrorKind::NotFound),
            other => panic!("became {other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.contains("/no/such/plugin") && text.contains("not found"),
            "{text}"
        );
        assert!(std::error::Error::source(&e).is_none());
        let os = LinkError::Os(Arc::new(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "no real-time priority",
        )));
        assert_eq!(
            os.clone().to_string(),
            "operating system: no real-time priority"
        );
    }
}
