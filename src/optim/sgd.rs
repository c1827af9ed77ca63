//! Plain stochastic gradient descent: `Δx = −lr·(g + wd·x)`.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, Settings};
use super::hyperparameters::{Hyperparameters, Identity};
use super::kernels::{check_dims, fused_step};
use super::registry::Entry;
use super::{SameBatch, StepStats, hyper};

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
        IDENTITY.defaults.clone()
    }
}

pub static IDENTITY: Identity<SgdConfig> = Identity {
    name: NAME,
    defaults: SgdConfig {
        lr: 0.01,
        weight_decay: 0.0,
    },
};

pub const ENTRY: Entry = Entry {
    name: NAME,
    build: |spec, ctx| Ok(Box::new(Sgd::new(IDENTITY.from_spec(spec)?, ctx.n)?)),
    state_words: |_, n| n,
};

impl Hyperparameters for SgdConfig {
    fn validate(&self, name: &str) -> Result<()> {
        hyper::lr(name, self.lr)?;
        hyper::weight_decay(name, self.weight_decay)
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn lr_mut(&mut self) -> &mut f32 {
        &mut self.lr
    }
}

/// SGD has no state besides its step count.
pub struct Sgd {
    settings: Settings<SgdConfig>,
    n: usize,
}

impl Sgd {
    pub fn new(cfg: SgdConfig, n: usize) -> Result<Self> {
        Ok(Self {
            settings: Settings::new(&IDENTITY, cfg)?,
            n,
        })
    }
}

impl Baseline for Sgd {
    type Config = SgdConfig;

    fn settings(&self) -> &Settings<SgdConfig> {
        &self.settings
    }

    fn settings_mut(&mut self) -> &mut Settings<SgdConfig> {
        &mut self.settings
    }

    fn update(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        _same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        check_dims(NAME, self.n, params, grad)?;
        let SgdConfig {
            lr,
            weight_decay: wd,
        } = self.settings.cfg;
        self.settings.t += 1;
        Ok(fused_step(params, grad, |_, x, g, dx| {
            for i in 0..x.len() {
                let d = -lr * (g[i] + wd * x[i]);
                dx[i] = d;
                x[i] += d;
            }
        }))
    }

    fn clear(&mut self) {}

    fn figures(&self) -> Vec<(String, String)> {
        vec![("steps".into(), self.settings.t.to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Optimizer;
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
