//! The fast path's query corpus: every name of a configuration and names around it, many
//! query types, and query shapes (EDNS sizes, DO, Compact Answers OK, ECS, NSID, cookies,
//! classes). `tests/fast_path.rs` compares the two answer paths over it in process;
//! `tests/xdp.rs` compares XDP with sockets over it on the wire.

use std::net::IpAddr;

use meridian::config::Config;

use super::Rng;

/// Wire-form names of a configuration: every owner, a child and a wildcard-style name below
/// each, names that do not exist, and names in no zone of ours.
pub fn names(config: &Config) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for zone in config.zones.zones() {
        for node in zone.nodes() {
            let wire = node.name.wire().to_vec();
            out.push([b"\x05child".as_slice(), &wire].concat());
            out.push([b"\x01a\x01b".as_slice(), &wire].concat());
            out.push(wire);
        }
        out.push([b"\x0cnxdomain-one".as_slice(), zone.origin().wire()].concat());
    }
    out.push(b"\x07example\x07invalid\x00".to_vec());
    out.push(b"\x02id\x06server\x00".to_vec());
    out.push(b"\x07version\x04bind\x00".to_vec());
    out.push(b"\x00".to_vec());
    out
}

/// Gives each letter of a wire-form name a random case.
pub fn mixed_case(wire: &[u8], rng: &mut Rng) -> Vec<u8> {
    wire.iter().map(|&b| if rng.next() & 1 == 1 { b.to_ascii_uppercase() } else { b.to_ascii_lowercase() }).collect()
}

pub const TYPES: &[u16] =
    &[1, 28, 2, 6, 15, 16, 5, 33, 12, 257, 255, 43, 48, 65, 64, 99, 35, 44, 52, 13, 39, 252, 251, 0, 41, 253, 254];

#[derive(Clone, Copy)]
pub struct Shape {
    pub edns: Option<u16>,
    pub version: u8,
    pub dnssec_ok: bool,
    /// Compact Answers OK (RFC 9824), beside DO.
    pub compact: bool,
    pub ecs: Option<(u16, u8)>,
    pub flags: u16,
    pub class: u16,
    pub nsid: bool,
    pub cookie: Cookie,
}

/// The COOKIE option a query carries.
#[derive(Clone, Copy, PartialEq)]
pub enum Cookie {
    None,
    /// A client cookie alone: the reply makes a server cookie.
    ClientOnly,
    /// A server cookie this server made for the client: valid, sent back.
    Valid,
    /// A server cookie no secret of this server made: a fresh one is made.
    Forged,
}

/// The cookie secret of the configurations compared, and the clock of every request.
pub const SECRET: [u8; 16] = *b"fast-path-secret";
pub const NOW: u32 = 1_764_000_000;

impl Shape {
    /// A plain query: no EDNS, class IN, no flags.
    pub const PLAIN: Shape = Shape {
        edns: None,
        version: 0,
        dnssec_ok: false,
        compact: false,
        ecs: None,
        flags: 0,
        class: 1,
        nsid: false,
        cookie: Cookie::None,
    };
}

pub fn shapes() -> Vec<Shape> {
    let base = Shape::PLAIN;
    vec![
        base,
        Shape { flags: 0x0100, ..base },
        Shape { flags: 0x0110, edns: Some(1232), ..base },
        Shape { edns: Some(512), ..base },
        Shape { edns: Some(4096), dnssec_ok: true, ..base },
        Shape { edns: Some(1232), dnssec_ok: true, ..base },
        Shape { edns: Some(1232), dnssec_ok: true, compact: true, ..base },
        Shape { edns: Some(1232), dnssec_ok: true, ecs: Some((1, 24)), ..base },
        Shape { edns: Some(512), dnssec_ok: true, ecs: Some((2, 48)), ..base },
        Shape { edns: Some(1232), ecs: Some((1, 24)), ..base },
        Shape { edns: Some(1232), ecs: Some((1, 16)), ..base },
        Shape { edns: Some(1232), ecs: Some((1, 0)), ..base },
        Shape { edns: Some(1232), ecs: Some((2, 48)), ..base },
        Shape { edns: Some(600), ecs: Some((1, 32)), ..base },
        Shape { edns: Some(1232), version: 1, ..base },
        Shape { class: 3, ..base },
        Shape { class: 255, ..base },
        Shape { class: 254, edns: Some(1232), ..base },
        Shape { edns: Some(1232), nsid: true, ..base },
        Shape { edns: Some(1232), ecs: Some((1, 24)), nsid: true, ..base },
        Shape { edns: Some(512), nsid: true, dnssec_ok: true, ..base },
        Shape { class: 3, edns: Some(1232), nsid: true, ..base },
        Shape { edns: Some(1232), cookie: Cookie::ClientOnly, ..base },
        Shape { edns: Some(1232), cookie: Cookie::Valid, ..base },
        Shape { edns: Some(1232), ecs: Some((1, 24)), cookie: Cookie::Valid, ..base },
        Shape { edns: Some(512), nsid: true, cookie: Cookie::Forged, ..base },
        Shape { edns: Some(1232), version: 1, cookie: Cookie::ClientOnly, ..base },
    ]
}

