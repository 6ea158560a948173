//! GRUB 2 command words for the command line, and editor lines for entries without a
//! stored source.
//!
//! The entry editor shows [`rsgrub_bootcfg::Entry::source`] and runs the edit with
//! [`rsgrub_bootcfg::eval_entry_commands`] (the full GRUB 2 interpreter); only an entry
//! without a source falls back to [`entry_lines`] (`set root='DEV'`, `linux KERNEL ARGS...`,
//! `initrd FILES...`). The command line reads each line with the real GRUB 2 lexer and
//! parser of `rsgrub-bootcfg` (so quoting and escapes are GRUB's) and runs `linux`,
//! `initrd` and `set root=` itself ([`apply`]), one command at a time.

use rsgrub_bootcfg::grub2::lexer::{Part, Word};
use rsgrub_bootcfg::grub2::parser::{parse_script, Cmd};
use rsgrub_bootcfg::{Entry, EntryKind, FileRef};

/// Most commands read from the editor or the command line at once.
const MAX_COMMANDS: usize = 256;

/// A word for a GRUB script: as is when that is safe, else single-quoted.
pub fn quote_word(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || "-_./=:,+@%^~()!?*[]".contains(c));
    if safe {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The kernel command line GRUB builds from the `linux` command's arguments
/// (`grub_create_loader_cmdline`): single spaces between them, an argument with a space
/// double-quoted, `\` `'` `"` backslash-escaped.
pub fn loader_cmdline(args: &[String]) -> String {
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

/// The arguments a kernel command line came from: the inverse of [`loader_cmdline`] (also
/// fine for hand-written command lines: runs of blanks separate, `"` groups, `\` escapes).
pub fn split_cmdline(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut quoted = false;
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                } else {
                    cur.push('\\');
                }
                have = true;
            }
            '"' => {
                quoted = !quoted;
                have = true;
            }
            ' ' | '\t' if !quoted => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                cur.push(c);
                have = true;
            }
        }
    }
    if have {
        out.push(cur);
    }
    out
}

/// A file argument: `(dev)/path` or `/path`.
pub fn file_ref(s: &str) -> Result<FileRef, String> {
    let (device, path) = match s.strip_prefix('(') {
        Some(rest) => {
            let close = rest
                .find(')')
                .ok_or_else(|| format!("missing `)' in `{s}'"))?;
            let dev = rest.get(..close).unwrap_or("");
            let path = rest.get(close + 1..).unwrap_or("");
            ((!dev.is_empty()).then(|| dev.to_string()), path)
        }
        None => (None, s),
    };
    if !path.starts_with('/') {
        return Err(format!("invalid file name `{s}'"));
    }
    Ok(FileRef {
        device,
        path: path.to_string(),
    })
}

fn file_word(f: &FileRef) -> String {
    quote_word(&f.to_string())
}

/// The commands the editor shows for an entry.
pub fn entry_lines(e: &Entry) -> Vec<String> {
    let linux;
    let e = match e.kind {
        EntryKind::Linux => e,
        EntryKind::Multiboot => match e.linux_from_modules() {
            Some(l) => {
                linux = l;
                &linux
            }
            None => e,
        },
        EntryKind::Other => e,
    };
    let mut lines = Vec::new();
    if let Some(r) = &e.root {
        // As grub-mkconfig writes it.
        lines.push(format!("set root='{}'", r.replace('\'', "'\\''")));
    }
    if let Some(k) = &e.kernel {
        let mut l = format!("linux {}", file_word(k));
        for a in split_cmdline(&e.args) {
            l.push(' ');
            l.push_str(&quote_word(&a));
        }
        lines.push(l);
    }
    if !e.initrds.is_empty() {
        let files: Vec<String> = e.initrds.iter().map(file_word).collect();
        lines.push(format!("initrd {}", files.join(" ")));
    }
    if e.kernel.is_none() {
        lines.push("# no Linux kernel in this entry: add a `linux' line".to_string());
    }
    lines
}

