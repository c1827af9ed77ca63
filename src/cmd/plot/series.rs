//! What a plot shows of each record: one series per lane (its loss or an evaluation metric over
//! the steps, gradient evaluations or wall time, and for 2-D tasks its trajectory), and the
//! legend label of each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::optim::OptimizerSpec;
use crate::record::Record;
use crate::schema::LaneId;

/// What the y axis shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Quantity {
    /// The training loss of every step.
    Loss,
    /// An evaluation metric (`hessian_error`, `val_loss`, …) at every evaluation.
    Metric(String),
}

impl Quantity {
    pub fn axis_label(&self) -> String {
        match self {
            Quantity::Loss => "training loss".into(),
            Quantity::Metric(name) => name.clone(),
        }
    }
}

/// What the x axis shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum XAxis {
    /// Optimizer steps of the lane.
    #[default]
    Steps,
    /// Cumulative gradient evaluations of the lane (`grad_evals` of its step lines), the unit the
    /// paper's learning curves use. Records without the count are refused, see [`collect`].
    GradEvals,
    /// Seconds since the run started (continuing across resumes).
    Time,
}

impl XAxis {
    pub fn axis_label(self) -> &'static str {
        match self {
            XAxis::Steps => "step",
            XAxis::GradEvals => "gradient evaluations",
            XAxis::Time => "wall time (s)",
        }
    }
}

/// A record to plot, with the legend label to give its lanes (`None`: derived from the specs).
pub struct Input {
    pub path: PathBuf,
    pub record: Record,
    pub label: Option<String>,
}

/// One lane of one record.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend label; series with the same label share a colour and a legend entry.
    pub label: String,
    /// `(x, value)` in step order, non-finite values left out.
    pub points: Vec<(f64, f64)>,
    /// Positions (2-D tasks), in step order, starting with the lane's starting point.
    pub path: Vec<[f32; 2]>,
    pub seed: u64,
}

/// A lane as found in a record, before labelling.
struct Lane {
    file: usize,
    lane: LaneId,
    seed: u64,
    /// The spec the lane started with, when the start line names it.
    spec: Option<OptimizerSpec>,
    /// Optimizer names in the order the lane used them (more than one after a switch).
    optimizers: Vec<String>,
    points: Vec<(f64, f64)>,
    path: Vec<[f32; 2]>,
}

/// The series of every lane of every input over `x`, labelled. With `separate_seeds`, lanes that
/// differ only in their seed get their own labels (and colours) instead of sharing one.
///
/// Over gradient evaluations, a lane whose step lines lack `grad_evals` (records written before
/// the count existed, or continuing a checkpoint from before then) is refused with the file and
/// lane named rather than guessed: how many evaluations a step took depends on the optimizer.
pub fn collect(
    inputs: &[Input],
    quantity: &Quantity,
    x: XAxis,
    separate_seeds: bool,
) -> Result<Vec<Series>> {
    let mut lanes = Vec::new();
    for (file, input) in inputs.iter().enumerate() {
        lanes.extend(lanes_of(file, input, quantity, x)?);
    }
    // Lanes without the quantity (e.g. a metric only LODO reports) have nothing to show.
    lanes.retain(|l| !l.points.is_empty());
    if lanes.is_empty() {
        bail!("{}", nothing_to_plot(inputs, quantity));
    }
    let labels = labels(inputs, &lanes, separate_seeds);
    Ok(lanes
        .into_iter()
        .zip(labels)
        .map(|(lane, label)| Series {
            label,
            points: lane.points,
            path: lane.path,
            seed: lane.seed,
        })
        .collect())
}

