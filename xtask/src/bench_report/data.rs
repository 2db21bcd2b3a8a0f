//! The JSON lines of `ipc-latency --json`, read back and summarised the way
//! its own table does: per benchmark the round with the median figure, and
//! the ratios to its baseline within each round (never across rounds).

use serde_json::{Map, Value};

/// What one line measured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Figure {
    /// Round-trip times, in nanoseconds.
    Latency(Latency),
    /// GB/s (10^9 bytes per second); NaN when the line said `null`.
    Throughput(f64),
    /// Messages per second; NaN when the line said `null`.
    Rate(f64),
}

/// A latency line's figures.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Latency {
    pub(crate) p50: u64,
    pub(crate) p99: u64,
    pub(crate) p999: u64,
    pub(crate) max: u64,
    pub(crate) iters: u64,
    /// `(quantile, ns)`, ascending; empty from an `ipc-latency` that did not
    /// print them.
    pub(crate) percentiles: Vec<(f64, u64)>,
}

impl Latency {
    /// The distribution to draw: the percentiles when the line had them,
    /// else the three it always has.
    pub(crate) fn curve(&self) -> Vec<(f64, u64)> {
        if self.percentiles.is_empty() {
            vec![(0.5, self.p50), (0.99, self.p99), (0.999, self.p999)]
        } else {
            self.percentiles.clone()
        }
    }
}

impl Figure {
    /// The figure rounds are ranked by and ratios compare: the median for
    /// a latency, the rate otherwise.
    pub(crate) fn primary(&self) -> f64 {
        match self {
            Figure::Latency(l) => l.p50 as f64,
            Figure::Throughput(v) | Figure::Rate(v) => *v,
        }
    }

    fn same_kind(&self, other: &Figure) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// One line of `ipc-latency --json`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub(crate) name: String,
    /// From 1; a line without `"round"` is of round 1.
    pub(crate) round: usize,
    pub(crate) figure: Figure,
    /// The baseline this result is compared with.
    pub(crate) vs: Option<String>,
    pub(crate) note: String,
}

/// Reads one line of `ipc-latency --json`.
pub(crate) fn parse_line(text: &str) -> Result<Line, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let obj = value.as_object().ok_or("not a JSON object")?;
    let name = string(obj, "name")?.ok_or("no \"name\"")?;
    let round = match obj.get("round") {
        None => 1,
        Some(r) => r
            .as_u64()
            .and_then(|r| usize::try_from(r).ok())
            .filter(|&r| r > 0)
            .ok_or("\"round\" is not a positive integer")?,
    };
    let figure = match string(obj, "unit")?.as_deref() {
        Some("ns") => {
            let int = |key: &str| {
                obj.get(key)
                    .and_then(Value::as_u64)
                    .ok_or_else(|| format!("no integer \"{key}\""))
            };
            Figure::Latency(Latency {
                p50: int("p50")?,
                p99: int("p99")?,
                p999: int("p999")?,
                max: int("max")?,
                iters: int("iters")?,
                percentiles: percentiles(obj.get("percentiles"))?,
            })
        }
        Some("GB/s") => Figure::Throughput(rate_value(obj)?),
        Some("msg/s") => Figure::Rate(rate_value(obj)?),
        Some(other) => return Err(format!("unknown unit {other:?}")),
        None => return Err("no \"unit\"".to_owned()),
    };
    Ok(Line {
        name,
        round,
        figure,
        vs: string(obj, "vs")?,
        note: string(obj, "note")?.unwrap_or_default(),
    })
}

/// The string at `key`, if there is one; an error if it is not a string.
fn string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("\"{key}\" is not a string")),
    }
}

/// `"value"` of a throughput or rate: a number, or `null` (NaN).
fn rate_value(obj: &Map<String, Value>) -> Result<f64, String> {
    match obj.get("value") {
        Some(Value::Null) => Ok(f64::NAN),
        Some(v) => v
            .as_f64()
            .ok_or_else(|| "\"value\" is not a number".to_owned()),
        None => Err("no \"value\"".to_owned()),
    }
}

/// `[[q, ns], ...]`, absent or ascending in `q`.
fn percentiles(value: Option<&Value>) -> Result<Vec<(f64, u64)>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let bad = || "\"percentiles\" is not a list of [quantile, ns] pairs".to_owned();
    let pairs = value.as_array().ok_or_else(bad)?;
    let mut out = Vec::with_capacity(pairs.len());
    for pair in pairs {
        match pair.as_array().map(Vec::as_slice) {
            Some([q, ns]) => {
                let q = q
                    .as_f64()
                    .filter(|q| (0.0..=1.0).contains(q))
                    .ok_or_else(bad)?;
                out.push((q, ns.as_u64().ok_or_else(bad)?));
            }
            _ => return Err(bad()),
        }
    }
    if out.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err("\"percentiles\" are not in ascending order".to_owned());
    }
    Ok(out)
}

