//! ext2/3/4, read-only.
//!
//! One module per on-disk structure: `superblock` (geometry and feature gating), `group`
//! (block group descriptors, including `meta_bg` placement), `inode`, `extent` (extent
//! trees), `blockmap` (ext2/3 direct and indirect blocks), `inline` (`inline_data`),
//! `dir` (directory records). `volume` holds the bounded block reads they share and the
//! run list that file mappings produce; this file ties them into a [`Filesystem`].
//!
//! Reads of file data compute the physical runs for the requested range once, then issue one
//! read per contiguous run on the underlying volume (large reads bypass the block cache), so
//! loading a kernel costs about what `cat` does.
//!
//! Supported: filetype, extents, 64bit, flex_bg, meta_bg, huge_file, dir_index (read
//! linearly), large_dir, inline_data (in-inode `system.data`), metadata_csum (the superblock
//! checksum is verified, a mismatch is a warning), bigalloc, mmp, csum_seed, casefold (names
//! match exactly), ea_inode. A journal needing recovery is read as is, with a warning.
//! Refused: compression, journal_dev, dirdata, encrypt, and unknown incompatible features.
use crate::{DirEntry, Extent, FileType, Filesystem, FsError, Metadata, NodeId, ReadAt, Result};
use rsgrub_io::DynReader;

mod blockmap;
pub(crate) mod csum;
mod dir;
mod extent;
mod group;
mod inline;
mod inode;
mod superblock;
mod volume;

use dir::{Format, RawEntry};
use group::GroupDesc;
use inode::{flags, Inode};
use superblock::{incompat, Superblock};
use volume::{Run, Runs, Volume};

/// Driver name in errors.
pub(crate) const FS: &str = "ext4";

pub(crate) fn corrupt(what: impl Into<String>) -> FsError {
    FsError::corrupt(FS, what)
}

const ROOT_INO: u64 = 2;
/// Most pieces [`Filesystem::extents`] returns for one request.
use crate::MAX_EXTENTS;
/// Largest directory scanned (far above what a million entries need).
const MAX_DIR_BYTES: u64 = 128 << 20;
/// Directory blocks read per request.
const DIR_CHUNK_BYTES: u64 = 1 << 20;

/// `true` if the volume has the ext superblock magic.
pub fn probe(dev: &dyn ReadAt) -> bool {
    let mut m = [0u8; 2];
    let off = superblock::OFFSET + superblock::MAGIC_OFFSET as u64;
    dev.read_at(off, &mut m).is_ok() && u16::from_le_bytes(m) == superblock::MAGIC
}

/// Open an ext2/3/4 filesystem.
pub fn open(dev: DynReader) -> Result<Box<dyn Filesystem>> {
    Ok(Box::new(Ext4::open(dev)?))
}

struct Ext4 {
    vol: Volume,
    sb: Superblock,
    warnings: Vec<String>,
}

impl Ext4 {
    fn open(dev: DynReader) -> Result<Self> {
        let dev_size = dev.size();
        let mut raw = vec![0u8; superblock::SIZE];
        if dev_size < superblock::OFFSET + superblock::SIZE as u64 {
            return Err(corrupt(format!(
                "volume of {dev_size} bytes is too small to hold a superblock"
            )));
        }
        dev.read_at(superblock::OFFSET, &mut raw)?;
        let sb = Superblock::parse(&raw)?;
        let mut warnings = sb.warnings.clone();
        let fs_bytes = sb
            .blocks_count
            .checked_mul(sb.block_size)
            .ok_or_else(|| corrupt("filesystem size overflows"))?;
        if fs_bytes > dev_size {
            warnings.push(format!(
                "filesystem is {fs_bytes} bytes but the volume only {dev_size}; \
                 data past the end cannot be read"
            ));
        }
        let vol = Volume::new(dev, sb.block_size, sb.blocks_count);
        let fs = Ext4 { vol, sb, warnings };
        let root = fs.inode(ROOT_INO)?;
        if root.kind() != FileType::Directory {
            return Err(corrupt("root inode is not a directory"));
        }
        Ok(fs)
    }

