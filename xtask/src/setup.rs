//! `cargo xtask setup` (and the `setup` step of `ci`): installs what the
//! other steps need, checking first so that a repeated run does nothing.
//! Nothing installed by hand survives to CI on a new machine.

use crate::ci::Step;
use crate::cmd::{on_path, Cmd};
use crate::Ctx;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Debian packages: Wine and the MinGW linker (Windows tests), 32-bit C
/// libraries (i686 tests), strace (debugging hung tests), a C++ compiler,
/// CMake and pkg-config (the C and C++ programs against the installed
/// libipc), winegcc/wineg++ (the Winelib peer), MinGW's C++ compiler and
/// the 32-bit C++ library (the C++ demo for Windows and i686), valgrind
/// (`cargo xtask footprint`, run by `bench-smoke`).
const APT_PACKAGES: &[&str] = &[
    "wine64",
    "gcc-mingw-w64-x86-64",
    "g++-mingw-w64-x86-64",
    "gcc-multilib",
    "g++-multilib",
    "strace",
    "g++",
    "cmake",
    "pkg-config",
    "wine64-tools",
    "valgrind",
];

/// Rust targets: run under Wine, run natively as 32-bit, type-check for macOS.
pub(crate) const TARGETS: &[&str] = &[
    "x86_64-pc-windows-gnu",
    "i686-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
];

pub(crate) const WINDOWS: &str = "x86_64-pc-windows-gnu";
pub(crate) const I686: &str = "i686-unknown-linux-gnu";

/// Components of the nightly toolchain that Miri needs.
const NIGHTLY_COMPONENTS: &[&str] = &["miri", "rust-src"];

/// Debian's package puts no `wine64` on PATH.
pub(crate) const WINE: &str = "/usr/lib/wine/wine64";

/// The Windows C compiler, also the Rust linker for the Windows target.
const MINGW_GCC: &str = "x86_64-w64-mingw32-gcc";

/// Source of the `ProcessPrng` shim that Wine 8 lacks (see the file).
const SHIM_SOURCE: &str = "xtask/assets/processprng.c";
const SHIM_DLL: &str = "bcryptprimitives.dll";

/// How the shim is built: `{out}` and `{src}` are replaced by paths. Keep
/// in step with the build line in the header of `SHIM_SOURCE`.
const SHIM_BUILD: &[&str] = &[
    MINGW_GCC,
    "-shared",
    "-O2",
    "-Wl,--kill-at",
    "-o",
    "{out}",
    "{src}",
    "-ladvapi32",
];

/// The cargo-fuzz release `cargo install` builds (the `fuzz` step).
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Whether this run already tried to install cargo-fuzz (once is enough).
static CARGO_FUZZ_TRIED: AtomicBool = AtomicBool::new(false);

/// Options every apt-get call gets: wait for a lock another apt holds.
const APT_OPTIONS: &[&str] = &["-o", "DPkg::Lock::Timeout=300", "-q"];

pub(crate) fn run(step: &mut Step) {
    apt_packages(step);
    rust_targets(step);
    msrv_toolchain(step);
    nightly_components(step);
    wine_prefix(step);
    processprng_shim(step);
    cargo_fuzz(step);
}

fn apt_packages(step: &mut Step) {
    if !on_path("apt-get") || !on_path("dpkg-query") {
        step.missing(&format!(
            "no apt-get here: install by hand the equivalents of {}",
            APT_PACKAGES.join(" ")
        ));
        return;
    }
    let ctx = step.ctx;
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !deb_installed(ctx, p))
        .collect();
    if missing.is_empty() {
        println!("apt packages: all installed ({})", APT_PACKAGES.join(" "));
        return;
    }
    // Root runs apt-get directly; anyone else through non-interactive sudo.
    let prefix: Vec<&str> = if is_root(ctx) {
        vec!["env"]
    } else if on_path("sudo") {
        vec!["sudo", "-n", "env"]
    } else {
        step.missing(&format!(
            "not root and no sudo: cannot install {}",
            missing.join(" ")
        ));
        return;
    };
    let apt = |args: &[&str]| {
        Cmd::new(prefix[0])
            .args(prefix[1..].iter().copied())
            .args(["DEBIAN_FRONTEND=noninteractive", "apt-get"])
            .args(APT_OPTIONS.iter().copied())
            .args(args.iter().copied())
    };
    if step.run(&apt(&["update"])) {
        let mut install = vec!["install", "-y"];
        install.extend(&missing);
        step.run(&apt(&install));
    }
}

