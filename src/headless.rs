//! Headless mode: drains the trainer's messages, prints a concise progress line at most once a
//! second and every event as it happens (stderr), and returns the final summary.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::format::{cell, span, thousands};
use crate::schema::{Event, EventKind, Msg, StartInfo, StepRecord, Summary};
use crate::task::Metrics;
use crate::train::TrainerHandle;

const PRINT_EVERY: Duration = Duration::from_secs(1);
/// The loss EMA averages over about a second of steps, but at least this many and at most
/// `EMA_MAX_STEPS`, so slow runs are smoothed and fast ones still react within a print.
const EMA_MIN_STEPS: f64 = 20.0;
const EMA_MAX_STEPS: f64 = 1000.0;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// ANSI colours (stderr is a terminal and `NO_COLOR` is unset).
    pub color: bool,
    /// Prefix of every line (e.g. the run in `compare`).
    pub label: Option<String>,
    /// A line printed right after the run's opening line (which run this is, where it lives).
    pub after_start: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct LaneView {
    name: String,
    step: u64,
    /// Bias-corrected EMA of the loss: `sum / weight`.
    ema_sum: f64,
    ema_weight: f64,
    metrics: Metrics,
}

impl LaneView {
    fn ema(&self) -> Option<f64> {
        (self.ema_weight > 0.0).then(|| self.ema_sum / self.ema_weight)
    }
}

struct Progress<'a, W: Write> {
    options: &'a Options,
    out: W,
    lanes: Vec<LaneView>,
    max_steps: Option<u64>,
    last_print: Option<(Instant, u64)>,
    /// Smoothed steps per second.
    rate: Option<f64>,
    last_line: String,
}

/// Reads messages until the trainer finishes; its summary, or its error.
pub fn run(handle: &TrainerHandle, options: &Options) -> Result<Summary> {
    let mut progress = Progress::new(options, std::io::stderr());
    for msg in handle.messages.iter() {
        if let Some(result) = progress.handle(msg) {
            return result.map_err(anyhow::Error::msg);
        }
    }
    bail!("the trainer stopped without reporting a result")
}

impl<'a, W: Write> Progress<'a, W> {
    fn new(options: &'a Options, out: W) -> Self {
        Self {
            options,
            out,
            lanes: Vec::new(),
            max_steps: None,
            last_print: None,
            rate: None,
            last_line: String::new(),
        }
    }

