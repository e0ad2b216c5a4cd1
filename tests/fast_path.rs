//! The fast path (`answer_cached`, what the UDP workers run) against the general path
//! (`answer`) over the whole test corpus: every zone directory the tests use, every owner name
//! in it and names around them, many query types, with and without EDNS, DO and ECS, small
//! and large payload sizes, over UDP and TCP sizes, under several health states. The bytes of
//! each response and what was counted must be identical, on a cold cache and on a warm one,
//! and a reload must never let a cached answer of the old zones out.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::queries::*;
use common::{Rng, corpus, health_states};
use meridian::config::Config;
use meridian::health::Snapshot;
use meridian::query::{AnswerCache, Request, Transport, answer, answer_cached};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn geo() -> PathBuf {
    root().join("geo/dbip-country.mmdb")
}

/// Signed copies in `dir`: the shipped example and the DNSSEC test zones, each with a key
/// that signs from long before the requests' clock.
fn signed_copies(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for (name, src, zone) in
        [("example", root().join("zones"), "example.com"), ("dnssec", root().join("tests/data/dnssec"), "signed.test")]
    {
        let dir = dir.join(name);
        std::fs::create_dir(&dir).unwrap();
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
        let key = meridian::dnssec::command::Generate {
            zone,
            algorithm: "13",
            ksk: false,
            zsk: false,
            publish: Some("20000101000000"),
            activate: Some("20000101000000"),
            inactive: None,
            delete: None,
            sync_publish: None,
            sync_delete: None,
        };
        meridian::dnssec::command::generate(&dir.join("keys"), &key, u64::from(NOW)).unwrap();
        dirs.push(dir);
    }
    dirs
}

