// Inbox.cpp: message values and their LMMS text forms, the default stage,
// and the inbox that hands incoming messages to the threads that wait.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "RemotePluginIpc.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <limits>
#include <list>
#include <mutex>

#ifndef IPC_LMMS_DEFAULT_STAGE
#define IPC_LMMS_DEFAULT_STAGE 3
#endif

namespace lmms {
namespace remote_ipc {

Stage defaultStage() {
    if (const char* s = std::getenv("IPC_LMMS_STAGE")) {
        if (s[0] >= '1' && s[0] <= '3' && s[1] == '\0') {
            return static_cast<Stage>(s[0] - '0');
        }
        std::fprintf(stderr, "IPC_LMMS_STAGE=%s is none of 1, 2, 3: using stage %d\n", s, IPC_LMMS_DEFAULT_STAGE);
    }
    static_assert(IPC_LMMS_DEFAULT_STAGE >= 1 && IPC_LMMS_DEFAULT_STAGE <= 3, "IPC_LMMS_DEFAULT_STAGE is 1, 2 or 3");
    return static_cast<Stage>(IPC_LMMS_DEFAULT_STAGE);
}

Value Value::ofText(std::string s) {
    Value v;
    v.kind = Kind::text;
    v.text = std::move(s);
    return v;
}

Value Value::ofInteger(std::int64_t i) {
    Value v;
    v.kind = Kind::integer;
    v.integer = i;
    return v;
}

Value Value::ofReal(double r) {
    Value v;
    v.kind = Kind::real;
    v.real = r;
    return v;
}

namespace {

int clampInt(std::int64_t v) {
    return static_cast<int>(std::clamp<std::int64_t>(v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

/// atoi, without its undefined behaviour: leading space, a sign, digits;
/// saturating.
int parseInt(const std::string& s) {
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) != 0) {
        ++i;
    }
    bool negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        negative = s[i] == '-';
        ++i;
    }
    std::int64_t v = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
        if (v < (std::int64_t{1} << 40)) {
            v = v * 10 + (s[i] - '0');
        }
    }
    return clampInt(negative ? -v : v);
}

}  // namespace

std::string Value::asString() const {
    switch (kind) {
    case Kind::text:
        return text;
    case Kind::integer: {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%d", clampInt(integer));
        return buf;
    }
    case Kind::real: {
        // `%f` as LMMS's addFloat writes it (six decimals).
        char buf[400];
        std::snprintf(buf, sizeof buf, "%f", real);
        return buf;
    }
    }
    return {};
}

int Value::asInt() const {
    switch (kind) {
    case Kind::text:
        return parseInt(text);
    case Kind::integer:
        return clampInt(integer);
    case Kind::real:
        if (std::isnan(real)) {
            return 0;
        }
        return clampInt(static_cast<std::int64_t>(std::clamp(real, -9.2e18, 9.2e18)));
    }
    return 0;
}

float Value::asFloat() const {
    switch (kind) {
    case Kind::text:
        return static_cast<float>(std::strtod(text.c_str(), nullptr));
    case Kind::integer:
        return static_cast<float>(integer);
    case Kind::real:
        return static_cast<float>(real);
    }
    return 0.0f;
}

// ---------------------------------------------------------------------------
// The inbox

namespace {

/// Most messages, and bytes of text, queued for nobody: beyond them the
/// link's listener waits (and a plugin that floods its host is slowed down
/// to what the host takes).
constexpr std::size_t maxQueued = 100000;
constexpr std::size_t maxQueuedBytes = std::size_t{512} << 20;

std::size_t bytesOf(const Packet& p) {
    std::size_t n = 16;
    for (const auto& v : p.values) {
        n += sizeof(Value) + v.text.size();
    }
    return n;
}

/// A thread waiting for one ID.
struct Waiter {
    int wanted = -1;
    bool filled = false;
    Packet packet;
};

}  // namespace

struct Inbox::State {
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<Packet> queue;
    std::size_t queuedBytes = 0;
    std::list<Waiter*> waiters;
    Source* source = nullptr;
    bool reading = false;
    bool down = false;
    /// Held while the hook runs (and to replace it).
    std::mutex hookMutex;
    void (*hook)(void*) = nullptr;
    void* hookUser = nullptr;

    void callHook() {
        std::lock_guard<std::mutex> lock(hookMutex);
        if (hook != nullptr) {
            hook(hookUser);
        }
    }

