//! Small validated envelope values: schema version, source, trace and span ids, checksum and signature.
//!
//! Each type is checked once, when it is parsed, and is trusted afterwards. None of them uses a regular
//! expression: the rules are short enough to check byte by byte, which keeps parsing fast.

use std::fmt;
use std::str::FromStr;

use subtle::ConstantTimeEq;

use crate::error::{EventError, Result};

/// The schema versions the reference accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum SchemaVersion {
    /// `"1.0"`, accepted for backward compatibility.
    V1_0,
    /// `"2.0"`, the current version and the one new events carry.
    #[default]
    V2_0,
}

impl SchemaVersion {
    /// Every accepted version, oldest first.
    pub const ALL: [SchemaVersion; 2] = [SchemaVersion::V1_0, SchemaVersion::V2_0];

    /// Parses a `schema_version` value.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "1.0" => Ok(Self::V1_0),
            "2.0" => Ok(Self::V2_0),
            _ => Err(EventError::invalid(
                "schema_version",
                "\"1.0\" or \"2.0\"",
                s,
            )),
        }
    }

    /// The version as written on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V1_0 => "1.0",
            Self::V2_0 => "2.0",
        }
    }
}

impl fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SchemaVersion {
    type Err = EventError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

const SOURCE_EXPECTED: &str = "name@semver: a letter, then letters, digits, '.', '_' or '-', then '@', then \
                               MAJOR.MINOR.PATCH with an optional '.'- or '-'-led suffix of letters, digits and \
                               dots (e.g. \"support-bot@3.0.0\")";

/// The rule [`Source::parse`] applies, as a regular expression (for the JSON Schema).
pub const SOURCE_PATTERN: &str =
    r"^[A-Za-z][A-Za-z0-9._-]*@[0-9]+\.[0-9]+\.[0-9]+([.-][A-Za-z0-9.]+)?$";

/// The rule [`TraceId::parse`] applies, as a regular expression.
pub const TRACE_ID_PATTERN: &str = "^[0-9a-f]{32}$";

/// The rule [`SpanId::parse`] applies, as a regular expression.
pub const SPAN_ID_PATTERN: &str = "^[0-9a-f]{16}$";

/// The rule [`Checksum::parse`] applies, as a regular expression.
pub const CHECKSUM_PATTERN: &str = "^sha256:[0-9a-f]{64}$";

/// The rule [`Signature::parse`] applies, as a regular expression.
pub const SIGNATURE_PATTERN: &str = "^hmac-sha256:[0-9a-f]{64}$";

/// The emitting tool, `name@semver` (for example `support-bot@3.0.0` or `my-agent@2.1.0-beta.1`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source(String);

impl Source {
    /// Parses and checks a `source` value.
    ///
    /// ```
    /// # use spanforge_event::Source;
    /// assert!(Source::parse("my-agent@2.1.0-beta.1").is_ok());
    /// assert!(Source::parse("langsmith-import").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self> {
        if is_valid_source(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(EventError::invalid("source", SOURCE_EXPECTED, s))
        }
    }

    /// Like [`Source::parse`], keeping the given string.
    pub(crate) fn parse_owned(s: String) -> Result<Self> {
        if is_valid_source(&s) {
            Ok(Self(s))
        } else {
            Err(EventError::invalid("source", SOURCE_EXPECTED, &s))
        }
    }

    /// The source as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`.
    pub fn name(&self) -> &str {
        self.0.split_once('@').map_or(self.0.as_str(), |(n, _)| n)
    }

    /// The part after `@`.
    pub fn version(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, v)| v)
    }
}

