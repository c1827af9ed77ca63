//! A record read as it grows: each poll returns the complete lines written since the last one.
//!
//! A last line without its newline is being written (or was cut by a kill): it is left for a
//! later poll, never reported. A file that shrinks or is replaced by another (a new run writing
//! to the same path) is not followed further; the poll says so once.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Line;
use super::reader;

/// What one poll found.
#[derive(Debug, Default)]
pub struct Poll {
    pub lines: Vec<Line>,
    /// Sentences about lines that were skipped, or why the file is no longer followed.
    pub notes: Vec<String>,
}

/// One record file being followed.
pub struct Follow {
    path: PathBuf,
    file: File,
    /// The file's identity when opened, to notice a replacement.
    id: (u64, u64),
    /// Bytes consumed: everything before is parsed, up to and including a newline.
    offset: u64,
    /// Lines consumed (for notes naming a line).
    line_no: usize,
    /// No longer followed (truncated or replaced).
    ended: bool,
}

impl Follow {
    pub fn open(path: &Path) -> Result<Self> {
        let file =
            File::open(path).with_context(|| format!("cannot read record {}", path.display()))?;
        let meta = file
            .metadata()
            .with_context(|| format!("cannot read record {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            id: (meta.dev(), meta.ino()),
            offset: 0,
            line_no: 0,
            ended: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is still followed.
    pub fn following(&self) -> bool {
        !self.ended
    }

    /// Stops following (after a read error, so that it is reported once).
    pub fn stop(&mut self) {
        self.ended = true;
    }

    /// The complete lines written since the last poll.
    pub fn poll(&mut self) -> Result<Poll> {
        let mut out = Poll::default();
        if self.ended {
            return Ok(out);
        }
        if let Some(note) = self.gone()? {
            self.ended = true;
            out.notes.push(note);
            return Ok(out);
        }
        let shown = self.path.display();
        let mut bytes = Vec::new();
        self.file
            .seek(SeekFrom::Start(self.offset))
            .and_then(|_| self.file.read_to_end(&mut bytes))
            .with_context(|| format!("cannot read record {shown}"))?;
        let Some(end) = bytes.iter().rposition(|&b| b == b'\n') else {
            return Ok(out);
        };
        self.offset += end as u64 + 1;
        // A cut can split a multi-byte character; that line is skipped anyway.
        let text = String::from_utf8_lossy(&bytes[..end]);
        for raw in text.split('\n') {
            self.line_no += 1;
            let at = self.line_no;
            if raw.trim().is_empty() {
                continue;
            }
            match reader::parse(raw) {
                Ok((line, cut)) => {
                    if cut > 0 {
                        out.notes.push(skipped(&self.path, at, cut));
                    }
                    out.lines.push(line);
                }
                Err(_) if reader::cut_short(raw) => {
                    out.notes.push(skipped(&self.path, at, raw.len()));
                }
                Err(e) => out
                    .notes
                    .push(format!("{shown}:{at}: not a record line, left out: {e}")),
            }
        }
        Ok(out)
    }

    /// Why the file at the path is no longer the one being read, if it is not.
    fn gone(&self) -> Result<Option<String>> {
        let shown = self.path.display();
        let now = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Some(format!(
                    "{shown} was removed: showing what was read; no longer following it"
                )));
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read record {shown}")),
        };
        if (now.dev(), now.ino()) != self.id {
            return Ok(Some(format!(
                "{shown} was replaced by another file: showing the one that was read; view it \
                 again to see the new one"
            )));
        }
        if now.len() < self.offset {
            return Ok(Some(format!(
                "{shown} was truncated ({} bytes now, {} were read): showing what was read; no \
                 longer following it",
                now.len(),
                self.offset
            )));
        }
        Ok(None)
    }
}

fn skipped(path: &Path, line: usize, bytes: usize) -> String {
    format!(
        "{}:{line}: skipped a partly written line ({bytes} bytes), left by a run stopped while \
         writing",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const EVENT: &str =
        r#"{"type":"event","lane":null,"step":3,"t":0.5,"kind":"info","detail":"x"}"#;

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn a_half_written_last_line_waits_for_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        append(&path, &format!("{EVENT}\n{}", &EVENT[..30]));
        let mut f = Follow::open(&path).unwrap();
        let first = f.poll().unwrap();
        assert_eq!(first.lines.len(), 1);
        assert!(first.notes.is_empty(), "{:?}", first.notes);
        // Nothing new: nothing returned, nothing reported.
        let again = f.poll().unwrap();
        assert!(again.lines.is_empty() && again.notes.is_empty());
        append(&path, &format!("{}\n", &EVENT[30..]));
        let rest = f.poll().unwrap();
        assert_eq!(rest.lines.len(), 1);
        assert!(rest.notes.is_empty(), "{:?}", rest.notes);
        assert!(f.following());
    }

    #[test]
    fn cut_and_garbage_lines_are_noted_by_line_and_the_rest_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        append(
            &path,
            &format!("{}\n{EVENT}\n{{}}\n{EVENT}\n", &EVENT[..30]),
        );
        let mut f = Follow::open(&path).unwrap();
        let p = f.poll().unwrap();
        assert_eq!(p.lines.len(), 2);
        assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
        assert!(p.notes[0].contains("r.jsonl:1: skipped a partly written line (30 bytes)"));
        assert!(p.notes[1].contains("r.jsonl:3: not a record line"));
    }

    #[test]
    fn a_truncated_or_replaced_record_is_noted_once_and_no_longer_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        append(&path, &format!("{EVENT}\n{EVENT}\n"));
        let mut f = Follow::open(&path).unwrap();
        assert_eq!(f.poll().unwrap().lines.len(), 2);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(10)
            .unwrap();
        let p = f.poll().unwrap();
        assert!(p.lines.is_empty());
        assert!(p.notes[0].contains("was truncated"), "{:?}", p.notes);
        assert!(!f.following());
        assert!(f.poll().unwrap().notes.is_empty());

        let mut g = Follow::open(&path).unwrap();
        let other = dir.path().join("new.jsonl");
        append(&other, &format!("{EVENT}\n"));
        std::fs::rename(&other, &path).unwrap();
        let p = g.poll().unwrap();
        assert!(
            p.notes[0].contains("was replaced by another file"),
            "{:?}",
            p.notes
        );
    }
}
