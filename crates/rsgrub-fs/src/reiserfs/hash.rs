//! The three directory-name hashes ReiserFS sorts entries by (`s_hash_function_code`): r5
//! (the default), tea (a keyed TEA in Davies-Meyer mode) and rupasov ("yura").
//!
//! Names are `signed char` in the reference implementation, so bytes ≥ 0x80 enter the
//! arithmetic sign-extended; that is reproduced here, with 32-bit wrapping arithmetic. Only
//! bits 7..=30 of the result are used as the entry's hash (`GET_HASH_VALUE`); the low seven
//! bits of an entry offset are a generation counter that tells colliding names apart.

/// Which hash a filesystem uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Tea,
    Rupasov,
    R5,
}

impl Hash {
    /// From `s_hash_function_code` (0 = not recorded).
    pub(crate) fn from_code(code: u32) -> Option<Hash> {
        match code {
            1 => Some(Hash::Tea),
            2 => Some(Hash::Rupasov),
            3 => Some(Hash::R5),
            _ => None,
        }
    }

    /// The raw 32-bit hash of `name`.
    pub(crate) fn raw(self, name: &[u8]) -> u32 {
        match self {
            Hash::Tea => tea(name),
            Hash::Rupasov => rupasov(name),
            Hash::R5 => r5(name),
        }
    }

    /// The hash part of a directory entry offset for `name` (generation 0).
    pub(crate) fn entry_hash(self, name: &[u8]) -> u32 {
        let h = hash_value(self.raw(name));
        // 0 is reserved for `.` and `..` (offsets 1 and 2).
        if h == 0 {
            128
        } else {
            h
        }
    }
}

/// Bits 7..=30 of an entry offset: the name's hash without the generation counter.
pub(crate) fn hash_value(offset: u32) -> u32 {
    offset & 0x7FFF_FF80
}

/// A name byte as the reference code sees it: `signed char`, sign-extended.
fn sx(b: u8) -> u32 {
    i32::from(b as i8) as u32
}

fn r5(name: &[u8]) -> u32 {
    let mut a = 0u32;
    // The reference stops at a NUL, whatever the length.
    for &b in name.iter().take_while(|&&b| b != 0) {
        let c = i32::from(b as i8);
        a = a.wrapping_add((c << 4) as u32);
        a = a.wrapping_add((c >> 4) as u32);
        a = a.wrapping_mul(11);
    }
    a
}

/// `10^n` in wrapping 32-bit signed arithmetic, as the reference's `int pow`.
fn pow10(n: usize) -> i32 {
    let mut p = 1i32;
    for _ in 0..n {
        p = p.wrapping_mul(10);
    }
    p
}

fn rupasov(name: &[u8]) -> u32 {
    let len = name.len();
    if len == 0 {
        return 0;
    }
    let digit = |i: usize| -> u32 { sx(name.get(i).copied().unwrap_or(0)).wrapping_sub(48) };
    // Position i weighs 10^(len-1-i) (1 when i >= len-1).
    let weight = |i: usize| -> u32 { pow10((len - 1).saturating_sub(i)) as u32 };
    let mut a = digit(0).wrapping_mul(weight(0));
    for i in 1..len {
        a = a.wrapping_add(digit(i).wrapping_mul(weight(i)));
    }
    // Positions len..40 add the digit '0' (nothing); positions max(len, 40)..256 add their
    // own index, with weight 1.
    for i in len.max(40)..256 {
        a = a.wrapping_add(i as u32);
    }
    a << 7
}

const TEA_DELTA: u32 = 0x9E37_79B9;

/// One TEA block over `(h0, h1)` keyed by `k`, added back into the state (Davies-Meyer).
fn tea_core(h: &mut [u32; 2], k: [u32; 4], rounds: u32) {
    let (mut b0, mut b1) = (h[0], h[1]);
    let mut sum = 0u32;
    for _ in 0..rounds {
        sum = sum.wrapping_add(TEA_DELTA);
        b0 = b0.wrapping_add(
            (b1 << 4).wrapping_add(k[0]) ^ b1.wrapping_add(sum) ^ (b1 >> 5).wrapping_add(k[1]),
        );
        b1 = b1.wrapping_add(
            (b0 << 4).wrapping_add(k[2]) ^ b0.wrapping_add(sum) ^ (b0 >> 5).wrapping_add(k[3]),
        );
    }
    h[0] = h[0].wrapping_add(b0);
    h[1] = h[1].wrapping_add(b1);
}

/// Four bytes as a little-endian word of sign-extended `char`s (the reference ORs them).
fn word(b: &[u8]) -> u32 {
    let g = |i: usize| sx(b.get(i).copied().unwrap_or(0));
    g(0) | g(1) << 8 | g(2) << 16 | g(3) << 24
}

fn tea(name: &[u8]) -> u32 {
    let mut h = [0x9464_a485u32, 0x542e_1a94];
    // The length repeated in every byte (names are at most 255 bytes).
    let len = u32::try_from(name.len()).unwrap_or(u32::MAX);
    let mut pad = len | len << 8;
    pad |= pad << 16;
    let mut rest = name;
    while rest.len() >= 16 {
        let k = [
            word(rest.get(0..4).unwrap_or_default()),
            word(rest.get(4..8).unwrap_or_default()),
            word(rest.get(8..12).unwrap_or_default()),
            word(rest.get(12..16).unwrap_or_default()),
        ];
        tea_core(&mut h, k, 6);
        rest = rest.get(16..).unwrap_or_default();
    }
    // The last 0..=15 bytes: whole words, then the partial word shifted in over `pad`, then
    // `pad` for the remaining words.
    let mut k = [pad; 4];
    let whole = rest.len() / 4;
    for (i, slot) in k.iter_mut().enumerate().take(whole) {
        *slot = word(rest.get(i * 4..i * 4 + 4).unwrap_or_default());
    }
    if whole < 4 {
        let mut v = pad;
        for &b in rest.get(whole * 4..).unwrap_or_default() {
            v = (v << 8) | sx(b);
        }
        if let Some(slot) = k.get_mut(whole) {
            *slot = v;
        }
    }
    tea_core(&mut h, k, 10);
    h[0] ^ h[1]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reserved_zero_hash_is_moved() {
        assert_eq!(hash_value(0x1234_56FF), 0x1234_5680);
        // r5 of the empty name is 0: moved past `.` and `..`.
        assert_eq!(Hash::R5.entry_hash(b""), 128);
    }

    #[test]
    fn r5_stops_at_nul_and_sign_extends() {
        assert_eq!(r5(b"ab\0cd"), r5(b"ab"));
        // 'a' = 97: ((97 << 4) + (97 >> 4)) * 11 = (1552 + 6) * 11.
        assert_eq!(r5(b"a"), 17138);
        // 0xFF is -1: ((-16) + (-1)) * 11 = -187.
        assert_eq!(r5(&[0xFF]), (-187i32) as u32);
    }

    #[test]
    fn rupasov_small_cases() {
        // len 1: a = c - 48, plus the sum of 40..256, all shifted by 7.
        let tail: u32 = (40..256).sum();
        assert_eq!(rupasov(b"5"), (5 + tail) << 7);
        // len 2: (c0-48)*10 + (c1-48).
        assert_eq!(rupasov(b"12"), (12 + tail) << 7);
    }
}
