//! `lodo-tui plot`: pictures of run records as PNG files, drawn with plotters and the embedded
//! font (so it works on a headless server).
//!
//! - Curves: the loss (or an evaluation metric) of every lane of every record over the steps,
//!   one colour per legend label, optionally on a log axis and smoothed with the raw curve faint
//!   behind.
//! - Trajectories (2-D tasks): every lane's path over the task's heat map of log10 f.

pub mod curves;
pub mod series;
pub mod smooth;
pub mod style;
pub mod trajectories;

use std::fmt::Display;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::PlotArgs;
use crate::record;
use crate::task::TaskView;
pub use series::{Input, Quantity, Series, XAxis};

/// What to draw and where.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub output: PathBuf,
    /// Width × height in pixels.
    pub size: (u32, u32),
    pub quantity: Quantity,
    pub x: XAxis,
    pub log_y: bool,
    /// Moving-average window in points (steps for the loss, evaluations for a metric).
    pub smooth: Option<usize>,
    /// With smoothing, leave the raw curves out (many overlaid noisy runs make a solid band).
    pub hide_raw: bool,
    pub legend: curves::LegendCorner,
    /// Defaults to the task's title and what is plotted.
    pub title: Option<String>,
    /// Paths on the heat map instead of curves.
    pub trajectories: bool,
    /// One colour per seed instead of one per optimizer.
    pub separate_seeds: bool,
}

impl Options {
    /// Loss curves into `output` at the default size.
    pub fn curves(output: &Path) -> Self {
        Self {
            output: output.to_path_buf(),
            size: DEFAULT_SIZE,
            quantity: Quantity::Loss,
            x: XAxis::Steps,
            log_y: false,
            smooth: None,
            hide_raw: false,
            legend: curves::LegendCorner::default(),
            title: None,
            trajectories: false,
            separate_seeds: false,
        }
    }
}

pub const DEFAULT_SIZE: (u32, u32) = (1200, 700);
/// Pictures outside these bounds are refused rather than drawn unreadable or enormous.
const MIN_SIZE: u32 = 200;
const MAX_SIZE: u32 = 8000;

/// What was drawn: the legend entries in order and the number of series (lanes) drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    pub legend: Vec<String>,
    pub series: usize,
    pub size: (u32, u32),
}

/// A legend entry: the label its series share, and the text shown.
pub(crate) struct LegendEntry {
    pub label: String,
    pub text: String,
}

/// One entry per distinct label in order of appearance; the text says how many seeds it covers
/// when its series have several.
pub(crate) fn legend_entries(series: &[Series]) -> Vec<LegendEntry> {
    let mut out: Vec<LegendEntry> = Vec::new();
    for s in series {
        if out.iter().any(|e| e.label == s.label) {
            continue;
        }
        let mut seeds: Vec<u64> = series
            .iter()
            .filter(|o| o.label == s.label)
            .map(|o| o.seed)
            .collect();
        seeds.sort_unstable();
        seeds.dedup();
        let text = if seeds.len() > 1 {
            format!("{} ({} seeds)", s.label, seeds.len())
        } else {
            s.label.clone()
        };
        out.push(LegendEntry {
            label: s.label.clone(),
            text,
        });
    }
    out
}

/// Caption and axis names of a chart.
pub(crate) struct Frame<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
}

/// A plotters result with its error as an anyhow error that says drawing failed.
pub(crate) fn plotting<T, E: Display>(result: Result<T, E>) -> Result<T> {
    result.map_err(|e| anyhow!("drawing failed: {e}"))
}

/// `lodo-tui plot`.
pub fn run(args: &PlotArgs) -> Result<()> {
    let inputs = read_inputs(&args.records)?;
    let options = Options {
        output: args.output.clone(),
        size: args.size,
        quantity: match &args.metric {
            Some(name) => Quantity::Metric(name.clone()),
            None => Quantity::Loss,
        },
        x: args.x,
        log_y: args.log_y,
        smooth: args.smooth.map(|n| n as usize),
        hide_raw: args.no_raw,
        legend: args.legend,
        title: args.title.clone(),
        trajectories: args.trajectories,
        separate_seeds: args.separate_seeds,
    };
    let drawn = plot(&inputs, &options)?;
    eprintln!(
        "wrote {} ({}×{}, {} series: {})",
        options.output.display(),
        drawn.size.0,
        drawn.size.1,
        drawn.series,
        drawn.legend.join(", ")
    );
    Ok(())
}

