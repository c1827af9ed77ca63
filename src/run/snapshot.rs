//! The history a late viewer is sent before the live stream, kept bounded however long the run.
//!
//! It keeps what the dashboard needs to draw the same picture as a viewer that watched from the
//! start: the latest `Started`, every evaluation, the newest events, the latest lane states, pace
//! and task views, the result, and each lane's steps and trajectory points thinned to at most
//! [`KEPT_PER_LANE`] (every k-th, k doubling as the run grows, the newest always kept). Replayed in
//! arrival order after `Started`, these reproduce the dashboard's state: a race's second
//! `Started` forgets every lane but 0 here just as it does there.

use std::collections::{BTreeMap, VecDeque};

use crate::task::TaskView;
use crate::train::msg::LaneId;
use crate::train::{Event, LaneStatus, Msg, StartInfo, StepRecord, Summary};

/// Step records (and points) kept per lane. The dashboard's charts hold 1,024 buckets per
/// resolution level, so 16 kept steps per bucket draw the same curve; at ~300 bytes a record this
/// bounds a snapshot to a few megabytes.
pub const KEPT_PER_LANE: usize = 16_384;
/// Events kept (the dashboard's log shows the last 500; its chart rules, the last 256).
pub const KEPT_EVENTS: usize = 1_024;
/// Step records per `Msg::Steps` the snapshot sends, so each frame stays small.
pub const STEPS_PER_MSG: usize = 4_096;

type Point = (LaneId, u64, [f32; 2]);

/// A series thinned to every `stride`-th item, plus pinned items and the newest one.
#[derive(Debug)]
struct Thinned<T> {
    /// `(seq, arrival index, item, pinned)`.
    kept: Vec<(u64, u64, T, bool)>,
    newest: Option<(u64, u64, T, bool)>,
    arrivals: u64,
    stride: u64,
    unpinned: usize,
}

impl<T> Default for Thinned<T> {
    fn default() -> Self {
        Self {
            kept: Vec::new(),
            newest: None,
            arrivals: 0,
            stride: 1,
            unpinned: 0,
        }
    }
}

impl<T: Clone> Thinned<T> {
    fn push(&mut self, seq: u64, item: T) {
        if let Some((s, i, prev, pinned)) = self.newest.take()
            && (pinned || i % self.stride == 0)
        {
            self.unpinned += usize::from(!pinned);
            self.kept.push((s, i, prev, pinned));
            if self.unpinned > KEPT_PER_LANE {
                self.stride *= 2;
                let stride = self.stride;
                self.kept.retain(|&(_, i, _, p)| p || i % stride == 0);
                self.unpinned = self.kept.iter().filter(|k| !k.3).count();
            }
        }
        self.newest = Some((seq, self.arrivals, item, false));
        self.arrivals += 1;
    }

    /// Keeps the newest item whatever the thinning (an evaluation refers to it).
    fn pin_newest(&mut self) {
        if let Some(newest) = &mut self.newest {
            newest.3 = true;
        }
    }

    fn newest(&self) -> Option<&T> {
        self.newest.as_ref().map(|n| &n.2)
    }

    fn items(&self) -> impl Iterator<Item = (u64, &T)> {
        self.kept
            .iter()
            .chain(&self.newest)
            .map(|(seq, _, item, _)| (*seq, item))
    }
}

/// One replayable piece of history, ordered by its arrival number.
enum Piece {
    Step(StepRecord),
    Point(Point),
    Whole(Msg),
}

#[derive(Debug, Default)]
pub struct Snapshot {
    /// Arrival number of the next stored item.
    seq: u64,
    started: Option<StartInfo>,
    /// Messages superseded by a newer one of their kind (or by a new `Started`).
    pace: Option<(u64, Option<f64>)>,
    lanes: Option<(u64, Vec<LaneStatus>)>,
    views: BTreeMap<(Option<LaneId>, u8), (u64, TaskView)>,
    steps: BTreeMap<LaneId, Thinned<StepRecord>>,
    points: BTreeMap<LaneId, Thinned<Point>>,
    evals: Vec<(u64, Msg)>,
    events: VecDeque<(u64, Event)>,
    finished: Option<Result<Summary, String>>,
}

