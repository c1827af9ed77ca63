//! The presets shipped inside the binary, so an installed `lodo-tui` works from any directory.

use anyhow::{Result, bail};

/// Name and RON text of every built-in preset, in the order `lodo-tui presets` lists them.
pub const BUILTIN: &[(&str, &str)] = &[
    ("mnist", include_str!("../../presets/mnist.ron")),
    ("mnist-paper", include_str!("../../presets/mnist-paper.ron")),
    (
        "mnist-classify",
        include_str!("../../presets/mnist-classify.ron"),
    ),
    ("quadratic", include_str!("../../presets/quadratic.ron")),
    ("rosenbrock", include_str!("../../presets/rosenbrock.ron")),
];

/// The built-in names.
pub fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

/// `(origin, text)` of a built-in preset; the origin names the source file for error messages.
pub fn find(name: &str) -> Result<(String, &'static str)> {
    match BUILTIN.iter().find(|(n, _)| *n == name) {
        Some((n, text)) => Ok((format!("presets/{n}.ron"), text)),
        None => bail!(
            "unknown preset `{name}`; built-in presets: {} (or pass a path to a .ron file)",
            names().join(", ")
        ),
    }
}
