//! EXTENT_DATA items and their decompression.
//!
//! An item at file offset `o` is inline (bytes in the item, possibly compressed), regular
//! (`disk_bytenr..+disk_num_bytes`, a hole when `disk_bytenr` is 0) or prealloc (reads as
//! zeros). A compressed extent decompresses to `ram_bytes`, of which the file uses
//! `[offset, offset+num_bytes)`. Output is capped at [`MAX_RAM_BYTES`] and at `ram_bytes`:
//! a stream that inflates past either is an error.
use super::{corrupt, unsupported};
use crate::Result;
use rsgrub_io::le;

pub(crate) const EXTENT_DATA: u8 = 108;
/// btrfs compresses at most 128 KiB per extent; allow a generous margin.
pub(crate) const MAX_RAM_BYTES: u64 = 1 << 20;
/// Largest compressed payload read.
const MAX_DISK_BYTES: u64 = 1 << 20;
/// zstd windows larger than this are refused (btrfs uses at most 128 KiB... 8 MiB is ample).
const MAX_ZSTD_WINDOW: u64 = 8 << 20;
/// The same bound as libzstd's `ZSTD_d_windowLogMax`.
const MAX_ZSTD_WINDOW_LOG: u32 = 23;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Zlib,
    Lzo,
    Zstd,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// Inline bytes (compressed as `compression` says), `ram_bytes` when decompressed.
    Inline { data: Vec<u8>, ram_bytes: u64 },
    /// Regular extent; `disk_bytenr == 0` is a hole.
    Regular {
        disk_bytenr: u64,
        disk_num_bytes: u64,
        offset: u64,
        ram_bytes: u64,
    },
    /// Preallocated (unwritten): zeros.
    Prealloc,
}

#[derive(Debug, Clone)]
pub(crate) struct FileExtent {
    /// File bytes this extent covers (inline: `ram_bytes`).
    pub len: u64,
    pub compression: Compression,
    pub body: Body,
}

impl FileExtent {
    pub(crate) fn parse(b: &[u8]) -> Result<FileExtent> {
        let bad = || corrupt(format!("file extent item of {} bytes is short", b.len()));
        let ram_bytes = le::u64(b, 8).ok_or_else(bad)?;
        let comp = *b.get(16).ok_or_else(bad)?;
        let enc = *b.get(17).ok_or_else(bad)?;
        let other = le::u16(b, 18).ok_or_else(bad)?;
        let ty = *b.get(20).ok_or_else(bad)?;
        if enc != 0 || other != 0 {
            return Err(unsupported(format!(
                "encrypted or encoded extent ({enc}, {other})"
            )));
        }
        let compression = match comp {
            0 => Compression::None,
            1 => Compression::Zlib,
            2 => Compression::Lzo,
            3 => Compression::Zstd,
            c => return Err(unsupported(format!("compression type {c}"))),
        };
        if ty == 0 {
            return Ok(FileExtent {
                len: ram_bytes,
                compression,
                body: Body::Inline {
                    data: b.get(21..).unwrap_or_default().to_vec(),
                    ram_bytes,
                },
            });
        }
        let disk_bytenr = le::u64(b, 21).ok_or_else(bad)?;
        let disk_num_bytes = le::u64(b, 29).ok_or_else(bad)?;
        let offset = le::u64(b, 37).ok_or_else(bad)?;
        let num_bytes = le::u64(b, 45).ok_or_else(bad)?;
        let body = match ty {
            1 => Body::Regular {
                disk_bytenr,
                disk_num_bytes,
                offset,
                ram_bytes,
            },
            2 => Body::Prealloc,
            t => return Err(corrupt(format!("file extent type {t}"))),
        };
        Ok(FileExtent {
            len: num_bytes,
            compression,
            body,
        })
    }
}

