//! `cargo xtask footprint`: how many cache lines one real-time call
//! touches, on each side, with the link and with the raw futex pattern of
//! the `baseline_round_robin_N` rows. Counted, not timed: valgrind's lackey
//! tool records every memory access of a process, and the calls are cut
//! apart at a function entered once per call. The figures of a build move
//! by a line or so between runs (whether a call found its answer before
//! it slept depends on timing), so a change to the path a call takes can
//! be judged by them where the timings of a noisy machine cannot
//! (docs/BENCHMARKS.md, "Many plugins").
//!
//! Linux on x86_64 only: it relies on valgrind loading a position-
//! independent executable at [`PIE_BASE`], and reads symbols and sections
//! with binutils' `nm` and `readelf`.

use crate::cmd::{on_path, Cmd};
use crate::Ctx;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask footprint

Builds ipc-latency in release mode and runs four short benchmarks under
valgrind --tool=lackey (about a minute): the plugin's serving thread of
link_scale_1, the raw peer of baseline_round_robin_1, the host's audio
thread of link_scale_8 and of baseline_round_robin_64. Prints, per call
(median of 64 calls from the middle of each run), the distinct 64-byte
lines of data and of code touched, how many of the data lines that call
touches and not all 64 calls do (for a host: one plugin's own lines), and
where the data lines lie. Needs valgrind, nm and readelf.";

/// Where valgrind's loader maps a position-independent main executable on
/// amd64 (the address `nm` gives a symbol is added to it).
const PIE_BASE: u64 = 0x10_8000;

/// Calls of the middle of a run that the figures are the median of.
const WINDOW: usize = 64;

/// One measured process: which benchmark, which process of it, and the
/// function whose entry separates two calls.
struct Case {
    label: &'static str,
    bench: &'static str,
    /// The peer process (started through the harness's wrapper), or the
    /// measuring process itself.
    peer: bool,
    /// A function entered once per call, as `nm -C` names it: the
    /// candidate entered most often is the one.
    marker: fn(&str) -> bool,
}

const CASES: [Case; 4] = [
    Case {
        label: "link plugin (link_scale_1, serving thread)",
        bench: "link_scale_1",
        peer: true,
        marker: |name| name == "ipc_link::rt::RtServer::serve_one_raw_deadline::{{closure}}",
    },
    Case {
        label: "raw peer (baseline_round_robin_1)",
        bench: "baseline_round_robin_1",
        peer: true,
        marker: |name| name == "ipc_benches::sys::imp::futex_wake",
    },
    Case {
        label: "link host (link_scale_8, audio thread)",
        bench: "link_scale_8",
        peer: false,
        marker: |name| name == "ipc_link::rt::RtCaller::call_by",
    },
    Case {
        label: "raw host (baseline_round_robin_64)",
        bench: "baseline_round_robin_64",
        peer: false,
        marker: |name| name == "ipc_benches::sys::imp::futex_wake",
    },
];

pub(crate) fn main(ctx: &Ctx, args: &[String]) -> ExitCode {
    if !args.is_empty() {
        println!("{USAGE}");
        return if args.iter().any(|a| a == "--help" || a == "-h") {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
    }
    match run(ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask footprint: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(ctx: &Ctx) -> Result<(), String> {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return Err("Linux on x86_64 only".to_owned());
    }
    for tool in ["valgrind", "nm", "readelf"] {
        if !on_path(tool) {
            return Err(format!(
                "`{tool}` is not installed (apt-get install valgrind binutils)"
            ));
        }
    }
    let build = Cmd::cargo().args([
        "build",
        "--release",
        "-p",
        "ipc-benches",
        "--bin",
        "ipc-latency",
    ]);
    if !build.run(&ctx.root).success {
        return Err("building ipc-latency failed".to_owned());
    }
    let exe = ctx.target.join("release").join("ipc-latency");
    let image = Image::read(&exe)?;
    let dir = ctx.target.join("footprint");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut rows = Vec::new();
    for case in &CASES {
        let trace = trace(&exe, &dir, case)?;
        let markers = image.entries(case.marker);
        if markers.is_empty() {
            return Err(format!("no function for the marker of {}", case.bench));
        }
        let file =
            std::fs::File::open(&trace).map_err(|e| format!("reading {}: {e}", trace.display()))?;
        let calls = cut(BufReader::new(file), &markers)
            .map_err(|e| format!("reading {}: {e}", trace.display()))?;
        let fp = Footprint::of(&calls, &image).ok_or_else(|| {
            format!(
                "{}: {} calls found in {}, fewer than {WINDOW} (was the executable loaded at {PIE_BASE:#x}?)",
                case.label,
                calls.len(),
                trace.display()
            )
        })?;
        rows.push((case.label, fp));
    }
    println!("\n{}", table(&rows));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Runs `case`'s benchmark with the process to measure under lackey and
/// returns its trace.
fn trace(exe: &Path, dir: &Path, case: &Case) -> Result<PathBuf, String> {
    let prefix = dir.join(case.bench);
    let lackey = [
        "valgrind".to_owned(),
        "--tool=lackey".to_owned(),
        "--trace-mem=yes".to_owned(),
        format!("--log-file={}.%p", prefix.display()),
    ];
    let bench = ["--only", case.bench, "--iters", "1000"];
    let cmd = if case.peer {
        Cmd::new(exe.to_string_lossy())
            .args(bench)
            .env("IPC_LATENCY_PEER_WRAPPER", lackey.join(" "))
    } else {
        Cmd::new(&lackey[0])
            .args(lackey[1..].iter().cloned())
            .arg(exe.to_string_lossy())
            .args(bench)
    };
    if !cmd.run(dir).success {
        return Err(format!("{} under valgrind failed", case.bench));
    }
    // One trace per traced process; the largest is the one that ran the
    // calls (a peer of `baseline_round_robin_1` is a single process).
    let name = prefix
        .file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned();
    let mut traces: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| format!("listing {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}."))
        })
        .filter_map(|e| Some((e.metadata().ok()?.len(), e.path())))
        .collect();
    traces.sort();
    traces
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| format!("valgrind wrote no trace for {}", case.bench))
}

