//! How an answer is made, step by step: `meridian explain` and the API's `/explain`.
//!
//! An explanation is the server's own answer, told: [`account`] takes a [`Request`] like any
//! query and runs the general path's checks, resolution and GSLB completion
//! ([`super::answer::resolve`], [`super::gslb::complete`]) with the policy's trace switched on,
//! then turns what they returned into text or JSON. The server answers the same request with
//! the same records, TTL, data center and scope (tests/explain_agrees.rs). `--down` (and
//! `down=`) simulate failed data centers on top of the health view the request carries.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::answer::{precheck, resolve};
use super::gslb::Completed;
use super::wire::{ClientSubnet, Edns, Query};
use super::{MAX_UDP_PAYLOAD, Request, Transport};
use crate::config::Config;
use crate::config::gslb::{Fallback, NetworkTarget};
use crate::dns::{self, class, edns, rcode};
use crate::geo::Precision;
use crate::health::Snapshot;
use crate::policy::{Client, Family, Health, Located, OrderReason, Skip, Step, View};
use crate::zone::{Name, rdata};

/// Who is asking: the resolver's address, a client subnet (EDNS Client Subnet), or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asker {
    /// The address the query comes from (a pool without ECS, or a query without it, locates
    /// the client by this).
    pub resolver: IpAddr,
    /// The Client Subnet option the query carries, if any.
    pub subnet: Option<IpNet>,
}

impl Asker {
    /// From a resolver address, a subnet or both; with a subnet only, the query comes from
    /// the subnet's own address. `None` when neither is given.
    pub fn new(resolver: Option<IpAddr>, subnet: Option<IpNet>) -> Option<Asker> {
        Some(Asker { resolver: resolver.or(subnet.map(|n| n.addr()))?, subnet })
    }
}

/// The explanation of one answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Explanation {
    /// The question name.
    pub name: String,
    /// The question type.
    pub qtype: String,
    /// Who asked.
    pub asker: String,
    /// Which health view the answer was made with.
    pub health: String,
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
    /// Distances as a bias made them (km), in the order that results, when a data center of
    /// the pool has a bias.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub biased: Vec<(String, f64)>,
    /// The data center answered from.
    pub datacenter: Option<String>,
    /// Further data centers whose members follow (`datacenters_per_answer`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// What else decided the answer (a traffic dial that could not be honoured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The fallback that applied, if any.
    pub fallback: Option<String>,
    /// The answer records, as text.
    pub records: Vec<String>,
    /// The authority records, as text.
    pub authority: Vec<String>,
    /// The ECS scope prefix the answer carries.
    pub scope: u8,
    /// Why the scope differs from the prefix of the network that located the client, when it
    /// does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_reason: Option<String>,
    /// In a fleet, how each member of the pool gets its state: every instance's view and the
    /// quorum's verdict, or the override in force (filled by the live API).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<String>,
}

/// Explains the answer to `name`/`qtype` asked by `asker`, from `snapshot` with the data
/// centers `down` simulated as failed; `health` says where the snapshot's health view comes
/// from (shown as is). Errors name what is wrong with the question.
pub fn explain(
    snapshot: &Snapshot,
    name: &str,
    qtype: u16,
    asker: Asker,
    down: &[String],
    health: &str,
) -> Result<Explanation, String> {
    let config = &snapshot.config;
    let qname = Name::parse(name, Some(&Name::root())).map_err(|e| format!("'{name}' is not a valid name: {e}"))?;
    let mut down_ids = Vec::new();
    for d in down {
        down_ids.push(config.gslb.datacenter(d).ok_or_else(|| {
            let known: Vec<&str> = config.gslb.datacenters.iter().map(|d| d.name.as_str()).collect();
            format!("unknown data center '{d}' (defined: {})", known.join(", "))
        })?);
    }
    let what_if;
    let snapshot = if down_ids.is_empty() {
        snapshot
    } else {
        let pools = &config.gslb.pools;
        let mut simulated = Snapshot::new(
            Arc::clone(config),
            |p, m| if down_ids.contains(&pools[p].members[m].dc) { View::Down } else { snapshot.health.view(p, m) },
            |p, m| snapshot.health.rtt(p, m),
        );
        simulated.health = simulated.health.with_steering_of(&snapshot.health);
        what_if = simulated;
        &what_if
    };
    let ecs = asker.subnet.map(|net| {
        let net = net.trunc();
        let mut address = [0u8; 16];
        let family = match net.addr() {
            IpAddr::V4(a) => {
                address[..4].copy_from_slice(&a.octets());
                edns::FAMILY_IPV4
            }
            IpAddr::V6(a) => {
                address = a.octets();
                edns::FAMILY_IPV6
            }
        };
        ClientSubnet { family, source_prefix: net.prefix_len(), address }
    });
    let query = Query {
        id: 0,
        flags: 0,
        qname: qname.wire(),
        qtype,
        qclass: class::IN,
        edns: ecs.map(|ecs| Edns {
            udp_size: MAX_UDP_PAYLOAD,
            version: 0,
            dnssec_ok: false,
            compact_ok: false,
            ecs: Some(ecs),
            nsid: false,
            cookie: None,
            padding: false,
        }),
        ixfr_serial: None,
        signed: None,
    };
    let request = Request {
        snapshot,
        parsed: Ok(query),
        peer: SocketAddr::new(asker.resolver, 0),
        transport: Transport::Udp,
        now: 0,
    };
    let mut out = account(&request, &down_ids, health).ok_or("the question cannot be explained")?;
    let mut asked = format!("resolver {}", asker.resolver);
    if let Some(net) = asker.subnet {
        asked.push_str(&format!(" with client subnet {} (ECS)", net.trunc()));
    } else {
        asked.push_str(" (no ECS)");
    }
    out.asker = asked;
    Ok(out)
}

