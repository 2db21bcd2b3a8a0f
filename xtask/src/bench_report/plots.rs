//! The SVG plots of a report: latency distributions against their
//! baselines, throughput and message-rate bars, and the per-call cost by
//! plugin count. SVG only: text goes out as `<text>` elements sized by
//! plotters' built-in estimate, so no font is loaded and no system library
//! is linked.

use super::data::{self, Figure, Row, ScaleFamily};
use super::markdown::PlotLink;
use super::Meta;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::error::Error;
use std::path::Path;

type Res<T> = Result<T, Box<dyn Error>>;
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Latency distributions, one panel per chain of baselines.
pub(crate) const LATENCY: &str = "latency.svg";
/// Throughput and message-rate bars.
pub(crate) const RATES: &str = "throughput.svg";
/// Per-call cost by plugin count (only when those rows ran).
pub(crate) const SCALE: &str = "scale.svg";

const FONT: &str = "sans-serif";
/// Width of one bar's slot, in pixels.
const SLOT: u32 = 200;
/// The percentiles the latency axis is labelled at.
const X_TICKS: [f64; 7] = [0.0, 0.5, 0.9, 0.95, 0.99, 0.995, 0.999];
/// What baselines are drawn in; results take the palette in turn.
const BASELINE: RGBColor = RGBColor(0x30, 0x30, 0x30);
const PALETTE: [RGBColor; 6] = [
    RGBColor(0x1f, 0x5f, 0xb4),
    RGBColor(0xd9, 0x5f, 0x0e),
    RGBColor(0x2a, 0x9d, 0x4a),
    RGBColor(0xb8, 0x25, 0x5f),
    RGBColor(0x6a, 0x4c, 0xa8),
    RGBColor(0x8c, 0x6d, 0x31),
];

/// Writes every plot the rows have data for into `dir`, removes a plot
/// left from an earlier report that has none now, and returns what it wrote.
pub(crate) fn render(dir: &Path, meta: &Meta, rows: &[Row]) -> Result<Vec<PlotLink>, String> {
    type Draw = fn(&Path, &Meta, &[Row]) -> Res<Option<String>>;
    let plots: [(&'static str, Draw); 3] = [
        (LATENCY, latency_plot),
        (RATES, rates_plot),
        (SCALE, scale_plot),
    ];
    let mut written = Vec::new();
    for (file, draw) in plots {
        let path = dir.join(file);
        match draw(&path, meta, rows) {
            Ok(Some(title)) => written.push(PlotLink { file, title }),
            Ok(None) => {
                if path.exists() {
                    std::fs::remove_file(&path)
                        .map_err(|e| format!("removing the stale {}: {e}", path.display()))?;
                }
            }
            Err(e) => return Err(format!("drawing {}: {e}", path.display())),
        }
    }
    Ok(written)
}

/// The rows a plot of results and baselines shows: not the plugin-count
/// rows, which have their own plot (their figures are per call, not per
/// round trip).
fn plain_rows(rows: &[Row]) -> impl Iterator<Item = &Row> {
    rows.iter().filter(|r| data::scale_point(&r.name).is_none())
}

/// `rows` grouped by the first row of their chain of baselines, in the
/// order the groups first ran.
fn groups<'a>(all: &'a [Row], rows: impl Iterator<Item = &'a Row>) -> Vec<(&'a str, Vec<&'a Row>)> {
    let mut groups: Vec<(&str, Vec<&Row>)> = Vec::new();
    for row in rows {
        let root = data::root(all, row).name.as_str();
        match groups.iter_mut().find(|(r, _)| *r == root) {
            Some((_, members)) => members.push(row),
            None => groups.push((root, vec![row])),
        }
    }
    groups
}

/// The lines under a plot's title: the machine, the date and commit, the
/// command; wrapped to fit `width` pixels.
fn header_lines(meta: &Meta, rows: &[Row], width: u32) -> Vec<String> {
    let rounds = rows.iter().map(|r| r.rounds.len()).max().unwrap_or(0);
    // What plotters' size estimate gives a 14-point sans-serif character,
    // with some room: SVG viewers pick their own font.
    let fits = usize::try_from(width.saturating_sub(32) / 7)
        .unwrap_or(80)
        .max(20);
    [
        format!("machine: {}", meta.machine),
        format!(
            "{}, commit {}, {}; {rounds} round(s), the median round shown",
            meta.date, meta.commit, meta.toolchain
        ),
        format!("command: {}", meta.command),
    ]
    .iter()
    .flat_map(|line| wrap(line, fits))
    .collect()
}

