//! `cargo xtask`: the project's chores, written in Rust rather than shell so
//! they run the same on every machine. One module per task.

mod bench_report;
mod c_cpp;
mod ci;
mod cmd;
mod codegen;
mod demo;
mod footprint;
mod install;
mod lmms;
mod lmms_bench;
mod seams;
mod setup;
mod soak;
mod wine_run;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const HELP: &str = "\
cargo xtask <task> [options]

Tasks:
  bench-report [--out DIR] [--from FILE] [--only A,B] [--iters N] [--rounds N]
        Run the latency harness in release mode (`ipc-latency --pin split
        --rounds 3 --json`, with the options given), then write
        DIR/bench/*.svg (latency distributions, throughput and message
        rates, cost by plugin count), DIR/bench/ipc-latency.jsonl (the
        lines) and DIR/BENCHMARKS.md: docs/BENCHMARKS.md with its
        generated part redone. DIR defaults to docs/. --from FILE draws a
        saved ipc-latency.jsonl instead of running.
  ci [--only STEPS] [--skip STEPS]
        Run everything CI runs, in order, and keep going after a failure.
        Prints each step's duration, a summary table, a `failure:` line for
        each failed test, panic or command, and a last line `N passed, N
        failed` counting the tests of every cargo test run.
        Exits non-zero if anything failed. STEPS is a comma-separated list
        (--only and --skip may be repeated). Steps:
{steps}
        With CI=true a missing prerequisite (target, package, Wine prefix)
        is a failure; otherwise the step says why it is skipped.
  setup
        Only install what CI needs (the `setup` step of `ci`).
  codegen [--check]
        Write the generated files (include/ipc.h, by cbindgen from ffi/;
        ffi/tests/c/null_arguments.c, the NULL-argument test, from it);
        with --check, write nothing and fail if one is out of date.
  install --prefix DIR [--release] [--target TRIPLE]
        Build libipc (ipc-ffi) and install it for C and C++: lib/ (the
        shared library with its soname links, or bin/ipc.dll and its
        import library; libipc.a), include/ (ipc.h, ipc.hpp),
        lib/cmake/ipc/ (find_package(ipc): ipc::ipc, ipc::ipc_static,
        ipc::lmms), lib/pkgconfig/ (ipc.pc, ipc-static.pc), and the LMMS
        adapter (include/ipc/lmms/, share/ipc/lmms/src/; docs/LMMS.md).
  seams
        Check the design's seams on the source: no operating system named
        outside `sys/` in the library crates, no std atomics or locks
        outside `sync.rs` in ipc-channel-shm.
  demo [ARGS]
        Build and run the demo of the whole stack in release mode:
        `cargo run --release -p ipc-link --example demo -- ARGS`
        (`cargo xtask demo --help` lists its options).
  footprint
        Count the cache lines one real-time call touches, on the plugin's
        and on the host's side, with the link and with the raw futex
        pattern of the round-robin baselines: valgrind's lackey tool
        traces four short benchmark runs (about a minute; needs valgrind).
        Counted, not timed: a build's figures move by a line or so.
  soak [--mutations N] [--kills N] [--seed S]
        The long run, in release mode (not part of `ci`): the hostile-peer
        tests with peers that overwrite N words of the shared memory in
        all (default 1000000) and the kill campaign with N kills (default
        1000), with progress every 10 % and a summary. --seed S repeats a
        run (both print the seed they used).
  wine-run PROGRAM [ARGS]
        Cargo's runner for the Windows test programs (`ci` sets it for
        test-windows): PROGRAM under Wine, started again (at most twice)
        when Wine could not start it (STATUS_DLL_INIT_FAILED).
  help
        This text.

Environment: CARGO_TARGET_DIR is honoured (default: <repo>/target); loom and
Miri build in their own subdirectories of it.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("wine-run") {
        // Cargo's runner: before anything else, per test program.
        return wine_run::main(&args[1..]);
    }
    let ctx = Ctx::from_env();
    match args.first().map(String::as_str) {
        Some("bench-report") => bench_report::main(&ctx, &args[1..]),
        Some("ci") => ci::main(&ctx, &args[1..]),
        Some("demo") => demo::main(&ctx, &args[1..]),
        Some("footprint") => footprint::main(&ctx, &args[1..]),
        Some("install") => install::main(&ctx, &args[1..]),
        Some("soak") => soak::main(&ctx, &args[1..]),
        Some("seams") if args.len() == 1 => seams::main(&ctx.root),
        Some("codegen") => codegen::main(&ctx.root, &args[1..]),
        Some("setup") if args.len() == 1 => {
            ci::main(&ctx, &["--only".to_owned(), "setup".to_owned()])
        }
        None | Some("help" | "--help" | "-h") => {
            print!("{}", help());
            ExitCode::SUCCESS
        }
        Some(_) => {
            eprintln!("xtask: unknown task or arguments `{}`\n", args.join(" "));
            eprint!("{}", help());
            ExitCode::from(2)
        }
    }
}

fn help() -> String {
    let steps: String = ci::STEPS
        .iter()
        .map(|s| format!("          {:<12} {}\n", s.name, s.about))
        .collect();
    HELP.replace("{steps}\n", &steps)
}

/// What every task needs to know about where it runs.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The workspace root; every command runs there.
    pub(crate) root: PathBuf,
    /// Cargo's target directory for ordinary builds.
    pub(crate) target: PathBuf,
    /// Running on CI (`CI=true`): a missing prerequisite is a failure.
    pub(crate) ci: bool,
    /// The `ipc-*` shared-memory segments that existed before this run.
    pub(crate) started_before: BTreeSet<String>,
}

impl Ctx {
    fn from_env() -> Ctx {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask/ is inside the workspace")
            .to_owned();
        // Cargo reads a relative CARGO_TARGET_DIR against the directory it
        // runs in, which is the root for every command we start.
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .filter(|t| !t.is_empty())
            .map_or_else(|| root.join("target"), |t| root.join(t));
        let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        let started_before = ci::ipc_segments(Path::new("/dev/shm"));
        Ctx {
            root,
            target,
            ci,
            started_before,
        }
    }
}