fn deb_installed(ctx: &Ctx, package: &str) -> bool {
    Cmd::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .probe(&ctx.root)
        .is_some_and(|s| s.contains("install ok installed"))
}

fn is_root(ctx: &Ctx) -> bool {
    Cmd::new("id")
        .arg("-u")
        .probe(&ctx.root)
        .is_some_and(|s| s.trim() == "0")
}

fn rust_targets(step: &mut Step) {
    let ctx = step.ctx;
    let missing: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| !has_target(ctx, t))
        .collect();
    if missing.is_empty() {
        println!("rust targets: all installed ({})", TARGETS.join(" "));
    } else if !on_path("rustup") {
        step.missing(&format!(
            "no rustup: cannot add rust targets {}",
            missing.join(" ")
        ));
    } else {
        step.run(&Cmd::new("rustup").args(["target", "add"]).args(missing));
    }
}

/// Whether the standard library for `target` is installed for the
/// toolchain that builds this repository.
pub(crate) fn has_target(ctx: &Ctx, target: &str) -> bool {
    Cmd::new("rustc")
        .args(["--print", "sysroot"])
        .probe(&ctx.root)
        .is_some_and(|sysroot| {
            Path::new(sysroot.trim())
                .join("lib/rustlib")
                .join(target)
                .join("lib")
                .is_dir()
        })
}

fn nightly_components(step: &mut Step) {
    if !on_path("rustup") {
        step.missing("no rustup: cannot install the nightly toolchain for Miri");
        return;
    }
    let missing = missing_nightly_components(step.ctx);
    match missing {
        None => {
            step.run(
                &Cmd::new("rustup")
                    .args([
                        "toolchain",
                        "install",
                        "nightly",
                        "--profile",
                        "minimal",
                        "--component",
                    ])
                    .arg(NIGHTLY_COMPONENTS.join(",")),
            );
        }
        Some(m) if m.is_empty() => println!(
            "nightly components: all installed ({})",
            NIGHTLY_COMPONENTS.join(" ")
        ),
        Some(m) => {
            step.run(
                &Cmd::new("rustup")
                    .args(["+nightly", "component", "add"])
                    .args(m),
            );
        }
    }
}

/// The minimum supported Rust version, as the workspace declares it
/// (`rust-version` in the root `Cargo.toml`): the one place it is written.
pub(crate) fn msrv(ctx: &Ctx) -> Option<String> {
    let manifest = fs::read_to_string(ctx.root.join("Cargo.toml")).ok()?;
    manifest.lines().find_map(|l| {
        let v = l
            .trim()
            .strip_prefix("rust-version")?
            .trim()
            .strip_prefix('=')?;
        Some(v.trim().trim_matches('"').to_owned())
    })
}

/// Whether `cargo +<msrv>` works; `Err` says why not.
pub(crate) fn msrv_ready(ctx: &Ctx) -> Result<String, String> {
    let version = msrv(ctx).ok_or("no rust-version in Cargo.toml")?;
    match Cmd::cargo()
        .arg(format!("+{version}"))
        .arg("--version")
        .probe(&ctx.root)
    {
        Some(_) => Ok(version),
        None => Err(format!(
            "toolchain {version} (the declared rust-version) is not installed (run `cargo xtask setup`)"
        )),
    }
}

