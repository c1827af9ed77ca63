//! Curves over steps, gradient evaluations or time (loss or a metric), one colour per legend label, into a PNG.

use std::path::Path;

use anyhow::Result;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::series::Series;
use super::smooth::{mean_per_column, min_max_per_column, moving_average};
use super::{Drawn, Frame, legend_entries, plotting, style};
use crate::format::ticks as format;

/// How the curves are drawn.
pub struct CurveStyle {
    pub title: String,
    pub x_label: &'static str,
    pub y_label: String,
    pub log_y: bool,
    /// Moving-average window in points; the raw curve stays behind, faint.
    pub smooth: Option<usize>,
    /// Leave the raw curves out when smoothed ones are drawn.
    pub hide_raw: bool,
    pub legend: LegendCorner,
}

/// Where the legend box goes: the corner the curves leave free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LegendCorner {
    #[default]
    UpperRight,
    UpperLeft,
    LowerLeft,
    LowerRight,
}

impl LegendCorner {
    fn position(self) -> SeriesLabelPosition {
        match self {
            Self::UpperRight => SeriesLabelPosition::UpperRight,
            Self::UpperLeft => SeriesLabelPosition::UpperLeft,
            Self::LowerLeft => SeriesLabelPosition::LowerLeft,
            Self::LowerRight => SeriesLabelPosition::LowerRight,
        }
    }
}

/// One series ready to draw: its colour and its thinned raw and smoothed points.
struct Prepared {
    colour: RGBColor,
    raw: Vec<(f64, f64)>,
    smoothed: Option<Vec<(f64, f64)>>,
    /// Legend text, on the first series of each label only.
    legend: Option<String>,
}

/// Draws `series` into `path`.
pub fn draw(path: &Path, size: (u32, u32), series: &[Series], style: &CurveStyle) -> Result<Drawn> {
    let entries = legend_entries(series);
    let keep = |p: &(f64, f64)| !style.log_y || p.1 > 0.0;
    let x_range = x_range(series);
    // Thin to two points per pixel column: what the picture can show.
    let columns = size.0 as usize;
    let prepared: Vec<Prepared> = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let points: Vec<(f64, f64)> = s.points.iter().copied().filter(keep).collect();
            let entry = entries.iter().position(|e| e.label == s.label).unwrap_or(0);
            let first = series[..i].iter().all(|o| o.label != s.label);
            let hidden = style.hide_raw && style.smooth.is_some();
            Prepared {
                colour: style::colour(entry),
                raw: if hidden {
                    Vec::new()
                } else {
                    min_max_per_column(&points, x_range, columns)
                },
                smoothed: style
                    .smooth
                    .map(|w| mean_per_column(&moving_average(&points, w), x_range, columns)),
                legend: first.then(|| entries[entry].text.clone()),
            }
        })
        .collect();
    // Fit the y axis to what carries the information: the smoothed curves when there are any
    // (the faint raw band may then leave the frame), else the raw ones.
    let fitted = prepared
        .iter()
        .flat_map(|p| p.smoothed.as_ref().unwrap_or(&p.raw))
        .map(|p| p.1);
    let Some(y_range) = padded_range(fitted, style.log_y) else {
        anyhow::bail!(
            "nothing to draw: every value is non-finite{}",
            if style.log_y {
                " or not positive (--log-y)"
            } else {
                ""
            }
        );
    };
    let root = BitMapBackend::new(path, size).into_drawing_area();
    plotting(root.fill(&WHITE))?;
    let frame = Frame {
        title: &style.title,
        x_label: style.x_label,
        y_label: &style.y_label,
    };
    if style.log_y {
        let y = (y_range.0..y_range.1)
            .log_scale()
            .with_key_points(format::log_values(y_range.0, y_range.1));
        draw_chart(&root, &frame, x_range, y, &prepared, style.legend)?;
    } else {
        let y = y_range.0..y_range.1;
        draw_chart(&root, &frame, x_range, y, &prepared, style.legend)?;
    }
    plotting(root.present())?;
    Ok(Drawn {
        legend: entries.into_iter().map(|e| e.text).collect(),
        series: prepared.len(),
        size,
    })
}

