//! Checkpoint files in a directory: names that carry a run id, atomic writes under unique
//! temporary names that never replace another run's file, the choice of the checkpoint to resume,
//! and the clean-up of temporaries left by runs that died mid-write.
//!
//! Names: `PRESET-seedS-RUN-stepNNNNNNNN.ckpt`, where `RUN` is six random hex digits drawn when a
//! run (or a resumed continuation of one) starts. Builds before run ids wrote
//! `PRESET-seedS-stepNNNNNNNN.ckpt`; those still resume, grouped as one run per preset and seed.
//! Temporaries: `.NAME.PID-RANDOM.tmp`, so two writers never share one, and a temporary whose
//! process is gone can be told from one being written.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use super::checkpoint::EXTENSION;

/// The id that tells one run's checkpoints from another's in a shared directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunId(String);

impl RunId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(format!("{:06x}", rand::random::<u32>() & 0xff_ffff))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `PRESET-seedS-RUN-stepNNNNNNNN.ckpt`.
pub fn file_name(preset: &str, seed: u64, run: &RunId, step: u64) -> String {
    format!("{preset}-seed{seed}-{run}-step{step:08}.{EXTENSION}")
}

/// The run a checkpoint file name belongs to and its step: the run id, or for names without
/// one, `PRESET-seedS`.
fn parse(name: &str) -> Option<(String, u64)> {
    let stem = name.strip_suffix(EXTENSION)?.strip_suffix('.')?;
    let (rest, step) = stem.rsplit_once("-step")?;
    let step = step.parse().ok()?;
    let (_, last) = rest.rsplit_once('-')?;
    let legacy = last
        .strip_prefix("seed")
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    let run = if legacy { rest } else { last };
    Some((run.to_string(), step))
}

/// Creates `dir` and its missing parents, private to the user.
pub fn create(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create checkpoint directory {}", dir.display()))
}

/// Writes `bytes` to `path` through a unique temporary in the same directory, then moves it into
/// place without replacing an existing file, unless `may_replace` (the caller wrote that file).
/// The temporary is removed on failure.
pub fn write_new(path: &Path, bytes: &[u8], may_replace: bool) -> Result<()> {
    let tmp = temporary_for(path)?;
    let write = || -> Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        place(&tmp, path, may_replace)
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

fn temporary_for(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} has no usable file name", path.display()))?;
    let unique = rand::random::<u32>();
    Ok(path.with_file_name(format!(".{name}.{}-{unique:08x}.tmp", std::process::id())))
}

/// Moves `tmp` to `path`. A hard link fails atomically when `path` exists, so two runs never
/// replace each other's file even when they race; where links are unsupported, an existence check
/// then a rename.
fn place(tmp: &Path, path: &Path, may_replace: bool) -> Result<()> {
    match fs::hard_link(tmp, path) {
        Ok(()) => {
            fs::remove_file(tmp)?;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if may_replace {
                fs::rename(tmp, path)?;
                Ok(())
            } else {
                bail!("a file of that name already exists (another run's); it was not replaced")
            }
        }
        Err(_) if !may_replace && path.symlink_metadata().is_ok() => {
            bail!("a file of that name already exists (another run's); it was not replaced")
        }
        Err(_) => Ok(fs::rename(tmp, path)?),
    }
}

/// Removes the temporaries in `dir` whose writing process no longer exists; returns them.
/// Temporaries without a process id (older builds) are left alone: their writer may be alive.
pub fn sweep_stale(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(writer_pid) else {
            continue;
        };
        if !is_alive(pid) && fs::remove_file(entry.path()).is_ok() {
            removed.push(entry.path());
        }
    }
    removed
}

/// The process id in `.NAME.ckpt.PID-RANDOM.tmp`.
fn writer_pid(name: &str) -> Option<i32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (ckpt, unique) = inner.rsplit_once('.')?;
    ckpt.ends_with(&format!(".{EXTENSION}")).then_some(())?;
    let (pid, random) = unique.split_once('-')?;
    (random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit())).then_some(())?;
    pid.parse().ok()
}

fn is_alive(pid: i32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return true;
    };
    // EPERM: the process exists but belongs to someone else.
    !matches!(
        rustix::process::test_kill_process(pid),
        Err(rustix::io::Errno::SRCH)
    )
}

/// The checkpoint `--resume DIR` continues.
#[derive(Clone, Debug)]
pub struct Choice {
    pub path: PathBuf,
    pub run: String,
    pub step: u64,
    /// Other runs with checkpoints in the directory.
    pub other_runs: Vec<String>,
}

