//! Health check definitions (`check` tables of pools and members).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use toml::de::DeTable;

use super::toml_walk::{Value, Walker, get, join};
use crate::zone::Name;

/// Time between two checks of a member when a check sets none: PowerDNS's LUA records check
/// every 5 s (`lua-health-checks-interval`), fast enough to fail over within seconds.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// How long one check may take: HAProxy's default `timeout check` is the interval; 2 s leaves
/// the rest of a 5 s interval free and still tolerates a slow backend.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Consecutive successes to go up: HAProxy's `rise` default.
pub const DEFAULT_RISE: u32 = 2;
/// Consecutive failures to go down: HAProxy's `fall` default.
pub const DEFAULT_FALL: u32 = 3;
/// Bytes of an HTTP body read and searched: enough for any health page; a backend sending
/// more is cut off there, so a runaway body costs 4 KiB, not a gigabyte.
pub const DEFAULT_BODY_BYTES: usize = 4096;
/// The most body bytes a check may ask to read.
pub const MAX_BODY_BYTES: i64 = 1 << 20;
/// Shortest interval accepted; tests use fractions of a second, production seconds.
pub const MIN_INTERVAL_SECS: f64 = 0.05;

/// What a check does.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// Connect over TCP.
    Tcp,
    /// GET a page over HTTP or HTTPS.
    Http {
        /// True for HTTPS.
        tls: bool,
        /// Path and query.
        path: String,
        /// Host header and TLS server name; the probe address when not given.
        host: Option<String>,
        /// Status codes that pass.
        statuses: Vec<u16>,
        /// A string the first `body_bytes` of the body must contain.
        body: Option<String>,
        /// How much of the body to read.
        body_bytes: usize,
        /// Skip certificate verification (self-signed backends).
        insecure: bool,
    },
    /// Send a DNS query and expect an rcode.
    Dns {
        /// Name asked.
        qname: Name,
        /// Type asked.
        qtype: u16,
        /// RCODE that passes.
        rcode: u8,
    },
    /// Never probed: always up (checked elsewhere).
    None,
}

/// Where a check reads the member's load (capacity spillover): a fraction, 0 idle to 1 full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    /// What in the response holds it.
    pub source: LoadSource,
    /// The page read: `None` for an HTTP check's own response; else a path on the check's
    /// server (`/load`) or a whole URL in which `{address}` stands for the member's probe
    /// address (`http://{address}:9100/load`), fetched after the check passes.
    pub url: Option<String>,
}

/// What in an HTTP response holds the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadSource {
    /// A number in the JSON body (`"json:load"`; a dotted path reaches inside objects).
    Json(String),
    /// A response header (`"header:X-Load"`), a fraction or a percentage (`83%`).
    Header(String),
    /// HAProxy agent-check words in the body (`"agent"`): `75%` is the capacity left (load
    /// 0.25), `drain` is no capacity (load 1), `down`, `fail`, `maint` or `stopped` fail the
    /// check.
    Agent,
}

impl LoadSource {
    fn parse(text: &str) -> Option<LoadSource> {
        match text.split_once(':') {
            Some(("json", field)) if !field.is_empty() => Some(LoadSource::Json(field.to_string())),
            Some(("header", name)) if !name.is_empty() => Some(LoadSource::Header(name.to_string())),
            None if text == "agent" => Some(LoadSource::Agent),
            _ => None,
        }
    }
}

/// A check with its schedule and thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What it does.
    pub kind: CheckKind,
    /// Where the member reports its load, if it does.
    pub load: Option<Load>,
    /// Port probed when the member's probe address names none.
    pub port: Option<u16>,
    /// Time between checks.
    pub interval: Duration,
    /// Time one check may take; less than `interval`.
    pub timeout: Duration,
    /// Consecutive successes to go up.
    pub rise: u32,
    /// Consecutive failures to go down.
    pub fall: u32,
}

impl Check {
    /// The port a kind of check uses by default.
    pub fn default_port(&self) -> u16 {
        match &self.kind {
            CheckKind::Http { tls: true, .. } => 443,
            CheckKind::Http { tls: false, .. } => 80,
            CheckKind::Dns { .. } => 53,
            CheckKind::Tcp | CheckKind::None => 0,
        }
    }
}

const KEYS: &[&str] = &[
    "type",
    "port",
    "interval",
    "timeout",
    "rise",
    "fall",
    "path",
    "host",
    "status",
    "body",
    "body_bytes",
    "insecure",
    "load",
    "load_url",
    "qname",
    "qtype",
    "rcode",
];

