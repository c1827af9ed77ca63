//! Yogi (Zaheer, Reddi, Sachan, Kale & Kumar, "Adaptive Methods for Nonconvex Optimization",
//! NeurIPS 2018, Algorithm 2), as the LODO authors ran it (`YogiMinimizationProcedure` in their
//! `training/minimization_procedure.py`): Adam with an additive second-moment update, so v
//! changes by at most `(1 − β2)·g²` per step and cannot collapse after a burst of large
//! gradients:
//!
//! ```text
//! g ← g + wd·x
//! m ← β1·m + (1 − β1)·g
//! v ← v − (1 − β2)·sign(v − g²)·g²
//! Δx = −lr·m/(√v + ε)
//! ```
//!
//! m and v start at 0 and are not bias-corrected, as in the paper's Algorithm 2 and the authors'
//! code; ε = 1e-3 and lr = 1e-3 are the authors' defaults. The first step is therefore
//! `−lr·(1 − β1)·g/(√(1 − β2)·|g| + ε)`, about `−3.2·lr·sign(g)` once |g| ≫ 0.03 with the
//! default βs (Adam's is `−lr·sign(g)`): without the correction v starts small and grows as
//! `(1 − β2)·t·g²` over the first ~1/(1 − β2) steps, so the early steps are the longest.
//! (TF-Addons' and Optax's Yogi bias-correct and start v at 1e-6 instead.) Weight decay is an
//! addition of this project (default 0, the authors have none).

use anyhow::Result;

use super::adam::{MomentConfig, Moments};
use super::baseline::{Baseline, Settings};
use super::hyperparameters::Identity;
use super::kernels::{check_dims, fused_step, norm};
use super::registry::Entry;
use super::{OptimizerState, SameBatch, StepStats, hyper};

pub const NAME: &str = "yogi";

/// Yogi's defaults, the authors': lr 1e-3, β1 0.9, β2 0.999, ε 1e-3, no decay.
pub const DEFAULTS: MomentConfig = MomentConfig {
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-3,
    weight_decay: 0.0,
};

pub static IDENTITY: Identity<MomentConfig> = Identity {
    name: NAME,
    defaults: DEFAULTS,
};

pub const ENTRY: Entry = Entry {
    name: NAME,
    build: |spec, ctx| Ok(Box::new(Yogi::new(IDENTITY.from_spec(spec)?, ctx.n)?)),
    state_words: |_, n| 3 * n,
};

pub struct Yogi {
    settings: Settings<MomentConfig>,
    moments: Moments,
}

impl Yogi {
    pub fn new(cfg: MomentConfig, n: usize) -> Result<Self> {
        Ok(Self {
            settings: Settings::new(&IDENTITY, cfg)?,
            moments: Moments::new(n),
        })
    }
}

impl Baseline for Yogi {
    type Config = MomentConfig;

