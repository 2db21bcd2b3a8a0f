//! Channel tests between two real processes: this test process creates the
//! segment and `ipc-shm-peer` (a separate program) opens it.
//!
//! `IPC_TEST_PEER` may name another build of the peer (a 32-bit one, say) to
//! run the same tests across architectures.

use ipc_channel_shm::{Error, Segment};
use ipc_test_support::process::{program, PipedChild};
use ipc_test_support::raw::SegmentMemory;
use ipc_test_support::NEVER;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

const RING: usize = 64 * 1024;

fn peer_exe() -> PathBuf {
    program("IPC_TEST_PEER", env!("CARGO_BIN_EXE_ipc-shm-peer"))
}

/// Starts `ipc-shm-peer` with `args`, its stdin and stdout piped.
fn spawn_peer(args: &[&str]) -> PipedChild {
    PipedChild::spawn(peer_exe(), args)
}

/// Creates a two-channel segment (0: us -> peer, 1: peer -> us) and starts
/// the peer in `role` on it.
fn start(role: &[&str]) -> (Segment, PipedChild) {
    let segment = Segment::create(&[RING, RING]).expect("create segment");
    let conn = segment.connection_string().expect("named").to_owned();
    let mut args = vec![conn.as_str()];
    args.extend_from_slice(role);
    let mut peer = spawn_peer(&args);
    peer.expect_line("ready");
    (segment, peer)
}

/// Asserts that nothing can open the segment any more. On Linux its creator
/// has withdrawn it (closed the memfd descriptor the peer opens; nothing
/// ever appears in /dev/shm), or has exited. Elsewhere the name may live a
/// little longer (on Windows as long as any handle), but a segment whose
/// peer attached refuses another.
fn assert_withdrawn(conn: &str) {
    match Segment::open(conn) {
        Err(Error::Os(_)) => {}
        #[cfg(not(target_os = "linux"))]
        Err(Error::AlreadyClaimed) => {}
        other => panic!("{conn} can still be opened: {other:?}"),
    }
    #[cfg(target_os = "linux")]
    assert!(
        !std::path::Path::new("/dev/shm").join(&conn[..24]).exists(),
        "/dev/shm/{} exists",
        &conn[..24]
    );
}

fn pattern(blob: usize, i: usize) -> u8 {
    ((i as u32).wrapping_mul(2_654_435_761) >> 13) as u8 ^ (blob as u8).wrapping_mul(31)
}

#[test]
fn blobs_from_0_bytes_to_64_mib_arrive_intact_and_in_order_through_a_64_kib_ring() {
    let (segment, peer) = start(&["echo"]);
    let name = segment.connection_string().unwrap().to_owned();
    let sizes: Vec<usize> = vec![
        0,
        1,
        2,
        7,
        8,
        63,
        64,
        65,
        1000,
        4095,
        4096,
        32 * 1024,
        RING - 1,
        RING,
        RING + 1,
        200_000,
        1 << 20,
        (3 << 20) + 5,
        64 << 20,
    ];
    let mut writer = segment.writer(0).unwrap();
    let mut reader = segment.reader(1).unwrap();
    let sent = sizes.clone();
    let producer = thread::spawn(move || {
        let mut blob = Vec::new();
        for (b, &size) in sent.iter().enumerate() {
            blob.clear();
            blob.extend((0..size).map(|i| pattern(b, i)));
            let before = writer.stats();
            writer.append(&(size as u64).to_le_bytes()).unwrap();
            // Many parts of varying size, one commit.
            let mut rest = &blob[..];
            let mut part = 1;
            while !rest.is_empty() {
                let n = part.min(rest.len());
                writer.append(&rest[..n]).unwrap();
                rest = &rest[n..];
                part = part * 3 + 1;
            }
            writer.commit().unwrap();
            let after = writer.stats();
            let signals = after.signals - before.signals;
            let waits = after.waits - before.waits;
            assert!(
                signals <= 1 + waits,
                "blob {b} ({size} B): {signals} signals for one commit and {waits} full-ring waits"
            );
        }
        writer.stats()
    });
    let mut got = Vec::new();
    for (b, &size) in sizes.iter().enumerate() {
        let mut len = [0u8; 8];
        reader.read_exact_into(&mut len).unwrap();
        assert_eq!(u64::from_le_bytes(len), size as u64, "length of blob {b}");
        got.resize(size, 0);
        reader.read_exact_into(&mut got).unwrap();
        if let Some(i) = (0..size).find(|&i| got[i] != pattern(b, i)) {
            panic!("blob {b} ({size} B) differs at byte {i}");
        }
    }
    let stats = producer.join().unwrap();
    assert_eq!(stats.commits, sizes.len() as u64);
    assert!(stats.signals <= stats.commits + stats.waits, "{stats:?}");
    assert!(
        stats.waits > 0,
        "a 64 MiB blob must wait for a 64 KiB ring: {stats:?}"
    );
    // Closing our writer ends the echo; then the echo closes its writer.
    drop(segment);
    peer_close_and_drain(reader, peer);
    assert_withdrawn(&name);
}

