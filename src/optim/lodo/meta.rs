//! The meta optimizer that trains the preconditioner's weights θ on the hypergradient.
//!
//! LODO uses Adam (docs/algorithm.md §3); LODO-SGD uses plain gradient descent. The update is
//! applied chunk by chunk, as soon as a chunk of the hypergradient is known, so the full ∂f/∂θ is
//! never materialised (θ has ~12M entries at the paper's CNN size).

use rayon::iter::Either;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::adam_kernel::{AdamConstants, adam_chunk};

/// Adam's first-moment decay for the meta optimizer (docs/algorithm.md §3).
pub const META_ADAM_BETA1: f32 = 0.9;
/// Adam's second-moment decay for the meta optimizer (docs/algorithm.md §3).
pub const META_ADAM_BETA2: f32 = 0.999;
/// Adam's epsilon for the meta optimizer (docs/algorithm.md §3: ε = 1e-7).
pub const META_ADAM_EPS: f32 = 1e-7;

/// Which optimizer trains θ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetaOptimizerKind {
    /// Adam with bias correction (β1 0.9, β2 0.999, ε 1e-7): LODO proper.
    Adam,
    /// θ ← θ − meta_lr·∂f/∂θ: the LODO-SGD ablation. Its steps scale with the hypergradient
    /// (∝ α0·‖g‖·‖m‖), so its meta_lr must be matched to the problem; Adam's are scale-free.
    Sgd,
}

/// Sums gathered while a chunk of θ is updated (for the step statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct MetaSums {
    /// Σ (∂f/∂θ)².
    pub grad_sq: f64,
    /// Σ Δθ².
    pub step_sq: f64,
    /// Σ θ² before the update.
    pub theta_sq: f64,
}

impl std::ops::AddAssign for MetaSums {
    fn add_assign(&mut self, other: Self) {
        self.grad_sq += other.grad_sq;
        self.step_sq += other.step_sq;
        self.theta_sq += other.theta_sq;
    }
}

/// Adam's two moment buffers for one chunk of θ, or `None` for plain SGD.
pub(crate) type MomentsMut<'a> = Option<(&'a mut [f32], &'a mut [f32])>;

/// The meta optimizer's state: its rate, step count and (for Adam) moments.
#[derive(Clone, Debug)]
pub(crate) struct MetaOptimizer {
    kind: MetaOptimizerKind,
    lr: f32,
    /// Number of meta updates taken (Adam's t).
    steps: u64,
    first: Vec<f32>,
    second: Vec<f32>,
}

impl MetaOptimizer {
    pub fn new(kind: MetaOptimizerKind, lr: f32, len: usize) -> Self {
        let moment_len = match kind {
            MetaOptimizerKind::Adam => len,
            MetaOptimizerKind::Sgd => 0,
        };
        Self {
            kind,
            lr,
            steps: 0,
            first: vec![0.0; moment_len],
            second: vec![0.0; moment_len],
        }
    }

    pub fn kind(&self) -> MetaOptimizerKind {
        self.kind
    }

    pub fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Forget the moments and the step count.
    pub fn reset(&mut self) {
        self.steps = 0;
        self.first.fill(0.0);
        self.second.fill(0.0);
    }

    /// Starts one meta update: counts it and fixes its constants (Adam's bias corrections).
    pub fn begin_step(&mut self) -> MetaStep {
        self.steps += 1;
        let t = i32::try_from(self.steps).unwrap_or(i32::MAX);
        let (b1, b2) = (f64::from(META_ADAM_BETA1), f64::from(META_ADAM_BETA2));
        MetaStep {
            kind: self.kind,
            lr: self.lr,
            first_correction: (1.0 / (1.0 - b1.powi(t))) as f32,
            second_correction: (1.0 / (1.0 - b2.powi(t))) as f32,
        }
    }

    /// The moment buffers laid out like θ (`None` for SGD).
    pub fn moments_mut(&mut self) -> MomentsMut<'_> {
        match self.kind {
            MetaOptimizerKind::Adam => Some((&mut self.first, &mut self.second)),
            MetaOptimizerKind::Sgd => None,
        }
    }

    /// (first, second) moments; empty for SGD.
    pub fn moments(&self) -> (&[f32], &[f32]) {
        (&self.first, &self.second)
    }

    /// Restores a snapshot; the caller has checked the lengths.
    pub fn restore(&mut self, steps: u64, first: &[f32], second: &[f32]) {
        self.steps = steps;
        self.first.copy_from_slice(first);
        self.second.copy_from_slice(second);
    }
}

/// The constants of one meta update, shared by every chunk of θ.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MetaStep {
    kind: MetaOptimizerKind,
    lr: f32,
    /// 1 / (1 − β1ᵗ).
    first_correction: f32,
    /// 1 / (1 − β2ᵗ).
    second_correction: f32,
}

