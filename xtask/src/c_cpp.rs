//! The `c-cpp` step of `cargo xtask ci`: libipc as C and C++ programs get
//! it. Installs it (as `cargo xtask install` does) into the target
//! directory for the host, i686 and Windows; compiles `ipc.h` as C99 and
//! C++17; checks what `find_package(ipc)` and pkg-config accept; builds the
//! C example (`examples/c`) and the generated NULL-argument test
//! (`ffi/tests/c`) against the installed package with CMake (shared and
//! static, under AddressSanitizer and UndefinedBehaviorSanitizer) and with
//! pkg-config; builds the C++ tests (`tests/cpp`) into `target/cpp-tests`,
//! where the workspace tests of the next step run them too, and runs them
//! with ctest; last, runs the example with peers of other kinds: a 32-bit
//! build driven by the 64-bit one, the Windows build under Wine, and a
//! Winelib build driven by the Linux one. Every check the programs print
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
/// encodes and decodes their wire vectors through `-DIPC_WIRE_VECTORS=`.
const CPP_TESTS: &str = "tests/cpp";
const WIRE_VECTORS: &str = "ipc-wire-vectors";
const MINGW_TOOLCHAIN: &str = "ffi/cmake/toolchains/mingw-w64-x86_64.cmake";
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

    // Peers of other kinds, driven by the host's example.
    let host_example = shared.as_ref().map(|b| b.example.clone());
    if let Some(prefix) = &i686 {
        i686_pair(step, &dir, prefix, host_example.as_deref());
    }
    windows(step, &dir);
    winelib(step, &dir, &host, host_example.as_deref());
}

/// Builds ipc-ffi for `target` and installs it under `dir`.
fn install_into(step: &mut Step, dir: &Path, target: Option<&str>) -> Option<PathBuf> {
    let ctx = step.ctx;
    let prefix = dir.join(target.unwrap_or("host")).join("prefix");
    let opts = Options {
        prefix: prefix.clone(),
        release: false,
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
fn cmake(step: &mut Step, src: &Path, build: &Path, defs: &[String]) -> bool {
    let configure = Cmd::new("cmake")
        .arg("-S")
        .arg(s(src))
        .arg("-B")
        .arg(s(build))
        .args(defs.iter().cloned());
    step.run(&configure)
        && step.run(&Cmd::new("cmake").args(["--build", &s(build), "--parallel", "2"]))
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
    let vectors = Cmd::cargo().args(["build", "-p", "ipc-test-support", "--bin", WIRE_VECTORS]);
    if !step.run(&vectors) {
        return;
    }
    let wire_vectors = ctx
        .target
        .join("debug")
        .join(format!("{WIRE_VECTORS}{}", std::env::consts::EXE_SUFFIX));
    // Where tests/cpp/README.md builds them, and where the workspace tests
    // (crates/ipc-test-support/tests/cpp_layer.rs) look for them.
    let build = step.ctx.target.join("cpp-tests");
    let defs = [
        format!("-DIPC_LIB_DIR={}", s(&prefix.join("lib"))),
        format!("-DIPC_INCLUDE_DIR={}", s(&prefix.join("include"))),
        format!("-DIPC_WIRE_VECTORS={}", s(&wire_vectors)),
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
}

/// Winelib, as LMMS builds its RemoteVstPlugin: the example built with
/// winegcc as a Winelib program linking the Linux libipc.so, run under Wine
/// as the peer of the Linux example.
fn winelib(step: &mut Step, dir: &Path, prefix: &Path, host_example: Option<&Path>) {
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
}
