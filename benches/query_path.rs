//! The in-process query path, in nanoseconds per call, on the shipped example (`zones/`) and
//! the shipped geo database: locating a client and choosing the answer (from the sources, and
//! from the compiled table as queries do), and the whole
//! `answer()` call from query bytes (read into a `Request`) to response bytes for a GSLB name with ECS and for a
//! static name, and the same through the fast path the UDP workers run (`answer_cached`, warm),
//! with and without DNS Cookies.
//! Run with `cargo bench --bench query_path`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use meridian::config::Config;
use meridian::health::Snapshot;
use meridian::policy::{self, AllUp, Ask, Client, Family, Ordered};
use meridian::query::{AnswerCache, Request, Transport, answer, answer_cached};

/// The clock of every request.
const NOW: u32 = 1_764_000_000;
/// The cookie secret of the cookie benchmarks.
const SECRET: [u8; 16] = *b"bench-cookie-key";

fn main() {
    divan::main();
}

fn config() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Config::load(&root.join("zones"), &root.join("geo/dbip-country.mmdb")).expect("the shipped example loads")
}

/// The shipped example with every member up.
fn snapshot() -> Snapshot {
    Snapshot::all_up(std::sync::Arc::new(config()))
}

/// 4096 pseudo-random public IPv4 /24 networks (a fixed sequence, the same every run).
fn clients() -> Vec<Ipv4Addr> {
    let mut x: u32 = 0x1234_5678;
    let mut out = Vec::new();
    while out.len() < 4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let a = Ipv4Addr::from(x & 0xffff_ff00);
        if !(a.is_private() || a.is_loopback() || a.is_multicast() || a.octets()[0] == 0 || a.octets()[0] >= 224) {
            out.push(a);
        }
    }
    out
}

/// A GSLB query with ECS for each of [`clients`].
fn gslb_queries() -> Vec<Vec<u8>> {
    clients().into_iter().enumerate().map(|(i, a)| query("www.example.com", 1, Some(a), i as u16)).collect()
}

fn query(name: &str, qtype: u16, ecs: Option<Ipv4Addr>, id: u16) -> Vec<u8> {
    let mut p = id.to_be_bytes().to_vec();
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    for label in name.split('.') {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&[0, 1]);
    let opt_data: Vec<u8> = match ecs {
        Some(a) => [&[0u8, 8, 0, 7, 0, 1, 24, 0][..], &a.octets()[..3]].concat(),
        None => Vec::new(),
    };
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0]);
    p.extend_from_slice(&(opt_data.len() as u16).to_be_bytes());
    p.extend_from_slice(&opt_data);
    p
}

/// Runs `choose` for the pool `www` over [`clients`] in turn, each a /24 from ECS, with the
/// call's count as the seed: the set-up the two choice benchmarks share.
fn bench_choice(bencher: divan::Bencher, choose: impl Fn(&Config, usize, &Client, u64) -> policy::Decision) {
    let config = config();
    let clients = clients();
    let pool = config.gslb.pools.iter().position(|p| p.name == "www").unwrap();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % clients.len();
        let client = Client { addr: IpAddr::V4(clients[i]), prefix: 24, from_ecs: true };
        black_box(choose(&config, pool, &client, i as u64))
    });
}

#[divan::bench(sample_count = 1000, sample_size = 64)]
fn locate_and_choose(bencher: divan::Bencher) {
    bench_choice(bencher, |config, pool, client, seed| {
        let located = policy::locate(&config.gslb, &config.geo, client);
        policy::choose(&config.gslb, &Ask { pool, family: Family::V4, located: &located, client, seed }, &AllUp, None)
    });
}

/// What a query runs instead of [`locate_and_choose`]: the pool's compiled table, then the
/// choice over the order found.
#[divan::bench(sample_count = 1000, sample_size = 64)]
fn compiled_lookup_and_choose(bencher: divan::Bencher) {
    bench_choice(bencher, |config, pool, client, seed| {
        let hit = config.decisions.lookup(pool, client.addr).unwrap();
        let ask = Ordered { pool, family: Family::V4, order: hit.order, client, seed };
        policy::choose_ordered(&config.gslb, &ask, &AllUp, None)
    });
}

