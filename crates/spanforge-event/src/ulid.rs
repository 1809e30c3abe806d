//! Event identifiers: ULIDs (48-bit millisecond time + 80 random bits, 26 Crockford base-32 characters).
//!
//! Two rules shape this module. First, an identifier read from an event is kept exactly as written, case
//! included: the reference accepts lowercase ULIDs, and the id is part of the signed message
//! (`event_id|checksum|prev_id`), so rewriting it would break the signature. Second, the generator is
//! deterministic given its [`Clock`] and [`Entropy`], and monotonic: within one millisecond (or when the clock
//! steps back) it increments the random part instead of drawing a new one.

use std::fmt;
use std::str::FromStr;

use crate::clock::{Clock, Entropy};
use crate::error::{EventError, Result};
use crate::timestamp::Timestamp;

/// Crockford's base-32 alphabet, as the reference writes new identifiers (uppercase).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Length of a ULID in characters.
pub const ULID_LEN: usize = 26;

/// The largest millisecond time a ULID can carry (48 bits, about the year 10889).
pub const MAX_ULID_MILLIS: u64 = (1 << 48) - 1;

const RANDOM_MAX: u128 = (1 << 80) - 1;

/// The rule [`EventId::parse`] applies, as a regular expression (for the JSON Schema). Both cases are accepted.
pub const ULID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$";

const EXPECTED: &str = "a 26-character ULID (Crockford base 32: digits and letters except I, L, O, U; \
                        first character 0-7)";

/// Character value table: the value of each ULID character in either case, `INVALID` for everything else
/// (including I, L, O and U, which the reference rejects although Crockford's decoder maps them).
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        let c = ALPHABET[i];
        table[c as usize] = i as u8;
        table[c.to_ascii_lowercase() as usize] = i as u8;
        i += 1;
    }
    table
};

const INVALID: u8 = 0xff;

/// The value of one ULID character, either case; `None` for anything outside the alphabet.
fn decode_char(c: u8) -> Option<u8> {
    match DECODE[usize::from(c)] {
        INVALID => None,
        v => Some(v),
    }
}

/// An event identifier: a syntactically valid ULID, stored exactly as it was written.
///
/// Equality, ordering and hashing compare the characters as written, as the reference does when it links
/// `prev_id` to the previous `event_id`. Ordering is time order only when both ids use the same case.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId([u8; ULID_LEN]);

impl EventId {
    /// Parses and checks an identifier for the `event_id` field.
    ///
    /// ```
    /// # use spanforge_event::EventId;
    /// let id = EventId::parse("01kdz5t8q3m9v6w2x4y7z0a1b3").unwrap();
    /// assert_eq!(id.as_str(), "01kdz5t8q3m9v6w2x4y7z0a1b3"); // never rewritten
    /// assert!(EventId::parse("81KDZ5T8Q3M9V6W2X4Y7Z0A1B3").is_err()); // beyond 48 bits of time
    /// ```
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_field(s, "event_id")
    }

    /// Parses an identifier, naming `field` in the error.
    pub(crate) fn parse_field(s: &str, field: &str) -> Result<Self> {
        let bytes = s.as_bytes();
        let ok = bytes.len() == ULID_LEN
            && bytes.iter().all(|&c| decode_char(c).is_some())
            && decode_char(bytes[0]).is_some_and(|v| v <= 7);
        if !ok {
            return Err(EventError::invalid(field, EXPECTED, s));
        }
        let mut out = [0u8; ULID_LEN];
        out.copy_from_slice(bytes);
        Ok(Self(out))
    }

    /// Builds the uppercase identifier for a millisecond time and an 80-bit random part.
    ///
    /// Returns an error when `millis` does not fit in 48 bits; bits of `random` above 80 are ignored.
    pub fn from_parts(millis: u64, random: u128) -> Result<Self> {
        if millis > MAX_ULID_MILLIS {
            return Err(EventError::Generate {
                what: "event_id",
                reason: format!("time {millis} ms does not fit in a ULID's 48 bits"),
            });
        }
        let mut value = (u128::from(millis) << 80) | (random & RANDOM_MAX);
        let mut out = [0u8; ULID_LEN];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(value & 31) as usize];
            value >>= 5;
        }
        Ok(Self(out))
    }

    /// The identifier exactly as written.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0)
            .expect("invariant: an EventId holds only ASCII alphabet characters")
    }

    /// The identifier's ASCII bytes, for writers that need no `str` (no UTF-8 check on the way).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The 128-bit value the identifier encodes (case does not matter).
    pub fn to_u128(&self) -> u128 {
        self.0.iter().fold(0u128, |acc, &c| {
            (acc << 5) | u128::from(decode_char(c).unwrap_or(0))
        })
    }

    /// The millisecond Unix time in the identifier's first 48 bits. The reference never compares it with the
    /// event's `timestamp`, so it is only a hint.
    pub fn timestamp_millis(&self) -> u64 {
        u64::try_from(self.to_u128() >> 80).unwrap_or(u64::MAX)
    }

    /// Whether the identifier is written in uppercase, the form the reference generates.
    pub fn is_uppercase(&self) -> bool {
        !self.0.iter().any(u8::is_ascii_lowercase)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.as_str())
    }
}

