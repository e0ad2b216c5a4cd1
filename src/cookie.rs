//! DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018).
//!
//! A client sends an 8-octet client cookie; the server answers with it and a 16-octet server
//! cookie: version 1, three reserved octets, the time it was made, and a SipHash-2-4 of the
//! client cookie, those eight octets and the client's address under a 16-octet secret. A
//! client that presents the server cookie back has shown it receives answers at its address:
//! rate limiting lets it through. Because the construction is the RFC's, every node of an
//! anycast fleet given the same secret (`cookie-secret-file`) accepts the cookies of the
//! others, Meridian or BIND or Knot alike.
//!
//! Secrets rotate without rejecting anyone: the first secret makes cookies, every secret is
//! accepted. Add the new secret second on every node, then move it first, then remove the old
//! one after an hour (RFC 9018 §5). A cookie that no secret accepts is never an error here:
//! the query is answered and a fresh cookie handed out, as for a client that had none.

use std::net::IpAddr;
use std::path::Path;

/// Octets of a client cookie (RFC 7873 §4.1).
pub const CLIENT_LEN: usize = 8;
/// Octets of the server cookies made here (RFC 9018 §4).
pub const SERVER_LEN: usize = 16;
/// Shortest and longest server cookie a client may present (RFC 7873 §4.2).
const SERVER_MIN: usize = 8;
const SERVER_MAX: usize = 32;
/// A server cookie is accepted for an hour after it was made and five minutes before (clocks
/// of a fleet differ), and renewed once it is half an hour old (RFC 9018 §4.3).
pub const LIFETIME: u32 = 3600;
const AHEAD: u32 = 300;
const RENEW_AFTER: u32 = 1800;
/// The server cookie version of RFC 9018.
const VERSION: u8 = 1;

/// The clock requests carry: seconds since the Unix epoch, cut to 32 bits as RFC 9018
/// timestamps are. Read by the transports (once per batch in the batched UDP loop), never by
/// the query path itself.
pub fn now() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32)
}

/// A COOKIE option as a query presented it, read in place: the client cookie and, when there
/// was one, the server cookie (8 to 32 octets, as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presented<'a> {
    /// The client cookie.
    pub client: [u8; CLIENT_LEN],
    server: &'a [u8],
}

impl<'a> Presented<'a> {
    /// Reads a COOKIE option's value; `None` when it is malformed (RFC 7873 §5.2.2: a client
    /// cookie alone, or followed by 8 to 32 octets), which gets FORMERR.
    pub fn read(value: &'a [u8]) -> Option<Presented<'a>> {
        let server_len = value.len().checked_sub(CLIENT_LEN)?;
        if server_len != 0 && !(SERVER_MIN..=SERVER_MAX).contains(&server_len) {
            return None;
        }
        let (client, server) = value.split_at(CLIENT_LEN);
        Some(Presented { client: client.try_into().ok()?, server })
    }

    /// The server cookie presented, empty when there was none.
    pub fn server(&self) -> &'a [u8] {
        self.server
    }
}

/// What a reply carries for a presented cookie: the COOKIE option's value, and whether the
/// server cookie presented was valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// Client cookie then server cookie, as the reply's COOKIE option.
    pub option: [u8; CLIENT_LEN + SERVER_LEN],
    /// The query's server cookie was one of ours (or a fleet peer's), made for this client
    /// within its lifetime.
    pub valid: bool,
}

/// The server secrets: the first makes cookies, all are accepted. None: cookies are off, and
/// COOKIE options are ignored like any unknown option.
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    keys: Vec<[u8; 16]>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets themselves.
        write!(f, "Secrets({} key(s))", self.keys.len())
    }
}

impl Secrets {
    /// Cookies off.
    pub fn off() -> Secrets {
        Secrets { keys: Vec::new() }
    }

