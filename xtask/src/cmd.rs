//! Running external commands: echo them, tee their output to the terminal,
//! count the tests they report, and never wait on them forever.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A command line plus the environment it needs on top of ours.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    timeout: Duration,
}

/// How long a command may run before it and its descendants are killed.
/// Generous: the whole CI run aims for 30 minutes on a 2-core machine, and
/// the cap is 90. A hang costs this much, not the whole budget.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// How long to keep reading after the command exited: a daemon it started
/// (wineserver, say) may hold our pipes open long after.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

impl Cmd {
    pub(crate) fn new(program: impl Into<String>) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// `cargo` through the rustup proxy on PATH (not `$CARGO`, which is a
    /// toolchain's own binary and does not understand `+nightly`).
    pub(crate) fn cargo() -> Cmd {
        Cmd::new("cargo")
    }

    pub(crate) fn arg(mut self, arg: impl Into<String>) -> Cmd {
        self.args.push(arg.into());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Cmd {
        self.env.push((key.into(), value.into()));
        self
    }

    pub(crate) fn timeout(mut self, timeout: Duration) -> Cmd {
        self.timeout = timeout;
        self
    }

    fn command(&self, dir: &Path) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args).current_dir(dir);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs the command with its output shown and scanned for libtest's
    /// `test result:` lines. Never fails: a command that cannot start, or
    /// runs out of time, is reported as unsuccessful.
    pub(crate) fn run(&self, dir: &Path) -> Outcome {
        self.run_teeing(dir, true)
    }

    /// [`Cmd::run`], with the output shown only if `show` (tests of this
    /// module must not print summaries that the outer `ci` would count).
    fn run_teeing(&self, dir: &Path, show: bool) -> Outcome {
        println!("$ {self}");
        let _ = io::stdout().flush();
        let mut child = match self
            .command(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                eprintln!("xtask: cannot run `{}`: {e}", self.program);
                return Outcome::default();
            }
        };
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("piped");
        let err = child.stderr.take().expect("piped");
        let tx2 = tx.clone();
        if show {
            thread::spawn(move || tx.send(pump(out, io::stdout())));
            thread::spawn(move || tx2.send(pump(err, io::stderr())));
        } else {
            thread::spawn(move || tx.send(pump(out, io::sink())));
            thread::spawn(move || tx2.send(pump(err, io::sink())));
        }

        let start = Instant::now();
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if start.elapsed() >= self.timeout => {
                    eprintln!(
                        "xtask: `{self}` still running after {}: killing it",
                        fmt_duration(self.timeout)
                    );
                    kill_tree(child.id());
                    let _ = child.kill();
                    timed_out = true;
                    break child.wait().ok();
                }
                Ok(None) => thread::sleep(Duration::from_millis(20)),
                Err(e) => {
                    eprintln!("xtask: waiting for `{}`: {e}", self.program);
                    break None;
                }
            }
        };

        let success = !timed_out && status.is_some_and(|s| s.success());
        let mut scans = Vec::new();
        let drain_until = Instant::now() + DRAIN_GRACE;
        for _ in 0..2 {
            let left = drain_until.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(scan) => scans.push(scan),
                Err(_) => {
                    eprintln!(
                        "xtask: output of `{}` still open after it exited; not waiting for it",
                        self.program
                    );
                    break;
                }
            }
        }
        let outcome = Outcome {
            success,
            tests: Scan::tests(&scans),
            failures: scans.into_iter().flat_map(|s| s.failures).collect(),
        };
        if !outcome.success {
            if let Some(status) = status {
                eprintln!("xtask: `{}` failed: {status}", self.program);
            }
        }
        outcome
    }

    /// Runs the command quietly and returns its standard output if it
    /// succeeded. For probes (`dpkg-query`, `rustup ... list`): short-lived
    /// by nature, so no timeout.
    pub(crate) fn probe(&self, dir: &Path) -> Option<String> {
        let out = self
            .command(dir)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={} ", quote(v))?;
        }
        f.write_str(&self.program)?;
        for a in &self.args {
            write!(f, " {}", quote(a))?;
        }
        Ok(())
    }
}

/// Quotes a word for display the way a shell would need it.
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Tests counted from libtest summaries.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tests {
    pub(crate) passed: u64,
    /// Failed tests, plus one for each test binary that died without a
    /// summary (a crash, a signal).
    pub(crate) failed: u64,
    /// How many `test result:` lines were seen.
    pub(crate) summaries: u64,
}

impl Tests {
    pub(crate) fn add(&mut self, other: Tests) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.summaries += other.summaries;
    }
}

/// What a finished command did.
#[derive(Debug, Default, Clone)]
pub(crate) struct Outcome {
    pub(crate) success: bool,
    pub(crate) tests: Tests,
    /// What the output said of its failures: the failed tests' names and
    /// the first line of each panic, in the order seen (see [`Scan`]).
    pub(crate) failures: Vec<String>,
}

/// The most failure lines kept from one command: the summary at the end of
/// a run is for finding the failures, not for their whole output.
const FAILURE_LINES: usize = 40;

