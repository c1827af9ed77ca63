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

impl StepStats {
    /// The statistics every optimizer reports, from the step it took and the gradient it was
    /// given, in one pass over both vectors.
    pub fn measure(step: &[f32], grad: &[f32]) -> Self {
        debug_assert_eq!(step.len(), grad.len());
        let (mut ss, mut gg, mut sg) = (0.0f64, 0.0f64, 0.0f64);
        for (&s, &g) in step.iter().zip(grad) {
            let (s, g) = (s as f64, g as f64);
            ss += s * s;
            gg += g * g;
            sg += s * g;
        }
        Self::from_sums(ss, gg, sg)
    }

    /// The statistics from the sums `Σ sᵢ²`, `Σ gᵢ²` and `Σ sᵢ·gᵢ` of a step `s` and gradient `g`,
    /// for optimizers that accumulate them inside their own fused update pass.
    pub fn from_sums(ss: f64, gg: f64, sg: f64) -> Self {
        let (step_norm, grad_norm) = (ss.sqrt(), gg.sqrt());
        let cos = if step_norm > 0.0 && grad_norm > 0.0 {
            -sg / (step_norm * grad_norm)
        } else {
            0.0
        };
        let effective_lr = if gg > 0.0 { -sg / gg } else { 0.0 };
        Self {
            step_norm: step_norm as f32,
            grad_norm: grad_norm as f32,
            cos_step_neg_grad: cos as f32,
            effective_lr: effective_lr as f32,
            lodo: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_of_a_plain_gradient_step() {
        // Δx = −0.5·g: cos = 1, effective lr = 0.5, ‖Δx‖ = 0.5·‖g‖ = 0.5·5.
        let g = [3.0, 4.0];
        let s = [-1.5, -2.0];
        let st = StepStats::measure(&s, &g);
        assert!((st.grad_norm - 5.0).abs() < 1e-6);
        assert!((st.step_norm - 2.5).abs() < 1e-6);
        assert!((st.cos_step_neg_grad - 1.0).abs() < 1e-6);
        assert!((st.effective_lr - 0.5).abs() < 1e-6);
    }

    #[test]
    fn measure_of_zero_vectors_is_zero_not_nan() {
        let st = StepStats::measure(&[0.0; 3], &[0.0; 3]);
        assert_eq!(st.cos_step_neg_grad, 0.0);
        assert_eq!(st.effective_lr, 0.0);
    }
}
