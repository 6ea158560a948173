//! The screen model (a grid of characters, some in reverse video, and a cursor) drawn from
//! the menu state, and the bytes that put it on a terminal.
//!
//! Output uses only what a vt100 has: cursor addressing (`CUP`), erase (`ED`, `EL`),
//! reverse video (`SGR 7`), plus cursor hiding (`DECTCEM`, ignored where unknown). Boxes are
//! drawn with `+-|` unless the terminal is known to show UTF-8 (then `┌─┐│└┘`). On
//! `TERM=dumb` no control sequence at all is sent: each changed screen is printed as lines
//! (a countdown rewrites its own line with `\r`). Every character from the guest is
//! sanitised: control characters (which could drive the administrator's terminal),
//! characters not one cell wide, and on an ASCII terminal any non-ASCII one, become `?`.

use super::state::{Back, Mode, PromptKind, State};
use std::fmt::Write as _;
use unicode_width::UnicodeWidthChar;

/// Largest screen handled (a bigger terminal is drawn in its top-left corner).
pub const MAX_COLS: usize = 512;
/// Largest screen handled.
pub const MAX_ROWS: usize = 256;

/// How the terminal can show things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// UTF-8 box drawing and arrows.
    pub unicode: bool,
    /// No control sequences at all (`TERM=dumb`).
    pub dumb: bool,
}

impl Profile {
    /// From `TERM` and the locale (`LC_ALL`, `LC_CTYPE`, `LANG`): reading the environment
    /// makes no system call.
    pub fn from_env() -> Profile {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let term = get("TERM").unwrap_or_default();
        let locale = get("LC_ALL")
            .or_else(|| get("LC_CTYPE"))
            .or_else(|| get("LANG"))
            .unwrap_or_default()
            .to_ascii_lowercase();
        Profile::new(&term, &locale)
    }

    /// From a `TERM` value and a locale name.
    pub fn new(term: &str, locale: &str) -> Profile {
        let locale = locale.to_ascii_lowercase();
        let utf8 = locale.contains("utf-8") || locale.contains("utf8");
        let plain = term.is_empty()
            || term == "dumb"
            || term.starts_with("vt")
            || term == "ansi"
            || term == "unknown";
        Profile {
            unicode: utf8 && !plain,
            dumb: term == "dumb",
        }
    }
}

/// One character cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// The character (one column wide).
    pub ch: char,
    /// Reverse video.
    pub rev: bool,
}

const BLANK: Cell = Cell {
    ch: ' ',
    rev: false,
};

/// A screenful.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// Width.
    pub cols: usize,
    /// Height.
    pub rows: usize,
    cells: Vec<Cell>,
    /// Where the cursor is shown (row, column); `None`: hidden.
    pub cursor: Option<(usize, usize)>,
    unicode: bool,
}

/// Make a character safe and one cell wide.
pub fn sanitize(c: char, unicode: bool) -> char {
    if c == '\t' {
        return ' ';
    }
    if c.is_control() {
        return '?';
    }
    if !unicode {
        return if c.is_ascii() { c } else { '?' };
    }
    if c.width() == Some(1) {
        c
    } else {
        '?'
    }
}

impl Screen {
    /// A blank screen.
    pub fn new(cols: usize, rows: usize, unicode: bool) -> Screen {
        let cols = cols.clamp(1, MAX_COLS);
        let rows = rows.clamp(1, MAX_ROWS);
        Screen {
            cols,
            rows,
            cells: vec![BLANK; cols * rows],
            cursor: None,
            unicode,
        }
    }

    /// Put text at (row, col), clipped to the screen; returns the column after it.
    pub fn put(&mut self, row: usize, col: usize, text: &str, rev: bool) -> usize {
        let mut x = col;
        for c in text.chars() {
            if x >= self.cols {
                break;
            }
            self.set(row, x, sanitize(c, self.unicode), rev);
            x += 1;
        }
        x
    }

    /// Set one cell (a character already safe).
    pub fn set(&mut self, row: usize, col: usize, ch: char, rev: bool) {
        if row < self.rows && col < self.cols {
            if let Some(c) = self.cells.get_mut(row * self.cols + col) {
                *c = Cell { ch, rev };
            }
        }
    }

