//! What a benchmark measured, and the two ways of printing it: an aligned
//! table for people and one JSON object per line for scripts.

use std::fmt::Write as _;

/// The quantiles of [`LatencySummary::percentiles`]: the whole body of a
/// distribution up to p99.9, denser in the tail where the layers differ.
pub const PERCENTILES: [f64; 19] = [
    0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995,
    0.998, 0.999,
];

/// Percentiles of per-iteration round-trip times, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySummary {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Slowest iteration.
    pub max: u64,
    /// Number of measured iterations (warm-up excluded).
    pub iters: u64,
    /// The time at each quantile of [`PERCENTILES`], for distribution
    /// plots; `None` for a summary not made from samples.
    pub percentiles: Option<[u64; PERCENTILES.len()]>,
}

impl LatencySummary {
    /// Summarises `samples` (sorting them in place); `None` if empty.
    /// Percentiles use the nearest-rank method: p99 of 100 samples is the
    /// 99th smallest.
    pub fn from_samples(samples: &mut [u64]) -> Option<LatencySummary> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        Some(LatencySummary {
            p50: nearest_rank(samples, 0.50),
            p99: nearest_rank(samples, 0.99),
            p999: nearest_rank(samples, 0.999),
            max: samples[samples.len() - 1],
            iters: samples.len() as u64,
            percentiles: Some(PERCENTILES.map(|q| nearest_rank(samples, q))),
        })
    }
}

fn nearest_rank(sorted: &[u64], q: f64) -> u64 {
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted[rank - 1]
}

/// The result of one benchmark.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measurement {
    /// Round-trip times.
    Latency(LatencySummary),
    /// `bytes` moved in `seconds`.
    Throughput {
        /// Bytes transferred while the clock ran.
        bytes: u64,
        /// Wall-clock time, in seconds.
        seconds: f64,
    },
    /// `messages` delivered in `seconds`.
    Rate {
        /// Messages delivered while the clock ran.
        messages: u64,
        /// Wall-clock time, in seconds.
        seconds: f64,
    },
}

impl Measurement {
    /// Throughput in GB/s (10^9 bytes per second); `None` for a latency.
    pub fn gb_per_s(&self) -> Option<f64> {
        match *self {
            Measurement::Throughput { bytes, seconds } if seconds > 0.0 => {
                Some(bytes as f64 / seconds / 1e9)
            }
            _ => None,
        }
    }

    /// Messages per second; `None` unless this is a rate.
    pub fn msg_per_s(&self) -> Option<f64> {
        match *self {
            Measurement::Rate { messages, seconds } if seconds > 0.0 => {
                Some(messages as f64 / seconds)
            }
            _ => None,
        }
    }
}

impl Measurement {
    /// The figure rounds are ranked by: the median for a latency, the rate
    /// for a throughput or a message rate.
    pub fn primary(&self) -> Option<f64> {
        match self {
            Measurement::Latency(s) => Some(s.p50 as f64),
            Measurement::Throughput { .. } => self.gb_per_s(),
            Measurement::Rate { .. } => self.msg_per_s(),
        }
    }
}

/// The median of `values` (the mean of the two middle ones for an even
/// count); `None` if empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Which of several rounds of one benchmark to show: the one with the
/// median primary figure (the lower middle for an even count).
pub fn representative(rounds: &[&Outcome]) -> Option<usize> {
    let mut ranked: Vec<(usize, f64)> = rounds
        .iter()
        .enumerate()
        .map(|(i, o)| (i, o.measurement.primary().unwrap_or(f64::NAN)))
        .collect();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
    ranked
        .get(ranked.len().checked_sub(1)? / 2)
        .map(|&(i, _)| i)
}

