// RemotePluginIpc.h: what the LMMS adapter's public headers
// (RemotePluginBase.h, RemotePluginClient.h, RemotePluginHost.h) share
// with its sources: message values, the inbox that orders incoming
// messages between threads, and the endpoints of the three stages. It
// names no LMMS type: the endpoints know nothing of LMMS but its message
// IDs, and the code that touches LMMS's types (SampleFrame, MidiEvent,
// VstSyncData) is compiled with the tree's own headers (ipc::lmms is
// built from source in the project that uses it).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef LMMS_REMOTE_PLUGIN_IPC_H
#define LMMS_REMOTE_PLUGIN_IPC_H

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lmms {
namespace remote_ipc {

/// The three ways of carrying LMMS's remote-plugin messages.
enum class Stage : int {
    /// Layer I: LMMS's wire format (int32 id, int32 count, int32 length and
    /// bytes per string) through a pair of libipc byte channels.
    channels = 1,
    /// Layer II: the same messages as typed MessagePack over the channels.
    messages = 2,
    /// Layer III: messages on the main link, processing on the real-time
    /// link, audio in shared audio buffers.
    links = 3,
};

/// The stage a host uses when nothing chose one: `IPC_LMMS_STAGE` in the
/// environment (1, 2 or 3), else the compile-time `IPC_LMMS_DEFAULT_STAGE`
/// (default 3).
Stage defaultStage();

/// One value of a message: text (what every value is in LMMS's own
/// format), an integer or a floating-point number (typed at stages 2 and
/// 3). Each converts to the others as LMMS's text form would.
struct Value {
    enum class Kind : std::uint8_t { text, integer, real };

    Kind kind = Kind::text;
    std::int64_t integer = 0;
    double real = 0;
    std::string text;

    static Value ofText(std::string s);
    static Value ofInteger(std::int64_t v);
    static Value ofReal(double v);

    /// As LMMS's getString: the text, or the number printed with `%d` or
    /// `%f`.
    std::string asString() const;
    /// As LMMS's getInt (atoi), clamped to int; a number truncated.
    int asInt() const;
    /// As LMMS's getFloat (atof).
    float asFloat() const;
};

/// A message as the transports carry it.
struct Packet {
    int id = 0;
    std::vector<Value> values;
};

using Clock = std::chrono::steady_clock;
/// When a wait ends: a point in time, or never.
using Deadline = std::optional<Clock::time_point>;

/// How long from now; `forever` for no bound.
inline Deadline after(std::chrono::nanoseconds d) { return Clock::now() + d; }
inline constexpr std::nullopt_t forever = std::nullopt;

/// How a wait for a message ended.
enum class Got { message, timeout, down };

/// Incoming messages, shared by every thread that receives (LMMS's
/// receiveMessage and waitForMessage may run on several threads at once).
/// A message some thread waits for by ID goes to that thread, whichever
/// thread read it; any other goes to the thread that takes it next. At
/// stages 1 and 2 the threads take turns reading the channel; at stage 3
/// the link's listener thread pushes what arrives.
class Inbox {
public:
    /// Reads one message from a channel (stages 1 and 2).
    class Source {
    public:
        virtual ~Source() = default;
        /// One message into `out`, waiting until `deadline`: `message`,
        /// `timeout` (nothing consumed), or `down` (the link is gone).
        virtual Got read(Packet& out, Deadline deadline) = 0;
    };

    Inbox();
    ~Inbox();
    Inbox(const Inbox&) = delete;
    Inbox& operator=(const Inbox&) = delete;

    /// Where messages come from when nobody pushes them (may be null).
    void setSource(Source* source);
    /// Called whenever a message was queued for nobody in particular (on
    /// the thread that queued it). Replacing the hook waits for a call in
    /// progress, so the old one's `user` may go once this returns.
    void setArrivalHook(void (*hook)(void*), void* user);

    /// The next message for a caller waiting for `wanted` (-1: whatever
    /// comes that nobody else waits for), until `deadline`.
    Got take(int wanted, Deadline deadline, Packet& out);
    /// Whether a message is there to take (reads one if none is and
    /// nobody reads: LMMS's messagesLeft).
    bool pending();

    /// A message arrived (stage 3's listener).
    void push(Packet&& p);
    /// The link is down: waits end once what came is taken.
    void close();
    bool isDown() const;

private:
    struct State;
    std::unique_ptr<State> m_state;
};

/// One side of the connection, for RemotePluginBase: sends, and owns the
/// inbox it receives into. Every call is thread-safe.
class Endpoint {
public:
    virtual ~Endpoint() = default;
    virtual Stage stage() const = 0;
    /// Sends one message (waiting for ring space at most the send
    /// timeout); false if it could not (the link is down then).
    virtual bool send(int id, const std::vector<Value>& values) = 0;
    /// Closes this side: the peer sees the link end, waits here end.
    virtual void shutdown() = 0;
    /// Whether the peer process has died (not merely closed the link).
    virtual bool peerDied() const = 0;
    /// RemotePluginBase is about to send (`taken` -1) or take (-2) a
    /// message, or took one of ID `taken`: on the plugin side, a sign that
    /// the subclass is constructed (or, for IdQuit, about to end).
    virtual void used(int taken) { (void)taken; }
    Inbox& inbox() { return *m_inbox; }

protected:
    /// Shared with the link's listener thread, which may outlive this.
    std::shared_ptr<Inbox> m_inbox = std::make_shared<Inbox>();
};

/// Tuning of a host, beyond LMMS's API.
struct HostOptions {
    Stage stage = defaultStage();
    /// How long process() waits for the plugin (0: one period of the
    /// engine, at least 2 ms).
    std::chrono::nanoseconds processTimeout{0};
    /// How long waitForMessage waits (LMMS waits forever).
    std::chrono::nanoseconds messageTimeout = std::chrono::seconds(30);
    /// How long the destructor waits for the plugin to exit after Quit.
    std::chrono::nanoseconds quitTimeout = std::chrono::seconds(1);
    /// How long the plugin may take to connect (LMMS: 30 s).
    std::chrono::nanoseconds connectTimeout = std::chrono::seconds(30);
    /// How long the rest of a message may take once it began arriving
    /// (then the plugin is taken for broken).
    std::chrono::nanoseconds payloadTimeout = std::chrono::seconds(10);
    /// A bounded spin before sleeping, on both ends of the real-time link
    /// (stage 3; 0: sleep at once).
    std::chrono::nanoseconds realtimeSpin{0};
    /// Ring size of each direction (a power of two).
    std::size_t ringCapacity = std::size_t{1} << 20;
};

/// A MIDI event on its way (the five numbers of LMMS's IdMidiEvent).
struct MidiWire {
    std::int32_t type;
    std::int32_t channel;
    std::int32_t param0;
    std::int32_t param1;
    std::int32_t offset;
};

/// The shared audio buffer as one block of floats: `inputs` planes of
/// `frames`, then `outputs` planes (LMMS's layout; interleaved use treats
/// each half as SampleFrames).
struct AudioBlock {
    float* data = nullptr;
    std::size_t inputs = 0;
    std::size_t outputs = 0;
    std::size_t frames = 0;
    explicit operator bool() const { return data != nullptr; }
};

/// The outcome of one processing round trip.
enum class Processed { done, timeout, failed };

/// The host's side: starts the plugin process and owns what it shares
/// with it. Made by startHost.
class HostEndpoint : public Endpoint {
public:
    /// Whether the plugin process still runs.
    virtual bool isRunning() = 0;
    /// Its process ID (0 if unknown).
    virtual std::uint32_t pluginPid() const = 0;
    /// Sends Quit through the link's own means (stage 3), closes this side,
    /// waits at most `timeout` for the process to exit, then kills it;
    /// whether it had to kill.
    virtual bool stop(std::chrono::nanoseconds timeout) = 0;

    /// The connection string of the tempo/position block (SyncKey).
    virtual std::string syncKey() const = 0;
    /// Writes the block's first `size` bytes.
    virtual void writeSync(const void* data, std::size_t size) = 0;
    /// The plugin mapped the block: nothing else may open it.
    virtual void syncAttached() = 0;

    /// Replaces the audio buffer with one of these counts (a new key for
    /// the plugin: stage 1 and 2 return it for ChangeSharedMemoryKey, stage
    /// 3 hands the buffer over the real-time link and returns a marker).
    /// False if there is no buffer now (no channels, or it failed: `error`).
    virtual bool resizeAudio(std::size_t inputs, std::size_t outputs, std::size_t frames,
                             std::string& key, std::string& error) = 0;
    /// The current buffer. At stage 3 one the plugin has not taken yet is
    /// handed over again first, waiting at most `handover`.
    virtual AudioBlock audio(std::chrono::nanoseconds handover) = 0;
    /// The plugin processed with the current buffer: nobody else may open
    /// it any more.
    virtual void audioAttached() = 0;

    /// Stage 3: queues a MIDI event for the next real-time call (one call
    /// carries up to a few thousand; a full queue is sent at once).
    virtual void queueMidi(const MidiWire& event) = 0;
    /// Stage 3: one real-time call (the queued MIDI events, then one
    /// period), at most `timeout`.
    virtual Processed processRealtime(std::chrono::nanoseconds timeout) = 0;
};

/// Starts `program` (with argv[1] the connection string, then `args`) for
/// stage `options.stage` and connects to it. Null on failure (`error`
/// says why).
std::unique_ptr<HostEndpoint> startHost(const std::string& program, const std::vector<std::string>& args,
                                        const HostOptions& options, std::string& error);

/// What the plugin side calls back into RemotePluginClient for (on its
/// real-time thread at stage 3).
class PluginHooks {
public:
    virtual ~PluginHooks() = default;
    virtual void hookMidi(const MidiWire& event) = 0;
    /// One period with this buffer (null: none attached).
    virtual void hookProcess(const AudioBlock& audio) = 0;
};

/// The plugin's side. Made by connectPlugin.
class PluginEndpoint : public Endpoint {
public:
    /// Maps the tempo/position block read-only; null on failure (`error`).
    virtual const void* attachSync(const std::string& key, std::size_t size, std::string& error) = 0;
    /// Stages 1 and 2: maps the audio buffer of this key; false on failure.
    virtual bool attachAudio(const std::string& key, std::string& error) = 0;
    /// Stages 1 and 2: the mapped audio buffer as floats (data null if none).
    virtual float* audio(std::size_t& floats) = 0;
    /// Stage 3: starts the real-time thread, which calls `hooks`.
    virtual void startRealtime(PluginHooks& hooks) = 0;
    /// Stage 3: hand each period (and its MIDI events) to the thread that
    /// receives messages instead, as IdMidiEvent and IdStartProcessing
    /// messages, whose ProcessingDone answers the real-time call (call
    /// before startRealtime).
    virtual void setProcessInMessageLoop(bool on) = 0;
    /// Stops it (and waits for it).
    virtual void stopRealtime() = 0;
    /// Whether the calling thread is the real-time thread.
    virtual bool onRealtimeThread() const = 0;
    /// The subclass has taken the tempo/position block, and with it the
    /// buffer size and sample rate. At stage 3 periods do not queue behind
    /// the main link's messages, so the real-time thread holds the first
    /// period until this (at most a while) instead of rendering it at an
    /// unknown size.
    virtual void syncTaken() {}
};

/// Connects to the host from `argument` (argv[1]); null on failure
/// (`error`). The plugin process exits when the host dies.
std::unique_ptr<PluginEndpoint> connectPlugin(const char* argument, std::string& error);

}  // namespace remote_ipc
}  // namespace lmms

#endif  // LMMS_REMOTE_PLUGIN_IPC_H
