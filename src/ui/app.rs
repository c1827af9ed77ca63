//! The dashboard's state: the run model, how the user is looking at it (smoothing, log axis, time
//! window, focused lane), which dialog is open, and what a key press does to all that.

use ratatui::crossterm::event::KeyEvent;

use crate::optim::OptimizerSpec;
use crate::train::{Command, Msg};

use super::keys::{self, Action, Context};
use super::model::RunModel;
use super::theme::Theme;
use crate::format;

/// EMA decays `s`/`S` step through (per point; 0 = raw).
pub const SMOOTHING: &[f64] = &[0.0, 0.9, 0.97, 0.99, 0.997, 0.999];
const DEFAULT_SMOOTHING: usize = 3;

/// Recent-window lengths in steps that `←`/`→` step through.
pub const WINDOWS: &[u64] = &[
    100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000,
];
const DEFAULT_WINDOW: usize = 2;

/// How many digits `g` asks the model to draw.
pub const GENERATE_COUNT: usize = 8;

/// The loss chart's x axis; `x` cycles through them. The trainer sends every value (step,
/// gradient-evaluation count, time); the chart only picks which to draw against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XAxis {
    #[default]
    Steps,
    GradEvals,
    Time,
}

impl XAxis {
    pub fn next(self) -> Self {
        match self {
            XAxis::Steps => XAxis::GradEvals,
            XAxis::GradEvals => XAxis::Time,
            XAxis::Time => XAxis::Steps,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            XAxis::Steps => "x steps",
            XAxis::GradEvals => "x grad evals",
            XAxis::Time => "x time (s)",
        }
    }
}

/// How the user is looking at the run.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub log_y: bool,
    /// The loss chart's x axis (the other charts stay over steps).
    pub x_axis: XAxis,
    /// Index into [`SMOOTHING`].
    pub smoothing: usize,
    /// Index into [`WINDOWS`], or `None` for the whole run.
    pub window: Option<usize>,
    /// The recent window `z` returns to.
    pub last_window: usize,
    /// The lane the per-lane panels show and the keys act on.
    pub focus: usize,
}

impl Default for View {
    fn default() -> Self {
        Self {
            // Losses are read in orders of magnitude; `l` switches to linear.
            log_y: true,
            x_axis: XAxis::Steps,
            smoothing: DEFAULT_SMOOTHING,
            window: None,
            last_window: DEFAULT_WINDOW,
            focus: 0,
        }
    }
}

impl View {
    pub fn smoothing(&self) -> f64 {
        SMOOTHING[self.smoothing]
    }

    /// The step range the charts show, given the range the data covers.
    pub fn x_range(&self, span: (f64, f64)) -> (f64, f64) {
        match self.window {
            None => span,
            Some(i) => ((span.1 - WINDOWS[i] as f64).max(span.0), span.1),
        }
    }

    /// "all" or "last 1k".
    pub fn window_label(&self) -> String {
        match self.window {
            None => "all".into(),
            Some(i) => format!("last {}", format::compact(WINDOWS[i] as f64)),
        }
    }

    pub fn smoothing_label(&self) -> String {
        smoothing_label(self.smoothing())
    }
}

/// `raw`, `ema 0.99`, `ema 0.886`.
pub fn smoothing_label(smoothing: f64) -> String {
    if smoothing > 0.0 {
        format!("ema {}", format::num(smoothing))
    } else {
        "raw".into()
    }
}

/// The optimizer list behind `o` (pick one) and `r` (pick several).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Picker {
    pub filter: String,
    /// Index into the filtered list.
    pub cursor: usize,
    /// Indices into the full list of alternatives (race only).
    pub chosen: Vec<usize>,
}

