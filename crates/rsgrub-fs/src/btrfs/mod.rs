//! btrfs, read-only, single device.
//!
//! `sb` (superblock copies, crc32c), `chunk` (logical → physical through `sys_chunk_array` and
//! the chunk tree), `tree` (verified nodes and bounded walks), `inode`, `dir` (DIR_ITEM hash
//! lookups, DIR_INDEX listings), `extent` (EXTENT_DATA and zlib/LZO/zstd); this file ties
//! them into a [`Filesystem`].
//!
//! `/` is the default subvolume (`btrfs subvolume set-default`, recorded as the `default`
//! DIR_ITEM of the root tree directory), else the top-level FS tree (5), as SUSE's and Fedora's
//! GRUB do. Upstream GRUB (since commit 82591fa) always opens the top level, and writes paths
//! like `/@/boot/vmlinuz`; so that both kinds of config resolve, a name missing from the root
//! directory of a default subvolume other than 5 is looked up in the top level. Subvolumes
//! appear as directories: a directory entry whose location is a ROOT_ITEM crosses into that
//! subvolume's tree. A [`NodeId`] is `tree slot << 48 | inode number`, where the slot indexes
//! the subvolumes met so far (at most 65,536).
//!
//! Data checksums (the csum tree) are not verified, as in GRUB; tree blocks are. Only the
//! crc32c checksum type is read. RAID5/6 and data on other devices are refused when met.
use crate::{DirEntry, Extent, FileType, Filesystem, FsError, Metadata, NodeId, ReadAt, Result};
use rsgrub_io::{le, DynReader};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

mod chunk;
mod dir;
mod extent;
mod inode;
mod sb;
mod tree;

use extent::{Body, Compression, FileExtent};
use inode::Inode;
use tree::{Node, Root};

pub(crate) const FS: &str = "btrfs";

pub(crate) fn corrupt(what: impl Into<String>) -> FsError {
    FsError::corrupt(FS, what)
}

pub(crate) fn unsupported(what: impl Into<String>) -> FsError {
    FsError::Unsupported {
        fs: FS,
        what: what.into(),
    }
}

/// Standard CRC32C (inverted in and out), as btrfs checksums blocks.
pub(crate) fn crc32c(b: &[u8]) -> u32 {
    !crate::ext4::csum::update(!0, b)
}

/// The raw CRC32C register from `seed`, as btrfs's name hash uses it.
pub(crate) fn crc32c_raw(seed: u32, b: &[u8]) -> u32 {
    crate::ext4::csum::update(seed, b)
}

/// A btrfs key, ordered as the trees order it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub objectid: u64,
    pub ty: u8,
    pub offset: u64,
}

impl Key {
    pub(crate) const LEN: usize = 17;

    pub(crate) fn new(objectid: u64, ty: u8, offset: u64) -> Key {
        Key {
            objectid,
            ty,
            offset,
        }
    }

    pub(crate) fn parse(b: &[u8], off: usize) -> Option<Key> {
        Some(Key {
            objectid: le::u64(b, off)?,
            ty: *b.get(off.checked_add(8)?)?,
            offset: le::u64(b, off.checked_add(9)?)?,
        })
    }
}

const ROOT_ITEM: u8 = 132;
const FS_TREE: u64 = 5;
const ROOT_TREE_DIR: u64 = 6;
/// Inode number of every subvolume's root directory.
const SUBVOL_ROOT_INO: u64 = 256;
const INO_BITS: u32 = 48;
const MAX_TREES: usize = 1 << 16;
/// Most pieces [`Filesystem::extents`] returns.
/// Most chunk lookups one [`Filesystem::extents`] call makes (stripes of 4 KiB and up).
const MAX_MAP_STEPS: u64 = 1 << 22;

/// `true` if the volume carries the btrfs magic in its primary superblock.
pub fn probe(dev: &dyn ReadAt) -> bool {
    sb::probe(dev)
}

/// Open a btrfs filesystem.
pub fn open(dev: DynReader) -> Result<Box<dyn Filesystem>> {
    Ok(Box::new(Btrfs::open(dev)?))
}

struct TreeSlot {
    id: u64,
    root: Option<Root>,
}

type Decompressed = Option<((u64, u64, u64), Arc<Vec<u8>>)>;

