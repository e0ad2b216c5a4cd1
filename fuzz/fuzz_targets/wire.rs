//! Wire bytes through the whole query path and back to wire: no panic, and every reply parses
//! (hickory-proto, an independent decoder), keeps the query's ID, and respects the size limit;
//! and the fast path (`answer_cached`, with one cache kept across inputs, so it is warm for
//! questions seen before) gives the same reply and outcome as the general path.
#![no_main]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use meridian::config::Config;
use meridian::health::Snapshot;
use meridian::query::{AnswerCache, Request, Transport, answer, answer_cached};

const NOW: u32 = 1_764_000_000;

fn snapshot() -> &'static Snapshot {
    static C: OnceLock<Snapshot> = OnceLock::new();
    C.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let config = Config::load(&root.join("tests/data/gslb"), &root.join("geo/dbip-country.mmdb")).expect("fuzz config loads");
        Snapshot::all_up(std::sync::Arc::new(config))
    })
}

fuzz_target!(|data: &[u8]| {
    let snapshot = snapshot();
    let peer: SocketAddr = "198.51.100.7:5300".parse().unwrap();
    static CACHE: OnceLock<std::sync::Mutex<AnswerCache>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    let mut out = Vec::with_capacity(1232);
    let mut fast = Vec::with_capacity(1232);
    // QUIC stands for the encrypted transports: their replies are padded when asked.
    for transport in [Transport::Udp, Transport::Tcp, Transport::Quic] {
        let request = Request::new(snapshot, data, peer, transport, NOW);
        let general = answer(&request, &mut out);
        let cached = answer_cached(&mut cache, &request, &mut fast);
        assert_eq!((general, &out), (cached, &fast), "the fast path differs");
        let Some(_) = general else {
            continue;
        };
        assert!(out.len() >= 12, "a reply has a header");
        assert_eq!(out[..2], data[..2], "the reply keeps the ID");
        if transport == Transport::Udp {
            assert!(out.len() <= 1232, "UDP reply of {} octets", out.len());
        }
        if let Err(e) = hickory_proto::op::Message::from_vec(&out) {
            panic!("reply does not parse: {e}: {out:02x?}");
        }
    }
});
