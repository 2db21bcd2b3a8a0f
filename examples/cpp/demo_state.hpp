// demo_state.hpp: the synthesizer's saved state, in the format of the Rust
// demo (crates/ipc-link/examples/demo/state.rs): a 24-byte header (magic
// "DEMOSYN1", the filter cut-off and the volume as little-endian floats,
// the state's length as a little-endian u64), then a deterministic body
// derived from the parameters, so that either side checks every byte
// without keeping a copy. The C++ plugin saves 32 MiB, the Rust one 64 MiB;
// each side loads a state of any length its header names.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_DEMO_STATE_HPP
#define IPC_DEMO_STATE_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace demo {

/// What the C++ plugin saves: 32 MiB.
inline constexpr size_t state_len = size_t{32} << 20;

/// The parameters a state carries.
struct Params {
    /// Cut-off of the low-pass filter, in Hz.
    float filter_hz;
    /// Output gain.
    float volume;
};

namespace state {

inline constexpr char magic[8] = {'D', 'E', 'M', 'O', 'S', 'Y', 'N', '1'};
inline constexpr size_t header = 24;

inline uint64_t splitmix64(uint64_t z) noexcept {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

inline uint32_t bits(float f) noexcept {
    uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    return b;
}

inline uint64_t seed(const Params& p) noexcept {
    return splitmix64(uint64_t{bits(p.filter_hz)} << 32 | bits(p.volume));
}

/// Body word `i` of the state with this seed.
inline uint64_t word(uint64_t seed, size_t i) noexcept {
    return splitmix64(seed ^ (static_cast<uint64_t>(i) * 0xD6E8FEB86659FD93ull));
}

inline void put_le(uint8_t* out, uint64_t v, size_t n) noexcept {
    for (size_t k = 0; k < n; ++k) {
        out[k] = static_cast<uint8_t>(v >> (8 * k));
    }
}

inline uint64_t get_le(const uint8_t* in, size_t n) noexcept {
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) {
        v |= uint64_t{in[k]} << (8 * k);
    }
    return v;
}

}  // namespace state

/// Builds the state of `p`, `len` bytes (24 + a multiple of 8).
inline std::vector<uint8_t> save_state(const Params& p, size_t len = state_len) {
    std::vector<uint8_t> blob(len);
    std::memcpy(blob.data(), state::magic, 8);
    state::put_le(&blob[8], state::bits(p.filter_hz), 4);
    state::put_le(&blob[12], state::bits(p.volume), 4);
    state::put_le(&blob[16], len, 8);
    const uint64_t seed = state::seed(p);
    const size_t words = (len - state::header) / 8;
    for (size_t i = 0; i < words; ++i) {
        state::put_le(&blob[state::header + 8 * i], state::word(seed, i), 8);
    }
    return blob;
}

/// Checks every byte of a state against what its header describes: the
/// parameters, or (in `problem`) why not.
inline std::optional<Params> load_state(const uint8_t* blob, size_t len, std::string& problem) {
    if (len < state::header || (len - state::header) % 8 != 0) {
        problem = std::to_string(len) + " bytes: not a state of this synthesizer";
        return std::nullopt;
    }
    if (std::memcmp(blob, state::magic, 8) != 0) {
        problem = "not a state of this synthesizer";
        return std::nullopt;
    }
    const uint64_t claimed = state::get_le(blob + 16, 8);
    if (claimed != len) {
        problem = std::to_string(len) + " bytes, its header says " + std::to_string(claimed);
        return std::nullopt;
    }
    Params p{};
    const uint32_t f = static_cast<uint32_t>(state::get_le(blob + 8, 4));
    const uint32_t v = static_cast<uint32_t>(state::get_le(blob + 12, 4));
    std::memcpy(&p.filter_hz, &f, 4);
    std::memcpy(&p.volume, &v, 4);
    const uint64_t seed = state::seed(p);
    const size_t words = (len - state::header) / 8;
    for (size_t i = 0; i < words; ++i) {
        const uint8_t* at = blob + state::header + 8 * i;
        const uint64_t expected = state::word(seed, i);
        if (state::get_le(at, 8) != expected) {
            size_t byte = 0;
            while (byte < 8 && at[byte] == static_cast<uint8_t>(expected >> (8 * byte))) {
                ++byte;
            }
            problem = "byte " + std::to_string(state::header + 8 * i + byte) + " differs";
            return std::nullopt;
        }
    }
    return p;
}

/// A 64-bit checksum of `len` bytes (both sides compute it to compare).
inline uint64_t checksum(const uint8_t* bytes, size_t len) noexcept {
    uint64_t h = 0x243F6A8885A308D3ull ^ static_cast<uint64_t>(len);
    const auto mix = [&h](uint64_t w) {
        h = (h ^ w) * 0x9E3779B97F4A7C15ull;
        h = h << 29 | h >> 35;
    };
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        mix(state::get_le(bytes + i, 8));
    }
    for (; i < len; ++i) {
        mix(bytes[i]);
    }
    return h;
}

}  // namespace demo

#endif  // IPC_DEMO_STATE_HPP
