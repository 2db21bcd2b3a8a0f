/*
 * ipc.hpp: a header-only C++17 layer over ipc.h (the C interface of
 * libipc), using the standard library only.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * What it adds to ipc.h:
 *
 *  - RAII handles: Segment, Writer, Reader, Region (Layers I and II), Host,
 *    Plugin, RtCaller, RtServer (Layer III), and the borrowed views
 *    MainLink, Incoming and Audio. Owning handles are move-only.
 *  - Errors as exceptions (ipc::Error: the ipc_result and the library's
 *    text) and, for the audio thread, overloads taking `std::nothrow` first
 *    that return the ipc_result or an ipc::Result<T>. Those never throw
 *    and allocate nothing of their own.
 *  - MessagePack serialisation byte-identical to Rust's serde + rmp-serde
 *    (docs/PROTOCOL.md), encoded straight into ring memory and decoded
 *    straight out of it, with a decoder as strict with hostile input as
 *    the Rust one (every claimed length checked against the payload left
 *    before anything is allocated or looped over; nesting depth limited).
 *
 * Type mapping (C++ -> MessagePack -> Rust):
 *
 *   bool                              bool            bool
 *   signed/unsigned integers          smallest int    i8..i64 / u8..u64
 *                                     format; signed
 *                                     values >= 0 as
 *                                     unsigned
 *   float / double                    float 32 / 64   f32 / f64
 *   char32_t                          str (1 char)    char
 *   std::string, std::string_view*    str             String / &str
 *   std::vector<uint8_t>,             bin             Vec<u8> with
 *     std::vector<std::byte>,                          #[serde(with =
 *     ipc::Bytes*                                      "serde_bytes")]
 *   std::vector<T>, ipc::Span<T>*     array           Vec<T>
 *   std::array<T, N>                  array           [T; N]
 *   std::pair, std::tuple             array           tuples
 *   std::optional<T>                  nil or value    Option<T>
 *   std::unique_ptr<T>                nil or value    Option<Box<T>>
 *   std::map, std::unordered_map      map             BTreeMap, HashMap
 *   std::monostate                    nil             ()
 *   struct with IPC_FIELDS/IPC_MESSAGE array of fields struct, tuple struct
 *   struct with IPC_NEWTYPE           the field       newtype struct
 *   struct with IPC_UNIT              empty array     unit struct
 *   enum (default)                    its underlying  an integer of that
 *                                     integer         size
 *   enum with IPC_ENUM                variant name    enum of unit
 *                                     (str)           variants
 *   std::variant<...>                 unit: name;     enum with data
 *                                     else {name: v}
 *   (* encode only: a view cannot be decoded into)
 *
 * Not mapped: plain `char`, wchar_t, char16_t (say int8_t/uint8_t or
 * char32_t), long double, and 128-bit integers. Other types map through a
 * specialisation of ipc::Codec<T>.
 *
 * Decoding accepts what the Rust decoder accepts besides: a struct as a
 * map of field names (or indices), trailing array elements after the last
 * field or element a struct, tuple or std::array knows (skipped), enum
 * variants by index, `{name: nil}` for a unit variant, integers for
 * floating-point fields, an array of integers for a byte string, and a
 * byte string of UTF-8 for a string. A payload must be used up exactly by
 * its value.
 *
 * Threads: a handle is used by one thread at a time unless ipc.h says its
 * functions are thread-safe (MainLink's are). Callbacks into C++ (handlers,
 * reply callbacks, setup) catch every exception at the C boundary.
 */

#ifndef IPC_HPP
#define IPC_HPP

#include "ipc.h"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace ipc {

// ---------------------------------------------------------------------------
// Results, errors, timeouts, views
// ---------------------------------------------------------------------------

/// The fixed text of a result code (static; never NULL).
inline const char* result_str(ipc_result code) noexcept {
    return ipc_result_str(static_cast<uint32_t>(code));
}

/// The calling thread's last error description (what the last failing
/// library call on this thread said). Allocates: not for the audio thread.
inline std::string last_error() {
    std::array<uint8_t, 512> small{};
    size_t len = 0;
    ipc_result r = ipc_last_error(small.data(), small.size(), &len);
    if (r == IPC_OK) {
        return std::string(reinterpret_cast<const char*>(small.data()), len);
    }
    if (r != IPC_BUFFER_TOO_SMALL) {
        return {};
    }
    std::string text(len, '\0');
    size_t again = 0;
    ipc_last_error(reinterpret_cast<uint8_t*>(&text[0]), text.size(), &again);
    text.resize(again < text.size() ? again : text.size());
    return text;
}

/// A failed call: its ipc_result and a description.
class Error : public std::runtime_error {
public:
    /// An error of `code`, described by `detail` (the library's or this
    /// layer's text; may be empty).
    Error(ipc_result code, const std::string& detail)
        : std::runtime_error(compose(code, detail)), code_(code) {}

    /// The result code (never IPC_OK).
    ipc_result code() const noexcept { return code_; }

private:
    static std::string compose(ipc_result code, const std::string& detail) {
        std::string text = result_str(code);
        if (detail.empty() || detail == text) {
            return text;
        }
        if (detail.compare(0, text.size(), text) == 0) {
            return detail;  // the library's text names the code already
        }
        return text + ": " + detail;
    }

    ipc_result code_;
};

namespace detail {

/// Throws `code` with the thread's last error text, or `reason` if this
/// layer knows better (its own callback failed).
[[noreturn]] inline void raise(ipc_result code, const char* reason = nullptr) {
    if (reason != nullptr) {
        throw Error(code, reason);
    }
    throw Error(code, last_error());
}

inline void check(ipc_result code) {
    if (code != IPC_OK) {
        raise(code);
    }
}

inline ipc_result to_result(uint32_t code) noexcept { return static_cast<ipc_result>(code); }

}  // namespace detail

/// A value or the ipc_result that says why there is none: what the
/// non-throwing (`std::nothrow`) calls return. Allocates nothing itself.
template <class T>
class Result {
public:
    /// A success holding `value`.
    Result(T value) : value_(std::move(value)), code_(IPC_OK) {}  // NOLINT: implicit on purpose
    /// A failure (`code` is not IPC_OK).
    Result(ipc_result code) noexcept : code_(code) {}  // NOLINT: implicit on purpose

    /// Whether it holds a value.
    bool ok() const noexcept { return code_ == IPC_OK; }
    explicit operator bool() const noexcept { return ok(); }
    /// IPC_OK, or why it failed.
    ipc_result code() const noexcept { return code_; }

    /// The value; throws ipc::Error if there is none.
    T& value() & {
        if (!ok()) {
            throw Error(code_, "");
        }
        return *value_;
    }
    const T& value() const& {
        if (!ok()) {
            throw Error(code_, "");
        }
        return *value_;
    }
    T&& value() && { return std::move(value()); }
    /// The value, unchecked (the caller checked ok()).
    T& operator*() noexcept { return *value_; }
    const T& operator*() const noexcept { return *value_; }
    T* operator->() noexcept { return &*value_; }
    const T* operator->() const noexcept { return &*value_; }

private:
    std::optional<T> value_;
    ipc_result code_;
};

/// Wait as long as it takes (a Timeout).
struct Forever {};
inline constexpr Forever forever{};

/// How long a call may wait: any std::chrono duration (zero or less: not
/// at all), or ipc::forever.
class Timeout {
public:
    /// No bound.
    constexpr Timeout(Forever) noexcept : ns_(IPC_FOREVER) {}  // NOLINT: implicit on purpose
    /// At most `d` (clamped to what the C interface can say).
    template <class Rep, class Period>
    constexpr Timeout(std::chrono::duration<Rep, Period> d) noexcept  // NOLINT: implicit on purpose
        : ns_(to_ns(d)) {}

    /// In nanoseconds, as the C interface takes it (IPC_FOREVER: no bound).
    constexpr uint64_t ns() const noexcept { return ns_; }

    /// A duration as nanoseconds for the C interface.
    template <class Rep, class Period>
    static constexpr uint64_t to_ns(std::chrono::duration<Rep, Period> d) noexcept {
        if (d <= d.zero()) {
            return 0;
        }
        using LongNs = std::chrono::duration<long double, std::nano>;
        if (std::chrono::duration_cast<LongNs>(d).count() >= 18446744073709551615.0L) {
            return IPC_FOREVER - 1;
        }
        return std::chrono::duration_cast<std::chrono::duration<uint64_t, std::nano>>(d).count();
    }

private:
    uint64_t ns_;
};

/// A pointer and a length: a view of contiguous elements (C++17 has no
/// std::span). Encodes as an array, or as `bin` for bytes; never decoded.
template <class T>
class Span {
public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;

    constexpr Span() noexcept = default;
    constexpr Span(T* data, size_t size) noexcept : data_(data), size_(size) {}
    template <size_t N>
    constexpr Span(T (&array)[N]) noexcept : data_(array), size_(N) {}  // NOLINT: implicit on purpose
    /// Any contiguous container with data() and size() (vector, array,
    /// string), or a Span of non-const elements.
    template <class C,
              class = std::enable_if_t<
                  std::is_convertible_v<decltype(std::declval<C&>().data()), T*> &&
                  !std::is_same_v<std::remove_cv_t<C>, Span>>>
    constexpr Span(C& container) noexcept  // NOLINT: implicit on purpose
        : data_(container.data()), size_(container.size()) {}

    constexpr T* data() const noexcept { return data_; }
    constexpr size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T* begin() const noexcept { return data_; }
    constexpr T* end() const noexcept { return data_ + size_; }
    /// Unchecked, as std::span's.
    constexpr T& operator[](size_t i) const noexcept { return data_[i]; }

private:
    T* data_ = nullptr;
    size_t size_ = 0;
};

/// A view of bytes, encoded as MessagePack `bin` (what serde_bytes reads).
using Bytes = Span<const uint8_t>;

/// A message's envelope (ID, correlation number, flags, payload length).
using Header = ipc_header;

/// The sender expects a reply (Header::flags).
inline constexpr uint8_t flag_request = IPC_FLAG_REQUEST;
/// This answers the request with the same correlation number.
inline constexpr uint8_t flag_reply = IPC_FLAG_REPLY;
/// The request failed (with flag_reply).
inline constexpr uint8_t flag_error = IPC_FLAG_ERROR;

/// Bounds on incoming messages (ipc_limits with a std::chrono timeout).
struct Limits {
    /// Largest payload accepted, in bytes.
    uint32_t max_message;
    /// Deepest nesting of arrays, maps, variants and options.
    uint32_t max_depth;
    /// How long the rest of a message may take once its envelope arrived
    /// (std::nullopt: no bound).
    std::optional<std::chrono::nanoseconds> payload_timeout;

    /// The library's defaults (256 MiB, depth 64, 10 s).
    Limits() noexcept {
        ipc_limits c{};
        ipc_limits_default(&c);
        *this = Limits(c);
    }
    /// From the C struct.
    explicit Limits(const ipc_limits& c) noexcept
        : max_message(c.max_message), max_depth(c.max_depth) {
        if (c.payload_timeout_ns != IPC_FOREVER) {
            payload_timeout = std::chrono::nanoseconds(
                static_cast<std::chrono::nanoseconds::rep>(c.payload_timeout_ns > INT64_MAX ? INT64_MAX : c.payload_timeout_ns));
        }
    }
    /// As the C struct.
    ipc_limits c() const noexcept {
        return ipc_limits{max_message, max_depth,
                          payload_timeout ? Timeout(*payload_timeout).ns() : IPC_FOREVER};
    }
};

/// Sizes and bounds of a link (ipc_config with std::chrono timeouts).
struct Config {
    /// Ring size of each main-link channel (a power of two, 64 B to 1 GiB).
    size_t main_capacity;
    /// Ring size of each real-time channel.
    size_t rt_capacity;
    /// How long the handshake may take.
    std::chrono::nanoseconds connect_timeout;
    /// How long a main-link send may wait for ring space.
    std::chrono::nanoseconds send_timeout;
    /// Whether Host::spawn also appends the connection string to the
    /// plugin's arguments (it is always in IPC_LINK_CONNECTION).
    bool connection_argument;
    /// Bounds on incoming messages.
    Limits limits;

    /// The library's defaults (1 MiB and 64 KiB rings, 10 s timeouts).
    Config() noexcept {
        ipc_config c{};
        ipc_config_default(&c);
        main_capacity = c.main_capacity;
        rt_capacity = c.rt_capacity;
        connect_timeout = ns(c.connect_timeout_ns);
        send_timeout = ns(c.send_timeout_ns);
        connection_argument = c.connection_argument;
        limits = Limits(c.limits);
    }
    /// As the C struct.
    ipc_config c() const noexcept {
        return ipc_config{main_capacity,
                          rt_capacity,
                          Timeout(connect_timeout).ns(),
                          Timeout(send_timeout).ns(),
                          connection_argument,
                          limits.c()};
    }

private:
    static std::chrono::nanoseconds ns(uint64_t v) noexcept {
        return std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(v > INT64_MAX ? INT64_MAX : v));
    }
};

/// Gives the calling thread real-time scheduling (see
/// ipc_promote_current_thread). Not real-time safe itself.
inline ipc_result promote_current_thread(uint8_t priority) noexcept {
    return ipc_promote_current_thread(priority);
}

// ---------------------------------------------------------------------------
// MessagePack encoding
// ---------------------------------------------------------------------------

/// Writes MessagePack value by value, in the smallest formats (as
/// rmp-serde writes them), into one of: the ring memory of an encode
/// callback (ipc_encoder: zero-copy, through a local window of the current
/// span, refilled when it runs out), a caller's fixed buffer, or a vector.
/// Every call returns IPC_OK or why it failed (then reason() says more);
/// none throws, and none allocates except into a vector.
class Encoder {
public:
    /// Into the payload of an encode callback; call finish() at its end.
    explicit Encoder(ipc_encoder* encoder) noexcept : c_(encoder) {}
    /// Into `capacity` bytes at `buffer` (IPC_BUFFER_TOO_SMALL past them).
    Encoder(void* buffer, size_t capacity) noexcept
        : pos_(static_cast<uint8_t*>(buffer)), end_(pos_ + capacity), span_(pos_) {}
    /// Appending to `out` (allocates).
    explicit Encoder(std::vector<uint8_t>& out) noexcept : vec_(&out) {}

    Encoder(const Encoder&) = delete;
    Encoder& operator=(const Encoder&) = delete;

    ipc_result write_nil() noexcept { return head1(0xc0); }
    ipc_result write_bool(bool v) noexcept { return head1(v ? 0xc3 : 0xc2); }

    /// A non-negative integer in the smallest format.
    ipc_result write_uint(uint64_t v) noexcept {
        uint8_t b[9];
        size_t n;
        if (v < 128) {
            b[0] = static_cast<uint8_t>(v);
            n = 1;
        } else if (v < 256) {
            b[0] = 0xcc;
            n = 1 + be(b + 1, v, 1);
        } else if (v < 65536) {
            b[0] = 0xcd;
            n = 1 + be(b + 1, v, 2);
        } else if (v <= 0xffffffffu) {
            b[0] = 0xce;
            n = 1 + be(b + 1, v, 4);
        } else {
            b[0] = 0xcf;
            n = 1 + be(b + 1, v, 8);
        }
        return emit(b, n);
    }

    /// An integer in the smallest format (non-negative ones as unsigned).
    ipc_result write_int(int64_t v) noexcept {
        if (v >= 0) {
            return write_uint(static_cast<uint64_t>(v));
        }
        uint8_t b[9];
        size_t n;
        const uint64_t bits = static_cast<uint64_t>(v);
        if (v >= -32) {
            b[0] = static_cast<uint8_t>(bits);
            n = 1;
        } else if (v >= -128) {
            b[0] = 0xd0;
            n = 1 + be(b + 1, bits, 1);
        } else if (v >= -32768) {
            b[0] = 0xd1;
            n = 1 + be(b + 1, bits, 2);
        } else if (v >= -2147483647 - 1) {
            b[0] = 0xd2;
            n = 1 + be(b + 1, bits, 4);
        } else {
            b[0] = 0xd3;
            n = 1 + be(b + 1, bits, 8);
        }
        return emit(b, n);
    }

