//! Full-screen snapshots of the dashboard at 80×24 and 160×48 for every task and the main
//! states, fed with record fixtures written by the real program (tests/fixtures/records, replayed
//! as `lodo-tui view` replays them; their times are recorded, so no wall clock reaches the
//! screen). Review changes with `cargo insta review` (or `INSTA_UPDATE=always cargo test --release`).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use lodo_tui::record::overlay::{self, Source};
use lodo_tui::schema::msg::SysStats;
use lodo_tui::task::{Digits, TaskView};
use lodo_tui::train::{Event, EventKind, LaneStatus, Msg, RunState};
use lodo_tui::ui::{App, Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const QUADRATIC: &[&str] = &["quadratic-lodo-seed0.jsonl"];
const QUADRATIC_TWO: &[&str] = &["quadratic-lodo-seed0.jsonl", "quadratic-adam-seed0.jsonl"];
const ROSENBROCK_TWO: &[&str] = &["rosenbrock-lodo-seed0.jsonl", "rosenbrock-adam-seed0.jsonl"];
const MNIST: &[&str] = &["mnist-lodo-seed0.jsonl"];
const MNIST_CLASSIFY: &[&str] = &["mnist-classify-adam-seed0.jsonl"];

/// The fixtures' messages (overlaid when several), with their summary only when `finished`.
fn messages(fixtures: &[&str], finished: bool) -> Vec<Msg> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records");
    let sources: Vec<Source> = fixtures.iter().map(|f| Source::new(&dir.join(f))).collect();
    let mut msgs = overlay::messages(&sources).unwrap();
    msgs.retain(|m| finished || !matches!(m, Msg::Finished(_)));
    msgs
}

/// The dashboard on the fixtures as they looked while being written.
fn app(fixtures: &[&str]) -> App {
    app_with(fixtures, Theme::new(true, false))
}

fn app_with(fixtures: &[&str], theme: Theme) -> App {
    let mut app = App::new(theme);
    for msg in messages(fixtures, false) {
        app.apply(msg);
    }
    app
}

/// Eight generated digits, the last one half drawn: rings of growing radius (a record holds no
/// digits; the trainer sends them on `g`).
fn digits() -> Msg {
    let (count, side) = (8usize, 28usize);
    let mut pixels = Vec::with_capacity(count * side * side);
    for n in 0..count {
        let radius = 5.0 + n as f32;
        for r in 0..side {
            for c in 0..side {
                let (y, x) = (r as f32 - 13.5, c as f32 - 13.5);
                let d = ((x * x + y * y).sqrt() - radius).abs();
                pixels.push((255.0 * (1.0 - d / 2.5).clamp(0.0, 1.0)) as u8);
            }
        }
    }
    Msg::View {
        lane: None,
        view: TaskView::Digits(Digits {
            rows: side,
            cols: side,
            count,
            pixels,
            pixels_done: count * side * side - side * side / 2,
        }),
    }
}

fn mnist_with_digits(theme: Theme) -> App {
    let mut a = app_with(MNIST, theme);
    a.apply(digits());
    a
}

/// Lane `lane`'s status as the dashboard has it, in `state`.
fn status(app: &App, lane: usize, state: RunState) -> LaneStatus {
    LaneStatus {
        state,
        ..app.model.lanes[lane].status.clone()
    }
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
    both("mnist_ar", &mnist_with_digits(Theme::new(true, false)));
}

#[test]
fn mnist_classify_with_accuracy() {
    both("mnist_classify", &app(MNIST_CLASSIFY));
}

#[test]
fn quadratic_with_hessian_error() {
    both("quadratic", &app(QUADRATIC));
}

#[test]
fn rosenbrock_heat_map_with_two_lanes() {
    both("rosenbrock_two_lanes", &app(ROSENBROCK_TWO));
}

