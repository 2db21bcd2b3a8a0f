// ipc_ffi_bench.cpp: the host side of ipc-latency's `ffi_*` rows, written
// in C++ over ipc.hpp (and so through libipc's C ABI), against
// ipc-latency's own Rust plugin peer: the same work as the Rust rows
// `rt_call`, `rt_call_spin` and `main_link_stream`
// (benches/src/bin/ipc-latency/link.rs), with only the host side changed.
// ipc-latency starts it (benches/src/bin/ipc-latency/ffi.rs) and reads
// what it prints:
//
//   ipc_ffi_bench rt_call --warmup W --iters N --spin-ns S --peer EXE NAME CPU
//       `samples N`, then N lines of one round trip each (ns), then `end`
//   ipc_ffi_bench main_link_stream --messages N --peer EXE NAME CPU
//       `rate N SECONDS`
//
// The peer is started as `EXE __peer NAME CPU <this pid> <connection>`
// (ipc-latency's peer role). Every wait is bounded; a failure is a line on
// standard error and exit status 1.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "ipc.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#if defined(_WIN32)
#include <process.h>
#define IPC_BENCH_GETPID _getpid
#else
#include <unistd.h>
#define IPC_BENCH_GETPID getpid
#endif

namespace bench {

// link.rs's messages: newtypes of a u64 (the reply is the complement).
struct Ping {
    uint64_t value;
};
IPC_NEWTYPE(Ping, value);
IPC_MESSAGE_ID(Ping, 3);
struct Pong {
    uint64_t value;
};
IPC_NEWTYPE(Pong, value);
IPC_MESSAGE_ID(Pong, 4);
struct Tick {
    uint64_t value;
};
IPC_NEWTYPE(Tick, value);
IPC_MESSAGE_ID(Tick, 5);
struct SendTicks {
    uint64_t value;
};
IPC_NEWTYPE(SendTicks, value);
IPC_MESSAGE_ID(SendTicks, 6);

}  // namespace bench

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// harness.rs's STALL_LIMIT: how long one answer may take.
constexpr auto stall_limit = 10s;

struct Options {
    std::string mode;
    uint64_t warmup = 0;
    uint64_t iters = 0;
    uint64_t spin_ns = 0;
    uint64_t messages = 0;
    std::string peer;
    std::string peer_name;
    std::string peer_cpu;
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "ipc_ffi_bench: %s\n", what.c_str());
    std::exit(1);
}

template <class F>
ipc::Host spawn_peer(const Options& o, F&& setup) {
    const std::vector<std::string> args = {"__peer", o.peer_name, o.peer_cpu,
                                           std::to_string(IPC_BENCH_GETPID())};
    return ipc::Host::spawn(o.peer, args, ipc::Config(), std::forward<F>(setup));
}

/// As link.rs's stop_plugin: quit, and the peer must exit cleanly.
void stop_peer(ipc::Host& host) {
    const ipc::Ended ended = host.shutdown(stall_limit);
    if (ended.killed || !ended.success) {
        die("the plugin process did not quit cleanly (exit code " + std::to_string(ended.code) + ")");
    }
}

/// link.rs's rt_call_with: `warmup` untimed calls, then `iters` timed ones,
/// each sample the time since the previous call's reply was checked (as
/// harness.rs's time_round_trips). The audio thread's form of the call: no
/// exception, no allocation.
int rt_call(const Options& o) {
    ipc::Host host = spawn_peer(o, [](ipc::MainLink) {});
    ipc::RtCaller rt = host.take_rt();
    rt.set_spin(std::chrono::nanoseconds(o.spin_ns));
    std::vector<uint64_t> samples(o.iters);
    const auto call = [&rt](uint64_t seq) {
        bench::Pong reply{};
        const ipc_result r = rt.call(std::nothrow, bench::Ping{seq}, reply, stall_limit);
        if (r != IPC_OK) {
            die(std::string("real-time call: ") + ipc::result_str(r) + ": " + ipc::last_error());
        }
        if (reply.value != ~seq) {
            die("reply " + std::to_string(reply.value) + " to request " + std::to_string(seq) + " is wrong");
        }
    };
    for (uint64_t seq = 0; seq < o.warmup; ++seq) {
        call(seq);
    }
    auto last = Clock::now();
    for (uint64_t i = 0; i < o.iters; ++i) {
        call(o.warmup + i);
        const auto now = Clock::now();
        samples[i] = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - last).count());
        last = now;
    }
    rt = ipc::RtCaller();
    stop_peer(host);
    std::string out = "samples " + std::to_string(samples.size()) + "\n";
    for (uint64_t s : samples) {
        out += std::to_string(s);
        out += '\n';
    }
    out += "end\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