    /// Reverse video over a span.
    pub fn reverse(&mut self, row: usize, from: usize, to: usize) {
        for x in from..to.min(self.cols) {
            if let Some(c) = self.cells.get_mut(row * self.cols + x) {
                c.rev = true;
            }
        }
    }

    /// The cells of a row.
    pub fn row(&self, r: usize) -> &[Cell] {
        self.cells
            .get(r * self.cols..(r + 1) * self.cols)
            .unwrap_or_default()
    }

    /// The text of a row without trailing blanks.
    pub fn row_text(&self, r: usize) -> String {
        let s: String = self.row(r).iter().map(|c| c.ch).collect();
        s.trim_end().to_string()
    }

    /// The whole screen as text (rows without trailing blanks, trailing empty rows dropped).
    pub fn text(&self) -> String {
        let mut rows: Vec<String> = (0..self.rows).map(|r| self.row_text(r)).collect();
        while rows.last().is_some_and(String::is_empty) {
            rows.pop();
        }
        rows.join("\n")
    }

    /// The text of the highlighted (reverse video) cells of a row.
    #[cfg(test)]
    pub fn reversed_text(&self, r: usize) -> String {
        let s: String = self.row(r).iter().filter(|c| c.rev).map(|c| c.ch).collect();
        s.trim().to_string()
    }
}

