//! `cargo xtask ci`: everything CI runs, in order. Keeps going after a
//! failed step, times each step, prints a summary table and, last, a line
//! `N passed, N failed` counting the tests of every cargo test run (a
//! command that fails without failing tests counts as one failure).

use crate::bench_report;
use crate::cmd::{fmt_duration, Cmd, Tests};
use crate::setup::{self, I686, TARGETS, WINDOWS};
use crate::Ctx;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// One step of the CI run.
#[derive(Debug)]
pub(crate) struct StepDef {
    pub(crate) name: &'static str,
    pub(crate) about: &'static str,
    run: fn(&mut Step),
}

pub(crate) const STEPS: &[StepDef] = &[
    StepDef {
        name: "setup",
        about: "install apt packages, rust targets, Miri, the Wine prefix, cargo-fuzz",
        run: setup::run,
    },
    StepDef {
        name: "fmt",
        about: "cargo fmt --all --check",
        run: fmt,
    },
    StepDef {
        name: "codegen",
        about: "the generated files are up to date (cargo xtask codegen --check)",
        run: codegen,
    },
    StepDef {
        name: "seams",
        about: "no OS named outside sys/, no std atomics outside sync.rs (cargo xtask seams)",
        run: seams,
    },
    StepDef {
        name: "clippy",
        about: "clippy -D warnings: host, Windows, i686, macOS (type-check)",
        run: clippy,
    },
    StepDef {
        name: "doc",
        about: "cargo doc with RUSTDOCFLAGS=-D warnings",
        run: doc,
    },
    StepDef {
        name: "msrv",
        about: "the library crates build with the declared rust-version",
        run: msrv,
    },
    // Before `test`: the workspace tests run the C++ test programs this
    // builds (crates/ipc-test-support/tests/cpp_layer.rs).
    StepDef {
        name: "c-cpp",
        about: "libipc installed; C and C++ against it (sanitizers, static, pkg-config, i686, Wine, Winelib)",
        run: crate::c_cpp::run,
    },
    StepDef {
        name: "lmms",
        about: "the LMMS adapter: its tests (sanitizers), the installed ipc::lmms, i686, Winelib and Windows peers",
        run: crate::lmms::run,
    },
    StepDef {
        name: "test",
        about: "cargo test --workspace (host, with doctests)",
        run: test,
    },
    StepDef {
        name: "examples",
        about: "the minimal host and plugin examples run against each other",
        run: examples,
    },
    StepDef {
        name: "test-i686",
        about: "32-bit tests, then 64-bit host against a 32-bit peer",
        run: test_i686,
    },
    StepDef {
        name: "test-windows",
        about: "the library and process tests as Windows executables under Wine",
        run: test_windows,
    },
    StepDef {
        name: "loom",
        about: "model-check the wait/wake protocol (--cfg loom)",
        run: loom,
    },
    StepDef {
        name: "miri",
        about: "the ring tests and the hostile-peer unit tests under Miri",
        run: miri,
    },
    StepDef {
        name: "fuzz",
        about: "fuzz the message decoder for 60 s (cargo-fuzz, from the seed corpus)",
        run: fuzz,
    },
    StepDef {
        name: "shm-leak",
        about: "no /dev/shm/ipc-* left behind",
        run: shm_leak,
    },
    StepDef {
        name: "bench-smoke",
        about: "benches build, the latency harness runs, bench-report draws a few rows, footprint counts",
        run: bench_smoke,
    },
];

const CRATE: &str = "ipc-channel-shm";
/// The library crates, which every platform builds and tests.
const LIBRARIES: &[&str] = &["ipc-channel-shm", "ipc-msgpack", "ipc-link"];
/// The unpublished crate of the peer programs and the process tests.
const TEST_SUPPORT: &str = "ipc-test-support";

/// `-p a -p b ...` for every library crate and the test-support crate:
/// what every platform builds and tests.
fn tested() -> Vec<&'static str> {
    LIBRARIES
        .iter()
        .chain([&TEST_SUPPORT])
        .flat_map(|c| ["-p", *c])
        .collect()
}

