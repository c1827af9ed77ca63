//! The record's encoding of a [`StepRecord`]: its statistics flattened into the line, LODO's only
//! when the optimizer reported them, and `null` read back as NaN.
//!
//! ```text
//! {"type":"step","lane":0,"step":12,"grad_evals":12,"t":3.21,"optimizer":"lodo","loss":2.31,
//!  "grad_norm":…,"step_norm":…,"cos_step_neg_grad":…,"effective_lr":…,
//!  "hypergrad_norm":…,"rel_meta_step":…,"layer_hypergrad_norms":[…]}
//! ```
//!
//! The socket carries the same type in its derived (nested) form; the definitions below only
//! mirror the field list to say where each field goes (serde's `remote`), so there is no second
//! step type to convert to and from. The field order is the line's key order.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::jsonfloat::f32_or_nan;
use crate::optim::{LodoStats, StepStats};
use crate::schema::{LaneId, StepRecord};

pub fn serialize<S: Serializer>(record: &StepRecord, s: S) -> Result<S::Ok, S::Error> {
    Flat::serialize(record, s)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StepRecord, D::Error> {
    Flat::deserialize(d)
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "StepRecord")]
struct Flat {
    lane: LaneId,
    step: u64,
    /// Absent when unknown (see the record's module doc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grad_evals: Option<u64>,
    t: f64,
    optimizer: String,
    #[serde(deserialize_with = "f32_or_nan")]
    loss: f32,
    #[serde(flatten, with = "FlatStats")]
    stats: StepStats,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "StepStats")]
struct FlatStats {
    #[serde(deserialize_with = "f32_or_nan")]
    grad_norm: f32,
    #[serde(deserialize_with = "f32_or_nan")]
    step_norm: f32,
    #[serde(deserialize_with = "f32_or_nan")]
    cos_step_neg_grad: f32,
    #[serde(deserialize_with = "f32_or_nan")]
    effective_lr: f32,
    #[serde(flatten, with = "lodo")]
    lodo: Option<LodoStats>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "LodoStats")]
struct FlatLodo {
    /// Present exactly when the lane's optimizer is of the LODO family.
    #[serde(deserialize_with = "f32_or_nan")]
    hypergrad_norm: f32,
    #[serde(default = "nan", deserialize_with = "f32_or_nan")]
    rel_meta_step: f32,
    #[serde(default)]
    layer_hypergrad_norms: Vec<f32>,
}

fn nan() -> f32 {
    f32::NAN
}

/// LODO's statistics flattened into the line, or no keys at all.
mod lodo {
    use super::*;

    #[derive(Deserialize)]
    struct Wrap(#[serde(with = "FlatLodo")] LodoStats);

    pub fn serialize<S: Serializer>(lodo: &Option<LodoStats>, s: S) -> Result<S::Ok, S::Error> {
        match lodo {
            Some(l) => FlatLodo::serialize(l, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<LodoStats>, D::Error> {
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use crate::optim::{LodoStats, StepStats};
    use crate::schema::{Line, Msg, StepRecord};

    fn record(lodo: Option<LodoStats>) -> StepRecord {
        StepRecord {
            lane: 1,
            step: 12,
            grad_evals: Some(24),
            t: 3.5,
            optimizer: "lodo".into(),
            loss: 2.25,
            stats: StepStats {
                step_norm: 0.5,
                grad_norm: 4.0,
                cos_step_neg_grad: 1.0,
                effective_lr: f32::NAN,
                lodo,
            },
        }
    }

    fn lodo() -> LodoStats {
        LodoStats {
            hypergrad_norm: 0.125,
            layer_hypergrad_norms: vec![0.0625, 0.25],
            rel_meta_step: 0.001,
        }
    }

    // The expected lines are those the record's former `StepLine` wrote: its fields in this
    // order, the LODO ones and `grad_evals` left out when absent, NaN as `null`.
    const LODO_LINE: &str = r#"{"type":"step","lane":1,"step":12,"grad_evals":24,"t":3.5,"optimizer":"lodo","loss":2.25,"grad_norm":4.0,"step_norm":0.5,"cos_step_neg_grad":1.0,"effective_lr":null,"hypergrad_norm":0.125,"rel_meta_step":0.001,"layer_hypergrad_norms":[0.0625,0.25]}"#;
    const PLAIN_LINE: &str = r#"{"type":"step","lane":1,"step":12,"t":3.5,"optimizer":"sgd","loss":2.25,"grad_norm":4.0,"step_norm":0.5,"cos_step_neg_grad":1.0,"effective_lr":null}"#;

    #[test]
    fn a_step_is_written_as_the_record_always_wrote_it() {
        let line = serde_json::to_string(&Line::Step(record(Some(lodo())))).unwrap();
        assert_eq!(line, LODO_LINE);
        let mut plain = record(None);
        plain.grad_evals = None;
        plain.optimizer = "sgd".into();
        let line = serde_json::to_string(&Line::Step(plain)).unwrap();
        assert_eq!(line, PLAIN_LINE);
    }

    fn read(line: &str) -> StepRecord {
        match serde_json::from_str::<Line>(line).unwrap() {
            Line::Step(r) => r,
            other => panic!("not a step: {other:?}"),
        }
    }

    #[test]
    fn step_lines_read_back_with_nan_for_null_and_lodo_only_when_written() {
        let back = read(LODO_LINE);
        assert!(back.stats.effective_lr.is_nan());
        assert_eq!(back.stats.lodo, Some(lodo()));
        assert_eq!(back.grad_evals, Some(24));
        let plain = read(PLAIN_LINE);
        assert_eq!(plain.stats.lodo, None);
        assert_eq!(plain.grad_evals, None);
        assert_eq!((plain.stats.grad_norm, plain.stats.step_norm), (4.0, 0.5));
        // A LODO line that lacks the optimizer's later fields, and one with a null loss.
        let partial = PLAIN_LINE.replace(
            r#""effective_lr":null"#,
            r#""effective_lr":0.5,"hypergrad_norm":2.0,"loss":null"#,
        );
        let partial = partial.replacen(r#""loss":2.25,"#, "", 1);
        let back = read(&partial);
        assert!(back.loss.is_nan());
        let lodo = back.stats.lodo.unwrap();
        assert_eq!(lodo.hypergrad_norm, 2.0);
        assert!(lodo.rel_meta_step.is_nan());
        assert!(lodo.layer_hypergrad_norms.is_empty());
    }

    #[test]
    fn a_garbled_step_line_is_an_error_naming_the_field() {
        let e = serde_json::from_str::<Line>(&PLAIN_LINE.replace(r#""grad_norm":4.0,"#, ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `grad_norm`"), "{e}");
        let e = serde_json::from_str::<Line>(&PLAIN_LINE.replace("4.0", "\"x\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid type: string"), "{e}");
    }

    #[test]
    fn the_socket_keeps_the_derived_nested_form() {
        let frame = crate::run::protocol::encode(
            &Msg::Steps(vec![record(Some(lodo()))]),
            crate::run::protocol::MAX_TO_VIEWER,
        )
        .unwrap();
        let text = std::str::from_utf8(&frame[4..]).unwrap();
        assert!(
            text.contains("stats:(step_norm:0.5,grad_norm:4.0,")
                && text.contains("lodo:(hypergrad_norm:0.125,"),
            "{text}"
        );
    }
}
