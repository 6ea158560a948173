//! XFS v4 and v5, read-only.
//!
//! `sb` (superblock, geometry checks, v5 CRC), `inode` (dinode v1/v2/v3, fork formats,
//! nrext64 counts), `bmap` (extent records and the bmbt B+tree), `dir` (shortform, block,
//! leaf and node directories, with or without ftype), `symlink` (local and remote). This file
//! ties them into a [`Filesystem`].
//!
//! Inodes are found directly from their numbers (AG, block, index), so sparse inode chunks
//! and multiple allocation groups need nothing special. Directory names are found by reading
//! the data blocks linearly (the hash leaf and free index are not used). Unwritten extents
//! read as zeros. The log is never replayed: a filesystem that was not cleanly unmounted is
//! read as is, with a warning (`log`). Realtime-device files are not supported.
//!
//! File data is read per extent straight from the volume (big reads bypass the block cache);
//! the last file's extent list is kept so that sequential reads do not re-walk its bmbt.
use crate::{DirEntry, Extent, FileType, Filesystem, FsError, Metadata, NodeId, ReadAt, Result};
use rsgrub_io::{BlockCache, DynReader};
use std::sync::{Arc, Mutex};

mod bmap;
mod dir;
mod inode;
mod log;
mod sb;
mod symlink;

use bmap::Ext;
use inode::{Format, Inode};
use sb::Superblock;

pub(crate) const FS: &str = "xfs";

pub(crate) fn corrupt(what: impl Into<String>) -> FsError {
    FsError::corrupt(FS, what)
}

/// Largest directory (data section) scanned.
const MAX_DIR_BYTES: u64 = 256 << 20;
/// Most pieces [`Filesystem::extents`] returns for one request.
use crate::MAX_EXTENTS;

/// `true` if the volume starts with the XFS superblock magic.
pub fn probe(dev: &dyn ReadAt) -> bool {
    let mut m = [0u8; 4];
    dev.read_at(0, &mut m).is_ok() && u32::from_be_bytes(m) == sb::MAGIC
}

/// Open an XFS filesystem.
pub fn open(dev: DynReader) -> Result<Box<dyn Filesystem>> {
    Ok(Box::new(Xfs::open(dev)?))
}

struct Xfs {
    cache: BlockCache<DynReader>,
    sb: Superblock,
    /// Volume blocks that exist both in the filesystem and on the device.
    limit: u64,
    warnings: Vec<String>,
    last_map: Mutex<Option<(u64, Arc<Vec<Ext>>)>>,
}

impl Xfs {
    fn open(dev: DynReader) -> Result<Self> {
        let dev_size = dev.size();
        if dev_size < sb::READ_LEN as u64 {
            return Err(corrupt(format!("volume of {dev_size} bytes is too small")));
        }
        let mut raw = vec![0u8; sb::READ_LEN];
        dev.read_at(0, &mut raw)?;
        let sector = |n: usize| -> Result<Vec<u8>> {
            let mut v = vec![0u8; n];
            dev.read_at(0, &mut v)?;
            Ok(v)
        };
        let sb = Superblock::parse(&raw, &sector)?;
        let mut warnings = sb.warnings.clone();
        let dev_blocks = dev_size / sb.block_size;
        if sb.dblocks > dev_blocks {
            warnings.push(format!(
                "filesystem is {} blocks but the volume only {dev_blocks}; \
                 data past the end cannot be read",
                sb.dblocks
            ));
        }
        if sb.logstart != 0 {
            let st = sb
                .fsb_to_linear(sb.logstart, sb.logblocks)
                .ok()
                .and_then(|b| b.checked_mul(sb.block_size))
                .map(|off| log::state(&*dev, off, sb.logblocks * sb.block_size));
            match st {
                Some(log::State::Clean) => {}
                Some(log::State::Dirty) => warnings.push(
                    "log is dirty (not cleanly unmounted); read as is, without replay".into(),
                ),
                _ => warnings.push("log state could not be determined; read as is".into()),
            }
        }
        let bs = usize::try_from(sb.block_size).map_err(|_| corrupt("block size"))?;
        let capacity = ((8usize << 20) / bs).clamp(64, 256);
        let fs = Xfs {
            cache: BlockCache::new(dev, bs, capacity),
            limit: sb.dblocks.min(dev_blocks),
            sb,
            warnings,
            last_map: Mutex::new(None),
        };
        let root = fs.inode(fs.sb.rootino)?;
        if root.kind() != FileType::Directory {
            return Err(corrupt("root inode is not a directory"));
        }
        Ok(fs)
    }