fn seconds(w: &mut Walker<'_>, t: &DeTable<'_>, path: &str, key: &str, default: Duration) -> Option<Duration> {
    match get(t, key) {
        None => Some(default),
        Some(v) => w.number(v, &join(path, key), MIN_INTERVAL_SECS, 86_400.0).map(Duration::from_secs_f64),
    }
}

/// Reads a `check` table.
pub fn parse(w: &mut Walker<'_>, v: &Value<'_>, path: &str) -> Option<Check> {
    let t = w.table(v, path)?;
    w.allow_keys(t, path, KEYS);
    let kind_name = match get(t, "type") {
        Some(tv) => w.string(tv, &join(path, "type"))?.to_string(),
        None => {
            w.error(&v.span(), path, "missing required key 'type' (tcp, http, https, dns or none)");
            return None;
        }
    };
    let mut ok = true;
    let text = |w: &mut Walker<'_>, key: &str| -> Option<Option<String>> {
        match get(t, key) {
            None => Some(None),
            Some(x) => w.string(x, &join(path, key)).map(|s| Some(s.to_string())),
        }
    };
    let kind = match kind_name.as_str() {
        "tcp" => CheckKind::Tcp,
        "none" => CheckKind::None,
        "http" | "https" => {
            let p = text(w, "path").unwrap_or_else(|| {
                ok = false;
                None
            });
            let host = text(w, "host").unwrap_or_else(|| {
                ok = false;
                None
            });
            let body = text(w, "body").unwrap_or_else(|| {
                ok = false;
                None
            });
            let statuses = match get(t, "status") {
                None => vec![200],
                Some(sv) => {
                    let spath = join(path, "status");
                    match sv.get_ref() {
                        toml::de::DeValue::Array(items) if !items.is_empty() => {
                            let mut out = Vec::new();
                            for (i, item) in items.iter().enumerate() {
                                match w.integer(item, &format!("{spath}[{i}]"), 100, 599) {
                                    Some(code) => out.push(code as u16),
                                    None => ok = false,
                                }
                            }
                            out
                        }
                        _ => match w.integer(sv, &spath, 100, 599) {
                            Some(code) => vec![code as u16],
                            None => {
                                ok = false;
                                Vec::new()
                            }
                        },
                    }
                }
            };
            let body_bytes = match get(t, "body_bytes") {
                None => DEFAULT_BODY_BYTES,
                Some(bv) => w.integer(bv, &join(path, "body_bytes"), 1, MAX_BODY_BYTES).map_or_else(
                    || {
                        ok = false;
                        0
                    },
                    |n| n as usize,
                ),
            };
            let insecure = match get(t, "insecure") {
                None => false,
                Some(iv) => w.boolean(iv, &join(path, "insecure")).unwrap_or_else(|| {
                    ok = false;
                    false
                }),
            };
            let p = p.unwrap_or_else(|| "/".to_string());
            if !p.starts_with('/') {
                w.error(&v.span(), &join(path, "path"), format!("'{p}' must start with /"));
                ok = false;
            }
            if let Some(b) = &body
                && b.len() > body_bytes
            {
                w.error(&v.span(), &join(path, "body"), "is longer than body_bytes, so it could never match");
                ok = false;
            }
            CheckKind::Http { tls: kind_name == "https", path: p, host, statuses, body, body_bytes, insecure }
        }
        "dns" => {
            let qname = match get(t, "qname") {
                None => {
                    w.error(&v.span(), path, "missing required key 'qname' for a dns check");
                    None
                }
                Some(qv) => w.string(qv, &join(path, "qname")).and_then(|s| {
                    let n = Name::parse(s, Some(&Name::root()));
                    if n.is_err() {
                        w.error(&qv.span(), &join(path, "qname"), format!("'{s}' is not a valid name"));
                    }
                    n.ok()
                }),
            };
            let qtype = match get(t, "qtype") {
                None => Some(crate::dns::rtype::SOA),
                Some(qv) => w.string(qv, &join(path, "qtype")).and_then(|s| {
                    let n = crate::dns::type_from_text(s);
                    if n.is_none() {
                        w.error(&qv.span(), &join(path, "qtype"), format!("'{s}' is not a record type"));
                    }
                    n
                }),
            };
            let rcode = match get(t, "rcode") {
                None => Some(0),
                Some(rv) => w.string(rv, &join(path, "rcode")).and_then(|s| {
                    let n = match s.to_ascii_uppercase().as_str() {
                        "NOERROR" => Some(0),
                        "FORMERR" => Some(1),
                        "SERVFAIL" => Some(2),
                        "NXDOMAIN" => Some(3),
                        "NOTIMP" => Some(4),
                        "REFUSED" => Some(5),
                        _ => None,
                    };
                    if n.is_none() {
                        w.error(
                            &rv.span(),
                            &join(path, "rcode"),
                            format!("'{s}' is not one of NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED"),
                        );
                    }
                    n
                }),
            };
            match (qname, qtype, rcode) {
                (Some(qname), Some(qtype), Some(rcode)) => CheckKind::Dns { qname, qtype, rcode },
                _ => return None,
            }
        }
        other => {
            w.error(
                &get(t, "type").map_or(v.span(), |x| x.span()),
                &join(path, "type"),
                format!("unknown check type '{other}' (expected tcp, http, https, dns or none)"),
            );
            return None;
        }
    };
    let port = match get(t, "port") {
        None => None,
        Some(pv) => match w.integer(pv, &join(path, "port"), 1, 65535) {
            Some(p) => Some(p as u16),
            None => {
                ok = false;
                None
            }
        },
    };
    let interval = seconds(w, t, path, "interval", DEFAULT_INTERVAL);
    let timeout = seconds(w, t, path, "timeout", DEFAULT_TIMEOUT);
    let rise = get(t, "rise").map_or(Some(DEFAULT_RISE as i64), |x| w.integer(x, &join(path, "rise"), 1, 1000));
    let fall = get(t, "fall").map_or(Some(DEFAULT_FALL as i64), |x| w.integer(x, &join(path, "fall"), 1, 1000));
    let (Some(interval), Some(timeout), Some(rise), Some(fall)) = (interval, timeout, rise, fall) else {
        return None;
    };
    if timeout >= interval {
        let span = get(t, "timeout").map_or(v.span(), |x| x.span());
        w.error(
            &span,
            &join(path, "timeout"),
            format!("must be less than the interval ({} s)", interval.as_secs_f64()),
        );
        ok = false;
    }
    let load = load(w, t, v, path, &kind, &mut ok);
    ok.then_some(Check { kind, load, port, interval, timeout, rise: rise as u32, fall: fall as u32 })
}

