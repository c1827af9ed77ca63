//! The event log: swaps, rate changes, pauses, divergence, checkpoints, newest at the bottom.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::format;
use crate::train::{Event, EventKind};
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
    let width = usize::from(inner.width);
    // Newest first until the panel is full; an older event keeps all its lines or is left out,
    // the newest one is cut to the panel if it must be.
    let mut groups: Vec<Vec<Line>> = Vec::new();
    let mut used = 0;
    for e in events.rev() {
        let mut group = lines(e, lanes, theme, width);
        if used + group.len() > rows {
            if !groups.is_empty() {
                break;
            }
            group.truncate(rows);
        }
        used += group.len();
        groups.push(group);
    }
    let mut text: Vec<Line> = groups.into_iter().rev().flatten().collect();
    if text.is_empty() {
        text.push(Line::styled(
            "nothing yet: swaps, rate changes, pauses and checkpoints appear here",
            theme.muted(),
        ));
    }
    frame.render_widget(Paragraph::new(text), inner);
}

/// Lines an event's detail may wrap onto before it is cut.
const MAX_LINES: usize = 3;

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

/// The event as `step  lane  kind  detail`, the detail wrapped under itself at word boundaries.
fn lines<'a>(e: &Event, lanes: usize, theme: &Theme, width: usize) -> Vec<Line<'a>> {
    let g = theme.glyphs();
    let mut prefix = vec![Span::styled(
        format!("{:>9} ", format::thousands(e.step)),
        theme.muted(),
    )];
    // The lane only matters (and is only shown) when there are several.
    if lanes > 1 {
        match e.lane {
            Some(l) => prefix.push(Span::styled(
                format!("{} {l} ", g.bullet),
                theme.lane_style(l),
            )),
            None => prefix.push(Span::raw("    ")),
        }
    }
    prefix.push(Span::styled(
        format!("{:<10} ", kind_label(e.kind)),
        kind_style(e.kind, theme),
    ));
    let indent: usize = prefix.iter().map(Span::width).sum();
    let detail = if theme.ascii {
        e.detail.clone()
    } else {
        e.detail.replace("->", g.arrow)
    };
    let mut chunks = wrap(&detail, width.saturating_sub(indent).max(8));
    if chunks.len() > MAX_LINES {
        chunks.truncate(MAX_LINES);
        if let Some(last) = chunks.last_mut() {
            last.push_str(g.ellipsis);
        }
    }
    let mut out = Vec::with_capacity(chunks.len());
    for (i, chunk) in chunks.into_iter().enumerate() {
        let mut spans = if i == 0 {
            prefix.clone()
        } else {
            vec![Span::raw(" ".repeat(indent))]
        };
        spans.push(Span::raw(chunk));
        out.push(Line::from(spans));
    }
    out
}

/// Splits `text` into pieces of at most `width` characters, at spaces where possible.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while rest.len() > width {
        let cut = rest[..=width]
            .iter()
            .rposition(|c| *c == ' ')
            .filter(|&at| at > 0)
            .unwrap_or(width);
        out.push(rest[..cut].iter().collect());
        let skip = usize::from(rest.get(cut) == Some(&' '));
        rest.drain(..cut + skip);
    }
    out.push(rest.into_iter().collect());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn event(step: u64, detail: &str) -> Event {
        Event {
            lane: None,
            step,
            t: 0.0,
            kind: EventKind::Race,
            detail: detail.into(),
        }
    }

    fn shown(events: &[Event], width: u16, height: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
        let theme = Theme::new(false, false);
        t.draw(|f| render(f, f.area(), events.iter(), 1, &theme))
            .unwrap();
        let buf = t.backend().buffer();
        (0..height)
            .map(|y| (0..width).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
            .collect()
    }

    #[test]
    fn the_newest_event_shows_even_when_it_is_long() {
        let long = "race from step 300: ".to_string() + &"lodo(beta=0.9, depth=16) ".repeat(6);
        let text = shown(&[event(1, "old"), event(300, &long)], 60, 4);
        assert!(text.contains("300 race"), "{text}");
        assert!(!text.contains(" old"), "{text}");
        // Short events fill the panel newest last.
        let text = shown(
            &[event(1, "first"), event(2, "second"), event(3, "third")],
            60,
            4,
        );
        assert!(!text.contains("first") && text.contains("second") && text.contains("third"));
        assert!(text.find("second") < text.find("third"));
    }

    #[test]
    fn wrap_breaks_at_spaces_and_long_words() {
        assert_eq!(wrap("lodo -> adam", 40), vec!["lodo -> adam"]);
        assert_eq!(
            wrap("race from step 0: lodo, adam, momentum", 16),
            vec!["race from step", "0: lodo, adam,", "momentum"]
        );
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), vec![""]);
    }
}
