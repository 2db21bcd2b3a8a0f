// wire_types.cpp: the named values of the message set, built as wire.rs
// builds them.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "wire_types.hpp"

#include <cmath>
#include <limits>

namespace wire {

std::string harness_hex(const std::vector<uint8_t>& bytes);

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n; ++i) {
        out[i] = static_cast<uint8_t>(static_cast<uint8_t>(static_cast<uint8_t>(i) * 31u) ^ seed);
    }
    return out;
}

namespace {

template <class T, class = void>
struct HasEq : std::false_type {};
template <class T>
struct HasEq<T, std::void_t<decltype(std::declval<const T&>() == std::declval<const T&>())>> : std::true_type {};

/// Whether `got` is `want`: by operator== where the type has one (maps
/// without an order), else by their encodings (which tell every value of
/// these types apart, -0.0 from 0.0 included).
template <class T>
bool same(const T& got, const T& want) {
    if constexpr (HasEq<T>::value) {
        return got == want;
    } else {
        return ipc::to_bytes(got) == ipc::to_bytes(want);
    }
}

template <class T>
Vector vector(std::string name, std::function<T()> make) {
    Vector v;
    v.name = std::move(name);
    v.id = ipc::message_id_v<T>;
    v.encode = [make] { return ipc::to_bytes(make()); };
    v.matches = [make](const std::vector<uint8_t>& bytes, std::string& why) {
        T got{};
        ipc::Decoder d(bytes.data(), bytes.size());
        ipc_result r = ipc::decode_payload(d, got);
        if (r != IPC_OK) {
            why = std::string(ipc::result_str(r)) + ": " + (d.reason() ? d.reason() : "?");
            return false;
        }
        if (!same(got, make())) {
            why = "decoded another value: " + harness_hex(ipc::to_bytes(got));
            return false;
        }
        return true;
    };
    v.send = [make](ipc::Writer& w) { w.send(make(), 7, ipc::flag_request); };
    v.recv_matches = [make](ipc::Reader& r, std::string& why) {
        auto got = r.recv<T>(std::chrono::seconds(60));
        if (got.header.correlation != 7 || got.header.flags != ipc::flag_request) {
            why = "another envelope";
            return false;
        }
        if (!same(got.message, make())) {
            why = "received another value";
            return false;
        }
        return true;
    };
    return v;
}

Scalars scalars(uint8_t a, uint16_t b, uint32_t c, uint64_t d, int8_t e, int16_t f, int32_t g, int64_t h,
                float x, double y, bool flag, char32_t letter) {
    return Scalars{a, b, c, d, e, f, g, h, x, y, flag, letter};
}

Blobs blobs(uint8_t seed) {
    return Blobs{{}, pattern(5, seed), pattern(300, seed), pattern(70000, seed), pattern(3, seed), std::nullopt};
}

Tuples tuples() {
    Tuples t;
    t.a = 7;
    t.b = {-300, {"seven", {true, std::numeric_limits<uint64_t>::max()}}};
    t.c = {70000, -2.5};
    t.d = {-128, 127};
    return t;
}

Chain chain(int32_t n) {
    Chain c;
    c.value = n;
    for (int32_t v = n - 1; v >= 0; --v) {
        Chain outer;
        outer.value = v;
        outer.next = std::make_unique<Chain>(std::move(c));
        c = std::move(outer);
    }
    return c;
}

std::string repeat(const std::string& s, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) {
        out += s;
    }
    return out;
}

Shape shape(decltype(Shape::v) v) { return Shape{std::move(v)}; }

}  // namespace

