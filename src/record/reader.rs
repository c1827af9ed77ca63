//! Reads a record back into typed lines. A run killed while writing leaves a cut-short line: at
//! the end, or in the middle when a resumed run appended after it with an older build. Such
//! lines are skipped and reported; any other unreadable line is an error naming it.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::schema::{EvalLine, Event, Line, PointLine, StartLine, StepRecord, Summary};

/// Every record line begins so (the `type` tag is serialized first).
const LINE_START: &str = "{\"type\":\"";

/// A partly written line that was left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line number in the file.
    pub line: usize,
    pub bytes: usize,
}

/// A record grouped by line type, each group in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub start: StartLine,
    /// Start lines of resumed continuations appended to the same file.
    pub resumes: Vec<StartLine>,
    pub steps: Vec<StepRecord>,
    pub evals: Vec<EvalLine>,
    pub events: Vec<Event>,
    /// Positions of 2-D tasks (empty for others).
    pub points: Vec<PointLine>,
    /// The last summary line (absent if the run was killed).
    pub summary: Option<Summary>,
    /// Partly written lines that were skipped.
    pub skipped: Vec<Skipped>,
}

impl Record {
    /// A sentence about the skipped lines of the record at `path`, if any.
    pub fn skipped_note(&self, path: &Path) -> Option<String> {
        let lines: Vec<String> = self.skipped.iter().map(|s| s.line.to_string()).collect();
        let bytes: usize = self.skipped.iter().map(|s| s.bytes).sum();
        match lines.len() {
            0 => None,
            n => Some(format!(
                "{}: skipped {n} partly written line{} (line {}, {bytes} bytes), left by a run \
                 stopped while writing",
                path.display(),
                if n == 1 { "" } else { "s" },
                lines.join(", ")
            )),
        }
    }
}

/// All lines in order, and the partly written ones that were skipped.
pub fn read_lines(path: &Path) -> Result<(Vec<Line>, Vec<Skipped>)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read record {}", path.display()))?;
    // A cut can split a multi-byte character; that line is skipped anyway.
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = Vec::new();
    let mut skipped = Vec::new();
    let count = text.lines().count();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let last_unterminated = i + 1 == count && !text.ends_with('\n');
        match parse(raw) {
            Ok((line, cut)) => {
                lines.push(line);
                if cut > 0 {
                    skipped.push(Skipped {
                        line: i + 1,
                        bytes: cut,
                    });
                }
            }
            Err(_) if last_unterminated || cut_short(raw) => skipped.push(Skipped {
                line: i + 1,
                bytes: raw.len(),
            }),
            Err(e) => bail!("{}:{}: not a record line: {e}", path.display(), i + 1),
        }
    }
    Ok((lines, skipped))
}

/// A line, or a cut-short line with another glued to it: the glued one, and the bytes before it.
pub fn parse(raw: &str) -> serde_json::Result<(Line, usize)> {
    let whole = serde_json::from_str::<Line>(raw);
    if whole.is_ok() {
        return whole.map(|line| (line, 0));
    }
    for (at, _) in raw.match_indices(LINE_START).filter(|(at, _)| *at > 0) {
        if cut_short(&raw[..at])
            && let Ok(line) = serde_json::from_str::<Line>(&raw[at..])
        {
            return Ok((line, at));
        }
    }
    whole.map(|line| (line, 0))
}

/// The beginning of a record line whose end is missing.
pub fn cut_short(raw: &str) -> bool {
    raw.starts_with(LINE_START) && serde_json::from_str::<Line>(raw).is_err_and(|e| e.is_eof())
}

/// Reads and groups a record; fails unless it starts with a `start` line.
pub fn read(path: &Path) -> Result<Record> {
    let (lines, skipped) = read_lines(path)?;
    let mut lines = lines.into_iter();
    let start = match lines.next() {
        Some(Line::Start(start)) => *start,
        Some(_) => bail!(
            "{}:1: a record must begin with a start line",
            path.display()
        ),
        None => bail!("{}: empty record", path.display()),
    };
    let mut record = Record {
        start,
        resumes: Vec::new(),
        steps: Vec::new(),
        evals: Vec::new(),
        events: Vec::new(),
        points: Vec::new(),
        summary: None,
        skipped,
    };
    for line in lines {
        match line {
            Line::Start(s) => record.resumes.push(*s),
            Line::Step(s) => record.steps.push(s),
            Line::Eval(e) => record.evals.push(e),
            Line::Event(e) => record.events.push(e),
            Line::Point(p) => record.points.push(p),
            Line::Summary(s) => record.summary = Some(s),
        }
    }
    Ok(record)
}
