//! The plugin the link tests start: `ipc-link-test-plugin <role> [args] <connection>`.
//!
//! Roles: `echo` (the full test protocol of `messages.rs`), `ignore-quit`
//! (like echo, but never quits when asked), `bad-hello` (claims protocol
//! version 999), `host <plugin-exe>` (plays a host that starts `<plugin-exe>
//! echo` and holds it until killed; the plugin reports on the shared stdout).

mod counting;
#[allow(dead_code)]
mod messages;

use ipc_link::{protocol, Host, LinkConfig, Plugin, Stop};
use messages::*;
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

fn echo(conn: &str, obey_quit: bool) -> ExitCode {
    let unknown = Arc::new(AtomicU64::new(0));
    let ticks = Arc::new((AtomicU64::new(0), AtomicBool::new(true)));
    let rt_calls = Arc::new(AtomicU64::new(0));
    let (u, t, calls) = (unknown.clone(), ticks.clone(), rt_calls.clone());
    let config = LinkConfig::default();
    let mut plugin = match Plugin::connect(conn, &config, move |link| {
        link.on_request(|Ping(n)| Pong(n));
        link.on(|Chatter { count }, incoming| {
            let link = incoming.link.clone();
            std::thread::spawn(move || {
                for index in 0..count {
                    link.send(&Note { index }).expect("send note");
                }
            });
        });
        link.on(|AskBack(x), incoming| {
            let answer: Result<Answer, _> = incoming
                .link
                .request_blocking(&Question(x), Duration::from_secs(30));
            match answer {
                Ok(a) => incoming.reply(&a).expect("reply"),
                Err(e) => incoming.reply_error(&e.to_string()).expect("reply error"),
            }
        });
        link.on(move |Tick(i), _| {
            let seen = t.0.fetch_add(1, Ordering::Relaxed);
            if seen != i {
                t.1.store(false, Ordering::Relaxed);
            }
        });
        link.on(|StartTicks(n), incoming| {
            let link = incoming.link.clone();
            std::thread::spawn(move || {
                for i in 0..n {
                    link.send(&Tick(i)).expect("send tick");
                }
            });
        });
        let t = ticks.clone();
        link.on_request(move |TickReport| Ticks {
            received: t.0.load(Ordering::Relaxed),
            in_order: t.1.load(Ordering::Relaxed),
        });
        link.on_request(move |Counters| CounterValues {
            unknown: u.load(Ordering::Relaxed),
            rt_allocations: counting::allocations(),
            rt_calls: calls.load(Ordering::Relaxed),
        });
        let u = unknown.clone();
        link.on_unknown(move |_| {
            u.fetch_add(1, Ordering::Relaxed);
        });
    }) {
        Ok(p) => p,
        Err(e) => {
            say(&format!("plugin: {e}"));
            return ExitCode::from(3);
        }
    };
    let mut rt = plugin.take_rt().expect("rt link");
    // Not joined: the real-time thread waits for the host's next call and
    // ends with the process.
    std::thread::spawn(move || {
        let _ = rt.serve(|req: RtRequest, audio| {
            // Warm-up: the first calls may touch lazily initialised state.
            let n = rt_calls.fetch_add(1, Ordering::Relaxed);
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
            }
        });
    });
    loop {
        match plugin.wait_for_stop() {
            Stop::Quit if !obey_quit => continue,
            Stop::Quit => break,
            Stop::HostGone(e) => {
                say(&format!("plugin: host gone ({e})"));
                break;
            }
        }
    }
    drop(plugin);
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(role), Some(conn)) = (args.first(), args.last()) else {
        eprintln!("usage: ipc-link-test-plugin <role> [args] <connection>");
        return ExitCode::FAILURE;
    };
    match role.as_str() {
        "echo" => echo(conn, true),
        "ignore-quit" => echo(conn, false),
        "bad-hello" => {
            let hello = protocol::Hello {
                magic: protocol::LINK_MAGIC,
                version: 999,
                layout: protocol::Layout::current(),
                pid: std::process::id(),
                pointer_bits: usize::BITS,
            };
            match Plugin::connect_as(conn, &LinkConfig::default(), hello, |_| {}) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    say(&format!("plugin: {e}"));
                    ExitCode::from(3)
                }
            }
        }
        "host" => {
            // Args: host <plugin-exe>; no connection of its own.
            let plugin_exe = &args[1];
            let mut cmd = Command::new(plugin_exe);
            cmd.arg("echo");
            let host = match Host::spawn(cmd, &LinkConfig::default(), |_| {}) {
                Ok(h) => h,
                Err(e) => {
                    say(&format!("host: {e}"));
                    return ExitCode::FAILURE;
                }
            };
            say(&format!("host: ready {}", host.plugin_pid()));
            // Hold the link until killed.
            let _ = host.main().wait_disconnected(Duration::from_secs(3600));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("unknown role {role}");
            ExitCode::FAILURE
        }
    }
}
