//! LVM2 physical volumes and their logical volumes.
//!
//! A physical volume (PV) has a label (`LABELONE`, type `LVM2 001`) in one of its first four
//! sectors, pointing at a PV header (UUID, data and metadata areas). Each metadata area starts
//! with a header (magic `" LVM2 x[5A%r0N*>"`) whose first location points at the current
//! metadata: text in LVM's config format, stored in a ring buffer after the header. Labels,
//! headers and texts are CRC-checked (LVM's CRC-32 with initial value `0xf597a6cf`).
//!
//! Per volume group (VG) the metadata copy with the highest `seqno` found on this disk wins.
//! Each visible logical volume (LV) made of `striped` segments (one stripe = linear) whose PVs
//! are all on this disk becomes a [`Volume`] over a [`Segmented`] reader composed on the PV
//! volumes, named as GRUB does: `lvm/VG-LV` (a `-` in either name doubled) and
//! `lvmid/<VG UUID>/<LV UUID>`. Everything else (mirrors, RAID, thin, snapshots, missing PVs)
//! is skipped with a warning.
//!
//! The text parser is bounded: [`MAX_TEXT`] bytes, [`MAX_DEPTH`] levels of sections and
//! arrays, [`MAX_NODES`] values, 64-bit integers (larger ones are an error, not a wrap).
use crate::segmented::{Layout, Segment, Segmented};
use crate::{Disk, Scheme, Volume};
use rsgrub_io::{le, DynReader};
use std::sync::Arc;

/// Label identifier.
pub const LABEL_ID: &[u8; 8] = b"LABELONE";
/// Label type of an LVM2 PV.
pub const LABEL_TYPE: &[u8; 8] = b"LVM2 001";
/// Metadata area header magic.
pub const MDA_MAGIC: &[u8; 16] = b" LVM2 x[5A%r0N*>";
/// Initial value of LVM's CRC.
pub const INITIAL_CRC: u32 = 0xf597_a6cf;
/// Largest metadata text read.
pub const MAX_TEXT: u64 = 4 << 20;
/// Deepest nesting of sections and arrays.
pub const MAX_DEPTH: usize = 16;
/// Most values, sections and array items in one metadata text.
pub const MAX_NODES: usize = 1 << 17;
/// Most logical volumes taken from one VG, segments per LV, stripes per segment.
pub const MAX_LVS: usize = 256;
/// See [`MAX_LVS`].
pub const MAX_SEGMENTS: usize = 1024;
/// See [`MAX_LVS`].
pub const MAX_STRIPES: usize = 128;
/// Most metadata areas read per PV.
pub const MAX_MDAS: usize = 4;

const SECTOR: u64 = 512;

/// LVM's CRC-32 (reflected 0xEDB88320, no final inversion) continuing from `crc`.
pub fn crc(crc: u32, data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(!crc);
    h.update(data);
    !h.finalize()
}

/// A PV label and header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvLabel {
    /// Sector (0..4) the label is in.
    pub sector: u64,
    /// PV UUID, 32 characters, no dashes.
    pub uuid: String,
    /// Device size the PV header records.
    pub device_size: u64,
    /// Data areas `(offset, size)` in bytes from the PV start (size 0 = to the end).
    pub data_areas: Vec<(u64, u64)>,
    /// Metadata areas `(offset, size)` in bytes from the PV start.
    pub metadata_areas: Vec<(u64, u64)>,
}

/// The PV label in the first four sectors of `pv`: `None` if there is none, `Err` if one is
/// there but broken.
pub fn read_label(pv: &DynReader) -> Option<Result<PvLabel, String>> {
    for sector in 0..4u64 {
        let mut s = [0u8; 512];
        if pv.read_at(sector * SECTOR, &mut s).is_err() {
            return None;
        }
        if s.get(0..8) != Some(&LABEL_ID[..]) {
            continue;
        }
        return Some(parse_label(&s, sector));
    }
    None
}

