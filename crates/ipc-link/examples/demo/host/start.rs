//! Step 1: starts the plugin process (spawn, versioned handshake) and
//! attaches the shared audio buffers.

use super::talks::Inbox;
use super::{FRAMES, PERIOD, SLOW};
use crate::messages::{Ready, Stalling};
use crate::stats::{line, ms};
use crate::synth::RATE;
use crate::Failure;
use ipc_link::{Host, LinkConfig, RtCaller};
use std::path::Path;
use std::process::Command;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// A running plugin process, its real-time link with audio attached, and
/// what it has said so far.
#[derive(Debug)]
pub struct Started {
    /// The plugin process and the host's main link.
    pub host: Host,
    /// The real-time link, for the audio thread.
    pub rt: RtCaller,
    /// What the plugin sends unprompted.
    pub inbox: Arc<Inbox>,
    /// Where the plugin's `Stalling` notices arrive.
    pub stalls: mpsc::Receiver<Stalling>,
    /// Whether the plugin's real-time thread got real-time priority.
    pub plugin_rt: bool,
}

/// The command that starts the plugin: `plugin` if given (a program that
/// speaks this protocol, such as the C++ one in `examples/cpp/`), else this
/// program again as `demo plugin`. Either finds the link in its environment.
fn plugin_command(plugin: Option<&Path>) -> Result<Command, Failure> {
    if let Some(program) = plugin {
        return Ok(Command::new(program));
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut command = Command::new(exe);
    command.arg("plugin");
    Ok(command)
}

/// Starts the plugin (see [`plugin_command`]), waits for its real-time
/// thread to report ready and attaches the audio buffers (0 inputs, 2
/// outputs). Returns also how long the spawn and handshake took, and what
/// the plugin said about real-time priority.
pub fn launch(plugin: Option<&Path>) -> Result<(Started, Duration, Result<u8, String>), Failure> {
    let inbox = Arc::new(Inbox::default());
    let (ready_tx, ready_rx) = mpsc::channel::<Ready>();
    let (stall_tx, stall_rx) = mpsc::channel::<Stalling>();
    let command = plugin_command(plugin)?;
    let started = Instant::now();
    let handlers = inbox.clone();
    let mut host = Host::spawn(command, &LinkConfig::default(), move |link| {
        handlers.register(link)?;
        link.on(move |r: Ready, _| {
            let _ = ready_tx.send(r);
        })?;
        link.on(move |s: Stalling, _| {
            let _ = stall_tx.send(s);
        })
    })?;
    let connected = started.elapsed();
    let ready = ready_rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| "the plugin did not report ready within 5 s")?;
    let mut rt = host
        .take_rt()
        .ok_or("the real-time link was already taken")?;
    rt.attach_audio(0, 2, FRAMES, SLOW)
        .map_err(|e| format!("attach audio: {e}"))?;
    let started = Started {
        host,
        rt,
        inbox,
        stalls: stall_rx,
        plugin_rt: ready.rt_priority.is_ok(),
    };
    Ok((started, connected, ready.rt_priority))
}

/// Step 1: [`launch`], and its report.
pub fn start(plugin: Option<&Path>) -> Result<Started, Failure> {
    let (started, connected, rt_priority) = launch(plugin)?;
    line(
        "1 start",
        format!(
            "plugin process {} connected in {} (spawn, versioned handshake)",
            started.host.plugin_pid(),
            ms(connected)
        ),
    );
    if let Some(program) = plugin {
        line("", format!("plugin program: {}", program.display()));
    }
    line(
        "",
        format!(
            "audio: {RATE} Hz, {FRAMES} frames per period ({}), 0 inputs, 2 outputs, shared buffers",
            ms(PERIOD)
        ),
    );
    line("", priority("plugin's real-time thread", &rt_priority));
    Ok(started)
}

/// What a thread got when it asked for real-time priority.
pub fn priority(who: &str, got: &Result<u8, String>) -> String {
    match got {
        Ok(p) => format!("{who}: real-time priority {p} granted"),
        Err(e) => format!("{who}: real-time priority refused ({e})"),
    }
}
