//! Kernels built here with the real binutils (as, ld, gcc, objcopy) and compressed with the
//! real compressors: Xen notes in PT_NOTE and SHT_NOTE, 32- and 64-bit, PV / PVH / both /
//! neither, every payload compression, gzip'd ELFs, bzImages without Xen.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use rsgrub_kernel::{Compression, ElfClass, Format, NoteSource, Verdict};
use std::path::Path;
use std::process::Command;

fn notes(v: &[(u32, String)]) -> Vec<(u32, &str)> {
    v.iter().map(|(t, d)| (*t, d.as_str())).collect()
}

#[test]
fn elf64_with_linux_notes_is_pv_and_pvh() {
    let d = tempfile::tempdir().unwrap();
    let n = linux_notes(".quad", true);
    let elf = build_elf(d.path(), "k", &xen_asm(&notes(&n)), false);
    let info = identify_file(&elf);
    assert_eq!(info.format, Format::Elf);
    assert_eq!(info.verdict, Verdict::PvAndPvh, "{}", info.describe());
    let e = info.elf.as_ref().unwrap();
    assert_eq!(e.class, ElfClass::Elf64);
    assert_eq!(e.xen_notes_in, Some(NoteSource::Segment));
    assert_eq!(info.xen.count, n.len());
    assert_eq!(info.xen.guest_os.as_deref(), Some("linux"));
    assert_eq!(info.xen.guest_version.as_deref(), Some("2.6"));
    assert_eq!(info.xen.loader.as_deref(), Some("generic"));
    assert_eq!(info.xen.pae_mode.as_deref(), Some("yes"));
    assert_eq!(info.xen.virt_base, Some(0));
    assert_eq!(info.xen.entry, Some(e.entry), "ENTRY = _start = e_entry");
    assert_eq!(info.xen.hypercall_page, Some(e.entry));
    assert_eq!(info.xen.suspend_cancel, Some(1));
    assert_eq!(info.xen.phys32_entry, Some(0x0100_0000));
    assert!(info.problems.is_empty(), "{:?}", info.problems);
    let text = info.describe();
    assert!(
        text.contains("PV+PVH") && text.contains("xen-3.0"),
        "{text}"
    );
}

#[test]
fn elf32_pv_only_and_pvh_only() {
    let d = tempfile::tempdir().unwrap();
    let pv = build_elf(
        d.path(),
        "pv32",
        &xen_asm(&notes(&linux_notes(".long", false))),
        true,
    );
    let info = identify_file(&pv);
    assert_eq!(info.elf.as_ref().unwrap().class, ElfClass::Elf32);
    assert_eq!(info.elf.as_ref().unwrap().machine, 3);
    assert_eq!(info.verdict, Verdict::PvCapable, "{}", info.describe());
    assert!(info.verdict.pv() && !info.verdict.pvh());

    // Only PHYS32_ENTRY: a PVH-only kernel (FreeBSD-style minimal note set).
    let pvh = build_elf(
        d.path(),
        "pvh",
        &xen_asm(&[(18, ".long 0x100000"), (6, ".asciz \"FreeBSD\"")]),
        false,
    );
    let info = identify_file(&pvh);
    assert_eq!(info.verdict, Verdict::PvhCapable, "{}", info.describe());
    assert!(
        info.problems.iter().any(|p| p.contains("not PV")),
        "{:?}",
        info.problems
    );
}

/// (name, notes, a word of the reason).
type Case<'a> = (&'a str, Vec<(u32, &'a str)>, &'a str);

#[test]
fn notes_xen_refuses_are_not_xen() {
    let d = tempfile::tempdir().unwrap();
    let cases: &[Case] = &[
        (
            "os",
            vec![(6, ".asciz \"plan9\""), (5, ".asciz \"xen-3.0\"")],
            "GUEST_OS",
        ),
        (
            "ver",
            vec![(6, ".asciz \"linux\""), (5, ".asciz \"xen-2.0\"")],
            "xen-2.0",
        ),
        (
            "feat",
            vec![
                (6, ".asciz \"linux\""),
                (5, ".asciz \"xen-3.0\""),
                (10, ".asciz \"!frobnicate|writable_page_tables\""),
                (18, ".long 0x100000"),
            ],
            "frobnicate",
        ),
    ];
    for (name, n, why) in cases {
        let elf = build_elf(d.path(), name, &xen_asm(n), false);
        let info = identify_file(&elf);
        assert_eq!(info.verdict, Verdict::NotXen, "{name}: {}", info.describe());
        assert!(info.xen.count > 0);
        assert!(
            info.problems.iter().any(|p| p.contains(why)),
            "{name}: {:?}",
            info.problems
        );
    }
}

