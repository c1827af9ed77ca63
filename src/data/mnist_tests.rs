use std::io::Write;
use std::time::Instant;

use flate2::{Compression, write::GzEncoder};

use super::*;

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A directory with the real train-images file, so the loader gets to the second file.
fn dir_with_train_images() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let name = "train-images-idx3-ubyte.gz";
    fs::copy(assets().join(name), dir.path().join(name)).unwrap();
    dir
}

fn load_err(dir: &Path) -> String {
    let cache = tempfile::tempdir().unwrap();
    format!("{:#}", load_with_cache(dir, cache.path()).unwrap_err())
}

#[test]
fn loads_the_real_data_with_known_labels() {
    let cache = tempfile::tempdir().unwrap();
    let cold = Instant::now();
    let data = load_with_cache(&assets(), cache.path()).unwrap();
    let cold = cold.elapsed();
    let warm = Instant::now();
    let again = load_with_cache(&assets(), cache.path()).unwrap();
    eprintln!(
        "MNIST load: cold cache {cold:?}, warm cache {:?}",
        warm.elapsed()
    );
    assert_eq!(data.train_labels, again.train_labels);
    assert_eq!((data.train_len(), data.test_len()), (60_000, 10_000));
    assert_eq!(data.train_images.len(), 60_000 * PIXELS);
    assert_eq!(data.test_images.len(), 10_000 * PIXELS);
    // The first training digit is a 5 and the first test digit a 7 (standard MNIST ordering).
    assert_eq!((data.train_labels[0], data.test_labels[0]), (5, 7));
    // Class counts of the standard sets, as published with MNIST (they sum to 60,000 / 10,000).
    let counts = |labels: &[u8]| {
        let mut c = [0usize; 10];
        labels.iter().for_each(|&l| c[l as usize] += 1);
        c
    };
    let train = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
    let test = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
    assert_eq!(counts(&data.train_labels), train);
    assert_eq!(counts(&data.test_labels), test);
    // Images are 28×28 bytes with dark borders: the corner pixel of every image is 0.
    assert_eq!(data.train_image(59_999).len(), PIXELS);
    assert!((0..10_000).all(|i| data.test_image(i)[0] == 0));
}

#[test]
fn reads_raw_files_and_gz_files_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    for (name, ..) in FILES {
        let gz = assets().join(format!("{name}.gz"));
        if name.contains("labels") {
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(fs::File::open(gz).unwrap())
                .read_to_end(&mut raw)
                .unwrap();
            fs::write(dir.path().join(name), raw).unwrap();
        } else {
            fs::copy(gz, dir.path().join(format!("{name}.gz"))).unwrap();
        }
    }
    let cache = tempfile::tempdir().unwrap();
    let data = load_with_cache(dir.path(), cache.path()).unwrap();
    assert_eq!((data.train_labels[0], data.test_labels[0]), (5, 7));
}

#[test]
fn missing_file_is_named_with_what_to_do() {
    let dir = dir_with_train_images();
    let err = load_err(dir.path());
    assert!(
        err.starts_with("train-labels-idx1-ubyte (or train-labels-idx1-ubyte.gz) not found in "),
        "{err}"
    );
    assert!(
        err.contains("pass --data-dir pointing at the four standard MNIST files"),
        "{err}"
    );
}

#[test]
fn wrong_magic_says_not_an_idx_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train-images-idx3-ubyte");
    fs::write(&path, b"<html>404 not found</html>").unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("train-images-idx3-ubyte: not an IDX images file"),
        "{err}"
    );
    // The same inside a gzip file (the error names the .gz).
    let dir = dir_with_train_images();
    let gz = dir.path().join("train-labels-idx1-ubyte.gz");
    fs::write(&gz, gzip(&[0x1f; 60_008])).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("train-labels-idx1-ubyte.gz: not an IDX labels file"),
        "{err}"
    );
}

#[test]
fn truncated_file_reports_expected_and_actual_bytes() {
    let dir = dir_with_train_images();
    let mut labels = 0x801u32.to_be_bytes().to_vec();
    labels.extend(60_000u32.to_be_bytes());
    labels.extend(vec![3u8; 59_000]);
    fs::write(dir.path().join("train-labels-idx1-ubyte.gz"), gzip(&labels)).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("train-labels-idx1-ubyte.gz: truncated: expected 60008 bytes, found 59008"),
        "{err}"
    );
    // A raw file cut short.
    fs::remove_file(dir.path().join("train-labels-idx1-ubyte.gz")).unwrap();
    fs::write(dir.path().join("train-labels-idx1-ubyte"), &labels[..1000]).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("truncated: expected 60008 bytes, found 1000"),
        "{err}"
    );
}

#[test]
fn resolve_prefers_explicit_then_env_then_complete_fallbacks() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let fallbacks = [empty.path().to_path_buf(), assets()];
    let got = |explicit: Option<&Path>, env: Option<&Path>| {
        resolve_from(explicit, env, &fallbacks).unwrap()
    };
    assert_eq!(got(Some(a.path()), Some(b.path())), a.path());
    assert_eq!(got(None, Some(b.path())), b.path());
    // The empty fallback is skipped; the complete one is taken.
    assert_eq!(got(None, None), assets());
}

#[test]
fn resolve_errors_list_where_they_looked() {
    let empty = tempfile::tempdir().unwrap();
    let nowhere = empty.path().join("nowhere");
    let err = resolve_from(None, None, &[empty.path().to_path_buf(), nowhere.clone()])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("MNIST data not found. Looked in:"), "{err}");
    assert!(err.contains(&format!("{}: missing train-images", empty.path().display())));
    assert!(err.contains(&format!("{}: no such directory", nowhere.display())));
    assert!(
        err.contains("Pass --data-dir DIR (or set LODO_TUI_DATA_DIR)"),
        "{err}"
    );
    let err = resolve_from(Some(&nowhere), None, &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("(from --data-dir / data_dir) does not exist"),
        "{err}"
    );
    let err = resolve_from(None, Some(&nowhere), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("(from LODO_TUI_DATA_DIR) does not exist"),
        "{err}"
    );
}

#[test]
fn without_any_data_directory_the_built_in_copy_is_used_and_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let roots = [tmp.path().join("cache")];
    let dir = resolve_with(None, None, &[empty.path().to_path_buf()], &roots).unwrap();
    assert_eq!(dir, roots[0].join(embedded::DIR_NAME));
    let data = load_with_cache(&dir, &tmp.path().join("raw")).unwrap();
    let reference = load_with_cache(&assets(), &tmp.path().join("raw-assets")).unwrap();
    assert_eq!(data.train_labels, reference.train_labels);
    assert_eq!(data.test_images, reference.test_images);
    // A checkpoint names that directory; after the cache is cleaned it is written again, while
    // an explicit directory elsewhere is still taken as given.
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(resolve_with(Some(&dir), None, &[], &roots).unwrap(), dir);
    assert!(dir.join(embedded::FILES[0].0).is_file());
    let elsewhere = tmp.path().join("other").join(embedded::DIR_NAME);
    let err = resolve_with(Some(&elsewhere), None, &[], &roots).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    // An environment variable is honoured even when it is wrong: no silent fallback.
    assert!(resolve_with(None, Some(&elsewhere), &[], &roots).is_err());
}

#[test]
fn resolve_dir_finds_the_committed_assets() {
    // Holds unless LODO_TUI_DATA_DIR points elsewhere in the test environment.
    if std::env::var_os(DATA_DIR_VAR).is_none() {
        assert_eq!(resolve_dir(None).unwrap(), assets());
    }
}
