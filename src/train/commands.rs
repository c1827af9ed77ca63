//! Applying observers' commands between steps. Every change is reported as an event with its old
//! and new values; a command that cannot be carried out is reported as a named error event and
//! changes nothing.

use std::path::PathBuf;
use std::sync::mpsc::TryRecvError;
use std::time::{Duration, Instant};

use crate::format::{exact, thousands};
use crate::optim::OptimizerSpec;
use crate::task::{Digits, TaskView};

use super::lane::Lane;
use super::slot::Switched;
use super::trainer::{Flow, Trainer};
use crate::schema::{Command, EventKind, LaneId, RunState};

/// Where `Checkpoint` writes when no `--checkpoint-dir` was given.
const DEFAULT_CHECKPOINT_DIR: &str = "checkpoints";
/// Generated digits are sent at most this often while they are being drawn.
const GENERATE_VIEW_EVERY: Duration = Duration::from_millis(100);

impl Trainer {
    pub(super) fn apply(&mut self, command: Command) -> Flow {
        match command {
            Command::Pause => self.pause(),
            Command::Resume => self.resume(),
            Command::Step(n) => self.single_step(n),
            Command::SwitchOptimizer { lane, spec } => self.switch(lane, &spec),
            Command::ResetOptimizer { lane } => self.reset(lane),
            Command::SetLr { lane, value } => self.set_lr(lane, |_| value),
            Command::ScaleLr { lane, factor } => self.set_lr(lane, |old| old * factor),
            Command::SetMetaLr { lane, value } => self.set_meta_lr(lane, |_| value),
            Command::ScaleMetaLr { lane, factor } => self.set_meta_lr(lane, |old| old * factor),
            Command::Race { specs } => self.race(&specs),
            Command::ScalePace { factor } => self.scale_pace(factor),
            Command::Checkpoint => {
                let dir = self
                    .settings
                    .checkpoint_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_CHECKPOINT_DIR));
                self.checkpoint_to(&dir);
            }
            Command::Generate { count } => return self.generate(count),
            Command::Quit => return Flow::Stop,
        }
        Flow::Continue
    }

    fn scale_pace(&mut self, factor: f64) {
        if !(factor.is_finite() && factor > 0.0) {
            return self.error(None, format!("pace factor must be positive, got {factor}"));
        }
        let old = self.pacer.limit();
        let new = self.pacer.scale(factor);
        if old == new {
            return;
        }
        let show = |p: Option<f64>| match p {
            Some(p) => format!("{} steps/s", exact(p as f32)),
            None => "full speed".to_string(),
        };
        let detail = format!("pace {} -> {}", show(old), show(new));
        let step = self.step();
        self.emit.event(None, step, EventKind::Info, detail);
        self.emit.pace(new);
    }

    fn error(&mut self, lane: Option<LaneId>, detail: String) {
        let step = self.step();
        self.emit.event(lane, step, EventKind::Error, detail);
    }

    /// The lane index, or an error event naming the lanes that exist.
    fn lane_index(&mut self, lane: LaneId) -> Option<usize> {
        if lane < self.lanes.len() {
            Some(lane)
        } else {
            let n = self.lanes.len();
            self.error(None, format!("no lane {lane} (lanes are 0..{n})"));
            None
        }
    }

    fn set_states(&mut self, from: &[RunState], to: RunState) -> usize {
        let mut changed = 0;
        for lane in &mut self.lanes {
            if from.contains(&lane.state) {
                lane.state = to;
                changed += 1;
            }
        }
        changed
    }

    fn pause(&mut self) {
        let step = self.step();
        if self.set_states(&[RunState::Running], RunState::Paused) > 0 {
            self.emit.event(
                None,
                step,
                EventKind::Pause,
                format!("paused at step {}", thousands(step)),
            );
            self.after_lanes_changed();
        }
    }

    fn resume(&mut self) {
        self.pending_steps = 0;
        let step = self.step();
        let from = [RunState::Paused, RunState::Diverged];
        if self.set_states(&from, RunState::Running) > 0 {
            self.emit.event(
                None,
                step,
                EventKind::Resume,
                format!("resumed at step {}", thousands(step)),
            );
            self.after_lanes_changed();
        }
    }

    fn single_step(&mut self, n: u32) {
        let paused = |l: &Lane| matches!(l.state, RunState::Paused | RunState::Diverged);
        if self.lanes.iter().any(paused) {
            self.pending_steps = self.pending_steps.saturating_add(n);
        } else {
            let step = self.step();
            let detail = "single steps apply while paused; nothing is paused".to_string();
            self.emit.event(None, step, EventKind::Info, detail);
        }
    }

    fn switch(&mut self, lane: LaneId, spec: &OptimizerSpec) {
        let Some(i) = self.lane_index(lane) else {
            return;
        };
        let old = self.lanes[i].slot.optimizer().spec();
        match self.lanes[i].slot.switch(&self.factory, spec) {
            Ok(how) => {
                let new = self.lanes[i].slot.optimizer().spec();
                let note = match how {
                    Switched::Resumed => " (resumed its saved state)",
                    Switched::Fresh => " (fresh state)",
                    Switched::Replaced => " (fresh state: new hyperparameters)",
                    Switched::Unchanged => " (already running)",
                };
                let step = self.lanes[i].step;
                let detail = format!("{old} -> {new}{note}");
                self.emit.event(Some(lane), step, EventKind::Switch, detail);
                self.after_lanes_changed();
            }
            Err(e) => self.error(Some(lane), format!("cannot switch to {spec}: {e:#}")),
        }
    }

    fn reset(&mut self, lane: LaneId) {
        let Some(i) = self.lane_index(lane) else {
            return;
        };
        let l = &mut self.lanes[i];
        l.slot.optimizer_mut().reset();
        let detail = format!("{} state reset", l.slot.optimizer().name());
        let step = l.step;
        self.emit.event(Some(lane), step, EventKind::Reset, detail);
        self.after_lanes_changed();
    }

    fn set_lr(&mut self, lane: LaneId, value: impl Fn(f32) -> f32) {
        let Some(i) = self.lane_index(lane) else {
            return;
        };
        let opt = self.lanes[i].slot.optimizer_mut();
        let old = opt.lr();
        let new = value(old);
        match opt.set_lr(new) {
            Ok(()) => {
                let step = self.lanes[i].step;
                let detail = format!("lr {} -> {}", exact(old), exact(new));
                self.emit.event(Some(lane), step, EventKind::Lr, detail);
                self.after_lanes_changed();
            }
            Err(e) => self.error(
                Some(lane),
                format!("cannot set lr to {}: {e:#}", exact(new)),
            ),
        }
    }

    fn set_meta_lr(&mut self, lane: LaneId, value: impl Fn(f32) -> f32) {
        let Some(i) = self.lane_index(lane) else {
            return;
        };
        let opt = self.lanes[i].slot.optimizer_mut();
        let Some(old) = opt.meta_lr() else {
            let name = opt.name();
            self.error(
                Some(lane),
                format!("{name} has no meta learning rate (only the LODO family has one)"),
            );
            return;
        };
        let new = value(old);
        match opt.set_meta_lr(new) {
            Ok(()) => {
                let step = self.lanes[i].step;
                let detail = format!("meta_lr {} -> {}", exact(old), exact(new));
                self.emit.event(Some(lane), step, EventKind::MetaLr, detail);
                self.after_lanes_changed();
            }
            Err(e) => self.error(
                Some(lane),
                format!("cannot set meta_lr to {}: {e:#}", exact(new)),
            ),
        }
    }

    /// Replaces the lanes by one per spec, all starting from lane 0's parameters.
    fn race(&mut self, specs: &[OptimizerSpec]) {
        if specs.is_empty() {
            self.error(None, "a race needs at least one optimizer".into());
            return;
        }
        let base = &self.lanes[0];
        let mut slots = Vec::with_capacity(specs.len());
        for spec in specs {
            match base.slot.fork(&self.factory, spec) {
                Ok(forked) => slots.push(forked),
                Err(e) => {
                    self.error(None, format!("cannot race {spec}: {e:#}"));
                    return;
                }
            }
        }
        let state = match base.state {
            RunState::Running => RunState::Running,
            _ => RunState::Paused,
        };
        // The parameters before the base's last step go along, so a fork made right after a bad
        // step can still be restored by the divergence guard.
        let (params, before, step, grad_evals) = (
            base.params.clone(),
            base.before.clone(),
            base.step,
            base.grad_evals,
        );
        let names: Vec<String> = slots
            .iter()
            .map(|(slot, how)| {
                let name = slot.optimizer().spec().to_string();
                match how {
                    Switched::Resumed => format!("{name} (continuing)"),
                    _ => name,
                }
            })
            .collect();
        self.lanes = slots
            .into_iter()
            .enumerate()
            .map(|(id, (slot, _))| {
                let mut lane = Lane::new(id, params.clone(), slot, step, grad_evals);
                lane.before.clone_from(&before);
                lane.state = state;
                lane
            })
            .collect();
        self.pending_steps = 0;
        let detail = format!("race from step {}: {}", thousands(step), names.join(", "));
        self.emit.event(None, step, EventKind::Race, detail);
        let info = self.start_info();
        self.emit.start(info, None);
        self.after_lanes_changed();
    }

    /// Samples images from lane 0's model, showing them as they are drawn. Commands that arrive
    /// meanwhile are queued; `Quit` cancels.
    fn generate(&mut self, count: usize) -> Flow {
        if !self.task.can_generate() {
            let name = self.task.kind().name();
            self.error(None, format!("{name}: this task cannot generate samples"));
            return Flow::Continue;
        }
        if count == 0 {
            self.error(None, "generate: count must be at least 1".into());
            return Flow::Continue;
        }
        let seed = self
            .settings
            .preset
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(self.generated);
        self.generated += 1;
        let step = self.lanes[0].step;
        let detail = format!(
            "generating {count} samples from lane 0 at step {}",
            crate::format::thousands(step)
        );
        self.emit.event(Some(0), step, EventKind::Generate, detail);

        let start = Instant::now();
        let mut quit = false;
        let Trainer {
            task,
            lanes,
            emit,
            commands,
            queued,
            ..
        } = self;
        let mut last_view: Option<Instant> = None;
        let mut progress = |digits: &Digits| -> bool {
            if last_view.is_none_or(|t| t.elapsed() >= GENERATE_VIEW_EVERY) {
                emit.view(None, TaskView::Digits(digits.clone()));
                last_view = Some(Instant::now());
            }
            loop {
                match commands.try_recv() {
                    Ok(crate::schema::Command::Quit) | Err(TryRecvError::Disconnected) => {
                        quit = true;
                        return false;
                    }
                    Ok(other) => queued.push_back(other),
                    Err(TryRecvError::Empty) => break,
                }
            }
            !emit.hung_up()
        };
        let result = task.generate(&lanes[0].params, count, seed, &mut progress);
        match result {
            Ok(digits) => {
                self.emit.view(None, TaskView::Digits(digits));
                let detail = format!(
                    "generated {count} samples in {:.1} s",
                    start.elapsed().as_secs_f64()
                );
                self.emit.event(Some(0), step, EventKind::Generate, detail);
            }
            Err(_) if quit || self.emit.hung_up() => {
                let detail = "sample generation cancelled".to_string();
                self.emit.event(Some(0), step, EventKind::Generate, detail);
            }
            Err(e) => self.error(Some(0), format!("sample generation failed: {e:#}")),
        }
        if quit { Flow::Stop } else { Flow::Continue }
    }
}
