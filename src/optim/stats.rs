//! Per-step statistics every optimizer returns.

use serde::{Deserialize, Serialize};

/// Statistics of one optimizer step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// ‖Δx‖.
    pub step_norm: f32,
    /// ‖g‖ of the gradient handed to the optimizer.
    pub grad_norm: f32,
    /// cos(Δx, −g); 0 when either vector is zero.
    pub cos_step_neg_grad: f32,
    /// Effective learning rate along the gradient, −Δx·g/‖g‖² (0 when g = 0).
    pub effective_lr: f32,
    /// Hypergradient statistics, for the LODO family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lodo: Option<LodoStats>,
}

/// Hypergradient statistics of the LODO family.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LodoStats {
    /// ‖∂f/∂θ‖ over all meta parameters (0 on the first step, which has no previous step).
    pub hypergrad_norm: f32,
    /// ‖∂f/∂θ_i‖ for each layer i of the preconditioner network.
    pub layer_hypergrad_norms: Vec<f32>,
    /// ‖Δθ‖/‖θ‖ of this step's meta update.
    pub rel_meta_step: f32,
}
