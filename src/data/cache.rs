//! Decompressed copies of gzipped IDX files, kept in a cache directory.
//!
//! The `mnist` crate only reads raw IDX files from disk, and inflating the 11 MB of gzipped MNIST
//! takes a few hundred milliseconds, so each file is inflated once into
//! `<cache root>/mnist/<raw name>-<hash of the .gz bytes>` and reused while the `.gz` is unchanged.
//! Files are written under a temporary name and renamed into place, so a crash or a concurrent run
//! never leaves a half-written file under the final name. A cached copy is used only if its
//! CRC-32 equals the one the gzip trailer records for the inflated content, so a copy damaged on
//! disk is noticed, reported on stderr and rebuilt rather than trained on.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use flate2::read::GzDecoder;

use super::idx::IdxSpec;

/// Where decompressed files go, in order of preference: `$XDG_CACHE_HOME/lodo-tui` (else
/// `$HOME/.cache/lodo-tui`), then `<temp dir>/lodo-tui` for machines whose home is read-only.
pub fn default_roots() -> Vec<PathBuf> {
    let non_empty = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty());
    let mut roots = Vec::new();
    if let Some(xdg) = non_empty("XDG_CACHE_HOME") {
        roots.push(PathBuf::from(xdg).join("lodo-tui"));
    } else if let Some(home) = non_empty("HOME") {
        roots.push(PathBuf::from(home).join(".cache").join("lodo-tui"));
    }
    roots.push(std::env::temp_dir().join("lodo-tui"));
    roots
}

/// The path of a validated raw copy of the gzipped IDX file `gz`: an existing copy in any of
/// `roots`, else a fresh one written to the first root that accepts it.
pub fn decompressed(
    gz: &Path,
    raw_name: &str,
    spec: &IdxSpec,
    roots: &[PathBuf],
) -> Result<PathBuf> {
    let what = gz.display().to_string();
    let packed = fs::read(gz).with_context(|| format!("{what}: cannot read the file"))?;
    let file_name = format!("{raw_name}-{:016x}", content_hash(&packed));
    let targets: Vec<PathBuf> = roots
        .iter()
        .map(|root| root.join("mnist").join(&file_name))
        .collect();
    let expected = trailer_crc(&packed);
    for target in &targets {
        match check_cached(target, spec, expected) {
            Cached::Valid => return Ok(target.clone()),
            Cached::Absent => {}
            Cached::Damaged(why) => {
                // Not `eprintln!`: a closed stderr must not turn a rebuild into a panic.
                let _ = writeln!(
                    std::io::stderr(),
                    "{}: damaged cached copy of {what} ({why}); rebuilding it",
                    target.display()
                );
            }
        }
    }
    let raw = inflate(&packed, spec, &what)?;
    spec.check(&raw, raw.len() as u64, &what)?;
    let mut failures = Vec::new();
    for target in targets {
        match write_atomically(&target, &raw) {
            Ok(()) => return Ok(target),
            Err(e) => failures.push(format!("  {}: {e}", target.display())),
        }
    }
    bail!(
        "{what}: cannot store the decompressed copy (needs 60 MB free):\n{}\nset \
         XDG_CACHE_HOME to a writable directory, or pass --data-dir with the four files \
         un-gzipped",
        failures.join("\n")
    )
}

/// Inflates at most one byte more than a well-formed file holds, so a corrupt or hostile `.gz`
/// cannot fill memory; the length check then reports the extra byte.
fn inflate(packed: &[u8], spec: &IdxSpec, what: &str) -> Result<Vec<u8>> {
    let limit = spec.file_len() as u64 + 1;
    let mut raw = Vec::with_capacity(spec.file_len() + 1);
    GzDecoder::new(packed)
        .take(limit)
        .read_to_end(&mut raw)
        .with_context(|| {
            format!(
                "{what}: not a valid gzip file (corrupt or truncated); replace it with the \
                 standard MNIST file"
            )
        })?;
    Ok(raw)
}

/// The CRC-32 of the inflated content that the gzip trailer records (of its last member; the
/// standard MNIST files have one). `None` for a file too short to have a trailer.
fn trailer_crc(packed: &[u8]) -> Option<u32> {
    let at = packed.len().checked_sub(8)?;
    Some(u32::from_le_bytes(packed[at..at + 4].try_into().ok()?))
}

enum Cached {
    Valid,
    Absent,
    Damaged(String),
}

fn check_cached(path: &Path, spec: &IdxSpec, expected: Option<u32>) -> Cached {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Cached::Absent,
        Err(e) => return Cached::Damaged(format!("unreadable: {e}")),
    };
    if let Err(e) = spec.check(&bytes, bytes.len() as u64, "it") {
        return Cached::Damaged(format!("{e:#}"));
    }
    match expected {
        Some(crc) if crc32fast::hash(&bytes) != crc => {
            Cached::Damaged("its CRC-32 differs from the gzip file's".into())
        }
        _ => Cached::Valid,
    }
}

