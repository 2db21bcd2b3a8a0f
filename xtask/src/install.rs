//! `cargo xtask install --prefix DIR [--release] [--target T]`: builds
//! libipc (the ipc-ffi crate) and installs it with its headers, a CMake
//! package and pkg-config files, so that C and C++ projects find it the
//! usual way (`find_package(ipc 0.1 CONFIG REQUIRED)`, `pkg-config ipc`),
//! with the LMMS adapter (`ipc::lmms`, from adapters/lmms).

use crate::cmd::Cmd;
use crate::Ctx;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const USAGE: &str = "usage: cargo xtask install --prefix DIR [--release] [--target TRIPLE]";

/// The package's version: the workspace's, which xtask shares.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the templates of the CMake package and the pkg-config files are.
const TEMPLATES: &str = "ffi/cmake";

/// The LMMS adapter, installed with the package as `ipc::lmms`.
const LMMS_ADAPTER: &str = "adapters/lmms";

/// What to build and where to put it.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// The installation prefix (created if missing).
    pub(crate) prefix: PathBuf,
    /// The release profile rather than the dev one.
    pub(crate) release: bool,
    /// A target triple other than the host's.
    pub(crate) target: Option<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut prefix = None;
        let mut release = false;
        let mut target = None;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f, Some(v.to_owned())),
                None => (arg.as_str(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| it.next().cloned())
                    .ok_or_else(|| format!("`{flag}` needs a value"))
            };
            match flag {
                "--prefix" => prefix = Some(PathBuf::from(value()?)),
                "--target" => target = Some(value()?),
                "--release" if inline.is_none() => release = true,
                _ => return Err(format!("unknown argument `{arg}`")),
            }
        }
        Ok(Options {
            prefix: prefix.ok_or("--prefix is required")?,
            release,
            target,
        })
    }

    /// `release` or `debug`: the directory cargo builds the profile into.
    fn profile_dir(&self) -> &'static str {
        if self.release {
            "release"
        } else {
            "debug"
        }
    }
}

/// What rustc says about the target.
#[derive(Debug)]
struct Platform {
    triple: String,
    os: String,
    env: String,
    pointer_bytes: u32,
}

fn platform(ctx: &Ctx, target: Option<&str>) -> Result<Platform, String> {
    let mut rustc = Cmd::new("rustc").args(["--print", "cfg"]);
    if let Some(t) = target {
        rustc = rustc.args(["--target", t]);
    }
    let cfg = rustc
        .probe(&ctx.root)
        .ok_or_else(|| format!("`{rustc}` failed (is the target installed?)"))?;
    let value = |key: &str| {
        cfg.lines().find_map(|l| {
            l.strip_prefix(key)?
                .strip_prefix("=\"")?
                .strip_suffix('"')
                .map(str::to_owned)
        })
    };
    let triple = match target {
        Some(t) => t.to_owned(),
        None => Cmd::new("rustc")
            .args(["--print", "host-tuple"])
            .probe(&ctx.root)
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| "host".to_owned()),
    };
    let bits: u32 = value("target_pointer_width")
        .and_then(|w| w.parse().ok())
        .ok_or("rustc printed no target_pointer_width")?;
    Ok(Platform {
        triple,
        os: value("target_os").unwrap_or_default(),
        env: value("target_env").unwrap_or_default(),
        pointer_bytes: bits / 8,
    })
}

/// The ABI part of the version: `0.MINOR` before 1.0, else `MAJOR` (as
/// ffi/build.rs names the soname).
pub(crate) fn abi_version() -> String {
    let mut parts = VERSION.split('.');
    let major = parts.next().unwrap_or("0");
    let minor = parts.next().unwrap_or("0");
    if major == "0" {
        format!("0.{minor}")
    } else {
        major.to_owned()
    }
}