/// Height of the text block [`canvas`] draws for `lines`.
fn header_height(lines: &[String]) -> u32 {
    48 + 18 * u32::try_from(lines.len()).unwrap_or(8) + 10
}

/// `text` in lines of at most `fits` characters, broken after a space or
/// a comma where it can be.
fn wrap(text: &str, fits: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while rest.len() > fits {
        let cut = rest[..fits]
            .iter()
            .rposition(|&c| c == ' ' || c == ',')
            .map_or(fits, |i| i + 1);
        lines.push(rest[..cut].iter().collect::<String>().trim_end().to_owned());
        rest.drain(..cut);
    }
    lines.push(rest.into_iter().collect());
    lines
}

/// The white canvas with the title and `lines` (from [`header_lines`]) on
/// top; returns the area below them.
fn canvas<'a>(root: &Area<'a>, title: &str, lines: &[String]) -> Res<Area<'a>> {
    root.fill(&WHITE)?;
    let (top, body) = root.split_vertically(header_height(lines));
    let small = (FONT, 14).into_font().color(&RGBColor(0x40, 0x40, 0x40));
    top.draw(&Text::new(
        title.to_owned(),
        (16, 12),
        (FONT, 24).into_font().style(FontStyle::Bold),
    ))?;
    for (i, line) in lines.iter().enumerate() {
        let y = 46 + 18 * i32::try_from(i)?;
        top.draw(&Text::new(line.clone(), (16, y), small.clone()))?;
    }
    Ok(body)
}

/// Splits `area` into `count` panels, `columns` wide.
fn panels<'a>(area: &Area<'a>, count: usize, columns: usize) -> Vec<Area<'a>> {
    let rows = count.div_ceil(columns);
    let mut out = area.split_evenly((rows, columns));
    out.truncate(count);
    out
}

/// Quantile `q` on the latency plots' horizontal axis: thousandths of the
/// number of nines, so p90, p99 and p99.9 sit a thousand apart. (Integer
/// axes take chosen tick marks; plotters' `f64` axes do not.)
fn nines(q: f64) -> i32 {
    (-(1.0 - q.min(0.999_999)).log10() * 1000.0).round() as i32
}

/// `p50`, `p99.9` for a position on that axis.
fn percentile_label(x: i32) -> String {
    let p = (1.0 - 10f64.powf(-f64::from(x) / 1000.0)) * 100.0;
    let p = (p * 10.0).round() / 10.0;
    if p.fract() == 0.0 {
        format!("p{p:.0}")
    } else {
        format!("p{p:.1}")
    }
}

/// Nanoseconds for people: `250 ns`, `1.5 us`, `20 us`, `1 ms`.
fn ns_label(ns: f64) -> String {
    let (value, unit) = if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "us")
    } else {
        (ns, "ns")
    };
    format!("{} {unit}", trim_number(value))
}

