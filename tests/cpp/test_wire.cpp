// test_wire.cpp: the C++ encoding against Rust's, byte for byte, both
// ways; the same through the ring of a real channel; and the decoder
// against hostile input (the Rust decoder's cases, every truncation,
// seeded mutations, the fuzz corpus, claimed lengths that must allocate
// nothing).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "harness.hpp"
#include "wire_types.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace {

using harness::hex;
using harness::unhex;

struct RustVector {
    std::string name;
    uint32_t id;
    std::vector<uint8_t> bytes;
};

/// What `ipc-wire-vectors encode` prints, in order.
std::vector<RustVector> rust_vectors() {
    int status = -1;
    std::string out = harness::run_command("'" + harness::wire_vectors_path() + "' encode", status);
    if (status != 0) {
        FAIL("ipc-wire-vectors encode failed (status " + std::to_string(status) + "); built with cargo build -p ipc-test-support?");
    }
    std::vector<RustVector> vs;
    std::istringstream lines(out);
    std::string name, hexed;
    uint32_t id = 0;
    while (lines >> name >> id >> hexed) {
        vs.push_back({name, id, unhex(hexed)});
    }
    return vs;
}

struct HostileCase {
    uint32_t id;
    std::vector<uint8_t> bytes;
    std::string what;
};

std::vector<HostileCase> rust_hostile() {
    int status = -1;
    std::string out = harness::run_command("'" + harness::wire_vectors_path() + "' hostile", status);
    CHECK_EQ(status, 0);
    std::vector<HostileCase> cases;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        HostileCase c;
        std::string hexed;
        fields >> c.id >> hexed;
        std::getline(fields, c.what);
        // An empty payload prints as two spaces: no hex digits.
        if (hexed.find_first_not_of("0123456789abcdef") != std::string::npos) {
            c.what = hexed + c.what;
            hexed.clear();
        }
        c.bytes = unhex(hexed);
        cases.push_back(c);
    }
    CHECK(cases.size() > 30);
    return cases;
}

const wire::Vector& cpp_vector(const std::vector<wire::Vector>& all, const std::string& name) {
    for (const auto& v : all) {
        if (v.name == name) {
            return v;
        }
    }
    FAIL("no C++ value named " + name);
}

bool unordered(const std::string& name) { return name.find("~unordered") != std::string::npos; }

/// A 16-byte envelope for message `id` with `len` payload bytes.
std::vector<uint8_t> envelope(uint32_t id, uint32_t len, uint8_t flags = 0) {
    std::vector<uint8_t> e = {0xa7, 1, flags, 0};
    for (uint32_t v : {id, 0u, len}) {
        for (int i = 0; i < 4; ++i) {
            e.push_back(static_cast<uint8_t>(v >> (8 * i)));
        }
    }
    return e;
}

/// A seeded xorshift64* generator (the mutations are replayable).
struct Rng {
    uint64_t s;
    uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545f4914f6cdd1dULL;
    }
    size_t below(size_t n) { return static_cast<size_t>(next() % (n == 0 ? 1 : n)); }
};

}  // namespace

TEST_CASE(wire_cpp_encodes_every_value_as_rust_does) {
    auto rust = rust_vectors();
    auto cpp = wire::vectors();
    CHECK_EQ(rust.size(), cpp.size());
    size_t compared = 0;
    for (const auto& r : rust) {
        const auto& c = cpp_vector(cpp, r.name);
        CHECK_EQ(c.id, r.id);
        if (unordered(r.name)) {
            continue;
        }
        std::vector<uint8_t> ours = c.encode();
        if (ours != r.bytes) {
            FAIL(r.name + ": C++ wrote " + hex(ours).substr(0, 400) + "\n  Rust wrote " + hex(r.bytes).substr(0, 400));
        }
        ++compared;
    }
    CHECK(compared + 1 == rust.size());
}

TEST_CASE(wire_cpp_decodes_every_rust_encoding) {
    auto cpp = wire::vectors();
    for (const auto& r : rust_vectors()) {
        std::string why;
        if (!cpp_vector(cpp, r.name).matches(r.bytes, why)) {
            FAIL(r.name + ": " + why);
        }
    }
}

