// Links.cpp: stage 3. The messages travel on libipc's main link (both
// sides read it all the time: what arrives is queued in the inbox), each
// period is one call on the real-time link (the period's MIDI events and
// StartProcessing in the request, ProcessingDone as the reply: one wake-up
// each way, with a timeout), and the audio is in the link's shared audio
// buffers. The plugin exits when the link reports its host dead.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "Endpoints.h"

#include "RemotePluginBase.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <limits>
#include <thread>

namespace lmms {
namespace remote_ipc {

namespace {

/// MIDI events one real-time call carries at most; more are sent at once.
constexpr std::size_t midiBatch = 4096;
/// Real-time ring size: room for a full batch (about 12 bytes an event).
constexpr std::size_t realtimeRing = std::size_t{1} << 18;
/// How long a main-link send may wait for ring space.
constexpr auto sendTimeout = std::chrono::seconds(10);
/// The marker a stage 3 host sends as the audio buffer's key.
constexpr const char* audioMarker = "ipc-link-audio";
/// How long handing the audio buffer over may take when the channel
/// counts change (then it goes with a later period).
constexpr std::chrono::nanoseconds handoverAtResize = std::chrono::seconds(1);

std::uint64_t ns(std::chrono::nanoseconds d) {
    return d.count() <= 0 ? 0 : static_cast<std::uint64_t>(d.count());
}

/// What the link's callbacks share with their endpoint, and may keep after
/// it (the listener thread ends on its own time).
struct LinkState {
    std::shared_ptr<Inbox> inbox;
    bool pluginSide = false;
    std::atomic<bool> died{false};
};

void freeState(void* user) { delete static_cast<std::shared_ptr<LinkState>*>(user); }

std::uint32_t decodeMessage(void* user, const ipc_header*, ipc_decoder* decoder, void** messageOut) noexcept {
    (void)user;
    try {
        std::unique_ptr<Packet> p(new Packet());
        ipc::Decoder d(decoder, 64);
        ipc_result r = wire::decode(d, *p, wire::Bounds());
        const ipc_result f = d.finish();
        if (r == IPC_OK) {
            r = f;
        }
        if (r != IPC_OK) {
            return r;
        }
        *messageOut = p.release();
        return IPC_OK;
    } catch (...) {
        return IPC_MALFORMED;
    }
}

void handleMessage(void* user, void* message, const ipc_incoming*) noexcept {
    std::unique_ptr<Packet> p(static_cast<Packet*>(message));
    auto& state = *static_cast<std::shared_ptr<LinkState>*>(user);
    try {
        state->inbox->push(std::move(*p));
    } catch (...) {
        // Out of memory: the message is lost, the link goes on.
    }
}

void linkDown(void* user, std::uint32_t reason) {
    auto& state = *static_cast<std::shared_ptr<LinkState>*>(user);
    if (reason == IPC_PEER_DIED) {
        state->died = true;
        if (state->pluginSide) {
            hostGone();
        }
    }
    state->inbox->close();
}

/// Registers the message handler and the disconnect hook on `link`.
void listen(const ipc::MainLink& link, const std::shared_ptr<LinkState>& state) {
    ipc::detail::check(ipc_main_link_on(link.get(), wire::messageId, decodeMessage, handleMessage,
                                        new std::shared_ptr<LinkState>(state), freeState));
    ipc::detail::check(ipc_main_link_on_disconnect(link.get(), linkDown, new std::shared_ptr<LinkState>(state), freeState));
}

bool sendOn(const ipc::MainLink& link, int id, const std::vector<Value>& values, LinkState& state) {
    wire::EncodeJob job{id, &values};
    const auto r = static_cast<ipc_result>(ipc_main_link_send(link.get(), wire::messageId, wire::encodeCallback, &job));
    if (r == IPC_OK) {
        return true;
    }
    if (r == IPC_PEER_DIED) {
        state.died = true;
        if (state.pluginSide) {
            hostGone();
        }
    }
    if (r == IPC_CLOSED || r == IPC_PEER_DIED || r == IPC_TIMEOUT) {
        state.inbox->close();
    }
    return false;
}

/// Reads one integer of the request as an int32 (clamped).
ipc_result readInt(ipc::Decoder& d, std::int32_t& out) {
    ipc::Token t;
    if (ipc_result r = d.read_token(t); r != IPC_OK) {
        return r;
    }
    if (t.kind == ipc::Kind::uint) {
        out = t.uint > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())
                  ? std::numeric_limits<std::int32_t>::max()
                  : static_cast<std::int32_t>(t.uint);
        return IPC_OK;
    }
    if (t.kind == ipc::Kind::sint) {
        out = t.sint < std::numeric_limits<std::int32_t>::min() ? std::numeric_limits<std::int32_t>::min()
                                                                 : static_cast<std::int32_t>(t.sint);
        return IPC_OK;
    }
    return d.fail(IPC_MALFORMED, "a MIDI event holds integers");
}

/// The host's side of one real-time call.
struct CallJob {
    const std::vector<MidiWire>* events;
    bool process;
    std::uint32_t handled = 0;
    bool processed = false;
};

std::uint32_t encodeRequest(void* user, ipc_encoder* encoder) noexcept {
    const auto* job = static_cast<const CallJob*>(user);
    ipc::Encoder e(encoder);
    ipc_result r = e.write_array(2);
    if (r == IPC_OK) {
        r = e.write_bool(job->process);
    }
    if (r == IPC_OK) {
        r = e.write_array(job->events->size() * 5);
    }
    for (std::size_t i = 0; r == IPC_OK && i < job->events->size(); ++i) {
        const MidiWire& m = (*job->events)[i];
        for (std::int32_t v : {m.type, m.channel, m.param0, m.param1, m.offset}) {
            if (r == IPC_OK) {
                r = e.write_int(v);
            }
        }
    }
    if (r == IPC_OK) {
        r = e.finish();
    }
    return static_cast<std::uint32_t>(r);
}

std::uint32_t decodeReply(void* user, const ipc_header* header, ipc_decoder* decoder) noexcept {
    auto* job = static_cast<CallJob*>(user);
    if (header->id != wire::processedId) {
        return IPC_UNEXPECTED_ID;
    }
    ipc::Decoder d(decoder, 8);
    ipc::Token t;
    ipc_result r = d.read_token(t);
    if (r == IPC_OK && (t.kind != ipc::Kind::array || t.len != 2)) {
        r = IPC_MALFORMED;
    }
    if (r == IPC_OK) {
        r = d.read_token(t);
        if (r == IPC_OK && t.kind == ipc::Kind::uint && t.uint <= 0xffffffffu) {
            job->handled = static_cast<std::uint32_t>(t.uint);
        } else if (r == IPC_OK) {
            r = IPC_MALFORMED;
        }
    }
    if (r == IPC_OK) {
        r = d.read_token(t);
        if (r == IPC_OK && t.kind == ipc::Kind::boolean) {
            job->processed = t.boolean;
        } else if (r == IPC_OK) {
            r = IPC_MALFORMED;
        }
    }
    const ipc_result f = d.finish();
    return static_cast<std::uint32_t>(r != IPC_OK ? r : f);
}

/// The plugin's reply to one call.
struct Reply {
    std::uint32_t handled;
    bool processed;
};

std::uint32_t encodeReply(void* user, ipc_encoder* encoder) noexcept {
    const auto* reply = static_cast<const Reply*>(user);
    ipc::Encoder e(encoder);
    ipc_result r = e.write_array(2);
    if (r == IPC_OK) {
        r = e.write_uint(reply->handled);
    }
    if (r == IPC_OK) {
        r = e.write_bool(reply->processed);
    }
    if (r == IPC_OK) {
        r = e.finish();
    }
    return static_cast<std::uint32_t>(r);
}

AudioBlock blockOf(ipc_audio* audio) {
    ipc::Audio view(audio);
    AudioBlock block;
    if (!view || view.frames() == 0 || view.inputs() + view.outputs() == 0) {
        return block;
    }
    // The channels are planes of one block: inputs first, then outputs.
    float* base = view.inputs() > 0 ? view.input(0).data() : view.output(0).data();
    if (view.inputs() > 0 && view.outputs() > 0 && view.output(0).data() != base + view.inputs() * view.frames()) {
        return block;
    }
    block.data = base;
    block.inputs = view.inputs();
    block.outputs = view.outputs();
    block.frames = view.frames();
    return block;
}

class LinkHost final : public HostEndpoint {
public:
    LinkHost() : m_state(std::make_shared<LinkState>()) {
        m_state->inbox = m_inbox;
        m_pending.reserve(midiBatch);
        m_sending.reserve(midiBatch);
    }

