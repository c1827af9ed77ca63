//! Sample generation through a real trainer on the real mnist-ar CNN: digits stream in as they
//! are drawn, and the run carries on afterwards.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lodo_tui::optim::OptimizerSpec;
use lodo_tui::preset::Preset;
use lodo_tui::task::{TaskSpec, TaskView};
use lodo_tui::train::{Command, EventKind, Msg, TrainerConfig, spawn};

#[test]
fn generate_streams_digits_from_the_cnn() {
    let mut preset = Preset {
        name: "gen".into(),
        description: "generation".into(),
        task: TaskSpec {
            batch_size: Some(4),
            ..TaskSpec::named("mnist-ar")
        },
        optimizer: OptimizerSpec {
            lr: Some(1e-3),
            ..OptimizerSpec::named("adam")
        },
        alternatives: vec![],
        seed: 0,
        max_steps: None,
        eval_interval: 1000,
        loss_bound: None,
        checkpoint_interval: None,
        pace: None,
    };
    lodo_tui::launch::use_data_dir(&mut preset, None).unwrap();
    let mut config = TrainerConfig::new(preset);
    config.start_paused = true;
    let handle = spawn(config).unwrap();
    handle.send(Command::Step(1));
    handle.send(Command::Generate { count: 2 });
    handle.send(Command::Step(1));
    let mut views = Vec::new();
    let mut generated = false;
    let mut steps = 0;
    while !(generated && steps == 2) {
        match handle
            .messages
            .recv_timeout(Duration::from_secs(120))
            .unwrap()
        {
            Msg::View {
                lane: None,
                view: TaskView::Digits(d),
            } => views.push(d),
            Msg::Event(e) if e.kind == EventKind::Generate && e.detail.starts_with("generated") => {
                generated = true
            }
            Msg::Event(e) if e.kind == EventKind::Error => panic!("{}", e.detail),
            Msg::Steps(v) => steps += v.len(),
            Msg::Finished(r) => panic!("finished early: {r:?}"),
            _ => {}
        }
    }
    handle.shutdown().unwrap();
    let last = views.last().unwrap();
    assert_eq!((last.count, last.rows, last.cols), (2, 28, 28));
    assert_eq!(last.pixels_done, 784);
    assert_eq!(last.pixels.len(), 2 * 784);
    // Progress views came before the finished picture.
    assert!(
        views.iter().any(|d| d.pixels_done < 784),
        "{} views",
        views.len()
    );
}
