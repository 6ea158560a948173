//! GRUB legacy (0.97) `menu.lst` / `grub.conf`.
//!
//! Follows `stage2/stage2.c`, `cmdline.c` and `builtins.c` of GRUB 0.97 (and the Red Hat /
//! Debian `default saved` file):
//! - lines are read as `get_line_from_config` does: tabs become spaces, leading blanks are
//!   skipped, a line whose first other character is `#` is a comment, a backslash before the
//!   line end joins the next line (with a space);
//! - a command name ends at a blank or `=`, and blanks and `=` after it are skipped
//!   (`default=0`, `timeout = 5`); names are case-sensitive;
//! - before the first `title`: `default N|saved` (`saved` reads the `default` file next to
//!   the config; its first line is the number), `timeout SECS` (none: wait forever),
//!   `fallback N...`, `hiddenmenu`, `password [--md5] PASS [FILE]` (recorded), `root`
//!   (a default for the entries); display and terminal commands are ignored;
//! - `title TEXT` starts an entry (the rest of the line); in it `root`/`rootnoverify
//!   (hdN[,P[,b]])` sets [`Entry::root`] in GRUB 2 naming (`(hd0,0)` → `hd0,msdos1`, BSD
//!   slice `a` → `bsd1`), `kernel [--type=T] [--no-mem-option] FILE ARGS` (the arguments
//!   verbatim), `initrd FILE`, `module`/`modulenounzip FILE ARGS`, `chainloader`;
//!   `(dev)/path` prefixes become [`FileRef::device`];
//! - an entry with `module` lines, `--type=multiboot` or a `xen*.gz` kernel is
//!   [`EntryKind::Multiboot`] (kernel = the hypervisor, [`Entry::modules`] the rest);
//!   `chainloader`, BSD kernel types or no kernel at all make it [`EntryKind::Other`];
//! - numbers are GRUB's `safe_parse_maxint`: decimal or `0x` hex, text after the digits
//!   ignored; a default beyond the entries is a warning and the first entry.
//!
//! Solaris' `kernel$` / `module$` are read as `kernel` / `module` (the `$` variables are
//! left as written).

use crate::model::{ConfigKind, Entry, EntryKind, FileRef, FileSource, Item, Menu, Module};
use crate::text::{check_size, decode, dirname};
use crate::ParseError;

/// Logical lines `(first line number, text)` as GRUB legacy's config reader yields them.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 1;
    let mut lineno = 1;
    let mut comment = false;
    let mut literal = false;
    for c in text.chars() {
        let mut c = if c == '\t' { ' ' } else { c };
        if literal {
            if c == '\n' {
                // Backslash-newline: the backslash is overwritten by a space.
                cur.pop();
                c = ' ';
                lineno += 1;
            }
            literal = false;
        }
        if c == '\\' && !literal {
            literal = true;
        }
        if comment {
            if c == '\n' {
                comment = false;
                lineno += 1;
                start = lineno;
            }
            continue;
        }
        if cur.is_empty() {
            match c {
                '#' => comment = true,
                ' ' => {}
                '\n' => {
                    lineno += 1;
                    start = lineno;
                }
                _ => cur.push(c),
            }
            continue;
        }
        if c == '\n' {
            out.push((start, std::mem::take(&mut cur)));
            lineno += 1;
            start = lineno;
            continue;
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push((start, cur));
    }
    out
}

/// `(command, argument)`: the name ends at a blank or `=`; blanks and `=` after it skipped.
fn split_command(line: &str) -> (&str, &str) {
    let end = line.find([' ', '=']).unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    (name, rest.trim_start_matches([' ', '=']).trim_end())
}

/// GRUB legacy's `safe_parse_maxint`: decimal or `0x` hex, trailing text ignored.
fn parse_int(s: &str) -> Option<u64> {
    let (digits, radix) = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (s, 10),
    };
    let n: String = digits.chars().take_while(|c| c.is_digit(radix)).collect();
    if n.is_empty() {
        return None;
    }
    u64::from_str_radix(&n, radix).ok()
}

