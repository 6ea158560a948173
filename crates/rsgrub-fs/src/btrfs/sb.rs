//! The superblock: primary at 64 KiB, mirrors at 64 MiB and 256 GiB, each crc32c-checked.
//!
//! Like GRUB and btrfs-progs, every copy that is present, carries the magic, records its own
//! offset and passes its checksum is a candidate; the one with the highest generation wins.
use super::{corrupt, crc32c, unsupported, Key};
use crate::{ReadAt, Result};
use rsgrub_io::le;

/// Offsets of the primary superblock and its mirrors.
pub(crate) const OFFSETS: [u64; 3] = [0x1_0000, 0x400_0000, 0x40_0000_0000];
/// Bytes of a superblock.
pub(crate) const SIZE: usize = 4096;
/// `_BHRfS_M` at offset 0x40.
pub(crate) const MAGIC: &[u8; 8] = b"_BHRfS_M";
pub(crate) const MAGIC_OFFSET: usize = 0x40;
const SYS_CHUNK_ARRAY: usize = 0x32b;
const SYS_CHUNK_ARRAY_MAX: usize = 2048;

/// Incompatible feature bits.
pub(crate) mod incompat {
    pub const METADATA_UUID: u64 = 1 << 10;
    pub const ZONED: u64 = 1 << 12;
    pub const EXTENT_TREE_V2: u64 = 1 << 13;
    pub const RAID_STRIPE_TREE: u64 = 1 << 14;
    /// Every bit this driver knows (reads or refuses by name).
    pub const KNOWN: u64 = 0x3_ffff;
}

/// The fields the driver uses.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    pub fsid: [u8; 16],
    /// The UUID tree blocks carry (fsid unless METADATA_UUID).
    pub meta_uuid: [u8; 16],
    pub generation: u64,
    pub root: u64,
    pub root_level: u8,
    pub chunk_root: u64,
    pub chunk_root_level: u8,
    pub sectorsize: u32,
    pub nodesize: u32,
    pub devid: u64,
    pub label: Vec<u8>,
    /// (key, chunk item bytes) from `sys_chunk_array`.
    pub sys_chunks: Vec<(Key, Vec<u8>)>,
}

fn arr16(b: &[u8], off: usize) -> [u8; 16] {
    let mut a = [0u8; 16];
    if let Some(s) = b.get(off..off + 16) {
        a.copy_from_slice(s);
    }
    a
}

fn u64f(b: &[u8], off: usize) -> Result<u64> {
    le::u64(b, off).ok_or_else(|| corrupt("superblock is short"))
}

fn u32f(b: &[u8], off: usize) -> Result<u32> {
    le::u32(b, off).ok_or_else(|| corrupt("superblock is short"))
}

/// `true` if the primary copy carries the magic.
pub(crate) fn probe(dev: &dyn ReadAt) -> bool {
    let mut m = [0u8; 8];
    dev.read_at(OFFSETS[0] + MAGIC_OFFSET as u64, &mut m)
        .is_ok()
        && &m == MAGIC
}

/// Read every copy; return the valid one with the highest generation, and warnings.
pub(crate) fn read(dev: &dyn ReadAt) -> Result<(Superblock, Vec<String>)> {
    let mut best: Option<Superblock> = None;
    let mut warnings = Vec::new();
    let mut first_err = None;
    for (i, &off) in OFFSETS.iter().enumerate() {
        if off.saturating_add(SIZE as u64) > dev.size() {
            break;
        }
        let mut raw = vec![0u8; SIZE];
        dev.read_at(off, &mut raw)?;
        if raw.get(MAGIC_OFFSET..MAGIC_OFFSET + 8) != Some(&MAGIC[..]) {
            if i == 0 {
                first_err = Some(corrupt("primary superblock has no btrfs magic"));
            }
            continue;
        }
        match parse(&raw, off) {
            Ok(sb) => {
                if best.as_ref().is_none_or(|b| sb.generation > b.generation) {
                    best = Some(sb);
                }
            }
            Err(e) => {
                if i == 0 {
                    warnings.push(format!("primary superblock rejected ({e}); using a mirror"));
                    first_err = Some(e);
                }
            }
        }
    }
    match best {
        Some(sb) => Ok((sb, warnings)),
        None => Err(first_err.unwrap_or_else(|| corrupt("no valid superblock"))),
    }
}