/// What one output stream said about tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Scan {
    passed: u64,
    failed: u64,
    summaries: u64,
    /// `test result: FAILED.` lines.
    failed_summaries: u64,
    /// Cargo's `error: test failed, to rerun pass ...`, one per failed
    /// test binary (or doctest run), whether or not it printed a summary.
    failed_targets: u64,
    /// libtest's `test name ... FAILED`, the `thread '...' panicked at`
    /// lines with the message line after them, ctest's list of failed
    /// tests and cargo's `to rerun pass` lines.
    failures: Vec<String>,
    /// The previous line was a panic's location: keep the next (its
    /// message) too.
    panic_message_next: bool,
    /// Inside ctest's `The following tests FAILED:` list.
    in_ctest_failures: bool,
}

impl Scan {
    fn line(&mut self, line: &str) {
        let line = strip_ansi(line);
        let line = line.trim();
        self.note_failure(line);
        if let Some((passed, failed)) = parse_test_result(line) {
            self.passed += passed;
            self.failed += failed;
            self.summaries += 1;
            if line.starts_with("test result: FAILED") {
                self.failed_summaries += 1;
            }
        } else if let Some((passed, failed)) = parse_ctest_result(line) {
            self.passed += passed;
            self.failed += failed;
            self.summaries += 1;
        } else if line.starts_with("error: test failed, to rerun pass")
            || line.starts_with("error: doctest failed, to rerun pass")
        {
            self.failed_targets += 1;
        }
    }

    /// Keeps `line` in `failures` if it names a failure (see there).
    fn note_failure(&mut self, line: &str) {
        let keep = if std::mem::take(&mut self.panic_message_next) {
            !line.is_empty()
        } else if self.in_ctest_failures {
            // ctest lists them as `  3 - name (Failed)`, then a blank line.
            self.in_ctest_failures = !line.is_empty();
            self.in_ctest_failures
        } else if (line.starts_with("thread '") && line.contains("' panicked at"))
            || line.contains("panic (fatal in this test binary)")
        {
            // The second: the hostile-peer tests' own hook, which aborts
            // (so no libtest summary names the test).
            self.panic_message_next = true;
            true
        } else if line.contains("replay with IPC_SOAK_SEED=") {
            true
        } else if line == "The following tests FAILED:" {
            self.in_ctest_failures = true;
            false
        } else {
            (line.starts_with("test ") && line.ends_with(" ... FAILED"))
                || line.starts_with("error: test failed, to rerun pass")
                || line.starts_with("error: doctest failed, to rerun pass")
        };
        if keep && self.failures.len() < FAILURE_LINES {
            let mut kept: String = line.chars().take(300).collect();
            if kept.len() < line.len() {
                kept.push_str(" ...");
            }
            self.failures.push(kept);
        }
    }

    /// Combines what stdout (summaries) and stderr (cargo's errors) said.
    /// The streams interleave unpredictably, so this only compares counts.
    fn tests(scans: &[Scan]) -> Tests {
        let mut all = Scan::default();
        for s in scans {
            all.passed += s.passed;
            all.failed += s.failed;
            all.summaries += s.summaries;
            all.failed_summaries += s.failed_summaries;
            all.failed_targets += s.failed_targets;
        }
        let died = all.failed_targets.saturating_sub(all.failed_summaries);
        Tests {
            passed: all.passed,
            failed: all.failed + died,
            summaries: all.summaries,
        }
    }
}

/// Copies `from` to `to` line by line, scanning it for test results.
fn pump(from: impl Read, mut to: impl Write) -> Scan {
    let mut scan = Scan::default();
    let mut reader = BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let _ = to.write_all(&line);
                let _ = to.flush();
                scan.line(&String::from_utf8_lossy(&line));
            }
        }
    }
    scan
}

/// Reads libtest's `test result: ok. 12 passed; 0 failed; 1 ignored; ...`.
/// Only a line that *starts* with it counts (a compiler diagnostic quoting
/// source code that mentions it must not).
pub(crate) fn parse_test_result(line: &str) -> Option<(u64, u64)> {
    let line = strip_ansi(line);
    let rest = line.trim().strip_prefix("test result:")?;
    let words: Vec<&str> = rest
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let count = |label: &str| -> Option<u64> {
        let at = words.iter().position(|w| *w == label)?;
        words.get(at.checked_sub(1)?)?.parse().ok()
    };
    Some((count("passed")?, count("failed")?))
}

/// Reads ctest's `100% tests passed, 0 tests failed out of 7` (the C++
/// tests), as (passed, failed).
pub(crate) fn parse_ctest_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().split_once("% tests passed, ")?.1;
    let (failed, total) = rest.split_once(" tests failed out of ")?;
    let failed: u64 = failed.trim().parse().ok()?;
    let total: u64 = total.trim().parse().ok()?;
    Some((total.checked_sub(failed)?, failed))
}

