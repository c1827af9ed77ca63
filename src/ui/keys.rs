//! The key map: which key does what in which mode. The same table feeds the key bar and the help
//! overlay, so what is documented is what is bound.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Everything a key can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    TogglePause,
    StepOnce,
    OpenPicker,
    OpenRace,
    ResetOptimizer,
    MetaLrUp,
    MetaLrDown,
    LrUp,
    LrDown,
    PaceUp,
    PaceDown,
    Checkpoint,
    Generate,
    ToggleLogY,
    CycleXAxis,
    SmoothMore,
    SmoothLess,
    WindowWider,
    WindowNarrower,
    ToggleWindow,
    FocusNext,
    FocusPrev,
    Help,
    Quit,
    /// Leave the dashboard; the run goes on.
    Detach,
    /// Ctrl-C: on a run served elsewhere, ask as `q` does; on an in-process trainer, quit
    /// without asking.
    ForceQuit,
    // In lists and dialogs.
    Up,
    Down,
    Toggle,
    Confirm,
    Cancel,
    Filter(char),
    Backspace,
}

/// Which set of bindings applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Normal,
    Help,
    Picker,
    Race,
    ConfirmQuit,
    Stopping,
}

/// One documented binding of the main screen.
pub struct Binding {
    pub keys: &'static str,
    pub ascii_keys: &'static str,
    /// Short label for the key bar.
    pub short: &'static str,
    /// Description for the help overlay.
    pub help: &'static str,
    pub action: Action,
}

const fn bind(
    keys: &'static str,
    ascii_keys: &'static str,
    short: &'static str,
    help: &'static str,
    action: Action,
) -> Binding {
    Binding {
        keys,
        ascii_keys,
        short,
        help,
        action,
    }
}

/// The main screen's bindings, in the order the help lists them.
pub const NORMAL: &[Binding] = &[
    bind(
        "space",
        "space",
        "pause",
        "pause / resume training",
        Action::TogglePause,
    ),
    bind(
        "n",
        "n",
        "step",
        "take one step while paused",
        Action::StepOnce,
    ),
    bind(
        "o",
        "o",
        "optimizer",
        "switch the focused lane's optimizer",
        Action::OpenPicker,
    ),
    bind(
        "R",
        "R",
        "reset",
        "reset the focused optimizer's state",
        Action::ResetOptimizer,
    ),
    bind(
        "+ -",
        "+ -",
        "meta-lr",
        "meta learning rate x2 / /2 (LODO)",
        Action::MetaLrUp,
    ),
    bind(
        "] [",
        "] [",
        "lr",
        "learning rate (a0 for LODO) x2 / /2",
        Action::LrUp,
    ),
    bind(
        "< >",
        "< >",
        "pace",
        "slower / faster: steps per second /2 x2",
        Action::PaceDown,
    ),
    bind(
        "r",
        "r",
        "race",
        "race optimizers from the current point",
        Action::OpenRace,
    ),
    bind(
        "c",
        "c",
        "checkpoint",
        "write a checkpoint now",
        Action::Checkpoint,
    ),
    bind(
        "g",
        "g",
        "generate",
        "generate digits (mnist-ar)",
        Action::Generate,
    ),
    bind(
        "l",
        "l",
        "log-y",
        "log / linear loss axis",
        Action::ToggleLogY,
    ),
    bind(
        "x",
        "x",
        "x axis",
        "loss chart over steps / gradient evaluations / wall time",
        Action::CycleXAxis,
    ),
    bind(
        "s S",
        "s S",
        "smooth",
        "more / less EMA smoothing (over at most 1/10 of the window)",
        Action::SmoothMore,
    ),
    bind(
        "← →",
        "left right",
        "window",
        "longer / shorter time window",
        Action::WindowWider,
    ),
    bind(
        "z",
        "z",
        "all/recent",
        "whole run / recent window",
        Action::ToggleWindow,
    ),
    bind(
        "tab",
        "tab",
        "lane",
        "focus the next lane",
        Action::FocusNext,
    ),
    bind("?", "?", "help", "this help", Action::Help),
    bind(
        "d",
        "d",
        "detach",
        "detach: leave, training goes on",
        Action::Detach,
    ),
    bind(
        "q",
        "q",
        "quit",
        "quit: asks to stop the run or detach (ctrl-c too)",
        Action::Quit,
    ),
];

