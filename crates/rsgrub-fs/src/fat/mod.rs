//! FAT12/16/32 with VFAT long names, read-only — the EFI system partition's filesystem.
//!
//! One module per on-disk structure: `bpb` (boot sector geometry, FAT type, serial), `table`
//! (the FAT: cluster chains, bounded and loop-checked, as runs of contiguous clusters), `dir`
//! (short entries, VFAT long names with checksum check, the volume label). This file ties them
//! into a [`Filesystem`].
//!
//! A node id is the volume byte offset of a file's short directory entry; the root is 0 (the
//! boot sector, never a directory entry). As on GRUB, lookups ignore case (Unicode lower-case
//! folding, which covers ASCII), the label is the root directory's volume-label entry, and the
//! UUID is the serial number as `XXXX-XXXX` in upper-case hex. FSInfo is ignored.
//!
//! File data is read per run of contiguous clusters: one read on the volume per run, and
//! [`Filesystem::extents`] gives the same runs as volume byte ranges for `copy_file_range`.
//! The run list of the last few files and the entries of the last few directories are cached.
use crate::{DirEntry, Extent, FileType, Filesystem, FsError, Metadata, NodeId, ReadAt, Result};
use rsgrub_io::{BlockCache, DynReader};
use std::sync::{Arc, Mutex};

mod bpb;
pub(crate) mod dir;
mod table;

use bpb::{Bpb, Kind};
use dir::{Listing, Short};
use table::{Run, Table};

/// Driver name in errors.
pub(crate) const FS: &str = "fat";

pub(crate) fn corrupt(what: impl Into<String>) -> FsError {
    FsError::corrupt(FS, what)
}

const ROOT: NodeId = 0;
/// A FAT directory has at most 65536 entries (the specification's limit).
const MAX_DIR_BYTES: u64 = 65536 * 32;
/// Most pieces [`Filesystem::extents`] returns for one request.
const MAX_EXTENTS: usize = 1 << 18;
/// Cached run lists and directory listings.
const CACHED: usize = 8;

/// `true` if the volume starts with a FAT boot sector.
pub fn probe(dev: &dyn ReadAt) -> bool {
    let mut b = [0u8; 512];
    dev.read_at(0, &mut b).is_ok() && bpb::looks_like_fat(&b)
}

/// Open a FAT12/16/32 filesystem.
pub fn open(dev: DynReader) -> Result<Box<dyn Filesystem>> {
    Ok(Box::new(Fat::open(dev)?))
}

/// A tiny LRU of shared values.
struct Lru<K, V> {
    v: Vec<(K, Arc<V>)>,
}

impl<K: PartialEq + Copy, V> Lru<K, V> {
    fn get(&mut self, k: K) -> Option<Arc<V>> {
        let pos = self.v.iter().position(|(key, _)| *key == k)?;
        let item = self.v.remove(pos);
        let val = item.1.clone();
        self.v.push(item);
        Some(val)
    }
    fn put(&mut self, k: K, val: Arc<V>) {
        if self.v.len() >= CACHED {
            self.v.remove(0);
        }
        self.v.push((k, val));
    }
}

/// Where a directory's entries are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirLoc {
    /// FAT12/16 fixed root region.
    FixedRoot,
    /// A cluster chain.
    Chain(u32),
}

enum Node {
    Root,
    Entry(Short),
}

struct Fat {
    dev: DynReader,
    meta: BlockCache<DynReader>,
    bpb: Bpb,
    table: Table,
    label: Option<String>,
    warnings: Vec<String>,
    chains: Mutex<Lru<(u32, u64), Vec<Run>>>,
    dirs: Mutex<Lru<DirLoc, Listing>>,
}

fn poisoned() -> FsError {
    FsError::Io(std::io::Error::other("fat cache poisoned"))
}

