//! Semantic checks of a parsed preset, each failure naming the field it is about.

use crate::builders::Builders;
use crate::optim::{self, OptimizerSpec};
use crate::task;

use super::Preset;
use super::locate::{self, Position};

/// A failed check: the field's path and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub path: String,
    pub message: String,
}

impl Invalid {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The position of the field in `text`, or of the nearest enclosing field that appears.
    pub fn locate(&self, text: &str) -> Option<Position> {
        let mut path = self.path.as_str();
        loop {
            if let Some(p) = locate::position_of(text, path) {
                return Some(p);
            }
            path = &path[..path.rfind(['.', '['])?];
        }
    }
}

/// Checks names, counts and every optimizer's hyperparameters.
pub fn check(preset: &Preset, builders: &Builders) -> Result<(), Invalid> {
    check_preset_name(&preset.name)?;
    task::spec::check_name(&preset.task.name)
        .map_err(|e| Invalid::new("task.name", e.to_string()))?;
    if preset.task.batch_size == Some(0) {
        return Err(Invalid::new("task.batch_size", "must be at least 1"));
    }
    check_task(preset, builders)?;
    check_optimizer("optimizer", &preset.optimizer, builders)?;
    for (i, spec) in preset.alternatives.iter().enumerate() {
        check_optimizer(&format!("alternatives[{i}]"), spec, builders)?;
    }
    if preset.eval_interval == 0 {
        return Err(Invalid::new("eval_interval", "must be at least 1"));
    }
    if preset.max_steps == Some(0) {
        return Err(Invalid::new("max_steps", "must be at least 1"));
    }
    if preset.checkpoint_interval == Some(0) {
        return Err(Invalid::new("checkpoint_interval", "must be at least 1"));
    }
    if let Some(pace) = preset.pace
        && !(pace.is_finite() && pace > 0.0)
    {
        return Err(Invalid::new(
            "pace",
            format!("must be a positive number of steps per second (got {pace})"),
        ));
    }
    if let Some(bound) = preset.loss_bound
        && !(bound.is_finite() && bound > 0.0)
    {
        return Err(Invalid::new(
            "loss_bound",
            format!("must be a positive finite number (got {bound})"),
        ));
    }
    Ok(())
}

/// Longest preset name: it becomes part of file names (checkpoints, compare's records).
pub const MAX_NAME_LEN: usize = 64;

/// A preset's name goes into file names, so it must be a plain one: no path separators, no
/// leading dot, nothing a shell or another file system would treat specially.
fn check_preset_name(name: &str) -> Result<(), Invalid> {
    if name.is_empty() {
        return Err(Invalid::new("name", "must not be empty"));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if let Some(bad) = name.chars().find(|c| !plain(*c)) {
        return Err(Invalid::new(
            "name",
            format!(
                "{bad:?} is not allowed in a preset name (it names files); use letters, digits, \
                 `-`, `_` and `.`"
            ),
        ));
    }
    if name.starts_with('.') || name.len() > MAX_NAME_LEN {
        return Err(Invalid::new(
            "name",
            format!(
                "must not start with `.` and be at most {MAX_NAME_LEN} characters (it names files)"
            ),
        ));
    }
    Ok(())
}

/// The synthetic tasks are cheap to build, so building one is the exact check of its fields. The
/// MNIST tasks would load the data set; their fields are checked without it.
fn check_task(preset: &Preset, builders: &Builders) -> Result<(), Invalid> {
    let checked = if preset.uses_mnist() {
        task::spec::check_without_data(&preset.task)
    } else {
        (builders.task)(&preset.task, preset.seed).map(drop)
    };
    checked.map_err(|e| {
        let message = format!("{e:#}");
        match named_in(&message, preset.task.set_fields()) {
            Some(field) => Invalid::new(format!("task.{field}"), message),
            None => Invalid::new("task", message),
        }
    })
}

fn check_optimizer(path: &str, spec: &OptimizerSpec, builders: &Builders) -> Result<(), Invalid> {
    optim::spec::check_name(&spec.name)
        .map_err(|e| Invalid::new(format!("{path}.name"), e.to_string()))?;
    builders.check_optimizer(spec).map_err(|e| {
        let message = format!("{e:#}");
        match named_in(&message, spec.set_fields()) {
            Some(field) => Invalid::new(format!("{path}.{field}"), message),
            None => Invalid::new(path, message),
        }
    })
}

/// The one set field that an error message names, if any, so the error can point at that field
/// rather than at the whole spec.
fn named_in(message: &str, fields: Vec<&'static str>) -> Option<&'static str> {
    let is_word = |field: &str| {
        message.match_indices(field).any(|(at, _)| {
            let before = message[..at].chars().next_back();
            let after = message[at + field.len()..].chars().next();
            let boundary = |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            boundary(before) && boundary(after)
        })
    };
    let only = |named: Vec<&'static str>| match named.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    only(
        fields
            .iter()
            .copied()
            .filter(|f| message.contains(&format!("`{f}`")))
            .collect(),
    )
    .or_else(|| only(fields.into_iter().filter(|f| is_word(f)).collect()))
}
