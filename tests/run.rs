//! Training runs through the real binary, headless: every preset for a few steps, the record
//! schema, checkpoint + resume continuing the identical trajectory, interruption, bad input.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use lodo_tui::record;

fn lodo_tui() -> Command {
    let mut c = Command::cargo_bin("lodo-tui").unwrap();
    // Run directories of the tests' runs go under target/, not the user's state directory.
    c.arg("--headless").env("NO_COLOR", "1").env(
        "LODO_TUI_RUNS_DIR",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/runs"),
    );
    c
}

fn run_ok(args: &[&str]) -> (String, String) {
    let out = lodo_tui().args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{args:?} failed:\n{stderr}");
    (stdout, stderr)
}

/// (step, loss) of lane 0 in a record.
fn losses(path: &Path) -> Vec<(u64, f32)> {
    let rec = record::read(path).unwrap();
    rec.steps
        .iter()
        .filter(|s| s.lane == 0)
        .map(|s| (s.step, s.loss))
        .collect()
}

#[test]
fn synthetic_presets_run_headless_and_summarize() {
    for preset in ["quadratic", "rosenbrock"] {
        let (stdout, stderr) = run_ok(&["--preset", preset, "--steps", "30"]);
        assert!(stdout.starts_with("finished after"), "{stdout}");
        assert!(stdout.contains("lodo"), "{stdout}");
        assert!(
            stderr.lines().next().unwrap().starts_with(preset),
            "{stderr}"
        );
        assert!(stderr.contains("step 30/30"), "{stderr}");
        assert!(
            !stderr.contains('\x1b'),
            "no ANSI codes when stderr is not a terminal"
        );
    }
}

#[test]
fn mnist_classify_runs_a_few_steps() {
    let (stdout, _) = run_ok(&[
        "--preset",
        "mnist-classify",
        "--steps",
        "3",
        "--batch-size",
        "8",
        "--optimizer",
        "adam",
    ]);
    assert!(stdout.contains("adam"), "{stdout}");
}

#[test]
fn mnist_presets_run_a_few_steps() {
    // The final checkpoint of a LODO run of the CNN is ~150 MB: into a directory that goes away.
    let ck = tempfile::tempdir().unwrap();
    for preset in ["mnist", "mnist-paper"] {
        let (stdout, _) = run_ok(&[
            "--checkpoint-dir",
            ck.path().to_str().unwrap(),
            "--preset",
            preset,
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--eval-interval",
            "1000",
        ]);
        assert!(stdout.contains("lodo"), "{preset}: {stdout}");
    }
}

#[test]
fn the_record_follows_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    run_ok(&[
        "--preset",
        "quadratic",
        "--steps",
        "25",
        "--eval-interval",
        "10",
        "--record",
        path.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = &lines[0];
    assert_eq!(first["type"], "start");
    assert_eq!(first["n_params"], 100);
    assert_eq!(first["preset"], "quadratic");
    assert_eq!(first["task"], "quadratic");
    assert_eq!(first["lanes"][0], "lodo");
    assert!(first["version"].is_string());
    let of = |t: &str| lines.iter().filter(|l| l["type"] == t).count();
    assert_eq!(of("step"), 25);
    assert_eq!(of("eval"), 4, "steps 0, 10, 20 and the final 25");
    assert_eq!(of("summary"), 1);
    let step = lines.iter().find(|l| l["type"] == "step").unwrap();
    for key in [
        "lane",
        "step",
        "t",
        "optimizer",
        "loss",
        "grad_norm",
        "step_norm",
        "hypergrad_norm",
    ] {
        assert!(!step[key].is_null(), "step lines carry {key}: {step}");
    }
    let eval = lines.iter().find(|l| l["type"] == "eval").unwrap();
    assert!(eval["metrics"]["hessian_error"].is_number(), "{eval}");
    assert_eq!(lines.last().unwrap()["type"], "summary");
    // And the reader agrees.
    let rec = record::read(&path).unwrap();
    assert_eq!(rec.steps.len(), 25);
    assert_eq!(rec.summary.unwrap().lanes[0].steps, 25);
}

#[test]
fn resume_continues_the_identical_trajectory() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let ck = p("ck");
    run_ok(&[
        "--preset",
        "quadratic",
        "--steps",
        "40",
        "--record",
        &p("full.jsonl"),
    ]);
    run_ok(&[
        "--preset",
        "quadratic",
        "--steps",
        "20",
        "--record",
        &p("part.jsonl"),
        "--checkpoint-dir",
        &ck,
    ]);
    let (_, stderr) = run_ok(&[
        "--resume",
        &ck,
        "--steps",
        "40",
        "--record",
        &p("part.jsonl"),
    ]);
    assert!(
        stderr.contains("resumed from a checkpoint at step 20"),
        "{stderr}"
    );
    let full = losses(Path::new(&p("full.jsonl")));
    let joined = losses(Path::new(&p("part.jsonl")));
    assert_eq!(full.len(), 40);
    assert_eq!(
        joined, full,
        "20 + resumed 20 steps == 40 steps, bit for bit"
    );
    let rec = record::read(Path::new(&p("part.jsonl"))).unwrap();
    assert_eq!(rec.resumes.len(), 1);
    assert_eq!(rec.resumes[0].resumed_from_step, Some(20));
}

