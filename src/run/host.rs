//! The process that owns a run: it points the run at its directory (record, checkpoints),
//! starts the trainer, serves the control socket and, once the process is ready to be signalled,
//! writes `run.json`. Both the headless
//! foreground process and the background server process of a dashboard or `--detach` run host
//! their run this way.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::dir::{RunDir, RunInfo, StartedAs, unix_now};
use super::server::{Server, serve};
use crate::record::{Open, Recorder};
use crate::train::{TrainerConfig, TrainerHandle};

/// An implicit record (in the run directory) keeps at most this many step lines per lane and
/// second of training; an explicit `--record` keeps every step. A LODO step line of the
/// quadratic preset is ~440 bytes and that preset runs tens of thousands of steps a second
/// headless: unthinned, tens of GB an hour; thinned, under 100 MB. MNIST runs take fewer steps
/// than this a second and keep them all.
pub const IMPLICIT_RECORD_STEPS_PER_S: f64 = 50.0;
/// How long a finished run keeps serving, so attached viewers get the summary before the socket
/// goes away.
const LINGER: Duration = Duration::from_secs(2);

/// A run this process serves.
pub struct Hosted {
    pub dir: RunDir,
    pub info: RunInfo,
    pub server: Server,
    /// Every message of the run, lossless and in order, and commands to its trainer.
    pub local: TrainerHandle,
}

/// The record and checkpoints of a run go to its directory unless the command line chose
/// other places.
pub fn use_run_dir(config: &mut TrainerConfig, dir: &RunDir) -> Result<()> {
    if config.record.is_none() {
        let mut recorder = Recorder::create(&dir.record(), Open::New { force: false })?;
        recorder.thin_steps(IMPLICIT_RECORD_STEPS_PER_S);
        config.record = Some(recorder);
    }
    if config.checkpoint_dir.is_none() {
        config.checkpoint_dir = Some(dir.checkpoints());
    }
    Ok(())
}

/// Starts the trainer of `config` in `dir` and serves its socket. `run.json` is not written yet:
/// [`Hosted::announce`] does, once the process has set up its signals, since whoever reads
/// `run.json` may signal the run at once.
pub fn host(
    mut config: TrainerConfig,
    dir: RunDir,
    started_as: StartedAs,
    log: Option<PathBuf>,
) -> Result<Hosted> {
    use_run_dir(&mut config, &dir)?;
    let socket = dir.socket()?;
    let info = RunInfo {
        id: dir.id.clone(),
        pid: std::process::id(),
        preset: config.preset.name.clone(),
        task_title: config.preset.task.name.to_string(),
        started: unix_now(),
        argv: user_argv(),
        socket: socket.clone(),
        record: config.record.as_ref().map(|r| absolute(r.path())),
        checkpoint_dir: absolute(
            config
                .checkpoint_dir
                .as_deref()
                .unwrap_or(&dir.checkpoints()),
        ),
        log: log.unwrap_or_else(|| dir.log()),
        started_as,
    };
    let handle = crate::train::spawn(config)?;
    let (server, local) = serve(handle, &socket)
        .with_context(|| format!("cannot serve run {} on {}", dir.id, socket.display()))?;
    Ok(Hosted {
        dir,
        info,
        server,
        local,
    })
}

impl Hosted {
    /// Writes `run.json`: from now on `ps` lists the run and `attach` and `stop` find it.
    pub fn announce(&self) -> Result<()> {
        self.dir.write_info(&self.info)
    }

    /// After the run finished: waits for the trainer thread (its end tells every viewer
    /// goodbye, after the last messages), lets the viewers take those and hang up (for at most
    /// [`LINGER`]), then stops serving.
    pub fn close(self) -> Result<()> {
        let Hosted { server, local, .. } = self;
        let joined = local.shutdown();
        let until = Instant::now() + LINGER;
        while super::peers::connections(server.socket()).unwrap_or(0) > 0 && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(server);
        joined
    }
}

/// The arguments as the user gave them (without the hidden ones a server process gets).
fn user_argv() -> Vec<String> {
    let mut out = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--serve-run" || a == "--serve-as" {
            args.next();
            continue;
        }
        out.push(a);
    }
    out
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