impl FromStr for EventId {
    type Err = EventError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl AsRef<str> for EventId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// Makes new event identifiers (and matching timestamps) from an injected clock and entropy source.
///
/// The generator is monotonic: each identifier it returns sorts after the previous one. When two identifiers
/// fall in the same millisecond, or the clock steps backwards, the random part of the last one is incremented
/// and its time reused. If the increment would overflow the 80 random bits, the generator moves its time one
/// millisecond ahead and draws a fresh random part (the reference waits for the clock instead; this crate
/// never waits). It takes `&mut self`; share one behind a lock if several threads need it.
///
/// ```
/// # use spanforge_event::{UlidGenerator, FixedClock, Entropy, EntropyError};
/// struct Zeros;
/// impl Entropy for Zeros {
///     fn fill(&mut self, buf: &mut [u8]) -> Result<(), EntropyError> { buf.fill(0); Ok(()) }
/// }
/// let mut ids = UlidGenerator::new(FixedClock(1_767_434_401_250_000), Zeros);
/// let a = ids.next_id().unwrap();
/// let b = ids.next_id().unwrap();
/// assert!(a < b);
/// assert_eq!(a.timestamp_millis(), 1_767_434_401_250);
/// ```
#[derive(Debug)]
pub struct UlidGenerator<C, E> {
    clock: C,
    entropy: E,
    last_millis: u64,
    last_random: u128,
    started: bool,
}

impl<C: Clock, E: Entropy> UlidGenerator<C, E> {
    /// A generator reading time from `clock` and random bits from `entropy`.
    pub fn new(clock: C, entropy: E) -> Self {
        Self {
            clock,
            entropy,
            last_millis: 0,
            last_random: 0,
            started: false,
        }
    }

    /// The clock this generator reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// A new identifier, later than every identifier this generator returned before.
    pub fn next_id(&mut self) -> Result<EventId> {
        let micros = self.clock.unix_micros();
        self.id_at(micros)
    }

    /// A new identifier together with a timestamp read from the same clock reading, so the two agree.
    pub fn next_id_and_timestamp(&mut self) -> Result<(EventId, Timestamp)> {
        let micros = self.clock.unix_micros();
        let ts = Timestamp::from_unix_micros(micros)?;
        Ok((self.id_at(micros)?, ts))
    }

    fn id_at(&mut self, micros: i64) -> Result<EventId> {
        let millis = u64::try_from(micros.div_euclid(1000)).map_err(|_| EventError::Generate {
            what: "event_id",
            reason: format!("the clock reads {micros} us, before 1970, which a ULID cannot carry"),
        })?;
        if !self.started || millis > self.last_millis {
            self.last_millis = millis;
            self.last_random = self.fresh_random()?;
            self.started = true;
        } else if self.last_random < RANDOM_MAX {
            self.last_random += 1;
        } else {
            self.last_millis += 1;
            self.last_random = self.fresh_random()?;
        }
        EventId::from_parts(self.last_millis, self.last_random)
    }

    fn fresh_random(&mut self) -> Result<u128> {
        let mut buf = [0u8; 10];
        self.entropy
            .fill(&mut buf)
            .map_err(|e| EventError::Generate {
                what: "event_id",
                reason: e.to_string(),
            })?;
        Ok(buf.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b)))
    }
}