/// Decompress `input` to exactly `ram_bytes` bytes (zero-filled if the stream is shorter).
pub(crate) fn decompress(
    c: Compression,
    input: &[u8],
    ram_bytes: u64,
    sectorsize: u32,
) -> Result<Vec<u8>> {
    if ram_bytes > MAX_RAM_BYTES {
        return Err(corrupt(format!(
            "compressed extent claims {ram_bytes} bytes, more than {MAX_RAM_BYTES}"
        )));
    }
    let cap = usize::try_from(ram_bytes).map_err(|_| corrupt("ram_bytes"))?;
    let mut out = match c {
        Compression::None => input.get(..cap).unwrap_or(input).to_vec(),
        Compression::Zlib => miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(input, cap)
            .map_err(|e| corrupt(format!("zlib extent: {:?} (limit {cap} bytes)", e.status)))?,
        Compression::Zstd => zstd(input, cap)?,
        Compression::Lzo => lzo(input, cap, sectorsize)?,
    };
    out.resize(cap, 0);
    Ok(out)
}

/// Disk bytes a compressed regular extent may span.
pub(crate) fn check_disk_bytes(n: u64) -> Result<usize> {
    if n > MAX_DISK_BYTES || n == 0 {
        return Err(corrupt(format!("compressed extent of {n} disk bytes")));
    }
    usize::try_from(n).map_err(|_| corrupt("disk_num_bytes"))
}

fn zstd_window(input: &[u8]) -> Result<()> {
    let bad = || corrupt("zstd extent: bad frame header");
    if input.get(..4) != Some(&[0x28, 0xb5, 0x2f, 0xfd][..]) {
        return Err(bad());
    }
    let fhd = *input.get(4).ok_or_else(bad)?;
    let single = fhd & 0x20 != 0;
    let window = if single {
        let fcs_len = match fhd >> 6 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let did_len = match fhd & 3 {
            0 => 0,
            1 => 1,
            2 => 2,
            _ => 4,
        };
        let p = 5 + did_len;
        let b = input.get(p..p + fcs_len).ok_or_else(bad)?;
        let mut v = 0u64;
        for (i, x) in b.iter().enumerate() {
            v |= u64::from(*x) << (8 * i);
        }
        if fcs_len == 2 {
            v + 256
        } else {
            v
        }
    } else {
        let wd = *input.get(5).ok_or_else(bad)?;
        let exp = u32::from(wd >> 3) + 10;
        let base = 1u64 << exp;
        base + (base / 8) * u64::from(wd & 7)
    };
    if window > MAX_ZSTD_WINDOW {
        return Err(corrupt(format!("zstd extent window of {window} bytes")));
    }
    Ok(())
}

/// One zstd frame (btrfs pads the extent after it) into at most `cap` bytes, by libzstd with
/// its window capped as well as checked here.
fn zstd(input: &[u8], cap: usize) -> Result<Vec<u8>> {
    zstd_window(input)?;
    let err = |e: usize| {
        corrupt(format!(
            "zstd extent: {}",
            zstd::zstd_safe::get_error_name(e)
        ))
    };
    let flen = zstd::zstd_safe::find_frame_compressed_size(input).map_err(err)?;
    let frame = input
        .get(..flen)
        .ok_or_else(|| corrupt("zstd extent: frame size"))?;
    let mut dctx = zstd::zstd_safe::DCtx::create();
    dctx.set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(
        MAX_ZSTD_WINDOW_LOG,
    ))
    .map_err(err)?;
    let mut out = Vec::with_capacity(cap);
    match dctx.decompress(&mut out, frame) {
        // `with_capacity` may give more than asked for: the cap is `cap`, not the capacity.
        Ok(n) if n > cap => Err(corrupt(format!("zstd extent inflates past {cap} bytes"))),
        Ok(_) => Ok(out),
        Err(e) if zstd::zstd_safe::get_error_name(e).contains("too small") => {
            Err(corrupt(format!("zstd extent inflates past {cap} bytes")))
        }
        Err(e) => Err(err(e)),
    }
}

