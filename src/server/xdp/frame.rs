//! Ethernet, IPv4, IPv6 and UDP headers: reading a query's frame and turning it into the
//! reply's, in place. Pure functions over octets.
//!
//! The XDP program sends only UDP to a served address and port here, but it is not a trust
//! boundary: every length is read again and anything that does not add up is malformed (the
//! worker counts and drops it). Checksums are not verified (virtual interfaces deliver a
//! partial UDP checksum; Knot and NSD do not verify either) and are always computed on replies.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Ethernet header length (no VLAN tag: tagged frames are passed to the kernel).
pub const ETHERNET: usize = 14;
const IPV4: usize = 20;
const IPV6: usize = 40;
const UDP: usize = 8;
/// Hop limit of replies (Linux's default).
const TTL: u8 = 64;

/// Largest header before a reply's payload: Ethernet, IPv6, UDP.
pub const MAX_HEADERS: usize = ETHERNET + IPV6 + UDP;

/// A query read from a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The client: the source address and port.
    pub peer: SocketAddr,
    /// Where the DNS message is in the frame.
    pub payload: std::ops::Range<usize>,
    /// Length of the headers before it (Ethernet, IP, UDP).
    pub headers: usize,
}

/// Why a frame is not a UDP datagram we can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Shorter than its headers, or lengths that disagree.
    Length,
    /// Not IPv4 or IPv6 without options and extension headers carrying UDP (the program passes
    /// those; seeing one here means the program and this code disagree).
    Protocol,
    /// From a source no reply can go to: port 0, an unspecified, multicast or broadcast
    /// address.
    Source,
    /// To an address or port no reply can come from (the same kinds; the program sends only
    /// served addresses and ports, so this means the two disagree).
    Destination,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads the headers of `frame` (as received, `len` octets).
pub fn read(frame: &[u8]) -> Result<Query, Malformed> {
    if frame.len() < ETHERNET {
        return Err(Malformed::Length);
    }
    let (ip, udp_at, udp_len) = match be16(frame, 12) {
        0x0800 => {
            let h = frame.get(ETHERNET..ETHERNET + IPV4).ok_or(Malformed::Length)?;
            if h[0] != 0x45 || be16(h, 6) & 0x3fff != 0 || h[9] != 17 {
                return Err(Malformed::Protocol);
            }
            let total = usize::from(be16(h, 2));
            // Ethernet pads short frames: the IP length may be less than the frame's, never more.
            if total < IPV4 + UDP || ETHERNET + total > frame.len() {
                return Err(Malformed::Length);
            }
            let unusable = |a: Ipv4Addr| a.is_unspecified() || a.is_multicast() || a.is_broadcast();
            let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
            if unusable(src) {
                return Err(Malformed::Source);
            }
            if unusable(Ipv4Addr::new(h[16], h[17], h[18], h[19])) {
                return Err(Malformed::Destination);
            }
            (IpAddr::V4(src), ETHERNET + IPV4, total - IPV4)
        }
        0x86dd => {
            let h = frame.get(ETHERNET..ETHERNET + IPV6).ok_or(Malformed::Length)?;
            if h[0] >> 4 != 6 || h[6] != 17 {
                return Err(Malformed::Protocol);
            }
            let payload = usize::from(be16(h, 4));
            if payload < UDP || ETHERNET + IPV6 + payload > frame.len() {
                return Err(Malformed::Length);
            }
            let address = |at: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&h[at..at + 16]).unwrap_or_default());
            let unusable = |a: Ipv6Addr| a.is_unspecified() || a.is_multicast();
            let src = address(8);
            if unusable(src) {
                return Err(Malformed::Source);
            }
            if unusable(address(24)) {
                return Err(Malformed::Destination);
            }
            (IpAddr::V6(src), ETHERNET + IPV6, payload)
        }
        _ => return Err(Malformed::Protocol),
    };
    let udp = &frame[udp_at..udp_at + UDP];
    let len = usize::from(be16(udp, 4));
    if len < UDP || len > udp_len {
        return Err(Malformed::Length);
    }
    let port = be16(udp, 0);
    if port == 0 {
        return Err(Malformed::Source);
    }
    if be16(udp, 2) == 0 {
        return Err(Malformed::Destination);
    }
    let headers = udp_at + UDP;
    Ok(Query { peer: SocketAddr::new(ip, port), payload: headers..udp_at + len, headers })
}