#[test]
fn plain_elfs_are_not_xen() {
    let d = tempfile::tempdir().unwrap();
    // No notes at all (ld), and gcc's with a GNU build-id PT_NOTE.
    let bare = build_elf(d.path(), "bare", &xen_asm(&[]), false);
    let info = identify_file(&bare);
    assert_eq!(info.format, Format::Elf);
    assert_eq!(info.verdict, Verdict::NotXen, "{}", info.describe());
    assert_eq!(info.xen.count, 0);

    std::fs::write(
        d.path().join("p.c"),
        "void _start(void) { for (;;) __asm__(\"hlt\"); }\n",
    )
    .unwrap();
    sh(
        d.path(),
        "gcc -nostdlib -static -Wl,--build-id -o gcc.elf p.c",
    );
    let info = identify_file(&d.path().join("gcc.elf"));
    assert_eq!(info.verdict, Verdict::NotXen, "{}", info.describe());
    assert!(
        info.elf.as_ref().unwrap().note_segments >= 1,
        "gcc's build-id note"
    );
    assert!(info.xen.notes_seen >= 1);
}

/// objcopy --add-section .note.Xen=...: a SHT_NOTE section in no segment. Xen reads it only
/// when no PT_NOTE holds a Xen note; so must we.
#[test]
fn xen_notes_only_in_a_section() {
    let d = tempfile::tempdir().unwrap();
    let n = linux_notes(".quad", true);
    let with = build_elf(d.path(), "src", &xen_asm(&notes(&n)), false);
    // The raw note bytes, cut out of the object by objcopy.
    run(Command::new("objcopy")
        .args(["-O", "binary", "-j", ".note.Xen"])
        .arg(d.path().join("src.o"))
        .arg(d.path().join("notes.bin")));
    assert!(std::fs::metadata(d.path().join("notes.bin")).unwrap().len() > 100);
    let _ = with;

    std::fs::write(
        d.path().join("p.c"),
        "void _start(void) { for (;;) __asm__(\"hlt\"); }\n",
    )
    .unwrap();
    sh(
        d.path(),
        "gcc -nostdlib -static -Wl,--build-id -o gcc.elf p.c",
    );
    let bare = build_elf(d.path(), "bare", &xen_asm(&[]), false);
    for base in [d.path().join("gcc.elf"), bare] {
        let out = d.path().join("sec.elf");
        run(Command::new("objcopy")
            .arg("--add-section")
            .arg(".note.Xen=notes.bin")
            .arg(&base)
            .arg(&out)
            .current_dir(d.path()));
        let re = run(Command::new("readelf").arg("-SW").arg(&out));
        assert!(
            String::from_utf8_lossy(&re).contains("NOTE"),
            "objcopy made a SHT_NOTE"
        );
        let info = identify_file(&out);
        assert_eq!(info.verdict, Verdict::PvAndPvh, "{}", info.describe());
        assert_eq!(
            info.elf.as_ref().unwrap().xen_notes_in,
            Some(NoteSource::Section)
        );
        assert_eq!(info.xen.count, n.len());
    }
}

fn xen_elf(dir: &Path) -> std::path::PathBuf {
    build_elf(
        dir,
        "xen",
        &xen_asm(&notes(&linux_notes(".quad", true))),
        false,
    )
}

