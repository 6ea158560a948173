//! The S+tree: keys, node headers, and the bounded walk from the root to the leaves.
//!
//! Every node starts with a 24-byte block head (`blk_level`, `blk_nr_item`,
//! `blk_free_space`, ...). An internal node (level ≥ 2) holds `n` keys (16 bytes each) then
//! `n + 1` disk children (`dc_block_number` u32, `dc_size` u16, reserved u16); child `i`
//! holds the keys in `[key[i-1], key[i])`. A leaf (level 1) holds `n` item headers (key,
//! entry count / free space, length, location, key format) with the item bodies packed at
//! the end of the block.
//!
//! What a hostile tree cannot do here: make a walk revisit a block on its path (the level
//! must drop by exactly one per step, and a child already on the path is refused), exceed
//! the superblock's height, hold a key outside the range its parent gives it, or put an
//! item header or body outside its block. A scan across leaves also requires keys to
//! strictly increase and visits a bounded number of leaves, so it ends even on a DAG.
use super::corrupt;
use super::superblock::{Superblock, MAX_LEVEL};
use crate::{FsError, Result};
use rsgrub_io::{le, BlockCache, DynReader, ReadAt};
use std::cmp::Ordering;

/// Block head size.
const BLKH: usize = 24;
/// Key size.
const KEY: usize = 16;
/// Disk-child size.
const DC: usize = 8;
/// Item header size.
pub(crate) const IH: usize = 24;
/// Most leaves one scan visits (a 16 TiB tree of 4 KiB leaves has 2^32; real scans touch a
/// few).
const MAX_SCAN_LEAVES: u64 = 1 << 22;

/// Item types, as ordered in keys (v2 type numbers; v1 uniquenesses map onto them).
pub(crate) mod ty {
    pub const STAT: u8 = 0;
    pub const INDIRECT: u8 = 1;
    pub const DIRECT: u8 = 2;
    pub const DIRENTRY: u8 = 3;
    /// Any v1 uniqueness not listed above (ordered after the real types).
    pub const UNKNOWN: u8 = 14;
    pub const ANY: u8 = 15;
}

/// A key in comparable form: `(dir_id, objectid, offset, type)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub dir_id: u32,
    pub objectid: u32,
    pub offset: u64,
    pub ty: u8,
}

impl Key {
    pub(crate) fn new(dir_id: u32, objectid: u32, offset: u64, ty: u8) -> Self {
        Key {
            dir_id,
            objectid,
            offset,
            ty,
        }
    }

    /// Same object (`dir_id`, `objectid`).
    pub(crate) fn same_object(&self, other: &Key) -> bool {
        self.dir_id == other.dir_id && self.objectid == other.objectid
    }

    fn v1_type(uniqueness: u32) -> u8 {
        match uniqueness {
            0 => ty::STAT,
            0xFFFF_FFFE => ty::INDIRECT,
            0xFFFF_FFFF => ty::DIRECT,
            500 => ty::DIRENTRY,
            555 => ty::ANY,
            _ => ty::UNKNOWN,
        }
    }

    /// Parse 16 bytes; `v2` says which offset format (`None`: guess as Linux's
    /// `le_key_version` does, for keys in internal nodes).
    pub(crate) fn parse(b: &[u8], v2: Option<bool>) -> Option<Key> {
        let dir_id = le::u32(b, 0)?;
        let objectid = le::u32(b, 4)?;
        let raw = le::u64(b, 8)?;
        let v2_type = (raw >> 60) as u8;
        let is_v2 = v2.unwrap_or(matches!(v2_type, ty::INDIRECT | ty::DIRECT | ty::DIRENTRY));
        let (offset, ty) = if is_v2 {
            (raw & ((1 << 60) - 1), v2_type)
        } else {
            let uniq = le::u32(b, 12)?;
            (u64::from(le::u32(b, 8)?), Key::v1_type(uniq))
        };
        Some(Key {
            dir_id,
            objectid,
            offset,
            ty,
        })
    }
}

