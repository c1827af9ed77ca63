//! The trainer loop: per step, apply pending commands, draw one minibatch, and step every running
//! lane on it (loss and gradient → guard → optimizer), then evaluate, checkpoint and report.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::optim::StepStats;
use crate::preset::Preset;
use crate::schema::StartLine;
use crate::task::{EvalContext, Task};

use super::checkpoint_dir::RunId;
use super::emit::Emitter;
use super::guard::{ADVICE, Guard, Trip};
use super::lane::{Lane, Outcome};
use super::pace::Pacer;
use super::setup::Setup;
use super::slot::Factory;
use crate::schema::{Command, EventKind, LaneStatus, RunState, StartInfo, StepRecord};

/// What the trainer was asked to do beyond the preset.
pub struct Settings {
    pub preset: Preset,
    pub checkpoint_dir: Option<PathBuf>,
    pub run: RunId,
    /// Stop when no lane can run (every lane diverged) instead of waiting for commands: for
    /// headless runs, where nobody can send any.
    pub halt_when_stalled: bool,
    /// Start with the running lanes paused.
    pub start_paused: bool,
    /// At most this many steps a second (the dashboard's speed limit); `None`: full speed.
    pub pace: Option<f64>,
    /// Finish a lane once it has used this many gradient evaluations (`compare --grad-evals`),
    /// at the end of the step that reaches it, so a two-evaluation step may pass it by one.
    pub max_grad_evals: Option<u64>,
    /// Add the task's costly end-of-run metrics ([`Task::final_evaluation`]) to the final
    /// evaluation: for headless runs and `compare`; the dashboard leaves them to
    /// `lodo-tui evaluate` so quitting stays quick.
    pub final_evaluation: bool,
}

/// Whether to keep going after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    Stop,
}

pub struct Trainer {
    pub(super) settings: Settings,
    pub(super) task: Box<dyn Task>,
    pub(super) factory: Factory,
    pub(super) lanes: Vec<Lane>,
    pub(super) guard: Guard,
    pub(super) emit: Emitter,
    pub(super) commands: Receiver<Command>,
    /// Commands that arrived while something else was going on (sample generation).
    pub(super) queued: VecDeque<Command>,
    /// Single steps requested while paused.
    pub(super) pending_steps: u32,
    /// Minibatches drawn.
    pub(super) iterations: u64,
    pub(super) generated: u64,
    pub(super) resumed_from: Option<u64>,
    /// Periodic checkpoints written so far (the oldest are deleted).
    pub(super) periodic: VecDeque<PathBuf>,
    /// The newest checkpoint this run saved.
    pub(super) last_saved: Option<PathBuf>,
    /// Every checkpoint this run wrote: the only files it may replace.
    pub(super) written: Vec<PathBuf>,
    pub(super) pacer: Pacer,
}

impl Trainer {
    pub fn new(
        settings: Settings,
        mut setup: Setup,
        emit: Emitter,
        commands: Receiver<Command>,
    ) -> Self {
        if settings.start_paused {
            for lane in &mut setup.lanes {
                if lane.state == RunState::Running {
                    lane.state = RunState::Paused;
                }
            }
        }
        let pacer = Pacer::new(settings.pace);
        Self {
            guard: Guard {
                bound: settings.preset.loss_bound,
            },
            settings,
            task: setup.task,
            factory: setup.factory,
            lanes: setup.lanes,
            emit,
            commands,
            queued: VecDeque::new(),
            pending_steps: 0,
            iterations: setup.iterations,
            generated: setup.generated,
            resumed_from: setup.resumed_from,
            periodic: VecDeque::new(),
            last_saved: None,
            written: Vec::new(),
            pacer,
        }
    }

    /// Runs to the end and reports the result; task errors end the run as `Finished(Err)`.
    pub fn run(mut self) {
        match self.main_loop() {
            Ok(()) => {
                let summary = self.wrap_up();
                self.emit.finish(Ok(summary));
            }
            Err(e) => {
                let text = format!("{e:#}");
                let step = self.step();
                self.emit.event(None, step, EventKind::Error, text.clone());
                self.emit.finish(Err(text));
            }
        }
    }

