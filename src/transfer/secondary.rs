//! Secondary zones: kept by transfer from their primaries (RFC 1034 §4.3.5, RFC 5936), not
//! read from a file the operator writes.
//!
//! A zone whose definitions file has `[secondary] primaries = [...]` gets a task here. It asks
//! the primaries for the zone's SOA every SOA refresh (every retry after a failure, at once on
//! a NOTIFY from a primary) and transfers the zone by AXFR when their serial is newer than the
//! copy's. A transfer is checked as a zone file is (`Zone::build`) before anything is written;
//! then the copy is written beside the definitions (`[secondary] file`) by rename, and the
//! configuration is reloaded, so a transferred zone is served, GSLB pools attached, exactly
//! as a zone file would be, and a restart serves the last copy at once. The copy's
//! modification time is the last time a primary confirmed it: a refresh that finds the serial
//! current touches it, and a copy older than the SOA expire is not served (SERVFAIL), at a
//! reload or a restart alike, until a primary answers again.
//!
//! Everything here runs in tasks of its own; the query path only hands over NOTIFY messages
//! ([`answer_notify`]), which wake a task without waiting for it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::Message;
use hickory_proto::rr::RData;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::tsig::{self, Key};
use crate::config::gslb::Secondary;
use crate::config::{Config, ZoneState};
use crate::dns::{class, flags, opcode, rcode, rtype};
use crate::query::encode::Writer;
use crate::reload::Reloader;
use crate::sync::lock;
use crate::zone::parser::{Location, Record};
use crate::zone::{Name, SoaTimers, Zone};

/// How long to wait for a primary to accept a connection or answer an SOA query.
const ANSWER_WAIT: Duration = Duration::from_secs(5);
/// How long a transfer may go without a message before it is abandoned.
const MESSAGE_WAIT: Duration = Duration::from_secs(30);
/// How soon a zone never transferred is tried again after a failure, whatever its (unknown)
/// SOA says.
const FIRST_RETRY: Duration = Duration::from_secs(30);
/// The shortest interval between two checks, whatever a zone's SOA asks (NOTIFY aside).
const MIN_INTERVAL: Duration = Duration::from_secs(5);

/// What `/status` shows of a secondary zone.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SecondaryStatus {
    /// Where it is transferred from.
    pub primaries: Vec<String>,
    /// The TSIG key used, if any.
    pub key: Option<String>,
    /// The copy's serial, if there is a copy.
    pub serial: Option<u32>,
    /// When a primary last confirmed the copy (a transfer, or an SOA check that found it
    /// current), seconds since the Unix epoch.
    pub last_refresh: Option<u64>,
    /// When the next check is due.
    pub next_refresh: Option<u64>,
    /// When the copy expires without a successful refresh.
    pub expires: Option<u64>,
    /// The last transfer: when, from where, what serial, how big.
    pub last_transfer: Option<TransferRecord>,
    /// Why the last check or transfer failed, if it did.
    pub last_error: Option<String>,
    /// Transfers received since start.
    pub transfers: u64,
    /// Checks or transfers that failed since start.
    pub failures: u64,
}

/// One transfer received.
#[derive(Debug, Clone, Serialize)]
pub struct TransferRecord {
    /// When it finished (seconds since the Unix epoch).
    pub at: u64,
    /// The primary it came from.
    pub from: String,
    /// The serial transferred.
    pub serial: u32,
    /// Records.
    pub records: usize,
    /// Octets of DNS messages.
    pub bytes: u64,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

struct Follower {
    wake: Arc<tokio::sync::Notify>,
    status: Arc<Mutex<SecondaryStatus>>,
    task: tokio::task::JoinHandle<()>,
}

/// The tasks keeping the secondary zones, by zone (lower-cased wire name).
#[derive(Default)]
pub struct Secondaries {
    followers: Mutex<HashMap<Box<[u8]>, Follower>>,
    /// Set by [`Secondaries::start`]: a checker of a fleet, which serves no DNS, never starts.
    started: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Secondaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secondaries").finish_non_exhaustive()
    }
}

impl Secondaries {
    /// Starts following the secondary zones of `config` (see [`Secondaries::follow`]), now
    /// and after every reload.
    pub fn start(&self, config: &Config, reloader: &Arc<Reloader>) {
        self.started.store(true, std::sync::atomic::Ordering::Relaxed);
        self.follow(config, reloader);
    }

    /// Starts a task for each secondary zone of `config` that has none, and stops those of
    /// zones no longer declared. Called after each reload; nothing until [`Secondaries::start`].
    pub fn follow(&self, config: &Config, reloader: &Arc<Reloader>) {
        if !self.started.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut followers = lock(&self.followers);
        followers.retain(|key, f| {
            let keep = config.gslb.secondaries.contains_key(key);
            if !keep {
                f.task.abort();
            }
            keep
        });
        for (key, settings) in &config.gslb.secondaries {
            if followers.contains_key(key) {
                continue;
            }
            let Some(origin) = Name::from_wire(key) else { continue };
            let wake = Arc::new(tokio::sync::Notify::new());
            let status = Arc::new(Mutex::new(SecondaryStatus {
                primaries: settings.primaries.iter().map(ToString::to_string).collect(),
                key: settings.key.as_ref().map(|k| k.name.to_string()),
                ..SecondaryStatus::default()
            }));
            let task = tokio::spawn(run(origin, key.clone(), wake.clone(), status.clone(), Arc::downgrade(reloader)));
            followers.insert(key.clone(), Follower { wake, status, task });
        }
    }

