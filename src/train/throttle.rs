//! The trainer's outbox: batches step records into at most one `Msg::Steps` per interval and
//! never blocks training on a slow observer.
//!
//! Messages go through a bounded channel with `try_send`. What the channel cannot take waits in
//! an ordered backlog; while it waits, new steps and points join the last batch in the backlog,
//! a newer view replaces an older one of the same kind, and if a stalled observer lets the batched
//! steps grow past a cap they are thinned (every other record dropped). Only the UI copy is
//! thinned: the recorder is written on the trainer side and sees every step. Events, evaluations,
//! lane states and the final result are never dropped.

use std::collections::VecDeque;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::schema::{LaneId, Msg, StepRecord};
use crate::task::TaskView;

/// Channel capacity in messages (several seconds of batches at 50 per second).
pub const CAPACITY: usize = 512;
/// Default batching interval: at most ~50 step messages per second.
pub const INTERVAL: Duration = Duration::from_millis(20);
/// Batched step records (or points) waiting for a stalled observer beyond which they are thinned.
pub const MAX_WAITING: usize = 200_000;

pub struct Outbox {
    tx: SyncSender<Msg>,
    backlog: VecDeque<Msg>,
    steps: Vec<StepRecord>,
    points: Vec<(LaneId, u64, [f32; 2])>,
    interval: Duration,
    last_send: Instant,
    hung_up: bool,
}

impl Outbox {
    pub fn new(tx: SyncSender<Msg>, interval: Duration) -> Self {
        Self {
            tx,
            backlog: VecDeque::new(),
            steps: Vec::new(),
            points: Vec::new(),
            interval,
            last_send: Instant::now(),
            hung_up: false,
        }
    }

    /// Whether the observer has dropped its receiver.
    pub fn hung_up(&self) -> bool {
        self.hung_up
    }

    pub fn step(&mut self, record: StepRecord) {
        self.steps.push(record);
        self.tick();
    }

    pub fn point(&mut self, lane: LaneId, step: u64, xy: [f32; 2]) {
        self.points.push((lane, step, xy));
    }

    /// Sends a message after everything batched before it, so observers see events in order.
    pub fn send(&mut self, msg: Msg) {
        self.batch_into_backlog();
        if let Msg::View { lane, view } = &msg {
            let same = |m: &Msg| matches!(m, Msg::View { lane: l, view: v } if l == lane && same_kind(v, view));
            self.backlog.retain(|m| !same(m));
        }
        self.backlog.push_back(msg);
        self.pump();
    }

    /// Sends the batch if the interval has passed since the last send.
    pub fn tick(&mut self) {
        if self.last_send.elapsed() >= self.interval {
            self.flush();
        }
    }

    /// Sends the batch now.
    pub fn flush(&mut self) {
        self.batch_into_backlog();
        self.pump();
    }

    /// Delivers everything, waiting for room in the channel, until done or the observer hangs up.
    pub fn drain(&mut self) {
        self.flush();
        while !self.backlog.is_empty() && !self.hung_up {
            std::thread::sleep(Duration::from_millis(2));
            self.pump();
        }
    }

    fn batch_into_backlog(&mut self) {
        self.last_send = Instant::now();
        if !self.steps.is_empty() {
            let steps = std::mem::take(&mut self.steps);
            match self.backlog.back_mut() {
                Some(Msg::Steps(waiting)) => waiting.extend(steps),
                _ => self.backlog.push_back(Msg::Steps(steps)),
            }
        }
        if !self.points.is_empty() {
            let points = std::mem::take(&mut self.points);
            match self.backlog.back_mut() {
                Some(Msg::Points(waiting)) => waiting.extend(points),
                _ => self.backlog.push_back(Msg::Points(points)),
            }
        }
        self.thin_if_stalled();
    }

    fn pump(&mut self) {
        while let Some(msg) = self.backlog.pop_front() {
            match self.tx.try_send(msg) {
                Ok(()) => {}
                Err(TrySendError::Full(msg)) => {
                    self.backlog.push_front(msg);
                    break;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.hung_up = true;
                    self.backlog.clear();
                    break;
                }
            }
        }
    }

    fn thin_if_stalled(&mut self) {
        let (mut steps, mut points) = (0, 0);
        for msg in &self.backlog {
            match msg {
                Msg::Steps(v) => steps += v.len(),
                Msg::Points(v) => points += v.len(),
                _ => {}
            }
        }
        for msg in &mut self.backlog {
            match msg {
                Msg::Steps(v) if steps > MAX_WAITING => keep_every_other(v),
                Msg::Points(v) if points > MAX_WAITING => keep_every_other(v),
                _ => {}
            }
        }
    }

