//! A small etcd v3 client over etcd's JSON gateway (`/v3/kv/range`, `/v3/watch`, ...), on the
//! HTTP client the server already has.
//!
//! Why the gateway and not gRPC: the gRPC clients (etcd-client over tonic and prost) bring a
//! second HTTP/2 stack and, depending on the version, protobuf code generation at build time;
//! the gateway is part of every etcd v3 server (3.4 and later serve it under `/v3/`), speaks
//! JSON with keys and values in base64, and streams a watch as one JSON object per line. What
//! Meridian needs (range, put, delete, leases, watch) is a handful of requests.
//!
//! Every request tries the endpoints in turn, starting from the one that answered last, so a
//! dead member of the etcd cluster costs one failed connection, not an outage.
//!
//! A secured etcd is reached over `https://` with the operator's CA and, for client
//! certificate authentication, a certificate and key ([`Access`]); with a user and password the
//! client authenticates (`/v3/auth/authenticate`), sends the token with every request, and
//! authenticates again when etcd says the token is no longer valid (simple tokens expire).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use data_encoding::BASE64;
use serde_json::{Value, json};

/// How long one request may take: etcd answers in milliseconds or is not there.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting to one endpoint may take before the next is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why etcd did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EtcdError {
    /// No endpoint could be reached.
    #[error("no etcd endpoint answered ({0})")]
    Unreachable(String),
    /// etcd answered with an error.
    #[error("etcd refused: {0}")]
    Refused(String),
    /// The answer was not what the gateway sends.
    #[error("unexpected answer from etcd: {0}")]
    Protocol(String),
    /// etcd did not take the token (expired, or revoked); authenticating again may do.
    #[error("etcd did not accept the authentication token: {0}")]
    Unauthenticated(String),
}

/// How to reach a secured etcd; the default is plain access.
#[derive(Debug, Default, Clone)]
pub struct Access {
    /// PEM certificates of the CAs that sign etcd's server certificates, trusted in place of
    /// the system's.
    pub ca: Option<Vec<u8>>,
    /// A PEM client certificate followed by its private key, for `--client-cert-auth`.
    pub identity: Option<Vec<u8>>,
    /// User name and password for etcd's authentication.
    pub user: Option<(String, String)>,
}

/// One key and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
    /// The revision of its last change.
    pub mod_revision: i64,
}

/// A change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The key was written.
    Put(KeyValue),
    /// The key was deleted (or its lease expired).
    Delete(String),
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Writes `key`, attached to the lease when given.
    Put { key: String, value: Vec<u8>, lease: Option<i64> },
    /// Deletes `key`.
    Delete { key: String },
}

/// The most writes etcd takes in one transaction (its `--max-txn-ops` default).
pub const MAX_TXN_OPS: usize = 128;

/// An etcd cluster named by its client URLs.
#[derive(Debug)]
pub struct Etcd {
    endpoints: Vec<String>,
    client: reqwest::Client,
    /// The endpoint to try first: the last that answered.
    current: AtomicUsize,
    /// User name and password, when etcd wants them.
    user: Option<(String, String)>,
    /// The token of the last authentication.
    token: Mutex<Option<String>>,
}

/// Decodes a base64 field (absent is empty, as the gateway leaves out empty values).
fn b64(v: &Value) -> Result<Vec<u8>, EtcdError> {
    match v.as_str() {
        None => Ok(Vec::new()),
        Some(s) => BASE64.decode(s.as_bytes()).map_err(|e| EtcdError::Protocol(format!("bad base64: {e}"))),
    }
}

/// Reads an int64 field, which the gateway writes as a string (absent is 0).
fn int(v: &Value) -> i64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

/// The end of the range of every key starting with `prefix` (etcd's `range_end`).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0] // every key
}

/// An error with its causes, which say what a TLS failure was (`invalid peer certificate:
/// UnknownIssuer`, say) where the error alone says only that the request failed.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn key_value(kv: &Value) -> Result<KeyValue, EtcdError> {
    let key = String::from_utf8(b64(&kv["key"])?).map_err(|_| EtcdError::Protocol("a key is not UTF-8".into()))?;
    Ok(KeyValue { key, value: b64(&kv["value"])?, mod_revision: int(&kv["mod_revision"]) })
}

