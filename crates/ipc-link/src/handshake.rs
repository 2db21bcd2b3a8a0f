//! The handshake both sides run before anything is dispatched: the plugin
//! says `Hello` (magic, protocol version, layout sizes, process ID), the
//! host checks it and answers `Welcome` (empty, or why it refuses). Both
//! sides bound every step by the connect timeout, whatever the peer sends.

use crate::error::{HandshakeError, Waited};
use crate::protocol::{Hello, Layout, Welcome, LINK_MAGIC, PROTOCOL_VERSION};
use crate::LinkError;
use ipc_channel_shm::{Deadline, Reader, Writer};
use ipc_msgpack::{Flags, Limits, Message};
use std::time::{Duration, Instant};

/// Handshake messages are small: a peer claiming more is refused unread.
const LIMITS: Limits = Limits {
    max_message: 4096,
    max_depth: 8,
    payload_timeout: None,
};

/// How often the host looks at the plugin process while it waits.
const POLL: Duration = Duration::from_millis(20);

/// This build's `Hello`.
pub(crate) fn hello() -> Hello {
    Hello {
        magic: LINK_MAGIC,
        version: PROTOCOL_VERSION,
        layout: Layout::current(),
        pid: std::process::id(),
        pointer_bits: usize::BITS,
    }
}

/// Why the host refuses `hello`, if it does.
fn check(hello: &Hello) -> Result<(), HandshakeError> {
    if hello.magic != LINK_MAGIC {
        return Err(HandshakeError::NotALink { magic: hello.magic });
    }
    if hello.version != PROTOCOL_VERSION {
        return Err(HandshakeError::Version {
            host: PROTOCOL_VERSION,
            plugin: hello.version,
        });
    }
    let ours = Layout::current();
    if hello.layout != ours {
        return Err(HandshakeError::Layout {
            host: ours,
            plugin: hello.layout,
        });
    }
    Ok(())
}

/// The time left before `until`.
fn left(until: Instant) -> Duration {
    until.saturating_duration_since(Instant::now())
}

/// The host's side: waits for the plugin's `Hello` until `until`, asking
/// `exited` between slices whether the plugin process has ended (its answer
/// is the error to report), then checks it and answers.
pub(crate) fn host_side(
    writer: &mut Writer,
    reader: &mut Reader,
    until: Instant,
    mut exited: impl FnMut() -> Option<LinkError>,
) -> Result<Hello, LinkError> {
    let hello = loop {
        let limits = Limits {
            payload_timeout: Some(left(until)),
            ..LIMITS
        };
        let received = ipc_msgpack::recv_with_timeout(
            reader,
            &limits,
            left(until).min(POLL),
            |header, payload| {
                if header.id != Hello::ID {
                    return Ok(Err(HandshakeError::Unexpected { id: header.id }));
                }
                Ok(Ok(payload.decode::<Hello>()?))
            },
        );
        match received {
            Ok(Ok(hello)) => break hello,
            Ok(Err(e)) => return Err(e.into()),
            Err(ipc_msgpack::Error::Channel(ipc_channel_shm::Error::Timeout)) => {
                if let Some(e) = exited() {
                    return Err(e);
                }
                if Instant::now() >= until {
                    return Err(LinkError::Timeout(Waited::Connect));
                }
            }
            Err(e) => return Err(LinkError::from_message(e, Waited::Connect)),
        }
    };
    let refused = check(&hello);
    let welcome = Welcome {
        refused: refused
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default(),
    };
    let deadline = Deadline::at(until);
    ipc_msgpack::send_deadline(writer, &welcome, 0, Flags::REPLY, &deadline)
        .map_err(|e| LinkError::from_message(e, Waited::Connect))?;
    refused?;
    Ok(hello)
}

/// The plugin's side: says `hello` and waits for the host's answer until
/// `until`.
pub(crate) fn plugin_side(
    writer: &mut Writer,
    reader: &mut Reader,
    hello: &Hello,
    until: Instant,
) -> Result<(), LinkError> {
    let deadline = Deadline::at(until);
    ipc_msgpack::send_deadline(writer, hello, 0, Flags::REQUEST, &deadline)
        .map_err(|e| LinkError::from_message(e, Waited::Connect))?;
    let limits = Limits {
        payload_timeout: Some(left(until)),
        ..LIMITS
    };
    let (_, welcome) =
        ipc_msgpack::recv_deadline::<Welcome>(reader, &limits, &deadline).map_err(|e| match e {
            ipc_msgpack::Error::UnexpectedId { got, .. } => {
                LinkError::Handshake(HandshakeError::Unexpected { id: got.id })
            }
            other => LinkError::from_message(other, Waited::Connect),
        })?;
    if !welcome.refused.is_empty() {
        return Err(HandshakeError::Refused(welcome.refused).into());
    }
    Ok(())
}