/// `value` with at most three significant digits and no trailing zeros.
fn trim_number(value: f64) -> String {
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{value:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// Counts for people: `500k`, `6.3M`, `28.4`.
fn si_label(value: f64) -> String {
    if value >= 1e9 {
        format!("{}G", trim_number(value / 1e9))
    } else if value >= 1e6 {
        format!("{}M", trim_number(value / 1e6))
    } else if value >= 1e3 {
        format!("{}k", trim_number(value / 1e3))
    } else {
        trim_number(value)
    }
}

/// Tick marks of a log axis from `lo` to `hi`: 1, 2 and 5 of each decade,
/// thinned when the range spans many decades.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades = (hi / lo).log10();
    let steps: &[f64] = if decades <= 2.2 {
        &[1.0, 2.0, 5.0]
    } else if decades <= 4.5 {
        &[1.0, 3.0]
    } else {
        &[1.0]
    };
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi {
        ticks.extend(
            steps
                .iter()
                .map(|s| s * decade)
                .filter(|t| (lo..=hi).contains(t)),
        );
        decade *= 10.0;
    }
    ticks
}

/// How a row reads in a legend: its median and how it compares.
fn legend(all: &[Row], row: &Row, value: String) -> String {
    let ratios = data::ratios(all, row);
    match (row.vs.as_deref(), data::median(&ratios)) {
        (Some(vs), Some(ratio)) => format!("{}: {value}, {ratio:.2}x {vs}", row.name),
        _ if row.vs.is_none() => format!("{} (baseline): {value}", row.name),
        _ => format!("{}: {value}", row.name),
    }
}

/// The colour of the `i`th member of a group: the baseline (first, when
/// it ran) in dark grey, the rest from the palette.
fn colour(is_baseline: bool, i: usize) -> RGBColor {
    if is_baseline {
        BASELINE
    } else {
        PALETTE[i % PALETTE.len()]
    }
}

/// (a) Each latency row's distribution (p0 to p99.9 of its median round)
/// next to the baselines it is compared with, on log axes.
fn latency_plot(path: &Path, meta: &Meta, rows: &[Row]) -> Res<Option<String>> {
    let groups = groups(rows, plain_rows(rows).filter(|r| r.latency().is_some()));
    if groups.is_empty() {
        return Ok(None);
    }
    let title = "Round-trip latency distributions against their baselines".to_owned();
    let columns = groups.len().min(2);
    let (w, h) = (if columns == 1 { 900 } else { 680 }, 470);
    let width = w * u32::try_from(columns)?;
    let lines = header_lines(meta, rows, width);
    let size = (
        width,
        header_height(&lines) + h * u32::try_from(groups.len().div_ceil(columns))?,
    );
    let root = SVGBackend::new(path, size).into_drawing_area();
    let body = canvas(&root, &title, &lines)?;
    for (area, (root_name, members)) in panels(&body, groups.len(), columns).iter().zip(&groups) {
        latency_panel(area, rows, root_name, members)?;
    }
    root.present()?;
    Ok(Some(title))
}

fn latency_panel(area: &Area<'_>, all: &[Row], root_name: &str, members: &[&Row]) -> Res<()> {
    let curves: Vec<(&Row, Vec<(i32, f64)>)> = members
        .iter()
        .filter_map(|row| {
            let points = row
                .latency()?
                .curve()
                .into_iter()
                .filter(|&(q, _)| q <= 0.999)
                .map(|(q, ns)| (nines(q), ns.max(1) as f64))
                .collect();
            Some((*row, points))
        })
        .collect();
    let values = curves.iter().flat_map(|(_, p)| p.iter().map(|&(_, ns)| ns));
    let lo = values.clone().fold(f64::INFINITY, f64::min) / 1.4;
    let hi = values.fold(f64::NEG_INFINITY, f64::max) * 2.5;
    let caption = if members.len() > 1 {
        format!("against {root_name}")
    } else {
        root_name.to_owned()
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 19))
        .margin(14)
        .margin_right(30)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(
            (-60..3060).with_key_points(X_TICKS.map(nines).to_vec()),
            (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)),
        )?;
    chart
        .configure_mesh()
        .x_desc("percentile of the round trips (the tail stretched: p90, p99, p99.9 evenly spaced)")
        .y_desc("round trip (log scale)")
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|ns| ns_label(*ns))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 14))
        .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
        .draw()?;
    for (i, (row, points)) in curves.iter().enumerate() {
        let is_baseline = row.name == root_name;
        let colour = colour(is_baseline, i.saturating_sub(1));
        let style = colour.stroke_width(if is_baseline { 3 } else { 2 });
        let p50 = row.latency().map_or(0, |l| l.p50) as f64;
        chart
            .draw_series(LineSeries::new(points.clone(), style))?
            .label(legend(all, row, format!("p50 {}", ns_label(p50))))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .margin(10)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(0xaa, 0xaa, 0xaa))
        .draw()?;
    Ok(())
}