    /// Wakes the task of zone `key` (a NOTIFY came): it checks the primaries now.
    pub fn wake(&self, key: &[u8]) {
        if let Some(f) = lock(&self.followers).get(key) {
            f.wake.notify_one();
        }
    }

    /// Each secondary zone's state, by zone name.
    pub fn status(&self) -> Vec<(String, SecondaryStatus)> {
        let mut out: Vec<(String, SecondaryStatus)> = lock(&self.followers)
            .iter()
            .filter_map(|(key, f)| Some((Name::from_wire(key)?.to_string(), lock(&f.status).clone())))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

impl Drop for Secondaries {
    fn drop(&mut self) {
        for f in lock(&self.followers).values() {
            f.task.abort();
        }
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// One secondary zone's life: check, transfer, wait; until the zone is no longer declared.
async fn run(
    origin: Name,
    key: Box<[u8]>,
    wake: Arc<tokio::sync::Notify>,
    status: Arc<Mutex<SecondaryStatus>>,
    reloader: Weak<Reloader>,
) {
    // When the last attempt failed: the next one is due a retry interval later.
    let mut failed_at: Option<SystemTime> = None;
    // The first check is at once, copy or not: NOTIFYs may have been missed while this
    // process was down (BIND and Knot refresh at start too).
    let mut first = true;
    loop {
        let Some(Served { timers, confirmed, ours, .. }) = served(&reloader, &key, &origin) else { return };
        let now = SystemTime::now();
        let due = match (failed_at, timers, confirmed) {
            (Some(f), Some(t), _) => f + secs(t.retry),
            (Some(f), None, _) => f + FIRST_RETRY,
            (None, Some(t), Some(c)) if !first => c + secs(t.refresh),
            _ => now,
        };
        first = false;
        {
            let mut s = lock(&status);
            s.serial = ours.as_ref().map(|z| z.serial());
            s.last_refresh = confirmed.map(unix);
            s.expires = confirmed.zip(timers).map(|(c, t)| unix(c) + u64::from(t.expire));
            s.next_refresh = Some(unix(due.max(now)));
        }
        let wait = due.duration_since(now).unwrap_or_default();
        if !wait.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = wake.notified() => {
                    tracing::info!(zone = %origin, "NOTIFY from a primary: checking now");
                }
            }
        }
        // What is served may have changed while waiting (a reload): check against that.
        let Some(Served { settings, state, ours, timers, confirmed }) = served(&reloader, &key, &origin) else {
            return;
        };
        let started = std::time::Instant::now();
        match refresh(&origin, &settings, ours.as_ref()).await {
            Ok(Outcome::Current(primary)) => {
                failed_at = None;
                // The copy's time says a primary confirmed it now.
                let touched = std::fs::File::options()
                    .write(true)
                    .open(&settings.file)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                if let Err(e) = touched {
                    tracing::warn!(zone = %origin, file = %settings.file.display(), "cannot touch the copy: {e}");
                }
                tracing::debug!(zone = %origin, %primary, "the copy is current");
                lock(&status).last_error = None;
                if state == Some(ZoneState::Expired) {
                    tracing::info!(zone = %origin, %primary, "a primary answers again: serving the zone");
                    reload(&reloader).await;
                }
            }
            Ok(Outcome::Transferred(t)) => {
                let millis = started.elapsed().as_millis() as u64;
                let (primary, serial, records, bytes, incremental) =
                    (t.primary, t.serial, t.records.len(), t.bytes, t.incremental);
                // Checking and writing a large zone takes a while: off the runtime's workers.
                let (o, f) = (origin.clone(), settings.clone());
                let kept = tokio::task::spawn_blocking(move || keep(&o, &f, t))
                    .await
                    .unwrap_or_else(|e| Err(format!("the task keeping the transfer failed: {e}")));
                match kept {
                    Ok(()) => {
                        failed_at = None;
                        tracing::info!(
                            zone = %origin, %primary, serial, records, bytes, millis,
                            kind = if incremental { "IXFR" } else { "AXFR" }, "zone transferred in"
                        );
                        {
                            let mut s = lock(&status);
                            s.transfers += 1;
                            s.last_error = None;
                            s.last_transfer = Some(TransferRecord {
                                at: unix(SystemTime::now()),
                                from: primary.to_string(),
                                serial,
                                records,
                                bytes,
                                millis,
                            });
                        }
                        reload(&reloader).await;
                    }
                    Err(e) => fail(&origin, &status, &mut failed_at, e),
                }
            }
            Err(e) => {
                fail(&origin, &status, &mut failed_at, e);
                let expired = confirmed
                    .zip(timers)
                    .is_some_and(|(c, t)| c.elapsed().is_ok_and(|age| age.as_secs() > u64::from(t.expire)));
                if expired && state == Some(ZoneState::Loaded) {
                    tracing::error!(zone = %origin, "no primary has confirmed the copy within the SOA expire: not served");
                    reload(&reloader).await;
                }
            }
        }
    }
}

/// What the configuration served now says of a secondary zone.
struct Served {
    settings: Secondary,
    state: Option<ZoneState>,
    ours: Option<Arc<Zone>>,
    timers: Option<SoaTimers>,
    /// When a primary last confirmed the copy: its modification time.
    confirmed: Option<SystemTime>,
}

/// `None` once the server is gone or the zone is no longer a secondary.
fn served(reloader: &Weak<Reloader>, key: &[u8], origin: &Name) -> Option<Served> {
    let config = reloader.upgrade()?.current();
    let settings = config.gslb.secondaries.get(key).cloned()?;
    let copy = config.zone_status.iter().find(|z| z.origin == *origin);
    let ours = copy.and_then(|z| z.loaded.clone());
    let confirmed = std::fs::metadata(&settings.file).and_then(|m| m.modified()).ok().filter(|_| ours.is_some());
    Some(Served {
        state: copy.map(|z| z.state),
        timers: ours.as_ref().and_then(|z| z.soa_timers()),
        ours,
        confirmed,
        settings,
    })
}

fn secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n)).max(MIN_INTERVAL)
}

