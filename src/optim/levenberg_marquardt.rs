//! Levenberg–Marquardt as the paper's authors run it on the noisy quadratic bowl (their
//! `LevenbergMarquardtMinimizationProcedure`): Marquardt-damped Gauss–Newton on the equation
//! `∇f(x) = 0`, whose Jacobian is the Hessian `H`:
//!
//! ```text
//! M = H² + λ·diag(H²)
//! x ← x − lr·M⁻¹·H·g
//! ```
//!
//! with the authors' fixed damping λ = 1 (no adaptive schedule) and a unit step (`lr` = 1; the
//! authors have no step length, `lr` exists so it can be changed live like every optimizer's).
//! The authors take the exact Hessian of the minibatch loss from automatic differentiation. This
//! optimizer knows only gradients, so it measures `H` by central differences of same-minibatch
//! gradients — column `i` is `(∇f(x + hᵢeᵢ) − ∇f(x − hᵢeᵢ))/(2hᵢ)` with
//! `hᵢ = 2⁻⁸·max(1, |xᵢ|)` — and symmetrizes it: 2n extra gradient evaluations per step, exact up
//! to rounding on a quadratic. `M` is factored by Cholesky in f64; when it is singular (a zero
//! Hessian, e.g. at a zero gradient everywhere) the step is zero and counted.
//!
//! `H` and `M` cost n² f64 each, a step O(n³) work and 2n gradients, so Levenberg–Marquardt
//! refuses more than [`MAX_DIM`] parameters.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, Settings};
use super::hyperparameters::{Hyperparameters, Identity};
use super::kernels::{check_dims, move_and_record};
use super::registry::Entry;
use super::snapshot::count;
use super::{OptimizerState, Preconditioner, SameBatch, StepStats, hyper};

pub const NAME: &str = "lm";

/// Largest dimension accepted: a step then takes 2,000 gradient evaluations and ~1.3 Gflop.
pub const MAX_DIM: usize = 1000;

/// Finite-difference step relative to `max(1, |xᵢ|)`: near f32's optimum for central
/// differences, `(3·ε_f32)^{1/3} ≈ 6e-3`, and a power of two.
const FD_STEP: f32 = 1.0 / 256.0;

/// Levenberg–Marquardt hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmConfig {
    /// Step length; default 1 (the authors' unscaled step).
    pub lr: f32,
    /// Marquardt damping λ ≥ 0 on `diag(H²)`; default 1, the authors'.
    pub lambda: f32,
}

/// The authors' defaults.
pub const DEFAULTS: LmConfig = LmConfig {
    lr: 1.0,
    lambda: 1.0,
};

impl Default for LmConfig {
    fn default() -> Self {
        DEFAULTS
    }
}

pub static IDENTITY: Identity<LmConfig> = Identity {
    name: NAME,
    defaults: DEFAULTS,
};

pub const ENTRY: Entry = Entry {
    name: NAME,
    build: |spec, ctx| {
        Ok(Box::new(LevenbergMarquardt::new(
            IDENTITY.from_spec(spec)?,
            ctx.n,
        )?))
    },
    // The Hessian and its Cholesky factor, both n×n in f64 (two words each), and six vectors.
    state_words: |_, n| n.saturating_mul(n).saturating_mul(4).saturating_add(6 * n),
};

impl Hyperparameters for LmConfig {
    fn validate(&self, name: &str) -> Result<()> {
        hyper::lr(name, self.lr)?;
        hyper::non_negative(name, "lambda", self.lambda)
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn lr_mut(&mut self) -> &mut f32 {
        &mut self.lr
    }
}

pub struct LevenbergMarquardt {
    settings: Settings<LmConfig>,
    n: usize,
    /// Steps whose `M` was singular (and which therefore did not move).
    singular: u64,
    /// The last step's symmetrized Hessian estimate and Cholesky factor of `M` (row-major,
    /// lower triangle), for the preconditioner view; `factored` once a step has set them.
    hess: Vec<f64>,
    chol: Vec<f64>,
    factored: bool,
    /// Scratch: the probe point, the two probe gradients, the direction.
    probe: Vec<f32>,
    g_plus: Vec<f32>,
    g_minus: Vec<f32>,
    dir: Vec<f32>,
    s: Vec<f32>,
}

impl LevenbergMarquardt {
    pub fn new(cfg: LmConfig, n: usize) -> Result<Self> {
        let settings = Settings::new(&IDENTITY, cfg)?;
        if n > MAX_DIM {
            bail!(
                "{NAME}: {n} parameters is too many for Levenberg–Marquardt (at most {MAX_DIM}: \
                 it measures the n×n Hessian with 2n gradient evaluations and solves an n×n \
                 system every step); use lbfgs or olbfgs"
            );
        }
        Ok(Self {
            settings,
            n,
            singular: 0,
            hess: vec![0.0; n * n],
            chol: vec![0.0; n * n],
            factored: false,
            probe: vec![0.0; n],
            g_plus: vec![0.0; n],
            g_minus: vec![0.0; n],
            dir: vec![0.0; n],
            s: vec![0.0; n],
        })
    }

