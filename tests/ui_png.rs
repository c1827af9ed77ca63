//! The screenshot renderer against the real dashboard: every glyph any dashboard state draws has a
//! shape, and a real run's screen renders with none missing and its data visible.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use lodo_tui::preset::Preset;
use lodo_tui::train::{TrainerConfig, spawn};
use lodo_tui::ui::png::{self, CellFont};
use lodo_tui::ui::{App, Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

fn font() -> CellFont {
    CellFont::dejavu(18).unwrap()
}

/// Every character of the dashboard snapshots (all tasks and states, both sizes, Unicode and
/// ASCII) renders without a hollow box.
#[test]
fn every_glyph_in_the_dashboard_snapshots_has_a_shape() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut files = 0;
    let mut chars = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "snap") {
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            chars.extend(text.chars().filter(|c| !c.is_control()));
        }
    }
    assert!(files >= 10, "only {files} snapshots in {}", dir.display());
    for expected in ['╭', '│', '▀', '●', '⣿', '→'] {
        assert!(
            chars.contains(&expected),
            "the snapshots no longer show {expected}"
        );
    }
    let line: String = chars.iter().collect();
    let width = line.chars().count() as u16;
    let mut buffer = Buffer::empty(Rect::new(0, 0, width, 1));
    buffer.set_string(0, 0, &line, Style::new());
    let shot = png::render(&buffer, &font());
    assert!(shot.missing.is_empty(), "missing: {:?}", shot.missing);
}

/// A real quadratic run (the shipped preset, 300 steps) drawn at both sizes: nothing missing, and
/// its loss line is on the picture in lane 0's colour (xterm cyan).
#[test]
fn a_real_run_renders_with_no_missing_glyph() {
    let mut preset = Preset::load("quadratic").unwrap();
    preset.max_steps = Some(300);
    preset.eval_interval = 100;
    let handle = spawn(TrainerConfig::new(preset)).unwrap();
    let mut app = App::new(Theme::new(true, false));
    for msg in handle.messages.iter() {
        app.apply(msg);
        if app.model.finished.is_some() {
            break;
        }
    }
    assert!(
        matches!(app.model.finished, Some(Ok(_))),
        "{:?}",
        app.model.finished
    );
    handle.shutdown().unwrap();
    let font = font();
    for (w, h) in [(160, 48), (80, 24)] {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| draw::draw(f, &app)).unwrap();
        let shot = png::render(terminal.backend().buffer(), &font);
        assert!(shot.missing.is_empty(), "{w}×{h}: {:?}", shot.missing);
        assert_eq!(
            shot.image.dimensions(),
            (u32::from(w) * font.width, u32::from(h) * font.height)
        );
        let cyan = shot.image.pixels().filter(|p| p.0 == [0, 205, 205]).count();
        assert!(cyan > 200, "{w}×{h}: only {cyan} cyan pixels");
    }
}
