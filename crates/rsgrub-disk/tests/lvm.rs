//! LVM2: PVs made by `pvcreate`/`vgcreate`/`lvcreate` on loop devices over partitions of an
//! image file. This kernel has no device-mapper, so LVs are created inactive (`-an -Zn -Wn`)
//! and their expected bytes are taken from the loop devices (the image file) at the offsets
//! LVM itself reports (`lvs --segments`, `pvs -o pe_start`). Hostile metadata is made by
//! rewriting a real metadata area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::type_complexity
)]

mod common;

use common::*;
use rsgrub_disk::{lvm, scan, Scheme};
use rsgrub_io::{DynReader, ReadAt};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Loop devices and an LVM config directory, released on drop (even when a test fails).
struct Lvm {
    conf: TempDir,
    loops: Vec<String>,
}

impl Lvm {
    fn new(tag: &str) -> Lvm {
        assert!(
            std::path::Path::new("/dev/loop-control").exists(),
            "loop devices are needed for the LVM tests (/dev/loop-control is missing)"
        );
        Lvm {
            conf: TempDir::new(tag),
            loops: Vec::new(),
        }
    }

    /// A loop device over `len` bytes at `off` of `img`.
    fn attach(&mut self, img: &TempFile, off: u64, len: u64) -> String {
        let dev = run(
            "losetup",
            &[
                "-f",
                "--show",
                "-o",
                &off.to_string(),
                "--sizelimit",
                &len.to_string(),
                img.s(),
            ],
            None,
        )
        .trim()
        .to_string();
        self.loops.push(dev.clone());
        dev
    }

    /// Write lvm.conf: only our loop devices, no udev, no devices file, no backups.
    fn configure(&self) {
        let accept: Vec<String> = self.loops.iter().map(|l| format!("\"a|^{l}$|\"")).collect();
        let conf = format!(
            "devices {{ use_devicesfile = 0 obtain_device_list_from_udev = 0 \
             filter = [ {}, \"r|.*|\" ] }}\n\
             activation {{ udev_sync = 0 udev_rules = 0 }}\n\
             backup {{ backup = 0 archive = 0 }}\n\
             global {{ use_lvmpolld = 0 activation = 0 }}\n",
            accept.join(", ")
        );
        std::fs::write(self.conf.join("lvm.conf"), conf).unwrap();
    }

