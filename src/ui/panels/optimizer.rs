//! The focused lane's optimizer. For the LODO family: α0, meta-lr and β, the hypergradient norm
//! over time, the relative meta step, and per-layer hypergradient norms as bars. For any other
//! optimizer: its hyperparameters, the state summary it reports, and its effective learning rate.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::format;
use crate::ui::app::App;
use crate::ui::model::LaneData;
use crate::ui::plot::{Plot, Scale, Trace};
use crate::ui::theme::Theme;
use crate::ui::traces::{self, Window};

/// Rows the per-layer bars take (bars plus their caption) when there is room.
const BAR_ROWS: u16 = 5;
/// Layer norms this far below the largest are drawn as the shortest bar.
const BAR_DECADES: f32 = 4.0;

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let focus = app.view.focus;
    let lane = app.model.lanes.get(focus);
    let name = lane.map_or("Optimizer".to_string(), |l| l.optimizer().name.clone());
    let lodo = lane.is_some_and(LaneData::is_lodo);
    let heading = if lodo {
        "LODO internals".to_string()
    } else {
        name
    };
    let block = theme.block(Line::from(vec![
        Span::styled(format!(" {heading} "), theme.strong()),
        Span::styled(
            format!("{} lane {focus} ", theme.glyphs().sep),
            theme.muted(),
        ),
    ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(lane) = lane else {
        frame.render_widget(
            Paragraph::new(Line::styled("waiting for the trainer", theme.muted())),
            inner,
        );
        return;
    };
    let span = app.model.x_span().unwrap_or((0.0, 0.0));
    let window = Window::new(inner, theme, app.view.x_range(span), app.view.smoothing());
    if lodo {
        render_lodo(frame, inner, lane, focus, &window, theme);
    } else {
        render_other(frame, inner, lane, focus, &window, theme);
    }
}

/// `label value` pairs on one line, labels muted; packed tighter when `width` is short.
fn pairs(items: &[(&str, String)], theme: &Theme, width: u16) -> Line<'static> {
    let text: usize = items
        .iter()
        .map(|(k, v)| k.chars().count() + 1 + v.chars().count())
        .sum();
    let gap = if text + 2 * items.len() <= usize::from(width) {
        "  "
    } else {
        " "
    };
    let mut spans = Vec::new();
    for (i, (k, v)) in items.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(gap));
        }
        spans.push(Span::styled(format!("{k} "), theme.muted()));
        spans.push(Span::styled(v.clone(), theme.strong()));
    }
    Line::from(spans)
}

fn render_lodo(
    frame: &mut Frame,
    area: Rect,
    lane: &LaneData,
    index: usize,
    window: &Window,
    theme: &Theme,
) {
    let spec = lane.optimizer();
    let shown = |v: Option<f32>| v.map_or("default".into(), |v| format::num(f64::from(v)));
    let (alpha, beta, hyper, meta) = if theme.ascii {
        ("a0", "beta", "hgrad", "dth/th")
    } else {
        ("α0", "β", "‖∇θ‖", "‖Δθ‖/‖θ‖")
    };
    let hyper_cols = window.columns_of(&lane.hypergrad);
    let meta_cols = window.columns_of(&lane.rel_meta_step);
    let latest = |cols: &[crate::ui::history::Column]| {
        cols.last()
            .map_or("–".into(), |c| format::num(f64::from(c.smooth)))
    };
    let bars = area.height >= 6 + BAR_ROWS && !lane.layer_hypergrad.is_empty();
    let [params, stats, chart, bar_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(if bars { BAR_ROWS } else { 0 }),
    ])
    .areas(area);
    let values = [shown(spec.lr), shown(spec.meta_lr), shown(spec.beta)];
    let packed = |meta: &str| {
        let text: usize = [alpha, meta, beta]
            .iter()
            .zip(&values)
            .map(|(k, v)| k.chars().count() + v.chars().count() + 2)
            .sum();
        text <= usize::from(area.width) + 1
    };
    // "meta" only when "meta-lr" does not fit even packed tight.
    let meta_lr = if packed("meta-lr") { "meta-lr" } else { "meta" };
    let [lr, mlr, b] = values;
    let params_line = pairs(&[(alpha, lr), (meta_lr, mlr), (beta, b)], theme, area.width);
    frame.render_widget(Paragraph::new(params_line), params);
    let stats_line = pairs(
        &[(hyper, latest(&hyper_cols)), (meta, latest(&meta_cols))],
        theme,
        area.width,
    );
    frame.render_widget(Paragraph::new(stats_line), stats);
    let trace = if window.smoothing > 0.0 {
        vec![
            traces::band(&hyper_cols, theme.lane_dim(index), theme.raw_marker()),
            traces::smooth(&hyper_cols, theme.lane(index), theme.line_marker()),
        ]
    } else {
        vec![traces::band(
            &hyper_cols,
            theme.lane(index),
            theme.line_marker(),
        )]
    };
    render_chart(frame, chart, &trace, window, "no hypergradient yet", theme);
    if bars {
        let [caption, bars] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(bar_area);
        let norms = &lane.layer_hypergrad;
        let (lo, hi) = bar_range(norms);
        let text = format!(
            "{hyper} per layer 1{}{} (log, {}{}{})",
            if theme.ascii { "-" } else { "–" },
            norms.len(),
            format::num(f64::from(lo)),
            theme.glyphs().ellipsis,
            format::num(f64::from(hi)),
        );
        frame.render_widget(Paragraph::new(Line::styled(text, theme.muted())), caption);
        frame.render_widget(
            Bars {
                values: norms,
                range: (lo, hi),
                theme,
                color: theme.lane(index),
            },
            bars,
        );
    }
}