pub(crate) struct Btrfs {
    dev: DynReader,
    sb: sb::Superblock,
    chunks: chunk::ChunkMap,
    root_tree: Root,
    trees: Mutex<Vec<TreeSlot>>,
    node_cache: Mutex<HashMap<u64, Arc<Node>>>,
    last_extent: Mutex<Decompressed>,
    /// Tree id of the subvolume that is `/`.
    default_id: u64,
    warnings: Vec<String>,
}

impl Btrfs {
    fn open(dev: DynReader) -> Result<Self> {
        let (sb, warnings) = sb::read(&*dev)?;
        let mut chunks = chunk::ChunkMap::default();
        for (k, item) in &sb.sys_chunks {
            chunks.insert(chunk::Chunk::parse(k, item)?)?;
        }
        let root_tree = Root {
            bytenr: sb.root,
            level: sb.root_level,
        };
        let chunk_root = Root {
            bytenr: sb.chunk_root,
            level: sb.chunk_root_level,
        };
        let mut fs = Btrfs {
            dev,
            sb,
            chunks,
            root_tree,
            trees: Mutex::new(Vec::new()),
            node_cache: Mutex::new(HashMap::new()),
            last_extent: Mutex::new(None),
            default_id: FS_TREE,
            warnings,
        };
        let mut found = Vec::new();
        fs.walk_from(chunk_root, &Key::new(0, 0, 0), &mut |k, d| {
            if k.ty == chunk::CHUNK_ITEM {
                if found.len() >= chunk::MAX_CHUNKS {
                    return Err(FsError::Limit("too many chunks".into()));
                }
                found.push(chunk::Chunk::parse(k, d)?);
            }
            Ok(ControlFlow::Continue(()))
        })?;
        for c in found {
            fs.chunks.insert(c)?;
        }
        fs.default_id = fs.default_subvol()?;
        fs.register(fs.default_id)?;
        let root = fs.inode(fs.root())?;
        if root.kind() != FileType::Directory {
            return Err(corrupt("root directory inode is not a directory"));
        }
        Ok(fs)
    }

    /// The subvolume `set-default` chose, else the FS tree.
    fn default_subvol(&self) -> Result<u64> {
        let key = Key::new(ROOT_TREE_DIR, dir::DIR_ITEM, dir::name_hash(b"default"));
        if let Some(d) = self.find_exact(self.root_tree, &key)? {
            for e in dir::entries(&d)? {
                if e.name == b"default" && e.location.objectid != 0 {
                    return Ok(e.location.objectid);
                }
            }
        }
        Ok(FS_TREE)
    }

    /// Slot of subvolume tree `id`, adding it if new.
    fn register(&self, id: u64) -> Result<u64> {
        let mut t = self
            .trees
            .lock()
            .map_err(|_| corrupt("subvolume table poisoned"))?;
        if let Some(i) = t.iter().position(|s| s.id == id) {
            return Ok(i as u64);
        }
        if t.len() >= MAX_TREES {
            return Err(FsError::Limit(format!("more than {MAX_TREES} subvolumes")));
        }
        t.push(TreeSlot { id, root: None });
        Ok((t.len() - 1) as u64)
    }

    /// Root of the tree in `slot`, from its ROOT_ITEM.
    fn tree(&self, slot: u64) -> Result<Root> {
        let id = {
            let t = self
                .trees
                .lock()
                .map_err(|_| corrupt("subvolume table poisoned"))?;
            let s = usize::try_from(slot)
                .ok()
                .and_then(|i| t.get(i))
                .ok_or_else(|| corrupt(format!("no subvolume slot {slot}")))?;
            if let Some(r) = s.root {
                return Ok(r);
            }
            s.id
        };
        let (k, d) = self
            .find_le(self.root_tree, &Key::new(id, ROOT_ITEM, u64::MAX))?
            .filter(|(k, _)| k.objectid == id && k.ty == ROOT_ITEM)
            .ok_or_else(|| corrupt(format!("subvolume {id} has no ROOT_ITEM")))?;
        let bytenr = le::u64(&d, 176)
            .ok_or_else(|| corrupt(format!("ROOT_ITEM {} is short", k.objectid)))?;
        let level = *d
            .get(238)
            .ok_or_else(|| corrupt(format!("ROOT_ITEM {} is short", k.objectid)))?;
        if level >= tree::MAX_LEVEL {
            return Err(corrupt(format!("subvolume {id} root level {level}")));
        }
        let r = Root { bytenr, level };
        if let Ok(mut t) = self.trees.lock() {
            if let Some(s) = usize::try_from(slot).ok().and_then(|i| t.get_mut(i)) {
                s.root = Some(r);
            }
        }
        Ok(r)
    }