fn lanes_of(file: usize, input: &Input, quantity: &Quantity, x: XAxis) -> Result<Vec<Lane>> {
    let record = &input.record;
    // Gradient evaluations at each (lane, step), to place evaluations; a lane starts at 0 only
    // when it starts at step 0 (race lanes start later, with the count of their parent).
    let mut evals_at: BTreeMap<(LaneId, u64), u64> = BTreeMap::new();
    if x == XAxis::GradEvals {
        for s in &record.steps {
            let Some(count) = s.grad_evals else {
                bail!(
                    "{}: lane {} has step lines without grad_evals (the record was written before \
                     lodo-tui counted gradient evaluations, or continues a checkpoint from before \
                     then), so it cannot be placed on --x grad-evals; use --x steps (the same \
                     axis for optimizers that evaluate one gradient a step) or --x time",
                    input.path.display(),
                    s.lane
                );
            };
            evals_at.insert((s.lane, s.step), count);
            if s.step == 1 {
                evals_at.entry((s.lane, 0)).or_insert(0);
            }
        }
    }
    let mut lanes: BTreeMap<LaneId, Lane> = BTreeMap::new();
    let new_lane = |id: LaneId| Lane {
        file,
        lane: id,
        seed: record.start.seed,
        spec: record.start.optimizers.get(id).cloned(),
        optimizers: Vec::new(),
        points: Vec::new(),
        path: Vec::new(),
    };
    for s in &record.steps {
        let l = lanes.entry(s.lane).or_insert_with(|| new_lane(s.lane));
        if l.optimizers.last() != Some(&s.optimizer) {
            l.optimizers.push(s.optimizer.clone());
        }
        if *quantity == Quantity::Loss && s.loss.is_finite() {
            let at = match x {
                XAxis::Steps => s.step as f64,
                XAxis::GradEvals => s.grad_evals.unwrap_or_default() as f64,
                XAxis::Time => s.t,
            };
            l.points.push((at, f64::from(s.loss)));
        }
    }
    if let Quantity::Metric(name) = quantity {
        for e in &record.evals {
            if let Some(v) = e.metrics.get(name).filter(|v| v.is_finite()) {
                let at = match x {
                    XAxis::Steps => e.step as f64,
                    // An evaluation whose step has no line (e.g. at a race's fork) has no place.
                    XAxis::GradEvals => match evals_at.get(&(e.lane, e.step)) {
                        Some(&count) => count as f64,
                        None => continue,
                    },
                    XAxis::Time => e.t,
                };
                let l = lanes.entry(e.lane).or_insert_with(|| new_lane(e.lane));
                l.points.push((at, *v));
            }
        }
    }
    for p in &record.points {
        let l = lanes.entry(p.lane).or_insert_with(|| new_lane(p.lane));
        l.path.push(p.xy);
    }
    Ok(lanes.into_values().collect())
}

/// Why nothing can be drawn: no steps at all, or the metric is not in the records.
fn nothing_to_plot(inputs: &[Input], quantity: &Quantity) -> String {
    let files: Vec<String> = inputs
        .iter()
        .map(|i| i.path.display().to_string())
        .collect();
    match quantity {
        Quantity::Loss => format!("{}: the record holds no steps", files.join(", ")),
        Quantity::Metric(name) => {
            let mut known: Vec<&String> = inputs
                .iter()
                .flat_map(|i| i.record.evals.iter().flat_map(|e| e.metrics.keys()))
                .collect();
            known.sort();
            known.dedup();
            let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            format!(
                "{}: no evaluation holds the metric `{name}`; recorded metrics: {}",
                files.join(", "),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        }
    }
}

/// Labels: the input's own label, else the optimizer's name plus the hyperparameters in which it
/// differs from the other lanes running the same optimizer, then `→ next` for each switch. With
/// `separate_seeds`, labels shared by lanes of different seeds get `seed S`. Lanes that would
/// still share label and seed (the same run in two files, or two identical lanes of one race) get
/// their file's name, then their lane number.
fn labels(inputs: &[Input], lanes: &[Lane], separate_seeds: bool) -> Vec<String> {
    let specs: Vec<Option<&OptimizerSpec>> = lanes.iter().map(|l| l.spec.as_ref()).collect();
    let mut out: Vec<String> = lanes
        .iter()
        .map(|l| match &inputs[l.file].label {
            Some(label) => label.clone(),
            None => optimizer_label(l, &specs),
        })
        .collect();
    if separate_seeds {
        out = disambiguate(
            &out,
            |i, j| lanes[i].seed != lanes[j].seed,
            |i| format!("seed {}", lanes[i].seed),
        );
    }
    let same_seed = |i: usize, j: usize| lanes[i].seed == lanes[j].seed;
    out = disambiguate(
        &out,
        |i, j| same_seed(i, j) && lanes[i].file != lanes[j].file,
        |i| file_stem(&inputs[lanes[i].file].path),
    );
    disambiguate(
        &out,
        |i, j| same_seed(i, j) && lanes[i].file == lanes[j].file,
        |i| format!("lane {}", lanes[i].lane),
    )
}

/// Appends ` · suffix(i)` to label `i` when another lane `j` has the same label and
/// `clashes(i, j)`.
fn disambiguate(
    labels: &[String],
    clashes: impl Fn(usize, usize) -> bool,
    suffix: impl Fn(usize) -> String,
) -> Vec<String> {
    labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let clash = labels
                .iter()
                .enumerate()
                .any(|(j, other)| j != i && other == label && clashes(i, j));
            if clash {
                format!("{label} · {}", suffix(i))
            } else {
                label.clone()
            }
        })
        .collect()
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into(),
    )
}

