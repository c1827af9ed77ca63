//! The functions that turn specs into tasks and optimizers.
//!
//! Passed around instead of called directly so the trainer, preset validation and `compare` can be
//! tested against small test-only tasks and optimizers, independently of the real ones.

use anyhow::Result;

use crate::optim::{self, BuildContext, Optimizer, OptimizerSpec};
use crate::task::{self, Task, TaskSpec};

pub type TaskBuilder = fn(&TaskSpec, u64) -> Result<Box<dyn Task>>;
pub type OptimizerBuilder = fn(&OptimizerSpec, &BuildContext) -> Result<Box<dyn Optimizer>>;

#[derive(Clone, Copy, Debug)]
pub struct Builders {
    pub task: TaskBuilder,
    pub optimizer: OptimizerBuilder,
}

impl Default for Builders {
    /// The real tasks and optimizers.
    fn default() -> Self {
        Self {
            task: task::spec::build,
            optimizer: optim::spec::build,
        }
    }
}

impl Builders {
    /// Validates an optimizer spec by building it for a tiny problem: the optimizer's own
    /// constructor is the one authority on which fields apply and which values are allowed.
    pub fn check_optimizer(&self, spec: &OptimizerSpec) -> Result<()> {
        optim::spec::check_name(&spec.name)?;
        const N: usize = 8;
        let layers = [0..N / 2, N / 2..N];
        let ctx = BuildContext {
            n: N,
            layers: &layers,
            seed: 0,
            horizon: None,
        };
        (self.optimizer)(spec, &ctx).map(drop)
    }
}