    fn group(&self, g: u32) -> Result<GroupDesc> {
        let off = group::desc_offset(&self.sb, g)?;
        let mut raw = vec![0u8; GroupDesc::read_len(&self.sb)];
        self.vol.read_bytes(off, &mut raw)?;
        GroupDesc::parse(&raw, &self.sb)
    }

    fn inode(&self, ino: NodeId) -> Result<Inode> {
        let sb = &self.sb;
        if ino == 0 || ino > u64::from(sb.inodes_count) {
            return Err(corrupt(format!(
                "inode number {ino} is outside 1..={}",
                sb.inodes_count
            )));
        }
        let index0 = ino - 1;
        let ipg = u64::from(sb.inodes_per_group);
        let g = u32::try_from(index0 / ipg)
            .ok()
            .filter(|&g| g < sb.group_count)
            .ok_or_else(|| corrupt(format!("inode {ino} is in no block group")))?;
        let index = index0 % ipg;
        let gd = self.group(g)?;
        if gd.inodes_uninit(sb) {
            return Err(corrupt(format!(
                "inode {ino} is in group {g}, whose inode table is uninitialised"
            )));
        }
        if gd.inode_table == 0 {
            return Err(corrupt(format!("group {g} has no inode table")));
        }
        let isz = u64::from(sb.inode_size);
        let within = index
            .checked_mul(isz)
            .ok_or_else(|| corrupt("inode offset overflows"))?;
        let block = gd
            .inode_table
            .checked_add(within / self.vol.bs)
            .ok_or_else(|| corrupt(format!("group {g} inode table location overflows")))?;
        self.vol.check_blocks(block, 1, "inode table")?;
        let off = self
            .vol
            .byte_offset(block)?
            .checked_add(within % self.vol.bs)
            .ok_or_else(|| corrupt("inode offset overflows"))?;
        let mut raw = vec![0u8; usize::try_from(isz).map_err(|_| corrupt("inode size"))?];
        self.vol.read_bytes(off, &mut raw)?;
        Inode::parse(ino, raw, sb)
    }

    fn check_readable(&self, inode: &Inode) -> Result<()> {
        if inode.has_flag(flags::ENCRYPT) {
            return Err(FsError::Unsupported {
                fs: FS,
                what: format!("inode {} is encrypted", inode.ino),
            });
        }
        Ok(())
    }

    /// Runs covering logical blocks `[start, end)` of a block-mapped or extent-mapped inode.
    fn runs(&self, inode: &Inode, start: u64, end: u64, max: usize) -> Result<Vec<Run>> {
        let mut runs = Runs::new(start, max);
        if inode.has_flag(flags::EXTENTS) {
            extent::map(&self.vol, &inode.i_block, start, end, &mut runs)?;
        } else {
            blockmap::map(&self.vol, &inode.i_block, start, end, &mut runs)?;
        }
        runs.finish(end)
    }

    /// File bytes at `offset`, up to EOF; returns how many were read.
    fn read_data(&self, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.check_readable(inode)?;
        if offset >= inode.size || buf.is_empty() {
            return Ok(0);
        }
        let avail = inode.size - offset;
        let n = usize::try_from(avail).map_or(buf.len(), |a| a.min(buf.len()));
        let buf = buf.get_mut(..n).unwrap_or_default();
        let small = if inode.is_inline() {
            Some(inline::file_bytes(inode)?)
        } else if inode.is_fast_symlink(&self.sb) {
            Some(inode.i_block.to_vec())
        } else {
            None
        };
        if let Some(bytes) = small {
            let src = usize::try_from(offset)
                .ok()
                .and_then(|o| bytes.get(o..o.checked_add(n)?))
                .ok_or_else(|| {
                    corrupt(format!(
                        "inode {}: inline bytes end before i_size",
                        inode.ino
                    ))
                })?;
            buf.copy_from_slice(src);
            return Ok(n);
        }

        let bs = self.vol.bs;
        let end = offset + n as u64; // n <= size - offset
        let runs = self.runs(inode, offset / bs, end.div_ceil(bs), usize::MAX)?;
        for run in &runs {
            let (s, e) = clip(run, bs, offset, end);
            if s >= e {
                continue;
            }
            let lo = usize::try_from(s - offset).map_err(|_| corrupt("read offset"))?;
            let hi = usize::try_from(e - offset).map_err(|_| corrupt("read offset"))?;
            let dst = buf
                .get_mut(lo..hi)
                .ok_or_else(|| corrupt("read range outside the buffer"))?;
            match run.phys {
                None => dst.fill(0),
                Some(p) => {
                    let vo = volume_offset(&self.vol, run, p, s)?;
                    self.vol.read_bytes(vo, dst)?;
                }
            }
        }
        Ok(n)
    }

