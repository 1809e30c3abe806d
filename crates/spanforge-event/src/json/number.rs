//! JSON numbers as Python's `json` module models them: exact integers of any size, and IEEE-754
//! doubles.

use std::fmt;
use std::hash::{Hash, Hasher};

/// A JSON number, keeping Python's distinction between `int` and `float`.
///
/// Integers are exact at any size (Python `int`): values that fit in `i64` or `u64` are stored
/// inline, larger ones as a normalised decimal string. Floats are `f64` and may be `NaN` or
/// infinite, because Python's `json` reads and writes the bare literals `NaN`, `Infinity` and
/// `-Infinity`.
///
/// Equality means "same canonical text": two floats are equal when their bits are equal, so
/// `0.0` and `-0.0` differ (they are written differently) and every `NaN` equals every other
/// `NaN` (all are written `NaN`). An integer never equals a float, even where Python's
/// `1 == 1.0` holds, because the two are written differently and so checksum differently.
#[derive(Clone)]
pub struct Number(N);

#[derive(Clone)]
enum N {
    /// A non-negative integer that fits in `u64`.
    Pos(u64),
    /// A negative integer that fits in `i64` (always `< 0`).
    Neg(i64),
    /// An integer outside `i64::MIN..=u64::MAX`, as an optional `-` followed by digits without
    /// leading zeros.
    Big(Box<str>),
    /// A double, written the way Python's `float.__repr__` writes it.
    Float(f64),
}

impl Number {
    /// Wraps a double. Every `f64` is accepted, `NaN` and the infinities included, as Python's
    /// `json` accepts them.
    #[must_use]
    pub fn from_f64(value: f64) -> Self {
        Number(N::Float(value))
    }

    /// Builds an integer from decimal text, normalising it as Python's `int()` does: an optional
    /// `+` or `-` sign, then one or more ASCII digits, leading zeros allowed (`"-007"` becomes
    /// `-7`, `"-0"` becomes `0`).
    ///
    /// Returns `None` when the text is not of that form (no underscores or surrounding whitespace
    /// are accepted).
    #[must_use]
    pub fn integer_from_decimal(text: &str) -> Option<Self> {
        let (negative, digits) = match text.as_bytes().first() {
            Some(b'-') => (true, text.get(1..)?),
            Some(b'+') => (false, text.get(1..)?),
            _ => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let significant = digits.trim_start_matches('0');
        Some(Self::from_digits(negative, significant))
    }

    /// Builds an integer from a sign and ASCII digits without leading zeros (empty means zero).
    pub(crate) fn from_digits(negative: bool, digits: &str) -> Self {
        let mut magnitude: u64 = 0;
        let mut fits = true;
        for b in digits.bytes() {
            match magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(u64::from(b - b'0')))
            {
                Some(m) => magnitude = m,
                None => {
                    fits = false;
                    break;
                }
            }
        }
        if fits {
            if !negative || magnitude == 0 {
                return Number(N::Pos(magnitude));
            }
            if let Ok(value) = i64::try_from(-i128::from(magnitude)) {
                return Number(N::Neg(value));
            }
        }
        let mut text = String::with_capacity(digits.len() + 1);
        if negative {
            text.push('-');
        }
        text.push_str(digits);
        Number(N::Big(text.into_boxed_str()))
    }

    /// Returns `true` for an integer (Python `int`), `false` for a float.
    #[must_use]
    pub fn is_integer(&self) -> bool {
        !matches!(self.0, N::Float(_))
    }

    /// Returns `true` for a float (Python `float`), `false` for an integer.
    #[must_use]
    pub fn is_float(&self) -> bool {
        matches!(self.0, N::Float(_))
    }