#[test]
fn compressed_elfs_every_format() {
    let d = tempfile::tempdir().unwrap();
    let elf = xen_elf(d.path());
    let len = std::fs::metadata(&elf).unwrap().len();
    for &(name, tool, cmd) in COMPRESSORS {
        if !have(tool) {
            unavailable(&format!("{tool} is not installed"));
            continue;
        }
        let bytes = compress(&elf, cmd);
        let c = Compression::detect(&bytes).unwrap();
        assert_eq!(c.name(), name);
        let info = identify_bytes(&bytes);
        assert_eq!(info.format, Format::Compressed(c), "{name}");
        assert_eq!(
            info.verdict,
            Verdict::PvAndPvh,
            "{name}: {}",
            info.describe()
        );
        assert!(info.decompressed.unwrap() <= len, "{name}");

        // The same as a bzImage payload.
        let img = wrap_bzimage(&setup_header(0x020f, 1, 0, 0), &bytes, len as u32);
        let info = identify_bytes(&img);
        let Format::BzImage(bz) = &info.format else {
            panic!("{name}: not a bzImage")
        };
        assert_eq!(bz.compression, Some(c));
        assert_eq!(bz.payload_file_offset, Some(1024));
        assert_eq!(
            info.verdict,
            Verdict::PvAndPvh,
            "{name}: {}",
            info.describe()
        );

        // The boot path's quick check looks inside only the fast codecs.
        let quick = rsgrub_kernel::identify_quick(&img);
        if c.is_fast() {
            assert_eq!(quick.verdict, Verdict::PvAndPvh, "{name}");
        } else {
            assert_eq!(quick.verdict, Verdict::Unknown, "{name}");
            assert_eq!(quick.decompressed, None, "{name}: nothing decoded");
            assert!(
                quick
                    .problems
                    .iter()
                    .any(|p| p.contains("not decompressed")),
                "{name}: {:?}",
                quick.problems
            );
        }
    }
    assert!(!Compression::Xz.is_fast() && Compression::Lz4.is_fast());
}

#[test]
fn gzipped_vmlinux_and_uncompressed_payload() {
    let d = tempfile::tempdir().unwrap();
    let elf = xen_elf(d.path());
    sh(d.path(), "gzip -9 -c xen > vmlinux.gz");
    let info = identify_file(&d.path().join("vmlinux.gz"));
    assert_eq!(info.format, Format::Compressed(Compression::Gzip));
    assert_eq!(info.verdict, Verdict::PvAndPvh);
    assert!(info.describe().contains("gzip-compressed file"));

    let raw = std::fs::read(&elf).unwrap();
    let img = wrap_bzimage(&setup_header(0x020f, 0, 0, 0), &raw, raw.len() as u32);
    let info = identify_bytes(&img);
    let Format::BzImage(bz) = &info.format else {
        panic!()
    };
    assert_eq!(bz.setup_sects, 0);
    assert_eq!(bz.setup_size, 5 * 512, "setup_sects 0 means 4");
    assert_eq!(bz.compression, Some(Compression::None));
    assert_eq!(info.decompressed, None);
    assert_eq!(info.verdict, Verdict::PvAndPvh);
}

#[test]
fn bzimage_without_xen_and_with_junk_payloads() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("p.c"),
        "void _start(void) { for (;;) __asm__(\"hlt\"); }\n",
    )
    .unwrap();
    sh(
        d.path(),
        "gcc -nostdlib -static -o plain p.c && gzip -9 -c plain > plain.gz",
    );
    let gz = std::fs::read(d.path().join("plain.gz")).unwrap();
    let img = wrap_bzimage(&setup_header(0x020f, 4, 0, 0), &gz, 0);
    let info = identify_bytes(&img);
    assert!(matches!(info.format, Format::BzImage(_)));
    assert_eq!(info.verdict, Verdict::NotXen, "{}", info.describe());

    // A gzip payload that is not an ELF: unknown, and said so.
    sh(d.path(), "echo 'not a kernel at all' | gzip -c > text.gz");
    let gz = std::fs::read(d.path().join("text.gz")).unwrap();
    let info = identify_bytes(&wrap_bzimage(&setup_header(0x020f, 4, 0, 0), &gz, 0));
    assert_eq!(info.verdict, Verdict::Unknown);
    assert!(
        info.problems.iter().any(|p| p.contains("not an ELF")),
        "{:?}",
        info.problems
    );

    // A payload in no known format.
    let info = identify_bytes(&wrap_bzimage(
        &setup_header(0x020f, 4, 0, 0),
        b"\x11\x22\x33\x44 mystery compression",
        0,
    ));
    assert_eq!(info.verdict, Verdict::Unknown);
    assert!(
        info.problems.iter().any(|p| p.contains("not recognised")),
        "{:?}",
        info.problems
    );
}
