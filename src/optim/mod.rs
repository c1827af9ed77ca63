//! Optimizers over one flat `f32` parameter vector.
//!
//! Every optimizer receives the gradient at the current point, updates the parameters in place and
//! returns [`StepStats`]. Optimizers know nothing of tasks or the UI: the layer boundaries and
//! the run's step limit LARS needs and the "same minibatch again" gradient L-BFGS/O-LBFGS need
//! arrive through [`BuildContext`] and [`SameBatch`].

pub mod adam;
pub mod baseline;
#[cfg(test)]
mod baseline_tests;
pub mod bfgs;
pub mod curvature;
pub mod fields;
pub mod hyper;
pub mod hyperparameters;
pub mod kernels;
pub mod lars;
pub mod lbfgs;
pub mod levenberg_marquardt;
pub mod lodo;
pub mod memory;
pub mod momentum;
pub mod olbfgs;
pub mod online_qn;
pub mod registry;
pub mod rmsprop;
pub mod sgd;
pub mod snapshot;
pub mod spec;
pub mod state;
pub mod stats;
#[cfg(test)]
mod testkit;
pub mod vecmath;
pub mod yogi;

use std::ops::Range;

pub use spec::OptimizerSpec;
pub use state::OptimizerState;
pub use stats::{LodoStats, StepStats};

/// Re-evaluates loss and gradient on the minibatch the current gradient came from.
///
/// Quasi-Newton methods without line search (L-BFGS, O-LBFGS, `bfgs-same-batch`) need
/// `∇f(x_{t+1})` on the *same* minibatch as `∇f(x_t)` to form curvature pairs, and
/// Levenberg–Marquardt measures the minibatch Hessian from such gradients; the trainer provides
/// them. Every call is one more gradient evaluation.
pub trait SameBatch {
    fn loss_and_grad(&mut self, params: &[f32], grad: &mut [f32]) -> anyhow::Result<f32>;
}

/// A `SameBatch` for callers with no minibatch to re-evaluate (a deterministic function).
impl<F> SameBatch for F
where
    F: FnMut(&[f32], &mut [f32]) -> anyhow::Result<f32>,
{
    fn loss_and_grad(&mut self, params: &[f32], grad: &mut [f32]) -> anyhow::Result<f32> {
        self(params, grad)
    }
}

/// A learned linear preconditioner `G` (the LODO family): `out = G · v`.
pub trait Preconditioner {
    fn apply(&self, v: &[f32], out: &mut [f32]);
}

/// What an optimizer may know about the problem when it is built.
#[derive(Clone, Debug)]
pub struct BuildContext<'a> {
    /// Length of the flat parameter vector.
    pub n: usize,
    /// Layer boundaries inside the flat vector (LARS); contiguous, covering `0..n`.
    pub layers: &'a [Range<usize>],
    /// Seed for anything random in the optimizer (LODO's permutations and init).
    pub seed: u64,
    /// The run's step limit, when it has one: the horizon of a schedule over the whole run
    /// (LARS's `(1 − t/T)²` decay). `None` for an open-ended run.
    pub horizon: Option<u64>,
}

/// One optimizer instance with its state.
pub trait Optimizer: Send {
    /// Canonical name (`lodo`, `adam`, …), see [`spec::NAMES`].
    fn name(&self) -> &'static str;
    /// The current hyperparameters as a spec (reflects live lr / meta-lr changes).
    fn spec(&self) -> OptimizerSpec;
    /// Update `params` in place given `grad = ∇f(params)` on the current minibatch.
    fn step(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        same_batch: &mut dyn SameBatch,
    ) -> anyhow::Result<StepStats>;
    /// Learning rate (α0 for the LODO family).
    fn lr(&self) -> f32;
    /// Change the learning rate, keeping all state.
    fn set_lr(&mut self, lr: f32) -> anyhow::Result<()>;
    /// Meta learning rate (LODO family only).
    fn meta_lr(&self) -> Option<f32> {
        None
    }
    /// Change the meta learning rate, keeping all state.
    fn set_meta_lr(&mut self, meta_lr: f32) -> anyhow::Result<()> {
        anyhow::bail!("{}: has no meta learning rate (got {meta_lr})", self.name())
    }
    /// Forget all accumulated state (momentum, moments, history, learned preconditioner).
    fn reset(&mut self);
    /// A snapshot of the complete state; `load_state` of it continues the identical trajectory.
    fn state(&self) -> OptimizerState;
    /// Restore a snapshot taken from an optimizer built with the same spec and dimension.
    fn load_state(&mut self, state: &OptimizerState) -> anyhow::Result<()>;
    /// The learned preconditioner, for optimizers that have one.
    fn preconditioner(&self) -> Option<&dyn Preconditioner> {
        None
    }
    /// A few live state figures for the UI when it is not a LODO optimizer
    /// (e.g. `("‖m‖", "1.2e-3")`, `("history", "7/10")`).
    fn summary(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}