impl Fat {
    fn open(dev: DynReader) -> Result<Self> {
        let mut boot = [0u8; 512];
        dev.read_at(0, &mut boot)
            .map_err(|_| corrupt("volume is too small to hold a boot sector"))?;
        let bpb = Bpb::parse(&boot)?;
        let size = dev.size();
        let mut warnings = Vec::new();
        let fat_end = bpb
            .fat_offset
            .checked_add(bpb.fat_bytes)
            .ok_or_else(|| corrupt("FAT end overflows"))?;
        if fat_end > size || bpb.data_offset > size {
            return Err(corrupt(format!(
                "the FAT or root directory ends past the volume's {size} bytes"
            )));
        }
        if bpb.volume_bytes > size {
            warnings.push(format!(
                "filesystem is {} bytes but the volume only {size}; data past the end \
                 cannot be read",
                bpb.volume_bytes
            ));
        }
        let table = Table::new(dev.clone(), &bpb);
        let meta = BlockCache::new(dev.clone(), 4096, 256);
        let mut fs = Fat {
            dev,
            meta,
            bpb,
            table,
            label: None,
            warnings,
            chains: Mutex::new(Lru { v: Vec::new() }),
            dirs: Mutex::new(Lru { v: Vec::new() }),
        };
        let root = fs.listing(fs.root_loc())?;
        fs.label = root.label.clone().filter(|l| !l.is_empty());
        Ok(fs)
    }

    fn fat32(&self) -> bool {
        self.bpb.kind == Kind::Fat32
    }

    fn root_loc(&self) -> DirLoc {
        if self.fat32() {
            DirLoc::Chain(self.bpb.root_cluster)
        } else {
            DirLoc::FixedRoot
        }
    }

    fn node(&self, id: NodeId) -> Result<Node> {
        if id == ROOT {
            return Ok(Node::Root);
        }
        let mut e = [0u8; dir::ENTRY];
        self.meta.read_at(id, &mut e)?;
        let s = Short::parse(&e, self.fat32())?;
        if s.attr & dir::ATTR_VOLUME_ID != 0 || e.first().is_some_and(|&b| b == 0 || b == 0xE5) {
            return Err(corrupt(format!(
                "node {id} is not a file's directory entry"
            )));
        }
        Ok(Node::Entry(s))
    }

    fn dir_loc(&self, id: NodeId) -> Result<DirLoc> {
        match self.node(id)? {
            Node::Root => Ok(self.root_loc()),
            Node::Entry(s) if s.is_dir() => Ok(if s.cluster == 0 {
                // As GRUB: a directory entry with cluster 0 refers to the root.
                self.root_loc()
            } else {
                DirLoc::Chain(s.cluster)
            }),
            Node::Entry(_) => Err(FsError::NotADirectory(format!("node {id}"))),
        }
    }

    /// The runs of a chain, walking at most `max` clusters (cached).
    fn runs(&self, first: u32, max: u64) -> Result<Arc<Vec<Run>>> {
        if let Some(r) = self
            .chains
            .lock()
            .map_err(|_| poisoned())?
            .get((first, max))
        {
            return Ok(r);
        }
        let runs = Arc::new(self.table.chain(first, max)?);
        self.chains
            .lock()
            .map_err(|_| poisoned())?
            .put((first, max), runs.clone());
        Ok(runs)
    }

    /// Volume offset and byte length of a run.
    fn run_bytes(&self, r: &Run) -> Result<(u64, u64)> {
        let off = self.bpb.cluster_offset(r.cluster)?;
        let len = u64::from(r.count)
            .checked_mul(self.bpb.cluster)
            .ok_or_else(|| corrupt("run length overflows"))?;
        Ok((off, len))
    }

