//! The one list of optimizer spec fields: the key presets, the CLI and records use, the label
//! the dashboard shows, and how to read the value from an [`OptimizerSpec`]. Spec checking
//! ([`OptimizerSpec::set_fields`], `Display`), the dashboard's hyperparameter lines and the plot
//! labels all read this list, so a field added to the spec is added here once.

use super::OptimizerSpec;

/// A field's value, typed as the spec stores it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FieldValue {
    Real(f32),
    Count(usize),
    Seed(u64),
}

/// One optimizer spec field.
pub struct Field {
    /// The spec key (`meta_lr`), as in RON presets, `--optimizers` and records.
    pub key: &'static str,
    /// Short label for reading (`meta-lr`, `β`).
    pub label: &'static str,
    /// The label in ASCII (`beta`).
    pub ascii: &'static str,
    /// The value the spec sets, if any.
    pub get: fn(&OptimizerSpec) -> Option<FieldValue>,
}

impl Field {
    pub fn label(&self, ascii: bool) -> &'static str {
        if ascii { self.ascii } else { self.label }
    }
}

macro_rules! fields {
    ($( $key:ident, $label:literal, $ascii:literal, $kind:ident; )*) => {
        /// Every field of [`OptimizerSpec`] besides `name`, in declaration order.
        pub const FIELDS: &[Field] = &[$(
            Field {
                key: stringify!($key),
                label: $label,
                ascii: $ascii,
                get: |s| s.$key.map(FieldValue::$kind),
            },
        )*];
    };
}

fields! {
    lr, "lr", "lr", Real;
    meta_lr, "meta-lr", "meta-lr", Real;
    beta, "β", "beta", Real;
    beta1, "β1", "beta1", Real;
    beta2, "β2", "beta2", Real;
    rho, "ρ", "rho", Real;
    eps, "ε", "eps", Real;
    weight_decay, "wd", "wd", Real;
    trust, "η", "trust", Real;
    depth, "depth", "depth", Count;
    block_size, "k", "k", Count;
    memory, "memory", "memory", Count;
    lambda, "λ", "lambda", Real;
    tau, "τ", "tau", Real;
    seed, "seed", "seed", Seed;
}

/// The fields `spec` sets, with their values, in [`FIELDS`] order.
pub fn set(spec: &OptimizerSpec) -> impl Iterator<Item = (&'static Field, FieldValue)> + '_ {
    FIELDS
        .iter()
        .filter_map(move |f| (f.get)(spec).map(|v| (f, v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_names_every_field_of_the_spec_in_declaration_order() {
        // serde lists the struct's fields, in declaration order, when it meets an unknown one.
        let err = serde_json::from_str::<OptimizerSpec>(r#"{"name": "x", "unknown": 1}"#)
            .unwrap_err()
            .to_string();
        let expected: Vec<&str> = err
            .split("expected one of ")
            .nth(1)
            .expect("serde lists the fields")
            .split(", ")
            .filter_map(|f| f.split('`').nth(1))
            .filter(|f| *f != "name")
            .collect();
        let keys: Vec<&str> = FIELDS.iter().map(|f| f.key).collect();
        assert_eq!(keys, expected, "{err}");
    }

    #[test]
    fn values_are_read_from_their_own_field() {
        let spec = OptimizerSpec {
            tau: Some(3.0),
            memory: Some(7),
            seed: Some(9),
            ..OptimizerSpec::named("olbfgs")
        };
        let got: Vec<(&str, FieldValue)> = set(&spec).map(|(f, v)| (f.key, v)).collect();
        assert_eq!(
            got,
            vec![
                ("memory", FieldValue::Count(7)),
                ("tau", FieldValue::Real(3.0)),
                ("seed", FieldValue::Seed(9)),
            ]
        );
    }
}
