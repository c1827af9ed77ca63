//! `lodo-tui sample` on small hand-made checkpoints: the digits the CNN draws end up in the PNG.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use lodo_tui::cmd::sample::{FRAME_GREY, sample};
use lodo_tui::optim::{OptimizerSpec, OptimizerState};
use lodo_tui::preset::Preset;
use lodo_tui::task::mnist_ar::layout::{DENSE_B, PARAM_COUNT, init_params};
use lodo_tui::task::{TaskSpec, TaskState};
use lodo_tui::train::checkpoint::LaneSnapshot;
use lodo_tui::train::slot::Saved;
use lodo_tui::train::stats::LaneStats;
use lodo_tui::train::{Checkpoint, RunId, RunState};

fn checkpoint(task: &str, params: Vec<f32>, step: u64) -> Checkpoint {
    let spec = OptimizerSpec {
        lr: Some(1e-3),
        ..OptimizerSpec::named("adam")
    };
    let preset = Preset {
        name: "tiny".into(),
        description: "a hand-made checkpoint".into(),
        task: TaskSpec::named(task),
        optimizer: spec.clone(),
        alternatives: vec![],
        seed: 0,
        max_steps: None,
        eval_interval: 100,
        loss_bound: None,
        checkpoint_interval: None,
        pace: None,
    };
    let saved = Saved {
        origin: spec.clone(),
        state: OptimizerState {
            spec,
            step,
            ..OptimizerState::default()
        },
    };
    let lane = LaneSnapshot::new(
        0,
        step,
        RunState::Finished,
        params,
        None,
        &[saved],
        LaneStats::default(),
    )
    .unwrap();
    Checkpoint::new(&preset, step, 0, 1.0, TaskState::default(), vec![lane]).unwrap()
}

/// A network whose every prediction is intensity 200: all weights zero, so the trunk's output is
/// zero and the logits are the dense bias, which puts all the probability on class 200.
fn always_200() -> Vec<f32> {
    let mut params = vec![0.0; PARAM_COUNT];
    params[DENSE_B + 200] = 60.0;
    params
}

fn sample_cmd(ck: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("lodo-tui")
        .unwrap()
        .args(["sample", "--resume"])
        .arg(ck)
        .arg("-o")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn sample_writes_the_digits_the_model_draws() {
    let dir = tempfile::tempdir().unwrap();
    let ck_dir = dir.path().join("ck");
    checkpoint("mnist-ar", always_200(), 7)
        .save(&ck_dir, &RunId::new(), &[])
        .unwrap();
    let out: PathBuf = dir.path().join("digits.png");
    // The directory form: its newest checkpoint.
    let run = sample_cmd(
        &ck_dir,
        &out,
        &[
            "--count",
            "3",
            "--cols",
            "2",
            "--scale",
            "2",
            "--threads",
            "1",
        ],
    );
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(run.status.success(), "{stderr}");
    let stdout = String::from_utf8(run.stdout).unwrap();
    assert!(
        stdout.contains("3 digits sampled (seed 0) from lane 0 (adam, step 7)"),
        "{stdout}"
    );
    assert!(stderr.contains("sampling: 28/28 rows"), "{stderr}");
    // The directory form says which file it read.
    assert!(stderr.contains("resuming "), "{stderr}");
    let png = image::open(&out).unwrap().to_luma8();
    // 2 columns × 2 rows of 28×28 cells with one-pixel frames, scaled by 2.
    assert_eq!(png.dimensions(), (118, 118));
    let at = |x: u32, y: u32| png.get_pixel(x, y).0[0];
    for (left, top, expected) in [(0, 0, 200), (1, 0, 200), (0, 1, 200), (1, 1, FRAME_GREY)] {
        for y in 0..28 {
            for x in 0..28 {
                let (px, py) = (2 * (left * 29 + 1 + x), 2 * (top * 29 + 1 + y));
                assert_eq!(at(px, py), expected, "cell ({left}, {top}) at ({x}, {y})");
                assert_eq!(at(px + 1, py + 1), expected);
            }
        }
    }
    for i in 0..118 {
        assert_eq!(
            (at(i, 0), at(0, i), at(i, 58), at(59, i)),
            (FRAME_GREY, FRAME_GREY, FRAME_GREY, FRAME_GREY)
        );
    }
}

#[test]
fn sample_checks_its_output_before_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let ck_dir = dir.path().join("ck");
    checkpoint("mnist-ar", always_200(), 7)
        .save(&ck_dir, &RunId::new(), &[])
        .unwrap();
    let taken = dir.path().join("taken.png");
    std::fs::create_dir(&taken).unwrap();
    let run = sample_cmd(&ck_dir, &taken, &["--count", "1", "--threads", "1"]);
    assert!(!run.status.success());
    let stderr = String::from_utf8(run.stderr).unwrap();
    // Refused before any sampling progress.
    assert_eq!(
        stderr.trim_end(),
        format!("error: cannot write {}: it is a directory", taken.display())
    );
}

#[test]
fn sample_refuses_what_it_cannot_draw() {
    let dir = tempfile::tempdir().unwrap();
    let quad = checkpoint("quadratic", vec![0.0; 100], 3)
        .save(&dir.path().join("quad"), &RunId::new(), &[])
        .unwrap();
    let out = dir.path().join("x.png");
    let run = sample_cmd(&quad, &out, &[]);
    assert!(!run.status.success());
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(
        stderr.contains("sample needs a checkpoint of the mnist-ar task; this one is of quadratic"),
        "{stderr}"
    );
    let ar = checkpoint("mnist-ar", always_200(), 3)
        .save(&dir.path().join("ar"), &RunId::new(), &[])
        .unwrap();
    let run = sample_cmd(&ar, &out, &["--lane", "1"]);
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(
        stderr.contains("the checkpoint has 1 lane(s); there is no lane 1"),
        "{stderr}"
    );
    let run = sample_cmd(&ar, &dir.path().join("x.jpg"), &[]);
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(
        stderr.contains("the output must be a .png file"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn the_seed_decides_what_a_random_network_draws() {
    let ck = checkpoint("mnist-ar", init_params(0), 0);
    let draw = |seed| {
        sample(&ck, 0, 1, seed, &mut |_| true)
            .unwrap()
            .digits
            .pixels
    };
    let a = draw(0);
    assert_eq!(a.len(), 784);
    assert_eq!(a, draw(0));
    assert_ne!(a, draw(1));
}