    fn settings(&self) -> &Settings<MomentConfig> {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings<MomentConfig> {
        &mut self.settings
    }

    fn update(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        _same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        check_dims(NAME, self.moments.m.len(), params, grad)?;
        let MomentConfig {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay: wd,
        } = self.settings.cfg;
        self.settings.t += 1;
        let Moments { m, v } = &mut self.moments;
        Ok(fused_step(params, grad, |r, x, g, dx| {
            let m = &mut m[r.clone()];
            let v = &mut v[r];
            for i in 0..x.len() {
                let g = g[i] + wd * x[i];
                let g2 = g * g;
                let mi = beta1 * m[i] + (1.0 - beta1) * g;
                // sign(0) = 0 (v unchanged when v = g² exactly), as in the paper's sign.
                let dir = if v[i] > g2 {
                    1.0
                } else if v[i] < g2 {
                    -1.0
                } else {
                    0.0
                };
                let vi = v[i] - (1.0 - beta2) * dir * g2;
                m[i] = mi;
                v[i] = vi;
                let d = -lr * mi / (vi.sqrt() + eps);
                dx[i] = d;
                x[i] += d;
            }
        }))
    }

    fn clear(&mut self) {
        self.moments.clear();
    }

    fn save(&self, state: &mut OptimizerState) {
        self.moments.save(state);
    }

    fn load(&mut self, _cfg: &MomentConfig, state: &OptimizerState) -> Result<()> {
        self.moments.load(state)
    }

    fn figures(&self) -> Vec<(String, String)> {
        let Moments { m, v } = &self.moments;
        let n = v.len().max(1) as f64;
        let rms = v.iter().map(|&v| (v as f64).sqrt()).sum::<f64>() / n;
        vec![
            ("‖m‖".into(), hyper::sci(norm(m))),
            ("mean √v".into(), hyper::sci(rms)),
            ("steps".into(), self.settings.t.to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Optimizer;
    use crate::optim::testkit::no_same_batch;

    #[test]
    fn two_steps_follow_the_authors_yogi() {
        // Worked by hand from the update rule above (no bias correction, m0 = v0 = 0), lr = 0.1,
        // β1 = 0.9, β2 = 0.999, ε = 1e-3, gradients fed directly: 2, then 0.01.
        // t=1: g² = 4 > v0 = 0 → v1 = 0 + 0.001·4 = 0.004, m1 = 0.1·2 = 0.2,
        //      √v1 = 0.0632455532, Δx = −0.1·0.2/(0.0632455532 + 0.001) = −0.311305592
        //      (bias-corrected with v0 = 1e-6, as before, it was −0.0999375).
        // t=2: g² = 1e-4 < v1 → v2 = 0.004 − 0.001·1e-4 = 0.0039999, m2 = 0.18 + 0.001 = 0.181,
        //      √v2 = 0.0632447626, Δx = −0.1·0.181/(0.0632447626 + 0.001) = −0.281735028,
        //      x2 = −0.593040620 (digits checked with a calculator).
        // Tolerances: β2 is f32, 1 − f32(0.999) = 0.00099998713, which moves v by ~1.3e-5
        // relative and the steps by ~6e-6 relative.
        let mut opt = Yogi::new(
            MomentConfig {
                lr: 0.1,
                ..DEFAULTS
            },
            1,
        )
        .unwrap();
        let mut x = [0.0f32];
        opt.step(&mut x, &[2.0], &mut no_same_batch()).unwrap();
        assert!(
            (opt.moments.v[0] as f64 - 0.004).abs() < 1e-7,
            "v1 = {}",
            opt.moments.v[0]
        );
        assert!((x[0] as f64 + 0.311305592).abs() < 3e-6, "x1 = {}", x[0]);
        opt.step(&mut x, &[0.01], &mut no_same_batch()).unwrap();
        assert!(
            (opt.moments.v[0] as f64 - 0.0039999).abs() < 1e-7,
            "v2 = {}",
            opt.moments.v[0]
        );
        assert!((x[0] as f64 + 0.593040620).abs() < 6e-6, "x2 = {}", x[0]);
    }

    #[test]
    fn defaults_are_the_authors() {
        // `YogiMinimizationProcedure(lr=0.001, beta1=0.9, beta2=0.999, epsilon=0.001)`.
        let spec = Yogi::new(DEFAULTS, 1).unwrap().spec();
        assert_eq!(
            (spec.lr, spec.beta1, spec.beta2, spec.eps),
            (Some(1e-3), Some(0.9), Some(0.999), Some(1e-3))
        );
    }

    #[test]
    fn reset_restores_zero_moments() {
        let mut opt = Yogi::new(DEFAULTS, 2).unwrap();
        opt.step(&mut [1.0, 2.0], &[3.0, 4.0], &mut no_same_batch())
            .unwrap();
        opt.reset();
        assert_eq!(opt.moments.v, vec![0.0; 2]);
        assert_eq!(opt.moments.m, vec![0.0; 2]);
        assert_eq!(opt.state().step, 0);
    }
}
