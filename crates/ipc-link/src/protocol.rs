//! The link's own messages: handshake, quit, audio attachment. Their IDs sit
//! at the top of the ID space (`0xFFFF_FF00` and up), which user protocols
//! must leave alone.

use serde::{Deserialize, Serialize};

/// First ID reserved for the link itself.
pub const RESERVED_IDS: u32 = 0xFFFF_FF00;
/// `b"ipc-link"` read as a little-endian `u64`.
pub const LINK_MAGIC: u64 = u64::from_le_bytes(*b"ipc-link");
/// Version of the link protocol (handshake, internal messages, channel plan).
/// 2: error replies carry a kind; Linux segments are sealed memfds.
/// 3: messages on the real-time channels start at multiples of
/// [`RT_ALIGN`] bytes.
pub const PROTOCOL_VERSION: u32 = 3;

/// Where messages start on the two real-time channels: at multiples of 32
/// bytes of each stream (zeros in front, skipped by the reader), so that a
/// call or reply of up to 32 bytes sits in one cache line and crosses
/// between the cores as one line, never two.
pub const RT_ALIGN: usize = 32;

/// Sizes both sides must agree on, exchanged in the handshake.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Envelope size of the message layer.
    pub envelope: u32,
    /// Envelope version of the message layer.
    pub envelope_version: u32,
    /// Channels in the link segment.
    pub channels: u32,
    /// Size of one audio sample in bytes.
    pub sample: u32,
}

impl Layout {
    /// This build's layout.
    pub fn current() -> Layout {
        Layout {
            envelope: ipc_msgpack::HEADER_LEN as u32,
            envelope_version: u32::from(ipc_msgpack::VERSION),
            channels: crate::CHANNELS as u32,
            sample: std::mem::size_of::<f32>() as u32,
        }
    }
}

/// Plugin -> host, first message on the main link.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// [`LINK_MAGIC`].
    pub magic: u64,
    /// [`PROTOCOL_VERSION`].
    pub version: u32,
    /// The plugin's layout sizes.
    pub layout: Layout,
    /// The plugin's process ID.
    pub pid: u32,
    /// `usize::BITS` of the plugin (informational: 32-bit plugins are fine).
    pub pointer_bits: u32,
}

/// Host -> plugin, answer to [`Hello`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// Empty when accepted; otherwise why not.
    pub refused: String,
}

/// Host -> plugin: finish and exit.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quit;

/// Host -> plugin on the real-time link: use this audio region from now on.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct AttachAudio {
    /// The region's connection string.
    pub region: String,
    /// Input channels (planar, first in the region).
    pub inputs: u32,
    /// Output channels (planar, after the inputs).
    pub outputs: u32,
    /// Frames per channel.
    pub frames: u32,
}

/// Plugin -> host: the answer to [`AttachAudio`] when the plugin mapped the
/// buffers (a failure is an error reply).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attached;

/// A request failed on the other side: what kind of failure (an
/// [`ErrorKind`](crate::ErrorKind) number) and its description.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    /// The [`ErrorKind`](crate::ErrorKind) of the failure on the answering
    /// side ([`Rejected`](crate::ErrorKind::Rejected) for a handler's own
    /// error reply).
    pub kind: u32,
    /// What went wrong.
    pub message: String,
}

impl RemoteError {
    /// The error a requester sees for this answer.
    pub fn into_error(self) -> crate::LinkError {
        crate::LinkError::Remote {
            kind: crate::ErrorKind::from_code(self.kind).unwrap_or(crate::ErrorKind::Remote),
            message: self.message,
        }
    }
}

ipc_msgpack::message!(
    Hello = RESERVED_IDS,
    Welcome = RESERVED_IDS + 1,
    Quit = RESERVED_IDS + 2,
    AttachAudio = RESERVED_IDS + 3,
    Attached = RESERVED_IDS + 4,
    RemoteError = RESERVED_IDS + 5,
);