fn msrv_toolchain(step: &mut Step) {
    let ctx = step.ctx;
    match msrv_ready(ctx) {
        Ok(v) => println!("rust {v} (the declared minimum version): installed"),
        Err(_) if !on_path("rustup") => {
            step.missing("no rustup: cannot install the MSRV toolchain")
        }
        Err(_) => {
            let Some(version) = msrv(ctx) else {
                step.fail("no rust-version in Cargo.toml");
                return;
            };
            step.run(&Cmd::new("rustup").args([
                "toolchain",
                "install",
                &version,
                "--profile",
                "minimal",
            ]));
        }
    }
}

/// The nightly components Miri still needs; `None` if there is no nightly.
fn missing_nightly_components(ctx: &Ctx) -> Option<Vec<&'static str>> {
    let list = Cmd::new("rustup")
        .args(["+nightly", "component", "list", "--installed"])
        .probe(&ctx.root)?;
    // Lines read `miri-x86_64-unknown-linux-gnu` or `rust-src`.
    let have = |c: &str| {
        list.lines()
            .any(|l| l == c || l.strip_prefix(c).is_some_and(|r| r.starts_with('-')))
    };
    Some(
        NIGHTLY_COMPONENTS
            .iter()
            .copied()
            .filter(|c| !have(c))
            .collect(),
    )
}

/// Whether Miri can run; `Err` says what is missing.
pub(crate) fn miri_ready(ctx: &Ctx) -> Result<(), String> {
    match missing_nightly_components(ctx) {
        None => Err("no nightly toolchain".to_owned()),
        Some(m) if m.is_empty() => Ok(()),
        Some(m) => Err(format!("nightly components missing: {}", m.join(" "))),
    }
}

/// Whether `cargo +nightly` works (the `fuzz` step); `Err` says why not.
pub(crate) fn nightly_ready(ctx: &Ctx) -> Result<(), String> {
    match Cmd::cargo()
        .args(["+nightly", "--version"])
        .probe(&ctx.root)
    {
        Some(_) => Ok(()),
        None => Err("no nightly toolchain (run `cargo xtask setup`)".to_owned()),
    }
}

/// Makes sure `cargo fuzz` works, installing cargo-fuzz if it is missing
/// (at most once per run: `setup` tries, a `fuzz` step run alone tries).
/// A failed install is a failure with `CI=true`, else a skip.
pub(crate) fn cargo_fuzz(step: &mut Step) -> bool {
    let ctx = step.ctx;
    let installed = || Cmd::cargo().args(["fuzz", "--version"]).probe(&ctx.root);
    if let Some(v) = installed() {
        println!("cargo-fuzz: installed ({})", v.trim());
        return true;
    }
    if CARGO_FUZZ_TRIED.swap(true, Ordering::Relaxed) {
        step.missing("cargo-fuzz is not installed (installing it failed earlier in this run)");
        return false;
    }
    let install = Cmd::cargo().args([
        "install",
        "cargo-fuzz",
        "--locked",
        "--version",
        CARGO_FUZZ_VERSION,
    ]);
    // Not `step.run`: without CI=true a failed install is a skip.
    if install.run(&ctx.root).success && installed().is_some() {
        return true;
    }
    step.missing(&format!("`{install}` failed: no cargo-fuzz"));
    false
}

/// The Wine prefix: `$WINEPREFIX`, else `~/.wine`.
fn wine_prefix_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WINEPREFIX").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".wine"))
}

fn system32() -> Option<PathBuf> {
    wine_prefix_dir().map(|p| p.join("drive_c/windows/system32"))
}

fn wine_prefix(step: &mut Step) {
    let Some(system32) = system32() else {
        step.missing("neither WINEPREFIX nor HOME is set: no Wine prefix");
        return;
    };
    if system32.is_dir() {
        println!("wine prefix: present ({})", system32.display());
        return;
    }
    if !Path::new(WINE).is_file() {
        step.missing(&format!("{WINE} not found: cannot create the Wine prefix"));
        return;
    }
    // No Mono/Gecko installer prompts: the tests need neither.
    let boot = Cmd::new(WINE)
        .args(["wineboot", "-i"])
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
    if step.run(&boot) && !system32.is_dir() {
        step.fail(&format!(
            "wineboot succeeded but {} does not exist",
            system32.display()
        ));
    }
}

