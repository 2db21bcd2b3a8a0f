// VstSyncData.h (stand-in): the tempo and position block the host
// publishes to its plugins, for builds outside LMMS's tree. Field for
// field LMMS's include/VstSyncData.h, in the same order and with the same
// types, so that its layout is the same (48 bytes on x86-64 and for
// Windows programs; 44 on i686 Linux, whose doubles align to 4 in a
// struct: the fields sit at the same offsets either way).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef LMMS_VST_SYNC_DATA_H
#define LMMS_VST_SYNC_DATA_H

namespace lmms {

struct VstSyncData {
    double ppqPos;
    int timeSigNumer;
    int timeSigDenom;
    bool isPlaying;
    bool isCycle;
    float cycleStart;
    float cycleEnd;
    bool playbackJumped;
    int bufferSize;
    int sampleRate;
    int bpm;
};

}  // namespace lmms

#endif  // LMMS_VST_SYNC_DATA_H
