//! GRUB 2 scripting semantics, one feature per test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use std::time::{Duration, Instant};

use common::*;
use rsgrub_bootcfg::{
    parse_grub2, EntryKind, FileSource, MapSource, Menu, ParseError, SearchKind, MAX_CONFIG_BYTES,
};

const CFG: &str = "/boot/grub/grub.cfg";

fn menu_with(src: &mut dyn FileSource, text: &str) -> Menu {
    parse_grub2(text.as_bytes(), CFG, src).unwrap_or_else(|e| panic!("{e}\n--- config:\n{text}"))
}

fn menu(text: &str) -> Menu {
    menu_with(&mut MapSource::default(), text)
}

fn err(text: &str) -> ParseError {
    match parse_grub2(text.as_bytes(), CFG, &mut MapSource::default()) {
        Ok(m) => panic!("expected an error, got {m:?}"),
        Err(e) => e,
    }
}

/// Three top-level entries and a submenu with two, the usual shape.
const TREE: &str = r#"
menuentry 'First' --id first { linux /k1 a }
menuentry 'Second' --id second { linux /k2 b }
submenu 'More options' --id more {
    menuentry 'Deep one' --id deep1 { linux /k3 c }
    menuentry 'Deep > two' --id deep2 { linux /k4 d }
}
menuentry 'Last' { linux /k5 e }
"#;

fn with_default(d: &str) -> Menu {
    menu(&format!("set default=\"{d}\"\n{TREE}"))
}

// ---------- default selection ----------

#[test]
fn default_unset_is_first_entry() {
    let m = menu(TREE);
    assert_eq!(m.default, Some(vec![0]));
    assert!(m.default_reason.contains("not set"), "{}", m.default_reason);
    assert_eq!(m.timeout_tenths, None);
}

#[test]
fn default_by_index_title_id() {
    assert_eq!(with_default("1").default, Some(vec![1]));
    assert_eq!(with_default("3").default, Some(vec![3]));
    assert_eq!(with_default("0x1").default, Some(vec![1]));
    let m = with_default("Second");
    assert_eq!(m.default, Some(vec![1]));
    assert!(m.default_reason.contains("(title)"), "{}", m.default_reason);
    let m = with_default("second");
    assert_eq!(m.default, Some(vec![1]));
    assert!(m.default_reason.contains("(id)"), "{}", m.default_reason);
    // A submenu chosen as the default opens at its first entry.
    assert_eq!(with_default("more").default, Some(vec![2, 0]));
    assert_eq!(with_default("2").default, Some(vec![2, 0]));
}

#[test]
fn default_path_into_submenu() {
    assert_eq!(with_default("more>deep2").default, Some(vec![2, 1]));
    assert_eq!(with_default("2>1").default, Some(vec![2, 1]));
    assert_eq!(
        with_default("More options>Deep one").default,
        Some(vec![2, 0])
    );
    // `>>` is a literal `>` in a title.
    assert_eq!(with_default("more>Deep >> two").default, Some(vec![2, 1]));
    // An unknown element inside the submenu: its first entry, as GRUB does.
    assert_eq!(with_default("more>nothing").default, Some(vec![2, 0]));
    let m = with_default("more>deep2");
    assert_eq!(kernel(default_entry(&m)), "/k4");
}

#[test]
fn default_out_of_range_or_unknown_warns() {
    for d in ["4", "99999999999999999999999", "Nope", "-1", "1abc"] {
        let m = with_default(d);
        assert_eq!(m.default, Some(vec![0]), "{d}");
        assert!(
            m.warnings.iter().any(|w| w.contains("first entry")),
            "{d}: {:?}",
            m.warnings
        );
    }
}

