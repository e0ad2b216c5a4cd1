//! The control commands: `meridian reload`, `drain`, `undrain` and `overrides`, each one
//! request to a running server's API, so an operator needs neither curl nor a pidfile.
//!
//! The API is named by URL or by the ADDR:PORT form `serve --api` takes; mutating requests
//! carry the bearer token read from `--api-token-file`. Each command prints what the server
//! answered and returns the process exit code: 0 done, 1 refused or unreachable, 2 a mistake
//! in the command itself.

use std::time::Duration;

/// How long a control request may take: the server answers at once, or is not there.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where the API is and how to authenticate.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    token: Option<String>,
}

impl Api {
    /// The API at `api` (a URL or ADDR:PORT), with the token in `token_file` if given.
    pub fn new(api: &str, token_file: Option<&std::path::Path>) -> Result<Api, String> {
        let base = if api.contains("://") { api.to_string() } else { format!("http://{api}") };
        let token = match token_file {
            Some(path) => Some(crate::api::read_token(path).map_err(|e| e.to_string())?),
            None => None,
        };
        Ok(Api { base: base.trim_end_matches('/').to_string(), token })
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends one request; the status code and body, or why nothing came back.
    pub fn request(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> Result<(u16, String), String> {
        let url = self.url(path);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        runtime.block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder().timeout(TIMEOUT).build().map_err(|e| e.to_string())?;
            let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
            let mut req = client.request(method, &url);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(b.to_string());
            }
            let response =
                req.send().await.map_err(|e| format!("cannot reach {url}: {e} (is the server running with --api?)"))?;
            let status = response.status().as_u16();
            Ok((status, response.text().await.map_err(|e| e.to_string())?))
        })
    }
}

/// The error text of an API answer (`{"error": ...}`), or the body itself.
fn error_of(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string())
}

/// The API path of an override's target: `DC` or `POOL/MEMBER`, or `DC` with `--pool POOL`
/// (the data center in that pool only); `None` (having said why) for a member with a pool.
fn target_path(target: &str, pool: Option<&str>) -> Option<String> {
    match (target.split_once('/'), pool) {
        (Some((p, member)), None) => Some(format!("/overrides/member/{p}/{member}")),
        (None, None) => Some(format!("/overrides/datacenter/{target}")),
        (None, Some(pool)) => Some(format!("/overrides/pool/{pool}/datacenter/{target}")),
        (Some(_), Some(_)) => {
            eprintln!("meridian: --pool goes with a data center, not with a member ('{target}' names its pool)");
            None
        }
    }
}

/// How a target reads in what the commands print: `ams`, `www/ams-1`, `ams in pool www`.
fn target_text(target: &str, pool: Option<&str>) -> String {
    pool.map_or_else(|| target.to_string(), |p| format!("{target} in pool {p}"))
}

/// `meridian reload`: reload now and print the result.
pub fn reload(api: &Api) -> u8 {
    match api.request("POST", "/reload", None) {
        Ok((200, _)) => {
            println!("reloaded");
            0
        }
        Ok((422, body)) => {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            for e in v["errors"].as_array().into_iter().flatten() {
                eprintln!("error: {}", e.as_str().unwrap_or_default());
            }
            eprintln!("meridian: the reload left something at its previous version (see above)");
            1
        }
        Ok((code, body)) => {
            eprintln!("meridian: reload refused ({code}): {}", error_of(&body));
            1
        }
        Err(e) => {
            eprintln!("meridian: {e}");
            1
        }
    }
}

/// Sends a request that must answer 200: its body, or, having said why not, the exit code (2
/// when the server does not know the target, 1 otherwise).
fn expect_ok(api: &Api, method: &str, path: &str, body: Option<serde_json::Value>, what: &str) -> Result<String, u8> {
    match api.request(method, path, body) {
        Ok((200, body)) => Ok(body),
        Ok((code, body)) => {
            eprintln!("meridian: {what} refused ({code}): {}", error_of(&body));
            Err(if code == 404 { 2 } else { 1 })
        }
        Err(e) => {
            eprintln!("meridian: {e}");
            Err(1)
        }
    }
}

