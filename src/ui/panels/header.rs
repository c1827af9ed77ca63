//! The header: what is running, where it is, how fast. Less important items drop out first when
//! the line is too narrow.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::format;
use crate::train::RunState;
use crate::ui::app::{App, Mode};
use crate::ui::model::{LaneData, Phase};
use crate::ui::theme::Theme;

/// Lines the header needs: a second one lists the lanes of a race.
pub fn height(app: &App) -> u16 {
    if app.model.lanes.len() > 1 { 2 } else { 1 }
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    if area.is_empty() {
        return;
    }
    let mut lines = vec![summary_line(app, area.width)];
    if app.model.lanes.len() > 1 {
        lines.push(lanes_line(app));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// A header item, how early it gives way when space runs out (higher = earlier; 0 = never) and
/// the shorter form it first gives way to, if any.
struct Item {
    spans: Vec<Span<'static>>,
    drop_rank: u8,
    short: Option<Vec<Span<'static>>>,
}

fn item(drop_rank: u8, spans: Vec<Span<'static>>) -> Item {
    Item {
        spans,
        drop_rank,
        short: None,
    }
}

fn summary_line(app: &App, width: u16) -> Line<'static> {
    let theme = &app.theme;
    let model = &app.model;
    // A served run's id takes the place of the program's name: it names the preset too, and it
    // is what `attach` and `stop` take.
    let name = app.run_id.clone().unwrap_or_else(|| "lodo-tui".to_string());
    let mut items = vec![item(0, vec![Span::styled(name, theme.strong())])];
    let Some(start) = &model.start else {
        items.push(phase_item(app));
        return fit(items, theme, width);
    };
    if app.run_id.is_none() {
        items.push(item(2, vec![Span::raw(start.preset.clone())]));
    }
    let params = format!("{} params", format::thousands(start.n_params as u64));
    // Titles may already state the size; say it once.
    let title = if start
        .task_title
        .contains(&format::thousands(start.n_params as u64))
    {
        start.task_title.clone()
    } else {
        format!("{} ({params})", start.task_title)
    };
    items.push(Item {
        spans: vec![Span::raw(title)],
        drop_rank: 5,
        short: Some(vec![Span::styled(params, theme.muted())]),
    });
    if let [lane] = model.lanes.as_slice() {
        items.push(item(0, optimizer_spans(lane, 0, theme)));
    }
    items.push(phase_item(app));
    let step = model.step();
    let step_text = match start.max_steps {
        Some(max) => format!(
            "step {}/{}",
            format::thousands(step),
            format::thousands(max)
        ),
        None => format!("step {}", format::thousands(step)),
    };
    items.push(item(0, vec![Span::raw(step_text)]));
    let running = model.phase() == Phase::Running;
    if let Some(rate) = model.steps_per_s().filter(|_| running) {
        let mut spans = vec![Span::raw(format::rate(rate))];
        if let Some(pace) = model.pace {
            spans.push(Span::styled(
                format!(" (max {})", format::rate(pace)),
                theme.muted(),
            ));
        }
        items.push(Item {
            short: Some(vec![Span::raw(format::rate(rate))]),
            drop_rank: 1,
            spans,
        });
        if let Some(max) = start.max_steps {
            let eta = max.saturating_sub(step) as f64 / rate;
            items.push(item(
                3,
                vec![
                    Span::styled("ETA ", theme.muted()),
                    Span::raw(format::duration(eta)),
                ],
            ));
        }
    }
    items.push(item(
        4,
        vec![
            Span::styled("elapsed ", theme.muted()),
            Span::raw(format::duration(model.t)),
        ],
    ));
    fit(items, theme, width)
}

/// Joins items with separators; while the line is too wide, the most expendable item (the
/// rightmost of the highest rank) is shortened or dropped.
fn fit(mut items: Vec<Item>, theme: &Theme, width: u16) -> Line<'static> {
    let sep = format!(" {} ", theme.glyphs().sep);
    let width_of = |items: &[Item]| -> usize {
        let text: usize = items.iter().flat_map(|i| &i.spans).map(|s| s.width()).sum();
        text + sep.chars().count() * items.len().saturating_sub(1) + 1
    };
    while width_of(&items) > usize::from(width) {
        let Some((at, _)) = items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.drop_rank > 0)
            .max_by_key(|(at, i)| (i.drop_rank, *at))
        else {
            break;
        };
        match items[at].short.take() {
            Some(short) => items[at].spans = short,
            None => {
                items.remove(at);
            }
        }
    }
    let mut spans = vec![Span::raw(" ")];
    for (n, i) in items.into_iter().enumerate() {
        if n > 0 {
            spans.push(Span::styled(sep.clone(), theme.muted()));
        }
        spans.extend(i.spans);
    }
    Line::from(spans)
}

fn phase_item(app: &App) -> Item {
    let theme = &app.theme;
    let g = theme.glyphs();
    if app.mode == Mode::Stopping {
        return item(
            0,
            vec![Span::styled(
                format!("stopping{}", g.ellipsis),
                theme.warn(),
            )],
        );
    }
    let (text, style) = match app.model.phase() {
        Phase::Waiting => (
            format!("waiting for the trainer{}", g.ellipsis),
            theme.muted(),
        ),
        Phase::Running => (format!("{} running", g.running), theme.ok()),
        Phase::Paused => (format!("{} paused", g.paused), theme.warn()),
        Phase::Diverged => (format!("{} diverged", g.diverged), theme.error()),
        Phase::Finished => (format!("{} finished", g.finished), theme.strong()),
        Phase::Failed(_) => (format!("{} failed", g.diverged), theme.error()),
    };
    item(0, vec![Span::styled(text, style)])
}

/// The lane's optimizer name in its colour; an unconfirmed switch is marked as pending.
pub fn optimizer_spans(lane: &LaneData, index: usize, theme: &Theme) -> Vec<Span<'static>> {
    let style = theme.lane_style(index).add_modifier(Modifier::BOLD);
    let mut spans = vec![Span::styled(lane.optimizer().name.clone(), style)];
    if lane.pending.is_some() {
        spans.push(Span::styled(theme.glyphs().ellipsis, theme.muted()));
    }
    spans
}

fn lanes_line(app: &App) -> Line<'static> {
    let theme = &app.theme;
    let g = theme.glyphs();
    let mut spans = vec![Span::raw(" ")];
    for (i, lane) in app.model.lanes.iter().enumerate() {
        let focused = i == app.view.focus;
        let marker = if focused { "[" } else { " " };
        spans.push(Span::styled(marker, theme.muted()));
        spans.push(Span::styled(g.bullet, theme.lane_style(i)));
        spans.push(Span::raw(format!(" {i} ")));
        spans.extend(optimizer_spans(lane, i, theme));
        let (glyph, style) = match lane.status.state {
            RunState::Running => (g.running, theme.ok()),
            RunState::Paused => (g.paused, theme.warn()),
            RunState::Diverged => (g.diverged, theme.error()),
            RunState::Finished => (g.finished, Style::new()),
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(glyph, style));
        spans.push(Span::raw(format!(" {}", format::thousands(lane.step()))));
        spans.push(Span::styled(if focused { "]" } else { " " }, theme.muted()));
        spans.push(Span::raw("  "));
    }
    Line::from(spans)
}
