//! The history a late viewer is sent before the live stream, kept bounded however long the run.
//!
//! It keeps what the dashboard needs to draw the same picture as a viewer that watched from the
//! start: the latest `Started`, every evaluation, the newest events, the latest lane states, pace
//! and task views, the result, and each lane's steps and trajectory points thinned to at most
//! [`KEPT_PER_LANE`] (every k-th, k doubling as the run grows, the newest always kept) and
//! [`SENT_IN_ALL`] over all lanes. Replayed in
//! arrival order after `Started`, these reproduce the dashboard's state: a race's second
//! `Started` forgets every lane but 0 here just as it does there.

use std::collections::{BTreeMap, VecDeque};

use crate::schema::LaneId;
use crate::task::TaskView;
use crate::train::{Event, LaneStatus, Msg, StartInfo, StepRecord, Summary};

/// Step records (and points) kept per lane. The dashboard's charts hold 1,024 buckets per
/// resolution level, so 16 kept steps per bucket draw the same curve.
pub const KEPT_PER_LANE: usize = 16_384;
/// Step records (and points) sent in all, whatever the number of lanes: a race of several lanes
/// sends every few of each lane's kept steps. At ~250 bytes a record, a snapshot stays at a few
/// megabytes, which a viewer reads in well under a second.
pub const SENT_IN_ALL: usize = 16_384;
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

    fn len(&self) -> usize {
        self.kept.len() + usize::from(self.newest.is_some())
    }

    /// Every `every`-th kept item, the pinned ones and the newest.
    fn items(&self, every: usize) -> impl Iterator<Item = (u64, &T)> {
        self.kept
            .iter()
            .enumerate()
            .filter(move |(i, k)| k.3 || i % every == 0)
            .map(|(_, k)| k)
            .chain(&self.newest)
            .map(|(seq, _, item, _)| (*seq, item))
    }
}