/// Removes ANSI escape sequences (`ESC [ ... letter`), for colored output.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Kills `root` and every process descended from it (cargo's children, the
/// test binaries, the peers they spawn). Linux only: elsewhere there is no
/// `/proc` to walk and the caller kills `root` alone.
fn kill_tree(root: u32) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    let parents: Vec<(u32, u32)> = dir
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces and parens.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|&&(_, pp)| pp == p)
                .map(|&(pid, _)| pid),
        );
        i += 1;
    }
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(tree.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// `1m 05s`, `12.3s`.
pub(crate) fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 60.0 {
        let whole = d.as_secs();
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else {
        format!("{secs:.1}s")
    }
}

/// Whether `program` is an executable on PATH (or a path that exists).
pub(crate) fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libtest_summaries() {
        let ok = "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
        assert_eq!(parse_test_result(ok), Some((12, 0)));
        let bad = "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.2s\r\n";
        assert_eq!(parse_test_result(bad), Some((3, 2)));
        let colored = "test result: \u{1b}[32mok\u{1b}[0m. 7 passed; 0 failed; 0 ignored";
        assert_eq!(parse_test_result(colored), Some((7, 0)));
    }

    #[test]
    fn ignores_other_lines() {
        assert_eq!(parse_test_result("running 3 tests"), None);
        assert_eq!(
            parse_test_result(
                "   |     if line.starts_with(\"test result: ok. 1 passed; 0 failed\")"
            ),
            None
        );
        assert_eq!(parse_test_result("test result: garbled"), None);
    }

    #[test]
    fn parses_ctest_summaries() {
        assert_eq!(
            parse_ctest_result("100% tests passed, 0 tests failed out of 7"),
            Some((7, 0))
        );
        assert_eq!(
            parse_ctest_result("67% tests passed, 1 tests failed out of 3\r\n"),
            Some((2, 1))
        );
        assert_eq!(parse_ctest_result("tests passed, but no numbers"), None);
    }

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(fmt_duration(Duration::from_secs(65)), "1m 05s");
    }

    #[test]
    fn displays_commands_as_a_shell_would_read_them() {
        let c = Cmd::cargo()
            .env("RUSTFLAGS", "--cfg loom")
            .args(["test", "--test", "loom"]);
        assert_eq!(
            c.to_string(),
            "RUSTFLAGS='--cfg loom' cargo test --test loom"
        );
    }

    #[test]
    fn tees_and_counts() {
        let c = Cmd::new("sh")
            .arg("-c")
            .arg("echo 'test result: ok. 2 passed; 1 failed; 0 ignored'; exit 3");
        let o = c.run_teeing(Path::new("."), false);
        assert!(!o.success);
        assert_eq!(
            o.tests,
            Tests {
                passed: 2,
                failed: 1,
                summaries: 1
            }
        );
    }

    #[test]
    fn a_test_binary_that_dies_without_a_summary_counts_as_a_failure() {
        let mut out = Scan::default();
        let mut err = Scan::default();
        out.line("test result: ok. 4 passed; 0 failed; 0 ignored\n");
        out.line("test result: FAILED. 1 passed; 2 failed; 0 ignored\n");
        err.line("error: test failed, to rerun pass `-p ipc-channel-shm --test ring`\n");
        err.line("error: test failed, to rerun pass `-p ipc-channel-shm --test process`\n");
        let tests = Scan::tests(&[out, err]);
        assert_eq!(
            tests,
            Tests {
                passed: 5,
                failed: 3,
                summaries: 2
            }
        );
    }

    #[test]
    fn failures_are_kept_by_name_with_their_panic_messages() {
        let mut out = Scan::default();
        for line in [
            "running 3 tests\n",
            "test ring::wraps ... ok\n",
            "thread 'ring::fills' panicked at crates/x/src/ring.rs:10:5:\n",
            "assertion failed: full\n",
            "note: run with `RUST_BACKTRACE=1` for a backtrace\n",
            "test ring::fills ... FAILED\n",
            "hostile_peer: scribble: seed 7 (9 mutations; replay with IPC_SOAK_SEED=7 IPC_SOAK_MUTATIONS=9)\n",
            "hostile_peer: panic (fatal in this test binary): panicked at t.rs:1:2:\n",
            "seed 7: late\n",
            "The following tests FAILED:\n",
            "\t  3 - cpp_link (Failed)\n",
            "\n",
            "Errors while running CTest\n",
        ] {
            out.line(line);
        }
        assert_eq!(
            out.failures,
            [
                "thread 'ring::fills' panicked at crates/x/src/ring.rs:10:5:",
                "assertion failed: full",
                "test ring::fills ... FAILED",
                "hostile_peer: scribble: seed 7 (9 mutations; replay with IPC_SOAK_SEED=7 IPC_SOAK_MUTATIONS=9)",
                "hostile_peer: panic (fatal in this test binary): panicked at t.rs:1:2:",
                "seed 7: late",
                "3 - cpp_link (Failed)",
            ]
        );
    }

    #[test]
    fn kills_what_runs_too_long() {
        let start = Instant::now();
        let c = Cmd::new("sh")
            .arg("-c")
            .arg("sleep 30 & sleep 30")
            .timeout(Duration::from_millis(200));
        assert!(!c.run_teeing(Path::new("."), false).success);
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
