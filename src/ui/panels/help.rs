//! The `?` overlay: every key of the main screen (from the key table) and the current view
//! settings.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::ui::app::View;
use crate::ui::keys::{self, Action, NORMAL};
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

/// `read_only`: a view of records, where the keys that steer a run are marked unavailable.
pub fn render(frame: &mut Frame, area: Rect, view: &View, read_only: bool, theme: &Theme) {
    if area.is_empty() {
        return;
    }
    let key_width = NORMAL
        .iter()
        .map(|b| key_of(b, theme).chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<Line> = NORMAL
        .iter()
        .map(|b| {
            let key = format!(" {:>key_width$}  ", key_of(b, theme));
            if read_only && keys::steers(b.action) {
                let off = theme.muted().add_modifier(Modifier::CROSSED_OUT);
                Line::from(vec![
                    Span::styled(key, off),
                    Span::styled(b.help, off),
                    Span::styled(" (not in a view)", theme.muted()),
                ])
            } else if read_only && matches!(b.action, Action::Quit | Action::Detach) {
                let leave = "leave the view (a view never touches the run)";
                Line::from(vec![Span::styled(key, theme.key()), Span::raw(leave)])
            } else {
                Line::from(vec![Span::styled(key, theme.key()), Span::raw(b.help)])
            }
        })
        .collect();

    lines.push(Line::default());
    lines.push(Line::from(vec![
        Span::styled(" now: ", theme.muted()),
        Span::raw(format!(
            "{} {} {} {} y axis {} {} loss {}",
            view.smoothing_label(),
            theme.glyphs().sep,
            view.window_label(),
            theme.glyphs().sep,
            if view.log_y { "log" } else { "linear" },
            theme.glyphs().sep,
            view.x_axis.label(),
        )),
    ]));
    let width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 3;
    let rect = centered(area, width, lines.len() as u16 + 2);
    let title = if read_only {
        " Keys (read-only view of records) "
    } else {
        " Keys "
    };
    let block = theme.block(Span::styled(title, theme.strong()));
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn key_of(b: &crate::ui::keys::Binding, theme: &Theme) -> &'static str {
    if theme.ascii { b.ascii_keys } else { b.keys }
}
