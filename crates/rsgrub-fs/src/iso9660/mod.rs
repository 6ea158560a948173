//! ISO 9660 with Rock Ridge and Joliet, read-only.
//!
//! One module per on-disk structure: `volume` (the volume descriptor set), `dir` (directory
//! records, plain names), `rockridge` (SUSP entries, continuation areas, RRIP names, modes,
//! symlinks, relocated directories), `joliet` (UCS-2 names). This file ties them into a
//! [`Filesystem`].
//!
//! Which tree is read follows GRUB's `iso9660.c`: the primary tree with Rock Ridge when its
//! root carries SUSP (`SP`) and Rock Ridge entries; else the Joliet tree if there is one; else
//! the plain primary tree, whose names are shown lower-cased without `;1` and a trailing `.`
//! and matched ignoring case. The UUID is the used descriptor's modification date as GRUB and
//! blkid print it (`YYYY-MM-DD-HH-MM-SS-CC`), the label its volume identifier without trailing
//! blanks. The system area (first 32 KiB: hybrid MBR/GPT) is never looked at.
//!
//! A node id is the volume byte offset of the node's (first) directory record; the root is the
//! root record inside the volume descriptor. Multi-extent files (records flagged "more
//! extents", same name) are concatenated; reads and [`Filesystem::extents`] coalesce extents
//! that are contiguous on the volume, so a big file is one read.
use crate::{DirEntry, Extent, FileType, Filesystem, FsError, Metadata, NodeId, ReadAt, Result};
use rsgrub_io::{BlockCache, DynReader};
use std::sync::{Arc, Mutex};

mod dir;
mod joliet;
mod rockridge;
mod volume;

use dir::Record;
use rockridge::Rr;
use volume::BLOCK;

/// Driver name in errors.
pub(crate) const FS: &str = "iso9660";

pub(crate) fn corrupt(what: impl Into<String>) -> FsError {
    FsError::corrupt(FS, what)
}

/// Largest directory read (all its extents together).
const MAX_DIR_BYTES: u64 = 32 << 20;
/// Most extents one file may have (4 GiB each: far past any real file).
const MAX_PARTS: usize = 1024;
/// Most pieces [`Filesystem::extents`] returns.
use crate::MAX_EXTENTS;
/// Directory listings cached.
const CACHED: usize = 8;

/// `true` if the volume has an ISO 9660 volume descriptor at sector 16.
pub fn probe(dev: &dyn ReadAt) -> bool {
    volume::probe(dev)
}

