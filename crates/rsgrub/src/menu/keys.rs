//! Terminal input bytes → key events.
//!
//! Understands what vt100, xterm, the Linux console, rxvt and screen/tmux send: C0 control
//! bytes, UTF-8, `ESC [ … final` (CSI) and `ESC O x` (SS3) sequences, the Linux console's
//! `ESC [ [ A`..`E` function keys. A sequence may arrive split across reads (the libxl pty
//! bridged through xenconsoled does that): the decoder keeps the partial bytes, and a lone
//! `ESC` only becomes the Escape key when [`Decoder::flush`] is called after a short quiet
//! period ([`ESCAPE_TIMEOUT`]).

use std::time::Duration;

/// How long a lone `ESC` waits for the rest of a sequence before it is the Escape key.
pub const ESCAPE_TIMEOUT: Duration = Duration::from_millis(100);

/// Longest escape sequence kept; a longer one is dropped as garbage.
const MAX_SEQUENCE: usize = 32;

/// A key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable character.
    Char(char),
    /// Control + a letter (`Ctrl(b'a')` for ^A), other than the ones named below.
    Ctrl(u8),
    /// Enter (CR or LF).
    Enter,
    /// Escape.
    Esc,
    /// Tab.
    Tab,
    /// Backspace (DEL or ^H).
    Backspace,
    /// Delete (forward).
    Delete,
    /// Insert.
    Insert,
    /// ↑
    Up,
    /// ↓
    Down,
    /// ←
    Left,
    /// →
    Right,
    /// Home
    Home,
    /// End
    End,
    /// Page Up
    PageUp,
    /// Page Down
    PageDown,
    /// F1..F12.
    F(u8),
}

/// Incremental decoder of terminal input.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
}

impl Decoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether bytes of an unfinished sequence are waiting (the caller then polls with
    /// [`ESCAPE_TIMEOUT`] and calls [`flush`](Self::flush) when nothing more comes).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Feed bytes; returns the complete keys they finish.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Key> {
        self.pending.extend_from_slice(bytes);
        let mut keys = Vec::new();
        loop {
            match parse(&self.pending) {
                Parsed::Key(k, n) => {
                    keys.push(k);
                    self.pending.drain(..n.min(self.pending.len()));
                }
                Parsed::Skip(n) => {
                    self.pending.drain(..n.min(self.pending.len()));
                }
                Parsed::Incomplete => {
                    if self.pending.len() > MAX_SEQUENCE {
                        // Garbage that never ends: drop it.
                        self.pending.clear();
                    }
                    break;
                }
                Parsed::Empty => break,
            }
        }
        keys
    }

    /// The quiet period after a partial sequence passed: a lone `ESC` is the Escape key, an
    /// `ESC x` pair is Escape then `x`; other partial sequences are dropped.
    pub fn flush(&mut self) -> Vec<Key> {
        let pending = std::mem::take(&mut self.pending);
        let mut keys = Vec::new();
        match pending.as_slice() {
            [] => {}
            [0x1b] => keys.push(Key::Esc),
            [0x1b, rest @ ..] if !matches!(rest.first(), Some(b'[' | b'O')) => {
                keys.push(Key::Esc);
                keys.extend(self.feed(rest));
            }
            // `ESC [` or `ESC O` alone: the user pressed Escape then `[`/`O`.
            [0x1b, b] if *b == b'[' || *b == b'O' => {
                keys.push(Key::Esc);
                keys.push(Key::Char(char::from(*b)));
            }
            [0x1b, ..] => {}
            // A partial UTF-8 character that never completed.
            _ => {}
        }
        keys
    }
}

enum Parsed {
    Key(Key, usize),
    Skip(usize),
    Incomplete,
    Empty,
}

fn parse(b: &[u8]) -> Parsed {
    let Some(&first) = b.first() else {
        return Parsed::Empty;
    };
    match first {
        0x1b => parse_escape(b),
        b'\r' | b'\n' => {
            // CR LF (some terminals in some modes): one Enter.
            if first == b'\r' && b.get(1) == Some(&b'\n') {
                Parsed::Key(Key::Enter, 2)
            } else {
                Parsed::Key(Key::Enter, 1)
            }
        }
        b'\t' => Parsed::Key(Key::Tab, 1),
        0x7f | 0x08 => Parsed::Key(Key::Backspace, 1),
        0x00 => Parsed::Skip(1),
        0x01..=0x1a => Parsed::Key(Key::Ctrl(first - 1 + b'a'), 1),
        0x1c..=0x1f => Parsed::Skip(1),
        0x20..=0x7e => Parsed::Key(Key::Char(char::from(first)), 1),
        _ => parse_utf8(b),
    }
}

