//! The menu tree every config language produces, and the callback through which parsers see
//! the guest's files. Nothing here does I/O.

/// A file reference as a config names it: an optional GRUB device and a path on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// GRUB device without parentheses (`hd0,msdos1`, `hd0,gpt2`, `lvm/vg-root`), or `None` for
    /// "the device `$root` named when the command ran" / the config's own volume.
    pub device: Option<String>,
    /// Absolute path on that device (`/boot/vmlinuz-6.1.0-13-amd64`).
    pub path: String,
}

impl std::fmt::Display for FileRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.device {
            Some(d) => write!(f, "({d}){}", self.path),
            None => write!(f, "{}", self.path),
        }
    }
}

/// A module loaded by a multiboot kernel (GRUB 2 `module`/`module2`, GRUB legacy `module`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module file.
    pub file: FileRef,
    /// Its command line: the words after the file name, as the config wrote them. GRUB 2
    /// configs made by `grub-mkconfig` start it with the word `placeholder`, which Xen drops
    /// as the (multiboot 1) module name.
    pub args: String,
}

/// What booting an entry would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A Linux-style kernel (+ initrds + command line): what a Xen PV/PVH guest boots.
    Linux,
    /// A hypervisor entry (`multiboot`/`module`, `kernel xen.gz`, `mboot.c32`): listed but
    /// not bootable as a PV kernel, unless a kernel could be taken from its modules.
    Multiboot,
    /// Chainloader, EFI application, memtest, ...: not bootable here.
    Other,
}

/// One bootable (or at least listable) entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Title as shown in the menu.
    pub title: String,
    /// `--id` (GRUB 2) or label (syslinux), used by `default=`.
    pub id: Option<String>,
    /// Kind of entry.
    pub kind: EntryKind,
    /// Kernel to extract.
    pub kernel: Option<FileRef>,
    /// Initrds, in order (GRUB concatenates them).
    pub initrds: Vec<FileRef>,
    /// Kernel command line (without the kernel path).
    pub args: String,
    /// `$root` / `root (hdX,Y)` in effect for the entry, as a GRUB device name.
    pub root: Option<String>,
    /// For [`EntryKind::Multiboot`]: the modules in load order (`kernel` is then the
    /// hypervisor and `args` its command line). Empty otherwise.
    pub modules: Vec<Module>,
    /// The entry's commands as GRUB 2's menu editor (`e`) shows them, one line each;
    /// [`crate::eval_entry_commands`] runs an edited copy. For a GRUB 2
    /// `menuentry` this is GRUB's stored source: a first line `setparams 'TITLE' ...` (GRUB
    /// prefixes every block entry with it, so `$1`.. are the title and extra arguments),
    /// then the body between the braces (indentation and trailing blanks removed, leading
    /// and trailing blank lines dropped; GRUB shows them as written). For
    /// `blscfg` entries it is the script `blscfg` generates (`load_video`, `set
    /// gfxpayload=keep`, `insmod gzio`, `linux ($root)PATH OPTIONS`, `initrd ($root)A
    /// ($root)B`). Other languages get synthesized GRUB 2 lines (`set root=...`,
    /// `linux PATH ARGS`, `initrd A B`, or `multiboot`/`module`); empty for entries that
    /// cannot be expressed so.
    pub source: Vec<String>,
    /// GRUB 2 `--users`: the users (besides `superusers`) allowed to boot the entry; `None`
    /// without `--users`. A `blscfg` entry gets its `grub_users` here.
    pub users: Option<Vec<String>>,
    /// GRUB 2 `--unrestricted`: anyone may boot the entry. How GRUB decides, when
    /// [`Menu::superusers`] is set: `unrestricted` (and no `--users`) → no password;
    /// `users` set → one of those users or a superuser; neither → superusers only. With no
    /// superusers, nothing is restricted. `blscfg` entries without `grub_users` are
    /// unrestricted (GRUB registers them with no user list). Always `false` (and `users`
    /// `None`) for the other languages, which have no per-entry users.
    pub unrestricted: bool,
    /// GRUB legacy `lock`: with a global `password`, the entry boots only after the password
    /// has been given (GRUB stops the entry at `lock` otherwise).
    pub locked: bool,
}