fn fail(origin: &Name, status: &Mutex<SecondaryStatus>, failed_at: &mut Option<SystemTime>, error: String) {
    tracing::warn!(zone = %origin, "secondary: {error}");
    *failed_at = Some(SystemTime::now());
    let mut s = lock(status);
    s.failures += 1;
    s.last_error = Some(error);
}

async fn reload(reloader: &Weak<Reloader>) {
    if let Some(r) = reloader.upgrade() {
        r.reload().await;
    }
}

enum Outcome {
    /// A primary has the copy's serial (or an older one).
    Current(SocketAddr),
    /// A newer version was transferred.
    Transferred(Transferred),
}

struct Transferred {
    primary: SocketAddr,
    serial: u32,
    records: Vec<Record>,
    bytes: u64,
    /// Whether it came by IXFR as changes (else whole).
    incremental: bool,
}

/// Asks each primary in turn for the SOA, and transfers the zone from the first one with a
/// newer serial (or at all, when there is no copy).
async fn refresh(origin: &Name, settings: &Secondary, ours: Option<&Arc<Zone>>) -> Result<Outcome, String> {
    let mut errors = Vec::new();
    for &primary in &settings.primaries {
        let theirs = match soa_serial(origin, primary, settings.key.as_ref()).await {
            Ok(s) => s,
            Err(e) => {
                errors.push(format!("{primary}: {e}"));
                continue;
            }
        };
        if let Some(ours) = ours
            && ours.serial().wrapping_sub(theirs) as i32 >= 0
        {
            return Ok(Outcome::Current(primary));
        }
        if let Some(ours) = ours {
            match transfer(origin, primary, settings, Some(ours)).await {
                Ok(t) => return Ok(Outcome::Transferred(t)),
                // A primary without the history, or without IXFR at all: the whole zone.
                Err(e) => tracing::info!(zone = %origin, %primary, "IXFR failed ({e}): trying AXFR"),
            }
        }
        match transfer(origin, primary, settings, None).await {
            Ok(t) => return Ok(Outcome::Transferred(t)),
            Err(e) => errors.push(format!("{primary}: {e}")),
        }
    }
    Err(errors.join("; "))
}

/// A query for `origin` of `qtype` with a random ID, signed with `key` when given; the
/// message and its MAC.
fn request(origin: &Name, qtype: u16, key: Option<&Arc<Key>>, ours: Option<&Zone>) -> (Vec<u8>, Option<Vec<u8>>, u16) {
    let mut id = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id);
    let id = u16::from_be_bytes(id);
    let mut buf = Vec::with_capacity(512);
    let mut w = Writer::new(&mut buf, 512);
    w.header(id, 0);
    w.question(origin.wire(), qtype, class::IN);
    if let Some(z) = ours {
        // RFC 1995 §3: an IXFR carries the secondary's SOA in the authority section.
        let _ = w.record(1, origin.wire(), rtype::SOA, class::IN, z.soa().ttl, z.soa().first());
    }
    let mac = key.map(|k| tsig::sign(&mut buf, k, None, true, tsig::now()));
    (buf, mac, id)
}

