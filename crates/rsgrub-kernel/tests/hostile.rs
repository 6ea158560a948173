//! Hostile kernels: every header field that bounds work set to what a guest could put
//! there. identify() and uki_sections() must return (no panic, no hang, no huge allocation),
//! with the verdict Unknown / NotXen and a problem saying why. Each hostile ELF is tried raw
//! and as a gzip'd bzImage payload (the streaming path). Then decompression bombs, and a
//! few thousand random corruptions of valid kernels.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use rsgrub_kernel::{identify, uki_sections, Compression, Format, KernelInfo, Verdict, MAX_OUTPUT};

/// A hand-made ELF64 (little-endian x86-64) with `phdrs` = (p_type, p_offset, p_filesz)
/// and `shdrs` = (sh_type, sh_offset, sh_size), laid out after the header, followed by
/// `body` at offset 0x1000.
struct Elf {
    phnum: Option<u16>,
    phentsize: u16,
    phoff: u64,
    shoff: Option<u64>,
    shnum: Option<u16>,
    phdrs: Vec<(u32, u64, u64)>,
    shdrs: Vec<(u32, u64, u64)>,
    body: Vec<u8>,
}

impl Default for Elf {
    fn default() -> Self {
        Elf {
            phnum: None,
            phentsize: 56,
            phoff: 64,
            shoff: None,
            shnum: None,
            phdrs: vec![],
            shdrs: vec![],
            body: vec![],
        }
    }
}

const BODY: u64 = 0x1000;

impl Elf {
    fn bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; BODY as usize];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&2u16.to_le_bytes());
        b[18..20].copy_from_slice(&62u16.to_le_bytes());
        b[32..40].copy_from_slice(&self.phoff.to_le_bytes());
        let shoff = self
            .shoff
            .unwrap_or(if self.shdrs.is_empty() { 0 } else { 0x800 });
        b[40..48].copy_from_slice(&shoff.to_le_bytes());
        b[54..56].copy_from_slice(&self.phentsize.to_le_bytes());
        let phnum = self.phnum.unwrap_or(self.phdrs.len() as u16);
        b[56..58].copy_from_slice(&phnum.to_le_bytes());
        b[58..60].copy_from_slice(&64u16.to_le_bytes());
        let shnum = self.shnum.unwrap_or(if self.shdrs.is_empty() {
            0
        } else {
            self.shdrs.len() as u16 + 1
        });
        b[60..62].copy_from_slice(&shnum.to_le_bytes());
        for (i, &(t, off, size)) in self.phdrs.iter().enumerate() {
            let p = 64 + i * 56;
            if p + 56 > 0x800 {
                break;
            }
            b[p..p + 4].copy_from_slice(&t.to_le_bytes());
            b[p + 8..p + 16].copy_from_slice(&off.to_le_bytes());
            b[p + 32..p + 40].copy_from_slice(&size.to_le_bytes());
        }
        for (i, &(t, off, size)) in self.shdrs.iter().enumerate() {
            let s = 0x800 + (i + 1) * 64;
            b[s + 4..s + 8].copy_from_slice(&t.to_le_bytes());
            b[s + 24..s + 32].copy_from_slice(&off.to_le_bytes());
            b[s + 32..s + 40].copy_from_slice(&size.to_le_bytes());
        }
        b.extend_from_slice(&self.body);
        b
    }
}

/// One note: namesz, descsz, type, name, desc (padded to 4).
fn note(namesz: u32, descsz: u32, t: u32, name: &[u8], desc: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&namesz.to_le_bytes());
    v.extend_from_slice(&descsz.to_le_bytes());
    v.extend_from_slice(&t.to_le_bytes());
    v.extend_from_slice(name);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v.extend_from_slice(desc);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

fn xen_note(t: u32, desc: &[u8]) -> Vec<u8> {
    note(4, desc.len() as u32, t, b"Xen\0", desc)
}

