//! Writing a response into the caller's buffer, with name compression and a size limit.
//!
//! Owner names and the names inside NS, CNAME, PTR, MX and SOA data are compressed (RFC 1035
//! §4.1.4; RFC 3597 §4 forbids compressing names in any later type). Every record is written
//! whole or not at all: [`Writer::record`] rolls back one that would pass the limit, so the
//! caller decides between truncating (answer, authority) and omitting (additional).

use crate::dns::rtype;

/// Most names remembered for compression. A response that fits 1232 octets rarely holds more
/// than a few dozen distinct names; later names are simply written in full.
const MAX_COMPRESSION_ENTRIES: usize = 64;

/// Offsets beyond this cannot be the target of a compression pointer (14 bits).
const MAX_POINTER: usize = 0x3fff;

/// Builds one response message.
pub struct Writer<'b> {
    buf: &'b mut Vec<u8>,
    limit: usize,
    entries: [u16; MAX_COMPRESSION_ENTRIES],
    n_entries: usize,
    /// Length of the question's name, written at offset 12 (0 before the question).
    qname_len: usize,
    /// Octets kept back with [`Writer::reserve`] and not yet given back.
    reserved: usize,
}

/// Returned when a record does not fit within the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

impl<'b> Writer<'b> {
    /// Starts a message in `buf` (cleared) that may grow to `limit` octets.
    pub fn new(buf: &'b mut Vec<u8>, limit: usize) -> Self {
        buf.clear();
        Writer { buf, limit, entries: [0; MAX_COMPRESSION_ENTRIES], n_entries: 0, qname_len: 0, reserved: 0 }
    }

    /// Writes the header; counts start at zero and are raised by the section writers.
    pub fn header(&mut self, id: u16, flags: u16) {
        self.buf.extend_from_slice(&id.to_be_bytes());
        self.buf.extend_from_slice(&flags.to_be_bytes());
        self.buf.extend_from_slice(&[0; 8]);
    }

    /// Replaces the flags word.
    pub fn set_flags(&mut self, flags: u16) {
        self.buf[2..4].copy_from_slice(&flags.to_be_bytes());
    }

    /// The flags word written so far.
    pub fn flags(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }

    fn bump(&mut self, count_at: usize) {
        let n = u16::from_be_bytes([self.buf[count_at], self.buf[count_at + 1]]) + 1;
        self.buf[count_at..count_at + 2].copy_from_slice(&n.to_be_bytes());
    }

    /// Writes the question exactly as asked (RFC 1035 §4.1.2; the case is kept so that
    /// resolvers using 0x20 randomisation match it).
    pub fn question(&mut self, qname: &[u8], qtype: u16, qclass: u16) {
        if self.buf.len() == 12 && self.n_entries == 0 {
            // The first name of a message: nothing to compress against, so copy it whole and
            // remember where its labels start (what `name` would do, label by label).
            let mut i = 0;
            while i < qname.len() && qname[i] != 0 && self.n_entries < MAX_COMPRESSION_ENTRIES {
                self.entries[self.n_entries] = (12 + i) as u16;
                self.n_entries += 1;
                i += 1 + usize::from(qname[i]);
            }
            self.buf.extend_from_slice(qname);
            self.qname_len = qname.len();
        } else {
            self.name(qname, true);
        }
        self.buf.extend_from_slice(&qtype.to_be_bytes());
        self.buf.extend_from_slice(&qclass.to_be_bytes());
        self.bump(4);
    }

    /// Octets written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Octets that may still be written within the limit.
    pub fn room(&self) -> usize {
        self.limit.saturating_sub(self.buf.len())
    }

    /// True before the header is written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Lowers the limit by `octets` (space kept back for the OPT record).
    pub fn reserve(&mut self, octets: usize) {
        self.limit = self.limit.saturating_sub(octets);
        self.reserved += octets;
    }

    /// Gives back all the space kept with [`Writer::reserve`].
    pub fn release(&mut self) {
        self.limit += self.reserved;
        self.reserved = 0;
    }