    /// Takes one message; `Some` at the end of the run.
    fn handle(&mut self, msg: Msg) -> Option<Result<Summary, String>> {
        match msg {
            Msg::Started(info) => self.started(&info),
            Msg::Steps(steps) => self.steps(&steps),
            Msg::Eval { lane, metrics, .. } => {
                if let Some(l) = self.lanes.get_mut(lane) {
                    l.metrics = metrics;
                }
            }
            Msg::Event(event) => self.event(&event),
            Msg::Lanes(lanes) => {
                for status in lanes {
                    if let Some(l) = self.lanes.get_mut(status.lane) {
                        l.name = status.optimizer.name;
                    }
                }
            }
            Msg::Finished(result) => {
                self.print_progress();
                return Some(result);
            }
            Msg::View { .. } | Msg::Points(_) | Msg::Pace(_) | Msg::System(_) => {}
        }
        if self
            .last_print
            .is_none_or(|(t, _)| t.elapsed() >= PRINT_EVERY)
        {
            self.print_progress();
        }
        None
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.options.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn line(&mut self, text: &str) {
        let line = match &self.options.label {
            Some(label) => format!("{label}: {text}"),
            None => text.to_string(),
        };
        let _ = writeln!(self.out, "{line}");
    }

    fn started(&mut self, info: &StartInfo) {
        let fresh = self.lanes.is_empty();
        self.max_steps = info.max_steps;
        self.lanes = info
            .lanes
            .iter()
            .map(|l| LaneView {
                name: l.optimizer.name.clone(),
                step: l.step,
                ..LaneView::default()
            })
            .collect();
        if fresh {
            let optimizers: Vec<String> =
                info.lanes.iter().map(|l| l.optimizer.to_string()).collect();
            // Some task titles already give the parameter count.
            let title = if info.task_title.contains("params") {
                info.task_title.clone()
            } else {
                format!(
                    "{} ({} params)",
                    info.task_title,
                    thousands(info.n_params as u64)
                )
            };
            let mut text = format!(
                "{} · {title} · {} · seed {}",
                info.preset,
                optimizers.join(", "),
                info.seed
            );
            if let Some(b) = info.batch_size {
                text.push_str(&format!(" · batch {b}"));
            }
            if let Some(max) = info.max_steps {
                text.push_str(&format!(" · {} steps", thousands(max)));
            }
            let text = self.paint("1", &text);
            self.line(&text);
            if let Some(after) = self.options.after_start.clone() {
                self.line(&after);
            }
        }
    }

    fn steps(&mut self, steps: &[StepRecord]) {
        let tau = self.rate.unwrap_or(0.0).clamp(EMA_MIN_STEPS, EMA_MAX_STEPS);
        let keep = (-1.0 / tau).exp();
        for r in steps {
            if let Some(l) = self.lanes.get_mut(r.lane) {
                l.step = r.step;
                l.name.clone_from(&r.optimizer);
                l.ema_sum = keep * l.ema_sum + r.loss as f64;
                l.ema_weight = keep * l.ema_weight + 1.0;
            }
        }
    }

    fn event(&mut self, e: &Event) {
        let kind = format!("{:?}", e.kind).to_lowercase();
        let lane = e
            .lane
            .filter(|_| self.lanes.len() > 1)
            .map(|l| format!(" lane {l}"));
        let text = format!(
            "[step {}{}] {kind}: {}",
            thousands(e.step),
            lane.unwrap_or_default(),
            e.detail
        );
        let code = match e.kind {
            EventKind::Error | EventKind::Diverged => "31",
            EventKind::Info | EventKind::Checkpoint => "2",
            _ => "33",
        };
        let text = self.paint(code, &text);
        self.line(&text);
    }

    fn print_progress(&mut self) {
        let step = self.lanes.iter().map(|l| l.step).max().unwrap_or(0);
        let now = Instant::now();
        if let Some((t, s)) = self.last_print {
            let dt = now.duration_since(t).as_secs_f64();
            if dt > 0.0 && step > s {
                let r = (step - s) as f64 / dt;
                self.rate = Some(self.rate.map_or(r, |old| 0.5 * old + 0.5 * r));
            }
        }
        self.last_print = Some((now, step));
        if self.lanes.iter().all(|l| l.ema().is_none()) {
            return;
        }
        let mut parts = vec![match self.max_steps {
            Some(max) => format!("step {}/{}", thousands(step), thousands(max)),
            None => format!("step {}", thousands(step)),
        }];
        let single = self.lanes.len() == 1;
        for l in &self.lanes {
            let loss = l.ema().map_or("-".into(), cell);
            let loss = self.paint("1", &loss);
            parts.push(if single {
                format!("loss {loss}")
            } else {
                format!("{} {loss}", l.name)
            });
        }
        if let Some(rate) = self.rate {
            parts.push(format!("{} steps/s", cell(rate)));
            if let Some(max) = self.max_steps
                && rate > 0.0
                && max > step
            {
                parts.push(format!("ETA {}", span((max - step) as f64 / rate)));
            }
        }
        if single && let Some(l) = self.lanes.first() {
            // Validation metrics first: they are what a long run is watched for.
            let mut metrics: Vec<(&String, &f64)> = l.metrics.iter().collect();
            metrics.sort_by_key(|(k, _)| !k.starts_with("val_"));
            for (k, v) in metrics.into_iter().take(4) {
                parts.push(format!("{k} {}", cell(*v)));
            }
        }
        let text = parts.join("  ");
        if text != self.last_line {
            self.line(&text);
            self.last_line = text;
        }
    }
}

/// The widest summary table printed as one table; wider ones (many task metrics) list the metrics
/// under the table instead, so an 80-column terminal does not wrap every row.
const SUMMARY_WIDTH: usize = 100;
/// Metric lines under a wide summary wrap at this width.
const METRIC_LINE: usize = 78;

/// The end-of-run summary, one row per lane.
pub fn summary_table(summary: &Summary) -> String {
    let metric_names =
        crate::table::metric_columns(summary.lanes.iter().flat_map(|l| l.metrics.keys()));
    let mut headers: Vec<String> = [
        "lane",
        "optimizer",
        "steps",
        "final loss",
        "best loss",
        "mean last 10%",
        "steps/s",
        "diverged",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    headers.extend(metric_names.iter().map(|m| m.to_string()));
    let rows: Vec<Vec<String>> = summary
        .lanes
        .iter()
        .map(|l| {
            let mut row = vec![
                l.lane.to_string(),
                l.optimizer.clone(),
                thousands(l.steps),
                cell(l.final_loss as f64),
                cell(l.best_loss as f64),
                cell(l.mean_loss_last_10pct as f64),
                cell(l.steps_per_s),
                if l.diverged { "yes" } else { "no" }.to_string(),
            ];
            row.extend(
                metric_names
                    .iter()
                    .map(|m| l.metrics.get(*m).map_or("-".into(), |v| cell(*v))),
            );
            row
        })
        .collect();
    let table = crate::table::plain(&headers, &rows);
    let fits = table.lines().all(|l| l.chars().count() <= SUMMARY_WIDTH);
    let body = if fits || metric_names.is_empty() {
        table
    } else {
        let fixed = headers.len() - metric_names.len();
        let rows_fixed: Vec<Vec<String>> = rows.iter().map(|r| r[..fixed].to_vec()).collect();
        let mut text = crate::table::plain(&headers[..fixed], &rows_fixed);
        for (lane, row) in summary.lanes.iter().zip(&rows) {
            let mut line = format!("lane {}:", lane.lane);
            for (name, value) in metric_names.iter().zip(&row[fixed..]) {
                let item = format!("{name} {value}");
                if line.chars().count() + item.chars().count() + 1 > METRIC_LINE {
                    text.push_str(&line);
                    text.push('\n');
                    line = "  ".to_string();
                }
                line.push(' ');
                line.push_str(&item);
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    };
    let mut text = format!("finished after {}\n{body}", span(summary.elapsed_s));
    if !summary.lost.is_empty() {
        text.push_str("not saved:\n");
        for what in &summary.lost {
            text.push_str(&format!("- {what}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{OptimizerSpec, StepStats};
    use crate::schema::{LaneStatus, LaneSummary, RunState};
    use crate::task::TaskKind;

    fn info() -> StartInfo {
        StartInfo {
            preset: "quadratic".into(),
            task: TaskKind::Quadratic,
            task_title: "Noisy quadratic".into(),
            n_params: 100,
            seed: 0,
            batch_size: None,
            max_steps: Some(1000),
            eval_interval: 10,
            pace: None,
            alternatives: vec![],
            lanes: vec![LaneStatus {
                lane: 0,
                optimizer: OptimizerSpec::named("lodo"),
                step: 0,
                state: RunState::Running,
                summary: vec![],
            }],
            face: None,
        }
    }

    fn step(n: u64, loss: f32) -> StepRecord {
        StepRecord {
            lane: 0,
            step: n,
            grad_evals: Some(n),
            t: 0.0,
            optimizer: "lodo".into(),
            loss,
            stats: StepStats::default(),
        }
    }

    #[test]
    fn prints_header_progress_and_events_without_ansi_when_colourless() {
        let options = Options::default();
        let mut out = Vec::new();
        let mut p = Progress::new(&options, &mut out);
        p.handle(Msg::Started(info()));
        p.handle(Msg::Steps(vec![step(1, 2.0), step(2, 2.0)]));
        p.handle(Msg::Eval {
            lane: 0,
            step: 2,
            t: 0.0,
            metrics: [("hessian_error".to_string(), 0.5)].into(),
        });
        p.handle(Msg::Event(Event {
            lane: Some(0),
            step: 2,
            t: 0.0,
            kind: EventKind::Lr,
            detail: "lr 1 -> 0.5".into(),
        }));
        let end = p.handle(Msg::Finished(Err("boom".into())));
        assert_eq!(end, Some(Err("boom".into())));
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "quadratic · Noisy quadratic (100 params) · lodo · seed 0 · 1,000 steps"
        );
        assert!(text.contains("[step 2] lr: lr 1 -> 0.5"), "{text}");
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with("step 2/1,000  loss 2.000"),
            "{text}"
        );
        assert!(text.contains("hessian_error 0.5000"), "{text}");
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn colour_only_when_asked() {
        let options = Options {
            color: true,
            label: Some("adam seed 1".into()),
            after_start: None,
        };
        let mut out = Vec::new();
        let mut p = Progress::new(&options, &mut out);
        p.handle(Msg::Started(info()));
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("adam seed 1: \x1b[1mquadratic"),
            "{text:?}"
        );
    }

    #[test]
    fn summary_table_lists_lanes_and_metrics() {
        let s = Summary {
            lanes: vec![LaneSummary {
                lane: 0,
                optimizer: "lodo".into(),
                steps: 20000,
                grad_evals: Some(20000),
                final_loss: 0.125,
                best_loss: 0.1,
                steps_per_s: 1500.0,
                diverged: false,
                metrics: [("hessian_error".to_string(), 0.25)].into(),
                mean_loss_last_10pct: 0.13,
                task_ms_median: 0.01,
                optimizer_ms_median: 0.2,
            }],
            elapsed_s: 75.0,
            lost: vec![],
        };
        let t = summary_table(&s);
        assert!(
            t.starts_with("finished after 1m15s\nlane  optimizer"),
            "{t}"
        );
        assert!(t.contains("0     lodo       20,000  0.1250"), "{t}");
        assert!(t.contains("hessian_error"), "{t}");
    }

    #[test]
    fn a_summary_with_many_metrics_lists_them_under_the_table() {
        let metrics = [
            "distance_to_centre",
            "hessian_error",
            "hessian_error_best_scale",
            "loss_at_centre",
        ];
        let s = Summary {
            lanes: vec![LaneSummary {
                lane: 0,
                optimizer: "lodo".into(),
                steps: 100000,
                grad_evals: Some(100000),
                final_loss: 8.5,
                best_loss: 3.2,
                steps_per_s: 21000.0,
                diverged: false,
                metrics: metrics.iter().map(|m| (m.to_string(), 0.5)).collect(),
                mean_loss_last_10pct: 8.9,
                task_ms_median: 0.001,
                optimizer_ms_median: 0.03,
            }],
            elapsed_s: 5.0,
            lost: vec![],
        };
        let t = summary_table(&s);
        assert!(t.lines().all(|l| l.chars().count() <= 100), "{t}");
        let metric_lines = t.lines().skip_while(|l| !l.starts_with("lane 0:"));
        assert!(metric_lines.clone().count() == 2, "{t}");
        assert!(
            metric_lines.into_iter().all(|l| l.chars().count() <= 78),
            "{t}"
        );
        assert!(t.contains("0     lodo       100,000"), "{t}");
        assert!(
            t.contains("lane 0: distance_to_centre 0.5000 hessian_error 0.5000"),
            "{t}"
        );
        assert!(t.contains("\n   hessian_error_best_scale 0.5000"), "{t}");
    }
}
