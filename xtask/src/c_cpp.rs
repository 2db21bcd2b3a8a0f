//! The `c-cpp` step of `cargo xtask ci`: libipc as C and C++ programs get
//! it. Installs it (as `cargo xtask install` does) into the target
//! directory for the host, i686 and Windows; compiles `ipc.h` as C99 and
//! C++17; checks what `find_package(ipc)` and pkg-config accept; builds the
//! C example (`examples/c`) and the generated NULL-argument test
//! (`ffi/tests/c`) against the installed package with CMake (shared and
//! static, under AddressSanitizer and UndefinedBehaviorSanitizer) and with
//! pkg-config; builds the C++ tests (`tests/cpp`) into `target/cpp-tests`,
//! where the workspace tests of the next step run them too, and runs them
//! with ctest; builds the C++ demo host and plugin (`examples/cpp`) under
//! the sanitizers and runs them against each other and against the Rust
//! demo both ways, after comparing their messages' bytes with the Rust
//! ones; builds the C++ host of ipc-latency's `ffi_*` rows
//! (`benches/cpp`) against a release installation, into
//! `target/ffi-bench`, where those rows (and `bench-smoke`) find it; last,
//! runs the C example and the C++ demo with peers of other kinds: 32-bit
//! builds driven by the 64-bit ones, the Windows builds under Wine, and
//! Winelib builds driven by the Linux ones. Every check the programs print
//! counts as a test.

use crate::ci::Step;
use crate::cmd::{on_path, Cmd};
use crate::install::{self, Options};
use crate::setup::{self, I686, WINDOWS, WINE};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SANITIZERS: &str =
    "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer";
/// What the C programs must compile without a warning under.
const WARNINGS: [&str; 4] = ["-Wall", "-Wextra", "-Werror", "-pedantic"];
const EXAMPLE: &str = "examples/c";
const EXAMPLE_SOURCE: &str = "examples/c/ipc_example.c";
const C_TESTS: &str = "ffi/tests/c";
const NULL_TEST_SOURCE: &str = "ffi/tests/c/null_arguments.c";
const PACKAGE_CHECK: &str = "ffi/tests/c/package";
/// The C++ tests: a CMake project with ctest tests, taking the installed
/// library through `-DIPC_LIB_DIR=` and `-DIPC_INCLUDE_DIR=` (and
/// `CMAKE_PREFIX_PATH` for `find_package`), and the Rust program that
/// encodes and decodes their wire vectors through `-DIPC_WIRE_VECTORS=`,
/// and the lying plugin through `-DIPC_HOSTILE_PEER=`.
const CPP_TESTS: &str = "tests/cpp";
const WIRE_VECTORS: &str = "ipc-wire-vectors";
const HOSTILE_PEER: &str = "ipc-hostile-peer";
const MINGW_TOOLCHAIN: &str = "ffi/cmake/toolchains/mingw-w64-x86_64.cmake";
/// The C++ demo host and plugin, and the sources the Winelib plugin is
/// built from.
const CPP_DEMO: &str = "examples/cpp";
const CPP_DEMO_PLUGIN_SOURCE: &str = "examples/cpp/demo_plugin.cpp";
/// MinGW's toolchain with the C++ compiler that has std::thread.
const MINGW_POSIX_TOOLCHAIN: &str = "examples/cpp/mingw-w64-x86_64-posix.cmake";
const MINGW_POSIX_CXX: &str = "x86_64-w64-mingw32-g++-posix";
/// The C++ host of ipc-latency's `ffi_*` rows, and where they look for it
/// (under the target directory; see benches/src/bin/ipc-latency/ffi.rs).
const FFI_BENCH: &str = "benches/cpp";
const FFI_BENCH_DIR: &str = "ffi-bench";
/// What the C++ programs are compiled with besides (and the sanitizers for
/// the 64-bit Linux ones): optimised a little, which keeps them quick to
/// build and their state checks quick to run.
const CPP_FLAGS: &str = "-O1 -g";
/// The Rust demo's unpaced periods when it drives the C++ plugin (its
/// default, 20000, is for the latency table).
const RUST_DEMO_UNPACED: &str = "2000";
/// Each program runs for about a second; this is only the safety net.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