/// One benchmark over every round it ran in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) vs: Option<String>,
    /// `(round, figure)`, in the order the rounds ran.
    pub(crate) rounds: Vec<(usize, Figure)>,
    /// Index into `rounds` of the round shown: the one with the median
    /// primary figure (the lower middle for an even count).
    pub(crate) shown: usize,
    /// The note of the round shown.
    pub(crate) note: String,
}

impl Row {
    /// The figure of the round shown.
    pub(crate) fn figure(&self) -> &Figure {
        &self.rounds[self.shown].1
    }

    /// The shown latency, if this is a latency.
    pub(crate) fn latency(&self) -> Option<&Latency> {
        match self.figure() {
            Figure::Latency(l) => Some(l),
            _ => None,
        }
    }

    /// The lowest and highest primary figure over the rounds.
    pub(crate) fn range(&self) -> (f64, f64) {
        let values = self.rounds.iter().map(|(_, f)| f.primary());
        let lo = values.clone().fold(f64::INFINITY, f64::min);
        let hi = values.fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }
}

/// The rows of `lines`, in the order they first ran (each baseline is
/// followed by what is compared with it).
pub(crate) fn summarise(lines: &[Line]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for line in lines {
        let row = match rows.iter_mut().position(|r| r.name == line.name) {
            Some(i) => &mut rows[i],
            None => {
                rows.push(Row {
                    name: line.name.clone(),
                    vs: line.vs.clone(),
                    rounds: Vec::new(),
                    shown: 0,
                    note: String::new(),
                });
                rows.last_mut().expect("just pushed")
            }
        };
        row.rounds.push((line.round, line.figure.clone()));
    }
    for row in &mut rows {
        let mut ranked: Vec<(usize, f64)> = row
            .rounds
            .iter()
            .enumerate()
            .map(|(i, (_, f))| (i, f.primary()))
            .collect();
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
        row.shown = ranked[(ranked.len() - 1) / 2].0;
        let round = row.rounds[row.shown].0;
        row.note = lines
            .iter()
            .find(|l| l.name == row.name && l.round == round)
            .map(|l| l.note.clone())
            .unwrap_or_default();
    }
    rows
}

/// `row`'s figure over `other`'s, in every round in which both ran: the
/// ratio of the medians for latencies, of the rates otherwise.
pub(crate) fn same_round_ratios(row: &Row, other: &Row) -> Vec<f64> {
    row.rounds
        .iter()
        .filter_map(|(round, figure)| {
            let (_, base) = other.rounds.iter().find(|(r, _)| r == round)?;
            let b = base.primary();
            (figure.same_kind(base) && b > 0.0 && b.is_finite() && figure.primary().is_finite())
                .then(|| figure.primary() / b)
        })
        .collect()
}

/// The row called `name`.
pub(crate) fn find<'a>(rows: &'a [Row], name: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.name == name)
}

/// [`same_round_ratios`] of `row` to its baseline, if that ran.
pub(crate) fn ratios(rows: &[Row], row: &Row) -> Vec<f64> {
    row.vs
        .as_deref()
        .and_then(|vs| find(rows, vs))
        .map(|base| same_round_ratios(row, base))
        .unwrap_or_default()
}

/// The median of `values` (the mean of the middle two for an even count).
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The two families of plugin-count rows: `link_scale_N` (blocking) and
/// `link_scale_spin_N` (spinning), whose p50 is already per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScaleFamily {
    Blocking,
    Spinning,
}

impl ScaleFamily {
    pub(crate) const ALL: [ScaleFamily; 2] = [ScaleFamily::Blocking, ScaleFamily::Spinning];

    /// How the rows of this family are named, without the count.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            ScaleFamily::Blocking => "link_scale_",
            ScaleFamily::Spinning => "link_scale_spin_",
        }
    }

    /// The single-plugin call these rows are drawn against.
    pub(crate) fn reference(self) -> &'static str {
        match self {
            ScaleFamily::Blocking => "rt_call",
            ScaleFamily::Spinning => "rt_call_spin",
        }
    }
}

/// The family and plugin count of a row named `link_scale_N` or
/// `link_scale_spin_N`.
pub(crate) fn scale_point(name: &str) -> Option<(ScaleFamily, u64)> {
    ScaleFamily::ALL.into_iter().find_map(|family| {
        let count = name.strip_prefix(family.prefix())?;
        let digits = !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit());
        Some((family, count.parse().ok().filter(|_| digits)?))
    })
}

