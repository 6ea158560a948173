#!/usr/bin/env python3
"""rsgrub benchmark suite (issue #11). Run by bench/suite.sh after set-up and a release build.

Every case is a guest disk made by the real tools, booted the way libxl boots it
(`-q --output=... --output-format=simple0 --output-directory=...`), timed in paired runs:
rsgrub and its baseline alternate, outputs are removed between runs (untimed), and the table
shows medians and the median of the per-pair ratios. Baselines: `cat` of the same bytes for
plain data; `zstd -dc` of the same bytes for compressed btrfs; the small-disk rsgrub time for
the 100,000-file /boot and the 2 TiB sparse disk. Debian's PyGrub is timed where it can read
the image. Numbers only: nothing here passes or fails.
"""
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RSGRUB = os.path.abspath(os.environ.get("RSGRUB", "target/release/rsgrub"))
PYGRUB = "/usr/lib/xen-4.17/bin/pygrub"
RUNS = int(os.environ.get("RUNS", "15"))
KERNEL_MB = int(os.environ.get("KERNEL_MB", "8"))
SIZES = [int(x) for x in os.environ.get("INITRD_MB", "60 200").split()]
ONLY = os.environ.get("ONLY", "").split()
SBIN = "/usr/sbin:/sbin:"
os.environ["PATH"] = SBIN + os.environ["PATH"]


def sh(cmd, **kw):
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL, **kw)


