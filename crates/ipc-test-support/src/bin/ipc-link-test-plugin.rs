//! The plugin the link tests start: `ipc-link-test-plugin <role> [args]`,
//! connecting to the link named by `IPC_LINK_CONNECTION` (or the last
//! argument), as `Host::spawn` passes it.
//!
//! Roles: `echo` (the full test protocol of `ipc_test_support::link_protocol`),
//! `ignore-quit` (like echo, but never quits when asked), `joiner` (like
//! echo, but joins its real-time thread before it exits, reporting how its
//! serving loop ended), `brief` (answers one `Ping`, then returns from
//! `main`), `bad-hello` (claims protocol version 999), `host <plugin-exe>`
//! (plays a host that starts `<plugin-exe> echo` and holds it until killed;
//! the plugin reports on the shared stdout).

use ipc_link::{protocol, Host, LinkConfig, LinkError, MainLink, Plugin, Stop};
use ipc_test_support::counting;
use ipc_test_support::link_protocol::*;
use std::io::Write;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// What the `echo` role counts, read by its `Counters` and `TickReport`
/// handlers.
#[derive(Default)]
struct Counts {
    unknown: AtomicU64,
    ticks: AtomicU64,
    ticks_in_order: AtomicBool,
    rt_calls: AtomicU64,
    panics: AtomicU64,
}

/// Registers the test protocol's handlers.
fn setup(link: &MainLink, counts: &Arc<Counts>) -> Result<(), LinkError> {
    link.on_request(|Ping(n)| Pong(n))?;
    link.on(|Chatter { count }, incoming| {
        let link = incoming.link.clone();
        std::thread::spawn(move || {
            for index in 0..count {
                link.send(&Note { index }).expect("send note");
            }
        });
    })?;
    link.on(|AskBack(x), incoming| {
        // Waits on the listener thread: the link keeps dispatching meanwhile.
        let answer: Result<Answer, _> = incoming
            .link
            .request_timeout(&Question(x), Duration::from_secs(30));
        match answer {
            Ok(a) => incoming.reply(&a).expect("reply"),
            Err(e) => incoming.reply_error(&e.to_string()).expect("reply error"),
        }
    })?;
    let c = counts.clone();
    link.on(move |Tick(i), _| {
        let seen = c.ticks.fetch_add(1, Ordering::Relaxed);
        if seen != i {
            c.ticks_in_order.store(false, Ordering::Relaxed);
        }
    })?;
    link.on(|StartTicks(n), incoming| {
        let link = incoming.link.clone();
        std::thread::spawn(move || {
            for i in 0..n {
                link.send(&Tick(i)).expect("send tick");
            }
        });
    })?;
    let c = counts.clone();
    link.on_request(move |TickReport| Ticks {
        received: c.ticks.load(Ordering::Relaxed),
        in_order: c.ticks_in_order.load(Ordering::Relaxed),
    })?;
    let c = counts.clone();
    link.on_request(move |Counters| CounterValues {
        unknown: c.unknown.load(Ordering::Relaxed),
        rt_allocations: counting::allocations(),
        rt_calls: c.rt_calls.load(Ordering::Relaxed),
    })?;
    let c = counts.clone();
    link.on_unknown(move |_| {
        c.unknown.fetch_add(1, Ordering::Relaxed);
    });
    link.on(|Boom(n), _| panic!("boom {n}"))?;
    let c = counts.clone();
    link.on_request(move |PanicCount| Panics(c.panics.load(Ordering::Relaxed)))?;
    let c = counts.clone();
    link.on_panic(move |_| {
        c.panics.fetch_add(1, Ordering::Relaxed);
    });
    Ok(())
}

/// What the plugin does once the host said stop.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AtQuit {
    /// Return from `main`.
    Exit,
    /// Join the real-time thread first, and report how it ended.
    JoinRt,
    /// Never quit: only a kill ends it.
    Ignore,
}

