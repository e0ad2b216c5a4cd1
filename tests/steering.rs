//! Traffic steering end to end on the shipped example: `datacenters_per_answer`, traffic dials
//! and bias, through dig and `meridian explain`, as an operator would try them.

mod common;

use std::path::{Path, PathBuf};

use common::{Serve, dig, meridian, shipped_geo};

fn example_with(edits: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    common::shipped_example(false, edits)
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

#[test]
fn a_data_center_is_dialed_or_drained_in_one_pool_only_at_run_time() {
    let (_dir, zones) = example_with(&[]);
    // A second pool with members in ams and iad only.
    let mut toml = std::fs::read_to_string(zones.join("example.com.toml")).unwrap();
    toml.push_str(
        "\n[pools.shop]\nnames = [\"shop\"]\n\
         [pools.shop.members.ams]\ndatacenter = \"ams\"\nipv4 = \"192.0.2.50\"\n\
         [pools.shop.members.iad]\ndatacenter = \"iad\"\nipv4 = \"198.51.100.50\"\n",
    );
    std::fs::write(zones.join("example.com.toml"), toml).unwrap();
    let geo = shipped_geo();
    let s = Serve::start(&zones, &["--geo", geo.to_str().unwrap(), "--api", "127.0.0.1:0"]);
    let line = s.seen.iter().find(|l| l.contains("API on http://")).unwrap();
    let api = line.split("API on http://").nth(1).unwrap().trim().to_string();
    let url = format!("http://{api}");
    let shop = || dig(s.port, &["shop.example.com", "A", &format!("+subnet={EU}"), "+short"]).trim().to_string();
    let ams: Vec<String> = AMS.iter().map(|a| a.to_string()).collect();
    let iad: Vec<String> = IAD.iter().map(|a| a.to_string()).collect();
    assert_eq!((www(s.port, "A", EU), shop()), (ams.clone(), "192.0.2.50".to_string()));

    // www's European clients leave ams; shop's stay.
    let (code, out, err) = meridian(&["dial", "ams", "0", "--pool", "www", "--api", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("dial: ams in pool www keeps 0% of its client networks"), "{out}");
    assert_eq!((www(s.port, "A", EU), shop()), (iad.clone(), "192.0.2.50".to_string()));
    let (_, out, _) = meridian(&["overrides", "--api", &url]);
    assert!(out.contains("datacenter ams in pool www\tdial 0%"), "{out}");
    let (_, status) = common::http(s_addr(&api), "GET", "/status", None, None);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let www_status = status["pools"].as_array().unwrap().iter().find(|p| p["name"] == "www").unwrap().clone();
    assert_eq!(www_status["dial_overrides"]["ams"], 0, "{www_status}");

    // A pool's own dial wins over the data center's: ams dialed to 0 everywhere, but kept
    // whole for shop.
    assert_eq!(meridian(&["dial", "ams", "0", "--api", &url]).0, Some(0));
    assert_eq!(meridian(&["dial", "ams", "100", "--pool", "shop", "--api", &url]).0, Some(0));
    assert_eq!((www(s.port, "A", EU), shop()), (iad.clone(), "192.0.2.50".to_string()));
    assert_eq!(meridian(&["undrain", "ams", "--api", &url]).0, Some(0));

    // Drained in shop only: shop's European clients go to iad, www's (its dial removed) stay.
    let (code, out, err) = meridian(&["drain", "ams", "--pool", "shop", "--api", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("drain: ams in pool shop, until undone"), "{out}");
    let (code, out, err) = meridian(&["undrain", "ams", "--pool", "www", "--api", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("override removed: ams in pool www"), "{out}");
    assert_eq!((www(s.port, "A", EU), shop()), (ams, "198.51.100.50".to_string()));
    let (_, out, _) = meridian(&["status", "--api", &url]);
    let drained: Vec<&str> = out.lines().filter(|l| l.contains("drained")).collect();
    assert_eq!(drained.len(), 1, "shop's ams member only: {out}");

    // Mistakes: named, nothing set.
    let (code, _, err) = meridian(&["drain", "www/ams-1", "--pool", "www", "--api", &url]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--pool goes with a data center"), "{err}");
    let (code, _, err) = meridian(&["dial", "ams", "50", "--pool", "nope", "--api", &url]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no pool 'nope'"), "{err}");
    let (code, _, err) = meridian(&["drain", "sin", "--pool", "shop", "--api", &url]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("pool 'shop' has no member in data center 'sin'"), "{err}");
}

fn s_addr(api: &str) -> std::net::SocketAddr {
    api.parse().unwrap()
}

/// A fake HTTP backend answering `{"load": L}` with the load it is set to, until dropped.
struct LoadBackend {
    addr: std::net::SocketAddr,
    load: std::sync::Arc<std::sync::Mutex<f64>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl LoadBackend {
    fn new(load: f64) -> LoadBackend {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let shared = std::sync::Arc::new(std::sync::Mutex::new(load));
        let (flag, now) = (stop.clone(), shared.clone());
        std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(1)));
                        let mut buf = [0u8; 2048];
                        let _ = s.read(&mut buf);
                        let body = format!("{{\"load\": {}}}", *now.lock().unwrap());
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = s.write_all(reply.as_bytes());
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        LoadBackend { addr, load: shared, stop }
    }

    fn set(&self, load: f64) {
        *self.load.lock().unwrap() = load;
    }
}

impl Drop for LoadBackend {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_loaded_site_sheds_clients_to_the_next_and_takes_them_back() {
    let (ams_load, rest) = (LoadBackend::new(0.3), LoadBackend::new(0.1));
    let (dir, zones) =
        example_with(&[("[datacenters.ams]\n", "spillover = { above = 0.8, below = 0.5, floor = 10, step = 30 }\n")]);
    // Every member checked every 0.3 s on a backend that reports a load: ams's on one, the
    // others' on another.
    let path = zones.join("example.com.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    toml = toml.replace(
        "check = { type = \"none\" }",
        "check = { type = \"http\", interval = 0.3, timeout = 0.25, rise = 1, fall = 1, load = \"json:load\" }",
    );
    for (port, backend) in
        [(8001, &ams_load), (8002, &ams_load), (8011, &rest), (8012, &rest), (8021, &rest), (8022, &rest)]
    {
        toml = toml.replace(&format!("\"127.0.0.1:{port}\""), &format!("\"{}\"", backend.addr));
    }
    std::fs::write(&path, toml).unwrap();
    let geo = shipped_geo();
    let state = dir.path().join("state.json");
    let s = Serve::start(
        &zones,
        &["--geo", geo.to_str().unwrap(), "--api", "127.0.0.1:0", "--state", state.to_str().unwrap()],
    );
    let line = s.seen.iter().find(|l| l.contains("API on http://")).unwrap();
    let api = line.split("API on http://").nth(1).unwrap().trim().to_string();
    // 40 European client networks; how many does ams answer?
    let at_ams = || {
        (0..40)
            .filter(|i| {
                let got = www(s.port, "A", &format!("2.{}.0.0/24", 100 + i));
                !got.is_empty() && got.iter().all(|a| AMS.contains(&a.as_str()))
            })
            .count()
    };
    let dial = || {
        let (_, body) = common::http(api.parse().unwrap(), "GET", "/status", None, None);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let Some(list) = v["datacenters"].as_array() else { panic!("{body}") };
        let ams = list.iter().find(|d| d["name"] == "ams").unwrap().clone();
        ams["spillover"]["dial"].as_u64().unwrap_or(100)
    };
    assert!(common::wait_until(std::time::Duration::from_secs(10), || at_ams() == 40).is_some(), "ams serves Europe");
    // Overloaded: the dial comes down (0.8 / 2.0 of itself per check) and clients move on.
    ams_load.set(2.0);
    let shed = common::wait_until(std::time::Duration::from_secs(10), || dial() <= 40);
    // Within two check intervals (0.3 s each; a second more for a busy machine): the next
    // check of an ams member reads the load, and that reading lowers the dial.
    assert!(shed.is_some_and(|t| t < std::time::Duration::from_millis(1600)), "shed after {shed:?}, dial {}", dial());
    let kept = at_ams();
    assert!(kept < 25, "{kept} of 40 networks still at ams with the dial at {}", dial());
    let url = format!("http://{api}");
    let shed = (0..40)
        .map(|i| format!("2.{}.0.0/24", 100 + i))
        .find(|n| www(s.port, "A", n).iter().all(|a| IAD.contains(&a.as_str())))
        .unwrap();
    let (_, out, _) = meridian(&["explain", "www.example.com", "--subnet", &shed, "--api", &url]);
    assert!(
        out.contains(
            "capacity spillover: its members report a mean load of 2.00; it sheds above 0.80 and recovers below 0.50"
        ),
        "{out}"
    );
    // The same with a data center simulated down: the live dials and loads still apply.
    let (_, out, _) = meridian(&["explain", "www.example.com", "--subnet", &shed, "--api", &url, "--down", "sin"]);
    assert!(out.contains("mean load of 2.00"), "{out}");
    let (_, metrics) = common::http(api.parse().unwrap(), "GET", "/metrics", None, None);
    assert!(metrics.contains("meridian_datacenter_load{datacenter=\"ams\"} 2"), "{metrics}");
    // The load falls below 0.5: the dial climbs back 30 points a check, every client returns.
    ams_load.set(0.2);
    assert!(common::wait_until(std::time::Duration::from_secs(10), || dial() == 100).is_some(), "dial {}", dial());
    assert_eq!(at_ams(), 40);
    drop(rest);
}

/// The addresses of one hint (`ipv4hint=a,b`) in dig's text of an HTTPS record, sorted.
fn hint(record: &str, key: &str) -> Vec<String> {
    let mut v: Vec<String> = record
        .split_whitespace()
        .find_map(|p| p.strip_prefix(&format!("{key}=")))
        .map(|list| list.split(',').map(String::from).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn the_https_record_of_www_carries_the_chosen_data_centers_addresses_as_hints() {
    // The shipped example's www pool has `https = "alpn=h2,h3"`.
    let (_dir, zones) = example_with(&[]);
    let s = Serve::start(&zones, &["--geo", shipped_geo().to_str().unwrap()]);
    let mut seen = Vec::new();
    for subnet in [EU, NA, "1.0.16.0/24"] {
        let ecs = format!("+subnet={subnet}");
        let record = dig(s.port, &["www.example.com", "HTTPS", &ecs, "+short"]);
        assert!(record.starts_with("1 . alpn=\"h2,h3\" ipv4hint="), "{record}");
        assert_eq!(hint(&record, "ipv4hint"), www(s.port, "A", subnet), "{subnet}: {record}");
        assert_eq!(hint(&record, "ipv6hint"), www(s.port, "AAAA", subnet), "{subnet}: {record}");
        // The addresses themselves ride in the additional section.
        let full = dig(s.port, &["www.example.com", "HTTPS", &ecs, "+noall", "+additional"]);
        for a in hint(&record, "ipv4hint") {
            assert!(full.contains(&format!("IN\tA\t{a}")), "{full}");
        }
        seen.push(hint(&record, "ipv4hint"));
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "each region's hints are its own data center's: {seen:?}");
    // Another pool name without `https` (none in the example): the zone's api CNAME chases to
    // www and gets the HTTPS record too.
    let chased = dig(s.port, &["api.example.com", "HTTPS", &format!("+subnet={EU}"), "+short"]);
    assert!(chased.contains("ipv4hint=192.0.2.1"), "{chased}");
    // No `svcb` key: SVCB at www is NODATA, with the zone's SOA.
    let none = dig(s.port, &["www.example.com", "SVCB", &format!("+subnet={EU}")]);
    assert!(none.contains("status: NOERROR") && none.contains("ANSWER: 0") && none.contains("SOA"), "{none}");
}

#[test]
fn an_svcb_record_follows_the_chosen_site_and_secondaries_get_both_records_of_the_default_site() {
    let (_dir, zones) = example_with(&[("https = \"alpn=h2,h3\"", "\nsvcb = \"alpn=dot port=8853\"")]);
    let mut toml = std::fs::read_to_string(zones.join("example.com.toml")).unwrap();
    toml.push_str("\n[transfer]\nallow = [\"127.0.0.1\"]\n");
    std::fs::write(zones.join("example.com.toml"), toml).unwrap();
    let s = Serve::start(&zones, &["--geo", shipped_geo().to_str().unwrap()]);
    for subnet in [EU, NA] {
        let ecs = format!("+subnet={subnet}");
        let record = dig(s.port, &["www.example.com", "SVCB", &ecs, "+short"]);
        // Keys in order (RFC 9460 §2.2): port (3) before the hints (4, 6).
        assert!(record.starts_with("1 . alpn=\"dot\" port=8853 ipv4hint="), "{record}");
        assert_eq!(hint(&record, "ipv4hint"), www(s.port, "A", subnet), "{subnet}: {record}");
        assert_eq!(hint(&record, "ipv6hint"), www(s.port, "AAAA", subnet), "{subnet}: {record}");
        let full = dig(s.port, &["www.example.com", "SVCB", &ecs, "+noall", "+additional"]);
        assert!(full.contains("IN\tAAAA\t"), "the addresses ride in the additional section: {full}");
    }
    // A secondary gets www's records as the default data center (iad) answers them: its
    // addresses, and both service records with those addresses as hints.
    let axfr = dig(s.port, &["AXFR", "example.com"]);
    let www_lines: Vec<&str> = axfr.lines().filter(|l| l.starts_with("www.example.com.")).collect();
    let of = |t: &str| www_lines.iter().find(|l| l.contains(&format!("IN\t{t}\t"))).copied().unwrap_or_default();
    let iad = IAD.join(",");
    assert!(of("HTTPS").contains(&format!("alpn=\"h2,h3\" ipv4hint={iad} ipv6hint=")), "{axfr}");
    assert!(of("SVCB").contains(&format!("alpn=\"dot\" port=8853 ipv4hint={iad} ipv6hint=")), "{axfr}");
    drop(s);
    // A zone record of the same type at a pool name that answers one: refused, named.
    let mut zone = std::fs::read_to_string(zones.join("example.com.zone")).unwrap();
    zone.push_str("\nwww         IN HTTPS 1 . alpn=h2\n");
    std::fs::write(zones.join("example.com.zone"), zone).unwrap();
    let (code, _, err) =
        meridian(&["check", "--zones", zones.to_str().unwrap(), "--geo", shipped_geo().to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "pools.www.https: www.example.com. has its own HTTPS record in the zone: keep that or this key, not both"
        ),
        "{err}"
    );
}

#[test]
fn a_cname_pool_answers_with_the_chosen_sites_name_and_chases_it_inside_our_zones() {
    let (_dir, zones) = example_with(&[]);
    let mut zone = std::fs::read_to_string(zones.join("example.com.zone")).unwrap();
    zone.push_str("\nedge-ams    IN A    192.0.2.200\n");
    std::fs::write(zones.join("example.com.zone"), zone).unwrap();
    let mut toml = std::fs::read_to_string(zones.join("example.com.toml")).unwrap();
    toml.push_str(
        "\n[transfer]\nallow = [\"127.0.0.1\"]\n\n[pools.cdn]\nnames = [\"cdn\"]\nttl = 30\n\
         [pools.cdn.members.ams]\ndatacenter = \"ams\"\ncname = \"edge-ams\"\n\
         [pools.cdn.members.iad]\ndatacenter = \"iad\"\ncname = \"edge-iad.example.net.\"\n\
         [pools.cdn.members.sin]\ndatacenter = \"sin\"\ncname = \"www\"\n",
    );
    std::fs::write(zones.join("example.com.toml"), &toml).unwrap();
    let s = Serve::start(&zones, &["--geo", shipped_geo().to_str().unwrap()]);
    let short = |qtype: &str, subnet: &str| {
        dig(s.port, &["cdn.example.com", qtype, &format!("+subnet={subnet}"), "+short"])
            .lines()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    // Europe: the CNAME to ams's edge, chased to its address in our zone.
    assert_eq!(short("A", EU), ["edge-ams.example.com.", "192.0.2.200"]);
    // North America: a name outside our zones, left to the resolver.
    assert_eq!(short("A", NA), ["edge-iad.example.net."]);
    // Asia: into the address pool www, whose answer for that client follows.
    let asia = short("A", "1.0.16.0/24");
    assert_eq!(asia[0], "www.example.com.");
    let mut rest = asia[1..].to_vec();
    rest.sort();
    assert_eq!(rest, www(s.port, "A", "1.0.16.0/24"));
    // Every type gets the CNAME (nothing else lives at the name); NODATA after it here.
    let txt = dig(s.port, &["cdn.example.com", "TXT", &format!("+subnet={EU}")]);
    assert!(txt.contains("status: NOERROR") && txt.contains("CNAME\tedge-ams.example.com."), "{txt}");
    assert!(txt.contains("AUTHORITY: 1"), "the SOA of the NODATA after the chase: {txt}");
    // A secondary gets the default data center's CNAME.
    let axfr = dig(s.port, &["AXFR", "example.com"]);
    assert!(
        axfr.lines().any(|l| l.starts_with("cdn.example.com.") && l.contains("CNAME\tedge-ams.example.com.")),
        "{axfr}"
    );
    drop(s);
    // Mistakes named with their keys.
    let bad = toml.replace("cname = \"www\"\n", "cname = \"www\"\nipv4 = \"192.0.2.9\"\n");
    std::fs::write(zones.join("example.com.toml"), bad).unwrap();
    let (code, _, err) =
        meridian(&["check", "--zones", zones.to_str().unwrap(), "--geo", shipped_geo().to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("pools.cdn.members.sin: a member answers with a cname or with addresses, not both"), "{err}");
    let mixed = toml.replace("cname = \"www\"\n", "ipv4 = \"192.0.2.9\"\n");
    std::fs::write(zones.join("example.com.toml"), mixed).unwrap();
    let (_, _, err) =
        meridian(&["check", "--zones", zones.to_str().unwrap(), "--geo", shipped_geo().to_str().unwrap()]);
    assert!(err.contains("pools.cdn.members: a pool's members all answer with a cname, or none do"), "{err}");
    let crowded = toml.replace("names = [\"cdn\"]", "names = [\"_sip._udp\"]");
    std::fs::write(zones.join("example.com.toml"), crowded).unwrap();
    let (_, _, err) =
        meridian(&["check", "--zones", zones.to_str().unwrap(), "--geo", shipped_geo().to_str().unwrap()]);
    assert!(err.contains("_sip._udp.example.com. is a CNAME pool's name but the zone has SRV there"), "{err}");
}
