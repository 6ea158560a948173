//! The XFS superblock (big-endian, sector 0 of allocation group 0), with geometry checks.
//!
//! Every geometry field is validated against every other before any is used: block size
//! 512..=64 KiB (v5: ≥ 1 KiB), sector size, inode size 256..=2048 (v5: ≥ 512), inodes per
//! block, `agblklog` exactly the rounded-up log of `agblocks`, allocation-group count against
//! the data block count, directory block size ≤ 64 KiB, and inode numbers fitting 64 bits.
//! On v5 the CRC32C over the sector is verified (a mismatch is an error).
use super::corrupt;
use crate::{FsError, Result};
use rsgrub_io::be;

/// Magic `XFSB`.
pub(crate) const MAGIC: u32 = 0x5846_5342;
/// Bytes read for the superblock (one sector at most 32 KiB; parse uses `sectsize`).
pub(crate) const READ_LEN: usize = 512;
/// Offset of `sb_crc`.
const CRC_OFF: usize = 224;

/// v5 incompatible feature bits.
pub(crate) mod incompat {
    pub const FTYPE: u32 = 1 << 0;
    pub const SPINODES: u32 = 1 << 1;
    pub const META_UUID: u32 = 1 << 2;
    pub const BIGTIME: u32 = 1 << 3;
    pub const NEEDSREPAIR: u32 = 1 << 4;
    pub const NREXT64: u32 = 1 << 5;
    pub const EXCHRANGE: u32 = 1 << 6;
    pub const PARENT: u32 = 1 << 7;
    /// Everything this driver reads (none of these change how files/dirs are laid out in a
    /// way we do not handle).
    pub const KNOWN: u32 =
        FTYPE | SPINODES | META_UUID | BIGTIME | NEEDSREPAIR | NREXT64 | EXCHRANGE | PARENT;
}

const VERSION_DIRV2: u16 = 0x2000;
const VERSION_MOREBITS: u16 = 0x8000;
const VERSION2_FTYPE: u32 = 0x0200;

/// Parsed, validated superblock.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    pub version: u8,
    pub block_size: u64,
    pub dblocks: u64,
    pub uuid: [u8; 16],
    pub rootino: u64,
    /// Internal log start (fs block) or 0 for an external log, and its length in blocks.
    pub logstart: u64,
    pub logblocks: u64,
    pub agblocks: u64,
    pub agcount: u64,
    pub inode_size: u64,
    pub inopblog: u32,
    pub agblklog: u32,
    pub label: [u8; 12],
    pub dirblklog: u32,
    pub ftype: bool,
    pub warnings: Vec<String>,
}

fn f<T>(v: Option<T>) -> Result<T> {
    v.ok_or_else(|| corrupt("superblock is truncated"))
}

