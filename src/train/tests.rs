//! Trainer tests against the test-only task and optimizers of `testkit`. Commands are sent while
//! the run is paused and the test waits for the steps it asked for, so every command lands at a
//! known step and the runs are exactly reproducible.

use std::time::Duration;

use crate::optim::OptimizerSpec;
use crate::preset::Preset;
use crate::task::{TaskSpec, TaskView};
use crate::testkit;

use super::{Checkpoint, TrainerConfig, TrainerHandle, spawn};
use crate::schema::{Command, Event, EventKind, LaneStatus, Msg, RunState, StepRecord, Summary};

fn spec(name: &str, lr: f32) -> OptimizerSpec {
    OptimizerSpec {
        lr: Some(lr),
        ..OptimizerSpec::named(name)
    }
}

fn preset(optimizer: OptimizerSpec, max_steps: Option<u64>) -> Preset {
    Preset {
        name: "test".into(),
        description: "test".into(),
        task: TaskSpec {
            dim: Some(6),
            ..TaskSpec::named("quadratic")
        },
        optimizer,
        alternatives: vec![],
        seed: 3,
        max_steps,
        eval_interval: 5,
        loss_bound: None,
        checkpoint_interval: None,
        pace: None,
    }
}

fn config(preset: Preset) -> TrainerConfig {
    let mut c = TrainerConfig::new(preset);
    c.builders = testkit::builders();
    c.threads = Some(1);
    c
}

/// Everything the trainer said, in order.
#[derive(Default)]
struct Seen {
    msgs: Vec<Msg>,
}