/// The serial of `origin`'s SOA at `primary` (UDP).
async fn soa_serial(origin: &Name, primary: SocketAddr, key: Option<&Arc<Key>>) -> Result<u32, String> {
    let local: SocketAddr = if primary.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = tokio::net::UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    socket.connect(primary).await.map_err(|e| e.to_string())?;
    let (message, mac, id) = request(origin, rtype::SOA, key, None);
    let mut buf = vec![0u8; 65_535];
    for _ in 0..2 {
        socket.send(&message).await.map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
        while let Ok(got) = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            let n = got.map_err(|e| e.to_string())?;
            let reply = &buf[..n];
            if n < 12 || reply[..2] != id.to_be_bytes() || reply[2] & 0x80 == 0 {
                continue;
            }
            if let (Some(key), Some(mac)) = (key, &mac) {
                tsig::Verifier::new(key.clone(), mac.clone()).verify(reply, tsig::now())?;
            }
            let m = Message::from_vec(reply).map_err(|e| format!("unreadable SOA answer: {e}"))?;
            let code = u16::from(m.metadata.response_code);
            if code != rcode::NOERROR {
                return Err(format!("SOA query answered {}", crate::dns::rcode_to_text(code)));
            }
            if !m.metadata.authoritative {
                return Err("SOA answer is not authoritative: the primary does not serve the zone".into());
            }
            return m
                .answers
                .iter()
                .find_map(|r| match &r.data {
                    RData::SOA(soa) => Some(soa.serial),
                    _ => None,
                })
                .ok_or_else(|| "SOA answer without an SOA".to_string());
        }
    }
    Err("no answer to the SOA query".into())
}

/// Transfers `origin` from `primary` over TCP: by IXFR from the copy `ours` when given
/// (applying what changed, or taking the whole zone when the primary sends it whole), else by
/// AXFR.
async fn transfer(
    origin: &Name,
    primary: SocketAddr,
    settings: &Secondary,
    ours: Option<&Arc<Zone>>,
) -> Result<Transferred, String> {
    let mut stream = tokio::time::timeout(ANSWER_WAIT, tokio::net::TcpStream::connect(primary))
        .await
        .map_err(|_| "no TCP connection within 5 s".to_string())?
        .map_err(|e| format!("cannot connect: {e}"))?;
    let qtype = if ours.is_some() { rtype::IXFR } else { rtype::AXFR };
    let (message, mac, id) = request(origin, qtype, settings.key.as_ref(), ours.map(|z| &**z));
    let mut framed = (message.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&message);
    stream.write_all(&framed).await.map_err(|e| format!("cannot send the request: {e}"))?;
    let mut verifier = settings.key.clone().zip(mac).map(|(k, m)| tsig::Verifier::new(k, m));
    let location = Location { file: settings.file.as_path().into(), line: 0 };
    let mut reader = Sequence::new(origin.clone(), ours.map(|z| z.serial()));
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 65_535];
    while !reader.done() {
        let mut len = [0u8; 2];
        let read = async {
            stream.read_exact(&mut len).await?;
            let n = usize::from(u16::from_be_bytes(len));
            stream.read_exact(&mut buf[..n]).await.map(|_| n)
        };
        let n = tokio::time::timeout(MESSAGE_WAIT, read)
            .await
            .map_err(|_| format!("no message for {} s: transfer abandoned", MESSAGE_WAIT.as_secs()))?
            .map_err(|e| format!("the connection ended during the transfer ({e})"))?;
        bytes += n as u64 + 2;
        if bytes > settings.max_size {
            return Err(format!("the transfer exceeds max_size ({} octets): abandoned", settings.max_size));
        }
        let reply = &buf[..n];
        if n < 12 || reply[..2] != id.to_be_bytes() {
            return Err("an answer with another ID".into());
        }
        if let Some(v) = &mut verifier {
            v.verify(reply, tsig::now())?;
        }
        let m = Message::from_vec(reply).map_err(|e| format!("unreadable transfer message: {e}"))?;
        let code = u16::from(m.metadata.response_code);
        if code != rcode::NOERROR {
            return Err(format!("transfer refused: {}", crate::dns::rcode_to_text(code)));
        }
        for r in &m.answers {
            reader.push(convert(r, &location)?)?;
        }
        if m.answers.is_empty() {
            return Err("a transfer message without records".into());
        }
        if reader.ended_with_soa_alone() {
            break;
        }
    }
    if verifier.as_ref().is_some_and(|v| !v.complete()) {
        return Err("the last messages of the transfer are not signed".into());
    }
    // Applying changes to a large copy takes a while: off the runtime's worker threads.
    let ours = ours.cloned();
    let (serial, records, incremental) = tokio::task::spawn_blocking(move || reader.finish(ours.as_deref()))
        .await
        .map_err(|e| format!("the transfer's task failed: {e}"))??;
    Ok(Transferred { primary, serial, records, bytes, incremental })
}

/// Reads the records of an AXFR, or of an IXFR answered whole, incrementally or by the SOA
/// alone (RFC 1995 §4), as they come.
struct Sequence {
    origin: Name,
    ours: Option<u32>,
    /// The serial of the first SOA: the version being sent.
    latest: Option<u32>,
    records: Vec<Record>,
    state: State,
    /// Incremental: (deleted, added) per change.
    changes: Vec<(Vec<Record>, Vec<Record>)>,
    first_from: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Start,
    /// After the opening SOA: the next record tells the kind.
    Opened,
    Whole,
    Deleting,
    Adding,
    Done,
}