/// The symbols and sections of the executable, at their run-time
/// addresses under valgrind.
struct Image {
    /// Function entries by demangled name (without the hash).
    functions: Vec<(u64, String)>,
    /// Sections with a run-time address: name, start, size.
    sections: Vec<(String, u64, u64)>,
}

impl Image {
    fn read(exe: &Path) -> Result<Image, String> {
        let exe = exe.to_string_lossy();
        let nm = Cmd::new("nm")
            .args(["-C", "--defined-only", exe.as_ref()])
            .probe(Path::new("."))
            .ok_or("nm failed")?;
        let readelf = Cmd::new("readelf")
            .args(["-SW", exe.as_ref()])
            .probe(Path::new("."))
            .ok_or("readelf failed")?;
        Ok(Image {
            functions: parse_nm(&nm),
            sections: parse_sections(&readelf),
        })
    }

    /// The run-time entry addresses of the functions `pick` names.
    fn entries(&self, pick: fn(&str) -> bool) -> HashSet<u64> {
        self.functions
            .iter()
            .filter(|(_, name)| pick(name))
            .map(|(addr, _)| addr + PIE_BASE)
            .collect()
    }

    /// The section of the executable an address lies in, if any.
    fn section(&self, addr: u64) -> Option<&str> {
        self.sections
            .iter()
            .find(|(_, start, size)| (start + PIE_BASE..start + PIE_BASE + size).contains(&addr))
            .map(|(name, _, _)| name.as_str())
    }
}

/// `nm -C` lines of code symbols: address and name, the hash suffix
/// (`::h0123456789abcdef`) dropped.
fn parse_nm(text: &str) -> Vec<(u64, String)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ' ');
            let addr = u64::from_str_radix(parts.next()?, 16).ok()?;
            let kind = parts.next()?;
            if !matches!(kind, "t" | "T" | "w" | "W") {
                return None;
            }
            let name = parts.next()?;
            let name = match name.rsplit_once("::h") {
                Some((head, hash))
                    if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    head
                }
                _ => name,
            };
            Some((addr, name.to_owned()))
        })
        .collect()
}

