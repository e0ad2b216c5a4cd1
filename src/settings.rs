//! The server's settings: `meridian.toml` and the command line, one set of keys.
//!
//! Every `serve` flag has a key of the same name in the settings file (`--rrl-rate 20` is
//! `rrl-rate = 20`, `--strict` is `strict = true`), so there is nothing to look up. A flag given
//! on the command line wins over the file; a key missing from both takes the default listed in
//! `meridian --help`. Relative paths in the file are relative to the file's directory, so an
//! installed `/etc/meridian/meridian.toml` saying `zones = "zones"` means `/etc/meridian/zones`
//! whatever the working directory. Unknown keys, wrong types and bad values are refused with the
//! file and line, before anything starts.
//!
//! Which file: `--config FILE`; else, for an installed binary (one under `/usr/`),
//! `/etc/meridian/meridian.toml` when it exists; else none, and everything comes from flags and
//! defaults relative to the working directory, as in the checkout's README.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The settings file of an installed Meridian.
pub const INSTALLED_CONFIG: &str = "/etc/meridian/meridian.toml";

/// Default listen addresses: loopback only, on port 5300 (not 53, which needs privileges, and
/// not 5353, which is multicast DNS), so the shipped example can be tried without root and
/// without exposing anything.
pub const DEFAULT_LISTEN: [&str; 2] = ["127.0.0.1:5300", "[::1]:5300"];

/// [`DEFAULT_LISTEN`] as addresses.
pub fn default_listen() -> Vec<SocketAddr> {
    DEFAULT_LISTEN.iter().filter_map(|a| a.parse().ok()).collect()
}

/// Where control commands find the API when neither a flag nor the settings name it.
pub const DEFAULT_API: &str = "127.0.0.1:8053";

/// The UDP loop `serve` runs unless told otherwise: the batched one where it exists.
pub const DEFAULT_UDP_LOOP: &str = if cfg!(target_os = "linux") { "batched" } else { "tokio" };

