//! The line editor (one line, horizontally scrolled) and GRUB 2's full-screen entry editor
//! built from it.
//!
//! Line keys, as PyGrub documents them and GRUB has them: ← / ^B, → / ^F, Home / ^A,
//! End / ^E, Backspace / ^H, Delete / ^D, ^K (kill to the end), ^U (kill to the start),
//! printable characters insert. The entry editor adds ↑ / ^P, ↓ / ^N, Enter (split the
//! line), ^O (open a line), PgUp/PgDn, and joins lines at their ends with Backspace,
//! Delete and ^K, as GRUB's `menu_entry.c` does.

use super::keys::Key;

/// Longest line typing can make, in characters (what is loaded is bounded by the config's
/// size, and never cut: an unchanged entry must read back as it was).
pub const MAX_LINE: usize = 4096;
/// Most lines Enter can make in the entry editor (likewise).
pub const MAX_LINES: usize = 256;

/// One editable line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineEdit {
    chars: Vec<char>,
    cursor: usize,
    /// First character shown (horizontal scroll).
    offset: usize,
}

impl LineEdit {
    /// A line with the cursor at its end.
    pub fn new(s: &str) -> Self {
        let chars: Vec<char> = s.chars().collect();
        let cursor = chars.len();
        LineEdit {
            chars,
            cursor,
            offset: 0,
        }
    }

    /// The text.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Cursor position (characters).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Move the cursor (clamped).
    pub fn set_cursor(&mut self, c: usize) {
        self.cursor = c.min(self.chars.len());
    }

    /// Insert a character at the cursor (printable only; the line is bounded).
    pub fn insert(&mut self, c: char) {
        if c.is_control() || self.chars.len() >= MAX_LINE {
            return;
        }
        let at = self.cursor.min(self.chars.len());
        self.chars.insert(at, c);
        self.cursor = at + 1;
    }

    /// Text from the cursor on, removed.
    pub fn split_off(&mut self) -> String {
        let at = self.cursor.min(self.chars.len());
        self.chars.split_off(at).into_iter().collect()
    }

    /// Append text (joining lines: nothing is lost, and the total is what was loaded and
    /// typed, both bounded).
    pub fn append(&mut self, s: &str) {
        self.chars.extend(s.chars());
    }

    /// Handle a line-editing key; `false` if the key is not one.
    pub fn handle(&mut self, k: Key) -> bool {
        let len = self.chars.len();
        match k {
            Key::Left | Key::Ctrl(b'b') => self.cursor = self.cursor.saturating_sub(1),
            Key::Right | Key::Ctrl(b'f') => self.cursor = (self.cursor + 1).min(len),
            Key::Home | Key::Ctrl(b'a') => self.cursor = 0,
            Key::End | Key::Ctrl(b'e') => self.cursor = len,
            Key::Backspace => {
                if self.cursor > 0 && self.cursor <= len {
                    self.cursor -= 1;
                    self.chars.remove(self.cursor);
                }
            }
            Key::Delete | Key::Ctrl(b'd') => {
                if self.cursor < len {
                    self.chars.remove(self.cursor);
                }
            }
            Key::Ctrl(b'k') => self.chars.truncate(self.cursor),
            Key::Ctrl(b'u') => {
                let at = self.cursor.min(len);
                self.chars.drain(..at);
                self.cursor = 0;
            }
            Key::Char(c) => self.insert(c),
            _ => return false,
        }
        true
    }

    /// Keep the cursor inside a window of `width` characters (call after each key).
    pub fn scroll(&mut self, width: usize) {
        self.offset = self.start(width);
    }

    /// The first character shown in a window of `width`, keeping the cursor visible.
    pub fn start(&self, width: usize) -> usize {
        let width = width.max(1);
        let mut off = self.offset.min(self.chars.len());
        if self.cursor < off {
            off = self.cursor;
        } else if self.cursor >= off + width {
            off = self.cursor + 1 - width;
        }
        off
    }

    /// What a window of `width` shows: the text, the cursor column (if the cursor is in the
    /// window), and whether text is hidden on the left / right.
    pub fn view(&self, width: usize, with_cursor: bool) -> (String, Option<usize>, bool, bool) {
        let start = if with_cursor { self.start(width) } else { 0 };
        let shown: String = self.chars.iter().skip(start).take(width).collect();
        let right = self.chars.len() > start + width;
        let cur = with_cursor.then(|| self.cursor.saturating_sub(start));
        (shown, cur, start > 0, right)
    }
}

