//! End-to-end: the dashboard in a real terminal (tmux), driven by key presses, checked with
//! `capture-pane`, and required to exit cleanly (terminal restored, exit status 0).
//!
//! The real `lodo-tui --preset quadratic` is driven key by key; `lodo-tui view` is run on record
//! fixtures and on a record being written. Each test prints a notice and passes when tmux is
//! missing.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Generous: the machine may be busy compiling; a slow pass is not a failure.
const PATIENCE: Duration = Duration::from_secs(60);

/// A tmux server of our own, killed on drop. Its socket is in a fresh directory: a name made of
/// the pid could be that of a server left running by an earlier, killed test process.
struct Tmux {
    socket: String,
    _dir: tempfile::TempDir,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Starts `program args…` in an 80×24 (or other) window, with runs kept under `runs`; when
    /// it ends, the pane prints its exit status and stays open so the test can read it.
    fn start(program: &Path, args: &[&str], width: u16, height: u16, runs: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("tmux").display().to_string();
        let mut command = format!("'{}'", program.display());
        for a in args {
            command.push_str(&format!(" '{a}'"));
        }
        let script = format!("{command}; echo \"exit status $?\"; sleep 600");
        let status = Command::new("tmux")
            .args(["-S", &socket, "new-session", "-d", "-s", "t"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["sh", "-c", &script])
            .env("LANG", "C.UTF-8")
            .env("LODO_TUI_RUNS_DIR", runs)
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        Self { socket, _dir: dir }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let status = Command::new("tmux")
                .args(["-S", &self.socket, "send-keys", "-t", "t", k])
                .status()
                .unwrap();
            assert!(status.success());
            // Key by key, as a person types: each one is a separate read for the dashboard.
            sleep(Duration::from_millis(150));
        }
    }

    /// The process the pane's shell started (the program under test).
    fn program_pid(&self) -> Option<u32> {
        let out = Command::new("tmux")
            .args([
                "-S",
                &self.socket,
                "list-panes",
                "-t",
                "t",
                "-F",
                "#{pane_pid}",
            ])
            .output()
            .ok()?;
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let out = Command::new("ps")
            .args(["-o", "pid=", "--ppid", &shell])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-S", &self.socket, "capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `ok`; fails with the last screen otherwise.
    fn wait_for(&self, what: &str, mut ok: impl FnMut(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if start.elapsed() > PATIENCE {
                panic!("timed out waiting for {what}; the screen was:\n{screen}");
            }
            sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-S", &self.socket, "kill-server"])
            .status();
    }
}

/// The first line (the header).
fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or("")
}

/// The event log: the lines between its title and the key bar.
fn events(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains(" Events "))
        .unwrap_or(lines.len());
    lines[start.min(lines.len())..lines.len().saturating_sub(1)].join("\n")
}