/// Client networks: European, North American, Asian, Oceanian, operator networks of the test
/// configuration, and addresses nothing knows.
pub const V4_CLIENTS: &[[u8; 4]] = &[
    [81, 0, 1, 9],
    [8, 8, 8, 8],
    [1, 0, 16, 1],
    [1, 120, 0, 1],
    [10, 1, 2, 3],
    [10, 20, 1, 1],
    [192, 168, 1, 1],
    [127, 0, 0, 1],
];
pub const V6_CLIENTS: &[&str] = &["2a00:1450:4001::1", "2001:db8:ffff::1", "2001:4860::8888", "fd00::1"];

pub fn build_query(id: u16, qname: &[u8], qtype: u16, shape: Shape, client: IpAddr) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&shape.flags.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(shape.edns.is_some())]);
    p.extend_from_slice(qname);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&shape.class.to_be_bytes());
    if let Some(size) = shape.edns {
        let mut opts = Vec::new();
        if let Some((family, prefix)) = shape.ecs {
            let mut addr: Vec<u8> = match (family, client) {
                (1, IpAddr::V4(a)) => a.octets().to_vec(),
                (1, IpAddr::V6(_)) => vec![81, 0, 1, 0],
                (_, IpAddr::V6(a)) => a.octets().to_vec(),
                (_, IpAddr::V4(a)) => a.to_ipv6_mapped().octets().to_vec(),
            };
            let len = usize::from(prefix).div_ceil(8);
            addr.truncate(len);
            if prefix % 8 != 0 {
                let keep = 0xffu8 << (8 - prefix % 8);
                addr[len - 1] &= keep;
            }
            opts.extend_from_slice(&8u16.to_be_bytes());
            opts.extend_from_slice(&((4 + addr.len()) as u16).to_be_bytes());
            opts.extend_from_slice(&family.to_be_bytes());
            opts.extend_from_slice(&[prefix, 0]);
            opts.extend_from_slice(&addr);
        }
        if shape.nsid {
            opts.extend_from_slice(&[0, 3, 0, 0]);
        }
        let client_cookie = id.to_be_bytes().repeat(4);
        let server = match shape.cookie {
            Cookie::None | Cookie::ClientOnly => Vec::new(),
            Cookie::Valid => {
                meridian::cookie::make(&SECRET, &client_cookie.clone().try_into().unwrap(), client, NOW - 60).to_vec()
            }
            Cookie::Forged => {
                meridian::cookie::make(&[9; 16], &client_cookie.clone().try_into().unwrap(), client, NOW).to_vec()
            }
        };
        if shape.cookie != Cookie::None {
            opts.extend_from_slice(&[0, 10, 0, (8 + server.len()) as u8]);
            opts.extend_from_slice(&client_cookie);
            opts.extend_from_slice(&server);
        }
        p.extend_from_slice(&[0, 0, 41]);
        p.extend_from_slice(&size.to_be_bytes());
        let flags = if shape.dnssec_ok { 0x80 } else { 0 } | if shape.compact { 0x40 } else { 0 };
        p.extend_from_slice(&[0, shape.version, flags, 0]);
        p.extend_from_slice(&(opts.len() as u16).to_be_bytes());
        p.extend_from_slice(&opts);
    }
    p
}
