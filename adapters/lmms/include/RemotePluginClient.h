// RemotePluginClient.h: the plugin side of LMMS's remote-plugin API over
// libipc. A drop-in replacement for LMMS's include/RemotePluginClient.h:
// header-only (include it in one file of the remote program), the same
// class, virtuals and start-up handling (SyncKey -> HostInfoGotten,
// sample rate, buffer size, MIDI events, StartProcessing ->
// ProcessingDone, ChangeSharedMemoryKey), the endpoint taken from argv[1].
//
// What differs from LMMS's own:
//  - the process exits as soon as the host dies (the connection notices;
//    PollParentThread is kept for source compatibility and does nothing);
//  - once the link is down after a clean close, receiveMessage returns
//    IdQuit, so that receive loops end;
//  - at stage 3 (docs/LMMS.md), process() and processMidiEvent() run on
//    the adapter's real-time thread: one request from the host carries the
//    period's MIDI events (processMidiEvent first, in order) and the
//    period itself. They never run at the same time as each other, nor as
//    this class's own handling of SyncKey, sample-rate, buffer-size and
//    shared-memory messages; a plugin whose process() shares state with
//    its own message handling locks it, or is built with
//    IPC_LMMS_PROCESS_IN_MESSAGE_LOOP defined, which hands each period to
//    the thread that receives messages, as LMMS does (one more thread
//    wake-up per period). Processing starts with the subclass's first
//    send or receive and stops when IdQuit arrives.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef LMMS_REMOTE_PLUGIN_CLIENT_H
#define LMMS_REMOTE_PLUGIN_CLIENT_H

#include "RemotePluginBase.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "LmmsTypes.h"
#include "MidiEvent.h"
#include "SampleFrame.h"
#include "VstSyncData.h"

namespace lmms {

class RemotePluginClient : public RemotePluginBase, private remote_ipc::PluginHooks {
public:
    /// Connects to the host from the program's argv[1].
    RemotePluginClient(const char* socketPath);
    ~RemotePluginClient() override;

    /// The host's tempo/position block, mapped read-only (null before
    /// SyncKey).
    const VstSyncData* getVstSyncData() { return m_vstSyncData.load(); }

    bool processMessage(const message& m) override;

    virtual void process(const SampleFrame* inBuf, SampleFrame* outBuf) = 0;

    virtual void processMidiEvent(const MidiEvent&, const f_cnt_t /* offset */) {}

    virtual void updateSampleRate() {}

    virtual void updateBufferSize() {}

    sample_rate_t sampleRate() const { return m_sampleRate.load(); }

    f_cnt_t bufferSize() const { return m_bufferSize.load(); }

    void setInputCount(int i) {
        m_inputCount = i;
        sendMessage(message(IdChangeInputCount).addInt(i));
    }

    void setOutputCount(int i) {
        m_outputCount = i;
        sendMessage(message(IdChangeOutputCount).addInt(i));
    }

    void setInputOutputCount(int i, int o) {
        m_inputCount = i;
        m_outputCount = o;
        sendMessage(message(IdChangeInputOutputCount).addInt(i).addInt(o));
    }

    virtual int inputCount() const { return m_inputCount; }

    virtual int outputCount() const { return m_outputCount; }

    void debugMessage(const std::string& s) { sendMessage(message(IdDebugMessage).addString(s)); }

protected:
    int idWhenDown() const override { return IdQuit; }

private:
    void setShmKey(const std::string& key);
    void doProcessing();

    // The real-time thread's calls (stage 3).
    void hookMidi(const remote_ipc::MidiWire& event) override;
    void hookProcess(const remote_ipc::AudioBlock& audio) override;

    remote_ipc::PluginEndpoint* m_plugin = nullptr;
    std::atomic<const VstSyncData*> m_vstSyncData{nullptr};
    /// What the real-time thread processes into (stage 3).
    remote_ipc::AudioBlock m_rtAudio;
    /// Orders the real-time thread's calls with this class's handling of
    /// the messages that change how it processes.
    std::recursive_mutex m_processing;

    std::atomic<int> m_inputCount;
    std::atomic<int> m_outputCount;

