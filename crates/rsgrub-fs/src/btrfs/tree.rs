//! B-tree nodes: checksum, owner checks and bounded walks.
//!
//! Every node read is checked: crc32c, its own logical address, the filesystem UUID and the
//! level its parent expects (levels strictly decrease, so a walk cannot loop). Leaves must
//! deliver keys in strictly increasing order across a walk, which stops a node that points
//! twice to the same child from repeating work; a walk also visits at most [`MAX_NODES`].
use super::{corrupt, Btrfs, Key};
use crate::{FsError, Result};
use rsgrub_io::le;
use std::ops::ControlFlow;
use std::sync::Arc;

/// btrfs trees are at most 8 levels deep (0..=7).
pub(crate) const MAX_LEVEL: u8 = 8;
const HEADER: usize = 101;
const KEY_PTR: usize = 33;
const ITEM: usize = 25;
/// Nodes one walk may read.
const MAX_NODES: u64 = 1 << 20;

/// A verified tree block.
pub(crate) struct Node {
    pub level: u8,
    pub nritems: usize,
    pub data: Vec<u8>,
}

impl Node {
    fn key_ptr(&self, i: usize) -> Option<(Key, u64)> {
        let o = HEADER + i * KEY_PTR;
        Some((
            Key::parse(&self.data, o)?,
            le::u64(&self.data, o + Key::LEN)?,
        ))
    }

    /// Leaf item `i`: its key and data.
    fn item(&self, i: usize) -> Result<(Key, &[u8])> {
        let o = HEADER + i * ITEM;
        let bad = || corrupt(format!("leaf item {i} lies outside the leaf"));
        let key = Key::parse(&self.data, o).ok_or_else(bad)?;
        let off = le::u32(&self.data, o + 17).ok_or_else(bad)?;
        let size = le::u32(&self.data, o + 21).ok_or_else(bad)?;
        let start = HEADER
            .checked_add(usize::try_from(off).map_err(|_| bad())?)
            .ok_or_else(bad)?;
        let end = start
            .checked_add(usize::try_from(size).map_err(|_| bad())?)
            .ok_or_else(bad)?;
        let d = self.data.get(start..end).ok_or_else(bad)?;
        Ok((key, d))
    }
}

/// What a walk calls on each item: break to stop.
pub(crate) type Visitor<'a> = dyn FnMut(&Key, &[u8]) -> Result<ControlFlow<()>> + 'a;

/// Where a tree's root is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Root {
    pub bytenr: u64,
    pub level: u8,
}

