//! BFGS with a dense inverse-Hessian approximation, for small problems (Nocedal & Wright,
//! *Numerical Optimization*, 2nd ed., Algorithm 6.1 with a fixed step length instead of the line
//! search), in two variants that differ in where the curvature pair's `y` comes from.
//!
//! `bfgs`, as the paper's authors run it (their `BFGSMinimizationProcedure`), one gradient
//! evaluation per step:
//!
//! ```text
//! y = g_t − g_{t−1}            g_t: the gradient the trainer hands in, on this step's minibatch
//! H ← (I − ρ·s·yᵀ)·H·(I − ρ·y·sᵀ) + ρ·s·sᵀ,   ρ = 1/sᵀy   (N&W eq. 6.17), if sᵀy > 0
//! s = −lr·H·g_t,  x ← x + s
//! ```
//!
//! with `H0 = I` and lr 0.01, the authors' defaults. The pair spans two minibatches, so on a
//! noisy task `y` carries the change of the minibatch as well as the curvature. One departure:
//! a pair with `sᵀy ≤ 0` is skipped and counted (the authors apply every pair; one with
//! `sᵀy < 0` makes `H` indefinite, and the next-minibatch pairs of a noisy task often have it).
//!
//! `bfgs-same-batch` is **not a paper baseline**: `y = ∇f(x + s; same minibatch) − g` through
//! [`SameBatch`] (two gradient evaluations per step). On the noisy quadratic that is an oracle,
//! `y = H·s` exactly, so it learns the true inverse Hessian. It keeps this project's earlier
//! choices: lr 1, the first step `−lr·min(1, 1/‖g‖₁)·g` (PyTorch's `LBFGS` first step), and the
//! first accepted pair sets `H0 = (sᵀy/yᵀy)·I` before its update (N&W eq. 6.20).
//!
//! The update is expanded to the rank-two form `H − ρ(s·uᵀ + u·sᵀ) + (ρ²·yᵀu + ρ)·s·sᵀ` with
//! `u = H·y` (the authors' form), one O(n²) pass, scaled so no intermediate leaves the f32 range,
//! and evaluated so that `H` stays exactly symmetric.
//!
//! `H` costs n² floats and each step O(n²) work, so BFGS refuses more than [`MAX_DIM`] parameters.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, Settings};
use super::curvature::positive_curvature;
use super::hyperparameters::{Hyperparameters, Identity};
use super::kernels::{check_dims, curvature_pair, dot, move_and_record, norm1};
use super::registry::Entry;
use super::snapshot::{buffer, count};
use super::{OptimizerState, Preconditioner, SameBatch, StepStats, hyper};

pub const NAME: &str = "bfgs";
pub const SAME_BATCH_NAME: &str = "bfgs-same-batch";

/// Largest dimension BFGS accepts: `H` is then 2000² f32 = 16 MB and a step ~12 Mflop.
pub const MAX_DIM: usize = 2000;

/// Where the curvature pair's gradient change comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pairing {
    /// `y = g_t − g_{t−1}` across minibatches (the authors' BFGS, `bfgs`).
    NextBatch,
    /// `y` from a second gradient on the same minibatch (`bfgs-same-batch`).
    SameBatch,
}

impl Pairing {
    pub fn name(self) -> &'static str {
        self.identity().name
    }

    pub fn identity(self) -> &'static Identity<BfgsConfig> {
        match self {
            Pairing::NextBatch => &BFGS,
            Pairing::SameBatch => &BFGS_SAME_BATCH,
        }
    }
}

/// BFGS hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BfgsConfig {
    /// Fixed step length.
    pub lr: f32,
}

/// The authors' BFGS: step length 0.01.
pub static BFGS: Identity<BfgsConfig> = Identity {
    name: NAME,
    defaults: BfgsConfig { lr: 0.01 },
};

/// The same-batch variant: the natural quasi-Newton step 1 (N&W §6.1).
pub static BFGS_SAME_BATCH: Identity<BfgsConfig> = Identity {
    name: SAME_BATCH_NAME,
    defaults: BfgsConfig { lr: 1.0 },
};

/// `H` (n²) plus five vectors.
fn state_words(n: u64) -> u64 {
    n.saturating_mul(n).saturating_add(5 * n)
}

pub const ENTRY: Entry = Entry {
    name: NAME,
    build: |spec, ctx| Ok(Box::new(Bfgs::build(Pairing::NextBatch, spec, ctx.n)?)),
    state_words: |_, n| state_words(n),
};

