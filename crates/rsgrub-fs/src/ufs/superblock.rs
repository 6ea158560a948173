//! The superblock (`struct fs`): where it is, which byte order and version, and the geometry
//! the rest of the driver trusts.
//!
//! The superblock is searched where FreeBSD's `ffs_sbget` looks (64 KiB, 8 KiB, 0, 256 KiB),
//! in both byte orders. A UFS2 superblock only counts where its own `fs_sblockloc` says it is
//! (so the backup copy in cylinder group 0 is not taken for the primary). Every geometry
//! field is checked once here, and the derived values (`inopb`, `nindir`) must agree with the
//! recorded ones, as FreeBSD requires.
//!
//! Offsets are those of FreeBSD's `sys/ufs/ffs/fs.h` (the 4.4BSD layout shared by NetBSD and
//! OpenBSD); Solaris (and SVR4 x86) UFS1 uses the same offsets for every field read here
//! except the fast-symlink limit, which it does not have.
use super::corrupt;
use crate::Result;
use rsgrub_io::{be, le, ReadAt};

/// Where superblocks are searched, in FreeBSD's order.
pub(crate) const LOCATIONS: [u64; 4] = [65536, 8192, 0, 262144];
/// Bytes of the superblock that are read (through `fs_magic`).
pub(crate) const READ_LEN: usize = 1376;

const MAGIC_UFS1: u32 = 0x0001_1954;
const MAGIC_UFS2: u32 = 0x1954_0119;
/// `fs_magic` offset.
const OFF_MAGIC: usize = 1372;
/// Solaris `FSOKAY`: a clean Solaris superblock has `fs_state + fs_time == FSOKAY`.
const SOLARIS_FSOKAY: u32 = 0x7c26_9d38;

/// Byte order of every on-disk number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

impl Endian {
    pub(crate) fn u16(self, b: &[u8], off: usize) -> Option<u16> {
        match self {
            Endian::Little => le::u16(b, off),
            Endian::Big => be::u16(b, off),
        }
    }
    pub(crate) fn u32(self, b: &[u8], off: usize) -> Option<u32> {
        match self {
            Endian::Little => le::u32(b, off),
            Endian::Big => be::u32(b, off),
        }
    }
    pub(crate) fn u64(self, b: &[u8], off: usize) -> Option<u64> {
        match self {
            Endian::Little => le::u64(b, off),
            Endian::Big => be::u64(b, off),
        }
    }
}

/// UFS1 (32-bit block pointers, 128-byte inodes) or UFS2 (64-bit, 256-byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    Ufs1,
    Ufs2,
}

/// Validated geometry. Block addresses on disk are in fragments (`fsize` bytes).
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    pub endian: Endian,
    pub version: Version,
    /// Block size in bytes (4 KiB ..= 64 KiB).
    pub bsize: u64,
    /// Fragment size in bytes (512 ..= bsize).
    pub fsize: u64,
    /// Fragments per block (1, 2, 4 or 8).
    pub frag: u64,
    pub ncg: u64,
    pub ipg: u64,
    pub fpg: u64,
    pub iblkno: u64,
    /// UFS1 only: cylinder-group start rotation (`cgstart`).
    pub cgoffset: u64,
    pub cgmask: u32,
    /// Filesystem size in fragments.
    pub size_frags: u64,
    /// Inodes per block.
    pub inopb: u64,
    /// Block pointers per indirect block.
    pub nindir: u64,
    /// Symlinks shorter than this live in the inode (0: decided by `di_blocks == 0`).
    pub maxsymlinklen: u64,
    /// `fs_id[0]`, `fs_id[1]`.
    pub id: [u32; 2],
    /// `fs_volname` (UFS2 only).
    pub volname: Option<[u8; 32]>,
}

impl Superblock {
    /// Bytes per on-disk inode.
    pub(crate) fn inode_size(&self) -> u64 {
        match self.version {
            Version::Ufs1 => 128,
            Version::Ufs2 => 256,
        }
    }

    /// Bytes per block pointer.
    pub(crate) fn ptr_size(&self) -> u64 {
        match self.version {
            Version::Ufs1 => 4,
            Version::Ufs2 => 8,
        }
    }

    /// Bytes of the in-inode block-pointer area (where short symlinks live).
    pub(crate) fn inline_area(&self) -> u64 {
        15 * self.ptr_size()
    }

    /// Highest inode number + 1.
    pub(crate) fn inode_count(&self) -> u64 {
        // Bounded in `parse`.
        self.ncg.saturating_mul(self.ipg)
    }