/// Send every how-many-th kept item so that `kept` items come down to about [`SENT_IN_ALL`].
fn share(kept: usize) -> usize {
    kept.div_ceil(SENT_IN_ALL).max(1)
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
            // A moment's reading, not history: a joining viewer gets the next one.
            Msg::System(_) => {}
        }
    }

    /// The history as messages, in an order that rebuilds the dashboard's state.
    pub fn messages(&self) -> Vec<Msg> {
        let mut pieces: Vec<(u64, Piece)> = Vec::new();
        let every = share(self.steps.values().map(Thinned::len).sum());
        for series in self.steps.values() {
            pieces.extend(
                series
                    .items(every)
                    .map(|(s, r)| (s, Piece::Step(r.clone()))),
            );
        }
        let every = share(self.points.values().map(Thinned::len).sum());
        for series in self.points.values() {
            pieces.extend(series.items(every).map(|(s, &p)| (s, Piece::Point(p))));
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::optim::OptimizerSpec;
    use crate::task::{Heatmap, TaskKind};
    use crate::train::{EventKind, RunState};
    use crate::ui::app::App;
    use crate::ui::theme::Theme;

    fn status(lane: LaneId, name: &str, step: u64, state: RunState) -> LaneStatus {
        LaneStatus {
            lane,
            optimizer: OptimizerSpec::named(name),
            step,
            state,
            summary: vec![],
        }
    }

    fn started(lanes: Vec<LaneStatus>) -> Msg {
        Msg::Started(StartInfo {
            preset: "quadratic".into(),
            task: TaskKind::Quadratic,
            task_title: "quadratic".into(),
            n_params: 100,
            seed: 0,
            batch_size: None,
            max_steps: None,
            eval_interval: 100,
            pace: Some(2000.0),
            alternatives: vec![],
            lanes,
            face: None,
        })
    }

    fn record(lane: LaneId, step: u64) -> StepRecord {
        // A loss that differs at every step, so "the newest loss" is checked for real.
        crate::testkit::lodo_step(lane, step, 1e-3, 1.0 / (step as f32 + lane as f32 + 1.0))
    }

    fn event(lane: Option<LaneId>, step: u64, kind: EventKind, detail: &str) -> Msg {
        Msg::Event(Event {
            lane,
            step,
            t: step as f64 * 1e-3,
            kind,
            detail: detail.into(),
        })
    }

    /// A run with everything the dashboard draws: two lanes, evaluations, events, a pace change,
    /// a heat map, points, then a race into three lanes, a divergence, and a finish.
    fn stream() -> Vec<Msg> {
        let mut msgs = vec![started(vec![
            status(0, "lodo", 0, RunState::Running),
            status(1, "adam", 0, RunState::Running),
        ])];
        let eval = |lane, step| Msg::Eval {
            lane,
            step,
            t: step as f64 * 1e-3,
            metrics: [("hessian_error".to_string(), 1.0 / step as f64)].into(),
        };
        let mut step = 0;
        let batch = |lanes: &[LaneId], msgs: &mut Vec<Msg>, step: &mut u64, n: u64| {
            for _ in 0..n / 50 {
                let mut records = Vec::new();
                let mut points = Vec::new();
                for _ in 0..50 {
                    *step += 1;
                    for &l in lanes {
                        records.push(record(l, *step));
                        points.push((l, *step, [*step as f32, l as f32]));
                    }
                }
                msgs.push(Msg::Steps(records));
                msgs.push(Msg::Points(points));
                if step.is_multiple_of(100) {
                    msgs.extend(lanes.iter().map(|&l| eval(l, *step)));
                }
            }
        };
        batch(&[0, 1], &mut msgs, &mut step, 40_000);
        msgs.push(event(Some(1), step, EventKind::Lr, "lr 1 -> 2"));
        msgs.push(Msg::Pace(None));
        let heatmap = Heatmap {
            x_range: (0.0, 1.0),
            y_range: (0.0, 1.0),
            width: 2,
            height: 1,
            values: vec![1.0, 2.0],
            minimum: [0.5, 0.5],
        };
        msgs.push(Msg::View {
            lane: None,
            view: TaskView::Heatmap(heatmap),
        });
        batch(&[0, 1], &mut msgs, &mut step, 10_000);
        msgs.push(event(None, step, EventKind::Race, "race"));
        let raced = [
            status(0, "lodo", step, RunState::Running),
            status(1, "sgd", step, RunState::Running),
            status(2, "adam", step, RunState::Running),
        ];
        msgs.push(started(raced.to_vec()));
        msgs.push(Msg::Lanes(raced.to_vec()));
        batch(&[0, 1, 2], &mut msgs, &mut step, 20_000);
        msgs.push(event(Some(2), step, EventKind::Diverged, "non-finite loss"));
        let mut lanes = raced.to_vec();
        lanes[2].state = RunState::Diverged;
        msgs.push(Msg::Lanes(lanes));
        batch(&[0, 1], &mut msgs, &mut step, 5_000);
        msgs
    }

    /// What a viewer must see the same whichever way it learnt the history.
    fn picture(app: &App) -> String {
        let m = &app.model;
        let lanes: Vec<String> = m
            .lanes
            .iter()
            .map(|l| {
                let last = l.last_step.as_ref().map(|r| (r.step, r.loss.to_bits()));
                let evals: Vec<_> = l
                    .evals
                    .iter()
                    .chain(&l.evals_by_grad_evals)
                    .map(|(k, s)| (k.clone(), s.len(), s.last()))
                    .collect();
                let span = l.loss.x_span();
                format!(
                    "{:?} {last:?} {evals:?} {:?} {span:?} {:?} {:?}",
                    l.status,
                    l.last_metrics,
                    l.trail.last(),
                    l.layer_hypergrad
                )
            })
            .collect();
        format!(
            "{lanes:#?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
            m.events,
            m.rules,
            m.pace,
            m.heatmap,
            m.finished,
            m.phase(),
            m.t
        )
    }

    fn apply_all(msgs: impl IntoIterator<Item = Msg>) -> App {
        let mut app = App::new(Theme::new(true, false));
        for m in msgs {
            app.apply(m);
        }
        app
    }

    #[test]
    fn snapshot_and_tail_draw_what_watching_live_drew() {
        let msgs = stream();
        let live = apply_all(msgs.clone());
        // Attach at several points: before the race, right after it, and near the end.
        for cut in [msgs.len() / 3, msgs.len() * 2 / 3 - 1, msgs.len() - 3] {
            let mut snapshot = Snapshot::default();
            msgs[..cut].iter().for_each(|m| snapshot.record(m));
            let attached = apply_all(snapshot.messages().into_iter().chain(msgs[cut..].to_vec()));
            assert_eq!(
                picture(&attached),
                picture(&live),
                "attached after {cut} messages"
            );
        }
        let mut whole = Snapshot::default();
        msgs.iter().for_each(|m| whole.record(m));
        assert_eq!(picture(&apply_all(whole.messages())), picture(&live));
    }

    #[test]
    fn a_million_steps_make_a_snapshot_of_a_few_megabytes() {
        let mut snapshot = Snapshot::default();
        snapshot.record(&started(vec![status(0, "lodo", 0, RunState::Running)]));
        for start in (0..1_000_000u64).step_by(1000) {
            let records = (start + 1..=start + 1000).map(|s| record(0, s)).collect();
            snapshot.record(&Msg::Steps(records));
        }
        let began = Instant::now();
        let msgs = snapshot.messages();
        let frames: Vec<_> = crate::run::hub::snapshot_frames(&msgs).collect();
        let encoded = began.elapsed();
        let bytes: usize = frames.iter().map(|f| f.len()).sum();
        let decoded: Vec<Msg> = frames
            .iter()
            .map(|f| match crate::run::protocol::decode(&f[4..]) {
                Ok(crate::run::protocol::ToViewer::Msg(m)) => m,
                other => panic!("not a message: {other:?}"),
            })
            .collect();
        let steps: Vec<u64> = decoded
            .iter()
            .filter_map(|m| match m {
                Msg::Steps(r) => Some(r.iter().map(|r| r.step)),
                _ => None,
            })
            .flatten()
            .collect();
        eprintln!(
            "1,000,000 steps: {} kept, {} frames, {bytes} bytes, built and encoded in {:?}, \
             decoded in {:?}",
            steps.len(),
            frames.len(),
            encoded,
            began.elapsed() - encoded
        );
        assert!(steps.len() <= KEPT_PER_LANE + 1, "{} kept", steps.len());
        assert!(steps.len() > KEPT_PER_LANE / 2, "{} kept", steps.len());
        assert_eq!(steps.first(), Some(&1), "the first step is kept");
        assert_eq!(steps.last(), Some(&1_000_000), "the newest step is kept");
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "in order");
        assert!(bytes < 8 << 20, "{bytes} bytes");
    }

    #[test]
    fn a_race_of_many_lanes_shares_one_budget() {
        let mut snapshot = Snapshot::default();
        let lanes: Vec<LaneId> = (0..4).collect();
        for start in (0..30_000u64).step_by(100) {
            let records = (start + 1..=start + 100)
                .flat_map(|s| lanes.iter().map(move |&l| record(l, s)))
                .collect();
            snapshot.record(&Msg::Steps(records));
        }
        let sent: Vec<(LaneId, u64)> = snapshot
            .messages()
            .iter()
            .filter_map(|m| match m {
                Msg::Steps(r) => Some(r.iter().map(|r| (r.lane, r.step))),
                _ => None,
            })
            .flatten()
            .collect();
        assert!(
            sent.len() <= SENT_IN_ALL + lanes.len(),
            "{} sent",
            sent.len()
        );
        for lane in lanes {
            let of_lane: Vec<u64> = sent.iter().filter(|s| s.0 == lane).map(|s| s.1).collect();
            assert!(
                of_lane.len() > SENT_IN_ALL / 8,
                "lane {lane}: {}",
                of_lane.len()
            );
            assert_eq!(
                of_lane.last(),
                Some(&30_000),
                "lane {lane} ends at its newest step"
            );
        }
    }

    #[test]
    fn thinning_keeps_every_kth_pinned_items_and_the_newest() {
        let mut t = Thinned::default();
        for i in 0..(3 * KEPT_PER_LANE as u64) {
            t.push(i, i);
            if i == 7 {
                t.pin_newest();
            }
        }
        let items: Vec<u64> = t.items(1).map(|(_, &i)| i).collect();
        // 3·K arrivals overflow K twice: every 4th is kept, plus pinned 7 and the newest.
        assert!(items.contains(&7));
        assert_eq!(items.last(), Some(&(3 * KEPT_PER_LANE as u64 - 1)));
        let thinned: Vec<u64> = items.iter().copied().filter(|&i| i != 7).collect();
        let body = &thinned[..thinned.len() - 1];
        assert!(body.iter().all(|i| i % 4 == 0), "stride 4");
        assert_eq!(body.len(), 3 * KEPT_PER_LANE / 4);
    }
}
