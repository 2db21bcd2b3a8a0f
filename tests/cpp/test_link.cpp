// test_link.cpp: typed messages through the real C ABI: a segment between
// two threads and between two processes (Layers I and II), and a host
// with its plugin process (Layer III: main link both ways, requests, error
// replies, the real-time link with shared audio, shutdown).
//
// SPDX-License-Identifier: MIT OR Apache-2.0

#include "harness.hpp"
#include "link_protocol.hpp"
#include "wire_types.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

namespace {

constexpr auto never = std::chrono::seconds(60);

/// Values the listener thread hands to the test thread.
template <class T>
class Inbox {
public:
    void push(T v) {
        {
            std::lock_guard<std::mutex> lock(m_);
            items_.push_back(std::move(v));
        }
        cv_.notify_all();
    }
    T pop() {
        std::unique_lock<std::mutex> lock(m_);
        if (!cv_.wait_for(lock, never, [&] { return !items_.empty(); })) {
            FAIL("nothing came within 60 s");
        }
        T v = std::move(items_.front());
        items_.pop_front();
        return v;
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<T> items_;
};

template <class F>
ipc_result error_code(F&& f) {
    try {
        f();
    } catch (const ipc::Error& e) {
        return e.code();
    }
    return IPC_OK;
}

}  // namespace

TEST_CASE(layer2_typed_messages_between_two_threads) {
    auto segment = ipc::Segment::create({4096, 4096});
    auto to_peer = segment.writer(0);
    auto from_peer = segment.reader(1);
    auto peer_in = segment.reader(0);
    auto peer_out = segment.writer(1);
    std::thread peer([&] {
        for (;;) {
            ipc_result r = peer_in.recv_with(
                [&](const ipc::Header& h, ipc::Decoder& d) { return wire::echo(d, peer_out, h); });
            if (r != IPC_OK) {
                CHECK_EQ(r, IPC_CLOSED);
                return;
            }
        }
    });
    auto all = wire::vectors();
    std::thread sender([&] {
        for (const auto& v : all) {
            v.send(to_peer);
        }
    });
    for (const auto& v : all) {
        // The echo comes back flagged as a reply: compare its payload.
        std::vector<uint8_t> want = v.encode();
        std::vector<uint8_t> got;
        ipc::Header h{};
        ipc_result r = from_peer.recv_with(
            [&](const ipc::Header& header, ipc::Decoder& d) {
                h = header;
                got.resize(d.remaining());
                return d.read(got.data(), got.size());
            },
            never);
        CHECK_EQ(r, IPC_OK);
        CHECK_EQ(h.id, v.id);
        CHECK_EQ(h.flags, ipc::flag_reply);
        std::string why;
        if (v.name.find("~unordered") == std::string::npos) {
            CHECK(got == want);
        }
        CHECK(v.matches(got, why));
    }
    sender.join();
    to_peer = ipc::Writer();  // closes channel 0: the peer sees the end
    peer.join();
    // A message of another type is refused as such, and skipped.
    to_peer = ipc::Writer();
    auto s2 = ipc::Segment::create({4096});
    auto w = s2.writer(0);
    auto r = s2.reader(0);
    w.send(wire::NoteOn{1, 2, 3.0f});
    w.send(wire::Newtype{8});
    wire::Newtype n{};
    CHECK_EQ(r.recv(std::nothrow, n), IPC_UNEXPECTED_ID);
    CHECK_EQ(r.recv<wire::Newtype>(never).message.value, uint64_t{8});
    CHECK_EQ(error_code([&] { r.recv<wire::Newtype>(std::chrono::milliseconds(0)); }), IPC_TIMEOUT);
}

TEST_CASE(layer2_typed_messages_between_two_processes) {
    auto segment = ipc::Segment::create({64 * 1024, 64 * 1024});
    harness::Child child({"--segment-peer", segment.connection_string()});
    {
        auto to_peer = segment.writer(0);
        auto from_peer = segment.reader(1);
        auto all = wire::vectors();
        for (const auto& v : all) {
            v.send(to_peer);
            std::vector<uint8_t> got;
            ipc::Header h{};
            ipc_result r = from_peer.recv_with(
                [&](const ipc::Header& header, ipc::Decoder& d) {
                    h = header;
                    got.resize(d.remaining());
                    return d.read(got.data(), got.size());
                },
                never);
            CHECK_EQ(r, IPC_OK);
            CHECK_EQ(h.id, v.id);
            CHECK_EQ(h.correlation, uint32_t{7});
            std::string why;
            if (!v.matches(got, why)) {
                FAIL(v.name + " from the other process: " + why);
            }
        }
    }
    // Our writer went with its scope: the peer drains, sees the end, exits.
    CHECK_EQ(child.wait(), 0);
}

TEST_CASE(layer3_host_and_plugin_talk_both_ways) {
    Inbox<proto::Note> notes;
    Inbox<proto::Answer> answers;
    Inbox<ipc::Result<proto::Pong>> replies;
    std::atomic<int> pings_from_plugin{0};
    ipc::Config config;
    config.main_capacity = 64 * 1024;
    ipc::Host host = ipc::Host::spawn(harness::self_path(), {"--plugin"}, config, [&](ipc::MainLink link) {
        link.on<proto::Note>([&](const proto::Note& n) { notes.push(n); });
        link.on<proto::Answer>([&](const proto::Answer& a, ipc::Incoming& in) {
            CHECK(!in.is_request());
            answers.push(a);
        });
        link.on_request<proto::Ping, proto::Pong>([&](const proto::Ping& p, ipc::Incoming&) {
            ++pings_from_plugin;
            return proto::Pong{p.n + 1, p.text + " from the host"};
        });
    });
    CHECK(host.plugin_pid() != 0);
    ipc::MainLink link = host.main_link();
    CHECK(link.is_connected());

    // A blocking request.
    auto pong = link.request_timeout<proto::Pong>(proto::Ping{41, "hi"}, never);
    CHECK_EQ(pong.n, uint32_t{42});
    CHECK_EQ(pong.text, std::string("hi from the plugin"));
    // Its non-throwing form.
    auto tried = link.request_timeout<proto::Pong>(std::nothrow, proto::Ping{1, ""}, never);
    CHECK(tried.ok());
    CHECK_EQ(tried->n, uint32_t{2});

    // An asynchronous one: the reply callback runs on the listener thread.
    link.request<proto::Pong>(proto::Ping{9, "async"}, [&](ipc::Result<proto::Pong> r) { replies.push(std::move(r)); });
    auto async = replies.pop();
    CHECK(async.ok());
    CHECK_EQ(async.value().n, uint32_t{10});

    // A handler that throws: an error reply with its text.
    try {
        link.request_timeout<proto::Pong>(proto::Fail{"no such preset"}, never);
        FAIL("a throwing handler answered");
    } catch (const ipc::Error& e) {
        CHECK_EQ(e.code(), IPC_REMOTE);
        CHECK(std::string(e.what()).find("no such preset") != std::string::npos);
    }
    link.request<proto::Pong>(proto::Fail{"async failure"}, [&](ipc::Result<proto::Pong> r) { replies.push(std::move(r)); });
    CHECK_EQ(replies.pop().code(), IPC_REMOTE);

    // A reply of another type than expected is refused as such.
    CHECK_EQ(error_code([&] { link.request_timeout<proto::Note>(proto::Ping{1, ""}, never); }), IPC_UNEXPECTED_ID);
    link.request<proto::Note>(proto::Ping{1, ""}, [&](ipc::Result<proto::Note> r) {
        replies.push(ipc::Result<proto::Pong>(r.code()));
    });
    CHECK_EQ(replies.pop().code(), IPC_UNEXPECTED_ID);
    // A request nobody handles.
    CHECK_EQ(error_code([&] { link.request_timeout<proto::Pong>(proto::Answer{1, true}, never); }), IPC_REMOTE);

    // Plain messages both ways, and a request from the plugin's handler.
    link.send(proto::Note{60, 0.25f});
    auto note = notes.pop();
    CHECK_EQ(int(note.key), 60);
    CHECK_EQ(note.velocity, 0.5f);
    CHECK_EQ(link.send(std::nothrow, proto::Note{61, 1.0f}, std::chrono::seconds(10)), IPC_OK);
    CHECK_EQ(notes.pop().velocity, 2.0f);
    link.send(proto::Ask{5});
    auto answer = answers.pop();
    CHECK_EQ(answer.n, uint32_t{5});
    CHECK(answer.ok);
    CHECK_EQ(pings_from_plugin.load(), 1);

    // Larger than both rings: counted, then streamed, both ways.
    proto::Big big{wire::pattern(3 << 20, 7)};
    auto back = link.request_timeout<proto::Big>(big, never);
    CHECK(back.data == big.data);

    // A second handler for one ID is refused (and the library frees ours).
    CHECK_EQ(error_code([&] { link.on<proto::Note>([](const proto::Note&) {}); }), IPC_HANDLER_EXISTS);
    CHECK(link.remove_handler<proto::Note>());
    CHECK(!link.remove_handler<proto::Note>());

    ipc::Ended ended = host.shutdown(never);
    CHECK(!ended.killed);
    CHECK(ended.success);
    CHECK(!host);
}

TEST_CASE(layer3_real_time_calls_with_shared_audio) {
    ipc::Host host = ipc::Host::spawn(harness::self_path(), {"--plugin"});
    ipc::RtCaller rt = host.take_rt();
    CHECK_EQ(error_code([&] { host.take_rt(); }), IPC_TAKEN);
    // Without audio the plugin's handler gets none.
    auto first = rt.call<proto::Processed>(proto::Process{1.0f, 0}, never);
    CHECK(!first.had_audio);
    CHECK(!rt.audio());

    rt.attach_audio(2, 2, 64, never);
    ipc::Audio audio = rt.audio();
    CHECK(static_cast<bool>(audio));
    CHECK_EQ(audio.inputs(), size_t{2});
    CHECK_EQ(audio.outputs(), size_t{2});
    CHECK_EQ(audio.frames(), size_t{64});
    CHECK(audio.input(2).empty());
    double expected = 0;
    for (size_t c = 0; c < 2; ++c) {
        auto in = audio.input(c);
        for (size_t i = 0; i < in.size(); ++i) {
            in[i] = static_cast<float>(c + 1) * static_cast<float>(i) / 64.0f;
            expected += in[i] * 0.5f;
        }
    }
    // The audio thread's form: no exception, no allocation of its own.
    proto::Processed out{};
    ipc_result r;
    {
        harness::CountAllocations count;
        r = rt.call(std::nothrow, proto::Process{0.5f, 1}, out, never);
        CHECK_EQ(count.stats().count, size_t{0});
    }
    CHECK_EQ(r, IPC_OK);
    // No allocation on either side, C++ or Rust, from one call to the next:
    // the host counts its thread's mallocs, the plugin its serving
    // thread's (each reply says how many it had made so far).
    CHECK(harness::CountMallocs::supported());
    {
        // The counters count: here, and in the plugin, where attaching the
        // buffers (on its serving thread) allocated.
        harness::CountMallocs count;
        void* volatile p = std::malloc(16);
        std::free(p);
        int* volatile q = new int(1);
        delete q;
        CHECK(count.count() >= 2);
        CHECK(out.allocations > first.allocations);
    }
    {
        const uint64_t plugin_before = out.allocations;
        proto::Processed again{};
        size_t host_mallocs = 0;
        {
            harness::CountMallocs count;
            for (uint32_t block = 100; block < 200 && r == IPC_OK; ++block) {
                r = rt.call(std::nothrow, proto::Process{0.5f, block}, again, never);
            }
            host_mallocs = count.count();
        }
        CHECK_EQ(r, IPC_OK);
        CHECK_EQ(again.block, uint32_t{199});
        CHECK_EQ(host_mallocs, size_t{0});
        CHECK_EQ(again.allocations, plugin_before);
    }
    CHECK_EQ(out.block, uint32_t{1});
    CHECK(out.had_audio);
    CHECK(out.sum > expected - 1e-3 && out.sum < expected + 1e-3);
    for (size_t c = 0; c < 2; ++c) {
        auto in = audio.input(c);
        auto o = audio.output(c);
        for (size_t i = 0; i < o.size(); ++i) {
            CHECK_EQ(o[i], in[i] * 0.5f);
        }
    }
    // A handler that throws: the call fails, the next one works.
    CHECK_EQ(rt.call(std::nothrow, proto::Process{-1.0f, 2}, out, never), IPC_REMOTE);
    auto again = rt.call<proto::Processed>(std::nothrow, proto::Process{2.0f, 3}, never);
    CHECK(again.ok());
    CHECK_EQ(again->block, uint32_t{3});
    // A reply type the plugin does not send.
    proto::Pong wrong{};
    CHECK(rt.call(std::nothrow, proto::Process{1.0f, 4}, wrong, never) != IPC_OK);
    CHECK_EQ(rt.call<proto::Processed>(proto::Process{1.0f, 5}, never).block, uint32_t{5});

    ipc::Ended ended = host.shutdown(never);
    CHECK(ended.success);
    // The caller outlives the host's shutdown: its calls report the end.
    CHECK(rt.call(std::nothrow, proto::Process{1.0f, 6}, out, std::chrono::seconds(5)) != IPC_OK);
}

TEST_CASE(layer3_setup_exceptions_and_spawn_failures_reach_the_caller) {
    try {
        ipc::Host::spawn(harness::self_path(), {"--plugin"}, ipc::Config(),
                         [](ipc::MainLink) { throw std::logic_error("the setup refused"); });
        FAIL("the spawn went on");
    } catch (const std::logic_error& e) {
        CHECK_EQ(std::string(e.what()), std::string("the setup refused"));
    }
    try {
        ipc::Host::spawn("/nonexistent/ipc-plugin");
        FAIL("a missing program started");
    } catch (const ipc::Error& e) {
        CHECK_EQ(e.code(), IPC_SPAWN);
        CHECK(std::string(e.what()).size() > std::string(ipc::result_str(IPC_SPAWN)).size());
    }
    // Errors of the C interface keep their own text.
    CHECK_EQ(error_code([] { ipc::Segment::open("not-a-connection-string"); }), IPC_INVALID_ARGUMENT);
}

TEST_CASE(layer3_a_reply_that_stops_partway_times_out_the_request) {
    // A lying plugin (ipc-hostile-peer of crates/ipc-test-support) answers
    // the first request with an envelope announcing 100 bytes, sends 3 and
    // goes silent. The listener waits for the rest within the payload
    // timeout (60 s here); each request returns at its own timeout, and
    // the decoder, which writes into this frame, never runs after it
    // returned (the sanitizer build would see it).
    ipc::Config config;
    config.limits.payload_timeout = std::chrono::seconds(60);
    ipc::Host host = ipc::Host::spawn(harness::hostile_peer_path(), {"partial-main-reply"}, config);
    ipc::MainLink link = host.main_link();
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 2; ++i) {
        auto r = link.request_timeout<proto::Pong>(std::nothrow, proto::Ping{1, "x"}, std::chrono::milliseconds(100));
        CHECK_EQ(r.code(), IPC_TIMEOUT);
    }
    // Not a speed check: only a wait for the payload timeout gets here.
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
}