/// The reference's rule `^[a-zA-Z][a-zA-Z0-9._\-]*@\d+\.\d+\.\d+(?:[.\-][a-zA-Z0-9.]+)?$`, with ASCII digits
/// only and no trailing newline (Python's `\d` and `$` would also allow those).
fn is_valid_source(s: &str) -> bool {
    // The name: a letter, then letters, digits, '.', '_' or '-' up to the first '@' (one pass, no search).
    let bytes = s.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_alphabetic) {
        return false;
    }
    let mut at = None;
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        if b == b'@' {
            at = Some(i);
            break;
        }
        if !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return false;
        }
    }
    let Some(v) = at.and_then(|i| bytes.get(i + 1..)) else {
        return false;
    };
    let mut pos = 0;
    for part in 0..3 {
        let start = pos;
        while pos < v.len() && v[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start {
            return false;
        }
        if part < 2 {
            if v.get(pos) != Some(&b'.') {
                return false;
            }
            pos += 1;
        }
    }
    match v.get(pos) {
        None => true,
        Some(b'.' | b'-') => {
            let suffix = &v[pos + 1..];
            !suffix.is_empty()
                && suffix
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'.')
        }
        Some(_) => false,
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Source({})", self.0)
    }
}

impl FromStr for Source {
    type Err = EventError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl AsRef<str> for Source {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Whether every byte is a lowercase hexadecimal digit.
pub(crate) fn is_lower_hex(s: &[u8]) -> bool {
    s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The value of each lowercase hex digit, and [`NOT_HEX`] for every other byte.
const HEX_VALUE: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};
/// A byte that is not a lowercase hex digit, in [`HEX_VALUE`].
const NOT_HEX: u8 = 0xff;

/// Decodes exactly 64 lowercase hex digits into 32 bytes, checking and decoding in one pass.
pub(crate) fn decode_hex32(s: &[u8]) -> Option<[u8; 32]> {
    let digits: &[u8; 64] = s.try_into().ok()?;
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (slot, pair) in out.iter_mut().zip(digits.as_chunks::<2>().0) {
        let (hi, lo) = (
            HEX_VALUE[usize::from(pair[0])],
            HEX_VALUE[usize::from(pair[1])],
        );
        // Every valid digit is below 16, so any invalid one leaves a high bit set in `bad`.
        bad |= hi | lo;
        *slot = (hi << 4) | (lo & 0x0f);
    }
    (bad & 0xf0 == 0).then_some(out)
}

/// The two lowercase hex digits of every byte value, so that encoding takes one look-up per byte.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
        i += 1;
    }
    table
};

/// The 64 lowercase hex digits of a 32-byte digest.
fn encode_hex32(bytes: &[u8; 32]) -> [u8; 64] {
    let mut digits = [0u8; 64];
    for (pair, &b) in digits.as_chunks_mut::<2>().0.iter_mut().zip(bytes) {
        *pair = HEX_PAIRS[usize::from(b)];
    }
    digits
}

/// Defines a fixed-length lowercase-hex identifier stored inline.
macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident, $len:literal, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; $len]);

        impl $name {
            #[doc = concat!("Parses and checks a `", $field, "` value: exactly ", stringify!($len),
                            " lowercase hexadecimal characters.")]
            pub fn parse(s: &str) -> Result<Self> {
                Self::parse_field(s, $field)
            }

            /// Parses a value, naming `field` in the error.
            pub(crate) fn parse_field(s: &str, field: &str) -> Result<Self> {
                let bytes = s.as_bytes();
                if bytes.len() != $len || !is_lower_hex(bytes) {
                    return Err(EventError::invalid(
                        field,
                        concat!("exactly ", stringify!($len), " lowercase hexadecimal characters"),
                        s,
                    ));
                }
                let mut out = [0u8; $len];
                out.copy_from_slice(bytes);
                Ok(Self(out))
            }

            /// The identifier as written.
            pub fn as_str(&self) -> &str {
                std::str::from_utf8(&self.0).expect("invariant: only ASCII hex digits are stored")
            }

            /// The identifier's ASCII bytes, for writers that need no `str`.
            pub(crate) fn as_bytes(&self) -> &[u8] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = EventError;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    };
}

