//! The end of a record left by a killed run: its last line may lack its newline, complete or
//! cut short. A resumed run mends it before appending, so its own lines start on a fresh line.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::schema::Line;

/// How far back to look for the last newline at a time.
const CHUNK: u64 = 1 << 16;

/// Makes `file` (of `len` bytes) end in a newline: a last line that is a whole record line gets
/// its newline, a partly written one is dropped. Returns the new length and, if anything changed,
/// what was done.
pub fn mend(file: &File, len: u64) -> io::Result<(u64, Option<String>)> {
    let start = match last_newline(file, len)? {
        Some(at) if at + 1 == len => return Ok((len, None)),
        Some(at) => at + 1,
        None if len == 0 => return Ok((0, None)),
        None => 0,
    };
    let mut rest = vec![0; (len - start) as usize];
    file.read_exact_at(&mut rest, start)?;
    if serde_json::from_slice::<Line>(&rest).is_ok() {
        file.write_all_at(b"\n", len)?;
        return Ok((
            len + 1,
            Some("its last line lacked a newline; added it".into()),
        ));
    }
    file.set_len(start)?;
    Ok((
        start,
        Some(format!(
            "dropped a partly written last line ({} bytes at byte {start}) left by a run that \
             was stopped while writing it",
            len - start
        )),
    ))
}

/// Offset of the last `\n` in the first `len` bytes.
fn last_newline(file: &File, len: u64) -> io::Result<Option<u64>> {
    let mut end = len;
    let mut buf = vec![0; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(start + i as u64));
        }
        end = start;
    }
    Ok(None)
}

/// The record's last line is its summary: the run ended as it should (stopped, or done), rather
/// than with its process killed.
pub fn ends_with_summary(record: &Path) -> bool {
    let Ok(file) = File::open(record) else {
        return false;
    };
    let len = file.metadata().map_or(0, |m| m.len());
    // A summary line is a few kB; the last 64 kB hold it whole.
    let from = len.saturating_sub(CHUNK);
    let mut tail = vec![0; (len - from) as usize];
    if file.read_exact_at(&mut tail, from).is_err() {
        return false;
    }
    let tail = String::from_utf8_lossy(&tail);
    let Some(last) = tail.lines().rev().find(|l| !l.trim().is_empty()) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(last)
        .is_ok_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("summary"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mended(text: &str) -> (String, Option<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, text).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let (len, note) = mend(&file, text.len() as u64).unwrap();
        let after = std::fs::read_to_string(&path).unwrap();
        assert_eq!(after.len() as u64, len);
        (after, note)
    }

    const EVENT: &str =
        r#"{"type":"event","lane":null,"step":3,"t":0.5,"kind":"info","detail":"x"}"#;

    #[test]
    fn a_cut_last_line_is_dropped_and_a_whole_one_terminated() {
        let whole = format!("{EVENT}\n");
        assert_eq!(mended(&whole), (whole.clone(), None));
        assert_eq!(mended(""), (String::new(), None));

        let (text, note) = mended(&format!("{whole}{}", &EVENT[..20]));
        assert_eq!(text, whole);
        let note = note.unwrap();
        let expected = format!(
            "dropped a partly written last line (20 bytes at byte {})",
            whole.len()
        );
        assert!(note.starts_with(&expected), "{note}");

        let (text, note) = mended(&format!("{whole}{EVENT}"));
        assert_eq!(text, format!("{whole}{whole}"));
        assert_eq!(note.unwrap(), "its last line lacked a newline; added it");

        // A file that is one cut line and nothing else is emptied.
        assert_eq!(mended(&EVENT[..10]).0, "");
    }

    #[test]
    fn the_last_newline_is_found_beyond_one_chunk() {
        let long = "x".repeat(CHUNK as usize + 100);
        let (text, note) = mended(&format!("{EVENT}\n{long}"));
        assert_eq!(text, format!("{EVENT}\n"));
        assert!(note.is_some());
    }
}
