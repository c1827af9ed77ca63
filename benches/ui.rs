//! Dashboard render cost: a full frame at 160×48 (and 80×24) after 100k steps per series, and
//! after 1M steps to show that run length does not matter (the history is multi-resolution and
//! every chart is downsampled to its pixel columns). Also the cost of ingesting a batch of steps.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use lodo_tui::task::TaskKind;
use lodo_tui::train::{Msg, RunState};
use lodo_tui::ui::synthetic::{self, status};
use lodo_tui::ui::{App, Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;

/// An app that has seen `steps` steps on each lane, an evaluation every 250 steps and, for
/// Rosenbrock, every point of the trajectory.
fn app(task: TaskKind, lanes: &[&str], steps: u64) -> App {
    let mut app = App::new(Theme::new(true, false));
    let statuses: Vec<_> = lanes
        .iter()
        .enumerate()
        .map(|(i, n)| status(i, n, steps, RunState::Running))
        .collect();
    for msg in synthetic::opening(task, lanes) {
        if !matches!(msg, Msg::Steps(_) | Msg::Points(_) | Msg::Eval { .. }) {
            app.apply(msg);
        }
    }
    let chunk = 1_000;
    for start in (1..=steps).step_by(chunk) {
        let end = (start + chunk as u64 - 1).min(steps);
        let mut records = Vec::with_capacity(chunk * lanes.len());
        let mut points = Vec::new();
        for step in start..=end {
            for (lane, name) in lanes.iter().enumerate() {
                records.push(synthetic::record(task, lane, step, name));
                if task == TaskKind::Rosenbrock {
                    points.push((lane, step, synthetic::rosenbrock_point(lane, step)));
                }
            }
        }
        app.apply(Msg::Steps(records));
        if !points.is_empty() {
            app.apply(Msg::Points(points));
        }
    }
    app.apply(Msg::Lanes(statuses));
    app
}

fn frame(c: &mut Criterion, name: &str, app: &App, width: u16, height: u16) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    c.bench_function(name, |b| {
        b.iter(|| {
            // A fresh terminal buffer each time so every frame is drawn in full, not diffed away.
            terminal.clear().unwrap();
            terminal.draw(|f| draw::draw(f, black_box(app))).unwrap();
        })
    });
}

fn render(c: &mut Criterion) {
    let mnist = app(TaskKind::MnistAr, &["lodo"], 100_000);
    frame(c, "frame 160x48 mnist-ar 100k steps", &mnist, 160, 48);
    frame(c, "frame 80x24 mnist-ar 100k steps", &mnist, 80, 24);
    let race = app(TaskKind::Rosenbrock, &["lodo", "adam", "momentum"], 100_000);
    frame(
        c,
        "frame 160x48 rosenbrock 3 lanes 100k steps",
        &race,
        160,
        48,
    );
    let long = app(TaskKind::Quadratic, &["lodo"], 1_000_000);
    frame(c, "frame 160x48 quadratic 1M steps", &long, 160, 48);
    let short = app(TaskKind::Quadratic, &["lodo"], 1_000);
    frame(c, "frame 160x48 quadratic 1k steps", &short, 160, 48);
}

fn ingest(c: &mut Criterion) {
    let mut app = app(TaskKind::MnistAr, &["lodo"], 10_000);
    let mut step = 10_000;
    c.bench_function("apply a batch of 1,000 LODO steps", |b| {
        b.iter(|| {
            let records = (0..1_000)
                .map(|_| {
                    step += 1;
                    synthetic::record(TaskKind::MnistAr, 0, step, "lodo")
                })
                .collect();
            app.apply(black_box(Msg::Steps(records)));
        })
    });
}

criterion_group! {
    name = benches;
    // Plots need system fonts that headless machines lack; the numbers are what matter.
    config = Criterion::default().without_plots();
    targets = render, ingest
}
criterion_main!(benches);
