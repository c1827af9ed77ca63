//! Presets: a named, complete run configuration in RON (`presets/*.ron`, embedded in the binary).
//!
//! Loading validates everything a run will need before it starts: RON syntax and field names
//! (reported by RON with a position, to which we add the field path), then the task and optimizer
//! names and every optimizer's hyperparameters (reported at the field's position in the file).

pub mod builtin;
pub mod locate;
pub mod validate;

use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::builders::Builders;
use crate::optim::OptimizerSpec;
use crate::task::TaskSpec;

use locate::Position;

/// A complete run configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    /// One line, shown by `lodo-tui presets`.
    pub description: String,
    pub task: TaskSpec,
    /// The optimizer the run starts with.
    pub optimizer: OptimizerSpec,
    /// Optimizers offered for hot-swapping and racing, with their hyperparameters.
    #[serde(default)]
    pub alternatives: Vec<OptimizerSpec>,
    /// Seed of the task (initial parameters, data order) and, unless they set their own, of the
    /// optimizers.
    #[serde(default)]
    pub seed: u64,
    /// Stop after this many steps; `None` runs until quit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// Evaluate (validation loss, Hessian error, …) every this many steps.
    #[serde(default = "default_eval_interval")]
    pub eval_interval: u64,
    /// A loss above this counts as divergence (non-finite values always do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_bound: Option<f32>,
    /// Write a checkpoint every this many steps (needs `--checkpoint-dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_interval: Option<u64>,
    /// The dashboard's speed limit in steps per second, so that fast synthetic tasks can be
    /// watched (`<`/`>` change it live); headless runs and `compare` run at full speed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace: Option<f64>,
}

fn default_eval_interval() -> u64 {
    500
}

/// A preset that failed to load: where, which field, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresetError {
    pub origin: String,
    pub position: Option<Position>,
    /// Dotted path of the field (`alternatives[2].lr`), when known.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for PresetError {
    /// `presets/x.ron:7:13: field `optimizer.lr`: Expected float`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.col)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PresetError {}

impl Preset {
    /// A built-in preset by name, or a file when `arg` looks like a path (has a `/` or ends in
    /// `.ron`).
    pub fn load(arg: &str) -> Result<Self> {
        Self::load_with(arg, &Builders::default())
    }

    pub fn load_with(arg: &str, builders: &Builders) -> Result<Self> {
        if arg.contains('/') || arg.ends_with(".ron") {
            let text = std::fs::read_to_string(arg)
                .with_context(|| format!("cannot read preset file {arg}"))?;
            Ok(Self::parse(&text, arg, builders)?)
        } else {
            let (origin, text) = builtin::find(arg)?;
            Ok(Self::parse(text, &origin, builders)?)
        }
    }

    /// Parses preset text without the semantic checks (names, hyperparameters).
    pub fn parse_syntax(text: &str, origin: &str) -> Result<Self, PresetError> {
        let text = without_bom(text);
        let options = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        options
            .from_str(text)
            .map_err(|e| syntax_error(text, origin, &e))
    }

    /// Parses and validates preset text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, builders: &Builders) -> Result<Self, PresetError> {
        let text = without_bom(text);
        let preset = Self::parse_syntax(text, origin)?;
        validate::check(&preset, builders).map_err(|invalid| PresetError {
            origin: origin.to_string(),
            position: invalid.locate(text),
            field: Some(invalid.path),
            message: invalid.message,
        })?;
        Ok(preset)
    }

    /// Validates a preset that did not come from text (e.g. after command-line overrides).
    pub fn check(&self, builders: &Builders) -> Result<()> {
        validate::check(self, builders)
            .map_err(|invalid| anyhow::anyhow!("field `{}`: {}", invalid.path, invalid.message))
    }

    /// The preset as RON text, e.g. to save the effective configuration of a run.
    pub fn to_ron(&self) -> Result<String> {
        let pretty = ron::ser::PrettyConfig::default()
            .extensions(ron::extensions::Extensions::IMPLICIT_SOME);
        ron::ser::to_string_pretty(self, pretty).context("cannot write preset as RON")
    }

    /// Whether the task reads MNIST (and so needs a data directory).
    pub fn uses_mnist(&self) -> bool {
        self.task.name.starts_with("mnist")
    }

    /// Reads a preset file; a convenience for tests and tools.
    pub fn from_file(path: &Path, builders: &Builders) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read preset file {}", path.display()))?;
        Ok(Self::parse(&text, &path.display().to_string(), builders)?)
    }
}