/// What an entry-editor key asks of the menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorAction {
    /// Keep editing.
    None,
    /// Ctrl-X / F10: boot the edited entry.
    Boot,
    /// Ctrl-C / F2: open the command line.
    CommandLine,
    /// Esc: discard the edits.
    Discard,
}

/// GRUB 2's entry editor: a box of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryEditor {
    /// The lines.
    pub lines: Vec<LineEdit>,
    /// Current line.
    pub row: usize,
    /// First line shown.
    pub top: usize,
    /// Lines as first shown (unchanged lines boot the entry exactly as it was).
    pub original: Vec<String>,
    /// The error of the last boot attempt.
    pub error: Option<String>,
}

impl EntryEditor {
    /// An editor on these lines, the cursor at the start of the first.
    pub fn new(lines: Vec<String>) -> Self {
        let mut l: Vec<LineEdit> = lines.iter().map(|s| LineEdit::new(s)).collect();
        if l.is_empty() {
            l.push(LineEdit::new(""));
        }
        // GRUB starts at the beginning of the first line.
        if let Some(first) = l.first_mut() {
            first.set_cursor(0);
        }
        EntryEditor {
            lines: l,
            row: 0,
            top: 0,
            original: lines,
            error: None,
        }
    }

    /// The current text, one string per line.
    pub fn text(&self) -> Vec<String> {
        self.lines.iter().map(LineEdit::text).collect()
    }

    /// Whether nothing was changed.
    pub fn unchanged(&self) -> bool {
        let now = self.text();
        let trim = |v: &[String]| {
            let mut v: Vec<String> = v.iter().map(|s| s.trim_end().to_string()).collect();
            while v.last().is_some_and(String::is_empty) {
                v.pop();
            }
            v
        };
        trim(&now) == trim(&self.original)
    }

    fn cur(&mut self) -> Option<&mut LineEdit> {
        self.lines.get_mut(self.row)
    }

    fn goto_row(&mut self, row: usize) {
        let col = self.lines.get(self.row).map_or(0, LineEdit::cursor);
        self.row = row.min(self.lines.len().saturating_sub(1));
        if let Some(l) = self.cur() {
            l.set_cursor(col);
        }
    }

