//! The child → parent wire format on the result pipe.
//!
//! A stream of frames: `kind: u8`, `len: u32 LE`, `len` bytes. The parent decodes it as
//! hostile input: the kind must be known, the length must be within that kind's cap *before*
//! any payload is buffered, and text is sanitised before it can reach a terminal.
//!
//! | kind | sender | payload | cap |
//! |---|---|---|---|
//! | `I` wall raised | setup (A or W) | text | [`MAX_SETUP_FRAME`] |
//! | `W` warning (wall missing / weakened) | setup | text | [`MAX_SETUP_FRAME`] |
//! | `P` worker pid (in the parent's pid namespace) | intermediate A | u32 LE | 4 |
//! | `F` setup failed | setup | text | [`MAX_SETUP_FRAME`] |
//! | `R` walls up, waiting for the go-ahead | worker W | empty | 0 |
//! | `O` the closure's `Ok` bytes | W, after `f` | bytes | [`MAX_RESULT_LEN`] |
//! | `E` the closure's `Err` text | W, after `f` | text | [`MAX_TEXT`] |
//! | `X` a panic message | W's panic hook | text | [`MAX_TEXT`] |
//!
//! Setup frames are written with one `write(2)` of at most `PIPE_BUF` bytes, so the two
//! writers of the setup phase (A and W) never interleave inside a frame.

/// Largest result the parent accepts (16 MiB).
pub const MAX_RESULT_LEN: usize = 16 << 20;
/// Largest setup frame payload: header + payload stay under `PIPE_BUF` (4096).
pub const MAX_SETUP_FRAME: usize = 4000;
/// Largest error or panic text.
pub const MAX_TEXT: usize = 64 << 10;
/// Frame header size.
pub const HEADER: usize = 5;

/// Frame kinds.
pub mod kind {
    /// A wall that was raised.
    pub const WALL: u8 = b'I';
    /// A wall that is missing or weakened.
    pub const WARNING: u8 = b'W';
    /// The worker's pid.
    pub const WORKER_PID: u8 = b'P';
    /// Setup failed.
    pub const SETUP_FAILED: u8 = b'F';
    /// Walls up.
    pub const READY: u8 = b'R';
    /// `Ok` result.
    pub const OK: u8 = b'O';
    /// `Err` result.
    pub const ERR: u8 = b'E';
    /// Panic message.
    pub const PANIC: u8 = b'X';
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `I`
    Wall(String),
    /// `W`
    Warning(String),
    /// `P`
    WorkerPid(u32),
    /// `F`
    SetupFailed(String),
    /// `R`
    Ready,
    /// `O`
    Ok(Vec<u8>),
    /// `E`
    Err(String),
    /// `X`
    Panic(String),
}

/// Encode one frame (the child side). `payload.len()` must fit in a `u32`; the caller
/// truncates text to the caps.
pub fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut v = Vec::with_capacity(HEADER + payload.len());
    v.push(kind);
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// Truncate `s` to at most `max` bytes at a char boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