    fn split(&self, node: NodeId) -> Result<(Root, u64)> {
        let slot = node >> INO_BITS;
        let ino = node & ((1 << INO_BITS) - 1);
        Ok((self.tree(slot)?, ino))
    }

    fn make_id(slot: u64, ino: u64) -> Result<NodeId> {
        if ino >> INO_BITS != 0 {
            return Err(FsError::Limit(format!("inode number {ino} is above 2^48")));
        }
        Ok(slot << INO_BITS | ino)
    }

    fn inode(&self, node: NodeId) -> Result<Inode> {
        let (root, ino) = self.split(node)?;
        self.inode_in(root, ino)
    }

    fn inode_in(&self, root: Root, ino: u64) -> Result<Inode> {
        let d = self
            .find_exact(root, &Key::new(ino, inode::INODE_ITEM, 0))?
            .ok_or_else(|| corrupt(format!("inode {ino} has no INODE_ITEM")))?;
        Inode::parse(ino, &d)
    }

    /// The node a directory entry of the tree in `slot` points to.
    fn target(&self, slot: u64, e: &dir::Entry<'_>) -> Result<NodeId> {
        match e.location.ty {
            inode::INODE_ITEM => Self::make_id(slot, e.location.objectid),
            ROOT_ITEM => Self::make_id(self.register(e.location.objectid)?, SUBVOL_ROOT_INO),
            t => Err(corrupt(format!("directory entry points to item type {t}"))),
        }
    }

    /// Call `f(file offset, extent)` on the EXTENT_DATA items of `ino` that may cover
    /// `[start, end)`, in order.
    fn file_extents(
        &self,
        root: Root,
        ino: u64,
        start: u64,
        end: u64,
        f: &mut dyn FnMut(u64, &FileExtent) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        let probe = Key::new(ino, extent::EXTENT_DATA, start);
        let begin = match self.find_le(root, &probe)? {
            Some((k, _)) if k.objectid == ino && k.ty == extent::EXTENT_DATA => k,
            _ => Key::new(ino, extent::EXTENT_DATA, 0),
        };
        self.walk_from(root, &begin, &mut |k, d| {
            if k.objectid != ino || k.ty != extent::EXTENT_DATA || k.offset >= end {
                return Ok(ControlFlow::Break(()));
            }
            let fe = FileExtent::parse(d)?;
            f(k.offset, &fe)
        })
    }

    /// Read `dst.len()` bytes at logical address `l`.
    fn read_logical(&self, mut l: u64, dst: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < dst.len() {
            let m = self.chunks.map(l, self.sb.devid)?;
            let phys = *m.copies.first().ok_or_else(|| corrupt("no copy"))?;
            let n = usize::try_from(m.len)
                .unwrap_or(usize::MAX)
                .min(dst.len() - done);
            let part = dst
                .get_mut(done..done + n)
                .ok_or_else(|| corrupt("read range"))?;
            self.dev.read_at(phys, part)?;
            done += n;
            l = l
                .checked_add(n as u64)
                .ok_or_else(|| corrupt("logical address overflows"))?;
        }
        Ok(())
    }

    /// The decompressed bytes of a compressed regular extent (the last one is cached).
    fn decompressed(&self, fe: &FileExtent) -> Result<Arc<Vec<u8>>> {
        let Body::Regular {
            disk_bytenr,
            disk_num_bytes,
            ram_bytes,
            ..
        } = fe.body
        else {
            return Err(corrupt("not a regular extent"));
        };
        let key = (disk_bytenr, disk_num_bytes, ram_bytes);
        if let Ok(c) = self.last_extent.lock() {
            if let Some((k, v)) = &*c {
                if *k == key {
                    return Ok(v.clone());
                }
            }
        }
        let n = extent::check_disk_bytes(disk_num_bytes)?;
        let mut raw = vec![0u8; n];
        self.read_logical(disk_bytenr, &mut raw)?;
        let v = Arc::new(extent::decompress(
            fe.compression,
            &raw,
            ram_bytes,
            self.sb.sectorsize,
        )?);
        if let Ok(mut c) = self.last_extent.lock() {
            *c = Some((key, v.clone()));
        }
        Ok(v)
    }