    fn check_blocks(&self, pblk: u64, count: u64) -> Result<()> {
        match pblk.checked_add(count) {
            Some(e) if e <= self.limit => Ok(()),
            _ => Err(corrupt(format!(
                "blocks {pblk}+{count} are past the end of the volume ({} blocks)",
                self.limit
            ))),
        }
    }

    /// One metadata block at linear block `pblk`.
    fn read_block(&self, pblk: u64) -> Result<Vec<u8>> {
        self.check_blocks(pblk, 1)?;
        let mut v = vec![0u8; usize::try_from(self.sb.block_size).unwrap_or(4096)];
        self.cache.read_at(pblk * self.sb.block_size, &mut v)?;
        Ok(v)
    }

    fn inode(&self, ino: u64) -> Result<Inode> {
        let off = self.sb.inode_offset(ino)?;
        let isz = self.sb.inode_size;
        let block = off / self.sb.block_size;
        self.check_blocks(block, 1)?;
        let mut raw = vec![0u8; usize::try_from(isz).unwrap_or(256)];
        self.cache.read_at(off, &mut raw)?;
        Inode::parse(ino, &raw, &self.sb)
    }

    /// The extent list of an extents- or btree-format inode.
    fn map(&self, inode: &Inode) -> Result<Arc<Vec<Ext>>> {
        if let Ok(g) = self.last_map.lock() {
            if let Some((ino, m)) = g.as_ref() {
                if *ino == inode.ino {
                    return Ok(m.clone());
                }
            }
        }
        let v = match inode.format {
            Format::Extents => bmap::from_fork(&inode.fork, inode.nextents, &self.sb)?,
            Format::Btree => bmap::from_btree(&inode.fork, inode.nextents, &self.sb, &|b| {
                self.read_block(b)
            })?,
            _ => {
                return Err(corrupt(format!(
                    "inode {} has no block map ({:?})",
                    inode.ino, inode.format
                )))
            }
        };
        let m = Arc::new(v);
        if let Ok(mut g) = self.last_map.lock() {
            *g = Some((inode.ino, m.clone()));
        }
        Ok(m)
    }

    /// Calls `f(file_start, file_end, Some(volume_offset) | None)` for each piece of
    /// `[offset, end)` in order (holes and unwritten extents as `None`).
    fn pieces(
        &self,
        map: &[Ext],
        offset: u64,
        end: u64,
        f: &mut dyn FnMut(u64, u64, Option<u64>) -> Result<()>,
    ) -> Result<()> {
        let bs = self.sb.block_size;
        // Extent ends in bytes were checked to fit u64 when decoded.
        let first = map.partition_point(|e| (e.off + e.len) * bs <= offset);
        let mut pos = offset;
        for e in map.get(first..).unwrap_or_default() {
            let es = e.off * bs;
            if es >= end {
                break;
            }
            let ee = ((e.off + e.len) * bs).min(end);
            if es > pos {
                f(pos, es, None)?;
                pos = es;
            }
            if e.unwritten {
                f(pos, ee, None)?;
            } else {
                self.check_blocks(e.pblk, e.len)?;
                let vo = (e.pblk * bs)
                    .checked_add(pos - es)
                    .ok_or_else(|| corrupt("volume offset overflows"))?;
                f(pos, ee, Some(vo))?;
            }
            pos = ee;
        }
        if pos < end {
            f(pos, end, None)?;
        }
        Ok(())
    }