fn parse_utf8(b: &[u8]) -> Parsed {
    let Some(&first) = b.first() else {
        return Parsed::Empty;
    };
    let len = match first {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return Parsed::Skip(1),
    };
    if b.len() < len {
        // All continuation bytes so far must be valid, else skip the lead byte now.
        if b.iter().skip(1).all(|c| (0x80..0xc0).contains(c)) {
            return Parsed::Incomplete;
        }
        return Parsed::Skip(1);
    }
    let Some(bytes) = b.get(..len) else {
        return Parsed::Incomplete;
    };
    match std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.chars().next())
    {
        Some(c) if !c.is_control() => Parsed::Key(Key::Char(c), len),
        Some(_) => Parsed::Skip(len),
        None => Parsed::Skip(1),
    }
}

fn parse_escape(b: &[u8]) -> Parsed {
    match b.get(1) {
        None => Parsed::Incomplete,
        Some(b'[') => parse_csi(b),
        Some(b'O') => match b.get(2) {
            None => Parsed::Incomplete,
            Some(&c) => match ss3_key(c) {
                Some(k) => Parsed::Key(k, 3),
                None => Parsed::Skip(3),
            },
        },
        // ESC ESC: the first one is Escape.
        Some(0x1b) => Parsed::Key(Key::Esc, 1),
        // Alt+key or Escape typed quickly before a key: Escape, then the key.
        Some(_) => Parsed::Key(Key::Esc, 1),
    }
}

fn ss3_key(c: u8) -> Option<Key> {
    Some(match c {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        b'P' => Key::F(1),
        b'Q' => Key::F(2),
        b'R' => Key::F(3),
        b'S' => Key::F(4),
        // Keypad Enter in application mode.
        b'M' => Key::Enter,
        _ => return None,
    })
}

