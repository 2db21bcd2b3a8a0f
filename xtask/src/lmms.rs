//! The `lmms` step of `cargo xtask ci`: the LMMS adapter (adapters/lmms).
//! Installs libipc with the adapter (as `cargo xtask install` does) into
//! the target directory; builds the adapter's tests under
//! AddressSanitizer and UndefinedBehaviorSanitizer and runs them with
//! ctest (every ctest test counts as one test); builds a small project
//! against the installed package (`find_package(ipc)` + `ipc::lmms`) and
//! runs it at each stage; builds the programs behind ipc-latency's
//! `lmms_*` rows (`adapters/lmms/bench`) against a release installation
//! into `target/lmms-bench`, where those rows look for them; builds the
//! tests' remote programs for i686 (`-m32`) and as Winelib programs
//! (`wineg++`, linking the Linux libipc.so, as LMMS builds
//! RemoteVstPlugin) and runs the processing and death tests with them as
//! the peers of the 64-bit Linux host; last, builds host and remote
//! programs for Windows with MinGW and runs their processing and death
//! tests under Wine.

use crate::c_cpp::{cmake, install_at};
use crate::ci::Step;
use crate::cmd::{on_path, Cmd};
use crate::setup::{self, I686, WINDOWS, WINE};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The adapter's CMake project (library, tests, remote programs).
const ADAPTER: &str = "adapters/lmms";
/// A project outside the adapter that takes it from the installed package.
const CONSUMER: &str = "adapters/lmms/tests/package";
/// Windows programs with MinGW's POSIX-threads g++ (std::thread).
const MINGW_TOOLCHAIN: &str = "adapters/lmms/cmake/mingw-w64-x86_64-posix.cmake";
const MINGW_POSIX_CXX: &str = "x86_64-w64-mingw32-g++-posix";
const SANITIZERS: &str =
    "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer";
