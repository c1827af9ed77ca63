//! The noisy quadratic bowl (docs/algorithm.md §8.1): `f(x) = ½ (x − c)ᵀ H (x − c)` with
//! `H = Q diag(λ) Qᵀ`, `λ` log-spaced, `Q` a random rotation, and a centre `c` that takes a
//! Gaussian random-walk step at every minibatch.
//!
//! The centre starts at a seeded `N(0, I)` point (so that with `noise = 0` the fixed quadratic
//! still has something to minimise from `x0 = 0`); the task always has a current centre, and
//! [`Task::next_batch`] moves it.

use anyhow::{Result, bail, ensure};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::rng::{self, Purpose};
use super::{EvalContext, Layer, Metrics, Task, TaskKind, TaskState};
use crate::optim::Preconditioner;

/// Defaults from docs/algorithm.md §8.1.
pub const DEFAULT_DIM: usize = 100;
pub const DEFAULT_EIGENVALUES: (f32, f32) = (0.001, 1.0);
pub const DEFAULT_NOISE: f32 = 1.0;
/// `H` is dense and built in `O(n³)`; beyond this the construction takes seconds.
pub const MAX_DIM: usize = 1024;

/// How close a preconditioner `G` is to `H⁻¹`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// `‖I − G H‖_F / √n`: 0 for `G = H⁻¹`, `|1 − c|` for `G = c·H⁻¹`.
    pub error: f64,
    /// `min_s ‖I − s·G H‖_F / √n`: the error of `G`'s shape whatever its scale, 0 for any
    /// `G = c·H⁻¹`. With momentum β, LODO's meta objective is best served by `G ≈ (1 + β)·H⁻¹`
    /// on this task (docs/results.md §1), which `error` counts as off by β.
    pub best_scale_error: f64,
    /// The minimising `s`.
    pub best_scale: f64,
}

pub struct Quadratic {
    n: usize,
    seed: u64,
    noise: f32,
    /// The configured smallest and largest eigenvalue (for the title).
    range: (f32, f32),
    eigenvalues: Vec<f64>,
    /// Rows are the eigenvectors: `H = Σ_k λ_k q_k q_kᵀ`.
    rotation: Vec<f64>,
    /// `n × n`, row-major, symmetric.
    hessian: Vec<f32>,
    centre: Vec<f32>,
    walk: ChaCha8Rng,
    /// `x − c`, reused so that `loss_and_grad` does not allocate.
    diff: Vec<f32>,
}

