//! The wire between a run and its viewers: versioned, length-prefixed frames.
//!
//! A frame is a `u32` little-endian payload length followed by the payload. The viewer opens with
//! a [`Hello`] naming the protocol and its version; the server answers with a [`Reply`]. After
//! that the server sends [`ToViewer`] frames and the viewer sends [`ToServer`] frames. Each
//! direction has a maximum frame size, checked before anything is allocated for the payload.
//!
//! Payloads are RON, for three reasons. Floats cross bit-exactly: RON writes the shortest text
//! that reads back as the same value, and writes NaN (with its sign) and ±inf as themselves,
//! where JSON has no way to say them (`serde_json` writes `null`, and a diverged lane's losses are
//! NaN or inf). It is self-describing, so the message types' `skip_serializing_if` fields and the
//! record's NaN-tolerant readers work unchanged, which a positional format such as bincode does
//! not allow. And it is already how presets are written.

use std::io::{self, Read, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::train::{Command, Msg};

/// Names the protocol in the handshake, so a stranger talking to the socket is told apart from a
/// lodo-tui of another version.
pub const PROTOCOL: &str = "lodo-tui";
/// Changes whenever a frame's meaning changes; both ends must agree.
pub const VERSION: u32 = 1;
/// The largest frame a viewer accepts (a snapshot is sent in many frames well below this).
pub const MAX_TO_VIEWER: usize = 16 << 20;
/// The largest frame the server accepts: commands are small, so anything bigger is garbage.
pub const MAX_TO_SERVER: usize = 64 << 10;

/// The viewer's first frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: String,
    pub version: u32,
}

impl Hello {
    pub fn ours() -> Self {
        Self {
            protocol: PROTOCOL.to_string(),
            version: VERSION,
        }
    }
}

/// The server's answer to [`Hello`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    Welcome { version: u32, pid: u32 },
    Refused { reason: String },
}

/// Server → viewer. Generic so the hub can encode a borrowed message (`ToViewer<&Msg>` writes the
/// same text as `ToViewer<Msg>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToViewer<M = Msg> {
    Msg(M),
    /// Something the viewer should be told (its stream was thinned, a command was dropped).
    Note(String),
    /// The server is closing this connection, and why.
    Goodbye(String),
}

/// Viewer → server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToServer {
    Command(Command),
    /// The viewer is leaving; the run goes on.
    Detach,
}

/// Why the two ends cannot talk, in the words both sides print.
pub fn version_mismatch(run: u32, viewer: u32) -> String {
    format!(
        "this run speaks protocol {run}, this lodo-tui speaks {viewer}: attach with the lodo-tui \
         that started it"
    )
}

fn options() -> ron::Options {
    // `Option` fields read from a bare value too: the record's NaN-tolerant readers deserialize
    // an `f32` field as `Option<f32>`.
    ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
}

/// A whole frame (length prefix and payload) for `value`, or an error if it exceeds `max`.
pub fn encode<T: Serialize>(value: &T, max: usize) -> anyhow::Result<Vec<u8>> {
    let mut frame = vec![0u8; 4];
    options().to_io_writer(&mut frame, value)?;
    let len = frame.len() - 4;
    if len > max {
        anyhow::bail!("a frame of {len} bytes exceeds the limit of {max}");
    }
    frame[..4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(frame)
}

/// The value in a frame's payload.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> anyhow::Result<T> {
    Ok(options().from_bytes(payload)?)
}

/// Writes a frame made by [`encode`].
pub fn write_frame(w: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    w.write_all(frame)?;
    w.flush()
}

/// Reads one frame's payload; `None` when the peer closed the connection between frames. A
/// length above `max` is an error before any payload is read or allocated.
pub fn read_frame(r: &mut impl Read, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < header.len() {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(header) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes exceeds the limit of {max}"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// Reads and decodes one frame; end of stream is an error here (the caller expected a frame).
pub fn read<T: DeserializeOwned>(r: &mut impl Read, max: usize) -> anyhow::Result<T> {
    match read_frame(r, max)? {
        Some(payload) => decode(&payload),
        None => anyhow::bail!("the connection closed"),
    }
}
