//! One health check: connect, ask, judge. Returns `Ok(what passed)` or `Err(why it failed)`.
//!
//! Every check is bounded: the whole check runs under its timeout, an HTTP body is read only
//! up to `body_bytes`, redirects are not followed (a 3xx is judged by its status like any
//! other), and a DNS reply is read into a fixed buffer.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use crate::config::check::{Check, CheckKind, DEFAULT_BODY_BYTES, LoadSource};

/// A prepared check for one address; holds the HTTP client between runs.
pub struct Prober {
    check: Check,
    addr: SocketAddr,
    /// The address probes are sent from (`probe-source`), or the system's choice.
    source: Option<std::net::IpAddr>,
    http: Option<reqwest::Client>,
    url: String,
    /// Where the load is read after the check passes (`load_url`), made whole.
    load_url: Option<String>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober").field("addr", &self.addr).field("url", &self.url).finish_non_exhaustive()
    }
}

/// Installs the ring crypto provider for rustls once per process (reqwest is built without
/// a provider so that only ring, not aws-lc, is compiled in).
fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Prober {
    /// Prepares `check` against `addr`.
    pub fn new(check: Check, addr: SocketAddr) -> Result<Prober, String> {
        Prober::from_source(check, addr, None)
    }

    /// Prepares `check` against `addr`, sent from `source` when given (a multi-homed host's
    /// chosen address; in tests, each instance of a fleet its own loopback address).
    pub fn from_source(check: Check, addr: SocketAddr, source: Option<std::net::IpAddr>) -> Result<Prober, String> {
        let mut http = None;
        let mut url = String::new();
        let ip_host = match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let mut load_url = check.load.as_ref().and_then(|l| l.url.as_ref()).map(|u| u.replace("{address}", &ip_host));
        if let CheckKind::Http { tls, path, host, .. } = &check.kind {
            let scheme = if *tls { "https" } else { "http" };
            let authority = host.clone().unwrap_or(ip_host);
            url = format!("{scheme}://{authority}:{}{path}", addr.port());
            // A path: on the check's own server, as the check reaches it.
            if let Some(u) = load_url.as_mut()
                && u.starts_with('/')
            {
                *u = format!("{scheme}://{authority}:{}{u}", addr.port());
            }
        }
        let (host, insecure) = match &check.kind {
            CheckKind::Http { host, insecure, .. } => (host.clone(), *insecure),
            _ => (None, false),
        };
        if matches!(check.kind, CheckKind::Http { .. }) || load_url.is_some() {
            install_crypto();
            let mut builder = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(check.timeout)
                .connect_timeout(check.timeout)
                .pool_max_idle_per_host(0)
                .user_agent(concat!("meridian-health/", env!("CARGO_PKG_VERSION")));
            if let Some(h) = &host {
                // Connect to the probe address whatever the name resolves to: the Host header
                // and TLS server name say `host`, the packets go to `addr`.
                builder = builder.resolve(h, addr);
            }
            if insecure {
                builder = builder.tls_danger_accept_invalid_certs(true);
            }
            if source.is_some() {
                builder = builder.local_address(source);
            }
            http = Some(builder.build().map_err(|e| format!("cannot build the HTTP client: {e}"))?);
        }
        Ok(Prober { check, addr, source, http, url, load_url })
    }

    /// The check.
    pub fn check(&self) -> &Check {
        &self.check
    }

    /// Runs the check once, within its timeout.
    pub async fn run(&self) -> Result<String, String> {
        self.run_reading().await.map(|(text, _)| text)
    }

    /// Runs the check once, within its timeout, with the load the member reported when the
    /// check reads one (`load` of an HTTP check) and it could be read.
    pub async fn run_reading(&self) -> Result<(String, Option<f64>), String> {
        let whole = async {
            let (text, reading) = self.run_inner().await?;
            match (&self.check.load, &self.load_url) {
                (Some(load), Some(url)) => {
                    let (reading, note) = self.fetch_load(url, &load.source).await?;
                    Ok((format!("{text}{note}"), reading))
                }
                _ => Ok((text, reading)),
            }
        };
        match tokio::time::timeout(self.check.timeout, whole).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {} ms", self.check.timeout.as_millis())),
        }
    }

    /// Reads the load at `load_url` after the check passed: the reading and what to add to the
    /// check's text. A page that cannot be read leaves the load unknown and the check passed;
    /// agent words that say the member is down fail it, as HAProxy's agent check does.
    async fn fetch_load(&self, url: &str, source: &LoadSource) -> Result<(Option<f64>, String), String> {
        let client = self.http.as_ref().ok_or("no HTTP client")?;
        let unread = |why: String| Ok((None, format!(", no load: {why}")));
        let mut resp = match client.get(url).send().await {
            Ok(r) => r,
            Err(e) => return unread(describe(url, &e)),
        };
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            return unread(format!("{url} answered {status}"));
        }
        let reading = match source {
            LoadSource::Header(name) => {
                resp.headers().get(name.as_str()).and_then(|v| v.to_str().ok()).and_then(fraction)
            }
            LoadSource::Json(_) | LoadSource::Agent => {
                let limit = match &self.check.kind {
                    CheckKind::Http { body_bytes, .. } => *body_bytes,
                    _ => DEFAULT_BODY_BYTES,
                };
                let body = match read_body(&mut resp, limit, |_| false).await {
                    Ok(b) => b,
                    Err(e) => return unread(format!("reading the body of {}", describe(url, &e))),
                };
                match source {
                    LoadSource::Json(field) => json_load(&body, field),
                    _ => agent_load(&body).map_err(|word| format!("{url} says '{word}'"))?,
                }
            }
        };
        let note = match (reading, source) {
            (Some(l), _) => format!(", load {l:.2} from {url}"),
            (None, LoadSource::Agent) => String::new(),
            (None, _) => format!("{} of {url}", load_text(Some(source), None)),
        };
        Ok((reading, note))
    }

    async fn run_inner(&self) -> Result<(String, Option<f64>), String> {
        let text = |t: String| Ok((t, None));
        match &self.check.kind {
            CheckKind::None => text("not checked".into()),
            CheckKind::Tcp => {
                let failed = |e: std::io::Error| format!("tcp connect to {}: {e}", self.addr);
                let mut s = match self.source {
                    None => TcpStream::connect(self.addr).await.map_err(failed)?,
                    Some(ip) => {
                        let socket = if ip.is_ipv4() {
                            tokio::net::TcpSocket::new_v4()
                        } else {
                            tokio::net::TcpSocket::new_v6()
                        }
                        .map_err(failed)?;
                        socket.bind(SocketAddr::new(ip, 0)).map_err(|e| format!("probe source {ip}: {e}"))?;
                        socket.connect(self.addr).await.map_err(failed)?
                    }
                };
                let _ = s.shutdown().await;
                text(format!("tcp connect to {} succeeded", self.addr))
            }
            CheckKind::Http { statuses, body, body_bytes, .. } => {
                // The load in the check's own response, unless it is read from elsewhere.
                let load = self.check.load.as_ref().filter(|l| l.url.is_none()).map(|l| &l.source);
                let client = self.http.as_ref().ok_or("no HTTP client")?;
                let mut resp = client.get(&self.url).send().await.map_err(|e| describe(&self.url, &e))?;
                let status = resp.status().as_u16();
                if !statuses.contains(&status) {
                    return Err(format!("{} answered {status}, expected {statuses:?}", self.url));
                }
                let header = match load {
                    Some(LoadSource::Header(name)) => {
                        Some(resp.headers().get(name.as_str()).and_then(|v| v.to_str().ok()).and_then(fraction))
                    }
                    _ => None,
                };
                let body_load = matches!(load, Some(LoadSource::Json(_) | LoadSource::Agent));
                if body.is_none() && !body_load {
                    let reading = header.flatten();
                    return Ok((format!("{} answered {status}{}", self.url, load_text(load, reading)), reading));
                }
                // Only the body's own test stops early: the load needs the whole body.
                let found =
                    |seen: &[u8]| !body_load && body.as_ref().is_some_and(|want| contains(seen, want.as_bytes()));
                let seen = read_body(&mut resp, *body_bytes, found)
                    .await
                    .map_err(|e| format!("reading the body of {}", describe(&self.url, &e)))?;
                if let Some(want) = body
                    && !contains(&seen, want.as_bytes())
                {
                    return Err(format!(
                        "{} answered {status} but '{want}' is not in the first {} bytes of the body",
                        self.url,
                        seen.len()
                    ));
                }
                let reading = match load {
                    Some(LoadSource::Json(field)) => json_load(&seen, field),
                    Some(LoadSource::Agent) => agent_load(&seen)
                        .map_err(|word| format!("{} answered {status} and its agent says '{word}'", self.url))?,
                    _ => header.flatten(),
                };
                let with = body.as_ref().map_or(String::new(), |want| format!(" with '{want}'"));
                Ok((format!("{} answered {status}{with}{}", self.url, load_text(load, reading)), reading))
            }
            CheckKind::Dns { qname, qtype, rcode } => {
                let bind: SocketAddr = match self.source {
                    Some(ip) => SocketAddr::new(ip, 0),
                    None if self.addr.is_ipv4() => ([0, 0, 0, 0], 0).into(),
                    None => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
                };
                let sock = UdpSocket::bind(bind).await.map_err(|e| format!("dns: cannot open a socket: {e}"))?;
                sock.connect(self.addr).await.map_err(|e| format!("dns: {}: {e}", self.addr))?;
                let id =
                    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
                        & 0xffff) as u16;
                let mut q = Vec::with_capacity(64);
                q.extend_from_slice(&id.to_be_bytes());
                q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
                q.extend_from_slice(qname.wire());
                q.extend_from_slice(&qtype.to_be_bytes());
                q.extend_from_slice(&[0, 1]);
                sock.send(&q).await.map_err(|e| format!("dns: send to {}: {e}", self.addr))?;
                let mut buf = [0u8; 512];
                loop {
                    let n = sock.recv(&mut buf).await.map_err(|e| format!("dns: {}: {e}", self.addr))?;
                    if n < 12 || buf[0..2] != id.to_be_bytes() || buf[2] & 0x80 == 0 {
                        continue; // Not our reply: keep waiting until the timeout.
                    }
                    let got = buf[3] & 0x0f;
                    return if got == *rcode {
                        text(format!("dns {} answered rcode {got}", self.addr))
                    } else {
                        Err(format!("dns {} answered rcode {got}, expected {rcode}", self.addr))
                    };
                }
            }
        }
    }
}

