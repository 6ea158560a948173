//! The real Debian 12 cloud kernel (downloaded once per machine into the test cache):
//! identified as a PV+PVH bzImage, checked against readelf; its vmlinux re-compressed with
//! every format the kernel build offers; and wrapped into a UKI with systemd's EFI stub.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use rsgrub_kernel::{uki_sections, xlf, Compression, Format, Verdict, MAX_OUTPUT};
use std::path::{Path, PathBuf};
use std::process::Command;

fn kernel() -> Option<PathBuf> {
    match debian_kernel() {
        Ok(p) => Some(p),
        Err(e) => {
            unavailable(&format!("the Debian kernel package cannot be had: {e}"));
            None
        }
    }
}

fn le32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// The payload of a bzImage, located from the header by hand (not by the code under test).
fn payload(img: &[u8]) -> &[u8] {
    let sects = if img[0x1f1] == 0 {
        4
    } else {
        img[0x1f1] as usize
    };
    let start = (sects + 1) * 512 + le32(img, 0x248) as usize;
    &img[start..start + le32(img, 0x24c) as usize]
}

/// The kernel's vmlinux, decompressed by the real tool for its format (cached).
fn vmlinux(kernel: &Path, c: Compression) -> PathBuf {
    let name = format!("{}.vmlinux", kernel.file_name().unwrap().to_string_lossy());
    cached(&name, |out| {
        let tool = match c {
            Compression::Gzip => "gzip -dc",
            Compression::Xz => "xz -dc",
            Compression::Zstd => "zstd -dc",
            Compression::Lz4 => "lz4 -dc",
            Compression::Bzip2 => "bzip2 -dc",
            Compression::Lzma => "xz --format=lzma -dc",
            Compression::Lzo => "lzop -dc",
            Compression::None => "cat",
        };
        let img = std::fs::read(kernel).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("payload");
        std::fs::write(&p, payload(&img)).unwrap();
        // The 4-byte size the kernel build appends is trailing garbage to the tools, which
        // may then complain: the output is checked instead.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{tool} < '{}' > '{}' 2>/dev/null",
                p.display(),
                out.display()
            ))
            .status();
        assert!(
            std::fs::metadata(out).unwrap().len() > 1 << 20,
            "{tool} gave nothing"
        );
    })
}

/// Count the Xen notes and see whether PHYS32_ENTRY (type 0x12) is among them, with readelf.
fn readelf_xen_notes(elf: &Path) -> (usize, bool) {
    let out = run(Command::new("readelf").arg("-nW").arg(elf));
    let text = String::from_utf8_lossy(&out);
    let xen: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("Xen "))
        .collect();
    let phys32 = xen.iter().any(|l| l.contains("(0x00000012)"));
    (xen.len(), phys32)
}

#[test]
fn debian_cloud_kernel_is_a_pv_and_pvh_bzimage() {
    let Some(k) = kernel() else { return };
    let info = identify_file(&k);
    eprintln!("{}", info.describe());
    let Format::BzImage(bz) = &info.format else {
        panic!("not a bzImage: {info:?}")
    };
    assert!(bz.protocol >= 0x020f, "protocol {}", bz.protocol_string());
    assert!(bz.payload_offset.is_some() && bz.payload_length.is_some());
    assert!(bz.xloadflags.unwrap() & xlf::KERNEL_64 != 0);
    assert!(bz.efi_stub, "Debian's kernel has an EFI stub");
    let c = bz.compression.expect("payload compression");
    assert!(
        matches!(
            c,
            Compression::Zstd | Compression::Xz | Compression::Gzip | Compression::Lz4
        ),
        "{c:?}"
    );
    let uname = k
        .file_name()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("vmlinuz-")
        .to_string();
    assert!(
        bz.kernel_version.as_deref().unwrap().starts_with(&uname),
        "{:?}",
        bz.kernel_version
    );

    assert_eq!(info.verdict, Verdict::PvAndPvh, "{}", info.describe());
    assert!(info.verdict.pv() && info.verdict.pvh());
    assert_eq!(info.xen.xen_version.as_deref(), Some("xen-3.0"));
    assert_eq!(info.xen.guest_os.as_deref(), Some("linux"));
    assert!(info.xen.phys32_entry.is_some());
    assert!(info.xen.entry.is_some());
    assert_eq!(
        info.xen.features.as_deref(),
        Some("!writable_page_tables|pae_pgdir_above_4gb"),
        "the .ascii FEATURES note is read up to its padding NUL, as Xen does"
    );
    let elf = info.elf.as_ref().unwrap();
    assert_eq!(elf.machine, 62);
    assert_eq!(elf.xen_notes_in, Some(rsgrub_kernel::NoteSource::Segment));

    // Not more than needed: stopped at the notes, before the end of the vmlinux.
    let img = std::fs::read(&k).unwrap();
    let p = payload(&img);
    let full = u64::from(le32(p, p.len() - 4));
    let got = info.decompressed.unwrap();
    assert!(got < full && got <= MAX_OUTPUT, "{got} of {full}");

    // Against binutils on the vmlinux the real tool decompressed.
    let v = vmlinux(&k, c);
    let (n, phys32) = readelf_xen_notes(&v);
    assert_eq!(info.xen.count, n, "Xen notes: ours vs readelf");
    assert!(phys32);
    let raw = identify_file(&v);
    assert_eq!(raw.format, Format::Elf);
    assert_eq!(raw.xen, info.xen);
    assert_eq!(raw.verdict, Verdict::PvAndPvh);
    assert_eq!(uki_sections(&img), None, "a bzImage is not a UKI");
}