/// Validate one superblock copy read from `at`.
pub(crate) fn parse(raw: &[u8], at: u64) -> Result<Superblock> {
    let stored = u32f(raw, 0)?;
    let body = raw
        .get(0x20..SIZE)
        .ok_or_else(|| corrupt("superblock is short"))?;
    let csum_type = le::u16(raw, 0xc4).unwrap_or(0);
    if csum_type != 0 {
        return Err(unsupported(format!(
            "checksum type {csum_type} (only crc32c is read)"
        )));
    }
    let calc = crc32c(body);
    if calc != stored {
        return Err(corrupt(format!(
            "superblock at {at} checksum {stored:#010x}, computed {calc:#010x}"
        )));
    }
    let bytenr = u64f(raw, 0x30)?;
    if bytenr != at {
        return Err(corrupt(format!(
            "superblock at {at} says it is at {bytenr}"
        )));
    }
    let incompat_flags = u64f(raw, 0xbc)?;
    for (bit, name) in [
        (incompat::ZONED, "zoned"),
        (incompat::EXTENT_TREE_V2, "extent-tree-v2"),
        (incompat::RAID_STRIPE_TREE, "raid-stripe-tree"),
    ] {
        if incompat_flags & bit != 0 {
            return Err(unsupported(name));
        }
    }
    if incompat_flags & !incompat::KNOWN != 0 {
        return Err(unsupported(format!(
            "incompatible feature bits {:#x}",
            incompat_flags & !incompat::KNOWN
        )));
    }
    let sectorsize = u32f(raw, 0x90)?;
    let nodesize = u32f(raw, 0x94)?;
    if !sectorsize.is_power_of_two() || !(4096..=65536).contains(&sectorsize) {
        return Err(corrupt(format!("sector size {sectorsize}")));
    }
    if !nodesize.is_power_of_two() || nodesize < sectorsize || nodesize > 65536 {
        return Err(corrupt(format!("node size {nodesize}")));
    }
    let root_level = raw.get(0xc6).copied().unwrap_or(0);
    let chunk_root_level = raw.get(0xc7).copied().unwrap_or(0);
    if root_level >= super::tree::MAX_LEVEL || chunk_root_level >= super::tree::MAX_LEVEL {
        return Err(corrupt("tree root level is 8 or more"));
    }
    let fsid = arr16(raw, 0x20);
    let meta_uuid = if incompat_flags & incompat::METADATA_UUID != 0 {
        arr16(raw, 0x23b)
    } else {
        fsid
    };
    let label_raw = raw.get(0x12b..0x12b + 256).unwrap_or_default();
    let label_len = label_raw
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(label_raw.len());
    let label = label_raw.get(..label_len).unwrap_or_default().to_vec();
    let n = usize::try_from(u32f(raw, 0xa0)?).unwrap_or(usize::MAX);
    if n > SYS_CHUNK_ARRAY_MAX {
        return Err(corrupt(format!(
            "sys_chunk_array_size {n} is larger than the {SYS_CHUNK_ARRAY_MAX}-byte array"
        )));
    }
    let arr = raw
        .get(SYS_CHUNK_ARRAY..SYS_CHUNK_ARRAY + n)
        .ok_or_else(|| corrupt("sys_chunk_array"))?;
    let sys_chunks = parse_sys_array(arr)?;
    Ok(Superblock {
        fsid,
        meta_uuid,
        generation: u64f(raw, 0x48)?,
        root: u64f(raw, 0x50)?,
        root_level,
        chunk_root: u64f(raw, 0x58)?,
        chunk_root_level,
        sectorsize,
        nodesize,
        devid: u64f(raw, 0xc9)?,
        label,
        sys_chunks,
    })
}

/// `sys_chunk_array`: (disk key, chunk item with its stripes) pairs.
fn parse_sys_array(arr: &[u8]) -> Result<Vec<(Key, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < arr.len() {
        let key = Key::parse(arr, pos)
            .ok_or_else(|| corrupt("sys_chunk_array key runs past the array"))?;
        pos += Key::LEN;
        if key.ty != super::chunk::CHUNK_ITEM {
            return Err(corrupt(format!(
                "sys_chunk_array holds item type {}, not a chunk",
                key.ty
            )));
        }
        let num_stripes = le::u16(arr, pos + 44)
            .ok_or_else(|| corrupt("sys_chunk_array chunk runs past the array"))?;
        let len = super::chunk::item_len(num_stripes);
        let item = pos
            .checked_add(len)
            .and_then(|end| arr.get(pos..end))
            .ok_or_else(|| {
                corrupt(format!(
                    "sys_chunk_array chunk with {num_stripes} stripes runs past the array"
                ))
            })?;
        out.push((key, item.to_vec()));
        pos += len;
    }
    Ok(out)
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, as GRUB prints it.
pub(crate) fn uuid_string(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}
