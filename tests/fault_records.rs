//! Faults injected into real runs of the binary: kill -9 at random points then resume, a file
//! size limit, two writers of one record, an existing record, an unusable checkpoint directory.
//! Each case is bounded to a few seconds on the quadratic preset.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use lodo_tui::record;
use lodo_tui::train::Checkpoint;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("lodo-tui")
}

fn headless(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg("--headless")
        .args(["--preset", "quadratic"])
        .args(args)
        .env("NO_COLOR", "1")
        // Run directories of the tests' runs go under target/, not the user's state directory.
        .env(
            "LODO_TUI_RUNS_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/runs"),
        );
    c
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Whether the record holds `starts` start lines (the first run's and its resumes') and a step
/// after the last of them: the run started last has written its own start line and stepped.
fn stepped_since_start(record: &str, starts: usize) -> bool {
    let mut seen = 0;
    let mut stepped = false;
    for line in record.lines() {
        if line.starts_with("{\"type\":\"start\"") {
            seen += 1;
            stepped = false;
        } else if line.starts_with("{\"type\":\"step\"") && line.ends_with('}') {
            stepped = true;
        }
    }
    seen == starts && stepped
}

/// Starts a run that would go on for hours and waits until its record shows its own start line
/// (the `starts`-th) followed by a step and, with a checkpoint directory, a checkpoint exists.
/// Waiting for steps alone is not enough for a resume: the record already holds the killed run's.
fn start_long(mut command: Command, record: &Path, starts: usize, ck: Option<&Path>) -> Child {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stepped =
            std::fs::read_to_string(record).is_ok_and(|t| stepped_since_start(&t, starts));
        let saved = ck.is_none_or(|dir| Checkpoint::load(dir).is_ok());
        if stepped && saved {
            return child;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!("exited early ({status}): {}", text(&out.stderr));
        }
        assert!(Instant::now() < deadline, "no steps or checkpoint in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(child: &mut Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A small generator for the kill times, seeded from the clock (printed, to replay a failure).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn killed_runs_resume_onto_a_record_that_reads_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let record_path = dir.path().join("r.jsonl");
    let ck = dir.path().join("ck");
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill times seeded with {seed}");
    let mut rng = Rng(seed);
    let long = |resume: bool| {
        let mut args = vec!["--steps", "100000000", "--record", s(&record_path)];
        args.extend(["--checkpoint-dir", s(&ck), "--checkpoint-every", "2000"]);
        if resume {
            args.extend(["--resume", s(&ck)]);
        }
        let mut c = Command::new(bin());
        c.arg("--headless").args(&args).env("NO_COLOR", "1").env(
            "LODO_TUI_RUNS_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/runs"),
        );
        if !resume {
            c.args(["--preset", "quadratic"]);
        }
        c
    };
    for round in 0..3 {
        let mut child = start_long(long(round > 0), &record_path, round + 1, Some(&ck));
        std::thread::sleep(Duration::from_millis(rng.below(700)));
        kill(&mut child, "-KILL");
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success());
        if round == 1 {
            // What a kill in the middle of a write leaves: the last line cut short.
            let bytes = std::fs::read(&record_path).unwrap();
            let end = bytes[..bytes.len() - 1]
                .iter()
                .rposition(|&b| b == b'\n')
                .unwrap();
            // A kill can itself leave a partial line shorter than the cut.
            std::fs::write(&record_path, &bytes[..(end + 30).min(bytes.len())]).unwrap();
        }
        // Whatever a kill left, the record reads.
        let rec = record::read(&record_path).unwrap();
        assert!(!rec.steps.is_empty());
    }
    // The last resume runs to its end.
    let from = Checkpoint::load(&ck).unwrap().step();
    let to = (from + 500).to_string();
    let out = Command::new(bin())
        .args(["--headless", "--resume", s(&ck), "--steps", &to])
        .args(["--record", s(&record_path)])
        .env(
            "LODO_TUI_RUNS_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/runs"),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rec = record::read(&record_path).unwrap();
    assert!(rec.skipped.is_empty(), "resumes start on a fresh line");
    assert_eq!(rec.resumes.len(), 3);
    assert_eq!(rec.resumes[2].resumed_from_step, Some(from));
    assert_eq!(rec.summary.unwrap().lanes[0].steps, from + 500);
    let png = dir.path().join("p.png");
    let out = Command::new(bin())
        .args(["plot", s(&record_path), "-o", s(&png)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(png.is_file());
}

#[test]
fn a_resume_after_a_cut_line_says_what_it_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let record_path = dir.path().join("r.jsonl");
    let ck = dir.path().join("ck");
    let out = headless(&["--steps", "50", "--record", s(&record_path)])
        .args(["--checkpoint-dir", s(&ck)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut bytes = std::fs::read(&record_path).unwrap();
    bytes.extend_from_slice(br#"{"type":"step","lane":0,"step":51,"t":0.1,"opt"#);
    std::fs::write(&record_path, &bytes).unwrap();
    let out = Command::new(bin())
        .args(["--headless", "--resume", s(&ck), "--steps", "60"])
        .args(["--record", s(&record_path)])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.lines().any(|l| l.starts_with("warning: record ")
            && l.contains("r.jsonl: dropped a partly written last line (46 bytes")),
        "{stderr}"
    );
    let rec = record::read(&record_path).unwrap();
    assert!(rec.skipped.is_empty());
    assert_eq!(rec.steps.len(), 60);
}

#[test]
fn a_file_size_limit_stops_the_run_with_its_summary_and_a_non_zero_status() {
    let dir = tempfile::tempdir().unwrap();
    let record_path = dir.path().join("fs.jsonl");
    let ck = dir.path().join("ck");
    // 2,000 blocks (1 MB in dash's 512-byte blocks, 2 MB in bash's kB) hold a quadratic
    // checkpoint (~180 kB) but not the record of 100,000 steps (~300 bytes a step).
    let script = format!(
        "ulimit -f 2000; exec '{}' --headless --preset quadratic --steps 100000 --record '{}' \
         --checkpoint-dir '{}' --checkpoint-every 1000",
        bin().display(),
        record_path.display(),
        ck.display()
    );
    let out: Output = Command::new("sh")
        .args(["-c", &script])
        .env("NO_COLOR", "1")
        .env(
            "LODO_TUI_RUNS_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/runs"),
        )
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("could not be written (File too large"),
        "{stderr}"
    );
    assert!(!stderr.contains("[step 0] error"), "{stderr}");
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("error: the run did not save everything: the record"),
        "{stderr}"
    );
    assert!(stdout.starts_with("finished after"), "{stdout}");
    assert!(stdout.contains("not saved:\n- the record"), "{stdout}");
    // The record ends on a whole line and holds the steps it says it holds.
    let rec = record::read(&record_path).unwrap();
    assert!(rec.skipped.is_empty() && rec.summary.is_none());
    let last = rec.steps.last().unwrap().step;
    assert!(
        stderr.contains(&format!("it holds the steps up to {last};")),
        "{stderr}"
    );
    // The last good checkpoint is kept, and no temporary file is left.
    let names: Vec<String> = std::fs::read_dir(&ck)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".ckpt")), "{names:?}");
    assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
    assert!(Checkpoint::load(&ck).unwrap().step() > last);
}

