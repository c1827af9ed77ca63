//! What a terminal below the minimum size shows instead of the dashboard.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::ui::layout::{MIN_HEIGHT, MIN_WIDTH};
use crate::ui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, theme: &Theme) {
    if area.is_empty() {
        return;
    }
    let lines = vec![
        Line::styled("terminal too small", theme.warn()),
        Line::raw(format!(
            "{}x{}, need {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        )),
        Line::styled("q quits", theme.muted()),
    ];
    let top = area.height.saturating_sub(lines.len() as u16) / 2;
    let rect = Rect::new(area.x, area.y + top, area.width, area.height - top);
    frame.render_widget(
        Paragraph::new(lines).centered().wrap(Wrap { trim: true }),
        rect,
    );
}