    /// Returns the value as `i64` when it is an integer in range, `None` for floats and
    /// out-of-range integers.
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            N::Pos(u) => i64::try_from(u).ok(),
            N::Neg(i) => Some(i),
            N::Big(_) | N::Float(_) => None,
        }
    }

    /// Returns the value as `u64` when it is a non-negative integer in range, `None` otherwise.
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            N::Pos(u) => Some(u),
            N::Neg(_) | N::Big(_) | N::Float(_) => None,
        }
    }

    /// Returns the value as `i128` when it is an integer in range, `None` for floats and larger
    /// integers.
    #[must_use]
    pub fn as_i128(&self) -> Option<i128> {
        match &self.0 {
            N::Pos(u) => Some(i128::from(*u)),
            N::Neg(i) => Some(i128::from(*i)),
            N::Big(text) => text.parse().ok(),
            N::Float(_) => None,
        }
    }

    /// Returns the value as `f64`.
    ///
    /// Integers are rounded to the nearest double (as Python's `float(int)` does); an integer
    /// beyond the `f64` range becomes an infinity here, where Python would raise `OverflowError`.
    #[must_use]
    pub fn as_f64(&self) -> f64 {
        match &self.0 {
            // `as` rounds to nearest, ties to even, which is what Python's int-to-float conversion
            // does.
            N::Pos(u) => *u as f64,
            N::Neg(i) => *i as f64,
            // Decimal-to-double parsing in std is correctly rounded; the text is digits with an
            // optional sign.
            N::Big(text) => text.parse().unwrap_or(f64::NAN),
            N::Float(f) => *f,
        }
    }

    /// Appends the canonical (Python `json.dumps`) text of this number.
    pub(crate) fn write_to<S: super::write::Sink>(&self, out: &mut S) {
        match &self.0 {
            N::Pos(u) => write_u64(*u, false, out),
            N::Neg(i) => write_u64(i.unsigned_abs(), true, out),
            N::Big(text) => out.bytes(text.as_bytes()),
            N::Float(f) => write_f64(*f, out),
        }
    }

    /// Returns the length in bytes of the canonical text of this number (it is always ASCII).
    pub(crate) fn canonical_len(&self) -> usize {
        let mut counter = super::write::Counter::default();
        self.write_to(&mut counter);
        counter.len
    }
}

fn write_u64<S: super::write::Sink>(mut value: u64, negative: bool, out: &mut S) {
    let mut buf = [0u8; 21];
    let mut start = buf.len();
    loop {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'0' + (value % 10) as u8;
        }
        value /= 10;
        if value == 0 {
            break;
        }
    }
    if negative {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'-';
        }
    }
    // u64::MAX has 20 digits, so 21 bytes always hold the sign and the digits; the bytes are ASCII.
    out.bytes(buf.get(start..).unwrap_or_default());
}

/// Writes a double exactly as Python's `json.dumps` does (`float.__repr__`, plus bare
/// `NaN`/`Infinity`).
///
/// The shortest round-trip digits come from Ryū; the layout is Python's: positional notation when
/// the decimal exponent `e` (as in `d.ddd × 10^e`) satisfies `-4 <= e < 16`, with `.0` appended to
/// integral values; otherwise `d[.ddd]e±XX` with a signed exponent of at least two digits.
pub(crate) fn write_f64<S: super::write::Sink>(value: f64, out: &mut S) {
    if value.is_nan() {
        out.bytes(b"NaN");
        return;
    }
    if value.is_infinite() {
        out.bytes(if value > 0.0 {
            b"Infinity".as_slice()
        } else {
            b"-Infinity"
        });
        return;
    }
    if value == 0.0 {
        out.bytes(if value.is_sign_negative() {
            b"-0.0".as_slice()
        } else {
            b"0.0"
        });
        return;
    }
    let mut ryu_buf = ryu::Buffer::new();
    let shortest = ryu_buf.format_finite(value).as_bytes();
    // Ryū lays out positional notation exactly as Python does (including the `.0` of integral
    // values) for decimal exponents from -5 to 15, and Python does so from -4 to 15. So its text
    // can be used as it is unless it has an exponent or is of the form 0.0000ddd (exponent -5).
    let magnitude = shortest.strip_prefix(b"-").unwrap_or(shortest);
    if !shortest.contains(&b'e') && !magnitude.starts_with(b"0.0000") {
        out.bytes(shortest);
        return;
    }

    // Take Ryū's text apart into significant digits and the position of the decimal point (`decpt`,
    // such that the value is 0.d1d2d3... × 10^decpt). Ryū writes at most 24 bytes, so 32 digit
    // slots cannot overflow.
    let mut digits = [0u8; 32];
    let mut count = 0usize;
    let mut int_len: i32 = 0;
    let mut seen_point = false;
    let mut exponent: i32 = 0;
    let mut exponent_negative = false;
    let mut in_exponent = false;
    let negative = shortest.first() == Some(&b'-');
    for &b in shortest {
        match b {
            b'-' if in_exponent => exponent_negative = true,
            b'-' => {}
            b'.' => seen_point = true,
            b'e' | b'E' => in_exponent = true,
            b'0'..=b'9' if in_exponent => exponent = exponent * 10 + i32::from(b - b'0'),
            b'0'..=b'9' => {
                if let Some(slot) = digits.get_mut(count) {
                    *slot = b;
                    count += 1;
                }
                if !seen_point {
                    int_len += 1;
                }
            }
            _ => {}
        }
    }
    if exponent_negative {
        exponent = -exponent;
    }
    let mut decpt = int_len + exponent;
    let mut first = 0usize;
    while first < count && digits.get(first) == Some(&b'0') {
        first += 1;
        decpt -= 1;
    }
    while count > first && digits.get(count - 1) == Some(&b'0') {
        count -= 1;
    }
    let significant = digits.get(first..count).unwrap_or(&[]);

    let n = i32::try_from(significant.len()).unwrap_or(i32::MAX);

    if negative {
        out.byte(b'-');
    }
    if !(-4 < decpt && decpt <= 16) {
        // Exponent notation: d[.ddd]e±XX.
        let (lead, rest) = significant.split_at(significant.len().min(1));
        out.bytes(lead);
        if !rest.is_empty() {
            out.byte(b'.');
            out.bytes(rest);
        }
        let e = decpt - 1;
        out.bytes(if e < 0 { b"e-" } else { b"e+" });
        let magnitude = e.unsigned_abs();
        if magnitude < 10 {
            out.byte(b'0');
        }
        write_u64(u64::from(magnitude), false, out);
    } else if decpt <= 0 {
        out.bytes(b"0.");
        for _ in decpt..0 {
            out.byte(b'0');
        }
        out.bytes(significant);
    } else if decpt >= n {
        out.bytes(significant);
        for _ in n..decpt {
            out.byte(b'0');
        }
        out.bytes(b".0");
    } else {
        let split = usize::try_from(decpt).unwrap_or(0);
        let (whole, fraction) = significant.split_at(split.min(significant.len()));
        out.bytes(whole);
        out.byte(b'.');
        out.bytes(fraction);
    }
}

