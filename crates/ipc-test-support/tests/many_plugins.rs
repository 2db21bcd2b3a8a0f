//! Many plugins on one host under a desktop's memory-lock limit: 64 plugin
//! processes in the default configuration, with `RLIMIT_MEMLOCK` at 8 MiB,
//! start, process audio correctly and shut down; the memory that cannot be
//! locked any more is reported, not an error.
#![cfg(target_os = "linux")]

use ipc_channel_shm::Segment;
use ipc_link::{Host, LinkConfig, RtCaller};
use ipc_test_support::link_protocol::{RtReply, RtRequest};
use ipc_test_support::process::program;
use ipc_test_support::NEVER;
use std::process::Command;

/// Set in the child test process that runs under the limit.
const CHILD_ENV: &str = "IPC_TEST_MEMLOCK_CHILD";
const PLUGINS: usize = 64;
const LIMIT: u64 = 8 << 20;
const FRAMES: usize = 64;
const PERIODS: u64 = 4;

fn plugin() -> Command {
    let mut c = Command::new(program(
        "IPC_TEST_PLUGIN",
        env!("CARGO_BIN_EXE_ipc-link-test-plugin"),
    ));
    c.arg("echo");
    c
}

/// A `/proc/self/status` field in bytes (its value is in kB).
fn status_bytes(name: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .expect("a status field")
        * 1024
}

/// How many memory files of this process are mapped partly locked: a
/// partial lock splits a mapping, so one file shows both locked and
/// unlocked pieces in `/proc/self/smaps`.
fn partly_locked_files() -> usize {
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("/proc/self/smaps");
    let mut pieces: std::collections::HashMap<String, (bool, bool)> = Default::default();
    let mut file: Option<String> = None;
    for line in smaps.lines() {
        if let Some(at) = line.find("/memfd:") {
            file = Some(line[at..].to_owned());
        } else if line
            .split_whitespace()
            .next()
            .is_some_and(|w| w.contains('-'))
        {
            file = None; // another mapping's header
        } else if let (Some(f), Some(kb)) = (&file, line.strip_prefix("Locked:")) {
            let locked = kb.split_whitespace().next() != Some("0");
            let seen = pieces.entry(f.clone()).or_default();
            if locked {
                seen.0 = true;
            } else {
                seen.1 = true;
            }
        }
    }
    pieces.values().filter(|&&(l, u)| l && u).count()
}

/// Sets `RLIMIT_MEMLOCK` to `bytes` and gives up `CAP_IPC_LOCK` (which
/// ignores the limit) on this thread, where the test runs as root: from
/// here on this thread locks memory as a desktop user's process does.
fn limit_memory_locking(bytes: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: a valid rlimit for a valid resource.
    let set = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) };
    assert_eq!(set, 0, "setrlimit: {}", std::io::Error::last_os_error());
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_IPC_LOCK: u32 = 14;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: a version-3 header and the two data blocks that version takes.
    let got = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(got, 0, "capget: {}", std::io::Error::last_os_error());
    let bit = !(1u32 << CAP_IPC_LOCK);
    data[0].effective &= bit;
    data[0].permitted &= bit;
    data[0].inheritable &= bit;
    // SAFETY: as above; dropping a capability needs no privilege.
    let set = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    assert_eq!(set, 0, "capset: {}", std::io::Error::last_os_error());
}

/// The sample a plugin's `Process` writes for input `x`.
fn expected(x: f32, gain: f32, frame: u64) -> f32 {
    x * gain + frame as f32
}

/// One period: every plugin's inputs are filled, it is called once, in
/// order, and every output sample is checked.
fn period(rts: &mut [RtCaller], frame: u64) {
    let gain = 0.5;
    for (p, rt) in rts.iter_mut().enumerate() {
        let audio = rt.audio_mut().expect("attached");
        for c in 0..2 {
            for (i, x) in audio.input_mut(c).iter_mut().enumerate() {
                *x = (p * 1000 + c * 100 + i) as f32;
            }
        }
        let reply: RtReply = rt
            .call_timeout(&RtRequest::Process { frame, gain }, NEVER)
            .unwrap_or_else(|e| panic!("plugin {p}, period {frame}: {e}"));
        assert_eq!(reply, RtReply { frame, outputs: 2 }, "plugin {p}");
        let audio = rt.audio().expect("attached");
        for c in 0..2 {
            for (i, &y) in audio.output(c).iter().enumerate() {
                let x = audio.input(c)[i];
                assert_eq!(
                    y,
                    expected(x, gain, frame),
                    "plugin {p} channel {c} frame {i}"
                );
            }
        }
    }
}

/// What the child test process does under the limit.
fn under_the_limit() {
    // 8 MiB fits `rlim_t` on every target (32 bits on i686).
    limit_memory_locking(LIMIT as libc::rlim_t);
    let config = LinkConfig::default();
    let mut hosts: Vec<Host> = (0..PLUGINS)
        .map(|i| {
            Host::spawn(plugin(), &config, |_| Ok(()))
                .unwrap_or_else(|e| panic!("plugin {i} under an 8 MiB memlock limit: {e}"))
        })
        .collect();
    let mut rts: Vec<RtCaller> = hosts
        .iter_mut()
        .map(|h| {
            let mut rt = h.take_rt().expect("rt link");
            rt.attach_audio(2, 2, FRAMES, NEVER).expect("audio buffers");
            rt
        })
        .collect();
    for frame in 0..PERIODS {
        period(&mut rts, frame);
    }
    // The host locked what the limit allowed and no more.
    let locked = status_bytes("VmLck:");
    assert!(
        locked <= LIMIT,
        "{locked} bytes locked over a {LIMIT}-byte limit"
    );
    // A link like those above is refused its lock now: reported, not an error.
    let probe = Segment::create(&[1 << 20, 1 << 20, 1 << 16, 1 << 16]).expect("a segment");
    assert!(
        !probe.is_memory_locked(),
        "64 links' rings cannot all be locked under 8 MiB"
    );
    assert!(
        (locked as usize) < PLUGINS * probe.len(),
        "{locked} bytes locked: the limit did not apply"
    );
    // The segment at the limit locked its control blocks and smallest rings.
    let partial = partly_locked_files();
    assert!(partial >= 1, "no segment locked in part under the limit");
    drop(probe);
    drop(rts);
    for (i, host) in hosts.into_iter().enumerate() {
        let ended = host.shutdown_timeout(NEVER).expect("shutdown");
        assert!(ended.is_clean(), "plugin {i}: {ended:?}");
    }
    println!(
        "memlock child: {PLUGINS} plugins ran, {locked} bytes locked, {partial} segments in part"
    );
}

#[test]
fn sixty_four_plugins_work_under_an_8_mib_memlock_limit() {
    if std::env::var_os(CHILD_ENV).is_some() {
        under_the_limit();
        return;
    }
    // The limit is the process's: set it in a process of its own, which
    // runs only this test.
    let out = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "sixty_four_plugins_work_under_an_8_mib_memlock_limit",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("start the child test process");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child test process failed:\n{text}");
    assert!(
        text.contains(&format!("memlock child: {PLUGINS} plugins ran")),
        "the child did not run the test:\n{text}"
    );
}