impl MetaStep {
    /// Updates `theta` in place given its hypergradient in `grad`, overwriting `grad` with the
    /// step taken (Δθ = −grad afterwards), and returns the chunk's sums.
    pub fn apply(&self, theta: &mut [f32], grad: &mut [f32], moments: MomentsMut<'_>) -> MetaSums {
        debug_assert_eq!(theta.len(), grad.len());
        match moments {
            Some((first, second)) => {
                debug_assert_eq!(self.kind, MetaOptimizerKind::Adam);
                let constants = AdamConstants {
                    lr: self.lr,
                    first_correction: self.first_correction,
                    second_correction: self.second_correction,
                };
                adam_chunk(constants, theta, grad, first, second)
            }
            None => {
                let grad_sq = sum_squares(grad);
                self.sgd(theta, grad);
                let (step_sq, theta_sq) = step_and_old_theta_squares(grad, theta);
                MetaSums {
                    grad_sq,
                    step_sq,
                    theta_sq,
                }
            }
        }
    }

    /// [`MetaStep::apply`] over a long vector, a few thousand entries at a time so the partial
    /// sums stay accurate.
    pub fn apply_chunked(
        &self,
        theta: &mut [f32],
        grad: &mut [f32],
        moments: MomentsMut<'_>,
    ) -> MetaSums {
        const CHUNK: usize = 4096;
        let mut sums = MetaSums::default();
        match moments {
            Some((first, second)) => {
                let chunks = theta.chunks_mut(CHUNK).zip(grad.chunks_mut(CHUNK));
                let moments = first.chunks_mut(CHUNK).zip(second.chunks_mut(CHUNK));
                for ((th, g), (m, v)) in chunks.zip(moments) {
                    sums += self.apply(th, g, Some((m, v)));
                }
            }
            None => {
                for (th, g) in theta.chunks_mut(CHUNK).zip(grad.chunks_mut(CHUNK)) {
                    sums += self.apply(th, g, None);
                }
            }
        }
        sums
    }

    /// [`MetaStep::apply`] over a long vector, in parallel chunks of `chunk` entries. `partials`
    /// (one per chunk) keeps the chunks' sums so they are added in a fixed order and the
    /// statistics do not depend on the thread schedule.
    pub fn apply_parallel(
        &self,
        theta: &mut [f32],
        grad: &mut [f32],
        moments: MomentsMut<'_>,
        chunk: usize,
        partials: &mut [MetaSums],
    ) -> MetaSums {
        debug_assert_eq!(partials.len(), theta.len().div_ceil(chunk));
        let count = partials.len();
        (
            theta.par_chunks_mut(chunk),
            grad.par_chunks_mut(chunk),
            moment_chunks(moments, chunk, count),
            partials.par_iter_mut(),
        )
            .into_par_iter()
            .for_each(|(th, g, m, sums)| *sums = self.apply(th, g, m));
        let mut total = MetaSums::default();
        for &p in partials.iter() {
            total += p;
        }
        total
    }

    /// θ ← θ − lr·g; `grad` becomes the step.
    fn sgd(&self, theta: &mut [f32], grad: &mut [f32]) {
        let lr = self.lr;
        for (th, g) in theta.iter_mut().zip(grad.iter_mut()) {
            *g *= lr;
            *th -= *g;
        }
    }
}

/// Moment buffers split into the chunks a parallel pass iterates over (`None` each for SGD).
pub(crate) fn moment_chunks(
    moments: MomentsMut<'_>,
    chunk: usize,
    count: usize,
) -> impl IndexedParallelIterator<Item = MomentsMut<'_>> {
    match moments {
        Some((first, second)) => Either::Left(
            first
                .par_chunks_mut(chunk)
                .zip(second.par_chunks_mut(chunk))
                .map(Some),
        ),
        None => Either::Right(rayon::iter::repeat_n((), count).map(|()| None)),
    }
}

/// Σ x², with per-lane f32 partial sums (fine for the few thousand entries of a chunk) folded
/// into f64. Two 4-lane accumulators: the shape the compiler turns into packed SSE.
fn sum_squares(x: &[f32]) -> f64 {
    let (mut a, mut b) = ([0.0f32; 4], [0.0f32; 4]);
    let mut it = x.chunks_exact(8);
    for chunk in &mut it {
        for i in 0..4 {
            a[i] += chunk[i] * chunk[i];
            b[i] += chunk[4 + i] * chunk[4 + i];
        }
    }
    let lanes: f64 = (0..4).map(|i| f64::from(a[i] + b[i])).sum();
    let tail: f64 = it
        .remainder()
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum();
    lanes + tail
}