impl Sequence {
    fn new(origin: Name, ours: Option<u32>) -> Sequence {
        Sequence {
            origin,
            ours,
            latest: None,
            records: Vec::new(),
            state: State::Start,
            changes: Vec::new(),
            first_from: None,
        }
    }

    fn done(&self) -> bool {
        self.state == State::Done
    }

    /// After a whole message: an IXFR answered by the SOA alone (the copy is current) ends
    /// with that message.
    fn ended_with_soa_alone(&self) -> bool {
        self.state == State::Opened
            && self.ours.zip(self.latest).is_some_and(|(ours, latest)| latest.wrapping_sub(ours) as i32 <= 0)
    }

    fn push(&mut self, r: Record) -> Result<(), String> {
        let soa =
            (r.rtype == rtype::SOA && r.owner == self.origin).then(|| SoaTimers::of(&r.rdata).map_or(0, |t| t.serial));
        match (self.state, soa) {
            (State::Start, Some(serial)) => {
                self.latest = Some(serial);
                self.records.push(r);
                // An IXFR answered by the SOA alone ends here when the copy is current; the
                // transport ends with the message.
                self.state = State::Opened;
            }
            (State::Start, None) => return Err("the transfer does not start with the zone's SOA".into()),
            (State::Opened, Some(serial)) if self.ours.is_some() && Some(serial) != self.latest => {
                self.first_from = Some(serial);
                self.changes.push((Vec::new(), Vec::new()));
                self.state = State::Deleting;
            }
            (State::Opened, Some(_)) => self.state = State::Done,
            (State::Opened, None) => {
                self.records.push(r);
                self.state = State::Whole;
            }
            (State::Whole, Some(_)) => self.state = State::Done,
            (State::Whole, None) => self.records.push(r),
            (State::Deleting, Some(_)) => self.state = State::Adding,
            (State::Deleting, None) => {
                if let Some(c) = self.changes.last_mut() {
                    c.0.push(r);
                }
            }
            (State::Adding, Some(serial)) if Some(serial) == self.latest => self.state = State::Done,
            (State::Adding, Some(_)) => {
                self.changes.push((Vec::new(), Vec::new()));
                self.state = State::Deleting;
            }
            (State::Adding, None) => {
                if let Some(c) = self.changes.last_mut() {
                    c.1.push(r);
                }
            }
            (State::Done, _) => return Err("records after the closing SOA".into()),
        }
        Ok(())
    }

    /// (serial, the zone's records, whether it came incrementally). An incremental transfer is
    /// applied to `ours`.
    fn finish(mut self, ours: Option<&Zone>) -> Result<(u32, Vec<Record>, bool), String> {
        let latest = self.latest.ok_or("an empty transfer")?;
        if self.state == State::Opened {
            // The SOA alone: the copy is current (RFC 1995 §4).
            let ours = ours.ok_or("a transfer of the SOA alone")?;
            return Err(format!("the primary sent only its SOA (serial {latest}, ours {})", ours.serial()));
        }
        if self.changes.is_empty() {
            return Ok((latest, self.records, false));
        }
        let ours = ours.ok_or("an incremental answer to an AXFR")?;
        if self.first_from != Some(ours.serial()) {
            return Err(format!(
                "the changes start at serial {}, not at ours ({})",
                self.first_from.unwrap_or_default(),
                ours.serial()
            ));
        }
        // The copy's records, less what went, plus what came; the new SOA replaces the old.
        type Key = (Box<[u8]>, u16, Vec<u8>);
        let key = |r: &Record| -> Key { (r.owner.key(), r.rtype, r.rdata.clone()) };
        let mut have: Vec<Record> = Vec::new();
        for node in ours.nodes() {
            for set in &node.rrsets {
                if set.rtype == rtype::SOA {
                    continue;
                }
                for rdata in set.rdatas() {
                    have.push(Record {
                        owner: node.name.clone(),
                        rtype: set.rtype,
                        ttl: set.ttl,
                        rdata: rdata.to_vec(),
                        at: self.records[0].at.clone(),
                    });
                }
            }
        }
        let mut index: HashMap<Key, Vec<usize>> = HashMap::new();
        for (i, r) in have.iter().enumerate() {
            index.entry(key(r)).or_default().push(i);
        }
        let mut gone = vec![false; have.len()];
        for (deleted, added) in std::mem::take(&mut self.changes) {
            for d in deleted {
                if d.rtype == rtype::SOA {
                    continue;
                }
                let slot = index.get_mut(&key(&d)).and_then(Vec::pop);
                match slot {
                    Some(i) => gone[i] = true,
                    None => {
                        return Err(format!(
                            "the changes delete a record the copy does not have ({} type {})",
                            d.owner, d.rtype
                        ));
                    }
                }
            }
            for a in added {
                if a.rtype == rtype::SOA {
                    continue;
                }
                index.entry(key(&a)).or_default().push(have.len());
                gone.push(false);
                have.push(a);
            }
        }
        let soa = self.records.swap_remove(0);
        let mut records = vec![soa];
        records.extend(have.into_iter().zip(gone).filter(|(_, g)| !g).map(|(r, _)| r));
        Ok((latest, records, true))
    }
}

