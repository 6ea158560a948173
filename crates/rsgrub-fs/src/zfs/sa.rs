//! File attributes: the old `znode_phys_t` bonus buffer (pool versions < 24) and System
//! Attributes (SA): a per-dataset registry (attribute name → number, length) and layout
//! table (layout number → attribute order), and in each bonus or spill buffer a header
//! (magic, layout, header size, lengths of variable-size attributes) followed by the
//! attributes, each 8-byte aligned.
use super::dnode::Dnode;
use super::{corrupt, zap, Blocks, Bo};
use crate::Result;
use std::collections::HashMap;

const SA_MAGIC: u32 = 0x2F_505A;
/// Most registry or layout entries read per dataset.
const MAX_ENTRIES: usize = 4096;

/// Offsets in `znode_phys_t`.
pub(crate) const ZNODE_MODE: usize = 72;
pub(crate) const ZNODE_SIZE: usize = 80;
/// Size of `znode_phys_t`: an inline symlink target follows it in the bonus buffer.
pub(crate) const ZNODE_LEN: usize = 264;

#[derive(Debug, Default)]
pub(crate) struct SaTable {
    lengths: HashMap<u16, u16>,
    layouts: HashMap<u64, Vec<u16>>,
    pub mode: Option<u16>,
    pub size: Option<u16>,
    pub symlink: Option<u16>,
}

impl SaTable {
    pub(crate) fn load(src: &dyn Blocks, registry: &Dnode, layouts: &Dnode) -> Result<SaTable> {
        let mut t = SaTable::default();
        let mut n = 0usize;
        zap::for_each(src, registry, &mut |e| {
            n += 1;
            if n > MAX_ENTRIES {
                return Err(corrupt("SA registry has too many entries"));
            }
            let v = e.first().unwrap_or(0);
            let id = (v & 0xffff) as u16;
            let len = ((v >> 24) & 0xffff) as u16;
            t.lengths.insert(id, len);
            match e.name.as_slice() {
                b"ZPL_MODE" => t.mode = Some(id),
                b"ZPL_SIZE" => t.size = Some(id),
                b"ZPL_SYMLINK" => t.symlink = Some(id),
                _ => {}
            }
            Ok(false)
        })?;
        let mut n = 0usize;
        zap::for_each(src, layouts, &mut |e| {
            n += 1;
            if n > MAX_ENTRIES {
                return Err(corrupt("SA layout table has too many entries"));
            }
            let num = std::str::from_utf8(&e.name)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| corrupt("SA layout name is not a number"))?;
            if e.intlen != 2 {
                return Err(corrupt(format!(
                    "SA layout {num} of {}-byte integers",
                    e.intlen
                )));
            }
            t.layouts
                .insert(num, e.ints.iter().map(|&x| x as u16).collect());
            Ok(false)
        })?;
        Ok(t)
    }

    /// The bytes of attribute `attr` in SA buffer `buf`, and the buffer's byte order.
    pub(crate) fn find<'a>(&self, buf: &'a [u8], attr: u16) -> Result<Option<(&'a [u8], Bo)>> {
        let bo = match rsgrub_io::le::u32(buf, 0) {
            Some(SA_MAGIC) => Bo::Le,
            Some(m) if m.swap_bytes() == SA_MAGIC => Bo::Be,
            _ => return Err(corrupt("SA buffer has a bad magic")),
        };
        let info = bo.u16(buf, 4).unwrap_or(0);
        let layout = u64::from(info & 0x3ff);
        let hdr = usize::from((info >> 10) & 0x3f) * 8;
        let lot = self
            .layouts
            .get(&layout)
            .ok_or_else(|| corrupt(format!("SA layout {layout} is not registered")))?;
        let mut pos = hdr;
        let mut var = 0usize;
        for &id in lot {
            let reg = *self
                .lengths
                .get(&id)
                .ok_or_else(|| corrupt(format!("SA attribute {id} is not registered")))?;
            let len = if reg == 0 {
                let o = 6 + 2 * var;
                if o + 2 > hdr {
                    return Err(corrupt("SA header too short for its variable lengths"));
                }
                var += 1;
                usize::from(bo.u16(buf, o).unwrap_or(0))
            } else {
                usize::from(reg)
            };
            pos = pos
                .checked_add(7)
                .map(|p| p & !7)
                .ok_or_else(|| corrupt("SA offset"))?;
            let end = pos.checked_add(len).ok_or_else(|| corrupt("SA offset"))?;
            if id == attr {
                let b = buf.get(pos..end).ok_or_else(|| {
                    corrupt(format!("SA attribute {id} at {pos}+{len} past its buffer"))
                })?;
                return Ok(Some((b, bo)));
            }
            pos = end;
        }
        Ok(None)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn layout_walk() {
        let mut t = SaTable::default();
        t.lengths.insert(0, 8); // mode
        t.lengths.insert(1, 8); // size
        t.lengths.insert(2, 0); // symlink (variable)
        t.lengths.insert(3, 0); // another variable one
        t.layouts.insert(3, vec![0, 1, 2, 3]);
        // Header: magic, layout 3 with a 16-byte header, lengths 5 and 2.
        let mut b = Vec::new();
        b.extend(SA_MAGIC.to_le_bytes());
        b.extend((3u16 | (2 << 10)).to_le_bytes());
        b.extend(5u16.to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend([0u8; 6]);
        b.extend(0o100644u64.to_le_bytes());
        b.extend(1234u64.to_le_bytes());
        b.extend(b"hello\0\0\0");
        b.extend(b"xy");
        assert_eq!(t.find(&b, 1).unwrap().unwrap().0, 1234u64.to_le_bytes());
        assert_eq!(t.find(&b, 2).unwrap().unwrap().0, b"hello");
        assert_eq!(t.find(&b, 3).unwrap().unwrap().0, b"xy");
        assert!(t.find(&b, 9).unwrap().is_none());
        b.truncate(b.len() - 1);
        assert!(t.find(&b, 3).is_err());
    }
}