/// How `of` compares with `baseline`: the ratio of the medians for
/// latencies (below 1 is faster than the baseline), the ratio of the rates
/// for throughputs (above 1 is faster). `None` when the kinds differ.
pub fn ratio(of: &Measurement, baseline: &Measurement) -> Option<f64> {
    match (of, baseline) {
        (Measurement::Latency(a), Measurement::Latency(b)) if b.p50 > 0 => {
            Some(a.p50 as f64 / b.p50 as f64)
        }
        (Measurement::Throughput { .. }, Measurement::Throughput { .. }) => {
            Some(of.gb_per_s()? / baseline.gb_per_s().filter(|&v| v > 0.0)?)
        }
        (Measurement::Rate { .. }, Measurement::Rate { .. }) => {
            Some(of.msg_per_s()? / baseline.msg_per_s().filter(|&v| v > 0.0)?)
        }
        _ => None,
    }
}

/// A named result, with a free-form note for people (in the JSON only from
/// [`json_line_in_context`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The benchmark's registered name.
    pub name: &'static str,
    /// What it measured.
    pub measurement: Measurement,
    /// Context for the human table (configuration, counters).
    pub note: String,
}

/// One JSON object, without a trailing newline:
/// `{"name":..,"unit":"ns","p50":..,"p99":..,"p999":..,"max":..,"iters":..,"percentiles":[[q,ns],..]}`
/// for a latency (`percentiles` when known: the time at each quantile of
/// [`PERCENTILES`]), `{"name":..,"unit":"GB/s","value":..}` for a
/// throughput, `{"name":..,"unit":"msg/s","value":..}` for a message rate.
pub fn json_line(outcome: &Outcome) -> String {
    json_line_of_round(outcome, None)
}

/// Like [`json_line`], with `"round":N` after the name when given (runs of
/// several rounds print every round).
pub fn json_line_of_round(outcome: &Outcome, round: Option<usize>) -> String {
    let mut line = measurement_json(outcome, round);
    line.push('}');
    line
}

