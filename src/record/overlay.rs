//! One or more records, finished or still being written, as the message stream of one run: what
//! `lodo-tui view` shows. The stream comes through a [`TrainerHandle`] like a live trainer's, so
//! the dashboard cannot tell a file from a thread or a socket; its commands are not obeyed (a
//! record cannot be steered) and `Quit` ends the reading.
//!
//! Several records become lanes of one run: each record's lanes are numbered after the previous
//! record's and named after their record, `adam (run-b)`. Records of different tasks are refused:
//! their losses are not on one scale and the task panel can show one task only.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::Line;
use super::follow::Follow;
use super::replay;
use crate::optim::OptimizerSpec;
use crate::schema::msg::{Event, EventKind, LaneId, StartInfo, Summary};
use crate::task::rosenbrock::Rosenbrock;
use crate::task::{TaskKind, TaskView};
use crate::train::{Command, Msg, TrainerHandle};

/// How often the records are checked for new lines.
pub const POLL: Duration = Duration::from_millis(200);

/// A record to show and the name its lanes carry when several are shown.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub name: String,
}

impl Source {
    /// Named after its run directory when it is a run's `record.jsonl`, else after the file.
    pub fn new(path: &Path) -> Self {
        let stem = |p: &Path| {
            p.file_stem()
                .map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into())
        };
        let name = match path.parent() {
            Some(dir) if path.file_name().is_some_and(|f| f == "record.jsonl") => {
                match dir.file_name() {
                    Some(run) => run.to_string_lossy().into_owned(),
                    None => stem(path),
                }
            }
            _ => stem(path),
        };
        Self {
            path: path.to_path_buf(),
            name,
        }
    }
}

/// One record being read and where its lanes went.
struct Reading {
    follow: Follow,
    name: String,
    /// Global lane of each of the record's lanes.
    lanes: Vec<LaneId>,
    summary: Option<Summary>,
    started: bool,
}

/// Every record's messages, merged.
struct Overlay {
    readings: Vec<Reading>,
    next_lane: LaneId,
    finished: bool,
}

/// Reads what the records hold now and starts following them. Fails when a record cannot be
/// read, does not begin with a start line, or the records are of different tasks. Returns the
/// handle and a label for the whole (the record's name, or the names joined).
pub fn spawn(sources: &[Source]) -> Result<(TrainerHandle, String)> {
    let (mut overlay, mut out) = Overlay::open(sources)?;
    for reading in &overlay.readings {
        if reading.summary.is_none() {
            let detail = format!(
                "{} has no summary yet: following it for new lines",
                reading.follow.path().display()
            );
            out.push(note(EventKind::Info, detail));
        }
    }
    let label = overlay.label();
    let (msg_tx, msg_rx) = channel();
    let (cmd_tx, cmd_rx) = channel();
    let thread = std::thread::Builder::new()
        .name("lodo-view".into())
        .spawn(move || {
            if out.into_iter().all(|m| msg_tx.send(m).is_ok()) {
                overlay.run(&msg_tx, &cmd_rx);
            }
        })
        .context("cannot start the record reader thread")?;
    Ok((TrainerHandle::new(cmd_tx, msg_rx, Some(thread)), label))
}

/// The messages of the records as they are now, as [`spawn`] first sends them (without following
/// them): for replaying fixtures in tests and benchmarks.
pub fn messages(sources: &[Source]) -> Result<Vec<Msg>> {
    Overlay::open(sources).map(|(_, out)| out)
}

fn refuse_mixed_tasks(sources: &[Source], first: &[super::follow::Poll]) -> Result<()> {
    let task = |poll: &super::follow::Poll| match poll.lines.first() {
        Some(Line::Start(s)) => Some(s.task),
        _ => None,
    };
    let kinds: Vec<_> = first.iter().map(task).collect();
    if kinds.windows(2).all(|w| w[0] == w[1]) {
        return Ok(());
    }
    let listed: Vec<String> = sources
        .iter()
        .zip(&kinds)
        .map(|(s, k)| {
            let kind = k.map_or("?", |k| k.name());
            format!("{} ({kind})", s.path.display())
        })
        .collect();
    bail!(
        "records of different tasks cannot share one dashboard: {}; view them one at a time",
        listed.join(", ")
    )
}