impl Etcd {
    /// Checks that every endpoint is an `http://` or `https://` URL.
    pub fn check_endpoints(endpoints: &[String]) -> Result<(), String> {
        if endpoints.is_empty() {
            return Err("no etcd endpoints".into());
        }
        for e in endpoints {
            let url = reqwest::Url::parse(e).map_err(|err| format!("etcd endpoint '{e}' is not a URL: {err}"))?;
            if url.scheme() != "http" && url.scheme() != "https" {
                return Err(format!("etcd endpoint '{e}' is not http:// or https://"));
            }
        }
        Ok(())
    }

    /// A client for the cluster at `endpoints` (`http://host:port` or `https://...`), reached
    /// as `access` says.
    pub fn new(endpoints: &[String], access: &Access) -> Result<Etcd, String> {
        Etcd::check_endpoints(endpoints)?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT);
        if let Some(pem) = &access.ca {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("CA certificates: {e}"))?;
            if certs.is_empty() {
                return Err("CA certificates: no PEM certificate found".into());
            }
            builder = builder.tls_certs_only(certs);
        }
        if let Some(pem) = &access.identity {
            let identity = reqwest::Identity::from_pem(pem).map_err(|e| format!("client certificate and key: {e}"))?;
            builder = builder.identity(identity);
        }
        let client = builder.build().map_err(|e| format!("cannot make the etcd client: {e}"))?;
        let endpoints = endpoints.iter().map(|e| e.trim_end_matches('/').to_string()).collect();
        Ok(Etcd { endpoints, client, current: AtomicUsize::new(0), user: access.user.clone(), token: Mutex::new(None) })
    }

    /// Sends one request (authenticated first when a user is set, and again once when etcd no
    /// longer takes the token).
    async fn send(&self, path: &str, body: &Value, stream: bool) -> Result<reqwest::Response, EtcdError> {
        let Some((name, password)) = &self.user else { return self.send_once(path, body, stream, None).await };
        let mut again = true;
        loop {
            let token = crate::sync::lock(&self.token).clone();
            let token = match token {
                Some(t) => t,
                None => {
                    let request = json!({ "name": name, "password": password });
                    let response = self.send_once("/v3/auth/authenticate", &request, false, None).await?;
                    let text = response.text().await.map_err(|e| EtcdError::Unreachable(e.to_string()))?;
                    let v: Value =
                        serde_json::from_str(&text).map_err(|e| EtcdError::Protocol(format!("{e}: {text}")))?;
                    let token = v["token"]
                        .as_str()
                        .ok_or_else(|| EtcdError::Protocol(format!("no token in the answer to authenticate: {v}")))?
                        .to_string();
                    *crate::sync::lock(&self.token) = Some(token.clone());
                    token
                }
            };
            match self.send_once(path, body, stream, Some(&token)).await {
                Err(EtcdError::Unauthenticated(_)) if again => {
                    again = false;
                    *crate::sync::lock(&self.token) = None;
                }
                other => return other,
            }
        }
    }

    /// Sends one request to the first endpoint that answers; with `stream`, no overall time
    /// limit (a watch lasts as long as it is wanted).
    async fn send_once(
        &self,
        path: &str,
        body: &Value,
        stream: bool,
        token: Option<&str>,
    ) -> Result<reqwest::Response, EtcdError> {
        let start = self.current.load(Ordering::Relaxed);
        let mut last = String::new();
        for i in 0..self.endpoints.len() {
            let at = (start + i) % self.endpoints.len();
            let mut request = self.client.post(format!("{}{path}", self.endpoints[at])).body(body.to_string());
            if !stream {
                request = request.timeout(REQUEST_TIMEOUT);
            }
            if let Some(token) = token {
                request = request.header(reqwest::header::AUTHORIZATION, token);
            }
            match request.send().await {
                Ok(response) => {
                    self.current.store(at, Ordering::Relaxed);
                    if !response.status().is_success() {
                        let status = response.status();
                        let text = response.text().await.unwrap_or_default();
                        let message = serde_json::from_str::<Value>(&text)
                            .ok()
                            .and_then(|v| v["message"].as_str().map(str::to_string))
                            .unwrap_or(text);
                        // A member without a leader or quorum says so; another may do better.
                        if status.is_server_error() {
                            last = format!("{}: {message}", self.endpoints[at]);
                            continue;
                        }
                        if status == reqwest::StatusCode::UNAUTHORIZED {
                            return Err(EtcdError::Unauthenticated(message));
                        }
                        return Err(EtcdError::Refused(message));
                    }
                    return Ok(response);
                }
                Err(e) => last = format!("{}: {}", self.endpoints[at], chain(&e)),
            }
        }
        Err(EtcdError::Unreachable(last))
    }

    async fn call(&self, path: &str, body: Value) -> Result<Value, EtcdError> {
        let response = self.send(path, &body, false).await?;
        let text = response.text().await.map_err(|e| EtcdError::Unreachable(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| EtcdError::Protocol(format!("{e}: {text}")))
    }

    /// Every key starting with `prefix`, and the revision they were read at.
    pub async fn get_prefix(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64), EtcdError> {
        let body = json!({
            "key": BASE64.encode(prefix.as_bytes()),
            "range_end": BASE64.encode(&prefix_end(prefix.as_bytes())),
        });
        let v = self.call("/v3/kv/range", body).await?;
        let kvs = v["kvs"].as_array().map(Vec::as_slice).unwrap_or_default();
        let list = kvs.iter().map(key_value).collect::<Result<Vec<_>, _>>()?;
        Ok((list, int(&v["header"]["revision"])))
    }

    /// Writes `key`, attached to `lease` when given (it goes when the lease expires).
    pub async fn put(&self, key: &str, value: &[u8], lease: Option<i64>) -> Result<i64, EtcdError> {
        let mut body = json!({ "key": BASE64.encode(key.as_bytes()), "value": BASE64.encode(value) });
        if let Some(id) = lease {
            body["lease"] = json!(id.to_string());
        }
        let v = self.call("/v3/kv/put", body).await?;
        Ok(int(&v["header"]["revision"]))
    }

    /// Does `ops` in transactions of at most [`MAX_TXN_OPS`] writes each (each transaction is
    /// atomic, and watchers see its writes as one batch); how many transactions it took.
    pub async fn write_all(&self, ops: &[Op]) -> Result<usize, EtcdError> {
        for chunk in ops.chunks(MAX_TXN_OPS) {
            let success: Vec<Value> = chunk
                .iter()
                .map(|op| match op {
                    Op::Put { key, value, lease } => {
                        let mut put = json!({ "key": BASE64.encode(key.as_bytes()), "value": BASE64.encode(value) });
                        if let Some(id) = lease {
                            put["lease"] = json!(id.to_string());
                        }
                        json!({ "request_put": put })
                    }
                    Op::Delete { key } => json!({ "request_delete_range": { "key": BASE64.encode(key.as_bytes()) } }),
                })
                .collect();
            self.call("/v3/kv/txn", json!({ "success": success })).await?;
        }
        Ok(ops.len().div_ceil(MAX_TXN_OPS))
    }

    /// Deletes `key`; true when it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, EtcdError> {
        let v = self.call("/v3/kv/deleterange", json!({ "key": BASE64.encode(key.as_bytes()) })).await?;
        Ok(int(&v["deleted"]) > 0)
    }

    /// Deletes every key starting with `prefix`; how many there were.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<i64, EtcdError> {
        let body = json!({
            "key": BASE64.encode(prefix.as_bytes()),
            "range_end": BASE64.encode(&prefix_end(prefix.as_bytes())),
        });
        let v = self.call("/v3/kv/deleterange", body).await?;
        Ok(int(&v["deleted"]))
    }

    /// A lease of `ttl` seconds; its ID.
    pub async fn grant(&self, ttl: u64) -> Result<i64, EtcdError> {
        let v = self.call("/v3/lease/grant", json!({ "TTL": ttl.to_string() })).await?;
        match int(&v["ID"]) {
            0 => Err(EtcdError::Protocol(format!("no lease ID in {v}"))),
            id => Ok(id),
        }
    }

    /// Renews a lease; false when it has expired (its keys are gone).
    pub async fn keep_alive(&self, lease: i64) -> Result<bool, EtcdError> {
        let v = self.call("/v3/lease/keepalive", json!({ "ID": lease.to_string() })).await?;
        Ok(int(&v["result"]["TTL"]) > 0)
    }

    /// Keeps a copy of every key starting with `prefix`: `apply(true, events)` once with every
    /// key as a put (the copy is to be replaced), then `apply(false, events)` for each batch of
    /// changes watched from the revision read. Returns only on failure; an ended watch is one.
    pub async fn mirror_prefix(&self, prefix: &str, mut apply: impl FnMut(bool, Vec<Event>)) -> Result<(), EtcdError> {
        let (kvs, revision) = self.get_prefix(prefix).await?;
        apply(true, kvs.into_iter().map(Event::Put).collect());
        let mut watch = self.watch_prefix(prefix, revision + 1).await?;
        while let Some((events, _)) = watch.next().await? {
            apply(false, events);
        }
        Err(EtcdError::Unreachable(format!("the watch of {prefix} ended")))
    }

    /// Watches every key starting with `prefix` from revision `from` on.
    pub async fn watch_prefix(&self, prefix: &str, from: i64) -> Result<Watch, EtcdError> {
        let body = json!({ "create_request": {
            "key": BASE64.encode(prefix.as_bytes()),
            "range_end": BASE64.encode(&prefix_end(prefix.as_bytes())),
            "start_revision": from.to_string(),
        }});
        let response = self.send("/v3/watch", &body, true).await?;
        Ok(Watch { response, buffer: Vec::new() })
    }
}