TEST_CASE(wire_rust_decodes_every_cpp_encoding) {
    char path[] = "/tmp/ipc-cpp-wire-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    auto cpp = wire::vectors();
    {
        std::ofstream out(path);
        for (const auto& v : cpp) {
            out << v.name << " " << v.id << " " << hex(v.encode()) << "\n";
        }
    }
    int status = -1;
    std::string report =
        harness::run_command("'" + harness::wire_vectors_path() + "' decode '" + path + "'", status);
    std::remove(path);
    std::istringstream lines(report);
    std::string line;
    size_t ok = 0;
    while (std::getline(lines, line)) {
        if (line.rfind("ok ", 0) == 0) {
            ++ok;
        } else {
            FAIL("the Rust side: " + line);
        }
    }
    CHECK_EQ(status, 0);
    CHECK_EQ(ok, cpp.size());
}

TEST_CASE(wire_messages_through_a_small_ring_are_rusts_bytes_and_decode_in_place) {
    // A 1 KiB ring: most values are larger than the ring, so they are
    // counted, then streamed through it span by span (heads straddle
    // spans), and decoded chunk by chunk as they arrive.
    auto rust = rust_vectors();
    auto cpp = wire::vectors();
    {
        auto segment = ipc::Segment::create({1024});
        auto writer = segment.writer(0);
        auto reader = segment.reader(0);
        std::thread sender([&] {
            for (const auto& r : rust) {
                cpp_vector(cpp, r.name).send(writer);
            }
        });
        for (const auto& r : rust) {
            if (unordered(r.name)) {
                // Read past it whole: its map order is not Rust's.
                std::vector<uint8_t> head(16);
                reader.read_exact(head.data(), head.size(), std::chrono::seconds(60));
                uint32_t len = head[12] | head[13] << 8 | head[14] << 16 | uint32_t{head[15]} << 24;
                std::vector<uint8_t> body(len);
                reader.read_exact(body.data(), body.size(), std::chrono::seconds(60));
                continue;
            }
            std::vector<uint8_t> message(16 + r.bytes.size());
            reader.read_exact(message.data(), message.size(), std::chrono::seconds(60));
            std::vector<uint8_t> expected = envelope(r.id, static_cast<uint32_t>(r.bytes.size()), ipc::flag_request);
            expected[8] = 7;  // the correlation number the vectors send with
            expected.insert(expected.end(), r.bytes.begin(), r.bytes.end());
            if (message != expected) {
                FAIL(r.name + ": the ring got " + hex(message).substr(0, 200));
            }
        }
        sender.join();
    }
    for (size_t capacity : {size_t{64}, size_t{1024}, size_t{1} << 20}) {
        auto segment = ipc::Segment::create({capacity});
        auto writer = segment.writer(0);
        auto reader = segment.reader(0);
        std::thread sender([&] {
            for (const auto& v : cpp) {
                v.send(writer);
            }
        });
        for (const auto& v : cpp) {
            std::string why;
            if (!v.recv_matches(reader, why)) {
                FAIL(v.name + " through a ring of " + std::to_string(capacity) + ": " + why);
            }
        }
        sender.join();
    }
}

TEST_CASE(hostile_rust_cases_are_refused_without_allocating_their_claims) {
    for (const auto& c : rust_hostile()) {
        const char* reason = nullptr;
        harness::AllocationStats stats;
        ipc_result r;
        {
            harness::CountAllocations count;
            r = wire::decode_as(c.id, c.bytes, reason);
            stats = count.stats();
        }
        if (r == IPC_OK) {
            FAIL("accepted: " + c.what);
        }
        CHECK_EQ(r, IPC_MALFORMED);
        CHECK(reason != nullptr);
        // Whatever the payload claims, nothing larger than 64 KiB (the most a
        // string or vector reserves before its bytes arrive) is allocated.
        if (stats.largest > 64 * 1024 + 64) {
            FAIL(c.what + ": allocated " + std::to_string(stats.largest) + " bytes at once");
        }
    }
}

TEST_CASE(hostile_rust_cases_through_a_channel_leave_it_usable) {
    auto segment = ipc::Segment::create({64 * 1024});
    auto writer = segment.writer(0);
    auto reader = segment.reader(0);
    for (const auto& c : rust_hostile()) {
        std::vector<uint8_t> m = envelope(c.id, static_cast<uint32_t>(c.bytes.size()));
        m.insert(m.end(), c.bytes.begin(), c.bytes.end());
        writer.write(m.data(), m.size(), std::chrono::seconds(60));
        writer.commit();
        writer.send(wire::Newtype{99});
        ipc::Header seen{};
        ipc_result r = reader.recv_with(
            [&](const ipc::Header& h, ipc::Decoder& d) {
                seen = h;
                return wire::decode_with(h.id, d);
            },
            std::chrono::seconds(60));
        if (r == IPC_OK) {
            FAIL("accepted through the ring: " + c.what);
        }
        CHECK_EQ(seen.id, c.id);
        // The stream goes on: the next message decodes.
        wire::Newtype next{};
        CHECK_EQ(reader.recv(std::nothrow, next, std::chrono::seconds(60)), IPC_OK);
        CHECK_EQ(next.value, uint64_t{99});
    }
}

