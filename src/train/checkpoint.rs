//! Checkpoints: everything needed to continue a run on the identical trajectory — every lane's
//! parameters, every optimizer's state (active and stashed), step counters, statistics, the task's
//! data-stream state, elapsed time and the preset.
//!
//! File format 2: the magic bytes `LODOTUI-CKPT`, a little-endian `u32` format version, a `u64`
//! payload length, the payload, then a CRC-32 of every byte before it. The payload is the bincode
//! (v1) encoding of [`Checkpoint`] followed by every lane's gradient-evaluation count,
//! `Vec<Option<u64>>`. A file whose length or checksum disagrees is refused, so a flipped bit can
//! never continue as a silently different run. Format 1 (magic, version, the [`Checkpoint`] alone:
//! no length, no counts, no checksum) is still read, with a note that it is unchecked and its
//! lanes' counts unknown (`None`). Specs and the preset are stored as JSON strings inside the
//! payload, because their serde form skips unset fields, which a non-self-describing format like
//! bincode cannot read back. Where files go and how they are named: [`super::checkpoint_dir`].

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::optim::OptimizerState;
use crate::preset::Preset;
use crate::task::TaskState;

use super::checkpoint_dir::{self, RunId};
use super::slot::Saved;
use super::stats::LaneStats;
use crate::schema::{LaneId, RunState};

const MAGIC: &[u8; 12] = b"LODOTUI-CKPT";
const FORMAT: u32 = 2;
/// The first format: no length, no checksum.
const UNCHECKED_FORMAT: u32 = 1;
/// Magic and format version.
const HEAD_LEN: usize = 16;
/// Magic, format version and payload length.
const HEAD_LEN_2: usize = HEAD_LEN + 8;
const CRC_LEN: usize = 4;
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

    /// The file name this checkpoint gets when run `run` saves it.
    pub fn file_name(&self, run: &RunId) -> Result<String> {
        let preset = self.preset()?;
        Ok(checkpoint_dir::file_name(
            &preset.name,
            preset.seed,
            run,
            self.step(),
        ))
    }

    /// The whole file: header, payload and checksum.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let len = bincode::serialized_size(self)? + bincode::serialized_size(&self.grad_evals())?;
        let mut out = Vec::with_capacity(HEAD_LEN_2 + len as usize + CRC_LEN);
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT.to_le_bytes())?;
        out.write_all(&len.to_le_bytes())?;
        bincode::serialize_into(&mut out, self)?;
        bincode::serialize_into(&mut out, &self.grad_evals())?;
        let crc = crc32fast::hash(&out);
        out.write_all(&crc.to_le_bytes())?;
        Ok(out)
    }

    /// Reads the bytes of a checkpoint file named `what` in messages; also says whether a
    /// checksum vouched for them (format 1 has none).
    pub fn decode(bytes: &[u8], what: &str) -> Result<(Self, bool)> {
        ensure!(
            bytes.len() >= HEAD_LEN && &bytes[..12] == MAGIC,
            "{what} is not a lodo-tui checkpoint"
        );
        let format = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        let (payload, checked) = match format {
            FORMAT => (checked_payload(bytes, what)?, true),
            UNCHECKED_FORMAT => (&bytes[HEAD_LEN..], false),
            _ => bail!(
                "{what} has checkpoint format {format}; this build reads formats \
                 {UNCHECKED_FORMAT} and {FORMAT}"
            ),
        };
        let damaged = || format!("{what} is corrupt or truncated");
        let mut reader = payload;
        let mut checkpoint: Self = bincode::deserialize_from(&mut reader).with_context(damaged)?;
        if format == FORMAT {
            let counts: Vec<Option<u64>> =
                bincode::deserialize_from(&mut reader).with_context(damaged)?;
            ensure!(
                counts.len() == checkpoint.lanes.len(),
                "{}: {} gradient-evaluation counts for {} lanes",
                damaged(),
                counts.len(),
                checkpoint.lanes.len()
            );
            for (lane, count) in checkpoint.lanes.iter_mut().zip(counts) {
                lane.grad_evals = count;
            }
        }
        // Bytes left over mean the payload was not what this build wrote.
        ensure!(reader.is_empty(), "{}", damaged());
        Ok((checkpoint, checked))
    }

    /// Every lane's gradient-evaluation count, in lane order.
    fn grad_evals(&self) -> Vec<Option<u64>> {
        self.lanes.iter().map(|l| l.grad_evals).collect()
    }

    /// Writes to `dir` (created if needed, private) atomically under this run's name; returns the
    /// path. An existing file of that name is replaced only if `own` holds it (this run wrote it).
    pub fn save(&self, dir: &Path, run: &RunId, own: &[PathBuf]) -> Result<PathBuf> {
        checkpoint_dir::create(dir)?;
        let path = dir.join(self.file_name(run)?);
        let bytes = self
            .encode()
            .with_context(|| format!("cannot encode checkpoint {}", path.display()))?;
        checkpoint_dir::write_new(&path, &bytes, own.contains(&path))
            .with_context(|| format!("cannot write checkpoint {}", path.display()))?;
        Ok(path)
    }

    /// Reads a checkpoint file, or the newest `*.ckpt` in a directory.
    pub fn load(path: &Path) -> Result<Self> {
        Ok(Self::open(path)?.checkpoint)
    }

    /// Like [`Checkpoint::load`], and says which file it read and how.
    pub fn open(path: &Path) -> Result<Loaded> {
        let (path, choice) = if path.is_dir() {
            let choice = checkpoint_dir::newest(path)?;
            (choice.path.clone(), Some(choice.describe()))
        } else {
            (path.to_path_buf(), None)
        };
        let what = path.display().to_string();
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot open checkpoint {what}"))?;
        let (checkpoint, checked) = Self::decode(&bytes, &what)?;
        let mut notes: Vec<String> = choice.into_iter().collect();
        if !checked {
            notes.push(format!(
                "{what} is a format-{UNCHECKED_FORMAT} checkpoint without a checksum: \
                 read unchecked"
            ));
        }
        Ok(Loaded {
            checkpoint,
            path,
            notes,
        })
    }
}