fn parse_label(s: &[u8; 512], sector: u64) -> Result<PvLabel, String> {
    let short = || "label sector is short".to_string();
    let at = le::u64(s, 8).ok_or_else(short)?;
    if at != sector {
        return Err(format!(
            "label in sector {sector} says it is in sector {at}"
        ));
    }
    if s.get(24..32) != Some(&LABEL_TYPE[..]) {
        return Err(format!(
            "label type {:?} is not \"LVM2 001\"",
            String::from_utf8_lossy(s.get(24..32).unwrap_or(&[]))
        ));
    }
    let stored = le::u32(s, 16).ok_or_else(short)?;
    let computed = crc(INITIAL_CRC, s.get(20..).ok_or_else(short)?);
    if stored != computed {
        return Err(format!(
            "label CRC mismatch (stored 0x{stored:08x}, computed 0x{computed:08x})"
        ));
    }
    let off = usize::try_from(le::u32(s, 20).ok_or_else(short)?).map_err(|_| short())?;
    if !(32..=512 - 56).contains(&off) {
        return Err(format!(
            "PV header offset {off} is not within the label sector"
        ));
    }
    let uuid_raw = s.get(off..off + 32).ok_or_else(short)?;
    if !uuid_raw.iter().all(|b| b.is_ascii_alphanumeric()) {
        return Err("PV UUID is not 32 alphanumeric characters".into());
    }
    let uuid = String::from_utf8_lossy(uuid_raw).into_owned();
    let device_size = le::u64(s, off + 32).ok_or_else(short)?;
    let mut pos = off + 40;
    let mut lists: [Vec<(u64, u64)>; 2] = [Vec::new(), Vec::new()];
    for list in lists.iter_mut() {
        loop {
            let (Some(o), Some(z)) = (le::u64(s, pos), le::u64(s, pos + 8)) else {
                return Err("PV header area list runs past the label sector".into());
            };
            pos += 16;
            if o == 0 {
                break;
            }
            list.push((o, z));
        }
    }
    let [data_areas, metadata_areas] = lists;
    Ok(PvLabel {
        sector,
        uuid,
        device_size,
        data_areas,
        metadata_areas,
    })
}

/// The current metadata text of the metadata area `(offset, size)` of `pv` (`Ok(None)`: the
/// area holds no metadata or is marked ignored).
pub fn read_metadata(pv: &DynReader, area: (u64, u64)) -> Result<Option<Vec<u8>>, String> {
    let (start, size) = area;
    let end = start
        .checked_add(size)
        .ok_or_else(|| "metadata area overflows".to_string())?;
    if size < 2 * SECTOR || end > pv.size() {
        return Err(format!(
            "metadata area {start}..{end} is not within the PV ({} bytes)",
            pv.size()
        ));
    }
    let mut h = [0u8; 512];
    pv.read_at(start, &mut h)
        .map_err(|e| format!("cannot read the metadata area header: {e}"))?;
    if h.get(4..20) != Some(&MDA_MAGIC[..]) {
        return Err(format!("no metadata area header magic at byte {start}"));
    }
    let short = || "metadata area header is short".to_string();
    let stored = le::u32(&h, 0).ok_or_else(short)?;
    let computed = crc(INITIAL_CRC, h.get(4..).ok_or_else(short)?);
    if stored != computed {
        return Err(format!(
            "metadata area header CRC mismatch (stored 0x{stored:08x}, computed 0x{computed:08x})"
        ));
    }
    let version = le::u32(&h, 20).ok_or_else(short)?;
    if version != 1 {
        return Err(format!("metadata area header version {version}"));
    }
    let hstart = le::u64(&h, 24).ok_or_else(short)?;
    if hstart != start {
        return Err(format!(
            "metadata area header at byte {start} says it is at byte {hstart}"
        ));
    }
    let off = le::u64(&h, 40).ok_or_else(short)?;
    let len = le::u64(&h, 48).ok_or_else(short)?;
    let sum = le::u32(&h, 56).ok_or_else(short)?;
    let flags = le::u32(&h, 60).ok_or_else(short)?;
    if off == 0 || flags & 1 != 0 {
        return Ok(None);
    }
    if off < SECTOR || off >= size {
        return Err(format!(
            "metadata text offset {off} is outside the metadata area ({size} bytes)"
        ));
    }
    if len == 0 || len > MAX_TEXT || len > size - SECTOR {
        return Err(format!(
            "metadata text of {len} bytes (at most {MAX_TEXT} and the area's {} bytes)",
            size - SECTOR
        ));
    }
    // Ring buffer: text may wrap to just after the header.
    let first = len.min(size - off);
    let wrap = len - first;
    if wrap > off - SECTOR {
        return Err("wrapped metadata text overlaps itself".into());
    }
    let mut text = vec![0u8; usize::try_from(len).map_err(|_| short())?];
    let (a, b) = text.split_at_mut(usize::try_from(first).map_err(|_| short())?);
    let abs = |o: u64| start.checked_add(o).ok_or_else(short);
    pv.read_at(abs(off)?, a)
        .map_err(|e| format!("cannot read the metadata text: {e}"))?;
    if !b.is_empty() {
        pv.read_at(abs(SECTOR)?, b)
            .map_err(|e| format!("cannot read the metadata text: {e}"))?;
    }
    let computed = crc(INITIAL_CRC, &text);
    if computed != sum {
        return Err(format!(
            "metadata text CRC mismatch (stored 0x{sum:08x}, computed 0x{computed:08x})"
        ));
    }
    while text.last() == Some(&0) {
        text.pop();
    }
    Ok(Some(text))
}