/// The programs (binaries of the test-support crate) that play the peer in
/// its process tests, the variable through which those tests accept another
/// build of them, and the tests that run them.
const PEERS: &[(&str, &str, &[&str])] = &[
    ("ipc-shm-peer", "IPC_TEST_PEER", &["channel_process"]),
    (
        "ipc-msgpack-peer",
        "IPC_TEST_MSGPACK_PEER",
        &["msgpack_process"],
    ),
    (
        "ipc-link-test-plugin",
        "IPC_TEST_PLUGIN",
        &["link", "link_rt_alloc"],
    ),
];

/// The state of the step being run, handed to its function.
#[derive(Debug)]
pub(crate) struct Step<'a> {
    pub(crate) ctx: &'a Ctx,
    tests: Tests,
    /// Failures that are not failed tests: commands, prerequisites, checks.
    other_failures: u64,
    commands: usize,
    skipped: Vec<String>,
    /// What the failed commands said of their failures (see `Outcome`).
    failures: Vec<String>,
}

impl Step<'_> {
    /// Runs `cmd` in the workspace root; returns whether it succeeded.
    pub(crate) fn run(&mut self, cmd: &Cmd) -> bool {
        self.commands += 1;
        let outcome = cmd.run(&self.ctx.root);
        self.tests.add(outcome.tests);
        if !outcome.success {
            if outcome.tests.failed == 0 {
                self.other_failures += 1;
            }
            if outcome.failures.is_empty() {
                self.failures.push(format!("`{cmd}` failed"));
            }
            self.failures.extend(outcome.failures);
        }
        outcome.success
    }

    /// A prerequisite is missing: a failure with `CI=true`, else a skip.
    pub(crate) fn missing(&mut self, what: &str) {
        if self.ctx.ci {
            println!("xtask: FAILED: {what} (a missing prerequisite is a failure with CI=true)");
            self.other_failures += 1;
            self.failures.push(format!("missing: {what}"));
        } else {
            println!("xtask: skipping: {what}");
            self.skipped.push(what.to_owned());
        }
    }

    /// A check of the step's own failed.
    pub(crate) fn fail(&mut self, why: &str) {
        println!("xtask: FAILED: {why}");
        self.other_failures += 1;
        self.failures.push(why.to_owned());
    }

    /// Runs `cmd` if `ready` says its prerequisites are there.
    fn run_if(&mut self, ready: Result<(), String>, cmd: &Cmd) -> bool {
        match ready {
            Ok(()) => self.run(cmd),
            Err(why) => {
                self.missing(&why);
                false
            }
        }
    }

    /// A check that is not a cargo test run passed: count it as one test.
    pub(crate) fn passed(&mut self) {
        self.tests.add(Tests {
            passed: 1,
            failed: 0,
            summaries: 1,
        });
    }

    fn failed(&self) -> u64 {
        self.tests.failed + self.other_failures
    }
}

fn fmt(step: &mut Step) {
    step.run(&Cmd::cargo().args(["fmt", "--all", "--check"]));
}

fn codegen(step: &mut Step) {
    match crate::codegen::stale(&step.ctx.root) {
        Ok(stale) if stale.is_empty() => {
            println!("every generated file is up to date");
            step.passed();
        }
        Ok(stale) => {
            for p in &stale {
                println!("{} is out of date", p.display());
            }
            step.fail(
                "generated files out of date: run `cargo xtask codegen` and commit the result",
            );
        }
        Err(e) => step.fail(&format!("codegen: {e}")),
    }
}

fn seams(step: &mut Step) {
    let found = crate::seams::breaches(&step.ctx.root);
    for b in &found {
        println!("{}:{}: {}: {}", b.file.display(), b.line, b.rule, b.text);
    }
    if found.is_empty() {
        println!("no operating system named outside sys/, no std atomics outside sync.rs");
        step.passed();
    } else {
        step.fail(&format!("{} breach(es) of the seams", found.len()));
    }
}

fn clippy(step: &mut Step) {
    step.run(&Cmd::cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]));
    // The library crates, the C ABI and the test peers carry per-OS code. macOS is
    // only type-checked (clippy never links, so no macOS linker is needed,
    // and --all-targets covers the tests' code too).
    for target in TARGETS {
        let ready = if setup::has_target(step.ctx, target) {
            Ok(())
        } else {
            Err(format!(
                "rust target {target} not installed: not linting for it (run `cargo xtask setup`)"
            ))
        };
        let mut args = vec!["clippy"];
        args.extend(tested());
        args.extend(["-p", "ipc-ffi"]);
        args.extend(["--all-targets", "--target", target, "--", "-D", "warnings"]);
        step.run_if(ready, &Cmd::cargo().args(args));
    }
}

