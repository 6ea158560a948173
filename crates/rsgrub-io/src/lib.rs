//! Positional byte reads: the one seam every layer of rsgrub reads guest bytes through.
//!
//! * [`ReadAt`] — read exactly `buf.len()` bytes at an offset, or fail. Never a short read.
//! * [`FileReader`] — a raw image file or block device, read with `pread(2)` (no seek state,
//!   so it works on an inherited fd inside the sandbox).
//! * [`Slice`] — a window `[start, start+len)` of another reader: a partition, an LV segment.
//!   Drivers above it never see where their volume lives.
//! * [`BlockCache`] — a small, bounded LRU of fixed-size blocks for metadata reads.
//!
//! Every offset computation is checked; a read past the end is an error, never a panic.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

/// Positional, exact reads from a byte source of known size.
pub trait ReadAt: Send + Sync {
    /// Fill `buf` with the bytes at `offset..offset+buf.len()`.
    /// Reading past [`ReadAt::size`] is an `UnexpectedEof` error.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// Size in bytes.
    fn size(&self) -> u64;

    /// Where the bytes `[offset, offset+len)` of this source live in the underlying image
    /// file, if they are stored there contiguously and untransformed (for zero-copy
    /// extraction with `copy_file_range`). `None` otherwise (compressed clusters, in-memory
    /// data, ranges that are not contiguous).
    fn physical_range(&self, _offset: u64, _len: u64) -> Option<u64> {
        None
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Arc<T> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_at(offset, buf)
    }
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn physical_range(&self, offset: u64, len: u64) -> Option<u64> {
        (**self).physical_range(offset, len)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_at(offset, buf)
    }
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn physical_range(&self, offset: u64, len: u64) -> Option<u64> {
        (**self).physical_range(offset, len)
    }
}

/// Shared, type-erased reader.
pub type DynReader = Arc<dyn ReadAt>;

/// An error for a read outside `[0, size)`.
pub fn out_of_range(offset: u64, len: usize, size: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("read of {len} bytes at offset {offset} is past the end ({size} bytes)"),
    )
}

/// Check `offset + len <= size` without overflow.
pub fn check_range(offset: u64, len: usize, size: u64) -> io::Result<()> {
    let end = offset
        .checked_add(len as u64)
        .ok_or_else(|| out_of_range(offset, len, size))?;
    if end > size {
        return Err(out_of_range(offset, len, size));
    }
    Ok(())
}

/// In-memory bytes (tests, `--isconfig`, decompressed data).
impl ReadAt for [u8] {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(offset, buf.len(), self.len() as u64)?;
        let start = usize::try_from(offset).map_err(|_| out_of_range(offset, buf.len(), 0))?;
        let end = start
            .checked_add(buf.len())
            .ok_or_else(|| out_of_range(offset, buf.len(), self.len() as u64))?;
        let src = self
            .get(start..end)
            .ok_or_else(|| out_of_range(offset, buf.len(), self.len() as u64))?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn size(&self) -> u64 {
        self.len() as u64
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.as_slice().read_at(offset, buf)
    }
    fn size(&self) -> u64 {
        self.len() as u64
    }
}

/// A raw image file or block device, read with `pread`.
pub struct FileReader {
    file: File,
    size: u64,
}

impl FileReader {
    /// Wrap an open file. The size is taken from `fstat` for regular files and by seeking
    /// to the end for block devices.
    pub fn new(file: File) -> io::Result<Self> {
        use std::io::Seek;
        let meta = file.metadata()?;
        let size = if meta.is_file() {
            meta.len()
        } else {
            let mut f = &file;
            let end = f.seek(io::SeekFrom::End(0))?;
            f.seek(io::SeekFrom::Start(0))?;
            end
        };
        Ok(FileReader { file, size })
    }

