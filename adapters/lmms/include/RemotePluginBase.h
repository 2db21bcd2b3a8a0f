// RemotePluginBase.h: LMMS's remote-plugin messaging (the `message` class,
// the message IDs, send, receive, wait) carried by libipc. A drop-in
// replacement for LMMS's include/RemotePluginBase.h: the same names and
// semantics, one implementation for every platform (no Unix socket, no
// shmFifo, no size limit), three stages to choose from (see
// RemotePluginIpc.h and docs/LMMS.md).
//
// What differs from LMMS's own (all of it failure handling):
//  - a dead peer makes every wait return at once (waitForMessage gives
//    message(), isInvalid() is true);
//  - a message one thread waits for (waitForMessage) goes to that thread
//    even if another thread read it;
//  - getters are bounds-checked (a missing value reads as "", 0 or 0.0);
//  - at stages 2 and 3, getFloat returns the float that was added, not its
//    `%f` text (getString still gives that text).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef LMMS_REMOTE_PLUGIN_BASE_H
#define LMMS_REMOTE_PLUGIN_BASE_H

#include "RemotePluginIpc.h"

#include <atomic>
#include <chrono>
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#ifdef BUILD_REMOTE_PLUGIN_CLIENT
#undef LMMS_EXPORT
#define LMMS_EXPORT
#else
#if defined(__has_include)
#if __has_include("lmms_export.h")
#include "lmms_export.h"
#endif
#if __has_include(<QString>)
#include <QString>
#define IPC_LMMS_HAVE_QSTRING 1
#endif
#endif
#endif

#ifndef LMMS_EXPORT
#define LMMS_EXPORT
#endif

namespace lmms {

/// The message IDs all remote plugins share. Unscoped: plugins number
/// their own from IdUserBase.
enum RemoteMessageIDs {
    IdUndefined,
    IdHostInfoGotten,
    IdInitDone,
    IdQuit,
    IdSyncKey,
    IdSampleRateInformation,
    IdBufferSizeInformation,
    IdInformationUpdated,
    IdMidiEvent,
    IdStartProcessing,
    IdProcessingDone,
    IdChangeSharedMemoryKey,
    IdChangeInputCount,
    IdChangeOutputCount,
    IdChangeInputOutputCount,
    IdShowUI,
    IdHideUI,
    IdToggleUI,
    IdIsUIVisible,
    IdSaveSettingsToString,
    IdSaveSettingsToFile,
    IdLoadSettingsFromString,
    IdLoadSettingsFromFile,
    IdSavePresetFile,
    IdLoadPresetFile,
    IdDebugMessage,
    IdIdle,
    IdUserBase = 64
};

class LMMS_EXPORT RemotePluginBase {
public:
    /// A message: an ID and a list of values.
    struct message {
        message() : id(IdUndefined) {}
        message(int id) : id(id) {}  // NOLINT: implicit, as LMMS's (sendMessage(IdQuit))
        message(const message&) = default;
        message(message&&) = default;
        message& operator=(const message&) = default;
        message& operator=(message&&) = default;

        /// Appends a string made from `args` (as std::string's
        /// constructors take them).
        template <class... Args>
        message& addString(Args&&... args) {
            data.push_back(remote_ipc::Value::ofText(std::string(std::forward<Args>(args)...)));
            return *this;
        }
        message& addInt(int i) {
            data.push_back(remote_ipc::Value::ofInteger(i));
            return *this;
        }
        message& addFloat(float f) {
            data.push_back(remote_ipc::Value::ofReal(f));
            return *this;
        }

        std::string getString(int p = 0) const { return at(p) != nullptr ? at(p)->asString() : std::string(); }
#ifdef IPC_LMMS_HAVE_QSTRING
        QString getQString(int p = 0) const { return QString::fromStdString(getString(p)); }
#endif
        int getInt(int p = 0) const { return at(p) != nullptr ? at(p)->asInt() : 0; }
        float getFloat(int p) const { return at(p) != nullptr ? at(p)->asFloat() : 0.0f; }