// ---------------------------------------------------------------------------------------------
// The text format

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A number with a fraction, as written.
    Float(String),
    /// A string (escapes resolved).
    Str(String),
    /// `[a, b, …]`.
    Array(Vec<Value>),
}

/// A `key = value` or a `name { … }` section.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A value.
    Value(Value),
    /// A section.
    Section(Section),
}

/// A section: items in file order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    /// `(key, node)` in order.
    pub items: Vec<(String, Node)>,
}

impl Section {
    /// The first item called `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }
    /// The subsection `key`.
    pub fn section(&self, key: &str) -> Option<&Section> {
        match self.get(key)? {
            Node::Section(s) => Some(s),
            Node::Value(_) => None,
        }
    }
    /// The value `key`.
    pub fn value(&self, key: &str) -> Option<&Value> {
        match self.get(key)? {
            Node::Value(v) => Some(v),
            Node::Section(_) => None,
        }
    }
    /// The integer `key`.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.value(key)? {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// The string `key`.
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.value(key)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The array `key`.
    pub fn array(&self, key: &str) -> Option<&[Value]> {
        match self.value(key)? {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    /// The subsections, in order.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.items.iter().filter_map(|(k, n)| match n {
            Node::Section(s) => Some((k.as_str(), s)),
            Node::Value(_) => None,
        })
    }
    /// Whether the string array `key` contains `flag`.
    pub fn has_flag(&self, key: &str, flag: &str) -> bool {
        self.array(key)
            .is_some_and(|a| a.iter().any(|v| matches!(v, Value::Str(s) if s == flag)))
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    nodes: usize,
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'+' | b'-' | b'@' | b'/')
}