impl Entry {
    /// A new empty Linux entry with a title.
    pub fn new(title: impl Into<String>) -> Self {
        Entry {
            title: title.into(),
            id: None,
            kind: EntryKind::Linux,
            kernel: None,
            initrds: Vec::new(),
            args: String::new(),
            root: None,
            modules: Vec::new(),
            source: Vec::new(),
            users: None,
            unrestricted: false,
            locked: false,
        }
    }

    /// For a Xen-style multiboot entry (hypervisor + kernel module + initrd modules): the
    /// dom0 kernel as a Linux entry that can be booted PV — the first module becomes the
    /// kernel (a leading `placeholder` word, which `grub-mkconfig` adds for Xen to drop, is
    /// removed from its command line) and the following modules the initrds; its
    /// [`Entry::source`] is the GRUB 2 commands that load that. `None` if this is not a
    /// multiboot entry or has no modules.
    pub fn linux_from_modules(&self) -> Option<Entry> {
        if self.kind != EntryKind::Multiboot {
            return None;
        }
        let (first, rest) = self.modules.split_first()?;
        let args = first
            .args
            .strip_prefix("placeholder")
            .filter(|rest| rest.is_empty() || rest.starts_with(' '))
            .map_or_else(|| first.args.clone(), |rest| rest.trim_start().to_string());
        let mut e = Entry {
            title: self.title.clone(),
            id: self.id.clone(),
            kind: EntryKind::Linux,
            kernel: Some(first.file.clone()),
            initrds: rest.iter().map(|m| m.file.clone()).collect(),
            args,
            root: self.root.clone(),
            modules: Vec::new(),
            source: Vec::new(),
            users: self.users.clone(),
            unrestricted: self.unrestricted,
            locked: self.locked,
        };
        e.source = e.grub2_commands();
        Some(e)
    }

    /// GRUB 2 commands that load what this entry loads: `set root='DEV'` (if the entry has a
    /// root), then `linux FILE ARG...` + `initrd FILE...`, or `multiboot FILE ARG...` +
    /// `module FILE ARG...`. Words GRUB would split or expand are single-quoted. Running
    /// them with [`crate::eval_entry_commands`] gives back this entry's kernel and initrds;
    /// the command line comes back the same when it has single spaces and no `\`, `'` or
    /// `"` (GRUB's `linux` escapes those). Empty for [`EntryKind::Other`].
    pub fn grub2_commands(&self) -> Vec<String> {
        let mut out = Vec::new();
        let Some(kernel) = &self.kernel else {
            return out;
        };
        let line = |cmd: &str, file: &FileRef, args: &str| {
            let mut l = format!("{cmd} {}", grub_quote(&file.to_string()));
            for w in args.split([' ', '\t']).filter(|w| !w.is_empty()) {
                l.push(' ');
                l.push_str(&grub_quote(w));
            }
            l
        };
        match self.kind {
            EntryKind::Other => return out,
            EntryKind::Linux => {
                if let Some(r) = &self.root {
                    out.push(format!("set root={}", grub_quote(r)));
                }
                out.push(line("linux", kernel, &self.args));
                if !self.initrds.is_empty() {
                    let files: Vec<String> = self
                        .initrds
                        .iter()
                        .map(|f| grub_quote(&f.to_string()))
                        .collect();
                    out.push(format!("initrd {}", files.join(" ")));
                }
            }
            EntryKind::Multiboot => {
                if let Some(r) = &self.root {
                    out.push(format!("set root={}", grub_quote(r)));
                }
                out.push(line("multiboot", kernel, &self.args));
                for m in &self.modules {
                    out.push(line("module", &m.file, &m.args));
                }
            }
        }
        out
    }
}

