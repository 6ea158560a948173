//! NetBSD's `/boot.cfg`, read as the x86 boot loader reads it (`sys/lib/libsa/bootcfg.c`,
//! `sys/arch/i386/stand/lib/bootmenu.c`, `sys/arch/i386/stand/boot/boot2.c`) and as
//! boot.cfg(5) documents it.
//!
//! - **Lines**: `KEYWORD=VALUE`; a `#` anywhere starts a comment; lines without `=` are
//!   ignored. Keywords are matched by prefix, as the boot loader does (`menu`, `banner`,
//!   `timeout`, `default`, `consdev`, `root`, `load`, `format`, `clear`, `userconf`).
//!   Files over 32 KiB are not read by NetBSD's boot (an error here).
//! - **Menu**: `menu=DESCRIPTION:COMMANDS` (at most 20; an empty description shows the
//!   commands; a line without `:` is skipped); `COMMANDS` are separated by `;`. `default=N`
//!   is 1-based (clamped into range; default 1). `timeout=N` seconds (default 10; a value
//!   not starting with a digit waits forever). With `format=n`, more than 9 items and a
//!   timeout, only the first 9 can be chosen. Without `menu` lines NetBSD boots `netbsd`
//!   after the timeout: that is the one entry then.
//! - **Entries**: an item's kernel is the file of its `boot [DEV:][FILE] [-FLAGS]` command
//!   (`FILE` relative to the root of the boot partition, `netbsd` by default): a
//!   [`EntryKind::Linux`]-kind entry (a kernel to load, whatever its OS) whose `args` are
//!   the words after the file as written (`-s`, `-a`...: NetBSD's boot flags, which a NetBSD
//!   Xen kernel also reads from its command line). `multiboot FILE ARGS` (Xen dom0 menus)
//!   makes a [`EntryKind::Multiboot`] entry whose modules are the files of the `load`
//!   commands before it (global `load=` lines first). `prompt`, `quit`, `menu` or no
//!   `boot` give an [`EntryKind::Other`] entry. `load`, `userconf`, `dev`, `consdev`,
//!   `vesa`, `splash`, `rndseed`, `fs`, `modules` change nothing here (NetBSD kernel modules
//!   cannot be passed to a PV kernel). [`Entry::source`] holds the equivalent GRUB 2
//!   commands (`linux /netbsd -s`, or `multiboot` + `module`). A device prefix
//!   (`hd0a:`, `NAME=label:`) names a NetBSD disk partition, which cannot be mapped here: the
//!   file is looked up on the config's volume, with a warning.
//!
//! [`Entry::source`]: crate::Entry::source

use crate::model::{ConfigKind, Entry, EntryKind, FileRef, FileSource, Item, Menu, Module};
use crate::text::decode;
use crate::ParseError;

/// Largest `boot.cfg` NetBSD's boot reads (`parsebootconf`).
pub const MAX_BOOTCFG_BYTES: usize = 32 << 10;
/// `BOOTCFG_MAXMENU`.
const MAX_MENU: usize = 20;
/// Most warnings kept.
const MAX_WARNINGS: usize = 1000;

/// The kernel names NetBSD's `boot` tries without a file name; the first is used.
const DEFAULT_KERNEL: &str = "netbsd";

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
}

/// `atoi`: optional blanks and sign, then digits; anything else ends it; 0 if none.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let mut n: i64 = 0;
    for c in t.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// `gettrailer`: split at the first space; the rest without leading blanks.
fn trailer(s: &str) -> (&str, &str) {
    match s.split_once(' ') {
        Some((a, b)) => (a, b.trim_start_matches([' ', '\t'])),
        None => (s, ""),
    }
}

/// `[DEV:]FILE` → (device, `/FILE`); an empty file is the default kernel.
fn boot_file(spec: &str) -> (Option<&str>, String) {
    let (dev, file) = match spec.find(':') {
        Some(k) => (spec.get(..k), spec.get(k + 1..).unwrap_or("")),
        None => (None, spec),
    };
    let file = if file.is_empty() {
        DEFAULT_KERNEL
    } else {
        file
    };
    let path = if file.starts_with('/') {
        file.to_string()
    } else {
        format!("/{file}")
    };
    (dev, path)
}

