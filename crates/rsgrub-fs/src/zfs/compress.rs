//! Block decompression: lzjb and zle (our own: a few dozen lines each, and no crate reads
//! ZFS's variants), gzip (miniz_oxide, zlib streams), lz4 (lz4_flex's safe block decoder,
//! behind ZFS's 4-byte length header) and zstd (libzstd via the `zstd` crate, behind ZFS's 8-byte
//! header, window checked first). Output is always exactly the block pointer's logical size: a stream that
//! would write more stops there (lzjb, zle) or is an error (gzip, lz4, zstd), one that ends
//! early leaves zeros.
use super::corrupt;
use crate::{FsError, Result};

pub(crate) const OFF: u8 = 2;
pub(crate) const EMPTY: u8 = 4;
pub(crate) const ZSTD: u8 = 16;

/// Name of a compression algorithm number, for messages.
pub(crate) fn name(c: u8) -> &'static str {
    match c {
        0 => "inherit",
        1 => "on",
        2 => "off",
        3 => "lzjb",
        4 => "empty",
        5..=13 => "gzip",
        14 => "zle",
        15 => "lz4",
        16 => "zstd",
        _ => "unknown",
    }
}

/// Decompress `src` (the physical bytes) to exactly `lsize` bytes.
pub(crate) fn decompress(alg: u8, src: &[u8], lsize: usize) -> Result<Vec<u8>> {
    let mut out = vec![0u8; lsize];
    match alg {
        OFF => {
            let n = src.len().min(lsize);
            if let (Some(d), Some(s)) = (out.get_mut(..n), src.get(..n)) {
                d.copy_from_slice(s);
            }
        }
        EMPTY => {}
        1 | 3 => lzjb(src, &mut out)?,
        5..=13 => {
            let v = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(src, lsize).map_err(
                |e| corrupt(format!("gzip block: {:?} (limit {lsize} bytes)", e.status)),
            )?;
            if let Some(d) = out.get_mut(..v.len()) {
                d.copy_from_slice(&v);
            }
        }
        14 => zle(src, &mut out, 64)?,
        15 => lz4(src, &mut out)?,
        ZSTD => zstd(src, &mut out)?,
        c => {
            return Err(FsError::Unsupported {
                fs: super::FS,
                what: format!("compression {} ({c})", name(c)),
            })
        }
    }
    Ok(out)
}

/// LZJB: a copy map byte per eight items; an item is a literal or a 2-byte
/// (6-bit length - 3, 10-bit distance) back reference.
pub(crate) fn lzjb(src: &[u8], dst: &mut [u8]) -> Result<()> {
    const MATCH_BITS: u32 = 6;
    const MATCH_MIN: usize = 3;
    const OFFSET_MASK: usize = (1 << (16 - MATCH_BITS)) - 1;
    let short = || corrupt("lzjb block: input ends before the output is full");
    let mut s = 0usize;
    let mut d = 0usize;
    let mut copymap = 0u8;
    let mut copymask: u32 = 1 << 7;
    while d < dst.len() {
        copymask <<= 1;
        if copymask == 1 << 8 {
            copymask = 1;
            copymap = *src.get(s).ok_or_else(short)?;
            s += 1;
        }
        if u32::from(copymap) & copymask != 0 {
            let b0 = usize::from(*src.get(s).ok_or_else(short)?);
            let b1 = usize::from(*src.get(s + 1).ok_or_else(short)?);
            s += 2;
            let mlen = (b0 >> (8 - MATCH_BITS)) + MATCH_MIN;
            let off = ((b0 << 8) | b1) & OFFSET_MASK;
            let mut cpy = d
                .checked_sub(off)
                .ok_or_else(|| corrupt(format!("lzjb block: reference {off} back at {d}")))?;
            let stop = d.saturating_add(mlen).min(dst.len());
            while d < stop {
                let v = *dst.get(cpy).unwrap_or(&0);
                if let Some(x) = dst.get_mut(d) {
                    *x = v;
                }
                d += 1;
                cpy += 1;
            }
        } else {
            let v = *src.get(s).ok_or_else(short)?;
            s += 1;
            if let Some(x) = dst.get_mut(d) {
                *x = v;
            }
            d += 1;
        }
    }
    Ok(())
}

/// ZLE: a byte `n`; `n < 64` means `n + 1` literal bytes follow, else `n - 63` zeros.
pub(crate) fn zle(src: &[u8], dst: &mut [u8], n: usize) -> Result<()> {
    let mut s = 0usize;
    let mut d = 0usize;
    while s < src.len() && d < dst.len() {
        let len = 1 + usize::from(*src.get(s).unwrap_or(&0));
        s += 1;
        if len <= n {
            for _ in 0..len {
                if d >= dst.len() {
                    break;
                }
                let v = *src
                    .get(s)
                    .ok_or_else(|| corrupt("zle block: literal run past the input"))?;
                if let Some(x) = dst.get_mut(d) {
                    *x = v;
                }
                s += 1;
                d += 1;
            }
        } else {
            d = d.saturating_add(len - n).min(dst.len());
        }
    }
    Ok(())
}

fn lz4(src: &[u8], dst: &mut [u8]) -> Result<()> {
    let n = rsgrub_io::be::u32(src, 0).ok_or_else(|| corrupt("lz4 block: no header"))?;
    let n = usize::try_from(n).map_err(|_| corrupt("lz4 length"))?;
    let body = src.get(4..).and_then(|b| b.get(..n)).ok_or_else(|| {
        corrupt(format!(
            "lz4 block: {n} bytes claimed, {} present",
            src.len()
        ))
    })?;
    lz4_flex::block::decompress_into(body, dst).map_err(|e| corrupt(format!("lz4 block: {e}")))?;
    Ok(())
}

