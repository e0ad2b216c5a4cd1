//! What an operator sees: the catchment map (`meridian map`, `GET /map.svg`), the status page
//! (`GET /`) in a real browser, and the Grafana dashboard against a real scrape.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Serve, dig, http, meridian, shipped_geo};

fn example(checked: bool) -> (tempfile::TempDir, PathBuf) {
    common::shipped_example(checked, &[])
}

/// What a map shows: each country's fill, each data center's legend colour and text, and the
/// classes of the data center marks.
struct Map {
    countries: HashMap<String, String>,
    legend: HashMap<String, (String, String)>,
    marks: HashMap<String, String>,
}

fn read_map(svg: &str) -> Map {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}\n{svg}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let mut map = Map { countries: HashMap::new(), legend: HashMap::new(), marks: HashMap::new() };
    for node in doc.descendants() {
        let id = node.attribute("id").unwrap_or_default();
        if let Some(code) = id.strip_prefix("country-") {
            map.countries.insert(code.to_string(), node.attribute("fill").unwrap().to_string());
        } else if let Some(dc) = id.strip_prefix("legend-") {
            let fill = node.children().find(|c| c.has_tag_name("rect")).and_then(|r| r.attribute("fill")).unwrap();
            let text = node.children().find(|c| c.has_tag_name("text")).and_then(|t| t.text()).unwrap_or_default();
            map.legend.insert(dc.to_string(), (fill.to_string(), text.to_string()));
        } else if let Some(dc) = id.strip_prefix("dc-") {
            map.marks.insert(dc.to_string(), node.attribute("class").unwrap_or_default().to_string());
        }
    }
    map
}

impl Map {
    /// The data center whose legend colour fills `country`.
    fn served_by(&self, country: &str) -> &str {
        let fill = &self.countries[country];
        self.legend.iter().find(|(_, (f, _))| f == fill).map_or("none", |(dc, _)| dc.as_str())
    }
}

const EUROPE: [&str; 5] = ["FR", "DE", "ES", "PL", "IT"];
const AMERICA: [&str; 3] = ["US", "CA", "MX"];
const ASIA: [&str; 3] = ["JP", "IN", "ID"];

fn assert_regions(map: &Map, europe: &str, america: &str, asia: &str) {
    for (countries, dc) in [(&EUROPE[..], europe), (&AMERICA[..], america), (&ASIA[..], asia)] {
        for c in countries {
            assert_eq!(map.served_by(c), dc, "{c}");
        }
    }
}

fn map_file(zones: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("map.svg");
    let mut args = vec!["map", "--svg", out.to_str().unwrap(), "--zones", zones.to_str().unwrap()];
    let geo = shipped_geo();
    args.extend(["--geo", geo.to_str().unwrap()]);
    args.extend(extra);
    let (code, stdout, stderr) = meridian(&args);
    let svg = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(code != Some(0) || !svg.is_empty(), "{stdout}{stderr}");
    (code, svg, stderr)
}

