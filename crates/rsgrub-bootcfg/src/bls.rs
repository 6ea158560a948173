//! Boot Loader Specification (BLS) Type #1 entries: `/loader/entries/*.conf`.
//!
//! Two readers of the same files, which differ in small ways:
//!
//! - **systemd-boot** ([`parse_systemd_boot`], the UAPI.1 Boot Loader Specification):
//!   `/loader/loader.conf` (`default` glob, `timeout` in seconds or `menu-force` /
//!   `menu-hidden` / `menu-disabled`) and the entries. A line is `KEY VALUE`: leading and
//!   trailing blanks dropped, `#` lines and lines without a value skipped, a value wholly in
//!   double quotes unquoted; `title`, `version`, `machine-id`, `sort-key`, `linux` keep their
//!   last value, `initrd` may repeat (all are loaded, in order), `options` lines are joined by
//!   single spaces. An entry needs `linux` (or `efi`/`uki`, listed as not bootable here), and
//!   that file must exist (systemd-boot drops the entry otherwise); an `architecture`
//!   other than `x64` hides it. Paths are relative to the root of the partition holding
//!   `loader/` (to the directory holding `loader/` when that is not the volume root). Entries
//!   are sorted as the specification says: "bad" boot-counted entries (`NAME+0-N.conf`)
//!   last; entries with a `sort-key` first, by `sort-key`, then `machine-id` (increasing
//!   `strcmp` order), then `version` (decreasing [`uapi_vercmp`]); then all by file name
//!   without `.conf` (decreasing [`uapi_vercmp`]), then by boot counters. Titles that are not
//!   unique get ` (version)`, then ` (machine-id prefix)`, then ` (file name)` appended, as
//!   systemd-boot shows them. The default is the first entry (in that order) whose file name
//!   (lower-cased, with or without `.conf`) matches the `default` glob (`*`, `?`, `[...]`,
//!   case-insensitive); `@saved` and EFI variables cannot be read from a disk image, so they
//!   fall back to the first entry. The Linux command line is the options as written:
//!   systemd-boot's `initrd=` words for the EFI stub are not added.
//!
//! - **GRUB's `blscfg`** (Fedora / RHEL), used by the GRUB 2 interpreter: [`parse_entry_grub`]
//!   reads a file as `grub-core/commands/blscfg.c` does (a blank line, or a key without a
//!   value, ends the file; the key ends at the first space, or tab if there is none), and
//!   [`grub_bls_cmp`] orders entries as it does (its rpm-style [`rpm_vercmp`] of the file
//!   names split into name-version-release at the last two `-`).
//!
//! Bounds: at most [`MAX_BLS_ENTRIES`] entry files are read (the names beyond are skipped
//! with a warning), each at most [`MAX_BLS_ENTRY_BYTES`].

use std::cmp::Ordering;

use crate::model::{ConfigKind, Entry, EntryKind, FileRef, FileSource, Item, Menu};
use crate::text::{check_size, decode, dirname};
use crate::ParseError;

/// Most entry files read from one directory.
pub const MAX_BLS_ENTRIES: usize = 1000;
/// Largest entry file read (real ones are well under 1 KiB).
pub const MAX_BLS_ENTRY_BYTES: usize = 16 << 10;
/// Most warnings kept.
const MAX_WARNINGS: usize = 1000;

/// One entry file, as key-value pairs in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlsEntry {
    /// The file name as listed (`6a98...-6.1.0.fc38.x86_64.conf`).
    pub file: String,
    /// The file name without `.conf` (and, for systemd-boot, without a boot counter).
    pub id: String,
    /// `(key, value)` in file order.
    pub keys: Vec<(String, String)>,
    /// systemd-boot boot counting (`NAME+LEFT[-DONE].conf`): tries left, tries done.
    pub tries: Option<(u64, u64)>,
}

