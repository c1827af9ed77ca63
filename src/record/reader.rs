//! Reads a record back into typed lines.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::{EvalLine, Line, PointLine, StartLine, StepLine};
use crate::train::msg::{Event, Summary};

/// A record grouped by line type, each group in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub start: StartLine,
    /// Start lines of resumed continuations appended to the same file.
    pub resumes: Vec<StartLine>,
    pub steps: Vec<StepLine>,
    pub evals: Vec<EvalLine>,
    pub events: Vec<Event>,
    /// Positions of 2-D tasks (empty for others).
    pub points: Vec<PointLine>,
    /// The last summary line (absent if the run was killed).
    pub summary: Option<Summary>,
    /// The file ended in a partly written line, which was skipped.
    pub truncated: bool,
}

/// All lines in order, and whether a partly written last line was skipped.
pub fn read_lines(path: &Path) -> Result<(Vec<Line>, bool)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read record {}", path.display()))?;
    let mut lines = Vec::new();
    let mut truncated = false;
    let count = text.lines().count();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(raw) {
            Ok(line) => lines.push(line),
            // A run killed mid-write leaves a last line without its newline.
            Err(_) if i + 1 == count && !text.ends_with('\n') => truncated = true,
            Err(e) => bail!("{}:{}: not a record line: {e}", path.display(), i + 1),
        }
    }
    Ok((lines, truncated))
}

/// Reads and groups a record; fails unless it starts with a `start` line.
pub fn read(path: &Path) -> Result<Record> {
    let (lines, truncated) = read_lines(path)?;
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
        truncated,
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
