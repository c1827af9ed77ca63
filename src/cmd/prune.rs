//! `lodo-tui prune`: frees the disk that finished and dead runs hold (a LODO mnist run leaves a
//! ~147 MB final checkpoint). It lists what it would delete and the bytes that frees; only
//! `--yes` deletes. A run whose process is alive is never touched, whatever the filters say.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};

use crate::cli::PruneArgs;
use crate::format::bytes;
use crate::run::dir::{self, Listed, Liveness};

/// What `prune` would do with one run.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Delete the whole run directory.
    Whole,
    /// Delete these checkpoint files (the record, run.json and log stay).
    Checkpoints(Vec<PathBuf>),
}

/// A run `prune` would delete from, and what it frees.
#[derive(Clone, Debug)]
pub struct Planned {
    pub id: String,
    pub path: PathBuf,
    /// `ended` (its record ends with a summary) or `dead` (it ended without one).
    pub ended: &'static str,
    pub age: Duration,
    pub action: Action,
    pub bytes: u64,
}

/// The plan, and the runs left alone with why.
#[derive(Debug, Default)]
pub struct Plan {
    pub delete: Vec<Planned>,
    pub live: usize,
    pub too_new: usize,
    pub kept_newest: usize,
    pub finished_not_dead: usize,
}

pub fn run(args: &PruneArgs, runs_dir: Option<&Path>) -> Result<()> {
    let root = dir::root(runs_dir)?;
    let plan = plan(&dir::list(&root)?, args, SystemTime::now())?;
    crate::cmd::print_quietly(&describe(&plan, &root, args.yes));
    if !args.yes {
        return Ok(());
    }
    let mut failed = Vec::new();
    let mut freed = 0;
    for p in &plan.delete {
        match delete(p) {
            Ok(()) => freed += p.bytes,
            Err(e) => failed.push(format!("{}: {e:#}", p.id)),
        }
    }
    crate::cmd::print_quietly(&format!("freed {}\n", bytes(freed)));
    if !failed.is_empty() {
        bail!("could not delete everything:\n  {}", failed.join("\n  "));
    }
    Ok(())
}

/// Decides, deleting nothing.
pub fn plan(runs: &[Listed], args: &PruneArgs, now: SystemTime) -> Result<Plan> {
    let mut plan = Plan::default();
    // Newest first, so `--keep N` keeps the first N that are gone.
    let mut gone: Vec<&Listed> = Vec::new();
    for r in runs.iter().rev() {
        if matches!(r.liveness, Liveness::Dead { .. }) {
            gone.push(r);
        } else {
            plan.live += 1;
        }
    }
    for (n, r) in gone.into_iter().enumerate() {
        if n < args.keep {
            plan.kept_newest += 1;
            continue;
        }
        let age = now
            .duration_since(last_change(&r.dir.path))
            .unwrap_or_default();
        if args.older_than.is_some_and(|min| age < min.0) {
            plan.too_new += 1;
            continue;
        }
        let finished = matches!(r.liveness, Liveness::Dead { finished: true, .. });
        if args.dead && finished {
            plan.finished_not_dead += 1;
            continue;
        }
        let (action, size) = if args.checkpoints_only {
            let files = checkpoints_to_drop(&r.dir.checkpoints(), args.drop_last)?;
            if files.is_empty() {
                continue;
            }
            let size = files.iter().map(|f| size_of(f)).sum();
            (Action::Checkpoints(files), size)
        } else {
            (Action::Whole, size_of(&r.dir.path))
        };
        plan.delete.push(Planned {
            id: r.info.id.clone(),
            path: r.dir.path.clone(),
            ended: r.liveness.label(),
            age,
            action,
            bytes: size,
        });
    }
    Ok(plan)
}

