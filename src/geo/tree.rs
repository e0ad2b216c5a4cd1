//! A faster walk of a MaxMind DB search tree.
//!
//! The tree is binary: one node per bit of the address, 24 steps for a typical IPv4 lookup and
//! 32-48 for IPv6, each a dependent read somewhere in the file. A [`TreeIndex`] does the first
//! 16 steps of every possible address once, when the database is opened, and keeps where each
//! walk stood (a node, or the record the walk ended on and at which depth) in a 64 Ki-entry
//! table, as routers do with the first level of a multibit trie; there is one for IPv4 (from
//! the IPv4 subtree) and one for IPv6 (from the root). A lookup then reads one table entry and
//! walks on from there. The result is the same as the `maxminddb` crate's walk (the tests
//! compare them over the shipped database); anything unusual (a tree without an IPv4 subtree,
//! a walk that does not end) is left to the crate.
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

/// The first 16 steps of every walk of one address family, and what is needed for the rest.
pub struct TreeIndex {
    first16: Box<[Step]>,
    node_count: usize,
    record_size: u16,
}

impl std::fmt::Debug for TreeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeIndex").field("node_count", &self.node_count).finish_non_exhaustive()
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

impl TreeIndex {
    /// Builds the index of the search tree at the start of `file` for IPv4 addresses, or
    /// `None` when the tree has no IPv4 part this walk can take (the crate's walk is used
    /// then).
    pub fn build(file: &[u8], node_count: usize, record_size: u16, ip_version: u16) -> Option<TreeIndex> {
        let tree = tree_of(file, node_count, record_size)?;
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
        TreeIndex::from(tree, node_count, record_size, start)
    }

    /// Builds the index of an IPv6 tree (`ip_version` 6) for IPv6 addresses: from the root.
    pub fn build_v6(file: &[u8], node_count: usize, record_size: u16, ip_version: u16) -> Option<TreeIndex> {
        let tree = tree_of(file, node_count, record_size)?;
        if ip_version != 6 {
            return None;
        }
        TreeIndex::from(tree, node_count, record_size, 0)
    }

    fn from(tree: &[u8], node_count: usize, record_size: u16, start: usize) -> Option<TreeIndex> {
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
        Some(TreeIndex { first16: first16.into_boxed_slice(), node_count, record_size })
    }

    /// Walks `addr` down `tree` (the same bytes the index was built from). `None` when the walk
    /// does not end within 32 bits, which a well-formed tree never does.
    pub fn walk(&self, tree: &[u8], addr: u32) -> Option<Walk> {
        self.walk_bits(tree, u128::from(addr) << 96, 32)
    }

    /// Walks an IPv6 address (with an index from [`TreeIndex::build_v6`]).
    pub fn walk_v6(&self, tree: &[u8], addr: u128) -> Option<Walk> {
        self.walk_bits(tree, addr, 128)
    }

    /// `addr` holds the address in its high `width` bits.
    #[inline(always)]
    fn walk_bits(&self, tree: &[u8], addr: u128, width: u8) -> Option<Walk> {
        let step = self.first16[(addr >> 112) as usize];
        let mut node = step.value as usize;
        let mut depth = step.depth;
        while node < self.node_count {
            if depth >= width {
                return None;
            }
            let bit = (addr >> (127 - depth)) & 1;
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

/// The search tree at the start of `file`, when the sizes are ones this walk reads.
fn tree_of(file: &[u8], node_count: usize, record_size: u16) -> Option<&[u8]> {
    if node_count >= u32::MAX as usize / 2 || !matches!(record_size, 24 | 28 | 32) {
        return None;
    }
    file.get(..node_count.checked_mul(usize::from(record_size) / 4)?)
}

/// Calls `f(first, len, walk)` for every network of the search tree of one address family, in
/// address order: `first` is the network's first address as a number of `width` bits (32 or
/// 128), `len` its prefix length. The networks cover the family's whole address space. For
/// IPv4 in an IPv6 tree the walk starts where [`TreeIndex::build`] starts (`::/96`); IPv6 in
/// an IPv4 tree is one network without data. False, with some networks already given, when
/// the tree cannot be walked (sizes this walk does not read, a record past the end) or has
/// more than `limit` networks (a tree whose subtrees are aliased many times over).
pub fn for_each_network(
    file: &[u8],
    node_count: usize,
    record_size: u16,
    ip_version: u16,
    v6: bool,
    limit: usize,
    mut f: impl FnMut(u128, u8, Walk),
) -> bool {
    let Some(tree) = tree_of(file, node_count, record_size) else {
        return false;
    };
    let width: u8 = if v6 { 128 } else { 32 };
    let end = |node: usize, depth: u8| {
        if node == node_count { Walk::NoData(depth) } else { Walk::Data(node.saturating_sub(node_count + 16), depth) }
    };
    if v6 && ip_version != 6 {
        f(0, 0, Walk::NoData(0));
        return true;
    }
    let mut start = 0;
    if !v6 && ip_version == 6 {
        for depth in 0..96u8 {
            if start >= node_count {
                // The walk to ::/96 ended: every IPv4 address ends there.
                f(0, 0, end(start, depth));
                return true;
            }
            let Some(next) = read(tree, record_size, start, 0) else {
                return false;
            };
            start = next;
        }
    }
    // Depth first, left before right: networks come out in address order.
    let mut stack: Vec<(usize, u8, u128)> = vec![(start, 0, 0)];
    let mut count = 0usize;
    while let Some((node, depth, first)) = stack.pop() {
        if node >= node_count {
            count += 1;
            if count > limit {
                return false;
            }
            f(first, depth, end(node, depth));
            continue;
        }
        if depth >= width {
            return false;
        }
        let (Some(left), Some(right)) = (read(tree, record_size, node, 0), read(tree, record_size, node, 1)) else {
            return false;
        };
        let bit = 1u128 << (width - 1 - depth);
        stack.push((right, depth + 1, first | bit));
        stack.push((left, depth + 1, first));
    }
    true
}
