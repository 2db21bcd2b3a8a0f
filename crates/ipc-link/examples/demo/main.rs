//! The whole stack in one run: `cargo xtask demo` (or
//! `cargo run --release -p ipc-link --example demo`).
//!
//! This program plays both roles. As the host it starts itself again as the
//! plugin (`demo plugin`, the connection string in its environment and last
//! argument), a small synthesizer, then: plays a melody through it in real
//! time (MIDI on the main link, one real-time call per audio period, audio
//! in shared buffers), counts the messages the plugin sends on its own,
//! measures the real-time link's round trips (also with a bounded spin) next
//! to a Unix socket's (what LMMS uses today) in the same run, moves a 64 MiB
//! state each way, kills the plugin during a real-time call to time how fast
//! both links notice, and last asks a second plugin to quit, as a host does
//! when it closes a project. See `docs/DEMO.md` for a sample run.
//!
//! `--plugin PATH` drives another plugin program that speaks this protocol
//! (the C++ one in `examples/cpp/`) instead of this program's own; `demo
//! wire` prints one sample of each message as MessagePack, for that C++
//! mirror of `messages.rs` to compare byte for byte.

mod host;
mod messages;
mod plugin;
mod state;
mod stats;
mod synth;
#[cfg(unix)]
mod uds;
mod wire;

use ipc_link::LinkError;
use parking_lot::Mutex;
use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: demo [--periods N] [--unpaced N] [--plugin PATH]
  --periods N   periods played in real time (default 375: 2 s at 256 frames, 48 kHz)
  --unpaced N   periods played back to back, and round trips of each kind measured
                for the latency table (default 20000; 0 skips both)
  --plugin PATH the plugin program to drive (default: this program, as `demo plugin`);
                it finds the link in IPC_LINK_CONNECTION or its last argument
internal roles: demo plugin [connection] (also in IPC_LINK_CONNECTION), demo uds-echo,
                demo wire (one sample of each message, `<name> <id> <hex payload>`)";

/// Priority asked for the plugin's serving thread, the host's audio thread
/// and the echo process (`SCHED_FIFO` 80, like JACK's clients).
pub const RT_PRIORITY: u8 = 80;

/// Asks for real-time priority ([`RT_PRIORITY`]) for the calling thread;
/// says why not if the system refuses.
pub fn promote_current_thread() -> Result<u8, String> {
    match ipc_link::promote_current_thread(RT_PRIORITY) {
        Ok(()) => Ok(RT_PRIORITY),
        // The system's own words, without the layer's prefix.
        Err(LinkError::Os(e)) => Err(e.to_string()),
        Err(other) => Err(other.to_string()),
    }
}

/// The whole demo must finish within this (plus the time its periods take),
/// or it fails.
const WATCHDOG: Duration = Duration::from_secs(60);

/// The step running now, for failure reports.
static STEP: Mutex<&str> = Mutex::new("arguments");

/// Records which step runs now.
pub fn step(name: &'static str) {
    *STEP.lock() = name;
}

/// Why the demo failed.
#[derive(Debug)]
pub struct Failure(String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Failure {
    fn from(text: String) -> Failure {
        Failure(text)
    }
}

impl From<&str> for Failure {
    fn from(text: &str) -> Failure {
        Failure(text.to_owned())
    }
}

impl From<LinkError> for Failure {
    fn from(e: LinkError) -> Failure {
        Failure(e.to_string())
    }
}

fn parse(args: &[String]) -> Result<host::Options, String> {
    let mut options = host::Options {
        periods: 375,
        unpaced: 20_000,
        plugin: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--plugin" {
            let path = args.next().ok_or("--plugin needs a program")?;
            options.plugin = Some(path.into());
            continue;
        }
        let slot = match arg.as_str() {
            "--periods" => &mut options.periods,
            "--unpaced" => &mut options.unpaced,
            other => return Err(format!("unknown argument `{other}`")),
        };
        *slot = args
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("{arg} needs a number"))?;
    }
    if options.periods == 0 || options.periods > 1_000_000 || options.unpaced > 10_000_000 {
        return Err("--periods must be 1..=1000000 and --unpaced at most 10000000".into());
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("plugin") => return plugin::main(),
        #[cfg(unix)]
        Some("uds-echo") => return uds::echo(),
        Some("wire") => return wire::print(),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("demo: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Every step has its own timeouts; this is the last line of defence.
    // Exiting kills nothing by itself, but the plugin notices its host's
    // death and exits, and the echo process sees its socket close.
    let budget = WATCHDOG
        + Duration::from_millis(options.periods * 6)
        + Duration::from_millis(options.unpaced);
    let _ = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            std::thread::sleep(budget);
            eprintln!(
                "\ndemo: FAILED: still in step `{}` after {} s",
                *STEP.lock(),
                budget.as_secs()
            );
            std::process::exit(1);
        });
    match host::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("\ndemo: FAILED in step `{}`: {failure}", *STEP.lock());
            ExitCode::FAILURE
        }
    }
}
