//! Boot configuration languages → a menu tree ([`Menu`]).
//!
//! No I/O: parsers ask for files (includes, grubenv, BLS entries) through a [`FileSource`]
//! callback. Every parser bounds its work (input size, include depth, script steps).
#![forbid(unsafe_code)]

pub mod model;

pub use model::{
    ConfigKind, Entry, EntryKind, FileRef, FileSource, Item, MapSource, Menu, SearchKind, Submenu,
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