    #[cfg(test)]
    pub fn backlog_len(&self) -> usize {
        self.backlog.len()
    }
}

fn same_kind(a: &TaskView, b: &TaskView) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn keep_every_other<T>(v: &mut Vec<T>) {
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        i % 2 == 1
    });
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::sync_channel;

    use super::*;
    use crate::optim::StepStats;
    use crate::schema::{Event, EventKind};
    use crate::task::Digits;

    fn record(step: u64) -> StepRecord {
        StepRecord {
            lane: 0,
            step,
            grad_evals: Some(step),
            t: 0.0,
            optimizer: "sgd".into(),
            loss: 1.0,
            stats: StepStats::default(),
        }
    }

    fn event(step: u64) -> Msg {
        Msg::Event(Event {
            lane: None,
            step,
            t: 0.0,
            kind: EventKind::Info,
            detail: String::new(),
        })
    }

    #[test]
    fn batches_steps_until_the_interval_passes() {
        let (tx, rx) = sync_channel(CAPACITY);
        let mut out = Outbox::new(tx, Duration::from_secs(3600));
        for s in 1..=1000 {
            out.step(record(s));
        }
        assert!(rx.try_recv().is_err(), "nothing sent before the interval");
        out.flush();
        match rx.try_recv().unwrap() {
            Msg::Steps(v) => assert_eq!(v.len(), 1000),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_follow_the_steps_before_them() {
        let (tx, rx) = sync_channel(CAPACITY);
        let mut out = Outbox::new(tx, Duration::from_secs(3600));
        out.step(record(1));
        out.send(event(1));
        out.step(record(2));
        out.flush();
        let got: Vec<Msg> = rx.try_iter().collect();
        assert!(matches!(&got[0], Msg::Steps(v) if v[0].step == 1));
        assert!(matches!(&got[1], Msg::Event(e) if e.step == 1));
        assert!(matches!(&got[2], Msg::Steps(v) if v[0].step == 2));
    }

    #[test]
    fn a_stalled_observer_never_blocks_and_loses_no_event() {
        // Capacity 1 and nobody reading: everything beyond the first message waits.
        let (tx, rx) = sync_channel(1);
        let mut out = Outbox::new(tx, Duration::ZERO);
        for s in 1..=(3 * MAX_WAITING as u64) {
            out.step(record(s));
            if s % 100_000 == 0 {
                out.send(event(s));
            }
        }
        // Steps after the last event coalesce into one waiting batch, thinned to the cap.
        assert!(out.backlog_len() <= 2 * 6 + 1, "{}", out.backlog_len());
        out.send(Msg::Finished(Err("end".into())));
        // Now the observer reads everything.
        let reader = std::thread::spawn(move || rx.iter().collect::<Vec<Msg>>());
        out.drain();
        drop(out);
        let got = reader.join().unwrap();
        let events = got.iter().filter(|m| matches!(m, Msg::Event(_))).count();
        assert_eq!(events, 6);
        assert!(matches!(got.last(), Some(Msg::Finished(_))));
        let steps: Vec<u64> = got
            .iter()
            .filter_map(|m| match m {
                Msg::Steps(v) => Some(v.iter().map(|r| r.step)),
                _ => None,
            })
            .flatten()
            .collect();
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "in order");
        assert!(steps.len() < 3 * MAX_WAITING, "thinned");
        assert_eq!(steps[0], 1);
    }

    #[test]
    fn newer_views_replace_waiting_ones() {
        let (tx, rx) = sync_channel(1);
        let mut out = Outbox::new(tx, Duration::ZERO);
        out.send(event(0)); // fills the channel
        let digits = |done| {
            TaskView::Digits(Digits {
                rows: 1,
                cols: 1,
                count: 1,
                pixels: vec![0],
                pixels_done: done,
            })
        };
        for done in 0..10 {
            out.send(Msg::View {
                lane: None,
                view: digits(done),
            });
        }
        assert_eq!(out.backlog_len(), 1);
        assert!(matches!(rx.recv().unwrap(), Msg::Event(_)));
        out.drain();
        assert_eq!(
            rx.recv().unwrap(),
            Msg::View {
                lane: None,
                view: digits(9)
            }
        );
    }

    #[test]
    fn notices_when_the_observer_hangs_up() {
        let (tx, rx) = sync_channel(CAPACITY);
        let mut out = Outbox::new(tx, Duration::ZERO);
        drop(rx);
        out.step(record(1));
        assert!(out.hung_up());
    }
}
