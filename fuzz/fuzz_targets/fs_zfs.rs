#![no_main]
//! Open bytes as ZFS (in the fuzzing layout: labels, then the device from 4 MiB) and walk the
//! whole tree under a budget, through GRUB's dataset@path form too.
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let dev: rsgrub_io::DynReader = Arc::new(rsgrub_fs::zfs::fuzz_image(data));
    if rsgrub_fs::zfs::probe(&*dev) {
        if let Ok(fs) = rsgrub_fs::zfs::open(dev) {
            rsgrub_fs::walk::exercise(fs.as_ref(), 2_000, 8 << 20);
            let _ = rsgrub_fs::path::resolve(fs.as_ref(), b"/ROOT/debian@/boot/vmlinuz", true);
            let _ = fs.boot_string();
        }
    }
});
