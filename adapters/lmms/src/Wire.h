// Wire.h: how LMMS messages travel. Stage 1: LMMS's own format (int32 id,
// int32 count, then int32 length and bytes per value, native byte order)
// as the bytes of a libipc channel, one committed blob per message.
// Stages 2 and 3: one MessagePack array per message, [id, values...], as
// the payload of a libipc message of ID `messageId` (strings as `str`, or
// `bin` when not UTF-8; integers as integers; floats as `float 32`).
// Everything read is bounds-checked: the peer is not trusted.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_LMMS_WIRE_H
#define IPC_LMMS_WIRE_H

#include "RemotePluginIpc.h"

#include "ipc.hpp"

namespace lmms {
namespace remote_ipc {
namespace wire {

/// The libipc message ID of LMMS messages ("lmms").
constexpr std::uint32_t messageId = 0x6c6d6d73;
/// The real-time request (stage 3): [process: bool, events: [5 ints each]].
constexpr std::uint32_t processId = 0x6c6d7001;
/// Its reply: [MIDI events handled: uint, processed: bool].
constexpr std::uint32_t processedId = 0x6c6d7002;

/// Bounds on what a peer may send.
struct Bounds {
    /// Largest message, in bytes.
    std::size_t maxMessage = std::size_t{256} << 20;
    /// Most values in one message.
    std::size_t maxValues = std::size_t{1} << 20;
    /// How long the rest of a message may take once it began.
    std::chrono::nanoseconds payloadTimeout = std::chrono::seconds(10);
};

/// `deadline` as a timeout for the C interface.
std::uint64_t timeoutNs(Deadline deadline);

/// Stage 1: writes one message and commits it, waiting for ring space
/// until `deadline`. A failure partway closes the writer (the framing is
/// gone).
ipc_result writeText(ipc_writer* writer, int id, const std::vector<Value>& values, Deadline deadline);

/// Stage 1: reads one message; the first bytes until `deadline` (a timeout
/// then consumes nothing), the rest within the payload timeout. `why` gets
/// the reason of a `down`.
Got readText(ipc_reader* reader, Packet& out, Deadline deadline, const Bounds& bounds, ipc_result& why);

/// Stages 2 and 3: the payload of one message.
ipc_result encode(ipc::Encoder& e, int id, const std::vector<Value>& values);
/// Reads a payload written by encode (or by a hostile peer).
ipc_result decode(ipc::Decoder& d, Packet& out, const Bounds& bounds);

/// An encode callback over (id, values).
struct EncodeJob {
    int id;
    const std::vector<Value>* values;
};
std::uint32_t encodeCallback(void* user, ipc_encoder* encoder);

}  // namespace wire
}  // namespace remote_ipc
}  // namespace lmms

#endif  // IPC_LMMS_WIRE_H