/// identify() on the raw bytes and on a bzImage with them gzip'd (by gzip) as payload.
fn both(name: &str, elf: &[u8]) -> (KernelInfo, KernelInfo) {
    let raw = identify_bytes(elf);
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("elf");
    std::fs::write(&p, elf).unwrap();
    let gz = compress(&p, "gzip -1 -c");
    let bz = identify_bytes(&wrap_bzimage(
        &setup_header(0x020f, 1, 0, 0),
        &gz,
        elf.len() as u32,
    ));
    assert!(
        bz.decompressed.unwrap() <= elf.len() as u64,
        "{name}: decompressed more than there is"
    );
    eprintln!("{name}: {}\n{name} (bz): {}", raw.describe(), bz.describe());
    (raw, bz)
}

fn has_problem(i: &KernelInfo, s: &str) -> bool {
    i.problems.iter().any(|p| p.contains(s))
}

#[test]
fn hostile_program_headers() {
    let good_notes = xen_note(18, &0x10_0000u32.to_le_bytes());
    let cases: Vec<(&str, Elf, &str)> = vec![
        (
            "phnum 65535 (PN_XNUM)",
            Elf {
                phnum: Some(65535),
                ..Default::default()
            },
            "PN_XNUM",
        ),
        (
            "phnum 2000",
            Elf {
                phnum: Some(2000),
                ..Default::default()
            },
            "e_phnum 2000",
        ),
        (
            "phentsize 0",
            Elf {
                phnum: Some(3),
                phentsize: 0,
                ..Default::default()
            },
            "e_phentsize",
        ),
        (
            "phentsize 4096",
            Elf {
                phnum: Some(3),
                phentsize: 4096,
                ..Default::default()
            },
            "e_phentsize",
        ),
        (
            "phoff past the end",
            Elf {
                phnum: Some(5),
                phoff: 1 << 40,
                ..Default::default()
            },
            "program headers",
        ),
        (
            "phoff + size overflows",
            Elf {
                phnum: Some(5),
                phoff: u64::MAX - 10,
                ..Default::default()
            },
            "program headers",
        ),
        (
            "PT_NOTE offset overflows",
            Elf {
                phdrs: vec![(4, u64::MAX - 3, 64)],
                ..Default::default()
            },
            "PT_NOTE",
        ),
        (
            "PT_NOTE size 2^62",
            Elf {
                phdrs: vec![(4, BODY, 1 << 62)],
                body: good_notes.clone(),
                ..Default::default()
            },
            "only the first",
        ),
        (
            "PT_NOTE past the end",
            Elf {
                phdrs: vec![(4, BODY + 100, 64)],
                body: good_notes.clone(),
                ..Default::default()
            },
            "PT_NOTE",
        ),
    ];
    for (name, elf, why) in cases {
        let (raw, bz) = both(name, &elf.bytes());
        for i in [&raw, &bz] {
            assert!(i.elf.is_some(), "{name}: the header itself is fine");
            assert!(has_problem(i, why), "{name}: {:?}", i.problems);
            assert!(
                matches!(i.verdict, Verdict::Unknown | Verdict::PvhCapable),
                "{name}: {:?}",
                i.verdict
            );
        }
    }
}

