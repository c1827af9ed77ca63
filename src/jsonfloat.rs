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

/// A 2-D point whose coordinates may be `null`.
pub fn pair_or_nan<'de, D: Deserializer<'de>>(d: D) -> Result<[f32; 2], D::Error> {
    let [x, y] = <[Option<f32>; 2]>::deserialize(d)?;
    Ok([x.unwrap_or(f32::NAN), y.unwrap_or(f32::NAN)])
}

pub fn metrics<'de, D: Deserializer<'de>>(d: D) -> Result<Metrics, D::Error> {
    let raw = std::collections::BTreeMap::<String, Option<f64>>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect())
}