    ~LinkHost() override { shutdown(); }

    void start(const std::string& program, std::vector<std::string> args, const HostOptions& options) {
        m_options = options;
        args.insert(args.begin(),
                    std::string(argumentPrefix) + "3:" + std::to_string(static_cast<long long>(options.realtimeSpin.count())));
        ipc::Config config;
        config.main_capacity = options.ringCapacity;
        config.rt_capacity = realtimeRing;
        config.connect_timeout = options.connectTimeout;
        config.send_timeout = sendTimeout;
        config.connection_argument = false;
        std::string error;
        m_sync.create(error);
        auto state = m_state;
        m_host = ipc::Host::spawn(program, args, config, [state](ipc::MainLink link) { listen(link, state); });
        m_link = m_host.main_link();
        m_pid = m_host.plugin_pid();
        m_rt = m_host.take_rt();
        if (options.realtimeSpin.count() > 0) {
            m_rt.set_spin(options.realtimeSpin);
        }
    }

    Stage stage() const override { return Stage::links; }

    bool send(int id, const std::vector<Value>& values) override {
        std::lock_guard<std::mutex> lock(m_hostMutex);
        if (!m_host) {
            return false;
        }
        return sendOn(m_link, id, values, *m_state);
    }

    void shutdown() override {
        {
            std::lock_guard<std::mutex> lock(m_hostMutex);
            m_link = ipc::MainLink();
            m_host = ipc::Host();
        }
        std::lock_guard<std::mutex> rt(m_rtMutex);
        m_rt = ipc::RtCaller();
        inbox().close();
    }

