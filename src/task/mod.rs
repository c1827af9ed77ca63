//! Tasks: a model or function plus its data stream.
//!
//! A task owns its data and model and answers: its dimension, seeded initial parameters, loss and
//! gradient on the current minibatch, evaluation metrics, and task-specific views. Lanes that race
//! each other share one task, so they all see the same minibatch sequence: the trainer calls
//! [`Task::next_batch`] once per step and then [`Task::loss_and_grad`] once per lane (and again for
//! optimizers that need the same minibatch twice).

pub mod face;
pub mod mlp;
pub mod mnist_ar;
pub mod mnist_classify;
pub mod quadratic;
pub mod rng;
pub mod rosenbrock;
pub mod spec;
pub mod view;

use std::collections::BTreeMap;
use std::ops::Range;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::optim::Preconditioner;

pub use face::{Headline, Panel, TaskFace};
pub use spec::TaskSpec;
pub use view::{Digits, Heatmap, TaskView};

/// Named evaluation metrics (`val_loss`, `hessian_error`, `test_accuracy`, …).
pub type Metrics = BTreeMap<String, f64>;

/// The kinds of task, which decide the dashboard's task view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskKind {
    MnistAr,
    MnistClassify,
    Quadratic,
    Rosenbrock,
}

impl TaskKind {
    /// Canonical name as used in presets and records.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::MnistAr => "mnist-ar",
            TaskKind::MnistClassify => "mnist-classify",
            TaskKind::Quadratic => "quadratic",
            TaskKind::Rosenbrock => "rosenbrock",
        }
    }
}

/// A named slice of the flat parameter vector (a weight or bias tensor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    pub name: String,
    pub range: Range<usize>,
}

/// The parameter groups of `layers` for per-layer optimizers (LARS): a layer's weight and bias
/// tensors (`<name>.weight` then `<name>.bias`, adjacent) form one group, as the LODO authors
/// group them; any other tensor is a group of its own. The groups tile what the tensors tile.
pub fn layer_groups(layers: &[Layer]) -> Vec<Range<usize>> {
    let mut groups: Vec<Range<usize>> = Vec::with_capacity(layers.len());
    let mut previous_weight: Option<&str> = None;
    for layer in layers {
        let bias_of = layer.name.strip_suffix(".bias");
        match (groups.last_mut(), bias_of, previous_weight) {
            (Some(group), Some(owner), Some(weight))
                if owner == weight && group.end == layer.range.start =>
            {
                group.end = layer.range.end;
                previous_weight = None;
            }
            _ => {
                groups.push(layer.range.clone());
                previous_weight = layer.name.strip_suffix(".weight");
            }
        }
    }
    groups
}

/// Serializable task state (data-order RNG, moving centre, …) for checkpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskState {
    pub words: Vec<u64>,
    pub buffers: Vec<(String, Vec<f32>)>,
}

/// What a task offers to the evaluation step besides the parameters.
#[derive(Default)]
pub struct EvalContext<'a> {
    /// The current optimizer's learned preconditioner, if it has one.
    pub preconditioner: Option<&'a dyn Preconditioner>,
}

/// A training problem over a flat parameter vector.
pub trait Task {
    fn kind(&self) -> TaskKind;
    /// Human-readable title, e.g. "MNIST autoregressive CNN".
    fn title(&self) -> String;
    /// Number of parameters.
    fn dim(&self) -> usize;
    /// Initial parameters (seeded by the task's seed).
    fn init_params(&self) -> Vec<f32>;
    /// Parameter tensors in order; their ranges tile `0..dim()`.
    fn layers(&self) -> Vec<Layer>;
    /// Advance the data stream: draw the next minibatch (or move the quadratic's centre).
    fn next_batch(&mut self);
    /// Loss and gradient at `params` on the current minibatch; `grad.len() == dim()`.
    fn loss_and_grad(&mut self, params: &[f32], grad: &mut [f32]) -> Result<f32>;
    /// Periodic evaluation (validation loss, accuracy, Hessian error, …).
    fn evaluate(&mut self, params: &[f32], ctx: &EvalContext) -> Result<Metrics>;
    /// Metrics too costly to repeat during training, computed once at the end of a run (and by
    /// `lodo-tui evaluate`): mnist-ar's validation loss over every pixel of the held-out images.
    fn final_evaluation(&mut self, _params: &[f32]) -> Result<Metrics> {
        Ok(Metrics::new())
    }
    /// A view that does not depend on the parameters (e.g. Rosenbrock's heat map), sent once.
    fn static_view(&self) -> Option<TaskView> {
        None
    }
    /// A cheap per-step view of the parameters (e.g. the Rosenbrock point), if any.
    fn point_view(&self, _params: &[f32]) -> Option<[f32; 2]> {
        None
    }
    /// Whether [`Task::generate`] is supported.
    fn can_generate(&self) -> bool {
        false
    }
    /// Sample `count` images from the model, calling `progress` as pixels appear; `progress`
    /// returns `false` to cancel. Tasks that cannot generate return an error.
    fn generate(
        &mut self,
        _params: &[f32],
        _count: usize,
        _seed: u64,
        _progress: &mut dyn FnMut(&Digits) -> bool,
    ) -> Result<Digits> {
        anyhow::bail!("{}: this task cannot generate samples", self.kind().name())
    }
    /// Snapshot of the data stream state; `load_state` continues the identical stream.
    fn state(&self) -> TaskState;
    fn load_state(&mut self, state: &TaskState) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(name: &str, range: Range<usize>) -> Layer {
        Layer {
            name: name.into(),
            range,
        }
    }

    #[test]
    fn weight_and_bias_of_a_layer_form_one_group() {
        let layers = [
            layer("a.weight", 0..6),
            layer("a.bias", 6..8),
            layer("b.weight", 8..10),
            layer("c.bias", 10..11),
            layer("x", 11..13),
            layer("d.weight", 13..14),
            layer("d.bias", 14..15),
        ];
        assert_eq!(
            layer_groups(&layers),
            vec![0..8, 8..10, 10..11, 11..13, 13..15]
        );
    }

    #[test]
    fn mnist_cnn_groups_are_the_authors_layer_splits() {
        // The authors' hyperparameter_setup.py splits their CNN into the stem, three
        // convolutions (weight and bias together) in each of 5 stages × 4 residual blocks, and
        // the dense layer: 1 + 60 + 1 = 62 groups.
        let groups = layer_groups(&mnist_ar::layout::layers());
        assert_eq!(groups.len(), 62);
        assert_eq!(groups[0], 0..120, "stem: 5·20 weights + 20 biases");
        assert_eq!(groups[61].len(), 20 * 256 + 256, "dense");
        assert_eq!(
            groups.last().map(|g| g.end),
            Some(mnist_ar::layout::PARAM_COUNT)
        );
    }
}
