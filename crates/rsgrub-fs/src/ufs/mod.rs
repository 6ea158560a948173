//! UFS1 and UFS2 (the BSD Fast File System), read-only: FreeBSD, NetBSD, OpenBSD and
//! Solaris/SVR4 x86 layouts, in either byte order.
//!
//! One module per on-disk structure: `superblock` (location, byte order, geometry),
//! `inode` (UFS1/UFS2 dinodes), `bmap` (direct, indirect and fragment addressing), `dir`
//! (`struct direct` records). Cylinder-group blocks are not read: inodes are located from
//! the superblock's geometry alone (`ino_to_fsba`), which is all a reader needs.
//!
//! Reads compute the physical runs for the requested range once and issue one read per
//! contiguous run (large reads bypass the metadata cache), so a kernel loads at about the
//! speed of `cat`. [`Filesystem::extents`] returns the same runs for zero-copy extraction.
//!
//! Solaris: its UFS1 differs from 4.4BSD's in the directory format (16-bit `d_namlen`, no
//! `d_type`) and in having no `fs_maxsymlinklen`; both are handled (the directory format is
//! recognised from the root's `.` record, short symlinks by `di_blocks == 0`). The Solaris
//! variant is implemented from the format descriptions (Linux `ufs_fs.h`, Xen's libfsimage
//! `ufs.h`) and tested only with images converted from BSD ones; Solaris "MTB" UFS (magic
//! `0xdecade`) and the x86 VTOC slice table (a partition-layer matter) are not read.
use crate::{DirEntry, Extent, FileType, Filesystem, FsError, Metadata, NodeId, ReadAt, Result};
use rsgrub_io::{BlockCache, DynReader};

mod bmap;
mod dir;
mod inode;
mod superblock;

use bmap::Run;
use inode::Inode;
use superblock::Superblock;

/// Driver name in errors.
pub(crate) const FS: &str = "ufs";

pub(crate) fn corrupt(what: impl Into<String>) -> FsError {
    FsError::corrupt(FS, what)
}

const ROOT_INO: u64 = 2;
/// Most pieces [`Filesystem::extents`] returns for one request.
const MAX_EXTENTS: usize = 1 << 18;
/// Largest directory scanned.
const MAX_DIR_BYTES: u64 = 128 << 20;
/// Directory bytes read per step.
const DIR_CHUNK_BYTES: u64 = 1 << 20;

/// `true` if the volume carries a UFS1 or UFS2 superblock magic at one of the places
/// FreeBSD looks.
pub fn probe(dev: &dyn ReadAt) -> bool {
    superblock::probe(dev)
}

/// Open a UFS1/UFS2 filesystem.
pub fn open(dev: DynReader) -> Result<Box<dyn Filesystem>> {
    Ok(Box::new(Ufs::open(dev)?))
}

/// Bounded access to the volume: fragment-addressed, checked against both the filesystem
/// size and the volume size.
pub(crate) struct Volume {
    cache: BlockCache<DynReader>,
    /// Bytes per block.
    bs: u64,
    /// Bytes per fragment.
    fsize: u64,
    /// Fragments present both in the filesystem and on the volume.
    pub limit_frags: u64,
}

impl Volume {
    fn new(dev: DynReader, sb: &Superblock) -> Self {
        let dev_frags = dev.size() / sb.fsize;
        let bs = usize::try_from(sb.bsize).unwrap_or(8192);
        let capacity = (8usize << 20).checked_div(bs).unwrap_or(64).clamp(64, 512);
        Volume {
            cache: BlockCache::new(dev, bs, capacity),
            bs: sb.bsize,
            fsize: sb.fsize,
            limit_frags: sb.size_frags.min(dev_frags),
        }
    }

    fn limit_bytes(&self) -> u64 {
        // limit_frags <= dev.size() / fsize, so this does not overflow.
        self.limit_frags.saturating_mul(self.fsize)
    }

    /// Fail unless `[off, off+len)` lies inside the filesystem and the volume.
    fn check_bytes(&self, off: u64, len: u64, what: &str) -> Result<()> {
        let end = off
            .checked_add(len)
            .ok_or_else(|| corrupt(format!("{what} at byte {off}+{len} overflows")))?;
        if end > self.limit_bytes() {
            return Err(corrupt(format!(
                "{what} at bytes {off}..{end} is past the end of the filesystem ({} bytes)",
                self.limit_bytes()
            )));
        }
        Ok(())
    }

    /// Bytes at a volume offset, checked.
    fn read_bytes(&self, off: u64, buf: &mut [u8], what: &str) -> Result<()> {
        self.check_bytes(off, buf.len() as u64, what)?;
        self.cache.read_at(off, buf)?;
        Ok(())
    }

    /// One whole block starting at fragment `frag` (metadata; cached).
    pub(crate) fn read_fs_block(&self, frag: u64, what: &str) -> Result<Vec<u8>> {
        let off = self.frag_offset(frag)?;
        let mut buf = vec![0u8; usize::try_from(self.bs).map_err(|_| corrupt("block size"))?];
        self.read_bytes(off, &mut buf, what)?;
        Ok(buf)
    }

    fn frag_offset(&self, frag: u64) -> Result<u64> {
        frag.checked_mul(self.fsize)
            .ok_or_else(|| corrupt(format!("fragment {frag} byte offset overflows")))
    }
}

struct Ufs {
    vol: Volume,
    sb: Superblock,
    dir_fmt: dir::Format,
    warnings: Vec<String>,
}