/// `meridian drain TARGET [--pool POOL] [--for DURATION]` (or `force-down`/`force-up` with
/// `action`).
pub fn drain(api: &Api, target: &str, pool: Option<&str>, action: &str, duration: Option<&str>) -> u8 {
    let ttl = match duration {
        None => None,
        Some(text) => match crate::zone::rdata::parse_ttl(text) {
            Some(secs) if secs > 0 => Some(secs),
            _ => {
                eprintln!("meridian: --for '{text}' is not a duration (like 600, 10m or 1h30m)");
                return 2;
            }
        },
    };
    let Some(path) = target_path(target, pool) else { return 2 };
    let what = target_text(target, pool);
    let body = serde_json::json!({ "action": action, "ttl": ttl });
    if let Err(code) = expect_ok(api, "POST", &path, Some(body), &format!("{action} {what}")) {
        return code;
    }
    let until = ttl.map_or_else(|| "until undone".to_string(), |s| format!("for {s} s"));
    println!("{action}: {what}, {until}");
    0
}

/// `meridian dial DC PERCENT [--pool POOL] [--for DURATION]`: sets a data center's traffic
/// dial at run time, in every pool or in one.
pub fn dial(api: &Api, datacenter: &str, pool: Option<&str>, percent: u8, duration: Option<&str>) -> u8 {
    let ttl = match duration {
        None => None,
        Some(text) => match crate::zone::rdata::parse_ttl(text) {
            Some(secs) if secs > 0 => Some(secs),
            _ => {
                eprintln!("meridian: --for '{text}' is not a duration (like 600, 10m or 1h30m)");
                return 2;
            }
        },
    };
    if datacenter.contains('/') {
        eprintln!("meridian: a traffic dial applies to a data center, not to a member ('{datacenter}')");
        return 2;
    }
    let Some(path) = target_path(datacenter, pool) else { return 2 };
    let where_ = target_text(datacenter, pool);
    let body = serde_json::json!({ "action": "dial", "percent": percent, "ttl": ttl });
    if let Err(code) = expect_ok(api, "POST", &path, Some(body), &format!("dial {where_} {percent}")) {
        return code;
    }
    let until = ttl.map_or_else(|| "until undone (meridian undrain)".to_string(), |s| format!("for {s} s"));
    println!("dial: {where_} keeps {percent}% of its client networks, {until}");
    0
}

/// `meridian undrain TARGET [--pool POOL]`: removes the override on the target.
pub fn undrain(api: &Api, target: &str, pool: Option<&str>) -> u8 {
    let Some(path) = target_path(target, pool) else { return 2 };
    let what = target_text(target, pool);
    if let Err(code) = expect_ok(api, "DELETE", &path, None, &format!("undrain {what}")) {
        return code;
    }
    println!("override removed: {what}");
    0
}

/// `meridian overrides`: the overrides in force, one per line.
pub fn overrides(api: &Api) -> u8 {
    let body = match expect_ok(api, "GET", "/overrides", None, "overrides") {
        Ok(body) => body,
        Err(code) => return code,
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let list = v["overrides"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no overrides");
    }
    for o in list {
        let t = &o["target"];
        let target = match (t["datacenter"].as_str(), t["pool"].as_str(), t["member"].as_str()) {
            (Some(dc), Some(pool), _) => format!("datacenter {dc} in pool {pool}"),
            (Some(dc), _, _) => format!("datacenter {dc}"),
            (_, Some(pool), Some(member)) => format!("member {pool}/{member}"),
            _ => t.to_string(),
        };
        let expires = o["expires"].as_u64().map_or_else(|| "no end".to_string(), |t| format!("until {t}"));
        let action = match (o["action"].as_str(), o["action"]["dial"].as_u64()) {
            (Some(a), _) => a.to_string(),
            (None, Some(p)) => format!("dial {p}%"),
            _ => o["action"].to_string(),
        };
        println!("{target}\t{action}\t{expires}");
    }
    0
}