impl Picker {
    /// Indices of the alternatives whose name contains the filter (case-insensitive).
    pub fn matches(&self, alternatives: &[OptimizerSpec]) -> Vec<usize> {
        let filter = self.filter.to_lowercase();
        alternatives
            .iter()
            .enumerate()
            .filter(|(_, spec)| spec.name.to_lowercase().contains(&filter))
            .map(|(i, _)| i)
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Normal,
    Help,
    Picker(Picker),
    Race(Picker),
    ConfirmQuit,
    /// `Command::Quit` sent; waiting for the trainer's `Finished`.
    Stopping,
}

impl Mode {
    pub fn context(&self) -> Context {
        match self {
            Mode::Normal => Context::Normal,
            Mode::Help => Context::Help,
            Mode::Picker(_) => Context::Picker,
            Mode::Race(_) => Context::Race,
            Mode::ConfirmQuit => Context::ConfirmQuit,
            Mode::Stopping => Context::Stopping,
        }
    }
}

pub struct App {
    pub model: RunModel,
    pub view: View,
    pub mode: Mode,
    pub theme: Theme,
    /// A one-line answer to the last key (why it did nothing, what it asked for); cleared by the
    /// next key.
    pub notice: Option<String>,
    /// The failure overlay was dismissed.
    pub error_dismissed: bool,
    /// The event loop should end (after the trainer finished, or at once).
    pub exit: bool,
    /// The id of the run when it is served elsewhere (attachable): then `d` and hang-ups detach
    /// and `q` asks whether to stop the run or detach. `None`: an in-process trainer.
    pub run_id: Option<String>,
    /// The dashboard left without stopping the run.
    pub detached: bool,
    /// A view of records (`lodo-tui view`): keys that steer a run are unavailable and quitting
    /// leaves at once.
    pub read_only: bool,
    /// Something changed since the last frame.
    pub dirty: bool,
}

impl App {
    pub fn new(theme: Theme) -> Self {
        Self {
            model: RunModel::default(),
            view: View::default(),
            mode: Mode::Normal,
            theme,
            notice: None,
            error_dismissed: false,
            exit: false,
            run_id: None,
            detached: false,
            read_only: false,
            dirty: true,
        }
    }

    /// A read-only dashboard on records, `label` naming them.
    pub fn viewing(theme: Theme, label: &str) -> Self {
        Self {
            read_only: true,
            ..Self::attached(theme, label)
        }
    }

    /// A dashboard on the run `id`, served elsewhere.
    pub fn attached(theme: Theme, id: &str) -> Self {
        Self {
            run_id: Some(id.to_string()),
            ..Self::new(theme)
        }
    }

    /// Leaves the dashboard; the run goes on.
    pub fn detach(&mut self) {
        self.detached = true;
        self.exit = true;
    }

    pub fn apply(&mut self, msg: Msg) {
        let finished = matches!(msg, Msg::Finished(_));
        self.model.apply(msg);
        if finished && self.mode == Mode::Stopping {
            self.exit = true;
        }
        if self.view.focus >= self.model.lanes.len() {
            self.view.focus = 0;
        }
        self.dirty = true;
    }

    /// The trainer's channel closed.
    pub fn disconnected(&mut self) {
        self.model.disconnected();
        if self.mode == Mode::Stopping {
            self.exit = true;
        }
        self.dirty = true;
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Option<Command> {
        let action = keys::action(self.mode.context(), key)?;
        self.dirty = true;
        self.perform(action)
    }

    /// Applies an action; returns the command to send to the trainer, if any.
    pub fn perform(&mut self, action: Action) -> Option<Command> {
        self.notice = None;
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.normal(action),
            Mode::Help => {
                if action != Action::Cancel {
                    self.mode = Mode::Help;
                }
                self.force_quit(action)
            }
            Mode::Picker(p) => self.picker(p, action, false),
            Mode::Race(p) => self.picker(p, action, true),
            Mode::ConfirmQuit => match action {
                Action::Confirm => self.stop(),
                Action::Detach if self.run_id.is_some() => {
                    self.detach();
                    None
                }
                Action::ForceQuit if self.run_id.is_none() => self.stop(),
                // Ctrl-C again leaves the question open: stopping a run takes an answer.
                Action::ForceQuit | Action::Detach => {
                    self.mode = Mode::ConfirmQuit;
                    None
                }
                _ => None,
            },
            Mode::Stopping => {
                self.mode = Mode::Stopping;
                if action == Action::ForceQuit {
                    self.exit = true;
                }
                None
            }
        }
    }

    /// Ctrl-C in a dialog: asks as `q` does (a served run), or stops (an in-process trainer).
    fn force_quit(&mut self, action: Action) -> Option<Command> {
        if action != Action::ForceQuit {
            return None;
        }
        if self.run_id.is_none() {
            return self.stop();
        }
        self.mode = Mode::Normal;
        self.quit()
    }

