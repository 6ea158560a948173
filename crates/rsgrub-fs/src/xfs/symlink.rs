//! Symlink targets: local (in the inode fork) or remote (in blocks; on v5 each block starts
//! with a 56-byte `XSLM` header giving the offset and length of the bytes it holds).
//!
//! mkfs.xfs 6.1's proto-file code writes v5 remote symlinks without that header (the kernel
//! then reports a CRC error). Like GRUB we want to boot such images, so a v5 target whose first
//! block has no `XSLM` magic is read as raw bytes.
use super::corrupt;
use crate::Result;
use rsgrub_io::be;

const XSLM: u32 = 0x5853_4c4d;
const V5_HDR: usize = 56;

/// Target stored in the fork.
pub(crate) fn local(fork: &[u8], size: u64) -> Result<Vec<u8>> {
    let n = usize::try_from(size).map_err(|_| corrupt("symlink size"))?;
    fork.get(..n)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| corrupt(format!("local symlink of {size} bytes overflows its fork")))
}

/// Target stored in file blocks `0..`; `block(i)` returns logical block `i` (zeros if a hole).
pub(crate) fn remote(
    v5: bool,
    size: u64,
    block_size: u64,
    block: &dyn Fn(u64) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let n = usize::try_from(size).map_err(|_| corrupt("symlink size"))?;
    let mut out = Vec::with_capacity(n);
    let v5 = v5 && be::u32(&block(0)?, 0) == Some(XSLM);
    let per = if v5 {
        block_size.saturating_sub(V5_HDR as u64)
    } else {
        block_size
    };
    let nblocks = size.div_ceil(per.max(1));
    for i in 0..nblocks {
        let blk = block(i)?;
        let want = n - out.len();
        if v5 {
            if be::u32(&blk, 0) != Some(XSLM) {
                return Err(corrupt("remote symlink block has a bad magic"));
            }
            let off = be::u32(&blk, 4).unwrap_or(u32::MAX);
            let bytes = usize::try_from(be::u32(&blk, 8).unwrap_or(0)).unwrap_or(0);
            if u64::from(off) != out.len() as u64 || bytes == 0 || bytes > want {
                return Err(corrupt(format!(
                    "remote symlink block {i} holds {bytes} bytes at {off}"
                )));
            }
            let data = blk
                .get(V5_HDR..V5_HDR + bytes)
                .ok_or_else(|| corrupt("remote symlink block overflows"))?;
            out.extend_from_slice(data);
        } else {
            let k = want.min(blk.len());
            out.extend_from_slice(blk.get(..k).unwrap_or_default());
        }
    }
    if out.len() != n {
        return Err(corrupt("remote symlink is short"));
    }
    Ok(out)
}
