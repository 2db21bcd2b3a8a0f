//! Links between this test process (the host) and `ipc-link-test-plugin`
//! processes.
//!
//! `IPC_TEST_PLUGIN` may name another build of the plugin (a 32-bit one, to
//! test a 64-bit host against a 32-bit plugin).

use ipc_link::{
    Ended, ErrorKind, HandshakeError, Host, LinkConfig, LinkError, MainLink, Message, RtCaller,
    Waited,
};
use ipc_test_support::link_protocol::*;
use ipc_test_support::process::{program, PipedChild};
use ipc_test_support::NEVER as LONG;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

fn plugin_exe() -> PathBuf {
    program(
        "IPC_TEST_PLUGIN",
        env!("CARGO_BIN_EXE_ipc-link-test-plugin"),
    )
}

fn plugin(role: &str) -> Command {
    let mut c = Command::new(plugin_exe());
    c.arg(role);
    c
}

fn spawn_with(
    role: &str,
    config: &LinkConfig,
    setup: impl FnOnce(&MainLink) -> Result<(), LinkError>,
) -> Host {
    Host::spawn(plugin(role), config, setup).expect("start plugin")
}

fn spawn(role: &str, setup: impl FnOnce(&MainLink) -> Result<(), LinkError>) -> Host {
    spawn_with(role, &LinkConfig::default(), setup)
}

/// Asks the plugin to quit and checks that it exits cleanly by itself.
fn quit(host: Host) {
    let ended = host.shutdown_timeout(LONG).unwrap();
    assert!(ended.is_clean(), "{ended:?}");
}

#[test]
fn messages_from_the_plugin_arrive_while_the_host_is_idle() {
    let (tx, rx) = mpsc::channel();
    let host = spawn("echo", move |link| {
        link.on(move |n: Note, _| tx.send(n.index).unwrap())
    });
    host.main_link().send(&Chatter { count: 1000 }).unwrap();
    // The host does nothing but wait: the listener thread delivers.
    for expected in 0..1000 {
        assert_eq!(rx.recv_timeout(LONG).unwrap(), expected);
    }
    quit(host);
}

#[test]
fn the_connection_string_reaches_the_plugin_through_the_environment_alone() {
    let config = LinkConfig {
        connection_argument: false,
        ..LinkConfig::default()
    };
    let host = spawn_with("echo", &config, |_| Ok(()));
    let Pong(p) = host.main_link().request_timeout(&Ping(3), LONG).unwrap();
    assert_eq!(p, 3);
    quit(host);
}