pub const SAME_BATCH_ENTRY: Entry = Entry {
    name: SAME_BATCH_NAME,
    build: |spec, ctx| Ok(Box::new(Bfgs::build(Pairing::SameBatch, spec, ctx.n)?)),
    state_words: |_, n| state_words(n),
};

impl Hyperparameters for BfgsConfig {
    fn validate(&self, name: &str) -> Result<()> {
        hyper::lr(name, self.lr)
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn lr_mut(&mut self) -> &mut f32 {
        &mut self.lr
    }
}

pub struct Bfgs {
    pairing: Pairing,
    settings: Settings<BfgsConfig>,
    n: usize,
    /// Inverse-Hessian approximation, row-major n×n; meaningful once `initialized` (from the
    /// start, `H0 = I`, for `bfgs`).
    h: Vec<f32>,
    initialized: bool,
    updates: u64,
    skipped: u64,
    /// The last step taken; for `bfgs` it waits there for the next gradient to complete its pair.
    s: Vec<f32>,
    /// The gradient the last step was taken from (`bfgs` only).
    g_prev: Vec<f32>,
    /// Scratch: the gradient change, `H·g` / `H·y`, the same-batch gradient.
    y: Vec<f32>,
    hv: Vec<f32>,
    g_new: Vec<f32>,
}

impl Bfgs {
    pub fn new(pairing: Pairing, cfg: BfgsConfig, n: usize) -> Result<Self> {
        let settings = Settings::new(pairing.identity(), cfg)?;
        let name = pairing.name();
        if n > MAX_DIM {
            bail!(
                "{name}: {n} parameters is too many for a dense inverse Hessian (at most \
                 {MAX_DIM}: it stores n² values and costs O(n²) per step); use lbfgs or olbfgs"
            );
        }
        let mut out = Self {
            pairing,
            settings,
            n,
            h: vec![0.0; n * n],
            initialized: false,
            updates: 0,
            skipped: 0,
            s: vec![0.0; n],
            g_prev: vec![0.0; n],
            y: vec![0.0; n],
            hv: vec![0.0; n],
            g_new: vec![0.0; n],
        };
        out.clear();
        Ok(out)
    }

    fn build(pairing: Pairing, spec: &crate::optim::OptimizerSpec, n: usize) -> Result<Self> {
        Self::new(pairing, pairing.identity().from_spec(spec)?, n)
    }

    /// `out = H·v`, one f64-accumulated dot product per row.
    fn h_times(h: &[f32], n: usize, v: &[f32], out: &mut [f32]) {
        for (row, o) in h.chunks_exact(n.max(1)).zip(out.iter_mut()) {
            *o = dot(row, v) as f32;
        }
    }

    /// Forms `y = g_new − g_old` for the step in `self.s` and applies the update if its
    /// curvature is positive (overwriting `self.s` with the scaled step).
    fn pair(&mut self, g_old: &[f32], g_new: &[f32]) {
        let (sy, yy, ss) = curvature_pair(&mut self.y, g_new, g_old, &self.s, 0.0);
        if positive_curvature(sy, yy, ss) {
            self.update(sy, yy);
        } else {
            self.skipped += 1;
        }
    }

    /// Applies the BFGS update for the pair in `self.s`, `self.y` with curvature `sy`
    /// (overwriting `self.s` with the scaled step).
    fn update(&mut self, sy: f64, yy: f64) {
        let n = self.n;
        if !self.initialized {
            let gamma = (sy / yy) as f32;
            self.h.fill(0.0);
            self.h.iter_mut().step_by(n + 1).for_each(|d| *d = gamma);
            self.initialized = true;
        }
        Self::h_times(&self.h, n, &self.y, &mut self.hv);
        // ρ = 1/sᵀy exceeds the f32 range once a run has converged to ~1e-19 gradients, so the
        // update is written with s and u scaled by 1/√sᵀy, whose outer products are O(H):
        // H ← H − (p·wᵀ + w·pᵀ) + c·p·pᵀ,  p = s/√sᵀy, w = u/√sᵀy, c = 1 + yᵀu/sᵀy.
        let c = (1.0 + dot(&self.y, &self.hv) / sy) as f32;
        let inv_root = 1.0 / sy.sqrt();
        self.s
            .iter_mut()
            .for_each(|v| *v = (*v as f64 * inv_root) as f32);
        self.hv
            .iter_mut()
            .for_each(|v| *v = (*v as f64 * inv_root) as f32);
        let (p, w) = (&self.s, &self.hv);
        for (i, row) in self.h.chunks_exact_mut(n).enumerate() {
            let (pi, wi) = (p[i], w[i]);
            for j in 0..n {
                // Element (i, j) and (j, i) get bit-identical increments: each term is a
                // product of the same two factors and the sum of two such terms commutes.
                let cross = pi * w[j] + wi * p[j];
                row[j] += c * (pi * p[j]) - cross;
            }
        }
        self.updates += 1;
    }
}

impl Baseline for Bfgs {
    type Config = BfgsConfig;

