// RemotePluginHost.h: the host side of LMMS's remote-plugin API over
// libipc, without Qt: RemotePlugin's public methods (init, process,
// processMidiEvent, updateSampleRate, show/hide/toggle UI, isUIVisible,
// lock, failed, waits) and its message handling. LMMS keeps a thin QObject
// shell, `class RemotePlugin : public QObject, public RemotePluginHost`,
// which turns QStrings into std::strings, resolves the program's path, and
// gives the engine's values through the three protected virtuals
// (docs/LMMS.md shows it).
//
// What differs from LMMS's RemotePlugin (failure handling and stage 3):
//  - a dead plugin is noticed within milliseconds: waits return,
//    isInvalid() and failed() are true, process() returns false with
//    silence;
//  - process() waits at most its timeout (HostOptions::processTimeout,
//    default one period): a hung plugin costs that, never a freeze; a reply
//    that comes later is recognised as late;
//  - waitForMessage waits at most HostOptions::messageTimeout (30 s);
//  - the destructor sends IdQuit, waits HostOptions::quitTimeout (1 s),
//    then kills;
//  - at stage 3 the link is read all the time: what the plugin sends
//    while nobody waits is queued (messagesLeft is true; process() and the
//    waits handle it, as before), and messagesArrived() is called;
//    MIDI events travel with the next process() call.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef LMMS_REMOTE_PLUGIN_HOST_H
#define LMMS_REMOTE_PLUGIN_HOST_H

#include "RemotePluginBase.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "LmmsTypes.h"
#include "MidiEvent.h"
#include "SampleFrame.h"
#include "VstSyncData.h"

namespace lmms {

class LMMS_EXPORT RemotePluginHost : public RemotePluginBase {
public:
    using Options = remote_ipc::HostOptions;

    explicit RemotePluginHost(Options options = Options());
    /// Sends IdQuit, waits for the plugin to exit (quitTimeout), then kills
    /// it.
    ~RemotePluginHost() override;

    bool isRunning();

    /// Starts `pluginExecutable` (a path) with the connection in argv[1]
    /// and `extraArgs` after it, sends SyncKey and the audio buffer's key,
    /// and waits for InitDone if asked. Returns failed().
    bool init(const std::string& pluginExecutable, bool waitForInitDoneMsg,
              const std::vector<std::string>& extraArgs = {});

    void waitForHostInfoGotten() { m_failed = waitForMessage(IdHostInfoGotten).id != IdHostInfoGotten; }

    void waitForInitDone(bool busyWaiting = true) {
        m_failed = waitForMessage(IdInitDone, busyWaiting).id != IdInitDone;
    }

    bool processMessage(const message& m) override;

    /// One period: `inBuf` (may be null) to the plugin, its output into
    /// `outBuf`. False (and silence) if it did not process: failed, not
    /// ready, dead, or later than the timeout.
    bool process(const SampleFrame* inBuf, SampleFrame* outBuf);

    void processMidiEvent(const MidiEvent& event, const f_cnt_t offset);

    void updateSampleRate(sample_rate_t sampleRate) {
        lock();
        sendMessage(message(IdSampleRateInformation).addInt(static_cast<int>(sampleRate)));
        waitForMessage(IdInformationUpdated, true);
        unlock();
    }

    virtual void toggleUI() {
        lock();
        sendMessage(IdToggleUI);
        unlock();
    }

    /// 1 if the plugin's UI is visible, 0 if not, -1 if it did not say.
    int isUIVisible() {
        lock();
        sendMessage(IdIsUIVisible);
        unlock();
        message m = waitForMessage(IdIsUIVisible);
        return m.id != IdIsUIVisible ? -1 : m.getInt() ? 1 : 0;
    }

    /// Whether starting failed or the plugin is gone.
    bool failed() const { return m_failed || isInvalid() || (host() != nullptr && host()->peerDied()); }

    /// LMMS's communication lock (recursive).
    void lock() { m_commMutex.lock(); }
    void unlock() { m_commMutex.unlock(); }

    virtual void showUI() {
        lock();
        sendMessage(IdShowUI);
        unlock();
    }