/// Which built file goes where, for one platform.
#[derive(Debug)]
struct Layout {
    /// (file cargo built, where it goes under the prefix).
    copies: Vec<(&'static str, String)>,
    /// (link under the prefix, what it points to, relative to it).
    links: Vec<(String, String)>,
    /// The shared library, under the prefix.
    shared: String,
    /// Its import library (Windows), under the prefix.
    implib: Option<String>,
    /// Its ELF soname.
    soname: Option<String>,
    /// The static library, under the prefix.
    archive: String,
}

impl Layout {
    fn of(p: &Platform) -> Result<Layout, String> {
        match (p.os.as_str(), p.env.as_str()) {
            ("windows", "gnu") => Ok(Layout {
                copies: vec![
                    ("ipc.dll", "bin/ipc.dll".to_owned()),
                    ("libipc.dll.a", "lib/libipc.dll.a".to_owned()),
                    ("libipc.a", "lib/libipc.a".to_owned()),
                ],
                links: Vec::new(),
                shared: "bin/ipc.dll".to_owned(),
                implib: Some("lib/libipc.dll.a".to_owned()),
                soname: None,
                archive: "lib/libipc.a".to_owned(),
            }),
            ("linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly", _) => {
                let abi = abi_version();
                let real = format!("libipc.so.{VERSION}");
                let soname = format!("libipc.so.{abi}");
                Ok(Layout {
                    copies: vec![
                        ("libipc.so", format!("lib/{real}")),
                        ("libipc.a", "lib/libipc.a".to_owned()),
                    ],
                    links: vec![
                        (format!("lib/{soname}"), real.clone()),
                        ("lib/libipc.so".to_owned(), soname.clone()),
                    ],
                    shared: format!("lib/{real}"),
                    implib: None,
                    soname: Some(soname),
                    archive: "lib/libipc.a".to_owned(),
                })
            }
            (os, env) => Err(format!(
                "installing for {} ({os}, {env}) is not supported: only ELF systems and windows-gnu",
                p.triple
            )),
        }
    }
}

/// The system libraries a program linking the static library needs, as
/// rustc lists them (`-lpthread ...`). Windows: rustc also names the import
/// library that the `windows-targets` crate ships (`-lwindows.0.52.0`),
/// which only declares functions of the system DLLs whose own import
/// libraries are in the list already, and which no C toolchain has.
fn static_libs(note: &str) -> Vec<String> {
    note.split_whitespace()
        .filter(|l| !l.starts_with("-lwindows."))
        .map(str::to_owned)
        .collect()
}

/// Reads rustc's `native-static-libs` note from a repeated (fresh, so
/// instant) run of the build command: cargo replays the compiler's notes.
fn native_static_libs(ctx: &Ctx, args: &[String]) -> Result<Vec<String>, String> {
    let out = Command::new("cargo")
        .args(args)
        .current_dir(&ctx.root)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("note: native-static-libs:"))
        .map(static_libs)
        .ok_or_else(|| "rustc printed no native-static-libs note for libipc.a".to_owned())
}

/// The repository's address, from the root `Cargo.toml`.
fn repository(ctx: &Ctx) -> String {
    fs::read_to_string(ctx.root.join("Cargo.toml"))
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                let v = l
                    .trim()
                    .strip_prefix("repository")?
                    .trim()
                    .strip_prefix('=')?;
                Some(v.trim().trim_matches('"').to_owned())
            })
        })
        .unwrap_or_default()
}

/// Replaces every `@NAME@` of `template`; one left over is an error.
fn render(name: &str, template: &str, vars: &[(&str, String)]) -> Result<String, String> {
    let mut out = template.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("@{k}@"), v);
    }
    let placeholder =
        |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    match out.split('@').skip(1).find(|w| placeholder(w)) {
        Some(word) => Err(format!("{name}: no value for @{word}@")),
        None => Ok(out),
    }
}

/// The values of the templates' `@NAME@` placeholders.
fn variables(
    platform: &Platform,
    layout: &Layout,
    libs: &[String],
    url: String,
) -> Vec<(&'static str, String)> {
    let mut version = VERSION.split('.');
    let cmake_libs: Vec<&str> = libs
        .iter()
        .map(|l| l.strip_prefix("-l").unwrap_or(l))
        .collect();
    vec![
        ("IPC_VERSION", VERSION.to_owned()),
        (
            "IPC_VERSION_MAJOR",
            version.next().unwrap_or("0").to_owned(),
        ),
        (
            "IPC_VERSION_MINOR",
            version.next().unwrap_or("0").to_owned(),
        ),
        ("IPC_TARGET", platform.triple.clone()),
        ("IPC_SIZEOF_VOID_P", platform.pointer_bytes.to_string()),
        ("IPC_SHARED", layout.shared.clone()),
        ("IPC_IMPLIB", layout.implib.clone().unwrap_or_default()),
        ("IPC_SONAME", layout.soname.clone().unwrap_or_default()),
        ("IPC_STATIC", layout.archive.clone()),
        (
            "IPC_STATIC_NAME",
            layout.archive.trim_start_matches("lib/").to_owned(),
        ),
        ("IPC_STATIC_LIBS", cmake_libs.join(";")),
        ("IPC_STATIC_FLAGS", libs.join(" ")),
        ("IPC_URL", url),
    ]
}