fn word_text(w: &Word) -> Result<String, String> {
    let mut s = String::new();
    for p in &w.parts {
        match p {
            Part::Lit(t) | Part::Quoted(t) => s.push_str(t),
            Part::Var { name, .. } => {
                return Err(format!("variables (`${name}') are not supported here"));
            }
        }
    }
    Ok(s)
}

/// Read a script into its simple commands: `(line, words)`.
pub fn commands(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let cmds = parse_script(text, "editor").map_err(|e| {
        if e.line > 0 {
            format!("line {}: {}", e.line, e.msg)
        } else {
            e.msg
        }
    })?;
    if cmds.len() > MAX_COMMANDS {
        return Err(format!("more than {MAX_COMMANDS} commands"));
    }
    let mut out = Vec::new();
    for c in cmds {
        match c {
            Cmd::Simple {
                words,
                block: None,
                line,
            } => {
                let mut ws = Vec::with_capacity(words.len());
                for w in &words {
                    ws.push(word_text(w).map_err(|e| format!("line {line}: {e}"))?);
                }
                if !ws.is_empty() {
                    out.push((line, ws));
                }
            }
            Cmd::Simple { line, .. } => {
                return Err(format!("line {line}: blocks are not supported here"));
            }
            _ => {
                return Err(
                    "only `set root=', `linux' and `initrd' commands are supported here".into(),
                )
            }
        }
    }
    Ok(out)
}

/// What a `linux` / `initrd` / `set root=` command does to the entry being built.
pub fn apply(e: &mut Entry, words: &[String]) -> Result<(), String> {
    let Some((name, args)) = words.split_first() else {
        return Ok(());
    };
    match name.as_str() {
        "linux" | "linux16" | "linuxefi" => {
            let (file, rest) = args.split_first().ok_or("filename expected")?;
            e.kernel = Some(file_ref(file)?);
            e.kind = EntryKind::Linux;
            e.args = loader_cmdline(rest);
            e.initrds.clear();
            e.modules.clear();
        }
        "initrd" | "initrd16" | "initrdefi" => {
            if e.kernel.is_none() {
                return Err("you need to load the kernel first".into());
            }
            if args.is_empty() {
                return Err("filename expected".into());
            }
            e.initrds = args.iter().map(|a| file_ref(a)).collect::<Result<_, _>>()?;
        }
        "set" => match args {
            [a] if a.starts_with("root=") => {
                let v = a.get(5..).unwrap_or("");
                let v = v
                    .strip_prefix('(')
                    .and_then(|v| v.strip_suffix(')'))
                    .unwrap_or(v);
                e.root = (!v.is_empty()).then(|| v.to_string());
            }
            _ => return Err("only `set root=...' is supported here".into()),
        },
        other => return Err(format!("can't find command `{other}'")),
    }
    Ok(())
}

