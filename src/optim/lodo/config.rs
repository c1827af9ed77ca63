//! Typed, validated configuration of the LODO family, built from an [`OptimizerSpec`].

use anyhow::{Result, bail, ensure};
use serde::{Deserialize, Serialize};

use super::block_kernels::MAX_BLOCK_SIZE;
use super::block_net::hidden_width;
use super::meta::MetaOptimizerKind;
use crate::optim::hyperparameters::{Hyperparameters, Identity};
use crate::optim::{BuildContext, OptimizerSpec};

/// Default α0, the initial step scale (docs/algorithm.md §3).
pub const DEFAULT_LR: f32 = 1.0;
/// Default meta learning rate (docs/algorithm.md §3).
pub const DEFAULT_META_LR: f32 = 1e-3;
/// Default momentum β (docs/algorithm.md §3).
pub const DEFAULT_BETA: f32 = 0.9;
/// Default depth N of LODO's block-diagonal network (docs/algorithm.md §3).
pub const DEFAULT_DEPTH: usize = 16;
/// Default block size k (docs/algorithm.md §3).
pub const DEFAULT_BLOCK_SIZE: usize = 4;
/// Default number of residual layers of LODO-Residuals (docs/algorithm.md §4.3).
pub const DEFAULT_RESIDUAL_DEPTH: usize = 64;
/// The most meta parameters (entries of θ) a network may have: θ and its two Adam moments take
/// 12 bytes per entry, so this caps the meta optimizer at about 6 GB.
pub const MAX_META_PARAMS: usize = 1 << 29;

/// The preconditioner family and its structure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum FamilyConfig {
    /// LODO: `N` layers of `k×k` blocks behind fixed random permutations (docs/algorithm.md §2).
    BlockDiagonal { depth: usize, block_size: usize },
    /// LODO-Diagonal: a learned diagonal.
    Diagonal,
    /// LODO-Global: one learned scalar.
    Global,
    /// LODO-Residuals: `N` learned residual layers around a learned diagonal.
    Residuals { depth: usize },
}

/// Hyperparameters of one member of the LODO family.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LodoConfig {
    /// α0: `G(θ) = α0·M(θ)`, and `M = I` at initialisation for LODO (default 1.0).
    pub lr: f32,
    /// Learning rate of the meta optimizer on θ (default 1e-3).
    pub meta_lr: f32,
    /// Momentum β of `m ← β·m + (1−β)·g` (default 0.9; 0 for `lodo-no-momentum`).
    pub beta: f32,
    /// Adam (default) or SGD (`lodo-sgd`).
    pub meta_optimizer: MetaOptimizerKind,
    pub family: FamilyConfig,
    /// Seed of the permutations and initial weights (default: the run's seed).
    pub seed: u64,
}

/// The spec fields of one member of the family, in the shape the generic conversion
/// ([`Identity`]) reads: a member takes the fields its defaults set — `beta` unless it is
/// `lodo-no-momentum`, `depth` and `seed` for the networks, `block_size` for the block-diagonal
/// one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFields {
    lr: f32,
    meta_lr: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    beta: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    depth: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    block_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
}

impl Hyperparameters for SpecFields {
    /// The full check needs the problem size; [`LodoConfig::validate`] makes it.
    fn validate(&self, _name: &str) -> Result<()> {
        Ok(())
    }
    fn lr(&self) -> f32 {
        self.lr
    }
    fn lr_mut(&mut self) -> &mut f32 {
        &mut self.lr
    }
}

/// The canonical (static) name of the member `name`.
fn member(name: &str) -> Result<&'static str> {
    match super::LODO_NAMES.iter().find(|&&n| n == name) {
        Some(&name) => Ok(name),
        None => bail!("`{name}` is not a member of the LODO family"),
    }
}

impl LodoConfig {
    /// The documented defaults of the member `name`, seeded with `seed`.
    pub fn defaults(name: &str, seed: u64) -> Result<Self> {
        member(name)?;
        let block = FamilyConfig::BlockDiagonal {
            depth: DEFAULT_DEPTH,
            block_size: DEFAULT_BLOCK_SIZE,
        };
        let (family, beta, meta_optimizer) = match name {
            "lodo-no-momentum" => (block, 0.0, MetaOptimizerKind::Adam),
            "lodo-sgd" => (block, DEFAULT_BETA, MetaOptimizerKind::Sgd),
            "lodo-diagonal" => (
                FamilyConfig::Diagonal,
                DEFAULT_BETA,
                MetaOptimizerKind::Adam,
            ),
            "lodo-global" => (FamilyConfig::Global, DEFAULT_BETA, MetaOptimizerKind::Adam),
            "lodo-residuals" => (
                FamilyConfig::Residuals {
                    depth: DEFAULT_RESIDUAL_DEPTH,
                },
                DEFAULT_BETA,
                MetaOptimizerKind::Adam,
            ),
            _ => (block, DEFAULT_BETA, MetaOptimizerKind::Adam),
        };
        Ok(Self {
            lr: DEFAULT_LR,
            meta_lr: DEFAULT_META_LR,
            beta,
            meta_optimizer,
            family,
            seed,
        })
    }

