// RemotePluginHost.cpp: the host side's start-up, message handling, period
// round trip and shutdown (RemotePluginHost.h has the audio copies).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "RemotePluginHost.h"

#include <cstdio>

namespace lmms {

namespace {

/// Most channels a plugin may ask for each way (it is not trusted).
constexpr int maxChannels = 256;

int channelCount(int n) { return n < 0 ? 0 : n > maxChannels ? maxChannels : n; }

}  // namespace

void RemotePluginHost::arrived(void* self) { static_cast<RemotePluginHost*>(self)->messagesArrived(); }

RemotePluginHost::RemotePluginHost(Options options)
    : m_failed(true), m_options(options), m_inputCount(2), m_outputCount(2) {
    setMessageTimeout(m_options.messageTimeout);
}

RemotePluginHost::~RemotePluginHost() {
    if (remote_ipc::HostEndpoint* h = host()) {
        h->inbox().setArrivalHook(nullptr, nullptr);
        if (!m_failed && h->isRunning()) {
            lock();
            sendMessage(IdQuit);
            h->stop(m_options.quitTimeout);
            unlock();
        } else {
            h->stop(std::chrono::nanoseconds(0));
        }
    }
    closeEndpoint();
}

remote_ipc::HostEndpoint* RemotePluginHost::host() const {
    return static_cast<remote_ipc::HostEndpoint*>(endpoint());
}

bool RemotePluginHost::isRunning() { return host() != nullptr && host()->isRunning(); }

std::uint32_t RemotePluginHost::pluginPid() const { return host() != nullptr ? host()->pluginPid() : 0; }

bool RemotePluginHost::init(const std::string& pluginExecutable, bool waitForInitDoneMsg,
                            const std::vector<std::string>& extraArgs) {
    lock();
    if (remote_ipc::HostEndpoint* old = host()) {
        // Started before: that plugin goes first.
        old->inbox().setArrivalHook(nullptr, nullptr);
        old->stop(std::chrono::nanoseconds(0));
        closeEndpoint();
    }
    m_failed = false;
    m_lateReplies = 0;
    std::string error;
    auto started = remote_ipc::startHost(pluginExecutable, extraArgs, m_options, error);
    if (!started) {
        std::fprintf(stderr, "Remote plugin '%s' could not start: %s\n", pluginExecutable.c_str(), error.c_str());
        m_failed = true;
        unlock();
        return failed();
    }
    setEndpoint(std::move(started));

    // The tempo/position block, as the engine has it now.
    VstSyncData sync{};
    if (const VstSyncData* current = currentSyncData()) {
        sync = *current;
    } else {
        sync.timeSigNumer = 4;
        sync.timeSigDenom = 4;
        sync.bpm = 120;
    }
    sync.bufferSize = static_cast<int>(framesPerPeriod());
    sync.sampleRate = static_cast<int>(outputSampleRate());
    host()->writeSync(&sync, sizeof sync);

    sendMessage(message(IdSyncKey).addString(host()->syncKey()));
    resizeSharedProcessingMemory();
    if (ipcStage() == static_cast<int>(remote_ipc::Stage::links)) {
        // The link is read all the time: what comes while nobody waits is
        // queued, and the shell hears of it.
        host()->inbox().setArrivalHook(arrived, this);
    }
    if (waitForInitDoneMsg) {
        waitForInitDone();
    }
    unlock();
    return failed();
}

void RemotePluginHost::resizeSharedProcessingMemory() {
    remote_ipc::HostEndpoint* h = host();
    if (h == nullptr) {
        return;
    }
    std::string key;
    std::string error;
    const auto inputs = static_cast<std::size_t>(m_inputCount.load());
    const auto outputs = static_cast<std::size_t>(m_outputCount.load());
    if (!h->resizeAudio(inputs, outputs, static_cast<std::size_t>(framesPerPeriod()), key, error)) {
        m_audioBufferSize = 0;
        if (inputs + outputs > 0) {
            std::fprintf(stderr, "Failed to allocate shared audio buffer: %s\n", error.c_str());
        }
        return;
    }
    m_audioBufferSize = (inputs + outputs) * static_cast<std::size_t>(framesPerPeriod()) * sizeof(float);
    sendMessage(message(IdChangeSharedMemoryKey).addString(key));
}

std::chrono::nanoseconds RemotePluginHost::processTimeout() const {
    if (m_options.processTimeout.count() > 0) {
        return m_options.processTimeout;
    }
    const auto rate = outputSampleRate() > 0 ? outputSampleRate() : 44100;
    const auto period = std::chrono::nanoseconds(static_cast<std::int64_t>(framesPerPeriod() * 1000000000ull / rate));
    return period > std::chrono::milliseconds(2) ? period : std::chrono::milliseconds(2);
}

remote_ipc::Processed RemotePluginHost::roundTrip(bool wantOutput) {
    using remote_ipc::Processed;
    if (ipcStage() == static_cast<int>(remote_ipc::Stage::links)) {
        const Processed r = host()->processRealtime(processTimeout());
        if (r == Processed::failed) {
            invalidate();
        }
        return r;
    }
    const remote_ipc::Deadline deadline = remote_ipc::after(processTimeout());
    // First the answers to periods that timed out: a plugin that hangs is
    // not sent a new period for every one it missed.
    while (m_lateReplies > 0) {
        if (waitForMessageUntil(IdProcessingDone, deadline, false).id != IdProcessingDone) {
            return isInvalid() ? Processed::failed : Processed::timeout;
        }
        --m_lateReplies;
    }
    if (sendMessage(IdStartProcessing) == 0) {
        return Processed::failed;
    }
    if (!wantOutput || m_outputCount == 0) {
        // As LMMS: nothing to wait for; the answer comes later.
        ++m_lateReplies;
        return Processed::timeout;
    }
    if (waitForMessageUntil(IdProcessingDone, deadline, false).id != IdProcessingDone) {
        if (isInvalid()) {
            return Processed::failed;
        }
        ++m_lateReplies;
        return Processed::timeout;
    }
    return Processed::done;
}

bool RemotePluginHost::processMessage(const message& m) {
    lock();
    message reply(m.id);
    bool doReply = false;
    switch (m.id) {
    case IdUndefined:
        unlock();
        return false;

    case IdInitDone:
        reply = message(IdInitDone);
        doReply = true;
        break;

    case IdHostInfoGotten:
        // The plugin mapped the tempo/position block.
        if (host() != nullptr) {
            host()->syncAttached();
        }
        break;

    case IdSampleRateInformation:
        doReply = true;
        reply.addInt(static_cast<int>(outputSampleRate()));
        break;

    case IdBufferSizeInformation:
        doReply = true;
        reply.addInt(static_cast<int>(framesPerPeriod()));
        break;

    case IdChangeInputCount:
        m_inputCount = channelCount(m.getInt(0));
        resizeSharedProcessingMemory();
        break;

    case IdChangeOutputCount:
        m_outputCount = channelCount(m.getInt(0));
        resizeSharedProcessingMemory();
        break;

    case IdChangeInputOutputCount:
        m_inputCount = channelCount(m.getInt(0));
        m_outputCount = channelCount(m.getInt(1));
        resizeSharedProcessingMemory();
        break;

    case IdDebugMessage:
        std::fprintf(stderr, "RemotePlugin::DebugMessage: %s", m.getString(0).c_str());
        break;

    case IdProcessingDone:
        // The plugin has processed with the current buffer.
        if (host() != nullptr) {
            host()->audioAttached();
        }
        break;

    case IdQuit:
    default:
        break;
    }
    if (doReply) {
        sendMessage(reply);
    }
    unlock();
    return true;
}

}  // namespace lmms
