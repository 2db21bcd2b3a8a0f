//! Layer I, the byte channel under test: 8-byte ping-pong (blocking and
//! with a bounded spin) and bulk streaming, with both sides' wait and
//! wake-up counters in the note. Also the start-up handshake over a channel
//! (`await_ready`/`send_ready`) that the message layer's benchmark uses.

use crate::harness::{
    stream_chunk, stream_chunks, time_round_trips, time_stream, Harness, Measured, Pace, Peer,
    PeerProcess, LIVENESS_INTERVAL, STALL_LIMIT, STREAM_CHUNK,
};
use ipc_benches::{Context, Failure};
use ipc_channel_shm::{Error as ChannelError, Reader, Segment, Stats, Writer};
use std::time::{Duration, Instant};

/// Ring of each ping-pong channel: room for many 8-byte messages.
pub(crate) const PINGPONG_RING: usize = 4096;
/// The bounded spin of `channel_pingpong_spin`, `channel_stream` and
/// `rt_call_spin`.
pub(crate) const CHANNEL_SPIN: Duration = Duration::from_micros(50);
/// Ring of `channel_stream`: two blobs, so the producer fills one while the
/// consumer drains the other.
const STREAM_RING: usize = 2 * STREAM_CHUNK;

/// The message a peer sends once its endpoints are claimed: one cache line of
/// this byte, so that what follows keeps its alignment in the ring.
const READY: u8 = 0x52;
const READY_LEN: usize = 64;

pub(crate) fn channel_error(what: &str, e: ChannelError) -> Failure {
    match e {
        ChannelError::PeerDied => Failure::new(format!("{what}: the other process died")),
        e => Failure::new(format!("{what}: {e}")),
    }
}

/// Creates a segment with rings of `capacities`; returns it with the peer
/// started on its connection string.
pub(crate) fn spawn_with_segment(
    h: &mut Harness,
    capacities: &[usize],
) -> Result<(Segment, PeerProcess), Failure> {
    let segment = Segment::create(capacities).context("creating the shared segment")?;
    let connection = segment
        .connection_string()
        .ok_or_else(|| Failure::new("the segment has no connection string"))?;
    let peer = h.spawn_peer(connection)?;
    Ok((segment, peer))
}

/// The peer's side of [`spawn_with_segment`]: the segment it was started on.
pub(crate) fn open_segment(p: &Peer) -> Result<Segment, Failure> {
    Segment::open(&p.arg).context("opening the shared segment")
}

/// Waits until the peer has sent [`READY`] (once it has claimed its
/// endpoints, the channel itself notices its death), checking that it still
/// runs meanwhile.
pub(crate) fn await_ready(reader: &mut Reader, peer: &mut PeerProcess) -> Result<(), Failure> {
    let deadline = Instant::now() + STALL_LIMIT;
    let mut message = [0u8; READY_LEN];
    loop {
        match reader.read_exact_into_timeout(&mut message, LIVENESS_INTERVAL) {
            Ok(()) if message.iter().all(|&b| b == READY) => return Ok(()),
            Ok(()) => return Err(Failure::new("the peer sent something else than READY")),
            Err(ChannelError::Timeout) => {
                peer.check_alive()?;
                if Instant::now() > deadline {
                    return Err(Failure::new(format!(
                        "the peer was not ready after {STALL_LIMIT:?}"
                    )));
                }
            }
            Err(e) => return Err(channel_error("waiting for the peer", e)),
        }
    }
}

pub(crate) fn send_ready(writer: &mut Writer) -> Result<(), Failure> {
    send_blob(writer, &[READY; READY_LEN]).map_err(|e| channel_error("sending READY", e))
}

/// Appends `bytes` and commits them as one blob (one wake-up at most).
#[inline]
fn send_blob(writer: &mut Writer, bytes: &[u8]) -> Result<(), ChannelError> {
    writer.append(bytes)?;
    writer.commit()
}

/// How often the endpoints of one process waited, slept and woke the
/// other side. A peer sends its own at the end of a channel benchmark, so
/// the table can show both sides.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    waits: u64,
    spin_hits: u64,
    sleeps: u64,
    signals: u64,
}

impl Counters {
    const LEN: usize = 32;

    fn of(stats: &[Stats]) -> Counters {
        stats.iter().fold(Counters::default(), |c, s| Counters {
            waits: c.waits + s.waits,
            spin_hits: c.spin_hits + s.spin_hits,
            sleeps: c.sleeps + s.sleeps,
            signals: c.signals + s.signals,
        })
    }

    fn to_bytes(self) -> [u8; Counters::LEN] {
        let mut out = [0u8; Counters::LEN];
        for (chunk, v) in
            out.chunks_exact_mut(8)
                .zip([self.waits, self.spin_hits, self.sleeps, self.signals])
        {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn from_bytes(bytes: &[u8; Counters::LEN]) -> Counters {
        let v = |i: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[8 * i..8 * i + 8]);
            u64::from_le_bytes(word)
        };
        Counters {
            waits: v(0),
            spin_hits: v(1),
            sleeps: v(2),
            signals: v(3),
        }
    }
}

/// The peer's last message: its counters.
fn send_counters(writer: &mut Writer, counters: Counters) -> Result<(), Failure> {
    send_blob(writer, &counters.to_bytes()).map_err(|e| channel_error("sending the counters", e))
}

fn receive_counters(reader: &mut Reader) -> Result<Counters, Failure> {
    let mut bytes = [0u8; Counters::LEN];
    reader
        .read_exact_into(&mut bytes)
        .map_err(|e| channel_error("reading the peer's counters", e))?;
    Ok(Counters::from_bytes(&bytes))
}