    /// `q` (and Ctrl-C on a served run): asks while training runs, else leaves. A view leaves at
    /// once: it cannot stop what it reads.
    fn quit(&mut self) -> Option<Command> {
        if self.read_only {
            self.exit = true;
            None
        } else if self.model.training_active() {
            self.mode = Mode::ConfirmQuit;
            None
        } else {
            self.stop()
        }
    }

    /// Asks the trainer to stop, or leaves at once when it already has.
    fn stop(&mut self) -> Option<Command> {
        if self.model.training_active() {
            self.mode = Mode::Stopping;
            Some(Command::Quit)
        } else {
            self.exit = true;
            None
        }
    }

    fn normal(&mut self, action: Action) -> Option<Command> {
        let lane = self.view.focus;
        if self.read_only && keys::steers(action) {
            let what = keys::binding(action).map_or("that key", |b| b.short);
            self.notice = Some(format!("read-only view: {what} steers a run"));
            return None;
        }
        match action {
            Action::TogglePause => self.toggle_pause(),
            Action::StepOnce => {
                if self.model.phase() == super::model::Phase::Running {
                    self.notice = Some("n steps while paused; space pauses".into());
                    return None;
                }
                self.when_active(Command::Step(1))
            }
            Action::OpenPicker | Action::OpenRace => {
                if self.alternatives().is_empty() {
                    self.notice = Some("the preset offers no other optimizers".into());
                } else if !self.model.training_active() {
                    self.notice = Some("training has ended".into());
                } else if action == Action::OpenPicker {
                    self.mode = Mode::Picker(Picker::default());
                } else {
                    self.mode = Mode::Race(Picker::default());
                }
                None
            }
            Action::ResetOptimizer => self.when_active(Command::ResetOptimizer { lane }),
            Action::MetaLrUp | Action::MetaLrDown => {
                let factor = if action == Action::MetaLrUp { 2.0 } else { 0.5 };
                match self.model.lanes.get(lane) {
                    Some(l) if !l.is_lodo() => {
                        self.notice = Some(format!("{} has no meta-lr", l.optimizer().name));
                        None
                    }
                    _ => self.when_active(Command::ScaleMetaLr { lane, factor }),
                }
            }
            Action::LrUp => self.when_active(Command::ScaleLr { lane, factor: 2.0 }),
            Action::LrDown => self.when_active(Command::ScaleLr { lane, factor: 0.5 }),
            Action::PaceUp => self.when_active(Command::ScalePace { factor: 2.0 }),
            Action::PaceDown => self.when_active(Command::ScalePace { factor: 0.5 }),
            Action::Checkpoint => self.when_active(Command::Checkpoint),
            Action::Generate => {
                if self.model.generates() {
                    self.when_active(Command::Generate {
                        count: GENERATE_COUNT,
                    })
                } else {
                    self.notice = Some("g generates digits on mnist-ar only".into());
                    None
                }
            }
            Action::ToggleLogY => {
                self.view.log_y = !self.view.log_y;
                None
            }
            Action::CycleXAxis => {
                self.view.x_axis = self.view.x_axis.next();
                None
            }
            Action::SmoothMore => {
                self.view.smoothing = (self.view.smoothing + 1).min(SMOOTHING.len() - 1);
                None
            }
            Action::SmoothLess => {
                self.view.smoothing = self.view.smoothing.saturating_sub(1);
                None
            }
            Action::WindowWider => {
                self.view.window = match self.view.window {
                    Some(i) if i + 1 < WINDOWS.len() => Some(i + 1),
                    _ => None,
                };
                self.remember_window();
                None
            }
            Action::WindowNarrower => {
                self.view.window = match self.view.window {
                    Some(i) => Some(i.saturating_sub(1)),
                    None => Some(self.widest_window_inside_run()),
                };
                self.remember_window();
                None
            }
            Action::ToggleWindow => {
                self.view.window = match self.view.window {
                    Some(_) => None,
                    None => Some(self.view.last_window),
                };
                None
            }
            Action::FocusNext | Action::FocusPrev => {
                let n = self.model.lanes.len().max(1);
                let step = if action == Action::FocusNext {
                    1
                } else {
                    n - 1
                };
                self.view.focus = (self.view.focus + step) % n;
                None
            }
            Action::Help => {
                self.mode = Mode::Help;
                None
            }
            Action::Quit => self.quit(),
            Action::ForceQuit if self.run_id.is_some() => self.quit(),
            Action::ForceQuit => self.stop(),
            Action::Detach => {
                if self.run_id.is_some() {
                    self.detach();
                } else {
                    self.notice = Some("this dashboard trains in-process: it cannot detach".into());
                }
                None
            }
            Action::Cancel => {
                self.error_dismissed = true;
                None
            }
            Action::Up
            | Action::Down
            | Action::Toggle
            | Action::Confirm
            | Action::Filter(_)
            | Action::Backspace => None,
        }
    }

