//! Kernel checks on the boot path and in `inspect`: an ELF with Xen notes (built by gcc from
//! assembly) is PV-capable; one without notes boots with a warning.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod common;

use common::*;
use std::process::Command;

fn elf(dir: &std::path::Path, name: &str, notes: bool) -> Vec<u8> {
    let mut asm = String::from(".globl _start\n.text\n_start:\n  hlt\n  jmp _start\n");
    if notes {
        // Xen ELF notes: name "Xen", type 5 XEN_VERSION, 6 GUEST_OS, 8 LOADER.
        for (ty, val) in [(5, "xen-3.0"), (6, "linux"), (8, "generic")] {
            asm.push_str(&format!(
                ".section .note.Xen,\"a\",@note\n.balign 4\n.long 4\n.long 2f-1f\n.long {ty}\n.asciz \"Xen\"\n.balign 4\n1: .asciz \"{val}\"\n2: .balign 4\n"
            ));
        }
    }
    let s = dir.join(format!("{name}.S"));
    std::fs::write(&s, asm).unwrap();
    let out = dir.join(name);
    sh(Command::new("gcc")
        .args(["-nostdlib", "-static", "-no-pie", "-o"])
        .arg(&out)
        .arg(&s));
    std::fs::read(out).unwrap()
}

#[test]
fn boot_warns_on_a_non_xen_kernel_and_inspect_reports_xen_capability() {
    let tmp = tempfile::tempdir().unwrap();
    let xen = elf(tmp.path(), "xen-elf", true);
    let plain = elf(tmp.path(), "plain-elf", false);
    let root = tmp.path().join("root");
    populate(
        &root,
        &[
            ("boot/vmlinuz-xen", &xen),
            ("boot/vmlinuz-plain", &plain),
            (
                "boot/grub/grub.cfg",
                b"set default=1\nmenuentry 'xen' {\n linux /boot/vmlinuz-xen ro\n}\nmenuentry 'plain' {\n linux /boot/vmlinuz-plain ro\n}\n",
            ),
        ],
    );
    let img = tmp.path().join("fs.img");
    mkfs_ext("ext4", &root, &img, 8, &[]);
    let r = run_libxl(&img, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.file("kernel"), plain);
    assert!(
        r.stderr.contains("is not a Xen PV or PVH kernel"),
        "{}",
        r.stderr
    );
    let r = run_libxl(&img, &["--entry=0"]);
    assert_eq!(r.file("kernel"), xen);
    assert!(!r.stderr.contains("not a Xen"), "{}", r.stderr);

    let o = rsgrub()
        .args(["inspect", "--json"])
        .arg(&img)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let items = &j["volumes"][0]["filesystem"]["config"]["items"];
    assert_eq!(items[0]["kernel"]["xen"], "PV-capable", "{j}");
    assert_eq!(items[1]["kernel"]["xen"], "not a Xen kernel", "{j}");
}

/// A unified kernel image (BLS Type #2) in /EFI/Linux on an ESP: .linux, .initrd and .cmdline
/// are booted; the PE is built with binutils (objcopy to efi-app-x86_64, then the
/// systemd-stub(7) objcopy recipe).
#[test]
fn uki_in_efi_linux_boots_its_sections() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("a.S"), ".globl _start\n.text\n_start:\n  ret\n").unwrap();
    sh(Command::new("gcc")
        .args(["-nostdlib", "-static", "-no-pie", "-o"])
        .arg(d.join("a.elf"))
        .arg(d.join("a.S")));
    sh(Command::new(tool("objcopy"))
        .args(["-O", "efi-app-x86_64"])
        .arg(d.join("a.elf"))
        .arg(d.join("stub.efi")));
    let linux = pseudo_random(400_000, 121);
    let initrd = pseudo_random(50_000, 122);
    std::fs::write(d.join("linux"), &linux).unwrap();
    std::fs::write(d.join("initrd"), &initrd).unwrap();
    std::fs::write(d.join("cmdline"), "console=hvc0 root=/dev/xvda2 ro\n").unwrap();
    std::fs::write(d.join("osrel"), "NAME=Test\nPRETTY_NAME=\"Test OS 1\"\n").unwrap();
    std::fs::write(d.join("uname"), "6.9.0-test\n").unwrap();
    let esp = d.join("esp");
    std::fs::create_dir_all(esp.join("EFI/Linux")).unwrap();
    for (name, ver) in [
        ("test-6.9.0.efi", "6.9.0-test"),
        ("test-6.1.0.efi", "6.1.0-test"),
    ] {
        std::fs::write(d.join("uname"), format!("{ver}\n")).unwrap();
        sh(Command::new(tool("objcopy"))
            .args([
                "--add-section",
                ".osrel=osrel",
                "--change-section-vma",
                ".osrel=0x20000",
            ])
            .args([
                "--add-section",
                ".cmdline=cmdline",
                "--change-section-vma",
                ".cmdline=0x30000",
            ])
            .args([
                "--add-section",
                ".uname=uname",
                "--change-section-vma",
                ".uname=0x40000",
            ])
            .args([
                "--add-section",
                ".linux=linux",
                "--change-section-vma",
                ".linux=0x2000000",
            ])
            .args([
                "--add-section",
                ".initrd=initrd",
                "--change-section-vma",
                ".initrd=0x3000000",
            ])
            .arg("stub.efi")
            .arg(esp.join("EFI/Linux").join(name))
            .current_dir(d));
    }
    let img = d.join("esp.fat");
    sh(Command::new(tool("mkfs.vfat"))
        .args(["-F", "32", "-C"])
        .arg(&img)
        .arg("40960"));
    sh(Command::new(tool("mcopy"))
        .args(["-s", "-i"])
        .arg(&img)
        .arg(esp.join("EFI"))
        .arg("::"));
    let disk = d.join("disk.img");
    gpt_disk(&disk, 48, &[(40, Some(&img), "ef00")]);
    let r = run_libxl(&disk, &["-q"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(sha256(&r.file("kernel")), sha256(&linux));
    assert_eq!(sha256(&r.file("ramdisk")), sha256(&initrd));
    assert_eq!(r.get("args"), Some("console=hvc0 root=/dev/xvda2 ro"));
    let o = rsgrub().arg("-l").arg(&disk).output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    let a = text.find("title: Test OS 1 (6.9.0-test)").expect(&text);
    let b = text.find("title: Test OS 1 (6.1.0-test)").expect(&text);
    assert!(a < b, "newest first: {text}");
}