/// Reads every record; errors name the file (and the line, for a malformed one).
pub fn read_inputs(paths: &[PathBuf]) -> Result<Vec<Input>> {
    if paths.is_empty() {
        bail!("no record to plot: give one or more RECORD.jsonl files");
    }
    paths
        .iter()
        .map(|path| {
            let record = record::read(path)?;
            if let Some(note) = record.skipped_note(path) {
                eprintln!("warning: {note}");
            }
            Ok(Input {
                path: path.clone(),
                record,
                label: None,
            })
        })
        .collect()
}

/// Draws `inputs` as `options` asks.
pub fn plot(inputs: &[Input], options: &Options) -> Result<Drawn> {
    check_output(&options.output, options.size)?;
    style::register_fonts()?;
    if options.trajectories {
        return plot_trajectories(inputs, options);
    }
    let series = series::collect(inputs, &options.quantity, options.x, options.separate_seeds)?;
    let what = options.quantity.axis_label();
    let title = options
        .title
        .clone()
        .unwrap_or_else(|| format!("{} · {what}", common_title(inputs)));
    let style = curves::CurveStyle {
        title,
        x_label: options.x.axis_label(),
        y_label: what,
        log_y: options.log_y,
        smooth: options.smooth,
        hide_raw: options.hide_raw,
        legend: options.legend,
    };
    curves::draw(&options.output, options.size, &series, &style)
        .with_context(|| format!("cannot draw {}", options.output.display()))
}

fn plot_trajectories(inputs: &[Input], options: &Options) -> Result<Drawn> {
    for input in inputs {
        if input.record.points.is_empty() {
            bail!(
                "{}: the record holds no trajectory (`point` lines): --trajectories needs a record \
                 of a 2-D task (rosenbrock), written since lodo-tui records trajectories",
                input.path.display()
            );
        }
    }
    let first = &inputs[0];
    let map = heatmap(first)?;
    let series = series::collect(
        inputs,
        &Quantity::Loss,
        XAxis::Steps,
        options.separate_seeds,
    )?;
    let title = options
        .title
        .clone()
        .unwrap_or_else(|| common_title(inputs));
    trajectories::draw(&options.output, options.size, &series, &map, &title)
        .with_context(|| format!("cannot draw {}", options.output.display()))
}

/// The heat map of the record's task, built from the configuration the record carries.
fn heatmap(input: &Input) -> Result<crate::task::Heatmap> {
    let start = &input.record.start;
    let task = crate::task::spec::build(&start.config.task, start.seed)
        .with_context(|| format!("{}: cannot rebuild its task", input.path.display()))?;
    match task.static_view() {
        Some(TaskView::Heatmap(map)) => Ok(map),
        _ => bail!(
            "{}: task {} has no heat map to draw trajectories on",
            input.path.display(),
            start.task.name()
        ),
    }
}

/// The task title shared by the records, or a list of the task names.
fn common_title(inputs: &[Input]) -> String {
    let first = &inputs[0].record.start.task_title;
    if inputs.iter().all(|i| &i.record.start.task_title == first) {
        first.clone()
    } else {
        let mut names: Vec<&str> = inputs.iter().map(|i| i.record.start.task.name()).collect();
        names.dedup();
        names.join(", ")
    }
}

/// Refuses output plotters would fail on late or obscurely: not `.png`, no such directory, absurd
/// sizes.
fn check_output(path: &Path, size: (u32, u32)) -> Result<()> {
    let png = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if !png {
        bail!(
            "{}: the picture is written as PNG; give a file name ending in .png",
            path.display()
        );
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    crate::output_file::check_writable(path)?;
    let ok = |v: u32| (MIN_SIZE..=MAX_SIZE).contains(&v);
    if !ok(size.0) || !ok(size.1) {
        bail!(
            "picture size {}x{} is out of range: each side must be {MIN_SIZE}..={MAX_SIZE} pixels",
            size.0,
            size.1
        );
    }
    Ok(())
}

/// `WIDTHxHEIGHT`, e.g. `1200x700`, for `--size`.
pub fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let parse = |s: &str| s.trim().parse::<u32>().ok();
    match text.split_once(['x', 'X', '×']) {
        Some((w, h)) => match (parse(w), parse(h)) {
            (Some(w), Some(h)) => Ok((w, h)),
            _ => Err(format!(
                "`{text}` is not WIDTHxHEIGHT in pixels, e.g. 1200x700"
            )),
        },
        None => Err(format!(
            "`{text}` is not WIDTHxHEIGHT in pixels, e.g. 1200x700"
        )),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod x_axis_tests;
