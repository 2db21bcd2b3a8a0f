//! Layer II, typed messages: a ping-pong of a three-field request and a
//! one-field reply over two channels, blocking, compared with the raw
//! channel ping-pong.

use crate::channel::{await_ready, open_segment, send_ready, spawn_with_segment, PINGPONG_RING};
use crate::harness::{time_round_trips, Harness, Measured, Pace, Peer, QUIT, STALL_LIMIT};
use ipc_benches::{Context, Failure};
use ipc_msgpack::{recv, recv_timeout, send, Flags, Limits};

/// A typed request of three fields and its typed reply.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct TypedRequest {
    seq: u64,
    gain: f32,
    channel: u16,
}

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct TypedReply {
    seq: u64,
}

ipc_msgpack::message!(TypedRequest = 1, TypedReply = 2);

fn msgpack_error(what: &str, e: ipc_msgpack::Error) -> Failure {
    Failure::new(format!("{what}: {e}"))
}

pub(crate) fn pingpong(h: &mut Harness) -> Result<Measured, Failure> {
    let (segment, mut peer) = spawn_with_segment(h, &[PINGPONG_RING, PINGPONG_RING])?;
    let mut requests = segment.writer(0).context("claiming the request writer")?;
    let mut replies = segment.reader(1).context("claiming the reply reader")?;
    await_ready(&mut replies, &mut peer)?;
    let (warmup, iters) = h.iterations(Pace::Blocking);
    let limits = Limits::default();
    let summary = time_round_trips(warmup, iters, |seq| {
        let request = TypedRequest {
            seq,
            gain: 0.5,
            channel: 1,
        };
        send(&mut requests, &request, 0, Flags::REQUEST)
            .map_err(|e| msgpack_error("sending a request", e))?;
        let (_, reply) = recv_timeout::<TypedReply>(&mut replies, &limits, STALL_LIMIT)
            .map_err(|e| msgpack_error("reading a reply", e))?;
        Ok(reply.seq)
    })?;
    let quit = TypedRequest {
        seq: QUIT,
        gain: 0.0,
        channel: 0,
    };
    send(&mut requests, &quit, 0, Flags::NONE).map_err(|e| msgpack_error("sending quit", e))?;
    peer.finish()?;
    Ok(Measured::latency(
        summary,
        "typed request {u64, f32, u16} and reply {u64} over two channels, blocking",
    ))
}

pub(crate) fn pingpong_peer(p: &Peer) -> Result<(), Failure> {
    let segment = open_segment(p)?;
    let mut requests = segment.reader(0).context("claiming the request reader")?;
    let mut replies = segment.writer(1).context("claiming the reply writer")?;
    send_ready(&mut replies)?;
    let limits = Limits::default();
    loop {
        let (_, request) = recv::<TypedRequest>(&mut requests, &limits)
            .map_err(|e| msgpack_error("reading a request", e))?;
        if request.seq == QUIT {
            return Ok(());
        }
        send(
            &mut replies,
            &TypedReply { seq: !request.seq },
            0,
            Flags::REPLY,
        )
        .map_err(|e| msgpack_error("sending a reply", e))?;
    }
}