/// The account of how `request` is answered; `None` when its packet is not a query. `down`
/// lists data centers simulated as failed (they are shown as such; the request's snapshot
/// must already have them down).
pub fn account(request: &Request<'_>, down: &[usize], health: &str) -> Option<Explanation> {
    let query = request.query()?;
    let config = request.config();
    let name = Name::from_wire(query.qname);
    let mut out = Explanation {
        name: name.as_ref().map_or_else(|| "(unreadable)".into(), ToString::to_string),
        qtype: dns::type_to_text(query.qtype),
        asker: format!("{}", request.peer.ip()),
        health: if down.is_empty() {
            health.to_string()
        } else {
            let names: Vec<&str> = down.iter().map(|&d| config.gslb.datacenters[d].name.as_str()).collect();
            format!("{health}; simulated down: {}", names.join(", "))
        },
        rcode: String::new(),
        pool: None,
        location: None,
        order_reason: None,
        order: Vec::new(),
        skipped: Vec::new(),
        biased: Vec::new(),
        datacenter: None,
        also: Vec::new(),
        notes: Vec::new(),
        fallback: None,
        records: Vec::new(),
        authority: Vec::new(),
        scope: 0,
        scope_reason: None,
        views: Vec::new(),
    };
    let Some(qname) = name.filter(|_| precheck(query).is_none()) else {
        out.rcode = dns::rcode_to_text(precheck(query).unwrap_or(rcode::FORMERR));
        return Some(out);
    };
    let mut trace = Vec::new();
    let (res, gslb) = resolve(request, query, &qname, Some(&mut trace));
    let line = |rr: &crate::zone::Rr<'_>| {
        format!("{} {} {} {}", rr.owner, rr.ttl, dns::type_to_text(rr.rtype), rdata::to_text(rr.rtype, &rr.rdata))
    };
    out.records = res.answer.iter().map(line).collect();
    out.authority = res.authority.iter().map(line).collect();
    out.rcode = dns::rcode_to_text(super::answer::rcode_of(res.rcode));
    if let Some(done) = &gslb {
        describe_gslb(config, request.health(), done, &trace, &mut out);
    }
    Some(out)
}

