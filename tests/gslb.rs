//! GSLB answers by location over the wire: a generated geo database, ECS from Europe, North
//! America, Asia and Oceania, operator networks, the ECS echo, and the selection policies.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};

const A: u16 = 1;
const TXT: u16 = 16;
const AAAA: u16 = 28;

struct Fixture {
    server: TestServer,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("test.mmdb");
    write_test_geo(&geo);
    let zones = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gslb");
    Fixture { server: TestServer::start_geo(&zones, &geo), _dir: dir }
}

fn ecs_query(name: &str, qtype: u16, family: u16, source: u8, addr: &'static [u8]) -> Vec<u8> {
    query(name, qtype, Q { id: 1, edns: Some(1232), ecs: Some((family, source, addr)), ..Q::default() })
}

fn addrs(m: &Message) -> Vec<String> {
    let mut v: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    v.sort();
    v
}

fn echoed(m: &Message) -> ClientSubnet {
    match m.edns.as_ref().expect("OPT").option(EdnsCode::Subnet) {
        Some(EdnsOption::Subnet(s)) => *s,
        other => panic!("no ECS echoed: {other:?}"),
    }
}

#[test]
fn ecs_clients_get_their_nearest_data_center_with_the_deciding_scope() {
    let f = fixture();
    // (ECS network, expected addresses, expected scope)
    type Case = (u16, u8, &'static [u8], &'static [&'static str], u8);
    let cases: [Case; 5] = [
        // Amsterdam (GeoIP2 City layout, /16 in the database): ams, two of its three members.
        (1, 24, &[81, 0, 1], &["192.0.2.10", "192.0.2.11", "192.0.2.12"], 16),
        // Kansas (flat layout, coordinates stored as strings, /24): iad. The scope is the
        // widest network with the same order: around it the database knows nothing, and
        // unlocated clients get the default order, iad first too, so all of 8.0.0.0/7 alike.
        (1, 24, &[8, 8, 8], &["198.51.100.10"], 7),
        // Singapore (country only: the country table's coordinates): sin.
        (1, 24, &[1, 0, 16], &["203.0.113.10"], 24),
        // Japan over IPv6 (country only): sin is nearest.
        (2, 48, &[0x20, 0x01, 0x02, 0x00, 0, 0], &["203.0.113.10"], 32),
        // Sydney is nearest to sin, but the map pins Oceania to iad.
        (1, 24, &[37, 1, 2], &["198.51.100.10"], 12),
    ];
    for (family, source, addr, expect, scope) in cases {
        let m = udp(f.server.addr, &ecs_query("www.gslb.test", A, family, source, addr));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        let got = addrs(&m);
        assert!(!got.is_empty() && got.len() <= 2, "{addr:?}: {got:?}");
        assert!(got.iter().all(|a| expect.contains(&a.as_str())), "{addr:?}: {got:?} not within {expect:?}");
        assert!(m.answers.iter().all(|r| r.ttl == 30));
        let s = echoed(&m);
        assert_eq!((s.source_prefix(), s.scope_prefix()), (source, scope), "{addr:?}");
    }
}

#[test]
fn aaaa_answers_come_from_members_with_ipv6() {
    let f = fixture();
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", AAAA, 1, 24, &[81, 0, 1]));
    assert_eq!(addrs(&m), ["2001:db8:a::10"]);
    // Singapore's data center has no IPv6: the next nearest with IPv6 (ams) answers.
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", AAAA, 1, 24, &[1, 0, 16]));
    assert_eq!(addrs(&m), ["2001:db8:a::10"]);
}

#[test]
fn operator_networks_come_before_the_geo_database() {
    let f = fixture();
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", A, 1, 24, &[10, 1, 2]));
    assert_eq!(addrs(&m), ["203.0.113.10"]);
    // 10.0.0.0/8 decided, but 10.20.0.0/16 inside it answers otherwise: the scope is the widest
    // network around the client that 10.20.0.0/16 does not cut into, 10.0.0.0/12 (scope 8
    // would tell resolvers to give 10.20.3.0's clients this answer too).
    assert_eq!(echoed(&m).scope_prefix(), 12);
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", A, 1, 24, &[10, 200, 2]));
    assert_eq!(addrs(&m), ["203.0.113.10"]);
    assert_eq!(echoed(&m).scope_prefix(), 9, "10.128.0.0/9");
    // The longer 10.20.0.0/16 says "near Amsterdam".
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", A, 1, 24, &[10, 20, 3]));
    assert!(addrs(&m).iter().all(|a| a.starts_with("192.0.2.1")), "{:?}", addrs(&m));
    assert_eq!(echoed(&m).scope_prefix(), 16);
    // An IPv6 network placed in a country: the US -> iad. The /48 lies in space the database
    // does not know, whose clients get the default order (iad first too): the scope is the
    // widest network around it with that order, 2001:db8:f000::/36.
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", A, 2, 56, &[0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0x12]));
    assert_eq!(addrs(&m), ["198.51.100.10"]);
    assert_eq!(echoed(&m).scope_prefix(), 36);
}

#[test]
fn unknown_and_private_clients_get_the_default_order() {
    let f = fixture();
    // No ECS: the source is 127.0.0.1, which no database places: the default order (iad).
    let m = udp(f.server.addr, &query("www.gslb.test", A, Q::default()));
    assert_eq!(addrs(&m), ["198.51.100.10"]);
    // A private network in ECS: the same, never an error.
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", A, 1, 24, &[192, 168, 7]));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(addrs(&m), ["198.51.100.10"]);
    // Source prefix 0: the answer must not depend on the client's network: scope 0.
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", A, 1, 0, &[]));
    assert_eq!(addrs(&m), ["198.51.100.10"]);
    assert_eq!(echoed(&m).scope_prefix(), 0);
}

#[test]
fn a_pool_may_ignore_ecs() {
    let f = fixture();
    // An Amsterdam ECS, but the pool locates by the resolver (loopback): default order, sin.
    let m = udp(f.server.addr, &ecs_query("noecs.gslb.test", A, 1, 24, &[81, 0, 1]));
    assert_eq!(addrs(&m), ["203.0.113.10"]);
    assert_eq!(echoed(&m).scope_prefix(), 0);
}

#[test]
fn aliases_other_types_and_second_names_of_a_pool() {
    let f = fixture();
    let m = udp(f.server.addr, &ecs_query("alias.gslb.test", A, 1, 24, &[8, 8, 8]));
    assert_eq!(
        rrs(&m.answers),
        strs(&["alias.gslb.test. 3600 CNAME www.gslb.test.", "www.gslb.test. 30 A 198.51.100.10"])
    );
    assert_eq!(echoed(&m).scope_prefix(), 7, "8.0.0.0/7 orders alike");
    let m = udp(f.server.addr, &ecs_query("www2.gslb.test", A, 1, 24, &[8, 8, 8]));
    assert_eq!(addrs(&m), ["198.51.100.10"]);
    // Other types at a pool name come from the zone file; static answers have scope 0.
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", TXT, 1, 24, &[8, 8, 8]));
    assert_eq!(m.answers.len(), 1);
    assert_eq!(echoed(&m).scope_prefix(), 0);
    // A pool with no IPv6 anywhere answers AAAA with NODATA and the SOA, not an empty accident.
    let m = udp(f.server.addr, &ecs_query("noecs.gslb.test", AAAA, 1, 24, &[8, 8, 8]));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 1);
}

#[test]
fn malformed_ecs_gets_formerr() {
    let f = fixture();
    // Bits set beyond the source prefix (RFC 7871 section 6).
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", A, 1, 20, &[8, 8, 8]));
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    // Unknown family.
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", A, 7, 24, &[8, 8, 8]));
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
}

#[test]
fn shuffle_varies_and_sticky_does_not() {
    let f = fixture();
    let mut firsts = std::collections::HashSet::new();
    let mut sticky = std::collections::HashSet::new();
    for id in 0..40u16 {
        let q = query("www.gslb.test", A, Q { id, edns: Some(1232), ecs: Some((1, 24, &[81, 0, 1])), ..Q::default() });
        let m = udp(f.server.addr, &q);
        assert_eq!(m.answers.len(), 2);
        firsts.insert(m.answers[0].data.to_string());
        let q =
            query("sticky.gslb.test", A, Q { id, edns: Some(1232), ecs: Some((1, 24, &[81, 0, 1])), ..Q::default() });
        sticky.insert(addrs(&udp(f.server.addr, &q)).join(","));
    }
    assert!(firsts.len() >= 2, "shuffle always put the same address first: {firsts:?}");
    assert_eq!(sticky.len(), 1, "sticky moved a client: {sticky:?}");
}

#[test]
fn networks_from_a_separate_file_apply() {
    let f = fixture();
    // 198.18.0.0/15 -> ams, from networks/office.toml.
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", A, 1, 24, &[198, 19, 7]));
    assert!(addrs(&m).iter().all(|a| a.starts_with("192.0.2.1")), "{:?}", addrs(&m));
    assert_eq!(echoed(&m).scope_prefix(), 15);
    // 2001:db8:eeee::/48 is placed in Asia: sin.
    let m = udp(f.server.addr, &ecs_query("www.gslb.test", A, 2, 48, &[0x20, 0x01, 0x0d, 0xb8, 0xee, 0xee]));
    assert_eq!(addrs(&m), ["203.0.113.10"]);
}