/// A GRUB legacy device (without parentheses) in GRUB 2 naming: `hd0,0` → `hd0,msdos1`,
/// `hd0,0,a` → `hd0,msdos1,bsd1`, `hd0,a` → `hd0,bsd1`, `hd0` → `hd0`. `None` if malformed.
pub fn legacy_device(dev: &str) -> Option<String> {
    let mut parts = dev.split(',');
    let disk = parts.next()?.trim();
    let valid_disk = disk == "nd"
        || disk == "cd"
        || ["hd", "fd"].iter().any(|p| {
            disk.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
        });
    if !valid_disk {
        return None;
    }
    let mut out = disk.to_string();
    let bsd = |s: &str| -> Option<String> {
        let mut ch = s.chars();
        match (ch.next(), ch.next()) {
            (Some(c @ 'a'..='h'), None) => {
                Some(format!("bsd{}", u32::from(c) - u32::from('a') + 1))
            }
            _ => None,
        }
    };
    if let Some(p) = parts.next() {
        let p = p.trim();
        match p.parse::<u32>() {
            Ok(n) => out.push_str(&format!(",msdos{}", n.checked_add(1)?)),
            Err(_) => {
                out.push(',');
                out.push_str(&bsd(p)?);
            }
        }
        if let Some(b) = parts.next() {
            out.push(',');
            out.push_str(&bsd(b.trim())?);
        }
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

struct Parser<'a> {
    file: &'a str,
    warnings: Vec<String>,
}

impl Parser<'_> {
    fn warn(&mut self, line: usize, msg: impl AsRef<str>) {
        if self.warnings.len() < 1000 {
            self.warnings
                .push(format!("{}:{line}: {}", self.file, msg.as_ref()));
        }
    }

    /// `(dev)/path` → FileRef with the device converted; a plain path has no device.
    fn file_ref(&mut self, line: usize, s: &str) -> FileRef {
        if let Some(rest) = s.strip_prefix('(') {
            if let Some(close) = rest.find(')') {
                let dev = rest.get(..close).unwrap_or("");
                let path = rest.get(close + 1..).unwrap_or("").to_string();
                let device = legacy_device(dev).or_else(|| {
                    self.warn(
                        line,
                        format!("unrecognised device `({dev})`; kept as written"),
                    );
                    Some(dev.to_string())
                });
                return FileRef { device, path };
            }
        }
        FileRef {
            device: None,
            path: s.to_string(),
        }
    }

    fn root(&mut self, line: usize, arg: &str) -> Option<String> {
        let dev = arg.split(' ').next().unwrap_or("");
        let inner = dev.strip_prefix('(').and_then(|d| d.strip_suffix(')'));
        match inner.and_then(legacy_device) {
            Some(d) => Some(d),
            None => {
                self.warn(line, format!("unrecognised root device `{dev}`; ignored"));
                None
            }
        }
    }
}

#[derive(Default)]
struct Building {
    entry: Option<Entry>,
    multiboot_hint: bool,
    line: usize,
}

fn is_xen_kernel(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.starts_with("xen") && base.contains(".gz")
}

fn finish(b: &mut Building, items: &mut Vec<Item>) {
    if let Some(mut e) = b.entry.take() {
        if e.kind == EntryKind::Linux {
            let xen = b.multiboot_hint
                || !e.modules.is_empty()
                || e.kernel.as_ref().is_some_and(|k| is_xen_kernel(&k.path));
            if xen {
                e.kind = EntryKind::Multiboot;
                e.initrds.clear();
            } else if e.kernel.is_none() {
                e.kind = EntryKind::Other;
            }
        }
        items.push(Item::Entry(e));
    }
    b.multiboot_hint = false;
}

