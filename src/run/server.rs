//! Serving a trainer on a private Unix socket, so viewers can attach, detach and come back.
//!
//! No TCP, ever: the socket is a file in a 0700 directory, mode 0600, and every connection's
//! peer uid is checked. Watching from another machine goes through OpenSSH's socket forwarding.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustix::event::{PollFd, PollFlags, Timespec, poll};

use crate::train::{Command, TrainerHandle};

use super::connection;
use super::hub::Hub;

/// Connections being greeted or served at once; more are closed on arrival.
pub const MAX_CONNECTIONS: usize = 64;
/// How often the accepting thread looks whether the server is being dropped.
const ACCEPT_TICK: Duration = Duration::from_millis(100);

/// A run's socket server. Dropping it stops accepting, closes every viewer and removes the
/// socket file; the trainer and the in-process observer carry on.
pub struct Server {
    socket: PathBuf,
    hub: Hub,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// Serves a trainer on a Unix socket at `socket` (mode 0600; the caller made its directory 0700).
/// Returns the server and the in-process observer's handle: every message, lossless and in order
/// (the headless printer uses it; a detached server drains it), commands to the trainer, and the
/// trainer's thread, so `TrainerHandle::shutdown`/`join` work as before.
pub fn serve(handle: TrainerHandle, socket: &Path) -> Result<(Server, TrainerHandle)> {
    let listener = bind(socket)?;
    let (commands, messages, thread) = handle.into_parts();
    let (observer_tx, observer_rx) = channel();
    let hub = Hub::default();
    hub.start(messages, observer_tx)?;
    let stop = Arc::new(AtomicBool::new(false));
    let accept = {
        let (hub, stop, commands) = (hub.clone(), stop.clone(), commands.clone());
        std::thread::Builder::new()
            .name("lodo-accept".into())
            .spawn(move || accept_loop(&listener, &hub, &commands, &stop))
            .context("cannot start the socket server's thread")?
    };
    let server = Server {
        socket: socket.to_path_buf(),
        hub,
        stop,
        accept: Some(accept),
    };
    Ok((server, TrainerHandle::new(commands, observer_rx, thread)))
}

impl Server {
    /// Viewers attached now.
    pub fn viewers(&self) -> usize {
        self.hub.viewers()
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        self.hub.close_all("the run's server is shutting down");
        let _ = fs::remove_file(&self.socket);
    }
}

/// Binds a listener at `socket`, replacing only a stale socket of ours, and makes it 0600.
fn bind(socket: &Path) -> Result<UnixListener> {
    let shown = socket.display();
    match fs::symlink_metadata(socket) {
        Ok(meta) => {
            // SAFETY: geteuid has no preconditions and cannot fail.
            let own = unsafe { libc::geteuid() };
            if !meta.file_type().is_socket() || meta.uid() != own {
                bail!("{shown} exists and is not a socket of this user: not replacing it");
            }
            match UnixStream::connect(socket) {
                Ok(_) => bail!("a run is already listening on {shown}"),
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => fs::remove_file(socket)
                    .with_context(|| format!("cannot remove the stale socket {shown}"))?,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot check the socket {shown}"));
                }
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot check {shown}")),
    }
    let listener =
        UnixListener::bind(socket).with_context(|| format!("cannot listen on {shown}"))?;
    // Between bind and chmod the socket has the umask's mode; the 0700 directory around it keeps
    // everyone else out meanwhile, and the peer uid check keeps them out anyway.
    fs::set_permissions(socket, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make {shown} private"))?;
    listener
        .set_nonblocking(true)
        .with_context(|| format!("cannot set up {shown}"))?;
    Ok(listener)
}

fn accept_loop(listener: &UnixListener, hub: &Hub, commands: &Sender<Command>, stop: &AtomicBool) {
    let open = Arc::new(AtomicUsize::new(0));
    let mut n = 0u64;
    let tick = Timespec {
        tv_sec: 0,
        tv_nsec: ACCEPT_TICK.as_nanos() as _,
    };
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(listener, PollFlags::IN)];
        if poll(&mut fds, Some(&tick)).is_err() {
            continue;
        }
        while let Ok((stream, _)) = listener.accept() {
            if open.load(Ordering::SeqCst) >= MAX_CONNECTIONS
                || stream.set_nonblocking(false).is_err()
            {
                continue;
            }
            n += 1;
            open.fetch_add(1, Ordering::SeqCst);
            let (hub, commands, done) = (hub.clone(), commands.clone(), open.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("lodo-viewer-{n}"))
                .spawn(move || {
                    connection::serve(stream, &hub, &commands, n);
                    done.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                open.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}