    /// A `float 32` (bit for bit).
    ipc_result write_f32(float v) noexcept {
        uint32_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        uint8_t b[5] = {0xca};
        be(b + 1, bits, 4);
        return emit(b, 5);
    }

    /// A `float 64` (bit for bit).
    ipc_result write_f64(double v) noexcept {
        uint64_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        uint8_t b[9] = {0xcb};
        be(b + 1, bits, 8);
        return emit(b, 9);
    }

    /// A string (its bytes as given: the receiver checks they are UTF-8).
    ipc_result write_str(std::string_view s) noexcept {
        if (s.size() > 0xffffffffu) {
            return fail(IPC_ENCODE, "a string longer than 4 GiB");
        }
        uint8_t b[5];
        size_t n;
        const uint64_t len = s.size();
        if (len < 32) {
            b[0] = static_cast<uint8_t>(0xa0 | len);
            n = 1;
        } else if (len < 256) {
            b[0] = 0xd9;
            n = 1 + be(b + 1, len, 1);
        } else if (len < 65536) {
            b[0] = 0xda;
            n = 1 + be(b + 1, len, 2);
        } else {
            b[0] = 0xdb;
            n = 1 + be(b + 1, len, 4);
        }
        if (ipc_result r = emit(b, n); r != IPC_OK) {
            return r;
        }
        return write_raw(s.data(), s.size());
    }

    /// A byte string (MessagePack `bin`).
    ipc_result write_bin(const void* data, size_t size) noexcept {
        if (size > 0xffffffffu) {
            return fail(IPC_ENCODE, "a byte string longer than 4 GiB");
        }
        uint8_t b[5];
        size_t n;
        if (size < 256) {
            b[0] = 0xc4;
            n = 1 + be(b + 1, size, 1);
        } else if (size < 65536) {
            b[0] = 0xc5;
            n = 1 + be(b + 1, size, 2);
        } else {
            b[0] = 0xc6;
            n = 1 + be(b + 1, size, 4);
        }
        if (ipc_result r = emit(b, n); r != IPC_OK) {
            return r;
        }
        return write_raw(data, size);
    }

    /// The head of an array of `count` values (which follow).
    ipc_result write_array(size_t count) noexcept { return container(count, 0x90, 0xdc); }
    /// The head of a map of `count` key-value pairs (which follow).
    ipc_result write_map(size_t count) noexcept { return container(count, 0x80, 0xde); }

    /// Bytes as they are (pre-encoded MessagePack).
    ipc_result write_raw(const void* data, size_t size) noexcept {
        const uint8_t* p = static_cast<const uint8_t*>(data);
        if (vec_ != nullptr) {
            try {
                vec_->insert(vec_->end(), p, p + size);
            } catch (...) {
                return fail(IPC_ENCODE, "out of memory");
            }
            return IPC_OK;
        }
        while (size > 0) {
            if (pos_ == end_) {
                if (ipc_result r = refill(); r != IPC_OK) {
                    return r;
                }
            }
            size_t k = static_cast<size_t>(end_ - pos_);
            k = k < size ? k : size;
            std::memcpy(pos_, p, k);
            pos_ += k;
            p += k;
            size -= k;
        }
        return IPC_OK;
    }

    /// Hands what was written in the current span to the library (the end
    /// of an encode callback). Harmless elsewhere.
    ipc_result finish() noexcept {
        if (c_ != nullptr && pos_ != span_) {
            const size_t n = static_cast<size_t>(pos_ - span_);
            if (ipc_result r = ipc_encoder_advance(c_, n); r != IPC_OK) {
                return fail(r, nullptr);
            }
            done_ += n;
            span_ = pos_;
        }
        return IPC_OK;
    }

    /// Bytes written so far.
    size_t written() const noexcept {
        return vec_ != nullptr ? vec_->size() : done_ + static_cast<size_t>(pos_ - span_);
    }

    /// Why the last call failed (static text), or nullptr if the library
    /// said it (see ipc::last_error).
    const char* reason() const noexcept { return reason_; }

    /// Records a failure of `code` for `reason` and returns `code` (for
    /// Codec implementations).
    ipc_result fail(ipc_result code, const char* reason) noexcept {
        reason_ = reason;
        return code;
    }

private:
    static size_t be(uint8_t* out, uint64_t v, size_t n) noexcept {
        for (size_t i = 0; i < n; ++i) {
            out[i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
        }
        return n;
    }

    ipc_result container(size_t count, uint8_t fix, uint8_t marker16) noexcept {
        if (count > 0xffffffffu) {
            return fail(IPC_ENCODE, "more than 2^32 - 1 elements");
        }
        uint8_t b[5];
        size_t n;
        if (count < 16) {
            b[0] = static_cast<uint8_t>(fix | count);
            n = 1;
        } else if (count < 65536) {
            b[0] = marker16;
            n = 1 + be(b + 1, count, 2);
        } else {
            b[0] = static_cast<uint8_t>(marker16 + 1);
            n = 1 + be(b + 1, count, 4);
        }
        return emit(b, n);
    }

    ipc_result head1(uint8_t b) noexcept { return emit(&b, 1); }

    /// A value head: straight into the window when it fits, else across
    /// spans.
    ipc_result emit(const uint8_t* b, size_t n) noexcept {
        if (static_cast<size_t>(end_ - pos_) >= n) {
            std::memcpy(pos_, b, n);
            pos_ += n;
            return IPC_OK;
        }
        return write_raw(b, n);
    }

    ipc_result refill() noexcept {
        if (c_ == nullptr) {
            return fail(IPC_BUFFER_TOO_SMALL, "the buffer is full");
        }
        if (ipc_result r = finish(); r != IPC_OK) {
            return r;
        }
        uint8_t* span = nullptr;
        size_t len = 0;
        if (ipc_result r = ipc_encoder_span(c_, &span, &len); r != IPC_OK) {
            return fail(r, nullptr);
        }
        if (len == 0) {
            return fail(IPC_ENCODE, "the payload outgrew its message");
        }
        span_ = pos_ = span;
        end_ = span + len;
        return IPC_OK;
    }

    ipc_encoder* c_ = nullptr;
    std::vector<uint8_t>* vec_ = nullptr;
    uint8_t* pos_ = nullptr;
    uint8_t* end_ = nullptr;
    uint8_t* span_ = nullptr;
    size_t done_ = 0;
    const char* reason_ = nullptr;
};

// ---------------------------------------------------------------------------
// MessagePack decoding
// ---------------------------------------------------------------------------

/// What a value head is.
enum class Kind : uint32_t {
    nil = IPC_TOKEN_NIL,
    boolean = IPC_TOKEN_BOOL,
    uint = IPC_TOKEN_UINT,
    sint = IPC_TOKEN_INT,
    f32 = IPC_TOKEN_F32,
    f64 = IPC_TOKEN_F64,
    str = IPC_TOKEN_STR,
    bin = IPC_TOKEN_BIN,
    array = IPC_TOKEN_ARRAY,
    map = IPC_TOKEN_MAP,
};

/// The head of one MessagePack value; the field that goes with `kind`
/// holds its value (`len` for str, bin, array and map).
struct Token {
    Kind kind = Kind::nil;
    bool boolean = false;
    uint64_t uint = 0;
    int64_t sint = 0;
    double real = 0;
    uint32_t len = 0;
};

/// Reads MessagePack from a payload: the in-place chunks of a decode
/// callback (ipc_decoder), or bytes in memory. Untrusted input: every
/// length is checked against the bytes left before anything acts on it,
/// nesting is limited, and every call returns IPC_OK or why it failed (then
/// reason() says more). None throws or allocates.
class Decoder {
public:
    /// The Rust side's default nesting limit.
    static constexpr uint32_t default_max_depth = 64;

    /// Over the payload of a decode callback; call finish() at its end.
    explicit Decoder(ipc_decoder* decoder, uint32_t max_depth = default_max_depth) noexcept
        : c_(decoder), depth_left_(max_depth) {
        size_t left = 0;
        if (decoder != nullptr && ipc_decoder_remaining(decoder, &left) == IPC_OK) {
            left_ = left;
        }
    }
    /// Over the payload of a decode callback that has consumed nothing yet,
    /// whose envelope says it is `payload_len` bytes (no call into the
    /// library to ask: the callbacks of the typed calls use this).
    Decoder(ipc_decoder* decoder, size_t payload_len, uint32_t max_depth) noexcept
        : c_(decoder), left_(decoder != nullptr ? payload_len : 0), depth_left_(max_depth) {}
    /// Over `size` bytes at `data`.
    Decoder(const void* data, size_t size, uint32_t max_depth = default_max_depth) noexcept
        : pos_(static_cast<const uint8_t*>(data)),
          end_(pos_ + size),
          chunk_(pos_),
          left_(size),
          depth_left_(max_depth) {}

    Decoder(const Decoder&) = delete;
    Decoder& operator=(const Decoder&) = delete;

    /// Payload bytes not yet read.
    size_t remaining() const noexcept { return left_; }
    /// Nesting levels still allowed.
    uint32_t depth_left() const noexcept { return depth_left_; }

    /// The next byte, not consumed.
    ipc_result peek(uint8_t& byte) noexcept {
        if (left_ == 0) {
            return fail(IPC_MALFORMED, "the payload ended inside a value");
        }
        if (pos_ == end_) {
            if (ipc_result r = refill(); r != IPC_OK) {
                return r;
            }
        }
        byte = *pos_;
        return IPC_OK;
    }

    /// The next byte.
    ipc_result read_byte(uint8_t& byte) noexcept {
        if (ipc_result r = peek(byte); r != IPC_OK) {
            return r;
        }
        ++pos_;
        --left_;
        return IPC_OK;
    }

    /// The next `size` bytes, copied.
    ipc_result read(void* out, size_t size) noexcept {
        uint8_t* o = static_cast<uint8_t*>(out);
        return read_chunks(size, [&](const uint8_t* p, size_t n) noexcept {
            std::memcpy(o, p, n);
            o += n;
        });
    }

    /// Hands the next `size` bytes to `sink(const uint8_t*, size_t)` in
    /// place, chunk by chunk (a string's bytes as they arrive).
    template <class Sink>
    ipc_result read_chunks(size_t size, Sink&& sink) {
        if (size > left_) {
            return fail(IPC_MALFORMED, "the payload ended inside a value");
        }
        while (size > 0) {
            if (pos_ == end_) {
                if (ipc_result r = refill(); r != IPC_OK) {
                    return r;
                }
            }
            size_t k = static_cast<size_t>(end_ - pos_);
            k = k < size ? k : size;
            sink(pos_, k);
            pos_ += k;
            left_ -= k;
            size -= k;
        }
        return IPC_OK;
    }

    /// Skips `size` raw bytes.
    ipc_result skip(size_t size) noexcept {
        return read_chunks(size, [](const uint8_t*, size_t) noexcept {});
    }

    /// The head of the next value. A length it announces has been checked
    /// against the bytes left (a str or bin must fit; an array element takes
    /// at least one byte, a map entry two).
    ipc_result read_token(Token& t) noexcept {
        uint8_t m = 0;
        if (ipc_result r = read_byte(m); r != IPC_OK) {
            return r;
        }
        t = Token{};
        uint64_t v = 0;
        ipc_result r = IPC_OK;
        if (m <= 0x7f) {
            t.kind = Kind::uint;
            t.uint = m;
        } else if (m <= 0x8f) {
            t.kind = Kind::map;
            t.len = m & 0x0fu;
        } else if (m <= 0x9f) {
            t.kind = Kind::array;
            t.len = m & 0x0fu;
        } else if (m <= 0xbf) {
            t.kind = Kind::str;
            t.len = m & 0x1fu;
        } else if (m >= 0xe0) {
            t.kind = Kind::sint;
            t.sint = static_cast<int8_t>(m);
        } else {
            switch (m) {
            case 0xc0: t.kind = Kind::nil; break;
            case 0xc2: t.kind = Kind::boolean; t.boolean = false; break;
            case 0xc3: t.kind = Kind::boolean; t.boolean = true; break;
            case 0xc4: case 0xc5: case 0xc6:
                r = be(v, size_t(1) << (m - 0xc4));
                t.kind = Kind::bin;
                t.len = static_cast<uint32_t>(v);
                break;
            case 0xca: {
                r = be(v, 4);
                uint32_t bits = static_cast<uint32_t>(v);
                float f;
                std::memcpy(&f, &bits, sizeof f);
                t.kind = Kind::f32;
                t.real = f;
                break;
            }
            case 0xcb: {
                r = be(v, 8);
                double f;
                std::memcpy(&f, &v, sizeof f);
                t.kind = Kind::f64;
                t.real = f;
                break;
            }
            case 0xcc: case 0xcd: case 0xce: case 0xcf:
                r = be(v, size_t(1) << (m - 0xcc));
                t.kind = Kind::uint;
                t.uint = v;
                break;
            case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
                const size_t n = size_t(1) << (m - 0xd0);
                r = be(v, n);
                t.kind = Kind::sint;
                t.sint = sign_extend(v, n);
                if (t.sint >= 0) {
                    // Not the smallest format, but a valid integer.
                    t.kind = Kind::uint;
                    t.uint = static_cast<uint64_t>(t.sint);
                }
                break;
            }
            case 0xd9: case 0xda: case 0xdb:
                r = be(v, size_t(1) << (m - 0xd9));
                t.kind = Kind::str;
                t.len = static_cast<uint32_t>(v);
                break;
            case 0xdc: case 0xdd:
                r = be(v, m == 0xdc ? 2 : 4);
                t.kind = Kind::array;
                t.len = static_cast<uint32_t>(v);
                break;
            case 0xde: case 0xdf:
                r = be(v, m == 0xde ? 2 : 4);
                t.kind = Kind::map;
                t.len = static_cast<uint32_t>(v);
                break;
            case 0xc1:
                return fail(IPC_MALFORMED, "marker 0xc1 is never used");
            default:
                return fail(IPC_MALFORMED, "extension types are not supported");
            }
        }
        if (r != IPC_OK) {
            return r;
        }
        uint64_t needed = 0;
        if (t.kind == Kind::str || t.kind == Kind::bin || t.kind == Kind::array) {
            needed = t.len;
        } else if (t.kind == Kind::map) {
            needed = 2 * uint64_t{t.len};
        }
        if (needed > left_) {
            return fail(IPC_MALFORMED, "a length longer than the payload left");
        }
        return IPC_OK;
    }

    /// Skips one whole value, nested ones included (extension values too,
    /// as the Rust decoder skips them), within the nesting limit (and never
    /// more than 128 levels). Allocates nothing; no recursion.
    ipc_result skip_value() noexcept {
        constexpr size_t most = 128;
        const size_t limit = depth_left_ < most ? depth_left_ : most;
        uint64_t open[most];
        size_t depth = 0;
        uint64_t pending = 1;
        for (;;) {
            if (pending == 0) {
                if (depth == 0) {
                    return IPC_OK;
                }
                pending = open[--depth];
                continue;
            }
            --pending;
            uint8_t m = 0;
            if (ipc_result r = read_byte(m); r != IPC_OK) {
                return r;
            }
            uint64_t inner = 0;
            uint64_t bytes = 0;
            ipc_result r = IPC_OK;
            if (m <= 0x7f || m >= 0xe0 || m == 0xc0 || m == 0xc2 || m == 0xc3) {
            } else if (m <= 0x8f) {
                inner = 2 * uint64_t{m & 0x0fu};
            } else if (m <= 0x9f) {
                inner = m & 0x0fu;
            } else if (m <= 0xbf) {
                bytes = m & 0x1fu;
            } else {
                switch (m) {
                case 0xc4: case 0xd9: r = be(bytes, 1); break;
                case 0xc5: case 0xda: r = be(bytes, 2); break;
                case 0xc6: case 0xdb: r = be(bytes, 4); break;
                case 0xc7: r = be(bytes, 1); bytes += 1; break;
                case 0xc8: r = be(bytes, 2); bytes += 1; break;
                case 0xc9: r = be(bytes, 4); bytes += 1; break;
                case 0xca: case 0xce: case 0xd2: bytes = 4; break;
                case 0xcb: case 0xcf: case 0xd3: bytes = 8; break;
                case 0xcc: case 0xd0: bytes = 1; break;
                case 0xcd: case 0xd1: bytes = 2; break;
                case 0xd4: bytes = 2; break;
                case 0xd5: bytes = 3; break;
                case 0xd6: bytes = 5; break;
                case 0xd7: bytes = 9; break;
                case 0xd8: bytes = 17; break;
                case 0xdc: r = be(inner, 2); break;
                case 0xdd: r = be(inner, 4); break;
                case 0xde: r = be(inner, 2); inner *= 2; break;
                case 0xdf: r = be(inner, 4); inner *= 2; break;
                default: return fail(IPC_MALFORMED, "marker 0xc1 is never used");
                }
            }
            if (r != IPC_OK) {
                return r;
            }
            if (bytes > 0) {
                if (bytes > left_) {
                    return fail(IPC_MALFORMED, "a length longer than the payload left");
                }
                if (ipc_result s = skip(static_cast<size_t>(bytes)); s != IPC_OK) {
                    return s;
                }
            }
            if (inner > 0) {
                if (inner > left_) {
                    return fail(IPC_MALFORMED, "a length longer than the payload left");
                }
                if (depth >= limit) {
                    return fail(IPC_MALFORMED, "nesting deeper than the limit");
                }
                open[depth++] = pending;
                pending = inner;
            }
        }
    }

