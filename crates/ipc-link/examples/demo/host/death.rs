//! Step 7: the plugin is killed while the audio thread waits in a
//! real-time call (a deliberate stall); the host times how soon each link
//! reports the death, then reaps the process with `shutdown_timeout`.

use super::PERIOD;
use crate::messages::{RtReply, RtRequest, Stalling};
use crate::stats::{line, ms};
use crate::Failure;
use ipc_link::{Ended, Host, LinkError, RtCaller};
use std::fmt;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How a plugin process ended, for the report: the `Ended` that
/// `Host::shutdown_timeout` returned, and what it means.
pub fn ended(ended: &Ended) -> String {
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&ended.status());
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    match ended {
        Ended::Exited(status) if status.success() => {
            format!("Ended::Exited({status}), a clean exit")
        }
        #[cfg(unix)]
        Ended::Exited(_) if signal == Some(libc::SIGKILL) => {
            "killed by SIGKILL and reaped (shutdown_timeout: Ended::Exited, it was dead already)"
                .into()
        }
        Ended::Exited(status) => format!("Ended::Exited({status}), signal {signal:?}"),
        Ended::Killed(status) => {
            format!("Ended::Killed({status}): it did not quit in time and was killed")
        }
    }
}

/// Kills the plugin process at once, without reaping it (so that what the
/// links report is the death, not the reaping).
#[cfg(unix)]
fn kill_plugin(host: &mut Host) -> Result<(), String> {
    let pid = libc::pid_t::try_from(host.plugin_pid()).map_err(|_| "bad plugin pid")?;
    // SAFETY: `kill` has no memory-safety preconditions; the pid is the
    // plugin's, our child, which we have not reaped, so it cannot have been
    // reused by another process.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("kill: {}", std::io::Error::last_os_error()))
    }
}

/// Kills the plugin process at once (and reaps it).
#[cfg(not(unix))]
fn kill_plugin(host: &mut Host) -> Result<(), String> {
    host.kill().map(drop).map_err(|e| format!("kill: {e}"))
}

/// One line of the report for what a link said after the kill, which must
/// be `PeerDied`.
fn reported(
    what: &str,
    peer_died: bool,
    said: impl fmt::Debug,
    after: Duration,
) -> Result<(), Failure> {
    if !peer_died {
        return Err(format!("the {what} {said:?}, not PeerDied").into());
    }
    let what = format!("{what} PeerDied");
    line("", format!("{what:<36}{:>9} after the kill", ms(after)));
    Ok(())
}

/// Step 7.
pub fn kill_during_call(
    mut host: Host,
    mut rt: RtCaller,
    stalls: &mpsc::Receiver<Stalling>,
) -> Result<(), Failure> {
    let stall = thread::Builder::new()
        .name("audio".into())
        .spawn(move || {
            let stall = RtRequest::Stall { millis: 10_000 };
            let result = rt.call_timeout::<_, RtReply>(&stall, Duration::from_secs(5));
            (result, Instant::now(), rt)
        })
        .map_err(|e| format!("cannot start the audio thread: {e}"))?;
    stalls
        .recv_timeout(Duration::from_secs(2))
        .map_err(|_| "the plugin did not start stalling within 2 s")?;
    let killed = Instant::now();
    kill_plugin(&mut host)?;
    let main_said = host
        .main_link()
        .wait_disconnected_timeout(Duration::from_secs(5));
    let main_after = killed.elapsed();
    let (rt_said, rt_returned, mut rt) = stall
        .join()
        .map_err(|_| "the audio thread panicked".to_string())?;
    let rt_after = rt_returned.saturating_duration_since(killed);
    // Before the shutdown, which closes the host's ends too: the call must
    // fail because the plugin died, and at once.
    let again = Instant::now();
    let later = rt.call_timeout::<_, RtReply>(&RtRequest::Process { period: 0 }, PERIOD);
    let later_after = again.elapsed();
    let status = host
        .shutdown_timeout(Duration::from_secs(2))
        .map_err(|e| format!("cannot reap the plugin: {e}"))?;
    line(
        "7 death",
        "the plugin is killed while the audio thread waits in a real-time call (a deliberate stall)",
    );
    let rt_died = matches!(rt_said, Err(LinkError::PeerDied));
    reported("real-time call returned", rt_died, rt_said, rt_after)?;
    let main_died = matches!(main_said, Ok(LinkError::PeerDied));
    reported("main link reported", main_died, main_said, main_after)?;
    line("", format!("plugin process: {}", ended(&status)));
    match later {
        Err(LinkError::PeerDied) => line(
            "",
            format!(
                "a later call: PeerDied after {} (the death is remembered: no wait)",
                ms(later_after)
            ),
        ),
        other => return Err(format!("a call after the death returned {other:?}").into()),
    }
    Ok(())
}
