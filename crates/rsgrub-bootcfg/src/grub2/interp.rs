//! GRUB 2 script interpreter: runs the AST the way GRUB's normal mode runs `grub.cfg`, and
//! records the menu it builds.
//!
//! Semantics follow `grub-core/script/execute.c`, `normal/{main,menu,context}.c`,
//! `commands/{menuentry,test,loadenv,search_wrap,configfile}.c` and `kern/corecmd.c`:
//! - **Words**: unquoted `$var` is split on blanks (only between fields: `a$v` with `v=" b"`
//!   gives `ab`), quoted text is literal, an unquoted word that expands to nothing is dropped,
//!   a quoted empty string is an empty argument. `$1`.. `$#` `$@` `$*` are the function's (or
//!   menu entry's) parameters; `$?` the last status. No wildcard expansion.
//! - **Variables**: one namespace per *context*; `set a=b`, `a=b` (when `a=b` is not a
//!   command or function), `unset a`, `export a`. `set a` (no `=`) fails and changes nothing,
//!   as in GRUB. Assigning `root` strips one pair of surrounding parentheses. A `submenu` body
//!   and a `configfile` run in a new context that starts with the *exported* variables only
//!   (GRUB exports `root`, `prefix`, `config_*`, `grub_platform`, `grub_cpu` and the
//!   `feature_*` flags itself; generated configs `export menuentry_id_option`).
//! - **Commands** win over functions of the same name; functions are called with their own
//!   `$1`..; `return [n]`, `break [n]`, `continue [n]`, `shift`, `setparams`.
//! - **`menuentry` / `submenu`**: options `--class --users --hotkey --id --unrestricted`
//!   (`--source` is not supported), first other argument the title, all of them `$1`.. of
//!   the body. GRUB stores an entry's body and runs it at boot; here it is run when the
//!   `menuentry` command runs, in a child scope of the variables as they are then (so the
//!   body's own changes are discarded), recording `linux*`/`initrd*`/`multiboot*`/`module*`/
//!   `chainloader`... and `$root` at its end. A submenu body runs at once in a new context
//!   (as when GRUB opens it) and its entries form a [`Submenu`].
//! - **Files** (`source`, `configfile`, `load_env`, `[ -f ]`) are read through the
//!   [`FileSource`]: `(dev)/path` names a device, a plain path the config's own volume.
//!   `source` runs a file in the current scope; `configfile` in a new context and a new menu,
//!   which — if it has entries — replaces the current menu (GRUB shows the nested menu, and
//!   the outer one only comes back on Escape); inside a menu entry, the entry becomes a
//!   submenu of the file's entries.
//! - **Environment**: `$prefix` and `$config_directory` are the config's directory,
//!   `$grub_platform` is `xen`, `$grub_cpu` `x86_64`, every `feature_*` is `y`.
//! - **`blscfg`** (Fedora/RHEL's `bls_import`), as rhboot's `grub-core/commands/blscfg.c`:
//!   reads `$blsdir` (default `/loader/entries/`) on `$root`'s device (the config's volume
//!   when `$root` is unset), or the `(dev)/dir` or `(dev)/dir/file.conf` argument; without an
//!   argument naming the directory, `/boot/loader/entries/` when the first has no entries
//!   (rhboot falls back when the directory is missing; its RHEL 8 branch when it has no
//!   entries: both are done). Entries ([`crate::bls::parse_entry_grub`]) are kept newest
//!   first by [`crate::bls::grub_bls_cmp`] of their file names (an entry equal to one already
//!   read is dropped) and persist across calls; each is added once. `blscfg default` /
//!   `blscfg non-default` / `blscfg ID` add only the entry `$default` names (by file name,
//!   title or index), the others, or that one. Each entry becomes the script `blscfg`
//!   generates — `load_video`, `set gfxpayload=keep`, `insmod gzio`, `linux ($root)LINUX
//!   OPTIONS`, `initrd ($root)INITRD...` (after `$early_initrd`'s files, from the first
//!   initrd's directory), `devicetree ...`, `savedefault` first when `$save_default` is
//!   `true` — run like a menu entry's body with `$1` = `title` (or the `linux` path), `$2`..
//!   = the `grub_arg` values, `--id` = the file name without `.conf`, `--users` = the
//!   expanded `grub_users` (unrestricted without). `options` (its first line, as `blscfg`
//!   reads it; else `$default_kernelopts`) has `$NAME` references replaced by their values
//!   before, with `blscfg`'s own `expand_val` rules (each value followed by a space, an
//!   unset variable dropped, `\$` kept as is); the rest is expanded when the script runs,
//!   so `initrd ... $tuned_initrd` works as in GRUB.
//! - **Passwords**: `set superusers=...`, `password USER PASS` and `password_pbkdf2 USER
//!   HASH` (outside menu entry bodies) are recorded in [`Menu::superusers`] /
//!   [`Menu::passwords`], `--users` / `--unrestricted` on entries and submenus.
//! - **Editor source**: every entry keeps GRUB's stored source (see [`Entry::source`]),
//!   and the final variables of its menu's context are kept in [`Menu::globals`], so
//!   [`crate::eval_entry_commands`] can run edited commands as GRUB's editor does (Ctrl-X).
//! - **Bounds**: [`MAX_STEPS`] commands, [`MAX_DEPTH`] nested calls/blocks,
//!   [`MAX_FILE_DEPTH`] nested `source`/`configfile`, [`MAX_EXPANSION_BYTES`] of expanded
//!   text, [`MAX_READ_BYTES`] read, [`MAX_ITEMS`] menu items; exceeding one is an error.
//!   At most [`MAX_SOURCE_BYTES`] of entry source text are kept (entries beyond get none,
//!   with a warning) and at most [`crate::bls::MAX_BLS_ENTRIES`] BLS entries.
//!
//! Not implemented yet (a warning, then the script goes on): `regexp`,
//! `menuentry --source`, `legacy_configfile`, wildcards, `probe`/`hwmatch` (they fail).

use std::collections::HashMap;
use std::rc::Rc;

use super::lexer::{Part, Word};
use super::parser::{parse_script, Block, Cmd, Script};
use crate::bls::{self, BlsEntry, MAX_BLS_ENTRIES};
use crate::model::{
    Entry, EntryKind, FileRef, FileSource, Item, Menu, Module, PasswordKind, SearchKind, Submenu,
};
use crate::text::{check_size, decode, dirname};
use crate::{ConfigKind, ParseError, MAX_CONFIG_BYTES};

/// Most commands executed (simple commands, loop iterations, compound commands).
pub const MAX_STEPS: u64 = 1_000_000;
/// Deepest nesting of function calls, menu bodies, sourced files and compound commands.
pub const MAX_DEPTH: usize = 64;
/// Deepest nesting of `source` / `configfile`.
pub const MAX_FILE_DEPTH: usize = 8;
/// Most bytes produced by word expansion in one run.
pub const MAX_EXPANSION_BYTES: u64 = 64 << 20;
/// Most bytes read through the [`FileSource`] in one run.
pub const MAX_READ_BYTES: u64 = 32 << 20;
/// Most menu entries and submenus created in one run.
pub const MAX_ITEMS: usize = 10_000;
/// Most bytes of menu entry source text ([`Entry::source`]) kept in one run.
pub const MAX_SOURCE_BYTES: usize = 8 << 20;
/// Most warnings kept.
const MAX_WARNINGS: usize = 1000;
/// Largest `grubenv` read.
const MAX_ENVBLK_BYTES: usize = 64 << 10;

/// Variables GRUB exports at start-up: they stay exported whatever sets them.
const ALWAYS_EXPORTED: &[&str] = &[
    "root",
    "prefix",
    "config_file",
    "config_directory",
    "grub_platform",
    "grub_cpu",
    "cmdpath",
    "chosen",
    "pager",
    "color_normal",
    "color_highlight",
];

/// `feature_*` variables GRUB's normal mode sets to `y`.
const FEATURES: &[&str] = &[
    "feature_chainloader_bpb",
    "feature_ntldr",
    "feature_platform_search_hint",
    "feature_default_font_path",
    "feature_all_video_module",
    "feature_menuentry_id",
    "feature_menuentry_options",
    "feature_200_final",
    "feature_nativedisk_cmd",
    "feature_timeout_style",
];

/// GRUB commands with no effect on the menu: accepted silently, status 0.
const NOOP_COMMANDS: &[&str] = &[
    "insmod",
    "rmmod",
    "lsmod",
    "terminal_input",
    "terminal_output",
    "terminal",
    "terminfo",
    "serial",
    "loadfont",
    "lsfonts",
    "echo",
    "background_image",
    "background_color",
    "play",
    "gettext",
    "clear",
    "sleep",
    "save_env",
    "list_env",
    "videoinfo",
    "vbeinfo",
    "videotest",
    "usb",
    "nativedisk",
    "ata",
    "cryptomount",
    "parttool",
    "drivemap",
    "outb",
    "outw",
    "outl",
    "date",
    "smbios",
    "verify_detached",
    "trust",
    "distrust",
    "acpi",
    "badram",
    "cutmem",
    "lspci",
    "setpci",
    "ls",
    "cat",
    "help",
    "dump",
    "gfxterm_background_color",
    "gfxterm_background_image",
    "keymap",
    "lsacpi",
    "lsmmap",
    "boottime",
    "cmosclean",
    "cmosset",
    "devicetree",
    "fix_video",
    "hashsum",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "cpuid",
    "net_bootp",
    "net_dhcp",
    "loopback",
    "lvm",
    "mdraid",
];

/// Helper functions of `grub-mkconfig` output: if a config calls one without defining it, it
/// is silently ignored.
const HELPER_FUNCTIONS: &[&str] = &["recordfail", "load_video", "savedefault", "gfxmode"];

/// Loaders whose entries cannot be booted as a PV kernel.
const OTHER_LOADERS: &[&str] = &[
    "chainloader",
    "knetbsd",
    "kfreebsd",
    "kopenbsd",
    "knetbsd_module",
    "knetbsd_module_elf",
    "kfreebsd_module",
    "kfreebsd_module_elf",
    "kopenbsd_ramdisk",
    "appleloader",
    "bsd",
    "ntldr",
    "freedos",
    "pxechainloader",
    "plan9",
    "truecrypt",
    "xnu_kernel",
    "xnu_kernel64",
    "xnu_mkext",
    "xnu_kext",
    "xnu_ramdisk",
    "fwsetup",
    "reboot",
    "halt",
    "legacy_kernel",
];

#[derive(Debug, Clone)]
struct Var {
    value: String,
    exported: bool,
}

/// A layer of variables: a context (a complete namespace) or an overlay over the layers
/// below it (a menu entry body's scratch scope); `None` marks an unset in an overlay.
#[derive(Debug, Default)]
struct Layer {
    vars: HashMap<String, Option<Var>>,
    context: bool,
}

#[derive(Debug)]
struct Env {
    base: Layer,
    stack: Vec<Layer>,
}

fn strip_root_parens(v: &str) -> &str {
    v.strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(v)
}

