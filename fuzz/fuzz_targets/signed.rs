//! Signed answers: questions built from the input (a name of the signed test zone, or a name
//! under it, any type, DO set, Compact Answers OK and a client subnet at the input's choice)
//! through the general path of a configuration whose zone has a fresh key, and every RRSIG of
//! every reply verified by hickory-proto (an independent implementation) against the zone's
//! DNSKEY set over the records it covers in its section.
#![no_main]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;

use hickory_proto::dnssec::Verifier;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData};
use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use libfuzzer_sys::fuzz_target;
use meridian::config::Config;
use meridian::health::Snapshot;
use meridian::query::{Request, Transport, answer};

/// Names of tests/data/dnssec/signed.test.zone, one of each kind.
const NAMES: &[&str] = &[
    "signed.test", "www.signed.test", "alias.signed.test", "x.wild.signed.test", "txt.signed.test",
    "nothere.signed.test", "insecure.signed.test", "a.insecure.signed.test", "secure.signed.test",
    "pool.signed.test", "ns1.signed.test", "ns.secure.signed.test", "wild.signed.test",
];

struct Setup {
    snapshot: Snapshot,
    keys: Vec<DNSKEY>,
    now: u32,
    _dir: std::path::PathBuf,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = std::env::temp_dir().join(format!("meridian-fuzz-signed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(root.join("tests/data/dnssec")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
        let now = meridian::cookie::now();
        let generate = meridian::dnssec::command::Generate {
            zone: "signed.test",
            algorithm: "13",
            ksk: false,
            zsk: false,
            publish: None,
            activate: None,
            inactive: None,
            delete: None,
            sync_publish: None,
            sync_delete: None,
        };
        meridian::dnssec::command::generate(&dir.join("keys"), &generate, u64::from(now)).unwrap();
        let config = Config::load(&dir, &root.join("geo/dbip-country.mmdb")).expect("signed config loads");
        let snapshot = Snapshot::all_up(std::sync::Arc::new(config));
        let mut out = Vec::new();
        let packet = query("signed.test", 48, false, None);
        let peer: SocketAddr = "198.51.100.7:5300".parse().unwrap();
        answer(&Request::new(&snapshot, &packet, peer, Transport::Tcp, now), &mut out).unwrap();
        let keys: Vec<DNSKEY> = Message::from_vec(&out)
            .unwrap()
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
                _ => None,
            })
            .collect();
        assert!(!keys.is_empty(), "the signed zone has its DNSKEY set");
        Setup { snapshot, keys, now, _dir: dir }
    })
}

/// A query for `name`/`qtype` with EDNS, DO set, CO when `compact`, and an IPv4 client subnet.
fn query(name: &str, qtype: u16, compact: bool, ecs: Option<[u8; 3]>) -> Vec<u8> {
    let mut p = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    // OPT: root, type 41, payload 1232, extended rcode 0, version 0, flags DO (and CO).
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, if compact { 0xc0 } else { 0x80 }, 0]);
    match ecs {
        Some(a) => {
            p.extend_from_slice(&11u16.to_be_bytes());
            p.extend_from_slice(&[0, 8, 0, 7, 0, 1, 24, 0]);
            p.extend_from_slice(&a);
        }
        None => p.extend_from_slice(&[0, 0]),
    }
    p
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let s = setup();
    let base = NAMES[usize::from(data[0]) % NAMES.len()];
    let qtype = u16::from_be_bytes([data[1], data[2]]);
    let compact = data[3] & 1 != 0;
    let ecs = (data[3] & 2 != 0).then(|| [data[4], data[4].wrapping_mul(7), data[4] ^ 0x5a]);
    // A label from the rest of the input, under the chosen name.
    let label: String = data[5..].iter().take(20).map(|&b| (b'a' + b % 26) as char).collect();
    let name = if label.is_empty() { base.to_string() } else { format!("{label}.{base}") };
    let packet = query(&name, qtype, compact, ecs);
    let peer: SocketAddr = "198.51.100.7:5300".parse().unwrap();
    let mut out = Vec::new();
    let Some(_) = answer(&Request::new(&s.snapshot, &packet, peer, Transport::Tcp, s.now), &mut out) else {
        return;
    };
    let reply = Message::from_vec(&out).unwrap_or_else(|e| panic!("reply does not parse: {e}: {out:02x?}"));
    for section in [&reply.answers, &reply.authorities, &reply.additionals] {
        verify(section, &s.keys);
    }
});

/// Every RRSIG in `section` verifies over the records it covers there.
fn verify(section: &[Record], keys: &[DNSKEY]) {
    for record in section {
        let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &record.data else { continue };
        let input = sig.input();
        let covered: Vec<&Record> = section
            .iter()
            .filter(|r| r.record_type() == input.type_covered && r.name == record.name)
            .collect();
        assert!(!covered.is_empty(), "an RRSIG for {} {:?} without its records", record.name, input.type_covered);
        let key = keys
            .iter()
            .find(|k| k.calculate_key_tag().ok() == Some(input.key_tag))
            .unwrap_or_else(|| panic!("no DNSKEY with tag {}", input.key_tag));
        if let Err(e) = key.verify_rrsig(&record.name, DNSClass::IN, sig, covered.into_iter()) {
            panic!("the RRSIG over {} {:?} does not verify: {e}", record.name, input.type_covered);
        }
        assert_ne!(input.type_covered, RecordType::RRSIG, "an RRSIG over RRSIGs");
    }
}