/// The end of the last PT_NOTE segment, per readelf.
fn note_end(elf: &Path) -> u64 {
    let out = run(Command::new("readelf").arg("-lW").arg(elf));
    String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| l.trim_start().starts_with("NOTE"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let off = u64::from_str_radix(f[1].trim_start_matches("0x"), 16).unwrap();
            let size = u64::from_str_radix(f[4].trim_start_matches("0x"), 16).unwrap();
            off + size
        })
        .max()
        .expect("vmlinux has a PT_NOTE")
}

#[test]
fn real_vmlinux_recompressed_with_every_kernel_compressor() {
    let Some(k) = kernel() else { return };
    let img = std::fs::read(&k).unwrap();
    let Format::BzImage(bz) = identify_file(&k).format else {
        panic!("not a bzImage")
    };
    let v = vmlinux(&k, bz.compression.unwrap());
    // The vmlinux up to 1 MiB past its last note: all a loader needs to find the notes, and
    // quick to compress.
    let cut = ((note_end(&v) >> 20) + 2) << 20;
    let vname = v.file_name().unwrap().to_string_lossy().into_owned();
    let prefix = cached(&format!("{vname}.prefix"), |out| {
        let data = std::fs::read(&v).unwrap();
        let n = usize::try_from(cut).unwrap().min(data.len());
        std::fs::write(out, &data[..n]).unwrap();
    });
    let setup = &img[..usize::try_from(bz.setup_size).unwrap()];
    for &(name, tool, cmd) in COMPRESSORS {
        if !have(tool) {
            unavailable(&format!("{tool} is not installed"));
            continue;
        }
        let packed = cached(&format!("{vname}.prefix.{name}"), |out| {
            std::fs::write(out, compress(&prefix, cmd)).unwrap();
        });
        let bytes = std::fs::read(&packed).unwrap();

        // A bzImage with the real setup code and this payload.
        let bzimg = wrap_bzimage(setup, &bytes, cut as u32);
        let info = identify_bytes(&bzimg);
        let Format::BzImage(b) = &info.format else {
            panic!("{name}: not a bzImage")
        };
        assert_eq!(b.compression.map(|c| c.name()), Some(name), "{name}");
        assert_eq!(
            info.verdict,
            Verdict::PvAndPvh,
            "{name}: {}",
            info.describe()
        );
        assert_eq!(info.xen.xen_version.as_deref(), Some("xen-3.0"), "{name}");
        assert!(
            info.decompressed.unwrap() < cut,
            "{name}: read past the notes"
        );

        // The compressed vmlinux on its own (as Xen's PV loader also takes it).
        let info = identify_bytes(&bytes);
        assert_eq!(
            info.format.clone(),
            Format::Compressed(Compression::detect(&bytes).unwrap()),
            "{name}"
        );
        assert_eq!(
            info.verdict,
            Verdict::PvAndPvh,
            "{name}: {}",
            info.describe()
        );
    }
}