#[test]
fn the_map_fills_each_region_with_its_data_center_and_down_recolours_europe() {
    let (_dir, zones) = example(false);
    let (code, svg, err) = map_file(&zones, &[]);
    assert_eq!(code, Some(0), "{err}");
    let map = read_map(&svg);
    assert!(map.countries.len() > 150, "{} countries", map.countries.len());
    let colours: std::collections::HashSet<&String> = map.legend.values().map(|(f, _)| f).collect();
    assert_eq!(colours.len(), 3, "one colour per data center: {:?}", map.legend);
    assert_regions(&map, "ams", "iad", "sin");
    assert!(map.legend["ams"].1.contains("2/2 members up"), "{:?}", map.legend["ams"]);
    assert_eq!(map.marks["ams"], "datacenter");

    // ams failed: Europe goes to its next nearest, iad; the rest stay.
    let (code, svg, err) = map_file(&zones, &["--down", "ams", "--pool", "www"]);
    assert_eq!(code, Some(0), "{err}");
    let map = read_map(&svg);
    assert_regions(&map, "iad", "iad", "sin");
    assert!(map.legend["ams"].1.contains("0 countries; simulated down"), "{:?}", map.legend["ams"]);
    assert_eq!(map.marks["ams"], "datacenter out");

    // Mistakes: named, with what exists, and no file written.
    let (code, svg, err) = map_file(&zones, &["--pool", "nope"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown pool 'nope' (defined: www)"), "{err}");
    assert!(svg.is_empty());
    let (code, _, err) = map_file(&zones, &["--down", "fra"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("unknown data center 'fra' (defined: ams, iad, sin)"), "{err}");
}

/// The API address from a server's start-up line.
fn api_of(s: &Serve) -> std::net::SocketAddr {
    let line = s.seen.iter().find(|l| l.contains("API on http://")).unwrap();
    line.split("API on http://").nth(1).unwrap().trim().parse().unwrap()
}

#[test]
fn the_live_map_follows_drains_and_simulated_failures() {
    let (_dir, zones) = example(false);
    let s = Serve::start(&zones, &["--geo", shipped_geo().to_str().unwrap(), "--api", "127.0.0.1:0"]);
    let api = api_of(&s);
    let (code, svg) = http(api, "GET", "/map.svg", None, None);
    assert_eq!(code, 200, "{svg}");
    assert_regions(&read_map(&svg), "ams", "iad", "sin");
    let (code, svg) = http(api, "GET", "/map.svg?pool=www&down=sin", None, None);
    assert_eq!(code, 200);
    let map = read_map(&svg);
    assert_ne!(map.served_by("JP"), "sin");
    assert_eq!(map.served_by("FR"), "ams");
    // A drain through the API recolours Europe at once, and the legend says why.
    let (code, _) = http(api, "POST", "/overrides/datacenter/ams", None, Some(r#"{"action": "drain"}"#));
    assert_eq!(code, 200);
    let map = read_map(&http(api, "GET", "/map.svg", None, None).1);
    assert_regions(&map, "iad", "iad", "sin");
    assert!(map.legend["ams"].1.contains("drained"), "{:?}", map.legend["ams"]);
    let (code, body) = http(api, "GET", "/map.svg?pool=nope", None, None);
    assert_eq!(code, 404);
    assert!(body.contains("unknown pool 'nope'"), "{body}");
}

/// Chromium, if installed (scripts/test.sh installs it): the binary's path.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| std::process::Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
}

/// Runs headless Chromium with `args` on `url`, for at most a minute; its standard output (the
/// DOM for --dump-dom).
fn browse(browser: &str, profile: &Path, args: &[&str], url: &str) -> String {
    let out = std::process::Command::new("timeout")
        .args(["60", browser])
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_status_page_shows_every_pool_data_center_and_member_and_a_drain_after_it_refreshes() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: no chromium (scripts/test.sh installs it: apt-get install chromium)");
        return;
    };
    let (_dir, zones) = example(false);
    let s = Serve::start(&zones, &["--geo", shipped_geo().to_str().unwrap(), "--api", "127.0.0.1:0"]);
    let api = api_of(&s);
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{api}/");
    let dom = browse(browser, profile.path(), &["--dump-dom"], &url);
    assert!(dom.contains("<meta http-equiv=\"refresh\" content=\"10\">"), "the page refreshes itself: {dom}");
    for id in ["pool-www", "datacenter-ams", "datacenter-iad", "datacenter-sin"] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    for m in ["ams-1", "ams-2", "iad-1", "iad-2", "sin-1", "sin-2"] {
        assert!(dom.contains(&format!("id=\"member-www-{m}\"")), "member {m} missing");
    }
    // The map is inline, with Europe in ams's colour, and nothing is fetched from elsewhere.
    assert!(dom.contains("id=\"country-FR\""), "the map is on the page");
    assert!(!dom.contains("src=\"http") && !dom.contains("href=\"http"), "no external request");
    let row = |dom: &str, m: &str| {
        let at = dom.find(&format!("id=\"member-www-{m}\"")).unwrap();
        dom[at..at + dom[at..].find("</tr>").unwrap()].to_string()
    };
    assert!(row(&dom, "ams-1").contains("class=\"up\">up<"), "{}", row(&dom, "ams-1"));

    // A drain through the API shows in the page the browser gets when it refreshes (the
    // refresh loads the same address again).
    let (code, _) = http(api, "POST", "/overrides/datacenter/ams", None, Some(r#"{"action": "drain", "ttl": 600}"#));
    assert_eq!(code, 200);
    let dom = browse(browser, profile.path(), &["--dump-dom"], &url);
    let ams = row(&dom, "ams-1");
    assert!(ams.contains("class=\"drained\">drained<") && ams.contains("drain on data center ams"), "{ams}");
    assert!(row(&dom, "iad-1").contains("class=\"up\">up<"));

    // Screenshots of the page and of the map, as README shows them (MERIDIAN_SCREENSHOTS=DIR
    // writes them there: docs/images for the committed ones).
    let shots = std::env::var_os("MERIDIAN_SCREENSHOTS").map(PathBuf::from);
    let dir = tempfile::tempdir().unwrap();
    let out = shots.clone().unwrap_or_else(|| dir.path().to_path_buf());
    for (name, path, size) in [("status-page.png", "/", "1100,1900"), ("map.png", "/map.svg", "960,560")] {
        let file = out.join(name);
        browse(
            browser,
            profile.path(),
            &[&format!("--screenshot={}", file.display()), &format!("--window-size={size}"), "--hide-scrollbars"],
            &format!("http://{api}{path}"),
        );
        let png = std::fs::read(&file).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{name}: {} bytes", png.len());
    }
}

#[test]
fn the_grafana_dashboard_queries_only_metrics_a_server_exports() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/grafana-dashboard.json"))
        .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().unwrap();
    let mut exprs: Vec<String> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap().to_string()))
        .collect();
    for v in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["query"]["query"].as_str() {
            exprs.push(q.to_string());
        }
    }
    let mut names: Vec<String> = Vec::new();
    for e in &exprs {
        let mut rest = e.as_str();
        while let Some(at) = rest.find("meridian_") {
            let name: String =
                rest[at..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
            rest = &rest[at + name.len()..];
            names.push(name);
        }
    }
    names.sort();
    names.dedup();
    assert!(names.len() >= 12, "{names:?}");

    // A server with checks that run, a data center under capacity spillover whose members
    // report a load (a backend answering {"load": 0.5}; nothing listens at the others' probe
    // addresses, so their checks fail), and some traffic.
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let backend_addr = backend.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut s in backend.incoming().flatten().take(500) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = s.read(&mut [0u8; 2048]);
            let body = r#"{"load": 0.5}"#;
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            let _ = s.write_all(format!("{head}{body}").as_bytes());
        }
    });
    let (_dir, zones) = example(true);
    let path = zones.join("example.com.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    let check = toml.lines().find(|l| l.starts_with("check = ")).unwrap().to_string();
    let fast = check.replace("interval = 2,", "interval = 0.3,").replace("timeout = 1,", "timeout = 0.2,");
    let toml = toml
        .replace(&check, &fast.replace(" }", ", load = \"json:load\" }"))
        .replacen("[datacenters.ams]\n", "[datacenters.ams]\nspillover = { above = 0.8 }\n", 1)
        .replace("\"127.0.0.1:8001\"", &format!("\"{backend_addr}\""))
        .replace("\"127.0.0.1:8002\"", &format!("\"{backend_addr}\""));
    std::fs::write(&path, toml).unwrap();
    let s = Serve::start(&zones, &["--geo", shipped_geo().to_str().unwrap(), "--api", "127.0.0.1:0"]);
    let api = api_of(&s);
    dig(s.port, &["www.example.com", "A", "+subnet=81.0.0.0/16"]);
    let scrape = || http(api, "GET", "/metrics", None, None).1;
    let exported = |scrape: &str, name: &str| {
        scrape.lines().any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
    };
    let ready = common::wait_until(Duration::from_secs(10), || {
        let s = scrape();
        names.iter().all(|n| exported(&s, n))
    });
    let s = scrape();
    let missing: Vec<&String> = names.iter().filter(|n| !exported(&s, n)).collect();
    assert!(ready.is_some(), "the dashboard queries metrics no server exports: {missing:?}");
    // Every panel has a data source and a title.
    for p in panels {
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()) && p["datasource"]["uid"] == "${datasource}", "{p}");
    }
}
