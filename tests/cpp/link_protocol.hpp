// link_protocol.hpp: what the link tests' host (test_link.cpp) and plugin
// (peers.cpp) say to each other.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_TESTS_LINK_PROTOCOL_HPP
#define IPC_TESTS_LINK_PROTOCOL_HPP

#include "ipc.hpp"

namespace proto {

/// A request answered with a Pong (n + 1, the text with " from <side>").
struct Ping {
    uint32_t n;
    std::string text;
};
IPC_MESSAGE(Ping, 100, n, text);
struct Pong {
    uint32_t n;
    std::string text;
};
IPC_MESSAGE(Pong, 101, n, text);

/// A request whose handler throws std::runtime_error(why).
struct Fail {
    std::string why;
};
IPC_MESSAGE(Fail, 102, why);

/// Makes the plugin ask the host a Ping from its handler, then send an
/// Answer with what came back.
struct Ask {
    uint32_t n;
};
IPC_MESSAGE(Ask, 103, n);
struct Answer {
    uint32_t n;
    bool ok;
};
IPC_MESSAGE(Answer, 104, n, ok);

/// Echoed as a request (larger than the rings: streamed both ways).
struct Big {
    std::vector<uint8_t> data;
};
IPC_MESSAGE(Big, 105, data);

/// A note, sent back by the plugin with its velocity doubled.
struct Note {
    uint8_t key;
    float velocity;
};
IPC_MESSAGE(Note, 106, key, velocity);

/// The real-time request: outputs = inputs * gain; a negative gain makes
/// the handler throw.
struct Process {
    float gain;
    uint32_t block;
};
IPC_MESSAGE(Process, 200, gain, block);
struct Processed {
    uint32_t block;
    double sum;
    bool had_audio;
    /// What the plugin's serving thread had allocated when it handled this
    /// request (malloc and operator new, since it began serving).
    uint64_t allocations;
};
IPC_MESSAGE(Processed, 201, block, sum, had_audio, allocations);

}  // namespace proto

#endif  // IPC_TESTS_LINK_PROTOCOL_HPP
