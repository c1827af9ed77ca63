//! Plots of small real records (the real quadratic and Rosenbrock tasks and optimizers, run by
//! `compare`): the files are PNGs of the requested size, the legends and series are what the
//! records hold, and bad input fails with messages that name the file and line.

use std::path::{Path, PathBuf};

use super::*;
use crate::builders::Builders;
use crate::cli::CompareArgs;
use crate::cmd::compare::{self, Interrupt};

/// Width and height from a PNG's IHDR chunk, after checking the signature and the final IEND.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "not a PNG: {}",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    assert_eq!(
        &bytes[bytes.len() - 8..bytes.len() - 4],
        b"IEND",
        "truncated PNG"
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

/// Runs `optimizers` × `seeds` on a preset and returns the record files in run order.
fn records(dir: &Path, preset: &str, optimizers: &str, seeds: u64, steps: u64) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("p.ron");
    std::fs::write(&file, preset).unwrap();
    let args = CompareArgs {
        preset: file.display().to_string(),
        optimizers: vec![optimizers.into()],
        steps: Some(steps),
        grad_evals: None,
        seeds,
        batch_size: None,
        json: None,
        plot: None,
        record_dir: Some(dir.join("records")),
        force: false,
        checkpoint_dir: None,
        data_dir: None,
        eval_interval: None,
        threads: Some(1),
    };
    let report = compare::compare(&args, Builders::default(), &Interrupt::default()).unwrap();
    report
        .runs
        .iter()
        .map(|r| r.record.clone().unwrap())
        .collect()
}

const QUADRATIC: &str = r#"(
    name: "q",
    description: "small bowl",
    task: (name: "quadratic", dim: 10),
    optimizer: (name: "lodo", lr: 0.5),
    alternatives: [(name: "momentum", lr: 0.5)],
    eval_interval: 10,
)"#;

const ROSENBROCK: &str = r#"(
    name: "r",
    description: "valley",
    task: (name: "rosenbrock"),
    optimizer: (name: "adam", lr: 0.05),
    eval_interval: 10,
)"#;

#[test]
fn loss_curves_of_real_records_are_pngs_of_the_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    let files = records(dir.path(), QUADRATIC, "lodo,momentum", 2, 60);
    let inputs = read_inputs(&files).unwrap();
    let mut options = Options::curves(&dir.path().join("out/loss.png"));
    options.size = (640, 400);
    let drawn = plot(&inputs, &options).unwrap();
    assert_eq!(png_size(&options.output), (640, 400));
    // One entry per optimizer, covering both seeds; one series per run.
    assert_eq!(drawn.legend, vec!["lodo (2 seeds)", "momentum (2 seeds)"]);
    assert_eq!(drawn.series, 4);

    // Smoothed on a log axis, and one colour per seed.
    options.log_y = true;
    options.smooth = Some(10);
    options.separate_seeds = true;
    options.size = (900, 500);
    let drawn = plot(&inputs, &options).unwrap();
    assert_eq!(png_size(&options.output), (900, 500));
    assert_eq!(
        drawn.legend,
        vec![
            "lodo · seed 0",
            "momentum · seed 0",
            "lodo · seed 1",
            "momentum · seed 1"
        ]
    );

    // A metric only LODO reports: momentum's lanes have nothing to draw but keep no entry.
    options.quantity = Quantity::Metric("hessian_error".into());
    options.separate_seeds = false;
    options.smooth = None;
    let drawn = plot(&inputs, &options).unwrap();
    assert_eq!(drawn.legend, vec!["lodo (2 seeds)"]);
    assert_eq!(drawn.series, 2);
}

#[test]
fn labels_name_the_hyperparameters_that_differ_and_files_that_would_clash() {
    let dir = tempfile::tempdir().unwrap();
    let files = records(
        dir.path(),
        QUADRATIC,
        "lodo:lr=0.5,lodo:lr=0.2,momentum",
        1,
        20,
    );
    let out = dir.path().join("l.png");
    let drawn = plot(&read_inputs(&files).unwrap(), &Options::curves(&out)).unwrap();
    assert_eq!(drawn.legend, vec!["lodo lr=0.5", "lodo lr=0.2", "momentum"]);
    // The same run twice (a copy of the file): told apart by file name.
    let copy = dir.path().join("copy.jsonl");
    std::fs::copy(&files[2], &copy).unwrap();
    let twice = [files[2].clone(), copy];
    let drawn = plot(&read_inputs(&twice).unwrap(), &Options::curves(&out)).unwrap();
    assert_eq!(
        drawn.legend,
        vec!["momentum · q-momentum-seed0", "momentum · copy"]
    );
}

