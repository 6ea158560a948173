//! What the sandboxed child tells the parent. The parent decodes it as hostile input: every
//! length is checked, and nothing in it is a path — the parent writes its own paths.

/// The child's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Kernel (and ramdisk) written into the output fds.
    Boot {
        /// Bytes written to the kernel fd.
        kernel_size: u64,
        /// Bytes written to the ramdisk fd, if the entry has one.
        ramdisk_size: Option<u64>,
        /// Kernel command line.
        args: String,
    },
    /// Text for standard output (`-l`, `--isconfig`).
    Text(String),
}

/// Largest reply accepted.
pub const MAX_REPLY: usize = 4 << 20;

fn put(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

impl Reply {
    /// Serialise.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Reply::Boot {
                kernel_size,
                ramdisk_size,
                args,
            } => {
                out.push(b'B');
                out.extend_from_slice(&kernel_size.to_le_bytes());
                match ramdisk_size {
                    Some(n) => {
                        out.push(1);
                        out.extend_from_slice(&n.to_le_bytes());
                    }
                    None => {
                        out.push(0);
                        out.extend_from_slice(&0u64.to_le_bytes());
                    }
                }
                put(&mut out, args.as_bytes());
            }
            Reply::Text(t) => {
                out.push(b'T');
                put(&mut out, t.as_bytes());
            }
        }
        out
    }

    /// Parse; `Err` for anything malformed.
    pub fn decode(b: &[u8]) -> Result<Reply, String> {
        let bad = || "malformed reply from the parser process".to_string();
        if b.len() > MAX_REPLY {
            return Err(bad());
        }
        let u64_at = |o: usize| -> Result<u64, String> {
            let s = b.get(o..o + 8).ok_or_else(bad)?;
            Ok(u64::from_le_bytes(s.try_into().map_err(|_| bad())?))
        };
        let str_at = |o: usize| -> Result<(String, usize), String> {
            let l = b.get(o..o + 4).ok_or_else(bad)?;
            let n = u32::from_le_bytes(l.try_into().map_err(|_| bad())?) as usize;
            let end = (o + 4).checked_add(n).ok_or_else(bad)?;
            let s = b.get(o + 4..end).ok_or_else(bad)?;
            Ok((String::from_utf8(s.to_vec()).map_err(|_| bad())?, end))
        };
        match b.first() {
            Some(b'B') => {
                let kernel_size = u64_at(1)?;
                let has = *b.get(9).ok_or_else(bad)?;
                let rd = u64_at(10)?;
                let (args, end) = str_at(18)?;
                if end != b.len() || has > 1 {
                    return Err(bad());
                }
                Ok(Reply::Boot {
                    kernel_size,
                    ramdisk_size: (has == 1).then_some(rd),
                    args,
                })
            }
            Some(b'T') => {
                let (t, end) = str_at(1)?;
                if end != b.len() {
                    return Err(bad());
                }
                Ok(Reply::Text(t))
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_rejects_garbage() {
        let r = Reply::Boot {
            kernel_size: 5,
            ramdisk_size: Some(7),
            args: "ro quiet".into(),
        };
        assert_eq!(Reply::decode(&r.encode()).unwrap(), r);
        let t = Reply::Text("x".into());
        assert_eq!(Reply::decode(&t.encode()).unwrap(), t);
        let mut e = r.encode();
        e.push(0);
        assert!(Reply::decode(&e).is_err());
        assert!(Reply::decode(&e[..10]).is_err());
        assert!(Reply::decode(b"").is_err());
        assert!(Reply::decode(b"T\xff\xff\xff\xff").is_err());
    }
}