    /// One secret drawn from the system's random source: cookies for a single server.
    pub fn random() -> Secrets {
        let mut key = [0u8; 16];
        // The system random source does not fail on Linux once booted; a zero key would only
        // make cookies guessable, never answers wrong.
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key);
        Secrets { keys: vec![key] }
    }

    /// The given secrets, the first making cookies.
    pub fn new(keys: Vec<[u8; 16]>) -> Secrets {
        Secrets { keys }
    }

    /// Reads a secrets file: one secret per line as 32 hex digits, blank lines and `#`
    /// comments ignored, at least one secret. Errors name the file and line.
    pub fn read(path: &Path) -> Result<Secrets, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bytes = data_encoding::HEXLOWER_PERMISSIVE.decode(line.as_bytes()).ok().filter(|b| b.len() == 16);
            let Some(bytes) = bytes else {
                return Err(format!(
                    "{}:{}: a cookie secret is 32 hex digits (16 octets; `openssl rand -hex 16` makes one)",
                    path.display(),
                    n + 1
                ));
            };
            let mut key = [0u8; 16];
            key.copy_from_slice(&bytes);
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(format!("{}: no cookie secret in the file", path.display()));
        }
        Ok(Secrets { keys })
    }

    /// True when cookies are answered.
    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The reply to `presented` from `client` at `now` (seconds since the epoch, wrapping):
    /// a valid server cookie younger than half an hour is sent back as it came, anything
    /// else gets a fresh one. `None` when cookies are off.
    pub fn reply(&self, presented: &Presented<'_>, client: IpAddr, now: u32) -> Option<Reply> {
        let key = self.keys.first()?;
        let mut option = [0u8; CLIENT_LEN + SERVER_LEN];
        option[..CLIENT_LEN].copy_from_slice(&presented.client);
        let server = presented.server();
        let age = self.check(&presented.client, server, client, now);
        if let Some(age) = age
            && age < RENEW_AFTER
        {
            option[CLIENT_LEN..].copy_from_slice(server);
        } else {
            option[CLIENT_LEN..].copy_from_slice(&make(key, &presented.client, client, now));
        }
        Some(Reply { option, valid: age.is_some() })
    }

    /// The age of `server` if it is a valid server cookie for `client_cookie` from `client` at
    /// `now` under any of the secrets (negative ages, from a peer's clock a little ahead,
    /// count as 0).
    fn check(&self, client_cookie: &[u8; CLIENT_LEN], server: &[u8], client: IpAddr, now: u32) -> Option<u32> {
        if server.len() != SERVER_LEN || server[0] != VERSION {
            return None;
        }
        let made = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        let age = now.wrapping_sub(made);
        let ahead = made.wrapping_sub(now);
        if age > LIFETIME && ahead > AHEAD {
            return None;
        }
        let mut input = [0u8; 32];
        let n = hash_input(&mut input, client_cookie, &server[..8], client);
        let ours = self.keys.iter().any(|key| {
            let hash = siphasher::sip::SipHasher24::new_with_key(key).hash(&input[..n]).to_le_bytes();
            constant_time_eq(&hash, &server[8..])
        });
        ours.then_some(if age <= LIFETIME { age } else { 0 })
    }
}

/// A server cookie for `client_cookie` from `client`, made at `now` with `key` (RFC 9018 §4.4).
pub fn make(key: &[u8; 16], client_cookie: &[u8; CLIENT_LEN], client: IpAddr, now: u32) -> [u8; SERVER_LEN] {
    let mut cookie = [0u8; SERVER_LEN];
    cookie[0] = VERSION;
    cookie[4..8].copy_from_slice(&now.to_be_bytes());
    let mut input = [0u8; 32];
    let n = hash_input(&mut input, client_cookie, &cookie[..8], client);
    let hash = siphasher::sip::SipHasher24::new_with_key(key).hash(&input[..n]);
    cookie[8..].copy_from_slice(&hash.to_le_bytes());
    cookie
}

/// Client cookie | version | reserved | timestamp | client address, into `out`; its length.
/// An IPv4 client reached over an IPv6 socket is hashed as IPv4, so a fleet agrees whatever
/// each node's sockets.
fn hash_input(out: &mut [u8; 32], client_cookie: &[u8; CLIENT_LEN], head: &[u8], client: IpAddr) -> usize {
    out[..8].copy_from_slice(client_cookie);
    out[8..16].copy_from_slice(head);
    match client.to_canonical() {
        IpAddr::V4(a) => {
            out[16..20].copy_from_slice(&a.octets());
            20
        }
        IpAddr::V6(a) => {
            out[16..32].copy_from_slice(&a.octets());
            32
        }
    }
}

