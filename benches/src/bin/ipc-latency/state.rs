//! Big states: a 64 MiB `serde_bytes` blob host -> plugin -> host through
//! the main link (a request and its reply, the default 1 MiB rings, so it
//! streams), decoded into a fresh `Vec<u8>` each way, or into buffers kept
//! from the last round trip with `BytesInto`; against four `memcpy`s of
//! 64 MiB into fresh buffers (the copies any transfer into new memory pays:
//! into and out of the ring, each way) or into warm ones.

use crate::harness::{Harness, Measured, Peer, STALL_LIMIT};
use ipc_benches::report::LatencySummary;
use ipc_benches::Failure;
use ipc_link::{
    expect_reply_id, BytesInto, Ended, Host, LinkConfig, LinkError, Plugin, Stop, Waited,
};
use std::hint::black_box;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// The size of the state.
const STATE_LEN: usize = 64 << 20;

/// A state sent to be decoded into a fresh vector (`State`), or into a
/// kept buffer (`StateInto`); the plugin answers each with the same bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct State(#[serde(with = "serde_bytes")] Vec<u8>);

#[derive(serde::Serialize, serde::Deserialize)]
struct StateBack(#[serde(with = "serde_bytes")] Vec<u8>);

/// `StateInto` and its reply, sent from borrowed bytes.
#[derive(serde::Serialize)]
struct StateInto<'a>(#[serde(with = "serde_bytes")] &'a [u8]);

#[derive(serde::Serialize)]
struct StateIntoBack<'a>(#[serde(with = "serde_bytes")] &'a [u8]);

/// `State` sent from borrowed bytes (same ID).
#[derive(serde::Serialize)]
struct StateRef<'a>(#[serde(with = "serde_bytes")] &'a [u8]);

ipc_link::message!(State = 40, StateBack = 41, StateRef<'_> = 40);
ipc_link::message!(StateInto<'_> = 42, StateIntoBack<'_> = 43);

/// Round trips: a tenth of `--iters / 1000`, at least 3 (the smoke), at
/// most 10; each moves 256 MiB.
fn round_trips(h: &Harness) -> u64 {
    (h.iters() / 10_000).clamp(3, 10)
}

/// Times `iters` calls of `f` after one untimed.
fn time_each(
    iters: u64,
    mut f: impl FnMut(u64) -> Result<(), Failure>,
) -> Result<LatencySummary, Failure> {
    f(0)?;
    let mut samples = Vec::new();
    for i in 1..=iters {
        let t = Instant::now();
        f(i)?;
        samples.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
    LatencySummary::from_samples(&mut samples).ok_or_else(|| Failure::new("no iterations measured"))
}

/// The state sent in round trip `i`: its first eight bytes say which.
fn stamp(state: &mut [u8], i: u64) {
    state[..8].copy_from_slice(&i.to_le_bytes());
}

fn check(state: &[u8], i: u64) -> Result<(), Failure> {
    let ok = state.len() == STATE_LEN
        && state[..8] == i.to_le_bytes()
        && state[STATE_LEN - 1] == (STATE_LEN - 1) as u8;
    if ok {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "round trip {i}: the state came back wrong ({} bytes)",
            state.len()
        )))
    }
}

fn new_state() -> Vec<u8> {
    (0..STATE_LEN).map(|i| i as u8).collect()
}

fn link_error(what: &str, e: LinkError) -> Failure {
    Failure::new(format!("{what}: {e}"))
}

fn spawn_plugin(h: &Harness) -> Result<Host, Failure> {
    Host::spawn(h.peer_command()?, &LinkConfig::default(), |_| Ok(()))
        .map_err(|e| link_error("starting the plugin process", e))
}

fn stop_plugin(host: Host) -> Result<(), Failure> {
    match host
        .shutdown_timeout(STALL_LIMIT)
        .map_err(|e| link_error("stopping the plugin", e))?
    {
        ended if ended.is_clean() => Ok(()),
        Ended::Exited(status) | Ended::Killed(status) => Err(Failure::new(format!(
            "the plugin process did not end cleanly ({status})"
        ))),
    }
}

/// Four copies of the state, each into a freshly allocated buffer (a
/// 64 MiB allocation is a fresh mapping: every page faults on first touch).
pub(crate) fn memcpy_fresh(h: &mut Harness) -> Result<Measured, Failure> {
    let source = new_state();
    let summary = time_each(round_trips(h), |_| {
        let mut from = source.as_slice();
        let mut copies = Vec::with_capacity(4);
        for _ in 0..4 {
            let mut fresh = Vec::with_capacity(STATE_LEN);
            fresh.extend_from_slice(from);
            copies.push(fresh);
            from = copies.last().map_or(&[][..], Vec::as_slice);
        }
        black_box(&copies);
        Ok(())
    })?;
    Ok(Measured::latency(
        summary,
        "4 x memcpy of 64 MiB, each into a new Vec (page faults included)",
    ))
}

