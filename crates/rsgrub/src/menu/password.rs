//! Password checks as the boot loaders make them: GRUB legacy `password [--md5] PASSWD
//! [FILE]` (plain text or md5-crypt `$1$salt$hash`) and GRUB 2 `password USER PASSWD` /
//! `password_pbkdf2 USER grub.pbkdf2.sha512.ITER.SALT.HASH`.
//!
//! The hashes come from the guest's config (hostile): the iteration count and lengths are
//! bounded, and a malformed hash never matches.

use hmac::Hmac;
use md5::{Digest, Md5};
use sha2::Sha512;

/// Most PBKDF2 iterations accepted (GRUB's default is 10,000; this is about a second).
pub const MAX_PBKDF2_ITERATIONS: u32 = 2_000_000;
/// Longest PBKDF2 salt or hash accepted, in bytes.
const MAX_PBKDF2_BYTES: usize = 1024;
/// GRUB compares at most this many bytes of a password (`GRUB_AUTH_MAX_PASSLEN`).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A GRUB 2 user's password, as `password` / `password_pbkdf2` give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `password USER PASSWD`: plain text.
    Plain(String),
    /// `password_pbkdf2 USER grub.pbkdf2.sha512.ITER.SALT.HASH`.
    Pbkdf2(String),
}

impl Credential {
    /// Whether `entered` is this password.
    pub fn verify(&self, entered: &str) -> bool {
        match self {
            Credential::Plain(p) => eq_ct(truncate(p), truncate(entered)),
            Credential::Pbkdf2(h) => pbkdf2_verify(h, entered).unwrap_or(false),
        }
    }
}

fn truncate(s: &str) -> &[u8] {
    let b = s.as_bytes();
    b.get(..b.len().min(MAX_PASSWORD_LEN - 1)).unwrap_or(b)
}

/// Constant-time equality (lengths are not secret).
fn eq_ct(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() & 1 == 1 || s.len() / 2 > MAX_PBKDF2_BYTES {
        return None;
    }
    let b = s.as_bytes();
    (0..b.len() / 2)
        .map(|i| {
            let hi = char::from(*b.get(2 * i)?).to_digit(16)?;
            let lo = char::from(*b.get(2 * i + 1)?).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

/// Check a `grub.pbkdf2.sha512.ITER.SALT.HASH` string (GRUB's `check_password` in
/// `commands/password_pbkdf2.c`). `None` when the hash is malformed or out of bounds.
pub fn pbkdf2_verify(hash: &str, entered: &str) -> Option<bool> {
    let rest = hash.strip_prefix("grub.pbkdf2.sha512.")?;
    let mut parts = rest.split('.');
    let iter: u32 = parts.next()?.parse().ok()?;
    let salt = unhex(parts.next()?)?;
    let want = unhex(parts.next()?)?;
    if parts.next().is_some()
        || iter == 0
        || iter > MAX_PBKDF2_ITERATIONS
        || want.is_empty()
        || salt.is_empty()
    {
        return None;
    }
    let mut got = vec![0u8; want.len()];
    pbkdf2::pbkdf2::<Hmac<Sha512>>(truncate(entered), &salt, iter, &mut got).ok()?;
    Some(eq_ct(&got, &want))
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn to64(out: &mut String, mut v: u32, n: usize) {
    for _ in 0..n {
        out.push(char::from(
            *ITOA64.get((v & 0x3f) as usize).unwrap_or(&b'.'),
        ));
        v >>= 6;
    }
}

/// md5-crypt (`$1$`, Poul-Henning Kamp's algorithm, as GRUB legacy's `md5crypt` and glibc's
/// `crypt` make it) of `pw` with the salt of `setting` (`$1$salt[$...]`, at most 8 salt
/// characters). `None` if `setting` is not an md5-crypt string.
pub fn md5_crypt(pw: &[u8], setting: &str) -> Option<String> {
    let rest = setting.strip_prefix("$1$")?;
    let salt_full = rest.split('$').next().unwrap_or("");
    let salt: String = salt_full.chars().take(8).collect();
    let salt = salt.as_bytes();
    let magic = b"$1$";

    let mut alt = Md5::new();
    alt.update(pw);
    alt.update(salt);
    alt.update(pw);
    let alt = alt.finalize();

    let mut ctx = Md5::new();
    ctx.update(pw);
    ctx.update(magic);
    ctx.update(salt);
    let mut left = pw.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(alt.get(..n)?);
        left -= n;
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(pw.get(..1)?);
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();

    for round in 0..1000u32 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(pw);
        } else {
            c.update(fin);
        }
        if round % 3 != 0 {
            c.update(salt);
        }
        if round % 7 != 0 {
            c.update(pw);
        }
        if round & 1 == 1 {
            c.update(fin);
        } else {
            c.update(pw);
        }
        fin = c.finalize();
    }

    let f = |i: usize| u32::from(fin.get(i).copied().unwrap_or(0));
    let mut out = String::with_capacity(34);
    out.push_str("$1$");
    out.push_str(std::str::from_utf8(salt).ok()?);
    out.push('$');
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        to64(&mut out, (f(a) << 16) | (f(b) << 8) | f(c), 4);
    }
    to64(&mut out, f(11), 2);
    Some(out)
}

/// A GRUB legacy `password` line, as [`rsgrub_bootcfg::Menu::password`] records it (the
/// words after the command name; a leading `password` word is tolerated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyPassword {
    /// `--md5`: `secret` is an md5-crypt string.
    pub md5: bool,
    /// The password or its hash.
    pub secret: String,
    /// The config file GRUB would load after a correct password (not followed: as PyGrub,
    /// a correct password unlocks the menu).
    pub config_file: Option<String>,
}

