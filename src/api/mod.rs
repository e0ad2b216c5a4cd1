//! The HTTP API: status, Prometheus metrics, overrides, explain and reload.
//!
//! Off unless `--api ADDR:PORT` is given. Reading endpoints are open; mutating ones (`POST`,
//! `DELETE`) need `Authorization: Bearer <token>` when a token file is configured, and a
//! token file is required to listen on anything but loopback.

pub mod metrics;
pub mod page;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::health::{Action, HealthTable, Override, Target};
use crate::query::explain::{Asker, explain};
use crate::reload::Reloader;
use crate::server::Shared;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The DNS side: configuration, counters.
    pub shared: Arc<Shared>,
    /// The health table.
    pub health: Arc<Mutex<HealthTable>>,
    /// Reloads.
    pub reloader: Arc<Reloader>,
    /// The bearer token mutating requests must carry, if any.
    pub token: Option<String>,
    /// When set, reads (status, metrics, explain, overrides) need the token too: `/status`
    /// shows the whole topology.
    pub token_for_reads: bool,
    /// The fleet overrides are shared with, if any.
    pub fleet: Option<Arc<crate::fleet::Fleet>>,
}

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Listening beyond loopback without a token.
    #[error("the API would listen on {0}, beyond loopback, without a token: give --api-token-file FILE")]
    NoToken(SocketAddr),
    /// The token file could not be read or is empty.
    #[error("{0}: cannot read the API token: {1}")]
    Token(String, String),
    /// Binding failed.
    #[error("cannot listen on {0} for the API: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// Reads a token file: the first line, trimmed; empty is an error.
pub fn read_token(path: &std::path::Path) -> Result<String, ApiError> {
    let text = std::fs::read_to_string(path).map_err(|e| ApiError::Token(path.display().to_string(), e.to_string()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(ApiError::Token(path.display().to_string(), "the file is empty".into()));
    }
    Ok(token)
}

/// Binds the API on `addr` and serves it until the task is aborted.
pub async fn start(addr: SocketAddr, state: AppState) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), ApiError> {
    if !addr.ip().is_loopback() && state.token.is_none() {
        return Err(ApiError::NoToken(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| ApiError::Bind(addr, e))?;
    let bound = listener.local_addr().map_err(|e| ApiError::Bind(addr, e))?;
    let app = router(state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the API stopped");
        }
    });
    Ok((bound, task))
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/ui", get(page))
        .route("/map.svg", get(map_svg))
        .route("/status", get(status))
        .route("/fleet", get(fleet_view))
        .route("/metrics", get(metrics_text))
        .route("/explain", get(explain_handler))
        .route("/reload", post(reload))
        .route("/overrides", get(list_overrides))
        .route("/overrides/member/{pool}/{member}", post(set_member).delete(clear_member))
        .route("/overrides/datacenter/{dc}", post(set_dc).delete(clear_dc))
        .route("/overrides/pool/{pool}/datacenter/{dc}", post(set_pool_dc).delete(clear_pool_dc))
        .with_state(state)
}

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

fn authorized(state: &AppState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(token) = &state.token else {
        return Ok(());
    };
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if given == Some(token.as_str()) {
        Ok(())
    } else {
        Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs 'Authorization: Bearer <token>' with the API token",
        )))
    }
}

fn epoch(t: Option<SystemTime>) -> Option<u64> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs())
}

#[derive(Serialize)]
struct MemberStatus {
    name: String,
    datacenter: String,
    serving: crate::policy::View,
    checked: bool,
    status: crate::health::Status,
    reason: Option<String>,
    last_checked: Option<u64>,
    last_change: Option<u64>,
    transitions: u64,
    #[serde(rename = "override")]
    override_: Option<OverrideStatus>,
}

#[derive(Serialize)]
struct OverrideStatus {
    action: Action,
    target: String,
    expires: Option<u64>,
}

/// For reads: the token rule when `--api-token-for-reads` asks for it.
fn may_read(state: &AppState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    if state.token_for_reads { authorized(state, headers) } else { Ok(()) }
}

