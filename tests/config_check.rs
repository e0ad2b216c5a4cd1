//! `meridian check` on broken GSLB definitions: every error of a file reported at once, each
//! with `file:line: key.path: message`, exit code 1; and the shipped example passes.
//!
//! Each file in `tests/data/configs/invalid/` is installed as `gslb.test.toml` beside the zone
//! `tests/data/gslb/gslb.test.zone`; its `# expect: LINE: TEXT` lines name the errors.

mod common;

use std::path::Path;
use std::process::Command;

fn check(zones: &Path, geo: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meridian"))
        .arg("check")
        .arg("--zones")
        .arg(zones)
        .arg("--geo")
        .arg(geo)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_invalid_definition_is_refused_with_each_error_located() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let geo_dir = tempfile::tempdir().unwrap();
    let geo = geo_dir.path().join("test.mmdb");
    common::write_test_geo(&geo);
    let mut files: Vec<_> = std::fs::read_dir(root.join("tests/data/configs/invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "the corpus is missing");
    let mut failures = Vec::new();
    for file in &files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(root.join("tests/data/gslb/gslb.test.zone"), dir.path().join("gslb.test.zone")).unwrap();
        std::fs::copy(file, dir.path().join("gslb.test.toml")).unwrap();
        let text = std::fs::read_to_string(file).unwrap();
        let expects: Vec<(usize, &str)> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(|e| {
                let (line, msg) = e.split_once(": ").unwrap();
                (line.parse().unwrap(), msg)
            })
            .collect();
        assert!(!expects.is_empty(), "{}: no expectations", file.display());
        let (code, _, stderr) = check(dir.path(), &geo);
        if code != Some(1) {
            failures.push(format!("{}: exit code {code:?}, expected 1\n{stderr}", file.display()));
            continue;
        }
        for (line, msg) in expects {
            let want = format!("gslb.test.toml:{line}: {msg}");
            if !stderr.contains(&want) {
                failures.push(format!("{}: missing '{want}' in:\n{stderr}", file.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_shipped_example_passes_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, stdout, stderr) = check(&root.join("zones"), &root.join("geo/dbip-country.mmdb"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("1 pool(s) over 3 data center(s)"), "{stdout}");
}

#[test]
fn a_missing_or_corrupt_geo_database_is_named() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, _, stderr) = check(&root.join("zones"), Path::new("/nonexistent/geo.mmdb"));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("/nonexistent/geo.mmdb: cannot open the geo database"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.mmdb");
    std::fs::write(&bad, b"this is not a maxmind database").unwrap();
    let (code, _, stderr) = check(&root.join("zones"), &bad);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("bad.mmdb: cannot open the geo database"), "{stderr}");
    // Truncated: a real database cut in half.
    let good = std::fs::read(root.join("geo/dbip-country.mmdb")).unwrap();
    std::fs::write(&bad, &good[..good.len() / 2]).unwrap();
    let (code, _, stderr) = check(&root.join("zones"), &bad);
    assert_eq!(code, Some(1), "{stderr}");
}
