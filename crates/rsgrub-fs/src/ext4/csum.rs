//! CRC32C (Castagnoli), the checksum ext4's `metadata_csum` uses.
//!
//! ext4 stores the raw register value: `update(!0, bytes)` with no final inversion. Only the
//! superblock (1 KiB) is verified, so a bitwise loop is fast enough and needs no table.

/// Reflected Castagnoli polynomial.
const POLY: u32 = 0x82F6_3B78;

/// Feed `data` into a CRC32C register `crc` (no pre- or post-inversion).
pub(crate) fn update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::update;

    #[test]
    fn standard_check_value() {
        // The usual CRC32C check value: crc32c("123456789") = 0xE3069283.
        assert_eq!(!update(!0, b"123456789"), 0xE306_9283);
        assert_eq!(!update(!0, b""), 0);
    }
}
