//! `lodo-tui ps [--json] [--all]`: the runs under the runs root. What a live run is doing comes
//! over its socket (connect, read the snapshot's start and lane states, disconnect), the viewer
//! count from the kernel's table of the socket's connections; `run.json` says the rest.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::cli::PsArgs;
use crate::format::thousands;
use crate::run::dir::{self, Listed, Liveness};
use crate::train::{LaneStatus, Msg, RunState, StartInfo};

/// A run that has not sent its start and lane states within this long is "not answering".
const ANSWER_PATIENCE: Duration = Duration::from_secs(1);
/// Steps per second are measured over this much of the run's time (its latest records).
const RATE_SPAN: f64 = 1.0;
/// A pause this long after the start ends the reading of a run's history.
const QUIET: Duration = Duration::from_millis(150);

/// One line of `ps` (one object of `ps --json`).
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub id: String,
    pub pid: u32,
    pub preset: String,
    pub task: String,
    /// Steps of lane 0 (`None`: not known, the run did not answer or is dead).
    pub step: Option<u64>,
    pub max_steps: Option<u64>,
    /// `running`, `paused`, `diverged`, `finished` (from the run), or `not answering`, `dead`.
    pub state: String,
    /// The optimizer of each lane.
    pub optimizers: Vec<String>,
    pub steps_per_s: Option<f64>,
    pub uptime_s: Option<f64>,
    pub viewers: Option<usize>,
    pub started_as: dir::StartedAs,
    pub socket: PathBuf,
    pub dir: PathBuf,
    pub record: Option<PathBuf>,
    pub checkpoint_dir: PathBuf,
    /// For a dead run: its newest checkpoint, to `--resume` from.
    pub last_checkpoint: Option<PathBuf>,
}

pub fn run(args: &PsArgs, runs_dir: Option<&Path>) -> Result<()> {
    let root = dir::root(runs_dir)?;
    let rows: Vec<Row> = dir::list(&root)?
        .into_iter()
        .filter(|r| args.all || !matches!(r.liveness, Liveness::Dead { .. }))
        .map(row)
        .collect();
    if args.json {
        let mut text = serde_json::to_string_pretty(&rows)?;
        text.push('\n');
        crate::cmd::print_quietly(&text);
        return Ok(());
    }
    if rows.is_empty() {
        let what = if args.all { "no runs" } else { "no live runs" };
        crate::cmd::print_quietly(&format!("{what} in {}\n", root.display()));
        return Ok(());
    }
    // A terminal gets a table that fits it; a pipe or file gets every column whole.
    let width = if args.wide || !std::io::stdout().is_terminal() {
        None
    } else {
        ratatui::crossterm::terminal::size()
            .ok()
            .map(|(w, _)| usize::from(w))
    };
    crate::cmd::print_quietly(&table(&rows, width));
    Ok(())
}

/// Ways to make the table narrower, in the order they are tried: cut long text first, then drop
/// what is least needed to pick a run (the id already names the preset).
const NARROWER: [(&str, Fit); 11] = [
    ("task", Fit::Cut(24)),
    ("last checkpoint", Fit::CutStart(32)),
    ("pid", Fit::Drop),
    ("preset", Fit::Drop),
    ("uptime", Fit::Drop),
    ("task", Fit::Cut(12)),
    ("optimizers", Fit::Cut(12)),
    ("last checkpoint", Fit::CutStart(16)),
    ("task", Fit::Drop),
    ("viewers", Fit::Drop),
    ("optimizers", Fit::Drop),
];

#[derive(Clone, Copy)]
enum Fit {
    /// Keep the first characters, then `…`.
    Cut(usize),
    /// `…`, then the last characters (paths end with what matters).
    CutStart(usize),
    Drop,
}

fn cut(text: &str, max: usize, at_start: bool) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(1);
    if at_start {
        let tail: String = text.chars().skip(n - keep).collect();
        format!("…{tail}")
    } else {
        let head: String = text.chars().take(keep).collect();
        format!("{head}…")
    }
}