/// Four copies of the state between buffers touched before.
pub(crate) fn memcpy_warm(h: &mut Harness) -> Result<Measured, Failure> {
    let source = new_state();
    let mut buffers: Vec<Vec<u8>> = (0..4).map(|_| vec![0u8; STATE_LEN]).collect();
    let summary = time_each(round_trips(h), |_| {
        buffers[0].copy_from_slice(&source);
        for k in 1..4 {
            let (done, rest) = buffers.split_at_mut(k);
            rest[0].copy_from_slice(&done[k - 1]);
        }
        black_box(&buffers);
        Ok(())
    })?;
    Ok(Measured::latency(
        summary,
        "4 x memcpy of 64 MiB between buffers written before",
    ))
}

/// The state there and back, decoded into a fresh `Vec` each way.
pub(crate) fn roundtrip_fresh(h: &mut Harness) -> Result<Measured, Failure> {
    let host = spawn_plugin(h)?;
    let mut state = new_state();
    let summary = time_each(round_trips(h), |i| {
        stamp(&mut state, i);
        let StateBack(back) = host
            .main_link()
            .request_timeout(&StateRef(&state), STALL_LIMIT)
            .map_err(|e| link_error("the state request", e))?;
        check(&back, i)
    })?;
    stop_plugin(host)?;
    Ok(Measured::latency(
        summary,
        "MainLink::request_timeout(State) -> on_request -> StateBack: 64 MiB serde_bytes each way through 1 MiB rings, each decoded into a new Vec",
    ))
}

/// The state there and back, decoded with `BytesInto` into a buffer kept
/// from the last round trip on each side.
pub(crate) fn roundtrip_into(h: &mut Harness) -> Result<Measured, Failure> {
    let host = spawn_plugin(h)?;
    let mut state = new_state();
    let mut kept = Some(Vec::<u8>::new());
    let summary = time_each(round_trips(h), |i| {
        stamp(&mut state, i);
        let mut buffer = kept.take().unwrap_or_default();
        let back = host
            .main_link()
            .request_with_timeout(
                &StateInto(&state),
                move |header, payload| {
                    expect_reply_id(header, 43)?;
                    payload
                        .decode_seed(BytesInto(&mut buffer))
                        .map_err(|e| LinkError::from_message(e, Waited::Reply))?;
                    Ok(buffer)
                },
                STALL_LIMIT,
            )
            .map_err(|e| link_error("the state request", e))?;
        check(&back, i)?;
        kept = Some(back);
        Ok(())
    })?;
    stop_plugin(host)?;
    Ok(Measured::latency(
        summary,
        "MainLink::request_with_timeout(StateInto) -> on_raw -> reply: 64 MiB each way through 1 MiB rings, decoded with BytesInto into the buffer of the last round trip",
    ))
}

/// The plugin: echoes `State` through fresh vectors, and `StateInto`
/// through a buffer it keeps.
pub(crate) fn peer(p: &Peer) -> Result<(), Failure> {
    let kept = Arc::new(Mutex::new(Vec::<u8>::new()));
    let back = kept.clone();
    let plugin = Plugin::connect(&p.arg, &LinkConfig::default(), move |link| {
        link.on_request(|State(v)| StateBack(v))?;
        link.on_raw(
            42,
            move |_, payload| {
                let mut buffer =
                    std::mem::take(&mut *kept.lock().unwrap_or_else(PoisonError::into_inner));
                payload.decode_seed(BytesInto(&mut buffer))?;
                Ok(buffer)
            },
            move |buffer: Vec<u8>, incoming| {
                let _ = incoming.reply(&StateIntoBack(&buffer));
                *back.lock().unwrap_or_else(PoisonError::into_inner) = buffer;
            },
        )
    })
    .map_err(|e| link_error("connecting to the host", e))?;
    match plugin.wait_for_stop() {
        Stop::Quit => Ok(()),
        Stop::HostGone(e) => Err(link_error("the host went away", e)),
    }
}

/// The memcpy baselines run in this process alone.
pub(crate) fn no_peer(_: &Peer) -> Result<(), Failure> {
    Ok(())
}
