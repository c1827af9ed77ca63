//! The plumbing every baseline optimizer shares, written once: its name and live spec, lr and
//! `set_lr`, validation, reset of the step count, and the config and step count of a saved
//! state. An optimizer implements [`Baseline`] — its update, its buffers and their snapshot —
//! and is an [`Optimizer`] through the blanket implementation here.

use anyhow::Result;

use super::hyperparameters::{Hyperparameters, Identity};
use super::snapshot::check_owner;
use super::{Optimizer, OptimizerSpec, OptimizerState, Preconditioner, SameBatch, StepStats};

/// The hyperparameters and step count of a live baseline optimizer.
#[derive(Debug)]
pub struct Settings<C: 'static> {
    pub id: &'static Identity<C>,
    pub cfg: C,
    /// Steps taken since the start or the last reset.
    pub t: u64,
}

impl<C: Hyperparameters> Settings<C> {
    /// Validates `cfg` (errors name the optimizer) and starts at step 0.
    pub fn new(id: &'static Identity<C>, cfg: C) -> Result<Self> {
        cfg.validate(id.name)?;
        Ok(Self { id, cfg, t: 0 })
    }

    pub fn name(&self) -> &'static str {
        self.id.name
    }
}

/// A baseline optimizer: the parts that differ from one to the next.
pub trait Baseline: Send {
    type Config: Hyperparameters;
    fn settings(&self) -> &Settings<Self::Config>;
    fn settings_mut(&mut self) -> &mut Settings<Self::Config>;
    /// [`Optimizer::step`]; counts the step in `settings().t`.
    fn update(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats>;
    /// Forgets the buffers (the step count is reset by the caller).
    fn clear(&mut self);
    /// Adds the scalars and buffers besides the spec and step count to a snapshot.
    fn save(&self, _state: &mut OptimizerState) {}
    /// Takes the scalars and buffers [`Self::save`] wrote, for a restored `cfg`; on error
    /// changes nothing.
    fn load(&mut self, _cfg: &Self::Config, _state: &OptimizerState) -> Result<()> {
        Ok(())
    }
    /// [`Optimizer::preconditioner`].
    fn preconditioner_view(&self) -> Option<&dyn Preconditioner> {
        None
    }
    /// [`Optimizer::summary`].
    fn figures(&self) -> Vec<(String, String)>;
}

impl<B: Baseline> Optimizer for B {
    fn name(&self) -> &'static str {
        self.settings().name()
    }

    fn spec(&self) -> OptimizerSpec {
        let s = self.settings();
        s.id.to_spec(&s.cfg)
    }

    fn step(
        &mut self,
        params: &mut [f32],
        grad: &[f32],
        same_batch: &mut dyn SameBatch,
    ) -> Result<StepStats> {
        self.update(params, grad, same_batch)
    }

    fn lr(&self) -> f32 {
        self.settings().cfg.lr()
    }

    fn set_lr(&mut self, lr: f32) -> Result<()> {
        let s = self.settings_mut();
        let mut cfg = s.cfg.clone();
        *cfg.lr_mut() = lr;
        cfg.validate(s.id.name)?;
        s.cfg = cfg;
        Ok(())
    }

    fn reset(&mut self) {
        self.settings_mut().t = 0;
        self.clear();
    }

    fn state(&self) -> OptimizerState {
        let mut state = OptimizerState {
            spec: self.spec(),
            step: self.settings().t,
            ..OptimizerState::default()
        };
        self.save(&mut state);
        state
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let id = self.settings().id;
        check_owner(state, id.name)?;
        let cfg = id.from_spec(&state.spec)?;
        self.load(&cfg, state)?;
        let s = self.settings_mut();
        (s.cfg, s.t) = (cfg, state.step);
        Ok(())
    }

    fn preconditioner(&self) -> Option<&dyn Preconditioner> {
        self.preconditioner_view()
    }

    fn summary(&self) -> Vec<(String, String)> {
        self.figures()
    }
}
