//! How a link begins and ends, and what panics do to it: a clean exit is
//! `Closed`, a `Quit` ends the plugin's real-time serving loop, a shutdown
//! works while the audio thread is in a call, a panicking handler is
//! answered and reported while the link carries on, a request nobody
//! handles fails at once on either side.

use ipc_link::{protocol, Ended, ErrorKind, Host, LinkConfig, LinkError, MainLink, Waited};
use ipc_test_support::link_protocol::*;
use ipc_test_support::process::program;
use ipc_test_support::NEVER;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

fn plugin(role: &str) -> Command {
    let mut c = Command::new(program(
        "IPC_TEST_PLUGIN",
        env!("CARGO_BIN_EXE_ipc-link-test-plugin"),
    ));
    c.arg(role);
    c
}

/// A file the plugin's standard output goes to (read after it exited).
fn output_file(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "ipc-lifecycle-{}-{tag}-{}.log",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

fn spawn_logged(
    role: &str,
    log: &PathBuf,
    setup: impl FnOnce(&MainLink) -> Result<(), LinkError>,
) -> Host {
    let mut cmd = plugin(role);
    cmd.stdout(std::fs::File::create(log).unwrap());
    Host::spawn(cmd, &LinkConfig::default(), setup).expect("start plugin")
}

fn read_log(log: &PathBuf) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let _ = std::fs::remove_file(log);
    text
}

fn process(rt: &mut ipc_link::RtCaller, frame: u64) -> Result<RtReply, LinkError> {
    rt.call_timeout(&RtRequest::Process { frame, gain: 1.0 }, NEVER)
}

#[test]
fn a_plugin_that_returns_from_main_is_reported_as_closed_not_as_dead() {
    let (tx, rx) = mpsc::channel();
    let mut host = Host::spawn(plugin("brief"), &LinkConfig::default(), move |link| {
        link.on_disconnect(move |e| tx.send(e.clone()).unwrap());
        Ok(())
    })
    .unwrap();
    let mut rt = host.take_rt().unwrap();
    let Pong(n) = host.main_link().request_timeout(&Ping(3), NEVER).unwrap();
    assert_eq!(n, 3);
    // The plugin drops its `Plugin` and exits: its ends close first.
    let seen = rx.recv_timeout(NEVER).expect("the disconnect hook runs");
    assert!(matches!(seen, LinkError::Closed), "the hook saw {seen:?}");
    let why = host.main_link().wait_disconnected_timeout(NEVER).unwrap();
    assert!(matches!(why, LinkError::Closed), "{why:?}");
    assert!(matches!(process(&mut rt, 1), Err(LinkError::Closed)));
    let ended = host.shutdown_timeout(NEVER).unwrap();
    assert!(
        matches!(ended, Ended::Exited(s) if s.success()),
        "{ended:?}"
    );
}

#[test]
fn quit_ends_the_serving_loop_of_a_plugin_that_joins_its_real_time_thread() {
    let log = output_file("joiner");
    let (tx, probed) = mpsc::channel();
    let mut host = spawn_logged("joiner", &log, move |link| {
        link.on(move |n: Note, _| tx.send(n.index).unwrap())
    });
    // The plugin tries its serving timeouts before any call can come.
    assert_eq!(probed.recv_timeout(NEVER).unwrap(), u32::MAX);
    let mut rt = host.take_rt().unwrap();
    rt.attach_audio(1, 1, 64, NEVER).unwrap();
    for frame in 0..10 {
        assert_eq!(process(&mut rt, frame).unwrap().frame, frame);
    }
    // The audio thread (here, this one) still holds its end of the link.
    let ended = host.shutdown_timeout(NEVER).unwrap();
    assert!(ended.is_clean(), "the plugin had to be killed: {ended:?}");
    assert!(matches!(process(&mut rt, 11), Err(LinkError::Closed)));
    let said = read_log(&log);
    assert!(
        said.contains("real-time serving ended: quit"),
        "the plugin said: {said}"
    );
    assert!(
        said.contains("serve_one_timeout timeout, try_serve_one timeout"),
        "a serving timeout must be an error: {said}"
    );
}

#[test]
fn a_shutdown_works_while_the_audio_thread_is_in_calls() {
    let log = output_file("audio-thread");
    let mut host = spawn_logged("joiner", &log, |_| Ok(()));
    let mut rt = host.take_rt().unwrap();
    let (started_tx, started) = mpsc::channel();
    let audio = std::thread::spawn(move || {
        let mut frame = 0;
        loop {
            match process(&mut rt, frame) {
                Ok(_) => frame += 1,
                Err(e) => return (frame, e),
            }
            if frame == 100 {
                started_tx.send(()).unwrap();
            }
        }
    });
    started.recv_timeout(NEVER).unwrap();
    let ended = host.shutdown_timeout(NEVER).unwrap();
    assert!(ended.is_clean(), "{ended:?}");
    let (frames, end) = audio.join().unwrap();
    assert!(frames >= 100);
    assert!(
        matches!(end, LinkError::Closed),
        "the audio thread saw {end:?}"
    );
    assert!(read_log(&log).contains("real-time serving ended: quit"));
}

