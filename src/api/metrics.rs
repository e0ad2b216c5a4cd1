//! The Prometheus text exposition of everything Meridian counts.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::AppState;
use crate::config::ZoneState;
use crate::health::{DURATION_BUCKETS, Status};
use crate::policy::View;
use crate::server::metrics::POOL_COUNTERS;

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Renders every metric.
pub fn render(state: &AppState) -> String {
    let mut o = String::with_capacity(8192);
    let stats = &state.shared.stats;

    process_metrics(&mut o);
    header(&mut o, "meridian_build_info", "gauge", "Build information; always 1.");
    let _ = writeln!(
        o,
        "meridian_build_info{{version=\"{}\",revision=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION"),
        env!("MERIDIAN_REVISION")
    );

    header(&mut o, "meridian_queries_total", "counter", "Answered queries by transport, query type and response code.");
    for (t, q, r, n) in stats.queries.snapshot() {
        let _ = writeln!(o, "meridian_queries_total{{transport=\"{t}\",qtype=\"{q}\",rcode=\"{r}\"}} {n}");
    }
    header(
        &mut o,
        "meridian_gslb_answers_total",
        "counter",
        "GSLB answers by pool and data center (none: the all fallback).",
    );
    for (p, d, n) in stats.answers.snapshot() {
        let _ = writeln!(o, "meridian_gslb_answers_total{{pool=\"{}\",datacenter=\"{}\"}} {n}", escape(&p), escape(&d));
    }
    for (name, help, v) in stats.plain() {
        header(&mut o, name, "counter", help);
        let _ = writeln!(o, "{name} {v}");
    }
    // Fallbacks and geo misses are GSLB answers: counted by pool, like the answers themselves.
    for (kind, name, help) in POOL_COUNTERS {
        header(&mut o, name, "counter", help);
        for (pool, n) in stats.answers.per_pool(kind) {
            let _ = writeln!(o, "{name}{{pool=\"{}\"}} {n}", escape(&pool));
        }
    }
    #[cfg(target_os = "linux")]
    if let Some(xdp) = &state.shared.xdp {
        xdp_metrics(&mut o, xdp);
    }
    let published = state.shared.snapshot.load_full();
    {
        use crate::policy::Health;
        let spills = crate::sync::lock(&state.health).spills();
        header(
            &mut o,
            "meridian_datacenter_dial_percent",
            "gauge",
            "Traffic dial of each data center: the percent of its client networks it keeps (an operator's dial or the configuration's, lowered by capacity spillover).",
        );
        for (i, d) in published.config.gslb.datacenters.iter().enumerate() {
            let dial = published.health.dial(i).unwrap_or(d.dial).min(published.health.spill(i));
            let _ = writeln!(o, "meridian_datacenter_dial_percent{{datacenter=\"{}\"}} {dial}", escape(&d.name));
        }
        header(
            &mut o,
            "meridian_datacenter_load",
            "gauge",
            "Mean load its serving members report (checks with a load source), for data centers with spillover.",
        );
        for d in &published.config.gslb.datacenters {
            if let Some(load) = spills.get(&d.name).and_then(|s| s.load) {
                let _ = writeln!(o, "meridian_datacenter_load{{datacenter=\"{}\"}} {load}", escape(&d.name));
            }
        }
    }
    if !published.config.keyring.is_empty() {
        let (hits, misses, kept) = published.config.keyring.signatures.counts();
        header(
            &mut o,
            "meridian_dnssec_signatures_total",
            "counter",
            "RRSIGs put in answers: found among the signatures kept (hit) or made for the answer (made).",
        );
        let _ = writeln!(o, "meridian_dnssec_signatures_total{{result=\"hit\"}} {hits}");
        let _ = writeln!(o, "meridian_dnssec_signatures_total{{result=\"made\"}} {misses}");
        header(&mut o, "meridian_dnssec_signatures_kept", "gauge", "Signatures kept for later answers.");
        let _ = writeln!(o, "meridian_dnssec_signatures_kept {kept}");
        header(
            &mut o,
            "meridian_dnssec_key_state",
            "gauge",
            "1 for each signed zone's key in the state its timing gives it now (waiting, published, active, removed).",
        );
        for k in published.config.keyring.report(u64::from(crate::cookie::now())) {
            let state = serde_json::to_value(k.state).unwrap_or_default();
            let role = serde_json::to_value(k.role).unwrap_or_default();
            let _ = writeln!(
                o,
                "meridian_dnssec_key_state{{zone=\"{}\",key=\"{}\",role=\"{}\",state=\"{}\"}} 1",
                escape(&k.zone),
                escape(&k.key),
                role.as_str().unwrap_or(""),
                state.as_str().unwrap_or("")
            );
        }
    }
    if let Some(certificates) = &state.shared.tls {
        header(
            &mut o,
            "meridian_tls_certificate_expiry_timestamp_seconds",
            "gauge",
            "When the certificate of the encrypted listeners (DoT, DoH, DoQ) stops being valid, in seconds since the Unix epoch.",
        );
        let _ = writeln!(o, "meridian_tls_certificate_expiry_timestamp_seconds {}", certificates.current().not_after);
    }
    let now = SystemTime::now();
    let (members, durations, figures, save_failures) = {
        let t = crate::sync::lock(&state.health);
        (t.report_all(now), t.durations().clone(), t.figures(now), t.save_failures())
    };
    header(
        &mut o,
        "meridian_state_save_failures_total",
        "counter",
        "State file writes that failed (overrides kept in memory).",
    );
    let _ = writeln!(o, "meridian_state_save_failures_total {save_failures}");
    if let Some(fleet) = &state.fleet {
        header(
            &mut o,
            "meridian_fleet_store_connected",
            "gauge",
            "1 while the fleet's etcd answers, 0 while it does not.",
        );
        let _ = writeln!(o, "meridian_fleet_store_connected {}", u8::from(fleet.connected()));
        header(&mut o, "meridian_fleet_store_disconnects_total", "counter", "Times the fleet's etcd was lost.");
        let _ = writeln!(
            o,
            "meridian_fleet_store_disconnects_total {}",
            fleet.disconnects.load(std::sync::atomic::Ordering::Relaxed)
        );
        let instances = fleet.instances();
        header(&mut o, "meridian_fleet_instances", "gauge", "Instances of the fleet with a live lease in etcd.");
        let _ = writeln!(o, "meridian_fleet_instances {}", instances.len());
        header(
            &mut o,
            "meridian_fleet_drift",
            "gauge",
            "1 when the instances differ in this (version, config, zones, geo), 0 when all agree.",
        );
        let drift = crate::fleet::drift(&instances);
        for what in ["version", "config", "zones", "geo"] {
            let _ = writeln!(o, "meridian_fleet_drift{{what=\"{what}\"}} {}", u8::from(drift.contains(&what)));
        }
    }
    header(&mut o, "meridian_member_up", "gauge", "1 when queries may answer the member, 0 when down or drained.");
    for m in &members {
        let _ = writeln!(
            o,
            "meridian_member_up{{pool=\"{}\",member=\"{}\",datacenter=\"{}\"}} {}",
            escape(&m.pool),
            escape(&m.member),
            escape(&m.datacenter),
            u8::from(m.view == View::Up)
        );
    }
    header(
        &mut o,
        "meridian_member_check_status",
        "gauge",
        "What the checks say: 1 for the member's current status (unknown, up, down).",
    );
    for m in &members {
        for (label, s) in [("unknown", Status::Unknown), ("up", Status::Up), ("down", Status::Down)] {
            let _ = writeln!(
                o,
                "meridian_member_check_status{{pool=\"{}\",member=\"{}\",status=\"{label}\"}} {}",
                escape(&m.pool),
                escape(&m.member),
                u8::from(m.state.status == s)
            );
        }
    }
    header(&mut o, "meridian_member_transitions_total", "counter", "Changes between up and down.");
    for m in &members {
        let _ = writeln!(
            o,
            "meridian_member_transitions_total{{pool=\"{}\",member=\"{}\"}} {}",
            escape(&m.pool),
            escape(&m.member),
            m.state.transitions
        );
    }
    header(&mut o, "meridian_check_duration_seconds", "histogram", "How long checks took.");
    let mut keys: Vec<_> = durations.keys().cloned().collect();
    keys.sort();
    for key in keys {
        let d = &durations[&key];
        let labels = format!("pool=\"{}\",member=\"{}\"", escape(&key.0), escape(&key.1));
        for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
            let _ = writeln!(o, "meridian_check_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}", d.buckets[i]);
        }
        let _ = writeln!(o, "meridian_check_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", d.count);
        let _ = writeln!(o, "meridian_check_duration_seconds_sum{{{labels}}} {}", d.sum);
        let _ = writeln!(o, "meridian_check_duration_seconds_count{{{labels}}} {}", d.count);
    }

    // The same pool, member and datacenter labels as meridian_member_up, so the series join.
    let config = state.shared.snapshot.load_full().config.clone();
    let labelled: Vec<(String, &crate::health::Figures)> =
        figures.iter().map(|(kind, name, f)| (figure_labels(&config, kind, name), f)).collect();
    header(
        &mut o,
        "meridian_availability_ratio",
        "gauge",
        "Fraction of known time up over a rolling window (from the health history).",
    );
    for (labels, f) in &labelled {
        for (window, a) in &f.availability {
            if let Some(a) = a {
                let _ = writeln!(o, "meridian_availability_ratio{{{labels},window=\"{window}\"}} {a}");
            }
        }
    }
    header(&mut o, "meridian_failures", "gauge", "Failures (up to down) in the kept history (7 days).");
    for (labels, f) in &labelled {
        let _ = writeln!(o, "meridian_failures{{{labels}}} {}", f.failures);
    }
    header(&mut o, "meridian_mtbf_seconds", "gauge", "Mean time between failures.");
    for (labels, f) in &labelled {
        if let Some(v) = f.mtbf_seconds {
            let _ = writeln!(o, "meridian_mtbf_seconds{{{labels}}} {v}");
        }
    }
    header(&mut o, "meridian_mttr_seconds", "gauge", "Mean time to recovery.");
    for (labels, f) in &labelled {
        if let Some(v) = f.mttr_seconds {
            let _ = writeln!(o, "meridian_mttr_seconds{{{labels}}} {v}");
        }
    }
    header(&mut o, "meridian_last_failure_timestamp_seconds", "gauge", "When the last failure began.");
    for (labels, f) in &labelled {
        if let Some(v) = f.last_failure {
            let _ = writeln!(o, "meridian_last_failure_timestamp_seconds{{{labels}}} {v}");
        }
    }

    let reload = state.reloader.status();
    header(&mut o, "meridian_reloads_total", "counter", "Reloads by result.");
    let _ = writeln!(o, "meridian_reloads_total{{result=\"success\"}} {}", reload.successes);
    let _ = writeln!(o, "meridian_reloads_total{{result=\"failure\"}} {}", reload.failures);
    header(
        &mut o,
        "meridian_zone_serial_not_increased_total",
        "counter",
        "Zones reloaded with changed content but a SOA serial that did not increase.",
    );
    let _ = writeln!(o, "meridian_zone_serial_not_increased_total {}", reload.serials_not_increased);
    header(
        &mut o,
        "meridian_last_reload_success_timestamp_seconds",
        "gauge",
        "When the configuration last loaded without an error (the start counts).",
    );
    let _ = writeln!(o, "meridian_last_reload_success_timestamp_seconds {}", reload.last_success);
    header(&mut o, "meridian_last_reload_ok", "gauge", "1 when the last reload succeeded (or none happened yet).");
    let _ = writeln!(o, "meridian_last_reload_ok {}", u8::from(reload.last.is_none() || reload.ok));

    if let Some(log) = &state.shared.query_log {
        header(&mut o, "meridian_query_log_lines_total", "counter", "Query log lines written.");
        let _ = writeln!(o, "meridian_query_log_lines_total {}", log.stats.written.load(Ordering::Relaxed));
        header(
            &mut o,
            "meridian_query_log_dropped_total",
            "counter",
            "Query log lines dropped because the writer fell behind.",
        );
        let _ = writeln!(o, "meridian_query_log_dropped_total {}", log.stats.dropped.load(Ordering::Relaxed));
    }
    let config = &state.shared.snapshot.load().config;
    header(&mut o, "meridian_zone_serial", "gauge", "SOA serial of each zone served.");
    for z in config.zones.zones() {
        let _ = writeln!(o, "meridian_zone_serial{{zone=\"{}\"}} {}", escape(&z.origin().to_string()), z.serial());
    }
    header(
        &mut o,
        "meridian_zone_state",
        "gauge",
        "1 for each zone's state: loaded (its file is served), kept (its file has errors; the version read earlier is served), failed (not served: SERVFAIL), pending (a secondary zone not transferred yet: SERVFAIL), expired (a secondary zone past its SOA expire: SERVFAIL).",
    );
    for z in &config.zone_status {
        for state in ZoneState::ALL {
            let _ = writeln!(
                o,
                "meridian_zone_state{{zone=\"{}\",state=\"{}\"}} {}",
                escape(&z.origin.to_string()),
                state.as_str(),
                u8::from(z.state == state)
            );
        }
    }
    let secondaries = state.shared.secondaries.status();
    header(&mut o, "meridian_secondary_transfers_total", "counter", "Transfers received for each secondary zone.");
    for (zone, s) in &secondaries {
        let _ = writeln!(o, "meridian_secondary_transfers_total{{zone=\"{}\"}} {}", escape(zone), s.transfers);
    }
    header(
        &mut o,
        "meridian_secondary_failures_total",
        "counter",
        "SOA checks or transfers of each secondary zone that failed (every primary tried).",
    );
    for (zone, s) in &secondaries {
        let _ = writeln!(o, "meridian_secondary_failures_total{{zone=\"{}\"}} {}", escape(zone), s.failures);
    }
    header(
        &mut o,
        "meridian_secondary_last_refresh_timestamp_seconds",
        "gauge",
        "When a primary last confirmed each secondary zone's copy (Unix time).",
    );
    for (zone, s) in &secondaries {
        if let Some(t) = s.last_refresh {
            let _ = writeln!(o, "meridian_secondary_last_refresh_timestamp_seconds{{zone=\"{}\"}} {t}", escape(zone));
        }
    }
    header(
        &mut o,
        "meridian_secondary_expiry_timestamp_seconds",
        "gauge",
        "When each secondary zone's copy expires without a successful refresh (Unix time).",
    );
    for (zone, s) in &secondaries {
        if let Some(t) = s.expires {
            let _ = writeln!(o, "meridian_secondary_expiry_timestamp_seconds{{zone=\"{}\"}} {t}", escape(zone));
        }
    }
    header(&mut o, "meridian_zone_load_errors", "gauge", "Errors in each zone's file at the last load.");
    for z in &config.zone_status {
        let _ =
            writeln!(o, "meridian_zone_load_errors{{zone=\"{}\"}} {}", escape(&z.origin.to_string()), z.errors.len());
    }
    o
}