impl Choice {
    pub fn describe(&self) -> String {
        let mut text = format!(
            "resuming {} (run {}, step {})",
            self.path.display(),
            self.run,
            self.step
        );
        if !self.other_runs.is_empty() {
            text.push_str(&format!(
                "; the directory also holds checkpoints of run(s) {}: pass a file to resume one \
                 of those",
                self.other_runs.join(", ")
            ));
        }
        text
    }
}

/// The newest checkpoint of the run that wrote last in `dir`: the most recently modified
/// `*.ckpt`, the higher step on a tie.
pub fn newest(dir: &Path) -> Result<Choice> {
    let mut best: Option<(SystemTime, u64, PathBuf, String)> = None;
    let mut runs = Vec::new();
    let entries = fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        if path.extension().is_none_or(|e| e != EXTENSION) {
            continue;
        }
        let modified = path
            .metadata()
            .and_then(|m| m.modified())
            .with_context(|| {
                format!(
                    "{}: cannot read the checkpoint (a dangling link?)",
                    path.display()
                )
            })?;
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let (run, step) = parse(name).unwrap_or_else(|| (name.to_string(), 0));
        if !runs.contains(&run) {
            runs.push(run.clone());
        }
        if best
            .as_ref()
            .is_none_or(|(t, s, _, _)| (modified, step) > (*t, *s))
        {
            best = Some((modified, step, path, run));
        }
    }
    match best {
        Some((_, step, path, run)) => {
            runs.retain(|r| *r != run);
            Ok(Choice {
                path,
                run,
                step,
                other_runs: runs,
            })
        }
        None => bail!("no .{EXTENSION} checkpoint in {}", dir.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_to_run_and_step() {
        let run = RunId("0a1b2c".into());
        let name = file_name("my-preset", 3, &run, 42);
        assert_eq!(name, "my-preset-seed3-0a1b2c-step00000042.ckpt");
        assert_eq!(parse(&name), Some(("0a1b2c".into(), 42)));
        // Names written before run ids: the run is the preset and seed.
        assert_eq!(
            parse("my-preset-seed3-step00000042.ckpt"),
            Some(("my-preset-seed3".into(), 42))
        );
        assert_eq!(parse("notes.ckpt"), None);
        assert_ne!(
            RunId::new(),
            RunId::new(),
            "2^-24 chance of a false failure"
        );
    }

    #[test]
    fn never_replaces_a_file_it_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.ckpt");
        write_new(&path, b"first", false).unwrap();
        let e = write_new(&path, b"second", false).unwrap_err().to_string();
        assert!(e.contains("already exists (another run's)"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), b"first");
        write_new(&path, b"mine", true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"mine");
        // No temporary is left behind, and the file is private.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let mode = fs::metadata(&path).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn sweeps_only_temporaries_of_dead_processes() {
        let dir = tempfile::tempdir().unwrap();
        // A child that has exited and been reaped: its pid is (for now) free.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        let names = [
            format!(".p-seed1-abcdef-step00000001.ckpt.{dead}-0badc0de.tmp"),
            format!(".p-seed1-abcdef-step00000002.ckpt.{me}-0badc0de.tmp"),
            // An older build's temporary: no pid, its writer may be alive.
            ".p-seed1-step00000001.ckpt.tmp".to_string(),
            "p-seed1-abcdef-step00000001.ckpt".to_string(),
        ];
        for name in &names {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        let removed = sweep_stale(dir.path());
        assert_eq!(removed, vec![dir.path().join(&names[0])]);
        for name in &names[1..] {
            assert!(dir.path().join(name).exists(), "{name}");
        }
    }

    #[test]
    fn the_newest_file_wins_and_other_runs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = RunId("aaaaaa".into());
        let b = RunId("bbbbbb".into());
        for (run, step) in [(&a, 10), (&b, 5), (&a, 20)] {
            fs::write(dir.path().join(file_name("p", 1, run, step)), b"").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let choice = newest(dir.path()).unwrap();
        assert_eq!((choice.run.as_str(), choice.step), ("aaaaaa", 20));
        assert_eq!(choice.other_runs, vec!["bbbbbb".to_string()]);
        assert!(choice.describe().contains("run(s) bbbbbb"));
    }

    #[test]
    fn a_dangling_link_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("gone.ckpt");
        std::os::unix::fs::symlink(dir.path().join("missing"), &link).unwrap();
        let e = format!("{:#}", newest(dir.path()).unwrap_err());
        assert!(
            e.contains(&format!("{}: cannot read", link.display())),
            "{e}"
        );
    }
}
