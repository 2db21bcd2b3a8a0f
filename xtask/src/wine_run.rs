//! `xtask wine-run PROGRAM [ARGS]`: cargo's runner for the Windows test
//! programs (the `test-windows` step sets it). Runs PROGRAM under Wine with
//! the same arguments, standard streams and environment, and exits as it
//! did; except that a program Wine could not start is started again, at
//! most twice.
//!
//! "Could not start" is exit status 66: the low byte of
//! `STATUS_DLL_INIT_FAILED` (0xC0000142), which Wine now and then reports
//! for a process whose DLLs failed to initialise, on a loaded machine,
//! before any of the program's own code ran (so it printed nothing, and no
//! test of it ran or was counted). No program of this workspace exits with
//! 66 itself: a test program exits 0 or 101, an abort is 0xC0000409 (9).

use crate::setup::WINE;
use std::process::{Command, ExitCode};
use std::time::Duration;

/// Wine's exit status for a process that failed to initialise.
const DLL_INIT_FAILED: i32 = 0xC000_0142_u32 as i32 & 0xFF;
/// Starts after the first.
const RESTARTS: u32 = 2;

pub(crate) fn main(args: &[String]) -> ExitCode {
    let Some((program, rest)) = args.split_first() else {
        eprintln!("xtask wine-run: which program?");
        return ExitCode::from(2);
    };
    let mut restarts = 0;
    loop {
        let status = match Command::new(WINE).arg(program).args(rest).status() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("xtask wine-run: cannot run {WINE}: {e}");
                return ExitCode::from(2);
            }
        };
        match status.code() {
            Some(DLL_INIT_FAILED) if restarts < RESTARTS => {
                restarts += 1;
                eprintln!(
                    "xtask wine-run: Wine could not start {program} \
                     (STATUS_DLL_INIT_FAILED, exit status {DLL_INIT_FAILED}); starting it again ({restarts} of {RESTARTS})"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            Some(code) => return ExitCode::from(u8::try_from(code & 0xFF).unwrap_or(1)),
            None => return ExitCode::FAILURE,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_status_is_the_low_byte_of_dll_init_failed() {
        assert_eq!(super::DLL_INIT_FAILED, 66);
    }
}