impl Snapshot {
    fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Takes note of a message the trainer sent.
    pub fn record(&mut self, msg: &Msg) {
        match msg {
            Msg::Started(info) => {
                if self.started.is_some() {
                    // A race replaced the lanes: lane 0 continues, the others start afresh.
                    self.steps.retain(|&lane, _| lane == 0);
                    self.points.retain(|&lane, _| lane == 0);
                    self.evals
                        .retain(|(_, m)| matches!(m, Msg::Eval { lane: 0, .. }));
                }
                self.pace = None;
                self.lanes = None;
                self.started = Some(info.clone());
            }
            Msg::Steps(records) => {
                for r in records {
                    let seq = self.next();
                    self.steps.entry(r.lane).or_default().push(seq, r.clone());
                }
            }
            Msg::Points(points) => {
                for &p in points {
                    let seq = self.next();
                    self.points.entry(p.0).or_default().push(seq, p);
                }
            }
            Msg::Eval { lane, step, .. } => {
                if let Some(steps) = self.steps.get_mut(lane)
                    && steps.newest().is_some_and(|r| r.step == *step)
                {
                    steps.pin_newest();
                }
                let seq = self.next();
                self.evals.push((seq, msg.clone()));
            }
            Msg::View { lane, view } => {
                let kind = match view {
                    TaskView::Heatmap(_) => 0,
                    TaskView::Digits(_) => 1,
                };
                let seq = self.next();
                self.views.insert((*lane, kind), (seq, view.clone()));
            }
            Msg::Event(event) => {
                let seq = self.next();
                if self.events.len() == KEPT_EVENTS {
                    self.events.pop_front();
                }
                self.events.push_back((seq, event.clone()));
            }
            Msg::Pace(pace) => self.pace = Some((self.next(), *pace)),
            Msg::Lanes(lanes) => self.lanes = Some((self.next(), lanes.clone())),
            Msg::Finished(result) => self.finished = Some(result.clone()),
        }
    }

    /// The history as messages, in an order that rebuilds the dashboard's state.
    pub fn messages(&self) -> Vec<Msg> {
        let mut pieces: Vec<(u64, Piece)> = Vec::new();
        for series in self.steps.values() {
            pieces.extend(series.items().map(|(s, r)| (s, Piece::Step(r.clone()))));
        }
        for series in self.points.values() {
            pieces.extend(series.items().map(|(s, &p)| (s, Piece::Point(p))));
        }
        pieces.extend(
            self.evals
                .iter()
                .map(|(s, m)| (*s, Piece::Whole(m.clone()))),
        );
        pieces.extend(
            self.events
                .iter()
                .map(|(s, e)| (*s, Piece::Whole(Msg::Event(e.clone())))),
        );
        pieces.extend(self.views.iter().map(|(&(lane, _), (s, view))| {
            let view = view.clone();
            (*s, Piece::Whole(Msg::View { lane, view }))
        }));
        if let Some((s, pace)) = self.pace {
            pieces.push((s, Piece::Whole(Msg::Pace(pace))));
        }
        if let Some((s, lanes)) = &self.lanes {
            pieces.push((*s, Piece::Whole(Msg::Lanes(lanes.clone()))));
        }
        pieces.sort_unstable_by_key(|(s, _)| *s);

        let mut out: Vec<Msg> = self.started.iter().cloned().map(Msg::Started).collect();
        for (_, piece) in pieces {
            match (piece, out.last_mut()) {
                (Piece::Step(r), Some(Msg::Steps(batch))) if batch.len() < STEPS_PER_MSG => {
                    batch.push(r)
                }
                (Piece::Step(r), _) => out.push(Msg::Steps(vec![r])),
                (Piece::Point(p), Some(Msg::Points(batch))) if batch.len() < STEPS_PER_MSG => {
                    batch.push(p)
                }
                (Piece::Point(p), _) => out.push(Msg::Points(vec![p])),
                (Piece::Whole(m), _) => out.push(m),
            }
        }
        out.extend(self.finished.iter().cloned().map(Msg::Finished));
        out
    }
}