impl Parser<'_> {
    fn line(&self) -> usize {
        1 + self
            .b
            .get(..self.i.min(self.b.len()))
            .unwrap_or(&[])
            .iter()
            .filter(|c| **c == b'\n')
            .count()
    }

    fn err(&self, what: &str) -> String {
        format!("metadata text line {}: {what}", self.line())
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'#' {
                while let Some(c) = self.peek() {
                    if c == b'\n' {
                        break;
                    }
                    self.i += 1;
                }
            } else if c.is_ascii_whitespace() {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn count(&mut self) -> Result<(), String> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.err(&format!("more than {MAX_NODES} values")));
        }
        Ok(())
    }

    fn key(&mut self) -> Result<String, String> {
        let start = self.i;
        while self.peek().is_some_and(is_key_byte) {
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("expected a name"));
        }
        Ok(String::from_utf8_lossy(self.b.get(start..self.i).unwrap_or(&[])).into_owned())
    }

    /// Items until `}` (when `depth > 0`) or the end.
    fn items(&mut self, depth: usize) -> Result<Section, String> {
        if depth > MAX_DEPTH {
            return Err(self.err(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let mut sec = Section::default();
        loop {
            self.skip_ws();
            match self.peek() {
                None if depth == 0 => return Ok(sec),
                None => return Err(self.err("unexpected end of text (missing '}')")),
                Some(b'}') if depth > 0 => {
                    self.i += 1;
                    return Ok(sec);
                }
                Some(_) => {}
            }
            let key = self.key()?;
            self.count()?;
            self.skip_ws();
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    let s = self.items(depth + 1)?;
                    sec.items.push((key, Node::Section(s)));
                }
                Some(b'=') => {
                    self.i += 1;
                    let v = self.value(depth + 1)?;
                    sec.items.push((key, Node::Value(v)));
                }
                _ => return Err(self.err(&format!("expected '=' or '{{' after {key:?}"))),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(self.err(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.skip_ws();
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                let mut s = Vec::new();
                loop {
                    match self.peek() {
                        None => return Err(self.err("unterminated string")),
                        Some(b'"') => {
                            self.i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            self.i += 1;
                            let c = self.peek().ok_or_else(|| self.err("unterminated string"))?;
                            s.push(c);
                            self.i += 1;
                        }
                        Some(c) => {
                            s.push(c);
                            self.i += 1;
                        }
                    }
                }
                Ok(Value::Str(String::from_utf8_lossy(&s).into_owned()))
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Array(a));
                        }
                        Some(b',') => {
                            self.i += 1;
                            continue;
                        }
                        None => return Err(self.err("unterminated array")),
                        Some(_) => {}
                    }
                    self.count()?;
                    a.push(self.value(depth + 1)?);
                }
            }
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                self.i += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == b'.') {
                    self.i += 1;
                }
                let t =
                    String::from_utf8_lossy(self.b.get(start..self.i).unwrap_or(&[])).into_owned();
                if t.contains('.') {
                    return Ok(Value::Float(t));
                }
                t.parse::<i64>()
                    .map(Value::Int)
                    .map_err(|_| self.err(&format!("number {t} is not a 64-bit integer")))
            }
            _ => Err(self.err("expected a value")),
        }
    }
}

/// Parse LVM metadata text (bounded, see the module docs).
pub fn parse(text: &[u8]) -> Result<Section, String> {
    if text.len() as u64 > MAX_TEXT {
        return Err(format!("metadata text is larger than {MAX_TEXT} bytes"));
    }
    Parser {
        b: text,
        i: 0,
        nodes: 0,
    }
    .items(0)
}

// ---------------------------------------------------------------------------------------------
// Volume groups

/// A PV as the VG metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvRef {
    /// Key in `physical_volumes` (`pv0`).
    pub key: String,
    /// UUID without dashes.
    pub uuid: String,
    /// First PE, in sectors from the PV start.
    pub pe_start: u64,
}

/// One segment of an LV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentDef {
    /// First logical extent.
    pub start_extent: u64,
    /// Extents.
    pub extent_count: u64,
    /// `type` (`striped`).
    pub kind: String,
    /// Stripe size in sectors (striped with more than one stripe).
    pub stripe_size: u64,
    /// `(PV key, first PE)` per stripe.
    pub stripes: Vec<(String, u64)>,
}

/// One LV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvDef {
    /// Name.
    pub name: String,
    /// UUID as written (with dashes).
    pub id: String,
    /// Has the `VISIBLE` status flag.
    pub visible: bool,
    /// Segments in file order.
    pub segments: Vec<SegmentDef>,
}