/// An item header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemHead {
    pub key: Key,
    /// Entry count (directory items) or free space (3.5 indirect items).
    pub count: u16,
    pub len: usize,
    pub loc: usize,
    /// 3.6 key format (and v2 stat data).
    pub v2: bool,
}

/// One item of a leaf.
pub(crate) struct Item<'a> {
    pub head: ItemHead,
    pub body: &'a [u8],
}

/// Bounded block access.
pub(crate) struct Volume {
    cache: BlockCache<DynReader>,
    pub bs: u64,
    /// Blocks that are inside the filesystem and present on the volume.
    pub limit: u64,
    /// The superblock's block: no tree node or data block lives at or before it.
    pub first: u64,
}

impl Volume {
    pub(crate) fn new(dev: DynReader, sb: &Superblock) -> Self {
        let dev_blocks = dev.size() / sb.block_size;
        let bs = usize::try_from(sb.block_size).unwrap_or(4096);
        let capacity = (8usize << 20).checked_div(bs).unwrap_or(64).clamp(64, 1024);
        Volume {
            cache: BlockCache::new(dev, bs, capacity),
            bs: sb.block_size,
            limit: sb.block_count.min(dev_blocks),
            first: super::superblock::OFFSET / sb.block_size + 1,
        }
    }

    /// Fail unless block `b` may hold tree or file data.
    pub(crate) fn check_block(&self, b: u64, what: &str) -> Result<()> {
        if b < self.first || b >= self.limit {
            return Err(corrupt(format!(
                "{what} block {b} is outside {}..{}",
                self.first, self.limit
            )));
        }
        Ok(())
    }

    pub(crate) fn read_block(&self, b: u64, what: &str) -> Result<Vec<u8>> {
        self.check_block(b, what)?;
        let mut buf = vec![0u8; usize::try_from(self.bs).map_err(|_| corrupt("block size"))?];
        let off = b
            .checked_mul(self.bs)
            .ok_or_else(|| corrupt("block offset overflows"))?;
        self.cache.read_at(off, &mut buf)?;
        Ok(buf)
    }

    /// Bytes at a volume offset (file data; large reads bypass the cache).
    pub(crate) fn read_bytes(&self, off: u64, buf: &mut [u8]) -> Result<()> {
        let end = off
            .checked_add(buf.len() as u64)
            .ok_or_else(|| corrupt("read offset overflows"))?;
        if end > self.limit.saturating_mul(self.bs) {
            return Err(corrupt(format!(
                "read of bytes {off}..{end} is past the end"
            )));
        }
        self.cache.read_at(off, buf)?;
        Ok(())
    }
}

fn level_and_count(block: &[u8]) -> Result<(u16, usize)> {
    let level = le::u16(block, 0).ok_or_else(|| corrupt("node truncated"))?;
    let nr = le::u16(block, 2).ok_or_else(|| corrupt("node truncated"))?;
    Ok((level, usize::from(nr)))
}

/// An internal node on the current path.
struct Frame {
    block: u64,
    data: Vec<u8>,
    nr: usize,
    /// Child taken.
    pos: usize,
    /// Key range of this node.
    lo: Option<Key>,
    hi: Option<Key>,
}

impl Frame {
    fn key(&self, i: usize) -> Result<Key> {
        self.data
            .get(BLKH + i * KEY..BLKH + (i + 1) * KEY)
            .and_then(|b| Key::parse(b, None))
            .ok_or_else(|| corrupt(format!("internal node {} key {i} truncated", self.block)))
    }

    fn child(&self, i: usize) -> Result<u64> {
        let off = BLKH + self.nr * KEY + i * DC;
        le::u32(&self.data, off)
            .map(u64::from)
            .ok_or_else(|| corrupt(format!("internal node {} child {i} truncated", self.block)))
    }

