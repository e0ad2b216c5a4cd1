//! The HTTP API over real HTTP on 127.0.0.1:0: status, metrics after known traffic,
//! overrides with the token rule, explain, and reload.

mod common;

use std::path::Path;

use common::*;
use meridian::config::Config;
use meridian::daemon::Options;

const TOKEN: &str = "s3cret-token";

struct Api {
    server: TestServer,
    api: std::net::SocketAddr,
    dir: tempfile::TempDir,
}

/// The GSLB test zones, copied so that tests may edit them, with the API on.
fn api(token: Option<&str>) -> Api {
    let GslbCopy { dir, zones, geo } = copy_gslb_zones();
    let config = Config::load(&zones, &geo).unwrap();
    let mut options = Options::new(zones, geo, vec!["127.0.0.1:0".parse().unwrap()]);
    options.api = Some("127.0.0.1:0".parse().unwrap());
    options.api_token = token.map(str::to_string);
    options.state_file = Some(dir.path().join("state.json"));
    let server = TestServer::start_options(config, options);
    let api = server.daemon.as_ref().unwrap().api.unwrap();
    Api { server, api, dir }
}

fn amsterdam() -> Vec<u8> {
    query("www.gslb.test", 1, Q { id: 9, edns: Some(1232), ecs: Some((1, 24, &[81, 0, 1])), ..Q::default() })
}

fn answered(m: &hickory_proto::op::Message) -> Vec<String> {
    let mut v: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    v.sort();
    v
}

/// Parses the Prometheus text format into (name{labels}, value) pairs.
fn scrape(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad metrics line: {l}"));
            (k.to_string(), v.parse().unwrap_or_else(|_| panic!("bad value in: {l}")))
        })
        .collect()
}

fn metric(all: &[(String, f64)], key: &str) -> f64 {
    all.iter().find(|(k, _)| k == key).map_or(0.0, |(_, v)| *v)
}

#[test]
fn status_shows_zones_pools_members_geo_and_reload() {
    let a = api(None);
    let (code, body) = http(a.api, "GET", "/status", None, None);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["zones"][0]["zone"], "gslb.test.");
    assert_eq!(v["zones"][0]["serial"], 1);
    let www = v["pools"].as_array().unwrap().iter().find(|p| p["name"] == "www").unwrap();
    assert_eq!(www["members"].as_array().unwrap().len(), 5);
    assert_eq!(www["members"][0]["status"], "unknown");
    assert_eq!(www["members"][0]["serving"], "up");
    assert_eq!(v["geo"]["type"], "Meridian-Test-City");
    assert!(v["reload"]["last"].is_null());
    assert_eq!(v["datacenters"].as_array().unwrap().len(), 3);
}

