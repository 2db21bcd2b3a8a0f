// Channels.cpp: stages 1 and 2. One libipc segment of two channels (0:
// host to plugin, 1: plugin to host) carries the messages, in LMMS's own
// format (stage 1) or as MessagePack (stage 2); the audio buffer and the
// tempo/position block are plain shared regions whose connection strings
// travel in ChangeSharedMemoryKey and SyncKey, as LMMS's keys do.
//
// A dead peer is noticed by the channel (libipc's death watch) once the
// plugin has attached; before that, the host checks its child process
// between short slices of each wait.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "Endpoints.h"
#include "Process.h"

#include <atomic>
#include <cstdio>
#include <thread>

namespace lmms {
namespace remote_ipc {

namespace {

/// How often a host waiting for a plugin that has not attached yet checks
/// that it still runs.
constexpr auto livenessSlice = std::chrono::milliseconds(20);
/// How long a send may wait for ring space.
constexpr auto sendTimeout = std::chrono::seconds(10);
/// The size of a Layer II envelope (docs/PROTOCOL.md).
constexpr size_t envelopeSize = 16;

/// Stage 2: one MessagePack message of ours (others are skipped).
Got readMessage(ipc_reader* reader, Packet& out, Deadline deadline, const wire::Bounds& bounds, ipc_result& why) {
    struct Job {
        Packet* out;
        const wire::Bounds* bounds;
        bool began;
        bool ours;
    };
    const ipc_limits limits{static_cast<std::uint32_t>(bounds.maxMessage), 64,
                            static_cast<std::uint64_t>(bounds.payloadTimeout.count())};
    for (;;) {
        // Wait for an envelope until the deadline, without taking it: once a
        // message has begun, its rest gets the payload timeout, not what is
        // left of a (perhaps short) wait.
        const std::uint8_t* first = nullptr;
        const std::uint8_t* second = nullptr;
        size_t firstLen = 0;
        size_t secondLen = 0;
        const auto seen = static_cast<ipc_result>(
            ipc_reader_peek(reader, envelopeSize, wire::timeoutNs(deadline), &first, &firstLen, &second, &secondLen));
        if (seen == IPC_TIMEOUT) {
            return Got::timeout;
        }
        Job job{&out, &bounds, false, false};
        auto decode = [](void* user, const ipc_header* header, ipc_decoder* decoder) noexcept -> std::uint32_t {
            auto* j = static_cast<Job*>(user);
            j->began = true;
            if (header->id != wire::messageId) {
                return IPC_OK;  // not ours: skipped
            }
            j->ours = true;
            try {
                ipc::Decoder d(decoder, 64);
                const ipc_result r = wire::decode(d, *j->out, *j->bounds);
                const ipc_result f = d.finish();
                return static_cast<std::uint32_t>(r != IPC_OK ? r : f);
            } catch (...) {
                return IPC_MALFORMED;
            }
        };
        const auto r = static_cast<ipc_result>(ipc_message_recv(reader, &limits, 0, decode, &job));
        if (r == IPC_OK) {
            if (job.ours) {
                return Got::message;
            }
            continue;
        }
        if (r == IPC_TIMEOUT && !job.began) {
            return Got::timeout;
        }
        if (r == IPC_MALFORMED || r == IPC_TOO_LARGE) {
            // Skipped; the stream goes on.
            std::fprintf(stderr, "RemotePlugin: a malformed message from the peer was skipped (%s)\n",
                         ipc::result_str(r));
            continue;
        }
        why = r == IPC_TIMEOUT ? IPC_FRAMING : r;
        return Got::down;
    }
}

wire::Bounds boundsOf(const HostOptions& options) {
    wire::Bounds b;
    b.payloadTimeout = options.payloadTimeout;
    return b;
}

/// The two channels and how they are used, for either side.
class ChannelLink : public Inbox::Source {
public:
    ChannelLink(ipc::Segment segment, int out, int in, Stage stage, bool host, Inbox& inbox, wire::Bounds bounds)
        : m_segment(std::move(segment)),
          m_writer(m_segment.writer(static_cast<size_t>(out))),
          m_reader(m_segment.reader(static_cast<size_t>(in))),
          m_out(out),
          m_in(in),
          m_stage(stage),
          m_host(host),
          m_inbox(inbox),
          m_bounds(bounds) {}

    void setChild(ChildProcess* child) { m_child = child; }

