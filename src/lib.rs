//! Meridian: an authoritative DNS server that answers GSLB names with the nearest healthy data
//! center.
//!
//! Data flows through the modules in this order:
//! - [`zone`]: RFC 1035 master files -> an immutable [`zone::ZoneSet`]; lookup by name.
//! - [`geo`]: client address -> location (MaxMind DB, coordinate tables, operator networks).
//! - [`config`]: the `zones/` directory (zone files and GSLB definitions) and the geo database
//!   -> a validated, immutable [`config::Config`].
//! - [`health`]: probes -> per-member state machines and overrides -> a health snapshot.
//! - [`policy`]: pure answer selection for GSLB names: order data centers, pick members.
//! - [`reload`]: hot reload (SIGHUP, API, file changes): build, validate, swap, or keep.
//! - [`api`]: HTTP status, Prometheus metrics, overrides, explain and reload.
//! - [`querylog`]: sampled queries as JSON lines, written off the query path.
//! - [`explain`]: the step-by-step account of an answer (`meridian explain`, `/explain`).
//! - [`daemon`]: a whole running server (listeners, health table, checks), as `main` starts it.
//! - [`server`]: the synchronous query path ([`server::answer`]: bytes in, bytes out) and the
//!   UDP and TCP loops that only move bytes.

pub mod api;
pub mod config;
pub mod daemon;
pub mod explain;
pub mod geo;
pub mod health;
pub mod policy;
pub mod querylog;
pub mod reload;
pub mod server;
pub mod zone;