    /// Runs `f()` (returning an ipc_result) one nesting level deeper.
    template <class F>
    ipc_result nested(F&& f) {
        if (depth_left_ == 0) {
            return fail(IPC_MALFORMED, "nesting deeper than the limit");
        }
        --depth_left_;
        ipc_result r = f();
        ++depth_left_;
        return r;
    }

    /// Reads a variant or field identifier: a name among `names`, or an
    /// index. `index` gets its position, or `count` for a name that is
    /// none of them. No allocation: names are compared chunk by chunk.
    ipc_result read_identifier(const std::string_view* names, size_t count, size_t& index) noexcept {
        uint8_t m = 0;
        if (ipc_result r = peek(m); r != IPC_OK) {
            return r;
        }
        const bool name_or_index = m <= 0x7f || (m >= 0xa0 && m <= 0xbf) ||
                                   (m >= 0xcc && m <= 0xcf) || (m >= 0xd9 && m <= 0xdb);
        if (!name_or_index) {
            return fail(IPC_MALFORMED, "an identifier must be a name or an index");
        }
        Token t;
        if (ipc_result r = read_token(t); r != IPC_OK) {
            return r;
        }
        if (t.kind == Kind::uint) {
            index = t.uint < count ? static_cast<size_t>(t.uint) : count;
            return IPC_OK;
        }
        uint64_t alive = 0;
        for (size_t i = 0; i < count && i < 64; ++i) {
            if (names[i].size() == t.len) {
                alive |= uint64_t{1} << i;
            }
        }
        size_t offset = 0;
        ipc_result r = read_chunks(t.len, [&](const uint8_t* p, size_t n) noexcept {
            for (size_t i = 0; i < count && i < 64; ++i) {
                if ((alive >> i & 1u) != 0 && std::memcmp(names[i].data() + offset, p, n) != 0) {
                    alive &= ~(uint64_t{1} << i);
                }
            }
            offset += n;
        });
        if (r != IPC_OK) {
            return r;
        }
        index = count;
        for (size_t i = 0; i < count && i < 64; ++i) {
            if ((alive >> i & 1u) != 0) {
                index = i;
                break;
            }
        }
        return IPC_OK;
    }

    /// Hands the bytes read from the current chunk back to the library (the
    /// end of a decode callback). Harmless elsewhere.
    ipc_result finish() noexcept {
        if (c_ != nullptr && pos_ != chunk_) {
            if (ipc_result r = ipc_decoder_consume(c_, static_cast<size_t>(pos_ - chunk_)); r != IPC_OK) {
                return fail(r, nullptr);
            }
            chunk_ = pos_;
        }
        return IPC_OK;
    }

    /// Why the last call failed (static text), or nullptr if the library
    /// said it (see ipc::last_error).
    const char* reason() const noexcept { return reason_; }

    /// Records a failure of `code` for `reason` and returns `code` (for
    /// Codec implementations).
    ipc_result fail(ipc_result code, const char* reason) noexcept {
        reason_ = reason;
        return code;
    }

private:
    ipc_result be(uint64_t& v, size_t n) noexcept {
        // The usual case first: all of it in the current chunk.
        if (n <= left_ && static_cast<size_t>(end_ - pos_) >= n) {
            v = 0;
            for (size_t i = 0; i < n; ++i) {
                v = v << 8 | pos_[i];
            }
            pos_ += n;
            left_ -= n;
            return IPC_OK;
        }
        uint8_t b[8];
        if (ipc_result r = read(b, n); r != IPC_OK) {
            return r;
        }
        v = 0;
        for (size_t i = 0; i < n; ++i) {
            v = v << 8 | b[i];
        }
        return IPC_OK;
    }

    static int64_t sign_extend(uint64_t v, size_t n) noexcept {
        switch (n) {
        case 1: return static_cast<int8_t>(static_cast<uint8_t>(v));
        case 2: return static_cast<int16_t>(static_cast<uint16_t>(v));
        case 4: return static_cast<int32_t>(static_cast<uint32_t>(v));
        default: return static_cast<int64_t>(v);
        }
    }

    ipc_result refill() noexcept {
        if (c_ == nullptr) {
            return fail(IPC_MALFORMED, "the payload ended inside a value");
        }
        if (ipc_result r = finish(); r != IPC_OK) {
            return r;
        }
        const uint8_t* chunk = nullptr;
        size_t len = 0;
        if (ipc_result r = ipc_decoder_chunk(c_, &chunk, &len); r != IPC_OK) {
            return fail(r, nullptr);
        }
        if (len == 0) {
            return fail(IPC_MALFORMED, "the payload ended inside a value");
        }
        if (len > left_) {
            len = left_;
        }
        chunk_ = pos_ = chunk;
        end_ = chunk + len;
        return IPC_OK;
    }

    ipc_decoder* c_ = nullptr;
    const uint8_t* pos_ = nullptr;
    const uint8_t* end_ = nullptr;
    const uint8_t* chunk_ = nullptr;
    size_t left_ = 0;
    uint32_t depth_left_;
    const char* reason_ = nullptr;
};

// ---------------------------------------------------------------------------
// Type descriptions (what the IPC_* macros declare)
// ---------------------------------------------------------------------------

/// How a type is encoded: specialise for a type of your own with
///
///     static ipc_result encode(ipc::Encoder&, const T&);
///     static ipc_result decode(ipc::Decoder&, T&);
///
/// (returning IPC_OK or a failure of the encoder's or decoder's `fail`).
/// A decode must check what it reads as strictly as the built-in ones:
/// the input is hostile.
template <class T, class Enable = void>
struct Codec {
    static_assert(sizeof(T) == 0,
                  "no ipc::Codec for this type: declare it with IPC_FIELDS, IPC_MESSAGE, "
                  "IPC_NEWTYPE, IPC_UNIT or IPC_ENUM, or specialise ipc::Codec (plain char, "
                  "wchar_t and char16_t have none: say int8_t, uint8_t or char32_t)");
};

/// The variant names of a std::variant (a Rust enum with data), in the
/// order of its alternatives: specialise with IPC_VARIANT_NAMES. Without
/// it, each alternative must be a type declared with IPC_FIELDS,
/// IPC_NEWTYPE or IPC_UNIT, whose name is its variant's.
template <class V>
struct VariantNames;

namespace detail {

/// How a described struct is encoded.
enum class Shape { fields, newtype, unit };

template <class T, class M>
struct Field {
    std::string_view name;
    M T::*member;
};

template <class T, class... Fs>
struct Described {
    using type = T;
    std::string_view name;
    Shape shape;
    std::tuple<Fs...> fields;
};

template <class T, class... M>
constexpr Described<T, Field<T, M>...> describe(std::string_view name, Shape shape,
                                                 Field<T, M>... fields) noexcept {
    return {name, shape, std::tuple<Field<T, M>...>(fields...)};
}

template <class E>
struct Enumerator {
    std::string_view name;
    E value;
};

template <class E, class... Es>
constexpr std::array<Enumerator<E>, sizeof...(Es)> describe_enum(Es... enumerators) noexcept {
    return {{enumerators...}};
}

// Never called: makes the unqualified names below look-up-able, so that
// argument-dependent lookup finds the ones the macros declare.
void ipc_describe();
void ipc_describe_enum();
void ipc_message_id();

template <class T, class = void>
struct IsDescribed : std::false_type {};
template <class T>
struct IsDescribed<T, std::void_t<decltype(ipc_describe(static_cast<const T*>(nullptr)))>>
    : std::true_type {};

template <class T, class = void>
struct IsNamedEnum : std::false_type {};
template <class T>
struct IsNamedEnum<T, std::void_t<decltype(ipc_describe_enum(static_cast<const T*>(nullptr)))>>
    : std::true_type {};

template <class T, class = void>
struct HasMessageId : std::false_type {};
template <class T>
struct HasMessageId<T, std::void_t<decltype(ipc_message_id(static_cast<const T*>(nullptr)))>>
    : std::true_type {};

template <class T>
constexpr auto description() noexcept {
    return ipc_describe(static_cast<const T*>(nullptr));
}

template <class T>
constexpr auto enumerators() noexcept {
    return ipc_describe_enum(static_cast<const T*>(nullptr));
}

template <class T>
constexpr bool is_unit_type() noexcept {
    if constexpr (std::is_same_v<T, std::monostate>) {
        return true;
    } else if constexpr (IsDescribed<T>::value) {
        return description<T>().shape == Shape::unit;
    } else {
        return false;
    }
}

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
struct IsOptional<std::unique_ptr<T>> : std::true_type {};

template <class T>
constexpr bool is_byte = std::is_same_v<T, uint8_t> || std::is_same_v<T, std::byte>;

template <class T>
constexpr bool is_char_type =
    std::is_same_v<T, char> || std::is_same_v<T, wchar_t> || std::is_same_v<T, char16_t> ||
    std::is_same_v<T, char32_t>;

template <class V, class = void>
struct HasVariantNames : std::false_type {};
template <class V>
struct HasVariantNames<V, std::void_t<decltype(VariantNames<V>::names)>> : std::true_type {};

/// Calls `f(std::integral_constant<size_t, I>)` for the runtime `i < N`.
template <size_t N, class F, size_t... I>
ipc_result with_index(size_t i, F&& f, std::index_sequence<I...>) {
    ipc_result r = IPC_OK;
    ((i == I ? (r = f(std::integral_constant<size_t, I>{}), true) : false) || ...);
    return r;
}
template <size_t N, class F>
ipc_result with_index(size_t i, F&& f) {
    return with_index<N>(i, std::forward<F>(f), std::make_index_sequence<N>{});
}

/// Checks a string is UTF-8 (no overlong forms, surrogates or code points
/// past U+10FFFF), as Rust's str is.
inline bool valid_utf8(const uint8_t* s, size_t n) noexcept {
    size_t i = 0;
    while (i < n) {
        const uint8_t c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        uint32_t min;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1fu, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0fu, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07u, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < len) {
            return false;
        }
        for (size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += len;
    }
    return true;
}

/// How much a collection reserves before its elements arrive: what the
/// claim says, but at most 64 KiB worth (it grows with what comes).
template <class T>
size_t cautious(uint32_t claimed) noexcept {
    const size_t most = (64 * 1024) / sizeof(T) + 1;
    return claimed < most ? claimed : most;
}

}  // namespace detail

/// Whether `T` has a message ID (IPC_MESSAGE or IPC_MESSAGE_ID).
template <class T>
inline constexpr bool is_message_v = detail::HasMessageId<T>::value;

/// The message ID of `T`.
template <class T>
inline constexpr uint32_t message_id_v = ipc_message_id(static_cast<const T*>(nullptr));

/// Writes `value` (any type with a Codec).
template <class T>
ipc_result encode(Encoder& encoder, const T& value) {
    return Codec<T>::encode(encoder, value);
}

/// Reads a `T` into `value` (any type with a Codec).
template <class T>
ipc_result decode(Decoder& decoder, T& value) {
    return Codec<T>::decode(decoder, value);
}

/// Reads a whole payload as a `T`: the value, then nothing may be left (as
/// the Rust side requires). Catches what the value's allocations throw.
template <class T>
ipc_result decode_payload(Decoder& decoder, T& value) noexcept {
    ipc_result r;
    try {
        r = decode(decoder, value);
    } catch (...) {
        r = decoder.fail(IPC_MALFORMED, "out of memory (or a constructor threw) while decoding");
    }
    if (r == IPC_OK && decoder.remaining() != 0) {
        r = decoder.fail(IPC_MALFORMED, "bytes left after the value");
    }
    ipc_result f = decoder.finish();
    return r != IPC_OK ? r : f;
}

/// Encodes `value` into a new vector (throws ipc::Error).
template <class T>
std::vector<uint8_t> to_bytes(const T& value) {
    std::vector<uint8_t> out;
    Encoder encoder(out);
    if (ipc_result r = encode(encoder, value); r != IPC_OK) {
        detail::raise(r, encoder.reason());
    }
    return out;
}

/// Encodes `value` into `capacity` bytes at `buffer`; `written` gets the
/// size. Real-time safe for types that are.
template <class T>
ipc_result encode_into(std::nothrow_t, void* buffer, size_t capacity, const T& value,
                       size_t& written) noexcept {
    Encoder encoder(buffer, capacity);
    ipc_result r;
    try {
        r = encode(encoder, value);
    } catch (...) {
        r = IPC_ENCODE;
    }
    if (r == IPC_OK) {
        written = encoder.written();
    }
    return r;
}

/// Decodes the payload of `size` bytes at `data` as a `T` into `out`
/// (which is left in some valid state on failure).
template <class T>
ipc_result from_bytes(std::nothrow_t, const void* data, size_t size, T& out,
                      uint32_t max_depth = Decoder::default_max_depth) noexcept {
    Decoder decoder(data, size, max_depth);
    return decode_payload(decoder, out);
}

/// Decodes the payload of `size` bytes at `data` as a `T` (throws
/// ipc::Error, whose text says what was wrong).
template <class T>
T from_bytes(const void* data, size_t size, uint32_t max_depth = Decoder::default_max_depth) {
    T out{};
    Decoder decoder(data, size, max_depth);
    if (ipc_result r = decode_payload(decoder, out); r != IPC_OK) {
        detail::raise(r, decoder.reason());
    }
    return out;
}

// ---------------------------------------------------------------------------
// Codecs of the standard types
// ---------------------------------------------------------------------------

template <>
struct Codec<bool> {
    static ipc_result encode(Encoder& e, bool v) { return e.write_bool(v); }
    static ipc_result decode(Decoder& d, bool& v) {
        Token t;
        if (ipc_result r = d.read_token(t); r != IPC_OK) {
            return r;
        }
        if (t.kind != Kind::boolean) {
            return d.fail(IPC_MALFORMED, "expected a boolean");
        }
        v = t.boolean;
        return IPC_OK;
    }
};

/// Integers: the smallest format; any integer format whose value fits
/// decodes.
template <class T>
struct Codec<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                 !detail::is_char_type<T>>> {
    static ipc_result encode(Encoder& e, T v) {
        if constexpr (std::is_signed_v<T>) {
            return e.write_int(static_cast<int64_t>(v));
        } else {
            return e.write_uint(static_cast<uint64_t>(v));
        }
    }
    static ipc_result decode(Decoder& d, T& v) {
        Token t;
        if (ipc_result r = d.read_token(t); r != IPC_OK) {
            return r;
        }
        if (t.kind == Kind::uint) {
            if (t.uint > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
                return d.fail(IPC_MALFORMED, "integer out of range");
            }
            v = static_cast<T>(t.uint);
            return IPC_OK;
        }
        if (t.kind == Kind::sint) {
            if constexpr (std::is_signed_v<T>) {
                if (t.sint >= static_cast<int64_t>(std::numeric_limits<T>::min())) {
                    v = static_cast<T>(t.sint);
                    return IPC_OK;
                }
            }
            return d.fail(IPC_MALFORMED, "integer out of range");
        }
        return d.fail(IPC_MALFORMED, "expected an integer");
    }
};