#[test]
fn default_saved_via_grubenv() {
    let env = grubenv(&[("saved_entry", "deep1")]);
    let mut src = MapSource::default().with("/boot/grub/grubenv", env.clone());
    let text = format!("load_env\nset default=\"${{saved_entry}}\"\n{TREE}");
    // `deep1` is inside the submenu: not a top-level id, so GRUB boots the first entry.
    let m = menu_with(&mut src, &text);
    assert_eq!(m.default, Some(vec![0]));
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("\"deep1\" matches no entry")),
        "{:?}",
        m.warnings
    );
    let env = grubenv(&[("saved_entry", "more>deep1")]);
    let mut src = MapSource::default().with("/boot/grub/grubenv", env.clone());
    let m = menu_with(&mut src, &text);
    assert_eq!(m.default, Some(vec![2, 0]));
    assert!(
        m.default_reason.contains("saved_entry"),
        "{}",
        m.default_reason
    );
    // The grub-mkconfig `GRUB_DEFAULT=saved` idiom with a literal `saved` too.
    let mut src = MapSource::default().with("/boot/grub/grubenv", env);
    let text = format!("if [ -s $prefix/grubenv ]; then load_env; fi\nset default=saved\n{TREE}");
    let m = menu_with(&mut src, &text);
    assert_eq!(m.default, Some(vec![2, 0]));
}

#[test]
fn load_env_file_option_and_whitelist() {
    let env = grubenv(&[("a", "1"), ("b", "2"), ("saved_entry", "Last")]);
    let mut src = MapSource::default().with("/elsewhere/env", env);
    let m = menu_with(
        &mut src,
        "load_env -f /elsewhere/env a saved_entry\n\
         menuentry \"x$a$b\" { linux /k }\nset default=$saved_entry\n",
    );
    assert_eq!(m.items[0].title(), "x1");
    assert_eq!(m.default, Some(vec![0]), "`Last` is not a title here");
    // Not an environment block: a warning, nothing set.
    let mut src = MapSource::default().with("/boot/grub/grubenv", b"a=1\n".to_vec());
    let m = menu_with(&mut src, "load_env\nmenuentry \"[$a]\" { linux /k }\n");
    assert_eq!(m.items[0].title(), "[]");
    assert!(m.warnings.iter().any(|w| w.contains("environment block")));
}

#[test]
fn fallback_and_timeout() {
    let m = menu(&format!(
        "set timeout=7\nset fallback=\"1 more>deep2\"\n{TREE}"
    ));
    assert_eq!(m.timeout_tenths, Some(70));
    assert_eq!(m.fallback, vec![vec![1], vec![2, 1]]);
    assert_eq!(
        menu("set timeout=-1\nmenuentry a { linux /k }").timeout_tenths,
        None
    );
    assert_eq!(
        menu("set timeout=junk\nmenuentry a { linux /k }").timeout_tenths,
        None
    );
    let m = menu("set timeout_style=hidden\nset timeout=3\nmenuentry a { linux /k }");
    assert!(m.hidden);
    assert_eq!(m.timeout_tenths, Some(30));
    // Without a timeout GRUB ignores the style.
    assert!(!menu("set timeout_style=hidden\nmenuentry a { linux /k }").hidden);
}

// ---------- variables and expansion ----------

#[test]
fn expansion_in_paths_and_args() {
    let m = menu(
        r#"
set kver=5.10.0-8-amd64
set rootdev="UUID=abcd"
extra='console=hvc0  quiet'
set root='(hd0,msdos1)'
menuentry "Debian $kver" {
    linux /boot/vmlinuz-${kver} root=$rootdev ro $extra
    initrd /boot/initrd.img-$kver
}
menuentry "explicit device" {
    linux (hd1,gpt2)/vmlinuz
    initrd ($root)/initrd.img (hd1,gpt2)/microcode.img
}
"#,
    );
    let e = m.entry(&[0]).unwrap();
    assert_eq!(e.title, "Debian 5.10.0-8-amd64");
    assert_eq!(e.kernel, Some(f("/boot/vmlinuz-5.10.0-8-amd64")));
    // Unquoted $extra is split into two words; GRUB joins the command line with one space.
    assert_eq!(e.args, "root=UUID=abcd ro console=hvc0 quiet");
    assert_eq!(initrds(e), ["/boot/initrd.img-5.10.0-8-amd64"]);
    assert_eq!(
        e.root.as_deref(),
        Some("hd0,msdos1"),
        "parentheses stripped from root"
    );
    let e = m.entry(&[1]).unwrap();
    assert_eq!(e.kernel, Some(fd("hd1,gpt2", "/vmlinuz")));
    assert_eq!(
        e.initrds,
        vec![
            fd("hd0,msdos1", "/initrd.img"),
            fd("hd1,gpt2", "/microcode.img")
        ]
    );
}

