//! What the dashboard shows of each task: which panel, which evaluation metrics tell how a run is
//! doing, whether the model can draw samples. Defined here once per task kind, sent with the
//! `Started` message, and read by the dashboard, which knows no task by name.

use serde::{Deserialize, Serialize};

use super::TaskKind;

/// The dashboard's view of a task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskFace {
    pub panel: Panel,
    /// The evaluation metrics that say how a lane is doing, preferred first: the panel shows the
    /// first one the lanes report (the first of all before any evaluation).
    pub headline: Vec<Headline>,
    /// Whether `Command::Generate` draws samples from the model.
    pub generates: bool,
    /// Whether the validation loss during training is measured on a fixed subset of the
    /// validation set (the loss chart's legend says so).
    #[serde(default)]
    pub val_subset: bool,
}

/// What the task panel draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Panel {
    /// The headline metric per lane over steps.
    Chart,
    /// The loss landscape with each lane's trajectory (2-D tasks).
    Heatmap,
    /// Generated samples above the headline metric.
    Digits,
}

/// An evaluation metric as the dashboard labels it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    /// Its key in the evaluation metrics.
    pub metric: String,
    pub title: String,
    /// The title in plain ASCII, for terminals without Unicode.
    pub ascii_title: String,
    /// Shown as `value × factor` followed by `unit` (100 and "%" for a fraction).
    pub factor: f64,
    pub unit: String,
}

impl Headline {
    fn new(metric: &str, title: &str, ascii_title: &str, factor: f64, unit: &str) -> Self {
        Self {
            metric: metric.into(),
            title: title.into(),
            ascii_title: ascii_title.into(),
            factor,
            unit: unit.into(),
        }
    }

    pub fn title(&self, ascii: bool) -> &str {
        if ascii {
            &self.ascii_title
        } else {
            &self.title
        }
    }
}

impl TaskFace {
    /// The headline to show when the lanes report the metrics `reported` says they do.
    pub fn headline(&self, reported: impl Fn(&str) -> bool) -> Option<&Headline> {
        self.headline
            .iter()
            .find(|h| reported(&h.metric))
            .or(self.headline.first())
    }
}

const BITS: &str = "Validation bits per pixel";

impl TaskKind {
    /// How the dashboard shows this kind of task (also what a record's start line, which does
    /// not store it, is shown with).
    pub fn face(self) -> TaskFace {
        match self {
            TaskKind::Quadratic => TaskFace {
                panel: Panel::Chart,
                // The Hessian error needs a learned preconditioner; without one (Adam, SGD, …)
                // the distance to the moving optimum is the task's own measure of progress.
                headline: vec![
                    Headline::new(
                        "hessian_error",
                        "Hessian error ‖I−GH‖_F/√n",
                        "Hessian error |I-GH|_F/sqrt(n)",
                        1.0,
                        "",
                    ),
                    Headline::new(
                        "distance_to_centre",
                        "Distance to the centre ‖x−c‖",
                        "Distance to the centre |x-c|",
                        1.0,
                        "",
                    ),
                ],
                generates: false,
                val_subset: false,
            },
            TaskKind::MnistClassify => TaskFace {
                panel: Panel::Chart,
                headline: ["test_accuracy", "val_accuracy"]
                    .map(|m| Headline::new(m, "Accuracy", "Accuracy", 100.0, "%"))
                    .into(),
                generates: false,
                val_subset: false,
            },
            TaskKind::Rosenbrock => TaskFace {
                panel: Panel::Heatmap,
                headline: vec![Headline::new(
                    "distance_to_minimum",
                    "Distance to the minimum",
                    "Distance to the minimum",
                    1.0,
                    "",
                )],
                generates: false,
                val_subset: false,
            },
            TaskKind::MnistAr => TaskFace {
                panel: Panel::Digits,
                // Bits per pixel; from the loss in nats when the task reports only that.
                headline: vec![
                    Headline::new("val_bits_per_pixel", BITS, BITS, 1.0, "bits/px"),
                    Headline::new("val_loss", BITS, BITS, std::f64::consts::LOG2_E, "bits/px"),
                ],
                generates: true,
                val_subset: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headline_is_the_first_metric_reported() {
        let face = TaskKind::Quadratic.face();
        let pick = |reported: &[&str]| {
            face.headline(|m| reported.contains(&m))
                .map(|h| h.metric.as_str())
        };
        assert_eq!(pick(&[]), Some("hessian_error"));
        assert_eq!(pick(&["distance_to_centre"]), Some("distance_to_centre"));
        assert_eq!(
            pick(&["distance_to_centre", "hessian_error"]),
            Some("hessian_error")
        );
        let empty = TaskFace {
            headline: vec![],
            ..face.clone()
        };
        assert_eq!(empty.headline(|_| true), None);
    }

    #[test]
    fn only_the_autoregressive_task_generates() {
        for kind in [
            TaskKind::MnistAr,
            TaskKind::MnistClassify,
            TaskKind::Quadratic,
            TaskKind::Rosenbrock,
        ] {
            let face = kind.face();
            assert_eq!(face.generates, kind == TaskKind::MnistAr, "{kind:?}");
            assert!(!face.headline.is_empty(), "{kind:?}");
        }
    }
}
