//! Writes a record. The file is locked while a run writes it, so a second run cannot garble it;
//! an existing record is never replaced unless asked (`--force`); lines are flushed at least once
//! a second, so a kill loses at most the last second; and when a write fails (full disk, file size
//! limit) the file is cut back to its last complete line and the caller learns what was lost.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::tail;
use crate::schema::Line;

const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Lines are buffered up to this many bytes, then written whole.
const BUFFER: usize = 1 << 16;

/// How a run opens its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// A new run: the file must not hold a record yet, unless `force` allows replacing it.
    New { force: bool },
    /// A resumed run adds to the record of the run it continues.
    Append,
}

pub struct Recorder {
    /// `None` once a write failed: nothing more is written.
    file: Option<File>,
    /// Whole lines not written yet.
    buffer: Vec<u8>,
    path: PathBuf,
    last_flush: Instant,
    /// Length of the file up to the end of the last line written.
    durable_len: u64,
    /// The highest step of a step line written, and of one buffered.
    durable_step: Option<u64>,
    pending_step: Option<u64>,
    /// What opening had to mend at the end of an appended record, to tell the user.
    repaired: Option<String>,
    /// `None`: every step line is written.
    thinning: Option<Thinning>,
}

/// Keeps the first step line of each lane in every `interval` seconds of the run's clock (so at
/// most one per interval, and one per interval whenever steps come faster), and the trajectory
/// points of the steps kept.
struct Thinning {
    interval: f64,
    /// Per lane: the interval (`t / interval`, rounded down) of the last step line kept.
    last_slot: Vec<Option<i64>>,
    /// Per lane: the last step whose line was left out.
    dropped: Vec<Option<u64>>,
}

impl Thinning {
    fn keeps(&mut self, line: &Line) -> bool {
        match line {
            Line::Step(s) => {
                if self.last_slot.len() <= s.lane {
                    self.last_slot.resize(s.lane + 1, None);
                    self.dropped.resize(s.lane + 1, None);
                }
                let slot = (s.t / self.interval).floor() as i64;
                if self.last_slot[s.lane].is_none_or(|last| slot > last) {
                    self.last_slot[s.lane] = Some(slot);
                    true
                } else {
                    self.dropped[s.lane] = Some(s.step);
                    false
                }
            }
            Line::Point(p) => self.dropped.get(p.lane).is_none_or(|d| *d != Some(p.step)),
            _ => true,
        }
    }
}