impl Env {
    fn new() -> Self {
        Env {
            base: Layer {
                vars: HashMap::new(),
                context: true,
            },
            stack: Vec::new(),
        }
    }
    fn top(&mut self) -> &mut Layer {
        match self.stack.last_mut() {
            Some(l) => l,
            None => &mut self.base,
        }
    }
    fn get(&self, name: &str) -> Option<&Var> {
        for l in self.stack.iter().rev().chain(std::iter::once(&self.base)) {
            if let Some(v) = l.vars.get(name) {
                return v.as_ref();
            }
            if l.context {
                return None;
            }
        }
        None
    }
    fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(|v| v.value.as_str())
    }
    fn set(&mut self, name: &str, value: &str) {
        let exported =
            ALWAYS_EXPORTED.contains(&name) || self.get(name).is_some_and(|v| v.exported);
        let value = if name == "root" {
            strip_root_parens(value)
        } else {
            value
        };
        self.top().vars.insert(
            name.to_string(),
            Some(Var {
                value: value.to_string(),
                exported,
            }),
        );
    }
    fn unset(&mut self, name: &str) {
        let top = self.top();
        if top.context {
            top.vars.remove(name);
        } else {
            top.vars.insert(name.to_string(), None);
        }
    }
    fn export(&mut self, name: &str) {
        let var = match self.get(name) {
            Some(v) => Var {
                value: v.value.clone(),
                exported: true,
            },
            None => Var {
                value: String::new(),
                exported: true,
            },
        };
        self.top().vars.insert(name.to_string(), Some(var));
    }
    fn push_overlay(&mut self) {
        self.stack.push(Layer::default());
    }
    /// A new context holding the exported variables; returns how many were copied.
    fn push_context(&mut self) -> usize {
        let mut visible: HashMap<String, Option<Var>> = HashMap::new();
        let layers: Vec<&Layer> = std::iter::once(&self.base)
            .chain(self.stack.iter())
            .collect();
        let from = layers.iter().rposition(|l| l.context).unwrap_or(0);
        for l in layers.iter().skip(from) {
            for (k, v) in &l.vars {
                visible.insert(k.clone(), v.clone());
            }
        }
        let vars: HashMap<String, Option<Var>> = visible
            .into_iter()
            .filter(|(_, v)| v.as_ref().is_some_and(|v| v.exported))
            .collect();
        let n = vars.len();
        self.stack.push(Layer {
            vars,
            context: true,
        });
        n
    }
    fn pop(&mut self) {
        self.stack.pop();
    }
    /// Every variable visible in the current context, sorted by name.
    fn visible(&self) -> Vec<(String, String)> {
        let layers: Vec<&Layer> = std::iter::once(&self.base)
            .chain(self.stack.iter())
            .collect();
        let from = layers.iter().rposition(|l| l.context).unwrap_or(0);
        let mut all: HashMap<&str, Option<&str>> = HashMap::new();
        for l in layers.iter().skip(from) {
            for (k, v) in &l.vars {
                all.insert(k.as_str(), v.as_ref().map(|v| v.value.as_str()));
            }
        }
        let mut out: Vec<(String, String)> = all
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?.to_string())))
            .collect();
        out.sort();
        out
    }
}

/// What a menu context leaves behind for the menu display.
#[derive(Debug, Clone, Default)]
struct Settings {
    default: Option<String>,
    timeout: Option<String>,
    timeout_style: Option<String>,
    fallback: Option<String>,
    /// The file whose menu this is, if it came from `configfile`.
    from_file: Option<String>,
    /// The context's variables (see [`Menu::globals`]).
    globals: Vec<(String, String)>,
}

impl Settings {
    fn capture(env: &Env, with_globals: bool) -> Self {
        let get = |n: &str| env.value(n).map(str::to_string);
        Settings {
            default: get("default"),
            timeout: get("timeout"),
            timeout_style: get("timeout_style"),
            fallback: get("fallback"),
            from_file: None,
            globals: if with_globals {
                env.visible()
            } else {
                Vec::new()
            },
        }
    }
}

/// A menu being built.
#[derive(Debug, Default)]
struct Frame {
    items: Vec<Item>,
    /// Set when a `configfile` replaced this menu: that file's settings.
    result: Option<Settings>,
}

/// A file named by a loader command, with `$root` at that moment.
#[derive(Debug, Clone)]
struct Pending {
    device: Option<String>,
    path: String,
    root: Option<String>,
}

/// What a menu entry body did.
#[derive(Debug, Default)]
struct Rec {
    kind: Option<EntryKind>,
    kernel: Option<Pending>,
    args: String,
    initrds: Vec<Pending>,
    modules: Vec<(Pending, String)>,
    submenu: Option<Vec<Item>>,
}

/// How a command list ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break(u32),
    Continue(u32),
    Return,
    /// The current menu context or entry body is finished (`configfile` took over, `boot`).
    Stop,
    /// `exit`: GRUB would leave the boot loader.
    Exit,
}

type R<T> = Result<T, ParseError>;

/// `grub_strtoul(s, 0, 0)`: leading blanks, `0x` hex, `0` octal, trailing text ignored.
/// `Err(true)` = overflow, `Err(false)` = no digits.
pub(crate) fn grub_strtoul(s: &str) -> Result<u64, bool> {
    let s = s.trim_start_matches([' ', '\t', '\n', '\r']);
    let b = s.as_bytes();
    let (base, start) = match (b.first(), b.get(1)) {
        (Some(b'0'), Some(b'x')) => (16, 2),
        (Some(b'0'), Some(b'0'..=b'7')) => (8, 0),
        _ => (10, 0),
    };
    let mut num: u64 = 0;
    let mut found = false;
    for &c in b.iter().skip(start) {
        let Some(d) = (c as char).to_digit(base) else {
            break;
        };
        found = true;
        num = num
            .checked_mul(u64::from(base))
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or(true)?;
    }
    if found {
        Ok(num)
    } else {
        Err(false)
    }
}

/// The whole of `s` (but blanks around it) is a number [`grub_strtoul`] reads completely.
fn strict_number(s: &str) -> bool {
    let t = s.trim_matches([' ', '\t', '\n', '\r']);
    let (body, octal) = match t.strip_prefix("0x") {
        Some(hex) => return !hex.is_empty() && hex.bytes().all(|c| c.is_ascii_hexdigit()),
        None => (
            t,
            t.len() > 1
                && t.starts_with('0')
                && t.as_bytes()
                    .get(1)
                    .is_some_and(|c| (b'0'..=b'7').contains(c)),
        ),
    };
    let max = if octal { b'7' } else { b'9' };
    !body.is_empty() && body.bytes().all(|c| (b'0'..=max).contains(&c))
}

/// `grub_strtosl`: an optional `-`, then [`grub_strtoul`]; errors count as 0.
fn grub_strtosl(s: &str) -> i64 {
    match s.strip_prefix('-') {
        Some(r) => (grub_strtoul(r).unwrap_or(0) as i64).wrapping_neg(),
        None => grub_strtoul(s).unwrap_or(0) as i64,
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn split_fields(v: &str) -> impl Iterator<Item = &str> {
    v.split(is_blank).filter(|f| !f.is_empty())
}

/// `(dev)/path` → (`Some(dev)`, `/path`); a plain path → (`None`, path).
pub(crate) fn split_device(s: &str) -> (Option<String>, String) {
    if let Some(rest) = s.strip_prefix('(') {
        if let Some(close) = rest.find(')') {
            let dev = rest.get(..close).unwrap_or("");
            let path = rest.get(close + 1..).unwrap_or("");
            let dev = (!dev.is_empty()).then(|| dev.to_string());
            return (dev, path.to_string());
        }
    }
    (None, s.to_string())
}

/// The kernel command line GRUB builds from arguments (`grub_create_loader_cmdline`):
/// joined by single spaces, an argument containing a space is double-quoted, and `\`, `'`,
/// `"` are backslash-escaped.
fn loader_cmdline(args: &[String]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let space = a.contains(' ');
        if space {
            out.push('"');
        }
        for c in a.chars() {
            if matches!(c, '\\' | '\'' | '"') {
                out.push('\\');
            }
            out.push(c);
        }
        if space {
            out.push('"');
        }
    }
    out
}

/// How an option of a GRUB extended command takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgKind {
    None,
    Required,
    Optional,
}

struct OptSpec {
    long: &'static str,
    short: Option<char>,
    kind: ArgKind,
}

const fn opt(long: &'static str, short: Option<char>, kind: ArgKind) -> OptSpec {
    OptSpec { long, short, kind }
}

const MENUENTRY_OPTS: &[OptSpec] = &[
    opt("class", None, ArgKind::Required),
    // Optional in Fedora/RHEL's GRUB (so `--users $grub_users` works with an empty
    // `grub_users`), required upstream.
    opt("users", None, ArgKind::Optional),
    opt("hotkey", None, ArgKind::Required),
    opt("source", None, ArgKind::Required),
    opt("id", None, ArgKind::Required),
    opt("unrestricted", None, ArgKind::None),
];

const SEARCH_OPTS: &[OptSpec] = &[
    opt("file", Some('f'), ArgKind::None),
    opt("label", Some('l'), ArgKind::None),
    opt("fs-uuid", Some('u'), ArgKind::None),
    opt("part-label", Some('L'), ArgKind::None),
    opt("part-uuid", Some('U'), ArgKind::None),
    opt("disk-uuid", None, ArgKind::None),
    opt("set", Some('s'), ArgKind::Optional),
    opt("no-floppy", Some('n'), ArgKind::None),
    opt("efidisk-only", None, ArgKind::None),
    opt("hint", Some('h'), ArgKind::Required),
    opt("hint-ieee1275", None, ArgKind::Required),
    opt("hint-bios", None, ArgKind::Required),
    opt("hint-baremetal", None, ArgKind::Required),
    opt("hint-efi", None, ArgKind::Required),
    opt("hint-arc", None, ArgKind::Required),
];

const LOAD_ENV_OPTS: &[OptSpec] = &[
    opt("file", Some('f'), ArgKind::Required),
    opt("skip-sig", Some('s'), ArgKind::None),
];

type Opts = Vec<(&'static str, Option<String>)>;

/// GRUB's `grub_arg_parse`: options anywhere, `--opt=v` or `--opt v` (when `v` does not
/// start with `-`), short clusters, `--` ends options.
fn parse_opts(specs: &[OptSpec], args: &[String]) -> Result<(Opts, Vec<String>), String> {
    let mut opts = Vec::new();
    let mut pos = Vec::new();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if !arg.starts_with('-') || arg.len() == 1 {
            pos.push(arg.clone());
            i += 1;
            continue;
        }
        let (spec, mut value) = if let Some(long) = arg.strip_prefix("--") {
            if long.is_empty() {
                pos.extend(args.iter().skip(i + 1).cloned());
                break;
            }
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(spec) = specs.iter().find(|s| s.long == name) else {
                return Err(format!("unknown argument `{arg}'"));
            };
            (spec, value)
        } else {
            let shorts: Vec<char> = arg.chars().skip(1).collect();
            let mut last = None;
            for (k, c) in shorts.iter().enumerate() {
                let Some(spec) = specs.iter().find(|s| s.short == Some(*c)) else {
                    return Err(format!("unknown argument `-{c}'"));
                };
                if k + 1 < shorts.len() {
                    opts.push((spec.long, None));
                } else {
                    last = Some(spec);
                }
            }
            let Some(spec) = last else {
                i += 1;
                continue;
            };
            let mut value = None;
            if spec.kind != ArgKind::None {
                if let Some(next) = args.get(i + 1) {
                    if spec.kind != ArgKind::Optional || next.len() < 2 || !next.starts_with('-') {
                        value = Some(next.clone());
                        i += 1;
                    }
                }
            }
            (spec, value)
        };
        if arg.starts_with("--") && value.is_none() && spec.kind != ArgKind::None {
            if let Some(next) = args.get(i + 1).filter(|n| !n.starts_with('-')) {
                value = Some(next.clone());
                i += 1;
            }
        }
        match (spec.kind, value) {
            (ArgKind::None, Some(_)) => {
                return Err(format!("option `--{}' takes no value", spec.long))
            }
            (ArgKind::Required, None) => {
                return Err(format!("missing mandatory option for `--{}'", spec.long))
            }
            (_, v) => opts.push((spec.long, v)),
        }
        i += 1;
    }
    Ok((opts, pos))
}