/// Whether `text`, a JSON float literal that parses to `value`, is exactly what [`write_f64`] writes for `value`.
pub(crate) fn float_text_is_canonical(text: &str, value: f64) -> bool {
    if is_short_positional(text) {
        return true;
    }
    let mut rendered = ArrayBuf::default();
    write_f64(value, &mut rendered);
    rendered.as_bytes() == Some(text.as_bytes())
}

/// Whether `text` is a float literal that is canonical on its face, without rendering its value: positional
/// notation `-?I.F` with at most 15 significant digits, a decimal exponent from -4 to 15, and no trailing zero in
/// the fraction except the `.0` of an integral value. Most floats in event payloads look like this (`0.7`,
/// `1250.0`, `0.0003`).
///
/// Why that is enough: every decimal with at most 15 significant digits survives the round trip through a double
/// (15 is `f64::DIGITS`), so no two such decimals read as the same double. The shortest digits that read back as
/// the double (what Python's `repr` and Ryū write) therefore are the literal's own digits, and in that exponent
/// range Python lays them out positionally exactly as the conditions above describe. A `false` answer only means
/// "not obviously canonical": the caller then renders the value and compares.
fn is_short_positional(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let Some(dot) = unsigned.iter().position(|&b| b == b'.') else {
        return false;
    };
    let (int, frac) = unsigned.split_at(dot);
    let frac = frac.get(1..).unwrap_or_default();
    if int.is_empty()
        || frac.is_empty()
        || !int.iter().all(u8::is_ascii_digit)
        || !frac.iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    if int == b"0" {
        let zeros = frac.iter().take_while(|&&b| b == b'0').count();
        if zeros == frac.len() {
            // Zero is written `0.0` (or `-0.0`).
            return frac == b"0";
        }
        // 0.000ddd has the exponent -4; one more zero and Python switches to `1e-05`.
        let significant = frac.len() - zeros;
        zeros <= 3 && significant <= 15 && frac.last() != Some(&b'0')
    } else if int.first() == Some(&b'0') || int.len() > 16 {
        // A leading zero is not JSON; 17 integer digits mean the exponent 16, written `1e+16`.
        false
    } else if frac == b"0" {
        let trailing_zeros = int.iter().rev().take_while(|&&b| b == b'0').count();
        int.len() - trailing_zeros <= 15
    } else {
        int.len() + frac.len() <= 15 && frac.last() != Some(&b'0')
    }
}

