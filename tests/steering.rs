//! Traffic steering end to end on the shipped example: `datacenters_per_answer`, traffic dials
//! and bias, through dig and `meridian explain`, as an operator would try them.

mod common;

use std::path::{Path, PathBuf};

use common::{Serve, dig, meridian, shipped_geo};

/// The shipped example's zones in a temporary directory, with `edits` (text to find, text to
/// put after it) applied to example.com.toml, and its members unchecked (always up: the
/// example's probe addresses have nothing behind them here).
fn example_with(edits: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("zones");
    std::fs::copy(root.join("example.com.zone"), zones.join("example.com.zone")).unwrap();
    let mut toml = std::fs::read_to_string(root.join("example.com.toml")).unwrap();
    let check = toml.lines().find(|l| l.starts_with("check = ")).unwrap().to_string();
    toml = toml.replace(&check, "check = { type = \"none\" }");
    for (find, add) in edits {
        assert!(toml.contains(find), "{find}");
        toml = toml.replacen(find, &format!("{find}{add}"), 1);
    }
    std::fs::write(zones.join("example.com.toml"), toml).unwrap();
    (dir, zones)
}

/// The sorted addresses dig gets for `www` with ECS `subnet`.
fn www(port: u16, qtype: &str, subnet: &str) -> Vec<String> {
    let out = dig(port, &["www.example.com", qtype, &format!("+subnet={subnet}"), "+short"]);
    let mut v: Vec<String> = out.lines().map(String::from).collect();
    v.sort();
    v
}

const EU: &str = "81.0.0.0/16";
const NA: &str = "8.8.8.0/24";
const AMS: [&str; 2] = ["192.0.2.10", "192.0.2.11"];
const IAD: [&str; 2] = ["198.51.100.10", "198.51.100.11"];

fn explain(zones: &Path, subnet: &str) -> String {
    let zones = zones.to_str().unwrap().to_string();
    let geo = shipped_geo().to_str().unwrap().to_string();
    let (code, out, err) =
        meridian(&["explain", "www.example.com", "--subnet", subnet, "--zones", &zones, "--geo", &geo]);
    assert_eq!(code, Some(0), "{err}");
    out
}

#[test]
fn two_data_centers_per_answer_give_both_sites_addresses() {
    let (_dir, zones) = example_with(&[("[pools.www]\n", "datacenters_per_answer = 2\n")]);
    let s = Serve::start(&zones, &["--geo", shipped_geo().to_str().unwrap()]);
    // A European client: ams's two (answers = 2 per data center), then iad's two.
    let mut want: Vec<String> = AMS.iter().chain(IAD.iter()).map(|a| a.to_string()).collect();
    want.sort();
    assert_eq!(www(s.port, "A", EU), want);
    // The nearest site's addresses come first in the answer.
    let out = dig(s.port, &["www.example.com", "A", &format!("+subnet={EU}"), "+short"]);
    let first: Vec<&str> = out.lines().take(2).collect();
    assert!(first.iter().all(|a| AMS.contains(a)), "{out}");
    let text = explain(&zones, EU);
    assert!(text.contains("answered from: ams") && text.contains("also from: iad (datacenters_per_answer)"), "{text}");
}

#[test]
fn a_dial_of_zero_drains_a_site_and_explain_says_why() {
    let (_dir, zones) = example_with(&[("[datacenters.ams]\n", "dial = 0\n")]);
    let s = Serve::start(&zones, &["--geo", shipped_geo().to_str().unwrap()]);
    // Europe goes to the next in its order, North America is untouched.
    let iad: Vec<String> = IAD.iter().map(|a| a.to_string()).collect();
    assert_eq!(www(s.port, "A", EU), iad);
    assert_eq!(www(s.port, "A", NA), iad);
    // The scope covers the client's /24 the dial hashed (the geo network alone is wider).
    let out = dig(s.port, &["www.example.com", "A", "+subnet=81.0.0.0/24"]);
    assert!(out.contains("CLIENT-SUBNET: 81.0.0.0/24/24"), "{out}");
    let text = explain(&zones, EU);
    assert!(text.contains("skipped ams: traffic dial 0%"), "{text}");
    assert!(text.contains("answered from: iad"), "{text}");
}

