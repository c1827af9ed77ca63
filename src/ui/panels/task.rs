//! The task view: what the task itself says about the run, as the task's face (sent with the
//! start message) asks: its headline metric per lane, the heat map with trajectories, or
//! generated digits with the validation bits per pixel.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::format;
use crate::task::{Headline, Panel};
use crate::ui::app::App;
use crate::ui::plot::{Plot, Pt, Scale, Trace};
use crate::ui::traces::{self, Window};

use super::{digits, heatmap};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    if area.is_empty() {
        return;
    }
    let Some(face) = &app.model.face else {
        let block = app.theme.block(Span::styled(" Task ", app.theme.strong()));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let text = Line::styled("waiting for the trainer", app.theme.muted());
        frame.render_widget(Paragraph::new(text), inner);
        return;
    };
    match face.panel {
        Panel::Chart => {
            if let Some(headline) = face.headline(|m| reported(app, m)) {
                render_metric(frame, area, app, headline);
            }
        }
        Panel::Heatmap => heatmap::render(frame, area, app),
        Panel::Digits => digits::render(frame, area, app),
    }
}

/// Whether any lane has reported the evaluation metric `metric`.
pub fn reported(app: &App, metric: &str) -> bool {
    app.model.lanes.iter().any(|l| l.evals.contains_key(metric))
}

/// An evaluation metric drawn per lane over steps.
pub fn render_metric(frame: &mut Frame, area: Rect, app: &App, metric: &Headline) {
    let theme = &app.theme;
    let block = theme.block(Line::default());
    let inner = block.inner(area);
    let span = app.model.x_span().unwrap_or((0.0, 0.0));
    let window = Window::new(inner, theme, app.view.x_range(span), 0.0);
    let mut title = vec![Span::styled(
        format!(" {} ", metric.title(theme.ascii)),
        theme.strong(),
    )];
    let mut traces = Vec::new();
    for (i, lane) in app.model.lanes.iter().enumerate() {
        let Some(series) = lane.evals.get(&metric.metric) else {
            continue;
        };
        let cols = window.columns_of(series);
        let mut trace = traces::line(&cols, theme.lane(i), theme.line_marker());
        scale(&mut trace, metric.factor);
        traces.push(trace);
        if let Some((_, v)) = series.last() {
            title.push(Span::styled(
                format!("{} ", theme.glyphs().bullet),
                theme.lane_style(i),
            ));
            title.push(Span::raw(format!(
                "{}{} ",
                format::num(f64::from(v) * metric.factor),
                metric.unit
            )));
        }
    }
    frame.render_widget(block.title(Line::from(title)), area);
    let empty = match &app.model.start {
        Some(s) if s.eval_interval > 0 => format!(
            "first evaluation at step {}",
            format::thousands(s.eval_interval)
        ),
        _ => "no evaluations yet".into(),
    };
    let plot = Plot {
        traces: &traces,
        x_range: window.x,
        scale: Scale::Linear,
        rules: &[],
        y_fixed: None,
        empty: &empty,
        theme,
    };
    frame.render_widget(&plot, inner);
}

pub fn scale(trace: &mut Trace, factor: f64) {
    if factor != 1.0 {
        for p in &mut trace.points {
            *p = Pt {
                x: p.x,
                lo: p.lo * factor,
                hi: p.hi * factor,
            };
        }
    }
}