/// btrfs LZO framing: a 4-byte total length, then segments (4-byte length + LZO1X data),
/// each inflating to at most one sector; a segment header never straddles a sector.
fn lzo(input: &[u8], cap: usize, sectorsize: u32) -> Result<Vec<u8>> {
    let bad = |w: &str| corrupt(format!("lzo extent: {w}"));
    let total = le::u32(input, 0).ok_or_else(|| bad("no header"))? as usize;
    if total > input.len() || total < 4 {
        return Err(bad("total length past the extent"));
    }
    let sector = sectorsize.max(4096) as usize;
    let mut out = Vec::with_capacity(cap);
    let mut seg = vec![0u8; sector];
    let mut pos = 4usize;
    // Each pass consumes at least 4 bytes of input.
    while pos < total && out.len() < cap {
        let rem = sector - pos % sector;
        if rem < 4 {
            pos += rem;
            if pos >= total {
                break;
            }
        }
        let len = le::u32(input, pos).ok_or_else(|| bad("segment header"))? as usize;
        pos += 4;
        let end = pos
            .checked_add(len)
            .filter(|&e| e <= total)
            .ok_or_else(|| bad("segment past the end"))?;
        let src = input.get(pos..end).ok_or_else(|| bad("segment"))?;
        let n =
            lzokay::decompress::decompress(src, &mut seg).map_err(|e| bad(&format!("{e:?}")))?;
        let take = n.min(cap - out.len());
        out.extend_from_slice(seg.get(..take).unwrap_or_default());
        if take < n {
            return Err(bad(&format!("inflates past {cap} bytes")));
        }
        pos = end;
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn zlib_bounded_by_ram_bytes() {
        let data = vec![7u8; 100_000];
        let z = miniz_oxide::deflate::compress_to_vec_zlib(&data, 6);
        assert_eq!(
            decompress(Compression::Zlib, &z, 100_000, 4096).unwrap(),
            data
        );
        // Shorter stream than ram_bytes: zero-filled.
        let out = decompress(Compression::Zlib, &z, 100_100, 4096).unwrap();
        assert_eq!(&out[..100_000], &data[..]);
        assert!(out[100_000..].iter().all(|&b| b == 0));
        // Inflating past ram_bytes, or a ram_bytes above the cap: errors.
        assert!(decompress(Compression::Zlib, &z, 99_999, 4096).is_err());
        assert!(decompress(Compression::Zlib, &z, u64::MAX, 4096).is_err());
        assert!(decompress(Compression::Zlib, &z[..20], 100_000, 4096).is_err());
    }

    #[test]
    fn lzo_framing_checked() {
        // Total length past the input, segment past the total, no header.
        assert!(decompress(Compression::Lzo, &[0xff, 0, 0, 0], 4096, 4096).is_err());
        let mut b = vec![12u8, 0, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0];
        assert!(decompress(Compression::Lzo, &b, 4096, 4096).is_err());
        b.truncate(2);
        assert!(decompress(Compression::Lzo, &b, 4096, 4096).is_err());
        // A valid empty frame: all zeros.
        let out = decompress(Compression::Lzo, &[4, 0, 0, 0], 10, 4096).unwrap();
        assert_eq!(out, vec![0; 10]);
    }

    #[test]
    fn zstd_window_and_garbage() {
        // Frame header with a 2 GiB window descriptor.
        let big = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8, 0, 0, 0];
        assert!(decompress(Compression::Zstd, &big, 4096, 4096).is_err());
        assert!(decompress(Compression::Zstd, b"not zstd", 4096, 4096).is_err());
        assert!(decompress(Compression::Zstd, &[], 4096, 4096).is_err());
    }

    #[test]
    fn extent_items() {
        assert!(FileExtent::parse(&[0; 20]).is_err());
        let mut b = vec![0u8; 53];
        b[20] = 1;
        b[16] = 9;
        assert!(FileExtent::parse(&b).is_err());
        b[16] = 3;
        b[45..53].copy_from_slice(&4096u64.to_le_bytes());
        let fe = FileExtent::parse(&b).unwrap();
        assert_eq!((fe.len, fe.compression), (4096, Compression::Zstd));
        b[20] = 7;
        assert!(FileExtent::parse(&b).is_err());
        assert!(check_disk_bytes(0).is_err() && check_disk_bytes(u64::MAX).is_err());
    }
}