#[test]
fn paused_and_diverged() {
    let mut a = app(QUADRATIC_TWO);
    a.apply(Msg::Event(Event {
        lane: Some(1),
        step: 100,
        t: 0.1,
        kind: EventKind::Diverged,
        detail: "non-finite loss at step 101; parameters restored, lane paused".into(),
    }));
    let diverged = vec![
        status(&a, 0, RunState::Paused),
        status(&a, 1, RunState::Diverged),
    ];
    a.apply(Msg::Lanes(diverged));
    both("diverged", &a);
    let paused = vec![
        status(&a, 0, RunState::Paused),
        status(&a, 1, RunState::Paused),
    ];
    a.apply(Msg::Lanes(paused));
    both("paused", &a);
}

#[test]
fn linear_axis_recent_window_raw_data() {
    let mut a = app(QUADRATIC);
    press(&mut a, KeyCode::Char('l'));
    press(&mut a, KeyCode::Right);
    for _ in 0..5 {
        press(&mut a, KeyCode::Char('S'));
    }
    both("linear_recent_raw", &a);
}

#[test]
fn help_overlay() {
    let mut a = app(MNIST);
    press(&mut a, KeyCode::Char('?'));
    both("help", &a);
}

#[test]
fn optimizer_picker_filtered() {
    let mut a = app(MNIST);
    press(&mut a, KeyCode::Char('o'));
    press(&mut a, KeyCode::Char('m'));
    press(&mut a, KeyCode::Down);
    both("picker", &a);
}

#[test]
fn race_picker_with_choices() {
    let mut a = app(QUADRATIC);
    press(&mut a, KeyCode::Char('r'));
    press(&mut a, KeyCode::Char(' '));
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Char(' '));
    both("race_picker", &a);
}

#[test]
fn quit_confirmation() {
    let mut a = app(QUADRATIC);
    press(&mut a, KeyCode::Char('q'));
    both("confirm_quit", &a);
}

#[test]
fn a_served_run_names_itself_and_asks_stop_or_detach() {
    let mut a = app(QUADRATIC);
    a.run_id = Some("quadratic-20261203-1".into());
    press(&mut a, KeyCode::Char('q'));
    both("served_quit", &a);
}

#[test]
fn a_served_run_shows_its_system_line() {
    let mut a = app(QUADRATIC);
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
fn a_read_only_view_marks_steering_keys_and_answers_them() {
    let mut a = App::viewing(
        Theme::new(true, false),
        "quadratic-lodo-seed0 + quadratic-adam-seed0",
    );
    for msg in messages(QUADRATIC_TWO, false) {
        a.apply(msg);
    }
    press(&mut a, KeyCode::Char(' '));
    both("view_read_only", &a);
    press(&mut a, KeyCode::Char('?'));
    both("view_help", &a);
}

#[test]
fn trainer_failure_is_shown() {
    let mut a = app(MNIST);
    a.apply(Msg::Finished(Err(
        "mnist: cannot read data/train-images-idx3-ubyte.gz: No such file or directory".into(),
    )));
    both("failure", &a);
}

#[test]
fn finished_run() {
    let mut a = App::new(Theme::new(true, false));
    for msg in messages(&ROSENBROCK_TWO[..1], true) {
        a.apply(msg);
    }
    a.apply(Msg::Lanes(vec![status(&a, 0, RunState::Finished)]));
    both("finished", &a);
}

#[test]
fn waiting_for_the_trainer() {
    both("waiting", &App::new(Theme::new(true, false)));
}

#[test]
fn ascii_without_colour() {
    let a = app_with(ROSENBROCK_TWO, Theme::new(false, true));
    both("ascii_rosenbrock", &a);
    let a = mnist_with_digits(Theme::new(false, true));
    both("ascii_mnist_ar", &a);
    for size in [(80, 24), (160, 48)] {
        let text = screen(&a, size.0, size.1);
        assert!(text.is_ascii(), "non-ASCII output under --ascii:\n{text}");
    }
}

#[test]
fn too_small_terminal() {
    let a = app(QUADRATIC);
    insta::assert_snapshot!("too_small_50x12", screen(&a, 50, 12));
}