/// Fills in the GSLB part of an explanation from the completed answer and its trace.
fn describe_gslb(config: &Config, health: &impl Health, done: &Completed<'_>, trace: &[Step], out: &mut Explanation) {
    let pool = &config.gslb.pools[done.pool];
    out.pool = Some(pool.name.clone());
    out.location = done.located.as_ref().map(|located| describe_location(located, &done.client));
    out.scope = done.scope;
    let located = done.located.as_ref().map_or(done.scope, |l| l.prefix());
    out.scope_reason = match done.scope {
        _ if !done.client.from_ecs => None,
        s if s == located => None,
        s if s == done.decision.client_prefix => {
            Some("the client's own network: a traffic dial or sticky hashed it".to_string())
        }
        s if s < located => Some(format!(
            "wider than the /{located} that located the client: every address of the /{s} gets the same data center order"
        )),
        s => Some(format!(
            "narrower than the /{located} that located the client: the /{s} around it is the widest network an operator network inside does not cut into"
        )),
    };
    let dc_name = |d: usize| config.gslb.datacenters[d].name.clone();
    for step in trace {
        match step {
            Step::Order(reason, order) => {
                out.order_reason = Some(match reason {
                    OrderReason::Network => "the operator network lists the data centers".to_string(),
                    OrderReason::Map(key) => format!("the region map entry maps.{key} pins them, then distance"),
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
                        format!("no member has an {} address", if done.family == Family::V6 { "IPv6" } else { "IPv4" }),
                    Skip::Down => "every member is down".to_string(),
                    Skip::Drained => "drained by an operator".to_string(),
                    Skip::TooFewHealthy { up, needed } => format!("only {up} member(s) up, min_healthy needs {needed}"),
                }
            )),
            Step::Biased(list) => out.biased = list.iter().map(|&(d, km)| (dc_name(d), km.round())).collect(),
            Step::Dialed(d, percent, spilled) => {
                let why = match (*spilled, health.load(*d), config.gslb.datacenters[*d].spillover) {
                    (false, _, _) => String::new(),
                    (true, Some(load), Some(c)) => format!(
                        " (capacity spillover: its members report a mean load of {load:.2}; it sheds above {:.2} and recovers below {:.2})",
                        c.above, c.below
                    ),
                    (true, _, _) => " (capacity spillover: its members report a load above the threshold)".to_string(),
                };
                out.skipped.push(format!(
                    "{}: traffic dial {percent}%{why}: this client's network is among the {}% sent on to the next",
                    dc_name(*d),
                    100 - percent
                ))
            }
            Step::DialedBack(d) => {
                out.datacenter = Some(dc_name(*d));
                out.notes.push(format!(
                    "every data center that can serve dialed this client away: {}, the first of them, answers anyway",
                    dc_name(*d)
                ));
            }
            Step::Chose(d) if out.datacenter.is_none() => out.datacenter = Some(dc_name(*d)),
            Step::Chose(d) => out.also.push(dc_name(*d)),
            Step::NoData => {}
            Step::Fallback(f) => out.fallback = Some(format!("{f:?}").to_lowercase()),
        }
    }
    if done.decision.fallback.is_some() {
        out.datacenter = done.decision.datacenter.map(dc_name);
    }
    // (An HTTPS or SVCB answer's members are in its hints, not in records of their own.)
    if done.decision.fallback == Some(Fallback::ServFail) || matches!(out.qtype.as_str(), "HTTPS" | "SVCB") {
        return;
    }
    if pool.is_alias() {
        // The pool's record is the CNAME to the chosen member's target.
        if let Some(&m) = done.decision.members.first()
            && let Some(target) = &pool.members[m].cname
            && let Some(line) = out.records.iter_mut().find(|r| r.ends_with(&format!(" CNAME {target}")))
        {
            line.push_str(&format!("    ; member {}", pool.members[m].name));
        }
        return;
    }
    // The pool's records are the last of the answer: say which member each one is.
    let members: Vec<usize> = done.records(config).map(|a| a.member).collect();
    let first = out.records.len().saturating_sub(members.len());
    for (record, m) in out.records[first..].iter_mut().zip(members) {
        record.push_str(&format!("    ; member {}", pool.members[m].name));
    }
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
        s.push_str(&format!("health: {}\n", self.health));
        if let Some(p) = &self.pool {
            s.push_str(&format!("pool: {p}\n"));
            if !self.views.is_empty() {
                s.push_str("fleet views (what each instance's checks see, and the verdict):\n");
                for v in &self.views {
                    s.push_str(&format!("  {v}\n"));
                }
            }
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
        if !self.biased.is_empty() {
            s.push_str("bias: distances as the data centers' biases make them\n");
            for (i, (dc, km)) in self.biased.iter().enumerate() {
                s.push_str(&format!("  {}. {dc} ({km:.0} km)\n", i + 1));
            }
        }
        for k in &self.skipped {
            s.push_str(&format!("skipped {k}\n"));
        }
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        if let Some(f) = &self.fallback {
            s.push_str(&format!("fallback: {f} (no data center could serve)\n"));
        }
        if let Some(d) = &self.datacenter {
            s.push_str(&format!("answered from: {d}\n"));
        }
        if !self.also.is_empty() {
            s.push_str(&format!("also from: {} (datacenters_per_answer)\n", self.also.join(", ")));
        }
        s.push_str(&format!("rcode: {}\n", self.rcode));
        for r in &self.records {
            s.push_str(&format!("answer: {r}\n"));
        }
        for r in &self.authority {
            s.push_str(&format!("authority: {r}\n"));
        }
        match &self.scope_reason {
            Some(why) => s.push_str(&format!("ecs scope: /{} ({why})\n", self.scope)),
            None => s.push_str(&format!("ecs scope: /{}\n", self.scope)),
        }
        s
    }
}
