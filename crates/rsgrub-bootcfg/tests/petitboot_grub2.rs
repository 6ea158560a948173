//! The petitboot GRUB 2 configs not covered elsewhere: Fedora 18 ppc64 (grub-mkconfig with
//! LVM root and msdos2 /boot), the Fedora 20 installer (menuentries made in a `for` loop with
//! `[ -d ]` and extra arguments as `$2`), RHCOS (`--unrestricted`, an id given as a plain
//! extra argument, `$ignition_firstboot` unset). Expected values written from GRUB's semantics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
use rsgrub_bootcfg::{parse_grub2, EntryKind, FileRef, Item, MapSource};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/petitboot/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn path(p: &str) -> FileRef {
    FileRef {
        device: None,
        path: p.into(),
    }
}

#[test]
fn fedora18_ppc64() {
    let m = parse_grub2(
        &data("grub2-f18-ppc64.conf"),
        "/grub2/grub.cfg",
        &mut MapSource::default(),
    )
    .unwrap();
    assert_eq!(m.items.len(), 2);
    assert_eq!(m.default, Some(vec![0]));
    assert_eq!(m.timeout_tenths, Some(50));
    let e = m.entry(&[0]).unwrap();
    assert_eq!(e.title, "Fedora");
    assert_eq!(
        e.id.as_deref(),
        Some("gnulinux-simple-ae785c7f-5e63-431f-9b9a-aabbf04f183f")
    );
    assert_eq!(e.kernel, Some(path("/vmlinuz-3.6.10-4.fc18.ppc64p7")));
    assert_eq!(
        e.initrds,
        vec![path("/initramfs-3.6.10-4.fc18.ppc64p7.img")]
    );
    // The search finds nothing here, so $root stays as `set root` left it.
    assert_eq!(e.root.as_deref(), Some("hd0,msdos2"));
    assert_eq!(
        e.args,
        "root=/dev/mapper/fedora_ltcfbl8eb-root ro rd.lvm.lv=fedora_ltcfbl8eb/swap rd.dm=0 rd.lvm.lv=fedora_ltcfbl8eb/root rd.md=0 rd.luks=0 vconsole.keymap=us rhgb quiet"
    );
    let Item::Submenu(s) = &m.items[1] else {
        panic!("submenu")
    };
    assert_eq!(s.title, "Advanced options for Fedora");
    assert_eq!(s.items.len(), 1);
    assert_eq!(
        s.items[0].title(),
        "Fedora, with Linux 3.6.10-4.fc18.ppc64p7"
    );
}

#[test]
fn fedora20_installer_loop_with_directory_tests() {
    // Only the 64-bit tree is on the medium: the loop makes three entries for it.
    let mut src = MapSource::default()
        .with("/ppc/ppc64/vmlinuz", b"K".to_vec())
        .with("/ppc/ppc64/initrd.img", b"I".to_vec());
    let m = parse_grub2(&data("grub2-f20-ppc.conf"), "/boot/grub/grub.cfg", &mut src).unwrap();
    let titles: Vec<&str> = m.items.iter().map(|i| i.title()).collect();
    assert_eq!(
        titles,
        [
            "Install Fedora 20 (64-bit kernel)",
            "Test this media & install Fedora 20  (64-bit kernel)",
            "Rescue a Fedora system (64-bit kernel)",
            "Other options...",
        ]
    );
    let e = m.entry(&m.default.clone().unwrap()).unwrap();
    assert_eq!(e.title, "Install Fedora 20 (64-bit kernel)");
    assert_eq!(e.kernel, Some(path("/ppc/ppc64/vmlinuz")));
    assert_eq!(e.initrds, vec![path("/ppc/ppc64/initrd.img")]);
    assert_eq!(e.args, "ro");
    assert_eq!(m.entry(&[2]).unwrap().args, "rescue ro");
    let Item::Submenu(s) = &m.items[3] else {
        panic!("submenu")
    };
    // `reboot` and `exit` load no kernel.
    assert!(s
        .items
        .iter()
        .all(|i| matches!(i, Item::Entry(e) if e.kernel.is_none() || e.kind != EntryKind::Linux)));
    assert_eq!(m.timeout_tenths, Some(50));
}

#[test]
fn rhcos_unrestricted_and_unset_ignition_words() {
    let m = parse_grub2(
        &data("grub2-rhcos-ootpa.conf"),
        "/grub2/grub.cfg",
        &mut MapSource::default(),
    )
    .unwrap();
    assert_eq!(m.items.len(), 1);
    assert_eq!(m.default, Some(vec![0]));
    let e = m.entry(&[0]).unwrap();
    assert_eq!(
        e.title,
        "Red Hat Enterprise Linux CoreOS 42.80.20191030.0 (Ootpa) (ostree)"
    );
    // 'ostree-0-…' is an extra argument, not an --id.
    assert_eq!(e.id, None);
    assert!(e.unrestricted);
    assert_eq!(e.root.as_deref(), Some("hd0,gpt2"));
    assert_eq!(
        e.kernel,
        Some(path("/ostree/rhcos-6264e4be818e20cf1021bd6e7aa8c76147ce07dec186468c7dfbbc9c5dfc7d8b/vmlinuz-4.18.0-80.11.2.el8_0.ppc64le"))
    );
    assert_eq!(
        e.args,
        "console=tty0 console=hvc0,115200n8 rootflags=defaults,prjquota rw root=UUID=8d8a5c3b-97e6-4d7b-bb87-206af5a9d851 ostree=/ostree/boot.0/rhcos/6264e4be818e20cf1021bd6e7aa8c76147ce07dec186468c7dfbbc9c5dfc7d8b/0 ignition.platform.id=openstack"
    );
    assert_eq!(m.timeout_tenths, Some(10));
}
