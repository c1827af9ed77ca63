//! A run served on its socket, seen from outside: attaching, detaching, several viewers, slow
//! and hostile peers. The quadratic preset is deterministic for a given seed, so a run disturbed
//! by anything a viewer can do must produce bit-identical losses to an undisturbed one.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};
use std::time::{Duration, Instant};

use lodo_tui::optim::{LodoStats, OptimizerSpec, StepStats};
use lodo_tui::preset::Preset;
use lodo_tui::run::protocol::{
    self, Hello, MAX_TO_SERVER, MAX_TO_VIEWER, Reply, ToServer, ToViewer, VERSION,
};
use lodo_tui::run::{connect, serve};
use lodo_tui::task::TaskKind;
use lodo_tui::train::{
    Command, EventKind, LaneStatus, Msg, RunState, StartInfo, StepRecord, TrainerConfig,
    TrainerHandle, spawn,
};
use rand::{Rng, SeedableRng};

/// A 0700 directory for a socket, as a run directory is.
fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn quadratic(steps: u64, paused: bool) -> TrainerConfig {
    let mut preset = Preset::load("quadratic").unwrap();
    preset.max_steps = Some(steps);
    preset.pace = None;
    let mut config = TrainerConfig::new(preset);
    config.threads = Some(1);
    config.start_paused = paused;
    config
}

/// Reads messages until `until` holds for one (panics after 60 s of silence).
fn read_until(h: &TrainerHandle, mut until: impl FnMut(&Msg) -> bool) -> Vec<Msg> {
    let mut seen = Vec::new();
    loop {
        let msg = h
            .messages
            .recv_timeout(Duration::from_secs(60))
            .expect("no message for 60 s");
        let done = until(&msg);
        seen.push(msg);
        if done {
            return seen;
        }
    }
}

fn reaches(step: u64) -> impl FnMut(&Msg) -> bool {
    move |m| matches!(m, Msg::Steps(r) if r.iter().any(|r| r.step >= step))
}

