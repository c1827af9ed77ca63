//! A record turned back into the trainer's messages, so a finished run can be replayed by anything
//! that observes a live one (the dashboard).

use crate::train::msg::{EventKind, LaneStatus, Msg, RunState, StartInfo};

use super::{Line, StartLine};

/// The `Started` message a start line stands for.
pub fn start_info(start: &StartLine) -> StartInfo {
    StartInfo {
        preset: start.preset.clone(),
        task: start.task,
        task_title: start.task_title.clone(),
        n_params: start.n_params,
        seed: start.seed,
        batch_size: start.batch_size,
        max_steps: start.max_steps,
        eval_interval: start.eval_interval,
        pace: None,
        alternatives: start.config.alternatives.clone(),
        lanes: start
            .optimizers
            .iter()
            .enumerate()
            .map(|(lane, optimizer)| LaneStatus {
                lane,
                optimizer: optimizer.clone(),
                step: start.resumed_from_step.unwrap_or(0),
                state: RunState::Running,
                summary: Vec::new(),
            })
            .collect(),
    }
}

/// The messages of a record in order: `Started`, consecutive steps batched into one `Steps`,
/// evaluations, events (a resumed continuation becomes an info event), and `Finished` for the
/// summary.
pub fn messages(lines: &[Line]) -> Vec<Msg> {
    let mut out: Vec<Msg> = Vec::new();
    let mut started = false;
    for line in lines {
        match line {
            Line::Start(start) if !started => {
                started = true;
                out.push(Msg::Started(start_info(start)));
            }
            Line::Start(start) => {
                let step = start.resumed_from_step.unwrap_or(0);
                out.push(Msg::Event(crate::train::msg::Event {
                    lane: None,
                    step,
                    t: 0.0,
                    kind: EventKind::Info,
                    detail: format!("resumed from a checkpoint at step {step}"),
                }));
            }
            Line::Step(s) => match out.last_mut() {
                Some(Msg::Steps(batch)) => batch.push(s.to_record()),
                _ => out.push(Msg::Steps(vec![s.to_record()])),
            },
            Line::Eval(e) => out.push(Msg::Eval {
                lane: e.lane,
                step: e.step,
                t: e.t,
                metrics: e.metrics.clone(),
            }),
            Line::Event(e) => out.push(Msg::Event(e.clone())),
            Line::Summary(s) => out.push(Msg::Finished(Ok(s.clone()))),
        }
    }
    out
}
