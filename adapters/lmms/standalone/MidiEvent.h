// MidiEvent.h (stand-in): LMMS's MIDI event, for builds outside LMMS's
// tree. The same name, constructor and members, in the same order, as
// LMMS's include/MidiEvent.h (type, meta event, channel, a union of two
// 16-bit parameters, the SysEx data, the source port and the source), with
// the accessors the adapter and the tests use.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef LMMS_MIDI_EVENT_H
#define LMMS_MIDI_EVENT_H

#include "Midi.h"

#include <cstdint>

namespace lmms {

class MidiEvent {
public:
    enum class Source { Internal, External };

    MidiEvent(MidiEventTypes type = MidiActiveSensing, int8_t channel = 0, int16_t param1 = 0,
              int16_t param2 = 0, const void* sourcePort = nullptr, Source source = Source::External)
        : m_type(type),
          m_metaEvent(MidiMetaInvalid),
          m_channel(channel),
          m_sysExData(nullptr),
          m_sourcePort(sourcePort),
          m_source(source) {
        m_data.m_param[0] = param1;
        m_data.m_param[1] = param2;
    }

    MidiEventTypes type() const { return m_type; }
    int8_t channel() const { return m_channel; }
    void setChannel(int8_t channel) { m_channel = channel; }
    int16_t param(int i) const { return m_data.m_param[i]; }
    int16_t key() const { return param(0); }
    uint8_t velocity() const { return m_data.m_param[1] & 0x7F; }
    int16_t pitchBend() const { return param(0); }
    uint8_t controllerNumber() const { return param(0) & 0x7F; }
    uint8_t controllerValue() const { return static_cast<uint8_t>(param(1)); }
    const void* sourcePort() const { return m_sourcePort; }
    Source source() const { return m_source; }

private:
    MidiEventTypes m_type;
    MidiMetaEventType m_metaEvent;
    int8_t m_channel;
    union {
        int16_t m_param[2];
        uint8_t m_bytes[4];
        int32_t m_sysExDataLen;
    } m_data;
    const char* m_sysExData;
    const void* m_sourcePort;
    Source m_source;
};

}  // namespace lmms

#endif  // LMMS_MIDI_EVENT_H
