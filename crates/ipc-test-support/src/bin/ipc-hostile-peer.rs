//! A plugin that attacks its host, for `tests/hostile_peer.rs`:
//! `ipc-hostile-peer <role> [args]`, started through `Host::spawn`, finding
//! the link's connection string in `IPC_LINK_CONNECTION` as a plugin does.
//! It reports on stdout, one line per event (the words are in
//! `ipc_test_support::hostile`).
//!
//! Each role is something the host must survive without a panic, a fault
//! or a call that outlives its timeout; see [`USAGE`].

use ipc_channel_shm::{Error as ChannelError, Reader, Segment, Writer};
use ipc_link::protocol::{self, Hello, Welcome};
use ipc_link::{AudioBuffers, LinkConfig, LinkError, MainLink, Plugin, Stop};
use ipc_msgpack::{Flags, Header, Limits, Message, HEADER_LEN};
use ipc_test_support::hostile::{self, XorShift};
use ipc_test_support::link_protocol::*;
use ipc_test_support::raw::{SegmentMemory, CONTROL_BLOCK, SEGMENT_HEADER, TABLE_ENTRY};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: ipc-hostile-peer <role> [args]
roles (the link's connection string comes from IPC_LINK_CONNECTION):
  scribble <seed> <mutations> [<extra>]
        attach, serve honestly for a while, try to resize the memory, then
        overwrite <mutations> random words of the link segment (and of the
        segment <extra>, whose channels it echoes) at random intervals while
        still answering; then exit
  resize [<extra>]
        attach, try to shrink and grow the memory, then serve honestly until
        the host says quit
  huge-hello       a Hello envelope claiming 0xFFFFFFFF bytes, then silence
  partial-hello    a Hello envelope announcing 100 bytes, 3 of them, then silence
  partial-reply    after the handshake, answer one real-time request with an
                   envelope announcing 100 bytes and 3 of them, then silence
  huge-reply       after the handshake, answer one real-time request with an
                   envelope claiming 0xFFFFFFFF bytes, then silence
  partial-main-reply
                   after the handshake, answer one main-link request of ID n
                   (Ping) with an envelope of ID n + 1 (Pong, in the C++
                   test protocol) announcing 100 bytes and sending the 4
                   that begin a [u32, 96-byte string], then silence
  tick-then-partial-reply
                   the same, after sending the host a Tick first (whose
                   handler makes the request, from the listener thread)
  reply-flood      after the handshake, keep the real-time reply ring full of
                   answers to a call the host never made
  no-read          after the handshake, never read a request
  ask-no-read      after the handshake, send the host main-link requests and
                   never read its answers (its listener then waits for room)
  block-handler    a main-link request handler that never returns";

/// Prints one report line (flushed at once: the test reads it meanwhile).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The link's connection string, as a plugin finds it.
fn connection() -> Result<String, String> {
    ipc_link::connection_from_env().ok_or_else(|| "no IPC_LINK_CONNECTION".to_owned())
}

/// Maps the memory of `connection` raw. Done before attaching: the creator
/// withdraws the memory once it sees its peer attached.
fn map_raw(connection: &str) -> Result<SegmentMemory, String> {
    SegmentMemory::open(connection).map_err(|e| format!("map {connection}: {e}"))
}

/// The creator's process ID, from the segment header (`creator_pid`).
fn creator_pid(memory: &SegmentMemory) -> u32 {
    (memory.read_u64(32) & 0xffff_ffff) as u32
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(windows)]
fn process_alive(pid: u32) -> bool {
    use windows_sys::Win32::Foundation::{CloseHandle, WAIT_TIMEOUT};
    use windows_sys::Win32::System::Threading::{
        OpenProcess, WaitForSingleObject, PROCESS_SYNCHRONIZE,
    };
    // SAFETY: plain values; a null handle is checked below.
    let process = unsafe { OpenProcess(PROCESS_SYNCHRONIZE, 0, pid) };
    if process.is_null() {
        return false;
    }
    // SAFETY: `process` is our open handle; a zero timeout only polls.
    let state = unsafe { WaitForSingleObject(process, 0) };
    // SAFETY: our handle, closed once.
    unsafe { CloseHandle(process) };
    state == WAIT_TIMEOUT
}

/// Says nothing more while the host lives (so that a host that dies never
/// leaves this process behind), then exits.
fn silence(host: u32) -> ! {
    while process_alive(host) {
        thread::sleep(Duration::from_millis(20));
    }
    std::process::exit(0)
}

/// The plugin's four endpoints, claimed as `Plugin::connect` claims them,
/// for the roles that speak the link protocol by hand.
struct ByHand {
    _segment: Segment,
    main_r: Reader,
    main_w: Writer,
    rt_r: Reader,
    rt_w: Writer,
}

fn open_by_hand(connection: &str) -> Result<ByHand, String> {
    let e = |e: ChannelError| e.to_string();
    let segment = Segment::open(connection).map_err(e)?;
    segment.watch_peer();
    Ok(ByHand {
        main_r: segment.reader(0).map_err(e)?,
        main_w: segment.writer(1).map_err(e)?,
        rt_r: segment.reader(2).map_err(e)?,
        rt_w: segment.writer(3).map_err(e)?,
        _segment: segment,
    })
}

/// Says `Hello` and waits for the host's `Welcome`.
fn handshake(hand: &mut ByHand) -> Result<(), String> {
    let hello = Hello {
        magic: protocol::LINK_MAGIC,
        version: protocol::PROTOCOL_VERSION,
        layout: protocol::Layout::current(),
        pid: std::process::id(),
        pointer_bits: usize::BITS,
    };
    ipc_msgpack::send(&mut hand.main_w, &hello, 0, Flags::REQUEST).map_err(|e| e.to_string())?;
    let (_, welcome) = ipc_msgpack::recv_timeout::<Welcome>(
        &mut hand.main_r,
        &Limits::default(),
        Duration::from_secs(10),
    )
    .map_err(|e| format!("no welcome: {e}"))?;
    if !welcome.refused.is_empty() {
        return Err(format!("refused: {}", welcome.refused));
    }
    say("handshake: done");
    Ok(())
}

/// Writes an envelope and `payload` as they are, and commits.
fn send_raw(writer: &mut Writer, header: Header, payload: &[u8]) -> Result<(), String> {
    let e = |e: ChannelError| e.to_string();
    writer.append(&header.to_bytes()).map_err(e)?;
    writer.append(payload).map_err(e)?;
    writer.commit().map_err(e)
}

/// The envelope of the next main-link request (its payload and the
/// messages before it skipped).
fn next_main_request(hand: &mut ByHand) -> Result<Header, String> {
    let limits = Limits::default();
    loop {
        let header =
            ipc_msgpack::recv_header(&mut hand.main_r, &limits).map_err(|e| e.to_string())?;
        ipc_msgpack::skip(&mut hand.main_r, &header, &limits).map_err(|e| e.to_string())?;
        if header.flags.contains(Flags::REQUEST) {
            return Ok(header);
        }
    }
}

/// The envelope of the next real-time request (its payload skipped).
fn next_request(hand: &mut ByHand) -> Result<Header, String> {
    let limits = Limits::default();
    let header = ipc_msgpack::recv_header(&mut hand.rt_r, &limits).map_err(|e| e.to_string())?;
    ipc_msgpack::skip(&mut hand.rt_r, &header, &limits).map_err(|e| e.to_string())?;
    Ok(header)
}

/// The roles that lie in one envelope: a Hello, a real-time reply or a
/// main-link reply whose length is a lie.
fn lying_envelope(role: &str) -> Result<(), String> {
    let conn = connection()?;
    let host = creator_pid(&map_raw(&conn)?);
    let mut hand = open_by_hand(&conn)?;
    let (len, payload): (u32, &[u8]) = match role {
        "huge-hello" | "huge-reply" => (u32::MAX, &[]),
        // The start of a `[n, text]` whose text (96 bytes) never comes: a
        // decoder of the expected type reads on and waits for it.
        "partial-main-reply" | "tick-then-partial-reply" => (100, &[0x92, 0x01, 0xd9, 0x60]),
        // Three bytes of a 100-byte array that never comes.
        _ => (100, &[0xdc, 0x00, 0x63]),
    };
    if role == "partial-main-reply" || role == "tick-then-partial-reply" {
        handshake(&mut hand)?;
        if role.starts_with("tick") {
            ipc_msgpack::send(&mut hand.main_w, &Tick(0), 0, Flags::NONE)
                .map_err(|e| e.to_string())?;
        }
        let request = next_main_request(&mut hand)?;
        let header = Header {
            id: request.id.wrapping_add(1),
            correlation: request.correlation,
            flags: Flags::REPLY,
            len,
        };
        send_raw(&mut hand.main_w, header, payload)?;
    } else if role.ends_with("hello") {
        let header = Header {
            id: Hello::ID,
            correlation: 0,
            flags: Flags::REQUEST,
            len,
        };
        send_raw(&mut hand.main_w, header, payload)?;
    } else {
        handshake(&mut hand)?;
        let request = next_request(&mut hand)?;
        let header = Header {
            id: RtReply::ID,
            correlation: request.correlation,
            flags: Flags::REPLY,
            len,
        };
        send_raw(&mut hand.rt_w, header, payload)?;
    }
    say(&format!("{role}: sent"));
    silence(host)
}

/// Passes the handshake, then never reads a request.
fn no_read() -> Result<(), String> {
    let conn = connection()?;
    let host = creator_pid(&map_raw(&conn)?);
    let mut hand = open_by_hand(&conn)?;
    handshake(&mut hand)?;
    silence(host)
}

/// Passes the handshake, then asks the host `Question`s on the main link
/// and never reads its answers: once the ring to the plugin is full, the
/// host's listener waits (holding the link's writer) to send the next one.
fn ask_no_read() -> Result<(), String> {
    let conn = connection()?;
    let host = creator_pid(&map_raw(&conn)?);
    let mut hand = open_by_hand(&conn)?;
    handshake(&mut hand)?;
    let mut said = false;
    let mut i = 0u32;
    while process_alive(host) {
        i = i.wrapping_add(1).max(1);
        let asked = ipc_msgpack::send_timeout(
            &mut hand.main_w,
            &Question(u64::from(i)),
            i,
            Flags::REQUEST,
            Duration::from_millis(100),
        );
        match asked {
            Ok(()) => {}
            // The host stopped reading: its listener is stuck in a send.
            Err(ipc_msgpack::Error::Channel(ChannelError::Timeout)) => {
                if !said {
                    say("ask-no-read: the host stopped reading");
                    said = true;
                }
            }
            // Closed (the host is shutting down): still ignore it, so that
            // only a kill ends this plugin.
            Err(_) => silence(host),
        }
    }
    Ok(())
}

/// Keeps the host's real-time reply ring full of complete, well-formed
/// answers to call 0 (which the host never makes: its sequence starts at
/// 1), by filling the ring once and then moving `write_pos` to a full
/// ring past every `read_pos` the host publishes. A host that skips stale
/// answers without looking at its deadline never gets out.
fn reply_flood() -> Result<(), String> {
    let conn = connection()?;
    let raw = map_raw(&conn)?;
    let host = creator_pid(&raw);
    let mut hand = open_by_hand(&conn)?;
    handshake(&mut hand)?;
    let block = raw.control_block(3).map_err(|e| e.to_string())?;
    let capacity = raw.read_u64(SEGMENT_HEADER + 3 * TABLE_ENTRY + 8);
    let stale = Header {
        id: RtReply::ID,
        correlation: 0,
        flags: Flags::REPLY,
        len: 0,
    }
    .to_bytes();
    let (lo, hi) = stale.split_at(8);
    let lo = u64::from_le_bytes(lo.try_into().expect("8 bytes"));
    let hi = u64::from_le_bytes(hi.try_into().expect("8 bytes"));
    let ring = block + CONTROL_BLOCK;
    for off in (0..capacity as usize).step_by(HEADER_LEN) {
        raw.write_u64(ring + off, lo);
        raw.write_u64(ring + off + 8, hi);
    }
    say("reply-flood: flooding");
    let mut turns = 0u64;
    loop {
        let read = raw.read_u64(block + 256);
        raw.write_u64(block + 128, read.wrapping_add(capacity));
        turns += 1;
        if turns % 65_536 == 0 && !process_alive(host) {
            std::process::exit(0);
        }
        std::hint::spin_loop();
    }
}

/// A main-link request handler that never returns (while the host lives).
fn block_handler() -> Result<(), String> {
    let conn = connection()?;
    let host = creator_pid(&map_raw(&conn)?);
    let config = LinkConfig::default();
    let _plugin = Plugin::connect(&conn, &config, move |link| {
        link.on_request(move |Ping(_)| -> Pong { silence(host) })
    })
    .map_err(|e| e.to_string())?;
    say("block-handler: connected");
    silence(host)
}

/// What an honest-then-hostile peer counts, to know when it has served
/// enough to start scribbling.
#[derive(Default)]
struct Counts {
    rt: AtomicU64,
    requests: AtomicU64,
    bytes: AtomicU64,
    messages: AtomicU64,
    /// Set once scribbling starts: the real-time handler then writes
    /// garbage into the audio outputs.
    hostile: AtomicBool,
}

/// How much honest traffic of each kind comes before the scribbling (or
/// at most [`HONEST_FOR`]).
const HONEST: u64 = 8;
const HONEST_FOR: Duration = Duration::from_secs(5);

/// One attached segment as its raw words: where each channel's control
/// block is and its capacity, read while it was still honest (the table
/// may be scribbled on later).
struct Target {
    name: &'static str,
    memory: SegmentMemory,
    /// End of the header and channel table.
    table_end: usize,
    channels: Vec<(usize, u64)>,
}

impl Target {
    fn new(name: &'static str, memory: SegmentMemory) -> Result<Target, String> {
        let count = (memory.read_u64(24) & 0xffff_ffff) as usize;
        let channels = (0..count)
            .map(|c| {
                let block = memory.control_block(c).map_err(|e| e.to_string())?;
                let capacity = memory.read_u64(SEGMENT_HEADER + c * TABLE_ENTRY + 8);
                Ok((block, capacity))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Target {
            name,
            table_end: SEGMENT_HEADER + count * TABLE_ENTRY,
            memory,
            channels,
        })
    }

    /// Stores `bytes` at ring position `pos` of channel `(block, capacity)`,
    /// around the wrap, one read-modify-write of a word per byte.
    fn splice(&self, (block, capacity): (usize, u64), pos: u64, bytes: &[u8]) {
        let ring = block + CONTROL_BLOCK;
        for (i, &b) in bytes.iter().enumerate() {
            let at = ring + (pos.wrapping_add(i as u64) & (capacity - 1)) as usize;
            let word = at & !7;
            let shift = 8 * (at - word);
            let old = self.memory.read_u64(word);
            let new = (old & !(0xff << shift)) | (u64::from(b) << shift);
            self.memory.write_u64(word, new);
        }
    }
}

/// The message IDs worth forging an envelope with: the test protocol's,
/// the link's own, and one nobody knows.
const IDS: &[u32] = &[
    Ping::ID,
    Pong::ID,
    Tick::ID,
    Question::ID,
    Answer::ID,
    RtRequest::ID,
    RtReply::ID,
    protocol::Hello::ID,
    protocol::Quit::ID,
    protocol::AttachAudio::ID,
    protocol::Attached::ID,
    protocol::RemoteError::ID,
    0x5eed,
];

/// A value for a word that held `old`: mostly close to a sane one, since
/// an absurd value is caught at once while a plausible one travels further.
fn nearby(rng: &mut XorShift, old: u64, capacity: u64) -> u64 {
    match rng.below(9) {
        0 => old.wrapping_add(1 + rng.below(64)),
        1 => old.wrapping_sub(1 + rng.below(64)),
        2 => old.wrapping_add(capacity),
        3 => old.wrapping_sub(capacity),
        4 => old ^ (1 << rng.below(64)),
        5 => 0,
        6 => u64::MAX,
        7 => {
            let shift = 8 * rng.below(8);
            (old & !(0xff << shift)) | (rng.below(256) << shift)
        }
        _ => rng.next_u64(),
    }
}

/// Overwrites one word (or forges one envelope) of `target`.
fn mutate(rng: &mut XorShift, target: &Target, host: u32) {
    let m = &target.memory;
    let &(block, capacity) = rng.pick(&target.channels);
    match rng.below(100) {
        // The segment header and the channel table (read only at open:
        // nothing may trust them later).
        0..=9 => {
            let off = 8 * rng.below((target.table_end / 8) as u64) as usize;
            m.write_u64(off, nearby(rng, m.read_u64(off), capacity));
        }
        // A field of a control block.
        10..=44 => {
            let field = *rng.pick(&[0usize, 8, 16, 24, 128, 256, 384, 512, 520]);
            let off = block + field;
            let old = m.read_u64(off);
            let value = match field {
                // A state (low half) and a process ID (high half).
                16 | 24 => match rng.below(5) {
                    0 => old ^ (1 << rng.below(2)),
                    1 => old & 0xffff_ffff,
                    2 => (old & 0xffff_ffff) | u64::from(std::process::id()) << 32,
                    3 => (old & 0xffff_ffff) | u64::from(host) << 32,
                    _ => (old & 0xffff_ffff) | (rng.below(1 << 31) << 32),
                },
                // A sleep word (and the padding after it).
                384 | 512 => {
                    let any = rng.next_u64();
                    *rng.pick(&[0, 1, 2, u64::from(u32::MAX), any])
                }
                // The positions: near themselves, each other, or a ring away.
                128 | 256 => match rng.below(3) {
                    0 => m.read_u64(block + (384 - field)),
                    _ => nearby(rng, old, capacity),
                },
                _ => nearby(rng, old, capacity),
            };
            m.write_u64(off, value);
        }
        // A word of ring data, mostly among the bytes not yet read.
        45..=84 => {
            let (read, write) = (m.read_u64(block + 256), m.read_u64(block + 128));
            let pos = if rng.chance(75) {
                read.wrapping_add(rng.below(write.wrapping_sub(read).min(capacity) + 64))
            } else {
                rng.next_u64()
            };
            let off = block + CONTROL_BLOCK + (pos & (capacity - 1) & !7) as usize;
            m.write_u64(off, nearby(rng, m.read_u64(off), capacity));
        }
        // A forged envelope where the reader will look next.
        _ => {
            let any = rng.next_u64();
            let flags = *rng.pick(&[0u8, 1, 2, 3, 6, 7, any as u8]);
            let len = *rng.pick(&[
                0,
                1,
                7,
                100,
                capacity as u32 - 16,
                capacity as u32,
                capacity as u32 + 1,
                (256 << 20) + 1,
                u32::MAX,
                (any >> 32) as u32,
            ]);
            let mut envelope = Header {
                id: *rng.pick(IDS),
                correlation: rng.below(8) as u32,
                flags: Flags::NONE,
                len,
            }
            .to_bytes();
            envelope[2] = flags;
            if rng.chance(5) {
                envelope[rng.below(4) as usize] = rng.below(256) as u8;
            }
            target.splice((block, capacity), m.read_u64(block + 256), &envelope);
        }
    }
}

/// Waits a random while between two mutations: often not at all, mostly
/// microseconds, sometimes a millisecond or two.
fn pause(rng: &mut XorShift) {
    match rng.below(10) {
        0..=5 => thread::yield_now(),
        6..=8 => thread::sleep(Duration::from_micros(rng.below(100))),
        _ => thread::sleep(Duration::from_micros(200 + rng.below(1800))),
    }
}

/// The extra segment the test made: opened as a peer, its channels echoed
/// (0 -> 1 as bytes, 2 -> 3 as `Tick` messages) from two threads.
fn serve_extra(connection: &str, counts: &Arc<Counts>, host: u32) -> Result<Segment, String> {
    let e = |e: ChannelError| e.to_string();
    let segment = Segment::open(connection).map_err(e)?;
    segment.watch_peer();
    let (mut r0, mut w1) = (segment.reader(0).map_err(e)?, segment.writer(1).map_err(e)?);
    let (mut r2, mut w3) = (segment.reader(2).map_err(e)?, segment.writer(3).map_err(e)?);
    let wait = Duration::from_millis(200);
    let c = counts.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        loop {
            match r0.read_into_timeout(&mut buf, wait) {
                Ok(n) => {
                    let echoed = w1.append_timeout(&buf[..n], wait).and_then(|_| w1.commit());
                    match echoed {
                        Ok(()) => {
                            c.bytes.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Err(ChannelError::Timeout) => {}
                        Err(_) => return,
                    }
                }
                Err(ChannelError::Timeout) if process_alive(host) => {}
                Err(_) => return,
            }
        }
    });
    let c = counts.clone();
    thread::spawn(move || {
        let limits = Limits {
            max_message: 1 << 16,
            ..Limits::default()
        };
        loop {
            match ipc_msgpack::recv_timeout::<Tick>(&mut r2, &limits, wait) {
                Ok((h, tick)) => {
                    let sent =
                        ipc_msgpack::send_timeout(&mut w3, &tick, h.correlation, h.flags, wait);
                    match sent {
                        Ok(()) => {
                            c.messages.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) if e.stream_usable() => {}
                        Err(ipc_msgpack::Error::Channel(ChannelError::Timeout)) => {}
                        Err(_) => return,
                    }
                }
                Err(e) if e.stream_usable() => {}
                Err(ipc_msgpack::Error::Channel(ChannelError::Timeout)) if process_alive(host) => {}
                Err(_) => return,
            }
        }
    });
    Ok(segment)
}

/// The main-link handlers of an honest plugin of the test protocol.
fn setup(link: &MainLink, counts: &Arc<Counts>) -> Result<(), LinkError> {
    let c = counts.clone();
    link.on_request(move |Ping(n)| {
        c.requests.fetch_add(1, Ordering::Relaxed);
        Pong(n)
    })?;
    link.on(|Tick(_), _| {})?;
    link.on_unknown(|_| {});
    Ok(())
}

/// Serves real-time calls until the link ends; once hostile, fills the
/// outputs with garbage (any bit pattern is some `f32`).
fn serve_rt(mut plugin: Plugin, counts: &Arc<Counts>) -> Plugin {
    let mut rt = plugin.take_rt().expect("taken once");
    let c = counts.clone();
    thread::spawn(move || {
        let mut noise = XorShift::new(u64::from(std::process::id()));
        rt.serve(move |req: RtRequest, audio: Option<&mut AudioBuffers>| {
            c.rt.fetch_add(1, Ordering::Relaxed);
            let frame = match req {
                RtRequest::Process { frame, .. } | RtRequest::Panic { frame } => frame,
                RtRequest::Stall { frame, millis } => {
                    thread::sleep(Duration::from_millis(millis.min(100)));
                    frame
                }
            };
            let outputs = audio.map_or(0, |audio| {
                let hostile = c.hostile.load(Ordering::Relaxed);
                let (_, out) = audio.planar_mut();
                for x in out.iter_mut() {
                    *x = if hostile {
                        f32::from_bits(noise.next_u64() as u32)
                    } else {
                        frame as f32
                    };
                }
                audio.outputs() as u32
            });
            RtReply { frame, outputs }
        })
    });
    plugin
}

/// Sends the host unprompted messages and requests, so that its listener
/// has work while the memory is scribbled on.
fn chatter(link: MainLink, stop: Arc<AtomicBool>) {
    thread::spawn(move || {
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) && link.is_connected() {
            let _ = link.try_send(&Tick(i));
            if i % 8 == 0 {
                let _ = link.request(&Question(i), |_: Result<Answer, LinkError>| {});
            }
            i += 1;
            thread::sleep(Duration::from_millis(1));
        }
    });
}

