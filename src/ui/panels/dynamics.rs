//! Step dynamics of the focused lane: ‖Δx‖ and ‖g‖ on a log axis, cos(Δx, −g) below when there
//! is room, and the current (smoothed) values including the effective learning rate.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::format;
use crate::ui::app::App;
use crate::ui::history::Column;
use crate::ui::model::LaneData;
use crate::ui::plot::{Plot, Scale, Trace};
use crate::ui::theme::Theme;
use crate::ui::traces::{self, Window};

/// Rows below which the cosine gets no chart of its own.
const COS_CHART_MIN_ROWS: u16 = 14;

/// Names with an ASCII twin.
pub struct Labels {
    pub step: &'static str,
    pub grad: &'static str,
    pub cos: &'static str,
    pub lr: &'static str,
}

pub fn labels(theme: &Theme) -> Labels {
    if theme.ascii {
        Labels {
            step: "|dx|",
            grad: "|g|",
            cos: "cos(dx,-g)",
            lr: "lr_eff",
        }
    } else {
        Labels {
            step: "‖Δx‖",
            grad: "‖g‖",
            cos: "cos(Δx,−g)",
            lr: "lr_eff",
        }
    }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let focus = app.view.focus;
    let lane = app.model.lanes.get(focus);
    let title = title(
        theme,
        focus,
        lane.map(|l| l.optimizer().name.as_str()),
        usize::from(area.width.saturating_sub(2)),
    );
    let block = theme.block(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(lane) = lane else {
        frame.render_widget(
            Paragraph::new(Line::styled("waiting for the first step", theme.muted())),
            inner,
        );
        return;
    };
    let span = app.model.x_span().unwrap_or((0.0, 0.0));
    let window = Window::new(inner, theme, app.view.x_range(span), app.view.smoothing());
    render_lane(frame, inner, lane, focus, &window, theme);
}

/// The title, fitted to `width` columns: "Step dynamics" becomes "Dynamics", then the lane's
/// optimizer name (long in a `view` of several records: `lodo (run-name)`) is cut with an ellipsis.
fn title(theme: &Theme, focus: usize, name: Option<&str>, width: usize) -> Line<'static> {
    let g = theme.glyphs();
    let Some(name) = name else {
        return Line::styled(" Step dynamics ", theme.strong());
    };
    let lane = format!("{} lane {focus} ", g.sep);
    let columns = |s: &str| s.chars().count();
    let head = [" Step dynamics ", " Dynamics "]
        .into_iter()
        .find(|h| columns(h) + columns(&lane) + columns(name) < width)
        .unwrap_or(" Dynamics ");
    let room = width.saturating_sub(columns(head) + columns(&lane) + 1);
    let name = if columns(name) <= room {
        name.to_string()
    } else {
        let keep = room.saturating_sub(columns(g.ellipsis));
        format!(
            "{}{}",
            name.chars().take(keep).collect::<String>(),
            g.ellipsis
        )
    };
    Line::from(vec![
        Span::styled(head, theme.strong()),
        Span::styled(lane, theme.muted()),
        Span::styled(format!("{name} "), theme.lane_style(focus)),
    ])
}

fn render_lane(
    frame: &mut Frame,
    area: Rect,
    lane: &LaneData,
    index: usize,
    window: &Window,
    theme: &Theme,
) {
    let grad_color = theme.color(Color::Gray);
    let steps = window.columns_of(&lane.step_norm);
    let grads = window.columns_of(&lane.grad_norm);
    let cos = window.columns_of(&lane.cos);
    let lr = window.columns_of(&lane.effective_lr);
    let l = labels(theme);
    let line_glyph = if theme.ascii { "- " } else { "━ " };
    let value = |cols: &[Column]| {
        cols.last()
            .map_or("–".into(), |c| format::num(f64::from(c.smooth)))
    };
    let norms_spans = vec![
        Span::styled(line_glyph, theme.lane_style(index)),
        Span::styled(l.step, theme.muted()),
        Span::raw(format!(" {}  ", value(&steps))),
        Span::styled(line_glyph, theme.fg(grad_color)),
        Span::styled(l.grad, theme.muted()),
        Span::raw(format!(" {}  ", value(&grads))),
    ];
    let direction_spans = vec![
        Span::styled("cos ", theme.muted()),
        Span::raw(format!("{}  ", value(&cos))),
        Span::styled(format!("{} ", l.lr), theme.muted()),
        Span::raw(value(&lr)),
    ];
    let width = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    // One line when it fits, else the norms and the direction on a line each.
    let stats_lines = if width(&norms_spans) + width(&direction_spans) <= usize::from(area.width) {
        vec![Line::from([norms_spans, direction_spans].concat())]
    } else {
        vec![Line::from(norms_spans), Line::from(direction_spans)]
    };
    let with_cos = area.height >= COS_CHART_MIN_ROWS;
    let [stats, norms, cos_label, cos_area] = Layout::vertical([
        Constraint::Length(stats_lines.len() as u16),
        Constraint::Min(0),
        Constraint::Length(u16::from(with_cos)),
        Constraint::Length(if with_cos { area.height / 3 } else { 0 }),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(stats_lines), stats);
    let marker = theme.line_marker();
    let norm_traces = if window.smoothing > 0.0 {
        vec![
            traces::smooth(&grads, grad_color, marker),
            traces::smooth(&steps, theme.lane(index), marker),
        ]
    } else {
        vec![
            traces::band(&grads, grad_color, marker),
            traces::band(&steps, theme.lane(index), marker),
        ]
    };
    render_plot(frame, norms, &norm_traces, window, Scale::Log, None, theme);
    if with_cos {
        frame.render_widget(
            Paragraph::new(Line::styled(l.cos, theme.muted())),
            cos_label,
        );
        let cos_trace = if window.smoothing > 0.0 {
            traces::smooth(&cos, theme.lane(index), marker)
        } else {
            traces::band(&cos, theme.lane(index), marker)
        };
        let fixed = Some((-1.0, 1.0));
        render_plot(
            frame,
            cos_area,
            &[cos_trace],
            window,
            Scale::Linear,
            fixed,
            theme,
        );
    }
}

fn render_plot(
    frame: &mut Frame,
    area: Rect,
    traces: &[Trace],
    window: &Window,
    scale: Scale,
    y_fixed: Option<(f64, f64)>,
    theme: &Theme,
) {
    let plot = Plot {
        traces,
        x_range: window.x,
        scale,
        rules: &[],
        y_fixed,
        empty: "waiting for the first step",
        theme,
    };
    frame.render_widget(&plot, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> String {
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn the_title_shortens_before_it_is_cut_by_the_border() {
        let theme = Theme::new(false, false);
        let name = "lodo (quadratic-lodo-seed0)";
        let wide = text(&title(&theme, 0, Some(name), 78));
        assert_eq!(wide, " Step dynamics · lane 0 lodo (quadratic-lodo-seed0) ");
        let narrow = text(&title(&theme, 0, Some(name), 32));
        assert_eq!(narrow.chars().count(), 32, "{narrow}");
        assert!(narrow.starts_with(" Dynamics · lane 0 lodo (q"), "{narrow}");
        assert!(narrow.ends_with("… "), "{narrow}");
        let fits = text(&title(&theme, 1, Some("adam"), 32));
        assert_eq!(fits, " Step dynamics · lane 1 adam ");
    }
}
