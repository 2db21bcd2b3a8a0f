// protocol.h: what the adapter's test host (test_host.cpp) and its remote
// programs (synth_client.cpp, effect_client.cpp) say beyond LMMS's shared
// messages, numbered from IdUserBase as LMMS's plugins number theirs.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_LMMS_TESTS_PROTOCOL_H
#define IPC_LMMS_TESTS_PROTOCOL_H

#include "RemotePluginBase.h"

#include <cstdint>
#include <string>

namespace lmms {
namespace test {

enum TestMessageIDs {
    /// Host -> plugin; the answer (same ID): sample rate, buffer size,
    /// input count, output count, process ID, the tempo block's buffer
    /// size and sample rate.
    IdReport = IdUserBase,
    /// Host -> plugin [int, float, string]; the answer: [getInt(0),
    /// getFloat(1), getString(2), getString(1)].
    IdEcho,
    /// Host -> plugin: exit at once, without closing anything (a crash).
    IdCrash,
    /// Host -> plugin [ms]: the next period sleeps this long.
    IdHang,
    /// Host -> plugin; the answer: [events seen, checksum (text)].
    IdMidiReport,
    /// Host -> plugin [n]: the message thread and the GUI thread each send
    /// n IdChatter messages, at the same time.
    IdChatter,
    /// Plugin -> host [thread (0 message loop, 1 GUI), sequence, text].
    IdChatterLine,
    /// Host -> plugin [gain] (the effect).
    IdSetGain,
    /// Host -> plugin [inputs, outputs] (the effect): it changes its
    /// channel counts.
    IdChangeIO,
    /// Host -> plugin: the effect's "load the plugin": it sets its channel
    /// counts and sends InitDone.
    IdLoad,
    /// Host -> plugin: the message loop ignores IdQuit from now on.
    IdIgnoreQuit,
};

/// The text of chatter line `seq` of thread `thread` (long enough to span
/// several ring writes when two threads send at once).
inline std::string chatterText(int thread, int seq) {
    std::string s = "thread " + std::to_string(thread) + " line " + std::to_string(seq) + " ";
    s.append(static_cast<size_t>(200 + seq % 300), static_cast<char>('a' + (seq + thread) % 26));
    return s;
}

/// A running checksum of MIDI events, in order.
inline std::uint64_t midiChecksum(std::uint64_t sum, int type, int channel, int p0, int p1, std::uint64_t offset) {
    for (std::uint64_t v : {static_cast<std::uint64_t>(type), static_cast<std::uint64_t>(channel),
                            static_cast<std::uint64_t>(p0), static_cast<std::uint64_t>(p1), offset}) {
        sum = (sum ^ v) * 0x100000001b3ull;
    }
    return sum;
}

/// The frequency of MIDI key `key`.
inline double keyFrequency(int key) {
    double f = 440.0;
    for (int k = 69; k < key; ++k) {
        f *= 1.0594630943592953;
    }
    for (int k = 69; k > key; --k) {
        f /= 1.0594630943592953;
    }
    return f;
}

}  // namespace test
}  // namespace lmms

#endif  // IPC_LMMS_TESTS_PROTOCOL_H