/// (b) Throughput and message-rate bars, each result next to its
/// baseline, with the range over the rounds.
fn rates_plot(path: &Path, meta: &Meta, rows: &[Row]) -> Res<Option<String>> {
    let pick = |throughput: bool| -> Vec<(&str, Vec<&Row>)> {
        groups(
            rows,
            plain_rows(rows).filter(|r| match r.figure() {
                Figure::Throughput(_) => throughput,
                Figure::Rate(_) => !throughput,
                Figure::Latency(_) => false,
            }),
        )
    };
    type Panel<'a> = (
        &'a str,
        &'a str,
        fn(f64) -> String,
        Vec<(&'a str, Vec<&'a Row>)>,
    );
    let panels_of: Vec<Panel> = [
        (
            "Throughput",
            "GB/s (10^9 bytes per second)",
            (|v| format!("{v:.2}")) as fn(f64) -> String,
            pick(true),
        ),
        ("Message rate", "messages per second", si_label, pick(false)),
    ]
    .into_iter()
    .filter(|(_, _, _, g)| !g.is_empty())
    .collect();
    if panels_of.is_empty() {
        return Ok(None);
    }
    let title = "Throughput and message rate against their baselines".to_owned();
    let widths: Vec<u32> = panels_of
        .iter()
        .map(|(_, _, _, g)| {
            let bars: usize = g.iter().map(|(_, m)| m.len()).sum();
            SLOT * u32::try_from(bars).unwrap_or(64) + 160
        })
        .collect();
    let width = widths.iter().sum::<u32>().max(900);
    let lines = header_lines(meta, rows, width);
    let root = SVGBackend::new(path, (width, header_height(&lines) + 500)).into_drawing_area();
    let body = canvas(&root, &title, &lines)?;
    let mut rest = body;
    for (i, (name, unit, format, groups)) in panels_of.iter().enumerate() {
        let (area, right) = if i + 1 < panels_of.len() {
            rest.split_horizontally(widths[i])
        } else {
            let w = rest.dim_in_pixel().0;
            rest.split_horizontally(w)
        };
        bars_panel(&area, rows, name, unit, *format, groups)?;
        rest = right;
    }
    root.present()?;
    Ok(Some(title))
}

fn bars_panel(
    area: &Area<'_>,
    all: &[Row],
    caption: &str,
    unit: &str,
    format: fn(f64) -> String,
    groups: &[(&str, Vec<&Row>)],
) -> Res<()> {
    // One slot per bar, a gap between groups.
    // One slot per bar, a gap between groups; in hundredths of a slot.
    let mut slots: Vec<(i32, &Row, bool, usize)> = Vec::new();
    let mut x = 0;
    for (g, (root_name, members)) in groups.iter().enumerate() {
        if g > 0 {
            x += 50;
        }
        let mut results = 0;
        for row in members {
            let is_baseline = row.name == *root_name;
            slots.push((x, row, is_baseline, results));
            if !is_baseline {
                results += 1;
            }
            x += 100;
        }
    }
    let top = slots
        .iter()
        .map(|(_, r, _, _)| r.range().1)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let hi = if top > 0.0 { top * 1.25 } else { 1.0 };
    let centres: Vec<i32> = slots.iter().map(|s| s.0 + 50).collect();
    let names: Vec<(i32, String)> = slots
        .iter()
        .map(|(x, r, _, _)| (x + 50, r.name.clone()))
        .collect();
    let name_at = move |v: &i32| {
        names
            .iter()
            .find(|(c, _)| c == v)
            .map(|(_, n)| n.clone())
            .unwrap_or_default()
    };
    // Bars no wider than a slot of SLOT pixels: a few bars on a wide
    // panel get margins instead.
    let plot_px = i32::try_from(area.dim_in_pixel().0)?.saturating_sub(72 + 28);
    let slot_px = i32::try_from(SLOT)?;
    let pad = ((plot_px * 100 / slot_px - x) / 2).max(0);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{caption} (median round; whisker: range over the rounds)"),
            (FONT, 19),
        )
        .margin(14)
        .margin_right(30)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d((-pad..x + pad).with_key_points(centres), 0.0..hi)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .y_desc(unit)
        .x_label_formatter(&name_at)
        .y_label_formatter(&|v| si_label(*v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 14))
        .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
        .draw()?;
    let above = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (x, row, is_baseline, i) in &slots {
        let value = row.figure().primary();
        if !value.is_finite() {
            continue;
        }
        let colour = colour(*is_baseline, *i);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x + 18, 0.0), (x + 82, value)],
            colour.mix(0.85).filled(),
        )))?;
        let (lo, top) = row.range();
        if row.rounds.len() > 1 && lo.is_finite() && top.is_finite() {
            let c = x + 50;
            let whisker = BLACK.stroke_width(1);
            chart.draw_series([
                PathElement::new(vec![(c, lo), (c, top)], whisker),
                PathElement::new(vec![(c - 8, lo), (c + 8, lo)], whisker),
                PathElement::new(vec![(c - 8, top), (c + 8, top)], whisker),
            ])?;
        }
        let label_at = (x + 50, value.max(top).max(0.0));
        let ratio = data::median(&data::ratios(all, row))
            .map(|r| format!("{r:.2}x"))
            .unwrap_or_default();
        chart.draw_series(std::iter::once(
            EmptyElement::at(label_at)
                + Text::new(format(value), (0, -6), above.clone())
                + Text::new(ratio, (0, -26), above.clone().color(&colour)),
        ))?;
    }
    Ok(())
}

