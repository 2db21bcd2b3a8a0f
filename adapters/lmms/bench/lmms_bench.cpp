// lmms_bench.cpp: the measuring side of ipc-latency's lmms_* rows
// (benches/src/bin/ipc-latency/lmms.rs starts it and reads what it
// prints). Each mode starts its plugin program (next to this one), times
// the host's calls, checks what the plugin did, and stops it:
//
//   socket_process  LMMS's process() over today's socket transport
//                   (SocketReplica.h, ipc_lmms_bench_socket_plugin)
//   lmms_process    RemotePluginHost::process through the adapter at
//                   stage 3 (ipc_lmms_bench_plugin), --spin-ns for its
//                   bounded spin
//   socket_midi     MIDI events over the socket transport, then a period
//   lmms_midi       RemotePluginHost::processMidiEvent, then a period
//
//   ipc_lmms_bench socket_process|lmms_process --warmup W --iters N [--spin-ns S] --cpu CPU|-
//       `samples N`, N lines of one process() round trip each (ns), `end`
//   ipc_lmms_bench socket_midi|lmms_midi --events N --cpu CPU|-
//       `rate N SECONDS`: N events sent and confirmed by the period after
//       them
//
// Each sample is the time from the end of the previous call to the end of
// this one (as ipc-latency's time_round_trips), the output checked inside
// it. The plugin is pinned to CPU (this process keeps the CPU it was
// started on). A failure is a line on standard error and exit status 1.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "BenchCommon.h"
#include "RemotePluginHost.h"
#include "SocketReplica.h"

#include <chrono>
#include <climits>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

using namespace lmms;

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// ipc-latency's STALL_LIMIT: how long one answer may take.
constexpr auto stallLimit = 10s;

struct Options {
    std::string mode;
    std::uint64_t warmup = 0;
    std::uint64_t iters = 0;
    std::uint64_t spinNs = 0;
    std::uint64_t events = 0;
    std::string cpu;
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "ipc_lmms_bench: %s\n", what.c_str());
    std::exit(1);
}

/// A program next to this one.
std::string sibling(const char* name) {
    char self[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        die("cannot find this program's directory");
    }
    std::string dir(self, static_cast<std::size_t>(n));
    dir.resize(dir.rfind('/') + 1);
    return dir + name;
}

std::uint64_t nsSince(Clock::time_point t) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count());
}

// ---------------------------------------------------------------------------
// Today's transport: LMMS's RemotePlugin over the socket.