    std::atomic<sample_rate_t> m_sampleRate;
    std::atomic<f_cnt_t> m_bufferSize;
};

/// Kept for the remote programs that construct one in main(): the
/// connection itself ends the process when the host dies, at once, so
/// this watches nothing.
class PollParentThread {
public:
    PollParentThread() {}
    ~PollParentThread() {}
    PollParentThread(const PollParentThread&) = delete;
    PollParentThread& operator=(const PollParentThread&) = delete;
};

inline RemotePluginClient::RemotePluginClient(const char* socketPath)
    : RemotePluginBase(), m_inputCount(0), m_outputCount(0), m_sampleRate(44100), m_bufferSize(0) {
    std::string error;
    auto endpoint = remote_ipc::connectPlugin(socketPath, error);
    if (!endpoint) {
        std::fprintf(stderr, "RemotePluginClient: cannot connect to the host: %s\n", error.c_str());
        return;
    }
    m_plugin = endpoint.get();
    setEndpoint(std::move(endpoint));
#ifdef IPC_LMMS_PROCESS_IN_MESSAGE_LOOP
    m_plugin->setProcessInMessageLoop(true);
#endif
    if (m_plugin->stage() == remote_ipc::Stage::links) {
        m_plugin->startRealtime(*this);
    }
}

inline RemotePluginClient::~RemotePluginClient() {
    sendMessage(IdQuit);
    if (m_plugin != nullptr) {
        m_plugin->stopRealtime();
    }
    closeEndpoint();
}

inline bool RemotePluginClient::processMessage(const message& m) {
    message reply(m.id);
    bool doReply = false;
    switch (m.id) {
    case IdUndefined:
        return false;

    case IdSyncKey: {
        std::lock_guard<std::recursive_mutex> lock(m_processing);
        std::string error;
        const void* block =
            m_plugin != nullptr ? m_plugin->attachSync(m.getString(0), sizeof(VstSyncData), error) : nullptr;
        if (block == nullptr) {
            debugMessage("Failed to attach sync data: " + error + '\n');
            std::exit(EXIT_FAILURE);
        }
        const auto* sync = static_cast<const VstSyncData*>(block);
        m_vstSyncData = sync;
        m_bufferSize = static_cast<f_cnt_t>(sync->bufferSize > 0 ? sync->bufferSize : 0);
        m_sampleRate = static_cast<sample_rate_t>(sync->sampleRate > 0 ? sync->sampleRate : 0);
        m_plugin->syncTaken();
        reply.id = IdHostInfoGotten;
        doReply = true;
        break;
    }

    case IdSampleRateInformation: {
        std::lock_guard<std::recursive_mutex> lock(m_processing);
        m_sampleRate = static_cast<sample_rate_t>(m.getInt());
        updateSampleRate();
        reply.id = IdInformationUpdated;
        doReply = true;
        break;
    }

    case IdBufferSizeInformation: {
        std::lock_guard<std::recursive_mutex> lock(m_processing);
        m_bufferSize = static_cast<f_cnt_t>(m.getInt() > 0 ? m.getInt() : 0);
        updateBufferSize();
        break;
    }

    case IdQuit:
        return false;

    case IdMidiEvent:
        processMidiEvent(MidiEvent(static_cast<MidiEventTypes>(m.getInt(0)), static_cast<int8_t>(m.getInt(1)),
                                   static_cast<int16_t>(m.getInt(2)), static_cast<int16_t>(m.getInt(3))),
                         static_cast<f_cnt_t>(m.getInt(4) > 0 ? m.getInt(4) : 0));
        break;

    case IdStartProcessing:
        doProcessing();
        // On the real-time thread the real-time link answers.
        if (m_plugin == nullptr || !m_plugin->onRealtimeThread()) {
            reply.id = IdProcessingDone;
            doReply = true;
        }
        break;

    case IdChangeSharedMemoryKey: {
        std::lock_guard<std::recursive_mutex> lock(m_processing);
        setShmKey(m.getString(0));
        break;
    }

    case IdInitDone:
        break;

    default: {
        char buf[64];
        std::snprintf(buf, sizeof buf, "undefined message: %d\n", m.id);
        debugMessage(buf);
        break;
    }
    }
    if (doReply) {
        sendMessage(reply);
    }
    return true;
}

inline void RemotePluginClient::setShmKey(const std::string& key) {
    if (m_plugin == nullptr || m_plugin->stage() == remote_ipc::Stage::links) {
        // Stage 3: the buffer comes over the real-time link.
        return;
    }
    std::string error;
    if (!m_plugin->attachAudio(key, error)) {
        debugMessage("failed getting shared memory: " + error + '\n');
    }
}

inline void RemotePluginClient::doProcessing() {
    std::lock_guard<std::recursive_mutex> lock(m_processing);
    float* buffer = nullptr;
    std::size_t floats = 0;
    if (m_plugin != nullptr && m_plugin->onRealtimeThread()) {
        buffer = m_rtAudio.data;
        floats = (m_rtAudio.inputs + m_rtAudio.outputs) * m_rtAudio.frames;
    } else if (m_plugin != nullptr) {
        buffer = m_plugin->audio(floats);
    }
    if (buffer == nullptr) {
        debugMessage("doProcessing(): have no shared memory!\n");
        return;
    }
    // The plugin's own counts place its output, as LMMS's do; they must fit
    // the buffer the host made.
    const auto inputs = static_cast<std::size_t>(m_inputCount > 0 ? m_inputCount.load() : 0);
    const auto outputs = static_cast<std::size_t>(m_outputCount > 0 ? m_outputCount.load() : 0);
    const auto frames = static_cast<std::size_t>(m_bufferSize.load());
    if ((inputs + outputs) * frames > floats) {
        debugMessage("doProcessing(): the shared memory is smaller than the channel counts say\n");
        return;
    }
    // Silence unless the plugin writes (the host leaves the outputs as the
    // last period made them).
    float* out = buffer + inputs * frames;
    std::memset(out, 0, outputs * frames * sizeof(float));
    process(reinterpret_cast<const SampleFrame*>(inputs > 0 ? buffer : nullptr), reinterpret_cast<SampleFrame*>(out));
}

inline void RemotePluginClient::hookMidi(const remote_ipc::MidiWire& e) {
    std::lock_guard<std::recursive_mutex> lock(m_processing);
    processMidiEvent(MidiEvent(static_cast<MidiEventTypes>(e.type), static_cast<int8_t>(e.channel),
                               static_cast<int16_t>(e.param0), static_cast<int16_t>(e.param1)),
                     static_cast<f_cnt_t>(e.offset > 0 ? e.offset : 0));
}

inline void RemotePluginClient::hookProcess(const remote_ipc::AudioBlock& audio) {
    std::lock_guard<std::recursive_mutex> lock(m_processing);
    m_rtAudio = audio;
    // Through processMessage, as LMMS's StartProcessing goes, so that a
    // subclass that handles it sees it.
    processMessage(message(IdStartProcessing));
    m_rtAudio = remote_ipc::AudioBlock();
}

}  // namespace lmms

#endif  // LMMS_REMOTE_PLUGIN_CLIENT_H
