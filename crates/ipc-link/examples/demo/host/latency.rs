//! Steps 4 and 5: periods back to back, then round trips of every kind for
//! the latency table: the rt link's empty call, the Unix-socket baseline
//! (what LMMS uses today) in interleaved blocks so that both see the same
//! machine, and the empty call again with both sides spinning.

use super::play::{self, Audio, Run};
use super::{Options, PERIOD};
use crate::messages::{RtReply, RtRequest};
use crate::stats::{dur, line, Samples};
use ipc_link::RtCaller;
use std::time::{Duration, Instant};

/// The bounded spin of the last latency row (both sides).
const SPIN: Duration = Duration::from_micros(50);
/// Calls made before measuring, so that caches and the scheduler settle.
const WARM_UP: u64 = 200;
/// Socket and sleeping calls alternate in blocks of this many.
const BLOCK: u64 = 1000;

/// The unpaced run and the round trips measured without pacing.
#[derive(Debug)]
pub struct Fast {
    run: Run,
    pings: Samples,
    /// Empty calls again, both sides spinning before they sleep.
    spinning: Samples,
    /// The socket's round trips, and whether its echo process got
    /// real-time priority.
    socket: Option<(Samples, bool)>,
}

/// One empty real-time call, checked; returns its round trip.
fn ping(rt: &mut RtCaller, i: u64) -> Result<Duration, String> {
    let started = Instant::now();
    let reply: RtReply = rt
        .call_timeout(&RtRequest::Ping(i), PERIOD)
        .map_err(|e| format!("empty real-time call: {e}"))?;
    let took = started.elapsed();
    if reply.period != i {
        return Err(format!("ping {i} answered as {}", reply.period));
    }
    Ok(took)
}

/// `n` periods back to back (numbered from `first`), then the round trips.
pub fn unpaced(rt: &mut RtCaller, first: u64, n: u64) -> Result<Fast, String> {
    let mut run = Run::new(n);
    let started = Instant::now();
    for p in first..first + n {
        play::period(rt, p, &mut run)?;
    }
    run.elapsed = started.elapsed();
    let mut pings = Samples::with_capacity(n as usize);
    #[cfg(unix)]
    let socket = {
        let mut pinger = crate::uds::Pinger::start()?;
        let mut socket = Samples::with_capacity(n as usize);
        for i in 0..WARM_UP {
            ping(rt, i)?;
            pinger.ping()?;
        }
        let mut done = 0;
        while done < n {
            let block = BLOCK.min(n - done);
            for i in done..done + block {
                pings.push(ping(rt, i)?);
            }
            for _ in 0..block {
                socket.push(pinger.ping()?);
            }
            done += block;
        }
        let real_time = pinger.real_time;
        pinger.finish();
        Some((socket, real_time))
    };
    #[cfg(not(unix))]
    let socket = {
        for i in 0..n {
            pings.push(ping(rt, i)?);
        }
        None
    };
    let spinning = spinning(rt, n)?;
    Ok(Fast {
        run,
        pings,
        spinning,
        socket,
    })
}

/// Empty calls with both sides spinning up to [`SPIN`] before they sleep.
fn spinning(rt: &mut RtCaller, n: u64) -> Result<Samples, String> {
    let set = |rt: &mut RtCaller, spin: Duration| -> Result<(), String> {
        let micros = spin.as_micros() as u32;
        let _: RtReply = rt
            .call_timeout(&RtRequest::Spin { micros }, PERIOD)
            .map_err(|e| format!("setting the plugin's spin: {e}"))?;
        rt.set_spin(spin);
        Ok(())
    };
    set(rt, SPIN)?;
    let mut samples = Samples::with_capacity(n as usize);
    for i in 0..n + WARM_UP {
        let took = ping(rt, i).map_err(|e| format!("spinning: {e}"))?;
        if i >= WARM_UP {
            samples.push(took);
        }
    }
    set(rt, Duration::ZERO)?;
    Ok(samples)
}

/// One row of the table.
fn row(name: &str, s: &mut Samples) {
    line(
        "",
        format!(
            "{name:<44}{:>6}{:>10}{:>10}{:>10}{:>10}",
            s.len(),
            dur(s.quantile(0.5)),
            dur(s.quantile(0.99)),
            dur(s.quantile(0.999)),
            dur(s.quantile(1.0))
        ),
    );
}

/// Steps 4 and 5's report: the unpaced run and the latency table.
pub fn report(options: &Options, audio: Audio, plugin_rt: bool) {
    let Audio {
        mut paced, fast, ..
    } = audio;
    if let Some(fast) = &fast {
        line(
            "4 unpaced",
            format!(
                "{} periods back to back in {} ({} per period): {}",
                options.unpaced,
                dur(fast.run.elapsed),
                dur(fast.run.elapsed / options.unpaced.max(1) as u32),
                fast.run.xruns()
            ),
        );
    }
    line(
        "5 latency",
        format!(
            "{:<44}{:>6}{:>10}{:>10}{:>10}{:>10}",
            "round trip, host <-> plugin process", "n", "p50", "p99", "p99.9", "max"
        ),
    );
    row("rt link, render call, paced", &mut paced.rtt);
    let Some(Fast {
        mut run,
        mut pings,
        mut spinning,
        socket,
    }) = fast
    else {
        return;
    };
    row("rt link, render call, unpaced", &mut run.rtt);
    row("rt link, empty call (~25 bytes each way)", &mut pings);
    let socket = socket.map(|(mut socket, real_time)| {
        row("Unix socket, 8 bytes each way (LMMS today)", &mut socket);
        (socket, real_time)
    });
    row(
        &format!("rt link, empty call, both spin <= {} us", SPIN.as_micros()),
        &mut spinning,
    );
    let note =
        "paced calls wake processes that slept since the last period; unpaced ones find them awake";
    let Some((mut socket, real_time)) = socket else {
        line("", note);
        line("", "Unix-socket baseline skipped: not a Unix system");
        return;
    };
    let mut ratio = |rt: &mut Samples, p: f64| {
        rt.quantile(p).as_secs_f64() / socket.quantile(p).as_secs_f64().max(1e-12)
    };
    line(
        "",
        format!(
            "rt link / Unix socket at p50: {:.2}x sleeping, {:.3}x spinning; at p99: {:.2}x, {:.3}x",
            ratio(&mut pings, 0.5),
            ratio(&mut spinning, 0.5),
            ratio(&mut pings, 0.99),
            ratio(&mut spinning, 0.99)
        ),
    );
    line(
        "",
        format!(
            "socket and sleeping calls alternate in blocks of {BLOCK}; echo process real-time priority: {}",
            match (real_time, plugin_rt) {
                (true, true) => "granted",
                (false, false) => "refused",
                (true, false) => "granted (plugin: refused)",
                (false, true) => "refused (plugin: granted)",
            }
        ),
    );
    line("", note);
}
