//! GRUB 2 script parser: tokens → AST.
//!
//! Follows the grammar of `grub-core/script/parser.y`:
//! - a simple command is words optionally followed by a `{ ... }` block (`menuentry`,
//!   `submenu`); the block is kept both parsed and as source text;
//! - reserved words (`if then elif else fi for in do done while until function`, and the
//!   unsupported `case esac select`) are recognised only as bare words in command position —
//!   as arguments they are ordinary words, as in GRUB;
//! - `if list; then list; [elif list; then list;]... [else list;] fi`,
//!   `while|until list; do list; done`, `for NAME in words; do list; done`,
//!   `function NAME { list }`;
//! - `}` may close a block right after a command, without `;`.
//!
//! Extensions and leniency (GRUB rejects these): `NAME() { list }` defines a function;
//! empty lists (`do; done`, `{ }`) are accepted; stray `;` are skipped; `function` may appear
//! inside blocks. Nesting is bounded by [`MAX_NESTING`] so hostile input cannot exhaust the
//! stack.

use std::rc::Rc;

use super::lexer::{Lexer, Tok, Token, Word};
use crate::ParseError;

/// Deepest nesting of blocks and compound commands accepted.
pub const MAX_NESTING: usize = 64;

/// A `{ ... }` block argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The parsed commands.
    pub cmds: Rc<Vec<Cmd>>,
    /// Byte range of the source between the braces (what GRUB stores as a menu entry's
    /// body), in the script text given to [`parse_script`].
    pub span: std::ops::Range<usize>,
    /// That script text (shared by every block parsed from it).
    pub text: Rc<str>,
}

impl Block {
    /// The source text between the braces.
    pub fn source(&self) -> &str {
        self.text.get(self.span.clone()).unwrap_or("")
    }
}

/// A command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// `word...` with an optional trailing block.
    Simple {
        /// The words; the first is the command name.
        words: Vec<Word>,
        /// `{ ... }` after the words.
        block: Option<Block>,
        /// Line of the first word.
        line: usize,
    },
    /// `if`/`elif` branches and an optional `else`.
    If {
        /// `(condition, body)` pairs, in order.
        branches: Vec<(Vec<Cmd>, Vec<Cmd>)>,
        /// The `else` body.
        otherwise: Option<Vec<Cmd>>,
    },
    /// `while` / `until`.
    While {
        /// Condition list.
        cond: Vec<Cmd>,
        /// Body.
        body: Vec<Cmd>,
        /// `until` (loop while the condition fails).
        until: bool,
    },
    /// `for NAME in words; do body; done`.
    For {
        /// Loop variable.
        var: String,
        /// Words to expand.
        words: Vec<Word>,
        /// Body.
        body: Vec<Cmd>,
    },
    /// A function definition.
    Function {
        /// Name.
        name: String,
        /// Body.
        body: Rc<Vec<Cmd>>,
    },
}

/// Words reserved in command position.
const RESERVED: &[&str] = &[
    "if", "then", "elif", "else", "fi", "for", "in", "do", "done", "while", "until", "function",
    "case", "esac", "select",
];

fn valid_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

