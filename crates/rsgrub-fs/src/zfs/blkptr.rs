//! Block pointers (`blkptr_t`, 128 bytes): three DVAs, the properties word (sizes,
//! compression, checksum, type, level, byte order), birth txgs and the checksum; or, with the
//! embedded bit, up to 112 bytes of (compressed) data in place of the DVAs and checksum.
use super::{corrupt, Bo};
use crate::Result;

pub(crate) const LEN: usize = 128;
/// SPA_MAXBLOCKSIZE: no block (logical or physical) is larger.
pub(crate) const MAX_BLOCK: u64 = 16 << 20;

/// A data virtual address: which top-level vdev, where (bytes past the 4 MiB label area).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Dva {
    pub vdev: u64,
    pub offset: u64,
    pub asize: u64,
    pub gang: bool,
    pub empty: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlkPtr {
    pub dva: [Dva; 3],
    pub lsize: u64,
    pub psize: u64,
    pub compress: u8,
    pub checksum: u8,
    pub ty: u8,
    pub level: u8,
    /// Byte order of the block's contents.
    pub bo: Bo,
    pub embedded: bool,
    pub etype: u8,
    pub birth: u64,
    /// Physical birth txg (the logical one when not recorded).
    pub phys_birth: u64,
    pub cksum: [u64; 4],
    /// Embedded payload (only when `embedded`).
    pub payload: Vec<u8>,
}

impl BlkPtr {
    /// Parse the block pointer at `off` of `b`, stored in byte order `bo`.
    pub(crate) fn parse(b: &[u8], off: usize, bo: Bo) -> Result<BlkPtr> {
        let raw = off
            .checked_add(LEN)
            .and_then(|e| b.get(off..e))
            .ok_or_else(|| corrupt(format!("block pointer at {off} past the end of its block")))?;
        let mut w = [0u64; 16];
        for (i, x) in w.iter_mut().enumerate() {
            *x = bo.u64(raw, i * 8).unwrap_or(0);
        }
        let [w0, w1, w2, w3, w4, w5, prop, w7, w8, w9, birth, w11, w12, w13, w14, w15] = w;
        let bo_data = if prop >> 63 == 1 { Bo::Le } else { Bo::Be };
        let embedded = (prop >> 39) & 1 == 1;
        if embedded {
            let lsize = (prop & 0x1ff_ffff) + 1;
            let psize = ((prop >> 25) & 0x7f) + 1;
            let mut payload = Vec::with_capacity(112);
            for word in [w0, w1, w2, w3, w4, w5, w7, w8, w9, w11, w12, w13, w14, w15] {
                payload.extend_from_slice(&word.to_le_bytes());
            }
            payload.truncate(usize::try_from(psize).unwrap_or(112).min(112));
            return Ok(BlkPtr {
                dva: [Dva::default(); 3],
                lsize,
                psize,
                compress: ((prop >> 32) & 0x7f) as u8,
                checksum: 0,
                ty: ((prop >> 48) & 0xff) as u8,
                level: ((prop >> 56) & 0x1f) as u8,
                bo: bo_data,
                embedded,
                etype: ((prop >> 40) & 0xff) as u8,
                birth,
                phys_birth: birth,
                cksum: [0; 4],
                payload,
            });
        }
        let dva = |a: u64, b: u64| Dva {
            vdev: a >> 32,
            asize: (a & 0xff_ffff) << 9,
            offset: (b & !(1u64 << 63)).wrapping_mul(512),
            gang: b >> 63 == 1,
            empty: a == 0 && b == 0,
        };
        // Offsets above 2^54 sectors would overflow: mark them so reads refuse them.
        let fix = |d: Dva, b: u64| {
            if (b & !(1u64 << 63)) > (u64::MAX >> 9) {
                Dva {
                    offset: u64::MAX,
                    ..d
                }
            } else {
                d
            }
        };
        Ok(BlkPtr {
            dva: [
                fix(dva(w0, w1), w1),
                fix(dva(w2, w3), w3),
                fix(dva(w4, w5), w5),
            ],
            lsize: ((prop & 0xffff) + 1) << 9,
            psize: (((prop >> 16) & 0xffff) + 1) << 9,
            compress: ((prop >> 32) & 0x7f) as u8,
            checksum: ((prop >> 40) & 0xff) as u8,
            ty: ((prop >> 48) & 0xff) as u8,
            level: ((prop >> 56) & 0x1f) as u8,
            bo: bo_data,
            embedded,
            etype: 0,
            birth,
            phys_birth: if w9 != 0 { w9 } else { birth },
            cksum: [w12, w13, w14, w15],
            payload: Vec::new(),
        })
    }

    /// A hole: no data, reads as zeros.
    pub(crate) fn is_hole(&self) -> bool {
        !self.embedded && self.dva[0].empty
    }

    /// Key for the block cache.
    pub(crate) fn key(&self) -> (u64, u64, u64, u64) {
        (self.dva[0].vdev, self.dva[0].offset, self.birth, self.lsize)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let mut b = [0u8; 128];
        b[0..8].copy_from_slice(&((1u64 << 32) | 8).to_le_bytes()); // vdev 1, asize 8 sectors
        b[8..16].copy_from_slice(&100u64.to_le_bytes());
        let prop: u64 = (1 << 63) | (19 << 48) | (7 << 40) | (3 << 32) | (3 << 16) | 7;
        b[48..56].copy_from_slice(&prop.to_le_bytes());
        let bp = BlkPtr::parse(&b, 0, Bo::Le).unwrap();
        assert_eq!(bp.dva[0].vdev, 1);
        assert_eq!(bp.dva[0].offset, 51200);
        assert_eq!(bp.dva[0].asize, 4096);
        assert_eq!(bp.lsize, 4096);
        assert_eq!(bp.psize, 2048);
        assert_eq!(bp.compress, 3);
        assert_eq!(bp.checksum, 7);
        assert_eq!(bp.ty, 19);
        assert_eq!(bp.bo, Bo::Le);
        assert!(!bp.is_hole());
        assert!(BlkPtr::parse(&b, 1, Bo::Le).is_err());
    }
}