    /// Key range of child `i`.
    fn child_range(&self, i: usize) -> Result<(Option<Key>, Option<Key>)> {
        let lo = if i == 0 {
            self.lo
        } else {
            Some(self.key(i - 1)?)
        };
        let hi = if i == self.nr {
            self.hi
        } else {
            Some(self.key(i)?)
        };
        Ok((lo, hi))
    }
}

/// A validated leaf.
pub(crate) struct Leaf {
    pub block: u64,
    data: Vec<u8>,
    pub heads: Vec<ItemHead>,
}

impl Leaf {
    pub(crate) fn item(&self, i: usize) -> Option<Item<'_>> {
        let head = *self.heads.get(i)?;
        let body = self.data.get(head.loc..head.loc + head.len)?;
        Some(Item { head, body })
    }
}

fn in_range(k: &Key, lo: Option<Key>, hi: Option<Key>) -> bool {
    lo.is_none_or(|l| *k >= l) && hi.is_none_or(|h| *k < h)
}

/// Check an internal node read from `block` at `level`, within `[lo, hi)`.
fn internal(
    block: u64,
    data: Vec<u8>,
    level: u16,
    lo: Option<Key>,
    hi: Option<Key>,
) -> Result<Frame> {
    let (got, nr) = level_and_count(&data)?;
    if got != level {
        return Err(corrupt(format!(
            "node {block} has level {got}, expected {level}"
        )));
    }
    let need = BLKH + nr * KEY + (nr + 1) * DC;
    if need > data.len() {
        return Err(corrupt(format!(
            "internal node {block} claims {nr} keys, more than a block holds"
        )));
    }
    let f = Frame {
        block,
        data,
        nr,
        pos: 0,
        lo,
        hi,
    };
    let mut prev: Option<Key> = None;
    for i in 0..nr {
        let k = f.key(i)?;
        if !in_range(&k, lo, hi) || prev.is_some_and(|p| k <= p) {
            return Err(corrupt(format!(
                "internal node {block}: key {i} is out of order or outside its parent's range"
            )));
        }
        prev = Some(k);
    }
    Ok(f)
}

/// Check a leaf read from `block`, within `[lo, hi)`.
fn leaf(block: u64, data: Vec<u8>, lo: Option<Key>, hi: Option<Key>) -> Result<Leaf> {
    let (level, nr) = level_and_count(&data)?;
    if level != 1 {
        return Err(corrupt(format!(
            "node {block} has level {level}, expected a leaf"
        )));
    }
    let heads_end = BLKH + nr * IH;
    if heads_end > data.len() {
        return Err(corrupt(format!(
            "leaf {block} claims {nr} items, more than a block holds"
        )));
    }
    let mut heads = Vec::with_capacity(nr);
    for i in 0..nr {
        let h = data
            .get(BLKH + i * IH..BLKH + (i + 1) * IH)
            .ok_or_else(|| corrupt("item header truncated"))?;
        let version = le::u16(h, 22).unwrap_or(0);
        let v2 = match version {
            0 => false,
            1 => true,
            v => return Err(corrupt(format!("leaf {block} item {i} has key format {v}"))),
        };
        let key = Key::parse(h, Some(v2)).ok_or_else(|| corrupt("item key truncated"))?;
        let len = usize::from(le::u16(h, 18).unwrap_or(0));
        let loc = usize::from(le::u16(h, 20).unwrap_or(0));
        if loc < heads_end || loc.saturating_add(len) > data.len() {
            return Err(corrupt(format!(
                "leaf {block} item {i}: body {loc}+{len} is outside {heads_end}..{}",
                data.len()
            )));
        }
        if !in_range(&key, lo, hi) || heads.last().is_some_and(|p: &ItemHead| key <= p.key) {
            return Err(corrupt(format!(
                "leaf {block} item {i}: key is out of order or outside its parent's range"
            )));
        }
        heads.push(ItemHead {
            key,
            count: le::u16(h, 16).unwrap_or(0),
            len,
            loc,
            v2,
        });
    }
    Ok(Leaf { block, data, heads })
}

