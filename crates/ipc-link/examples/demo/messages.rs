//! The demo synthesizer's protocol. IDs borrow LMMS's numbers where LMMS has
//! the same message (`include/RemotePluginBase.h`), so the mapping is easy to
//! follow; the ID space is per plugin type, as in LMMS. The two state
//! messages carry 64 MiB each: their byte fields take
//! `#[serde(with = "serde_bytes")]` (see [`State`]).

use ipc_link::{message, serde_bytes};
use serde::{Deserialize, Serialize};

/// Plugin -> host, once its real-time thread runs (LMMS: `IdInitDone`).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Ready {
    /// What the system said to real-time priority for the serving thread.
    pub rt_priority: Result<u8, String>,
}

/// Host -> plugin: one MIDI event (LMMS: `IdMidiEvent`, five text numbers).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Midi {
    /// `0x90` note on, `0x80` note off (channel 0).
    pub status: u8,
    /// MIDI key (60 = middle C).
    pub key: u8,
    /// 0..=127.
    pub velocity: u8,
}

/// Plugin -> host, unprompted: a parameter changed (LMMS VST: `IdVstSetParameter`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ParamChanged {
    /// Parameter name.
    pub name: String,
    /// New value.
    pub value: f32,
    /// The audio period in which it changed.
    pub period: u64,
}

/// Plugin -> host, unprompted: a line for the host's log (LMMS: `IdDebugMessage`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LogLine(pub String);

/// Plugin -> host: the real-time thread starts a deliberate stall.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stalling {
    /// How long it will sleep before answering.
    pub millis: u64,
}

/// Host -> plugin request: save your state (LMMS: `IdSaveSettingsToString`,
/// which in practice goes through a temporary file).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveState;

/// Plugin -> host: the answer to [`SaveState`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The saved state, 64 MiB, as one MessagePack `bin`.
    //
    // `serde_bytes` is what makes this fast. Without it serde sees a
    // `Vec<u8>` as a sequence and encodes an array of 64 Mi integers (one
    // or two bytes each), each encoded and decoded on its own: about a
    // hundred times slower through a link (seconds instead of tens of
    // milliseconds) than one `bin` copied whole. Every large byte field of
    // a protocol wants it.
    #[serde(with = "serde_bytes")]
    pub blob: Vec<u8>,
    /// How long the plugin took to build it, in microseconds.
    pub built_us: u64,
}

/// Host -> plugin request: load this state (LMMS: `IdLoadSettingsFromString`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LoadState {
    /// A state made by [`SaveState`].
    // A `bin`, not an array of integers: see `State::blob`.
    #[serde(with = "serde_bytes")]
    pub blob: Vec<u8>,
}

/// Plugin -> host: the answer to [`LoadState`].
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// Whether every byte was as expected (then the state was applied).
    pub ok: bool,
    /// Checksum of the bytes received.
    pub checksum: u64,
    /// Offset of the first unexpected byte, or why the state was refused.
    pub problem: Option<String>,
    /// How long the plugin took to check it, in microseconds.
    pub checked_us: u64,
}

/// Host -> plugin on the real-time link.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtRequest {
    /// Render one period into the shared output buffers (LMMS: `IdStartProcessing`).
    Process {
        /// Period number.
        period: u64,
    },
    /// Answer at once: the link's own round trip, for the latency table.
    Ping(u64),
    /// Sleep this long before answering (a plugin that hangs).
    Stall {
        /// Milliseconds.
        millis: u64,
    },
    /// From now on, spin this long before sleeping while waiting for a call.
    Spin {
        /// Microseconds (0: sleep at once).
        micros: u32,
    },
}

/// Plugin -> host on the real-time link (LMMS: `IdProcessingDone`).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtReply {
    /// The period (or ping number) answered.
    pub period: u64,
    /// Voices sounding after this period.
    pub voices: u32,
}

message!(
    Ready = 2,
    Midi = 8,
    RtRequest = 9,
    RtReply = 10,
    SaveState = 19,
    LoadState = 21,
    LogLine = 25,
    State = 64,
    Loaded = 65,
    ParamChanged = 66,
    Stalling = 67,
);
