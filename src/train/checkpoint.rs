//! Checkpoints: everything needed to continue a run on the identical trajectory — every lane's
//! parameters, every optimizer's state (active and stashed), step counters, statistics, the task's
//! data-stream state, elapsed time and the preset.
//!
//! File format: the magic bytes `LODOTUI-CKPT`, a little-endian `u32` format version, then the
//! bincode (v1) encoding of [`Checkpoint`], then (format 2) the bincode encoding of every lane's
//! gradient-evaluation count, `Vec<Option<u64>>`. The counts come after the body so that format-1
//! files, written before counting, still load: their lanes' counts are unknown (`None`). Specs and the preset are stored as JSON strings inside
//! it, because their serde form skips unset fields, which a non-self-describing format like
//! bincode cannot read back. Files are written to a temporary name and renamed, so a crash never
//! leaves a half-written checkpoint under the final name.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::optim::OptimizerState;
use crate::preset::Preset;
use crate::task::TaskState;

use super::msg::{LaneId, RunState};
use super::slot::Saved;
use super::stats::LaneStats;

const MAGIC: &[u8; 12] = b"LODOTUI-CKPT";
const FORMAT: u32 = 2;
/// Checkpoints without gradient-evaluation counts (still read).
const FORMAT_WITHOUT_GRAD_EVALS: u32 = 1;
/// File name extension of checkpoints.
pub const EXTENSION: &str = "ckpt";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    preset_json: String,
    /// Minibatches drawn so far.
    pub iterations: u64,
    /// Sample generations so far (seeds the next one).
    pub generated: u64,
    pub elapsed_s: f64,
    pub task: TaskState,
    pub lanes: Vec<LaneSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaneSnapshot {
    pub id: LaneId,
    pub step: u64,
    pub state: RunState,
    pub params: Vec<f32>,
    pub before: Option<Vec<f32>>,
    /// The active optimizer first, then the stashed ones.
    optimizers: Vec<StoredOptimizer>,
    pub stats: LaneStats,
    /// Stored after the body (see the module doc), so a format-1 file reads without it.
    #[serde(skip)]
    pub grad_evals: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct StoredOptimizer {
    origin_json: String,
    spec_json: String,
    step: u64,
    scalars: Vec<(String, f64)>,
    buffers: Vec<(String, Vec<f32>)>,
}

impl StoredOptimizer {
    fn store(saved: &Saved) -> Result<Self> {
        Ok(Self {
            origin_json: serde_json::to_string(&saved.origin)?,
            spec_json: serde_json::to_string(&saved.state.spec)?,
            step: saved.state.step,
            scalars: saved.state.scalars.clone(),
            buffers: saved.state.buffers.clone(),
        })
    }

    fn load(&self) -> Result<Saved> {
        Ok(Saved {
            origin: serde_json::from_str(&self.origin_json)?,
            state: OptimizerState {
                spec: serde_json::from_str(&self.spec_json)?,
                step: self.step,
                scalars: self.scalars.clone(),
                buffers: self.buffers.clone(),
            },
        })
    }
}

impl LaneSnapshot {
    pub fn new(
        id: LaneId,
        step: u64,
        state: RunState,
        params: Vec<f32>,
        before: Option<Vec<f32>>,
        optimizers: &[Saved],
        stats: LaneStats,
    ) -> Result<Self> {
        Ok(Self {
            id,
            step,
            state,
            params,
            before,
            optimizers: optimizers
                .iter()
                .map(StoredOptimizer::store)
                .collect::<Result<_>>()?,
            stats,
            grad_evals: None,
        })
    }

    pub fn optimizers(&self) -> Result<Vec<Saved>> {
        self.optimizers.iter().map(StoredOptimizer::load).collect()
    }
}

impl Checkpoint {
    pub fn new(
        preset: &Preset,
        iterations: u64,
        generated: u64,
        elapsed_s: f64,
        task: TaskState,
        lanes: Vec<LaneSnapshot>,
    ) -> Result<Self> {
        Ok(Self {
            preset_json: serde_json::to_string(preset)?,
            iterations,
            generated,
            elapsed_s,
            task,
            lanes,
        })
    }

    pub fn preset(&self) -> Result<Preset> {
        serde_json::from_str(&self.preset_json).context("checkpoint holds an unreadable preset")
    }

    /// The highest step of any lane.
    pub fn step(&self) -> u64 {
        self.lanes.iter().map(|l| l.step).max().unwrap_or(0)
    }

    /// `DIR/PRESET-seedS-stepNNNNNNNN.ckpt`.
    pub fn file_name(preset: &Preset, step: u64) -> String {
        format!(
            "{}-seed{}-step{step:08}.{EXTENSION}",
            preset.name, preset.seed
        )
    }

    /// Writes to `dir` (created if needed) atomically; returns the path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create checkpoint directory {}", dir.display()))?;
        let name = Self::file_name(&self.preset()?, self.step());
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let write = || -> Result<()> {
            let file = File::create(&tmp)?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            out.write_all(MAGIC)?;
            out.write_all(&FORMAT.to_le_bytes())?;
            bincode::serialize_into(&mut out, self)?;
            let counts: Vec<Option<u64>> = self.lanes.iter().map(|l| l.grad_evals).collect();
            bincode::serialize_into(&mut out, &counts)?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.context(format!("cannot write checkpoint {}", path.display())));
        }
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot move checkpoint into place at {}", path.display()))?;
        Ok(path)
    }

    /// Reads a checkpoint file, or the newest `*.ckpt` in a directory.
    pub fn load(path: &Path) -> Result<Self> {
        let path = if path.is_dir() {
            newest_in(path)?
        } else {
            path.to_path_buf()
        };
        let file = File::open(&path)
            .with_context(|| format!("cannot open checkpoint {}", path.display()))?;
        let mut input = BufReader::with_capacity(1 << 20, file);
        let mut head = [0u8; 16];
        let ok = input.read_exact(&mut head).is_ok() && &head[..12] == MAGIC;
        ensure!(ok, "{} is not a lodo-tui checkpoint", path.display());
        let format = u32::from_le_bytes([head[12], head[13], head[14], head[15]]);
        ensure!(
            format == FORMAT || format == FORMAT_WITHOUT_GRAD_EVALS,
            "{} has checkpoint format {format}; this build reads formats \
             {FORMAT_WITHOUT_GRAD_EVALS} and {FORMAT}",
            path.display()
        );
        let damaged = || format!("{} is corrupt or truncated", path.display());
        let mut ck: Self = bincode::deserialize_from(&mut input).with_context(damaged)?;
        if format == FORMAT {
            let counts: Vec<Option<u64>> =
                bincode::deserialize_from(&mut input).with_context(damaged)?;
            ensure!(
                counts.len() == ck.lanes.len(),
                "{}: {} gradient-evaluation counts for {} lanes",
                damaged(),
                counts.len(),
                ck.lanes.len()
            );
            for (lane, count) in ck.lanes.iter_mut().zip(counts) {
                lane.grad_evals = count;
            }
        }
        Ok(ck)
    }
}