    /// Bytes `[offset, offset+buf.len())` of a block-mapped inode (not clipped to EOF).
    fn read_mapped(&self, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<()> {
        let map = self.map(inode)?;
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or_else(|| corrupt("read range overflows"))?;
        self.pieces(&map, offset, end, &mut |s, e, vo| {
            let lo = usize::try_from(s - offset).map_err(|_| corrupt("read offset"))?;
            let hi = usize::try_from(e - offset).map_err(|_| corrupt("read offset"))?;
            let dst = buf
                .get_mut(lo..hi)
                .ok_or_else(|| corrupt("read range outside the buffer"))?;
            match vo {
                None => dst.fill(0),
                Some(v) => self.cache.read_at(v, dst)?,
            }
            Ok(())
        })
    }

    fn read_data(&self, inode: &Inode, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if offset >= inode.size || buf.is_empty() {
            return Ok(0);
        }
        let avail = inode.size - offset;
        let n = usize::try_from(avail).map_or(buf.len(), |a| a.min(buf.len()));
        let buf = buf.get_mut(..n).unwrap_or_default();
        match inode.format {
            Format::Local => {
                let src = usize::try_from(offset)
                    .ok()
                    .and_then(|o| inode.fork.get(o..o.checked_add(n)?))
                    .ok_or_else(|| {
                        corrupt(format!("inode {}: local data ends before size", inode.ino))
                    })?;
                buf.copy_from_slice(src);
            }
            Format::Extents | Format::Btree => self.read_mapped(inode, offset, buf)?,
            Format::Device => return Err(FsError::NotAFile(format!("inode {}", inode.ino))),
        }
        Ok(n)
    }

    fn scan_dir(&self, inode: &Inode, f: &mut dir::Visit<'_>) -> Result<bool> {
        if inode.kind() != FileType::Directory {
            return Err(FsError::NotADirectory(format!("inode {}", inode.ino)));
        }
        let ftype = self.sb.ftype;
        match inode.format {
            Format::Local => return dir::scan_shortform(&inode.fork, ftype, f),
            Format::Extents | Format::Btree => {}
            Format::Device => return Err(corrupt("directory with a device fork")),
        }
        let size = inode.size.min(dir::LEAF_OFFSET);
        if size > MAX_DIR_BYTES {
            return Err(FsError::Limit(format!(
                "directory inode {} is {size} bytes, more than {MAX_DIR_BYTES}",
                inode.ino
            )));
        }
        let map = self.map(inode)?;
        let dbs = self.sb.dir_block_size();
        let v5 = self.sb.version == 5;
        let mut buf = vec![0u8; usize::try_from(dbs).unwrap_or(4096)];
        let bs = self.sb.block_size;
        // Visit the mapped, written directory blocks below `size`.
        let mut db = 0u64;
        for e in map.iter() {
            let es = e.off * bs;
            if es >= size {
                break;
            }
            if e.unwritten {
                continue;
            }
            let ee = ((e.off + e.len) * bs).min(size);
            db = db.max(es / dbs);
            while db * dbs < ee {
                self.read_mapped(inode, db * dbs, &mut buf)?;
                if dir::scan_block(&buf, v5, ftype, f)? {
                    return Ok(true);
                }
                db += 1;
            }
        }
        Ok(false)
    }
}

impl Filesystem for Xfs {
    fn name(&self) -> &'static str {
        FS
    }

    fn root(&self) -> NodeId {
        self.sb.rootino
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
                found = Some(e.ino);
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
                node: e.ino,
                kind: e.ftype,
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
                "symlink inode {node} target of {} bytes is too long",
                inode.size
            )));
        }
        match inode.format {
            Format::Local => symlink::local(&inode.fork, inode.size),
            Format::Extents | Format::Btree => {
                let bs = self.sb.block_size;
                symlink::remote(self.sb.version == 5, inode.size, bs, &|i| {
                    let mut v = vec![0u8; usize::try_from(bs).unwrap_or(4096)];
                    let off = i.checked_mul(bs).ok_or_else(|| corrupt("symlink block"))?;
                    self.read_mapped(&inode, off, &mut v)?;
                    Ok(v)
                })
            }
            Format::Device => Err(corrupt(format!("symlink inode {node} has a device fork"))),
        }
    }

    fn read_at(&self, node: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let inode = self.inode(node)?;
        if inode.kind() == FileType::Directory {
            return Err(FsError::NotAFile(format!("inode {node}")));
        }
        self.read_data(&inode, offset, buf)
    }

    fn extents(&self, node: NodeId, offset: u64, len: u64) -> Result<Option<Vec<Extent>>> {
        let inode = self.inode(node)?;
        if !matches!(inode.format, Format::Extents | Format::Btree) {
            return Ok(None);
        }
        let end = offset.saturating_add(len).min(inode.size);
        if offset >= end {
            return Ok(Some(Vec::new()));
        }
        let map = self.map(&inode)?;
        let mut out: Vec<Extent> = Vec::new();
        self.pieces(&map, offset, end, &mut |s, e, vo| {
            if out.len() >= MAX_EXTENTS {
                return Err(FsError::Limit(format!(
                    "file is split into more than {MAX_EXTENTS} pieces"
                )));
            }
            out.push(match vo {
                None => Extent::Hole {
                    file_offset: s,
                    len: e - s,
                },
                Some(v) => Extent::Mapped {
                    file_offset: s,
                    volume_offset: v,
                    len: e - s,
                },
            });
            Ok(())
        })?;
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
