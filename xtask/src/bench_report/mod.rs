//! `cargo xtask bench-report`: runs the latency harness in release mode
//! (`ipc-latency --pin split --rounds 3 --json`), then draws its results
//! (`docs/bench/*.svg`) and regenerates the generated part of
//! `docs/BENCHMARKS.md`, between its `bench-report` markers.
//!
//! * [`data`]: reading the JSON lines back, per row the median round and the
//!   same-round ratios;
//! * [`markdown`]: the tables and the splice into the page;
//! * [`plots`]: the SVG plots.

pub(crate) mod data;
pub(crate) mod markdown;
pub(crate) mod plots;

use crate::cmd::{fmt_duration, Cmd};
use crate::Ctx;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str = "\
usage: cargo xtask bench-report [--out DIR] [--from FILE] [IPC-LATENCY OPTIONS]

  --out DIR    where BENCHMARKS.md and bench/*.svg go (default: docs/, which
               rewrites the committed page); the page is always read from
               docs/BENCHMARKS.md
  --from FILE  draw the lines saved in FILE (a bench/ipc-latency.jsonl of an
               earlier report) instead of running the benchmarks
  other options (--only A,B  --iters N  --rounds N  --pin MODE) go to
  ipc-latency, which otherwise runs with --pin split --rounds 3";

/// The benchmark binary, as `cargo run` names it.
const CARGO_ARGS: [&str; 6] = [
    "--release",
    "-p",
    "ipc-benches",
    "--bin",
    "ipc-latency",
    "--",
];
/// The options of `ipc-latency` that take a value.
const VALUED: [&str; 4] = ["--only", "--iters", "--rounds", "--pin"];
/// The raw lines of a report, next to its plots.
const RAW: &str = "ipc-latency.jsonl";

/// Where and when a report was made, as the page and every plot state it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    /// The command that measured.
    pub(crate) command: String,
    /// When it started, UTC.
    pub(crate) date: String,
    /// How long it ran (the build before it not included).
    pub(crate) duration: String,
    /// CPUs (`nproc`), CPU model (`/proc/cpuinfo`), kernel (`uname -sr`),
    /// load average at the start (`/proc/loadavg`).
    pub(crate) machine: String,
    /// `git rev-parse --short HEAD`, and whether the tree had changes.
    pub(crate) commit: String,
    /// `rustc --version`.
    pub(crate) toolchain: String,
}

impl Meta {
    const FIELDS: [&'static str; 6] = [
        "command",
        "date",
        "duration",
        "machine",
        "commit",
        "toolchain",
    ];

    fn fields(&self) -> [&String; 6] {
        [
            &self.command,
            &self.date,
            &self.duration,
            &self.machine,
            &self.commit,
            &self.toolchain,
        ]
    }

    /// The first line of a saved report: `{"bench-report":{...}}`.
    fn to_json(&self) -> String {
        let fields: serde_json::Map<String, serde_json::Value> = Self::FIELDS
            .iter()
            .zip(self.fields())
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::json!({ "bench-report": fields }).to_string()
    }

    /// Reads [`Meta::to_json`]'s line; `None` for any other line.
    fn from_json(line: &str) -> Option<Meta> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let fields = value.get("bench-report")?;
        let get = |k: &str| {
            fields
                .get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("not recorded")
                .to_owned()
        };
        Some(Meta {
            command: get("command"),
            date: get("date"),
            duration: get("duration"),
            machine: get("machine"),
            commit: get("commit"),
            toolchain: get("toolchain"),
        })
    }
}

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    out: Option<PathBuf>,
    from: Option<PathBuf>,
    /// For `ipc-latency`, after the defaults.
    pass: Vec<String>,
}

/// `Ok(None)` asks for the usage text.
fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut o = Options {
        out: None,
        from: None,
        pass: Vec::new(),
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
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--out" => o.out = Some(PathBuf::from(value()?)),
            "--from" => o.from = Some(PathBuf::from(value()?)),
            // Always given: the report needs the lines, and progress.
            "--json" | "--progress" => {}
            f if VALUED.contains(&f) => {
                let v = value()?;
                o.pass.extend([f.to_owned(), v]);
            }
            _ => o.pass.push(arg.clone()),
        }
    }
    Ok(Some(o))
}

/// `ipc-latency`'s arguments: the report's defaults unless overridden,
/// the JSON lines, what was passed on, and progress on stderr.
fn latency_args(pass: &[String]) -> Vec<String> {
    let given = |flag: &str| pass.iter().any(|a| a == flag);
    let mut args: Vec<String> = Vec::new();
    if !given("--pin") {
        args.extend(["--pin".to_owned(), "split".to_owned()]);
    }
    if !given("--rounds") {
        args.extend(["--rounds".to_owned(), "3".to_owned()]);
    }
    args.push("--json".to_owned());
    args.extend(pass.iter().cloned());
    args.push("--progress".to_owned());
    args
}

pub(crate) fn main(ctx: &Ctx, args: &[String]) -> ExitCode {
    let o = match parse(args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("xtask bench-report: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let out = o.out.clone().unwrap_or_else(|| ctx.root.join("docs"));
    let result = match &o.from {
        Some(file) => saved(file),
        None => measure(ctx, &o.pass),
    }
    .and_then(|(meta, lines)| write(ctx, &out, &meta, &lines));
    match result {
        Ok(files) => {
            println!("xtask bench-report: wrote");
            for f in files {
                println!("  {}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask bench-report: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Builds and runs `ipc-latency`; returns the report's facts and the
/// result lines. The lines are also saved in the target directory, so a
/// failed run can still be looked at (and drawn with `--from`).
fn measure(ctx: &Ctx, pass: &[String]) -> Result<(Meta, Vec<String>), String> {
    // Built first, so the time reported is the benchmarks' alone.
    let build = Cmd::cargo()
        .arg("build")
        .args(CARGO_ARGS[..5].iter().copied());
    if !build.run(&ctx.root).success {
        return Err("building ipc-latency failed".to_owned());
    }
    let mut args: Vec<String> = ["run"]
        .into_iter()
        .chain(CARGO_ARGS)
        .map(str::to_owned)
        .collect();
    args.extend(latency_args(pass));
    let command = format!("cargo {}", args.join(" "));
    let date = utc_now();
    let machine = machine(&ctx.root);
    println!("$ {command}");
    let _ = std::io::stdout().flush();
    let start = Instant::now();
    let mut child = Command::new("cargo")
        .args(&args)
        .current_dir(&ctx.root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = Vec::new();
    let mut unreadable = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading ipc-latency's output: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        match data::parse_line(&line) {
            Ok(_) => lines.push(line),
            Err(e) => {
                eprintln!("xtask bench-report: not a result ({e}): {line}");
                unreadable += 1;
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for ipc-latency: {e}"))?;
    let meta = Meta {
        command,
        date,
        duration: fmt_duration(start.elapsed()),
        machine,
        commit: commit(&ctx.root),
        toolchain: probe(&ctx.root, "rustc", &["--version"]).unwrap_or_else(|| "rustc".to_owned()),
    };
    println!(
        "xtask bench-report: {} results in {}",
        lines.len(),
        meta.duration
    );
    let keep = ctx.target.join("bench-report").join(RAW);
    let kept = std::fs::create_dir_all(ctx.target.join("bench-report"))
        .and_then(|()| std::fs::write(&keep, saved_text(&meta, &lines)));
    if !status.success() || unreadable > 0 {
        let where_ = match kept {
            Ok(()) => format!(
                "; its results are in {} (`--from` draws them)",
                keep.display()
            ),
            Err(_) => String::new(),
        };
        return Err(format!(
            "ipc-latency failed ({status}, {unreadable} unreadable line(s)): nothing written{where_}"
        ));
    }
    Ok((meta, lines))
}

/// A saved report: [`Meta::to_json`], then the result lines.
fn saved_text(meta: &Meta, lines: &[String]) -> String {
    let mut text = meta.to_json();
    text.push('\n');
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Reads a report saved by [`saved_text`] (or bare `ipc-latency --json`
/// output, whose facts are then unknown).
fn saved(file: &Path) -> Result<(Meta, Vec<String>), String> {
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    parse_saved(&text).map_err(|e| format!("{}: {e}", file.display()))
}

fn parse_saved(text: &str) -> Result<(Meta, Vec<String>), String> {
    let mut meta = None;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(m) = Meta::from_json(line) {
            meta = Some(m);
            continue;
        }
        data::parse_line(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        lines.push(line.to_owned());
    }
    let unknown = "not recorded".to_owned();
    let meta = meta.unwrap_or_else(|| Meta {
        command: unknown.clone(),
        date: unknown.clone(),
        duration: unknown.clone(),
        machine: unknown.clone(),
        commit: unknown.clone(),
        toolchain: unknown,
    });
    Ok((meta, lines))
}

/// Writes the plots, the saved lines and the page into `out`; returns the
/// files written.
fn write(ctx: &Ctx, out: &Path, meta: &Meta, lines: &[String]) -> Result<Vec<PathBuf>, String> {
    let parsed = lines
        .iter()
        .map(|l| data::parse_line(l))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = data::summarise(&parsed);
    if rows.is_empty() {
        return Err("no results to report".to_owned());
    }
    let template = ctx.root.join("docs").join("BENCHMARKS.md");
    let page = std::fs::read_to_string(&template)
        .map_err(|e| format!("reading {}: {e}", template.display()))?;
    let bench = out.join("bench");
    std::fs::create_dir_all(&bench).map_err(|e| format!("creating {}: {e}", bench.display()))?;
    let plots = plots::render(&bench, meta, &rows)?;
    let page = markdown::splice(&page, &markdown::report(meta, &rows, &plots))
        .map_err(|e| format!("{}: {e}", template.display()))?;
    let mut written: Vec<PathBuf> = plots.iter().map(|p| bench.join(p.file)).collect();
    for (path, text) in [
        (bench.join(RAW), saved_text(meta, lines)),
        (out.join("BENCHMARKS.md"), page),
    ] {
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

fn probe(root: &Path, program: &str, args: &[&str]) -> Option<String> {
    Cmd::new(program)
        .args(args.iter().copied())
        .probe(root)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// `2 CPUs, AMD EPYC ..., Linux 6.18.44, load 0.12 0.30 0.25 at the
/// start`: `nproc`, the first model name of `/proc/cpuinfo`, `uname -sr`,
/// and `/proc/loadavg` (on a shared machine, whether others were busy).
fn machine(root: &Path) -> String {
    let cpus = probe(root, "nproc", &[]).unwrap_or_else(|| {
        std::thread::available_parallelism().map_or_else(|_| "?".to_owned(), |n| n.to_string())
    });
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| cpu_model(&text))
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = probe(root, "uname", &["-sr"]).unwrap_or_else(|| std::env::consts::OS.to_owned());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|l| !l.is_empty())
        .map_or_else(String::new, |l| format!(", load average {l} at the start"));
    format!("{cpus} CPUs, {model}, {kernel}{load}")
}

/// The first `model name` of `/proc/cpuinfo`'s text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.split_whitespace().collect::<Vec<_>>().join(" "))
    })
}

/// The short commit hash, `+ local changes` when tracked files differ from
/// it. Reads only: no index refresh.
fn commit(root: &Path) -> String {
    let Some(hash) = probe(root, "git", &["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_owned();
    };
    let status = [
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
    ];
    match Cmd::new("git").args(status).probe(root) {
        Some(s) if s.trim().is_empty() => hash,
        Some(_) => format!("{hash} + local changes"),
        None => hash,
    }
}

/// Now, as `2026-12-01 10:40 UTC`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_date(secs / 86_400);
    let minute = secs % 86_400 / 60;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        minute / 60,
        minute % 60
    )
}

/// The Gregorian date `days` days after 1970-01-01.
fn civil_date(mut days: u64) -> (u64, u64, u64) {
    let leap = |y: u64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut year = 1970;
    loop {
        let len = if leap(year) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        year += 1;
    }
    let february = if leap(year) { 29 } else { 28 };
    let months = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 1;
    for len in months {
        if days < len {
            break;
        }
        days -= len;
        month += 1;
    }
    (year, month, days + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn options_pass_the_harness_its_own() {
        let o = parse(&args(
            "--only a,b --out /tmp/x --iters=2000 --json --rounds 1",
        ))
        .expect("parses")
        .expect("not help");
        assert_eq!(o.out.as_deref(), Some(Path::new("/tmp/x")));
        assert_eq!(o.pass, args("--only a,b --iters 2000 --rounds 1"));
        assert_eq!(
            latency_args(&o.pass),
            args("--pin split --json --only a,b --iters 2000 --rounds 1 --progress")
        );
        assert_eq!(
            latency_args(&[]),
            args("--pin split --rounds 3 --json --progress")
        );
        assert!(parse(&args("--out")).is_err());
        assert!(parse(&args("--help")).expect("parses").is_none());
    }

    #[test]
    fn a_saved_report_reads_back() {
        let meta = Meta {
            command: "cargo run -- --json".to_owned(),
            date: "2026-12-01 10:00 UTC".to_owned(),
            duration: "5.0s".to_owned(),
            machine: "2 CPUs, \"quoted\" CPU, Linux 6.0".to_owned(),
            commit: "abc1234".to_owned(),
            toolchain: "rustc 1.95.0".to_owned(),
        };
        let lines: Vec<String> = data::tests::SAMPLE
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        let (back, read) = parse_saved(&saved_text(&meta, &lines)).expect("reads");
        assert_eq!(back, meta);
        assert_eq!(read, lines);
        let (bare, _) = parse_saved(&lines.join("\n")).expect("bare output reads");
        assert_eq!(bare.machine, "not recorded");
        assert!(parse_saved("{\"name\":1}").is_err());
    }

    #[test]
    fn machine_facts_are_read_as_printed() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC  7B13 64-Core Processor\n\nprocessor\t: 1\nmodel name\t: other\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("AMD EPYC 7B13 64-Core Processor")
        );
        assert_eq!(cpu_model("processor : 0\n"), None);
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(19_723), (2024, 1, 1));
        assert_eq!(civil_date(19_782), (2024, 2, 29));
        assert_eq!(civil_date(11_017), (2000, 3, 1));
        assert_eq!(civil_date(20_818), (2026, 12, 31));
    }
}