    fn settings(&self) -> &Settings<BfgsConfig> {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings<BfgsConfig> {
        &mut self.settings
    }

    fn update(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        let name = self.pairing.name();
        check_dims(name, self.n, params, grad)?;
        if self.pairing == Pairing::NextBatch && self.settings.t > 0 {
            let g_old = std::mem::take(&mut self.g_prev);
            self.pair(&g_old, grad);
            self.g_prev = g_old;
        }
        let lr = self.settings.cfg.lr;
        let (dir, eta): (&[f32], f32) = if self.initialized {
            Self::h_times(&self.h, self.n, grad, &mut self.hv);
            (&self.hv, lr)
        } else {
            (grad, (lr as f64 * (1.0 / norm1(grad)).min(1.0)) as f32)
        };
        let sums = move_and_record(params, dir, eta, &mut self.s, grad);
        self.settings.t += 1;
        match self.pairing {
            Pairing::NextBatch => self.g_prev.copy_from_slice(grad),
            Pairing::SameBatch => {
                same_batch
                    .loss_and_grad(params, &mut self.g_new)
                    .with_context(|| format!("{name}: same-batch gradient after the step"))?;
                let g_new = std::mem::take(&mut self.g_new);
                self.pair(grad, &g_new);
                self.g_new = g_new;
            }
        }
        Ok(sums.stats())
    }

    fn clear(&mut self) {
        let n = self.n;
        self.h.fill(0.0);
        // The authors' H0 = I; the same-batch variant scales its H0 from its first pair.
        self.initialized = self.pairing == Pairing::NextBatch;
        if self.initialized {
            self.h.iter_mut().step_by(n + 1).for_each(|d| *d = 1.0);
        }
        self.s.fill(0.0);
        self.g_prev.fill(0.0);
        self.updates = 0;
        self.skipped = 0;
    }

    fn save(&self, state: &mut OptimizerState) {
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        state.scalars.extend([
            ("initialized".into(), flag(self.initialized)),
            ("updates".into(), self.updates as f64),
            ("skipped".into(), self.skipped as f64),
        ]);
        state.buffers.push(("h".into(), self.h.clone()));
        if self.pairing == Pairing::NextBatch {
            // The step and gradient whose pair the next gradient completes.
            state.buffers.push(("s".into(), self.s.clone()));
            state.buffers.push(("g_prev".into(), self.g_prev.clone()));
        }
    }

    fn load(&mut self, _cfg: &BfgsConfig, state: &OptimizerState) -> Result<()> {
        let initialized = count(state, "initialized")? == 1;
        let updates = count(state, "updates")?;
        let skipped = count(state, "skipped")?;
        let h = buffer(state, "h", self.n * self.n)?;
        let (s, g_prev) = if self.pairing == Pairing::NextBatch {
            (
                buffer(state, "s", self.n)?,
                buffer(state, "g_prev", self.n)?,
            )
        } else {
            (vec![0.0; self.n], vec![0.0; self.n])
        };
        (self.initialized, self.updates, self.skipped, self.h) = (initialized, updates, skipped, h);
        (self.s, self.g_prev) = (s, g_prev);
        Ok(())
    }

    fn preconditioner_view(&self) -> Option<&dyn Preconditioner> {
        Some(self)
    }

    fn figures(&self) -> Vec<(String, String)> {
        let mean_diag = if self.initialized && self.n > 0 {
            let trace: f64 = self.h.iter().step_by(self.n + 1).map(|&d| d as f64).sum();
            hyper::sci(trace / self.n as f64)
        } else {
            "—".into()
        };
        vec![
            ("updates".into(), self.updates.to_string()),
            ("skipped sᵀy≤0".into(), self.skipped.to_string()),
            ("trace(H)/n".into(), mean_diag),
        ]
    }
}

/// The matrix of the next step, `Δx = −G·g` with `G = lr·H` (`lr·I` before the same-batch
/// variant's first pair).
impl Preconditioner for Bfgs {
    fn apply(&self, v: &[f32], out: &mut [f32]) {
        if self.initialized {
            Self::h_times(&self.h, self.n, v, out);
        } else {
            out.copy_from_slice(v);
        }
        out.iter_mut().for_each(|o| *o *= self.settings.cfg.lr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testkit::{Quadratic, TestRng, no_same_batch};
    use crate::optim::{Optimizer, OptimizerSpec};

    fn same_batch(n: usize) -> Bfgs {
        Bfgs::new(Pairing::SameBatch, BFGS_SAME_BATCH.defaults.clone(), n).unwrap()
    }

    fn paper(lr: f32, n: usize) -> Bfgs {
        Bfgs::new(Pairing::NextBatch, BfgsConfig { lr }, n).unwrap()
    }

    #[test]
    fn hand_computed_steps_pair_each_gradient_with_the_next_one() {
        // f = x² (a = 2) on every minibatch, x0 = 3, lr = 0.25, H0 = I; one gradient per step
        // (asking for a same-batch gradient fails the test). By hand:
        // t=0: g = 6, s = −0.25·6 = −1.5, x1 = 1.5.
        // t=1: g = 3, y = 3 − 6 = −3, sᵀy = 4.5, yᵀHy = 9:
        //      H ← 1 + (4.5 + 9)/4.5²·1.5² − 2·(1·(−3)·(−1.5))/4.5 = 1 + 1.5 − 2 = 0.5 (= 1/a);
        //      s = −0.25·0.5·3 = −0.375, x2 = 1.125.
        // t=2: g = 2.25, y = −0.75, s = −0.375: H stays 0.5 (1-D secant), s = −0.28125,
        //      x3 = 0.84375.
        let f = |x: &[f32], g: &mut [f32]| {
            g[0] = 2.0 * x[0];
        };
        let mut opt = paper(0.25, 1);
        let mut x = [3.0f32];
        let mut g = [0.0f32];
        for (want_x, want_h) in [(1.5, 1.0), (1.125, 0.5), (0.84375, 0.5)] {
            f(&x, &mut g);
            opt.step(&mut x, &g.clone(), &mut no_same_batch()).unwrap();
            assert!((x[0] - want_x).abs() < 1e-6, "x = {}, want {want_x}", x[0]);
            assert!((opt.h[0] - want_h).abs() < 1e-6, "H = {}", opt.h[0]);
        }
        assert_eq!((opt.updates, opt.skipped), (2, 0));
    }

    #[test]
    fn the_pair_spans_two_minibatches() {
        // Minibatch t is f_t = (x − c_t)² with c0 = 0, c1 = 1; x0 = 3, lr = 0.25. By hand:
        // t=0: g = 6, s = −1.5, x1 = 1.5.
        // t=1: g = 2·(1.5 − 1) = 1 on the new minibatch, y = 1 − 6 = −5, sᵀy = 7.5, yᵀHy = 25:
        //      H ← 1 + (7.5 + 25)/56.25·2.25 − 2·7.5/7.5 = 1 + 1.3 − 2 = 0.3 (the same-batch pair
        //      would have given y = −3 and H = 0.5); s = −0.25·0.3·1 = −0.075, x2 = 1.425.
        let mut opt = paper(0.25, 1);
        let mut x = [3.0f32];
        for (c, want_x, want_h) in [(0.0, 1.5, 1.0), (1.0, 1.425, 0.3)] {
            let g = [2.0 * (x[0] - c)];
            opt.step(&mut x, &g, &mut no_same_batch()).unwrap();
            assert!((x[0] - want_x).abs() < 1e-6, "x = {}, want {want_x}", x[0]);
            assert!((opt.h[0] - want_h).abs() < 1e-6, "H = {}", opt.h[0]);
        }
    }

    #[test]
    fn a_pair_with_negative_curvature_is_skipped() {
        // c0 = 0, c1 = −5, x0 = 3, lr = 0.25. By hand: t=0: g = 6, s = −1.5, x1 = 1.5.
        // t=1: g = 2·(1.5 + 5) = 13, y = 7, sᵀy = −10.5 < 0: skipped, H stays I,
        // s = −0.25·13 = −3.25, x2 = −1.75.
        let mut opt = paper(0.25, 1);
        let mut x = [3.0f32];
        for c in [0.0, -5.0] {
            let g = [2.0 * (x[0] - c)];
            opt.step(&mut x, &g, &mut no_same_batch()).unwrap();
        }
        assert!((x[0] + 1.75).abs() < 1e-6, "x = {}", x[0]);
        assert_eq!((opt.updates, opt.skipped, opt.h[0]), (0, 1, 1.0));
    }

    #[test]
    fn defaults_are_the_authors() {
        let opt = Bfgs::new(
            Pairing::NextBatch,
            BFGS.from_spec(&OptimizerSpec::named(NAME)).unwrap(),
            3,
        )
        .unwrap();
        assert_eq!(opt.lr(), 0.01);
        // H0 = I before any pair: G = lr·I.
        let mut out = [0.0f32; 3];
        opt.apply(&[1.0, -2.0, 4.0], &mut out);
        for (o, want) in out.iter().zip([0.01, -0.02, 0.04]) {
            assert!((o - want).abs() < 1e-9, "{out:?}");
        }
    }

    #[test]
    fn same_batch_one_dimensional_trajectory() {
        // f = x² (a = 2), x0 = 3, lr = 1. Step 1: Δx = −(1/6)·6 = −1, x1 = 2; s = −1, y = −2:
        // H0 = sᵀy/yᵀy = 0.5, then H ← (1 − ρsy)·H·(1 − ρys) + ρs² = 0 + 0.5 = 0.5 = 1/a.
        // Step 2: Δx = −0.5·4 = −2, x2 = 0.
        let f = |x: &[f32], g: &mut [f32]| {
            g[0] = 2.0 * x[0];
            Ok(x[0] * x[0])
        };
        let mut opt = same_batch(1);
        let mut x = [3.0f32];
        let mut g = [0.0f32];
        for want in [2.0, 0.0] {
            f(&x, &mut g).unwrap();
            opt.step(&mut x, &g.clone(), &mut { f }).unwrap();
            assert!((x[0] - want).abs() < 1e-6, "x = {}, want {want}", x[0]);
        }
        assert!((opt.h[0] - 0.5).abs() < 1e-7);
    }

    #[test]
    fn same_batch_recovers_the_inverse_hessian_of_a_small_quadratic() {
        // With exact pairs y = A·s the update maps E = A^{1/2}·H·A^{1/2} − I to P·E·P, P the
        // projector orthogonal to A^{1/2}·s (substitute y = A·s into eq. 6.17), so steps in
        // varied directions drive H to A⁻¹. Each step here sees a fresh isotropic gradient
        // ξ ~ N(0, I) (the minimum jumps to x − A⁻¹ξ, a noisy bowl) and the same-batch oracle
        // of that quadratic, which spreads the steps over all eigendirections. n = 6, condition
        // 100, 400 steps. Measured: ‖I − H·A‖_F/√n ≈ 6e-4 and ‖H − A⁻¹‖_F/‖A⁻¹‖_F ≈ 2e-5;
        // bounds 2e-3 and 1e-4.
        let n = 6;
        let mut rng = TestRng::new(11);
        let mut q = Quadratic::new(n, 1.0, 100.0, 12);
        let mut opt = same_batch(n);
        let mut x = vec![0.0f32; n];
        let mut g = vec![0.0f32; n];
        for _ in 0..400 {
            let xi: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
            q = q.with_gradient_at(&x, &xi);
            q.loss_and_grad(&x, &mut g);
            opt.step(&mut x, &g, &mut q.oracle()).unwrap();
        }
        assert_eq!(opt.skipped, 0);
        let hessian_error = q.hessian_error(&opt);
        assert!(hessian_error <= 2e-3, "‖I − H·A‖_F/√n = {hessian_error}");
        let a_inv = q.hessian_inverse();
        let err: f64 = opt
            .h
            .iter()
            .zip(a_inv)
            .map(|(&h, &a)| (h as f64 - a).powi(2))
            .sum::<f64>()
            .sqrt();
        let scale = a_inv.iter().map(|a| a * a).sum::<f64>().sqrt();
        assert!(
            err <= 1e-4 * scale,
            "‖H − A⁻¹‖_F = {err}, ‖A⁻¹‖_F = {scale}"
        );
        // Symmetric bit for bit (the point of the update's evaluation order).
        for i in 0..n {
            for j in 0..n {
                assert_eq!(opt.h[i * n + j].to_bits(), opt.h[j * n + i].to_bits());
            }
        }
    }

    #[test]
    fn refuses_large_problems_with_the_reason() {
        let err = Bfgs::new(Pairing::NextBatch, BfgsConfig { lr: 0.01 }, 94_696)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "bfgs: 94696 parameters is too many for a dense inverse Hessian (at most 2000: it \
             stores n² values and costs O(n²) per step); use lbfgs or olbfgs"
        );
        assert!(Bfgs::new(Pairing::NextBatch, BfgsConfig { lr: 0.01 }, MAX_DIM).is_ok());
    }
}
