//! The File Allocation Table: cluster chains turned into runs of contiguous clusters.
//!
//! FAT entries are read through a few cached 64 KiB windows of the table (chains are mostly
//! sequential, so a walk costs about one window read per 16–32 K clusters). A chain is
//! walked at most as far as the caller needs and never further than the volume has clusters;
//! a next-cluster value that is free, reserved, bad, or past the last cluster is an error, and
//! so is a chain that visits a cluster twice (a loop).
use super::bpb::{Bpb, Kind};
use super::corrupt;
use crate::{FsError, Result};
use rsgrub_io::{DynReader, ReadAt};
use std::sync::Mutex;

const WINDOW: u64 = 64 << 10;
const WINDOWS: usize = 4;
/// Most runs one chain may break into (16 MiB of run list).
pub(crate) const MAX_RUNS: usize = 1 << 20;

/// `count` clusters starting at `cluster`, holding the file's clusters from index `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub index: u64,
    pub cluster: u32,
    pub count: u32,
}

/// What a FAT entry says about the next cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Cluster(u32),
    End,
}

pub(crate) struct Table {
    dev: DynReader,
    kind: Kind,
    offset: u64,
    bytes: u64,
    /// Valid cluster numbers are `2..limit`.
    limit: u64,
    cache: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    tick: u64,
    /// (window number, last use, bytes).
    v: Vec<(u64, u64, Vec<u8>)>,
}

impl Table {
    pub(crate) fn new(dev: DynReader, bpb: &Bpb) -> Self {
        Table {
            dev,
            kind: bpb.kind,
            offset: bpb.fat_offset,
            bytes: bpb.fat_bytes,
            limit: bpb.cluster_count + 2,
            cache: Mutex::new(Windows::default()),
        }
    }

    /// `true` if `c` is a data cluster number.
    pub(crate) fn valid(&self, c: u64) -> bool {
        c >= 2 && c < self.limit
    }