def random_file(path, mb, seed):
    # Incompressible and distinct per file, without reading /dev/urandom for 200 MB each time.
    with open(path, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(mb):
            f.write(bytes([seed & 0xFF, i & 0xFF, (i >> 8) & 0xFF]) + block[3:])


def text_file(path, mb):
    """Compressible data (about 3:1 with zstd), like an initramfs: text from /usr/share."""
    with open(path, "wb") as out:
        size = 0
        for root, _, files in os.walk("/usr/share"):
            for n in sorted(files):
                try:
                    with open(os.path.join(root, n), "rb") as f:
                        data = f.read(1 << 20)
                except OSError:
                    continue
                out.write(data)
                size += len(data)
                if size >= mb << 20:
                    out.truncate(mb << 20)
                    return
    raise SystemExit("not enough data under /usr/share for the compressed case")


GRUB_CFG = """\
if [ -s $prefix/grubenv ]; then
  set have_grubenv=true
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="0"
fi
if [ x"${feature_menuentry_id}" = xy ]; then
  menuentry_id_option="--id"
else
  menuentry_id_option=""
fi
export menuentry_id_option
function savedefault {
  if [ -z "${boot_once}" ]; then
    saved_entry="${chosen}"
    save_env saved_entry
  fi
}
function load_video {
  if [ x$feature_all_video_module = xy ]; then
    insmod all_video
  else
    insmod efi_gop
    insmod vbe
    insmod vga
  fi
}
if [ "${recordfail}" = 1 ] ; then
  set timeout=30
else
  set timeout=5
fi
menuentry 'Debian GNU/Linux' --class debian --class gnu-linux $menuentry_id_option 'gnulinux-simple' {
	load_video
	insmod gzio
	insmod part_gpt
	insmod ext2
	echo	'Loading Linux 6.1.0-13-amd64 ...'
	linux	/boot/vmlinuz root=/dev/xvda2 ro  quiet
	echo	'Loading initial ramdisk ...'
	initrd	/boot/initrd.img
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced' {
%s}
menuentry 'UEFI Firmware Settings' $menuentry_id_option 'uefi-firmware' {
	fwsetup
}
"""
ADVANCED = """\
	menuentry 'Debian GNU/Linux, with Linux 6.1.0-%(n)d-amd64%(rec)s' --class debian $menuentry_id_option 'gnulinux-6.1.0-%(n)d-%(id)s' {
		load_video
		insmod gzio
		echo	'Loading Linux 6.1.0-%(n)d-amd64 ...'
		linux	/boot/vmlinuz root=/dev/xvda2 ro %(args)s
		echo	'Loading initial ramdisk ...'
		initrd	/boot/initrd.img
	}
"""


def grub_cfg():
    adv = ""
    for n in range(13, 3, -1):
        adv += ADVANCED % {"n": n, "rec": "", "id": "advanced", "args": " quiet"}
        adv += ADVANCED % {"n": n, "rec": " (recovery mode)", "id": "recovery", "args": "single"}
    return GRUB_CFG % adv


def tree(work, name, kernel, initrd, extra=None):
    root = os.path.join(work, name)
    os.makedirs(os.path.join(root, "boot/grub"))
    shutil.copy(kernel, os.path.join(root, "boot/vmlinuz"))
    shutil.copy(initrd, os.path.join(root, "boot/initrd.img"))
    with open(os.path.join(root, "boot/grub/grub.cfg"), "w") as f:
        f.write(grub_cfg())
    if extra:
        extra(root)
    return root


def xfs_proto(src, out, depth=1):
    for n in sorted(os.listdir(src)):
        p = os.path.join(src, n)
        ind = " " * depth
        if os.path.isdir(p):
            out.append(f"{ind}{n} d--755 0 0")
            xfs_proto(p, out, depth + 1)
            out.append(f"{ind}$")
        else:
            out.append(f"{ind}{n} ---644 0 0 {p}")


def mkfs(kind, root, img, mb, opts=""):
    if kind == "ext4":
        sh(f"mkfs.ext4 -q -F {opts} -d {root} {img} {mb}M")
    elif kind == "xfs":
        lines = ["/dev/null", "0 0", "d--755 0 0"]
        xfs_proto(root, lines)
        lines.append("$")
        with open(img + ".proto", "w") as f:
            f.write("\n".join(lines) + "\n")
        # mkfs.xfs 6.1 -p gives a file at most one allocation group's free space and cuts the
        # rest (a bad AGF CRC, the tail reads as a hole): AGs (size/4) larger than any file.
        with open(img, "wb") as f:
            f.truncate(max(mb * 8, 1024) << 20)
        sh(f"mkfs.xfs -q -f -p {img}.proto {img}")
    elif kind == "btrfs":
        with open(img, "wb") as f:
            f.truncate(max(mb, 128) << 20)
        sh(f"mkfs.btrfs -q -f --rootdir {root} {img}")
    elif kind == "btrfs-zstd":
        # mkfs.btrfs 6.2 has no --compress: the kernel writes the compressed extents.
        with open(img, "wb") as f:
            f.truncate(max(mb, 128) << 20)
        sh(f"mkfs.btrfs -q -f {img}")
        mnt = img + ".mnt"
        os.makedirs(mnt)
        sh(f"mount -o loop,compress-force=zstd:3 {img} {mnt}")
        try:
            sh(f"cp -a {root}/. {mnt}/ && sync")
        finally:
            sh(f"umount {mnt}")
    elif kind == "zfs":
        # zfs-fuse (pool version 23), file-backed; the daemon is started if needed.
        if subprocess.run("zpool list", shell=True, capture_output=True).returncode != 0:
            subprocess.run("zfs-fuse", shell=True)
            for _ in range(150):
                if subprocess.run("zpool list", shell=True, capture_output=True).returncode == 0:
                    break
                time.sleep(0.2)
        with open(img, "wb") as f:
            f.truncate(max(mb + 64, 128) << 20)
        pool = f"rsgbench{os.getpid()}"
        mnt = img + ".mnt"
        sh(f"zpool create -o version=23 -m {mnt} {pool} {img}")
        try:
            sh(f"cp -a {root}/. {mnt}/ && sync")
        finally:
            sh(f"zpool export {pool}")
    elif kind == "fat":
        sh(f"mkfs.vfat -F 32 -C {img} {mb * 1024}")
        sh(f"mcopy -s -i {img} {root}/boot ::")
    elif kind == "iso":
        sh(f"xorriso -as mkisofs -quiet -R -o {img} {root}")
    elif kind == "ufs":
        sh(f"makefs -t ffs -s {mb}m -o version=2 {img} {root}")
    else:
        raise ValueError(kind)


def gpt_disk(fs_img, disk, total):
    """A GPT disk of `total` bytes (sparse): a 1 MiB BIOS boot partition, `fs_img` in
    partition 2, and for a big disk the rest in partition 3 (empty)."""
    fs_size = os.path.getsize(fs_img)
    with open(disk, "wb") as f:
        f.truncate(total)
    start = 2048 + 2048
    end = start + (fs_size + 511) // 512 - 1
    parts = f"-n 1:2048:4095 -t 1:ef02 -n 2:{start}:{end} -t 2:8300"
    if total > (fs_size + (8 << 20)):
        parts += " -n 3:0:0 -t 3:8300"
    sh(f"sgdisk {parts} {disk}")
    sh(f"dd if={fs_img} of={disk} bs=1M seek={start * 512} oflag=seek_bytes conv=notrunc,sparse status=none")


class Case:
    def __init__(self, name, disk, files, baseline=None, pygrub=True, args=(), target=None):
        self.name, self.disk, self.files = name, disk, files
        self.baseline, self.pygrub, self.args, self.target = baseline, pygrub, list(args), target


def timed(argv, out_dir, stdout=None):
    for n in os.listdir(out_dir):
        os.unlink(os.path.join(out_dir, n))
    t = time.perf_counter()
    r = subprocess.run(argv, stdout=stdout or subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dt = time.perf_counter() - t
    return dt, r.returncode


def paired(a, b, runs, out_a, out_b):
    """Alternate a and b `runs` times after 2 warm-ups each; return (median a, median b,
    median of a/b per pair)."""
    ta, tb, ratio = [], [], []
    for i in range(runs + 2):
        x, _ = timed(a, out_a)
        y, _ = timed(b, out_b)
        if i >= 2:
            ta.append(x)
            tb.append(y)
            ratio.append(x / y)
    return statistics.median(ta), statistics.median(tb), statistics.median(ratio)


def boot_argv(prog, disk, work, extra=()):
    return [prog, "-q", f"--output={work}/result", "--output-format=simple0",
            f"--output-directory={work}/out", *extra, disk]


def works(argv, out_dir):
    _, rc = timed(argv, out_dir)
    ok = rc == 0 and any(os.path.getsize(os.path.join(out_dir, n)) > 0 for n in os.listdir(out_dir))
    return ok


def main():
    w = tempfile.mkdtemp(prefix="rsgrub-suite.", dir="/var/tmp")
    try:
        run(w)
    finally:
        shutil.rmtree(w, ignore_errors=True)


def run(w):
    for d in ("out", "cat"):
        os.makedirs(os.path.join(w, d))
    open(os.path.join(w, "result"), "w").close()
    kernel = os.path.join(w, "vmlinuz")
    random_file(kernel, KERNEL_MB, 1)
    cases = []
    for mb in SIZES:
        initrd = os.path.join(w, f"initrd{mb}")
        random_file(initrd, mb, 2)
        size = KERNEL_MB + mb + 48
        for kind in ("ext4", "xfs", "btrfs", "zfs", "fat", "iso", "ufs"):
            name = f"{kind} {KERNEL_MB}+{mb} MB"
            if ONLY and kind not in ONLY:
                continue
            root = tree(w, f"{kind}{mb}", kernel, initrd)
            img = os.path.join(w, f"{kind}{mb}.img")
            mkfs(kind, root, img, size)
            cases.append(Case(name, img, [kernel, initrd], target=1.0))
            if kind == "ext4":
                q = img + ".qcow2"
                sh(f"qemu-img convert -f raw -O qcow2 {img} {q}")
                cases.append(Case(f"ext4 in qcow2 {KERNEL_MB}+{mb} MB", q, [kernel, initrd], target=1.2))
        if not ONLY or "btrfs-zstd" in ONLY:
            txt = os.path.join(w, f"text{mb}")
            text_file(txt, mb)
            root = tree(w, f"zstd{mb}", kernel, txt)
            img = os.path.join(w, f"btrfs-zstd{mb}.img")
            mkfs("btrfs-zstd", root, img, size)
            # The baseline: zstd -dc of the same bytes at btrfs' level, plus cat of the kernel.
            sh(f"zstd -q -3 -f -o {txt}.zst {txt}")
            cases.append(Case(f"btrfs zstd {KERNEL_MB}+{mb} MB (text)", img, [kernel, txt],
                              baseline=["sh", "-c", f"cat {kernel} > {w}/cat/k; zstd -q -dc {txt}.zst > {w}/cat/i"],
                              target=2.0))

    # Scale cases: the smallest payload, on ext4 in a GPT disk.
    mb = SIZES[0]
    initrd = os.path.join(w, f"initrd{mb}")
    if not ONLY or "scale" in ONLY:
        root = tree(w, "gptsmall", kernel, initrd)
        fs = os.path.join(w, "gptsmall.fs")
        mkfs("ext4", root, fs, KERNEL_MB + mb + 48)
        small = os.path.join(w, "small-gpt.img")
        gpt_disk(fs, small, os.path.getsize(fs) + (4 << 20))
        big = os.path.join(w, "sparse-2t.img")
        gpt_disk(fs, big, 2 << 40)

        def many(r):
            d = os.path.join(r, "boot")
            for i in range(100_000):
                with open(os.path.join(d, f"f{i:06d}"), "w") as f:
                    f.write("x")
        root = tree(w, "many", kernel, initrd, many)
        fs = os.path.join(w, "many.fs")
        mkfs("ext4", root, fs, KERNEL_MB + mb + 48 + 450, "-N 120000")
        manyd = os.path.join(w, "many-gpt.img")
        gpt_disk(fs, manyd, os.path.getsize(fs) + (4 << 20))
        small_argv = [RSGRUB, "-q", f"--output={w}/result", "--output-format=simple0",
                      f"--output-directory={w}/cat", small]
        cases.append(Case(f"GPT ext4 {KERNEL_MB}+{mb} MB", small, [kernel, initrd], target=1.0))
        cases.append(Case("GPT 2 TiB sparse", big, [kernel, initrd], baseline=small_argv, target=2.0))
        cases.append(Case("/boot with 100,000 files", manyd, [kernel, initrd], baseline=small_argv, target=2.0))
        cases.append(Case("-l (Debian config, 22 entries)", small, [], args=["-l"], baseline=None, target=None))

    rows = []
    for c in cases:
        print(f"... {c.name}", file=sys.stderr)
        argv = boot_argv(RSGRUB, c.disk, w, c.args)
        ok = (timed(argv, os.path.join(w, "out"))[1] == 0) if c.args == ["-l"] else works(argv, os.path.join(w, "out"))
        if ok and c.files:
            # Timing a wrong copy proves nothing: the output must be the source's bytes.
            items = dict(x.split(" ", 1) for x in open(f"{w}/result").read().split("\0") if " " in x)
            for key, src in zip(("kernel", "ramdisk"), c.files):
                if not filecmp.cmp(items.get(key, "/nonexistent"), src, shallow=False):
                    ok = False
        if not ok:
            rows.append((c.name, None, None, None, None, None, "rsgrub FAILED (or wrong bytes)"))
            continue
        if c.args == ["-l"]:
            ts = []
            for i in range(RUNS + 2):
                t, _ = timed(argv, os.path.join(w, "out"))
                if i >= 2:
                    ts.append(t)
            rs = statistics.median(ts)
            pg = None
            pargv = [PYGRUB, "-l", c.disk]
            if os.path.exists(PYGRUB) and subprocess.run(pargv, capture_output=True).returncode == 0:
                pg, _, _ = paired(pargv, pargv, max(3, RUNS // 3), os.path.join(w, "out"), os.path.join(w, "cat"))
            rows.append((c.name, rs, None, None, pg, "<= 5 ms", ""))
            continue
        base = c.baseline
        if base is None:
            base = ["sh", "-c", f"cat {c.files[0]} > {w}/cat/k; cat {c.files[1]} > {w}/cat/i"]
        rs, bt, ratio = paired(argv, base, RUNS, os.path.join(w, "out"), os.path.join(w, "cat"))
        pg = None
        pargv = boot_argv(PYGRUB, c.disk, w)
        if c.pygrub and os.path.exists(PYGRUB) and works(pargv, os.path.join(w, "out")):
            p, _, _ = paired(pargv, argv, max(3, RUNS // 3), os.path.join(w, "out"), os.path.join(w, "cat"))
            pg = p
        rows.append((c.name, rs, bt, ratio, pg, c.target, ""))

    # Peak RSS of the whole run (parent and sandbox child), biggest payload on ext4.
    rss = None
    big_ext4 = [c for c in cases if c.name.startswith("ext4 ") and "qcow2" not in c.name]
    if big_ext4 and os.path.exists("/usr/bin/time"):
        c = big_ext4[-1]
        r = subprocess.run(["/usr/bin/time", "-f", "%M", *boot_argv(RSGRUB, c.disk, w)],
                           capture_output=True, text=True)
        rss = (c.name, int(r.stderr.strip().splitlines()[-1]) / 1024)

    ms = lambda t: f"{t * 1000:8.1f}" if t is not None else "       -"
    print(f"\n{'case':34s} {'rsgrub':>8s} {'base':>8s} {'ratio':>6s} {'target':>7s} {'pygrub':>8s} {'pg/rs':>6s}")
    print("-" * 84)
    for name, rs, bt, ratio, pg, target, note in rows:
        if rs is None:
            print(f"{name:34s} {note}")
            continue
        r = f"{ratio:6.2f}" if ratio is not None else "     -"
        tg = f"<= {target}" if isinstance(target, float) else (target or "")
        pr = f"{pg / rs:6.1f}" if pg else "     -"
        print(f"{name:34s} {ms(rs)} {ms(bt)} {r} {tg:>7s} {ms(pg)} {pr}")
    print("\nbase: cat of the same bytes; zstd -dc for compressed btrfs; the small GPT disk for")
    print("the 2 TiB and 100,000-file cases. ratio = median of rsgrub/base over paired runs.")
    print("PyGrub target: pg/rs >= 5 where PyGrub reads the image ('-' = it cannot).")
    if rss:
        print(f"peak RSS ({rss[0]}, /usr/bin/time, incl. the sandbox child): {rss[1]:.1f} MiB (target <= 16)")


if __name__ == "__main__":
    main()
