// demo_host.cpp: an LMMS-style host in C++ over ipc.hpp, driving the demo
// synthesizer (the C++ plugin, ipc_demo_plugin, or the Rust demo's plugin)
// through the Rust demo's protocol (demo_protocol.hpp). One line per check
// (`ok N - ...` or `not ok N - ...`), notes after `#`, and last the line
// `cargo xtask ci` counts (`test result: ok. N passed; 0 failed`).
//
//   ipc_demo_host [--periods N] [--unpaced N] [--plugin PROGRAM [ARGS...]]
//   ipc_demo_host --wire FILE
//
// The plugin is ipc_demo_plugin next to this program unless --plugin says
// otherwise (the rest of the command line: `--plugin demo plugin` for the
// Rust one, `--plugin wine64 ipc_demo_plugin.exe.so` for a Winelib build).
// In order: start (spawn, handshake, the plugin's ready message, shared
// audio buffers of 256 frames), tone (a single note: its pitch says the
// plugin renders at the protocol's 48 kHz; again after a change to 128
// frames; silence after its release), play (a melody as MIDI on the main
// link while an audio thread makes one real-time call per period, paced),
// talks (what the plugin sent on its own), unpaced (periods back to back
// and round trips, also spinning), state (at least 32 MiB saved and loaded
// as one message each way, every byte checked, a damaged copy refused),
// death (the plugin killed inside a real-time call: both links report it,
// well before the call's timeout), quit (a second plugin asked to quit
// exits cleanly). Every wait is bounded, and a watchdog bounds the run: a
// plugin that hangs or misbehaves fails a check, never hangs the host.
//
// `--wire FILE` compares this program's encoding of one sample of every
// message with the Rust one (the lines `demo wire` prints), byte for byte,
// and decodes the Rust bytes back.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "demo_protocol.hpp"
#include "demo_state.hpp"

#include "ipc.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#endif

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr size_t frames = 256;
/// One period at 48 kHz, 5.33 ms: also each paced call's deadline.
constexpr std::chrono::nanoseconds period_time{frames * 1000000000ull / demo::sample_rate};
/// Deadline of what is not real-time (start, state, shutdown).
constexpr auto slow = 30s;
constexpr uint8_t rt_priority = 80;

// ---------------------------------------------------------------------------
// Checks and notes

unsigned passed = 0;
unsigned failed = 0;
std::mutex out_mutex;
std::atomic<const char*> current_step{"arguments"};

void check(bool ok, const std::string& what) {
    std::lock_guard<std::mutex> lock(out_mutex);
    if (ok) {
        ++passed;
    } else {
        ++failed;
    }
    std::printf("%s %u - %s\n", ok ? "ok" : "not ok", passed + failed, what.c_str());
    std::fflush(stdout);
}

void note(const std::string& text) {
    std::lock_guard<std::mutex> lock(out_mutex);
    std::printf("#   %s\n", text.c_str());
    std::fflush(stdout);
}

/// A step that cannot go on (the rest of the run is skipped).
struct Abort : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Joins a thread when it goes out of scope, also when the step throws
/// (a joinable std::thread destroyed would end the program).
class Joined {
public:
    explicit Joined(std::thread& t) noexcept : t_(t) {}
    ~Joined() {
        if (t_.joinable()) {
            t_.join();
        }
    }
    Joined(const Joined&) = delete;
    Joined& operator=(const Joined&) = delete;

private:
    std::thread& t_;
};

/// A check the run cannot go on without.
void require(bool ok, const std::string& what) {
    check(ok, what);
    if (!ok) {
        throw Abort(what);
    }
}

std::string fmt(const char* format, ...) {
    char text[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    return text;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

std::string dbfs(float amplitude) {
    return amplitude <= 0.0f ? std::string("-inf dBFS") : fmt("%.1f dBFS", 20.0 * std::log10(amplitude));
}

/// Round-trip times.
class Samples {
public:
    void reserve(size_t n) { ns_.reserve(n); }
    void push(Clock::duration d) { ns_.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()); }
    size_t size() const { return ns_.size(); }
    /// The `p` quantile, nearest rank (microseconds; 0 when empty).
    double quantile(double p) {
        if (ns_.empty()) {
            return 0;
        }
        std::sort(ns_.begin(), ns_.end());
        size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(ns_.size())));
        rank = std::clamp<size_t>(rank, 1, ns_.size());
        return static_cast<double>(ns_[rank - 1]) / 1000.0;
    }

private:
    std::vector<int64_t> ns_;
};

std::string promoted(ipc_result r) {
    return r == IPC_OK ? fmt("real-time priority %u granted", rt_priority)
                       : "real-time priority refused (" + ipc::last_error() + ")";
}