/// (Σ step², Σ (θ + step)²) in one pass, accumulated like [`sum_squares`].
fn step_and_old_theta_squares(step: &[f32], theta: &[f32]) -> (f64, f64) {
    let (mut s, mut t) = ([0.0f32; 4], [0.0f32; 4]);
    let mut steps = step.chunks_exact(4);
    let mut thetas = theta.chunks_exact(4);
    for (d, th) in (&mut steps).zip(&mut thetas) {
        let d: &[f32; 4] = d.try_into().expect("chunks_exact(4)");
        let th: &[f32; 4] = th.try_into().expect("chunks_exact(4)");
        let old: [f32; 4] = std::array::from_fn(|i| th[i] + d[i]);
        s = std::array::from_fn(|i| s[i] + d[i] * d[i]);
        t = std::array::from_fn(|i| t[i] + old[i] * old[i]);
    }
    let fold = |lanes: [f32; 4]| lanes.iter().map(|&v| f64::from(v)).sum::<f64>();
    let (mut step_sq, mut theta_sq) = (fold(s), fold(t));
    for (&d, &th) in steps.remainder().iter().zip(thetas.remainder()) {
        let (d, old) = (f64::from(d), f64::from(th) + f64::from(d));
        step_sq += d * d;
        theta_sq += old * old;
    }
    (step_sq, theta_sq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_adam_step_moves_each_weight_by_lr_times_sign() {
        // Kingma & Ba (2015), §2: with bias correction m̂₁ = g and v̂₁ = g², so the first step is
        // lr·g/(|g| + ε) = ±lr up to ε/|g|.
        let mut meta = MetaOptimizer::new(MetaOptimizerKind::Adam, 0.01, 11);
        let grad: Vec<f32> = (0..11).map(|i| (i as f32 - 5.0) * 0.3).collect();
        let mut theta = vec![1.0f32; 11];
        let step = meta.begin_step();
        let sums = step.apply(&mut theta, &mut grad.clone(), meta.moments_mut());
        for (th, g) in theta.iter().zip(&grad) {
            let expected = if *g == 0.0 {
                1.0
            } else {
                1.0 - 0.01 * g.signum()
            };
            assert!((th - expected).abs() < 1e-6, "{th} vs {expected}");
        }
        let grad_sq: f64 = grad.iter().map(|&g| f64::from(g) * f64::from(g)).sum();
        assert!((sums.grad_sq - grad_sq).abs() < 1e-5 * grad_sq);
        // θ before the update is rebuilt as θ_new + step in f32: exact to ~1e-7 per entry.
        assert!((sums.theta_sq - 11.0).abs() < 1e-5);
        assert!((sums.step_sq - 10.0 * 1e-4).abs() < 1e-8);
    }

    #[test]
    fn second_adam_step_matches_the_formula() {
        // Two steps with gradients 1 then 3 (f64 by hand from the Adam recurrences):
        // m = 0.09 + 0.3 = 0.39, v = 0.000999 + 0.009 = 0.009999,
        // m̂ = 0.39/0.19, v̂ = 0.009999/0.001999; step = 0.1·m̂/(√v̂ + 1e-7).
        let mut meta = MetaOptimizer::new(MetaOptimizerKind::Adam, 0.1, 1);
        let mut theta = [0.0f32];
        for g in [1.0f32, 3.0] {
            let step = meta.begin_step();
            step.apply(&mut theta, &mut [g], meta.moments_mut());
        }
        let first = 0.1 * 1.0 / (1.0 + 1e-7);
        let second = 0.1 * (0.39 / 0.19) / ((0.009999f64 / 0.001999).sqrt() + 1e-7);
        let expected = -(first + second);
        assert!(
            (f64::from(theta[0]) - expected).abs() < 1e-6,
            "{}",
            theta[0]
        );
        assert_eq!(meta.steps(), 2);
    }

    #[test]
    fn sgd_step_is_lr_times_gradient() {
        let mut meta = MetaOptimizer::new(MetaOptimizerKind::Sgd, 0.5, 9);
        assert!(meta.moments_mut().is_none());
        let grad: Vec<f32> = (0..9).map(|i| i as f32).collect();
        let mut theta = vec![2.0f32; 9];
        let step = meta.begin_step();
        let sums = step.apply(&mut theta, &mut grad.clone(), meta.moments_mut());
        for (th, g) in theta.iter().zip(&grad) {
            assert!((th - (2.0 - 0.5 * g)).abs() < 1e-6);
        }
        // Σ i² for i < 9 = 204; Δθ = 0.5·g.
        assert!((sums.grad_sq - 204.0).abs() < 1e-9);
        assert!((sums.step_sq - 51.0).abs() < 1e-9);
    }

    #[test]
    fn reset_forgets_moments_and_count() {
        let mut meta = MetaOptimizer::new(MetaOptimizerKind::Adam, 0.1, 3);
        let step = meta.begin_step();
        step.apply(&mut [0.0; 3], &mut [1.0, 2.0, 3.0], meta.moments_mut());
        meta.reset();
        assert_eq!(meta.steps(), 0);
        assert!(
            meta.moments()
                .0
                .iter()
                .chain(meta.moments().1)
                .all(|&x| x == 0.0)
        );
    }
}