    /// `self.hess` ← the symmetrized central-difference Hessian at `params` on the minibatch
    /// of `same_batch`.
    fn measure_hessian(&mut self, params: &[f32], same_batch: &mut dyn SameBatch) -> Result<()> {
        let n = self.n;
        self.probe.copy_from_slice(params);
        for (i, &x) in params.iter().enumerate() {
            let h = FD_STEP * x.abs().max(1.0);
            let (up, down) = (x + h, x - h);
            self.probe[i] = up;
            same_batch
                .loss_and_grad(&self.probe, &mut self.g_plus)
                .with_context(|| format!("{NAME}: same-batch gradient for the Hessian"))?;
            self.probe[i] = down;
            same_batch
                .loss_and_grad(&self.probe, &mut self.g_minus)
                .with_context(|| format!("{NAME}: same-batch gradient for the Hessian"))?;
            self.probe[i] = x;
            // The distance the probes actually span after rounding, not 2h.
            let width = up as f64 - down as f64;
            for (j, (&gp, &gm)) in self.g_plus.iter().zip(&self.g_minus).enumerate() {
                self.hess[j * n + i] = (gp as f64 - gm as f64) / width;
            }
        }
        for i in 0..n {
            for j in 0..i {
                let mean = 0.5 * (self.hess[i * n + j] + self.hess[j * n + i]);
                self.hess[i * n + j] = mean;
                self.hess[j * n + i] = mean;
            }
        }
        Ok(())
    }

    /// `self.chol` ← the Cholesky factor of `M = H² + λ·diag(H²)`; false if `M` is not
    /// numerically positive definite.
    fn factor(&mut self) -> bool {
        let n = self.n;
        let (h, m) = (&self.hess, &mut self.chol);
        for i in 0..n {
            for j in 0..=i {
                // H is symmetric: (H²)ᵢⱼ = Σ_k Hᵢₖ·Hⱼₖ, two contiguous rows.
                let hh: f64 = (0..n).map(|k| h[i * n + k] * h[j * n + k]).sum();
                m[i * n + j] = if i == j {
                    hh * (1.0 + self.settings.cfg.lambda as f64)
                } else {
                    hh
                };
            }
        }
        cholesky_in_place(m, n)
    }

    /// `out = M⁻¹·H·v` with the stored factor.
    fn solve(&self, v: &[f32], out: &mut [f64]) {
        let n = self.n;
        for (i, o) in out.iter_mut().enumerate() {
            *o = (0..n).map(|k| self.hess[i * n + k] * v[k] as f64).sum();
        }
        cholesky_solve(&self.chol, n, out);
    }
}

/// Overwrites the lower triangle of the symmetric `m` (n×n, row-major) with its Cholesky factor
/// `L` (`m = L·Lᵀ`); false when a pivot is not positive and finite.
fn cholesky_in_place(m: &mut [f64], n: usize) -> bool {
    // Pivots below this fraction of the largest diagonal entry are rounding noise of a singular M.
    let scale = (0..n).map(|i| m[i * n + i]).fold(0.0, f64::max);
    let floor = scale * 1e-14;
    for j in 0..n {
        let d = m[j * n + j] - (0..j).map(|k| m[j * n + k] * m[j * n + k]).sum::<f64>();
        if !(d > floor && d.is_finite()) {
            return false;
        }
        let l = d.sqrt();
        m[j * n + j] = l;
        for i in j + 1..n {
            let v = m[i * n + j] - (0..j).map(|k| m[i * n + k] * m[j * n + k]).sum::<f64>();
            m[i * n + j] = v / l;
        }
    }
    true
}

/// Solves `L·Lᵀ·x = b` in place (`b` becomes `x`) with the factor from [`cholesky_in_place`].
fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
    for i in 0..n {
        let v = b[i] - (0..i).map(|k| l[i * n + k] * b[k]).sum::<f64>();
        b[i] = v / l[i * n + i];
    }
    for i in (0..n).rev() {
        let v = b[i] - (i + 1..n).map(|k| l[k * n + i] * b[k]).sum::<f64>();
        b[i] = v / l[i * n + i];
    }
}

