//! ZAP objects (name → integer array maps): directories, the object directory, DSL child
//! maps, pool properties, SA registries.
//!
//! A micro ZAP is one block of 64-byte entries (u64 value, 50-byte name). A fat ZAP has a
//! header block (pointer table embedded in its second half, or in `zt_numblks` blocks from
//! `zt_blk`), and leaf blocks of 24-byte chunks: entries and array chunks chained by index.
//! Lookups hash the name (CRC-64 with the ZAP's salt) to pick the leaf, then compare names
//! in that leaf. The pointer table's size, the leaves visited and every chunk chain are
//! bounded; integers in leaf arrays are big-endian whatever the pool's byte order.
use super::dnode::Dnode;
use super::{corrupt, Blocks};
use crate::Result;
use std::collections::HashSet;

const ZBT_LEAF: u64 = 1 << 63;
const ZBT_HEADER: u64 = (1 << 63) + 1;
const ZBT_MICRO: u64 = (1 << 63) + 3;
const ZAP_MAGIC: u64 = 0x2_F52A_B2AB;
const LEAF_MAGIC: u32 = 0x2AB_1EAF;
const CHUNK: usize = 24;
const CHUNK_ENTRY: u8 = 252;
const CHUNK_ARRAY: u8 = 251;
const CHAIN_END: u16 = 0xffff;
const MZAP_ENT: usize = 64;
const MZAP_NAME: usize = 50;
const FLAG_HASH64: u64 = 1;
/// Largest pointer table (2^20 leaf pointers, 8 MiB) accepted.
const MAX_PTRTBL_SHIFT: u64 = 20;

/// One ZAP entry: name (without the NUL) and its integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: Vec<u8>,
    pub intlen: u8,
    pub ints: Vec<u64>,
}

impl Entry {
    pub(crate) fn first(&self) -> Option<u64> {
        self.ints.first().copied()
    }
}

#[allow(clippy::indexing_slicing)] // const fn, i < 256: checked at compile time
const fn crc64_table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = (c >> 1) ^ ((c & 1).wrapping_neg() & 0xC96C_5795_D787_0F42);
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}
static CRC64: [u64; 256] = crc64_table();

/// The ZAP hash of a string key.
pub(crate) fn hash(salt: u64, name: &[u8], flags: u64) -> u64 {
    let mut h = salt;
    for &c in name {
        let i = ((h ^ u64::from(c)) & 0xff) as usize;
        h = (h >> 8) ^ CRC64.get(i).copied().unwrap_or(0);
    }
    let bits = if flags & FLAG_HASH64 != 0 { 48 } else { 28 };
    h & !((1u64 << (64 - bits)) - 1)
}

struct Fat {
    bs_shift: u32,
    zt_blk: u64,
    zt_numblks: u64,
    zt_shift: u64,
    salt: u64,
    normflags: u64,
    flags: u64,
}

fn block0(src: &dyn Blocks, dn: &Dnode) -> Result<std::sync::Arc<super::Block>> {
    src.block(dn, 0)?
        .ok_or_else(|| corrupt("ZAP object has no first block"))
}

fn fat_header(b: &super::Block, dn: &Dnode) -> Result<Fat> {
    let d = &b.data;
    let g = |o| {
        b.bo.u64(d, o)
            .ok_or_else(|| corrupt("fat ZAP header is short"))
    };
    if g(8)? != ZAP_MAGIC {
        return Err(corrupt("fat ZAP header has a bad magic"));
    }
    let bs = dn.datablksz;
    if !bs.is_power_of_two() || !(512..=(128 << 10)).contains(&bs) || d.len() as u64 != bs {
        return Err(corrupt(format!("fat ZAP block size {bs}")));
    }
    let f = Fat {
        bs_shift: bs.trailing_zeros(),
        zt_blk: g(16)?,
        zt_numblks: g(24)?,
        zt_shift: g(32)?,
        salt: g(80)?,
        normflags: g(88)?,
        flags: g(96)?,
    };
    if f.zt_numblks == 0 {
        if f.zt_shift > u64::from(f.bs_shift - 4) {
            return Err(corrupt(format!(
                "fat ZAP embedded pointer table shift {} for {bs}-byte blocks",
                f.zt_shift
            )));
        }
    } else {
        if f.zt_shift > MAX_PTRTBL_SHIFT {
            return Err(corrupt(format!(
                "fat ZAP pointer table of 2^{} entries (at most 2^{MAX_PTRTBL_SHIFT})",
                f.zt_shift
            )));
        }
        let per = 1u64 << (f.bs_shift - 3);
        let need = (1u64 << f.zt_shift).div_ceil(per);
        if f.zt_numblks < need || f.zt_numblks > need.saturating_mul(2) {
            return Err(corrupt(format!(
                "fat ZAP pointer table of {} blocks for 2^{} entries",
                f.zt_numblks, f.zt_shift
            )));
        }
    }
    Ok(f)
}