/// LZ4 blocks are skipped undecoded on the way to the notes, taken as the 8 MiB `lz4 -l`
/// writes. A stream of shorter blocks (here: `lz4 -l` run on 5 MiB pieces, concatenated, as
/// the kernel's unlz4 accepts) must still be found, by the run that decodes every block.
#[test]
fn real_vmlinux_in_short_lz4_blocks() {
    let Some(k) = kernel() else { return };
    if !have("lz4") {
        return unavailable("lz4 is not installed");
    }
    let Format::BzImage(bz) = identify_file(&k).format else {
        panic!("not a bzImage")
    };
    let v = vmlinux(&k, bz.compression.unwrap());
    let data = std::fs::read(&v).unwrap();
    let cut = usize::try_from(((note_end(&v) >> 20) + 2) << 20)
        .unwrap()
        .min(data.len());
    assert!(cut > 16 << 20, "notes this early skip nothing: {cut}");
    let dir = tempfile::tempdir().unwrap();
    let mut stream = Vec::new();
    for (i, piece) in data[..cut].chunks(5 << 20).enumerate() {
        let p = dir.path().join(format!("piece{i}"));
        std::fs::write(&p, piece).unwrap();
        stream.extend(compress(&p, "lz4 -l -1 -c"));
    }
    let info = identify_bytes(&stream);
    assert_eq!(info.format, Format::Compressed(Compression::Lz4));
    assert_eq!(info.verdict, Verdict::PvAndPvh, "{}", info.describe());
    assert_eq!(info.xen.xen_version.as_deref(), Some("xen-3.0"));
    // And the same data in 8 MiB blocks: found by the skipping run alone, same notes.
    let p = dir.path().join("whole");
    std::fs::write(&p, &data[..cut]).unwrap();
    let whole = identify_bytes(&compress(&p, "lz4 -l -1 -c"));
    assert_eq!(whole.verdict, Verdict::PvAndPvh, "{}", whole.describe());
    assert_eq!(whole.xen, info.xen);
}

#[test]
fn uki_built_with_objcopy_from_systemd_stub() {
    let Some(k) = kernel() else { return };
    let stub = match systemd_stub() {
        Ok(s) => s,
        Err(e) => return unavailable(&format!("systemd-boot-efi cannot be had: {e}")),
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("cmdline"), "console=hvc0 root=/dev/xvda1 ro\n").unwrap();
    std::fs::write(d.join("uname"), "6.1.0-test-cloud-amd64\n").unwrap();
    std::fs::write(
        d.join("osrel"),
        "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
    )
    .unwrap();
    std::fs::write(
        d.join("initrd"),
        (0..200_000u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    // The objcopy recipe of systemd-stub(7) for systemd 252.
    let uki = d.join("uki.efi");
    run(Command::new("objcopy")
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
        .arg("--add-section")
        .arg(format!(".linux={}", k.display()))
        .args(["--change-section-vma", ".linux=0x2000000"])
        .args([
            "--add-section",
            ".initrd=initrd",
            "--change-section-vma",
            ".initrd=0x3000000",
        ])
        .arg(&stub)
        .arg(&uki)
        .current_dir(d));

    let bytes = std::fs::read(&uki).unwrap();
    let u = uki_sections(&bytes).expect("a UKI");
    let kernel_bytes = std::fs::read(&k).unwrap();
    let slice = |e: rsgrub_kernel::Extent| &bytes[e.offset as usize..(e.offset + e.size) as usize];
    assert_eq!(slice(u.linux), kernel_bytes.as_slice(), ".linux bytes");
    assert_eq!(
        slice(u.initrd.unwrap()),
        std::fs::read(d.join("initrd")).unwrap()
    );
    assert_eq!(
        slice(u.cmdline.unwrap()),
        std::fs::read(d.join("cmdline")).unwrap()
    );
    assert_eq!(
        slice(u.uname.unwrap()),
        std::fs::read(d.join("uname")).unwrap()
    );
    assert_eq!(
        slice(u.osrel.unwrap()),
        std::fs::read(d.join("osrel")).unwrap()
    );

    let info = identify_file(&uki);
    eprintln!("{}", info.describe());
    let Format::Pe(pe) = &info.format else {
        panic!("not PE: {}", info.describe())
    };
    assert_eq!(pe.machine, 0x8664);
    assert!(pe.pe32_plus);
    assert_eq!(pe.subsystem, Some(10), "EFI application");
    assert_eq!(pe.uki.as_ref(), Some(&u));
    assert_eq!(
        pe.cmdline.as_deref(),
        Some("console=hvc0 root=/dev/xvda1 ro")
    );
    assert_eq!(pe.uname.as_deref(), Some("6.1.0-test-cloud-amd64"));
    assert_eq!(
        pe.os_name.as_deref(),
        Some("Debian GNU/Linux 12 (bookworm)")
    );
    assert!(matches!(
        pe.linux_format.as_deref(),
        Some(Format::BzImage(_))
    ));
    assert_eq!(info.verdict, Verdict::PvAndPvh);
    assert_eq!(info.xen.guest_os.as_deref(), Some("linux"));

    // The stub alone: PE, no .linux, nothing Xen boots.
    let stub_info = identify_file(&stub);
    assert!(matches!(&stub_info.format, Format::Pe(p) if p.uki.is_none()));
    assert_eq!(stub_info.verdict, Verdict::NotXen);
    assert_eq!(uki_sections(&std::fs::read(&stub).unwrap()), None);
}