    bool send(int id, const std::vector<Value>& values) {
        std::lock_guard<std::mutex> lock(m_sendMutex);
        if (m_closed) {
            return false;
        }
        const Deadline deadline = after(sendTimeout);
        ipc_result r;
        if (m_stage == Stage::channels) {
            r = wire::writeText(m_writer.get(), id, values, deadline);
        } else {
            wire::EncodeJob job{id, &values};
            r = static_cast<ipc_result>(
                ipc_message_send(m_writer.get(), wire::messageId, 0, 0, wire::timeoutNs(deadline), wire::encodeCallback, &job));
        }
        if (r == IPC_OK) {
            return true;
        }
        if (r == IPC_PEER_DIED) {
            m_died = true;
            if (!m_host) {
                hostGone();
            }
        }
        if (r != IPC_CLOSED) {
            std::fprintf(stderr, "RemotePlugin: a message could not be sent: %s\n", describe(r).c_str());
        }
        // A message that could not go leaves the link in no known state.
        m_closed = true;
        m_inbox.close();
        return false;
    }

    Got read(Packet& out, Deadline deadline) override {
        for (;;) {
            Deadline slice = deadline;
            if (m_host && !m_watched) {
                const auto next = Clock::now() + livenessSlice;
                if (!deadline || *deadline > next) {
                    slice = next;
                }
            }
            ipc_result why = IPC_OK;
            const Got got = m_stage == Stage::channels ? wire::readText(m_reader.get(), out, slice, m_bounds, why)
                                                       : readMessage(m_reader.get(), out, slice, m_bounds, why);
            if (got == Got::message) {
                if (m_host && !m_watched) {
                    m_watched = watchPeer();
                }
                return got;
            }
            if (got == Got::down) {
                if (why != IPC_CLOSED && why != IPC_PEER_DIED) {
                    std::fprintf(stderr, "RemotePlugin: the link broke: %s\n", describe(why).c_str());
                }
                if (why == IPC_PEER_DIED) {
                    m_died = true;
                    if (!m_host) {
                        hostGone();
                    }
                }
                return got;
            }
            if (m_host && !m_watched) {
                m_watched = watchPeer();
                if (!m_watched && m_child != nullptr && !m_child->running()) {
                    m_died = true;
                    return Got::down;
                }
            }
            if (deadline && Clock::now() >= *deadline) {
                return Got::timeout;
            }
        }
    }

    /// Closes both channels from any thread (blocked calls return).
    void close() {
        m_closed = true;
        m_segment.close(static_cast<size_t>(m_out));
        m_segment.close(static_cast<size_t>(m_in));
    }

    bool died() const { return m_died; }

private:
    /// Whether libipc now watches the peer (then a dead peer wakes every
    /// wait at once). On systems where it never does (Windows, whose waits
    /// watch the process themselves), the slices go on.
    bool watchPeer() {
        try {
            return m_segment.watch_peer();
        } catch (const ipc::Error&) {
            return false;
        }
    }

    ipc::Segment m_segment;
    ipc::Writer m_writer;
    ipc::Reader m_reader;
    int m_out;
    int m_in;
    Stage m_stage;
    bool m_host;
    Inbox& m_inbox;
    wire::Bounds m_bounds;
    std::mutex m_sendMutex;
    std::atomic<bool> m_closed{false};
    std::atomic<bool> m_died{false};
    /// Touched only by the thread that reads (the inbox takes turns).
    bool m_watched = false;
    ChildProcess* m_child = nullptr;
};

/// A float buffer in a shared region.
struct AudioRegion {
    ipc::Region region;
    AudioBlock block;
};

class ChannelHost final : public HostEndpoint {
public:
    ChannelHost(ipc::Segment segment, const HostOptions& options)
        : m_stage(options.stage), m_link(std::move(segment), 0, 1, options.stage, true, inbox(), boundsOf(options)) {
        inbox().setSource(&m_link);
    }

    ~ChannelHost() override { shutdown(); }

    void start(const std::string& program, std::vector<std::string> args, const std::string& connection,
               std::string& error) {
        args.insert(args.begin(), std::string(argumentPrefix) + std::to_string(static_cast<int>(m_stage)) + ":" +
                                      connection);
        m_sync.create(error);
        m_child = ChildProcess::spawn(program, args, error);
        m_link.setChild(m_child.get());
    }

    bool started() const { return m_child != nullptr; }

    Stage stage() const override { return m_stage; }
    bool send(int id, const std::vector<Value>& values) override { return m_link.send(id, values); }
    void shutdown() override {
        m_link.close();
        inbox().close();
    }
    bool peerDied() const override { return m_link.died() || (m_child && !m_child->running()); }

