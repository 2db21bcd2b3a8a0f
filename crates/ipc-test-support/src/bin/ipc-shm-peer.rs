//! A scriptable peer process for the channel tests, and a small diagnostic
//! tool: `ipc-shm-peer <connection> <role> [args]`.
//!
//! It opens the segment, takes the reading end of channel 0 and the writing
//! end of channel 1 (the opposite of the creating side), and plays one role.
//! It reports on stdout, one line per event, so that a test can follow it.
//! The 32-bit and Windows builds of this same program are the peers of the
//! cross-architecture tests.

use ipc_channel_shm::{Error, Segment};
use ipc_test_support::raw::{SegmentMemory, CONTROL_BLOCK};
use std::io::{BufRead, Write};
use std::process::ExitCode;

const USAGE: &str = "usage: ipc-shm-peer <connection> <role> [args]
roles:
  echo                       copy channel 0 to channel 1 until channel 0 closes
  idle                       hold both endpoints until stdin closes
  wait                       block reading channel 0 and report how that ended
  open                       only open the segment and report the result
  host <peer-exe>            create a segment (the connection argument is
                             ignored), start <peer-exe> in role `wait` on it,
                             then hold it until killed
  scribble <ch> <off> <val>  after a line on stdin, store the u64 <val> at byte
                             <off> of channel <ch>'s control block, then idle";

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A short stable word for each error kind, parsed by the tests.
fn kind(e: &Error) -> String {
    match e {
        Error::Closed => "closed".into(),
        Error::PeerDied => "peer-died".into(),
        Error::Timeout => "timeout".into(),
        Error::Corrupted(w) => format!("corrupted: {w}"),
        Error::VersionMismatch { .. } => "version-mismatch".into(),
        other => format!("error: {other}"),
    }
}

fn wait_for_stdin_eof() {
    let mut sink = String::new();
    while std::io::stdin()
        .lock()
        .read_line(&mut sink)
        .map(|n| n > 0)
        .unwrap_or(false)
    {
        sink.clear();
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let [conn, role, rest @ ..] = args else {
        return Err(USAGE.into());
    };
    if role == "host" {
        return host(rest);
    }
    // A scribbler maps the memory itself, before opening the segment: once
    // the creator sees its peer attached it withdraws the memory, after
    // which nothing can map it any more.
    let raw = if role == "scribble" {
        Some(SegmentMemory::open(conn).map_err(|e| format!("map {conn}: {e}"))?)
    } else {
        None
    };
    let segment = match Segment::open(conn) {
        Ok(s) => s,
        Err(e) => {
            say(&kind(&e));
            return Ok(());
        }
    };
    if role == "open" {
        say("opened");
        return Ok(());
    }
    let mut reader = segment.reader(0).map_err(|e| e.to_string())?;
    let mut writer = segment.writer(1).map_err(|e| e.to_string())?;
    match role.as_str() {
        "echo" => {
            say("ready");
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match reader.read_into(&mut buf) {
                    Ok(n) => {
                        writer.append(&buf[..n]).map_err(|e| kind(&e))?;
                        writer.commit().map_err(|e| kind(&e))?;
                    }
                    Err(Error::Closed) => break,
                    Err(e) => return Err(kind(&e)),
                }
            }
            say("closed");
        }
        "idle" => {
            say("ready");
            wait_for_stdin_eof();
        }
        "wait" => {
            say("ready");
            let mut buf = [0u8; 64];
            match reader.read_into(&mut buf) {
                Ok(n) => say(&format!("data {n}")),
                Err(e) => say(&kind(&e)),
            }
        }
        "scribble" => {
            let [ch, off, val] = rest else {
                return Err(USAGE.into());
            };
            let ch: usize = ch.parse().map_err(|_| "bad channel")?;
            let off: usize = off.parse().map_err(|_| "bad offset")?;
            let val: u64 = val.parse().map_err(|_| "bad value")?;
            say("ready");
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            scribble(raw.as_ref().expect("mapped above"), ch, off, val)?;
            say("scribbled");
            wait_for_stdin_eof();
        }
        _ => return Err(USAGE.into()),
    }
    drop((reader, writer));
    Ok(())
}

/// Plays a hostile peer: overwrites 8 bytes of a channel's control block,
/// found through the channel table as the library finds it.
fn scribble(
    memory: &SegmentMemory,
    channel: usize,
    offset: usize,
    value: u64,
) -> Result<(), String> {
    if offset % 8 != 0 || offset + 8 > CONTROL_BLOCK {
        return Err("scribble outside the control block".into());
    }
    let block = memory.control_block(channel).map_err(|e| e.to_string())?;
    memory.write_u64(block + offset, value);
    Ok(())
}

fn host(rest: &[String]) -> Result<(), String> {
    let [peer_exe] = rest else {
        return Err(USAGE.into());
    };
    let segment = Segment::create(&[1 << 16, 1 << 16]).map_err(|e| e.to_string())?;
    let _writer = segment.writer(0).map_err(|e| e.to_string())?;
    let _reader = segment.reader(1).map_err(|e| e.to_string())?;
    let conn = segment.connection_string().expect("shared segment");
    say(&format!("segment {conn}"));
    let mut child = std::process::Command::new(peer_exe)
        .args([conn, "wait"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("spawn {peer_exe}: {e}"))?;
    say("host-ready");
    wait_for_stdin_eof();
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipc-shm-peer: {e}");
            say(&format!("failed {e}"));
            ExitCode::FAILURE
        }
    }
}