fn note(kind: EventKind, detail: String) -> Msg {
    Msg::Event(event(kind, detail))
}

fn event(kind: EventKind, detail: String) -> Event {
    Event {
        lane: None,
        step: 0,
        t: 0.0,
        kind,
        detail,
    }
}

impl Overlay {
    /// Every record read as far as it is written, and its messages so far.
    fn open(sources: &[Source]) -> Result<(Self, Vec<Msg>)> {
        if sources.is_empty() {
            bail!("no record to view");
        }
        let mut first = Vec::new();
        let mut readings = Vec::new();
        for source in sources {
            let mut follow = Follow::open(&source.path)?;
            let poll = follow.poll()?;
            let shown = source.path.display();
            match poll.lines.first() {
                Some(Line::Start(_)) => {}
                Some(_) => bail!("{shown}:1: a record must begin with a start line"),
                None => bail!("{shown}: empty record (no complete line yet)"),
            }
            first.push(poll);
            readings.push(Reading {
                follow,
                name: source.name.clone(),
                lanes: Vec::new(),
                summary: None,
                started: false,
            });
        }
        refuse_mixed_tasks(sources, &first)?;
        let mut overlay = Overlay {
            readings,
            next_lane: 0,
            finished: false,
        };
        let mut out = Vec::new();
        overlay.start(&first, &mut out);
        for (i, poll) in first.into_iter().enumerate() {
            overlay.take(i, poll.lines, poll.notes, &mut out);
        }
        Ok((overlay, out))
    }

    fn several(&self) -> bool {
        self.readings.len() > 1
    }

    fn label(&self) -> String {
        let names: Vec<&str> = self.readings.iter().map(|r| r.name.as_str()).collect();
        names.join(" + ")
    }

    /// The one `Started` for all records, from each record's first messages.
    fn start(&mut self, first: &[super::follow::Poll], out: &mut Vec<Msg>) {
        let mut merged: Option<StartInfo> = None;
        for (i, poll) in first.iter().enumerate() {
            let Some(Line::Start(start)) = poll.lines.first() else {
                continue;
            };
            let mut info = start.info();
            for status in &mut info.lanes {
                status.lane = self.lane(i, status.lane);
                status.optimizer = self.named(i, status.optimizer.clone());
            }
            match &mut merged {
                None => merged = Some(info),
                Some(m) => m.lanes.extend(info.lanes),
            }
        }
        if let Some(mut info) = merged {
            if self.several() {
                info.preset = self.label();
                // The alternatives of one record are not those of the others; nothing can be
                // switched in a view anyway.
                info.alternatives.clear();
            }
            let task = info.task;
            out.push(Msg::Started(info));
            // A record holds no task views; the static ones follow from the task alone.
            if task == TaskKind::Rosenbrock {
                out.push(Msg::View {
                    lane: None,
                    view: TaskView::Heatmap(Rosenbrock::heatmap()),
                });
            }
        }
    }

    /// The global lane of record `i`'s lane `lane`, given the next free one at first sight.
    fn lane(&mut self, i: usize, lane: LaneId) -> LaneId {
        let reading = &mut self.readings[i];
        while reading.lanes.len() <= lane {
            reading.lanes.push(self.next_lane);
            self.next_lane += 1;
        }
        reading.lanes[lane]
    }

    fn name(&self, i: usize, optimizer: &str) -> String {
        if self.several() {
            format!("{optimizer} ({})", self.readings[i].name)
        } else {
            optimizer.to_string()
        }
    }

    fn named(&self, i: usize, mut spec: OptimizerSpec) -> OptimizerSpec {
        spec.name = self.name(i, &spec.name);
        spec
    }