/// Editors on some systems start UTF-8 files with a byte-order mark, which RON does not accept.
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A RON error with the field path at its position.
fn syntax_error(text: &str, origin: &str, e: &ron::error::SpannedError) -> PresetError {
    let position = Position {
        line: e.span.start.line,
        col: e.span.start.col,
    };
    let at = locate::cursor_at(text, position);
    let field = match &e.code {
        // RON points at the end of the struct that lacks the field.
        ron::Error::MissingStructField { field, .. } => {
            let owner = if at.in_parens { at.container } else { at.value };
            Some(join_path(&owner, field))
        }
        // RON points at the unknown key itself, before the scanner has taken it in.
        ron::Error::NoSuchStructField { found, .. } if at.in_parens => {
            Some(join_path(&at.container, found))
        }
        _ => Some(at.value).filter(|v| !v.is_empty()),
    };
    PresetError {
        origin: origin.to_string(),
        position: Some(position),
        field,
        message: e.code.to_string(),
    }
}

fn join_path(owner: &str, field: &str) -> String {
    if owner.is_empty() {
        field.to_string()
    } else {
        format!("{owner}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    fn fixture_error(name: &str) -> String {
        let path = format!("tests/invalid_presets/{name}.ron");
        let text = std::fs::read_to_string(&path).unwrap();
        Preset::parse(&text, &path, &testkit::builders())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn type_errors_name_file_position_and_field() {
        assert_eq!(
            fixture_error("type-error"),
            "tests/invalid_presets/type-error.ron:5:34: field `optimizer.lr`: Expected float"
        );
    }

    #[test]
    fn unknown_fields_inside_lists_get_the_element_path() {
        let e = fixture_error("unknown-field");
        assert!(
            e.starts_with(
                "tests/invalid_presets/unknown-field.ron:8:24: field \
                 `alternatives[1].learning_rate`: Unexpected field named `learning_rate`"
            ),
            "{e}"
        );
    }

    #[test]
    fn missing_fields_name_the_struct_that_lacks_them() {
        let e = fixture_error("missing-field");
        assert!(
            e.starts_with("tests/invalid_presets/missing-field.ron:4:19: field `task.name`:"),
            "{e}"
        );
    }

    #[test]
    fn unknown_names_list_the_valid_ones_at_their_position() {
        let e = fixture_error("unknown-optimizer");
        assert!(
            e.starts_with(
                "tests/invalid_presets/unknown-optimizer.ron:8:10: field `alternatives[1].name`: \
                 unknown optimizer `adamw`; valid optimizers: lodo, lodo-diagonal"
            ),
            "{e}"
        );
        let e = fixture_error("unknown-task");
        assert!(
            e.starts_with(
                "tests/invalid_presets/unknown-task.ron:4:12: field `task.name`: unknown task \
                 `cifar10`; valid tasks: mnist-ar, mnist-classify, quadratic, rosenbrock"
            ),
            "{e}"
        );
    }

    #[test]
    fn hyperparameter_errors_point_at_the_field_the_optimizer_names() {
        let e = fixture_error("inapplicable-field");
        assert!(
            e.starts_with(
                "tests/invalid_presets/inapplicable-field.ron:7:34: \
                 field `alternatives[0].meta_lr`: adam: field `meta_lr` does not apply"
            ),
            "{e}"
        );
    }

    #[test]
    fn task_settings_are_checked_by_building_the_task() {
        let e = fixture_error("task-field");
        assert!(
            e.starts_with(
                "tests/invalid_presets/task-field.ron:4:40: field `task.start`: quadratic: \
                 field `start` does not apply"
            ),
            "{e}"
        );
    }

    #[test]
    fn syntax_and_range_errors() {
        assert_eq!(
            fixture_error("syntax-error"),
            "tests/invalid_presets/syntax-error.ron:5:5: field `task`: Expected comma"
        );
        assert_eq!(
            fixture_error("bad-value"),
            "tests/invalid_presets/bad-value.ron:6:5: field `eval_interval`: must be at least 1"
        );
        assert_eq!(
            fixture_error("negative-steps"),
            "tests/invalid_presets/negative-steps.ron:6:17: field `max_steps`: Integer is out of bounds"
        );
    }

    #[test]
    fn names_that_would_reach_outside_a_directory_are_refused() {
        assert_eq!(
            fixture_error("path-name"),
            "tests/invalid_presets/path-name.ron:3:5: field `name`: '/' is not allowed in a \
             preset name (it names files); use letters, digits, `-`, `_` and `.`"
        );
        let builders = Builders::default();
        for bad in [".hidden", "a b", "x\\y", &"n".repeat(65)] {
            let text = format!(
                "(name: {bad:?}, description: \"\", task: (name: \"quadratic\"), optimizer: (name: \"sgd\"))"
            );
            let e = Preset::parse(&text, "t", &builders)
                .unwrap_err()
                .to_string();
            assert!(e.contains("field `name`"), "{bad}: {e}");
        }
    }

    #[test]
    fn mnist_fields_are_checked_with_the_preset_before_any_data_loads() {
        // The fixture's data_dir does not exist: the range error comes first.
        assert_eq!(
            fixture_error("mnist-field"),
            "tests/invalid_presets/mnist-field.ron:5:62: field `task.hidden`: mnist-classify: \
             hidden 1000000 is out of range 1..=4096"
        );
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let text = "\u{feff}(name: \"bom\", description: \"\", task: (name: \"quadratic\"), \
                    optimizer: (name: \"sgd\"), eval_interval: 0)";
        // Parses, and positions count from after the mark.
        let e = Preset::parse(text, "t", &Builders::default())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t:1:85: field `eval_interval`"), "{e}");
        let ok = text.replace("eval_interval: 0", "eval_interval: 5");
        assert_eq!(
            Preset::parse(&ok, "t", &Builders::default()).unwrap().name,
            "bom"
        );
    }

    #[test]
    fn builtin_presets_are_well_formed_ron_with_matching_names() {
        for (name, text) in builtin::BUILTIN {
            let preset = Preset::parse_syntax(text, name).unwrap();
            assert_eq!(&preset.name, name);
            assert!(!preset.description.contains('\n'));
            assert!(
                preset.alternatives.iter().any(|a| a.name == "adam")
                    && preset.alternatives.iter().any(|a| a.name == "momentum")
                    && preset
                        .alternatives
                        .iter()
                        .any(|a| a.name == preset.optimizer.name),
                "{name}: alternatives must offer adam, momentum and the starting optimizer"
            );
        }
    }

    #[test]
    fn unknown_builtin_lists_the_builtins() {
        let e = Preset::load_with("mnsit", &testkit::builders()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown preset `mnsit`; built-in presets: mnist, mnist-paper, mnist-classify, \
             quadratic, rosenbrock (or pass a path to a .ron file)"
        );
    }

    #[test]
    fn ron_round_trip_keeps_the_preset() {
        let text = "(name: \"t\", description: \"d\", task: (name: \"quadratic\", dim: 3), \
                    optimizer: (name: \"lodo\", lr: 0.5), max_steps: 10, loss_bound: 1e4)";
        let p = Preset::parse(text, "inline", &testkit::builders()).unwrap();
        assert_eq!(p.max_steps, Some(10));
        assert_eq!(p.eval_interval, 500);
        let again = Preset::parse(&p.to_ron().unwrap(), "again", &testkit::builders()).unwrap();
        assert_eq!(again, p);
    }
}