/// Like [`json_line_of_round`], followed by what the human table shows
/// besides the figures: `"vs"`, the baseline's name (when there is one),
/// and `"note"`.
pub fn json_line_in_context(
    outcome: &Outcome,
    round: Option<usize>,
    baseline: Option<&str>,
) -> String {
    let mut line = measurement_json(outcome, round);
    if let Some(baseline) = baseline {
        let _ = write!(line, r#","vs":{}"#, json_string(baseline));
    }
    let _ = write!(line, r#","note":{}}}"#, json_string(&outcome.note));
    line
}

/// The object of [`json_line_of_round`] without its closing brace.
fn measurement_json(outcome: &Outcome, round: Option<usize>) -> String {
    let mut name = json_string(outcome.name);
    if let Some(round) = round {
        let _ = write!(name, r#","round":{round}"#);
    }
    match outcome.measurement {
        Measurement::Latency(s) => {
            let mut line = format!(
                r#"{{"name":{name},"unit":"ns","p50":{},"p99":{},"p999":{},"max":{},"iters":{}"#,
                s.p50, s.p99, s.p999, s.max, s.iters
            );
            if let Some(times) = s.percentiles {
                let pairs: Vec<String> = PERCENTILES
                    .iter()
                    .zip(times)
                    .map(|(q, ns)| format!("[{q},{ns}]"))
                    .collect();
                let _ = write!(line, r#","percentiles":[{}]"#, pairs.join(","));
            }
            line
        }
        Measurement::Throughput { .. } => {
            let value = match outcome.measurement.gb_per_s() {
                Some(v) if v.is_finite() => format!("{v:.3}"),
                _ => "null".to_owned(),
            };
            format!(r#"{{"name":{name},"unit":"GB/s","value":{value}"#)
        }
        Measurement::Rate { .. } => {
            let value = match outcome.measurement.msg_per_s() {
                Some(v) if v.is_finite() => format!("{v:.0}"),
                _ => "null".to_owned(),
            };
            format!(r#"{{"name":{name},"unit":"msg/s","value":{value}"#)
        }
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A row of the human table: a result and, when its baseline ran in the
/// same invocation, how it compares.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    /// The result (with several rounds, the median round's).
    pub outcome: &'a Outcome,
    /// The baseline's name and the ratios to it ([`ratio`]), one per round
    /// in which both ran: each compares figures measured minutes apart at
    /// most, never across rounds.
    pub versus: Option<(&'static str, Vec<f64>)>,
}

/// The aligned human-readable table: latencies first, then throughputs.
pub fn table(rows: &[Row<'_>]) -> String {
    let mut latency = vec![cells(&[
        "latency (round trip)",
        "p50 ns",
        "p99 ns",
        "p99.9 ns",
        "max ns",
        "iters",
        "ratio",
        "vs",
        "note",
    ])];
    let mut throughput = vec![cells(&["throughput", "GB/s", "ratio", "vs", "note"])];
    let mut rate = vec![cells(&["message rate", "msg/s", "ratio", "vs", "note"])];
    for row in rows {
        let (ratio, vs) = match &row.versus {
            Some((name, ratios)) => (ratio_cell(ratios), (*name).to_owned()),
            None => ("-".to_owned(), String::new()),
        };
        let m = &row.outcome.measurement;
        let dash = || "-".to_owned();
        // Each section's own figures sit between the name and the comparison.
        let (section, figures) = match *m {
            Measurement::Latency(s) => (
                &mut latency,
                vec![
                    s.p50.to_string(),
                    s.p99.to_string(),
                    s.p999.to_string(),
                    s.max.to_string(),
                    s.iters.to_string(),
                ],
            ),
            Measurement::Throughput { .. } => (
                &mut throughput,
                vec![m.gb_per_s().map_or_else(dash, |v| format!("{v:.2}"))],
            ),
            Measurement::Rate { .. } => (
                &mut rate,
                vec![m.msg_per_s().map_or_else(dash, |v| format!("{v:.0}"))],
            ),
        };
        let mut line = vec![row.outcome.name.to_owned()];
        line.extend(figures);
        line.extend([ratio, vs, row.outcome.note.clone()]);
        section.push(line);
    }
    let mut out = String::new();
    for section in [latency, throughput, rate] {
        if section.len() > 1 {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&align(&section));
        }
    }
    out
}

/// The median ratio, and over several rounds their range.
fn ratio_cell(ratios: &[f64]) -> String {
    let Some(mid) = median(ratios) else {
        return "-".to_owned();
    };
    if ratios.len() == 1 {
        return format!("{mid:.2}x");
    }
    let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{mid:.2}x ({lo:.2}-{hi:.2})")
}

fn cells(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_owned()).collect()
}

/// Pads every column but the last (free text) to its widest cell: the first
/// and the last two columns (name, baseline name, note) to the left, the
/// numbers to the right.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, text) in row.iter().enumerate() {
            let w = widths[c];
            if c > 0 {
                line.push_str("  ");
            }
            if c + 1 == columns {
                line.push_str(text);
            } else if c == 0 || c + 2 == columns {
                let _ = write!(line, "{text:<w$}");
            } else {
                let _ = write!(line, "{text:>w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut samples: Vec<u64> = (1..=1000).rev().collect();
        let s = LatencySummary::from_samples(&mut samples).expect("non-empty");
        assert_eq!(
            (s.p50, s.p99, s.p999, s.max, s.iters),
            (500, 990, 999, 1000, 1000)
        );
        let times = s.percentiles.expect("made from samples");
        let at = |q: f64| times[PERCENTILES.iter().position(|&p| p == q).expect("listed")];
        assert_eq!((at(0.0), at(0.5), at(0.9), at(0.999)), (1, 500, 900, 999));
        let mut one = [7];
        let s = LatencySummary::from_samples(&mut one).expect("non-empty");
        assert_eq!((s.p50, s.p999, s.max), (7, 7, 7));
        assert_eq!(s.percentiles, Some([7; PERCENTILES.len()]));
        assert!(LatencySummary::from_samples(&mut []).is_none());
    }

    #[test]
    fn json_lines_have_the_documented_shape() {
        let lat = Outcome {
            name: "x",
            measurement: Measurement::Latency(LatencySummary {
                p50: 1,
                p99: 2,
                p999: 3,
                max: 4,
                iters: 5,
                percentiles: None,
            }),
            note: "ignored".into(),
        };
        assert_eq!(
            json_line(&lat),
            r#"{"name":"x","unit":"ns","p50":1,"p99":2,"p999":3,"max":4,"iters":5}"#
        );
        let tp = Outcome {
            name: "y\"",
            measurement: Measurement::Throughput {
                bytes: 2_000_000_000,
                seconds: 0.5,
            },
            note: String::new(),
        };
        assert_eq!(
            json_line(&tp),
            r#"{"name":"y\"","unit":"GB/s","value":4.000}"#
        );
        assert_eq!(
            json_line_in_context(&lat, Some(3), Some("base")),
            r#"{"name":"x","round":3,"unit":"ns","p50":1,"p99":2,"p999":3,"max":4,"iters":5,"vs":"base","note":"ignored"}"#
        );
        assert_eq!(
            json_line_in_context(&tp, None, None),
            r#"{"name":"y\"","unit":"GB/s","value":4.000,"note":""}"#
        );
        let mut samples: Vec<u64> = (1..=1000).collect();
        let with_samples = Outcome {
            name: "z",
            measurement: Measurement::Latency(
                LatencySummary::from_samples(&mut samples).expect("non-empty"),
            ),
            note: String::new(),
        };
        let line = json_line(&with_samples);
        assert!(
            line.ends_with(r#","iters":1000,"percentiles":[[0,1],[0.01,10],[0.05,50],[0.1,100],[0.2,200],[0.3,300],[0.4,400],[0.5,500],[0.6,600],[0.7,700],[0.8,800],[0.9,900],[0.95,950],[0.97,970],[0.98,980],[0.99,990],[0.995,995],[0.998,998],[0.999,999]]}"#),
            "{line}"
        );
    }

    #[test]
    fn ratios_compare_medians_and_rates() {
        let l = |p50| {
            Measurement::Latency(LatencySummary {
                p50,
                p99: 0,
                p999: 0,
                max: 0,
                iters: 1,
                percentiles: None,
            })
        };
        let t = |bytes| Measurement::Throughput {
            bytes,
            seconds: 1.0,
        };
        assert_eq!(ratio(&l(150), &l(100)), Some(1.5));
        assert_eq!(ratio(&t(300), &t(100)), Some(3.0));
        assert_eq!(ratio(&t(300), &l(100)), None);
    }

    fn latency(name: &'static str, p50: u64) -> Outcome {
        Outcome {
            name,
            measurement: Measurement::Latency(LatencySummary {
                p50,
                p99: p50,
                p999: p50,
                max: p50,
                iters: 1,
                percentiles: None,
            }),
            note: String::new(),
        }
    }

    #[test]
    fn rounds_are_summarised_by_their_median() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        let rounds = [latency("a", 300), latency("a", 100), latency("a", 200)];
        let refs: Vec<&Outcome> = rounds.iter().collect();
        assert_eq!(representative(&refs), Some(2));
        assert_eq!(representative(&refs[..2]), Some(1));
        assert_eq!(representative(&[]), None);
        let lat = latency("x", 7);
        assert_eq!(
            json_line_of_round(&lat, Some(2)),
            r#"{"name":"x","round":2,"unit":"ns","p50":7,"p99":7,"p999":7,"max":7,"iters":1}"#
        );
    }

    #[test]
    fn the_table_shows_the_median_ratio_and_its_range() {
        let base = latency("base", 100);
        let cand = latency("cand", 250);
        let rows = [
            Row {
                outcome: &base,
                versus: None,
            },
            Row {
                outcome: &cand,
                versus: Some(("base", vec![2.5, 1.5, 3.0])),
            },
        ];
        let table = table(&rows);
        let line = table.lines().find(|l| l.starts_with("cand")).expect("row");
        assert!(line.contains("2.50x (1.50-3.00)"), "{line}");
        assert!(line.contains("base"), "{line}");
        let single = [Row {
            outcome: &cand,
            versus: Some(("base", vec![2.5])),
        }];
        assert!(table_has(&single, "2.50x"));
    }

    /// Whether the `cand` row shows `text` and no range.
    fn table_has(rows: &[Row<'_>], text: &str) -> bool {
        let table = table(rows);
        let line = table.lines().find(|l| l.starts_with("cand")).unwrap_or("");
        line.contains(text) && !line.contains('(')
    }
}
