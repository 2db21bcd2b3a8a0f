//! The protocol the Layer III tests speak to `ipc-link-test-plugin`: what
//! its `echo` role answers, and what it reports about itself.

use serde::{Deserialize, Serialize};

/// Host -> plugin request, answered with a `Pong` of the same number.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping(pub u64);
/// The answer to a `Ping`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pong(pub u64);
/// Host -> plugin: send `count` `Note`s to the host, unprompted, from a thread.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chatter {
    /// How many.
    pub count: u32,
}
/// Plugin -> host, sent unprompted after a `Chatter`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note {
    /// 0, 1, 2, ... in the order sent.
    pub index: u32,
}
/// Host -> plugin request: the plugin's handler asks the host `Question`
/// and replies with the host's `Answer`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskBack(pub u64);
/// Plugin -> host request, sent while the plugin handles an `AskBack`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question(pub u64);
/// The host's answer to a `Question`, which the plugin passes on.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer(pub u64);
/// Either way: one small message of a stream.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick(pub u64);
/// Host -> plugin: send `count` ticks to the host from a thread.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartTicks(pub u64);
/// Host -> plugin request: how many ticks arrived, and were they in order.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickReport;
/// The answer to a `TickReport`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticks {
    /// Ticks that arrived.
    pub received: u64,
    /// Whether they arrived numbered 0, 1, 2, ...
    pub in_order: bool,
}
/// Host -> plugin request: counts the plugin keeps.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters;
/// The answer to `Counters`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterValues {
    /// Messages that reached the fallback handler.
    pub unknown: u64,
    /// Heap allocations made while serving real-time calls (after warm-up).
    pub rt_allocations: u64,
    /// Real-time calls served.
    pub rt_calls: u64,
}
/// A message no handler takes.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nobody(pub u32);
/// Host -> plugin: the handler panics (sent as a request, or not).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boom(pub u32);
/// Host -> plugin request: how many panics the plugin's `on_panic` hook saw.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanicCount;
/// The answer to `PanicCount`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panics(pub u64);

/// Real-time requests.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub enum RtRequest {
    /// `outputs[c][i] = inputs[c % inputs][i] * gain + frame as f32`.
    Process {
        /// The period's number, added to every output sample.
        frame: u64,
        /// The factor applied to the inputs.
        gain: f32,
    },
    /// Sleep this long before answering (a plugin that stops answering).
    Stall {
        /// The period's number.
        frame: u64,
        /// How long to sleep, in milliseconds.
        millis: u64,
    },
    /// The handler panics (a buggy plugin).
    Panic {
        /// The period's number.
        frame: u64,
    },
}
/// The answer to an `RtRequest`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtReply {
    /// The request's period number.
    pub frame: u64,
    /// Output channels written (0 without audio buffers).
    pub outputs: u32,
}

ipc_link::message!(
    Ping = 1,
    Pong = 2,
    Chatter = 3,
    Note = 4,
    AskBack = 5,
    Question = 6,
    Answer = 7,
    Tick = 8,
    StartTicks = 9,
    TickReport = 10,
    Ticks = 11,
    Counters = 12,
    CounterValues = 13,
    Nobody = 14,
    Boom = 15,
    PanicCount = 16,
    Panics = 17,
    RtRequest = 20,
    RtReply = 21,
);
