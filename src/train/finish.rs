//! Checkpointing and the end of a run, as seen from the trainer: snapshots of every lane, the
//! periodic and final checkpoints, and the summary.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::checkpoint::{Checkpoint, LaneSnapshot};
use super::checkpoint_dir;
use super::lane::Lane;
use super::trainer::Trainer;
use crate::schema::{EventKind, LaneSummary, RunState, Summary};

/// How many periodic checkpoints to keep (older ones are deleted; manual ones never are).
const KEEP_PERIODIC: usize = 2;

impl Trainer {
    pub(super) fn snapshot(&self) -> Result<Checkpoint> {
        let lanes = self
            .lanes
            .iter()
            .map(|l| {
                let mut snap = LaneSnapshot::new(
                    l.id,
                    l.step,
                    l.state,
                    l.params.clone(),
                    l.before.clone(),
                    &l.slot.save(),
                    l.stats.clone(),
                )?;
                snap.grad_evals = l.grad_evals;
                Ok(snap)
            })
            .collect::<Result<_>>()?;
        Checkpoint::new(
            &self.settings.preset,
            self.iterations,
            self.generated,
            self.emit.clock.now(),
            self.task.state(),
            lanes,
        )
    }

    /// Writes a checkpoint to `dir` and reports it (or the failure) as an event.
    pub(super) fn checkpoint_to(&mut self, dir: &Path) -> Option<PathBuf> {
        let step = self.step();
        let run = &self.settings.run;
        match self
            .snapshot()
            .and_then(|ck| ck.save(dir, run, &self.written))
        {
            Ok(path) => {
                if !self.written.contains(&path) {
                    self.written.push(path.clone());
                }
                let size = path.metadata().map(|m| m.len()).unwrap_or(0);
                let size = if size >= 1_000_000 {
                    format!("{:.1} MB", size as f64 / 1e6)
                } else {
                    format!("{:.1} kB", size as f64 / 1e3)
                };
                let detail = format!("checkpoint saved: {} ({size})", path.display());
                self.emit.event(None, step, EventKind::Checkpoint, detail);
                self.last_saved = Some(path.clone());
                Some(path)
            }
            Err(e) => {
                let kept = match &self.last_saved {
                    Some(path) => format!("the last one saved is {}", path.display()),
                    None => "no checkpoint of this run was saved".to_string(),
                };
                let what =
                    format!("the checkpoint at step {step} could not be saved ({e:#}); {kept}");
                self.emit.lose(step, what);
                None
            }
        }
    }

    /// Removes temporaries that runs killed mid-write left in the checkpoint directory.
    pub(super) fn sweep_checkpoint_dir(&mut self) {
        let Some(dir) = self.settings.checkpoint_dir.clone() else {
            return;
        };
        let removed = checkpoint_dir::sweep_stale(&dir);
        if !removed.is_empty() {
            let step = self.step();
            let detail = format!(
                "removed {} temporary checkpoint file(s) of runs that died while writing them \
                 in {}",
                removed.len(),
                dir.display()
            );
            self.emit.event(None, step, EventKind::Info, detail);
        }
    }

    pub(super) fn periodic_checkpoint(&mut self) {
        let (Some(every), Some(dir)) = (
            self.settings.preset.checkpoint_interval,
            self.settings.checkpoint_dir.clone(),
        ) else {
            return;
        };
        if !self.iterations.is_multiple_of(every) {
            return;
        }
        if let Some(path) = self.checkpoint_to(&dir) {
            self.periodic.push_back(path);
            while self.periodic.len() > KEEP_PERIODIC {
                if let Some(old) = self.periodic.pop_front() {
                    let _ = std::fs::remove_file(old);
                }
            }
        }
    }

    /// Final evaluation (with the task's costly end-of-run metrics when asked), final checkpoint
    /// (with `--checkpoint-dir`), lane states, summary.
    pub(super) fn wrap_up(&mut self) -> Summary {
        for i in 0..self.lanes.len() {
            let lane = &self.lanes[i];
            if lane.stats.metrics_step != Some(lane.step)
                && let Err(e) = self.evaluate(i)
            {
                let step = self.lanes[i].step;
                self.emit
                    .event(Some(i), step, EventKind::Error, format!("{e:#}"));
            }
            if self.settings.final_evaluation
                && let Err(e) = self.final_evaluation(i)
            {
                let step = self.lanes[i].step;
                self.emit
                    .event(Some(i), step, EventKind::Error, format!("{e:#}"));
            }
        }
        if let Some(dir) = self.settings.checkpoint_dir.clone() {
            self.checkpoint_to(&dir);
        }
        for lane in &mut self.lanes {
            if matches!(lane.state, RunState::Running | RunState::Paused) {
                lane.state = RunState::Finished;
            }
        }
        self.emit.lanes(self.statuses());
        Summary {
            lanes: self.lanes.iter().map(lane_summary).collect(),
            elapsed_s: self.emit.clock.now(),
            lost: self.emit.lost().to_vec(),
        }
    }
}

impl Trainer {
    /// The task's end-of-run metrics of lane `i`, added to its latest metrics and recorded as an
    /// evaluation of their own at the lane's step.
    fn final_evaluation(&mut self, i: usize) -> Result<()> {
        let lane = &self.lanes[i];
        let metrics = self
            .task
            .final_evaluation(&lane.params)
            .with_context(|| format!("final evaluation at step {}", lane.step))?;
        if metrics.is_empty() {
            return Ok(());
        }
        let (id, step) = (lane.id, lane.step);
        self.lanes[i].stats.metrics.extend(metrics.clone());
        self.emit.eval(id, step, metrics);
        Ok(())
    }
}

fn lane_summary(lane: &Lane) -> LaneSummary {
    let s = &lane.stats;
    LaneSummary {
        lane: lane.id,
        optimizer: lane.slot.optimizer().name().to_string(),
        steps: lane.step,
        grad_evals: lane.grad_evals,
        final_loss: s.final_loss,
        best_loss: s.best_loss,
        steps_per_s: s.steps_per_s(),
        diverged: s.diverged,
        metrics: s.metrics.clone(),
        mean_loss_last_10pct: s.losses.tail_mean(0.1) as f32,
        task_ms_median: s.task_ms.median_ms(),
        optimizer_ms_median: s.optimizer_ms.median_ms(),
    }
}