    fn listing(&self, loc: DirLoc) -> Result<Arc<Listing>> {
        if let Some(l) = self.dirs.lock().map_err(|_| poisoned())?.get(loc) {
            return Ok(l);
        }
        let fat32 = self.fat32();
        let listing = match loc {
            DirLoc::FixedRoot => {
                let len = usize::try_from(self.bpb.root_bytes)
                    .map_err(|_| corrupt("root directory size"))?;
                let mut buf = vec![0u8; len];
                self.meta.read_at(self.bpb.root_offset, &mut buf)?;
                let base = self.bpb.root_offset;
                dir::parse(&buf, fat32, &|p| {
                    base.checked_add(p as u64)
                        .ok_or_else(|| corrupt("directory offset overflows"))
                })?
            }
            DirLoc::Chain(first) => {
                let cap = (MAX_DIR_BYTES / self.bpb.cluster).max(1);
                let runs = self.table.chain(first, cap + 1)?;
                if table::total(&runs) > cap {
                    return Err(FsError::Limit(format!(
                        "directory at cluster {first} is larger than {MAX_DIR_BYTES} bytes"
                    )));
                }
                let mut buf = Vec::new();
                // (buffer start, volume offset) per run.
                let mut segs: Vec<(usize, u64)> = Vec::with_capacity(runs.len());
                for r in &runs {
                    let (off, len) = self.run_bytes(r)?;
                    let start = buf.len();
                    let len = usize::try_from(len).map_err(|_| corrupt("directory size"))?;
                    buf.resize(
                        start
                            .checked_add(len)
                            .ok_or_else(|| corrupt("directory size"))?,
                        0,
                    );
                    let dst = buf
                        .get_mut(start..)
                        .ok_or_else(|| corrupt("directory buffer"))?;
                    self.meta.read_at(off, dst)?;
                    segs.push((start, off));
                }
                dir::parse(&buf, fat32, &|p| {
                    let seg = segs
                        .iter()
                        .rev()
                        .find(|(s, _)| *s <= p)
                        .ok_or_else(|| corrupt("directory offset"))?;
                    seg.1
                        .checked_add((p - seg.0) as u64)
                        .ok_or_else(|| corrupt("directory offset overflows"))
                })?
            }
        };
        if listing.entries.len() > crate::MAX_DIR_ENTRIES {
            return Err(FsError::Limit(format!(
                "directory has more than {} entries",
                crate::MAX_DIR_ENTRIES
            )));
        }
        let listing = Arc::new(listing);
        self.dirs
            .lock()
            .map_err(|_| poisoned())?
            .put(loc, listing.clone());
        Ok(listing)
    }

    /// A regular file's short entry.
    fn file(&self, id: NodeId) -> Result<Short> {
        match self.node(id)? {
            Node::Entry(s) if !s.is_dir() => Ok(s),
            _ => Err(FsError::NotAFile(format!("node {id}"))),
        }
    }

    /// The runs holding a file's data: exactly enough clusters for its size.
    fn file_runs(&self, s: &Short) -> Result<Arc<Vec<Run>>> {
        let need = u64::from(s.size).div_ceil(self.bpb.cluster);
        if need == 0 {
            return Ok(Arc::new(Vec::new()));
        }
        if s.cluster == 0 {
            return Err(corrupt(format!(
                "file of {} bytes has no first cluster",
                s.size
            )));
        }
        let runs = self.runs(s.cluster, need)?;
        let got = table::total(&runs);
        if got < need {
            return Err(corrupt(format!(
                "file of {} bytes needs {need} clusters but its chain from {} has {got}",
                s.size, s.cluster
            )));
        }
        Ok(runs)
    }

    /// Pieces of `[offset, end)` of a file: (file offset, volume offset, length).
    fn pieces(&self, runs: &[Run], offset: u64, end: u64) -> Result<Vec<(u64, u64, u64)>> {
        let cs = self.bpb.cluster;
        let first = offset / cs;
        // The run holding cluster index `first`.
        let start = runs.partition_point(|r| r.index + u64::from(r.count) <= first);
        let mut out = Vec::new();
        for r in runs.get(start..).unwrap_or_default() {
            let rs = r
                .index
                .checked_mul(cs)
                .ok_or_else(|| corrupt("offset overflows"))?;
            if rs >= end {
                break;
            }
            let (voff, vlen) = self.run_bytes(r)?;
            let re = rs
                .checked_add(vlen)
                .ok_or_else(|| corrupt("offset overflows"))?;
            let s = rs.max(offset);
            let e = re.min(end);
            if s < e {
                let vo = voff
                    .checked_add(s - rs)
                    .ok_or_else(|| corrupt("volume offset overflows"))?;
                out.push((s, vo, e - s));
            }
        }
        Ok(out)
    }
}

