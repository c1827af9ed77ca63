//! The task view: what the task itself says about the run. Quadratic → Hessian approximation
//! error; MNIST classifier → accuracy; Rosenbrock → heat map with trajectories; MNIST
//! autoregression → generated digits and validation bits per pixel.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::format;
use crate::task::TaskKind;
use crate::ui::app::App;
use crate::ui::plot::{Plot, Pt, Scale, Trace};
use crate::ui::traces::{self, Window};

use super::{digits, heatmap};

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    if area.is_empty() {
        return;
    }
    match app.model.task() {
        Some(TaskKind::Quadratic) => {
            let reported = |key: &str| app.model.lanes.iter().any(|l| l.evals.contains_key(key));
            // The Hessian error needs a learned preconditioner; without one (Adam, SGD, …) the
            // distance to the moving optimum is the task's own measure of progress.
            let metric = if reported("hessian_error") || !reported("distance_to_centre") {
                Metric {
                    key: "hessian_error",
                    title: if app.theme.ascii {
                        "Hessian error |I-GH|_F/sqrt(n)"
                    } else {
                        "Hessian error ‖I−GH‖_F/√n"
                    },
                    factor: 1.0,
                    unit: "",
                }
            } else {
                Metric {
                    key: "distance_to_centre",
                    title: if app.theme.ascii {
                        "Distance to the centre |x-c|"
                    } else {
                        "Distance to the centre ‖x−c‖"
                    },
                    factor: 1.0,
                    unit: "",
                }
            };
            render_metric(frame, area, app, &metric);
        }
        Some(TaskKind::MnistClassify) => {
            let key = accuracy_key(app).unwrap_or("test_accuracy");
            let metric = Metric {
                key,
                title: "Accuracy",
                factor: 100.0,
                unit: "%",
            };
            render_metric(frame, area, app, &metric);
        }
        Some(TaskKind::Rosenbrock) => heatmap::render(frame, area, app),
        Some(TaskKind::MnistAr) => digits::render(frame, area, app),
        None => {
            let block = app.theme.block(Span::styled(" Task ", app.theme.strong()));
            let inner = block.inner(area);
            frame.render_widget(block, area);
            let text = Line::styled("waiting for the trainer", app.theme.muted());
            frame.render_widget(Paragraph::new(text), inner);
        }
    }
}

/// The accuracy metric the task reports (its exact name is the task's choice).
fn accuracy_key(app: &App) -> Option<&str> {
    app.model
        .lanes
        .iter()
        .flat_map(|l| l.evals.keys())
        .find(|k| k.contains("accuracy"))
        .map(String::as_str)
}

/// An evaluation metric drawn per lane over steps.
pub struct Metric<'a> {
    pub key: &'a str,
    pub title: &'a str,
    /// Display factor (100 for percentages).
    pub factor: f64,
    pub unit: &'a str,
}

pub fn render_metric(frame: &mut Frame, area: Rect, app: &App, metric: &Metric) {
    let theme = &app.theme;
    let block = theme.block(Line::default());
    let inner = block.inner(area);
    let span = app.model.x_span().unwrap_or((0.0, 0.0));
    let window = Window::new(inner, theme, app.view.x_range(span), 0.0);
    let mut title = vec![Span::styled(format!(" {} ", metric.title), theme.strong())];
    let mut traces = Vec::new();
    for (i, lane) in app.model.lanes.iter().enumerate() {
        let Some(series) = lane.evals.get(metric.key) else {
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