/// The labels of an availability figure: `kind`, and `pool`, `member` and `datacenter` as
/// `meridian_member_up` has them (a member's data center looked up in `config`).
fn figure_labels(config: &crate::config::Config, kind: &str, name: &str) -> String {
    match kind {
        "member" => {
            let (pool, member) = name.split_once('/').unwrap_or((name, ""));
            let dc = config
                .gslb
                .pools
                .iter()
                .find(|p| p.name == pool)
                .and_then(|p| p.members.iter().find(|m| m.name == member))
                .map_or("", |m| config.gslb.datacenters[m.dc].name.as_str());
            format!(
                "kind=\"member\",pool=\"{}\",member=\"{}\",datacenter=\"{}\"",
                escape(pool),
                escape(member),
                escape(dc)
            )
        }
        "datacenter" => format!("kind=\"datacenter\",datacenter=\"{}\"", escape(name)),
        _ => format!("kind=\"{kind}\",pool=\"{}\"", escape(name)),
    }
}

/// The `process_*` metrics Prometheus client libraries export, read from /proc (Linux): start
/// time, resident memory, CPU seconds, open and allowed file descriptors.
fn process_metrics(o: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let page = rustix::param::page_size() as f64;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse::<f64>().ok())));
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        header(o, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
        let _ = writeln!(o, "process_cpu_seconds_total {}", (utime + stime) / ticks);
    }
    if let (Some(start), Some(boot)) = (field(22), boot) {
        header(o, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.");
        let _ = writeln!(o, "process_start_time_seconds {}", boot + start / ticks);
    }
    if let Some(rss) = field(24) {
        header(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        let _ = writeln!(o, "process_resident_memory_bytes {}", rss * page);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        header(o, "process_open_fds", "gauge", "Number of open file descriptors.");
        let _ = writeln!(o, "process_open_fds {}", fds.count());
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits")
        && let Some(max) = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse::<u64>().ok())
    {
        header(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        let _ = writeln!(o, "process_max_fds {max}");
    }
}

/// `--xdp`: what the program did with each queue's frames and what became of them.
#[cfg(target_os = "linux")]
fn xdp_metrics(o: &mut String, xdp: &crate::server::Xdp) {
    let counts = xdp.counts();
    let interface = escape(&xdp.interface);
    header(
        o,
        "meridian_xdp_frames_total",
        "counter",
        "Frames the XDP program saw on each receive queue: redirected to Meridian's socket or passed to the kernel.",
    );
    for (q, c) in counts.iter().enumerate() {
        for (verdict, n) in [("redirected", c.redirected), ("passed", c.passed)] {
            let _ = writeln!(
                o,
                "meridian_xdp_frames_total{{interface=\"{interface}\",queue=\"{q}\",verdict=\"{verdict}\"}} {n}"
            );
        }
    }
    header(o, "meridian_xdp_answered_total", "counter", "Replies sent through each XDP queue.");
    for (q, c) in counts.iter().enumerate() {
        let _ = writeln!(o, "meridian_xdp_answered_total{{interface=\"{interface}\",queue=\"{q}\"}} {}", c.answered);
    }
    header(
        o,
        "meridian_xdp_dropped_total",
        "counter",
        "Frames of each XDP queue dropped: malformed headers, a full transmit ring (replies), a full receive ring, an empty fill ring, or larger than a frame (rx_dropped).",
    );
    for (q, c) in counts.iter().enumerate() {
        for (reason, n) in [
            ("malformed", c.malformed),
            ("tx_ring_full", c.tx_ring_full),
            ("rx_ring_full", c.rx_ring_full),
            ("fill_ring_empty", c.fill_ring_empty),
            ("rx_dropped", c.rx_dropped),
        ] {
            let _ = writeln!(
                o,
                "meridian_xdp_dropped_total{{interface=\"{interface}\",queue=\"{q}\",reason=\"{reason}\"}} {n}"
            );
        }
    }
}
