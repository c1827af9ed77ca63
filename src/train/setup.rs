//! Building what a trainer starts with: the task, the optimizer factory and the lanes, fresh or
//! from a checkpoint.

use anyhow::{Context, Result, ensure};

use crate::builders::Builders;
use crate::preset::Preset;
use crate::task::{Task, layer_groups};

use super::checkpoint::{Checkpoint, LaneSnapshot};
use super::lane::Lane;
use super::slot::{Factory, Slot};
use crate::schema::RunState;

/// The task and lanes a trainer starts with, built before the trainer itself so a failure can
/// still be reported through the emitter.
pub struct Setup {
    pub(super) task: Box<dyn Task>,
    pub(super) factory: Factory,
    pub(super) lanes: Vec<Lane>,
    pub(super) iterations: u64,
    pub(super) generated: u64,
    pub(super) resumed_from: Option<u64>,
}

impl Setup {
    /// Builds the task and the lanes, fresh or from a checkpoint.
    pub fn build(
        preset: &Preset,
        builders: &Builders,
        resume: Option<&Checkpoint>,
    ) -> Result<Self> {
        let mut task = (builders.task)(&preset.task, preset.seed)?;
        let factory = Factory {
            builder: builders.optimizer,
            n: task.dim(),
            layers: layer_groups(&task.layers()),
            seed: preset.seed,
            horizon: preset.max_steps,
        };
        let Some(ck) = resume else {
            let params = task.init_params();
            ensure!(
                params.len() == factory.n,
                "{}: {} initial parameters for dimension {}",
                preset.task.name,
                params.len(),
                factory.n
            );
            let slot = Slot::new(&factory, &preset.optimizer)?;
            return Ok(Self {
                task,
                lanes: vec![Lane::new(0, params, slot, 0, Some(0))],
                factory,
                iterations: 0,
                generated: 0,
                resumed_from: None,
            });
        };
        task.load_state(&ck.task)
            .context("cannot restore the task state from the checkpoint")?;
        let lanes = ck
            .lanes
            .iter()
            .map(|snap| resume_lane(snap, &factory, preset.max_steps))
            .collect::<Result<_>>()?;
        Ok(Self {
            task,
            factory,
            lanes,
            iterations: ck.iterations,
            generated: ck.generated,
            resumed_from: Some(ck.step()),
        })
    }
}

/// A lane from a checkpoint. Paused lanes, and finished ones with steps left under a raised
/// `max_steps`, run again; diverged lanes stay diverged until the user acts.
fn resume_lane(snap: &LaneSnapshot, factory: &Factory, max_steps: Option<u64>) -> Result<Lane> {
    ensure!(
        snap.params.len() == factory.n,
        "checkpoint lane {} has {} parameters; the task has {}",
        snap.id,
        snap.params.len(),
        factory.n
    );
    let slot = Slot::restore(factory, &snap.optimizers()?)?;
    let mut lane = Lane::new(
        snap.id,
        snap.params.clone(),
        slot,
        snap.step,
        snap.grad_evals,
    );
    lane.before = snap.before.clone();
    lane.stats = snap.stats.clone();
    lane.state = match snap.state {
        RunState::Diverged => RunState::Diverged,
        _ if max_steps.is_some_and(|max| snap.step >= max) => RunState::Finished,
        _ => RunState::Running,
    };
    Ok(lane)
}