impl Quadratic {
    pub fn new(n: usize, eigenvalues: (f32, f32), noise: f32, seed: u64) -> Result<Self> {
        ensure!(
            (1..=MAX_DIM).contains(&n),
            "quadratic: dim {n} is out of range 1..={MAX_DIM} (the Hessian is a dense n×n matrix)"
        );
        let (lo, hi) = eigenvalues;
        ensure!(
            lo.is_finite() && hi.is_finite() && lo > 0.0 && lo <= hi,
            "quadratic: eigenvalues ({lo}, {hi}) must be finite with 0 < smallest <= largest"
        );
        ensure!(
            noise.is_finite() && noise >= 0.0,
            "quadratic: noise {noise} must be a finite standard deviation >= 0"
        );
        let eigenvalues = log_spaced(f64::from(lo), f64::from(hi), n);
        let rotation = random_orthogonal(n, &mut rng::stream(seed, Purpose::Rotation, 0));
        let hessian = assemble(&rotation, &eigenvalues, n);
        let mut walk = rng::stream(seed, Purpose::Centre, 0);
        let centre = (0..n).map(|_| StandardNormal.sample(&mut walk)).collect();
        Ok(Self {
            n,
            seed,
            noise,
            range: (lo, hi),
            eigenvalues,
            rotation,
            hessian,
            centre,
            walk,
            diff: vec![0.0; n],
        })
    }

    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }

    /// The eigenvectors of `H` as the rows of an `n × n` row-major matrix, in the order of
    /// [`Quadratic::eigenvalues`].
    pub fn eigenvectors(&self) -> &[f64] {
        &self.rotation
    }

    /// The exact Hessian, `n × n` row-major.
    pub fn hessian(&self) -> &[f32] {
        &self.hessian
    }

    pub fn centre(&self) -> &[f32] {
        &self.centre
    }

    /// `Hᵖ = Q diag(λᵖ) Qᵀ`, e.g. `p = −1` for the ideal preconditioner.
    pub fn hessian_power(&self, p: f64) -> Vec<f32> {
        let powered: Vec<f64> = self.eigenvalues.iter().map(|l| l.powf(p)).collect();
        assemble(&self.rotation, &powered, self.n)
    }

    /// `½ (x − c)ᵀ H (x − c)` at the current centre and `grad = H (x − c)`.
    fn value_and_grad(&mut self, x: &[f32], grad: &mut [f32]) -> f64 {
        for ((d, &xi), &ci) in self.diff.iter_mut().zip(x).zip(&self.centre) {
            *d = xi - ci;
        }
        // Column form `Σ_j d_j H[:, j]` (H is symmetric, so columns are rows): independent
        // accumulators per output, which the compiler vectorises.
        grad.fill(0.0);
        for (row, &dj) in self.hessian.chunks_exact(self.n).zip(&self.diff) {
            for (g, &h) in grad.iter_mut().zip(row) {
                *g += dj * h;
            }
        }
        0.5 * self
            .diff
            .iter()
            .zip(grad.iter())
            .map(|(&d, &g)| f64::from(d) * f64::from(g))
            .sum::<f64>()
    }

    /// `‖I − G H‖_F / √n`, applying `G` to each column of `H`.
    pub fn hessian_error(&self, g: &dyn Preconditioner) -> f64 {
        self.preconditioner_fit(g).error
    }

    /// How well `G` inverts `H`, as is and up to a scalar factor (one pass over `H`'s columns).
    pub fn preconditioner_fit(&self, g: &dyn Preconditioner) -> Fit {
        let mut out = vec![0.0; self.n];
        let (mut error_sq, mut trace, mut frob_sq) = (0.0, 0.0, 0.0);
        for (j, column) in self.hessian.chunks_exact(self.n).enumerate() {
            g.apply(column, &mut out);
            for (i, &v) in out.iter().enumerate() {
                let v = f64::from(v);
                let e = if i == j { 1.0 } else { 0.0 } - v;
                error_sq += e * e;
                frob_sq += v * v;
            }
            trace += f64::from(out[j]);
        }
        let n = self.n as f64;
        // ‖I − s·GH‖² = n − 2s·tr(GH) + s²·‖GH‖², least at s = tr(GH)/‖GH‖².
        let (scale, best_sq) = if frob_sq > 0.0 {
            (trace / frob_sq, (n - trace * trace / frob_sq).max(0.0))
        } else {
            (0.0, n)
        };
        Fit {
            error: (error_sq / n).sqrt(),
            best_scale_error: (best_sq / n).sqrt(),
            best_scale: scale,
        }
    }

    fn check_len(&self, what: &str, len: usize) -> Result<()> {
        if len != self.n {
            bail!(
                "quadratic: {what} has length {len}, expected dim = {}",
                self.n
            );
        }
        Ok(())
    }
}

impl Task for Quadratic {
    fn kind(&self) -> TaskKind {
        TaskKind::Quadratic
    }

    fn title(&self) -> String {
        let (lo, hi) = self.range;
        if self.noise == 0.0 {
            format!("Quadratic bowl (n = {}, λ {lo}…{hi}, fixed centre)", self.n)
        } else {
            format!(
                "Noisy quadratic bowl (n = {}, λ {lo}…{hi}, centre noise σ = {})",
                self.n, self.noise
            )
        }
    }

    fn dim(&self) -> usize {
        self.n
    }

    /// `x0 = 0` (docs/algorithm.md §8.1).
    fn init_params(&self) -> Vec<f32> {
        vec![0.0; self.n]
    }

    fn layers(&self) -> Vec<Layer> {
        vec![Layer {
            name: "x".into(),
            range: 0..self.n,
        }]
    }

    fn next_batch(&mut self) {
        if self.noise > 0.0 {
            for c in &mut self.centre {
                let step: f32 = StandardNormal.sample(&mut self.walk);
                *c += self.noise * step;
            }
        }
    }

    fn loss_and_grad(&mut self, params: &[f32], grad: &mut [f32]) -> Result<f32> {
        self.check_len("params", params.len())?;
        self.check_len("grad", grad.len())?;
        Ok(self.value_and_grad(params, grad) as f32)
    }

