//! The terminal while the dashboard owns it: raw mode and the alternate screen, restored on drop,
//! on error and on panic (ratatui's panic hook); termination signals; what the environment says
//! about Unicode and colour.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ratatui::DefaultTerminal;

/// The terminal in dashboard mode; dropping it gives the terminal back.
pub struct Tui {
    terminal: Option<DefaultTerminal>,
}

impl Tui {
    pub fn enter() -> anyhow::Result<Self> {
        let terminal = ratatui::try_init().inspect_err(|_| ratatui::restore())?;
        Ok(Self {
            terminal: Some(terminal),
        })
    }

    pub fn draw(&mut self, frame: impl FnOnce(&mut ratatui::Frame)) -> std::io::Result<()> {
        match &mut self.terminal {
            Some(terminal) => terminal.draw(frame).map(|_| ()),
            None => Ok(()),
        }
    }
}

impl Drop for Tui {
    /// Never prints: after a hang-up the terminal is gone, and a failed `eprintln!` panics.
    fn drop(&mut self) {
        if let Some(mut terminal) = self.terminal.take()
            && terminal.show_cursor().is_err()
        {
            // Its own drop would try again and report the failure on stderr, the dead
            // terminal; there is nothing left to give back.
            std::mem::forget(terminal);
        }
        let _ = ratatui::try_restore();
    }
}

/// Counts SIGINT/SIGTERM/SIGHUP (an SSH session that drops sends SIGHUP), so the dashboard can
/// stop the trainer and restore the terminal instead of dying mid-frame. Keyboard Ctrl-C arrives
/// as a key in raw mode, not as a signal. When another part of the program already handles
/// these signals, that handler stays and the count never moves.
pub fn termination_signals() -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    let _ = ctrlc::set_handler(move || {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            std::thread::spawn(exit_if_stuck);
        }
    });
    count
}

/// The last resort after a termination signal: if the dashboard has not shut down in time (its
/// input reader can block on a dead terminal), leave anyway. The trainer flushes its record every
/// second, so at most that much is lost.
fn exit_if_stuck() {
    std::thread::sleep(SHUTDOWN_GRACE);
    let _ = ratatui::try_restore();
    std::process::exit(crate::exit::SIGNALLED);
}

/// How long a signalled dashboard may take to stop the trainer (a checkpoint of LODO on the CNN is
/// ~150 MB) before [`exit_if_stuck`] ends the process.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Whether the locale promises UTF-8 (the first of `LC_ALL`, `LC_CTYPE`, `LANG` that is set
/// decides, as in POSIX); an unset locale is "C", which does not.
pub fn locale_is_utf8(get: impl Fn(&str) -> Option<String>) -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| get(k).filter(|v| !v.is_empty()))
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        })
}

/// `NO_COLOR` set to anything non-empty (<https://no-color.org>).
pub fn no_color(get: impl Fn(&str) -> Option<String>) -> bool {
    get("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn utf8_locale_detection_follows_posix_precedence() {
        assert!(locale_is_utf8(env(&[("LANG", "en_US.UTF-8")])));
        assert!(locale_is_utf8(env(&[("LANG", "C.utf8")])));
        assert!(!locale_is_utf8(env(&[])));
        assert!(!locale_is_utf8(env(&[("LANG", "C")])));
        // LC_ALL overrides LANG; LC_CTYPE overrides LANG; empty values do not count.
        assert!(!locale_is_utf8(env(&[
            ("LC_ALL", "POSIX"),
            ("LANG", "en_US.UTF-8")
        ])));
        assert!(locale_is_utf8(env(&[
            ("LC_CTYPE", "de_DE.UTF-8"),
            ("LANG", "C")
        ])));
        assert!(locale_is_utf8(env(&[
            ("LC_ALL", ""),
            ("LANG", "en_US.UTF-8")
        ])));
    }

    #[test]
    fn no_color_needs_a_value() {
        assert!(no_color(env(&[("NO_COLOR", "1")])));
        assert!(!no_color(env(&[("NO_COLOR", "")])));
        assert!(!no_color(env(&[])));
    }
}
