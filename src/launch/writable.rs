//! Checks that the places a run will write to can be written, before the run starts: a
//! checkpoint directory that turns out read-only after an hour of training loses that hour.

use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Creates `dir` (private) if needed and makes sure a file can be created in it.
pub fn check_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    let probe = dir.join(format!(".lodo-tui-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .with_context(|| format!("cannot create files in {}", dir.display()))?;
    std::fs::remove_file(&probe)
        .with_context(|| format!("cannot remove the test file {}", probe.display()))?;
    Ok(())
}

/// Makes sure the output file `path` can be written later, without creating or changing it now.
pub fn check_file(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("{} is a directory", path.display());
    }
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write {}: directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    check_dir(dir).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_directory_that_cannot_be_made_is_refused_and_a_new_one_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("a/b");
        check_dir(&fresh).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(
            std::fs::read_dir(&fresh).unwrap().count(),
            0,
            "no probe left"
        );
        // A file where a directory should be stops even root (who may write anywhere else).
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = format!("{:#}", check_dir(&file.join("ck")).unwrap_err());
        assert!(e.starts_with("cannot create directory"), "{e}");
        let e = format!("{:#}", check_dir(&file).unwrap_err());
        assert!(e.starts_with("cannot create directory"), "{e}");
    }

    #[test]
    fn output_files_in_missing_directories_or_on_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_file(&dir.path().join("nope/out.json")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = check_file(dir.path()).unwrap_err();
        assert!(e.to_string().ends_with("is a directory"), "{e}");
        let out = dir.path().join("out.json");
        check_file(&out).unwrap();
        assert!(!out.exists(), "checking creates nothing");
    }
}
