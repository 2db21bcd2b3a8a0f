// Midi.h (stand-in): the MIDI event types of LMMS's include/Midi.h (an
// unscoped enum, with LMMS's values), for builds outside LMMS's tree.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef LMMS_MIDI_H
#define LMMS_MIDI_H

namespace lmms {

enum MidiEventTypes {
    MidiNoteOff = 0x80,
    MidiNoteOn = 0x90,
    MidiKeyPressure = 0xA0,
    MidiControlChange = 0xB0,
    MidiProgramChange = 0xC0,
    MidiChannelPressure = 0xD0,
    MidiPitchBend = 0xE0,
    MidiSysEx = 0xF0,
    MidiActiveSensing = 0xFE,
    MidiSystemReset = 0xFF,
};

enum MidiMetaEventTypes {
    MidiMetaInvalid = 0x00,
};
using MidiMetaEventType = MidiMetaEventTypes;

const int MidiMaxVelocity = 127;
const int MidiMaxKey = 127;

}  // namespace lmms

#endif  // LMMS_MIDI_H