/// A VG's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VgMeta {
    /// Name.
    pub name: String,
    /// UUID as written (with dashes).
    pub id: String,
    /// Sequence number (higher = newer).
    pub seqno: u64,
    /// Extent size in sectors.
    pub extent_size: u64,
    /// PVs.
    pub pvs: Vec<PvRef>,
    /// LVs (at most [`MAX_LVS`]).
    pub lvs: Vec<LvDef>,
}

fn uint(s: &Section, key: &str, ctx: &str) -> Result<u64, String> {
    let v = s
        .int(key)
        .ok_or_else(|| format!("{ctx}: no integer {key}"))?;
    u64::try_from(v).map_err(|_| format!("{ctx}: {key} = {v} is negative"))
}

/// Interpret parsed metadata as a VG.
pub fn volume_group(root: &Section) -> Result<VgMeta, String> {
    let (name, vg) = root
        .sections()
        .next()
        .ok_or_else(|| "metadata has no volume group section".to_string())?;
    let ctx = format!("VG {name}");
    let id = vg
        .str("id")
        .ok_or_else(|| format!("{ctx}: no id"))?
        .to_string();
    let seqno = uint(vg, "seqno", &ctx)?;
    let extent_size = uint(vg, "extent_size", &ctx)?;
    if extent_size == 0 {
        return Err(format!("{ctx}: extent_size is 0"));
    }
    let mut pvs = Vec::new();
    if let Some(p) = vg.section("physical_volumes") {
        for (key, pv) in p.sections() {
            let pctx = format!("{ctx}, PV {key}");
            let uuid: String = pv
                .str("id")
                .ok_or_else(|| format!("{pctx}: no id"))?
                .chars()
                .filter(|c| *c != '-')
                .collect();
            pvs.push(PvRef {
                key: key.to_string(),
                uuid,
                pe_start: uint(pv, "pe_start", &pctx)?,
            });
        }
    }
    let mut lvs = Vec::new();
    if let Some(l) = vg.section("logical_volumes") {
        for (lname, lv) in l.sections().take(MAX_LVS) {
            let lctx = format!("{ctx}, LV {lname}");
            let mut segments = Vec::new();
            for (sname, seg) in lv.sections() {
                if !sname.starts_with("segment") {
                    continue;
                }
                if segments.len() >= MAX_SEGMENTS {
                    return Err(format!("{lctx}: more than {MAX_SEGMENTS} segments"));
                }
                let sctx = format!("{lctx}, {sname}");
                let kind = seg.str("type").unwrap_or("").to_string();
                let mut stripes = Vec::new();
                if let Some(a) = seg.array("stripes") {
                    if a.len() / 2 > MAX_STRIPES || a.len() % 2 != 0 {
                        return Err(format!(
                            "{sctx}: stripes has {} items (pairs, at most {MAX_STRIPES})",
                            a.len()
                        ));
                    }
                    for pair in a.chunks_exact(2) {
                        match pair {
                            [Value::Str(pv), Value::Int(pe)] => {
                                let pe = u64::try_from(*pe)
                                    .map_err(|_| format!("{sctx}: negative extent {pe}"))?;
                                stripes.push((pv.clone(), pe));
                            }
                            _ => return Err(format!("{sctx}: stripes is not [\"pvN\", PE, …]")),
                        }
                    }
                }
                segments.push(SegmentDef {
                    start_extent: uint(seg, "start_extent", &sctx)?,
                    extent_count: uint(seg, "extent_count", &sctx)?,
                    stripe_size: seg
                        .int("stripe_size")
                        .and_then(|v| u64::try_from(v).ok())
                        .unwrap_or(0),
                    kind,
                    stripes,
                });
            }
            lvs.push(LvDef {
                name: lname.to_string(),
                id: lv.str("id").unwrap_or("").to_string(),
                visible: lv.has_flag("status", "VISIBLE"),
                segments,
            });
        }
    }
    Ok(VgMeta {
        name: name.to_string(),
        id,
        seqno,
        extent_size,
        pvs,
        lvs,
    })
}

/// GRUB's name for an LV: `lvm/VG-LV` with every `-` in the names doubled.
pub fn grub_name(vg: &str, lv: &str) -> String {
    format!("lvm/{}-{}", vg.replace('-', "--"), lv.replace('-', "--"))
}

