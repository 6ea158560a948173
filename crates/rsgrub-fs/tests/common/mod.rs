//! Helpers the filesystem tests share: a deterministic PRNG, the real tools' paths, whole-file
//! reads through `read_at` and an `extents()` check against the image bytes.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use rsgrub_fs::{Extent, Filesystem, NodeId};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A whole file through `read_at`, in odd-sized steps (1 MiB + 12,345 bytes) so reads start
/// and end inside blocks; a read at the end returns 0.
pub fn read_all(fs: &dyn Filesystem, node: NodeId, size: u64) -> Vec<u8> {
    let mut out = vec![0u8; size as usize];
    let mut done = 0;
    while done < out.len() {
        let end = (done + (1 << 20) + 12345).min(out.len());
        let n = fs.read_at(node, done as u64, &mut out[done..end]).unwrap();
        assert!(n > 0, "short read at {done}");
        done += n;
    }
    let mut extra = [0u8; 8];
    assert_eq!(fs.read_at(node, size, &mut extra).unwrap(), 0);
    out
}

/// Check `extents()` of a whole file against the image: every mapped piece holds the file's
/// bytes at its volume offset, holes are zeros, the pieces cover the file in order. Returns
/// whether the file was mappable at all.
pub fn check_extents(fs: &dyn Filesystem, img: &std::fs::File, node: NodeId, data: &[u8]) -> bool {
    let Some(ext) = fs.extents(node, 0, data.len() as u64).unwrap() else {
        return false;
    };
    let mut pos = 0u64;
    for e in ext {
        match e {
            Extent::Mapped {
                file_offset,
                volume_offset,
                len,
            } => {
                assert_eq!(file_offset, pos);
                let mut b = vec![0u8; len as usize];
                img.read_exact_at(&mut b, volume_offset).unwrap();
                assert!(b == data[file_offset as usize..(file_offset + len) as usize]);
                pos += len;
            }
            Extent::Hole { file_offset, len } => {
                assert_eq!(file_offset, pos);
                assert!(data[file_offset as usize..(file_offset + len) as usize]
                    .iter()
                    .all(|&b| b == 0));
                pos += len;
            }
        }
    }
    assert_eq!(pos, data.len() as u64);
    true
}

/// xorshift64* with a seed: the same bytes on every run.
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Prng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len + 8);
        while v.len() < len {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(len);
        v
    }
}

/// A tool by name, looked for in the sbin directories too (root's PATH in CI may lack them).
pub fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}