// ---------------------------------------------------------------------------
// What the plugin sends on its own

/// Filled by the main link's handlers (on the listener thread).
struct Inbox {
    std::mutex mutex;
    std::condition_variable changed;
    std::optional<demo::Ready> ready;
    uint64_t stalling = 0;
    uint64_t params = 0;
    uint64_t logs = 0;
    uint64_t unknown = 0;
    std::vector<demo::ParamChanged> param_examples;
    std::optional<std::string> log_example;

    void register_on(const ipc::MainLink& link, const std::shared_ptr<Inbox>& self) {
        link.on<demo::Ready>([self](const demo::Ready& r) { self->update([&] { self->ready = r; }); });
        link.on<demo::Stalling>([self](const demo::Stalling&) { self->update([&] { ++self->stalling; }); });
        link.on<demo::ParamChanged>([self](const demo::ParamChanged& p) {
            self->update([&] {
                ++self->params;
                if (self->param_examples.size() == 2) {
                    self->param_examples.pop_back();
                }
                self->param_examples.push_back(p);
            });
        });
        link.on<demo::LogLine>([self](const demo::LogLine& l) {
            self->update([&] {
                ++self->logs;
                if (!self->log_example) {
                    self->log_example = l.text;
                }
            });
        });
        link.on_unknown([self](const ipc::Header&) { self->update([&] { ++self->unknown; }); });
    }

    template <class F>
    void update(F&& f) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            f();
        }
        changed.notify_all();
    }

    /// Waits at most `timeout` for `done()` (under the lock); whether it held.
    template <class F>
    bool wait_for(Clock::duration timeout, F&& done) {
        std::unique_lock<std::mutex> lock(mutex);
        return changed.wait_for(lock, timeout, done);
    }
};

// ---------------------------------------------------------------------------
// Start

struct Options {
    uint64_t periods = 375;
    uint64_t unpaced = 2000;
    std::string plugin;
    std::vector<std::string> plugin_args;
};

/// A running plugin, the real-time link with audio attached, its inbox.
struct Started {
    ipc::Host host;
    ipc::RtCaller rt;
    std::shared_ptr<Inbox> inbox;
    Clock::duration connected{};
};

Started launch(const Options& options) {
    Started s;
    s.inbox = std::make_shared<Inbox>();
    auto inbox = s.inbox;
    const auto t0 = Clock::now();
    s.host = ipc::Host::spawn(options.plugin, options.plugin_args, ipc::Config(),
                              [&inbox](ipc::MainLink link) { inbox->register_on(link, inbox); });
    s.connected = Clock::now() - t0;
    s.rt = s.host.take_rt();
    return s;
}

bool wait_ready(Started& s) {
    return s.inbox->wait_for(10s, [&] { return s.inbox->ready.has_value(); });
}

Started start(const Options& options) {
    current_step = "start";
    Started s = launch(options);
    check(true, fmt("start: plugin process %u spawned and handshaken in %.2f ms", s.host.plugin_pid(),
                    ms(s.connected)));
    note("plugin: " + options.plugin);
    require(wait_ready(s), "start: the plugin's real-time thread said it is ready (Ready, plugin -> host)");
    const auto& ready = *s.inbox->ready;
    if (const auto* p = std::get_if<uint8_t>(&ready.rt_priority)) {
        note(fmt("plugin's real-time thread: real-time priority %u granted", *p));
    } else {
        note("plugin's real-time thread: real-time priority refused (" + std::get<std::string>(ready.rt_priority) + ")");
    }
    s.rt.attach_audio(0, 2, frames, slow);
    ipc::Audio audio = s.rt.audio();
    require(audio && audio.inputs() == 0 && audio.outputs() == 2 && audio.frames() == frames,
            fmt("start: shared audio buffers attached: %u Hz, %zu frames per period (%.2f ms), 0 inputs, 2 outputs",
                demo::sample_rate, frames, ms(period_time)));
    return s;
}

// ---------------------------------------------------------------------------
// Tone: pitch, buffer size, silence

demo::RtReply render(ipc::RtCaller& rt, uint64_t period, Clock::duration timeout = 1s) {
    demo::RtReply reply{};
    const ipc_result r = rt.call(std::nothrow, demo::RtRequest{demo::Process{period}}, reply, timeout);
    if (r != IPC_OK) {
        throw ipc::Error(r, ipc::last_error());
    }
    if (reply.period != period) {
        throw Abort(fmt("period %llu was answered for period %llu", static_cast<unsigned long long>(period),
                        static_cast<unsigned long long>(reply.period)));
    }
    return reply;
}

