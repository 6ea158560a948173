//! SYSLINUX / EXTLINUX / ISOLINUX configs.
//!
//! Follows syslinux 6's `com32/menu/readconfig.c` (which `ldlinux` shares), i.e. what
//! `menu.c32` / `vesamenu.c32` and the core's command line see:
//! - keywords are case-insensitive and must be followed by a blank or the line end; a line
//!   ends at the first CR; `#` lines are comments; `TEXT HELP` ... `ENDTEXT` is skipped;
//! - `LABEL name` (the rest of the line) starts an entry whose kernel defaults to the label;
//!   `KERNEL`/`LINUX` and the other kernel types (`BOOT BSS PXE FDIMAGE COMBOOT COM32 CONFIG
//!   LOCALBOOT`) set it, `APPEND` (label's, else the global one; `APPEND -` = none), `INITRD`
//!   (comma-separated); the command line is `kernel append initrd=INITRD` and every
//!   `initrd=` in it is removed from [`Entry::args`], the last one giving the initrds
//!   (comma-separated), as PyGrub and syslinux's loader use them;
//! - a `KERNEL` file's type comes from its extension (`.c32` COM32, `.bs .bss .bin` boot
//!   sector, `.0` PXE, `.img` floppy, `.com .cbt` COMBOOT, otherwise Linux); only Linux
//!   kernels are [`EntryKind::Linux`], the rest [`EntryKind::Other`] — except `mboot.c32`,
//!   whose `xen ARGS --- kernel ARGS --- initrd [--- initrd...]` gives the kernel (second
//!   part) with its arguments and the initrds: that entry is Linux because the kernel can
//!   be booted PV, as PyGrub does;
//! - `MENU LABEL` (title, `^` hotkey markers removed), `MENU DEFAULT`, `MENU HIDE` (left out
//!   of the menu, still reachable by `DEFAULT`/`ONTIMEOUT`), `MENU DISABLE`/`SEPARATOR`
//!   and `MENU EXIT`/`QUIT`/`GOTO`/`HELP` items (not bootable: left out), `MENU BEGIN
//!   [tag]` ... `MENU END` submenus (titled by `MENU LABEL`, else `MENU TITLE`, else the
//!   tag), `MENU HIDDEN`;
//! - `INCLUDE file [tag]` / `MENU INCLUDE file [tag]` (with a tag: inside a submenu), read
//!   through the [`FileSource`], nested at most [`MAX_INCLUDE_DEPTH`] deep, a file already
//!   being included is skipped (loops), a missing one is a warning;
//! - relative paths (kernels, initrds, includes) resolve against the directory of the main
//!   config, which is syslinux's working directory;
//! - default: with a menu (`UI`, or `DEFAULT menu.c32`/`vesamenu.c32`), `ONTIMEOUT` when
//!   there is a timeout, else `DEFAULT label` under `UI`, else `MENU DEFAULT`, else the
//!   first entry; without a menu, `ONTIMEOUT`, else `DEFAULT`. A `DEFAULT`/`ONTIMEOUT`
//!   whose first word is no label is a command line: it becomes an extra entry;
//! - `TIMEOUT` is in tenths of a second, 0 = wait forever; without a menu and with
//!   `PROMPT 0` (the default) the default boots at once.

use crate::model::{ConfigKind, Entry, EntryKind, FileRef, FileSource, Item, Menu, Submenu};
use crate::text::{check_size, dirname, join};
use crate::{ParseError, MAX_CONFIG_BYTES};

/// Deepest nesting of `INCLUDE`s.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Most files included in one parse.
const MAX_INCLUDES: usize = 256;
/// Most bytes read in one parse.
const MAX_TOTAL_BYTES: usize = 16 << 20;

/// Syslinux's `looking_at`: `kw` (case-insensitive) followed by a blank or the end; returns
/// the text after the keyword.
fn looking_at<'a>(line: &'a str, kw: &str) -> Option<&'a str> {
    let head = line.get(..kw.len())?;
    if !head.eq_ignore_ascii_case(kw) {
        return None;
    }
    let rest = line.get(kw.len()..)?;
    (rest.is_empty() || rest.starts_with([' ', '\t'])).then_some(rest)
}

