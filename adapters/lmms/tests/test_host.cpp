// test_host.cpp: the adapter's tests, as an LMMS host would drive its
// remote plugins, through the LMMS-style API only (RemotePluginHost), at
// each stage: the start-up sequence, values, processing with audio checks,
// MIDI, channel count changes, settings of 32 MiB as one message and
// through files, two plugin threads sending at once, and what LMMS lacks:
// plugin death, a hung plugin, host death, a bounded shutdown, a hostile
// plugin. Elapsed times are printed for the record, never asserted (60 s
// is only the safety net).
//
// The same program also plays the other roles: `--host-helper STAGE FILE`
// (a host that dies when killed) and, started as a plugin,
// `ipc-lmms:... --hostile MODE` (a plugin that writes garbage).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "RemotePluginHost.h"
#include "harness.h"
#include "protocol.h"

#include "ipc.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

using namespace lmms;
using namespace lmms::test;

using message = RemotePluginBase::message;

namespace {

constexpr auto never = std::chrono::seconds(60);
constexpr size_t frames = 256;

std::string program(const char* env, const char* name) {
    if (const char* p = std::getenv(env)) {
        if (*p != '\0') {
            return p;
        }
    }
#if defined(_WIN32)
    return harness::selfDir() + "\\" + name + ".exe";
#else
    return harness::selfDir() + "/" + name;
#endif
}

std::string synthProgram() { return program("LMMS_IPC_TEST_SYNTH", "lmms-test-synth"); }
std::string loopSynthProgram() { return program("LMMS_IPC_TEST_SYNTH_LOOP", "lmms-test-synth-loop"); }
std::string effectProgram() { return program("LMMS_IPC_TEST_EFFECT", "lmms-test-effect"); }

/// A host that records what the plugin sends on its own.
class TestHost : public RemotePluginHost {
public:
    explicit TestHost(const Options& options) : RemotePluginHost(options) {}

    bool processMessage(const message& m) override {
        if (m.id == IdChatterLine || m.id == IdDebugMessage) {
            const std::lock_guard<std::mutex> lock(m_mutex);
            m_recorded.push_back(m);
        }
        return RemotePluginHost::processMessage(m);
    }

    void messagesArrived() override { ++m_arrivals; }

    std::vector<message> recorded() {
        const std::lock_guard<std::mutex> lock(m_mutex);
        return m_recorded;
    }

    /// Sends `m` and waits for the answer of the same ID.
    message ask(const message& m) {
        lock();
        sendMessage(m);
        unlock();
        return waitForMessage(m.id);
    }

    using RemotePluginHost::setSplittedChannels;