impl Filesystem for Fat {
    fn name(&self) -> &'static str {
        FS
    }

    fn root(&self) -> NodeId {
        ROOT
    }

    fn metadata(&self, node: NodeId) -> Result<Metadata> {
        Ok(match self.node(node)? {
            Node::Root => Metadata {
                kind: FileType::Directory,
                size: 0,
                mode: None,
            },
            Node::Entry(s) if s.is_dir() => Metadata {
                kind: FileType::Directory,
                size: 0,
                mode: None,
            },
            Node::Entry(s) => Metadata {
                kind: FileType::Regular,
                size: u64::from(s.size),
                mode: None,
            },
        })
    }

    fn lookup(&self, dir: NodeId, name: &[u8]) -> Result<Option<NodeId>> {
        let l = self.listing(self.dir_loc(dir)?)?;
        if let Some(e) = l.entries.iter().find(|e| e.name == name) {
            return Ok(Some(e.offset));
        }
        Ok(l.entries
            .iter()
            .find(|e| dir::fold_eq(&e.name, name))
            .map(|e| e.offset))
    }

    fn read_dir(&self, dir: NodeId) -> Result<Vec<DirEntry>> {
        let l = self.listing(self.dir_loc(dir)?)?;
        Ok(l.entries
            .iter()
            .map(|e| DirEntry {
                name: e.name.clone(),
                node: e.offset,
                kind: Some(if e.short.is_dir() {
                    FileType::Directory
                } else {
                    FileType::Regular
                }),
            })
            .collect())
    }

    fn read_link(&self, node: NodeId) -> Result<Vec<u8>> {
        Err(FsError::NotAFile(format!(
            "node {node} (FAT has no symbolic links)"
        )))
    }

    fn read_at(&self, node: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let s = self.file(node)?;
        let size = u64::from(s.size);
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let n = usize::try_from(size - offset).map_or(buf.len(), |a| a.min(buf.len()));
        let end = offset + n as u64; // ≤ size
        let runs = self.file_runs(&s)?;
        for (fo, vo, len) in self.pieces(&runs, offset, end)? {
            let lo = usize::try_from(fo - offset).map_err(|_| corrupt("read offset"))?;
            let hi = lo
                .checked_add(usize::try_from(len).map_err(|_| corrupt("read length"))?)
                .ok_or_else(|| corrupt("read length"))?;
            let dst = buf
                .get_mut(lo..hi)
                .ok_or_else(|| corrupt("read range outside the buffer"))?;
            self.meta.read_at(vo, dst)?;
        }
        Ok(n)
    }

    fn extents(&self, node: NodeId, offset: u64, len: u64) -> Result<Option<Vec<Extent>>> {
        let s = self.file(node)?;
        let end = offset.saturating_add(len).min(u64::from(s.size));
        if offset >= end {
            return Ok(Some(Vec::new()));
        }
        let runs = self.file_runs(&s)?;
        let pieces = self.pieces(&runs, offset, end)?;
        if pieces.len() > MAX_EXTENTS {
            return Err(FsError::Limit(format!(
                "file is split into more than {MAX_EXTENTS} pieces"
            )));
        }
        let size = self.dev.size();
        let mut out = Vec::with_capacity(pieces.len());
        for (fo, vo, l) in pieces {
            if vo.checked_add(l).is_none_or(|e| e > size) {
                return Err(corrupt(format!(
                    "file data at {vo}+{l} is past the end of the volume ({size} bytes)"
                )));
            }
            out.push(Extent::Mapped {
                file_offset: fo,
                volume_offset: vo,
                len: l,
            });
        }
        Ok(Some(out))
    }

    fn uuid(&self) -> Option<String> {
        Some(self.bpb.uuid())
    }

    fn label(&self) -> Option<String> {
        self.label.clone()
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}
