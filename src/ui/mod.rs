//! The live dashboard.
//!
//! The trainer streams [`Msg`]s; once per frame the dashboard drains them into its bounded model,
//! redraws if anything changed (at most ~15 frames a second), and turns key presses into
//! [`Command`]s. Nothing here computes numerics beyond presentation (EMA, log axis, min/max
//! downsampling), and nothing is printed while the dashboard owns the terminal.

pub mod app;
pub mod draw;
pub mod history;
pub mod input;
pub mod keys;
pub mod layout;
pub mod model;
pub mod panels;
pub mod plot;
pub mod png;
pub mod terminal;
pub mod theme;
pub mod traces;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::Event;

use crate::train::{Msg, Summary, TrainerHandle};

pub use app::App;
use input::Input;
pub use theme::Theme;

/// At most ~15 frames a second: smooth enough to watch, cheap over SSH.
const FRAME: Duration = Duration::from_millis(66);
/// How long to wait for the trainer to finish its step after `Quit`.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Termination signals closer together than this are one request to stop, not a second one.
const SIGNAL_BURST: Duration = Duration::from_secs(1);
/// How long a dashboard that leaves without waiting still gives the trainer to finish its record.
const LAST_WORDS: Duration = Duration::from_secs(2);

/// How to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UiOptions {
    /// No braille, half blocks or box drawing: ASCII only.
    pub ascii: bool,
    pub color: bool,
}

impl Default for UiOptions {
    fn default() -> Self {
        Self {
            ascii: false,
            color: true,
        }
    }
}

impl UiOptions {
    /// These options adjusted to the environment: ASCII when the locale is not UTF-8, no colour
    /// when `NO_COLOR` is set.
    pub fn with_environment(self) -> Self {
        self.with_env(|k| std::env::var(k).ok())
    }

    fn with_env(self, get: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            ascii: self.ascii || !terminal::locale_is_utf8(&get),
            color: self.color && !terminal::no_color(&get),
        }
    }
}

/// How a dashboard ended.
#[derive(Debug)]
pub enum Ended {
    /// The run finished (stopped from here or elsewhere, or reached its step limit).
    Finished(Summary),
    /// Left while the run goes on (`d`, a hang-up, a termination signal).
    Detached,
    /// Left without waiting for the run to stop (a second Ctrl-C while stopping, or it did not
    /// answer in time).
    Abandoned,
}

/// Runs the dashboard on an in-process trainer until the user quits, returning the trainer's
/// summary when it finished (`None` if it did not stop within the wait after `Quit`). A trainer
/// failure is shown on screen and then returned as the error.
pub fn run_with_summary(
    handle: TrainerHandle,
    options: UiOptions,
) -> anyhow::Result<Option<Summary>> {
    let options = options.with_environment();
    let app = App::new(Theme::new(options.color, options.ascii));
    match dashboard(handle, app)? {
        Ended::Finished(summary) => Ok(Some(summary)),
        Ended::Detached | Ended::Abandoned => Ok(None),
    }
}

/// The dashboard as a viewer of the run `id` served elsewhere (its `handle` from
/// [`crate::run::client::connect`]): `d`, a hang-up or a termination signal detach and leave the
/// run training; `q` asks whether to stop it.
pub fn view(handle: TrainerHandle, options: UiOptions, id: &str) -> anyhow::Result<Ended> {
    let options = options.with_environment();
    dashboard(
        handle,
        App::attached(Theme::new(options.color, options.ascii), id),
    )
}

/// The dashboard, read-only, over records (`handle` from [`crate::record::overlay::spawn`]):
/// keys that steer a run are unavailable, and leaving never touches a run.
pub fn view_records(
    handle: TrainerHandle,
    options: UiOptions,
    label: &str,
) -> anyhow::Result<Ended> {
    let options = options.with_environment();
    dashboard(
        handle,
        App::viewing(Theme::new(options.color, options.ascii), label),
    )
}

