//! LODO-Global: `M(θ) = θ·I`, one learned scalar initialised to one, as the paper's text
//! defines it (docs/algorithm.md §4.2).
//!
//! This is hypergradient descent on a single learning-rate multiplier: the hypergradient of
//! `⟨g, θ·m⟩` is `⟨g, m⟩`. As in the paper, θ is not constrained to stay positive.
//!
//! The authors' runner does not build this: in their `training/hyperparameter_setup.py`,
//! `minimizer_setup_fns["LODO-Global"]` constructs `LODODiagonalMinimizationProcedure` (their
//! scalar `LODOGlobalMinimizationProcedure` in `training/lodo.py` is never used), so the paper's
//! "LODO-Global" numbers are LODO-Diagonal's. This one follows the text.

use anyhow::{Result, ensure};

use super::family::Family;
use super::meta::{MetaOptimizer, MetaSums};
use crate::optim::vecmath::dot;

pub(crate) struct Global {
    theta: [f32; 1],
}

impl Global {
    pub fn new() -> Self {
        Self { theta: [1.0] }
    }
}

impl Family for Global {
    fn describe(&self) -> String {
        "global scalar".to_string()
    }

    fn layer_count(&self) -> usize {
        1
    }

    fn theta(&self) -> &[f32] {
        &self.theta
    }

    fn load_theta(&mut self, theta: &[f32]) -> Result<()> {
        ensure!(
            theta.len() == 1,
            "lodo-global: θ has {} entries, expected 1",
            theta.len()
        );
        self.theta[0] = theta[0];
        Ok(())
    }

    fn reinit(&mut self) {
        self.theta = [1.0];
    }

    fn apply(&self, v: &[f32], out: &mut [f32]) {
        let t = self.theta[0];
        for (o, &x) in out.iter_mut().zip(v) {
            *o = t * x;
        }
    }

    fn precondition_cached(&mut self, v: &[f32], out: &mut [f32]) {
        self.apply(v, out);
    }

    fn meta_step(
        &mut self,
        g: &[f32],
        prev: &[f32],
        scale: f32,
        meta: &mut MetaOptimizer,
        layer_sq: &mut [f64],
    ) -> MetaSums {
        let mut grad = [(f64::from(scale) * dot(g, prev)) as f32];
        let step = meta.begin_step();
        let sums = step.apply(&mut self.theta, &mut grad, meta.moments_mut());
        layer_sq[0] = sums.grad_sq;
        sums
    }
}