/// A watch in progress: the gateway streams one JSON object per line.
#[derive(Debug)]
pub struct Watch {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl Watch {
    /// The next batch of changes, with the revision they bring the store to; `Ok(None)` when
    /// the stream ended (the member went away), an error when etcd cancelled the watch
    /// (a compacted revision, say).
    pub async fn next(&mut self) -> Result<Option<(Vec<Event>, i64)>, EtcdError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let v: Value = serde_json::from_slice(&line)
                    .map_err(|e| EtcdError::Protocol(format!("{e}: {}", String::from_utf8_lossy(&line))))?;
                if let Some(error) = v.get("error") {
                    return Err(EtcdError::Refused(error["message"].as_str().unwrap_or("watch failed").to_string()));
                }
                let result = &v["result"];
                if result["canceled"].as_bool() == Some(true) {
                    let reason = result["cancel_reason"].as_str().unwrap_or("cancelled");
                    return Err(EtcdError::Refused(format!("watch cancelled: {reason}")));
                }
                let events = result["events"].as_array().map(Vec::as_slice).unwrap_or_default();
                let mut out = Vec::with_capacity(events.len());
                for e in events {
                    let kv = key_value(&e["kv"])?;
                    out.push(if e["type"].as_str() == Some("DELETE") { Event::Delete(kv.key) } else { Event::Put(kv) });
                }
                let revision = int(&result["header"]["revision"]);
                if !out.is_empty() {
                    return Ok(Some((out, revision)));
                }
                continue; // the creation notice, or a progress notice
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.buffer.extend_from_slice(&bytes),
                Ok(None) => return Ok(None),
                Err(e) => return Err(EtcdError::Unreachable(e.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_range_ends_past_every_key_that_starts_with_it() {
        assert_eq!(prefix_end(b"/meridian/"), b"/meridian0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(int(&json!("42")), 42);
        assert_eq!(int(&Value::Null), 0);
        assert!(Etcd::check_endpoints(&[]).is_err());
        assert!(Etcd::check_endpoints(&["127.0.0.1:2379".to_string()]).unwrap_err().contains("is not"));
        let access = Access { ca: Some(b"not pem".to_vec()), ..Access::default() };
        assert!(Etcd::new(&["https://127.0.0.1:2379".to_string()], &access).unwrap_err().contains("CA certificates"));
    }
}