/// `readelf -SW` section lines: name, address and size of each section
/// that is loaded (address not zero).
fn parse_sections(text: &str) -> Vec<(String, u64, u64)> {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix('[')?;
            let (_, rest) = rest.split_once(']')?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // Name, type, address, offset, size, ...
            let (name, addr, size) = (fields.first()?, fields.get(2)?, fields.get(4)?);
            let addr = u64::from_str_radix(addr, 16).ok()?;
            let size = u64::from_str_radix(size, 16).ok()?;
            (addr != 0).then(|| ((*name).to_owned(), addr, size))
        })
        .collect()
}

/// What one call touched: 64-byte lines of data and of code.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Call {
    data: HashSet<u64>,
    code: HashSet<u64>,
}

/// Cuts a lackey trace into calls at each entry of a marker: the accesses
/// from one entry to the next are one call (the part before the first
/// entry and after the last is dropped). Lines are `I  ADDR,SIZE` for an
/// instruction and ` L|S|M ADDR,SIZE` for a load, store or modify.
fn cut(trace: impl BufRead, markers: &HashSet<u64>) -> std::io::Result<Vec<Call>> {
    let mut calls = Vec::new();
    let mut current: Option<Call> = None;
    for line in trace.lines() {
        let line = line?;
        let (kind, rest) = match line.as_bytes() {
            [b'I', b' ', b' ', ..] => ('I', &line[3..]),
            [b' ', k @ (b'L' | b'S' | b'M'), b' ', ..] => (char::from(*k), &line[3..]),
            _ => continue,
        };
        let Some((addr, size)) = rest.split_once(',') else {
            continue;
        };
        let (Ok(addr), Ok(size)) = (
            u64::from_str_radix(addr.trim(), 16),
            size.trim().parse::<u64>(),
        ) else {
            continue;
        };
        if kind == 'I' && markers.contains(&addr) {
            if let Some(done) = current.replace(Call::default()) {
                calls.push(done);
            }
        }
        let Some(call) = current.as_mut() else {
            continue;
        };
        let lines = (addr >> 6)..=((addr + size.max(1) - 1) >> 6);
        if kind == 'I' {
            call.code.extend(lines);
        } else {
            call.data.extend(lines);
        }
    }
    Ok(calls)
}

/// The figures of one process: medians over [`WINDOW`] calls from the
/// middle of its run.
#[derive(Debug, PartialEq, Eq)]
struct Footprint {
    data: usize,
    /// Data lines of a call that not every call of the window touches.
    own: usize,
    code: usize,
    /// Data lines by where they lie: a section of the executable, or
    /// `other` (stacks, heap, shared memory, libraries).
    by_place: BTreeMap<String, usize>,
}

impl Footprint {
    fn of(calls: &[Call], image: &Image) -> Option<Footprint> {
        if calls.len() < WINDOW {
            return None;
        }
        let start = (calls.len() - WINDOW) / 2;
        let window = &calls[start..start + WINDOW];
        let mut common = window[0].data.clone();
        for call in &window[1..] {
            common.retain(|l| call.data.contains(l));
        }
        let median = |mut v: Vec<usize>| {
            v.sort_unstable();
            v[v.len() / 2]
        };
        let data = median(window.iter().map(|c| c.data.len()).collect());
        let own = median(
            window
                .iter()
                .map(|c| c.data.difference(&common).count())
                .collect(),
        );
        let code = median(window.iter().map(|c| c.code.len()).collect());
        // Places from the call whose data count is the median one.
        let typical = window
            .iter()
            .find(|c| c.data.len() == data)
            .expect("the median is one of them");
        let mut by_place: BTreeMap<String, usize> = BTreeMap::new();
        for line in &typical.data {
            let place = image.section(line << 6).unwrap_or("other");
            *by_place.entry(place.to_owned()).or_default() += 1;
        }
        Some(Footprint {
            data,
            own,
            code,
            by_place,
        })
    }
}

