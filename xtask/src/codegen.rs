//! `cargo xtask codegen [--check]`: the generated files of the repository,
//! each written by one function. `include/ipc.h` comes from the ipc-ffi
//! crate through cbindgen (the exact version pinned in xtask/Cargo.toml),
//! with `ffi/cbindgen.toml`; `ffi/tests/c/null_arguments.c` from that
//! header. With `--check` nothing is written: a file that differs from what
//! would be generated is a failure that names the command to run.

mod null_arguments;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One generated file: where it goes, and how to make its contents.
struct Generated {
    path: &'static str,
    make: fn(&Path) -> Result<String, String>,
}

const FILES: &[Generated] = &[
    Generated {
        path: "include/ipc.h",
        make: ipc_h,
    },
    Generated {
        path: "ffi/tests/c/null_arguments.c",
        make: null_arguments_c,
    },
];

/// The NULL-argument test, from the header as it is generated now (not as
/// committed, which may be stale).
fn null_arguments_c(root: &Path) -> Result<String, String> {
    null_arguments::generate(&ipc_h(root)?).map_err(|e| format!("null_arguments.c: {e}"))
}

/// The C header, as cbindgen makes it from `ffi/`.
fn ipc_h(root: &Path) -> Result<String, String> {
    let crate_dir = root.join("ffi");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .map_err(|e| format!("ffi/cbindgen.toml: {e}"))?;
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .map_err(|e| format!("cbindgen: {e}"))?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).map_err(|e| format!("cbindgen wrote no UTF-8: {e}"))
}

/// The files that differ from what would be generated (their paths), or
/// the first error.
pub(crate) fn stale(root: &Path) -> Result<Vec<PathBuf>, String> {
    let mut stale = Vec::new();
    for file in FILES {
        let want = (file.make)(root)?;
        let path = root.join(file.path);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            stale.push(PathBuf::from(file.path));
        }
    }
    Ok(stale)
}

pub(crate) fn main(root: &Path, args: &[String]) -> ExitCode {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            eprintln!("usage: cargo xtask codegen [--check]");
            return ExitCode::from(2);
        }
    };
    if check {
        return match stale(root) {
            Ok(s) if s.is_empty() => {
                println!("codegen: every generated file is up to date");
                ExitCode::SUCCESS
            }
            Ok(s) => {
                for p in &s {
                    println!("codegen: {} is out of date", p.display());
                }
                println!("run `cargo xtask codegen` and commit the result");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("codegen: {e}");
                ExitCode::FAILURE
            }
        };
    }
    for file in FILES {
        match (file.make)(root) {
            Ok(text) => {
                let path = root.join(file.path);
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                if let Err(e) = std::fs::write(&path, text) {
                    eprintln!("codegen: cannot write {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                println!("codegen: wrote {}", file.path);
            }
            Err(e) => {
                eprintln!("codegen: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    /// Plain `cargo test` catches a header that was not regenerated.
    #[test]
    fn the_committed_generated_files_are_up_to_date() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap();
        let stale = super::stale(root).unwrap();
        assert!(
            stale.is_empty(),
            "{stale:?} out of date: run `cargo xtask codegen` and commit the result"
        );
    }
}