impl BlsEntry {
    /// The first value of a key.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// The last value of a key.
    pub fn last(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of a key, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.keys
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Whether a directory entry name is an entry file for GRUB's `blscfg`: not starting with
/// `.`, longer than `.conf`, ending in `.conf`.
pub(crate) fn grub_wants(name: &str) -> bool {
    !name.starts_with('.') && name.len() > 5 && name.ends_with(".conf")
}

/// Whether a directory entry name is an entry file for systemd-boot: not starting with `.`,
/// ending in `.conf` (any case), not starting with `auto-` (any case).
pub(crate) fn sdboot_wants(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.is_empty()
        && !name.starts_with('.')
        && lower.ends_with(".conf")
        && !lower.starts_with("auto-")
}

/// Parse an entry file as GRUB's `blscfg` does (`read_entry`): per line, carriage returns
/// dropped, leading blanks skipped, `#` lines skipped; the key ends at the first space (or,
/// if the line has none, the first tab) and the value starts after the blanks that follow
/// it. A line with no separator, or with nothing after it — a blank line too — ends the
/// file. `file` is the directory entry name; the id is it without `.conf`.
pub fn parse_entry_grub(file: &str, data: &[u8]) -> BlsEntry {
    let text = decode(data);
    let mut keys = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_start_matches([' ', '\t']);
        if line.starts_with('#') {
            continue;
        }
        let sep = line.find(' ').or_else(|| line.find('\t'));
        let Some(sep) = sep else { break };
        let key = line.get(..sep).unwrap_or("");
        let rest = line.get(sep + 1..).unwrap_or("");
        if rest.is_empty() {
            break;
        }
        let value = rest.trim_start_matches([' ', '\t']);
        keys.push((key.to_string(), value.to_string()));
    }
    BlsEntry {
        file: file.to_string(),
        id: file.strip_suffix(".conf").unwrap_or(file).to_string(),
        keys,
        tries: None,
    }
}

/// Parse an entry (or `loader.conf`) as systemd-boot does (`line_get_key_value`): lines end at
/// `\n` or `\r`; leading and trailing blanks are dropped; empty and `#` lines skipped; the
/// key ends at the first blank; a line with no value is skipped; a value that starts and ends
/// with `"` loses them. The text ends at a NUL.
pub fn parse_entry_spec(file: &str, data: &[u8]) -> BlsEntry {
    let data = data.split(|&b| b == 0).next().unwrap_or(&[]);
    let text = String::from_utf8_lossy(data);
    let mut keys = Vec::new();
    for line in text.split(['\n', '\r']) {
        let line = line.trim_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(sep) = line.find([' ', '\t']) else {
            continue;
        };
        let key = line.get(..sep).unwrap_or("");
        let mut value = line
            .get(sep + 1..)
            .unwrap_or("")
            .trim_start_matches([' ', '\t']);
        if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
            value = value.get(1..value.len() - 1).unwrap_or("");
        } else if value == "\"" {
            // systemd-boot's check sees the same quote at both ends and leaves nothing.
            value = "";
        }
        keys.push((key.to_string(), value.to_string()));
    }
    let (id, tries) = split_boot_counter(file);
    BlsEntry {
        file: file.to_string(),
        id,
        keys,
        tries,
    }
}

/// `NAME+LEFT[-DONE].conf` → (`NAME`, `Some((LEFT, DONE))`); otherwise the name without its
/// `.conf` (any case) and `None` (systemd-boot's `boot_entry_parse_tries`).
fn split_boot_counter(file: &str) -> (String, Option<(u64, u64)>) {
    let stem_len = if file.to_ascii_lowercase().ends_with(".conf") {
        file.len().saturating_sub(5)
    } else {
        file.len()
    };
    let stem = file.get(..stem_len).unwrap_or(file);
    if let Some(plus) = file.rfind('+') {
        let counter = file.get(plus + 1..).unwrap_or("");
        let digits = |s: &str| -> Option<(u64, usize)> {
            let n = s.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            let v = s.get(..n)?.parse::<u64>().ok()?;
            (v <= i32::MAX as u64).then_some((v, n))
        };
        if let Some((left, n)) = digits(counter) {
            let mut rest = counter.get(n..).unwrap_or("");
            let mut done = 0;
            let mut ok = true;
            if let Some(r) = rest.strip_prefix('-') {
                match digits(r) {
                    Some((d, m)) => {
                        done = d;
                        rest = r.get(m..).unwrap_or("");
                    }
                    None => ok = false,
                }
            }
            if ok && rest.eq_ignore_ascii_case(".conf") {
                let name = file.get(..plus).unwrap_or("");
                return (name.to_string(), Some((left, done)));
            }
        }
    }
    (stem.to_string(), None)
}