    /// Handle a key; `width` is the text width of a line, `height` the lines shown.
    pub fn handle(&mut self, k: Key, width: usize, height: usize) -> EditorAction {
        match k {
            Key::Ctrl(b'x') | Key::F(10) => return EditorAction::Boot,
            Key::Ctrl(b'c') | Key::F(2) => return EditorAction::CommandLine,
            Key::Esc => return EditorAction::Discard,
            Key::Up | Key::Ctrl(b'p') => self.goto_row(self.row.saturating_sub(1)),
            Key::Down | Key::Ctrl(b'n') => self.goto_row(self.row + 1),
            Key::PageUp => self.goto_row(self.row.saturating_sub(height.max(1))),
            Key::PageDown => self.goto_row(self.row + height.max(1)),
            Key::Enter | Key::Ctrl(b'o') => {
                if self.lines.len() < MAX_LINES {
                    let stay = k == Key::Ctrl(b'o');
                    if let Some(l) = self.cur() {
                        let rest = l.split_off();
                        let mut new = LineEdit::new(&rest);
                        new.set_cursor(0);
                        self.lines.insert(self.row + 1, new);
                        if !stay {
                            self.row += 1;
                        }
                    }
                }
            }
            Key::Backspace if self.lines.get(self.row).is_some_and(|l| l.cursor() == 0) => {
                if self.row > 0 {
                    let line = self.lines.remove(self.row);
                    self.row -= 1;
                    if let Some(prev) = self.cur() {
                        let at = prev.len();
                        prev.append(&line.text());
                        prev.set_cursor(at);
                    }
                }
            }
            Key::Left | Key::Ctrl(b'b')
                if self.lines.get(self.row).is_some_and(|l| l.cursor() == 0) && self.row > 0 =>
            {
                self.row -= 1;
                if let Some(l) = self.cur() {
                    l.set_cursor(usize::MAX);
                }
            }
            Key::Right | Key::Ctrl(b'f')
                if self
                    .lines
                    .get(self.row)
                    .is_some_and(|l| l.cursor() == l.len())
                    && self.row + 1 < self.lines.len() =>
            {
                self.row += 1;
                if let Some(l) = self.cur() {
                    l.set_cursor(0);
                }
            }
            Key::Delete | Key::Ctrl(b'd') | Key::Ctrl(b'k')
                if self
                    .lines
                    .get(self.row)
                    .is_some_and(|l| l.cursor() == l.len())
                    && self.row + 1 < self.lines.len() =>
            {
                let next = self.lines.remove(self.row + 1);
                if let Some(l) = self.cur() {
                    let at = l.cursor();
                    l.append(&next.text());
                    l.set_cursor(at);
                }
            }
            other => {
                if let Some(l) = self.cur() {
                    l.handle(other);
                }
            }
        }
        if let Some(l) = self.cur() {
            l.scroll(width);
        }
        let height = height.max(1);
        if self.row < self.top {
            self.top = self.row;
        } else if self.row >= self.top + height {
            self.top = self.row + 1 - height;
        }
        EditorAction::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(l: &mut LineEdit, s: &str) {
        for c in s.chars() {
            l.handle(Key::Char(c));
        }
    }

    #[test]
    fn line_keys() {
        let mut l = LineEdit::new("ro quiet");
        typed(&mut l, " single");
        assert_eq!(l.text(), "ro quiet single");
        l.handle(Key::Ctrl(b'a'));
        l.handle(Key::Ctrl(b'd'));
        l.handle(Key::Ctrl(b'd'));
        assert_eq!(l.text(), " quiet single");
        l.handle(Key::Ctrl(b'f'));
        l.handle(Key::Ctrl(b'k'));
        assert_eq!(l.text(), " ");
        l.handle(Key::Backspace);
        l.handle(Key::Backspace);
        assert_eq!(l.text(), "");
        typed(&mut l, "abc");
        l.handle(Key::Ctrl(b'b'));
        l.handle(Key::Left);
        typed(&mut l, "X");
        l.handle(Key::Ctrl(b'e'));
        typed(&mut l, "Y");
        assert_eq!(l.text(), "aXbcY");
        l.handle(Key::Home);
        l.handle(Key::Right);
        l.handle(Key::Ctrl(b'u'));
        assert_eq!(l.text(), "XbcY");
        assert!(!l.handle(Key::Enter));
    }

    #[test]
    fn horizontal_scroll() {
        let long: String = (0..100)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let mut l = LineEdit::new(&long);
        l.scroll(10);
        let (shown, cur, left, right) = l.view(10, true);
        // The cursor sits after the last character: 9 characters and the cursor cell.
        assert_eq!(shown.chars().count(), 9);
        assert_eq!(cur, Some(9));
        assert!(left && !right);
        assert!(long.ends_with(&shown));
        l.handle(Key::Home);
        l.scroll(10);
        let (shown, cur, left, right) = l.view(10, true);
        assert_eq!(shown, "abcdefghij");
        assert_eq!(cur, Some(0));
        assert!(!left && right);
        // Typing is bounded; what was loaded is kept whole.
        let mut big = LineEdit::new(&"x".repeat(MAX_LINE + 10));
        assert_eq!(big.len(), MAX_LINE + 10);
        big.handle(Key::Char('y'));
        assert_eq!(big.len(), MAX_LINE + 10);
        let mut l = LineEdit::new(&"x".repeat(MAX_LINE - 1));
        l.handle(Key::Char('y'));
        l.handle(Key::Char('y'));
        assert_eq!(l.len(), MAX_LINE);
    }

    #[test]
    fn entry_editor_lines() {
        let mut e = EntryEditor::new(vec!["linux /k ro".into(), "initrd /i".into()]);
        assert!(e.unchanged());
        assert_eq!(e.handle(Key::Down, 70, 10), EditorAction::None);
        assert_eq!(e.row, 1);
        e.handle(Key::Ctrl(b'a'), 70, 10);
        e.handle(Key::Backspace, 70, 10);
        assert_eq!(e.text(), vec!["linux /k roinitrd /i"]);
        e.handle(Key::Enter, 70, 10);
        assert_eq!(e.text(), vec!["linux /k ro", "initrd /i"]);
        assert!(e.unchanged());
        e.handle(Key::Up, 70, 10);
        e.handle(Key::End, 70, 10);
        e.handle(Key::Ctrl(b'k'), 70, 10);
        assert_eq!(e.text(), vec!["linux /k roinitrd /i"]);
        assert!(!e.unchanged());
        assert_eq!(e.handle(Key::Ctrl(b'x'), 70, 10), EditorAction::Boot);
        assert_eq!(e.handle(Key::F(10), 70, 10), EditorAction::Boot);
        assert_eq!(e.handle(Key::F(2), 70, 10), EditorAction::CommandLine);
        assert_eq!(e.handle(Key::Esc, 70, 10), EditorAction::Discard);
        // Scrolling follows the cursor line.
        let mut e = EntryEditor::new((0..30).map(|i| format!("line {i}")).collect());
        for _ in 0..20 {
            e.handle(Key::Down, 70, 10);
        }
        assert_eq!((e.row, e.top), (20, 11));
    }
}
