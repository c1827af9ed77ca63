//! Finding the MNIST files before a run starts, so a missing data set is reported up front with
//! what was looked for and how to point at it.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// The four standard MNIST files (each may also be gzipped).
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Where to look when neither `--data-dir` nor the preset names a directory: `./assets/mnist`,
/// then the source tree's copy (so `cargo run` works from any directory).
pub fn default_candidates() -> Vec<PathBuf> {
    vec![
        PathBuf::from("assets/mnist"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist"),
    ]
}

/// The files of `FILES` missing from `dir`.
pub fn missing_files(dir: &Path) -> Vec<&'static str> {
    FILES
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file() && !dir.join(format!("{f}.gz")).is_file())
        .collect()
}

/// The directory to use: the explicit one (checked), or the first complete default.
pub fn resolve(explicit: Option<&Path>) -> Result<PathBuf> {
    let hint = "pass --data-dir DIR with the four MNIST files (train-images-idx3-ubyte.gz, \
                train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz; \
                gzipped or not)";
    if let Some(dir) = explicit {
        if !dir.is_dir() {
            bail!(
                "MNIST data directory {} does not exist; {hint}",
                dir.display()
            );
        }
        let missing = missing_files(dir);
        if !missing.is_empty() {
            bail!(
                "MNIST data directory {} lacks {}; {hint}",
                dir.display(),
                missing.join(", ")
            );
        }
        return Ok(absolute(dir));
    }
    let candidates = default_candidates();
    if let Some(dir) = candidates.iter().find(|d| missing_files(d).is_empty()) {
        return Ok(absolute(dir));
    }
    let tried: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
    bail!(
        "MNIST data not found (looked in {}); {hint}",
        tried.join(", ")
    )
}

/// The absolute form, so checkpoints and records stay valid from another working directory.
fn absolute(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_directories_are_checked_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        for f in &FILES[..3] {
            std::fs::write(dir.path().join(format!("{f}.gz")), b"").unwrap();
        }
        let e = resolve(Some(dir.path())).unwrap_err().to_string();
        assert!(
            e.contains("lacks t10k-labels-idx1-ubyte; pass --data-dir DIR"),
            "{e}"
        );
        std::fs::write(dir.path().join(FILES[3]), b"").unwrap();
        assert_eq!(
            resolve(Some(dir.path())).unwrap(),
            std::fs::canonicalize(dir.path()).unwrap()
        );
        let e = resolve(Some(Path::new("/nonexistent/mnist"))).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("MNIST data directory /nonexistent/mnist does not exist")
        );
    }

    #[test]
    fn the_shipped_assets_are_found_by_default() {
        assert!(resolve(None).is_ok());
    }
}