    std::atomic<int> m_arrivals{0};

private:
    std::mutex m_mutex;
    std::vector<message> m_recorded;
};

RemotePluginHost::Options options(int stage) {
    RemotePluginHost::Options o;
    o.stage = static_cast<remote_ipc::Stage>(stage);
    // Generous: these tests check audio, not deadlines (a busy machine
    // under the sanitizers may be slow).
    o.processTimeout = std::chrono::seconds(20);
    o.messageTimeout = never;
    return o;
}

std::unique_ptr<TestHost> startSynth(int stage, const std::string& exe = synthProgram(),
                                     const std::vector<std::string>& args = {}) {
    auto host = std::make_unique<TestHost>(options(stage));
    host->setEngine(frames, 44100);
    // As ZynAddSubFx's host: start, then wait for InitDone without a busy
    // wait.
    CHECK(!host->init(exe, false, args));
    const auto start = harness::nowNs();
    host->waitForInitDone(false);
    if (host->failed()) {
        // For the record: how the start-up ended.
        std::printf("start-up failed after %.0f ms: plugin running %d, link invalid %d\n", harness::msSince(start),
                    host->isRunning() ? 1 : 0, host->isInvalid() ? 1 : 0);
    }
    CHECK(!host->failed());
    CHECK_EQ(host->ipcStage(), stage);
    return host;
}

std::unique_ptr<TestHost> startEffect(bool split, RemotePluginHost::Options o) {
    auto host = std::make_unique<TestHost>(o);
    host->setEngine(frames, 44100);
    host->setSplittedChannels(split);
    // As VstPlugin's host: start, wait for HostInfoGotten, load, wait for
    // InitDone.
    CHECK(!host->init(effectProgram(), false, {split ? "split" : "interleaved"}));
    host->waitForHostInfoGotten();
    CHECK(!host->failed());
    host->sendMessage(IdLoad);
    host->waitForInitDone();
    CHECK(!host->failed());
    return host;
}

std::unique_ptr<TestHost> startEffect(int stage, bool split) { return startEffect(split, options(stage)); }

/// Makes sure the plugin handled everything sent before (at stage 3 the
/// main link and the periods are not ordered with each other).
void sync(TestHost& host) { CHECK_EQ(host.ask(IdReport).id, static_cast<int>(IdReport)); }

/// The frequency of a sine, from the times of its rising zero crossings.
double pitch(const std::vector<float>& x, double rate) {
    std::vector<double> crossings;
    for (size_t i = 1; i < x.size(); ++i) {
        if (x[i - 1] < 0 && x[i] >= 0) {
            crossings.push_back(static_cast<double>(i - 1) + x[i - 1] / (x[i - 1] - x[i]));
        }
    }
    if (crossings.size() < 3) {
        return 0;
    }
    return static_cast<double>(crossings.size() - 1) * rate / (crossings.back() - crossings.front());
}

/// Renders `periods` periods of the synth's output, its left channel.
std::vector<float> render(TestHost& host, int periods) {
    std::vector<float> left;
    std::vector<SampleFrame> out(frames);
    for (int p = 0; p < periods; ++p) {
        CHECK(host.process(nullptr, out.data()));
        for (const auto& f : out) {
            CHECK_EQ(f[0], f[1]);
            left.push_back(f[0]);
        }
    }
    return left;
}

std::string pattern(size_t size, unsigned seed) {
    std::string s(size, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : s) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c = static_cast<char>(x);
    }
    return s;
}

std::string tempPath(const std::string& name) {
    return (std::filesystem::temp_directory_path() /
            ("ipc-lmms-test-" + std::to_string(harness::nowNs()) + "-" + name))
        .string();
}

}  // namespace

// ---------------------------------------------------------------------------
// Start-up, values, UI

TEST_CASE(startup_sequence, 1, 2, 3) {
    auto host = startSynth(stage);
    CHECK(host->isRunning());
    CHECK(host->pluginPid() != 0);
    auto report = host->ask(IdReport);
    CHECK_EQ(report.getInt(0), 44100);  // from the tempo block (SyncKey)
    CHECK_EQ(report.getInt(1), 256);
    CHECK_EQ(report.getInt(2), 0);  // setInputCount(0)
    CHECK(report.getInt(4) > 0);
    CHECK_EQ(report.getInt(5), 256);
    CHECK_EQ(report.getInt(6), 44100);
    // updateSampleRate waits for InformationUpdated.
    host->setEngine(frames, 48000);
    host->updateSampleRate(48000);
    CHECK_EQ(host->ask(IdReport).getInt(0), 48000);
    host->sendMessage(message(IdBufferSizeInformation).addInt(128));
    CHECK_EQ(host->ask(IdReport).getInt(1), 128);
    host->sendMessage(message(IdBufferSizeInformation).addInt(256));
    CHECK_EQ(host->ask(IdReport).getInt(1), 256);

    // The effect's sequence: HostInfoGotten, its own load, InitDone.
    auto effect = startEffect(stage, true);
    report = effect->ask(IdReport);
    CHECK_EQ(report.getInt(2), 2);
    CHECK_EQ(report.getInt(3), 2);
    CHECK_EQ(report.getInt(6), 44100);
}

