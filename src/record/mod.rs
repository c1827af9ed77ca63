//! The JSONL run record (`--record FILE.jsonl`): one JSON object per line, tagged by `type`.
//!
//! ```text
//! {"type":"start","version":"0.1.0","preset":"mnist","task":"mnist-ar","n_params":94696,…}
//! {"type":"step","lane":0,"step":12,"grad_evals":12,"t":3.21,"optimizer":"lodo","loss":2.31,…}
//! {"type":"eval","lane":0,"step":500,"t":…,"metrics":{"val_loss":0.91}}
//! {"type":"event","lane":0,"step":5000,"t":…,"kind":"switch","detail":"lodo -> adam"}
//! {"type":"point","lane":0,"step":12,"xy":[0.41,1.3]}
//! {"type":"summary","lanes":[{"optimizer":"lodo","steps":10000,"final_loss":…,…}],…}
//! ```
//! The first line is always a `start` line. A resumed run appending to its record adds another
//! `start` line with `resumed_from_step`. Non-finite numbers are written as `null`. Two-dimensional
//! tasks (Rosenbrock) add a `point` line per step with the lane's position after it, and one for
//! each lane's position when it starts (step 0, or the step a race forked it at).
//!
//! A step line's `grad_evals` is the lane's cumulative count of gradient evaluations (one per step
//! plus the optimizer's same-minibatch re-evaluations: two per step for L-BFGS and O-LBFGS).
//! Records written before the count existed, and runs resumed from checkpoints written before
//! it, have step lines without it; readers accept them and treat the count as unknown.
//!
//! The line types are the schema's ([`crate::schema::Line`]): a record holds the very values the
//! trainer sends its observers, and this module only writes, reads and replays them.

pub mod follow;
pub mod overlay;
pub mod reader;
pub mod replay;
pub mod tail;
pub mod writer;