/// What a scan callback wants next.
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// The tree of one filesystem.
pub(crate) struct Tree<'a> {
    pub vol: &'a Volume,
    pub sb: &'a Superblock,
}

impl Tree<'_> {
    fn read_node(&self, block: u64, path: &[Frame]) -> Result<Vec<u8>> {
        if path.iter().any(|f| f.block == block) {
            return Err(corrupt(format!(
                "tree node {block} points back at itself or an ancestor"
            )));
        }
        self.vol.read_block(block, "tree node")
    }

    /// Descend from the node at `block` (level `level`, range `[lo, hi)`) to a leaf, taking
    /// at each internal node the child whose range holds `target` (`None`: leftmost).
    fn descend(
        &self,
        path: &mut Vec<Frame>,
        mut block: u64,
        mut level: u16,
        mut lo: Option<Key>,
        mut hi: Option<Key>,
        target: Option<&Key>,
    ) -> Result<Leaf> {
        loop {
            let data = self.read_node(block, path)?;
            if level == 1 {
                return leaf(block, data, lo, hi);
            }
            if level > MAX_LEVEL || path.len() >= usize::from(MAX_LEVEL) {
                return Err(corrupt("tree deeper than the superblock says"));
            }
            let mut f = internal(block, data, level, lo, hi)?;
            // Child = number of keys <= target.
            f.pos = match target {
                None => 0,
                Some(t) => {
                    let mut n = 0;
                    while n < f.nr && f.key(n)? <= *t {
                        n += 1;
                    }
                    n
                }
            };
            let child = f.child(f.pos)?;
            let (clo, chi) = f.child_range(f.pos)?;
            path.push(f);
            block = child;
            level -= 1;
            lo = clo;
            hi = chi;
        }
    }

    /// The leaf right of the current one, or `None` at the right edge.
    fn next_leaf(&self, path: &mut Vec<Frame>) -> Result<Option<Leaf>> {
        while let Some(mut f) = path.pop() {
            if f.pos < f.nr {
                f.pos += 1;
                let child = f.child(f.pos)?;
                let (lo, hi) = f.child_range(f.pos)?;
                let level = level_and_count(&f.data)?.0 - 1;
                path.push(f);
                return self.descend(path, child, level, lo, hi, None).map(Some);
            }
        }
        Ok(None)
    }

    /// Visit items in key order, starting with the last item `<= start` in the leaf whose
    /// range holds `start` (or that leaf's first item), until `f` says stop or the tree ends.
    pub(crate) fn scan_from(
        &self,
        start: &Key,
        f: &mut dyn FnMut(&Item<'_>) -> Result<Flow>,
    ) -> Result<()> {
        let mut path = Vec::new();
        let mut lf = self.descend(
            &mut path,
            self.sb.root_block,
            self.sb.root_level,
            None,
            None,
            Some(start),
        )?;
        let mut i = lf
            .heads
            .iter()
            .rposition(|h| h.key.cmp(start) != Ordering::Greater)
            .unwrap_or(0);
        let mut prev: Option<Key> = None;
        let mut leaves = 0u64;
        loop {
            if lf.heads.is_empty() && !path.is_empty() {
                return Err(corrupt(format!("leaf {} is empty", lf.block)));
            }
            while let Some(item) = lf.item(i) {
                if prev.is_some_and(|p| item.head.key <= p) {
                    return Err(corrupt(format!(
                        "leaf {}: keys do not increase across leaves",
                        lf.block
                    )));
                }
                prev = Some(item.head.key);
                if let Flow::Stop = f(&item)? {
                    return Ok(());
                }
                i += 1;
            }
            leaves += 1;
            if leaves >= MAX_SCAN_LEAVES.min(self.vol.limit) {
                return Err(FsError::Limit(format!(
                    "tree scan visited more than {leaves} leaves"
                )));
            }
            match self.next_leaf(&mut path)? {
                Some(next) => {
                    lf = next;
                    i = 0;
                }
                None => return Ok(()),
            }
        }
    }
}
