//! One viewer's connection on the server side: the handshake, a reader turning frames into the
//! trainer's commands, and a writer sending the history and then the live stream.
//!
//! Anything wrong with what a viewer sends (garbage, a truncated or oversized frame, a stranger's
//! uid, another protocol version) closes that connection and touches nothing else.

use std::io::{BufWriter, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::train::Command;

use super::admit::{self, RateLimit};
use super::hub::{Hub, Joined, snapshot_frames};
use super::protocol::{
    self, Hello, MAX_TO_SERVER, MAX_TO_VIEWER, PROTOCOL, Reply, ToServer, VERSION,
};

/// A viewer must say hello within this time, or it is closed.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// A write that cannot proceed for this long ends the connection. Longer than the hub's
/// `STUCK_LIMIT`, so the hub decides when a slow viewer is dropped and it still gets its goodbye
/// if it reads again; this only frees the thread of a viewer stuck while the run is quiet.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves one accepted connection until it closes. Runs on its own thread.
pub fn serve(stream: UnixStream, hub: &Hub, commands: &Sender<Command>, n: u64) {
    let Ok(hello) = handshake(&stream) else {
        return;
    };
    let Ok(writer_stream) = stream.try_clone() else {
        return;
    };
    let Ok(hub_stream) = stream.try_clone() else {
        return;
    };
    let joined = hub.join(hub_stream, hello.system);
    let id = joined.id;
    let writer = std::thread::Builder::new()
        .name(format!("lodo-viewer-{n}-out"))
        .spawn(move || write_stream(writer_stream, joined));
    if writer.is_ok() {
        read_commands(&stream, hub, id, commands);
    }
    hub.leave(id);
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// The uid of the process at the other end of `stream`.
fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of `len` bytes, as SO_PEERCRED requires.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(cred.uid)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Checks the peer and its hello, and welcomes it or says why not.
fn handshake(stream: &UnixStream) -> Result<Hello> {
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let own = unsafe { libc::geteuid() };
    let verdict = admit::peer(peer_uid(stream)?, own).and_then(|()| {
        let hello: Hello = protocol::read(&mut &*stream, MAX_TO_SERVER)
            .map_err(|e| format!("expected a hello: {e:#}"))?;
        if hello.protocol != PROTOCOL {
            return Err(format!(
                "this is a lodo-tui run, not a {:?} server",
                hello.protocol
            ));
        }
        if hello.version != VERSION {
            return Err(protocol::version_mismatch(VERSION, hello.version));
        }
        Ok(hello)
    });
    let reply = match &verdict {
        Ok(_) => Reply::Welcome {
            version: VERSION,
            pid: std::process::id(),
        },
        Err(reason) => Reply::Refused {
            reason: reason.clone(),
        },
    };
    protocol::write_frame(&mut &*stream, &protocol::encode(&reply, MAX_TO_VIEWER)?)?;
    stream.set_read_timeout(None)?;
    match verdict {
        Ok(hello) => Ok(hello),
        Err(reason) => bail!(reason),
    }
}

/// Tells a connection it will not be served, without reading from it.
pub fn refuse(stream: &UnixStream, reason: &str) {
    let reply = Reply::Refused {
        reason: reason.to_string(),
    };
    if let Ok(frame) = protocol::encode(&reply, MAX_TO_VIEWER) {
        let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
        let _ = protocol::write_frame(&mut &*stream, &frame);
    }
}

/// Turns the viewer's frames into commands until it detaches, hangs up or sends garbage.
fn read_commands(stream: &UnixStream, hub: &Hub, id: u64, commands: &Sender<Command>) {
    let mut limit = RateLimit::starting(Instant::now());
    let mut told = false;
    let mut reader = std::io::BufReader::new(stream);
    loop {
        let Ok(Some(payload)) = protocol::read_frame(&mut reader, MAX_TO_SERVER) else {
            return;
        };
        let command = match protocol::decode::<ToServer>(&payload) {
            Ok(ToServer::Command(command)) => command,
            Ok(ToServer::Detach) | Err(_) => return,
        };
        if !limit.allow(Instant::now()) {
            if !std::mem::replace(&mut told, true) {
                let rate = admit::COMMANDS_PER_S;
                hub.note(
                    id,
                    format!("too many commands: more than {rate} a second are dropped"),
                );
            }
            continue;
        }
        told = false;
        match admit::command(&command) {
            Ok(()) => {
                let _ = commands.send(command);
            }
            Err(reason) => hub.note(id, format!("command refused: {reason}")),
        }
    }
}

/// Sends the history, then every queued frame, then the goodbye, then closes the connection.
fn write_stream(stream: UnixStream, joined: Joined) {
    let Joined {
        snapshot,
        queue,
        farewell,
        ..
    } = joined;
    let mut out = BufWriter::with_capacity(1 << 16, &stream);
    let sent = (|| -> std::io::Result<()> {
        for frame in snapshot_frames(&snapshot) {
            out.write_all(&frame)?;
        }
        drop(snapshot);
        out.flush()?;
        for frame in queue.iter() {
            out.write_all(&frame)?;
            // Everything queued is written before waiting again, so a burst costs one flush.
            while let Ok(frame) = queue.try_recv() {
                out.write_all(&frame)?;
            }
            out.flush()?;
        }
        let last = farewell.lock().ok().and_then(|mut f| f.take());
        if let Some(frame) = last {
            out.write_all(&frame)?;
        }
        out.flush()
    })();
    drop(sent);
    drop(out);
    let _ = stream.shutdown(std::net::Shutdown::Both);
}
