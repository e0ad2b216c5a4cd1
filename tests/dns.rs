//! Integration tests: the real server on 127.0.0.1:0, queried over UDP and TCP, checked on
//! what a resolver sees (rcode, flags, the three sections).

mod common;

use std::time::Duration;

use common::*;
use hickory_proto::op::{OpCode, ResponseCode};

const A: u16 = 1;
const NS: u16 = 2;
const SOA: u16 = 6;
const MX: u16 = 15;
const TXT: u16 = 16;
const SRV: u16 = 33;
const DS: u16 = 43;
const ANY: u16 = 255;

fn server() -> TestServer {
    TestServer::start(&serve_dir())
}

#[test]
fn answers_authoritatively_and_echoes_the_question_as_asked() {
    let s = server();
    let q = query("WwW.ExAmPlE.TeSt", A, Q { id: 77, ..Q::default() });
    let raw = udp_raw(s.addr, &q, Duration::from_secs(3)).unwrap();
    // The question section is the query's, byte for byte (0x20 case preserved).
    assert_eq!(&raw[12..q.len()], &q[12..]);
    let m = hickory_proto::op::Message::from_vec(&raw).unwrap();
    assert_eq!(m.metadata.id, 77);
    assert!(m.metadata.authoritative);
    assert!(!m.metadata.recursion_available);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rrs(&m.answers), strs(&["www.example.test. 300 A 192.0.2.10", "www.example.test. 300 A 192.0.2.11"]));
    assert!(m.authorities.is_empty());
}

#[test]
fn negative_answers_carry_the_soa_with_the_negative_ttl() {
    let s = server();
    let soa = "example.test. 120 SOA ns1.example.test. hostmaster.example.test. 7 3600 900 604800 120";
    // NXDOMAIN: min(SOA TTL 3600, MINIMUM 120) = 120 (RFC 2308 section 3).
    let m = udp(s.addr, &query("nope.example.test", A, Q::default()));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authoritative);
    assert!(m.answers.is_empty());
    assert_eq!(rrs(&m.authorities), strs(&[soa]));
    // NODATA: the name exists without the type.
    let m = udp(s.addr, &query("www.example.test", MX, Q::default()));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(rrs(&m.authorities), strs(&[soa]));
    // An empty non-terminal is NODATA, not NXDOMAIN (RFC 4592 section 2.2.2).
    let m = udp(s.addr, &query("c.ent.example.test", A, Q::default()));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(rrs(&m.authorities), strs(&[soa]));
}

#[test]
fn wildcards_synthesize_but_never_over_existing_names() {
    let s = server();
    let m = udp(s.addr, &query("foo.wild.example.test", A, Q::default()));
    assert_eq!(rrs(&m.answers), strs(&["foo.wild.example.test. 3600 A 192.0.2.80"]));
    let m = udp(s.addr, &query("a.b.wild.example.test", TXT, Q::default()));
    assert_eq!(rrs(&m.answers), strs(&["a.b.wild.example.test. 3600 TXT wildcard"]));
    // exists.wild is a real name: its missing A is NODATA, not the wildcard's A.
    let m = udp(s.addr, &query("exists.wild.example.test", A, Q::default()));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    // Below an existing name with no wildcard of its own: NXDOMAIN (RFC 4592 section 3.3.1).
    let m = udp(s.addr, &query("x.exists.wild.example.test", A, Q::default()));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    // A wildcard CNAME is followed.
    let m = udp(s.addr, &query("any.wcname.example.test", A, Q::default()));
    assert_eq!(
        rrs(&m.answers),
        strs(&[
            "any.wcname.example.test. 3600 CNAME www.example.test.",
            "www.example.test. 300 A 192.0.2.10",
            "www.example.test. 300 A 192.0.2.11"
        ])
    );
}

#[test]
fn cname_chains_are_followed_bounded_and_loop_safe() {
    let s = server();
    let m = udp(s.addr, &query("chain1.example.test", A, Q::default()));
    assert_eq!(
        rrs(&m.answers),
        strs(&[
            "alias.example.test. 3600 CNAME www.example.test.",
            "chain1.example.test. 3600 CNAME chain2.example.test.",
            "chain2.example.test. 3600 CNAME alias.example.test.",
            "www.example.test. 300 A 192.0.2.10",
            "www.example.test. 300 A 192.0.2.11"
        ])
    );
    let m = udp(s.addr, &query("loop1.example.test", A, Q::default()));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        rrs(&m.answers),
        strs(&[
            "loop1.example.test. 3600 CNAME loop2.example.test.",
            "loop2.example.test. 3600 CNAME loop1.example.test."
        ])
    );
    // A CNAME to a missing name: NXDOMAIN for the target (RFC 6604), the CNAME kept.
    let m = udp(s.addr, &query("dangling.example.test", A, Q::default()));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(rrs(&m.answers), strs(&["dangling.example.test. 3600 CNAME nothere.example.test."]));
    assert_eq!(m.authorities.len(), 1);
    // Into another zone of ours.
    let m = udp(s.addr, &query("outside.example.test", A, Q::default()));
    assert_eq!(
        rrs(&m.answers),
        strs(&["outside.example.test. 3600 CNAME www.other.test.", "www.other.test. 600 A 198.51.100.80"])
    );
    // Asking for the CNAME itself does not follow it.
    let m = udp(s.addr, &query("alias.example.test", 5, Q::default()));
    assert_eq!(rrs(&m.answers), strs(&["alias.example.test. 3600 CNAME www.example.test."]));
}

