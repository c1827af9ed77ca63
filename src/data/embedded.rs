//! The four gzipped MNIST files built into the binary (11.4 MB), so an installed `lodo-tui` runs
//! `--preset mnist` from any directory, after its source tree is gone and without the network.
//!
//! The `mnist` crate reads files, so the embedded bytes are written once into the cache (as
//! `<cache root>/mnist-embedded/*.gz`, private) and loaded from there like any data directory:
//! the usual inflation and CRC checks apply. Each copy is compared with the embedded bytes every
//! time it is used, so a damaged or edited copy is rewritten, never trained on.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::cache;

/// The directory name under a cache root; a data directory with this name is ours to rebuild.
pub const DIR_NAME: &str = "mnist-embedded";

macro_rules! embedded {
    ($($name:literal),*) => {
        /// (file name, gzipped bytes) of the standard MNIST files.
        pub const FILES: &[(&str, &[u8])] = &[$(
            ($name, include_bytes!(concat!("../../assets/mnist/", $name))),
        )*];
    };
}

embedded!(
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz"
);

/// Whether `dir` is the built-in copy's directory under one of the cache `roots` (e.g. the data
/// directory a checkpoint of a run on the built-in data recorded). Only there may it be
/// (re)written: a user's own directory of that name is left alone.
pub fn is_embedded_dir(dir: &Path, roots: &[PathBuf]) -> bool {
    let canonical = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let Some(parent) = dir
        .parent()
        .filter(|_| dir.file_name().is_some_and(|n| n == DIR_NAME))
    else {
        return false;
    };
    roots
        .iter()
        .any(|root| root == parent || canonical(root) == canonical(parent))
}

/// Writes the embedded files into the first of `roots` that accepts them (skipping copies that
/// are already exact) and returns that directory.
pub fn materialize(roots: &[PathBuf]) -> Result<PathBuf> {
    let mut failures = Vec::new();
    for root in roots {
        let dir = root.join(DIR_NAME);
        match write_into(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => failures.push(format!("  {}: {e}", dir.display())),
        }
    }
    bail!(
        "cannot write the built-in MNIST files (11.4 MB) anywhere:\n{}\nset XDG_CACHE_HOME to a \
         writable directory, or pass --data-dir with the four MNIST files",
        failures.join("\n")
    )
}

/// Writes the embedded files into `dir`, rewriting any copy that differs (saying so).
pub fn write_into(dir: &Path) -> std::io::Result<()> {
    for (name, bytes) in FILES {
        let path = dir.join(name);
        match fs::read(&path) {
            Ok(existing) if existing == *bytes => continue,
            Ok(_) => {
                // Not `eprintln!`: a closed stderr must not turn a rebuild into a panic.
                let _ = writeln!(
                    std::io::stderr(),
                    "{}: differs from the built-in copy; rewriting it",
                    path.display()
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        cache::write_atomically(&path, bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_are_the_committed_assets() {
        let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist");
        for (name, bytes) in FILES {
            assert_eq!(fs::read(assets.join(name)).unwrap(), *bytes, "{name}");
        }
    }

    #[test]
    fn materialize_writes_private_exact_copies_and_repairs_damage() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let unwritable = tmp.path().join("file-not-dir");
        fs::write(&unwritable, b"x").unwrap();
        let roots = [unwritable.clone(), tmp.path().join("cache")];
        // The first root cannot hold a directory: the second is used.
        let dir = materialize(&roots).unwrap();
        assert_eq!(dir, tmp.path().join("cache").join(DIR_NAME));
        assert!(is_embedded_dir(&dir, &roots));
        // A directory of that name elsewhere is the user's.
        assert!(!is_embedded_dir(&tmp.path().join(DIR_NAME), &roots));
        for (name, bytes) in FILES {
            let path = dir.join(name);
            assert_eq!(fs::read(&path).unwrap(), *bytes);
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        // A flipped bit in a copy is noticed and rewritten.
        let victim = dir.join(FILES[1].0);
        let mut damaged = fs::read(&victim).unwrap();
        damaged[100] ^= 0x10;
        fs::write(&victim, &damaged).unwrap();
        materialize(&roots).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), FILES[1].1);
        // No root accepts them: the error names each place tried.
        let err = materialize(std::slice::from_ref(&unwritable))
            .unwrap_err()
            .to_string();
        assert!(err.contains("file-not-dir"), "{err}");
    }
}