    fn cmd(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("lvm")
            .args(args)
            .env("LVM_SYSTEM_DIR", self.conf.path())
            .env("LVM_SUPPRESS_FD_WARNINGS", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lvm {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Lvm {
    fn drop(&mut self) {
        for l in &self.loops {
            let _ = std::process::Command::new("losetup")
                .args(["-d", l])
                .status();
        }
    }
}

fn unique_vg(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "rsg-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

const LAYOUT: &str = "label: dos
start=2048, size=32768, type=83
start=34816, size=81920, type=8e
start=116736, size=81920, type=8e
";
const MIB: u64 = 1 << 20;

/// The image and what LVM reports about it.
struct Built {
    img: TempFile,
    vg: String,
    vg_uuid: String,
    /// (PV loop device, its partition's byte offset in the image, pe_start bytes)
    pvs: Vec<(String, u64, u64)>,
    extent: u64,
    /// LV name → (uuid, size, segments: (start_pe, [ (pv dev, first pe) ], stripe_size bytes, extents))
    lvs: Vec<(
        String,
        String,
        u64,
        Vec<(u64, Vec<(String, u64)>, u64, u64)>,
    )>,
}

fn build() -> Built {
    let img = TempFile::sized("lvm", 100 * MIB);
    run("sfdisk", &["-q", img.s()], Some(LAYOUT));
    let parts = sfdisk_parts(&img);
    // Random bytes everywhere in the PVs, so LV contents are distinguishable.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(img.path())
            .unwrap();
        for p in &parts[1..] {
            f.write_at(
                &random_bytes(p.start, (p.size * 512) as usize),
                p.start * 512,
            )
            .unwrap();
        }
    }
    let mut lvm = Lvm::new("lvmconf");
    let devs: Vec<String> = parts[1..]
        .iter()
        .map(|p| lvm.attach(&img, p.start * 512, p.size * 512))
        .collect();
    lvm.configure();
    let vg = unique_vg("vg");
    let (d2, d3) = (devs[0].as_str(), devs[1].as_str());
    lvm.cmd(&["pvcreate", "-q", d2, d3]);
    lvm.cmd(&["vgcreate", "-q", "-s", "1M", &vg, d2, d3]);
    let lc = |args: &[&str]| {
        let mut a = vec!["lvcreate", "-q", "-an", "-Zn", "-Wn", "-y"];
        a.extend_from_slice(args);
        lvm.cmd(&a);
    };
    lc(&["-L", "8M", "-n", "root-lv", &vg, d2]);
    lc(&["-L", "6M", "-n", "ext", &vg, d3]);
    lc(&["-i", "2", "-I", "64k", "-L", "8M", "-n", "striped", &vg]);
    lvm.cmd(&["lvextend", "-q", "-L", "+5M", &format!("{vg}/root-lv"), d3]);
    lc(&["-L", "3M", "-n", "hidden_not", &vg, d2]);

    let json = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend_from_slice(&["--reportformat", "json", "--units", "b", "--nosuffix"]);
        Json::parse(&lvm.cmd(&a))
    };
    let pvs_j = json(&["pvs", "-o", "pv_name,pe_start"]);
    let pvs: Vec<(String, u64, u64)> = pvs_j.get("report").arr()[0]
        .get("pv")
        .arr()
        .iter()
        .map(|p| {
            let name = p.get("pv_name").str().to_string();
            let i = devs.iter().position(|d| *d == name).unwrap();
            let pe: u64 = p.get("pe_start").str().parse().unwrap();
            (name, parts[1 + i].start * 512, pe)
        })
        .collect();
    let vgs_j = json(&["vgs", "-o", "vg_uuid,vg_extent_size", &vg]);
    let vgr = &vgs_j.get("report").arr()[0].get("vg").arr()[0];
    let vg_uuid = vgr.get("vg_uuid").str().to_string();
    let extent: u64 = vgr.get("vg_extent_size").str().parse().unwrap();
    let segs_j = json(&[
        "lvs",
        "--segments",
        "-o",
        "lv_name,lv_uuid,lv_size,seg_start_pe,seg_size_pe,stripe_size,seg_pe_ranges",
        &vg,
    ]);
    let mut lvs: Vec<(
        String,
        String,
        u64,
        Vec<(u64, Vec<(String, u64)>, u64, u64)>,
    )> = Vec::new();
    let rep = &segs_j.get("report").arr()[0];
    for s in rep.opt("seg").or(rep.opt("lv")).unwrap().arr() {
        let name = s.get("lv_name").str().to_string();
        let ranges: Vec<(String, u64)> = s
            .get("seg_pe_ranges")
            .str()
            .split_whitespace()
            .map(|r| {
                let (dev, span) = r.rsplit_once(':').unwrap();
                (
                    dev.to_string(),
                    span.split('-').next().unwrap().parse().unwrap(),
                )
            })
            .collect();
        let seg = (
            s.get("seg_start_pe").str().parse().unwrap(),
            ranges,
            s.get("stripe_size").str().parse().unwrap(),
            s.get("seg_size_pe").str().parse().unwrap(),
        );
        match lvs.iter_mut().find(|l| l.0 == name) {
            Some(l) => l.3.push(seg),
            None => lvs.push((
                name,
                s.get("lv_uuid").str().to_string(),
                s.get("lv_size").str().parse().unwrap(),
                vec![seg],
            )),
        }
    }
    // An ext4 filesystem in LV "ext" (one linear segment on the second PV).
    let ext = lvs.iter().find(|l| l.0 == "ext").unwrap();
    let (dev, pe) = &ext.3[0].1[0];
    let pv = pvs.iter().find(|p| &p.0 == dev).unwrap();
    let fs = ext4_image(
        "lvext4",
        6 * MIB,
        "in-lvm",
        &[("boot/grub/grub.cfg", b"x".to_vec())],
    );
    run(
        "dd",
        &[
            &format!("if={}", fs.s()),
            &format!("of={dev}"),
            "bs=64k",
            &format!("seek={}", (pv.2 + pe * extent) / 65536),
            "conv=notrunc",
            "status=none",
        ],
        None,
    );
    run("sync", &[], None);
    drop(lvm);
    Built {
        img,
        vg,
        vg_uuid,
        pvs,
        extent,
        lvs,
    }
}

/// The expected bytes of an LV, from the image file at the offsets LVM reports.
fn expected(
    b: &Built,
    lv: &(
        String,
        String,
        u64,
        Vec<(u64, Vec<(String, u64)>, u64, u64)>,
    ),
) -> Vec<u8> {
    let file = b.img.reader();
    let mut out = vec![0u8; lv.2 as usize];
    let phys = |dev: &str, pe: u64, within: u64| {
        let pv = b.pvs.iter().find(|p| p.0 == dev).unwrap();
        pv.1 + pv.2 + pe * b.extent + within
    };
    for (start_pe, ranges, stripe, count) in &lv.3 {
        let base = (start_pe * b.extent) as usize;
        let len = (count * b.extent) as usize;
        if ranges.len() == 1 {
            let (dev, pe) = &ranges[0];
            file.read_at(phys(dev, *pe, 0), &mut out[base..base + len])
                .unwrap();
        } else {
            let n = ranges.len() as u64;
            let mut x = 0u64;
            while x < len as u64 {
                let k = x / stripe;
                let (dev, pe) = &ranges[(k % n) as usize];
                let off = (k / n) * stripe + x % stripe;
                let at = base + x as usize;
                file.read_at(phys(dev, *pe, off), &mut out[at..at + *stripe as usize])
                    .unwrap();
                x += stripe;
            }
        }
    }
    out
}

#[test]
fn lvm_linear_multi_segment_and_striped_volumes() {
    let b = build();
    let disk = scan(b.img.reader()).unwrap();
    assert!(disk.warnings.is_empty(), "{:?}", disk.warnings);
    let names: Vec<&str> = disk.volumes.iter().map(|v| v.name.as_str()).collect();
    let esc = b.vg.replace('-', "--");
    let want: Vec<String> = ["msdos1", "msdos2", "msdos3"]
        .iter()
        .map(|s| s.to_string())
        .chain(
            ["root--lv", "ext", "striped", "hidden_not"]
                .iter()
                .map(|l| format!("lvm/{esc}-{l}")),
        )
        .collect();
    assert_eq!(names, want);
    for lv in &b.lvs {
        let name = format!("lvm/{esc}-{}", lv.0.replace('-', "--"));
        let v = disk.volumes.iter().find(|v| v.name == name).unwrap();
        assert_eq!(v.scheme, Scheme::Lvm);
        assert_eq!(v.size, lv.2, "{name}");
        assert_eq!(v.part_uuid.as_deref(), Some(lv.1.as_str()));
        assert_eq!(v.part_label, Some(format!("{}/{}", b.vg, lv.0)));
        let id = format!("lvmid/{}/{}", b.vg_uuid, lv.1);
        assert_eq!(v.device_names(), vec![name.clone(), id.clone()]);
        assert_eq!(v.grub_device(), name);
        let i = disk.volumes.iter().position(|x| x.name == name).unwrap();
        assert_eq!(disk.find_device(&format!("({id})")), Some(i));
        assert_eq!(disk.find_device(&name), Some(i));
        let want = expected(&b, lv);
        let mut got = vec![0u8; want.len()];
        v.reader.read_at(0, &mut got).unwrap();
        assert!(got == want, "{name}: bytes differ");
        assert_eq!(
            v.part_type,
            if lv.0 == "striped" {
                "striped"
            } else {
                "linear"
            }
        );
        // Small reads across segment and stripe boundaries.
        let mut rng = Rng::new(3);
        for _ in 0..200 {
            let len = 1 + rng.below(200_000) as usize;
            let at = rng.below(v.size - len as u64) as usize;
            let mut buf = vec![0u8; len];
            v.reader.read_at(at as u64, &mut buf).unwrap();
            assert!(buf == want[at..at + len]);
            // Where it maps, the image file holds the same bytes.
            if let Some(p) = v.reader.physical_range(at as u64, len as u64) {
                let mut f = vec![0u8; len];
                b.img.reader().read_at(p, &mut f).unwrap();
                assert!(f == buf, "{name}: physical range {at}+{len}");
            }
        }
        assert!(v.reader.read_at(v.size, &mut [0u8; 1]).is_err());
    }
    // The root LV's first segment maps into the image; its second segment is elsewhere.
    let root = disk
        .volumes
        .iter()
        .find(|v| v.name.ends_with("root--lv"))
        .unwrap();
    assert_eq!(root.parents, ["msdos2", "msdos3"]);
    assert!(root.reader.physical_range(0, 8 * MIB).is_some());
    assert!(root.reader.physical_range(8 * MIB - 10, 20).is_none());
    let ext = disk
        .volumes
        .iter()
        .find(|v| v.name.ends_with("-ext"))
        .unwrap();
    assert_eq!(
        ext4_magic_and_label(&ext.reader),
        (0xEF53, "in-lvm".to_string())
    );
    assert_eq!(
        ext.describe(),
        format!("logical volume {}/ext (lvm/{esc}-ext)", b.vg)
    );
}

/// Rewrite the first metadata area of the PV at `pv_off` in `bytes` to hold `text`
/// (checksums right), so only the text itself is hostile.
fn put_metadata(bytes: &mut [u8], pv_off: usize, text: &[u8]) {
    // Find the label, then the first metadata area.
    let (lab, _) = (0..4)
        .map(|s| {
            (
                pv_off + 512 * s,
                &bytes[pv_off + 512 * s..pv_off + 512 * s + 8],
            )
        })
        .find(|(_, id)| *id == b"LABELONE")
        .unwrap();
    let hdr = lab + get32(bytes, lab + 20) as usize;
    let mut pos = hdr + 40;
    while get64(bytes, pos) != 0 {
        pos += 16;
    }
    pos += 16;
    let mda = pv_off + get64(bytes, pos) as usize;
    let mda_size = get64(bytes, pos + 8) as usize;
    let mut t = text.to_vec();
    t.push(0);
    assert!(512 + t.len() <= mda_size);
    bytes[mda + 512..mda + 512 + t.len()].copy_from_slice(&t);
    put64(bytes, mda + 40, 512);
    put64(bytes, mda + 48, t.len() as u64);
    put32(bytes, mda + 56, lvm::crc(lvm::INITIAL_CRC, &t));
    put32(bytes, mda + 60, 0);
    let c = lvm::crc(lvm::INITIAL_CRC, &bytes[mda + 4..mda + 512]);
    put32(bytes, mda, c);
}

fn metadata_text(bytes: &[u8], pv_off: usize) -> String {
    let r: DynReader = Arc::new(bytes[pv_off..].to_vec());
    let label = lvm::read_label(&r).unwrap().unwrap();
    let text = lvm::read_metadata(&r, label.metadata_areas[0])
        .unwrap()
        .unwrap();
    String::from_utf8(text).unwrap()
}

#[test]
fn lvm_hostile_metadata() {
    let b = build();
    let good = b.img.bytes();
    let pv2 = b.pvs.iter().map(|p| p.1).min().unwrap() as usize;
    let pv3 = b.pvs.iter().map(|p| p.1).max().unwrap() as usize;
    let text = metadata_text(&good, pv2);
    assert!(
        text.contains("logical_volumes") && text.contains(&b.vg),
        "{text}"
    );
    let lvs_of = |bytes: Vec<u8>| {
        let d = scan(Arc::new(bytes)).unwrap();
        let n = d.volumes.iter().filter(|v| v.scheme == Scheme::Lvm).count();
        (n, d.warnings.join("\n"))
    };
    assert_eq!(lvs_of(good.clone()).0, 4);
    // Garbage in both metadata areas (CRC-checked): no LVs, warnings.
    let mut g = good.clone();
    for pv in [pv2, pv3] {
        let text_at = pv + 4096 + 512;
        g[text_at..text_at + 2000].copy_from_slice(&random_bytes(4, 2000));
        g[pv + 4096 + 4..pv + 4096 + 20].copy_from_slice(&random_bytes(5, 16));
    }
    let (n, w) = lvs_of(g);
    assert_eq!(n, 0);
    assert!(w.contains("magic") || w.contains("CRC"), "{w}");
    // Hostile texts with right checksums, in both PVs' areas.
    let deep = format!("{}x = 1{}", "a {\n".repeat(5000), "}\n".repeat(5000));
    let huge = text.replacen("seqno = ", "seqno = 99999999999999999999999", 1);
    let far = text.replace("extent_count = 8", "extent_count = 800000");
    let neg = text.replacen("extent_size = ", "extent_size = -", 1);
    let manystripes = text.replacen(
        "stripes = [",
        &format!("stripes = [{}", "\"pv0\", 0, ".repeat(200)),
        1,
    );
    let bad_pv = text.replace("\"pv0\", 0", "\"pv9\", 0");
    let cases: [(&str, &str, &str); 6] = [
        ("deep", &deep, "deeper than"),
        ("huge number", &huge, "not a 64-bit integer"),
        ("past the PV", &far, "past the end"),
        ("negative", &neg, "is negative"),
        ("stripes", &manystripes, "at most 128"),
        ("unknown PV", &bad_pv, "pv9"),
    ];
    for (what, t, want) in cases {
        let mut g = good.clone();
        put_metadata(&mut g, pv2, t.as_bytes());
        put_metadata(&mut g, pv3, t.as_bytes());
        let (_, w) = lvs_of(g);
        assert!(w.contains(want), "{what}: {w}");
    }
    // One PV missing (its label wiped): only LVs wholly on the other PV remain.
    let mut g = good.clone();
    assert_eq!(&g[pv3 + 512..pv3 + 520], b"LABELONE");
    g[pv3 + 512..pv3 + 520].fill(0);
    let d = scan(Arc::new(g)).unwrap();
    let lvs: Vec<&str> = d
        .volumes
        .iter()
        .filter(|v| v.scheme == Scheme::Lvm)
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(lvs, [format!("lvm/{}-hidden_not", b.vg.replace('-', "--"))]);
    assert_eq!(
        d.warnings
            .iter()
            .filter(|w| w.contains("is not on this disk"))
            .count(),
        3,
        "{:?}",
        d.warnings
    );
    // Newest seqno wins: an older copy on one PV is ignored.
    let mut g = good.clone();
    let older = text
        .replacen("seqno = ", "seqno = 0", 1)
        .replace("striped {", "zzz {");
    put_metadata(&mut g, pv3, older.as_bytes());
    assert_eq!(lvs_of(g).0, 4);
}

#[test]
fn lvm_text_parser_is_total() {
    let b = build();
    let text = metadata_text(
        &b.img.bytes(),
        b.pvs.iter().map(|p| p.1).min().unwrap() as usize,
    );
    let root = lvm::parse(text.as_bytes()).unwrap();
    let vg = lvm::volume_group(&root).unwrap();
    assert_eq!(vg.name, b.vg);
    assert_eq!(vg.extent_size * 512, b.extent);
    let mut rng = Rng::new(77);
    let bytes = text.as_bytes();
    for _ in 0..3000 {
        let mut t = bytes.to_vec();
        for _ in 0..1 + rng.below(8) {
            let i = rng.below(t.len() as u64) as usize;
            t[i] = b"{}[]=\",#\\-0123456789 \nabc"[rng.below(25) as usize];
        }
        if rng.below(4) == 0 {
            t.truncate(rng.below(t.len() as u64) as usize);
        }
        if let Ok(r) = lvm::parse(&t) {
            let _ = lvm::volume_group(&r);
        }
    }
    assert_eq!(lvm::grub_name("my-vg", "root-1"), "lvm/my--vg-root--1");
}