impl Baseline for LevenbergMarquardt {
    type Config = LmConfig;

    fn settings(&self) -> &Settings<LmConfig> {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings<LmConfig> {
        &mut self.settings
    }

    fn update(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        check_dims(NAME, self.n, params, grad)?;
        self.measure_hessian(params, same_batch)?;
        self.factored = self.factor();
        self.settings.t += 1;
        if self.factored {
            let mut d = vec![0.0; self.n];
            self.solve(grad, &mut d);
            self.dir
                .iter_mut()
                .zip(&d)
                .for_each(|(o, &v)| *o = v as f32);
        } else {
            self.singular += 1;
            self.dir.fill(0.0);
        }
        let lr = self.settings.cfg.lr;
        let sums = move_and_record(params, &self.dir, lr, &mut self.s, grad);
        Ok(sums.stats())
    }

    fn clear(&mut self) {
        self.singular = 0;
        self.factored = false;
    }

    /// Only counters: every step measures its Hessian afresh, so nothing else carries over.
    fn save(&self, state: &mut OptimizerState) {
        state
            .scalars
            .push(("singular".into(), self.singular as f64));
    }

    fn load(&mut self, _cfg: &LmConfig, state: &OptimizerState) -> Result<()> {
        let singular = count(state, "singular")?;
        (self.singular, self.factored) = (singular, false);
        Ok(())
    }

    /// The last step's `G = lr·M⁻¹·H` (so `Δx = −G·g`); none before a step has measured `H`.
    fn preconditioner_view(&self) -> Option<&dyn Preconditioner> {
        self.factored.then_some(self as &dyn Preconditioner)
    }

    fn figures(&self) -> Vec<(String, String)> {
        vec![
            ("gradients/step".into(), format!("1 + {}", 2 * self.n)),
            ("singular steps".into(), self.singular.to_string()),
        ]
    }
}

impl Preconditioner for LevenbergMarquardt {
    fn apply(&self, v: &[f32], out: &mut [f32]) {
        let mut d = vec![0.0; self.n];
        self.solve(v, &mut d);
        let lr = self.settings.cfg.lr as f64;
        out.iter_mut()
            .zip(&d)
            .for_each(|(o, &v)| *o = (lr * v) as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Optimizer;

    fn lm(lambda: f32, n: usize) -> LevenbergMarquardt {
        LevenbergMarquardt::new(LmConfig { lr: 1.0, lambda }, n).unwrap()
    }

    #[test]
    fn hand_computed_one_dimensional_step() {
        // f = x² at x = 3 (H = 2, g = 6), λ = 1: M = 4 + 1·4 = 8, Δx = −(1/8)·2·6 = −1.5.
        // The central difference is exact here: h = 3·2⁻⁸ and the gradients 2·(3 ± h) are exact
        // in f32.
        let f = |x: &[f32], g: &mut [f32]| {
            g[0] = 2.0 * x[0];
            Ok(x[0] * x[0])
        };
        let mut opt = lm(1.0, 1);
        let mut x = [3.0f32];
        opt.step(&mut x, &[6.0], &mut { f }).unwrap();
        assert!((x[0] - 1.5).abs() < 1e-6, "x = {}", x[0]);
    }

    #[test]
    fn hand_computed_two_dimensional_steps() {
        // ∇f(x) = H·x − b with H = [[2, 1], [1, 2]], b = (−1, 0), at x = 0: g = (1, 0).
        // λ = 1: H² = [[5, 4], [4, 5]], M = [[10, 4], [4, 10]], H·g = (2, 1),
        // M⁻¹ = [[10, −4], [−4, 10]]/84, so Δx = −(16, 2)/84 = (−0.1904762, −0.0238095).
        // λ = 0: M = H², Δx = −H⁻¹·g = −(2, −1)/3 (the Newton step).
        let f = |x: &[f32], g: &mut [f32]| {
            g[0] = 2.0 * x[0] + x[1] + 1.0;
            g[1] = x[0] + 2.0 * x[1];
            Ok(0.0)
        };
        for (lambda, want) in [
            (1.0, [-16.0 / 84.0, -2.0 / 84.0]),
            (0.0, [-2.0 / 3.0, 1.0 / 3.0]),
        ] {
            let mut opt = lm(lambda, 2);
            let mut x = [0.0f32; 2];
            let mut calls = 0;
            let mut counted = |x: &[f32], g: &mut [f32]| {
                calls += 1;
                f(x, g)
            };
            opt.step(&mut x, &[1.0, 0.0], &mut counted).unwrap();
            assert_eq!(calls, 4, "2n same-batch gradients");
            for (got, want) in x.iter().zip(want) {
                assert!((got - want).abs() < 1e-6, "λ = {lambda}: {x:?}");
            }
        }
    }

    #[test]
    fn central_differences_measure_a_non_quadratic_hessian() {
        // f = Σ xᵢ⁴/4 + x₀x₁ at x = (1.5, −2): H = [[3x₀², 1], [1, 3x₁²]] = [[6.75, 1], [1, 12]];
        // the central difference of the cubic gradient errs by h² per entry (h = 2⁻⁸·max(1, |x|),
        // ≤ 6.1e-5 here), bound 1e-4.
        let f = |x: &[f32], g: &mut [f32]| {
            g[0] = x[0].powi(3) + x[1];
            g[1] = x[1].powi(3) + x[0];
            Ok(0.0)
        };
        let mut opt = lm(1.0, 2);
        let x = [1.5f32, -2.0];
        opt.measure_hessian(&x, &mut { f }).unwrap();
        for (got, want) in opt.hess.iter().zip([6.75, 1.0, 1.0, 12.0]) {
            assert!((got - want).abs() < 1e-4, "{:?}", opt.hess);
        }
    }

    #[test]
    fn preconditioner_is_the_last_steps_damped_inverse() {
        // On the 2-D quadratic above with λ = 0, G = H⁻¹ so G·H = I (hand algebra); with λ = 1,
        // G·(1, 0) = M⁻¹·H·(1, 0) = (16, 2)/84 as computed above.
        let f = |x: &[f32], g: &mut [f32]| {
            g[0] = 2.0 * x[0] + x[1];
            g[1] = x[0] + 2.0 * x[1];
            Ok(0.0)
        };
        let mut opt = lm(0.0, 2);
        assert!(opt.preconditioner().is_none());
        opt.step(&mut [0.5, 0.5], &[1.5, 1.5], &mut { f }).unwrap();
        let mut out = [0.0f32; 2];
        opt.apply(&[2.0, 1.0], &mut out);
        assert!(
            (out[0] - 1.0).abs() < 1e-6 && out[1].abs() < 1e-6,
            "{out:?}"
        );
        opt.settings.cfg.lambda = 1.0;
        opt.step(&mut [0.5, 0.5], &[1.5, 1.5], &mut { f }).unwrap();
        opt.apply(&[1.0, 0.0], &mut out);
        assert!(
            (out[0] - 16.0 / 84.0).abs() < 1e-6 && (out[1] - 2.0 / 84.0).abs() < 1e-6,
            "{out:?}"
        );
    }

    #[test]
    fn refuses_large_problems_with_the_reason() {
        let err = LevenbergMarquardt::new(DEFAULTS, 1001).err().unwrap();
        assert_eq!(
            err.to_string(),
            "lm: 1001 parameters is too many for Levenberg–Marquardt (at most 1000: it measures \
             the n×n Hessian with 2n gradient evaluations and solves an n×n system every step); \
             use lbfgs or olbfgs"
        );
        assert!(LevenbergMarquardt::new(DEFAULTS, MAX_DIM).is_ok());
    }
}
