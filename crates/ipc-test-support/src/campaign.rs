//! The protocol of the kill campaign (`tests/kill_campaign.rs`) and its peer
//! program `ipc-campaign-peer`: the messages, the large blobs both sides
//! check, a clock both processes share, and the lines the peer prints.

use serde::{Deserialize, Serialize};

/// Host -> plugin request, answered with a `Pong` of the same number.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping(pub u64);
/// The answer to a `Ping`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pong(pub u64);

/// A large message (a plugin's state, say): `data` is [`blob`]`(seq, len)`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Which blob of a stream (it also seeds the contents).
    pub seq: u64,
    /// The bytes, as one MessagePack `bin`.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// Host -> plugin request: keep this state; answered with `Stored`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Store(pub Blob);
/// The answer to a `Store`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The blob's number.
    pub seq: u64,
    /// Its length.
    pub len: u64,
    /// Whether its contents were [`blob`]`(seq, len)`.
    pub intact: bool,
}
/// Host -> plugin request: answered with an `Echoed` of the same blob (a
/// large message each way).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Echo(pub Blob);
/// The answer to an `Echo`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Echoed(pub Blob);
/// Host -> plugin: send `Blob`s of `len` bytes (numbered 0, 1, 2, ...) to
/// the host, one after the other, until the link fails.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamBlobs {
    /// Bytes per blob.
    pub len: u64,
}

/// A real-time request: `outputs[c][i] = inputs[c % inputs][i] * gain +
/// frame as f32` for the attached buffers.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Process {
    /// The period's number.
    pub frame: u64,
    /// The factor applied to the inputs.
    pub gain: f32,
}
/// The answer to a `Process`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Processed {
    /// The request's period number.
    pub frame: u64,
    /// Output channels written (0 without buffers).
    pub outputs: u32,
}

ipc_link::message!(
    Ping = 100,
    Pong = 101,
    Blob = 102,
    Store = 103,
    Stored = 104,
    Echo = 105,
    Echoed = 106,
    StreamBlobs = 107,
    Process = 110,
    Processed = 111,
);

/// Blob sizes: all larger than the default 1 MiB main ring, so every one
/// streams through it in parts.
pub const BLOB_SIZES: [usize; 4] = [(1 << 20) + 17, 3 << 19, 2 << 20, 4 << 20];

/// The contents of blob `seq` of `len` bytes (cheap to make and to check,
/// and different for every blob, so that a piece of one blob in another's
/// place shows).
pub fn blob(seq: u64, len: usize) -> Blob {
    Blob {
        seq,
        data: (0..len).map(|i| byte(seq, i)).collect(),
    }
}

fn byte(seq: u64, i: usize) -> u8 {
    (i as u64)
        .wrapping_mul(31)
        .wrapping_add(seq.wrapping_mul(7)) as u8
        ^ (i >> 12) as u8
}

/// Whether `b.data` is what [`blob`]`(b.seq, len)` makes and `len` long.
pub fn intact(b: &Blob, len: usize) -> bool {
    b.data.len() == len && b.data.iter().enumerate().all(|(i, &x)| x == byte(b.seq, i))
}

/// Nanoseconds on the system's monotonic clock, which every process of
/// the machine reads alike: the campaign compares the moment it killed a
/// host with the moments its plugin noticed.
#[cfg(unix)]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists on
    // every Unix this crate builds for.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Elsewhere: nanoseconds since the Unix epoch (the campaign runs on Linux
/// only; this keeps the peer program building everywhere).
#[cfg(not(unix))]
pub fn monotonic_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The plugin's first line: `plugin: pid <pid>`, printed before it connects.
pub const PID_LINE: &str = "plugin: pid ";
/// The line a plugin process says between fork and exec, when asked to:
/// `spawned <pid>` (the moment it exists, before it runs).
pub const SPAWNED_LINE: &str = "spawned ";
/// The host role's line once its plugin connected: `host: plugin <pid>`.
pub const HOST_PLUGIN_LINE: &str = "host: plugin ";
/// The host role's line once all its traffic runs.
pub const HOST_DRIVING_LINE: &str = "host: driving";
/// The host role's line if its link goes down (its plugin died first).
pub const HOST_DOWN_LINE: &str = "host: link down";

