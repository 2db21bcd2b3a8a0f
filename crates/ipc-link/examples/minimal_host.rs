//! The smallest host: starts `minimal_plugin`, hears what it says on its
//! own, makes a request, makes real-time calls on shared audio, and asks it
//! to quit. One line per check; exits non-zero if one failed.
//!
//! `cargo build -p ipc-link --examples && target/debug/examples/minimal_host [PLUGIN]`

#[path = "minimal/protocol.rs"]
mod protocol;

use ipc_link::{Host, LinkConfig};
use protocol::{Hello, Process, Processed, Started, Welcome};
use std::process::{Command, ExitCode};
use std::sync::mpsc;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    // The plugin: the first argument, or `minimal_plugin` next to us.
    let plugin = match std::env::args_os().nth(1) {
        Some(path) => path.into(),
        None => std::env::current_exe()?
            .with_file_name(format!("minimal_plugin{}", std::env::consts::EXE_SUFFIX)),
    };
    let (started_tx, started_rx) = mpsc::channel();
    // Handlers are registered before any message is dispatched.
    let mut host = Host::spawn(Command::new(&plugin), &LinkConfig::default(), |link| {
        link.on(move |Started { pid }, _| {
            let _ = started_tx.send(pid);
        })
    })
    .map_err(|e| format!("{e} (build it: cargo build -p ipc-link --examples)"))?;
    let mut failed = 0;
    let mut check = |what: &str, held: bool| {
        println!("{} {what}", if held { "ok  " } else { "FAIL" });
        failed += u32::from(!held);
    };
    let said = started_rx.recv_timeout(TIMEOUT) == Ok(host.plugin_pid());
    check("the plugin said on its own that it started", said);
    let request = Hello("minimal_host".into());
    let Welcome(text) = host.main_link().request_timeout(&request, TIMEOUT)?;
    let greeted = text == "minimal_plugin greets minimal_host";
    check("the plugin answered the request", greeted);
    let mut rt = host.take_rt().ok_or("the real-time link was taken")?;
    rt.attach_audio(1, 1, 64, TIMEOUT)?;
    let ramp: Vec<f32> = (0..64).map(|i| i as f32 / 64.0).collect();
    for gain in [0.5, 1.0, -2.0] {
        let audio = rt.audio_mut().ok_or("no audio buffers")?;
        audio.input_mut(0).copy_from_slice(&ramp);
        let Processed { frames } = rt.call_timeout(&Process { gain }, TIMEOUT)?;
        let output = rt.audio().ok_or("no audio buffers")?.output(0);
        let scaled = frames == 64 && output.iter().zip(&ramp).all(|(y, x)| *y == x * gain);
        check(&format!("real-time call: output = input x {gain}"), scaled);
    }
    let ended = host.shutdown_timeout(TIMEOUT)?;
    let quit = format!("the plugin quit when asked ({})", ended.status());
    check(&quit, ended.is_clean());
    Ok(ExitCode::from(u8::from(failed > 0)))
}