fn steps(msgs: &[Msg]) -> Vec<(usize, u64, u32)> {
    msgs.iter()
        .filter_map(|m| match m {
            Msg::Steps(r) => Some(r.iter().map(|r| (r.lane, r.step, r.loss.to_bits()))),
            _ => None,
        })
        .flatten()
        .collect()
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A raw connection that has said hello; returns it with the server's reply.
fn hello(socket: &Path, version: u32) -> (UnixStream, Reply) {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let hello = Hello {
        version,
        ..Hello::ours()
    };
    s.write_all(&protocol::encode(&hello, MAX_TO_SERVER).unwrap())
        .unwrap();
    let reply = protocol::read(&mut s, MAX_TO_VIEWER).unwrap();
    (s, reply)
}

/// Every frame until the server closes the connection (or 30 s pass).
fn frames_until_closed(s: &mut UnixStream) -> Vec<ToViewer> {
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut frames = Vec::new();
    while let Ok(Some(payload)) = protocol::read_frame(s, MAX_TO_VIEWER) {
        frames.push(protocol::decode(&payload).unwrap());
    }
    frames
}

#[test]
fn a_viewer_gets_the_history_then_the_live_stream_and_its_commands_reach_the_run() {
    let dir = private_dir();
    let socket = dir.path().join("sock");
    let (server, run) = serve(spawn(quadratic(10_000, true)).unwrap(), &socket).unwrap();
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the socket is private");
    run.send(Command::Step(20));
    let local = read_until(&run, reaches(20));

    let viewer = connect(&socket).unwrap();
    wait_for("the viewer to register", || server.viewers() == 1);
    let history = read_until(&viewer, reaches(20));
    assert!(matches!(history[0], Msg::Started(_)), "{:?}", history[0]);
    assert_eq!(
        steps(&history),
        steps(&local),
        "the history is every step so far"
    );

    viewer.send(Command::Step(5));
    let live = read_until(&viewer, reaches(25));
    let local = read_until(&run, reaches(25));
    assert_eq!(steps(&live), steps(&local)[..5].to_vec());

    drop(viewer);
    wait_for("the viewer to detach", || server.viewers() == 0);
    run.send(Command::Step(1));
    read_until(&run, reaches(26));
    drop(server);
    assert!(!socket.exists(), "dropping the server removes its socket");
    run.shutdown().unwrap();
}

#[test]
fn two_viewers_see_the_same_steps_and_quit_from_a_viewer_stops_the_run() {
    let dir = private_dir();
    let socket = dir.path().join("sock");
    let (server, run) = serve(spawn(quadratic(10_000, true)).unwrap(), &socket).unwrap();
    let a = connect(&socket).unwrap();
    let b = connect(&socket).unwrap();
    wait_for("two viewers", || server.viewers() == 2);
    a.send(Command::Step(300));
    let seen_a = read_until(&a, reaches(300));
    let seen_b = read_until(&b, reaches(300));
    let local = read_until(&run, reaches(300));
    assert_eq!(steps(&seen_a).len(), 300);
    assert_eq!(steps(&seen_a), steps(&seen_b));
    assert_eq!(steps(&seen_a), steps(&local));

    b.send(Command::Quit);
    let end = read_until(&run, |m| matches!(m, Msg::Finished(_)));
    assert!(matches!(end.last(), Some(Msg::Finished(Ok(_)))));
    // The run has ended: both viewers are told so and their streams end.
    for v in [&a, &b] {
        let rest: Vec<Msg> = v.messages.iter().collect();
        assert!(
            matches!(rest.last(), Some(Msg::Event(e)) if e.detail == "the run has ended"),
            "{:?}",
            rest.last()
        );
    }
    run.join().unwrap();
    drop(server);
}

#[test]
fn a_version_mismatch_is_a_clear_error_on_both_sides() {
    let dir = private_dir();
    let socket = dir.path().join("sock");
    let (server, run) = serve(spawn(quadratic(100, true)).unwrap(), &socket).unwrap();
    // An older or newer viewer is refused by the run, which names both versions.
    let (mut s, reply) = hello(&socket, VERSION + 1);
    let Reply::Refused { reason } = reply else {
        panic!("accepted a viewer of another version: {reply:?}")
    };
    let expected = format!(
        "this run speaks protocol {VERSION}, this lodo-tui speaks {}",
        VERSION + 1
    );
    assert!(reason.contains(&expected), "{reason}");
    assert!(
        frames_until_closed(&mut s).is_empty(),
        "and closes the connection"
    );
    assert_eq!(server.viewers(), 0);
    drop(server);
    run.shutdown().unwrap();

    // A run of another version, as this viewer sees it.
    let fake = dir.path().join("fake");
    let listener = UnixListener::bind(&fake).unwrap();
    let other = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let _: Hello = protocol::read(&mut s, MAX_TO_SERVER).unwrap();
        let welcome = Reply::Welcome {
            version: VERSION + 1,
            pid: 1,
        };
        s.write_all(&protocol::encode(&welcome, MAX_TO_VIEWER).unwrap())
            .unwrap();
    });
    let err = format!("{:#}", connect(&fake).err().unwrap());
    let expected = format!(
        "this run speaks protocol {}, this lodo-tui speaks {VERSION}: attach with the lodo-tui \
         that started it",
        VERSION + 1
    );
    assert!(err.contains(&expected), "{err}");
    other.join().unwrap();
}