#[test]
fn metrics_count_known_traffic() {
    let a = api(None);
    for _ in 0..3 {
        assert_eq!(udp(a.server.addr, &amsterdam()).answers.len(), 2);
    }
    for _ in 0..2 {
        udp(a.server.addr, &query("nothing.gslb.test", 1, Q::default()));
    }
    let mut bad = query("www.gslb.test", 1, Q { id: 3, ..Q::default() });
    bad.push(0); // a trailing byte: FORMERR
    udp(a.server.addr, &bad);
    tcp(a.server.addr, &query("www.gslb.test", 16, Q::default()));
    let (code, text) = http(a.api, "GET", "/metrics", None, None);
    assert_eq!(code, 200);
    let m = scrape(&text);
    assert_eq!(metric(&m, r#"meridian_queries_total{transport="udp",qtype="A",rcode="NOERROR"}"#), 3.0, "{text}");
    assert_eq!(metric(&m, r#"meridian_queries_total{transport="udp",qtype="A",rcode="NXDOMAIN"}"#), 2.0);
    assert_eq!(metric(&m, r#"meridian_queries_total{transport="udp",qtype="A",rcode="FORMERR"}"#), 1.0);
    assert_eq!(metric(&m, r#"meridian_queries_total{transport="tcp",qtype="TXT",rcode="NOERROR"}"#), 1.0);
    assert_eq!(metric(&m, r#"meridian_gslb_answers_total{pool="www",datacenter="ams"}"#), 3.0);
    assert_eq!(metric(&m, "meridian_ecs_queries_total"), 3.0);
    assert_eq!(metric(&m, "meridian_malformed_queries_total"), 1.0);
    // The revision is the checkout's commit (or "unknown" built without git).
    let revision = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_string(), |o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let info = format!(r#"meridian_build_info{{version="0.1.0",revision="{revision}"}}"#);
    assert_eq!(metric(&m, &info), 1.0, "{text}");
    assert_eq!(metric(&m, r#"meridian_member_up{pool="www",member="ams-1",datacenter="ams"}"#), 1.0);
    assert_eq!(metric(&m, r#"meridian_reloads_total{result="failure"}"#), 0.0);
    assert_eq!(metric(&m, r#"meridian_zone_serial{zone="gslb.test."}"#), 1.0);
    assert!(metric(&m, "process_resident_memory_bytes") > 1e6, "{text}");
    assert!(metric(&m, "process_open_fds") >= 3.0);
    assert!(metric(&m, "process_start_time_seconds") > 1.7e9);
    assert!(metric(&m, "meridian_last_reload_success_timestamp_seconds") > 1.7e9);
    assert_eq!(metric(&m, "meridian_udp_datagrams_total"), 6.0);
    // Fallbacks and geo misses by pool: the Amsterdam subnet was located.
    assert_eq!(metric(&m, r#"meridian_geo_misses_total{pool="www"}"#), 0.0, "{text}");
    assert_eq!(metric(&m, r#"meridian_gslb_fallbacks_total{pool="www"}"#), 0.0);
    assert!(text.contains("meridian_geo_misses_total{pool=\"www\"} 0"), "the series exists before any miss");
    // A query from loopback without ECS cannot be located: a geo miss of pool www.
    udp(a.server.addr, &query("www.gslb.test", 1, Q::default()));
    let (_, text) = http(a.api, "GET", "/metrics", None, None);
    assert_eq!(metric(&scrape(&text), r#"meridian_geo_misses_total{pool="www"}"#), 1.0, "{text}");
}

#[test]
fn overrides_take_effect_on_the_next_query_and_need_the_token() {
    let a = api(Some(TOKEN));
    assert_eq!(answered(&udp(a.server.addr, &amsterdam())).len(), 2);
    let body = r#"{"action": "drain"}"#;
    // Without the token: refused, nothing changes.
    let (code, _) = http(a.api, "POST", "/overrides/datacenter/ams", None, Some(body));
    assert_eq!(code, 401);
    let (code, _) = http(a.api, "POST", "/overrides/datacenter/ams", Some("wrong"), Some(body));
    assert_eq!(code, 401);
    assert!(answered(&udp(a.server.addr, &amsterdam()))[0].starts_with("192.0.2."));
    // With it: the next query goes to iad, the next nearest.
    let (code, listing) = http(a.api, "POST", "/overrides/datacenter/ams", Some(TOKEN), Some(body));
    assert_eq!(code, 200, "{listing}");
    assert_eq!(answered(&udp(a.server.addr, &amsterdam())), ["198.51.100.10"]);
    // It is in the state file and in /status.
    let state = std::fs::read_to_string(a.dir.path().join("state.json")).unwrap();
    assert!(state.contains("\"drain\"") && state.contains("\"ams\""), "{state}");
    let (_, status) = http(a.api, "GET", "/status", None, None);
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    let ams1 = &v["pools"][0]["members"][0];
    assert_eq!(ams1["name"], "ams-1");
    assert_eq!(ams1["serving"], "drained");
    assert_eq!(ams1["override"]["action"], "drain");
    assert_eq!(ams1["override"]["target"], "data center ams");
    // A member override with an expiry, errors for unknown targets and actions.
    let (code, _) = http(
        a.api,
        "POST",
        "/overrides/member/www/iad-1",
        Some(TOKEN),
        Some(r#"{"action": "force-down", "ttl": 600}"#),
    );
    assert_eq!(code, 200);
    assert_eq!(answered(&udp(a.server.addr, &amsterdam())), ["203.0.113.10"]);
    let (code, body) = http(a.api, "POST", "/overrides/member/www/nope", Some(TOKEN), Some(r#"{"action": "drain"}"#));
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("has no member 'nope'"));
    // A misspelt key is refused, never read as an override without an end.
    let (code, body) =
        http(a.api, "POST", "/overrides/datacenter/ams", Some(TOKEN), Some(r#"{"action": "drain", "tll": 600}"#));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("unknown field `tll`") && body.contains("keys: action, ttl"), "{body}");
    let (code, body) = http(a.api, "POST", "/overrides/datacenter/ams", Some(TOKEN), Some(r#"{"action": "explode"}"#));
    assert_eq!(code, 400);
    assert!(body.contains("unknown action"));
    // Reading needs no token.
    let (code, list) = http(a.api, "GET", "/overrides", None, None);
    assert_eq!(code, 200);
    assert!(list.contains("force-down"));
    // Deleting brings the answers back.
    assert_eq!(http(a.api, "DELETE", "/overrides/member/www/iad-1", Some(TOKEN), None).0, 200);
    assert_eq!(http(a.api, "DELETE", "/overrides/datacenter/ams", Some(TOKEN), None).0, 200);
    assert_eq!(http(a.api, "DELETE", "/overrides/datacenter/ams", Some(TOKEN), None).0, 404);
    assert_eq!(answered(&udp(a.server.addr, &amsterdam())).len(), 2);
}

#[test]
fn the_api_refuses_to_listen_beyond_loopback_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("geo.mmdb");
    write_test_geo(&geo);
    let zones = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gslb");
    let config = Config::load(&zones, &geo).unwrap();
    let mut options = Options::new(zones, geo, vec!["127.0.0.1:0".parse().unwrap()]);
    options.api = Some("0.0.0.0:0".parse().unwrap());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(meridian::daemon::Daemon::start(config, &options)).err().expect("refused");
    assert!(err.to_string().contains("beyond loopback, without a token"), "{err}");
}

#[test]
fn explain_over_http() {
    let a = api(None);
    let (code, body) = http(a.api, "GET", "/explain?name=www.gslb.test&type=A&subnet=81.0.1.0/24", None, None);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["datacenter"], "ams");
    assert_eq!(v["scope"], 16);
    assert_eq!(v["order"][0][0], "ams");
    let (_, body) = http(a.api, "GET", "/explain?name=www.gslb.test&subnet=81.0.1.0/24&down=ams", None, None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["datacenter"], "iad");
    assert_eq!(v["skipped"][0], "ams: every member is down");
    let (code, body) = http(a.api, "GET", "/explain?name=www.gslb.test", None, None);
    assert_eq!(code, 400);
    assert!(body.contains("client=IP or subnet=CIDR"));
}

/// `meridian explain` run as a user would.
fn explain_cli(args: &[&str]) -> (Option<i32>, String, String) {
    meridian(&[&["explain"], args].concat())
}

#[test]
fn explain_with_api_reads_the_live_health_and_overrides_of_the_server() {
    let a = api(Some(TOKEN));
    let url = format!("http://{}", a.api);
    // Everything up: a Dutch client is answered from ams, and the CLI says whose health it used.
    let (code, out, err) = explain_cli(&["www.gslb.test", "--subnet", "81.0.1.0/24", "--api", &url]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("health: live: this server's checks and overrides"), "{out}");
    // The ADDR:PORT form `serve --api` takes works here too.
    let bare = a.api.to_string();
    let (code, out, err) = explain_cli(&["www.gslb.test", "--subnet", "81.0.1.0/24", "--api", &bare]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("answered from: ams"), "{out}");
    assert!(out.contains("answered from: ams"), "{out}");
    // An operator drains ams on the server: the CLI's explanation follows, as the DNS answer does.
    let (code, _) = http(a.api, "POST", "/overrides/datacenter/ams", Some(TOKEN), Some(r#"{"action": "drain"}"#));
    assert_eq!(code, 200);
    let (_, out, _) = explain_cli(&["www.gslb.test", "--subnet", "81.0.1.0/24", "--api", &url]);
    assert!(out.contains("skipped ams: drained by an operator"), "{out}");
    assert!(out.contains("answered from: iad"), "{out}");
    let m = udp(a.server.addr, &amsterdam());
    assert_eq!(answered(&m), vec!["198.51.100.10"], "the server answers as its explanation says");
    // Both a resolver address and a subnet: the ECS pool uses the subnet, the other the resolver.
    let (_, out, _) =
        explain_cli(&["noecs.gslb.test", "--client", "10.1.2.3", "--subnet", "81.0.1.0/24", "--api", &url]);
    assert!(out.contains("10.1.2.3 is in operator network 10.0.0.0/8"), "{out}");
    // Mistakes come back as the server's words, with exit code 2.
    let (code, _, err) = explain_cli(&["www.gslb.test", "--client", "1.2.3.4", "--down", "fra", "--api", &url]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown data center 'fra'"), "{err}");
    // A server that is not there is named.
    let (code, _, err) = explain_cli(&["www.gslb.test", "--client", "1.2.3.4", "--api", "http://127.0.0.1:9"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is the server running with --api?"), "{err}");
}

#[test]
fn reload_swaps_good_files_and_keeps_old_data_on_bad_ones() {
    let a = api(Some(TOKEN));
    let zone = a.server.daemon.as_ref().unwrap().reloader.zones().join("gslb.test.zone");
    let text = std::fs::read_to_string(&zone).unwrap();
    std::fs::write(&zone, text.replace(" 1 3600 900", " 2 3600 900") + "new A 192.0.2.200\n").unwrap();
    assert_eq!(http(a.api, "POST", "/reload", None, None).0, 401);
    let (code, body) = http(a.api, "POST", "/reload", Some(TOKEN), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(udp(a.server.addr, &query("new.gslb.test", 1, Q::default())).answers.len(), 1);
    // A broken file: refused with file:line, the old data keeps serving.
    std::fs::write(&zone, text.replace(" 1 3600 900", " 3 3600 900") + "broken A 192.0.2.300\n").unwrap();
    let (code, body) = http(a.api, "POST", "/reload", Some(TOKEN), None);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("gslb.test.zone:7: '192.0.2.300' is not an IPv4 address"), "{body}");
    assert_eq!(udp(a.server.addr, &query("new.gslb.test", 1, Q::default())).answers.len(), 1);
    let (_, status) = http(a.api, "GET", "/status", None, None);
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["zones"][0]["serial"], 2);
    assert_eq!(v["reload"]["ok"], false);
    assert_eq!(v["reload"]["successes"], 1);
    assert_eq!(v["reload"]["failures"], 1);
    let (_, metrics) = http(a.api, "GET", "/metrics", None, None);
    assert!(metrics.contains("meridian_reloads_total{result=\"failure\"} 1"), "{metrics}");
}

#[test]
fn control_commands_drain_undrain_list_and_reload_through_the_api() {
    let a = api(Some(TOKEN));
    let token = a.dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let (addr, token) = (a.api.to_string(), token.to_str().unwrap().to_string());
    let with = |args: &[&str]| {
        let mut v: Vec<&str> = args.to_vec();
        v.extend(["--api", &addr, "--api-token-file", &token]);
        meridian(&v)
    };
    let from_ams = |v: Vec<String>| !v.is_empty() && v.iter().all(|a| a.starts_with("192.0.2.1"));
    assert!(from_ams(answered(&udp(a.server.addr, &amsterdam()))));
    let (code, out, err) = with(&["drain", "ams", "--for", "10m"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("drain: ams, for 600 s"), "{out}");
    assert_eq!(answered(&udp(a.server.addr, &amsterdam())), ["198.51.100.10"], "ams is drained");
    let (code, out, _) = with(&["overrides"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("datacenter ams\tdrain\tuntil "), "{out}");
    let (code, out, _) = with(&["drain", "www/iad-1", "--action", "force-down"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(with(&["overrides"]).1.contains("member www/iad-1\tforce-down\tno end"));
    assert_eq!(with(&["undrain", "www/iad-1"]).0, Some(0));
    assert_eq!(with(&["undrain", "ams"]).0, Some(0));
    assert!(from_ams(answered(&udp(a.server.addr, &amsterdam()))), "ams is back");
    assert!(with(&["overrides"]).1.contains("no overrides"));
    // Mistakes are named: an unknown data center, a bad duration, no token.
    let (code, _, err) = with(&["drain", "fra"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no data center 'fra'"), "{err}");
    let (code, _, err) = with(&["drain", "ams", "--for", "soon"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("'soon' is not a duration"), "{err}");
    let (code, _, err) = meridian(&["drain", "ams", "--api", &addr]);
    assert_eq!(code, Some(1));
    assert!(err.contains("(401)"), "{err}");
    // Reload: ok, then refused with the file's error.
    let (code, out, err) = with(&["reload"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("reloaded"));
    let zone = a.server.daemon.as_ref().unwrap().reloader.zones().join("gslb.test.zone");
    let text = std::fs::read_to_string(&zone).unwrap();
    std::fs::write(&zone, text + "broken A 192.0.2.300\n").unwrap();
    let (code, _, err) = with(&["reload"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("gslb.test.zone:") && err.contains("'192.0.2.300' is not an IPv4 address"), "{err}");
}

#[test]
fn reads_can_require_the_token_too() {
    let GslbCopy { dir, zones, geo } = copy_gslb_zones();
    let config = Config::load(&zones, &geo).unwrap();
    let mut options = Options::new(zones, geo, vec!["127.0.0.1:0".parse().unwrap()]);
    options.api = Some("127.0.0.1:0".parse().unwrap());
    options.api_token = Some(TOKEN.to_string());
    options.api_token_for_reads = true;
    let server = TestServer::start_options(config, options);
    let api = server.daemon.as_ref().unwrap().api.unwrap();
    for path in ["/status", "/metrics", "/overrides", "/explain?name=www.gslb.test&client=192.0.2.1"] {
        assert_eq!(http(api, "GET", path, None, None).0, 401, "{path}");
        assert_eq!(http(api, "GET", path, Some(TOKEN), None).0, 200, "{path}");
    }
    // meridian explain --api sends it too.
    let tokenfile = dir.path().join("explain-token");
    std::fs::write(&tokenfile, TOKEN).unwrap();
    let (code, out, err) = meridian(&[
        "explain",
        "www.gslb.test",
        "--client",
        "192.0.2.1",
        "--api",
        &api.to_string(),
        "--api-token-file",
        tokenfile.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("pool: www"), "{out}");
    let (code, _, err) = meridian(&["explain", "www.gslb.test", "--client", "192.0.2.1", "--api", &api.to_string()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("needs the API token"), "{err}");
    // meridian status sends the token from its file.
    let token = dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let (code, out, err) =
        meridian(&["status", "--api", &api.to_string(), "--api-token-file", token.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("pool www"), "{out}");
    let (code, _, err) = meridian(&["status", "--api", &api.to_string()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("answered 401"), "{err}");
}