/// Read [`entry_lines`] back with [`apply`] (the tests check both ways round).
#[cfg(test)]
pub fn parse_entry(lines: &[String], base: &Entry) -> Result<Entry, String> {
    let mut e = Entry::new(base.title.clone());
    e.id = base.id.clone();
    for (line, words) in commands(&lines.join("\n"))? {
        apply(&mut e, &words).map_err(|m| format!("line {line}: {m}"))?;
    }
    if e.kernel.is_none() {
        return Err("you need to load the kernel first".into());
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn entry() -> Entry {
        let mut e = Entry::new("Debian");
        e.kernel = Some(FileRef {
            device: None,
            path: "/boot/vmlinuz-6.1.0-13-amd64".into(),
        });
        e.initrds = vec![FileRef {
            device: Some("hd0,gpt2".into()),
            path: "/boot/initrd.img".into(),
        }];
        e.args = r#"root=UUID=abc ro "init=/bin/sh -c x" a\"b it\'s quiet"#.into();
        e.root = Some("hd0,gpt2".into());
        e
    }

    #[test]
    fn round_trip() {
        let e = entry();
        let lines = entry_lines(&e);
        assert_eq!(
            lines,
            vec![
                "set root='hd0,gpt2'".to_string(),
                r#"linux /boot/vmlinuz-6.1.0-13-amd64 root=UUID=abc ro 'init=/bin/sh -c x' 'a"b' 'it'\''s' quiet"#.to_string(),
                "initrd (hd0,gpt2)/boot/initrd.img".to_string(),
            ]
        );
        let back = parse_entry(&lines, &e).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn fallback_lines_mean_the_same_to_the_grub2_interpreter() {
        let e = entry();
        let menu = rsgrub_bootcfg::Menu::new(rsgrub_bootcfg::ConfigKind::Grub2);
        let mut src = rsgrub_bootcfg::MapSource::default();
        let back = rsgrub_bootcfg::eval_entry_commands(&e.title, &entry_lines(&e), &menu, &mut src)
            .unwrap();
        assert_eq!(
            back.kernel.as_ref().map(|k| k.path.as_str()),
            Some("/boot/vmlinuz-6.1.0-13-amd64")
        );
        assert_eq!(back.args, e.args);
        assert_eq!(back.root, e.root);
        assert_eq!(back.initrds.len(), 1);
        assert_eq!(back.initrds[0].path, "/boot/initrd.img");
    }

    #[test]
    fn edits_parse_as_grub_does() {
        let base = Entry::new("t");
        let lines = vec![
            "  linux\t(hd0,msdos1)/vmlinuz \"console=hvc0\"   single # comment".to_string(),
            "initrd /a.img \\".to_string(),
            "   /b.img".to_string(),
        ];
        let e = parse_entry(&lines, &base).unwrap();
        assert_eq!(
            e.kernel.as_ref().unwrap().device.as_deref(),
            Some("hd0,msdos1")
        );
        assert_eq!(e.args, "console=hvc0 single");
        assert_eq!(e.initrds.len(), 2);
        assert_eq!(e.root, None);
        assert_eq!(e.title, "t");
    }

    #[test]
    fn errors() {
        let base = Entry::new("t");
        let err = |l: &[&str]| {
            parse_entry(&l.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &base).unwrap_err()
        };
        assert_eq!(
            err(&["linux /k", "insmod gzio"]),
            "line 2: can't find command `insmod'"
        );
        assert_eq!(
            err(&["initrd /i"]),
            "line 1: you need to load the kernel first"
        );
        assert_eq!(err(&["set root=x"]), "you need to load the kernel first");
        assert_eq!(
            err(&["linux vmlinuz"]),
            "line 1: invalid file name `vmlinuz'"
        );
        assert_eq!(err(&["linux"]), "line 1: filename expected");
        assert!(err(&["linux /k $x"]).contains("variables"));
        assert!(err(&["linux '/k"]).starts_with("line 1"));
        assert!(err(&["if true; then linux /k; fi"]).contains("only"));
        assert_eq!(
            err(&["linux /k", "set a=b"]),
            "line 2: only `set root=...' is supported here"
        );
    }

    #[test]
    fn multiboot_entries_show_their_dom0_kernel() {
        let mut e = Entry::new("Xen");
        e.kind = EntryKind::Multiboot;
        e.kernel = Some(FileRef {
            device: None,
            path: "/boot/xen.gz".into(),
        });
        e.modules = vec![rsgrub_bootcfg::Module {
            file: FileRef {
                device: None,
                path: "/boot/vmlinuz".into(),
            },
            args: "placeholder root=/dev/xvda1 ro".into(),
        }];
        assert_eq!(
            entry_lines(&e),
            vec!["linux /boot/vmlinuz root=/dev/xvda1 ro"]
        );
        let mut o = Entry::new("chain");
        o.kind = EntryKind::Other;
        assert!(entry_lines(&o)[0].starts_with('#'));
    }

    #[test]
    fn cmdline_split() {
        assert_eq!(
            split_cmdline("  a  b\t\"c d\" e\\\"f \"\" "),
            vec!["a", "b", "c d", "e\"f", ""]
        );
        assert_eq!(quote_word(""), "''");
        assert_eq!(quote_word("root=UUID=x"), "root=UUID=x");
        assert_eq!(quote_word("a;b"), "'a;b'");
    }
}
