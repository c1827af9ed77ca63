//! The divergence guard: decides when a lane's step went bad, and says so in words a user can act
//! on. Restoring the parameters is the lane's job; this only judges.

use std::fmt;

/// Why a lane was stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum Trip {
    NonFiniteLoss(f32),
    LossAboveBound {
        loss: f32,
        bound: f32,
    },
    NonFiniteGradient,
    /// The optimizer produced a non-finite step.
    NonFiniteStep,
    /// The optimizer itself reported an error (e.g. a failed curvature update).
    OptimizerFailed(String),
}

impl fmt::Display for Trip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trip::NonFiniteLoss(loss) => write!(f, "loss is {loss}"),
            Trip::LossAboveBound { loss, bound } => {
                write!(f, "loss {loss:.4e} is above the bound {bound:.4e}")
            }
            Trip::NonFiniteGradient => write!(f, "the gradient has non-finite entries"),
            Trip::NonFiniteStep => write!(f, "the optimizer produced a non-finite step"),
            Trip::OptimizerFailed(e) => write!(f, "the optimizer failed: {e}"),
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Guard {
    /// A loss above this counts as divergence.
    pub bound: Option<f32>,
}

impl Guard {
    /// Checks the loss and gradient at the current point (before the optimizer sees them).
    pub fn check(&self, loss: f32, grad: &[f32]) -> Option<Trip> {
        if !loss.is_finite() {
            return Some(Trip::NonFiniteLoss(loss));
        }
        if let Some(bound) = self.bound
            && loss > bound
        {
            return Some(Trip::LossAboveBound { loss, bound });
        }
        if !grad.iter().all(|g| g.is_finite()) {
            return Some(Trip::NonFiniteGradient);
        }
        None
    }

    /// Checks the step the optimizer took (its norm is non-finite iff any entry is).
    pub fn check_step(&self, step_norm: f32) -> Option<Trip> {
        (!step_norm.is_finite()).then_some(Trip::NonFiniteStep)
    }
}

/// What the user can do about a trip, appended to the event text.
pub const ADVICE: &str = "lower the learning rate, reset the optimizer state or switch \
                          optimizer, then resume";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_on_nan_inf_bound_and_bad_gradient() {
        let g = Guard { bound: Some(10.0) };
        assert_eq!(g.check(1.0, &[0.5, -2.0]), None);
        assert!(matches!(
            g.check(f32::NAN, &[0.0]),
            Some(Trip::NonFiniteLoss(_))
        ));
        assert!(matches!(
            g.check(f32::INFINITY, &[0.0]),
            Some(Trip::NonFiniteLoss(_))
        ));
        assert_eq!(
            g.check(11.0, &[0.0]),
            Some(Trip::LossAboveBound {
                loss: 11.0,
                bound: 10.0
            })
        );
        assert_eq!(
            g.check(1.0, &[0.0, f32::NAN]),
            Some(Trip::NonFiniteGradient)
        );
        assert_eq!(g.check_step(f32::INFINITY), Some(Trip::NonFiniteStep));
        assert_eq!(g.check_step(3.0), None);
        // Without a bound only non-finite values trip.
        assert_eq!(Guard::default().check(1e30, &[0.0]), None);
    }

    #[test]
    fn trip_text_names_the_cause() {
        let t = Trip::LossAboveBound {
            loss: 123.0,
            bound: 50.0,
        };
        assert_eq!(t.to_string(), "loss 1.2300e2 is above the bound 5.0000e1");
    }
}