/// A checkpoint as read from disk.
pub struct Loaded {
    pub checkpoint: Checkpoint,
    pub path: PathBuf,
    /// What the user should know: which file of a directory was chosen, unchecked formats.
    pub notes: Vec<String>,
}

/// The payload of a format-2 file, after its length and checksum agree.
fn checked_payload<'a>(bytes: &'a [u8], what: &str) -> Result<&'a [u8]> {
    let damaged = || format!("{what} is corrupt or truncated (checksum mismatch)");
    ensure!(bytes.len() >= HEAD_LEN_2 + CRC_LEN, "{}", damaged());
    let len = u64::from_le_bytes(bytes[HEAD_LEN..HEAD_LEN_2].try_into()?);
    let (body, crc) = bytes.split_at(bytes.len() - CRC_LEN);
    let stored = u32::from_le_bytes(crc.try_into()?);
    ensure!(
        u64::try_from(body.len() - HEAD_LEN_2)? == len && crc32fast::hash(body) == stored,
        "{}",
        damaged()
    );
    Ok(&body[HEAD_LEN_2..])
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

    fn run() -> RunId {
        RunId::new()
    }

    #[test]
    fn save_load_round_trip_is_bit_exact() {
        let dir = tempfile::tempdir().unwrap();
        let ck = checkpoint(42);
        let run = run();
        let path = ck.save(dir.path(), &run, &[]).unwrap();
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("p-seed2-{run}-step00000042.ckpt")
        );
        let loaded = Checkpoint::open(&path).unwrap();
        assert!(loaded.notes.is_empty(), "{:?}", loaded.notes);
        let back = loaded.checkpoint;
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
        let run = run();
        checkpoint(10).save(dir.path(), &run, &[]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        checkpoint(5).save(dir.path(), &run, &[]).unwrap();
        let loaded = Checkpoint::open(dir.path()).unwrap();
        assert_eq!(loaded.checkpoint.step(), 5);
        assert!(
            loaded.notes[0].starts_with(&format!(
                "resuming {} (run {run}, step 5)",
                loaded.path.display()
            )),
            "{:?}",
            loaded.notes
        );
        let empty = tempfile::tempdir().unwrap();
        let e = Checkpoint::load(empty.path()).unwrap_err().to_string();
        assert!(e.starts_with("no .ckpt checkpoint in"), "{e}");
    }

    #[test]
    fn two_runs_at_the_same_step_keep_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (run(), run());
        let pa = checkpoint(7).save(dir.path(), &a, &[]).unwrap();
        let pb = checkpoint(7).save(dir.path(), &b, &[]).unwrap();
        assert_ne!(pa, pb);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        // A run may rewrite its own file (a manual checkpoint, then the final one at that step).
        assert_eq!(
            checkpoint(7)
                .save(dir.path(), &a, std::slice::from_ref(&pa))
                .unwrap(),
            pa
        );
        let e = format!("{:#}", checkpoint(7).save(dir.path(), &a, &[]).unwrap_err());
        assert!(e.contains("not replaced"), "{e}");
    }

    /// What builds before format 2 wrote: magic, version 1, payload.
    fn format1_bytes(ck: &Checkpoint) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend(1u32.to_le_bytes());
        bytes.extend(bincode::serialize(ck).unwrap());
        bytes
    }

    #[test]
    fn format_1_loads_with_a_note_that_it_is_unchecked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p-seed2-step00000009.ckpt");
        std::fs::write(&path, format1_bytes(&checkpoint(9))).unwrap();
        let loaded = Checkpoint::open(dir.path()).unwrap();
        let same = loaded.checkpoint.encode().unwrap() == checkpoint(9).encode().unwrap();
        assert!(same);
        assert!(
            loaded.notes[0].contains("(run p-seed2, step 9)"),
            "{:?}",
            loaded.notes
        );
        assert!(
            loaded.notes[1].ends_with("without a checksum: read unchecked"),
            "{:?}",
            loaded.notes
        );
    }

    #[test]
    fn every_single_flipped_byte_is_refused_by_name() {
        let ck = checkpoint(3);
        let bytes = ck.encode().unwrap();
        let (back, checked) = Checkpoint::decode(&bytes, "f").unwrap();
        // Compared as bytes: the NaN scalar makes the structs unequal to themselves.
        assert!(checked && back.encode().unwrap() == bytes);
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[at] ^= flip;
                let e = match Checkpoint::decode(&bad, "dir/f.ckpt") {
                    Ok(_) => panic!("byte {at} ^ {flip:#x} was accepted"),
                    Err(e) => format!("{e:#}"),
                };
                assert!(e.starts_with("dir/f.ckpt "), "byte {at}: {e}");
            }
        }
    }

    #[test]
    fn grad_evals_round_trip_and_a_format_1_file_loads_with_them_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let mut ck = checkpoint(6);
        ck.lanes[0].grad_evals = Some(12);
        let path = ck.save(dir.path(), &run(), &[]).unwrap();
        assert_eq!(
            Checkpoint::load(&path).unwrap().lanes[0].grad_evals,
            Some(12)
        );
        // Format 1 has no counts: they load as unknown.
        let old_path = dir.path().join("old.ckpt");
        std::fs::write(&old_path, format1_bytes(&ck)).unwrap();
        let old = Checkpoint::load(&old_path).unwrap();
        assert_eq!(old.lanes[0].grad_evals, None);
        assert_eq!(old.lanes[0].params, ck.lanes[0].params);
    }

    #[test]
    fn foreign_and_damaged_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "hello").unwrap();
        let e = format!("{:#}", Checkpoint::load(&other).unwrap_err());
        assert!(e.ends_with("notes.txt is not a lodo-tui checkpoint"), "{e}");

        let path = checkpoint(3).save(dir.path(), &run(), &[]).unwrap();
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
