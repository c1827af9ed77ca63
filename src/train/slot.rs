//! A lane's optimizer slot: the active optimizer plus the saved state of every optimizer the lane
//! has run before, keyed by name, so switching back resumes where it left off (LODO keeps the
//! preconditioner it had learned).

use std::collections::BTreeMap;
use std::ops::Range;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::builders::OptimizerBuilder;
use crate::optim::{BuildContext, Optimizer, OptimizerSpec, OptimizerState};

/// Builds optimizers for one problem (dimension, layer layout, default seed).
#[derive(Clone, Debug)]
pub struct Factory {
    pub builder: OptimizerBuilder,
    pub n: usize,
    pub layers: Vec<Range<usize>>,
    /// Seed for optimizers whose spec sets none (the run's seed).
    pub seed: u64,
    /// The run's step limit (`max_steps`), the horizon of scheduled optimizers (LARS).
    pub horizon: Option<u64>,
}

impl Factory {
    pub fn build(&self, spec: &OptimizerSpec) -> Result<Box<dyn Optimizer>> {
        crate::optim::memory::check(spec, self.n)?;
        let ctx = BuildContext {
            n: self.n,
            layers: &self.layers,
            seed: spec.seed.unwrap_or(self.seed),
            horizon: self.horizon,
        };
        (self.builder)(spec, &ctx)
    }

    /// Rebuilds a saved optimizer and loads its state, including live hyperparameter changes.
    pub fn restore(&self, saved: &Saved) -> Result<Box<dyn Optimizer>> {
        let mut opt = self.build(&saved.origin)?;
        opt.load_state(&saved.state)
            .with_context(|| format!("cannot restore the state of {}", saved.origin.name))?;
        // The live lr / meta-lr are part of the trajectory; restore them even if an optimizer's
        // `load_state` leaves its hyperparameters as built.
        if let Some(lr) = saved.state.spec.lr
            && opt.lr() != lr
        {
            opt.set_lr(lr)?;
        }
        if let (Some(meta), Some(now)) = (saved.state.spec.meta_lr, opt.meta_lr())
            && meta != now
        {
            opt.set_meta_lr(meta)?;
        }
        Ok(opt)
    }
}

/// An optimizer at rest: the spec it was built from and its complete state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub origin: OptimizerSpec,
    pub state: OptimizerState,
}

impl Saved {
    /// Whether a request for `spec` should resume this optimizer rather than start afresh: the
    /// same name and either no hyperparameters given or the ones it was built with or runs with.
    fn resumes(&self, spec: &OptimizerSpec) -> bool {
        spec.name == self.origin.name
            && (*spec == OptimizerSpec::named(&spec.name)
                || *spec == self.origin
                || *spec == self.state.spec)
    }
}

/// How a switch was carried out, for the event text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switched {
    /// Resumed the saved state of that optimizer.
    Resumed,
    /// Built fresh (never run before in this lane).
    Fresh,
    /// Built fresh because the requested hyperparameters differ from the saved optimizer's.
    Replaced,
    /// The requested optimizer is already active with those hyperparameters.
    Unchanged,
}

pub struct Slot {
    active: Box<dyn Optimizer>,
    origin: OptimizerSpec,
    stash: BTreeMap<String, Saved>,
}

impl Slot {
    pub fn new(factory: &Factory, spec: &OptimizerSpec) -> Result<Self> {
        Ok(Self {
            active: factory.build(spec)?,
            origin: spec.clone(),
            stash: BTreeMap::new(),
        })
    }

    pub fn optimizer(&self) -> &dyn Optimizer {
        self.active.as_ref()
    }

    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer {
        self.active.as_mut()
    }

    /// Names of the optimizers with saved state (not active).
    pub fn stashed(&self) -> impl Iterator<Item = &str> {
        self.stash.keys().map(String::as_str)
    }

    fn saved_active(&self) -> Saved {
        Saved {
            origin: self.origin.clone(),
            state: self.active.state(),
        }
    }

    /// Makes `spec` the active optimizer, stashing the current one. On error nothing changes.
    pub fn switch(&mut self, factory: &Factory, spec: &OptimizerSpec) -> Result<Switched> {
        let current = self.saved_active();
        if current.resumes(spec) {
            return Ok(Switched::Unchanged);
        }
        let (next, how) = match self.stash.get(&spec.name) {
            Some(saved) if saved.resumes(spec) => (factory.restore(saved)?, Switched::Resumed),
            Some(_) => (factory.build(spec)?, Switched::Replaced),
            None if spec.name == current.origin.name => (factory.build(spec)?, Switched::Replaced),
            None => (factory.build(spec)?, Switched::Fresh),
        };
        self.stash.remove(&spec.name);
        if current.origin.name != spec.name {
            self.stash.insert(current.origin.name.clone(), current);
        }
        self.active = next;
        self.origin = spec.clone();
        Ok(how)
    }

