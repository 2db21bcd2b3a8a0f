//! `cargo xtask soak`: the long run, on demand (never part of `ci`). Runs,
//! in release mode, the hostile-peer tests with a large mutation count
//! (`crates/ipc-test-support/tests/hostile_peer.rs`) and the kill campaign
//! with a large kill count (`tests/kill_campaign.rs`), both printing
//! progress every 10 %, then a summary. Exits non-zero if either failed.

use crate::cmd::{fmt_duration, Cmd, Outcome};
use crate::Ctx;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Default words the scribbling peers overwrite in all.
const MUTATIONS: u64 = 1_000_000;
/// Default kills of the campaign.
const KILLS: u64 = 1_000;

const USAGE: &str = "usage: cargo xtask soak [--mutations N] [--kills N] [--seed S]";

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    mutations: u64,
    kills: u64,
    seed: Option<u64>,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        mutations: MUTATIONS,
        kills: KILLS,
        seed: None,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || -> Result<u64, String> {
            let v = args
                .next()
                .ok_or_else(|| format!("{flag} needs a number"))?;
            v.parse().map_err(|_| format!("{flag} {v}: not a number"))
        };
        match flag.as_str() {
            "--mutations" => o.mutations = value()?.max(1),
            "--kills" => o.kills = value()?.max(1),
            "--seed" => o.seed = Some(value()?),
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(o)
}

/// One release-mode test binary of ipc-test-support, with `env`, its output
/// shown as it comes (the tests print their progress and summaries).
fn test_binary(name: &str, env: &[(&str, String)], timeout: Duration) -> Cmd {
    let mut cmd = Cmd::cargo()
        .args([
            "test",
            "--release",
            "-p",
            "ipc-test-support",
            "--test",
            name,
            "--",
            "--nocapture",
        ])
        .env("IPC_SOAK_PROGRESS", "1")
        .timeout(timeout);
    for (k, v) in env {
        cmd = cmd.env(*k, v.clone());
    }
    cmd
}

pub(crate) fn main(ctx: &Ctx, args: &[String]) -> ExitCode {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("xtask soak: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let seed: Vec<(&str, String)> = o
        .seed
        .map(|s| ("IPC_SOAK_SEED", s.to_string()))
        .into_iter()
        .collect();

    let mut results: Vec<(String, Outcome, Duration)> = Vec::new();
    let mut run = |what: String, cmd: Cmd| {
        println!("==> soak: {what}");
        let start = Instant::now();
        let outcome = cmd.run(&ctx.root);
        results.push((what, outcome, start.elapsed()));
    };

    let mut env = seed.clone();
    env.push(("IPC_SOAK_MUTATIONS", o.mutations.to_string()));
    // Timeouts that only a hang reaches: the slowest machine here does
    // about a thousand mutations and a few kills a second.
    let hostile_timeout = Duration::from_secs(1800 + o.mutations / 100);
    run(
        format!("hostile peer, {} mutations", o.mutations),
        test_binary("hostile_peer", &env, hostile_timeout),
    );

    let campaign = ctx
        .root
        .join("crates/ipc-test-support/tests/kill_campaign.rs");
    let mut missing = false;
    if campaign.is_file() {
        let mut env = seed;
        env.push(("IPC_SOAK_KILLS", o.kills.to_string()));
        let kills_timeout = Duration::from_secs(1800 + o.kills * 2);
        run(
            format!("kill campaign, {} kills", o.kills),
            test_binary("kill_campaign", &env, kills_timeout),
        );
    } else {
        println!("==> soak: kill campaign: {} is missing", campaign.display());
        missing = true;
    }

    println!("\nsoak summary:");
    let mut ok = !missing;
    for (what, outcome, time) in &results {
        let verdict = if outcome.success { "ok" } else { "FAILED" };
        ok &= outcome.success;
        println!(
            "  {verdict:<6} {what}: {} tests passed, {} failed, in {}",
            outcome.tests.passed,
            outcome.tests.failed,
            fmt_duration(*time)
        );
    }
    if missing {
        println!("  FAILED kill campaign: no test file");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_default_and_parse() {
        assert_eq!(
            parse(&[]).unwrap(),
            Options {
                mutations: MUTATIONS,
                kills: KILLS,
                seed: None
            }
        );
        assert_eq!(
            parse(&args("--mutations 200000 --seed 7 --kills 5")).unwrap(),
            Options {
                mutations: 200_000,
                kills: 5,
                seed: Some(7)
            }
        );
        assert!(parse(&args("--mutations")).is_err());
        assert!(parse(&args("--kills many")).is_err());
        assert!(parse(&args("--fast")).is_err());
    }
}