fn echo(at_quit: AtQuit) -> ExitCode {
    let counts = Arc::new(Counts {
        ticks_in_order: AtomicBool::new(true),
        ..Counts::default()
    });
    let config = LinkConfig::default();
    let c = counts.clone();
    let mut plugin = match Plugin::connect_from_env(&config, move |link| setup(link, &c)) {
        Ok(p) => p,
        Err(e) => {
            say(&format!("plugin: {e}"));
            return ExitCode::from(3);
        }
    };
    let mut rt = plugin.take_rt().expect("rt link");
    if at_quit == AtQuit::JoinRt {
        // Before serving: the bounded forms report a timeout as an error.
        let probe = |r: Result<(), LinkError>| match r {
            Err(LinkError::Timeout(ipc_link::Waited::Message)) => "timeout".to_owned(),
            other => format!("{other:?}"),
        };
        let timed = rt.serve_one_timeout(Duration::from_millis(10), |_: RtRequest, _| RtReply {
            frame: 0,
            outputs: 0,
        });
        let tried = rt.try_serve_one(|_: RtRequest, _| RtReply {
            frame: 0,
            outputs: 0,
        });
        say(&format!(
            "plugin: serve_one_timeout {}, try_serve_one {}",
            probe(timed),
            probe(tried)
        ));
        // Tells a host that waits for it that real-time calls may begin.
        let _ = plugin.main_link().send(&Note { index: u32::MAX });
    }
    // The real-time thread serves until the host says stop (or goes).
    let rt_thread = std::thread::spawn(move || {
        rt.serve(|req: RtRequest, audio| {
            // Warm-up: the first calls may touch lazily initialised state.
            let n = counts.rt_calls.fetch_add(1, Ordering::Relaxed);
            counting::count_this_thread(n >= 4);
            match req {
                RtRequest::Process { frame, gain } => {
                    let Some(audio) = audio else {
                        return RtReply { frame, outputs: 0 };
                    };
                    for c in 0..audio.outputs() {
                        for i in 0..audio.frames() {
                            let x = if audio.inputs() > 0 {
                                audio.input(c % audio.inputs())[i]
                            } else {
                                0.0
                            };
                            audio.output_mut(c)[i] = x * gain + frame as f32;
                        }
                    }
                    RtReply {
                        frame,
                        outputs: audio.outputs() as u32,
                    }
                }
                RtRequest::Stall { frame, millis } => {
                    std::thread::sleep(Duration::from_millis(millis));
                    RtReply { frame, outputs: 0 }
                }
                RtRequest::Panic { frame } => panic!("real-time handler panics at {frame}"),
            }
        })
    });
    match plugin.wait_for_stop() {
        Stop::Quit if at_quit == AtQuit::Ignore => loop {
            // A plugin that ignores Quit: only a kill ends it.
            std::thread::park();
        },
        Stop::Quit => {}
        Stop::HostGone(e) => say(&format!("plugin: host gone ({e})")),
    }
    if at_quit == AtQuit::JoinRt {
        match rt_thread.join() {
            Ok(Stop::Quit) => say("plugin: real-time serving ended: quit"),
            Ok(Stop::HostGone(e)) => say(&format!("plugin: real-time serving ended: {e}")),
            Err(_) => say("plugin: the real-time thread panicked"),
        }
    }
    drop(plugin);
    ExitCode::SUCCESS
}

/// Answers one `Ping`, then returns from `main` (dropping its `Plugin`).
fn brief() -> ExitCode {
    let (tx, rx) = std::sync::mpsc::channel();
    let plugin = Plugin::connect_from_env(&LinkConfig::default(), move |link| {
        link.on(move |Ping(n), incoming| {
            let _ = incoming.reply(&Pong(n));
            let _ = tx.send(());
        })
    });
    let plugin = match plugin {
        Ok(p) => p,
        Err(e) => {
            say(&format!("plugin: {e}"));
            return ExitCode::from(3);
        }
    };
    let _ = rx.recv();
    drop(plugin);
    ExitCode::SUCCESS
}

fn bad_hello() -> ExitCode {
    let hello = protocol::Hello {
        magic: protocol::LINK_MAGIC,
        version: 999,
        layout: protocol::Layout::current(),
        pid: std::process::id(),
        pointer_bits: usize::BITS,
    };
    let Some(conn) = ipc_link::connection_from_env() else {
        say("plugin: no connection string");
        return ExitCode::FAILURE;
    };
    match Plugin::connect_as(&conn, &LinkConfig::default(), hello, |_| Ok(())) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!("plugin: {e}"));
            ExitCode::from(3)
        }
    }
}

/// Plays a host of `plugin_exe echo` until killed.
fn host(plugin_exe: &str) -> ExitCode {
    let mut cmd = Command::new(plugin_exe);
    cmd.arg("echo");
    let host = match Host::spawn(cmd, &LinkConfig::default(), |_| Ok(())) {
        Ok(h) => h,
        Err(e) => {
            say(&format!("host: {e}"));
            return ExitCode::FAILURE;
        }
    };
    say(&format!("host: ready {}", host.plugin_pid()));
    // Hold the link until killed (or until the plugin goes).
    let e = host.main_link().wait_disconnected();
    say(&format!("host: link down ({e})"));
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    // The tests make handlers panic on purpose: one line each, no backtrace.
    std::panic::set_hook(Box::new(|info| eprintln!("ipc-link-test-plugin: {info}")));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(role) = args.first() else {
        eprintln!("usage: ipc-link-test-plugin <role> [args] [connection]");
        return ExitCode::FAILURE;
    };
    match role.as_str() {
        "echo" => echo(AtQuit::Exit),
        "ignore-quit" => echo(AtQuit::Ignore),
        "joiner" => echo(AtQuit::JoinRt),
        "brief" => brief(),
        "bad-hello" => bad_hello(),
        "host" => match args.get(1) {
            Some(exe) => host(exe),
            None => {
                eprintln!("usage: ipc-link-test-plugin host <plugin-exe>");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("unknown role {role}");
            ExitCode::FAILURE
        }
    }
}