impl Recorder {
    /// Opens `path` for a run, creating its directory (private) if needed. Fails if another run
    /// is writing the file, or, for a new run without `force`, if it already holds a record.
    pub fn create(path: &Path, open: Open) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        // Neither truncating nor appending yet: a record another run holds must stay untouched.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open record file {}", path.display()))?;
        lock(&file, path)?;
        let len = file
            .metadata()
            .with_context(|| format!("cannot read record file {}", path.display()))?
            .len();
        let mut repaired = None;
        let durable_len = match open {
            Open::New { force: false } if len > 0 => bail!(
                "record {} already exists ({len} bytes); pass --force to replace it, or \
                 --resume a checkpoint of its run to append to it",
                path.display()
            ),
            Open::New { .. } => {
                file.set_len(0)
                    .with_context(|| format!("cannot empty record file {}", path.display()))?;
                0
            }
            Open::Append => {
                let (len, note) = tail::mend(&file, len)
                    .with_context(|| format!("cannot repair the end of {}", path.display()))?;
                repaired = note.map(|n| format!("record {}: {n}", path.display()));
                len
            }
        };
        let mut file = file;
        io::Seek::seek(&mut file, io::SeekFrom::Start(durable_len))
            .with_context(|| format!("cannot open record file {}", path.display()))?;
        Ok(Self {
            file: Some(file),
            buffer: Vec::with_capacity(BUFFER),
            path: path.to_path_buf(),
            last_flush: Instant::now(),
            durable_len,
            durable_step: None,
            pending_step: None,
            repaired,
            thinning: None,
        })
    }

    /// From now on, keeps at most `per_second` step lines per lane and second of the run (and
    /// the trajectory points of those steps); events, evaluations and the summary are all kept.
    pub fn thin_steps(&mut self, per_second: f64) {
        self.thinning = Some(Thinning {
            interval: 1.0 / per_second,
            last_slot: Vec::new(),
            dropped: Vec::new(),
        });
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was mended at the end of an appended record (a partly written last line).
    pub fn repaired(&self) -> Option<&str> {
        self.repaired.as_deref()
    }

    pub fn write(&mut self, line: &Line) -> io::Result<()> {
        if self.file.is_none() {
            return Err(stopped());
        }
        if let Some(thinning) = self.thinning.as_mut()
            && !thinning.keeps(line)
        {
            return self.flush_if_due();
        }
        let mut text = serde_json::to_vec(line)?;
        text.push(b'\n');
        if self.buffer.len() + text.len() > BUFFER {
            self.flush()?;
        }
        self.buffer.extend_from_slice(&text);
        if let Line::Step(s) = line {
            self.pending_step = self.pending_step.max(Some(s.step));
        }
        self.flush_if_due()
    }

    /// Flushes when something was written and a second has passed since the last flush.
    pub fn flush_if_due(&mut self) -> io::Result<()> {
        if !self.buffer.is_empty() && self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered lines. A write that fails may have written part of them; the file
    /// keeps its length as of the last successful flush only once [`abandon`](Self::abandon)
    /// cuts it back.
    pub fn flush(&mut self) -> io::Result<()> {
        let file = self.file.as_mut().ok_or_else(stopped)?;
        if !self.buffer.is_empty() {
            file.write_all(&self.buffer)?;
            self.durable_len += self.buffer.len() as u64;
            self.buffer.clear();
        }
        self.durable_step = self.pending_step;
        self.last_flush = Instant::now();
        Ok(())
    }

    /// After a failed write: drops what is still buffered, cuts the file back to its last
    /// complete line, releases it, and says what the record lost.
    pub fn abandon(&mut self, error: &io::Error) -> String {
        self.buffer = Vec::new();
        let cut = match self.file.take() {
            Some(file) => file.set_len(self.durable_len),
            None => Ok(()),
        };
        let kept = match self.durable_step {
            Some(step) => format!("it holds the steps up to {step}"),
            None => "it holds no step".to_string(),
        };
        let mut text = format!(
            "the record {} could not be written ({error}): {kept}; the later steps, \
             evaluations and summary are not in it",
            self.path.display()
        );
        if let Err(e) = cut {
            text.push_str(&format!(
                "; cutting off its partly written last line failed too ({e})"
            ));
        }
        text
    }
}

impl Drop for Recorder {
    /// A trainer that ends without finishing (a panic) still leaves its lines so far.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn stopped() -> io::Error {
    io::Error::other("the record was abandoned after an earlier write error")
}

/// An exclusive advisory lock for as long as the file stays open.
fn lock(file: &File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "record {} is being written by another run (it is locked); wait for that run to \
             end or record to another file",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock record file {}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Event, EventKind};
    use std::os::unix::fs::PermissionsExt;

    fn event(step: u64) -> Line {
        Line::Event(Event {
            lane: None,
            step,
            t: 0.0,
            kind: EventKind::Info,
            detail: "x".into(),
        })
    }

    const NEW: Open = Open::New { force: false };

    #[test]
    fn a_second_writer_is_refused_and_the_first_keeps_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/r.jsonl");
        let mut first = Recorder::create(&path, NEW).unwrap();
        first.write(&event(1)).unwrap();
        first.flush().unwrap();
        for open in [NEW, Open::New { force: true }, Open::Append] {
            let e = format!("{:#}", Recorder::create(&path, open).err().unwrap());
            assert!(
                e.contains("is being written by another run (it is locked)"),
                "{e}"
            );
            assert!(e.contains("sub/r.jsonl"), "{e}");
        }
        first.write(&event(2)).unwrap();
        drop(first);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        // Private: the record and the directory made for it.
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        // Closed, the file can be appended to again.
        Recorder::create(&path, Open::Append).unwrap();
    }

    #[test]
    fn an_existing_record_is_replaced_only_when_forced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, "old\n").unwrap();
        let e = format!("{:#}", Recorder::create(&path, NEW).err().unwrap());
        assert!(
            e.ends_with("r.jsonl already exists (4 bytes); pass --force to replace it, or --resume a checkpoint of its run to append to it"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        let mut rec = Recorder::create(&path, Open::New { force: true }).unwrap();
        rec.write(&event(1)).unwrap();
        drop(rec);
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("{\"type\":\"event\"")
        );
        // An empty file holds nothing to lose.
        std::fs::write(&path, "").unwrap();
        Recorder::create(&path, NEW).unwrap();
    }

    #[test]
    fn appending_starts_on_a_fresh_line_and_says_what_it_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut rec = Recorder::create(&path, NEW).unwrap();
        rec.write(&event(1)).unwrap();
        drop(rec);
        let whole = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{whole}{{\"type\":\"ev")).unwrap();
        let mut rec = Recorder::create(&path, Open::Append).unwrap();
        let note = rec.repaired().unwrap().to_string();
        assert!(
            note.contains("r.jsonl: dropped a partly written last line (11 bytes"),
            "{note}"
        );
        rec.write(&event(2)).unwrap();
        drop(rec);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(super::super::read_lines(&path).unwrap().1.is_empty());
        // Nothing to mend: nothing said.
        assert!(
            Recorder::create(&path, Open::Append)
                .unwrap()
                .repaired()
                .is_none()
        );
    }

    #[test]
    fn lines_reach_the_file_when_flushed_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut rec = Recorder::create(&path, NEW).unwrap();
        rec.write(&event(1)).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "buffered");
        rec.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
        rec.write(&event(2)).unwrap();
        drop(rec);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    }

    #[test]
    fn thinned_records_keep_a_step_per_interval_per_lane_and_its_point() {
        use crate::schema::{PointLine, StepRecord};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut rec = Recorder::create(&path, NEW).unwrap();
        rec.thin_steps(4.0);
        // Two lanes, a step every 1/16 s of run time (exact in binary) for 2 s: 34 steps each.
        // The first step of each quarter second is kept.
        for i in 0..34u64 {
            for lane in 0..2 {
                let record = StepRecord {
                    lane,
                    step: i + 1,
                    grad_evals: None,
                    t: i as f64 / 16.0,
                    optimizer: "sgd".into(),
                    loss: 1.0,
                    stats: Default::default(),
                };
                rec.write(&Line::Step(record)).unwrap();
                let point = PointLine {
                    lane,
                    step: i + 1,
                    xy: [0.0, 0.0],
                };
                rec.write(&Line::Point(point)).unwrap();
            }
        }
        rec.write(&event(35)).unwrap();
        drop(rec);
        let text = std::fs::read_to_string(&path).unwrap();
        let kept_steps: Vec<u64> = text
            .lines()
            .filter(|l| {
                l.contains("\"step\"") && l.contains("\"lane\":0") && l.contains("\"loss\"")
            })
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        // Hand-computed: t = (step − 1)/16 starts a quarter second at steps 1, 5, 9, …
        assert_eq!(kept_steps, vec![1, 5, 9, 13, 17, 21, 25, 29, 33]);
        let points = text.lines().filter(|l| l.contains("\"xy\"")).count();
        assert_eq!(points, 2 * kept_steps.len(), "{text}");
        assert!(
            text.lines().last().unwrap().contains("\"kind\""),
            "events are all kept"
        );
    }
}