    fn dir_format(&self) -> Format {
        Format {
            filetype: self.sb.has_incompat(incompat::FILETYPE),
            big_blocks: self.vol.bs >= 1 << 16,
        }
    }

    /// Call `f` on every live entry of directory `inode` until it returns `true`.
    fn scan_dir(
        &self,
        inode: &Inode,
        f: &mut dyn FnMut(&RawEntry<'_>) -> Result<bool>,
    ) -> Result<bool> {
        if inode.kind() != FileType::Directory {
            return Err(FsError::NotADirectory(format!("inode {}", inode.ino)));
        }
        self.check_readable(inode)?;
        let fmt = self.dir_format();
        if inode.is_inline() {
            // The first 4 bytes of i_block are the parent's inode number (`..`); entries
            // follow, then continue in system.data.
            let small = Format {
                big_blocks: false,
                ..fmt
            };
            let head = inode.i_block.get(4..).unwrap_or_default();
            if dir::scan_block(head, small, f)? {
                return Ok(true);
            }
            return match inline::system_data(inode)? {
                Some(rest) if !rest.is_empty() => dir::scan_block(rest, small, f),
                _ => Ok(false),
            };
        }
        if inode.size > MAX_DIR_BYTES {
            return Err(FsError::Limit(format!(
                "directory inode {} is {} bytes, more than the {MAX_DIR_BYTES}-byte limit",
                inode.ino, inode.size
            )));
        }
        let bs = self.vol.bs;
        let bs_usize = usize::try_from(bs).map_err(|_| corrupt("block size"))?;
        let nblocks = inode.size.div_ceil(bs);
        let chunk = (DIR_CHUNK_BYTES / bs).max(1);
        let mut buf = Vec::new();
        for run in self.runs(inode, 0, nblocks, usize::MAX)? {
            let Some(phys) = run.phys else { continue };
            let mut done = 0u64;
            while done < run.len {
                let k = (run.len - done).min(chunk);
                let bytes = usize::try_from(k * bs).map_err(|_| corrupt("directory chunk"))?;
                buf.resize(bytes, 0);
                let off = self.vol.byte_offset(phys + done)?;
                self.vol.read_bytes(off, &mut buf)?;
                for block in buf.chunks(bs_usize) {
                    if dir::scan_block(block, fmt, f)? {
                        return Ok(true);
                    }
                }
                done += k;
            }
        }
        Ok(false)
    }
}

/// Bytes of `run` inside `[offset, end)`, as file offsets.
fn clip(run: &Run, bs: u64, offset: u64, end: u64) -> (u64, u64) {
    let rs = u128::from(run.lblk) * u128::from(bs);
    let re = (u128::from(run.lblk) + u128::from(run.len)) * u128::from(bs);
    let s = rs.max(u128::from(offset));
    let e = re.min(u128::from(end));
    // Both are within [offset, end] when non-empty, so they fit u64.
    (
        u64::try_from(s).unwrap_or(u64::MAX),
        u64::try_from(e).unwrap_or(0),
    )
}

/// Volume offset of file byte `file_off`, inside mapped `run` starting at block `phys`.
fn volume_offset(vol: &Volume, run: &Run, phys: u64, file_off: u64) -> Result<u64> {
    let run_start = u128::from(run.lblk) * u128::from(vol.bs);
    let delta = u64::try_from(u128::from(file_off) - run_start)
        .map_err(|_| corrupt("run offset overflows"))?;
    vol.byte_offset(phys)?
        .checked_add(delta)
        .ok_or_else(|| corrupt("volume offset overflows"))
}

impl Filesystem for Ext4 {
    fn name(&self) -> &'static str {
        self.sb.flavour()
    }

