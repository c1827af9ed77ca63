//! A record turned back into the trainer's messages, so a finished run can be replayed by anything
//! that observes a live one (the dashboard).

use crate::schema::{Event, EventKind, LaneId, Line, Msg, StepRecord};

type Point = (LaneId, u64, [f32; 2]);

/// The messages of a record in order: `Started`; a run of consecutive step and point lines as one
/// `Steps` followed by one `Points` (as the trainer batches them); evaluations, events (a resumed
/// continuation becomes an info event), and `Finished` for the summary.
pub fn messages(lines: &[Line]) -> Vec<Msg> {
    let mut out: Vec<Msg> = Vec::new();
    let mut steps = Vec::new();
    let mut points = Vec::new();
    let mut started = false;
    for line in lines {
        match line {
            Line::Step(s) => {
                steps.push(s.clone());
                continue;
            }
            Line::Point(p) => {
                points.push((p.lane, p.step, p.xy));
                continue;
            }
            _ => flush(&mut out, &mut steps, &mut points),
        }
        match line {
            Line::Start(start) if !started => {
                started = true;
                out.push(Msg::Started(start.info()));
            }
            Line::Start(start) => {
                let step = start.resumed_from_step.unwrap_or(0);
                out.push(Msg::Event(Event {
                    lane: None,
                    step,
                    t: 0.0,
                    kind: EventKind::Info,
                    detail: format!("resumed from a checkpoint at step {step}"),
                }));
            }
            Line::Eval(e) => out.push(Msg::Eval {
                lane: e.lane,
                step: e.step,
                t: e.t,
                metrics: e.metrics.clone(),
            }),
            Line::Event(e) => out.push(Msg::Event(e.clone())),
            Line::Summary(s) => out.push(Msg::Finished(Ok(s.clone()))),
            Line::Step(_) | Line::Point(_) => {}
        }
    }
    flush(&mut out, &mut steps, &mut points);
    out
}

/// Appends the pending steps and points as one message each.
fn flush(out: &mut Vec<Msg>, steps: &mut Vec<StepRecord>, points: &mut Vec<Point>) {
    if !steps.is_empty() {
        out.push(Msg::Steps(std::mem::take(steps)));
    }
    if !points.is_empty() {
        out.push(Msg::Points(std::mem::take(points)));
    }
}