    /// The earliest waiter for `id` other than `me` that has nothing yet.
    Waiter* waiterFor(int id, const Waiter* me) {
        for (Waiter* w : waiters) {
            if (w != me && !w->filled && w->wanted == id) {
                return w;
            }
        }
        return nullptr;
    }
};

Inbox::Inbox() : m_state(new State) {}
Inbox::~Inbox() = default;

void Inbox::setSource(Source* source) {
    std::lock_guard<std::mutex> lock(m_state->mutex);
    m_state->source = source;
}

void Inbox::setArrivalHook(void (*hook)(void*), void* user) {
    std::lock_guard<std::mutex> lock(m_state->hookMutex);
    m_state->hook = hook;
    m_state->hookUser = user;
}

Got Inbox::take(int wanted, Deadline deadline, Packet& out) {
    State& s = *m_state;
    std::unique_lock<std::mutex> lock(s.mutex);
    Waiter me;
    me.wanted = wanted;
    auto mine = s.waiters.end();
    if (wanted >= 0) {
        mine = s.waiters.insert(s.waiters.end(), &me);
    }
    bool tried = false;
    auto leave = [&](Got got) {
        if (mine != s.waiters.end()) {
            s.waiters.erase(mine);
        }
        return got;
    };
    for (;;) {
        if (me.filled) {
            out = std::move(me.packet);
            return leave(Got::message);
        }
        if (!s.queue.empty()) {
            Packet p = std::move(s.queue.front());
            s.queue.pop_front();
            s.queuedBytes -= std::min(s.queuedBytes, bytesOf(p));
            s.changed.notify_all();
            if (p.id != wanted) {
                if (Waiter* w = s.waiterFor(p.id, &me)) {
                    w->packet = std::move(p);
                    w->filled = true;
                    s.changed.notify_all();
                    continue;
                }
            }
            out = std::move(p);
            return leave(Got::message);
        }
        if (s.down) {
            return leave(Got::down);
        }
        const bool expired = deadline && Clock::now() >= *deadline;
        if (s.source != nullptr && !s.reading && !(expired && tried)) {
            // This thread reads the channel for everyone until a message
            // comes or its deadline passes (once at least, even if it has
            // passed: a poll).
            tried = true;
            s.reading = true;
            Source* source = s.source;
            lock.unlock();
            Packet p;
            const Got got = source->read(p, deadline);
            lock.lock();
            s.reading = false;
            if (got == Got::message) {
                s.queuedBytes += bytesOf(p);
                s.queue.push_back(std::move(p));
            } else if (got == Got::down) {
                s.down = true;
            }
            s.changed.notify_all();
            continue;
        }
        if (expired) {
            return leave(Got::timeout);
        }
        if (deadline) {
            s.changed.wait_until(lock, *deadline);
        } else {
            s.changed.wait(lock);
        }
    }
}

bool Inbox::pending() {
    State& s = *m_state;
    std::unique_lock<std::mutex> lock(s.mutex);
    if (!s.queue.empty()) {
        return true;
    }
    if (s.down || s.source == nullptr || s.reading) {
        return false;
    }
    s.reading = true;
    Source* source = s.source;
    lock.unlock();
    Packet p;
    const Got got = source->read(p, Clock::now());
    lock.lock();
    s.reading = false;
    if (got == Got::message) {
        s.queuedBytes += bytesOf(p);
        s.queue.push_back(std::move(p));
    } else if (got == Got::down) {
        s.down = true;
    }
    s.changed.notify_all();
    return !s.queue.empty();
}

void Inbox::push(Packet&& p) {
    bool queued = false;
    {
        State& s = *m_state;
        std::unique_lock<std::mutex> lock(s.mutex);
        if (Waiter* w = s.queue.empty() ? s.waiterFor(p.id, nullptr) : nullptr) {
            w->packet = std::move(p);
            w->filled = true;
        } else {
            s.changed.wait(lock, [&] {
                return s.down || (s.queue.size() < maxQueued && s.queuedBytes < maxQueuedBytes);
            });
            s.queuedBytes += bytesOf(p);
            s.queue.push_back(std::move(p));
            queued = true;
        }
    }
    m_state->changed.notify_all();
    if (queued) {
        m_state->callHook();
    }
}

void Inbox::close() {
    {
        std::lock_guard<std::mutex> lock(m_state->mutex);
        m_state->down = true;
    }
    m_state->changed.notify_all();
}

bool Inbox::isDown() const {
    std::lock_guard<std::mutex> lock(m_state->mutex);
    return m_state->down;
}

}  // namespace remote_ipc
}  // namespace lmms