fn draw_chart<Y>(
    root: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    frame: &Frame,
    x_range: (f64, f64),
    y: Y,
    prepared: &[Prepared],
    legend: LegendCorner,
) -> Result<()>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = plotting(
        ChartBuilder::on(root)
            .caption(frame.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range.0..x_range.1, y),
    )?;
    plotting(
        chart
            .configure_mesh()
            .x_desc(frame.x_label)
            .y_desc(frame.y_label)
            .x_label_formatter(&|v| format::steps_tick(*v))
            .y_label_formatter(&|v| format::plain_tick(*v))
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(RGBColor(245, 245, 245))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw(),
    )?;
    let faint = prepared.iter().any(|p| p.smoothed.is_some());
    let alpha = raw_alpha(prepared.len());
    for p in prepared {
        let raw_style = if faint {
            p.colour.mix(alpha).stroke_width(1)
        } else {
            p.colour.stroke_width(2)
        };
        let drawn = plotting(chart.draw_series(LineSeries::new(p.raw.iter().copied(), raw_style)))?;
        if !faint && let Some(text) = &p.legend {
            let c = p.colour;
            drawn.label(text).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3))
            });
        }
    }
    for p in prepared {
        if let Some(smoothed) = &p.smoothed {
            let drawn = plotting(chart.draw_series(LineSeries::new(
                smoothed.iter().copied(),
                p.colour.stroke_width(2),
            )))?;
            if let Some(text) = &p.legend {
                let c = p.colour;
                drawn.label(text).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3))
                });
            }
        }
    }
    plotting(
        chart
            .configure_series_labels()
            .position(legend.position())
            .label_font(("sans-serif", 15))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw(),
    )?;
    Ok(())
}

/// Opacity of the raw curves behind smoothed ones: 0.22 for up to four series, less for more
/// (as 1/√count), so that overlapping bands stay a light wash instead of a dark block.
fn raw_alpha(series: usize) -> f64 {
    0.22 * (4.0 / series.max(4) as f64).sqrt()
}

/// The steps covered by any series (a unit range around a single step).
fn x_range(series: &[Series]) -> (f64, f64) {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    }
}

/// The range of the finite values with a margin of 4% of the span (of the decades with `log`),
/// `None` if there is none.
pub fn padded_range(values: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return None;
    }
    if log {
        let (a, b) = (lo.log10(), hi.log10());
        let pad = ((b - a) * 0.04).max(0.05);
        Some((10f64.powf(a - pad), 10f64.powf(b + pad)))
    } else {
        let pad = ((hi - lo) * 0.04).max(hi.abs().max(1e-12) * 1e-3);
        Some((lo - pad, hi + pad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_curves_fade_as_they_multiply() {
        assert_eq!(raw_alpha(1), 0.22);
        assert_eq!(raw_alpha(4), 0.22);
        assert!((raw_alpha(16) - 0.11).abs() < 1e-12);
    }

    #[test]
    fn ranges_pad_by_a_share_of_the_span() {
        let (lo, hi) = padded_range([1.0, 3.0, f64::NAN].into_iter(), false).unwrap();
        assert!(
            (lo - 0.92).abs() < 1e-12 && (hi - 3.08).abs() < 1e-12,
            "{lo} {hi}"
        );
        // Log: 1e-2..1e2 is 4 decades, padded by 0.16 of a decade on each side; zero is dropped.
        let (lo, hi) = padded_range([0.0, 1e-2, 1e2].into_iter(), true).unwrap();
        assert!((lo.log10() + 2.16).abs() < 1e-9 && (hi.log10() - 2.16).abs() < 1e-9);
        assert_eq!(padded_range([0.0, -1.0].into_iter(), true), None);
        // A constant series still gets a non-empty range.
        let (lo, hi) = padded_range([5.0, 5.0].into_iter(), false).unwrap();
        assert!(lo < 5.0 && hi > 5.0);
    }
}
