//! Hostile input: random token soup and byte noise must give a menu or an error — never a
//! panic, a hang or unbounded work — in all three parsers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use rsgrub_bootcfg::{parse_grub2, parse_legacy, parse_syslinux, MapSource};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

const GRUB_TOKENS: &[&str] = &[
    "menuentry",
    "submenu",
    "'t'",
    "\"t $x\"",
    "{",
    "}",
    "\n",
    ";",
    "if",
    "then",
    "elif",
    "else",
    "fi",
    "while",
    "until",
    "do",
    "done",
    "for",
    "in",
    "function",
    "f",
    "f()",
    "[",
    "]",
    "-f",
    "-z",
    "=",
    "!",
    "set",
    "x=1",
    "x=$x$x",
    "$x",
    "${x}",
    "$1",
    "$@",
    "\"$@\"",
    "$#",
    "$?",
    "linux",
    "/k",
    "initrd",
    "multiboot",
    "module",
    "source",
    "/s.cfg",
    "configfile",
    "load_env",
    "search",
    "--set=root",
    "-u",
    "export",
    "unset",
    "return",
    "break",
    "continue",
    "shift",
    "eval",
    "true",
    "false",
    "\\",
    "'",
    "\"",
    "#",
    "|",
    "&&",
    ">",
    "(hd0,1)/x",
    "default=1>0",
    "timeout=5",
    "--id",
    "--class",
    "exit",
    "boot",
    "chainloader",
    "x",
];

const LEGACY_TOKENS: &[&str] = &[
    "title",
    "root",
    "(hd0,0)",
    "(hd",
    "kernel",
    "initrd",
    "module",
    "default",
    "saved",
    "timeout",
    "fallback",
    "hiddenmenu",
    "password",
    "--md5",
    "=",
    " ",
    "\t",
    "\n",
    "\\\n",
    "#",
    "/vmlinuz",
    "0",
    "99999999999999999999",
    "chainloader",
    "+1",
    "kernel$",
    "--type=multiboot",
];

const SYSLINUX_TOKENS: &[&str] = &[
    "LABEL",
    "KERNEL",
    "LINUX",
    "APPEND",
    "INITRD",
    "DEFAULT",
    "ONTIMEOUT",
    "TIMEOUT",
    "UI",
    "MENU",
    "BEGIN",
    "END",
    "LABEL",
    "DEFAULT",
    "HIDE",
    "INCLUDE",
    "/a.cfg",
    "b.cfg",
    "TEXT",
    "HELP",
    "ENDTEXT",
    "mboot.c32",
    "---",
    "initrd=",
    "a,b",
    "-",
    " ",
    "\n",
    "\r",
    "#",
    "x",
    "menu.c32",
    "PROMPT",
    "0",
    "1",
    "^",
    "SEPARATOR",
    "EXIT",
];

fn soup(rng: &mut Rng, tokens: &[&str], n: usize) -> String {
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(rng.pick(tokens));
        s.push(if rng.next() & 3 == 0 { '\n' } else { ' ' });
    }
    s
}

#[test]
fn token_soup_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    for i in 0..600 {
        let n = 5 + (rng.next() % 120) as usize;
        let g = soup(&mut rng, GRUB_TOKENS, n);
        let inc = soup(&mut rng, GRUB_TOKENS, 20);
        let mut src = MapSource::default().with("/s.cfg", inc.into_bytes()).with(
            "/boot/grub/grubenv",
            b"# GRUB Environment Block\nx=1\n".to_vec(),
        );
        let _ = parse_grub2(g.as_bytes(), "/boot/grub/grub.cfg", &mut src);

        let l = soup(&mut rng, LEGACY_TOKENS, n);
        let _ = parse_legacy(
            l.as_bytes(),
            "/boot/grub/menu.lst",
            &mut MapSource::default(),
        );

        let s = soup(&mut rng, SYSLINUX_TOKENS, n);
        let inc = soup(&mut rng, SYSLINUX_TOKENS, 30);
        let mut src = MapSource::default()
            .with("/a.cfg", inc.clone().into_bytes())
            .with("/boot/b.cfg", inc.into_bytes());
        let _ = parse_syslinux(s.as_bytes(), "/boot/syslinux.cfg", &mut src);
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "iteration {i}: too slow"
        );
    }
}

#[test]
fn byte_noise_never_panics() {
    let mut rng = Rng(42);
    for _ in 0..300 {
        let len = (rng.next() % 2000) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
        let _ = parse_grub2(&bytes, "/boot/grub/grub.cfg", &mut MapSource::default());
        let _ = parse_legacy(&bytes, "/boot/grub/menu.lst", &mut MapSource::default());
        let _ = parse_syslinux(&bytes, "/syslinux.cfg", &mut MapSource::default());
    }
}

#[test]
fn hostile_strings_stay_data() {
    // Quotes, parentheses, NUL-free control characters and code-like text pass through as
    // data; a huge argument is kept whole (the caller enforces Xen's command-line limit).
    let long = "x".repeat(5000);
    let cfg = format!(
        "menuentry \"$(reboot)\" {{ linux '/../../etc/shadow' \"a'b\" ')(' `id` {long} }}\n"
    );
    let m = parse_grub2(
        cfg.as_bytes(),
        "/boot/grub/grub.cfg",
        &mut MapSource::default(),
    )
    .unwrap();
    let e = m.entry(&[0]).unwrap();
    assert_eq!(e.title, "$(reboot)");
    assert_eq!(e.kernel.as_ref().unwrap().path, "/../../etc/shadow");
    assert!(e.args.starts_with(r"a\'b )( `id` xxx"), "{}", e.args);
    assert_eq!(e.args.len(), "a\\'b )( `id` ".len() + 5000);
}