#[test]
fn a_second_writer_of_a_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let record_path = dir.path().join("r.jsonl");
    let mut first = start_long(
        headless(&["--steps", "100000000", "--record", s(&record_path)]),
        &record_path,
        1,
        None,
    );
    for extra in [&[][..], &["--force"][..]] {
        let out = headless(&["--steps", "10", "--record", s(&record_path)])
            .args(extra)
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.starts_with("error: record ")
                && stderr.contains("r.jsonl is being written by another run (it is locked)"),
            "{stderr}"
        );
    }
    kill(&mut first, "-TERM");
    let out = first.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rec = record::read(&record_path).unwrap();
    assert!(rec.resumes.is_empty() && rec.skipped.is_empty());
    assert!(rec.summary.is_some());
}

#[test]
fn an_existing_record_is_kept_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let record_path = dir.path().join("r.jsonl");
    let run = |extra: &[&str]| {
        headless(&["--steps", "20", "--record", s(&record_path)])
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(run(&[]).status.success());
    let before = std::fs::read(&record_path).unwrap();
    let out = run(&[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("r.jsonl already exists") && stderr.contains("pass --force to replace it"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&record_path).unwrap(), before, "untouched");
    let out = run(&["--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(record::read(&record_path).unwrap().steps.len(), 20);
}

#[test]
fn an_unusable_checkpoint_directory_fails_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = headless(&["--steps", "20", "--checkpoint-dir", s(&file.join("ck"))])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: --checkpoint-dir: cannot create directory"),
        "{stderr}"
    );
    assert!(!stderr.contains("step "), "nothing ran: {stderr}");
    assert!(out.stdout.is_empty());
}
