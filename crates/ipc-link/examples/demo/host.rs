//! The host process: starts the plugin, plays a melody through it in real
//! time, measures, saves and restores its state, kills it, and asks a
//! second one to quit. One module per step of the report.

mod death;
mod latency;
mod melody;
mod play;
mod quit;
mod save_load;
mod start;
mod talks;

use crate::stats::{dur, line};
use crate::synth::RATE;
use crate::{step, Failure};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

/// Frames per period.
const FRAMES: usize = 256;
/// One period: 256 frames at 48 kHz, 5.33 ms. Also each call's deadline.
const PERIOD: Duration = Duration::from_nanos(FRAMES as u64 * 1_000_000_000 / RATE as u64);
/// Deadline of calls and requests that are not real-time (start, state,
/// shutdown).
const SLOW: Duration = Duration::from_secs(30);

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Periods paced in real time.
    pub periods: u64,
    /// Unpaced periods, and round trips of each kind for the latency table.
    pub unpaced: u64,
    /// Another plugin program to drive (default: this one, as `demo plugin`).
    pub plugin: Option<PathBuf>,
}

/// Runs the whole demo.
pub fn run(options: Options) -> Result<(), Failure> {
    let all = Instant::now();
    println!("ipc-link demo: an LMMS-style host and an out-of-process synthesizer");
    line("machine", machine());
    println!();
    step("start");
    let started = start::start(options.plugin.as_deref())?;
    step("play");
    let played = play::play(started.rt, started.host.main_link(), &options)?;
    play::report(&options, &played)?;
    step("plugin messages");
    started.inbox.report(&options)?;
    step("latency");
    latency::report(&options, played.audio, started.plugin_rt);
    step("state");
    save_load::move_state(started.host.main_link())?;
    step("death");
    death::kill_during_call(started.host, played.rt, &started.stalls)?;
    step("quit");
    quit::start_and_quit(options.plugin.as_deref())?;
    println!();
    println!("demo: all steps passed in {}", dur(all.elapsed()));
    Ok(())
}

/// The machine, for the report's first line.
fn machine() -> String {
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| format!(" {}", k.trim()))
        .unwrap_or_default();
    let build = if cfg!(debug_assertions) {
        "DEBUG build: timings are not representative"
    } else {
        "release build"
    };
    format!(
        "{cpus} CPUs, {model}, {}{kernel} {}; {build}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// Sleeps until `when` (at once if it has passed).
fn sleep_until(when: Instant) {
    let now = Instant::now();
    if when > now {
        thread::sleep(when - now);
    }
}