/// Renders periods until `voices(reply)` holds, at most 2 s; whether it did.
template <class F>
bool render_until(ipc::RtCaller& rt, uint64_t& period, F&& voices) {
    const auto deadline = Clock::now() + 2s;
    while (Clock::now() < deadline) {
        if (voices(render(rt, period++).voices)) {
            return true;
        }
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

struct Tone {
    double hz;
    double crest;  // peak / rms: sqrt(2) for a sine
    double left_rms;
    double right_rms;
};

/// The frequency of a periodic signal from its rising zero crossings
/// (interpolated), in Hz at the protocol's rate; the crest factor and levels.
Tone analyse(const std::vector<float>& left, const std::vector<float>& right) {
    double first = -1, last = -1;
    unsigned crossings = 0;
    double peak = 0, sum = 0, sum_right = 0;
    for (size_t i = 0; i < left.size(); ++i) {
        peak = std::max(peak, static_cast<double>(std::fabs(left[i])));
        sum += static_cast<double>(left[i]) * left[i];
        sum_right += static_cast<double>(right[i]) * right[i];
        if (i > 0 && left[i - 1] < 0 && left[i] >= 0) {
            const double t = static_cast<double>(i - 1) + left[i - 1] / (left[i - 1] - left[i]);
            if (first < 0) {
                first = t;
            }
            last = t;
            ++crossings;
        }
    }
    const double rms = std::sqrt(sum / static_cast<double>(left.size()));
    Tone t{};
    t.hz = crossings > 1 ? (crossings - 1) * static_cast<double>(demo::sample_rate) / (last - first) : 0;
    t.crest = rms > 0 ? peak / rms : 0;
    t.left_rms = rms;
    t.right_rms = std::sqrt(sum_right / static_cast<double>(right.size()));
    return t;
}

/// Renders `count` periods and analyses the plugin's output.
Tone listen(ipc::RtCaller& rt, uint64_t& period, size_t count) {
    std::vector<float> left, right;
    for (size_t k = 0; k < count; ++k) {
        render(rt, period++);
        ipc::Audio audio = rt.audio();
        auto l = audio.output(0);
        auto r = audio.output(1);
        left.insert(left.end(), l.begin(), l.end());
        right.insert(right.end(), r.begin(), r.end());
    }
    for (float x : left) {
        if (!std::isfinite(x)) {
            return Tone{};
        }
    }
    return analyse(left, right);
}

void check_tone(const Tone& t, const char* when) {
    check(std::fabs(t.hz - 440.0) < 0.5,
          fmt("tone %s: the plugin plays A4 (MIDI key 69) at %.2f Hz, so it renders at %u Hz", when, t.hz,
              demo::sample_rate));
    check(std::fabs(t.crest - std::sqrt(2.0)) < 0.05 && t.left_rms > 1e-3,
          fmt("tone %s: a sine (crest factor %.3f, rms %s)", when, t.crest, dbfs(static_cast<float>(t.left_rms)).c_str()));
}

uint64_t tone(Started& s, const ipc::MainLink& link) {
    current_step = "tone";
    uint64_t period = 0;
    link.send(demo::Midi{0x90, 69, 127});
    require(render_until(s.rt, period, [](uint32_t v) { return v == 1; }),
            "tone: a note-on sent on the main link sounds one voice in the next periods");
    // Past the attack and decay (125 ms), the envelope is steady.
    for (int k = 0; k < 30; ++k) {
        render(s.rt, period++);
    }
    const Tone at256 = listen(s.rt, period, 16);
    check_tone(at256, "at 256 frames");
    check(at256.right_rms > at256.left_rms * 1.2,
          fmt("tone: stereo in channel order, right louder for a key above middle C (%.2fx)",
              at256.left_rms > 0 ? at256.right_rms / at256.left_rms : 0.0));
    // A new buffer size: new shared buffers, the voice sounds on.
    s.rt.attach_audio(0, 2, 128, slow);
    check(s.rt.audio().frames() == 128, "tone: buffer size changed to 128 frames (new shared buffers)");
    check_tone(listen(s.rt, period, 32), "at 128 frames");
    s.rt.attach_audio(0, 2, frames, slow);
    link.send(demo::Midi{0x80, 69, 0});
    const bool released = render_until(s.rt, period, [](uint32_t v) { return v == 0; });
    render(s.rt, period++);
    float peak = 0;
    ipc::Audio audio = s.rt.audio();
    for (size_t c = 0; c < 2; ++c) {
        for (float x : audio.output(c)) {
            peak = std::max(peak, std::fabs(x));
        }
    }
    check(released && peak < 1e-4f, fmt("tone: after its note-off and release, no voice and silence (peak %s)",
                                         dbfs(peak).c_str()));
    return period;
}

// ---------------------------------------------------------------------------
// Play: a melody on the main link, one real-time call per period

struct Timed {
    uint64_t at_ms;
    demo::Midi midi;
};

/// The first phrase of the "Ode to Joy" over two held bass notes, as the
/// Rust demo plays it.
std::vector<Timed> melody() {
    const double beat = 115.0;
    const double tune[15][3] = {{0, 1, 64},  {1, 1, 64},  {2, 1, 65},  {3, 1, 67},     {4, 1, 67},
                                {5, 1, 65},  {6, 1, 64},  {7, 1, 62},  {8, 1, 60},     {9, 1, 60},
                                {10, 1, 62}, {11, 1, 64}, {12, 1.5, 64}, {13.5, 0.5, 62}, {14, 2, 62}};
    struct Note {
        uint64_t at, len;
        uint8_t key, velocity;
    };
    std::vector<Note> notes = {{0, 900, 48, 80}, {920, 880, 43, 80}};
    for (const auto& t : tune) {
        notes.push_back({static_cast<uint64_t>(t[0] * beat), static_cast<uint64_t>(t[1] * beat) - 20,
                         static_cast<uint8_t>(t[2]), 100});
    }
    std::vector<Timed> events;
    for (const auto& n : notes) {
        events.push_back({n.at, demo::Midi{0x90, n.key, n.velocity}});
        events.push_back({n.at + n.len, demo::Midi{0x80, n.key, 0}});
    }
    // Note-offs first at equal times, so that a repeated key sounds again.
    std::stable_sort(events.begin(), events.end(), [](const Timed& a, const Timed& b) {
        return a.at_ms != b.at_ms ? a.at_ms < b.at_ms : (a.midi.status != 0x90 && b.midi.status == 0x90);
    });
    return events;
}

struct Run {
    Samples rtt;
    uint64_t timeouts = 0;
    uint64_t late = 0;
    uint32_t max_voices = 0;
    float peak = 0;
    double sum_squares = 0;
    uint64_t samples = 0;
    uint64_t audible = 0;
    uint64_t not_finite = 0;
    std::string error;
    Clock::duration elapsed{};

    std::string xruns() const {
        return fmt("%llu xruns (%llu timed out, %llu answered late)", static_cast<unsigned long long>(timeouts + late),
                   static_cast<unsigned long long>(timeouts), static_cast<unsigned long long>(late));
    }
};

/// One period with a one-period deadline: a timeout or a late answer is an
/// xrun; any other failure ends the run. The audio thread's form: no
/// exception, no allocation.
bool period_call(ipc::RtCaller& rt, uint64_t period, Run& run) {
    const auto t0 = Clock::now();
    demo::RtReply reply{};
    const ipc_result r = rt.call(std::nothrow, demo::RtRequest{demo::Process{period}}, reply, period_time);
    if (r == IPC_TIMEOUT) {
        ++run.timeouts;
        return true;
    }
    if (r != IPC_OK) {
        run.error = fmt("real-time call for period %llu: %s", static_cast<unsigned long long>(period), ipc::result_str(r));
        return false;
    }
    const auto took = Clock::now() - t0;
    run.rtt.push(took);
    if (took > period_time) {
        ++run.late;
    }
    if (reply.period != period) {
        run.error = fmt("period %llu answered for period %llu", static_cast<unsigned long long>(period),
                        static_cast<unsigned long long>(reply.period));
        return false;
    }
    run.max_voices = std::max(run.max_voices, reply.voices);
    ipc::Audio audio = rt.audio();
    float period_peak = 0;
    for (size_t c = 0; c < audio.outputs(); ++c) {
        for (float x : audio.output(c)) {
            if (!std::isfinite(x)) {
                ++run.not_finite;
                continue;
            }
            period_peak = std::max(period_peak, std::fabs(x));
            run.sum_squares += static_cast<double>(x) * x;
            ++run.samples;
        }
    }
    run.peak = std::max(run.peak, period_peak);
    run.audible += period_peak > 1e-3f ? 1 : 0;
    return true;
}

uint64_t play(Started& s, const ipc::MainLink& link, const Options& options, uint64_t first) {
    current_step = "play";
    Run run;
    run.rtt.reserve(options.periods);
    std::string audio_priority;
    const auto start = Clock::now() + 50ms;
    std::thread audio([&] {
        // Its own words: the error text is the thread's.
        audio_priority = promoted(ipc::promote_current_thread(rt_priority));
        for (uint64_t p = 0; p < options.periods; ++p) {
            std::this_thread::sleep_until(start + period_time * p);
            if (!period_call(s.rt, first + p, run)) {
                return;
            }
        }
        run.elapsed = Clock::now() - start;
    });
    Joined joined(audio);
    uint64_t sent = 0;
    std::string send_error;
    const auto end = period_time * options.periods;
    for (const auto& e : melody()) {
        if (std::chrono::milliseconds(e.at_ms) >= end) {
            continue;
        }
        std::this_thread::sleep_until(start + std::chrono::milliseconds(e.at_ms));
        const ipc_result r = link.send(std::nothrow, e.midi);
        if (r != IPC_OK) {
            send_error = ipc::result_str(r);
            break;
        }
        ++sent;
    }
    audio.join();
    require(run.error.empty(), "play: every period answered for itself" + (run.error.empty() ? "" : ": " + run.error));
    check(send_error.empty(), fmt("play: %llu MIDI messages (note on/off) sent by the main thread on the main link",
                                  static_cast<unsigned long long>(sent)) +
                                  (send_error.empty() ? "" : ": " + send_error));
    note(fmt("%llu periods paced in real time over %.2f s, deadline %.2f ms per call: ",
             static_cast<unsigned long long>(options.periods), ms(run.elapsed) / 1000, ms(period_time)) +
         run.xruns());
    note("host audio thread: " + audio_priority);
    const float rms = static_cast<float>(std::sqrt(run.sum_squares / static_cast<double>(std::max<uint64_t>(run.samples, 1))));
    check(run.audible > 0 && run.not_finite == 0,
          fmt("play: audio in the shared buffers: %llu audible periods, peak %s, rms %s, %llu non-finite samples",
              static_cast<unsigned long long>(run.audible), dbfs(run.peak).c_str(), dbfs(rms).c_str(),
              static_cast<unsigned long long>(run.not_finite)));
    check(run.max_voices >= 2, fmt("play: up to %u voices at once (bass and melody)", run.max_voices));
    if (run.rtt.size() > 0) {
        note(fmt("paced render calls: p50 %.1f us, p99 %.1f us, max %.1f us", run.rtt.quantile(0.5),
                 run.rtt.quantile(0.99), run.rtt.quantile(1.0)));
    }
    return first + options.periods;
}

void talks(Started& s, const Options& options) {
    current_step = "talks";
    const uint64_t expected_logs = options.periods + options.unpaced >= demo::log_every ? 1 : 0;
    auto& in = *s.inbox;
    // The plugin sends asynchronously: its last messages get a moment.
    in.wait_for(1s, [&] { return in.params > 0 && in.logs >= expected_logs; });
    std::lock_guard<std::mutex> lock(in.mutex);
    std::string examples;
    for (const auto& p : in.param_examples) {
        examples += fmt("%s%s = %.0f Hz (period %llu)", examples.empty() ? "" : " ... ", p.name.c_str(),
                        static_cast<double>(p.value), static_cast<unsigned long long>(p.period));
    }
    check(in.params > 0, fmt("talks: %llu parameter changes sent unprompted by the plugin, e.g. ",
                             static_cast<unsigned long long>(in.params)) +
                             examples);
    check(in.logs >= expected_logs, fmt("talks: %llu log lines, e.g. \"", static_cast<unsigned long long>(in.logs)) +
                                        in.log_example.value_or("") + "\"");
    check(in.unknown == 0, fmt("talks: %llu messages of no known type", static_cast<unsigned long long>(in.unknown)));
}

// ---------------------------------------------------------------------------
// Unpaced periods and round trips

/// `n` empty calls (answered with their number); their round trips.
Samples pings(ipc::RtCaller& rt, uint64_t n, std::string& error) {
    Samples s;
    s.reserve(n);
    for (uint64_t i = 0; i < n + n / 10; ++i) {
        demo::RtReply reply{};
        const auto t0 = Clock::now();
        // Each call may take up to a second: this step checks the answers
        // and measures round trips (a slow one shows in the tail), it does
        // not time calls against the period on a machine that may be busy.
        const ipc_result r = rt.call(std::nothrow, demo::RtRequest{demo::Ping{i}}, reply, 1s);
        const auto took = Clock::now() - t0;
        if (r != IPC_OK || reply.period != i) {
            error = fmt("ping %llu: %s, answered as %llu", static_cast<unsigned long long>(i), ipc::result_str(r),
                        static_cast<unsigned long long>(reply.period));
            return s;
        }
        if (i >= n / 10) {
            s.push(took);
        }
    }
    return s;
}

void set_spin(ipc::RtCaller& rt, std::chrono::microseconds spin) {
    demo::RtReply reply{};
    const auto micros = static_cast<uint32_t>(spin.count());
    const ipc_result r = rt.call(std::nothrow, demo::RtRequest{demo::Spin{micros}}, reply, 1s);
    require(r == IPC_OK && reply.period == micros, fmt("unpaced: the plugin spins up to %u us before it sleeps", micros));
    rt.set_spin(spin);
}

uint64_t unpaced(Started& s, const Options& options, uint64_t first) {
    current_step = "unpaced";
    Run run;
    run.rtt.reserve(options.unpaced);
    const auto t0 = Clock::now();
    for (uint64_t p = first; p < first + options.unpaced && run.error.empty(); ++p) {
        period_call(s.rt, p, run);
    }
    run.elapsed = Clock::now() - t0;
    require(run.error.empty(), fmt("unpaced: %llu periods back to back in %.2f ms (%.1f us per period): ",
                                   static_cast<unsigned long long>(options.unpaced), ms(run.elapsed),
                                   us(run.elapsed) / static_cast<double>(options.unpaced)) +
                                   run.xruns() + run.error);
    std::string error;
    Samples sleeping = pings(s.rt, options.unpaced, error);
    require(error.empty(), std::string("unpaced: empty real-time calls answered in order") +
                                (error.empty() ? "" : ": " + error));
    set_spin(s.rt, 50us);
    Samples spinning = pings(s.rt, options.unpaced, error);
    require(error.empty(), std::string("unpaced: empty calls with both sides spinning answered in order") +
                                (error.empty() ? "" : ": " + error));
    set_spin(s.rt, 0us);
    note(fmt("round trip       %8s %10s %10s %10s %10s", "n", "p50", "p99", "p99.9", "max"));
    auto row = [](const char* name, Samples& x) {
        note(fmt("%-16s %8zu %7.2f us %7.2f us %7.2f us %7.2f us", name, x.size(), x.quantile(0.5), x.quantile(0.99),
                 x.quantile(0.999), x.quantile(1.0)));
    };
    row("render, unpaced", run.rtt);
    row("empty call", sleeping);
    row("both spin 50 us", spinning);
    return first + options.unpaced;
}

// ---------------------------------------------------------------------------
// State

void state(Started& s, const ipc::MainLink& link) {
    current_step = "state";
    auto t0 = Clock::now();
    demo::State saved = link.request_timeout<demo::State>(demo::SaveState{}, slow);
    const auto saved_in = Clock::now() - t0;
    const size_t len = saved.blob.size();
    const double mib = static_cast<double>(len) / (1 << 20);
    std::string problem;
    const bool valid = demo::load_state(saved.blob.data(), len, problem).has_value();
    check(valid && len >= demo::state_len,
          fmt("state: saved, plugin -> host: %.0f MiB in one message (%.2f ms, %.0f MiB/s), every byte as its "
              "header says",
              mib, ms(saved_in), mib / (ms(saved_in) / 1000)) +
              (valid ? "" : ": " + problem));
    note(fmt("the plugin's own work building it: %.2f ms", static_cast<double>(saved.built_us) / 1000));
    const uint64_t sum = demo::checksum(saved.blob.data(), len);
    demo::LoadState request{std::move(saved.blob)};
    t0 = Clock::now();
    demo::Loaded loaded = link.request_timeout<demo::Loaded>(request, slow);
    const auto loaded_in = Clock::now() - t0;
    check(loaded.ok && loaded.checksum == sum,
          fmt("state: loaded, host -> plugin: %.0f MiB in one message (%.2f ms, %.0f MiB/s), the same checksum on "
              "both sides (%#018llx)",
              mib, ms(loaded_in), mib / (ms(loaded_in) / 1000), static_cast<unsigned long long>(loaded.checksum)));
    note(fmt("the plugin's own work checking it: %.2f ms", static_cast<double>(loaded.checked_us) / 1000));
    const size_t flip = len / 2 + 12345;
    if (flip < len) {
        request.blob[flip] ^= 0x10;
    }
    demo::Loaded refused = link.request_timeout<demo::Loaded>(request, slow);
    check(!refused.ok && refused.problem && refused.problem->find(std::to_string(flip)) != std::string::npos,
          "state: a copy with one byte flipped is refused: \"" + refused.problem.value_or("") + "\"");
    (void)s;
}

// ---------------------------------------------------------------------------
// Death and quit

void death(Started& s) {
    current_step = "death";
    ipc_result stalled = IPC_OK;
    Clock::time_point returned{};
    std::thread audio([&] {
        demo::RtReply reply{};
        stalled = s.rt.call(std::nothrow, demo::RtRequest{demo::Stall{10000}}, reply, 5s);
        returned = Clock::now();
    });
    // The call returns within its timeout whatever happens here.
    Joined joined(audio);
    const bool stalling = s.inbox->wait_for(2s, [&] { return s.inbox->stalling > 0; });
    if (!stalling) {
        // Unblock the audio thread before giving up.
        s.host.kill();
        audio.join();
        require(false, "death: the plugin said it stalls inside a real-time call (Stalling)");
    }
    const auto killed = Clock::now();
    s.host.kill();
    const auto why = s.host.main_link().wait_disconnected(5s);
    const auto main_after = Clock::now() - killed;
    audio.join();
    const auto rt_after = returned - killed;
    check(stalled == IPC_PEER_DIED,
          fmt("death: the plugin killed during a real-time call: the call returned %s %.2f ms after the kill "
              "(its timeout: 5 s)",
              ipc::result_str(stalled), ms(rt_after)));
    check(why && *why == IPC_PEER_DIED, fmt("death: the main link reported %s %.2f ms after the kill",
                                            why ? ipc::result_str(*why) : "nothing", ms(main_after)));
    demo::RtReply reply{};
    const auto again = Clock::now();
    const ipc_result later = s.rt.call(std::nothrow, demo::RtRequest{demo::Process{0}}, reply, period_time);
    check(later == IPC_PEER_DIED, fmt("death: a later call returned %s after %.2f ms (the death is remembered)",
                                      ipc::result_str(later), ms(Clock::now() - again)));
    const ipc::Ended ended = s.host.shutdown(2s);
    check(!ended.success, fmt("death: the plugin process was killed and reaped (exit code %d)", ended.code));
}

void quit(const Options& options) {
    current_step = "quit";
    Started s = launch(options);
    require(wait_ready(s), "quit: a second plugin process started and said it is ready");
    s.rt.attach_audio(0, 2, frames, slow);
    render(s.rt, 0, slow);
    const auto asked = Clock::now();
    // The audio thread would still hold its RtCaller here: the shutdown
    // closes the link's ends under it.
    const ipc::Ended ended = s.host.shutdown(5s);
    check(!ended.killed && ended.success,
          fmt("quit: it rendered a period, was asked to quit and exited by itself with 0 after %.2f ms "
              "(killed: %s, code %d)",
              ms(Clock::now() - asked), ended.killed ? "yes" : "no", ended.code));
}

// ---------------------------------------------------------------------------
// The wire check

std::vector<uint8_t> unhex(const std::string& text) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < text.size(); i += 2) {
        out.push_back(static_cast<uint8_t>(std::stoul(text.substr(i, 2), nullptr, 16)));
    }
    return out;
}