/// A load as a fraction: `0.83`, or a percentage `83%`; `None` for anything else (negative,
/// not a number).
fn fraction(text: &str) -> Option<f64> {
    let text = text.trim();
    let value = match text.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => text.parse::<f64>().ok()?,
    };
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// The number at `field` (a dotted path) of a JSON body, as a load.
fn json_load(body: &[u8], field: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let at = field.split('.').try_fold(&v, |v, key| v.get(key))?;
    match at {
        serde_json::Value::Number(n) => n.as_f64().filter(|f| f.is_finite() && *f >= 0.0),
        serde_json::Value::String(s) => fraction(s),
        _ => None,
    }
}

/// HAProxy agent-check words: `N%` is the capacity left (load `1 - N/100`), `drain` none left
/// (load 1); `down`, `fail`, `maint` and `stopped` fail the check (`Err` with the word);
/// `up` and `ready` say nothing of the load.
fn agent_load(body: &[u8]) -> Result<Option<f64>, String> {
    let text = String::from_utf8_lossy(body);
    let mut load = None;
    for word in text.split(|c: char| c.is_whitespace() || c == ',').filter(|w| !w.is_empty()) {
        let lower = word.to_ascii_lowercase();
        match lower.as_str() {
            "down" | "fail" | "failed" | "maint" | "stopped" => return Err(lower),
            "drain" => load = Some(1.0),
            _ => {
                if let Some(p) = lower.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) {
                    load = Some((1.0 - p / 100.0).clamp(0.0, 1.0));
                }
            }
        }
    }
    Ok(load)
}

