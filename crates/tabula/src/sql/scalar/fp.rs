//! SQLite's own conversions between floats and decimal text (3.54, `util.c` and `printf.c`),
//! ported step for step so that tabula prints and rounds floats to the same digits: SQLite
//! does not print the shortest text that reads back, but 17 significant digits cut shorter
//! only where a shorter text reads back to the same float.

const POWERS_FIRST: i32 = -348;
const POWERS_LAST: i32 = 347;

fn bit(n: i32) -> u64 {
    u32::try_from(n)
        .ok()
        .and_then(|n| 1u64.checked_shl(n))
        .unwrap_or(0)
}

fn shr(x: u64, n: i32) -> u64 {
    u32::try_from(n)
        .ok()
        .and_then(|n| x.checked_shr(n))
        .unwrap_or(0)
}

fn shl(x: u64, n: i32) -> u64 {
    u32::try_from(n)
        .ok()
        .and_then(|n| x.checked_shl(n))
        .unwrap_or(0)
}

/// The high and low 64 bits of `a * b`.
fn mul128(a: u64, b: u64) -> (u64, u64) {
    let r = u128::from(a) * u128::from(b);
    ((r >> 64) as u64, r as u64)
}

/// The upper 64 bits of the 96-bit `(a << 32) + a_lo` times `b`, and the 32 bits after.
fn mul160(a: u64, a_lo: u32, b: u64) -> (u64, u32) {
    let mut r = u128::from(a) * u128::from(b);
    r += (u128::from(a_lo) * u128::from(b)) >> 32;
    ((r >> 64) as u64, ((r >> 32) & 0xffff_ffff) as u32)
}

const BASE: [u64; 27] = [
    0x8000000000000000,
    0xa000000000000000,
    0xc800000000000000,
    0xfa00000000000000,
    0x9c40000000000000,
    0xc350000000000000,
    0xf424000000000000,
    0x9896800000000000,
    0xbebc200000000000,
    0xee6b280000000000,
    0x9502f90000000000,
    0xba43b74000000000,
    0xe8d4a51000000000,
    0x9184e72a00000000,
    0xb5e620f480000000,
    0xe35fa931a0000000,
    0x8e1bc9bf04000000,
    0xb1a2bc2ec5000000,
    0xde0b6b3a76400000,
    0x8ac7230489e80000,
    0xad78ebc5ac620000,
    0xd8d726b7177a8000,
    0x878678326eac9000,
    0xa968163f0a57b400,
    0xd3c21bcecceda100,
    0x84595161401484a0,
    0xa56fa5b99019a5c8,
];

const SCALE: [u64; 26] = [
    0x8049a4ac0c5811ae,
    0xcf42894a5dce35ea,
    0xa76c582338ed2621,
    0x873e4f75e2224e68,
    0xda7f5bf590966848,
    0xb080392cc4349dec,
    0x8e938662882af53e,
    0xe65829b3046b0afa,
    0xba121a4650e4ddeb,
    0x964e858c91ba2655,
    0xf2d56790ab41c2a2,
    0xc428d05aa4751e4c,
    0x9e74d1b791e07e48,
    0xcccccccccccccccc,
    0xcecb8f27f4200f3a,
    0xa70c3c40a64e6c51,
    0x86f0ac99b4e8dafd,
    0xda01ee641a708de9,
    0xb01ae745b101e9e4,
    0x8e41ade9fbebc27d,
    0xe5d3ef282a242e81,
    0xb9a74a0637ce2ee1,
    0x95f83d0a1fb69cd9,
    0xf24a01a73cf2dccf,
    0xc3b8358109e84f07,
    0x9e19db92b4e31ba9,
];

