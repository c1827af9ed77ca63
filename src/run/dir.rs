//! Run directories: where the runs live (the runs root), the id a run gets, what it records about
//! itself (`run.json`), and whether it is still alive.
//!
//! ```text
//! $XDG_STATE_HOME/lodo-tui/runs/          the runs root (0700, ours, not writable by others)
//!   quadratic-20261203-1/                 one run (0700); the id is PRESET-YYYYMMDD-N
//!     run.json                            who and where (0600, written whole)
//!     record.jsonl  checkpoints/  log     unless --record / --checkpoint-dir chose elsewhere
//!     sock                                the control socket (0600), unless its path is too long
//! ```

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Overrides the runs root (below `--runs-dir`, above the XDG default).
pub const RUNS_DIR_ENV: &str = "LODO_TUI_RUNS_DIR";
/// `sockaddr_un.sun_path` holds 108 bytes on Linux, the terminating NUL included.
const MAX_SOCKET_PATH: usize = 107;
/// How long a socket may take to accept before the run counts as not answering.
const CONNECT_PATIENCE: Duration = Duration::from_secs(1);

/// How a run was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartedAs {
    /// A plain run: a server process with a dashboard attached from the start.
    Dashboard,
    /// `--headless` (or stdout not a terminal): trains in the foreground process.
    Headless,
    /// `--detach`: a server process nobody watches yet.
    Detached,
}

/// `run.json`: what a run says about itself, for `ps`, `attach` and `stop`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    /// The process that owns the trainer and serves the socket.
    pub pid: u32,
    pub preset: String,
    pub task_title: String,
    /// Seconds since the Unix epoch.
    pub started: f64,
    pub argv: Vec<String>,
    pub socket: PathBuf,
    pub record: Option<PathBuf>,
    pub checkpoint_dir: PathBuf,
    pub log: PathBuf,
    pub started_as: StartedAs,
}

/// The runs root: `--runs-dir`, else `$LODO_TUI_RUNS_DIR`, else `$XDG_STATE_HOME/lodo-tui/runs`,
/// else `~/.local/state/lodo-tui/runs`; created private, and refused when it is not ours or
/// others can write to it (they could plant runs or sockets in it).
pub fn root(cli: Option<&Path>) -> Result<PathBuf> {
    let root = resolve_root(cli, |k| std::env::var_os(k))?;
    private_dir(&root).context("the runs directory (--runs-dir, $LODO_TUI_RUNS_DIR)")?;
    Ok(root)
}