/// Builds ipc-ffi and installs it under `opts.prefix`; `run` runs the
/// build command (so that `ci` counts and times it). Returns the installed
/// paths, relative to the prefix.
pub(crate) fn install(
    ctx: &Ctx,
    opts: &Options,
    run: &mut dyn FnMut(&Cmd) -> bool,
) -> Result<Vec<PathBuf>, String> {
    let platform = platform(ctx, opts.target.as_deref())?;
    let layout = Layout::of(&platform)?;

    // `cargo rustc` rather than `cargo build`: the same build, plus the
    // note that lists the static library's system libraries.
    let mut args: Vec<String> = ["rustc", "-p", "ipc-ffi", "--lib"]
        .map(str::to_owned)
        .to_vec();
    if opts.release {
        args.push("--release".to_owned());
    }
    if let Some(t) = &opts.target {
        args.extend(["--target".to_owned(), t.clone()]);
    }
    args.extend(["--", "--print", "native-static-libs"].map(str::to_owned));
    if !run(&Cmd::cargo().args(args.iter().cloned())) {
        return Err("building ipc-ffi failed".to_owned());
    }
    let libs = native_static_libs(ctx, &args)?;

    let mut built = ctx.target.clone();
    if let Some(t) = &opts.target {
        built.push(t);
    }
    built.push(opts.profile_dir());

    let prefix = &opts.prefix;
    let mut installed = Vec::new();
    let mut put = |rel: &str, from: Option<&Path>, text: Option<&str>| -> Result<(), String> {
        let to = prefix.join(rel);
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        // A symlink or read-only file from an earlier install goes first.
        let _ = fs::remove_file(&to);
        match (from, text) {
            (Some(from), _) => fs::copy(from, &to)
                .map(drop)
                .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display())),
            (None, Some(text)) => {
                fs::write(&to, text).map_err(|e| format!("cannot write {}: {e}", to.display()))
            }
            (None, None) => unreachable!("a file comes from somewhere"),
        }?;
        installed.push(PathBuf::from(rel));
        Ok(())
    };

    for (file, rel) in &layout.copies {
        put(rel, Some(&built.join(file)), None)?;
    }
    put("include/ipc.h", Some(&ctx.root.join("include/ipc.h")), None)?;
    // The C++ layer, once there is one.
    let hpp = ctx.root.join("include/ipc.hpp");
    if hpp.is_file() {
        put("include/ipc.hpp", Some(&hpp), None)?;
    }

    for (from, rel) in lmms_files(&ctx.root)? {
        put(&rel, Some(&from), None)?;
    }

    let vars = variables(&platform, &layout, &libs, repository(ctx));
    for (template, rel) in [
        ("ipcConfig.cmake.in", "lib/cmake/ipc/ipcConfig.cmake"),
        (
            "ipcConfigVersion.cmake.in",
            "lib/cmake/ipc/ipcConfigVersion.cmake",
        ),
        ("ipc.pc.in", "lib/pkgconfig/ipc.pc"),
        ("ipc-static.pc.in", "lib/pkgconfig/ipc-static.pc"),
    ] {
        let path = ctx.root.join(TEMPLATES).join(template);
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        put(rel, None, Some(&render(template, &text, &vars)?))?;
    }

    for (link, points_to) in &layout.links {
        let at = prefix.join(link);
        let _ = fs::remove_file(&at);
        symlink(points_to, &at).map_err(|e| format!("cannot link {}: {e}", at.display()))?;
        installed.push(PathBuf::from(link));
    }
    installed.sort();
    Ok(installed)
}

/// The LMMS adapter's files and where they go under the prefix (none if
/// the tree has no adapter): its headers and the stand-ins for LMMS's own,
/// its sources (the project that links `ipc::lmms` compiles them, with its
/// compiler and its LMMS headers), and the CMake file defining `ipc::lmms`
/// that `ipcConfig.cmake` includes.
fn lmms_files(root: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let adapter = root.join(LMMS_ADAPTER);
    if !adapter.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for (from, to, exts) in [
        ("include", "include/ipc/lmms", &["h"][..]),
        ("standalone", "include/ipc/lmms/standalone", &["h"][..]),
        ("src", "share/ipc/lmms/src", &["h", "cpp"][..]),
    ] {
        let dir = adapter.join(from);
        let entries =
            fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let mut names = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
                .path();
            let wanted = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e));
            if wanted && path.is_file() {
                names.push(path);
            }
        }
        names.sort();
        for path in names {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push((path, format!("{to}/{name}")));
        }
    }
    files.push((
        adapter.join("cmake/ipc-lmms.cmake"),
        "lib/cmake/ipc/ipc-lmms.cmake".to_owned(),
    ));
    Ok(files)
}

