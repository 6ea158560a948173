//! Block checksums: fletcher2 (old pools), fletcher4, SHA-256, SHA-512/256 ("sha512"), and the
//! embedded label checksum (SHA-256 with the device offset as verifier).
//!
//! A checksum is four 64-bit words. SHA digests are stored as the big-endian words of the
//! digest; fletcher sums run over the block's words in the block's byte order.
use super::Bo;
use sha2::Digest;

pub(crate) type Cksum = [u64; 4];

pub(crate) const OFF: u8 = 2;
pub(crate) const FLETCHER_2: u8 = 6;
pub(crate) const FLETCHER_4: u8 = 7;
pub(crate) const SHA256: u8 = 8;
pub(crate) const NOPARITY: u8 = 10;
pub(crate) const SHA512: u8 = 11;

/// Name of a checksum algorithm number, for messages.
pub(crate) fn name(c: u8) -> &'static str {
    match c {
        0 => "inherit",
        1 => "on",
        2 => "off",
        3 => "label",
        4 => "gang_header",
        5 => "zilog",
        6 => "fletcher2",
        7 => "fletcher4",
        8 => "sha256",
        9 => "zilog2",
        10 => "noparity",
        11 => "sha512",
        12 => "skein",
        13 => "edonr",
        14 => "blake3",
        _ => "unknown",
    }
}

pub(crate) fn fletcher2(data: &[u8], bo: Bo) -> Cksum {
    let (mut a0, mut a1, mut b0, mut b1) = (0u64, 0u64, 0u64, 0u64);
    for c in data.chunks_exact(16) {
        let w0 = bo.u64(c, 0).unwrap_or(0);
        let w1 = bo.u64(c, 8).unwrap_or(0);
        a0 = a0.wrapping_add(w0);
        a1 = a1.wrapping_add(w1);
        b0 = b0.wrapping_add(a0);
        b1 = b1.wrapping_add(a1);
    }
    [a0, a1, b0, b1]
}

pub(crate) fn fletcher4(data: &[u8], bo: Bo) -> Cksum {
    let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
    for w in data.chunks_exact(4) {
        let v = u64::from(bo.u32(w, 0).unwrap_or(0));
        a = a.wrapping_add(v);
        b = b.wrapping_add(a);
        c = c.wrapping_add(b);
        d = d.wrapping_add(c);
    }
    [a, b, c, d]
}

fn words(digest: &[u8]) -> Cksum {
    let mut out = [0u64; 4];
    for (i, w) in out.iter_mut().enumerate() {
        *w = rsgrub_io::be::u64(digest, i * 8).unwrap_or(0);
    }
    out
}

pub(crate) fn sha256(data: &[u8]) -> Cksum {
    words(&sha2::Sha256::digest(data))
}

pub(crate) fn sha512_256(data: &[u8]) -> Cksum {
    words(&sha2::Sha512_256::digest(data))
}

/// Magic of an embedded checksum trailer (`zio_eck_t`).
pub(crate) const ZEC_MAGIC: u64 = 0x0210_da7a_b10c_7a11;
const ECK_LEN: usize = 40;

/// Verify the embedded label checksum of `buf` (a label nvlist area or an uberblock slot)
/// read at device offset `offset`. Returns the trailer's byte order when it matches.
pub(crate) fn verify_label(buf: &[u8], offset: u64) -> Option<Bo> {
    verify_embedded(buf, [offset, 0, 0, 0])
}

/// Verify an embedded SHA-256 trailer whose checksum field held `verifier` when it was
/// computed (labels: the offset; gang headers: vdev, offset and birth of the gang DVA).
pub(crate) fn verify_embedded(buf: &[u8], verifier: [u64; 4]) -> Option<Bo> {
    let eck = buf.len().checked_sub(ECK_LEN)?;
    let bo = match rsgrub_io::le::u64(buf, eck)? {
        ZEC_MAGIC => Bo::Le,
        m if m.swap_bytes() == ZEC_MAGIC => Bo::Be,
        _ => return None,
    };
    let mut stored = [0u64; 4];
    for (i, w) in stored.iter_mut().enumerate() {
        *w = bo.u64(buf, eck + 8 + i * 8)?;
    }
    let mut h = sha2::Sha256::new();
    h.update(buf.get(..eck + 8)?);
    for v in verifier {
        h.update(bo.bytes(v));
    }
    let actual = words(&h.finalize());
    (actual == stored || FUZZING).then_some(bo)
}

/// Under `cargo fuzz` (`--cfg fuzzing`) checksum mismatches are ignored, so that mutated
/// inputs reach the parsers behind the checksums. Never set in normal builds.
#[allow(unexpected_cfgs)]
pub(crate) const FUZZING: bool = cfg!(fuzzing);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn fletcher_known_values() {
        let data: Vec<u8> = (0u8..32).collect();
        let f4 = fletcher4(&data, Bo::Le);
        // Words 0x03020100, 0x07060504, ...: a is their sum.
        let mut a = 0u64;
        for w in data.chunks(4) {
            a += u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        }
        assert_eq!(f4[0], a);
        assert_ne!(fletcher4(&data, Bo::Be), f4);
        let f2 = fletcher2(&data, Bo::Le);
        assert_eq!(
            f2[0],
            u64::from_le_bytes(data[0..8].try_into().unwrap())
                .wrapping_add(u64::from_le_bytes(data[16..24].try_into().unwrap()))
        );
    }

    #[test]
    fn label_roundtrip() {
        let mut buf = vec![7u8; 1024];
        let eck = 1024 - 40;
        buf[eck..eck + 8].copy_from_slice(&ZEC_MAGIC.to_le_bytes());
        buf[eck + 8..eck + 16].copy_from_slice(&4096u64.to_le_bytes());
        buf[eck + 16..].fill(0);
        let c = sha256(&buf);
        for (i, w) in c.iter().enumerate() {
            buf[eck + 8 + i * 8..eck + 16 + i * 8].copy_from_slice(&w.to_le_bytes());
        }
        assert_eq!(verify_label(&buf, 4096), Some(Bo::Le));
        assert_eq!(verify_label(&buf, 8192), None);
        buf[3] ^= 1;
        assert_eq!(verify_label(&buf, 4096), None);
    }
}