#[test]
fn body_sees_variables_as_of_the_menuentry_command() {
    let m = menu(
        r#"
set v=before
menuentry one { linux /k $v }
set v=after
menuentry two { set v=inside; set root=hd5; linux /k $v }
menuentry three { linux /k $v }
"#,
    );
    assert_eq!(m.entry(&[0]).unwrap().args, "before");
    assert_eq!(m.entry(&[1]).unwrap().args, "inside");
    assert_eq!(m.entry(&[1]).unwrap().root.as_deref(), Some("hd5"));
    // The body's changes did not leak.
    assert_eq!(m.entry(&[2]).unwrap().args, "after");
    assert_eq!(m.entry(&[2]).unwrap().root, None);
}

#[test]
fn root_change_between_kernel_and_initrd() {
    let m = menu("menuentry x { set root=hd0,gpt1; linux /k; set root=hd0,gpt2; initrd /i }");
    let e = m.entry(&[0]).unwrap();
    assert_eq!(e.root.as_deref(), Some("hd0,gpt2"));
    assert_eq!(
        e.kernel,
        Some(fd("hd0,gpt1", "/k")),
        "kernel read from the root of its time"
    );
    assert_eq!(e.initrds, vec![f("/i")]);
}

#[test]
fn set_unset_export_and_assignment_words() {
    let m = menu(
        r#"
set a=1
b=2
set c
set d=x=y
unset a
export e
menuentry "[$a][$b][$c][$d][$e]" { linux /k }
"#,
    );
    // `set c` is not an assignment: GRUB fails it and sets nothing.
    assert_eq!(m.items[0].title(), "[][2][][x=y][]");
}

#[test]
fn submenu_context_sees_only_exported_variables() {
    let m = menu(
        r#"
set plain=p
set shared=s
export shared
submenu sub {
    menuentry "[$plain][$shared]" { linux /k }
    set inner=1
}
menuentry "[$inner]" { linux /k }
"#,
    );
    assert_eq!(submenu(&m, &[0]).items[0].title(), "[][s]");
    assert_eq!(m.items[1].title(), "[]");
}

#[test]
fn builtin_variables() {
    let m = menu(
        "menuentry \"$prefix|$config_directory|$config_file|$grub_platform|$feature_menuentry_id\" { linux /k }",
    );
    assert_eq!(
        m.items[0].title(),
        "/boot/grub|/boot/grub|/boot/grub/grub.cfg|xen|y"
    );
}

// ---------- quoting ----------

#[test]
fn quoting_torture() {
    let m = menu(
        r#"
set v="a  b"
set e=
menuentry 'single $v "x" \n' { linux /k }
menuentry "double $v \$v \"q\" \\ \a" { linux /k }
menuentry it\'s\ escaped\ \$v { linux /k }
menuentry 'it'"'"'s' { linux /k }
menuentry "multi
line" { linux /k }
menuentry "x"'y'z$e"" { linux /k }
menuentry "lead${v}trail" { linux /k }
menuentry a#b { linux /k } # a comment after the block
"#,
    );
    let t: Vec<&str> = m.items.iter().map(|i| i.title()).collect();
    assert_eq!(
        t,
        [
            r#"single $v "x" \n"#,
            r#"double a  b $v "q" \ \a"#,
            "it's escaped $v",
            "it's",
            "multi\nline",
            "xyz",
            "leada  btrail",
            "a#b",
        ]
    );
}