    bool peerDied() const override { return m_state->died.load(); }

    bool isRunning() override {
        std::lock_guard<std::mutex> lock(m_hostMutex);
        if (m_exited || !m_host) {
            return false;
        }
        try {
            m_exited = m_host.try_wait().has_value();
        } catch (const ipc::Error&) {
            m_exited = true;
        }
        return !m_exited;
    }

    std::uint32_t pluginPid() const override { return m_pid; }

    bool stop(std::chrono::nanoseconds timeout) override {
        bool killed = false;
        {
            std::lock_guard<std::mutex> lock(m_hostMutex);
            m_link = ipc::MainLink();
            if (m_host) {
                try {
                    killed = m_host.shutdown(timeout).killed;
                } catch (const ipc::Error&) {
                    killed = true;
                }
            }
        }
        shutdown();
        return killed;
    }

    std::string syncKey() const override { return m_sync.key(); }
    void writeSync(const void* data, std::size_t size) override { m_sync.write(data, size); }
    void syncAttached() override { m_sync.attached(); }

    bool resizeAudio(std::size_t inputs, std::size_t outputs, std::size_t frames, std::string& key,
                     std::string& error) override {
        std::lock_guard<std::mutex> rt(m_rtMutex);
        m_audio = AudioBlock();
        m_want = AudioBlock{nullptr, inputs, outputs, frames};
        if ((inputs + outputs) * frames == 0) {
            m_wanted = false;
            error = "no audio channels";
            return false;
        }
        m_wanted = true;
        // The plugin's real-time thread takes it; one that is slow to start
        // (or hangs) gets it again with a later period.
        const auto wait = m_options.messageTimeout < handoverAtResize ? m_options.messageTimeout : handoverAtResize;
        if (!handOver(wait, error)) {
            std::fprintf(stderr, "RemotePlugin: the audio buffer goes with a later period (%s)\n", error.c_str());
        }
        key = audioMarker;
        return true;
    }

    AudioBlock audio(std::chrono::nanoseconds handover) override {
        std::lock_guard<std::mutex> rt(m_rtMutex);
        if (m_wanted && !m_audio && handover.count() > 0) {
            std::string error;
            handOver(handover, error);
        }
        return m_audio;
    }

    void audioAttached() override {}