/// `GET /fleet`: every instance of the fleet as it last told etcd (version, zone serials, geo
/// build, heartbeat), and what differs between them.
async fn fleet_view(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = may_read(&state, &headers) {
        return *r;
    }
    let Some(fleet) = &state.fleet else {
        return error(StatusCode::NOT_FOUND, "this instance is not part of a fleet (no [cluster] endpoints)");
    };
    let instances = fleet.instances();
    Json(serde_json::json!({
        "instance": fleet.name,
        "store_connected": fleet.connected(),
        "store_error": fleet.last_error(),
        "drift": crate::fleet::drift(&instances),
        "instances": instances,
    }))
    .into_response()
}

async fn status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = may_read(&state, &headers) {
        return *r;
    }
    Json(status_body(&state)).into_response()
}

#[derive(Deserialize, Default)]
struct MapQuery {
    pool: Option<String>,
    /// Data centers simulated as failed, comma-separated.
    down: Option<String>,
    /// The status page's reload interval in seconds.
    refresh: Option<u32>,
}

/// The live map of `q.pool` (the first pool when none) with `q.down` simulated as failed.
fn live_map(state: &AppState, q: &MapQuery) -> Result<(String, String), String> {
    let published = state.shared.snapshot.load_full();
    let down: Vec<String> = q
        .down
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(String::from)
        .collect();
    let source = format!(
        "live: this server's health, overrides and dials at {}",
        page::utc(SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    );
    let request = crate::map::Request { pool: q.pool.as_deref(), down: &down, source: &source };
    let svg = crate::map::render(&published, &request)?;
    let pool =
        q.pool.clone().or_else(|| published.config.gslb.pools.first().map(|p| p.name.clone())).unwrap_or_default();
    Ok((svg, pool))
}

/// `GET /map.svg?pool=&down=`: the catchment map, live.
async fn map_svg(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<MapQuery>) -> Response {
    if let Err(r) = may_read(&state, &headers) {
        return *r;
    }
    match live_map(&state, &q) {
        Ok((svg, _)) => {
            ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], svg).into_response()
        }
        Err(e) => error(StatusCode::NOT_FOUND, e),
    }
}

/// `GET /` (and `/ui`): the status page.
async fn page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<MapQuery>) -> Response {
    if let Err(r) = may_read(&state, &headers) {
        return *r;
    }
    let status = status_body(&state);
    let map = live_map(&state, &q).ok();
    let refresh = q.refresh.unwrap_or(page::DEFAULT_REFRESH).clamp(1, 3600);
    let now = SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let html = page::render(
        &status,
        map.as_ref().map(|(svg, _)| svg.as_str()),
        map.as_ref().map_or("", |(_, p)| p),
        refresh,
        now,
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], html).into_response()
}

/// What `/status` answers (and the status page shows).
/// A signed zone's keys for `/status` (role, state, CDS, next step); nothing for others.
fn dnssec_status(keys: &[crate::dnssec::KeyReport], origin: &crate::zone::Name) -> Option<serde_json::Value> {
    let origin = origin.to_string();
    let mine: Vec<&crate::dnssec::KeyReport> = keys.iter().filter(|k| k.zone == origin).collect();
    (!mine.is_empty()).then(|| serde_json::json!({ "keys": mine }))
}

