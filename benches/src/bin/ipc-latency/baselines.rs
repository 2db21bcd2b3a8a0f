//! What the layers are compared with, measured in the same run: a raw futex
//! and pure spinning on a shared page (the floor for a blocking and a
//! spinning round trip), and a Unix stream socket (what LMMS uses today)
//! for round trips, bulk streaming and small messages.

use crate::harness::{
    stream_chunk, stream_chunks, time_round_trips, time_stream, Harness, Measured, Pace, Peer,
    PeerProcess, LIVENESS_INTERVAL, QUIT, STALL_LIMIT, STREAM_CHUNK,
};
use ipc_benches::report::Measurement;
use ipc_benches::sys::{self, SharedPage, Socket, Woken};
use ipc_benches::{Context, Failure};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

// ---------------------------------------------------------------------------
// Raw futex and spin ping-pong on a shared page.
//
// Each direction has a 32-bit sequence word and an 8-byte payload on cache
// lines of their own (128-byte spacing, as in the channel's layout, so the
// adjacent-line prefetcher does not pair them). The sender copies the payload
// in, stores the sequence number (release) and, when blocking, FUTEX_WAKEs the
// word unconditionally; the receiver waits until the word holds the number
// it expects (acquire) and copies the payload out.

const REQUEST_WORD: usize = 0;
const REQUEST_DATA: usize = 128;
const REPLY_WORD: usize = 256;
const REPLY_DATA: usize = 384;
const RAW_PAGE: usize = 4096;
/// Spins between two liveness checks (and yields) in the pure-spin baseline.
const SPINS_PER_CHECK: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Futex,
    Spin,
}