/// A fixed buffer long enough for any float [`write_f64`] writes (at most 24 bytes, as in
/// `-1.7976931348623157e+308`); it remembers an overflow rather than dropping bytes silently.
#[derive(Default)]
struct ArrayBuf {
    buf: [u8; 32],
    len: usize,
    overflow: bool,
}

impl ArrayBuf {
    /// The bytes written, or `None` after an overflow.
    fn as_bytes(&self) -> Option<&[u8]> {
        if self.overflow {
            None
        } else {
            self.buf.get(..self.len)
        }
    }
}

impl super::write::Sink for ArrayBuf {
    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        match self.buf.get_mut(self.len..self.len + b.len()) {
            Some(slot) => {
                slot.copy_from_slice(b);
                self.len += b.len();
            }
            None => self.overflow = true,
        }
    }

    #[inline]
    fn byte(&mut self, b: u8) {
        self.bytes(&[b]);
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (N::Pos(a), N::Pos(b)) => a == b,
            (N::Neg(a), N::Neg(b)) => a == b,
            (N::Big(a), N::Big(b)) => a == b,
            (N::Float(a), N::Float(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            _ => false,
        }
    }
}

impl Eq for Number {}

impl Hash for Number {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.0 {
            N::Pos(u) => (0u8, *u).hash(state),
            N::Neg(i) => (1u8, *i).hash(state),
            N::Big(text) => (2u8, text).hash(state),
            N::Float(f) if f.is_nan() => 3u8.hash(state),
            N::Float(f) => (4u8, f.to_bits()).hash(state),
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_integer() { "Int" } else { "Float" };
        write!(f, "Number::{kind}({self})")
    }
}

impl fmt::Display for Number {
    /// Writes the canonical text, e.g. `1`, `1.0`, `1e+16`, `NaN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = Vec::with_capacity(32);
        self.write_to(&mut text);
        // Number text is ASCII.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

macro_rules! from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(value: $t) -> Self {
                Number(N::Pos(u64::from(value)))
            }
        }
    )*};
}
from_unsigned!(u8, u16, u32, u64);

macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(value: $t) -> Self {
                let value = i64::from(value);
                match u64::try_from(value) {
                    Ok(u) => Number(N::Pos(u)),
                    Err(_) => Number(N::Neg(value)),
                }
            }
        }
    )*};
}
from_signed!(i8, i16, i32, i64);

impl From<usize> for Number {
    fn from(value: usize) -> Self {
        Number::from(value as u64)
    }
}

impl From<isize> for Number {
    fn from(value: isize) -> Self {
        Number::from(value as i64)
    }
}

impl From<i128> for Number {
    fn from(value: i128) -> Self {
        if let Ok(i) = i64::try_from(value) {
            Number::from(i)
        } else if let Ok(u) = u64::try_from(value) {
            Number(N::Pos(u))
        } else {
            Number(N::Big(value.to_string().into_boxed_str()))
        }
    }
}

impl From<u128> for Number {
    fn from(value: u128) -> Self {
        match u64::try_from(value) {
            Ok(u) => Number(N::Pos(u)),
            Err(_) => Number(N::Big(value.to_string().into_boxed_str())),
        }
    }
}

impl From<f64> for Number {
    fn from(value: f64) -> Self {
        Number::from_f64(value)
    }
}