/// Leaf block number at pointer-table index `idx`.
fn ptr(src: &dyn Blocks, dn: &Dnode, b0: &super::Block, f: &Fat, idx: u64) -> Result<u64> {
    if f.zt_numblks == 0 {
        let off = (1usize << (f.bs_shift - 1)) + usize::try_from(idx).unwrap_or(usize::MAX) * 8;
        return b0
            .bo
            .u64(&b0.data, off)
            .ok_or_else(|| corrupt("fat ZAP pointer index past its table"));
    }
    let per = 1u64 << (f.bs_shift - 3);
    let blk = f
        .zt_blk
        .checked_add(idx / per)
        .ok_or_else(|| corrupt("fat ZAP pointer table block overflows"))?;
    let b = src
        .block(dn, blk)?
        .ok_or_else(|| corrupt(format!("fat ZAP pointer table block {blk} is a hole")))?;
    let off = usize::try_from((idx % per) * 8).unwrap_or(usize::MAX);
    b.bo.u64(&b.data, off)
        .ok_or_else(|| corrupt("fat ZAP pointer table block is short"))
}

struct Leaf<'a> {
    b: &'a super::Block,
    chunks_off: usize,
    nchunks: usize,
}

impl<'a> Leaf<'a> {
    fn new(b: &'a super::Block, f: &Fat, blk: u64) -> Result<Leaf<'a>> {
        let d = &b.data;
        if b.bo.u64(d, 0) != Some(ZBT_LEAF) || b.bo.u32(d, 24) != Some(LEAF_MAGIC) {
            return Err(corrupt(format!("fat ZAP leaf block {blk} has a bad magic")));
        }
        let bs = 1usize << f.bs_shift;
        if d.len() != bs {
            return Err(corrupt(format!("fat ZAP leaf block {blk} is short")));
        }
        let hashn = 1usize << (f.bs_shift - 5);
        let nchunks = ((bs - 2 * hashn) / CHUNK).saturating_sub(2);
        Ok(Leaf {
            b,
            chunks_off: 48 + 2 * hashn,
            nchunks,
        })
    }

    fn chunk(&self, i: usize) -> Option<&'a [u8]> {
        if i >= self.nchunks {
            return None;
        }
        let o = self.chunks_off + i * CHUNK;
        self.b.data.get(o..o + CHUNK)
    }

    /// `n` bytes of the array chain starting at chunk `first`.
    fn array(&self, first: u16, n: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(n.min(1 << 16));
        let mut c = first;
        let mut steps = 0usize;
        while out.len() < n {
            steps += 1;
            let ch = self
                .chunk(usize::from(c))
                .filter(|ch| ch.first() == Some(&CHUNK_ARRAY) && steps <= self.nchunks)
                .ok_or_else(|| corrupt(format!("fat ZAP array chain broken at chunk {c}")))?;
            let take = (n - out.len()).min(21);
            out.extend_from_slice(ch.get(1..1 + take).unwrap_or_default());
            c = self.b.bo.u16(ch, 22).unwrap_or(CHAIN_END);
            if c == CHAIN_END && out.len() < n {
                return Err(corrupt("fat ZAP array chain ends early"));
            }
        }
        Ok(out)
    }