/// (c) The per-call cost of the plugin-count rows against the number of
/// plugins, with the single-plugin calls as reference lines; `None` when
/// no such row ran.
fn scale_plot(path: &Path, meta: &Meta, rows: &[Row]) -> Res<Option<String>> {
    let families: Vec<(ScaleFamily, Vec<(u64, &Row)>)> = ScaleFamily::ALL
        .into_iter()
        .map(|f| (f, data::scale_rows(rows, f)))
        .filter(|(_, points)| !points.is_empty())
        .collect();
    if families.is_empty() {
        return Ok(None);
    }
    let title = "Per-call cost by plugin count".to_owned();
    let lines = header_lines(meta, rows, 1000);
    let root = SVGBackend::new(path, (1000, header_height(&lines) + 560)).into_drawing_area();
    let body = canvas(&root, &title, &lines)?;

    let mut counts: Vec<u64> = families
        .iter()
        .flat_map(|(_, p)| p.iter().map(|&(n, _)| n))
        .collect();
    counts.sort_unstable();
    counts.dedup();
    let references: Vec<(ScaleFamily, &Row)> = families
        .iter()
        .filter_map(|(f, _)| Some((*f, data::find(rows, f.reference())?)))
        .collect();
    let values: Vec<f64> = families
        .iter()
        .flat_map(|(_, p)| p.iter().flat_map(|(_, r)| [r.range().0, r.range().1]))
        .chain(references.iter().map(|(_, r)| r.figure().primary()))
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min) / 1.6;
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max) * 3.0;
    let (x_lo, x_hi) = (
        *counts.first().unwrap_or(&1) as f64 / 1.5,
        *counts.last().unwrap_or(&1) as f64 * 1.5,
    );
    let mut chart = ChartBuilder::on(&body)
        .caption(
            "p50 per call (a row's p50 divided by its plugin count), median round",
            (FONT, 19),
        )
        .margin(14)
        .margin_right(30)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(
            (x_lo..x_hi)
                .log_scale()
                .with_key_points(counts.iter().map(|&n| n as f64).collect()),
            (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)),
        )?;
    chart
        .configure_mesh()
        .x_desc("plugins (log scale)")
        .y_desc("per call (log scale)")
        .x_label_formatter(&|n| format!("{n:.0}"))
        .y_label_formatter(&|ns| ns_label(*ns))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 14))
        .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
        .draw()?;
    let beside = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
    for (i, (family, points)) in families.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let style = colour.stroke_width(2);
        let line: Vec<(f64, f64)> = points
            .iter()
            .map(|(n, r)| (*n as f64, r.figure().primary()))
            .filter(|p| p.1.is_finite() && p.1 > 0.0)
            .collect();
        let what = match family {
            ScaleFamily::Blocking => "blocking",
            ScaleFamily::Spinning => "spinning",
        };
        chart
            .draw_series(LineSeries::new(line.clone(), style))?
            .label(format!("{}N ({what})", family.prefix()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        chart.draw_series(line.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
        chart.draw_series(line.iter().map(|&(n, v)| {
            EmptyElement::at((n, v)) + Text::new(ns_label(v), (6, -4), beside.clone())
        }))?;
        for (n, row) in points {
            let (a, b) = row.range();
            if row.rounds.len() > 1 && a.is_finite() && b.is_finite() && a > 0.0 {
                let n = *n as f64;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(n, a), (n, b)],
                    colour.stroke_width(1),
                )))?;
            }
        }
        if let Some((_, reference)) = references.iter().find(|(f, _)| f == family) {
            let v = reference.figure().primary();
            if v.is_finite() && v > 0.0 {
                let dashed = colour.mix(0.7).stroke_width(2);
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(x_lo, v), (x_hi, v)],
                        8,
                        6,
                        dashed,
                    ))?
                    .label(format!(
                        "{}, one plugin: {} (reference)",
                        reference.name,
                        ns_label(v)
                    ))
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (10, 0)], dashed)
                            + PathElement::new(vec![(14, 0), (24, 0)], dashed)
                    });
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .margin(10)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(0xaa, 0xaa, 0xaa))
        .draw()?;
    root.present()?;
    Ok(Some(title))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_report::data::tests::sample_rows;

    #[test]
    fn axis_labels_read_as_people_write_them() {
        assert_eq!(percentile_label(nines(0.0)), "p0");
        assert_eq!(percentile_label(nines(0.5)), "p50");
        assert_eq!(percentile_label(nines(0.99)), "p99");
        assert_eq!(percentile_label(nines(0.999)), "p99.9");
        assert_eq!(ns_label(250.0), "250 ns");
        assert_eq!(ns_label(1500.0), "1.5 us");
        assert_eq!(ns_label(20_000.0), "20 us");
        assert_eq!(ns_label(2_000_000.0), "2 ms");
        assert_eq!(si_label(6_280_000.0), "6.28M");
        assert_eq!(si_label(28.38), "28.4");
        assert_eq!(
            log_ticks(90.0, 2100.0),
            [100.0, 200.0, 500.0, 1000.0, 2000.0]
        );
        assert_eq!(
            log_ticks(100.0, 1e6),
            [100.0, 300.0, 1000.0, 3000.0, 1e4, 3e4, 1e5, 3e5, 1e6]
        );
    }

    fn meta() -> Meta {
        Meta {
            command: "ipc-latency --rounds 2 --json".to_owned(),
            date: "2026-12-01 10:00 UTC".to_owned(),
            duration: "5.0s".to_owned(),
            machine: "2 CPUs, Test CPU, kernel 6.0".to_owned(),
            commit: "abc1234".to_owned(),
            toolchain: "rustc 1.95.0".to_owned(),
        }
    }

    /// A directory of its own under the system's temporary directory,
    /// removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir()
                .join(format!("xtask-bench-report-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temporary directory");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn every_plot_is_written_and_names_its_rows() {
        let dir = TempDir::new("plots");
        let rows = sample_rows();
        let written = render(&dir.0, &meta(), &rows).expect("renders");
        let files: Vec<&str> = written.iter().map(|p| p.file).collect();
        assert_eq!(files, [LATENCY, RATES, SCALE]);
        let read = |file: &str| std::fs::read_to_string(dir.0.join(file)).expect(file);
        let latency = read(LATENCY);
        assert!(latency.starts_with("<svg"), "{}", &latency[..80]);
        for name in ["baseline_futex_pingpong", "channel_pingpong", "rt_call"] {
            assert!(latency.contains(name), "{name} not in {LATENCY}");
        }
        assert!(latency.contains("machine: 2 CPUs, Test CPU, kernel 6.0"));
        assert!(latency.contains("command: ipc-latency --rounds 2 --json"));
        assert!(latency.contains("p99.9"));
        assert!(
            !latency.contains("link_scale"),
            "plugin-count rows have their own plot"
        );
        let rates = read(RATES);
        for name in [
            "baseline_uds_stream",
            "channel_stream",
            "main_link_stream",
            "6.25x",
        ] {
            assert!(rates.contains(name), "{name} not in {RATES}");
        }
        let scale = read(SCALE);
        for name in [
            "link_scale_N (blocking)",
            "link_scale_spin_N (spinning)",
            "rt_call, one plugin",
        ] {
            assert!(scale.contains(name), "{name} not in {SCALE}");
        }
    }

    #[test]
    fn the_plugin_count_plot_waits_for_its_rows() {
        let dir = TempDir::new("no-scale");
        let rows: Vec<Row> = sample_rows()
            .into_iter()
            .filter(|r| data::scale_point(&r.name).is_none())
            .collect();
        std::fs::write(dir.0.join(SCALE), "stale").expect("write");
        let written = render(&dir.0, &meta(), &rows).expect("renders");
        assert_eq!(written.len(), 2);
        assert!(written.iter().all(|p| p.file != SCALE));
        assert!(!dir.0.join(SCALE).exists(), "a stale plot is removed");
    }
}