#[test]
fn word_splitting_and_empty_words() {
    let m = menu(
        r#"
set v="  x  y  "
set empty=
menuentry t { linux /k a$v b "" $empty "$empty" c }
"#,
    );
    // Unquoted: split between fields only ("a" joins "x", "y" stands alone, then "b");
    // an unquoted empty expansion vanishes, a quoted empty one is an empty argument.
    let args = &m.entry(&[0]).unwrap().args;
    assert_eq!(args, "ax y b   c");
}

#[test]
fn kernel_command_line_quoting_like_grub() {
    let m = menu(r#"menuentry t { linux /k "a b" 'x"y' back\\slash it\'s }"#);
    assert_eq!(
        m.entry(&[0]).unwrap().args,
        r#""a b" x\"y back\\slash it\'s"#
    );
}

#[test]
fn line_continuation_semicolons_and_comments() {
    let m = menu(
        "set a=1; set b=2 ; # comment\nmenuentry \\\n  \"$a$b\" \\\n  { linux /k \\\n x; initrd /i }\n# whole-line comment with 'quote\n",
    );
    let e = m.entry(&[0]).unwrap();
    assert_eq!((e.title.as_str(), e.args.as_str()), ("12", "x"));
    assert_eq!(initrds(e), ["/i"]);
}

#[test]
fn non_utf8_nul_and_crlf() {
    let mut text =
        b"menuentry 'Caf\xe9' {\r\n linux /k ok\0 garbage that is dropped\r\n initrd /i\r\n}\r\n"
            .to_vec();
    text.extend_from_slice(b"menuentry \"\xff\xfe\" { linux /k2 }\n");
    let m = parse_grub2(&text, CFG, &mut MapSource::default()).unwrap();
    assert_eq!(m.items[0].title(), "Caf\u{fffd}");
    let e = m.entry(&[0]).unwrap();
    assert_eq!((kernel(e).as_str(), e.args.as_str()), ("/k", "ok"));
    assert_eq!(initrds(e), ["/i"]);
    assert_eq!(m.items[1].title(), "\u{fffd}\u{fffd}");
}

// ---------- control flow ----------

#[test]
fn if_elif_else_and_test_operators() {
    let mut src = Src::new(
        MapSource::default()
            .with("/boot/exists", b"1".to_vec())
            .with("/boot/empty", Vec::new()),
    );
    src.dirs.push("/boot".into());
    let m = menu_with(
        &mut src,
        r#"
set r=
if [ -f /boot/exists ]; then r="${r}f"; fi
if [ -f /boot/missing ]; then r="${r}X"; else r="${r}!f"; fi
if [ -e /boot/exists -a -d /boot ]; then r="${r}ed"; fi
if [ -f /boot ]; then r="${r}X"; fi
if [ -s /boot/empty ]; then r="${r}X"; elif [ -s /boot/exists ]; then r="${r}s"; fi
if [ -z "" -a -n x ]; then r="${r}zn"; fi
if [ 10 -gt 9 -a -3 -lt -2 -a 5 -ge 5 -a 0x10 -eq 16 -a 1 -ne 2 -a 3 -le 3 ]; then r="${r}num"; fi
if [ ! a = b ]; then r="${r}not"; fi
if ! [ a = a ]; then r="${r}X"; else r="${r}bang"; fi
if [ a = b -o ( c != d ) ]; then r="${r}or"; fi
if [ vmlinuz-2 -plt vmlinuz-11 ]; then r="${r}plt"; fi
if [ abc \< abd ]; then r="${r}lt"; fi
if test x; then r="${r}test"; fi
if [ ]; then r="${r}empty"; fi
if [ "" ]; then r="${r}X"; fi
if [ "$undefined" ]; then r="${r}X"; fi
menuentry "$r" { linux /k }
"#,
    );
    assert_eq!(m.items[0].title(), "f!fedsznnumnotbangorpltlttestempty");
}

#[test]
fn loops_break_continue() {
    let m = menu(
        r#"
set out=
for k in 1 2 3 4 5; do
  if [ $k = 2 ]; then continue; fi
  if [ $k = 5 ]; then break; fi
  out="$out$k"
done
set n=
while [ "$n" != xxx ]; do n="${n}x"; done
until [ "$n" = "" ]; do n=; done
for k in a b; do for j in 1 2; do if [ $j = 2 ]; then break 2; fi; out="$out$k$j"; done; done
menuentry "$out|$n|$k" { linux /k }
"#,
    );
    // The second loop appends "a1" before `break 2`; `until` emptied n.
    assert_eq!(m.items[0].title(), "134a1||a");
}

#[test]
fn menuentries_made_in_a_loop() {
    let m = menu("for v in 5.10 6.1; do\n menuentry \"Linux $v\" { linux /vmlinuz-$v }\ndone\n");
    assert_eq!(titles(&m.items), ["Linux 5.10", "Linux 6.1"]);
    assert_eq!(kernel(m.entry(&[1]).unwrap()), "/vmlinuz-6.1");
}

#[test]
fn functions_and_parameters() {
    let m = menu(
        r#"
function count { r="$#:$1:$2" ; }
function all { a="$*"; b=$@; c="$@"; }
function ret { return 3; }
function shifty { shift; s="$1"; }
helper() { h="called $1"; }
count "x y" z
all p q
ret
st=$?
shifty one two
helper me
function echo { r=never; }
echo hi
menuentry "$r|$a|$b|$c|$st|$s|$h|$1|$#" { linux /k }
"#,
    );
    // "$*" is one word; $@ and "$@" are one word per parameter, so `b=$@` runs the
    // assignment `b=p` with an extra argument `q`. `$1`/`$#` at top level: no scope,
    // nothing. A function cannot override a command (`echo`).
    assert_eq!(m.items[0].title(), "2:x y:z|p q|p|p|3|two|called me||");
}

#[test]
fn menuentry_parameters_and_options() {
    let m = menu(
        r#"
menuentry "Title" extra --class os --class gnu --hotkey=t --users root --unrestricted --id=myid {
    linux /k "$1" "$2" $#
}
menuentry --id=x2 "Second" { linux /k }
menuentry "-bad" { linux /k }
menuentry "no body"
menuentry --bogus x { linux /k }
"#,
    );
    assert_eq!(titles(&m.items), ["Title", "Second"]);
    let e = m.entry(&[0]).unwrap();
    assert_eq!(e.id.as_deref(), Some("myid"));
    assert_eq!(e.args, "Title extra 2");
    assert_eq!(m.entry(&[1]).unwrap().id.as_deref(), Some("x2"));
    assert_eq!(m.warnings.len(), 3, "{:?}", m.warnings);
}

#[test]
fn loaders_and_kinds() {
    let m = menu(
        r#"
menuentry linux { linux /k a; initrd /i1 /i2 }
menuentry efi { linuxefi /k; initrdefi /i }
menuentry xen {
    multiboot2 /xen.gz dom0_mem=1G
    module2 /vmlinuz placeholder root=/dev/xvda1
    module2 --nounzip /initrd.img
}
menuentry chain { chainloader +1 }
menuentry nothing { echo hi }
menuentry replaced { linux /old; initrd /oldi; linux /new b }
menuentry stray { initrd /i }
"#,
    );
    let e = m.entry(&[0]).unwrap();
    assert_eq!(
        (e.kind, initrds(e)),
        (EntryKind::Linux, vec!["/i1".to_string(), "/i2".to_string()])
    );
    assert_eq!(m.entry(&[1]).unwrap().kind, EntryKind::Linux);
    let x = m.entry(&[2]).unwrap();
    assert_eq!(
        (x.kind, kernel(x).as_str(), x.args.as_str()),
        (EntryKind::Multiboot, "/xen.gz", "dom0_mem=1G")
    );
    assert_eq!(x.modules.len(), 2);
    assert_eq!(x.modules[1].file, f("/initrd.img"));
    let pv = x.linux_from_modules().unwrap();
    assert_eq!(
        (kernel(&pv).as_str(), pv.args.as_str()),
        ("/vmlinuz", "root=/dev/xvda1")
    );
    assert_eq!(initrds(&pv), ["/initrd.img"]);
    assert_eq!(m.entry(&[3]).unwrap().kind, EntryKind::Other);
    assert_eq!(m.entry(&[3]).unwrap().kernel, None);
    assert_eq!(m.entry(&[4]).unwrap().kind, EntryKind::Other);
    let r = m.entry(&[5]).unwrap();
    assert_eq!(
        (kernel(r).as_str(), r.args.as_str(), r.initrds.len()),
        ("/new", "b", 0)
    );
    assert_eq!(m.entry(&[6]).unwrap().kind, EntryKind::Other);
    assert!(
        m.warnings.iter().any(|w| w.contains("before a kernel")),
        "{:?}",
        m.warnings
    );
}

#[test]
fn search_variants() {
    let mut src = Src::new(MapSource::default())
        .search(SearchKind::FsUuid, "1234", "hd0,gpt2")
        .search(SearchKind::Label, "boot", "hd1,msdos1")
        .search(SearchKind::File, "/vmlinuz", "hd2")
        .search(SearchKind::PartUuid, "abcd-02", "hd0,msdos2")
        .search(SearchKind::PartLabel, "ESP", "hd0,gpt1");
    let m = menu_with(
        &mut src,
        r#"
search --no-floppy --fs-uuid --set=root --hint-bios=hd0,gpt2 --hint='hd0,gpt2' 1234
search --label --set lbl boot
search -f -s filedev /vmlinuz
search.fs_uuid 1234 viaalias
if search --fs-uuid --set=nope 9999; then r=found; else r=notfound; fi
search --part-uuid --set=pu abcd-02
search -L -s pl ESP
search.part_label ESP pl2
menuentry "$root|$lbl|$filedev|$viaalias|$nope|$r|$pu|$pl|$pl2" { linux /k }
"#,
    );
    assert_eq!(
        m.items[0].title(),
        "hd0,gpt2|hd1,msdos1|hd2|hd0,gpt2||notfound|hd0,msdos2|hd0,gpt1|hd0,gpt1"
    );
    assert_eq!(m.entry(&[0]).unwrap().root.as_deref(), Some("hd0,gpt2"));
}

// ---------- files: source, configfile ----------

#[test]
fn source_shares_scope_and_sets_config_directory() {
    let mut src = MapSource::default().with(
        "/boot/grub/extra/more.cfg",
        b"set fromsrc=yes\nmenuentry \"sourced in $config_directory\" { linux /k }\n".to_vec(),
    );
    let m = menu_with(
        &mut src,
        "source $prefix/extra/more.cfg\nmenuentry \"after $fromsrc in $config_directory\" { linux /k }\n",
    );
    assert_eq!(
        titles(&m.items),
        ["sourced in /boot/grub/extra", "after yes in /boot/grub"]
    );
}

#[test]
fn configfile_replaces_the_menu() {
    // A stub grub.cfg (as on EFI system partitions) pointing at the real one.
    let real =
        b"set timeout=3\nset default=1\nmenuentry A { linux /a }\nmenuentry B { linux /b }\n";
    let mut src = MapSource::default().with("/boot/grub2/grub.cfg", real.to_vec());
    let m = menu_with(
        &mut src,
        "menuentry stub { linux /stub }\nset timeout=9\nconfigfile /boot/grub2/grub.cfg\nmenuentry never { linux /never }\n",
    );
    assert_eq!(titles(&m.items), ["A", "B"]);
    assert_eq!(m.default, Some(vec![1]));
    assert_eq!(m.timeout_tenths, Some(30));
    assert!(
        m.default_reason.contains("configfile"),
        "{}",
        m.default_reason
    );
}

#[test]
fn configfile_in_an_entry_becomes_a_submenu() {
    let other = b"menuentry Inner { linux /inner }\n";
    let mut src = MapSource::default().with("/other.cfg", other.to_vec());
    let m = menu_with(
        &mut src,
        "menuentry 'Other OS' { configfile /other.cfg }\nmenuentry Plain { linux /p }\n",
    );
    assert_eq!(titles(&m.items), ["Other OS/", "Plain"]);
    assert_eq!(submenu(&m, &[0]).items[0].title(), "Inner");
    assert_eq!(m.default, Some(vec![0, 0]));
}

#[test]
fn include_loops_terminate() {
    let mut src = MapSource::default()
        .with(
            "/boot/grub/loop.cfg",
            b"set n=\"x$n\"\nsource /boot/grub/loop.cfg\n".to_vec(),
        )
        .with(
            "/boot/grub/cf.cfg",
            b"configfile /boot/grub/cf.cfg\n".to_vec(),
        );
    let m = menu_with(
        &mut src,
        "source /boot/grub/loop.cfg\nconfigfile /boot/grub/cf.cfg\nmenuentry \"$n\" { linux /k }\n",
    );
    assert_eq!(m.items[0].title(), "xxxxxxxx");
    assert!(
        m.warnings.iter().any(|w| w.contains("nested deeper")),
        "{:?}",
        m.warnings
    );
}

#[test]
fn bad_sourced_file_is_a_warning() {
    let mut src = MapSource::default().with("/boot/grub/custom.cfg", b"if true; then\n".to_vec());
    let m = menu_with(
        &mut src,
        "source /boot/grub/custom.cfg\nsource /missing.cfg\nmenuentry a { linux /k }\n",
    );
    assert_eq!(m.items.len(), 1);
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    assert!(m.warnings[0].contains("custom.cfg:2"), "{:?}", m.warnings);
}

#[test]
fn eval_runs_in_scope() {
    let m = menu("set name=v\neval set \\$name=42 \\; x=1\nmenuentry \"$v$x\" { linux /k }\n");
    assert_eq!(m.items[0].title(), "421");
}

// ---------- noops, unknowns, stubs ----------

#[test]
fn noops_unknowns_and_stubs() {
    let m = menu(
        r#"
insmod gzio
terminal_output gfxterm
set color_normal=white/black
load_video
recordfail
save_env saved_entry
frobnicate --now
blscfg
if regexp x y; then r=X; else r=nomatch; fi
menuentry "$r" { insmod ext2; echo 'Loading'; linux /k; frobnicate }
"#,
    );
    assert_eq!(m.items[0].title(), "nomatch");
    let w = &m.warnings;
    assert_eq!(w.len(), 4, "{w:?}");
    assert!(
        w[0].starts_with("/boot/grub/grub.cfg:8: unknown command `frobnicate`"),
        "{w:?}"
    );
    assert!(w[1].contains(":9: blscfg"), "{w:?}");
    assert!(w[2].contains(":10: regexp"), "{w:?}");
    assert!(w[3].contains(":11: unknown command"), "{w:?}");
}

// ---------- syntax errors ----------

#[test]
fn syntax_errors_carry_lines() {
    for (src, line, what) in [
        (
            "set a=1\nmenuentry 'x {\n linux /k\n}\n",
            2,
            "unterminated single",
        ),
        ("\n\nif true; then\n  linux /k\n", 5, "expecting `fi`"),
        ("menuentry x {\n linux /k\n", 3, "expecting `}`"),
        ("echo a\n}\n", 2, "unexpected `}`"),
        ("echo a\necho b | c\n", 2, "`|`"),
        ("set default=1>2\n", 1, "`>`"),
        ("while true; do\ndone done\n", 2, "unexpected"),
        ("for 9 in a; do b; done", 1, "variable name"),
        ("echo \"abc\n\n", 1, "unterminated double"),
        ("fi\n", 1, "unexpected `fi`"),
        ("function { x }\n", 1, "function name"),
        ("[[ a ]]\n", 1, "unexpected"),
    ] {
        let e = err(src);
        assert_eq!(e.file, CFG);
        assert_eq!(e.line, line, "{src:?}: {e}");
        assert!(e.msg.contains(what), "{src:?}: {e}");
    }
}

#[test]
fn nesting_limit_is_an_error_not_a_crash() {
    let deep = "if true; then\n".repeat(10_000);
    assert!(err(&deep).msg.contains("nesting"));
    let braces = "menuentry x {\n".repeat(10_000);
    assert!(err(&braces).msg.contains("nesting"));
}

// ---------- bounds ----------

#[test]
fn endless_loops_hit_the_step_limit() {
    for script in [
        "while true; do; done",
        "while true; do true; done",
        "until false; do set a=b; done",
        "function f { f; }\nf",
        "function a { b; }\nfunction b { a; }\na",
        "function f { submenu x { f } }\nf",
    ] {
        let t = Instant::now();
        let e = err(script);
        assert!(
            e.msg.contains("more than") || e.msg.contains("deeper than"),
            "{script:?}: {e}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{script:?} took {:?}",
            t.elapsed()
        );
    }
    // The loop case is the step limit.
    assert!(err("while true; do; done").msg.contains("1000000 commands"));
}

#[test]
fn expansion_bomb_is_bounded() {
    let bomb = "set a=xxxxxxxxxxxxxxxx\n".to_string() + &"set a=$a$a$a$a\n".repeat(20);
    let e = err(&bomb);
    assert!(e.msg.contains("expansion"), "{e}");
}

#[test]
fn oversized_input_is_refused_quickly() {
    let big = vec![b'a'; 10 * 1024 * 1024];
    let t = Instant::now();
    let e = parse_grub2(&big, CFG, &mut MapSource::default()).unwrap_err();
    assert!(e.msg.contains("bytes"), "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "a hang guard, not a speed test"
    );
}

#[test]
fn one_megabyte_single_line_is_linear() {
    // Just under the cap: one huge argument, then one line of many short commands.
    let mut line = String::from("menuentry big { linux /k ");
    line.push_str(&"a".repeat(MAX_CONFIG_BYTES - 100));
    line.push_str(" }");
    let t = Instant::now();
    let m = menu(&line);
    assert_eq!(m.entry(&[0]).unwrap().args.len(), MAX_CONFIG_BYTES - 100);
    let many = "true;".repeat((MAX_CONFIG_BYTES - 100) / 5);
    menu(&many);
    let quotes = "'a'".repeat((MAX_CONFIG_BYTES - 100) / 3);
    menu(&format!("echo {quotes}"));
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t.elapsed()
    );
}

