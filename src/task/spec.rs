//! `TaskSpec`: how presets name a task and its settings.
//!
//! A flat struct for the same reason as `OptimizerSpec`: canonical kebab-case names in RON and
//! precise errors for misspelled fields. Which fields apply to which task is checked at build.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::Task;
use super::mnist_ar::{self, MnistAr};
use super::mnist_classify::{self, MnistClassify};
use super::quadratic::{self, Quadratic};
use super::rosenbrock::{self, Rosenbrock};
use crate::data::mnist::{self, Mnist};

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
    /// Draw every minibatch's images uniformly with replacement, as the authors' sampler does,
    /// instead of epochs of a shuffle (mnist-ar; default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_replacement: Option<bool>,
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
        add(self.with_replacement.is_some(), "with_replacement");
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
    match spec.name.as_str() {
        "quadratic" => {
            spec.ensure_only(&["dim", "eigenvalues", "noise"])?;
            Ok(Box::new(Quadratic::new(
                spec.dim.unwrap_or(quadratic::DEFAULT_DIM),
                spec.eigenvalues.unwrap_or(quadratic::DEFAULT_EIGENVALUES),
                spec.noise.unwrap_or(quadratic::DEFAULT_NOISE),
                seed,
            )?))
        }
        "rosenbrock" => {
            spec.ensure_only(&["start"])?;
            Ok(Box::new(Rosenbrock::new(
                spec.start.unwrap_or(rosenbrock::DEFAULT_START),
            )?))
        }
        "mnist-classify" => {
            check_without_data(spec)?;
            let data = load_mnist(spec)?;
            Ok(Box::new(MnistClassify::new(
                data,
                spec.batch_size
                    .unwrap_or(mnist_classify::DEFAULT_BATCH_SIZE),
                spec.hidden.unwrap_or(mnist_classify::DEFAULT_HIDDEN),
                seed,
            )?))
        }
        "mnist-ar" => {
            check_without_data(spec)?;
            let data = load_mnist(spec)?;
            let task = MnistAr::new(
                data.train_images,
                spec.batch_size.unwrap_or(mnist_ar::DEFAULT_BATCH_SIZE),
                spec.val_queries.unwrap_or(mnist_ar::DEFAULT_VAL_QUERIES),
                seed,
            )?;
            Ok(Box::new(if spec.with_replacement == Some(true) {
                task.drawing_with_replacement()?
            } else {
                task
            }))
        }
        name => bail!("{name}: not available in this build"),
    }
}

/// What can be checked of an MNIST task's spec before its data load: which fields apply and
/// their ranges. Synthetic tasks are checked by building them.
pub fn check_without_data(spec: &TaskSpec) -> Result<()> {
    match spec.name.as_str() {
        "mnist-classify" => {
            spec.ensure_only(&["batch_size", "data_dir", "hidden"])?;
            mnist_classify::check_sizes(
                spec.batch_size
                    .unwrap_or(mnist_classify::DEFAULT_BATCH_SIZE),
                spec.hidden.unwrap_or(mnist_classify::DEFAULT_HIDDEN),
            )
        }
        "mnist-ar" => {
            spec.ensure_only(&["batch_size", "data_dir", "val_queries", "with_replacement"])?;
            mnist_ar::check_sizes(
                spec.batch_size.unwrap_or(mnist_ar::DEFAULT_BATCH_SIZE),
                spec.val_queries.unwrap_or(mnist_ar::DEFAULT_VAL_QUERIES),
            )
        }
        _ => Ok(()),
    }
}

/// MNIST from the spec's `data_dir` or the default places (see [`mnist::resolve_dir`]).
pub fn load_mnist(spec: &TaskSpec) -> Result<Mnist> {
    let dir = mnist::resolve_dir(spec.data_dir.as_deref())
        .with_context(|| format!("{}: cannot find the MNIST data", spec.name))?;
    mnist::load(&dir).with_context(|| {
        format!(
            "{}: cannot load the MNIST data from {}",
            spec.name,
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskKind;

    /// Compile-time: the tasks own no tape between calls, so the trainer may build them on one
    /// thread and move them to another.
    #[test]
    fn tasks_are_send() {
        fn is_send<T: Send>() {}
        is_send::<Quadratic>();
        is_send::<Rosenbrock>();
        is_send::<MnistClassify>();
    }

    #[test]
    fn builds_each_task_with_its_defaults() {
        let q = build(&TaskSpec::named("quadratic"), 0).unwrap();
        assert_eq!((q.kind(), q.dim()), (TaskKind::Quadratic, 100));
        let r = build(&TaskSpec::named("rosenbrock"), 0).unwrap();
        assert_eq!(
            (r.kind(), r.init_params()),
            (TaskKind::Rosenbrock, vec![-0.5, 2.0])
        );
        let spec = TaskSpec {
            hidden: Some(16),
            batch_size: Some(32),
            ..TaskSpec::named("mnist-classify")
        };
        let m = build(&spec, 0).unwrap();
        assert_eq!(
            (m.kind(), m.dim()),
            (TaskKind::MnistClassify, 784 * 16 + 16 + 170)
        );
    }

    #[test]
    fn settings_reach_the_task_and_misplaced_ones_are_named() {
        let spec = TaskSpec {
            dim: Some(7),
            noise: Some(0.0),
            ..TaskSpec::named("quadratic")
        };
        let q = build(&spec, 0).unwrap();
        assert_eq!(q.dim(), 7);
        assert!(q.title().contains("fixed centre"), "{}", q.title());
        let spec = TaskSpec {
            start: Some((0.0, 0.0)),
            ..TaskSpec::named("quadratic")
        };
        let err = build(&spec, 0).err().unwrap().to_string();
        assert_eq!(
            err,
            "quadratic: field `start` does not apply (quadratic takes: dim, eigenvalues, noise)"
        );
        let spec = TaskSpec {
            data_dir: Some("/nonexistent/mnist".into()),
            ..TaskSpec::named("mnist-classify")
        };
        let err = format!("{:#}", build(&spec, 0).err().unwrap());
        assert!(
            err.starts_with("mnist-classify: cannot find the MNIST data: "),
            "{err}"
        );
        assert!(err.contains("/nonexistent/mnist (from --data-dir / data_dir) does not exist"));
        let err = build(&TaskSpec::named("mnist"), 0)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("unknown task `mnist`; valid tasks: "),
            "{err}"
        );
    }
}