/// A PV found on the disk.
struct FoundPv {
    label: PvLabel,
    /// Index in the disk's volumes.
    volume: usize,
}

/// Looks up a PV key: its volume's reader and `pe_start` (sectors).
type PvOf<'a> = dyn Fn(&str) -> Result<(DynReader, u64), String> + 'a;
/// An LV's reader, segment kind, and (PV key, byte offset in it) of its first extent.
type BuiltLv = (Segmented, String, Option<(String, u64)>);

/// Build the segmented reader of `lv`; `pv_of(key)` gives the PV volume and its `pe_start`.
fn build_lv(vg: &VgMeta, lv: &LvDef, pv_of: &PvOf<'_>) -> Result<BuiltLv, String> {
    let ext = vg
        .extent_size
        .checked_mul(SECTOR)
        .ok_or_else(|| "extent size overflows".to_string())?;
    let mut segs = lv.segments.clone();
    segs.sort_by_key(|s| s.start_extent);
    let mut out = Vec::new();
    let mut striped = false;
    let mut first_phys = None;
    for (i, s) in segs.iter().enumerate() {
        let n = i + 1;
        if s.kind != "striped" && s.kind != "linear" {
            return Err(format!(
                "segment {n} has type {:?} (only linear/striped are read)",
                s.kind
            ));
        }
        let bytes = |e: u64| {
            e.checked_mul(ext)
                .ok_or_else(|| format!("segment {n}: extent {e} overflows"))
        };
        let start = bytes(s.start_extent)?;
        let len = bytes(s.extent_count)?;
        let count = s.stripes.len() as u64;
        if count == 0 {
            return Err(format!("segment {n} has no stripes"));
        }
        let mut areas = Vec::new();
        for (key, pe) in &s.stripes {
            let (reader, pe_start) = pv_of(key)?;
            let off = pe_start
                .checked_mul(SECTOR)
                .and_then(|p| p.checked_add(pe.checked_mul(ext)?))
                .ok_or_else(|| format!("segment {n}: PE {pe} of {key} overflows"))?;
            areas.push((reader, off));
        }
        if first_phys.is_none() {
            first_phys = s
                .stripes
                .first()
                .zip(areas.first())
                .map(|((key, _), (_, o))| (key.clone(), *o));
        }
        let layout = if count == 1 {
            let (source, offset) = areas.swap_remove(0);
            Layout::Linear { source, offset }
        } else {
            striped = true;
            let chunk = s
                .stripe_size
                .checked_mul(SECTOR)
                .ok_or_else(|| format!("segment {n}: stripe size overflows"))?;
            Layout::Striped {
                stripes: areas,
                chunk,
            }
        };
        out.push(Segment { start, len, layout });
    }
    let reader = Segmented::new(out).map_err(|e| e.to_string())?;
    let kind = if striped { "striped" } else { "linear" };
    Ok((reader, kind.to_string(), first_phys))
}

