//! What the server lets in: only our own user, and only commands the trainer can carry out
//! safely, at a human rate.
//!
//! The trainer already answers a command it cannot carry out (an unknown lane, an lr ≤ 0, a
//! meta lr on an optimizer without one) with an error event and changes nothing. What it takes
//! on trust is size: the dashboard only ever asks for a few generated digits or a race among the
//! preset's alternatives, while a viewer could ask for billions. Those are bounded here.

use std::time::{Duration, Instant};

use crate::train::Command;

/// Digits a viewer may ask to generate at once (the dashboard asks for 8).
pub const MAX_GENERATE: usize = 64;
/// Lanes a viewer may race at once (the dashboard races the preset's alternatives).
pub const MAX_RACE: usize = 16;
/// Commands per second a viewer may send; keys held down stay well below.
pub const COMMANDS_PER_S: u32 = 100;

/// `Ok` for a connection from `peer` to a server running as `own` (uids).
pub fn peer(peer: u32, own: u32) -> Result<(), String> {
    if peer == own {
        Ok(())
    } else {
        Err(format!(
            "this run belongs to uid {own}; a viewer of uid {peer} may not attach"
        ))
    }
}

/// `Ok` for a command the trainer may be sent as is.
pub fn command(command: &Command) -> Result<(), String> {
    match command {
        Command::Generate { count } if *count > MAX_GENERATE => Err(format!(
            "generate: at most {MAX_GENERATE} samples at once, asked for {count}"
        )),
        Command::Race { specs } if specs.len() > MAX_RACE => Err(format!(
            "race: at most {MAX_RACE} lanes, asked for {}",
            specs.len()
        )),
        _ => Ok(()),
    }
}

/// A per-viewer budget of [`COMMANDS_PER_S`] commands in any one-second window.
pub struct RateLimit {
    window: Instant,
    used: u32,
}

impl RateLimit {
    pub fn starting(now: Instant) -> Self {
        Self {
            window: now,
            used: 0,
        }
    }

    /// Whether a command arriving at `now` is within the budget.
    pub fn allow(&mut self, now: Instant) -> bool {
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.used = 0;
        }
        self.used += 1;
        self.used <= COMMANDS_PER_S
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::OptimizerSpec;

    #[test]
    fn only_our_own_uid_is_let_in() {
        assert!(peer(1000, 1000).is_ok());
        let refused = peer(1001, 1000).unwrap_err();
        assert!(refused.contains("uid 1001"), "{refused}");
        assert!(peer(0, 1000).is_err(), "root's viewer is refused too");
    }

    #[test]
    fn commands_are_bounded_in_size() {
        assert!(command(&Command::Generate { count: 8 }).is_ok());
        assert!(command(&Command::Generate { count: usize::MAX }).is_err());
        let specs = vec![OptimizerSpec::named("adam"); MAX_RACE + 1];
        assert!(command(&Command::Race { specs }).is_err());
        assert!(command(&Command::Step(u32::MAX)).is_ok());
    }

    #[test]
    fn rate_limit_allows_a_budget_per_second() {
        let start = Instant::now();
        let mut limit = RateLimit::starting(start);
        let allowed = (0..150).filter(|_| limit.allow(start)).count();
        assert_eq!(allowed, COMMANDS_PER_S as usize);
        assert!(limit.allow(start + Duration::from_millis(1_001)));
    }
}
