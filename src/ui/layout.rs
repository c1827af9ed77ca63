//! Where each panel goes for a terminal size.
//!
//! ```text
//! header (1–2 lines)
//! loss chart                         │ optimizer (LODO internals / summary)
//! step dynamics        │ task view
//! event log
//! key bar
//! ```
//! The event log shrinks first, then disappears on short terminals; below [`MIN_WIDTH`] ×
//! [`MIN_HEIGHT`] the screen only says it is too small.

use ratatui::layout::{Constraint, Layout, Rect};

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub loss: Rect,
    pub optimizer: Rect,
    pub dynamics: Rect,
    pub task: Rect,
    /// Empty when there is no room for the log.
    pub events: Rect,
    pub keys: Rect,
}

/// Splits the screen; `None` when it is too small to be useful.
pub fn split(area: Rect, header_lines: u16) -> Option<Areas> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let events = match area.height {
        0..22 => 0,
        22..30 => 4,
        _ => 6,
    };
    let [header, body, events, keys] = Layout::vertical([
        Constraint::Length(header_lines),
        Constraint::Min(0),
        Constraint::Length(events),
        Constraint::Length(1),
    ])
    .areas(area);
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(52), Constraint::Percentage(48)]).areas(body);
    let side = (area.width * 36 / 100).clamp(30, 64);
    let [loss, optimizer] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(side)]).areas(top);
    let [dynamics, task] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(bottom);
    Some(Areas {
        header,
        loss,
        optimizer,
        dynamics,
        task,
        events,
        keys,
    })
}

/// A `width × height` rectangle centred in `area`, shrunk to fit.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let (w, h) = (width.min(area.width), height.min(area.height));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(a: &Areas) -> [Rect; 7] {
        [
            a.header,
            a.loss,
            a.optimizer,
            a.dynamics,
            a.task,
            a.events,
            a.keys,
        ]
    }

    #[test]
    fn panels_tile_the_screen_without_overlap() {
        for (w, h) in [(60, 16), (80, 24), (120, 40), (160, 48), (400, 120)] {
            let screen = Rect::new(0, 0, w, h);
            let a = split(screen, 2).unwrap();
            let rects = all(&a);
            let area: u32 = rects.iter().map(|r| r.area()).sum();
            assert_eq!(area, screen.area(), "{w}x{h}");
            for (i, r) in rects.iter().enumerate() {
                assert!(screen.contains(r.as_position()) || r.is_empty());
                for s in &rects[i + 1..] {
                    assert!(!r.intersects(*s), "{w}x{h}: {r:?} overlaps {s:?}");
                }
            }
        }
    }

    #[test]
    fn small_terminals_collapse_then_refuse() {
        let a = split(Rect::new(0, 0, 80, 24), 1).unwrap();
        assert_eq!(a.events.height, 4);
        assert!(a.loss.height >= 8, "{:?}", a.loss);
        let a = split(Rect::new(0, 0, 70, 18), 1).unwrap();
        assert_eq!(a.events.height, 0);
        assert!(split(Rect::new(0, 0, 59, 30), 1).is_none());
        assert!(split(Rect::new(0, 0, 100, 15), 1).is_none());
        assert!(split(Rect::new(0, 0, 0, 0), 1).is_none());
    }
}
