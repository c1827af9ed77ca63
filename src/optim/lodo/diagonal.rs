//! LODO-Diagonal: `M(θ) = diag(θ)`, θ initialised to ones (docs/algorithm.md §4.1).
//!
//! As in the paper, θ is not constrained: an entry the hypergradient drives below zero makes `G`
//! indefinite along that coordinate. The hypergradient of `⟨g, diag(θ)·m⟩` is `g ⊙ m`.

use anyhow::{Result, ensure};

use super::family::Family;
use super::meta::{MetaOptimizer, MetaSums};

pub(crate) struct Diagonal {
    theta: Vec<f32>,
    grad: Vec<f32>,
}

impl Diagonal {
    pub fn new(n: usize) -> Self {
        Self {
            theta: vec![1.0; n],
            grad: vec![0.0; n],
        }
    }
}

impl Family for Diagonal {
    fn describe(&self) -> String {
        format!("diagonal, {} entries", self.theta.len())
    }

    fn layer_count(&self) -> usize {
        1
    }

    fn theta(&self) -> &[f32] {
        &self.theta
    }

    fn load_theta(&mut self, theta: &[f32]) -> Result<()> {
        ensure!(
            theta.len() == self.theta.len(),
            "lodo-diagonal: θ has {} entries, expected {}",
            theta.len(),
            self.theta.len()
        );
        self.theta.copy_from_slice(theta);
        Ok(())
    }

    fn reinit(&mut self) {
        self.theta.fill(1.0);
    }

    fn apply(&self, v: &[f32], out: &mut [f32]) {
        for ((o, &t), &x) in out.iter_mut().zip(&self.theta).zip(v) {
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
        for ((d, &gi), &mi) in self.grad.iter_mut().zip(g).zip(prev) {
            *d = scale * gi * mi;
        }
        let step = meta.begin_step();
        let sums = step.apply_chunked(&mut self.theta, &mut self.grad, meta.moments_mut());
        layer_sq[0] = sums.grad_sq;
        sums
    }
}
