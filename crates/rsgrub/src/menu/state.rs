//! The menu as a pure state machine: key presses and 100 ms ticks in, a screen model
//! ([`super::render::draw`]) and at most one boot choice out. No terminal, no clock: the
//! tests drive it directly.
//!
//! Behaviour follows GRUB 2's `normal/menu.c`, `menu_text.c`, `menu_entry.c` and
//! `auth.c` (and GRUB legacy / PyGrub where they differ): see [`crate::menu`].

use super::auth::{Auth, Need};
use super::editor::{EditorAction, EntryEditor, LineEdit};
use super::keys::Key;
use super::render;
use super::script;
use rsgrub_bootcfg::{Entry, EntryKind, FileSource, Item, Menu};
use std::collections::{BTreeSet, VecDeque};

/// One tick, in milliseconds: timeouts count in tenths of a second.
pub const TICK_MS: u64 = 100;
/// Lines the command line keeps.
const MAX_OUTPUT_LINES: usize = 1000;
/// Longest output line kept.
const MAX_OUTPUT_LINE: usize = 4096;
/// Command-line history entries kept.
const MAX_HISTORY: usize = 100;
/// Most bytes `cat` shows.
const MAX_CAT_BYTES: usize = 64 << 10;
/// Most names `ls` marks as directories (each needs a lookup).
const MAX_LS_MARKED: usize = 1000;
/// Longest delay after failed logins (GRUB doubles it without bound).
const MAX_PENALTY_SECS: u64 = 32;
/// Longest user name or password typed.
const MAX_SECRET: usize = 1023;

/// What the menu needs from the guest.
pub trait Host {
    /// Whether the entry can boot (its kernel and initrds exist); the error otherwise.
    fn check(&mut self, entry: &Entry) -> Result<(), String>;
    /// The guest's files (for `ls`, `cat`, and `linux`/`initrd` on the command line).
    fn files(&mut self) -> &mut dyn FileSource;
    /// GRUB device names of the disk and its partitions (`ls` without arguments).
    fn devices(&mut self) -> Vec<String>;
}

/// What an event led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Keep going.
    Continue,
    /// Boot this entry (possibly edited).
    Boot(Box<Entry>),
}

/// One open menu level (the top level, or a submenu).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// Index path of the submenu (empty: the top level).
    pub path: Vec<usize>,
    /// Highlighted item.
    pub selected: usize,
    /// First item shown.
    pub top: usize,
}

/// Where the command line returns to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Back {
    /// The menu.
    Menu,
    /// The entry editor it was opened from.
    Editor(Box<EntryEditor>, Vec<usize>),
}

/// GRUB's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    /// Lines printed so far.
    pub output: VecDeque<String>,
    /// The line being typed.
    pub input: LineEdit,
    history: Vec<String>,
    hist_pos: usize,
    /// What `linux`/`initrd`/`set root=` built so far.
    pub entry: Entry,
    /// Where Esc / `exit` go.
    pub back: Back,
}

impl CommandLine {
    fn new(back: Back) -> Self {
        CommandLine {
            output: VecDeque::new(),
            input: LineEdit::new(""),
            history: Vec::new(),
            hist_pos: 0,
            entry: Entry::new("command line"),
            back,
        }
    }

    fn out(&mut self, s: impl Into<String>) {
        let mut s: String = s.into();
        if s.len() > MAX_OUTPUT_LINE {
            let mut cut = MAX_OUTPUT_LINE;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        if self.output.len() >= MAX_OUTPUT_LINES {
            self.output.pop_front();
        }
        self.output.push_back(s);
    }

    fn error(&mut self, s: &str) {
        self.out(format!("error: {s}."));
    }
}

/// A question being asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptKind {
    /// GRUB 2 `Enter username: `.
    Username,
    /// GRUB 2 `Enter password: ` for this user.
    Password(String),
    /// GRUB legacy ` Password: ` (`p`).
    Legacy,
}

/// What a successful login goes on to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// Boot the entry at this path.
    Boot(Vec<usize>),
    /// Open the submenu at this path.
    Open(Vec<usize>),
    /// Edit the entry at this path.
    Edit(Vec<usize>),
    /// Edit the arguments of the entry at this path.
    Append(Vec<usize>),
    /// Open the command line.
    Command,
}