fn opt_value<'o>(opts: &'o Opts, name: &str) -> Option<&'o str> {
    opts.iter()
        .rev()
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.as_deref())
}

fn has_opt(opts: &Opts, name: &str) -> bool {
    opts.iter().any(|(n, _)| *n == name)
}

/// Who may boot an entry (see [`Entry::users`]).
#[derive(Debug, Clone, Default)]
struct Access {
    users: Option<Vec<String>>,
    unrestricted: bool,
}

/// A user list as GRUB's `grub_strword` reads it: words separated by blanks, `,`, `;`, `|`,
/// `&`.
fn auth_words(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_ascii_whitespace() || matches!(c, ',' | ';' | '|' | '&'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The form `password_pbkdf2` accepts: `grub.pbkdf2.sha512.ITERATIONS.SALT.HASH`, the salt
/// and hash hexadecimal of even length.
fn valid_pbkdf2(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("grub.pbkdf2.sha512.") else {
        return false;
    };
    let mut parts = rest.splitn(3, '.');
    let (Some(iter), Some(salt), Some(hash)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let hex = |h: &str| (h.len() & 1) == 0 && h.bytes().all(|c| c.is_ascii_hexdigit());
    strict_number(iter) && !iter.ends_with([' ', '\t', '\n', '\r']) && hex(salt) && hex(hash)
}

/// `$default` as an index for `blscfg`'s `is_default_entry` (`grub_strtol`: a leading
/// number, the rest ignored; no digits → not an index).
fn bls_index(s: &str) -> Option<u64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r']);
    match t.strip_prefix('-') {
        Some(r) => grub_strtoul(r).ok().filter(|&n| n == 0),
        None => grub_strtoul(t).ok(),
    }
}

/// `expand_val` of `blscfg.c`, byte for byte: `$NAME` (letters, digits, `_`) is replaced by
/// the variable's value followed by a space, or by nothing if the variable is unset; a `$`
/// right after `\` is literal (the `\` stays); a blank right after a variable name is
/// dropped. Its quirks are kept: a one-character piece of text (or variable name) directly
/// before a `$`, or a whole value of one character, is lost. `None` for no value or an
/// empty result.
fn expand_val(value: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let b = value?.as_bytes();
    let mut buf: Option<Vec<u8>> = None;
    let append = |buf: &mut Option<Vec<u8>>, is_var: bool, start: usize, end: usize| {
        let piece = b
            .get(start..end.saturating_add(1).max(start))
            .unwrap_or(&[]);
        if is_var {
            let name = String::from_utf8_lossy(piece);
            if let Some(v) = env(&name) {
                let out = buf.get_or_insert_with(Vec::new);
                out.extend_from_slice(v.as_bytes());
                out.push(b' ');
            }
        } else {
            buf.get_or_insert_with(Vec::new).extend_from_slice(piece);
        }
    };
    let (mut start, mut end) = (0usize, 0usize);
    let mut is_var = false;
    for (i, &c) in b.iter().enumerate() {
        if c == b'$' && b.get(end) != Some(&b'\\') {
            if start != end {
                append(&mut buf, is_var, start, end);
            }
            is_var = true;
            start = i + 1;
        } else if is_var && !c.is_ascii_alphanumeric() && c != b'_' {
            append(&mut buf, is_var, start, end);
            is_var = false;
            start = i;
            if c == b' ' {
                start += 1;
            }
        }
        end = i;
    }
    if start != end {
        append(&mut buf, is_var, start, end);
    }
    buf.map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// A menu entry's stored source as GRUB's editor shows it: `setparams` + the quoted title
/// and extra arguments (GRUB's `setparams_prefix`), then the body's lines without their
/// indentation and trailing blanks, leading and trailing blank lines dropped.
fn menuentry_source(params: &[String], body: &str) -> Vec<String> {
    let mut first = String::from("setparams");
    for p in params {
        first.push_str(" '");
        first.push_str(&p.replace('\'', "'\\''"));
        first.push('\'');
    }
    let mut lines = vec![first];
    let body: Vec<&str> = body
        .split('\n')
        .map(|l| {
            let l = l.trim_start_matches([' ', '\t']);
            let t = l.trim_end_matches([' ', '\t']);
            // Keep a blank a backslash escapes.
            if t.ends_with('\\') && t.len() < l.len() {
                l.get(..t.len() + 1).unwrap_or(l)
            } else {
                t
            }
        })
        .collect();
    let from = body.iter().position(|l| !l.trim().is_empty());
    let to = body.iter().rposition(|l| !l.trim().is_empty());
    if let (Some(a), Some(z)) = (from, to) {
        lines.extend(body.get(a..=z).unwrap_or(&[]).iter().map(|l| l.to_string()));
    }
    lines
}

/// Run edited menu entry commands as GRUB's editor does (Ctrl-X): in the menu's context
/// (`globals`), with `$1` = the title (the `setparams` line GRUB stores first sets the
/// parameters again). See [`crate::eval_entry_commands`].
pub(crate) fn eval_edited(
    title: &str,
    lines: &[String],
    globals: &[(String, String)],
    src: &mut dyn FileSource,
) -> R<Entry> {
    const FILE: &str = "(edited entry)";
    let text = lines.join("\n");
    check_size(text.as_bytes(), FILE)?;
    let config = globals
        .iter()
        .find(|(k, _)| k == "config_file")
        .map_or("", |(_, v)| v.as_str());
    let mut it = Interp::new(src, config);
    it.file = FILE.to_string();
    for (k, v) in globals {
        it.env.set(k, v);
    }
    let cmds = parse_script(&text, FILE)?;
    it.menus.push(Frame::default());
    let item = it.eval_entry(
        title.to_string(),
        None,
        &[title.to_string()],
        &cmds,
        lines.to_vec(),
        Access::default(),
    )?;
    match item {
        Item::Entry(e) => Ok(e),
        Item::Submenu(_) => Err(ParseError::new(
            FILE,
            0,
            "the commands open another menu (configfile); not supported for an edited entry",
        )),
    }
}

/// Parse a GRUB environment block (`grub-core/lib/envblk.c`).
fn parse_envblk(data: &[u8]) -> Option<Vec<(String, String)>> {
    const SIG: &[u8] = b"# GRUB Environment Block\n";
    let body = data.strip_prefix(SIG)?;
    let mut out = Vec::new();
    let mut p = 0;
    while let Some(&c) = body.get(p) {
        if c != b'#' {
            let rest = body.get(p..).unwrap_or(&[]);
            let Some(eq) = rest.iter().position(|&c| c == b'=') else {
                break;
            };
            let name = rest.get(..eq).unwrap_or(&[]);
            let mut value = Vec::new();
            let mut q = eq + 1;
            let mut complete = false;
            while let Some(&c) = rest.get(q) {
                match c {
                    b'\n' => {
                        complete = true;
                        break;
                    }
                    b'\\' => {
                        if let Some(&e) = rest.get(q + 1) {
                            value.push(e);
                        }
                        q += 2;
                    }
                    _ => {
                        value.push(c);
                        q += 1;
                    }
                }
            }
            if !complete {
                break;
            }
            out.push((
                String::from_utf8_lossy(name).into_owned(),
                String::from_utf8_lossy(&value).into_owned(),
            ));
        }
        let rest = body.get(p..).unwrap_or(&[]);
        match rest.iter().position(|&c| c == b'\n') {
            Some(nl) => p += nl + 1,
            None => break,
        }
    }
    Some(out)
}

/// Blank the lines GRUB's config reader skips: those whose first character is `#` (even
/// inside a multi-line string). Line numbers are kept.
pub(crate) fn drop_hash_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !line.starts_with('#') {
            out.push_str(line);
        }
    }
    out
}

/// Split a `default` selector at its first unescaped `>` (`>>` is a literal `>`).
fn split_selector(s: &str) -> (String, Option<&str>) {
    let mut part = String::new();
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c == '>' {
            if it.peek().map(|&(_, c)| c) == Some('>') {
                it.next();
                part.push('>');
                continue;
            }
            return (part, s.get(i + 1..));
        }
        part.push(c);
    }
    (part, None)
}

/// Path of the entry GRUB boots for "entry 0" of `items`: into submenus, first item each.
fn first_entry(items: &[Item]) -> Option<Vec<usize>> {
    let mut path = vec![0];
    let mut cur = items;
    loop {
        match cur.first()? {
            Item::Entry(_) => return Some(path),
            Item::Submenu(s) => {
                cur = &s.items;
                path.push(0);
            }
        }
    }
}

/// Resolve a GRUB `default` value (`normal/menu.c`): per `>`-separated level an index or a
/// title/id (the first item whose title or `--id` equals it); a submenu as the last element
/// opens at its first entry; in a submenu an unknown element falls back to its first entry,
/// as GRUB does. An element is an index only if it is wholly a number (`0x` hex, `0` octal),
/// as in Fedora/RHEL's GRUB: upstream GRUB also takes a leading number (`"9af7…-5.18"` is
/// entry 9), which breaks BootLoaderSpec ids that start with digits.
pub(crate) fn grub_find(items: &[Item], spec: &str) -> Result<(Vec<usize>, &'static str), String> {
    let mut path = Vec::new();
    let mut cur = items;
    let mut rest = spec;
    let mut how = "index";
    loop {
        let (part, remainder) = split_selector(rest);
        let top = path.is_empty();
        let number = if strict_number(&part) {
            grub_strtoul(&part)
        } else {
            Err(false)
        };
        let idx = match number {
            Ok(n) if usize::try_from(n).is_ok_and(|n| n < cur.len()) => {
                usize::try_from(n).unwrap_or(0)
            }
            Ok(n) if top => {
                return Err(format!(
                    "is entry {n}, but the menu has {} top-level items",
                    cur.len()
                ))
            }
            Err(true) if top => return Err("is a number out of range".to_string()),
            Err(false) => match cur
                .iter()
                .position(|it| it.title() == part || it.id() == Some(part.as_str()))
            {
                Some(i) => {
                    if top {
                        how = if cur.get(i).is_some_and(|it| it.title() == part) {
                            "title"
                        } else {
                            "id"
                        };
                    }
                    i
                }
                None if top => return Err("matches no entry title or id".to_string()),
                None => 0,
            },
            _ => 0,
        };
        path.push(idx);
        match cur.get(idx) {
            Some(Item::Entry(_)) => return Ok((path, how)),
            Some(Item::Submenu(s)) => {
                cur = &s.items;
                match remainder {
                    Some(r) if !r.is_empty() && !cur.is_empty() => rest = r,
                    _ => {
                        let first =
                            first_entry(cur).ok_or_else(|| "names an empty submenu".to_string())?;
                        path.extend(first);
                        return Ok((path, how));
                    }
                }
            }
            None => return Err("names nothing".to_string()),
        }
    }
}