impl Superblock {
    /// Parse and validate. `raw` is at least one 512-byte sector; `sector` re-reads the
    /// full sector for the v5 CRC when `sb_sectsize` is larger.
    pub(crate) fn parse(raw: &[u8], sector: &dyn Fn(usize) -> Result<Vec<u8>>) -> Result<Self> {
        if f(be::u32(raw, 0))? != MAGIC {
            return Err(corrupt("bad superblock magic"));
        }
        let versionnum = f(be::u16(raw, 100))?;
        let version = (versionnum & 0xf) as u8;
        if version != 4 && version != 5 {
            return Err(FsError::Unsupported {
                fs: super::FS,
                what: format!("superblock version {version}"),
            });
        }
        let block_size = u64::from(f(be::u32(raw, 4))?);
        let blocklog = u32::from(*f(raw.get(120))?);
        let sectsize = u64::from(f(be::u16(raw, 102))?);
        let sectlog = u32::from(*f(raw.get(121))?);
        let inode_size = u64::from(f(be::u16(raw, 104))?);
        let inopblock = u64::from(f(be::u16(raw, 106))?);
        let inodelog = u32::from(*f(raw.get(122))?);
        let inopblog = u32::from(*f(raw.get(123))?);
        let agblklog = u32::from(*f(raw.get(124))?);
        let agblocks = u64::from(f(be::u32(raw, 84))?);
        let agcount = u64::from(f(be::u32(raw, 88))?);
        let dblocks = f(be::u64(raw, 8))?;
        let dirblklog = u32::from(*f(raw.get(192))?);

        let min_blocklog = if version == 5 { 10 } else { 9 };
        if !(min_blocklog..=16).contains(&blocklog) || block_size != 1u64 << blocklog {
            return Err(corrupt(format!(
                "block size {block_size} (log {blocklog}) is invalid"
            )));
        }
        if !(9..=15).contains(&sectlog) || sectsize != 1u64 << sectlog || sectsize > block_size {
            return Err(corrupt(format!(
                "sector size {sectsize} (log {sectlog}) is invalid"
            )));
        }
        let min_inodelog = if version == 5 { 9 } else { 8 };
        if !(min_inodelog..=11).contains(&inodelog)
            || inode_size != 1u64 << inodelog
            || inode_size > block_size
        {
            return Err(corrupt(format!(
                "inode size {inode_size} (log {inodelog}) is invalid"
            )));
        }
        if inopblog != blocklog - inodelog || inopblock != block_size / inode_size {
            return Err(corrupt(format!(
                "{inopblock} inodes per block (log {inopblog}) do not match the sizes"
            )));
        }
        // agblklog is log2 of agblocks rounded up; XFS AGs are 64 blocks to 2^31 blocks.
        if !(6..=31).contains(&agblklog)
            || agblocks < 64
            || agblocks > 1u64 << agblklog
            || agblocks <= 1u64 << (agblklog - 1)
        {
            return Err(corrupt(format!(
                "allocation group of {agblocks} blocks (log {agblklog}) is invalid"
            )));
        }
        if agblklog + inopblog > 32 {
            return Err(corrupt("inode numbers do not fit 32 bits within a group"));
        }
        if agcount == 0 {
            return Err(corrupt("no allocation groups"));
        }
        let full = agcount
            .checked_mul(agblocks)
            .ok_or_else(|| corrupt("filesystem size overflows"))?;
        if dblocks > full || dblocks <= (agcount - 1) * agblocks || dblocks == 0 {
            return Err(corrupt(format!(
                "{dblocks} data blocks do not fit {agcount} groups of {agblocks}"
            )));
        }
        // agno bits + agblklog + inopblog must fit in a 64-bit inode number.
        let agno_bits = 64 - (agcount - 1).leading_zeros();
        if agno_bits + agblklog + inopblog > 64 {
            return Err(corrupt("inode numbers do not fit 64 bits"));
        }
        if blocklog + dirblklog > 16 {
            return Err(corrupt(format!(
                "directory block size log {} is over 64 KiB",
                blocklog + dirblklog
            )));
        }
        let mut warnings = Vec::new();
        let features2 = f(be::u32(raw, 200))?;
        let ftype;
        if version == 5 {
            let incompat_bits = f(be::u32(raw, 216))?;
            let unknown = incompat_bits & !incompat::KNOWN;
            if unknown != 0 {
                return Err(FsError::Unsupported {
                    fs: super::FS,
                    what: format!("incompatible features {unknown:#x}"),
                });
            }
            if incompat_bits & incompat::NEEDSREPAIR != 0 {
                warnings.push("filesystem is marked as needing repair; read as is".into());
            }
            ftype = incompat_bits & incompat::FTYPE != 0;
            let ss = usize::try_from(sectsize).map_err(|_| corrupt("sector size"))?;
            let full_sector;
            let sec: &[u8] = if raw.len() >= ss {
                raw
            } else {
                full_sector = sector(ss)?;
                &full_sector
            };
            let stored = f(rsgrub_io::le::u32(sec, CRC_OFF))?;
            let computed = crc(f(sec.get(..ss))?);
            if stored != computed {
                return Err(corrupt(format!(
                    "superblock CRC {stored:#010x} does not match {computed:#010x}"
                )));
            }
            if f(be::u32(raw, 220))? != 0 {
                warnings.push(
                    "log has incompatible features set (it may need recovery); read as is".into(),
                );
            }
        } else {
            if versionnum & VERSION_DIRV2 == 0 {
                return Err(FsError::Unsupported {
                    fs: super::FS,
                    what: "version 1 directories".into(),
                });
            }
            ftype = versionnum & VERSION_MOREBITS != 0 && features2 & VERSION2_FTYPE != 0;
        }
        if *f(raw.get(126))? != 0 {
            warnings.push("superblock says mkfs was in progress".into());
        }
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(f(raw.get(32..48))?);
        let mut label = [0u8; 12];
        label.copy_from_slice(f(raw.get(108..120))?);
        Ok(Superblock {
            version,
            block_size,
            dblocks,
            uuid,
            rootino: f(be::u64(raw, 56))?,
            logstart: f(be::u64(raw, 48))?,
            logblocks: u64::from(f(be::u32(raw, 96))?),
            agblocks,
            agcount,
            inode_size,
            inopblog,
            agblklog,
            label,
            dirblklog,
            ftype,
            warnings,
        })
    }

