//! Hostile and odd queries, hand-built: the table `tests/malformed.rs` holds the server to,
//! and `tests/xdp.rs` sends over XDP and over sockets alike.

/// What the server must do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expect {
    /// No reply at all.
    Silence,
    /// A reply with this rcode (the low 4 bits; BADVERS is checked through the OPT).
    Rcode(u8),
    /// BADVERS: header rcode 0 and extended rcode 1 in the OPT record.
    BadVers,
    /// NOERROR with an OPT that carries no options and no flags but DO as sent.
    CleanOpt,
}

pub fn header(id: u16, flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    [id, flags, qd, an, ns, ar].iter().flat_map(|v| v.to_be_bytes()).collect()
}

pub fn name(labels: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in labels {
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
    out
}

pub fn question(qname: &[u8], qtype: u16, qclass: u16) -> Vec<u8> {
    [qname, &qtype.to_be_bytes(), &qclass.to_be_bytes()].concat()
}

pub fn opt(size: u16, ext: [u8; 4], options: &[u8]) -> Vec<u8> {
    let mut o = vec![0, 0, 41];
    o.extend_from_slice(&size.to_be_bytes());
    o.extend_from_slice(&ext);
    o.extend_from_slice(&(options.len() as u16).to_be_bytes());
    o.extend_from_slice(options);
    o
}

pub fn ecs(family: u16, source: u8, scope: u8, addr: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 8];
    v.extend_from_slice(&((4 + addr.len()) as u16).to_be_bytes());
    v.extend_from_slice(&family.to_be_bytes());
    v.extend_from_slice(&[source, scope]);
    v.extend_from_slice(addr);
    v
}

pub fn q(id: u16, qname: &[u8], qtype: u16) -> Vec<u8> {
    [header(id, 0x0100, 1, 0, 0, 0), question(qname, qtype, 1)].concat()
}

pub fn q_edns(id: u16, qname: &[u8], qtype: u16, o: &[u8]) -> Vec<u8> {
    [header(id, 0x0100, 1, 0, 0, 1), question(qname, qtype, 1), o.to_vec()].concat()
}

