//! `lodo-tui compare` through the real binary on the synthetic presets.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use serde_json::Value;

fn compare(args: &[&str]) -> (String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let out = Command::cargo_bin("lodo-tui")
        .unwrap()
        .arg("compare")
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (String::from_utf8(out.stdout).unwrap(), value)
}

const RUN_FIELDS: [&str; 9] = [
    "optimizer",
    "seed",
    "final_loss",
    "mean_loss_last_10pct",
    "diverged",
    "steps_per_s",
    "task_ms_median",
    "optimizer_ms_median",
    "metrics",
];

#[test]
fn compare_on_quadratic_writes_every_run() {
    let (table, json) = compare(&[
        "--preset",
        "quadratic",
        "--optimizers",
        "lodo,adam,momentum:lr=0.5",
        "--steps",
        "50",
        "--seeds",
        "2",
    ]);
    assert_eq!(json["preset"], "quadratic");
    assert_eq!(json["steps"], 50);
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6);
    for run in runs {
        for field in RUN_FIELDS {
            assert!(run.get(field).is_some(), "run lacks {field}: {run}");
        }
        assert!(run["final_loss"].is_number(), "{run}");
        assert!(run["metrics"]["distance_to_centre"].is_number(), "{run}");
        // The Hessian error needs a learned preconditioner: LODO's runs only.
        let lodo = run["optimizer"] == "lodo";
        assert_eq!(run["metrics"]["hessian_error"].is_number(), lodo, "{run}");
    }
    let labels: Vec<&str> = runs
        .iter()
        .map(|r| r["optimizer"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "lodo",
            "adam",
            "momentum:lr=0.5",
            "lodo",
            "adam",
            "momentum:lr=0.5"
        ]
    );
    assert_eq!(runs[2]["spec"]["lr"].as_f64().unwrap() as f32, 0.5);
    assert_eq!(runs[3]["seed"], 1);
    assert!(
        table.starts_with("## quadratic (quadratic): 50 steps, seeds 0..2"),
        "{table}"
    );
    assert!(table.contains("| optimizer"), "{table}");
    assert!(
        table.contains(" ± "),
        "per-optimizer table over seeds:\n{table}"
    );
}

#[test]
fn compare_on_rosenbrock_with_records() {
    let dir = tempfile::tempdir().unwrap();
    let (_, json) = compare(&[
        "--preset",
        "rosenbrock",
        "--optimizers",
        "lodo,adam",
        "--steps",
        "40",
        "--record-dir",
        dir.path().to_str().unwrap(),
    ]);
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for run in runs {
        assert_eq!(run["steps"], 40);
        let record =
            lodo_tui::record::read(std::path::Path::new(run["record"].as_str().unwrap())).unwrap();
        assert_eq!(record.steps.len(), 40);
    }
    // Same seed: both start at the same point, so the first loss is the same.
    let first = |i: usize| {
        let path = runs[i]["record"].as_str().unwrap();
        lodo_tui::record::read(std::path::Path::new(path))
            .unwrap()
            .steps[0]
            .loss
    };
    assert_eq!(first(0), first(1));
}
