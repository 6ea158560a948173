//! GRUB 2 script lexer.
//!
//! Follows `grub-core/script/yylex.l` (GRUB 2.02–2.12) and the manual's "Shell-like
//! scripting" chapter:
//! - blanks are space and tab; a newline and `;` end a command; `{` `}` are always tokens;
//!   `|` `&` `<` `>` `||` `&&` `;;` are tokens the grammar rejects (syntax errors);
//! - a word is any run of other characters, single-quoted strings (fully literal, may span
//!   lines), double-quoted strings (`$var` expanded; `\` escapes only `$`, `"`, `\` and
//!   newline, otherwise it is kept), `\c` escapes (the backslash is dropped) and variable
//!   references `$name`, `${name}`, `$N`, `${N}`, `$?`, `$#`, `$*`, `$@`; `$"..."`
//!   (gettext) is read as a double-quoted string;
//! - `#` starts a comment only where a token could start (`a#b` is a word);
//! - backslash-newline outside single quotes joins lines.
//!
//! Deliberate leniency: a `$` that starts no variable reference is a literal `$` (GRUB
//! reports a syntax error).

use crate::ParseError;

/// One piece of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Unquoted literal text (escapes removed).
    Lit(String),
    /// Quoted literal text. May be empty: `""` still makes an argument.
    Quoted(String),
    /// A variable reference; `quoted` inside double quotes (no field splitting).
    Var {
        /// Name: an identifier, digits, or one of `? # * @`.
        name: String,
        /// Inside double quotes.
        quoted: bool,
    },
}

/// A word as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Its pieces, in order.
    pub parts: Vec<Part>,
    /// Written as bare text (no quotes, escapes or variables): only such words can be
    /// reserved words (`if`, `fi`, ...), function names or `for` variables.
    pub plain: bool,
    /// 1-based line where the word starts.
    pub line: usize,
}

