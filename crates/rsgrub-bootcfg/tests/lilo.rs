//! LILO `lilo.conf`. Expected values follow lilo.conf(5) and how the `lilo` installer
//! (LILO 24, `cfg.c` / `bsect.c`) builds each image's command line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;
use rsgrub_bootcfg::{parse_config, parse_lilo, ConfigKind, EntryKind, MapSource, Menu};

fn lilo(text: &str) -> Menu {
    parse_lilo(text.as_bytes(), "/etc/lilo.conf", &mut MapSource::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The example of lilo.conf(5).
const MANPAGE: &str = r#"# /etc/lilo.conf
#
#  global options:
boot=/dev/hda
prompt
timeout=150
lba32
compact
vga=normal
root=/dev/hda1
read-only
menu-title=" John's Computer "
#
### bootable kernel images ###
image=/boot/vmlinuz-2.6.29-1-i386
     label=try
     initrd=/boot/initrd.img-2.6.29-1-i386
image=/boot/vmlinuz-2.4.33-1-i386
     label=2.4.33
image=/tamu/vmlinuz
     label=tamu
     initrd=/tamu/initrd.img
     root=/dev/hdb2
     vga=ask
#
### other operating systems ###
other=/dev/hda3
     label=PCDOS
     boot-as=0x80    # must be C:
other=/dev/hdb1
     label=WinXP
     boot-as=0x80    # must be C:
other=/dev/hdb5
     label=oldDOS
     loader=chain
     table=/dev/hdb5
"#;

#[test]
fn manpage_example() {
    let m = parse_config(
        ConfigKind::Lilo,
        MANPAGE.as_bytes(),
        "/etc/lilo.conf",
        &mut MapSource::default(),
    )
    .unwrap();
    assert_eq!(m.kind, ConfigKind::Lilo);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(
        titles(&m.items),
        ["try", "2.4.33", "tamu", "PCDOS", "WinXP", "oldDOS"]
    );
    // "the default kernel image, the first mentioned, ... will be booted after a timeout
    // of 15 seconds (150 deciseconds)".
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!((m.timeout_tenths, m.hidden), (Some(150), false));
    let e = default_entry(&m);
    assert_eq!(e.kind, EntryKind::Linux);
    assert_eq!(kernel(e), "/boot/vmlinuz-2.6.29-1-i386");
    assert_eq!(initrds(e), ["/boot/initrd.img-2.6.29-1-i386"]);
    // Global read-only and root, in LILO's order.
    assert_eq!(e.args, "ro root=/dev/hda1");
    assert_eq!(e.id.as_deref(), Some("try"));
    let old = m.entry(&[1]).unwrap();
    assert_eq!(
        (kernel(old).as_str(), old.args.as_str()),
        ("/boot/vmlinuz-2.4.33-1-i386", "ro root=/dev/hda1")
    );
    assert!(old.initrds.is_empty());
    // The section's root overrides the global one.
    let tamu = m.entry(&[2]).unwrap();
    assert_eq!(tamu.args, "ro root=/dev/hdb2");
    assert_eq!(initrds(tamu), ["/tamu/initrd.img"]);
    for i in 3..6 {
        assert_eq!(m.entry(&[i]).unwrap().kind, EntryKind::Other);
    }
    assert_eq!(
        e.source,
        lines(&[
            "linux /boot/vmlinuz-2.6.29-1-i386 ro root=/dev/hda1",
            "initrd /boot/initrd.img-2.6.29-1-i386"
        ])
    );
}

#[test]
fn append_addappend_literal_alias_delay() {
    let m = lilo(
        r#"append="quiet splash"
root=/dev/sda2
read-only
initrd=/boot/initrd.gz
default=RESCUE
delay=30
image = /boot/vmlinuz
  label = "Linux Default"
  addappend = "acpi=off"
image=/boot/vmlinuz-old
  label=old
  append="console=ttyS0 \
      debug"
  read-write
  alias=Rescue
image=/boot/vmlinuz-lit
  label=lit
  literal="root=/dev/sdb1 init=/bin/sh"
  ramdisk=0x1000
image=boot/vmlinuz-\
rel
  ramdisk=0x10
"#,
    );
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    // A label's spaces become `_`; without a label, the file name.
    assert_eq!(
        titles(&m.items),
        ["Linux_Default", "old", "lit", "vmlinuz-rel"]
    );
    let e = m.entry(&[0]).unwrap();
    // ro, root, then the global append, then addappend.
    assert_eq!(e.args, "ro root=/dev/sda2 quiet splash acpi=off");
    assert_eq!(initrds(e), ["/boot/initrd.gz"]);
    // The section's append replaces the global one; `\` + newline in quotes is one space
    // (after the one already there); global read-only and section read-write both apply.
    assert_eq!(
        m.entry(&[1]).unwrap().args,
        "ro rw root=/dev/sda2 console=ttyS0  debug"
    );
    // literal replaces everything.
    assert_eq!(m.entry(&[2]).unwrap().args, "root=/dev/sdb1 init=/bin/sh");
    let rel = m.entry(&[3]).unwrap();
    assert_eq!(kernel(rel), "/boot/vmlinuz-rel");
    assert_eq!(rel.args, "ro root=/dev/sda2 ramdisk=16 quiet splash");
    // default= names the alias, case-insensitively.
    assert_eq!(m.default, Some(vec![1]));
    // No prompt: hidden, booting after `delay` tenths.
    assert_eq!((m.timeout_tenths, m.hidden), (Some(30), true));
}

#[test]
fn warnings_and_errors() {
    let m = lilo(
        "frobnicate\ntimeout=50\ndefault=missing\nroot=current\n\
         image=/vmlinuz\n  append=\"vga=791 $HOME\"\n  label=a\n  label=b\n  prompt\n  read-only=yes\n",
    );
    let w = m.warnings.join("\n");
    for needle in [
        "unknown keyword `frobnicate`",
        "root=current",
        "vga=791",
        "duplicate entry `label`",
        "global option after the first image",
        "doesn't have a value",
        "`$`",
        "default image `missing` doesn't exist",
    ] {
        assert!(w.contains(needle), "{needle}: {w}");
    }
    assert_eq!(titles(&m.items), ["a"]);
    assert_eq!(m.entry(&[0]).unwrap().args, "vga=791 $HOME");
    // `timeout` without `prompt` means nothing: hidden, no delay.
    assert_eq!((m.timeout_tenths, m.hidden), (Some(0), true));
    for (bad, line) in [
        ("image=\"/vmlinuz\n", 1),
        ("append=\"a\tb\"\n", 1),
        ("append=\"a\\x\"\n", 1),
        ("\n= x\n", 2),
        ("root=\n", 2),
        ("a = =\n", 1),
    ] {
        let e =
            parse_lilo(bad.as_bytes(), "/etc/lilo.conf", &mut MapSource::default()).unwrap_err();
        assert_eq!(e.line, line, "{bad:?}: {e}");
    }
    let m = lilo("# only comments\n");
    assert!(m.items.is_empty() && m.default.is_none());
}
