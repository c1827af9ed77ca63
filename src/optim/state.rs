//! Serializable optimizer state, for checkpoints and hot-swapping.

use serde::{Deserialize, Serialize};

use super::OptimizerSpec;

/// The complete state of an optimizer: its spec plus named scalars and buffers.
///
/// Buffers are stored bit-exactly, so save → load continues the identical trajectory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    pub spec: OptimizerSpec,
    /// Number of steps taken so far.
    pub step: u64,
    pub scalars: Vec<(String, f64)>,
    pub buffers: Vec<(String, Vec<f32>)>,
}

impl OptimizerState {
    pub fn scalar(&self, name: &str) -> anyhow::Result<f64> {
        self.scalars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| anyhow::anyhow!("{}: state has no scalar `{name}`", self.spec.name))
    }

    /// The buffer `name`, checked to have `len` entries.
    pub fn buffer(&self, name: &str, len: usize) -> anyhow::Result<&[f32]> {
        let buf = self
            .buffers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| anyhow::anyhow!("{}: state has no buffer `{name}`", self.spec.name))?;
        anyhow::ensure!(
            buf.len() == len,
            "{}: state buffer `{name}` has {} entries, expected {len}",
            self.spec.name,
            buf.len()
        );
        Ok(buf)
    }
}
