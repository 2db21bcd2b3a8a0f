//! The peer program of the kill campaign (`tests/kill_campaign.rs`), which
//! kills it at random moments; it speaks `ipc_test_support::campaign`.
//!
//! * `ipc-campaign-peer plugin`: says its pid, connects to the link named by
//!   `IPC_LINK_CONNECTION`, serves real-time calls on a thread, answers
//!   requests, echoes and streams large blobs; when the host goes, prints
//!   how each link reported it (a `campaign::Report`) and exits.
//! * `ipc-campaign-peer host <plugin-exe>`: starts `<plugin-exe> plugin`
//!   (which inherits its stdout, and says `spawned <pid>` on it between
//!   fork and exec), prints the plugin's pid once it connected, then drives
//!   it with every kind of traffic at once until killed.
//!
//! Both roles abort on any panic, even one the library would catch, so that
//! the campaign sees it in the exit status.

use ipc_link::{Host, LinkConfig, LinkError, MainLink, Plugin};
use ipc_test_support::campaign::*;
use ipc_test_support::NEVER;
use std::io::Write;
use std::process::{Command, ExitCode};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A failed check: said, then the process aborts (the campaign reads the
/// exit status).
fn broken(what: &str) -> ! {
    say(&format!("broken: {what}"));
    std::process::abort();
}

fn plugin_setup(link: &MainLink) -> Result<(), LinkError> {
    link.on_request(|Ping(n)| Pong(n))?;
    link.on_request(|Store(b)| Stored {
        seq: b.seq,
        len: b.data.len() as u64,
        intact: intact(&b, b.data.len()),
    })?;
    link.on_request(|Echo(b)| Echoed(b))?;
    link.on(|StreamBlobs { len }, incoming| {
        let link = incoming.link.clone();
        thread::spawn(move || {
            // Until the link fails: the campaign kills one side meanwhile.
            for seq in 0.. {
                if link.send(&blob(seq, len as usize)).is_err() {
                    return;
                }
            }
        });
    })
}

fn process(req: Process, audio: Option<&mut ipc_link::AudioBuffers>) -> Processed {
    let Some(audio) = audio else {
        return Processed {
            frame: req.frame,
            outputs: 0,
        };
    };
    for c in 0..audio.outputs() {
        for i in 0..audio.frames() {
            let x = if audio.inputs() > 0 {
                audio.input(c % audio.inputs())[i]
            } else {
                0.0
            };
            audio.output_mut(c)[i] = x * req.gain + req.frame as f32;
        }
    }
    Processed {
        frame: req.frame,
        outputs: audio.outputs() as u32,
    }
}

fn plugin() -> ExitCode {
    say(&format!("{PID_LINE}{}", std::process::id()));
    let started = Instant::now();
    let mut plugin = match Plugin::connect_from_env(&LinkConfig::default(), plugin_setup) {
        Ok(p) => p,
        Err(e) => {
            let report = Report::ConnectFailed {
                kind: format!("{:?}", e.kind()),
                after_us: started.elapsed().as_micros() as u64,
                error: e.to_string(),
            };
            say(&report.line());
            return ExitCode::from(3);
        }
    };
    let mut rt = plugin.take_rt().expect("the real-time end");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let stop = rt.serve(process);
        let _ = tx.send((stop_name(&stop), monotonic_ns()));
    });
    let main = stop_name(&plugin.wait_for_stop());
    let main_ns = monotonic_ns();
    // Not joined without bound: a serving loop that never noticed is
    // reported as `none`, and the process exits all the same.
    let (rt, rt_ns) = rx.recv_timeout(NEVER / 2).unwrap_or(("none".into(), 0));
    say(&Report::Stopped {
        main,
        main_ns,
        rt,
        rt_ns,
    }
    .line());
    drop(plugin);
    ExitCode::SUCCESS
}