impl Word {
    /// The text of a plain word.
    pub fn plain_text(&self) -> Option<&str> {
        if !self.plain {
            return None;
        }
        match self.parts.as_slice() {
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A word.
    Word(Word),
    /// End of line.
    Newline,
    /// `;`
    Semi,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// An operator GRUB's grammar has no use for (`|`, `&&`, `<`, ...).
    Op(&'static str),
    /// End of input.
    Eof,
}

/// A token with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// 1-based line.
    pub line: usize,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
}

/// The tokenizer.
pub struct Lexer<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    line: usize,
    file: &'a str,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Characters that end an unquoted word.
fn ends_word(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\t' | b'\n' | b';' | b'|' | b'&' | b'<' | b'>' | b'{' | b'}'
    )
}

/// Accumulates the parts of one word.
struct WordBuf {
    parts: Vec<Part>,
    plain: bool,
}

impl WordBuf {
    fn lit(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Part::Lit(prev)) = self.parts.last_mut() {
            prev.push_str(s);
        } else {
            self.parts.push(Part::Lit(s.to_string()));
        }
    }
    fn quoted(&mut self, s: &str) {
        self.plain = false;
        if let Some(Part::Quoted(prev)) = self.parts.last_mut() {
            prev.push_str(s);
        } else {
            self.parts.push(Part::Quoted(s.to_string()));
        }
    }
    fn var(&mut self, name: String, quoted: bool) {
        self.plain = false;
        self.parts.push(Part::Var { name, quoted });
    }
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }
    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.s.get(from..to).unwrap_or("")
    }
    fn err(&self, line: usize, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.file, line, msg)
    }

    /// After a `$`: a variable reference, if one starts here (consumed).
    fn var_ref(&mut self) -> Option<String> {
        let c = self.peek()?;
        if c == b'{' {
            let start = self.i + 1;
            let mut j = start;
            let first = self.b.get(j).copied()?;
            if is_name_start(first) {
                while self.b.get(j).copied().is_some_and(is_name_char) {
                    j += 1;
                }
            } else if first.is_ascii_digit() {
                while self.b.get(j).copied().is_some_and(|c| c.is_ascii_digit()) {
                    j += 1;
                }
            } else if matches!(first, b'?' | b'#' | b'*' | b'@') {
                j += 1;
            } else {
                return None;
            }
            if self.b.get(j).copied() != Some(b'}') {
                return None;
            }
            let name = self.slice(start, j).to_string();
            self.i = j + 1;
            return Some(name);
        }
        let start = self.i;
        if is_name_start(c) {
            while self.peek().is_some_and(is_name_char) {
                self.i += 1;
            }
        } else if c.is_ascii_digit() {
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
        } else if matches!(c, b'?' | b'#' | b'*' | b'@') {
            self.i += 1;
        } else {
            return None;
        }
        Some(self.slice(start, self.i).to_string())
    }

    /// A double-quoted string; the opening quote is consumed.
    fn dquote(&mut self, w: &mut WordBuf, open_line: usize) -> Result<(), ParseError> {
        // An opening quote makes the argument exist even if the string is empty.
        w.quoted("");
        let mut run = self.i;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err(open_line, "unterminated double-quoted string"));
            };
            match c {
                b'"' => {
                    w.quoted(self.slice(run, self.i));
                    self.i += 1;
                    return Ok(());
                }
                b'\\' => match self.peek_at(1) {
                    Some(e @ (b'$' | b'"' | b'\\')) => {
                        w.quoted(self.slice(run, self.i));
                        w.quoted(if e == b'$' {
                            "$"
                        } else if e == b'"' {
                            "\""
                        } else {
                            "\\"
                        });
                        self.i += 2;
                        run = self.i;
                    }
                    Some(b'\n') => {
                        w.quoted(self.slice(run, self.i));
                        self.i += 2;
                        self.line += 1;
                        run = self.i;
                    }
                    _ => self.i += 1,
                },
                b'$' => {
                    let before = self.i;
                    self.i += 1;
                    if let Some(name) = self.var_ref() {
                        w.quoted(self.slice(run, before));
                        w.var(name, true);
                        run = self.i;
                    }
                }
                b'\n' => {
                    self.line += 1;
                    self.i += 1;
                }
                _ => self.i += 1,
            }
        }
    }

    fn word(&mut self) -> Result<Word, ParseError> {
        let line = self.line;
        let mut w = WordBuf {
            parts: Vec::new(),
            plain: true,
        };
        let mut run = self.i;
        while let Some(c) = self.peek() {
            if ends_word(c) {
                break;
            }
            match c {
                b'\\' => {
                    w.lit(self.slice(run, self.i));
                    w.plain = false;
                    match self.peek_at(1) {
                        Some(b'\n') => {
                            self.i += 2;
                            self.line += 1;
                            run = self.i;
                        }
                        Some(_) => {
                            // The escaped character, which may be multi-byte.
                            let from = self.i + 1;
                            let ch_len = self
                                .s
                                .get(from..)
                                .and_then(|r| r.chars().next())
                                .map_or(1, char::len_utf8);
                            w.lit(self.slice(from, from + ch_len));
                            self.i = from + ch_len;
                            run = self.i;
                        }
                        None => {
                            w.lit("\\");
                            self.i += 1;
                            run = self.i;
                        }
                    }
                }
                b'\'' => {
                    w.lit(self.slice(run, self.i));
                    let open_line = self.line;
                    let start = self.i + 1;
                    let Some(len) = self
                        .b
                        .get(start..)
                        .and_then(|r| r.iter().position(|&c| c == b'\''))
                    else {
                        return Err(self.err(open_line, "unterminated single-quoted string"));
                    };
                    let content = self.slice(start, start + len);
                    self.line += content.bytes().filter(|&c| c == b'\n').count();
                    w.quoted(content);
                    self.i = start + len + 1;
                    run = self.i;
                }
                b'"' => {
                    w.lit(self.slice(run, self.i));
                    let open_line = self.line;
                    self.i += 1;
                    self.dquote(&mut w, open_line)?;
                    run = self.i;
                }
                b'$' => {
                    let before = self.i;
                    self.i += 1;
                    if self.peek() == Some(b'"') {
                        // $"..." (gettext): a double-quoted string.
                        w.lit(self.slice(run, before));
                        let open_line = self.line;
                        self.i += 1;
                        self.dquote(&mut w, open_line)?;
                        run = self.i;
                    } else if let Some(name) = self.var_ref() {
                        w.lit(self.slice(run, before));
                        w.var(name, false);
                        run = self.i;
                    }
                }
                _ => self.i += 1,
            }
        }
        w.lit(self.slice(run, self.i));
        let mut parts = w.parts;
        // Exact-size storage: a script's words are most of its memory.
        parts.shrink_to_fit();
        Ok(Word {
            parts,
            plain: w.plain,
            line,
        })
    }

    /// The next token (`Tok::Eof` at the end, and again after it).
    pub fn next_token(&mut self) -> Result<Token, ParseError> {
        loop {
            while matches!(self.peek(), Some(b' ' | b'\t')) {
                self.i += 1;
            }
            let start = self.i;
            let line = self.line;
            let Some(c) = self.peek() else {
                return Ok(Token {
                    tok: Tok::Eof,
                    line,
                    start,
                    end: start,
                });
            };
            let two = self.peek_at(1);
            let (tok, len) = match c {
                b'#' => {
                    let rest = self.b.get(self.i..).unwrap_or(&[]);
                    self.i += rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                    continue;
                }
                b'\\' if two == Some(b'\n') => {
                    self.i += 2;
                    self.line += 1;
                    continue;
                }
                b'\n' => {
                    self.line += 1;
                    (Tok::Newline, 1)
                }
                b';' if two == Some(b';') => (Tok::Op(";;"), 2),
                b';' => (Tok::Semi, 1),
                b'|' if two == Some(b'|') => (Tok::Op("||"), 2),
                b'|' => (Tok::Op("|"), 1),
                b'&' if two == Some(b'&') => (Tok::Op("&&"), 2),
                b'&' => (Tok::Op("&"), 1),
                b'<' => (Tok::Op("<"), 1),
                b'>' => (Tok::Op(">"), 1),
                b'{' => (Tok::LBrace, 1),
                b'}' => (Tok::RBrace, 1),
                _ => {
                    let w = self.word()?;
                    return Ok(Token {
                        tok: Tok::Word(w),
                        line,
                        start,
                        end: self.i,
                    });
                }
            };
            self.i += len;
            return Ok(Token {
                tok,
                line,
                start,
                end: self.i,
            });
        }
    }
}

