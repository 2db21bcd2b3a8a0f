//! `cargo xtask demo`: builds and runs the demo of the whole stack
//! (`crates/ipc-link/examples/demo`) in release mode, passing extra
//! arguments through. Its own output is the report; it exits non-zero if a
//! step failed.

use crate::Ctx;
use std::process::{Command, ExitCode};

pub(crate) fn main(ctx: &Ctx, args: &[String]) -> ExitCode {
    // `cargo` through the rustup proxy on PATH (as `cmd::Cmd::cargo`), with
    // our environment (CARGO_TARGET_DIR included) and the terminal.
    let status = Command::new("cargo")
        .args([
            "run",
            "--release",
            "-p",
            "ipc-link",
            "--example",
            "demo",
            "--",
        ])
        .args(args)
        .current_dir(&ctx.root)
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => match status.code() {
            // The demo (or cargo) has said what failed.
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1).max(1)),
            None => {
                eprintln!("xtask demo: the demo ended with {status}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("xtask demo: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}