    void queueMidi(const MidiWire& event) override {
        bool queued = false;
        for (;;) {
            {
                std::lock_guard<std::mutex> lock(m_midiMutex);
                if (!queued && m_pending.size() < midiBatch) {
                    m_pending.push_back(event);
                    queued = true;
                }
                if (queued && m_pending.size() < midiBatch) {
                    return;
                }
            }
            // A full batch goes at once, without a period (in order: batches
            // are taken and sent under the real-time lock).
            std::lock_guard<std::mutex> rt(m_rtMutex);
            takeBatch();
            if (!m_sending.empty()) {
                call(false, m_options.messageTimeout);
            }
            if (queued) {
                return;
            }
        }
    }

    Processed processRealtime(std::chrono::nanoseconds timeout) override {
        std::lock_guard<std::mutex> rt(m_rtMutex);
        takeBatch();
        return call(true, timeout);
    }

private:
    /// Makes the wanted buffer and hands it to the plugin (under the
    /// real-time lock).
    bool handOver(std::chrono::nanoseconds timeout, std::string& error) {
        if (!m_rt) {
            error = "the link is down";
            return false;
        }
        const auto r = ipc_rt_caller_attach_audio(m_rt.get(), m_want.inputs, m_want.outputs, m_want.frames, ns(timeout));
        if (r != IPC_OK) {
            error = describe(r);
            return false;
        }
        ipc_audio* audio = nullptr;
        if (ipc_rt_caller_audio(m_rt.get(), &audio) == IPC_OK) {
            m_audio = blockOf(audio);
        }
        return static_cast<bool>(m_audio);
    }

    /// Moves the queued events into the batch to send (under the real-time
    /// lock).
    void takeBatch() {
        std::lock_guard<std::mutex> lock(m_midiMutex);
        m_sending.swap(m_pending);
        m_pending.clear();
    }

    /// One call with the batch (under the real-time lock).
    Processed call(bool process, std::chrono::nanoseconds timeout) {
        if (!m_rt) {
            m_sending.clear();
            return Processed::failed;
        }
        CallJob job{&m_sending, process};
        const auto r = static_cast<ipc_result>(ipc_rt_caller_call(m_rt.get(), wire::processId, encodeRequest, &job,
                                                                  wire::processedId, decodeReply, &job, ns(timeout)));
        m_sending.clear();
        switch (r) {
        case IPC_OK:
            return job.processed || !process ? Processed::done : Processed::timeout;
        case IPC_PEER_DIED:
            m_state->died = true;
            return Processed::failed;
        case IPC_CLOSED:
            return Processed::failed;
        default:
            // Late, or not served: silence for this period, the link goes on.
            return Processed::timeout;
        }
    }

    std::shared_ptr<LinkState> m_state;
    HostOptions m_options;
    std::mutex m_hostMutex;
    ipc::Host m_host;
    ipc::MainLink m_link;
    std::uint32_t m_pid = 0;
    bool m_exited = false;
    std::mutex m_rtMutex;
    ipc::RtCaller m_rt;
    AudioBlock m_audio;
    /// The buffer's shape, until the plugin has it.
    AudioBlock m_want;
    bool m_wanted = false;
    std::mutex m_midiMutex;
    std::vector<MidiWire> m_pending;
    std::vector<MidiWire> m_sending;
    SyncBlock m_sync;
};

class LinkPlugin final : public PluginEndpoint {
public:
    LinkPlugin() : m_state(std::make_shared<LinkState>()) {
        m_state->inbox = m_inbox;
        m_state->pluginSide = true;
    }

    ~LinkPlugin() override { shutdown(); }

    void connect(std::chrono::nanoseconds spin) {
        m_spin = spin;
        ipc::Config config;
        config.send_timeout = sendTimeout;
        auto state = m_state;
        m_plugin = ipc::Plugin::connect_from_env(config, [state](ipc::MainLink link) { listen(link, state); });
        m_link = m_plugin.main_link();
    }

    Stage stage() const override { return Stage::links; }

    bool send(int id, const std::vector<Value>& values) override {
        if (id == IdProcessingDone && m_loop) {
            // A period handed to the message loop is answered by the
            // real-time call, not on the main link.
            std::lock_guard<std::mutex> lock(m_periodMutex);
            if (m_periodPending) {
                m_periodPending = false;
                m_periodChanged.notify_all();
                return true;
            }
        }
        std::lock_guard<std::mutex> lock(m_pluginMutex);
        if (!m_plugin) {
            return false;
        }
        return sendOn(m_link, id, values, *m_state);
    }

