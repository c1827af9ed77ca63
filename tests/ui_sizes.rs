//! Every panel renders into zero-size and 1×1 areas, and the whole screen into any terminal size
//! (including resizes to tiny sizes), in every mode, without panicking.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use lodo_tui::record::overlay::{self, Source};
use lodo_tui::train::Msg;
use lodo_tui::ui::app::{Mode, Picker};
use lodo_tui::ui::panels::{
    dialog, digits, dynamics, events, header, heatmap, help, keybar, loss, optimizer, picker, task,
    too_small,
};
use lodo_tui::ui::{App, Theme, draw};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::{Frame, Terminal};

type Panel = fn(&mut Frame, Rect, &App);

const PANELS: &[(&str, Panel)] = &[
    ("header", header::render),
    ("loss", loss::render),
    ("optimizer", optimizer::render),
    ("dynamics", dynamics::render),
    ("task", task::render),
    ("heatmap", heatmap::render),
    ("digits", digits::render),
    ("keybar", keybar::render),
    ("events", |f, a, app| {
        events::render(
            f,
            a,
            app.model.events.iter(),
            app.model.lanes.len(),
            &app.theme,
        )
    }),
    ("help", |f, a, app| {
        help::render(f, a, &app.view, app.read_only, &app.theme)
    }),
    ("picker", |f, a, app| {
        let purpose = picker::Purpose {
            race: true,
            lane: 0,
            current: None,
        };
        picker::render(
            f,
            a,
            &Picker::default(),
            app.alternatives(),
            &purpose,
            &app.theme,
        )
    }),
    ("confirm", |f, a, app| {
        dialog::confirm_quit(f, a, &app.theme, false)
    }),
    ("confirm_attached", |f, a, app| {
        dialog::confirm_quit(f, a, &app.theme, true)
    }),
    ("stopping", |f, a, app| dialog::stopping(f, a, &app.theme)),
    ("failure", |f, a, app| {
        dialog::failure(f, a, "boom\nsecond line", &app.theme)
    }),
    ("too_small", |f, a, app| too_small::render(f, a, &app.theme)),
];

fn apps() -> Vec<App> {
    let mut out = Vec::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/records");
    for fixtures in [
        &["mnist-lodo-seed0.jsonl"][..],
        &["mnist-classify-adam-seed0.jsonl"][..],
        &["quadratic-lodo-seed0.jsonl", "quadratic-adam-seed0.jsonl"][..],
        &["rosenbrock-lodo-seed0.jsonl", "rosenbrock-adam-seed0.jsonl"][..],
    ] {
        let sources: Vec<Source> = fixtures.iter().map(|f| Source::new(&dir.join(f))).collect();
        let msgs = overlay::messages(&sources).unwrap();
        for theme in [Theme::new(true, false), Theme::new(false, true)] {
            for read_only in [false, true] {
                let mut app = App::new(theme);
                app.read_only = read_only;
                for msg in msgs.iter().filter(|m| !matches!(m, Msg::Finished(_))) {
                    app.apply(msg.clone());
                }
                out.push(app);
            }
        }
    }
    out.push(App::new(Theme::new(true, false)));
    out
}

#[test]
fn every_panel_renders_into_zero_and_one_cell_areas() {
    for app in apps() {
        for (name, panel) in PANELS {
            for (w, h) in [(1, 1), (2, 2), (3, 3)] {
                let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
                for area in [
                    Rect::new(0, 0, 0, 0),
                    Rect::new(0, 0, 1, 1),
                    Rect::new(0, 0, w, h),
                ] {
                    terminal
                        .draw(|f| panel(f, area, &app))
                        .unwrap_or_else(|e| panic!("{name} at {area:?}: {e}"));
                }
            }
        }
    }
}

#[test]
fn the_screen_renders_at_any_size_in_every_mode() {
    let widths = [1, 2, 7, 20, 59, 60, 61, 79, 80, 81, 120, 161, 333];
    let heights = [1, 2, 5, 12, 15, 16, 17, 21, 22, 24, 29, 30, 48, 101];
    let modes = [
        Mode::Normal,
        Mode::Help,
        Mode::Picker(Picker::default()),
        Mode::Race(Picker::default()),
        Mode::ConfirmQuit,
        Mode::Stopping,
    ];
    for mut app in apps() {
        for mode in &modes {
            app.mode = mode.clone();
            // One terminal resized through every size, as a user dragging the window would.
            let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
            for &w in &widths {
                for &h in &heights {
                    terminal.backend_mut().resize(w, h);
                    terminal.resize(Rect::new(0, 0, w, h)).unwrap();
                    terminal.draw(|f| draw::draw(f, &app)).unwrap();
                }
            }
        }
    }
}

#[test]
fn a_failed_run_renders_at_small_sizes() {
    let mut app = apps().remove(0);
    app.apply(Msg::Finished(Err("x".repeat(500))));
    for (w, h) in [(60, 16), (20, 5), (1, 1), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| draw::draw(f, &app)).unwrap();
    }
}