fn doc(step: &mut Step) {
    let cmd =
        Cmd::cargo()
            .env("RUSTDOCFLAGS", "-D warnings")
            .args(["doc", "--workspace", "--no-deps"]);
    if step.run(&cmd) {
        step.passed();
    }
}

fn msrv(step: &mut Step) {
    let ctx = step.ctx;
    let version = match setup::msrv_ready(ctx) {
        Ok(v) => v,
        Err(why) => {
            step.missing(&why);
            return;
        }
    };
    // Its own target directory: another compiler would rebuild the normal one.
    let mut args = vec![format!("+{version}"), "build".to_owned()];
    args.extend(
        LIBRARIES
            .iter()
            .flat_map(|c| ["-p".to_owned(), (*c).to_owned()]),
    );
    let cmd = Cmd::cargo()
        .env(
            "CARGO_TARGET_DIR",
            ctx.target.join("msrv").to_string_lossy(),
        )
        .args(args);
    if step.run(&cmd) {
        step.passed();
    }
}

/// `minimal_host` starts `minimal_plugin` (both built as examples) and
/// exits non-zero unless every check it prints holds.
fn examples(step: &mut Step) {
    let ctx = step.ctx;
    if !step.run(&Cmd::cargo().args(["build", "-p", "ipc-link", "--examples"])) {
        return;
    }
    let host = ctx
        .target
        .join("debug")
        .join("examples")
        .join(format!("minimal_host{}", std::env::consts::EXE_SUFFIX));
    let cmd = Cmd::new(host.to_string_lossy()).timeout(Duration::from_secs(120));
    if step.run(&cmd) {
        step.passed();
    }
}

fn test(step: &mut Step) {
    step.run(&Cmd::cargo().args(["test", "--workspace", "--no-fail-fast"]));
}

fn test_i686(step: &mut Step) {
    let ctx = step.ctx;
    if let Err(why) = setup::i686_ready(ctx) {
        step.missing(&why);
        return;
    }
    // The whole suite as a 32-bit build, peers included.
    let mut args = vec!["test"];
    args.extend(tested());
    args.extend(["--target", I686, "--no-fail-fast"]);
    step.run(&Cmd::cargo().args(args));

    // The case LMMS needs: a 64-bit host talking to a 32-bit plugin. The
    // 64-bit process tests run against the 32-bit builds of their peers.
    let mut build = vec!["build", "-p", TEST_SUPPORT];
    for (bin, _, _) in PEERS {
        build.extend(["--bin", bin]);
    }
    build.extend(["--target", I686]);
    if !step.run(&Cmd::cargo().args(build)) {
        return;
    }
    for (bin, var, tests) in PEERS {
        let peer = ctx.target.join(I686).join("debug").join(bin);
        let mut args = vec!["test", "-p", TEST_SUPPORT, "--no-fail-fast"];
        for test in *tests {
            args.extend(["--test", test]);
        }
        step.run(&Cmd::cargo().env(*var, peer.to_string_lossy()).args(args));
    }
}

fn test_windows(step: &mut Step) {
    let ready = setup::windows_ready(step.ctx);
    // The runner (Wine) comes from .cargo/config.toml. The process tests
    // start the Windows builds of their peers, under Wine too.
    let mut args = vec!["test"];
    args.extend(tested());
    args.extend(["--target", WINDOWS, "--no-fail-fast"]);
    let mut cmd = Cmd::cargo().env("WINEDEBUG", "-all").args(args);
    // This program as the runner (`xtask wine-run`): it starts a test
    // program again if Wine could not start it. Cargo splits the
    // variable at spaces, so only a path without any.
    match std::env::current_exe() {
        Ok(me) if !me.to_string_lossy().contains(char::is_whitespace) => {
            let var = format!(
                "CARGO_TARGET_{}_RUNNER",
                WINDOWS.to_uppercase().replace('-', "_")
            );
            cmd = cmd.env(var, format!("{} wine-run", me.display()));
        }
        _ => {}
    }
    step.run_if(ready, &cmd);
}