fn dashboard(handle: TrainerHandle, mut app: App) -> anyhow::Result<Ended> {
    let signals = terminal::termination_signals();
    let mut tui = terminal::Tui::enter()?;
    let input = input::InputReader::spawn()?;
    let outcome = event_loop(&mut tui, &mut app, &handle, &input, &signals);
    drop(input);
    if app.run_id.is_some() && (app.detached || outcome.is_err()) {
        // A viewer that leaves or loses its terminal lets go of the run; it goes on.
        handle.detach();
        drop(tui);
        return outcome.map(|()| Ended::Detached);
    }
    if let Err(e) = outcome {
        // Stop the trainer properly (final checkpoint, record flushed) before anything else:
        // the error may be a terminal that hung up, where even giving it back can fail.
        let stopped = handle.shutdown();
        drop(tui);
        stopped?;
        return Err(e);
    }
    // Give the terminal back before anything else can print.
    drop(tui);
    match app.model.finished.take() {
        Some(Ok(summary)) => {
            handle.shutdown()?;
            Ok(Ended::Finished(summary))
        }
        Some(Err(e)) => {
            handle.shutdown()?;
            Err(anyhow::anyhow!("training failed: {e}"))
        }
        // Leaving without waiting (a second Ctrl-C, or the trainer did not answer in time): still
        // give it a moment to write its summary and flush the record before the process ends.
        None => {
            handle.shutdown_within(LAST_WORDS)?;
            Ok(Ended::Abandoned)
        }
    }
}

fn event_loop(
    tui: &mut terminal::Tui,
    app: &mut App,
    handle: &TrainerHandle,
    input: &input::InputReader,
    signals: &AtomicUsize,
) -> anyhow::Result<()> {
    let mut last_draw: Option<Instant> = None;
    let mut stop_deadline: Option<Instant> = None;
    let mut signals_seen = 0;
    let mut last_signal = None;
    loop {
        drain(app, &handle.messages);
        // A termination signal to an in-process dashboard is a Ctrl-C from outside: stop the
        // trainer, then leave (a second one leaves without waiting).
        // Signals that come in one burst (a hang-up can bring SIGHUP more than once) count once.
        let signalled = signals.load(Ordering::SeqCst);
        if signalled > signals_seen {
            signals_seen = signalled;
            if app.run_id.is_some() {
                // A viewer is signalled when its terminal goes away or someone wants it gone;
                // neither is a request to stop the run.
                app.detach();
            } else if last_signal.is_none_or(|t: Instant| t.elapsed() >= SIGNAL_BURST) {
                last_signal = Some(Instant::now());
                if let Some(command) = app.perform(keys::Action::ForceQuit) {
                    handle.send(command);
                }
            }
        }
        if app.mode == app::Mode::Stopping
            && Instant::now() >= *stop_deadline.get_or_insert_with(|| Instant::now() + STOP_TIMEOUT)
        {
            app.give_up_waiting();
        }
        if app.exit {
            return Ok(());
        }
        let since = last_draw.map_or(FRAME, |t| t.elapsed());
        if app.dirty && since >= FRAME {
            tui.draw(|f| draw::draw(f, app))?;
            app.dirty = false;
            last_draw = Some(Instant::now());
        }
        let wait = if app.dirty {
            FRAME.saturating_sub(since)
        } else {
            FRAME
        };
        match input.events.recv_timeout(wait) {
            Ok(Input::Event(Event::Key(key))) => {
                if let Some(command) = app.on_key(key) {
                    handle.send(command);
                }
            }
            Ok(Input::Event(Event::Resize(..))) => app.dirty = true,
            Ok(Input::Event(_)) | Err(RecvTimeoutError::Timeout) => {}
            Ok(Input::HungUp) if app.run_id.is_some() => app.detach(),
            Ok(Input::HungUp) => anyhow::bail!("the terminal hung up"),
            Ok(Input::Failed(e)) => anyhow::bail!(e),
            Err(RecvTimeoutError::Disconnected) => anyhow::bail!("the input reader stopped"),
        }
    }
}

/// Applies every message waiting; notices when the trainer hung up.
fn drain(app: &mut App, messages: &Receiver<Msg>) {
    loop {
        match messages.try_recv() {
            Ok(msg) => app.apply(msg),
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => {
                if app.model.finished.is_none() {
                    app.disconnected();
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_forces_ascii_and_no_colour() {
        let get = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let base = UiOptions::default();
        let utf8 = base.with_env(get(&[("LANG", "en_US.UTF-8")]));
        assert_eq!(utf8, base);
        let c_locale = base.with_env(get(&[("LANG", "C")]));
        assert!(c_locale.ascii && c_locale.color);
        let no_color = base.with_env(get(&[("LANG", "C.UTF-8"), ("NO_COLOR", "1")]));
        assert!(!no_color.ascii && !no_color.color);
        // --ascii stays on whatever the locale says.
        let forced = UiOptions {
            ascii: true,
            ..base
        }
        .with_env(get(&[("LANG", "C.UTF-8")]));
        assert!(forced.ascii);
    }
}
