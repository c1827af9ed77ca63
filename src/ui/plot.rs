//! The chart widget every time-series panel uses.
//!
//! Unlike ratatui's `Chart` it places tick labels at the rows of round values (so a log axis can
//! be labelled `1e-3 … 1` while the data is transformed), keeps its axes ASCII under `--ascii`,
//! draws min/max bands as connected pixel columns (what a downsampled series needs), and draws
//! vertical rules for events underneath the data.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::Widget;
use ratatui::widgets::canvas::{Canvas, Painter, Shape};

use super::theme::Theme;
use crate::format::{self, linear_ticks, log_ticks, nice_step};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log,
}

/// How a trace is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Each point's `[lo, hi]` filled, consecutive points connected (raw data after min/max
    /// downsampling).
    Band,
    /// Points connected through their middle.
    Line,
    /// Points only.
    Dots,
}

/// A point with a vertical extent, in data units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pt {
    pub x: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Pt {
    pub fn at(x: f64, y: f64) -> Self {
        Self { x, lo: y, hi: y }
    }
}

#[derive(Clone, Debug)]
pub struct Trace {
    pub points: Vec<Pt>,
    pub kind: Kind,
    pub color: Color,
    pub marker: Marker,
}

/// Pixel columns per terminal column for a marker (what a series should be downsampled to).
pub fn x_resolution(marker: Marker) -> usize {
    match marker {
        Marker::Braille | Marker::Quadrant | Marker::Sextant | Marker::Octant => 2,
        _ => 1,
    }
}

pub struct Plot<'a> {
    pub traces: &'a [Trace],
    pub x_range: (f64, f64),
    pub scale: Scale,
    /// Vertical rules (events) at these x values, in these colours.
    pub rules: &'a [(f64, Color)],
    /// Fixed y bounds (in data units) instead of autoscaling, e.g. `[-1, 1]` for a cosine.
    pub y_fixed: Option<(f64, f64)>,
    /// Shown instead of the chart while there is nothing to draw.
    pub empty: &'a str,
    pub theme: &'a Theme,
}

impl Plot<'_> {
    fn transform(&self, v: f64) -> Option<f64> {
        match self.scale {
            Scale::Linear => v.is_finite().then_some(v),
            Scale::Log => (v.is_finite() && v > 0.0).then(|| v.log10()),
        }
    }

    /// The traces in plotting coordinates; points that cannot be shown (non-positive on a log
    /// axis) are left out.
    fn transformed(&self) -> Vec<Vec<Pt>> {
        self.traces
            .iter()
            .map(|t| {
                t.points
                    .iter()
                    .filter_map(|p| {
                        let hi = self.transform(p.hi)?;
                        let lo = self.transform(p.lo).unwrap_or(f64::NEG_INFINITY);
                        Some(Pt { x: p.x, lo, hi })
                    })
                    .collect()
            })
            .collect()
    }

    fn y_bounds(&self, data: &[Vec<Pt>]) -> Option<(f64, f64)> {
        if let Some((lo, hi)) = self.y_fixed {
            return Some((self.transform(lo)?, self.transform(hi)?));
        }
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in data.iter().flatten() {
            if p.lo.is_finite() {
                lo = lo.min(p.lo);
            }
            hi = hi.max(p.hi);
            lo = lo.min(p.hi);
        }
        if !(lo.is_finite() && hi.is_finite()) {
            return None;
        }
        let span = hi - lo;
        if span <= f64::EPSILON * hi.abs().max(1.0) {
            let pad = match self.scale {
                Scale::Log => 0.5,
                Scale::Linear => (hi.abs() * 0.1).max(1e-9),
            };
            return Some((lo - pad, hi + pad));
        }
        Some((lo - 0.04 * span, hi + 0.04 * span))
    }
}

impl Widget for &Plot<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let data = self.transformed();
        let Some((y0, y1)) = self.y_bounds(&data) else {
            let y = area.y + area.height / 2;
            Line::styled(self.empty, self.theme.muted())
                .alignment(Alignment::Center)
                .render(Rect::new(area.x, y, area.width, 1), buf);
            return;
        };
        let (x0, x1) = widen(self.x_range);
        let graph = if area.width >= 12 && area.height >= 4 {
            self.render_axes(area, buf, (x0, x1), (y0, y1))
        } else {
            area
        };
        if graph.is_empty() {
            return;
        }
        Canvas::default()
            .x_bounds([x0, x1])
            .y_bounds([y0, y1])
            .paint(|ctx| {
                if !self.rules.is_empty() {
                    ctx.marker(self.theme.rule_marker());
                    ctx.draw(&Rules { rules: self.rules });
                    ctx.layer();
                }
                for (trace, points) in self.traces.iter().zip(&data) {
                    ctx.marker(trace.marker);
                    ctx.draw(&Pixels {
                        points,
                        kind: trace.kind,
                        color: trace.color,
                    });
                    ctx.layer();
                }
            })
            .render(graph, buf);
    }
}

