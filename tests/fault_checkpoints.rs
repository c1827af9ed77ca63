//! Fault injection through the real binary, headless: damaged checkpoints are refused by name,
//! concurrent runs sharing a checkpoint directory keep their own files, checkpoints of older
//! builds still resume, and a damaged MNIST cache is rebuilt rather than trained on. Bounded to
//! well under a minute: short synthetic runs, one pair of short MNIST runs.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use lodo_tui::record;
use lodo_tui::train::Checkpoint;
use rand::{Rng, SeedableRng};

fn lodo_tui() -> Command {
    let mut c = Command::cargo_bin("lodo-tui").unwrap();
    // Run directories of the tests' runs go under target/, not the user's state directory.
    c.arg("--headless").env("NO_COLOR", "1").env(
        "LODO_TUI_RUNS_DIR",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/runs"),
    );
    c
}

/// Runs the binary; (success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let out = lodo_tui().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn ckpts(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ckpt"))
        .collect();
    files.sort();
    files
}

#[test]
fn flipped_bytes_anywhere_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let ck_arg = ck.to_str().unwrap();
    let (ok, _, stderr) = run(&[
        "--preset",
        "quadratic",
        "--steps",
        "20",
        "--checkpoint-dir",
        ck_arg,
    ]);
    assert!(ok, "{stderr}");
    let [good] = ckpts(&ck).try_into().unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let bad = dir.path().join("bad.ckpt");
    // Seeded, so a failure names a reproducible offset.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for _ in 0..300 {
        let at = rng.gen_range(0..bytes.len());
        let flip: u8 = rng.gen_range(1..=255);
        let mut damaged = bytes.clone();
        damaged[at] ^= flip;
        std::fs::write(&bad, &damaged).unwrap();
        match Checkpoint::load(&bad) {
            Ok(_) => panic!("byte {at} ^ {flip:#04x} was accepted"),
            Err(e) => {
                let e = format!("{e:#}");
                assert!(e.contains(bad.to_str().unwrap()), "byte {at}: {e}");
            }
        }
    }
    // Through the binary: a non-zero exit and the file named, in both --resume forms.
    let mut damaged = bytes.clone();
    damaged[bytes.len() / 2] ^= 0x10;
    std::fs::write(&good, &damaged).unwrap();
    for target in [good.to_str().unwrap(), ck_arg] {
        let (ok, _, stderr) = run(&["--resume", target, "--steps", "30"]);
        assert!(!ok);
        assert!(
            stderr.contains(&format!(
                "{} is corrupt or truncated (checksum mismatch)",
                good.display()
            )),
            "{stderr}"
        );
    }
}

#[test]
fn concurrent_runs_in_one_directory_keep_and_resume_their_own_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    let ck_arg = ck.to_str().unwrap();
    // The case: same preset, seed and steps, different optimizers, started together.
    let start = |optimizer: &str| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("lodo-tui"))
            .env(
                "LODO_TUI_RUNS_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/runs"),
            )
            .args([
                "--headless",
                "--preset",
                "quadratic",
                "--optimizer",
                optimizer,
            ])
            .args(["--steps", "1000", "--checkpoint-every", "100"])
            .args(["--checkpoint-dir", ck_arg])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let runs = [start("adam"), start("momentum")];
    for child in runs {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Each run keeps its two latest periodic checkpoints (step 1000 is both periodic and final).
    let files = ckpts(&ck);
    assert_eq!(files.len(), 4, "{files:?}");
    let finals: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.to_str().unwrap().ends_with("-step00001000.ckpt"))
        .collect();
    assert_eq!(finals.len(), 2, "{files:?}");
    let mut optimizers = Vec::new();
    for path in finals {
        let ck = Checkpoint::load(path).unwrap();
        assert_eq!(ck.step(), 1000);
        let optimizer = ck.preset().unwrap().optimizer.name;
        let (ok, stdout, stderr) = run(&["--resume", path.to_str().unwrap(), "--steps", "1010"]);
        assert!(ok, "{stderr}");
        let lane = stdout.lines().find(|l| l.starts_with("0 ")).unwrap();
        assert!(lane.contains(&format!(" {optimizer} ")), "{lane}");
        assert!(lane.contains(" 1,010 "), "{lane}");
        optimizers.push(optimizer);
    }
    optimizers.sort();
    assert_eq!(optimizers, ["adam", "momentum"]);
    // The directory form picks the newest file and names the other runs.
    let (ok, _, stderr) = run(&["--resume", ck_arg, "--steps", "1001"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("the directory also holds checkpoints of run(s)"),
        "{stderr}"
    );
}

