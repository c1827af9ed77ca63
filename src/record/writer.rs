//! Writes a record, flushing at least once a second so a crash loses at most the last second.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::Line;

const FLUSH_EVERY: Duration = Duration::from_secs(1);

pub struct Recorder {
    out: BufWriter<File>,
    path: PathBuf,
    last_flush: Instant,
    dirty: bool,
}

impl Recorder {
    /// Creates (or truncates) `path`; with `append` (a resumed run) adds to an existing record.
    pub fn create(path: &Path, append: bool) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .with_context(|| format!("cannot open record file {}", path.display()))?;
        Ok(Self {
            out: BufWriter::with_capacity(1 << 16, file),
            path: path.to_path_buf(),
            last_flush: Instant::now(),
            dirty: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&mut self, line: &Line) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, line)?;
        self.out.write_all(b"\n")?;
        self.dirty = true;
        self.flush_if_due()
    }

    /// Flushes when something was written and a second has passed since the last flush.
    pub fn flush_if_due(&mut self) -> io::Result<()> {
        if self.dirty && self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.last_flush = Instant::now();
        self.dirty = false;
        Ok(())
    }
}
