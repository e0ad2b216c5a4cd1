//! How an answer is made, step by step: `meridian explain` and the API's `/explain`.
//!
//! It runs the same functions as the query path (`ZoneSet::resolve`, `policy::locate`,
//! `policy::choose`) with the policy's trace switched on, and turns the result into text or
//! JSON. `--down` simulates failed data centers on top of the health view.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use crate::config::Config;
use crate::config::gslb::NetworkTarget;
use crate::geo::Precision;
use crate::policy::{self, Client, Family, Health, Located, OrderReason, Skip, Step, View};
use crate::zone::rdata::{self, rtype};
use crate::zone::{Name, Rcode};

/// Who is asking: a resolver's address, or an EDNS Client Subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// A query from this address, without ECS.
    Client(IpAddr),
    /// A query carrying this client subnet.
    Subnet(IpNet),
}

/// The explanation of one answer.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The question name.
    pub name: String,
    /// The question type.
    pub qtype: String,
    /// Who asked.
    pub asker: String,
    /// The response code.
    pub rcode: String,
    /// The GSLB pool, when the name is one.
    pub pool: Option<String>,
    /// Where the client was found and by what.
    pub location: Option<String>,
    /// Why the data centers are in this order.
    pub order_reason: Option<String>,
    /// The data centers in order, with distances in km where known.
    pub order: Vec<(String, Option<f64>)>,
    /// Each data center passed over, and why.
    pub skipped: Vec<String>,
    /// The data center answered from.
    pub datacenter: Option<String>,
    /// The fallback that applied, if any.
    pub fallback: Option<String>,
    /// The answer records, as text.
    pub records: Vec<String>,
    /// The authority records, as text.
    pub authority: Vec<String>,
    /// The ECS scope prefix the answer carries.
    pub scope: u8,
}

/// A health view with some data centers forced down (what-if).
struct WhatIf<'a, H> {
    base: &'a H,
    down: &'a [usize],
    config: &'a Config,
}

impl<H: Health> Health for WhatIf<'_, H> {
    fn view(&self, pool: usize, member: usize) -> View {
        let dc = self.config.gslb.pools[pool].members[member].dc;
        if self.down.contains(&dc) { View::Down } else { self.base.view(pool, member) }
    }
}

/// Explains the answer to `name`/`qtype` for `asker`, with data centers `down` simulated
/// as failed. Errors name what is wrong with the question.
pub fn explain(
    config: &Config,
    health: &impl Health,
    name: &str,
    qtype: u16,
    asker: Asker,
    down: &[String],
) -> Result<Explanation, String> {
    let qname = Name::parse(name, Some(&Name::root())).map_err(|e| format!("'{name}' is not a valid name: {e}"))?;
    let mut down_ids = Vec::new();
    for d in down {
        down_ids.push(config.gslb.datacenter(d).ok_or_else(|| {
            let known: Vec<&str> = config.gslb.datacenters.iter().map(|d| d.name.as_str()).collect();
            format!("unknown data center '{d}' (defined: {})", known.join(", "))
        })?);
    }
    let health = WhatIf { base: health, down: &down_ids, config };
    let mut res = config.zones.resolve(&qname, qtype);
    let mut out = Explanation {
        name: qname.to_string(),
        qtype: rdata::type_to_text(qtype),
        asker: match asker {
            Asker::Client(ip) => format!("client {ip} (no ECS)"),
            Asker::Subnet(net) => format!("client subnet {net} (ECS)"),
        },
        rcode: String::new(),
        pool: None,
        location: None,
        order_reason: None,
        order: Vec::new(),
        skipped: Vec::new(),
        datacenter: None,
        fallback: None,
        records: Vec::new(),
        authority: Vec::new(),
        scope: 0,
    };
    if let Some(pool_ref) = res.pool.take() {
        let pool = &config.gslb.pools[pool_ref.pool];
        out.pool = Some(pool.name.clone());
        let client = match asker {
            Asker::Subnet(net) if pool.ecs && net.prefix_len() > 0 => {
                Client { addr: net.trunc().addr(), prefix: net.prefix_len(), from_ecs: true }
            }
            Asker::Subnet(net) => {
                Client { addr: net.addr(), prefix: if net.addr().is_ipv4() { 32 } else { 128 }, from_ecs: false }
            }
            Asker::Client(ip) => Client { addr: ip, prefix: if ip.is_ipv4() { 32 } else { 128 }, from_ecs: false },
        };
        let located = policy::locate(&config.gslb, &config.geo, &client);
        out.location = Some(describe_location(&located, &client));
        let family = if qtype == rtype::AAAA { Family::V6 } else { Family::V4 };
        let mut trace = Vec::new();
        let decision =
            policy::choose(&config.gslb, pool_ref.pool, family, &located, &client, &health, 0, Some(&mut trace));
        let dc_name = |d: usize| config.gslb.datacenters[d].name.clone();
        for step in &trace {
            match step {
                Step::Order(reason, order) => {
                    out.order_reason = Some(match reason {
                        OrderReason::Network => "the operator network lists the data centers".to_string(),
                        OrderReason::Map(key) => {
                            format!("the region map entry maps.{key} pins them, then distance")
                        }
                        OrderReason::Distance => "great-circle distance from the client".to_string(),
                        OrderReason::Default => "the pool's default_order (client not located)".to_string(),
                    });
                    out.order = order.iter().map(|&(d, km)| (dc_name(d), km.map(|k| k.round()))).collect();
                }
                Step::Skipped(d, why) => out.skipped.push(format!(
                    "{}: {}",
                    dc_name(*d),
                    match why {
                        Skip::NoAddress =>
                            format!("no member has an {} address", if family == Family::V6 { "IPv6" } else { "IPv4" }),
                        Skip::Down => "every member is down".to_string(),
                        Skip::Drained => "drained by an operator".to_string(),
                        Skip::TooFewHealthy { up, needed } =>
                            format!("only {up} member(s) up, min_healthy needs {needed}"),
                    }
                )),
                Step::Chose(d) => out.datacenter = Some(dc_name(*d)),
                Step::NoData => {}
                Step::Fallback(f) => out.fallback = Some(format!("{f:?}").to_lowercase()),
            }
        }
        if decision.fallback.is_some() {
            out.datacenter = decision.datacenter.map(dc_name);
        }
        out.scope = if client.from_ecs { located.prefix() } else { 0 };
        if decision.fallback == Some(crate::config::gslb::Fallback::ServFail) {
            res.rcode = Rcode::ServFail;
        } else if decision.members.is_empty() {
            res.authority.push(pool_ref.negative_soa);
        }
        for m in &decision.members {
            let member = &pool.members[*m];
            let addr = match family {
                Family::V4 => member.ipv4.map(|a| a.to_string()),
                Family::V6 => member.ipv6.map(|a| a.to_string()),
            };
            if let Some(a) = addr {
                out.records.push(format!(
                    "{} {} {} {a}    ; member {}",
                    pool_ref.owner,
                    decision.ttl,
                    if family == Family::V6 { "AAAA" } else { "A" },
                    member.name
                ));
            }
        }
    }
    out.rcode = format!("{:?}", res.rcode).to_uppercase();
    let line = |rr: &crate::zone::Rr<'_>| {
        format!("{} {} {} {}", rr.owner, rr.ttl, rdata::type_to_text(rr.rtype), rdata::to_text(rr.rtype, &rr.rdata))
    };
    let mut static_records: Vec<String> = res.answer.iter().map(line).collect();
    static_records.append(&mut out.records);
    out.records = static_records;
    out.authority = res.authority.iter().map(line).collect();
    Ok(out)
}