    virtual void hideUI() {
        lock();
        sendMessage(IdHideUI);
        unlock();
    }

    // Beyond LMMS's API.

    const Options& options() const { return m_options; }
    /// How long process() waits (0: one period, at least 2 ms).
    void setProcessTimeout(std::chrono::nanoseconds timeout) { m_options.processTimeout = timeout; }
    /// The engine's values when no shell overrides them (default 256
    /// frames, 44100 Hz).
    void setEngine(f_cnt_t framesPerPeriod, sample_rate_t sampleRate) {
        m_framesPerPeriod = framesPerPeriod;
        m_sampleRate = sampleRate;
    }
    /// Publishes the tempo/position block now.
    void setSyncData(const VstSyncData& data);
    /// The plugin's process ID (0 if unknown).
    std::uint32_t pluginPid() const;

protected:
    void setSplittedChannels(bool on) { m_splitChannels = on; }

    /// The engine's frames per period (LMMS: AudioEngine::framesPerPeriod).
    virtual f_cnt_t framesPerPeriod() const { return m_framesPerPeriod; }
    /// The engine's sample rate (LMMS: AudioEngine::outputSampleRate).
    virtual sample_rate_t outputSampleRate() const { return m_sampleRate; }
    /// The block to publish before each period (LMMS: the song's sync
    /// data); null keeps what was published.
    virtual const VstSyncData* currentSyncData() const { return nullptr; }
    /// Stage 3: the plugin sent something while nobody waited (on the
    /// link's listener thread: post an event and call
    /// fetchAndProcessAllMessages from the main thread).
    virtual void messagesArrived() {}

    std::atomic<bool> m_failed;

private:
    static void arrived(void* self);
    void resizeSharedProcessingMemory();
    /// Sends the period's request and waits for its answer.
    remote_ipc::Processed roundTrip(bool wantOutput);
    std::chrono::nanoseconds processTimeout() const;
    remote_ipc::HostEndpoint* host() const;

