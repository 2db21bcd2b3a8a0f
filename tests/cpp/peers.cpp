// peers.cpp: the modes in which the test program runs as the other
// process of a test: `--segment-peer <connection>` (Layer II: echoes every
// message of the wire set) and `--plugin` (Layer III: the link tests'
// plugin).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "harness.hpp"
#include "link_protocol.hpp"
#include "wire_types.hpp"

#include <cstdio>
#include <cstring>
#include <thread>

namespace {

/// Opens the segment, echoes every message of channel 0 on channel 1,
/// re-encoded by the C++ side, until channel 0 closes.
int segment_peer(const std::string& connection) {
    auto segment = ipc::Segment::open(connection);
    segment.watch_peer();
    auto reader = segment.reader(0);
    auto writer = segment.writer(1);
    for (;;) {
        ipc_result r = reader.recv_with(
            [&](const ipc::Header& h, ipc::Decoder& d) { return wire::echo(d, writer, h); });
        if (r == IPC_CLOSED) {
            return 0;
        }
        if (r != IPC_OK) {
            std::fprintf(stderr, "segment peer: %s\n", ipc::result_str(r));
            return 1;
        }
    }
}

/// The link tests' plugin.
int plugin() {
    ipc::Plugin p = ipc::Plugin::connect_from_env(ipc::Config(), [](ipc::MainLink link) {
        link.on_request<proto::Ping>([](const proto::Ping& ping) {
            return proto::Pong{ping.n + 1, ping.text + " from the plugin"};
        });
        link.on_request<proto::Fail, proto::Pong>(
            [](const proto::Fail& f) -> proto::Pong { throw std::runtime_error(f.why); });
        link.on_request<proto::Big>([](const proto::Big& b) { return b; });
        link.on<proto::Note>([](const proto::Note& n, ipc::Incoming& in) {
            in.link().send(proto::Note{n.key, n.velocity * 2});
        });
        link.on<proto::Ask>([](const proto::Ask& a, ipc::Incoming& in) {
            // A blocking request from a handler: the link keeps dispatching.
            auto pong = in.link().request_timeout<proto::Pong>(proto::Ping{a.n, "asked"}, std::chrono::seconds(60));
            in.link().send(proto::Answer{a.n, pong.n == a.n + 1 && pong.text == "asked from the host"});
        });
    });
    ipc::RtServer rt = p.take_rt();
    std::thread audio([&rt] {
        // Every allocation of the serving loop counts (waiting, decoding,
        // the handler, encoding the reply): the host checks the count
        // stays put from one call to the next.
        harness::CountMallocs allocations;
        rt.serve<proto::Process>([&allocations](const proto::Process& req, ipc::Audio* audio) {
            if (req.gain < 0) {
                throw std::runtime_error("a negative gain");
            }
            proto::Processed out{req.block, 0.0, audio != nullptr, allocations.count()};
            if (audio != nullptr) {
                for (size_t c = 0; c < audio->outputs(); ++c) {
                    auto in = audio->input(c);
                    auto o = audio->output(c);
                    for (size_t i = 0; i < o.size() && i < in.size(); ++i) {
                        o[i] = in[i] * req.gain;
                        out.sum += o[i];
                    }
                }
            }
            return out;
        });
    });
    auto stop = p.wait_for_stop(std::chrono::seconds(120));
    audio.join();
    return stop && stop->quit ? 0 : 3;
}

}  // namespace

int harness_peer_main(int argc, char** argv) {
    try {
        if (std::strcmp(argv[1], "--segment-peer") == 0 && argc == 3) {
            return segment_peer(argv[2]);
        }
        if (std::strcmp(argv[1], "--plugin") == 0) {
            return plugin();
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "peer: %s\n", e.what());
        return 2;
    }
    std::fprintf(stderr, "unknown peer mode %s\n", argv[1]);
    return 2;
}