std::vector<Vector> vectors() {
    using L8 = std::numeric_limits<int8_t>;
    using L16 = std::numeric_limits<int16_t>;
    using L32 = std::numeric_limits<int32_t>;
    using L64 = std::numeric_limits<int64_t>;
    const double inf = std::numeric_limits<double>::infinity();
    const float finf = std::numeric_limits<float>::infinity();
    std::vector<Vector> out;
    out.push_back(vector<Scalars>("scalars-zero", [] { return scalars(0, 0, 0, 0, 0, 0, 0, 0, 0.0f, 0.0, false, U'a'); }));
    out.push_back(vector<Scalars>("scalars-max", [] {
        return scalars(255, 65535, 4294967295u, std::numeric_limits<uint64_t>::max(), L8::max(), L16::max(),
                       L32::max(), L64::max(), std::numeric_limits<float>::max(),
                       std::numeric_limits<double>::max(), true, U'\U0010FFFF');
    }));
    out.push_back(vector<Scalars>("scalars-min", [] {
        return scalars(0, 0, 0, 0, L8::min(), L16::min(), L32::min(), L64::min(),
                       std::numeric_limits<float>::min(), -0.0, false, U'\u00DF');
    }));
    out.push_back(vector<Scalars>("scalars-format-edges-1", [] {
        return scalars(127, 128, 255, 256, -32, -33, 127, 128, -1.5e-7f, 3.14159265358979323846, true, U'\u20AC');
    }));
    out.push_back(vector<Scalars>("scalars-format-edges-2", [inf, finf] {
        return scalars(128, 255, 65535, 65536, -1, -129, -32769, -2147483649LL, finf, -inf, false, U'\U0001F3B9');
    }));
    out.push_back(vector<Scalars>("scalars-format-edges-3", [] {
        return scalars(1, 256, 65536, 4294967295ull, -128, -32768, L32::min(), 4294967296LL, 1e-45f, 5e-324,
                       true, U'\u007F');
    }));
    out.push_back(vector<Scalars>("scalars-signed-as-unsigned", [] {
        return scalars(0, 0, 0, 4294967296ull, 100, 200, 70000, 5000000000LL, 0.8f, 0.1, false, U'\u0080');
    }));
    out.push_back(vector<Text>("text", [] {
        return Text{u8"gr\u00FC\u00DFe, \u97F3\u697D \U0001F3B9", "", std::string(31, 'x'), std::nullopt,
                    std::string(300, 'y')};
    }));
    out.push_back(vector<Text>("text-format-edges", [] {
        return Text{std::string(32, 'z'), std::string(255, 'w'), std::string(256, 'v'), 4294967295u,
                    repeat("long ", 14000)};
    }));
    out.push_back(vector<Blobs>("blobs", [] { return blobs(1); }));
    out.push_back(vector<Blobs>("blobs-format-edges", [] {
        return Blobs{pattern(255, 2), pattern(256, 3), pattern(65535, 4), pattern(65536, 5), std::vector<uint8_t>{},
                     std::nullopt};
    }));
    out.push_back(vector<Collections>("collections", [] {
        Collections c;
        std::vector<uint32_t> thousand(1000);
        for (uint32_t i = 0; i < 1000; ++i) {
            thousand[i] = i;
        }
        c.rows = {{}, {1}, thousand};
        c.by_name = {{"first", {1, -2, 3}}, {"", {}}, {"big", {L64::min(), L64::max()}}};
        c.by_id = {{42, "answer"}};
        c.fixed = {0, 255, 65535};
        c.flags = {true, false, true};
        for (uint16_t i = 0; i < 20; ++i) {
            c.many.push_back(i);
            c.wide[static_cast<uint8_t>(i)] = static_cast<int8_t>(-i);
        }
        return c;
    }));
    out.push_back(vector<Collections>("collections-empty", [] {
        Collections c;
        c.fixed = {1, 2, 3};
        for (uint16_t i = 0; i < 15; ++i) {
            c.many.push_back(i);
            c.wide[static_cast<uint8_t>(i)] = static_cast<int8_t>(i);
        }
        return c;
    }));
    out.push_back(vector<Collections>("collections-large", [] {
        Collections c;
        for (uint32_t i = 0; i < 70000; ++i) {
            c.many.push_back(static_cast<uint16_t>(i));
        }
        for (int i = 0; i <= 255; ++i) {
            c.wide[static_cast<uint8_t>(i)] = static_cast<int8_t>(static_cast<uint8_t>(i));
        }
        return c;
    }));
    out.push_back(vector<Collections>("collections-hashmap~unordered", [] {
        Collections c;
        for (uint32_t i = 0; i < 100; ++i) {
            c.by_id[i * 7] = "v" + std::to_string(i);
        }
        return c;
    }));
    out.push_back(vector<Tuples>("tuples", [] { return tuples(); }));
    out.push_back(vector<Unit>("unit", [] { return Unit{}; }));
    out.push_back(vector<Newtype>("newtype", [] { return Newtype{uint64_t{1} << 40}; }));
    out.push_back(vector<Newtype>("newtype-small", [] { return Newtype{5}; }));
    out.push_back(vector<Modes>("modes", [] {
        return Modes{Mode::Square, {Mode::Sine, Mode::Square, Mode::Saw}, Level::high};
    }));
    out.push_back(vector<Shapes>("shapes", [] {
        Shapes s;
        s.items.push_back(shape(Empty{}));
        s.items.push_back(shape(Circle{2.5f}));
        s.items.push_back(shape(Point{-1, 1}));
        s.items.push_back(shape(Rect{640, 480}));
        Group inner;
        inner.items.push_back(shape(Circle{1.0f}));
        Group outer;
        outer.items.push_back(shape(Empty{}));
        outer.items.push_back(shape(std::move(inner)));
        s.items.push_back(shape(std::move(outer)));
        return s;
    }));
    out.push_back(vector<Values>("values", [] {
        Values v;
        v.items.emplace_back(int64_t{-5});
        v.items.emplace_back(int64_t{1} << 33);
        v.items.emplace_back(std::string("hi"));
        v.items.emplace_back(true);
        v.items.emplace_back(std::monostate{});
        return v;
    }));
    out.push_back(vector<NoteOn>("note-on", [] { return NoteOn{0, 60, 0.8f}; }));
    out.push_back(vector<Chain>("chain", [] { return chain(20); }));
    out.push_back(vector<Everything>("everything", [] {
        Everything e;
        e.shapes = std::vector<Shape>{};
        e.shapes->push_back(shape(Rect{1, 2}));
        e.shapes->push_back(shape(Empty{}));
        e.table["a"] = tuples();
        e.table["b"] = std::nullopt;
        e.blobs.push_back(std::nullopt);
        e.blobs.push_back(blobs(9));
        e.nested = {{}, {std::nullopt, WireValue(std::monostate{}), WireValue(int64_t{0})}};
        e.chain = chain(3);
        e.id = Newtype{0};
        e.pairs[1] = {"one", Mode::Saw};
        return e;
    }));
    out.push_back(vector<Everything>("everything-default", [] { return Everything{}; }));
    return out;
}

