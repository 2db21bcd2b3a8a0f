//! Layer III, links: the real-time call (blocking and spinning), a blocking
//! main-link request, and a one-way stream of small main-link messages. The
//! peer is a plugin process started with `Host::spawn`.

use crate::channel::CHANNEL_SPIN;
use crate::harness::{time_round_trips, Harness, Measured, Pace, Peer, STALL_LIMIT};
use ipc_benches::report::Measurement;
use ipc_benches::Failure;
use ipc_link::{Ended, Host, LinkConfig, LinkError, MainLink, Plugin, Stop};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

/// Real-time and main-link ping-pong messages (the reply is the complement).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Ping(u64);

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Pong(u64);

/// A small message of a one-way stream, and the order to send `n` of them.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Tick(u64);

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct SendTicks(u64);

ipc_link::message!(Ping = 3, Pong = 4, Tick = 5, SendTicks = 6);

fn link_error(what: &str, e: LinkError) -> Failure {
    Failure::new(format!("{what}: {e}"))
}

/// Starts the peer as a plugin process on a new link.
fn spawn_plugin(
    h: &Harness,
    setup: impl FnOnce(&MainLink) -> Result<(), LinkError>,
) -> Result<Host, Failure> {
    Host::spawn(h.peer_command()?, &LinkConfig::default(), setup)
        .map_err(|e| link_error("starting the plugin process", e))
}

/// Asks the plugin process to quit and checks that it exited cleanly.
fn stop_plugin(host: Host) -> Result<(), Failure> {
    match host
        .shutdown_timeout(STALL_LIMIT)
        .map_err(|e| link_error("stopping the plugin", e))?
    {
        ended if ended.is_clean() => Ok(()),
        Ended::Exited(status) => Err(Failure::new(format!(
            "the plugin process failed ({status})"
        ))),
        Ended::Killed(status) => Err(Failure::new(format!(
            "the plugin process did not quit in time and was killed ({status})"
        ))),
    }
}

fn rt_call_with(h: &mut Harness, spin: Duration) -> Result<Measured, Failure> {
    let mut host = spawn_plugin(h, |_| Ok(()))?;
    let mut rt = host
        .take_rt()
        .ok_or_else(|| Failure::new("no real-time link"))?;
    rt.set_spin(spin);
    let (warmup, iters) = h.iterations(Pace::of_spin(spin));
    let summary = time_round_trips(warmup, iters, |seq| {
        let Pong(reply) = rt
            .call_timeout(&Ping(seq), STALL_LIMIT)
            .map_err(|e| link_error("real-time call", e))?;
        Ok(reply)
    })?;
    drop(rt);
    stop_plugin(host)?;
    let note = if spin.is_zero() {
        "RtCaller::call_timeout / RtServer::serve, blocking".to_owned()
    } else {
        format!(
            "RtCaller::call_timeout / RtServer::serve, spin {} us both sides",
            spin.as_micros()
        )
    };
    Ok(Measured::latency(summary, note))
}

/// The plugin side of the link benchmarks: answers `Ping`s on both links,
/// sends `Tick`s when asked, and returns when the host says quit.
fn peer_with(p: &Peer, spin: Duration) -> Result<(), Failure> {
    let config = LinkConfig::default();
    let mut plugin = Plugin::connect(&p.arg, &config, |link| {
        link.on_request(|Ping(x)| Pong(!x))?;
        link.on(|SendTicks(n), incoming| {
            for i in 0..n {
                if incoming.link.send(&Tick(i)).is_err() {
                    return;
                }
            }
        })
    })
    .map_err(|e| link_error("connecting to the host", e))?;
    let mut rt = plugin
        .take_rt()
        .ok_or_else(|| Failure::new("no real-time link"))?;
    rt.set_spin(spin);
    // The serving thread ends with the process.
    std::thread::spawn(move || rt.serve(|Ping(x), _| Pong(!x)));
    match plugin.wait_for_stop() {
        Stop::Quit => Ok(()),
        Stop::HostGone(e) => Err(link_error("the host went away", e)),
    }
}

pub(crate) fn rt_call(h: &mut Harness) -> Result<Measured, Failure> {
    rt_call_with(h, Duration::ZERO)
}

pub(crate) fn rt_call_spin(h: &mut Harness) -> Result<Measured, Failure> {
    rt_call_with(h, CHANNEL_SPIN)
}

pub(crate) fn rt_call_spin_peer(p: &Peer) -> Result<(), Failure> {
    peer_with(p, CHANNEL_SPIN)
}

pub(crate) fn peer(p: &Peer) -> Result<(), Failure> {
    peer_with(p, Duration::ZERO)
}

pub(crate) fn main_link_request(h: &mut Harness) -> Result<Measured, Failure> {
    let host = spawn_plugin(h, |_| Ok(()))?;
    let (warmup, iters) = h.iterations(Pace::Blocking);
    let summary = time_round_trips(warmup, iters, |seq| {
        let Pong(reply) = host
            .main_link()
            .request_timeout(&Ping(seq), STALL_LIMIT)
            .map_err(|e| link_error("main-link request", e))?;
        Ok(reply)
    })?;
    stop_plugin(host)?;
    Ok(Measured::latency(
        summary,
        "MainLink::request_timeout: handler on the plugin's listener thread, reply to a waiting host thread",
    ))
}

pub(crate) fn main_link_stream(h: &mut Harness) -> Result<Measured, Failure> {
    let n = h.stream_messages();
    let (done_tx, done_rx) = mpsc::channel();
    let host = spawn_plugin(h, move |link| {
        let next = AtomicU64::new(0);
        let done = Mutex::new(done_tx);
        link.on(move |Tick(i), _| {
            let expected = next.fetch_add(1, Ordering::Relaxed);
            let outcome = if i != expected {
                Some(Err(format!("tick {i} arrived when {expected} was due")))
            } else if expected + 1 == n {
                Some(Ok(()))
            } else {
                None
            };
            if let (Some(outcome), Ok(done)) = (outcome, done.lock()) {
                let _ = done.send(outcome);
            }
        })
    })?;
    let start = Instant::now();
    host.main_link()
        .send(&SendTicks(n))
        .map_err(|e| link_error("asking for the stream", e))?;
    match done_rx.recv_timeout(STALL_LIMIT * 6) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(Failure::new(e)),
        Err(_) => return Err(Failure::new("the stream did not arrive in time")),
    }
    let seconds = start.elapsed().as_secs_f64();
    stop_plugin(host)?;
    Ok(Measured {
        measurement: Measurement::Rate { messages: n, seconds },
        note: format!("{n} Tick(u64) messages plugin -> host, each sent with MainLink::send, each dispatched to a handler"),
    })
}
