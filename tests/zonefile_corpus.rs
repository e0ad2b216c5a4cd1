//! Meridian's zone file reader against BIND's `named-checkzone` (Debian `bind9-utils`), the
//! tool operators check zone files with, over the corpus in `tests/data/zones/`:
//! - every file in `valid/` is accepted by both, and the records Meridian loads equal the
//!   records of BIND's canonical form (`named-compilezone -o -`), as a set of (owner, type,
//!   TTL, data);
//! - every file in `invalid/` is refused by both, and Meridian's error names the line and
//!   says what is wrong (the first line of the file: `; expect: LINE: TEXT`), both from the
//!   library and from `meridian check`.
//!
//! The origin of each file is its name without `.zone`.
//!
//! One intentional difference: a record outside the zone (`out-of-zone.test.zone`). BIND
//! drops it with a warning and loads the rest; Meridian refuses the file, because a record
//! that silently vanishes usually is a typo (a missing final dot) the operator wants to hear
//! about.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use meridian::dns::type_to_text;
use meridian::zone::{Name, Zone, parser};

/// Corpus files where Meridian deliberately differs from BIND, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] =
    &[("out-of-zone.test.zone", "BIND ignores out-of-zone records with a warning; Meridian refuses the zone")];

type RecordSet = BTreeSet<(String, String, u32, String)>;

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/zones").join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "zone"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "corpus {} is missing", dir.display());
    files
}

fn origin_of(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn bind(tool: &str, args: &[&str], file: &Path) -> std::process::Output {
    // `-i local`: check integrity inside the zone only (names outside it would be looked up
    // on the network); `-k ignore`: host name policy (check-names) is not zone validity.
    Command::new(tool)
        .args(["-q", "-i", "local", "-k", "ignore", "-w"])
        .arg(file.parent().unwrap())
        .args(args)
        .arg(origin_of(file))
        .arg(file.file_name().unwrap())
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool} is not installed ({e}): `apt-get install -y bind9-utils` (.ci/run does this)")
        })
}

fn describe(r: &(String, String, u32, String)) -> String {
    format!("{} {} {} {}", r.0, r.2, r.1, r.3)
}

fn records_of_zone(zone: &Zone) -> RecordSet {
    let mut out = RecordSet::new();
    for node in zone.nodes() {
        for set in &node.rrsets {
            for rdata in set.rdatas() {
                out.insert((
                    node.name.to_string().to_lowercase(),
                    type_to_text(set.rtype),
                    set.ttl,
                    rdata.iter().map(|b| format!("{b:02x}")).collect(),
                ));
            }
        }
    }
    out
}

fn records_of_text(file: &Path, text: &str) -> RecordSet {
    let parsed = parser::parse_text(file, text, &Name::root());
    assert!(
        parsed.errors.is_empty(),
        "Meridian cannot read BIND's canonical output of {}: {:?}",
        file.display(),
        parsed.errors
    );
    parsed
        .records
        .into_iter()
        .map(|r| {
            (
                r.owner.to_string().to_lowercase(),
                type_to_text(r.rtype),
                r.ttl,
                r.rdata.iter().map(|b| format!("{b:02x}")).collect(),
            )
        })
        .collect()
}

#[test]
fn valid_zones_load_with_the_same_records_as_bind() {
    let mut failures = Vec::new();
    for file in corpus("valid") {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let check = bind("named-checkzone", &[], &file);
        if !check.status.success() {
            failures.push(format!("{name}: named-checkzone refuses it:\n{}", String::from_utf8_lossy(&check.stdout)));
            continue;
        }
        let origin = Name::parse(&format!("{}.", origin_of(&file)), None).unwrap();
        let zone = match Zone::load(&file, &origin) {
            Ok((zone, _)) => zone,
            Err(errors) => {
                failures.push(format!("{name}: Meridian refuses it: {errors:?}"));
                continue;
            }
        };
        let canonical = bind("named-compilezone", &["-o", "-"], &file);
        assert!(canonical.status.success(), "{name}: named-compilezone failed");
        let theirs = records_of_text(&file, &String::from_utf8_lossy(&canonical.stdout));
        let ours = records_of_zone(&zone);
        if theirs != ours {
            let only_bind: Vec<String> = theirs.difference(&ours).map(describe).collect();
            let only_ours: Vec<String> = ours.difference(&theirs).map(describe).collect();
            failures.push(format!(
                "{name}: records differ\n  only in BIND: {only_bind:#?}\n  only in Meridian: {only_ours:#?}"
            ));
        }
        assert!(ours.len() >= 5, "{name}: suspiciously few records");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn expectation(file: &Path) -> (usize, String) {
    let text = std::fs::read_to_string(file).unwrap();
    let first = text.lines().next().unwrap();
    let rest = first.strip_prefix("; expect: ").unwrap_or_else(|| panic!("{}: no '; expect:' line", file.display()));
    let (line, msg) = rest.split_once(": ").unwrap();
    (line.parse().unwrap(), msg.to_string())
}

#[test]
fn invalid_zones_are_refused_like_bind_with_file_and_line() {
    let mut failures = Vec::new();
    for file in corpus("invalid") {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let (line, msg) = expectation(&file);
        let bind_accepts = bind("named-checkzone", &[], &file).status.success();
        let known = KNOWN_DIFFERENCES.iter().any(|(f, _)| *f == name);
        if bind_accepts != known {
            failures.push(format!("{name}: named-checkzone {} it", if bind_accepts { "accepts" } else { "refuses" }));
        }
        let origin = Name::parse(&format!("{}.", origin_of(&file)), None).unwrap();
        match Zone::load(&file, &origin) {
            Ok(_) => failures.push(format!("{name}: Meridian accepts it")),
            Err(errors) => {
                if !errors.iter().any(|d| d.at.line == line && d.message.contains(&msg)) {
                    failures.push(format!(
                        "{name}: no error at line {line} containing '{msg}'; got: {:#?}",
                        errors.iter().map(ToString::to_string).collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn meridian_check_refuses_each_invalid_zone_and_accepts_the_valid_ones() {
    let bin = env!("CARGO_BIN_EXE_meridian");
    // A tiny geo database keeps each run quick (the shipped one is verified record by record).
    let geo_dir = tempfile::tempdir().unwrap();
    let geo = geo_dir.path().join("geo.mmdb");
    common::write_test_geo(&geo);
    for file in corpus("invalid") {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let (line, msg) = expectation(&file);
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&file, dir.path().join(&name)).unwrap();
        let out =
            Command::new(bin).arg("check").arg("--zones").arg(dir.path()).arg("--geo").arg(&geo).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        let place = if line == 0 { format!("{name}: ") } else { format!("{name}:{line}: ") };
        assert!(stderr.contains(&place) && stderr.contains(&msg), "{name}: expected '{place}...{msg}' in:\n{stderr}");
    }
    let dir = tempfile::tempdir().unwrap();
    for file in corpus("valid") {
        std::fs::copy(&file, dir.path().join(file.file_name().unwrap())).unwrap();
    }
    std::fs::create_dir(dir.path().join("inc")).unwrap();
    let inc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/zones/valid/inc/hosts.inc");
    std::fs::copy(inc, dir.path().join("inc/hosts.inc")).unwrap();
    let out = Command::new(bin).arg("check").arg("--zones").arg(dir.path()).arg("--geo").arg(&geo).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("8 zone(s)"), "{stdout}");
}
