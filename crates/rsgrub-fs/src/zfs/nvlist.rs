//! XDR-packed name-value lists (the vdev label config, `features_for_read`).
//!
//! Layout: a 4-byte header (encoding 1 = XDR, endianness, two reserved bytes), then the list:
//! version and flags (big-endian u32s), then pairs, each `encoded size, decoded size, name
//! (u32 length + bytes padded to 4), type, element count, data`, ended by two zero u32s.
//! Every pair must end inside its encoded size; nesting, pair counts and total work are
//! bounded, so no input makes this allocate or loop more than a fixed amount.
use super::corrupt;
use crate::Result;

/// Deepest nesting of lists accepted (the label's vdev tree is three or four deep).
const MAX_DEPTH: u32 = 16;
/// Most pairs (over all lists) parsed from one packed buffer.
const MAX_PAIRS: usize = 1 << 14;
/// Most elements of one nvlist array.
const MAX_ARRAY: u32 = 4096;

const DATA_TYPE_BOOLEAN: u32 = 1;
const DATA_TYPE_UINT64: u32 = 8;
const DATA_TYPE_STRING: u32 = 9;
const DATA_TYPE_NVLIST: u32 = 19;
const DATA_TYPE_NVLIST_ARRAY: u32 = 20;
const DATA_TYPE_BOOLEAN_VALUE: u32 = 21;

/// A value this driver uses; other types are kept as [`Value::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    U64(u64),
    Str(Vec<u8>),
    Bool(bool),
    List(NvList),
    Lists(Vec<NvList>),
    Other(u32),
}

/// One decoded list, pairs in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NvList {
    pub pairs: Vec<(Vec<u8>, Value)>,
}

impl NvList {
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.pairs
            .iter()
            .find(|(n, _)| n.as_slice() == name.as_bytes())
            .map(|(_, v)| v)
    }
    pub(crate) fn u64(&self, name: &str) -> Option<u64> {
        match self.get(name) {
            Some(Value::U64(v)) => Some(*v),
            _ => None,
        }
    }
    pub(crate) fn str(&self, name: &str) -> Option<&[u8]> {
        match self.get(name) {
            Some(Value::Str(v)) => Some(v),
            _ => None,
        }
    }
    pub(crate) fn list(&self, name: &str) -> Option<&NvList> {
        match self.get(name) {
            Some(Value::List(v)) => Some(v),
            _ => None,
        }
    }
    pub(crate) fn lists(&self, name: &str) -> Option<&[NvList]> {
        match self.get(name) {
            Some(Value::Lists(v)) => Some(v),
            _ => None,
        }
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    pairs: usize,
}