/// float as `float 32`, double as `float 64`; any number decodes (as
/// serde's f32 and f64 accept).
template <class T>
struct Codec<T, std::enable_if_t<std::is_same_v<T, float> || std::is_same_v<T, double>>> {
    static ipc_result encode(Encoder& e, T v) {
        if constexpr (std::is_same_v<T, float>) {
            return e.write_f32(v);
        } else {
            return e.write_f64(v);
        }
    }
    static ipc_result decode(Decoder& d, T& v) {
        Token t;
        if (ipc_result r = d.read_token(t); r != IPC_OK) {
            return r;
        }
        switch (t.kind) {
        case Kind::f32:
        case Kind::f64: v = static_cast<T>(t.real); return IPC_OK;
        case Kind::uint: v = static_cast<T>(t.uint); return IPC_OK;
        case Kind::sint: v = static_cast<T>(t.sint); return IPC_OK;
        default: return d.fail(IPC_MALFORMED, "expected a number");
        }
    }
};

/// Rust's `char`: a string of one code point.
template <>
struct Codec<char32_t> {
    static ipc_result encode(Encoder& e, char32_t c) {
        uint8_t b[4];
        size_t n;
        const uint32_t cp = static_cast<uint32_t>(c);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return e.fail(IPC_ENCODE, "not a Unicode scalar value");
        }
        if (cp < 0x80) {
            b[0] = static_cast<uint8_t>(cp);
            n = 1;
        } else if (cp < 0x800) {
            b[0] = static_cast<uint8_t>(0xc0 | cp >> 6);
            b[1] = static_cast<uint8_t>(0x80 | (cp & 0x3f));
            n = 2;
        } else if (cp < 0x10000) {
            b[0] = static_cast<uint8_t>(0xe0 | cp >> 12);
            b[1] = static_cast<uint8_t>(0x80 | (cp >> 6 & 0x3f));
            b[2] = static_cast<uint8_t>(0x80 | (cp & 0x3f));
            n = 3;
        } else {
            b[0] = static_cast<uint8_t>(0xf0 | cp >> 18);
            b[1] = static_cast<uint8_t>(0x80 | (cp >> 12 & 0x3f));
            b[2] = static_cast<uint8_t>(0x80 | (cp >> 6 & 0x3f));
            b[3] = static_cast<uint8_t>(0x80 | (cp & 0x3f));
            n = 4;
        }
        return e.write_str(std::string_view(reinterpret_cast<const char*>(b), n));
    }
    static ipc_result decode(Decoder& d, char32_t& c) {
        Token t;
        if (ipc_result r = d.read_token(t); r != IPC_OK) {
            return r;
        }
        if (t.kind != Kind::str || t.len == 0 || t.len > 4) {
            return d.fail(IPC_MALFORMED, "expected a single character");
        }
        uint8_t b[4];
        if (ipc_result r = d.read(b, t.len); r != IPC_OK) {
            return r;
        }
        const size_t want = b[0] < 0x80 ? 1 : (b[0] & 0xe0) == 0xc0 ? 2 : (b[0] & 0xf0) == 0xe0 ? 3 : 4;
        if (want != t.len || !detail::valid_utf8(b, t.len)) {
            return d.fail(IPC_MALFORMED, "expected a single character");
        }
        uint32_t cp = t.len == 1 ? b[0] : t.len == 2 ? b[0] & 0x1fu : t.len == 3 ? b[0] & 0x0fu : b[0] & 0x07u;
        for (size_t k = 1; k < t.len; ++k) {
            cp = cp << 6 | (b[k] & 0x3fu);
        }
        c = static_cast<char32_t>(cp);
        return IPC_OK;
    }
};

template <class Traits, class Alloc>
struct Codec<std::basic_string<char, Traits, Alloc>> {
    using S = std::basic_string<char, Traits, Alloc>;
    static ipc_result encode(Encoder& e, const S& s) { return e.write_str(std::string_view(s.data(), s.size())); }
    static ipc_result decode(Decoder& d, S& s) {
        Token t;
        if (ipc_result r = d.read_token(t); r != IPC_OK) {
            return r;
        }
        // A byte string of UTF-8 is a string too (as serde's String has it).
        if (t.kind != Kind::str && t.kind != Kind::bin) {
            return d.fail(IPC_MALFORMED, "expected a string");
        }
        s.clear();
        s.reserve(detail::cautious<char>(t.len));
        ipc_result r = d.read_chunks(t.len, [&](const uint8_t* p, size_t n) {
            s.append(reinterpret_cast<const char*>(p), n);
        });
        if (r != IPC_OK) {
            return r;
        }
        if (!detail::valid_utf8(reinterpret_cast<const uint8_t*>(s.data()), s.size())) {
            return d.fail(IPC_MALFORMED, "string is not UTF-8");
        }
        return IPC_OK;
    }
};

template <class Traits>
struct Codec<std::basic_string_view<char, Traits>> {
    static ipc_result encode(Encoder& e, std::basic_string_view<char, Traits> s) {
        return e.write_str(std::string_view(s.data(), s.size()));
    }
    template <class U>
    static ipc_result decode(Decoder&, U&) {
        static_assert(sizeof(U) == 0, "a string_view cannot be decoded into: use std::string");
        return IPC_INVALID_ARGUMENT;
    }
};

/// Views: bytes as `bin`, anything else as an array. Encode only.
template <class T>
struct Codec<Span<T>> {
    static ipc_result encode(Encoder& e, Span<T> s) {
        if constexpr (detail::is_byte<std::remove_cv_t<T>>) {
            return e.write_bin(s.data(), s.size());
        } else {
            if (ipc_result r = e.write_array(s.size()); r != IPC_OK) {
                return r;
            }
            for (const auto& x : s) {
                if (ipc_result r = ipc::encode(e, x); r != IPC_OK) {
                    return r;
                }
            }
            return IPC_OK;
        }
    }
    template <class U>
    static ipc_result decode(Decoder&, U&) {
        static_assert(sizeof(U) == 0, "a Span cannot be decoded into: use std::vector or std::array");
        return IPC_INVALID_ARGUMENT;
    }
};

/// std::vector<T> as an array; std::vector<uint8_t> and
/// std::vector<std::byte> as `bin` (an array of bytes decodes too).
template <class T, class Alloc>
struct Codec<std::vector<T, Alloc>> {
    using V = std::vector<T, Alloc>;
    static ipc_result encode(Encoder& e, const V& v) {
        if constexpr (detail::is_byte<T>) {
            return e.write_bin(v.data(), v.size());
        } else {
            if (ipc_result r = e.write_array(v.size()); r != IPC_OK) {
                return r;
            }
            for (const auto& x : v) {
                if (ipc_result r = ipc::encode(e, x); r != IPC_OK) {
                    return r;
                }
            }
            return IPC_OK;
        }
    }
    static ipc_result decode(Decoder& d, V& v) {
        Token t;
        if (ipc_result r = d.read_token(t); r != IPC_OK) {
            return r;
        }
        v.clear();
        if constexpr (detail::is_byte<T>) {
            if (t.kind == Kind::bin) {
                v.reserve(detail::cautious<T>(t.len));
                return d.read_chunks(t.len, [&](const uint8_t* p, size_t n) {
                    const T* q = reinterpret_cast<const T*>(p);
                    v.insert(v.end(), q, q + n);
                });
            }
        }
        if (t.kind != Kind::array) {
            return d.fail(IPC_MALFORMED, detail::is_byte<T> ? "expected a byte string" : "expected an array");
        }
        v.reserve(detail::cautious<T>(t.len));
        return d.nested([&] {
            for (uint32_t i = 0; i < t.len; ++i) {
                if constexpr (std::is_same_v<T, std::byte>) {
                    uint8_t b = 0;
                    if (ipc_result r = ipc::decode(d, b); r != IPC_OK) {
                        return r;
                    }
                    v.push_back(static_cast<std::byte>(b));
                } else if constexpr (std::is_same_v<T, bool>) {
                    bool b = false;
                    if (ipc_result r = ipc::decode(d, b); r != IPC_OK) {
                        return r;
                    }
                    v.push_back(b);
                } else {
                    v.emplace_back();
                    if (ipc_result r = ipc::decode(d, v.back()); r != IPC_OK) {
                        return r;
                    }
                }
            }
            return IPC_OK;
        });
    }
};

namespace detail {

/// Reads the head of a fixed-size sequence (tuple, std::array, struct) of
/// `n` elements; `extra` gets how many trailing ones to skip.
inline ipc_result fixed_head(Decoder& d, size_t n, uint32_t& extra,
                             const char* expected = "expected an array") {
    Token t;
    if (ipc_result r = d.read_token(t); r != IPC_OK) {
        return r;
    }
    if (t.kind != Kind::array) {
        return d.fail(IPC_MALFORMED, expected);
    }
    if (t.len < n) {
        return d.fail(IPC_MALFORMED, "an array with fewer elements than expected");
    }
    extra = static_cast<uint32_t>(t.len - n);
    return IPC_OK;
}

inline ipc_result skip_extra(Decoder& d, uint32_t extra) {
    for (uint32_t i = 0; i < extra; ++i) {
        if (ipc_result r = d.skip_value(); r != IPC_OK) {
            return r;
        }
    }
    return IPC_OK;
}

template <class Tuple>
ipc_result encode_tuple(Encoder& e, const Tuple& t) {
    if (ipc_result r = e.write_array(std::tuple_size_v<Tuple>); r != IPC_OK) {
        return r;
    }
    ipc_result r = IPC_OK;
    std::apply([&](const auto&... x) { (void)(((r = ipc::encode(e, x), r == IPC_OK) && ...)); }, t);
    return r;
}

template <class Tuple>
ipc_result decode_tuple(Decoder& d, Tuple& t) {
    uint32_t extra = 0;
    if (ipc_result r = fixed_head(d, std::tuple_size_v<Tuple>, extra); r != IPC_OK) {
        return r;
    }
    return d.nested([&] {
        ipc_result r = IPC_OK;
        std::apply([&](auto&... x) { (void)(((r = ipc::decode(d, x), r == IPC_OK) && ...)); }, t);
        return r != IPC_OK ? r : skip_extra(d, extra);
    });
}

}  // namespace detail

template <class T, size_t N>
struct Codec<std::array<T, N>> {
    using A = std::array<T, N>;
    static ipc_result encode(Encoder& e, const A& a) {
        if (ipc_result r = e.write_array(N); r != IPC_OK) {
            return r;
        }
        for (const auto& x : a) {
            if (ipc_result r = ipc::encode(e, x); r != IPC_OK) {
                return r;
            }
        }
        return IPC_OK;
    }
    static ipc_result decode(Decoder& d, A& a) {
        uint32_t extra = 0;
        if (ipc_result r = detail::fixed_head(d, N, extra); r != IPC_OK) {
            return r;
        }
        return d.nested([&] {
            for (auto& x : a) {
                if (ipc_result r = ipc::decode(d, x); r != IPC_OK) {
                    return r;
                }
            }
            return detail::skip_extra(d, extra);
        });
    }
};

template <class A, class B>
struct Codec<std::pair<A, B>> {
    static ipc_result encode(Encoder& e, const std::pair<A, B>& p) {
        if (ipc_result r = e.write_array(2); r != IPC_OK) {
            return r;
        }
        if (ipc_result r = ipc::encode(e, p.first); r != IPC_OK) {
            return r;
        }
        return ipc::encode(e, p.second);
    }
    static ipc_result decode(Decoder& d, std::pair<A, B>& p) {
        uint32_t extra = 0;
        if (ipc_result r = detail::fixed_head(d, 2, extra); r != IPC_OK) {
            return r;
        }
        return d.nested([&] {
            if (ipc_result r = ipc::decode(d, p.first); r != IPC_OK) {
                return r;
            }
            if (ipc_result r = ipc::decode(d, p.second); r != IPC_OK) {
                return r;
            }
            return detail::skip_extra(d, extra);
        });
    }
};

template <class... Ts>
struct Codec<std::tuple<Ts...>> {
    static ipc_result encode(Encoder& e, const std::tuple<Ts...>& t) { return detail::encode_tuple(e, t); }
    static ipc_result decode(Decoder& d, std::tuple<Ts...>& t) { return detail::decode_tuple(d, t); }
};

/// nil, or the value itself (Rust's Option).
template <class T>
struct Codec<std::optional<T>> {
    static ipc_result encode(Encoder& e, const std::optional<T>& v) {
        return v ? ipc::encode(e, *v) : e.write_nil();
    }
    static ipc_result decode(Decoder& d, std::optional<T>& v) {
        uint8_t m = 0;
        if (ipc_result r = d.peek(m); r != IPC_OK) {
            return r;
        }
        if (m == 0xc0) {
            v.reset();
            return d.skip(1);
        }
        // `Some(x)` is `x` on the wire: a level that consumes no byte of its
        // own, counted so that recursion through it is bounded.
        return d.nested([&] { return ipc::decode(d, v.emplace()); });
    }
};

/// nil, or the value (Rust's Option<Box<T>>): for recursive types.
template <class T, class Del>
struct Codec<std::unique_ptr<T, Del>> {
    static ipc_result encode(Encoder& e, const std::unique_ptr<T, Del>& p) {
        return p ? ipc::encode(e, *p) : e.write_nil();
    }
    static ipc_result decode(Decoder& d, std::unique_ptr<T, Del>& p) {
        uint8_t m = 0;
        if (ipc_result r = d.peek(m); r != IPC_OK) {
            return r;
        }
        if (m == 0xc0) {
            p.reset();
            return d.skip(1);
        }
        return d.nested([&] {
            p.reset(new T());
            return ipc::decode(d, *p);
        });
    }
};

namespace detail {

template <class M>
struct MapCodec {
    static ipc_result encode(Encoder& e, const M& m) {
        if (ipc_result r = e.write_map(m.size()); r != IPC_OK) {
            return r;
        }
        for (const auto& [k, v] : m) {
            if (ipc_result r = ipc::encode(e, k); r != IPC_OK) {
                return r;
            }
            if (ipc_result r = ipc::encode(e, v); r != IPC_OK) {
                return r;
            }
        }
        return IPC_OK;
    }
    static ipc_result decode(Decoder& d, M& m) {
        Token t;
        if (ipc_result r = d.read_token(t); r != IPC_OK) {
            return r;
        }
        if (t.kind != Kind::map) {
            return d.fail(IPC_MALFORMED, "expected a map");
        }
        m.clear();
        return d.nested([&] {
            for (uint32_t i = 0; i < t.len; ++i) {
                typename M::key_type key{};
                typename M::mapped_type value{};
                if (ipc_result r = ipc::decode(d, key); r != IPC_OK) {
                    return r;
                }
                if (ipc_result r = ipc::decode(d, value); r != IPC_OK) {
                    return r;
                }
                // A repeated key: the last one wins, as in Rust's maps.
                m.insert_or_assign(std::move(key), std::move(value));
            }
            return IPC_OK;
        });
    }
};

}  // namespace detail

template <class K, class V, class C, class A>
struct Codec<std::map<K, V, C, A>> : detail::MapCodec<std::map<K, V, C, A>> {};

template <class K, class V, class H, class E, class A>
struct Codec<std::unordered_map<K, V, H, E, A>> : detail::MapCodec<std::unordered_map<K, V, H, E, A>> {};

/// Rust's `()`: nil (an empty array decodes too).
template <>
struct Codec<std::monostate> {
    static ipc_result encode(Encoder& e, std::monostate) { return e.write_nil(); }
    static ipc_result decode(Decoder& d, std::monostate&) {
        uint8_t m = 0;
        if (ipc_result r = d.read_byte(m); r != IPC_OK) {
            return r;
        }
        return m == 0xc0 || m == 0x90 ? IPC_OK : d.fail(IPC_MALFORMED, "expected nil");
    }
};

