//! `OptimizerSpec`: how presets, the CLI and records name an optimizer and its hyperparameters.
//!
//! One flat struct (rather than an enum per optimizer) so RON presets read
//! `(name: "lodo", lr: 0.085, meta_lr: 8e-6)` with the canonical kebab-case names, and so a
//! misspelled field is reported by RON with its line and column. Which fields apply to which
//! optimizer is checked when the optimizer is built.

use std::fmt;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::fields;
pub use super::registry::{NAMES, build, check_name};

/// An optimizer name plus the hyperparameters the user set; unset ones take the documented
/// defaults of that optimizer's config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    /// One of [`NAMES`].
    pub name: String,
    /// Learning rate; for the LODO family the initial step scale α0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,
    /// Meta learning rate of the LODO family (the learning rate of the optimizer on θ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_lr: Option<f32>,
    /// Momentum coefficient (momentum, nesterov, lars, the LODO family's β).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f32>,
    /// First-moment decay (adam, yogi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta1: Option<f32>,
    /// Second-moment decay (adam, yogi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta2: Option<f32>,
    /// Squared-gradient decay (rmsprop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho: Option<f32>,
    /// Numerical-stability epsilon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eps: Option<f32>,
    /// L2 weight decay added to the gradient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f32>,
    /// LARS trust coefficient η.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<f32>,
    /// Number of layers of the LODO preconditioner network (N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<usize>,
    /// Block size of the LODO preconditioner network (k).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_size: Option<usize>,
    /// History length of L-BFGS / O-LBFGS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<usize>,
    /// O-LBFGS curvature regularizer λ (y ← y + λ·s); Levenberg–Marquardt damping λ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f32>,
    /// L-BFGS / O-LBFGS gain decay time τ (the gain is lr·τ/(τ + t) at step t).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<f32>,
    /// Seed for the optimizer's own randomness (LODO permutations and init); defaults to the
    /// run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl OptimizerSpec {
    /// A spec with only the name set: all hyperparameters at their defaults.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ..Self::default()
        }
    }

    /// The names of the fields that are set (besides `name`), in declaration order.
    pub fn set_fields(&self) -> Vec<&'static str> {
        fields::set(self).map(|(field, _)| field.key).collect()
    }

    /// Fails with a named error when a field is set that this optimizer does not use, e.g.
    /// "adam: field `depth` does not apply (adam takes: lr, beta1, beta2, eps, weight_decay)".
    pub fn ensure_only(&self, allowed: &[&str]) -> Result<()> {
        for field in self.set_fields() {
            if !allowed.contains(&field) {
                bail!(
                    "{}: field `{field}` does not apply ({} takes: {})",
                    self.name,
                    self.name,
                    allowed.join(", ")
                );
            }
        }
        Ok(())
    }
}

impl fmt::Display for OptimizerSpec {
    /// `lodo(lr=0.085, meta_lr=8e-6)`; just the name when nothing is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Through text rather than `to_value`, which widens f32 to f64 (0.2 → 0.20000000298…).
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|_| fmt::Error)?;
        // In declaration order (lr first), not the map's alphabetical order.
        let fields: Vec<String> = self
            .set_fields()
            .into_iter()
            .filter_map(|k| json.get(k).map(|v| format!("{k}={v}")))
            .collect();
        if fields.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}({})", self.name, fields.join(", "))
        }
    }
}