    fn remember_window(&mut self) {
        if let Some(i) = self.view.window {
            self.view.last_window = i;
        }
    }

    /// The longest recent window shorter than the run so far (the first `→` visibly zooms).
    fn widest_window_inside_run(&self) -> usize {
        let span = self.model.x_span().map_or(0.0, |(a, b)| b - a);
        WINDOWS
            .iter()
            .rposition(|&w| (w as f64) < span)
            .unwrap_or(0)
    }

    fn toggle_pause(&mut self) -> Option<Command> {
        use super::model::Phase;
        match self.model.phase() {
            Phase::Running => Some(Command::Pause),
            Phase::Paused | Phase::Diverged => Some(Command::Resume),
            Phase::Waiting => {
                self.notice = Some("waiting for the trainer to start".into());
                None
            }
            Phase::Finished | Phase::Failed(_) => {
                self.notice = Some("training has ended".into());
                None
            }
        }
    }

    fn when_active(&mut self, command: Command) -> Option<Command> {
        if self.model.training_active() {
            Some(command)
        } else {
            self.notice = Some("training has ended".into());
            None
        }
    }

    pub fn alternatives(&self) -> &[OptimizerSpec] {
        self.model
            .start
            .as_ref()
            .map_or(&[], |s| s.alternatives.as_slice())
    }

    fn picker(&mut self, mut p: Picker, action: Action, race: bool) -> Option<Command> {
        let matches = p.matches(self.alternatives());
        let keep = |p: Picker| if race { Mode::Race(p) } else { Mode::Picker(p) };
        match action {
            Action::Cancel => return None,
            Action::ForceQuit => return self.force_quit(action),
            Action::Up => {
                p.cursor = p
                    .cursor
                    .checked_sub(1)
                    .unwrap_or(matches.len().saturating_sub(1))
            }
            Action::Down => {
                p.cursor = if p.cursor + 1 >= matches.len() {
                    0
                } else {
                    p.cursor + 1
                }
            }
            Action::Filter(c) => {
                p.filter.push(c);
                p.cursor = 0;
            }
            Action::Backspace => {
                p.filter.pop();
                p.cursor = 0;
            }
            Action::Toggle => {
                if let Some(&i) = matches.get(p.cursor) {
                    match p.chosen.iter().position(|&c| c == i) {
                        Some(at) => {
                            p.chosen.remove(at);
                        }
                        None => p.chosen.push(i),
                    }
                }
            }
            Action::Confirm => {
                let alternatives = self.alternatives();
                if race {
                    let mut chosen = p.chosen.clone();
                    if chosen.is_empty() {
                        chosen.extend(matches.get(p.cursor));
                    }
                    if chosen.is_empty() {
                        self.mode = keep(p);
                        return None;
                    }
                    chosen.sort_unstable();
                    let specs: Vec<OptimizerSpec> =
                        chosen.iter().map(|&i| alternatives[i].clone()).collect();
                    self.notice = Some(format!("race: {} lanes requested", specs.len()));
                    return Some(Command::Race { specs });
                }
                let Some(&i) = matches.get(p.cursor) else {
                    self.mode = keep(p);
                    return None;
                };
                let spec = alternatives[i].clone();
                let lane = self.view.focus;
                if let Some(l) = self.model.lanes.get_mut(lane) {
                    l.pending = Some(spec.clone());
                }
                return Some(Command::SwitchOptimizer { lane, spec });
            }
            _ => {}
        }
        self.mode = keep(p);
        None
    }