    /// The config a spec asks for: defaults overridden by the fields it sets, validated for a
    /// problem of `ctx.n` parameters.
    pub fn from_spec(spec: &OptimizerSpec, ctx: &BuildContext) -> Result<Self> {
        let mut config = Self::defaults(&spec.name, spec.seed.unwrap_or(ctx.seed))?;
        let id = config.identity(&spec.name)?;
        let set = id.from_spec(spec)?;
        (config.lr, config.meta_lr) = (set.lr, set.meta_lr);
        config.beta = set.beta.unwrap_or(config.beta);
        config.seed = set.seed.unwrap_or(config.seed);
        match &mut config.family {
            FamilyConfig::BlockDiagonal { depth, block_size } => {
                *depth = set.depth.unwrap_or(*depth);
                *block_size = set.block_size.unwrap_or(*block_size);
            }
            FamilyConfig::Residuals { depth } => *depth = set.depth.unwrap_or(*depth),
            FamilyConfig::Diagonal | FamilyConfig::Global => {}
        }
        config.validate(&spec.name, ctx.n)?;
        Ok(config)
    }

    /// The spec that rebuilds this config for member `name`, every applicable field explicit.
    pub fn to_spec(&self, name: &str) -> OptimizerSpec {
        match self.identity(name) {
            Ok(id) => id.to_spec(&id.defaults),
            Err(_) => OptimizerSpec::named(name),
        }
    }

    /// This config as the spec fields of member `name`, the defaults of its [`Identity`].
    fn identity(&self, name: &str) -> Result<Identity<SpecFields>> {
        let name = member(name)?;
        let (depth, block_size, seed) = match self.family {
            FamilyConfig::BlockDiagonal { depth, block_size } => {
                (Some(depth), Some(block_size), Some(self.seed))
            }
            FamilyConfig::Residuals { depth } => (Some(depth), None, Some(self.seed)),
            FamilyConfig::Diagonal | FamilyConfig::Global => (None, None, None),
        };
        let defaults = SpecFields {
            lr: self.lr,
            meta_lr: self.meta_lr,
            beta: (name != "lodo-no-momentum").then_some(self.beta),
            depth,
            block_size,
            seed,
        };
        Ok(Identity { name, defaults })
    }

    /// Checks every hyperparameter for a problem of `n` parameters; errors name `name`.
    pub fn validate(&self, name: &str, n: usize) -> Result<()> {
        ensure!(n >= 1, "{name}: the problem has no parameters (n = 0)");
        check_lr(name, self.lr)?;
        check_meta_lr(name, self.meta_lr)?;
        ensure!(
            self.beta.is_finite() && (0.0..1.0).contains(&self.beta),
            "{name}: beta must be in [0, 1), got {}",
            self.beta
        );
        let meta_params = match self.family {
            FamilyConfig::BlockDiagonal { depth, block_size } => {
                ensure!(block_size >= 1, "{name}: block_size must be >= 1, got 0");
                ensure!(
                    block_size <= MAX_BLOCK_SIZE,
                    "{name}: block_size must be <= {MAX_BLOCK_SIZE}, got {block_size}"
                );
                let width = hidden_width(n, block_size) as u128;
                depth as u128 * width * block_size as u128
            }
            FamilyConfig::Residuals { depth } => (depth as u128 + 1) * 2 * n as u128,
            FamilyConfig::Diagonal => n as u128,
            FamilyConfig::Global => 1,
        };
        ensure!(
            2 * n as u128 <= u128::from(u32::MAX) && meta_params <= MAX_META_PARAMS as u128,
            "{name}: {} with n = {n} would need {meta_params} meta parameters; the limit is \
             {MAX_META_PARAMS} (reduce depth or block_size)",
            self.describe_family()
        );
        Ok(())
    }

    fn describe_family(&self) -> String {
        match self.family {
            FamilyConfig::BlockDiagonal { depth, block_size } => {
                format!("depth {depth} and block_size {block_size}")
            }
            FamilyConfig::Residuals { depth } => format!("depth {depth}"),
            FamilyConfig::Diagonal => "a diagonal".to_string(),
            FamilyConfig::Global => "a scalar".to_string(),
        }
    }
}

/// α0 must be a finite number > 0.
pub fn check_lr(name: &str, lr: f32) -> Result<()> {
    ensure!(
        lr.is_finite() && lr > 0.0,
        "{name}: lr must be a finite number > 0, got {lr}"
    );
    Ok(())
}

/// The meta learning rate must be a finite number >= 0 (0 freezes the preconditioner).
pub fn check_meta_lr(name: &str, meta_lr: f32) -> Result<()> {
    ensure!(
        meta_lr.is_finite() && meta_lr >= 0.0,
        "{name}: meta_lr must be a finite number >= 0, got {meta_lr}"
    );
    Ok(())
}