fn parse_csi(b: &[u8]) -> Parsed {
    // Linux console: ESC [ [ A..E = F1..F5.
    if b.get(2) == Some(&b'[') {
        return match b.get(3) {
            None => Parsed::Incomplete,
            Some(&c @ b'A'..=b'E') => Parsed::Key(Key::F(c - b'A' + 1), 4),
            Some(_) => Parsed::Skip(4),
        };
    }
    // Parameter and intermediate bytes 0x20..=0x3f, then a final byte 0x40..=0x7e.
    let mut i = 2;
    loop {
        let Some(&c) = b.get(i) else {
            return Parsed::Incomplete;
        };
        if (0x40..=0x7e).contains(&c) {
            break;
        }
        if !(0x20..=0x3f).contains(&c) {
            // Not a CSI sequence after all: drop `ESC [` and go on with this byte.
            return Parsed::Skip(i);
        }
        i += 1;
        if i > MAX_SEQUENCE {
            return Parsed::Skip(i);
        }
    }
    let len = i + 1;
    let params = b.get(2..i).unwrap_or_default();
    let fin = b.get(i).copied().unwrap_or(0);
    // The first parameter (modifiers after `;` are ignored).
    let first: Option<u32> = std::str::from_utf8(params)
        .ok()
        .and_then(|p| p.split(';').next())
        .and_then(|p| p.parse().ok());
    let key = match fin {
        b'A' => Some(Key::Up),
        b'B' => Some(Key::Down),
        b'C' => Some(Key::Right),
        b'D' => Some(Key::Left),
        b'H' => Some(Key::Home),
        b'F' => Some(Key::End),
        b'P' if params.is_empty() || first == Some(1) => Some(Key::F(1)),
        b'Q' if params.is_empty() || first == Some(1) => Some(Key::F(2)),
        b'R' if params.is_empty() || first == Some(1) => Some(Key::F(3)),
        b'S' if params.is_empty() || first == Some(1) => Some(Key::F(4)),
        b'~' => match first {
            Some(1 | 7) => Some(Key::Home),
            Some(2) => Some(Key::Insert),
            Some(3) => Some(Key::Delete),
            Some(4 | 8) => Some(Key::End),
            Some(5) => Some(Key::PageUp),
            Some(6) => Some(Key::PageDown),
            Some(n @ 11..=15) => u8::try_from(n - 10).ok().map(Key::F),
            Some(n @ 17..=21) => u8::try_from(n - 11).ok().map(Key::F),
            Some(n @ 23..=24) => u8::try_from(n - 12).ok().map(Key::F),
            _ => None,
        },
        _ => None,
    };
    match key {
        Some(k) => Parsed::Key(k, len),
        None => Parsed::Skip(len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte noise in random chunk sizes (a console can deliver anything): no panic, pending
    /// bytes stay bounded, and a flush always empties the decoder.
    #[test]
    fn random_bytes_never_panic_and_pending_stays_small() {
        let mut x = 0x243F_6A88_85A3_08D3u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..2_000 {
            let mut d = Decoder::new();
            for _ in 0..32 {
                let n = (next() % 9) as usize;
                // Bias towards ESC and CSI bytes so half-sequences are common.
                let chunk: Vec<u8> = (0..n)
                    .map(|_| match next() % 4 {
                        0 => 0x1b,
                        1 => b'[',
                        _ => next() as u8,
                    })
                    .collect();
                let _ = d.feed(&chunk);
                assert!(d.pending.len() <= 64, "{} bytes pending", d.pending.len());
            }
            let _ = d.flush();
            assert!(!d.has_pending());
        }
        // An endless CSI parameter string is cut at MAX_SEQUENCE, not buffered.
        let mut d = Decoder::new();
        let _ = d.feed(b"\x1b[");
        for _ in 0..1000 {
            let _ = d.feed(b"1");
            assert!(d.pending.len() <= MAX_SEQUENCE + 1);
        }
    }

    fn keys(b: &[u8]) -> Vec<Key> {
        let mut d = Decoder::new();
        let mut k = d.feed(b);
        k.extend(d.flush());
        k
    }

    #[test]
    fn plain_and_control() {
        assert_eq!(
            keys(b"a\r\x7f\x08\x01\x18\t"),
            vec![
                Key::Char('a'),
                Key::Enter,
                Key::Backspace,
                Key::Backspace,
                Key::Ctrl(b'a'),
                Key::Ctrl(b'x'),
                Key::Tab
            ]
        );
        assert_eq!(keys(b"\r\n"), vec![Key::Enter]);
        assert_eq!(keys("é€".as_bytes()), vec![Key::Char('é'), Key::Char('€')]);
    }

    #[test]
    fn sequences_of_every_terminal() {
        assert_eq!(
            keys(b"\x1b[A\x1bOB\x1b[C\x1bOD"),
            vec![Key::Up, Key::Down, Key::Right, Key::Left]
        );
        assert_eq!(
            keys(b"\x1b[1~\x1b[4~\x1b[H\x1b[F\x1bOH\x1bOF\x1b[7~\x1b[8~"),
            vec![
                Key::Home,
                Key::End,
                Key::Home,
                Key::End,
                Key::Home,
                Key::End,
                Key::Home,
                Key::End
            ]
        );
        assert_eq!(
            keys(b"\x1b[5~\x1b[6~\x1b[3~\x1b[2~"),
            vec![Key::PageUp, Key::PageDown, Key::Delete, Key::Insert]
        );
        assert_eq!(
            keys(b"\x1b[21~\x1b[12~\x1bOP\x1b[[B\x1b[24~"),
            vec![Key::F(10), Key::F(2), Key::F(1), Key::F(2), Key::F(12)]
        );
        // Modifiers are ignored.
        assert_eq!(keys(b"\x1b[1;5A\x1b[5;2~"), vec![Key::Up, Key::PageUp]);
        // Unknown sequences vanish.
        assert_eq!(keys(b"\x1b[?1;2c\x1b[200~x"), vec![Key::Char('x')]);
    }

    #[test]
    fn split_across_reads() {
        let mut d = Decoder::new();
        assert!(d.feed(b"\x1b").is_empty());
        assert!(d.has_pending());
        assert!(d.feed(b"[").is_empty());
        assert!(d.feed(b"2").is_empty());
        assert_eq!(d.feed(b"1~j"), vec![Key::F(10), Key::Char('j')]);
        assert!(!d.has_pending());
        // A UTF-8 character split in two.
        assert!(d.feed(&[0xc3]).is_empty());
        assert_eq!(d.feed(&[0xa9]), vec![Key::Char('é')]);
    }

    #[test]
    fn lone_escape_after_timeout() {
        let mut d = Decoder::new();
        assert!(d.feed(b"\x1b").is_empty());
        assert_eq!(d.flush(), vec![Key::Esc]);
        assert!(d.feed(b"\x1b[").is_empty());
        assert_eq!(d.flush(), vec![Key::Esc, Key::Char('[')]);
        // Escape typed just before a key.
        assert_eq!(d.feed(b"\x1bx"), vec![Key::Esc, Key::Char('x')]);
        assert_eq!(d.feed(b"\x1b\x1b"), vec![Key::Esc]);
        assert_eq!(d.flush(), vec![Key::Esc]);
    }

    #[test]
    fn garbage_is_bounded() {
        let mut d = Decoder::new();
        let mut junk = b"\x1b[".to_vec();
        junk.extend(vec![b'1'; 10_000]);
        let k = d.feed(&junk);
        assert!(k.iter().all(|k| matches!(k, Key::Char('1'))));
        assert!(d.pending.len() <= MAX_SEQUENCE + 1);
        for b in 0..=255u8 {
            let _ = keys(&[b, b, 0x1b, b, b'[', b]);
        }
    }
}
