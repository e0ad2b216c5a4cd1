//! Operator networks from plain-text lists (`network_files` not named `*.toml`): answers follow
//! each line's target, and every broken line is reported with its file and line.

mod common;

use common::*;

/// The GSLB test zones with `list` as `networks/lists/nets.txt`, named in `network_files`.
fn with_list(list: &str) -> GslbCopy {
    let copy = copy_gslb_zones();
    std::fs::create_dir_all(copy.zones.join("networks/lists")).unwrap();
    std::fs::write(copy.zones.join("networks/lists/nets.txt"), list).unwrap();
    let path = copy.zones.join("gslb.test.toml");
    let toml = std::fs::read_to_string(&path).unwrap().replace(
        "network_files = [\"networks/office.toml\"]",
        "network_files = [\"networks/office.toml\", \"networks/lists/nets.txt\"]",
    );
    std::fs::write(&path, toml).unwrap();
    copy
}

/// The first address answered for www.gslb.test to a client in `subnet` (ECS).
fn answer(s: &TestServer, subnet: &'static [u8; 3]) -> String {
    let q = query("www.gslb.test", 1, Q { id: 7, edns: Some(1232), ecs: Some((1, 24, subnet)), ..Q::default() });
    let m = udp(s.addr, &q);
    m.answers.first().map(|r| r.data.to_string()).unwrap_or_default()
}

const IAD: &str = "198.51.100.10";
const SIN: &str = "203.0.113.10";

#[test]
fn a_plain_text_list_steers_its_networks_like_toml_networks() {
    let list = "\
# Customer prefixes, exported from the IPAM (CSV and space-separated lines both read).
100.64.1.0/24 iad
100.64.2.0/24,sin,ams        # a CSV line: data centers in order
100.64.3.0/24\tcountry=JP    # placed in Japan: the nearest data center answers
100.64.4.0/24 point=40.7,-74.0

100.64.5.7 ams               # one address
";
    let copy = with_list(list);
    let s = TestServer::start_geo(&copy.zones, &copy.geo);
    assert_eq!(answer(&s, &[100, 64, 1]), IAD);
    assert_eq!(answer(&s, &[100, 64, 2]), SIN);
    assert_eq!(answer(&s, &[100, 64, 3]), SIN, "Japan's nearest is sin");
    assert_eq!(answer(&s, &[100, 64, 4]), IAD, "New York's nearest is iad");
    // The TOML networks still apply beside the list.
    assert_eq!(answer(&s, &[10, 1, 1]), SIN);
    // explain names the list's network for the single address.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["explain", "www.gslb.test", "--client", "100.64.5.7", "--zones"])
        .arg(&copy.zones)
        .arg("--geo")
        .arg(&copy.geo)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("100.64.5.7/32") && text.contains("answered from: ams"), "{text}");
    assert!(text.contains("; member ams-"), "{text}");
}

#[test]
fn every_broken_line_of_a_list_is_named_and_nothing_is_loaded() {
    let list = "\
100.64.1.0/24 iad
100.64.2.1/24 ams
not-a-network ams
100.64.3.0/24 fra
100.64.4.0/24 country=Japan
100.64.5.0/24
100.64.1.0/24 sin
100.64.6.0/24 colour=blue
100.64.7.0/24 point=95,10
";
    let copy = with_list(list);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meridian"))
        .args(["check", "--zones"])
        .arg(&copy.zones)
        .arg("--geo")
        .arg(&copy.geo)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for want in [
        "nets.txt:2: 100.64.2.1/24: host bits are set; did you mean 100.64.2.0/24?",
        "nets.txt:3: not-a-network: not a network in CIDR form",
        "nets.txt:4: 100.64.3.0/24: unknown data center 'fra' (defined: ams, iad, sin;",
        "nets.txt:5: 100.64.4.0/24: 'Japan' is not an ISO 3166-1 alpha-2 country code",
        "nets.txt:6: 100.64.5.0/24: no target",
        "nets.txt:7: 100.64.1.0/24: network defined twice",
        "nets.txt:8: 100.64.6.0/24: unknown target 'colour='",
        "nets.txt:9: 100.64.7.0/24: '95,10' is not a point",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}