impl<'a> Lexer<'a> {
    /// A lexer over a whole script; `file` names it in errors.
    pub fn new(src: &'a str, file: &'a str) -> Self {
        Lexer {
            s: src,
            b: src.as_bytes(),
            i: 0,
            line: 1,
            file,
        }
    }
}

/// Split a whole script into tokens (the parser pulls them one by one instead).
pub fn lex(src: &str, file: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer::new(src, file);
    let mut out = Vec::new();
    loop {
        let t = lx.next_token()?;
        let eof = t.tok == Tok::Eof;
        out.push(t);
        if eof {
            return Ok(out);
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Vec<Part>> {
        lex(s, "t")
            .unwrap()
            .into_iter()
            .filter_map(|t| match t.tok {
                Tok::Word(w) => Some(w.parts),
                _ => None,
            })
            .collect()
    }

    fn lit(s: &str) -> Part {
        Part::Lit(s.into())
    }
    fn q(s: &str) -> Part {
        Part::Quoted(s.into())
    }
    fn var(s: &str, quoted: bool) -> Part {
        Part::Var {
            name: s.into(),
            quoted,
        }
    }

    #[test]
    fn basic_words_and_quotes() {
        assert_eq!(
            words(r#"set a='x y' b="c $d e" \$f g\ h"#),
            vec![
                vec![lit("set")],
                vec![lit("a="), q("x y")],
                vec![lit("b="), q("c "), var("d", true), q(" e")],
                vec![lit("$f")],
                vec![lit("g h")],
            ]
        );
    }

    #[test]
    fn dquote_escapes() {
        assert_eq!(words(r#""a\$b\"c\\d\e""#), vec![vec![q(r#"a$b"c\d\e"#)]]);
    }

    #[test]
    fn comments_only_at_token_start() {
        assert_eq!(
            words("echo a#b # comment\necho c"),
            vec![
                vec![lit("echo")],
                vec![lit("a#b")],
                vec![lit("echo")],
                vec![lit("c")]
            ]
        );
    }

    #[test]
    fn variables() {
        assert_eq!(
            words("$a ${b}c $1 ${10} $# $? $@ $* $ x$"),
            vec![
                vec![var("a", false)],
                vec![var("b", false), lit("c")],
                vec![var("1", false)],
                vec![var("10", false)],
                vec![var("#", false)],
                vec![var("?", false)],
                vec![var("@", false)],
                vec![var("*", false)],
                vec![lit("$")],
                vec![lit("x$")],
            ]
        );
    }

    #[test]
    fn braces_split_words_and_lines_count() {
        let toks = lex("a {b}\n'x\ny' \\\nz", "t").unwrap();
        let kinds: Vec<_> = toks.iter().map(|t| (t.line, &t.tok)).collect();
        assert!(matches!(kinds[1], (1, Tok::LBrace)));
        assert!(matches!(kinds[3], (1, Tok::RBrace)));
        assert!(matches!(kinds[4], (1, Tok::Newline)));
        assert_eq!(kinds[5].0, 2);
        assert!(matches!(kinds[6], (4, Tok::Word(_))));
        assert!(matches!(kinds[7], (4, Tok::Eof)));
    }

    #[test]
    fn unterminated_quote_reports_opening_line() {
        let e = lex("echo\necho 'abc\n\n", "f").unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (2, "f"));
        let e = lex("\n\n\"abc", "f").unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn operators() {
        let toks = lex("a || b && c | d & e < f > g ;; h", "t").unwrap();
        let ops: Vec<_> = toks
            .iter()
            .filter_map(|t| match t.tok {
                Tok::Op(o) => Some(o),
                _ => None,
            })
            .collect();
        assert_eq!(ops, vec!["||", "&&", "|", "&", "<", ">", ";;"]);
    }
}