    /// The underlying file (for `copy_file_range`).
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl ReadAt for FileReader {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(offset, buf.len(), self.size)?;
        self.file.read_exact_at(buf, offset)
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn physical_range(&self, offset: u64, len: u64) -> Option<u64> {
        (offset.checked_add(len)? <= self.size).then_some(offset)
    }
}

/// A window of another reader: `[start, start + len)`.
#[derive(Clone)]
pub struct Slice<R> {
    inner: R,
    start: u64,
    len: u64,
}

impl<R: ReadAt> Slice<R> {
    /// A window; fails if it does not lie inside `inner`.
    pub fn new(inner: R, start: u64, len: u64) -> io::Result<Self> {
        let end = start
            .checked_add(len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "window end overflows"))?;
        if end > inner.size() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "window {start}..{end} is past the end of its source ({} bytes)",
                    inner.size()
                ),
            ));
        }
        Ok(Slice { inner, start, len })
    }

    /// Offset of this window inside its source.
    pub fn start(&self) -> u64 {
        self.start
    }
}

impl<R: ReadAt> ReadAt for Slice<R> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(offset, buf.len(), self.len)?;
        let abs = self
            .start
            .checked_add(offset)
            .ok_or_else(|| out_of_range(offset, buf.len(), self.len))?;
        self.inner.read_at(abs, buf)
    }
    fn size(&self) -> u64 {
        self.len
    }
    fn physical_range(&self, offset: u64, len: u64) -> Option<u64> {
        if offset.checked_add(len)? > self.len {
            return None;
        }
        self.inner
            .physical_range(self.start.checked_add(offset)?, len)
    }
}

/// A bounded LRU cache of aligned blocks in front of a reader, for metadata.
///
/// Reads that are at least `big_read` bytes bypass the cache (file data streams past it).
pub struct BlockCache<R> {
    inner: R,
    block: usize,
    capacity: usize,
    state: Mutex<CacheState>,
}

struct CacheState {
    tick: u64,
    // (block number, last use, bytes). Linear scan: capacity is small (tens to hundreds).
    blocks: Vec<(u64, u64, Vec<u8>)>,
    hits: u64,
    misses: u64,
}

impl<R: ReadAt> BlockCache<R> {
    /// `block` bytes per cached block (a power of two ≥ 512), at most `capacity` blocks.
    pub fn new(inner: R, block: usize, capacity: usize) -> Self {
        let block = block.clamp(512, 1 << 20).next_power_of_two();
        BlockCache {
            inner,
            block,
            capacity: capacity.max(1),
            state: Mutex::new(CacheState {
                tick: 0,
                blocks: Vec::new(),
                hits: 0,
                misses: 0,
            }),
        }
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        match self.state.lock() {
            Ok(s) => (s.hits, s.misses),
            Err(_) => (0, 0),
        }
    }

    fn with_block<F: FnOnce(&[u8])>(&self, n: u64, f: F) -> io::Result<()> {
        let mut st = self
            .state
            .lock()
            .map_err(|_| io::Error::other("block cache poisoned"))?;
        st.tick = st.tick.wrapping_add(1);
        let tick = st.tick;
        if let Some(pos) = st.blocks.iter().position(|(b, _, _)| *b == n) {
            st.hits = st.hits.wrapping_add(1);
            if let Some(entry) = st.blocks.get_mut(pos) {
                entry.1 = tick;
                f(&entry.2);
                return Ok(());
            }
        }
        st.misses = st.misses.wrapping_add(1);
        let start = n
            .checked_mul(self.block as u64)
            .ok_or_else(|| out_of_range(u64::MAX, self.block, self.inner.size()))?;
        let size = self.inner.size();
        let len = usize::try_from(size.saturating_sub(start).min(self.block as u64))
            .unwrap_or(self.block);
        let mut data = vec![0u8; len];
        self.inner.read_at(start, &mut data)?;
        f(&data);
        if st.blocks.len() >= self.capacity {
            if let Some(victim) = st
                .blocks
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, t, _))| *t)
                .map(|(i, _)| i)
            {
                st.blocks.swap_remove(victim);
            }
        }
        st.blocks.push((n, tick, data));
        Ok(())
    }
}

