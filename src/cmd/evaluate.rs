//! `lodo-tui evaluate`: the final evaluation of a checkpoint's lanes, including the metrics too
//! costly to repeat during training (mnist-ar: the validation loss over all 784 pixels of the 64
//! held-out images). It reads checkpoints of every format, so a run started before the final
//! evaluation existed can still be measured the authors' way.

use std::path::PathBuf;

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use crate::builders::Builders;
use crate::cli::EvaluateArgs;
use crate::format::cell;
use crate::launch;
use crate::table::markdown;
use crate::task::{EvalContext, Metrics};
use crate::train::Checkpoint;

/// The JSON written by `--json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub checkpoint: PathBuf,
    pub preset: String,
    pub task: String,
    pub seed: u64,
    pub lanes: Vec<LaneEvaluation>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaneEvaluation {
    pub lane: usize,
    pub optimizer: String,
    pub step: u64,
    /// `None` for checkpoints written before gradient evaluations were counted.
    pub grad_evals: Option<u64>,
    #[serde(deserialize_with = "crate::jsonfloat::metrics")]
    pub metrics: Metrics,
}

/// Evaluates the lanes of `checkpoint` (all, or only `lane`) on the task its preset builds.
/// Metrics that need the optimizer's learned preconditioner (the quadratic's Hessian error) are
/// left out: the optimizer is not rebuilt.
pub fn evaluate(
    checkpoint: &Checkpoint,
    path: PathBuf,
    data_dir: Option<&std::path::Path>,
    lane: Option<usize>,
    builders: &Builders,
) -> Result<Evaluation> {
    let mut preset = checkpoint.preset()?;
    launch::use_data_dir(&mut preset, data_dir)?;
    if let Some(l) = lane {
        ensure!(
            l < checkpoint.lanes.len(),
            "{}: no lane {l} (it has {})",
            path.display(),
            checkpoint.lanes.len()
        );
    }
    let mut task = (builders.task)(&preset.task, preset.seed)?;
    let mut lanes = Vec::new();
    for snap in &checkpoint.lanes {
        if lane.is_some_and(|l| l != snap.id) {
            continue;
        }
        ensure!(
            snap.params.len() == task.dim(),
            "{}: lane {} has {} parameters; the task has {}",
            path.display(),
            snap.id,
            snap.params.len(),
            task.dim()
        );
        let what = || format!("evaluating lane {} of {}", snap.id, path.display());
        let mut metrics = task
            .evaluate(&snap.params, &EvalContext::default())
            .with_context(what)?;
        metrics.extend(task.final_evaluation(&snap.params).with_context(what)?);
        let optimizer = snap
            .optimizers()?
            .first()
            .map_or_else(|| "?".into(), |s| s.state.spec.name.clone());
        lanes.push(LaneEvaluation {
            lane: snap.id,
            optimizer,
            step: snap.step,
            grad_evals: snap.grad_evals,
            metrics,
        });
    }
    Ok(Evaluation {
        checkpoint: path,
        preset: preset.name.clone(),
        task: preset.task.name.clone(),
        seed: preset.seed,
        lanes,
    })
}

/// One row per lane, the metrics nats before bits.
pub fn table(e: &Evaluation) -> String {
    let names = crate::table::metric_columns(e.lanes.iter().flat_map(|l| l.metrics.keys()));
    let mut headers: Vec<String> = ["lane", "optimizer", "step", "grad evals"]
        .map(String::from)
        .to_vec();
    headers.extend(names.iter().map(|n| n.to_string()));
    let rows: Vec<Vec<String>> = e
        .lanes
        .iter()
        .map(|l| {
            let mut row = vec![
                l.lane.to_string(),
                l.optimizer.clone(),
                l.step.to_string(),
                l.grad_evals.map_or("unknown".into(), |n| n.to_string()),
            ];
            row.extend(
                names
                    .iter()
                    .map(|n| l.metrics.get(*n).map_or("-".into(), |v| cell(*v))),
            );
            row
        })
        .collect();
    format!(
        "## {} ({}), seed {}: {}\n\n{}",
        e.preset,
        e.task,
        e.seed,
        e.checkpoint.display(),
        markdown(&headers, &rows)
    )
}

/// `lodo-tui evaluate`.
pub fn run(args: &EvaluateArgs) -> Result<()> {
    let checkpoint = Checkpoint::load(&args.resume)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;
    eprintln!("evaluating {} …", args.resume.display());
    let evaluation = pool.install(|| {
        evaluate(
            &checkpoint,
            args.resume.clone(),
            args.data_dir.as_deref(),
            args.lane,
            &Builders::default(),
        )
    })?;
    print!("{}", table(&evaluation));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&evaluation)?;
        crate::output_file::write_private(path, (text + "\n").as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::OptimizerSpec;
    use crate::preset::Preset;
    use crate::task::TaskSpec;
    use crate::testkit;
    use crate::train::{TrainerConfig, spawn};

    #[test]
    fn every_lane_gets_the_periodic_and_the_final_metrics_of_its_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let preset = Preset {
            name: "bowl".into(),
            description: "d".into(),
            task: TaskSpec {
                dim: Some(4),
                ..TaskSpec::named("quadratic")
            },
            optimizer: OptimizerSpec {
                lr: Some(0.1),
                ..OptimizerSpec::named("lbfgs")
            },
            alternatives: vec![],
            seed: 1,
            max_steps: Some(5),
            eval_interval: 5,
            loss_bound: None,
            checkpoint_interval: None,
            pace: None,
        };
        let mut config = TrainerConfig::new(preset);
        config.builders = testkit::builders();
        config.threads = Some(1);
        config.checkpoint_dir = Some(dir.path().to_path_buf());
        spawn(config).unwrap().join().unwrap();
        let ck = Checkpoint::load(dir.path()).unwrap();
        let e = evaluate(&ck, dir.path().into(), None, None, &testkit::builders()).unwrap();
        assert_eq!(e.lanes.len(), 1);
        let lane = &e.lanes[0];
        assert_eq!((lane.optimizer.as_str(), lane.step), ("lbfgs", 5));
        assert_eq!(lane.grad_evals, Some(10));
        // testkit's final metric is the parameter sum.
        let sum: f32 = ck.lanes[0].params.iter().sum();
        assert_eq!(lane.metrics["sum"], f64::from(sum));
        assert!(lane.metrics.contains_key("distance"));
        assert!(
            table(&e).contains("| 0    | lbfgs     | 5    | 10         |"),
            "{}",
            table(&e)
        );
        let err = evaluate(&ck, dir.path().into(), None, Some(3), &testkit::builders());
        assert!(
            err.unwrap_err()
                .to_string()
                .ends_with("no lane 3 (it has 1)")
        );
    }
}