impl Ufs {
    fn open(dev: DynReader) -> Result<Self> {
        let dev_size = dev.size();
        let sb = match superblock::find(&*dev) {
            Some(r) => r?,
            None => return Err(corrupt("no UFS superblock found")),
        };
        let mut warnings = Vec::new();
        let fs_bytes = sb.size_frags.checked_mul(sb.fsize);
        if fs_bytes.is_none_or(|b| b > dev_size) {
            warnings.push(format!(
                "filesystem is {} fragments of {} bytes but the volume only {dev_size} bytes; \
                 data past the end cannot be read",
                sb.size_frags, sb.fsize
            ));
        }
        let vol = Volume::new(dev, &sb);
        let mut fs = Ufs {
            vol,
            dir_fmt: dir::Format {
                endian: sb.endian,
                bsd44: true,
            },
            sb,
            warnings,
        };
        let root = fs.inode(ROOT_INO)?;
        if root.kind() != FileType::Directory {
            return Err(corrupt("root inode is not a directory"));
        }
        // UFS2 always uses the 4.4BSD directory format; UFS1 may use the old one (4.2BSD,
        // Solaris), which only shows in the records themselves.
        if fs.sb.version == superblock::Version::Ufs1 {
            let mut first = vec![0u8; dir::DIRBLKSIZ.min(usize::try_from(root.size).unwrap_or(0))];
            let n = fs.read_data(&root, 0, &mut first)?;
            if dir::looks_old_format(first.get(..n).unwrap_or_default(), fs.sb.endian) {
                fs.dir_fmt.bsd44 = false;
            }
        }
        Ok(fs)
    }

    fn inode(&self, ino: NodeId) -> Result<Inode> {
        let off = self.sb.inode_offset(ino)?;
        let mut raw = vec![0u8; usize::try_from(self.sb.inode_size()).unwrap_or(256)];
        self.vol.read_bytes(off, &mut raw, "inode")?;
        Inode::parse(ino, &raw, &self.sb)
    }

    fn runs(&self, inode: &Inode, start: u64, end: u64, max: usize) -> Result<Vec<Run>> {
        bmap::map(&self.vol, &self.sb, &inode.addrs, start, end, max)
    }

    /// File bytes at `offset`, up to EOF; returns how many were read.
    fn read_data(&self, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if offset >= inode.size || buf.is_empty() {
            return Ok(0);
        }
        let avail = inode.size - offset;
        let n = usize::try_from(avail).map_or(buf.len(), |a| a.min(buf.len()));
        let buf = buf.get_mut(..n).unwrap_or_default();
        if inode.is_short_symlink(&self.sb) {
            let src = usize::try_from(offset)
                .ok()
                .and_then(|o| inode.area.get(o..o.checked_add(n)?))
                .ok_or_else(|| corrupt(format!("inode {}: short symlink overflows", inode.ino)))?;
            buf.copy_from_slice(src);
            return Ok(n);
        }
        let bs = self.sb.bsize;
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
                    let vo = self.volume_offset(run, p, s)?;
                    self.vol.read_bytes(vo, dst, "file data")?;
                }
            }
        }
        Ok(n)
    }

    /// Volume offset of file byte `file_off` inside mapped `run` starting at fragment `phys`.
    fn volume_offset(&self, run: &Run, phys: u64, file_off: u64) -> Result<u64> {
        let run_start = u128::from(run.lblk) * u128::from(self.sb.bsize);
        let delta = u64::try_from(u128::from(file_off).saturating_sub(run_start))
            .map_err(|_| corrupt("run offset overflows"))?;
        self.vol
            .frag_offset(phys)?
            .checked_add(delta)
            .ok_or_else(|| corrupt("volume offset overflows"))
    }

    /// Call `f` on every live entry of directory `inode` until it returns `true`.
    fn scan_dir(
        &self,
        inode: &Inode,
        f: &mut dyn FnMut(&dir::RawEntry<'_>) -> Result<bool>,
    ) -> Result<bool> {
        if inode.kind() != FileType::Directory {
            return Err(FsError::NotADirectory(format!("inode {}", inode.ino)));
        }
        if inode.size > MAX_DIR_BYTES {
            return Err(FsError::Limit(format!(
                "directory inode {} is {} bytes, more than the {MAX_DIR_BYTES}-byte limit",
                inode.ino, inode.size
            )));
        }
        // Chunks are whole blocks, so no record is split between two reads.
        let step = (DIR_CHUNK_BYTES / self.sb.bsize).max(1) * self.sb.bsize;
        let mut buf = Vec::new();
        let mut off = 0u64;
        while off < inode.size {
            let want = (inode.size - off).min(step);
            buf.resize(
                usize::try_from(want).map_err(|_| corrupt("directory chunk"))?,
                0,
            );
            let n = self.read_data(inode, off, &mut buf)?;
            if n == 0 {
                break;
            }
            if dir::scan(buf.get(..n).unwrap_or_default(), self.dir_fmt, f)? {
                return Ok(true);
            }
            off += n as u64;
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
    (
        u64::try_from(s).unwrap_or(u64::MAX),
        u64::try_from(e).unwrap_or(0),
    )
}

impl Filesystem for Ufs {
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
                found = Some(u64::from(e.ino));
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
                node: u64::from(e.ino),
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
        if inode.is_short_symlink(&self.sb) {
            return Ok(None);
        }
        let end = offset.saturating_add(len).min(inode.size);
        if offset >= end {
            return Ok(Some(Vec::new()));
        }
        let bs = self.sb.bsize;
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
                Some(p) => {
                    let vo = self.volume_offset(run, p, s)?;
                    self.vol.check_bytes(vo, e - s, "file data")?;
                    Extent::Mapped {
                        file_offset: s,
                        volume_offset: vo,
                        len: e - s,
                    }
                }
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
