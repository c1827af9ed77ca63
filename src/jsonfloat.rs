//! Deserializers that read JSON `null` back as NaN.
//!
//! `serde_json` writes non-finite floats as `null` (JSON has no NaN), so a record or summary that
//! holds a NaN (e.g. the final loss of a lane that never took a step) must read back as NaN rather
//! than fail.

use serde::{Deserialize, Deserializer};

use crate::task::Metrics;

pub fn f32_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}

pub fn f64_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

pub fn metrics<'de, D: Deserializer<'de>>(d: D) -> Result<Metrics, D::Error> {
    let raw = std::collections::BTreeMap::<String, Option<f64>>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect())
}