/// The plan as the user reads it.
pub fn describe(plan: &Plan, root: &Path, yes: bool) -> String {
    let mut out = String::new();
    let total: u64 = plan.delete.iter().map(|p| p.bytes).sum();
    if plan.delete.is_empty() {
        out.push_str(&format!("nothing to prune in {}\n", root.display()));
    } else {
        out.push_str(if yes {
            "deleting:\n"
        } else {
            "would delete:\n"
        });
        let id_width = plan.delete.iter().map(|p| p.id.len()).max().unwrap_or(0);
        for p in &plan.delete {
            let what = match &p.action {
                Action::Whole => "the whole run".to_string(),
                Action::Checkpoints(files) => format!(
                    "{} checkpoint{}",
                    files.len(),
                    if files.len() == 1 { "" } else { "s" }
                ),
            };
            out.push_str(&format!(
                "  {:id_width$}  {:8}  {:>8} ago  {:>9}  {what}\n",
                p.id,
                p.ended,
                age(p.age),
                bytes(p.bytes),
            ));
        }
    }
    let mut kept = Vec::new();
    let mut say = |n: usize, why: &str| {
        if n > 0 {
            kept.push(format!("{n} {why}"));
        }
    };
    say(plan.live, "live (never pruned)");
    say(plan.kept_newest, "kept by --keep");
    say(plan.too_new, "newer than --older-than");
    say(plan.finished_not_dead, "ended (not --dead)");
    if !kept.is_empty() {
        out.push_str(&format!("left alone: {}\n", kept.join(", ")));
    }
    if !plan.delete.is_empty() && !yes {
        out.push_str(&format!(
            "would free {}; nothing was deleted (add --yes to delete)\n",
            bytes(total)
        ));
    }
    out
}

fn delete(p: &Planned) -> Result<()> {
    match &p.action {
        Action::Whole => fs::remove_dir_all(&p.path)
            .with_context(|| format!("cannot delete {}", p.path.display())),
        Action::Checkpoints(files) => files.iter().try_for_each(|f| {
            fs::remove_file(f).with_context(|| format!("cannot delete {}", f.display()))
        }),
    }
}

/// The run directory's checkpoints to delete: all but the newest, or all.
fn checkpoints_to_drop(dir: &Path, drop_last: bool) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            files.push(path);
        }
    }
    if !drop_last && let Ok(newest) = crate::train::checkpoint_dir::newest(dir) {
        files.retain(|f| *f != newest.path);
    }
    files.sort();
    Ok(files)
}

/// When anything at the top of the run directory last changed: the record and log grow until
/// the run ends.
fn last_change(path: &Path) -> SystemTime {
    let modified = |p: &Path| fs::symlink_metadata(p).and_then(|m| m.modified()).ok();
    let mut newest = modified(path).unwrap_or(SystemTime::UNIX_EPOCH);
    if let Ok(entries) = fs::read_dir(path) {
        for e in entries.flatten() {
            if let Some(t) = modified(&e.path()) {
                newest = newest.max(t);
            }
        }
    }
    newest
}

/// Bytes under `path`, links not followed.
fn size_of(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path).map_or(0, |entries| {
        entries.flatten().map(|e| size_of(&e.path())).sum()
    })
}

/// An age as people say it: `3d`, `5h`, `12m`, `40s`.
fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h", s / 3_600),
        _ => format!("{}d", s / 86_400),
    }
}

/// A span given as `90s`, `30m`, `12h`, `7d` or `2w`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Age(pub Duration);

impl std::str::FromStr for Age {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || {
            format!("{s:?} is not an age: write a number and a unit, e.g. 90s, 30m, 12h, 7d, 2w")
        };
        let unit_at = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = s[..unit_at].parse().map_err(|_| bad())?;
        let per = match &s[unit_at..] {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return Err(bad()),
        };
        Ok(Age(Duration::from_secs(n.saturating_mul(per))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_with_units_and_garbage_is_refused() {
        assert_eq!("7d".parse(), Ok(Age(Duration::from_secs(7 * 86_400))));
        assert_eq!("90s".parse(), Ok(Age(Duration::from_secs(90))));
        assert_eq!("2w".parse(), Ok(Age(Duration::from_secs(14 * 86_400))));
        for bad in ["", "7", "d", "7 days", "-1d", "1.5h"] {
            let err = bad.parse::<Age>().unwrap_err();
            assert!(err.contains("is not an age"), "{bad}: {err}");
        }
        assert_eq!(age(Duration::from_secs(3 * 86_400 + 5)), "3d");
        assert_eq!(age(Duration::from_secs(125)), "2m");
    }
}