TEST_CASE(hostile_every_truncation_is_an_error) {
    size_t checked = 0;
    for (const auto& r : rust_vectors()) {
        const size_t n = r.bytes.size();
        for (size_t len = 0; len < n; len += (len < 600 ? 1 : n / 97 + 1)) {
            std::vector<uint8_t> cut(r.bytes.begin(), r.bytes.begin() + static_cast<std::ptrdiff_t>(len));
            const char* reason = nullptr;
            if (wire::decode_as(r.id, cut, reason) == IPC_OK) {
                FAIL(r.name + " cut to " + std::to_string(len) + " bytes decoded");
            }
            ++checked;
        }
    }
    CHECK(checked > 1000);
}

TEST_CASE(hostile_seeded_mutations_never_crash) {
    // Replaces, inserts and deletes bytes, and splices in claims of huge
    // lengths: each result is a value or an error, never a crash or a
    // sanitizer report, and never a large allocation.
    static const std::vector<std::vector<uint8_t>> claims = {
        {0xdd, 0xff, 0xff, 0xff, 0xff}, {0xdf, 0xff, 0xff, 0xff, 0xff}, {0xc6, 0xff, 0xff, 0xff, 0xff},
        {0xdb, 0x7f, 0xff, 0xff, 0xff}, {0xdc, 0xff, 0xff}, {0x81}, {0xc1}, {0xd4, 0x01}, {0xc0}, {0x9f}};
    Rng rng{0x1234567};
    size_t decoded = 0;
    size_t refused = 0;
    for (const auto& r : rust_vectors()) {
        const size_t rounds = r.bytes.size() < 4096 ? 1500 : 40;
        for (size_t i = 0; i < rounds; ++i) {
            std::vector<uint8_t> m = r.bytes;
            for (size_t k = 0, edits = 1 + rng.below(4); k < edits; ++k) {
                const size_t at = rng.below(m.size() + 1);
                switch (rng.below(4)) {
                case 0:
                    if (at < m.size()) {
                        m[at] = static_cast<uint8_t>(rng.next());
                    }
                    break;
                case 1: m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), static_cast<uint8_t>(rng.next())); break;
                case 2:
                    if (at < m.size()) {
                        m.erase(m.begin() + static_cast<std::ptrdiff_t>(at));
                    }
                    break;
                default: {
                    const auto& c = claims[rng.below(claims.size())];
                    m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), c.begin(), c.end());
                }
                }
            }
            const char* reason = nullptr;
            harness::CountAllocations count;
            (wire::decode_as(r.id, m, reason) == IPC_OK ? decoded : refused) += 1;
            if (count.stats().largest > 2 * m.size() * sizeof(std::string) + 64 * 1024 + 64) {
                FAIL(r.name + ": a mutation made the decoder allocate " + std::to_string(count.stats().largest));
            }
        }
    }
    CHECK(refused > 1000);
    std::printf("(%zu decoded, %zu refused) ", decoded, refused);
}

TEST_CASE(hostile_a_claim_still_arriving_grows_with_what_arrives) {
    // A 1 MiB byte string claimed over a 4 KiB ring, of which 20 KB come
    // before the writer goes: the decoder reserves at most 64 KiB, collects
    // what came, and reports the end of the stream.
    auto segment = ipc::Segment::create({4096});
    auto reader = segment.reader(0);
    ipc::Writer writer = segment.writer(0);
    const uint32_t len = 1u << 20;
    std::vector<uint8_t> head = envelope(ipc::message_id_v<wire::Blobs>, len);
    for (uint8_t b : {0x96, 0xc6, 0x00, 0x0f, 0xff, 0xf0}) {  // 6 fields; bin 32 of 1 MiB - 16
        head.push_back(b);
    }
    std::thread sender([w = std::move(writer), head]() mutable {
        w.write(head.data(), head.size(), std::chrono::seconds(60));
        std::vector<uint8_t> part(1000, 0x55);
        for (int i = 0; i < 20; ++i) {
            w.write(part.data(), part.size(), std::chrono::seconds(60));
            w.commit();
        }
        // Dropping the writer closes the channel inside the message.
    });
    harness::AllocationStats stats;
    ipc_result r;
    {
        harness::CountAllocations count;
        wire::Blobs blobs;
        r = reader.recv(std::nothrow, blobs, std::chrono::seconds(60));
        stats = count.stats();
    }
    sender.join();
    CHECK_EQ(r, IPC_CLOSED);
    CHECK(stats.largest <= 64 * 1024 + 64);

    // In a ring, a claim beyond the payload is refused before anything.
    auto whole = ipc::Segment::create({4096});
    auto w2 = whole.writer(0);
    auto r2 = whole.reader(0);
    std::vector<uint8_t> m = envelope(ipc::message_id_v<wire::Blobs>, 9);
    for (uint8_t b : {0x96, 0xc6, 0xff, 0xff, 0xff, 0xf0, 1, 2, 3}) {
        m.push_back(b);
    }
    w2.write(m.data(), m.size());
    w2.commit();
    harness::CountAllocations count;
    wire::Blobs blobs;
    CHECK_EQ(r2.recv(std::nothrow, blobs, std::chrono::seconds(60)), IPC_MALFORMED);
    CHECK(count.stats().largest <= 64);
}

