//! Training speed with viewers attached: a quadratic run at full speed (no pace) served on a
//! socket, with 0, 1 and 2 viewers attached and draining their streams. The issue asks for
//! attached ≥ 0.95× of none. Rounds interleave the viewer counts so drift in the machine's load
//! hits them alike; the median of the rounds is reported.
//!
//! `cargo bench --bench runs` (`-- SECONDS ROUNDS` to change the 4 s × 3 rounds).
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use lodo_tui::preset::Preset;
use lodo_tui::run::{connect, serve};
use lodo_tui::train::{Msg, TrainerConfig, spawn};

const WARMUP: Duration = Duration::from_secs(1);

/// Steps per second of lane 0 over `span`, with `viewers` attached.
fn steps_per_s(viewers: usize, span: Duration) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut preset = Preset::load("quadratic").unwrap();
    preset.max_steps = Some(u64::MAX / 2);
    preset.pace = None;
    let mut config = TrainerConfig::new(preset);
    config.threads = Some(1);
    let socket = dir.path().join("sock");
    let (server, local) = serve(spawn(config).unwrap(), &socket).unwrap();
    let drains: Vec<_> = (0..viewers)
        .map(|_| {
            let viewer = connect(&socket).unwrap();
            std::thread::spawn(move || {
                // The whole handle, not only its receiver: dropping its command sender detaches.
                let viewer = viewer;
                let mut frames = 0u64;
                while let Ok(msg) = viewer.messages.recv() {
                    // A viewer that falls behind is told so: worth seeing next to the numbers.
                    if let Msg::Event(e) = &msg
                        && (e.detail.contains("thinned") || e.detail.contains("dropped"))
                    {
                        eprintln!("  a viewer was told: {}", e.detail);
                    }
                    frames += 1;
                }
                frames
            })
        })
        .collect();
    let mut step = 0;
    let mut at = |until: Instant| {
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if let Ok(Msg::Steps(records)) = local.messages.recv_timeout(left) {
                step = records
                    .iter()
                    .filter(|r| r.lane == 0)
                    .map(|r| r.step)
                    .max()
                    .unwrap_or(step);
            }
        }
        (step, Instant::now())
    };
    let (s0, t0) = at(Instant::now() + WARMUP);
    let (s1, t1) = at(t0 + span);
    assert_eq!(server.viewers(), viewers, "a viewer was dropped");
    let rate = (s1 - s0) as f64 / t1.duration_since(t0).as_secs_f64();
    local.shutdown().unwrap();
    drop(server);
    for d in drains {
        assert!(d.join().unwrap() > 0, "a viewer received nothing");
    }
    rate
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; numbers after it are ours.
    let nums: Vec<f64> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let span = Duration::from_secs_f64(nums.first().copied().unwrap_or(4.0));
    let rounds = nums.get(1).copied().unwrap_or(3.0) as usize;
    let counts = [0, 1, 2];
    let mut rates = vec![Vec::new(); counts.len()];
    for round in 0..rounds {
        for (i, &n) in counts.iter().enumerate() {
            let r = steps_per_s(n, span);
            eprintln!("round {round}: {n} viewer(s): {r:.0} steps/s");
            rates[i].push(r);
        }
    }
    let none = median(rates[0].clone());
    println!(
        "quadratic, full speed, 1 thread, median of {rounds} × {:.0} s:",
        span.as_secs_f64()
    );
    for (i, &n) in counts.iter().enumerate() {
        let r = median(rates[i].clone());
        println!(
            "  {n} viewer(s): {r:>8.0} steps/s  ({:.3}× of none)",
            r / none
        );
    }
}