fn render_other(
    frame: &mut Frame,
    area: Rect,
    lane: &LaneData,
    index: usize,
    window: &Window,
    theme: &Theme,
) {
    let fields = format::spec_fields(lane.optimizer(), theme.ascii);
    let summary = &lane.status.summary;
    let text_rows = 1 + summary.len() as u16;
    let [params, table, label, chart] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(summary.len() as u16),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    let params_line = if fields.is_empty() {
        Line::styled("default hyperparameters", theme.muted())
    } else {
        let owned: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, v.clone())).collect();
        pairs(&owned, theme, area.width)
    };
    frame.render_widget(Paragraph::new(params_line), params);
    let key_width = summary
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let rows: Vec<Line> = summary
        .iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!("{k:<key_width$}  "), theme.muted()),
                Span::raw(v.clone()),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(rows), table);
    if area.height < text_rows + 5 {
        return;
    }
    let lr_cols = window.columns_of(&lane.effective_lr);
    let latest = lr_cols
        .last()
        .map_or("–".into(), |c| format::num(f64::from(c.smooth)));
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("effective lr ", theme.muted()),
            Span::raw(latest),
        ])),
        label,
    );
    let trace = if window.smoothing > 0.0 {
        traces::smooth(&lr_cols, theme.lane(index), theme.line_marker())
    } else {
        traces::band(&lr_cols, theme.lane(index), theme.line_marker())
    };
    render_chart(frame, chart, &[trace], window, "no steps yet", theme);
}

fn render_chart(
    frame: &mut Frame,
    area: Rect,
    traces: &[Trace],
    window: &Window,
    empty: &str,
    theme: &Theme,
) {
    let plot = Plot {
        traces,
        x_range: window.x,
        scale: Scale::Log,
        rules: &[],
        y_fixed: None,
        empty,
        theme,
    };
    frame.render_widget(&plot, area);
}

/// The log range the bars span: from the smallest norm to the largest, but at least one decade
/// (so small differences are not blown up) and at most `BAR_DECADES`.
fn bar_range(values: &[f32]) -> (f32, f32) {
    let hi = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f32, f32::max);
    if hi <= 0.0 {
        return (0.0, 0.0);
    }
    let lo = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(hi, f32::min)
        .min(hi / 10.0)
        .max(hi / 10f32.powf(BAR_DECADES));
    (lo, hi)
}

/// Vertical bars on a log scale, one per layer, with eighth-block tops (or `#` in ASCII).
struct Bars<'a> {
    values: &'a [f32],
    range: (f32, f32),
    theme: &'a Theme,
    color: ratatui::style::Color,
}

impl Widget for Bars<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() || self.values.is_empty() {
            return;
        }
        let n = self.values.len() as u16;
        let (width, gap) = if n * 3 <= area.width {
            (2, 1)
        } else if n * 2 <= area.width {
            (1, 1)
        } else {
            (1, 0)
        };
        let (lo, hi) = (
            self.range.0.max(f32::MIN_POSITIVE).log10(),
            self.range.1.log10(),
        );
        let eighths_total = u32::from(area.height) * 8;
        let style = self.theme.fg(self.color);
        for (i, &v) in self.values.iter().enumerate() {
            let x = area.x + i as u16 * (width + gap);
            if x + width > area.right() {
                break;
            }
            let frac = if !(v.is_finite() && v > 0.0) {
                0.0
            } else if hi > lo {
                ((v.log10() - lo) / (hi - lo)).clamp(0.0, 1.0)
            } else {
                1.0
            };
            // Every positive norm gets at least a sliver, so "tiny" never reads as "missing".
            let eighths = if v > 0.0 {
                1 + (frac * (eighths_total - 1) as f32).round() as u32
            } else {
                0
            };
            for row in 0..area.height {
                let filled = eighths.saturating_sub(u32::from(row) * 8).min(8);
                let symbol = bar_symbol(filled, self.theme.ascii);
                let y = area.bottom() - 1 - row;
                for dx in 0..width {
                    buf[(x + dx, y)].set_symbol(symbol).set_style(style);
                }
            }
        }
    }
}

fn bar_symbol(eighths: u32, ascii: bool) -> &'static str {
    if ascii {
        return if eighths >= 4 { "#" } else { " " };
    }
    [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"][eighths.min(8) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_range_spans_at_most_four_decades() {
        assert_eq!(bar_range(&[1e-3, 1e-4, 1e-5]), (1e-5, 1e-3));
        // Norms within a factor of 2 still get a decade, so their bars look alike.
        assert_eq!(bar_range(&[2.0, 1.5, 1.0]), (0.2, 2.0));
        let (lo, hi) = bar_range(&[1.0, 1e-9, 0.0]);
        assert_eq!(hi, 1.0);
        assert!((lo - 1e-4).abs() < 1e-9);
        assert_eq!(bar_range(&[0.0, f32::NAN]), (0.0, 0.0));
    }

    #[test]
    fn bars_grow_with_the_value() {
        let theme = Theme::new(false, false);
        let area = Rect::new(0, 0, 9, 2);
        let mut buf = Buffer::empty(area);
        Bars {
            values: &[1e-4, 1e-2, 1.0],
            range: (1e-4, 1.0),
            theme: &theme,
            color: ratatui::style::Color::Reset,
        }
        .render(area, &mut buf);
        let col = |x: u16| -> String { (0..2).map(|y| buf[(x, y)].symbol().to_string()).collect() };
        assert_eq!(col(0), " ▁"); // smallest: a sliver
        assert_eq!(col(3), "▁█"); // middle: 1 + 8 of 16 eighths
        assert_eq!(col(6), "██"); // largest: full
    }
}
