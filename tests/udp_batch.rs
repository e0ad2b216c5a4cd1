//! The batched UDP loop answers exactly as the tokio loop: the same queries to both give
//! byte-identical replies, and the batched loop handles many queries in flight.
#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use common::*;
use meridian::server::{Limits, UdpLoop};

#[test]
fn batched_and_tokio_loops_give_identical_replies() {
    let tokio_server = TestServer::start_with(&serve_dir(), Limits { udp_loop: UdpLoop::Tokio, ..Limits::default() });
    let batched = TestServer::start_with(&serve_dir(), Limits { udp_loop: UdpLoop::Batched, ..Limits::default() });
    let names = [
        ("www.example.test", 1),
        ("example.test", 15),
        ("nope.example.test", 1),
        ("chain1.example.test", 1),
        ("host.deleg.example.test", 1),
        ("big.example.test", 16),
        ("x.y.dn.example.test", 1),
        ("foo.wild.example.test", 16),
        ("example.org", 1),
    ];
    for (i, (name, qtype)) in names.iter().enumerate() {
        for edns in [None, Some(1232)] {
            let q = query(name, *qtype, Q { id: 700 + i as u16, edns, ..Q::default() });
            let a = udp_raw(tokio_server.addr, &q, Duration::from_secs(2)).unwrap();
            let b = udp_raw(batched.addr, &q, Duration::from_secs(2)).unwrap();
            assert_eq!(a, b, "{name} {qtype} {edns:?}");
        }
    }
    // Runts and responses get no reply from either.
    assert_eq!(udp_raw(batched.addr, &[1, 2, 3], Duration::from_millis(300)), None);
    // TCP works beside it.
    assert_eq!(tcp(batched.addr, &query("www.example.test", 1, Q::default())).answers.len(), 2);
}

#[test]
fn the_batched_loop_answers_a_burst_in_flight() {
    let s = TestServer::start_with(&serve_dir(), Limits { udp_loop: UdpLoop::Batched, ..Limits::default() });
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    for id in 0..200u16 {
        sock.send_to(&query("www.example.test", 1, Q { id, ..Q::default() }), s.addr).unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    let mut buf = [0u8; 1500];
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        assert!(n > 12);
        seen.insert(u16::from_be_bytes([buf[0], buf[1]]));
        if seen.len() == 200 {
            break;
        }
    }
    assert_eq!(seen.len(), 200, "every query of the burst answered");
}
