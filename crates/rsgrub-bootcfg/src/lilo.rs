//! LILO `lilo.conf`, read as the `lilo` installer reads it (`src/cfg.c`, `src/bsect.c` of
//! LILO 24) and as lilo.conf(5) documents it.
//!
//! - **Syntax**: tokens separated by blanks and newlines; `NAME=VALUE` (blanks around `=`
//!   allowed) or a bare `NAME` flag; names are case-insensitive; `#` starts a comment where a
//!   token could start (and ends an unquoted token); `"..."` quotes a value (`\"`, `\\`, `\$`
//!   and `\` + newline, which becomes one space, are its only escapes; a tab or newline inside
//!   is an error, as in LILO); outside quotes `\` escapes the next character (`\` + newline
//!   joins lines). `$NAME` / `${NAME}` are environment variables of the `lilo` run, which
//!   cannot be known here: they are kept as written, with a warning. Lexical errors are
//!   [`ParseError`]s (LILO refuses such a file).
//! - **Structure**: global options, then sections started by `image=FILE` (a kernel) or
//!   `other=DEVICE` (another OS: listed, not bootable here). An option in a section
//!   overrides the global one.
//! - **Command line** (`bsect_common`): `ro ` if `read-only` (section or global), `rw ` if
//!   `read-write`, `root=ROOT ` (section, else global), `ramdisk=N `, then `append` (the
//!   section's, else the global one: a section `append` replaces the global one), then the
//!   section's `addappend`; `literal=` replaces all of it; a final space is dropped. LILO
//!   writes a `root=` device name as its device number (`root=801`); here it is kept as
//!   written (`root=/dev/sda1`, which the kernel reads the same); `root=current` (the root
//!   LILO ran on) cannot be known and is left out, with a warning. The boot loader itself
//!   puts `BOOT_IMAGE=LABEL` (and `auto` when booting unattended) in front at boot time;
//!   lilo.conf(5) does not document that, and it is not added here. `vga=` is a boot
//!   parameter LILO handles itself: ignored.
//! - **Files**: `image=` and `initrd=` (section, else global) are paths on the root file
//!   system (the volume of `lilo.conf`, `/etc` on it); a relative path is taken from `/`.
//! - **Menu**: the title and id are `label=` (spaces become `_`, as LILO does), else the
//!   file name of `image=` without its directory; `alias=` is a second name. `default=`
//!   names a label or alias (case-insensitively, as LILO's default `IGNORECASE` build);
//!   without it, the first image. With `prompt`, LILO waits `timeout=` tenths of a second
//!   (forever without `timeout`); without `prompt` the menu is hidden and it boots after
//!   `delay=` tenths (default 0) unless a key is held.

use crate::model::{ConfigKind, Entry, EntryKind, FileRef, FileSource, Item, Menu};
use crate::text::{check_size, decode};
use crate::ParseError;

/// LILO's longest token.
const MAX_TOKEN: usize = 1023;
/// Most warnings kept.
const MAX_WARNINGS: usize = 1000;

/// Options of an `image=` / `other=` section (`cf_image`, `cf_kernel`, `cf_all`, `cf_other`):
/// `(name, takes a value)`.
const SECTION_OPTS: &[(&str, bool)] = &[
    ("range", true),
    ("addappend", true),
    ("append", true),
    ("initrd", true),
    ("ramdisk", true),
    ("read-only", false),
    ("read-write", false),
    ("root", true),
    ("vga", true),
    ("alias", true),
    ("bmp-retain", false),
    ("bypass", false),
    ("fallback", true),
    ("label", true),
    ("literal", true),
    ("lock", false),
    ("mandatory", false),
    ("nokbdisable", false),
    ("optional", false),
    ("password", true),
    ("restricted", false),
    ("single-key", false),
    ("vmdisable", false),
    ("vmwarn", false),
    // `other=` sections.
    ("boot-as", true),
    ("change", false),
    ("loader", true),
    ("map-drive", true),
    ("master-boot", false),
    ("table", true),
    ("unsafe", false),
    ("to", true),
    ("automatic", false),
    ("reset", false),
    ("set", true),
    ("activate", false),
    ("deactivate", false),
];

