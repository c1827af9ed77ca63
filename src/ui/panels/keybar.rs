//! The key bar: the keys that do something right now, most useful first to survive narrow
//! terminals; a notice (why the last key did nothing) takes the left end.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::ui::app::{App, Mode};
use crate::ui::keys::{self, Action};
use crate::ui::model::Phase;
use crate::ui::theme::Theme;

/// A key hint and its rank (lower survives longer).
struct Hint {
    key: String,
    what: String,
    rank: u8,
    /// Shown but unavailable (a steering key in a read-only view): dimmed and struck through.
    off: bool,
}

fn hint(rank: u8, key: impl Into<String>, what: impl Into<String>) -> Hint {
    Hint {
        key: key.into(),
        what: what.into(),
        rank,
        off: false,
    }
}

/// Ranks of unavailable keys: the first to go when the bar is narrow.
const OFF_RANK: u8 = 7;

/// A main-screen binding as a hint, labelled from the key table.
fn bound(rank: u8, action: Action, theme: &Theme) -> Hint {
    let b = keys::binding(action).expect("every main-screen action is in the key table");
    let key = if theme.ascii { b.ascii_keys } else { b.keys };
    hint(rank, key, b.short)
}

/// The steering keys of a live run, marked unavailable, and what a view is.
fn read_only_hints(theme: &Theme) -> Vec<Hint> {
    let mut out = vec![hint(0, "", "read-only")];
    for action in [
        Action::TogglePause,
        Action::OpenPicker,
        Action::LrUp,
        Action::OpenRace,
        Action::Checkpoint,
    ] {
        out.push(Hint {
            off: true,
            ..bound(OFF_RANK, action, theme)
        });
    }
    out
}

fn hints(app: &App) -> Vec<Hint> {
    let theme = &app.theme;
    let up_down = theme.glyphs().up_down;
    match &app.mode {
        Mode::Help => vec![hint(0, "esc", "close")],
        Mode::Picker(_) => vec![
            hint(1, "type", "filter"),
            hint(0, up_down, "move"),
            hint(0, "enter", "switch"),
            hint(0, "esc", "cancel"),
        ],
        Mode::Race(_) => vec![
            hint(2, "type", "filter"),
            hint(1, up_down, "move"),
            hint(0, "space", "select"),
            hint(0, "enter", "race"),
            hint(0, "esc", "cancel"),
        ],
        Mode::ConfirmQuit if app.run_id.is_some() => vec![
            hint(0, "s", "stop the run"),
            hint(0, "d", "detach"),
            hint(0, "esc", "cancel"),
        ],
        Mode::ConfirmQuit => vec![hint(0, "y", "quit"), hint(0, "esc", "keep training")],
        Mode::Stopping => vec![hint(0, "ctrl-c", "quit without waiting")],
        Mode::Normal => normal_hints(app),
    }
}

fn normal_hints(app: &App) -> Vec<Hint> {
    let theme = &app.theme;
    let model = &app.model;
    let phase = model.phase();
    let mut out = Vec::new();
    if phase == Phase::Waiting {
        let mut out = vec![bound(0, Action::Help, theme)];
        if app.run_id.is_some() {
            out.push(bound(0, Action::Detach, theme));
        }
        out.push(bound(0, Action::Quit, theme));
        return out;
    }
    if app.read_only {
        // A record still being written would take these keys in its live dashboard.
        if model.training_active() {
            out.extend(read_only_hints(theme));
        } else {
            out.push(hint(0, "", "read-only"));
        }
    } else if model.training_active() {
        let pause = match phase {
            Phase::Running => "pause",
            _ => "resume",
        };
        out.push(hint(0, "space", pause));
        if matches!(phase, Phase::Paused | Phase::Diverged) {
            out.push(bound(1, Action::StepOnce, theme));
        }
        out.push(bound(1, Action::OpenPicker, theme));
        let lodo = model.lanes.get(app.view.focus).is_some_and(|l| l.is_lodo());
        if lodo {
            out.push(bound(2, Action::MetaLrUp, theme));
        }
        out.push(bound(2, Action::LrUp, theme));
        out.push(bound(3, Action::OpenRace, theme));
        out.push(bound(4, Action::Checkpoint, theme));
        if model.generates() {
            out.push(bound(3, Action::Generate, theme));
        }
    }
    out.push(bound(5, Action::ToggleLogY, theme));
    out.push(bound(5, Action::CycleXAxis, theme));
    out.push(bound(6, Action::SmoothMore, theme));
    out.push(bound(6, Action::WindowWider, theme));
    if model.lanes.len() > 1 {
        out.push(bound(3, Action::FocusNext, theme));
    }
    out.push(bound(0, Action::Help, theme));
    if app.run_id.is_some() && !app.read_only {
        out.push(bound(0, Action::Detach, theme));
    }
    out.push(bound(0, Action::Quit, theme));
    out
}

pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    if area.is_empty() {
        return;
    }
    let theme = &app.theme;
    let sep = format!(" {} ", theme.glyphs().sep);
    let mut prefix = vec![Span::raw(" ")];
    if let Some(notice) = &app.notice {
        prefix.push(Span::styled(notice.clone(), theme.warn()));
        prefix.push(Span::styled(sep.clone(), theme.muted()));
    }
    let prefix_width: usize = prefix.iter().map(|s| s.width()).sum();
    let mut hints = hints(app);
    let width_of = |hints: &[Hint]| -> usize {
        hints
            .iter()
            .map(|h| {
                h.key.chars().count() + usize::from(!h.key.is_empty()) + h.what.chars().count()
            })
            .sum::<usize>()
            + sep.chars().count() * hints.len().saturating_sub(1)
    };
    while prefix_width + width_of(&hints) > usize::from(area.width) {
        let Some((at, _)) = hints
            .iter()
            .enumerate()
            .filter(|(_, h)| h.rank > 0)
            .max_by_key(|(at, h)| (h.rank, *at))
        else {
            break;
        };
        hints.remove(at);
    }
    let mut spans = prefix;
    for (i, h) in hints.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(sep.clone(), theme.muted()));
        }
        if h.off {
            let off = theme.muted().add_modifier(Modifier::CROSSED_OUT);
            spans.push(Span::styled(h.key, off));
            spans.push(Span::styled(format!(" {}", h.what), off));
        } else if h.key.is_empty() {
            spans.push(Span::styled(h.what, theme.warn()));
        } else {
            spans.push(Span::styled(h.key, theme.key()));
            spans.push(Span::styled(format!(" {}", h.what), theme.muted()));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