/// The commands of a menu item as `docommandchoice` splits them: at `;`, trailing spaces
/// dropped, leading spaces of the following commands skipped, empty ones dropped.
fn split_commands(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, c) in s.split(';').enumerate() {
        let c = if i == 0 { c } else { c.trim_start_matches(' ') };
        let c = c.trim_end_matches(' ');
        if !c.is_empty() {
            out.push(c);
        }
    }
    out
}

/// Boot flags NetBSD's `BOOT_FLAG` knows.
fn known_flag(c: char) -> bool {
    matches!(
        c,
        'a' | 'c' | 'd' | 'm' | 'q' | 's' | 'v' | 'x' | 'z' | '1' | '2'
    )
}

/// Build the entry for one menu item.
fn item_entry(
    p: &mut Parser<'_>,
    line: usize,
    title: &str,
    commands: &str,
    global_loads: &[String],
) -> Entry {
    let mut e = Entry::new(title);
    e.kind = EntryKind::Other;
    let mut loads: Vec<String> = global_loads.to_vec();
    for cmd in split_commands(commands) {
        let (name, arg) = trailer(cmd);
        match name {
            "boot" | "pkboot" => {
                let (file, flags) = if arg.starts_with('-') || arg.is_empty() {
                    ("", arg)
                } else {
                    trailer(arg)
                };
                if !flags.is_empty() && !flags.starts_with('-') {
                    p.warn(
                        line,
                        format!("`{cmd}`: invalid arguments (NetBSD's boot refuses them)"),
                    );
                    continue;
                }
                if let Some(w) = flags.split(' ').next().filter(|w| !w.is_empty()) {
                    if let Some(bad) = w.chars().skip(1).find(|&c| !known_flag(c)) {
                        p.warn(line, format!("`{cmd}`: unknown boot flag -{bad}"));
                    }
                }
                let (dev, path) = boot_file(file);
                if let Some(d) = dev {
                    p.warn(
                        line,
                        format!("`{cmd}`: device `{d}` cannot be mapped; the kernel is looked up on this volume"),
                    );
                }
                e.kind = EntryKind::Linux;
                e.kernel = Some(FileRef { device: None, path });
                e.args = flags.to_string();
                e.modules.clear();
                break;
            }
            "multiboot" => {
                let (file, args) = trailer(arg);
                if file.is_empty() {
                    p.warn(line, format!("`{cmd}`: file name expected"));
                    continue;
                }
                let (dev, path) = boot_file(file);
                if let Some(d) = dev {
                    p.warn(
                        line,
                        format!("`{cmd}`: device `{d}` cannot be mapped; the file is looked up on this volume"),
                    );
                }
                e.kind = EntryKind::Multiboot;
                e.kernel = Some(FileRef { device: None, path });
                e.args = args.to_string();
                e.modules = loads
                    .iter()
                    .map(|l| {
                        let (f, a) = trailer(l);
                        Module {
                            file: FileRef {
                                device: None,
                                path: boot_file(f).1,
                            },
                            args: a.to_string(),
                        }
                    })
                    .collect();
                break;
            }
            "load" => {
                if !arg.is_empty() && loads.len() < MAX_MENU * 4 {
                    loads.push(arg.to_string());
                }
            }
            "prompt" | "quit" | "menu" => {
                // Drops to the prompt, reboots, or shows the menu again: nothing to boot.
                break;
            }
            "userconf" | "dev" | "consdev" | "vesa" | "splash" | "rndseed" | "fs" | "modules"
            | "help" | "?" | "ls" => {}
            _ => {
                let shown: String = name.chars().take(64).collect();
                p.warn(line, format!("unknown command `{shown}`; ignored"));
            }
        }
    }
    e
}