fn loom(step: &mut Step) {
    let ctx = step.ctx;
    if !test_file(ctx, "loom").is_file() {
        step.missing("crates/ipc-channel-shm/tests/loom.rs not found");
        return;
    }
    // Its own target directory: other RUSTFLAGS would rebuild the normal one.
    let flags = match std::env::var("RUSTFLAGS") {
        Ok(f) if !f.trim().is_empty() => format!("{f} --cfg loom"),
        _ => "--cfg loom".to_owned(),
    };
    let cmd = Cmd::cargo()
        .env("RUSTFLAGS", flags)
        .env(
            "CARGO_TARGET_DIR",
            ctx.target.join("loom").to_string_lossy(),
        )
        .args([
            "test",
            "-p",
            CRATE,
            "--test",
            "loom",
            "--release",
            "--no-fail-fast",
        ]);
    step.run(&cmd);
}

fn miri(step: &mut Step) {
    let ctx = step.ctx;
    if !test_file(ctx, "ring").is_file() {
        step.missing("crates/ipc-channel-shm/tests/ring.rs not found");
        return;
    }
    // cargo-miri builds in `<target dir>/miri` by itself. No
    // -Zmiri-disable-isolation: the ring tests need no host access. The
    // tests that play a peer scribbling on the memory are unit tests of the
    // crate (only they can reach the mapping).
    let ring = Cmd::cargo().args([
        "+nightly",
        "miri",
        "test",
        "-p",
        CRATE,
        "--test",
        "ring",
        "--no-fail-fast",
    ]);
    let hostile = Cmd::cargo().args([
        "+nightly",
        "miri",
        "test",
        "-p",
        CRATE,
        "--lib",
        "--no-fail-fast",
        "--",
        "channel::hostile_tests",
    ]);
    match setup::miri_ready(ctx) {
        Ok(()) => {
            step.run(&ring);
            step.run(&hostile);
        }
        Err(why) => step.missing(&why),
    }
}

/// The `decode` target of `fuzz/` (see `fuzz/README.md`) for a minute,
/// from a fresh copy of the seed corpus in the target directory (new
/// inputs must not land in the repository). Counts as one test.
fn fuzz(step: &mut Step) {
    let ctx = step.ctx;
    let fuzz_dir = ctx.root.join("fuzz");
    let seeds = fuzz_dir.join("corpus").join("decode");
    if !seeds.is_dir() {
        step.missing("fuzz/corpus/decode not found: nothing to fuzz");
        return;
    }
    if let Err(why) = setup::nightly_ready(ctx) {
        step.missing(&why);
        return;
    }
    if !setup::cargo_fuzz(step) {
        return;
    }
    // Its own target directory: sanitizer flags would rebuild the normal one.
    let target = ctx.target.join("fuzz");
    let corpus = target.join("corpus").join("decode");
    let artifacts = target.join("artifacts").join("decode");
    if let Err(e) = fresh_copy(&seeds, &corpus).and_then(|()| std::fs::create_dir_all(&artifacts)) {
        step.fail(&format!(
            "cannot copy the seed corpus to {}: {e}",
            corpus.display()
        ));
        return;
    }
    let path = |p: &Path| p.to_string_lossy().into_owned();
    // -timeout: one input running 10 s is a hang (a finding), long before
    // the command's own timeout. The last -artifact_prefix wins over the
    // one cargo-fuzz passes (fuzz/artifacts/, in the repository).
    let cmd = Cmd::cargo()
        .args(["+nightly", "fuzz", "run", "--fuzz-dir"])
        .arg(path(&fuzz_dir))
        .arg("--target-dir")
        .arg(path(&target))
        .arg("decode")
        .arg(path(&corpus))
        .args([
            "--",
            "-max_total_time=60",
            "-timeout=10",
            "-rss_limit_mb=256",
            "-malloc_limit_mb=64",
            "-print_final_stats=1",
        ])
        .arg(format!("-artifact_prefix={}/", path(&artifacts)));
    if step.run(&cmd) {
        step.passed();
    } else {
        println!(
            "xtask: the failing input is in {} (reproduce: `cargo +nightly fuzz run decode <file>`)",
            artifacts.display()
        );
    }
}

/// Replaces `to` with a copy of the files in `from`.
fn fresh_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

