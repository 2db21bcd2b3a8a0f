// SocketReplica.h: LMMS's remote-plugin socket transport as it is today,
// rebuilt from its documented behaviour for ipc-latency's baseline rows
// (baseline_lmms_socket_process, baseline_lmms_socket_midi), so that the
// adapter is compared with what LMMS runs now:
//  - a message is an int ID and a vector of strings; numbers travel as
//    `%d` text and are read back with atoi;
//  - on the wire: int32 ID, int32 count, then per string int32 length and
//    the bytes, native byte order, over an AF_UNIX stream socket;
//  - each of those fields is its own write() and read() (LMMS writes and
//    reads field by field, without buffering), under one send and one
//    receive mutex;
//  - a read or write that returns 0 or -1 invalidates the link, and every
//    wait returns IdUndefined from then on.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#ifndef IPC_LMMS_BENCH_SOCKET_REPLICA_H
#define IPC_LMMS_BENCH_SOCKET_REPLICA_H

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace replica {

/// The IDs the baseline uses (LMMS's shared numbering).
enum : int {
    IdUndefined = 0,
    IdInitDone = 2,
    IdQuit = 3,
    IdBufferSizeInformation = 6,
    IdMidiEvent = 8,
    IdStartProcessing = 9,
    IdProcessingDone = 10,
    IdChangeSharedMemoryKey = 11,
};

/// LMMS's `message`: an ID and strings.
struct Message {
    Message(int id = IdUndefined) : id(id) {}  // NOLINT: implicit, as LMMS's

    Message& addString(std::string s) {
        data.push_back(std::move(s));
        return *this;
    }
    Message& addInt(int i) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%d", i);
        data.emplace_back(buf);
        return *this;
    }
    std::string getString(std::size_t p = 0) const { return p < data.size() ? data[p] : std::string(); }
    int getInt(std::size_t p = 0) const { return p < data.size() ? std::atoi(data[p].c_str()) : 0; }

    int id;
    std::vector<std::string> data;
};

/// One end of the socket.
class Link {
public:
    explicit Link(int fd) : m_fd(fd) {}
    ~Link() { ::close(m_fd); }
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    bool invalid() const { return m_invalid.load(); }

    /// Returns LMMS's byte count (8 + the sum of 4 + length per string).
    int send(const Message& m) {
        std::lock_guard<std::mutex> lock(m_sendMutex);
        writeInt(m.id);
        writeInt(static_cast<std::int32_t>(m.data.size()));
        int bytes = 8;
        for (const std::string& s : m.data) {
            writeString(s);
            bytes += 4 + static_cast<int>(s.size());
        }
        return bytes;
    }

    Message receive() {
        std::lock_guard<std::mutex> lock(m_receiveMutex);
        Message m(readInt());
        const std::int32_t count = readInt();
        for (std::int32_t i = 0; i < count && !invalid(); ++i) {
            m.data.push_back(readString());
        }
        return invalid() ? Message() : m;
    }

    /// Hands every other message to `handle` until one with `id` comes;
    /// IdUndefined once the link is invalid.
    template <class Handle>
    Message waitFor(int id, Handle&& handle) {
        while (!invalid()) {
            Message m = receive();
            if (m.id == id) {
                return m;
            }
            if (m.id == IdUndefined) {
                break;
            }
            handle(m);
        }
        return Message();
    }

private:
    void writeAll(const void* data, std::size_t len) {
        const char* p = static_cast<const char*>(data);
        while (len > 0 && !invalid()) {
            const ssize_t n = ::write(m_fd, p, len);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                m_invalid = true;
                return;
            }
            p += n;
            len -= static_cast<std::size_t>(n);
        }
    }

    void readAll(void* data, std::size_t len) {
        char* p = static_cast<char*>(data);
        while (len > 0 && !invalid()) {
            const ssize_t n = ::read(m_fd, p, len);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                m_invalid = true;
                return;
            }
            p += n;
            len -= static_cast<std::size_t>(n);
        }
    }

    void writeInt(std::int32_t i) { writeAll(&i, sizeof i); }

    std::int32_t readInt() {
        std::int32_t i = 0;
        readAll(&i, sizeof i);
        return invalid() ? 0 : i;
    }

    void writeString(const std::string& s) {
        writeInt(static_cast<std::int32_t>(s.size()));
        writeAll(s.data(), s.size());
    }

    std::string readString() {
        const std::int32_t len = readInt();
        if (len <= 0) {
            return std::string();
        }
        std::string s(static_cast<std::size_t>(len), '\0');
        readAll(&s[0], s.size());
        return s;
    }

    int m_fd;
    std::atomic<bool> m_invalid{false};
    std::mutex m_sendMutex;
    std::mutex m_receiveMutex;
};

}  // namespace replica

#endif  // IPC_LMMS_BENCH_SOCKET_REPLICA_H