fn status_body(state: &AppState) -> serde_json::Value {
    let published = state.shared.snapshot.load_full();
    let (config, snapshot_health) = (published.config.clone(), &published.health);
    let now = SystemTime::now();
    let (members, figures, spills) = {
        let t = crate::sync::lock(&state.health);
        (t.report_all(now), t.figures(now), t.spills())
    };
    let availability: Vec<serde_json::Value> =
        figures.iter().map(|(kind, name, f)| serde_json::json!({ "kind": kind, "name": name, "figures": f })).collect();
    let pools: Vec<serde_json::Value> = config
        .gslb
        .pools
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            // Dials set at run time on a data center for this pool only.
            let dial_overrides: std::collections::BTreeMap<&str, u8> = config
                .gslb
                .datacenters
                .iter()
                .enumerate()
                .filter_map(|(i, d)| crate::policy::Health::pool_dial(snapshot_health, pi, i).map(|x| (d.name.as_str(), x)))
                .collect();
            let ms: Vec<MemberStatus> = members
                .iter()
                .filter(|m| m.pool == p.name)
                .map(|m| MemberStatus {
                    name: m.member.clone(),
                    datacenter: m.datacenter.clone(),
                    serving: m.view,
                    checked: m.checked,
                    status: m.state.status,
                    reason: m.state.last.as_ref().map(|(_, r)| r.clone()),
                    last_checked: epoch(m.state.last_checked),
                    last_change: epoch(m.state.last_change),
                    transitions: m.state.transitions,
                    override_: m.override_.as_ref().map(|o| OverrideStatus {
                        action: o.action,
                        target: o.target.to_string(),
                        expires: epoch(o.expires),
                    }),
                })
                .collect();
            serde_json::json!({
                "name": p.name,
                "names": p.owners.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "ttl": p.ttl,
                "degraded_ttl": p.degraded_ttl,
                "datacenters_per_answer": p.datacenters_per_answer,
                "dials": p.dials.iter().map(|&(d, pct)| (config.gslb.datacenters[d].name.clone(), pct)).collect::<std::collections::BTreeMap<_, _>>(),
                "dial_overrides": dial_overrides,
                "members": ms,
            })
        })
        .collect();
    let datacenters: Vec<serde_json::Value> = config
        .gslb
        .datacenters
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let up = members.iter().filter(|m| m.datacenter == d.name && m.view == crate::policy::View::Up).count();
            let total = members.iter().filter(|m| m.datacenter == d.name).count();
            // The traffic dial in force: an operator's (run time) over the configuration's.
            let (dial, dial_from) = match crate::policy::Health::dial(snapshot_health, i) {
                Some(p) => (p, "override"),
                None => (d.dial, "config"),
            };
            serde_json::json!({
                "name": d.name,
                "lat": d.point.lat,
                "lon": d.point.lon,
                "members_serving": up,
                "members": total,
                "dial": dial,
                "dial_from": dial_from,
                "bias": d.bias,
                "spillover": d.spillover.map(|c| {
                    let now = spills.get(&d.name).copied().unwrap_or_default();
                    serde_json::json!({
                        "above": c.above,
                        "below": c.below,
                        "floor": c.floor,
                        "step": c.step,
                        "load": now.load,
                        "dial": now.dial,
                    })
                }),
            })
        })
        .collect();
    let secondaries = state.shared.secondaries.status();
    let keys = config.keyring.report(u64::from(crate::cookie::now()));
    let zones: Vec<serde_json::Value> = config
        .zone_status
        .iter()
        .map(|z| {
            let key = z.origin.key();
            let secondary = secondaries.iter().find(|(n, _)| *n == z.origin.to_string()).map(|(_, s)| s);
            let transfer = config.gslb.transfers.get(&key).map(|t| {
                // Names a pool answers go to secondaries as the pool's default data center.
                let gslb_names: Vec<String> = config
                    .gslb
                    .pools
                    .iter()
                    .flat_map(|p| &p.owners)
                    .filter(|o| o.is_subdomain_of(&z.origin))
                    .map(ToString::to_string)
                    .collect();
                serde_json::json!({
                    "allow": t.allow.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "keys": t.keys.iter().map(|k| k.name.to_string()).collect::<Vec<_>>(),
                    "notify": t.notify.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "gslb_names": gslb_names,
                })
            });
            serde_json::json!({
                "zone": z.origin.to_string(),
                "role": if config.gslb.secondaries.contains_key(&key) { "secondary" } else { "primary" },
                "state": z.state,
                "serial": z.loaded.as_ref().map(|l| l.serial()),
                "file": z.file.display().to_string(),
                "errors": z.errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "secondary": secondary,
                "transfer": transfer,
                // Signed zones: each key's role, state and next timing event.
                "dnssec": dnssec_status(&keys, &z.origin),
            })
        })
        .collect();
    serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "zones": zones,
        "pools": pools,
        "datacenters": datacenters,
        "geo": {
            "file": config.geo.path().display().to_string(),
            "type": config.geo.database_type(),
            "build_epoch": config.geo.build_epoch(),
        },
        "reload": state.reloader.status(),
        "listeners": state.shared.listeners.get().map(|l| {
            l.iter().map(|(t, a)| serde_json::json!({ "transport": t.name(), "address": a.to_string() })).collect::<Vec<_>>()
        }),
        "tls": state.shared.tls.as_ref().map(|c| {
            let now = c.current();
            let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
            serde_json::json!({
                "certificate": c.certificate.display().to_string(),
                "key": c.key.display().to_string(),
                "subject": now.subject,
                "names": now.names,
                "not_before": crate::server::tls::format_time(now.not_before),
                "not_after": crate::server::tls::format_time(now.not_after),
                "expires_in_days": (now.not_after - unix).div_euclid(86_400),
                "loaded": now.loaded,
            })
        }),
        "availability": availability,
        "fleet": state.fleet.as_ref().map(|f| serde_json::json!({
            "instance": f.name,
            "role": f.role,
            "peers": peer_views(state),
            "store_connected": f.connected(),
            "store_error": f.last_error(),
            "store_disconnects": f.disconnects.load(std::sync::atomic::Ordering::Relaxed),
        })),
    })
}