/// Makes the plugin process say `spawned <pid>` on the shared stdout
/// between fork and exec, so that the campaign can kill this host the
/// moment its plugin exists.
#[cfg(unix)]
fn announce_spawn(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let hook = || {
        let (line, len) = pid_line(SPAWNED_LINE, std::process::id());
        // SAFETY: writes `len` initialised bytes of `line` to stdout.
        // `write` is async-signal-safe, and nothing here allocates or
        // locks: what runs between fork and exec may do no more.
        unsafe { libc::write(1, line.as_ptr().cast(), len) };
        Ok(())
    };
    // SAFETY: the hook only does what is allowed between fork and exec
    // (see above).
    unsafe { cmd.pre_exec(hook) };
}

/// Plays a host of `plugin_exe plugin`: every kind of traffic at once,
/// until killed.
fn host(plugin_exe: &str) -> ExitCode {
    let mut cmd = Command::new(plugin_exe);
    cmd.arg("plugin");
    #[cfg(unix)]
    announce_spawn(&mut cmd);
    let spawned = Host::spawn(cmd, &LinkConfig::default(), |link| {
        link.on(|b: Blob, _| {
            if !intact(&b, BLOB_SIZES[1]) {
                broken("a streamed blob arrived damaged");
            }
        })
    });
    let mut host = match spawned {
        Ok(h) => h,
        Err(e) => {
            say(&format!("host: {e}"));
            return ExitCode::FAILURE;
        }
    };
    say(&format!("{HOST_PLUGIN_LINE}{}", host.plugin_pid()));
    let main = host.main_link().clone();
    let mut rt = host.take_rt().expect("the real-time end");
    // Each loop ends at the first error: the plugin is gone, or this
    // process is about to be.
    thread::spawn(move || {
        if rt.attach_audio(2, 2, 256, NEVER).is_err() {
            return;
        }
        for frame in 0.. {
            let audio = rt.audio_mut().expect("attached");
            audio.input_mut(0).fill(0.5);
            audio.input_mut(1).fill(0.5);
            match rt.call_timeout::<_, Processed>(&Process { frame, gain: 2.0 }, NEVER) {
                Ok(p) if p.frame == frame && p.outputs == 2 => {}
                Ok(p) => broken(&format!("call {frame} answered {p:?}")),
                Err(_) => return,
            }
            if rt.audio().expect("attached").output(1)[255] != 1.0 + frame as f32 {
                broken("wrong audio");
            }
        }
    });
    let link = main.clone();
    thread::spawn(move || {
        for n in 0.. {
            match link.request_timeout::<_, Pong>(&Ping(n), NEVER) {
                Ok(Pong(m)) if m == n => {}
                Ok(other) => broken(&format!("Ping({n}) answered {other:?}")),
                Err(_) => return,
            }
        }
    });
    let link = main.clone();
    thread::spawn(move || {
        for seq in 0.. {
            let len = BLOB_SIZES[seq as usize % BLOB_SIZES.len()];
            match link.request_timeout::<_, Echoed>(&Echo(blob(seq, len)), NEVER) {
                Ok(Echoed(b)) if b.seq == seq && intact(&b, len) => {}
                Ok(_) => broken("an echoed blob came back damaged"),
                Err(_) => return,
            }
        }
    });
    let link = main.clone();
    thread::spawn(move || {
        for seq in 0.. {
            let len = BLOB_SIZES[(seq as usize + 1) % BLOB_SIZES.len()];
            match link.request_timeout::<_, Stored>(&Store(blob(seq, len)), NEVER) {
                Ok(s) if s.intact && s.seq == seq && s.len == len as u64 => {}
                Ok(s) => broken(&format!("a stored blob arrived damaged: {s:?}")),
                Err(_) => return,
            }
        }
    });
    if main
        .send(&StreamBlobs {
            len: BLOB_SIZES[1] as u64,
        })
        .is_ok()
    {
        say(HOST_DRIVING_LINE);
    }
    let e = main.wait_disconnected();
    say(&format!("{HOST_DOWN_LINE} ({e})"));
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        say(&format!("broken: {info}"));
        std::process::abort();
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    match (args.first().map(String::as_str), args.get(1)) {
        (Some("plugin"), _) => plugin(),
        (Some("host"), Some(exe)) => host(exe),
        _ => {
            eprintln!("usage: ipc-campaign-peer plugin | host <plugin-exe>");
            ExitCode::FAILURE
        }
    }
}