#[cfg(unix)]
fn symlink(points_to: &str, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(points_to, at)
}

/// Without symlinks, a copy does the same for the linker and the loader.
#[cfg(not(unix))]
fn symlink(points_to: &str, at: &Path) -> std::io::Result<()> {
    let dir = at.parent().unwrap_or(Path::new("."));
    fs::copy(dir.join(points_to), at).map(drop)
}

pub(crate) fn main(ctx: &Ctx, args: &[String]) -> ExitCode {
    let opts = match Options::parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("xtask install: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // A relative prefix is the caller's, not the workspace root's.
    let opts = Options {
        prefix: std::path::absolute(&opts.prefix).unwrap_or(opts.prefix),
        ..opts
    };
    let mut run = |cmd: &Cmd| cmd.run(&ctx.root).success;
    match install(ctx, &opts, &mut run) {
        Ok(files) => {
            println!("installed libipc {VERSION} into {}:", opts.prefix.display());
            for f in files {
                println!("  {}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask install: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_options() {
        let args = |a: &[&str]| a.iter().map(|&s| s.to_owned()).collect::<Vec<_>>();
        let o = Options::parse(&args(&["--prefix", "/p", "--release", "--target=t"])).unwrap();
        assert_eq!(o.prefix, PathBuf::from("/p"));
        assert!(o.release);
        assert_eq!(o.target.as_deref(), Some("t"));
        assert!(Options::parse(&args(&["--release"])).is_err());
        assert!(Options::parse(&args(&["--prefix"])).is_err());
        assert!(Options::parse(&args(&["--prefix", "/p", "--frob"])).is_err());
    }

    #[test]
    fn installs_the_lmms_adapter_where_its_cmake_file_looks() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let files = lmms_files(root).unwrap();
        let has = |rel: &str| files.iter().any(|(_, to)| to == rel);
        for rel in [
            "include/ipc/lmms/RemotePluginBase.h",
            "include/ipc/lmms/RemotePluginClient.h",
            "include/ipc/lmms/standalone/SampleFrame.h",
            "share/ipc/lmms/src/Inbox.cpp",
            "lib/cmake/ipc/ipc-lmms.cmake",
        ] {
            assert!(has(rel), "{rel} is not installed: {files:?}");
        }
        // Every source ipc-lmms.cmake compiles is installed.
        let cmake =
            fs::read_to_string(root.join(LMMS_ADAPTER).join("cmake/ipc-lmms.cmake")).unwrap();
        for word in cmake.split(|c: char| c == '"' || c.is_whitespace()) {
            if let Some(name) = word.strip_prefix("${_ipc_lmms_src}/") {
                assert!(
                    has(&format!("share/ipc/lmms/src/{name}")),
                    "{name} is not installed"
                );
            }
        }
    }

    #[test]
    fn drops_the_import_library_no_toolchain_has() {
        assert_eq!(
            static_libs("-lbcrypt -ladvapi32 -lwindows.0.52.0 -lkernel32"),
            ["-lbcrypt", "-ladvapi32", "-lkernel32"]
        );
    }

    #[test]
    fn a_placeholder_without_a_value_is_an_error() {
        let vars = [("A", "1".to_owned())];
        assert_eq!(render("t", "x@A@y", &vars).unwrap(), "x1y");
        assert!(render("t", "@A@ @B@", &vars).is_err());
        // An address is no placeholder.
        assert!(render("t", "a@b.c d@e", &vars).is_ok());
    }

    #[test]
    fn every_template_placeholder_has_a_value() {
        for (os, env) in [("linux", "gnu"), ("windows", "gnu")] {
            let platform = Platform {
                triple: "t".to_owned(),
                os: os.to_owned(),
                env: env.to_owned(),
                pointer_bytes: 8,
            };
            let layout = Layout::of(&platform).unwrap();
            let vars = variables(&platform, &layout, &["-lm".to_owned()], "u".to_owned());
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            for entry in fs::read_dir(root.join(TEMPLATES)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "in") {
                    let text = fs::read_to_string(&path).unwrap();
                    let name = path.display().to_string();
                    let out = render(&name, &text, &vars).unwrap();
                    assert!(!out.contains('@'), "{name}: {out}");
                }
            }
        }
    }
}