/// The other instances' views of each member, as `/status` shows them: instance -> pool/member
/// -> "up" or "down".
fn peer_views(state: &AppState) -> serde_json::Value {
    let table = crate::sync::lock(&state.health);
    let mut out = serde_json::Map::new();
    for (instance, view) in table.peers() {
        let members: serde_json::Map<String, serde_json::Value> = view
            .iter()
            .map(|((pool, member), up)| (format!("{pool}/{member}"), (if *up { "up" } else { "down" }).into()))
            .collect();
        out.insert(instance.clone(), members.into());
    }
    out.into()
}

async fn metrics_text(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = may_read(&state, &headers) {
        return *r;
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics::render(&state)).into_response()
}

#[derive(Deserialize)]
struct ExplainQuery {
    name: String,
    #[serde(rename = "type")]
    qtype: Option<String>,
    client: Option<std::net::IpAddr>,
    subnet: Option<ipnet::IpNet>,
    down: Option<String>,
}

async fn explain_handler(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ExplainQuery>) -> Response {
    if let Err(r) = may_read(&state, &headers) {
        return *r;
    }
    let qtype_text = q.qtype.unwrap_or_else(|| "A".into());
    let Some(qtype) = crate::dns::type_from_text(&qtype_text) else {
        return error(StatusCode::BAD_REQUEST, format!("'{qtype_text}' is not a record type"));
    };
    let Some(asker) = Asker::new(q.client, q.subnet) else {
        return error(StatusCode::BAD_REQUEST, "give client=IP or subnet=CIDR (or both: a resolver sending ECS)");
    };
    let down: Vec<String> =
        q.down.map(|d| d.split(',').map(str::to_string).filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    // The very snapshot queries are answered from: this configuration and its live health.
    let snapshot = state.shared.snapshot.load_full();
    let health = match &state.fleet {
        Some(_) => "live: the fleet's views of the members and its overrides",
        None => "live: this server's checks and overrides",
    };
    let result = explain(&snapshot, &q.name, qtype, asker, &down, health);
    match result {
        Ok(mut e) => {
            if let (Some(fleet), Some(pool)) = (&state.fleet, &e.pool) {
                e.views = crate::sync::lock(&state.health).votes(pool, &fleet.name, std::time::SystemTime::now());
            }
            Json(e).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn reload(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&state, &headers) {
        return *r;
    }
    let status = state.reloader.reload().await;
    let code = if status.ok { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    (code, Json(status)).into_response()
}

async fn list_overrides(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = may_read(&state, &headers) {
        return *r;
    }
    let list = crate::sync::lock(&state.health).overrides().overrides.clone();
    Json(serde_json::json!({ "overrides": list })).into_response()
}

/// An override request's body. Unknown keys are refused: a misspelt `"tll"` must not turn a
/// drain for ten minutes into a drain for ever.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    action: String,
    /// Seconds until the override ends; none for no end.
    ttl: Option<u64>,
    /// For `"action": "dial"`: the percent of its client networks the data center keeps.
    percent: Option<u64>,
}

/// An override body as axum read it.
type Body = Result<Json<OverrideBody>, axum::extract::rejection::JsonRejection>;

fn apply(state: &AppState, headers: &HeaderMap, target: Target, body: Body) -> Response {
    if let Err(r) = authorized(state, headers) {
        return *r;
    }
    let body = match body {
        Ok(Json(body)) => body,
        Err(axum::extract::rejection::JsonRejection::JsonDataError(e)) => {
            return error(StatusCode::BAD_REQUEST, format!("{} (keys: action, ttl, percent)", e.body_text()));
        }
        Err(_) => {
            return error(StatusCode::BAD_REQUEST, "send a JSON body like {\"action\": \"drain\", \"ttl\": 600}");
        }
    };
    let action: Action = match (body.action.as_str(), body.percent, &target) {
        ("dial", Some(p @ 0..=100), Target::Datacenter { .. } | Target::PoolDatacenter { .. }) => Action::Dial(p as u8),
        ("dial", Some(p), _) if p > 100 => {
            return error(StatusCode::BAD_REQUEST, format!("percent {p} is not between 0 and 100"));
        }
        ("dial", None, _) => return error(StatusCode::BAD_REQUEST, "a dial needs \"percent\": 0 to 100"),
        ("dial", _, _) => {
            return error(StatusCode::BAD_REQUEST, "a traffic dial applies to a data center, not to a member");
        }
        (_, Some(_), _) => return error(StatusCode::BAD_REQUEST, "\"percent\" goes with \"action\": \"dial\" only"),
        (other, None, _) => match other.parse() {
            Ok(a) => a,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("{e}, or dial with a percent")),
        },
    };
    if let Err(e) = target_exists(state, &target) {
        return error(StatusCode::NOT_FOUND, e);
    }
    let ttl = body.ttl.map(Duration::from_secs);
    if let Some(fleet) = &state.fleet {
        // The fleet's store first: an override in force here alone would split the fleet.
        let now = SystemTime::now();
        let over = Override {
            target: target.clone(),
            action,
            expires: ttl.map(|t| now + t),
            created: now,
            set_by: Some(fleet.name.clone()),
        };
        if let Err(e) = tokio::runtime::Handle::current().block_on(fleet.put_override(&over)) {
            return error(StatusCode::SERVICE_UNAVAILABLE, format!("the override was not set: the fleet store: {e}"));
        }
        let mut table = crate::sync::lock(&state.health);
        table.install_override(over, now);
        return Json(serde_json::json!({ "overrides": table.overrides().overrides })).into_response();
    }
    let mut table = crate::sync::lock(&state.health);
    let saved = table.set_override(target.clone(), action, ttl, SystemTime::now());
    let overrides = serde_json::json!({ "overrides": table.overrides().overrides });
    drop(table);
    match saved {
        Ok(()) => Json(overrides).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("the override is in force but was not saved: {e}")),
    }
}

fn clear(state: &AppState, headers: &HeaderMap, target: Target) -> Response {
    if let Err(r) = authorized(state, headers) {
        return *r;
    }
    if let Some(fleet) = &state.fleet {
        let deleted = match tokio::runtime::Handle::current().block_on(fleet.delete_override(&target)) {
            Ok(d) => d,
            Err(e) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the override was not cleared: the fleet store: {e}"),
                );
            }
        };
        let mut table = crate::sync::lock(&state.health);
        table.remove_override(&target, SystemTime::now());
        if !deleted {
            return error(StatusCode::NOT_FOUND, format!("no override for {target}"));
        }
        return Json(serde_json::json!({ "overrides": table.overrides().overrides })).into_response();
    }
    let mut table = crate::sync::lock(&state.health);
    match table.clear_override(&target, SystemTime::now()) {
        Ok(true) => Json(serde_json::json!({ "overrides": table.overrides().overrides })).into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, format!("no override for {target}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("cleared but not saved: {e}")),
    }
}

