//! DNS over HTTPS (RFC 8484) over HTTP/2: `POST` with an `application/dns-message` body, or
//! `GET` with the query in the `dns` parameter (base64url), on one path. The reply is the
//! answer's bytes with the HTTP freshness the answer's TTLs allow (§5.1).
//!
//! HTTP/2 is hyper's; a connection is closed once it has had no request in flight for the
//! idle timeout, and may carry [`crate::server::Limits::tls_streams`] requests at once.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::query::{MAX_TCP_MESSAGE, Request, Transport};
use crate::server::tcp::accept;
use crate::server::{Shared, Tally};

/// The ALPN token of HTTP/2 over TLS.
pub const ALPN: &[u8] = b"h2";

/// The media type of a DNS message (RFC 8484 §6).
pub const MEDIA_TYPE: &str = "application/dns-message";

/// Accepts connections on `listener` until the process stops, answering on `path`.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, config: Arc<rustls::ServerConfig>, path: Arc<str>) {
    let acceptor = TlsAcceptor::from(config);
    let permits = Arc::new(Semaphore::new(shared.limits.tls_connections));
    loop {
        let (stream, peer, permit) = accept(&listener, &permits, &shared.stats.tls_refused, "doh").await;
        let (shared, acceptor, path) = (shared.clone(), acceptor.clone(), path.clone());
        tokio::spawn(async move {
            let Some(tls) = super::handshake(&acceptor, stream, peer, &shared, "doh").await else { return };
            connection(tls, peer, shared, path).await;
            drop(permit);
        });
    }
}

/// When a connection last had a request, and how many it has in flight.
#[derive(Debug)]
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        self.last_ms.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        self.start.elapsed().saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }
}

async fn connection<S>(tls: S, peer: SocketAddr, shared: Arc<Shared>, path: Arc<str>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let activity =
        Arc::new(Activity { start: Instant::now(), last_ms: AtomicU64::new(0), in_flight: AtomicUsize::new(0) });
    let service = {
        let (shared, activity) = (shared.clone(), activity.clone());
        hyper::service::service_fn(move |request| {
            let (shared, activity, path) = (shared.clone(), activity.clone(), path.clone());
            async move {
                activity.in_flight.fetch_add(1, Ordering::Relaxed);
                let response = handle(request, peer, &shared, &path).await;
                activity.touch();
                activity.in_flight.fetch_sub(1, Ordering::Relaxed);
                Ok::<_, Infallible>(response)
            }
        })
    };
    let idle = shared.limits.tls_idle;
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder.timer(TokioTimer::new()).max_concurrent_streams(shared.limits.tls_streams);
    let conn = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "doh connection closed");
                }
                return;
            }
            _ = tokio::time::sleep(idle / 4), if !closing => {
                if activity.idle_for() >= idle {
                    // GOAWAY; requests in flight finish, then the connection ends.
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

fn status(code: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = code;
    response.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain"));
    response
}

/// Reads one DoH request and answers it.
async fn handle(
    request: HttpRequest<Incoming>,
    peer: SocketAddr,
    shared: &Shared,
    path: &str,
) -> Response<Full<Bytes>> {
    let mut tally = Tally::default();
    tally.https_queries += 1;
    tally.flush(shared);
    if request.uri().path() != path {
        return status(StatusCode::NOT_FOUND, "not found: DNS queries are served on another path\n");
    }
    let query = match *request.method() {
        Method::GET => {
            let Some(dns) = request.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("dns=")))
            else {
                return status(StatusCode::BAD_REQUEST, "the dns parameter is missing\n");
            };
            // RFC 8484 §4.1: base64url without padding; padding is forgiven.
            match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(dns.trim_end_matches('=')) {
                Ok(bytes) if bytes.len() <= MAX_TCP_MESSAGE => Bytes::from(bytes),
                Ok(_) => return status(StatusCode::URI_TOO_LONG, "the query is longer than a DNS message\n"),
                Err(_) => return status(StatusCode::BAD_REQUEST, "the dns parameter is not base64url\n"),
            }
        }
        Method::POST => {
            let media = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
            if media.split(';').next().map(str::trim) != Some(MEDIA_TYPE) {
                return status(StatusCode::UNSUPPORTED_MEDIA_TYPE, "the body must be application/dns-message\n");
            }
            let body = Limited::new(request.into_body(), MAX_TCP_MESSAGE);
            match timeout(shared.limits.tcp_io, body.collect()).await {
                Ok(Ok(collected)) => collected.to_bytes(),
                Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                    return status(StatusCode::PAYLOAD_TOO_LARGE, "the body is longer than a DNS message\n");
                }
                Ok(Err(_)) => return status(StatusCode::BAD_REQUEST, "the body could not be read\n"),
                Err(_) => return status(StatusCode::REQUEST_TIMEOUT, "the body was not received in time\n"),
            }
        }
        _ => {
            let mut response = status(StatusCode::METHOD_NOT_ALLOWED, "GET or POST\n");
            response.headers_mut().insert(ALLOW, hyper::header::HeaderValue::from_static("GET, POST"));
            return response;
        }
    };
    let snapshot = shared.snapshot.load();
    let request = Request::new(&snapshot, &query, peer, Transport::Https, crate::cookie::now());
    let mut out = Vec::with_capacity(512);
    let answered = crate::server::shared::answer_guarded(shared, &request, &mut out, None, &mut tally);
    tally.flush(shared);
    if answered.is_none() {
        return status(StatusCode::BAD_REQUEST, "not a DNS query\n");
    }
    let max_age = crate::query::wire::smallest_ttl(&out).unwrap_or(0);
    let mut response = Response::new(Full::new(Bytes::from(out)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(MEDIA_TYPE));
    if let Ok(value) = hyper::header::HeaderValue::from_str(&format!("max-age={max_age}")) {
        headers.insert(CACHE_CONTROL, value);
    }
    response
}
