//! Path resolution shared by every driver.
//!
//! Paths are byte strings with `/` separators, always relative to the filesystem's root (a
//! leading `/` is optional). `.` is skipped; `..` pops one component and never climbs above the
//! root (as inside a chroot). Symlinks are followed — absolute targets restart at the root — at
//! most [`MAX_SYMLINKS`] times in one resolution, which also ends loops.
use crate::{FileType, Filesystem, FsError, NodeId, Result};

/// Most symlinks followed in one resolution (Linux's limit).
pub const MAX_SYMLINKS: u32 = 40;
/// Longest path accepted, including symlink expansions.
pub const MAX_PATH_LEN: usize = 4096;
/// Longest symlink target read.
pub const MAX_LINK_LEN: u64 = 4096;

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// Resolve `path` to a node. With `follow_last`, a symlink in the last component is followed.
///
/// GRUB's ZFS form `/<dataset>@<path>` (`/ROOT/debian@/boot/vmlinuz`, `/@/boot` for the pool's
/// root dataset, `/<dataset>@<snapshot>/<path>`) resolves `<path>` from that dataset's root
/// (`..` and absolute symlinks stay inside it) — but only when the driver's
/// [`Filesystem::dataset_root`] knows the dataset named before the first `@`; otherwise the
/// `@` is an ordinary byte of a name (btrfs' `/@/boot` is a directory called `@`).
pub fn resolve(fs: &dyn Filesystem, path: &[u8], follow_last: bool) -> Result<NodeId> {
    if path.len() > MAX_PATH_LEN {
        return Err(FsError::Limit(format!(
            "path of {} bytes is longer than {MAX_PATH_LEN}",
            path.len()
        )));
    }
    match dataset_split(fs, path)? {
        Some((root, rest)) => walk(fs, root, path, rest, follow_last),
        None => walk(fs, fs.root(), path, path, follow_last),
    }
}

/// `Some((dataset root, path inside it))` for a `<dataset>@<path>` the driver knows.
fn dataset_split<'a>(fs: &dyn Filesystem, path: &'a [u8]) -> Result<Option<(NodeId, &'a [u8])>> {
    let Some(at) = path.iter().position(|&c| c == b'@') else {
        return Ok(None);
    };
    let (before, after) = (
        path.get(..at).unwrap_or_default(),
        path.get(at + 1..).unwrap_or_default(),
    );
    let ds: Vec<u8> = before
        .split(|&c| c == b'/')
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(&b'/');
    let slash = after.iter().position(|&c| c == b'/').unwrap_or(after.len());
    let (snap, rest) = after.split_at(slash);
    let name = if snap.is_empty() {
        ds
    } else {
        [&ds[..], b"@", snap].concat()
    };
    Ok(fs.dataset_root(&name)?.map(|r| (r, rest)))
}

/// Resolve `rel` from directory `root` (`path` is the whole path, for messages).
fn walk(
    fs: &dyn Filesystem,
    root: NodeId,
    path: &[u8],
    rel: &[u8],
    follow_last: bool,
) -> Result<NodeId> {
    // Pending components, last at the end (so pop() yields the next one).
    let mut pending: Vec<Vec<u8>> = split_rev(rel);
    // Directories from the root down to the current one.
    let mut stack: Vec<NodeId> = vec![root];
    let mut links = 0u32;
    let mut budget = MAX_PATH_LEN;

    while let Some(comp) = pending.pop() {
        let cur = *stack.last().unwrap_or(&root);
        if comp == b"." {
            continue;
        }
        if comp == b".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let meta = fs.metadata(cur)?;
        if meta.kind != FileType::Directory {
            return Err(FsError::NotADirectory(show(path)));
        }
        let child = fs
            .lookup(cur, &comp)?
            .ok_or_else(|| FsError::NotFound(show(path)))?;
        let is_last = pending.is_empty();
        let cmeta = fs.metadata(child)?;
        if cmeta.kind == FileType::Symlink && (!is_last || follow_last) {
            links = links.saturating_add(1);
            if links > MAX_SYMLINKS {
                return Err(FsError::SymlinkLoop(show(path)));
            }
            if cmeta.size > MAX_LINK_LEN {
                return Err(FsError::Limit(format!(
                    "{}: symlink target of {} bytes is too long",
                    show(path),
                    cmeta.size
                )));
            }
            let target = fs.read_link(child)?;
            budget = budget.checked_sub(target.len()).ok_or_else(|| {
                FsError::Limit(format!("{}: symlink expansion too long", show(path)))
            })?;
            if target.first() == Some(&b'/') {
                stack.truncate(1);
            }
            pending.extend(split_rev(&target));
            continue;
        }
        stack.push(child);
    }
    Ok(*stack.last().unwrap_or(&root))
}

fn split_rev(path: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    v.reverse();
    v
}

/// Read a whole regular file of at most `max` bytes.
pub fn read_file(fs: &dyn Filesystem, path: &[u8], max: u64) -> Result<Vec<u8>> {
    let node = resolve(fs, path, true)?;
    let meta = fs.metadata(node)?;
    if meta.kind != FileType::Regular {
        return Err(FsError::NotAFile(show(path)));
    }
    if meta.size > max {
        return Err(FsError::Limit(format!(
            "{}: {} bytes is more than the {max}-byte limit",
            show(path),
            meta.size
        )));
    }
    let len = usize::try_from(meta.size).map_err(|_| FsError::Limit(show(path)))?;
    let mut out = vec![0u8; len];
    let mut done = 0usize;
    while done < len {
        let dst = out.get_mut(done..).unwrap_or_default();
        let n = fs.read_at(node, done as u64, dst)?;
        if n == 0 {
            return Err(FsError::corrupt(
                fs.name(),
                format!("{}: file ends at {done} of {len} bytes", show(path)),
            ));
        }
        done = done.saturating_add(n);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::type_complexity
)]
mod tests {
    use super::*;
    use crate::{DirEntry, Metadata};
    use std::collections::HashMap;