    /// Linear block number (from the start of the volume) of filesystem block `fsbno`
    /// (`agno << agblklog | agbno`), checking that `count` blocks from it stay in the group.
    pub(crate) fn fsb_to_linear(&self, fsbno: u64, count: u64) -> Result<u64> {
        let agno = fsbno >> self.agblklog;
        let agbno = fsbno & ((1u64 << self.agblklog) - 1);
        let end = agbno.checked_add(count);
        if agno >= self.agcount || end.is_none_or(|e| e > self.agblocks) {
            return Err(corrupt(format!(
                "block {fsbno} (+{count}) is outside the allocation groups"
            )));
        }
        // agno < agcount and agbno < agblocks, so this is < agcount * agblocks (fits).
        Ok(agno * self.agblocks + agbno)
    }

    /// Byte offset of inode `ino` on the volume.
    pub(crate) fn inode_offset(&self, ino: u64) -> Result<u64> {
        let bad = || corrupt(format!("inode number {ino} is invalid"));
        let shift = self.agblklog + self.inopblog;
        let agno = ino.checked_shr(shift).unwrap_or(0);
        let agino = ino & ((1u64 << shift) - 1);
        let agbno = agino >> self.inopblog;
        let idx = agino & ((1u64 << self.inopblog) - 1);
        if agno >= self.agcount || agbno >= self.agblocks || ino == 0 {
            return Err(bad());
        }
        let block = agno * self.agblocks + agbno;
        block
            .checked_mul(self.block_size)
            .and_then(|b| b.checked_add(idx * self.inode_size))
            .ok_or_else(bad)
    }

    /// Directory block size in bytes.
    pub(crate) fn dir_block_size(&self) -> u64 {
        self.block_size << self.dirblklog
    }

    pub(crate) fn uuid_string(&self) -> Option<String> {
        if self.uuid.iter().all(|&b| b == 0) {
            return None;
        }
        let h: String = self.uuid.iter().map(|b| format!("{b:02x}")).collect();
        Some(format!(
            "{}-{}-{}-{}-{}",
            h.get(0..8)?,
            h.get(8..12)?,
            h.get(12..16)?,
            h.get(16..20)?,
            h.get(20..32)?
        ))
    }

    pub(crate) fn label_string(&self) -> Option<String> {
        let end = self.label.iter().position(|&b| b == 0).unwrap_or(12);
        let l = self.label.get(..end)?;
        if l.is_empty() {
            None
        } else {
            Some(String::from_utf8_lossy(l).into_owned())
        }
    }
}

/// XFS metadata CRC: CRC32C of the buffer with the crc field taken as zero, inverted.
pub(crate) fn crc(sector: &[u8]) -> u32 {
    use crate::ext4::csum::update;
    let head = sector.get(..CRC_OFF).unwrap_or_default();
    let tail = sector.get(CRC_OFF + 4..).unwrap_or_default();
    !update(update(update(!0, head), &[0; 4]), tail)
}
