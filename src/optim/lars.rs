//! LARS, layer-wise adaptive rate scaling (You, Gitman & Ginsburg, "Large Batch Training of
//! Convolutional Networks", 2017, Algorithm 1). Each layer `l` (a weight or bias tensor, from
//! [`BuildContext::layers`]) gets its own local learning rate from the trust ratio
//!
//! ```text
//! λˡ = η·‖wˡ‖ / (‖∇ˡ‖ + wd·‖wˡ‖)
//! vˡ ← β·vˡ + lr·λˡ·(∇ˡ + wd·wˡ)
//! Δwˡ = −vˡ
//! ```
//!
//! with the local rate inside the momentum, as in the paper. When `‖wˡ‖` or `‖∇ˡ‖` is zero (a
//! zero-initialized bias, a layer without gradient) the ratio is 1, as in TensorFlow's and
//! NVIDIA Apex's LARS, so such a layer takes a plain momentum-SGD step at rate lr.

use std::ops::Range;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::kernels::{StepSums, check_dims, fused_sums, norm};
use super::snapshot::{buffer, check_owner};
use super::{BuildContext, Optimizer, OptimizerSpec, OptimizerState, SameBatch, StepStats, hyper};

pub const NAME: &str = "lars";

/// LARS hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LarsConfig {
    /// Global learning rate γ; default 1 — with η = 1e-3 a layer then moves about 0.1% of its
    /// norm per step before momentum (the paper schedules γ per task).
    pub lr: f32,
    /// Momentum β; default 0.9 (the paper's).
    pub beta: f32,
    /// Trust coefficient η; default 1e-3 (the paper's).
    pub trust: f32,
    /// L2 weight decay, inside both the ratio and the update; default 0 (the paper used 5e-4).
    pub weight_decay: f32,
}

impl Default for LarsConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            beta: 0.9,
            trust: 1e-3,
            weight_decay: 0.0,
        }
    }
}

impl LarsConfig {
    pub const FIELDS: &[&str] = &["lr", "beta", "trust", "weight_decay"];

    pub fn from_spec(spec: &OptimizerSpec) -> Result<Self> {
        spec.ensure_only(Self::FIELDS)?;
        let d = Self::default();
        let cfg = Self {
            lr: spec.lr.unwrap_or(d.lr),
            beta: spec.beta.unwrap_or(d.beta),
            trust: spec.trust.unwrap_or(d.trust),
            weight_decay: spec.weight_decay.unwrap_or(d.weight_decay),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        hyper::lr(NAME, self.lr)?;
        hyper::unit(NAME, "beta", self.beta)?;
        hyper::positive(NAME, "trust", self.trust)?;
        hyper::weight_decay(NAME, self.weight_decay)
    }

    pub fn to_spec(&self) -> OptimizerSpec {
        OptimizerSpec {
            lr: Some(self.lr),
            beta: Some(self.beta),
            trust: Some(self.trust),
            weight_decay: Some(self.weight_decay),
            ..OptimizerSpec::named(NAME)
        }
    }
}

/// Fails unless `layers` are non-empty ranges that tile `0..n` in order.
pub fn validate_layers(layers: &[Range<usize>], n: usize) -> Result<()> {
    let Some(last) = layers.last() else {
        bail!("{NAME}: needs the layer boundaries of the parameter vector, but none were given");
    };
    let mut expected_start = 0;
    for (i, r) in layers.iter().enumerate() {
        if r.start != expected_start {
            bail!(
                "{NAME}: layers must tile the parameter vector in order; layer {i} starts at {} \
                 but should start at {expected_start}",
                r.start
            );
        }
        if r.start >= r.end {
            bail!("{NAME}: layer {i} is empty ({}..{})", r.start, r.end);
        }
        expected_start = r.end;
    }
    if last.end != n {
        bail!(
            "{NAME}: layers cover 0..{} but there are {n} parameters",
            last.end
        );
    }
    Ok(())
}

pub struct Lars {
    cfg: LarsConfig,
    layers: Vec<Range<usize>>,
    t: u64,
    v: Vec<f32>,
    /// Each layer's trust ratio at the last step (1 before the first).
    ratios: Vec<f32>,
}

impl Lars {
    pub fn new(cfg: LarsConfig, ctx: &BuildContext) -> Result<Self> {
        cfg.validate()?;
        validate_layers(ctx.layers, ctx.n)?;
        Ok(Self {
            cfg,
            layers: ctx.layers.to_vec(),
            t: 0,
            v: vec![0.0; ctx.n],
            ratios: vec![1.0; ctx.layers.len()],
        })
    }

    /// The trust ratio λˡ each layer used at the last step.
    pub fn trust_ratios(&self) -> &[f32] {
        &self.ratios
    }
}

impl Optimizer for Lars {
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
        check_dims(NAME, self.v.len(), params, grad)?;
        let LarsConfig {
            lr,
            beta,
            trust,
            weight_decay: wd,
        } = self.cfg;
        self.t += 1;
        let mut sums = StepSums::default();
        for (layer, ratio) in self.layers.iter().zip(&mut self.ratios) {
            let (x, g) = (&mut params[layer.clone()], &grad[layer.clone()]);
            let (wn, gn) = (norm(x), norm(g));
            let r = if wn > 0.0 && gn > 0.0 {
                trust as f64 * wn / (gn + wd as f64 * wn)
            } else {
                1.0
            };
            *ratio = r as f32;
            let local = (lr as f64 * r) as f32;
            let v = &mut self.v[layer.clone()];
            sums.merge(fused_sums(x, g, |sub, x, g, dx| {
                let v = &mut v[sub];
                for i in 0..x.len() {
                    let vi = beta * v[i] + local * (g[i] + wd * x[i]);
                    v[i] = vi;
                    dx[i] = -vi;
                    x[i] -= vi;
                }
            }));
        }
        Ok(sums.stats())
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
        self.v.fill(0.0);
        self.ratios.fill(1.0);
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            spec: self.spec(),
            step: self.t,
            scalars: Vec::new(),
            buffers: vec![
                ("v".into(), self.v.clone()),
                ("trust_ratios".into(), self.ratios.clone()),
            ],
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        check_owner(state, NAME)?;
        let cfg = LarsConfig::from_spec(&state.spec)?;
        let v = buffer(state, "v", self.v.len())?;
        let ratios = buffer(state, "trust_ratios", self.ratios.len())?;
        (self.cfg, self.t, self.v, self.ratios) = (cfg, state.step, v, ratios);
        Ok(())
    }