#[test]
fn strangers_and_garbage_are_refused_and_the_run_goes_on() {
    let dir = private_dir();
    let socket = dir.path().join("sock");
    let (server, run) = serve(spawn(quadratic(1_000, true)).unwrap(), &socket).unwrap();

    // Not our protocol.
    let mut s = UnixStream::connect(&socket).unwrap();
    let stranger = Hello {
        protocol: "http".into(),
        version: VERSION,
        system: false,
    };
    s.write_all(&protocol::encode(&stranger, MAX_TO_SERVER).unwrap())
        .unwrap();
    let reply: Reply = protocol::read(&mut s, MAX_TO_VIEWER).unwrap();
    assert!(matches!(&reply, Reply::Refused { reason } if reason.contains("\"http\"")));

    // Bare garbage instead of a hello.
    let mut s = UnixStream::connect(&socket).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let reply: Reply = protocol::read(&mut s, MAX_TO_VIEWER).unwrap();
    assert!(matches!(&reply, Reply::Refused { reason } if reason.contains("expected a hello")));

    // A welcome, then garbage or an oversized frame: the connection is closed at once.
    for junk in [b"\x05\0\0\0hello".to_vec(), u32::MAX.to_le_bytes().to_vec()] {
        let (mut s, reply) = hello(&socket, VERSION);
        assert!(matches!(reply, Reply::Welcome { .. }), "{reply:?}");
        s.write_all(&junk).unwrap();
        let began = Instant::now();
        frames_until_closed(&mut s);
        assert!(began.elapsed() < Duration::from_secs(10), "not closed");
    }
    wait_for("the refused viewers to be gone", || server.viewers() == 0);

    // A command that would exhaust memory is refused with a note; the run still obeys others.
    let (mut s, _) = hello(&socket, VERSION);
    let huge = ToServer::Command(Command::Generate { count: usize::MAX });
    s.write_all(&protocol::encode(&huge, MAX_TO_SERVER).unwrap())
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    loop {
        let frame: ToViewer = protocol::read(&mut s, MAX_TO_VIEWER).unwrap();
        if let ToViewer::Note(note) = frame {
            assert!(note.contains("at most 64 samples"), "{note}");
            break;
        }
    }
    run.send(Command::Step(3));
    read_until(&run, reaches(3));
    drop(server);
    run.shutdown().unwrap();
}

#[test]
fn attaching_fails_clearly_when_nobody_listens_or_nobody_answers() {
    let dir = private_dir();
    let missing = dir.path().join("gone.sock");
    let err = format!("{:#}", connect(&missing).err().unwrap());
    let expected = format!(
        "no run is listening on {}: is it still running? `lodo-tui ps` lists runs",
        missing.display()
    );
    assert_eq!(err, expected);

    let silent = dir.path().join("silent.sock");
    let listener = UnixListener::bind(&silent).unwrap();
    let began = Instant::now();
    let err = format!("{:#}", connect(&silent).err().unwrap());
    assert!(err.contains("no answer within 5 s"), "{err}");
    assert!(err.contains(&*silent.to_string_lossy()), "{err}");
    assert!(began.elapsed() < Duration::from_secs(30));
    drop(listener);
}

#[test]
fn serving_replaces_only_a_stale_socket_of_ours() {
    let dir = private_dir();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    let err = serve(spawn(quadratic(10, true)).unwrap(), &file)
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("is not a socket"), "{err:#}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

    let socket = dir.path().join("sock");
    drop(UnixListener::bind(&socket).unwrap());
    assert!(socket.exists(), "a stale socket of a dead run");
    let (server, run) = serve(spawn(quadratic(10, true)).unwrap(), &socket).unwrap();
    let err = serve(spawn(quadratic(10, true)).unwrap(), &socket)
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("already listening"), "{err:#}");
    connect(&socket).unwrap();
    drop(server);
    run.shutdown().unwrap();
}

