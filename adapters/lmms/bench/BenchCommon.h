// BenchCommon.h: what the lmms_* benchmark programs share: the period's
// shape, the MIDI events the hosts send and the plugins check, how a
// plugin reports what it received, and pinning to a CPU.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_LMMS_BENCH_COMMON_H
#define IPC_LMMS_BENCH_COMMON_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#if defined(__linux__)
#include <sched.h>
#endif

namespace bench {

/// One period: two channels of 256 frames, in and out.
constexpr std::size_t frames = 256;
constexpr std::size_t channels = 2;

/// The five numbers of LMMS's IdMidiEvent.
struct Midi {
    int type;
    int channel;
    int param0;
    int param1;
    int offset;
};

/// The `i`th event of a stream (a note-on whose fields all change).
inline Midi midiEvent(std::uint64_t i) {
    return Midi{0x90, static_cast<int>(i % 16), static_cast<int>(i % 128), static_cast<int>((i >> 7) % 128),
                static_cast<int>(i % frames)};
}

/// The plugin side's account of the stream: how many events came, and how
/// many of them were not the one due.
struct MidiCount {
    std::uint64_t seen = 0;
    std::uint64_t wrong = 0;

    void add(const Midi& m) {
        const Midi due = midiEvent(seen++);
        if (m.type != due.type || m.channel != due.channel || m.param0 != due.param0 || m.param1 != due.param1 ||
            m.offset != due.offset) {
            ++wrong;
        }
    }

    /// Into the first output frames (interleaved, two floats a frame):
    /// 16 bits a float, exact.
    void write(float* out) const {
        out[0] = static_cast<float>(seen & 0xffff);
        out[1] = static_cast<float>((seen >> 16) & 0xffff);
        out[2] = static_cast<float>((seen >> 32) & 0xffff);
        out[3] = static_cast<float>(wrong > 0xffff ? 0xffff : wrong);
    }

    static MidiCount read(const float* out) {
        MidiCount c;
        c.seen = static_cast<std::uint64_t>(out[0]) | static_cast<std::uint64_t>(out[1]) << 16 |
                 static_cast<std::uint64_t>(out[2]) << 32;
        c.wrong = static_cast<std::uint64_t>(out[3]);
        return c;
    }
};

/// What the plugin does with a period: copies its input to its output
/// (the process rows) or reports the MIDI events so far (the MIDI rows).
enum class Mode { copy, midi };

inline bool parseMode(const char* s, Mode& mode) {
    const std::string m = s;
    if (m == "copy") {
        mode = Mode::copy;
        return true;
    }
    if (m == "midi") {
        mode = Mode::midi;
        return true;
    }
    return false;
}

/// Pins the calling thread (and the threads it starts later) to `cpu`
/// ("-": anywhere). False if that failed.
inline bool pinTo(const char* cpu) {
    if (std::string(cpu) == "-") {
        return true;
    }
#if defined(__linux__)
    char* end = nullptr;
    const long n = std::strtol(cpu, &end, 10);
    if (*end != '\0' || n < 0 || n >= CPU_SETSIZE) {
        return false;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<int>(n), &set);
    return sched_setaffinity(0, sizeof set, &set) == 0;
#else
    return false;
#endif
}

}  // namespace bench

#endif  // IPC_LMMS_BENCH_COMMON_H
