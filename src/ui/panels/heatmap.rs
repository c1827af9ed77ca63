//! Rosenbrock: each lane's trajectory over a heat map of log f, the minimum marked.
//!
//! The trajectories are drawn on a `Canvas`; the heat map is then painted into the cells the
//! canvas left empty (as half blocks: two map rows per terminal row) and under the cells it drew
//! (as background), so the paths stay on top.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::widgets::canvas::{Canvas, Line as Segment};

use crate::format;
use crate::task::Heatmap;
use crate::ui::app::App;
use crate::ui::model::LaneData;
use crate::ui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let g = theme.glyphs();
    let mut title = vec![
        Span::styled(" Rosenbrock ", theme.strong()),
        Span::styled(format!("{} log f ", g.sep), theme.muted()),
    ];
    if let Some(h) = &app.model.heatmap {
        title.push(Span::styled(
            format!("{} {} ", g.sep, g.minimum),
            theme.strong(),
        ));
        title.push(Span::styled(
            format!("minimum ({}, {}) ", h.minimum[0], h.minimum[1]),
            theme.muted(),
        ));
    }
    // Each lane's latest distance to the minimum, when the title has room for it.
    let mut distances = vec![Span::styled(format!("{} distance ", g.sep), theme.muted())];
    let headline = app.model.face.as_ref().and_then(|f| f.headline.first());
    for (i, lane) in app.model.lanes.iter().enumerate() {
        let series = headline.and_then(|h| lane.evals.get(&h.metric));
        if let Some((_, d)) = series.and_then(|s| s.last()) {
            distances.push(Span::styled(format!("{} ", g.bullet), theme.lane_style(i)));
            distances.push(Span::raw(format!("{} ", format::num(f64::from(d)))));
        }
    }
    let width = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    if distances.len() > 1 && width(&title) + width(&distances) + 4 <= usize::from(area.width) {
        title.extend(distances);
    }
    let block = theme.block(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(heat) = &app.model.heatmap else {
        frame.render_widget(
            Paragraph::new(Line::styled("waiting for the heat map", theme.muted())),
            inner,
        );
        return;
    };
    if inner.is_empty() {
        return;
    }
    render_paths(frame, inner, heat, &app.model.lanes, theme);
    paint_heat(frame.buffer_mut(), inner, heat, theme);
}

fn render_paths(frame: &mut Frame, area: Rect, heat: &Heatmap, lanes: &[LaneData], theme: &Theme) {
    let g = theme.glyphs();
    let x = [f64::from(heat.x_range.0), f64::from(heat.x_range.1)];
    let y = [f64::from(heat.y_range.0), f64::from(heat.y_range.1)];
    let canvas = Canvas::default()
        .marker(theme.line_marker())
        .x_bounds(x)
        .y_bounds(y)
        .paint(|ctx| {
            for (i, lane) in lanes.iter().enumerate() {
                let color = theme.lane(i);
                let mut prev: Option<[f32; 2]> = None;
                for p in lane.trail.points() {
                    if let Some(q) = prev {
                        ctx.draw(&Segment::new(
                            f64::from(q[0]),
                            f64::from(q[1]),
                            f64::from(p[0]),
                            f64::from(p[1]),
                            color,
                        ));
                    }
                    prev = Some(p);
                }
                ctx.layer();
            }
            let [mx, my] = heat.minimum;
            ctx.print(
                f64::from(mx),
                f64::from(my),
                Span::styled(g.minimum, theme.strong().fg(theme.color(Color::White))),
            );
            for (i, lane) in lanes.iter().enumerate() {
                if let Some([sx, sy]) = lane.trail.first() {
                    ctx.print(
                        f64::from(sx),
                        f64::from(sy),
                        Span::styled(g.start, theme.lane_style(i)),
                    );
                }
                if let Some([cx, cy]) = lane.trail.last() {
                    let style = theme
                        .lane_style(i)
                        .add_modifier(ratatui::style::Modifier::BOLD);
                    ctx.print(f64::from(cx), f64::from(cy), Span::styled(g.bullet, style));
                }
            }
        });
    frame.render_widget(canvas, area);
}

/// log f at a point, normalised to `[0, 1]` over the map.
struct Shading<'a> {
    heat: &'a Heatmap,
    lo: f32,
    span: f32,
}

impl<'a> Shading<'a> {
    fn new(heat: &'a Heatmap) -> Self {
        let (lo, hi) = heat
            .values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let span = if hi > lo { hi - lo } else { 1.0 };
        Self { heat, lo, span }
    }

    fn at(&self, x: f32, y: f32) -> Option<f32> {
        let h = self.heat;
        if h.width == 0 || h.height == 0 || h.values.len() < h.width * h.height {
            return None;
        }
        let fx = (x - h.x_range.0) / (h.x_range.1 - h.x_range.0);
        let fy = (y - h.y_range.0) / (h.y_range.1 - h.y_range.0);
        let i = ((fx * h.width as f32).floor().max(0.0) as usize).min(h.width - 1);
        let j = ((fy * h.height as f32).floor().max(0.0) as usize).min(h.height - 1);
        let v = h.values[j * h.width + i];
        v.is_finite()
            .then(|| ((v - self.lo) / self.span).clamp(0.0, 1.0))
    }
}

fn paint_heat(buf: &mut Buffer, area: Rect, heat: &Heatmap, theme: &Theme) {
    let shading = Shading::new(heat);
    let (x0, x1) = heat.x_range;
    let (y0, y1) = heat.y_range;
    let (w, h) = (f32::from(area.width), f32::from(area.height));
    for row in 0..area.height {
        // Map coordinates of the upper and lower half of this terminal row.
        let y_at = |half: f32| y1 - (f32::from(row) * 2.0 + half + 0.5) / (2.0 * h) * (y1 - y0);
        for col in 0..area.width {
            let x = x0 + (f32::from(col) + 0.5) / w * (x1 - x0);
            let upper = shading.at(x, y_at(0.0));
            let lower = shading.at(x, y_at(1.0));
            let mean = match (upper, lower) {
                (Some(a), Some(b)) => Some(0.5 * (a + b)),
                (a, b) => a.or(b),
            };
            let cell = &mut buf[(area.x + col, area.y + row)];
            let empty = cell.symbol() == " ";
            match (theme.color, theme.ascii, empty) {
                (true, false, true) => {
                    cell.set_symbol("▀").set_style(
                        Style::new()
                            .fg(upper.map_or(Color::Reset, |t| theme.heat(t)))
                            .bg(lower.map_or(Color::Reset, |t| theme.heat(t))),
                    );
                }
                (true, _, _) => {
                    if let Some(t) = mean {
                        cell.set_bg(theme.heat(t));
                    }
                }
                (false, _, true) => {
                    if let Some(t) = mean {
                        cell.set_char(theme.shade(t));
                    }
                }
                (false, _, false) => {}
            }
        }
    }
}