hex_id!(
    /// A W3C / OpenTelemetry trace id: 32 lowercase hexadecimal characters.
    TraceId, 32, "trace_id"
);
hex_id!(
    /// A W3C / OpenTelemetry span id: 16 lowercase hexadecimal characters (also used for `parent_span_id`).
    SpanId, 16, "span_id"
);

/// Defines a 32-byte digest written as a fixed prefix followed by 64 lowercase hex digits.
macro_rules! prefixed_digest {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub struct $name([u8; 32]);

        impl $name {
            #[doc = concat!("Parses and checks a `", $field, "` value.")]
            pub fn parse(s: &str) -> Result<Self> {
                s.strip_prefix($prefix)
                    .and_then(|hex| decode_hex32(hex.as_bytes()))
                    .map(Self)
                    .ok_or_else(|| {
                        EventError::invalid(
                            $field,
                            concat!("\"", $prefix, "\" followed by 64 lowercase hexadecimal digits"),
                            s,
                        )
                    })
            }

            #[doc = concat!("Appends the wire form (`", $prefix, "…`) to `out`.")]
            pub fn write_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice($prefix.as_bytes());
                out.extend_from_slice(&encode_hex32(&self.0));
            }

            /// The 64 lowercase hex digits of the wire form, without the prefix.
            #[must_use]
            pub fn hex_digits(&self) -> [u8; 64] {
                encode_hex32(&self.0)
            }

            #[doc = concat!(
                "Whether `wire` is exactly this value's wire form (`", $prefix,
                "` and its 64 lowercase hex digits), compared in constant time. A check that needs only ",
                "this answer saves parsing `wire`: one look-up per byte instead of two per byte."
            )]
            #[must_use]
            pub fn matches_wire(&self, wire: &[u8]) -> bool {
                let Some((prefix, hex)) = wire.split_at_checked($prefix.len()) else {
                    return false;
                };
                let Ok(hex) = <&[u8; 64]>::try_from(hex) else {
                    return false;
                };
                prefix == $prefix.as_bytes() && hex_equal(&self.hex_digits(), hex)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buf = Vec::with_capacity($prefix.len() + 64);
                self.write_to(&mut buf);
                f.write_str(&String::from_utf8_lossy(&buf))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = EventError;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }
    };
}

prefixed_digest!(
    /// A payload checksum, `sha256:` followed by 64 lowercase hex digits: SHA-256 over the canonical payload JSON.
    Checksum, "sha256:", "checksum"
);

impl Checksum {
    /// The checksum of `canonical` (the canonical JSON bytes of a payload).
    pub fn of_canonical(canonical: &[u8]) -> Self {
        Self(crate::sha256::sha256(canonical))
    }

