//! Byte-level helpers shared by the parsers: size check, lossy decoding, path joining.

use crate::{ParseError, MAX_CONFIG_BYTES};

/// Refuse a config larger than [`MAX_CONFIG_BYTES`].
pub(crate) fn check_size(text: &[u8], path: &str) -> Result<(), ParseError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(ParseError::new(
            path,
            0,
            format!(
                "config is {} bytes, more than the {MAX_CONFIG_BYTES} accepted",
                text.len()
            ),
        ));
    }
    Ok(())
}

/// Decode config bytes as the boot loaders read them, line by line into C strings: carriage
/// returns are dropped, a NUL ends its line's content (the rest of that line is ignored, the
/// line break is kept), invalid UTF-8 becomes U+FFFD. Linear time.
pub(crate) fn decode(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut skipping = false;
    for &b in text {
        match b {
            b'\n' => {
                skipping = false;
                out.push(b'\n');
            }
            b'\r' => {}
            0 => skipping = true,
            _ if skipping => {}
            _ => out.push(b),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Directory part of a path without the trailing slash: `/boot/grub/grub.cfg` → `/boot/grub`,
/// `/grub.cfg` → `` (the root), `grub.cfg` → ``.
pub(crate) fn dirname(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => path.get(..i).unwrap_or(""),
        None => "",
    }
}

/// `rel` resolved against directory `dir` (as [`dirname`] returns it); absolute paths are
/// returned unchanged. No `..` processing: the filesystem layer resolves those.
pub(crate) fn join(dir: &str, rel: &str) -> String {
    if rel.starts_with('/') {
        rel.to_string()
    } else {
        let rel = rel.strip_prefix("./").unwrap_or(rel);
        format!("{}/{}", dir.trim_end_matches('/'), rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_drops_cr_and_after_nul() {
        assert_eq!(decode(b"a\r\nb\0c d\ne\xff"), "a\nb\ne\u{fffd}");
    }

    #[test]
    fn paths() {
        assert_eq!(dirname("/boot/grub/grub.cfg"), "/boot/grub");
        assert_eq!(dirname("/grub.cfg"), "");
        assert_eq!(join("/boot/extlinux", "vmlinuz"), "/boot/extlinux/vmlinuz");
        assert_eq!(join("", "vmlinuz"), "/vmlinuz");
        assert_eq!(join("/x", "/abs"), "/abs");
        assert_eq!(join("/x", "./y"), "/x/y");
    }
}
