#![no_main]
//! Open bytes as xfs and walk the whole tree under a budget.
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let dev: rsgrub_io::DynReader = Arc::new(data.to_vec());
    if rsgrub_fs::xfs::probe(&*dev) {
        if let Ok(fs) = rsgrub_fs::xfs::open(dev) {
            rsgrub_fs::walk::exercise(fs.as_ref(), 2_000, 8 << 20);
        }
    }
});