fn resolve_root(
    cli: Option<&Path>,
    get: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf> {
    let set = |k: &str| get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = cli.map(Path::to_path_buf).or_else(|| set(RUNS_DIR_ENV)) {
        return Ok(dir);
    }
    // XDG: a relative $XDG_STATE_HOME is invalid and is to be ignored.
    if let Some(state) = set("XDG_STATE_HOME").filter(|p| p.is_absolute()) {
        return Ok(state.join("lodo-tui").join("runs"));
    }
    match set("HOME") {
        Some(home) => Ok(home.join(".local/state/lodo-tui/runs")),
        None => bail!(
            "no place for run directories: $HOME is not set; pass --runs-dir DIR or set \
             ${RUNS_DIR_ENV}"
        ),
    }
}

/// Creates `root/name(n)` for the smallest `n ≥ first` whose name is free, private to the user.
/// `mkdir` either creates the directory, ours alone, or fails, so a name somebody else took
/// (another run, another user of a shared directory) is never reused.
/// Returns the name and the path.
pub fn claim_fresh(
    root: &Path,
    first: u32,
    name: impl Fn(u32) -> String,
) -> Result<(String, PathBuf)> {
    for n in first..first.saturating_add(10_000) {
        let name = name(n);
        let path = root.join(&name);
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {
                // The umask may have taken bits away, never added them; make sure anyway.
                fs::set_permissions(&path, fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("cannot make {} private", path.display()))?;
                return Ok((name, path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    bail!("no free name under {}", root.display())
}

/// Creates `dir` (and parents) with mode 0700 if missing, then checks it is a directory owned by
/// this user that nobody else can write to.
pub fn private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let meta = fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    if meta.uid() != current_uid() {
        bail!(
            "{} belongs to another user (uid {}); runs are kept only in a directory of your own",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "{} can be written by other users (mode {:o}); make it private with \
             `chmod 700 {}`",
            dir.display(),
            meta.mode() & 0o777,
            dir.display()
        );
    }
    Ok(())
}

pub fn current_uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// One run's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

impl RunDir {
    /// Claims the next free id `PRESET-YYYYMMDD-N` (the smallest free N) under `root`. `mkdir`
    /// either creates the directory or fails, so two runs starting at once never share one.
    pub fn claim(root: &Path, preset: &str, now: SystemTime) -> Result<Self> {
        let stem = format!("{}-{}", id_safe(preset), yyyymmdd(now));
        let (id, path) = claim_fresh(root, 1, |n| format!("{stem}-{n}"))
            .context("cannot create the run directory")?;
        Ok(Self { id, path })
    }

    /// An existing run directory.
    pub fn open(path: &Path) -> Result<Self> {
        let id = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .with_context(|| format!("{} is not a run directory", path.display()))?;
        Ok(Self {
            id,
            path: path.to_path_buf(),
        })
    }

    pub fn info_path(&self) -> PathBuf {
        self.path.join("run.json")
    }
    pub fn record(&self) -> PathBuf {
        self.path.join("record.jsonl")
    }
    pub fn checkpoints(&self) -> PathBuf {
        self.path.join("checkpoints")
    }
    pub fn log(&self) -> PathBuf {
        self.path.join("log")
    }

    /// Where the control socket goes: `sock` in the run directory, or, when that path is too
    /// long for a Unix socket, a private directory under `$XDG_RUNTIME_DIR/lodo-tui/` (else
    /// `/tmp/lodo-tui-UID/`); `run.json` says which.
    pub fn socket(&self) -> Result<PathBuf> {
        let inside = self.path.join("sock");
        if fits_socket(&inside) {
            return Ok(inside);
        }
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|v| !v.is_empty())
            .map(|d| PathBuf::from(d).join("lodo-tui"))
            .unwrap_or_else(|| PathBuf::from(format!("/tmp/lodo-tui-{}", current_uid())));
        private_dir(&base).context("the directory for run sockets")?;
        // Ids repeat across runs roots: a random tail keeps two roots' sockets apart.
        let short = base.join(format!(
            "{}-{:06x}.sock",
            self.id,
            rand::random::<u32>() & 0xff_ffff
        ));
        if !fits_socket(&short) {
            bail!(
                "no socket path shorter than {MAX_SOCKET_PATH} bytes for run {}: {} is too long",
                self.id,
                short.display()
            );
        }
        Ok(short)
    }

    /// Writes `run.json` whole and private (a temporary and a rename).
    pub fn write_info(&self, info: &RunInfo) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(info).context("cannot encode run.json")?;
        text.push(b'\n');
        crate::output_file::write_private(&self.info_path(), &text)
    }

    pub fn read_info(&self) -> Result<RunInfo> {
        let path = self.info_path();
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not a run.json", path.display()))
    }
}

fn fits_socket(path: &Path) -> bool {
    path.as_os_str().len() <= MAX_SOCKET_PATH
}

/// The preset's name as it can appear in an id: a preset file's stem, with anything but letters,
/// digits, `_` and `-` replaced.
fn id_safe(preset: &str) -> String {
    let stem = Path::new(preset)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let safe: String = stem
        .chars()
        .take(32)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() {
        "run".to_string()
    } else {
        safe
    }
}

/// The UTC date as `YYYYMMDD` (days to civil date: Howard Hinnant's `civil_from_days`).
fn yyyymmdd(t: SystemTime) -> String {
    let days = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}")
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Whether a run can be reached.
#[derive(Clone, Debug, PartialEq)]
pub enum Liveness {
    /// Its process is alive and its socket accepts.
    Live,
    /// Its process is alive but the socket did not accept in time.
    NotAnswering,
    /// Its process is gone; its newest checkpoint, if it wrote one, and whether its record ends
    /// with a summary (it finished or was stopped, rather than killed).
    Dead {
        last_checkpoint: Option<PathBuf>,
        finished: bool,
    },
}

impl Liveness {
    pub fn label(&self) -> &'static str {
        match self {
            Liveness::Live => "live",
            Liveness::NotAnswering => "not answering",
            Liveness::Dead { finished: true, .. } => "ended",
            Liveness::Dead { .. } => "dead",
        }
    }
}

/// A run found under the root.
#[derive(Clone, Debug)]
pub struct Listed {
    pub dir: RunDir,
    pub info: RunInfo,
    pub liveness: Liveness,
}

/// Liveness: the pid exists and the socket accepts a connection.
pub fn liveness(info: &RunInfo) -> Liveness {
    if process_alive(info.pid) {
        if socket_accepts(&info.socket) {
            Liveness::Live
        } else {
            Liveness::NotAnswering
        }
    } else {
        Liveness::Dead {
            last_checkpoint: crate::train::checkpoint_dir::newest(&info.checkpoint_dir)
                .ok()
                .map(|c| c.path),
            finished: info
                .record
                .as_deref()
                .is_some_and(crate::record::tail::ends_with_summary),
        }
    }
}

/// `kill(pid, 0)`: the process exists (EPERM means it does, as another user's: not ours, so a
/// reused pid, and the run is gone), and it is not a zombie: a server process whose parent does
/// not reap it (a container's init may not) stays in the process table after it ended.
pub fn process_alive(pid: u32) -> bool {
    let Some(raw) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    rustix::process::test_kill_process(raw).is_ok() && !zombie(pid)
}

/// The state in `/proc/PID/stat` is `Z` (zombie) or `X` (dead).
fn zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "PID (COMM) STATE …": COMM may hold spaces and parentheses, the state follows the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// Whether a Unix socket at `path` accepts a connection within [`CONNECT_PATIENCE`].
pub fn socket_accepts(path: &Path) -> bool {
    let path = path.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::os::unix::net::UnixStream::connect(&path).is_ok());
    });
    rx.recv_timeout(CONNECT_PATIENCE).unwrap_or(false)
}

