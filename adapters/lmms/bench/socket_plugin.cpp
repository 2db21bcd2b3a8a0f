// socket_plugin.cpp: the plugin side of the baseline rows, a remote plugin
// as LMMS's RemotePluginClient behaves today over its socket
// (SocketReplica.h): a receive loop on the main thread that handles
// BufferSizeInformation, ChangeSharedMemoryKey (maps the audio segment,
// then says InitDone), MidiEvent (five numbers as text) and
// StartProcessing (processes the period in the shared segment, planar
// halves of interleaved frames: inputs first, then outputs; answers
// ProcessingDone), until Quit or the end of the socket.
//
//   ipc_lmms_bench_socket_plugin SOCKET_FD CPU|- copy|midi
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "BenchCommon.h"
#include "SocketReplica.h"

#include <cstring>

#include <sys/mman.h>
#include <sys/stat.h>

namespace {

class Plugin {
public:
    Plugin(int fd, bench::Mode mode) : m_link(fd), m_mode(mode) {}

    int run() {
        for (;;) {
            const replica::Message m = m_link.receive();
            if (m.id == replica::IdQuit || m.id == replica::IdUndefined) {
                return 0;
            }
            if (!handle(m)) {
                return 1;
            }
        }
    }

private:
    bool handle(const replica::Message& m) {
        switch (m.id) {
        case replica::IdBufferSizeInformation:
            m_bufferSize = static_cast<std::size_t>(m.getInt(0));
            return true;
        case replica::IdChangeSharedMemoryKey:
            if (!attach(m.getInt(0))) {
                return false;
            }
            m_link.send(replica::IdInitDone);
            return true;
        case replica::IdMidiEvent:
            m_midi.add(bench::Midi{m.getInt(0), m.getInt(1), m.getInt(2), m.getInt(3), m.getInt(4)});
            return true;
        case replica::IdStartProcessing:
            if (m_shm == nullptr) {
                std::fprintf(stderr, "socket plugin: no shared memory\n");
                return false;
            }
            process(m_shm, m_shm + m_inputs * m_bufferSize);
            m_link.send(replica::IdProcessingDone);
            return true;
        default:
            std::fprintf(stderr, "socket plugin: undefined message %d\n", m.id);
            return true;
        }
    }

    /// Maps the segment the key names (an inherited descriptor here).
    bool attach(int fd) {
        struct stat st {};
        if (fstat(fd, &st) != 0 || st.st_size <= 0) {
            std::fprintf(stderr, "socket plugin: cannot attach shared memory %d\n", fd);
            return false;
        }
        void* p = mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            std::fprintf(stderr, "socket plugin: cannot map shared memory: %s\n", std::strerror(errno));
            return false;
        }
        m_shm = static_cast<float*>(p);
        return true;
    }

    /// An effect that copies its input (interleaved frames), or a
    /// receiver that reports the MIDI events so far.
    void process(const float* in, float* out) {
        if (m_mode == bench::Mode::copy) {
            std::memcpy(out, in, m_bufferSize * bench::channels * sizeof(float));
        } else {
            std::memset(out, 0, m_bufferSize * bench::channels * sizeof(float));
            m_midi.write(out);
        }
    }

    replica::Link m_link;
    bench::Mode m_mode;
    float* m_shm = nullptr;
    std::size_t m_inputs = bench::channels;
    std::size_t m_bufferSize = bench::frames;
    bench::MidiCount m_midi;
};

}  // namespace

int main(int argc, char** argv) {
    bench::Mode mode{};
    char* end = nullptr;
    const long fd = argc == 4 ? std::strtol(argv[1], &end, 10) : -1;
    if (argc != 4 || *end != '\0' || fd < 0 || !bench::parseMode(argv[3], mode)) {
        std::fprintf(stderr, "usage: %s SOCKET_FD CPU|- copy|midi\n", argv[0]);
        return 2;
    }
    if (!bench::pinTo(argv[2])) {
        std::fprintf(stderr, "socket plugin: cannot pin to CPU %s\n", argv[2]);
        return 1;
    }
    Plugin plugin(static_cast<int>(fd), mode);
    return plugin.run();
}