std::string hex(const std::vector<uint8_t>& bytes) {
    std::string out;
    for (uint8_t b : bytes) {
        out += fmt("%02x", b);
    }
    return out;
}

std::vector<uint8_t> pattern(size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) {
        v[i] = static_cast<uint8_t>(i * 7 + 3);
    }
    return v;
}

struct Sample {
    std::string name;
    uint32_t id;
    std::vector<uint8_t> bytes;
    /// Whether `bytes` decode to this sample's value.
    std::function<bool(const std::vector<uint8_t>&)> decodes;
};

template <class M>
Sample sample(const char* name, const M& value) {
    return Sample{name, ipc::message_id_v<M>, ipc::to_bytes(value), [value](const std::vector<uint8_t>& bytes) {
                      M got{};
                      return ipc::from_bytes(std::nothrow, bytes.data(), bytes.size(), got) == IPC_OK && got == value;
                  }};
}

/// One sample of every message, the values `demo wire` encodes.
std::vector<Sample> samples() {
    return {
        sample("ready_ok", demo::Ready{uint8_t{80}}),
        sample("ready_err", demo::Ready{std::string("Operation not permitted (os error 1)")}),
        sample("midi", demo::Midi{0x90, 69, 127}),
        sample("param_changed", demo::ParamChanged{"filter", 2620.0f, 1}),
        sample("log_line", demo::LogLine{"period 124: 3 voices, peak -13.5 dBFS, 7 notes so far"}),
        sample("stalling", demo::Stalling{10000}),
        sample("save_state", demo::SaveState{}),
        sample("state", demo::State{pattern(40), 1234}),
        sample("state_bin16", demo::State{pattern(300), 70000}),
        sample("load_state", demo::LoadState{pattern(40)}),
        sample("loaded_ok", demo::Loaded{true, 0xb2cd5f4ea34118c2ull, std::nullopt, 12}),
        sample("loaded_refused", demo::Loaded{false, 42, std::string("byte 33566777 differs"), 3}),
        sample("rt_process", demo::RtRequest{demo::Process{300}}),
        sample("rt_ping", demo::RtRequest{demo::Ping{UINT64_MAX}}),
        sample("rt_stall", demo::RtRequest{demo::Stall{10000}}),
        sample("rt_spin", demo::RtRequest{demo::Spin{50}}),
        sample("rt_reply", demo::RtReply{70000, 3}),
    };
}

