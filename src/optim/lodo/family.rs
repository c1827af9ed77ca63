//! What the shared LODO iteration needs from a preconditioner family.
//!
//! Every family writes its preconditioner as `G(θ) = α0·M(θ)` with `M` linear in the vector it is
//! applied to. The iteration owns α0, the momentum and the meta optimizer; a family owns θ, its
//! fixed structure (permutations), the caches its hypergradient reuses, and the hand-written
//! backward pass.

use anyhow::Result;

use super::meta::{MetaOptimizer, MetaSums};

pub(crate) trait Family: Send + Sync {
    /// Short description for the UI ("block-diagonal, N=16, k=4, h=189,392").
    fn describe(&self) -> String;

    /// Whether the family's passes are split over the thread pool (large problems); the step
    /// then runs inside the pool so its many parallel passes do not each hand over to it.
    fn runs_in_parallel(&self) -> bool {
        false
    }

    /// Number of layers reported in the per-layer hypergradient norms.
    fn layer_count(&self) -> usize;

    /// The learned weights θ, flat.
    fn theta(&self) -> &[f32];

    /// Replaces θ (a restored snapshot) and invalidates every cache derived from it.
    fn load_theta(&mut self, theta: &[f32]) -> Result<()>;

    /// θ back to its seeded initial value.
    fn reinit(&mut self);

    /// `out = M(θ)·v`, without caching anything.
    fn apply(&self, v: &[f32], out: &mut [f32]);

    /// Updates the momentum `m ← β·m + (1−β)·g` and writes `out = M(θ)·m`, keeping whatever the
    /// next [`Family::meta_step`] needs to know about this `m`.
    fn precondition_momentum(&mut self, m: &mut [f32], g: &[f32], beta: f32, out: &mut [f32]) {
        for (mi, &gi) in m.iter_mut().zip(g) {
            *mi = beta * *mi + (1.0 - beta) * gi;
        }
        self.precondition_cached(m, out);
    }

    /// `out = M(θ)·v`, keeping what the next meta step needs about `v`.
    fn precondition_cached(&mut self, v: &[f32], out: &mut [f32]);

    /// One meta update. The hypergradient is `scale · ∂/∂θ ⟨g, M(θ)·prev⟩`, where `prev` is the
    /// vector of the last `precondition_*` call; the family hands it to `meta` chunk by chunk as
    /// it is computed and writes each layer's Σ(∂f/∂θ)² into `layer_sq`.
    fn meta_step(
        &mut self,
        g: &[f32],
        prev: &[f32],
        scale: f32,
        meta: &mut MetaOptimizer,
        layer_sq: &mut [f64],
    ) -> MetaSums;
}