fn target_exists(state: &AppState, target: &Target) -> Result<(), String> {
    let config = state.shared.snapshot.load_full().config.clone();
    match target {
        Target::Member { pool, member } => {
            let p = config.gslb.pools.iter().find(|p| &p.name == pool).ok_or_else(|| format!("no pool '{pool}'"))?;
            p.members
                .iter()
                .find(|m| &m.name == member)
                .map(|_| ())
                .ok_or_else(|| format!("pool '{pool}' has no member '{member}'"))
        }
        Target::Datacenter { datacenter } => {
            config.gslb.datacenter(datacenter).map(|_| ()).ok_or_else(|| format!("no data center '{datacenter}'"))
        }
        Target::PoolDatacenter { pool, datacenter } => {
            let p = config.gslb.pools.iter().find(|p| &p.name == pool).ok_or_else(|| format!("no pool '{pool}'"))?;
            let dc = config.gslb.datacenter(datacenter).ok_or_else(|| format!("no data center '{datacenter}'"))?;
            p.members
                .iter()
                .any(|m| m.dc == dc)
                .then_some(())
                .ok_or_else(|| format!("pool '{pool}' has no member in data center '{datacenter}'"))
        }
    }
}

/// Runs `f` on the blocking pool: overrides take the health table's lock and write the state
/// file, which must never hold up the threads that serve the API and the checks.
async fn blocking(f: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "the request failed (see the log)"))
}

