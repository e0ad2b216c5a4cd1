//! What online signing costs, in process, for `bench/dnssec.sh`: answers COUNT queries of one
//! kind through the general path (`answer()`, as TCP and signed UDP queries take it) from the
//! zones in ZONES (a copy of the example with a key in `keys/`), and prints what it did.
//!
//! ```sh
//! cargo run --release --example signing_cost -- ZONES GEO KIND COUNT
//! ```
//!
//! KIND is `static` (static.example.com A), `gslb` (www.example.com A with a client subnet
//! cycling through 4096 /24s), either with `-do` appended for DO set (signed answers; the
//! signatures are made on the first round and found afterwards), `cold` (a different name
//! under the wildcard each time, with DO: every answer needs a new signature), or `fill` (as
//! `cold`, then reports the resident memory the kept signatures took); `+fast` after `static`,
//! `gslb` and their `-do` forms answers through the UDP workers' fast path (`answer_cached`)
//! instead. Run under callgrind
//! twice with different counts, the difference divided by the difference of the counts is the
//! instructions per query without the set-up.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use meridian::config::Config;
use meridian::health::Snapshot;
use meridian::query::{AnswerCache, Request, Transport, answer, answer_cached};

fn query(name: &str, qtype: u16, dnssec_ok: bool, ecs: Option<[u8; 3]>, id: u16) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, if dnssec_ok { 0x80 } else { 0 }, 0]);
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

fn resident_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: signing_cost ZONES GEO static|static-do|gslb|gslb-do|cold|fill COUNT");
        std::process::exit(2);
    }
    let config = Config::load(Path::new(&args[1]), Path::new(&args[2])).unwrap_or_else(|e| {
        eprintln!("{e:?}");
        std::process::exit(1)
    });
    let snapshot = Snapshot::all_up(Arc::new(config));
    // `+fast`: through the UDP workers' fast path (`answer_cached`, one cache kept warm).
    let fast = args[3].ends_with("+fast");
    let kind = args[3].trim_end_matches("+fast");
    let count: usize = args[4].parse().expect("COUNT is a number");
    let now = meridian::cookie::now();
    let peer: SocketAddr = "198.51.100.7:5300".parse().unwrap();
    // Queries made before the clock starts: the loop only answers.
    let queries: Vec<Vec<u8>> = (0..count.min(100_000))
        .map(|i| {
            let client = [(i >> 8) as u8 | 1, i as u8, 7];
            match kind {
                "static" => query("static.example.com", 1, false, None, i as u16),
                "static-do" => query("static.example.com", 1, true, None, i as u16),
                "gslb" => query("www.example.com", 1, false, Some(client), i as u16),
                "gslb-do" => query("www.example.com", 1, true, Some(client), i as u16),
                "cold" | "fill" => query(&format!("n{i}.apps.example.com"), 1, true, None, i as u16),
                _ => panic!("unknown kind {kind}"),
            }
        })
        .collect();
    let before = resident_kb();
    let mut out = Vec::with_capacity(4096);
    let mut cache = AnswerCache::new();
    let started = Instant::now();
    let mut octets = 0;
    for i in 0..count {
        let q = &queries[i % queries.len()];
        let transport = if fast { Transport::Udp } else { Transport::Tcp };
        let request = Request::new(&snapshot, q, peer, transport, now);
        if fast {
            answer_cached(&mut cache, &request, &mut out).expect("an answer");
        } else {
            answer(&request, &mut out).expect("an answer");
        }
        octets += out.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    let (hits, made, kept) = snapshot.config.keyring.signatures.counts();
    println!(
        "kind={kind} count={count} seconds={seconds:.3} per_second={:.0} octets_per_answer={} signatures_found={hits} signatures_made={made} kept={kept} made_per_second={:.0} resident_kb_before={before} resident_kb_after={}",
        count as f64 / seconds,
        octets / count.max(1),
        made as f64 / seconds,
        resident_kb()
    );
}
