//! The handshake both sides run before anything is dispatched: the plugin
//! says `Hello` (magic, protocol version, layout sizes, process ID), the
//! host checks it and answers `Welcome` (empty, or why it refuses). Both
//! sides bound every step by the connect timeout, whatever the peer sends.

use crate::error::{HandshakeError, Waited};
use crate::protocol::{Hello, Layout, Welcome, LINK_MAGIC, PROTOCOL_VERSION};
use crate::LinkError;
use ipc_channel_shm::{Deadline, Peek, Reader, Writer};
use ipc_msgpack::{Flags, Header, Limits, Message, HEADER_LEN};
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
/// is the error to report), then checks it and answers. One that claims
/// more than 4 KiB is refused at once (`TooLarge`).
pub(crate) fn host_side(
    writer: &mut Writer,
    reader: &mut Reader,
    until: Instant,
    mut exited: impl FnMut() -> Option<LinkError>,
) -> Result<Hello, LinkError> {
    // The envelope first, in slices, asking between them whether the
    // plugin has exited. (A timeout once a message has begun is no reason
    // to look again: the stream would then be read from inside it.)
    loop {
        match reader.peek_timeout(HEADER_LEN, left(until).min(POLL)) {
            Ok(peek) => match too_large(&peek) {
                Some(e) => return Err(e),
                None => break,
            },
            Err(ipc_channel_shm::Error::Timeout) => {
                if let Some(e) = exited() {
                    return Err(e);
                }
                if Instant::now() >= until {
                    return Err(LinkError::Timeout(Waited::Connect));
                }
            }
            Err(e) => return Err(LinkError::from_channel(e, Waited::Connect)),
        }
    }
    // Then the whole message, by the connect timeout.
    let limits = Limits {
        payload_timeout: Some(left(until)),
        ..LIMITS
    };
    let received = ipc_msgpack::recv_with_deadline(
        reader,
        &limits,
        &Deadline::at(until),
        |header, payload| {
            if header.id != Hello::ID {
                return Ok(Err(HandshakeError::Unexpected { id: header.id }));
            }
            Ok(Ok(payload.decode::<Hello>()?))
        },
    );
    let hello = match received {
        Ok(Ok(hello)) => hello,
        Ok(Err(e)) => return Err(e.into()),
        Err(e) => return Err(LinkError::from_message(e, Waited::Connect)),
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

/// The error for an envelope at the front of `peek` that claims more than a
/// handshake message may hold. Refused as it stands, unlike a too large
/// message on a link: skipping it would only wait for bytes that a plugin
/// lying about them need never send (until the connect timeout, which is
/// not what happened).
fn too_large(peek: &Peek<'_>) -> Option<LinkError> {
    let (a, b) = peek.as_slices();
    let mut envelope = [0u8; HEADER_LEN];
    let n = a.len().min(HEADER_LEN);
    envelope[..n].copy_from_slice(&a[..n]);
    let m = b.len().min(HEADER_LEN - n);
    envelope[n..n + m].copy_from_slice(&b[..m]);
    if n + m < HEADER_LEN {
        return None;
    }
    match Header::parse(&envelope, LIMITS.max_message) {
        Err(ipc_msgpack::Error::TooLarge { id, len, max }) => {
            Some(LinkError::TooLarge { id, len, max })
        }
        // Anything else is for the receive to report.
        _ => None,
    }
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