    fn root(&self) -> NodeId {
        ROOT_INO
    }

    fn metadata(&self, node: NodeId) -> Result<Metadata> {
        let inode = self.inode(node)?;
        Ok(Metadata {
            kind: inode.kind(),
            size: inode.size,
            mode: Some(u32::from(inode.mode)),
        })
    }

    fn lookup(&self, dir: NodeId, name: &[u8]) -> Result<Option<NodeId>> {
        let inode = self.inode(dir)?;
        let mut found = None;
        self.scan_dir(&inode, &mut |e| {
            if e.name == name {
                found = Some(u64::from(e.inode));
                return Ok(true);
            }
            Ok(false)
        })?;
        Ok(found)
    }

    fn read_dir(&self, dir: NodeId) -> Result<Vec<DirEntry>> {
        let inode = self.inode(dir)?;
        let mut out = Vec::new();
        self.scan_dir(&inode, &mut |e| {
            crate::dir_limit(out.len(), format_args!("directory inode {dir}"))?;
            out.push(DirEntry {
                name: e.name.to_vec(),
                node: u64::from(e.inode),
                kind: e.kind(),
            });
            Ok(false)
        })?;
        Ok(out)
    }

    fn read_link(&self, node: NodeId) -> Result<Vec<u8>> {
        let inode = self.inode(node)?;
        if inode.kind() != FileType::Symlink {
            return Err(FsError::NotAFile(format!(
                "inode {node} (expected a symbolic link)"
            )));
        }
        if inode.size > crate::path::MAX_LINK_LEN {
            return Err(FsError::Limit(format!(
                "symlink inode {node} target of {} bytes is longer than {}",
                inode.size,
                crate::path::MAX_LINK_LEN
            )));
        }
        let len = usize::try_from(inode.size).map_err(|_| corrupt("symlink size"))?;
        let mut out = vec![0u8; len];
        let n = self.read_data(&inode, 0, &mut out)?;
        if n != len {
            return Err(corrupt(format!("symlink inode {node} is short")));
        }
        Ok(out)
    }

    fn read_at(&self, node: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let inode = self.inode(node)?;
        self.read_data(&inode, offset, buf)
    }

    fn extents(&self, node: NodeId, offset: u64, len: u64) -> Result<Option<Vec<Extent>>> {
        let inode = self.inode(node)?;
        if inode.is_inline() || inode.is_fast_symlink(&self.sb) || inode.has_flag(flags::ENCRYPT) {
            return Ok(None);
        }
        let end = offset.saturating_add(len).min(inode.size);
        if offset >= end {
            return Ok(Some(Vec::new()));
        }
        let bs = self.vol.bs;
        let runs = self.runs(&inode, offset / bs, end.div_ceil(bs), MAX_EXTENTS)?;
        let mut out: Vec<Extent> = Vec::with_capacity(runs.len());
        for run in &runs {
            let (s, e) = clip(run, bs, offset, end);
            if s >= e {
                continue;
            }
            let ext = match run.phys {
                None => Extent::Hole {
                    file_offset: s,
                    len: e - s,
                },
                Some(p) => Extent::Mapped {
                    file_offset: s,
                    volume_offset: volume_offset(&self.vol, run, p, s)?,
                    len: e - s,
                },
            };
            out.push(ext);
        }
        Ok(Some(out))
    }

    fn uuid(&self) -> Option<String> {
        self.sb.uuid_string()
    }

    fn label(&self) -> Option<String> {
        self.sb.label_string()
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}
