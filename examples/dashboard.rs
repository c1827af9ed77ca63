//! The dashboard driven by a synthetic trainer, to look at it without training anything:
//!
//! ```sh
//! cargo run --release --example dashboard -- [quadratic|rosenbrock|mnist-ar|mnist-classify] \
//!     [--lanes lodo,adam] [--speed STEPS_PER_S] [--steps N] [--ascii] [--no-color]
//! ```

use anyhow::{Context, bail};
use lodo_tui::task::TaskKind;
use lodo_tui::ui::{self, UiOptions, synthetic};

fn main() -> anyhow::Result<()> {
    let mut task = TaskKind::MnistAr;
    let mut lanes = "lodo".to_string();
    let mut speed = 200.0;
    let mut steps = 50_000;
    let mut options = UiOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "quadratic" => task = TaskKind::Quadratic,
            "rosenbrock" => task = TaskKind::Rosenbrock,
            "mnist-ar" => task = TaskKind::MnistAr,
            "mnist-classify" => task = TaskKind::MnistClassify,
            "--lanes" => lanes = args.next().context("--lanes needs a list")?,
            "--speed" => speed = args.next().context("--speed needs a number")?.parse()?,
            "--steps" => steps = args.next().context("--steps needs a number")?.parse()?,
            "--ascii" => options.ascii = true,
            "--no-color" => options.color = false,
            other => bail!("unknown argument {other}"),
        }
    }
    let names: Vec<&str> = lanes.split(',').collect();
    let handle = synthetic::spawn(task, &names, speed, steps);
    if let Some(summary) = ui::run_with_summary(handle, options)? {
        for lane in summary.lanes {
            println!(
                "lane {} {}: {} steps, final loss {:.4}",
                lane.lane, lane.optimizer, lane.steps, lane.final_loss
            );
        }
    }
    Ok(())
}
