//! The LODO family: learned quasi-Newton preconditioners trained online by hypergradient descent
//! (Liao et al., "Learning to Optimize Quasi-Newton Methods"; docs/algorithm.md).
//!
//! | name               | preconditioner `G(θ) = α0·M(θ)`                 | meta optimizer |
//! |--------------------|-------------------------------------------------|----------------|
//! | `lodo`             | `EᵀAᵀAE`, `A` = N permuted block-diagonal layers | Adam           |
//! | `lodo-no-momentum` | as `lodo`, β = 0                                | Adam           |
//! | `lodo-sgd`         | as `lodo`                                       | SGD            |
//! | `lodo-diagonal`    | `diag(θ)`                                       | Adam           |
//! | `lodo-global`      | `θ·I`                                           | Adam           |
//! | `lodo-residuals`   | `EᵀRᵀDRE`, `R` = N permuted residual layers      | Adam           |
//!
//! `lodo-global` and `lodo-no-momentum` follow the paper's text: the authors' runner builds the
//! diagonal class under the first name and the residual class (β = 0) under the second (see
//! `global.rs` and the README).
//!
//! Every member steps `Δx = −G(θ)·m` with momentum `m`, and [`Optimizer::preconditioner`]
//! exposes that same `G` (α0 included). The iteration is in `iteration.rs`, the families in
//! `block_net.rs`, `diagonal.rs`, `global.rs` and `residuals.rs`.

mod adam_kernel;
mod block4;
mod block4_avx512;
mod block_kernels;
mod block_net;
mod config;
mod diagonal;
mod family;
mod global;
mod init;
mod iteration;
mod meta;
mod residuals;

#[cfg(test)]
mod gradcheck;

use anyhow::{Result, bail};

pub use block_kernels::MAX_BLOCK_SIZE;
pub use block_net::hidden_width;
pub use config::{
    DEFAULT_BETA, DEFAULT_BLOCK_SIZE, DEFAULT_DEPTH, DEFAULT_LR, DEFAULT_META_LR,
    DEFAULT_RESIDUAL_DEPTH, FamilyConfig, LodoConfig, MAX_META_PARAMS,
};
pub use meta::{META_ADAM_BETA1, META_ADAM_BETA2, META_ADAM_EPS, MetaOptimizerKind};

use super::registry::{Entry, NAMES};
use super::{BuildContext, Optimizer, OptimizerSpec};
use iteration::Lodo;

/// The canonical names of the LODO family, in the order of [`NAMES`].
pub const LODO_NAMES: &[&str] = &[
    "lodo",
    "lodo-diagonal",
    "lodo-global",
    "lodo-residuals",
    "lodo-no-momentum",
    "lodo-sgd",
];

/// Whether `name` is a member of the LODO family.
pub fn is_lodo(name: &str) -> bool {
    LODO_NAMES.contains(&name)
}

/// The registry entry of the member `name`.
pub const fn entry(name: &'static str) -> Entry {
    Entry {
        name,
        build,
        state_words: super::memory::lodo_words,
    }
}

/// Builds the LODO-family optimizer `spec` names for a problem described by `ctx`.
pub fn build(spec: &OptimizerSpec, ctx: &BuildContext) -> Result<Box<dyn Optimizer>> {
    let Some(&name) = NAMES.iter().find(|&&n| n == spec.name && is_lodo(n)) else {
        bail!(
            "`{}` is not a member of the LODO family ({})",
            spec.name,
            LODO_NAMES.join(", ")
        );
    };
    let config = LodoConfig::from_spec(spec, ctx)?;
    let n = ctx.n;
    Ok(match config.family {
        FamilyConfig::BlockDiagonal { depth, block_size } => {
            let net = block_net::BlockNet::new(n, depth, block_size, config.seed);
            Box::new(Lodo::new(name, config, net, n))
        }
        FamilyConfig::Diagonal => Box::new(Lodo::new(name, config, diagonal::Diagonal::new(n), n)),
        FamilyConfig::Global => Box::new(Lodo::new(name, config, global::Global::new(), n)),
        FamilyConfig::Residuals { depth } => {
            let net = residuals::Residuals::new(n, depth, config.seed);
            Box::new(Lodo::new(name, config, net, n))
        }
    })
}
