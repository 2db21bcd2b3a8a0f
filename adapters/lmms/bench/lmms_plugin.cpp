// lmms_plugin.cpp: the plugin side of the lmms_* rows, a remote plugin
// written against the adapter's LMMS-style API only (RemotePluginClient):
// two inputs and two outputs, interleaved frames; it copies its input to
// its output (copy) or reports the MIDI events it received so far (midi).
// Start-up as RemoteZynAddSubFx's: set the channel counts, InitDone, wait
// for the host's echo, then the message loop until Quit. At stage 3 the
// periods and their MIDI events come on the adapter's real-time thread.
//
//   ipc_lmms_bench_plugin CONNECTION CPU|- copy|midi
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "BenchCommon.h"
#include "RemotePluginClient.h"

#include <cstring>

using namespace lmms;

namespace {

class BenchPlugin : public RemotePluginClient {
public:
    BenchPlugin(const char* connection, bench::Mode mode) : RemotePluginClient(connection), m_mode(mode) {
        setInputOutputCount(static_cast<int>(bench::channels), static_cast<int>(bench::channels));
        sendMessage(IdInitDone);
        m_ready = waitForMessage(IdInitDone).id == IdInitDone;
    }

    /// The message loop; whether it ended with Quit after a good start.
    bool run() {
        if (!m_ready) {
            return false;
        }
        for (;;) {
            const message m = receiveMessage();
            if (m.id == IdQuit) {
                return true;
            }
            if (m.id == IdUndefined) {
                return false;
            }
            processMessage(m);
        }
    }

    void process(const SampleFrame* in, SampleFrame* out) override {
        if (m_mode == bench::Mode::copy && in != nullptr) {
            std::memcpy(static_cast<void*>(out), in, bufferSize() * sizeof(SampleFrame));
            return;
        }
        zeroSampleFrames(out, static_cast<std::size_t>(bufferSize()));
        m_midi.write(out[0].data());
    }

    void processMidiEvent(const MidiEvent& e, const f_cnt_t offset) override {
        m_midi.add(bench::Midi{static_cast<int>(e.type()), e.channel(), e.param(0), e.param(1),
                               static_cast<int>(offset)});
    }

private:
    bench::Mode m_mode;
    bool m_ready = false;
    bench::MidiCount m_midi;
};

}  // namespace

int main(int argc, char** argv) {
    bench::Mode mode{};
    if (argc != 4 || !bench::parseMode(argv[3], mode)) {
        std::fprintf(stderr, "usage: %s CONNECTION CPU|- copy|midi\n", argv[0]);
        return 2;
    }
    // Before the client starts its threads, which inherit the CPU.
    if (!bench::pinTo(argv[2])) {
        std::fprintf(stderr, "lmms plugin: cannot pin to CPU %s\n", argv[2]);
        return 1;
    }
    BenchPlugin plugin(argv[1], mode);
    return plugin.run() ? 0 : 1;
}
