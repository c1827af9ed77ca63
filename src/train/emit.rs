//! Where the trainer's output goes: the throttled outbox for observers and, on the trainer side,
//! the record file, which sees every step whatever the observers do.

use std::time::Instant;

use crate::record::{EvalLine, Line, PointLine, Recorder, StartLine, StepLine};
use crate::task::{Metrics, TaskView};

use super::msg::{Event, EventKind, LaneId, LaneStatus, Msg, StartInfo, StepRecord, Summary};
use super::throttle::Outbox;

/// Seconds since the run started, continuing across resumes.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
    offset: f64,
}

impl Clock {
    pub fn starting_at(offset: f64) -> Self {
        Self {
            start: Instant::now(),
            offset,
        }
    }

    pub fn now(&self) -> f64 {
        self.offset + self.start.elapsed().as_secs_f64()
    }
}

pub struct Emitter {
    outbox: Outbox,
    recorder: Option<Recorder>,
    pub clock: Clock,
}

impl Emitter {
    pub fn new(outbox: Outbox, recorder: Option<Recorder>, clock: Clock) -> Self {
        Self {
            outbox,
            recorder,
            clock,
        }
    }

    pub fn hung_up(&self) -> bool {
        self.outbox.hung_up()
    }

    /// Writes a record line; a failing disk stops the record (with an event saying so) rather
    /// than the run.
    fn record(&mut self, line: &Line) {
        let Some(rec) = self.recorder.as_mut() else {
            return;
        };
        if let Err(e) = rec.write(line) {
            let detail = format!(
                "cannot write the record {}: {e}; recording stopped",
                rec.path().display()
            );
            self.recorder = None;
            self.event(None, 0, EventKind::Error, detail);
        }
    }

    pub fn start(&mut self, info: StartInfo, line: Option<StartLine>) {
        if let Some(line) = line {
            self.record(&Line::Start(Box::new(line)));
        }
        self.outbox.send(Msg::Started(info));
    }

    pub fn step(&mut self, record: StepRecord) {
        if self.recorder.is_some() {
            self.record(&Line::Step(StepLine::from(&record)));
        }
        self.outbox.step(record);
    }

    pub fn point(&mut self, lane: LaneId, step: u64, xy: [f32; 2]) {
        if self.recorder.is_some() {
            self.record(&Line::Point(PointLine { lane, step, xy }));
        }
        self.outbox.point(lane, step, xy);
    }

    pub fn event(&mut self, lane: Option<LaneId>, step: u64, kind: EventKind, detail: String) {
        let event = Event {
            lane,
            step,
            t: self.clock.now(),
            kind,
            detail,
        };
        if self.recorder.is_some() {
            self.record(&Line::Event(event.clone()));
        }
        self.outbox.send(Msg::Event(event));
    }

    pub fn eval(&mut self, lane: LaneId, step: u64, metrics: Metrics) {
        let t = self.clock.now();
        if self.recorder.is_some() {
            self.record(&Line::Eval(EvalLine {
                lane,
                step,
                t,
                metrics: metrics.clone(),
            }));
        }
        self.outbox.send(Msg::Eval {
            lane,
            step,
            t,
            metrics,
        });
    }

    pub fn lanes(&mut self, lanes: Vec<LaneStatus>) {
        self.outbox.send(Msg::Lanes(lanes));
    }

    pub fn pace(&mut self, pace: Option<f64>) {
        self.outbox.send(Msg::Pace(pace));
    }

    pub fn view(&mut self, lane: Option<LaneId>, view: TaskView) {
        self.outbox.send(Msg::View { lane, view });
    }

    /// Periodic housekeeping: sends the step batch and flushes the record when due.
    pub fn tick(&mut self) {
        self.outbox.tick();
        if let Some(rec) = self.recorder.as_mut()
            && let Err(e) = rec.flush_if_due()
        {
            let detail = format!(
                "cannot write the record {}: {e}; recording stopped",
                rec.path().display()
            );
            self.recorder = None;
            self.event(None, 0, EventKind::Error, detail);
        }
    }

    fn flush_record(&mut self) {
        if let Some(rec) = self.recorder.as_mut()
            && let Err(e) = rec.flush()
        {
            let detail = format!("cannot write the record {}: {e}", rec.path().display());
            self.recorder = None;
            self.event(None, 0, EventKind::Error, detail);
        }
    }

    /// Sends and flushes everything now (before waiting for a command).
    pub fn flush(&mut self) {
        self.flush_record();
        self.outbox.flush();
    }

    /// The end: the summary line, the final flush, `Finished` delivered to the observer.
    pub fn finish(&mut self, result: Result<Summary, String>) {
        if let Ok(summary) = &result {
            self.record(&Line::Summary(summary.clone()));
        }
        self.flush_record();
        self.outbox.send(Msg::Finished(result));
        self.outbox.drain();
    }
}