impl Cursor<'_> {
    fn u32(&mut self) -> Result<u32> {
        let v = rsgrub_io::be::u32(self.b, self.pos)
            .ok_or_else(|| corrupt(format!("nvlist ends at byte {}", self.pos)))?;
        self.pos += 4;
        Ok(v)
    }
    fn u64(&mut self) -> Result<u64> {
        let v = rsgrub_io::be::u64(self.b, self.pos)
            .ok_or_else(|| corrupt(format!("nvlist ends at byte {}", self.pos)))?;
        self.pos += 8;
        Ok(v)
    }
    /// An XDR opaque: u32 length, bytes, padding to 4.
    fn bytes(&mut self, limit: usize) -> Result<Vec<u8>> {
        let len = usize::try_from(self.u32()?).map_err(|_| corrupt("nvlist string length"))?;
        if len > limit {
            return Err(corrupt(format!("nvlist string of {len} bytes")));
        }
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| corrupt(format!("nvlist string of {len} bytes runs past the end")))?;
        let v = self.b.get(self.pos..end).unwrap_or_default().to_vec();
        let padded = len.checked_add(3).map(|x| x & !3).unwrap_or(usize::MAX);
        self.pos = self
            .pos
            .checked_add(padded)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| corrupt("nvlist string padding runs past the end"))?;
        // C strings carry their NUL in some writers.
        let v = match v.iter().position(|&c| c == 0) {
            Some(i) => v.get(..i).unwrap_or_default().to_vec(),
            None => v,
        };
        Ok(v)
    }

    /// A list body: version, flags, pairs, terminator; must end by `end`.
    fn list(&mut self, end: usize, depth: u32) -> Result<NvList> {
        if depth > MAX_DEPTH {
            return Err(corrupt(format!("nvlist nested deeper than {MAX_DEPTH}")));
        }
        let _version = self.u32()?;
        let _flags = self.u32()?;
        let mut out = NvList::default();
        loop {
            let start = self.pos;
            let enc = usize::try_from(self.u32()?).map_err(|_| corrupt("nvpair size"))?;
            let dec = self.u32()?;
            if enc == 0 && dec == 0 {
                break;
            }
            self.pairs += 1;
            if self.pairs > MAX_PAIRS {
                return Err(corrupt(format!("nvlist has more than {MAX_PAIRS} pairs")));
            }
            let pair_end = start
                .checked_add(enc)
                .filter(|&e| e <= end && enc >= 20)
                .ok_or_else(|| {
                    corrupt(format!(
                        "nvpair at byte {start} of encoded size {enc} runs past its list"
                    ))
                })?;
            let name = self.bytes(pair_end - self.pos)?;
            let ty = self.u32()?;
            let n = self.u32()?;
            let value = match ty {
                DATA_TYPE_UINT64 if n == 1 => Value::U64(self.u64()?),
                DATA_TYPE_STRING if n == 1 => Value::Str(self.bytes(pair_end - self.pos)?),
                DATA_TYPE_BOOLEAN => Value::Bool(true),
                DATA_TYPE_BOOLEAN_VALUE if n == 1 => Value::Bool(self.u32()? != 0),
                DATA_TYPE_NVLIST if n == 1 => Value::List(self.list(pair_end, depth + 1)?),
                DATA_TYPE_NVLIST_ARRAY => {
                    if n > MAX_ARRAY {
                        return Err(corrupt(format!("nvlist array of {n} elements")));
                    }
                    let mut v = Vec::new();
                    for _ in 0..n {
                        v.push(self.list(pair_end, depth + 1)?);
                    }
                    Value::Lists(v)
                }
                t => Value::Other(t),
            };
            if self.pos > pair_end {
                return Err(corrupt(format!(
                    "nvpair at byte {start} overruns its encoded size {enc}"
                )));
            }
            self.pos = pair_end;
            out.pairs.push((name, value));
        }
        if self.pos > end {
            return Err(corrupt("nvlist runs past its end"));
        }
        Ok(out)
    }
}

/// Decode a packed nvlist with its 4-byte encoding header.
pub(crate) fn unpack(b: &[u8]) -> Result<NvList> {
    match b.get(..2) {
        Some([1, 0 | 1]) => {}
        Some(h) => {
            return Err(corrupt(format!(
                "nvlist encoding {:?} is not XDR (1)",
                h.first()
            )))
        }
        None => return Err(corrupt("nvlist is empty")),
    }
    let body = b.get(4..).unwrap_or_default();
    let mut c = Cursor {
        b: body,
        pos: 0,
        pairs: 0,
    };
    c.list(body.len(), 0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn s(out: &mut Vec<u8>, v: &[u8]) {
        out.extend((v.len() as u32).to_be_bytes());
        out.extend(v);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    pub(crate) fn pair_u64(name: &str, v: u64) -> Vec<u8> {
        let mut p = vec![0u8; 8];
        s(&mut p, name.as_bytes());
        p.extend(DATA_TYPE_UINT64.to_be_bytes());
        p.extend(1u32.to_be_bytes());
        p.extend(v.to_be_bytes());
        let n = p.len() as u32;
        p[..4].copy_from_slice(&n.to_be_bytes());
        p[4..8].copy_from_slice(&n.to_be_bytes());
        p
    }

    #[test]
    fn parses_and_bounds() {
        let mut b = vec![1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        b.extend(pair_u64("txg", 42));
        b.extend([0u8; 8]);
        let l = unpack(&b).unwrap();
        assert_eq!(l.u64("txg"), Some(42));
        // Encoded size past the end.
        let mut bad = b.clone();
        bad[12..16].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
        assert!(unpack(&bad).is_err());
        // Giant string length.
        let mut bad = b.clone();
        bad[20..24].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        assert!(unpack(&bad).is_err());
        // Truncated (no terminator).
        assert!(unpack(&b[..b.len() - 8]).is_err());
    }
}