    fn main_loop(&mut self) -> Result<()> {
        self.announce()?;
        loop {
            if !self.take_commands() {
                return self.stopped("quit");
            }
            // Going on would lose more: everything after this point would be unsaved too.
            if !self.emit.lost().is_empty() {
                return self.stopped("data could not be saved (see the error above)");
            }
            if self.lanes.iter().all(|l| l.state == RunState::Finished) {
                return self.stopped(match self.settings.max_grad_evals {
                    Some(_) => "every lane reached max_steps or its gradient-evaluation budget",
                    None => "every lane reached max_steps",
                });
            }
            if !self
                .lanes
                .iter()
                .any(|l| l.runnable(self.pending_steps > 0))
            {
                if self.settings.halt_when_stalled {
                    return self.stopped("no lane can continue (headless)");
                }
                if !self.wait_for_command() {
                    return self.stopped("the observer hung up");
                }
                continue;
            }
            if self.pending_steps == 0
                && let Some(wait) = self.pacer.wait(Instant::now())
            {
                let waiting = Instant::now();
                let go_on = self.wait_for_command_up_to(wait);
                // The pace's waits are part of a paced lane's time: its rate is what it ran at.
                let waited = waiting.elapsed().as_secs_f64();
                for lane in &mut self.lanes {
                    if lane.state == RunState::Running {
                        lane.stats.session_s += waited;
                    }
                }
                if !go_on {
                    return self.stopped("the observer hung up");
                }
                continue;
            }
            self.pacer.started(Instant::now());
            self.iterate()?;
            if self.emit.hung_up() {
                return self.stopped("the observer hung up");
            }
        }
    }

    fn stopped(&mut self, why: &str) -> Result<()> {
        let step = self.step();
        self.emit
            .event(None, step, EventKind::Info, format!("stopped: {why}"));
        Ok(())
    }

    /// The highest lane step (the run's step for run-wide events).
    pub(super) fn step(&self) -> u64 {
        self.lanes.iter().map(|l| l.step).max().unwrap_or(0)
    }

    pub(super) fn start_info(&self) -> StartInfo {
        let preset = &self.settings.preset;
        StartInfo {
            preset: preset.name.clone(),
            task: self.task.kind(),
            task_title: self.task.title(),
            n_params: self.factory.n,
            seed: preset.seed,
            batch_size: preset.task.batch_size,
            max_steps: preset.max_steps,
            eval_interval: preset.eval_interval,
            pace: self.pacer.limit(),
            alternatives: preset.alternatives.clone(),
            lanes: self.statuses(),
            face: Some(self.task.kind().face()),
        }
    }

    pub(super) fn statuses(&self) -> Vec<LaneStatus> {
        self.lanes.iter().map(Lane::status).collect()
    }

    /// The start line and message, static view, lane states, first points and evaluation.
    fn announce(&mut self) -> Result<()> {
        let info = self.start_info();
        let line = StartLine::new(&info, self.resumed_from, self.settings.preset.clone());
        self.emit.start(info, Some(line));
        if let Some(view) = self.task.static_view() {
            self.emit.view(None, view);
        }
        if let Some(step) = self.resumed_from {
            self.emit.event(
                None,
                step,
                EventKind::Info,
                format!("resumed from a checkpoint at step {step}"),
            );
        }
        self.sweep_checkpoint_dir();
        self.after_lanes_changed();
        for i in 0..self.lanes.len() {
            if self.lanes[i].stats.metrics_step != Some(self.lanes[i].step) {
                self.evaluate(i)?;
            }
        }
        Ok(())
    }

    /// Sends the lane states and each lane's current point (2-D tasks).
    pub(super) fn after_lanes_changed(&mut self) {
        self.emit.lanes(self.statuses());
        for lane in &self.lanes {
            if let Some(xy) = self.task.point_view(&lane.params) {
                self.emit.point(lane.id, lane.step, xy);
            }
        }
    }

