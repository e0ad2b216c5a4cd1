//! Hostile and odd queries, table-driven with hand-built bytes. Each case says what a trusted
//! server does (the choices where servers differ are listed in ARCHITECTURE.md): no reply,
//! or a reply with the query's ID and a given rcode. The server must answer every case within
//! bounded time and keep answering afterwards.

mod common;

use std::time::{Duration, Instant};

use common::hostile::*;
use common::*;

fn check(server: std::net::SocketAddr, what: &str, packet: &[u8], expect: Expect) -> Result<(), String> {
    let started = Instant::now();
    let reply = udp_raw(server, packet, Duration::from_millis(if expect == Expect::Silence { 300 } else { 2000 }));
    match (expect, reply) {
        (Expect::Silence, None) => Ok(()),
        (Expect::Silence, Some(r)) => Err(format!("{what}: expected no reply, got {r:02x?}")),
        (_, None) => Err(format!("{what}: no reply")),
        (_, Some(r)) => {
            if r.len() < 12 || r[0..2] != packet[0..2] {
                return Err(format!("{what}: reply without the query's ID: {r:02x?}"));
            }
            if r[2] & 0x80 == 0 {
                return Err(format!("{what}: reply without QR"));
            }
            if started.elapsed() > Duration::from_millis(500) {
                return Err(format!("{what}: took {:?}", started.elapsed()));
            }
            let rcode = r[3] & 0x0f;
            match expect {
                Expect::Rcode(want) if rcode == want => Ok(()),
                Expect::Rcode(want) => Err(format!("{what}: rcode {rcode}, expected {want}")),
                Expect::BadVers | Expect::CleanOpt => {
                    let m = hickory_proto::op::Message::from_vec(&r).map_err(|e| format!("{what}: {e}"))?;
                    let edns = m.edns.as_ref().ok_or(format!("{what}: no OPT in the reply"))?;
                    if expect == Expect::BadVers {
                        return if u16::from(m.metadata.response_code) == 16 {
                            Ok(())
                        } else {
                            Err(format!("{what}: {:?}", m.metadata.response_code))
                        };
                    }
                    if rcode != 0
                        || !edns.options().as_ref().is_empty()
                        || edns.flags().dnssec_ok
                        || m.answers.is_empty()
                    {
                        return Err(format!("{what}: expected a clean NOERROR answer, got {m:?}"));
                    }
                    Ok(())
                }
                Expect::Silence => unreachable!(),
            }
        }
    }
}

#[test]
fn malformed_and_odd_queries_get_the_documented_answer() {
    let zones = tempfile::tempdir().unwrap();
    std::fs::write(
        zones.path().join("example.test.zone"),
        "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\nwww A 192.0.2.1\nwww TXT \"hello\"\n",
    )
    .unwrap();
    let geo = zones.path().join("..").join(format!("geo-{}.mmdb", std::process::id()));
    write_test_geo(&geo);
    let server = TestServer::start_geo(zones.path(), &geo);
    let table = cases();
    let total = table.len();
    let mut failures = Vec::new();
    for (what, packet, expect) in &table {
        if let Err(e) = check(server.addr, what, packet, *expect) {
            failures.push(e);
        }
    }
    // Still answering after all of it.
    let m = udp(server.addr, &query("www.example.test", 1, Q::default()));
    assert_eq!(m.answers.len(), 1);
    let stats = &server.daemon.as_ref().unwrap().running.shared.stats;
    assert!(stats.dropped.load(std::sync::atomic::Ordering::Relaxed) >= 4, "short packets and responses are counted");
    assert_eq!(stats.panics.load(std::sync::atomic::Ordering::Relaxed), 0);
    eprintln!("malformed-query table: {} of {total} cases pass", total - failures.len());
    let _ = std::fs::remove_file(&geo);
    assert!(failures.is_empty(), "{} of {total} cases fail:\n{}", failures.len(), failures.join("\n"));
}

/// The replies rate limiting sends in place of an answer (slip), against a server that slips
/// every response (`rate` 0, `slip` 1): each keeps the ID, QR, opcode, RD and CD, sets TC,
/// carries the question only, and has an OPT record exactly when the query had one (DO and
/// ECS echoed, as in every other reply).
#[test]
fn slip_replies_keep_flags_and_opt_like_every_reply() {
    use meridian::server::Limits;
    use meridian::server::rrl::RrlConfig;
    let zones = tempfile::tempdir().unwrap();
    std::fs::write(
        zones.path().join("example.test.zone"),
        "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 60\n@ NS ns\nns A 192.0.2.53\nwww A 192.0.2.1\n",
    )
    .unwrap();
    let rrl = RrlConfig { rate: 0, slip: 1, ..RrlConfig::new(0) };
    let server = TestServer::start_with(zones.path(), Limits { rrl: Some(rrl), ..Limits::default() });
    let www = name(&[b"www", b"example", b"test"]);
    let plain = q(60, &www, 1);
    let with_flags = |packet: &[u8], flags: u16| {
        let mut p = packet.to_vec();
        p[2..4].copy_from_slice(&flags.to_be_bytes());
        p
    };
    // (what, packet, OPT expected, DO expected, ECS echoed)
    let cases: Vec<(&str, Vec<u8>, bool, bool, bool)> = vec![
        ("plain", plain.clone(), false, false, false),
        ("RD", with_flags(&plain, 0x0100), false, false, false),
        ("CD", with_flags(&plain, 0x0010), false, false, false),
        ("RD and CD with OPT", with_flags(&q_edns(61, &www, 1, &opt(1232, [0; 4], &[])), 0x0110), true, false, false),
        ("OPT with DO", q_edns(62, &www, 1, &opt(1232, [0, 0, 0x80, 0], &[])), true, true, false),
        ("OPT with ECS", q_edns(63, &www, 1, &opt(1232, [0; 4], &ecs(1, 24, 0, &[81, 0, 1]))), true, false, true),
        (
            "NXDOMAIN with CD",
            with_flags(&q(64, &name(&[b"nope", b"example", b"test"]), 1), 0x0010),
            false,
            false,
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (what, packet, want_opt, want_do, want_ecs) in &cases {
        let Some(r) = udp_raw(server.addr, packet, Duration::from_secs(2)) else {
            failures.push(format!("{what}: no reply"));
            continue;
        };
        let flags = u16::from_be_bytes([r[2], r[3]]);
        let query_flags = u16::from_be_bytes([packet[2], packet[3]]);
        let m = hickory_proto::op::Message::from_vec(&r).unwrap();
        let problems = [
            (r[0..2] != packet[0..2], "ID changed"),
            (flags & 0x8000 == 0, "QR clear"),
            (flags & 0x0200 == 0, "TC clear"),
            (flags & 0x7910 != query_flags & 0x7910, "opcode, RD or CD not copied"),
            (m.queries.len() != 1 || !m.answers.is_empty() || !m.authorities.is_empty(), "not question only"),
            (m.edns.is_some() != *want_opt, "OPT presence differs from the query"),
            (m.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok != *want_do), "DO not echoed"),
            (m.edns.as_ref().is_some_and(|e| e.options().as_ref().is_empty() == *want_ecs), "ECS not echoed"),
        ];
        for (bad, why) in problems {
            if bad {
                failures.push(format!("{what}: {why}: {r:02x?}"));
            }
        }
    }
    let stats = &server.daemon.as_ref().unwrap().running.shared.stats;
    assert_eq!(stats.rrl_slipped.load(std::sync::atomic::Ordering::Relaxed), cases.len() as u64);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