    /// Ends a wait for the trainer that took too long.
    pub fn give_up_waiting(&mut self) {
        self.exit = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskKind;
    use crate::testkit::fixture_messages;
    use crate::train::{LaneStatus, RunState, Summary};
    use ratatui::crossterm::event::{KeyCode, KeyModifiers};

    /// A dashboard on a record fixture of `task`'s, as it looked while being written.
    fn app(task: TaskKind) -> App {
        let fixture = match task {
            TaskKind::MnistAr => "mnist-lodo-seed0.jsonl",
            TaskKind::MnistClassify => "mnist-classify-adam-seed0.jsonl",
            TaskKind::Quadratic => "quadratic-lodo-seed0.jsonl",
            TaskKind::Rosenbrock => "rosenbrock-lodo-seed0.jsonl",
        };
        let mut app = App::new(Theme::new(true, false));
        for msg in fixture_messages(&[fixture]) {
            app.apply(msg);
        }
        app
    }

    /// The summary the quadratic fixture ends with.
    fn summary() -> Summary {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/records/quadratic-lodo-seed0.jsonl");
        crate::record::read(&path).unwrap().summary.unwrap()
    }

    fn key(app: &mut App, code: KeyCode) -> Option<Command> {
        app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn ch(app: &mut App, c: char) -> Option<Command> {
        key(app, KeyCode::Char(c))
    }

    fn set_state(app: &mut App, name: &str, state: RunState) {
        app.apply(Msg::Lanes(vec![LaneStatus {
            lane: 0,
            optimizer: OptimizerSpec::named(name),
            step: 10,
            state,
            summary: vec![],
        }]));
    }

    #[test]
    fn a_read_only_view_refuses_steering_keys_with_a_note_and_sends_nothing() {
        let mut a = App::viewing(Theme::new(true, false), "run-b");
        for msg in crate::testkit::fixture_messages(&["quadratic-lodo-seed0.jsonl"]) {
            a.apply(msg);
        }
        assert!(a.model.training_active());
        for c in [
            ' ', 'n', 'o', 'r', 'R', '+', '-', ']', '[', '<', '>', 'c', 'g',
        ] {
            assert_eq!(ch(&mut a, c), None, "{c}");
            let notice = a.notice.clone().unwrap_or_default();
            assert!(notice.starts_with("read-only view: "), "{c}: {notice}");
            assert_eq!(a.mode, Mode::Normal, "{c}");
        }
        assert_eq!(
            a.notice.as_deref(),
            Some("read-only view: generate steers a run")
        );
        // Looking around works.
        assert_eq!(ch(&mut a, 'x'), None);
        assert_eq!(a.view.x_axis, XAxis::GradEvals);
        assert_eq!(a.notice, None);
        // Leaving asks nothing and tells the run nothing.
        assert_eq!(ch(&mut a, 'q'), None);
        assert!(a.exit && !a.detached);
    }

    #[test]
    fn space_pauses_and_resumes() {
        let mut a = app(TaskKind::Quadratic);
        assert_eq!(ch(&mut a, ' '), Some(Command::Pause));
        set_state(&mut a, "lodo", RunState::Paused);
        assert_eq!(ch(&mut a, ' '), Some(Command::Resume));
        set_state(&mut a, "lodo", RunState::Diverged);
        assert_eq!(ch(&mut a, ' '), Some(Command::Resume));
    }

    #[test]
    fn n_steps_only_while_paused() {
        let mut a = app(TaskKind::Quadratic);
        assert_eq!(ch(&mut a, 'n'), None);
        assert!(a.notice.as_deref().unwrap().contains("paused"));
        set_state(&mut a, "lodo", RunState::Paused);
        assert_eq!(ch(&mut a, 'n'), Some(Command::Step(1)));
        assert_eq!(a.notice, None);
    }

    #[test]
    fn rate_keys_scale_the_focused_lane() {
        let mut a = app(TaskKind::Quadratic);
        assert_eq!(
            ch(&mut a, '+'),
            Some(Command::ScaleMetaLr {
                lane: 0,
                factor: 2.0
            })
        );
        assert_eq!(
            ch(&mut a, '-'),
            Some(Command::ScaleMetaLr {
                lane: 0,
                factor: 0.5
            })
        );
        assert_eq!(
            ch(&mut a, ']'),
            Some(Command::ScaleLr {
                lane: 0,
                factor: 2.0
            })
        );
        assert_eq!(
            ch(&mut a, '['),
            Some(Command::ScaleLr {
                lane: 0,
                factor: 0.5
            })
        );
        assert_eq!(ch(&mut a, 'R'), Some(Command::ResetOptimizer { lane: 0 }));
        assert_eq!(ch(&mut a, 'c'), Some(Command::Checkpoint));
        // Meta-lr keys do nothing (and say why) for optimizers without one.
        set_state(&mut a, "adam", RunState::Running);
        assert_eq!(ch(&mut a, '+'), None);
        assert_eq!(a.notice.as_deref(), Some("adam has no meta-lr"));
        assert_eq!(
            ch(&mut a, ']'),
            Some(Command::ScaleLr {
                lane: 0,
                factor: 2.0
            })
        );
    }

    #[test]
    fn pace_keys_halve_and_double_the_speed_limit() {
        let mut a = app(TaskKind::Rosenbrock);
        assert_eq!(ch(&mut a, '<'), Some(Command::ScalePace { factor: 0.5 }));
        assert_eq!(ch(&mut a, '>'), Some(Command::ScalePace { factor: 2.0 }));
        // The unshifted keys of the same pair work too.
        assert_eq!(ch(&mut a, ','), Some(Command::ScalePace { factor: 0.5 }));
        assert_eq!(ch(&mut a, '.'), Some(Command::ScalePace { factor: 2.0 }));
        // The header shows the limit the trainer reports.
        a.apply(Msg::Pace(Some(250.0)));
        assert_eq!(a.model.pace, Some(250.0));
        a.apply(Msg::Pace(None));
        assert_eq!(a.model.pace, None);
    }

    #[test]
    fn tab_moves_the_lane_the_keys_act_on() {
        let mut a = App::new(Theme::new(true, false));
        for msg in fixture_messages(&["rosenbrock-lodo-seed0.jsonl", "rosenbrock-adam-seed0.jsonl"])
        {
            a.apply(msg);
        }
        key(&mut a, KeyCode::Tab);
        assert_eq!(a.view.focus, 1);
        assert_eq!(
            ch(&mut a, ']'),
            Some(Command::ScaleLr {
                lane: 1,
                factor: 2.0
            })
        );
        key(&mut a, KeyCode::Tab);
        assert_eq!(a.view.focus, 0);
        key(&mut a, KeyCode::BackTab);
        assert_eq!(a.view.focus, 1);
    }

    #[test]
    fn generate_only_on_mnist_ar() {
        let mut a = app(TaskKind::MnistAr);
        assert_eq!(
            ch(&mut a, 'g'),
            Some(Command::Generate {
                count: GENERATE_COUNT
            })
        );
        let mut a = app(TaskKind::Quadratic);
        assert_eq!(ch(&mut a, 'g'), None);
        assert!(a.notice.is_some());
    }

    #[test]
    fn generate_follows_the_task_face_not_its_kind() {
        // A quadratic whose trainer says it can generate: the dashboard believes the trainer.
        let mut a = App::new(Theme::new(true, false));
        for msg in fixture_messages(&["quadratic-lodo-seed0.jsonl"]) {
            let msg = match msg {
                Msg::Started(mut info) => {
                    info.face = Some(crate::task::TaskFace {
                        generates: true,
                        ..TaskKind::Quadratic.face()
                    });
                    Msg::Started(info)
                }
                other => other,
            };
            a.apply(msg);
        }
        assert_eq!(
            ch(&mut a, 'g'),
            Some(Command::Generate {
                count: GENERATE_COUNT
            })
        );
    }

    #[test]
    fn view_keys_change_the_view_not_the_trainer() {
        let mut a = app(TaskKind::Quadratic);
        assert!(a.view.log_y);
        assert_eq!(ch(&mut a, 'l'), None);
        assert!(!a.view.log_y);
        let s = a.view.smoothing;
        ch(&mut a, 's');
        assert_eq!(a.view.smoothing, s + 1);
        ch(&mut a, 'S');
        ch(&mut a, 'S');
        assert_eq!(a.view.smoothing, s - 1);
        for _ in 0..10 {
            ch(&mut a, 'S');
        }
        assert_eq!(a.view.smoothing(), 0.0);
    }

    #[test]
    fn time_window_keys() {
        let mut a = app(TaskKind::Quadratic);
        // The fixture spans steps 0..100: the first → picks the longest window shorter than
        // that, or the shortest.
        assert_eq!(a.view.window, None);
        key(&mut a, KeyCode::Right);
        assert_eq!(a.view.window, Some(0));
        assert_eq!(a.view.x_range((1.0, 2_000.0)), (1_900.0, 2_000.0));
        key(&mut a, KeyCode::Right);
        assert_eq!(a.view.window, Some(0));
        key(&mut a, KeyCode::Left);
        assert_eq!(a.view.window, Some(1));
        ch(&mut a, 'z');
        assert_eq!(a.view.window, None);
        ch(&mut a, 'z');
        assert_eq!(a.view.window, Some(1));
        // A longer run: the first → zooms to the longest window inside it.
        a.apply(Msg::Steps(
            (101..=2_000)
                .map(|i| crate::testkit::lodo_step(0, i, 0.01, 1.0))
                .collect(),
        ));
        a.view.window = None;
        key(&mut a, KeyCode::Right);
        assert_eq!(a.view.window, Some(2));
        for _ in 0..20 {
            key(&mut a, KeyCode::Left);
        }
        assert_eq!(a.view.window, None);
    }

    #[test]
    fn picker_filters_and_switches_optimistically() {
        let mut a = app(TaskKind::Quadratic);
        assert_eq!(ch(&mut a, 'o'), None);
        assert!(matches!(a.mode, Mode::Picker(_)));
        // Letters are filter text here, not commands.
        assert_eq!(ch(&mut a, 'a'), None);
        assert_eq!(ch(&mut a, 'd'), None);
        let Mode::Picker(p) = &a.mode else { panic!() };
        assert_eq!(p.filter, "ad");
        let cmd = key(&mut a, KeyCode::Enter);
        let Some(Command::SwitchOptimizer { lane: 0, spec }) = cmd else {
            panic!("{cmd:?}")
        };
        assert_eq!(spec.name, "adam");
        assert_eq!(a.mode, Mode::Normal);
        // The header shows the new optimizer before the trainer confirms it.
        assert_eq!(a.model.lanes[0].optimizer().name, "adam");
        assert_eq!(a.model.lanes[0].status.optimizer.name, "lodo");
    }

    #[test]
    fn picker_moves_and_cancels() {
        let mut a = app(TaskKind::Quadratic);
        ch(&mut a, 'o');
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Up);
        let Mode::Picker(p) = &a.mode else { panic!() };
        assert_eq!(p.cursor, 1);
        assert_eq!(key(&mut a, KeyCode::Esc), None);
        assert_eq!(a.mode, Mode::Normal);
        assert_eq!(a.model.lanes[0].pending, None);
        // A filter matching nothing: Enter does nothing and stays open.
        ch(&mut a, 'o');
        ch(&mut a, 'x');
        ch(&mut a, 'y');
        assert_eq!(key(&mut a, KeyCode::Enter), None);
        assert!(matches!(a.mode, Mode::Picker(_)));
        key(&mut a, KeyCode::Backspace);
        key(&mut a, KeyCode::Backspace);
        let Mode::Picker(p) = &a.mode else { panic!() };
        assert!(p.filter.is_empty());
    }

    #[test]
    fn race_multi_selects() {
        let mut a = app(TaskKind::Quadratic);
        ch(&mut a, 'r');
        assert!(matches!(a.mode, Mode::Race(_)));
        ch(&mut a, ' '); // lodo
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Down);
        ch(&mut a, ' '); // third alternative
        let names: Vec<String> = a.alternatives().iter().map(|s| s.name.clone()).collect();
        let Some(Command::Race { specs }) = key(&mut a, KeyCode::Enter) else {
            panic!()
        };
        let got: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(got, vec![names[0].as_str(), names[2].as_str()]);
        assert_eq!(a.mode, Mode::Normal);
    }