    /// Wraps a SHA-256 digest.
    pub const fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The SHA-256 digest.
    pub const fn digest(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for Checksum {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Checksum {}

prefixed_digest!(
    /// A chain signature, `hmac-sha256:` followed by 64 lowercase hex digits.
    ///
    /// Equality is constant-time, because a signature is compared with a recomputed MAC.
    Signature, "hmac-sha256:", "signature"
);

impl Signature {
    /// Wraps a 32-byte HMAC-SHA256 tag.
    pub const fn from_mac(mac: [u8; 32]) -> Self {
        Self(mac)
    }

    /// The 32-byte tag.
    pub const fn mac(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for Signature {
    fn eq(&self, other: &Self) -> bool {
        digests_equal(&self.0, &other.0)
    }
}

impl Eq for Signature {}

/// Compares two 32-byte digests (MACs, hashes) in constant time: how long it takes does not depend on the bytes,
/// nor on where the two differ.
///
/// It folds the differences word by word and tests the result once (with [`subtle`]), where comparing byte
/// slices with `subtle` puts an optimisation barrier on every byte; MACs are compared for every verified event.
///
/// ```
/// # use spanforge_event::ids::digests_equal;
/// let a = [7u8; 32];
/// let mut b = a;
/// assert!(digests_equal(&a, &b));
/// b[31] ^= 1;
/// assert!(!digests_equal(&a, &b));
/// ```
#[must_use]
pub fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    words_differ(a, b).ct_eq(&0).into()
}

/// [`digests_equal`] for two 64-digit hex forms.
fn hex_equal(a: &[u8; 64], b: &[u8; 64]) -> bool {
    words_differ(a, b).ct_eq(&0).into()
}

/// The OR of the XORs of the two slices' 8-byte words (their lengths are multiples of 8): zero
/// exactly when they are equal, computed without an early exit.
fn words_differ(a: &[u8], b: &[u8]) -> u64 {
    let (a_words, _) = a.as_chunks::<8>();
    let (b_words, _) = b.as_chunks::<8>();
    a_words.iter().zip(b_words).fold(0u64, |acc, (x, y)| {
        acc | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_equal_finds_a_difference_in_any_bit() {
        let a: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
        assert!(digests_equal(&a, &a));
        for byte in 0..32 {
            for bit in 0..8 {
                let mut b = a;
                b[byte] ^= 1 << bit;
                assert!(!digests_equal(&a, &b), "byte {byte} bit {bit}");
                assert!(!digests_equal(&b, &a), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn encode_hex32_writes_lowercase_pairs_for_every_byte_value() {
        // Every byte value, in every position of a digest.
        for shift in 0..32u8 {
            let bytes: [u8; 32] =
                std::array::from_fn(|i| (i as u8).wrapping_mul(151) ^ 0x3c ^ shift.wrapping_mul(8));
            assert_eq!(
                encode_hex32(&bytes).as_slice(),
                hex::encode(bytes).as_bytes()
            );
        }
        // Appended after what `out` already holds.
        let mut out = b"id=".to_vec();
        Checksum::from_digest([0xa5; 32]).write_to(&mut out);
        assert_eq!(out, [b"id=sha256:".as_slice(), &b"a5".repeat(32)].concat());
    }

    #[test]
    fn wire_forms_match_exactly_and_only_exactly() {
        let digest: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(53) ^ 0x3c);
        let checksum = Checksum::from_digest(digest);
        let signature = Signature::from_mac(digest);
        for (wire, matches) in [
            (
                checksum.to_string(),
                Box::new(|w: &[u8]| checksum.matches_wire(w)) as Box<dyn Fn(&[u8]) -> bool>,
            ),
            (
                signature.to_string(),
                Box::new(|w: &[u8]| signature.matches_wire(w)),
            ),
        ] {
            assert!(matches(wire.as_bytes()), "{wire}");
            let prefix = wire.len() - 64;
            assert_eq!(&wire.as_bytes()[prefix..], checksum.hex_digits().as_slice());
            // Any one byte changed, upper-case digits, a missing or extra digit, another prefix.
            for pos in 0..wire.len() {
                let mut bad = wire.clone().into_bytes();
                bad[pos] = if bad[pos] == b'0' { b'1' } else { b'0' };
                assert!(!matches(&bad), "changed at {pos}");
            }
            assert!(!matches(wire.to_uppercase().as_bytes()));
            assert!(!matches(&wire.as_bytes()[..wire.len() - 1]));
            assert!(!matches(format!("{wire}0").as_bytes()));
            assert!(!matches(format!("x{}", &wire[1..]).as_bytes()));
            assert!(!matches(b""));
        }
        assert!(!checksum.matches_wire(signature.to_string().as_bytes()));
    }

    #[test]
    fn hex32_decodes_lowercase_digits_only() {
        let bytes: Vec<u8> = (0..32_u8).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        let hex = encode_hex32(&bytes.clone().try_into().unwrap()).to_vec();
        assert_eq!(decode_hex32(&hex).map(|d| d.to_vec()), Some(bytes));
        assert_eq!(decode_hex32(&[b'f'; 64]), Some([0xff; 32]));
        assert_eq!(decode_hex32(&[b'0'; 64]), Some([0; 32]));
        // One wrong digit anywhere, or a wrong length, is refused.
        for pos in 0..64 {
            for wrong in [b'A', b'F', b'g', b'/', b':', b'`', b' ', 0, 0xff] {
                let mut bad = hex.clone();
                bad[pos] = wrong;
                assert_eq!(decode_hex32(&bad), None, "byte {wrong:#x} at {pos}");
            }
        }
        assert_eq!(decode_hex32(&hex[..63]), None);
        assert_eq!(decode_hex32(&[hex.as_slice(), b"0"].concat()), None);
    }

    #[test]
    fn sources() {
        for ok in [
            "support-bot@3.0.0",
            "A_b.c-d@10.20.30.40",
            "a@1.0.0-beta.1",
            "a@01.0.0",
            "x@1.2.3.a.b",
            "MyAgent@1.0.0",
        ] {
            let s = Source::parse(ok).unwrap();
            assert_eq!(s.as_str(), ok);
        }
        let s = Source::parse("support-bot@3.0.0").unwrap();
        assert_eq!((s.name(), s.version()), ("support-bot", "3.0.0"));
        for bad in [
            "",
            "langsmith-import",
            "a@1.0",
            "a@1.0.0-",
            "a@1.0.0-beta-1",
            "a@1.0.0\n",
            "a@\u{0661}.0.0",
            "1a@1.0.0",
            "a b@1.0.0",
            "a@b@1.0.0",
            "@1.0.0",
            "a@1.0.0+build",
            "a@1..0.0",
        ] {
            assert_eq!(Source::parse(bad).unwrap_err().field(), "source", "{bad:?}");
        }
    }

    #[test]
    fn hex_ids() {
        assert!(TraceId::parse("4bf92f3577b34da6a3ce929d0e0e4736").is_ok());
        assert!(TraceId::parse("4BF92F3577B34DA6A3CE929D0E0E4736").is_err());
        assert!(TraceId::parse("4bf92f3577b34da6a3ce929d0e0e473").is_err());
        assert!(SpanId::parse("00f067aa0ba902b7").is_ok());
        assert!(SpanId::parse("00f067aa0ba902bg").is_err());
        assert_eq!(
            SpanId::parse_field("x", "parent_span_id")
                .unwrap_err()
                .field(),
            "parent_span_id"
        );
    }

    #[test]
    fn checksum_and_signature_wire_forms() {
        let text = "sha256:6afafecb8f4c3b878d6852607b63f363f82d7f88d75c9b2ab62dc42bb93f10dc";
        let c = Checksum::parse(text).unwrap();
        assert_eq!(c.to_string(), text);
        assert!(Checksum::parse(&text.to_uppercase()).is_err());
        assert!(Checksum::parse("md5:abc").is_err());
        assert_eq!(
            Checksum::of_canonical(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sig = "hmac-sha256:8670bc140de2609103490ed7cb4917d20722e3a6dcf7790a9939229a1e5a72a9";
        let s = Signature::parse(sig).unwrap();
        assert_eq!(s.to_string(), sig);
        assert_eq!(s, Signature::from_mac(*s.mac()));
        assert_ne!(s, Signature::from_mac([0; 32]));
        assert_eq!(
            Signature::parse("hmac-sha256:00").unwrap_err().field(),
            "signature"
        );
    }

    #[test]
    fn schema_versions() {
        assert_eq!(SchemaVersion::parse("2.0").unwrap(), SchemaVersion::V2_0);
        assert_eq!(SchemaVersion::parse("1.0").unwrap().as_str(), "1.0");
        assert_eq!(
            SchemaVersion::parse("2.1").unwrap_err().field(),
            "schema_version"
        );
    }
}