pub use crate::schema::{EvalLine, Line, PointLine, StartLine};
pub use reader::{Record, Skipped, read, read_lines};
pub use writer::{Open, Recorder};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{LodoStats, OptimizerSpec, StepStats};
    use crate::preset::Preset;
    use crate::schema::{Event, EventKind, LaneSummary, StepRecord, Summary};
    use crate::task::{Metrics, TaskKind, TaskSpec};

    fn start() -> StartLine {
        StartLine {
            n_params: 3,
            preset: "p".into(),
            task: TaskKind::Quadratic,
            task_title: "bowl".into(),
            seed: 7,
            batch_size: None,
            max_steps: Some(10),
            eval_interval: 5,
            lanes: vec!["lodo".into()],
            optimizers: vec![OptimizerSpec::named("lodo")],
            resumed_from_step: None,
            version: "0".into(),
            config: Preset {
                name: "p".into(),
                description: "d".into(),
                task: TaskSpec::named("quadratic"),
                optimizer: OptimizerSpec::named("lodo"),
                alternatives: vec![],
                seed: 7,
                max_steps: Some(10),
                eval_interval: 5,
                loss_bound: None,
                checkpoint_interval: None,
                pace: None,
            },
        }
    }

    fn lines() -> Vec<Line> {
        let step = StepRecord {
            lane: 0,
            step: 1,
            grad_evals: Some(2),
            t: 0.5,
            optimizer: "lodo".into(),
            loss: 2.5,
            stats: StepStats {
                step_norm: 0.1,
                grad_norm: 3.0,
                cos_step_neg_grad: 1.0,
                effective_lr: f32::NAN,
                lodo: Some(LodoStats {
                    hypergrad_norm: 0.2,
                    layer_hypergrad_norms: vec![0.1, 0.1],
                    rel_meta_step: 1e-3,
                }),
            },
        };
        vec![
            Line::Start(Box::new(start())),
            Line::Step(step),
            Line::Eval(EvalLine {
                lane: 0,
                step: 1,
                t: 0.6,
                metrics: [("val_loss".to_string(), f64::NAN)].into(),
            }),
            Line::Event(Event {
                lane: Some(0),
                step: 1,
                t: 0.7,
                kind: EventKind::MetaLr,
                detail: "meta_lr 1e-3 -> 2e-3".into(),
            }),
            Line::Summary(Summary {
                lanes: vec![LaneSummary {
                    lane: 0,
                    optimizer: "lodo".into(),
                    steps: 1,
                    grad_evals: Some(2),
                    final_loss: 2.5,
                    best_loss: 2.5,
                    steps_per_s: 10.0,
                    diverged: false,
                    metrics: Metrics::new(),
                    mean_loss_last_10pct: 2.5,
                    task_ms_median: 1.0,
                    optimizer_ms_median: f64::NAN,
                }],
                elapsed_s: 1.0,
                lost: vec![],
            }),
        ]
    }

    fn write(path: &std::path::Path, lines: &[Line]) {
        let mut rec = Recorder::create(path, Open::New { force: false }).unwrap();
        for l in lines {
            rec.write(l).unwrap();
        }
        rec.flush().unwrap();
    }

    #[test]
    fn round_trip_keeps_every_line_and_nan_as_nan() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        write(&path, &lines());
        let record = read(&path).unwrap();
        assert_eq!(record.start, start());
        assert_eq!(record.steps.len(), 1);
        assert!(record.steps[0].stats.effective_lr.is_nan());
        assert_eq!(
            record.steps[0].stats.lodo.as_ref().unwrap().hypergrad_norm,
            0.2
        );
        assert!(record.evals[0].metrics["val_loss"].is_nan());
        assert_eq!(record.events[0].kind, EventKind::MetaLr);
        let summary = record.summary.unwrap();
        assert!(summary.lanes[0].optimizer_ms_median.is_nan());
        assert!(record.skipped.is_empty());
        // Step records survive the flattening.
        assert_eq!(
            record.steps[0]
                .stats
                .lodo
                .as_ref()
                .unwrap()
                .layer_hypergrad_norms,
            vec![0.1, 0.1]
        );
    }

    #[test]
    fn schema_of_each_line_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        write(&path, &lines());
        let text = std::fs::read_to_string(&path).unwrap();
        let json: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        // the module doc: the first line is the start line and carries n_params.
        assert_eq!(json[0]["type"], "start");
        assert_eq!(json[0]["n_params"], 3);
        assert_eq!(json[0]["task"], "quadratic");
        assert_eq!(json[0]["lanes"][0], "lodo");
        assert_eq!(json[1]["type"], "step");
        for key in [
            "lane",
            "step",
            "t",
            "optimizer",
            "loss",
            "grad_norm",
            "step_norm",
        ] {
            assert!(json[1].get(key).is_some(), "step line lacks {key}");
        }
        assert_eq!(json[1]["hypergrad_norm"].as_f64().unwrap() as f32, 0.2);
        assert!(json[1]["effective_lr"].is_null(), "NaN is written as null");
        assert_eq!(json[2]["type"], "eval");
        assert!(json[2]["metrics"].is_object());
        assert_eq!(json[3]["type"], "event");
        assert_eq!(json[3]["kind"], "meta-lr");
        assert_eq!(json[4]["type"], "summary");
        assert_eq!(json[4]["lanes"][0]["optimizer"], "lodo");
        assert!(json[4]["lanes"][0]["steps_per_s"].is_number());
    }

    #[test]
    fn a_partly_written_last_line_is_skipped_and_flagged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        write(&path, &lines()[..2]);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"type\":\"step\",\"lane\":0,\"st");
        std::fs::write(&path, &text).unwrap();
        let record = read(&path).unwrap();
        assert_eq!(record.skipped, vec![Skipped { line: 3, bytes: 27 }]);
        assert_eq!(record.steps.len(), 1);
        let note = record.skipped_note(&path).unwrap();
        assert!(note.ends_with("r.jsonl: skipped 1 partly written line (line 3, 27 bytes), left by a run stopped while writing"), "{note}");
        // The cut line followed by more lines is skipped too; other garbage is an error naming
        // its line.
        text.push_str("\n{}\n");
        std::fs::write(&path, &text).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("r.jsonl:4: not a record line"), "{e}");
        let garbage = "{\"type\":\"step\",\"lane\":0}\n";
        std::fs::write(&path, format!("{}{garbage}", &text[..text.len() - 3])).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(
            e.contains("r.jsonl:4: not a record line: missing field"),
            "{e}"
        );
    }

    #[test]
    fn a_line_glued_to_a_cut_one_is_read_and_the_cut_part_skipped() {
        // What a resumed run appended after a kill before appending learned to start on a
        // fresh line: the resume's start line right after the cut bytes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        write(&path, &lines()[..2]);
        let whole = std::fs::read_to_string(&path).unwrap();
        let (first, step) = whole.split_once('\n').unwrap();
        let cut = &step[..40];
        let mut resumed = start();
        resumed.resumed_from_step = Some(1);
        let resume = serde_json::to_string(&Line::Start(Box::new(resumed))).unwrap();
        std::fs::write(&path, format!("{first}\n{cut}{resume}\n{step}")).unwrap();
        let record = read(&path).unwrap();
        assert_eq!(record.skipped, vec![Skipped { line: 2, bytes: 40 }]);
        assert_eq!(record.resumes.len(), 1);
        assert_eq!(record.steps.len(), 1);
    }

    #[test]
    fn replay_gives_back_the_trainer_messages() {
        use crate::schema::Msg;
        let msgs = replay::messages(&lines());
        assert!(
            matches!(&msgs[0], Msg::Started(info) if info.n_params == 3 && info.lanes.len() == 1)
        );
        assert!(matches!(&msgs[1], Msg::Steps(v) if v.len() == 1 && v[0].loss == 2.5));
        assert!(matches!(&msgs[2], Msg::Eval { step: 1, .. }));
        assert!(matches!(&msgs[3], Msg::Event(e) if e.kind == EventKind::MetaLr));
        assert!(matches!(&msgs[4], Msg::Finished(Ok(s)) if s.lanes[0].steps == 1));
    }

    #[test]
    fn point_lines_round_trip_and_replay_as_one_batch() {
        use crate::schema::Msg;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let point = |step, xy| Line::Point(PointLine { lane: 0, step, xy });
        let all = lines();
        let with_points = vec![
            all[0].clone(),
            point(0, [-0.5, 2.0]),
            all[1].clone(),
            point(1, [0.25, f32::NAN]),
            all[2].clone(),
        ];
        write(&path, &with_points);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(r#"{"type":"point","lane":0,"step":0,"xy":[-0.5,2.0]}"#),
            "{text}"
        );
        let record = read(&path).unwrap();
        assert_eq!(record.points.len(), 2);
        assert_eq!(record.points[0].xy, [-0.5, 2.0]);
        assert!(record.points[1].xy[1].is_nan(), "null reads back as NaN");
        let msgs = replay::messages(&read_lines(&path).unwrap().0);
        assert!(matches!(&msgs[1], Msg::Steps(v) if v.len() == 1));
        assert!(matches!(&msgs[2], Msg::Points(v) if v.len() == 2 && v[1].1 == 1));
        assert!(matches!(&msgs[3], Msg::Eval { .. }));
    }

    #[test]
    fn appending_adds_a_resume_start_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        write(&path, &lines()[..2]);
        let mut rec = Recorder::create(&path, Open::Append).unwrap();
        let mut resumed = start();
        resumed.resumed_from_step = Some(1);
        rec.write(&Line::Start(Box::new(resumed))).unwrap();
        rec.flush().unwrap();
        let record = read(&path).unwrap();
        assert_eq!(record.resumes.len(), 1);
        assert_eq!(record.resumes[0].resumed_from_step, Some(1));
    }
}