/// A word as GRUB 2's lexer reads it back unchanged: as is when it holds only characters
/// without meaning to the lexer, else in single quotes (`'` written as `'\''`).
pub(crate) fn grub_quote(w: &str) -> String {
    let plain = !w.is_empty()
        && !w.starts_with('#')
        && w.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'/' | b'.'
                        | b'_'
                        | b'-'
                        | b'+'
                        | b','
                        | b':'
                        | b'='
                        | b'@'
                        | b'%'
                        | b'^'
                        | b'('
                        | b')'
                        | b'['
                        | b']'
                        | b'~'
                        | b'!'
                )
        });
    if plain {
        return w.to_string();
    }
    let mut s = String::with_capacity(w.len() + 2);
    s.push('\'');
    for c in w.chars() {
        if c == '\'' {
            s.push_str("'\\''");
        } else {
            s.push(c);
        }
    }
    s.push('\'');
    s
}

/// Give every entry without [`Entry::source`] its [`Entry::grub2_commands`] (the languages
/// other than GRUB 2).
pub(crate) fn fill_source(items: &mut [Item]) {
    // Iterative over submenus (their depth is bounded by the parsers, but no recursion is
    // needed anyway).
    let mut stack: Vec<&mut [Item]> = vec![items];
    while let Some(level) = stack.pop() {
        for it in level.iter_mut() {
            match it {
                Item::Entry(e) => {
                    if e.source.is_empty() {
                        e.source = e.grub2_commands();
                    }
                }
                Item::Submenu(s) => stack.push(&mut s.items),
            }
        }
    }
}

/// A node of the menu tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A bootable entry.
    Entry(Entry),
    /// A submenu (GRUB 2 `submenu`), kept as a tree.
    Submenu(Submenu),
}

impl Item {
    /// Title of the entry or submenu.
    pub fn title(&self) -> &str {
        match self {
            Item::Entry(e) => &e.title,
            Item::Submenu(s) => &s.title,
        }
    }
    /// Id of the entry or submenu.
    pub fn id(&self) -> Option<&str> {
        match self {
            Item::Entry(e) => e.id.as_deref(),
            Item::Submenu(s) => s.id.as_deref(),
        }
    }
}

/// A submenu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submenu {
    /// Title.
    pub title: String,
    /// `--id`.
    pub id: Option<String>,
    /// Children.
    pub items: Vec<Item>,
    /// `--users` (see [`Entry::users`]): who may open the submenu.
    pub users: Option<Vec<String>>,
    /// `--unrestricted` (see [`Entry::unrestricted`]).
    pub unrestricted: bool,
}

impl Submenu {
    /// A new empty submenu with a title.
    pub fn new(title: impl Into<String>) -> Self {
        Submenu {
            title: title.into(),
            id: None,
            items: Vec::new(),
            users: None,
            unrestricted: false,
        }
    }
}

/// A password GRUB 2 registers for a user (`password`, `password_pbkdf2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordKind {
    /// `password USER PASS`: the clear-text password.
    Plain(String),
    /// `password_pbkdf2 USER HASH`: the hash as written,
    /// `grub.pbkdf2.sha512.ITERATIONS.SALT_HEX.HASH_HEX`.
    Pbkdf2(String),
}

/// Which language a menu came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// GRUB 2 `grub.cfg`.
    Grub2,
    /// GRUB legacy `menu.lst` / `grub.conf`.
    GrubLegacy,
    /// SYSLINUX / EXTLINUX / ISOLINUX.
    Syslinux,
    /// Boot Loader Specification Type #1 entries as systemd-boot reads them
    /// (`/loader/loader.conf` + `/loader/entries/*.conf`).
    Bls,
    /// LILO `lilo.conf`.
    Lilo,
    /// NetBSD `/boot.cfg`.
    NetBsd,
}

