//! Full-screen snapshots of the dashboard at 80×24 and 160×48 for every task and the main
//! states, fed with deterministic synthetic trainer messages (no wall clock reaches the screen).
//! Review changes with `cargo insta review` (or `INSTA_UPDATE=always cargo test --release`).
#![allow(clippy::unwrap_used)]

use lodo_tui::task::TaskKind;
use lodo_tui::train::msg::SysStats;
use lodo_tui::train::{Event, EventKind, Msg, RunState};
use lodo_tui::ui::synthetic::{self, status};
use lodo_tui::ui::{App, Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn app(task: TaskKind, lanes: &[&str]) -> App {
    app_with(task, lanes, Theme::new(true, false))
}

fn app_with(task: TaskKind, lanes: &[&str], theme: Theme) -> App {
    let mut app = App::new(theme);
    for msg in synthetic::opening(task, lanes) {
        app.apply(msg);
    }
    app
}

fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| draw::draw(f, app)).unwrap();
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        for x in 0..width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// Snapshots of one state at both sizes.
fn both(name: &str, app: &App) {
    insta::assert_snapshot!(format!("{name}_80x24"), screen(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), screen(app, 160, 48));
}

#[test]
fn mnist_ar_with_digits() {
    both("mnist_ar", &app(TaskKind::MnistAr, &["lodo"]));
}

#[test]
fn mnist_classify_with_accuracy() {
    // Lane 0 started on lodo and was switched to adam at step 1,200: the optimizer panel shows
    // adam's own summary and the loss chart a rule at the switch.
    both("mnist_classify", &app(TaskKind::MnistClassify, &["adam"]));
}

#[test]
fn quadratic_with_hessian_error() {
    both("quadratic", &app(TaskKind::Quadratic, &["lodo"]));
}

#[test]
fn rosenbrock_heat_map_with_two_lanes() {
    both(
        "rosenbrock_two_lanes",
        &app(TaskKind::Rosenbrock, &["lodo", "adam"]),
    );
}

#[test]
fn paused_and_diverged() {
    let mut a = app(TaskKind::Quadratic, &["lodo", "momentum"]);
    a.apply(Msg::Event(Event {
        lane: Some(1),
        step: 2_000,
        t: 40.0,
        kind: EventKind::Diverged,
        detail: "non-finite loss at step 2,001; parameters restored, lane paused".into(),
    }));
    a.apply(Msg::Lanes(vec![
        status(0, "lodo", 2_000, RunState::Paused),
        status(1, "momentum", 2_000, RunState::Diverged),
    ]));
    both("diverged", &a);
    a.apply(Msg::Lanes(vec![
        status(0, "lodo", 2_000, RunState::Paused),
        status(1, "momentum", 2_000, RunState::Paused),
    ]));
    both("paused", &a);
}

#[test]
fn linear_axis_recent_window_raw_data() {
    let mut a = app(TaskKind::Quadratic, &["lodo"]);
    press(&mut a, KeyCode::Char('l'));
    press(&mut a, KeyCode::Right);
    for _ in 0..5 {
        press(&mut a, KeyCode::Char('S'));
    }
    both("linear_recent_raw", &a);
}

#[test]
fn help_overlay() {
    let mut a = app(TaskKind::MnistAr, &["lodo"]);
    press(&mut a, KeyCode::Char('?'));
    both("help", &a);
}

#[test]
fn optimizer_picker_filtered() {
    let mut a = app(TaskKind::MnistAr, &["lodo"]);
    press(&mut a, KeyCode::Char('o'));
    press(&mut a, KeyCode::Char('m'));
    press(&mut a, KeyCode::Down);
    both("picker", &a);
}

#[test]
fn race_picker_with_choices() {
    let mut a = app(TaskKind::Quadratic, &["lodo"]);
    press(&mut a, KeyCode::Char('r'));
    press(&mut a, KeyCode::Char(' '));
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Char(' '));
    both("race_picker", &a);
}

#[test]
fn quit_confirmation() {
    let mut a = app(TaskKind::Quadratic, &["lodo"]);
    press(&mut a, KeyCode::Char('q'));
    both("confirm_quit", &a);
}

#[test]
fn a_served_run_names_itself_and_asks_stop_or_detach() {
    let mut a = app(TaskKind::Quadratic, &["lodo"]);
    a.run_id = Some("quadratic-20261203-1".into());
    press(&mut a, KeyCode::Char('q'));
    both("served_quit", &a);
}

#[test]
fn a_served_run_shows_its_system_line() {
    let mut a = app(TaskKind::Quadratic, &["lodo"]);
    a.run_id = Some("quadratic-20261203-1".into());
    a.apply(Msg::System(SysStats {
        cpu_percent: Some(97.6),
        rss_bytes: Some(41_200_000),
        threads: Some(9),
        load1: Some(1.93),
        cores: Some(2),
    }));
    both("system_line", &a);
}

#[test]
fn trainer_failure_is_shown() {
    let mut a = app(TaskKind::MnistAr, &["lodo"]);
    a.apply(Msg::Finished(Err(
        "mnist: cannot read data/train-images-idx3-ubyte.gz: No such file or directory".into(),
    )));
    both("failure", &a);
}

#[test]
fn finished_run() {
    let mut a = app(TaskKind::Rosenbrock, &["lodo"]);
    a.apply(Msg::Lanes(vec![status(
        0,
        "lodo",
        2_000,
        RunState::Finished,
    )]));
    a.apply(Msg::Finished(Ok(synthetic::summary(1))));
    both("finished", &a);
}

#[test]
fn waiting_for_the_trainer() {
    both("waiting", &App::new(Theme::new(true, false)));
}

#[test]
fn ascii_without_colour() {
    let a = app_with(
        TaskKind::Rosenbrock,
        &["lodo", "adam"],
        Theme::new(false, true),
    );
    both("ascii_rosenbrock", &a);
    let a = app_with(TaskKind::MnistAr, &["lodo"], Theme::new(false, true));
    both("ascii_mnist_ar", &a);
    for size in [(80, 24), (160, 48)] {
        let text = screen(&a, size.0, size.1);
        assert!(text.is_ascii(), "non-ASCII output under --ascii:\n{text}");
    }
}

#[test]
fn too_small_terminal() {
    let a = app(TaskKind::Quadratic, &["lodo"]);
    insta::assert_snapshot!("too_small_50x12", screen(&a, 50, 12));
}