fn describe_location(located: &Located<'_>, client: &Client) -> String {
    let place = |l: &crate::geo::Location| {
        let mut parts = Vec::new();
        if let Some(c) = l.country {
            parts.push(format!("country {c}"));
        }
        if let Some(s) = l.subdivision {
            parts.push(format!("subdivision {s}"));
        }
        if let Some(c) = l.continent {
            parts.push(format!("continent {c}"));
        }
        let how = match l.precision {
            Precision::Record => "the record's coordinates",
            Precision::Country => "the country's coordinates",
            Precision::Continent => "the continent's coordinates",
        };
        format!("{} at {:.2}, {:.2} ({how})", parts.join(", "), l.point.lat, l.point.lon)
    };
    match located {
        Located::Network { network, prefix, location } => {
            let what = match &network.target {
                NetworkTarget::Datacenters(_) => "which lists data centers".to_string(),
                _ => location
                    .as_ref()
                    .map_or("which names an unknown region".to_string(), |l| format!("placing it in {}", place(l))),
            };
            format!("{} is in operator network {} (/{prefix}), {what}", client.addr, network.net)
        }
        Located::Geo { location, prefix, .. } => {
            format!("{} is in a geo database network of /{prefix}: {}", client.addr, place(location))
        }
        Located::Unknown { prefix } => format!(
            "{} is not located (private, loopback or not in the geo database; its database network is /{prefix})",
            client.addr
        ),
    }
}

impl Explanation {
    /// The explanation as text for a person.
    pub fn to_text(&self) -> String {
        let mut s = format!("question: {} {} from {}\n", self.name, self.qtype, self.asker);
        if let Some(p) = &self.pool {
            s.push_str(&format!("pool: {p}\n"));
        } else {
            s.push_str("static data: the name is not a GSLB pool\n");
        }
        if let Some(l) = &self.location {
            s.push_str(&format!("location: {l}\n"));
        }
        if let Some(r) = &self.order_reason {
            s.push_str(&format!("order: {r}\n"));
            for (i, (dc, km)) in self.order.iter().enumerate() {
                match km {
                    Some(km) => s.push_str(&format!("  {}. {dc} ({km:.0} km)\n", i + 1)),
                    None => s.push_str(&format!("  {}. {dc}\n", i + 1)),
                }
            }
        }
        for k in &self.skipped {
            s.push_str(&format!("skipped {k}\n"));
        }
        if let Some(f) = &self.fallback {
            s.push_str(&format!("fallback: {f} (no data center could serve)\n"));
        }
        if let Some(d) = &self.datacenter {
            s.push_str(&format!("answered from: {d}\n"));
        }
        s.push_str(&format!("rcode: {}\n", self.rcode));
        for r in &self.records {
            s.push_str(&format!("answer: {r}\n"));
        }
        for r in &self.authority {
            s.push_str(&format!("authority: {r}\n"));
        }
        s.push_str(&format!("ecs scope: /{}\n", self.scope));
        s
    }
}