/// A parsed menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    /// Language.
    pub kind: ConfigKind,
    /// Top-level items.
    pub items: Vec<Item>,
    /// Path of indices (top level, then into submenus) of the default entry, as the config's
    /// own semantics chose it. When the config's default names nothing (out of range, unknown
    /// title), the parsers warn and give the first entry, as the boot loaders do; `None` only
    /// for a menu without entries.
    pub default: Option<Vec<usize>>,
    /// Why that default was chosen (`"default=2"`, `"saved_entry from grubenv"`...).
    pub default_reason: String,
    /// Menu timeout in tenths of a second; `None` = wait forever; `Some(0)` = boot at once.
    pub timeout_tenths: Option<u64>,
    /// The menu is not shown unless a key is pressed during the timeout (GRUB legacy
    /// `hiddenmenu`, GRUB 2 `timeout_style=hidden` or `countdown`, syslinux `MENU HIDDEN`).
    pub hidden: bool,
    /// Entries to try, in order, if the default fails to boot (GRUB `fallback`).
    pub fallback: Vec<Vec<usize>>,
    /// The menu password line as written (GRUB legacy `password [--md5] ...`): recorded, not
    /// checked by the parsers.
    pub password: Option<String>,
    /// Non-fatal problems (unknown commands, default out of range, ...).
    pub warnings: Vec<String>,
    /// GRUB 2: the variables of the context whose menu this is, as they are when the script
    /// has finished (the main script's, or that of the `configfile` whose menu replaced it),
    /// sorted by name. GRUB runs an entry — and an edited entry — in that context;
    /// [`crate::eval_entry_commands`] starts from these. Empty for the other languages.
    pub globals: Vec<(String, String)>,
    /// GRUB 2 `$superusers` at the end of the script, split into names as GRUB does (at
    /// blanks, `,`, `;`, `|`, `&`); `None` if it is not set. When set — even to an empty
    /// list, which makes nobody a superuser — GRUB asks for a password to edit entries, use
    /// the command line, and boot entries that are not unrestricted.
    pub superusers: Option<Vec<String>>,
    /// GRUB 2 users registered by `password` / `password_pbkdf2`, in order of first
    /// registration (a later command for the same user replaces the password). Recorded,
    /// not checked, by the parsers.
    pub passwords: Vec<(String, PasswordKind)>,
}

impl Menu {
    /// An empty menu of a kind.
    pub fn new(kind: ConfigKind) -> Self {
        Menu {
            kind,
            items: Vec::new(),
            default: None,
            default_reason: String::new(),
            timeout_tenths: None,
            hidden: false,
            fallback: Vec::new(),
            password: None,
            warnings: Vec::new(),
            globals: Vec::new(),
            superusers: None,
            passwords: Vec::new(),
        }
    }

    /// The value of a variable in [`Menu::globals`].
    pub fn global(&self, name: &str) -> Option<&str> {
        self.globals
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The item at a path of indices.
    pub fn get(&self, path: &[usize]) -> Option<&Item> {
        let (first, rest) = path.split_first()?;
        let mut item = self.items.get(*first)?;
        for i in rest {
            match item {
                Item::Submenu(s) => item = s.items.get(*i)?,
                Item::Entry(_) => return None,
            }
        }
        Some(item)
    }

    /// The entry at a path, if it is an entry.
    pub fn entry(&self, path: &[usize]) -> Option<&Entry> {
        match self.get(path)? {
            Item::Entry(e) => Some(e),
            Item::Submenu(_) => None,
        }
    }

    /// Every entry with its path, depth first, in menu order.
    pub fn entries(&self) -> Vec<(Vec<usize>, &Entry)> {
        fn walk<'a>(
            items: &'a [Item],
            prefix: &mut Vec<usize>,
            out: &mut Vec<(Vec<usize>, &'a Entry)>,
        ) {
            for (i, it) in items.iter().enumerate() {
                prefix.push(i);
                match it {
                    Item::Entry(e) => out.push((prefix.clone(), e)),
                    Item::Submenu(s) => walk(&s.items, prefix, out),
                }
                prefix.pop();
            }
        }
        let mut out = Vec::new();
        walk(&self.items, &mut Vec::new(), &mut out);
        out
    }

    /// Resolve a GRUB `default`-style selector against this menu: a number (top level), a
    /// title or id, or a `>`-separated path of those through submenus. A submenu selected as
    /// the final element resolves to its first entry, as GRUB does.
    pub fn find(&self, spec: &str) -> Option<Vec<usize>> {
        let spec = spec.trim();
        if spec.is_empty() {
            return None;
        }
        let mut path = Vec::new();
        let mut items = &self.items;
        let parts: Vec<&str> = spec.split('>').collect();
        for part in &parts {
            let idx = match part.parse::<usize>() {
                Ok(n) if n < items.len() => n,
                Ok(_) => return None,
                Err(_) => items
                    .iter()
                    .position(|it| it.id() == Some(part) || it.title() == *part)?,
            };
            path.push(idx);
            match items.get(idx)? {
                Item::Submenu(s) => items = &s.items,
                Item::Entry(_) => {}
            }
        }
        // A submenu as the target: descend to its first entry.
        loop {
            match self.get(&path)? {
                Item::Entry(_) => return Some(path),
                Item::Submenu(s) => {
                    if s.items.is_empty() {
                        return None;
                    }
                    path.push(0);
                }
            }
        }
    }
}

/// How a `search` command names what it looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    /// `--fs-uuid`
    FsUuid,
    /// `--label`
    Label,
    /// `--file`
    File,
    /// `--part-uuid`: a GPT partition GUID, or an MBR `SIGNATURE-NN` (as blkid's PARTUUID).
    PartUuid,
    /// `--part-label`: a GPT partition name.
    PartLabel,
}

