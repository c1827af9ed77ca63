//! A lane: one parameter vector with its optimizer slot, run state, step counter and statistics.
//! Lanes of a race share the task, so they see the same minibatches.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use crate::optim::{SameBatch, StepStats};
use crate::task::Task;

use super::guard::{Guard, Trip};
use super::slot::Slot;
use super::stats::LaneStats;
use crate::schema::{LaneId, LaneStatus, RunState};

pub struct Lane {
    pub id: LaneId,
    pub params: Vec<f32>,
    /// The parameters before the last step, for the divergence guard to restore.
    pub before: Option<Vec<f32>>,
    grad: Vec<f32>,
    pub slot: Slot,
    pub state: RunState,
    /// Steps taken by this lane (continuing the count of the lane it was forked from).
    pub step: u64,
    /// Gradient evaluations performed for this lane, continuing like `step`: one per step plus
    /// every same-minibatch re-evaluation its optimizers asked for, and also those of steps the
    /// guard rejected (the work was done). `None` when the lane continues a checkpoint written
    /// before the count existed: its past is unknown, and a guess would mislead a comparison.
    pub grad_evals: Option<u64>,
    pub stats: LaneStats,
}

/// What one step of a lane did.
#[derive(Debug)]
pub enum Outcome {
    Stepped {
        loss: f32,
        stats: StepStats,
    },
    /// The guard stopped the lane; `restored_to` is the step whose parameters were restored.
    Tripped {
        trip: Trip,
        restored_to: Option<u64>,
        state_reset: bool,
    },
}

/// Re-evaluation on the same minibatch for optimizers that need it, timed separately so task
/// time is not billed to the optimizer, and with task failures kept apart from optimizer ones.
struct Rebatch<'a> {
    task: &'a mut dyn Task,
    time: Duration,
    /// Calls made, counted here rather than by optimizer name so every optimizer is billed for
    /// what it really asks for.
    calls: u64,
    failure: Option<anyhow::Error>,
}

impl SameBatch for Rebatch<'_> {
    fn loss_and_grad(&mut self, params: &[f32], grad: &mut [f32]) -> Result<f32> {
        let start = Instant::now();
        let result = self.task.loss_and_grad(params, grad);
        self.time += start.elapsed();
        self.calls += 1;
        result.map_err(|e| {
            let text = format!("{e:#}");
            self.failure = Some(e);
            anyhow!(text)
        })
    }
}

impl Lane {
    /// A lane at `step` that has used `grad_evals` gradient evaluations so far.
    pub fn new(
        id: LaneId,
        params: Vec<f32>,
        slot: Slot,
        step: u64,
        grad_evals: Option<u64>,
    ) -> Self {
        let n = params.len();
        Self {
            id,
            params,
            before: None,
            grad: vec![0.0; n],
            slot,
            state: RunState::Running,
            step,
            grad_evals,
            stats: LaneStats::default(),
        }
    }

    /// Loss and gradient on the current minibatch, guard, optimizer update. A task error is an
    /// `Err`; everything numerical is an `Outcome`.
    pub fn step(&mut self, task: &mut dyn Task, guard: &Guard) -> Result<Outcome> {
        let start = Instant::now();
        let loss = task.loss_and_grad(&self.params, &mut self.grad)?;
        let task_time = start.elapsed();
        self.count_grad_evals(1);
        if let Some(trip) = guard.check(loss, &self.grad) {
            // These parameters came out of the previous step: undo it.
            return Ok(self.trip(trip, self.step.checked_sub(1)));
        }
        let before = self.before.get_or_insert_with(Vec::new);
        before.clear();
        before.extend_from_slice(&self.params);

        let mut rebatch = Rebatch {
            task,
            time: Duration::ZERO,
            calls: 0,
            failure: None,
        };
        let start = Instant::now();
        let result = self
            .slot
            .optimizer_mut()
            .step(&mut self.params, &self.grad, &mut rebatch);
        let total = start.elapsed();
        self.count_grad_evals(rebatch.calls);
        if let Some(e) = rebatch.failure {
            return Err(e);
        }
        let stats = match result {
            Ok(stats) => stats,
            Err(e) => {
                return Ok(self.trip(Trip::OptimizerFailed(format!("{e:#}")), Some(self.step)));
            }
        };
        if let Some(trip) = guard.check_step(stats.step_norm) {
            return Ok(self.trip(trip, Some(self.step)));
        }
        self.step += 1;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        self.stats.record_step(
            loss,
            ms(task_time + rebatch.time),
            ms(total.saturating_sub(rebatch.time)),
        );
        Ok(Outcome::Stepped { loss, stats })
    }

    fn count_grad_evals(&mut self, n: u64) {
        if let Some(count) = &mut self.grad_evals {
            *count += n;
        }
    }

    /// Pauses the lane as diverged, restores the saved parameters, and resets the optimizer if
    /// its state has gone non-finite (restoring it is not possible without a per-step copy).
    fn trip(&mut self, trip: Trip, restorable: Option<u64>) -> Outcome {
        let restored_to = match self.before.take() {
            Some(before) => {
                self.params = before;
                restorable
            }
            None => None,
        };
        let state = self.slot.optimizer().state();
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        let state_reset = !(state.scalars.iter().all(|(_, v)| v.is_finite())
            && state.buffers.iter().all(|(_, b)| finite(b)));
        if state_reset {
            self.slot.optimizer_mut().reset();
        }
        self.state = RunState::Diverged;
        self.stats.diverged = true;
        Outcome::Tripped {
            trip,
            restored_to,
            state_reset,
        }
    }

    pub fn status(&self) -> LaneStatus {
        let opt = self.slot.optimizer();
        LaneStatus {
            lane: self.id,
            optimizer: opt.spec(),
            step: self.step,
            state: self.state,
            summary: opt.summary(),
        }
    }

    /// Whether the lane takes a step this iteration (`stepping`: single steps requested while
    /// paused).
    pub fn runnable(&self, stepping: bool) -> bool {
        match self.state {
            RunState::Running => true,
            RunState::Paused | RunState::Diverged => stepping,
            RunState::Finished => false,
        }
    }
}