/// A received record in the zone parser's form (names uncompressed, case kept).
fn convert(r: &hickory_proto::rr::Record, at: &Location) -> Result<Record, String> {
    if u16::from(r.dns_class) != class::IN {
        return Err(format!("a record of class {} in the transfer", u16::from(r.dns_class)));
    }
    let owner = Name::from_wire(&uncompressed(&r.name)?).ok_or("a record with an invalid owner name")?;
    let rdata = uncompressed(&r.data)?;
    Ok(Record { owner, rtype: u16::from(r.record_type()), ttl: r.ttl, rdata, at: at.clone() })
}

/// `value` (a name, or record data) in wire form with names uncompressed: what the zone parser
/// and our encoder hold.
fn uncompressed(value: &impl BinEncodable) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(64);
    let mut e = BinEncoder::new(&mut out);
    e.set_name_encoding(NameEncoding::Uncompressed);
    value.emit(&mut e).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Checks a transferred zone as a zone file is checked, then writes it as the zone's copy by
/// rename (never a half-written file). The zone built for the check is handed to the reload
/// that follows ([`take_built`]), which then does not read the file it was written to.
fn keep(origin: &Name, settings: &Secondary, t: Transferred) -> Result<(), String> {
    let text = master_file(origin, &t);
    let mut checked = crate::zone::Checked::default();
    let zone = Zone::build(origin, &settings.file, t.records, &mut checked);
    let Some(zone) = zone.filter(|_| checked.errors.is_empty()) else {
        let first: Vec<String> = checked.errors.iter().take(3).map(|d| d.message.clone()).collect();
        return Err(format!(
            "the zone transferred from {} (serial {}) has errors, the copy is kept: {}",
            t.primary,
            t.serial,
            first.join("; ")
        ));
    };
    write_atomically(&settings.file, text.as_bytes())
        .map_err(|e| format!("cannot write the copy {}: {e}", settings.file.display()))?;
    if let Ok(meta) = std::fs::metadata(&settings.file)
        && let Ok(modified) = meta.modified()
    {
        let mut built = lock(&BUILT);
        built.retain(|b| b.path != settings.file);
        built.push(Built { path: settings.file.clone(), modified, len: meta.len(), zone, warnings: checked.warnings });
    }
    Ok(())
}

/// A copy just written, with the zone built from the same records.
struct Built {
    path: std::path::PathBuf,
    modified: SystemTime,
    len: u64,
    zone: Zone,
    warnings: Vec<crate::zone::Diagnostic>,
}

static BUILT: Mutex<Vec<Built>> = Mutex::new(Vec::new());

/// The zone built from the copy at `path` when it was written, if the file is still the one
/// written (same modification time and size): the reload after a transfer uses it instead of
/// reading the file again. Taken once.
pub fn take_built(path: &Path) -> Option<(Zone, Vec<crate::zone::Diagnostic>)> {
    let mut built = lock(&BUILT);
    let i = built.iter().position(|b| b.path == path)?;
    let b = built.swap_remove(i);
    let meta = std::fs::metadata(path).ok()?;
    (meta.modified().ok()? == b.modified && meta.len() == b.len).then_some((b.zone, b.warnings))
}

/// The records as a master file: every name absolute, every TTL written, data in
/// presentation form (RFC 3597's generic form for types without one here).
fn master_file(origin: &Name, t: &Transferred) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(t.records.len() * 48);
    let _ = writeln!(
        out,
        "; {origin} transferred from {} at {} (Unix time), serial {}.\n; Meridian replaces this file at each \
         transfer: change the zone at its primary.",
        t.primary,
        unix(SystemTime::now()),
        t.serial
    );
    for r in &t.records {
        let _ = writeln!(
            out,
            "{} {} IN {} {}",
            r.owner,
            r.ttl,
            crate::dns::type_to_text(r.rtype),
            crate::zone::rdata::to_text(r.rtype, &r.rdata)
        );
    }
    out
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// True when `packet` is a NOTIFY request (opcode 4, QR clear): the transports hand it to
/// [`answer_notify`] instead of the query path. One octet is read.
pub fn is_notify(packet: &[u8]) -> bool {
    packet.len() >= 12 && packet[2] & 0x80 == 0 && (packet[2] >> 3) & 0x0f == opcode::NOTIFY
}