#[test]
fn hostile_notes() {
    let mut many = Vec::new();
    for _ in 0..5000 {
        many.extend_from_slice(&note(0, 0, 0, b"", b""));
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "namesz 2^32-1",
            note(0xffff_ffff, 4, 5, b"Xen\0", b"xen\0"),
            "namesz",
        ),
        (
            "descsz 2^32-2",
            note(4, 0xffff_fffe, 5, b"Xen\0", b"xen\0"),
            "descsz",
        ),
        (
            "descsz past the segment",
            note(4, 64, 5, b"Xen\0", b"xen-3.0\0"),
            "runs past",
        ),
        ("5000 empty notes", many, "more than 4096 notes"),
    ];
    for (name, body, why) in cases {
        let len = body.len() as u64;
        let elf = Elf {
            phdrs: vec![(4, BODY, len)],
            body,
            ..Default::default()
        };
        let (raw, bz) = both(name, &elf.bytes());
        for i in [&raw, &bz] {
            assert!(has_problem(i, why), "{name}: {:?}", i.problems);
            assert_eq!(i.verdict, Verdict::Unknown, "{name}");
        }
    }

    // Ten 1 MiB note segments (all the same bytes): reading stops at the total cap.
    let elf = Elf {
        phdrs: vec![(4, BODY, 1 << 20); 10],
        body: [xen_note(18, &[0, 0, 16, 0]), vec![0xee; 1 << 20]].concat(),
        ..Default::default()
    };
    let (raw, bz) = both("10 x 1 MiB", &elf.bytes());
    for i in [&raw, &bz] {
        assert!(has_problem(i, "bytes of notes"), "{:?}", i.problems);
        assert_eq!(i.xen.count, 4, "four regions read, the rest refused");
        assert_eq!(i.verdict, Verdict::PvhCapable);
    }

    // A string note without a NUL anywhere in the segment is ignored, as Xen does.
    let mut body = xen_note(6, b"linux\0");
    body.extend(note(4, 7, 5, b"Xen\0", b"xen-3.0"));
    body.truncate(body.len() - 1); // drop the padding NUL after "xen-3.0"
    let len = body.len() as u64;
    let elf = Elf {
        phdrs: vec![(4, BODY, len)],
        body,
        ..Default::default()
    };
    let i = identify_bytes(&elf.bytes());
    assert_eq!(i.xen.guest_os.as_deref(), Some("linux"));
    assert_eq!(i.xen.xen_version, None);
    assert!(has_problem(
        &i,
        "XEN_VERSION is not a NUL-terminated string"
    ));
    assert_eq!(i.verdict, Verdict::NotXen);
}

#[test]
fn hostile_section_headers() {
    let notes = [xen_note(6, b"linux\0"), xen_note(5, b"xen-3.0\0")].concat();
    let cases: Vec<(&str, Elf, &str)> = vec![
        (
            "shnum 65535",
            Elf {
                shdrs: vec![(7, BODY, 16)],
                shnum: Some(65535),
                ..Default::default()
            },
            "e_shnum 65535",
        ),
        (
            "shoff past the end",
            Elf {
                shdrs: vec![(7, BODY, 16)],
                shoff: Some(1 << 50),
                ..Default::default()
            },
            "section headers",
        ),
        (
            "SHT_NOTE offset overflows",
            Elf {
                shdrs: vec![(7, u64::MAX - 1, 16)],
                ..Default::default()
            },
            "SHT_NOTE",
        ),
    ];
    for (name, elf, why) in cases {
        let (raw, bz) = both(name, &elf.bytes());
        for i in [&raw, &bz] {
            assert!(has_problem(i, why), "{name}: {:?}", i.problems);
            assert_eq!(i.verdict, Verdict::Unknown, "{name}");
        }
    }
    // And a well-formed SHT_NOTE-only file, to show the fallback reads what it should.
    let len = notes.len() as u64;
    let elf = Elf {
        shdrs: vec![(7, BODY, len)],
        body: notes,
        ..Default::default()
    };
    let (raw, bz) = both("sht_note", &elf.bytes());
    assert_eq!(raw.verdict, Verdict::PvCapable);
    assert_eq!(bz.verdict, Verdict::PvCapable);
}