TEST_CASE(layer2_a_send_that_cannot_get_space_in_time_is_a_timeout) {
    // The message fits in the ring but not in its free space: the first,
    // in-place encoding runs out of room (the library then counts and
    // waits), and the wait ends by the timeout, reported as such.
    auto segment = ipc::Segment::create({1024});
    auto w = segment.writer(0);
    auto r = segment.reader(0);
    w.send(wire::Blobs{{}, std::vector<uint8_t>(700, 1), {}, {}, {}, {}});
    wire::Blobs second{{}, std::vector<uint8_t>(600, 2), {}, {}, {}, {}};
    CHECK_EQ(w.send(std::nothrow, second, 0, 0, std::chrono::milliseconds(20)), IPC_TIMEOUT);
    try {
        w.send(second, 0, 0, std::chrono::milliseconds(0));
        FAIL("a full ring took the message");
    } catch (const ipc::Error& e) {
        CHECK_EQ(e.code(), IPC_TIMEOUT);
    }
    // Nothing of it was written: the first message is next, then the ring
    // takes the second.
    CHECK_EQ(r.recv<wire::Blobs>(never).message.small.size(), size_t{700});
    CHECK_EQ(w.send(std::nothrow, second, 0, 0, never), IPC_OK);
    CHECK_EQ(r.recv<wire::Blobs>(never).message.small.size(), size_t{600});
}