#[test]
fn temporaries_of_dead_runs_are_swept_and_live_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    std::fs::create_dir(&ck).unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = ck.join(format!(
        ".quadratic-seed0-abcdef-step00000100.ckpt.{dead}-01234567.tmp"
    ));
    let live = ck.join(format!(
        ".quadratic-seed0-abcdef-step00000100.ckpt.{}-01234567.tmp",
        std::process::id()
    ));
    std::fs::write(&stale, b"half a checkpoint").unwrap();
    std::fs::write(&live, b"being written").unwrap();
    let (ok, _, stderr) = run(&[
        "--preset",
        "quadratic",
        "--steps",
        "5",
        "--checkpoint-dir",
        ck.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("removed 1 temporary checkpoint file(s) of runs that died"),
        "{stderr}"
    );
    assert!(!stale.exists());
    assert!(live.exists());
}

#[test]
fn a_checkpoint_of_the_previous_format_still_resumes() {
    // Written by the build before checksums (commit 1c66017):
    // `lodo-tui --preset rosenbrock --headless --steps 30 --checkpoint-dir DIR`.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/checkpoints/format1");
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("ck");
    std::fs::create_dir(&ck).unwrap();
    let name = "rosenbrock-seed0-step00000030.ckpt";
    std::fs::copy(fixture.join(name), ck.join(name)).unwrap();
    let (ok, stdout, stderr) = run(&[
        "--resume",
        ck.to_str().unwrap(),
        "--steps",
        "40",
        "--checkpoint-dir",
        ck.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("(run rosenbrock-seed0, step 30)")
            && stderr.contains("format-1 checkpoint without a checksum: read unchecked")
            && stderr.contains("resumed from a checkpoint at step 30"),
        "{stderr}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("0 ") && l.contains(" 40 ")),
        "{stdout}"
    );
    // The old file is kept beside the new run's.
    assert_eq!(ckpts(&ck).len(), 2);
}

#[test]
fn a_damaged_mnist_cache_is_rebuilt_and_the_run_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist");
    let cache = dir.path().join("cache");
    let mnist_run = |record: &str| {
        let record = dir.path().join(record);
        let out = lodo_tui()
            .env("XDG_CACHE_HOME", &cache)
            .args([
                "--preset",
                "mnist-classify",
                "--steps",
                "3",
                "--batch-size",
                "8",
            ])
            .args([
                "--eval-interval",
                "1000",
                "--data-dir",
                data.to_str().unwrap(),
            ])
            .arg("--record")
            .arg(&record)
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{stderr}");
        let losses: Vec<f32> = record::read(&record)
            .unwrap()
            .steps
            .iter()
            .map(|s| s.loss)
            .collect();
        (losses, stderr)
    };
    let (clean, _) = mnist_run("clean.jsonl");
    assert_eq!(clean.len(), 3);
    let cached = cache.join("lodo-tui").join("mnist");
    let file = |prefix: &str| {
        std::fs::read_dir(&cached)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
            .unwrap()
    };
    // The case: inverted pixels (header and length intact); and shuffled labels.
    let images = file("train-images-idx3-ubyte-");
    let mut bytes = std::fs::read(&images).unwrap();
    bytes[16..].iter_mut().for_each(|b| *b = 255 - *b);
    std::fs::write(&images, &bytes).unwrap();
    let labels = file("train-labels-idx1-ubyte-");
    let mut bytes = std::fs::read(&labels).unwrap();
    bytes[8..].iter_mut().for_each(|b| *b = (*b + 1) % 10);
    std::fs::write(&labels, &bytes).unwrap();

    let (again, stderr) = mnist_run("again.jsonl");
    for path in [&images, &labels] {
        assert!(
            stderr.contains(&format!(
                "{}: damaged cached copy of {}",
                path.display(),
                data.display()
            )),
            "{stderr}"
        );
    }
    assert!(stderr.contains("rebuilding it"), "{stderr}");
    // Bit-identical: the same data, seed and code.
    assert_eq!(again, clean);
}
