// wire_types.hpp: the C++ side of the message set of
// crates/ipc-test-support/src/wire.rs (the same types, the same named
// values), and the types of the fuzz corpus (fuzz/src/lib.rs).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_TESTS_WIRE_TYPES_HPP
#define IPC_TESTS_WIRE_TYPES_HPP

#include "ipc.hpp"

#include <functional>
#include <string>
#include <vector>

namespace wire {

struct Scalars {
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
    bool flag;
    char32_t letter;
};
IPC_MESSAGE(Scalars, 1, a, b, c, d, e, f, g, h, x, y, flag, letter);

struct Text {
    std::string s;
    std::string empty;
    std::optional<std::string> some;
    std::optional<uint32_t> none;
    std::string long_;  // `long` in Rust
};
IPC_MESSAGE(Text, 2, s, empty, some, none, long_);

struct Blobs {
    std::vector<uint8_t> empty;
    std::vector<uint8_t> small;
    std::vector<uint8_t> medium;
    std::vector<uint8_t> large;
    std::optional<std::vector<uint8_t>> maybe;
    std::optional<std::vector<uint8_t>> none;
};
IPC_MESSAGE(Blobs, 3, empty, small, medium, large, maybe, none);

struct Collections {
    std::vector<std::vector<uint32_t>> rows;
    std::map<std::string, std::vector<int64_t>> by_name;
    std::unordered_map<uint32_t, std::string> by_id;
    std::array<uint16_t, 3> fixed{};
    std::vector<bool> flags;
    std::vector<uint16_t> many;
    std::map<uint8_t, int8_t> wide;

    bool operator==(const Collections& o) const {
        return rows == o.rows && by_name == o.by_name && by_id == o.by_id && fixed == o.fixed &&
               flags == o.flags && many == o.many && wide == o.wide;
    }
};
IPC_MESSAGE(Collections, 4, rows, by_name, by_id, fixed, flags, many, wide);

struct Tuples {
    uint8_t a;
    std::pair<int16_t, std::tuple<std::string, std::pair<bool, uint64_t>>> b;
    std::tuple<uint32_t, double> c;
    std::array<int8_t, 2> d{};
};
IPC_MESSAGE(Tuples, 5, a, b, c, d);

struct Unit {};
IPC_UNIT(Unit);
IPC_MESSAGE_ID(Unit, 6);

struct Newtype {
    uint64_t value;
};
IPC_NEWTYPE(Newtype, value);
IPC_MESSAGE_ID(Newtype, 7);

enum class Mode : uint8_t { Sine, Square, Saw };
IPC_ENUM(Mode, Sine, Square, Saw);

/// No IPC_ENUM: encoded as its underlying integer.
enum class Level : uint8_t { low, mid, high };

struct Modes {
    Mode mode;
    std::vector<Mode> all;
    Level level;
};
IPC_MESSAGE(Modes, 8, mode, all, level);

struct Empty {};
IPC_UNIT(Empty);
struct Circle {
    float radius;
};
IPC_NEWTYPE(Circle, radius);
struct Point {
    int32_t x;
    int32_t y;
};
IPC_FIELDS(Point, x, y);
struct Rect {
    uint32_t w;
    uint32_t h;
};
IPC_FIELDS(Rect, w, h);
struct Shape;
struct Group {
    std::vector<Shape> items;
};
IPC_NEWTYPE(Group, items);
/// Rust's recursive `enum Shape`: a newtype around the variant, so that
/// Group can hold a vector of it.
struct Shape {
    std::variant<Empty, Circle, Point, Rect, Group> v;
};
IPC_NEWTYPE(Shape, v);

struct Shapes {
    std::vector<Shape> items;
};
IPC_NEWTYPE(Shapes, items);
IPC_MESSAGE_ID(Shapes, 9);

}  // namespace wire

/// Rust's `enum Value { Int(i64), Text(String), Flag(bool), Nothing }`:
/// plain alternatives, named by the trait.
using WireValue = std::variant<int64_t, std::string, bool, std::monostate>;
IPC_VARIANT_NAMES(WireValue, "Int", "Text", "Flag", "Nothing");

namespace wire {

struct Values {
    std::vector<WireValue> items;
};
IPC_NEWTYPE(Values, items);
IPC_MESSAGE_ID(Values, 10);

struct NoteOn {
    uint8_t channel;
    uint8_t key;
    float velocity;
};
IPC_MESSAGE(NoteOn, 11, channel, key, velocity);

struct Chain {
    int32_t value = 0;
    std::unique_ptr<Chain> next;
};
IPC_MESSAGE(Chain, 12, value, next);

struct Everything {
    std::optional<std::vector<Shape>> shapes;
    std::map<std::string, std::optional<Tuples>> table;
    std::vector<std::optional<Blobs>> blobs;
    std::vector<std::vector<std::optional<WireValue>>> nested;
    Chain chain;
    Unit marker;
    Newtype id{};
    std::map<uint8_t, std::pair<std::string, Mode>> pairs;
};
IPC_MESSAGE(Everything, 13, shapes, table, blobs, nested, chain, marker, id, pairs);

/// One named value of the set, type-erased.
struct Vector {
    std::string name;
    uint32_t id;
    /// Its C++ encoding.
    std::function<std::vector<uint8_t>()> encode;
    /// Decodes `bytes` as its type: whether that gives this value (else
    /// `why` says what happened).
    std::function<bool(const std::vector<uint8_t>&, std::string& why)> matches;
    /// Sends the value as a message.
    std::function<void(ipc::Writer&)> send;
    /// Receives a message of its type: whether it is this value.
    std::function<bool(ipc::Reader&, std::string& why)> recv_matches;
};

/// The whole set, as wire.rs has it.
std::vector<Vector> vectors();

/// Decodes `bytes` as the type of message `id` (IPC_INVALID_ARGUMENT for an
/// unknown ID); `reason` gets the decoder's.
ipc_result decode_as(uint32_t id, const std::vector<uint8_t>& bytes, const char*& reason,
                     uint32_t max_depth = ipc::Decoder::default_max_depth);

/// Decodes a whole payload from `d` as the type of message `id`.
ipc_result decode_with(uint32_t id, ipc::Decoder& d);

/// Decodes a whole payload as the type of `h.id` and sends it back on `w`
/// re-encoded (flagged as a reply, same correlation number).
ipc_result echo(ipc::Decoder& d, ipc::Writer& w, const ipc::Header& h);

/// Same payload bytes `pattern` as wire.rs.
std::vector<uint8_t> pattern(size_t n, uint8_t seed);

}  // namespace wire

#endif  // IPC_TESTS_WIRE_TYPES_HPP