/// Up to `limit` bytes of a response's body, stopping early once `enough` says so.
async fn read_body(
    resp: &mut reqwest::Response,
    limit: usize,
    enough: impl Fn(&[u8]) -> bool,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut seen: Vec<u8> = Vec::with_capacity(limit.min(64 * 1024));
    while seen.len() < limit {
        match resp.chunk().await? {
            Some(chunk) => {
                let room = limit - seen.len();
                seen.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if enough(&seen) {
                    break;
                }
            }
            None => break,
        }
    }
    Ok(seen)
}

/// What a check says of the load it read: `, load 0.83`, or that it could not read one.
fn load_text(source: Option<&LoadSource>, reading: Option<f64>) -> String {
    match (source, reading) {
        (None, _) => String::new(),
        (Some(_), Some(l)) => format!(", load {l:.2}"),
        (Some(LoadSource::Json(f)), None) => format!(", no load: no number at '{f}' in the body"),
        (Some(LoadSource::Header(h)), None) => format!(", no load: no usable {h} header"),
        (Some(LoadSource::Agent), None) => String::new(),
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// `url: cause`, where the cause is the innermost error (reqwest wraps it several times:
/// "error sending request ... client error (Connect) ... Connection refused").
fn describe(url: &str, e: &reqwest::Error) -> String {
    let mut root: &dyn std::error::Error = e;
    while let Some(s) = root.source() {
        root = s;
    }
    let cause = if e.is_timeout() { "timed out".to_string() } else { root.to_string() };
    format!("{url}: {cause}")
}

/// The time a check waits before its first run, spread over the interval so that checks
/// started together (at start-up, after a reload) do not fire in one burst.
pub fn initial_delay(interval: Duration, key: u64) -> Duration {
    let frac = (key % 1000) as f64 / 1000.0;
    interval.mul_f64(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_are_read_from_json_headers_and_agent_words() {
        // (header or body text, load)
        for (text, want) in [("0.83", Some(0.83)), ("83%", Some(0.83)), (" 1.5 ", Some(1.5)), ("-1", None), ("x", None)]
        {
            assert_eq!(fraction(text), want, "{text}");
        }
        let body = br#"{"load": 0.4, "cpu": {"busy": "70%"}, "name": "a"}"#;
        assert_eq!(json_load(body, "load"), Some(0.4));
        assert_eq!(json_load(body, "cpu.busy"), Some(0.7));
        assert_eq!(json_load(body, "name"), None, "not a number");
        assert_eq!(json_load(body, "missing"), None);
        assert_eq!(json_load(b"not json", "load"), None);
        // HAProxy agent-check: capacity left in percent; drain is none left; down fails.
        assert_eq!(agent_load(b"up 75%\n"), Ok(Some(0.25)));
        assert_eq!(agent_load(b"ready,100%"), Ok(Some(0.0)));
        assert_eq!(agent_load(b"drain"), Ok(Some(1.0)));
        assert_eq!(agent_load(b"up"), Ok(None));
        assert_eq!(agent_load(b"DOWN maintenance"), Err("down".to_string()));
        assert_eq!(agent_load(b"maint"), Err("maint".to_string()));
        assert_eq!(
            load_text(Some(&LoadSource::Json("load".into())), None),
            ", no load: no number at 'load' in the body"
        );
        assert_eq!(load_text(None, Some(0.5)), "");
    }
}