/// Open an ISO 9660 filesystem.
pub fn open(dev: DynReader) -> Result<Box<dyn Filesystem>> {
    Ok(Box::new(Iso::open(dev)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Rock Ridge on the primary tree; `skip` bytes precede each System Use area.
    Rock {
        skip: usize,
    },
    Joliet,
    Plain,
}

/// A node, from its directory record(s).
struct Info {
    kind: FileType,
    size: u64,
    mode: Option<u32>,
    /// Data extents in file order: (volume offset, length).
    parts: Vec<(u64, u64)>,
    link: Option<Vec<u8>>,
    /// Why the data cannot be read plainly.
    refused: Option<String>,
}

/// One listed entry.
struct Listed {
    name: Vec<u8>,
    node: NodeId,
    kind: FileType,
    /// Matched ignoring case (plain ISO 9660 names).
    fold: bool,
}

struct Iso {
    dev: DynReader,
    meta: BlockCache<DynReader>,
    mode: Mode,
    root: NodeId,
    label: Option<String>,
    uuid: Option<String>,
    warnings: Vec<String>,
    dirs: Mutex<Vec<(NodeId, Arc<Vec<Listed>>)>>,
}

fn kind_of(mode: Option<u32>, rec: &Record<'_>) -> FileType {
    match mode.map(|m| m & 0o170000) {
        Some(0o040000) => FileType::Directory,
        Some(0o100000) => FileType::Regular,
        Some(0o120000) => FileType::Symlink,
        Some(_) => FileType::Other,
        None if rec.is_dir() => FileType::Directory,
        None => FileType::Regular,
    }
}

fn trim_label(mut b: Vec<u8>) -> Option<String> {
    if let Some(p) = b.iter().position(|&c| c == 0) {
        b.truncate(p);
    }
    while b.last() == Some(&b' ') {
        b.pop();
    }
    (!b.is_empty()).then(|| String::from_utf8_lossy(&b).into_owned())
}

/// GRUB's UUID: the modification date's 16 digits as `YYYY-MM-DD-HH-MM-SS-CC`.
fn date_uuid(d: &[u8]) -> Option<String> {
    if d.len() != 16 || d.iter().all(|&b| b == 0) {
        return None;
    }
    let c: Vec<char> = d
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect();
    let mut s = String::with_capacity(22);
    for (i, ch) in c.iter().enumerate() {
        if i >= 4 && i % 2 == 0 {
            s.push('-');
        }
        s.push(*ch);
    }
    Some(s)
}

fn poisoned() -> FsError {
    FsError::Io(std::io::Error::other("iso9660 cache poisoned"))
}

impl Iso {
    fn open(dev: DynReader) -> Result<Self> {
        let vols = volume::read(&*dev)?;
        let meta = BlockCache::new(dev.clone(), BLOCK as usize, 512);
        let mut fs = Iso {
            dev,
            meta,
            mode: Mode::Plain,
            root: vols.primary.root_record(),
            label: None,
            uuid: None,
            warnings: vols.warnings,
            dirs: Mutex::new(Vec::new()),
        };
        let mut desc = &vols.primary;
        if let Some(skip) = fs.rock_ridge_skip(fs.root)? {
            fs.mode = Mode::Rock { skip };
        } else if let Some(j) = &vols.joliet {
            fs.mode = Mode::Joliet;
            fs.root = j.root_record();
            desc = j;
        }
        fs.label = match fs.mode {
            Mode::Joliet => trim_label(joliet::decode(desc.volume_id())),
            _ => trim_label(desc.volume_id().to_vec()),
        };
        fs.uuid = date_uuid(desc.modified());
        // The root must be a readable directory.
        fs.listing(fs.root)?;
        Ok(fs)
    }

    /// `Some(skip)` if the primary root's `.` record starts with `SP` and carries Rock Ridge.
    fn rock_ridge_skip(&self, root: NodeId) -> Result<Option<usize>> {
        let raw = self.record_bytes(root)?;
        let rec = Record::parse(&raw)?;
        let dot_at = rec
            .data_block()
            .checked_mul(BLOCK)
            .ok_or_else(|| corrupt("root extent overflows"))?;
        let Ok(dot) = self.record_bytes(dot_at) else {
            return Ok(None);
        };
        let dot = Record::parse(&dot)?;
        let Some(skip) = rockridge::sp_skip(dot.sua) else {
            return Ok(None);
        };
        let mut found = false;
        rockridge::each_entry(
            dot.sua,
            &|at, len| self.bytes(at, len),
            self.dev.size(),
            &mut |s, _| {
                found = rockridge::is_rrip(s);
                found
            },
        )?;
        Ok(found.then_some(skip))
    }

    fn bytes(&self, at: u64, len: usize) -> Result<Vec<u8>> {
        let mut v = vec![0u8; len];
        self.meta.read_at(at, &mut v)?;
        Ok(v)
    }

    /// The bytes of the directory record at `at` (its length byte says how many).
    fn record_bytes(&self, at: u64) -> Result<Vec<u8>> {
        let mut len = [0u8; 1];
        self.meta.read_at(at, &mut len)?;
        if len[0] == 0 {
            return Err(corrupt(format!("no directory record at byte {at}")));
        }
        self.bytes(at, usize::from(len[0]))
    }

    fn rock_ridge(&self, rec: &Record<'_>) -> Result<Rr> {
        let mut rr = Rr::default();
        if let Mode::Rock { skip } = self.mode {
            let sua = rec.sua.get(skip..).unwrap_or_default();
            rockridge::each_entry(
                sua,
                &|at, len| self.bytes(at, len),
                self.dev.size(),
                &mut |s, e| {
                    rr.add(s, e);
                    false
                },
            )?;
        }
        Ok(rr)
    }

    fn data_offset(rec: &Record<'_>) -> Result<u64> {
        rec.data_block()
            .checked_mul(BLOCK)
            .ok_or_else(|| corrupt("extent offset overflows"))
    }

    fn info(&self, id: NodeId) -> Result<Info> {
        let raw = self.record_bytes(id)?;
        let rec = Record::parse(&raw)?;
        let is_root = id == self.root;
        let rr = if is_root {
            Rr::default()
        } else {
            self.rock_ridge(&rec)?
        };
        let mut parts = vec![(Self::data_offset(&rec)?, u64::from(rec.size))];
        let mut refused = rr.transformed.map(str::to_owned);
        if rec.unit != 0 || rec.gap != 0 {
            refused = Some("interleaved file".into());
        }
        if rec.more() && !is_root {
            self.more_extents(id, &rec, &mut parts)?;
        }
        let kind = if is_root {
            FileType::Directory
        } else {
            kind_of(rr.mode, &rec)
        };
        let data_size = parts
            .iter()
            .try_fold(0u64, |a, p| a.checked_add(p.1))
            .ok_or_else(|| corrupt("file size overflows"))?;
        let size = match (&kind, &rr.link) {
            (FileType::Symlink, Some(l)) => l.len() as u64,
            (FileType::Symlink, None) => 0,
            _ => data_size,
        };
        Ok(Info {
            kind,
            size,
            mode: rr.mode,
            parts,
            link: rr.link,
            refused,
        })
    }

    /// Follow the records after a multi-extent record: same name, until one without the flag.
    fn more_extents(
        &self,
        id: NodeId,
        first: &Record<'_>,
        parts: &mut Vec<(u64, u64)>,
    ) -> Result<()> {
        let mut at = id
            .checked_add(first.len as u64)
            .ok_or_else(|| corrupt("record offset overflows"))?;
        loop {
            if parts.len() >= MAX_PARTS {
                return Err(FsError::Limit(format!(
                    "file at {id} has more than {MAX_PARTS} extents"
                )));
            }
            let mut len = [0u8; 1];
            self.meta.read_at(at, &mut len)?;
            if len[0] == 0 {
                // Rest of this sector is padding; records go on in the next one.
                let next = (at / BLOCK + 1) * BLOCK;
                if at % BLOCK == 0 {
                    return Err(corrupt(format!(
                        "multi-extent file at {id} ends without its last extent"
                    )));
                }
                at = next;
                continue;
            }
            let raw = self.bytes(at, usize::from(len[0]))?;
            let rec = Record::parse(&raw)?;
            if rec.name != first.name {
                return Err(corrupt(format!(
                    "multi-extent file at {id} continues with a record of another name"
                )));
            }
            parts.push((Self::data_offset(&rec)?, u64::from(rec.size)));
            if !rec.more() {
                return Ok(());
            }
            at = at
                .checked_add(rec.len as u64)
                .ok_or_else(|| corrupt("record offset overflows"))?;
        }
    }

    fn listing(&self, id: NodeId) -> Result<Arc<Vec<Listed>>> {
        {
            let mut c = self.dirs.lock().map_err(|_| poisoned())?;
            if let Some(pos) = c.iter().position(|(k, _)| *k == id) {
                let item = c.remove(pos);
                let v = item.1.clone();
                c.push(item);
                return Ok(v);
            }
        }
        let info = self.info(id)?;
        if info.kind != FileType::Directory {
            return Err(FsError::NotADirectory(format!("node {id}")));
        }
        if info.size > MAX_DIR_BYTES {
            return Err(FsError::Limit(format!(
                "directory at {id} is {} bytes, more than the {MAX_DIR_BYTES}-byte limit",
                info.size
            )));
        }
        let mut out: Vec<Listed> = Vec::new();
        let mut continuing = false;
        for &(base, len) in &info.parts {
            let len = usize::try_from(len).map_err(|_| corrupt("directory size"))?;
            let data = self.bytes(base, len)?;
            dir::each_record(&data, &mut |pos, rec| {
                let was = continuing;
                continuing = rec.more();
                // Continuation records of a multi-extent file, `.`/`..`, and associated files
                // (which Linux hides too) are not entries of their own.
                if was || rec.is_dot() || rec.is_associated() {
                    return Ok(false);
                }
                crate::dir_limit(out.len(), format_args!("directory at {id}"))?;
                let node = base
                    .checked_add(pos as u64)
                    .ok_or_else(|| corrupt("record offset overflows"))?;
                let rr = self.rock_ridge(rec)?;
                if rr.dot || rr.relocated {
                    return Ok(false);
                }
                if rr.name_too_long() {
                    return Err(corrupt(format!("Rock Ridge name at {node} is too long")));
                }
                let (name, fold) = match (self.mode, rr.name.clone()) {
                    (Mode::Rock { .. }, Some(n)) if !n.is_empty() => (n, false),
                    (Mode::Joliet, _) => (joliet::name(rec.name), false),
                    _ => (dir::plain_name(rec.name), true),
                };
                if name.is_empty() {
                    return Ok(false);
                }
                let (node, kind) = match rr.child {
                    Some(c) => (u64::from(c) * BLOCK, FileType::Directory),
                    None => (node, kind_of(rr.mode, rec)),
                };
                out.push(Listed {
                    name,
                    node,
                    kind,
                    fold,
                });
                Ok(false)
            })?;
        }
        let out = Arc::new(out);
        let mut c = self.dirs.lock().map_err(|_| poisoned())?;
        if c.len() >= CACHED {
            c.remove(0);
        }
        c.push((id, out.clone()));
        Ok(out)
    }

    /// Pieces of `[offset, end)` of a file: (file offset, volume offset, length), with
    /// extents that follow each other on the volume merged.
    fn pieces(parts: &[(u64, u64)], offset: u64, end: u64) -> Result<Vec<(u64, u64, u64)>> {
        let mut merged: Vec<(u64, u64, u64)> = Vec::new();
        let mut fo = 0u64;
        for &(vo, len) in parts {
            if len == 0 {
                continue;
            }
            match merged.last_mut() {
                Some(last) if last.1.checked_add(last.2) == Some(vo) => last.2 += len,
                _ => merged.push((fo, vo, len)),
            }
            fo = fo
                .checked_add(len)
                .ok_or_else(|| corrupt("file size overflows"))?;
        }
        let mut out = Vec::new();
        for (f, v, l) in merged {
            let fe = f + l;
            let s = f.max(offset);
            let e = fe.min(end);
            if s < e {
                out.push((s, v + (s - f), e - s));
            }
        }
        Ok(out)
    }

    fn file(&self, node: NodeId) -> Result<Info> {
        let info = self.info(node)?;
        if info.kind != FileType::Regular {
            return Err(FsError::NotAFile(format!("node {node}")));
        }
        if let Some(why) = &info.refused {
            return Err(FsError::Unsupported {
                fs: FS,
                what: format!("node {node}: {why}"),
            });
        }
        Ok(info)
    }
}

impl Filesystem for Iso {
    fn name(&self) -> &'static str {
        FS
    }

    fn root(&self) -> NodeId {
        self.root
    }

    fn metadata(&self, node: NodeId) -> Result<Metadata> {
        let i = self.info(node)?;
        Ok(Metadata {
            kind: i.kind,
            size: i.size,
            mode: i.mode,
        })
    }

    fn lookup(&self, dir: NodeId, name: &[u8]) -> Result<Option<NodeId>> {
        let l = self.listing(dir)?;
        if let Some(e) = l.iter().find(|e| e.name == name) {
            return Ok(Some(e.node));
        }
        Ok(l.iter()
            .find(|e| e.fold && e.name.eq_ignore_ascii_case(name))
            .map(|e| e.node))
    }

    fn read_dir(&self, dir: NodeId) -> Result<Vec<DirEntry>> {
        Ok(self
            .listing(dir)?
            .iter()
            .map(|e| DirEntry {
                name: e.name.clone(),
                node: e.node,
                kind: Some(e.kind),
            })
            .collect())
    }

    fn read_link(&self, node: NodeId) -> Result<Vec<u8>> {
        let i = self.info(node)?;
        if i.kind != FileType::Symlink {
            return Err(FsError::NotAFile(format!(
                "node {node} (expected a symbolic link)"
            )));
        }
        let l = i.link.unwrap_or_default();
        if l.len() as u64 > crate::path::MAX_LINK_LEN {
            return Err(FsError::Limit(format!(
                "symlink at {node}: target of {} bytes is longer than {}",
                l.len(),
                crate::path::MAX_LINK_LEN
            )));
        }
        Ok(l)
    }

    fn read_at(&self, node: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let i = self.file(node)?;
        if offset >= i.size || buf.is_empty() {
            return Ok(0);
        }
        let n = usize::try_from(i.size - offset).map_or(buf.len(), |a| a.min(buf.len()));
        let end = offset + n as u64;
        for (fo, vo, len) in Self::pieces(&i.parts, offset, end)? {
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
        let i = self.info(node)?;
        if i.kind != FileType::Regular {
            return Err(FsError::NotAFile(format!("node {node}")));
        }
        if i.refused.is_some() {
            return Ok(None);
        }
        let end = offset.saturating_add(len).min(i.size);
        if offset >= end {
            return Ok(Some(Vec::new()));
        }
        let pieces = Self::pieces(&i.parts, offset, end)?;
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
        self.uuid.clone()
    }

    fn label(&self) -> Option<String> {
        self.label.clone()
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uuid_form() {
        assert_eq!(
            date_uuid(b"2026120107274500").as_deref(),
            Some("2026-12-01-07-27-45-00")
        );
        assert_eq!(date_uuid(&[0u8; 16]), None);
        assert_eq!(
            date_uuid(b"0000000000000000").as_deref(),
            Some("0000-00-00-00-00-00-00")
        );
    }

    #[test]
    fn pieces_merge_contiguous_extents() {
        let p = Iso::pieces(&[(4096, 2048), (6144, 100), (100_000, 50)], 0, 2198).unwrap();
        assert_eq!(p, vec![(0, 4096, 2148), (2148, 100_000, 50)]);
        let p = Iso::pieces(&[(4096, 2048), (6144, 100), (100_000, 50)], 2000, 2150).unwrap();
        assert_eq!(p, vec![(2000, 6096, 148), (2148, 100_000, 2)]);
    }
}