fn pingpong_with(h: &mut Harness, spin: Duration) -> Result<Measured, Failure> {
    let (segment, mut peer) = spawn_with_segment(h, &[PINGPONG_RING, PINGPONG_RING])?;
    let mut requests = segment.writer(0).context("claiming the request writer")?;
    let mut replies = segment.reader(1).context("claiming the reply reader")?;
    requests.set_spin(spin);
    replies.set_spin(spin);
    await_ready(&mut replies, &mut peer)?;
    let (warmup, iters) = h.iterations(Pace::of_spin(spin));
    let mut reply = [0u8; 8];
    let summary = time_round_trips(warmup, iters, |seq| {
        send_blob(&mut requests, &seq.to_le_bytes())
            .map_err(|e| channel_error("sending a request", e))?;
        replies
            .read_exact_into(&mut reply)
            .map_err(|e| channel_error("reading a reply", e))?;
        Ok(u64::from_le_bytes(reply))
    })?;
    let here = Counters::of(&[requests.stats(), replies.stats()]);
    // Closing the request channel tells the peer to report and exit.
    drop(requests);
    let there = receive_counters(&mut replies)?;
    drop(replies);
    peer.finish()?;
    let per_trip = |n: u64| n as f64 / (warmup + iters) as f64;
    let mut note = format!(
        "ring {PINGPONG_RING} B; per round trip, here/peer: {:.2}/{:.2} sleeps, {:.2}/{:.2} wakes sent",
        per_trip(here.sleeps),
        per_trip(there.sleeps),
        per_trip(here.signals),
        per_trip(there.signals)
    );
    if !spin.is_zero() {
        let hit_rate = |c: Counters| c.spin_hits as f64 / c.waits.max(1) as f64;
        note = format!(
            "spin {} us, {note}; waits ended by the spin: {:.1}%/{:.1}%",
            spin.as_micros(),
            100.0 * hit_rate(here),
            100.0 * hit_rate(there)
        );
    }
    Ok(Measured::latency(summary, note))
}

fn pingpong_peer_with(p: &Peer, spin: Duration) -> Result<(), Failure> {
    let segment = open_segment(p)?;
    let mut requests = segment.reader(0).context("claiming the request reader")?;
    let mut replies = segment.writer(1).context("claiming the reply writer")?;
    requests.set_spin(spin);
    replies.set_spin(spin);
    send_ready(&mut replies)?;
    let mut request = [0u8; 8];
    loop {
        match requests.read_exact_into(&mut request) {
            Ok(()) => {}
            Err(ChannelError::Closed) => {
                let counters = Counters::of(&[requests.stats(), replies.stats()]);
                return send_counters(&mut replies, counters);
            }
            Err(e) => return Err(channel_error("reading a request", e)),
        }
        let reply = !u64::from_le_bytes(request);
        send_blob(&mut replies, &reply.to_le_bytes())
            .map_err(|e| channel_error("sending a reply", e))?;
    }
}

pub(crate) fn pingpong(h: &mut Harness) -> Result<Measured, Failure> {
    pingpong_with(h, Duration::ZERO)
}

pub(crate) fn pingpong_peer(p: &Peer) -> Result<(), Failure> {
    pingpong_peer_with(p, Duration::ZERO)
}

pub(crate) fn pingpong_spin(h: &mut Harness) -> Result<Measured, Failure> {
    pingpong_with(h, CHANNEL_SPIN)
}

pub(crate) fn pingpong_spin_peer(p: &Peer) -> Result<(), Failure> {
    pingpong_peer_with(p, CHANNEL_SPIN)
}

pub(crate) fn stream(h: &mut Harness) -> Result<Measured, Failure> {
    let (segment, mut peer) = spawn_with_segment(h, &[STREAM_RING])?;
    let mut reader = segment.reader(0).context("claiming the stream reader")?;
    reader.set_spin(CHANNEL_SPIN);
    await_ready(&mut reader, &mut peer)?;
    let mut buf = vec![0u8; STREAM_CHUNK];
    let mut read = |buf: &mut [u8]| {
        reader
            .read_into(buf)
            .map_err(|e| channel_error("reading the stream", e))
    };
    let (measurement, spread) = time_stream(&mut buf, &mut read)?;
    // The producer reports its counters after the last blob, then closes.
    let there = receive_counters(&mut reader)?;
    match reader.read_into(&mut buf) {
        Err(ChannelError::Closed) => {}
        Ok(_) => return Err(Failure::new("the stream carried more than expected")),
        Err(e) => return Err(channel_error("reading the end of the stream", e)),
    }
    let here = Counters::of(&[reader.stats()]);
    drop(reader);
    peer.finish()?;
    let note = format!(
        "{spread}; ring {} KiB, spin {} us, {} KiB blobs and read_into; \
         reader/writer over {} blobs: {}/{} waits, {}/{} sleeps, {}/{} wakes sent",
        STREAM_RING >> 10,
        CHANNEL_SPIN.as_micros(),
        STREAM_CHUNK >> 10,
        stream_chunks(),
        here.waits,
        there.waits,
        here.sleeps,
        there.sleeps,
        here.signals,
        there.signals
    );
    Ok(Measured { measurement, note })
}

pub(crate) fn stream_peer(p: &Peer) -> Result<(), Failure> {
    let segment = open_segment(p)?;
    let mut writer = segment.writer(0).context("claiming the stream writer")?;
    writer.set_spin(CHANNEL_SPIN);
    send_ready(&mut writer)?;
    let blob = stream_chunk();
    for _ in 0..stream_chunks() {
        send_blob(&mut writer, &blob).map_err(|e| channel_error("writing a blob", e))?;
    }
    let counters = Counters::of(&[writer.stats()]);
    send_counters(&mut writer, counters)
}
