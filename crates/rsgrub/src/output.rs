//! The result the toolstack reads, byte for byte as PyGrub writes it.
//!
//! sxp quotes with Python's `repr()` rules (the XSA-198 fix); simple and simple0 refuse any
//! value that contains their separator.
use crate::cli::OutputFormat;

/// What to boot, as paths in dom0 (or `None` with `-n`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootResult {
    /// Kernel file in the output directory; `None` with `--not-really`.
    pub kernel: Option<String>,
    /// Ramdisk file, if any.
    pub ramdisk: Option<String>,
    /// Command line; omitted when empty.
    pub args: String,
}

/// Python 3 `repr()` of a `str`.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Render a result; `Err` if the format cannot represent it.
pub fn format(fmt: OutputFormat, r: &BootResult) -> Result<Vec<u8>, String> {
    let kernel = r.kernel.as_deref().unwrap_or("None");
    match fmt {
        OutputFormat::Sxp => {
            let mut s = format!(
                "linux (kernel {})",
                r.kernel.as_deref().map_or("None".to_string(), py_repr)
            );
            if let Some(rd) = &r.ramdisk {
                s.push_str(&format!("(ramdisk {})", py_repr(rd)));
            }
            if !r.args.is_empty() {
                s.push_str(&format!("(args {})", py_repr(&r.args)));
            }
            Ok(s.into_bytes())
        }
        OutputFormat::Simple | OutputFormat::Simple0 => {
            let sep = if fmt == OutputFormat::Simple {
                '\n'
            } else {
                '\0'
            };
            let values = [Some(kernel), r.ramdisk.as_deref(), Some(r.args.as_str())];
            if values.iter().flatten().any(|v| v.contains(sep)) {
                return Err("simple format cannot represent delimiter-containing value".into());
            }
            let mut s = format!("kernel {kernel}{sep}");
            if let Some(rd) = &r.ramdisk {
                s.push_str(&format!("ramdisk {rd}{sep}"));
            }
            if !r.args.is_empty() {
                s.push_str(&format!("args {}{sep}", r.args));
            }
            s.push(sep);
            Ok(s.into_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(args: &str) -> BootResult {
        BootResult {
            kernel: Some("/var/run/xen/pygrub/boot_kernel.abc".into()),
            ramdisk: Some("/var/run/xen/pygrub/boot_ramdisk.def".into()),
            args: args.into(),
        }
    }

    #[test]
    fn repr_matches_python() {
        // Expected strings are what CPython 3.11 prints for repr() of each input.
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("x\\y\n\t\u{1}\u{7f}"), "'x\\\\y\\n\\t\\x01\\x7f'");
        assert_eq!(
            py_repr("(kernel '/etc/passwd')"),
            "\"(kernel '/etc/passwd')\""
        );
        assert_eq!(py_repr("é"), "'é'");
    }

    #[test]
    fn formats() {
        let sxp = format(OutputFormat::Sxp, &r("ro quiet")).unwrap();
        assert_eq!(
            String::from_utf8(sxp).unwrap(),
            "linux (kernel '/var/run/xen/pygrub/boot_kernel.abc')(ramdisk '/var/run/xen/pygrub/boot_ramdisk.def')(args 'ro quiet')"
        );
        let s0 = format(OutputFormat::Simple0, &r("ro")).unwrap();
        assert_eq!(
            s0,
            b"kernel /var/run/xen/pygrub/boot_kernel.abc\0ramdisk /var/run/xen/pygrub/boot_ramdisk.def\0args ro\0\0"
        );
        let mut no_rd = r("");
        no_rd.ramdisk = None;
        assert_eq!(
            format(OutputFormat::Simple, &no_rd).unwrap(),
            b"kernel /var/run/xen/pygrub/boot_kernel.abc\n\n"
        );
        assert!(format(OutputFormat::Simple, &r("a\nkernel /etc/shadow")).is_err());
        assert!(format(OutputFormat::Simple0, &r("a\0b")).is_err());
        assert!(format(OutputFormat::Simple0, &r("a\nb")).is_ok());
        no_rd.kernel = None;
        assert_eq!(
            format(OutputFormat::Sxp, &no_rd).unwrap(),
            b"linux (kernel None)"
        );
    }
}
