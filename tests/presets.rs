//! Presets through the real binary and the real optimizers: every shipped preset is valid, and
//! every fixture in `tests/invalid_presets/` fails with the message in its `.err` file.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use assert_cmd::Command;
use lodo_tui::preset::{Preset, builtin};

fn lodo_tui() -> Command {
    let mut c = Command::cargo_bin("lodo-tui").unwrap();
    // Run directories of the tests' runs go under target/, not the user's state directory.
    c.env(
        "LODO_TUI_RUNS_DIR",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/runs"),
    );
    c
}

#[test]
fn every_shipped_preset_parses_and_validates() {
    for name in builtin::names() {
        let preset = Preset::load(name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(preset.name, name);
        // Every preset offers the paper's comparison set for hot-swapping.
        for wanted in ["adam", "momentum", "lodo", "lodo-diagonal", "lodo-global"] {
            assert!(
                preset.alternatives.iter().any(|a| a.name == wanted),
                "{name} does not offer {wanted}"
            );
        }
    }
}

#[test]
fn invalid_presets_fail_with_their_expected_message() {
    let dir = Path::new("tests/invalid_presets");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ron") {
            continue;
        }
        let expected = std::fs::read_to_string(path.with_extension("err"))
            .unwrap_or_else(|_| panic!("{} has no .err file", path.display()));
        let out = lodo_tui()
            .args(["--headless", "--preset"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{} was accepted", path.display());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.trim_end(), expected.trim_end(), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} fixtures");
}

#[test]
fn presets_lists_the_builtins_and_prints_one() {
    let out = lodo_tui().arg("presets").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for name in builtin::names() {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{text}"
        );
    }
    let out = lodo_tui().args(["presets", "rosenbrock"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("name: \"rosenbrock\""), "{text}");

    // The printed RON loads as a preset file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.ron");
    std::fs::write(&file, text).unwrap();
    let preset = Preset::load(file.to_str().unwrap()).unwrap();
    assert_eq!(preset.task.name, "rosenbrock");
}

#[test]
fn unknown_names_list_the_valid_ones() {
    let out = lodo_tui()
        .args([
            "--headless",
            "--preset",
            "quadratic",
            "--optimizer",
            "adamw",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr
            .starts_with("error: --optimizer: unknown optimizer `adamw`; valid optimizers: lodo,"),
        "{stderr}"
    );
    let out = lodo_tui()
        .args(["--headless", "--preset", "mnsit"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.trim_end(),
        "error: unknown preset `mnsit`; built-in presets: mnist, mnist-paper, mnist-classify, \
         quadratic, rosenbrock (or pass a path to a .ron file)"
    );
}