/// `prefix` and `pid` as a line (`prefix` at most 50 bytes), made without
/// allocating or locking: a process between fork and exec may do neither.
pub fn pid_line(prefix: &str, pid: u32) -> ([u8; 64], usize) {
    let mut line = [0u8; 64];
    let prefix = &prefix.as_bytes()[..prefix.len().min(50)];
    line[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 10];
    let (mut rest, mut n) = (pid, 0);
    loop {
        digits[n] = b'0' + (rest % 10) as u8;
        n += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut len = prefix.len();
    for &d in digits[..n].iter().rev() {
        line[len] = d;
        len += 1;
    }
    line[len] = b'\n';
    (line, len + 1)
}

/// What the plugin role prints when it stops: how each of its links
/// reported the end, and when (on [`monotonic_ns`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// It connected, then both links ended.
    Stopped {
        /// What `Plugin::wait_for_stop` returned (`HostGone(PeerDied)`, ...).
        main: String,
        /// When it returned.
        main_ns: u64,
        /// What `RtServer::serve` returned (`none` if it did not return in
        /// time).
        rt: String,
        /// When it returned (0 for `none`).
        rt_ns: u64,
    },
    /// The connection failed.
    ConnectFailed {
        /// The error's kind (`PeerDied`, `Os`, `Timeout`, ...).
        kind: String,
        /// How long the attempt took, in microseconds.
        after_us: u64,
        /// The error's text.
        error: String,
    },
}

const STOPPED: &str = "plugin: stopped";
const CONNECT_FAILED: &str = "plugin: connect failed";

impl Report {
    /// The line the plugin prints: readable, and [`parse`](Report::parse)s back.
    pub fn line(&self) -> String {
        match self {
            Report::Stopped {
                main,
                main_ns,
                rt,
                rt_ns,
            } => {
                let first = if *rt_ns == 0 {
                    *main_ns
                } else {
                    (*main_ns).min(*rt_ns)
                };
                let since = |t: u64| {
                    if t == 0 {
                        "never".to_owned()
                    } else {
                        format!("+{:.3}ms", (t - first) as f64 / 1e6)
                    }
                };
                format!(
                    "{STOPPED} main={main} main_ns={main_ns} rt={rt} rt_ns={rt_ns} \
                     (main link {}, real-time serve {} after the first notice)",
                    since(*main_ns),
                    since(*rt_ns)
                )
            }
            Report::ConnectFailed {
                kind,
                after_us,
                error,
            } => format!("{CONNECT_FAILED} kind={kind} after_us={after_us} error={error}"),
        }
    }

    /// A report line back (`None` for any other line).
    pub fn parse(line: &str) -> Option<Report> {
        let field = |name: &str| {
            let start = line.find(&format!(" {name}="))? + name.len() + 2;
            let rest = &line[start..];
            Some(rest.split(' ').next().unwrap_or(rest))
        };
        if line.starts_with(STOPPED) {
            Some(Report::Stopped {
                main: field("main")?.to_owned(),
                main_ns: field("main_ns")?.parse().ok()?,
                rt: field("rt")?.to_owned(),
                rt_ns: field("rt_ns")?.parse().ok()?,
            })
        } else if line.starts_with(CONNECT_FAILED) {
            let error = line.find(" error=")? + " error=".len();
            Some(Report::ConnectFailed {
                kind: field("kind")?.to_owned(),
                after_us: field("after_us")?.parse().ok()?,
                error: line[error..].to_owned(),
            })
        } else {
            None
        }
    }
}

/// A link's end as the report names it: `Quit`, `HostGone(<kind>)`.
pub fn stop_name(stop: &ipc_link::Stop) -> String {
    match stop {
        ipc_link::Stop::Quit => "Quit".to_owned(),
        ipc_link::Stop::HostGone(e) => format!("HostGone({:?})", e.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse_back() {
        for r in [
            Report::Stopped {
                main: "HostGone(PeerDied)".into(),
                main_ns: 5_000_000,
                rt: "HostGone(PeerDied)".into(),
                rt_ns: 5_100_000,
            },
            Report::Stopped {
                main: "Quit".into(),
                main_ns: 7,
                rt: "none".into(),
                rt_ns: 0,
            },
            Report::ConnectFailed {
                kind: "Os".into(),
                after_us: 120,
                error: "no such file (os error 2) main=x".into(),
            },
        ] {
            assert_eq!(Report::parse(&r.line()), Some(r.clone()), "{}", r.line());
        }
        assert_eq!(Report::parse("host: driving"), None);
    }

    #[test]
    fn pid_lines_are_decimal() {
        for pid in [0, 7, 10, 4_194_304, u32::MAX] {
            let (line, len) = pid_line(SPAWNED_LINE, pid);
            assert_eq!(&line[..len], format!("spawned {pid}\n").as_bytes());
        }
    }

    #[test]
    fn blobs_check_their_contents() {
        let mut b = blob(3, 100_000);
        assert!(intact(&b, 100_000));
        assert!(!intact(&b, 99_999));
        b.data[70_000] ^= 1;
        assert!(!intact(&b, 100_000));
        let mut c = blob(3, 100_000);
        c.seq = 4;
        assert!(!intact(&c, 100_000), "another blob's contents");
    }
}
