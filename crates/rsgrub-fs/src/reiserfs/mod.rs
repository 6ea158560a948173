//! ReiserFS 3.5 and 3.6, read-only.
//!
//! One module per on-disk structure: `superblock` (64 KiB), `tree` (keys, nodes, the bounded
//! S+tree walk), `item` (stat data, directory entries, indirect and direct items), `hash`
//! (r5, tea, rupasov). Every object (file, directory, symlink) is a run of items sharing
//! `(dir_id, objectid)`: its stat data at offset 0, then directory items (keyed by name hash
//! and generation) or file body items (keyed by 1-based byte offset). A [`NodeId`] is
//! `dir_id << 32 | objectid`.
//!
//! Lookups hash the name with the superblock's hash and scan only the entries with that
//! hash value (all generations: colliding names differ in the low 7 bits); with no hash
//! recorded, the whole directory is scanned. Reads gather the pointers of the indirect items
//! covering the request and issue one read per contiguous run; tails (direct items) are
//! copied from their leaves. [`Filesystem::extents`] maps files without tails in the range
//! and returns `Ok(None)` when a tail is involved.
//!
//! The journal is not replayed (as GRUB): a filesystem not cleanly unmounted is read as it
//! is on disk, with a warning. Superblocks at the old 3.5 location (8 KiB) are not looked for.
use crate::{DirEntry, Extent, FileType, Filesystem, FsError, Metadata, NodeId, ReadAt, Result};
use rsgrub_io::DynReader;

mod hash;
mod item;
mod superblock;
mod tree;

use item::Stat;
use superblock::Superblock;
use tree::{ty, Flow, Item, Key, Tree, Volume};

/// Driver name in errors.
pub(crate) const FS: &str = "reiserfs";

pub(crate) fn corrupt(what: impl Into<String>) -> FsError {
    FsError::corrupt(FS, what)
}

/// The root directory: parent objectid 1, objectid 2.
const ROOT: NodeId = 1 << 32 | 2;
/// The root's hidden extended-attribute directory.
const PRIV_ROOT: &[u8] = b".reiserfs_priv";
/// Most pieces [`Filesystem::extents`] returns for one request.
use crate::MAX_EXTENTS;
/// Most entries one listing returns.
const MAX_ENTRIES: usize = crate::MAX_DIR_ENTRIES;

/// `true` if the volume has a ReiserFS magic at 64 KiB + 52.
pub fn probe(dev: &dyn ReadAt) -> bool {
    let mut raw = vec![0u8; superblock::SIZE];
    dev.read_at(superblock::OFFSET, &mut raw).is_ok() && superblock::has_magic(&raw)
}

/// Open a ReiserFS filesystem.
pub fn open(dev: DynReader) -> Result<Box<dyn Filesystem>> {
    Ok(Box::new(Reiser::open(dev)?))
}

fn split(node: NodeId) -> (u32, u32) {
    ((node >> 32) as u32, node as u32)
}

fn join(dir_id: u32, objectid: u32) -> NodeId {
    u64::from(dir_id) << 32 | u64::from(objectid)
}

/// A piece of a file range.
enum Piece {
    /// `len` bytes at file offset `fo` live at volume byte `vo`.
    Mapped { fo: u64, vo: u64, len: u64 },
    /// Tail bytes at file offset `fo`.
    Tail { fo: u64, data: Vec<u8> },
}

struct Reiser {
    vol: Volume,
    sb: Superblock,
    warnings: Vec<String>,
}