/// Compares with the lines `<name> <id> <hex payload>` of the Rust program.
int wire(const std::string& file) {
    std::ifstream in(file);
    if (!in) {
        std::fprintf(stderr, "ipc_demo_host: cannot read %s\n", file.c_str());
        return 2;
    }
    std::vector<Sample> all = samples();
    std::vector<bool> seen(all.size());
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string name, hex_payload;
        uint32_t id = 0;
        if (!(words >> name >> id)) {
            continue;
        }
        words >> hex_payload;
        const auto found = std::find_if(all.begin(), all.end(), [&](const Sample& s) { return s.name == name; });
        if (found == all.end()) {
            check(false, "wire: " + name + ": the C++ side has no such sample");
            continue;
        }
        seen[static_cast<size_t>(found - all.begin())] = true;
        const std::vector<uint8_t> rust = unhex(hex_payload);
        check(found->id == id && found->bytes == rust,
              "wire: " + name + fmt(" (ID %u): C++ encodes the bytes Rust does", id) +
                  (found->bytes == rust ? "" : " (C++ " + hex(found->bytes) + ", Rust " + hex_payload + ")"));
        check(found->decodes(rust), "wire: " + name + ": C++ decodes Rust's bytes to the same value");
    }
    for (size_t i = 0; i < all.size(); ++i) {
        if (!seen[i]) {
            check(false, "wire: " + all[i].name + ": the Rust side has no such sample");
        }
    }
    std::printf("test result: %s. %u passed; %u failed\n", failed ? "FAILED" : "ok", passed, failed);
    return failed || passed == 0 ? 1 : 0;
}

