// Wire.cpp: the stage 1 text format and the stage 2/3 MessagePack payload
// (see Wire.h).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "Wire.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace lmms {
namespace remote_ipc {
namespace wire {

std::uint64_t timeoutNs(Deadline deadline) {
    if (!deadline) {
        return IPC_FOREVER;
    }
    const auto left = *deadline - Clock::now();
    if (left <= Clock::duration::zero()) {
        return 0;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    return static_cast<std::uint64_t>(ns) < IPC_FOREVER ? static_cast<std::uint64_t>(ns) : IPC_FOREVER - 1;
}

namespace {

/// Appends all of `data`, waiting until `deadline`.
ipc_result writeAll(ipc_writer* writer, const void* data, std::size_t size, Deadline deadline) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    while (size > 0) {
        std::size_t written = 0;
        const ipc_result r = ipc_writer_write(writer, p, size, timeoutNs(deadline), &written);
        if (r != IPC_OK) {
            return r;
        }
        p += written;
        size -= written;
    }
    return IPC_OK;
}

ipc_result writeInt32(ipc_writer* writer, std::int32_t v, Deadline deadline) {
    std::uint8_t b[4];
    std::memcpy(b, &v, sizeof b);
    return writeAll(writer, b, sizeof b, deadline);
}

/// Chunks in which a long string is read (so that a length the peer
/// claims is allocated only as its bytes arrive).
constexpr std::size_t readChunk = std::size_t{1} << 20;

}  // namespace

ipc_result writeText(ipc_writer* writer, int id, const std::vector<Value>& values, Deadline deadline) {
    if (values.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
        return IPC_INVALID_ARGUMENT;
    }
    ipc_result r = writeInt32(writer, id, deadline);
    if (r == IPC_OK) {
        r = writeInt32(writer, static_cast<std::int32_t>(values.size()), deadline);
    }
    for (std::size_t i = 0; r == IPC_OK && i < values.size(); ++i) {
        const Value& v = values[i];
        std::string formatted;
        const std::string* text = &v.text;
        if (v.kind != Value::Kind::text) {
            formatted = v.asString();
            text = &formatted;
        }
        if (text->size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
            r = IPC_INVALID_ARGUMENT;
            break;
        }
        r = writeInt32(writer, static_cast<std::int32_t>(text->size()), deadline);
        if (r == IPC_OK) {
            r = writeAll(writer, text->data(), text->size(), deadline);
        }
    }
    if (r == IPC_OK) {
        r = ipc_writer_commit(writer);
    }
    if (r != IPC_OK) {
        // Part of a message may be in the ring: nothing after it could be
        // read right.
        ipc_writer_close(writer);
    }
    return r;
}

Got readText(ipc_reader* reader, Packet& out, Deadline deadline, const Bounds& bounds, ipc_result& why) {
    std::int32_t head[2];
    ipc_result r = ipc_reader_read_exact(reader, reinterpret_cast<std::uint8_t*>(head), sizeof head, timeoutNs(deadline));
    if (r == IPC_TIMEOUT) {
        return Got::timeout;
    }
    if (r != IPC_OK) {
        why = r;
        return Got::down;
    }
    const std::int32_t count = head[1];
    std::size_t budget = bounds.maxMessage > sizeof head ? bounds.maxMessage - sizeof head : 0;
    if (count < 0 || static_cast<std::size_t>(count) > bounds.maxValues ||
        static_cast<std::size_t>(count) * 4 > budget) {
        why = IPC_FRAMING;
        return Got::down;
    }
    // Every length prefix is paid for first: the strings share what is left.
    budget -= static_cast<std::size_t>(count) * 4;
    const Deadline rest = after(bounds.payloadTimeout);
    Packet p;
    p.id = head[0];
    // Reserved as the values come, not as the count claims.
    p.values.reserve(count < 4096 ? static_cast<std::size_t>(count) : 4096);
    for (std::int32_t i = 0; i < count; ++i) {
        std::int32_t len = 0;
        r = ipc_reader_read_exact(reader, reinterpret_cast<std::uint8_t*>(&len), sizeof len, timeoutNs(rest));
        if (r == IPC_OK && (len < 0 || static_cast<std::size_t>(len) > budget)) {
            r = IPC_TOO_LARGE;
        }
        std::string text;
        std::size_t have = 0;
        const auto want = static_cast<std::size_t>(len > 0 ? len : 0);
        while (r == IPC_OK && have < want) {
            const std::size_t n = want - have < readChunk ? want - have : readChunk;
            text.resize(have + n);
            r = ipc_reader_read_exact(reader, reinterpret_cast<std::uint8_t*>(&text[have]), n, timeoutNs(rest));
            have += n;
        }
        if (r != IPC_OK) {
            // Inside a message: whatever failed, the framing is lost.
            why = r == IPC_TIMEOUT ? IPC_FRAMING : r;
            return Got::down;
        }
        budget -= want;
        p.values.push_back(Value::ofText(std::move(text)));
    }
    out = std::move(p);
    return Got::message;
}

ipc_result encode(ipc::Encoder& e, int id, const std::vector<Value>& values) {
    ipc_result r = e.write_array(values.size() + 1);
    if (r == IPC_OK) {
        r = e.write_int(id);
    }
    for (std::size_t i = 0; r == IPC_OK && i < values.size(); ++i) {
        const Value& v = values[i];
        switch (v.kind) {
        case Value::Kind::text: {
            const auto* bytes = reinterpret_cast<const std::uint8_t*>(v.text.data());
            r = ipc::detail::valid_utf8(bytes, v.text.size()) ? e.write_str(v.text)
                                                              : e.write_bin(v.text.data(), v.text.size());
            break;
        }
        case Value::Kind::integer:
            r = e.write_int(v.integer);
            break;
        case Value::Kind::real: {
            // addFloat's floats stay `float 32`; a wider number keeps its
            // precision.
            const auto f = static_cast<float>(v.real);
            r = (static_cast<double>(f) == v.real || std::isnan(v.real)) ? e.write_f32(f) : e.write_f64(v.real);
            break;
        }
        }
    }
    return r;
}

ipc_result decode(ipc::Decoder& d, Packet& out, const Bounds& bounds) {
    ipc::Token t;
    if (ipc_result r = d.read_token(t); r != IPC_OK) {
        return r;
    }
    if (t.kind != ipc::Kind::array || t.len == 0 || t.len - 1 > bounds.maxValues) {
        return d.fail(IPC_MALFORMED, "an LMMS message is an array of its ID and values");
    }
    const std::size_t count = t.len - 1;
    if (ipc_result r = d.read_token(t); r != IPC_OK) {
        return r;
    }
    std::int64_t id = 0;
    if (t.kind == ipc::Kind::uint && t.uint <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) {
        id = static_cast<std::int64_t>(t.uint);
    } else if (t.kind == ipc::Kind::sint && t.sint >= std::numeric_limits<std::int32_t>::min()) {
        id = t.sint;
    } else {
        return d.fail(IPC_MALFORMED, "an LMMS message ID is a 32-bit integer");
    }
    Packet p;
    p.id = static_cast<int>(id);
    // At least one byte per value is there (read_token checked the array
    // against the payload), so this reserve is bounded by what came.
    p.values.reserve(count < 4096 ? count : 4096);
    for (std::size_t i = 0; i < count; ++i) {
        if (ipc_result r = d.read_token(t); r != IPC_OK) {
            return r;
        }
        switch (t.kind) {
        case ipc::Kind::str:
        case ipc::Kind::bin: {
            std::string text;
            text.reserve(t.len < 65536 ? t.len : 65536);
            ipc_result r = d.read_chunks(t.len, [&](const std::uint8_t* bytes, std::size_t n) {
                text.append(reinterpret_cast<const char*>(bytes), n);
            });
            if (r != IPC_OK) {
                return r;
            }
            p.values.push_back(Value::ofText(std::move(text)));
            break;
        }
        case ipc::Kind::uint:
            p.values.push_back(Value::ofInteger(
                t.uint > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                    ? std::numeric_limits<std::int64_t>::max()
                    : static_cast<std::int64_t>(t.uint)));
            break;
        case ipc::Kind::sint:
            p.values.push_back(Value::ofInteger(t.sint));
            break;
        case ipc::Kind::f32:
        case ipc::Kind::f64:
            p.values.push_back(Value::ofReal(t.real));
            break;
        case ipc::Kind::boolean:
            p.values.push_back(Value::ofInteger(t.boolean ? 1 : 0));
            break;
        case ipc::Kind::nil:
            p.values.push_back(Value::ofText(std::string()));
            break;
        case ipc::Kind::array:
        case ipc::Kind::map:
            return d.fail(IPC_MALFORMED, "an LMMS message value is a string or a number");
        }
    }
    if (d.remaining() != 0) {
        return d.fail(IPC_MALFORMED, "bytes after an LMMS message");
    }
    out = std::move(p);
    return IPC_OK;
}

std::uint32_t encodeCallback(void* user, ipc_encoder* encoder) {
    auto* job = static_cast<EncodeJob*>(user);
    try {
        ipc::Encoder e(encoder);
        ipc_result r = encode(e, job->id, *job->values);
        if (r == IPC_OK) {
            r = e.finish();
        }
        return static_cast<std::uint32_t>(r);
    } catch (...) {
        return IPC_ENCODE;
    }
}

}  // namespace wire
}  // namespace remote_ipc
}  // namespace lmms