#[test]
fn dname_substitutes_with_a_synthesized_cname() {
    let s = server();
    let m = udp(s.addr, &query("x.y.dn.example.test", A, Q::default()));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    // hickory-proto shows DNAME data in base64: "\x06target\x04test\x00".
    assert_eq!(
        rrs(&m.answers),
        strs(&["dn.example.test. 3600 DNAME BnRhcmdldAR0ZXN0AA==", "x.y.dn.example.test. 3600 CNAME x.y.target.test."])
    );
    // The DNAME owner itself is not rewritten.
    let m = udp(s.addr, &query("dn.example.test", A, Q::default()));
    assert!(m.answers.is_empty());
}

#[test]
fn referrals_carry_ns_and_glue_without_aa() {
    let s = server();
    for (name, qtype) in [("host.deleg.example.test", A), ("deleg.example.test", NS)] {
        let m = udp(s.addr, &query(name, qtype, Q::default()));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
        assert!(!m.metadata.authoritative, "{name}");
        assert!(m.answers.is_empty(), "{name}");
        assert_eq!(
            rrs(&m.authorities),
            strs(&[
                "deleg.example.test. 3600 NS ns.other.test.",
                "deleg.example.test. 3600 NS ns1.deleg.example.test."
            ])
        );
        assert_eq!(
            rrs(&m.additionals),
            strs(&["ns1.deleg.example.test. 3600 A 192.0.2.53", "ns1.deleg.example.test. 3600 AAAA 2001:db8::53"])
        );
    }
    // DS lives in the parent: answered authoritatively at the cut (RFC 4035 section 3.1.4.1).
    let m = udp(s.addr, &query("ds-deleg.example.test", DS, Q::default()));
    assert!(m.metadata.authoritative);
    assert_eq!(m.answers.len(), 1);
    // A child zone we also serve answers for itself.
    let m = udp(s.addr, &query("host.sub.example.test", A, Q::default()));
    assert!(m.metadata.authoritative);
    assert_eq!(rrs(&m.answers), strs(&["host.sub.example.test. 600 A 192.0.2.78"]));
}

#[test]
fn additional_section_has_addresses_of_ns_mx_and_srv_targets() {
    let s = server();
    let m = udp(s.addr, &query("example.test", MX, Q::default()));
    assert_eq!(m.answers.len(), 2);
    assert_eq!(rrs(&m.additionals), strs(&["mail.example.test. 3600 A 192.0.2.25"]));
    let m = udp(s.addr, &query("_sip._tcp.example.test", SRV, Q::default()));
    assert_eq!(rrs(&m.additionals), strs(&["sip.example.test. 3600 A 192.0.2.60"]));
    let m = udp(s.addr, &query("example.test", NS, Q::default()));
    assert!(m.metadata.authoritative);
    assert_eq!(
        rrs(&m.additionals),
        strs(&["ns1.example.test. 3600 A 192.0.2.1", "ns1.example.test. 3600 AAAA 2001:db8::1"])
    );
}

#[test]
fn refuses_names_outside_our_zones_and_other_classes() {
    let s = server();
    let m = udp(s.addr, &query("example.org", A, Q::default()));
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(!m.metadata.authoritative);
    let m = udp(s.addr, &query("www.example.test", TXT, Q { class: 3, ..Q::default() }));
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn any_gets_one_rrset() {
    let s = server();
    let m = udp(s.addr, &query("example.test", ANY, Q::default()));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.answers.is_empty());
    let first = m.answers[0].record_type();
    assert!(m.answers.iter().all(|r| r.record_type() == first), "RFC 8482: one RRset");
    assert!(m.answers.len() < 6, "not the whole apex node");
}

#[test]
fn edns_is_echoed_and_unknown_versions_get_badvers() {
    let s = server();
    let m = udp(s.addr, &query("www.example.test", A, Q { edns: Some(4096), ..Q::default() }));
    let edns = m.edns.expect("OPT echoed");
    assert_eq!(edns.max_payload(), 1232);
    assert_eq!(m.answers.len(), 2);
    let m = udp(s.addr, &query("www.example.test", A, Q { edns: Some(1232), edns_version: 1, ..Q::default() }));
    // BADVERS and BADSIG share the value 16; hickory names it BADSIG.
    assert_eq!(u16::from(m.metadata.response_code), 16);
    assert!(m.answers.is_empty());
    assert_eq!(m.edns.expect("OPT in BADVERS").version(), 0);
    // Without EDNS there is no OPT in the reply.
    let m = udp(s.addr, &query("www.example.test", A, Q::default()));
    assert!(m.edns.is_none());
}