// ---------------------------------------------------------------------------

std::string sibling_plugin(const char* argv0) {
#if defined(_WIN32)
    // argv[0] need not be a path Windows can start again.
    (void)argv0;
    char self[1024] = {0};
    GetModuleFileNameA(nullptr, self, sizeof self);
    std::string path = self;
    const char* name = "ipc_demo_plugin.exe";
#else
    std::string path = argv0;
    const char* name = "ipc_demo_plugin";
#endif
    const size_t slash = path.find_last_of("/\\");
    return (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + name;
}

bool parse(int argc, char** argv, Options& options) {
    options.plugin = sibling_plugin(argv[0]);
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--plugin" && i + 1 < argc) {
            options.plugin = argv[++i];
            options.plugin_args.assign(argv + i + 1, argv + argc);
            return true;
        }
        if ((arg == "--periods" || arg == "--unpaced") && i + 1 < argc) {
            char* end = nullptr;
            const unsigned long long n = std::strtoull(argv[++i], &end, 10);
            if (*end != '\0' || n > 10000000) {
                return false;
            }
            (arg == "--periods" ? options.periods : options.unpaced) = n;
            continue;
        }
        return false;
    }
    return options.periods > 0;
}

int run(const Options& options) {
    std::printf("libipc C++ demo host: an LMMS-style host driving a synthesizer plugin process (%zu-bit)\n",
                sizeof(void*) * 8);
    // Every step has its own timeouts; this is the last line of defence
    // against a plugin that finds a way to stall the host.
    const auto budget = 120s + period_time * options.periods + 1ms * options.unpaced;
    std::thread([budget] {
        std::this_thread::sleep_for(budget);
        std::printf("not ok - still in step `%s` after %.0f s: the watchdog ends the run\n", current_step.load(),
                    std::chrono::duration<double>(budget).count());
        std::printf("test result: FAILED. %u passed; %u failed\n", passed, failed + 1);
        std::fflush(stdout);
        std::_Exit(1);
    }).detach();
    try {
        Started s = start(options);
        const ipc::MainLink link = s.host.main_link();
        uint64_t period = tone(s, link);
        period = play(s, link, options, period);
        talks(s, options);
        if (options.unpaced > 0) {
            unpaced(s, options, period);
        }
        state(s, link);
        death(s);
        quit(options);
    } catch (const Abort& e) {
        note(std::string("stopped in step `") + current_step.load() + "`: " + e.what());
    } catch (const std::exception& e) {
        check(false, std::string(current_step.load()) + ": " + e.what());
    }
    std::printf("test result: %s. %u passed; %u failed\n", failed ? "FAILED" : "ok", passed, failed);
    return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "--wire") {
        return wire(argv[2]);
    }
    Options options;
    if (!parse(argc, argv, options)) {
        std::fprintf(stderr,
                     "usage: %s [--periods N] [--unpaced N] [--plugin PROGRAM [ARGS...]]\n"
                     "       %s --wire FILE\n",
                     argv[0], argv[0]);
        return 2;
    }
    return run(options);
}