impl Reiser {
    fn open(dev: DynReader) -> Result<Self> {
        let dev_size = dev.size();
        let mut raw = vec![0u8; superblock::SIZE];
        dev.read_at(superblock::OFFSET, &mut raw)
            .map_err(|_| corrupt("volume too small for a superblock at 64 KiB"))?;
        let sb = Superblock::parse(&raw)?;
        let mut warnings = Vec::new();
        if sb.block_count.saturating_mul(sb.block_size) > dev_size {
            warnings.push(format!(
                "filesystem is {} blocks of {} bytes but the volume only {dev_size} bytes; \
                 data past the end cannot be read",
                sb.block_count, sb.block_size
            ));
        }
        if !sb.clean {
            warnings
                .push("filesystem was not cleanly unmounted; its journal is not replayed".into());
        }
        if sb.hash.is_none() {
            warnings.push(format!(
                "directory hash code {} is unknown; lookups scan whole directories",
                sb.hash_code
            ));
        }
        let vol = Volume::new(dev, &sb);
        let fs = Reiser { vol, sb, warnings };
        if fs.stat(ROOT)?.kind() != FileType::Directory {
            return Err(corrupt("root object is not a directory"));
        }
        Ok(fs)
    }

    fn tree(&self) -> Tree<'_> {
        Tree {
            vol: &self.vol,
            sb: &self.sb,
        }
    }

    fn stat(&self, node: NodeId) -> Result<Stat> {
        let (d, o) = split(node);
        let key = Key::new(d, o, 0, ty::STAT);
        let mut found = None;
        let mut err = None;
        self.tree().scan_from(&key, &mut |it: &Item<'_>| {
            if it.head.key < key {
                return Ok(Flow::Continue);
            }
            if it.head.key == key {
                match Stat::parse(it.body, it.head.v2) {
                    Ok(s) => found = Some(s),
                    Err(e) => err = Some(e),
                }
            }
            Ok(Flow::Stop)
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        found.ok_or_else(|| corrupt(format!("object [{d} {o}] has no stat data")))
    }

    /// Call `f` on the visible entries of directory `node` whose offsets are at least
    /// `from` (0: all), in order, until it returns `true`.
    fn scan_dir(
        &self,
        node: NodeId,
        from: u32,
        f: &mut dyn FnMut(&item::Entry<'_>) -> Result<bool>,
    ) -> Result<()> {
        let st = self.stat(node)?;
        if st.kind() != FileType::Directory {
            return Err(FsError::NotADirectory(format!("object {node:#x}")));
        }
        let (d, o) = split(node);
        let start = Key::new(d, o, u64::from(from), ty::DIRENTRY);
        let obj = Key::new(d, o, 0, ty::STAT);
        self.tree().scan_from(&start, &mut |it: &Item<'_>| {
            let k = it.head.key;
            if k < obj {
                return Ok(Flow::Continue);
            }
            if !k.same_object(&obj) {
                return Ok(Flow::Stop);
            }
            if k.ty != ty::DIRENTRY {
                return Ok(Flow::Continue);
            }
            let stop = item::entries(it.body, it.head.count, &mut |e| {
                if e.offset < from {
                    return Ok(false);
                }
                f(e)
            })?;
            Ok(if stop { Flow::Stop } else { Flow::Continue })
        })
    }

    /// The pieces of file bytes `[offset, end)` (gaps are holes).
    fn pieces(&self, node: NodeId, offset: u64, end: u64, max: usize) -> Result<Vec<Piece>> {
        let (d, o) = split(node);
        let obj = Key::new(d, o, 0, ty::STAT);
        let start = Key::new(d, o, offset.saturating_add(1), ty::ANY);
        let bs = self.vol.bs;
        let mut out: Vec<Piece> = Vec::new();
        let mut covered = 0u64;
        self.tree().scan_from(&start, &mut |it: &Item<'_>| {
            let k = it.head.key;
            if k < obj {
                return Ok(Flow::Continue);
            }
            if !k.same_object(&obj) {
                return Ok(Flow::Stop);
            }
            if k.ty != ty::DIRECT && k.ty != ty::INDIRECT {
                return Ok(Flow::Continue);
            }
            let fo = k
                .offset
                .checked_sub(1)
                .ok_or_else(|| corrupt(format!("object {node:#x}: body item at offset 0")))?;
            if fo >= end {
                return Ok(Flow::Stop);
            }
            let bytes = if k.ty == ty::DIRECT {
                it.body.len() as u64
            } else {
                (it.body.len() / 4) as u64 * bs
            };
            if fo < covered {
                return Err(corrupt(format!(
                    "object {node:#x}: body items overlap at byte {fo}"
                )));
            }
            covered = fo.saturating_add(bytes);
            let s = fo.max(offset);
            let e = covered.min(end);
            if s >= e {
                return Ok(Flow::Continue);
            }
            if k.ty == ty::DIRECT {
                let lo = usize::try_from(s - fo).map_err(|_| corrupt("tail offset"))?;
                let hi = usize::try_from(e - fo).map_err(|_| corrupt("tail offset"))?;
                let data = it.body.get(lo..hi).unwrap_or_default().to_vec();
                out.push(Piece::Tail { fo: s, data });
                return Ok(Flow::Continue);
            }
            if fo % bs != 0 {
                return Err(corrupt(format!(
                    "object {node:#x}: indirect item at unaligned byte {fo}"
                )));
            }
            let first = (s - fo) / bs;
            let last = (e - fo).div_ceil(bs);
            for i in first..last {
                let idx = usize::try_from(i).map_err(|_| corrupt("pointer index"))?;
                let p = item::pointer(it.body, idx)
                    .ok_or_else(|| corrupt("indirect item truncated"))?;
                if p == 0 {
                    continue;
                }
                let p = u64::from(p);
                self.vol.check_block(p, "data")?;
                let bstart = fo + i * bs;
                let ps = bstart.max(s);
                let pe = (bstart + bs).min(e);
                let vo = p * bs + (ps - bstart);
                if let Some(Piece::Mapped {
                    fo: lf,
                    vo: lv,
                    len,
                }) = out.last_mut()
                {
                    if *lf + *len == ps && *lv + *len == vo {
                        *len += pe - ps;
                        continue;
                    }
                }
                if out.len() >= max {
                    return Err(FsError::Limit(format!(
                        "file is split into more than {max} pieces"
                    )));
                }
                out.push(Piece::Mapped {
                    fo: ps,
                    vo,
                    len: pe - ps,
                });
            }
            Ok(Flow::Continue)
        })?;
        Ok(out)
    }

    fn read_data(&self, node: NodeId, st: &Stat, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if offset >= st.size || buf.is_empty() {
            return Ok(0);
        }
        let avail = st.size - offset;
        let n = usize::try_from(avail).map_or(buf.len(), |a| a.min(buf.len()));
        let buf = buf.get_mut(..n).unwrap_or_default();
        buf.fill(0);
        let end = offset + n as u64;
        for p in self.pieces(node, offset, end, usize::MAX)? {
            let (fo, len) = match &p {
                Piece::Mapped { fo, len, .. } => (*fo, *len),
                Piece::Tail { fo, data } => (*fo, data.len() as u64),
            };
            let lo = usize::try_from(fo - offset).map_err(|_| corrupt("read offset"))?;
            let hi = usize::try_from(fo - offset + len).map_err(|_| corrupt("read offset"))?;
            let dst = buf
                .get_mut(lo..hi)
                .ok_or_else(|| corrupt("read range outside the buffer"))?;
            match p {
                Piece::Mapped { vo, .. } => self.vol.read_bytes(vo, dst)?,
                Piece::Tail { data, .. } => dst.copy_from_slice(&data),
            }
        }
        Ok(n)
    }
}