class SocketHost {
public:
    SocketHost(const std::string& program, const std::string& cpu, bench::Mode mode) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
            die(std::string("socketpair: ") + std::strerror(errno));
        }
        fcntl(sv[0], F_SETFD, FD_CLOEXEC);
        // The audio segment, (inputs + outputs) * frames floats, mapped by
        // both; its key is the descriptor the plugin inherits.
        m_shmSize = 2 * bench::channels * bench::frames * sizeof(float);
        const int memfd = memfd_create("lmms-bench-audio", 0);
        if (memfd < 0 || ftruncate(memfd, static_cast<off_t>(m_shmSize)) != 0) {
            die(std::string("shared memory: ") + std::strerror(errno));
        }
        void* p = mmap(nullptr, m_shmSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
        if (p == MAP_FAILED) {
            die(std::string("mmap: ") + std::strerror(errno));
        }
        m_shm = static_cast<float*>(p);
        const std::string fd = std::to_string(sv[1]);
        const char* modeName = mode == bench::Mode::copy ? "copy" : "midi";
        std::vector<char*> argv = {const_cast<char*>(program.c_str()), const_cast<char*>(fd.c_str()),
                                   const_cast<char*>(cpu.c_str()), const_cast<char*>(modeName), nullptr};
        const int r = posix_spawn(&m_pid, program.c_str(), nullptr, nullptr, argv.data(), environ);
        if (r != 0) {
            die("cannot start " + program + ": " + std::strerror(r));
        }
        ::close(sv[1]);
        ::close(memfd);
        m_link = std::make_unique<replica::Link>(sv[0]);
        m_link->send(replica::Message(replica::IdBufferSizeInformation).addInt(static_cast<int>(bench::frames)));
        m_link->send(replica::Message(replica::IdChangeSharedMemoryKey).addInt(memfd));
        if (m_link->waitFor(replica::IdInitDone, [](const replica::Message&) {}).id != replica::IdInitDone) {
            die("the socket plugin did not start");
        }
    }

    ~SocketHost() {
        if (m_pid > 0) {
            ::kill(m_pid, SIGKILL);
            waitpid(m_pid, nullptr, 0);
        }
        munmap(m_shm, m_shmSize);
    }

    /// LMMS's RemotePlugin::process: input into the segment, StartProcessing
    /// under the lock, wait for ProcessingDone, output out of the segment.
    bool process(const SampleFrame* in, SampleFrame* out) {
        std::memset(m_shm, 0, m_shmSize);
        if (in != nullptr) {
            std::memcpy(m_shm, in, bench::frames * sizeof(SampleFrame));
        }
        {
            std::lock_guard<std::recursive_mutex> lock(m_commMutex);
            m_link->send(replica::IdStartProcessing);
            if (m_link->waitFor(replica::IdProcessingDone, [](const replica::Message&) {}).id !=
                replica::IdProcessingDone) {
                return false;
            }
        }
        std::memcpy(static_cast<void*>(out), m_shm + bench::channels * bench::frames,
                    bench::frames * sizeof(SampleFrame));
        return true;
    }

    /// LMMS's RemotePlugin::processMidiEvent: one message of five numbers.
    void processMidiEvent(const MidiEvent& e, f_cnt_t offset) {
        replica::Message m(replica::IdMidiEvent);
        m.addInt(static_cast<int>(e.type()))
            .addInt(e.channel())
            .addInt(e.param(0))
            .addInt(e.param(1))
            .addInt(static_cast<int>(offset));
        std::lock_guard<std::recursive_mutex> lock(m_commMutex);
        m_link->send(m);
    }

    bool failed() const { return m_link->invalid(); }

    /// Quit, and the plugin must exit cleanly.
    void stop() {
        m_link->send(replica::IdQuit);
        const auto until = Clock::now() + stallLimit;
        int status = 0;
        while (waitpid(m_pid, &status, WNOHANG) == 0) {
            if (Clock::now() >= until) {
                die("the socket plugin did not quit");
            }
            std::this_thread::sleep_for(1ms);
        }
        m_pid = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            die("the socket plugin failed");
        }
    }

private:
    pid_t m_pid = 0;
    float* m_shm = nullptr;
    std::size_t m_shmSize = 0;
    std::unique_ptr<replica::Link> m_link;
    std::recursive_mutex m_commMutex;
};

// ---------------------------------------------------------------------------
// The adapter at stage 3.

class AdapterHost {
public:
    AdapterHost(const std::string& program, const std::string& cpu, bench::Mode mode, std::uint64_t spinNs) {
        remote_ipc::HostOptions options;
        options.stage = remote_ipc::Stage::links;
        // A sample is a whole round trip: process() waits for it (its
        // default timeout, one period, would turn a slow one into silence).
        options.processTimeout = stallLimit;
        options.realtimeSpin = std::chrono::nanoseconds(spinNs);
        m_host = std::make_unique<RemotePluginHost>(options);
        if (m_host->init(program, true, {cpu, mode == bench::Mode::copy ? "copy" : "midi"})) {
            die("the adapter's plugin did not start");
        }
    }

    bool process(const SampleFrame* in, SampleFrame* out) { return m_host->process(in, out); }
    void processMidiEvent(const MidiEvent& e, f_cnt_t offset) { m_host->processMidiEvent(e, offset); }
    bool failed() const { return m_host->failed(); }

    /// The destructor's Quit, a bounded wait, then a kill if needed.
    void stop() {
        if (m_host->failed()) {
            die("the adapter's link failed");
        }
        m_host.reset();
    }

private:
    std::unique_ptr<RemotePluginHost> m_host;
};

// ---------------------------------------------------------------------------
// The measurements.

template <class Host>
int processRows(Host& host, const Options& o) {
    std::vector<SampleFrame> in(bench::frames);
    std::vector<SampleFrame> out(bench::frames);
    for (std::size_t f = 0; f < bench::frames; ++f) {
        in[f] = SampleFrame(static_cast<float>(f) / 256.0f, -static_cast<float>(f) / 512.0f);
    }
    // Each period's input differs, and its output must be that input.
    auto period = [&](std::uint64_t seq) {
        const float stamp = static_cast<float>(seq % (1u << 24));
        in[0][0] = stamp;
        in[bench::frames - 1][1] = -stamp;
        if (!host.process(in.data(), out.data())) {
            die("process() failed at period " + std::to_string(seq));
        }
        if (out[0][0] != stamp || out[bench::frames - 1][1] != -stamp || out[1][1] != in[1][1]) {
            die("period " + std::to_string(seq) + " came back wrong");
        }
    };
    for (std::uint64_t seq = 0; seq < o.warmup; ++seq) {
        period(seq);
    }
    std::vector<std::uint64_t> samples(o.iters);
    auto last = Clock::now();
    for (std::uint64_t i = 0; i < o.iters; ++i) {
        period(o.warmup + i);
        const auto now = Clock::now();
        samples[i] = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - last).count());
        last = now;
    }
    host.stop();
    std::string text = "samples " + std::to_string(samples.size()) + "\n";
    for (std::uint64_t s : samples) {
        text += std::to_string(s);
        text += '\n';
    }
    text += "end\n";
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
}