#[test]
fn trajectories_of_rosenbrock_records_over_the_heat_map() {
    let dir = tempfile::tempdir().unwrap();
    let files = records(dir.path(), ROSENBROCK, "adam,momentum:lr=0.01", 1, 40);
    let inputs = read_inputs(&files).unwrap();
    // Every step's point plus the start.
    assert_eq!(inputs[0].record.points.len(), 41);
    let mut options = Options::curves(&dir.path().join("t.png"));
    options.trajectories = true;
    options.size = (700, 600);
    let drawn = plot(&inputs, &options).unwrap();
    assert_eq!(png_size(&options.output), (700, 600));
    assert_eq!(drawn.legend, vec!["adam", "momentum"]);
    assert_eq!(drawn.series, 2);
    // A task without a trajectory is refused by name.
    let quad = records(&dir.path().join("q"), QUADRATIC, "momentum", 1, 5);
    let e = plot(&read_inputs(&quad).unwrap(), &options).unwrap_err();
    let text = format!("{e:#}");
    assert!(
        text.starts_with(&format!(
            "{}: the record holds no trajectory",
            quad[0].display()
        )),
        "{text}"
    );
}

#[test]
fn missing_empty_and_malformed_records_are_named_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let e = read_inputs(std::slice::from_ref(&missing)).err().unwrap();
    assert!(
        format!("{e:#}").starts_with(&format!("cannot read record {}: ", missing.display())),
        "{e:#}"
    );
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let e = read_inputs(std::slice::from_ref(&empty)).err().unwrap();
    assert_eq!(e.to_string(), format!("{}: empty record", empty.display()));
    // A good record with a broken second line.
    let good = records(dir.path(), QUADRATIC, "momentum", 1, 3);
    let text = std::fs::read_to_string(&good[0]).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{\"type\":\"step\",\"lane\":0}";
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let e = read_inputs(std::slice::from_ref(&bad)).err().unwrap();
    assert!(
        e.to_string()
            .starts_with(&format!("{}:2: not a record line: ", bad.display())),
        "{e}"
    );
    // Nothing plottable: a metric no record holds, listing the ones it does.
    let inputs = read_inputs(&good).unwrap();
    let mut options = Options::curves(&dir.path().join("m.png"));
    options.quantity = Quantity::Metric("val_loss".into());
    let e = plot(&inputs, &options).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: no evaluation holds the metric `val_loss`; recorded metrics: distance_to_centre, \
             loss_at_centre, noise_floor",
            good[0].display()
        )
    );
    assert!(!options.output.exists());
}

#[test]
fn output_name_and_size_are_checked_before_drawing() {
    let dir = tempfile::tempdir().unwrap();
    let files = records(dir.path(), QUADRATIC, "momentum", 1, 3);
    let inputs = read_inputs(&files).unwrap();
    let e = plot(&inputs, &Options::curves(&dir.path().join("x.jpg"))).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("x.jpg: the picture is written as PNG; give a file name ending in .png"),
        "{e}"
    );
    let mut options = Options::curves(&dir.path().join("x.png"));
    options.size = (100, 5000);
    let e = plot(&inputs, &options).unwrap_err();
    assert_eq!(
        e.to_string(),
        "picture size 100x5000 is out of range: each side must be 200..=8000 pixels"
    );
    assert_eq!(parse_size("640x480"), Ok((640, 480)));
    assert_eq!(parse_size("640×480"), Ok((640, 480)));
    assert!(parse_size("640").unwrap_err().contains("WIDTHxHEIGHT"));
    assert!(parse_size("ax4").is_err());
}

#[test]
fn compare_plots_every_run_in_the_colour_of_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.ron");
    std::fs::write(&file, QUADRATIC).unwrap();
    let args = CompareArgs {
        preset: file.display().to_string(),
        optimizers: vec!["lodo,momentum,sgd:lr=0.3".into()],
        steps: Some(20),
        grad_evals: None,
        seeds: 2,
        batch_size: None,
        json: None,
        plot: None,
        record_dir: Some(dir.path().join("records")),
        force: false,
        checkpoint_dir: None,
        data_dir: None,
        eval_interval: None,
        threads: Some(1),
    };
    let report = compare::compare(&args, Builders::default(), &Interrupt::default()).unwrap();
    let png = dir.path().join("cmp.png");
    let drawn = compare::plot_runs(&report, &png).unwrap();
    assert_eq!(
        drawn.legend,
        vec![
            "lodo (2 seeds)",
            "momentum (2 seeds)",
            "sgd:lr=0.3 (2 seeds)"
        ]
    );
    assert_eq!(drawn.series, 6);
    assert_eq!(png_size(&png), DEFAULT_SIZE);
}

#[test]
fn hiding_the_raw_curves_leaves_only_the_smoothed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let files = records(dir.path(), QUADRATIC, "sgd:lr=0.5", 1, 400);
    let inputs = read_inputs(&files).unwrap();
    let inked = |hide_raw: bool| {
        let mut options = Options::curves(&dir.path().join(format!("raw-{hide_raw}.png")));
        options.size = (600, 400);
        options.smooth = Some(40);
        options.hide_raw = hide_raw;
        plot(&inputs, &options).unwrap();
        let picture = image::open(&options.output).unwrap().to_rgb8();
        picture.pixels().filter(|p| p.0 != [255, 255, 255]).count()
    };
    let (with_raw, without_raw) = (inked(false), inked(true));
    assert!(
        without_raw < with_raw,
        "hiding the raw curve should leave less ink: {without_raw} vs {with_raw} pixels"
    );
}