impl From<f32> for Number {
    /// Widens to `f64` first, as Python has only one float type (`0.1f32` becomes
    /// `0.10000000149011612`).
    fn from(value: f32) -> Self {
        Number::from_f64(f64::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(f: f64) -> String {
        Number::from_f64(f).to_string()
    }

    #[test]
    fn python_float_layout() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1.0"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e16, "1.5e+16"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (0.000123, "0.000123"),
            (1e-7, "1e-07"),
            (123456789012345.6, "123456789012345.6"),
            (1234567890123456.7, "1234567890123456.8"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (2.5e-300, "2.5e-300"),
            (1e100, "1e+100"),
            (1e22, "1e+22"),
            (0.30000000000000004, "0.30000000000000004"),
            (100000.0, "100000.0"),
            (9007199254740993.0, "9007199254740992.0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (value, expected) in cases {
            assert_eq!(repr(*value), *expected, "formatting {value:e}");
        }
    }

    fn rendered(value: f64) -> String {
        let mut out = Vec::new();
        write_f64(value, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn short_positional_floats_are_recognised_without_rendering() {
        for canonical in [
            "0.0",
            "-0.0",
            "0.7",
            "1250.0",
            "0.0001",
            "0.000123",
            "-1.5",
            "100000.0",
            "1000000000000000.0",
            "1234567890123450.0",
            "123456789012345.0",
            "0.123456789012345",
            "12345678.1234567",
        ] {
            assert!(is_short_positional(canonical), "{canonical}");
            assert_eq!(rendered(canonical.parse().unwrap()), canonical);
        }
        for other in [
            "0.00",
            "0.70",
            "1.50",
            "1250.00",
            "0.00001",
            "10000000000000000.0",
            "1.0e5",
            "1e5",
            "0.1234567890123456",
            "1234567890123456.0",
            "12345678.12345678",
            "-",
            "1.",
            ".5",
            "01.5",
            "1.5.1",
        ] {
            assert!(!is_short_positional(other), "{other}");
        }
    }

    proptest::proptest! {
        /// The shortcut never vouches for a literal that rendering would write differently.
        #[test]
        fn short_positional_implies_canonical(
            text in "-?(0|[1-9][0-9]{0,17})\\.[0-9]{1,19}",
        ) {
            let value: f64 = text.parse().unwrap();
            if is_short_positional(&text) {
                proptest::prop_assert_eq!(rendered(value), text.clone());
            }
            proptest::prop_assert_eq!(
                float_text_is_canonical(&text, value),
                rendered(value) == text
            );
        }
    }

    #[test]
    fn integers_normalise_like_python_int() {
        let n = |s: &str| Number::integer_from_decimal(s).map(|n| n.to_string());
        assert_eq!(n("-0").as_deref(), Some("0"));
        assert_eq!(n("+007").as_deref(), Some("7"));
        assert_eq!(n("-000").as_deref(), Some("0"));
        assert_eq!(
            n("18446744073709551615").as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(
            n("18446744073709551616").as_deref(),
            Some("18446744073709551616")
        );
        assert_eq!(
            n("-9223372036854775808").as_deref(),
            Some("-9223372036854775808")
        );
        assert_eq!(
            n("-9223372036854775809").as_deref(),
            Some("-9223372036854775809")
        );
        assert_eq!(
            n("-000123456789012345678901234567890").as_deref(),
            Some("-123456789012345678901234567890")
        );
        assert_eq!(n(""), None);
        assert_eq!(n("-"), None);
        assert_eq!(n("1_000"), None);
        assert_eq!(n(" 1"), None);
    }

    #[test]
    fn accessors() {
        let big = Number::integer_from_decimal("18446744073709551616").expect("valid integer text");
        assert!(big.is_integer());
        assert_eq!(big.as_u64(), None);
        assert_eq!(big.as_i128(), Some(18_446_744_073_709_551_616));
        assert_eq!(big.as_f64(), 18_446_744_073_709_551_616.0);
        assert_eq!(Number::from(u64::MAX).as_i64(), None);
        assert_eq!(Number::from(-5i32).as_i64(), Some(-5));
        assert_eq!(Number::from(-5i32).as_u64(), None);
        assert_eq!(Number::from(1.0).as_i64(), None);
        assert!(Number::from(1.0).is_float());
        assert_eq!(Number::from(i128::MIN).to_string(), i128::MIN.to_string());
        assert_eq!(Number::from(u128::MAX).to_string(), u128::MAX.to_string());
        assert_eq!(Number::from(i128::from(i64::MIN)), Number::from(i64::MIN));
        assert_eq!(Number::from(u128::from(u64::MAX)), Number::from(u64::MAX));
    }

    #[test]
    fn equality_is_canonical_text_equality() {
        assert_eq!(Number::from_f64(f64::NAN), Number::from_f64(-f64::NAN));
        assert_ne!(Number::from_f64(0.0), Number::from_f64(-0.0));
        assert_ne!(Number::from(1), Number::from_f64(1.0));
        assert_eq!(
            Number::from(0u8),
            Number::integer_from_decimal("-0").expect("valid integer text")
        );
    }
}