/// The `load` and `load_url` keys of a check table.
fn load(
    w: &mut Walker<'_>,
    t: &DeTable<'_>,
    v: &Value<'_>,
    path: &str,
    kind: &CheckKind,
    ok: &mut bool,
) -> Option<Load> {
    let lpath = join(path, "load");
    let upath = join(path, "load_url");
    let source = match get(t, "load") {
        None => None,
        Some(lv) => match w.string(lv, &lpath) {
            Some(text) => match LoadSource::parse(text) {
                Some(source) => Some(source),
                None => {
                    let text = format!("'{text}' is not a load source (json:FIELD, header:NAME or agent)");
                    w.error(&lv.span(), &lpath, text);
                    *ok = false;
                    return None;
                }
            },
            None => {
                *ok = false;
                return None;
            }
        },
    };
    let url = match get(t, "load_url") {
        None => None,
        Some(uv) => {
            let Some(text) = w.string(uv, &upath) else {
                *ok = false;
                return None;
            };
            let http = matches!(kind, CheckKind::Http { .. });
            let problem = if text.starts_with('/') {
                (!http).then(|| {
                    "a path reads the load from the check's own HTTP server: this check has none, so write a \
                     whole URL (http://{address}:PORT/path)"
                        .to_string()
                })
            } else if !(text.starts_with("http://") || text.starts_with("https://")) {
                Some(format!("'{text}' is neither a path (/load) nor an http:// or https:// URL"))
            } else {
                reqwest::Url::parse(&text.replace("{address}", "192.0.2.1"))
                    .err()
                    .map(|e| format!("'{text}' is not a URL: {e}"))
            };
            if let Some(problem) = problem {
                w.error(&uv.span(), &upath, problem);
                *ok = false;
                return None;
            }
            Some(text.to_string())
        }
    };
    match (source, url) {
        (None, None) => None,
        (None, Some(_)) => {
            w.error(&v.span(), &upath, "needs load = \"json:FIELD\", \"header:NAME\" or \"agent\" to say what to read");
            *ok = false;
            None
        }
        (Some(_), _) if *kind == CheckKind::None => {
            w.error(&v.span(), &lpath, "a check of type none runs nothing, so it reads no load");
            *ok = false;
            None
        }
        (Some(_), None) if !matches!(kind, CheckKind::Http { .. }) => {
            let what = if *kind == CheckKind::Tcp { "a tcp check" } else { "a dns check" };
            w.error(&v.span(), &lpath, format!("{what} reads no HTTP response: add load_url to say where the load is"));
            *ok = false;
            None
        }
        (Some(source), url) => Some(Load { source, url }),
    }
}

/// Parses a member's `probe` address: `ip`, `ip:port` or `[v6]:port`.
pub fn parse_probe(text: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some((sa.ip(), Some(sa.port())));
    }
    text.parse::<IpAddr>().ok().map(|ip| (ip, None))
}