/// `lodo`, or `lodo meta_lr=0.01` when other lanes run `lodo` with another meta_lr, followed by
/// `→ adam` for each optimizer the lane switched to.
fn optimizer_label(lane: &Lane, specs: &[Option<&OptimizerSpec>]) -> String {
    let first = lane
        .spec
        .as_ref()
        .map(|s| s.name.clone())
        .or_else(|| lane.optimizers.first().cloned())
        .unwrap_or_else(|| "?".into());
    let mut label = match &lane.spec {
        Some(spec) => {
            let differing = differing_fields(spec, specs);
            if differing.is_empty() {
                first.clone()
            } else {
                format!("{first} {}", differing.join(" "))
            }
        }
        None => first.clone(),
    };
    let mut previous = first;
    for name in &lane.optimizers {
        if *name != previous {
            label.push_str(&format!(" → {name}"));
            previous = name.clone();
        }
    }
    label
}

/// `key=value` for each hyperparameter of `spec` (but its seed) whose value differs in another
/// spec of the same optimizer.
fn differing_fields(spec: &OptimizerSpec, specs: &[Option<&OptimizerSpec>]) -> Vec<String> {
    let fields = |s: &OptimizerSpec| -> BTreeMap<String, String> {
        // Through text: `to_value` would widen f32 to f64 (0.2 → 0.20000000298…).
        serde_json::to_string(s)
            .ok()
            .and_then(|t| serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&t).ok())
            .unwrap_or_default()
            .into_iter()
            // The optimizer's seed follows the run's seed, which has its own treatment.
            .filter(|(k, _)| k != "name" && k != "seed")
            .map(|(k, v)| (k, v.to_string()))
            .collect()
    };
    let own = fields(spec);
    let others: Vec<BTreeMap<String, String>> = specs
        .iter()
        .flatten()
        .filter(|s| s.name == spec.name)
        .map(|s| fields(s))
        .collect();
    let mut keys: Vec<&String> = others.iter().flat_map(|o| o.keys()).collect();
    keys.sort();
    keys.dedup();
    // In the spec's declaration order (lr first), like `OptimizerSpec`'s Display.
    let order = spec_field_order();
    keys.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(usize::MAX));
    keys.into_iter()
        .filter(|k| others.iter().any(|o| o.get(*k) != own.get(*k)))
        .map(|k| format!("{k}={}", own.get(k).map_or("default", |v| v.as_str())))
        .collect()
}

fn spec_field_order() -> Vec<&'static str> {
    crate::optim::fields::FIELDS.iter().map(|f| f.key).collect()
}