#[divan::bench(sample_count = 1000, sample_size = 64)]
fn answer_gslb_with_ecs(bencher: divan::Bencher) {
    let snapshot = snapshot();
    let queries = gslb_queries();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut out = Vec::with_capacity(1232);
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % queries.len();
        black_box(answer(&Request::new(&snapshot, &queries[i], peer, Transport::Udp, NOW), &mut out))
    });
}

#[divan::bench(sample_count = 1000, sample_size = 64)]
fn answer_static(bencher: divan::Bencher) {
    let snapshot = snapshot();
    let q = query("static.example.com", 1, None, 7);
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut out = Vec::with_capacity(1232);
    bencher.bench_local(|| black_box(answer(&Request::new(&snapshot, &q, peer, Transport::Udp, NOW), &mut out)));
}

#[divan::bench(sample_count = 1000, sample_size = 64)]
fn answer_nxdomain(bencher: divan::Bencher) {
    let snapshot = snapshot();
    let q = query("nothing-here.example.com", 1, None, 7);
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut out = Vec::with_capacity(1232);
    bencher.bench_local(|| black_box(answer(&Request::new(&snapshot, &q, peer, Transport::Udp, NOW), &mut out)));
}

/// The fast path the UDP workers run: the same GSLB queries with ECS through a warm cache.
#[divan::bench(sample_count = 1000, sample_size = 64)]
fn fast_path_gslb_with_ecs(bencher: divan::Bencher) {
    let snapshot = snapshot();
    let queries = gslb_queries();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut out = Vec::with_capacity(1232);
    let mut cache = AnswerCache::new();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % queries.len();
        black_box(answer_cached(&mut cache, &Request::new(&snapshot, &queries[i], peer, Transport::Udp, NOW), &mut out))
    });
}

/// A static answer through a warm cache.
#[divan::bench(sample_count = 1000, sample_size = 64)]
fn fast_path_static(bencher: divan::Bencher) {
    let snapshot = snapshot();
    let q = query("static.example.com", 1, None, 7);
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut out = Vec::with_capacity(1232);
    let mut cache = AnswerCache::new();
    bencher.bench_local(|| {
        black_box(answer_cached(&mut cache, &Request::new(&snapshot, &q, peer, Transport::Udp, NOW), &mut out))
    });
}

/// A static query carrying a COOKIE option: the client cookie alone, or with a server cookie.
fn cookie_query(server: bool, peer: SocketAddr) -> Vec<u8> {
    let mut q = query("static.example.com", 1, None, 7);
    let client = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let mut option = client.to_vec();
    if server {
        option.extend_from_slice(&meridian::cookie::make(&SECRET, &client, peer.ip(), NOW - 60));
    }
    let at = q.len() - 2;
    q[at..].copy_from_slice(&((4 + option.len()) as u16).to_be_bytes());
    q.extend_from_slice(&[0, 10]);
    q.extend_from_slice(&(option.len() as u16).to_be_bytes());
    q.extend_from_slice(&option);
    q
}

/// The static answer through a warm cache for a client that presents a valid server cookie
/// (checked, and sent back), and for one with a client cookie alone (a server cookie made).
#[divan::bench(sample_count = 1000, sample_size = 64, args = [true, false])]
fn fast_path_static_with_cookie(bencher: divan::Bencher, valid_server_cookie: bool) {
    let mut config = config();
    config.cookies = std::sync::Arc::new(meridian::cookie::Secrets::new(vec![SECRET]));
    let snapshot = Snapshot::all_up(std::sync::Arc::new(config));
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let q = cookie_query(valid_server_cookie, peer);
    let mut out = Vec::with_capacity(1232);
    let mut cache = AnswerCache::new();
    bencher.bench_local(|| {
        black_box(answer_cached(&mut cache, &Request::new(&snapshot, &q, peer, Transport::Udp, NOW), &mut out))
    });
}
