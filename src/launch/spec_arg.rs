//! Optimizer SPEC arguments: `NAME` or `NAME:KEY=VALUE,KEY=VALUE`, and comma-separated lists of
//! them. In a list, a `KEY=VALUE` item after a comma continues the entry before it (optimizer
//! names never contain `=`), so `lodo:lr=0.1,meta_lr=1e-5,adam` is two entries.
//!
//! An entry starts from the hyperparameters the preset gives that optimizer (its starting
//! optimizer, then its alternatives) and the pairs override them; unknown keys are rejected with
//! the list of valid ones.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

use crate::optim::{self, OptimizerSpec};
use crate::preset::Preset;

/// One entry as typed (kept as its label) and its spec.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecArg {
    pub label: String,
    pub spec: OptimizerSpec,
}

/// Splits a list into entries, joining `KEY=VALUE` continuations to their entry.
pub fn split_list(list: &str) -> Result<Vec<String>> {
    let mut entries: Vec<String> = Vec::new();
    for item in list.split(',').map(str::trim) {
        if item.is_empty() {
            bail!("empty entry in optimizer list `{list}`");
        }
        let continues = item.contains('=') && !item.contains(':');
        match entries.last_mut() {
            Some(last) if continues => {
                last.push(',');
                last.push_str(item);
            }
            _ if continues => bail!("`{item}` in `{list}` has no optimizer name before it"),
            _ => entries.push(item.to_string()),
        }
    }
    Ok(entries)
}

/// Parses one entry against the preset's hyperparameters.
pub fn parse(entry: &str, preset: &Preset) -> Result<SpecArg> {
    let (name, pairs) = match entry.split_once(':') {
        Some((name, pairs)) => (name.trim(), pairs.trim()),
        None => (entry.trim(), ""),
    };
    optim::spec::check_name(name)?;
    let base = std::iter::once(&preset.optimizer)
        .chain(&preset.alternatives)
        .find(|s| s.name == name)
        .cloned()
        .unwrap_or_else(|| OptimizerSpec::named(name));
    let mut fields = match serde_json::to_value(&base)? {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let mut seen = Vec::new();
    for pair in pairs.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("`{entry}`: expected KEY=VALUE, got `{pair}`"))?;
        let key = key.trim();
        if key == "name" {
            bail!("`{entry}`: the name goes before the colon");
        }
        if seen.contains(&key) {
            bail!("`{entry}`: `{key}` is given twice");
        }
        seen.push(key);
        let value: Value = serde_json::from_str(value.trim())
            .ok()
            .filter(Value::is_number)
            .with_context(|| {
                format!("`{entry}`: `{key}` needs a number, got `{}`", value.trim())
            })?;
        fields.insert(key.to_string(), value);
    }
    let spec: OptimizerSpec = serde_json::from_value(Value::Object(fields))
        .map_err(|e| anyhow::anyhow!("`{entry}`: {e}"))?;
    Ok(SpecArg {
        label: entry.trim().to_string(),
        spec,
    })
}

/// Parses every list (the flag may be repeated) into entries.
pub fn parse_lists(lists: &[String], preset: &Preset) -> Result<Vec<SpecArg>> {
    let mut out: Vec<SpecArg> = Vec::new();
    for list in lists {
        for entry in split_list(list)? {
            let arg = parse(&entry, preset)?;
            if out.iter().any(|o| o.label == arg.label) {
                bail!("optimizer `{}` is listed twice", arg.label);
            }
            out.push(arg);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskSpec;

    fn preset() -> Preset {
        Preset {
            name: "p".into(),
            description: "d".into(),
            task: TaskSpec::named("quadratic"),
            optimizer: OptimizerSpec {
                lr: Some(0.085),
                meta_lr: Some(8e-6),
                ..OptimizerSpec::named("lodo")
            },
            alternatives: vec![OptimizerSpec {
                lr: Some(1e-3),
                ..OptimizerSpec::named("adam")
            }],
            seed: 0,
            max_steps: None,
            eval_interval: 10,
            loss_bound: None,
            checkpoint_interval: None,
            pace: None,
        }
    }

    #[test]
    fn lists_split_at_names_not_at_every_comma() {
        assert_eq!(
            split_list("lodo:lr=0.1,meta_lr=1e-5, adam ,momentum:beta=0.8").unwrap(),
            vec!["lodo:lr=0.1,meta_lr=1e-5", "adam", "momentum:beta=0.8"]
        );
        assert!(split_list("lr=0.1,adam").is_err());
        assert!(split_list("adam,,lodo").is_err());
    }

    #[test]
    fn entries_start_from_the_presets_hyperparameters() {
        let p = preset();
        let lodo = parse("lodo:meta_lr=1e-5", &p).unwrap().spec;
        assert_eq!((lodo.lr, lodo.meta_lr), (Some(0.085), Some(1e-5)));
        assert_eq!(parse("adam", &p).unwrap().spec.lr, Some(1e-3));
        // Not in the preset: defaults.
        assert_eq!(
            parse("momentum", &p).unwrap().spec,
            OptimizerSpec::named("momentum")
        );
        let depth = parse("lodo:depth=8", &p).unwrap().spec;
        assert_eq!(depth.depth, Some(8));
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        let p = preset();
        let err = |e: &str| parse(e, &p).unwrap_err().to_string();
        assert!(err("adamw").starts_with("unknown optimizer `adamw`; valid optimizers: lodo"));
        assert_eq!(
            err("adam:lr=fast"),
            "`adam:lr=fast`: `lr` needs a number, got `fast`"
        );
        assert_eq!(err("adam:lr"), "`adam:lr`: expected KEY=VALUE, got `lr`");
        assert_eq!(
            err("adam:lr=1,lr=2"),
            "`adam:lr=1,lr=2`: `lr` is given twice"
        );
        let unknown = err("adam:learning_rate=1");
        assert!(
            unknown.contains("unknown field `learning_rate`, expected one of"),
            "{unknown}"
        );
        let twice = parse_lists(&["adam,lodo".into(), "adam".into()], &p).unwrap_err();
        assert_eq!(twice.to_string(), "optimizer `adam` is listed twice");
    }
}
