//! One conversion between an optimizer's typed config and [`OptimizerSpec`], for every baseline.
//!
//! A config is a serde struct whose field names are spec keys. The fields an optimizer takes are
//! the fields its defaults serialize to, in declaration order — derived, never listed by hand —
//! so "field does not apply (adam takes: …)" and the live spec follow the struct. An optimizer
//! that shares a config type with another keeps its own defaults in its own [`Identity`]
//! (Adam/Yogi, L-BFGS/O-LBFGS, the two BFGS pairings), and a field one of them does not have is
//! an `Option` left `None` in its defaults (L-BFGS has no λ).
//!
//! A spec's values reach the config as the f32 or integer the spec holds (NaN included, so
//! validation can name it); a config's values reach the spec through JSON numbers, f64, and
//! f32 → f64 → f32 is exact, so `lr = 0.2` comes back as the same f32.

use std::fmt;

use anyhow::{Context, Result, bail};
use serde::de::value::{Error as DeError, MapDeserializer};
use serde::de::{DeserializeOwned, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, forward_to_deserialize_any};
use serde_json::Value;

use super::OptimizerSpec;
use super::fields::{self, FieldValue};

/// A baseline optimizer's hyperparameters.
pub trait Hyperparameters:
    Serialize + DeserializeOwned + Clone + PartialEq + fmt::Debug + Send + Sync + 'static
{
    /// Checks every value; errors name the optimizer `name` ("adam: beta2 must be in [0, 1)…").
    fn validate(&self, name: &str) -> Result<()>;
    /// The learning rate (every optimizer has one; the UI changes it live).
    fn lr(&self) -> f32;
    fn lr_mut(&mut self) -> &mut f32;
}

/// Who an optimizer is: its canonical name and its defaults (the authors' where it is theirs).
#[derive(Debug)]
pub struct Identity<C> {
    pub name: &'static str,
    pub defaults: C,
}

impl<C: Hyperparameters> Identity<C> {
    /// The spec keys this optimizer takes, in its config's declaration order.
    pub fn takes(&self) -> Result<Vec<String>> {
        Ok(entries(self.name, &self.defaults)?
            .into_iter()
            .map(|(key, _)| key)
            .collect())
    }

    /// The config `spec` asks for: these defaults where it is silent, a named error for a field
    /// this optimizer does not take or a value out of range.
    pub fn from_spec(&self, spec: &OptimizerSpec) -> Result<C> {
        let mut values = entries(self.name, &self.defaults)?;
        let takes: Vec<&str> = values.iter().map(|(key, _)| key.as_str()).collect();
        spec.ensure_only(&takes)?;
        for (field, value) in fields::set(spec) {
            if let Some(slot) = values.iter_mut().find(|(key, _)| key == field.key) {
                slot.1 = value;
            }
        }
        let cfg = C::deserialize(MapDeserializer::<_, DeError>::new(values.into_iter()))
            .with_context(|| format!("{}: reading its hyperparameters", spec.name))?;
        cfg.validate(&spec.name)?;
        Ok(cfg)
    }

    /// The spec that rebuilds `cfg`, every field this optimizer takes set.
    pub fn to_spec(&self, cfg: &C) -> OptimizerSpec {
        let spec = serde_json::to_value(cfg).and_then(|mut values| {
            if let Value::Object(map) = &mut values {
                map.insert("name".into(), Value::String(self.name.into()));
            }
            serde_json::from_value(values)
        });
        // A config's fields are spec fields of the same type (the baseline tests rebuild every
        // registered optimizer from its live spec), and its values are validated, so finite.
        spec.expect("a config's fields are OptimizerSpec fields of the same type")
    }
}

/// The fields `value` serializes to, in declaration order, typed as the spec types them.
fn entries<T: Serialize>(name: &str, value: &T) -> Result<Vec<(String, FieldValue)>> {
    let text = serde_json::to_string(value)
        .with_context(|| format!("{name}: writing its hyperparameters"))?;
    let Entries(entries) = serde_json::from_str(&text)
        .with_context(|| format!("{name}: reading back its hyperparameters"))?;
    entries
        .into_iter()
        .map(|(key, v)| {
            let value = match (v.as_u64(), v.as_f64()) {
                (Some(count), _) => FieldValue::Seed(count),
                (None, Some(real)) => FieldValue::Real(real as f32),
                _ => bail!("{name}: hyperparameter `{key}` is not a number ({v})"),
            };
            Ok((key, value))
        })
        .collect()
}

