//! The optimizer list behind `o` (switch the focused lane) and `r` (race several): the preset's
//! alternatives, filtered by what is typed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::format;
use crate::optim::OptimizerSpec;
use crate::ui::app::Picker;
use crate::ui::layout::centered;
use crate::ui::theme::Theme;

/// What the list is for.
pub struct Purpose<'a> {
    pub race: bool,
    pub lane: usize,
    /// The focused lane's optimizer, marked in the list.
    pub current: Option<&'a OptimizerSpec>,
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    picker: &Picker,
    alternatives: &[OptimizerSpec],
    purpose: &Purpose,
    theme: &Theme,
) {
    if area.is_empty() {
        return;
    }
    let matches = picker.matches(alternatives);
    let title = if purpose.race {
        " Race from the current point: pick optimizers ".to_string()
    } else {
        format!(
            " Switch optimizer {} lane {} ",
            theme.glyphs().sep,
            purpose.lane
        )
    };
    let filter = if picker.filter.is_empty() {
        Line::styled(" type to filter", theme.muted())
    } else {
        Line::from(vec![
            Span::styled(" filter: ", theme.muted()),
            Span::styled(picker.filter.clone(), theme.strong()),
            Span::styled("_", theme.key()),
        ])
    };
    let items: Vec<Line> = if matches.is_empty() {
        vec![Line::styled(
            format!(" no optimizer matches \"{}\"", picker.filter),
            theme.muted(),
        )]
    } else {
        matches
            .iter()
            .enumerate()
            .map(|(row, &i)| {
                item(
                    &alternatives[i],
                    row == picker.cursor,
                    picker,
                    i,
                    purpose,
                    theme,
                )
            })
            .collect()
    };
    let longest = items.iter().map(Line::width).max().unwrap_or(0);
    let width = (longest.max(title.chars().count()) + 4) as u16;
    let visible = area.height.saturating_sub(6).max(1) as usize;
    let offset = picker.cursor.saturating_sub(visible.saturating_sub(1));
    let mut lines = vec![filter, Line::default()];
    lines.extend(items.into_iter().skip(offset).take(visible));
    let rect = centered(area, width.max(40), lines.len() as u16 + 2);
    let block = theme.block(Span::styled(title, theme.strong()));
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn item<'a>(
    spec: &OptimizerSpec,
    highlighted: bool,
    picker: &Picker,
    index: usize,
    purpose: &Purpose,
    theme: &Theme,
) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    if purpose.race {
        let mark = if picker.chosen.contains(&index) {
            format!("[{}] ", theme.glyphs().check)
        } else {
            "[ ] ".to_string()
        };
        spans.push(Span::styled(mark, theme.key()));
    }
    spans.push(Span::raw(format::spec_line(spec, theme.ascii)));
    if purpose.current.is_some_and(|c| c.name == spec.name) {
        spans.push(Span::styled("  (current)", theme.muted()));
    }
    spans.push(Span::raw(" "));
    let line = Line::from(spans);
    if highlighted {
        line.style(theme.highlight())
    } else {
        line
    }
}
