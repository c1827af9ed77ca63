//! Reading baseline optimizer states back: the checks every `load_state` makes before it touches
//! the live optimizer, so a rejected snapshot leaves the optimizer as it was.

use anyhow::{Result, ensure};

use super::OptimizerState;

/// Fails unless `state` was saved by the optimizer called `name`.
pub fn check_owner(state: &OptimizerState, name: &str) -> Result<()> {
    ensure!(
        state.spec.name == name,
        "{name}: cannot load a state saved by `{}`",
        state.spec.name
    );
    Ok(())
}

/// The buffer `key` as an owned vector of length `n` (named error otherwise).
pub fn buffer(state: &OptimizerState, key: &str, n: usize) -> Result<Vec<f32>> {
    Ok(state.buffer(key, n)?.to_vec())
}

/// The scalar `key` as a count (a non-negative integer stored in an f64).
pub fn count(state: &OptimizerState, key: &str) -> Result<u64> {
    let v = state.scalar(key)?;
    ensure!(
        v >= 0.0 && v.fract() == 0.0 && v <= u64::MAX as f64,
        "{}: state scalar `{key}` must be a non-negative integer, got {v}",
        state.spec.name
    );
    Ok(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::OptimizerSpec;

    #[test]
    fn named_errors_for_foreign_or_malformed_states() {
        let state = OptimizerState {
            spec: OptimizerSpec::named("sgd"),
            step: 3,
            scalars: vec![("k".into(), 2.5)],
            buffers: vec![("v".into(), vec![0.0; 4])],
        };
        assert_eq!(
            check_owner(&state, "adam").unwrap_err().to_string(),
            "adam: cannot load a state saved by `sgd`"
        );
        assert_eq!(
            buffer(&state, "v", 5).unwrap_err().to_string(),
            "sgd: state buffer `v` has 4 entries, expected 5"
        );
        assert_eq!(
            count(&state, "k").unwrap_err().to_string(),
            "sgd: state scalar `k` must be a non-negative integer, got 2.5"
        );
        assert!(check_owner(&state, "sgd").is_ok());
        assert_eq!(buffer(&state, "v", 4).unwrap(), vec![0.0; 4]);
    }
}