/// Find PVs on the disk's partitions (and whole disk), pick each VG's newest metadata, and
/// append its logical volumes to `disk.volumes`.
pub fn add_logical_volumes(disk: &mut Disk) {
    let mut found: Vec<FoundPv> = Vec::new();
    let mut metas: Vec<(VgMeta, String)> = Vec::new(); // (meta, PV volume name it came from)
    for (i, v) in disk.volumes.iter().enumerate() {
        if !matches!(v.scheme, Scheme::Msdos | Scheme::Gpt | Scheme::Whole) {
            continue;
        }
        let label = match read_label(&v.reader) {
            None => continue,
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                disk.warnings
                    .push(format!("LVM: {}: PV label: {e}; skipped", v.describe()));
                continue;
            }
        };
        if let Some(other) = found.iter().find(|f| f.label.uuid == label.uuid) {
            let o = disk
                .volumes
                .get(other.volume)
                .map(Volume::describe)
                .unwrap_or_default();
            disk.warnings.push(format!(
                "LVM: {} has the same PV UUID {} as {o}; ignored",
                v.describe(),
                label.uuid
            ));
            continue;
        }
        for &area in label.metadata_areas.iter().take(MAX_MDAS) {
            match read_metadata(&v.reader, area) {
                Ok(None) => {}
                Ok(Some(text)) => match parse(&text).and_then(|r| volume_group(&r)) {
                    Ok(m) => metas.push((m, v.describe())),
                    Err(e) => disk
                        .warnings
                        .push(format!("LVM: {}: metadata: {e}", v.describe())),
                },
                Err(e) => disk.warnings.push(format!(
                    "LVM: {}: metadata area at byte {}: {e}",
                    v.describe(),
                    area.0
                )),
            }
        }
        found.push(FoundPv { label, volume: i });
    }
    if found.is_empty() {
        return;
    }
    // Newest metadata per VG id; first seen wins ties.
    let mut vgs: Vec<VgMeta> = Vec::new();
    for (m, _) in metas {
        match vgs.iter_mut().find(|g| g.id == m.id) {
            Some(g) if m.seqno > g.seqno => *g = m,
            Some(_) => {}
            None => vgs.push(m),
        }
    }
    let mut number = 0u32;
    let mut new_volumes = Vec::new();
    for vg in &vgs {
        let pv_of = |key: &str| -> Result<(DynReader, u64), String> {
            let r = vg
                .pvs
                .iter()
                .find(|p| p.key == key)
                .ok_or_else(|| format!("PV {key} is not in the VG's physical_volumes"))?;
            let f = found
                .iter()
                .find(|f| f.label.uuid == r.uuid)
                .ok_or_else(|| format!("PV {key} ({}) is not on this disk", r.uuid))?;
            let v = disk
                .volumes
                .get(f.volume)
                .ok_or_else(|| "PV volume vanished".to_string())?;
            Ok((v.reader.clone(), r.pe_start))
        };
        for lv in &vg.lvs {
            if !lv.visible {
                continue;
            }
            let name = grub_name(&vg.name, &lv.name);
            let (reader, kind, first) = match build_lv(vg, lv, &pv_of) {
                Ok(x) => x,
                Err(e) => {
                    disk.warnings
                        .push(format!("LVM: VG {}, LV {}: {e}; skipped", vg.name, lv.name));
                    continue;
                }
            };
            if disk
                .volumes
                .iter()
                .chain(&new_volumes)
                .any(|v: &Volume| v.name == name)
            {
                disk.warnings
                    .push(format!("LVM: a second {name} (VG {}) ignored", vg.id));
                continue;
            }
            // The PVs this LV uses, and where its first extent is in the image.
            let volume_of = |key: &str| {
                vg.pvs
                    .iter()
                    .find(|p| p.key == key)
                    .and_then(|r| found.iter().find(|f| f.label.uuid == r.uuid))
                    .and_then(|f| disk.volumes.get(f.volume))
            };
            let mut parents: Vec<String> = Vec::new();
            for seg in &lv.segments {
                for (key, _) in &seg.stripes {
                    if let Some(v) = volume_of(key) {
                        if !parents.contains(&v.name) {
                            parents.push(v.name.clone());
                        }
                    }
                }
            }
            let start = first
                .and_then(|(key, off)| Some(volume_of(&key)?.start.saturating_add(off)))
                .unwrap_or(0);
            number = number.saturating_add(1);
            let size = rsgrub_io::ReadAt::size(&reader);
            new_volumes.push(Volume {
                grub_names: vec![name.clone(), format!("lvmid/{}/{}", vg.id, lv.id)],
                name,
                number,
                start,
                size,
                part_type: kind,
                part_uuid: Some(lv.id.clone()),
                part_label: Some(format!("{}/{}", vg.name, lv.name)),
                active: false,
                scheme: Scheme::Lvm,
                parents,
                reader: Arc::new(reader),
            });
        }
    }
    disk.volumes.extend(new_volumes);
}