/// A password prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// Which question.
    pub kind: PromptKind,
    /// Typed so far.
    pub input: String,
    /// Earlier lines of the exchange (`Enter username: root`).
    pub shown: Vec<String>,
    /// What to do once allowed.
    pub then: Pending,
}

/// `a`: the kernel arguments of an entry, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    /// The entry.
    pub entry: Entry,
    /// The arguments.
    pub line: LineEdit,
}

/// What is on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The menu.
    Menu,
    /// The entry editor (`e`) on the entry at `path`.
    Editor {
        /// The editor.
        ed: Box<EntryEditor>,
        /// The entry's path.
        path: Vec<usize>,
    },
    /// `a`.
    Append(Box<Append>),
    /// `c`.
    Command(Box<CommandLine>),
    /// A password prompt.
    Prompt(Box<Prompt>),
    /// A message; any key returns to the menu.
    Message(Vec<String>),
}

/// The whole menu state.
pub struct State<'m> {
    pub(super) menu: &'m Menu,
    pub(super) auth: Auth,
    pub(super) default: Vec<usize>,
    pub(super) levels: Vec<Level>,
    /// Tenths of a second before the default boots; `None`: no countdown.
    pub(super) countdown: Option<u64>,
    /// Waiting without drawing (hidden menu, or timeout 0).
    pub(super) hidden: bool,
    pub(super) mode: Mode,
    pub(super) cols: usize,
    pub(super) rows: usize,
    pub(super) authenticated: BTreeSet<String>,
    /// GRUB legacy: the password was given.
    pub(super) unlocked: bool,
    penalty: u64,
    /// Tenths during which keys are ignored (after a failed login).
    pub(super) busy: u64,
    redraw: bool,
}

fn message(lines: &[&str]) -> Mode {
    let mut v: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    v.push(String::new());
    v.push("Press any key to continue...".into());
    Mode::Message(v)
}

impl<'m> State<'m> {
    /// A menu showing `menu`, `default` highlighted (an index path, as
    /// [`crate::discover::select`] gives it), on a `cols`×`rows` screen.
    pub fn new(menu: &'m Menu, auth: Auth, default: Vec<usize>, cols: usize, rows: usize) -> Self {
        let countdown = menu.timeout_tenths;
        let hidden = (menu.hidden && countdown.is_some()) || countdown == Some(0);
        let selected = default.first().copied().unwrap_or(0);
        let mut st = State {
            menu,
            auth,
            default,
            levels: vec![Level {
                path: Vec::new(),
                selected,
                top: 0,
            }],
            countdown,
            hidden,
            mode: Mode::Menu,
            cols,
            rows,
            authenticated: BTreeSet::new(),
            unlocked: false,
            penalty: 1,
            busy: 0,
            redraw: true,
        };
        st.fix_scroll();
        st
    }

    /// Whether the screen is drawn (not while a hidden menu waits).
    pub fn visible(&self) -> bool {
        !self.hidden
    }

    /// The current mode.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// Whether a full redraw was asked for since the last call (Ctrl-L, resize, shown).
    pub fn take_redraw(&mut self) -> bool {
        std::mem::take(&mut self.redraw)
    }

    /// The screen size changed.
    pub fn resize(&mut self, cols: usize, rows: usize) {
        if (cols, rows) != (self.cols, self.rows) {
            self.cols = cols;
            self.rows = rows;
            self.redraw = true;
            self.fix_scroll();
        }
    }

    pub(super) fn level(&self) -> &Level {
        // `levels` is never empty (Esc keeps the top level).
        self.levels.last().unwrap_or(&TOP)
    }

    pub(super) fn nested(&self) -> bool {
        self.levels.len() > 1
    }