const SCALE_LO: [u32; 26] = [
    0x205b896d, 0x52064cad, 0xaf2af2b8, 0x5a7744a7, 0xaf39a475, 0xbd8d794e, 0x547eb47b, 0x0cb4a5a3,
    0x92f34d62, 0x3a6a07f9, 0xfae27299, 0xaa97e14c, 0x775ea265, 0xcccccccc, 0x00000000, 0x999090b6,
    0x69a028bb, 0xe80e6f48, 0x5ec05dd0, 0x14588f14, 0x8f1668c9, 0x6d953e2c, 0x4abdaf10, 0xbc633b39,
    0x0a862f81, 0x6c07a2c2,
];

/// The most significant 64 bits of 10^p, and the next 32 (`powerOfTen`).
fn power_of_ten(p: i32) -> (u64, u32) {
    let (g, n) = if p < 0 {
        if p == -1 {
            return (SCALE[13], SCALE_LO[13]);
        }
        let (mut g, mut n) = (p / 27, p % 27);
        if n != 0 {
            g -= 1;
            n += 27;
        }
        (g, n)
    } else if p < 27 {
        return (BASE[p as usize], 0);
    } else {
        (p / 27, p % 27)
    };
    let at = (g + 13).clamp(0, 25) as usize;
    let s = SCALE[at];
    if n == 0 {
        return (s, SCALE_LO[at]);
    }
    let (mut x, mut lo) = mul160(s, SCALE_LO[at], BASE[n as usize]);
    if x & bit(63) == 0 {
        x = (x << 1) | u64::from((lo >> 31) & 1);
        lo = (lo << 1) | 1;
    }
    (x, lo)
}

fn pwr10to2(p: i32) -> i32 {
    (p * 108853) >> 15
}

fn pwr2to10(p: i32) -> i32 {
    (p * 78913) >> 18
}

/// `m * 2^e` as about `d * 10^p` with at least `n` significant digits in `d`
/// (`sqlite3Fp2Convert10`); `m` has its top bit set.
fn fp2_convert10(m: u64, e: i32, n: i32) -> (u64, i32) {
    let p = n - 1 - pwr2to10(e + 63);
    let (mut h, _) = mul128(m, power_of_ten(p).0);
    let d = if n == 18 {
        h = shr(h, -(e + pwr10to2(p) + 2));
        (h.wrapping_add((h << 1) & 2)) >> 1
    } else {
        shr(h, -(e + pwr10to2(p) + 1))
    };
    (d, -p)
}

/// The float nearest `d * 10^p` (`sqlite3Fp10Convert2`); `d` is not zero.
pub(super) fn fp10_convert2(d: u64, p: i32) -> f64 {
    if p < POWERS_FIRST {
        return 0.0;
    }
    if p > POWERS_LAST {
        return f64::INFINITY;
    }
    let b = 64 - d.leading_zeros() as i32;
    let lp = pwr10to2(p);
    let mut e = 53 - b - lp;
    if e > 1074 {
        if e >= 1130 {
            return 0.0;
        }
        e = 1074;
    }
    let s = -(e - (64 - b) + lp + 3);
    let (mut pwr10h, mut pwr10l) = power_of_ten(p);
    if pwr10l != 0 {
        pwr10h = pwr10h.wrapping_add(1);
        pwr10l = !pwr10l;
    }
    let x = shl(d, 64 - b);
    let (mut hi, lo) = mul128(x, pwr10h);
    let mid1 = (lo >> 32) as u32;
    let mut sticky = 1;
    if hi & bit(s).wrapping_sub(1) == 0 {
        let mid2 = (mul128(x, u64::from(pwr10l) << 32).0 >> 32) as u32;
        sticky = u64::from(mid1.wrapping_sub(mid2) > 1);
        hi = hi.wrapping_sub(u64::from(mid1 < mid2));
    }
    let mut u = shr(hi, s) | sticky;
    if u >= bit(55) - 2 {
        u = (u >> 1) | (u & 1);
        e -= 1;
    }
    let mut m = (u + 1 + ((u >> 2) & 1)) >> 2;
    if e <= -972 {
        return f64::INFINITY;
    }
    if m & bit(52) != 0 {
        m = (m & !bit(52)) | (((1075 - e) as u64) << 52);
    }
    f64::from_bits(m)
}

