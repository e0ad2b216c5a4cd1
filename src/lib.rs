//! Meridian: an authoritative DNS server that answers GSLB names with the nearest healthy data
//! center.
//!
//! Data flows through the modules in this order:
//! - [`dns`]: DNS numbers and their mnemonics (types, classes, rcodes, flags, EDNS options),
//!   the ground floor every other module names them from.
//! - [`zone`]: RFC 1035 master files -> an immutable [`zone::ZoneSet`]; lookup by name.
//! - [`cookie`]: DNS Cookies: RFC 9018 server cookies made and checked under the secrets.
//! - [`geo`]: client address -> location (MaxMind DB, coordinate tables, operator networks).
//! - [`dnssec`]: zone keys (BIND's key files), RRSIGs made online and kept, compact denial's
//!   NSEC records.
//! - [`config`]: the `zones/` directory (zone files and GSLB definitions) and the geo database
//!   -> a validated, immutable [`config::Config`].
//! - [`health`]: probes -> per-member state machines and overrides -> a health snapshot.
//! - [`policy`]: pure answer selection for GSLB names: order data centers, pick members.
//! - [`query`]: the pure query path: query bytes -> answer bytes in the caller's buffer (wire
//!   reader, encoder, resolution glue, prepared answers, GSLB completion, explain). No I/O.
//! - [`reload`]: hot reload (SIGHUP, API, file changes): build, validate, swap, or keep.
//! - [`map`]: the catchment map: a world map (SVG) of who answers each country for a pool.
//! - [`api`]: HTTP status, the status page, the live map, Prometheus metrics, overrides,
//!   explain and reload.
//! - [`control`]: `meridian reload`, `drain`, `undrain`, `overrides`: requests to the API.
//! - [`querylog`]: sampled queries as JSON lines, written off the query path.
//! - [`logs`]: the server's own log (level checked, text or JSON, colours only on a terminal).
//! - [`privileges`]: `--user`: from root to an account, keeping only CAP_NET_BIND_SERVICE.
//! - [`notify`]: readiness, reloads and stops told to the service manager (sd_notify).
//! - [`settings`]: `meridian.toml` and the command line: one key per flag, flags win.
//! - [`fleet`]: instances sharing overrides through etcd (its JSON gateway).
//! - [`daemon`]: a whole running server (listeners, health table, checks), as `main` starts it.
//! - [`server`]: the transports: UDP (batched and tokio) and TCP loops that only move bytes,
//!   rate limiting and counters.
//! - [`sync`]: the one rule for poisoned locks.

pub mod api;
pub mod config;
pub mod control;
pub mod cookie;
pub mod daemon;
pub mod dns;
pub mod dnssec;
pub mod fleet;
pub mod geo;
pub mod health;
pub mod logs;
pub mod map;
pub mod notify;
pub mod policy;
pub mod privileges;
pub mod query;
pub mod querylog;
pub mod reload;
pub mod server;
pub mod settings;
pub mod sync;
pub mod transfer;
pub mod zone;
