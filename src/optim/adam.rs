//! Adam (Kingma & Ba 2015, Algorithm 1) with bias correction:
//!
//! ```text
//! g ← g + wd·x
//! m ← β1·m + (1 − β1)·g            m̂ = m/(1 − β1ᵗ)
//! v ← β2·v + (1 − β2)·g²           v̂ = v/(1 − β2ᵗ)
//! Δx = −lr·m̂/(√v̂ + ε)
//! ```
//!
//! ε is added to √v̂ as in the paper's Algorithm 1 and PyTorch (`torch.optim.Adam`), whose
//! evaluation order — `lr/(1 − β1ᵗ)·m / (√v/√(1 − β2ᵗ) + ε)` — this follows. Weight decay is the L2
//! term PyTorch's Adam adds to g, not AdamW's decoupled decay.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::kernels::{check_dims, fused_step, norm};
use super::snapshot::{buffer, check_owner};
use super::{Optimizer, OptimizerSpec, OptimizerState, SameBatch, StepStats, hyper};

pub const NAME: &str = "adam";

/// Hyperparameters of the optimizers built on Adam's two moments (Adam, Yogi); each keeps its
/// own defaults ([`DEFAULTS`], [`super::yogi::DEFAULTS`]) and names itself in errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MomentConfig {
    /// Learning rate α.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay (Adam) or rate (Yogi).
    pub beta2: f32,
    /// Added to √v̂.
    pub eps: f32,
    /// L2 weight decay (see [`hyper::weight_decay`]).
    pub weight_decay: f32,
}

/// Adam's defaults, the paper's (also PyTorch's): lr 1e-3, β1 0.9, β2 0.999, ε 1e-8, no decay.
pub const DEFAULTS: MomentConfig = MomentConfig {
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weight_decay: 0.0,
};

impl MomentConfig {
    pub const FIELDS: &[&str] = &["lr", "beta1", "beta2", "eps", "weight_decay"];

    /// The config `spec` asks for, `defaults` where it is silent; errors name `spec.name`.
    pub fn from_spec(spec: &OptimizerSpec, defaults: &Self) -> Result<Self> {
        spec.ensure_only(Self::FIELDS)?;
        let d = defaults;
        let cfg = Self {
            lr: spec.lr.unwrap_or(d.lr),
            beta1: spec.beta1.unwrap_or(d.beta1),
            beta2: spec.beta2.unwrap_or(d.beta2),
            eps: spec.eps.unwrap_or(d.eps),
            weight_decay: spec.weight_decay.unwrap_or(d.weight_decay),
        };
        cfg.validate(&spec.name)?;
        Ok(cfg)
    }

    pub fn validate(&self, name: &str) -> Result<()> {
        hyper::lr(name, self.lr)?;
        hyper::unit(name, "beta1", self.beta1)?;
        hyper::unit(name, "beta2", self.beta2)?;
        hyper::positive(name, "eps", self.eps)?;
        hyper::weight_decay(name, self.weight_decay)
    }

    pub fn to_spec(&self, name: &str) -> OptimizerSpec {
        OptimizerSpec {
            lr: Some(self.lr),
            beta1: Some(self.beta1),
            beta2: Some(self.beta2),
            eps: Some(self.eps),
            weight_decay: Some(self.weight_decay),
            ..OptimizerSpec::named(name)
        }
    }
}

/// The bias corrections `1 − βᵗ` after `t` steps, in f64 (β2ᵗ stays meaningful for t in the
/// millions, where f32 powers would have rounded to 0 long before).
pub fn bias_correction(beta: f32, t: u64) -> f64 {
    1.0 - (beta as f64).powf(t as f64)
}

pub struct Adam {
    cfg: MomentConfig,
    t: u64,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    pub fn new(cfg: MomentConfig, n: usize) -> Result<Self> {
        cfg.validate(NAME)?;
        Ok(Self {
            cfg,
            t: 0,
            m: vec![0.0; n],
            v: vec![0.0; n],
        })
    }
}

impl Optimizer for Adam {
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
                let mi = beta1 * m[i] + (1.0 - beta1) * g;
                let vi = beta2 * v[i] + (1.0 - beta2) * g * g;
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
        self.v.fill(0.0);
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

/// `‖m̂‖` and mean `√v̂` (bias-corrected), the figures the UI shows for Adam.
pub fn moment_summary(
    m: &[f32],
    v: &[f32],
    beta1: f32,
    beta2: f32,
    t: u64,
) -> Vec<(String, String)> {
    if t == 0 {
        return vec![("steps".into(), "0".into())];
    }
    let n = v.len().max(1) as f64;
    let m_hat = norm(m) / bias_correction(beta1, t);
    let rms = v.iter().map(|&v| (v as f64).sqrt()).sum::<f64>() / n;
    let rms_hat = rms / bias_correction(beta2, t).sqrt();
    vec![
        ("‖m̂‖".into(), hyper::sci(m_hat)),
        ("mean √v̂".into(), hyper::sci(rms_hat)),
        ("steps".into(), t.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testkit::no_same_batch;

    #[test]
    fn two_steps_follow_kingma_and_ba() {
        // f = x², g = 2x, x0 = 1, lr = 0.1, β1 = 0.9, β2 = 0.999, ε = 1e-8 (Algorithm 1):
        // t=1: g = 2, m = 0.2, v = 0.004, m̂ = 2, v̂ = 4, Δx = −0.1·2/(2 + 1e-8) → x1 = 0.9000000005
        // t=2: g = 1.800000001, m = 0.18 + 0.1800000001 = 0.3600000001,
        //      v = 0.003996 + 0.001·3.240000004 = 0.007236000004,
        //      m̂ = m/0.19 = 1.894736843, v̂ = v/0.001999 = 3.619809907, √v̂ = 1.902579803,
        //      Δx = −0.1·1.894736843/(1.902579803 + 1e-8) = −0.0995877718 → x2 = 0.8004122287
        let mut opt = Adam::new(
            MomentConfig {
                lr: 0.1,
                ..DEFAULTS
            },
            1,
        )
        .unwrap();
        let mut x = [1.0f32];
        for want in [0.9000000005, 0.8004122287] {
            let g = [2.0 * x[0]];
            opt.step(&mut x, &g, &mut no_same_batch()).unwrap();
            assert!(
                (x[0] as f64 - want).abs() < 1e-6,
                "x = {}, want {want}",
                x[0]
            );
        }
    }

    #[test]
    fn first_step_is_lr_times_sign_of_g_whatever_the_scale() {
        // m̂1 = g and v̂1 = g², so Δx1 = −lr·g/(|g| + ε) = −lr·sign(g) to a relative 1e-5 when
        // |g| ≥ 1e-3 = 1e5·ε.
        let mut opt = Adam::new(DEFAULTS, 3).unwrap();
        let mut x = [0.0f32; 3];
        opt.step(&mut x, &[1e6, -1e-3, 5.0], &mut no_same_batch())
            .unwrap();
        for (x, want) in x.iter().zip([-1e-3, 1e-3, -1e-3]) {
            assert!((x - want).abs() < 2e-8, "{x} vs {want}");
        }
    }
}