    /// Applies queued and newly arrived commands; `false` when the run should stop.
    fn take_commands(&mut self) -> bool {
        loop {
            let command = match self.queued.pop_front() {
                Some(c) => c,
                None => match self.commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty) => return true,
                    Err(TryRecvError::Disconnected) => return false,
                },
            };
            if self.apply(command) == Flow::Stop {
                return false;
            }
        }
    }

    /// Blocks until a command arrives (nothing can run); `false` if the observer is gone.
    fn wait_for_command(&mut self) -> bool {
        self.emit.flush();
        loop {
            match self.commands.recv_timeout(Duration::from_millis(100)) {
                Ok(command) => {
                    self.queued.push_back(command);
                    return true;
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.emit.tick();
                    if self.emit.hung_up() {
                        return false;
                    }
                    if !self.emit.lost().is_empty() {
                        return true;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    /// Waits at most `wait` for a command (keeping the pace); `false` if the observer is gone.
    fn wait_for_command_up_to(&mut self, wait: Duration) -> bool {
        match self.commands.recv_timeout(wait) {
            Ok(command) => {
                self.queued.push_back(command);
                true
            }
            Err(RecvTimeoutError::Timeout) => {
                self.emit.tick();
                !self.emit.hung_up()
            }
            Err(RecvTimeoutError::Disconnected) => false,
        }
    }

    /// One minibatch for every lane that runs.
    fn iterate(&mut self) -> Result<()> {
        let stepping = self.pending_steps > 0;
        let start = Instant::now();
        self.task.next_batch();
        self.iterations += 1;
        let mut stepped = Vec::new();
        for i in 0..self.lanes.len() {
            if !self.lanes[i].runnable(stepping) {
                continue;
            }
            match self.lanes[i].step(self.task.as_mut(), &self.guard)? {
                Outcome::Stepped { loss, stats } => {
                    self.report_step(i, loss, stats);
                    stepped.push(i);
                }
                Outcome::Tripped {
                    trip,
                    restored_to,
                    state_reset,
                } => self.report_trip(i, &trip, restored_to, state_reset),
            }
        }
        let busy = start.elapsed().as_secs_f64();
        if stepping {
            self.pending_steps -= 1;
        }
        let mut finished = false;
        for &i in &stepped {
            self.lanes[i].stats.session_s += busy;
            if self.lanes[i]
                .step
                .is_multiple_of(self.settings.preset.eval_interval)
            {
                self.evaluate(i)?;
            }
            let lane = &self.lanes[i];
            let out_of_steps = self
                .settings
                .preset
                .max_steps
                .is_some_and(|max| lane.step >= max);
            let out_of_evals = self
                .settings
                .max_grad_evals
                .zip(lane.grad_evals)
                .is_some_and(|(max, used)| used >= max);
            if out_of_steps || out_of_evals {
                self.lanes[i].state = RunState::Finished;
                finished = true;
            }
        }
        if finished {
            self.emit.lanes(self.statuses());
        }
        self.periodic_checkpoint();
        self.emit.tick();
        Ok(())
    }

    fn report_step(&mut self, i: usize, loss: f32, stats: StepStats) {
        let lane = &self.lanes[i];
        let record = StepRecord {
            lane: lane.id,
            step: lane.step,
            grad_evals: lane.grad_evals,
            t: self.emit.clock.now(),
            optimizer: lane.slot.optimizer().name().to_string(),
            loss,
            stats,
        };
        self.emit.step(record);
        if let Some(xy) = self.task.point_view(&lane.params) {
            self.emit.point(lane.id, lane.step, xy);
        }
    }

    fn report_trip(&mut self, i: usize, trip: &Trip, restored_to: Option<u64>, reset: bool) {
        let lane = &self.lanes[i];
        let restored = match restored_to {
            Some(step) => format!(", parameters restored to those after step {step}"),
            None => String::new(),
        };
        let reset = if reset {
            "; its optimizer state had gone non-finite and was reset"
        } else {
            ""
        };
        let detail = format!(
            "{} diverged after step {}: {trip}; lane {} paused{restored}{reset}. To continue: {ADVICE}",
            lane.slot.optimizer().name(),
            lane.step,
            lane.id,
        );
        let (id, step) = (lane.id, lane.step);
        self.emit.event(Some(id), step, EventKind::Diverged, detail);
        self.emit.lanes(self.statuses());
    }

    pub(super) fn evaluate(&mut self, i: usize) -> Result<()> {
        let lane = &self.lanes[i];
        let ctx = EvalContext {
            preconditioner: lane.slot.optimizer().preconditioner(),
        };
        let metrics = self
            .task
            .evaluate(&lane.params, &ctx)
            .with_context(|| format!("evaluation at step {}", lane.step))?;
        let (id, step) = (lane.id, lane.step);
        let stats = &mut self.lanes[i].stats;
        stats.metrics = metrics.clone();
        stats.metrics_step = Some(step);
        self.emit.eval(id, step, metrics);
        Ok(())
    }
}
