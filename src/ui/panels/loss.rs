//! The loss chart: every lane's raw loss (dim) and EMA, validation loss as dots, optimizer and
//! hyperparameter changes as dotted rules (over steps), optional log axis, x over steps,
//! gradient evaluations or wall time.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};

use crate::format;
use crate::ui::app::{App, XAxis, smoothing_label};
use crate::ui::plot::{Plot, Scale};
use crate::ui::traces::{self, Window};

/// The evaluation metric drawn over the training loss.
const VALIDATION: &str = "val_loss";

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    if area.is_empty() {
        return;
    }
    let (theme, view, model) = (&app.theme, &app.view, &app.model);
    let g = theme.glyphs();
    let block = theme.block(Line::default());
    let inner = block.inner(area);
    let x_axis = view.x_axis;
    let span = model.x_span_of(x_axis).unwrap_or((0.0, 0.0));
    let window = Window::new(inner, theme, view.x_range(span), view.smoothing());
    // The smoothing actually applied (capped by the window), not just the one asked for.
    let axis = if view.log_y { "log" } else { "linear" };
    // The x axis is named when it is not the steps every other chart uses.
    let mut settings = vec![
        smoothing_label(window.smoothing),
        view.window_label(),
        axis.to_string(),
    ];
    if x_axis != XAxis::Steps {
        settings.push(x_axis.label().to_string());
    }
    let sep = format!(" {} ", g.sep);
    let title = vec![
        Span::styled(" Loss ", theme.strong()),
        Span::styled(format!("{} {} ", g.sep, settings.join(&sep)), theme.muted()),
    ];
    // Every lane's raw band first, then the lines, then validation dots: no lane's raw data
    // hides another lane's line.
    let (mut bands, mut lines, mut dots) = (Vec::new(), Vec::new(), Vec::new());
    let mut legend = Vec::new();
    let mut any_val = false;
    for (i, lane) in model.lanes.iter().enumerate() {
        let (mut lane_traces, last) =
            traces::raw_and_smooth(lane.loss_over(x_axis), &window, i, theme);
        if lane_traces.len() > 1 {
            lines.extend(lane_traces.pop());
        }
        bands.append(&mut lane_traces);
        if let Some(val) = lane.evals_over(x_axis).get(VALIDATION) {
            let cols = window.columns_of(val);
            any_val |= !cols.is_empty();
            dots.push(traces::dots(&cols, theme.lane(i), theme.dot_marker()));
        }
        legend.push((i, lane.optimizer().name.clone(), last));
    }
    let mut traces = bands;
    traces.append(&mut lines);
    traces.append(&mut dots);
    // A lane's changes in that lane's (dim) colour; run-wide ones (a race) in grey. They are
    // known by step only, so they show on the steps axis.
    let rules: Vec<(f64, Color)> = model
        .rules
        .iter()
        .filter(|_| x_axis == XAxis::Steps)
        .map(|&(lane, step)| {
            let color = lane.map_or(theme.marker_color(), |l| theme.lane_dim(l));
            (step as f64, color)
        })
        .filter(|(x, _)| (window.x.0..=window.x.1).contains(x))
        .collect();
    let legend = legend_line(app, &legend, any_val, area.width, &title);
    let block = block.title(Line::from(title)).title(legend.right_aligned());
    frame.render_widget(block, area);
    let plot = Plot {
        traces: &traces,
        x_range: window.x,
        scale: if view.log_y {
            Scale::Log
        } else {
            Scale::Linear
        },
        rules: &rules,
        y_fixed: None,
        empty: match x_axis {
            XAxis::GradEvals if model.lanes.iter().any(|l| !l.loss.is_empty()) => {
                "no gradient-evaluation counts (a run resumed from an older checkpoint)"
            }
            _ => "waiting for the first step",
        },
        theme,
    };
    frame.render_widget(&plot, inner);
}

/// `● lodo 0.734  ● adam 0.801  • val`, shortened (values, then names) to fit beside the title.
fn legend_line(
    app: &App,
    lanes: &[(usize, String, Option<f32>)],
    any_val: bool,
    width: u16,
    title: &[Span],
) -> Line<'static> {
    let theme = &app.theme;
    let g = theme.glyphs();
    let room =
        usize::from(width).saturating_sub(title.iter().map(|s| s.width()).sum::<usize>() + 4);
    for detail in [2, 1, 0] {
        let mut spans = Vec::new();
        for (i, name, last) in lanes {
            spans.push(Span::styled(format!("{} ", g.bullet), theme.lane_style(*i)));
            if detail >= 1 {
                spans.push(Span::styled(name.clone(), theme.lane_style(*i)));
            }
            if let (2, Some(v)) = (detail, last) {
                spans.push(Span::raw(format!(" {}", format::num(f64::from(*v)))));
            }
            spans.push(Span::raw(" "));
        }
        if any_val && detail >= 1 {
            let dot = if theme.ascii { "o" } else { "•" };
            // Said when there is room.
            let subset = app.model.face.as_ref().is_some_and(|f| f.val_subset);
            let what = if subset && detail == 2 {
                "val subset"
            } else {
                "val"
            };
            spans.push(Span::styled(format!("{dot} {what} "), theme.muted()));
        }
        if spans.iter().map(|s| s.width()).sum::<usize>() <= room {
            return Line::from(spans);
        }
    }
    Line::default()
}