/// The remote programs built for other architectures: optimised a little,
/// which keeps their builds and periods quick.
const CLIENT_FLAGS: &str = "-O1 -g";
/// The ctest labels of the cases that other kinds of peers run.
const PEER_LABELS: &str = "processing|death";
/// Each ctest test has its own timeout (adapters/lmms/tests); this is only
/// the safety net of a whole ctest run.
const CTEST_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The consumer runs a few periods.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn s(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

pub(crate) fn run(step: &mut Step) {
    let ctx = step.ctx;
    for tool in ["cmake", "ctest", "c++"] {
        if !on_path(tool) {
            step.missing(&format!(
                "{tool} not found (run `cargo xtask setup`): no LMMS adapter tests"
            ));
            return;
        }
    }
    let dir = ctx.target.join("lmms");
    let Some(prefix) = install_at(step, &dir.join("host").join("prefix"), None, false) else {
        return;
    };
    let tests = dir.join("tests");
    let native = native_tests(step, &tests, &prefix);
    consumer(step, &dir, &prefix);
    // The ipc-latency lmms_* programs, into target/lmms-bench.
    crate::lmms_bench::build(step);

    // The remote programs of other kinds, driven by the 64-bit Linux host.
    let mut peers = Vec::new();
    if let Some(clients) = i686_clients(step, &dir) {
        peers.push(("i686", clients));
    }
    if let Some(clients) = winelib_clients(step, &dir, &prefix) {
        peers.push(("winelib", clients));
    }
    if native && !peers.is_empty() {
        peer_tests(step, &tests, &prefix, &peers);
    } else if !peers.is_empty() {
        step.fail("no 64-bit Linux host to drive the other peers (its build failed)");
    }
    windows(step, &dir);
}

/// A ctest run in `build` (its summary line counts its tests).
fn ctest(build: &Path, extra: &[&str]) -> Cmd {
    Cmd::new("ctest")
        .args(["--test-dir", &s(build), "-j2", "--output-on-failure"])
        .args(extra.iter().copied())
        .timeout(CTEST_TIMEOUT)
}

/// The definitions of the native build of the tests, with `peers`
/// (`label=dir;...`, empty for none).
fn native_defs(prefix: &Path, peers: &str) -> Vec<String> {
    vec![
        format!("-DCMAKE_PREFIX_PATH={}", s(prefix)),
        "-DCMAKE_BUILD_TYPE=Debug".to_owned(),
        // Set every time: CMake keeps a value in its cache.
        format!("-DIPC_LMMS_PEERS={peers}"),
    ]
}

/// The adapter's tests, every case at every stage, under the sanitizers
/// (adapters/lmms/CMakeLists.txt turns them on for this build). Returns
/// whether the host built.
fn native_tests(step: &mut Step, build: &Path, prefix: &Path) -> bool {
    let src = step.ctx.root.join(ADAPTER);
    if !cmake(step, &src, build, &native_defs(prefix, "")) {
        return false;
    }
    step.run(&ctest(build, &[]));
    true
}

/// The consumer project against the installed package, under the
/// sanitizers, run once per stage (IPC_LMMS_STAGE).
fn consumer(step: &mut Step, dir: &Path, prefix: &Path) {
    let ctx = step.ctx;
    let build = dir.join("consumer");
    let defs = [
        format!("-DCMAKE_PREFIX_PATH={}", s(prefix)),
        "-DCMAKE_BUILD_TYPE=Debug".to_owned(),
        format!("-DCMAKE_CXX_FLAGS={SANITIZERS}"),
    ];
    if !cmake(step, &ctx.root.join(CONSUMER), &build, &defs) {
        return;
    }
    let program = build.join("lmms-consumer");
    for stage in ["1", "2", "3"] {
        let cmd = Cmd::new(s(&program))
            .env("IPC_LMMS_STAGE", stage)
            .env("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
            .timeout(RUN_TIMEOUT);
        if step.run(&cmd) {
            step.passed();
        }
    }
}

/// The remote programs for i686 against an i686 libipc; returns the
/// directory they are in.
fn i686_clients(step: &mut Step, dir: &Path) -> Option<PathBuf> {
    let ctx = step.ctx;
    if let Err(why) = setup::i686_ready(ctx) {
        step.missing(&why);
        return None;
    }
    // g++-multilib: the 32-bit C++ library.
    let lib = Cmd::new("c++")
        .args(["-m32", "-print-file-name=libstdc++.so"])
        .probe(&ctx.root);
    if !lib.is_some_and(|p| Path::new(p.trim()).is_absolute()) {
        step.missing(
            "no 32-bit C++ library (`c++ -m32` cannot find libstdc++; Debian: g++-multilib)",
        );
        return None;
    }
    let prefix = install_at(step, &dir.join(I686).join("prefix"), Some(I686), false)?;
    let build = dir.join(I686).join("clients");
    let defs = [
        format!("-DCMAKE_PREFIX_PATH={}", s(&prefix)),
        "-DIPC_LMMS_CLIENTS_ONLY=ON".to_owned(),
        format!("-DCMAKE_CXX_FLAGS=-m32 {CLIENT_FLAGS}"),
    ];
    cmake(step, &ctx.root.join(ADAPTER), &build, &defs).then(|| build.join("tests"))
}

/// The remote programs as Winelib programs (`wineg++ -m64`) linking the
/// Linux libipc.so; returns the directory they are in. Each is
/// `NAME.exe.so` with a launcher `NAME.exe`, which runs it under `wine`.
fn winelib_clients(step: &mut Step, dir: &Path, prefix: &Path) -> Option<PathBuf> {
    let ctx = step.ctx;
    if !on_path("wineg++") {
        step.missing("wineg++ not found (Debian: wine64-tools; run `cargo xtask setup`)");
        return None;
    }
    if !Path::new(WINE).is_file() {
        step.missing(&format!("{WINE} not found: no Winelib peer"));
        return None;
    }
    let build = dir.join("winelib").join("clients");
    let defs = [
        format!("-DCMAKE_PREFIX_PATH={}", s(prefix)),
        "-DCMAKE_CXX_COMPILER=wineg++".to_owned(),
        "-DIPC_LMMS_CLIENTS_ONLY=ON".to_owned(),
        // Linux's sanitizer runtimes do not load into a Wine process.
        "-DIPC_LMMS_SANITIZE=OFF".to_owned(),
        format!("-DCMAKE_CXX_FLAGS=-m64 {CLIENT_FLAGS}"),
    ];
    cmake(step, &ctx.root.join(ADAPTER), &build, &defs).then(|| build.join("tests"))
}

/// The processing and death tests of the 64-bit Linux host with each of
/// `peers` (label, directory) as its plugins: `LABEL.stageN.case`.
fn peer_tests(step: &mut Step, build: &Path, prefix: &Path, peers: &[(&str, PathBuf)]) {
    let ctx = step.ctx;
    let list: Vec<String> = peers
        .iter()
        .map(|(label, dir)| format!("{label}={}", s(dir)))
        .collect();
    if !cmake(
        step,
        &ctx.root.join(ADAPTER),
        build,
        &native_defs(prefix, &list.join(";")),
    ) {
        return;
    }
    for (label, _) in peers {
        let only = format!("^{label}\\.");
        let cmd = ctest(build, &["-R", &only, "-L", PEER_LABELS])
            // The Winelib launchers run `$WINELOADER` (else `wine`), and
            // their programs load the Linux libipc.so.
            .env("WINELOADER", WINE)
            .env("LD_LIBRARY_PATH", s(&prefix.join("lib")))
            .env("WINEDEBUG", "-all");
        step.run(&cmd);
    }
}

/// Host and remote programs as Windows programs (MinGW, ipc.dll next to
/// them); the processing and death tests under Wine (the emulator the
/// toolchain file gives ctest).
fn windows(step: &mut Step, dir: &Path) {
    let ctx = step.ctx;
    if let Err(why) = setup::windows_ready(ctx) {
        step.missing(&why);
        return;
    }
    if !on_path(MINGW_POSIX_CXX) {
        step.missing(&format!(
            "{MINGW_POSIX_CXX} not found (Debian: g++-mingw-w64-x86-64; run `cargo xtask setup`): no Windows LMMS tests"
        ));
        return;
    }
    let Some(prefix) = install_at(
        step,
        &dir.join(WINDOWS).join("prefix"),
        Some(WINDOWS),
        false,
    ) else {
        return;
    };
    let build = dir.join(WINDOWS).join("build");
    let defs = [
        format!(
            "-DCMAKE_TOOLCHAIN_FILE={}",
            s(&ctx.root.join(MINGW_TOOLCHAIN))
        ),
        format!("-DCMAKE_PREFIX_PATH={}", s(&prefix)),
        format!("-DCMAKE_CXX_FLAGS={CLIENT_FLAGS}"),
    ];
    if cmake(step, &ctx.root.join(ADAPTER), &build, &defs) {
        step.run(&ctest(&build, &["-L", PEER_LABELS]).env("WINEDEBUG", "-all"));
    }
}