    fn summary(&self) -> Vec<(String, String)> {
        let lo = self.ratios.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = self
            .ratios
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        vec![
            (
                "trust ratio".into(),
                format!("{} … {}", hyper::sci(lo as f64), hyper::sci(hi as f64)),
            ),
            ("‖v‖".into(), hyper::sci(norm(&self.v))),
            ("layers".into(), self.layers.len().to_string()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testkit::no_same_batch;

    fn ctx(layers: &[Range<usize>], n: usize) -> BuildContext<'_> {
        BuildContext { n, layers, seed: 0 }
    }

    #[test]
    fn trust_ratio_per_layer_and_two_momentum_steps() {
        // Layer 0 = x[0..2] = (3, 4), ‖w‖ = 5, g = (0.6, 0.8), ‖g‖ = 1 → λ = 1e-3·5/1 = 5e-3.
        // Layer 1 = x[2..5] = (1, 0, 0), ‖w‖ = 1, g = (0, 0, 2), ‖g‖ = 2 → λ = 1e-3·1/2 = 5e-4.
        // Layer 2 = x[5..6] = (0): ‖w‖ = 0 → λ = 1 (plain step), g = (1) → x = −lr·1 = −1.
        // lr = 1, β = 0.9, wd = 0. Step 1: v = λ·g:
        //   layer 0: v = (3e-3, 4e-3) → w = (2.997, 3.996); layer 1: w = (1, 0, −1e-3).
        // Step 2 (same g): ‖w0‖ = 4.995 → λ = 4.995e-3, v = 0.9·(3e-3, 4e-3) + 4.995e-3·(0.6, 0.8)
        //   = (5.697e-3, 7.596e-3) → w = (2.991303, 3.988404).
        let layers = [0..2, 2..5, 5..6];
        let mut opt = Lars::new(LarsConfig::default(), &ctx(&layers, 6)).unwrap();
        let mut x = [3.0f32, 4.0, 1.0, 0.0, 0.0, 0.0];
        let g = [0.6f32, 0.8, 0.0, 0.0, 2.0, 1.0];
        opt.step(&mut x, &g, &mut no_same_batch()).unwrap();
        let want_ratio = [5e-3, 5e-4, 1.0];
        for (r, w) in opt.trust_ratios().iter().zip(want_ratio) {
            assert!(
                (r - w).abs() < 1e-7 * w.max(1.0),
                "{:?}",
                opt.trust_ratios()
            );
        }
        let want = [2.997, 3.996, 1.0, 0.0, -1e-3, -1.0];
        for (a, b) in x.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{x:?}");
        }
        opt.step(&mut x, &g, &mut no_same_batch()).unwrap();
        assert!((opt.trust_ratios()[0] - 4.995e-3).abs() < 1e-8);
        assert!(
            (x[0] - 2.991303).abs() < 1e-6 && (x[1] - 3.988404).abs() < 1e-6,
            "{x:?}"
        );
    }

    #[test]
    fn weight_decay_enters_ratio_and_update() {
        // ‖w‖ = 5, ‖g‖ = 1, wd = 0.1: λ = 1e-3·5/(1 + 0.5) = 3.3333e-3;
        // g + wd·w = (0.9, 1.2), v = λ·(0.9, 1.2) = (3e-3, 4e-3) → w = (2.997, 3.996).
        let cfg = LarsConfig {
            weight_decay: 0.1,
            ..LarsConfig::default()
        };
        let layer = 0..2;
        let mut opt = Lars::new(cfg, &ctx(std::slice::from_ref(&layer), 2)).unwrap();
        let mut x = [3.0f32, 4.0];
        opt.step(&mut x, &[0.6, 0.8], &mut no_same_batch()).unwrap();
        assert!((opt.trust_ratios()[0] - 1e-3 * 5.0 / 1.5).abs() < 1e-8);
        assert!((x[0] - 2.997).abs() < 1e-6 && (x[1] - 3.996).abs() < 1e-6);
    }

    #[test]
    fn layer_boundaries_are_validated_with_named_errors() {
        let err = |layers: &[Range<usize>], n| {
            Lars::new(LarsConfig::default(), &ctx(layers, n))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            err(&[], 4),
            "lars: needs the layer boundaries of the parameter vector, but none were given"
        );
        assert_eq!(
            err(std::slice::from_ref(&(1..4)), 4),
            "lars: layers must tile the parameter vector in order; layer 0 starts at 1 but \
             should start at 0"
        );
        assert_eq!(
            err(&[0..2, 3..4], 4),
            "lars: layers must tile the parameter vector in order; layer 1 starts at 3 but \
             should start at 2"
        );
        assert_eq!(err(&[0..2, 2..2, 2..4], 4), "lars: layer 1 is empty (2..2)");
        assert_eq!(
            err(&[0..2, 2..3], 4),
            "lars: layers cover 0..3 but there are 4 parameters"
        );
        assert_eq!(err(&[0..2, 2..4], 4), "");
    }
}