/// The version comparison of GRUB's `blscfg` (rpm's `rpmvercmp`, as in rhboot's grub2): the
/// strings are compared segment by segment, a segment being a run of digits (compared as a
/// number, leading zeros ignored) or of letters (compared as bytes); other characters only
/// separate segments, except `~`, which sorts before anything (even the end), and `+`, which
/// sorts after the end of a string but before any segment. A numeric segment is newer
/// than an alphabetic one. `Greater` = `a` is newer.
pub fn rpm_vercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let at = |s: &[u8], k: usize| s.get(k).copied().unwrap_or(0);
    let sep = |c: u8| c != 0 && !c.is_ascii_alphanumeric() && c != b'~' && c != b'+';
    while at(a, i) != 0 || at(b, j) != 0 {
        while sep(at(a, i)) {
            i += 1;
        }
        while sep(at(b, j)) {
            j += 1;
        }
        let (ca, cb) = (at(a, i), at(b, j));
        if ca == b'~' || cb == b'~' {
            if ca != b'~' {
                return Ordering::Greater;
            }
            if cb != b'~' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == b'+' || cb == b'+' {
            if ca == 0 {
                return Ordering::Less;
            }
            if cb == 0 {
                return Ordering::Greater;
            }
            if ca != b'+' {
                return Ordering::Greater;
            }
            if cb != b'+' {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if ca == 0 || cb == 0 {
            break;
        }
        let isnum = ca.is_ascii_digit();
        let class = |c: u8| {
            if isnum {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let (mut ei, mut ej) = (i, j);
        while class(at(a, ei)) {
            ei += 1;
        }
        while class(at(b, ej)) {
            ej += 1;
        }
        if ej == j {
            // Different kinds of segment: numeric is newer.
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (mut si, mut sj) = (i, j);
        if isnum {
            while si < ei && at(a, si) == b'0' {
                si += 1;
            }
            while sj < ej && at(b, sj) == b'0' {
                sj += 1;
            }
            match (ei - si).cmp(&(ej - sj)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        let sa = a.get(si..ei).unwrap_or(&[]);
        let sb = b.get(sj..ej).unwrap_or(&[]);
        match sa.cmp(sb) {
            Ordering::Equal => {}
            o => return o,
        }
        i = ei;
        j = ej;
    }
    match (at(a, i) == 0, at(b, j) == 0) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// rhboot's `split_package_string`: `name-version-release` at the last two `-` (with
/// `has_name`), or `version-release` at the last one.
fn split_nvr(s: &str, has_name: bool) -> (Option<&str>, Option<&str>, Option<&str>) {
    let (rest, mut release) = match s.rfind('-') {
        Some(k) => (s.get(..k).unwrap_or(""), s.get(k + 1..)),
        None => (s, None),
    };
    let (name, mut version) = if has_name {
        match rest.rfind('-') {
            Some(k) => (Some(rest.get(..k).unwrap_or("")), rest.get(k + 1..)),
            None => (Some(rest), None),
        }
    } else {
        (None, Some(rest))
    };
    if version.is_none() {
        version = release.take();
    }
    (name, version, release)
}

/// How GRUB's `blscfg` orders two entry ids (file names without `.conf`): split into
/// name-version-release, then [`rpm_vercmp`] of the names, versions and releases in turn.
/// `Greater` = `a` is newer (listed first); `Equal` entries are duplicates (`blscfg` drops
/// the later one).
pub fn grub_bls_cmp(a: &str, b: &str) -> Ordering {
    let (na, va, ra) = split_nvr(a, true);
    let (nb, vb, rb) = split_nvr(b, true);
    rpm_vercmp(na.unwrap_or(""), nb.unwrap_or(""))
        .then_with(|| rpm_vercmp(va.unwrap_or(""), vb.unwrap_or("")))
        .then_with(|| rpm_vercmp(ra.unwrap_or(""), rb.unwrap_or("")))
}

/// The UAPI.10 version comparison (systemd's `strverscmp_improved`), used by the Boot
/// Loader Specification: characters other than ASCII letters, digits and `~ - ^ .` are
/// skipped; `~` sorts lowest (even below the end of the string); then the longer string is
/// newer; `-`, then `^`, then `.` prefixes sort below a segment without one; numeric segments
/// compare as numbers and are newer than alphabetic ones; letters compare by byte (`B < a`).
/// `Greater` = `a` is newer.
pub fn uapi_vercmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let at = |s: &[u8], k: usize| s.get(k).copied().unwrap_or(0);
    let valid = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'~' | b'-' | b'^' | b'.');
    // `CMP(x != c, y != c)`: the one carrying the prefix is older.
    let prefix = |ca: u8, cb: u8, c: u8| (ca != c).cmp(&(cb != c));
    loop {
        while at(a, i) != 0 && !valid(at(a, i)) {
            i += 1;
        }
        while at(b, j) != 0 && !valid(at(b, j)) {
            j += 1;
        }
        let (ca, cb) = (at(a, i), at(b, j));
        if ca == b'~' || cb == b'~' {
            match prefix(ca, cb, b'~') {
                Ordering::Equal => {}
                o => return o,
            }
            i += 1;
            j += 1;
        }
        let (ca, cb) = (at(a, i), at(b, j));
        if ca == 0 || cb == 0 {
            return ca.cmp(&cb);
        }
        for c in [b'-', b'^', b'.'] {
            let (ca, cb) = (at(a, i), at(b, j));
            if ca == c || cb == c {
                match prefix(ca, cb, c) {
                    Ordering::Equal => {}
                    o => return o,
                }
                i += 1;
                j += 1;
            }
        }
        let (ca, cb) = (at(a, i), at(b, j));
        let (mut ei, mut ej) = (i, j);
        if ca.is_ascii_digit() || cb.is_ascii_digit() {
            while at(a, ei).is_ascii_digit() {
                ei += 1;
            }
            while at(b, ej).is_ascii_digit() {
                ej += 1;
            }
            match (ei != i).cmp(&(ej != j)) {
                Ordering::Equal => {}
                o => return o,
            }
            while at(a, i) == b'0' {
                i += 1;
            }
            while at(b, j) == b'0' {
                j += 1;
            }
            // `i`/`j` may now be past `ei`/`ej` only if they were equal (all zeros).
            let la = ei.saturating_sub(i);
            let lb = ej.saturating_sub(j);
            match la.cmp(&lb) {
                Ordering::Equal => {}
                o => return o,
            }
            let sa = a.get(i..i + la).unwrap_or(&[]);
            let sb = b.get(j..j + lb).unwrap_or(&[]);
            match sa.cmp(sb) {
                Ordering::Equal => {}
                o => return o,
            }
        } else {
            while at(a, ei).is_ascii_alphabetic() {
                ei += 1;
            }
            while at(b, ej).is_ascii_alphabetic() {
                ej += 1;
            }
            let n = (ei - i).min(ej - j);
            let sa = a.get(i..i + n).unwrap_or(&[]);
            let sb = b.get(j..j + n).unwrap_or(&[]);
            match sa.cmp(sb) {
                Ordering::Equal => {}
                o => return o,
            }
            match (ei - i).cmp(&(ej - j)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        i = ei;
        j = ej;
    }
}

/// The Boot Loader Specification's order of two entries (`Less` = `a` is listed first).
pub fn spec_cmp(a: &BlsEntry, b: &BlsEntry) -> Ordering {
    let bad = |e: &BlsEntry| matches!(e.tries, Some((0, _)));
    // Unset or empty compares lower (`strcmp` with the spec's rule for missing strings).
    let text_cmp = |x: Option<&str>, y: Option<&str>| {
        let x = x.filter(|s| !s.is_empty());
        let y = y.filter(|s| !s.is_empty());
        x.cmp(&y)
    };
    bad(a)
        .cmp(&bad(b))
        .then_with(|| {
            let (ka, kb) = (a.last("sort-key"), b.last("sort-key"));
            match (ka, kb) {
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
                (Some(x), Some(y)) => x
                    .as_bytes()
                    .cmp(y.as_bytes())
                    .then_with(|| text_cmp(a.last("machine-id"), b.last("machine-id")))
                    .then_with(|| {
                        uapi_vercmp(
                            a.last("version").unwrap_or(""),
                            b.last("version").unwrap_or(""),
                        )
                        .reverse()
                    }),
            }
        })
        .then_with(|| uapi_vercmp(&a.id, &b.id).reverse())
        .then_with(|| match (a.tries, b.tries) {
            // More tries left first; then fewer done.
            (Some((la, da)), Some((lb, db))) => lb.cmp(&la).then(da.cmp(&db)),
            _ => Ordering::Equal,
        })
}

/// Glob match as systemd-boot's `efi_fnmatch`: `*` any run, `?` one character, `[...]` a
/// set (`!` or `^` negates, `a-z` ranges), `\` quotes the next character. Bounded:
/// O(pattern × text) steps.
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic backtracking over the last `*` only: linear in practice, quadratic at worst.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    let mut steps: u64 = 0;
    let limit = (p.len() as u64 + 1)
        .saturating_mul(t.len() as u64 + 1)
        .saturating_mul(4);
    loop {
        steps += 1;
        if steps > limit {
            return false;
        }
        if pi < p.len() {
            let pc = p.get(pi).copied().unwrap_or('\0');
            if pc == '*' {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            if let Some(&tc) = t.get(ti) {
                if let Some(len) = match_one(&p, pi, tc) {
                    pi += len;
                    ti += 1;
                    continue;
                }
            }
        } else if ti == t.len() {
            return true;
        }
        match star {
            Some((sp, st)) if st < t.len() => {
                star = Some((sp, st + 1));
                pi = sp + 1;
                ti = st + 1;
            }
            _ => return false,
        }
    }
}

/// Whether the pattern element at `p[i]` (not `*`) matches `c`; its length in the pattern.
fn match_one(p: &[char], i: usize, c: char) -> Option<usize> {
    match p.get(i)? {
        '?' => Some(1),
        '\\' => match p.get(i + 1) {
            Some(&q) if q == c => Some(2),
            Some(_) => None,
            None => (c == '\\').then_some(1),
        },
        '[' => {
            let mut k = i + 1;
            let negate = matches!(p.get(k), Some('!' | '^'));
            if negate {
                k += 1;
            }
            let mut matched = false;
            let mut first = true;
            loop {
                let &pc = p.get(k)?; // unterminated: no match
                if pc == ']' && !first {
                    break;
                }
                first = false;
                if p.get(k + 1) == Some(&'-') && p.get(k + 2).is_some_and(|&e| e != ']') {
                    let hi = *p.get(k + 2)?;
                    if pc <= c && c <= hi {
                        matched = true;
                    }
                    k += 3;
                } else {
                    if pc == c {
                        matched = true;
                    }
                    k += 1;
                }
            }
            (matched != negate).then_some(k + 1 - i)
        }
        &pc => (pc == c).then_some(1),
    }
}

/// Read up to [`MAX_BLS_ENTRIES`] entry files named by `names` (already filtered) in `dir`.
pub(crate) fn read_entries(
    src: &mut dyn FileSource,
    dev: Option<&str>,
    dir: &str,
    names: &[String],
    grub: bool,
    warnings: &mut Vec<String>,
) -> (Vec<BlsEntry>, u64) {
    let mut out = Vec::new();
    let mut read = 0u64;
    for (n, name) in names.iter().enumerate() {
        if n >= MAX_BLS_ENTRIES {
            push_warning(
                warnings,
                format!("{dir}: more than {MAX_BLS_ENTRIES} entry files; the rest are skipped"),
            );
            break;
        }
        let path = format!("{}/{name}", dir.trim_end_matches('/'));
        let Some(data) = src.read_file(dev, &path, MAX_BLS_ENTRY_BYTES + 1) else {
            push_warning(warnings, format!("{path}: cannot be read; skipped"));
            continue;
        };
        read = read.saturating_add(data.len() as u64);
        if data.len() > MAX_BLS_ENTRY_BYTES {
            push_warning(
                warnings,
                format!("{path}: larger than {MAX_BLS_ENTRY_BYTES} bytes; skipped"),
            );
            continue;
        }
        out.push(if grub {
            parse_entry_grub(name, &data)
        } else {
            parse_entry_spec(name, &data)
        });
    }
    (out, read)
}

fn push_warning(w: &mut Vec<String>, msg: String) {
    if w.len() < MAX_WARNINGS {
        w.push(msg);
    }
}

/// `base` + `p` where `base` is the directory holding `loader/` ("" for the volume root):
/// BLS paths are relative to the partition root whether or not they start with `/`.
fn bls_path(base: &str, p: &str) -> String {
    let p = p.trim_start_matches('/');
    format!("{}/{p}", base.trim_end_matches('/'))
}

/// systemd-boot's timeout setting: `Some(Some(seconds))`, `Some(None)` for `menu-force`,
/// or a value that hides the menu; `None` if invalid.
enum Timeout {
    Seconds(u64),
    Force,
    Hidden,
}

fn parse_timeout(v: &str) -> Option<Timeout> {
    match v {
        "menu-force" => Some(Timeout::Force),
        "menu-hidden" | "menu-disabled" => Some(Timeout::Hidden),
        _ if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) => {
            // systemd-boot caps timeouts just below u32::MAX seconds.
            let n = v.parse::<u64>().unwrap_or(u64::MAX);
            (n < u64::from(u32::MAX) - 2).then_some(Timeout::Seconds(n))
        }
        _ => None,
    }
}

/// Parse systemd-boot's `loader.conf` at `path` (normally `/loader/loader.conf`; the entries
/// are read from `loader/entries/` beside it through [`FileSource::list_dir`]). See the
/// module documentation for the semantics. An empty `loader_conf` is valid (no settings).
pub fn parse_systemd_boot(
    loader_conf: &[u8],
    path: &str,
    src: &mut dyn FileSource,
) -> Result<Menu, ParseError> {
    check_size(loader_conf, path)?;
    let mut warnings = Vec::new();
    let conf = parse_entry_spec("loader.conf", loader_conf);
    let loader_dir = dirname(path).to_string();
    // The directory holding `loader/` (the partition root in a normal layout).
    let base = dirname(&loader_dir).to_string();
    let entries_dir = format!("{loader_dir}/entries");

    let mut timeout = Timeout::Seconds(0);
    let mut default: Option<String> = None;
    for (k, v) in &conf.keys {
        match k.as_str() {
            "timeout" => match parse_timeout(v) {
                Some(t) => timeout = t,
                None => push_warning(&mut warnings, format!("{path}: bad timeout `{v}`; ignored")),
            },
            "default" => {
                if v.starts_with('@') && !v.eq_ignore_ascii_case("@saved") {
                    push_warning(
                        &mut warnings,
                        format!("{path}: unsupported default `{v}`; ignored"),
                    );
                } else {
                    default = Some(v.to_ascii_lowercase());
                }
            }
            "console-mode"
            | "editor"
            | "auto-entries"
            | "auto-firmware"
            | "auto-poweroff"
            | "auto-reboot"
            | "beep"
            | "reboot-for-bitlocker"
            | "reboot-on-error"
            | "secure-boot-enroll"
            | "secure-boot-enroll-action"
            | "secure-boot-enroll-timeout-sec"
            | "log-level"
            | "random-seed-mode" => {}
            _ => {
                let shown: String = k.chars().take(64).collect();
                push_warning(
                    &mut warnings,
                    format!("{path}: unknown setting `{shown}`; ignored"),
                );
            }
        }
    }

    let mut names: Vec<String> = src
        .list_dir(None, &entries_dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|n| sdboot_wants(n))
        .collect();
    names.sort();
    names.dedup();
    let (mut entries, _) = read_entries(src, None, &entries_dir, &names, false, &mut warnings);

    // Drop what systemd-boot drops.
    let mut kept: Vec<(BlsEntry, EntryKind)> = Vec::new();
    for e in entries.drain(..) {
        let mut kind = None;
        let mut bad = false;
        for (k, _) in &e.keys {
            let this = match k.as_str() {
                "linux" => EntryKind::Linux,
                "efi" | "uki" | "uki-url" => EntryKind::Other,
                _ => continue,
            };
            match kind {
                None => kind = Some((k.clone(), this)),
                Some((ref prev, _)) if prev == k => {}
                Some(_) => bad = true,
            }
        }
        let Some((_, kind)) = kind.filter(|_| !bad) else {
            push_warning(
                &mut warnings,
                format!(
                    "{entries_dir}/{}: no usable `linux` / `efi` / `uki` key; skipped",
                    e.file
                ),
            );
            continue;
        };
        if let Some(arch) = e.last("architecture") {
            if !arch.eq_ignore_ascii_case("x64") {
                push_warning(
                    &mut warnings,
                    format!(
                        "{entries_dir}/{}: architecture `{arch}` is not x64; hidden",
                        e.file
                    ),
                );
                continue;
            }
        }
        // systemd-boot checks that the file it would load exists (`uki-url` names none).
        let loader = ["linux", "efi", "uki"].iter().find_map(|k| e.last(k));
        if let Some(file) = loader {
            if !src.exists(None, &bls_path(&base, file)) {
                push_warning(
                    &mut warnings,
                    format!(
                        "{entries_dir}/{}: `{file}` does not exist; skipped (as systemd-boot does)",
                        e.file
                    ),
                );
                continue;
            }
        }
        kept.push((e, kind));
    }
    kept.sort_by(|a, b| spec_cmp(&a.0, &b.0));

    // Titles as systemd-boot shows them.
    let mut titles: Vec<String> = kept
        .iter()
        .map(|(e, _)| {
            e.last("title")
                .map_or_else(|| e.file.clone(), str::to_string)
        })
        .collect();
    for round in 0..3 {
        let dup: Vec<bool> = (0..titles.len())
            .map(|i| {
                titles
                    .iter()
                    .enumerate()
                    .any(|(j, t)| j != i && Some(t) == titles.get(i))
            })
            .collect();
        if !dup.contains(&true) {
            break;
        }
        for (i, (e, _)) in kept.iter().enumerate() {
            if !dup.get(i).copied().unwrap_or(false) {
                continue;
            }
            let extra = match round {
                0 => e.last("version").map(str::to_string),
                1 => e
                    .last("machine-id")
                    .map(|m| m.chars().take(8).collect::<String>()),
                _ => Some(e.file.clone()),
            };
            if let (Some(x), Some(t)) = (extra, titles.get_mut(i)) {
                *t = format!("{t} ({x})");
            }
        }
    }

    let mut menu = Menu::new(ConfigKind::Bls);
    for ((e, kind), title) in kept.iter().zip(titles) {
        let mut entry = Entry::new(title);
        entry.id = Some(e.id.clone());
        entry.kind = *kind;
        if *kind == EntryKind::Linux {
            entry.kernel = e.last("linux").map(|l| FileRef {
                device: None,
                path: bls_path(&base, l),
            });
            entry.initrds = e
                .all("initrd")
                .map(|i| FileRef {
                    device: None,
                    path: bls_path(&base, i),
                })
                .collect();
            entry.args = e.all("options").collect::<Vec<_>>().join(" ");
        }
        menu.items.push(Item::Entry(entry));
    }
    crate::model::fill_source(&mut menu.items);

    let n = menu.items.len();
    let found = default.as_deref().and_then(|pat| {
        if pat == "@saved" {
            return None;
        }
        kept.iter().position(|(e, _)| {
            let id = e.id.to_ascii_lowercase();
            fnmatch(pat, &format!("{id}.conf")) || fnmatch(pat, &id)
        })
    });
    (menu.default, menu.default_reason) = match (found, &default) {
        (Some(i), Some(p)) => (Some(vec![i]), format!("default \"{p}\" in loader.conf")),
        (None, Some(p)) if n > 0 => {
            if p != "@saved" {
                push_warning(
                    &mut warnings,
                    format!("{path}: default \"{p}\" matches no entry; using the first entry"),
                );
            }
            (
                Some(vec![0]),
                format!("default \"{p}\" matches no entry: first entry"),
            )
        }
        _ if n > 0 => (Some(vec![0]), "no default: first entry".to_string()),
        _ => (None, "no entries".to_string()),
    };
    match timeout {
        Timeout::Seconds(s) => {
            menu.timeout_tenths = Some(s.saturating_mul(10));
            menu.hidden = s == 0;
        }
        Timeout::Force => menu.timeout_tenths = None,
        Timeout::Hidden => {
            menu.timeout_tenths = Some(0);
            menu.hidden = true;
        }
    }
    if n == 0 {
        // systemd-boot shows its menu when it has nothing to boot.
        menu.hidden = false;
    }
    menu.warnings = warnings;
    Ok(menu)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn uapi_examples() {
        // The examples of the Version Format Specification.
        for (a, b, o) in [
            ("11", "11", Equal),
            ("systemd-123", "systemd-123", Equal),
            ("bar-123", "foo-123", Less),
            ("123a", "123", Greater),
            ("123.a", "123", Greater),
            ("123.a", "123.b", Less),
            ("123a", "123.a", Greater),
            ("11α", "11β", Equal),
            ("B", "a", Less),
            ("", "0", Less),
            ("0.", "0", Greater),
            ("0.0", "0", Greater),
            ("0", "~", Greater),
            ("", "~", Greater),
            ("1_", "1", Equal),
            ("_1", "1", Equal),
            ("1_", "1.2", Less),
            ("1_2_3", "1.3.3", Greater),
            ("1+", "1", Equal),
            ("+1", "1", Equal),
            ("1+", "1.2", Less),
            ("1+2+3", "1.3.3", Greater),
        ] {
            assert_eq!(uapi_vercmp(a, b), o, "{a} vs {b}");
            assert_eq!(uapi_vercmp(b, a), o.reverse(), "{b} vs {a}");
        }
        let chain = [
            "122.1",
            "123~rc1-1",
            "123",
            "123-a",
            "123-a.1",
            "123-1",
            "123-1.1",
            "123^post1",
            "123.a-1",
            "123.1-1",
            "123a-1",
            "124-1",
        ];
        for (i, a) in chain.iter().enumerate() {
            for (j, b) in chain.iter().enumerate() {
                assert_eq!(uapi_vercmp(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn rpm_rules() {
        // rpmvercmp's documented behaviour.
        for (a, b, o) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("5.18.0", "0", Greater),
            ("10", "9", Greater),
            ("1.0010", "1.9", Greater),
            ("1.05", "1.5", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0a", "1.0", Greater),
            ("1.0", "1.0a", Less),
            ("1.a", "1.1", Less),
            ("1_0", "1.0", Equal),
            ("1.0+1", "1.0", Greater),
            ("1.0+1", "1.0.1", Less),
            ("a", "b", Less),
        ] {
            assert_eq!(rpm_vercmp(a, b), o, "{a} vs {b}");
        }
        assert_eq!(
            split_nvr("9af7b02ac08149d985841c07c8ff366e-0-rescue", true),
            (
                Some("9af7b02ac08149d985841c07c8ff366e"),
                Some("0"),
                Some("rescue")
            )
        );
        assert_eq!(
            split_nvr("m-5.18.0", true),
            (Some("m"), Some("5.18.0"), None)
        );
        assert_eq!(split_nvr("plain", true), (Some("plain"), None, None));
        assert_eq!(grub_bls_cmp("m-5.18.0", "m-0-rescue"), Greater);
        assert_eq!(grub_bls_cmp("m-6.1.0-1.fc38", "m-6.1.0-2.fc38"), Less);
        assert_eq!(grub_bls_cmp("m-6.10.0-1.fc38", "m-6.9.0-1.fc38"), Greater);
    }

    #[test]
    fn globs() {
        assert!(fnmatch(
            "de83*",
            "de8380606ce44a2dabad127eb049acbe-0-rescue.conf"
        ));
        assert!(fnmatch("*rescue*", "x-0-rescue.conf"));
        assert!(!fnmatch("*rescue", "x-0-rescue.conf"));
        assert!(fnmatch("a?c", "abc"));
        assert!(fnmatch("[a-c]x", "bx"));
        assert!(!fnmatch("[!a-c]x", "bx"));
        assert!(fnmatch("\\*", "*"));
        assert!(!fnmatch("\\*", "a"));
        assert!(!fnmatch("[ab", "a"));
        assert!(fnmatch("", ""));
        assert!(!fnmatch("", "a"));
        assert!(fnmatch("**", ""));
        // Pathological pattern: bounded work.
        let long = "a".repeat(3000);
        assert!(!fnmatch(&"*a".repeat(100), &(long + "b")));
    }

    #[test]
    fn line_rules() {
        let g = parse_entry_grub(
            "x.conf",
            b"  title  My  OS \n#c\noptions\ta b\nlinux\t/k\n\ninitrd /late\n",
        );
        assert_eq!(
            g.keys,
            vec![
                ("title".into(), "My  OS ".into()),
                // No space on the line: the tab separates.
                ("options\ta".into(), "b".into()),
                ("linux".into(), "/k".into()),
            ]
        );
        assert_eq!(g.id, "x");
        let s = parse_entry_spec(
            "X+2-1.CONF",
            b"  title  \"My OS\" \r\n#c\nlonely\noptions\ta b\r\n\nlinux /k\0linux /ignored",
        );
        assert_eq!(
            s.keys,
            vec![
                ("title".into(), "My OS".into()),
                ("options".into(), "a b".into()),
                ("linux".into(), "/k".into()),
            ]
        );
        assert_eq!((s.id.as_str(), s.tries), ("X", Some((2, 1))));
        assert_eq!(split_boot_counter("a+3.conf"), ("a".into(), Some((3, 0))));
        assert_eq!(split_boot_counter("a+x.conf"), ("a+x".into(), None));
        assert_eq!(split_boot_counter("a+1-.conf"), ("a+1-".into(), None));
        assert_eq!(split_boot_counter("a+1b.conf"), ("a+1b".into(), None));
    }
}