        /// How many values it holds (beyond LMMS's API).
        int valueCount() const { return static_cast<int>(data.size()); }

        /// Messages compare by ID, as LMMS's do.
        bool operator==(const message& m) const { return id == m.id; }

        int id;

    private:
        const remote_ipc::Value* at(int p) const {
            return p >= 0 && static_cast<size_t>(p) < data.size() ? &data[static_cast<size_t>(p)] : nullptr;
        }

        std::vector<remote_ipc::Value> data;

        friend class RemotePluginBase;
    };

    /// Sets LC_NUMERIC to "C", as LMMS's does (the text forms of numbers
    /// use a decimal point).
    RemotePluginBase();
    virtual ~RemotePluginBase();
    RemotePluginBase(const RemotePluginBase&) = delete;
    RemotePluginBase& operator=(const RemotePluginBase&) = delete;

    /// Sends `m` (thread-safe: any number of threads may send at once).
    /// Returns LMMS's byte count (8 + the sum of 4 + length of each
    /// value's text), or 0 if it was not sent (the link is down).
    int sendMessage(const message& m);
    /// The next message no other thread waits for, waiting as long as it
    /// takes; once the link is down, message() (the plugin side gives
    /// IdQuit after a clean close, so that receive loops end; it exits
    /// when the host dies).
    message receiveMessage();

    bool isInvalid() const;

    /// Hands every message to processMessage until one with `m`'s ID came
    /// (which is processed too and returned); message() once the link is
    /// down or the wait timed out (see setMessageTimeout). `busyWaiting`
    /// calls idleWhileWaiting between slices of the wait (a host's event
    /// loop).
    message waitForMessage(const message& m, bool busyWaiting = false);

    message fetchAndProcessNextMessage() {
        message m = receiveMessage();
        processMessage(m);
        return m;
    }

    /// Whether a message is waiting (never blocks).
    bool messagesLeft();
    /// Processes every message that is waiting (never blocks).
    void fetchAndProcessAllMessages();

    /// Whether some thread is in a busy waitForMessage.
    static bool isMainThreadWaiting() { return waitDepth().load() > 0; }

    virtual bool processMessage(const message& m) = 0;

    /// Which stage carries the messages (0 before a connection).
    int ipcStage() const { return m_endpoint ? static_cast<int>(m_endpoint->stage()) : 0; }
    /// Bounds waitForMessage (std::nullopt: as long as it takes).
    void setMessageTimeout(std::optional<std::chrono::nanoseconds> timeout) { m_waitTimeout = timeout; }

protected:
    /// Marks the link unusable; waits return at once.
    void invalidate();

    /// Between slices of a busy wait (a host runs its event loop here).
    virtual void idleWhileWaiting() {}
    /// The ID receiveMessage returns once the link is down.
    virtual int idWhenDown() const { return IdUndefined; }

    /// The connection (set by RemotePluginClient and RemotePluginHost).
    void setEndpoint(std::unique_ptr<remote_ipc::Endpoint> endpoint) { m_endpoint = std::move(endpoint); }
    remote_ipc::Endpoint* endpoint() const { return m_endpoint.get(); }
    /// Ends the connection (derived destructors call this before their
    /// members go, so that nothing calls into them afterwards).
    void closeEndpoint();

    /// waitForMessage with an explicit deadline.
    message waitForMessageUntil(int id, remote_ipc::Deadline deadline, bool busyWaiting);
    /// Takes one message without processing it, as receiveMessage, until
    /// `deadline`; whether one came.
    bool takeMessage(int wanted, remote_ipc::Deadline deadline, message& out);

private:
    static std::atomic<int>& waitDepth();

    std::unique_ptr<remote_ipc::Endpoint> m_endpoint;
    std::optional<std::chrono::nanoseconds> m_waitTimeout;
};

}  // namespace lmms

#endif  // LMMS_REMOTE_PLUGIN_BASE_H
