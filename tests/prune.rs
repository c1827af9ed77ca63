//! `lodo-tui prune` through the real binary, on a runs root of hand-made runs: live ones (their
//! process alive, their socket listening), one whose process is alive but not answering, and
//! dead ones, finished (a summary ends the record) or not, with checkpoints of known sizes.
#![allow(clippy::unwrap_used)]

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use lodo_tui::run::dir::{RunDir, RunInfo, StartedAs};

struct Root {
    tmp: tempfile::TempDir,
    /// Stand-ins for live run processes, killed when the test ends.
    children: Vec<Child>,
    _listeners: Vec<UnixListener>,
}

impl Drop for Root {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A pid that no process has now: a child that has exited and been reaped.
fn gone_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

impl Root {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("runs")).unwrap();
        Self {
            tmp,
            children: Vec::new(),
            _listeners: Vec::new(),
        }
    }

    fn runs(&self) -> PathBuf {
        self.tmp.path().join("runs")
    }

    /// A run directory `id`, started `started` seconds after the epoch, with checkpoints of
    /// these sizes (oldest first) and a record that ends with a summary if `finished`.
    fn run(&mut self, id: &str, live: Liveness, started: f64, ckpts: &[usize], finished: bool) {
        let path = self.runs().join(id);
        std::fs::create_dir(&path).unwrap();
        let dir = RunDir::open(&path).unwrap();
        let socket = path.join("sock");
        let pid = match live {
            Liveness::Dead => gone_pid(),
            Liveness::Live | Liveness::NotAnswering => {
                let child = Command::new("sleep").arg("120").spawn().unwrap();
                let pid = child.id();
                self.children.push(child);
                if live == Liveness::Live {
                    self._listeners.push(UnixListener::bind(&socket).unwrap());
                }
                pid
            }
        };
        std::fs::create_dir(dir.checkpoints()).unwrap();
        for (n, size) in ckpts.iter().enumerate() {
            let name = format!("quadratic-seed0-abcdef-step{:08}.ckpt", (n + 1) * 100);
            std::fs::write(dir.checkpoints().join(name), vec![0u8; *size]).unwrap();
            // Distinct modification times: the newest checkpoint is the last written.
            std::thread::sleep(std::time::Duration::from_millis(15));
        }
        let mut record = String::from("{\"type\":\"event\"}\n");
        if finished {
            record.push_str("{\"type\":\"summary\",\"lanes\":[],\"elapsed_s\":1.0}\n");
        }
        std::fs::write(dir.record(), record).unwrap();
        std::fs::write(dir.log(), "log\n").unwrap();
        dir.write_info(&RunInfo {
            id: id.into(),
            pid,
            preset: "quadratic".into(),
            task_title: "noisy quadratic bowl".into(),
            started,
            argv: vec![],
            socket,
            record: Some(dir.record()),
            checkpoint_dir: dir.checkpoints(),
            log: dir.log(),
            started_as: StartedAs::Detached,
        })
        .unwrap();
    }

    fn prune(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_lodo-tui"))
            .arg("prune")
            .args(args)
            .env("LODO_TUI_RUNS_DIR", self.runs())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.prune(args);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn exists(&self, id: &str) -> bool {
        self.runs().join(id).exists()
    }

    fn checkpoints(&self, id: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.runs().join(id).join("checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Liveness {
    Live,
    NotAnswering,
    Dead,
}

/// Every file under `path`, to show a dry run changed nothing.
fn tree(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            out.extend(tree(&e.unwrap().path()));
        }
    }
    out.sort();
    out
}

/// The output has a line for run `id`.
fn lists(out: &str, id: &str) -> bool {
    out.lines()
        .any(|l| l.trim_start().starts_with(&format!("{id} ")))
}

fn standard() -> Root {
    let mut root = Root::new();
    root.run("live-1", Liveness::Live, 1.0, &[5_000], false);
    root.run("stuck-1", Liveness::NotAnswering, 2.0, &[5_000], false);
    root.run("done-1", Liveness::Dead, 3.0, &[1_000, 2_000, 3_000], true);
    root.run("crashed-1", Liveness::Dead, 4.0, &[4_000], false);
    root
}

#[test]
fn a_dry_run_lists_dead_runs_and_their_bytes_and_deletes_nothing() {
    let root = standard();
    let before = tree(&root.runs());
    let out = root.ok(&[]);
    assert!(out.contains("would delete:"), "{out}");
    for id in ["done-1", "crashed-1"] {
        let line = out
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(line.contains("the whole run"), "{line}");
    }
    assert!(!out.contains("live-1") && !out.contains("stuck-1"), "{out}");
    assert!(out.contains("left alone: 2 live (never pruned)"), "{out}");
    assert!(
        out.contains("nothing was deleted (add --yes to delete)"),
        "{out}"
    );
    // Both runs' checkpoints, record, log and run.json: at least the 10,000 checkpoint bytes.
    let freed = out.lines().find(|l| l.starts_with("would free")).unwrap();
    assert!(freed.contains(" kB"), "{freed}");
    assert_eq!(tree(&root.runs()), before, "a dry run deleted something");
}

#[test]
fn yes_deletes_dead_runs_and_never_a_live_one() {
    let root = standard();
    let out = root.ok(&["--yes"]);
    assert!(out.contains("freed "), "{out}");
    assert!(!root.exists("done-1") && !root.exists("crashed-1"), "{out}");
    for id in ["live-1", "stuck-1"] {
        assert!(
            root.runs().join(id).join("run.json").exists(),
            "{id}: {out}"
        );
        assert_eq!(root.checkpoints(id).len(), 1, "{id}");
    }
    assert!(root.ok(&["--yes"]).contains("nothing to prune"));
}

#[test]
fn checkpoints_only_keeps_the_newest_unless_told_and_keeps_the_record() {
    let root = standard();
    let out = root.ok(&["--checkpoints-only", "--yes"]);
    assert!(out.contains("2 checkpoints"), "{out}");
    assert_eq!(
        root.checkpoints("done-1"),
        ["quadratic-seed0-abcdef-step00000300.ckpt"]
    );
    assert_eq!(
        root.checkpoints("crashed-1").len(),
        1,
        "its only checkpoint is its newest"
    );
    assert!(root.runs().join("done-1/record.jsonl").exists());
    assert!(root.runs().join("done-1/run.json").exists());
    root.ok(&["--checkpoints-only", "--drop-last", "--yes"]);
    assert!(root.checkpoints("done-1").is_empty());
    assert!(root.checkpoints("crashed-1").is_empty());
    assert_eq!(root.checkpoints("live-1").len(), 1);
    assert_eq!(root.checkpoints("stuck-1").len(), 1);
}

#[test]
fn filters_dead_keep_and_older_than() {
    let root = standard();
    // Only the run that died without a summary.
    let out = root.ok(&["--dead"]);
    assert!(lists(&out, "crashed-1") && !lists(&out, "done-1"), "{out}");
    assert!(out.contains("1 ended (not --dead)"), "{out}");
    // The newest run that is gone (crashed-1, started last) is kept.
    let out = root.ok(&["--keep", "1"]);
    assert!(lists(&out, "done-1") && !lists(&out, "crashed-1"), "{out}");
    // Every run here was written just now.
    let out = root.ok(&["--older-than", "7d", "--yes"]);
    assert!(out.contains("nothing to prune"), "{out}");
    assert!(out.contains("2 newer than --older-than"), "{out}");
    assert!(root.exists("done-1") && root.exists("crashed-1"));
    let bad = root.prune(&["--older-than", "7 days"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not an age"));
}
