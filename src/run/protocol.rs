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
    /// The viewer wants `Msg::System` readings (about one a second). Added within version 1: a
    /// server that predates it ignores the field and sends none, and a viewer that predates it
    /// is sent none, so neither end meets a message it cannot read.
    #[serde(default)]
    pub system: bool,
}

impl Hello {
    pub fn ours() -> Self {
        Self {
            protocol: PROTOCOL.to_string(),
            version: VERSION,
            system: true,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::StepStats;
    use crate::schema::LaneSummary;
    use crate::train::{StepRecord, Summary};

    fn frame_payload(frame: &[u8]) -> &[u8] {
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        assert_eq!(frame.len(), 4 + len, "the prefix counts the payload");
        &frame[4..]
    }

    #[test]
    fn floats_cross_the_wire_bit_exactly() {
        let specials32 = [
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN_POSITIVE,
            f32::from_bits(1), // the smallest subnormal
            -0.0,
            0.1,
            1.0 / 3.0,
        ];
        let records: Vec<StepRecord> = specials32
            .iter()
            .enumerate()
            .map(|(i, &x)| StepRecord {
                lane: 0,
                step: i as u64 + 1,
                grad_evals: None,
                t: f64::from_bits(1) * i as f64,
                optimizer: "lodo".into(),
                loss: x,
                stats: StepStats {
                    step_norm: x,
                    ..StepStats::default()
                },
            })
            .collect();
        let summary = Summary {
            lanes: vec![LaneSummary {
                lane: 0,
                optimizer: "adam".into(),
                steps: 3,
                grad_evals: None,
                final_loss: f32::INFINITY,
                best_loss: -f32::NAN,
                steps_per_s: f64::NEG_INFINITY,
                diverged: true,
                metrics: [("hessian_error".to_string(), f64::NAN)].into(),
                mean_loss_last_10pct: f32::from_bits(1),
                task_ms_median: f64::MAX,
                optimizer_ms_median: f64::MIN_POSITIVE,
            }],
            elapsed_s: 1e-300,
            lost: vec![],
        };
        for msg in [Msg::Steps(records), Msg::Finished(Ok(summary))] {
            let frame = encode(&ToViewer::Msg(&msg), MAX_TO_VIEWER).unwrap();
            let back: ToViewer = decode(frame_payload(&frame)).unwrap();
            let ToViewer::Msg(back) = back else {
                panic!("not a message: {back:?}")
            };
            // Compared as bit patterns: `==` would call NaN unequal to itself and -0 equal to 0.
            assert_eq!(bits(&back), bits(&msg));
        }
    }

    /// The message's floats as bit patterns (NaN payload and sign included).
    fn bits(msg: &Msg) -> Vec<u64> {
        match msg {
            Msg::Steps(records) => records
                .iter()
                .flat_map(|r| {
                    [
                        r.loss.to_bits().into(),
                        r.stats.step_norm.to_bits().into(),
                        r.t.to_bits(),
                    ]
                })
                .collect(),
            Msg::Finished(Ok(s)) => s
                .lanes
                .iter()
                .flat_map(|l| {
                    [
                        l.final_loss.to_bits().into(),
                        l.best_loss.to_bits().into(),
                        l.steps_per_s.to_bits(),
                        l.metrics["hessian_error"].to_bits(),
                        l.mean_loss_last_10pct.to_bits().into(),
                        l.task_ms_median.to_bits(),
                        l.optimizer_ms_median.to_bits(),
                    ]
                })
                .chain([s.elapsed_s.to_bits()])
                .collect(),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// A reader that hands out a header and fails the test if anything more is read.
    struct HeaderOnly([u8; 4], usize);

    impl Read for HeaderOnly {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            assert!(self.1 < 4, "read past the header of an oversized frame");
            let n = (4 - self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    #[test]
    fn an_oversized_frame_is_refused_before_its_payload_is_read() {
        let header = u32::MAX.to_le_bytes();
        let err = read_frame(&mut HeaderOnly(header, 0), MAX_TO_SERVER).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("4294967295 bytes"), "{err}");
        let just_over = (MAX_TO_SERVER as u32 + 1).to_le_bytes();
        assert!(read_frame(&mut HeaderOnly(just_over, 0), MAX_TO_SERVER).is_err());
    }

    #[test]
    fn frames_round_trip_and_truncation_is_an_error() {
        let frame = encode(&ToServer::Command(Command::Step(7)), MAX_TO_SERVER).unwrap();
        let payload = read_frame(&mut &frame[..], MAX_TO_SERVER).unwrap().unwrap();
        assert_eq!(
            decode::<ToServer>(&payload).unwrap(),
            ToServer::Command(Command::Step(7))
        );
        assert!(read_frame(&mut &[][..], MAX_TO_SERVER).unwrap().is_none());
        let cut = &frame[..frame.len() - 1];
        assert!(read_frame(&mut &cut[..], MAX_TO_SERVER).is_err());
        assert!(read_frame(&mut &frame[..2], MAX_TO_SERVER).is_err());
        assert!(encode(&"x".repeat(MAX_TO_SERVER), MAX_TO_SERVER).is_err());
    }

    /// `Hello` as it was before the `system` field.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct OldHello {
        protocol: String,
        version: u32,
    }

    #[test]
    fn hellos_with_and_without_the_system_field_are_read_by_both_ends() {
        let new = encode(&Hello::ours(), MAX_TO_SERVER).unwrap();
        let old_reads_new: OldHello = decode(frame_payload(&new)).unwrap();
        assert_eq!(old_reads_new.version, VERSION);
        let old = OldHello {
            protocol: PROTOCOL.into(),
            version: VERSION,
        };
        let old = encode(&old, MAX_TO_SERVER).unwrap();
        let new_reads_old: Hello = decode(frame_payload(&old)).unwrap();
        assert!(
            !new_reads_old.system,
            "an old viewer gets no system readings"
        );
        assert!(Hello::ours().system);
    }

    #[test]
    fn a_version_mismatch_names_both_versions() {
        let text = version_mismatch(2, 1);
        assert!(text.contains("this run speaks protocol 2, this lodo-tui speaks 1"));
    }
}
