//! Step 8: what a host does when it closes a project: a second plugin
//! process is started, renders a period, and is asked to quit with
//! `shutdown_timeout`. Its exit status says whether its real-time thread's
//! serving ended with `Stop::Quit` and both its threads were joined.

use super::death::ended;
use super::start::{launch, Started};
use super::SLOW;
use crate::messages::{RtReply, RtRequest};
use crate::stats::{line, ms};
use crate::Failure;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the plugin may take to quit before it is killed.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Step 8.
pub fn start_and_quit(plugin: Option<&Path>) -> Result<(), Failure> {
    let (Started { host, mut rt, .. }, _, _) = launch(plugin)?;
    let pid = host.plugin_pid();
    let reply: RtReply = rt
        .call_timeout(&RtRequest::Process { period: 0 }, SLOW)
        .map_err(|e| format!("the second plugin's first period: {e}"))?;
    if reply.period != 0 {
        return Err(format!("period 0 was answered for period {}", reply.period).into());
    }
    let asked = Instant::now();
    // The audio thread would still hold its `RtCaller` here: the shutdown
    // closes the link's ends under it.
    let status = host
        .shutdown_timeout(QUIT_TIMEOUT)
        .map_err(|e| format!("shutdown: {e}"))?;
    let took = asked.elapsed();
    drop(rt);
    line(
        "8 quit",
        format!("a second plugin process {pid} rendered a period, then was asked to quit (shutdown_timeout)"),
    );
    line(
        "",
        format!(
            "{:<36}{:>9} after the Quit: {}",
            "plugin process ended",
            ms(took),
            ended(&status)
        ),
    );
    if !status.is_clean() {
        return Err("the plugin did not quit cleanly".into());
    }
    // The plugin exits with success only then (see `plugin::run`).
    line(
        "",
        "so its real-time thread's serving returned Stop::Quit, and both its threads were joined",
    );
    Ok(())
}
