//! Attaching to a run's socket: the viewer's end of the wire, shaped like a local trainer.
//!
//! The returned [`TrainerHandle`] behaves like one from `train::spawn`, so the dashboard cannot
//! tell a socket from a thread: its messages are the run's history and then the live stream,
//! notes from the server arrive as `Info` events, and its commands go to the run.

use std::io::{BufReader, ErrorKind};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};

use anyhow::{Context, Result, bail};

use crate::train::{Command, Event, EventKind, Msg, TrainerHandle};

use super::connection::HANDSHAKE_TIMEOUT;
use super::protocol::{
    self, Hello, MAX_TO_SERVER, MAX_TO_VIEWER, Reply, ToServer, ToViewer, VERSION,
};

/// Connects to a run's socket, does the handshake, and returns a handle whose `messages` are the
/// run's history so far (a compact snapshot) followed by the live stream, and whose `commands` go
/// to the run. `thread` is None. Dropping it detaches; sending `Command::Quit` stops the run.
pub fn connect(socket: &Path) -> Result<TrainerHandle> {
    let shown = socket.display();
    let stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        ErrorKind::NotFound | ErrorKind::ConnectionRefused => anyhow::anyhow!(
            "no run is listening on {shown}: is it still running? `lodo-tui ps` lists runs"
        ),
        _ => anyhow::Error::new(e).context(format!("cannot connect to {shown}")),
    })?;
    handshake(&stream).with_context(|| format!("cannot attach to the run on {shown}"))?;
    let reader = stream
        .try_clone()
        .with_context(|| format!("cannot set up the connection to {shown}"))?;
    let (msg_tx, msg_rx) = channel();
    let (cmd_tx, cmd_rx) = channel();
    std::thread::Builder::new()
        .name("lodo-attach-in".into())
        .spawn(move || read_stream(reader, &msg_tx))
        .context("cannot start the viewer's reader thread")?;
    std::thread::Builder::new()
        .name("lodo-attach-out".into())
        .spawn(move || write_commands(&stream, &cmd_rx))
        .context("cannot start the viewer's writer thread")?;
    Ok(TrainerHandle::new(cmd_tx, msg_rx, None))
}

fn handshake(stream: &UnixStream) -> Result<()> {
    stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT))?;
    protocol::write_frame(
        &mut &*stream,
        &protocol::encode(&Hello::ours(), MAX_TO_SERVER)?,
    )?;
    let reply: Reply = protocol::read(&mut &*stream, MAX_TO_VIEWER).map_err(|e| {
        let timed_out = e
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
        if timed_out {
            anyhow::anyhow!(
                "no answer within {} s: the socket is not a lodo-tui run's, or the run is stuck",
                HANDSHAKE_TIMEOUT.as_secs()
            )
        } else {
            e.context("the run did not answer the handshake")
        }
    })?;
    match reply {
        Reply::Welcome { version, .. } if version == VERSION => {}
        Reply::Welcome { version, .. } => bail!(protocol::version_mismatch(version, VERSION)),
        Reply::Refused { reason } => bail!("the run refused: {reason}"),
    }
    stream.set_read_timeout(None)?;
    stream.set_write_timeout(None)?;
    Ok(())
}

/// Frames in, messages out, until the run says goodbye, the connection drops or the viewer has
/// gone. A goodbye or a lost connection is shown as a last event.
fn read_stream(stream: UnixStream, messages: &Sender<Msg>) {
    let mut reader = BufReader::with_capacity(1 << 16, &stream);
    let (mut step, mut t) = (0, 0.0);
    let note = |kind, detail: String, step, t| {
        Msg::Event(Event {
            lane: None,
            step,
            t,
            kind,
            detail,
        })
    };
    loop {
        let frame = protocol::read_frame(&mut reader, MAX_TO_VIEWER)
            .map_err(anyhow::Error::from)
            .and_then(|f| f.map(|p| protocol::decode::<ToViewer>(&p)).transpose());
        let msg = match frame {
            Ok(Some(ToViewer::Msg(msg))) => {
                if let Msg::Steps(records) = &msg
                    && let Some(last) = records.last()
                {
                    (step, t) = (step.max(last.step), last.t);
                }
                msg
            }
            Ok(Some(ToViewer::Note(text))) => note(EventKind::Info, text, step, t),
            Ok(Some(ToViewer::Goodbye(reason))) => {
                let _ = messages.send(note(EventKind::Info, reason, step, t));
                break;
            }
            Ok(None) => break,
            Err(e) => {
                let detail = format!("the connection to the run was lost: {e:#}");
                let _ = messages.send(note(EventKind::Error, detail, step, t));
                break;
            }
        };
        if messages.send(msg).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Commands out until the handle is dropped, which detaches.
fn write_commands(stream: &UnixStream, commands: &Receiver<Command>) {
    for command in commands {
        let Ok(frame) = protocol::encode(&ToServer::Command(command), MAX_TO_SERVER) else {
            continue;
        };
        if protocol::write_frame(&mut &*stream, &frame).is_err() {
            return;
        }
    }
    if let Ok(frame) = protocol::encode(&ToServer::Detach, MAX_TO_SERVER) {
        let _ = protocol::write_frame(&mut &*stream, &frame);
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}