/// Compares without stopping at the first difference, so timing tells nothing of the hash.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        data_encoding::HEXLOWER.decode(s.as_bytes()).unwrap()
    }

    fn key(s: &str) -> [u8; 16] {
        hex(s).try_into().unwrap()
    }

    const SECRET: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";

    #[test]
    fn server_cookies_are_rfc_9018s_test_vectors() {
        // RFC 9018 Appendix A.1 and A.3: what any other implementation makes for the same input.
        let cases = [
            ("2464c4abcf10c957", "198.51.100.100", 1_559_731_985, "010000005cf79f111f8130c3eee29480"),
            ("fc93fc62807ddb86", "203.0.113.203", 1_559_734_700, "010000005cf7a9acf73a7810aca2381e"),
        ];
        for (client, ip, now, want) in cases {
            let client: [u8; 8] = hex(client).try_into().unwrap();
            assert_eq!(make(&key(SECRET), &client, ip.parse().unwrap(), now).to_vec(), hex(want));
        }
    }

    #[test]
    fn a_cookie_is_reused_then_renewed_then_refused_as_it_ages() {
        let secrets = Secrets::new(vec![key(SECRET)]);
        let ip: IpAddr = "198.51.100.100".parse().unwrap();
        // A.1: a client cookie alone gets a fresh server cookie; it was not a valid one.
        let first = hex("2464c4abcf10c957");
        let first = Presented::read(&first).unwrap();
        let reply = secrets.reply(&first, ip, 1_559_731_985).unwrap();
        assert_eq!(reply.option.to_vec(), hex("2464c4abcf10c957010000005cf79f111f8130c3eee29480"));
        assert!(!reply.valid);
        let back = Presented::read(&reply.option).unwrap();
        // Ten minutes on it is valid and sent back unchanged.
        let again = secrets.reply(&back, ip, 1_559_731_985 + 600).unwrap();
        assert!(again.valid);
        assert_eq!(again.option, reply.option);
        // A.2: forty minutes on it is still valid, and renewed.
        let renewed = secrets.reply(&back, ip, 1_559_734_385).unwrap();
        assert!(renewed.valid);
        assert_eq!(renewed.option.to_vec(), hex("2464c4abcf10c957010000005cf7a871d4a564a1442aca77"));
        // Past the hour, or from another address, or another secret: not valid, a fresh one.
        assert!(!secrets.reply(&back, ip, 1_559_731_985 + LIFETIME + 1).unwrap().valid);
        assert!(!secrets.reply(&back, "198.51.100.101".parse().unwrap(), 1_559_731_985 + 1).unwrap().valid);
        let other = Secrets::new(vec![key("00112233445566778899aabbccddeeff")]);
        assert!(!other.reply(&back, ip, 1_559_731_985 + 1).unwrap().valid);
        // A peer's clock a little ahead is accepted; far ahead is not.
        assert!(secrets.reply(&back, ip, 1_559_731_985 - 200).unwrap().valid);
        assert!(!secrets.reply(&back, ip, 1_559_731_985 - 400).unwrap().valid);
        // IPv4 over an IPv6 socket is the same client.
        assert!(secrets.reply(&back, "::ffff:198.51.100.100".parse().unwrap(), 1_559_731_985 + 1).unwrap().valid);
    }

    #[test]
    fn rotation_accepts_every_secret_and_makes_cookies_with_the_first() {
        let old = key(SECRET);
        let new = key("00112233445566778899aabbccddeeff");
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let client = [7u8; 8];
        let made_old = [&client[..], &make(&old, &client, ip, 1000)].concat();
        let rotated = Secrets::new(vec![new, old]);
        let reply = rotated.reply(&Presented::read(&made_old).unwrap(), ip, 1100).unwrap();
        assert!(reply.valid, "a cookie of the old secret is still accepted");
        // Sent back as it came (young), and a fresh client-only query gets the new secret's.
        assert_eq!(reply.option.to_vec(), made_old);
        let fresh = rotated.reply(&Presented::read(&client).unwrap(), ip, 1100).unwrap();
        assert_eq!(&fresh.option[8..], &make(&new, &client, ip, 1100));
    }

    #[test]
    fn malformed_options_and_secret_files_are_refused() {
        for len in [0, 7, 9, 15, 41] {
            assert!(Presented::read(&vec![1u8; len]).is_none(), "{len}");
        }
        for len in [8, 16, 24, 40] {
            assert!(Presented::read(&vec![1u8; len]).is_some(), "{len}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cookie");
        std::fs::write(&path, format!("# fleet secret\n{SECRET}\n\n00112233445566778899AABBCCDDEEFF # old\n")).unwrap();
        assert_eq!(Secrets::read(&path).unwrap().keys.len(), 2);
        std::fs::write(&path, format!("{SECRET}\nnot-hex\n")).unwrap();
        let e = Secrets::read(&path).unwrap_err();
        assert!(
            e.ends_with(":2: a cookie secret is 32 hex digits (16 octets; `openssl rand -hex 16` makes one)"),
            "{e}"
        );
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(Secrets::read(&path).unwrap_err().contains("no cookie secret"));
        assert!(format!("{:?}", Secrets::new(vec![key(SECRET)])).contains("1 key"));
        assert!(!format!("{:?}", Secrets::new(vec![key(SECRET)])).contains("e5"));
        assert!(!Secrets::off().enabled() && Secrets::random().enabled());
    }
}
