//! Links between this test process (the host) and `ipc-link-test-plugin`
//! processes.
#![cfg(not(miri))]

#[path = "../src/bin/ipc-link-test-plugin/messages.rs"]
#[allow(dead_code)]
mod messages;

use ipc_link::{Host, LinkConfig, LinkError};
use messages::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);
/// The plugin program; `IPC_TEST_PLUGIN` may name another build of it (a
/// 32-bit one, to test a 64-bit host against a 32-bit plugin).
fn plugin_exe() -> String {
    std::env::var("IPC_TEST_PLUGIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_ipc-link-test-plugin").to_owned())
}

fn plugin(role: &str) -> Command {
    let mut c = Command::new(plugin_exe());
    c.arg(role);
    c
}

fn spawn(role: &str, setup: impl FnOnce(&ipc_link::MainLink)) -> Host {
    Host::spawn(plugin(role), &LinkConfig::default(), setup).expect("start plugin")
}

#[test]
fn messages_from_the_plugin_arrive_while_the_host_is_idle() {
    let (tx, rx) = mpsc::channel();
    let host = spawn("echo", move |link| {
        let tx = parking_lot::Mutex::new(tx);
        link.on(move |n: Note, _| tx.lock().send(n.index).unwrap());
    });
    host.main().send(&Chatter { count: 1000 }).unwrap();
    // The host does nothing but wait: the listener thread delivers.
    for expected in 0..1000 {
        assert_eq!(rx.recv_timeout(LONG).unwrap(), expected);
    }
    assert!(host.shutdown(LONG).unwrap().success());
}

#[test]
fn concurrent_requests_from_several_threads_get_their_own_replies() {
    let host = spawn("echo", |_| {});
    let link = host.main().clone();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let link = link.clone();
            thread::spawn(move || {
                for i in 0..500u64 {
                    let n = t * 1_000_000 + i;
                    let Pong(m) = link.request_blocking(&Ping(n), LONG).unwrap();
                    assert_eq!(m, n, "thread {t} got someone else's reply");
                }
            })
        })
        .collect();
    // And with reply callbacks.
    let (tx, rx) = mpsc::channel();
    for n in 0..100u64 {
        let tx = tx.clone();
        link.request(&Ping(n), move |r: Result<Pong, LinkError>| {
            tx.send((n, r.unwrap().0)).unwrap()
        })
        .unwrap();
    }
    for _ in 0..100 {
        let (asked, got) = rx.recv_timeout(LONG).unwrap();
        assert_eq!(asked, got);
    }
    for t in threads {
        t.join().unwrap();
    }
    assert!(host.shutdown(LONG).unwrap().success());
}

#[test]
fn a_handler_that_sends_a_request_back_does_not_deadlock() {
    let host = spawn("echo", |link| link.on_request(|Question(x)| Answer(x * 2)));
    // Host -> plugin request, whose handler asks the host and waits.
    for x in 0..50 {
        let Answer(a) = host.main().request_blocking(&AskBack(x), LONG).unwrap();
        assert_eq!(a, 2 * x);
    }
    // And the other way round: a host handler (on the host's listener thread)
    // that waits for a reply from the plugin.
    let (tx, rx) = mpsc::channel();
    let host2 = spawn("echo", move |link| {
        let tx = parking_lot::Mutex::new(tx);
        link.on(move |n: Note, incoming| {
            let Pong(p) = incoming
                .link
                .request_blocking(&Ping(u64::from(n.index)), LONG)
                .unwrap();
            tx.lock().send(p).unwrap();
        });
    });
    host2.main().send(&Chatter { count: 20 }).unwrap();
    // While a handler waits, the listener keeps dispatching (nested): the
    // later notes' handlers may finish first.
    let mut got: Vec<u64> = (0..20).map(|_| rx.recv_timeout(LONG).unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (0..20).collect::<Vec<_>>());
    assert!(host.shutdown(LONG).unwrap().success());
    assert!(host2.shutdown(LONG).unwrap().success());
}