pub fn cases() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let www = name(&[b"www", b"example", b"test"]);
    let long_name: Vec<u8> = {
        let labels: Vec<&[u8]> = (0..26).map(|_| b"abcdefghi".as_slice()).collect();
        name(&labels)
    };
    let mut chain = header(7, 0x0100, 1, 0, 0, 1);
    chain.extend_from_slice(&question(&www, 1, 1));
    // An additional record whose owner is a chain of 200 pointers, each to the one before.
    let start = chain.len();
    chain.extend_from_slice(&[0, 0]); // root label, the chain's end
    for k in 0..200u16 {
        let target = (start + 2 * k as usize) as u16;
        chain.extend_from_slice(&(0xc000 | target).to_be_bytes());
    }
    chain.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    let mut ptr_self_additional = header(8, 0x0100, 1, 0, 0, 1);
    ptr_self_additional.extend_from_slice(&question(&www, 1, 1));
    let at = ptr_self_additional.len() as u16;
    ptr_self_additional.extend_from_slice(&(0xc000 | at).to_be_bytes());
    ptr_self_additional.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    let mut ptr_forward = header(9, 0x0100, 1, 0, 0, 1);
    ptr_forward.extend_from_slice(&question(&www, 1, 1));
    let at = ptr_forward.len() as u16 + 4;
    ptr_forward.extend_from_slice(&(0xc000 | at).to_be_bytes());
    ptr_forward.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    let mut ptr_past_end = header(10, 0x0100, 1, 0, 0, 1);
    ptr_past_end.extend_from_slice(&question(&www, 1, 1));
    ptr_past_end.extend_from_slice(&[0xff, 0xff, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    let mut trailing = q(11, &www, 1);
    trailing.push(0);
    let mut rdlen_past_end = header(12, 0x0100, 1, 0, 0, 1);
    rdlen_past_end.extend_from_slice(&question(&www, 1, 1));
    rdlen_past_end.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 200, 1, 2, 3]);
    let overrun = {
        let mut o = opt(1232, [0, 0, 0, 0], &[0, 10, 0, 9, 1]);
        o[10] = 5; // rdlen 5, option claims 9
        o
    };
    vec![
        ("empty datagram", vec![], Expect::Silence),
        ("1 octet", vec![0], Expect::Silence),
        ("11 octets", vec![0; 11], Expect::Silence),
        ("a response (QR=1)", [header(1, 0x8100, 1, 0, 0, 0), question(&www, 1, 1)].concat(), Expect::Silence),
        (
            "question name: pointer to itself",
            [header(2, 0x0100, 1, 0, 0, 0), vec![0xc0, 12, 0, 1, 0, 1]].concat(),
            Expect::Rcode(1),
        ),
        (
            "question name: pointer past the end",
            [header(3, 0x0100, 1, 0, 0, 0), vec![0xc0, 200, 0, 1, 0, 1]].concat(),
            Expect::Rcode(1),
        ),
        ("question name over 255 octets", q(4, &long_name, 1), Expect::Rcode(1)),
        ("label over 63 octets", q(5, &[&[64u8][..], &[b'a'; 64][..], &[0]].concat(), 1), Expect::Rcode(1)),
        ("reserved label type 0x80", q(6, &[0x81, b'a', 0], 1), Expect::Rcode(1)),
        ("additional owner: 200 back-pointers", chain, Expect::Rcode(1)),
        ("additional owner: pointer to itself", ptr_self_additional, Expect::Rcode(1)),
        ("additional owner: forward pointer", ptr_forward, Expect::Rcode(1)),
        ("additional owner: pointer past the end", ptr_past_end, Expect::Rcode(1)),
        ("QDCOUNT 0", header(13, 0x0100, 0, 0, 0, 0), Expect::Rcode(1)),
        (
            "QDCOUNT 2",
            [header(14, 0x0100, 2, 0, 0, 0), question(&www, 1, 1), question(&www, 28, 1)].concat(),
            Expect::Rcode(1),
        ),
        (
            "ARCOUNT larger than the packet",
            [header(15, 0x0100, 1, 0, 0, 9), question(&www, 1, 1)].concat(),
            Expect::Rcode(1),
        ),
        ("ANCOUNT in a query", [header(16, 0x0100, 1, 1, 0, 0), question(&www, 1, 1)].concat(), Expect::Rcode(1)),
        ("record length past the end", rdlen_past_end, Expect::Rcode(1)),
        ("trailing octets", trailing, Expect::Rcode(1)),
        ("opcode IQUERY", [header(17, 0x0900, 1, 0, 0, 0), question(&www, 1, 1)].concat(), Expect::Rcode(4)),
        ("opcode STATUS", [header(18, 0x1100, 1, 0, 0, 0), question(&www, 1, 1)].concat(), Expect::Rcode(4)),
        ("opcode NOTIFY", [header(19, 0x2000, 1, 0, 0, 0), question(&www, 6, 1)].concat(), Expect::Rcode(5)),
        ("NOTIFY without a question", header(20, 0x2000, 0, 0, 0, 0), Expect::Rcode(1)),
        ("opcode UPDATE", [header(20, 0x2800, 1, 0, 0, 0), question(&www, 6, 1)].concat(), Expect::Rcode(4)),
        ("opcode 15", [header(21, 0x7800, 1, 0, 0, 0), question(&www, 1, 1)].concat(), Expect::Rcode(4)),
        ("QTYPE 0", q(22, &www, 0), Expect::Rcode(1)),
        ("QTYPE OPT", q(23, &www, 41), Expect::Rcode(1)),
        ("QTYPE TSIG", q(24, &www, 250), Expect::Rcode(1)),
        ("QTYPE TKEY", q(25, &www, 249), Expect::Rcode(1)),
        ("AXFR over UDP", q(26, &www, 252), Expect::Rcode(5)),
        ("IXFR over UDP", q(27, &www, 251), Expect::Rcode(5)),
        ("MAILB", q(28, &www, 253), Expect::Rcode(4)),
        ("unknown type 65280: NODATA", q(29, &www, 65280), Expect::Rcode(0)),
        ("class CH", [header(30, 0x0100, 1, 0, 0, 0), question(&www, 16, 3)].concat(), Expect::Rcode(5)),
        ("class HS", [header(31, 0x0100, 1, 0, 0, 0), question(&www, 16, 4)].concat(), Expect::Rcode(5)),
        (
            "class ANY: answered as IN",
            [header(32, 0x0100, 1, 0, 0, 0), question(&www, 1, 255)].concat(),
            Expect::Rcode(0),
        ),
        ("class 1234", [header(33, 0x0100, 1, 0, 0, 0), question(&www, 1, 1234)].concat(), Expect::Rcode(5)),
        ("EDNS version 1", q_edns(34, &www, 1, &opt(1232, [0, 1, 0, 0], &[])), Expect::BadVers),
        (
            "two OPT records",
            [header(35, 0x0100, 1, 0, 0, 2), question(&www, 1, 1), opt(1232, [0; 4], &[]), opt(1232, [0; 4], &[])]
                .concat(),
            Expect::Rcode(1),
        ),
        (
            "OPT not owned by the root",
            [header(36, 0x0100, 1, 0, 0, 1), question(&www, 1, 1), vec![1, b'x'], opt(1232, [0; 4], &[])[1..].to_vec()]
                .concat(),
            Expect::Rcode(1),
        ),
        ("option length overrunning the OPT", q_edns(37, &www, 1, &overrun), Expect::Rcode(1)),
        (
            "unknown option: ignored, not echoed",
            q_edns(38, &www, 1, &opt(1232, [0; 4], &[0xfd, 0xe9, 0, 2, 1, 2])),
            Expect::CleanOpt,
        ),
        (
            "unknown EDNS flags: ignored, not echoed",
            q_edns(39, &www, 1, &opt(1232, [0, 0, 0x7f, 0xff], &[])),
            Expect::CleanOpt,
        ),
        ("UDP size 100: treated as 512", q_edns(40, &www, 1, &opt(100, [0; 4], &[])), Expect::CleanOpt),
        ("ECS family 3", q_edns(41, &www, 1, &opt(1232, [0; 4], &ecs(3, 24, 0, &[1, 2, 3]))), Expect::Rcode(1)),
        (
            "ECS source prefix 33 for IPv4",
            q_edns(42, &www, 1, &opt(1232, [0; 4], &ecs(1, 33, 0, &[1, 2, 3, 4, 5]))),
            Expect::Rcode(1),
        ),
        (
            "ECS source prefix 129 for IPv6",
            q_edns(43, &www, 1, &opt(1232, [0; 4], &ecs(2, 129, 0, &[0x20; 17]))),
            Expect::Rcode(1),
        ),
        (
            "ECS scope set in a query",
            q_edns(44, &www, 1, &opt(1232, [0; 4], &ecs(1, 24, 24, &[1, 2, 3]))),
            Expect::Rcode(1),
        ),
        (
            "ECS address longer than the prefix",
            q_edns(45, &www, 1, &opt(1232, [0; 4], &ecs(1, 24, 0, &[1, 2, 3, 4]))),
            Expect::Rcode(1),
        ),
        (
            "ECS address shorter than the prefix",
            q_edns(46, &www, 1, &opt(1232, [0; 4], &ecs(1, 24, 0, &[1, 2]))),
            Expect::Rcode(1),
        ),
        (
            "ECS bits set beyond the prefix",
            q_edns(47, &www, 1, &opt(1232, [0; 4], &ecs(1, 23, 0, &[1, 2, 3]))),
            Expect::Rcode(1),
        ),
        (
            "ECS option shorter than its header",
            q_edns(48, &www, 1, &opt(1232, [0; 4], &[0, 8, 0, 2, 0, 1])),
            Expect::Rcode(1),
        ),
        (
            "two ECS options",
            q_edns(49, &www, 1, &opt(1232, [0; 4], &[ecs(1, 24, 0, &[1, 2, 3]), ecs(1, 24, 0, &[1, 2, 3])].concat())),
            Expect::Rcode(1),
        ),
        // Found by the wire fuzzer: it used to panic while echoing the question.
        (
            "repeated labels (fuzzer regression)",
            std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/data/fuzz-regressions/wire-repeated-labels-compression"),
            )
            .unwrap(),
            Expect::Rcode(1),
        ),
        ("name of repeated labels in our zone", q(50, &name(&[b"a", b"a", b"example", b"test"]), 1), Expect::Rcode(3)),
    ]
}