    void shutdown() override {
        stopRealtime();
        {
            std::lock_guard<std::mutex> lock(m_pluginMutex);
            m_link = ipc::MainLink();
            m_plugin = ipc::Plugin();
        }
        if (m_thread.joinable()) {
            m_thread.join();
        }
        inbox().close();
    }

    bool peerDied() const override { return m_state->died.load(); }

    void used(int taken) override {
        if (taken == IdQuit) {
            // No more periods: the subclass is about to end.
            m_ready = stopped;
            wakePeriod();
            return;
        }
        int expected = notReady;
        m_ready.compare_exchange_strong(expected, ready);
    }

    const void* attachSync(const std::string& key, std::size_t size, std::string& error) override {
        return m_sync.attach(key, size, error);
    }

    bool attachAudio(const std::string&, std::string&) override { return true; }

    float* audio(std::size_t& floats) override {
        std::lock_guard<std::mutex> lock(m_periodMutex);
        floats = (m_periodAudio.inputs + m_periodAudio.outputs) * m_periodAudio.frames;
        return m_periodPending ? m_periodAudio.data : nullptr;
    }

    void startRealtime(PluginHooks& hooks) override {
        std::lock_guard<std::mutex> lock(m_pluginMutex);
        if (!m_plugin || m_thread.joinable()) {
            return;
        }
        m_hooks = &hooks;
        ipc::RtServer server = m_plugin.take_rt();
        if (m_spin.count() > 0) {
            server.set_spin(m_spin);
        }
        m_thread = std::thread([this, s = std::move(server)]() mutable {
            m_rtThread = std::this_thread::get_id();
            ipc_stop stop{};
            ipc_rt_server_serve(s.get(), serve, this, &stop);
        });
    }

    void setProcessInMessageLoop(bool on) override { m_loop = on; }

    void stopRealtime() override {
        m_ready = stopped;
        wakePeriod();
        // The serving loop ends when the link closes (shutdown).
    }

    bool onRealtimeThread() const override { return std::this_thread::get_id() == m_rtThread.load(); }

    void syncTaken() override {
        std::lock_guard<std::mutex> lock(m_periodMutex);
        m_synced = true;
        m_periodChanged.notify_all();
    }

private:
    enum { notReady, ready, stopped };

    /// How long the first period waits for the sync block (once: a host
    /// that never sends it gets periods at whatever size the plugin has).
    static constexpr std::chrono::seconds syncWait{2};

    /// Holds the first period until the subclass has the sync block (the
    /// buffer size), which the host sent before it on the main link.
    void awaitSync() {
        if (m_syncAwaited) {
            return;
        }
        m_syncAwaited = true;
        std::unique_lock<std::mutex> lock(m_periodMutex);
        m_periodChanged.wait_for(lock, syncWait, [&] { return m_synced || m_ready.load() == stopped; });
    }

    static std::uint32_t serve(void* user, const ipc_header* header, ipc_decoder* payload, ipc_audio* audio,
                               ipc_responder* responder) noexcept {
        return static_cast<LinkPlugin*>(user)->serveOne(header, payload, audio, responder);
    }