/// The interpreter state.
pub(crate) struct Interp<'a> {
    src: &'a mut dyn FileSource,
    env: Env,
    funcs_base: HashMap<String, Rc<Vec<Cmd>>>,
    funcs: Vec<HashMap<String, Rc<Vec<Cmd>>>>,
    scopes: Vec<Vec<String>>,
    menus: Vec<Frame>,
    rec: Option<Rec>,
    warnings: Vec<String>,
    steps: u64,
    depth: usize,
    loops: u32,
    status: i32,
    expanded: u64,
    read_bytes: u64,
    file_depth: usize,
    items: usize,
    file: String,
    line: usize,
    /// Values read by `load_env`, for explaining the default.
    grubenv: HashMap<String, String>,
    /// Entries `blscfg` has read, newest first (GRUB keeps them across calls), and whether
    /// each has been added to a menu.
    bls: Vec<(BlsEntry, bool)>,
    /// Users registered by `password` / `password_pbkdf2`.
    passwords: Vec<(String, PasswordKind)>,
    /// Bytes of entry source text kept so far.
    source_bytes: usize,
}

impl<'a> Interp<'a> {
    pub(crate) fn new(src: &'a mut dyn FileSource, path: &str) -> Self {
        let mut env = Env::new();
        let dir = dirname(path);
        env.set("prefix", dir);
        env.set("config_file", path);
        env.set("config_directory", dir);
        env.set("grub_platform", "xen");
        env.set("grub_cpu", "x86_64");
        for f in FEATURES {
            env.set(f, "y");
            env.export(f);
        }
        Interp {
            src,
            env,
            funcs_base: HashMap::new(),
            funcs: Vec::new(),
            scopes: Vec::new(),
            menus: Vec::new(),
            rec: None,
            warnings: Vec::new(),
            steps: 0,
            depth: 0,
            loops: 0,
            status: 0,
            expanded: 0,
            read_bytes: 0,
            file_depth: 0,
            items: 0,
            file: path.to_string(),
            line: 0,
            grubenv: HashMap::new(),
            bls: Vec::new(),
            passwords: Vec::new(),
            source_bytes: 0,
        }
    }

    fn warn(&mut self, msg: impl AsRef<str>) {
        if self.warnings.len() < MAX_WARNINGS {
            let w = format!("{}:{}: {}", self.file, self.line, msg.as_ref());
            self.warnings.push(w);
        }
    }

    fn fatal(&self, msg: impl Into<String>) -> ParseError {
        ParseError::new(&self.file, self.line, msg)
    }

