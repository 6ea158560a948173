//! systemd-boot: `loader.conf` + Boot Loader Specification Type #1 entries. Expected
//! values follow the Boot Loader Specification (UAPI.1: keys, sorting), the Version Format
//! Specification (UAPI.10) and loader.conf(5) (`default` glob, `timeout`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use common::*;
use rsgrub_bootcfg::{
    eval_entry_commands, parse_config, parse_systemd_boot, ConfigKind, EntryKind, MapSource, Menu,
};

const FEDORA: &str = "u-root/bls/fedora_32";
const MID: &str = "de8380606ce44a2dabad127eb049acbe";

fn sdboot(conf: &str, src: &mut MapSource) -> Menu {
    parse_systemd_boot(conf.as_bytes(), "/loader/loader.conf", src)
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn uroot_fedora32() {
    let mut src = tree(FEDORA, "")
        .with(
            &format!("/{MID}/5_6_6_300_fc32_x86_64/linux"),
            b"k".to_vec(),
        )
        .with(&format!("/{MID}/0_rescue/linux"), b"k".to_vec());
    let conf = read(&format!("{FEDORA}/loader/loader.conf"));
    let m = parse_config(ConfigKind::Bls, &conf, "/loader/loader.conf", &mut src).unwrap();
    assert_eq!(m.kind, ConfigKind::Bls);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    // File names compare as versions, newest first: 5.6.6-... before 0-rescue.
    assert_eq!(
        titles(&m.items),
        [
            "Fedora 32 (Server Edition)",
            "Fedora 32 (Server Edition) - Rescue Image"
        ]
    );
    // `default de83...-*` matches both: the first in menu order.
    assert_eq!(m.default, Some(vec![0]));
    let e = default_entry(&m);
    assert_eq!(
        e.id.as_deref(),
        Some(&*format!("{MID}-5.6.6-300.fc32.x86_64"))
    );
    assert_eq!(e.kind, EntryKind::Linux);
    assert_eq!(kernel(e), format!("/{MID}/5_6_6_300_fc32_x86_64/linux"));
    assert_eq!(initrds(e), [format!("/{MID}/5_6_6_300_fc32_x86_64/initrd")]);
    assert_eq!(
        e.args,
        "root=UUID=b0b50629-c323-40de-9b01-05632be6dbd4 ro resume=UUID=abf0a2b5-f8db-411b-b534-1a431c63fbc0 console=ttyS0"
    );
    // `#timeout 3` is a comment: no timeout = 0, the menu is not shown.
    assert_eq!((m.timeout_tenths, m.hidden), (Some(0), true));
    assert_eq!(
        e.source,
        lines(&[
            &format!("linux /{MID}/5_6_6_300_fc32_x86_64/linux root=UUID=b0b50629-c323-40de-9b01-05632be6dbd4 ro resume=UUID=abf0a2b5-f8db-411b-b534-1a431c63fbc0 console=ttyS0"),
            &format!("initrd /{MID}/5_6_6_300_fc32_x86_64/initrd"),
        ])
    );
    let back = eval_entry_commands(&e.title, &e.source, &m, &mut src).unwrap();
    assert_eq!(
        (&back.kernel, &back.initrds, &back.args),
        (&e.kernel, &e.initrds, &e.args)
    );
}

#[test]
fn uroot_fedora32_without_kernels() {
    // systemd-boot drops entries whose `linux` file does not exist.
    let mut src = tree(FEDORA, "");
    let conf = read(&format!("{FEDORA}/loader/loader.conf"));
    let m = parse_systemd_boot(&conf, "/loader/loader.conf", &mut src).unwrap();
    assert!(m.items.is_empty());
    assert_eq!(m.default, None);
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    assert!(m.warnings[0].contains("does not exist"));
}

fn conf(title: &str, body: &str) -> Vec<u8> {
    format!("title {title}\n{body}linux /vmlinuz\n").into_bytes()
}

#[test]
fn specification_sort_order_and_unique_titles() {
    // The entries of systemd's test-bootspec `bootspec_sort` test.
    let mut src = MapSource::default()
        .with("/vmlinuz", b"k".to_vec())
        .with(
            "/loader/entries/a-10.conf",
            conf(
                "A",
                "version 10\nmachine-id dd235d00696545768f6f693bfd23b15f\n",
            ),
        )
        .with(
            "/loader/entries/a-5.conf",
            conf(
                "A",
                "version 5\nmachine-id dd235d00696545768f6f693bfd23b15f\n",
            ),
        )
        .with(
            "/loader/entries/b.conf",
            conf(
                "B",
                "version 3\nmachine-id b75451ad92f94feeab50b0b442768dbd\n",
            ),
        )
        .with(
            "/loader/entries/c.conf",
            conf(
                "C",
                "sort-key xxxx\nversion 5\nmachine-id 309de666fd5044268a9a26541ac93176\n",
            ),
        )
        .with(
            "/loader/entries/cx.conf",
            conf(
                "C",
                "sort-key xxxx\nversion 10\nmachine-id 309de666fd5044268a9a26541ac93176\n",
            ),
        )
        .with(
            "/loader/entries/d.conf",
            conf(
                "D",
                "sort-key kkkk\nversion 100\nmachine-id 81c6e3147cf544c19006af023e22b292\n",
            ),
        );
    let m = sdboot("", &mut src);
    let ids: Vec<&str> = m
        .entries()
        .iter()
        .map(|(_, e)| e.id.as_deref().unwrap())
        .collect();
    // sort-key entries first (kkkk < xxxx; same machine-id: version 10 before 5), then the
    // others by file name, decreasing version.
    assert_eq!(ids, ["d", "cx", "c", "b", "a-10", "a-5"]);
    // Titles that are not unique get their version.
    assert_eq!(
        titles(&m.items),
        ["D", "C (10)", "C (5)", "B", "A (10)", "A (5)"]
    );
    assert_eq!(m.default, Some(vec![0]));
}

#[test]
fn keys_default_glob_boot_counting_and_filters() {
    let mut src = MapSource::default()
        .with("/boot/vmlinuz", b"k".to_vec())
        .with("/boot/efi.efi", b"e".to_vec())
        .with(
            "/boot/loader/entries/os-1.conf",
            b"# comment\n  title   \"Quoted Title\"  \r\nversion 1\n\
              options root=/dev/vda1\noptions  ro   quiet\ninitrd /i1\ninitrd i2\n\
              linux /vmlinuz\nlinux vmlinuz\nlonely\n"
                .to_vec(),
        )
        .with(
            "/boot/loader/entries/os-2+0-3.conf",
            conf("Bad", "version 2\n"),
        )
        .with(
            "/boot/loader/entries/os-0+2-1.conf",
            conf("Counting", "version 0\n"),
        )
        .with(
            "/boot/loader/entries/win.conf",
            b"title Windows\nefi /efi.efi\n".to_vec(),
        )
        .with(
            "/boot/loader/entries/both.conf",
            b"title Both\nlinux /vmlinuz\nefi /efi.efi\n".to_vec(),
        )
        .with(
            "/boot/loader/entries/arm.conf",
            conf("Arm", "architecture aa64\n"),
        )
        .with(
            "/boot/loader/entries/x64.conf",
            conf("X64", "architecture X64\n"),
        )
        .with("/boot/loader/entries/auto-windows.conf", conf("Auto", ""))
        .with("/boot/loader/entries/.hidden.conf", conf("Hidden", ""))
        .with(
            "/boot/loader/entries/none.conf",
            b"title Nothing\n".to_vec(),
        );
    let m = parse_systemd_boot(
        b"default OS-[0-1]\ntimeout 5\nconsole-mode max\nbogus 1\n",
        "/boot/loader/loader.conf",
        &mut src,
    )
    .unwrap();
    // By file name, decreasing: x64, win, os-1, os-0 (+ counter), then the bad entry last.
    assert_eq!(
        titles(&m.items),
        ["X64", "Windows", "Quoted Title", "Counting", "Bad"]
    );
    let e = m.entry(&[2]).unwrap();
    assert_eq!(e.id.as_deref(), Some("os-1"));
    // The last `linux` wins; paths are relative to the directory holding loader/ (/boot).
    assert_eq!(kernel(e), "/boot/vmlinuz");
    assert_eq!(initrds(e), ["/boot/i1", "/boot/i2"]);
    assert_eq!(e.args, "root=/dev/vda1 ro   quiet");
    assert_eq!(m.entry(&[1]).unwrap().kind, EntryKind::Other);
    assert_eq!(m.entry(&[3]).unwrap().id.as_deref(), Some("os-0"));
    // `default OS-[0-1]`, lower-cased, matches os-1 before os-0.
    assert_eq!(m.default, Some(vec![2]));
    assert_eq!((m.timeout_tenths, m.hidden), (Some(50), false));
    let w = m.warnings.join("\n");
    for needle in ["bogus", "both.conf", "aa64", "none.conf"] {
        assert!(w.contains(needle), "{needle}: {w}");
    }
    assert!(
        !w.contains("auto-windows") && !w.contains(".hidden.conf"),
        "{w}"
    );
}

#[test]
fn timeouts_and_saved_default() {
    let mut src = MapSource::default()
        .with("/vmlinuz", b"k".to_vec())
        .with("/loader/entries/a.conf", conf("A", ""))
        .with("/loader/entries/b.conf", conf("B", ""));
    let m = sdboot("timeout menu-force\ndefault @saved\n", &mut src);
    assert_eq!((m.timeout_tenths, m.hidden), (None, false));
    // LoaderEntryLastBooted (an EFI variable) is not on the disk: the first entry.
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!(m.entry(&[0]).unwrap().title, "B");
    let m = sdboot("timeout menu-hidden\ndefault a.conf\n", &mut src);
    assert_eq!((m.timeout_tenths, m.hidden), (Some(0), true));
    assert_eq!(m.default, Some(vec![1]));
    let m = sdboot("timeout soon\ndefault nomatch*\n", &mut src);
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
    // No entries at all: the menu is shown.
    let m = sdboot("", &mut MapSource::default());
    assert!(m.items.is_empty() && !m.hidden && m.default.is_none());
}