#[test]
fn hostile_setup_headers() {
    let small = |mut h: Vec<u8>, len: usize| {
        h.resize(len, 0);
        h
    };
    // setup_sects 255 in a 4 KiB file.
    let mut h = setup_header(0x020f, 1, 0, 100);
    h[0x1f1] = 255;
    let i = identify_bytes(&small(h, 4096));
    assert!(matches!(i.format, Format::BzImage(_)));
    assert!(has_problem(&i, "setup_sects 255"), "{:?}", i.problems);
    assert_eq!(i.verdict, Verdict::Unknown);

    for (name, off, len, why) in [
        ("payload_offset past the end", 1 << 30, 16, "outside"),
        ("payload_length past the end", 0, u32::MAX, "outside"),
        ("both at the top", u32::MAX, u32::MAX, "outside"),
        ("payload_length 0", 0, 0, "outside"),
    ] {
        let i = identify_bytes(&small(setup_header(0x020f, 1, off, len), 8192));
        assert!(has_problem(&i, why), "{name}: {:?}", i.problems);
        assert_eq!(i.verdict, Verdict::Unknown, "{name}");
        let Format::BzImage(bz) = &i.format else {
            panic!()
        };
        assert_eq!(bz.payload_file_offset, None, "{name}");
    }

    // Protocol 2.00: no payload fields, no xloadflags.
    let i = identify_bytes(&small(setup_header(0x0200, 1, 0, 100), 8192));
    let Format::BzImage(bz) = &i.format else {
        panic!()
    };
    assert_eq!((bz.payload_offset, bz.xloadflags), (None, None));
    assert!(has_problem(&i, "older than 2.08"));

    // kernel_version pointing past the setup area / at non-text.
    let mut h = setup_header(0x020f, 1, 0, 0);
    h[0x20e..0x210].copy_from_slice(&0xfff0u16.to_le_bytes());
    let i = identify_bytes(&small(h, 8192));
    let Format::BzImage(bz) = &i.format else {
        panic!()
    };
    assert_eq!(bz.kernel_version, None);

    // Truncated just after "HdrS".
    let h = setup_header(0x020f, 1, 0, 0);
    let i = identify_bytes(&h[..0x208]);
    assert!(matches!(i.format, Format::BzImage(_)));
    assert_eq!(i.verdict, Verdict::Unknown);
}

/// A hand-made PE32+ with sections (name, raw offset, raw size, virtual size).
fn pe(nsections: Option<u16>, lfanew: u32, secs: &[(&str, u32, u32, u32)], len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(0x400)];
    b[..2].copy_from_slice(b"MZ");
    b[0x3c..0x40].copy_from_slice(&lfanew.to_le_bytes());
    let p = lfanew as usize;
    if p + 24 + 240 + secs.len() * 40 <= b.len() {
        b[p..p + 4].copy_from_slice(b"PE\0\0");
        b[p + 4..p + 6].copy_from_slice(&0x8664u16.to_le_bytes());
        let n = nsections.unwrap_or(secs.len() as u16);
        b[p + 6..p + 8].copy_from_slice(&n.to_le_bytes());
        b[p + 20..p + 22].copy_from_slice(&240u16.to_le_bytes());
        b[p + 24..p + 26].copy_from_slice(&0x20bu16.to_le_bytes());
        b[p + 24 + 68..p + 24 + 70].copy_from_slice(&10u16.to_le_bytes());
        for (i, &(name, off, raw, vs)) in secs.iter().enumerate() {
            let s = p + 24 + 240 + i * 40;
            b[s..s + name.len()].copy_from_slice(name.as_bytes());
            b[s + 8..s + 12].copy_from_slice(&vs.to_le_bytes());
            b[s + 16..s + 20].copy_from_slice(&raw.to_le_bytes());
            b[s + 20..s + 24].copy_from_slice(&off.to_le_bytes());
        }
    }
    b
}