/// Enums: a described one (IPC_ENUM) as its variant name (by name or index
/// when decoding), any other as its underlying integer (give such enums a
/// fixed underlying type: every value of it decodes).
template <class E>
struct Codec<E, std::enable_if_t<std::is_enum_v<E>>> {
    using U = std::underlying_type_t<E>;
    static ipc_result encode(Encoder& e, E v) {
        if constexpr (detail::IsNamedEnum<E>::value) {
            constexpr auto list = detail::enumerators<E>();
            for (const auto& x : list) {
                if (x.value == v) {
                    return e.write_str(x.name);
                }
            }
            return e.fail(IPC_ENCODE, "a value IPC_ENUM does not name");
        } else {
            return ipc::encode(e, static_cast<U>(v));
        }
    }
    static ipc_result decode(Decoder& d, E& v) {
        if constexpr (detail::IsNamedEnum<E>::value) {
            static constexpr auto list = detail::enumerators<E>();
            static_assert(list.size() <= 64, "IPC_ENUM takes at most 64 enumerators");
            static constexpr auto names = names_of(list, std::make_index_sequence<list.size()>{});
            size_t i = 0;
            if (ipc_result r = d.read_identifier(names.data(), names.size(), i); r != IPC_OK) {
                return r;
            }
            if (i >= list.size()) {
                return d.fail(IPC_MALFORMED, "unknown variant");
            }
            v = list[i].value;
            return IPC_OK;
        } else {
            U u{};
            if (ipc_result r = ipc::decode(d, u); r != IPC_OK) {
                return r;
            }
            v = static_cast<E>(u);
            return IPC_OK;
        }
    }

private:
    template <class L, size_t... I>
    static constexpr std::array<std::string_view, sizeof...(I)> names_of(const L& list, std::index_sequence<I...>) {
        return {{list[I].name...}};
    }
};

/// Described structs: IPC_FIELDS/IPC_MESSAGE (an array of the fields in
/// order; a map of field names decodes too), IPC_NEWTYPE (the field
/// itself), IPC_UNIT (an empty array; nil decodes too).
template <class T>
struct Codec<T, std::enable_if_t<detail::IsDescribed<T>::value>> {
    static constexpr auto info = detail::description<T>();
    static constexpr size_t count = std::tuple_size_v<decltype(info.fields)>;

    static ipc_result encode(Encoder& e, const T& v) {
        if constexpr (info.shape == detail::Shape::unit) {
            return e.write_array(0);
        } else if constexpr (info.shape == detail::Shape::newtype) {
            return ipc::encode(e, v.*(std::get<0>(info.fields).member));
        } else {
            if (ipc_result r = e.write_array(count); r != IPC_OK) {
                return r;
            }
            ipc_result r = IPC_OK;
            std::apply([&](const auto&... f) { (void)(((r = ipc::encode(e, v.*(f.member)), r == IPC_OK) && ...)); },
                       info.fields);
            return r;
        }
    }

    static ipc_result decode(Decoder& d, T& v) {
        if constexpr (info.shape == detail::Shape::unit) {
            uint8_t m = 0;
            if (ipc_result r = d.read_byte(m); r != IPC_OK) {
                return r;
            }
            return m == 0x90 || m == 0xc0 ? IPC_OK : d.fail(IPC_MALFORMED, "expected a unit struct");
        } else if constexpr (info.shape == detail::Shape::newtype) {
            return ipc::decode(d, v.*(std::get<0>(info.fields).member));
        } else {
            uint8_t m = 0;
            if (ipc_result r = d.peek(m); r != IPC_OK) {
                return r;
            }
            if ((m & 0xf0) == 0x80 || m == 0xde || m == 0xdf) {
                return decode_map(d, v);
            }
            uint32_t extra = 0;
            if (ipc_result r = detail::fixed_head(d, count, extra, "expected a struct (an array or a map)");
                r != IPC_OK) {
                return r;
            }
            return d.nested([&] {
                ipc_result r = IPC_OK;
                std::apply([&](const auto&... f) { (void)(((r = ipc::decode(d, v.*(f.member)), r == IPC_OK) && ...)); },
                           info.fields);
                // Fields a newer peer appended: skipped.
                return r != IPC_OK ? r : detail::skip_extra(d, extra);
            });
        }
    }

private:
    static_assert(count <= 64, "a struct of at most 64 fields");

    template <size_t... I>
    static constexpr std::array<std::string_view, count> field_names(std::index_sequence<I...>) {
        return {{std::get<I>(info.fields).name...}};
    }

    static ipc_result decode_map(Decoder& d, T& v) {
        static constexpr auto names = field_names(std::make_index_sequence<count>{});
        Token t;
        if (ipc_result r = d.read_token(t); r != IPC_OK) {
            return r;
        }
        return d.nested([&] {
            uint64_t seen = 0;
            for (uint32_t i = 0; i < t.len; ++i) {
                size_t field = count;
                if (ipc_result r = d.read_identifier(names.data(), count, field); r != IPC_OK) {
                    return r;
                }
                if (field == count) {
                    // A field this side does not know: skipped.
                    if (ipc_result r = d.skip_value(); r != IPC_OK) {
                        return r;
                    }
                    continue;
                }
                if ((seen >> field & 1u) != 0) {
                    return d.fail(IPC_MALFORMED, "duplicate field");
                }
                seen |= uint64_t{1} << field;
                ipc_result r = detail::with_index<count>(field, [&](auto index) {
                    return ipc::decode(d, v.*(std::get<decltype(index)::value>(info.fields).member));
                });
                if (r != IPC_OK) {
                    return r;
                }
            }
            // Missing fields: options are absent (as serde has it), anything
            // else is an error.
            ipc_result r = IPC_OK;
            size_t k = 0;
            std::apply(
                [&](const auto&... f) {
                    ((((r == IPC_OK && (seen >> k & 1u) == 0) ? (void)(r = missing(d, v.*(f.member))) : (void)0), ++k), ...);
                },
                info.fields);
            return r;
        });
    }

    template <class M>
    static ipc_result missing(Decoder& d, M& member) {
        if constexpr (detail::IsOptional<M>::value) {
            member.reset();
            return IPC_OK;
        } else {
            return d.fail(IPC_MALFORMED, "missing field");
        }
    }
};

/// A Rust enum with data: a unit alternative (std::monostate, IPC_UNIT) as
/// its variant name, any other as the one-entry map {name: value}.
template <class... Ts>
struct Codec<std::variant<Ts...>> {
    using V = std::variant<Ts...>;
    static constexpr size_t count = sizeof...(Ts);
    static_assert(count <= 64, "a variant of at most 64 alternatives");

    static constexpr std::array<std::string_view, count> names() {
        if constexpr (detail::HasVariantNames<V>::value) {
            static_assert(std::size(VariantNames<V>::names) == count,
                          "IPC_VARIANT_NAMES must name every alternative");
            std::array<std::string_view, count> out{};
            for (size_t i = 0; i < count; ++i) {
                out[i] = VariantNames<V>::names[i];
            }
            return out;
        } else {
            static_assert((detail::IsDescribed<Ts>::value && ...),
                          "name the variants with IPC_VARIANT_NAMES, or make every alternative a type "
                          "declared with IPC_FIELDS, IPC_NEWTYPE or IPC_UNIT");
            return {{detail::description<Ts>().name...}};
        }
    }

    static ipc_result encode(Encoder& e, const V& v) {
        static constexpr auto list = names();
        if (v.valueless_by_exception()) {
            return e.fail(IPC_ENCODE, "a variant without a value");
        }
        const size_t i = v.index();
        return detail::with_index<count>(i, [&](auto index) {
            constexpr size_t I = decltype(index)::value;
            using A = std::variant_alternative_t<I, V>;
            if constexpr (detail::is_unit_type<A>()) {
                return e.write_str(list[I]);
            } else {
                if (ipc_result r = e.write_map(1); r != IPC_OK) {
                    return r;
                }
                if (ipc_result r = e.write_str(list[I]); r != IPC_OK) {
                    return r;
                }
                return ipc::encode(e, *std::get_if<I>(&v));
            }
        });
    }

    static ipc_result decode(Decoder& d, V& v) {
        uint8_t m = 0;
        if (ipc_result r = d.peek(m); r != IPC_OK) {
            return r;
        }
        if (m == 0x81) {
            if (ipc_result r = d.skip(1); r != IPC_OK) {
                return r;
            }
            return d.nested([&] { return body(d, v, true); });
        }
        if (m == 0xde || m == 0xdf) {
            Token t;
            if (ipc_result r = d.read_token(t); r != IPC_OK) {
                return r;
            }
            if (t.len != 1) {
                return d.fail(IPC_MALFORMED, "an enum map must have exactly one entry");
            }
            return d.nested([&] { return body(d, v, true); });
        }
        return body(d, v, false);
    }

private:
    static ipc_result body(Decoder& d, V& v, bool has_value) {
        static constexpr auto list = names();
        size_t i = count;
        if (ipc_result r = d.read_identifier(list.data(), count, i); r != IPC_OK) {
            return r;
        }
        if (i >= count) {
            return d.fail(IPC_MALFORMED, "unknown variant");
        }
        return detail::with_index<count>(i, [&](auto index) {
            constexpr size_t I = decltype(index)::value;
            using A = std::variant_alternative_t<I, V>;
            auto& alt = v.template emplace<I>();
            if constexpr (detail::is_unit_type<A>()) {
                if (!has_value) {
                    return IPC_OK;
                }
                // `{name: nil}` (or an empty array) is a unit variant too.
                std::monostate unit;
                return ipc::decode(d, unit);
            } else {
                if (!has_value) {
                    return d.fail(IPC_MALFORMED, "variant without its value");
                }
                return ipc::decode(d, alt);
            }
        });
    }
};

}  // namespace ipc

// ---------------------------------------------------------------------------
// Declaring types. Use each macro once, at namespace scope, in the
// namespace of the type (for a nested type, its outermost class's), naming
// the type as declared there.
// ---------------------------------------------------------------------------

/// A struct encoded as the array of these fields, in this order (a Rust
/// struct or tuple struct with the same fields in the same order):
/// `IPC_FIELDS(Point, x, y);`. Its name (for a variant) is `Type` as
/// written.
#define IPC_FIELDS(Type, ...)                                                                \
    constexpr auto ipc_describe(const Type*) noexcept {                                     \
        return ::ipc::detail::describe<Type>(                                               \
            #Type, ::ipc::detail::Shape::fields,                                            \
            IPC_DETAIL_FOR_EACH(IPC_DETAIL_FIELD, Type, __VA_ARGS__));                       \
    }                                                                                       \
    static_assert(true, "")

/// A struct encoded as its one field (a Rust newtype struct, or the
/// value of a newtype variant): `IPC_NEWTYPE(Gain, value);`.
#define IPC_NEWTYPE(Type, member)                                                            \
    constexpr auto ipc_describe(const Type*) noexcept {                                     \
        return ::ipc::detail::describe<Type>(#Type, ::ipc::detail::Shape::newtype,          \
                                             IPC_DETAIL_FIELD(Type, member));                \
    }                                                                                       \
    static_assert(true, "")