    /// A slot for a new race lane running `spec`, resuming this slot's optimizer of that name
    /// (active or stashed) when the hyperparameters allow, so a race can pit "keep going" against
    /// "switch now" from the same point.
    pub fn fork(&self, factory: &Factory, spec: &OptimizerSpec) -> Result<(Self, Switched)> {
        let current = self.saved_active();
        let source = std::iter::once(&current)
            .chain(self.stash.get(&spec.name))
            .find(|saved| saved.resumes(spec));
        let (active, origin, how) = match source {
            Some(saved) => (
                factory.restore(saved)?,
                saved.origin.clone(),
                Switched::Resumed,
            ),
            None => (factory.build(spec)?, spec.clone(), Switched::Fresh),
        };
        Ok((
            Self {
                active,
                origin,
                stash: BTreeMap::new(),
            },
            how,
        ))
    }

    /// Everything needed to rebuild this slot: the active optimizer first, then the stash.
    pub fn save(&self) -> Vec<Saved> {
        std::iter::once(self.saved_active())
            .chain(self.stash.values().cloned())
            .collect()
    }

    pub fn restore(factory: &Factory, saved: &[Saved]) -> Result<Self> {
        let (first, rest) = saved
            .split_first()
            .context("checkpoint lane has no optimizer")?;
        Ok(Self {
            active: factory.restore(first)?,
            origin: first.origin.clone(),
            stash: rest
                .iter()
                .map(|s| (s.origin.name.clone(), s.clone()))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    fn factory() -> Factory {
        Factory {
            builder: testkit::builders().optimizer,
            n: 4,
            layers: vec![0..2, 2..4],
            seed: 1,
            horizon: None,
        }
    }

    fn spec(name: &str, lr: f32) -> OptimizerSpec {
        OptimizerSpec {
            lr: Some(lr),
            ..OptimizerSpec::named(name)
        }
    }

    fn run(slot: &mut Slot, steps: usize) {
        let mut x = vec![1.0f32; 4];
        for _ in 0..steps {
            let g: Vec<f32> = x.clone();
            let mut none = |_: &[f32], _: &mut [f32]| -> Result<f32> { Ok(0.0) };
            slot.optimizer_mut().step(&mut x, &g, &mut none).unwrap();
        }
    }

    #[test]
    fn switching_back_resumes_the_stashed_state_and_live_lr() {
        let f = factory();
        let mut slot = Slot::new(&f, &spec("lodo", 0.1)).unwrap();
        run(&mut slot, 5);
        slot.optimizer_mut().set_lr(0.05).unwrap();
        let learned = slot.optimizer().state();
        assert_eq!(
            slot.switch(&f, &spec("adam", 0.01)).unwrap(),
            Switched::Fresh
        );
        run(&mut slot, 3);
        assert_eq!(
            slot.switch(&f, &spec("lodo", 0.1)).unwrap(),
            Switched::Resumed
        );
        assert_eq!(slot.optimizer().state(), learned);
        assert_eq!(slot.optimizer().lr(), 0.05);
        assert_eq!(slot.stashed().collect::<Vec<_>>(), vec!["adam"]);
    }

    #[test]
    fn different_hyperparameters_start_afresh() {
        let f = factory();
        let mut slot = Slot::new(&f, &spec("lodo", 0.1)).unwrap();
        run(&mut slot, 5);
        slot.switch(&f, &spec("adam", 0.01)).unwrap();
        assert_eq!(
            slot.switch(&f, &spec("lodo", 0.3)).unwrap(),
            Switched::Replaced
        );
        assert_eq!(slot.optimizer().state().step, 0);
        // Asking for what is already running changes nothing.
        assert_eq!(
            slot.switch(&f, &OptimizerSpec::named("lodo")).unwrap(),
            Switched::Unchanged
        );
    }

    #[test]
    fn a_failed_switch_leaves_the_slot_as_it_was() {
        let f = factory();
        let mut slot = Slot::new(&f, &spec("lodo", 0.1)).unwrap();
        run(&mut slot, 2);
        let before = slot.save();
        assert!(slot.switch(&f, &spec("adam", -1.0)).is_err());
        assert_eq!(slot.save(), before);
    }

    #[test]
    fn save_and_restore_round_trip_active_and_stash() {
        let f = factory();
        let mut slot = Slot::new(&f, &spec("lodo", 0.1)).unwrap();
        run(&mut slot, 2);
        slot.switch(&f, &spec("momentum", 0.2)).unwrap();
        run(&mut slot, 2);
        let saved = slot.save();
        let back = Slot::restore(&f, &saved).unwrap();
        assert_eq!(back.save(), saved);
        assert_eq!(back.optimizer().name(), "momentum");
    }

    #[test]
    fn forks_resume_matching_optimizers_and_build_others() {
        let f = factory();
        let mut slot = Slot::new(&f, &spec("lodo", 0.1)).unwrap();
        run(&mut slot, 4);
        let (same, how) = slot.fork(&f, &spec("lodo", 0.1)).unwrap();
        assert_eq!(how, Switched::Resumed);
        assert_eq!(same.optimizer().state(), slot.optimizer().state());
        let (other, how) = slot.fork(&f, &spec("adam", 0.1)).unwrap();
        assert_eq!(how, Switched::Fresh);
        assert_eq!(other.optimizer().state().step, 0);
    }
}
