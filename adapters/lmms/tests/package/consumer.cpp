// consumer.cpp: a program built only from the installed package
// (find_package(ipc), ipc::lmms). Without arguments it is the host: it
// starts itself as a remote plugin that doubles its input, and checks a
// few periods of its output. With the connection and "plugin" it is that
// plugin.
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "RemotePluginClient.h"
#include "RemotePluginHost.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace lmms;

namespace {

class Doubler : public RemotePluginClient {
public:
    explicit Doubler(const char* connection) : RemotePluginClient(connection) {
        setInputOutputCount(2, 2);
        sendMessage(IdInitDone);
        waitForMessage(IdInitDone);
    }

    void process(const SampleFrame* in, SampleFrame* out) override {
        for (f_cnt_t f = 0; f < bufferSize(); ++f) {
            out[f] = in != nullptr ? SampleFrame(2 * in[f][0], 2 * in[f][1]) : SampleFrame();
        }
    }
};

int plugin(const char* connection) {
    const auto pollParentThread = PollParentThread{};
    auto* doubler = new Doubler(connection);
    RemotePluginClient::message m;
    while ((m = doubler->receiveMessage()).id != IdQuit) {
        doubler->processMessage(m);
    }
    delete doubler;
    return 0;
}

int host(const char* self) {
    constexpr f_cnt_t frames = 256;
    RemotePluginHost remote;
    remote.setEngine(frames, 44100);
    if (remote.init(self, true, {"plugin"})) {
        std::fprintf(stderr, "lmms-consumer: the plugin did not start\n");
        return 1;
    }
    std::vector<SampleFrame> in(frames);
    std::vector<SampleFrame> out(frames);
    for (int period = 0; period < 4; ++period) {
        for (f_cnt_t f = 0; f < frames; ++f) {
            in[f] = SampleFrame(static_cast<float>(f) / frames, -static_cast<float>(period) / 8);
        }
        if (!remote.process(in.data(), out.data())) {
            std::fprintf(stderr, "lmms-consumer: period %d was not processed\n", period);
            return 1;
        }
        for (f_cnt_t f = 0; f < frames; ++f) {
            if (out[f][0] != 2 * in[f][0] || out[f][1] != 2 * in[f][1]) {
                std::fprintf(stderr, "lmms-consumer: period %d, frame %u: wrong output\n", period,
                             static_cast<unsigned>(f));
                return 1;
            }
        }
    }
    // IPC_LMMS_STAGE, the run-time switch, chose the stage if set.
    if (const char* wanted = std::getenv("IPC_LMMS_STAGE")) {
        if (std::atoi(wanted) != remote.ipcStage()) {
            std::fprintf(stderr, "lmms-consumer: IPC_LMMS_STAGE=%s, but stage %d ran\n", wanted, remote.ipcStage());
            return 1;
        }
    }
    std::printf("lmms-consumer: stage %d, 4 periods doubled\n", remote.ipcStage());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 3 && std::strcmp(argv[2], "plugin") == 0) {
        return plugin(argv[1]);
    }
    return host(argv[0]);
}