TEST_CASE(ui_messages, 1, 2, 3) {
    auto host = startSynth(stage);
    CHECK_EQ(host->isUIVisible(), 0);
    host->showUI();
    // The synth's GUI thread shows it a little later, as RemoteZynAddSubFx's.
    int visible = 0;
    for (auto start = harness::nowNs(); harness::msSince(start) < 60000 && visible != 1;) {
        visible = host->isUIVisible();
    }
    CHECK_EQ(visible, 1);
    host->hideUI();
    for (auto start = harness::nowNs(); harness::msSince(start) < 60000 && visible != 0;) {
        visible = host->isUIVisible();
    }
    CHECK_EQ(visible, 0);
    // The synth does not know ToggleUI: the client's default handling says
    // so in a debug message.
    host->toggleUI();
    sync(*host);
    bool said = false;
    for (const auto& m : host->recorded()) {
        said = said || (m.id == IdDebugMessage && m.getString(0).find("undefined message: 17") != std::string::npos);
    }
    CHECK(said);
}

TEST_CASE(values_keep_their_text_and_type, 1, 2, 3) {
    auto host = startSynth(stage);
    const float third = 1.0f / 3.0f;
    const std::string text("a\0b \xc3\xbc \xff\xfe", 10);
    auto echo = host->ask(message(IdEcho).addInt(-123456).addFloat(third).addString(text));
    CHECK_EQ(echo.valueCount(), 4);
    CHECK_EQ(echo.getInt(0), -123456);
    CHECK(echo.getString(2) == text);
    // A float's text is LMMS's `%f` at every stage ...
    CHECK_EQ(echo.getString(3), std::string("0.333333"));
    // ... but from stage 2 on it travels as a float: no precision is lost.
    if (stage == 1) {
        CHECK_EQ(echo.getFloat(1), static_cast<float>(std::atof("0.333333")));
    } else {
        CHECK_EQ(echo.getFloat(1), third);
    }
    // Missing values read as nothing (LMMS would read out of bounds).
    CHECK_EQ(echo.getInt(9), 0);
    CHECK_EQ(echo.getString(-1), std::string());
}

// ---------------------------------------------------------------------------
// Processing

static void synthPitch(int stage, const std::string& exe, const std::vector<std::string>& args = {}) {
    auto host = startSynth(stage, exe, args);
    std::vector<SampleFrame> out(frames, SampleFrame(1.0f));
    // Silence before any note.
    CHECK(host->process(nullptr, out.data()));
    for (const auto& f : out) {
        CHECK_EQ(f[0], 0.0f);
    }
    for (int key : {69, 81, 57}) {
        host->processMidiEvent(MidiEvent(MidiNoteOn, 0, static_cast<int16_t>(key), 127), 0);
        auto left = render(*host, 24);
        left.erase(left.begin(), left.begin() + 8 * frames);
        const double f = pitch(left, 44100);
        float peak = 0;
        for (float v : left) {
            peak = std::max(peak, std::fabs(v));
        }
        std::printf("key %d: %.2f Hz (expected %.2f), peak %.3f\n", key, f, keyFrequency(key), peak);
        if (std::fabs(f - keyFrequency(key)) >= 0.5) {
            // What the plugin thinks it renders, for the record.
            const message r = host->ask(IdReport);
            std::printf("plugin: rate %d, frames %d, inputs %d, outputs %d, MIDI events %d\n", r.getInt(0), r.getInt(1),
                        r.getInt(2), r.getInt(3), host->ask(IdMidiReport).getInt(0));
        }
        CHECK(std::fabs(f - keyFrequency(key)) < 0.5);
        CHECK(peak > 0.99f && peak <= 1.0f);
        host->processMidiEvent(MidiEvent(MidiNoteOff, 0, static_cast<int16_t>(key), 0), 0);
        for (float v : render(*host, 2)) {
            CHECK_EQ(v, 0.0f);
        }
    }
}

TEST_CASE(synth_renders_the_played_pitch, 1, 2, 3) { synthPitch(stage, synthProgram()); }