TEST_CASE(hostile_nesting_is_bounded_by_the_limit) {
    // 1000 nested options of boxes decode within a large limit only as far
    // as the limit allows; the decoder never recurses past it.
    std::vector<uint8_t> chain;
    for (int i = 0; i < 1000; ++i) {
        chain.push_back(0x92);
        chain.push_back(0x00);
    }
    chain.push_back(0xc0);
    const char* reason = nullptr;
    CHECK_EQ(wire::decode_as(ipc::message_id_v<wire::Chain>, chain, reason, 64), IPC_MALFORMED);
    CHECK_EQ(std::string(reason), std::string("nesting deeper than the limit"));
    // 1000 structs and the 999 options between them: 1999 levels.
    CHECK_EQ(wire::decode_as(ipc::message_id_v<wire::Chain>, chain, reason, 1999), IPC_OK);
    CHECK_EQ(wire::decode_as(ipc::message_id_v<wire::Chain>, chain, reason, 1998), IPC_MALFORMED);
}

// ---------------------------------------------------------------------------
// The fuzz corpus (fuzz/corpus/decode): streams of enveloped messages of
// the fuzz target's types (fuzz/src/lib.rs), decoded as kind ID % 7.
// ---------------------------------------------------------------------------

namespace fuzz {

/// A 128-bit integer as rmp-serde writes it: a 16-byte big-endian bin (a
/// plain integer decodes too). A Codec of the test's own.
struct Wide {
    std::array<uint8_t, 16> be{};
};

}  // namespace fuzz

template <>
struct ipc::Codec<fuzz::Wide> {
    static ipc_result encode(Encoder& e, const fuzz::Wide& w) { return e.write_bin(w.be.data(), 16); }
    static ipc_result decode(Decoder& d, fuzz::Wide& w) {
        uint8_t m = 0;
        if (ipc_result r = d.peek(m); r != IPC_OK) {
            return r;
        }
        Token t;
        if (ipc_result r = d.read_token(t); r != IPC_OK) {
            return r;
        }
        if (m == 0xc4) {
            if (t.len != 16) {
                return d.fail(IPC_MALFORMED, "a 128-bit integer must be 16 bytes");
            }
            return d.read(w.be.data(), 16);
        }
        if (t.kind != Kind::uint && t.kind != Kind::sint) {
            return d.fail(IPC_MALFORMED, "expected a 128-bit integer");
        }
        const uint64_t v = t.kind == Kind::uint ? t.uint : static_cast<uint64_t>(t.sint);
        const uint8_t fill = t.kind == Kind::sint ? 0xff : 0x00;
        for (size_t i = 0; i < 16; ++i) {
            w.be[i] = i < 8 ? fill : static_cast<uint8_t>(v >> (8 * (15 - i)));
        }
        return IPC_OK;
    }
};