/// Largest zstd window accepted (ZFS blocks are at most 16 MiB).
const MAX_ZSTD_WINDOW: u64 = 16 << 20;

fn zstd_window(frame: &[u8]) -> Result<()> {
    let bad = || corrupt("zstd block: bad frame header");
    if frame.get(..4) != Some(&[0x28, 0xb5, 0x2f, 0xfd][..]) {
        return Err(bad());
    }
    let fhd = *frame.get(4).ok_or_else(bad)?;
    if fhd & 0x20 == 0 {
        let wd = *frame.get(5).ok_or_else(bad)?;
        let exp = u32::from(wd >> 3) + 10;
        let base = 1u64 << exp;
        let window = base + (base / 8) * u64::from(wd & 7);
        if window > MAX_ZSTD_WINDOW {
            return Err(corrupt(format!("zstd block window of {window} bytes")));
        }
    }
    // Single-segment frames: the window is the content size, which the output cap bounds.
    Ok(())
}

fn zstd(src: &[u8], dst: &mut [u8]) -> Result<()> {
    use zstd::zstd_safe;
    let n = rsgrub_io::be::u32(src, 0).ok_or_else(|| corrupt("zstd block: no header"))?;
    let n = usize::try_from(n).map_err(|_| corrupt("zstd length"))?;
    let frame = src.get(8..).and_then(|b| b.get(..n)).ok_or_else(|| {
        corrupt(format!(
            "zstd block: {n} bytes claimed, {} present",
            src.len()
        ))
    })?;
    zstd_window(frame)?;
    let err = |e: usize| corrupt(format!("zstd block: {}", zstd_safe::get_error_name(e)));
    let mut dctx = zstd_safe::DCtx::create();
    // libzstd enforces the same bound (MAX_ZSTD_WINDOW = 2^24).
    dctx.set_parameter(zstd_safe::DParameter::WindowLogMax(24))
        .map_err(err)?;
    // Output past the logical size is an error (libzstd: destination too small).
    dctx.decompress(dst, frame).map_err(err)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn lzjb_literals_and_match() {
        // copymap 0b0000_0010: literal 'a', then a match of length 3+3 at distance 1.
        let src = [0b10u8, b'a', (3 << 2) as u8, 1];
        let mut out = vec![0u8; 7];
        lzjb(&src, &mut out).unwrap();
        assert_eq!(&out, b"aaaaaaa");
        // A bomb (repeat forever) stops at the logical size.
        let mut out = vec![0u8; 1 << 16];
        let mut bomb = vec![0xfeu8, b'x'];
        bomb.extend(std::iter::repeat_n([0xfc, 1], 7).flatten());
        let mut big = Vec::new();
        for _ in 0..2000 {
            big.push(0xff);
            big.extend(std::iter::repeat_n([0xfc, 1], 8).flatten());
        }
        bomb.extend(big);
        lzjb(&bomb, &mut out).unwrap();
        assert!(out.iter().all(|&b| b == b'x'));
        // Reference before the start, truncated input.
        assert!(lzjb(&[0b1, 0xfc, 5], &mut [0u8; 8]).is_err());
        assert!(lzjb(&[0, b'a'], &mut [0u8; 8]).is_err());
    }

    #[test]
    fn zle_runs() {
        let src = [1u8, b'a', b'b', 64 + 3];
        let mut out = vec![9u8; 6];
        out.fill(0);
        zle(&src, &mut out, 64).unwrap();
        assert_eq!(&out, b"ab\0\0\0\0");
    }

    #[test]
    fn gzip_capped() {
        let data = vec![0u8; 1 << 20];
        let z = miniz_oxide::deflate::compress_to_vec_zlib(&data, 6);
        assert!(decompress(5, &z, 4096).is_err());
        assert_eq!(decompress(5, &z, 1 << 20).unwrap(), data);
    }

    #[test]
    fn lz4_with_zfs_header() {
        let data: Vec<u8> = (0..20000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let block = lz4_flex::block::compress(&data);
        let mut src = (block.len() as u32).to_be_bytes().to_vec();
        src.extend(&block);
        src.extend([0u8; 13]); // padding to the sector
        assert_eq!(decompress(15, &src, data.len()).unwrap(), data);
        // A length past the buffer, or output past lsize: errors.
        let mut bad = src.clone();
        bad[0] = 0x7f;
        assert!(decompress(15, &bad, data.len()).is_err());
        assert!(decompress(15, &src, 1000).is_err());
    }

    #[test]
    fn zstd_with_zfs_header() {
        // A single-segment frame with one raw block.
        let payload = b"hello zstd block".repeat(4);
        let n = payload.len();
        let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0x20, n as u8];
        let bh = ((n as u32) << 3) | 1;
        frame.extend(&bh.to_le_bytes()[..3]);
        frame.extend(&payload);
        let mut src = (frame.len() as u32).to_be_bytes().to_vec();
        src.extend(3u32.to_be_bytes());
        src.extend(&frame);
        assert_eq!(decompress(ZSTD, &src, n).unwrap(), payload);
        // Output past lsize is an error, as for gzip and lz4.
        assert!(decompress(ZSTD, &src, 10).is_err());
        // A frame claiming a 1 GiB window is refused.
        let mut big = src.clone();
        big[8 + 4] = 0;
        big.insert(8 + 5, 0xa0);
        assert!(decompress(ZSTD, &big, n).is_err());
    }
}
