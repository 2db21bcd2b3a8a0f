// synth_client.cpp: a remote synthesizer shaped like LMMS's
// RemoteZynAddSubFx, written against the LMMS-style API only: no input,
// interleaved stereo output (a sine at the played key's pitch), a message
// loop thread that handles every message under the synth's lock, and a
// "GUI" loop on the main thread that also sends (load replies, chatter).
// Settings go through temporary files and as one message of any size.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "RemotePluginClient.h"
#include "protocol.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <queue>
#include <string>
#include <thread>

#if defined(_WIN32) && !defined(__WINE__)
#include <windows.h>
#else
#include <unistd.h>
#endif

using namespace lmms;
using namespace lmms::test;

namespace {

std::uint32_t processId() {
#if defined(_WIN32) && !defined(__WINE__)
    return static_cast<std::uint32_t>(GetCurrentProcessId());
#else
    return static_cast<std::uint32_t>(getpid());
#endif
}

bool readFile(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) {
        return false;
    }
    out.resize(static_cast<size_t>(in.tellg()));
    in.seekg(0);
    in.read(&out[0], static_cast<std::streamsize>(out.size()));
    return static_cast<bool>(in);
}

bool writeFile(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    return static_cast<bool>(out);
}

}  // namespace

class TestSynth : public RemotePluginClient {
public:
    TestSynth(const char* socketPath, bool slowStart) : RemotePluginClient(socketPath) {
        setInputCount(0);
        sendMessage(IdInitDone);
        if (slowStart) {
            // A plugin that takes a while before it reads the host's
            // start-up messages (the sync block with the buffer size): the
            // host's first periods come before it has them.
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
        }
        waitForMessage(IdInitDone);
        m_messageThread = std::thread(&TestSynth::messageLoop, this);
    }

    ~TestSynth() override { m_messageThread.join(); }

    void messageLoop() {
        message m;
        for (;;) {
            m = receiveMessage();
            if (m.id == IdQuit) {
                if (!m_ignoreQuit) {
                    break;
                }
                // Deaf to Quit: the host has to kill this process.
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
                continue;
            }
            const std::lock_guard<std::mutex> lock(m_synthMutex);
            processMessage(m);
        }
        m_guiExit = true;
    }

    bool processMessage(const message& m) override {
        switch (m.id) {
        case IdQuit:
            break;

        case IdShowUI:
        case IdHideUI:
        case IdLoadSettingsFromFile: {
            const std::lock_guard<std::mutex> lock(m_guiMutex);
            m_guiMessages.push(m);
            break;
        }

        case IdSaveSettingsToFile:
            writeFile(m.getString(), m_settings);
            sendMessage(IdSaveSettingsToFile);
            break;

        case IdSaveSettingsToString:
            sendMessage(message(IdSaveSettingsToString).addString(m_settings));
            break;

        case IdLoadSettingsFromString:
            m_settings = m.getString();
            sendMessage(IdLoadSettingsFromString);
            break;

        case IdIsUIVisible:
            sendMessage(message(IdIsUIVisible).addInt(m_visible ? 1 : 0));
            break;

        case IdReport: {
            const VstSyncData* sync = getVstSyncData();
            sendMessage(message(IdReport)
                            .addInt(static_cast<int>(sampleRate()))
                            .addInt(static_cast<int>(bufferSize()))
                            .addInt(inputCount())
                            .addInt(outputCount())
                            .addInt(static_cast<int>(processId()))
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

        case IdMidiReport:
            sendMessage(message(IdMidiReport).addInt(m_midiEvents.load()).addString(std::to_string(m_midiSum.load())));
            break;

        case IdChatter: {
            const int n = m.getInt(0);
            m_chatter = n;
            for (int i = 0; i < n; ++i) {
                sendMessage(message(IdChatterLine).addInt(0).addInt(i).addString(chatterText(0, i)));
            }
            break;
        }

        case IdIgnoreQuit:
            m_ignoreQuit = true;
            break;

        default:
            return RemotePluginClient::processMessage(m);
        }
        return true;
    }

    void processMidiEvent(const MidiEvent& event, const f_cnt_t offset) override {
        m_midiSum = midiChecksum(m_midiSum.load(), event.type(), event.channel(), event.param(0), event.param(1), offset);
        ++m_midiEvents;
        if (event.type() == MidiNoteOn && event.velocity() > 0) {
            m_key = event.key();
            m_amplitude = event.velocity() / 127.0;
        } else if ((event.type() == MidiNoteOff || event.type() == MidiNoteOn) && event.key() == m_key) {
            m_key = -1;
        }
    }

    void process(const SampleFrame* /* in */, SampleFrame* out) override {
        if (const int ms = m_hangMs.exchange(0)) {
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        }
        const auto frames = static_cast<size_t>(bufferSize());
        const double rate = sampleRate() > 0 ? sampleRate() : 44100.0;
        const double step = m_key >= 0 ? 2.0 * 3.14159265358979323846 * keyFrequency(m_key) / rate : 0.0;
        for (size_t f = 0; f < frames; ++f) {
            const auto v = static_cast<float>(m_key >= 0 ? m_amplitude * std::sin(m_phase) : 0.0);
            out[f] = SampleFrame(v, v);
            m_phase += step;
        }
        m_phase = std::fmod(m_phase, 2.0 * 3.14159265358979323846);
    }

    void guiLoop() {
        while (!m_guiExit) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            if (const int n = m_chatter.exchange(0)) {
                // The GUI thread's half of the chatter, while the message
                // loop sends its own.
                for (int i = 0; i < n; ++i) {
                    sendMessage(message(IdChatterLine).addInt(1).addInt(i).addString(chatterText(1, i)));
                }
            }
            const std::lock_guard<std::mutex> lock(m_guiMutex);
            while (!m_guiMessages.empty()) {
                message m = m_guiMessages.front();
                m_guiMessages.pop();
                switch (m.id) {
                case IdShowUI:
                    m_visible = true;
                    break;
                case IdHideUI:
                    m_visible = false;
                    break;
                case IdLoadSettingsFromFile: {
                    const std::lock_guard<std::mutex> synth(m_synthMutex);
                    std::string data;
                    if (readFile(m.getString(), data)) {
                        m_settings = std::move(data);
                    }
                    sendMessage(IdLoadSettingsFromFile);
                    break;
                }
                default:
                    break;
                }
            }
        }
    }

private:
    std::thread m_messageThread;
    std::mutex m_synthMutex;
    std::mutex m_guiMutex;
    std::queue<message> m_guiMessages;
    std::atomic<bool> m_guiExit{false};
    std::atomic<bool> m_visible{false};
    std::atomic<bool> m_ignoreQuit{false};
    std::atomic<int> m_chatter{0};
    std::atomic<int> m_hangMs{0};
    std::string m_settings;
    std::atomic<int> m_midiEvents{0};
    std::atomic<std::uint64_t> m_midiSum{0};
    int m_key = -1;
    double m_amplitude = 0;
    double m_phase = 0;
};

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "not enough arguments\n");
        return -1;
    }
    const auto pollParentThread = PollParentThread{};
    auto synth = new TestSynth(argv[1], argc > 2 && std::string(argv[2]) == "slow-start");
    synth->guiLoop();
    delete synth;
    return 0;
}