    Options m_options;
    std::recursive_mutex m_commMutex;
    bool m_splitChannels = false;
    std::size_t m_audioBufferSize = 0;
    std::atomic<int> m_inputCount;
    std::atomic<int> m_outputCount;
    f_cnt_t m_framesPerPeriod = 256;
    sample_rate_t m_sampleRate = 44100;
    /// ProcessingDone answers still to come for periods that timed out
    /// (stages 1 and 2).
    int m_lateReplies = 0;
};

inline bool RemotePluginHost::process(const SampleFrame* inBuf, SampleFrame* outBuf) {
    // A SampleFrame is two floats with nothing else (LMMS's and the
    // stand-in): frames then copy as a whole.
    constexpr bool framesAreTwoFloats =
        std::is_trivially_copyable_v<SampleFrame> && sizeof(SampleFrame) == 2 * sizeof(float);
    const auto frames = static_cast<std::size_t>(framesPerPeriod());
    auto silence = [&] {
        if (outBuf != nullptr) {
            zeroSampleFrames(outBuf, frames);
        }
        return false;
    };
    if (failed()) {
        return silence();
    }
    // At stage 3 the real-time call itself reports a dead or closed plugin
    // at once (the death watch); asking the OS every period would cost a
    // system call on the audio thread.
    if (ipcStage() != static_cast<int>(remote_ipc::Stage::links) && !isRunning()) {
        // Gone: every wait returns from now on.
        invalidate();
        return silence();
    }
    // The whole period under the lock: the buffer is replaced (new channel
    // counts) only between periods.
    std::lock_guard<RemotePluginHost> locked(*this);
    if (ipcStage() == static_cast<int>(remote_ipc::Stage::links)) {
        // What the plugin sent meanwhile, handled here as LMMS's wait for
        // ProcessingDone handles it.
        fetchAndProcessAllMessages();
    }
    const remote_ipc::AudioBlock audio = host()->audio(processTimeout());
    if (!audio || audio.frames < frames) {
        // No buffer yet: handle what came (the plugin's channel counts).
        if (m_audioBufferSize == 0) {
            fetchAndProcessAllMessages();
        }
        return silence();
    }
    float* buffer = audio.data;
    const std::size_t inputs = std::min<std::size_t>(audio.inputs, 2);
    const bool wholeFrames =
        inBuf != nullptr && !m_splitChannels && audio.inputs == 2 && framesAreTwoFloats;
    // The inputs only: the plugin's side zeroes the outputs before its
    // process() (RemotePluginClient::doProcessing), where the lines are its
    // own; zeroing them here would move them to this core and back every
    // period.
    if (wholeFrames) {
        // LMMS's common case, two interleaved inputs: one copy, and zeros
        // only where the period leaves the inputs unwritten.
        std::memcpy(buffer, static_cast<const void*>(inBuf), frames * sizeof(SampleFrame));
        std::memset(buffer + 2 * frames, 0, 2 * (audio.frames - frames) * sizeof(float));
    } else {
        std::memset(buffer, 0, audio.inputs * audio.frames * sizeof(float));
    }
    if (!wholeFrames && inBuf != nullptr && inputs > 0) {
        if (m_splitChannels) {
            for (std::size_t ch = 0; ch < inputs; ++ch) {
                for (std::size_t f = 0; f < frames; ++f) {
                    buffer[ch * audio.frames + f] = inBuf[f][ch];
                }
            }
        } else {
            // Interleaved: the inputs' planes hold SampleFrames.
            for (std::size_t f = 0; f < frames && 2 * f + 1 < audio.inputs * audio.frames; ++f) {
                for (std::size_t ch = 0; ch < inputs; ++ch) {
                    buffer[2 * f + ch] = inBuf[f][ch];
                }
            }
        }
    }
    if (const VstSyncData* sync = currentSyncData()) {
        host()->writeSync(sync, sizeof(VstSyncData));
    }
    const remote_ipc::Processed result = roundTrip(outBuf != nullptr && audio.outputs > 0);
    const remote_ipc::AudioBlock after = host()->audio(std::chrono::nanoseconds(0));
    if (result != remote_ipc::Processed::done || outBuf == nullptr || after.data != audio.data) {
        // Not processed, or the buffer was replaced meanwhile.
        return silence();
    }
    // What a plugin wrote is some float: it can only make wrong audio.
    const std::size_t outputs = std::min<std::size_t>(audio.outputs, 2);
    const float* source = buffer + audio.inputs * audio.frames;
    if (!m_splitChannels && audio.outputs == 2 && framesAreTwoFloats) {
        std::memcpy(static_cast<void*>(outBuf), source, frames * sizeof(SampleFrame));
        return true;
    }
    zeroSampleFrames(outBuf, frames);
    if (m_splitChannels) {
        for (std::size_t ch = 0; ch < outputs; ++ch) {
            for (std::size_t f = 0; f < frames; ++f) {
                outBuf[f][ch] = source[ch * audio.frames + f];
            }
        }
    } else {
        for (std::size_t f = 0; f < frames && 2 * f + 1 < audio.outputs * audio.frames; ++f) {
            for (std::size_t ch = 0; ch < outputs; ++ch) {
                outBuf[f][ch] = source[2 * f + ch];
            }
        }
    }
    return true;
}

inline void RemotePluginHost::processMidiEvent(const MidiEvent& event, const f_cnt_t offset) {
    const remote_ipc::MidiWire wire{static_cast<std::int32_t>(event.type()), event.channel(), event.param(0),
                                    event.param(1), static_cast<std::int32_t>(offset)};
    if (ipcStage() == static_cast<int>(remote_ipc::Stage::links)) {
        host()->queueMidi(wire);
        return;
    }
    message m(IdMidiEvent);
    m.addInt(wire.type).addInt(wire.channel).addInt(wire.param0).addInt(wire.param1).addInt(wire.offset);
    lock();
    sendMessage(m);
    unlock();
}

inline void RemotePluginHost::setSyncData(const VstSyncData& data) {
    if (host() != nullptr) {
        host()->writeSync(&data, sizeof data);
    }
}

}  // namespace lmms

#endif  // LMMS_REMOTE_PLUGIN_HOST_H
