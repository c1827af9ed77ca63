//! `lodo-tui plot` and `compare --plot` through the real binary.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;

fn lodo_tui() -> Command {
    Command::cargo_bin("lodo-tui").unwrap()
}

/// Width and height of a PNG (from its IHDR chunk, after the signature).
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn compare_plot_without_record_dir_leaves_only_the_picture() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("cmp.png");
    let json = dir.path().join("out.json");
    let out = lodo_tui()
        .args([
            "compare",
            "--preset",
            "rosenbrock",
            "--optimizers",
            "adam,momentum",
        ])
        .args(["--steps", "30", "--plot"])
        .arg(&png)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("wrote {} (2 curves)", png.display())),
        "{stderr}"
    );
    assert_eq!(png_size(&std::fs::read(&png).unwrap()), (1200, 700));
    // The records went to a scratch directory that is gone: the report names none.
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(!report.contains("\"record\""), "{report}");
}

#[test]
fn plot_draws_records_and_trajectories_and_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("runs");
    let status = lodo_tui()
        .args([
            "compare",
            "--preset",
            "rosenbrock",
            "--optimizers",
            "lodo,adam",
        ])
        .args(["--steps", "25", "--record-dir"])
        .arg(&records)
        .output()
        .unwrap();
    assert!(status.status.success());
    let files: Vec<_> = ["rosenbrock-lodo-seed0.jsonl", "rosenbrock-adam-seed0.jsonl"]
        .iter()
        .map(|f| records.join(f))
        .collect();
    let png = dir.path().join("t.png");
    let out = lodo_tui()
        .arg("plot")
        .args(&files)
        .args(["--trajectories", "--size", "800x640", "-o"])
        .arg(&png)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("2 series: lodo, adam"), "{stderr}");
    assert_eq!(png_size(&std::fs::read(&png).unwrap()), (800, 640));

    // An output that cannot be written is named, without the image library's error.
    let taken = dir.path().join("taken.png");
    std::fs::create_dir(&taken).unwrap();
    let out = lodo_tui()
        .arg("plot")
        .args(&files)
        .arg("-o")
        .arg(&taken)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        format!("error: cannot write {}: it is a directory", taken.display())
    );

    let missing = dir.path().join("nope.jsonl");
    let out = lodo_tui()
        .arg("plot")
        .arg(&missing)
        .args(["-o", "x.png"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "error: cannot read record {}: ",
            missing.display()
        )),
        "{stderr}"
    );
    // Flags that make no sense together are refused by the parser.
    let out = lodo_tui()
        .arg("plot")
        .args(&files)
        .args(["--trajectories", "--log-y", "-o", "x.png"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