    fn step(&mut self, n: u64) -> R<()> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > MAX_STEPS {
            return Err(self.fatal(format!(
                "script ran more than {MAX_STEPS} commands (endless loop?)"
            )));
        }
        Ok(())
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fatal(format!(
                "calls and blocks nested deeper than {MAX_DEPTH} (endless recursion?)"
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn charge(&mut self, n: usize) -> R<()> {
        self.expanded = self.expanded.saturating_add(n as u64);
        if self.expanded > MAX_EXPANSION_BYTES {
            return Err(self.fatal(format!(
                "variable expansion produced more than {MAX_EXPANSION_BYTES} bytes"
            )));
        }
        Ok(())
    }

    // ----- variables and words -----

    fn scope(&self) -> Option<&Vec<String>> {
        self.scopes.last()
    }

    /// The fields a variable reference contributes (see `grub_script_env_get`).
    fn var_fields(&self, name: &str, quoted: bool) -> Vec<String> {
        let split_all = |vals: &[String]| -> Vec<String> {
            vals.iter()
                .flat_map(|v| split_fields(v).map(str::to_string))
                .collect()
        };
        match name {
            "?" => vec![self.status.to_string()],
            "#" => self
                .scope()
                .map(|s| vec![s.len().to_string()])
                .unwrap_or_default(),
            "*" => match self.scope() {
                None => Vec::new(),
                Some(s) if quoted => {
                    if s.is_empty() {
                        Vec::new()
                    } else {
                        vec![s.join(" ")]
                    }
                }
                Some(s) => split_all(s),
            },
            "@" => match self.scope() {
                None => Vec::new(),
                Some(s) if quoted => s.clone(),
                Some(s) => split_all(s),
            },
            _ if name.bytes().all(|c| c.is_ascii_digit()) => {
                let n = name.parse::<usize>().unwrap_or(0);
                let arg = n
                    .checked_sub(1)
                    .and_then(|i| self.scope().and_then(|s| s.get(i)));
                match arg {
                    None => Vec::new(),
                    Some(a) if quoted => vec![a.clone()],
                    Some(a) => split_fields(a).map(str::to_string).collect(),
                }
            }
            _ => match self.env.value(name) {
                None | Some("") => Vec::new(),
                Some(v) if quoted => vec![v.to_string()],
                Some(v) => split_fields(v).map(str::to_string).collect(),
            },
        }
    }

    fn expand_word(&mut self, w: &Word, out: &mut Vec<String>) -> R<()> {
        let mut cur: Option<String> = None;
        for part in &w.parts {
            match part {
                Part::Lit(s) | Part::Quoted(s) => {
                    self.charge(s.len())?;
                    cur.get_or_insert_with(String::new).push_str(s);
                }
                Part::Var { name, quoted } => {
                    for (i, f) in self.var_fields(name, *quoted).into_iter().enumerate() {
                        if i > 0 {
                            if let Some(c) = cur.take() {
                                out.push(c);
                            }
                        }
                        self.charge(f.len())?;
                        cur.get_or_insert_with(String::new).push_str(&f);
                    }
                }
            }
        }
        if let Some(c) = cur {
            out.push(c);
        }
        Ok(())
    }

    fn expand_words(&mut self, words: &[Word]) -> R<Vec<String>> {
        let mut out = Vec::new();
        for w in words {
            self.expand_word(w, &mut out)?;
        }
        Ok(out)
    }

    // ----- execution -----

    fn exec_list(&mut self, cmds: &[Cmd]) -> R<Flow> {
        for c in cmds {
            let f = self.exec(c)?;
            if f != Flow::Normal {
                return Ok(f);
            }
        }
        Ok(Flow::Normal)
    }

    /// Run a loop body; `Some(flow)` if the loop must end with that flow.
    fn loop_body(&mut self, body: &[Cmd]) -> R<Option<Flow>> {
        Ok(match self.exec_list(body)? {
            Flow::Normal | Flow::Continue(1) => None,
            Flow::Break(1) => Some(Flow::Normal),
            Flow::Break(n) => Some(Flow::Break(n - 1)),
            Flow::Continue(n) => Some(Flow::Continue(n - 1)),
            f => Some(f),
        })
    }

    fn exec(&mut self, cmd: &Cmd) -> R<Flow> {
        match cmd {
            Cmd::Simple { words, block, line } => {
                self.line = *line;
                self.step(1)?;
                self.simple(words, block.as_ref())
            }
            Cmd::If {
                branches,
                otherwise,
            } => {
                self.step(1)?;
                self.enter()?;
                let mut flow = Flow::Normal;
                let mut taken = false;
                for (cond, body) in branches {
                    flow = self.exec_list(cond)?;
                    if flow != Flow::Normal {
                        taken = true;
                        break;
                    }
                    if self.status == 0 {
                        flow = self.exec_list(body)?;
                        taken = true;
                        break;
                    }
                }
                if !taken {
                    match otherwise {
                        Some(o) => flow = self.exec_list(o)?,
                        None => self.status = 0,
                    }
                }
                self.leave();
                Ok(flow)
            }
            Cmd::While { cond, body, until } => {
                self.enter()?;
                self.loops += 1;
                let mut flow = Flow::Normal;
                loop {
                    self.step(1)?;
                    match self.exec_list(cond)? {
                        Flow::Normal => {}
                        f => {
                            flow = f;
                            break;
                        }
                    }
                    if (self.status == 0) == *until {
                        break;
                    }
                    if let Some(f) = self.loop_body(body)? {
                        flow = f;
                        break;
                    }
                }
                self.loops -= 1;
                self.leave();
                Ok(flow)
            }
            Cmd::For { var, words, body } => {
                self.step(1)?;
                let values = self.expand_words(words)?;
                self.enter()?;
                self.loops += 1;
                let mut flow = Flow::Normal;
                for v in &values {
                    self.step(1)?;
                    self.env.set(var, v);
                    if let Some(f) = self.loop_body(body)? {
                        flow = f;
                        break;
                    }
                }
                self.loops -= 1;
                self.leave();
                Ok(flow)
            }
            Cmd::Function { name, body } => {
                self.step(1)?;
                let table = match self.funcs.last_mut() {
                    Some(t) => t,
                    None => &mut self.funcs_base,
                };
                table.insert(name.clone(), body.clone());
                self.status = 0;
                Ok(Flow::Normal)
            }
        }
    }

    fn find_func(&self, name: &str) -> Option<Rc<Vec<Cmd>>> {
        self.funcs
            .iter()
            .rev()
            .chain(std::iter::once(&self.funcs_base))
            .find_map(|t| t.get(name).cloned())
    }

    fn call_function(&mut self, body: &Rc<Vec<Cmd>>, args: &[String]) -> R<Flow> {
        self.enter()?;
        self.scopes.push(args.to_vec());
        let loops = std::mem::replace(&mut self.loops, 0);
        let flow = self.exec_list(body)?;
        self.loops = loops;
        self.scopes.pop();
        self.leave();
        Ok(match flow {
            Flow::Stop => Flow::Stop,
            Flow::Exit => Flow::Exit,
            _ => Flow::Normal,
        })
    }

    fn simple(&mut self, words: &[Word], block: Option<&Block>) -> R<Flow> {
        let argv = self.expand_words(words)?;
        let (invert, argv) = match argv.split_first() {
            Some((first, rest)) if first == "!" => (true, rest),
            _ => (false, argv.as_slice()),
        };
        let Some((name, args)) = argv.split_first() else {
            self.status = i32::from(invert);
            return Ok(Flow::Normal);
        };
        let flow = self.command(name, args, block)?;
        if invert {
            self.status = i32::from(self.status == 0);
        }
        Ok(flow)
    }

    fn ok(&mut self, status: bool) -> R<Flow> {
        self.status = if status { 0 } else { 1 };
        Ok(Flow::Normal)
    }

    fn command(&mut self, name: &str, args: &[String], block: Option<&Block>) -> R<Flow> {
        if block.is_some() && name != "menuentry" && name != "submenu" {
            self.warn(format!("`{name}` does not take a block; block ignored"));
        }
        match name {
            "set" => match args.first() {
                None => self.ok(true),
                Some(a) => match a.split_once('=') {
                    Some((k, v)) => {
                        self.env.set(k, v);
                        self.ok(true)
                    }
                    None => self.ok(false),
                },
            },
            "unset" => {
                if let Some(a) = args.first() {
                    self.env.unset(a);
                }
                self.ok(!args.is_empty())
            }
            "export" => {
                for a in args {
                    self.env.export(a);
                }
                self.ok(true)
            }
            "true" => self.ok(true),
            "false" => self.ok(false),
            "[" | "test" => {
                let args = match args.split_last() {
                    Some((last, rest)) if last == "]" => rest,
                    _ => args,
                };
                let mut pos = 0;
                let r = self.test(args, &mut pos, 0);
                self.ok(r)
            }
            "menuentry" => self.menuentry(args, block, false),
            "submenu" => self.menuentry(args, block, true),
            "source" | "." => self.source(args),
            "configfile" => self.configfile(args),
            "normal" if !args.is_empty() => self.configfile(args),
            "eval" => self.eval(args),
            "load_env" => self.load_env(args),
            "search" | "search.fs_uuid" | "search.fs_label" | "search.file"
            | "search.part_uuid" | "search.part_label" => self.search(name, args),
            "shift" => {
                let n = match args.first() {
                    None => Some(1),
                    Some(a) => a.parse::<usize>().ok(),
                };
                match (n, self.scopes.last_mut()) {
                    (Some(n), Some(s)) if n <= s.len() => {
                        s.drain(..n);
                        self.ok(true)
                    }
                    (_, None) => self.ok(true),
                    _ => self.ok(false),
                }
            }
            "setparams" => match self.scopes.last_mut() {
                Some(s) => {
                    *s = args.to_vec();
                    self.ok(true)
                }
                None => self.ok(false),
            },
            "return" => {
                if self.scopes.is_empty() {
                    self.warn("`return` not in a function body");
                    return self.ok(false);
                }
                match args.first() {
                    None => {}
                    Some(a) => match grub_strtoul(a) {
                        Ok(n) => self.status = i32::try_from(n).unwrap_or(i32::MAX),
                        Err(_) => return self.ok(false),
                    },
                }
                Ok(Flow::Return)
            }
            "break" | "continue" => {
                let n = match args.first() {
                    None => 1,
                    Some(a) => match a.parse::<u32>() {
                        Ok(n) if n > 0 => n,
                        _ => return self.ok(false),
                    },
                };
                self.status = 0;
                if self.loops == 0 {
                    return Ok(Flow::Normal);
                }
                let n = n.min(self.loops);
                Ok(if name == "break" {
                    Flow::Break(n)
                } else {
                    Flow::Continue(n)
                })
            }
            "exit" => {
                self.status = 0;
                Ok(Flow::Exit)
            }
            "read" => {
                if let Some(v) = args.first() {
                    self.env.set(v, "");
                }
                self.ok(true)
            }
            "linux" | "linux16" | "linuxefi" => self.linux(name, args),
            "initrd" | "initrd16" | "initrdefi" => self.initrd(name, args),
            "multiboot" | "multiboot2" | "xen_hypervisor" => self.multiboot(name, args),
            "module" | "module2" | "xen_module" => self.module(name, args),
            "boot" => {
                self.status = 0;
                Ok(if self.rec.is_some() {
                    Flow::Stop
                } else {
                    Flow::Normal
                })
            }
            "blscfg" | "bls_import" => self.blscfg(args),
            "password" | "password_pbkdf2" => self.password(name, args),
            "regexp" => {
                self.warn("regexp is not supported yet; treated as no match");
                self.ok(false)
            }
            "probe" | "hwmatch" | "keystatus" => self.ok(false),
            "legacy_configfile"
            | "legacy_source"
            | "extract_legacy_entries_source"
            | "extract_legacy_entries_configfile"
            | "extract_entries_source"
            | "extract_entries_configfile" => {
                self.warn(format!("`{name}` is not supported yet; ignored"));
                self.ok(false)
            }
            _ if OTHER_LOADERS.contains(&name) => self.other_loader(name),
            _ if NOOP_COMMANDS.contains(&name) => self.ok(true),
            _ => {
                if let Some(f) = self.find_func(name) {
                    return self.call_function(&f, args);
                }
                if let Some((k, v)) = name.split_once('=') {
                    if !k.is_empty() && !k.bytes().all(|c| c.is_ascii_digit()) {
                        self.env.set(k, v);
                    }
                    return self.ok(true);
                }
                if HELPER_FUNCTIONS.contains(&name) {
                    return self.ok(true);
                }
                let shown: String = name.chars().take(64).collect();
                self.warn(format!("unknown command `{shown}`; ignored"));
                self.ok(false)
            }
        }
    }

    // ----- test -----

    fn file_test(&mut self, op: &str, arg: &str) -> bool {
        let (dev, path) = split_device(arg);
        let mut path = path.trim_end_matches('/').to_string();
        if path.is_empty() {
            path.push('/');
        }
        let dev = dev.as_deref();
        match op {
            "-d" => self.src.is_dir(dev, &path),
            "-e" => self.src.exists(dev, &path) || self.src.is_dir(dev, &path),
            "-f" => self.src.exists(dev, &path) && !self.src.is_dir(dev, &path),
            _ => self
                .src
                .read_file(dev, &path, 1)
                .is_some_and(|d| !d.is_empty()),
        }
    }

    /// `test_parse` of `commands/test.c`.
    fn test(&mut self, a: &[String], pos: &mut usize, depth: usize) -> bool {
        if depth > 32 {
            self.warn("test: parentheses nested too deep");
            *pos = a.len();
            return false;
        }
        fn update(v: bool, and: &mut bool, invert: &mut bool) {
            *and = *and && (if *invert { !v } else { v });
            *invert = false;
        }
        let (mut and, mut or, mut invert) = (true, false, false);
        while let Some(cur) = a.get(*pos) {
            if let (Some(op), Some(rhs)) = (a.get(*pos + 1), a.get(*pos + 2)) {
                let (l, r) = (cur.as_str(), rhs.as_str());
                let v = match op.as_str() {
                    "=" | "==" => Some(l == r),
                    "!=" => Some(l != r),
                    "<" => Some(l < r),
                    "<=" => Some(l <= r),
                    ">" => Some(l > r),
                    ">=" => Some(l >= r),
                    "-eq" => Some(grub_strtosl(l) == grub_strtosl(r)),
                    "-ne" => Some(grub_strtosl(l) != grub_strtosl(r)),
                    "-lt" => Some(grub_strtosl(l) < grub_strtosl(r)),
                    "-le" => Some(grub_strtosl(l) <= grub_strtosl(r)),
                    "-gt" => Some(grub_strtosl(l) > grub_strtosl(r)),
                    "-ge" => Some(grub_strtosl(l) >= grub_strtosl(r)),
                    "-pgt" | "-plt" => {
                        let (x, y) = (l.as_bytes(), r.as_bytes());
                        let common = x.iter().zip(y).take_while(|(p, q)| p == q).count();
                        let mut i = common.saturating_sub(1);
                        while i > 0 && x.get(i).is_some_and(u8::is_ascii_digit) {
                            i -= 1;
                        }
                        if common > 0 {
                            i += 1;
                        }
                        let num = |s: &str| grub_strtoul(s.get(i..).unwrap_or("")).unwrap_or(0);
                        let (nl, nr) = (num(l), num(r));
                        Some(if op == "-pgt" { nl > nr } else { nl < nr })
                    }
                    o if o.starts_with("-nt") || o.starts_with("-ot") => Some(false),
                    _ => None,
                };
                if let Some(v) = v {
                    update(v, &mut and, &mut invert);
                    *pos += 3;
                    continue;
                }
            }
            if let Some(operand) = a.get(*pos + 1) {
                let v = match cur.as_str() {
                    op @ ("-d" | "-e" | "-f" | "-s") => Some(self.file_test(op, operand)),
                    "-n" => Some(!operand.is_empty()),
                    "-z" => Some(operand.is_empty()),
                    _ => None,
                };
                if let Some(v) = v {
                    update(v, &mut and, &mut invert);
                    *pos += 2;
                    continue;
                }
            }
            *pos += 1;
            match cur.as_str() {
                ")" => return or || and,
                "(" => {
                    let v = self.test(a, pos, depth + 1);
                    update(v, &mut and, &mut invert);
                }
                "!" => invert = !invert,
                "-a" => {}
                "-o" => {
                    or = or || and;
                    and = true;
                }
                s => update(!s.is_empty(), &mut and, &mut invert),
            }
        }
        or || and
    }

    // ----- files -----

    fn read(&mut self, dev: Option<&str>, path: &str, max: usize) -> R<Option<Vec<u8>>> {
        let data = self.src.read_file(dev, path, max);
        if let Some(d) = &data {
            self.read_bytes = self.read_bytes.saturating_add(d.len() as u64);
            if self.read_bytes > MAX_READ_BYTES {
                return Err(self.fatal(format!(
                    "config files read exceed {MAX_READ_BYTES} bytes in total"
                )));
            }
        }
        Ok(data)
    }

    /// Read a script file for `source`/`configfile`/`normal`, as GRUB's reader sees it;
    /// problems are warnings (`None`).
    fn load_script(&mut self, what: &str, file: &str) -> R<Option<String>> {
        if self.file_depth >= MAX_FILE_DEPTH {
            self.warn(format!(
                "{what} `{file}`: files nested deeper than {MAX_FILE_DEPTH}; skipped"
            ));
            return Ok(None);
        }
        let (dev, path) = split_device(file);
        let Some(data) = self.read(dev.as_deref(), &path, MAX_CONFIG_BYTES + 1)? else {
            self.warn(format!("{what} `{file}`: file not found"));
            return Ok(None);
        };
        if data.len() > MAX_CONFIG_BYTES {
            self.warn(format!(
                "{what} `{file}`: larger than {MAX_CONFIG_BYTES} bytes; skipped"
            ));
            return Ok(None);
        }
        Ok(Some(drop_hash_lines(&decode(&data))))
    }

    /// Run a script command by command. A syntax error ends it and is returned apart from
    /// the flow (the caller decides whether it is fatal); limits are errors.
    fn exec_script(&mut self, text: &str, file: &str) -> R<(Flow, Option<ParseError>)> {
        let mut script = match Script::new(text, file) {
            Ok(s) => s,
            Err(e) => return Ok((Flow::Normal, Some(e))),
        };
        loop {
            let cmd = match script.next_command() {
                Ok(Some(c)) => c,
                Ok(None) => return Ok((Flow::Normal, None)),
                Err(e) => return Ok((Flow::Normal, Some(e))),
            };
            let flow = self.exec(&cmd)?;
            if flow != Flow::Normal {
                return Ok((flow, None));
            }
        }
    }

    /// [`Self::exec_script`] for an included file: a syntax error is a warning.
    fn exec_file(&mut self, what: &str, text: &str, file: &str) -> R<Flow> {
        let (flow, err) = self.exec_script(text, file)?;
        if let Some(e) = err {
            self.warn(format!("{what} `{file}`: {e}; rest of the file skipped"));
        }
        Ok(flow)
    }

    fn set_config_vars(&mut self, file: &str) {
        self.env.set("config_file", file);
        self.env.set("config_directory", dirname(file));
    }

    fn source(&mut self, args: &[String]) -> R<Flow> {
        let Some(file) = args.first() else {
            return self.ok(false);
        };
        let Some(text) = self.load_script("source", file)? else {
            return self.ok(false);
        };
        self.enter()?;
        self.file_depth += 1;
        let old_file = self.env.value("config_file").map(str::to_string);
        let old_dir = self.env.value("config_directory").map(str::to_string);
        self.set_config_vars(file);
        let (saved_name, saved_line) = (std::mem::replace(&mut self.file, file.clone()), self.line);
        let flow = self.exec_file("source", &text, file)?;
        self.file = saved_name;
        self.line = saved_line;
        for (n, v) in [("config_file", old_file), ("config_directory", old_dir)] {
            match v {
                Some(v) => self.env.set(n, &v),
                None => self.env.unset(n),
            }
        }
        self.file_depth -= 1;
        self.leave();
        Ok(flow)
    }

    fn configfile(&mut self, args: &[String]) -> R<Flow> {
        let Some(file) = args.first() else {
            return self.ok(false);
        };
        let Some(text) = self.load_script("configfile", file)? else {
            return self.ok(false);
        };
        self.enter()?;
        self.file_depth += 1;
        let copied = self.env.push_context();
        self.step(copied as u64)?;
        self.set_config_vars(file);
        self.funcs.push(HashMap::new());
        self.menus.push(Frame::default());
        let rec = self.rec.take();
        let (saved_name, saved_line) = (std::mem::replace(&mut self.file, file.clone()), self.line);
        let flow = self.exec_file("configfile", &text, file)?;
        self.file = saved_name;
        self.line = saved_line;
        let frame = self.menus.pop().unwrap_or_default();
        let settings = Settings::capture(&self.env, !frame.items.is_empty() && rec.is_none());
        self.rec = rec;
        self.funcs.pop();
        self.env.pop();
        self.file_depth -= 1;
        self.leave();
        if frame.items.is_empty() {
            self.status = 0;
            return Ok(if flow == Flow::Exit {
                Flow::Exit
            } else {
                Flow::Normal
            });
        }
        let mut result = frame.result.unwrap_or(settings);
        result.from_file.get_or_insert_with(|| file.clone());
        if let Some(rec) = self.rec.as_mut() {
            rec.submenu = Some(frame.items);
        } else if let Some(top) = self.menus.last_mut() {
            top.items = frame.items;
            top.result = Some(result);
        }
        self.status = 0;
        Ok(Flow::Stop)
    }

    fn eval(&mut self, args: &[String]) -> R<Flow> {
        let script = args.join(" ");
        self.enter()?;
        let file = self.file.clone();
        let (flow, err) = self.exec_script(&script, &file)?;
        if let Some(e) = err {
            self.warn(format!("eval: {}", e.msg));
            self.status = 1;
        }
        self.leave();
        Ok(flow)
    }

    fn load_env(&mut self, args: &[String]) -> R<Flow> {
        let (opts, whitelist) = match parse_opts(LOAD_ENV_OPTS, args) {
            Ok(x) => x,
            Err(e) => {
                self.warn(format!("load_env: {e}"));
                return self.ok(false);
            }
        };
        let file = match opt_value(&opts, "file") {
            Some(f) => f.to_string(),
            None => match self.env.value("prefix") {
                Some(p) => format!("{p}/grubenv"),
                None => return self.ok(false),
            },
        };
        let (dev, path) = split_device(&file);
        let Some(data) = self.read(dev.as_deref(), &path, MAX_ENVBLK_BYTES)? else {
            return self.ok(false);
        };
        let Some(vars) = parse_envblk(&data) else {
            self.warn(format!(
                "load_env: `{file}` is not a GRUB environment block"
            ));
            return self.ok(false);
        };
        for (k, v) in vars {
            if whitelist.is_empty() || whitelist.contains(&k) {
                self.step(1)?;
                self.env.set(&k, &v);
                self.grubenv.insert(k, v);
            }
        }
        self.ok(true)
    }

    fn search(&mut self, name: &str, args: &[String]) -> R<Flow> {
        let (kind, var, value) = if name == "search" {
            let (opts, pos) = match parse_opts(SEARCH_OPTS, args) {
                Ok(x) => x,
                Err(e) => {
                    self.warn(format!("search: {e}"));
                    return self.ok(false);
                }
            };
            let kind = if has_opt(&opts, "label") {
                SearchKind::Label
            } else if has_opt(&opts, "fs-uuid") {
                SearchKind::FsUuid
            } else if has_opt(&opts, "file") {
                SearchKind::File
            } else if has_opt(&opts, "part-uuid") {
                SearchKind::PartUuid
            } else if has_opt(&opts, "part-label") {
                SearchKind::PartLabel
            } else {
                self.warn("search: unsupported or unspecified search type");
                return self.ok(false);
            };
            let var = has_opt(&opts, "set")
                .then(|| opt_value(&opts, "set").unwrap_or("root").to_string());
            (kind, var, pos.first().cloned())
        } else {
            let kind = match name {
                "search.fs_uuid" => SearchKind::FsUuid,
                "search.fs_label" => SearchKind::Label,
                "search.part_uuid" => SearchKind::PartUuid,
                "search.part_label" => SearchKind::PartLabel,
                _ => SearchKind::File,
            };
            (kind, args.get(1).cloned(), args.first().cloned())
        };
        let Some(value) = value else {
            return self.ok(false);
        };
        match self.src.search(kind, &value) {
            Some(dev) => {
                if let Some(var) = var {
                    self.env.set(&var, &dev);
                }
                self.ok(true)
            }
            None => self.ok(false),
        }
    }

    // ----- menu entries -----

    fn menuentry(&mut self, args: &[String], block: Option<&Block>, submenu: bool) -> R<Flow> {
        let what = if submenu { "submenu" } else { "menuentry" };
        if self.rec.is_some() {
            self.warn(format!("{what} inside a menu entry's body is ignored"));
            return self.ok(false);
        }
        let (opts, pos) = match parse_opts(MENUENTRY_OPTS, args) {
            Ok(x) => x,
            Err(e) => {
                self.warn(format!("{what}: {e}; entry skipped"));
                return self.ok(false);
            }
        };
        let Some(block) = block else {
            self.warn(if has_opt(&opts, "source") {
                format!("{what} --source is not supported; entry skipped")
            } else {
                format!("{what} without a {{ ... }} body; entry skipped")
            });
            return self.ok(false);
        };
        let Some(title) = pos.first().cloned() else {
            self.warn(format!("{what} is missing a title; entry skipped"));
            return self.ok(false);
        };
        self.add_item()?;
        let id = opt_value(&opts, "id").map(str::to_string);
        // `grub_cmd_menuentry`: `--users USERS` wins over `--unrestricted`.
        let users = opt_value(&opts, "users").map(auth_words);
        let access = Access {
            unrestricted: users.is_none() && has_opt(&opts, "unrestricted"),
            users,
        };
        let item = if submenu {
            self.eval_submenu(title, id, &pos, block, access)?
        } else {
            let source = self.keep_source(menuentry_source(&pos, block.source()));
            self.eval_entry(title, id, &pos, &block.cmds, source, access)?
        };
        if let Some(top) = self.menus.last_mut() {
            top.items.push(item);
        }
        self.ok(true)
    }

    /// Count a new menu item against [`MAX_ITEMS`].
    fn add_item(&mut self) -> R<()> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(self.fatal(format!("more than {MAX_ITEMS} menu entries")));
        }
        Ok(())
    }