template <class Host>
int midiRows(Host& host, const Options& o) {
    std::vector<SampleFrame> out(bench::frames);
    std::uint64_t sent = 0;
    // `n` events, then the period that confirms them all.
    auto burst = [&](std::uint64_t n) {
        for (std::uint64_t i = 0; i < n; ++i) {
            const bench::Midi m = bench::midiEvent(sent++);
            host.processMidiEvent(MidiEvent(static_cast<MidiEventTypes>(m.type), static_cast<int8_t>(m.channel),
                                            static_cast<int16_t>(m.param0), static_cast<int16_t>(m.param1)),
                                  static_cast<f_cnt_t>(m.offset));
        }
        if (!host.process(nullptr, out.data())) {
            die("process() after the MIDI events failed");
        }
        const bench::MidiCount seen = bench::MidiCount::read(out[0].data());
        if (seen.seen != sent || seen.wrong != 0) {
            die("the plugin saw " + std::to_string(seen.seen) + " events (" + std::to_string(seen.wrong) +
                " wrong) of " + std::to_string(sent));
        }
    };
    burst(o.events / 10 > 100 ? o.events / 10 : 100);
    const auto start = Clock::now();
    burst(o.events);
    const double seconds = static_cast<double>(nsSince(start)) / 1e9;
    host.stop();
    std::printf("rate %llu %.9f\n", static_cast<unsigned long long>(o.events), seconds);
    return 0;
}

bool parse(int argc, char** argv, Options& o) {
    if (argc < 2) {
        return false;
    }
    o.mode = argv[1];
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string arg = argv[i];
        if (arg == "--cpu") {
            o.cpu = argv[i + 1];
            continue;
        }
        char* end = nullptr;
        const unsigned long long v = std::strtoull(argv[i + 1], &end, 10);
        if (*end != '\0') {
            return false;
        }
        if (arg == "--warmup") {
            o.warmup = v;
        } else if (arg == "--iters") {
            o.iters = v;
        } else if (arg == "--spin-ns") {
            o.spinNs = v;
        } else if (arg == "--events") {
            o.events = v;
        } else {
            return false;
        }
    }
    return argc % 2 == 0 && !o.cpu.empty();
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    const bool known = argc >= 2 && (std::string(argv[1]) == "socket_process" || std::string(argv[1]) == "lmms_process" ||
                                     std::string(argv[1]) == "socket_midi" || std::string(argv[1]) == "lmms_midi");
    if (!known || !parse(argc, argv, o)) {
        std::fprintf(stderr,
                     "usage: %s socket_process|lmms_process --warmup W --iters N [--spin-ns S] --cpu CPU|-\n"
                     "       %s socket_midi|lmms_midi --events N --cpu CPU|-\n",
                     argv[0], argv[0]);
        return 2;
    }
    // As LMMS's host: a plugin that goes makes writes fail, not the host.
    std::signal(SIGPIPE, SIG_IGN);
    try {
        if (o.mode == "socket_process") {
            SocketHost host(sibling("ipc_lmms_bench_socket_plugin"), o.cpu, bench::Mode::copy);
            return processRows(host, o);
        }
        if (o.mode == "socket_midi") {
            SocketHost host(sibling("ipc_lmms_bench_socket_plugin"), o.cpu, bench::Mode::midi);
            return midiRows(host, o);
        }
        if (o.mode == "lmms_process") {
            AdapterHost host(sibling("ipc_lmms_bench_plugin"), o.cpu, bench::Mode::copy, o.spinNs);
            return processRows(host, o);
        }
        AdapterHost host(sibling("ipc_lmms_bench_plugin"), o.cpu, bench::Mode::midi, 0);
        return midiRows(host, o);
    } catch (const std::exception& e) {
        die(e.what());
    }
}
