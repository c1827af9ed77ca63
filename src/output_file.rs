//! Output files of `plot` and `sample`: checked for writability before any work, so a bad `-o`
//! fails at once with the file named instead of after the work with the image library's error.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::path::Path;

use anyhow::{Result, bail};

/// Fails unless `path` can be created or overwritten. Leaves an existing file's content alone and
/// removes the file again if this check created it.
pub fn check_writable(path: &Path) -> Result<()> {
    if path.is_dir() {
        bail!("cannot write {}: it is a directory", path.display());
    }
    let existed = path.exists();
    match OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    {
        Ok(_) => {
            if !existed {
                let _ = std::fs::remove_file(path);
            }
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            bail!(
                "cannot write {}: its directory does not exist",
                path.display()
            )
        }
        Err(e) => bail!("cannot write {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_outputs_are_named_and_writable_ones_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_writable(dir.path()).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("cannot write {}: it is a directory", dir.path().display())
        );
        let file = dir.path().join("f");
        std::fs::write(&file, b"keep").unwrap();
        let under_file = file.join("x.png");
        let e = check_writable(&under_file).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("cannot write {}: ", under_file.display())),
            "{e}"
        );
        check_writable(&file).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"keep");
        let new = dir.path().join("new.png");
        check_writable(&new).unwrap();
        assert!(!new.exists());
        let e = check_writable(&dir.path().join("no/such/dir.png")).unwrap_err();
        assert!(
            e.to_string().ends_with("its directory does not exist"),
            "{e}"
        );
    }
}