#[test]
fn a_pool_dial_splits_client_networks_and_a_bias_moves_the_boundary() {
    // ams keeps half of its European client networks for this pool.
    let (_dir, zones) = example_with(&[("[pools.www]\n", "dials = { ams = 50 }\n")]);
    let s = Serve::start(&zones, &["--geo", shipped_geo().to_str().unwrap()]);
    let (mut at_ams, mut at_iad) = (0, 0);
    for i in 0..40 {
        let got = www(s.port, "A", &format!("81.{i}.7.0/24"));
        // The same network asked again gets the same site.
        assert_eq!(www(s.port, "A", &format!("81.{i}.7.0/24")), got);
        if got.iter().all(|a| AMS.contains(&a.as_str())) {
            at_ams += 1;
        } else if got.iter().all(|a| IAD.contains(&a.as_str())) {
            at_iad += 1;
        }
    }
    // (A few of these networks are outside Europe and go elsewhere by distance.)
    let european = at_ams + at_iad;
    assert!(european >= 25, "{european} of 40 networks answered from ams or iad");
    assert!(at_ams * 4 >= european && at_ams * 4 <= european * 3, "{at_ams} of {european} networks kept at ams");
    drop(s);
    // Iceland is 1909 km from ams and 4730 km from iad: a bias of +70 on iad makes its
    // distance count 0.3 times (1419 km), stretching its catchment over Iceland; explain shows
    // the biased distances.
    let (_dir, zones) = example_with(&[("[datacenters.iad]\n", "bias = 70\n")]);
    let text = explain(&zones, "130.208.0.0/24");
    assert!(
        text.contains("bias: distances as the data centers' biases make them\n  1. iad (1419 km)\n  2. ams (1909 km)"),
        "{text}"
    );
    assert!(text.contains("answered from: iad"), "{text}");
    let (_dir2, plain) = example_with(&[]);
    assert!(explain(&plain, "130.208.0.0/24").contains("answered from: ams"));
}

#[test]
fn a_dial_set_at_run_time_moves_clients_survives_a_restart_and_is_undone() {
    let (dir, zones) = example_with(&[]);
    let state = dir.path().join("state.json");
    let geo = shipped_geo();
    let args = ["--geo", geo.to_str().unwrap(), "--api", "127.0.0.1:0", "--state", state.to_str().unwrap()];
    let s = Serve::start(&zones, &args);
    // The API's port, from the start-up line.
    let line = s.seen.iter().find(|l| l.contains("API on http://")).unwrap();
    let api = line.split("API on http://").nth(1).unwrap().trim().to_string();
    let ams: Vec<String> = AMS.iter().map(|a| a.to_string()).collect();
    let iad: Vec<String> = IAD.iter().map(|a| a.to_string()).collect();
    assert_eq!(www(s.port, "A", EU), ams);
    let url = format!("http://{api}");
    let (code, out, err) = meridian(&["dial", "ams", "0", "--api", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("dial: ams keeps 0% of its client networks"), "{out}");
    assert_eq!(www(s.port, "A", EU), iad, "Europe moves on to iad");
    let (_, out, _) = meridian(&["overrides", "--api", &url]);
    assert!(out.contains("datacenter ams\tdial 0%"), "{out}");
    let (_, status) = common::http(s_addr(&api), "GET", "/status", None, None);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let ams_status = status["datacenters"].as_array().unwrap().iter().find(|d| d["name"] == "ams").unwrap().clone();
    assert_eq!(
        (ams_status["dial"].as_u64(), ams_status["dial_from"].as_str()),
        (Some(0), Some("override")),
        "{ams_status}"
    );
    // Its members' health is untouched: they still serve when asked for.
    let (_, out, _) = meridian(&["status", "--api", &url]);
    assert!(!out.contains("drained"), "{out}");
    // Mistakes are refused with what to do.
    let (code, _, err) = meridian(&["dial", "ams", "101", "--api", &url]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = meridian(&["dial", "www/ams-1", "50", "--api", &url]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("applies to a data center"), "{err}");
    let (code, body) =
        common::http(s_addr(&api), "POST", "/overrides/datacenter/ams", None, Some("{\"action\": \"dial\"}"));
    assert_eq!(code, 400);
    assert!(body.contains("percent"), "{body}");
    // Kept across a restart (the state file).
    drop(s);
    let args = ["--geo", geo.to_str().unwrap(), "--api", &api, "--state", state.to_str().unwrap()];
    let s = Serve::start(&zones, &args);
    assert_eq!(www(s.port, "A", EU), iad, "the dial survives the restart");
    let (code, _, err) = meridian(&["undrain", "ams", "--api", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(www(s.port, "A", EU), ams, "undone");
}

fn s_addr(api: &str) -> std::net::SocketAddr {
    api.parse().unwrap()
}