fn test_file(ctx: &Ctx, name: &str) -> std::path::PathBuf {
    ctx.root
        .join("crates")
        .join(CRATE)
        .join("tests")
        .join(format!("{name}.rs"))
}

/// Segments this project creates are named `ipc-...`; each is unlinked as
/// soon as the peer attaches, so after the tests none may remain.
fn shm_leak(step: &mut Step) {
    let dir = Path::new("/dev/shm");
    if !dir.is_dir() {
        println!("xtask: no /dev/shm on this system: nothing to check");
        return;
    }
    let mut leaked = ipc_segments(dir);
    // Another program's test may hold one for a moment: look again.
    for _ in 0..3 {
        if leaked.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
        leaked = leaked.intersection(&ipc_segments(dir)).cloned().collect();
    }
    if leaked.is_empty() {
        println!("no /dev/shm/ipc-* segments left behind");
        return;
    }
    for name in &leaked {
        let when = step.ctx.started_before.contains(name);
        println!(
            "  /dev/shm/{name}{}",
            if when {
                "  (already there before this run)"
            } else {
                ""
            }
        );
    }
    step.fail(&format!(
        "{} shared-memory segment(s) left in /dev/shm",
        leaked.len()
    ));
}

pub(crate) fn ipc_segments(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("ipc-"))
                .collect()
        })
        .unwrap_or_default()
}

fn bench_smoke(step: &mut Step) {
    step.run(&Cmd::cargo().args(["bench", "-p", "ipc-benches", "--no-run"]));
    // Just that it runs: no thresholds on a shared CI machine.
    let latency = Cmd::cargo()
        .args([
            "run",
            "--release",
            "-p",
            "ipc-benches",
            "--bin",
            "ipc-latency",
            "--",
            "--iters",
            "2000",
            "--json",
        ])
        .timeout(Duration::from_secs(10 * 60));
    step.run(&latency);
    // The report from a few rows, written under the target directory: CI
    // must not rewrite the committed docs.
    let out = step.ctx.target.join("bench-smoke");
    let _ = std::fs::remove_dir_all(&out);
    let report = Cmd::cargo()
        .args(["xtask", "bench-report", "--iters", "2000", "--only"])
        .arg(SMOKE_ROWS.join(","))
        .arg("--out")
        .arg(out.to_string_lossy())
        .timeout(Duration::from_secs(10 * 60));
    // The cache lines of a call, counted under valgrind: that the counting
    // still finds its way through the code.
    let footprint = Cmd::cargo()
        .args(["xtask", "footprint"])
        .timeout(Duration::from_secs(10 * 60));
    if step.run(&report) && step.run(&footprint) {
        let expected = [
            out.join("BENCHMARKS.md"),
            out.join("bench").join(bench_report::plots::LATENCY),
            out.join("bench").join(bench_report::plots::RATES),
        ];
        match expected.iter().find(|f| !f.is_file()) {
            Some(missing) => {
                step.fail(&format!("bench-report did not write {}", missing.display()))
            }
            None => step.passed(),
        }
    }
}

/// What `bench-smoke` draws a report of: a latency and a throughput, each
/// with its baseline.
const SMOKE_ROWS: &[&str] = &[
    "baseline_futex_pingpong",
    "channel_pingpong",
    "baseline_uds_stream",
    "channel_stream",
];

/// How a step ended.
#[derive(Debug)]
struct Report {
    name: &'static str,
    result: &'static str,
    time: Duration,
    tests: Tests,
    failed: u64,
    skipped: Vec<String>,
    failures: Vec<String>,
}