    #[test]
    fn quit_asks_while_training_and_waits_for_the_trainer() {
        let mut a = app(TaskKind::Quadratic);
        assert_eq!(ch(&mut a, 'q'), None);
        assert_eq!(a.mode, Mode::ConfirmQuit);
        // Esc cancels.
        assert_eq!(key(&mut a, KeyCode::Esc), None);
        assert_eq!(a.mode, Mode::Normal);
        ch(&mut a, 'q');
        assert_eq!(ch(&mut a, 'y'), Some(Command::Quit));
        assert_eq!(a.mode, Mode::Stopping);
        assert!(!a.exit);
        // Keys are ignored while stopping; the trainer's Finished ends the loop.
        assert_eq!(ch(&mut a, ' '), None);
        a.apply(Msg::Finished(Ok(summary())));
        assert!(a.exit);
    }

    #[test]
    fn quit_is_immediate_once_finished() {
        let mut a = app(TaskKind::Quadratic);
        a.apply(Msg::Finished(Ok(summary())));
        assert_eq!(ch(&mut a, 'q'), None);
        assert!(a.exit);
    }

    #[test]
    fn ctrl_c_quits_without_asking() {
        let mut a = app(TaskKind::Quadratic);
        ch(&mut a, '?');
        assert_eq!(a.mode, Mode::Help);
        let cmd = a.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(cmd, Some(Command::Quit));
        assert_eq!(a.mode, Mode::Stopping);
        // A second Ctrl-C stops waiting.
        a.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert!(a.exit);
    }

