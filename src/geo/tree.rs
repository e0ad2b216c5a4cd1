//! A faster walk of a MaxMind DB search tree for IPv4 addresses.
//!
//! The tree is binary: one node per bit of the address, 24 to 32 steps for a typical IPv4
//! lookup, each a dependent read somewhere in the file. [`V4Index`] does the first 16 steps
//! of every possible address once, when the database is opened, and keeps where each walk
//! stood (a node, or the record the walk ended on and at which depth) in a 64 Ki-entry table,
//! as routers do with the first level of a multibit trie. A lookup then reads one table entry
//! and walks at most the last 16 bits. The result is the same as the `maxminddb` crate's walk
//! (the tests compare them over the whole address space of the shipped database); anything
//! unusual (a tree without an IPv4 subtree, a walk that does not end) is left to the crate.
//!
//! The tree format (MaxMind DB spec, "Search Tree Section"): `node_count` nodes of two records
//! of `record_size` bits (24, 28 or 32); a record below `node_count` is the next node, equal to
//! it means "no data", above it points into the data section, `record - node_count - 16`
//! octets after its start.

/// Where a walk of the first 16 bits of an address stood.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// A node (below `node_count`: the walk goes on from depth 16) or the record the walk
    /// ended on.
    value: u32,
    /// Bits walked: 16, or fewer when the walk ended early.
    depth: u8,
}

/// The end of a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// The address's network has no data; the prefix length of that network.
    NoData(u8),
    /// The address's network has the record at this data-section offset.
    Data(usize, u8),
}

/// The first 16 steps of every IPv4 walk, and what is needed for the rest.
pub struct V4Index {
    first16: Box<[Step]>,
    node_count: usize,
    record_size: u16,
}

impl std::fmt::Debug for V4Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4Index").field("node_count", &self.node_count).finish_non_exhaustive()
    }
}

/// Reads record `index` (0 left, 1 right) of `node`; `None` past the end of `tree`.
#[inline(always)]
fn read(tree: &[u8], record_size: u16, node: usize, index: usize) -> Option<usize> {
    let word = |o: usize| -> Option<usize> {
        let b: [u8; 4] = tree.get(o..o + 4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b) as usize)
    };
    match record_size {
        // Three octets a record: the left one is the high 24 bits of the node's first word,
        // the right one the low 24 bits of the word two octets on.
        24 => {
            let o = node * 6;
            Some(if index == 0 { word(o)? >> 8 } else { word(o + 2)? & 0x00ff_ffff })
        }
        // Seven octets a node: three of the left record, a shared octet (its high nibble the
        // left record's top bits, the low nibble the right's), three of the right record.
        28 => {
            let o = node * 7;
            Some(if index == 0 {
                let w = word(o)?;
                (w >> 8) | ((w & 0xf0) << 20)
            } else {
                word(o + 3)? & 0x0fff_ffff
            })
        }
        32 => word(node * 8 + index * 4),
        _ => None,
    }
}

impl V4Index {
    /// Builds the index of the search tree at the start of `file`, or `None` when the tree
    /// has no IPv4 part this walk can take (the crate's walk is used then).
    pub fn build(file: &[u8], node_count: usize, record_size: u16, ip_version: u16) -> Option<V4Index> {
        if node_count >= u32::MAX as usize / 2 || !matches!(record_size, 24 | 28 | 32) {
            return None;
        }
        let tree = file.get(..node_count.checked_mul(usize::from(record_size) / 4)?)?;
        // IPv4 addresses live under ::/96 of an IPv6 tree: 96 left turns from the root.
        let mut start = 0;
        if ip_version == 6 {
            for _ in 0..96 {
                if start >= node_count {
                    return None;
                }
                start = read(tree, record_size, start, 0)?;
            }
        }
        if start >= node_count {
            return None;
        }
        let mut first16 = Vec::with_capacity(1 << 16);
        for high in 0u32..1 << 16 {
            let mut node = start;
            let mut depth = 0u8;
            while depth < 16 && node < node_count {
                let bit = (high >> (15 - depth)) & 1;
                node = read(tree, record_size, node, bit as usize)?;
                depth += 1;
            }
            first16.push(Step { value: u32::try_from(node).ok()?, depth });
        }
        Some(V4Index { first16: first16.into_boxed_slice(), node_count, record_size })
    }

    /// Walks `addr` down `tree` (the same bytes the index was built from). `None` when the walk
    /// does not end within 32 bits, which a well-formed tree never does.
    pub fn walk(&self, tree: &[u8], addr: u32) -> Option<Walk> {
        let step = self.first16[(addr >> 16) as usize];
        let mut node = step.value as usize;
        let mut depth = step.depth;
        while node < self.node_count {
            if depth >= 32 {
                return None;
            }
            let bit = (addr >> (31 - depth)) & 1;
            node = read(tree, self.record_size, node, bit as usize)?;
            depth += 1;
        }
        if node == self.node_count {
            Some(Walk::NoData(depth))
        } else {
            Some(Walk::Data(node - self.node_count - 16, depth))
        }
    }
}