namespace fuzz {

struct Numbers {
    uint8_t a;
    uint16_t b;
    uint32_t c;
    uint64_t d;
    int8_t e;
    int16_t f;
    int32_t g;
    int64_t h;
    float x;
    double y;
    bool on;
    std::array<uint8_t, 4> pad{};
    Wide wide;
    Wide uwide;
};
IPC_FIELDS(Numbers, a, b, c, d, e, f, g, h, x, y, on, pad, wide, uwide);

struct Text {
    std::string name;
    std::optional<std::string> note;
    std::vector<std::vector<uint32_t>> grid;
    std::map<std::string, int64_t> counts;
    char32_t initial;
};
IPC_FIELDS(Text, name, note, grid, counts, initial);

struct Blob {
    uint32_t id;
    std::vector<uint8_t> data;
    std::optional<std::vector<uint8_t>> extra;
};
IPC_FIELDS(Blob, id, data, extra);

struct Command;
struct Stop {};
IPC_UNIT(Stop);
struct Gain {
    float value;
};
IPC_NEWTYPE(Gain, value);
struct Move {
    int32_t x;
    int32_t y;
};
IPC_FIELDS(Move, x, y);
struct Note {
    uint8_t key;
    float velocity;
    std::unique_ptr<Command> then;
};
IPC_FIELDS(Note, key, velocity, then);
struct Batch {
    std::vector<Command> commands;
};
IPC_NEWTYPE(Batch, commands);
struct Command {
    std::variant<Stop, Gain, Move, Note, Batch> v;
};
IPC_NEWTYPE(Command, v);

struct Tuples {
    std::tuple<uint8_t, std::tuple<int16_t, std::tuple<std::string, std::tuple<bool, uint64_t>>>> nested;
    std::array<uint16_t, 3> fixed{};
    std::vector<std::pair<uint8_t, std::optional<int64_t>>> pairs;
};
IPC_FIELDS(Tuples, nested, fixed, pairs);

struct Samples {
    std::vector<float> samples;
};
IPC_NEWTYPE(Samples, samples);

struct Marker {};
IPC_UNIT(Marker);

struct Everything {
    Numbers numbers;
    std::optional<Text> text;
    std::vector<Blob> blobs;
    std::vector<Command> commands;
    Tuples tuples;
    std::vector<float> samples;
    Marker marker;
};
IPC_FIELDS(Everything, numbers, text, blobs, commands, tuples, samples, marker);

template <class T>
ipc_result round_trip(const uint8_t* p, size_t n, std::string& why) {
    T value{};
    ipc::Decoder d(p, n, 32);
    ipc_result r = ipc::decode_payload(d, value);
    if (r != IPC_OK) {
        why = d.reason() != nullptr ? d.reason() : "?";
        return r;
    }
    // Re-encoded, it decodes again to the same bytes (a canonical form).
    std::vector<uint8_t> once = ipc::to_bytes(value);
    T again{};
    if (ipc::from_bytes(std::nothrow, once.data(), once.size(), again, 32) != IPC_OK ||
        ipc::to_bytes(again) != once) {
        why = "the re-encoding does not round-trip";
        return IPC_MALFORMED;
    }
    return IPC_OK;
}

ipc_result decode_kind(uint32_t id, const uint8_t* p, size_t n, std::string& why) {
    switch (id % 7) {
    case 0: return round_trip<Numbers>(p, n, why);
    case 1: return round_trip<Text>(p, n, why);
    case 2: return round_trip<Blob>(p, n, why);
    case 3: return round_trip<Command>(p, n, why);
    case 4: return round_trip<Tuples>(p, n, why);
    case 5: return round_trip<Samples>(p, n, why);
    default: return round_trip<Everything>(p, n, why);
    }
}

}  // namespace fuzz

TEST_CASE(hostile_fuzz_corpus_seeds_decode_and_their_truncations_do_not) {
    const std::string dir = harness::source_dir() + "/fuzz/corpus/decode";
    DIR* d = opendir(dir.c_str());
    CHECK(d != nullptr);
    size_t files = 0;
    size_t messages = 0;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        std::ifstream in(dir + "/" + e->d_name, std::ios::binary);
        std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        ++files;
        size_t at = 0;
        while (data.size() - at >= 16) {
            const uint8_t* h = data.data() + at;
            CHECK(h[0] == 0xa7 && h[1] == 1);
            const uint32_t id = h[4] | h[5] << 8 | h[6] << 16 | uint32_t{h[7]} << 24;
            const uint32_t len = h[12] | h[13] << 8 | h[14] << 16 | uint32_t{h[15]} << 24;
            CHECK(data.size() - at - 16 >= len);
            const uint8_t* payload = h + 16;
            std::string why;
            if (fuzz::decode_kind(id, payload, len, why) != IPC_OK) {
                FAIL(std::string(e->d_name) + ": message " + std::to_string(messages) + ": " + why);
            }
            for (uint32_t cut = 0; cut < len; cut += (len < 400 ? 1 : len / 50)) {
                if (fuzz::decode_kind(id, payload, cut, why) == IPC_OK) {
                    FAIL(std::string(e->d_name) + " cut to " + std::to_string(cut) + " decoded");
                }
            }
            ++messages;
            at += 16 + len;
        }
    }
    closedir(d);
    CHECK(files > 10);
    CHECK(messages >= files);
}