/// The `serve` settings: each field is a flag (`--query-log-rate`) and a key of the settings
/// file (`query-log-rate`). `None` is "not given here".
#[derive(clap::Args, Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    /// Directory of zone files (`<origin>.zone`) and GSLB definitions (`*.toml`).
    /// Default: zones.
    #[arg(long, value_name = "DIR")]
    pub zones: Option<PathBuf>,
    /// Geo database (MaxMind DB format: GeoIP2/GeoLite2 City or Country, DB-IP).
    /// Default: geo/dbip-country.mmdb.
    #[arg(long, value_name = "FILE")]
    pub geo: Option<PathBuf>,
    /// Address and port to serve DNS on over UDP and TCP; repeat for several.
    /// Default: 127.0.0.1:5300 and [::1]:5300.
    #[arg(long = "listen", value_name = "ADDR:PORT")]
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// State file keeping operator overrides across restarts. Default: meridian-state.json.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Serve the HTTP API (status, metrics, overrides, explain, reload) here.
    #[arg(long, value_name = "ADDR:PORT")]
    pub api: Option<SocketAddr>,
    /// File holding the bearer token mutating API requests must carry (required when the API
    /// listens beyond loopback).
    #[arg(long, value_name = "FILE")]
    pub api_token_file: Option<PathBuf>,
    /// Reads of the API (status, metrics, explain, overrides) need the token too.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub api_token_for_reads: Option<bool>,
    /// Log sampled queries as JSON lines to FILE, or to standard output with `-`.
    #[arg(long, value_name = "FILE|-")]
    pub query_log: Option<String>,
    /// Fraction of queries logged (1 = all, 0.01 = one in a hundred). Default: 1.
    #[arg(long, value_name = "RATE")]
    pub query_log_rate: Option<f64>,
    /// Do not reload when files under --zones or the geo database change (SIGHUP and
    /// POST /reload still reload).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub no_watch: Option<bool>,
    /// Seconds a changed file must stay unchanged before the watcher reloads it, so that a
    /// file still being written is never read half-way. Default: 2.
    #[arg(long, value_name = "SECONDS")]
    pub watch_quiet: Option<f64>,
    /// Refuse to start, and refuse a reload, when any file has an error (instead of serving
    /// every zone that loads and keeping the last good version of one that does not).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub strict: Option<bool>,
    /// Started as root: switch to this user (name or number) before anything else, keeping
    /// only the capability to bind ports below 1024.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// With --user: the group (default the user's primary group).
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Run as root without --user, health checks and API included (refused otherwise when a
    /// settings file is in use; warned about when everything comes from flags).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub allow_root: Option<bool>,
    /// The NSID sent to queries that ask (RFC 5001); default the host name, "" for none.
    #[arg(long, value_name = "TEXT")]
    pub nsid: Option<String>,
    /// The answer to `id.server` and `hostname.bind` (class CH TXT); default the host name, ""
    /// to refuse them.
    #[arg(long, value_name = "TEXT")]
    pub server_id: Option<String>,
    /// The answer to `version.bind` and `version.server`; refused unless given.
    #[arg(long, value_name = "TEXT")]
    pub version_bind: Option<String>,
    /// DNS Cookies (RFC 7873): answer client cookies with server cookies. Default: true.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub cookies: Option<bool>,
    /// File of server cookie secrets, 32 hex digits a line: the first makes cookies, every
    /// line is accepted (put a new secret first to rotate). The same file on every node of a
    /// fleet lets each accept the others' cookies. Default: a random secret per process.
    #[arg(long, value_name = "FILE")]
    pub cookie_secret_file: Option<PathBuf>,
    /// Response rate limiting: UDP responses per second per client network and answer
    /// (off unless given; BIND's and Knot's examples use 5 to 20).
    #[arg(long, value_name = "N")]
    pub rrl_rate: Option<u32>,
    /// Send every Nth limited response truncated (TC=1) instead of dropping it; 0 never.
    /// Default: 2.
    #[arg(long, value_name = "N")]
    pub rrl_slip: Option<u32>,
    /// Prefix length IPv4 clients are grouped by for rate limiting. Default: 24.
    #[arg(long, value_name = "LEN")]
    pub rrl_ipv4_prefix: Option<u8>,
    /// Prefix length IPv6 clients are grouped by for rate limiting. Default: 56.
    #[arg(long, value_name = "LEN")]
    pub rrl_ipv6_prefix: Option<u8>,
    /// Count what rate limiting would limit without limiting anything.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub rrl_dry_run: Option<bool>,
    /// UDP loop: `batched` (the default on Linux: a thread per core with SO_REUSEPORT sockets
    /// and recvmmsg/sendmmsg batches), or `tokio` (one task per core, a system call per
    /// datagram; the default elsewhere).
    #[arg(long, value_name = "LOOP", value_parser = ["tokio", "batched"])]
    pub udp_loop: Option<String>,
    /// Answer UDP on this network interface through AF_XDP sockets (Linux; needs
    /// CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF and CAP_IPC_LOCK at start): the listen addresses
    /// that are on it, taken before the kernel's IP stack. TCP and everything else keep going
    /// through the kernel (docs/xdp.md).
    #[arg(long, value_name = "IFACE")]
    pub xdp: Option<String>,
    /// How the XDP program is attached: auto (the kernel's choice: the driver's hook when it
    /// has one), native (the driver's hook or fail) or generic (any interface; slower).
    /// Default: auto.
    #[arg(long, value_name = "MODE", value_parser = ["auto", "native", "generic"])]
    pub xdp_mode: Option<String>,
    /// Log level: off, error, warn, info (default), debug or trace, or directives such as
    /// `info,meridian::health=debug`; anything else is refused.
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log line format: text (the default; colours only on a terminal, never with NO_COLOR)
    /// or json.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<crate::logs::LogFormat>,
    /// Serve DNS over TLS (RFC 7858) on this address and port (853 is the standard port);
    /// repeat for several. Needs tls-certificate and tls-key.
    #[arg(long = "dot", value_name = "ADDR:PORT")]
    #[serde(default)]
    pub dot: Vec<SocketAddr>,
    /// Serve DNS over HTTPS (RFC 8484, HTTP/2, GET and POST) here (443 is the standard port);
    /// repeat for several. Needs tls-certificate and tls-key.
    #[arg(long = "doh", value_name = "ADDR:PORT")]
    #[serde(default)]
    pub doh: Vec<SocketAddr>,
    /// Serve DNS over QUIC (RFC 9250) here (853/udp is the standard port); repeat for several.
    /// Needs tls-certificate and tls-key.
    #[arg(long = "doq", value_name = "ADDR:PORT")]
    #[serde(default)]
    pub doq: Vec<SocketAddr>,
    /// The certificate chain of the encrypted listeners (PEM, the server's certificate
    /// first); read again at every reload.
    #[arg(long, value_name = "FILE")]
    pub tls_certificate: Option<PathBuf>,
    /// The certificate's private key (PEM); read again at every reload.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// The HTTP path DNS over HTTPS answers on. Default: /dns-query.
    #[arg(long, value_name = "PATH")]
    pub doh_path: Option<String>,
    /// Concurrent connections per encrypted listener. Default: 100.
    #[arg(long, value_name = "N")]
    pub tls_connections: Option<usize>,
    /// Seconds an encrypted connection may stay without a query. Default: 30.
    #[arg(long, value_name = "SECONDS")]
    pub tls_idle_timeout: Option<f64>,
    /// Seconds a TLS or QUIC handshake may take. Default: 5.
    #[arg(long, value_name = "SECONDS")]
    pub tls_handshake_timeout: Option<f64>,
    /// Queries one DoH or DoQ connection may have in flight at once. Default: 100.
    #[arg(long, value_name = "N")]
    pub tls_streams: Option<u32>,
    /// Send health probes from this address (a multi-homed host's chosen one).
    #[arg(long, value_name = "IP")]
    pub probe_source: Option<std::net::IpAddr>,
    /// A fleet sharing overrides through etcd: the `[cluster]` table of the file.
    #[command(flatten)]
    #[serde(default)]
    pub cluster: crate::fleet::ClusterSettings,
}