    /// Name as GRUB's modules call it.
    pub(crate) fn flavour(&self) -> &'static str {
        match (self.version, self.endian) {
            (Version::Ufs2, _) => "ufs2",
            (Version::Ufs1, Endian::Big) => "ufs1_be",
            (Version::Ufs1, Endian::Little) => "ufs1",
        }
    }

    /// First fragment of cylinder group `cg` (`cgstart`).
    pub(crate) fn cg_start(&self, cg: u64) -> Result<u64> {
        let base = cg
            .checked_mul(self.fpg)
            .ok_or_else(|| corrupt(format!("cylinder group {cg} start overflows")))?;
        match self.version {
            Version::Ufs2 => Ok(base),
            Version::Ufs1 => {
                let rot = cg & !u64::from(self.cgmask);
                self.cgoffset
                    .checked_mul(rot)
                    .and_then(|r| base.checked_add(r))
                    .ok_or_else(|| corrupt(format!("cylinder group {cg} start overflows")))
            }
        }
    }

    /// Byte offset of inode `ino` on the volume.
    pub(crate) fn inode_offset(&self, ino: u64) -> Result<u64> {
        if ino < 2 || ino >= self.inode_count() {
            return Err(corrupt(format!(
                "inode number {ino} is outside 2..{}",
                self.inode_count()
            )));
        }
        let cg = ino / self.ipg;
        let idx = ino % self.ipg;
        let frag = self
            .cg_start(cg)?
            .checked_add(self.iblkno)
            .and_then(|f| f.checked_add((idx / self.inopb).checked_mul(self.frag)?))
            .ok_or_else(|| corrupt(format!("inode {ino} location overflows")))?;
        frag.checked_mul(self.fsize)
            .and_then(|b| b.checked_add((idx % self.inopb) * self.inode_size()))
            .ok_or_else(|| corrupt(format!("inode {ino} location overflows")))
    }

    /// `%08x%08x` of `fs_id`, as GRUB prints it; `None` when both words are zero.
    pub(crate) fn uuid_string(&self) -> Option<String> {
        if self.id == [0, 0] {
            return None;
        }
        Some(format!("{:08x}{:08x}", self.id[0], self.id[1]))
    }

    /// `fs_volname` up to its first NUL (UFS2), `None` when empty.
    pub(crate) fn label_string(&self) -> Option<String> {
        let v = self.volname.as_ref()?;
        let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
        let name = v.get(..end).unwrap_or_default();
        (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
    }
}

/// Byte order and version from the magic at `raw[1372..]`, if it is a UFS magic.
fn magic(raw: &[u8]) -> Option<(Endian, Version)> {
    for endian in [Endian::Little, Endian::Big] {
        match endian.u32(raw, OFF_MAGIC)? {
            MAGIC_UFS1 => return Some((endian, Version::Ufs1)),
            MAGIC_UFS2 => return Some((endian, Version::Ufs2)),
            _ => {}
        }
    }
    None
}

/// Find the first location holding a superblock that parses. Returns the last parse error
/// when a magic was seen but nothing valid, `None` when no magic at all.
pub(crate) fn find(dev: &dyn ReadAt) -> Option<Result<Superblock>> {
    let mut last_err = None;
    let mut raw = vec![0u8; READ_LEN];
    for loc in LOCATIONS {
        if dev.read_at(loc, &mut raw).is_err() {
            continue;
        }
        if magic(&raw).is_none() {
            continue;
        }
        match parse(&raw, loc) {
            Ok(sb) => return Some(Ok(sb)),
            Err(e) => last_err = Some(e),
        }
    }
    last_err.map(Err)
}

/// Cheap check, as GRUB's: a UFS magic, a power-of-two block size in range and a non-zero
/// `fs_ipg` at one of the locations (and, for UFS2, `fs_sblockloc` naming that location).
pub(crate) fn probe(dev: &dyn ReadAt) -> bool {
    let mut raw = vec![0u8; READ_LEN];
    LOCATIONS.iter().any(|&loc| {
        if dev.read_at(loc, &mut raw).is_err() {
            return false;
        }
        let Some((e, v)) = magic(&raw) else {
            return false;
        };
        let bsize = e.u32(&raw, 48).map_or(0, u64::from);
        let plausible = pow2_in(bsize, 4096, 65536) && e.u32(&raw, 184).is_some_and(|i| i != 0);
        plausible && (v == Version::Ufs1 || e.u64(&raw, 1000) == Some(loc))
    })
}

fn pow2_in(v: u64, lo: u64, hi: u64) -> bool {
    v.is_power_of_two() && (lo..=hi).contains(&v)
}

