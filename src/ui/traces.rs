//! Turning bounded series into chart traces for a time window: the glue between `history` and
//! `plot`, shared by every chart panel.

use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::symbols::Marker;

use super::history::{Column, Series};
use super::plot::{self, Kind, Pt, Trace};
use super::theme::Theme;

/// The window and resolution a chart is drawn at.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub x: (f64, f64),
    /// Pixel columns to downsample to.
    pub columns: usize,
    pub smoothing: f64,
}

impl Window {
    /// A window for a chart drawn in `area` (its full width is an upper bound of the graph's).
    ///
    /// The EMA never averages over more than a tenth of the steps shown (time constant
    /// `1/(1 − smoothing)` ≤ span/10): early in a run, or zoomed in, a long average would trail
    /// far behind the data it is meant to summarise.
    pub fn new(area: Rect, theme: &Theme, x: (f64, f64), smoothing: f64) -> Self {
        let span = x.1 - x.0;
        let cap = (1.0 - 10.0 / span).max(0.0);
        Self {
            x,
            columns: usize::from(area.width) * plot::x_resolution(theme.line_marker()),
            smoothing: smoothing.min(cap),
        }
    }

    pub fn columns_of(&self, series: &Series) -> Vec<Column> {
        series.columns(self.x.0, self.x.1, self.columns, self.smoothing)
    }
}

/// Each column's min..max.
pub fn band(cols: &[Column], color: Color, marker: Marker) -> Trace {
    Trace {
        points: cols
            .iter()
            .map(|c| Pt {
                x: c.x,
                lo: f64::from(c.min),
                hi: f64::from(c.max),
            })
            .collect(),
        kind: Kind::Band,
        color,
        marker,
    }
}

/// The EMA through the columns.
pub fn smooth(cols: &[Column], color: Color, marker: Marker) -> Trace {
    Trace {
        points: cols
            .iter()
            .map(|c| Pt::at(c.x, f64::from(c.smooth)))
            .collect(),
        kind: Kind::Line,
        color,
        marker,
    }
}

/// Column means as dots (sparse series: evaluations).
pub fn dots(cols: &[Column], color: Color, marker: Marker) -> Trace {
    Trace {
        points: cols
            .iter()
            .map(|c| Pt::at(c.x, f64::from(c.mean)))
            .collect(),
        kind: Kind::Dots,
        color,
        marker,
    }
}

/// Column means connected (sparse series where the trend matters: Hessian error, accuracy).
pub fn line(cols: &[Column], color: Color, marker: Marker) -> Trace {
    Trace {
        kind: Kind::Line,
        ..dots(cols, color, marker)
    }
}

/// A noisy series the way the loss chart shows it: the raw min/max band dimmed behind the EMA,
/// or the raw band alone when smoothing is off.
pub fn raw_and_smooth(
    series: &Series,
    window: &Window,
    lane: usize,
    theme: &Theme,
) -> (Vec<Trace>, Option<f32>) {
    let cols = window.columns_of(series);
    let last = cols.last().map(|c| c.smooth);
    if window.smoothing > 0.0 {
        let raw = band(&cols, theme.lane_dim(lane), theme.raw_marker());
        let ema = smooth(&cols, theme.lane(lane), theme.line_marker());
        (vec![raw, ema], last)
    } else {
        (
            vec![band(&cols, theme.lane(lane), theme.line_marker())],
            last,
        )
    }
}
