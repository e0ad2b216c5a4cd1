//! Meridian: an authoritative DNS server that answers GSLB names with the nearest healthy data
//! center.
//!
//! Data flows through the modules in this order:
//! - [`zone`]: RFC 1035 master files -> an immutable [`zone::ZoneSet`] with lookup by name.
//! - [`config`]: the `zones/` directory -> a validated, immutable [`config::Config`].
//! - [`server`]: DNS over UDP and TCP; the synchronous, transport-free query path
//!   ([`server::answer`]) and the loops that only move bytes.

pub mod zone;