    /// Read `N` bytes of the table at `pos` (relative to the table start).
    fn bytes<const N: usize>(&self, pos: u64) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        pos.checked_add(N as u64)
            .filter(|&e| e <= self.bytes)
            .ok_or_else(|| corrupt(format!("FAT entry at byte {pos} is past the table")))?;
        let mut cache = self.cache.lock().map_err(|_| poisoned())?;
        cache.tick = cache.tick.wrapping_add(1);
        let tick = cache.tick;
        let wins = &mut cache.v;
        for (i, slot) in out.iter_mut().enumerate() {
            let p = pos + i as u64;
            let w = p / WINDOW;
            let idx = match wins.iter().position(|(n, _, _)| *n == w) {
                Some(idx) => idx,
                None => {
                    let start = w * WINDOW;
                    let len = (self.bytes - start).min(WINDOW);
                    let abs = self
                        .offset
                        .checked_add(start)
                        .ok_or_else(|| corrupt("FAT offset overflows"))?;
                    let mut data = vec![0u8; usize::try_from(len).unwrap_or(0)];
                    self.dev.read_at(abs, &mut data)?;
                    if wins.len() >= WINDOWS {
                        if let Some(victim) = wins
                            .iter()
                            .enumerate()
                            .min_by_key(|(_, (_, t, _))| *t)
                            .map(|(i, _)| i)
                        {
                            wins.swap_remove(victim);
                        }
                    }
                    wins.push((w, tick, data));
                    wins.len() - 1
                }
            };
            let entry = wins
                .get_mut(idx)
                .ok_or_else(|| corrupt("FAT window cache"))?;
            entry.1 = tick;
            let within = usize::try_from(p - w * WINDOW).unwrap_or(usize::MAX);
            *slot = *entry
                .2
                .get(within)
                .ok_or_else(|| corrupt(format!("FAT entry at byte {p} is past the table")))?;
        }
        Ok(out)
    }

    /// The FAT entry of cluster `c`.
    fn next(&self, c: u32) -> Result<Next> {
        let c64 = u64::from(c);
        let raw = match self.kind {
            Kind::Fat12 => {
                let [a, b] = self.bytes::<2>(c64 + c64 / 2)?;
                let v = u16::from_le_bytes([a, b]);
                u32::from(if c & 1 == 1 { v >> 4 } else { v & 0x0FFF })
            }
            Kind::Fat16 => u32::from(u16::from_le_bytes(self.bytes::<2>(c64 * 2)?)),
            Kind::Fat32 => u32::from_le_bytes(self.bytes::<4>(c64 * 4)?) & 0x0FFF_FFFF,
        };
        let (bad, eoc) = match self.kind {
            Kind::Fat12 => (0xFF7, 0xFF8),
            Kind::Fat16 => (0xFFF7, 0xFFF8),
            Kind::Fat32 => (0x0FFF_FFF7, 0x0FFF_FFF8),
        };
        if raw >= eoc {
            return Ok(Next::End);
        }
        if raw == bad {
            return Err(corrupt(format!("cluster {c} is followed by a bad cluster")));
        }
        if raw == 0 {
            return Err(corrupt(format!(
                "cluster chain runs into a free cluster after {c}"
            )));
        }
        if !self.valid(u64::from(raw)) {
            return Err(corrupt(format!(
                "cluster {c} is followed by {raw}, outside the FAT's 2..{}",
                self.limit
            )));
        }
        Ok(Next::Cluster(raw))
    }

    /// Walk the chain from `first` for at most `max` clusters (fewer if it ends first).
    ///
    /// The runs cover the clusters in file order; their counts add up to how many were
    /// walked. A chain that goes on after `max` clusters is not an error here.
    pub(crate) fn chain(&self, first: u32, max: u64) -> Result<Vec<Run>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        if !self.valid(u64::from(first)) {
            return Err(corrupt(format!(
                "first cluster {first} is outside 2..{}",
                self.limit
            )));
        }
        // More steps than there are clusters can only be a loop; the repeat check below
        // reports it.
        let max = max.min(self.limit - 2);
        let mut runs: Vec<Run> = Vec::new();
        let mut cur = first;
        let mut walked = 1u64;
        let mut run = Run {
            index: 0,
            cluster: first,
            count: 1,
        };
        while walked < max {
            match self.next(cur)? {
                Next::End => break,
                Next::Cluster(n) => {
                    if u64::from(n) == u64::from(run.cluster) + u64::from(run.count)
                        && run.count < u32::MAX
                    {
                        run.count += 1;
                    } else {
                        push(&mut runs, run)?;
                        run = Run {
                            index: walked,
                            cluster: n,
                            count: 1,
                        };
                    }
                    cur = n;
                    walked += 1;
                }
            }
        }
        push(&mut runs, run)?;
        check_no_repeats(&runs)?;
        Ok(runs)
    }
}

/// Clusters the runs cover.
pub(crate) fn total(runs: &[Run]) -> u64 {
    runs.iter().map(|r| u64::from(r.count)).sum()
}

fn push(runs: &mut Vec<Run>, run: Run) -> Result<()> {
    if runs.len() >= MAX_RUNS {
        return Err(FsError::Limit(format!(
            "cluster chain is split into more than {MAX_RUNS} pieces"
        )));
    }
    runs.push(run);
    Ok(())
}

/// A chain that visits a cluster twice loops.
fn check_no_repeats(runs: &[Run]) -> Result<()> {
    let mut v: Vec<(u64, u64)> = runs
        .iter()
        .map(|r| {
            (
                u64::from(r.cluster),
                u64::from(r.cluster) + u64::from(r.count),
            )
        })
        .collect();
    v.sort_unstable();
    for w in v.windows(2) {
        if let [a, b] = w {
            if b.0 < a.1 {
                return Err(corrupt(format!(
                    "cluster chain loops (cluster {} is used twice)",
                    b.0
                )));
            }
        }
    }
    Ok(())
}

fn poisoned() -> FsError {
    FsError::Io(std::io::Error::other("FAT cache poisoned"))
}
