//! `explain` and the server tell the same story: for the queries of the fast-path corpus (every
//! zone directory the tests use, names around every owner, A, AAAA and MX, with and without
//! EDNS and ECS, IPv4, IPv6 and IPv4-mapped IPv6 sources, under four health states), the
//! account `explain` gives of a request and the response the server sends for it have the same
//! RCODE, records (owner, TTL, type, data), data center and ECS scope.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{corpus, health_states};
use meridian::config::Config;
use meridian::query::explain::account;
use meridian::query::{Request, Transport, answer};

const NOW: u32 = 1_764_000_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every owner of a configuration, a name below each, and one name that does not exist per zone.
fn names(config: &Config) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for zone in config.zones.zones() {
        for node in zone.nodes() {
            out.push([b"\x05child".as_slice(), node.name.wire()].concat());
            out.push(node.name.wire().to_vec());
        }
        out.push([b"\x0cnxdomain-one".as_slice(), zone.origin().wire()].concat());
    }
    out
}

/// European, American, Asian, operator-network and unknown clients, over IPv4, IPv6 and
/// IPv4-mapped IPv6 (what a dual-stack socket reports for an IPv4 client).
const CLIENTS: &[&str] = &[
    "81.0.1.9",
    "8.8.8.8",
    "1.0.16.1",
    "10.1.2.3",
    "10.20.1.1",
    "127.0.0.1",
    "2a00:1450:4001::1",
    "2001:db8:ffff::1",
    "::ffff:81.0.1.9",
    "::ffff:8.8.8.8",
    "::ffff:10.1.2.3",
    "::ffff:1.0.16.1",
];

/// (EDNS, ECS family and source prefix) of the query.
const SHAPES: &[(bool, Option<(u16, u8)>)] =
    &[(false, None), (true, None), (true, Some((1, 24))), (true, Some((1, 0))), (true, Some((2, 48)))];

fn build_query(id: u16, qname: &[u8], qtype: u16, edns: bool, ecs: Option<(u16, u8)>, client: IpAddr) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)]);
    p.extend_from_slice(qname);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&[0, 1]);
    if edns {
        let mut opts = Vec::new();
        if let Some((family, prefix)) = ecs {
            let mut addr = match (family, client) {
                (1, IpAddr::V4(a)) => a.octets().to_vec(),
                (1, IpAddr::V6(a)) => a.to_ipv4_mapped().map_or(vec![81, 0, 1, 0], |a| a.octets().to_vec()),
                (_, IpAddr::V6(a)) => a.octets().to_vec(),
                (_, IpAddr::V4(a)) => a.to_ipv6_mapped().octets().to_vec(),
            };
            addr.truncate(usize::from(prefix).div_ceil(8));
            opts.extend_from_slice(&[0, 8]);
            opts.extend_from_slice(&((4 + addr.len()) as u16).to_be_bytes());
            opts.extend_from_slice(&family.to_be_bytes());
            opts.extend_from_slice(&[prefix, 0]);
            opts.extend_from_slice(&addr);
        }
        p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
        p.extend_from_slice(&(opts.len() as u16).to_be_bytes());
        p.extend_from_slice(&opts);
    }
    p
}

/// (owner, TTL, type, data) of an A, AAAA or CNAME record, lower-cased: what both sides show
/// the same way.
type Line = (String, u32, String, String);

fn comparable(rtype: &str) -> bool {
    matches!(rtype, "A" | "AAAA" | "CNAME")
}

#[test]
fn explain_and_the_server_agree_over_the_corpus() {
    let mut compared = 0usize;
    let (mut gslb, mut mapped, mut skipped, mut fallbacks) = (0usize, 0usize, 0usize, 0usize);
    let mut id = 0u16;
    for dir in corpus() {
        let config = Arc::new(Config::load(&dir, &root().join("geo/dbip-country.mmdb")).unwrap());
        let names = names(&config);
        for (state, snapshot) in health_states(&config) {
            for name in &names {
                for (qtype, client, &(edns, ecs)) in [1u16, 28, 15]
                    .into_iter()
                    .flat_map(|t| CLIENTS.iter().map(move |c| (t, c.parse::<IpAddr>().unwrap())))
                    .flat_map(|(t, c)| SHAPES.iter().map(move |s| (t, c, s)))
                {
                    id = id.wrapping_add(1);
                    let packet = build_query(id, name, qtype, edns, ecs, client);
                    let peer = SocketAddr::new(client, 1024 + id % 60_000);
                    // TCP, so that nothing is truncated: the two sides must show every record.
                    let request = Request::new(&snapshot, &packet, peer, Transport::Tcp, NOW);
                    let mut out = Vec::new();
                    let outcome = answer(&request, &mut out).expect("answered");
                    let told = account(&request, &[], "test").expect("explained");
                    let what = format!("{}: {state}: {told:?} for {packet:02x?} from {peer}", dir.display());
                    assert_eq!(told.rcode, meridian::dns::rcode_to_text(outcome.rcode), "rcode: {what}");
                    let m = hickory_proto::op::Message::from_vec(&out).unwrap();
                    let sent: Vec<Line> = m
                        .answers
                        .iter()
                        .filter(|r| comparable(&r.record_type().to_string()))
                        .map(|r| {
                            let data = r.data.to_string().to_lowercase();
                            (r.name.to_string().to_lowercase(), r.ttl, r.record_type().to_string(), data)
                        })
                        .collect();
                    let shown: Vec<Line> = told
                        .records
                        .iter()
                        .map(|line| {
                            let line = line.split("    ;").next().unwrap();
                            let mut f = line.splitn(4, ' ');
                            let owner = f.next().unwrap().to_lowercase();
                            let ttl = f.next().unwrap().parse().unwrap();
                            (owner, ttl, f.next().unwrap().to_string(), f.next().unwrap_or("").to_lowercase())
                        })
                        .filter(|l| comparable(&l.2))
                        .collect();
                    assert_eq!(sent, shown, "records: {what}");
                    assert_eq!(m.answers.len(), told.records.len(), "answer count: {what}");
                    assert_eq!(m.authorities.len(), told.authority.len(), "authority count: {what}");
                    assert_eq!(outcome.scope, told.scope, "scope: {what}");
                    let dc = outcome.gslb.and_then(|g| g.datacenter).map(|d| config.gslb.datacenters[d].name.clone());
                    assert_eq!(dc, told.datacenter, "data center: {what}");
                    assert_eq!(outcome.gslb.is_some(), told.pool.is_some(), "pool: {what}");
                    compared += 1;
                    if outcome.gslb.is_some() {
                        gslb += 1;
                        mapped += usize::from(client.to_string().starts_with("::ffff:"));
                        skipped += usize::from(!told.skipped.is_empty());
                        fallbacks += usize::from(told.fallback.is_some());
                    }
                }
            }
        }
    }
    // The agreement means something only if GSLB answers, mapped sources, skipped data centers
    // and fallbacks were among the queries.
    eprintln!(
        "{compared} compared: {gslb} GSLB, {mapped} from mapped sources, {skipped} with skips, {fallbacks} fallbacks"
    );
    assert!(compared > 100_000 && gslb > 3000 && mapped > 1000 && skipped > 1500 && fallbacks > 500);
}
