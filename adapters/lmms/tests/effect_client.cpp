// effect_client.cpp: a remote effect with inputs, shaped like LMMS's
// RemoteVstPlugin as far as the IPC goes, written against the LMMS-style
// API only: it handles messages until the host's "load" (IdLoad), then
// sets its channel counts and sends InitDone; it multiplies its inputs by
// a gain, planar ("split channels", argv[2] = split) or as interleaved
// SampleFrames (argv[2] = interleaved), and changes its channel counts
// when asked. One thread: the message loop of main().
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "RemotePluginClient.h"
#include "protocol.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#if defined(_WIN32) && !defined(__WINE__)
#include <windows.h>
#else
#include <unistd.h>
#endif

using namespace lmms;
using namespace lmms::test;

class TestEffect : public RemotePluginClient {
public:
    TestEffect(const char* socketPath, bool split) : RemotePluginClient(socketPath), m_split(split) {
        for (;;) {
            message m = receiveMessage();
            if (m.id == IdQuit) {
                m_quit = true;
                return;
            }
            if (m.id == IdLoad) {
                break;
            }
            processMessage(m);
        }
        setInputOutputCount(2, 2);
        sendMessage(IdInitDone);
    }

    bool quit() const { return m_quit; }

    bool processMessage(const message& m) override {
        switch (m.id) {
        case IdSetGain:
            m_gain = m.getFloat(0);
            break;
        case IdChangeIO:
            setInputOutputCount(m.getInt(0), m.getInt(1));
            break;
        case IdIsUIVisible:
            sendMessage(message(IdIsUIVisible).addInt(0));
            break;
        case IdReport: {
            const VstSyncData* sync = getVstSyncData();
#if defined(_WIN32) && !defined(__WINE__)
            const auto pid = static_cast<int>(GetCurrentProcessId());
#else
            const auto pid = static_cast<int>(getpid());
#endif
            sendMessage(message(IdReport)
                            .addInt(static_cast<int>(sampleRate()))
                            .addInt(static_cast<int>(bufferSize()))
                            .addInt(inputCount())
                            .addInt(outputCount())
                            .addInt(pid)
                            .addInt(sync != nullptr ? sync->bufferSize : -1)
                            .addInt(sync != nullptr ? sync->sampleRate : -1));
            break;
        }
        case IdEcho:
            sendMessage(message(IdEcho).addInt(m.getInt(0)).addFloat(m.getFloat(1)).addString(m.getString(2)).addString(
                m.getString(1)));
            break;
        case IdCrash:
            std::_Exit(3);
        case IdHang:
            m_hangMs = m.getInt(0);
            break;
        default:
            return RemotePluginClient::processMessage(m);
        }
        return true;
    }

    void process(const SampleFrame* in, SampleFrame* out) override {
        if (const int ms = m_hangMs.exchange(0)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        }
        const auto frames = static_cast<size_t>(bufferSize());
        const int inputs = inputCount();
        const int outputs = outputCount();
        const float gain = m_gain;
        if (m_split) {
            // Planar: channel c at c * frames, inputs then outputs.
            const auto* planesIn = reinterpret_cast<const float*>(in);
            auto* planesOut = reinterpret_cast<float*>(out);
            for (int c = 0; c < outputs; ++c) {
                const int from = c < inputs ? c : inputs - 1;
                for (size_t f = 0; f < frames; ++f) {
                    planesOut[static_cast<size_t>(c) * frames + f] =
                        from >= 0 && planesIn != nullptr ? gain * planesIn[static_cast<size_t>(from) * frames + f] : 0.f;
                }
            }
        } else {
            for (size_t f = 0; f < frames; ++f) {
                out[f] = in != nullptr ? SampleFrame(gain * in[f][0], gain * in[f][1]) : SampleFrame();
            }
        }
    }

private:
    bool m_split;
    bool m_quit = false;
    std::atomic<float> m_gain{1.0f};
    std::atomic<int> m_hangMs{0};
};

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "not enough arguments\n");
        return -1;
    }
    const auto pollParentThread = PollParentThread{};
    auto effect = new TestEffect(argv[1], std::strcmp(argv[2], "split") == 0);
    if (!effect->quit()) {
        RemotePluginClient::message m;
        while ((m = effect->receiveMessage()).id != IdQuit) {
            effect->processMessage(m);
        }
    }
    delete effect;
    return 0;
}
