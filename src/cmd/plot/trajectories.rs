//! Paths of 2-D runs (Rosenbrock) over the task's heat map of log10 f, with the start and the
//! minimum marked and a colour bar, into a PNG.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::series::Series;
use super::{Drawn, legend_entries, plotting, style};
use crate::format::ticks;
use crate::task::Heatmap;

/// Width of the colour bar's area at the right.
const BAR_AREA: u32 = 110;

/// Draws the paths of `series` over `map` into `path`.
pub fn draw(
    path: &Path,
    size: (u32, u32),
    series: &[Series],
    map: &Heatmap,
    title: &str,
) -> Result<Drawn> {
    let entries = legend_entries(series);
    let scale = colour_scale(&map.values);
    let root = BitMapBackend::new(path, size).into_drawing_area();
    plotting(root.fill(&WHITE))?;
    let (left, right) = root.split_horizontally(size.0.saturating_sub(BAR_AREA));
    let (x0, x1) = (f64::from(map.x_range.0), f64::from(map.x_range.1));
    let (y0, y1) = (f64::from(map.y_range.0), f64::from(map.y_range.1));
    let mut chart = plotting(
        ChartBuilder::on(&left)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1),
    )?;
    plotting(
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("x")
            .y_desc("y")
            .x_label_formatter(&|v| ticks::plain_tick(*v))
            .y_label_formatter(&|v| ticks::plain_tick(*v))
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .draw(),
    )?;
    plotting(chart.draw_series(cells(map, scale)))?;
    let mut drawn_series = 0;
    for (i, s) in series.iter().enumerate() {
        if s.path.is_empty() {
            continue;
        }
        drawn_series += 1;
        let entry = entries.iter().position(|e| e.label == s.label).unwrap_or(0);
        let c = style::colour(entry);
        let width = path_width(entry, entries.len());
        let points: Vec<(f64, f64)> = s
            .path
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .map(|p| (f64::from(p[0]), f64::from(p[1])))
            .collect();
        let line = plotting(chart.draw_series(LineSeries::new(
            points.iter().copied(),
            c.stroke_width(width),
        )))?;
        if series[..i].iter().all(|o| o.label != s.label) {
            line.label(&entries[entry].text).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(width.max(3)))
            });
        }
        if let Some(&end) = points.last() {
            plotting(chart.draw_series([Circle::new(end, 4, c.filled())]))?;
        }
    }
    if let Some(start) = series.iter().find_map(|s| s.path.first()) {
        let at = (f64::from(start[0]), f64::from(start[1]));
        plotting(chart.draw_series([
            Circle::new(at, 6, WHITE.filled()),
            Circle::new(at, 6, BLACK.stroke_width(2)),
        ]))?;
        label_at(&mut chart, map, scale, at, "start")?;
    }
    let min = (f64::from(map.minimum[0]), f64::from(map.minimum[1]));
    plotting(chart.draw_series([
        Cross::new(min, 7, WHITE.stroke_width(4)),
        Cross::new(min, 7, BLACK.stroke_width(2)),
    ]))?;
    label_at(&mut chart, map, scale, min, "minimum")?;
    plotting(
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 15))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw(),
    )?;
    colour_bar(&right, scale)?;
    plotting(root.present())?;
    Ok(Drawn {
        legend: entries.into_iter().map(|e| e.text).collect(),
        series: drawn_series,
        size,
    })
}

/// The heat map's cells as filled rectangles.
fn cells(map: &Heatmap, scale: (f64, f64)) -> Vec<Rectangle<(f64, f64)>> {
    let dx = f64::from(map.x_range.1 - map.x_range.0) / map.width as f64;
    let dy = f64::from(map.y_range.1 - map.y_range.0) / map.height as f64;
    let (x0, y0) = (f64::from(map.x_range.0), f64::from(map.y_range.0));
    let mut out = Vec::with_capacity(map.values.len());
    for row in 0..map.height {
        for col in 0..map.width {
            let v = f64::from(map.values[row * map.width + col]);
            let c = style::heat((v - scale.0) / (scale.1 - scale.0));
            let (cx, cy) = (x0 + col as f64 * dx, y0 + row as f64 * dy);
            out.push(Rectangle::new([(cx, cy), (cx + dx, cy + dy)], c.filled()));
        }
    }
    out
}

/// The colour scale of the map: its highest value down to its 2nd percentile. The values fall
/// steeply only at the minimum itself (log10 f → −∞), which would otherwise take most colours.
fn colour_scale(values: &[f32]) -> (f64, f64) {
    let mut sorted: Vec<f64> = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| f64::from(v))
        .collect();
    sorted.sort_by(f64::total_cmp);
    match (sorted.get(sorted.len() / 50), sorted.last()) {
        (Some(&lo), Some(&hi)) if hi > lo => (lo, hi),
        (Some(&lo), _) => (lo, lo + 1.0),
        _ => (0.0, 1.0),
    }
}

/// A text label above and right of a marker, in black on light parts of the map and white on
/// dark ones.
fn label_at(
    chart: &mut Chart<'_, '_>,
    map: &Heatmap,
    scale: (f64, f64),
    at: (f64, f64),
    text: &str,
) -> Result<()> {
    let under = map
        .value_at(at.0 as f32, at.1 as f32)
        .map_or(1.0, |v| (f64::from(v) - scale.0) / (scale.1 - scale.0));
    let colour = if under > 0.6 { BLACK } else { WHITE };
    let font = ("sans-serif", 16).into_font().color(&colour);
    plotting(
        chart.draw_series([EmptyElement::at(at) + Text::new(text.to_string(), (10, -24), font)]),
    )?;
    Ok(())
}

type Chart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A vertical bar of the ramp labelled in log10 f.
fn colour_bar(area: &DrawingArea<BitMapBackend, Shift>, scale: (f64, f64)) -> Result<()> {
    let mut bar = plotting(
        ChartBuilder::on(area)
            .caption("log₁₀ f", ("sans-serif", 16))
            .margin_top(16)
            .margin_bottom(56)
            .margin_right(12)
            .y_label_area_size(0)
            .right_y_label_area_size(56)
            .build_cartesian_2d(0.0..1.0, scale.0..scale.1),
    )?;
    plotting(
        bar.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_label_formatter(&|v| ticks::plain_tick(*v))
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 15))
            .draw(),
    )?;
    let steps = 200;
    let span = scale.1 - scale.0;
    plotting(bar.draw_series((0..steps).map(|i| {
        let a = scale.0 + span * i as f64 / steps as f64;
        let b = scale.0 + span * (i + 1) as f64 / steps as f64;
        Rectangle::new(
            [(0.0, a), (1.0, b)],
            style::heat(i as f64 / (steps - 1) as f64).filled(),
        )
    })))?;
    Ok(())
}
/// Line width of legend entry `entry` of `entries`: earlier entries are drawn wider, so a path
/// that runs exactly along another (LODO along momentum on Rosenbrock) still shows as a border.
fn path_width(entry: usize, entries: usize) -> u32 {
    let below = entries.saturating_sub(entry + 1).min(6) as u32;
    2 + 2 * below
}