#[test]
fn concurrent_requests_from_several_threads_get_their_own_replies() {
    let host = spawn("echo", |_| Ok(()));
    let link = host.main_link().clone();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let link = link.clone();
            thread::spawn(move || {
                for i in 0..500u64 {
                    let n = t * 1_000_000 + i;
                    let Pong(m) = link.request_timeout(&Ping(n), LONG).unwrap();
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
    quit(host);
}

#[test]
fn a_handler_that_sends_a_request_back_does_not_deadlock() {
    let host = spawn("echo", |link| link.on_request(|Question(x)| Answer(x * 2)));
    // Host -> plugin request, whose handler asks the host and waits.
    for x in 0..50 {
        let Answer(a) = host.main_link().request_timeout(&AskBack(x), LONG).unwrap();
        assert_eq!(a, 2 * x);
    }
    // And the other way round: a host handler (on the host's listener thread)
    // that waits for a reply from the plugin.
    let (tx, rx) = mpsc::channel();
    let host2 = spawn("echo", move |link| {
        link.on(move |n: Note, incoming| {
            let Pong(p) = incoming
                .link
                .request_timeout(&Ping(u64::from(n.index)), LONG)
                .unwrap();
            tx.send(p).unwrap();
        })
    });
    host2.main_link().send(&Chatter { count: 20 }).unwrap();
    // While a handler waits, the listener keeps dispatching (nested): the
    // later notes' handlers may finish first.
    let mut got: Vec<u64> = (0..20).map(|_| rx.recv_timeout(LONG).unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, (0..20).collect::<Vec<_>>());
    quit(host);
    quit(host2);
}

#[test]
fn a_million_small_messages_each_way_at_once_arrive_complete_and_in_order() {
    const N: u64 = 1_000_000;
    let received = Arc::new(AtomicU64::new(0));
    let in_order = Arc::new(AtomicBool::new(true));
    let (r, o) = (received.clone(), in_order.clone());
    let (done_tx, done_rx) = mpsc::channel();
    let host = spawn("echo", move |link| {
        link.on(move |Tick(i), _| {
            let seen = r.fetch_add(1, Ordering::Relaxed);
            if seen != i {
                o.store(false, Ordering::Relaxed);
            }
            if seen + 1 == N {
                done_tx.send(()).unwrap();
            }
        })
    });
    host.main_link().send(&StartTicks(N)).unwrap();
    for i in 0..N {
        host.main_link().send(&Tick(i)).unwrap();
    }
    done_rx.recv_timeout(LONG).expect("all plugin ticks arrive");
    assert_eq!(received.load(Ordering::Relaxed), N);
    assert!(in_order.load(Ordering::Relaxed), "plugin -> host order");
    let report: Ticks = host.main_link().request_timeout(&TickReport, LONG).unwrap();
    assert_eq!(
        report,
        Ticks {
            received: N,
            in_order: true
        },
        "host -> plugin"
    );
    quit(host);
}

#[test]
fn unknown_messages_go_to_the_fallback_and_the_link_carries_on() {
    let host = spawn("echo", |_| Ok(()));
    for i in 0..5 {
        host.main_link().send(&Nobody(i)).unwrap();
    }
    let Pong(p) = host.main_link().request_timeout(&Ping(7), LONG).unwrap();
    assert_eq!(p, 7);
    // A request nobody handles is answered at once with that error (and
    // reaches the fallback too).
    match host
        .main_link()
        .request_timeout::<_, Pong>(&Nobody(5), LONG)
    {
        Err(LinkError::Remote {
            kind: ErrorKind::NoHandler,
            message,
        }) => assert!(message.contains("message 14"), "{message}"),
        other => panic!("expected NoHandler from the plugin, got {other:?}"),
    }
    let c: CounterValues = host.main_link().request_timeout(&Counters, LONG).unwrap();
    assert_eq!(c.unknown, 6);
    quit(host);
}

#[test]
fn a_second_handler_for_one_id_is_refused_and_the_first_stays() {
    let (tx, rx) = mpsc::channel();
    let refused = Arc::new(std::sync::Mutex::new(None));
    let r = refused.clone();
    let host = spawn("echo", move |link| {
        link.on(move |n: Note, _| tx.send(n.index).unwrap())?;
        *r.lock().unwrap() = Some(link.on(|_: Note, _| panic!("the second handler ran")));
        Ok(())
    });
    match refused.lock().unwrap().take() {
        Some(Err(LinkError::HandlerExists { id })) => assert_eq!(id, Note::ID),
        other => panic!("expected HandlerExists, got {other:?}"),
    }
    host.main_link().send(&Chatter { count: 3 }).unwrap();
    for expected in 0..3 {
        assert_eq!(rx.recv_timeout(LONG).unwrap(), expected);
    }
    // A setup that fails stops the plugin, and the host reports why.
    match Host::spawn(plugin("echo"), &LinkConfig::default(), |link| {
        link.on(|_: Ping, _| {})?;
        link.on(|_: Ping, _| {})
    }) {
        Err(LinkError::HandlerExists { id }) => assert_eq!(id, Ping::ID),
        other => panic!("expected HandlerExists from setup, got {other:?}"),
    }
    quit(host);
}

/// Claims the ID of `Ping` (a `u64`) with another shape.
#[derive(serde::Serialize)]
struct NotAPing {
    text: String,
    bytes: Vec<u8>,
}
ipc_link::message!(NotAPing = 1);

#[test]
fn a_malformed_request_gets_an_error_reply_and_the_link_carries_on() {
    let host = spawn("echo", |_| Ok(()));
    let bad = NotAPing {
        text: "not a number".into(),
        bytes: vec![1, 2, 3],
    };
    for _ in 0..3 {
        match host.main_link().request_timeout::<_, Pong>(&bad, LONG) {
            Err(LinkError::Remote {
                kind: ErrorKind::Malformed,
                message,
            }) => assert!(message.contains("message 1"), "{message}"),
            other => panic!("expected the plugin's error reply, got {other:?}"),
        }
    }
    let Pong(p) = host.main_link().request_timeout(&Ping(9), LONG).unwrap();
    assert_eq!(p, 9);
    quit(host);
}

#[test]
fn a_reply_or_a_real_time_request_of_another_type_is_refused_by_its_id() {
    let mut host = spawn("echo", |_| Ok(()));
    // The plugin answers a Ping with a Pong, never taken for a Ticks.
    match host.main_link().request_timeout::<_, Ticks>(&Ping(1), LONG) {
        Err(LinkError::UnexpectedId { expected, got }) => {
            assert_eq!((expected, got), (Ticks::ID, Pong::ID));
        }
        other => panic!("expected UnexpectedId, got {other:?}"),
    }
    let mut rt = host.take_rt().unwrap();
    // The real-time reply is an RtReply, never taken for a Pong...
    match rt.call_timeout::<_, Pong>(
        &RtRequest::Process {
            frame: 1,
            gain: 1.0,
        },
        LONG,
    ) {
        Err(LinkError::UnexpectedId { expected, got }) => {
            assert_eq!((expected, got), (Pong::ID, RtReply::ID));
        }
        other => panic!("expected UnexpectedId, got {other:?}"),
    }
    // ...and the plugin serves RtRequests only: it answers anything else
    // with an error, and goes on serving.
    match rt.call_timeout::<_, RtReply>(&Ping(2), LONG) {
        Err(LinkError::Remote {
            kind: ErrorKind::UnexpectedId,
            ..
        }) => {}
        other => panic!("expected the plugin's UnexpectedId, got {other:?}"),
    }
    assert_eq!(process(&mut rt, 3, 1.0).frame, 3);
    quit(host);
}

fn process(rt: &mut RtCaller, frame: u64, gain: f32) -> RtReply {
    rt.call_timeout(&RtRequest::Process { frame, gain }, LONG)
        .unwrap()
}

#[test]
fn the_real_time_call_returns_the_right_audio() {
    let mut host = spawn("echo", |_| Ok(()));
    let mut rt = host.take_rt().unwrap();
    assert!(host.take_rt().is_none(), "taken once");
    assert!(rt.audio().is_none());
    assert_eq!(process(&mut rt, 0, 1.0).outputs, 0, "no buffers yet");
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
    assert!(matches!(
        rt.attach_audio(0, 0, 64, LONG),
        Err(LinkError::InvalidArgument(_))
    ));
    quit(host);
}

#[test]
fn a_plugin_that_stops_answering_times_out_and_the_next_call_succeeds() {
    let mut host = spawn("echo", |_| Ok(()));
    let mut rt = host.take_rt().unwrap();
    rt.attach_audio(1, 1, 32, LONG).unwrap();
    assert_eq!(process(&mut rt, 1, 1.0).frame, 1);
    match rt.call_timeout::<_, RtReply>(
        &RtRequest::Stall {
            frame: 2,
            millis: 300,
        },
        Duration::from_millis(20),
    ) {
        Err(LinkError::Timeout(Waited::Reply)) => {}
        other => panic!("expected a timeout waiting for the reply, got {other:?}"),
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
    quit(host);
}

#[test]
fn a_killed_plugin_is_reported_on_both_links() {
    let mut host = spawn("echo", |_| Ok(()));
    let mut rt = host.take_rt().unwrap();
    let main = host.main_link().clone();
    // Kill it (SIGKILL; TerminateProcess on Windows) while the host waits in
    // a real-time call the plugin would take a minute to answer. The `Host`
    // comes back: dropping it would close the links, which the calls below
    // would then report instead of the death.
    let killer = thread::spawn(move || {
        let status = host.kill().unwrap();
        (host, status)
    });
    let started = Instant::now();
    match rt.call_timeout::<_, RtReply>(
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
    let (host, status) = killer.join().unwrap();
    assert!(!status.success());
    match main.wait_disconnected_timeout(LONG) {
        Ok(LinkError::PeerDied) => {}
        other => panic!("the main link must report the death, got {other:?}"),
    }
    assert!(!main.is_connected());
    assert!(matches!(main.wait_disconnected(), LinkError::PeerDied));
    assert!(matches!(main.send(&Ping(1)), Err(LinkError::PeerDied)));
    assert!(matches!(
        main.request_timeout::<_, Pong>(&Ping(1), LONG),
        Err(LinkError::PeerDied)
    ));
    assert!(matches!(
        rt.call_timeout::<_, RtReply>(
            &RtRequest::Process {
                frame: 1,
                gain: 1.0
            },
            LONG
        ),
        Err(LinkError::PeerDied)
    ));
    drop(host);
}

#[test]
fn a_killed_host_is_reported_to_the_plugin_which_exits() {
    let exe = plugin_exe();
    let mut host = PipedChild::spawn(&exe, [std::ffi::OsStr::new("host"), exe.as_os_str()]);
    let line = host.line();
    assert!(line.starts_with("host: ready"), "{line:?}");
    host.kill();
    // The plugin inherited the host's stdout: its last words come through.
    let line = host.line();
    assert!(line.starts_with("plugin: host gone"), "{line:?}");
    // ...and then it exits, closing the pipe.
    assert!(host.output_ends(), "the plugin must exit");
}

#[test]
fn a_handshake_mismatch_is_a_clear_error() {
    match Host::spawn(plugin("bad-hello"), &LinkConfig::default(), |_| Ok(())) {
        Err(LinkError::Handshake(e @ HandshakeError::Version { plugin: 999, .. })) => {
            let text = e.to_string();
            assert!(
                text.contains("protocol 999")
                    && text.contains(&format!(
                        "host speaks {}",
                        ipc_link::protocol::PROTOCOL_VERSION
                    )),
                "{text}"
            );
        }
        other => panic!("expected a handshake error, got {other:?}"),
    }
    // A program that cannot start.
    match Host::spawn(
        Command::new("/nonexistent/plugin"),
        &LinkConfig::default(),
        |_| Ok(()),
    ) {
        Err(LinkError::Spawn { program, error }) => {
            assert_eq!(program, "/nonexistent/plugin");
            assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected a spawn error, got {other:?}"),
    }
    // A program that starts but never connects (it fails to start a plugin
    // of its own and exits).
    let config = LinkConfig {
        connect_timeout: Duration::from_millis(200),
        ..LinkConfig::default()
    };
    let mut silent = Command::new(plugin_exe());
    silent.args(["host", "/nonexistent/plugin"]);
    match Host::spawn(silent, &config, |_| Ok(())) {
        Err(LinkError::PluginExited(status)) => assert!(!status.success(), "{status}"),
        Err(LinkError::Timeout(Waited::Connect)) => {}
        other => panic!("expected the plugin to exit or time out, got {other:?}"),
    }
}

#[test]
fn shutdown_asks_then_kills_a_plugin_that_does_not_quit() {
    let host = spawn("echo", |_| Ok(()));
    match host.shutdown_timeout(LONG).unwrap() {
        ended @ Ended::Exited(status) => {
            assert!(status.success() && ended.is_clean(), "{ended:?}");
        }
        other => panic!("an obedient plugin exits by itself, got {other:?}"),
    }
    let host = spawn("ignore-quit", |_| Ok(()));
    match host.shutdown_timeout(Duration::from_millis(200)).unwrap() {
        ended @ Ended::Killed(status) => {
            assert!(!status.success() && !ended.is_clean(), "{ended:?}");
            assert_eq!(ended.status(), status);
        }
        other => panic!("a plugin that ignores Quit is killed, got {other:?}"),
    }
}