#[test]
fn a_million_small_messages_each_way_at_once_arrive_complete_and_in_order() {
    const N: u64 = 1_000_000;
    let received = Arc::new(AtomicU64::new(0));
    let in_order = Arc::new(AtomicBool::new(true));
    let (r, o) = (received.clone(), in_order.clone());
    let (done_tx, done_rx) = mpsc::channel();
    let host = spawn("echo", move |link| {
        let done = parking_lot::Mutex::new(done_tx);
        link.on(move |Tick(i), _| {
            let seen = r.fetch_add(1, Ordering::Relaxed);
            if seen != i {
                o.store(false, Ordering::Relaxed);
            }
            if seen + 1 == N {
                done.lock().send(()).unwrap();
            }
        });
    });
    host.main().send(&StartTicks(N)).unwrap();
    for i in 0..N {
        host.main().send(&Tick(i)).unwrap();
    }
    done_rx.recv_timeout(LONG).expect("all plugin ticks arrive");
    assert_eq!(received.load(Ordering::Relaxed), N);
    assert!(in_order.load(Ordering::Relaxed), "plugin -> host order");
    let report: Ticks = host.main().request_blocking(&TickReport, LONG).unwrap();
    assert_eq!(
        report,
        Ticks {
            received: N,
            in_order: true
        },
        "host -> plugin"
    );
    assert!(host.shutdown(LONG).unwrap().success());
}

#[test]
fn unknown_messages_go_to_the_fallback_and_the_link_carries_on() {
    let host = spawn("echo", |_| {});
    for i in 0..5 {
        host.main().send(&Nobody(i)).unwrap();
    }
    let Pong(p) = host.main().request_blocking(&Ping(7), LONG).unwrap();
    assert_eq!(p, 7);
    let c: CounterValues = host.main().request_blocking(&Counters, LONG).unwrap();
    assert_eq!(c.unknown, 5);
    assert!(host.shutdown(LONG).unwrap().success());
}

/// Claims the ID of `Ping` (a `u64`) with another shape.
#[derive(serde::Serialize)]
struct NotAPing {
    text: String,
    bytes: Vec<u8>,
}
ipc_msgpack::message!(NotAPing = 1);

#[test]
fn a_malformed_request_gets_an_error_reply_and_the_link_carries_on() {
    let host = spawn("echo", |_| {});
    let bad = NotAPing {
        text: "not a number".into(),
        bytes: vec![1, 2, 3],
    };
    for _ in 0..3 {
        match host.main().request_blocking::<_, Pong>(&bad, LONG) {
            Err(LinkError::Remote(text)) => assert!(text.contains("message 1"), "{text}"),
            other => panic!("expected the plugin's error reply, got {other:?}"),
        }
    }
    let Pong(p) = host.main().request_blocking(&Ping(9), LONG).unwrap();
    assert_eq!(p, 9);
    assert!(host.shutdown(LONG).unwrap().success());
}

fn process(rt: &mut ipc_link::RtCaller, frame: u64, gain: f32) -> RtReply {
    rt.call(&RtRequest::Process { frame, gain }, LONG).unwrap()
}

#[test]
fn the_real_time_call_returns_the_right_audio() {
    let mut host = spawn("echo", |_| {});
    let mut rt = host.take_rt().unwrap();
    for (inputs, outputs, frames) in [(2, 2, 256), (1, 3, 128), (0, 1, 64)] {
        rt.attach_audio(inputs, outputs, frames, LONG).unwrap();
        for frame in 0..50u64 {
            let audio = rt.audio_mut().unwrap();
            for c in 0..inputs {
                for (i, x) in audio.input_mut(c).iter_mut().enumerate() {
                    *x = (c * 1000 + i) as f32 + frame as f32 * 0.5;
                }
            }
            let reply = process(&mut rt, frame, 0.5);
            assert_eq!(
                reply,
                RtReply {
                    frame,
                    outputs: outputs as u32
                }
            );
            let audio = rt.audio().unwrap();
            for c in 0..outputs {
                for i in 0..frames {
                    let x = if inputs > 0 {
                        ((c % inputs) * 1000 + i) as f32 + frame as f32 * 0.5
                    } else {
                        0.0
                    };
                    assert_eq!(
                        audio.output(c)[i],
                        x * 0.5 + frame as f32,
                        "channel {c} frame {i}"
                    );
                }
            }
        }
    }
    assert!(host.shutdown(LONG).unwrap().success());
}