#[test]
fn resume_rejects_changes_to_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    run_ok(&[
        "--preset",
        "rosenbrock",
        "--steps",
        "5",
        "--checkpoint-dir",
        ck.to_str().unwrap(),
    ]);
    let out = lodo_tui()
        .args(["--resume", ck.to_str().unwrap(), "--seed", "3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        "error: --resume continues the checkpointed run with its own configuration; --seed \
         cannot be combined with it"
    );
    let out = lodo_tui()
        .args(["--resume", "Cargo.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        "error: Cargo.toml is not a lodo-tui checkpoint"
    );
}

#[test]
fn a_missing_data_directory_is_reported_up_front() {
    let out = lodo_tui()
        .args([
            "--preset",
            "mnist",
            "--data-dir",
            "/nonexistent/mnist",
            "--steps",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(
            "error: MNIST data directory /nonexistent/mnist (from --data-dir / data_dir) does not \
             exist"
        ),
        "{stderr}"
    );
    let out = lodo_tui()
        .args(["--preset", "quadratic", "--batch-size", "8"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        "error: --batch-size applies to the MNIST tasks; quadratic has no minibatches"
    );
    // Refused the same way, not ignored.
    let out = lodo_tui()
        .args(["--preset", "quadratic", "--data-dir", "assets/mnist"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        "error: --data-dir applies to the MNIST tasks; quadratic reads no data set"
    );
}

#[test]
fn sigterm_writes_a_final_checkpoint_flushes_the_record_and_summarizes() {
    let dir = tempfile::tempdir().unwrap();
    let record_path = dir.path().join("run.jsonl");
    let ck = dir.path().join("ck");
    let bin = assert_cmd::cargo::cargo_bin("lodo-tui");
    let mut child = std::process::Command::new(bin)
        .env(
            "LODO_TUI_RUNS_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/runs"),
        )
        .args([
            "--headless",
            "--preset",
            "quadratic",
            "--steps",
            "100000000",
            "--record",
        ])
        .arg(&record_path)
        .arg("--checkpoint-dir")
        .arg(&ck)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the record shows training under way (flushed within a second).
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&record_path).map_or(true, |t| !t.contains("\"type\":\"step\"")) {
        assert!(Instant::now() < deadline, "no steps recorded");
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!("exited early: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(stderr.contains("checkpoint saved"), "{stderr}");
    assert!(stdout.starts_with("finished after"), "{stdout}");
    let rec = record::read(&record_path).unwrap();
    let summary = rec.summary.expect("summary line");
    let saved: Vec<_> = std::fs::read_dir(&ck).unwrap().collect();
    assert_eq!(saved.len(), 1);
    // The checkpoint is at the last recorded step.
    let last = rec.steps.last().unwrap().step;
    assert_eq!(summary.lanes[0].steps, last);
    let name = saved[0].as_ref().unwrap().file_name();
    let name = name.to_str().unwrap();
    // `quadratic-seed0-RUN-stepN.ckpt`, RUN being six hex digits.
    let run = name
        .strip_prefix("quadratic-seed0-")
        .and_then(|n| n.strip_suffix(&format!("-step{last:08}.ckpt")))
        .unwrap_or_else(|| panic!("{name}"));
    assert!(
        run.len() == 6 && run.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
}

#[test]
fn same_preset_and_seed_give_identical_losses_on_real_data() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let path = dir.path().join(name);
        run_ok(&[
            "--preset",
            "mnist-classify",
            "--steps",
            "6",
            "--batch-size",
            "16",
            "--optimizer",
            "lodo",
            "--record",
            path.to_str().unwrap(),
        ]);
        losses(&path)
    };
    let (a, b) = (run("a.jsonl"), run("b.jsonl"));
    assert_eq!(a.len(), 6);
    assert_eq!(a, b);
}

#[test]
fn optimizers_that_would_not_fit_in_memory_are_refused_with_the_estimate() {
    // The case: 2.3 GB and 30 s for one step before the estimate existed.
    let out = lodo_tui()
        .args(["--preset", "quadratic", "--optimizer", "lodo:depth=100000"])
        .args(["--steps", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("lodo: needs an estimated 2.6 GB of optimizer state for 100 parameters"),
        "{stderr}"
    );
}
