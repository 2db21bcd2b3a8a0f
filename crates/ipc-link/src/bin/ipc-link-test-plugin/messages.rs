//! Messages of the test protocol, shared by the test plugin and the tests
//! (which include this file by path).

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping(pub u64);
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pong(pub u64);
/// Host -> plugin: send `count` `Note`s to the host, unprompted, from a thread.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chatter {
    pub count: u32,
}
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note {
    pub index: u32,
}
/// Host -> plugin request: the plugin's handler asks the host `Question`
/// and replies with the host's `Answer`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskBack(pub u64);
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question(pub u64);
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
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticks {
    pub received: u64,
    pub in_order: bool,
}
/// Host -> plugin request: counts the plugin keeps.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters;
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

/// Real-time requests.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub enum RtRequest {
    /// outputs[c][i] = inputs[c % inputs][i] * gain + frame as f32
    Process { frame: u64, gain: f32 },
    /// Sleep this long before answering (a plugin that stops answering).
    Stall { frame: u64, millis: u64 },
}
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtReply {
    pub frame: u64,
    pub outputs: u32,
}

ipc_msgpack::message!(
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
    RtRequest = 20,
    RtReply = 21,
);