#[test]
fn a_viewer_that_never_reads_does_not_hold_up_the_run_and_is_dropped() {
    let dir = private_dir();
    let socket = dir.path().join("sock");
    let mut config = quadratic(100_000_000, false);
    // Evaluations are messages that cannot be thinned: they pile up for a stuck viewer.
    config.preset.eval_interval = 10;
    let (server, run) = serve(spawn(config).unwrap(), &socket).unwrap();
    let (mut stuck, reply) = hello(&socket, VERSION);
    assert!(matches!(reply, Reply::Welcome { .. }));
    wait_for("the viewer to register", || server.viewers() == 1);
    let began = Instant::now();
    let mut last = 0;
    let mut progress = Vec::new();
    while server.viewers() == 1 {
        assert!(began.elapsed() < Duration::from_secs(60), "never dropped");
        let seen = read_until(&run, |m| matches!(m, Msg::Steps(_)));
        last = steps(&seen).last().map_or(last, |s| s.1);
        progress.push((began.elapsed(), last));
    }
    let dropped_after = began.elapsed();
    // Training went on all along: steps kept coming in every second of the viewer's stall.
    for second in 1..dropped_after.as_secs() {
        let at = |t: u64| {
            progress
                .iter()
                .rev()
                .find(|(e, _)| e.as_secs() < t)
                .map_or(0, |p| p.1)
        };
        assert!(
            at(second + 1) > at(second),
            "stalled in second {second}: {progress:?}"
        );
    }
    eprintln!("stuck viewer dropped after {dropped_after:?}, at step {last}");
    let frames = frames_until_closed(&mut stuck);
    let goodbye = frames.iter().find_map(|f| match f {
        ToViewer::Goodbye(reason) => Some(reason.clone()),
        _ => None,
    });
    let goodbye = goodbye.expect("a goodbye");
    assert!(goodbye.contains("could not keep up"), "{goodbye}");
    drop(server);
    run.shutdown().unwrap();
}