    /// Record `i`'s new lines (and notes about it) as merged messages.
    fn take(&mut self, i: usize, lines: Vec<Line>, notes: Vec<String>, out: &mut Vec<Msg>) {
        for detail in notes {
            out.push(note(EventKind::Error, detail));
        }
        if lines.is_empty() {
            return;
        }
        // Only the first batch starts with the record's start line; a later start line is a
        // resumed continuation, which `replay` reports as an event when it is not first.
        let already = self.readings[i].started;
        let mut msgs = replay::messages(&lines);
        if already && let Some(Msg::Started(info)) = msgs.first() {
            let step = info.lanes.first().map_or(0, |l| l.step);
            msgs[0] = note(
                EventKind::Info,
                format!("resumed from a checkpoint at step {step}"),
            );
        } else if !already {
            // Sent once for all records by `start`.
            msgs.retain(|m| !matches!(m, Msg::Started(_)));
        }
        self.readings[i].started = true;
        for msg in msgs {
            self.map(i, msg, out);
        }
    }

    /// Record `i`'s message with its lanes renumbered and renamed; a record's summary is held
    /// until every record has one.
    fn map(&mut self, i: usize, msg: Msg, out: &mut Vec<Msg>) {
        let msg = match msg {
            Msg::Started(_) => return,
            // Readings of a live process; a record holds none.
            Msg::System(_) => return,
            Msg::Steps(mut records) => {
                for r in &mut records {
                    r.lane = self.lane(i, r.lane);
                    r.optimizer = self.name(i, &r.optimizer);
                }
                Msg::Steps(records)
            }
            Msg::Eval {
                lane,
                step,
                t,
                metrics,
            } => Msg::Eval {
                lane: self.lane(i, lane),
                step,
                t,
                metrics,
            },
            Msg::View { lane, view } => Msg::View {
                lane: lane.map(|l| self.lane(i, l)),
                view,
            },
            Msg::Points(mut points) => {
                for p in &mut points {
                    p.0 = self.lane(i, p.0);
                }
                Msg::Points(points)
            }
            Msg::Event(mut e) => {
                e.lane = e.lane.map(|l| self.lane(i, l));
                if self.several() {
                    e.detail = format!("{}: {}", self.readings[i].name, e.detail);
                }
                Msg::Event(e)
            }
            Msg::Lanes(mut statuses) => {
                for s in &mut statuses {
                    s.lane = self.lane(i, s.lane);
                    s.optimizer = self.named(i, s.optimizer.clone());
                }
                Msg::Lanes(statuses)
            }
            Msg::Pace(pace) => Msg::Pace(pace),
            Msg::Finished(Err(e)) => Msg::Finished(Err(e)),
            Msg::Finished(Ok(mut summary)) => {
                for l in &mut summary.lanes {
                    l.lane = self.lane(i, l.lane);
                    l.optimizer = self.name(i, &l.optimizer);
                }
                if self.several() {
                    let detail = format!(
                        "{} finished after {}",
                        self.readings[i].name,
                        crate::format::span(summary.elapsed_s)
                    );
                    out.push(Msg::Event(Event {
                        step: summary.lanes.iter().map(|l| l.steps).max().unwrap_or(0),
                        t: summary.elapsed_s,
                        ..event(EventKind::Info, detail)
                    }));
                }
                self.readings[i].summary = Some(summary);
                match self.merged_summary() {
                    Some(merged) => Msg::Finished(Ok(merged)),
                    None => return,
                }
            }
        };
        out.push(msg);
    }

    /// Every record's summary as one, once each has one (sent once).
    fn merged_summary(&mut self) -> Option<Summary> {
        if self.finished || self.readings.iter().any(|r| r.summary.is_none()) {
            return None;
        }
        self.finished = true;
        let mut merged = Summary {
            lanes: Vec::new(),
            elapsed_s: 0.0,
            lost: Vec::new(),
        };
        for s in self.readings.iter().filter_map(|r| r.summary.as_ref()) {
            merged.lanes.extend(s.lanes.iter().cloned());
            merged.elapsed_s = merged.elapsed_s.max(s.elapsed_s);
            merged.lost.extend(s.lost.iter().cloned());
        }
        merged.lanes.sort_by_key(|l| l.lane);
        Some(merged)
    }

