//! `TaskSpec`: how presets name a task and its settings.
//!
//! A flat struct for the same reason as `OptimizerSpec`: canonical kebab-case names in RON and
//! precise errors for misspelled fields. Which fields apply to which task is checked at build.

use std::path::PathBuf;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::Task;

/// Canonical task names.
pub const NAMES: &[&str] = &["mnist-ar", "mnist-classify", "quadratic", "rosenbrock"];

/// A task name plus its settings; unset ones take the task's documented defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// One of [`NAMES`].
    pub name: String,
    /// Minibatch size (MNIST tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Directory holding the four standard MNIST files (gzipped or raw IDX).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Dimension (quadratic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    /// Smallest and largest Hessian eigenvalue (quadratic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eigenvalues: Option<(f32, f32)>,
    /// Standard deviation of the centre's random-walk step per minibatch (quadratic; 0 = fixed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f32>,
    /// Starting point (rosenbrock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<(f32, f32)>,
    /// Number of validation (image, pixel) queries (mnist-ar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_queries: Option<usize>,
    /// Hidden layer width (mnist-classify).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<usize>,
}

impl TaskSpec {
    pub fn named(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ..Self::default()
        }
    }

    /// The names of the fields that are set (besides `name`).
    pub fn set_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut add = |set: bool, field: &'static str| {
            if set {
                out.push(field);
            }
        };
        add(self.batch_size.is_some(), "batch_size");
        add(self.data_dir.is_some(), "data_dir");
        add(self.dim.is_some(), "dim");
        add(self.eigenvalues.is_some(), "eigenvalues");
        add(self.noise.is_some(), "noise");
        add(self.start.is_some(), "start");
        add(self.val_queries.is_some(), "val_queries");
        add(self.hidden.is_some(), "hidden");
        out
    }

    /// Fails with a named error when a field is set that this task does not use.
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

/// Fails unless `name` is a canonical task name, listing the valid ones.
pub fn check_name(name: &str) -> Result<()> {
    if NAMES.contains(&name) {
        Ok(())
    } else {
        bail!("unknown task `{name}`; valid tasks: {}", NAMES.join(", "))
    }
}

/// Builds the task a spec names with the run's seed (initial parameters, data order, rotation).
pub fn build(spec: &TaskSpec, seed: u64) -> Result<Box<dyn Task>> {
    check_name(&spec.name)?;
    let _ = seed;
    bail!("{}: not available in this build", spec.name)
}