/// The guest's files as a config parser sees them. Implemented by the caller (the `rsgrub`
/// binary over the real volumes; tests over a map). Every read is bounded by `max`.
pub trait FileSource {
    /// Read at most `max` bytes from the start of a file (a prefix: `[ -s FILE ]` asks for one
    /// byte); `device` `None` = the config's own volume. `None` if absent or unreadable.
    fn read_file(&mut self, device: Option<&str>, path: &str, max: usize) -> Option<Vec<u8>>;
    /// Whether a path exists (`[ -f ]`, `[ -e ]`).
    fn exists(&mut self, device: Option<&str>, path: &str) -> bool {
        self.read_file(device, path, 0).is_some()
    }
    /// Whether a path is a directory (`[ -d ]`).
    fn is_dir(&mut self, _device: Option<&str>, _path: &str) -> bool {
        false
    }
    /// `search`: the GRUB device name of the first volume matching, if any.
    fn search(&mut self, _kind: SearchKind, _value: &str) -> Option<String> {
        None
    }
    /// Names in a directory (for `blscfg`, wildcards), at most a bounded number.
    fn list_dir(&mut self, _device: Option<&str>, _path: &str) -> Option<Vec<String>> {
        None
    }
}

/// A [`FileSource`] over an in-memory map (tests, `--isconfig`).
#[derive(Debug, Default, Clone)]
pub struct MapSource {
    /// `(device or "", path) -> bytes`.
    pub files: std::collections::BTreeMap<(String, String), Vec<u8>>,
}

impl MapSource {
    /// Add a file on the config's own volume.
    pub fn with(mut self, path: &str, data: impl Into<Vec<u8>>) -> Self {
        self.files
            .insert((String::new(), path.to_string()), data.into());
        self
    }
}

impl FileSource for MapSource {
    /// A directory exists when some file lies under it.
    fn is_dir(&mut self, device: Option<&str>, path: &str) -> bool {
        let dev = device.unwrap_or("");
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.files
            .keys()
            .any(|(d, p)| d == dev && p.starts_with(&prefix))
    }
    fn read_file(&mut self, device: Option<&str>, path: &str, max: usize) -> Option<Vec<u8>> {
        let d = self
            .files
            .get(&(device.unwrap_or("").to_string(), path.to_string()))?;
        if max == 0 {
            return Some(Vec::new());
        }
        Some(d.get(..max.min(d.len()))?.to_vec())
    }
    fn list_dir(&mut self, device: Option<&str>, path: &str) -> Option<Vec<String>> {
        let dev = device.unwrap_or("").to_string();
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let names: Vec<String> = self
            .files
            .keys()
            .filter(|(d, p)| *d == dev && p.starts_with(&prefix))
            .filter_map(|(_, p)| {
                let rest = p.get(prefix.len()..)?;
                (!rest.contains('/')).then(|| rest.to_string())
            })
            .collect();
        (!names.is_empty()).then_some(names)
    }
}
