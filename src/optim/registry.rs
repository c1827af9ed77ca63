//! The one list of optimizers. Names, `build`, `check_name`, the memory estimate and the
//! baseline tests all read it: adding an optimizer is its own file and one line here.

use anyhow::{Result, bail};

use super::{
    BuildContext, Optimizer, OptimizerSpec, adam, bfgs, lars, lbfgs, levenberg_marquardt, lodo,
    momentum, olbfgs, rmsprop, sgd, yogi,
};

/// One registered optimizer.
pub struct Entry {
    /// Canonical name, as presets, the CLI and records write it.
    pub name: &'static str,
    /// Builds it from a spec, validating the hyperparameters.
    pub build: fn(&OptimizerSpec, &BuildContext) -> Result<Box<dyn Optimizer>>,
    /// The 4-byte words of state it allocates for `n` parameters (see `memory.rs`).
    pub state_words: fn(&OptimizerSpec, u64) -> u64,
}

/// Every optimizer, in the order they are offered to users.
pub const REGISTRY: &[Entry] = &[
    lodo::entry("lodo"),
    lodo::entry("lodo-diagonal"),
    lodo::entry("lodo-global"),
    lodo::entry("lodo-residuals"),
    lodo::entry("lodo-no-momentum"),
    lodo::entry("lodo-sgd"),
    sgd::ENTRY,
    momentum::MOMENTUM_ENTRY,
    momentum::NESTEROV_ENTRY,
    rmsprop::ENTRY,
    adam::ENTRY,
    yogi::ENTRY,
    lars::ENTRY,
    lbfgs::ENTRY,
    olbfgs::ENTRY,
    bfgs::ENTRY,
    levenberg_marquardt::ENTRY,
    bfgs::SAME_BATCH_ENTRY,
];

const fn names<const N: usize>() -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = REGISTRY[i].name;
        i += 1;
    }
    out
}

/// Canonical optimizer names, in registry order.
pub const NAMES: &[&str] = &names::<{ REGISTRY.len() }>();

/// The registered optimizer called `name`.
pub fn find(name: &str) -> Option<&'static Entry> {
    REGISTRY.iter().find(|e| e.name == name)
}

/// Fails unless `name` is a canonical optimizer name, listing the valid ones.
pub fn check_name(name: &str) -> Result<()> {
    if find(name).is_some() {
        Ok(())
    } else {
        bail!(
            "unknown optimizer `{name}`; valid optimizers: {}",
            NAMES.join(", ")
        )
    }
}

/// Builds the optimizer a spec names, validating its hyperparameters.
pub fn build(spec: &OptimizerSpec, ctx: &BuildContext) -> Result<Box<dyn Optimizer>> {
    check_name(&spec.name)?;
    match find(&spec.name) {
        Some(entry) => (entry.build)(spec, ctx),
        None => bail!("{}: no builder registered for this optimizer", spec.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_entry_builds_under_its_own_name() {
        for (i, name) in NAMES.iter().enumerate() {
            assert!(!NAMES[..i].contains(name), "{name} registered twice");
        }
        let layers = [0..3, 3..6];
        let ctx = BuildContext {
            n: 6,
            layers: &layers,
            seed: 0,
            horizon: None,
        };
        for entry in REGISTRY {
            let opt = (entry.build)(&OptimizerSpec::named(entry.name), &ctx)
                .unwrap_or_else(|e| panic!("{}: {e:#}", entry.name));
            assert_eq!(opt.name(), entry.name);
            assert!((entry.state_words)(&OptimizerSpec::named(entry.name), 6) > 0);
        }
        assert_eq!(
            check_name("adamw").unwrap_err().to_string(),
            format!(
                "unknown optimizer `adamw`; valid optimizers: {}",
                NAMES.join(", ")
            )
        );
    }
}