impl Btrfs {
    /// Read and verify the tree block at logical `bytenr`, expected at `level`.
    pub(crate) fn node(&self, bytenr: u64, level: u8) -> Result<Arc<Node>> {
        if let Some(n) = self
            .node_cache
            .lock()
            .ok()
            .and_then(|c| c.get(&bytenr).cloned())
        {
            if n.level != level {
                return Err(corrupt(format!(
                    "tree block {bytenr} is level {}, expected {level}",
                    n.level
                )));
            }
            return Ok(n);
        }
        let ns = self.sb.nodesize as usize;
        let m = self.chunks.map(bytenr, self.sb.devid)?;
        if m.len < ns as u64 {
            return Err(corrupt(format!(
                "tree block {bytenr} crosses a stripe or chunk end"
            )));
        }
        let mut last_err = None;
        for &phys in &m.copies {
            let mut data = vec![0u8; ns];
            if let Err(e) = self.dev.read_at(phys, &mut data) {
                last_err = Some(FsError::from(e));
                continue;
            }
            match self.check_node(bytenr, level, &data) {
                Ok(()) => {
                    let nritems = le::u32(&data, 0x60).unwrap_or(0) as usize;
                    let node = Arc::new(Node {
                        level,
                        nritems,
                        data,
                    });
                    if let Ok(mut c) = self.node_cache.lock() {
                        // At most ~8 MiB of cached nodes whatever the node size.
                        if c.len() >= ((8usize << 20) / ns).max(64) {
                            c.clear();
                        }
                        c.insert(bytenr, node.clone());
                    }
                    return Ok(node);
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| corrupt(format!("tree block {bytenr} unreadable"))))
    }

    fn check_node(&self, bytenr: u64, level: u8, d: &[u8]) -> Result<()> {
        let stored = le::u32(d, 0).unwrap_or(0);
        let calc = super::crc32c(d.get(0x20..).unwrap_or_default());
        if stored != calc {
            return Err(corrupt(format!(
                "tree block {bytenr} checksum {stored:#010x}, computed {calc:#010x}"
            )));
        }
        if le::u64(d, 0x30) != Some(bytenr) {
            return Err(corrupt(format!(
                "tree block {bytenr} records another address"
            )));
        }
        if d.get(0x20..0x30) != Some(&self.sb.meta_uuid[..]) {
            return Err(corrupt(format!(
                "tree block {bytenr} belongs to another filesystem"
            )));
        }
        let l = d.get(0x64).copied().unwrap_or(0xff);
        if l != level {
            return Err(corrupt(format!(
                "tree block {bytenr} is level {l}, expected {level}"
            )));
        }
        let n = le::u32(d, 0x60).unwrap_or(0) as usize;
        let per = if level == 0 { ITEM } else { KEY_PTR };
        if n.checked_mul(per)
            .and_then(|x| x.checked_add(HEADER))
            .is_none_or(|x| x > d.len())
        {
            return Err(corrupt(format!("tree block {bytenr} claims {n} items")));
        }
        if level > 0 && n == 0 {
            return Err(corrupt(format!("internal tree block {bytenr} is empty")));
        }
        Ok(())
    }

    /// The last item with key ≤ `key`, if any: (its key, its data).
    pub(crate) fn find_le(&self, root: Root, key: &Key) -> Result<Option<(Key, Vec<u8>)>> {
        let mut node = self.node(root.bytenr, root.level)?;
        loop {
            if node.level == 0 {
                let mut best = None;
                for i in 0..node.nritems {
                    let (k, d) = node.item(i)?;
                    if k > *key {
                        break;
                    }
                    best = Some((k, d));
                }
                return Ok(best.map(|(k, d)| (k, d.to_vec())));
            }
            let mut child = None;
            for i in 0..node.nritems {
                let (k, p) = node.key_ptr(i).ok_or_else(|| corrupt("key pointer"))?;
                if i > 0 && k > *key {
                    break;
                }
                child = Some(p);
            }
            let p = child.ok_or_else(|| corrupt("empty internal node"))?;
            node = self.node(p, node.level - 1)?;
        }
    }

    /// The item with exactly `key`.
    pub(crate) fn find_exact(&self, root: Root, key: &Key) -> Result<Option<Vec<u8>>> {
        Ok(self
            .find_le(root, key)?
            .and_then(|(k, d)| (k == *key).then_some(d)))
    }

    /// Call `f` on every item with key ≥ `min`, in order, until it breaks.
    pub(crate) fn walk_from(&self, root: Root, min: &Key, f: &mut Visitor<'_>) -> Result<()> {
        let mut st = Walk {
            last: None,
            visited: 0,
        };
        let _ = self.walk_node(root.bytenr, root.level, min, f, &mut st)?;
        Ok(())
    }

    fn walk_node(
        &self,
        bytenr: u64,
        level: u8,
        min: &Key,
        f: &mut Visitor<'_>,
        st: &mut Walk,
    ) -> Result<ControlFlow<()>> {
        st.visited += 1;
        if st.visited > MAX_NODES {
            return Err(FsError::Limit(format!(
                "a tree walk read more than {MAX_NODES} blocks"
            )));
        }
        let node = self.node(bytenr, level)?;
        if level == 0 {
            for i in 0..node.nritems {
                let (k, d) = node.item(i)?;
                if let Some(last) = st.last {
                    if k <= last {
                        return Err(corrupt(format!("tree block {bytenr}: keys out of order")));
                    }
                }
                st.last = Some(k);
                if k < *min {
                    continue;
                }
                if f(&k, d)?.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            return Ok(ControlFlow::Continue(()));
        }
        let mut start = 0;
        for i in 1..node.nritems {
            match node.key_ptr(i) {
                Some((k, _)) if k <= *min => start = i,
                _ => break,
            }
        }
        for i in start..node.nritems {
            let (_, p) = node.key_ptr(i).ok_or_else(|| corrupt("key pointer"))?;
            if self.walk_node(p, level - 1, min, f, st)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

struct Walk {
    last: Option<Key>,
    visited: u64,
}