impl<R: ReadAt> ReadAt for BlockCache<R> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        check_range(offset, buf.len(), self.inner.size())?;
        if buf.len() >= self.block.saturating_mul(4) {
            return self.inner.read_at(offset, buf);
        }
        let bs = self.block as u64;
        let total = buf.len();
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset
                .checked_add(done as u64)
                .ok_or_else(|| out_of_range(offset, buf.len(), self.inner.size()))?;
            let n = pos / bs;
            let within = usize::try_from(pos % bs).unwrap_or(0);
            let want = (buf.len() - done).min(self.block - within);
            let dst = buf
                .get_mut(done..done + want)
                .ok_or_else(|| out_of_range(offset, total, self.inner.size()))?;
            let mut copied = false;
            self.with_block(n, |data| {
                if let Some(src) = data.get(within..within + want) {
                    dst.copy_from_slice(src);
                    copied = true;
                }
            })?;
            if !copied {
                return Err(out_of_range(pos, want, self.inner.size()));
            }
            done += want;
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn physical_range(&self, offset: u64, len: u64) -> Option<u64> {
        self.inner.physical_range(offset, len)
    }
}

/// Little-endian field readers over a byte slice that return `None` out of bounds.
pub mod le {
    /// `u16` at `off`.
    pub fn u16(b: &[u8], off: usize) -> Option<u16> {
        let s = b.get(off..off.checked_add(2)?)?;
        Some(u16::from_le_bytes(s.try_into().ok()?))
    }
    /// `u32` at `off`.
    pub fn u32(b: &[u8], off: usize) -> Option<u32> {
        let s = b.get(off..off.checked_add(4)?)?;
        Some(u32::from_le_bytes(s.try_into().ok()?))
    }
    /// `u64` at `off`.
    pub fn u64(b: &[u8], off: usize) -> Option<u64> {
        let s = b.get(off..off.checked_add(8)?)?;
        Some(u64::from_le_bytes(s.try_into().ok()?))
    }
}

/// Big-endian field readers over a byte slice that return `None` out of bounds.
pub mod be {
    /// `u16` at `off`.
    pub fn u16(b: &[u8], off: usize) -> Option<u16> {
        let s = b.get(off..off.checked_add(2)?)?;
        Some(u16::from_be_bytes(s.try_into().ok()?))
    }
    /// `u32` at `off`.
    pub fn u32(b: &[u8], off: usize) -> Option<u32> {
        let s = b.get(off..off.checked_add(4)?)?;
        Some(u32::from_be_bytes(s.try_into().ok()?))
    }
    /// `u64` at `off`.
    pub fn u64(b: &[u8], off: usize) -> Option<u64> {
        let s = b.get(off..off.checked_add(8)?)?;
        Some(u64::from_be_bytes(s.try_into().ok()?))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn slice_bounds_and_overflow() {
        let data: Vec<u8> = (0..=255u8).collect();
        let s = Slice::new(data.clone(), 16, 32).unwrap();
        let mut b = [0u8; 4];
        s.read_at(0, &mut b).unwrap();
        assert_eq!(b, [16, 17, 18, 19]);
        assert!(s.read_at(30, &mut b).is_err());
        assert!(s.read_at(u64::MAX - 1, &mut b).is_err());
        assert!(Slice::new(data.clone(), 250, 10).is_err());
        assert!(Slice::new(data, u64::MAX, 2).is_err());
    }

    #[test]
    fn cache_returns_same_bytes_and_is_bounded() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let c = BlockCache::new(data.clone(), 512, 4);
        for off in [0u64, 510, 4096, 99_990, 1, 511, 512, 70_000] {
            let mut a = [0u8; 7];
            let r = c.read_at(off, &mut a);
            if off + 7 <= data.len() as u64 {
                r.unwrap();
                assert_eq!(&a[..], &data[off as usize..off as usize + 7]);
            } else {
                assert!(r.is_err());
            }
        }
        assert!(c.state.lock().unwrap().blocks.len() <= 4);
        let (hits, misses) = c.stats();
        assert!(misses > 0);
        let mut a = [0u8; 4];
        c.read_at(70_000, &mut a).unwrap();
        assert!(c.stats().0 > hits);
    }

    #[test]
    fn le_be_out_of_bounds() {
        let b = [1u8, 2, 3];
        assert_eq!(le::u16(&b, 1), Some(0x0302));
        assert_eq!(le::u32(&b, 0), None);
        assert_eq!(be::u16(&b, usize::MAX), None);
    }
}
