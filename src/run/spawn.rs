//! Detached server processes: a run that must outlive the terminal it was started from is this
//! same program, re-executed with a hidden flag in a session of its own (no controlling terminal,
//! so a hang-up never reaches it), with stdin from /dev/null and its output in the run's `log`.
//! The starter waits until the run's socket accepts, or tells what went wrong from the log.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};

use super::dir::{self, RunDir};
use crate::cli::ServeAs;

/// How often the starter looks for the run's socket.
const POLL: Duration = Duration::from_millis(50);
/// How much of the log a failed start shows.
const LOG_TAIL_LINES: usize = 20;

/// A run started in the background.
#[derive(Debug)]
pub struct Started {
    pub id: String,
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub pid: u32,
    /// The server process's exit status, once it has ended (the starter reaps it).
    pub exit: mpsc::Receiver<Option<ExitStatus>>,
}

/// The command-line arguments to hand on: the user's, without `--detach` (the server process
/// serves; whether anyone attaches is the starter's business).
fn forwarded_args() -> Vec<OsString> {
    std::env::args_os()
        .skip(1)
        .filter(|a| a != "--detach")
        .collect()
}

/// Claims a run directory under `root` for `preset`, starts the server process in it and waits
/// until its socket accepts. The arguments must have been validated already: what the server
/// process still finds wrong is shown from its log.
pub fn start(root: &Path, preset: &str, serve_as: ServeAs) -> Result<Started> {
    let run = RunDir::claim(root, preset, SystemTime::now())?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(run.log())
        .with_context(|| format!("cannot create the run's log {}", run.log().display()))?;
    let exe = std::env::current_exe().context("cannot find this program to start the run")?;
    let as_flag = match serve_as {
        ServeAs::Dashboard => "dashboard",
        ServeAs::Detached => "detached",
    };
    let mut command = Command::new(exe);
    command
        .args(forwarded_args())
        .arg("--serve-run")
        .arg(&run.path)
        .args(["--serve-as", as_flag])
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("cannot share the run's log")?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe and touches nothing of the parent's.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start the server process of run {}", run.id))?;
    let pid = child.id();
    let (exit_tx, exit) = mpsc::channel();
    // Reaped here, so a finished server does not linger as a zombie that still looks alive.
    std::thread::spawn(move || {
        let _ = exit_tx.send(child.wait().ok());
    });
    loop {
        if let Ok(status) = exit.try_recv() {
            bail!(
                "run {} did not start ({}); the end of its log {}:\n{}",
                run.id,
                status.map_or("its status is unknown".to_string(), |s| s.to_string()),
                run.log().display(),
                log_tail(&run.log())
            );
        }
        if let Ok(info) = run.read_info()
            && dir::socket_accepts(&info.socket)
        {
            return Ok(Started {
                id: run.id,
                dir: run.path,
                socket: info.socket,
                pid,
                exit,
            });
        }
        std::thread::sleep(POLL);
    }
}

/// The last lines of a log, indented.
pub fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let len = file.metadata().map_or(0, |m| m.len());
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(8192)));
        let mut bytes = Vec::new();
        let _ = file.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
    if tail.is_empty() {
        return "  (empty)".to_string();
    }
    tail.iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