/// Parse a `boot.cfg`. See [`crate::parse_netbsd_bootcfg`].
pub fn parse(text: &[u8], path: &str, _src: &mut dyn FileSource) -> Result<Menu, ParseError> {
    if text.len() > MAX_BOOTCFG_BYTES {
        return Err(ParseError::new(
            path,
            0,
            format!(
                "boot.cfg is {} bytes; NetBSD's boot ignores one larger than {MAX_BOOTCFG_BYTES}",
                text.len()
            ),
        ));
    }
    let text = decode(text);
    let mut p = Parser {
        file: path,
        warnings: Vec::new(),
    };
    // (line, description, commands, description given)
    let mut menus: Vec<(usize, String, String, bool)> = Vec::new();
    let mut timeout: i64 = 10;
    let mut def: i64 = 0;
    let mut format = 'a';
    let mut loads: Vec<String> = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let line = n + 1;
        let l = raw.split('#').next().unwrap_or("");
        let Some((key, value)) = l.split_once('=') else {
            continue;
        };
        if key.starts_with("menu") {
            if menus.len() >= MAX_MENU {
                p.warn(line, format!("more than {MAX_MENU} menu items; ignored"));
                continue;
            }
            let Some((desc, cmd)) = value.split_once(':') else {
                p.warn(line, "menu item without `:`; ignored");
                continue;
            };
            let given = !desc.is_empty();
            let desc = if given { desc } else { cmd };
            menus.push((line, desc.to_string(), cmd.to_string(), given));
        } else if key.starts_with("banner") || key.starts_with("consdev") {
        } else if key.starts_with("timeout") {
            timeout = if value.starts_with(|c: char| c.is_ascii_digit()) {
                atoi(value)
            } else {
                -1
            };
        } else if key.starts_with("default") {
            def = atoi(value).saturating_sub(1);
        } else if key.starts_with("root") {
            p.warn(
                line,
                "root= (the root device for the kernel) is not used here",
            );
        } else if key.starts_with("load") {
            if loads.len() < MAX_MENU * 4 {
                loads.push(value.to_string());
            }
        } else if key.starts_with("format") {
            format = match value.chars().next() {
                Some('a' | 'A') => 'a',
                Some('n' | 'N' | 'd' | 'D') => 'n',
                Some('l' | 'L') => 'l',
                _ => format,
            };
        } else if key.starts_with("clear") || key.starts_with("userconf") || key == "fs" {
        } else {
            let shown: String = key.chars().take(64).collect();
            p.warn(line, format!("unknown keyword `{shown}`; ignored"));
        }
    }
    if format == 'n' && menus.len() > 9 && timeout > 0 {
        p.warn(
            0,
            "format=n with more than 9 items: only the first 9 can be chosen",
        );
        menus.truncate(9);
    }

    let mut menu = Menu::new(ConfigKind::NetBsd);
    if menus.is_empty() {
        // No menu: the boot loader counts down and boots `netbsd`.
        let mut e = Entry::new(DEFAULT_KERNEL);
        e.kernel = Some(FileRef {
            device: None,
            path: format!("/{DEFAULT_KERNEL}"),
        });
        menu.items.push(Item::Entry(e));
        menu.default = Some(vec![0]);
        menu.default_reason = "no menu: NetBSD boots netbsd".to_string();
    } else {
        for (line, desc, cmd, _) in &menus {
            let e = item_entry(&mut p, *line, desc, cmd, &loads);
            menu.items.push(Item::Entry(e));
        }
        let n = menu.items.len() as i64;
        let idx = def.clamp(0, n - 1);
        menu.default = usize::try_from(idx).ok().map(|i| vec![i]);
        menu.default_reason = if idx == def {
            format!("default={}", def + 1)
        } else {
            format!(
                "default={} clamped to item {}",
                def.saturating_add(1),
                idx + 1
            )
        };
    }
    crate::model::fill_source(&mut menu.items);
    menu.timeout_tenths = (timeout >= 0).then(|| (timeout as u64).saturating_mul(10));
    // `doboottypemenu` shows the menu if the first item has a description or there is a
    // timeout; without items, `boot2` only counts down.
    menu.hidden = match menus.first() {
        Some((_, _, _, given)) => !*given && timeout <= 0,
        None => true,
    };
    menu.warnings = p.warnings;
    Ok(menu)
}