/// Turns the query's headers at the start of `frame` into the reply's for a payload of
/// `payload_len` octets already written at `frame[headers..]`: addresses and ports swapped
/// (the reply goes back the way the query came, to the Ethernet address it came from),
/// lengths, hop limit, and the IPv4 and UDP checksums. Returns the frame's length.
pub fn reply(frame: &mut [u8], headers: usize, payload_len: usize) -> usize {
    let (dst, src) = frame.split_at_mut(6);
    dst.swap_with_slice(&mut src[..6]);
    let udp_len = UDP + payload_len;
    let udp_at = headers - UDP;
    let sum = match be16(frame, 12) {
        0x0800 => {
            let h = &mut frame[ETHERNET..ETHERNET + IPV4];
            let total = (IPV4 + udp_len) as u16;
            h[1] = 0; // DSCP and ECN
            h[2..4].copy_from_slice(&total.to_be_bytes());
            h[4..6].copy_from_slice(&[0, 0]); // identification: unused with Don't Fragment
            h[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
            h[8] = TTL;
            h[10..12].copy_from_slice(&[0, 0]);
            let (s, d) = h[12..20].split_at_mut(4);
            s.swap_with_slice(d);
            let check = !fold(add(0, h));
            h[10..12].copy_from_slice(&check.to_be_bytes());
            // The pseudo-header: addresses, protocol, UDP length.
            add(add(0, &h[12..20]), &[0, 17, (udp_len >> 8) as u8, udp_len as u8])
        }
        _ => {
            let h = &mut frame[ETHERNET..ETHERNET + IPV6];
            h[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
            h[7] = TTL;
            let (s, d) = h[8..40].split_at_mut(16);
            s.swap_with_slice(d);
            add(add(0, &h[8..40]), &[0, 0, (udp_len >> 8) as u8, udp_len as u8, 0, 0, 0, 17])
        }
    };
    let udp = &mut frame[udp_at..udp_at + UDP];
    let (s, d) = udp[..4].split_at_mut(2);
    s.swap_with_slice(d);
    udp[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    udp[6..8].copy_from_slice(&[0, 0]);
    let mut check = !fold(add(sum, &frame[udp_at..udp_at + udp_len]));
    if check == 0 {
        // RFC 768: a computed zero is sent as all ones (zero means "none", forbidden in IPv6).
        check = 0xffff;
    }
    frame[udp_at + 6..udp_at + 8].copy_from_slice(&check.to_be_bytes());
    headers + payload_len
}

/// Adds `data` as big-endian 16-bit words (an odd last octet padded with zero) to `sum`.
fn add(mut sum: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let v = u64::from_be_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        sum += (v >> 48) + ((v >> 32) & 0xffff) + ((v >> 16) & 0xffff) + (v & 0xffff);
    }
    let mut rest = words.remainder().chunks_exact(2);
    for w in &mut rest {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = rest.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// The ones' complement sum folded to 16 bits.
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
    const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

    /// A frame from B to A carrying `payload` over UDP, with correct checksums.
    fn frame(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&MAC_A);
        f.extend_from_slice(&MAC_B);
        let udp_len = (UDP + payload.len()) as u16;
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
                f.extend_from_slice(&(IPV4 as u16 + udp_len).to_be_bytes());
                f.extend_from_slice(&[0x12, 0x34, 0, 0, 63, 17, 0, 0]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
                f.extend_from_slice(&udp_len.to_be_bytes());
                f.extend_from_slice(&[17, 63]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
            }
            _ => unreachable!(),
        }
        f.extend_from_slice(&src.port().to_be_bytes());
        f.extend_from_slice(&dst.port().to_be_bytes());
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        checksum(&mut f);
        f
    }

    /// The Internet checksum's sum, the plain way (one 16-bit word at a time), independent of
    /// the code under test.
    fn sum(parts: &[&[u8]]) -> u16 {
        let data: Vec<u8> = parts.concat();
        let mut total: u32 = 0;
        for pair in data.chunks(2) {
            total += u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
            total = (total & 0xffff) + (total >> 16);
        }
        total as u16
    }

    /// The IP header and UDP pseudo-header of frame `f`, as (IP header range, pseudo-header).
    fn pseudo(f: &[u8]) -> (std::ops::Range<usize>, Vec<u8>) {
        let v4 = be16(f, 12) == 0x0800;
        let (ip_len, addrs) = if v4 { (IPV4, 12..20) } else { (IPV6, 8..40) };
        let udp_len = be16(f, ETHERNET + ip_len + 4);
        let mut p = f[ETHERNET + addrs.start..ETHERNET + addrs.end].to_vec();
        p.extend_from_slice(&[0, 17]);
        p.extend_from_slice(&udp_len.to_be_bytes());
        (ETHERNET..ETHERNET + ip_len, p)
    }

    /// Fills in the checksums of a frame the test built.
    fn checksum(f: &mut [u8]) {
        let (ip, p) = pseudo(f);
        if ip.len() == IPV4 {
            let c = !sum(&[&f[ip.clone()]]);
            f[ETHERNET + 10..ETHERNET + 12].copy_from_slice(&c.to_be_bytes());
        }
        let udp = ip.end..ip.end + usize::from(be16(f, ip.end + 4));
        let c = !sum(&[&p, &f[udp.clone()]]);
        f[udp.start + 6..udp.start + 8].copy_from_slice(&c.to_be_bytes());
    }

    /// Checks a frame's checksums the way a receiving kernel does: each sums to all ones.
    fn checksums_verify(f: &[u8]) -> bool {
        let (ip, p) = pseudo(f);
        if ip.len() == IPV4 && sum(&[&f[ip.clone()]]) != 0xffff {
            return false;
        }
        let udp = ip.end..ip.end + usize::from(be16(f, ip.end + 4));
        sum(&[&p, &f[udp]]) == 0xffff
    }

    #[test]
    fn a_query_is_read_and_its_reply_goes_back_with_valid_checksums() {
        let cases: [(SocketAddr, SocketAddr); 2] = [
            ("10.99.0.2:40000".parse().unwrap(), "10.99.0.1:53".parse().unwrap()),
            ("[fd99::2]:40001".parse().unwrap(), "[fd99::1]:53".parse().unwrap()),
        ];
        for (client, server) in cases {
            for payload_len in [12usize, 33, 512, 1232] {
                let query: Vec<u8> = (0..29u8).collect();
                let mut f = frame(client, server, &query);
                assert!(checksums_verify(&f), "the test's own frame");
                let q = read(&f).unwrap();
                assert_eq!(q.peer, client);
                assert_eq!(&f[q.payload.clone()], &query[..]);
                // Ethernet padding after the datagram is ignored.
                f.extend_from_slice(&[0; 7]);
                assert_eq!(read(&f).unwrap(), q);
                let answer: Vec<u8> = (0..payload_len).map(|i| (i * 7) as u8).collect();
                f.resize(q.headers + payload_len, 0);
                f[q.headers..].copy_from_slice(&answer);
                let len = reply(&mut f, q.headers, payload_len);
                assert_eq!(len, f.len());
                assert_eq!(&f[..6], &MAC_B, "back to the query's source");
                assert_eq!(&f[6..12], &MAC_A);
                assert!(checksums_verify(&f), "{client} {payload_len}");
                let back = read(&f).unwrap();
                assert_eq!(back.peer, server, "from the address the query was sent to");
                assert_eq!(&f[back.payload], &answer[..]);
                let ttl = if client.is_ipv4() { f[ETHERNET + 8] } else { f[ETHERNET + 7] };
                assert_eq!(ttl, TTL);
            }
        }
    }

    #[test]
    fn what_cannot_be_answered_is_malformed() {
        let (c, s): (SocketAddr, SocketAddr) = ("10.0.0.2:4000".parse().unwrap(), "10.0.0.1:53".parse().unwrap());
        let good = frame(c, s, b"abcdefghijklm");
        let cases: Vec<(Vec<u8>, Malformed)> = vec![
            (good[..10].to_vec(), Malformed::Length),
            (good[..30].to_vec(), Malformed::Length),
            (good[..good.len() - 1].to_vec(), Malformed::Length),
            (
                {
                    let mut f = good.clone();
                    f[14] = 0x46;
                    f
                },
                Malformed::Protocol,
            ),
            (
                {
                    let mut f = good.clone();
                    f[20] = 0x20;
                    f
                },
                Malformed::Protocol,
            ),
            (
                {
                    let mut f = good.clone();
                    f[23] = 6;
                    f
                },
                Malformed::Protocol,
            ),
            (
                {
                    let mut f = good.clone();
                    f[12] = 0x81;
                    f
                },
                Malformed::Protocol,
            ),
            (
                {
                    let mut f = good.clone();
                    f[38] = 0;
                    f[39] = 200;
                    f
                },
                Malformed::Length,
            ),
            (
                {
                    let mut f = good.clone();
                    f[38] = 0;
                    f[39] = 7;
                    f
                },
                Malformed::Length,
            ),
            (
                {
                    let mut f = good.clone();
                    f[34] = 0;
                    f[35] = 0;
                    f
                },
                Malformed::Source,
            ),
            (frame("224.0.0.1:4000".parse().unwrap(), s, b"x"), Malformed::Source),
            (frame("[ff02::1]:4000".parse().unwrap(), "[fd00::1]:53".parse().unwrap(), b"x"), Malformed::Source),
            (frame(c, "255.255.255.255:53".parse().unwrap(), b"x"), Malformed::Destination),
            (frame(c, "10.0.0.1:0".parse().unwrap(), b"x"), Malformed::Destination),
            (frame("[fd00::2]:4000".parse().unwrap(), "[ff02::fb]:53".parse().unwrap(), b"x"), Malformed::Destination),
        ];
        for (i, (f, why)) in cases.iter().enumerate() {
            assert_eq!(read(f), Err(*why), "case {i}");
        }
    }
}
