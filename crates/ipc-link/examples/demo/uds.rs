//! The baseline: what LMMS does today on Linux and macOS, a Unix stream
//! socket between two processes. The echo process is this program again
//! (`demo uds-echo`), with one end of a socket pair as its stdin and stdout.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The echo process's main: asks for the same real-time priority as the
/// plugin's serving thread (and says in one byte whether it got it), then
/// returns each 8-byte message until the end of its input.
pub fn echo() -> ExitCode {
    let (mut input, mut output) = (std::io::stdin().lock(), std::io::stdout().lock());
    let promoted = crate::promote_current_thread().is_ok();
    if output
        .write_all(&[u8::from(promoted)])
        .and_then(|()| output.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    let mut message = [0u8; 8];
    while input.read_exact(&mut message).is_ok() {
        if output
            .write_all(&message)
            .and_then(|()| output.flush())
            .is_err()
        {
            break;
        }
    }
    ExitCode::SUCCESS
}

/// The host's end of a ping-pong with an echo process.
#[derive(Debug)]
pub struct Pinger {
    stream: UnixStream,
    child: Child,
    next: u64,
    /// Whether the echo process got real-time priority.
    pub real_time: bool,
}

impl Pinger {
    /// Starts the echo process.
    pub fn start() -> Result<Pinger, String> {
        let (ours, theirs) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
        let theirs = OwnedFd::from(theirs);
        let theirs_too = theirs
            .try_clone()
            .map_err(|e| format!("dup of the socket: {e}"))?;
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let child = Command::new(exe)
            .arg("uds-echo")
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::from(theirs_too))
            .spawn()
            .map_err(|e| format!("cannot start the echo process: {e}"))?;
        let timeout = Some(Duration::from_secs(2));
        let mut pinger = Pinger {
            stream: ours,
            child,
            next: 0,
            real_time: false,
        };
        let mut promoted = [0u8; 1];
        pinger
            .stream
            .set_read_timeout(timeout)
            .and_then(|()| pinger.stream.set_write_timeout(timeout))
            .and_then(|()| pinger.stream.read_exact(&mut promoted))
            .map_err(|e| format!("the echo process did not start: {e}"))?;
        pinger.real_time = promoted[0] == 1;
        Ok(pinger)
    }

    /// One round trip of an 8-byte message; returns its duration.
    pub fn ping(&mut self) -> Result<Duration, String> {
        self.next += 1;
        let sent = self.next.to_le_bytes();
        let mut got = [0u8; 8];
        let started = Instant::now();
        self.stream
            .write_all(&sent)
            .and_then(|()| self.stream.read_exact(&mut got))
            .map_err(|e| format!("Unix socket ping: {e}"))?;
        let took = started.elapsed();
        if got != sent {
            return Err("the echo process answered something else".into());
        }
        Ok(took)
    }

    /// Closes the socket and waits (briefly) for the echo process to exit;
    /// `Drop` kills it if it does not.
    pub fn finish(mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        // Never leave the echo process behind, even on an early return.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
