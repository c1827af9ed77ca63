//! Yogi (Zaheer, Reddi, Sachan, Kale & Kumar, "Adaptive Methods for Nonconvex Optimization",
//! NeurIPS 2018): Adam with an additive second-moment update, so v changes by at most
//! `(1 − β2)·g²` per step and cannot collapse after a burst of large gradients:
//!
//! ```text
//! g ← g + wd·x
//! m ← β1·m + (1 − β1)·g
//! v ← v − (1 − β2)·sign(v − g²)·g²
//! Δx = −lr·m̂/(√v̂ + ε)        m̂, v̂ bias-corrected as in Adam
//! ```
//!
//! The paper's Algorithm 2 is written without bias correction and with v0 = 0; this follows the
//! reference implementations (TF-Addons `Yogi`, Optax `scale_by_yogi`), which bias-correct and
//! start v at 1e-6 (`initial_accumulator_value`). Defaults ε = 1e-3 and lr = 1e-2: the paper
//! asks for a larger ε than Adam's 1e-8, and both are TF-Addons' defaults.

use anyhow::Result;

use super::adam::{MomentConfig, bias_correction, moment_summary};
use super::kernels::{check_dims, fused_step};
use super::snapshot::{buffer, check_owner};
use super::{Optimizer, OptimizerSpec, OptimizerState, SameBatch, StepStats, hyper};

pub const NAME: &str = "yogi";

/// Initial value of v (TF-Addons and Optax `initial_accumulator_value`).
pub const V0: f32 = 1e-6;

/// Yogi's defaults (TF-Addons'): lr 1e-2, β1 0.9, β2 0.999, ε 1e-3 (larger than Adam's, as the
/// paper recommends), no decay.
pub const DEFAULTS: MomentConfig = MomentConfig {
    lr: 1e-2,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-3,
    weight_decay: 0.0,
};

pub struct Yogi {
    cfg: MomentConfig,
    t: u64,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Yogi {
    pub fn new(cfg: MomentConfig, n: usize) -> Result<Self> {
        cfg.validate(NAME)?;
        Ok(Self {
            cfg,
            t: 0,
            m: vec![0.0; n],
            v: vec![V0; n],
        })
    }
}

impl Optimizer for Yogi {
    fn name(&self) -> &'static str {
        NAME
    }

    fn spec(&self) -> OptimizerSpec {
        self.cfg.to_spec(NAME)
    }

    fn step(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        _same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        check_dims(NAME, self.m.len(), params, grad)?;
        let MomentConfig {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay: wd,
        } = self.cfg;
        self.t += 1;
        let step_size = (lr as f64 / bias_correction(beta1, self.t)) as f32;
        let inv_sqrt_bc2 = (1.0 / bias_correction(beta2, self.t).sqrt()) as f32;
        let (m, v) = (&mut self.m, &mut self.v);
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
                let d = -step_size * mi / (vi.sqrt() * inv_sqrt_bc2 + eps);
                dx[i] = d;
                x[i] += d;
            }
        }))
    }

    fn lr(&self) -> f32 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f32) -> Result<()> {
        hyper::lr(NAME, lr)?;
        self.cfg.lr = lr;
        Ok(())
    }

    fn reset(&mut self) {
        self.t = 0;
        self.m.fill(0.0);
        self.v.fill(V0);
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            spec: self.spec(),
            step: self.t,
            scalars: Vec::new(),
            buffers: vec![("m".into(), self.m.clone()), ("v".into(), self.v.clone())],
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        check_owner(state, NAME)?;
        let cfg = MomentConfig::from_spec(&state.spec, &DEFAULTS)?;
        let m = buffer(state, "m", self.m.len())?;
        let v = buffer(state, "v", self.v.len())?;
        (self.cfg, self.t, self.m, self.v) = (cfg, state.step, m, v);
        Ok(())
    }

    fn summary(&self) -> Vec<(String, String)> {
        moment_summary(&self.m, &self.v, self.cfg.beta1, self.cfg.beta2, self.t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testkit::no_same_batch;

    #[test]
    fn second_moment_moves_additively_and_the_steps_follow() {
        // lr = 0.1, β1 = 0.9, β2 = 0.999, ε = 1e-3, v0 = 1e-6, gradients fed directly: 2 then 0.01.
        // t=1: g² = 4 > v0 → v1 = 1e-6 + 0.001·4 = 0.004001, m1 = 0.2,
        //      m̂ = 2, v̂ = 4.001, Δx = −0.1·2/(2.00024998 + 1e-3) = −0.0999375398
        // t=2: g² = 1e-4 < v1 → v2 = 0.004001 − 0.001·1e-4 = 0.0040009
        //      (Adam would give 0.999·0.004001 + 1e-7 = 0.003997099), m2 = 0.181,
        //      m̂ = 0.952631579, v̂ = 2.00145073, Δx = −0.1·0.952631579/(1.41472638 + 1e-3)
        //      = −0.0672892441; x2 = −0.167226784.
        // Tolerances: β2 is f32, 1 − f32(0.999) = 0.00099998713, which moves v by ~1.3e-5 relative.
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
        assert!((x[0] as f64 + 0.0999375398).abs() < 1e-7);
        assert!((opt.v[0] as f64 - 0.004001).abs() < 1e-7);
        opt.step(&mut x, &[0.01], &mut no_same_batch()).unwrap();
        assert!((opt.v[0] as f64 - 0.0040009).abs() < 1e-7);
        assert!((x[0] as f64 + 0.167226784).abs() < 1e-6);
    }

    #[test]
    fn reset_restores_the_initial_accumulator() {
        let mut opt = Yogi::new(DEFAULTS, 2).unwrap();
        opt.step(&mut [1.0, 2.0], &[3.0, 4.0], &mut no_same_batch())
            .unwrap();
        opt.reset();
        assert_eq!(opt.v, vec![V0; 2]);
        assert_eq!(opt.m, vec![0.0; 2]);
        assert_eq!(opt.state().step, 0);
    }
}