impl Plot<'_> {
    /// Draws tick labels and axis lines; returns the graph area inside them.
    fn render_axes(&self, area: Rect, buf: &mut Buffer, x: (f64, f64), y: (f64, f64)) -> Rect {
        let rows = area.height - 2;
        let target = usize::from(rows / 3).clamp(2, 6);
        // At least two labelled values, so the scale can be read.
        let mut ticks = Vec::new();
        for t in target..target + 4 {
            ticks = match self.scale {
                Scale::Linear => linear_ticks(y.0, y.1, t),
                Scale::Log => log_ticks(y.0, y.1, t),
            };
            if ticks.len() >= 2 {
                break;
            }
        }
        let label_width = ticks
            .iter()
            .map(|(_, s)| s.chars().count() as u16)
            .max()
            .unwrap_or(0)
            .min(area.width / 3);
        let axis_x = area.x + label_width;
        let graph = Rect::new(
            axis_x + 1,
            area.y,
            area.right().saturating_sub(axis_x + 1),
            rows,
        );
        let (vertical, tee, corner, horizontal) = if self.theme.ascii {
            ("|", "+", "+", "-")
        } else {
            ("│", "┤", "└", "─")
        };
        let muted = self.theme.muted();
        for row in graph.top()..graph.bottom() {
            buf[(axis_x, row)].set_symbol(vertical).set_style(muted);
        }
        let axis_row = graph.bottom();
        buf[(axis_x, axis_row)].set_symbol(corner).set_style(muted);
        for col in graph.left()..graph.right() {
            buf[(col, axis_row)].set_symbol(horizontal).set_style(muted);
        }
        let mut last_row = None;
        for (value, label) in ticks.iter().rev() {
            let frac = (y.1 - value) / (y.1 - y.0);
            let row = graph.y + (frac * f64::from(rows - 1)).round() as u16;
            if row >= graph.bottom() || last_row.is_some_and(|r: u16| row <= r) {
                continue;
            }
            last_row = Some(row);
            buf[(axis_x, row)].set_symbol(tee).set_style(muted);
            Line::styled(label.as_str(), muted)
                .alignment(Alignment::Right)
                .render(Rect::new(area.x, row, label_width, 1), buf);
        }
        self.render_x_labels(area, graph, buf, x);
        graph
    }

    fn render_x_labels(&self, area: Rect, graph: Rect, buf: &mut Buffer, x: (f64, f64)) {
        let row = area.bottom() - 1;
        let target = usize::from(graph.width / 12).max(2);
        let step = nice_step((x.1 - x.0) / target as f64).max(1.0);
        let mut next_free = area.x;
        let mut t = (x.0 / step).ceil() * step;
        while t <= x.1 {
            let label = format::compact(t);
            let w = label.chars().count() as u16;
            let frac = (t - x.0) / (x.1 - x.0);
            let col = graph.x + (frac * f64::from(graph.width.saturating_sub(1))).round() as u16;
            let start = col
                .saturating_sub(w / 2)
                .min(area.right().saturating_sub(w));
            if start >= next_free && start + w <= area.right() {
                buf.set_string(start, row, &label, self.theme.muted());
                next_free = start + w + 1;
            }
            t += step;
        }
    }
}

fn widen((a, b): (f64, f64)) -> (f64, f64) {
    if b > a { (a, b) } else { (a - 1.0, a + 1.0) }
}

/// Plots points as connected pixel columns (bands and lines) or single pixels (dots).
struct Pixels<'a> {
    points: &'a [Pt],
    kind: Kind,
    color: Color,
}