#[cfg(feature = "std-clock")]
impl UlidGenerator<crate::clock::SystemClock, crate::clock::OsEntropy> {
    /// A generator using the system clock and the operating system's random source.
    pub fn system() -> Self {
        Self::new(crate::clock::SystemClock, crate::clock::OsEntropy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{EntropyError, FixedClock};

    /// Entropy that repeats a fixed byte pattern.
    struct Repeat(u8);
    impl Entropy for Repeat {
        fn fill(&mut self, buf: &mut [u8]) -> std::result::Result<(), EntropyError> {
            buf.fill(self.0);
            Ok(())
        }
    }

    struct Broken;
    impl Entropy for Broken {
        fn fill(&mut self, _: &mut [u8]) -> std::result::Result<(), EntropyError> {
            Err(EntropyError("no entropy here".into()))
        }
    }

    #[test]
    fn parse_accepts_both_cases_and_keeps_them() {
        let up = EventId::parse("01KDZ5T8Q3M9V6W2X4Y7Z0A1B3").unwrap();
        let low = EventId::parse("01kdz5t8q3m9v6w2x4y7z0a1b3").unwrap();
        assert_eq!(low.as_str(), "01kdz5t8q3m9v6w2x4y7z0a1b3");
        assert_ne!(up, low);
        assert_eq!(up.to_u128(), low.to_u128());
        assert!(up.is_uppercase() && !low.is_uppercase());
    }

    #[test]
    fn parse_rejects_bad_ids() {
        for bad in [
            "",
            "01KDZ5T8Q3M9V6W2X4Y7Z0A1B",   // 25
            "01KDZ5T8Q3M9V6W2X4Y7Z0A1B33", // 27
            "01KDZ5T8Q3M9V6W2X4Y7Z0A1BI",  // I
            "01KDZ5T8Q3M9V6W2X4Y7Z0A1BL",
            "01KDZ5T8Q3M9V6W2X4Y7Z0A1BO",
            "01KDZ5T8Q3M9V6W2X4Y7Z0A1BU",
            "81KDZ5T8Q3M9V6W2X4Y7Z0A1B3", // time overflows 48 bits
            "01KDZ5T8Q3M9V6W2X4Y7Z0A1B\u{017f}", // 'long s' uppercases to S in Python
            "01KDZ5T8Q3M9V6W2X4Y7Z0A1B-",
        ] {
            let err = EventId::parse(bad).unwrap_err();
            assert_eq!(err.field(), "event_id", "{bad}");
        }
        assert_eq!(
            EventId::parse_field("x", "prev_id").unwrap_err().field(),
            "prev_id"
        );
    }

    #[test]
    fn encoding_round_trips() {
        let id = EventId::from_parts(MAX_ULID_MILLIS, RANDOM_MAX).unwrap();
        assert_eq!(id.as_str(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        assert_eq!(id.timestamp_millis(), MAX_ULID_MILLIS);
        let id = EventId::from_parts(1, 2).unwrap();
        assert_eq!(id.as_str(), "00000000010000000000000002");
        assert!(EventId::from_parts(MAX_ULID_MILLIS + 1, 0).is_err());
    }

    #[test]
    fn monotonic_within_one_millisecond() {
        let mut g = UlidGenerator::new(FixedClock(1_700_000_000_123_456), Repeat(0x5a));
        let ids: Vec<EventId> = (0..1000).map(|_| g.next_id().unwrap()).collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{:?} !< {:?}", pair[0], pair[1]);
            assert_eq!(pair[1].to_u128() - pair[0].to_u128(), 1);
        }
        assert!(
            ids.iter()
                .all(|id| id.timestamp_millis() == 1_700_000_000_123)
        );
    }

    #[test]
    fn clock_stepping_back_keeps_order() {
        struct Steps(std::cell::Cell<usize>);
        impl Clock for Steps {
            fn unix_micros(&self) -> i64 {
                let i = self.0.get();
                self.0.set(i + 1);
                [5_000_000, 4_000_000, 6_000_000][i % 3]
            }
        }
        let mut g = UlidGenerator::new(Steps(std::cell::Cell::new(0)), Repeat(1));
        let a = g.next_id().unwrap();
        let b = g.next_id().unwrap();
        let c = g.next_id().unwrap();
        assert!(a < b && b < c);
        assert_eq!(b.timestamp_millis(), 5_000);
        assert_eq!(c.timestamp_millis(), 6_000);
    }

    #[test]
    fn random_overflow_moves_time_ahead() {
        let mut g = UlidGenerator::new(FixedClock(10_000), Repeat(0xff));
        let a = g.next_id().unwrap();
        let b = g.next_id().unwrap();
        assert!(a < b);
        assert_eq!(b.timestamp_millis(), a.timestamp_millis() + 1);
    }

    #[test]
    fn generation_errors_are_reported() {
        let mut g = UlidGenerator::new(FixedClock(-5_000), Repeat(0));
        assert!(matches!(g.next_id(), Err(EventError::Generate { .. })));
        let mut g = UlidGenerator::new(FixedClock(0), Broken);
        let err = g.next_id().unwrap_err();
        assert!(err.to_string().contains("no entropy here"));
    }

    #[test]
    fn id_and_timestamp_agree() {
        let mut g = UlidGenerator::new(FixedClock(1_767_434_401_250_123), Repeat(3));
        let (id, ts) = g.next_id_and_timestamp().unwrap();
        assert_eq!(ts.as_str(), "2026-01-03T10:00:01.250123Z");
        assert_eq!(id.timestamp_millis() as i64, ts.unix_micros() / 1000);
    }
}
