//! Small centred boxes: quit confirmation, waiting for the trainer to stop, trainer failure.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use crate::ui::layout::centered;
use crate::ui::theme::Theme;

fn boxed(frame: &mut Frame, area: Rect, title: Span, lines: Vec<Line>, theme: &Theme, width: u16) {
    if area.is_empty() {
        return;
    }
    let inner_width = width.min(area.width.saturating_sub(2)).max(1);
    // Lines wrap in the box; count the rows they take.
    let rows: u16 = lines
        .iter()
        .map(|l| {
            (l.width() as u16)
                .div_ceil(inner_width.saturating_sub(2).max(1))
                .max(1)
        })
        .sum();
    let rect = centered(area, inner_width + 2, rows + 2);
    let block = theme.block(title);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

pub fn confirm_quit(frame: &mut Frame, area: Rect, theme: &Theme, attachable: bool) {
    let choices = if attachable {
        vec![
            Span::styled(" s", theme.key()),
            Span::styled(" stop the run · ", theme.muted()),
            Span::styled("d", theme.key()),
            Span::styled(" detach · ", theme.muted()),
            Span::styled("esc", theme.key()),
            Span::styled(" cancel", theme.muted()),
        ]
    } else {
        vec![
            Span::styled(" y", theme.key()),
            Span::styled(" quit   ", theme.muted()),
            Span::styled("esc", theme.key()),
            Span::styled(" keep training", theme.muted()),
        ]
    };
    let (question, width) = if attachable {
        (" Stop it, or detach and let it train?", 42)
    } else {
        (" Quit and stop it?", 36)
    };
    let lines = vec![
        Line::raw(" Training is still running."),
        Line::raw(question),
        Line::default(),
        Line::from(choices),
    ];
    boxed(
        frame,
        area,
        Span::styled(" Quit? ", theme.warn()),
        lines,
        theme,
        width,
    );
}

pub fn stopping(frame: &mut Frame, area: Rect, theme: &Theme) {
    let lines = vec![
        Line::raw(format!(
            " Waiting for the trainer to finish its step{}",
            theme.glyphs().ellipsis
        )),
        Line::from(vec![
            Span::styled(" ctrl-c", theme.key()),
            Span::styled(" quits without waiting", theme.muted()),
        ]),
    ];
    boxed(
        frame,
        area,
        Span::styled(" Stopping ", theme.warn()),
        lines,
        theme,
        50,
    );
}

pub fn failure(frame: &mut Frame, area: Rect, message: &str, theme: &Theme) {
    let mut lines: Vec<Line> = message
        .lines()
        .map(|l| Line::raw(format!(" {l}")))
        .collect();
    lines.push(Line::default());
    lines.push(Line::from(vec![
        Span::styled(" q", theme.key()),
        Span::styled(" quit   ", theme.muted()),
        Span::styled("esc", theme.key()),
        Span::styled(" look at the run", theme.muted()),
    ]));
    let width = (area.width * 2 / 3).max(40);
    let title = Span::styled(" The trainer failed ", theme.error());
    boxed(frame, area, title, lines, theme, width);
}