impl LegacyPassword {
    /// Parse the line; `None` if it names no password.
    pub fn parse(line: &str) -> Option<LegacyPassword> {
        let mut words = line.split_whitespace().peekable();
        if words.peek() == Some(&"password") {
            words.next();
        }
        let mut md5 = false;
        if words.peek() == Some(&"--md5") {
            md5 = true;
            words.next();
        }
        let secret = words.next()?.to_string();
        Some(LegacyPassword {
            md5,
            secret,
            config_file: words.next().map(str::to_string),
        })
    }

    /// GRUB legacy's `check_password`.
    pub fn verify(&self, entered: &str) -> bool {
        if self.md5 {
            md5_crypt(entered.as_bytes(), &self.secret)
                .is_some_and(|h| eq_ct(h.as_bytes(), self.secret.as_bytes()))
        } else {
            eq_ct(self.secret.as_bytes(), entered.as_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn md5_crypt_matches_openssl() {
        // `openssl passwd -1 -salt S PW`.
        assert_eq!(
            md5_crypt(b"password", "$1$saltsalt$").unwrap(),
            "$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/"
        );
        assert_eq!(
            md5_crypt(b"", "$1$ab").unwrap(),
            "$1$ab$rn6aQS/o7141mj179E/zA."
        );
        assert_eq!(
            md5_crypt(
                b"a much longer password than sixteen chars",
                "$1$12345678$whatever"
            )
            .unwrap(),
            "$1$12345678$JtQKB.Wyp50mANoAKhaZk1"
        );
        // Salt longer than 8 characters is cut, as crypt does.
        assert!(md5_crypt(b"x", "$1$0123456789$")
            .unwrap()
            .starts_with("$1$01234567$"));
        assert_eq!(md5_crypt(b"x", "$5$abc$"), None);
    }

    #[test]
    fn legacy_lines() {
        let p = LegacyPassword::parse("--md5 $1$saltsalt$qjXMvbEw8oaL.CzflDtaK/").unwrap();
        assert!(p.md5);
        assert!(p.verify("password"));
        assert!(!p.verify("Password"));
        assert!(!p.verify(""));
        let p = LegacyPassword::parse("password secret /boot/grub/admin.lst").unwrap();
        assert!(!p.md5);
        assert_eq!(p.config_file.as_deref(), Some("/boot/grub/admin.lst"));
        assert!(p.verify("secret"));
        assert!(!p.verify("secret "));
        assert_eq!(LegacyPassword::parse("  "), None);
        // A malformed md5 hash never matches.
        let p = LegacyPassword::parse("--md5 notahash").unwrap();
        assert!(!p.verify("notahash"));
    }

    #[test]
    fn pbkdf2_from_grub_mkpasswd() {
        // `grub-mkpasswd-pbkdf2 -c 1000 -l 64 -s 16` with the password `hunter2`.
        let h = "grub.pbkdf2.sha512.1000.6891734F31EDF134002165F9FAF0220A.\
                 3AEF62E1AC4F6F1E23B240EE59BF1EF49D36BF085CBDC1D295BB661FC5D69196\
                 C693BED93B5F7C7EBF068880AEB8CB87A434B8C991D6983F8F19FE487F51AA3C";
        assert_eq!(pbkdf2_verify(h, "hunter2"), Some(true));
        assert_eq!(pbkdf2_verify(h, "hunter3"), Some(false));
        let c = Credential::Pbkdf2(h.into());
        assert!(c.verify("hunter2"));
        assert!(!c.verify(""));
        // Malformed or out of bounds: never a match, never a hang.
        for bad in [
            "grub.pbkdf2.sha512.1000.XYZ.00",
            "grub.pbkdf2.sha512.0.00.00",
            "grub.pbkdf2.sha512.4294967295.00.00",
            "grub.pbkdf2.sha512.1000.00",
            "grub.pbkdf2.sha512.1000.00.00.00",
            "grub.pbkdf2.sha256.1000.00.00",
            "grub.pbkdf2.sha512.1000..00",
            "grub.pbkdf2.sha512.1000.0.00",
        ] {
            assert_eq!(pbkdf2_verify(bad, "x"), None, "{bad}");
            assert!(!Credential::Pbkdf2(bad.into()).verify("x"));
        }
        assert!(Credential::Plain("pw".into()).verify("pw"));
        assert!(!Credential::Plain("pw".into()).verify("pw2"));
    }
}
