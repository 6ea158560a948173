//! Boot configuration languages → a menu tree ([`Menu`]).
//!
//! No I/O: parsers ask for files (includes, grubenv, BLS entries) through a [`FileSource`]
//! callback. Every parser bounds its work (input size, include depth, script steps).
//!
//! - [`parse_grub2`]: GRUB 2 `grub.cfg`, run by a real lexer → parser → tree-walking
//!   interpreter of GRUB's scripting language (see [`grub2`]).
//! - [`parse_legacy`]: GRUB legacy (0.97) `menu.lst` / `grub.conf` (see [`legacy`]).
//! - [`parse_syslinux`]: SYSLINUX / EXTLINUX / ISOLINUX (see [`syslinux`]).
#![forbid(unsafe_code)]

pub mod grub2;
pub mod legacy;
pub mod model;
pub mod syslinux;
mod text;

pub use model::{
    ConfigKind, Entry, EntryKind, FileRef, FileSource, Item, MapSource, Menu, Module, SearchKind,
    Submenu,
};

/// Largest config file read (PyGrub reads at most 1 MiB).
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// A config that cannot be used at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}: {msg}")]
pub struct ParseError {
    /// Config file path.
    pub file: String,
    /// 1-based line, 0 if none.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

impl ParseError {
    pub(crate) fn new(file: &str, line: usize, msg: impl Into<String>) -> Self {
        ParseError {
            file: file.to_string(),
            line,
            msg: msg.into(),
        }
    }
}

/// Parse a GRUB 2 `grub.cfg` at `path` (its directory is `$prefix` / `$config_directory`,
/// where `load_env` looks for `grubenv`).
pub fn parse_grub2(text: &[u8], path: &str, src: &mut dyn FileSource) -> Result<Menu, ParseError> {
    grub2::parse(text, path, src)
}

/// Parse a GRUB legacy `menu.lst` / `grub.conf` at `path`.
pub fn parse_legacy(text: &[u8], path: &str, src: &mut dyn FileSource) -> Result<Menu, ParseError> {
    legacy::parse(text, path, src)
}

/// Parse a SYSLINUX-family config at `path` (relative `KERNEL`/`INITRD`/`INCLUDE` paths
/// resolve against its directory).
pub fn parse_syslinux(
    text: &[u8],
    path: &str,
    src: &mut dyn FileSource,
) -> Result<Menu, ParseError> {
    syslinux::parse(text, path, src)
}
