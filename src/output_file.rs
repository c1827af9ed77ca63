//! Output files of `plot`, `sample`, `compare --json` and `evaluate --json`: checked for
//! writability before any work, so a bad `-o` fails at once with the file named instead of after
//! the work with the image library's error; and written privately and whole.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};

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

/// Writes `bytes` to `path` through a private (0600) temporary beside it and a rename, so a kill
/// or a full disk leaves either the old file or the new one, never a truncated result.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write()
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .with_context(|| format!("cannot write {}", path.display()))
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

    #[test]
    fn write_private_replaces_the_file_whole_and_keeps_it_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.json");
        std::fs::write(&file, b"old and longer").unwrap();
        write_private(&file, b"new").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"new");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
        let e = format!(
            "{:#}",
            write_private(&dir.path().join("no/x.json"), b"x").unwrap_err()
        );
        assert!(
            e.starts_with("cannot write ") && e.contains("no/x.json"),
            "{e}"
        );
    }
}