    /// Source lines to keep for an entry, within [`MAX_SOURCE_BYTES`].
    fn keep_source(&mut self, lines: Vec<String>) -> Vec<String> {
        let n: usize = lines.iter().map(|l| l.len() + 1).sum();
        if self.source_bytes.saturating_add(n) > MAX_SOURCE_BYTES {
            if self.source_bytes <= MAX_SOURCE_BYTES {
                self.warn(format!(
                    "menu entry source text exceeds {MAX_SOURCE_BYTES} bytes; further entries keep none"
                ));
                self.source_bytes = MAX_SOURCE_BYTES + 1;
            }
            return Vec::new();
        }
        self.source_bytes += n;
        lines
    }

    /// Run an entry's commands (its body) as GRUB would when booting it, in a child scope of
    /// the variables as they are now, and record what it loads.
    fn eval_entry(
        &mut self,
        title: String,
        id: Option<String>,
        params: &[String],
        cmds: &[Cmd],
        source: Vec<String>,
        access: Access,
    ) -> R<Item> {
        self.enter()?;
        self.env.push_overlay();
        self.funcs.push(HashMap::new());
        self.scopes.push(params.to_vec());
        let saved_rec = self.rec.replace(Rec::default());
        let loops = std::mem::replace(&mut self.loops, 0);
        let status = self.status;
        let flow = self.exec_list(cmds)?;
        let rec = std::mem::replace(&mut self.rec, saved_rec).unwrap_or_default();
        let root = self
            .env
            .value("root")
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        self.env.pop();
        self.funcs.pop();
        self.scopes.pop();
        self.loops = loops;
        self.status = status;
        self.leave();

        if let Some(items) = rec.submenu {
            return Ok(Item::Submenu(Submenu {
                title,
                id,
                items,
                users: access.users,
                unrestricted: access.unrestricted,
            }));
        }
        let fix = |p: Pending| FileRef {
            device: p
                .device
                .or_else(|| p.root.filter(|r| Some(r) != root.as_ref())),
            path: p.path,
        };
        let mut e = Entry::new(title);
        e.id = id;
        e.kind = if flow == Flow::Exit {
            EntryKind::Other
        } else {
            rec.kind.unwrap_or(EntryKind::Other)
        };
        e.kernel = rec.kernel.map(fix);
        e.initrds = rec.initrds.into_iter().map(fix).collect();
        e.modules = rec
            .modules
            .into_iter()
            .map(|(p, args)| Module { file: fix(p), args })
            .collect();
        e.args = rec.args;
        e.root = root;
        e.source = source;
        e.users = access.users;
        e.unrestricted = access.unrestricted;
        Ok(Item::Entry(e))
    }

    fn eval_submenu(
        &mut self,
        title: String,
        id: Option<String>,
        params: &[String],
        block: &Block,
        access: Access,
    ) -> R<Item> {
        self.enter()?;
        let copied = self.env.push_context();
        self.step(copied as u64)?;
        self.funcs.push(HashMap::new());
        self.scopes.push(params.to_vec());
        self.menus.push(Frame::default());
        let loops = std::mem::replace(&mut self.loops, 0);
        let status = self.status;
        self.exec_list(&block.cmds)?;
        let frame = self.menus.pop().unwrap_or_default();
        self.env.pop();
        self.funcs.pop();
        self.scopes.pop();
        self.loops = loops;
        self.status = status;
        self.leave();
        Ok(Item::Submenu(Submenu {
            title,
            id,
            items: frame.items,
            users: access.users,
            unrestricted: access.unrestricted,
        }))
    }

    // ----- passwords -----

