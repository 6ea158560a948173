//! Is the internal log clean? (We never replay it; a dirty log only earns a warning.)
//!
//! Every 512-byte basic block (BB) of the log starts with its cycle number. The head is
//! where the cycle number changes from the first block's; the last record header
//! (`0xFEEDBABE`) before it is clean if it holds exactly one log operation, flagged
//! `XLOG_UNMOUNT_TRANS`. The search is a binary search (bounded by log2 of the log size)
//! plus a backward scan of at most [`MAX_BACK`] BBs; any read problem just yields "unknown".
use rsgrub_io::{be, ReadAt};

const BB: u64 = 512;
const MAGIC: u32 = 0xFEED_BABE;
const UNMOUNT_TRANS: u8 = 0x20;
/// Largest log record is 256 KiB of data plus headers.
const MAX_BACK: u64 = 1024;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum State {
    Clean,
    Dirty,
    Unknown,
}

fn bb(dev: &dyn ReadAt, start: u64, i: u64) -> Option<[u8; 512]> {
    let mut b = [0u8; 512];
    dev.read_at(start.checked_add(i.checked_mul(BB)?)?, &mut b)
        .ok()?;
    Some(b)
}

fn cycle(dev: &dyn ReadAt, start: u64, i: u64) -> Option<u32> {
    be::u32(&bb(dev, start, i)?, 0)
}

/// Log of `len` bytes at byte `start` of `dev`.
pub(crate) fn state(dev: &dyn ReadAt, start: u64, len: u64) -> State {
    inner(dev, start, len).unwrap_or(State::Unknown)
}

fn inner(dev: &dyn ReadAt, start: u64, len: u64) -> Option<State> {
    let n = len / BB;
    if n < 2 {
        return None;
    }
    let c0 = cycle(dev, start, 0)?;
    if c0 == 0 {
        // Never written (zeroed log): nothing to recover.
        return Some(State::Clean);
    }
    // First BB whose cycle differs from c0 (blocks [0, head) carry c0); n if none.
    let (mut lo, mut hi) = (1u64, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if cycle(dev, start, mid)? == c0 {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let head = lo % n;
    for back in 1..=MAX_BACK.min(n) {
        let i = (head + n - back) % n;
        let b = bb(dev, start, i)?;
        if be::u32(&b, 0) != Some(MAGIC) {
            continue;
        }
        let num_ops = be::u32(&b, 40)?;
        let version = be::u32(&b, 8)?;
        let h_size = u64::from(be::u32(&b, 320)?);
        let hblks = if version & 2 != 0 && h_size > 32768 {
            h_size.div_ceil(32768)
        } else {
            1
        };
        let op = bb(dev, start, (i + hblks) % n)?;
        let flags = *op.get(9)?;
        return Some(if num_ops == 1 && flags & UNMOUNT_TRANS != 0 {
            State::Clean
        } else {
            State::Dirty
        });
    }
    None
}
