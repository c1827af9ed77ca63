//! Dashboard render cost: a full frame at 160×48 (and 80×24) after 100k steps per series, and
//! after 1M steps to show that run length does not matter (the history is multi-resolution and
//! every chart is downsampled to its pixel columns). Also the cost of ingesting a batch of steps.
//! The steps are those of the record fixtures, repeated end to end.
#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use lodo_tui::record::overlay::{self, Source};
use lodo_tui::train::{Msg, StepRecord};
use lodo_tui::ui::{App, Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::hint::black_box;
use std::path::Path;

/// The messages of record fixtures (tests/fixtures/records), overlaid as `lodo-tui view` does.
fn fixture(names: &[&str]) -> Vec<Msg> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records");
    let sources: Vec<Source> = names.iter().map(|n| Source::new(&dir.join(n))).collect();
    overlay::messages(&sources).unwrap()
}

/// The fixture's step records, repeated (steps, counts and times shifted) as often as it takes.
fn steps(msgs: &[Msg]) -> Vec<StepRecord> {
    msgs.iter()
        .filter_map(|m| match m {
            Msg::Steps(r) => Some(r.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// An app that has seen the fixtures' opening and then `steps` steps on each lane, the
/// fixtures' own steps (with their points and evaluations) repeated end to end.
fn app(names: &[&str], steps_per_lane: u64) -> App {
    let msgs = fixture(names);
    let mut app = App::new(Theme::new(true, false));
    for msg in &msgs {
        if matches!(msg, Msg::Started(_) | Msg::View { .. }) {
            app.apply(msg.clone());
        }
    }
    let records = steps(&msgs);
    let span = records.iter().map(|r| r.step).max().unwrap_or(1);
    let t_span = records.iter().map(|r| r.t).fold(0.0, f64::max);
    let points: Vec<_> = msgs
        .iter()
        .filter_map(|m| match m {
            Msg::Points(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let evals: Vec<&Msg> = msgs
        .iter()
        .filter(|m| matches!(m, Msg::Eval { .. }))
        .collect();
    for rep in 0..steps_per_lane.div_ceil(span) {
        let shift = rep * span;
        let batch: Vec<StepRecord> = records
            .iter()
            .map(|r| StepRecord {
                step: r.step + shift,
                grad_evals: r.grad_evals.map(|n| n + shift),
                t: r.t + rep as f64 * t_span,
                ..r.clone()
            })
            .collect();
        app.apply(Msg::Steps(batch));
        if !points.is_empty() {
            let shifted = points.iter().map(|&(l, s, p)| (l, s + shift, p)).collect();
            app.apply(Msg::Points(shifted));
        }
        for e in &evals {
            if let Msg::Eval {
                lane,
                step,
                t,
                metrics,
            } = e
            {
                app.apply(Msg::Eval {
                    lane: *lane,
                    step: step + shift,
                    t: t + rep as f64 * t_span,
                    metrics: metrics.clone(),
                });
            }
        }
    }
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
    let mnist = app(&["mnist-lodo-seed0.jsonl"], 100_000);
    frame(c, "frame 160x48 mnist-ar 100k steps", &mnist, 160, 48);
    frame(c, "frame 80x24 mnist-ar 100k steps", &mnist, 80, 24);
    let race = app(
        &["rosenbrock-lodo-seed0.jsonl", "rosenbrock-adam-seed0.jsonl"],
        100_000,
    );
    frame(
        c,
        "frame 160x48 rosenbrock 2 lanes 100k steps",
        &race,
        160,
        48,
    );
    let long = app(&["quadratic-lodo-seed0.jsonl"], 1_000_000);
    frame(c, "frame 160x48 quadratic 1M steps", &long, 160, 48);
    let short = app(&["quadratic-lodo-seed0.jsonl"], 1_000);
    frame(c, "frame 160x48 quadratic 1k steps", &short, 160, 48);
}

fn ingest(c: &mut Criterion) {
    let names = ["mnist-lodo-seed0.jsonl"];
    let mut app = app(&names, 10_000);
    let records = steps(&fixture(&names));
    let mut step = 10_000;
    c.bench_function("apply a batch of 1,000 LODO steps", |b| {
        b.iter(|| {
            let batch = records
                .iter()
                .cycle()
                .take(1_000)
                .map(|r| {
                    step += 1;
                    StepRecord { step, ..r.clone() }
                })
                .collect();
            app.apply(black_box(Msg::Steps(batch)));
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