impl Seen {
    fn steps(&self) -> Vec<&StepRecord> {
        self.msgs
            .iter()
            .filter_map(|m| match m {
                Msg::Steps(v) => Some(v.iter()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn losses(&self, lane: usize) -> Vec<(u64, f32)> {
        self.steps()
            .into_iter()
            .filter(|r| r.lane == lane)
            .map(|r| (r.step, r.loss))
            .collect()
    }

    fn events(&self) -> Vec<&Event> {
        self.msgs
            .iter()
            .filter_map(|m| match m {
                Msg::Event(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    fn event(&self, kind: EventKind) -> &Event {
        let events = self.events();
        events
            .iter()
            .find(|e| e.kind == kind)
            .copied()
            .unwrap_or_else(|| panic!("no {kind:?} event in {events:#?}"))
    }

    fn last_lanes(&self) -> &[LaneStatus] {
        self.msgs
            .iter()
            .rev()
            .find_map(|m| match m {
                Msg::Lanes(l) => Some(l.as_slice()),
                _ => None,
            })
            .expect("a Lanes message")
    }

    fn summary(&self) -> &Summary {
        match self.msgs.last() {
            Some(Msg::Finished(Ok(s))) => s,
            other => panic!("run did not finish cleanly: {other:?}"),
        }
    }

    /// Reads until `until` holds for a message.
    fn read_until(&mut self, h: &TrainerHandle, until: impl Fn(&Msg) -> bool) {
        loop {
            let msg = h
                .messages
                .recv_timeout(Duration::from_secs(30))
                .expect("trainer went quiet");
            let done = until(&msg);
            self.msgs.push(msg);
            if done {
                return;
            }
        }
    }

    fn until_step(&mut self, h: &TrainerHandle, lane: usize, step: u64) {
        self.read_until(
            h,
            |m| matches!(m, Msg::Steps(v) if v.iter().any(|r| r.lane == lane && r.step == step)),
        );
    }

    fn until_event(&mut self, h: &TrainerHandle, kind: EventKind) {
        self.read_until(h, |m| matches!(m, Msg::Event(e) if e.kind == kind));
    }

    fn until_finished(&mut self, h: &TrainerHandle) {
        self.read_until(h, |m| matches!(m, Msg::Finished(_)));
    }
}

/// Runs paused, stepping `first` steps, applying `commands`, then stepping to `total`.
fn scripted(mut cfg: TrainerConfig, first: u64, commands: Vec<Command>, total: u64) -> Seen {
    cfg.start_paused = true;
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    h.send(Command::Step(first as u32));
    seen.until_step(&h, 0, first);
    for c in commands {
        h.send(c);
    }
    h.send(Command::Step((total - first) as u32));
    seen.until_step(&h, 0, total);
    h.send(Command::Quit);
    seen.until_finished(&h);
    h.shutdown().unwrap();
    seen
}

#[test]
fn same_preset_seed_and_commands_give_identical_losses() {
    let run = || {
        let switch = Command::SwitchOptimizer {
            lane: 0,
            spec: spec("momentum", 0.3),
        };
        scripted(config(preset(spec("lodo", 0.5), None)), 7, vec![switch], 20)
    };
    let (a, b) = (run(), run());
    assert_eq!(a.losses(0).len(), 20);
    assert_eq!(a.losses(0), b.losses(0));
    let names: Vec<String> = a.steps().iter().map(|r| r.optimizer.clone()).collect();
    assert_eq!(names[6], "lodo");
    assert_eq!(names[7], "momentum");
    // A different seed gives a different run (the test can fail).
    let mut other = preset(spec("lodo", 0.5), None);
    other.seed = 4;
    let c = scripted(config(other), 7, vec![], 20);
    assert_ne!(a.losses(0)[..5], c.losses(0)[..5]);
}

#[test]
fn checkpoint_and_resume_continue_the_identical_trajectory() {
    let dir = tempfile::tempdir().unwrap();
    let switch = || Command::SwitchOptimizer {
        lane: 0,
        spec: spec("momentum", 0.3),
    };
    let back = || Command::SwitchOptimizer {
        lane: 0,
        spec: spec("lodo", 0.5),
    };
    // Reference: 30 steps with a swap away at 5 and back at 15 (LODO's θ must survive both).
    let mut cfg = config(preset(spec("lodo", 0.5), Some(30)));
    cfg.start_paused = true;
    let h = spawn(cfg).unwrap();
    let mut full = Seen::default();
    h.send(Command::Step(5));
    full.until_step(&h, 0, 5);
    h.send(switch());
    h.send(Command::Step(10));
    full.until_step(&h, 0, 15);
    h.send(back());
    h.send(Command::Resume);
    full.until_finished(&h);
    h.shutdown().unwrap();

    // Same, but stopping at 15 with a final checkpoint, then resuming to 30.
    let mut cfg = config(preset(spec("lodo", 0.5), Some(15)));
    cfg.start_paused = true;
    cfg.checkpoint_dir = Some(dir.path().to_path_buf());
    let run = cfg.run.clone();
    let h = spawn(cfg).unwrap();
    let mut first = Seen::default();
    h.send(Command::Step(5));
    first.until_step(&h, 0, 5);
    h.send(switch());
    h.send(Command::Resume);
    first.until_finished(&h);
    h.shutdown().unwrap();
    let saved = first.event(EventKind::Checkpoint).detail.clone();
    let name = format!("test-seed3-{run}-step00000015.ckpt");
    assert!(saved.contains(&name), "{saved}");

    let ck = Checkpoint::load(dir.path()).unwrap();
    assert_eq!(ck.step(), 15);
    let mut resumed_preset = ck.preset().unwrap();
    resumed_preset.max_steps = Some(30);
    let mut cfg = config(resumed_preset);
    cfg.resume = Some(ck);
    cfg.start_paused = true;
    let h = spawn(cfg).unwrap();
    let mut second = Seen::default();
    h.send(back());
    h.send(Command::Resume);
    second.until_finished(&h);
    h.shutdown().unwrap();

    let mut joined = first.losses(0);
    joined.extend(second.losses(0));
    assert_eq!(joined, full.losses(0));
    assert!(
        second
            .events()
            .iter()
            .any(|e| e.detail.contains("resumed its saved state"))
    );
    // The summary covers the whole lane history, including the part before the checkpoint.
    let best = full
        .losses(0)
        .iter()
        .map(|l| l.1)
        .fold(f32::INFINITY, f32::min);
    assert_eq!(second.summary().lanes[0].best_loss, best);
}

#[test]
fn divergence_pauses_the_lane_restores_parameters_and_says_what_to_do() {
    // SGD with lr 3 on curvature 1 doubles the error every step until the loss turns NaN.
    let cfg = config(preset(spec("sgd", 3.0), None));
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    seen.until_event(&h, EventKind::Diverged);
    seen.read_until(&h, |m| matches!(m, Msg::Lanes(_)));
    let event = seen.event(EventKind::Diverged).clone();
    assert_eq!(event.lane, Some(0));
    assert!(event.detail.contains("loss is NaN"), "{}", event.detail);
    assert!(
        event.detail.contains("parameters restored"),
        "{}",
        event.detail
    );
    assert!(
        event.detail.contains("lower the learning rate"),
        "{}",
        event.detail
    );
    assert_eq!(seen.last_lanes()[0].state, RunState::Diverged);
    let tripped_at = event.step;

    // With a sane learning rate the restored parameters train on: no second trip.
    h.send(Command::SetLr {
        lane: 0,
        value: 0.1,
    });
    h.send(Command::Resume);
    seen.until_step(&h, 0, tripped_at + 20);
    h.send(Command::Quit);
    seen.until_finished(&h);
    h.shutdown().unwrap();
    let after: Vec<f32> = seen
        .losses(0)
        .into_iter()
        .filter(|(s, _)| *s > tripped_at)
        .map(|(_, l)| l)
        .collect();
    assert!(after.iter().all(|l| l.is_finite()));
    assert!(after.last().unwrap() < after.first().unwrap());
    assert_eq!(
        seen.events()
            .iter()
            .filter(|e| e.kind == EventKind::Diverged)
            .count(),
        1
    );
    assert!(seen.summary().lanes[0].diverged);
}

/// The dashboard case (`--optimizer sgd:lr=1000000 --paused`, keys `n r … Space`): a race
/// forked right after a bad single step used to leave lanes with nothing to restore, diverged for
/// good even after the guard's advice.
#[test]
fn race_lanes_forked_right_after_a_bad_step_can_be_restored() {
    let mut p = preset(spec("sgd", 1e6), None);
    p.loss_bound = Some(50.0);
    let mut cfg = config(p);
    cfg.start_paused = true;
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    h.send(Command::Step(1));
    seen.until_step(&h, 0, 1);
    h.send(Command::Race {
        specs: vec![spec("sgd", 1e6), spec("sgd", 1e6)],
    });
    h.send(Command::Resume);
    seen.until_event(&h, EventKind::Diverged);
    seen.until_event(&h, EventKind::Diverged);
    seen.read_until(&h, |m| matches!(m, Msg::Lanes(_)));
    let trips: Vec<Event> = seen
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::Diverged)
        .cloned()
        .collect();
    assert_eq!(trips.len(), 2);
    for trip in &trips {
        assert!(
            trip.detail.contains("parameters restored"),
            "{}",
            trip.detail
        );
    }
    // Following the advice now works: both lanes train on from the restored point.
    for lane in 0..2 {
        h.send(Command::SetLr { lane, value: 0.1 });
    }
    h.send(Command::Resume);
    seen.until_step(&h, 1, 20);
    h.send(Command::Quit);
    seen.until_finished(&h);
    h.shutdown().unwrap();
    let diverged = seen
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Diverged)
        .count();
    assert_eq!(diverged, 2, "no lane tripped again");
    for lane in 0..2 {
        let losses = seen.losses(lane);
        assert!(losses.iter().all(|(_, l)| *l < 50.0), "{losses:?}");
    }
}

#[test]
fn loss_bound_trips_and_headless_runs_stop_when_nothing_can_run() {
    let mut p = preset(spec("sgd", 3.0), None);
    p.loss_bound = Some(50.0);
    let mut cfg = config(p);
    cfg.halt_when_stalled = true;
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    seen.until_finished(&h);
    h.join().unwrap();
    let e = seen.event(EventKind::Diverged);
    assert!(
        e.detail.contains("above the bound 5.0000e1"),
        "{}",
        e.detail
    );
    let summary = seen.summary();
    assert!(summary.lanes[0].diverged);
    assert!(summary.lanes[0].final_loss <= 50.0);
    assert!(
        seen.events()
            .iter()
            .any(|e| e.detail.contains("no lane can continue"))
    );
}

#[test]
fn commands_report_old_and_new_values_and_named_errors() {
    let cfg = config(preset(spec("sgd", 0.1), None));
    let commands = vec![
        Command::SetLr {
            lane: 0,
            value: 0.2,
        },
        Command::ScaleLr {
            lane: 0,
            factor: 0.5,
        },
        Command::SetMetaLr {
            lane: 0,
            value: 1e-3,
        },
        Command::SetLr {
            lane: 3,
            value: 1.0,
        },
        Command::SetLr {
            lane: 0,
            value: -1.0,
        },
        Command::ResetOptimizer { lane: 0 },
        Command::SwitchOptimizer {
            lane: 0,
            spec: OptimizerSpec::named("nonesuch"),
        },
    ];
    let seen = scripted(cfg, 2, commands, 4);
    let details: Vec<(EventKind, &str)> = seen
        .events()
        .iter()
        .map(|e| (e.kind, e.detail.as_str()))
        .collect();
    let has = |kind, text: &str| details.iter().any(|(k, d)| *k == kind && d.contains(text));
    assert!(has(EventKind::Lr, "lr 0.1 -> 0.2"), "{details:#?}");
    assert!(has(EventKind::Lr, "lr 0.2 -> 0.1"), "{details:#?}");
    assert!(has(EventKind::Error, "sgd has no meta learning rate"));
    assert!(has(EventKind::Error, "no lane 3 (lanes are 0..1)"));
    assert!(has(
        EventKind::Error,
        "cannot set lr to -1: sgd: lr must be positive"
    ));
    assert!(has(EventKind::Reset, "sgd state reset"));
    assert!(has(EventKind::Error, "cannot switch to nonesuch"));
    // After the failed commands the run goes on with the last good learning rate.
    assert_eq!(seen.last_lanes()[0].optimizer.lr, Some(0.1));
    assert_eq!(seen.losses(0).len(), 4);
}

#[test]
fn meta_lr_of_the_lodo_family_can_be_set_and_scaled() {
    let cfg = config(preset(spec("lodo", 0.5), None));
    let commands = vec![
        Command::SetMetaLr {
            lane: 0,
            value: 2e-3,
        },
        Command::ScaleMetaLr {
            lane: 0,
            factor: 2.0,
        },
    ];
    let seen = scripted(cfg, 1, commands, 2);
    let metas: Vec<&str> = seen
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::MetaLr)
        .map(|e| e.detail.as_str())
        .collect();
    assert_eq!(
        metas,
        vec!["meta_lr 0.001 -> 0.002", "meta_lr 0.002 -> 0.004"]
    );
}

#[test]
fn race_lanes_start_from_lane_zero_and_share_the_minibatches() {
    let cfg = config(preset(spec("lodo", 0.5), None));
    let race = Command::Race {
        specs: vec![spec("sgd", 0.2), spec("sgd", 0.2), spec("lodo", 0.5)],
    };
    let seen = scripted(cfg, 5, vec![race], 12);
    // Identical optimizers on the same batches from the same point: identical losses.
    let (sgd0, sgd1, lodo) = (seen.losses(0), seen.losses(1), seen.losses(2));
    assert_eq!(sgd1.len(), 7);
    assert_eq!(sgd0[5..], sgd1[..]);
    assert_eq!(sgd1[0].0, 6, "race lanes continue the step count");
    // The first race step evaluates the same point on the same batch in every lane; after that
    // different optimizers part ways.
    assert_eq!(sgd1[0], lodo[0]);
    assert_ne!(sgd1[1], lodo[1]);
    let race = seen.event(EventKind::Race);
    assert!(race.detail.contains("race from step 5"), "{}", race.detail);
    assert!(
        race.detail
            .contains("lodo(lr=0.5, meta_lr=0.001) (continuing)"),
        "{}",
        race.detail
    );
    let started: Vec<usize> = seen
        .msgs
        .iter()
        .filter_map(|m| match m {
            Msg::Started(info) => Some(info.lanes.len()),
            _ => None,
        })
        .collect();
    assert_eq!(started, vec![1, 3]);
}

#[test]
fn the_race_lane_continuing_lodo_matches_an_unraced_run() {
    let cfg = || config(preset(spec("lodo", 0.5), None));
    let race = Command::Race {
        specs: vec![spec("sgd", 0.2), spec("lodo", 0.5)],
    };
    let raced = scripted(cfg(), 5, vec![race], 12);
    let plain = scripted(cfg(), 5, vec![], 12);
    assert_eq!(raced.losses(1), plain.losses(0)[5..]);
}

#[test]
fn steps_are_batched_and_none_is_lost() {
    let mut cfg = config(preset(spec("sgd", 0.1), Some(5000)));
    cfg.message_interval = Duration::from_secs(3600);
    let mut p = cfg.preset.clone();
    p.eval_interval = 1_000_000;
    cfg.preset = p;
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    seen.until_finished(&h);
    h.join().unwrap();
    let batches = seen
        .msgs
        .iter()
        .filter(|m| matches!(m, Msg::Steps(_)))
        .count();
    assert!(batches <= 3, "{batches} step messages");
    let steps: Vec<u64> = seen.steps().iter().map(|r| r.step).collect();
    assert_eq!(steps, (1..=5000).collect::<Vec<_>>());
}

#[test]
fn the_trainer_stops_when_the_observer_hangs_up() {
    let cfg = config(preset(spec("sgd", 0.1), None));
    let mut h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    seen.until_step(&h, 0, 10);
    let (_, dummy) = std::sync::mpsc::sync_channel(0);
    drop(std::mem::replace(&mut h.messages, dummy));
    // Without a max_steps the thread ends only because nobody listens.
    h.join().unwrap();
}

#[test]
fn task_errors_end_the_run_with_an_error_not_a_panic() {
    let mut cfg = config(preset(spec("sgd", 0.1), None));
    cfg.builders = testkit::failing_builders();
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    seen.until_finished(&h);
    h.join().unwrap();
    match seen.msgs.last() {
        Some(Msg::Finished(Err(e))) => {
            assert!(e.contains("minibatch 4 could not be read"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.losses(0).len(), 3);

    // A task that cannot be built at all.
    let mut cfg = config(preset(spec("sgd", 0.1), None));
    cfg.preset.task = TaskSpec::named("rosenbrock");
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    seen.until_finished(&h);
    assert!(matches!(seen.msgs.last(), Some(Msg::Finished(Err(e))) if e.contains("rosenbrock")));
}

#[test]
fn evaluation_sees_the_learned_preconditioner() {
    let cfg = config(preset(spec("lodo", 0.5), None));
    let switch = Command::SwitchOptimizer {
        lane: 0,
        spec: spec("sgd", 0.1),
    };
    let seen = scripted(cfg, 5, vec![switch], 10);
    let evals: Vec<(u64, bool)> = seen
        .msgs
        .iter()
        .filter_map(|m| match m {
            Msg::Eval { step, metrics, .. } => Some((*step, metrics.contains_key("precond_0"))),
            _ => None,
        })
        .collect();
    // Steps 0 and 5 under LODO, 10 under SGD (eval_interval 5).
    assert_eq!(evals, vec![(0, true), (5, true), (10, false)]);
}

#[test]
fn two_dimensional_tasks_stream_points_from_the_start() {
    let mut p = preset(spec("sgd", 0.1), Some(5));
    p.task.dim = Some(2);
    let h = spawn(config(p)).unwrap();
    let mut seen = Seen::default();
    seen.until_finished(&h);
    let points: Vec<u64> = seen
        .msgs
        .iter()
        .filter_map(|m| match m {
            Msg::Points(v) => Some(v.iter().map(|p| p.1)),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(&points[..6], &[0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_record_of_a_two_dimensional_task_holds_the_trajectory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    let mut p = preset(spec("sgd", 0.1), Some(5));
    p.task.dim = Some(2);
    let mut cfg = config(p);
    cfg.record = Some(
        crate::record::Recorder::create(&path, crate::record::Open::New { force: false }).unwrap(),
    );
    let h = spawn(cfg).unwrap();
    Seen::default().until_finished(&h);
    h.join().unwrap();
    let record = crate::record::read(&path).unwrap();
    let steps: Vec<u64> = record.points.iter().map(|p| p.step).collect();
    assert_eq!(steps, vec![0, 1, 2, 3, 4, 5]);
    // The starting point is where the task starts; the others differ as SGD moves.
    assert_ne!(record.points[0].xy, record.points[5].xy);
}

#[test]
fn generation_streams_digits_and_queues_other_commands() {
    let cfg = config(preset(spec("sgd", 0.1), None));
    let commands = vec![Command::Generate { count: 3 }];
    let seen = scripted(cfg, 2, commands, 4);
    let last_digits = seen
        .msgs
        .iter()
        .rev()
        .find_map(|m| match m {
            Msg::View {
                lane: None,
                view: TaskView::Digits(d),
            } => Some(d),
            _ => None,
        })
        .expect("digits");
    assert_eq!((last_digits.count, last_digits.pixels_done), (3, 4));
    assert!(
        seen.events()
            .iter()
            .any(|e| e.detail.starts_with("generated 3 samples"))
    );
    // The single steps sent after Generate still ran.
    assert_eq!(seen.losses(0).len(), 4);
}

#[test]
fn optimizers_needing_the_same_batch_get_it() {
    // The test `lbfgs` re-evaluates on the same minibatch; the run must go through cleanly and
    // match itself.
    let cfg = || config(preset(spec("lbfgs", 0.1), Some(10)));
    let run = || {
        let h = spawn(cfg()).unwrap();
        let mut seen = Seen::default();
        seen.until_finished(&h);
        seen.losses(0)
    };
    let a = run();
    assert_eq!(a.len(), 10);
    assert_eq!(a, run());
}

#[test]
fn a_record_sees_every_step_and_ends_with_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    let mut cfg = config(preset(spec("lodo", 0.5), Some(50)));
    cfg.record = Some(
        crate::record::Recorder::create(&path, crate::record::Open::New { force: false }).unwrap(),
    );
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    seen.until_finished(&h);
    h.join().unwrap();
    let record = crate::record::read(&path).unwrap();
    assert_eq!(record.start.n_params, 6);
    assert_eq!(record.start.lanes, vec!["lodo"]);
    assert_eq!(record.steps.len(), 50);
    let from_msgs: Vec<f32> = seen.losses(0).iter().map(|x| x.1).collect();
    let from_file: Vec<f32> = record.steps.iter().map(|s| s.loss).collect();
    assert_eq!(from_file, from_msgs);
    assert_eq!(record.evals.len(), 11);
    assert_eq!(record.summary.unwrap().lanes[0].steps, 50);
}

#[test]
fn a_checkpoint_that_cannot_be_saved_stops_the_run_and_is_listed_as_lost() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let mut p = preset(spec("sgd", 0.1), Some(50));
    p.checkpoint_interval = Some(5);
    let mut cfg = config(p);
    cfg.checkpoint_dir = Some(file.join("ck"));
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    seen.until_finished(&h);
    h.join().unwrap();
    let summary = seen.summary();
    // The periodic checkpoint at step 5 failed: the run stopped there, and the final checkpoint
    // failed too.
    assert_eq!(summary.lanes[0].steps, 5);
    assert_eq!(summary.lost.len(), 2, "{:?}", summary.lost);
    for what in &summary.lost {
        assert!(
            what.starts_with("the checkpoint at step 5 could not be saved (cannot create"),
            "{what}"
        );
        assert!(
            what.ends_with("no checkpoint of this run was saved"),
            "{what}"
        );
    }
    let errors: Vec<&Event> = seen
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::Error)
        .collect();
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().all(|e| e.step == 5));
}

/// (step, cumulative gradient evaluations) of every step message of `lane`.
fn grad_evals(seen: &Seen, lane: usize) -> Vec<(u64, Option<u64>)> {
    seen.steps()
        .into_iter()
        .filter(|r| r.lane == lane)
        .map(|r| (r.step, r.grad_evals))
        .collect()
}

#[test]
fn grad_evals_count_one_per_step_plus_every_same_batch_call() {
    // The test `sgd` never calls back; the test `lbfgs` calls back once per step (testkit).
    for (name, per_step) in [("sgd", 1), ("lbfgs", 2)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.jsonl");
        let mut cfg = config(preset(spec(name, 0.1), Some(10)));
        cfg.record = Some(
            crate::record::Recorder::create(&path, crate::record::Open::New { force: false })
                .unwrap(),
        );
        let h = spawn(cfg).unwrap();
        let mut seen = Seen::default();
        seen.until_finished(&h);
        h.join().unwrap();
        let expected: Vec<(u64, Option<u64>)> = (1..=10).map(|s| (s, Some(per_step * s))).collect();
        assert_eq!(grad_evals(&seen, 0), expected, "{name}");
        let record = crate::record::read(&path).unwrap();
        let recorded: Vec<(u64, Option<u64>)> = record
            .steps
            .iter()
            .map(|s| (s.step, s.grad_evals))
            .collect();
        assert_eq!(recorded, expected, "{name}");
        assert_eq!(seen.summary().lanes[0].grad_evals, Some(10 * per_step));
    }
}

#[test]
fn grad_evals_continue_across_resume_and_into_race_lanes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(preset(spec("lbfgs", 0.1), Some(6)));
    cfg.checkpoint_dir = Some(dir.path().to_path_buf());
    let h = spawn(cfg).unwrap();
    let mut first = Seen::default();
    first.until_finished(&h);
    h.shutdown().unwrap();
    let ck = Checkpoint::load(dir.path()).unwrap();
    assert_eq!(ck.lanes[0].grad_evals, Some(12));
    let mut resumed = ck.preset().unwrap();
    resumed.max_steps = None;
    let mut cfg = config(resumed);
    cfg.resume = Some(ck);
    // Two more L-BFGS steps, then a race of SGD (one evaluation a step) against L-BFGS.
    let race = Command::Race {
        specs: vec![spec("sgd", 0.1), spec("lbfgs", 0.1)],
    };
    cfg.start_paused = true;
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    h.send(Command::Step(2));
    seen.until_step(&h, 0, 8);
    h.send(race);
    h.send(Command::Step(2));
    seen.until_step(&h, 1, 10);
    h.send(Command::Quit);
    seen.until_finished(&h);
    h.shutdown().unwrap();
    assert_eq!(grad_evals(&seen, 0)[..2], [(7, Some(14)), (8, Some(16))]);
    assert_eq!(grad_evals(&seen, 0)[2..], [(9, Some(17)), (10, Some(18))]);
    assert_eq!(grad_evals(&seen, 1), [(9, Some(18)), (10, Some(20))]);
}

#[test]
fn a_gradient_evaluation_budget_finishes_each_lane_when_reached() {
    // sgd: 7 steps of one evaluation; lbfgs: 4 steps of two (the fourth passes 7 by one).
    for (name, steps, evals) in [("sgd", 7, 7), ("lbfgs", 4, 8)] {
        let mut cfg = config(preset(spec(name, 0.1), Some(100)));
        cfg.max_grad_evals = Some(7);
        let h = spawn(cfg).unwrap();
        let mut seen = Seen::default();
        seen.until_finished(&h);
        h.shutdown().unwrap();
        let lane = &seen.summary().lanes[0];
        assert_eq!(
            (lane.steps, lane.grad_evals),
            (steps, Some(evals)),
            "{name}"
        );
    }
}

#[test]
fn the_final_evaluation_adds_the_costly_metrics_only_when_asked() {
    for asked in [false, true] {
        let mut cfg = config(preset(spec("sgd", 0.1), Some(7)));
        cfg.final_evaluation = asked;
        let h = spawn(cfg).unwrap();
        let mut seen = Seen::default();
        seen.until_finished(&h);
        h.shutdown().unwrap();
        let metrics = &seen.summary().lanes[0].metrics;
        assert!(metrics.contains_key("distance"));
        assert_eq!(metrics.contains_key("sum"), asked);
        let evals: Vec<(u64, bool)> = seen
            .msgs
            .iter()
            .filter_map(|m| match m {
                Msg::Eval { step, metrics, .. } => Some((*step, metrics.contains_key("sum"))),
                _ => None,
            })
            .collect();
        // Steps 0 and 5, the final one at 7, and (when asked) its own evaluation at 7.
        let mut want = vec![(0, false), (5, false), (7, false)];
        if asked {
            want.push((7, true));
        }
        assert_eq!(evals, want);
    }
}

/// Compile-time: what crosses into and out of the trainer thread is `Send`.
#[test]
fn a_pace_limits_steps_per_second_and_can_be_changed_live() {
    // 20 steps at 100 steps/s cannot take less than 19 intervals of 10 ms (a lower bound only,
    // so a busy machine cannot make it fail).
    let mut cfg = config(preset(spec("lodo", 0.5), Some(20)));
    cfg.pace = Some(100.0);
    let start = std::time::Instant::now();
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    seen.read_until(&h, |m| matches!(m, Msg::Started(_)));
    match &seen.msgs[0] {
        Msg::Started(info) => assert_eq!(info.pace, Some(100.0)),
        other => panic!("expected Started, got {other:?}"),
    }
    h.send(Command::ScalePace { factor: 2.0 });
    seen.until_finished(&h);
    h.shutdown().unwrap();
    assert!(start.elapsed() >= Duration::from_millis(19 * 5));
    assert_eq!(seen.losses(0).len(), 20);
    // The summary's rate is the paced one (at most 200 steps/s, with room for timer jitter),
    // not the rate of the steps alone (thousands a second on this six-parameter bowl).
    let rate = seen.summary().lanes[0].steps_per_s;
    assert!(rate > 0.0 && rate < 400.0, "{rate} steps/s");
    let e = seen.event(EventKind::Info);
    assert_eq!(e.detail, "pace 100 steps/s -> 200 steps/s");
    assert!(seen.msgs.contains(&Msg::Pace(Some(200.0))));
}

#[test]
fn pausing_a_run_at_full_speed_then_slowing_it_starts_from_its_rate() {
    let mut cfg = config(preset(spec("lodo", 0.5), None));
    cfg.start_paused = true;
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    h.send(Command::ScalePace { factor: 2.0 });
    h.send(Command::Step(50));
    seen.until_step(&h, 0, 50);
    // Full speed cannot go faster: no event, no Pace message.
    assert!(!seen.msgs.iter().any(|m| matches!(m, Msg::Pace(_))));
    h.send(Command::ScalePace { factor: 0.5 });
    h.send(Command::ScalePace { factor: 0.0 });
    h.send(Command::Quit);
    seen.until_finished(&h);
    h.shutdown().unwrap();
    let limit = seen.msgs.iter().find_map(|m| match m {
        Msg::Pace(p) => Some(*p),
        _ => None,
    });
    assert!(matches!(limit, Some(Some(p)) if p > 0.0), "{limit:?}");
    let errors: Vec<&Event> = seen
        .events()
        .into_iter()
        .filter(|e| e.kind == EventKind::Error)
        .collect();
    assert_eq!(errors[0].detail, "pace factor must be positive, got 0");
}

#[test]
fn types_crossing_threads_are_send() {
    fn is_send<T: Send>() {}
    is_send::<TrainerConfig>();
    is_send::<Msg>();
    is_send::<Command>();
    is_send::<Checkpoint>();
}

#[test]
fn the_runs_step_limit_is_the_horizon_of_scheduled_optimizers() {
    // The real LARS (β = 0) decays its rate as lr·(1 − t/T)² with T = max_steps = 4, so its
    // 4th step is exactly zero and the first three are not; without the horizon all four move.
    let lars = OptimizerSpec {
        beta: Some(0.0),
        ..OptimizerSpec::named("lars")
    };
    let mut cfg = config(preset(lars, Some(4)));
    cfg.builders.optimizer = crate::optim::spec::build;
    let h = spawn(cfg).unwrap();
    let mut seen = Seen::default();
    seen.until_finished(&h);
    h.join().unwrap();
    let norms: Vec<f32> = seen.steps().iter().map(|r| r.stats.step_norm).collect();
    assert_eq!(norms.len(), 4);
    assert!(norms[..3].iter().all(|&n| n > 0.0), "{norms:?}");
    assert_eq!(norms[3], 0.0, "{norms:?}");
}
