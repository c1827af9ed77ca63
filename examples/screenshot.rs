//! The README's picture of the dashboard at work: trains the real `mnist` preset (LODO) in this
//! process, asks it for generated digits half-way (as the `g` key does), and after `--steps`
//! steps draws the dashboard at 160×48 into a test backend and writes it as a PNG:
//!
//! ```sh
//! cargo run --release --example screenshot -- [--steps 600] [--out docs/img/dashboard.png]
//! ```
//!
//! It fails, writing nothing, if any glyph on the screen had to be drawn as a hollow box.

use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use lodo_tui::launch::use_data_dir;
use lodo_tui::preset::Preset;
use lodo_tui::train::{TrainerConfig, spawn};
use lodo_tui::ui::keys::Action;
use lodo_tui::ui::png::{self, CellFont};
use lodo_tui::ui::{App, Theme, draw};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const WIDTH: u16 = 160;
const HEIGHT: u16 = 48;
/// Pixels per text line: DejaVu Sans Mono then has 9-pixel cells, a common terminal size.
const LINE_HEIGHT: u32 = 18;

fn main() -> anyhow::Result<()> {
    let mut steps: u64 = 600;
    let mut out = PathBuf::from("docs/img/dashboard.png");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--steps" => steps = args.next().context("--steps needs a number")?.parse()?,
            "--out" => out = args.next().context("--out needs a path")?.into(),
            other => bail!("unknown argument {other}"),
        }
    }

    let mut preset = Preset::load("mnist")?;
    use_data_dir(&mut preset, None)?;
    let handle = spawn(TrainerConfig::new(preset))?;
    let mut app = App::new(Theme::new(true, false));
    let generate_at = steps / 2;
    let mut asked = false;
    let mut said = Instant::now();
    loop {
        match handle.messages.recv_timeout(Duration::from_secs(60)) {
            Ok(msg) => app.apply(msg),
            Err(RecvTimeoutError::Timeout) => bail!("the trainer sent nothing for a minute"),
            Err(RecvTimeoutError::Disconnected) => bail!("the trainer stopped early"),
        }
        if let Some(Err(e)) = &app.model.finished {
            bail!("training failed: {e}");
        }
        let step = app.model.step();
        if said.elapsed() >= Duration::from_secs(5) {
            said = Instant::now();
            let digits = app.model.digits.as_ref();
            // Images are sampled together: `pixels_done` counts positions within each.
            let done = digits.map_or(0, |d| d.pixels_done * 100 / (d.rows * d.cols).max(1));
            eprintln!("step {step} of {steps}; digits {done}% drawn");
        }
        if !asked && step >= generate_at {
            asked = true;
            let command = app
                .perform(Action::Generate)
                .context("the dashboard did not ask for digits")?;
            handle.send(command);
        }
        let drawn = app
            .model
            .digits
            .as_ref()
            .is_some_and(|d| d.pixels_done >= d.rows * d.cols);
        if asked && drawn && step >= steps {
            break;
        }
    }

    let mut terminal = Terminal::new(TestBackend::new(WIDTH, HEIGHT))?;
    terminal.draw(|f| draw::draw(f, &app))?;
    handle.shutdown()?;
    let font = CellFont::dejavu(LINE_HEIGHT)?;
    let shot = png::render(terminal.backend().buffer(), &font);
    if shot.missing_cells() > 0 {
        bail!(
            "no glyph for {:?} (cells: symbol → count); nothing written",
            shot.missing
        );
    }
    shot.save(&out)?;
    println!(
        "wrote {} ({}×{} px) at step {}",
        out.display(),
        shot.image.width(),
        shot.image.height(),
        app.model.step()
    );
    Ok(())
}