#[test]
fn hostile_pe_images() {
    // A valid hand-made UKI: .linux is a bzImage around a gzip'd Xen ELF.
    let d = tempfile::tempdir().unwrap();
    let elf = build_elf(d.path(), "x", &xen_asm(&[(18, ".long 0x100000")]), false);
    let gz = compress(&elf, "gzip -c");
    let kernel = wrap_bzimage(&setup_header(0x020f, 1, 0, 0), &gz, 0);
    let klen = kernel.len() as u32;
    let mut img = pe(
        None,
        0x80,
        &[(".cmdline", 0x400, 0x200, 5), (".linux", 0x600, klen, klen)],
        0x600,
    );
    img[0x400..0x405].copy_from_slice(b"quiet");
    img.extend_from_slice(&kernel);
    let u = uki_sections(&img).unwrap();
    assert_eq!((u.linux.offset, u.linux.size), (0x600, u64::from(klen)));
    assert_eq!(
        u.cmdline.unwrap().size,
        5,
        "VirtualSize, not the padded raw size"
    );
    let i = identify_bytes(&img);
    assert_eq!(i.verdict, Verdict::PvhCapable, "{}", i.describe());
    let Format::Pe(p) = &i.format else { panic!() };
    assert_eq!(p.cmdline.as_deref(), Some("quiet"));

    // e_lfanew huge / past the end: not a PE.
    for lfanew in [u32::MAX, 1 << 20, 0x3fe] {
        let i = identify_bytes(&pe(None, lfanew, &[], 0x400));
        assert_eq!(i.format, Format::Unknown, "{lfanew:#x}");
        assert_eq!(uki_sections(&pe(None, lfanew, &[], 0x400)), None);
    }
    // 65535 sections claimed, table past the end.
    let i = identify_bytes(&pe(Some(65535), 0x80, &[(".linux", 0x400, 4, 4)], 0x400));
    assert!(has_problem(&i, "only the first 96"), "{:?}", i.problems);
    assert!(has_problem(&i, "section table"), "{:?}", i.problems);
    // .linux past the end of the file, and with offset+size overflowing 32 bits.
    for (off, size) in [(0x300, 0x10_0000), (u32::MAX, u32::MAX)] {
        let img = pe(None, 0x80, &[(".linux", off, size, size)], 0x400);
        assert_eq!(uki_sections(&img), None);
        let i = identify_bytes(&img);
        assert!(has_problem(&i, "outside"), "{:?}", i.problems);
        assert_eq!(i.verdict, Verdict::NotXen);
    }
    // A UKI whose .linux is the UKI itself: looked into once, not recursively.
    let img = pe(None, 0x80, &[(".linux", 0, 0x400, 0x400)], 0x400);
    let i = identify_bytes(&img);
    assert!(has_problem(&i, "UKI inside a UKI"), "{:?}", i.problems);
    assert_eq!(i.verdict, Verdict::Unknown);
}

/// `{ header; head -c SIZE /dev/zero; } | COMPRESSOR` with the real tool, cached.
fn bomb(tag: &str, header: &[u8], zeros: &str, cmd: &str) -> Vec<u8> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (header, zeros, cmd).hash(&mut h);
    let p = cached(&format!("bomb-{tag}-{:016x}", h.finish()), |out| {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("hdr"), header).unwrap();
        sh(
            d.path(),
            &format!(
                "{{ cat hdr; head -c {zeros} /dev/zero; }} | {cmd} > '{}'",
                out.display()
            ),
        );
    });
    std::fs::read(p).unwrap()
}

#[test]
fn decompression_bombs_stop_at_the_bound() {
    // 1 GiB of zeros: not an ELF, so decompression stops at the first chunk.
    let gz = bomb("zeros", b"", "1G", "gzip -1");
    for img in [
        gz.clone(),
        wrap_bzimage(&setup_header(0x020f, 1, 0, 0), &gz, 0),
    ] {
        let i = identify_bytes(&img);
        assert!(i.decompressed.unwrap() <= 1 << 20, "{:?}", i.decompressed);
        assert_eq!(i.verdict, Verdict::Unknown);
        assert!(has_problem(&i, "not an ELF"), "{:?}", i.problems);
    }

    // An ELF header whose only note segment is 60 MiB in, then zeros to 1 GiB: decompressed
    // to just past the segment, not further.
    let at = 60u64 << 20;
    let hdr = Elf {
        phdrs: vec![(4, at, 4096)],
        ..Default::default()
    }
    .bytes();
    for (tag, cmd) in [("gz60", "gzip -1"), ("zst60", "zstd -1 -q -c")] {
        let tool = cmd.split(' ').next().unwrap();
        if !have(tool) {
            unavailable(&format!("{tool} is not installed"));
            continue;
        }
        let data = bomb(tag, &hdr, "1G", cmd);
        let i = identify_bytes(&data);
        let got = i.decompressed.unwrap();
        assert!(got >= at + 4096 && got <= at + (1 << 20), "{tag}: {got}");
        assert!(got <= MAX_OUTPUT);
        assert_eq!(i.verdict, Verdict::NotXen, "{tag}: {}", i.describe());
    }

    // Notes (or section headers) beyond the bound: refused before decompressing to them.
    for elf in [
        Elf {
            phdrs: vec![(4, MAX_OUTPUT - 8, 4096)],
            ..Default::default()
        },
        Elf {
            shdrs: vec![(7, 0x1000, 16)],
            shoff: Some(1 << 30),
            ..Default::default()
        },
    ] {
        let data = bomb("beyond", &elf.bytes(), "1G", "zstd -1 -q -c");
        let i = identify_bytes(&data);
        assert!(i.decompressed.unwrap() <= 1 << 20, "{:?}", i.decompressed);
        assert!(
            has_problem(&i, "beyond the decompression bound"),
            "{:?}",
            i.problems
        );
        assert_eq!(i.verdict, Verdict::Unknown);
    }
}

