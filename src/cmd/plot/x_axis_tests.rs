//! The x axis of curve plots: steps, gradient evaluations and wall time, on records of the test
//! optimizers (`testkit`: `sgd` evaluates one gradient a step, `lbfgs` two), and the refusal of
//! records written before gradient evaluations were counted.

use std::path::{Path, PathBuf};

use super::series::{self, Input, Quantity, XAxis};
use super::{Options, plot, read_inputs};
use crate::cli::CompareArgs;
use crate::cmd::compare::{self, Interrupt};
use crate::testkit;

const BOWL: &str = r#"(
    name: "bowl",
    description: "test bowl",
    task: (name: "quadratic", dim: 5),
    optimizer: (name: "sgd", lr: 0.1),
    eval_interval: 5,
)"#;

/// Records of 20 steps of `sgd` then `lbfgs`.
fn records(dir: &Path) -> Vec<PathBuf> {
    let preset = dir.join("bowl.ron");
    std::fs::write(&preset, BOWL).unwrap();
    let args = CompareArgs {
        preset: preset.display().to_string(),
        optimizers: vec!["sgd:lr=0.1,lbfgs:lr=0.1".into()],
        steps: Some(20),
        grad_evals: None,
        seeds: 1,
        batch_size: None,
        json: None,
        plot: None,
        record_dir: Some(dir.join("records")),
        checkpoint_dir: None,
        data_dir: None,
        eval_interval: None,
        threads: Some(1),
        force: false,
    };
    let report = compare::compare(&args, testkit::builders(), &Interrupt::default()).unwrap();
    report
        .runs
        .iter()
        .map(|r| r.record.clone().unwrap())
        .collect()
}

fn xs(inputs: &[Input], quantity: &Quantity, x: XAxis) -> Vec<Vec<f64>> {
    series::collect(inputs, quantity, x, false)
        .unwrap()
        .iter()
        .map(|s| s.points.iter().map(|p| p.0).collect())
        .collect()
}

#[test]
fn each_axis_places_the_points_where_the_record_says() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = read_inputs(&records(dir.path())).unwrap();
    let steps: Vec<f64> = (1..=20).map(f64::from).collect();
    assert_eq!(
        xs(&inputs, &Quantity::Loss, XAxis::Steps),
        [steps.clone(), steps.clone()]
    );
    let doubled: Vec<f64> = steps.iter().map(|s| 2.0 * s).collect();
    assert_eq!(
        xs(&inputs, &Quantity::Loss, XAxis::GradEvals),
        [steps, doubled]
    );
    let times = &xs(&inputs, &Quantity::Loss, XAxis::Time)[1];
    let recorded: Vec<f64> = inputs[1].record.steps.iter().map(|s| s.t).collect();
    assert_eq!(*times, recorded);
    // Evaluations (steps 0, 5, …, 20) go where their step's count puts them; step 0 at 0.
    let metric = Quantity::Metric("distance".into());
    assert_eq!(
        xs(&inputs, &metric, XAxis::GradEvals),
        [
            vec![0.0, 5.0, 10.0, 15.0, 20.0],
            vec![0.0, 10.0, 20.0, 30.0, 40.0]
        ]
    );
    // The axis label says which.
    for (x, label) in [
        (XAxis::Steps, "step"),
        (XAxis::GradEvals, "gradient evaluations"),
        (XAxis::Time, "wall time (s)"),
    ] {
        assert_eq!(x.axis_label(), label);
        let mut options = Options::curves(&dir.path().join(format!("{label}.png")));
        options.x = x;
        assert_eq!(plot(&inputs, &options).unwrap().series, 2);
    }
}

#[test]
fn a_record_without_counts_is_refused_on_the_grad_evals_axis_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = records(dir.path()).remove(1);
    // What a record written before the count looks like: step lines without `grad_evals`.
    let text = std::fs::read_to_string(&path).unwrap();
    let old: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("grad_evals");
            v.to_string()
        })
        .collect();
    std::fs::write(&path, old.join("\n") + "\n").unwrap();
    let inputs = read_inputs(std::slice::from_ref(&path)).unwrap();
    assert_eq!(inputs[0].record.steps[0].grad_evals, None);
    let e = series::collect(&inputs, &Quantity::Loss, XAxis::GradEvals, false).unwrap_err();
    let e = e.to_string();
    assert!(
        e.starts_with(&format!(
            "{}: lane 0 has step lines without grad_evals",
            path.display()
        )),
        "{e}"
    );
    assert!(e.ends_with("use --x steps (the same axis for optimizers that evaluate one gradient a step) or --x time"), "{e}");
    assert_eq!(xs(&inputs, &Quantity::Loss, XAxis::Steps)[0].len(), 20);
}