    /// The items of the open menu level.
    pub(super) fn items(&self) -> &'m [Item] {
        let path = &self.level().path;
        if path.is_empty() {
            return &self.menu.items;
        }
        match self.menu.get(path) {
            Some(Item::Submenu(s)) => &s.items,
            _ => &[],
        }
    }

    fn selected_path(&self) -> Vec<usize> {
        let l = self.level();
        let mut p = l.path.clone();
        p.push(l.selected);
        p
    }

    /// GRUB legacy: `e`, `c`, `a` are refused until `p`.
    pub(super) fn legacy_locked(&self) -> bool {
        self.auth.legacy.is_some() && !self.unlocked
    }

    fn fix_scroll(&mut self) {
        let n = self.items().len();
        let rows = render::list_rows(self).max(1);
        if let Some(l) = self.levels.last_mut() {
            if n == 0 {
                l.selected = 0;
                l.top = 0;
                return;
            }
            l.selected = l.selected.min(n - 1);
            if l.selected < l.top {
                l.top = l.selected;
            } else if l.selected >= l.top + rows {
                l.top = l.selected + 1 - rows;
            }
            l.top = l.top.min(n.saturating_sub(rows));
        }
    }

    /// 100 ms passed.
    pub fn tick(&mut self, host: &mut dyn Host) -> Outcome {
        if self.busy > 0 {
            self.busy -= 1;
            return Outcome::Continue;
        }
        if let Some(t) = self.countdown {
            let t = t.saturating_sub(1);
            if t == 0 {
                self.countdown = None;
                return self.auto_boot(host);
            }
            self.countdown = Some(t);
        }
        Outcome::Continue
    }

    /// A key was pressed.
    pub fn key(&mut self, k: Key, host: &mut dyn Host) -> Outcome {
        if self.busy > 0 {
            return Outcome::Continue;
        }
        if self.hidden {
            // A hidden menu (or timeout 0): a key shows the menu, nothing else.
            self.hidden = false;
            self.countdown = None;
            self.redraw = true;
            return Outcome::Continue;
        }
        // Any key stops the countdown, and is then handled (as GRUB does).
        self.countdown = None;
        if k == Key::Ctrl(b'l') {
            self.redraw = true;
            return Outcome::Continue;
        }
        let mode = std::mem::replace(&mut self.mode, Mode::Menu);
        let out = match mode {
            Mode::Menu => self.menu_key(k, host),
            Mode::Editor { ed, path } => self.editor_key(ed, path, k, host),
            Mode::Append(a) => self.append_key(a, k, host),
            Mode::Command(c) => self.command_key(c, k, host),
            Mode::Prompt(p) => self.prompt_key(p, k, host),
            Mode::Message(_) => Outcome::Continue,
        };
        self.fix_scroll();
        out
    }

    fn menu_key(&mut self, k: Key, host: &mut dyn Host) -> Outcome {
        let n = self.items().len();
        let page = render::list_rows(self).max(1);
        let path = self.selected_path();
        let Some(l) = self.levels.last_mut() else {
            return Outcome::Continue;
        };
        let last = n.saturating_sub(1);
        match k {
            Key::Up | Key::Ctrl(b'p') | Key::Char('^') => l.selected = l.selected.saturating_sub(1),
            Key::Down | Key::Ctrl(b'n') | Key::Char('v') => l.selected = (l.selected + 1).min(last),
            Key::Home | Key::Ctrl(b'a') => l.selected = 0,
            Key::End | Key::Ctrl(b'e') => l.selected = last,
            Key::PageUp | Key::Ctrl(b'b') => l.selected = l.selected.saturating_sub(page),
            Key::PageDown | Key::Ctrl(b'f') => l.selected = (l.selected + page).min(last),
            Key::Enter | Key::Right => return self.activate(path, host),
            Key::Esc | Key::Left if self.levels.len() > 1 => {
                self.levels.pop();
            }
            Key::Char('e') => return self.gate_edit(Pending::Edit(path), host),
            Key::Char('a') => return self.gate_edit(Pending::Append(path), host),
            Key::Char('c') => return self.gate_edit(Pending::Command, host),
            Key::Char('p') if self.legacy_locked() => {
                self.mode = Mode::Prompt(Box::new(Prompt {
                    kind: PromptKind::Legacy,
                    input: String::new(),
                    shown: Vec::new(),
                    then: Pending::Command,
                }));
            }
            _ => {}
        }
        Outcome::Continue
    }

    fn allowed(&self, p: &Pending) -> bool {
        match p {
            Pending::Boot(path) | Pending::Open(path) => {
                self.auth
                    .grub2_allows(Need::Item, path, &self.authenticated)
            }
            Pending::Edit(_) | Pending::Append(_) | Pending::Command => {
                self.auth
                    .grub2_allows(Need::Superuser, &[], &self.authenticated)
            }
        }
    }

    fn login(&mut self, then: Pending) {
        self.hidden = false;
        self.mode = Mode::Prompt(Box::new(Prompt {
            kind: PromptKind::Username,
            input: String::new(),
            shown: Vec::new(),
            then,
        }));
    }

    fn gate_edit(&mut self, p: Pending, host: &mut dyn Host) -> Outcome {
        if self.legacy_locked() {
            return Outcome::Continue;
        }
        if !self.allowed(&p) {
            self.login(p);
            return Outcome::Continue;
        }
        self.run(p, host)
    }

    /// Do what was asked, authentication already passed.
    fn run(&mut self, p: Pending, host: &mut dyn Host) -> Outcome {
        match p {
            Pending::Boot(path) => {
                if let Some(e) = self.menu.entry(&path) {
                    return self.boot_or_message(e, host);
                }
            }
            Pending::Open(path) => self.open(path),
            Pending::Edit(path) => {
                if let Some(e) = self.menu.entry(&path) {
                    // What GRUB's editor shows: the entry's stored commands (for GRUB 2
                    // `setparams 'TITLE'` and the body as written).
                    let lines = if e.source.is_empty() {
                        script::entry_lines(e)
                    } else {
                        e.source.clone()
                    };
                    self.mode = Mode::Editor {
                        ed: Box::new(EntryEditor::new(lines)),
                        path,
                    };
                }
            }
            Pending::Append(path) => {
                if let Some(e) = self.menu.entry(&path) {
                    if e.kind != EntryKind::Linux || e.kernel.is_none() {
                        self.mode = message(&[&format!("error: {}.", not_linux(e))]);
                    } else {
                        let mut line = LineEdit::new(&e.args);
                        line.scroll(render::append_width(self));
                        self.mode = Mode::Append(Box::new(Append {
                            entry: e.clone(),
                            line,
                        }));
                    }
                }
            }
            Pending::Command => self.mode = Mode::Command(Box::new(CommandLine::new(Back::Menu))),
        }
        Outcome::Continue
    }

    fn open(&mut self, path: Vec<usize>) {
        let selected = if self.default.len() > path.len() && self.default.starts_with(&path) {
            self.default.get(path.len()).copied().unwrap_or(0)
        } else {
            0
        };
        self.levels.push(Level {
            path,
            selected,
            top: 0,
        });
        self.mode = Mode::Menu;
    }

    /// Enter (or →) on an item.
    fn activate(&mut self, path: Vec<usize>, host: &mut dyn Host) -> Outcome {
        match self.menu.get(&path) {
            None => Outcome::Continue,
            Some(Item::Submenu(_)) => {
                let p = Pending::Open(path);
                if !self.allowed(&p) {
                    self.login(p);
                    return Outcome::Continue;
                }
                self.run(p, host)
            }
            Some(Item::Entry(e)) => {
                if self.auth.legacy_locked.contains(&path) && !self.unlocked {
                    self.mode = message(&["Error 32: Must be authenticated"]);
                    return Outcome::Continue;
                }
                let p = Pending::Boot(path);
                if !self.allowed(&p) {
                    self.login(p);
                    return Outcome::Continue;
                }
                self.boot_or_message(e, host)
            }
        }
    }

    fn boot_or_message(&mut self, e: &Entry, host: &mut dyn Host) -> Outcome {
        match bootable(e, host) {
            Ok(()) => Outcome::Boot(Box::new(e.clone())),
            Err(m) => {
                self.hidden = false;
                self.mode = message(&[&format!("error: {m}.")]);
                Outcome::Continue
            }
        }
    }

    /// The countdown ran out: the default, then the fallback entries (as GRUB's
    /// `grub_menu_execute_with_fallback`).
    fn auto_boot(&mut self, host: &mut dyn Host) -> Outcome {
        let default = self.default.clone();
        if self.menu.entry(&default).is_some() {
            if self.auth.legacy_locked.contains(&default) && !self.unlocked {
                self.hidden = false;
                self.mode = message(&["Error 32: Must be authenticated"]);
                return Outcome::Continue;
            }
            let p = Pending::Boot(default.clone());
            if !self.allowed(&p) {
                self.login(p);
                return Outcome::Continue;
            }
        }
        let mut first_err = None;
        let mut candidates = vec![default];
        candidates.extend(self.menu.fallback.iter().cloned());
        for path in candidates {
            let Some(e) = self.menu.entry(&path) else {
                continue;
            };
            if !self.allowed(&Pending::Boot(path.clone()))
                || (self.auth.legacy_locked.contains(&path) && !self.unlocked)
            {
                continue;
            }
            match bootable(e, host) {
                Ok(()) => return Outcome::Boot(Box::new(e.clone())),
                Err(m) => {
                    first_err.get_or_insert(m);
                }
            }
        }
        self.hidden = false;
        self.redraw = true;
        let m = first_err.unwrap_or_else(|| "no default entry".into());
        self.mode = message(&[&format!("error: {m}.")]);
        Outcome::Continue
    }

    fn editor_key(
        &mut self,
        mut ed: Box<EntryEditor>,
        path: Vec<usize>,
        k: Key,
        host: &mut dyn Host,
    ) -> Outcome {
        let (w, h) = render::editor_geometry(self);
        match ed.handle(k, w, h) {
            EditorAction::None => {}
            EditorAction::Discard => return Outcome::Continue,
            EditorAction::CommandLine => {
                self.mode = Mode::Command(Box::new(CommandLine::new(Back::Editor(ed, path))));
                return Outcome::Continue;
            }
            EditorAction::Boot => {
                let base = self
                    .menu
                    .entry(&path)
                    .cloned()
                    .unwrap_or_else(|| Entry::new("edited entry"));
                let parsed = if ed.unchanged() && base.kind == EntryKind::Linux {
                    Ok(base)
                } else {
                    // Run the edited commands as GRUB does: a script, in the menu's context.
                    rsgrub_bootcfg::eval_entry_commands(
                        &base.title,
                        &ed.text(),
                        self.menu,
                        host.files(),
                    )
                    .map_err(|e| {
                        if e.line > 0 {
                            format!("line {}: {}", e.line, e.msg)
                        } else {
                            e.msg
                        }
                    })
                };
                match parsed.and_then(|e| bootable(&e, host).map(|()| e)) {
                    Ok(e) => return Outcome::Boot(Box::new(e)),
                    Err(m) => ed.error = Some(format!("error: {m}.")),
                }
            }
        }
        self.mode = Mode::Editor { ed, path };
        Outcome::Continue
    }

    fn append_key(&mut self, mut a: Box<Append>, k: Key, host: &mut dyn Host) -> Outcome {
        match k {
            Key::Esc => return Outcome::Continue,
            Key::Enter => {
                let mut e = a.entry.clone();
                e.args = a.line.text().trim().to_string();
                return self.boot_or_message(&e, host);
            }
            other => {
                a.line.handle(other);
                a.line.scroll(render::append_width(self));
            }
        }
        self.mode = Mode::Append(a);
        Outcome::Continue
    }

    fn command_key(&mut self, mut c: Box<CommandLine>, k: Key, host: &mut dyn Host) -> Outcome {
        match k {
            Key::Esc => {
                self.leave_command(c);
                return Outcome::Continue;
            }
            Key::Enter => {
                let text = c.input.text();
                c.out(format!("grub> {text}"));
                if !text.trim().is_empty() {
                    if c.history.len() >= MAX_HISTORY {
                        c.history.remove(0);
                    }
                    c.history.push(text.clone());
                }
                c.hist_pos = c.history.len();
                c.input = LineEdit::new("");
                match self.execute(&mut c, &text, host) {
                    Exec::Continue => {}
                    Exec::Exit => {
                        self.leave_command(c);
                        return Outcome::Continue;
                    }
                    Exec::Boot(e) => return Outcome::Boot(e),
                }
            }
            Key::Up | Key::Ctrl(b'p') => {
                if c.hist_pos > 0 {
                    c.hist_pos -= 1;
                    if let Some(h) = c.history.get(c.hist_pos) {
                        c.input = LineEdit::new(h);
                    }
                }
            }
            Key::Down | Key::Ctrl(b'n') => {
                if c.hist_pos < c.history.len() {
                    c.hist_pos += 1;
                    let h = c.history.get(c.hist_pos).cloned().unwrap_or_default();
                    c.input = LineEdit::new(&h);
                }
            }
            other => {
                c.input.handle(other);
            }
        }
        c.input.scroll(render::command_width(self));
        self.mode = Mode::Command(c);
        Outcome::Continue
    }

    fn leave_command(&mut self, c: Box<CommandLine>) {
        self.mode = match c.back {
            Back::Menu => Mode::Menu,
            Back::Editor(ed, path) => Mode::Editor { ed, path },
        };
    }

    fn execute(&mut self, c: &mut CommandLine, text: &str, host: &mut dyn Host) -> Exec {
        let cmds = match script::commands(text) {
            Ok(v) => v,
            Err(e) => {
                c.error(&e);
                return Exec::Continue;
            }
        };
        for (_, words) in cmds {
            let Some((name, args)) = words.split_first() else {
                continue;
            };
            match name.as_str() {
                "boot" => {
                    let e = c.entry.clone();
                    if e.kernel.is_none() {
                        c.error("you need to load the kernel first");
                        continue;
                    }
                    match bootable(&e, host) {
                        Ok(()) => return Exec::Boot(Box::new(e)),
                        Err(m) => c.error(&m),
                    }
                }
                "exit" | "quit" | "return" | "normal" => return Exec::Exit,
                "ls" => ls(c, args, host),
                "cat" => cat(c, args, host),
                "clear" => c.output.clear(),
                "echo" => c.out(args.join(" ")),
                "help" => {
                    for l in HELP {
                        c.out(*l);
                    }
                }
                "linux" | "linux16" | "linuxefi" | "initrd" | "initrd16" | "initrdefi" | "set" => {
                    let files: &[String] = if name.starts_with("linux") {
                        args.get(..1).unwrap_or_default()
                    } else if name.starts_with("initrd") {
                        args
                    } else {
                        &[]
                    };
                    let mut missing = None;
                    for f in files {
                        if let Ok(r) = script::file_ref(f) {
                            let dev = r.device.clone().or_else(|| c.entry.root.clone());
                            if !host.files().exists(dev.as_deref(), &r.path) {
                                missing = Some(f.clone());
                                break;
                            }
                        }
                    }
                    if let Some(f) = missing {
                        c.error(&format!("file `{f}' not found"));
                        continue;
                    }
                    if let Err(m) = script::apply(&mut c.entry, &words) {
                        c.error(&m);
                    }
                }
                other => c.error(&format!("can't find command `{other}'")),
            }
        }
        Exec::Continue
    }

    fn prompt_key(&mut self, mut p: Box<Prompt>, k: Key, host: &mut dyn Host) -> Outcome {
        match k {
            Key::Enter => match p.kind.clone() {
                PromptKind::Username => {
                    p.shown.push(format!("Enter username: {}", p.input));
                    p.kind = PromptKind::Password(std::mem::take(&mut p.input));
                }
                PromptKind::Password(user) => {
                    if self.auth.grub2_login(&user, &p.input) {
                        self.authenticated.insert(user);
                    }
                    if self.allowed(&p.then) {
                        self.penalty = 1;
                        return self.run(p.then, host);
                    }
                    self.denied();
                    return Outcome::Continue;
                }
                PromptKind::Legacy => {
                    let ok = self
                        .auth
                        .legacy
                        .as_ref()
                        .is_some_and(|l| l.verify(&p.input));
                    if ok {
                        self.unlocked = true;
                    } else {
                        self.mode = message(&["Failed!"]);
                    }
                    return Outcome::Continue;
                }
            },
            Key::Esc => {
                if p.kind != PromptKind::Legacy {
                    self.denied();
                }
                return Outcome::Continue;
            }
            Key::Backspace => {
                p.input.pop();
            }
            Key::Char(ch) if p.input.chars().count() < MAX_SECRET => p.input.push(ch),
            _ => {}
        }
        self.mode = Mode::Prompt(p);
        Outcome::Continue
    }

    /// A failed login: GRUB waits (1 s, doubling) and reports access denied.
    fn denied(&mut self) {
        self.busy = self.penalty.saturating_mul(1000 / TICK_MS);
        self.penalty = (self.penalty * 2).min(MAX_PENALTY_SECS);
        self.mode = message(&["error: access denied."]);
    }
}

