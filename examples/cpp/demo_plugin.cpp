// demo_plugin.cpp: the demo synthesizer as a C++ plugin process over
// ipc.hpp, speaking the Rust demo's protocol (demo_protocol.hpp): what an
// LMMS remote plugin does. Started by a host (ipc_demo_host, or the Rust
// demo with `--plugin`), it finds the link in its environment.
//
// Three threads, as in the Rust plugin: the main link's listener (MIDI,
// state requests), the real-time thread (renders each period the host
// asks for, allocating nothing, taking no lock), and a messenger that sends
// what the real-time thread has to say (parameter changes, log lines) on
// the main link. The main thread waits for the host to say quit, then
// joins the other two, and exits with 0 only then.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "demo_protocol.hpp"
#include "demo_state.hpp"
#include "demo_synth.hpp"
#include "spsc.hpp"

#include "ipc.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// Priority asked for the real-time thread (SCHED_FIFO 80, as the Rust demo).
constexpr uint8_t rt_priority = 80;
/// The parameters a fresh synthesizer starts with.
constexpr demo::Params default_params{2000.0f, 0.8f};

/// From the main link's listener to the real-time thread.
struct Control {
    enum Kind : uint8_t { note_on, note_off, load } kind;
    uint8_t key;
    uint8_t velocity;
    demo::Params params;
};

/// From the real-time thread to the messenger.
struct Event {
    enum Kind : uint8_t { filter, report, stalling } kind;
    uint64_t period;
    float value;
    uint32_t voices;
    uint64_t notes;
    uint64_t millis;
};

/// The parameters as the main link sees them (for saving), published by
/// whoever changes them.
class Published {
public:
    explicit Published(demo::Params p) noexcept { set(p); }
    demo::Params get() const noexcept {
        return {from_bits(filter_hz_.load(std::memory_order_acquire)),
                from_bits(volume_.load(std::memory_order_acquire))};
    }
    void set(demo::Params p) noexcept {
        filter_hz_.store(demo::state::bits(p.filter_hz), std::memory_order_release);
        volume_.store(demo::state::bits(p.volume), std::memory_order_release);
    }

private:
    static float from_bits(uint32_t b) noexcept {
        float f;
        std::memcpy(&f, &b, sizeof f);
        return f;
    }
    std::atomic<uint32_t> filter_hz_{0};
    std::atomic<uint32_t> volume_{0};
};

/// What the threads share. Outlives the plugin's link, whose handlers use it.
struct Shared {
    demo::Spsc<Control, 1024> controls;
    demo::Spsc<Event, 1024> events;
    Published published{default_params};
    std::atomic<bool> stop_messenger{false};
};

int64_t micros_since(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
}