/// Global options (`cf_options`, and the `disk=` / `partition=` sub-sections).
const GLOBAL_OPTS: &[(&str, bool)] = &[
    ("append", true),
    ("backup", true),
    ("bios-passes-dl", true),
    ("bitmap", true),
    ("bmp-colors", true),
    ("bmp-retain", false),
    ("bmp-table", true),
    ("bmp-timer", true),
    ("boot", true),
    ("change-rules", false),
    ("compact", false),
    ("default", true),
    ("delay", true),
    ("disk", true),
    ("disktab", true),
    ("el-torito-bootable-cd", false),
    ("fix-table", false),
    ("force-backup", true),
    ("geometric", false),
    ("ignore-table", false),
    ("initrd", true),
    ("install", true),
    ("keytable", true),
    ("large-memory", false),
    ("lba32", false),
    ("linear", false),
    ("mandatory", false),
    ("map", true),
    ("menu-scheme", true),
    ("menu-title", true),
    ("message", true),
    ("noraid", false),
    ("nodevcache", false),
    ("nokbdefault", true),
    ("nowarn", false),
    ("optional", false),
    ("password", true),
    ("prompt", false),
    ("raid-extra-boot", true),
    ("ramdisk", true),
    ("read-only", false),
    ("read-write", false),
    ("restricted", false),
    ("root", true),
    ("serial", true),
    ("single-key", false),
    ("small-memory", false),
    ("static-bios-codes", false),
    ("suppress-boot-time-bios-data", false),
    ("timeout", true),
    ("unattended", false),
    ("verbose", true),
    ("vga", true),
    ("vmdefault", true),
    ("bios", true),
    ("sectors", true),
    ("heads", true),
    ("cylinders", true),
    ("inaccessible", false),
    ("max-partitions", true),
    ("partition", true),
    ("start", true),
];

/// One `NAME[=VALUE]` item.
struct Item1 {
    name: String,
    value: Option<String>,
    line: usize,
}

struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    file: &'a str,
    /// `$` seen (environment variables are not expanded).
    dollar: bool,
}

enum Tok {
    Eq,
    Word(String),
}

impl Lexer<'_> {
    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.file, self.line, msg)
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'$' {
            self.dollar = true;
        }
        Some(c)
    }
    /// `cfg_get_token`.
    fn token(&mut self) -> Result<Option<(Tok, usize)>, ParseError> {
        loop {
            match self.peek() {
                None => return Ok(None),
                Some(b' ' | b'\t') => self.i += 1,
                Some(b'\n') => {
                    self.i += 1;
                    self.line += 1;
                }
                Some(b'#') => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                Some(_) => break,
            }
        }
        let line = self.line;
        match self.peek() {
            Some(b'=') => {
                self.i += 1;
                return Ok(Some((Tok::Eq, line)));
            }
            Some(b'"') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    let Some(c) = self.bump() else {
                        return Err(self.err("EOF in quoted string"));
                    };
                    match c {
                        b'"' => break,
                        b'\\' => match self.bump() {
                            Some(e @ (b'"' | b'\\' | b'$')) => out.push(e),
                            Some(b'\n') => {
                                self.line += 1;
                                while matches!(self.peek(), Some(b' ' | b'\t')) {
                                    self.i += 1;
                                }
                                out.push(b' ');
                            }
                            _ => return Err(self.err("Bad use of \\ in quoted string")),
                        },
                        b'\n' | b'\t' => {
                            return Err(self.err("\\n and \\t are not allowed in quoted strings"))
                        }
                        _ => out.push(c),
                    }
                    if out.len() > MAX_TOKEN {
                        return Err(self.err("Quoted string is too long"));
                    }
                }
                return Ok(Some((
                    Tok::Word(String::from_utf8_lossy(&out).into_owned()),
                    line,
                )));
            }
            _ => {}
        }
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b' ' | b'\t' | b'\n' | b'#' | b'=') => break,
                Some(b'\\') => {
                    self.i += 1;
                    match self.bump() {
                        None => return Err(self.err("\\ precedes EOF")),
                        Some(b'\n') => self.line += 1,
                        Some(b'\t') => out.push(b' '),
                        Some(c) => out.push(c),
                    }
                }
                Some(_) => {
                    if let Some(c) = self.bump() {
                        out.push(c);
                    }
                }
            }
            if out.len() > MAX_TOKEN {
                return Err(self.err("Token is too long"));
            }
        }
        Ok(Some((
            Tok::Word(String::from_utf8_lossy(&out).into_owned()),
            line,
        )))
    }
}