/// One attempt to resize, reported as a line `resize <what> <how>: ...`.
#[cfg(unix)]
fn report(what: &str, how: &str, ret: libc::c_int) {
    let outcome = if ret == 0 {
        "allowed".to_owned()
    } else {
        let e = std::io::Error::last_os_error();
        format!("refused errno {} ({e})", e.raw_os_error().unwrap_or(0))
    };
    say(&format!("{} {what} {how}: {outcome}", hostile::RESIZE));
}

/// A descriptor of the shared-memory object, opened while its creator
/// still offered it (with the mapping): what a hostile peer would resize.
struct Resizable {
    what: &'static str,
    #[cfg(unix)]
    file: Result<std::fs::File, String>,
}

impl Resizable {
    /// Opens the object of `connection`. Must come before attaching: once
    /// the creator has withdrawn its descriptor, the number it had may name
    /// any other file of the creator's.
    fn open(what: &'static str, _connection: &str) -> Resizable {
        Resizable {
            what,
            #[cfg(unix)]
            file: SegmentMemory::open_file(_connection).map_err(|e| e.to_string()),
        }
    }

    /// Tries to shrink and grow the memory through this descriptor (and, on
    /// Linux, to change its seals): a peer that could would turn the other
    /// side's accesses into `SIGBUS`. Then reads the last word of `memory`,
    /// which a shrink would have taken away.
    #[cfg(unix)]
    fn attempt(&self, memory: &SegmentMemory) {
        use std::os::fd::AsRawFd;
        let what = self.what;
        let file = match &self.file {
            Ok(f) => f,
            Err(e) => {
                say(&format!("{} {what} open: cannot ({e})", hostile::RESIZE));
                return;
            }
        };
        let fd = file.as_raw_fd();
        let len = memory.len() as libc::off_t;
        for (how, size) in [
            ("truncate-to-0", 0),
            ("truncate-to-half", len / 2),
            ("truncate-to-double", len * 2),
        ] {
            // SAFETY: our own open descriptor; plain values.
            report(what, how, unsafe { libc::ftruncate(fd, size) });
        }
        #[cfg(target_os = "linux")]
        {
            // SAFETY: as above; allocating past the end grows the file.
            report(what, "fallocate-grow", unsafe {
                libc::fallocate(fd, 0, len, len)
            });
            // SAFETY: as above; F_ADD_SEALS takes an int of seals.
            report(what, "add-seal-write", unsafe {
                libc::fcntl(fd, libc::F_ADD_SEALS, libc::F_SEAL_WRITE)
            });
        }
        let _ = memory.read_u64((memory.len() - 8) & !7);
    }