fn processprng_shim(step: &mut Step) {
    let ctx = step.ctx;
    let src = ctx.root.join(SHIM_SOURCE);
    if !src.is_file() {
        step.missing(&format!(
            "{SHIM_SOURCE} not found: not installing the ProcessPrng shim (Rust .exe files will not start under Wine 8)"
        ));
        return;
    }
    let Some(system32) = system32().filter(|d| d.is_dir()) else {
        step.missing("no Wine prefix: not installing the ProcessPrng shim");
        return;
    };
    let out = ctx.target.join(SHIM_DLL);
    let stamp = ctx.target.join(format!("{SHIM_DLL}.cmd"));
    let build: Vec<String> = SHIM_BUILD
        .iter()
        .map(|a| {
            a.replace("{out}", &out.to_string_lossy())
                .replace("{src}", &src.to_string_lossy())
        })
        .collect();
    let line = build.join(" ");
    let fresh = newer(&out, &src) && fs::read_to_string(&stamp).is_ok_and(|s| s == line);
    if !fresh {
        if !on_path(MINGW_GCC) {
            step.missing(&format!(
                "{MINGW_GCC} not found: cannot build the ProcessPrng shim"
            ));
            return;
        }
        if let Err(e) = fs::create_dir_all(&ctx.target) {
            step.fail(&format!("cannot create {}: {e}", ctx.target.display()));
            return;
        }
        if !step.run(&Cmd::new(&build[0]).args(build[1..].iter().cloned())) {
            return;
        }
        let _ = fs::write(&stamp, &line);
    }
    let installed = system32.join(SHIM_DLL);
    match (fs::read(&out), fs::read(&installed)) {
        (Ok(new), Ok(old)) if new == old => {
            println!("ProcessPrng shim: installed ({})", installed.display())
        }
        (Ok(_), _) => match fs::copy(&out, &installed) {
            Ok(_) => println!(
                "ProcessPrng shim: copied {} to {}",
                out.display(),
                installed.display()
            ),
            Err(e) => step.fail(&format!(
                "cannot copy the shim to {}: {e}",
                installed.display()
            )),
        },
        (Err(e), _) => step.fail(&format!("cannot read {}: {e}", out.display())),
    }
}

/// Whether `out` exists and is at least as new as `src`.
fn newer(out: &Path, src: &Path) -> bool {
    let mtime = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((mtime(out), mtime(src)), (Some(o), Some(s)) if o >= s)
}

/// Whether Windows test executables can run here; `Err` says what is missing.
pub(crate) fn windows_ready(ctx: &Ctx) -> Result<(), String> {
    if !has_target(ctx, WINDOWS) {
        return Err(format!("rust target {WINDOWS} not installed"));
    }
    if !on_path(MINGW_GCC) {
        return Err(format!("{MINGW_GCC} (the linker) not found"));
    }
    if !Path::new(WINE).is_file() {
        return Err(format!("{WINE} not found"));
    }
    match system32() {
        Some(d) if d.join(SHIM_DLL).is_file() => Ok(()),
        Some(d) if d.is_dir() => Err(format!("ProcessPrng shim not installed in {}", d.display())),
        _ => Err("no Wine prefix".to_owned()),
    }
}

/// Whether 32-bit Linux executables can be built here; `Err` says why not.
pub(crate) fn i686_ready(ctx: &Ctx) -> Result<(), String> {
    if !has_target(ctx, I686) {
        return Err(format!("rust target {I686} not installed"));
    }
    // gcc-multilib: the 32-bit C runtime the linker needs. gcc prints the
    // name back unchanged if it has no such file.
    let crt = Cmd::new("cc")
        .args(["-m32", "-print-file-name=crt1.o"])
        .probe(&ctx.root);
    match crt {
        Some(p) if Path::new(p.trim()).is_absolute() && Path::new(p.trim()).is_file() => Ok(()),
        _ => Err(
            "no 32-bit C runtime (`cc -m32` cannot find crt1.o; Debian: gcc-multilib)".to_owned(),
        ),
    }
}