    /// Writes one record in `section` (0 answer, 1 authority, 2 additional), or nothing when
    /// it does not fit.
    pub fn record(
        &mut self,
        section: usize,
        owner: &[u8],
        rtype: u16,
        class: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), Full> {
        let mark = self.buf.len();
        let mark_entries = self.n_entries;
        self.name(owner, true);
        self.buf.extend_from_slice(&rtype.to_be_bytes());
        self.buf.extend_from_slice(&class.to_be_bytes());
        self.buf.extend_from_slice(&ttl.to_be_bytes());
        let len_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        match rtype {
            rtype::NS | rtype::CNAME | rtype::PTR => self.name(rdata, true),
            rtype::MX => {
                self.buf.extend_from_slice(&rdata[..2]);
                self.name(&rdata[2..], true);
            }
            rtype::SOA => {
                let first = name_len(rdata);
                let second = name_len(&rdata[first..]);
                self.name(&rdata[..first], true);
                self.name(&rdata[first..first + second], true);
                self.buf.extend_from_slice(&rdata[first + second..]);
            }
            _ => self.buf.extend_from_slice(rdata),
        }
        let rdlen = self.buf.len() - len_at - 2;
        if self.buf.len() > self.limit || rdlen > usize::from(u16::MAX) {
            self.buf.truncate(mark);
            self.n_entries = mark_entries;
            return Err(Full);
        }
        self.buf[len_at..len_at + 2].copy_from_slice(&(rdlen as u16).to_be_bytes());
        self.bump(6 + 2 * section);
        Ok(())
    }

    /// Appends records written earlier by another writer after the same question (same name
    /// length and labels, any case: compression pointers in them point into the question,
    /// which is at the same place): `counts` are their answer, authority and additional counts.
    /// Returns `Err(Full)`, writing nothing, when they would pass the limit.
    pub fn prepared(&mut self, counts: [u16; 3], body: &[u8]) -> Result<(), Full> {
        if self.buf.len() + body.len() > self.limit {
            return Err(Full);
        }
        self.buf.extend_from_slice(body);
        for (i, c) in counts.iter().enumerate() {
            self.buf[6 + 2 * i..8 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
        Ok(())
    }

    /// Appends one answer record already in wire form (its names compressed against this
    /// message), or nothing when it would pass the limit.
    pub fn answer_record(&mut self, rr: &[u8]) -> Result<(), Full> {
        self.raw_record(6, rr)
    }

    /// Appends one additional record already in wire form, or nothing when it would pass the
    /// limit.
    pub fn additional_record(&mut self, rr: &[u8]) -> Result<(), Full> {
        self.raw_record(10, rr)
    }

    fn raw_record(&mut self, count_at: usize, rr: &[u8]) -> Result<(), Full> {
        if self.buf.len() + rr.len() > self.limit {
            return Err(Full);
        }
        self.buf.extend_from_slice(rr);
        self.bump(count_at);
        Ok(())
    }

    /// Drops every record, keeping header and question; counts of records go to zero.
    pub fn truncate_to(&mut self, len: usize) {
        self.buf.truncate(len);
        self.buf[6..12].fill(0);
        self.n_entries = self.entries[..self.n_entries].iter().take_while(|&&e| usize::from(e) < len).count();
    }

    /// Writes `wire` (an uncompressed name), pointing at an earlier copy of its longest
    /// known suffix when `compress` is set.
    fn name(&mut self, wire: &[u8], compress: bool) {
        // The usual owner name is the question's: a pointer to offset 12, as the search below
        // would find first (the question's first label is the first entry).
        if compress
            && self.qname_len > 1
            && wire.len() == self.qname_len
            && wire.eq_ignore_ascii_case(&self.buf[12..12 + self.qname_len])
        {
            self.buf.extend_from_slice(&[0xc0, 12]);
            return;
        }
        // The label starts of this name become compression targets only once the whole name
        // is written: a target inside a name still being written would point at bytes that
        // are not there yet (found by the wire fuzzer with a name of repeated labels).
        let mut starts = [0u16; 128];
        let mut n = 0;
        let mut i = 0;
        let mut ended_with_pointer = false;
        while i < wire.len() && wire[i] != 0 {
            if compress && let Some(target) = self.find(&wire[i..]) {
                self.buf.extend_from_slice(&(0xc000 | target).to_be_bytes());
                ended_with_pointer = true;
                break;
            }
            let here = self.buf.len();
            if here <= MAX_POINTER && n < starts.len() {
                starts[n] = here as u16;
                n += 1;
            }
            let len = usize::from(wire[i]);
            self.buf.extend_from_slice(&wire[i..i + 1 + len]);
            i += 1 + len;
        }
        if !ended_with_pointer {
            self.buf.push(0);
        }
        for &s in &starts[..n] {
            if self.n_entries < MAX_COMPRESSION_ENTRIES {
                self.entries[self.n_entries] = s;
                self.n_entries += 1;
            }
        }
    }

    /// An earlier offset whose name equals `suffix`, case-insensitively.
    fn find(&self, suffix: &[u8]) -> Option<u16> {
        self.entries[..self.n_entries].iter().copied().find(|&e| self.equals_at(usize::from(e), suffix))
    }

    fn equals_at(&self, mut at: usize, suffix: &[u8]) -> bool {
        let msg = &self.buf[..];
        let mut i = 0;
        // Each step consumes a label of `suffix`, so the walk ends within 128 steps; every
        // read is bounds-checked, so even a bad entry cannot make it panic.
        loop {
            let Some(&(mut len)) = msg.get(at) else {
                return false;
            };
            let mut hops = 0;
            while len >= 0xc0 {
                let (Some(&hi), Some(&lo)) = (msg.get(at), msg.get(at + 1)) else {
                    return false;
                };
                at = usize::from(u16::from_be_bytes([hi, lo]) & 0x3fff);
                hops += 1;
                let Some(&next) = msg.get(at).filter(|_| hops < 128) else {
                    return false;
                };
                len = next;
            }
            if suffix.get(i) != Some(&len) {
                return false;
            }
            if len == 0 {
                return true;
            }
            let l = usize::from(len);
            let (Some(ours), Some(theirs)) = (msg.get(at + 1..at + 1 + l), suffix.get(i + 1..i + 1 + l)) else {
                return false;
            };
            if !ours.eq_ignore_ascii_case(theirs) {
                return false;
            }
            at += 1 + l;
            i += 1 + l;
        }
    }
}

/// Length of the uncompressed name at the start of `wire`.
fn name_len(wire: &[u8]) -> usize {
    let mut i = 0;
    while wire[i] != 0 {
        i += 1 + usize::from(wire[i]);
    }
    i + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_owner_names_against_the_question() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, 512);
        w.header(1, 0x8400);
        w.question(b"\x03WwW\x07example\x03com\x00", 1, 1);
        w.record(0, b"\x03www\x07example\x03com\x00", 1, 1, 300, &[192, 0, 2, 1]).unwrap();
        w.record(0, b"\x04mail\x07example\x03com\x00", 5, 1, 300, b"\x03www\x07example\x03com\x00").unwrap();
        let q = 12 + 17 + 4;
        assert_eq!(&buf[q..q + 2], &[0xc0, 12]); // owner -> the question
        assert_eq!(u16::from_be_bytes([buf[6], buf[7]]), 2);
        // The CNAME's owner "mail" + pointer to "example.com", its data a pointer to "www".
        let second = q + 2 + 10 + 4;
        assert_eq!(&buf[second..second + 7], b"\x04mail\xc0\x10");
        assert_eq!(&buf[buf.len() - 2..], &[0xc0, 12]);
    }