/// Cuts and drops columns, in [`NARROWER`]'s order, until the table is at most `width` wide.
fn fit(headers: &mut Vec<String>, cells: &mut [Vec<String>], width: usize) {
    let total = |headers: &[String], cells: &[Vec<String>]| {
        (0..headers.len())
            .map(|c| {
                cells
                    .iter()
                    .map(|r| r[c].chars().count())
                    .chain([headers[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .sum::<usize>()
            + 2 * headers.len().saturating_sub(1)
    };
    for (name, how) in NARROWER {
        if total(headers, cells) <= width {
            return;
        }
        let Some(c) = headers.iter().position(|h| h == name) else {
            continue;
        };
        match how {
            Fit::Drop => {
                headers.remove(c);
                for row in cells.iter_mut() {
                    row.remove(c);
                }
            }
            Fit::Cut(max) | Fit::CutStart(max) => {
                for row in cells.iter_mut() {
                    row[c] = cut(&row[c], max, matches!(how, Fit::CutStart(_)));
                }
            }
        }
    }
}

fn table(rows: &[Row], width: Option<usize>) -> String {
    // Dead runs say where to resume from, in a last column.
    let any_checkpoint = rows.iter().any(|r| r.last_checkpoint.is_some());
    let mut headers: Vec<String> = [
        "id",
        "pid",
        "preset",
        "task",
        "step/max",
        "state",
        "optimizers",
        "steps/s",
        "uptime",
        "viewers",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    if any_checkpoint {
        headers.push("last checkpoint".into());
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let step = match (r.step, r.max_steps) {
                (Some(s), Some(m)) => format!("{}/{}", thousands(s), thousands(m)),
                (Some(s), None) => thousands(s),
                (None, _) => "-".into(),
            };
            let state = r.state.clone();
            let mut cells = vec![
                r.id.clone(),
                r.pid.to_string(),
                r.preset.clone(),
                r.task.clone(),
                step,
                state,
                if r.optimizers.is_empty() {
                    "-".into()
                } else {
                    // Names only: the hyperparameters are in `--json` and the dashboard.
                    let names: Vec<&str> = r
                        .optimizers
                        .iter()
                        .map(|o| o.split('(').next().unwrap_or(o))
                        .collect();
                    names.join(", ")
                },
                r.steps_per_s.map_or("-".into(), |v| format!("{v:.0}")),
                r.uptime_s.map_or("-".into(), crate::format::span),
                r.viewers.map_or("-".into(), |v| v.to_string()),
            ];
            if any_checkpoint {
                cells.push(
                    r.last_checkpoint
                        .as_ref()
                        .map_or("-".into(), |c| c.display().to_string()),
                );
            }
            cells
        })
        .collect();
    let mut cells = cells;
    if let Some(width) = width {
        fit(&mut headers, &mut cells, width);
    }
    crate::table::plain(&headers, &cells)
}

fn row(listed: Listed) -> Row {
    let info = &listed.info;
    let mut row = Row {
        id: info.id.clone(),
        pid: info.pid,
        preset: info.preset.clone(),
        task: info.task_title.clone(),
        step: None,
        max_steps: None,
        state: listed.liveness.label().to_string(),
        optimizers: Vec::new(),
        steps_per_s: None,
        uptime_s: None,
        viewers: None,
        started_as: info.started_as,
        socket: info.socket.clone(),
        dir: listed.dir.path.clone(),
        record: info.record.clone(),
        checkpoint_dir: info.checkpoint_dir.clone(),
        last_checkpoint: None,
    };
    match listed.liveness {
        Liveness::Dead {
            last_checkpoint, ..
        } => row.last_checkpoint = last_checkpoint,
        Liveness::NotAnswering => {}
        Liveness::Live => {
            row.uptime_s = Some(dir::unix_now() - info.started);
            match probe(&info.socket) {
                Some(p) => p.fill(&mut row),
                None => row.state = Liveness::NotAnswering.label().to_string(),
            }
        }
    }
    row
}

/// What a run said about itself when asked over its socket.
#[derive(Default)]
struct Probe {
    start: Option<StartInfo>,
    lanes: Option<Vec<LaneStatus>>,
    /// Lane 0's (run time, step) over the last [`RATE_SPAN`] seconds of run time received.
    recent: std::collections::VecDeque<(f64, u64)>,
    /// Viewers attached while the probe was, not counting the probe.
    viewers: Option<usize>,
}

impl Probe {
    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Started(start) => {
                self.lanes = Some(start.lanes.clone());
                self.start = Some(start);
            }
            Msg::Lanes(lanes) => self.lanes = Some(lanes),
            Msg::Steps(steps) => {
                for s in steps.iter().filter(|s| s.lane == 0) {
                    if self.recent.back().is_none_or(|(t, _)| *t < s.t) {
                        self.recent.push_back((s.t, s.step));
                    }
                }
                // A rate over a span, not two neighbours: records close in time say little.
                while let (Some(&(t0, _)), Some(&(t1, _))) =
                    (self.recent.front(), self.recent.back())
                    && t1 - t0 > RATE_SPAN
                {
                    self.recent.pop_front();
                }
            }
            _ => {}
        }
    }

    fn fill(self, row: &mut Row) {
        if let Some(start) = &self.start {
            row.task.clone_from(&start.task_title);
            row.max_steps = start.max_steps;
        }
        let lanes = self.lanes.unwrap_or_default();
        row.step = lanes.first().map(|l| l.step);
        row.optimizers = lanes.iter().map(|l| l.optimizer.to_string()).collect();
        row.state = state(&lanes).to_string();
        if let (Some(&(t0, s0)), Some(&(t1, s1))) = (self.recent.front(), self.recent.back()) {
            // Lane states are sent when something changes; steps say where it is now.
            row.step = row.step.max(Some(s1));
            if t1 > t0 {
                row.steps_per_s = Some(s1.saturating_sub(s0) as f64 / (t1 - t0));
            }
        }
        row.viewers = self.viewers;
    }
}

/// One word for the run: running while any lane runs.
fn state(lanes: &[LaneStatus]) -> &'static str {
    let any = |s: RunState| lanes.iter().any(|l| l.state == s);
    if lanes.is_empty() {
        "starting"
    } else if any(RunState::Running) {
        "running"
    } else if any(RunState::Paused) {
        "paused"
    } else if any(RunState::Diverged) {
        "diverged"
    } else {
        "finished"
    }
}

/// Connects, reads the history and the live stream until it pauses (at most
/// [`ANSWER_PATIENCE`]), and detaches. `None`: no answer in time.
fn probe(socket: &Path) -> Option<Probe> {
    let socket = socket.to_path_buf();
    let (tx, rx) = mpsc::channel();
    // A run that accepts but never answers must not hold `ps` up: the connection is left to
    // its thread, which ends with the process.
    std::thread::spawn(move || {
        let Ok(handle) = crate::run::client::connect(&socket) else {
            return;
        };
        let deadline = Instant::now() + ANSWER_PATIENCE;
        let mut probe = Probe::default();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            // Once started, a pause in the stream means the history has been read (it comes in
            // one go) and the live steps have begun: enough to know the step and the rate.
            let wait = if probe.start.is_some() {
                left.min(QUIET)
            } else {
                left
            };
            match handle.messages.recv_timeout(wait) {
                Ok(msg) => probe.take(msg),
                Err(_) => break,
            }
        }
        probe.viewers = crate::run::peers::connections(&socket).map(|n| n.saturating_sub(1));
        handle.detach();
        let _ = tx.send(probe);
    });
    rx.recv_timeout(ANSWER_PATIENCE + Duration::from_millis(500))
        .ok()
        .filter(|p| p.start.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(task: &str, optimizers: &[&str]) -> Row {
        Row {
            id: "mnist-ar-20261204-12".into(),
            pid: 4_194_301,
            preset: "mnist-ar".into(),
            task: task.into(),
            step: Some(123_456),
            max_steps: Some(1_000_000),
            state: "running".into(),
            optimizers: optimizers.iter().map(|o| o.to_string()).collect(),
            steps_per_s: Some(41.0),
            uptime_s: Some(3_725.0),
            viewers: Some(2),
            started_as: dir::StartedAs::Detached,
            socket: "/run/user/1000/lodo-tui/x.sock".into(),
            dir: "/home/u/.local/state/lodo-tui/runs/x".into(),
            record: None,
            checkpoint_dir: "/home/u/.local/state/lodo-tui/runs/x/checkpoints".into(),
            last_checkpoint: None,
        }
    }

    #[test]
    fn the_table_fits_a_narrow_terminal_and_is_whole_when_wide() {
        let long = "autoregressive MNIST pixels, 2-layer MLP over the previous 392 pixels";
        let rows = [
            row(long, &["lodo(meta_lr=1e-5)", "adam(lr=1e-3)", "sgd"]),
            row("noisy quadratic bowl", &["lodo"]),
        ];
        let whole = table(&rows, None);
        assert!(whole.contains(long), "{whole}");
        assert!(whole.lines().next().unwrap().contains("pid"));
        for width in [80, 60] {
            let narrow = table(&rows, Some(width));
            for line in narrow.lines() {
                assert!(line.chars().count() <= width, "{width}: {line:?}\n{narrow}");
            }
            for must in ["mnist-ar-20261204-12", "123,456/1,000,000", "running", "41"] {
                assert!(narrow.contains(must), "{width}: {must} missing\n{narrow}");
            }
        }
        let at_80 = table(&rows, Some(80));
        assert!(at_80.contains('…'), "the long title is cut: {at_80}");
        assert!(!at_80.lines().next().unwrap().contains("pid"), "{at_80}");
    }

    #[test]
    fn cuts_keep_the_start_or_the_end() {
        assert_eq!(cut("abcdef", 4, false), "abc…");
        assert_eq!(cut("abcdef", 4, true), "…def");
        assert_eq!(cut("abc", 4, false), "abc");
    }
}