/// link.rs's main_link_stream: the plugin sends `messages` Ticks, each
/// dispatched to a handler here that checks their order.
int main_link_stream(const Options& o) {
    struct Seen {
        std::mutex mutex;
        std::condition_variable done;
        uint64_t next = 0;
        std::optional<std::string> outcome;
    } seen;
    const uint64_t n = o.messages;
    ipc::Host host = spawn_peer(o, [&seen, n](ipc::MainLink link) {
        link.on<bench::Tick>([&seen, n](const bench::Tick& tick) {
            // The handler runs on the listener thread only: `next` is its.
            const uint64_t expected = seen.next++;
            std::optional<std::string> outcome;
            if (tick.value != expected) {
                outcome = "tick " + std::to_string(tick.value) + " arrived when " + std::to_string(expected) +
                          " was due";
            } else if (expected + 1 == n) {
                outcome = "";
            }
            if (outcome) {
                {
                    std::lock_guard<std::mutex> lock(seen.mutex);
                    if (!seen.outcome) {
                        seen.outcome = std::move(outcome);
                    }
                }
                seen.done.notify_all();
            }
        });
    });
    const auto start = Clock::now();
    host.main_link().send(bench::SendTicks{n});
    {
        std::unique_lock<std::mutex> lock(seen.mutex);
        if (!seen.done.wait_for(lock, stall_limit * 6, [&] { return seen.outcome.has_value(); })) {
            die("the stream did not arrive in time");
        }
        if (!seen.outcome->empty()) {
            die(*seen.outcome);
        }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    stop_peer(host);
    std::printf("rate %llu %.9f\n", static_cast<unsigned long long>(n), seconds);
    return 0;
}

bool parse(int argc, char** argv, Options& o) {
    if (argc < 2) {
        return false;
    }
    o.mode = argv[1];
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--peer") {
            if (i + 3 >= argc) {
                return false;
            }
            o.peer = argv[i + 1];
            o.peer_name = argv[i + 2];
            o.peer_cpu = argv[i + 3];
            i += 3;
            continue;
        }
        if (i + 1 >= argc) {
            return false;
        }
        char* end = nullptr;
        const unsigned long long v = std::strtoull(argv[++i], &end, 10);
        if (*end != '\0') {
            return false;
        }
        if (arg == "--warmup") {
            o.warmup = v;
        } else if (arg == "--iters") {
            o.iters = v;
        } else if (arg == "--spin-ns") {
            o.spin_ns = v;
        } else if (arg == "--messages") {
            o.messages = v;
        } else {
            return false;
        }
    }
    return !o.peer.empty();
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, o) || (o.mode != "rt_call" && o.mode != "main_link_stream")) {
        std::fprintf(stderr,
                     "usage: %s rt_call --warmup W --iters N --spin-ns S --peer EXE NAME CPU\n"
                     "       %s main_link_stream --messages N --peer EXE NAME CPU\n",
                     argv[0], argv[0]);
        return 2;
    }
    try {
        return o.mode == "rt_call" ? rt_call(o) : main_link_stream(o);
    } catch (const std::exception& e) {
        die(e.what());
    }
}