/// Takes each field from `$flags` when given there, else from `$file`.
macro_rules! over {
    ($flags:ident, $file:ident; $($field:ident),* $(,)?) => {
        Settings {
            $($field: $flags.$field.or($file.$field),)*
            listen: if $flags.listen.is_empty() { $file.listen } else { $flags.listen },
            dot: if $flags.dot.is_empty() { $file.dot } else { $flags.dot },
            doh: if $flags.doh.is_empty() { $file.doh } else { $flags.doh },
            doq: if $flags.doq.is_empty() { $file.doq } else { $flags.doq },
            cluster: $flags.cluster.over($file.cluster),
        }
    };
}

impl Settings {
    /// Reads a settings file: every key checked, relative paths made relative to the file.
    pub fn load(path: &Path) -> Result<Settings, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut settings: Settings = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text.as_bytes()[..s.start.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1);
            let message = e.message().trim().to_string();
            match line {
                Some(line) => format!("{}:{line}: {message}", path.display()),
                None => format!("{}: {message}", path.display()),
            }
        })?;
        settings.check().map_err(|e| format!("{}: {e}", path.display()))?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        settings.rebase(dir);
        Ok(settings)
    }

    /// Checks the values no type can: ranges and names. Errors name the key (the flag
    /// without its dashes).
    pub fn check(&self) -> Result<(), String> {
        if let Some(rate) = self.query_log_rate
            && !(0.0..=1.0).contains(&rate)
        {
            return Err(format!("query-log-rate: {rate} is not between 0 and 1"));
        }
        if let Some(quiet) = self.watch_quiet
            && !(0.05..=3600.0).contains(&quiet)
        {
            return Err(format!("watch-quiet: {quiet} is not between 0.05 and 3600 seconds"));
        }
        if let Some(udp) = &self.udp_loop
            && udp != "tokio"
            && udp != "batched"
        {
            return Err(format!("udp-loop: '{udp}' is not tokio or batched"));
        }
        if let Some(mode) = &self.xdp_mode {
            crate::server::XdpMode::parse(mode).map_err(|e| format!("xdp-mode: {e}"))?;
            if self.xdp.is_none() {
                return Err("xdp-mode: needs xdp".into());
            }
        }
        if let Some(level) = &self.log_level {
            crate::logs::check_filter(level).map_err(|e| format!("log-level: {e}"))?;
        }
        if self.group.is_some() && self.user.is_none() {
            return Err("group: needs user".into());
        }
        if self.api_token_for_reads == Some(true) && self.api_token_file.is_none() {
            return Err("api-token-for-reads: needs api-token-file".into());
        }
        self.cluster.check()?;
        self.check_tls()?;
        if let Some(len) = self.rrl_ipv4_prefix
            && len > 32
        {
            return Err(format!("rrl-ipv4-prefix: {len} is longer than 32"));
        }
        if let Some(len) = self.rrl_ipv6_prefix
            && len > 128
        {
            return Err(format!("rrl-ipv6-prefix: {len} is longer than 128"));
        }
        Ok(())
    }

    /// The encrypted listeners' keys: a listener needs the certificate and the key, the path
    /// must be a path, the limits must be sensible.
    fn check_tls(&self) -> Result<(), String> {
        for (key, addrs) in [("dot", &self.dot), ("doh", &self.doh), ("doq", &self.doq)] {
            if !addrs.is_empty() && (self.tls_certificate.is_none() || self.tls_key.is_none()) {
                return Err(format!("{key}: needs tls-certificate and tls-key"));
            }
        }
        if self.tls_certificate.is_some() != self.tls_key.is_some() {
            let (given, missing) =
                if self.tls_key.is_none() { ("tls-certificate", "tls-key") } else { ("tls-key", "tls-certificate") };
            return Err(format!("{given}: needs {missing}"));
        }
        if let Some(path) = &self.doh_path
            && (!path.starts_with('/') || path.contains(['?', '#', ' ']))
        {
            return Err(format!("doh-path: '{path}' is not an HTTP path (it starts with / and has no ?, # or space)"));
        }
        if let Some(n) = self.tls_connections
            && !(1..=100_000).contains(&n)
        {
            return Err(format!("tls-connections: {n} is not between 1 and 100000"));
        }
        if let Some(n) = self.tls_streams
            && !(1..=10_000).contains(&n)
        {
            return Err(format!("tls-streams: {n} is not between 1 and 10000"));
        }
        for (key, value) in
            [("tls-idle-timeout", self.tls_idle_timeout), ("tls-handshake-timeout", self.tls_handshake_timeout)]
        {
            if let Some(t) = value
                && !(0.05..=3600.0).contains(&t)
            {
                return Err(format!("{key}: {t} is not between 0.05 and 3600 seconds"));
            }
        }
        Ok(())
    }

    /// The encrypted listeners these settings ask for.
    pub fn tls_options(&self) -> crate::server::tls::TlsOptions {
        crate::server::tls::TlsOptions {
            dot: self.dot.clone(),
            doh: self.doh.clone(),
            doq: self.doq.clone(),
            certificate: self.tls_certificate.clone(),
            key: self.tls_key.clone(),
            doh_path: self.doh_path.clone(),
        }
    }

    /// Makes the relative paths of a settings file relative to its directory.
    fn rebase(&mut self, dir: &Path) {
        let join = |p: &mut Option<PathBuf>| {
            if let Some(path) = p
                && path.is_relative()
            {
                *path = dir.join(&*path);
            }
        };
        join(&mut self.zones);
        join(&mut self.geo);
        join(&mut self.state);
        join(&mut self.api_token_file);
        join(&mut self.cookie_secret_file);
        join(&mut self.tls_certificate);
        join(&mut self.tls_key);
        self.cluster.rebase(dir);
        if let Some(log) = &mut self.query_log
            && log != "-"
            && Path::new(log).is_relative()
        {
            *log = dir.join(&*log).display().to_string();
        }
    }

    /// These settings (from the command line) over `file`'s.
    pub fn over(self, file: Settings) -> Settings {
        let flags = self;
        over!(flags, file; zones, geo, state, api, api_token_file, api_token_for_reads, query_log,
            query_log_rate, no_watch, watch_quiet, strict, user, group, allow_root, nsid, server_id,
            version_bind, cookies, cookie_secret_file, rrl_rate, rrl_slip, rrl_ipv4_prefix,
            rrl_ipv6_prefix, rrl_dry_run, udp_loop, xdp, xdp_mode, log_level, log_format, probe_source, tls_certificate,
            tls_key, doh_path, tls_connections, tls_idle_timeout, tls_handshake_timeout, tls_streams)
    }

    /// The listen addresses given, else [`DEFAULT_LISTEN`].
    pub fn listen_or_default(&self) -> Vec<SocketAddr> {
        if self.listen.is_empty() { default_listen() } else { self.listen.clone() }
    }

    /// The zones directory.
    pub fn zones(&self) -> PathBuf {
        self.zones.clone().unwrap_or_else(|| PathBuf::from("zones"))
    }

    /// The geo database.
    pub fn geo(&self) -> PathBuf {
        self.geo.clone().unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_GEO))
    }

    /// The state file.
    pub fn state(&self) -> PathBuf {
        self.state.clone().unwrap_or_else(|| PathBuf::from("meridian-state.json"))
    }

    /// Where a control command reaches this server's API: its URL, from the API's listen
    /// address (a wildcard address is reached on loopback).
    pub fn api_url(&self) -> String {
        match self.api {
            Some(addr) if addr.ip().is_unspecified() => {
                let ip: std::net::IpAddr = if addr.is_ipv4() {
                    std::net::Ipv4Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv6Addr::LOCALHOST.into()
                };
                format!("http://{}", SocketAddr::new(ip, addr.port()))
            }
            Some(addr) => format!("http://{addr}"),
            None => format!("http://{DEFAULT_API}"),
        }
    }
}