// The host does not wait for HostInfoGotten (as ZynAddSubFx's), and the
// plugin reads its start-up messages late: at stage 3 the first period
// must still be rendered at the right size, not at an unknown one.
TEST_CASE(synth_renders_the_played_pitch_after_a_slow_start, 1, 2, 3) {
    synthPitch(stage, synthProgram(), {"slow-start"});
}

// The periods handed to the plugin's message loop (built with
// IPC_LMMS_PROCESS_IN_MESSAGE_LOOP).
TEST_CASE(synth_renders_the_played_pitch_in_its_message_loop, 3) { synthPitch(stage, loopSynthProgram()); }

static void effectGain(int stage, bool split) {
    auto host = startEffect(stage, split);
    host->sendMessage(message(IdSetGain).addFloat(0.5f));
    sync(*host);
    std::vector<SampleFrame> in(frames);
    std::vector<SampleFrame> out(frames);
    for (int period = 0; period < 8; ++period) {
        for (size_t f = 0; f < frames; ++f) {
            const double t = static_cast<double>(period * frames + f);
            in[f] = SampleFrame(static_cast<float>(std::sin(t * 0.05)), static_cast<float>(0.25 * std::cos(t * 0.011)));
        }
        CHECK(host->process(in.data(), out.data()));
        for (size_t f = 0; f < frames; ++f) {
            CHECK_EQ(out[f][0], 0.5f * in[f][0]);
            CHECK_EQ(out[f][1], 0.5f * in[f][1]);
        }
    }
    // A new gain, with full precision from stage 2 on.
    host->sendMessage(message(IdSetGain).addFloat(0.1234567f));
    sync(*host);
    CHECK(host->process(in.data(), out.data()));
    const float gain = stage == 1 ? static_cast<float>(std::atof("0.123457")) : 0.1234567f;
    for (size_t f = 0; f < frames; ++f) {
        CHECK_EQ(out[f][0], gain * in[f][0]);
    }
}

TEST_CASE(effect_applies_its_gain_split, 1, 2, 3) { effectGain(stage, true); }
TEST_CASE(effect_applies_its_gain_interleaved, 1, 2, 3) { effectGain(stage, false); }

static void midiInOrder(int stage, const std::string& exe) {
    auto host = startSynth(stage, exe);
    std::uint64_t sum = 0;
    const int events = 10000;
    for (int i = 0; i < events; ++i) {
        const MidiEvent e(MidiControlChange, static_cast<int8_t>(i % 16), static_cast<int16_t>(i % 128),
                          static_cast<int16_t>((i * 7) % 128));
        const f_cnt_t offset = static_cast<f_cnt_t>(i % 256);
        sum = midiChecksum(sum, e.type(), e.channel(), e.param(0), e.param(1), offset);
        host->processMidiEvent(e, offset);
    }
    // At stage 3 the events travel with the next period.
    std::vector<SampleFrame> out(frames);
    CHECK(host->process(nullptr, out.data()));
    auto report = host->ask(IdMidiReport);
    CHECK_EQ(report.getInt(0), events);
    CHECK_EQ(report.getString(1), std::to_string(sum));
}

TEST_CASE(midi_events_arrive_whole_and_in_order, 1, 2, 3) { midiInOrder(stage, synthProgram()); }
TEST_CASE(midi_events_arrive_in_the_message_loop, 3) { midiInOrder(stage, loopSynthProgram()); }