/// Waits until `word` holds `target`, sleeping on it (futex) or spinning.
/// `alive` is asked every [`LIVENESS_INTERVAL`] (futex) or
/// [`SPINS_PER_CHECK`] spins whether waiting still makes sense; a spinner
/// also yields the CPU then, so that `--pin same` makes progress.
fn wait_for_word(
    word: &AtomicU32,
    target: u32,
    how: Waiting,
    alive: &mut dyn FnMut() -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut spins: u32 = 0;
    let mut deadline: Option<Instant> = None;
    let mut check = |alive: &mut dyn FnMut() -> Result<(), Failure>| {
        alive()?;
        let now = Instant::now();
        if now > *deadline.get_or_insert(now + STALL_LIMIT) {
            return Err(Failure::new(format!(
                "no answer from the other process for {STALL_LIMIT:?}"
            )));
        }
        Ok(())
    };
    loop {
        let seen = word.load(Ordering::Acquire);
        if seen == target {
            return Ok(());
        }
        match how {
            Waiting::Futex => {
                if sys::futex_wait(word, seen, LIVENESS_INTERVAL).context("FUTEX_WAIT")?
                    == Woken::TimedOut
                {
                    check(alive)?;
                }
            }
            Waiting::Spin => {
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins % SPINS_PER_CHECK == 0 {
                    check(alive)?;
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Publishes sequence number `seq` on `word`, waking a futex sleeper.
fn post_word(word: &AtomicU32, seq: u32, how: Waiting) -> Result<(), Failure> {
    word.store(seq, Ordering::Release);
    if how == Waiting::Futex {
        sys::futex_wake(word).context("FUTEX_WAKE")?;
    }
    Ok(())
}

/// The sequence number of round trip `seq` (0 is the page's initial value).
fn word_seq(seq: u64) -> u32 {
    (seq as u32).wrapping_add(1)
}

/// A shared page of `len` bytes and the peer that inherits it.
fn spawn_with_page(h: &mut Harness, len: usize) -> Result<(SharedPage, PeerProcess), Failure> {
    let page = SharedPage::create(len).context("creating the shared page")?;
    let peer = {
        let inherited = page
            .inheritable()
            .context("passing the shared page to the peer")?;
        h.spawn_peer(&inherited.arg())?
    };
    Ok((page, peer))
}

fn raw_pingpong(h: &mut Harness, how: Waiting) -> Result<Measured, Failure> {
    let (page, mut peer) = spawn_with_page(h, RAW_PAGE)?;
    let (request_word, reply_word) = (page.word(REQUEST_WORD), page.word(REPLY_WORD));
    let (warmup, iters) = h.iterations(match how {
        Waiting::Futex => Pace::Blocking,
        Waiting::Spin => Pace::Spinning,
    });
    let summary = {
        let mut alive = || peer.check_alive();
        let mut reply = [0u8; 8];
        time_round_trips(warmup, iters, |seq| {
            page.write(REQUEST_DATA, &seq.to_le_bytes());
            post_word(request_word, word_seq(seq), how)?;
            wait_for_word(reply_word, word_seq(seq), how, &mut alive)?;
            page.read(REPLY_DATA, &mut reply);
            Ok(u64::from_le_bytes(reply))
        })?
    };
    page.write(REQUEST_DATA, &QUIT.to_le_bytes());
    post_word(request_word, word_seq(warmup + iters), how)?;
    peer.finish()?;
    let note = match how {
        Waiting::Futex => "FUTEX_WAIT/FUTEX_WAKE (shared), wake on every post",
        Waiting::Spin => "spin on the word, no system call",
    };
    Ok(Measured::latency(summary, note))
}

fn raw_pingpong_peer(p: &Peer, how: Waiting) -> Result<(), Failure> {
    let page = SharedPage::open_inherited(&p.arg).context("mapping the shared page")?;
    let (request_word, reply_word) = (page.word(REQUEST_WORD), page.word(REPLY_WORD));
    let mut alive = || p.check_parent();
    let mut request = [0u8; 8];
    for seq in 0u64.. {
        wait_for_word(request_word, word_seq(seq), how, &mut alive)?;
        page.read(REQUEST_DATA, &mut request);
        let value = u64::from_le_bytes(request);
        if value == QUIT {
            break;
        }
        page.write(REPLY_DATA, &(!value).to_le_bytes());
        post_word(reply_word, word_seq(seq), how)?;
    }
    Ok(())
}

pub(crate) fn futex_pingpong(h: &mut Harness) -> Result<Measured, Failure> {
    raw_pingpong(h, Waiting::Futex)
}

pub(crate) fn futex_pingpong_peer(p: &Peer) -> Result<(), Failure> {
    raw_pingpong_peer(p, Waiting::Futex)
}

pub(crate) fn spin_pingpong(h: &mut Harness) -> Result<Measured, Failure> {
    raw_pingpong(h, Waiting::Spin)
}

pub(crate) fn spin_pingpong_peer(p: &Peer) -> Result<(), Failure> {
    raw_pingpong_peer(p, Waiting::Spin)
}

// ---------------------------------------------------------------------------
// The spinning floor of an LMMS period.
//
// What any spinning transport must do for one `RemotePlugin::process` of
// the `lmms_*` rows (2 channels x 256 frames of `f32`, interleaved): the
// host copies the period's input into shared memory and posts a word, the
// plugin (spinning) copies the input to the output in shared memory (the
// bench's effect) and posts back, the host copies the output out. No
// library, no message: the same two words as `baseline_spin_pingpong` plus
// the audio, so `lmms_process_spin` can be read against the least its
// copies cost on this machine, and this row against the socket replica.

/// Where the audio starts (a page of its own, after the two words).
const AUDIO_IN: usize = 4096;
/// 2 channels x 256 frames of `f32`, as the `lmms_*` rows.
const AUDIO_BYTES: usize = 2 * 256 * 4;
const AUDIO_OUT: usize = AUDIO_IN + AUDIO_BYTES;
const AUDIO_PAGE: usize = AUDIO_OUT + AUDIO_BYTES;

pub(crate) fn spin_audio_process(h: &mut Harness) -> Result<Measured, Failure> {
    let (page, mut peer) = spawn_with_page(h, AUDIO_PAGE)?;
    let (request_word, reply_word) = (page.word(REQUEST_WORD), page.word(REPLY_WORD));
    let (warmup, iters) = h.iterations(Pace::Spinning);
    // The period's input: a ramp, its first 8 bytes the sequence number
    // (which the peer's answer must carry inverted).
    let mut input = [0u8; AUDIO_BYTES];
    for (i, sample) in input.chunks_exact_mut(4).enumerate() {
        sample.copy_from_slice(&(i as f32 / 512.0).to_le_bytes());
    }
    let mut output = [0u8; AUDIO_BYTES];
    let summary = {
        let mut alive = || peer.check_alive();
        time_round_trips(warmup, iters, |seq| {
            input[..8].copy_from_slice(&seq.to_le_bytes());
            page.write(AUDIO_IN, &input);
            post_word(request_word, word_seq(seq), Waiting::Spin)?;
            wait_for_word(reply_word, word_seq(seq), Waiting::Spin, &mut alive)?;
            page.read(AUDIO_OUT, &mut output);
            if output[8..] != input[8..] {
                return Err(Failure::new(format!(
                    "period {seq}: the output is not the input"
                )));
            }
            Ok(u64::from_le_bytes(output[..8].try_into().expect("8 bytes")))
        })?
    };
    page.write(AUDIO_IN, &QUIT.to_le_bytes());
    post_word(request_word, word_seq(warmup + iters), Waiting::Spin)?;
    peer.finish()?;
    Ok(Measured::latency(
        summary,
        "the floor of lmms_process_spin: spin on a word, 2 x 256 floats copied in, input to output and out through shared memory, no library",
    ))
}

pub(crate) fn spin_audio_process_peer(p: &Peer) -> Result<(), Failure> {
    let page = SharedPage::open_inherited(&p.arg).context("mapping the shared audio page")?;
    let (request_word, reply_word) = (page.word(REQUEST_WORD), page.word(REPLY_WORD));
    let mut alive = || p.check_parent();
    let mut period = [0u8; AUDIO_BYTES];
    for seq in 0u64.. {
        wait_for_word(request_word, word_seq(seq), Waiting::Spin, &mut alive)?;
        // The effect: input to output, as the plugin in the shared segment.
        page.read(AUDIO_IN, &mut period);
        let value = u64::from_le_bytes(period[..8].try_into().expect("8 bytes"));
        if value == QUIT {
            break;
        }
        period[..8].copy_from_slice(&(!value).to_le_bytes());
        page.write(AUDIO_OUT, &period);
        post_word(reply_word, word_seq(seq), Waiting::Spin)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Unix stream socket.

/// A socket pair whose second end the peer inherits; returns our end.
fn spawn_with_socket(h: &mut Harness) -> Result<(Socket, PeerProcess), Failure> {
    let (ours, theirs) = Socket::pair().context("creating a Unix socket pair")?;
    let peer = {
        let inherited = theirs
            .inheritable()
            .context("passing the socket to the peer")?;
        h.spawn_peer(&inherited.arg())?
    };
    // Only the peer holds the other end now, so its exit reads as EOF here.
    drop(theirs);
    ours.set_read_timeout(Some(STALL_LIMIT))
        .context("setting the socket's read timeout")?;
    Ok((ours, peer))
}

/// The end of the socket the measuring process passed to this peer.
fn inherited_socket(p: &Peer) -> Result<Socket, Failure> {
    Socket::open_inherited(&p.arg).context("opening the inherited socket")
}

fn socket_error(what: &str, e: io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            Failure::new(format!("{what}: the other process closed the socket"))
        }
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Failure::new(format!(
            "{what}: no answer from the other process for {STALL_LIMIT:?}"
        )),
        _ => Failure::new(format!("{what}: {e}")),
    }
}

pub(crate) fn uds_pingpong(h: &mut Harness) -> Result<Measured, Failure> {
    let (mut socket, peer) = spawn_with_socket(h)?;
    let (warmup, iters) = h.iterations(Pace::Blocking);
    let mut reply = [0u8; 8];
    let summary = time_round_trips(warmup, iters, |seq| {
        socket
            .write_all(&seq.to_le_bytes())
            .map_err(|e| socket_error("sending a request", e))?;
        socket
            .read_exact(&mut reply)
            .map_err(|e| socket_error("reading a reply", e))?;
        Ok(u64::from_le_bytes(reply))
    })?;
    drop(socket);
    peer.finish()?;
    Ok(Measured::latency(
        summary,
        "socketpair(AF_UNIX, SOCK_STREAM)",
    ))
}

pub(crate) fn uds_pingpong_peer(p: &Peer) -> Result<(), Failure> {
    let mut socket = inherited_socket(p)?;
    let mut request = [0u8; 8];
    loop {
        match socket.read_exact(&mut request) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(socket_error("reading a request", e)),
        }
        let reply = !u64::from_le_bytes(request);
        socket
            .write_all(&reply.to_le_bytes())
            .map_err(|e| socket_error("sending a reply", e))?;
    }
}

pub(crate) fn uds_stream(h: &mut Harness) -> Result<Measured, Failure> {
    let (mut socket, peer) = spawn_with_socket(h)?;
    let mut buf = vec![0u8; STREAM_CHUNK];
    let mut read = |buf: &mut [u8]| loop {
        match socket.read(buf) {
            Ok(0) => return Err(Failure::new("the stream ended early")),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(socket_error("reading the stream", e)),
        }
    };
    let (measurement, spread) = time_stream(&mut buf, &mut read)?;
    // The producer closes after the last byte.
    match socket.read(&mut buf) {
        Ok(0) => {}
        Ok(_) => return Err(Failure::new("the stream carried more than expected")),
        Err(e) => return Err(socket_error("reading the end of the stream", e)),
    }
    peer.finish()?;
    let note = format!(
        "{spread}; {} KiB writes and reads, default socket buffers",
        STREAM_CHUNK >> 10
    );
    Ok(Measured { measurement, note })
}

pub(crate) fn uds_stream_peer(p: &Peer) -> Result<(), Failure> {
    let mut socket = inherited_socket(p)?;
    let chunk = stream_chunk();
    for _ in 0..stream_chunks() {
        socket
            .write_all(&chunk)
            .map_err(|e| socket_error("writing the stream", e))?;
    }
    Ok(())
}

/// Bytes of one message in `baseline_uds_msgs`: what a `Tick` takes on the
/// main link (16-byte envelope, 9-byte payload), the benchmark it is the
/// baseline of.
const SMALL_MESSAGE: usize = 25;

pub(crate) fn uds_msgs(h: &mut Harness) -> Result<Measured, Failure> {
    let (mut socket, peer) = spawn_with_socket(h)?;
    let n = h.stream_messages();
    socket
        .write_all(&n.to_le_bytes())
        .map_err(|e| socket_error("sending the count", e))?;
    let mut message = [0u8; SMALL_MESSAGE];
    let start = Instant::now();
    for i in 0..n {
        socket
            .read_exact(&mut message)
            .map_err(|e| socket_error("reading a message", e))?;
        if message[..8] != i.to_le_bytes() {
            return Err(Failure::new(format!("message {i} arrived out of order")));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    drop(socket);
    peer.finish()?;
    Ok(Measured {
        measurement: Measurement::Rate {
            messages: n,
            seconds,
        },
        note: format!("{n} messages of {SMALL_MESSAGE} bytes, one write(2) and one read(2) each"),
    })
}

pub(crate) fn uds_msgs_peer(p: &Peer) -> Result<(), Failure> {
    let mut socket = inherited_socket(p)?;
    let mut count = [0u8; 8];
    socket
        .read_exact(&mut count)
        .map_err(|e| socket_error("reading the count", e))?;
    let mut message = [0u8; SMALL_MESSAGE];
    for i in 0..u64::from_le_bytes(count) {
        message[..8].copy_from_slice(&i.to_le_bytes());
        socket
            .write_all(&message)
            .map_err(|e| socket_error("writing a message", e))?;
    }
    Ok(())
}