#[test]
fn hundred_thousand_entries_are_bounded() {
    let mut cfg = String::new();
    for i in 0..100_000 {
        cfg.push_str(&format!("menuentry 'e{i}' {{ linux /k{i} }}\n"));
    }
    cfg.truncate(rsgrub_bootcfg::MAX_CONFIG_BYTES - 1);
    // Either a clear error or a menu capped at the item limit: never 100,000 entries.
    match parse_grub2(cfg.as_bytes(), CFG, &mut MapSource::default()) {
        Ok(m) => {
            assert!(m.items.len() <= 10_000, "{}", m.items.len());
            assert!(!m.warnings.is_empty() || m.items.len() < 100_000);
        }
        Err(e) => assert!(
            e.msg.contains("more than") || e.msg.contains("items"),
            "{e}"
        ),
    }
}

#[test]
fn one_megabyte_variable() {
    let v = "x".repeat(1_000_000);
    let cfg = format!("set big={v}\nmenuentry 'm' {{ linux /k $big }}\n");
    match parse_grub2(cfg.as_bytes(), CFG, &mut MapSource::default()) {
        Ok(m) => {
            let e = m.entry(&[0]).unwrap();
            assert_eq!(e.args.len(), 1_000_000);
        }
        Err(e) => assert!(
            e.msg.contains("bytes") || e.msg.contains("more than"),
            "{e}"
        ),
    }
}