namespace {

template <class T>
ipc_result decode_one(ipc::Decoder& d) {
    T value{};
    return ipc::decode_payload(d, value);
}

template <class T>
ipc_result echo_one(ipc::Decoder& d, ipc::Writer& w, const ipc::Header& h) {
    T value{};
    if (ipc_result r = ipc::decode_payload(d, value); r != IPC_OK) {
        return r;
    }
    return w.send(std::nothrow, value, h.correlation, ipc::flag_reply);
}

}  // namespace

#define WIRE_EACH_TYPE(X) \
    X(1, Scalars) X(2, Text) X(3, Blobs) X(4, Collections) X(5, Tuples) X(6, Unit) X(7, Newtype) \
    X(8, Modes) X(9, Shapes) X(10, Values) X(11, NoteOn) X(12, Chain) X(13, Everything)

ipc_result decode_with(uint32_t id, ipc::Decoder& d) {
    switch (id) {
#define WIRE_CASE(n, T) \
    case n: return decode_one<T>(d);
        WIRE_EACH_TYPE(WIRE_CASE)
#undef WIRE_CASE
    default: return d.fail(IPC_INVALID_ARGUMENT, "unknown message ID");
    }
}

ipc_result echo(ipc::Decoder& d, ipc::Writer& w, const ipc::Header& h) {
    switch (h.id) {
#define WIRE_CASE(n, T) \
    case n: return echo_one<T>(d, w, h);
        WIRE_EACH_TYPE(WIRE_CASE)
#undef WIRE_CASE
    default: return d.fail(IPC_INVALID_ARGUMENT, "unknown message ID");
    }
}

ipc_result decode_as(uint32_t id, const std::vector<uint8_t>& bytes, const char*& reason, uint32_t max_depth) {
    ipc::Decoder d(bytes.data(), bytes.size(), max_depth);
    ipc_result r = decode_with(id, d);
    reason = d.reason();
    return r;
}

std::string harness_hex(const std::vector<uint8_t>& bytes) {
    std::string s;
    static const char digits[] = "0123456789abcdef";
    for (uint8_t b : bytes) {
        s.push_back(digits[b >> 4]);
        s.push_back(digits[b & 15]);
    }
    return s;
}

}  // namespace wire