/// Throws everything a broken or hostile viewer could send at a run's socket.
fn fuzz(socket: PathBuf, seed: u64, stop: Arc<AtomicBool>) -> usize {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut attacks = 0;
    while !stop.load(Ordering::SeqCst) {
        attacks += 1;
        let Ok(mut s) = UnixStream::connect(&socket) else {
            continue;
        };
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let garbage: Vec<u8> = (0..rng.gen_range(0..2_000)).map(|_| rng.r#gen()).collect();
        let hello = protocol::encode(&Hello::ours(), MAX_TO_SERVER).unwrap();
        let _ = match rng.gen_range(0..8) {
            // Bare garbage, then an abrupt close.
            0 => s.write_all(&garbage),
            // A valid hello followed by garbage.
            1 => s.write_all(&hello).and_then(|()| s.write_all(&garbage)),
            // A huge length prefix.
            2 => s.write_all(&hello).and_then(|()| {
                let len = rng.gen_range(MAX_TO_SERVER as u32 + 1..=u32::MAX);
                s.write_all(&len.to_le_bytes())
            }),
            // A truncated frame.
            3 => s.write_all(&hello).and_then(|()| {
                s.write_all(&1_000u32.to_le_bytes())?;
                s.write_all(&garbage[..garbage.len().min(999)])
            }),
            // Half a hello.
            4 => s.write_all(&hello[..rng.gen_range(0..hello.len())]),
            // Frames that look like commands but are not.
            5 => s.write_all(&hello).and_then(|()| {
                let text = format!("Command(Step({}", rng.r#gen::<u32>());
                let mut frame = (text.len() as u32).to_le_bytes().to_vec();
                frame.extend(text.as_bytes());
                s.write_all(&frame)
            }),
            // A flood of well-formed commands the run must refuse or find harmless: no lane 99,
            // a non-finite pace factor, billions of samples.
            6 => s.write_all(&hello).and_then(|()| {
                for i in 0..300 {
                    let command = match i % 3 {
                        0 => Command::SetLr {
                            lane: 99,
                            value: 1.0,
                        },
                        1 => Command::ScalePace { factor: f64::NAN },
                        _ => Command::Generate { count: usize::MAX },
                    };
                    let frame = protocol::encode(&ToServer::Command(command), MAX_TO_SERVER);
                    s.write_all(&frame.unwrap())?;
                }
                Ok(())
            }),
            // Read a little of the stream, then vanish mid-frame.
            _ => s.write_all(&hello).and_then(|()| {
                let mut buf = vec![0u8; rng.gen_range(1..100_000)];
                s.read(&mut buf).map(drop)
            }),
        };
        if rng.gen_bool(0.5) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    attacks
}

#[test]
fn random_bytes_at_the_socket_leave_the_losses_bit_identical() {
    let steps_of = |config: TrainerConfig, socket: Option<&Path>| {
        let (server, run) = match socket {
            Some(socket) => {
                let (server, run) = serve(spawn(config).unwrap(), socket).unwrap();
                (Some(server), run)
            }
            None => (None, spawn(config).unwrap()),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let fuzzers: Vec<_> = socket
            .into_iter()
            .flat_map(|s| (0..4).map(move |seed| (s.to_path_buf(), seed)))
            .map(|(socket, seed)| {
                let stop = stop.clone();
                std::thread::spawn(move || fuzz(socket, seed, stop))
            })
            .collect();
        let seen = read_until(&run, |m| matches!(m, Msg::Finished(_)));
        stop.store(true, Ordering::SeqCst);
        let attacks: usize = fuzzers.into_iter().map(|f| f.join().unwrap()).sum();
        run.join().unwrap();
        if let Some(server) = &server {
            // Still attachable once the run has ended: the history, then a goodbye.
            let late = connect(server.socket()).unwrap();
            let rest: Vec<Msg> = late.messages.iter().collect();
            assert!(matches!(rest.first(), Some(Msg::Started(_))));
            assert!(rest.iter().any(|m| matches!(m, Msg::Finished(Ok(_)))));
        }
        (steps(&seen), attacks)
    };
    // 1,500 steps a second: a few seconds of attack on a run that is really training.
    let config = || {
        let mut c = quadratic(4_000, false);
        c.pace = Some(1_500.0);
        c
    };
    let (undisturbed, _) = steps_of(config(), None);
    let dir = private_dir();
    let (disturbed, attacks) = steps_of(config(), Some(&dir.path().join("sock")));
    eprintln!("{attacks} attacks on a {}-step run", disturbed.len());
    assert_eq!(undisturbed.len(), 4_000);
    assert!(attacks > 100, "only {attacks} attacks");
    assert!(
        undisturbed == disturbed,
        "the losses differ from step {:?}",
        undisturbed
            .iter()
            .zip(&disturbed)
            .find(|(a, b)| a != b)
            .map(|p| p.0.1)
    );
}

fn record(step: u64) -> StepRecord {
    StepRecord {
        lane: 0,
        step,
        grad_evals: Some(2 * step),
        t: step as f64 * 1e-4,
        optimizer: "lodo".into(),
        loss: 1.0 / step as f32,
        stats: StepStats {
            step_norm: 0.1,
            grad_norm: 1.0,
            cos_step_neg_grad: 0.9,
            effective_lr: 0.1,
            lodo: Some(LodoStats {
                hypergrad_norm: 1e-3,
                layer_hypergrad_norms: vec![1e-4; 4],
                rel_meta_step: 1e-5,
            }),
        },
    }
}

#[test]
fn attaching_to_a_million_step_run_sends_a_bounded_history() {
    // A stand-in trainer whose history is a million LODO steps.
    let (cmd_tx, _cmd_rx) = channel();
    let (msg_tx, msg_rx) = sync_channel(16);
    let dir = private_dir();
    let handle = TrainerHandle::new(cmd_tx, msg_rx, None);
    let (server, run) = serve(handle, &dir.path().join("sock")).unwrap();
    let feeder = std::thread::spawn(move || {
        msg_tx
            .send(Msg::Started(StartInfo {
                preset: "quadratic".into(),
                task: TaskKind::Quadratic,
                task_title: "quadratic".into(),
                n_params: 100,
                seed: 0,
                batch_size: None,
                max_steps: None,
                eval_interval: 100,
                pace: None,
                alternatives: vec![],
                lanes: vec![LaneStatus {
                    lane: 0,
                    optimizer: OptimizerSpec::named("lodo"),
                    step: 0,
                    state: RunState::Running,
                    summary: vec![],
                }],
                face: None,
            }))
            .unwrap();
        for start in (0..1_000_000).step_by(1_000) {
            let batch = (start + 1..=start + 1_000).map(record).collect();
            msg_tx.send(Msg::Steps(batch)).unwrap();
        }
        msg_tx
    });
    read_until(&run, reaches(1_000_000));
    let msg_tx = feeder.join().unwrap();

    let began = Instant::now();
    let viewer = connect(server.socket()).unwrap();
    let history = read_until(&viewer, reaches(1_000_000));
    let ready = began.elapsed();
    let kept = steps(&history).len();
    eprintln!("attached to 1,000,000 steps in {ready:?}: {kept} steps in the history");
    assert!(kept <= 16_385, "{kept} steps sent");
    assert_eq!(steps(&history).last().map(|s| s.1), Some(1_000_000));

    // The live stream follows the history.
    msg_tx
        .send(Msg::Event(lodo_tui::train::Event {
            lane: None,
            step: 1_000_000,
            t: 100.0,
            kind: EventKind::Info,
            detail: "live".into(),
        }))
        .unwrap();
    read_until(
        &viewer,
        |m| matches!(m, Msg::Event(e) if e.detail == "live"),
    );
    drop(msg_tx);
    drop(server);
}

#[test]
fn connections_beyond_the_limit_are_refused_with_a_reason() {
    let dir = private_dir();
    let socket = dir.path().join("sock");
    let (server, run) = serve(spawn(quadratic(100, true)).unwrap(), &socket).unwrap();
    // Connections that never say hello each hold a place until the handshake times out.
    let silent: Vec<UnixStream> = (0..lodo_tui::run::server::MAX_CONNECTIONS)
        .map(|_| UnixStream::connect(&socket).unwrap())
        .collect();
    let mut refused = None;
    wait_for("a refusal", || {
        let mut s = UnixStream::connect(&socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        refused = protocol::read::<Reply>(&mut s, MAX_TO_VIEWER).ok();
        refused.is_some()
    });
    let Some(Reply::Refused { reason }) = refused else {
        panic!("{refused:?}")
    };
    assert!(reason.contains("already serves 64 connections"), "{reason}");
    drop(silent);
    // Their places free up: a viewer attaches again.
    wait_for("a place", || connect(&socket).is_ok());
    drop(server);
    run.shutdown().unwrap();
}

/// Viewers that ask get the run process's readings about once a second, busy training showing
/// as CPU use; a viewer whose hello does not ask (as before the field existed) gets none.
#[cfg(target_os = "linux")]
#[test]
fn system_readings_go_to_the_viewers_that_ask_for_them() {
    let dir = private_dir();
    let socket = dir.path().join("sock");
    let (server, run) = serve(spawn(quadratic(u64::MAX / 2, false)).unwrap(), &socket).unwrap();
    let mut old = UnixStream::connect(&socket).unwrap();
    let hello = Hello {
        system: false,
        ..Hello::ours()
    };
    old.write_all(&protocol::encode(&hello, MAX_TO_SERVER).unwrap())
        .unwrap();
    let reply: Reply = protocol::read(&mut old, MAX_TO_VIEWER).unwrap();
    assert!(matches!(reply, Reply::Welcome { .. }), "{reply:?}");
    let viewer = connect(&socket).unwrap();
    let mut readings = Vec::new();
    let until = Instant::now() + Duration::from_millis(3_500);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match viewer.messages.recv_timeout(left) {
            Ok(Msg::System(s)) => readings.push(s),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert!(
        (2..=5).contains(&readings.len()),
        "{} readings in 3.5 s",
        readings.len()
    );
    let last = readings.last().unwrap();
    assert!(last.cpu_percent.is_some_and(|c| c > 0.0), "{last:?}");
    assert!(
        last.threads.is_some_and(|n| n >= 3),
        "trainer, hub, server: {last:?}"
    );
    assert!(last.rss_bytes.is_some() && last.load1.is_some(), "{last:?}");
    // The old-style viewer: frames from the whole time, none of them a reading.
    old.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut frames = 0;
    while let Ok(Some(payload)) = protocol::read_frame(&mut old, MAX_TO_VIEWER) {
        let frame: ToViewer = protocol::decode(&payload).unwrap();
        assert!(
            !matches!(frame, ToViewer::Msg(Msg::System(_))),
            "an old viewer got {frame:?}"
        );
        frames += 1;
        if frames > 2_000 {
            break;
        }
    }
    assert!(frames > 0);
    viewer.detach();
    run.send(Command::Quit);
    run.join().unwrap();
    drop(server);
}
