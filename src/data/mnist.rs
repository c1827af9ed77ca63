//! MNIST: finding the four standard IDX files, validating them and loading them with the `mnist`
//! crate.
//!
//! The crate panics on a missing or malformed file, so every file is checked here first (magic
//! number, item count, image size, exact byte length) and errors name the file and say what to
//! do. Gzipped files are inflated once into a cache directory (see [`super::cache`]).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::idx::IdxSpec;
use super::{cache, embedded};

pub const ROWS: usize = 28;
pub const COLS: usize = 28;
pub const PIXELS: usize = ROWS * COLS;
pub const TRAIN_LEN: usize = 60_000;
pub const TEST_LEN: usize = 10_000;
/// Environment variable naming the data directory when no `--data-dir` is given.
pub const DATA_DIR_VAR: &str = "LODO_TUI_DATA_DIR";

/// The standard file names (without `.gz`) and what each must hold, in load order.
const FILES: [(&str, usize, bool); 4] = [
    ("train-images-idx3-ubyte", TRAIN_LEN, true),
    ("train-labels-idx1-ubyte", TRAIN_LEN, false),
    ("t10k-images-idx3-ubyte", TEST_LEN, true),
    ("t10k-labels-idx1-ubyte", TEST_LEN, false),
];

/// The MNIST training and test sets: images row-major, one byte per pixel (0 = background),
/// labels 0..=9.
#[derive(Clone)]
pub struct Mnist {
    /// `60000 * 784` bytes.
    pub train_images: Vec<u8>,
    pub train_labels: Vec<u8>,
    /// `10000 * 784` bytes.
    pub test_images: Vec<u8>,
    pub test_labels: Vec<u8>,
}

/// Counts only: the derived form would print 55 MB of pixels.
impl std::fmt::Debug for Mnist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mnist")
            .field("train_len", &self.train_len())
            .field("test_len", &self.test_len())
            .finish_non_exhaustive()
    }
}

impl Mnist {
    pub fn train_len(&self) -> usize {
        self.train_labels.len()
    }

    pub fn test_len(&self) -> usize {
        self.test_labels.len()
    }

    pub fn train_image(&self, i: usize) -> &[u8] {
        &self.train_images[i * PIXELS..(i + 1) * PIXELS]
    }

    pub fn test_image(&self, i: usize) -> &[u8] {
        &self.test_images[i * PIXELS..(i + 1) * PIXELS]
    }
}

/// The directory to load MNIST from: `explicit` (CLI `--data-dir` / preset `data_dir`), else
/// `$LODO_TUI_DATA_DIR`, else the `assets/mnist` of the source tree this binary was built from,
/// else `./assets/mnist`, else the copy built into the binary (written into the cache, see
/// [`embedded`]). The first two are taken as given (a typo must not silently fall back to other
/// data); the next two only if they hold all four files.
pub fn resolve_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    let env = std::env::var_os(DATA_DIR_VAR).filter(|v| !v.is_empty());
    let fallbacks = [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist"),
        PathBuf::from("assets/mnist"),
    ];
    resolve_with(
        explicit,
        env.as_deref().map(Path::new),
        &fallbacks,
        &cache::default_roots(),
    )
}

/// [`resolve_dir`] with its places given; the built-in copy goes to the first of `cache_roots`
/// that accepts it.
fn resolve_with(
    explicit: Option<&Path>,
    env: Option<&Path>,
    fallbacks: &[PathBuf],
    cache_roots: &[PathBuf],
) -> Result<PathBuf> {
    // A run on the built-in copy records that directory; resuming after the cache was cleaned
    // writes it again.
    if let Some(dir) = explicit.filter(|d| embedded::is_embedded_dir(d, cache_roots)) {
        embedded::write_into(dir).with_context(|| {
            format!("cannot write the built-in MNIST files to {}", dir.display())
        })?;
        return Ok(dir.to_path_buf());
    }
    match resolve_from(explicit, env, fallbacks) {
        Err(not_found) if explicit.is_none() && env.is_none() => embedded::materialize(cache_roots)
            .map_err(|e| {
                anyhow!("{not_found:#}\nThe built-in copy could not be used either: {e:#}")
            }),
        found => found,
    }
}

fn resolve_from(
    explicit: Option<&Path>,
    env: Option<&Path>,
    fallbacks: &[PathBuf],
) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        return given_dir(dir, "--data-dir / data_dir");
    }
    if let Some(dir) = env {
        return given_dir(dir, DATA_DIR_VAR);
    }
    let mut looked = Vec::new();
    for dir in fallbacks {
        let missing: Vec<&str> = FILES
            .iter()
            .filter(|(name, ..)| locate(dir, name).is_none())
            .map(|(name, ..)| *name)
            .collect();
        if missing.is_empty() {
            return Ok(dir.clone());
        }
        let why = if dir.is_dir() {
            format!("missing {}", missing.join(", "))
        } else {
            "no such directory".to_string()
        };
        looked.push(format!("  {}: {why}", dir.display()));
    }
    bail!(
        "MNIST data not found. Looked in:\n{}\nPass --data-dir DIR (or set {DATA_DIR_VAR}) \
         pointing at a directory holding the four standard MNIST files {} (each gzipped as .gz \
         or raw)",
        looked.join("\n"),
        standard_names()
    )
}

fn given_dir(dir: &Path, source: &str) -> Result<PathBuf> {
    if dir.is_dir() {
        Ok(dir.to_path_buf())
    } else {
        bail!(
            "MNIST data directory {} (from {source}) does not exist or is not a directory; \
             point it at a directory holding the four standard MNIST files {}",
            dir.display(),
            standard_names()
        )
    }
}