    #[test]
    fn rolls_back_a_record_that_does_not_fit() {
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, 40);
        w.header(1, 0x8400);
        w.question(b"\x01a\x00", 16, 1);
        let before = w.len();
        assert_eq!(w.record(0, b"\x01a\x00", 16, 1, 1, &[5; 30]), Err(Full));
        assert_eq!(w.len(), before);
        assert_eq!(u16::from_be_bytes([buf[6], buf[7]]), 0);
    }

    #[test]
    fn names_with_repeated_labels_compress_only_against_finished_names() {
        // Regression (wire fuzzer): a question of repeated labels made the compressor follow
        // a target inside the name still being written.
        let mut buf = Vec::new();
        let mut w = Writer::new(&mut buf, 512);
        w.header(1, 0x8400);
        w.question(b"\x01a\x01a\x01a\x04test\x00", 1, 1);
        w.record(0, b"\x01a\x01a\x01a\x04test\x00", 1, 1, 60, &[192, 0, 2, 1]).unwrap();
        w.record(0, b"\x01a\x04test\x00", 1, 1, 60, &[192, 0, 2, 2]).unwrap();
        let q = 12 + 12 + 4;
        assert_eq!(&buf[12..q - 4], b"\x01a\x01a\x01a\x04test\x00");
        assert_eq!(&buf[q..q + 2], &[0xc0, 12]);
        // "a.test." is the suffix starting at the third label of the question (offset 16).
        let second = q + 2 + 10 + 4;
        assert_eq!(&buf[second..second + 2], &[0xc0, 16]);
    }
}