/// Greedy word wrap.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let len = line.chars().count();
            let need = if len == 0 {
                word.len()
            } else {
                len + 1 + word.len()
            };
            if need <= width {
                if len > 0 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if len > 0 {
                out.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than the line: cut it.
            let rest = word.split_off(width.min(word.len()));
            out.push(word.iter().collect());
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

/// Break a long line into screen-wide pieces (the command line's output).
fn chop(text: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars
        .chunks(width.max(1))
        .map(|c| c.iter().collect())
        .collect()
}

// ---- Layout ----------------------------------------------------------------------------

const HELP_INDENT: usize = 5;
/// Rows 0..=2: blank, title, blank; then the box's top border.
const BOX_TOP: usize = 3;

fn title() -> String {
    format!("rsgrub  version {}", env!("CARGO_PKG_VERSION"))
}

fn help_width(cols: usize) -> usize {
    cols.saturating_sub(2 * HELP_INDENT).max(20)
}

fn menu_help(st: &State<'_>, unicode: bool) -> Vec<String> {
    let (up, down) = if unicode { ('↑', '↓') } else { ('^', 'v') };
    let mut paras = vec![format!(
        "Use the {up} and {down} keys to select which entry is highlighted."
    )];
    if st.legacy_locked() {
        paras.push(
            "Press enter to boot the selected OS or `p' to enter a password to unlock the \
             next set of features."
                .into(),
        );
    } else {
        let mut p = String::from(
            "Press enter to boot the selected OS, `e' to edit the commands before booting or \
             `c' for a command-line.",
        );
        if st.nested() {
            p.push_str(" ESC to return previous menu.");
        }
        paras.push(p);
    }
    let w = help_width(st.cols);
    paras.iter().flat_map(|p| wrap(p, w)).collect()
}

const EDITOR_HELP: &str = "Minimum Emacs-like screen editing is supported. Press Ctrl-x or F10 \
    to boot, Ctrl-c or F2 for a command-line or ESC to discard edits and return to the menu.";

fn editor_help(cols: usize) -> Vec<String> {
    wrap(EDITOR_HELP, help_width(cols))
}

/// Rows of a box, given the help text under it: title area, borders, help, a blank, the
/// countdown / error line, a margin.
fn box_rows(rows: usize, help: usize) -> usize {
    rows.saturating_sub(BOX_TOP + 2 + help + 3).max(1)
}

/// How many menu items are shown at once.
pub fn list_rows(st: &State<'_>) -> usize {
    box_rows(st.rows, menu_help(st, false).len())
}

/// Text width and visible lines of the entry editor.
pub fn editor_geometry(st: &State<'_>) -> (usize, usize) {
    (
        st.cols.saturating_sub(6).max(1),
        box_rows(st.rows, editor_help(st.cols).len()),
    )
}

const APPEND_PROMPT: &str = "grub append> ";
const COMMAND_PROMPT: &str = "grub> ";

/// Width of the `a` line.
pub fn append_width(st: &State<'_>) -> usize {
    st.cols.saturating_sub(APPEND_PROMPT.len() + 2).max(1)
}

/// Width of the command-line input.
pub fn command_width(st: &State<'_>) -> usize {
    st.cols.saturating_sub(COMMAND_PROMPT.len() + 1).max(1)
}

/// Box drawing characters.
struct Glyphs {
    tl: char,
    tr: char,
    bl: char,
    br: char,
    h: char,
    v: char,
    up: char,
    down: char,
    sub: char,
    cut: char,
    left: char,
    right: char,
}

fn glyphs(unicode: bool) -> Glyphs {
    if unicode {
        Glyphs {
            tl: '┌',
            tr: '┐',
            bl: '└',
            br: '┘',
            h: '─',
            v: '│',
            up: '↑',
            down: '↓',
            sub: '→',
            cut: '…',
            left: '←',
            right: '→',
        }
    } else {
        Glyphs {
            tl: '+',
            tr: '+',
            bl: '+',
            br: '+',
            h: '-',
            v: '|',
            up: '^',
            down: 'v',
            sub: '>',
            cut: '$',
            left: '<',
            right: '>',
        }
    }
}

fn header(s: &mut Screen) {
    let t = title();
    let x = s.cols.saturating_sub(t.chars().count()) / 2;
    s.put(1, x, &t, false);
}

/// Draw a box with `inner` rows; returns the row of its bottom border.
fn draw_box(s: &mut Screen, g: &Glyphs, inner: usize) -> usize {
    let left = 1;
    let right = s.cols.saturating_sub(2);
    if right <= left {
        return BOX_TOP + inner + 1;
    }
    let bottom = BOX_TOP + inner + 1;
    for x in left + 1..right {
        s.set(BOX_TOP, x, g.h, false);
        s.set(bottom, x, g.h, false);
    }
    s.set(BOX_TOP, left, g.tl, false);
    s.set(BOX_TOP, right, g.tr, false);
    s.set(bottom, left, g.bl, false);
    s.set(bottom, right, g.br, false);
    for r in BOX_TOP + 1..bottom {
        s.set(r, left, g.v, false);
        s.set(r, right, g.v, false);
    }
    bottom
}

fn draw_help(s: &mut Screen, first_row: usize, lines: &[String]) -> usize {
    for (i, l) in lines.iter().enumerate() {
        s.put(first_row + i, HELP_INDENT, l, false);
    }
    first_row + lines.len()
}

/// The screen for the current state.
pub fn draw(st: &State<'_>, profile: Profile) -> Screen {
    let mut s = Screen::new(st.cols, st.rows, profile.unicode);
    let g = glyphs(profile.unicode);
    match st.mode() {
        Mode::Menu => draw_menu(st, &mut s, &g, None),
        Mode::Prompt(p) if p.kind == PromptKind::Legacy => {
            let line = format!("Password: {}", "*".repeat(p.input.chars().count()));
            draw_menu(st, &mut s, &g, Some(line));
        }
        Mode::Prompt(p) => {
            let mut lines = p.shown.clone();
            let cur = match &p.kind {
                PromptKind::Username => format!("Enter username: {}", p.input),
                _ => "Enter password: ".to_string(),
            };
            lines.push(cur.clone());
            for (i, l) in lines.iter().enumerate() {
                s.put(i, 0, l, false);
            }
            let row = lines.len().saturating_sub(1);
            s.cursor = Some((row, cur.chars().count().min(s.cols - 1)));
        }
        Mode::Message(lines) => {
            let mut r = 0;
            for l in lines {
                for piece in wrap(l, s.cols.saturating_sub(1)) {
                    s.put(r, 0, &piece, false);
                    r += 1;
                }
            }
        }
        Mode::Editor { ed, .. } => {
            header(&mut s);
            let (w, h) = editor_geometry(st);
            let bottom = draw_box(&mut s, &g, h);
            for i in 0..h {
                let idx = ed.top + i;
                let Some(line) = ed.lines.get(idx) else { break };
                let current = idx == ed.row;
                let (text, cur, more_left, more_right) = line.view(w, current);
                let row = BOX_TOP + 1 + i;
                s.put(row, 3, &text, false);
                if more_left {
                    s.set(row, 2, g.left, false);
                }
                if more_right {
                    s.set(row, s.cols.saturating_sub(3), g.right, false);
                }
                if let Some(c) = cur {
                    s.cursor = Some((row, 3 + c));
                }
            }
            if ed.top > 0 {
                s.set(BOX_TOP + 1, s.cols.saturating_sub(2), g.up, false);
            }
            if ed.top + h < ed.lines.len() {
                s.set(BOX_TOP + h, s.cols.saturating_sub(2), g.down, false);
            }
            let end = draw_help(&mut s, bottom + 1, &editor_help(st.cols));
            if let Some(e) = &ed.error {
                s.put(end + 1, HELP_INDENT, e, false);
            }
        }
        Mode::Append(a) => {
            header(&mut s);
            let intro = format!(
                "Edit the kernel command line of `{}', then press enter to boot it, or ESC \
                 to return to the menu.",
                a.entry.title
            );
            let mut r = BOX_TOP;
            for l in wrap(&intro, s.cols.saturating_sub(2)) {
                s.put(r, 1, &l, false);
                r += 1;
            }
            r += 1;
            let x = s.put(r, 1, APPEND_PROMPT, false);
            let (text, cur, more_left, more_right) = a.line.view(append_width(st), true);
            s.put(r, x, &text, false);
            if more_left {
                s.set(r, x.saturating_sub(1), g.left, false);
            }
            if more_right {
                s.set(r, s.cols.saturating_sub(1), g.right, false);
            }
            s.cursor = cur.map(|c| (r, x + c));
        }
        Mode::Command(c) => {
            let width = s.cols.saturating_sub(1).max(1);
            let mut lines: Vec<String> = wrap(
                "Minimal BASH-like line editing is supported. Type `help' for the commands. \
                 ESC at any time exits.",
                width.saturating_sub(2),
            )
            .into_iter()
            .map(|l| format!("  {l}"))
            .collect();
            if let Back::Editor(..) = c.back {
                lines.push("  (ESC returns to the entry editor.)".into());
            }
            lines.push(String::new());
            // Only the tail can be on screen: wrap just enough of it.
            let mut tail: Vec<String> = Vec::new();
            for l in c.output.iter().rev() {
                let mut pieces = chop(l, width);
                pieces.reverse();
                tail.extend(pieces);
                if tail.len() >= s.rows {
                    break;
                }
            }
            tail.reverse();
            lines.extend(tail);
            let (text, cur, more_left, _) = c.input.view(command_width(st), true);
            let prompt_line = format!("{COMMAND_PROMPT}{text}");
            lines.push(prompt_line);
            let skip = lines.len().saturating_sub(s.rows);
            for (i, l) in lines.iter().skip(skip).enumerate() {
                s.put(i, 0, l, false);
            }
            let row = lines.len() - skip - 1;
            if more_left {
                s.set(row, COMMAND_PROMPT.len().saturating_sub(1), g.left, false);
            }
            s.cursor = cur.map(|c| (row, COMMAND_PROMPT.len() + c));
        }
    }
    s
}

fn draw_menu(st: &State<'_>, s: &mut Screen, g: &Glyphs, prompt: Option<String>) {
    header(s);
    let rows = list_rows(st);
    let bottom = draw_box(s, g, rows);
    let items = st.items();
    let level = st.level();
    let right = s.cols.saturating_sub(2);
    let text_w = s.cols.saturating_sub(6);
    for i in 0..rows {
        let idx = level.top + i;
        let Some(item) = items.get(idx) else { break };
        let row = BOX_TOP + 1 + i;
        let sel = idx == level.selected;
        s.set(row, 2, if sel { '*' } else { ' ' }, false);
        // At most a screen's width of a (possibly huge, hostile) title.
        let title: Vec<char> = item.title().chars().take(text_w + 1).collect();
        if title.len() > text_w {
            let shown: String = title.iter().take(text_w.saturating_sub(1)).collect();
            let x = s.put(row, 3, &shown, false);
            s.set(row, x, g.cut, false);
        } else {
            s.put(row, 3, &title.iter().collect::<String>(), false);
        }
        if matches!(item, rsgrub_bootcfg::Item::Submenu(_)) {
            s.set(row, s.cols.saturating_sub(3), g.sub, false);
        }
        if sel {
            s.reverse(row, 2, right);
        }
    }
    if level.top > 0 {
        s.set(BOX_TOP + 1, right, g.up, false);
    }
    if level.top + rows < items.len() {
        s.set(BOX_TOP + rows, right, g.down, false);
    }
    let help_row = bottom + 1;
    match prompt {
        Some(p) => {
            s.put(help_row, HELP_INDENT, &p, false);
            s.cursor = Some((help_row, (HELP_INDENT + p.chars().count()).min(s.cols - 1)));
        }
        None => {
            let end = draw_help(s, help_row, &menu_help(st, s.unicode));
            if let Some(t) = st.countdown {
                let secs = t.div_ceil(10);
                s.put(
                    end + 1,
                    HELP_INDENT,
                    &format!("The highlighted entry will be booted automatically in {secs}s."),
                    false,
                );
            }
        }
    }
}

// ---- Output ----------------------------------------------------------------------------

/// Turns successive screens into terminal bytes, sending only what changed.
#[derive(Debug, Default)]
pub struct Writer {
    prev: Option<Screen>,
    dumb: bool,
}

impl Writer {
    /// A writer for a terminal of this kind.
    pub fn new(profile: Profile) -> Writer {
        Writer {
            prev: None,
            dumb: profile.dumb,
        }
    }

    /// The bytes that turn the terminal's screen into `s` (`full`: redraw everything).
    pub fn frame(&mut self, s: &Screen, full: bool) -> Vec<u8> {
        let out = if self.dumb {
            self.frame_dumb(s, full)
        } else {
            self.frame_ansi(s, full)
        };
        self.prev = Some(s.clone());
        out
    }

    fn frame_ansi(&self, s: &Screen, full: bool) -> Vec<u8> {
        let prev = self
            .prev
            .as_ref()
            .filter(|p| !full && p.cols == s.cols && p.rows == s.rows);
        let mut out = String::new();
        if prev.is_none() {
            out.push_str("\x1b[0m\x1b[H\x1b[2J");
        }
        let mut changed = prev.is_none();
        for r in 0..s.rows {
            let row = s.row(r);
            if let Some(p) = prev {
                if p.row(r) == row {
                    continue;
                }
            }
            changed = true;
            // Never write the bottom-right cell: some terminals scroll then.
            let limit = if r + 1 == s.rows { s.cols - 1 } else { s.cols };
            let cells = row.get(..limit).unwrap_or(row);
            let end = cells.iter().rposition(|c| *c != BLANK).map_or(0, |i| i + 1);
            let _ = write!(out, "\x1b[{};1H", r + 1);
            let mut rev = false;
            for c in cells.get(..end).unwrap_or_default() {
                if c.rev != rev {
                    out.push_str(if c.rev { "\x1b[7m" } else { "\x1b[0m" });
                    rev = c.rev;
                }
                out.push(c.ch);
            }
            if rev {
                out.push_str("\x1b[0m");
            }
            if end < s.cols {
                out.push_str("\x1b[K");
            }
        }
        let cursor_changed = match prev {
            Some(p) => p.cursor != s.cursor,
            None => true,
        };
        if changed || cursor_changed {
            match s.cursor {
                Some((r, c)) => {
                    let _ = write!(out, "\x1b[{};{}H\x1b[?25h", r + 1, c + 1);
                }
                None => out.push_str("\x1b[?25l"),
            }
        }
        out.into_bytes()
    }

    fn frame_dumb(&self, s: &Screen, full: bool) -> Vec<u8> {
        let lines: Vec<String> = s.text().split('\n').map(str::to_string).collect();
        let prev: Option<Vec<String>> = self
            .prev
            .as_ref()
            .filter(|_| !full)
            .map(|p| p.text().split('\n').map(str::to_string).collect());
        if prev.as_ref() == Some(&lines) {
            return Vec::new();
        }
        if let Some(p) = &prev {
            // Only the last line changed (a countdown): rewrite it in place.
            if p.len() == lines.len()
                && p.get(..p.len().saturating_sub(1)) == lines.get(..lines.len().saturating_sub(1))
            {
                let old = p.last().map_or(0, |l| l.chars().count());
                let new = lines.last().cloned().unwrap_or_default();
                let pad = old.saturating_sub(new.chars().count());
                return format!("\r{new}{}", " ".repeat(pad)).into_bytes();
            }
        }
        format!("\r\n{}", lines.join("\r\n")).into_bytes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn profiles() {
        assert_eq!(
            Profile::new("vt100", "en_US.UTF-8"),
            Profile {
                unicode: false,
                dumb: false
            }
        );
        assert!(Profile::new("xterm-256color", "en_US.UTF-8").unicode);
        assert!(Profile::new("linux", "C.utf8").unicode);
        assert!(!Profile::new("xterm", "C").unicode);
        assert!(!Profile::new("xterm", "").unicode);
        assert!(Profile::new("dumb", "en_US.UTF-8").dumb);
        assert!(!Profile::new("dumb", "en_US.UTF-8").unicode);
    }

    #[test]
    fn sanitising() {
        assert_eq!(sanitize('\x1b', true), '?');
        assert_eq!(sanitize('\u{9b}', true), '?');
        assert_eq!(sanitize('é', false), '?');
        assert_eq!(sanitize('é', true), 'é');
        assert_eq!(sanitize('漢', true), '?');
        assert_eq!(sanitize('\u{202e}', true), '?');
        assert_eq!(sanitize('\u{301}', true), '?');
        let mut s = Screen::new(10, 2, false);
        s.put(0, 0, "a\x1b[2Jb", false);
        assert_eq!(s.row_text(0), "a?[2Jb");
    }

    #[test]
    fn wrapping() {
        assert_eq!(wrap("aaa bbb ccc", 8), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap("abcdefghijkl", 8), vec!["abcdefgh", "ijkl"]);
        assert_eq!(wrap("", 8), vec![""]);
    }

    #[test]
    fn ansi_diff_sends_only_changes() {
        let mut w = Writer::new(Profile::new("vt100", ""));
        let mut s = Screen::new(20, 5, false);
        s.put(1, 2, "hello", false);
        s.reverse(1, 2, 7);
        let first = String::from_utf8(w.frame(&s, false)).unwrap();
        assert!(first.starts_with("\x1b[0m\x1b[H\x1b[2J"));
        assert!(first.contains("\x1b[2;1H  \x1b[7mhello\x1b[0m\x1b[K"));
        assert!(w.frame(&s, false).is_empty());
        let mut t = s.clone();
        t.put(3, 0, "x", false);
        let diff = String::from_utf8(w.frame(&t, false)).unwrap();
        assert_eq!(diff, "\x1b[4;1Hx\x1b[K\x1b[?25l");
        // The bottom-right cell is never written.
        let mut u = t.clone();
        u.put(4, 0, &"y".repeat(20), false);
        let diff = String::from_utf8(w.frame(&u, false)).unwrap();
        assert!(diff.contains(&format!("\x1b[5;1H{}", "y".repeat(19))));
        assert!(!diff.contains(&"y".repeat(20)));
    }

    #[test]
    fn dumb_terminal_gets_plain_lines() {
        let mut w = Writer::new(Profile::new("dumb", ""));
        let mut s = Screen::new(20, 5, false);
        s.put(0, 0, "menu", false);
        s.put(2, 0, "in 5s", false);
        let a = w.frame(&s, false);
        assert_eq!(a, b"\r\nmenu\r\n\r\nin 5s");
        s.put(2, 0, "in 4s", false);
        assert_eq!(w.frame(&s, false), b"\rin 4s");
        assert!(w.frame(&s, false).is_empty());
        assert!(!a.contains(&0x1b));
    }
}