/// Tokens → items (`cfg_next`).
fn items(text: &str, file: &str) -> Result<(Vec<Item1>, bool), ParseError> {
    let mut lx = Lexer {
        b: text.as_bytes(),
        i: 0,
        line: 1,
        file,
        dollar: false,
    };
    let mut out = Vec::new();
    let mut pending: Option<(Tok, usize)> = None;
    loop {
        let next = match pending.take() {
            Some(t) => Some(t),
            None => lx.token()?,
        };
        let Some((tok, line)) = next else { break };
        let Tok::Word(name) = tok else {
            return Err(ParseError::new(file, line, "Syntax error"));
        };
        match lx.token()? {
            Some((Tok::Eq, _)) => match lx.token()? {
                Some((Tok::Word(v), _)) => out.push(Item1 {
                    name,
                    value: Some(v),
                    line,
                }),
                Some((Tok::Eq, l)) => {
                    return Err(ParseError::new(
                        file,
                        l,
                        format!("Syntax error after {name}"),
                    ))
                }
                None => return Err(ParseError::new(file, lx.line, "Value expected at EOF")),
            },
            other => {
                pending = other;
                out.push(Item1 {
                    name,
                    value: None,
                    line,
                });
            }
        }
    }
    Ok((out, lx.dollar))
}

/// Options of one table (global or a section): first value of each name wins.
#[derive(Default)]
struct Opts {
    vals: Vec<(String, Option<String>)>,
}

impl Opts {
    fn get(&self, name: &str) -> Option<&str> {
        self.vals
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }
    fn flag(&self, name: &str) -> bool {
        self.vals.iter().any(|(n, _)| n == name)
    }
    fn has(&self, name: &str) -> bool {
        self.flag(name)
    }
}

struct Section {
    other: bool,
    target: String,
    opts: Opts,
    line: usize,
}

struct Parser<'a> {
    file: &'a str,
    warnings: Vec<String>,
}

impl Parser<'_> {
    fn warn(&mut self, line: usize, msg: impl AsRef<str>) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings
                .push(format!("{}:{line}: {}", self.file, msg.as_ref()));
        }
    }

    /// Set an option in a table, checking it as `cfg_do_set` does.
    fn set(&mut self, table: &[(&str, bool)], opts: &mut Opts, it: &Item1) -> bool {
        let name = it.name.to_ascii_lowercase();
        let Some(&(_, takes)) = table.iter().find(|(n, _)| *n == name) else {
            return false;
        };
        let shown: String = it.name.chars().take(64).collect();
        if takes && it.value.is_none() {
            self.warn(it.line, format!("value expected for `{shown}`; ignored"));
        } else if !takes && it.value.is_some() {
            self.warn(it.line, format!("`{shown}` doesn't have a value; ignored"));
        } else if opts.has(&name) {
            self.warn(
                it.line,
                format!("duplicate entry `{shown}`; the first one is used"),
            );
        } else {
            opts.vals.push((name, it.value.clone()));
        }
        true
    }
}