/// A signed pool name asked by every client network, with and without ECS, under each health
/// state, again and again through one cache: each answer's RRSIG is the one for its own
/// members, never one kept for another answer of the same name.
#[test]
fn signed_pool_answers_keep_their_own_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for dir in signed_copies(dir.path()) {
        let config = Arc::new(Config::load(&dir, &geo()).unwrap());
        let mut cache = AnswerCache::new();
        let pools: Vec<Vec<u8>> = names(&config)
            .into_iter()
            .filter(|n| {
                let name = meridian::zone::Name::from_wire(n).unwrap();
                config.gslb.pools.iter().any(|p| p.owners.contains(&name))
            })
            .collect();
        assert!(!pools.is_empty(), "{}: no pool names", dir.display());
        for (health_name, snapshot) in health_states(&config) {
            for round in 0..3u16 {
                for qname in &pools {
                    for (i, client) in V4_CLIENTS.iter().enumerate() {
                        for shape in [
                            Shape { edns: Some(1232), dnssec_ok: true, ..Shape::PLAIN },
                            Shape { edns: Some(1232), dnssec_ok: true, ecs: Some((1, 24)), ..Shape::PLAIN },
                        ] {
                            let client = IpAddr::from(*client);
                            let packet = build_query(round * 100 + i as u16, qname, 1, shape, client);
                            let peer = SocketAddr::new(client, 5300);
                            let request = Request::new(&snapshot, &packet, peer, Transport::Udp, NOW);
                            let (mut general, mut fast) = (Vec::new(), Vec::new());
                            let g = answer(&request, &mut general);
                            let f = answer_cached(&mut cache, &request, &mut fast);
                            assert_eq!((g, &general), (f, &fast), "{}: {health_name}, {packet:02x?}", dir.display());
                            compared += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(compared > 300, "{compared}");
}

#[test]
fn the_fast_path_answers_exactly_like_the_general_path_over_the_corpus() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut compared = 0usize;
    let mut valid_cookies = 0usize;
    let mut kinds = (0usize, 0usize, 0usize);
    let signed = tempfile::tempdir().unwrap();
    let mut dirs = corpus();
    dirs.extend(signed_copies(signed.path()));
    for dir in dirs {
        let mut config = Config::load(&dir, &geo()).unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
        config.cookies = Arc::new(meridian::cookie::Secrets::new(vec![SECRET]));
        let config = Arc::new(config);
        let names = names(&config);
        // One cache for every health state in turn, as a worker's across health changes: the
        // second time a question is asked it is answered from what the first prepared, and a
        // pool's walk kept for one health view must never answer under the next.
        let mut cache = AnswerCache::new();
        let mut step = 0;
        for (health_name, snapshot) in health_states(&config) {
            // A signed configuration's clock moves on eight days at each round: every prepared
            // signed answer has to be made again for the new signature week, never sent as it was.
            for round in 0..2 {
                step += 1;
                let now = if config.keyring.is_empty() { NOW } else { NOW + step * 8 * 86_400 };
                for name in &names {
                    for &qtype in TYPES {
                        let shapes = shapes();
                        let shape = shapes[rng.below(shapes.len())];
                        let client: IpAddr = if rng.below(4) == 0 {
                            V6_CLIENTS[rng.below(V6_CLIENTS.len())].parse().unwrap()
                        } else {
                            IpAddr::from(V4_CLIENTS[rng.below(V4_CLIENTS.len())])
                        };
                        let peer = SocketAddr::new(client, 1024 + rng.below(60000) as u16);
                        let qname = mixed_case(name, &mut rng);
                        let packet = build_query(rng.next() as u16, &qname, qtype, shape, client);
                        for transport in [Transport::Udp, Transport::Tcp] {
                            let mut general = Vec::new();
                            let mut fast = Vec::new();
                            let request = Request::new(&snapshot, &packet, peer, transport, now);
                            let g = answer(&request, &mut general);
                            let f = answer_cached(&mut cache, &request, &mut fast);
                            assert_eq!(
                                (g, &general),
                                (f, &fast),
                                "{}: {health_name}, round {round}, {transport:?}, query {packet:02x?}",
                                dir.display()
                            );
                            compared += 1;
                            valid_cookies += usize::from(g.is_some_and(|o| o.cookie));
                        }
                    }
                }
            }
        }
        let (fixed, pool, general) = cache.kinds();
        kinds = (kinds.0 + fixed, kinds.1 + pool, kinds.2 + general);
    }
    // The comparison is only worth something if the fast path really answered: most questions
    // are prepared, and the GSLB names of the corpus are kept as pools.
    assert!(compared > 50_000, "{compared} queries compared");
    assert!(valid_cookies > 1000, "{valid_cookies} valid server cookies presented");
    assert!(kinds.0 > 1000 && kinds.1 > 8, "prepared: {kinds:?} (fixed, pool, general)");
}

#[test]
fn a_reload_never_lets_an_answer_of_the_old_zones_out() {
    let dir = tempfile::tempdir().unwrap();
    let zone = |address: &str| {
        format!(
            "$ORIGIN reload.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 86400 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\nstatic IN A {address}\n"
        )
    };
    std::fs::write(dir.path().join("reload.test.zone"), zone("192.0.2.1")).unwrap();
    let old = Arc::new(Config::load(dir.path(), &geo()).unwrap());
    std::fs::write(dir.path().join("reload.test.zone"), zone("192.0.2.2")).unwrap();
    let new = Arc::new(Config::load(dir.path(), &geo()).unwrap());
    assert_ne!(old.generation, new.generation);
    let packet = build_query(7, b"\x06static\x06reload\x04test\x00", 1, Shape::PLAIN, IpAddr::from([127, 0, 0, 1]));
    let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let mut cache = AnswerCache::new();
    let mut out = Vec::new();
    for (config, address) in
        [(&old, [192, 0, 2, 1]), (&old, [192, 0, 2, 1]), (&new, [192, 0, 2, 2]), (&old, [192, 0, 2, 1])]
    {
        let snapshot = Snapshot::all_up(config.clone());
        answer_cached(&mut cache, &Request::new(&snapshot, &packet, peer, Transport::Udp, NOW), &mut out).unwrap();
        assert_eq!(&out[out.len() - 4..], &address, "the answer of generation {}", config.generation);
    }
}