/// The binding documenting an action of the main screen.
pub fn binding(action: Action) -> Option<&'static Binding> {
    NORMAL.iter().find(|b| b.action == action)
}

/// Whether an action asks the run to do something (and so is unavailable in a read-only view of
/// records), rather than changing how it is shown or leaving.
pub fn steers(action: Action) -> bool {
    matches!(
        action,
        Action::TogglePause
            | Action::StepOnce
            | Action::OpenPicker
            | Action::OpenRace
            | Action::ResetOptimizer
            | Action::MetaLrUp
            | Action::MetaLrDown
            | Action::LrUp
            | Action::LrDown
            | Action::PaceUp
            | Action::PaceDown
            | Action::Checkpoint
            | Action::Generate
    )
}

/// The action a key press asks for in a context.
pub fn action(context: Context, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
        return Some(Action::ForceQuit);
    }
    match context {
        Context::Normal => normal(key.code, ctrl),
        Context::Help => match key.code {
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?' | 'q') => Some(Action::Cancel),
            _ => None,
        },
        Context::Picker | Context::Race => list(key.code, ctrl, context == Context::Race),
        Context::ConfirmQuit => match key.code {
            KeyCode::Char('s' | 'y' | 'Y' | 'q') | KeyCode::Enter => Some(Action::Confirm),
            KeyCode::Char('d') => Some(Action::Detach),
            KeyCode::Esc | KeyCode::Char('n' | 'N') => Some(Action::Cancel),
            _ => None,
        },
        Context::Stopping => None,
    }
}

fn normal(code: KeyCode, ctrl: bool) -> Option<Action> {
    if ctrl {
        return None;
    }
    Some(match code {
        KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Char('n') => Action::StepOnce,
        KeyCode::Char('o') => Action::OpenPicker,
        KeyCode::Char('R') => Action::ResetOptimizer,
        KeyCode::Char('+' | '=') => Action::MetaLrUp,
        KeyCode::Char('-' | '_') => Action::MetaLrDown,
        KeyCode::Char(']') => Action::LrUp,
        KeyCode::Char('[') => Action::LrDown,
        KeyCode::Char('<' | ',') => Action::PaceDown,
        KeyCode::Char('>' | '.') => Action::PaceUp,
        KeyCode::Char('r') => Action::OpenRace,
        KeyCode::Char('c') => Action::Checkpoint,
        KeyCode::Char('g') => Action::Generate,
        KeyCode::Char('l') => Action::ToggleLogY,
        KeyCode::Char('x') => Action::CycleXAxis,
        KeyCode::Char('s') => Action::SmoothMore,
        KeyCode::Char('S') => Action::SmoothLess,
        KeyCode::Left => Action::WindowWider,
        KeyCode::Right => Action::WindowNarrower,
        KeyCode::Char('z') => Action::ToggleWindow,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('d') => Action::Detach,
        KeyCode::Esc => Action::Cancel,
        _ => return None,
    })
}