    /// `loss_at_centre`: `½ (x − c)ᵀ H (x − c)` at the centre of the latest minibatch, i.e. the
    /// training loss without the centre's next random move (the expected next training loss is
    /// this plus `noise_floor`). `distance_to_centre`: `‖x − c‖`. `noise_floor`: `½ σ² tr H`, the
    /// expected loss of the next minibatch even for `x` exactly at the current centre.
    /// `hessian_error`: `‖I − G H‖_F / √n` when the optimizer has a preconditioner `G`, and
    /// `hessian_error_best_scale`: `min_s ‖I − s·G H‖_F / √n`, the error of its shape alone
    /// (see [`Fit`]).
    fn evaluate(&mut self, params: &[f32], ctx: &EvalContext) -> Result<Metrics> {
        self.check_len("params", params.len())?;
        let mut grad = vec![0.0; self.n];
        let loss = self.value_and_grad(params, &mut grad);
        let distance = self.diff.iter().map(|&d| f64::from(d).powi(2)).sum::<f64>();
        let trace: f64 = self.eigenvalues.iter().sum();
        let mut metrics = Metrics::new();
        metrics.insert("loss_at_centre".into(), loss);
        metrics.insert("distance_to_centre".into(), distance.sqrt());
        metrics.insert(
            "noise_floor".into(),
            0.5 * f64::from(self.noise).powi(2) * trace,
        );
        if let Some(g) = ctx.preconditioner {
            let fit = self.preconditioner_fit(g);
            metrics.insert("hessian_error".into(), fit.error);
            metrics.insert("hessian_error_best_scale".into(), fit.best_scale_error);
        }
        Ok(metrics)
    }

    fn state(&self) -> TaskState {
        let [lo, hi] = rng::position(&self.walk);
        TaskState {
            words: vec![self.seed, lo, hi],
            buffers: vec![("centre".into(), self.centre.clone())],
        }
    }

    fn load_state(&mut self, state: &TaskState) -> Result<()> {
        rng::check_state_words("quadratic", &state.words, 3, self.seed)?;
        let centre = match state.buffers.as_slice() {
            [(name, c)] if name == "centre" && c.len() == self.n => c,
            _ => bail!(
                "quadratic: saved task state lacks a `centre` of length {}; the checkpoint is \
                 from another task or dimension",
                self.n
            ),
        };
        self.centre.copy_from_slice(centre);
        rng::set_position(&mut self.walk, [state.words[1], state.words[2]]);
        Ok(())
    }
}

/// `n` values from `lo` to `hi`, equally spaced in log scale (`lo` alone when `n = 1`).
fn log_spaced(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let ratio = (hi / lo).ln();
    (0..n)
        .map(|i| {
            let t = if n == 1 {
                0.0
            } else {
                i as f64 / (n - 1) as f64
            };
            lo * (ratio * t).exp()
        })
        .collect()
}

/// A Haar-random orthogonal matrix (rows orthonormal), `n × n` row-major: Gram–Schmidt on a
/// Gaussian matrix, which equals the Q of its QR factorisation with a positive R diagonal.
/// Modified Gram–Schmidt, run twice per row, keeps orthogonality at f64 rounding level.
fn random_orthogonal(n: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let mut q: Vec<f64> = (0..n * n).map(|_| StandardNormal.sample(rng)).collect();
    for i in 0..n {
        let (done, rest) = q.split_at_mut(i * n);
        let row = &mut rest[..n];
        for _ in 0..2 {
            for prev in done.chunks_exact(n) {
                let proj: f64 = prev.iter().zip(row.iter()).map(|(a, b)| a * b).sum();
                row.iter_mut().zip(prev).for_each(|(r, p)| *r -= proj * p);
            }
        }
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
    }
    q
}

/// `Σ_k w_k q_k q_kᵀ` for the rows `q_k` of `rotation`, exactly symmetric, rounded to f32.
fn assemble(rotation: &[f64], weights: &[f64], n: usize) -> Vec<f32> {
    let mut out = vec![0.0f64; n * n];
    for (q, &w) in rotation.chunks_exact(n).zip(weights) {
        for (i, &qi) in q.iter().enumerate() {
            let scaled = w * qi;
            out[i * n..(i + 1) * n]
                .iter_mut()
                .zip(q)
                .for_each(|(o, &qj)| *o += scaled * qj);
        }
    }
    // Mirror the upper triangle: rounding made the two halves differ in the last bits, and
    // `value_and_grad` relies on rows being exactly the columns.
    for i in 0..n {
        for j in 0..i {
            out[i * n + j] = out[j * n + i];
        }
    }
    out.into_iter().map(|v| v as f32).collect()
}

#[cfg(test)]
#[path = "quadratic_tests.rs"]
mod tests;