    /// A toy in-memory tree: node -> (type, content or link target, children).
    struct Toy {
        nodes: HashMap<NodeId, (FileType, Vec<u8>, Vec<(Vec<u8>, NodeId)>)>,
    }
    impl Filesystem for Toy {
        fn name(&self) -> &'static str {
            "toy"
        }
        fn root(&self) -> NodeId {
            1
        }
        fn metadata(&self, n: NodeId) -> Result<Metadata> {
            let (k, d, _) = &self.nodes[&n];
            Ok(Metadata {
                kind: *k,
                size: d.len() as u64,
                mode: None,
            })
        }
        fn read_dir(&self, n: NodeId) -> Result<Vec<DirEntry>> {
            Ok(self.nodes[&n]
                .2
                .iter()
                .map(|(name, node)| DirEntry {
                    name: name.clone(),
                    node: *node,
                    kind: None,
                })
                .collect())
        }
        fn read_link(&self, n: NodeId) -> Result<Vec<u8>> {
            Ok(self.nodes[&n].1.clone())
        }
        fn read_at(&self, n: NodeId, off: u64, buf: &mut [u8]) -> Result<usize> {
            let d = &self.nodes[&n].1;
            let off = off as usize;
            if off >= d.len() {
                return Ok(0);
            }
            let k = buf.len().min(d.len() - off);
            buf[..k].copy_from_slice(&d[off..off + k]);
            Ok(k)
        }
        fn uuid(&self) -> Option<String> {
            None
        }
        fn label(&self) -> Option<String> {
            None
        }
        fn dataset_root(&self, name: &[u8]) -> Result<Option<NodeId>> {
            // Dataset "ds" (and its snapshot "ds@s") has its root at node 2 (`boot`).
            Ok(match name {
                b"ds" | b"ds@s" => Some(2),
                b"" => Some(1),
                _ => None,
            })
        }
    }

    fn toy() -> Toy {
        use FileType::*;
        let mut nodes = HashMap::new();
        nodes.insert(
            1,
            (
                Directory,
                vec![],
                vec![
                    (b"boot".to_vec(), 2),
                    (b"loop".to_vec(), 5),
                    (b"abs".to_vec(), 6),
                ],
            ),
        );
        nodes.insert(
            2,
            (
                Directory,
                vec![],
                vec![(b"vmlinuz".to_vec(), 3), (b"link".to_vec(), 4)],
            ),
        );
        nodes.insert(3, (Regular, b"KERNEL".to_vec(), vec![]));
        nodes.insert(4, (Symlink, b"../../../boot/./vmlinuz".to_vec(), vec![]));
        nodes.insert(5, (Symlink, b"loop".to_vec(), vec![]));
        nodes.insert(6, (Symlink, b"/boot/link".to_vec(), vec![]));
        Toy { nodes }
    }

    #[test]
    fn dotdot_is_clamped_at_root() {
        let fs = toy();
        assert_eq!(resolve(&fs, b"/../../boot/vmlinuz", true).unwrap(), 3);
        assert_eq!(resolve(&fs, b"boot/link", true).unwrap(), 3);
        assert_eq!(resolve(&fs, b"abs", true).unwrap(), 3);
        assert_eq!(resolve(&fs, b"boot/link", false).unwrap(), 4);
        assert_eq!(read_file(&fs, b"/abs", 100).unwrap(), b"KERNEL");
    }

    #[test]
    fn dataset_paths() {
        let fs = toy();
        assert_eq!(resolve(&fs, b"/ds@/vmlinuz", true).unwrap(), 3);
        assert_eq!(resolve(&fs, b"ds@s/vmlinuz", true).unwrap(), 3);
        assert_eq!(resolve(&fs, b"/@/boot/vmlinuz", true).unwrap(), 3);
        assert_eq!(resolve(&fs, b"/ds@", true).unwrap(), 2);
        // `..` stays inside the dataset.
        assert_eq!(resolve(&fs, b"/ds@/../../vmlinuz", true).unwrap(), 3);
        // Unknown dataset: `@` is part of a name.
        assert!(matches!(
            resolve(&fs, b"/nope@/vmlinuz", true),
            Err(FsError::NotFound(_))
        ));
    }

    #[test]
    fn loops_and_errors() {
        let fs = toy();
        assert!(matches!(
            resolve(&fs, b"/loop", true),
            Err(FsError::SymlinkLoop(_))
        ));
        assert!(matches!(
            resolve(&fs, b"/boot/vmlinuz/x", true),
            Err(FsError::NotADirectory(_))
        ));
        assert!(matches!(
            resolve(&fs, b"/nope", true),
            Err(FsError::NotFound(_))
        ));
        assert!(matches!(
            read_file(&fs, b"/boot/vmlinuz", 3),
            Err(FsError::Limit(_))
        ));
        assert!(matches!(
            read_file(&fs, b"/boot", 3),
            Err(FsError::NotAFile(_))
        ));
    }
}