    fn password(&mut self, name: &str, args: &[String]) -> R<Flow> {
        let [user, pass] = args else {
            self.warn(format!("`{name}`: two arguments expected"));
            return self.ok(false);
        };
        if self.rec.is_some() {
            // GRUB would register it only when the entry is booted.
            return self.ok(true);
        }
        let kind = if name == "password" {
            PasswordKind::Plain(pass.clone())
        } else if valid_pbkdf2(pass) {
            PasswordKind::Pbkdf2(pass.clone())
        } else {
            self.warn(format!("`{name}`: invalid PBKDF2 password"));
            return self.ok(false);
        };
        match self.passwords.iter_mut().find(|(u, _)| u == user) {
            Some(slot) => slot.1 = kind,
            None => {
                if self.passwords.len() >= MAX_WARNINGS {
                    self.warn(format!("`{name}`: too many users; ignored"));
                    return self.ok(false);
                }
                self.passwords.push((user.clone(), kind));
            }
        }
        self.ok(true)
    }

    // ----- blscfg -----

    fn blscfg(&mut self, args: &[String]) -> R<Flow> {
        if self.rec.is_some() {
            self.warn("blscfg inside a menu entry's body is ignored");
            return self.ok(false);
        }
        let (mut show_default, mut show_non_default) = (true, true);
        let mut path = None;
        let mut entry_id = None;
        if let [a] = args {
            match a.as_str() {
                "default" => show_non_default = false,
                "non-default" => show_default = false,
                p if p.starts_with('(') => path = Some(p.to_string()),
                id => {
                    entry_id = Some(id.to_string());
                    show_default = false;
                    show_non_default = false;
                }
            }
        }
        let mut warnings = Vec::new();
        let mut loaded: Vec<BlsEntry> = Vec::new();
        let mut read = 0u64;
        match path {
            Some(p) if p.ends_with(".conf") => {
                // One file, `(dev)/dir/name.conf`.
                let (dev, file) = split_device(&p);
                let name = file.rsplit(['/', '\\']).next().unwrap_or("").to_string();
                let dir = dirname(&file).to_string();
                let (e, n) = bls::read_entries(
                    &mut *self.src,
                    dev.as_deref(),
                    &dir,
                    &[name],
                    true,
                    &mut warnings,
                );
                loaded = e;
                read = n;
            }
            _ => {
                let (dev, dirs): (Option<String>, Vec<String>) = match &path {
                    Some(p) => {
                        let inner = p.get(1..).unwrap_or("");
                        let Some((dev, dir)) = inner.split_once(')') else {
                            self.warn(format!("blscfg: `{p}`: file path isn't correct"));
                            return self.ok(false);
                        };
                        (Some(dev.to_string()), vec![dir.to_string()])
                    }
                    None => {
                        let dir = self
                            .env
                            .value("blsdir")
                            .unwrap_or("/loader/entries/")
                            .to_string();
                        (
                            self.env
                                .value("root")
                                .filter(|r| !r.is_empty())
                                .map(str::to_string),
                            vec![dir, "/boot/loader/entries/".to_string()],
                        )
                    }
                };
                let mut found = false;
                for dir in &dirs {
                    let names: Vec<String> = self
                        .src
                        .list_dir(dev.as_deref(), dir)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|n| n.len() <= 255 && bls::grub_wants(n))
                        .collect();
                    if names.is_empty() {
                        continue;
                    }
                    let mut names = names;
                    names.sort();
                    names.dedup();
                    let (e, n) = bls::read_entries(
                        &mut *self.src,
                        dev.as_deref(),
                        dir,
                        &names,
                        true,
                        &mut warnings,
                    );
                    loaded = e;
                    read = n;
                    found = true;
                    break;
                }
                if !found {
                    let on = dev
                        .as_deref()
                        .map_or_else(String::new, |d| format!("({d})"));
                    warnings.push(format!("no entry files in {on}{}", dirs.join(" nor ")));
                }
            }
        }
        for w in warnings {
            self.warn(format!("blscfg: {w}"));
        }
        self.read_bytes = self.read_bytes.saturating_add(read);
        if self.read_bytes > MAX_READ_BYTES {
            return Err(self.fatal(format!(
                "config files read exceed {MAX_READ_BYTES} bytes in total"
            )));
        }
        // Keep them newest first, as `bls_add_entry` does; an entry equal to one already
        // there is dropped.
        for e in loaded {
            // One step per 16 comparisons (at most MAX_BLS_ENTRIES each).
            self.step(1 + self.bls.len() as u64 / 16)?;
            let mut at = None;
            let mut dup = false;
            for (i, (x, _)) in self.bls.iter().enumerate() {
                match bls::grub_bls_cmp(&e.id, &x.id) {
                    std::cmp::Ordering::Equal => {
                        dup = true;
                        break;
                    }
                    std::cmp::Ordering::Greater => {
                        at = Some(i);
                        break;
                    }
                    std::cmp::Ordering::Less => {}
                }
            }
            if dup {
                continue;
            }
            if self.bls.len() >= MAX_BLS_ENTRIES {
                self.warn(format!(
                    "blscfg: more than {MAX_BLS_ENTRIES} entries; `{}` skipped",
                    e.id
                ));
                continue;
            }
            match at {
                Some(i) => self.bls.insert(i, (e, false)),
                None => self.bls.push((e, false)),
            }
        }
        // `bls_create_entries`.
        let def = self.env.value("default").map(str::to_string);
        for idx in 0..self.bls.len() {
            let Some((e, visible)) = self.bls.get(idx) else {
                break;
            };
            if *visible {
                continue;
            }
            let is_default = def.as_deref().is_some_and(|d| {
                d == e.id
                    || e.first("title") == Some(d)
                    || bls_index(d).is_some_and(|n| n == idx as u64)
            });
            let wanted = (show_default && is_default)
                || (show_non_default && !is_default)
                || entry_id.as_deref() == Some(e.id.as_str());
            if !wanted {
                continue;
            }
            let e = e.clone();
            if let Some(slot) = self.bls.get_mut(idx) {
                slot.1 = true;
            }
            self.bls_create_entry(&e)?;
        }
        self.ok(true)
    }

    /// `create_entry` of `blscfg.c`: the entry's script, run as a menu entry.
    fn bls_create_entry(&mut self, e: &BlsEntry) -> R<()> {
        let Some(clinux) = e.first("linux") else {
            self.warn(format!(
                "blscfg: `{}.conf` has no `linux` key; skipped",
                e.id
            ));
            return Ok(());
        };
        let env = |name: &str| self.env.value(name).map(str::to_string);
        let lookup = |name: &str| env(name);
        let title = e.first("title").unwrap_or(clinux).to_string();
        let options = expand_val(e.first("options"), &lookup)
            .or_else(|| expand_val(env("default_kernelopts").as_deref(), &lookup));
        let initrds: Vec<&str> = e.all("initrd").collect();
        let mut devicetree = expand_val(e.first("devicetree"), &lookup);
        let mut dt_prefix = false;
        if devicetree.is_none() {
            devicetree = expand_val(env("devicetree").as_deref(), &lookup);
            dt_prefix = true;
        }
        let users = expand_val(e.first("grub_users"), &lookup);
        let early = env("early_initrd");
        let savedefault = env("save_default").as_deref() == Some("true");
        let dir_of = |p: &str| {
            p.rfind('/')
                .map_or(String::new(), |k| p.get(..=k).unwrap_or("").to_string())
        };

        let mut script = String::new();
        if savedefault {
            script.push_str("savedefault\n");
        }
        script.push_str("load_video\nset gfxpayload=keep\ninsmod gzio\n");
        script.push_str("linux ($root)");
        script.push_str(clinux);
        if let Some(o) = &options {
            script.push(' ');
            script.push_str(o);
        }
        script.push('\n');
        let early: Vec<&str> = early
            .as_deref()
            .map(|s| s.split(' ').collect())
            .unwrap_or_default();
        if !early.is_empty() || !initrds.is_empty() {
            let prefix = dir_of(initrds.first().copied().unwrap_or(clinux));
            script.push_str("initrd");
            for x in &early {
                script.push_str(" ($root)");
                script.push_str(&prefix);
                script.push_str(x);
            }
            for x in &initrds {
                script.push_str(" ($root)");
                script.push_str(x);
            }
            script.push('\n');
        }
        if let Some(dt) = &devicetree {
            script.push_str("devicetree ($root)");
            if dt_prefix {
                script.push_str(&dir_of(clinux));
            }
            script.push_str(dt);
            script.push('\n');
        }
        self.charge(script.len())?;

        self.add_item()?;
        let mut params = vec![title.clone()];
        params.extend(e.all("grub_arg").map(str::to_string));
        let access = Access {
            unrestricted: users.is_none(),
            users: users.as_deref().map(auth_words),
        };
        let lines: Vec<String> = script
            .strip_suffix('\n')
            .unwrap_or(&script)
            .split('\n')
            .map(str::to_string)
            .collect();
        let source = self.keep_source(lines);
        let label = format!("{}.conf", e.id);
        let item = match parse_script(&script, &label) {
            Ok(cmds) => {
                let (file, line) = (std::mem::replace(&mut self.file, label), self.line);
                let item =
                    self.eval_entry(title, Some(e.id.clone()), &params, &cmds, source, access);
                self.file = file;
                self.line = line;
                item?
            }
            Err(err) => {
                self.warn(format!("blscfg: {err}; the entry cannot boot"));
                let mut x = Entry::new(title);
                x.id = Some(e.id.clone());
                x.kind = EntryKind::Other;
                x.source = source;
                x.users = access.users;
                x.unrestricted = access.unrestricted;
                Item::Entry(x)
            }
        };
        if let Some(top) = self.menus.last_mut() {
            top.items.push(item);
        }
        Ok(())
    }

    fn pending(&self, s: &str) -> Pending {
        let (device, path) = split_device(s);
        Pending {
            device,
            path,
            root: self
                .env
                .value("root")
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        }
    }

    /// The recorder, or a warning that a loader ran outside a menu entry.
    fn in_body(&mut self, name: &str) -> bool {
        if self.rec.is_none() {
            self.warn(format!("`{name}` outside a menu entry is ignored"));
            return false;
        }
        true
    }

    fn linux(&mut self, name: &str, args: &[String]) -> R<Flow> {
        if !self.in_body(name) {
            return self.ok(true);
        }
        let Some((file, rest)) = args.split_first() else {
            self.warn(format!("`{name}`: filename expected"));
            return self.ok(false);
        };
        let kernel = self.pending(file);
        if let Some(rec) = self.rec.as_mut() {
            rec.kind = Some(EntryKind::Linux);
            rec.kernel = Some(kernel);
            rec.args = loader_cmdline(rest);
            rec.initrds.clear();
            rec.modules.clear();
        }
        self.ok(true)
    }

    fn initrd(&mut self, name: &str, args: &[String]) -> R<Flow> {
        if !self.in_body(name) {
            return self.ok(true);
        }
        if self.rec.as_ref().and_then(|r| r.kind) != Some(EntryKind::Linux) {
            self.warn(format!("`{name}` before a kernel was loaded; ignored"));
            return self.ok(false);
        }
        let files: Vec<Pending> = args
            .iter()
            .filter(|a| !a.starts_with("--"))
            .map(|a| self.pending(a))
            .collect();
        if files.is_empty() {
            return self.ok(false);
        }
        if let Some(rec) = self.rec.as_mut() {
            rec.initrds = files;
        }
        self.ok(true)
    }

    fn multiboot(&mut self, name: &str, args: &[String]) -> R<Flow> {
        if !self.in_body(name) {
            return self.ok(true);
        }
        let mut it = args.iter().skip_while(|a| a.starts_with("--"));
        let Some(file) = it.next() else {
            self.warn(format!("`{name}`: filename expected"));
            return self.ok(false);
        };
        let rest: Vec<String> = it.cloned().collect();
        let kernel = self.pending(file);
        if let Some(rec) = self.rec.as_mut() {
            rec.kind = Some(EntryKind::Multiboot);
            rec.kernel = Some(kernel);
            rec.args = loader_cmdline(&rest);
            rec.initrds.clear();
            rec.modules.clear();
        }
        self.ok(true)
    }

    fn module(&mut self, name: &str, args: &[String]) -> R<Flow> {
        if !self.in_body(name) {
            return self.ok(true);
        }
        if self.rec.as_ref().and_then(|r| r.kind) != Some(EntryKind::Multiboot) {
            self.warn(format!(
                "`{name}` before a multiboot kernel was loaded; ignored"
            ));
            return self.ok(false);
        }
        let mut it = args.iter().skip_while(|a| a.starts_with("--"));
        let Some(file) = it.next() else {
            return self.ok(false);
        };
        let rest: Vec<String> = it.cloned().collect();
        let m = self.pending(file);
        if let Some(rec) = self.rec.as_mut() {
            rec.modules.push((m, loader_cmdline(&rest)));
        }
        self.ok(true)
    }

    fn other_loader(&mut self, name: &str) -> R<Flow> {
        if let Some(rec) = self.rec.as_mut() {
            rec.kind = Some(EntryKind::Other);
            rec.kernel = None;
            rec.args.clear();
            rec.initrds.clear();
            rec.modules.clear();
        } else if !matches!(name, "reboot" | "halt") {
            self.warn(format!("`{name}` outside a menu entry is ignored"));
        }
        self.ok(true)
    }

    // ----- the whole script -----

    /// Run a `grub.cfg` (as [`crate::text::decode`]d, `#` lines blanked) and build its menu.
    /// A syntax error anywhere in it is an error.
    pub(crate) fn run(mut self, text: &str) -> R<Menu> {
        self.menus.push(Frame::default());
        let file = self.file.clone();
        let (flow, err) = self.exec_script(text, &file)?;
        if let Some(e) = err {
            return Err(e);
        }
        if flow == Flow::Exit {
            self.warn("`exit`: GRUB would leave the boot loader here; menu kept as built so far");
        }
        let frame = self.menus.pop().unwrap_or_default();
        let settings = match frame.result {
            Some(s) => s,
            None => Settings::capture(&self.env, true),
        };

        let mut menu = Menu::new(ConfigKind::Grub2);
        menu.items = frame.items;
        menu.timeout_tenths = settings
            .timeout
            .as_deref()
            .and_then(|t| grub_strtoul(t).ok())
            .map(|t| t.saturating_mul(10));
        // GRUB ignores `timeout_style` without a valid timeout (it would wait invisibly).
        menu.hidden = menu.timeout_tenths.is_some()
            && matches!(
                settings.timeout_style.as_deref(),
                Some("hidden" | "countdown")
            );
        if let Some(fb) = &settings.fallback {
            menu.fallback = split_fields(fb)
                .filter_map(|f| grub_find(&menu.items, f).ok().map(|(p, _)| p))
                .collect();
        }
        let (default, reason) = self.choose_default(&menu.items, &settings);
        menu.default = default;
        menu.default_reason = match &settings.from_file {
            Some(f) => format!("{reason} (menu of configfile {f})"),
            None => reason,
        };
        menu.superusers = settings
            .globals
            .iter()
            .find(|(k, _)| k == "superusers")
            .map(|(_, v)| auth_words(v));
        menu.globals = settings.globals;
        menu.passwords = self.passwords;
        menu.warnings = self.warnings;
        Ok(menu)
    }

    fn choose_default(&mut self, items: &[Item], s: &Settings) -> (Option<Vec<usize>>, String) {
        let first = first_entry(items);
        let Some(spec) = s.default.clone() else {
            return (first, "default not set: first entry".to_string());
        };
        let mut spec = spec;
        let mut via = String::new();
        if spec == "saved" && grub_find(items, "saved").is_err() {
            spec = self.env.value("saved_entry").unwrap_or("").to_string();
            via = " (default=saved)".to_string();
        }
        if spec.is_empty() {
            return (
                first,
                format!("default is empty{via} (no saved/next entry): first entry"),
            );
        }
        let origin = if self.grubenv.get("next_entry") == Some(&spec) {
            "next_entry"
        } else if self.grubenv.get("saved_entry") == Some(&spec) {
            "saved_entry"
        } else {
            ""
        };
        match grub_find(items, &spec) {
            Ok((path, how)) => {
                let reason = if origin.is_empty() {
                    format!("default=\"{spec}\"{via} ({how})")
                } else {
                    format!("{origin} \"{spec}\" from grubenv{via} ({how})")
                };
                (Some(path), reason)
            }
            Err(why) => {
                let shown: String = spec.chars().take(200).collect();
                self.warnings.push(format!(
                    "{}: default \"{shown}\" {why}; using the first entry",
                    self.file
                ));
                (first, format!("default \"{shown}\" {why}: first entry"))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strtoul_like_grub() {
        assert_eq!(grub_strtoul("12"), Ok(12));
        assert_eq!(grub_strtoul(" 0x1f"), Ok(31));
        assert_eq!(grub_strtoul("010"), Ok(8));
        assert_eq!(grub_strtoul("0"), Ok(0));
        assert_eq!(grub_strtoul("08"), Ok(8)); // `08` is decimal: 0 is not followed by 0-7
        assert_eq!(grub_strtoul("1>2"), Ok(1));
        assert_eq!(grub_strtoul("-1"), Err(false));
        assert_eq!(grub_strtoul("abc"), Err(false));
        assert_eq!(grub_strtoul(""), Err(false));
        assert_eq!(grub_strtoul("99999999999999999999999"), Err(true));
        assert_eq!(grub_strtosl("-5"), -5);
    }

    #[test]
    fn cmdline_quoting() {
        let a: Vec<String> = ["ro", "a b", r#"x"y"#, r"c:\d", "it's"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(loader_cmdline(&a), r#"ro "a b" x\"y c:\\d it\'s"#);
    }

    #[test]
    fn options() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let (o, p) = parse_opts(
            SEARCH_OPTS,
            &s(&[
                "--no-floppy",
                "--fs-uuid",
                "--set=root",
                "--hint",
                "hd0,msdos1",
                "U",
            ]),
        )
        .unwrap();
        assert_eq!(p, ["U"]);
        assert_eq!(opt_value(&o, "set"), Some("root"));
        assert_eq!(opt_value(&o, "hint"), Some("hd0,msdos1"));
        // `--set` followed by a non-option word takes it as the variable name.
        let (o, p) = parse_opts(SEARCH_OPTS, &s(&["-u", "--set", "boot", "U"])).unwrap();
        assert_eq!((opt_value(&o, "set"), p), (Some("boot"), s(&["U"])));
        let (o, _) = parse_opts(SEARCH_OPTS, &s(&["-nus", "-h", "x", "U"])).unwrap();
        assert!(has_opt(&o, "set") && opt_value(&o, "set").is_none());
        assert!(parse_opts(MENUENTRY_OPTS, &s(&["t", "--bogus"])).is_err());
        assert!(parse_opts(MENUENTRY_OPTS, &s(&["t", "--id"])).is_err());
        let (o, p) = parse_opts(MENUENTRY_OPTS, &s(&["t", "--class", "a", "--", "--x"])).unwrap();
        assert_eq!((opt_value(&o, "class"), p), (Some("a"), s(&["t", "--x"])));
    }

    #[test]
    fn envblk() {
        let mut blk =
            b"# GRUB Environment Block\nsaved_entry=a\\\\b\\=c\n# comment\nx=1\n".to_vec();
        blk.extend_from_slice(&[b'#'; 100]);
        let v = parse_envblk(&blk).unwrap();
        assert_eq!(
            v,
            vec![
                ("saved_entry".into(), r"a\b=c".into()),
                ("x".into(), "1".into())
            ]
        );
        assert!(parse_envblk(b"saved_entry=1\n").is_none());
        // Truncated value: ignored.
        assert_eq!(
            parse_envblk(b"# GRUB Environment Block\na=1").unwrap(),
            vec![]
        );
    }

    #[test]
    fn expand_val_like_blscfg() {
        let env = |n: &str| match n {
            "kk" => Some("A B".to_string()),
            "e" | "ee" => Some(String::new()),
            _ => None,
        };
        let x = |v: &str| expand_val(Some(v), &env);
        assert_eq!(x("$kk").as_deref(), Some("A B "));
        assert_eq!(x("$kk $tt").as_deref(), Some("A B "));
        assert_eq!(
            x("root=/dev/a $kk quiet").as_deref(),
            Some("root=/dev/a A B quiet")
        );
        assert_eq!(x("$ee").as_deref(), Some(" "));
        assert_eq!(x("\\$kk").as_deref(), Some("\\$kk"));
        assert_eq!(x("ab$kk").as_deref(), Some("abA B "));
        // blscfg's quirks: one-character pieces next to a variable are lost.
        assert_eq!(x("a$kk").as_deref(), Some("A B "));
        assert_eq!(x("$kk,").as_deref(), Some("A B "));
        assert_eq!(x("$e"), None);
        assert_eq!(x("x"), None);
        assert_eq!(x(""), None);
        assert_eq!(expand_val(None, &env), None);
        assert_eq!(x("$unset"), None);
        assert_eq!(x("ro"), Some("ro".to_string()));
    }

    #[test]
    fn pbkdf2_forms() {
        assert!(valid_pbkdf2("grub.pbkdf2.sha512.10000.0A1B.C2D3"));
        assert!(valid_pbkdf2("grub.pbkdf2.sha512.0x10.ab.cd"));
        assert!(!valid_pbkdf2("grub.pbkdf2.sha512.10000.0A1.C2D3"));
        assert!(!valid_pbkdf2("grub.pbkdf2.sha512.10000x.0A.C2"));
        assert!(!valid_pbkdf2("grub.pbkdf2.sha512.10000.0A.C2.D3"));
        assert!(!valid_pbkdf2("grub.pbkdf2.sha512."));
        assert!(!valid_pbkdf2("dummy"));
        assert_eq!(auth_words(" a,b;c|d&e  f "), ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(bls_index("2"), Some(2));
        assert_eq!(bls_index("9af7-5.18"), Some(9));
        assert_eq!(bls_index("m-1"), None);
        assert_eq!(bls_index("-0"), Some(0));
    }

    #[test]
    fn selectors() {
        assert_eq!(split_selector("a>>b>c"), ("a>b".to_string(), Some("c")));
        assert_eq!(split_selector("abc"), ("abc".to_string(), None));
        assert_eq!(
            split_device("(hd0,msdos1)/boot/x"),
            (Some("hd0,msdos1".into()), "/boot/x".into())
        );
        assert_eq!(split_device("()/x"), (None, "/x".into()));
        assert_eq!(split_device("/x"), (None, "/x".into()));
    }
}