static TOP: Level = Level {
    path: Vec::new(),
    selected: 0,
    top: 0,
};

enum Exec {
    Continue,
    Exit,
    Boot(Box<Entry>),
}

const HELP: &[&str] = &[
    "linux FILE [ARGS...]   the kernel to boot, and its command line",
    "initrd FILE...         the initrds (loaded one after the other)",
    "set root=DEVICE        the device plain paths are on, e.g. set root=hd0,gpt2",
    "boot                   boot what linux and initrd loaded",
    "ls [(DEVICE)][PATH]    list the devices, or a directory",
    "cat [(DEVICE)]FILE     show a file",
    "clear, echo, help      ",
    "exit                   back (or press ESC)",
];

fn not_linux(e: &Entry) -> String {
    match e.kind {
        EntryKind::Linux => "you need to load the kernel first".into(),
        _ => format!(
            "`{}' is not a Linux entry, which is all a Xen guest can boot",
            e.title
        ),
    }
}

fn bootable(e: &Entry, host: &mut dyn Host) -> Result<(), String> {
    if e.kind != EntryKind::Linux || e.kernel.is_none() {
        return Err(not_linux(e));
    }
    host.check(e)
}

fn split_device(a: &str, root: Option<&str>) -> (Option<String>, String) {
    if let Some(rest) = a.strip_prefix('(') {
        if let Some(close) = rest.find(')') {
            let dev = rest.get(..close).unwrap_or("").to_string();
            let path = rest.get(close + 1..).unwrap_or("");
            let path = if path.is_empty() { "/" } else { path };
            return ((!dev.is_empty()).then_some(dev), path.to_string());
        }
    }
    (root.map(str::to_string), a.to_string())
}