fn peer_close_and_drain(mut reader: ipc_channel_shm::Reader, peer: PipedChild) {
    let mut buf = [0u8; 16];
    match reader.read_into_timeout(&mut buf, NEVER) {
        Err(Error::Closed) => {}
        other => panic!("expected end of stream, got {other:?}"),
    }
    peer.finish();
}

#[test]
fn a_blob_written_in_many_parts_signals_a_sleeping_reader_once() {
    let (segment, mut peer) = start(&["echo"]);
    let mut writer = segment.writer(0).unwrap();
    let mut reader = segment.reader(1).unwrap();
    for round in 0..20 {
        // Small enough never to fill the ring: no full-ring wait may happen.
        let blob: Vec<u8> = (0..16 * 1024).map(|i| pattern(round, i)).collect();
        let before = writer.stats();
        for part in blob.chunks(64) {
            writer.append(part).unwrap();
        }
        writer.commit().unwrap();
        let after = writer.stats();
        assert_eq!(
            after.waits, before.waits,
            "no wait for a blob a quarter of the ring"
        );
        assert!(
            after.signals - before.signals <= 1,
            "256 parts, one commit: at most one signal"
        );
        let mut back = vec![0u8; blob.len()];
        reader.read_exact_into(&mut back).unwrap();
        assert!(back == blob, "round {round} echoed wrongly");
    }
    drop(writer);
    peer.expect_line("closed");
    peer_close_and_drain(reader, peer);
}

