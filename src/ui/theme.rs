//! Colours, plot markers and glyphs, decided once from the options: colour or `NO_COLOR`, Unicode
//! or ASCII. Every panel asks the theme, so the two fallbacks are honoured everywhere.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::{Marker, border};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders};

/// Lane colours (bright for lines and names, dim for raw data behind them). Red is kept for errors
/// and divergence, so no lane uses it.
const LANES: [(Color, Color); 6] = [
    (Color::Cyan, Color::Indexed(23)),
    (Color::Yellow, Color::Indexed(58)),
    (Color::Magenta, Color::Indexed(53)),
    (Color::Green, Color::Indexed(22)),
    (Color::LightBlue, Color::Indexed(60)),
    (Color::LightRed, Color::Indexed(52)),
];

const ASCII_BORDER: border::Set = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// ASCII shading from empty to full, for heat maps and digits without colour or without Unicode.
const ASCII_SHADES: &[char] = &[' ', '.', ':', '-', '=', '+', '*', '#', '%', '@'];
const UNICODE_SHADES: &[char] = &[' ', '░', '▒', '▓', '█'];

/// Glyphs with an ASCII twin.
#[derive(Clone, Copy, Debug)]
pub struct Glyphs {
    pub arrow: &'static str,
    pub sep: &'static str,
    pub bullet: &'static str,
    pub running: &'static str,
    pub paused: &'static str,
    pub diverged: &'static str,
    pub finished: &'static str,
    pub up_down: &'static str,
    pub ellipsis: &'static str,
    pub check: &'static str,
    pub minimum: &'static str,
    pub start: &'static str,
}

const UNICODE_GLYPHS: Glyphs = Glyphs {
    arrow: "→",
    sep: "·",
    bullet: "●",
    running: "▶",
    paused: "‖",
    diverged: "✗",
    finished: "■",
    up_down: "↑↓",
    ellipsis: "…",
    check: "✓",
    minimum: "✕",
    start: "○",
};

const ASCII_GLYPHS: Glyphs = Glyphs {
    arrow: "->",
    sep: "|",
    bullet: "*",
    running: ">",
    paused: "=",
    diverged: "!",
    finished: "#",
    up_down: "up/down",
    ellipsis: "...",
    check: "x",
    minimum: "X",
    start: "o",
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    pub ascii: bool,
}

impl Theme {
    pub fn new(color: bool, ascii: bool) -> Self {
        Self { color, ascii }
    }

    pub fn glyphs(&self) -> &'static Glyphs {
        if self.ascii {
            &ASCII_GLYPHS
        } else {
            &UNICODE_GLYPHS
        }
    }

    /// A colour, or the terminal default under `NO_COLOR`.
    pub fn color(&self, c: Color) -> Color {
        if self.color { c } else { Color::Reset }
    }

    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn lane(&self, lane: usize) -> Color {
        self.color(LANES[lane % LANES.len()].0)
    }

    pub fn lane_dim(&self, lane: usize) -> Color {
        self.color(LANES[lane % LANES.len()].1)
    }

    pub fn lane_style(&self, lane: usize) -> Style {
        self.fg(self.lane(lane))
    }

    /// Secondary text: labels, units, axis ticks.
    pub fn muted(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// Grid-like decorations drawn under data (event markers on charts).
    pub fn marker_color(&self) -> Color {
        self.color(Color::DarkGray)
    }

    pub fn strong(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn highlight(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn border_set(&self) -> border::Set<'static> {
        if self.ascii {
            ASCII_BORDER
        } else {
            border::ROUNDED
        }
    }

    /// A bordered panel with a title; the focused panel's border is brighter.
    pub fn block<'a>(&self, title: impl Into<Line<'a>>) -> Block<'a> {
        Block::new()
            .borders(Borders::ALL)
            .border_set(self.border_set())
            .border_style(self.muted())
            .title(title)
    }

    /// Marker for lines (smoothed loss, norms).
    pub fn line_marker(&self) -> Marker {
        if self.ascii {
            Marker::Custom('*')
        } else {
            Marker::Braille
        }
    }

    /// Marker for the raw (unsmoothed) data behind a line: dimmed by colour when there is
    /// colour, by a lighter glyph when not.
    pub fn raw_marker(&self) -> Marker {
        match (self.ascii, self.color) {
            (true, _) => Marker::Custom('.'),
            (false, true) => Marker::Braille,
            (false, false) => Marker::Custom('·'),
        }
    }

    /// Marker for sparse points (validation metrics).
    pub fn dot_marker(&self) -> Marker {
        if self.ascii {
            Marker::Custom('o')
        } else {
            Marker::Custom('•')
        }
    }

    /// Marker for event lines on charts.
    pub fn rule_marker(&self) -> Marker {
        if self.ascii {
            Marker::Custom(':')
        } else {
            Marker::Braille
        }
    }

    /// A shading character for `t` in `[0, 1]` (used when colour or half blocks are unavailable).
    pub fn shade(&self, t: f32) -> char {
        let ramp = if self.ascii {
            ASCII_SHADES
        } else {
            UNICODE_SHADES
        };
        let i = (t.clamp(0.0, 1.0) * (ramp.len() - 1) as f32).round() as usize;
        ramp[i.min(ramp.len() - 1)]
    }

    /// A grey for an 8-bit intensity, on the 256-colour palette (black 16, greys 232–255,
    /// white 231), which tmux and SSH terminals render reliably.
    pub fn grey(&self, v: u8) -> Color {
        let step = (u32::from(v) * 25 + 127) / 255;
        match step {
            0 => Color::Indexed(16),
            25 => Color::Indexed(231),
            s => Color::Indexed(231 + s as u8),
        }
    }

    /// Heat-map colour for `t` in `[0, 1]` (low = dark): the darker half of the grey ramp, so the
    /// coloured trajectories drawn over it stay readable.
    pub fn heat(&self, t: f32) -> Color {
        let t = t.clamp(0.0, 1.0);
        Color::Indexed(232 + (t * 13.0).round() as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_means_default_colours() {
        let t = Theme::new(false, false);
        assert_eq!(t.lane(0), Color::Reset);
        assert_eq!(t.fg(Color::Red), Style::new());
        assert_eq!(Theme::new(true, false).lane(0), Color::Cyan);
    }

    #[test]
    fn ascii_uses_ascii_only() {
        let t = Theme::new(true, true);
        let g = t.glyphs();
        for s in [
            g.arrow, g.sep, g.bullet, g.running, g.paused, g.diverged, g.finished,
        ] {
            assert!(s.is_ascii(), "{s}");
        }
        for v in 0..=10 {
            assert!(t.shade(v as f32 / 10.0).is_ascii());
        }
        assert!(matches!(t.line_marker(), Marker::Custom(c) if c.is_ascii()));
        assert!(matches!(t.raw_marker(), Marker::Custom(c) if c.is_ascii()));
        assert!(matches!(t.dot_marker(), Marker::Custom(c) if c.is_ascii()));
        assert!(t.border_set().top_left.is_ascii());
    }

    #[test]
    fn greys_span_black_to_white() {
        let t = Theme::new(true, false);
        assert_eq!(t.grey(0), Color::Indexed(16));
        assert_eq!(t.grey(255), Color::Indexed(231));
        assert_eq!(t.grey(128), Color::Indexed(244));
    }
}