#[test]
fn a_plugin_that_stops_answering_times_out_and_the_next_call_succeeds() {
    let mut host = spawn("echo", |_| {});
    let mut rt = host.take_rt().unwrap();
    rt.attach_audio(1, 1, 32, LONG).unwrap();
    assert_eq!(process(&mut rt, 1, 1.0).frame, 1);
    match rt.call::<_, RtReply>(
        &RtRequest::Stall {
            frame: 2,
            millis: 300,
        },
        Duration::from_millis(20),
    ) {
        Err(LinkError::Timeout) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    // The plugin answers again: the late reply to frame 2 is discarded, never
    // taken for frame 3's.
    assert_eq!(
        process(&mut rt, 3, 1.0),
        RtReply {
            frame: 3,
            outputs: 1
        }
    );
    assert_eq!(
        process(&mut rt, 4, 1.0),
        RtReply {
            frame: 4,
            outputs: 1
        }
    );
    assert!(host.shutdown(LONG).unwrap().success());
}

#[test]
fn a_killed_plugin_is_reported_on_both_links() {
    let mut host = spawn("echo", |_| {});
    let mut rt = host.take_rt().unwrap();
    let main = host.main().clone();
    // Kill it (SIGKILL; TerminateProcess on Windows) while the host waits in
    // a real-time call the plugin would take a minute to answer.
    let killer = thread::spawn(move || host.kill().unwrap());
    let started = Instant::now();
    match rt.call::<_, RtReply>(
        &RtRequest::Stall {
            frame: 0,
            millis: 60_000,
        },
        LONG,
    ) {
        Err(LinkError::PeerDied) => {}
        other => panic!("expected PeerDied, got {other:?}"),
    }
    assert!(started.elapsed() < LONG);
    assert!(!killer.join().unwrap().success());
    match main.wait_disconnected(LONG) {
        Some(LinkError::PeerDied) => {}
        other => panic!("the main link must report the death, got {other:?}"),
    }
    assert!(matches!(main.send(&Ping(1)), Err(LinkError::PeerDied)));
    assert!(matches!(
        rt.call::<_, RtReply>(
            &RtRequest::Process {
                frame: 1,
                gain: 1.0
            },
            LONG
        ),
        Err(LinkError::PeerDied)
    ));
}

#[test]
fn a_killed_host_is_reported_to_the_plugin_which_exits() {
    let exe = plugin_exe();
    let mut host = Command::new(&exe)
        .args(["host", &exe])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(host.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("host: ready"), "{line}");
    host.kill().unwrap();
    host.wait().unwrap();
    // The plugin inherited the host's stdout: its last words come through.
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("plugin: host gone"), "{line:?}");
    // ...and then it exits, closing the pipe.
    line.clear();
    assert_eq!(out.read_line(&mut line).unwrap(), 0, "the plugin must exit");
}

#[test]
fn a_handshake_mismatch_is_a_clear_error() {
    match Host::spawn(plugin("bad-hello"), &LinkConfig::default(), |_| {}) {
        Err(LinkError::Handshake(reason)) => {
            assert!(
                reason.contains("protocol 999") && reason.contains("host speaks 1"),
                "{reason}"
            )
        }
        other => panic!("expected a handshake error, got {other:?}"),
    }
    // A program that never connects.
    let config = LinkConfig {
        connect_timeout: Duration::from_millis(200),
        ..LinkConfig::default()
    };
    let mut silent = Command::new(plugin_exe());
    silent.args(["host", "/nonexistent/plugin"]);
    match Host::spawn(silent, &config, |_| {}) {
        Err(LinkError::Spawn(reason)) => assert!(
            reason.contains("exited") || reason.contains("did not connect"),
            "{reason}"
        ),
        other => panic!("expected a spawn error, got {other:?}"),
    }
}

#[test]
fn shutdown_asks_then_kills_a_plugin_that_does_not_quit() {
    let host = spawn("echo", |_| {});
    assert!(
        host.shutdown(LONG).unwrap().success(),
        "an obedient plugin exits by itself"
    );
    let host = spawn("ignore-quit", |_| {});
    let status = host.shutdown(Duration::from_millis(200)).unwrap();
    assert!(!status.success(), "a plugin that ignores Quit is killed");
}