#[test]
fn zstd_windows_past_128_mib_are_refused() {
    if !have("zstd") {
        return unavailable("zstd is not installed");
    }
    // From a pipe zstd cannot record the content size, so `--long=N` puts a 2^N window in
    // the frame header: 2^27 is what the kernel's decompressor allows, 2^28 is not.
    let hdr = Elf::default().bytes();
    let ok = bomb("w27", &hdr, "1M", "zstd -q -c --long=27");
    let i = identify_bytes(&ok);
    assert!(!has_problem(&i, "zstd"), "{:?}", i.problems);
    assert_eq!(i.format, Format::Compressed(Compression::Zstd));
    let big = bomb("w28", &hdr, "1M", "zstd -q -c --long=28");
    let i = identify_bytes(&big);
    assert!(has_problem(&i, "zstd"), "{:?}", i.problems);
    assert_eq!(
        i.decompressed,
        Some(0),
        "nothing decoded past a refused header"
    );
    assert_eq!(i.verdict, Verdict::Unknown);
}

/// xorshift64*: deterministic corruption.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn random_corruption_never_panics() {
    let d = tempfile::tempdir().unwrap();
    let elf = build_elf(
        d.path(),
        "x",
        &xen_asm(
            &linux_notes(".quad", true)
                .iter()
                .map(|(t, s)| (*t, s.as_str()))
                .collect::<Vec<_>>(),
        ),
        false,
    );
    let raw = std::fs::read(&elf).unwrap();
    let mut seeds: Vec<(String, Vec<u8>)> = vec![("elf".into(), raw.clone())];
    for &(name, tool, cmd) in COMPRESSORS {
        if have(tool) {
            let c = compress(&elf, cmd);
            seeds.push((
                format!("bz-{name}"),
                wrap_bzimage(&setup_header(0x020f, 1, 0, 0), &c, raw.len() as u32),
            ));
        }
    }
    let kernel = seeds.last().unwrap().1.clone();
    let mut uki = pe(
        None,
        0x80,
        &[(".linux", 0x400, kernel.len() as u32, kernel.len() as u32)],
        0x400,
    );
    uki.extend_from_slice(&kernel);
    seeds.push(("uki".into(), uki));

    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut verdicts = std::collections::BTreeMap::new();
    for (name, seed) in &seeds {
        for _ in 0..400 {
            let mut m = seed.clone();
            let flips = 1 + rng.next() % 8;
            for _ in 0..flips {
                let pos = (rng.next() % m.len() as u64) as usize;
                m[pos] = match rng.next() % 4 {
                    0 => 0xff,
                    1 => 0,
                    _ => rng.next() as u8,
                };
            }
            if rng.next().is_multiple_of(8) {
                let cut = (rng.next() % m.len() as u64) as usize;
                m.truncate(cut);
            }
            let i = identify(&m);
            let _ = i.describe();
            let _ = uki_sections(&m);
            assert!(i.decompressed.unwrap_or(0) <= MAX_OUTPUT);
            *verdicts
                .entry(format!("{name}:{:?}", i.verdict))
                .or_insert(0) += 1;
        }
    }
    eprintln!("{verdicts:#?}");
    // The corruption is not so heavy that nothing survives.
    assert!(verdicts.keys().any(|k| k.ends_with("PvAndPvh")));
}