    #[cfg(windows)]
    fn attempt(&self, memory: &SegmentMemory) {
        // A section has a fixed size: Windows offers no call to resize one.
        say(&format!(
            "{} {} any: unsupported",
            hostile::RESIZE,
            self.what
        ));
        let _ = memory.read_u64((memory.len() - 8) & !7);
    }
}

/// `scribble` (`mutations` > 0: then exits) and `resize` (no mutations:
/// then serves until the host says quit).
fn hostile_plugin(seed: u64, mutations: u64, extra: Option<&str>) -> Result<(), String> {
    let conn = connection()?;
    let link_raw = map_raw(&conn)?;
    let link_file = Resizable::open("link", &conn);
    let host = creator_pid(&link_raw);
    let counts = Arc::new(Counts::default());
    let extra = match extra {
        Some(x) => Some((x, map_raw(x)?, Resizable::open("extra", x))),
        None => None,
    };
    let extra_segment = match &extra {
        Some((x, _, _)) => Some(serve_extra(x, &counts, host)?),
        None => None,
    };
    let config = LinkConfig {
        send_timeout: Duration::from_millis(100),
        ..LinkConfig::default()
    };
    let c = counts.clone();
    let plugin = Plugin::connect(&conn, &config, move |link| setup(link, &c))
        .map_err(|e| format!("connect: {e}"))?;
    let plugin = serve_rt(plugin, &counts);
    let stop_chatter = Arc::new(AtomicBool::new(false));
    chatter(plugin.main_link().clone(), stop_chatter.clone());

    let honest_until = Instant::now() + HONEST_FOR;
    let enough = |c: &Counts| {
        c.rt.load(Ordering::Relaxed) >= HONEST
            && c.requests.load(Ordering::Relaxed) >= HONEST
            && (extra.is_none()
                || c.bytes.load(Ordering::Relaxed) >= HONEST
                    && c.messages.load(Ordering::Relaxed) >= HONEST)
    };
    while !enough(&counts) && Instant::now() < honest_until {
        thread::sleep(Duration::from_millis(1));
    }
    say(&format!(
        "honest: {} real-time calls, {} requests, {} bytes, {} messages",
        counts.rt.load(Ordering::Relaxed),
        counts.requests.load(Ordering::Relaxed),
        counts.bytes.load(Ordering::Relaxed),
        counts.messages.load(Ordering::Relaxed),
    ));

    link_file.attempt(&link_raw);
    if let Some((_, raw, file)) = &extra {
        file.attempt(raw);
    }
    say(hostile::RESIZE_DONE);

    if mutations == 0 {
        // `resize`: an honest plugin from here on.
        match plugin.wait_for_stop() {
            Stop::Quit => say("stop: quit"),
            Stop::HostGone(e) => say(&format!("stop: host gone ({e})")),
        }
        stop_chatter.store(true, Ordering::Relaxed);
        drop(plugin);
        drop(extra_segment);
        return Ok(());
    }

    let mut targets = vec![Target::new("link", link_raw)?];
    if let Some((_, raw, _)) = extra {
        targets.push(Target::new("extra", raw)?);
    }
    let mut rng = XorShift::new(seed);
    counts.hostile.store(true, Ordering::Relaxed);
    say(&format!(
        "scribble: seed {seed}, {mutations} mutations on {}",
        targets
            .iter()
            .map(|t| t.name)
            .collect::<Vec<_>>()
            .join(" and ")
    ));
    for _ in 0..mutations {
        pause(&mut rng);
        let target = &targets[rng.below(targets.len() as u64) as usize];
        mutate(&mut rng, target, host);
    }
    say(&format!("{} {mutations}", hostile::SCRIBBLE_DONE));
    // Ends as a crashing plugin would: nothing closed, nothing joined.
    std::process::exit(0)
}