fn skipspace(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

fn strip_caret(s: &str) -> String {
    s.chars().filter(|&c| c != '^').collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KType {
    Kernel,
    Linux,
    Boot,
    Bss,
    Pxe,
    Fdimage,
    Comboot,
    Com32,
    Config,
    Localboot,
}

const KERNEL_TYPES: &[(&str, KType)] = &[
    ("localboot", KType::Localboot),
    ("kernel", KType::Kernel),
    ("linux", KType::Linux),
    ("boot", KType::Boot),
    ("bss", KType::Bss),
    ("pxe", KType::Pxe),
    ("fdimage", KType::Fdimage),
    ("comboot", KType::Comboot),
    ("com32", KType::Com32),
    ("config", KType::Config),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Cmd,
    NotBootable,
}

#[derive(Debug, Clone)]
struct LabelData {
    label: String,
    kernel: String,
    ktype: KType,
    append: Option<String>,
    initrd: Option<String>,
    menulabel: Option<String>,
    menudefault: bool,
    menuhide: bool,
    disabled: bool,
    action: Action,
    line: usize,
}

#[derive(Debug, Default)]
struct Node {
    tag: Option<String>,
    label: Option<String>,
    title: Option<String>,
    items: Vec<Item>,
    defentry: Option<usize>,
    /// `MENU DEFAULT` outside a label: this submenu is its parent's default.
    default_self: bool,
    ontimeout: Option<String>,
    timeout: Option<u64>,
}

struct Parser<'a> {
    src: &'a mut dyn FileSource,
    cwd: String,
    warnings: Vec<String>,
    /// The top menu.
    root: Node,
    /// Open submenus, innermost last.
    stack: Vec<Node>,
    ld: Option<LabelData>,
    global_append: Option<String>,
    /// Every bootable label: (label, path in the menu or `None` if hidden, entry).
    labels: Vec<(String, Option<Vec<usize>>, Entry)>,
    global_default: Option<String>,
    has_ui: bool,
    prompt: Option<u64>,
    hidden_menu: bool,
    including: Vec<String>,
    includes: usize,
    bytes: usize,
    items: usize,
}

impl Parser<'_> {
    fn warn(&mut self, file: &str, line: usize, msg: impl AsRef<str>) {
        if self.warnings.len() < 1000 {
            self.warnings
                .push(format!("{file}:{line}: {}", msg.as_ref()));
        }
    }

    fn resolve(&self, path: &str) -> String {
        join(&self.cwd, path)
    }

    /// The menu being filled.
    fn node(&mut self) -> &mut Node {
        match self.stack.last_mut() {
            Some(n) => n,
            None => &mut self.root,
        }
    }

    /// Path of the next item of the current menu (an open submenu will be inserted at its
    /// parent's current end).
    fn next_path(&self) -> Vec<usize> {
        std::iter::once(&self.root)
            .chain(self.stack.iter())
            .map(|n| n.items.len())
            .collect()
    }

    /// An entry from a syslinux command line (`kernel args...`).
    fn entry_from_cmdline(
        &mut self,
        title: String,
        id: Option<String>,
        cmd: &str,
        ktype: KType,
        file: &str,
        line: usize,
    ) -> Entry {
        let mut e = Entry::new(title);
        e.id = id;
        let mut words = cmd.split([' ', '\t']).filter(|w| !w.is_empty());
        let Some(kernel) = words.next() else {
            e.kind = EntryKind::Other;
            return e;
        };
        let rest: Vec<&str> = words.collect();
        let lower = kernel.to_ascii_lowercase();
        let base = lower.rsplit('/').next().unwrap_or(&lower).to_string();
        let ext = base
            .rsplit_once('.')
            .map(|(_, x)| x.to_string())
            .unwrap_or_default();
        let ktype = match ktype {
            KType::Kernel => match ext.as_str() {
                "c32" => KType::Com32,
                "bs" | "bss" | "bin" => KType::Boot,
                "0" => KType::Pxe,
                "img" => KType::Fdimage,
                "com" | "cbt" => KType::Comboot,
                _ => KType::Linux,
            },
            t => t,
        };
        if base == "mboot.c32" && matches!(ktype, KType::Com32) {
            let parts: Vec<Vec<&str>> = rest.split(|w| *w == "---").map(<[&str]>::to_vec).collect();
            let Some(k) = parts.get(1).and_then(|p| p.first()) else {
                self.warn(
                    file,
                    line,
                    "mboot.c32 without a kernel part (xen --- kernel --- initrd); not bootable",
                );
                e.kind = EntryKind::Other;
                return e;
            };
            e.kind = EntryKind::Linux;
            e.kernel = Some(FileRef {
                device: None,
                path: self.resolve(k),
            });
            e.args = parts
                .get(1)
                .map(|p| p.iter().skip(1).copied().collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            e.initrds = parts
                .iter()
                .skip(2)
                .filter_map(|p| p.first())
                .map(|p| FileRef {
                    device: None,
                    path: self.resolve(p),
                })
                .collect();
            return e;
        }
        if ktype != KType::Linux {
            e.kind = EntryKind::Other;
            return e;
        }
        e.kernel = Some(FileRef {
            device: None,
            path: self.resolve(kernel),
        });
        let mut initrd: Option<&str> = None;
        let mut args = Vec::new();
        for w in rest {
            match w.strip_prefix("initrd=") {
                Some(i) => initrd = Some(i),
                None => args.push(w),
            }
        }
        e.args = args.join(" ");
        e.initrds = initrd
            .unwrap_or("")
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| FileRef {
                device: None,
                path: self.resolve(p),
            })
            .collect();
        e
    }

    /// Syslinux's `record()`: turn the pending label into a menu item.
    fn record(&mut self, file: &str) -> Result<(), ParseError> {
        let Some(ld) = self.ld.take() else {
            return Ok(());
        };
        if ld.disabled || ld.action != Action::Cmd {
            return Ok(());
        }
        self.items += 1;
        if self.items > crate::grub2::MAX_ITEMS {
            return Err(ParseError::new(file, ld.line, "too many entries"));
        }
        let append = ld.append.clone().or_else(|| self.global_append.clone());
        let append = match append.as_deref() {
            None | Some("-") => String::new(),
            Some(a) => a.to_string(),
        };
        let mut cmd = ld.kernel.clone();
        if !append.is_empty() {
            cmd.push(' ');
            cmd.push_str(&append);
        }
        if let Some(i) = &ld.initrd {
            cmd.push_str(" initrd=");
            cmd.push_str(i.trim());
        }
        let title = strip_caret(ld.menulabel.as_deref().unwrap_or(&ld.label));
        let e =
            self.entry_from_cmdline(title, Some(ld.label.clone()), &cmd, ld.ktype, file, ld.line);
        if ld.menuhide {
            self.labels.push((ld.label, None, e));
            return Ok(());
        }
        let path = self.next_path();
        let node = self.node();
        if ld.menudefault {
            node.defentry = Some(node.items.len());
        }
        node.items.push(Item::Entry(e.clone()));
        self.labels.push((ld.label, Some(path), e));
        Ok(())
    }

    fn begin_submenu(&mut self, tag: &str) {
        let tag = tag.trim();
        self.stack.push(Node {
            tag: (!tag.is_empty()).then(|| tag.to_string()),
            ..Node::default()
        });
    }

    fn end_submenu(&mut self) {
        let Some(n) = self.stack.pop() else { return };
        let title = n
            .label
            .as_deref()
            .map(strip_caret)
            .or_else(|| n.title.clone())
            .or_else(|| n.tag.clone())
            .unwrap_or_default();
        let parent = self.node();
        if n.default_self {
            parent.defentry = Some(parent.items.len());
        }
        let mut sub = Submenu::new(title);
        sub.id = n.tag;
        sub.items = n.items;
        parent.items.push(Item::Submenu(sub));
    }

    fn include(&mut self, from: &str, line: usize, spec: &str) -> Result<(), ParseError> {
        let spec = skipspace(spec);
        let (file, tag) = spec.split_once([' ', '\t']).unwrap_or((spec, ""));
        let tag = skipspace(tag).trim_end();
        if file.is_empty() {
            return Ok(());
        }
        let path = self.resolve(file);
        if !tag.is_empty() {
            self.record(from)?;
            self.begin_submenu(tag);
        }
        self.parse_file_at(from, line, &path)?;
        if !tag.is_empty() {
            self.record(from)?;
            self.end_submenu();
        }
        Ok(())
    }

    fn parse_file_at(&mut self, from: &str, line: usize, path: &str) -> Result<(), ParseError> {
        if self.including.iter().any(|p| p == path) {
            self.warn(
                from,
                line,
                format!("INCLUDE {path}: already being included (loop); skipped"),
            );
            return Ok(());
        }
        if self.including.len() >= MAX_INCLUDE_DEPTH {
            self.warn(
                from,
                line,
                format!("INCLUDE {path}: nested deeper than {MAX_INCLUDE_DEPTH}; skipped"),
            );
            return Ok(());
        }
        self.includes += 1;
        if self.includes > MAX_INCLUDES {
            return Err(ParseError::new(
                from,
                line,
                format!("more than {MAX_INCLUDES} INCLUDEs"),
            ));
        }
        let Some(data) = self.src.read_file(None, path, MAX_CONFIG_BYTES + 1) else {
            self.warn(from, line, format!("INCLUDE {path}: file not found"));
            return Ok(());
        };
        if data.len() > MAX_CONFIG_BYTES {
            self.warn(
                from,
                line,
                format!("INCLUDE {path}: larger than {MAX_CONFIG_BYTES} bytes; skipped"),
            );
            return Ok(());
        }
        self.bytes += data.len();
        if self.bytes > MAX_TOTAL_BYTES {
            return Err(ParseError::new(
                from,
                line,
                format!("included files exceed {MAX_TOTAL_BYTES} bytes"),
            ));
        }
        self.parse_text(&data, path)
    }

    fn parse_text(&mut self, data: &[u8], file: &str) -> Result<(), ParseError> {
        self.including.push(file.to_string());
        let lines: Vec<String> = data
            .split(|&b| b == b'\n')
            .map(|l| {
                let end = l
                    .iter()
                    .position(|&b| b == b'\r' || b == 0)
                    .unwrap_or(l.len());
                String::from_utf8_lossy(l.get(..end).unwrap_or(l)).into_owned()
            })
            .collect();
        let mut i = 0;
        while let Some(raw) = lines.get(i) {
            let line = i + 1;
            i += 1;
            let p = skipspace(raw);
            if let Some(rest) = looking_at(p, "menu") {
                self.menu_keyword(file, line, skipspace(rest))?;
            } else if looking_at(p, "text").is_some() {
                while let Some(l) = lines.get(i) {
                    i += 1;
                    if looking_at(skipspace(l), "endtext").is_some() {
                        break;
                    }
                }
            } else if let Some(rest) = looking_at(p, "include") {
                self.include(file, line, rest)?;
            } else if let Some(rest) = looking_at(p, "append") {
                let a = skipspace(rest).trim_end().to_string();
                match self.ld.as_mut() {
                    Some(ld) => ld.append = Some(a),
                    None => self.global_append = Some(a),
                }
            } else if let Some(rest) = looking_at(p, "initrd") {
                if let Some(ld) = self.ld.as_mut() {
                    ld.initrd = Some(skipspace(rest).trim_end().to_string());
                }
            } else if let Some(rest) = looking_at(p, "label") {
                self.record(file)?;
                let label = skipspace(rest).trim_end().to_string();
                self.ld = Some(LabelData {
                    label: label.clone(),
                    kernel: label,
                    ktype: KType::Kernel,
                    append: None,
                    initrd: None,
                    menulabel: None,
                    menudefault: false,
                    menuhide: false,
                    disabled: false,
                    action: Action::Cmd,
                    line,
                });
            } else if let Some((rest, t)) = KERNEL_TYPES
                .iter()
                .find_map(|(kw, t)| looking_at(p, kw).map(|r| (r, *t)))
            {
                if let Some(ld) = self.ld.as_mut() {
                    ld.kernel = skipspace(rest).trim_end().to_string();
                    ld.ktype = t;
                }
            } else if let Some(rest) = looking_at(p, "timeout") {
                let t = leading_int(skipspace(rest));
                self.node().timeout = Some(t);
            } else if let Some(rest) = looking_at(p, "ontimeout") {
                self.node().ontimeout = Some(skipspace(rest).trim_end().to_string());
            } else if let Some(rest) = looking_at(p, "default") {
                self.global_default = Some(skipspace(rest).trim_end().to_string());
            } else if looking_at(p, "ui").is_some() {
                self.has_ui = true;
            } else if let Some(rest) = looking_at(p, "prompt") {
                self.prompt = Some(leading_int(skipspace(rest)));
            }
            // Everything else (SAY, DISPLAY, SERIAL, F1..., IPAPPEND, PATH, ...) does not
            // change what is booted.
        }
        self.including.pop();
        Ok(())
    }

    fn menu_keyword(&mut self, file: &str, line: usize, p: &str) -> Result<(), ParseError> {
        let in_submenu = !self.stack.is_empty();
        if let Some(rest) = looking_at(p, "label") {
            let v = skipspace(rest).trim_end().to_string();
            if let Some(ld) = self.ld.as_mut() {
                ld.menulabel = Some(v);
            } else if in_submenu {
                self.node().label = Some(v);
            }
        } else if let Some(rest) = looking_at(p, "title") {
            self.node().title = Some(skipspace(rest).trim_end().to_string());
        } else if looking_at(p, "default").is_some() {
            if let Some(ld) = self.ld.as_mut() {
                ld.menudefault = true;
            } else if in_submenu {
                self.node().default_self = true;
            }
        } else if looking_at(p, "hide").is_some() {
            if let Some(ld) = self.ld.as_mut() {
                ld.menuhide = true;
            }
        } else if let Some(rest) = looking_at(p, "include") {
            self.include(file, line, rest)?;
        } else if looking_at(p, "hidden").is_some() {
            self.hidden_menu = true;
        } else if looking_at(p, "separator").is_some() {
            self.record(file)?;
        } else if looking_at(p, "disable").is_some() || looking_at(p, "disabled").is_some() {
            if let Some(ld) = self.ld.as_mut() {
                ld.disabled = true;
            }
        } else if let Some(rest) = looking_at(p, "begin") {
            self.record(file)?;
            self.begin_submenu(skipspace(rest));
        } else if looking_at(p, "end").is_some() {
            self.record(file)?;
            self.end_submenu();
        } else if looking_at(p, "quit").is_some()
            || looking_at(p, "goto").is_some()
            || looking_at(p, "help").is_some()
            || (looking_at(p, "exit").is_some() && in_submenu)
        {
            if let Some(ld) = self.ld.as_mut() {
                ld.action = Action::NotBootable;
            }
        }
        Ok(())
    }

    /// The label an (ONTIMEOUT/DEFAULT) command line starts with.
    fn find_label(&self, cmd: &str, include_hidden: bool) -> Option<usize> {
        let first = cmd.split([' ', '\t']).next().unwrap_or("");
        self.labels
            .iter()
            .position(|(l, p, _)| l == first && (include_hidden || p.is_some()))
    }
}