/// A float's decimal digits (`FpDecode`).
struct Decoded {
    negative: bool,
    /// 1 for an infinity, 2 for NaN.
    special: u8,
    digits: Vec<u8>,
    /// Where the decimal point goes: the value is `0.digits * 10^point`.
    point: i32,
}

/// `sqlite3FpDecode`: `round > 0` keeps that many significant digits, `round <= 0`
/// that many digits after the point; never more than `max_round`.
fn decode(r: f64, mut round: i32, max_round: i32) -> Decoded {
    let mut out = Decoded {
        negative: false,
        special: 0,
        digits: Vec::new(),
        point: 0,
    };
    let mut r = r;
    if r < 0.0 {
        out.negative = true;
        r = -r;
    } else if r == 0.0 {
        out.digits = vec![b'0'];
        out.point = 1;
        return out;
    }
    let bits = r.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i32;
    if e == 0x7ff {
        out.special = 1 + u8::from(bits != 0x7ff0_0000_0000_0000);
        return out;
    }
    let mut v = bits & 0x000f_ffff_ffff_ffff;
    if e == 0 {
        let nn = v.leading_zeros() as i32;
        v = shl(v, nn);
        e = -1074 - nn;
    } else {
        v = (v << 11) | bit(63);
        e -= 1086;
    }
    let want = if round <= 0 || round >= 18 {
        18
    } else {
        round + 1
    };
    let (v, exp) = fp2_convert10(v, e, want);
    // The digits, with room for one more in front (a carry or a rounding zero).
    let mut z: Vec<u8> = vec![b'0'];
    z.extend(v.max(1).to_string().bytes());
    let mut start = 1usize;
    let mut n = (z.len() - 1) as i32;
    let mut point = n + exp;
    if round <= 0 {
        round = point - round;
        if round == 0 && z[start] >= b'5' {
            round = 1;
            start -= 1;
            n += 1;
            point += 1;
        }
    }
    let at = |z: &[u8], start: usize, i: i32| -> u8 {
        z.get(start + i.max(0) as usize).copied().unwrap_or(b'0')
    };
    if round > 0 && (round < n || n > max_round) {
        if round > max_round {
            round = max_round;
        }
        if round == 17 {
            // Fewer digits where they read back as the same float.
            if at(&z, start, 15) == b'9' && at(&z, start, 14) == b'9' {
                let mut jj = 14;
                while jj > 0 && at(&z, start, jj - 1) == b'9' {
                    jj -= 1;
                }
                let v2 = if jj == 0 {
                    1
                } else {
                    let mut v2 = 0u64;
                    for k in 0..jj {
                        v2 = v2 * 10 + u64::from(at(&z, start, k) - b'0');
                    }
                    v2 + 1
                };
                if r == fp10_convert2(v2, exp + n - jj) {
                    round = jj + 1;
                }
            } else if point >= n
                || (at(&z, start, 15) == b'0'
                    && at(&z, start, 14) == b'0'
                    && at(&z, start, 13) == b'0')
            {
                let mut jj = 13;
                while jj > 1 && at(&z, start, jj - 1) == b'0' {
                    jj -= 1;
                }
                let mut v2 = 0u64;
                for k in 0..jj {
                    v2 = v2 * 10 + u64::from(at(&z, start, k) - b'0');
                }
                if v2 != 0 && r == fp10_convert2(v2, exp + n - jj) {
                    round = jj + 1;
                }
            }
        }
        n = round;
        if at(&z, start, round) >= b'5' {
            let mut j = round - 1;
            loop {
                let i = start + j as usize;
                z[i] += 1;
                if z[i] <= b'9' {
                    break;
                }
                z[i] = b'0';
                if j == 0 {
                    // `start` is 1 here: a rounding zero is only put in front when
                    // `round` is 1, and then its digit is a '0' that cannot carry.
                    start = start.saturating_sub(1);
                    z[start] = b'1';
                    n += 1;
                    point += 1;
                    break;
                }
                j -= 1;
            }
        }
    }
    let mut n = n.max(1) as usize;
    let avail = z.len() - start;
    n = n.min(avail);
    while n > 1 && z[start + n - 1] == b'0' {
        n -= 1;
    }
    out.digits = z[start..start + n].to_vec();
    out.point = point;
    out
}