    std::uint32_t serveOne(const ipc_header* header, ipc_decoder* payload, ipc_audio* audio,
                           ipc_responder* responder) noexcept {
        if (header->id != wire::processId) {
            return IPC_UNEXPECTED_ID;
        }
        try {
            ipc::Decoder d(payload, 8);
            ipc::Token t;
            ipc_result r = d.read_token(t);
            if (r == IPC_OK && (t.kind != ipc::Kind::array || t.len != 2)) {
                r = d.fail(IPC_MALFORMED, "a period is [process, events]");
            }
            bool process = false;
            if (r == IPC_OK && (r = d.read_token(t)) == IPC_OK) {
                if (t.kind != ipc::Kind::boolean) {
                    r = d.fail(IPC_MALFORMED, "a period is [process, events]");
                }
                process = t.boolean;
            }
            if (r == IPC_OK && (r = d.read_token(t)) == IPC_OK) {
                if (t.kind != ipc::Kind::array || t.len % 5 != 0 || t.len / 5 > midiBatch) {
                    r = d.fail(IPC_MALFORMED, "the events are five integers each");
                }
            }
            const bool go = m_ready.load() == ready;
            Reply reply{0, false};
            const std::uint32_t events = r == IPC_OK ? t.len / 5 : 0;
            for (std::uint32_t i = 0; r == IPC_OK && i < events; ++i) {
                MidiWire m{};
                for (std::int32_t* field : {&m.type, &m.channel, &m.param0, &m.param1, &m.offset}) {
                    if (r == IPC_OK) {
                        r = readInt(d, *field);
                    }
                }
                if (r == IPC_OK && go) {
                    if (m_loop) {
                        Packet p;
                        p.id = IdMidiEvent;
                        for (std::int32_t v : {m.type, m.channel, m.param0, m.param1, m.offset}) {
                            p.values.push_back(Value::ofInteger(v));
                        }
                        inbox().push(std::move(p));
                    } else {
                        m_hooks->hookMidi(m);
                    }
                    ++reply.handled;
                }
            }
            const ipc_result f = d.finish();
            if (r == IPC_OK) {
                r = f;
            }
            if (r != IPC_OK) {
                return r;
            }
            if (process && go && !m_loop) {
                // In the message loop a period follows the sync block
                // through the inbox anyway.
                awaitSync();
            }
            if (process && go) {
                const AudioBlock block = blockOf(audio);
                if (m_loop) {
                    reply.processed = processInLoop(block);
                } else {
                    m_hooks->hookProcess(block);
                    reply.processed = true;
                }
            }
            return ipc_responder_reply(responder, wire::processedId, encodeReply, &reply);
        } catch (...) {
            return IPC_REJECTED;
        }
    }

    /// Hands one period to the thread that receives messages and waits
    /// for its ProcessingDone (at most a while: the host has long given up
    /// on this call by then, and the next one must be served).
    bool processInLoop(const AudioBlock& block) {
        std::unique_lock<std::mutex> lock(m_periodMutex);
        m_periodAudio = block;
        m_periodPending = true;
        lock.unlock();
        Packet p;
        p.id = IdStartProcessing;
        inbox().push(std::move(p));
        lock.lock();
        const bool done = m_periodChanged.wait_for(lock, std::chrono::seconds(5), [&] {
            return !m_periodPending || m_ready.load() == stopped;
        });
        const bool processed = done && !m_periodPending;
        m_periodPending = false;
        m_periodAudio = AudioBlock();
        return processed;
    }

    void wakePeriod() {
        std::lock_guard<std::mutex> lock(m_periodMutex);
        m_periodChanged.notify_all();
    }

    std::shared_ptr<LinkState> m_state;
    std::chrono::nanoseconds m_spin{0};
    std::mutex m_pluginMutex;
    ipc::Plugin m_plugin;
    ipc::MainLink m_link;
    SyncMappings m_sync;
    PluginHooks* m_hooks = nullptr;
    std::thread m_thread;
    std::atomic<std::thread::id> m_rtThread{};
    std::atomic<int> m_ready{notReady};
    bool m_loop = false;
    std::mutex m_periodMutex;
    std::condition_variable m_periodChanged;
    bool m_periodPending = false;
    AudioBlock m_periodAudio;
    /// The subclass has the sync block (under m_periodMutex).
    bool m_synced = false;
    /// The real-time thread has waited for it once (its own).
    bool m_syncAwaited = false;
};

}  // namespace

std::unique_ptr<HostEndpoint> startLinkHost(const std::string& program, const std::vector<std::string>& args,
                                            const HostOptions& options, std::string& error) {
    auto host = std::make_unique<LinkHost>();
    try {
        host->start(program, args, options);
    } catch (const ipc::Error& e) {
        error = e.what();
        return nullptr;
    }
    return host;
}

std::unique_ptr<PluginEndpoint> connectLinkPlugin(const std::string& rest, std::string& error) {
    long long spin = 0;
    for (char c : rest) {
        if (c < '0' || c > '9' || spin > (1LL << 40)) {
            error = "a malformed stage 3 argument";
            return nullptr;
        }
        spin = spin * 10 + (c - '0');
    }
    auto plugin = std::make_unique<LinkPlugin>();
    try {
        plugin->connect(std::chrono::nanoseconds(spin));
    } catch (const ipc::Error& e) {
        error = e.what();
        return nullptr;
    }
    return plugin;
}

}  // namespace remote_ipc
}  // namespace lmms
