//! Joliet: names and the volume label in UCS-2/UTF-16 big-endian.
//!
//! As GRUB does, a Joliet name is converted to UTF-8 (an unpaired surrogate becomes U+FFFD,
//! an odd trailing byte is dropped) and cut at its last `;` (the version); Joliet names are
//! matched exactly.

/// UTF-16BE bytes to UTF-8, stopping at a NUL unit.
pub(crate) fn decode(b: &[u8]) -> Vec<u8> {
    let units = b
        .chunks_exact(2)
        .map(|c| match c {
            [hi, lo] => u16::from_be_bytes([*hi, *lo]),
            _ => 0,
        })
        .take_while(|&u| u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect::<String>()
        .into_bytes()
}

/// A Joliet file identifier as shown.
pub(crate) fn name(id: &[u8]) -> Vec<u8> {
    let mut n = decode(id);
    if let Some(p) = n.iter().rposition(|&b| b == b';') {
        n.truncate(p);
    }
    n
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn be(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_be_bytes).collect()
    }

    #[test]
    fn names() {
        assert_eq!(name(&be("Mixed Case.TXT;1")), b"Mixed Case.TXT");
        assert_eq!(name(&be("ünï файл")), "ünï файл".as_bytes());
        assert_eq!(name(&[0xD8, 0x00, 0x00, 0x41]), "\u{FFFD}A".as_bytes());
        assert_eq!(name(&[0x00, 0x41, 0x00]), b"A");
        assert_eq!(decode(&be("LABEL\0junk")), b"LABEL");
    }
}