    /// Call `f(hash, entry)` for every entry chunk.
    fn entries(&self, f: &mut dyn FnMut(u64, Entry) -> Result<bool>) -> Result<bool> {
        let bo = self.b.bo;
        for i in 0..self.nchunks {
            let Some(ch) = self.chunk(i) else { break };
            if ch.first() != Some(&CHUNK_ENTRY) {
                continue;
            }
            let intlen = *ch.get(1).unwrap_or(&0);
            let g = |o| bo.u16(ch, o).unwrap_or(CHAIN_END);
            let (name_chunk, name_n, value_chunk, value_n) = (g(4), g(6), g(8), g(10));
            let h = bo.u64(ch, 16).unwrap_or(0);
            if !matches!(intlen, 1 | 2 | 4 | 8) {
                return Err(corrupt(format!("fat ZAP entry of integer length {intlen}")));
            }
            let mut name = self.array(name_chunk, usize::from(name_n))?;
            if name.last() == Some(&0) {
                name.pop();
            }
            let il = usize::from(intlen);
            let raw = self.array(value_chunk, usize::from(value_n) * il)?;
            let ints = raw
                .chunks_exact(il)
                .map(|c| c.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
                .collect();
            if f(h, Entry { name, intlen, ints })? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn micro_entries(b: &super::Block, f: &mut dyn FnMut(Entry) -> Result<bool>) -> Result<()> {
    let n = b.data.len() / MZAP_ENT;
    for i in 1..n {
        let o = i * MZAP_ENT;
        let Some(raw) = b.data.get(o + 14..o + 14 + MZAP_NAME) else {
            break;
        };
        let len = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
        if len == 0 {
            continue;
        }
        let value = b.bo.u64(&b.data, o).unwrap_or(0);
        let e = Entry {
            name: raw.get(..len).unwrap_or_default().to_vec(),
            intlen: 8,
            ints: vec![value],
        };
        if f(e)? {
            break;
        }
    }
    Ok(())
}

fn kind(b: &super::Block) -> Result<u64> {
    b.bo.u64(&b.data, 0)
        .ok_or_else(|| corrupt("ZAP block is empty"))
}

/// Call `f` on every entry (stop early when it returns `true`).
pub(crate) fn for_each(
    src: &dyn Blocks,
    dn: &Dnode,
    f: &mut dyn FnMut(Entry) -> Result<bool>,
) -> Result<()> {
    let b0 = block0(src, dn)?;
    match kind(&b0)? {
        ZBT_MICRO => micro_entries(&b0, f),
        ZBT_HEADER => {
            let fat = fat_header(&b0, dn)?;
            let mut seen = HashSet::new();
            let mut last = u64::MAX;
            for idx in 0..(1u64 << fat.zt_shift) {
                let blk = ptr(src, dn, &b0, &fat, idx)?;
                if blk == last || !seen.insert(blk) {
                    continue;
                }
                last = blk;
                let lb = src
                    .block(dn, blk)?
                    .ok_or_else(|| corrupt(format!("fat ZAP leaf {blk} is a hole")))?;
                let leaf = Leaf::new(&lb, &fat, blk)?;
                if leaf.entries(&mut |_, e| f(e))? {
                    break;
                }
            }
            Ok(())
        }
        t => Err(corrupt(format!("ZAP block type {t:#x}"))),
    }
}

/// The entry called `name`.
pub(crate) fn lookup(src: &dyn Blocks, dn: &Dnode, name: &[u8]) -> Result<Option<Entry>> {
    let b0 = block0(src, dn)?;
    let mut found = None;
    match kind(&b0)? {
        ZBT_MICRO => micro_entries(&b0, &mut |e| {
            if e.name == name {
                found = Some(e);
                return Ok(true);
            }
            Ok(false)
        })?,
        ZBT_HEADER => {
            let fat = fat_header(&b0, dn)?;
            if fat.normflags != 0 {
                // Normalised (e.g. case-insensitive) ZAPs hash the normalised name: scan.
                drop(b0);
                for_each(src, dn, &mut |e| {
                    if e.name == name {
                        found = Some(e);
                        return Ok(true);
                    }
                    Ok(false)
                })?;
                return Ok(found);
            }
            let h = hash(fat.salt, name, fat.flags);
            let idx = if fat.zt_shift == 0 {
                0
            } else {
                h >> (64 - fat.zt_shift)
            };
            let blk = ptr(src, dn, &b0, &fat, idx)?;
            let lb = src
                .block(dn, blk)?
                .ok_or_else(|| corrupt(format!("fat ZAP leaf {blk} is a hole")))?;
            let leaf = Leaf::new(&lb, &fat, blk)?;
            leaf.entries(&mut |eh, e| {
                if eh == h && e.name == name {
                    found = Some(e);
                    return Ok(true);
                }
                Ok(false)
            })?;
        }
        t => return Err(corrupt(format!("ZAP block type {t:#x}"))),
    }
    Ok(found)
}

/// The single integer stored under `name`.
pub(crate) fn lookup_u64(src: &dyn Blocks, dn: &Dnode, name: &[u8]) -> Result<Option<u64>> {
    Ok(lookup(src, dn, name)?.and_then(|e| e.first()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc64_table() {
        // Entry 128 is the polynomial itself; entry 0 is zero.
        assert_eq!(super::CRC64[128], 0xC96C_5795_D787_0F42);
        assert_eq!(super::CRC64[0], 0);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod hostile {
    use super::super::{Block, Blocks, Bo};
    use super::*;
    use std::sync::Arc;

    struct Fake(Vec<Arc<Block>>);
    impl Blocks for Fake {
        fn block(&self, _: &Dnode, blkid: u64) -> Result<Option<Arc<Block>>> {
            Ok(usize::try_from(blkid)
                .ok()
                .and_then(|i| self.0.get(i))
                .cloned())
        }
    }

    fn zap_dnode() -> Dnode {
        let mut d = vec![0u8; 512];
        d[0] = 20;
        d[2] = 1;
        d[3] = 1;
        d[8..10].copy_from_slice(&32u16.to_le_bytes()); // 16 KiB blocks
        Dnode::parse(&d, Bo::Le, &String::new).unwrap()
    }

    fn header(numblks: u64, shift: u64) -> Arc<Block> {
        let mut b = vec![0u8; 16 << 10];
        b[0..8].copy_from_slice(&ZBT_HEADER.to_le_bytes());
        b[8..16].copy_from_slice(&ZAP_MAGIC.to_le_bytes());
        b[16..24].copy_from_slice(&1u64.to_le_bytes());
        b[24..32].copy_from_slice(&numblks.to_le_bytes());
        b[32..40].copy_from_slice(&shift.to_le_bytes());
        b[80..88].copy_from_slice(&0x1234u64.to_le_bytes());
        Arc::new(Block {
            data: b,
            bo: Bo::Le,
        })
    }

    #[test]
    fn huge_pointer_tables_are_refused() {
        let dn = zap_dnode();
        for (numblks, shift) in [(1u64, 40u64), (0, 30), (1, 20), (u64::MAX, 63)] {
            let f = Fake(vec![header(numblks, shift)]);
            let e = for_each(&f, &dn, &mut |_| Ok(false))
                .unwrap_err()
                .to_string();
            assert!(e.contains("pointer table"), "{numblks} {shift}: {e}");
            assert!(lookup(&f, &dn, b"x").is_err());
        }
    }

    #[test]
    fn broken_leaf_chains_are_errors() {
        let dn = zap_dnode();
        // Embedded table of 2^0 entries pointing at leaf 1.
        let h = header(0, 0);
        let mut hb = h.data.clone();
        hb[8192..8200].copy_from_slice(&1u64.to_le_bytes());
        let mut leaf = vec![0u8; 16 << 10];
        leaf[0..8].copy_from_slice(&ZBT_LEAF.to_le_bytes());
        leaf[24..28].copy_from_slice(&LEAF_MAGIC.to_le_bytes());
        let chunks_off = 48 + 2 * (1 << 9);
        // Entry in chunk 0 whose name chain loops on chunk 1 forever.
        let e = chunks_off;
        leaf[e] = CHUNK_ENTRY;
        leaf[e + 1] = 8;
        leaf[e + 4..e + 6].copy_from_slice(&1u16.to_le_bytes());
        leaf[e + 6..e + 8].copy_from_slice(&60000u16.to_le_bytes());
        let a = chunks_off + CHUNK;
        leaf[a] = CHUNK_ARRAY;
        leaf[a + 22..a + 24].copy_from_slice(&1u16.to_le_bytes());
        let f = Fake(vec![
            Arc::new(Block {
                data: hb,
                bo: Bo::Le,
            }),
            Arc::new(Block {
                data: leaf,
                bo: Bo::Le,
            }),
        ]);
        let err = for_each(&f, &dn, &mut |_| Ok(false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("array chain"), "{err}");
    }
}