/// The settings file to read: `given`, else the installed one for an installed binary.
pub fn config_path(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path.to_path_buf());
    }
    let installed = std::env::current_exe().is_ok_and(|exe| exe.starts_with("/usr/"));
    let path = Path::new(INSTALLED_CONFIG);
    (installed && path.exists()).then(|| path.to_path_buf())
}

/// The settings from `given` (or the installed file), or the defaults when there is none.
pub fn load(given: Option<&Path>) -> Result<(Settings, Option<PathBuf>), String> {
    match config_path(given) {
        Some(path) => Ok((Settings::load(&path)?, Some(path))),
        None => Ok((Settings::default(), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meridian.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(&path).map_err(|e| e.replace(&path.display().to_string(), "FILE"))
    }

    #[test]
    fn every_key_reads_and_relative_paths_follow_the_file() {
        let s = parse(
            "zones = \"zones\"\ngeo = \"/usr/share/meridian/dbip-country.mmdb\"\nlisten = [\"127.0.0.1:53\", \"[::1]:53\"]\n\
             state = \"../state.json\"\napi = \"0.0.0.0:8053\"\napi-token-file = \"token\"\napi-token-for-reads = true\n\
             query-log = \"-\"\nquery-log-rate = 0.5\nno-watch = true\nwatch-quiet = 1.5\nstrict = true\n\
             user = \"meridian\"\ngroup = \"meridian\"\nallow-root = false\nnsid = \"ns1\"\nserver-id = \"ns1.example\"\n\
             version-bind = \"x\"\ncookies = true\ncookie-secret-file = \"cookie\"\nrrl-rate = 20\nrrl-slip = 2\n\
             rrl-ipv4-prefix = 24\nrrl-ipv6-prefix = 56\nrrl-dry-run = false\nudp-loop = \"tokio\"\n\
             xdp = \"eth0\"\nxdp-mode = \"generic\"\n\
             log-level = \"warn\"\nlog-format = \"json\"\n\
             dot = [\"127.0.0.1:853\"]\ndoh = [\"127.0.0.1:443\"]\ndoq = [\"127.0.0.1:853\"]\n\
             tls-certificate = \"tls/cert.pem\"\ntls-key = \"tls/key.pem\"\ndoh-path = \"/q\"\n\
             tls-connections = 50\ntls-idle-timeout = 20\ntls-handshake-timeout = 2\ntls-streams = 10\n\
             [cluster]\nendpoints = [\"http://127.0.0.1:2379\"]\nname = \"ns1\"\nprefix = \"/meridian\"\n",
        )
        .unwrap();
        let zones = s.zones();
        assert!(zones.is_absolute() && zones.ends_with("zones"), "{zones:?}");
        assert_eq!(s.geo(), PathBuf::from("/usr/share/meridian/dbip-country.mmdb"));
        assert!(s.state().ends_with("../state.json"));
        assert_eq!(s.query_log.as_deref(), Some("-"));
        assert_eq!(s.listen.len(), 2);
        assert_eq!(s.api_url(), "http://127.0.0.1:8053");
        assert_eq!(s.log_format, Some(crate::logs::LogFormat::Json));
        assert_eq!(s.cluster.name.as_deref(), Some("ns1"));
        let tls = s.tls_options();
        assert!(tls.any() && tls.certificate.as_ref().is_some_and(|c| c.is_absolute() && c.ends_with("tls/cert.pem")));
        assert_eq!((tls.dot.len(), tls.doh.len(), tls.doq.len(), tls.doh_path()), (1, 1, 1, "/q"));
        assert_eq!(s.cluster.endpoints, vec!["http://127.0.0.1:2379".to_string()]);
        assert_eq!((s.xdp.as_deref(), s.xdp_mode.as_deref()), (Some("eth0"), Some("generic")));
    }

    #[test]
    fn bad_files_are_refused_with_line_and_key() {
        let cases = [
            ("zones = \"z\"\nlsten = [\"127.0.0.1:53\"]\n", "FILE:2: unknown field `lsten`"),
            ("rrl-rate = \"many\"\n", "FILE:1: invalid type: string \"many\""),
            ("listen = [\"localhost:53\"]\n", "FILE:1: invalid socket address"),
            ("query-log-rate = 2.0\n", "FILE: query-log-rate: 2 is not between 0 and 1"),
            ("log-level = \"warnn\"\n", "FILE: log-level: log level 'warnn'"),
            ("udp-loop = \"fast\"\n", "FILE: udp-loop: 'fast' is not tokio or batched"),
            ("xdp = \"eth0\"\nxdp-mode = \"fast\"\n", "FILE: xdp-mode: 'fast' is not auto, native or generic"),
            ("xdp-mode = \"native\"\n", "FILE: xdp-mode: needs xdp"),
            ("log-format = \"xml\"\n", "FILE:1: "),
            ("group = \"g\"\n", "FILE: group: needs user"),
            ("zones = \n", "FILE:1: "),
            ("[cluster]\nendpoint = [\"http://e:2379\"]\n", "FILE:2: unknown field `endpoint`"),
            ("[cluster]\nendpoints = [\"e:2379\"]\n", "FILE: cluster.endpoints: etcd endpoint 'e:2379'"),
            ("dot = [\"127.0.0.1:853\"]\n", "FILE: dot: needs tls-certificate and tls-key"),
            ("tls-key = \"k\"\n", "FILE: tls-key: needs tls-certificate"),
            (
                "tls-certificate = \"c\"\ntls-key = \"k\"\ndoh-path = \"dns\"\n",
                "FILE: doh-path: 'dns' is not an HTTP path",
            ),
            ("tls-streams = 0\n", "FILE: tls-streams: 0 is not between 1 and 10000"),
            ("tls-idle-timeout = 0\n", "FILE: tls-idle-timeout: 0 is not between"),
            ("doq = \"127.0.0.1:853\"\n", "FILE:1: invalid type"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = Settings {
            zones: Some("/etc/meridian/zones".into()),
            listen: vec!["127.0.0.1:53".parse().unwrap()],
            strict: Some(true),
            rrl_rate: Some(10),
            ..Settings::default()
        };
        let flags = Settings { strict: Some(false), rrl_slip: Some(0), ..Settings::default() };
        let s = flags.over(file);
        assert_eq!(s.zones(), PathBuf::from("/etc/meridian/zones"));
        assert_eq!(s.strict, Some(false));
        assert_eq!((s.rrl_rate, s.rrl_slip), (Some(10), Some(0)));
        assert_eq!(s.listen.len(), 1);
        let flags = Settings { listen: vec!["127.0.0.1:5300".parse().unwrap()], ..Settings::default() };
        assert_eq!(flags.over(s).listen[0].port(), 5300);
        assert_eq!(Settings::default().api_url(), "http://127.0.0.1:8053");
        assert_eq!(Settings::default().geo(), PathBuf::from(crate::config::DEFAULT_GEO));
    }
}
