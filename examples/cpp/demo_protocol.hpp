// demo_protocol.hpp: the demo synthesizer's protocol in C++, message for
// message the Rust one (crates/ipc-link/examples/demo/messages.rs), so that
// a C++ host drives the Rust plugin and the Rust host the C++ plugin. The
// same IDs, the same fields in the same order, the same MessagePack bytes
// (`ipc_demo_host --wire RUST_DEMO` compares them with what the Rust
// program encodes).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_DEMO_PROTOCOL_HPP
#define IPC_DEMO_PROTOCOL_HPP

#include "ipc.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace demo {

/// What the system said to real-time priority: Rust's `Result<u8,
/// String>` (`{"Ok": priority}` or `{"Err": why}` on the wire).
using RtPriority = std::variant<uint8_t, std::string>;

}  // namespace demo

IPC_VARIANT_NAMES(demo::RtPriority, "Ok", "Err");

namespace demo {

/// Plugin -> host, once its real-time thread runs (LMMS: IdInitDone).
struct Ready {
    RtPriority rt_priority;
    bool operator==(const Ready& o) const { return rt_priority == o.rt_priority; }
};
IPC_MESSAGE(Ready, 2, rt_priority);

/// Host -> plugin: one MIDI event (LMMS: IdMidiEvent).
struct Midi {
    /// 0x90 note on, 0x80 note off (channel 0).
    uint8_t status;
    uint8_t key;
    uint8_t velocity;
    bool operator==(const Midi& o) const {
        return status == o.status && key == o.key && velocity == o.velocity;
    }
};
IPC_MESSAGE(Midi, 8, status, key, velocity);

/// Plugin -> host, unprompted: a parameter changed.
struct ParamChanged {
    std::string name;
    float value;
    /// The audio period in which it changed.
    uint64_t period;
    bool operator==(const ParamChanged& o) const {
        return name == o.name && value == o.value && period == o.period;
    }
};
IPC_MESSAGE(ParamChanged, 66, name, value, period);

/// Plugin -> host, unprompted: a line for the host's log (a newtype).
struct LogLine {
    std::string text;
    bool operator==(const LogLine& o) const { return text == o.text; }
};
IPC_NEWTYPE(LogLine, text);
IPC_MESSAGE_ID(LogLine, 25);

/// Plugin -> host: the real-time thread starts a deliberate stall.
struct Stalling {
    uint64_t millis;
    bool operator==(const Stalling& o) const { return millis == o.millis; }
};
IPC_MESSAGE(Stalling, 67, millis);

/// Host -> plugin request: save your state (a unit struct).
struct SaveState {
    bool operator==(const SaveState&) const { return true; }
};
IPC_UNIT(SaveState);
IPC_MESSAGE_ID(SaveState, 19);

/// Plugin -> host: the answer to SaveState; the state is one `bin`.
struct State {
    std::vector<uint8_t> blob;
    /// How long the plugin took to build it, in microseconds.
    uint64_t built_us;
    bool operator==(const State& o) const { return blob == o.blob && built_us == o.built_us; }
};
IPC_MESSAGE(State, 64, blob, built_us);

/// Host -> plugin request: load this state.
struct LoadState {
    std::vector<uint8_t> blob;
    bool operator==(const LoadState& o) const { return blob == o.blob; }
};
IPC_MESSAGE(LoadState, 21, blob);

/// Plugin -> host: the answer to LoadState.
struct Loaded {
    /// Whether every byte was as expected (then the state was applied).
    bool ok;
    /// Checksum of the bytes received.
    uint64_t checksum;
    /// Offset of the first unexpected byte, or why the state was refused.
    std::optional<std::string> problem;
    /// How long the plugin took to check it, in microseconds.
    uint64_t checked_us;
    bool operator==(const Loaded& o) const {
        return ok == o.ok && checksum == o.checksum && problem == o.problem && checked_us == o.checked_us;
    }
};
IPC_MESSAGE(Loaded, 65, ok, checksum, problem, checked_us);

// The variants of RtRequest (a Rust enum with data): each type's name is
// its variant's.

/// Render one period into the shared output buffers (LMMS: IdStartProcessing).
struct Process {
    uint64_t period;
    bool operator==(const Process& o) const { return period == o.period; }
};
IPC_FIELDS(Process, period);

/// Answer at once: the link's own round trip (a newtype variant).
struct Ping {
    uint64_t n;
    bool operator==(const Ping& o) const { return n == o.n; }
};
IPC_NEWTYPE(Ping, n);

/// Sleep this long before answering (a plugin that hangs).
struct Stall {
    uint64_t millis;
    bool operator==(const Stall& o) const { return millis == o.millis; }
};
IPC_FIELDS(Stall, millis);

/// From now on, spin this long before sleeping while waiting for a call.
struct Spin {
    uint32_t micros;
    bool operator==(const Spin& o) const { return micros == o.micros; }
};
IPC_FIELDS(Spin, micros);

/// Host -> plugin on the real-time link.
struct RtRequest {
    std::variant<Process, Ping, Stall, Spin> v;
    bool operator==(const RtRequest& o) const { return v == o.v; }
};
IPC_NEWTYPE(RtRequest, v);
IPC_MESSAGE_ID(RtRequest, 9);

/// Plugin -> host on the real-time link (LMMS: IdProcessingDone).
struct RtReply {
    /// The period (or ping number) answered.
    uint64_t period;
    /// Voices sounding after this period.
    uint32_t voices;
    bool operator==(const RtReply& o) const { return period == o.period && voices == o.voices; }
};
IPC_MESSAGE(RtReply, 10, period, voices);

/// The sample rate the protocol fixes (the Rust synthesizer's `RATE`): both
/// sides assume it; the host checks it through the pitch of what it hears.
inline constexpr uint32_t sample_rate = 48000;
/// Largest period the synthesizers render at once.
inline constexpr size_t max_frames = 2048;
/// The plugin reports every this many periods.
inline constexpr uint64_t log_every = 125;

}  // namespace demo

#endif  // IPC_DEMO_PROTOCOL_HPP