/// C's `atoi` for the non-negative values syslinux uses: no digits is 0; too many
/// saturate.
fn leading_int(s: &str) -> u64 {
    let d: String = s.chars().take_while(char::is_ascii_digit).collect();
    if d.is_empty() {
        0
    } else {
        d.parse().unwrap_or(u64::MAX)
    }
}

/// Parse a syslinux config. See [`crate::parse_syslinux`].
pub fn parse(text: &[u8], path: &str, src: &mut dyn FileSource) -> Result<Menu, ParseError> {
    check_size(text, path)?;
    let mut p = Parser {
        src,
        cwd: dirname(path).to_string(),
        warnings: Vec::new(),
        root: Node::default(),
        stack: Vec::new(),
        ld: None,
        global_append: None,
        labels: Vec::new(),
        global_default: None,
        has_ui: false,
        prompt: None,
        hidden_menu: false,
        including: Vec::new(),
        includes: 0,
        bytes: text.len(),
        items: 0,
    };
    p.parse_text(text, path)?;
    p.record(path)?;
    while !p.stack.is_empty() {
        p.end_submenu();
    }
    let mut root = std::mem::take(&mut p.root);

    let is_menu_module = |cmd: &str| {
        let first = cmd
            .split([' ', '\t'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let base = first.rsplit('/').next().unwrap_or("").to_string();
        base == "menu.c32" || base == "vesamenu.c32"
    };
    let default_cmd = p.global_default.clone();
    let ui = p.has_ui || default_cmd.as_deref().is_some_and(is_menu_module);
    let timeout = root.timeout.filter(|&t| t != 0);
    let prompt = p.prompt.unwrap_or(0) != 0;
    // Without a menu and with PROMPT 0, syslinux boots DEFAULT at once.
    let timeout_tenths = if ui || prompt { timeout } else { Some(0) };
    let countdown = timeout.is_some() && (ui || prompt);

    // What an unattended boot runs, by priority.
    let mut candidates: Vec<(String, &str)> = Vec::new();
    if countdown {
        if let Some(ot) = root.ontimeout.clone() {
            candidates.push((ot, "ONTIMEOUT"));
        }
    }
    if !ui || p.has_ui {
        if let Some(d) = default_cmd {
            candidates.push((d, "DEFAULT"));
        }
    }
    let mut chosen: Option<(Vec<usize>, String)> = None;
    for (cmd, why) in candidates {
        // menu.c32 ignores a hidden label as DEFAULT; the core and ONTIMEOUT take it.
        let include_hidden = why == "ONTIMEOUT" || !ui;
        if let Some((label, lpath, entry)) = p
            .find_label(&cmd, include_hidden)
            .and_then(|i| p.labels.get(i).cloned())
        {
            let lpath = lpath.unwrap_or_else(|| {
                root.items.push(Item::Entry(entry));
                vec![root.items.len() - 1]
            });
            chosen = Some((lpath, format!("{why} {label}")));
            break;
        }
        if is_menu_module(&cmd) || cmd.trim().is_empty() {
            continue;
        }
        let e = p.entry_from_cmdline(cmd.clone(), None, &cmd, KType::Kernel, path, 0);
        root.items.push(Item::Entry(e));
        chosen = Some((
            vec![root.items.len() - 1],
            format!("{why} command line `{cmd}` (no such label)"),
        ));
        break;
    }
    if chosen.is_none() && ui {
        if let Some(first) = root.defentry.and_then(|d| first_entry_from(&root.items, d)) {
            chosen = Some((first, "MENU DEFAULT".to_string()));
        }
    }
    let (default, reason) = match chosen {
        Some((path, why)) => (Some(path), why),
        None => (
            first_entry_from(&root.items, 0),
            if root.items.is_empty() {
                "no entries".to_string()
            } else {
                "no default: first entry".to_string()
            },
        ),
    };

    let mut menu = Menu::new(ConfigKind::Syslinux);
    menu.items = root.items;
    crate::model::fill_source(&mut menu.items);
    menu.default = default;
    menu.default_reason = reason;
    menu.timeout_tenths = timeout_tenths;
    menu.hidden = p.hidden_menu;
    menu.warnings = p.warnings;
    Ok(menu)
}

/// The entry at `items[i]`, descending into submenus (first entry).
fn first_entry_from(items: &[Item], i: usize) -> Option<Vec<usize>> {
    let mut path = vec![i];
    let mut cur = items.get(i)?;
    loop {
        match cur {
            Item::Entry(_) => return Some(path),
            Item::Submenu(s) => {
                path.push(0);
                cur = s.items.first()?;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        assert_eq!(looking_at("LABEL x", "label"), Some(" x"));
        assert_eq!(looking_at("label", "label"), Some(""));
        assert_eq!(looking_at("labelx", "label"), None);
        assert_eq!(looking_at("lab", "label"), None);
        assert_eq!(looking_at("Menu\tLabel", "menu"), Some("\tLabel"));
        assert_eq!(strip_caret("^Install ^x"), "Install x");
        assert_eq!(leading_int("30 x"), 30);
        assert_eq!(leading_int("abc"), 0);
        assert_eq!(leading_int("99999999999999999999999"), u64::MAX);
    }
}
