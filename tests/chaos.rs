//! The chaos drill: three data centers of fake backends, steady queries through Meridian,
//! and backends (single members and whole data centers) killed and restored at random. It
//! checks that no answer points at a dead data center once the detection window has passed,
//! measures detection and recovery per event, the availability clients saw, and compares
//! Meridian's own failure count and MTTR with the drill's log.
//!
//! Short by default (about 20 s); `CHAOS_SECONDS=600 cargo test --release --test chaos --
//! --nocapture` (or `bench/chaos.sh`) runs the long version.

#![allow(clippy::needless_range_loop)] // indexes name data centers and members in several tables
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use common::*;

const INTERVAL: f64 = 0.2;
const TIMEOUT: f64 = 0.1;
const FALL: u32 = 2;
const RISE: u32 = 2;

/// splitmix64, seeded: the same drill every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[test]
fn chaos_drill() {
    let seconds: f64 = std::env::var("CHAOS_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20.0);
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    std::fs::write(zones.join("chaos.test.zone"), "$TTL 300\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.53\n")
        .unwrap();
    let dcs = ["ams", "iad", "sin"];
    let coords = [(52.37, 4.90), (38.95, -77.45), (1.35, 103.82)];
    let mut backends: Vec<Vec<TcpBackend>> = dcs.iter().map(|_| (0..2).map(|_| TcpBackend::new()).collect()).collect();
    let mut toml = String::new();
    for (d, (lat, lon)) in dcs.iter().zip(coords) {
        toml.push_str(&format!("[datacenters.{d}]\nlat = {lat}\nlon = {lon}\n"));
    }
    toml.push_str(&format!(
        "[pools.www]\nnames = [\"www\"]\nttl = 30\ndegraded_ttl = 5\ncheck = {{ type = \"tcp\", interval = {INTERVAL}, timeout = {TIMEOUT}, rise = {RISE}, fall = {FALL} }}\n[pools.www.members]\n"
    ));
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (d, dc) in dcs.iter().enumerate() {
        for (m, b) in backends[d].iter().enumerate() {
            let ip = format!("10.{d}.0.{}", m + 1);
            toml.push_str(&format!(
                "{dc}-{m} = {{ datacenter = \"{dc}\", ipv4 = \"{ip}\", probe = \"{}\" }}\n",
                b.addr
            ));
            owner.insert(ip, d);
        }
    }
    std::fs::write(zones.join("chaos.test.toml"), toml).unwrap();
    let geo = dir.path().join("geo.mmdb");
    write_test_geo(&geo);
    let server = TestServer::start_full(&zones, &geo, Default::default(), None);
    let table = server.daemon.as_ref().unwrap().health.clone();
    wait_until(Duration::from_secs(5), || {
        table
            .lock()
            .unwrap()
            .report_all(SystemTime::now())
            .iter()
            .all(|r| r.state.status == meridian::health::Status::Up)
    })
    .expect("all members up before the drill");

    // The plan: events at random times; each kills one member or a whole data center and
    // restores it 1-3 s later. Data center outages are what clients must be moved away from.
    let mut rng = Rng(0x5eed);
    let start = Instant::now();
    let end = Duration::from_secs_f64(seconds);
    let window = Duration::from_secs_f64(INTERVAL * 1.1 * f64::from(FALL) + TIMEOUT + 0.25);
    // dead[d] = Some(when the whole data center went dead)
    let mut dead_since: Vec<Option<Instant>> = vec![None; 3];
    let mut outages: Vec<(usize, Instant, Option<Instant>)> = Vec::new();
    let mut down_members: Vec<(usize, usize, Instant)> = Vec::new();
    let mut next_event = start + Duration::from_secs_f64(rng.range(0.5, 1.5));
    let (mut queries, mut good, mut violations) = (0u64, 0u64, 0u64);
    let mut detections = Vec::new();
    let mut recoveries = Vec::new();
    let mut pending_detect: Option<(usize, Instant)> = None;
    let mut pending_recover: Option<Instant> = None;
    let mut id = 0u16;
    while start.elapsed() < end || !down_members.is_empty() {
        let now = Instant::now();
        // Restore what is due.
        down_members.retain(|&(d, m, until)| {
            if now >= until {
                backends[d][m].start();
                false
            } else {
                true
            }
        });
        for d in 0..3 {
            let all_down = (0..2).all(|m| down_members.iter().any(|&(x, y, _)| x == d && y == m));
            if !all_down && dead_since[d].is_some() {
                dead_since[d] = None;
                if let Some(o) = outages.iter_mut().rev().find(|o| o.0 == d && o.2.is_none()) {
                    o.2 = Some(now);
                }
                if d == 0 {
                    pending_recover = Some(now);
                }
            }
        }
        // Start the next event.
        if now >= next_event && start.elapsed() < end {
            // Half the events hit ams, the data center the client is sent to, so that detection
            // and recovery can be measured; the rest hit any data center.
            let d = if rng.next().is_multiple_of(2) { 0 } else { (rng.next() % 3) as usize };
            let whole = !rng.next().is_multiple_of(3);
            let until = now + Duration::from_secs_f64(rng.range(1.0, 3.0));
            for m in 0..2 {
                if (whole || m == 0) && !down_members.iter().any(|&(x, y, _)| x == d && y == m) {
                    backends[d][m].stop();
                    down_members.push((d, m, until));
                }
            }
            if (0..2).all(|m| down_members.iter().any(|&(x, y, _)| x == d && y == m)) && dead_since[d].is_none() {
                dead_since[d] = Some(now);
                outages.push((d, now, None));
                if d == 0 {
                    pending_detect = Some((0, now));
                }
            }
            next_event = now + Duration::from_secs_f64(rng.range(1.0, 3.0));
        }
        // One query from an Amsterdam client.
        id = id.wrapping_add(1);
        let m = udp(
            server.addr,
            &query("www.chaos.test", 1, Q { id, edns: Some(1232), ecs: Some((1, 24, &[81, 0, 1])), ..Q::default() }),
        );
        queries += 1;
        let at = Instant::now();
        let answered: Vec<usize> = m.answers.iter().filter_map(|r| owner.get(&r.data.to_string()).copied()).collect();
        let all_dead = dead_since.iter().all(Option::is_some);
        let mut ok = !answered.is_empty();
        for &d in &answered {
            if let Some(since) = dead_since[d] {
                if all_dead {
                    ok = false; // the fallback: nothing could serve
                } else if at.duration_since(since) > window {
                    violations += 1;
                    ok = false;
                    eprintln!("violation: answer from dead {} {:?} after it died", dcs[d], at.duration_since(since));
                } else {
                    ok = false;
                }
            }
        }
        if ok {
            good += 1;
        }
        if let Some((d, since)) = pending_detect {
            if !answered.contains(&d) {
                detections.push(at.duration_since(since).as_secs_f64());
                pending_detect = None;
            } else if dead_since[d].is_none() {
                pending_detect = None; // restored before it was detected
            }
        }
        if let Some(since) = pending_recover {
            if answered.contains(&0) {
                recoveries.push(at.duration_since(since).as_secs_f64());
                pending_recover = None;
            } else if dead_since[0].is_some() {
                pending_recover = None;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let figures = table.lock().unwrap().figures(SystemTime::now());
    let ams = figures.iter().find(|(k, n, _)| *k == "datacenter" && n == "ams").unwrap().2.clone();
    let ams_outages: Vec<f64> =
        outages.iter().filter(|o| o.0 == 0).filter_map(|o| o.2.map(|e| e.duration_since(o.1).as_secs_f64())).collect();
    let drill_mttr =
        if ams_outages.is_empty() { f64::NAN } else { ams_outages.iter().sum::<f64>() / ams_outages.len() as f64 };
    eprintln!(
        "chaos drill: {seconds:.0} s, {} outages of whole data centers ({} of ams), {queries} queries, availability seen by clients {:.2}%, answers pointing at a dead data center after detection: {violations}",
        outages.len(),
        ams_outages.len(),
        100.0 * good as f64 / queries as f64
    );
    eprintln!(
        "  detection (ams): median {:.3} s, max {:.3} s over {} events; recovery: median {:.3} s, max {:.3} s over {} events",
        median(&mut detections.clone()),
        detections.iter().cloned().fold(0.0, f64::max),
        detections.len(),
        median(&mut recoveries.clone()),
        recoveries.iter().cloned().fold(0.0, f64::max),
        recoveries.len()
    );
    eprintln!(
        "  Meridian's figures for ams: failures {}, MTTR {:?} s; the drill's: {} outages, mean length {drill_mttr:.3} s",
        ams.failures,
        ams.mttr_seconds,
        ams_outages.len()
    );
    assert_eq!(violations, 0, "answers pointed at a dead data center after the detection window");
    assert!(!outages.is_empty(), "the drill broke nothing");
    // Meridian counts the outages it saw; a very short one may end before it is detected,
    // so it can see fewer, never more.
    assert!(ams.failures as usize <= ams_outages.len() + 1, "{} > {}", ams.failures, ams_outages.len());
    if let (Some(mttr), true) = (ams.mttr_seconds, ams.failures > 0 && !ams_outages.is_empty()) {
        // Detected outages are seen a detection window late and end a rise window late.
        assert!((mttr - drill_mttr).abs() < 1.5, "Meridian's MTTR {mttr} vs the drill's {drill_mttr}");
    }
}