pub(crate) fn main(ctx: &Ctx, args: &[String]) -> ExitCode {
    let selected = match select(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "xtask ci: {e}\nsteps: {}",
                STEPS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
            );
            return ExitCode::from(2);
        }
    };
    if selected.is_empty() {
        println!("xtask ci: --only/--skip leave no step to run");
    }
    let start = Instant::now();
    let mut reports = Vec::new();
    for (i, def) in selected.iter().enumerate() {
        println!(
            "\n==> [{}/{}] {}: {}",
            i + 1,
            selected.len(),
            def.name,
            def.about
        );
        let t0 = Instant::now();
        let mut step = Step {
            ctx,
            tests: Tests::default(),
            other_failures: 0,
            commands: 0,
            skipped: Vec::new(),
            failures: Vec::new(),
        };
        (def.run)(&mut step);
        let time = t0.elapsed();
        let result = match (step.failed(), step.skipped.is_empty(), step.commands) {
            (1.., _, _) => "FAILED",
            (0, false, 0) => "skipped",
            (0, false, _) => "partial",
            (0, true, _) => "ok",
        };
        let mut line = format!("<== {}: {result} in {}", def.name, fmt_duration(time));
        if step.tests.summaries > 0 {
            line += &format!(
                " ({} passed, {} failed)",
                step.tests.passed, step.tests.failed
            );
        }
        println!("{line}");
        reports.push(Report {
            name: def.name,
            result,
            time,
            tests: step.tests,
            failed: step.failed(),
            skipped: step.skipped,
            failures: step.failures,
        });
    }
    summary(&reports, start.elapsed())
}

/// The steps `--only`/`--skip` leave, in CI order.
fn select(args: &[String]) -> Result<Vec<&'static StepDef>, String> {
    let mut only: Option<BTreeSet<String>> = None;
    let mut skip = BTreeSet::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let set = match flag {
            "--only" => only.get_or_insert_with(BTreeSet::new),
            "--skip" => &mut skip,
            _ => return Err(format!("unknown argument `{arg}` (try `cargo xtask help`)")),
        };
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .ok_or_else(|| format!("`{flag}` needs a list of steps"))?
                .clone(),
        };
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !STEPS.iter().any(|s| s.name == name) {
                return Err(format!("no step named `{name}`"));
            }
            set.insert(name.to_owned());
        }
    }
    Ok(STEPS
        .iter()
        .filter(|s| only.as_ref().is_none_or(|o| o.contains(s.name)) && !skip.contains(s.name))
        .collect())
}

fn summary(reports: &[Report], total: Duration) -> ExitCode {
    println!("\n{:<14}{:<9}{:>9}  tests", "step", "result", "time");
    println!("{}", "-".repeat(50));
    let mut all = Tests::default();
    let mut failed = 0;
    for r in reports {
        let tests = match (r.tests.summaries, r.failed.saturating_sub(r.tests.failed)) {
            (0, 0) => String::new(),
            (0, other) => format!("{other} failed"),
            (_, 0) => format!("{} passed, {} failed", r.tests.passed, r.tests.failed),
            (_, other) => format!(
                "{} passed, {} failed (+{other})",
                r.tests.passed, r.tests.failed
            ),
        };
        println!(
            "{:<14}{:<9}{:>9}  {tests}",
            r.name,
            r.result,
            fmt_duration(r.time)
        );
        all.add(r.tests);
        failed += r.failed;
    }
    println!("{}", "-".repeat(50));
    println!(
        "{:<14}{:<9}{:>9}",
        "total",
        if failed == 0 { "ok" } else { "FAILED" },
        fmt_duration(total)
    );
    for r in reports {
        for why in &r.skipped {
            println!("note: {} skipped: {why}", r.name);
        }
    }
    // The failures again, next to the count: a log read from its end (a
    // CI page, `tail`) shows what failed without a search through it.
    for r in reports {
        for what in &r.failures {
            println!("failure: {}: {what}", r.name);
        }
    }
    println!("{} passed, {} failed", all.passed, failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(args: &[&str]) -> Result<Vec<&'static str>, String> {
        let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
        select(&args).map(|s| s.iter().map(|d| d.name).collect())
    }

    #[test]
    fn selects_steps_in_ci_order() {
        assert_eq!(names(&[]).unwrap().len(), STEPS.len());
        assert_eq!(names(&["--only", "fmt,setup"]).unwrap(), ["setup", "fmt"]);
        assert_eq!(
            names(&["--only=fmt", "--only", "miri"]).unwrap(),
            ["fmt", "miri"]
        );
        let rest = names(&["--skip", "setup,bench-smoke", "--skip=loom"]).unwrap();
        assert!(!rest.contains(&"setup") && !rest.contains(&"loom") && rest.contains(&"test"));
        assert!(names(&["--only", "nope"]).is_err());
        assert!(names(&["--only"]).is_err());
        assert!(names(&["--frobnicate"]).is_err());
    }
}