#[test]
fn static_answers_echo_ecs_with_scope_zero() {
    let s = server();
    let raw = udp_raw(
        s.addr,
        &query("www.example.test", A, Q { edns: Some(1232), ecs: Some((1, 24, &[198, 51, 100])), ..Q::default() }),
        Duration::from_secs(3),
    )
    .unwrap();
    // The reply ends with the OPT record whose only option is the echoed ECS:
    // code 8, length 7, family 1, source 24, scope 0, 198.51.100.
    assert_eq!(&raw[raw.len() - 11..], &[0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100]);
}

#[test]
fn oversized_udp_answers_are_truncated_and_complete_over_tcp() {
    let s = server();
    for edns in [None, Some(1232), Some(65000)] {
        let raw = udp_raw(s.addr, &query("big.example.test", TXT, Q { edns, ..Q::default() }), Duration::from_secs(3))
            .unwrap();
        let m = hickory_proto::op::Message::from_vec(&raw).unwrap();
        assert!(m.metadata.truncation, "{edns:?}");
        assert!(m.answers.is_empty(), "{edns:?}");
        assert_eq!(m.queries.len(), 1);
        assert!(raw.len() <= usize::from(edns.unwrap_or(512).min(1232)));
        assert_eq!(m.edns.is_some(), edns.is_some());
    }
    let m = tcp(s.addr, &query("big.example.test", TXT, Q::default()));
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 6);
}

#[test]
fn tcp_answers_pipelined_queries_in_order() {
    let s = server();
    let packets: Vec<Vec<u8>> = (0..5u16)
        .map(|i| {
            query(
                if i % 2 == 0 { "www.example.test" } else { "nope.example.test" },
                A,
                Q { id: 100 + i, ..Q::default() },
            )
        })
        .collect();
    let replies = tcp_raw(s.addr, &packets);
    for (i, raw) in replies.iter().enumerate() {
        let m = hickory_proto::op::Message::from_vec(raw).unwrap();
        assert_eq!(m.metadata.id, 100 + i as u16);
        let expect = if i % 2 == 0 { ResponseCode::NoError } else { ResponseCode::NXDomain };
        assert_eq!(m.metadata.response_code, expect);
    }
}

#[test]
fn odd_packets_get_notimp_formerr_or_silence() {
    let s = server();
    // NOTIFY (opcode 4) for a zone this server is not a secondary of: REFUSED with the
    // question echoed.
    let m = udp(s.addr, &query("www.example.test", SOA, Q { id: 9, opcode: 4, ..Q::default() }));
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert_eq!(m.metadata.op_code, OpCode::Notify);
    assert_eq!(m.queries.len(), 1);
    // QDCOUNT 0: FORMERR with the ID.
    let mut p = query("www.example.test", A, Q { id: 4242, ..Q::default() });
    p[5] = 0;
    p.truncate(12);
    let m = udp(s.addr, &p);
    assert_eq!((m.metadata.id, m.metadata.response_code), (4242, ResponseCode::FormErr));
    // A response (QR=1) and a runt get no reply at all.
    let mut p = query("www.example.test", A, Q::default());
    p[2] |= 0x80;
    assert_eq!(udp_raw(s.addr, &p, Duration::from_millis(300)), None);
    assert_eq!(udp_raw(s.addr, &[0, 1, 2, 3, 4], Duration::from_millis(300)), None);
    // The server is still answering.
    assert_eq!(udp(s.addr, &query("www.example.test", A, Q::default())).answers.len(), 2);
}

#[test]
fn tcp_connections_beyond_the_limit_are_closed_and_udp_goes_on() {
    use std::io::Read;
    let limits =
        meridian::server::Limits { tcp_connections: 3, tcp_idle: Duration::from_millis(400), ..Default::default() };
    let s = TestServer::start_with(&serve_dir(), limits);
    let held: Vec<std::net::TcpStream> = (0..3).map(|_| std::net::TcpStream::connect(s.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut extra = std::net::TcpStream::connect(s.addr).unwrap();
    extra.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(extra.read(&mut buf).unwrap_or(0), 0, "the connection over the limit is closed");
    assert_eq!(udp(s.addr, &query("www.example.test", A, Q::default())).answers.len(), 2);
    // Idle connections are closed after the idle timeout, freeing their slots.
    for mut c in held {
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        assert_eq!(c.read(&mut buf).unwrap_or(0), 0, "idle connection closed");
    }
    let m = tcp(s.addr, &query("www.example.test", A, Q::default()));
    assert_eq!(m.answers.len(), 2);
}
