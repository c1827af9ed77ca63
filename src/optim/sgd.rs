//! Plain stochastic gradient descent: `Δx = −lr·(g + wd·x)`.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::kernels::{check_dims, fused_step};
use super::snapshot::check_owner;
use super::{Optimizer, OptimizerSpec, OptimizerState, SameBatch, StepStats, hyper};

pub const NAME: &str = "sgd";

/// SGD hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    /// Learning rate; default 0.01 (Keras `SGD`).
    pub lr: f32,
    /// L2 weight decay (see [`hyper::weight_decay`]); default 0.
    pub weight_decay: f32,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            weight_decay: 0.0,
        }
    }
}

impl SgdConfig {
    pub const FIELDS: &[&str] = &["lr", "weight_decay"];

    pub fn from_spec(spec: &OptimizerSpec) -> Result<Self> {
        spec.ensure_only(Self::FIELDS)?;
        let d = Self::default();
        let cfg = Self {
            lr: spec.lr.unwrap_or(d.lr),
            weight_decay: spec.weight_decay.unwrap_or(d.weight_decay),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        hyper::lr(NAME, self.lr)?;
        hyper::weight_decay(NAME, self.weight_decay)
    }

    pub fn to_spec(&self) -> OptimizerSpec {
        OptimizerSpec {
            lr: Some(self.lr),
            weight_decay: Some(self.weight_decay),
            ..OptimizerSpec::named(NAME)
        }
    }
}

/// SGD has no state besides its step count.
pub struct Sgd {
    cfg: SgdConfig,
    n: usize,
    t: u64,
}

impl Sgd {
    pub fn new(cfg: SgdConfig, n: usize) -> Result<Self> {
        cfg.validate()?;
        Ok(Self { cfg, n, t: 0 })
    }
}

impl Optimizer for Sgd {
    fn name(&self) -> &'static str {
        NAME
    }

    fn spec(&self) -> OptimizerSpec {
        self.cfg.to_spec()
    }

    fn step(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        _same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        check_dims(NAME, self.n, params, grad)?;
        let (lr, wd) = (self.cfg.lr, self.cfg.weight_decay);
        self.t += 1;
        Ok(fused_step(params, grad, |_, x, g, dx| {
            for i in 0..x.len() {
                let d = -lr * (g[i] + wd * x[i]);
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
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            spec: self.spec(),
            step: self.t,
            ..OptimizerState::default()
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        check_owner(state, NAME)?;
        self.cfg = SgdConfig::from_spec(&state.spec)?;
        self.t = state.step;
        Ok(())
    }

    fn summary(&self) -> Vec<(String, String)> {
        vec![("steps".into(), self.t.to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testkit::no_same_batch;

    #[test]
    fn two_steps_on_a_parabola_follow_the_rule() {
        // f(x) = x², g = 2x, x0 = 1, lr = 0.1, wd = 0.5 → g_eff = 2.5x, x ← x·(1 − 0.25):
        // x1 = 0.75, x2 = 0.5625 (hand derivation of Δx = −lr·(g + wd·x)).
        let cfg = SgdConfig {
            lr: 0.1,
            weight_decay: 0.5,
        };
        let mut opt = Sgd::new(cfg, 1).unwrap();
        let mut x = [1.0f32];
        for want in [0.75, 0.5625] {
            let g = [2.0 * x[0]];
            let st = opt.step(&mut x, &g, &mut no_same_batch()).unwrap();
            assert!((x[0] - want).abs() < 1e-7, "x = {}, want {want}", x[0]);
            assert!(st.cos_step_neg_grad > 0.999_999);
        }
        // Effective lr along g is lr·(g + wd·x)/g = 0.1·1.25 = 0.125.
        let g = [2.0 * x[0]];
        let st = opt.step(&mut x, &g, &mut no_same_batch()).unwrap();
        assert!((st.effective_lr - 0.125).abs() < 1e-6);
    }
}