/// Parse and validate the superblock found at byte `location`.
pub(crate) fn parse(raw: &[u8], location: u64) -> Result<Superblock> {
    let (endian, version) = magic(raw).ok_or_else(|| corrupt("bad superblock magic"))?;
    let f32_ = |off: usize| -> Result<u64> {
        endian
            .u32(raw, off)
            .map(u64::from)
            .ok_or_else(|| corrupt("superblock truncated"))
    };
    let f64_ = |off: usize| -> Result<u64> {
        endian
            .u64(raw, off)
            .ok_or_else(|| corrupt("superblock truncated"))
    };

    if version == Version::Ufs2 {
        let loc = f64_(1000)?;
        if loc != location {
            return Err(corrupt(format!(
                "UFS2 superblock at byte {location} says it belongs at {loc}"
            )));
        }
    }

    let bsize = f32_(48)?;
    let fsize = f32_(52)?;
    let frag = f32_(56)?;
    if !pow2_in(bsize, 4096, 65536) {
        return Err(corrupt(format!(
            "block size {bsize} is not a power of two in 4096..=65536"
        )));
    }
    if !pow2_in(fsize, 512, bsize) {
        return Err(corrupt(format!(
            "fragment size {fsize} is not a power of two in 512..={bsize}"
        )));
    }
    if frag != bsize / fsize || frag > 8 {
        return Err(corrupt(format!(
            "{frag} fragments per block do not match {bsize}/{fsize} (at most 8)"
        )));
    }
    let ncg = f32_(44)?;
    let ipg = f32_(184)?;
    let fpg = f32_(188)?;
    if ncg == 0 || ipg == 0 || fpg < frag {
        return Err(corrupt(format!(
            "bad cylinder group geometry: {ncg} groups, {ipg} inodes and {fpg} fragments each"
        )));
    }
    // Directory entries hold 32-bit inode numbers.
    if ncg.checked_mul(ipg).is_none_or(|n| n > u64::from(u32::MAX)) {
        return Err(corrupt(format!(
            "{ncg} groups of {ipg} inodes exceed 2^32 inodes"
        )));
    }
    let isize = match version {
        Version::Ufs1 => 128,
        Version::Ufs2 => 256,
    };
    let psize = match version {
        Version::Ufs1 => 4,
        Version::Ufs2 => 8,
    };
    let inopb = f32_(120)?;
    if inopb != bsize / isize {
        return Err(corrupt(format!(
            "{inopb} inodes per block recorded, {} expected",
            bsize / isize
        )));
    }
    let nindir = f32_(116)?;
    if nindir != bsize / psize {
        return Err(corrupt(format!(
            "{nindir} pointers per indirect block recorded, {} expected",
            bsize / psize
        )));
    }
    // The inode blocks must fit in a cylinder group (checked for group 0, whose start is
    // not rotated; the geometry is the same for every group).
    let iblkno = f32_(16)?;
    let inode_frags = ipg.div_ceil(inopb).saturating_mul(frag);
    if iblkno.saturating_add(inode_frags) > fpg {
        return Err(corrupt(format!(
            "{ipg} inodes from fragment {iblkno} do not fit in a {fpg}-fragment group"
        )));
    }
    let size_frags = match version {
        Version::Ufs1 => f32_(36)?,
        Version::Ufs2 => f64_(1080)?,
    };
    // Every group starts inside the filesystem and together they cover it (FreeBSD wants
    // `ncg == howmany(size, fpg)` exactly; this also admits a short last cylinder).
    let before_last = (ncg - 1).saturating_mul(fpg);
    if size_frags == 0 || before_last >= size_frags || ncg.saturating_mul(fpg) < size_frags {
        return Err(corrupt(format!(
            "{ncg} groups of {fpg} fragments do not make a {size_frags}-fragment filesystem"
        )));
    }
    let fs_time = endian.u32(raw, 32).unwrap_or(0);
    // `fs_state` is at 132 on x86 (little-endian) Solaris and at 1336 on SPARC.
    let state_off = match endian {
        Endian::Little => 132,
        Endian::Big => 1336,
    };
    // A clean Solaris (or SVR4 x86) superblock has `fs_state + fs_time == FSOKAY`.
    let solaris = version == Version::Ufs1
        && endian
            .u32(raw, state_off)
            .unwrap_or(0)
            .wrapping_add(fs_time)
            == SOLARIS_FSOKAY;
    let maxsymlinklen = if solaris {
        // That word is `fs_version` on Solaris: it has no recorded limit.
        0
    } else {
        // A negative or oversized value can only shrink what is read from the inode.
        let v = f32_(1320)?;
        if v > 15 * psize {
            0
        } else {
            v
        }
    };
    let id = [
        u32::try_from(f32_(144)?).unwrap_or(0),
        u32::try_from(f32_(148)?).unwrap_or(0),
    ];
    let volname = match version {
        Version::Ufs1 => None,
        Version::Ufs2 => {
            let mut v = [0u8; 32];
            let src = raw
                .get(680..712)
                .ok_or_else(|| corrupt("superblock truncated"))?;
            v.copy_from_slice(src);
            Some(v)
        }
    };
    Ok(Superblock {
        endian,
        version,
        bsize,
        fsize,
        frag,
        ncg,
        ipg,
        fpg,
        iblkno,
        cgoffset: f32_(24)?,
        cgmask: u32::try_from(f32_(28)?).unwrap_or(u32::MAX),
        size_frags,
        inopb,
        nindir,
        maxsymlinklen,
        id,
        volname,
    })
}
