//! Meridian: an authoritative DNS server that answers GSLB names with the nearest healthy data
//! center.
//!
//! Data flows through the modules in this order:
//! - [`zone`]: RFC 1035 master files -> an immutable [`zone::ZoneSet`]; lookup by name.
//! - [`config`]: the `zones/` directory -> a validated, immutable [`config::Config`].
//! - [`server`]: the synchronous query path ([`server::answer`]: bytes in, bytes out) and the
//!   UDP and TCP loops that only move bytes.

pub mod config;
pub mod server;
pub mod zone;