/// Every run under `root` that has written its `run.json`, oldest first.
pub fn list(root: &Path) -> Result<Vec<Listed>> {
    let mut runs = Vec::new();
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(runs),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", root.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", root.display()))?;
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = RunDir::open(&entry.path())?;
        // A run still starting has no run.json yet; a broken one is not a run to list.
        let Ok(info) = dir.read_info() else {
            continue;
        };
        let liveness = liveness(&info);
        runs.push(Listed {
            dir,
            info,
            liveness,
        });
    }
    runs.sort_by(|a, b| a.info.started.total_cmp(&b.info.started));
    Ok(runs)
}

/// The run called `id` under `root`.
pub fn find(root: &Path, id: &str) -> Result<Listed> {
    let dir = RunDir {
        id: id.to_string(),
        path: root.join(id),
    };
    if id.contains('/') || !dir.path.is_dir() {
        bail!(
            "no run {id} in {} (`lodo-tui ps --all` lists them)",
            root.display()
        );
    }
    let info = dir.read_info()?;
    let liveness = liveness(&info);
    Ok(Listed {
        dir,
        info,
        liveness,
    })
}

/// The most recently started live run.
pub fn most_recent_live(root: &Path) -> Result<Listed> {
    list(root)?
        .into_iter()
        .rev()
        .find(|r| r.liveness == Liveness::Live)
        .with_context(|| {
            format!(
                "no live run in {} (`lodo-tui ps --all` lists the ended and dead ones too)",
                root.display()
            )
        })
}