/// A number as LILO's `to_number` reads it (decimal, or `0x` hex).
fn to_number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn abs_path(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

/// Parse a `lilo.conf`. See [`crate::parse_lilo`].
pub fn parse(text: &[u8], path: &str, _src: &mut dyn FileSource) -> Result<Menu, ParseError> {
    check_size(text, path)?;
    let text = decode(text);
    let (list, dollar) = items(&text, path)?;
    let mut p = Parser {
        file: path,
        warnings: Vec::new(),
    };
    if dollar {
        p.warn(
            0,
            "`$` (an environment variable of the lilo run, or a literal) is kept as written",
        );
    }
    let mut global = Opts::default();
    let mut sections: Vec<Section> = Vec::new();
    for it in &list {
        let name = it.name.to_ascii_lowercase();
        if name == "image" || name == "other" {
            let Some(target) = it.value.clone() else {
                p.warn(it.line, format!("`{name}` without a value; ignored"));
                continue;
            };
            if sections.len() >= crate::grub2::MAX_ITEMS {
                return Err(ParseError::new(path, it.line, "too many images"));
            }
            sections.push(Section {
                other: name == "other",
                target,
                opts: Opts::default(),
                line: it.line,
            });
            continue;
        }
        let shown: String = it.name.chars().take(64).collect();
        match sections.last_mut() {
            None => {
                if !p.set(GLOBAL_OPTS, &mut global, it) {
                    p.warn(it.line, format!("unknown keyword `{shown}`; ignored"));
                }
            }
            Some(sec) => {
                let mut opts = std::mem::take(&mut sec.opts);
                let known = p.set(SECTION_OPTS, &mut opts, it);
                if let Some(sec) = sections.last_mut() {
                    sec.opts = opts;
                }
                if !known {
                    let what = if GLOBAL_OPTS.iter().any(|(n, _)| *n == name) {
                        "global option after the first image (LILO rejects this)"
                    } else {
                        "unknown keyword"
                    };
                    p.warn(it.line, format!("{what} `{shown}`; ignored"));
                }
            }
        }
    }

    let mut menu = Menu::new(ConfigKind::Lilo);
    let mut names: Vec<(String, Option<String>)> = Vec::new();
    for sec in &sections {
        let o = &sec.opts;
        let label = match o.get("label") {
            Some(l) => l.replace(' ', "_"),
            None => sec
                .target
                .rsplit('/')
                .next()
                .unwrap_or(&sec.target)
                .to_string(),
        };
        let mut e = Entry::new(label.clone());
        e.id = Some(label.clone());
        names.push((label, o.get("alias").map(str::to_string)));
        if sec.other {
            e.kind = EntryKind::Other;
        } else if o.has("range") {
            p.warn(
                sec.line,
                "an image given as a sector range cannot be read here",
            );
            e.kind = EntryKind::Other;
        } else {
            e.kind = EntryKind::Linux;
            e.kernel = Some(FileRef {
                device: None,
                path: abs_path(&sec.target),
            });
            if let Some(i) = o.get("initrd").or_else(|| global.get("initrd")) {
                e.initrds.push(FileRef {
                    device: None,
                    path: abs_path(i),
                });
            }
            e.args = command_line(&mut p, sec, &global);
        }
        menu.items.push(Item::Entry(e));
    }
    crate::model::fill_source(&mut menu.items);

    let n = menu.items.len();
    if n == 0 {
        p.warn(0, "no images have been defined");
    }
    (menu.default, menu.default_reason) = match global.get("default") {
        Some(d) => {
            let hit = names.iter().position(|(l, a)| {
                l.eq_ignore_ascii_case(d) || a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(d))
            });
            match hit {
                Some(i) => (Some(vec![i]), format!("default={d}")),
                None if n > 0 => {
                    p.warn(
                        0,
                        format!("default image `{d}` doesn't exist; using the first image"),
                    );
                    (
                        Some(vec![0]),
                        format!("default `{d}` doesn't exist: first image"),
                    )
                }
                None => (None, "no images".to_string()),
            }
        }
        None if n > 0 => (Some(vec![0]), "no default: first image".to_string()),
        None => (None, "no images".to_string()),
    };
    let tenths = |p: &mut Parser<'_>, key: &str| -> Option<u64> {
        let v = global.get(key)?;
        match to_number(v) {
            Some(t) => Some(t),
            None => {
                p.warn(0, format!("bad {key} `{v}`; ignored"));
                None
            }
        }
    };
    if global.flag("prompt") {
        menu.timeout_tenths = tenths(&mut p, "timeout");
    } else {
        menu.hidden = true;
        menu.timeout_tenths = Some(tenths(&mut p, "delay").unwrap_or(0));
    }
    menu.password = global.get("password").map(str::to_string);
    menu.warnings = p.warnings;
    Ok(menu)
}

/// The command line `bsect_common` builds for an image.
fn command_line(p: &mut Parser<'_>, sec: &Section, global: &Opts) -> String {
    let o = &sec.opts;
    if let Some(l) = o.get("literal") {
        check_options(p, sec.line, l);
        return l.strip_suffix(' ').unwrap_or(l).to_string();
    }
    let mut s = String::new();
    if o.flag("read-only") || global.flag("read-only") {
        s.push_str("ro ");
    }
    if o.flag("read-write") || global.flag("read-write") {
        s.push_str("rw ");
    }
    if let Some(root) = o.get("root").or_else(|| global.get("root")) {
        if root.eq_ignore_ascii_case("current") {
            p.warn(
                sec.line,
                "root=current (the root file system lilo ran on) cannot be known; left out",
            );
        } else {
            s.push_str("root=");
            s.push_str(root);
            s.push(' ');
        }
    }
    if let Some(r) = o.get("ramdisk").or_else(|| global.get("ramdisk")) {
        match to_number(r) {
            Some(n) => s.push_str(&format!("ramdisk={n} ")),
            None => p.warn(sec.line, format!("bad ramdisk `{r}`; ignored")),
        }
    }
    if let Some(a) = o.get("append").or_else(|| global.get("append")) {
        s.push_str(a);
        s.push(' ');
    }
    if let Some(a) = o.get("addappend") {
        if global.get("append").is_none() {
            p.warn(sec.line, "addappend used without global append");
        }
        s.push_str(a);
    }
    check_options(p, sec.line, &s);
    s.strip_suffix(' ').unwrap_or(&s).to_string()
}

/// `check_options`: LILO refuses `vga=`, `kbd=`, `lock` and `nobd` in a command line.
fn check_options(p: &mut Parser<'_>, line: usize, s: &str) {
    for w in s.split(' ') {
        let bad = ["vga=", "kbd="].iter().any(|k| w.starts_with(k)) || w == "lock" || w == "nobd";
        if bad {
            p.warn(
                line,
                format!("append/literal may not contain `{w}` (lilo refuses it); kept"),
            );
        }
    }
}