    /// Polls the records until told to quit or the viewer hangs up. Commands other than `Quit`
    /// are not obeyed: the dashboard does not send them in a view.
    fn run(&mut self, messages: &Sender<Msg>, commands: &Receiver<Command>) {
        loop {
            match commands.recv_timeout(POLL) {
                Ok(Command::Quit) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            }
            let mut out = Vec::new();
            for i in 0..self.readings.len() {
                let polled = self.readings[i].follow.poll();
                match polled {
                    Ok(poll) => self.take(i, poll.lines, poll.notes, &mut out),
                    Err(e) => {
                        // Said once: the file is not read again.
                        self.readings[i].follow.stop();
                        out.push(note(
                            EventKind::Error,
                            format!("{e:#}; no longer following it"),
                        ));
                    }
                }
            }
            if !out.into_iter().all(|m| messages.send(m).is_ok()) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Instant;

    use super::*;
    use crate::ui::{App, Theme};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/records")
            .join(name)
    }

    /// Applies the view's messages to a read-only dashboard until `done` holds (or fails after
    /// a minute: generous, since a loaded machine may be slow but a hang must still fail).
    fn watch(handle: &TrainerHandle, app: &mut App, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(app) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out; events: {:?}", app.model.events);
            if let Ok(msg) = handle.messages.recv_timeout(left) {
                app.apply(msg);
            }
        }
    }

    fn viewing(label: &str) -> App {
        App::viewing(Theme::new(false, true), label)
    }

