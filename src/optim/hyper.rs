//! Hyperparameter checks shared by the baseline configs, with the named, human-readable errors
//! presets and the UI show ("adam: beta2 must be in [0, 1), got 1.5").
//!
//! Every check rejects NaN: the comparisons are written so that NaN fails them.

use anyhow::{Result, bail};

/// A learning rate: finite and > 0.
pub fn lr(opt: &str, value: f32) -> Result<()> {
    positive(opt, "lr", value)
}

/// Finite and > 0.
pub fn positive(opt: &str, field: &str, value: f32) -> Result<()> {
    if !(value > 0.0 && value.is_finite()) {
        bail!("{opt}: {field} must be a positive finite number, got {value}");
    }
    Ok(())
}

/// Finite and ≥ 0.
pub fn non_negative(opt: &str, field: &str, value: f32) -> Result<()> {
    if !(value >= 0.0 && value.is_finite()) {
        bail!("{opt}: {field} must be a finite number >= 0, got {value}");
    }
    Ok(())
}

/// L2 weight decay: every baseline that takes it adds `wd·x` to the gradient before its update
/// (PyTorch's `weight_decay` convention, not AdamW's decoupled decay). Finite and ≥ 0.
pub fn weight_decay(opt: &str, value: f32) -> Result<()> {
    non_negative(opt, "weight_decay", value)
}

/// A decay or momentum coefficient in [0, 1).
pub fn unit(opt: &str, field: &str, value: f32) -> Result<()> {
    if !((0.0..1.0).contains(&value)) {
        bail!("{opt}: {field} must be in [0, 1), got {value}");
    }
    Ok(())
}

/// A count of at least `min`.
pub fn at_least(opt: &str, field: &str, value: usize, min: usize) -> Result<()> {
    if value < min {
        bail!("{opt}: {field} must be >= {min}, got {value}");
    }
    Ok(())
}

/// Compact scientific notation for the UI's state summaries ("1.23e-3").
pub fn sci(value: f64) -> String {
    format!("{value:.2e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_optimizer_the_field_and_the_value() {
        let msg = |r: Result<()>| r.unwrap_err().to_string();
        assert_eq!(
            msg(lr("sgd", -1.0)),
            "sgd: lr must be a positive finite number, got -1"
        );
        assert_eq!(
            msg(unit("adam", "beta2", 1.5)),
            "adam: beta2 must be in [0, 1), got 1.5"
        );
        assert_eq!(
            msg(non_negative("adam", "weight_decay", f32::NAN)),
            "adam: weight_decay must be a finite number >= 0, got NaN"
        );
        assert_eq!(
            msg(at_least("lbfgs", "memory", 0, 1)),
            "lbfgs: memory must be >= 1, got 0"
        );
        assert!(positive("olbfgs", "tau", f32::INFINITY).is_err());
        assert!(unit("momentum", "beta", 1.0).is_err());
        assert!(unit("momentum", "beta", 0.0).is_ok());
        assert!(non_negative("sgd", "weight_decay", 0.0).is_ok());
    }
}