/// The rows of `family` with their plugin counts, ascending.
pub(crate) fn scale_rows(rows: &[Row], family: ScaleFamily) -> Vec<(u64, &Row)> {
    let mut out: Vec<(u64, &Row)> = rows
        .iter()
        .filter_map(|r| match scale_point(&r.name) {
            Some((f, n)) if f == family => Some((n, r)),
            _ => None,
        })
        .collect();
    out.sort_by_key(|&(n, _)| n);
    out
}

/// The first row of the chain of baselines that `row` is compared with
/// (itself when it has none, or its baseline did not run).
pub(crate) fn root<'a>(rows: &'a [Row], row: &'a Row) -> &'a Row {
    let mut at = row;
    // A cycle of baselines cannot come from the registry; the bound only
    // keeps a hand-edited file from looping.
    for _ in 0..rows.len() {
        match at.vs.as_deref().and_then(|vs| find(rows, vs)) {
            Some(base) => at = base,
            None => break,
        }
    }
    at
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two rounds of a small registry, as `ipc-latency --json --rounds 2`
    /// prints them (percentiles shortened), with plugin-count rows.
    pub(crate) const SAMPLE: &str = r#"
{"name":"baseline_futex_pingpong","round":1,"unit":"ns","p50":15000,"p99":40000,"p999":90000,"max":900000,"iters":20000,"percentiles":[[0,9000],[0.5,15000],[0.9,21000],[0.99,40000],[0.999,90000]],"note":"FUTEX_WAIT/FUTEX_WAKE"}
{"name":"channel_pingpong","round":1,"unit":"ns","p50":16500,"p99":45000,"p999":95000,"max":1000000,"iters":20000,"percentiles":[[0,9500],[0.5,16500],[0.9,22000],[0.99,45000],[0.999,95000]],"vs":"baseline_futex_pingpong","note":"ring 4096 B | blocking"}
{"name":"rt_call","round":1,"unit":"ns","p50":15300,"p99":41000,"p999":91000,"max":950000,"iters":20000,"vs":"baseline_futex_pingpong","note":"RtCaller::call"}
{"name":"link_scale_1","round":1,"unit":"ns","p50":15500,"p99":41000,"p999":91000,"max":950000,"iters":2000,"vs":"rt_call","note":"1 plugin"}
{"name":"link_scale_8","round":1,"unit":"ns","p50":9000,"p99":20000,"p999":30000,"max":90000,"iters":2000,"vs":"rt_call","note":"8 plugins"}
{"name":"link_scale_spin_8","round":1,"unit":"ns","p50":500,"p99":900,"p999":1500,"max":9000,"iters":2000,"note":"8 plugins, spinning"}
{"name":"baseline_uds_stream","round":1,"unit":"GB/s","value":5.000,"note":"1024 KiB writes"}
{"name":"channel_stream","round":1,"unit":"GB/s","value":25.000,"vs":"baseline_uds_stream","note":"ring 2048 KiB"}
{"name":"baseline_uds_msgs","round":1,"unit":"msg/s","value":500000,"note":"25-byte messages"}
{"name":"main_link_stream","round":1,"unit":"msg/s","value":null,"vs":"baseline_uds_msgs","note":"Tick(u64)"}
{"name":"baseline_futex_pingpong","round":2,"unit":"ns","p50":14000,"p99":39000,"p999":80000,"max":800000,"iters":20000,"percentiles":[[0,8000],[0.5,14000],[0.9,20000],[0.99,39000],[0.999,80000]],"note":"FUTEX_WAIT/FUTEX_WAKE"}
{"name":"channel_pingpong","round":2,"unit":"ns","p50":15400,"p99":44000,"p999":94000,"max":990000,"iters":20000,"percentiles":[[0,9400],[0.5,15400],[0.9,21000],[0.99,44000],[0.999,94000]],"vs":"baseline_futex_pingpong","note":"ring 4096 B | blocking, round 2"}
{"name":"rt_call","round":2,"unit":"ns","p50":14800,"p99":40000,"p999":90000,"max":940000,"iters":20000,"vs":"baseline_futex_pingpong","note":"RtCaller::call"}
{"name":"link_scale_1","round":2,"unit":"ns","p50":15100,"p99":41000,"p999":91000,"max":950000,"iters":2000,"vs":"rt_call","note":"1 plugin"}
{"name":"link_scale_8","round":2,"unit":"ns","p50":8000,"p99":20000,"p999":30000,"max":90000,"iters":2000,"vs":"rt_call","note":"8 plugins"}
{"name":"link_scale_spin_8","round":2,"unit":"ns","p50":520,"p99":900,"p999":1500,"max":9000,"iters":2000,"note":"8 plugins, spinning"}
{"name":"baseline_uds_stream","round":2,"unit":"GB/s","value":4.000,"note":"1024 KiB writes"}
{"name":"channel_stream","round":2,"unit":"GB/s","value":30.000,"vs":"baseline_uds_stream","note":"ring 2048 KiB"}
{"name":"baseline_uds_msgs","round":2,"unit":"msg/s","value":600000,"note":"25-byte messages"}
{"name":"main_link_stream","round":2,"unit":"msg/s","value":6000000,"vs":"baseline_uds_msgs","note":"Tick(u64)"}
"#;

    pub(crate) fn sample_rows() -> Vec<Row> {
        let lines: Vec<Line> = SAMPLE
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| parse_line(l).expect("sample line"))
            .collect();
        summarise(&lines)
    }

    #[test]
    fn reads_every_kind_of_line() {
        let l = parse_line(SAMPLE.lines().nth(2).expect("line")).expect("parses");
        assert_eq!(l.name, "channel_pingpong");
        assert_eq!(l.round, 1);
        assert_eq!(l.vs.as_deref(), Some("baseline_futex_pingpong"));
        let Figure::Latency(lat) = &l.figure else {
            panic!("not a latency: {l:?}");
        };
        assert_eq!(
            (lat.p50, lat.p99, lat.p999, lat.max),
            (16500, 45000, 95000, 1_000_000)
        );
        assert_eq!(lat.percentiles[1], (0.5, 16500));
        let old =
            parse_line(r#"{"name":"x","unit":"ns","p50":1,"p99":2,"p999":3,"max":4,"iters":5}"#)
                .expect("the fields of older versions are enough");
        assert_eq!(old.round, 1);
        let Figure::Latency(lat) = &old.figure else {
            panic!("not a latency");
        };
        assert_eq!(lat.curve(), [(0.5, 1), (0.99, 2), (0.999, 3)]);
        let null = parse_line(r#"{"name":"y","unit":"GB/s","value":null}"#).expect("null");
        assert!(null.figure.primary().is_nan());
        assert!(parse_line(r#"{"name":"y","unit":"furlongs","value":1}"#).is_err());
        assert!(parse_line(r#"{"name":"y","unit":"ns","p50":1}"#).is_err());
        assert!(parse_line(r#"{"unit":"GB/s","value":1}"#).is_err());
        assert!(parse_line("round 1/3: x ...").is_err());
        let descending = r#"{"name":"x","unit":"ns","p50":1,"p99":2,"p999":3,"max":4,"iters":5,"percentiles":[[0.5,1],[0.1,1]]}"#;
        assert!(parse_line(descending).is_err());
    }

    #[test]
    fn rows_show_the_median_round_and_same_round_ratios() {
        let rows = sample_rows();
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names[..3],
            ["baseline_futex_pingpong", "channel_pingpong", "rt_call"]
        );
        let channel = find(&rows, "channel_pingpong").expect("row");
        // Two rounds: the lower middle, round 2 (15400 ns).
        assert_eq!(channel.latency().map(|l| l.p50), Some(15400));
        assert_eq!(channel.note, "ring 4096 B | blocking, round 2");
        let r = ratios(&rows, channel);
        assert_eq!(r.len(), 2);
        assert!(
            (r[0] - 1.1).abs() < 1e-9 && (r[1] - 1.1).abs() < 1e-9,
            "{r:?}"
        );
        let stream = find(&rows, "channel_stream").expect("row");
        assert_eq!(ratios(&rows, stream), [5.0, 7.5]);
        // A null rate has no ratio, and a missing baseline none either.
        let link = find(&rows, "main_link_stream").expect("row");
        assert_eq!(ratios(&rows, link), [10.0]);
        let spin = find(&rows, "link_scale_spin_8").expect("row");
        assert!(ratios(&rows, spin).is_empty());
        assert_eq!(
            root(&rows, find(&rows, "link_scale_8").expect("row")).name,
            "baseline_futex_pingpong"
        );
    }

    #[test]
    fn plugin_count_rows_are_recognised() {
        assert_eq!(
            scale_point("link_scale_8"),
            Some((ScaleFamily::Blocking, 8))
        );
        assert_eq!(
            scale_point("link_scale_spin_64"),
            Some((ScaleFamily::Spinning, 64))
        );
        assert_eq!(scale_point("link_scale_"), None);
        assert_eq!(scale_point("link_scale_spin"), None);
        assert_eq!(scale_point("link_scale_+8"), None);
        assert_eq!(scale_point("rt_call"), None);
        let rows = sample_rows();
        let blocking: Vec<u64> = scale_rows(&rows, ScaleFamily::Blocking)
            .iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(blocking, [1, 8]);
        assert_eq!(scale_rows(&rows, ScaleFamily::Spinning).len(), 1);
    }
}