fn table(rows: &[(&str, Footprint)]) -> String {
    let mut out = format!(
        "cache lines per call (64 bytes; median of {WINDOW} calls, valgrind lackey)\n{:<44} {:>5} {:>5} {:>5}  data lines by place\n",
        "", "data", "own", "code"
    );
    for (label, f) in rows {
        let places: Vec<String> = f.by_place.iter().map(|(p, n)| format!("{p} {n}")).collect();
        out += &format!(
            "{label:<44} {:>5} {:>5} {:>5}  {}\n",
            f.data,
            f.own,
            f.code,
            places.join(", ")
        );
    }
    out += "own: data lines of a call that not every call touches (a host's: one plugin's)\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Image {
        Image {
            functions: vec![(0x1000, "a::marker".to_owned())],
            sections: vec![(".rodata".to_owned(), 0x100, 0x100)],
        }
    }

    #[test]
    fn nm_names_lose_their_hash_and_only_code_counts() {
        let nm = "\
0000000000001000 t a::b::c::h0123456789abcdef
0000000000002000 T main
0000000000003000 d some_data
0000000000004000 t weird::hname
";
        assert_eq!(
            parse_nm(nm),
            vec![
                (0x1000, "a::b::c".to_owned()),
                (0x2000, "main".to_owned()),
                (0x4000, "weird::hname".to_owned()),
            ]
        );
    }

    #[test]
    fn loaded_sections_are_read_from_readelf() {
        let text = "\
  [Nr] Name              Type            Address          Off    Size   ES Flg Lk Inf Al
  [ 0]                   NULL            0000000000000000 000000 000000 00      0   0  0
  [11] .rodata           PROGBITS        000000000000e630 00e630 015594 00 AMS  0   0 16
  [16] .text             PROGBITS        000000000005fa90 05ea90 167ffe 00  AX  0   0 16
  [30] .comment          PROGBITS        0000000000000000 1d1000 0000b1 01  MS  0   0  1
";
        assert_eq!(
            parse_sections(text),
            vec![
                (".rodata".to_owned(), 0xe630, 0x15594),
                (".text".to_owned(), 0x5fa90, 0x167ffe),
            ]
        );
    }

    /// A trace of three calls: the first marker entry starts the first.
    fn trace(calls: &[&[&str]]) -> String {
        let mut t = "==1== Lackey\nI  00000500,3\n S 00009000,8\n".to_owned();
        for call in calls {
            t += &format!("I  {:08x},5\n", 0x1000 + PIE_BASE);
            for access in *call {
                t += access;
                t += "\n";
            }
        }
        t
    }

    #[test]
    fn calls_are_cut_at_the_marker_and_lines_counted_once() {
        let markers: HashSet<u64> = [0x1000 + PIE_BASE].into();
        let text = trace(&[
            &[
                " L 00020000,8",
                " S 00020008,8",
                " M 0002003c,8",
                "I  00001010,4",
            ],
            &[" L 00020000,8"],
        ]);
        let calls = cut(text.as_bytes(), &markers).unwrap();
        // The last call has no marker after it: dropped. Before the first
        // marker nothing counts.
        assert_eq!(calls.len(), 1);
        // 0x20000 and 0x20008 share a line; 0x2003c..0x20043 spans two.
        let lines: HashSet<u64> = [0x20000 >> 6, 0x20040 >> 6].into();
        assert_eq!(calls[0].data, lines);
        let code: HashSet<u64> = [(0x1000 + PIE_BASE) >> 6, 0x1010 >> 6].into();
        assert_eq!(calls[0].code, code);
    }

    #[test]
    fn the_footprint_is_the_median_and_own_lines_are_those_not_every_call_has() {
        let mut calls = Vec::new();
        for i in 0..WINDOW as u64 + 10 {
            let mut data: HashSet<u64> = [1, 2, 3].into();
            // One line that changes each call, and a line of .rodata.
            data.insert(1000 + i);
            data.insert((0x180 + PIE_BASE) >> 6);
            calls.push(Call {
                data,
                code: [7].into(),
            });
        }
        let f = Footprint::of(&calls, &image()).expect("enough calls");
        assert_eq!(f.data, 5);
        assert_eq!(f.own, 1);
        assert_eq!(f.code, 1);
        assert_eq!(f.by_place.get(".rodata"), Some(&1));
        assert_eq!(f.by_place.get("other"), Some(&4));
        assert!(Footprint::of(&calls[..WINDOW - 1], &image()).is_none());
    }

    #[test]
    fn the_marker_is_found_at_its_run_time_address() {
        let entries = image().entries(|n| n == "a::marker");
        assert_eq!(entries, [0x1000 + PIE_BASE].into());
        assert_eq!(image().section(0x150 + PIE_BASE), Some(".rodata"));
        assert_eq!(image().section(0x150), None);
    }
}