/// What to tell someone who wants a run that is no longer live: how to see it and continue it.
pub fn how_to_continue(listed: &Listed) -> String {
    let id = &listed.info.id;
    let pid = listed.info.pid;
    let checkpoints = listed.info.checkpoint_dir.display();
    match &listed.liveness {
        Liveness::Dead {
            last_checkpoint,
            finished: true,
        } => {
            let further = match last_checkpoint {
                Some(_) => format!("`lodo-tui --resume {checkpoints}` trains it further"),
                None => format!("it left no checkpoint in {checkpoints} to resume from"),
            };
            format!("run {id} has ended; `lodo-tui view {id}` shows it, {further}")
        }
        Liveness::Dead {
            last_checkpoint: Some(_),
            finished: false,
        } => format!(
            "run {id} is dead (its process {pid} is gone); continue it with `lodo-tui --resume \
             {checkpoints}`"
        ),
        Liveness::Dead {
            last_checkpoint: None,
            finished: false,
        } => format!(
            "run {id} is dead (its process {pid} is gone) and left no checkpoint in {checkpoints}; \
             start it again"
        ),
        Liveness::NotAnswering => format!(
            "run {} (pid {}) does not answer on {}",
            listed.info.id,
            listed.info.pid,
            listed.info.socket.display()
        ),
        Liveness::Live => format!("run {} is live", listed.info.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_root_follows_flag_then_variable_then_xdg_then_home() {
        let all = env(&[
            (RUNS_DIR_ENV, "/v"),
            ("XDG_STATE_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        let r = |cli: Option<&str>, get| resolve_root(cli.map(Path::new), get).unwrap();
        assert_eq!(r(Some("/c"), &all), PathBuf::from("/c"));
        assert_eq!(r(None, &all), PathBuf::from("/v"));
        let xdg = env(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(r(None, &xdg), PathBuf::from("/x/lodo-tui/runs"));
        // A relative XDG_STATE_HOME is ignored, as the XDG spec says; empty values are unset.
        let relative = env(&[
            (RUNS_DIR_ENV, ""),
            ("XDG_STATE_HOME", "rel"),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            r(None, &relative),
            PathBuf::from("/h/.local/state/lodo-tui/runs")
        );
        let e = resolve_root(None, env(&[])).unwrap_err().to_string();
        assert!(e.contains("--runs-dir"), "{e}");
    }

    #[test]
    fn the_root_is_made_private_and_a_shared_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("a/b/runs");
        private_dir(&root).unwrap();
        assert_eq!(fs::metadata(&root).unwrap().mode() & 0o777, 0o700);
        fs::set_permissions(&root, fs::Permissions::from_mode(0o777)).unwrap();
        let e = format!("{:#}", private_dir(&root).unwrap_err());
        assert!(
            e.contains("can be written by other users (mode 777)"),
            "{e}"
        );
        let file = tmp.path().join("f");
        fs::write(&file, "").unwrap();
        assert!(private_dir(&file).is_err());
    }

    #[test]
    fn ids_are_preset_date_and_the_smallest_free_number() {
        let tmp = tempfile::tempdir().unwrap();
        // 2026-12-03 00:00:00 UTC is 1,796,256,000 s after the epoch (20,790 days × 86,400).
        let t = UNIX_EPOCH + Duration::from_secs(20_790 * 86_400 + 3600);
        let a = RunDir::claim(tmp.path(), "quadratic", t).unwrap();
        let b = RunDir::claim(tmp.path(), "quadratic", t).unwrap();
        assert_eq!(a.id, "quadratic-20261203-1");
        assert_eq!(b.id, "quadratic-20261203-2");
        fs::remove_dir(&a.path).unwrap();
        let c = RunDir::claim(tmp.path(), "presets/my run.ron", t).unwrap();
        assert_eq!(c.id, "my_run-20261203-1");
        let d = RunDir::claim(tmp.path(), "quadratic", t).unwrap();
        assert_eq!(d.id, "quadratic-20261203-1");
        assert_eq!(fs::metadata(&d.path).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped yet: it has exited but stays in the process table.
        let start = std::time::Instant::now();
        while !zombie(pid) {
            assert!(start.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!process_alive(pid));
        child.wait().unwrap();
        assert!(process_alive(std::process::id()));
    }

    #[test]
    fn dates_are_utc_civil_dates() {
        // Known answers: the epoch, the leap day of 2000, and the last day of 1999.
        let day = |d: u64| yyyymmdd(UNIX_EPOCH + Duration::from_secs(d * 86_400));
        assert_eq!(day(0), "19700101");
        assert_eq!(day(11_016), "20000229");
        assert_eq!(day(10_956), "19991231");
    }

    #[test]
    fn concurrent_claims_get_distinct_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let now = SystemTime::now();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let root = root.clone();
                std::thread::spawn(move || RunDir::claim(&root, "q", now).unwrap().id)
            })
            .collect();
        let mut ids: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 8);
    }

    #[test]
    fn a_long_run_directory_puts_its_socket_elsewhere() {
        let tmp = tempfile::tempdir().unwrap();
        let short = RunDir::claim(tmp.path(), "q", SystemTime::now()).unwrap();
        assert_eq!(short.socket().unwrap(), short.path.join("sock"));
        let deep = tmp.path().join("d".repeat(100));
        fs::create_dir(&deep).unwrap();
        let long = RunDir::claim(&deep, "q", SystemTime::now()).unwrap();
        let socket = long.socket().unwrap();
        assert!(socket.as_os_str().len() <= MAX_SOCKET_PATH);
        assert!(!socket.starts_with(&long.path));
        let parent = socket.parent().unwrap();
        assert_eq!(fs::metadata(parent).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn run_json_round_trips_privately_and_a_dead_run_names_its_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RunDir::claim(tmp.path(), "q", SystemTime::now()).unwrap();
        fs::create_dir(dir.checkpoints()).unwrap();
        let info = RunInfo {
            id: dir.id.clone(),
            // No process has this pid: Linux pids stay below 2^22.
            pid: 1 << 30,
            preset: "quadratic".into(),
            task_title: "quadratic".into(),
            started: 1.5,
            argv: vec!["--preset".into(), "quadratic".into()],
            socket: dir.socket().unwrap(),
            record: Some(dir.record()),
            checkpoint_dir: dir.checkpoints(),
            log: dir.log(),
            started_as: StartedAs::Detached,
        };
        dir.write_info(&info).unwrap();
        assert_eq!(fs::metadata(dir.info_path()).unwrap().mode() & 0o777, 0o600);
        assert_eq!(dir.read_info().unwrap(), info);
        let found = find(tmp.path(), &dir.id).unwrap();
        assert_eq!(
            found.liveness,
            Liveness::Dead {
                last_checkpoint: None,
                finished: false
            }
        );
        assert!(how_to_continue(&found).contains("left no checkpoint"));
        let ck = dir
            .checkpoints()
            .join("quadratic-seed0-abcdef-step00000010.ckpt");
        fs::write(&ck, b"x").unwrap();
        let found = find(tmp.path(), &dir.id).unwrap();
        assert_eq!(
            found.liveness,
            Liveness::Dead {
                last_checkpoint: Some(ck.clone()),
                finished: false
            }
        );
        assert!(
            how_to_continue(&found).contains(&format!("--resume {}", dir.checkpoints().display()))
        );
        assert_eq!(found.liveness.label(), "dead");
        // A record that ends with its summary: the run finished rather than died.
        fs::write(
            dir.record(),
            "{\"type\":\"event\"}\n{\"type\":\"summary\",\"lanes\":[],\"elapsed_s\":1.0}\n",
        )
        .unwrap();
        let found = find(tmp.path(), &dir.id).unwrap();
        assert_eq!(
            found.liveness,
            Liveness::Dead {
                last_checkpoint: Some(ck),
                finished: true
            }
        );
        assert_eq!(found.liveness.label(), "ended");
        let told = how_to_continue(&found);
        assert!(
            told.contains("has ended") && told.contains("lodo-tui view"),
            "{told}"
        );
        // Cut short after its summary, by a kill while appending: dead again.
        fs::write(
            dir.record(),
            "{\"type\":\"summary\",\"lanes\":[],\"elapsed_s\":1.0}\n{\"type\":\"ev",
        )
        .unwrap();
        assert_eq!(find(tmp.path(), &dir.id).unwrap().liveness.label(), "dead");
        assert!(most_recent_live(tmp.path()).is_err());
        assert!(find(tmp.path(), "nope").is_err());
        assert!(find(tmp.path(), "../x").is_err());
    }
}
