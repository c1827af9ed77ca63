//! Where the trainer's output goes: the throttled outbox for observers and, on the trainer side,
//! the record file, which sees every step whatever the observers do. It also keeps the list of
//! what the run failed to save (record or checkpoints), which ends the run and its exit status.

use std::time::Instant;

use crate::record::Recorder;
use crate::task::{Metrics, TaskView};

use super::throttle::Outbox;
use crate::schema::{
    EvalLine, Event, EventKind, LaneId, LaneStatus, Line, Msg, PointLine, StartInfo, StartLine,
    StepRecord, Summary,
};

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
    /// The highest step reported so far (labels failures that belong to no step).
    last_step: u64,
    /// What the run failed to save, one sentence each.
    lost: Vec<String>,
}

impl Emitter {
    pub fn new(outbox: Outbox, recorder: Option<Recorder>, clock: Clock) -> Self {
        Self {
            outbox,
            recorder,
            clock,
            last_step: 0,
            lost: Vec::new(),
        }
    }

    /// What the run failed to save so far.
    pub fn lost(&self) -> &[String] {
        &self.lost
    }

    /// Notes data the run could not save and reports it as an error event.
    pub fn lose(&mut self, step: u64, what: String) {
        self.lost.push(what.clone());
        self.event(None, step, EventKind::Error, what);
    }

    pub fn hung_up(&self) -> bool {
        self.outbox.hung_up()
    }

    /// Writes a record line; a failed write ends the record (what it lost is noted).
    fn record(&mut self, line: &Line) {
        let Some(rec) = self.recorder.as_mut() else {
            return;
        };
        if let Err(e) = rec.write(line) {
            self.record_failed(&e);
        }
    }

    fn record_failed(&mut self, error: &std::io::Error) {
        if let Some(mut rec) = self.recorder.take() {
            let what = rec.abandon(error);
            self.lose(self.last_step, what);
        }
    }

    pub fn start(&mut self, info: StartInfo, line: Option<StartLine>) {
        if let Some(line) = line {
            self.record(&Line::Start(Box::new(line)));
        }
        self.outbox.send(Msg::Started(info));
    }

    pub fn step(&mut self, record: StepRecord) {
        self.last_step = self.last_step.max(record.step);
        if self.recorder.is_some() {
            self.record(&Line::Step(record.clone()));
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
            self.record_failed(&e);
        }
    }

    fn flush_record(&mut self) {
        if let Some(rec) = self.recorder.as_mut()
            && let Err(e) = rec.flush()
        {
            self.record_failed(&e);
        }
    }

    /// Sends and flushes everything now (before waiting for a command).
    pub fn flush(&mut self) {
        self.flush_record();
        self.outbox.flush();
    }

    /// The end: the summary line, the final flush, `Finished` delivered to the observer with
    /// everything the run failed to save (including a summary line that could not be written).
    pub fn finish(&mut self, result: Result<Summary, String>) {
        if let Ok(summary) = &result {
            self.record(&Line::Summary(summary.clone()));
        }
        self.flush_record();
        let result = match result {
            Ok(mut summary) => {
                summary.lost = self.lost.clone();
                Ok(summary)
            }
            Err(e) if self.lost.is_empty() => Err(e),
            Err(e) => Err(format!("{e}; also lost: {}", self.lost.join("; "))),
        };
        self.outbox.send(Msg::Finished(result));
        self.outbox.drain();
    }
}