#[test]
fn a_read_timeout_is_its_own_error_and_loses_nothing() {
    let (segment, peer) = start(&["echo"]);
    let mut writer = segment.writer(0).unwrap();
    let mut reader = segment.reader(1).unwrap();
    let mut buf = [0u8; 32];
    match reader.read_into_timeout(&mut buf, Duration::from_millis(30)) {
        Err(Error::Timeout) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    match reader.peek_timeout(1, Duration::from_millis(1)) {
        Err(Error::Timeout) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    match reader.try_peek(1) {
        Err(Error::Timeout) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    writer.append(b"after the timeout").unwrap();
    writer.commit().unwrap();
    reader
        .read_exact_into_timeout(&mut buf[..17], NEVER)
        .unwrap();
    assert_eq!(&buf[..17], b"after the timeout");
    drop(writer);
    peer_close_and_drain(reader, peer);
}

#[test]
fn a_write_timeout_on_a_full_ring_keeps_what_was_appended() {
    let (segment, peer) = start(&["idle"]);
    let mut writer = segment.writer(0).unwrap();
    let big = vec![7u8; RING + 1000];
    // The idle peer never reads: the ring fills and the rest times out.
    let n = writer
        .append_timeout(&big, Duration::from_millis(30))
        .unwrap();
    assert_eq!(n, RING, "exactly the ring's capacity fits");
    match writer.append_timeout(b"x", Duration::from_millis(10)) {
        Err(Error::Timeout) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(
        writer.uncommitted(),
        0,
        "a full-ring wait publishes what was written"
    );
    assert!(writer.stats().waits >= 2);
    peer.finish();
}

#[test]
fn a_wait_on_a_silent_watched_peer_sleeps_in_long_slices() {
    // An idle link costs few wake-ups: where the peer's death wakes a
    // sleeper (the death watch on Linux, the process handle on Windows), a
    // wait with nothing to do looks at its control block every 250 ms (4
    // sleeps in a second) instead of every 25 ms to check the peer (40).
    // One more is allowed for a spurious wake-up.
    let (segment, peer) = start(&["idle"]);
    let wait = Duration::from_secs(1);
    let most = if cfg!(any(target_os = "linux", windows)) {
        5
    } else {
        u64::MAX
    };
    let mut reader = segment.reader(1).unwrap();
    let mut buf = [0u8; 8];
    match reader.read_into_timeout(&mut buf, wait) {
        Err(Error::Timeout) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    let sleeps = reader.stats().sleeps;
    assert!(sleeps <= most, "the reader slept {sleeps} times");
    // A writer waiting for space on the idle peer's full ring: the same.
    let mut writer = segment.writer(0).unwrap();
    let n = writer.append_timeout(&vec![7u8; RING + 1], wait).unwrap();
    assert_eq!(n, RING);
    let sleeps = writer.stats().sleeps;
    assert!(sleeps <= most, "the writer slept {sleeps} times");
    peer.finish();
}

#[test]
fn a_reader_waiting_for_more_than_is_published_wakes_a_batching_writer() {
    // The echo peer streams two rings' worth back to us. Once our ring is
    // full it sleeps until half the ring is free (it batches its
    // wake-ups). We take 4 bytes, then wait for a whole ring: only the
    // writer can add the 4 bytes missing, and it must be woken for them,
    // or both ends wait for each other until the deadline.
    let (segment, peer) = start(&["echo"]);
    let mut reader = segment.reader(1).unwrap();
    let mut writer = segment.writer(0).unwrap();
    let sent: Vec<u8> = (0..2 * RING).map(|i| pattern(7, i)).collect();
    let feeder = {
        let sent = sent.clone();
        thread::spawn(move || {
            writer.append_timeout(&sent, NEVER).unwrap();
            writer.commit().unwrap();
            writer
        })
    };
    // The whole ring published: the peer now waits for space.
    assert_eq!(reader.peek_timeout(RING, NEVER).unwrap().len(), RING);
    let mut got = vec![0u8; 2 * RING];
    reader
        .read_exact_into_timeout(&mut got[..4], NEVER)
        .unwrap();
    match reader.read_exact_into_timeout(&mut got[4..4 + RING], Duration::from_secs(5)) {
        Ok(()) => {}
        other => panic!("a whole ring did not arrive: {other:?}"),
    }
    reader
        .read_exact_into_timeout(&mut got[4 + RING..], NEVER)
        .unwrap();
    assert!(got == sent, "the stream arrived changed");
    drop(feeder.join().unwrap());
    peer_close_and_drain(reader, peer);
}

#[test]
fn closing_either_end_is_reported_as_closed() {
    // Our writer closes: the peer drains and ends; its writer closes in turn.
    let (segment, mut peer) = start(&["echo"]);
    let mut writer = segment.writer(0).unwrap();
    let mut reader = segment.reader(1).unwrap();
    writer.append(b"last words").unwrap();
    drop(writer);
    peer.expect_line("closed");
    let mut buf = [0u8; 10];
    reader.read_exact_into(&mut buf).unwrap();
    assert_eq!(
        &buf, b"last words",
        "committed data is drained before the end"
    );
    peer_close_and_drain(reader, peer);

    // The peer's reader closes (it exits cleanly): our writer gets Closed,
    // not PeerDied, even though the process is gone.
    let (segment, peer) = start(&["idle"]);
    let mut writer = segment.writer(0).unwrap();
    peer.finish();
    writer.append(b"nobody listens").unwrap();
    match writer.commit() {
        Err(Error::Closed) => {}
        other => panic!("expected Closed, got {other:?}"),
    }
    match writer.append_timeout(&vec![0; 2 * RING], NEVER) {
        Err(Error::Closed) => {}
        other => panic!("expected Closed, got {other:?}"),
    }
}

#[test]
fn a_killed_peer_wakes_a_waiting_reader_with_peer_died() {
    let (segment, peer) = start(&["idle"]);
    let name = segment.connection_string().unwrap().to_owned();
    let mut reader = segment.reader(1).unwrap();
    let killer = kill_soon(peer);
    let mut buf = [0u8; 8];
    match reader.read_into_timeout(&mut buf, NEVER) {
        Err(Error::PeerDied) => {}
        other => panic!("expected PeerDied, got {other:?}"),
    }
    killer.join().unwrap();
    // Still reported on the next calls, without sleeping first: with a zero
    // timeout a wait that slept first would end in `Timeout`.
    assert!(matches!(
        reader.read_into_timeout(&mut buf, NEVER),
        Err(Error::PeerDied)
    ));
    assert!(matches!(
        reader.read_into_timeout(&mut buf, Duration::ZERO),
        Err(Error::PeerDied)
    ));
    assert!(matches!(
        reader.try_read_into(&mut buf),
        Err(Error::PeerDied)
    ));
    drop((reader, segment));
    assert_withdrawn(&name);
}

#[test]
fn a_killed_peer_wakes_a_writer_waiting_for_space_with_peer_died() {
    let (segment, peer) = start(&["idle"]);
    let mut writer = segment.writer(0).unwrap();
    let killer = kill_soon(peer);
    match writer.append_timeout(&vec![1u8; 4 * RING], NEVER) {
        Err(Error::PeerDied) => {}
        other => panic!("expected PeerDied, got {other:?}"),
    }
    killer.join().unwrap();
}

#[test]
fn the_peer_is_watched_once_it_has_attached() {
    // Nobody to watch in one process, nor before the peer attached.
    assert!(!Segment::in_process(&[RING]).unwrap().watch_peer());
    let lonely = Segment::create(&[RING]).unwrap();
    assert!(!lonely.watch_peer());
    // On Linux a thread then waits on the peer's pidfd (elsewhere sleepers
    // check the peer when a sleep slice ends, or wait on its handle).
    let (segment, peer) = start(&["idle"]);
    assert_eq!(segment.watch_peer(), cfg!(target_os = "linux"));
    assert_eq!(segment.watch_peer(), cfg!(target_os = "linux"));
    let mut reader = segment.reader(1).unwrap();
    let killer = kill_soon(peer);
    let mut buf = [0u8; 8];
    assert!(matches!(
        reader.read_into_timeout(&mut buf, NEVER),
        Err(Error::PeerDied)
    ));
    killer.join().unwrap();
}

/// Kills the peer with SIGKILL (TerminateProcess on Windows) from another
/// thread, while the caller goes on to block.
fn kill_soon(mut peer: PipedChild) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        peer.kill();
    })
}

#[test]
fn a_killed_creator_wakes_the_waiting_peer_with_peer_died() {
    // Three processes: this test starts a host, the host creates the segment
    // and starts a plugin that blocks reading from it; then the host is
    // killed while the plugin waits.
    let exe = peer_exe();
    let exe = exe.to_str().expect("utf-8 path");
    let mut host = spawn_peer(&["-", "host", exe]);
    let segment_line = host.line();
    let name = segment_line
        .strip_prefix("segment ")
        .expect("segment line")
        .to_owned();
    // The plugin inherits the host's stdout: both report on the same pipe.
    let mut seen = vec![host.line(), host.line()];
    seen.sort();
    assert_eq!(seen, ["host-ready", "ready"]);
    host.kill();
    let verdict = host.line();
    assert_eq!(verdict, "peer-died", "the plugin must see its host die");
    assert_withdrawn(&name);
}

#[test]
fn positions_overwritten_by_the_peer_are_reported_as_corrupted() {
    // The peer writes a write position far beyond what the ring can hold.
    let (segment, mut peer) = start(&["scribble", "1", "128", "18446744073709551000"]);
    let mut reader = segment.reader(1).unwrap();
    peer.send_line("go");
    peer.expect_line("scribbled");
    let mut buf = [0u8; 8];
    match reader.read_into_timeout(&mut buf, NEVER) {
        Err(Error::Corrupted(_)) => {}
        other => panic!("expected Corrupted, got {other:?}"),
    }
    // Sticky: the endpoint stays unusable.
    assert!(matches!(
        reader.read_into(&mut buf),
        Err(Error::Corrupted(_))
    ));
    peer.finish();

    // The peer moves its read position past what we ever wrote.
    let (segment, mut peer) = start(&["scribble", "0", "256", "999999999"]);
    let mut writer = segment.writer(0).unwrap();
    peer.send_line("go");
    peer.expect_line("scribbled");
    match writer.append_timeout(&vec![0u8; RING + 1], NEVER) {
        Err(Error::Corrupted(_)) => {}
        other => panic!("expected Corrupted, got {other:?}"),
    }
    assert!(matches!(writer.commit(), Err(Error::Corrupted(_))));
    peer.finish();
}

/// Overwrites 8 bytes of a segment we created, before the peer opens it,
/// through a mapping of our own (as a peer that scribbles would).
fn poke(segment: &Segment, offset: usize, value: u64) {
    let memory = SegmentMemory::open(segment.connection_string().unwrap()).unwrap();
    memory.write_u64(offset, value);
}

#[test]
fn a_segment_with_a_garbage_header_is_refused_as_corrupted() {
    let cases: &[(&str, usize, u64, &str)] = &[
        ("magic", 0, 0xdead_beef, "corrupted: bad segment magic"),
        ("version", 8, 7 | (7 << 32), "version-mismatch"),
        (
            "segment size",
            16,
            1 << 40,
            "corrupted: segment size differs from the mapping",
        ),
        (
            "channel count",
            24,
            1000 | (640 << 32),
            "corrupted: channel count out of range",
        ),
        (
            "table offset",
            128,
            1 << 50,
            "corrupted: channel table entry out of range",
        ),
        (
            "table capacity",
            136,
            12345,
            "corrupted: channel table entry out of range",
        ),
        (
            "overlapping channels",
            144,
            256,
            "corrupted: channel table entry out of range",
        ),
    ];
    for &(what, offset, value, expected) in cases {
        let segment = Segment::create(&[RING, RING]).unwrap();
        let name = segment.connection_string().unwrap().to_owned();
        poke(&segment, offset, value);
        let mut peer = spawn_peer(&[&name, "open"]);
        assert_eq!(peer.line(), expected, "garbage in the {what}");
        peer.finish();
        // A refused peer never attached: the memory stays the creator's
        // until it withdraws it (here by dropping it).
        assert!(!segment.peer_attached(), "garbage in the {what}");
        drop(segment);
        assert_withdrawn(&name);
    }
    // The channel control block's own magic.
    let segment = Segment::create(&[RING]).unwrap();
    let name = segment.connection_string().unwrap().to_owned();
    poke(&segment, 256, u64::MAX);
    let mut peer = spawn_peer(&[&name, "open"]);
    assert_eq!(
        peer.line(),
        "corrupted: channel header does not match the table"
    );
    peer.finish();
    // Random bytes over the whole header.
    let segment = Segment::create(&[RING]).unwrap();
    let name = segment.connection_string().unwrap().to_owned();
    let memory = SegmentMemory::open(&name).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for off in (0..1024).step_by(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memory.write_u64(off, x);
    }
    drop(memory);
    let mut peer = spawn_peer(&[&name, "open"]);
    let verdict = peer.line();
    assert!(
        verdict.starts_with("corrupted") || verdict == "version-mismatch",
        "{verdict}"
    );
    peer.finish();
}

#[test]
fn the_memory_is_private_and_withdrawn_once_the_peer_attached() {
    let segment = Segment::create(&[RING, RING]).unwrap();
    let conn = segment.connection_string().unwrap().to_owned();
    // Safe on a command line and in the environment, and short.
    assert!(conn.len() < 64, "{conn}");
    assert!(conn.starts_with("ipc-"), "{conn}");
    assert!(conn.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    #[cfg(target_os = "linux")]
    {
        // `<name>-<pid>-<fd>`: an anonymous memfd of this user's only,
        // reached through the creator's descriptor; nothing in /dev/shm.
        use std::os::unix::fs::PermissionsExt;
        let (name, rest) = conn.split_at(24);
        let (pid, fd) = rest[1..].split_once('-').expect("<pid>-<fd>");
        assert_eq!(pid.parse::<u32>().unwrap(), std::process::id());
        let path = format!("/proc/{pid}/fd/{fd}");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let target = std::fs::read_link(&path).unwrap();
        assert!(
            target
                .to_string_lossy()
                .starts_with(&format!("/memfd:{name}")),
            "{target:?}"
        );
        assert!(!std::path::Path::new("/dev/shm").join(name).exists());
    }
    // Elsewhere the connection string is the name itself, which fits
    // macOS's 31-character limit with the slash.
    #[cfg(not(target_os = "linux"))]
    assert!(conn.len() <= 30, "{conn}");
    assert!(!segment.peer_attached());
    let mut peer = spawn_peer(&[&conn, "idle"]);
    peer.expect_line("ready");
    assert!(segment.peer_attached());
    // A second opener cannot have it: the segment refuses a second peer
    // (on macOS the opener has removed the name already)...
    match Segment::open(&conn) {
        Err(Error::AlreadyClaimed) => {}
        Err(Error::Os(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        other => panic!("a second open must fail, got {other:?}"),
    }
    // ...and once the creator has seen its peer attached (at `watch_peer`
    // here, at its first wait otherwise), nothing can open it any more.
    segment.watch_peer();
    assert_withdrawn(&conn);
    peer.finish();
    // Connection strings that are not ours are refused before any system call.
    for bad in [
        "",
        "/etc/passwd",
        "ipc-",
        "ipc-../../../../etc/x",
        "IPC-AAAAAAAAAAAAAAAAAAAA",
    ] {
        assert!(
            matches!(Segment::open(bad), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
}