/// An empty struct encoded as an empty array (a Rust unit struct), or, as
/// an alternative of a std::variant, a unit variant: `IPC_UNIT(Stop);`.
#define IPC_UNIT(Type)                                                                       \
    constexpr auto ipc_describe(const Type*) noexcept {                                     \
        return ::ipc::detail::describe<Type>(#Type, ::ipc::detail::Shape::unit);            \
    }                                                                                       \
    static_assert(true, "")

/// Gives a type with a Codec its message ID: `IPC_MESSAGE_ID(Gain, 12);`.
#define IPC_MESSAGE_ID(Type, id)                                                             \
    constexpr uint32_t ipc_message_id(const Type*) noexcept { return (id); }                \
    static_assert(true, "")

/// A message: a struct encoded as the array of these fields, with its ID:
/// `IPC_MESSAGE(NoteOn, 8, channel, key, velocity);`.
#define IPC_MESSAGE(Type, id, ...)                                                           \
    IPC_FIELDS(Type, __VA_ARGS__);                                                          \
    IPC_MESSAGE_ID(Type, id)

/// An enum encoded as the name of its enumerator (a Rust enum of unit
/// variants), listed in the Rust declaration order (an index decodes as
/// the variant at that position): `IPC_ENUM(Waveform, sine, square);`.
/// Without it an enum is its underlying integer.
#define IPC_ENUM(Type, ...)                                                                  \
    constexpr auto ipc_describe_enum(const Type*) noexcept {                                \
        return ::ipc::detail::describe_enum<Type>(                                          \
            IPC_DETAIL_FOR_EACH(IPC_DETAIL_ENUMERATOR, Type, __VA_ARGS__));                  \
    }                                                                                       \
    static_assert(true, "")

/// The Rust variant names of a std::variant's alternatives, in order. At
/// global scope (it specialises ipc::VariantNames):
/// `IPC_VARIANT_NAMES(Value, "Int", "Text", "Nothing");`.
#define IPC_VARIANT_NAMES(Type, ...)                                                         \
    template <>                                                                             \
    struct ipc::VariantNames<Type> {                                                        \
        static constexpr std::string_view names[] = {__VA_ARGS__};                          \
    }

#define IPC_DETAIL_FIELD(Type, member) \
    ::ipc::detail::Field<Type, decltype(Type::member)> { #member, &Type::member }
#define IPC_DETAIL_ENUMERATOR(Type, e) \
    ::ipc::detail::Enumerator<Type> { #e, Type::e }

// The preprocessor machinery of the macros above (up to 64 arguments).
#define IPC_DETAIL_EXPAND(x) x
#define IPC_DETAIL_CAT(a, b) IPC_DETAIL_CAT_(a, b)
#define IPC_DETAIL_CAT_(a, b) a##b
#define IPC_DETAIL_NARGS(...) IPC_DETAIL_EXPAND(IPC_DETAIL_NARGS_(__VA_ARGS__, 64, 63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0))
#define IPC_DETAIL_NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, _33, _34, _35, _36, _37, _38, _39, _40, _41, _42, _43, _44, _45, _46, _47, _48, _49, _50, _51, _52, _53, _54, _55, _56, _57, _58, _59, _60, _61, _62, _63, _64, N, ...) N
#define IPC_DETAIL_FOR_EACH(M, d, ...) \
    IPC_DETAIL_EXPAND(IPC_DETAIL_CAT(IPC_DETAIL_FE_, IPC_DETAIL_NARGS(__VA_ARGS__))(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_1(M, d, x) M(d, x)
#define IPC_DETAIL_FE_2(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_1(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_3(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_2(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_4(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_3(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_5(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_4(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_6(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_5(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_7(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_6(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_8(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_7(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_9(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_8(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_10(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_9(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_11(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_10(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_12(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_11(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_13(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_12(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_14(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_13(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_15(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_14(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_16(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_15(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_17(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_16(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_18(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_17(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_19(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_18(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_20(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_19(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_21(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_20(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_22(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_21(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_23(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_22(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_24(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_23(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_25(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_24(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_26(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_25(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_27(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_26(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_28(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_27(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_29(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_28(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_30(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_29(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_31(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_30(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_32(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_31(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_33(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_32(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_34(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_33(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_35(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_34(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_36(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_35(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_37(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_36(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_38(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_37(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_39(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_38(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_40(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_39(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_41(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_40(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_42(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_41(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_43(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_42(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_44(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_43(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_45(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_44(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_46(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_45(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_47(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_46(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_48(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_47(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_49(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_48(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_50(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_49(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_51(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_50(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_52(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_51(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_53(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_52(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_54(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_53(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_55(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_54(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_56(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_55(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_57(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_56(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_58(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_57(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_59(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_58(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_60(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_59(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_61(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_60(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_62(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_61(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_63(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_62(M, d, __VA_ARGS__))
#define IPC_DETAIL_FE_64(M, d, x, ...) M(d, x), IPC_DETAIL_EXPAND(IPC_DETAIL_FE_63(M, d, __VA_ARGS__))

namespace ipc {

// ---------------------------------------------------------------------------
// The C callbacks behind the typed calls
// ---------------------------------------------------------------------------

namespace detail {

template <class T>
void require_message() {
    static_assert(is_message_v<T>, "not a message: give it an ID with IPC_MESSAGE or IPC_MESSAGE_ID");
}

/// What an encode callback writes, and how it failed.
template <class T>
struct EncodeJob {
    const T* value;
    ipc_result code = IPC_OK;
    const char* reason = nullptr;
};

template <class T>
uint32_t encode_cb(void* user, ipc_encoder* encoder) noexcept {
    auto* job = static_cast<EncodeJob<T>*>(user);
    ipc_result r;
    const char* reason = nullptr;
    try {
        Encoder e(encoder);
        r = ipc::encode(e, *job->value);
        if (r == IPC_OK) {
            r = e.finish();
        }
        reason = e.reason();
    } catch (...) {
        r = IPC_ENCODE;
        reason = "the value's encoding threw an exception";
    }
    // A failure of the library's own (a span refused) keeps its text there.
    job->code = r;
    job->reason = reason;
    return static_cast<uint32_t>(r);
}

/// Where a decode callback puts its value, and how it failed.
template <class T>
struct DecodeJob {
    T* out;
    uint32_t max_depth;
    uint32_t expected_id;
    ipc_result code = IPC_OK;
    const char* reason = nullptr;
    Header header{};
};

template <class T>
uint32_t decode_cb(void* user, const ipc_header* header, ipc_decoder* decoder) noexcept {
    auto* job = static_cast<DecodeJob<T>*>(user);
    job->header = *header;
    if (header->id != job->expected_id) {
        job->code = IPC_UNEXPECTED_ID;
        job->reason = "a message of another type came";
        return static_cast<uint32_t>(job->code);
    }
    Decoder d(decoder, size_t{header->len}, job->max_depth);
    job->code = decode_payload(d, *job->out);
    job->reason = d.reason();
    return static_cast<uint32_t>(job->code);
}

/// Throws for a call that failed with `code`, with this layer's reason if
/// one of its callbacks said it, else the library's text.
template <class... Jobs>
[[noreturn]] void raise_from(ipc_result code, const Jobs&... jobs) {
    const char* reason = nullptr;
    ((reason == nullptr && jobs.code == code && jobs.reason != nullptr ? (void)(reason = jobs.reason) : (void)0), ...);
    raise(code, reason);
}

template <class T>
void delete_cb(void* user) noexcept {
    delete static_cast<T*>(user);
}

}  // namespace detail

// ---------------------------------------------------------------------------
// Layers I and II: segments, channels, messages
// ---------------------------------------------------------------------------

/// What one endpoint has done (ipc_stats).
using Stats = ipc_stats;

/// A message and its envelope.
template <class M>
struct Received {
    Header header;
    M message;
};

/// The writing end of a channel (owned by one thread at a time).
class Writer {
public:
    Writer() noexcept = default;
    /// Takes ownership of `w`.
    explicit Writer(ipc_writer* w) noexcept : w_(w) {}
    Writer(Writer&& o) noexcept : w_(std::exchange(o.w_, nullptr)) {}
    Writer& operator=(Writer&& o) noexcept {
        if (this != &o) {
            ipc_writer_free(w_);
            w_ = std::exchange(o.w_, nullptr);
        }
        return *this;
    }
    /// Publishes what was written and closes the channel.
    ~Writer() { ipc_writer_free(w_); }

    ipc_writer* get() const noexcept { return w_; }
    explicit operator bool() const noexcept { return w_ != nullptr; }

    /// Appends bytes (visible at the next commit), waiting for space at
    /// most `timeout`; returns how many were appended.
    size_t write(const void* data, size_t size, Timeout timeout = forever) {
        size_t written = 0;
        detail::check(ipc_writer_write(w_, static_cast<const uint8_t*>(data), size, timeout.ns(), &written));
        return written;
    }
    /// Publishes the current blob.
    void commit() { detail::check(ipc_writer_commit(w_)); }
    /// Closes the channel without publishing what is uncommitted.
    void close() { detail::check(ipc_writer_close(w_)); }
    /// Spins up to `spin` before sleeping.
    void set_spin(std::chrono::nanoseconds spin) { detail::check(ipc_writer_set_spin(w_, Timeout(spin).ns())); }
    Stats stats() const {
        Stats s{};
        detail::check(ipc_writer_stats(w_, &s));
        return s;
    }

    /// Sends `message` (encoded straight into the ring) and commits it.
    template <class M>
    void send(const M& message, uint32_t correlation = 0, uint8_t flags = 0, Timeout timeout = forever) {
        detail::EncodeJob<M> job{&message};
        ipc_result r = raw_send(job, correlation, flags, timeout);
        if (r != IPC_OK) {
            detail::raise_from(r, job);
        }
    }
    /// As send(), returning the result. Real-time safe when the message's
    /// encoding is and it fits in the free space.
    template <class M>
    ipc_result send(std::nothrow_t, const M& message, uint32_t correlation = 0, uint8_t flags = 0,
                    Timeout timeout = forever) noexcept {
        detail::EncodeJob<M> job{&message};
        return raw_send(job, correlation, flags, timeout);
    }

private:
    template <class M>
    ipc_result raw_send(detail::EncodeJob<M>& job, uint32_t correlation, uint8_t flags, Timeout timeout) noexcept {
        detail::require_message<M>();
        return ipc_message_send(w_, message_id_v<M>, correlation, flags, timeout.ns(), detail::encode_cb<M>, &job);
    }

    ipc_writer* w_ = nullptr;
};

/// The reading end of a channel (owned by one thread at a time).
class Reader {
public:
    Reader() noexcept = default;
    /// Takes ownership of `r`.
    explicit Reader(ipc_reader* r) noexcept : r_(r) {}
    Reader(Reader&& o) noexcept : r_(std::exchange(o.r_, nullptr)), limits_(o.limits_) {}
    Reader& operator=(Reader&& o) noexcept {
        if (this != &o) {
            ipc_reader_free(r_);
            r_ = std::exchange(o.r_, nullptr);
            limits_ = o.limits_;
        }
        return *this;
    }
    ~Reader() { ipc_reader_free(r_); }

    ipc_reader* get() const noexcept { return r_; }
    explicit operator bool() const noexcept { return r_ != nullptr; }

    /// The bounds applied to incoming messages (default: the library's).
    void set_limits(const Limits& limits) noexcept { limits_ = limits.c(); }
    Limits limits() const noexcept { return Limits(limits_); }

    /// Reads at least one byte into `buf`, waiting at most `timeout`.
    size_t read(void* buf, size_t size, Timeout timeout = forever) {
        size_t n = 0;
        detail::check(ipc_reader_read(r_, static_cast<uint8_t*>(buf), size, timeout.ns(), &n));
        return n;
    }
    /// Fills all of `buf`.
    void read_exact(void* buf, size_t size, Timeout timeout = forever) {
        detail::check(ipc_reader_read_exact(r_, static_cast<uint8_t*>(buf), size, timeout.ns()));
    }
    /// Closes the channel from this end: unread bytes are dropped, later
    /// calls (here and at the writer) give IPC_CLOSED.
    void close() { detail::check(ipc_reader_close(r_)); }
    void set_spin(std::chrono::nanoseconds spin) { detail::check(ipc_reader_set_spin(r_, Timeout(spin).ns())); }
    Stats stats() const {
        Stats s{};
        detail::check(ipc_reader_stats(r_, &s));
        return s;
    }

    /// Receives the next message, which must be an `M` (another is skipped
    /// and reported as IPC_UNEXPECTED_ID), waiting at most `timeout`.
    template <class M>
    Received<M> recv(Timeout timeout = forever) {
        Received<M> out{};
        detail::DecodeJob<M> job{&out.message, limits_.max_depth, message_id_v<M>};
        ipc_result r = raw_recv(job, timeout);
        if (r != IPC_OK) {
            detail::raise_from(r, job);
        }
        out.header = job.header;
        return out;
    }
    /// As recv(), into `out`; `header`, if given, gets the envelope.
    /// Real-time safe when decoding an `M` is.
    template <class M>
    ipc_result recv(std::nothrow_t, M& out, Timeout timeout = forever, Header* header = nullptr) noexcept {
        detail::DecodeJob<M> job{&out, limits_.max_depth, message_id_v<M>};
        ipc_result r = raw_recv(job, timeout);
        if (header != nullptr) {
            *header = job.header;
        }
        return r;
    }

    /// Receives the next message whatever its ID: `f(const Header&,
    /// Decoder&)` reads its payload (what it leaves is skipped) and returns
    /// an ipc_result, which this returns. Exceptions from `f` are caught.
    template <class F>
    ipc_result recv_with(F&& f, Timeout timeout = forever) noexcept {
        struct Job {
            F* f;
            uint32_t depth;
        } job{&f, limits_.max_depth};
        auto cb = [](void* user, const ipc_header* h, ipc_decoder* dec) noexcept -> uint32_t {
            auto* j = static_cast<Job*>(user);
            Decoder d(dec, j->depth);
            ipc_result r;
            try {
                r = (*j->f)(*h, d);
            } catch (...) {
                r = IPC_MALFORMED;
            }
            ipc_result f2 = d.finish();
            return static_cast<uint32_t>(r != IPC_OK ? r : f2);
        };
        return ipc_message_recv(r_, &limits_, timeout.ns(), cb, &job);
    }

private:
    template <class M>
    ipc_result raw_recv(detail::DecodeJob<M>& job, Timeout timeout) noexcept {
        detail::require_message<M>();
        return ipc_message_recv(r_, &limits_, timeout.ns(), detail::decode_cb<M>, &job);
    }

    ipc_reader* r_ = nullptr;
    ipc_limits limits_ = Limits().c();
};

/// A shared segment of byte channels (Layer I). Move-only.
class Segment {
public:
    Segment() noexcept = default;
    explicit Segment(ipc_segment* s) noexcept : s_(s) {}
    Segment(Segment&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Segment& operator=(Segment&& o) noexcept {
        if (this != &o) {
            ipc_segment_free(s_);
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    /// Endpoints made from it stay valid.
    ~Segment() { ipc_segment_free(s_); }

    /// Creates a segment with one channel per capacity (powers of two).
    static Segment create(const std::vector<size_t>& capacities) {
        ipc_segment* s = nullptr;
        detail::check(ipc_segment_create(capacities.data(), capacities.size(), &s));
        return Segment(s);
    }
    /// Opens the segment another process created.
    static Segment open(const std::string& connection) {
        ipc_segment* s = nullptr;
        detail::check(ipc_segment_open(connection.c_str(), &s));
        return Segment(s);
    }

    ipc_segment* get() const noexcept { return s_; }
    explicit operator bool() const noexcept { return s_ != nullptr; }

    /// The string the peer opens it with (for a segment this process made).
    std::string connection_string() const {
        std::array<char, 128> small{};
        size_t len = 0;
        ipc_result r = ipc_segment_connection_string(s_, small.data(), small.size(), &len);
        if (r == IPC_OK) {
            return std::string(small.data(), len);
        }
        if (r != IPC_BUFFER_TOO_SMALL) {
            detail::raise(r);
        }
        std::string out(len + 1, '\0');
        detail::check(ipc_segment_connection_string(s_, &out[0], out.size(), &len));
        out.resize(len);
        return out;
    }
    Writer writer(size_t channel) const {
        ipc_writer* w = nullptr;
        detail::check(ipc_segment_writer(s_, channel, &w));
        return Writer(w);
    }
    Reader reader(size_t channel) const {
        ipc_reader* r = nullptr;
        detail::check(ipc_segment_reader(s_, channel, &r));
        return Reader(r);
    }
    /// Closes this process's ends of `channel` from any thread.
    void close(size_t channel) const { detail::check(ipc_segment_close(s_, channel)); }
    /// Starts watching the peer process; whether a watch runs.
    bool watch_peer() const {
        bool watching = false;
        detail::check(ipc_segment_watch_peer(s_, &watching));
        return watching;
    }

private:
    ipc_segment* s_ = nullptr;
};

/// A plain shared region (Layer I): bytes two processes map, with no ring.
/// One side creates it and hands its connection string to the other, which
/// opens it read-write (once) or read-only (a write through data() faults).
/// Move-only; the mapping goes with the object. What is read there may be
/// changed by the peer at any time: treat it as untrusted.
class Region {
public:
    Region() noexcept = default;
    /// Takes ownership of `r`.
    explicit Region(ipc_region* r) noexcept : r_(r) {}
    Region(Region&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
    Region& operator=(Region&& o) noexcept {
        if (this != &o) {
            ipc_region_free(r_);
            r_ = std::exchange(o.r_, nullptr);
        }
        return *this;
    }
    ~Region() { ipc_region_free(r_); }

    /// Creates a zero-filled region of `size` bytes (1 byte to 1 GiB).
    static Region create(size_t size) {
        ipc_region* r = nullptr;
        detail::check(ipc_region_create(size, &r));
        return Region(r);
    }
    /// Opens the region another process created, read-write (claims it).
    static Region open(const std::string& connection) {
        ipc_region* r = nullptr;
        detail::check(ipc_region_open(connection.c_str(), &r));
        return Region(r);
    }
    /// Opens the region another process created, read-only.
    static Region open_read_only(const std::string& connection) {
        ipc_region* r = nullptr;
        detail::check(ipc_region_open_read_only(connection.c_str(), &r));
        return Region(r);
    }
    /// As open() and open_read_only(), returning the result (no exception).
    static Result<Region> open(std::nothrow_t, const std::string& connection, bool read_only = false) noexcept {
        ipc_region* r = nullptr;
        ipc_result code = read_only ? ipc_region_open_read_only(connection.c_str(), &r)
                                    : ipc_region_open(connection.c_str(), &r);
        if (code != IPC_OK) {
            return code;
        }
        return Region(r);
    }

    ipc_region* get() const noexcept { return r_; }
    explicit operator bool() const noexcept { return r_ != nullptr; }

    /// The first byte (aligned to 128 bytes), or nullptr for an empty
    /// object. Only read through it if read_only().
    uint8_t* data() const noexcept {
        uint8_t* p = nullptr;
        size_t n = 0;
        if (r_ == nullptr || ipc_region_data(r_, &p, &n) != IPC_OK) {
            return nullptr;
        }
        return p;
    }
    /// Its length in bytes (0 for an empty object).
    size_t size() const noexcept {
        uint8_t* p = nullptr;
        size_t n = 0;
        if (r_ == nullptr || ipc_region_data(r_, &p, &n) != IPC_OK) {
            return 0;
        }
        return n;
    }
    /// Whether it was opened read-only.
    bool read_only() const noexcept {
        bool ro = false;
        return r_ != nullptr && ipc_region_is_read_only(r_, &ro) == IPC_OK && ro;
    }
    /// The string the peer opens it with.
    std::string connection_string() const {
        std::array<char, 128> small{};
        size_t len = 0;
        ipc_result r = ipc_region_connection_string(r_, small.data(), small.size(), &len);
        if (r == IPC_OK) {
            return std::string(small.data(), len);
        }
        if (r != IPC_BUFFER_TOO_SMALL) {
            detail::raise(r);
        }
        std::string out(len + 1, '\0');
        detail::check(ipc_region_connection_string(r_, &out[0], out.size(), &len));
        out.resize(len);
        return out;
    }
    /// Makes it impossible to open from now on (the mappings stay valid).
    void withdraw() const { detail::check(ipc_region_withdraw(r_)); }

private:
    ipc_region* r_ = nullptr;
};

// ---------------------------------------------------------------------------
// Layer III: the main link
// ---------------------------------------------------------------------------

class MainLink;

/// A message being handled, lent to a handler for its call.
class Incoming {
public:
    Incoming(const ipc_incoming* incoming, uint32_t max_depth) noexcept : in_(incoming), depth_(max_depth) {}
    Incoming(const Incoming&) = delete;
    Incoming& operator=(const Incoming&) = delete;

    const ipc_incoming* get() const noexcept { return in_; }
    /// Its envelope (asked for the first time it is needed: most handlers
    /// never look).
    const Header& header() const noexcept {
        if (!have_header_) {
            ipc_incoming_header(in_, &header_);
            have_header_ = true;
        }
        return header_;
    }
    /// Whether the sender waits for a reply.
    bool is_request() const noexcept { return (header().flags & IPC_FLAG_REQUEST) != 0; }
    /// Whether a reply (or an error reply) went out through this object.
    bool replied() const noexcept { return replied_; }
    /// The link it came on (it may send, request and reply from here).
    inline MainLink link() const noexcept;

    /// Answers with `reply` (its own type's ID). Throws ipc::Error.
    template <class M>
    void reply(const M& reply) {
        detail::EncodeJob<M> job{&reply};
        ipc_result r = raw_reply(job);
        if (r != IPC_OK) {
            detail::raise_from(r, job);
        }
    }
    template <class M>
    ipc_result reply(std::nothrow_t, const M& reply) noexcept {
        detail::EncodeJob<M> job{&reply};
        return raw_reply(job);
    }
    /// Answers the request with an error: the requester gets IPC_REMOTE
    /// (caused by IPC_REJECTED) with this text.
    void reply_error(const std::string& text) { detail::check(reply_error(std::nothrow, text.c_str())); }
    ipc_result reply_error(std::nothrow_t, const char* text) noexcept {
        replied_ = true;
        return ipc_incoming_reply_error(in_, text);
    }

private:
    template <class M>
    ipc_result raw_reply(detail::EncodeJob<M>& job) noexcept {
        detail::require_message<M>();
        replied_ = true;
        return ipc_incoming_reply(in_, message_id_v<M>, detail::encode_cb<M>, &job);
    }

    const ipc_incoming* in_;
    uint32_t depth_;
    mutable Header header_{};
    mutable bool have_header_ = false;
    bool replied_ = false;
};

namespace detail {

/// Answers a request whose handler failed, once.
inline void answer_failure(Incoming& in, const char* text) noexcept {
    if (in.is_request() && !in.replied()) {
        in.reply_error(std::nothrow, text);
    }
}

/// Whether a handler keeps the object of a handled message for the next
/// one, instead of freeing it and allocating another: for types a fresh
/// value can be made in place of (trivially copyable ones).
template <class M>
inline constexpr bool recycled_v = std::is_trivially_copyable_v<M> && std::is_default_constructible_v<M>;

template <class M, class F>
struct Handler {
    F f;
    uint32_t max_depth;
    /// The object of the last handled message, for the next one (see
    /// recycled_v). Decoding and handling both run on the listener thread
    /// (a nested dispatch too), the only one that touches it.
    M* spare = nullptr;

    ~Handler() { delete spare; }

    /// A value-initialised M to decode into.
    M* make() {
        if constexpr (recycled_v<M>) {
            if (M* m = std::exchange(spare, nullptr)) {
                return ::new (static_cast<void*>(m)) M();
            }
        }
        return new M();
    }
    /// Takes back the object of a handled (or undecodable) message.
    void done(std::unique_ptr<M>& m) noexcept {
        if constexpr (recycled_v<M>) {
            if (spare == nullptr) {
                spare = m.release();
            }
        }
        m.reset();
    }
};

template <class M, class F>
uint32_t handler_decode(void* user, const ipc_header* header, ipc_decoder* decoder, void** message_out) noexcept {
    auto* h = static_cast<Handler<M, F>*>(user);
    try {
        std::unique_ptr<M> message(h->make());
        Decoder d(decoder, size_t{header->len}, h->max_depth);
        ipc_result r = decode_payload(d, *message);
        if (r != IPC_OK) {
            h->done(message);
            return static_cast<uint32_t>(r);
        }
        *message_out = message.release();
        return IPC_OK;
    } catch (...) {
        return IPC_MALFORMED;
    }
}

/// Calls a handler for `m`: `f(m, in)` or `f(m)`.
template <class F, class M>
decltype(auto) call_handler(F& f, const M& m, Incoming& in) {
    if constexpr (std::is_invocable_v<F&, const M&, Incoming&>) {
        return f(m, in);
    } else {
        static_assert(std::is_invocable_v<F&, const M&>, "a handler takes (const M&, ipc::Incoming&) or (const M&)");
        (void)in;
        return f(m);
    }
}

template <class M, class F>
void handler_handle(void* user, void* message, const ipc_incoming* incoming) noexcept {
    std::unique_ptr<M> m(static_cast<M*>(message));
    auto* h = static_cast<Handler<M, F>*>(user);
    Incoming in(incoming, h->max_depth);
    try {
        call_handler(h->f, *m, in);
    } catch (const std::exception& e) {
        answer_failure(in, e.what());
    } catch (...) {
        answer_failure(in, "the handler threw an exception");
    }
    h->done(m);
}

template <class Req, class Rep, class F>
void request_handle(void* user, void* message, const ipc_incoming* incoming) noexcept {
    std::unique_ptr<Req> m(static_cast<Req*>(message));
    auto* h = static_cast<Handler<Req, F>*>(user);
    Incoming in(incoming, h->max_depth);
    try {
        Rep rep = call_handler(h->f, *m, in);
        if (in.is_request() && !in.replied()) {
            in.reply(rep);
        }
    } catch (const std::exception& e) {
        answer_failure(in, e.what());
    } catch (...) {
        answer_failure(in, "the handler threw an exception");
    }
    h->done(m);
}

template <class Rep, class F>
struct ReplyJob {
    F f;
    uint32_t max_depth;
    ipc_result decode_code = IPC_OK;
};

template <class Rep, class F>
uint32_t reply_decode(void* user, const ipc_header* header, ipc_decoder* decoder, void** reply_out) noexcept {
    auto* job = static_cast<ReplyJob<Rep, F>*>(user);
    if (header->id != message_id_v<Rep>) {
        job->decode_code = IPC_UNEXPECTED_ID;
        return IPC_UNEXPECTED_ID;
    }
    try {
        std::unique_ptr<Rep> reply(new Rep());
        Decoder d(decoder, size_t{header->len}, job->max_depth);
        job->decode_code = decode_payload(d, *reply);
        if (job->decode_code == IPC_OK) {
            *reply_out = reply.release();
        }
    } catch (...) {
        job->decode_code = IPC_MALFORMED;
    }
    return static_cast<uint32_t>(job->decode_code);
}

template <class Rep, class F>
void reply_done(void* user, uint32_t result, void* reply) noexcept {
    auto* job = static_cast<ReplyJob<Rep, F>*>(user);
    std::unique_ptr<Rep> r(static_cast<Rep*>(reply));
    ipc_result code = to_result(result);
    if (code != IPC_OK && job->decode_code != IPC_OK) {
        // The library reports a failed reply decode as malformed; this
        // side knows which failure it was.
        code = job->decode_code;
    }
    try {
        if (code == IPC_OK && r) {
            job->f(Result<Rep>(std::move(*r)));
        } else {
            job->f(Result<Rep>(code == IPC_OK ? IPC_MALFORMED : code));
        }
    } catch (...) {
        // Nowhere to report it: the reply callback's exceptions end here.
    }
}

template <class F>
struct Hook {
    F f;
};

}  // namespace detail

/// One side of the main link, lent by its Host or Plugin (valid as long as
/// they are). Every call is thread-safe; none is real-time safe. Handlers
/// and reply callbacks run on the link's listener thread; their exceptions
/// are caught there (a request whose handler threw is answered with an
/// error carrying the exception's text).
class MainLink {
public:
    MainLink() noexcept = default;
    MainLink(const ipc_main_link* link, uint32_t max_depth) noexcept : link_(link), depth_(max_depth) {}

    const ipc_main_link* get() const noexcept { return link_; }
    explicit operator bool() const noexcept { return link_ != nullptr; }

    /// Handles every incoming `M` with `handler(const M&, ipc::Incoming&)`
    /// (or `handler(const M&)`). The message is decoded while the link's
    /// reader is held, into a heap object the handler then gets.
    template <class M, class F>
    void on(F&& handler) const {
        detail::require_message<M>();
        using H = detail::Handler<M, std::decay_t<F>>;
        auto* h = new H{std::forward<F>(handler), depth_};
        // The library owns `h` from here on, and frees it on failure too.
        detail::check(ipc_main_link_on(link_, message_id_v<M>, detail::handler_decode<M, std::decay_t<F>>,
                                       detail::handler_handle<M, std::decay_t<F>>, h, detail::delete_cb<H>));
    }

    /// Answers every incoming `Req` request with what `handler(const Req&,
    /// ipc::Incoming&)` (or `handler(const Req&)`) returns: a `Rep`, or,
    /// if it throws, an error reply.
    template <class Req, class Rep = void, class F>
    void on_request(F&& handler) const {
        using G = std::decay_t<F>;
        using R = std::conditional_t<std::is_void_v<Rep>,
                                     std::decay_t<decltype(detail::call_handler(std::declval<G&>(), std::declval<const Req&>(),
                                                                                std::declval<Incoming&>()))>,
                                     Rep>;
        detail::require_message<Req>();
        detail::require_message<R>();
        using H = detail::Handler<Req, G>;
        auto* h = new H{std::forward<F>(handler), depth_};
        detail::check(ipc_main_link_on(link_, message_id_v<Req>, detail::handler_decode<Req, G>,
                                       detail::request_handle<Req, R, G>, h, detail::delete_cb<H>));
    }

    /// Removes the handler for `M`; whether there was one.
    template <class M>
    bool remove_handler() const {
        return remove_handler(message_id_v<M>);
    }
    bool remove_handler(uint32_t id) const {
        bool removed = false;
        detail::check(ipc_main_link_remove_handler(link_, id, &removed));
        return removed;
    }

    /// `f(const ipc::Header&)` gets the messages no handler takes.
    template <class F>
    void on_unknown(F&& f) const {
        using H = detail::Hook<std::decay_t<F>>;
        auto* h = new H{std::forward<F>(f)};
        auto cb = [](void* user, const ipc_header* header) noexcept {
            try {
                static_cast<H*>(user)->f(*header);
            } catch (...) {
            }
        };
        detail::check(ipc_main_link_on_unknown(link_, cb, h, detail::delete_cb<H>));
    }

    /// `f(ipc_result why)` runs once when the link goes down.
    template <class F>
    void on_disconnect(F&& f) const {
        using H = detail::Hook<std::decay_t<F>>;
        auto* h = new H{std::forward<F>(f)};
        auto cb = [](void* user, uint32_t reason) noexcept {
            try {
                static_cast<H*>(user)->f(detail::to_result(reason));
            } catch (...) {
            }
        };
        detail::check(ipc_main_link_on_disconnect(link_, cb, h, detail::delete_cb<H>));
    }

    bool is_connected() const {
        bool up = false;
        detail::check(ipc_main_link_is_connected(link_, &up));
        return up;
    }
    /// Waits until the link goes down: why, or std::nullopt if it is still
    /// up after `timeout`.
    std::optional<ipc_result> wait_disconnected(Timeout timeout = forever) const {
        uint32_t reason = 0;
        ipc_result r = ipc_main_link_wait_disconnected(link_, timeout.ns(), &reason);
        if (r == IPC_TIMEOUT) {
            return std::nullopt;
        }
        detail::check(r);
        return detail::to_result(reason);
    }
    /// Closes this side's sending end.
    void close() const { detail::check(ipc_main_link_close(link_)); }

    /// Sends `message`, waiting for ring space at most the link's send
    /// timeout (or `timeout`). Throws ipc::Error.
    template <class M>
    void send(const M& message) const {
        detail::EncodeJob<M> job{&message};
        if (ipc_result r = raw_send(job, nullptr); r != IPC_OK) {
            detail::raise_from(r, job);
        }
    }
    template <class M>
    void send(const M& message, Timeout timeout) const {
        detail::EncodeJob<M> job{&message};
        if (ipc_result r = raw_send(job, &timeout); r != IPC_OK) {
            detail::raise_from(r, job);
        }
    }
    template <class M>
    ipc_result send(std::nothrow_t, const M& message) const noexcept {
        detail::EncodeJob<M> job{&message};
        return raw_send(job, nullptr);
    }
    template <class M>
    ipc_result send(std::nothrow_t, const M& message, Timeout timeout) const noexcept {
        detail::EncodeJob<M> job{&message};
        return raw_send(job, &timeout);
    }

    /// Sends `request`; `on_reply(ipc::Result<Rep>)` gets the reply or why
    /// there is none, on the listener thread (exceptions it throws are
    /// dropped there).
    template <class Rep, class Req, class F>
    void request(const Req& request, F&& on_reply) const {
        detail::require_message<Req>();
        detail::require_message<Rep>();
        using G = std::decay_t<F>;
        using J = detail::ReplyJob<Rep, G>;
        detail::EncodeJob<Req> encode{&request};
        auto* job = new J{std::forward<F>(on_reply), depth_};
        // The library owns `job` from here on, and frees it on failure too.
        ipc_result r = ipc_main_link_request(link_, message_id_v<Req>, detail::encode_cb<Req>, &encode,
                                             detail::reply_decode<Rep, G>, detail::reply_done<Rep, G>, job,
                                             detail::delete_cb<J>);
        if (r != IPC_OK) {
            detail::raise_from(r, encode);
        }
    }

    /// Sends `request` and waits at most `timeout` in all for its `Rep`.
    /// Throws ipc::Error (IPC_REMOTE with the peer's text for an error
    /// reply, IPC_TIMEOUT, IPC_UNEXPECTED_ID, ...).
    template <class Rep, class Req>
    Rep request_timeout(const Req& request, Timeout timeout) const {
        Rep reply{};
        detail::EncodeJob<Req> encode{&request};
        detail::DecodeJob<Rep> decode{&reply, depth_, message_id_v<Rep>};
        ipc_result r = raw_request(encode, decode, timeout);
        if (r != IPC_OK) {
            detail::raise_from(r, decode, encode);
        }
        return reply;
    }
    /// As request_timeout(), returning the result.
    template <class Rep, class Req>
    Result<Rep> request_timeout(std::nothrow_t, const Req& request, Timeout timeout) const noexcept {
        Result<Rep> out{Rep{}};
        detail::EncodeJob<Req> encode{&request};
        detail::DecodeJob<Rep> decode{&*out, depth_, message_id_v<Rep>};
        ipc_result r = raw_request(encode, decode, timeout);
        if (r != IPC_OK) {
            return r;
        }
        return out;
    }

private:
    template <class M>
    ipc_result raw_send(detail::EncodeJob<M>& job, const Timeout* timeout) const noexcept {
        detail::require_message<M>();
        if (timeout != nullptr) {
            return ipc_main_link_send_timeout(link_, message_id_v<M>, timeout->ns(), detail::encode_cb<M>, &job);
        }
        return ipc_main_link_send(link_, message_id_v<M>, detail::encode_cb<M>, &job);
    }

    template <class Req, class Rep>
    ipc_result raw_request(detail::EncodeJob<Req>& encode, detail::DecodeJob<Rep>& decode,
                           Timeout timeout) const noexcept {
        detail::require_message<Req>();
        detail::require_message<Rep>();
        ipc_result r = ipc_main_link_request_timeout(link_, message_id_v<Req>, detail::encode_cb<Req>, &encode,
                                                     detail::decode_cb<Rep>, &decode, timeout.ns());
        if (r != IPC_OK && decode.code != IPC_OK) {
            // Which failure of the reply's decode it was (the library may
            // report it as malformed).
            return decode.code;
        }
        return r;
    }

    const ipc_main_link* link_ = nullptr;
    uint32_t depth_ = Decoder::default_max_depth;
};

inline MainLink Incoming::link() const noexcept {
    const ipc_main_link* l = nullptr;
    ipc_incoming_link(in_, &l);
    return MainLink(l, depth_);
}

// ---------------------------------------------------------------------------
// Layer III: the real-time link and audio
// ---------------------------------------------------------------------------

/// The shared audio buffers, lent by the RtCaller or to a serving handler:
/// planar float channels of frames() samples. Real-time safe; no call
/// throws.
class Audio {
public:
    Audio() noexcept = default;
    explicit Audio(ipc_audio* audio) noexcept : a_(audio) {
        if (a_ != nullptr) {
            ipc_audio_shape(a_, &inputs_, &outputs_, &frames_);
        }
    }

    ipc_audio* get() const noexcept { return a_; }
    /// Whether buffers are attached.
    explicit operator bool() const noexcept { return a_ != nullptr; }
    size_t inputs() const noexcept { return inputs_; }
    size_t outputs() const noexcept { return outputs_; }
    size_t frames() const noexcept { return frames_; }

    /// Input channel `channel` (empty if out of range).
    Span<float> input(size_t channel) const noexcept {
        float* p = nullptr;
        if (a_ == nullptr || ipc_audio_input(a_, channel, &p) != IPC_OK) {
            return {};
        }
        return {p, frames_};
    }
    /// Output channel `channel` (empty if out of range). What a peer wrote
    /// there is some float: check it if it matters.
    Span<float> output(size_t channel) const noexcept {
        float* p = nullptr;
        if (a_ == nullptr || ipc_audio_output(a_, channel, &p) != IPC_OK) {
            return {};
        }
        return {p, frames_};
    }

private:
    ipc_audio* a_ = nullptr;
    size_t inputs_ = 0;
    size_t outputs_ = 0;
    size_t frames_ = 0;
};

/// The host's end of the real-time link, owned by the audio thread.
/// Move-only.
class RtCaller {
public:
    RtCaller() noexcept = default;
    RtCaller(ipc_rt_caller* c, uint32_t max_depth) noexcept : c_(c), depth_(max_depth) {}
    RtCaller(RtCaller&& o) noexcept : c_(std::exchange(o.c_, nullptr)), depth_(o.depth_) {}
    RtCaller& operator=(RtCaller&& o) noexcept {
        if (this != &o) {
            ipc_rt_caller_free(c_);
            c_ = std::exchange(o.c_, nullptr);
            depth_ = o.depth_;
        }
        return *this;
    }
    ~RtCaller() { ipc_rt_caller_free(c_); }

    ipc_rt_caller* get() const noexcept { return c_; }
    explicit operator bool() const noexcept { return c_ != nullptr; }

    /// One call: sends `request`, waits at most `timeout` in all for its
    /// `Rep`. Throws ipc::Error.
    template <class Rep, class Req>
    Rep call(const Req& request, Timeout timeout) {
        Rep reply{};
        detail::EncodeJob<Req> encode{&request};
        detail::DecodeJob<Rep> decode{&reply, depth_, message_id_v<Rep>};
        ipc_result r = raw_call(encode, decode, timeout);
        if (r != IPC_OK) {
            detail::raise_from(r, decode, encode);
        }
        return reply;
    }
    /// The audio thread's call: into `reply`, no exception, no allocation
    /// (if encoding `Req` and decoding `Rep` allocate nothing, as for
    /// numbers, arrays and structs of them), no lock.
    template <class Req, class Rep>
    ipc_result call(std::nothrow_t, const Req& request, Rep& reply, Timeout timeout) noexcept {
        detail::EncodeJob<Req> encode{&request};
        detail::DecodeJob<Rep> decode{&reply, depth_, message_id_v<Rep>};
        return raw_call(encode, decode, timeout);
    }
    /// As above, returning an ipc::Result<Rep>.
    template <class Rep, class Req>
    Result<Rep> call(std::nothrow_t, const Req& request, Timeout timeout) noexcept {
        Result<Rep> out{Rep{}};
        if (ipc_result r = call(std::nothrow, request, *out, timeout); r != IPC_OK) {
            return r;
        }
        return out;
    }

    /// Creates shared audio buffers and hands them to the plugin (not
    /// real-time safe).
    void attach_audio(size_t inputs, size_t outputs, size_t frames, Timeout timeout) {
        detail::check(ipc_rt_caller_attach_audio(c_, inputs, outputs, frames, timeout.ns()));
    }
    /// The attached buffers (an empty view if none).
    Audio audio() const noexcept {
        ipc_audio* a = nullptr;
        if (ipc_rt_caller_audio(c_, &a) != IPC_OK) {
            return Audio();
        }
        return Audio(a);
    }
    /// Spins up to `spin` before sleeping for a reply.
    void set_spin(std::chrono::nanoseconds spin) { detail::check(ipc_rt_caller_set_spin(c_, Timeout(spin).ns())); }

private:
    template <class Req, class Rep>
    ipc_result raw_call(detail::EncodeJob<Req>& encode, detail::DecodeJob<Rep>& decode, Timeout timeout) noexcept {
        detail::require_message<Req>();
        detail::require_message<Rep>();
        return ipc_rt_caller_call(c_, message_id_v<Req>, detail::encode_cb<Req>, &encode, message_id_v<Rep>,
                                  detail::decode_cb<Rep>, &decode, timeout.ns());
    }

    ipc_rt_caller* c_ = nullptr;
    uint32_t depth_ = Decoder::default_max_depth;
};

/// Why a plugin should stop.
struct Stop {
    /// The host asked it to quit (or closed the link cleanly).
    bool quit;
    /// Otherwise, how the link went down.
    ipc_result reason;
};

namespace detail {

template <class Req, class F>
struct ServeJob {
    F* f;
    uint32_t max_depth;
};

template <class Req, class F>
uint32_t serve_cb(void* user, const ipc_header* header, ipc_decoder* decoder, ipc_audio* audio,
                  ipc_responder* responder) noexcept {
    auto* job = static_cast<ServeJob<Req, F>*>(user);
    if (header->id != message_id_v<Req>) {
        return IPC_UNEXPECTED_ID;
    }
    try {
        Req request{};
        Decoder d(decoder, size_t{header->len}, job->max_depth);
        if (ipc_result r = decode_payload(d, request); r != IPC_OK) {
            return static_cast<uint32_t>(r);
        }
        Audio view(audio);
        Audio* lent = audio != nullptr ? &view : nullptr;
        auto reply = [&] {
            if constexpr (std::is_invocable_v<F&, const Req&, Audio*>) {
                return (*job->f)(request, lent);
            } else {
                static_assert(std::is_invocable_v<F&, const Req&>,
                              "a serving handler takes (const Req&, ipc::Audio*) or (const Req&)");
                return (*job->f)(request);
            }
        }();
        using Rep = decltype(reply);
        require_message<Rep>();
        EncodeJob<Rep> encode{&reply};
        return ipc_responder_reply(responder, message_id_v<Rep>, encode_cb<Rep>, &encode);
    } catch (...) {
        return IPC_REJECTED;
    }
}

}  // namespace detail

/// The plugin's end of the real-time link, owned by its real-time thread.
/// Move-only.
class RtServer {
public:
    RtServer() noexcept = default;
    RtServer(ipc_rt_server* s, uint32_t max_depth) noexcept : s_(s), depth_(max_depth) {}
    RtServer(RtServer&& o) noexcept : s_(std::exchange(o.s_, nullptr)), depth_(o.depth_) {}
    RtServer& operator=(RtServer&& o) noexcept {
        if (this != &o) {
            ipc_rt_server_free(s_);
            s_ = std::exchange(o.s_, nullptr);
            depth_ = o.depth_;
        }
        return *this;
    }
    ~RtServer() { ipc_rt_server_free(s_); }

    ipc_rt_server* get() const noexcept { return s_; }
    explicit operator bool() const noexcept { return s_ != nullptr; }

    /// Serves `Req` requests with `handler(const Req&, ipc::Audio*)` (the
    /// audio view is null when the host attached none; `handler(const
    /// Req&)` also works), which returns the reply, until the host quits or
    /// goes. A request of another ID is answered with IPC_UNEXPECTED_ID, one
    /// whose handler throws with IPC_REJECTED (the host's call gets
    /// IPC_REMOTE). Per request: no allocation of its own, the request
    /// decoded on the stack.
    template <class Req, class F>
    Stop serve(F&& handler) {
        detail::require_message<Req>();
        using G = std::remove_reference_t<F>;
        detail::ServeJob<Req, G> job{&handler, depth_};
        ipc_stop stop{};
        detail::check(ipc_rt_server_serve(s_, detail::serve_cb<Req, G>, &job, &stop));
        return Stop{stop.quit, detail::to_result(stop.reason)};
    }
    /// Serves one request, waiting at most `timeout` (IPC_TIMEOUT if none
    /// came, IPC_CLOSED once the host quit).
    template <class Req, class F>
    ipc_result serve_one(Timeout timeout, F&& handler) noexcept {
        detail::require_message<Req>();
        using G = std::remove_reference_t<F>;
        detail::ServeJob<Req, G> job{&handler, depth_};
        return ipc_rt_server_serve_one(s_, timeout.ns(), detail::serve_cb<Req, G>, &job);
    }
    void set_spin(std::chrono::nanoseconds spin) { detail::check(ipc_rt_server_set_spin(s_, Timeout(spin).ns())); }

private:
    ipc_rt_server* s_ = nullptr;
    uint32_t depth_ = Decoder::default_max_depth;
};

// ---------------------------------------------------------------------------
// Layer III: host and plugin
// ---------------------------------------------------------------------------

/// How a plugin ended under Host::shutdown.
struct Ended {
    /// It did not exit in time and was killed.
    bool killed;
    /// It exited by itself with status 0.
    bool success;
    /// Its exit code, or -1 if a signal ended it.
    int code;
};

namespace detail {

template <class F>
struct SetupJob {
    F* f;
    uint32_t max_depth;
    std::exception_ptr error;
};

template <class F>
uint32_t setup_cb(void* user, const ipc_main_link* link) noexcept {
    auto* job = static_cast<SetupJob<F>*>(user);
    try {
        (*job->f)(MainLink(link, job->max_depth));
        return IPC_OK;
    } catch (...) {
        job->error = std::current_exception();
        return IPC_INVALID_ARGUMENT;
    }
}

/// After a failed spawn or connect: the setup's own exception if it threw
/// one, else the library's error.
template <class F>
[[noreturn]] void raise_setup(ipc_result code, SetupJob<F>& job) {
    if (job.error) {
        std::rethrow_exception(job.error);
    }
    raise(code);
}

struct NoSetup {
    void operator()(const MainLink&) const noexcept {}
};

}  // namespace detail

/// A running plugin process and the host's ends of its links. Move-only;
/// destroying it closes the links and kills the plugin if it still runs.
class Host {
public:
    Host() noexcept = default;
    Host(Host&& o) noexcept : h_(std::exchange(o.h_, nullptr)), depth_(o.depth_) {}
    Host& operator=(Host&& o) noexcept {
        if (this != &o) {
            ipc_host_free(h_);
            h_ = std::exchange(o.h_, nullptr);
            depth_ = o.depth_;
        }
        return *this;
    }
    ~Host() { ipc_host_free(h_); }

    /// Starts `program` with `args` (and the connection string), waits for
    /// its handshake; `setup(ipc::MainLink)` registers handlers before any
    /// message is dispatched (an exception it throws ends the spawn and is
    /// rethrown here). Throws ipc::Error.
    template <class F = detail::NoSetup>
    static Host spawn(const std::string& program, const std::vector<std::string>& args = {},
                      const Config& config = Config(), F&& setup = F()) {
        std::vector<const char*> argv;
        argv.reserve(args.size());
        for (const auto& a : args) {
            argv.push_back(a.c_str());
        }
        const char* none = nullptr;
        const ipc_config c = config.c();
        using G = std::remove_reference_t<F>;
        detail::SetupJob<G> job{&setup, c.limits.max_depth, nullptr};
        ipc_host* h = nullptr;
        ipc_result r = ipc_host_spawn(program.c_str(), argv.empty() ? &none : argv.data(), argv.size(), &c,
                                      detail::setup_cb<G>, &job, &h);
        if (r != IPC_OK) {
            detail::raise_setup(r, job);
        }
        Host host;
        host.h_ = h;
        host.depth_ = c.limits.max_depth;
        return host;
    }

    ipc_host* get() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != nullptr; }

    MainLink main_link() const {
        const ipc_main_link* l = nullptr;
        detail::check(ipc_host_main_link(h_, &l));
        return MainLink(l, depth_);
    }
    /// The real-time end, once (IPC_TAKEN the second time).
    RtCaller take_rt() {
        ipc_rt_caller* c = nullptr;
        detail::check(ipc_host_take_rt(h_, &c));
        return RtCaller(c, depth_);
    }
    uint32_t plugin_pid() const {
        uint32_t pid = 0;
        detail::check(ipc_host_plugin_pid(h_, &pid));
        return pid;
    }
    /// The plugin's exit code if it has exited (-1 for a signal).
    std::optional<int> try_wait() {
        bool exited = false;
        int32_t code = 0;
        detail::check(ipc_host_try_wait(h_, &exited, &code));
        return exited ? std::optional<int>(code) : std::nullopt;
    }
    /// Kills the plugin at once.
    void kill() { detail::check(ipc_host_kill(h_)); }
    /// Sends Quit, closes this side, waits at most `timeout` for the plugin
    /// to exit, then kills it. The Host is empty afterwards.
    Ended shutdown(Timeout timeout) {
        ipc_ended ended{};
        ipc_result r = ipc_host_shutdown(std::exchange(h_, nullptr), timeout.ns(), &ended);
        detail::check(r);
        return Ended{ended.killed, ended.success, ended.code};
    }

private:
    ipc_host* h_ = nullptr;
    uint32_t depth_ = Decoder::default_max_depth;
};

/// The plugin's ends of the links. Move-only; destroying it closes them
/// (the host sees a clean exit).
class Plugin {
public:
    Plugin() noexcept = default;
    Plugin(Plugin&& o) noexcept : p_(std::exchange(o.p_, nullptr)), depth_(o.depth_) {}
    Plugin& operator=(Plugin&& o) noexcept {
        if (this != &o) {
            ipc_plugin_free(p_);
            p_ = std::exchange(o.p_, nullptr);
            depth_ = o.depth_;
        }
        return *this;
    }
    ~Plugin() { ipc_plugin_free(p_); }

    /// Connects to the link named by `connection`, handshakes, runs
    /// `setup(ipc::MainLink)`, then starts listening. Throws ipc::Error (or
    /// what `setup` threw).
    template <class F = detail::NoSetup>
    static Plugin connect(const std::string& connection, const Config& config = Config(), F&& setup = F()) {
        const ipc_config c = config.c();
        using G = std::remove_reference_t<F>;
        detail::SetupJob<G> job{&setup, c.limits.max_depth, nullptr};
        ipc_plugin* p = nullptr;
        ipc_result r = ipc_plugin_connect(connection.c_str(), &c, detail::setup_cb<G>, &job, &p);
        if (r != IPC_OK) {
            detail::raise_setup(r, job);
        }
        return Plugin(p, c.limits.max_depth);
    }
    /// As connect(), with the connection string from IPC_LINK_CONNECTION
    /// or the process's last argument.
    template <class F = detail::NoSetup>
    static Plugin connect_from_env(const Config& config = Config(), F&& setup = F()) {
        const ipc_config c = config.c();
        using G = std::remove_reference_t<F>;
        detail::SetupJob<G> job{&setup, c.limits.max_depth, nullptr};
        ipc_plugin* p = nullptr;
        ipc_result r = ipc_plugin_connect_from_env(&c, detail::setup_cb<G>, &job, &p);
        if (r != IPC_OK) {
            detail::raise_setup(r, job);
        }
        return Plugin(p, c.limits.max_depth);
    }

    ipc_plugin* get() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }

    MainLink main_link() const {
        const ipc_main_link* l = nullptr;
        detail::check(ipc_plugin_main_link(p_, &l));
        return MainLink(l, depth_);
    }
    /// The real-time end, once (IPC_TAKEN the second time).
    RtServer take_rt() {
        ipc_rt_server* s = nullptr;
        detail::check(ipc_plugin_take_rt(p_, &s));
        return RtServer(s, depth_);
    }
    /// Waits until the host says Quit, closes the link or goes away; at
    /// most `timeout` (std::nullopt if none of that happened by then).
    std::optional<Stop> wait_for_stop(Timeout timeout = forever) const {
        ipc_stop stop{};
        ipc_result r = ipc_plugin_wait_for_stop(p_, timeout.ns(), &stop);
        if (r == IPC_TIMEOUT) {
            return std::nullopt;
        }
        detail::check(r);
        return Stop{stop.quit, detail::to_result(stop.reason)};
    }

private:
    Plugin(ipc_plugin* p, uint32_t depth) noexcept : p_(p), depth_(depth) {}

    ipc_plugin* p_ = nullptr;
    uint32_t depth_ = Decoder::default_max_depth;
};

}  // namespace ipc

#endif  // IPC_HPP