fn list(code: KeyCode, ctrl: bool, multi: bool) -> Option<Action> {
    Some(match code {
        KeyCode::Up => Action::Up,
        KeyCode::Down => Action::Down,
        KeyCode::Char('p') if ctrl => Action::Up,
        KeyCode::Char('n') if ctrl => Action::Down,
        KeyCode::Char(' ') | KeyCode::Tab if multi => Action::Toggle,
        KeyCode::Enter => Action::Confirm,
        KeyCode::Esc => Action::Cancel,
        KeyCode::Backspace => Action::Backspace,
        KeyCode::Char(c) if !ctrl && !c.is_control() => Action::Filter(c),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn every_documented_normal_binding_is_bound() {
        // The first key of each binding produces its action (the table is what users read).
        let first_key = |b: &Binding| -> KeyEvent {
            match b.keys.split(' ').next().unwrap() {
                "space" => press(KeyCode::Char(' ')),
                "tab" => press(KeyCode::Tab),
                "←" => press(KeyCode::Left),
                "ctrl-c" => KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                k => press(KeyCode::Char(k.chars().next().unwrap())),
            }
        };
        for b in NORMAL {
            assert_eq!(
                action(Context::Normal, first_key(b)),
                Some(b.action),
                "{}",
                b.keys
            );
        }
    }

    #[test]
    fn shifted_letters_and_pairs() {
        let shifted = KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT);
        assert_eq!(
            action(Context::Normal, shifted),
            Some(Action::ResetOptimizer)
        );
        assert_eq!(
            action(Context::Normal, press(KeyCode::Char('S'))),
            Some(Action::SmoothLess)
        );
        assert_eq!(
            action(Context::Normal, press(KeyCode::Char('-'))),
            Some(Action::MetaLrDown)
        );
        assert_eq!(
            action(Context::Normal, press(KeyCode::Char('['))),
            Some(Action::LrDown)
        );
        assert_eq!(
            action(Context::Normal, press(KeyCode::Right)),
            Some(Action::WindowNarrower)
        );
        assert_eq!(
            action(Context::Normal, press(KeyCode::BackTab)),
            Some(Action::FocusPrev)
        );
    }

    #[test]
    fn ctrl_c_quits_everywhere_and_releases_are_ignored() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for ctx in [
            Context::Normal,
            Context::Help,
            Context::Picker,
            Context::Race,
            Context::ConfirmQuit,
            Context::Stopping,
        ] {
            assert_eq!(action(ctx, ctrl_c), Some(Action::ForceQuit));
        }
        let release = KeyEvent::new_with_kind(
            KeyCode::Char('q'),
            KeyModifiers::NONE,
            KeyEventKind::Release,
        );
        assert_eq!(action(Context::Normal, release), None);
    }

    #[test]
    fn lists_take_letters_as_filter_text() {
        assert_eq!(
            action(Context::Picker, press(KeyCode::Char('q'))),
            Some(Action::Filter('q'))
        );
        assert_eq!(
            action(Context::Picker, press(KeyCode::Char(' '))),
            Some(Action::Filter(' '))
        );
        assert_eq!(
            action(Context::Race, press(KeyCode::Char(' '))),
            Some(Action::Toggle)
        );
        assert_eq!(
            action(Context::Race, press(KeyCode::Enter)),
            Some(Action::Confirm)
        );
        assert_eq!(
            action(Context::Picker, press(KeyCode::Esc)),
            Some(Action::Cancel)
        );
    }

    #[test]
    fn confirm_quit_keys() {
        assert_eq!(
            action(Context::ConfirmQuit, press(KeyCode::Char('y'))),
            Some(Action::Confirm)
        );
        assert_eq!(
            action(Context::ConfirmQuit, press(KeyCode::Char('q'))),
            Some(Action::Confirm)
        );
        assert_eq!(
            action(Context::ConfirmQuit, press(KeyCode::Esc)),
            Some(Action::Cancel)
        );
        assert_eq!(
            action(Context::ConfirmQuit, press(KeyCode::Char('n'))),
            Some(Action::Cancel)
        );
        assert_eq!(
            action(Context::ConfirmQuit, press(KeyCode::Char('s'))),
            Some(Action::Confirm)
        );
        assert_eq!(
            action(Context::ConfirmQuit, press(KeyCode::Char('d'))),
            Some(Action::Detach)
        );
        assert_eq!(
            action(Context::ConfirmQuit, press(KeyCode::Char(' '))),
            None
        );
    }
}