    fn read_data(
        &self,
        root: Root,
        ino: u64,
        inode: &Inode,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize> {
        if offset >= inode.size || buf.is_empty() {
            return Ok(0);
        }
        let avail = inode.size - offset;
        let n = usize::try_from(avail).map_or(buf.len(), |a| a.min(buf.len()));
        let buf = buf.get_mut(..n).unwrap_or_default();
        buf.fill(0);
        let end = offset + n as u64;
        self.file_extents(root, ino, offset, end, &mut |o, fe| {
            let e_end = o.saturating_add(fe.len);
            let s = o.max(offset);
            let e = e_end.min(end);
            if s >= e {
                return Ok(ControlFlow::Continue(()));
            }
            let lo = usize::try_from(s - offset).map_err(|_| corrupt("offset"))?;
            let hi = usize::try_from(e - offset).map_err(|_| corrupt("offset"))?;
            let dst = buf.get_mut(lo..hi).ok_or_else(|| corrupt("read range"))?;
            let within = s - o;
            match &fe.body {
                Body::Prealloc => {}
                Body::Regular { disk_bytenr: 0, .. } => {}
                Body::Inline { data, ram_bytes } => {
                    let bytes = if fe.compression == Compression::None {
                        data.clone()
                    } else {
                        extent::decompress(fe.compression, data, *ram_bytes, self.sb.sectorsize)?
                    };
                    copy_from(&bytes, within, dst);
                }
                Body::Regular {
                    disk_bytenr,
                    offset: eoff,
                    ..
                } => {
                    if fe.compression == Compression::None {
                        let l = disk_bytenr
                            .checked_add(*eoff)
                            .and_then(|x| x.checked_add(within))
                            .ok_or_else(|| corrupt("extent address overflows"))?;
                        self.read_logical(l, dst)?;
                    } else {
                        let bytes = self.decompressed(fe)?;
                        copy_from(&bytes, eoff.saturating_add(within), dst);
                    }
                }
            }
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(n)
    }
}

/// Copy `src[from..]` into `dst`; bytes past the end of `src` stay zero.
fn copy_from(src: &[u8], from: u64, dst: &mut [u8]) {
    let Ok(from) = usize::try_from(from) else {
        return;
    };
    let avail = src.get(from..).unwrap_or_default();
    let k = avail.len().min(dst.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..k), avail.get(..k)) {
        d.copy_from_slice(s);
    }
}

impl Filesystem for Btrfs {
    fn name(&self) -> &'static str {
        FS
    }

    fn root(&self) -> NodeId {
        SUBVOL_ROOT_INO
    }

    fn metadata(&self, node: NodeId) -> Result<Metadata> {
        let i = self.inode(node)?;
        Ok(Metadata {
            kind: i.kind(),
            size: i.size,
            mode: Some(i.mode),
        })
    }

    fn lookup(&self, dir: NodeId, name: &[u8]) -> Result<Option<NodeId>> {
        let (root, ino) = self.split(dir)?;
        if self.inode_in(root, ino)?.kind() != FileType::Directory {
            return Err(FsError::NotADirectory(format!("inode {ino}")));
        }
        let key = Key::new(ino, dir::DIR_ITEM, dir::name_hash(name));
        if let Some(d) = self.find_exact(root, &key)? {
            for e in dir::entries(&d)? {
                if e.name == name {
                    return self.target(dir >> INO_BITS, &e).map(Some);
                }
            }
        }
        if dir == self.root() && self.default_id != FS_TREE {
            // Upstream GRUB's view: paths from the top-level subvolume.
            let top = Self::make_id(self.register(FS_TREE)?, SUBVOL_ROOT_INO)?;
            return self.lookup(top, name);
        }
        Ok(None)
    }

    fn read_dir(&self, node: NodeId) -> Result<Vec<DirEntry>> {
        let (root, ino) = self.split(node)?;
        if self.inode_in(root, ino)?.kind() != FileType::Directory {
            return Err(FsError::NotADirectory(format!("inode {ino}")));
        }
        let slot = node >> INO_BITS;
        let mut out = Vec::new();
        self.walk_from(root, &Key::new(ino, dir::DIR_INDEX, 0), &mut |k, d| {
            if k.objectid != ino || k.ty != dir::DIR_INDEX {
                return Ok(ControlFlow::Break(()));
            }
            for e in dir::entries(d)? {
                crate::dir_limit(out.len(), format_args!("directory inode {ino}"))?;
                let kind = if e.location.ty == ROOT_ITEM {
                    Some(FileType::Directory)
                } else {
                    e.kind()
                };
                out.push(DirEntry {
                    name: e.name.to_vec(),
                    node: self.target(slot, &e)?,
                    kind,
                });
            }
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    fn read_link(&self, node: NodeId) -> Result<Vec<u8>> {
        let (root, ino) = self.split(node)?;
        let i = self.inode_in(root, ino)?;
        if i.kind() != FileType::Symlink {
            return Err(FsError::NotAFile(format!(
                "inode {ino} (expected a symbolic link)"
            )));
        }
        if i.size > crate::path::MAX_LINK_LEN {
            return Err(FsError::Limit(format!(
                "symlink inode {ino} target of {} bytes is longer than {}",
                i.size,
                crate::path::MAX_LINK_LEN
            )));
        }
        let len = usize::try_from(i.size).map_err(|_| corrupt("symlink size"))?;
        let mut out = vec![0u8; len];
        let n = self.read_data(root, ino, &i, 0, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    fn read_at(&self, node: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let (root, ino) = self.split(node)?;
        let i = self.inode_in(root, ino)?;
        if i.kind() == FileType::Directory {
            return Err(FsError::NotAFile(format!("inode {ino}")));
        }
        self.read_data(root, ino, &i, offset, buf)
    }

    fn extents(&self, node: NodeId, offset: u64, len: u64) -> Result<Option<Vec<Extent>>> {
        let (root, ino) = self.split(node)?;
        let i = self.inode_in(root, ino)?;
        let end = offset.saturating_add(len).min(i.size);
        let mut out = Vec::new();
        if offset >= end {
            return Ok(Some(out));
        }
        let mut plain = true;
        let mut next = offset;
        let dev_size = self.dev.size();
        let mut steps = 0u64;
        self.file_extents(root, ino, offset, end, &mut |o, fe| {
            let s = o.max(offset);
            let e = o.saturating_add(fe.len).min(end);
            if s >= e {
                return Ok(ControlFlow::Continue(()));
            }
            if s < next {
                return Err(corrupt(format!("inode {ino}: file extents overlap at {s}")));
            }
            if s > next {
                crate::push_extent(
                    &mut out,
                    Extent::Hole {
                        file_offset: next,
                        len: s - next,
                    },
                )?;
            }
            match &fe.body {
                Body::Inline { .. } => {
                    plain = false;
                    return Ok(ControlFlow::Break(()));
                }
                Body::Prealloc | Body::Regular { disk_bytenr: 0, .. } => {
                    crate::push_extent(
                        &mut out,
                        Extent::Hole {
                            file_offset: s,
                            len: e - s,
                        },
                    )?;
                }
                Body::Regular {
                    disk_bytenr,
                    offset: eoff,
                    ..
                } => {
                    if fe.compression != Compression::None {
                        plain = false;
                        return Ok(ControlFlow::Break(()));
                    }
                    let mut pos = s;
                    while pos < e {
                        steps += 1;
                        if steps > MAX_MAP_STEPS {
                            return Err(FsError::Limit(format!(
                                "inode {ino}: mapping needs more than {MAX_MAP_STEPS} steps"
                            )));
                        }
                        let l = disk_bytenr
                            .checked_add(*eoff)
                            .and_then(|x| x.checked_add(pos - o))
                            .ok_or_else(|| corrupt("extent address overflows"))?;
                        let m = self.chunks.map(l, self.sb.devid)?;
                        let phys = *m.copies.first().ok_or_else(|| corrupt("no copy"))?;
                        let n = m.len.min(e - pos);
                        if phys.checked_add(n).is_none_or(|x| x > dev_size) {
                            return Err(corrupt(format!(
                                "inode {ino}: extent at physical {phys}+{n} is past the volume end"
                            )));
                        }
                        crate::push_extent(
                            &mut out,
                            Extent::Mapped {
                                file_offset: pos,
                                volume_offset: phys,
                                len: n,
                            },
                        )?;
                        pos += n;
                    }
                }
            }
            next = e;
            Ok(ControlFlow::Continue(()))
        })?;
        if !plain {
            return Ok(None);
        }
        if end > next {
            crate::push_extent(
                &mut out,
                Extent::Hole {
                    file_offset: next,
                    len: end - next,
                },
            )?;
        }
        Ok(Some(out))
    }

    fn uuid(&self) -> Option<String> {
        Some(sb::uuid_string(&self.sb.fsid))
    }

    fn label(&self) -> Option<String> {
        (!self.sb.label.is_empty()).then(|| String::from_utf8_lossy(&self.sb.label).into_owned())
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}