    bool isRunning() override { return m_child && m_child->running(); }
    std::uint32_t pluginPid() const override { return m_child ? m_child->pid() : 0; }
    bool stop(std::chrono::nanoseconds timeout) override {
        shutdown();
        if (!m_child) {
            return false;
        }
        if (m_child->waitFor(timeout)) {
            return false;
        }
        m_child->kill();
        return true;
    }

    std::string syncKey() const override { return m_sync.key(); }
    void writeSync(const void* data, std::size_t size) override { m_sync.write(data, size); }
    void syncAttached() override { m_sync.attached(); }

    bool resizeAudio(std::size_t inputs, std::size_t outputs, std::size_t frames, std::string& key,
                     std::string& error) override {
        // The old buffer stays until the plugin has processed with the new
        // one: it may still be attaching the old key (LMMS's start-up sends
        // one, then replaces it when the plugin sets its channel counts).
        m_previous = std::move(m_audio.region);
        m_audio = AudioRegion();
        const std::size_t floats = (inputs + outputs) * frames;
        if (floats == 0) {
            error = "no audio channels";
            return false;
        }
        auto region = ipc::Region::create(floats * sizeof(float));
        m_audio.block = AudioBlock{reinterpret_cast<float*>(region.data()), inputs, outputs, frames};
        key = region.connection_string();
        m_audio.region = std::move(region);
        m_audioWithdrawn = false;
        return true;
    }

    AudioBlock audio(std::chrono::nanoseconds) override { return m_audio.block; }

    void audioAttached() override {
        m_previous = ipc::Region();
        if (!m_audioWithdrawn && m_audio.region) {
            m_audioWithdrawn = true;
            try {
                m_audio.region.withdraw();
            } catch (const ipc::Error&) {
            }
        }
    }

    void queueMidi(const MidiWire&) override {}
    Processed processRealtime(std::chrono::nanoseconds) override { return Processed::failed; }

private:
    Stage m_stage;
    ChannelLink m_link;
    std::unique_ptr<ChildProcess> m_child;
    SyncBlock m_sync;
    AudioRegion m_audio;
    ipc::Region m_previous;
    bool m_audioWithdrawn = false;
};

class ChannelPlugin final : public PluginEndpoint {
public:
    ChannelPlugin(ipc::Segment segment, Stage stage)
        : m_stage(stage), m_link(std::move(segment), 1, 0, stage, false, inbox(), wire::Bounds()) {
        inbox().setSource(&m_link);
    }
    ~ChannelPlugin() override { shutdown(); }

    Stage stage() const override { return m_stage; }
    bool send(int id, const std::vector<Value>& values) override { return m_link.send(id, values); }
    void shutdown() override {
        m_link.close();
        inbox().close();
    }
    bool peerDied() const override { return m_link.died(); }

    const void* attachSync(const std::string& key, std::size_t size, std::string& error) override {
        return m_sync.attach(key, size, error);
    }

    bool attachAudio(const std::string& key, std::string& error) override {
        auto region = ipc::Region::open(std::nothrow, key, false);
        if (!region) {
            error = describe(region.code());
            return false;
        }
        std::lock_guard<std::mutex> lock(m_audioMutex);
        m_audio = std::move(*region);
        return true;
    }

    float* audio(std::size_t& floats) override {
        std::lock_guard<std::mutex> lock(m_audioMutex);
        floats = m_audio.size() / sizeof(float);
        return reinterpret_cast<float*>(m_audio.data());
    }

    void startRealtime(PluginHooks&) override {}
    void setProcessInMessageLoop(bool) override {}
    void stopRealtime() override {}
    bool onRealtimeThread() const override { return false; }

private:
    Stage m_stage;
    ChannelLink m_link;
    SyncMappings m_sync;
    std::mutex m_audioMutex;
    ipc::Region m_audio;
};

}  // namespace

std::unique_ptr<HostEndpoint> startChannelHost(const std::string& program, const std::vector<std::string>& args,
                                               const HostOptions& options, std::string& error) {
    auto segment = ipc::Segment::create({options.ringCapacity, options.ringCapacity});
    const std::string connection = segment.connection_string();
    auto host = std::make_unique<ChannelHost>(std::move(segment), options);
    host->start(program, args, connection, error);
    if (!host->started()) {
        return nullptr;
    }
    return host;
}

std::unique_ptr<PluginEndpoint> connectChannelPlugin(Stage stage, const std::string& connection, std::string& error) {
    (void)error;
    auto segment = ipc::Segment::open(connection);
    // Watch the host from now on: its death ends this process at once.
    segment.watch_peer();
    return std::make_unique<ChannelPlugin>(std::move(segment), stage);
}

}  // namespace remote_ipc
}  // namespace lmms