/// Writes `bytes` to `target` (0600, its directory 0700) through a temporary and a rename, so a
/// crash or a concurrent writer never leaves a partial file under the final name.
pub fn write_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    if let Some(dir) = target.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = target.with_extension(format!("tmp-{}-{unique}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, target)
    };
    write().inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// FNV-1a over 8-byte words: a stable cache key (std's hasher may change between releases), a
/// few milliseconds for the 10 MB training images. Not a defence against forged files; the
/// cached copy is validated on every load anyway.
fn content_hash(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let word = u64::from_le_bytes(w.try_into().expect("chunks_exact yields 8 bytes"));
        h = (h ^ word).wrapping_mul(PRIME);
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn labels_file(count: u32) -> Vec<u8> {
        let mut out = 0x801u32.to_be_bytes().to_vec();
        out.extend(count.to_be_bytes());
        out.extend((0..count).map(|i| (i % 10) as u8));
        out
    }

    #[test]
    fn inflates_once_and_reuses_the_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let gz = tmp.path().join("l.gz");
        fs::write(&gz, gzip(&labels_file(20))).unwrap();
        let spec = IdxSpec::labels(20);
        let root = [tmp.path().join("cache")];
        let first = decompressed(&gz, "l", &spec, &root).unwrap();
        assert_eq!(fs::read(&first).unwrap(), labels_file(20));
        let modified = fs::metadata(&first).unwrap().modified().unwrap();
        let second = decompressed(&gz, "l", &spec, &root).unwrap();
        assert_eq!(first, second);
        assert_eq!(fs::metadata(&second).unwrap().modified().unwrap(), modified);
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(root[0].join("mnist")).unwrap().count(), 1);
    }

    #[test]
    fn replaces_a_corrupted_cached_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let gz = tmp.path().join("l.gz");
        fs::write(&gz, gzip(&labels_file(20))).unwrap();
        let spec = IdxSpec::labels(20);
        let roots = [tmp.path().to_path_buf()];
        let path = decompressed(&gz, "l", &spec, &roots).unwrap();
        fs::write(&path, &labels_file(20)[..15]).unwrap();
        let again = decompressed(&gz, "l", &spec, &roots).unwrap();
        assert_eq!(fs::read(again).unwrap(), labels_file(20));
    }

    #[test]
    fn replaces_a_copy_whose_content_changed_but_not_its_length() {
        let tmp = tempfile::tempdir().unwrap();
        let gz = tmp.path().join("l.gz");
        fs::write(&gz, gzip(&labels_file(20))).unwrap();
        let spec = IdxSpec::labels(20);
        let roots = [tmp.path().to_path_buf()];
        let path = decompressed(&gz, "l", &spec, &roots).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        // Invert the labels: the header and length still pass.
        for b in &mut bytes[8..] {
            *b = 9 - *b;
        }
        fs::write(&path, &bytes).unwrap();
        let again = decompressed(&gz, "l", &spec, &roots).unwrap();
        assert_eq!(again, path);
        assert_eq!(fs::read(again).unwrap(), labels_file(20));
    }

    #[test]
    fn rejects_a_cut_gzip_stream() {
        let tmp = tempfile::tempdir().unwrap();
        let gz = tmp.path().join("l.gz");
        let packed = gzip(&labels_file(2000));
        fs::write(&gz, &packed[..packed.len() / 2]).unwrap();
        let roots = [tmp.path().to_path_buf()];
        let err = decompressed(&gz, "l", &IdxSpec::labels(2000), &roots).unwrap_err();
        assert!(
            format!("{err:#}").contains("l.gz: not a valid gzip file"),
            "{err:#}"
        );
    }

    #[test]
    fn falls_back_to_the_next_root_when_one_is_not_writable() {
        let tmp = tempfile::tempdir().unwrap();
        let gz = tmp.path().join("l.gz");
        fs::write(&gz, gzip(&labels_file(20))).unwrap();
        // A regular file where a directory should be: nothing can be created under it.
        let blocked = tmp.path().join("blocked");
        fs::write(&blocked, b"").unwrap();
        let good = tmp.path().join("good");
        let spec = IdxSpec::labels(20);
        let path = decompressed(&gz, "l", &spec, &[blocked.clone(), good.clone()]).unwrap();
        assert!(path.starts_with(&good));
        let err = decompressed(&gz, "m", &spec, &[blocked])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("l.gz: cannot store the decompressed copy"),
            "{err}"
        );
        assert!(
            err.contains("set XDG_CACHE_HOME to a writable directory"),
            "{err}"
        );
    }

    #[test]
    fn hash_depends_on_every_byte() {
        let a = vec![7u8; 21];
        let mut b = a.clone();
        b[20] = 8;
        assert_ne!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&a[..20]));
    }
}
