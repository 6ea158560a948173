//! NetBSD `/boot.cfg`. Expected values follow boot.cfg(5) (its examples) and the x86 boot
//! loader's reading of the file (`bootcfg.c`, `bootmenu.c`, `boot2.c`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;
use rsgrub_bootcfg::{parse_config, parse_netbsd_bootcfg, ConfigKind, EntryKind, MapSource, Menu};

fn bootcfg(text: &str) -> Menu {
    parse_netbsd_bootcfg(text.as_bytes(), "/boot.cfg", &mut MapSource::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The EXAMPLES section of boot.cfg(5).
const MANPAGE: &str = "banner=Welcome to NetBSD
banner==================
banner=
banner=Please choose an option from the following menu:
menu=Boot normally:boot
menu=Boot single-user:boot -s
menu=Boot from second disk:boot hd1a:
menu=Boot with module foo:load /foo.kmod;boot
menu=Boot with modules foo and bar:load /foo.kmod;load /bar.kmod;boot
menu=Boot Xen with 256MB for dom0:load /netbsd-XEN3_DOM0 console=pc;multiboot /usr/pkg/xen3-kernel/xen.gz dom0_mem=256M
menu=Boot Xen with 256MB for dom0 (serial):load /netbsd-XEN3_DOM0 console=com0;multiboot /usr/pkg/xen3-kernel/xen.gz dom0_mem=256M console=com1 com1=115200,8n1
menu=Boot Xen with dom0 in single-user mode:load /netbsd-XEN3_DOM0 -s;multiboot /usr/pkg/xen3-kernel/xen.gz dom0_mem=256M
menu=Go to command line (advanced users only):prompt
clear=1
timeout=-1
default=1
# Always load ramdisk module
load=/miniroot.kmod
";

#[test]
fn manpage_example() {
    let m = parse_config(
        ConfigKind::NetBsd,
        MANPAGE.as_bytes(),
        "/boot.cfg",
        &mut MapSource::default(),
    )
    .unwrap();
    assert_eq!(m.kind, ConfigKind::NetBsd);
    assert_eq!(m.items.len(), 9);
    assert_eq!(m.items[0].title(), "Boot normally");
    assert_eq!(
        m.items[8].title(),
        "Go to command line (advanced users only)"
    );
    // "Pressing Return by itself will run option 1. There will be no timeout."
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!((m.timeout_tenths, m.hidden), (None, false));
    // `boot` without a file boots `netbsd`.
    let e = default_entry(&m);
    assert_eq!(
        (e.kind, kernel(e).as_str(), e.args.as_str()),
        (EntryKind::Linux, "/netbsd", "")
    );
    assert_eq!(e.source, lines(&["linux /netbsd"]));
    let single = m.entry(&[1]).unwrap();
    assert_eq!(
        (kernel(single).as_str(), single.args.as_str()),
        ("/netbsd", "-s")
    );
    assert_eq!(single.source, lines(&["linux /netbsd -s"]));
    // `boot hd1a:`: netbsd on another NetBSD partition, which cannot be mapped: a warning.
    assert_eq!(kernel(m.entry(&[2]).unwrap()), "/netbsd");
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    assert!(
        m.warnings[0].contains(":7:") && m.warnings[0].contains("hd1a"),
        "{:?}",
        m.warnings
    );
    // Kernel modules do not change what is booted.
    assert_eq!(kernel(m.entry(&[4]).unwrap()), "/netbsd");
    // Xen: the hypervisor, with the modules loaded so far: the global `load=` (read with
    // the file, before any menu command runs), then the item's own `load`.
    let x = m.entry(&[5]).unwrap();
    assert_eq!(x.kind, EntryKind::Multiboot);
    assert_eq!(kernel(x), "/usr/pkg/xen3-kernel/xen.gz");
    assert_eq!(x.args, "dom0_mem=256M");
    let mods: Vec<(String, &str)> = x
        .modules
        .iter()
        .map(|m| (m.file.to_string(), m.args.as_str()))
        .collect();
    assert_eq!(
        mods,
        [
            ("/miniroot.kmod".to_string(), ""),
            ("/netbsd-XEN3_DOM0".to_string(), "console=pc")
        ]
    );
    assert_eq!(
        m.entry(&[6]).unwrap().args,
        "dom0_mem=256M console=com1 com1=115200,8n1"
    );
    assert_eq!(m.entry(&[7]).unwrap().modules[1].args, "-s");
    // `prompt`: nothing to boot.
    assert_eq!(m.entry(&[8]).unwrap().kind, EntryKind::Other);
}

#[test]
fn menu_examples_of_the_keyword_description() {
    let m = bootcfg(
        "menu=Boot normally:boot\nmenu=Boot single-user:boot -s\n\
         menu=Boot with module foo:load /foo.kmod;boot\n\
         menu=Boot with serial console:consdev com0;boot\nmenu=:boot hd1a:netbsd -as\n",
    );
    // An empty description shows the command.
    assert_eq!(m.items[4].title(), "boot hd1a:netbsd -as");
    let e = m.entry(&[4]).unwrap();
    assert_eq!((kernel(e).as_str(), e.args.as_str()), ("/netbsd", "-as"));
    assert_eq!(kernel(m.entry(&[3]).unwrap()), "/netbsd");
    // No timeout keyword: 10 seconds.
    assert_eq!(m.timeout_tenths, Some(100));
}

#[test]
fn defaults_timeouts_and_limits() {
    // default counts from 1 and is clamped; a timeout that is not a number waits forever.
    let m = bootcfg("menu=A:boot a\nmenu=B:boot /b.gz -s\ndefault=7\ntimeout=soon\n");
    assert_eq!(m.default, Some(vec![1]));
    assert_eq!(m.timeout_tenths, None);
    assert_eq!(kernel(m.entry(&[1]).unwrap()), "/b.gz");
    let m = bootcfg("menu=A:boot a\nmenu=B:boot b\ndefault=0\ntimeout=0\n");
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!(m.timeout_tenths, Some(0));
    // A single item with no description and no timeout: no menu is shown.
    let m = bootcfg("menu=:boot netbsd\ntimeout=0\n");
    assert!(m.hidden);
    // Keywords match by prefix; `#` starts a comment anywhere; lines without `=` and menu
    // items without `:` are skipped.
    let m = bootcfg("menus=X:boot x # comment;boot y\nnonsense\nmenu=nocolon\n");
    assert_eq!(m.items.len(), 1);
    assert_eq!(kernel(m.entry(&[0]).unwrap()), "/x");
    // Invalid boot arguments: NetBSD refuses the command, so nothing boots.
    let m = bootcfg("menu=A:boot netbsd single\nmenu=B:boot netbsd -y\n");
    assert_eq!(m.entry(&[0]).unwrap().kind, EntryKind::Other);
    assert_eq!(m.entry(&[1]).unwrap().args, "-y");
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    // At most 20 items; with format=n, more than 9 and a timeout, only 9.
    let many: String = (1..=25).map(|i| format!("menu=M{i}:boot k{i}\n")).collect();
    assert_eq!(bootcfg(&many).items.len(), 20);
    assert_eq!(
        bootcfg(&format!("format=n\ntimeout=5\n{many}")).items.len(),
        9
    );
    // No menu at all: NetBSD counts down and boots netbsd.
    let m = bootcfg("banner=hello\ntimeout=3\n");
    assert_eq!(titles(&m.items), ["netbsd"]);
    assert_eq!(kernel(default_entry(&m)), "/netbsd");
    assert_eq!((m.timeout_tenths, m.hidden), (Some(30), true));
    // NetBSD's boot does not read a boot.cfg over 32 KiB.
    let big = "#".repeat(40 << 10);
    assert!(parse_netbsd_bootcfg(big.as_bytes(), "/boot.cfg", &mut MapSource::default()).is_err());
}