/// The answer to a NOTIFY (RFC 1996 §3.7, §4.7) received from `peer`, written to `output`;
/// when it is for a secondary zone here, from one of its primaries (and signed with its key,
/// when it has one), the zone's task is woken. Anything else is REFUSED (NOTAUTH for a bad
/// TSIG), FORMERR when it cannot be read.
pub fn answer_notify(config: &Config, secondaries: &Secondaries, packet: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let formerr = || {
        let mut buf = Vec::with_capacity(12);
        Writer::new(&mut buf, 512).header(id, flags::QR | (u16::from(opcode::NOTIFY) << 11) | rcode::FORMERR);
        Some(buf)
    };
    let Ok(m) = Message::from_vec(packet) else { return formerr() };
    let Some(q) = m.queries.first() else { return formerr() };
    let qname = uncompressed(q.name()).ok()?;
    let name = Name::from_wire(&qname)?;
    let reply = |code: u16| {
        let mut buf = Vec::with_capacity(512);
        let mut w = Writer::new(&mut buf, 512);
        w.header(id, flags::QR | flags::AA | (u16::from(opcode::NOTIFY) << 11) | code);
        w.question(&qname, u16::from(q.query_type()), u16::from(q.query_class()));
        buf
    };
    let peer_ip = peer.ip().to_canonical();
    let Some(settings) = config.gslb.secondaries.get(&name.key()) else {
        tracing::info!(zone = %name, %peer, "NOTIFY refused: not a secondary zone here");
        return Some(reply(rcode::REFUSED));
    };
    if !settings.primaries.iter().any(|p| p.ip().to_canonical() == peer_ip) {
        tracing::warn!(zone = %name, %peer, "NOTIFY refused: not from one of the zone's primaries");
        return Some(reply(rcode::REFUSED));
    }
    let mut signed = None;
    if let Some(key) = &settings.key {
        let keys: tsig::Keys = [(key.name.key(), key.clone())].into_iter().collect();
        if !tsig::is_signed(packet) {
            tracing::warn!(zone = %name, %peer, "NOTIFY refused: not signed with TSIG key {}", key.name);
            return Some(reply(rcode::REFUSED));
        }
        match tsig::check_request(packet, &keys, tsig::now()) {
            Ok(s) => signed = Some(s),
            Err(failure) => {
                tracing::warn!(zone = %name, %peer, "NOTIFY refused: {}", failure.describe());
                let mut out = reply(rcode::NOTAUTH);
                match failure {
                    tsig::Failure::BadTime(k, mac) => tsig::sign_badtime(&mut out, &k, &mac, tsig::now()),
                    tsig::Failure::BadSig(k) => {
                        tsig::append_error(&mut out, &k.name, Some(&k), tsig::error::BADSIG, tsig::now())
                    }
                    tsig::Failure::BadKey(n) => {
                        tsig::append_error(&mut out, &n, None, tsig::error::BADKEY, tsig::now())
                    }
                    tsig::Failure::Malformed(_) => return Some(reply(rcode::FORMERR)),
                }
                return Some(out);
            }
        }
    }
    let serial = m.answers.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    });
    tracing::info!(zone = %name, %peer, serial, "NOTIFY from a primary");
    secondaries.wake(&name.key());
    let mut out = reply(rcode::NOERROR);
    if let Some(s) = signed {
        tsig::sign(&mut out, &s.key, Some(&s.mac), true, tsig::now());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record of the test zones, written as the copy writes it and read back by the zone
    /// parser, is the same record: a restart serves exactly what was transferred.
    #[test]
    fn the_copy_reads_back_as_the_records_transferred() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seen = 0;
        for dir in ["zones", "tests/data/serve", "tests/data/gslb", "tests/data/zones/valid"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap().filter_map(Result::ok) {
                let path = entry.path();
                if path.extension().is_none_or(|x| x != "zone") {
                    continue;
                }
                let stem = path.file_stem().unwrap().to_string_lossy().to_string();
                let origin = Name::parse(&format!("{}.", stem.trim_end_matches('.')), None).unwrap();
                let parsed = crate::zone::parser::parse_file(&path, &origin);
                if !parsed.errors.is_empty() {
                    continue;
                }
                let t = Transferred {
                    primary: ([127, 0, 0, 1], 53).into(),
                    serial: 1,
                    records: parsed.records.clone(),
                    bytes: 0,
                    incremental: false,
                };
                let text = master_file(&origin, &t);
                let again = crate::zone::parser::parse_text(&path, &text, &origin);
                assert!(again.errors.is_empty(), "{}: {:?}\n{text}", path.display(), again.errors);
                assert_eq!(again.records.len(), parsed.records.len(), "{}", path.display());
                for (a, b) in parsed.records.iter().zip(&again.records) {
                    assert_eq!(
                        (a.owner.wire(), a.rtype, a.ttl, &a.rdata),
                        (b.owner.wire(), b.rtype, b.ttl, &b.rdata),
                        "{}",
                        path.display()
                    );
                }
                seen += parsed.records.len();
            }
        }
        assert!(seen > 100, "only {seen} records read");
    }

    fn origin() -> Name {
        Name::parse("t.", None).unwrap()
    }

    fn records(text: &str) -> Vec<Record> {
        let parsed = crate::zone::parser::parse_text(Path::new("t.zone"), text, &origin());
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        parsed.records
    }

    fn zone(text: &str) -> Zone {
        let mut checked = crate::zone::Checked::default();
        let z = Zone::build(&origin(), Path::new("t.zone"), records(text), &mut checked);
        assert!(checked.errors.is_empty(), "{:?}", checked.errors);
        z.unwrap()
    }

    const SOA: &str = "t. 60 IN SOA ns.t. h.t. {} 60 60 600 60\nt. 60 IN NS ns.t.\n";

    fn soa(serial: u32) -> String {
        SOA.replace("{}", &serial.to_string()).lines().next().unwrap().to_string() + "\n"
    }

    fn read(ours: Option<u32>, text: &str) -> Sequence {
        let mut seq = Sequence::new(origin(), ours);
        for r in records(text) {
            seq.push(r).unwrap();
        }
        seq
    }

    fn sorted(records: &[Record]) -> Vec<String> {
        let mut v: Vec<String> = records
            .iter()
            .map(|r| format!("{} {} {}", r.owner, r.rtype, crate::zone::rdata::to_text(r.rtype, &r.rdata)))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_whole_transfer_ends_at_the_second_soa() {
        let text = format!("{}ns.t. 60 IN A 192.0.2.1\nt. 60 IN NS ns.t.\n{}", soa(5), soa(5));
        let seq = read(None, &text);
        assert!(seq.done());
        let (serial, got, incremental) = seq.finish(None).unwrap();
        assert_eq!((serial, incremental, got.len()), (5, false, 3));
    }

    #[test]
    fn an_incremental_transfer_is_applied_to_the_copy() {
        let ours = zone(&format!("{}ns.t. 60 IN A 192.0.2.1\nold.t. 60 IN TXT \"x\"\n", SOA.replace("{}", "1")));
        // 1 -> 2: old.t TXT goes, new.t A comes; 2 -> 3: ns.t's address changes.
        let text = format!(
            "{}{}old.t. 60 IN TXT \"x\"\n{}new.t. 60 IN A 192.0.2.7\n{}ns.t. 60 IN A 192.0.2.1\n{}ns.t. 60 IN A 192.0.2.2\n{}",
            soa(3),
            soa(1),
            soa(2),
            soa(2),
            soa(3),
            soa(3)
        );
        let seq = read(Some(1), &text);
        assert!(seq.done());
        let (serial, got, incremental) = seq.finish(Some(&ours)).unwrap();
        assert_eq!((serial, incremental), (3, true));
        let want = zone(&format!("{}ns.t. 60 IN A 192.0.2.2\nnew.t. 60 IN A 192.0.2.7\n", SOA.replace("{}", "3")));
        let mut want_records = Vec::new();
        for node in want.nodes() {
            for set in &node.rrsets {
                for d in set.rdatas() {
                    want_records.push(Record {
                        owner: node.name.clone(),
                        rtype: set.rtype,
                        ttl: set.ttl,
                        rdata: d.to_vec(),
                        at: got[0].at.clone(),
                    });
                }
            }
        }
        assert_eq!(sorted(&got), sorted(&want_records));
        // The changes must start at the copy's serial, and delete only what it has.
        let ours2 = zone(&format!("{}ns.t. 60 IN A 192.0.2.1\n", SOA.replace("{}", "2")));
        assert!(read(Some(2), &text).finish(Some(&ours2)).unwrap_err().contains("start at serial 1"));
        let missing = format!("{}{}gone.t. 60 IN A 192.0.2.9\n{}{}", soa(2), soa(1), soa(2), soa(2));
        let ours1 = zone(&format!("{}ns.t. 60 IN A 192.0.2.1\n", SOA.replace("{}", "1")));
        assert!(read(Some(1), &missing).finish(Some(&ours1)).unwrap_err().contains("does not have"));
    }

    #[test]
    fn an_ixfr_answered_whole_or_by_the_soa_alone_is_told_apart() {
        let whole = format!("{}ns.t. 60 IN A 192.0.2.1\nt. 60 IN NS ns.t.\n{}", soa(5), soa(5));
        let (serial, got, incremental) = read(Some(4), &whole).finish(None).unwrap();
        assert_eq!((serial, incremental, got.len()), (5, false, 3));
        let alone = read(Some(5), &soa(5));
        assert!(alone.ended_with_soa_alone());
        assert!(!read(None, &soa(5)).ended_with_soa_alone(), "an AXFR goes on after its first SOA");
        let mut seq = read(None, &whole);
        assert!(seq.push(records(&soa(5)).remove(0)).unwrap_err().contains("after the closing SOA"));
    }

    #[test]
    fn notify_is_told_from_a_query_by_one_octet() {
        let mut p = vec![0, 1, 0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        assert!(is_notify(&p));
        p[2] = 0xa0; // its answer
        assert!(!is_notify(&p));
        p[2] = 0; // a query
        assert!(!is_notify(&p));
        assert!(!is_notify(&p[..11]));
    }
}