impl Shape for Pixels<'_> {
    fn draw(&self, painter: &mut Painter) {
        let ([x0, x1], [y0, y1]) = {
            let (x, y) = painter.bounds();
            (*x, *y)
        };
        let to_px =
            |painter: &Painter, x: f64, y: f64| painter.get_point(x.clamp(x0, x1), y.clamp(y0, y1));
        let mut prev: Option<(usize, usize, usize)> = None;
        for p in self.points {
            let (lo, hi) = match self.kind {
                Kind::Band => (p.lo, p.hi),
                Kind::Line | Kind::Dots => {
                    let mid = if p.lo.is_finite() {
                        0.5 * (p.lo + p.hi)
                    } else {
                        p.hi
                    };
                    (mid, mid)
                }
            };
            if p.x < x0 || p.x > x1 {
                continue;
            }
            let (Some((px, mut top)), Some((_, mut bottom))) =
                (to_px(painter, p.x, hi), to_px(painter, p.x, lo))
            else {
                continue;
            };
            if self.kind == Kind::Dots {
                painter.paint(px, top, self.color);
                continue;
            }
            if let Some((ppx, ptop, pbottom)) = prev {
                if px > ppx + 1 {
                    let from = (ppx, (ptop + pbottom) / 2);
                    let to = (px, (top + bottom) / 2);
                    segment(painter, from, to, self.color);
                } else {
                    // Adjacent columns: stretch this span until it touches the previous one.
                    if bottom + 1 < ptop {
                        bottom = ptop - 1;
                    }
                    if top > pbottom + 1 {
                        top = pbottom + 1;
                    }
                }
            }
            for y in top..=bottom {
                painter.paint(px, y, self.color);
            }
            prev = Some((px, top, bottom));
        }
    }
}

fn segment(painter: &mut Painter, (ax, ay): (usize, usize), (bx, by): (usize, usize), c: Color) {
    let (dx, dy) = (bx as f64 - ax as f64, by as f64 - ay as f64);
    let steps = dx.abs().max(dy.abs()).max(1.0) as usize;
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let x = (ax as f64 + dx * t).round() as usize;
        let y = (ay as f64 + dy * t).round() as usize;
        painter.paint(x, y, c);
    }
}

/// Full-height vertical lines.
struct Rules<'a> {
    rules: &'a [(f64, Color)],
}

impl Shape for Rules<'_> {
    fn draw(&self, painter: &mut Painter) {
        let (&[x0, x1], &[y0, y1]) = painter.bounds();
        for &(x, color) in self.rules {
            if !(x0..=x1).contains(&x) {
                continue;
            }
            let (Some((px, top)), Some((_, bottom))) =
                (painter.get_point(x, y1), painter.get_point(x, y0))
            else {
                continue;
            };
            // Dotted, so a rule never reads as data.
            for y in (top..=bottom).step_by(2) {
                painter.paint(px, y, color);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::{Terminal, buffer::Buffer};

    fn draw(plot: &Plot, w: u16, h: u16) -> Buffer {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| f.render_widget(plot, f.area())).unwrap();
        term.backend().buffer().clone()
    }

    fn line(points: Vec<Pt>) -> Trace {
        Trace {
            points,
            kind: Kind::Line,
            color: Color::Cyan,
            marker: Marker::Braille,
        }
    }

    #[test]
    fn log_plot_labels_decades() {
        let theme = Theme::new(false, false);
        let trace = line(
            (1..=100)
                .map(|i| Pt::at(i as f64, 10f64.powf(-(i as f64) / 20.0)))
                .collect(),
        );
        let plot = Plot {
            traces: std::slice::from_ref(&trace),
            x_range: (1.0, 100.0),
            scale: Scale::Log,
            rules: &[],
            y_fixed: None,
            empty: "no data",
            theme: &theme,
        };
        let buf = draw(&plot, 40, 12);
        let text: String = buf.content().iter().map(|c| c.symbol()).collect();
        for label in ["1e-4", "0.01", "1┤"] {
            assert!(text.contains(label), "missing {label}:\n{text}");
        }
    }

    #[test]
    fn empty_plot_says_so() {
        let theme = Theme::new(true, false);
        let plot = Plot {
            traces: &[],
            x_range: (0.0, 1.0),
            scale: Scale::Linear,
            rules: &[],
            y_fixed: None,
            empty: "waiting for data",
            theme: &theme,
        };
        let buf = draw(&plot, 30, 5);
        let text: String = buf.content().iter().map(|c| c.symbol()).collect();
        assert!(text.contains("waiting for data"));
    }

    #[test]
    fn renders_into_tiny_areas_without_panicking() {
        let theme = Theme::new(true, true);
        let trace = line(vec![
            Pt::at(0.0, 1.0),
            Pt::at(1.0, f64::NAN),
            Pt::at(2.0, 3.0),
        ]);
        let rules = [(1.0, Color::DarkGray)];
        let plot = Plot {
            traces: std::slice::from_ref(&trace),
            x_range: (0.0, 2.0),
            scale: Scale::Log,
            rules: &rules,
            y_fixed: None,
            empty: "",
            theme: &theme,
        };
        for (w, h) in [(1, 1), (2, 2), (5, 3), (12, 4), (13, 5)] {
            draw(&plot, w, h);
        }
        let mut buf = Buffer::empty(Rect::new(0, 0, 0, 0));
        (&plot).render(Rect::new(0, 0, 0, 0), &mut buf);
    }
}