    #[test]
    fn help_opens_and_closes() {
        let mut a = app(TaskKind::Quadratic);
        ch(&mut a, '?');
        assert_eq!(a.mode, Mode::Help);
        assert_eq!(ch(&mut a, ' '), None);
        assert_eq!(a.mode, Mode::Help);
        ch(&mut a, '?');
        assert_eq!(a.mode, Mode::Normal);
    }

    #[test]
    fn commands_after_the_end_are_not_sent() {
        let mut a = app(TaskKind::Quadratic);
        a.apply(Msg::Finished(Err("boom".into())));
        assert_eq!(ch(&mut a, ' '), None);
        assert_eq!(ch(&mut a, 'c'), None);
        assert_eq!(ch(&mut a, 'o'), None);
        assert_eq!(a.notice.as_deref(), Some("training has ended"));
        // Esc dismisses the failure box.
        key(&mut a, KeyCode::Esc);
        assert!(a.error_dismissed);
    }

    fn attached(task: TaskKind) -> App {
        let mut app = app(task);
        app.run_id = Some("quadratic-20261203-1".into());
        app
    }

    #[test]
    fn q_on_a_served_run_asks_stop_detach_or_cancel() {
        let mut a = attached(TaskKind::Quadratic);
        assert_eq!(ch(&mut a, 'q'), None);
        assert_eq!(a.mode, Mode::ConfirmQuit);
        assert_eq!(key(&mut a, KeyCode::Esc), None);
        assert_eq!(a.mode, Mode::Normal);
        assert!(!a.exit);
        // d in the dialog detaches: no command reaches the run.
        ch(&mut a, 'q');
        assert_eq!(ch(&mut a, 'd'), None);
        assert!(a.exit && a.detached);
        // s stops it and waits for its summary.
        let mut a = attached(TaskKind::Quadratic);
        ch(&mut a, 'q');
        assert_eq!(ch(&mut a, 's'), Some(Command::Quit));
        assert_eq!(a.mode, Mode::Stopping);
        assert!(!a.exit && !a.detached);
        a.apply(Msg::Finished(Ok(summary())));
        assert!(a.exit && !a.detached);
    }

    #[test]
    fn d_detaches_a_served_run_and_only_a_served_one() {
        let mut a = attached(TaskKind::Quadratic);
        assert_eq!(ch(&mut a, 'd'), None);
        assert!(a.exit && a.detached);
        let mut a = app(TaskKind::Quadratic);
        assert_eq!(ch(&mut a, 'd'), None);
        assert!(!a.exit && !a.detached);
        assert!(a.notice.as_deref().unwrap_or("").contains("cannot detach"));
    }

    #[test]
    fn ctrl_c_on_a_served_run_asks_as_q_does() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let mut a = attached(TaskKind::Quadratic);
        ch(&mut a, '?');
        assert_eq!(a.on_key(ctrl_c), None);
        assert_eq!(a.mode, Mode::ConfirmQuit);
        // Again: the question stays; stopping a run takes an answer.
        assert_eq!(a.on_key(ctrl_c), None);
        assert_eq!(a.mode, Mode::ConfirmQuit);
        assert!(!a.exit);
        // Once the run has finished, q just leaves.
        let mut a = attached(TaskKind::Quadratic);
        a.apply(Msg::Finished(Ok(summary())));
        assert_eq!(ch(&mut a, 'q'), None);
        assert!(a.exit && !a.detached);
    }
}