fn s(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

pub(crate) fn run(step: &mut Step) {
    let ctx = step.ctx;
    for tool in ["cmake", "pkg-config", "cc", "c++"] {
        if !on_path(tool) {
            step.missing(&format!(
                "{tool} not found (run `cargo xtask setup`): no C and C++ checks"
            ));
            return;
        }
    }
    let dir = ctx.target.join("c-cpp");
    let Some(host) = install_into(step, &dir, None) else {
        return;
    };
    layout(step, &host);
    header(step, &dir, &host);
    let i686 = match setup::i686_ready(ctx) {
        Ok(()) => install_into(step, &dir, Some(I686)),
        Err(why) => {
            step.missing(&why);
            None
        }
    };
    package(step, &dir, &host, i686.as_deref());

    // The host's own builds, under the sanitizers: shared, then static.
    let shared = build(step, &dir.join("asan"), &native_defs(&host, false));
    let static_ = build(step, &dir.join("asan-static"), &native_defs(&host, true));
    for built in [&shared, &static_].into_iter().flatten() {
        run_sanitized(step, &built.example);
        run_sanitized(step, &built.null);
    }
    pkg_config(step, &dir, &host);
    cpp_tests(step, &host);
    let demo = cpp_demo(step, &dir, &host);
    ffi_bench(step);

    // Peers of other kinds, driven by the host's example and demo host.
    let host_example = shared.as_ref().map(|b| b.example.clone());
    let demo_host = demo.as_ref().map(|d| d.host.clone());
    if let Some(prefix) = &i686 {
        i686_pair(step, &dir, prefix, host_example.as_deref());
        i686_cpp_plugin(step, &dir, prefix, demo_host.as_deref());
    }
    windows(step, &dir);
    winelib(
        step,
        &dir,
        &host,
        host_example.as_deref(),
        demo_host.as_deref(),
    );
}

/// Builds ipc-ffi for `target` and installs it under `dir`.
fn install_into(step: &mut Step, dir: &Path, target: Option<&str>) -> Option<PathBuf> {
    let prefix = dir.join(target.unwrap_or("host")).join("prefix");
    install_at(step, &prefix, target, false)
}

/// Builds ipc-ffi for `target` (`release` or not) and installs it into
/// `prefix`.
pub(crate) fn install_at(
    step: &mut Step,
    prefix: &Path,
    target: Option<&str>,
    release: bool,
) -> Option<PathBuf> {
    let ctx = step.ctx;
    let prefix = prefix.to_path_buf();
    let opts = Options {
        prefix: prefix.clone(),
        release,
        target: target.map(str::to_owned),
    };
    // A failed build is counted by `step.run` already: count it once.
    let mut build_failed = false;
    let installed = install::install(ctx, &opts, &mut |c| {
        let ok = step.run(c);
        build_failed |= !ok;
        ok
    });
    let what = target.unwrap_or("host");
    match installed {
        Ok(files) => {
            println!("installed into {}:", prefix.display());
            for f in files {
                println!("  {}", f.display());
            }
            Some(prefix)
        }
        Err(e) if build_failed => {
            println!("xtask: install ({what}): {e}");
            None
        }
        Err(e) => {
            step.fail(&format!("install ({what}): {e}"));
            None
        }
    }
}

/// The shared library answers to its soname, which is installed as a link.
fn layout(step: &mut Step, prefix: &Path) {
    let soname = format!("libipc.so.{}", install::abi_version());
    let lib = prefix.join("lib");
    let dynamic = Cmd::new("readelf")
        .arg("-d")
        .arg(s(&lib.join("libipc.so")))
        .probe(&step.ctx.root);
    let named = dynamic.is_some_and(|d| d.contains(&format!("Library soname: [{soname}]")));
    if named && lib.join(&soname).is_file() {
        println!("lib/libipc.so is a link to lib/{soname}, the library's soname");
        step.passed();
    } else {
        step.fail(&format!(
            "lib/libipc.so has not the soname {soname}, or lib/{soname} is missing"
        ));
    }
}

/// `ipc.h` compiles as C99 and as C++17 without a warning.
fn header(step: &mut Step, dir: &Path, prefix: &Path) {
    let file = dir.join("header").join("ipc_h.c");
    let text = "#include <ipc.h>\n\nint main(void) {\n    ipc_limits limits;\n    return ipc_limits_default(&limits) == IPC_OK ? 0 : 1;\n}\n";
    if let Err(e) = fs::create_dir_all(file.parent().expect("a file in a directory"))
        .and_then(|()| fs::write(&file, text))
    {
        step.fail(&format!("cannot write {}: {e}", file.display()));
        return;
    }
    let include = format!("-I{}", s(&prefix.join("include")));
    for (compiler, std) in [
        ("cc", ["-x", "c", "-std=c99"]),
        ("c++", ["-x", "c++", "-std=c++17"]),
    ] {
        let cmd = Cmd::new(compiler).args(std).args(WARNINGS).args([
            "-fsyntax-only",
            &include,
            &s(&file),
        ]);
        if step.run(&cmd) {
            step.passed();
        }
    }
}

/// `find_package(ipc VERSION)` answers each request as it must; the 64-bit
/// project refuses the 32-bit installation; pkg-config knows the version.
fn package(step: &mut Step, dir: &Path, prefix: &Path, other: Option<&Path>) {
    let ctx = step.ctx;
    let mut defs = vec![
        format!("-DIPC_PREFIX={}", s(prefix)),
        format!("-DIPC_VERSION={}", env!("CARGO_PKG_VERSION")),
    ];
    if let Some(other) = other {
        defs.push(format!("-DIPC_OTHER_PREFIX={}", s(other)));
    }
    let configure = Cmd::new("cmake")
        .arg("-S")
        .arg(s(&ctx.root.join(PACKAGE_CHECK)))
        .arg("-B")
        .arg(s(&dir.join("package")))
        .args(defs);
    if step.run(&configure) {
        step.passed();
    }
    let version = pkg_config_probe(ctx, prefix, &["--modversion", "ipc"]);
    match version.as_deref().map(str::trim) {
        Some(v) if v == env!("CARGO_PKG_VERSION") => {
            println!("pkg-config --modversion ipc: {v}");
            step.passed();
        }
        other => step.fail(&format!(
            "pkg-config --modversion ipc said {other:?}, not {}",
            env!("CARGO_PKG_VERSION")
        )),
    }
}

fn pkg_config_probe(ctx: &crate::Ctx, prefix: &Path, args: &[&str]) -> Option<String> {
    Cmd::new("pkg-config")
        .env("PKG_CONFIG_PATH", s(&prefix.join("lib").join("pkgconfig")))
        .args(args.iter().copied())
        .probe(&ctx.root)
}

/// The CMake definitions of a build for this machine.
fn native_defs(prefix: &Path, link_static: bool) -> Vec<String> {
    vec![
        format!("-DCMAKE_PREFIX_PATH={}", s(prefix)),
        "-DCMAKE_BUILD_TYPE=Debug".to_owned(),
        format!("-DCMAKE_C_FLAGS={SANITIZERS}"),
        format!("-DIPC_STATIC={}", if link_static { "ON" } else { "OFF" }),
    ]
}

/// The two C programs, built.
#[derive(Debug)]
struct Built {
    example: PathBuf,
    null: PathBuf,
}

/// Configures and builds the CMake project `src` in `build`.
pub(crate) fn cmake(step: &mut Step, src: &Path, build: &Path, defs: &[String]) -> bool {
    cmake_targets(step, src, build, defs, &[])
}

/// Configures the CMake project `src` in `build` and builds `targets` of
/// it (all if none).
fn cmake_targets(
    step: &mut Step,
    src: &Path,
    build: &Path,
    defs: &[String],
    targets: &[&str],
) -> bool {
    let configure = Cmd::new("cmake")
        .arg("-S")
        .arg(s(src))
        .arg("-B")
        .arg(s(build))
        .args(defs.iter().cloned());
    let mut make = Cmd::new("cmake").args(["--build", &s(build), "--parallel", "2"]);
    if !targets.is_empty() {
        make = make.arg("--target").args(targets.iter().copied());
    }
    step.run(&configure) && step.run(&make)
}

/// Builds the example and the NULL-argument test in `dir`.
fn build(step: &mut Step, dir: &Path, defs: &[String]) -> Option<Built> {
    let root = &step.ctx.root;
    let (example, tests) = (root.join(EXAMPLE), root.join(C_TESTS));
    let windows = defs.iter().any(|d| d.contains("CMAKE_TOOLCHAIN_FILE"));
    let exe = if windows { ".exe" } else { "" };
    let built_example = cmake(step, &example, &dir.join("example"), defs);
    let built_null = cmake(step, &tests, &dir.join("null"), defs);
    (built_example && built_null).then(|| Built {
        example: dir.join("example").join(format!("ipc_example{exe}")),
        null: dir.join("null").join(format!("null_arguments{exe}")),
    })
}

fn run_sanitized(step: &mut Step, program: &Path) {
    let cmd = Cmd::new(s(program))
        .env("ASAN_OPTIONS", "detect_leaks=1")
        .env("UBSAN_OPTIONS", "print_stacktrace=1")
        .timeout(RUN_TIMEOUT);
    step.run(&cmd);
}

/// The example linked through `pkg-config ipc`, the NULL test through
/// `pkg-config ipc-static`; both run.
fn pkg_config(step: &mut Step, dir: &Path, prefix: &Path) {
    let ctx = step.ctx;
    let out = dir.join("pkg-config");
    if let Err(e) = fs::create_dir_all(&out) {
        step.fail(&format!("cannot create {}: {e}", out.display()));
        return;
    }
    for (package, source, program) in [
        ("ipc", EXAMPLE_SOURCE, "ipc_example"),
        ("ipc-static", NULL_TEST_SOURCE, "null_arguments"),
    ] {
        let Some(flags) = pkg_config_probe(ctx, prefix, &["--cflags", "--libs", package]) else {
            step.fail(&format!("pkg-config --cflags --libs {package} failed"));
            continue;
        };
        let libdir =
            pkg_config_probe(ctx, prefix, &["--variable=libdir", package]).unwrap_or_default();
        let exe = out.join(program);
        // The sources first: a static library must follow what uses it.
        let compile = Cmd::new("cc")
            .args(["-std=c99"])
            .args(WARNINGS)
            .arg(s(&ctx.root.join(source)))
            .args(["-o", &s(&exe)])
            .args(flags.split_whitespace())
            .arg(format!("-Wl,-rpath,{}", libdir.trim()));
        if step.run(&compile) {
            step.run(&Cmd::new(s(&exe)).timeout(RUN_TIMEOUT));
        }
    }
}

/// The C++ tests of `tests/cpp`, against the installed package, once they
/// exist: configure, build, ctest (whose summary counts as their tests).
fn cpp_tests(step: &mut Step, prefix: &Path) {
    let src = step.ctx.root.join(CPP_TESTS);
    if !src.join("CMakeLists.txt").is_file() {
        println!("{CPP_TESTS}/CMakeLists.txt not there (yet): no C++ tests to run");
        return;
    }
    let ctx = step.ctx;
    let programs = Cmd::cargo().args([
        "build",
        "-p",
        "ipc-test-support",
        "--bin",
        WIRE_VECTORS,
        "--bin",
        HOSTILE_PEER,
    ]);
    if !step.run(&programs) {
        return;
    }
    let program = |name: &str| {
        ctx.target
            .join("debug")
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    };
    // Where tests/cpp/README.md builds them, and where the workspace tests
    // (crates/ipc-test-support/tests/cpp_layer.rs) look for them.
    let build = step.ctx.target.join("cpp-tests");
    let defs = [
        format!("-DIPC_LIB_DIR={}", s(&prefix.join("lib"))),
        format!("-DIPC_INCLUDE_DIR={}", s(&prefix.join("include"))),
        format!("-DIPC_WIRE_VECTORS={}", s(&program(WIRE_VECTORS))),
        format!("-DIPC_HOSTILE_PEER={}", s(&program(HOSTILE_PEER))),
        format!("-DCMAKE_PREFIX_PATH={}", s(prefix)),
        "-DCMAKE_BUILD_TYPE=Debug".to_owned(),
    ];
    if cmake(step, &src, &build, &defs) {
        let ctest = Cmd::new("ctest")
            .args(["--test-dir", &s(&build), "--output-on-failure"])
            .args(["--timeout", "300"])
            .timeout(RUN_TIMEOUT * 2);
        step.run(&ctest);
    }
}

/// 32-bit: the NULL test as a 32-bit program, and the 64-bit example
/// driving a 32-bit build of itself as its peer.
fn i686_pair(step: &mut Step, dir: &Path, prefix: &Path, host_example: Option<&Path>) {
    let defs = [
        format!("-DCMAKE_PREFIX_PATH={}", s(prefix)),
        "-DCMAKE_C_FLAGS=-m32".to_owned(),
    ];
    let Some(built) = build(step, &dir.join(I686).join("build"), &defs) else {
        return;
    };
    step.run(&Cmd::new(s(&built.null)).timeout(RUN_TIMEOUT));
    match host_example {
        Some(host) => {
            let cmd = Cmd::new(s(host))
                .args(["--peer", &s(&built.example)])
                .timeout(RUN_TIMEOUT);
            step.run(&cmd);
        }
        None => step.fail("no 64-bit example to drive the 32-bit peer (its build failed)"),
    }
}

/// Windows: the example (host and peer) and the NULL test, cross-compiled
/// with MinGW against ipc.dll, under Wine; then the example linked with
/// the static library.
fn windows(step: &mut Step, dir: &Path) {
    let ctx = step.ctx;
    if let Err(why) = setup::windows_ready(ctx) {
        step.missing(&why);
        return;
    }
    let Some(prefix) = install_into(step, dir, Some(WINDOWS)) else {
        return;
    };
    let defs = |link_static: bool| {
        vec![
            format!(
                "-DCMAKE_TOOLCHAIN_FILE={}",
                s(&ctx.root.join(MINGW_TOOLCHAIN))
            ),
            format!("-DCMAKE_PREFIX_PATH={}", s(&prefix)),
            format!("-DIPC_STATIC={}", if link_static { "ON" } else { "OFF" }),
        ]
    };
    let wine = |program: &Path| {
        Cmd::new(WINE)
            .arg(s(program))
            .env("WINEDEBUG", "-all")
            .timeout(RUN_TIMEOUT)
    };
    if let Some(built) = build(step, &dir.join(WINDOWS).join("build"), &defs(false)) {
        step.run(&wine(&built.example));
        step.run(&wine(&built.null));
    }
    if let Some(built) = build(step, &dir.join(WINDOWS).join("build-static"), &defs(true)) {
        step.run(&wine(&built.example));
    }

    // The C++ demo host and plugin, both Windows programs (ipc.dll), the
    // host starting the plugin next to it.
    if !on_path(MINGW_POSIX_CXX) {
        step.missing(&format!(
            "{MINGW_POSIX_CXX} not found (Debian: g++-mingw-w64-x86-64; run `cargo xtask setup`): no Windows C++ demo"
        ));
        return;
    }
    let demo = dir.join(WINDOWS).join("cpp-demo");
    let demo_defs = [
        format!(
            "-DCMAKE_TOOLCHAIN_FILE={}",
            s(&ctx.root.join(MINGW_POSIX_TOOLCHAIN))
        ),
        format!("-DCMAKE_PREFIX_PATH={}", s(&prefix)),
        format!("-DCMAKE_CXX_FLAGS={CPP_FLAGS}"),
    ];
    if cmake(step, &ctx.root.join(CPP_DEMO), &demo, &demo_defs) {
        step.run(&wine(&demo.join("ipc_demo_host.exe")));
    }
}

/// Winelib, as LMMS builds its RemoteVstPlugin: the example built with
/// winegcc as a Winelib program linking the Linux libipc.so, run under Wine
/// as the peer of the Linux example.
fn winelib(
    step: &mut Step,
    dir: &Path,
    prefix: &Path,
    host_example: Option<&Path>,
    demo_host: Option<&Path>,
) {
    let ctx = step.ctx;
    if !on_path("winegcc") {
        step.missing("winegcc not found (Debian: wine64-tools; run `cargo xtask setup`)");
        return;
    }
    if !Path::new(WINE).is_file() {
        step.missing(&format!("{WINE} not found: no Winelib peer"));
        return;
    }
    let Some(host) = host_example else {
        step.fail("no Linux example to drive the Winelib peer (its build failed)");
        return;
    };
    let out = dir.join("winelib");
    if let Err(e) = fs::create_dir_all(&out) {
        step.fail(&format!("cannot create {}: {e}", out.display()));
        return;
    }
    let program = out.join("ipc_example");
    let lib = prefix.join("lib");
    let compile = Cmd::new("winegcc")
        .args(["-m64", "-std=c99"])
        .args(WARNINGS)
        .arg(format!("-I{}", s(&prefix.join("include"))))
        .arg(s(&ctx.root.join(EXAMPLE_SOURCE)))
        .args(["-o", &s(&program)])
        .arg(format!("-L{}", s(&lib)))
        .arg("-lipc");
    if !step.run(&compile) {
        return;
    }
    // winegcc writes the program as ipc_example.exe.so (and a launcher).
    let cmd = Cmd::new(s(host))
        .args(["--peer", WINE])
        .arg(format!("{}.exe.so", s(&program)))
        .env("LD_LIBRARY_PATH", s(&lib))
        .env("WINEDEBUG", "-all")
        .timeout(RUN_TIMEOUT);
    step.run(&cmd);

    // The C++ demo plugin as a Winelib program (as LMMS builds
    // RemoteVstPlugin), driven by the Linux C++ demo host.
    let Some(demo_host) = demo_host else {
        step.fail("no Linux C++ demo host to drive the Winelib plugin (its build failed)");
        return;
    };
    let plugin = out.join("ipc_demo_plugin");
    let compile = Cmd::new("wineg++")
        .args(["-m64", "-std=c++17"])
        .args(CPP_FLAGS.split_whitespace())
        .args(WARNINGS)
        .arg(format!("-I{}", s(&prefix.join("include"))))
        .arg(s(&ctx.root.join(CPP_DEMO_PLUGIN_SOURCE)))
        .args(["-o", &s(&plugin)])
        .arg(format!("-L{}", s(&lib)))
        .args(["-lipc", "-lpthread"]);
    if !step.run(&compile) {
        return;
    }
    let cmd = sanitized(demo_host)
        .args(["--plugin", WINE])
        .arg(format!("{}.exe.so", s(&plugin)))
        .env("LD_LIBRARY_PATH", s(&lib))
        .env("WINEDEBUG", "-all");
    step.run(&cmd);
}

/// The C++ demo host and plugin, built.
#[derive(Debug)]
struct Demo {
    host: PathBuf,
    plugin: PathBuf,
}

/// A sanitized program's command: any report fails it (the programs are
/// built with `-fno-sanitize-recover=all`); its children inherit this.
fn sanitized(program: &Path) -> Cmd {
    Cmd::new(s(program))
        .env("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        .timeout(RUN_TIMEOUT)
}

/// The C++ demo (`examples/cpp`) against the installed package, under
/// AddressSanitizer and UndefinedBehaviorSanitizer: its messages compared
/// byte for byte with the Rust demo's (`demo wire`), then the C++ host with
/// the C++ plugin, the C++ host with the Rust plugin, and the Rust host with
/// the C++ plugin.
fn cpp_demo(step: &mut Step, dir: &Path, prefix: &Path) -> Option<Demo> {
    let ctx = step.ctx;
    let build = dir.join("cpp-demo");
    let defs = [
        format!("-DCMAKE_PREFIX_PATH={}", s(prefix)),
        "-DCMAKE_BUILD_TYPE=Debug".to_owned(),
        format!("-DCMAKE_CXX_FLAGS={CPP_FLAGS} {SANITIZERS}"),
    ];
    if !cmake(step, &ctx.root.join(CPP_DEMO), &build, &defs) {
        return None;
    }
    let demo = Demo {
        host: build.join("ipc_demo_host"),
        plugin: build.join("ipc_demo_plugin"),
    };
    // The Rust demo, in the profile the workspace tests build it in.
    if !step.run(&Cmd::cargo().args(["build", "-p", "ipc-link", "--example", "demo"])) {
        return Some(demo);
    }
    let rust = ctx
        .target
        .join("debug")
        .join("examples")
        .join(format!("demo{}", std::env::consts::EXE_SUFFIX));
    let wire = build.join("demo-wire.txt");
    match Cmd::new(s(&rust)).arg("wire").probe(&ctx.root) {
        Some(lines) => match fs::write(&wire, lines) {
            Ok(()) => {
                step.run(&sanitized(&demo.host).arg("--wire").arg(s(&wire)));
            }
            Err(e) => step.fail(&format!("cannot write {}: {e}", wire.display())),
        },
        None => step.fail(&format!("`{} wire` failed", rust.display())),
    }
    step.run(&sanitized(&demo.host).args(["--plugin", &s(&demo.plugin)]));
    step.run(&sanitized(&demo.host).args(["--plugin", &s(&rust), "plugin"]));
    // The Rust demo prints its own report and fails if a step did: one test.
    let rust_host =
        sanitized(&rust).args(["--plugin", &s(&demo.plugin), "--unpaced", RUST_DEMO_UNPACED]);
    if step.run(&rust_host) {
        step.passed();
    }
    Some(demo)
}

/// The C++ host of ipc-latency's `ffi_*` rows (`benches/cpp`), linked with
/// a release build of the static library (the rows compare it with Rust
/// code built in release), into `target/ffi-bench`, where the rows look.
fn ffi_bench(step: &mut Step) {
    let ctx = step.ctx;
    let out = ctx.target.join(FFI_BENCH_DIR);
    let Some(prefix) = install_at(step, &out.join("prefix"), None, true) else {
        return;
    };
    let defs = [
        format!("-DCMAKE_PREFIX_PATH={}", s(&prefix)),
        "-DCMAKE_BUILD_TYPE=Release".to_owned(),
    ];
    cmake(step, &ctx.root.join(FFI_BENCH), &out, &defs);
}

/// 32-bit: the C++ demo plugin built for i686, driven by the 64-bit C++
/// demo host.
fn i686_cpp_plugin(step: &mut Step, dir: &Path, prefix: &Path, demo_host: Option<&Path>) {
    let ctx = step.ctx;
    // g++-multilib: the 32-bit C++ library.
    let lib = Cmd::new("c++")
        .args(["-m32", "-print-file-name=libstdc++.so"])
        .probe(&ctx.root);
    if !lib.is_some_and(|p| Path::new(p.trim()).is_absolute()) {
        step.missing(
            "no 32-bit C++ library (`c++ -m32` cannot find libstdc++; Debian: g++-multilib)",
        );
        return;
    }
    let build = dir.join(I686).join("cpp-demo");
    let defs = [
        format!("-DCMAKE_PREFIX_PATH={}", s(prefix)),
        format!("-DCMAKE_CXX_FLAGS=-m32 {CPP_FLAGS}"),
    ];
    // The plugin only: the 64-bit host drives it.
    if !cmake_targets(
        step,
        &ctx.root.join(CPP_DEMO),
        &build,
        &defs,
        &["ipc_demo_plugin"],
    ) {
        return;
    }
    match demo_host {
        Some(host) => {
            let plugin = build.join("ipc_demo_plugin");
            step.run(&sanitized(host).args(["--plugin", &s(&plugin)]));
        }
        None => step.fail("no 64-bit C++ demo host to drive the 32-bit plugin (its build failed)"),
    }
}
