// RemotePluginBase.cpp: sending, receiving and waiting, over whichever
// endpoint the host or plugin side set.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "RemotePluginBase.h"

namespace lmms {

using remote_ipc::Clock;
using remote_ipc::Deadline;
using remote_ipc::Got;
using remote_ipc::Packet;

namespace {

/// How often a busy wait lets the host's event loop run.
constexpr auto busySlice = std::chrono::milliseconds(50);

/// Counts the busy waits running (for isMainThreadWaiting).
class BusyWait {
public:
    BusyWait(std::atomic<int>& depth, bool busy) : m_depth(depth), m_busy(busy) {
        if (m_busy) {
            ++m_depth;
        }
    }
    ~BusyWait() {
        if (m_busy) {
            --m_depth;
        }
    }
    BusyWait(const BusyWait&) = delete;
    BusyWait& operator=(const BusyWait&) = delete;

private:
    std::atomic<int>& m_depth;
    bool m_busy;
};

}  // namespace

RemotePluginBase::RemotePluginBase() {
    // Numbers become text with a decimal point, whatever the user's locale.
    std::setlocale(LC_NUMERIC, "C");
}

RemotePluginBase::~RemotePluginBase() { closeEndpoint(); }

std::atomic<int>& RemotePluginBase::waitDepth() {
    static std::atomic<int> depth{0};
    return depth;
}

void RemotePluginBase::closeEndpoint() {
    if (m_endpoint) {
        m_endpoint->shutdown();
        m_endpoint.reset();
    }
}

int RemotePluginBase::sendMessage(const message& m) {
    if (!m_endpoint || m_endpoint->inbox().isDown()) {
        return 0;
    }
    m_endpoint->used(-1);
    if (!m_endpoint->send(m.id, m.data)) {
        return 0;
    }
    int bytes = 8;
    for (const auto& v : m.data) {
        bytes += 4 + static_cast<int>(v.kind == remote_ipc::Value::Kind::text ? v.text.size() : v.asString().size());
    }
    return bytes;
}

bool RemotePluginBase::takeMessage(int wanted, Deadline deadline, message& out) {
    if (!m_endpoint) {
        return false;
    }
    m_endpoint->used(-2);
    Packet p;
    if (m_endpoint->inbox().take(wanted, deadline, p) != Got::message) {
        return false;
    }
    m_endpoint->used(p.id);
    out.id = p.id;
    out.data = std::move(p.values);
    return true;
}

RemotePluginBase::message RemotePluginBase::receiveMessage() {
    message m;
    if (takeMessage(-1, remote_ipc::forever, m)) {
        return m;
    }
    return message(m_endpoint ? idWhenDown() : IdUndefined);
}

bool RemotePluginBase::isInvalid() const { return !m_endpoint || m_endpoint->inbox().isDown(); }

void RemotePluginBase::invalidate() {
    if (m_endpoint) {
        m_endpoint->inbox().close();
    }
}

RemotePluginBase::message RemotePluginBase::waitForMessage(const message& m, bool busyWaiting) {
    Deadline deadline = remote_ipc::forever;
    if (m_waitTimeout) {
        deadline = remote_ipc::after(*m_waitTimeout);
    }
    return waitForMessageUntil(m.id, deadline, busyWaiting);
}

RemotePluginBase::message RemotePluginBase::waitForMessageUntil(int id, Deadline deadline, bool busyWaiting) {
    BusyWait counted(waitDepth(), busyWaiting);
    while (!isInvalid()) {
        Deadline slice = deadline;
        if (busyWaiting) {
            const auto next = Clock::now() + busySlice;
            slice = deadline && *deadline < next ? deadline : Deadline(next);
        }
        message got;
        if (takeMessage(id, slice, got)) {
            processMessage(got);
            if (got.id == id || got.id == IdUndefined) {
                return got;
            }
            continue;
        }
        if (deadline && Clock::now() >= *deadline) {
            break;
        }
        if (busyWaiting) {
            idleWhileWaiting();
        }
    }
    return message();
}

bool RemotePluginBase::messagesLeft() { return m_endpoint && m_endpoint->inbox().pending(); }

void RemotePluginBase::fetchAndProcessAllMessages() {
    message m;
    while (takeMessage(-1, Clock::now(), m)) {
        processMessage(m);
    }
}

}  // namespace lmms