/// The entries of a JSON object in the order they are written (`serde_json::Map` sorts them).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a struct of hyperparameters")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(InOrder)
    }
}

/// A spec value read as a config field: f32 as f32 (NaN and ∞ too, for validation to name),
/// counts and seeds as u64.
impl<'de> Deserializer<'de> for FieldValue {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self {
            FieldValue::Real(x) => visitor.visit_f32(x),
            FieldValue::Count(n) => visitor.visit_u64(n as u64),
            FieldValue::Seed(n) => visitor.visit_u64(n),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl IntoDeserializer<'_, DeError> for FieldValue {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        lr: f32,
        memory: usize,
        eps: f32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lambda: Option<f32>,
    }

    impl Hyperparameters for Demo {
        fn validate(&self, name: &str) -> Result<()> {
            super::super::hyper::lr(name, self.lr)
        }
        fn lr(&self) -> f32 {
            self.lr
        }
        fn lr_mut(&mut self) -> &mut f32 {
            &mut self.lr
        }
    }

    const WITHOUT_LAMBDA: Identity<Demo> = Identity {
        name: "demo",
        defaults: Demo {
            lr: 1e-3,
            memory: 48,
            eps: 1e-10,
            lambda: None,
        },
    };

    #[test]
    fn fields_are_the_defaults_fields_in_declaration_order() {
        assert_eq!(WITHOUT_LAMBDA.takes().unwrap(), ["lr", "memory", "eps"]);
        let with = Identity {
            name: "demo",
            defaults: Demo {
                lambda: Some(0.0),
                ..WITHOUT_LAMBDA.defaults
            },
        };
        assert_eq!(with.takes().unwrap(), ["lr", "memory", "eps", "lambda"]);
    }

    #[test]
    fn spec_values_override_defaults_and_f32_stay_exact() {
        // 0.2 and 0.999 are not dyadic: a widening to f64 that leaked into the spec would show
        // as 0.20000000298…; the round trip must give back the same f32 bits.
        let spec = OptimizerSpec {
            lr: Some(0.2),
            eps: Some(0.999),
            ..OptimizerSpec::named("demo")
        };
        let cfg = WITHOUT_LAMBDA.from_spec(&spec).unwrap();
        assert_eq!(cfg.lr.to_bits(), 0.2f32.to_bits());
        assert_eq!(cfg.eps.to_bits(), 0.999f32.to_bits());
        assert_eq!(cfg.memory, 48);
        let back = WITHOUT_LAMBDA.to_spec(&cfg);
        assert_eq!(back.to_string(), "demo(lr=0.2, eps=0.999, memory=48)");
        assert_eq!(WITHOUT_LAMBDA.from_spec(&back).unwrap(), cfg);
    }

    #[test]
    fn a_field_the_optimizer_does_not_take_or_a_bad_value_is_a_named_error() {
        let spec = OptimizerSpec {
            lambda: Some(0.1),
            ..OptimizerSpec::named("demo")
        };
        assert_eq!(
            WITHOUT_LAMBDA.from_spec(&spec).unwrap_err().to_string(),
            "demo: field `lambda` does not apply (demo takes: lr, memory, eps)"
        );
        let spec = OptimizerSpec {
            lr: Some(-1.0),
            ..OptimizerSpec::named("demo")
        };
        assert_eq!(
            WITHOUT_LAMBDA.from_spec(&spec).unwrap_err().to_string(),
            "demo: lr must be a positive finite number, got -1"
        );
        // NaN has no JSON number; it must still reach validation, which names it.
        let spec = OptimizerSpec {
            lr: Some(f32::NAN),
            ..OptimizerSpec::named("demo")
        };
        assert_eq!(
            WITHOUT_LAMBDA.from_spec(&spec).unwrap_err().to_string(),
            "demo: lr must be a positive finite number, got NaN"
        );
    }
}