fn standard_names() -> String {
    FILES.map(|(name, ..)| name).join(", ")
}

/// The raw file `name` in `dir` if present, else `name.gz`; `(path, gzipped)`.
fn locate(dir: &Path, name: &str) -> Option<(PathBuf, bool)> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Some((raw, false));
    }
    let gz = dir.join(format!("{name}.gz"));
    gz.is_file().then_some((gz, true))
}

/// Loads MNIST from `dir`, inflating gzipped files into the user's cache directory (see
/// [`cache::default_roots`]).
pub fn load(dir: &Path) -> Result<Mnist> {
    load_with_cache_roots(dir, &cache::default_roots())
}

/// Inflates (or verifies) the cached copies of `dir`'s gzipped files without loading them, so a
/// damaged copy is reported on stderr before a dashboard takes over the terminal.
pub fn prepare_cache(dir: &Path) -> Result<()> {
    let roots = cache::default_roots();
    for (name, count, images) in FILES {
        let spec = if images {
            IdxSpec::images(count)
        } else {
            IdxSpec::labels(count)
        };
        if let Some((path, true)) = locate(dir, name) {
            cache::decompressed(&path, name, &spec, &roots)?;
        }
    }
    Ok(())
}

/// Loads MNIST from `dir`, inflating gzipped files into `cache_root`.
pub fn load_with_cache(dir: &Path, cache_root: &Path) -> Result<Mnist> {
    load_with_cache_roots(dir, &[cache_root.to_path_buf()])
}

fn load_with_cache_roots(dir: &Path, cache_roots: &[PathBuf]) -> Result<Mnist> {
    let mut raw_paths = Vec::with_capacity(FILES.len());
    for (name, count, images) in FILES {
        let spec = if images {
            IdxSpec::images(count)
        } else {
            IdxSpec::labels(count)
        };
        let (path, gzipped) = locate(dir, name).ok_or_else(|| {
            anyhow!(
                "{name} (or {name}.gz) not found in {}; pass --data-dir pointing at the four \
                 standard MNIST files ({})",
                dir.display(),
                standard_names()
            )
        })?;
        let raw = if gzipped {
            cache::decompressed(&path, name, &spec, cache_roots)?
        } else {
            check_raw(&path, &spec)?;
            path
        };
        raw_paths.push(utf8(raw)?);
    }
    let crate_data = read_with_crate(&raw_paths)?;
    let data = Mnist {
        train_images: crate_data.trn_img,
        train_labels: crate_data.trn_lbl,
        test_images: crate_data.tst_img,
        test_labels: crate_data.tst_lbl,
    };
    check_loaded(&data, &raw_paths)?;
    Ok(data)
}

fn check_raw(path: &Path, spec: &IdxSpec) -> Result<()> {
    let what = path.display().to_string();
    let mut file = fs::File::open(path).with_context(|| format!("{what}: cannot open"))?;
    let len = file
        .metadata()
        .with_context(|| format!("{what}: cannot read its size"))?
        .len();
    let mut header = Vec::with_capacity(spec.header_len());
    file.by_ref()
        .take(spec.header_len() as u64)
        .read_to_end(&mut header)
        .with_context(|| format!("{what}: cannot read"))?;
    spec.check(&header, len, &what)
}

/// The `mnist` crate takes `&str` paths.
fn utf8(path: PathBuf) -> Result<String> {
    path.into_os_string().into_string().map_err(|p| {
        anyhow!(
            "{}: the path is not valid UTF-8, which the MNIST reader requires; move the data \
             (or set XDG_CACHE_HOME) to a UTF-8 path",
            PathBuf::from(p).display()
        )
    })
}

/// The crate joins its base path with each file name; with an empty base the full paths pass
/// through unchanged. Its remaining panics (a file changed between our check and its read) are
/// turned into an error.
fn read_with_crate(paths: &[String]) -> Result<mnist::Mnist> {
    let [train_images, train_labels, test_images, test_labels] = paths else {
        bail!("internal: expected four MNIST paths, got {}", paths.len());
    };
    std::panic::catch_unwind(|| {
        mnist::MnistBuilder::new()
            .base_path("")
            .training_images_filename(train_images)
            .training_labels_filename(train_labels)
            .test_images_filename(test_images)
            .test_labels_filename(test_labels)
            .training_set_length(TRAIN_LEN as u32)
            .validation_set_length(0)
            .test_set_length(TEST_LEN as u32)
            .finalize()
    })
    .map_err(|_| {
        anyhow!(
            "reading MNIST failed although the files passed validation (did they change \
             meanwhile?): {}",
            paths.join(", ")
        )
    })
}

fn check_loaded(data: &Mnist, paths: &[String]) -> Result<()> {
    let sizes = [
        (data.train_images.len(), TRAIN_LEN * PIXELS),
        (data.train_labels.len(), TRAIN_LEN),
        (data.test_images.len(), TEST_LEN * PIXELS),
        (data.test_labels.len(), TEST_LEN),
    ];
    for ((got, want), path) in sizes.iter().zip(paths) {
        if got != want {
            bail!("{path}: read {got} bytes of data, expected {want}");
        }
    }
    for (labels, path) in [
        (&data.train_labels, &paths[1]),
        (&data.test_labels, &paths[3]),
    ] {
        if let Some(i) = labels.iter().position(|&l| l > 9) {
            bail!(
                "{path}: label {} at index {i} is not a digit 0..=9; not a standard MNIST file",
                labels[i]
            );
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "mnist_tests.rs"]
mod tests;