TEST_CASE(channel_counts_change, 1, 2, 3) {
    auto host = startEffect(stage, true);
    host->sendMessage(message(IdSetGain).addFloat(2.0f));
    // Mono in, stereo out: a new buffer, a new key.
    host->sendMessage(message(IdChangeIO).addInt(1).addInt(2));
    auto report = host->ask(IdReport);
    CHECK_EQ(report.getInt(2), 1);
    CHECK_EQ(report.getInt(3), 2);
    std::vector<SampleFrame> in(frames);
    std::vector<SampleFrame> out(frames);
    for (size_t f = 0; f < frames; ++f) {
        in[f] = SampleFrame(static_cast<float>(f) / 256.0f, -1.0f);
    }
    CHECK(host->process(in.data(), out.data()));
    for (size_t f = 0; f < frames; ++f) {
        // The one input goes to both outputs.
        CHECK_EQ(out[f][0], 2.0f * in[f][0]);
        CHECK_EQ(out[f][1], 2.0f * in[f][0]);
    }
    // And back.
    host->sendMessage(message(IdChangeIO).addInt(2).addInt(2));
    CHECK_EQ(host->ask(IdReport).getInt(2), 2);
    CHECK(host->process(in.data(), out.data()));
    for (size_t f = 0; f < frames; ++f) {
        CHECK_EQ(out[f][1], -2.0f);
    }
}

// ---------------------------------------------------------------------------
// Settings

TEST_CASE(settings_of_32_mib_as_one_message, 1, 2, 3) {
    auto host = startSynth(stage);
    const std::string blob = pattern(32 << 20, 1);
    auto start = harness::nowNs();
    CHECK_EQ(host->ask(message(IdLoadSettingsFromString).addString(blob)).id, static_cast<int>(IdLoadSettingsFromString));
    auto saved = host->ask(IdSaveSettingsToString);
    std::printf("32 MiB there and back as messages: %.0f ms\n", harness::msSince(start));
    CHECK_EQ(saved.id, static_cast<int>(IdSaveSettingsToString));
    CHECK(saved.getString(0) == blob);
}

TEST_CASE(settings_of_32_mib_through_files, 1, 2, 3) {
    auto host = startSynth(stage);
    const std::string blob = pattern(32 << 20, 2);
    const std::string in = tempPath("load");
    const std::string out = tempPath("save");
    {
        std::ofstream f(in, std::ios::binary);
        f.write(blob.data(), static_cast<std::streamsize>(blob.size()));
    }
    // Loading answers from the synth's GUI thread, as RemoteZynAddSubFx's.
    CHECK_EQ(host->ask(message(IdLoadSettingsFromFile).addString(in)).id, static_cast<int>(IdLoadSettingsFromFile));
    CHECK_EQ(host->ask(message(IdSaveSettingsToFile).addString(out)).id, static_cast<int>(IdSaveSettingsToFile));
    std::string saved;
    {
        std::ifstream f(out, std::ios::binary | std::ios::ate);
        saved.resize(static_cast<size_t>(f.tellg()));
        f.seekg(0);
        f.read(&saved[0], static_cast<std::streamsize>(saved.size()));
    }
    CHECK(saved == blob);
    std::filesystem::remove(in);
    std::filesystem::remove(out);
}

// ---------------------------------------------------------------------------
// Two plugin threads sending at once