fn number(arg: Option<&String>, what: &str) -> Result<u64, String> {
    arg.ok_or_else(|| format!("missing {what}\n{USAGE}"))?
        .parse()
        .map_err(|_| format!("{what} is not a number\n{USAGE}"))
}

/// An argument that is not the link's connection string (which `Host::spawn`
/// may append as the last argument).
fn extra_arg(arg: Option<&String>) -> Option<&str> {
    let link = ipc_link::connection_from_env();
    arg.map(String::as_str)
        .filter(|a| Some(*a) != link.as_deref())
}

fn run(args: &[String]) -> Result<(), String> {
    let Some(role) = args.first() else {
        return Err(USAGE.into());
    };
    match role.as_str() {
        "scribble" => {
            let seed = number(args.get(1), "seed")?;
            let mutations = number(args.get(2), "mutations")?.max(1);
            hostile_plugin(seed, mutations, extra_arg(args.get(3)))
        }
        "resize" => hostile_plugin(0, 0, extra_arg(args.get(1))),
        "huge-hello"
        | "partial-hello"
        | "partial-reply"
        | "huge-reply"
        | "partial-main-reply"
        | "tick-then-partial-reply" => lying_envelope(role),
        "reply-flood" => reply_flood(),
        "no-read" => no_read(),
        "ask-no-read" => ask_no_read(),
        "block-handler" => block_handler(),
        _ => Err(format!("unknown role {role}\n{USAGE}")),
    }
}

fn main() -> ExitCode {
    // A panic in here (in the library above all) is a finding: report it
    // where the test looks, then end as hard as a crash.
    std::panic::set_hook(Box::new(|info| {
        say(&format!("{} {info}", hostile::PANIC));
        std::process::abort();
    }));
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!("failed: {e}"));
            eprintln!("ipc-hostile-peer: {e}");
            ExitCode::FAILURE
        }
    }
}