std::string dbfs(float amplitude) {
    if (amplitude <= 0.0f) {
        return "-inf dBFS";
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.1f dBFS", 20.0 * std::log10(static_cast<double>(amplitude)));
    return text;
}

/// What the real-time thread keeps between calls. Allocation-free.
class Renderer {
public:
    explicit Renderer(Shared& shared) noexcept : shared_(shared) {}

    /// Answers one real-time request.
    demo::RtReply answer(const demo::RtRequest& request, ipc::Audio* audio) noexcept {
        if (const auto* p = std::get_if<demo::Process>(&request.v)) {
            return process(p->period, audio);
        }
        if (const auto* p = std::get_if<demo::Ping>(&request.v)) {
            return {p->n, synth_.voices()};
        }
        if (const auto* s = std::get_if<demo::Stall>(&request.v)) {
            shared_.events.push(Event{Event::stalling, 0, 0, 0, 0, s->millis});
            std::this_thread::sleep_for(std::chrono::milliseconds(s->millis));
            return {0, 0};
        }
        const auto& spin = std::get<demo::Spin>(request.v);
        spin_ = std::chrono::microseconds(spin.micros);
        return {spin.micros, 0};
    }

    /// A spin the host asked for, to apply after this call.
    std::optional<std::chrono::nanoseconds> take_spin() noexcept { return std::exchange(spin_, std::nullopt); }

private:
    /// Renders one period: applies the notes that came, then fills the
    /// shared output buffers.
    demo::RtReply process(uint64_t period, ipc::Audio* audio) noexcept {
        while (auto c = shared_.controls.pop()) {
            switch (c->kind) {
            case Control::note_on: {
                const float hz = synth_.note_on(c->key, c->velocity);
                ++notes_;
                shared_.published.set(synth_.params());
                shared_.events.push(Event{Event::filter, period, hz, 0, 0, 0});
                break;
            }
            case Control::note_off: synth_.note_off(c->key); break;
            case Control::load: synth_ = demo::Synth(c->params); break;
            }
        }
        if (audio != nullptr && audio->outputs() >= 2 && audio->frames() <= demo::max_frames) {
            const size_t n = audio->frames();
            synth_.render(left_.data(), right_.data(), n);
            std::memcpy(audio->output(0).data(), left_.data(), n * sizeof(float));
            std::memcpy(audio->output(1).data(), right_.data(), n * sizeof(float));
            for (size_t i = 0; i < n; ++i) {
                peak_ = std::max(peak_, std::max(std::fabs(left_[i]), std::fabs(right_[i])));
            }
        }
        const uint32_t voices = synth_.voices();
        if (period % demo::log_every == demo::log_every - 1) {
            shared_.events.push(Event{Event::report, period, peak_, voices, notes_, 0});
            peak_ = 0.0f;
        }
        return {period, voices};
    }

    Shared& shared_;
    demo::Synth synth_{default_params};
    std::array<float, demo::max_frames> left_{};
    std::array<float, demo::max_frames> right_{};
    uint64_t notes_ = 0;
    /// Peak since the last report.
    float peak_ = 0.0f;
    std::optional<std::chrono::nanoseconds> spin_;
};

/// The real-time thread: asks for real-time priority, says hello, then
/// serves the host's calls until the host says quit (true) or goes away
/// (false).
bool real_time(ipc::RtServer& rt, const ipc::MainLink& link, Shared& shared) {
    demo::Ready ready{};
    if (ipc::promote_current_thread(rt_priority) == IPC_OK) {
        ready.rt_priority = rt_priority;
    } else {
        ready.rt_priority = ipc::last_error();
    }
    if (link.send(std::nothrow, ready) != IPC_OK) {
        return false;
    }
    auto renderer = std::make_unique<Renderer>(shared);
    // serve_one rather than serve: between calls the server may change how
    // it waits (a spin the host asked for). Failures of single requests are
    // reported to the host by the call; a run of them that never ends is a
    // host that is not speaking this protocol.
    unsigned failures_in_a_row = 0;
    for (;;) {
        const ipc_result r = rt.serve_one<demo::RtRequest>(
            ipc::forever, [&](const demo::RtRequest& request, ipc::Audio* audio) {
                return renderer->answer(request, audio);
            });
        switch (r) {
        case IPC_OK: failures_in_a_row = 0; break;
        case IPC_CLOSED: return true;
        case IPC_PEER_DIED:
        case IPC_CORRUPTED:
        case IPC_FRAMING: return false;
        default:
            std::fprintf(stderr, "ipc_demo_plugin: a real-time request was not served: %s\n",
                         ipc::result_str(r));
            if (++failures_in_a_row == 1000) {
                return false;
            }
        }
        if (auto spin = renderer->take_spin()) {
            ipc_rt_server_set_spin(rt.get(), ipc::Timeout(*spin).ns());
        }
    }
}

/// Sends the real-time thread's events to the host until told to stop.
void messenger(const ipc::MainLink& link, Shared& shared) {
    for (;;) {
        auto event = shared.events.pop();
        if (!event) {
            if (shared.stop_messenger.load(std::memory_order_acquire)) {
                return;
            }
            std::this_thread::sleep_for(2ms);
            continue;
        }
        ipc_result sent = IPC_OK;
        switch (event->kind) {
        case Event::filter: sent = link.send(std::nothrow, demo::ParamChanged{"filter", event->value, event->period}); break;
        case Event::report:
            sent = link.send(std::nothrow,
                             demo::LogLine{"period " + std::to_string(event->period) + ": " +
                                           std::to_string(event->voices) + " voices, peak " + dbfs(event->value) +
                                           ", " + std::to_string(event->notes) + " notes so far"});
            break;
        case Event::stalling: sent = link.send(std::nothrow, demo::Stalling{event->millis}); break;
        }
        if (sent != IPC_OK) {
            return;
        }
    }
}

int run() {
    Shared shared;
    ipc::Plugin plugin = ipc::Plugin::connect_from_env(ipc::Config(), [&shared](ipc::MainLink link) {
        link.on<demo::Midi>([&shared](const demo::Midi& m) {
            Control c{};
            c.key = m.key;
            if ((m.status & 0xF0) == 0x90 && m.velocity > 0) {
                c.kind = Control::note_on;
                c.velocity = m.velocity;
            } else if ((m.status & 0xF0) == 0x80 || (m.status & 0xF0) == 0x90) {
                c.kind = Control::note_off;
            } else {
                return;
            }
            shared.controls.push(c);
        });
        link.on_request<demo::SaveState>([&shared](const demo::SaveState&) {
            const auto started = Clock::now();
            demo::State state{demo::save_state(shared.published.get()), 0};
            state.built_us = static_cast<uint64_t>(micros_since(started));
            return state;
        });
        link.on_request<demo::LoadState>([&shared](const demo::LoadState& l) {
            const auto started = Clock::now();
            demo::Loaded loaded{};
            loaded.checksum = demo::checksum(l.blob.data(), l.blob.size());
            std::string problem;
            if (auto params = demo::load_state(l.blob.data(), l.blob.size(), problem)) {
                shared.published.set(*params);
                Control c{};
                c.kind = Control::load;
                c.params = *params;
                shared.controls.push(c);
                loaded.ok = true;
            } else {
                loaded.problem = problem;
            }
            loaded.checked_us = static_cast<uint64_t>(micros_since(started));
            return loaded;
        });
    });
    ipc::RtServer rt = plugin.take_rt();
    const ipc::MainLink link = plugin.main_link();
    std::thread messenger_thread([&] { messenger(link, shared); });
    bool served_until_quit = false;
    std::thread rt_thread([&] { served_until_quit = real_time(rt, link, shared); });
    std::optional<ipc::Stop> stop;
    try {
        stop = plugin.wait_for_stop(ipc::forever);
    } catch (const std::exception& e) {
        // The threads still use the link: nothing to join them on.
        std::fprintf(stderr, "ipc_demo_plugin: cannot wait for the host: %s\n", e.what());
        std::_Exit(1);
    }
    // Joining is safe: a Quit (or the host's death) also ends the real-time
    // thread's serving.
    rt_thread.join();
    shared.stop_messenger.store(true, std::memory_order_release);
    messenger_thread.join();
    if (stop && stop->quit && served_until_quit) {
        return 0;
    }
    std::fprintf(stderr, "ipc_demo_plugin: the host is gone (%s)\n",
                 stop ? ipc::result_str(stop->reason) : "no stop");
    return 1;
}

}  // namespace

int main() {
    try {
        return run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ipc_demo_plugin: %s\n", e.what());
        return 1;
    }
}