TEST_CASE(two_plugin_threads_send_at_once, 1, 2, 3) {
    auto host = startSynth(stage);
    const int lines = 400;
    host->sendMessage(message(IdChatter).addInt(lines));
    // Nobody waits: the host fetches what came, as LMMS's idle loop does.
    size_t got = 0;
    for (auto start = harness::nowNs(); got < 2 * lines && harness::msSince(start) < 60000;) {
        host->fetchAndProcessAllMessages();
        got = 0;
        for (const auto& m : host->recorded()) {
            got += m.id == IdChatterLine ? 1 : 0;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    int next[2] = {0, 0};
    for (const auto& m : host->recorded()) {
        if (m.id != IdChatterLine) {
            continue;
        }
        const int thread = m.getInt(0);
        CHECK(thread == 0 || thread == 1);
        CHECK_EQ(m.getInt(1), next[thread]);
        CHECK(m.getString(2) == chatterText(thread, next[thread]));
        ++next[thread];
    }
    CHECK_EQ(next[0], lines);
    CHECK_EQ(next[1], lines);
    if (stage == 3) {
        // The host read them while it was idle, and heard of it.
        CHECK(host->m_arrivals.load() > 0);
    }
}

// ---------------------------------------------------------------------------
// Failures

TEST_CASE(a_dead_plugin_is_noticed_at_once, 1, 2, 3) {
    auto host = startSynth(stage);
    host->sendMessage(IdCrash);
    const auto start = harness::nowNs();
    // Nothing answers: the wait ends when the plugin is found dead.
    auto m = host->waitForMessage(IdReport);
    std::printf("stage %d: the death noticed after %.1f ms\n", stage, harness::msSince(start));
    CHECK_EQ(m.id, static_cast<int>(IdUndefined));
    CHECK(host->isInvalid());
    CHECK(host->failed());
    std::vector<SampleFrame> out(frames, SampleFrame(1.0f));
    CHECK(!host->process(nullptr, out.data()));
    for (const auto& f : out) {
        CHECK_EQ(f[0], 0.0f);
    }
    CHECK(harness::msSince(start) < 60000);

    // Dying during processing: process() returns false and silence.
    auto effect = startEffect(stage, true);
    std::vector<SampleFrame> in(frames, SampleFrame(0.5f));
    CHECK(effect->process(in.data(), out.data()));
    effect->sendMessage(IdCrash);
    bool processed = true;
    for (auto t = harness::nowNs(); processed && harness::msSince(t) < 60000;) {
        processed = effect->process(in.data(), out.data());
    }
    CHECK(!processed);
    for (const auto& f : out) {
        CHECK_EQ(f[1], 0.0f);
    }
    for (auto t = harness::nowNs(); !effect->failed() && harness::msSince(t) < 60000;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(effect->failed());
}

TEST_CASE(a_hung_plugin_costs_a_period, 1, 2, 3) {
    auto host = startEffect(true, options(stage));
    std::vector<SampleFrame> in(frames, SampleFrame(0.25f, -0.25f));
    std::vector<SampleFrame> out(frames);
    // A first period, so that nothing is still starting up (with the
    // generous timeout: on a busy machine one round trip may take longer
    // than a period).
    CHECK(host->process(in.data(), out.data()));
    // The default timeout from now on: about one period.
    host->setProcessTimeout(std::chrono::nanoseconds(0));
    host->sendMessage(message(IdHang).addInt(1500));
    sync(*host);
    auto start = harness::nowNs();
    std::fill(out.begin(), out.end(), SampleFrame(1.0f));
    CHECK(!host->process(in.data(), out.data()));
    const double first = harness::msSince(start);
    for (const auto& f : out) {
        CHECK_EQ(f[0], 0.0f);
    }
    // The host carries on, period after period, each bounded by the
    // timeout, whether the plugin still hangs or not (no assertion on
    // which: that would be a race with the hang's end).
    start = harness::nowNs();
    for (int p = 0; p < 8; ++p) {
        host->process(in.data(), out.data());
    }
    const double more = harness::msSince(start);
    std::printf("stage %d: a hung period cost %.1f ms, 8 more %.1f ms\n", stage, first, more);
    CHECK(first < 60000);
    CHECK(more < 60000);
    CHECK(!host->failed());
    // Once the plugin is back the host gets its audio again: the answers
    // to the periods it gave up on are recognised as late, not taken for
    // the new period's (a generous timeout again, so that this does not
    // depend on the machine's speed).
    host->setProcessTimeout(never);
    CHECK(host->process(in.data(), out.data()));
    CHECK(!host->failed());
    for (const auto& f : out) {
        CHECK_EQ(f[0], 0.25f);
        CHECK_EQ(f[1], -0.25f);
    }
}

TEST_CASE(the_plugin_exits_when_its_host_dies, 1, 2, 3) {
    const std::string file = tempPath("pid");
    harness::Child helper(harness::selfPath(), {"--host-helper", std::to_string(stage), file});
    std::uint32_t pid = 0;
    for (auto start = harness::nowNs(); pid == 0 && harness::msSince(start) < 60000;) {
        std::ifstream f(file);
        unsigned long v = 0;
        if (f >> v) {
            pid = static_cast<std::uint32_t>(v);
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    CHECK(pid != 0);
    CHECK(harness::processAlive(pid));
    helper.kill();
    const auto start = harness::nowNs();
    while (harness::processAlive(pid) && harness::msSince(start) < 60000) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::printf("stage %d: the plugin exited %.1f ms after its host died\n", stage, harness::msSince(start));
    CHECK(!harness::processAlive(pid));
    std::filesystem::remove(file);
}

TEST_CASE(shutdown_asks_then_kills, 1, 2, 3) {
    std::uint32_t pid = 0;
    {
        auto host = startSynth(stage);
        pid = static_cast<std::uint32_t>(host->ask(IdReport).getInt(4));
    }
    // A plugin that quits when asked is gone when the host object is.
    for (auto start = harness::nowNs(); harness::processAlive(pid) && harness::msSince(start) < 60000;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(!harness::processAlive(pid));
    // One that does not is killed after the bounded wait.
    auto host = startSynth(stage);
    host->sendMessage(IdIgnoreQuit);
    pid = static_cast<std::uint32_t>(host->ask(IdReport).getInt(4));
    const auto start = harness::nowNs();
    host.reset();
    std::printf("stage %d: a plugin deaf to Quit was killed after %.0f ms\n", stage, harness::msSince(start));
    for (auto t = harness::nowNs(); harness::processAlive(pid) && harness::msSince(t) < 60000;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(!harness::processAlive(pid));
}

TEST_CASE(a_hostile_plugin_cannot_hurt_the_host, 1, 2, 3) {
    // Each mode sends one kind of garbage: the host must come back (with
    // IdUndefined, or with the valid message that follows), never crash,
    // hang or allocate what the garbage claims.
    const char* modes[] = {"negative-count", "huge-count", "huge-length", "negative-length", "cut", "bad-payload"};
    for (const char* mode : modes) {
        auto o = options(stage);
        // A message cut short is given this long to finish.
        o.payloadTimeout = std::chrono::milliseconds(200);
        auto host = std::make_unique<TestHost>(o);
        CHECK(!host->init(harness::selfPath(), false, {"--hostile", mode}));
        auto m = host->waitForMessage(IdReport);
        std::printf("stage %d, %s: %s\n", stage, mode,
                    m.id == IdReport ? "skipped, the next message came" : "the link went down");
        if (m.id == IdReport) {
            // Only a payload can be skipped whole (stages 2 and 3).
            CHECK(stage != 1);
            CHECK_EQ(m.getString(0), std::string("after the garbage"));
        } else {
            CHECK(host->isInvalid());
        }
    }
}

// ---------------------------------------------------------------------------
// The other roles of this program

namespace {

/// A host that starts the synth, writes the plugin's process ID to `file`,
/// then waits to be killed.
int hostHelper(int stage, const std::string& file) {
    auto host = startSynth(stage);
    const int pid = host->ask(IdReport).getInt(4);
    {
        std::ofstream f(file + ".tmp");
        f << pid << "\n";
    }
    std::filesystem::rename(file + ".tmp", file);
    std::this_thread::sleep_for(std::chrono::seconds(120));
    return 0;
}

void writeRaw(ipc::Writer& w, const void* data, size_t n) {
    w.write(data, n, std::chrono::seconds(10));
}

void writeInt(ipc::Writer& w, std::int32_t v) { writeRaw(w, &v, sizeof v); }

/// A plugin that opens the host's link and sends garbage, then (where the
/// garbage can be skipped) a valid IdReport.
int hostilePlugin(const std::string& connection, const std::string& mode) {
    const int stage = connection[9] - '0';
    if (stage == 3) {
        auto plugin = ipc::Plugin::connect_from_env();
        auto link = plugin.main_link();
        // A payload that is not an LMMS message, then one that is.
        auto sendRaw = [&](const std::vector<uint8_t>& payload) {
            struct Job {
                const std::vector<uint8_t>* p;
            } job{&payload};
            auto cb = [](void* user, ipc_encoder* e) noexcept -> uint32_t {
                const auto* j = static_cast<Job*>(user);
                return ipc_encoder_write(e, j->p->data(), j->p->size());
            };
            ipc_main_link_send(link.get(), 0x6c6d6d73, cb, &job);
        };
        std::vector<uint8_t> garbage;
        if (mode == "huge-count") {
            garbage = {0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01};
        } else if (mode == "huge-length") {
            garbage = {0x92, 0x40, 0xdb, 0x7f, 0xff, 0xff, 0xff};
        } else {
            garbage = {0x93, 0xc1, 0x00, 0x00};
        }
        sendRaw(garbage);
        std::vector<uint8_t> good;
        ipc::Encoder e(good);
        e.write_array(2);
        e.write_int(IdReport);
        e.write_str("after the garbage");
        sendRaw(good);
        plugin.wait_for_stop(std::chrono::seconds(120));
        return 0;
    }
    auto segment = ipc::Segment::open(connection.substr(11));
    segment.watch_peer();
    auto w = segment.writer(1);
    if (stage == 1) {
        if (mode == "negative-count") {
            writeInt(w, IdReport);
            writeInt(w, -5);
        } else if (mode == "huge-count") {
            writeInt(w, IdReport);
            writeInt(w, 0x7fffffff);
        } else if (mode == "huge-length") {
            writeInt(w, IdReport);
            writeInt(w, 1);
            writeInt(w, 0x7fffffff);
        } else if (mode == "negative-length") {
            writeInt(w, IdReport);
            writeInt(w, 1);
            writeInt(w, -1);
        } else {
            // A message cut short: its string never ends.
            writeInt(w, IdReport);
            writeInt(w, 1);
            writeInt(w, 1000);
            writeRaw(w, "abc", 3);
        }
        w.commit();
    } else {
        // Stage 2: a valid envelope around a payload that is no LMMS
        // message, then a valid message.
        std::vector<uint8_t> garbage;
        if (mode == "huge-count") {
            garbage = {0xdd, 0x7f, 0xff, 0xff, 0xff, 0x01};
        } else if (mode == "huge-length") {
            garbage = {0x92, 0x40, 0xdb, 0x7f, 0xff, 0xff, 0xff};
        } else if (mode == "cut") {
            garbage = {0x92, 0x40};
        } else {
            garbage = {0x93, 0xc1, 0x00, 0x00};
        }
        struct Job {
            const std::vector<uint8_t>* p;
        };
        auto cb = [](void* user, ipc_encoder* e) noexcept -> uint32_t {
            const auto* j = static_cast<Job*>(user);
            return ipc_encoder_write(e, j->p->data(), j->p->size());
        };
        Job job{&garbage};
        ipc_message_send(w.get(), 0x6c6d6d73, 0, 0, IPC_FOREVER, cb, &job);
        std::vector<uint8_t> good;
        ipc::Encoder e(good);
        e.write_array(2);
        e.write_int(IdReport);
        e.write_str("after the garbage");
        Job job2{&good};
        ipc_message_send(w.get(), 0x6c6d6d73, 0, 0, IPC_FOREVER, cb, &job2);
    }
    // Stay until the host goes.
    auto r = segment.reader(0);
    for (;;) {
        uint8_t b[4096];
        size_t n = 0;
        if (ipc_reader_read(r.get(), b, sizeof b, 120ull * 1000000000ull, &n) != IPC_OK) {
            return 0;
        }
    }
}

}  // namespace

int harnessPeerMain(int argc, char** argv) {
    try {
        if (std::strcmp(argv[1], "--host-helper") == 0 && argc == 4) {
            return hostHelper(std::atoi(argv[2]), argv[3]);
        }
        if (std::strncmp(argv[1], "ipc-lmms:", 9) == 0 && argc == 4 && std::strcmp(argv[2], "--hostile") == 0) {
            return hostilePlugin(argv[1], argv[3]);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", argv[1], e.what());
        return 2;
    }
    std::fprintf(stderr, "unknown role %s\n", argv[1]);
    return 2;
}
