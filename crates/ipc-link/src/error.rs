//! Errors of the link layer.

use std::fmt;

/// What went wrong on a link.
#[derive(Debug)]
#[non_exhaustive]
pub enum LinkError {
    /// The message layer (or the channel under it) failed.
    Message(ipc_msgpack::Error),
    /// The peer process died (both links report this).
    PeerDied,
    /// The peer closed the link (it quit).
    Closed,
    /// No reply (or connection) in time. The link stays usable.
    Timeout,
    /// The two sides do not speak the same protocol; the text says how.
    Handshake(String),
    /// The plugin process could not be started, or ended before connecting.
    Spawn(String),
    /// The peer answered a request with an error.
    Remote(String),
    /// The operating system refused (real-time priority, memory).
    Os(std::io::Error),
    /// The channel layer failed outside of a message.
    Channel(ipc_channel_shm::Error),
}

impl LinkError {
    /// Whether the link is gone for good (as opposed to one failed call).
    pub fn is_disconnect(&self) -> bool {
        matches!(self, LinkError::PeerDied | LinkError::Closed)
            || matches!(self, LinkError::Message(e) if !e.stream_usable() && !matches!(e, ipc_msgpack::Error::Channel(ipc_channel_shm::Error::Timeout)))
    }

    /// A copy for reporting one failure to several waiters.
    pub(crate) fn duplicate(&self) -> LinkError {
        match self {
            LinkError::PeerDied => LinkError::PeerDied,
            LinkError::Closed => LinkError::Closed,
            LinkError::Timeout => LinkError::Timeout,
            LinkError::Handshake(s) => LinkError::Handshake(s.clone()),
            LinkError::Spawn(s) => LinkError::Spawn(s.clone()),
            LinkError::Remote(s) => LinkError::Remote(s.clone()),
            LinkError::Message(e) => LinkError::Message(e.duplicate()),
            LinkError::Channel(e) => LinkError::Channel(e.duplicate()),
            LinkError::Os(e) => LinkError::Os(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Message(e) => write!(f, "{e}"),
            LinkError::PeerDied => f.write_str("the peer process died"),
            LinkError::Closed => f.write_str("the peer closed the link"),
            LinkError::Timeout => f.write_str("timed out"),
            LinkError::Handshake(s) => write!(f, "handshake failed: {s}"),
            LinkError::Spawn(s) => write!(f, "cannot start the plugin: {s}"),
            LinkError::Remote(s) => write!(f, "the peer reported: {s}"),
            LinkError::Os(e) => write!(f, "operating system: {e}"),
            LinkError::Channel(e) => write!(f, "channel: {e}"),
        }
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LinkError::Message(e) => Some(e),
            LinkError::Os(e) => Some(e),
            LinkError::Channel(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ipc_msgpack::Error> for LinkError {
    fn from(e: ipc_msgpack::Error) -> Self {
        use ipc_channel_shm::Error as C;
        match e {
            ipc_msgpack::Error::Channel(C::PeerDied) => LinkError::PeerDied,
            ipc_msgpack::Error::Channel(C::Closed) => LinkError::Closed,
            ipc_msgpack::Error::Channel(C::Timeout) => LinkError::Timeout,
            other => LinkError::Message(other),
        }
    }
}

impl From<ipc_channel_shm::Error> for LinkError {
    fn from(e: ipc_channel_shm::Error) -> Self {
        use ipc_channel_shm::Error as C;
        match e {
            C::PeerDied => LinkError::PeerDied,
            C::Closed => LinkError::Closed,
            C::Timeout => LinkError::Timeout,
            other => LinkError::Channel(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One failure reported to several waiters keeps its kind for each.
    #[test]
    fn a_duplicate_keeps_the_kind_of_the_error() {
        let framing = LinkError::Message(ipc_msgpack::Error::Framing("bad envelope magic"));
        assert!(matches!(
            framing.duplicate(),
            LinkError::Message(ipc_msgpack::Error::Framing("bad envelope magic"))
        ));
        let malformed = LinkError::Message(ipc_msgpack::Error::Malformed {
            id: 7,
            reason: "expected an array".into(),
        });
        match malformed.duplicate() {
            LinkError::Message(ipc_msgpack::Error::Malformed { id, reason }) => {
                assert_eq!((id, reason.as_str()), (7, "expected an array"));
            }
            other => panic!("became {other:?}"),
        }
        let corrupted = LinkError::Channel(ipc_channel_shm::Error::Corrupted("write position"));
        assert!(matches!(
            corrupted.duplicate(),
            LinkError::Channel(ipc_channel_shm::Error::Corrupted("write position"))
        ));
        let os = LinkError::Os(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "no real-time priority",
        ));
        match os.duplicate() {
            LinkError::Os(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
                assert_eq!(e.to_string(), "no real-time priority");
            }
            other => panic!("became {other:?}"),
        }
        assert_eq!(framing.duplicate().is_disconnect(), framing.is_disconnect());
    }
}