/// Parse a GRUB legacy config. See [`crate::parse_legacy`].
pub fn parse(text: &[u8], path: &str, src: &mut dyn FileSource) -> Result<Menu, ParseError> {
    check_size(text, path)?;
    let text = decode(text);
    let mut p = Parser {
        file: path,
        warnings: Vec::new(),
    };
    let mut menu = Menu::new(ConfigKind::GrubLegacy);
    let mut items: Vec<Item> = Vec::new();
    let mut default: Option<(usize, String)> = None;
    let mut fallback: Vec<u64> = Vec::new();
    let mut global_root: Option<String> = None;
    let mut b = Building::default();

    for (line, l) in logical_lines(&text) {
        let (cmd, arg) = split_command(&l);
        if cmd == "title" {
            finish(&mut b, &mut items);
            if items.len() >= crate::grub2::MAX_ITEMS {
                return Err(ParseError::new(path, line, "too many entries"));
            }
            let mut e = Entry::new(arg);
            e.root = global_root.clone();
            b.entry = Some(e);
            b.line = line;
            continue;
        }
        let Some(e) = b.entry.as_mut() else {
            // Global section.
            match cmd {
                "default" => default = Some((line, arg.to_string())),
                "timeout" => match parse_int(arg) {
                    Some(t) => menu.timeout_tenths = Some(t.saturating_mul(10)),
                    None => p.warn(line, format!("bad timeout `{arg}`; ignored")),
                },
                "fallback" => fallback = arg.split(' ').filter_map(parse_int).collect(),
                "hiddenmenu" => menu.hidden = true,
                "password" => menu.password = Some(arg.to_string()),
                "root" | "rootnoverify" => global_root = p.root(line, arg),
                "color" | "splashimage" | "foreground" | "background" | "serial" | "terminal"
                | "gfxmenu" | "setkey" | "viewport" | "shade" | "debug" | "pager" | "bootp"
                | "dhcp" | "ifconfig" | "rarp" | "tftpserver" | "map" | "hide" | "unhide"
                | "partnew" | "parttype" | "lock" | "savedefault" | "geometry" | "uppermem"
                | "find" | "findroot" => {}
                _ => p.warn(line, format!("`{cmd}` before the first title; ignored")),
            }
            continue;
        };
        match cmd {
            "root" | "rootnoverify" => {
                if let Some(r) = p.root(line, arg) {
                    e.root = Some(r);
                }
            }
            "kernel" | "kernel$" => {
                let mut rest = arg;
                loop {
                    let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                    if let Some(t) = word.strip_prefix("--type=") {
                        match t {
                            "multiboot" => b.multiboot_hint = true,
                            "netbsd" | "freebsd" | "openbsd" => e.kind = EntryKind::Other,
                            _ => {}
                        }
                    } else if word != "--no-mem-option" {
                        break;
                    }
                    rest = tail.trim_start();
                }
                let (file, args) = rest.split_once(' ').unwrap_or((rest, ""));
                if file.is_empty() {
                    p.warn(line, "kernel: filename expected");
                    continue;
                }
                let k = p.file_ref(line, file);
                e.kernel = Some(k);
                e.args = args.trim().to_string();
                e.modules.clear();
            }
            "initrd" => {
                let file = arg.split(' ').next().unwrap_or("");
                if file.is_empty() {
                    continue;
                }
                let f = p.file_ref(line, file);
                e.initrds = vec![f];
            }
            "module" | "module$" | "modulenounzip" => {
                let (file, args) = arg.split_once(' ').unwrap_or((arg, ""));
                if file.is_empty() {
                    continue;
                }
                let f = p.file_ref(line, file);
                e.modules.push(Module {
                    file: f,
                    args: args.trim().to_string(),
                });
            }
            "chainloader" => {
                e.kind = EntryKind::Other;
                e.kernel = None;
            }
            "lock" => e.locked = true,
            "boot" | "savedefault" | "makeactive" | "map" | "hide" | "unhide" | "setkey"
            | "uppermem" | "find" | "findroot" | "bootfs" | "color" | "password" | "pause"
            | "quiet" | "geometry" | "md5crypt" | "partnew" | "parttype" | "serial"
            | "terminal" | "ifconfig" | "dhcp" | "bootp" | "rarp" | "tftpserver" | "fstest"
            | "impsprobe" | "ioprobe" | "displaymem" | "displayapm" | "help" | "cat"
            | "splashimage" | "foreground" | "background" => {}
            "configfile" => p.warn(line, "configfile in an entry is not followed"),
            _ => p.warn(line, format!("unknown command `{cmd}`; ignored")),
        }
    }
    finish(&mut b, &mut items);

    // Default.
    let n = items.len();
    let (idx, reason) = match default {
        None => (0, "no default: first entry".to_string()),
        Some((line, spec)) if spec == "saved" => {
            let file = format!("{}/default", dirname(path));
            let saved = src
                .read_file(None, &file, 4096)
                .map(|d| String::from_utf8_lossy(&d).into_owned())
                .and_then(|s| s.lines().next().and_then(|l| parse_int(l.trim())));
            match saved.map(|s| (s, usize::try_from(s).unwrap_or(usize::MAX))) {
                Some((s, i)) if i < n => (i, format!("default saved: entry {s} from {file}")),
                Some((s, _)) => {
                    p.warn(
                        line,
                        format!("saved default {s} out of range; using the first entry"),
                    );
                    (0, format!("saved default {s} out of range: first entry"))
                }
                None => {
                    p.warn(line, format!("default saved but {file} is missing or unreadable; using the first entry"));
                    (0, "default saved, no saved entry: first entry".to_string())
                }
            }
        }
        Some((line, spec)) => match parse_int(&spec) {
            Some(d) if usize::try_from(d).is_ok_and(|d| d < n) => {
                (usize::try_from(d).unwrap_or(0), format!("default {d}"))
            }
            Some(d) => {
                p.warn(
                    line,
                    format!("default {d} but there are {n} entries; using the first entry"),
                );
                (0, format!("default {d} out of range: first entry"))
            }
            None => {
                p.warn(line, format!("bad default `{spec}`; using the first entry"));
                (0, format!("bad default `{spec}`: first entry"))
            }
        },
    };
    menu.default = (n > 0).then(|| vec![idx]);
    menu.default_reason = reason;
    menu.fallback = fallback
        .into_iter()
        .filter_map(|f| usize::try_from(f).ok().filter(|&f| f < n))
        .map(|f| vec![f])
        .collect();
    menu.items = items;
    crate::model::fill_source(&mut menu.items);
    menu.warnings = p.warnings;
    Ok(menu)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let l = logical_lines("  # c\n\tdefault=0\ntitle a \\\n  b\n\n kernel /k\tx\n#x\n");
        assert_eq!(
            l,
            vec![
                (2, "default=0".to_string()),
                (3, "title a    b".to_string()),
                (6, "kernel /k x".to_string())
            ]
        );
        assert_eq!(split_command("default=0"), ("default", "0"));
        assert_eq!(split_command("timeout = 5 "), ("timeout", "5"));
        assert_eq!(split_command("title  Foo = bar"), ("title", "Foo = bar"));
        assert_eq!(split_command("hiddenmenu"), ("hiddenmenu", ""));
    }

    #[test]
    fn devices() {
        assert_eq!(legacy_device("hd0,0").as_deref(), Some("hd0,msdos1"));
        assert_eq!(legacy_device("hd1,4").as_deref(), Some("hd1,msdos5"));
        assert_eq!(legacy_device("hd0").as_deref(), Some("hd0"));
        assert_eq!(legacy_device("hd0,0,a").as_deref(), Some("hd0,msdos1,bsd1"));
        assert_eq!(legacy_device("hd0,b").as_deref(), Some("hd0,bsd2"));
        assert_eq!(legacy_device("fd0").as_deref(), Some("fd0"));
        assert_eq!(legacy_device("hd0,x"), None);
        assert_eq!(legacy_device("sda1"), None);
        assert_eq!(legacy_device("hd0,99999999999"), None);
        assert_eq!(legacy_device("hd,0"), None);
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int("5"), Some(5));
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("2abc"), Some(2));
        assert_eq!(parse_int("-1"), None);
        assert_eq!(parse_int("99999999999999999999999"), None);
    }
}
