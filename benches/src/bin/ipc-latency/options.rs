//! The command line: `--json`, `--progress`, `--only`, `--pin`, `--iters`,
//! `--rounds`, and the usage text.

use crate::{bench_names, find_bench};

/// Default `--iters`: round trips of the spinning ping-pongs. The blocking
/// ones (a hundred times slower per round trip on a VM) run a fifth of it.
const DEFAULT_ITERS: u64 = 100_000;
const BLOCKING_SHARE: u64 = 5;

/// Round trips of the blocking ping-pongs for `--iters iters`.
pub(crate) fn blocking_iters(iters: u64) -> u64 {
    (iters / BLOCKING_SHARE).max(1)
}

pub(crate) fn usage() -> String {
    format!(
        "\
usage: ipc-latency [--json] [--progress] [--only NAME,...] [--pin none|split|same] [--iters N] [--rounds N]

  --json         one JSON object per result and line instead of a table
  --progress     with --json, still say on stderr what runs
                 (`round R/N: NAME ...`); without --json it always does
  --only LIST    run only these benchmarks (comma-separated names; they run
                 in the order below)
  --pin MODE     split: parent on CPU 0, peer on CPU 1 (default);
                 same: both on CPU 0; none: no pinning
  --iters N      round trips of the spinning ping-pongs (default {DEFAULT_ITERS});
                 the blocking ones run N/{BLOCKING_SHARE}; each is preceded by a tenth as warm-up
  --rounds N     run everything N times (default 1), round after round; the
                 table shows each benchmark's median round and the median of
                 its same-round ratios (steadier on machines whose cores move)

environment:
  IPC_LATENCY_PEER_WRAPPER  a command to start each peer process under, e.g.
                 `valgrind --tool=lackey --trace-mem=yes --log-file=peer.%p`
                 (words split at white space; cargo xtask footprint uses it)

benchmarks, in order:
  {}
",
        bench_names().join("\n  ")
    )
}

/// Where the two processes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pin {
    None,
    Split,
    Same,
}

impl Pin {
    pub(crate) fn parent_cpu(self) -> Option<usize> {
        match self {
            Pin::None => None,
            Pin::Split | Pin::Same => Some(0),
        }
    }

    pub(crate) fn peer_cpu(self) -> Option<usize> {
        match self {
            Pin::None => None,
            Pin::Split => Some(1),
            Pin::Same => Some(0),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Pin::None => "none",
            Pin::Split => "split",
            Pin::Same => "same",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) json: bool,
    /// Progress on stderr even with `--json`.
    pub(crate) progress: bool,
    pub(crate) only: Option<Vec<&'static str>>,
    pub(crate) pin: Pin,
    pub(crate) iters: u64,
    pub(crate) rounds: usize,
}

impl Options {
    /// `Ok(None)` asks for the usage text.
    pub(crate) fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut options = Options {
            json: false,
            progress: false,
            only: None,
            pin: Pin::Split,
            iters: DEFAULT_ITERS,
            rounds: 1,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
                _ => (arg.as_str(), None),
            };
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| args.next().cloned())
                    .ok_or(format!("{flag} needs a value"))
            };
            match flag {
                "-h" | "--help" => return Ok(None),
                "--json" => options.json = true,
                "--progress" => options.progress = true,
                "--only" => options.only = Some(parse_only(&value()?)?),
                "--pin" => {
                    options.pin = match value()?.as_str() {
                        "none" => Pin::None,
                        "split" => Pin::Split,
                        "same" => Pin::Same,
                        other => {
                            return Err(format!("--pin takes none, split or same, not {other:?}"))
                        }
                    }
                }
                "--iters" => options.iters = positive(flag, &value()?)?,
                "--rounds" => options.rounds = positive(flag, &value()?)?,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(Some(options))
    }
}

/// The benchmarks named in `--only`'s comma-separated list.
fn parse_only(list: &str) -> Result<Vec<&'static str>, String> {
    let mut names = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let bench = find_bench(name).ok_or_else(|| {
            format!(
                "unknown benchmark {name:?} (known: {})",
                bench_names().join(", ")
            )
        })?;
        names.push(bench.name);
    }
    if names.is_empty() {
        return Err("--only needs at least one name".into());
    }
    Ok(names)
}

/// The value of `flag`, which takes a number above zero.
fn positive<T: std::str::FromStr + Default + PartialOrd>(
    flag: &str,
    value: &str,
) -> Result<T, String> {
    value
        .parse()
        .ok()
        .filter(|n| *n > T::default())
        .ok_or_else(|| format!("{flag} takes a positive number, not {value:?}"))
}
