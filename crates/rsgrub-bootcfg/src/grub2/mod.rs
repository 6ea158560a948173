//! GRUB 2 `grub.cfg`: a lexer ([`lexer`]) → AST ([`parser`]) → tree-walking interpreter
//! ([`interp`]) of GRUB's shell-like scripting language, run the way GRUB's normal mode runs
//! a config, recording the menu it builds.
//!
//! The input is read as GRUB's config reader does (`normal/main.c`): carriage returns
//! dropped, a NUL ends its line, lines whose first character is `#` skipped; and, as GRUB
//! does, each top-level command is parsed and run before the next is read (so only one
//! top-level command's syntax tree is in memory). A syntax error anywhere in the main file
//! is a [`ParseError`] with its line (GRUB itself would skip just that command); in a
//! `source`d or `configfile`d file it is a warning and the rest of that file is skipped. The default entry is chosen from `$default` at the end as `normal/menu.c` does;
//! see [`interp`] for the semantics followed and the limits.

pub mod interp;
pub mod lexer;
pub mod parser;

pub use interp::{
    MAX_DEPTH, MAX_EXPANSION_BYTES, MAX_FILE_DEPTH, MAX_ITEMS, MAX_READ_BYTES, MAX_STEPS,
};

use crate::model::{FileSource, Menu};
use crate::text::{check_size, decode};
use crate::ParseError;

/// Parse and run a GRUB 2 config. See [`crate::parse_grub2`].
pub fn parse(text: &[u8], path: &str, src: &mut dyn FileSource) -> Result<Menu, ParseError> {
    check_size(text, path)?;
    let script = interp::drop_hash_lines(&decode(text));
    interp::Interp::new(src, path).run(&script)
}
