//! Boot configuration languages → a menu tree ([`Menu`]).
//!
//! No I/O: parsers ask for files (includes, grubenv, BLS entries) through a [`FileSource`]
//! callback. Every parser bounds its work (input size, include depth, script steps).
//!
//! - [`parse_grub2`]: GRUB 2 `grub.cfg`, run by a real lexer → parser → tree-walking
//!   interpreter of GRUB's scripting language (see [`grub2`]).
//! - [`parse_legacy`]: GRUB legacy (0.97) `menu.lst` / `grub.conf` (see [`legacy`]).
//! - [`parse_syslinux`]: SYSLINUX / EXTLINUX / ISOLINUX (see [`syslinux`]).
//! - [`parse_systemd_boot`]: systemd-boot's `loader.conf` + Boot Loader Specification
//!   entries (see [`bls`]; GRUB's `blscfg` uses the same module).
//! - [`parse_lilo`]: LILO `lilo.conf` (see [`lilo`]).
//! - [`parse_netbsd_bootcfg`]: NetBSD's `/boot.cfg` (see [`netbsd`]).
//! - [`parse_config`]: any of them by [`ConfigKind`].
//!
//! Every entry carries its commands as GRUB 2's menu editor shows them
//! ([`Entry::source`]); [`eval_entry_commands`] runs an edited copy.
#![forbid(unsafe_code)]

pub mod bls;
pub mod grub2;
pub mod legacy;
pub mod lilo;
pub mod model;
pub mod netbsd;
pub mod syslinux;
mod text;

pub use model::{
    ConfigKind, Entry, EntryKind, FileRef, FileSource, Item, MapSource, Menu, Module, PasswordKind,
    SearchKind, Submenu,
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

/// Parse systemd-boot's `loader.conf` at `path` (`/loader/loader.conf` on the ESP or
/// XBOOTLDR partition; an empty `loader_conf` if the file is missing but
/// `/loader/entries/` exists) and the Boot Loader Specification entries in
/// `loader/entries/` beside it. See [`bls`].
pub fn parse_systemd_boot(
    loader_conf: &[u8],
    path: &str,
    src: &mut dyn FileSource,
) -> Result<Menu, ParseError> {
    bls::parse_systemd_boot(loader_conf, path, src)
}

/// Parse a LILO `lilo.conf` at `path` (normally `/etc/lilo.conf`). See [`lilo`].
pub fn parse_lilo(text: &[u8], path: &str, src: &mut dyn FileSource) -> Result<Menu, ParseError> {
    lilo::parse(text, path, src)
}

/// Parse NetBSD's `boot.cfg` at `path` (normally `/boot.cfg`). See [`netbsd`].
pub fn parse_netbsd_bootcfg(
    text: &[u8],
    path: &str,
    src: &mut dyn FileSource,
) -> Result<Menu, ParseError> {
    netbsd::parse(text, path, src)
}

/// Parse a config in the given language (for [`ConfigKind::Bls`], `text` is `loader.conf`).
pub fn parse_config(
    kind: ConfigKind,
    text: &[u8],
    path: &str,
    src: &mut dyn FileSource,
) -> Result<Menu, ParseError> {
    match kind {
        ConfigKind::Grub2 => parse_grub2(text, path, src),
        ConfigKind::GrubLegacy => parse_legacy(text, path, src),
        ConfigKind::Syslinux => parse_syslinux(text, path, src),
        ConfigKind::Bls => parse_systemd_boot(text, path, src),
        ConfigKind::Lilo => parse_lilo(text, path, src),
        ConfigKind::NetBsd => parse_netbsd_bootcfg(text, path, src),
    }
}

/// Run a menu entry's commands as edited in GRUB 2's menu editor (`e`, then Ctrl-X): `lines`
/// (normally an edited copy of [`Entry::source`]) are parsed as one GRUB 2 script and run
/// like a menu entry's body by a fresh interpreter whose variables are `menu`'s
/// [`Menu::globals`] (so `$root`, `$prefix`, `$kernelopts`... are as the config left them),
/// with `$1` = `title`. `set root=...`, `search --set`, `linux`, `initrd`, `multiboot`,
/// `module`, `source`, `load_env` are honoured as in [`parse_grub2`]; files are read through
/// `src`. Functions the config defined are not known (the `grub-mkconfig` helpers
/// `load_video`, `recordfail`, `savedefault` are accepted). Returns the resulting entry
/// (title = `title`, `id` = `None`, `source` = `lines`); an error for a syntax error, a limit
/// exceeded, or commands that open another menu (`configfile`). Works for entries of every
/// language, since their [`Entry::source`] is GRUB 2 commands.
pub fn eval_entry_commands(
    title: &str,
    lines: &[String],
    menu: &Menu,
    src: &mut dyn FileSource,
) -> Result<Entry, ParseError> {
    grub2::interp::eval_edited(title, lines, &menu.globals, src)
}
