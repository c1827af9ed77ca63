//! The event log: swaps, rate changes, pauses, divergence, checkpoints, newest at the bottom.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::train::{Event, EventKind};
use crate::ui::format;
use crate::ui::theme::Theme;

pub fn render<'a>(
    frame: &mut Frame,
    area: Rect,
    events: impl DoubleEndedIterator<Item = &'a Event>,
    lanes: usize,
    theme: &Theme,
) {
    if area.is_empty() {
        return;
    }
    let block = theme.block(Span::styled(" Events ", theme.strong()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = usize::from(inner.height);
    let mut lines: Vec<Line> = events
        .rev()
        .take(rows)
        .map(|e| line(e, lanes, theme))
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled(
            "nothing yet: swaps, rate changes, pauses and checkpoints appear here",
            theme.muted(),
        ));
    }
    lines.reverse();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn kind_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Switch => "switch",
        EventKind::Reset => "reset",
        EventKind::Lr => "lr",
        EventKind::MetaLr => "meta-lr",
        EventKind::Pause => "pause",
        EventKind::Resume => "resume",
        EventKind::Diverged => "diverged",
        EventKind::Checkpoint => "checkpoint",
        EventKind::Race => "race",
        EventKind::Generate => "generate",
        EventKind::Info => "info",
        EventKind::Error => "error",
    }
}

fn kind_style(kind: EventKind, theme: &Theme) -> Style {
    match kind {
        EventKind::Diverged | EventKind::Error => theme.error(),
        EventKind::Pause => theme.warn(),
        EventKind::Checkpoint | EventKind::Resume => theme.ok(),
        _ => theme.strong(),
    }
}

fn line<'a>(e: &Event, lanes: usize, theme: &Theme) -> Line<'a> {
    let g = theme.glyphs();
    let mut spans = vec![Span::styled(
        format!("{:>9} ", format::thousands(e.step)),
        theme.muted(),
    )];
    // The lane only matters (and is only shown) when there are several.
    if lanes > 1 {
        match e.lane {
            Some(l) => spans.push(Span::styled(
                format!("{} {l} ", g.bullet),
                theme.lane_style(l),
            )),
            None => spans.push(Span::raw("    ")),
        }
    }
    spans.push(Span::styled(
        format!("{:<10} ", kind_label(e.kind)),
        kind_style(e.kind, theme),
    ));
    let detail = if theme.ascii {
        e.detail.clone()
    } else {
        e.detail.replace("->", g.arrow)
    };
    spans.push(Span::raw(detail));
    Line::from(spans)
}