#[test]
fn a_plugin_whose_handler_panics_answers_reports_and_carries_on() {
    let host = Host::spawn(plugin("echo"), &LinkConfig::default(), |_| Ok(())).unwrap();
    let link = host.main_link();
    match link.request_timeout::<_, Pong>(&Boom(1), NEVER) {
        Err(LinkError::Remote {
            kind: ErrorKind::HandlerPanicked,
            message,
        }) => assert!(message.contains("boom 1"), "{message}"),
        other => panic!("expected the handler's panic as the answer, got {other:?}"),
    }
    // Not a request: nothing to answer, the panic is only reported.
    link.send(&Boom(2)).unwrap();
    let Pong(n) = link.request_timeout(&Ping(7), NEVER).unwrap();
    assert_eq!(n, 7);
    let Panics(count) = link.request_timeout(&PanicCount, NEVER).unwrap();
    assert_eq!(count, 2, "each panic reaches the plugin's on_panic hook");
    assert!(link.is_connected());
    assert!(host.shutdown_timeout(NEVER).unwrap().is_clean());
}

#[test]
fn a_host_whose_handler_or_reply_callback_panics_carries_on() {
    let panics = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel();
    let p = panics.clone();
    let host = Host::spawn(plugin("echo"), &LinkConfig::default(), move |link| {
        link.on(|Note { index }, _| panic!("note {index}"))?;
        link.on_panic(move |e| {
            assert!(matches!(e, LinkError::HandlerPanicked { .. }), "{e:?}");
            p.fetch_add(1, Ordering::SeqCst);
            tx.send(()).unwrap();
        });
        Ok(())
    })
    .unwrap();
    let link = host.main_link();
    link.send(&Chatter { count: 3 }).unwrap();
    link.request(&Ping(1), |_: Result<Pong, LinkError>| {
        panic!("in the callback")
    })
    .unwrap();
    for _ in 0..4 {
        rx.recv_timeout(NEVER).expect("every panic is reported");
    }
    assert_eq!(panics.load(Ordering::SeqCst), 4);
    let Pong(n) = link.request_timeout(&Ping(2), NEVER).unwrap();
    assert_eq!(n, 2);
    assert!(link.is_connected());
    assert!(host.shutdown_timeout(NEVER).unwrap().is_clean());
}

#[test]
fn a_panicking_real_time_handler_fails_the_call_and_serving_goes_on() {
    let mut host = Host::spawn(plugin("echo"), &LinkConfig::default(), |_| Ok(())).unwrap();
    let mut rt = host.take_rt().unwrap();
    assert_eq!(process(&mut rt, 1).unwrap().frame, 1);
    match rt.call_timeout::<_, RtReply>(&RtRequest::Panic { frame: 2 }, NEVER) {
        Err(LinkError::Remote {
            kind: ErrorKind::HandlerPanicked,
            message,
        }) => assert!(message.contains("panics at 2"), "{message}"),
        other => panic!("expected the handler's panic, got {other:?}"),
    }
    assert_eq!(process(&mut rt, 3).unwrap().frame, 3);
    assert!(host.shutdown_timeout(NEVER).unwrap().is_clean());
}

#[test]
fn a_request_the_host_does_not_handle_fails_at_once_for_the_plugin() {
    // The plugin's AskBack handler asks the host a Question it has no
    // handler for: the host answers at once, so the plugin passes on
    // "no handler" instead of waiting out its 30 s.
    let host = Host::spawn(plugin("echo"), &LinkConfig::default(), |_| Ok(())).unwrap();
    match host
        .main_link()
        .request_timeout::<_, Answer>(&AskBack(4), NEVER)
    {
        Err(LinkError::Remote {
            kind: ErrorKind::Rejected,
            message,
        }) => assert!(message.contains("no handler for message 6"), "{message}"),
        other => panic!("expected the plugin to pass on the host's refusal, got {other:?}"),
    }
    assert!(host.shutdown_timeout(NEVER).unwrap().is_clean());
}

#[test]
fn ids_reserved_for_the_link_cannot_be_registered() {
    let host = Host::spawn(plugin("echo"), &LinkConfig::default(), |link| {
        let refused = link.on(|_: protocol::Quit, _| {});
        assert!(
            matches!(refused, Err(LinkError::InvalidArgument(_))),
            "{refused:?}"
        );
        Ok(())
    })
    .unwrap();
    // And the waiting forms report timeouts as errors, with what they waited for.
    assert!(matches!(
        host.main_link()
            .wait_disconnected_timeout(std::time::Duration::from_millis(1)),
        Err(LinkError::Timeout(Waited::Disconnect))
    ));
    assert!(host.shutdown_timeout(NEVER).unwrap().is_clean());
}