/// The most recently modified checkpoint in `dir`.
fn newest_in(dir: &Path) -> Result<PathBuf> {
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == EXTENSION) {
            let modified = path.metadata()?.modified()?;
            if best.as_ref().is_none_or(|(t, _)| modified > *t) {
                best = Some((modified, path));
            }
        }
    }
    match best {
        Some((_, path)) => Ok(path),
        None => bail!("no .{EXTENSION} checkpoint in {}", dir.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::OptimizerSpec;
    use crate::task::TaskSpec;

    fn checkpoint(step: u64) -> Checkpoint {
        let preset = Preset {
            name: "p".into(),
            description: "d".into(),
            task: TaskSpec::named("quadratic"),
            optimizer: OptimizerSpec::named("lodo"),
            alternatives: vec![],
            seed: 2,
            max_steps: None,
            eval_interval: 10,
            loss_bound: Some(5.0),
            checkpoint_interval: None,
            pace: None,
        };
        let saved = Saved {
            origin: OptimizerSpec {
                lr: Some(0.1),
                ..OptimizerSpec::named("lodo")
            },
            state: OptimizerState {
                spec: OptimizerSpec {
                    lr: Some(0.05),
                    ..OptimizerSpec::named("lodo")
                },
                step,
                scalars: vec![("theta".into(), f64::NAN)],
                buffers: vec![("m".into(), vec![1.0, f32::MIN_POSITIVE, -0.0])],
            },
        };
        let lane = LaneSnapshot::new(
            0,
            step,
            RunState::Paused,
            vec![0.5; 3],
            None,
            &[saved],
            LaneStats::default(),
        )
        .unwrap();
        let task = TaskState {
            words: vec![u64::MAX, 1],
            buffers: vec![],
        };
        Checkpoint::new(&preset, step, 0, 1.5, task, vec![lane]).unwrap()
    }

    #[test]
    fn save_load_round_trip_is_bit_exact() {
        let dir = tempfile::tempdir().unwrap();
        let ck = checkpoint(42);
        let path = ck.save(dir.path()).unwrap();
        assert_eq!(path.file_name().unwrap(), "p-seed2-step00000042.ckpt");
        let back = Checkpoint::load(&path).unwrap();
        // NaN != NaN, so compare the bits of the one NaN scalar separately.
        let theta = |c: &Checkpoint| c.lanes[0].optimizers().unwrap()[0].state.scalars[0].1;
        assert_eq!(theta(&back).to_bits(), theta(&ck).to_bits());
        let saved = back.lanes[0].optimizers().unwrap();
        assert_eq!(saved[0].state.spec.lr, Some(0.05));
        assert_eq!(
            saved[0].state.buffers,
            ck.lanes[0].optimizers().unwrap()[0].state.buffers
        );
        assert_eq!(back.preset().unwrap(), ck.preset().unwrap());
        assert_eq!(back.task, ck.task);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_directory_resumes_its_newest_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        checkpoint(10).save(dir.path()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        checkpoint(5).save(dir.path()).unwrap();
        assert_eq!(Checkpoint::load(dir.path()).unwrap().step(), 5);
        let empty = tempfile::tempdir().unwrap();
        let e = Checkpoint::load(empty.path()).unwrap_err().to_string();
        assert!(e.starts_with("no .ckpt checkpoint in"), "{e}");
    }

    #[test]
    fn grad_evals_round_trip_and_a_format_1_file_loads_with_them_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let mut ck = checkpoint(6);
        ck.lanes[0].grad_evals = Some(12);
        let path = ck.save(dir.path()).unwrap();
        assert_eq!(
            Checkpoint::load(&path).unwrap().lanes[0].grad_evals,
            Some(12)
        );
        // A format-1 file is the same bytes without the trailing counts: a u64 length (1), an
        // option tag (1) and the u64 count, 17 bytes in bincode v1.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 17);
        bytes[12..16].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let old = Checkpoint::load(&path).unwrap();
        assert_eq!(old.lanes[0].grad_evals, None);
        assert_eq!(old.lanes[0].params, ck.lanes[0].params);
        // Format 2 without its counts is damage, not an old file.
        bytes[12..16].copy_from_slice(&2u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let e = format!("{:#}", Checkpoint::load(&path).unwrap_err());
        assert!(e.contains("is corrupt or truncated"), "{e}");
    }

    #[test]
    fn foreign_and_damaged_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "hello").unwrap();
        let e = format!("{:#}", Checkpoint::load(&other).unwrap_err());
        assert!(e.ends_with("notes.txt is not a lodo-tui checkpoint"), "{e}");

        let path = checkpoint(3).save(dir.path()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let e = format!("{:#}", Checkpoint::load(&path).unwrap_err());
        assert!(e.contains("is corrupt or truncated"), "{e}");

        let mut newer = bytes.clone();
        newer[12] = 99;
        std::fs::write(&path, &newer).unwrap();
        let e = format!("{:#}", Checkpoint::load(&path).unwrap_err());
        assert!(
            e.contains("has checkpoint format 99; this build reads formats 1 and 2"),
            "{e}"
        );
    }
}