/// The step count in the header (`step 1,234/10,000` → 1234).
fn step(screen: &str) -> Option<u64> {
    let after = header(screen).split("step ").nth(1)?;
    let digits: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Pause, single-step, meta-lr up, hot-swap to Adam, lr up, quit with confirmation.
fn drive(tmux: &Tmux) {
    tmux.wait_for("the run to start", |s| header(s).contains("running"));
    tmux.keys(&["Space"]);
    tmux.wait_for("pause", |s| header(s).contains("paused"));
    // Paused means the step count holds still; `n` then advances it by exactly one.
    let mut paused_at = None;
    tmux.wait_for("the step count to settle", |s| {
        let now = step(s);
        let settled = now.is_some() && now == paused_at;
        paused_at = now;
        sleep(Duration::from_millis(300));
        settled
    });
    let before = paused_at.unwrap();
    tmux.keys(&["n"]);
    tmux.wait_for("one more step", |s| step(s) == Some(before + 1));
    tmux.keys(&["+"]);
    tmux.wait_for("the meta-lr change in the event log", |s| {
        events(s).contains("meta-lr")
    });
    tmux.keys(&["o"]);
    tmux.wait_for("the optimizer picker", |s| s.contains("Switch optimizer"));
    tmux.keys(&["a", "d", "a", "m", "Enter"]);
    let s = tmux.wait_for("adam in the header", |s| header(s).contains("adam"));
    assert!(!s.contains("Switch optimizer"), "picker still open:\n{s}");
    tmux.wait_for("the switch in the event log", |s| {
        events(s).contains("switch")
    });
    tmux.keys(&["]"]);
    tmux.keys(&["Space"]);
    tmux.wait_for("resume", |s| header(s).contains("running"));
    tmux.keys(&["q"]);
    tmux.wait_for("the quit confirmation", |s| s.contains("Quit?"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("the confirmation to close", |s| !s.contains("Quit?"));
    tmux.keys(&["q", "y"]);
    let s = tmux.wait_for("a clean exit", |s| s.contains("exit status"));
    assert!(s.contains("exit status 0"), "did not exit cleanly:\n{s}");
    // The alternate screen is gone: nothing of the dashboard is left on the terminal.
    assert!(!s.contains("Step dynamics"), "terminal not restored:\n{s}");
}

/// The record fixtures `names`, as arguments.
fn fixtures(names: &[&str]) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records");
    names
        .iter()
        .map(|n| dir.join(n).display().to_string())
        .collect()
}

/// `lodo-tui view` on a record that another process is still writing: its steps appear, keys
/// that steer a run answer with a note, looking around works, `q` leaves at once.
#[test]
fn view_follows_a_growing_record_read_only_in_tmux() {
    if !Tmux::available() {
        eprintln!("notice: tmux is not installed; skipping the tmux end-to-end test");
        return;
    }
    let program = PathBuf::from(env!("CARGO_BIN_EXE_lodo-tui"));
    let runs = Runs::new();
    let fixture = &fixtures(&["quadratic-lodo-seed0.jsonl"])[0];
    let text = std::fs::read_to_string(fixture).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (w, h) in [(80, 24), (160, 48)] {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join("live.jsonl");
        // The start line, the first evaluation, steps 1..=40, and half of step 41.
        let half = &lines[42][..lines[42].len() / 2];
        std::fs::write(&record, format!("{}\n{half}", lines[..42].join("\n"))).unwrap();
        let path = record.to_str().unwrap();
        let tmux = Tmux::start(&program, &["view", path], w, h, runs.path());
        tmux.wait_for("the record so far", |s| step(s) == Some(40));
        assert!(header(&tmux.screen()).contains("live"));
        let mut rest = lines[42..]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>();
        rest.replace_range(..half.len(), "");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&record)
            .unwrap();
        std::io::Write::write_all(&mut f, rest.as_bytes()).unwrap();
        tmux.wait_for("the rest of the record", |s| {
            step(s) == Some(100) && header(s).contains("finished")
        });
        tmux.keys(&["Space"]);
        tmux.wait_for("the read-only note", |s| {
            s.contains("read-only view: pause steers a run")
        });
        tmux.keys(&["x"]);
        tmux.wait_for("the grad-evals axis", |s| s.contains("x grad evals"));
        tmux.keys(&["q"]);
        let s = tmux.wait_for("a clean exit", |s| s.contains("exit status"));
        assert!(s.contains("exit status 0"), "did not exit cleanly:\n{s}");
        assert!(!s.contains("Step dynamics"), "terminal not restored:\n{s}");
    }
}

#[test]
fn sigterm_leaves_a_view_and_restores_the_terminal() {
    if !Tmux::available() {
        eprintln!("notice: tmux is not installed; skipping the tmux end-to-end test");
        return;
    }
    let program = PathBuf::from(env!("CARGO_BIN_EXE_lodo-tui"));
    let runs = Runs::new();
    let mut args = vec!["view".to_string()];
    args.extend(fixtures(&[
        "rosenbrock-lodo-seed0.jsonl",
        "rosenbrock-adam-seed0.jsonl",
    ]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let tmux = Tmux::start(&program, &args, 80, 24, runs.path());
    tmux.wait_for("both records", |s| {
        s.contains("lodo (rosenbrock-lodo-seed0)") && s.contains("adam (rosenbrock-adam-seed0)")
    });
    let pid = tmux.program_pid().expect("the view's pid");
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let s = tmux.wait_for("a clean exit", |s| s.contains("exit status"));
    assert!(s.contains("exit status 0"), "did not exit cleanly:\n{s}");
    assert!(!s.contains("Step dynamics"), "terminal not restored:\n{s}");
}

#[test]
fn real_binary_on_the_quadratic_preset_in_tmux() {
    if !Tmux::available() {
        eprintln!("notice: tmux is not installed; skipping the tmux end-to-end test");
        return;
    }
    let program = PathBuf::from(env!("CARGO_BIN_EXE_lodo-tui"));
    // Long enough that the run is still going when the keys arrive.
    let args = ["--preset", "quadratic", "--steps", "100000000"];
    let runs = Runs::new();
    for (w, h) in [(80, 24), (160, 48)] {
        let tmux = Tmux::start(&program, &args, w, h, runs.path());
        drive(&tmux);
    }
}

/// A runs root of its own; runs still alive when the test ends (it failed) are killed.
struct Runs(tempfile::TempDir);

impl Runs {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Runs {
    fn drop(&mut self) {
        let out = Command::new(env!("CARGO_BIN_EXE_lodo-tui"))
            .args(["ps", "--json"])
            .env("LODO_TUI_RUNS_DIR", self.path())
            .output();
        let rows: Vec<serde_json::Value> = out
            .ok()
            .and_then(|o| serde_json::from_slice(&o.stdout).ok())
            .unwrap_or_default();
        for row in rows {
            if let Some(pid) = row["pid"].as_u64() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
}

/// `lodo-tui ps --json` for the runs under `runs`.
fn ps(runs: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_lodo-tui"))
        .args(["ps", "--json"])
        .env("LODO_TUI_RUNS_DIR", runs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The one live run's step, once it is past `after`.
fn wait_for_progress(runs: &Path, after: u64) -> u64 {
    let start = Instant::now();
    loop {
        let rows = ps(runs);
        assert_eq!(rows.len(), 1, "{rows:?}");
        let step = rows[0]["step"].as_u64().unwrap_or(0);
        if step > after {
            return step;
        }
        assert!(start.elapsed() < PATIENCE, "the run stopped at {step}");
        sleep(Duration::from_millis(200));
    }
}

/// `ps` lists no live run any more (a process that finished its run still exits afterwards).
fn wait_until_no_live_run(runs: &Path) {
    let start = Instant::now();
    loop {
        let rows = ps(runs);
        if rows.is_empty() {
            return;
        }
        assert!(start.elapsed() < PATIENCE, "runs still live: {rows:?}");
        sleep(Duration::from_millis(100));
    }
}

fn wait_until_gone(pid: u32, what: &str) {
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(start.elapsed() < PATIENCE, "{what} (pid {pid}) still runs");
        sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_terminal_that_hangs_up_detaches_and_the_run_goes_on_to_be_stopped_later() {
    if !Tmux::available() {
        eprintln!("notice: tmux is not installed; skipping the tmux end-to-end test");
        return;
    }
    let program = PathBuf::from(env!("CARGO_BIN_EXE_lodo-tui"));
    let runs = Runs::new();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("run.jsonl");
    let checkpoints = dir.path().join("ckpt");
    let args = [
        "--preset",
        "quadratic",
        "--steps",
        "100000000",
        "--record",
        record.to_str().unwrap(),
        "--checkpoint-dir",
        checkpoints.to_str().unwrap(),
    ];
    let tmux = Tmux::start(&program, &args, 80, 24, runs.path());
    tmux.wait_for("the run to start", |s| header(s).contains("running"));
    let pid = tmux.program_pid().expect("the program's pid");
    // Killing the tmux server is what a dropped SSH session does: the tty hangs up. The viewer
    // leaves; the run does not notice.
    drop(tmux);
    wait_until_gone(pid, "the dashboard after its terminal hung up");
    let step = wait_for_progress(runs.path(), 0);
    wait_for_progress(runs.path(), step);
    // Attached again (the most recent live run), it is stopped from the q dialog.
    let tmux = Tmux::start(&program, &["attach"], 80, 24, runs.path());
    tmux.wait_for("the run again", |s| header(s).contains("running"));
    tmux.keys(&["q"]);
    tmux.wait_for("the stop / detach question", |s| s.contains("stop the run"));
    tmux.keys(&["s"]);
    let s = tmux.wait_for("the exit", |s| s.contains("exit status"));
    assert!(s.contains("exit status 0"), "{s}");
    assert!(s.contains("finished after"), "the summary is printed:\n{s}");
    let text = std::fs::read_to_string(&record).unwrap();
    let last = text.lines().last().unwrap_or("");
    assert!(
        last.contains("\"type\":\"summary\""),
        "the record does not end with its summary: {last}"
    );
    let saved = std::fs::read_dir(&checkpoints).unwrap().count();
    assert!(saved > 0, "no final checkpoint was written");
}

#[test]
fn d_detaches_and_attach_comes_back_even_after_a_killed_viewer() {
    if !Tmux::available() {
        eprintln!("notice: tmux is not installed; skipping the tmux end-to-end test");
        return;
    }
    let program = PathBuf::from(env!("CARGO_BIN_EXE_lodo-tui"));
    let runs = Runs::new();
    for (w, h) in [(80, 24), (160, 48)] {
        let tmux = Tmux::start(
            &program,
            &["--preset", "quadratic", "--steps", "100000000"],
            w,
            h,
            runs.path(),
        );
        tmux.wait_for("the run to start", |s| header(s).contains("running"));
        let id = ps(runs.path())[0]["id"].as_str().unwrap().to_string();
        assert!(
            header(&tmux.screen()).contains(&id),
            "the header names the run"
        );
        tmux.keys(&["d"]);
        let s = tmux.wait_for("the detach", |s| s.contains("exit status"));
        assert!(s.contains("exit status 0"), "{s}");
        assert!(
            s.contains(&format!("detached from {id}; `lodo-tui attach {id}`")),
            "{s}"
        );
        assert!(!s.contains("Step dynamics"), "terminal not restored:\n{s}");
        let step = wait_for_progress(runs.path(), 0);

        // A viewer killed outright changes nothing for the run.
        let viewer = Tmux::start(&program, &["attach", &id], w, h, runs.path());
        viewer.wait_for("the attached dashboard", |s| header(s).contains("running"));
        let pid = viewer.program_pid().unwrap();
        assert!(
            Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
        wait_until_gone(pid, "the killed viewer");
        let step = wait_for_progress(runs.path(), step);

        let again = Tmux::start(&program, &["attach", &id], w, h, runs.path());
        let s = again.wait_for("the history and live steps", |s| {
            header(s).contains("running") && step_of(s) > step
        });
        assert!(s.contains(&id), "{s}");
        again.keys(&["q"]);
        again.wait_for("the question", |s| s.contains("stop the run"));
        again.keys(&["s"]);
        let s = again.wait_for("the exit", |s| s.contains("exit status"));
        assert!(s.contains("exit status 0"), "{s}");
        assert!(s.contains("finished after"), "{s}");
        // The dashboard leaves when the run has finished, its process a moment later.
        wait_until_no_live_run(runs.path());
    }
}

fn step_of(screen: &str) -> u64 {
    step(screen).unwrap_or(0)
}

#[test]
fn a_dashboard_run_that_cannot_write_its_record_stops_and_exits_with_status_3() {
    if !Tmux::available() {
        eprintln!("notice: tmux is not installed; skipping the tmux end-to-end test");
        return;
    }
    let program = PathBuf::from(env!("CARGO_BIN_EXE_lodo-tui"));
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("run.jsonl");
    // 2,000 blocks hold a quadratic checkpoint but not the record of a long run.
    let script = format!(
        "ulimit -f 2000; exec {} --preset quadratic --steps 100000000 --record {} \
         --checkpoint-dir {}",
        program.display(),
        record.display(),
        dir.path().join("ck").display()
    );
    let runs = Runs::new();
    let tmux = Tmux::start(Path::new("/bin/sh"), &["-c", &script], 100, 30, runs.path());
    tmux.wait_for("the run to stop on its own", |s| s.contains("finished"));
    tmux.keys(&["q"]);
    let s = tmux.wait_for("the exit", |s| s.contains("exit status"));
    assert!(s.contains("exit status 3"), "{s}");
    assert!(
        s.contains("not saved:"),
        "the summary says what was lost:\n{s}"
    );
    assert!(!s.contains("Step dynamics"), "terminal not restored:\n{s}");
    let rec = lodo_tui::record::read(&record).unwrap();
    assert!(rec.skipped.is_empty() && rec.summary.is_none());
}

/// The "done when", end to end: `--detach`, `ps --json`, attach in a terminal, pause
/// there, `d`; the run is alive and stays paused; two terminals attach at once; one hangs up and
/// the run goes on with one viewer fewer; `lodo-tui stop` ends it with a summary in its record.
#[test]
fn detach_attach_pause_two_viewers_hang_up_and_stop() {
    if !Tmux::available() {
        eprintln!("notice: tmux is not installed; skipping the tmux end-to-end test");
        return;
    }
    let program = PathBuf::from(env!("CARGO_BIN_EXE_lodo-tui"));
    let runs = Runs::new();
    let lodo = |args: &[&str]| {
        let out = Command::new(&program)
            .args(args)
            .env("LODO_TUI_RUNS_DIR", runs.path())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let out = lodo(&[
        "--preset",
        "quadratic",
        "--steps",
        "100000000",
        "--pace",
        "400",
        "--detach",
    ]);
    let rows = ps(runs.path());
    assert_eq!(rows.len(), 1, "{rows:?}");
    let id = rows[0]["id"].as_str().unwrap().to_string();
    assert!(out.contains(&id), "{out}");
    let dir = PathBuf::from(rows[0]["dir"].as_str().unwrap());
    assert_eq!(rows[0]["state"], "running");
    assert_eq!(rows[0]["viewers"], 0);

    // Window 1: attach, see the system line, pause, detach.
    let one = Tmux::start(&program, &["attach", &id], 80, 24, runs.path());
    let s = one.wait_for("the dashboard with its system line", |s| {
        header(s).contains("running") && s.contains("cpu ")
    });
    assert!(header(&s).contains(&id), "{s}");
    one.keys(&["Space"]);
    one.wait_for("the pause", |s| header(s).contains("paused"));
    one.keys(&["d"]);
    let s = one.wait_for("the detach", |s| s.contains("exit status"));
    assert!(
        s.contains("exit status 0") && s.contains(&format!("detached from {id}")),
        "{s}"
    );
    drop(one);

    // Alive, still paused, not stepping.
    let row = &ps(runs.path())[0];
    assert_eq!(row["state"], "paused", "{row}");
    let paused_at = row["step"].as_u64().unwrap();
    sleep(Duration::from_millis(1_500));
    assert_eq!(ps(runs.path())[0]["step"].as_u64().unwrap(), paused_at);

    // Windows 1 and 2 attached at once; window 2 resumes, both see the steps.
    let one = Tmux::start(&program, &["attach", &id], 80, 24, runs.path());
    let two = Tmux::start(&program, &["attach", &id], 160, 48, runs.path());
    for t in [&one, &two] {
        t.wait_for("the paused run", |s| header(s).contains("paused"));
    }
    let viewers = |n: u64| {
        let start = Instant::now();
        while ps(runs.path())[0]["viewers"] != n {
            assert!(start.elapsed() < PATIENCE, "never {n} viewers");
            sleep(Duration::from_millis(200));
        }
    };
    viewers(2);
    two.keys(&["Space"]);
    for t in [&one, &two] {
        t.wait_for("steps past the pause", |s| {
            header(s).contains("running") && step_of(s) > paused_at
        });
    }

    // Window 1 hangs up: the run goes on, one viewer fewer.
    let pid = one.program_pid().unwrap();
    drop(one);
    wait_until_gone(pid, "the viewer whose terminal hung up");
    viewers(1);
    let step = wait_for_progress(runs.path(), paused_at);
    wait_for_progress(runs.path(), step);

    // Stopped from elsewhere: window 2 sees the end, the record ends with the summary.
    let out = lodo(&["stop", &id]);
    assert!(out.contains("finished after"), "{out}");
    two.wait_for("the attached dashboard to show the end", |s| {
        header(s).contains("finished") || s.contains("exit status")
    });
    two.keys(&["q"]);
    let s = two.wait_for("the attached dashboard to leave", |s| {
        s.contains("exit status")
    });
    assert!(s.contains("exit status 0"), "{s}");
    let record = std::fs::read_to_string(dir.join("record.jsonl")).unwrap();
    let last = record.lines().last().unwrap_or("");
    assert!(last.contains("\"type\":\"summary\""), "{last}");
    assert!(ps(runs.path()).is_empty());
}