/// SQLite's `printf` of a float with the `!` flag: `%!.<precision>g` when `generic`,
/// `%!.<precision>f` otherwise.
pub(super) fn format(r: f64, generic: bool, precision: i32) -> String {
    let mut precision = precision;
    let round = if generic {
        if precision == 0 {
            precision = 1;
        }
        precision
    } else {
        -precision
    };
    let s = decode(r, round, 20);
    match s.special {
        2 => return "NaN".to_owned(),
        1 => return if s.negative { "-Inf" } else { "Inf" }.to_owned(),
        _ => {}
    }
    let digits = &s.digits;
    let n = digits.len() as i32;
    let mut exp_form = false;
    if generic {
        precision -= 1;
        let exp = s.point - 1;
        if exp < -4 || exp > precision {
            exp_form = true;
        } else {
            precision -= exp;
        }
    }
    let mut e2 = if exp_form { 0 } else { s.point - 1 };
    let mut out = String::new();
    if s.negative {
        out.push('-');
    }
    let mut j = 0i32;
    if e2 < 0 {
        out.push('0');
    } else {
        j = (e2 + 1).min(n);
        out.extend(digits[..j as usize].iter().map(|&d| char::from(d)));
        e2 -= j;
        if e2 >= 0 {
            out.extend(std::iter::repeat_n('0', (e2 + 1) as usize));
            e2 = -1;
        }
    }
    out.push('.');
    if e2 < -1 && precision > 0 {
        let nn = (-1 - e2).min(precision);
        out.extend(std::iter::repeat_n('0', nn as usize));
        precision -= nn;
    }
    if precision > 0 {
        let nn = (n - j).min(precision);
        if nn > 0 {
            out.extend(
                digits[j as usize..(j + nn) as usize]
                    .iter()
                    .map(|&d| char::from(d)),
            );
        }
    }
    // Trailing zeros go, but one digit stays after the point.
    while out.ends_with('0') {
        out.pop();
    }
    if out.ends_with('.') {
        out.push('0');
    }
    if exp_form {
        let mut exp = s.point - 1;
        out.push('e');
        if exp < 0 {
            out.push('-');
            exp = -exp;
        } else {
            out.push('+');
        }
        if exp >= 100 {
            out.push(char::from(b'0' + (exp / 100) as u8));
            exp %= 100;
        }
        out.push(char::from(b'0' + (exp / 10) as u8));
        out.push(char::from(b'0' + (exp % 10) as u8));
    }
    out
}

/// `sqlite3AtoF` on text `format` wrote: a sign, digits, a point, digits (at most 19
/// significant digits are kept; the rest are dropped, as SQLite drops them).
pub(super) fn parse(t: &str) -> f64 {
    let b = t.as_bytes();
    let mut i = 0;
    let negative = b.first() == Some(&b'-');
    if negative || b.first() == Some(&b'+') {
        i = 1;
    }
    let limit = (u64::MAX - 9) / 10;
    let mut s: u64 = 0;
    let mut d: i32 = 0;
    let mut full = false;
    while i < b.len() && b[i].is_ascii_digit() {
        if full {
            d += 1;
        } else {
            s = s * 10 + u64::from(b[i] - b'0');
            if s >= limit {
                full = true;
            }
        }
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            if s < limit {
                s = s * 10 + u64::from(b[i] - b'0');
                d -= 1;
            }
            i += 1;
        }
    }
    let r = if s == 0 { 0.0 } else { fp10_convert2(s, d) };
    if negative {
        -r
    } else {
        r
    }
}