async fn set_member(
    State(state): State<AppState>,
    Path((pool, member)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    blocking(move || apply(&state, &headers, Target::Member { pool, member }, body)).await
}

async fn clear_member(
    State(state): State<AppState>,
    Path((pool, member)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    blocking(move || clear(&state, &headers, Target::Member { pool, member })).await
}

async fn set_dc(State(state): State<AppState>, Path(dc): Path<String>, headers: HeaderMap, body: Body) -> Response {
    blocking(move || apply(&state, &headers, Target::Datacenter { datacenter: dc }, body)).await
}

async fn clear_dc(State(state): State<AppState>, Path(dc): Path<String>, headers: HeaderMap) -> Response {
    blocking(move || clear(&state, &headers, Target::Datacenter { datacenter: dc })).await
}

async fn set_pool_dc(
    State(state): State<AppState>,
    Path((pool, datacenter)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    blocking(move || apply(&state, &headers, Target::PoolDatacenter { pool, datacenter }, body)).await
}

async fn clear_pool_dc(
    State(state): State<AppState>,
    Path((pool, datacenter)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    blocking(move || clear(&state, &headers, Target::PoolDatacenter { pool, datacenter })).await
}

/// Renders `/fleet` JSON as the table `meridian status --fleet` prints: each instance with its
/// version, configuration hash (its first 12 digits), geo build, heartbeat age and zone
/// serials, then what differs between them.
pub fn fleet_table(fleet: &serde_json::Value) -> String {
    use std::fmt::Write;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut out = String::new();
    let connected = if fleet["store_connected"] == true { "connected" } else { "NOT connected" };
    let _ = writeln!(out, "fleet store: {connected} (asked {})", fleet["instance"].as_str().unwrap_or("?"));
    let _ = writeln!(
        out,
        "{:<20} {:<22} {:<12} {:<12} {:>9}  zones",
        "instance", "version", "config", "geo build", "heartbeat"
    );
    for i in fleet["instances"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let zones: Vec<String> =
            i["zones"].as_object().map(|z| z.iter().map(|(o, s)| format!("{o}={s}")).collect()).unwrap_or_default();
        let age = now.saturating_sub(i["heartbeat"].as_u64().unwrap_or(0));
        let mut name = i["name"].as_str().unwrap_or("?").to_string();
        if i["role"] == "checker" {
            name.push_str(" (checker)");
        }
        let _ = writeln!(
            out,
            "{:<20} {:<22} {:<12} {:<12} {:>8}s  {}",
            name,
            format!("{} ({})", i["version"].as_str().unwrap_or("?"), i["revision"].as_str().unwrap_or("?")),
            i["config"].as_str().unwrap_or("?").get(..12).unwrap_or("?"),
            i["geo_build"].as_u64().unwrap_or(0),
            age,
            zones.join(" ")
        );
    }
    let drift: Vec<&str> =
        fleet["drift"].as_array().map(|d| d.iter().filter_map(|x| x.as_str()).collect()).unwrap_or_default();
    if drift.is_empty() {
        let _ = writeln!(out, "no drift: every instance runs the same version, configuration, zones and geo data");
    } else {
        let _ = writeln!(out, "DRIFT: the instances differ in {}", drift.join(", "));
    }
    out
}

/// Renders `/status` JSON as the table `meridian status` prints: every member, data center and
/// pool with what queries see, the check status and the availability figures.
pub fn status_table(status: &serde_json::Value) -> String {
    use std::fmt::Write;
    let pct = |v: &serde_json::Value| v.as_f64().map_or("-".to_string(), |a| format!("{:.3}%", a * 100.0));
    let dur = |v: &serde_json::Value| {
        v.as_f64().map_or("-".to_string(), |s| match s {
            s if s < 120.0 => format!("{s:.0}s"),
            s if s < 7200.0 => format!("{:.0}m", s / 60.0),
            s => format!("{:.1}h", s / 3600.0),
        })
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:<9} {:<8} {:>9} {:>9} {:>9} {:>7} {:>7} {:>5}",
        "NAME", "SERVING", "CHECK", "AVAIL 1h", "AVAIL 24h", "AVAIL 7d", "MTBF", "MTTR", "FAILS"
    );
    let figures = status["availability"].as_array().cloned().unwrap_or_default();
    let find = |kind: &str, name: &str| {
        figures.iter().find(|f| f["kind"] == kind && f["name"] == name).map(|f| f["figures"].clone())
    };
    let row = |out: &mut String, label: String, serving: &str, check: &str, f: Option<serde_json::Value>| {
        let f = f.unwrap_or(serde_json::Value::Null);
        let a = |i: usize| pct(&f["availability"][i][1]);
        let _ = writeln!(
            out,
            "{:<28} {:<9} {:<8} {:>9} {:>9} {:>9} {:>7} {:>7} {:>5}",
            label,
            serving,
            check,
            a(0),
            a(1),
            a(2),
            dur(&f["mtbf_seconds"]),
            dur(&f["mttr_seconds"]),
            f["failures"].as_u64().map_or("-".to_string(), |n| n.to_string())
        );
    };
    for pool in status["pools"].as_array().cloned().unwrap_or_default() {
        let pname = pool["name"].as_str().unwrap_or("");
        let members = pool["members"].as_array().cloned().unwrap_or_default();
        let serving = members.iter().filter(|m| m["serving"] == "up").count();
        row(&mut out, format!("pool {pname}"), &format!("{serving}/{}", members.len()), "", find("pool", pname));
        for m in &members {
            let mname = m["name"].as_str().unwrap_or("");
            let mut serving = m["serving"].as_str().unwrap_or("").to_string();
            if let Some(o) = m["override"]["action"].as_str().filter(|o| *o != "drain") {
                serving = format!("{serving} ({o})");
            }
            let check = if m["checked"] == true { m["status"].as_str().unwrap_or("") } else { "none" };
            row(
                &mut out,
                format!("  {mname} ({})", m["datacenter"].as_str().unwrap_or("")),
                &serving,
                check,
                find("member", &format!("{pname}/{mname}")),
            );
            // In a fleet, what the other instances' checks see (the CHECK column is this
            // instance's own; SERVING is the quorum's verdict).
            let peers = status["fleet"]["peers"].as_object().cloned().unwrap_or_default();
            let seen: Vec<String> = peers
                .iter()
                .filter_map(|(who, view)| Some(format!("{who} {}", view[format!("{pname}/{mname}")].as_str()?)))
                .collect();
            if !seen.is_empty() {
                let _ = writeln!(out, "    other instances: {}", seen.join(", "));
            }
        }
    }
    for dc in status["datacenters"].as_array().cloned().unwrap_or_default() {
        let name = dc["name"].as_str().unwrap_or("");
        row(
            &mut out,
            format!("datacenter {name}"),
            &format!("{}/{}", dc["members_serving"], dc["members"]),
            "",
            find("datacenter", name),
        );
    }
    if status["reload"]["ok"] == false {
        let _ = writeln!(out, "\nlast reload REFUSED:");
        for e in status["reload"]["errors"].as_array().cloned().unwrap_or_default() {
            let _ = writeln!(out, "  {}", e.as_str().unwrap_or(""));
        }
    }
    out
}