struct Parser<'a> {
    lx: Lexer<'a>,
    cur: Token,
    depth: usize,
    file: &'a str,
    text: Rc<str>,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => match w.plain_text() {
            Some(s) => format!("`{s}`"),
            None => "word".to_string(),
        },
        Tok::Newline => "end of line".to_string(),
        Tok::Semi => "`;`".to_string(),
        Tok::LBrace => "`{`".to_string(),
        Tok::RBrace => "`}`".to_string(),
        Tok::Op(o) => format!("`{o}` (not supported by GRUB)"),
        Tok::Eof => "end of file".to_string(),
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.cur.tok
    }
    fn line(&self) -> usize {
        self.cur.line
    }
    /// Take the current token and read the next.
    fn bump(&mut self) -> Result<Token, ParseError> {
        let next = self.lx.next_token()?;
        Ok(std::mem::replace(&mut self.cur, next))
    }
    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError::new(self.file, self.line(), msg)
    }
    fn unexpected(&self, expecting: &str) -> ParseError {
        self.err(format!(
            "syntax error: unexpected {}{}",
            describe(self.peek()),
            if expecting.is_empty() {
                String::new()
            } else {
                format!(", expecting {expecting}")
            }
        ))
    }
    /// The peeked token is the bare word `kw`.
    fn at_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Word(w) if w.plain_text() == Some(kw))
    }
    fn expect_kw(&mut self, kw: &str) -> Result<(), ParseError> {
        if self.at_kw(kw) {
            self.bump()?;
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{kw}`")))
        }
    }
    fn skip_delims(&mut self) -> Result<bool, ParseError> {
        let mut any = false;
        while matches!(self.peek(), Tok::Newline | Tok::Semi) {
            self.bump()?;
            any = true;
        }
        Ok(any)
    }
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err(format!("nesting deeper than {MAX_NESTING} levels")));
        }
        Ok(())
    }

    /// Commands until end of input, `}`, or one of `terms` in command position.
    fn list(&mut self, terms: &[&str]) -> Result<Vec<Cmd>, ParseError> {
        let mut cmds = Vec::new();
        loop {
            self.skip_delims()?;
            match self.peek() {
                Tok::Eof | Tok::RBrace => break,
                Tok::Word(w) if w.plain_text().is_some_and(|t| terms.contains(&t)) => break,
                _ => {}
            }
            cmds.push(self.command()?);
            match self.peek() {
                Tok::Newline | Tok::Semi | Tok::Eof | Tok::RBrace => {}
                _ => return Err(self.unexpected("`;` or end of line")),
            }
        }
        cmds.shrink_to_fit();
        Ok(cmds)
    }

    fn command(&mut self) -> Result<Cmd, ParseError> {
        let kw = match self.peek() {
            Tok::Word(w) => w.plain_text().map(str::to_string),
            _ => return Err(self.unexpected("a command")),
        };
        match kw.as_deref() {
            Some("if") => self.if_cmd(),
            Some("while") => self.while_cmd(false),
            Some("until") => self.while_cmd(true),
            Some("for") => self.for_cmd(),
            Some("function") => self.function(),
            Some(k) if RESERVED.contains(&k) => Err(self.unexpected("a command")),
            _ => self.simple(),
        }
    }

    fn simple(&mut self) -> Result<Cmd, ParseError> {
        let line = self.line();
        let mut words = Vec::new();
        while let Tok::Word(w) = self.peek() {
            if matches!(w.plain_text(), Some("[[" | "]]")) {
                return Err(self.unexpected(""));
            }
            if let Tok::Word(w) = self.bump()?.tok {
                words.push(w);
            }
        }
        words.shrink_to_fit();
        let block = if matches!(self.peek(), Tok::LBrace) {
            Some(self.block()?)
        } else {
            None
        };
        // `name() { ... }`
        if let ([w], Some(b)) = (words.as_slice(), &block) {
            if let Some(name) = w.plain_text().and_then(|t| t.strip_suffix("()")) {
                if valid_name(name) {
                    return Ok(Cmd::Function {
                        name: name.to_string(),
                        body: b.cmds.clone(),
                    });
                }
            }
        }
        Ok(Cmd::Simple { words, block, line })
    }

    fn block(&mut self) -> Result<Block, ParseError> {
        let open = self.bump()?.end;
        self.enter()?;
        let cmds = self.list(&[])?;
        if !matches!(self.peek(), Tok::RBrace) {
            return Err(self.unexpected("`}`"));
        }
        let close = self.bump()?.start;
        self.depth -= 1;
        Ok(Block {
            cmds: Rc::new(cmds),
            span: open..close,
            text: self.text.clone(),
        })
    }

    fn cond_list(&mut self, terms: &[&str]) -> Result<Vec<Cmd>, ParseError> {
        let l = self.list(terms)?;
        if l.is_empty() {
            return Err(self.unexpected("a command"));
        }
        Ok(l)
    }

    fn if_cmd(&mut self) -> Result<Cmd, ParseError> {
        self.bump()?;
        self.enter()?;
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let cond = self.cond_list(&["then"])?;
            self.expect_kw("then")?;
            let body = self.list(&["elif", "else", "fi"])?;
            branches.push((cond, body));
            if self.at_kw("elif") {
                self.bump()?;
                continue;
            }
            if self.at_kw("else") {
                self.bump()?;
                otherwise = Some(self.list(&["fi"])?);
            }
            self.expect_kw("fi")?;
            break;
        }
        self.depth -= 1;
        Ok(Cmd::If {
            branches,
            otherwise,
        })
    }

    fn while_cmd(&mut self, until: bool) -> Result<Cmd, ParseError> {
        self.bump()?;
        self.enter()?;
        let cond = self.cond_list(&["do"])?;
        self.expect_kw("do")?;
        let body = self.list(&["done"])?;
        self.expect_kw("done")?;
        self.depth -= 1;
        Ok(Cmd::While { cond, body, until })
    }

    fn for_cmd(&mut self) -> Result<Cmd, ParseError> {
        self.bump()?;
        self.enter()?;
        let var = match self.peek() {
            Tok::Word(w) => w.plain_text().filter(|t| valid_name(t)).map(str::to_string),
            _ => None,
        };
        let Some(var) = var else {
            return Err(self.unexpected("a variable name"));
        };
        self.bump()?;
        self.expect_kw("in")?;
        let mut words = Vec::new();
        while let Tok::Word(_) = self.peek() {
            if let Tok::Word(w) = self.bump()?.tok {
                words.push(w);
            }
        }
        if !self.skip_delims()? {
            return Err(self.unexpected("`;` or end of line"));
        }
        self.expect_kw("do")?;
        let body = self.list(&["done"])?;
        self.expect_kw("done")?;
        self.depth -= 1;
        Ok(Cmd::For { var, words, body })
    }

    fn function(&mut self) -> Result<Cmd, ParseError> {
        self.bump()?;
        let name = match self.peek() {
            Tok::Word(w) => w.plain_text().filter(|t| valid_name(t)).map(str::to_string),
            _ => None,
        };
        let Some(name) = name else {
            return Err(self.unexpected("a function name"));
        };
        self.bump()?;
        self.skip_delims()?;
        if !matches!(self.peek(), Tok::LBrace) {
            return Err(self.unexpected("`{`"));
        }
        let b = self.block()?;
        Ok(Cmd::Function { name, body: b.cmds })
    }
}

/// A script read one top-level command at a time, as GRUB's config reader does: a command
/// is parsed when the previous one has run, so only one top-level command's tree is held.
pub struct Script<'a> {
    p: Parser<'a>,
}

impl<'a> Script<'a> {
    /// Start reading `src`; `file` names it in errors. (Blocks keep a shared copy of
    /// `src` for their source text.)
    pub fn new(src: &'a str, file: &'a str) -> Result<Self, ParseError> {
        let mut lx = Lexer::new(src, file);
        let cur = lx.next_token()?;
        Ok(Script {
            p: Parser {
                lx,
                cur,
                depth: 0,
                file,
                text: Rc::from(src),
            },
        })
    }

    /// The next top-level command; `None` at the end of the script.
    pub fn next_command(&mut self) -> Result<Option<Cmd>, ParseError> {
        self.p.skip_delims()?;
        if matches!(self.p.peek(), Tok::Eof) {
            return Ok(None);
        }
        let c = self.p.command()?;
        match self.p.peek() {
            Tok::Newline | Tok::Semi | Tok::Eof => Ok(Some(c)),
            _ => Err(self.p.unexpected("`;` or end of line")),
        }
    }
}

/// Parse a whole script.
pub fn parse_script(src: &str, file: &str) -> Result<Vec<Cmd>, ParseError> {
    let mut script = Script::new(src, file)?;
    let mut cmds = Vec::new();
    while let Some(c) = script.next_command()? {
        cmds.push(c);
    }
    Ok(cmds)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn name(c: &Cmd) -> String {
        match c {
            Cmd::Simple { words, .. } => words[0].plain_text().unwrap_or("?").to_string(),
            Cmd::If { .. } => "<if>".into(),
            Cmd::While { until: false, .. } => "<while>".into(),
            Cmd::While { until: true, .. } => "<until>".into(),
            Cmd::For { .. } => "<for>".into(),
            Cmd::Function { name, .. } => format!("<fn {name}>"),
        }
    }

    #[test]
    fn compound_commands() {
        let s =
            "if a; then b; elif c\nthen d; else e; fi\nwhile x; do y; done\nuntil x\ndo\ny\ndone\n\
                 for i in 1 2 3; do echo $i; done\nfunction f { g; }\nh() { i }\n";
        let cmds = parse_script(s, "t").unwrap();
        let names: Vec<_> = cmds.iter().map(name).collect();
        assert_eq!(
            names,
            ["<if>", "<while>", "<until>", "<for>", "<fn f>", "<fn h>"]
        );
        match &cmds[0] {
            Cmd::If {
                branches,
                otherwise,
            } => {
                assert_eq!(branches.len(), 2);
                assert_eq!(otherwise.as_ref().unwrap().len(), 1);
            }
            _ => panic!(),
        }
    }

    #[test]
    fn reserved_words_as_arguments() {
        let cmds = parse_script("echo if then fi do done\n", "t").unwrap();
        match &cmds[0] {
            Cmd::Simple { words, .. } => assert_eq!(words.len(), 6),
            _ => panic!(),
        }
        // So `if a then b fi` has no `then`: an error at end of input.
        let e = parse_script("if a then b fi\n", "t").unwrap_err();
        assert!(e.msg.contains("expecting `then`"), "{e}");
    }

    #[test]
    fn block_text_and_close_without_semicolon() {
        let src = "menuentry 'x' { linux /k a }\n";
        let cmds = parse_script(src, "t").unwrap();
        match &cmds[0] {
            Cmd::Simple { block: Some(b), .. } => {
                assert_eq!(&src[b.span.clone()], " linux /k a ");
                assert_eq!(b.source(), " linux /k a ");
                assert_eq!(b.cmds.len(), 1);
            }
            _ => panic!(),
        }
    }

    #[test]
    fn errors_have_lines() {
        for (src, line) in [
            ("echo a\nfi\n", 2),
            ("if true; then\necho\n", 3),
            ("menuentry x {\n linux /k\n", 3),
            ("echo a | b\n", 1),
            ("echo\necho\n}\n", 3),
            ("a\nb\nfor 1x in a; do b; done\n", 3),
        ] {
            let e = parse_script(src, "f.cfg").unwrap_err();
            assert_eq!((e.file.as_str(), e.line), ("f.cfg", line), "{src:?}: {e}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "if true; then ".repeat(MAX_NESTING + 1) + &"fi; ".repeat(MAX_NESTING + 1);
        let e = parse_script(&deep, "t").unwrap_err();
        assert!(e.msg.contains("nesting"), "{e}");
        let ok = "if true; then ".repeat(10) + &"fi; ".repeat(10);
        parse_script(&ok, "t").unwrap();
        let braces = "x {".repeat(10_000);
        assert!(parse_script(&braces, "t").is_err());
    }
}