    fn errors(app: &App) -> Vec<&str> {
        app.model
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Error)
            .map(|e| e.detail.as_str())
            .collect()
    }

    #[test]
    fn a_finished_record_shows_its_steps_evaluations_and_summary() {
        let path = fixture("quadratic-lodo-seed0.jsonl");
        let (handle, label) = spawn(&[Source::new(&path)]).unwrap();
        assert_eq!(label, "quadratic-lodo-seed0");
        let mut app = viewing(&label);
        watch(&handle, &mut app, |a| a.model.finished.is_some());
        let lane = &app.model.lanes[0];
        assert_eq!(app.model.lanes.len(), 1);
        assert_eq!(lane.optimizer().name, "lodo");
        assert_eq!(lane.loss.len(), 100);
        assert_eq!(lane.step(), 100);
        assert!(lane.evals.contains_key("distance_to_centre"), "{lane:?}");
        let Some(Ok(summary)) = &app.model.finished else {
            panic!("{:?}", app.model.finished)
        };
        assert_eq!(summary.lanes[0].steps, 100);
        assert!(errors(&app).is_empty(), "{:?}", errors(&app));
        handle.shutdown().unwrap();
    }

    #[test]
    fn a_growing_record_is_followed_and_a_half_written_line_waited_for() {
        let text = std::fs::read_to_string(fixture("quadratic-lodo-seed0.jsonl")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.jsonl");
        // The start line, the first evaluation, ten steps, and half of the eleventh.
        let half = &lines[12][..lines[12].len() / 2];
        std::fs::write(&path, format!("{}\n{half}", lines[..12].join("\n"))).unwrap();
        let (handle, label) = spawn(&[Source::new(&path)]).unwrap();
        let mut app = viewing(&label);
        watch(&handle, &mut app, |a| a.model.step() == 10);
        assert!(app.model.finished.is_none());

        let writer = {
            let path = path.clone();
            let rest: Vec<String> = lines[12..].iter().map(|l| l.to_string()).collect();
            let half = half.len();
            std::thread::spawn(move || {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                writeln!(f, "{}", &rest[0][half..]).unwrap();
                for chunk in rest[1..].chunks(20) {
                    std::thread::sleep(Duration::from_millis(50));
                    for line in chunk {
                        writeln!(f, "{line}").unwrap();
                    }
                }
            })
        };
        watch(&handle, &mut app, |a| a.model.finished.is_some());
        writer.join().unwrap();
        assert_eq!(app.model.lanes[0].loss.len(), 100);
        assert!(matches!(&app.model.finished, Some(Ok(s)) if s.lanes[0].steps == 100));
        assert!(errors(&app).is_empty(), "{:?}", errors(&app));
        handle.shutdown().unwrap();
    }

    #[test]
    fn two_records_become_lanes_of_one_dashboard_named_after_them() {
        let sources = [
            Source::new(&fixture("quadratic-lodo-seed0.jsonl")),
            Source::new(&fixture("quadratic-adam-seed0.jsonl")),
        ];
        let (handle, label) = spawn(&sources).unwrap();
        assert_eq!(label, "quadratic-lodo-seed0 + quadratic-adam-seed0");
        let mut app = viewing(&label);
        watch(&handle, &mut app, |a| a.model.finished.is_some());
        let names: Vec<&str> = app
            .model
            .lanes
            .iter()
            .map(|l| l.optimizer().name.as_str())
            .collect();
        assert_eq!(
            names,
            ["lodo (quadratic-lodo-seed0)", "adam (quadratic-adam-seed0)"]
        );
        assert!(app.model.lanes.iter().all(|l| l.loss.len() == 100));
        // The LODO lane keeps its hypergradient statistics; Adam's has none.
        assert_eq!(app.model.lanes[0].hypergrad.len(), 100);
        assert_eq!(app.model.lanes[1].hypergrad.len(), 0);
        let Some(Ok(summary)) = &app.model.finished else {
            panic!("{:?}", app.model.finished)
        };
        let lanes: Vec<(usize, &str)> = summary
            .lanes
            .iter()
            .map(|l| (l.lane, l.optimizer.as_str()))
            .collect();
        assert_eq!(
            lanes,
            [
                (0, "lodo (quadratic-lodo-seed0)"),
                (1, "adam (quadratic-adam-seed0)")
            ]
        );
        handle.shutdown().unwrap();
    }

    #[test]
    fn records_of_different_tasks_are_refused_naming_them() {
        let sources = [
            Source::new(&fixture("quadratic-lodo-seed0.jsonl")),
            Source::new(&fixture("rosenbrock-adam-seed0.jsonl")),
        ];
        let e = spawn(&sources).map(|_| ()).unwrap_err().to_string();
        assert!(
            e.contains("quadratic-lodo-seed0.jsonl (quadratic)")
                && e.contains("rosenbrock-adam-seed0.jsonl (rosenbrock)"),
            "{e}"
        );
    }

    #[test]
    fn a_record_without_gradient_counts_still_displays() {
        // As written before the count existed: no `grad_evals` in step lines or the summary.
        let text = std::fs::read_to_string(fixture("quadratic-adam-seed0.jsonl")).unwrap();
        let old: Vec<String> = text
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("grad_evals");
                if let Some(lanes) = v.get_mut("lanes").and_then(|l| l.as_array_mut()) {
                    for lane in lanes.iter_mut().filter_map(|l| l.as_object_mut()) {
                        lane.remove("grad_evals");
                    }
                }
                v.to_string()
            })
            .collect();
        assert!(!old.join("\n").contains("grad_evals"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.jsonl");
        std::fs::write(&path, old.join("\n") + "\n").unwrap();
        let (handle, label) = spawn(&[Source::new(&path)]).unwrap();
        let mut app = viewing(&label);
        watch(&handle, &mut app, |a| a.model.finished.is_some());
        assert_eq!(app.model.lanes[0].loss.len(), 100);
        assert!(app.model.lanes[0].loss_by_grad_evals.is_empty());
        handle.shutdown().unwrap();
    }

    #[test]
    fn a_run_directory_record_is_named_after_the_run() {
        let s = Source::new(Path::new("/x/runs/quadratic-20261204-2/record.jsonl"));
        assert_eq!(s.name, "quadratic-20261204-2");
        assert_eq!(Source::new(Path::new("a/b/adam.jsonl")).name, "adam");
    }

    #[test]
    fn a_file_without_a_start_line_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, "").unwrap();
        let e = spawn(&[Source::new(&path)]).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("r.jsonl: empty record"), "{e}");
        let event = r#"{"type":"event","lane":null,"step":3,"t":0.5,"kind":"info","detail":"x"}"#;
        std::fs::write(&path, format!("{event}\n")).unwrap();
        let e = spawn(&[Source::new(&path)]).map(|_| ()).unwrap_err();
        assert!(
            e.to_string().contains("r.jsonl:1: a record must begin"),
            "{e}"
        );
    }
}