impl Filesystem for Reiser {
    fn name(&self) -> &'static str {
        "reiserfs"
    }

    fn root(&self) -> NodeId {
        ROOT
    }

    fn metadata(&self, node: NodeId) -> Result<Metadata> {
        let st = self.stat(node)?;
        Ok(Metadata {
            kind: st.kind(),
            size: st.size,
            mode: Some(u32::from(st.mode)),
        })
    }

    fn lookup(&self, dir: NodeId, name: &[u8]) -> Result<Option<NodeId>> {
        let Some(h) = self.sb.hash else {
            return Ok(self
                .read_dir(dir)?
                .into_iter()
                .find(|e| e.name == name)
                .map(|e| e.node));
        };
        if name.is_empty() || name.len() > 255 {
            return Ok(None);
        }
        let hv = h.entry_hash(name);
        let mut found = None;
        self.scan_dir(dir, hv, &mut |e| {
            if hash::hash_value(e.offset) != hv {
                // Entries are sorted by offset: past this hash's generations.
                return Ok(true);
            }
            if e.name == name {
                found = Some(join(e.dir_id, e.objectid));
                return Ok(true);
            }
            Ok(false)
        })?;
        Ok(found)
    }

    fn read_dir(&self, dir: NodeId) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        self.scan_dir(dir, 0, &mut |e| {
            // Linux hides its extended-attribute store, `/.reiserfs_priv`, from listings.
            if e.name.is_empty()
                || e.name == b"."
                || e.name == b".."
                || e.name.contains(&b'/')
                || (dir == ROOT && e.name == PRIV_ROOT)
            {
                return Ok(false);
            }
            if out.len() >= MAX_ENTRIES {
                return Err(FsError::Limit(format!(
                    "directory {dir:#x} has more than {MAX_ENTRIES} entries"
                )));
            }
            out.push(DirEntry {
                name: e.name.to_vec(),
                node: join(e.dir_id, e.objectid),
                kind: None,
            });
            Ok(false)
        })?;
        Ok(out)
    }

    fn read_link(&self, node: NodeId) -> Result<Vec<u8>> {
        let st = self.stat(node)?;
        if st.kind() != FileType::Symlink {
            return Err(FsError::NotAFile(format!(
                "object {node:#x} (expected a symbolic link)"
            )));
        }
        if st.size > crate::path::MAX_LINK_LEN {
            return Err(FsError::Limit(format!(
                "symlink {node:#x} target of {} bytes is longer than {}",
                st.size,
                crate::path::MAX_LINK_LEN
            )));
        }
        let len = usize::try_from(st.size).map_err(|_| corrupt("symlink size"))?;
        let mut out = vec![0u8; len];
        let n = self.read_data(node, &st, 0, &mut out)?;
        if n != len {
            return Err(corrupt(format!("symlink {node:#x} is short")));
        }
        Ok(out)
    }

    fn read_at(&self, node: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let st = self.stat(node)?;
        if st.kind() == FileType::Directory {
            return Err(FsError::NotAFile(format!(
                "object {node:#x} is a directory"
            )));
        }
        self.read_data(node, &st, offset, buf)
    }

    fn extents(&self, node: NodeId, offset: u64, len: u64) -> Result<Option<Vec<Extent>>> {
        let st = self.stat(node)?;
        if st.kind() == FileType::Directory {
            return Ok(None);
        }
        let end = offset.saturating_add(len).min(st.size);
        if offset >= end {
            return Ok(Some(Vec::new()));
        }
        let mut out = Vec::new();
        let mut pos = offset;
        for p in self.pieces(node, offset, end, MAX_EXTENTS)? {
            let Piece::Mapped { fo, vo, len } = p else {
                return Ok(None);
            };
            if fo > pos {
                out.push(Extent::Hole {
                    file_offset: pos,
                    len: fo - pos,
                });
            }
            out.push(Extent::Mapped {
                file_offset: fo,
                volume_offset: vo,
                len,
            });
            pos = fo + len;
        }
        if end > pos {
            out.push(Extent::Hole {
                file_offset: pos,
                len: end - pos,
            });
        }
        if out.len() > MAX_EXTENTS {
            return Err(FsError::Limit(format!(
                "file is split into more than {MAX_EXTENTS} pieces"
            )));
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