/// Make untrusted text safe to print: invalid UTF-8 is replaced, control characters
/// (escape sequences, newlines, NUL, DEL, C1) are shown escaped.
pub fn sanitize(bytes: &[u8]) -> String {
    let lossy = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(lossy.len());
    for c in lossy.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn cap_for(kind: u8) -> Option<usize> {
    match kind {
        kind::WALL | kind::WARNING | kind::SETUP_FAILED => Some(MAX_SETUP_FRAME),
        kind::WORKER_PID => Some(4),
        kind::READY => Some(0),
        kind::OK => Some(MAX_RESULT_LEN),
        kind::ERR | kind::PANIC => Some(MAX_TEXT),
        _ => None,
    }
}

/// Incremental decoder over the bytes read from the pipe.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// Append bytes read from the pipe.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered but not yet decoded.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or why the stream is
    /// malformed (unknown kind, length over its cap, wrong fixed length).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        let Some(header) = self.buf.get(..HEADER) else {
            return Ok(None);
        };
        let kind = header[0];
        let len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let Some(cap) = cap_for(kind) else {
            return Err(format!("unknown message kind 0x{kind:02x}"));
        };
        if len > cap {
            return Err(if kind == kind::OK {
                format!(
                    "result of {len} bytes exceeds the {} MiB cap",
                    MAX_RESULT_LEN >> 20
                )
            } else {
                format!(
                    "message of kind '{}' is {len} bytes, over its cap of {cap}",
                    kind as char
                )
            });
        }
        if kind == kind::WORKER_PID && len != 4 {
            return Err("worker pid message of the wrong length".into());
        }
        let end = HEADER + len;
        if self.buf.len() < end {
            return Ok(None);
        }
        let payload: Vec<u8> = self
            .buf
            .get(HEADER..end)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        self.buf.drain(..end);
        let text = || sanitize(&payload);
        Ok(Some(match kind {
            kind::WALL => Frame::Wall(text()),
            kind::WARNING => Frame::Warning(text()),
            kind::SETUP_FAILED => Frame::SetupFailed(text()),
            kind::READY => Frame::Ready,
            kind::ERR => Frame::Err(text()),
            kind::PANIC => Frame::Panic(text()),
            kind::WORKER_PID => {
                let b: [u8; 4] = payload
                    .as_slice()
                    .try_into()
                    .map_err(|_| "worker pid message of the wrong length".to_string())?;
                Frame::WorkerPid(u32::from_le_bytes(b))
            }
            _ => Frame::Ok(payload),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, String> {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        // Feed one byte at a time: frames split anywhere must still decode.
        for b in bytes {
            d.push(std::slice::from_ref(b));
            while let Some(f) = d.next_frame()? {
                out.push(f);
            }
        }
        if d.pending() != 0 {
            return Err(format!("{} trailing bytes", d.pending()));
        }
        Ok(out)
    }

    #[test]
    fn round_trip() {
        let mut s = encode(kind::WALL, b"seccomp");
        s.extend(encode(kind::WORKER_PID, &42u32.to_le_bytes()));
        s.extend(encode(kind::READY, b""));
        s.extend(encode(kind::OK, b"\x00\x01\x02"));
        assert_eq!(
            decode_all(&s).unwrap(),
            vec![
                Frame::Wall("seccomp".into()),
                Frame::WorkerPid(42),
                Frame::Ready,
                Frame::Ok(vec![0, 1, 2])
            ]
        );
    }

    #[test]
    fn oversized_result_rejected_from_the_header_alone() {
        let mut d = Decoder::default();
        let mut h = vec![kind::OK];
        h.extend_from_slice(&((MAX_RESULT_LEN as u32) + 1).to_le_bytes());
        d.push(&h);
        let e = d.next_frame().unwrap_err();
        assert!(e.contains("exceeds the 16 MiB cap"), "{e}");
    }

    #[test]
    fn exactly_the_cap_is_accepted() {
        let mut d = Decoder::default();
        let mut h = vec![kind::OK];
        h.extend_from_slice(&(MAX_RESULT_LEN as u32).to_le_bytes());
        d.push(&h);
        assert_eq!(d.next_frame().unwrap(), None);
    }

    #[test]
    fn malformed_streams() {
        assert!(decode_all(b"Z\0\0\0\0").unwrap_err().contains("unknown"));
        assert!(decode_all(&encode(kind::READY, b"x")).is_err());
        assert!(decode_all(&encode(kind::WORKER_PID, b"abc")).is_err());
        assert!(decode_all(&encode(kind::WARNING, &[b'a'; MAX_SETUP_FRAME + 1])).is_err());
        assert!(decode_all(&encode(kind::ERR, &vec![b'a'; MAX_TEXT + 1])).is_err());
        let mut u32max = vec![kind::ERR];
        u32max.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_all(&u32max).is_err());
        // A truncated frame is not a frame.
        assert!(decode_all(&encode(kind::OK, b"abc")[..6]).is_err());
    }

    #[test]
    fn text_is_sanitized() {
        let f = decode_all(&encode(kind::ERR, b"bad\x1b]0;owned\x07\nline\xff"))
            .unwrap()
            .remove(0);
        let Frame::Err(t) = f else { panic!() };
        assert!(!t.chars().any(char::is_control), "{t:?}");
        assert!(t.contains("\\u{1b}"), "{t}");
        assert!(t.contains('\u{fffd}'), "{t}");
    }

    #[test]
    fn truncate_at_char_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