fn ls(c: &mut CommandLine, args: &[String], host: &mut dyn Host) {
    if args.is_empty() {
        let devs: Vec<String> = host.devices().iter().map(|d| format!("({d})")).collect();
        c.out(devs.join(" "));
        return;
    }
    for a in args {
        let (dev, path) = split_device(a, c.entry.root.as_deref());
        if !path.starts_with('/') {
            c.error(&format!("invalid file name `{a}'"));
            continue;
        }
        let files = host.files();
        match files.list_dir(dev.as_deref(), &path) {
            Some(names) => {
                let base = path.trim_end_matches('/');
                let mut shown = Vec::with_capacity(names.len());
                for (i, n) in names.iter().filter(|n| *n != "." && *n != "..").enumerate() {
                    let dir =
                        i < MAX_LS_MARKED && files.is_dir(dev.as_deref(), &format!("{base}/{n}"));
                    shown.push(if dir { format!("{n}/") } else { n.clone() });
                }
                c.out(shown.join(" "));
            }
            None => {
                if files.exists(dev.as_deref(), &path) && !files.is_dir(dev.as_deref(), &path) {
                    c.out(path);
                } else {
                    c.error(&format!("file `{a}' not found"));
                }
            }
        }
    }
}

fn cat(c: &mut CommandLine, args: &[String], host: &mut dyn Host) {
    if args.is_empty() {
        c.error("filename expected");
        return;
    }
    for a in args {
        let (dev, path) = split_device(a, c.entry.root.as_deref());
        match host
            .files()
            .read_file(dev.as_deref(), &path, MAX_CAT_BYTES + 1)
        {
            Some(data) => {
                let cut = data.len() > MAX_CAT_BYTES;
                let text = String::from_utf8_lossy(data.get(..MAX_CAT_BYTES).unwrap_or(&data))
                    .into_owned();
                for line in text.split('\n') {
                    c.out(line.trim_end_matches('\r'));
                }
                if cut {
                    c.out(format!(
                        "(only the first {} KiB shown)",
                        MAX_CAT_BYTES >> 10
                    ));
                }
            }
            None => c.error(&format!("file `{a}' not found")),
        }
    }
}
