//! Event timestamps: `YYYY-MM-DDTHH:MM:SS.ffffffZ`, UTC, exactly six fractional digits.
//!
//! The reference checks the text with a pattern and then with Python's `datetime.fromisoformat`, so the date
//! must exist (no 30 February, no hour 24, no leap second) and the year must lie in 0001-9999. A [`Timestamp`]
//! keeps the text as written and the same instant in microseconds since the Unix epoch, for range queries.

use std::fmt;
use std::str::FromStr;

use crate::error::{EventError, Result};

/// Length of a timestamp in characters.
pub const TIMESTAMP_LEN: usize = 27;

/// The shape [`Timestamp::parse`] requires, as a regular expression (for the JSON Schema); the calendar check
/// (real dates, years 0001-9999) cannot be expressed in it.
pub const TIMESTAMP_PATTERN: &str =
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$";

const EXPECTED: &str = "a UTC time written YYYY-MM-DDTHH:MM:SS.ffffffZ with exactly six fractional digits \
                        and a real calendar date (years 0001-9999)";

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The first and last instants a timestamp can express, in microseconds since the epoch.
const MIN_MICROS: i64 = -62_135_596_800_000_000; // 0001-01-01T00:00:00.000000Z
const MAX_MICROS: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999Z

/// A validated event timestamp.
///
/// Ordering and equality follow the instant; since every valid text has exactly one instant and vice versa,
/// they agree with comparing the text.
///
/// ```
/// # use spanforge_event::Timestamp;
/// let ts = Timestamp::parse("2026-01-03T10:00:01.250000Z").unwrap();
/// assert_eq!(ts.unix_micros(), 1_767_434_401_250_000);
/// assert_eq!(Timestamp::from_unix_micros(ts.unix_micros()).unwrap(), ts);
/// assert!(Timestamp::parse("2026-01-03T10:00:01.25Z").is_err()); // six digits, always
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    // Field order matters: the derived ordering compares `micros` first.
    micros: i64,
    text: [u8; TIMESTAMP_LEN],
}

impl Timestamp {
    /// Parses and checks a timestamp.
    pub fn parse(s: &str) -> Result<Self> {
        let fail = || EventError::invalid("timestamp", EXPECTED, s);
        let Ok(bytes) = <&[u8; TIMESTAMP_LEN]>::try_from(s.as_bytes()) else {
            return Err(fail());
        };
        // Every byte is checked against a fixed shape (`d` for a digit, anything else for itself), without
        // stopping early, so that the loop compiles to straight-line code.
        const SHAPE: &[u8; TIMESTAMP_LEN] = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
        let mut mismatch = false;
        for (&b, &want) in bytes.iter().zip(SHAPE) {
            mismatch |= if want == b'd' {
                !b.is_ascii_digit()
            } else {
                b != want
            };
        }
        if mismatch {
            return Err(fail());
        }
        let num = |from: usize, to: usize| {
            bytes[from..to]
                .iter()
                .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'))
        };
        let (year, month, day) = (num(0, 4), num(5, 7), num(8, 10));
        let (hour, minute, second, micro) = (num(11, 13), num(14, 16), num(17, 19), num(20, 26));
        if year < 1
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(fail());
        }
        let days = days_from_civil(year, month, day);
        let micros =
            days * MICROS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1_000_000 + micro;
        let mut text = [0u8; TIMESTAMP_LEN];
        text.copy_from_slice(bytes);
        Ok(Self { micros, text })
    }

    /// The timestamp for an instant given in microseconds since the epoch, as the reference writes it.
    /// Fails for instants before year 1 or after year 9999.
    pub fn from_unix_micros(micros: i64) -> Result<Self> {
        if !(MIN_MICROS..=MAX_MICROS).contains(&micros) {
            return Err(EventError::Generate {
                what: "timestamp",
                reason: format!("{micros} us since 1970 lies outside the years 0001-9999"),
            });
        }
        let days = micros.div_euclid(MICROS_PER_DAY);
        let in_day = micros.rem_euclid(MICROS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let secs = in_day / 1_000_000;
        let parts = [
            (year, 4),
            (month, 2),
            (day, 2),
            (secs / 3600, 2),
            (secs / 60 % 60, 2),
            (secs % 60, 2),
            (in_day % 1_000_000, 6),
        ];
        let mut text = [0u8; TIMESTAMP_LEN];
        let mut pos = 0;
        for (i, (value, width)) in parts.into_iter().enumerate() {
            let mut v = value;
            for slot in text[pos..pos + width].iter_mut().rev() {
                *slot = b'0' + u8::try_from(v % 10).unwrap_or(0);
                v /= 10;
            }
            pos += width;
            text[pos] = [b'-', b'-', b'T', b':', b':', b'.', b'Z'][i];
            pos += 1;
        }
        Ok(Self { micros, text })
    }

    /// The timestamp exactly as written.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text)
            .expect("invariant: a Timestamp holds only ASCII digits and separators")
    }

    /// The timestamp's ASCII bytes, for writers that need no `str`.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    /// The instant in microseconds since 1970-01-01T00:00:00Z (negative before 1970).
    pub fn unix_micros(&self) -> i64 {
        self.micros
    }

    /// The instant in whole milliseconds since the epoch (rounded towards minus infinity).
    pub fn unix_millis(&self) -> i64 {
        self.micros.div_euclid(1000)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.as_str())
    }
}

impl FromStr for Timestamp {
    type Err = EventError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_real_dates() {
        for ok in [
            "2026-01-03T10:00:01.250000Z",
            "2024-02-29T00:00:00.000000Z",
            "0001-01-01T00:00:00.000000Z",
            "9999-12-31T23:59:59.999999Z",
            "1969-12-31T23:59:59.999999Z",
        ] {
            let ts = Timestamp::parse(ok).unwrap();
            assert_eq!(ts.as_str(), ok);
            assert_eq!(
                Timestamp::from_unix_micros(ts.unix_micros())
                    .unwrap()
                    .as_str(),
                ok
            );
        }
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00.000000Z")
                .unwrap()
                .unix_micros(),
            0
        );
        assert_eq!(
            Timestamp::parse("1969-12-31T23:59:59.999999Z")
                .unwrap()
                .unix_micros(),
            -1
        );
        assert_eq!(
            Timestamp::parse("0001-01-01T00:00:00.000000Z")
                .unwrap()
                .unix_micros(),
            MIN_MICROS
        );
        assert_eq!(
            Timestamp::parse("9999-12-31T23:59:59.999999Z")
                .unwrap()
                .unix_micros(),
            MAX_MICROS
        );
    }

    #[test]
    fn rejects_what_the_reference_rejects() {
        for bad in [
            "0000-01-01T00:00:00.000000Z",
            "2023-02-29T00:00:00.000000Z",
            "2024-04-31T00:00:00.000000Z",
            "2024-13-01T00:00:00.000000Z",
            "2024-00-01T00:00:00.000000Z",
            "2024-01-00T00:00:00.000000Z",
            "2024-01-01T24:00:00.000000Z",
            "2024-01-01T23:60:00.000000Z",
            "2024-01-01T23:59:60.000000Z",
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00.00000Z",
            "2024-01-01T00:00:00.0000000Z",
            "2024-01-01T00:00:00.000000+00:00",
            "2024-01-01 00:00:00.000000Z",
            "2024-01-01T00:00:00.000000z",
            "2024-01-01T00:00:00.000000Z\n",
            "\u{0662}024-01-01T00:00:00.000000Z",
            "",
        ] {
            let err = Timestamp::parse(bad).unwrap_err();
            assert_eq!(err.field(), "timestamp", "{bad:?}");
        }
    }

    #[test]
    fn out_of_range_instants_cannot_be_formatted() {
        assert!(Timestamp::from_unix_micros(MAX_MICROS + 1).is_err());
        assert!(Timestamp::from_unix_micros(MIN_MICROS - 1).is_err());
    }

    proptest! {
        #[test]
        fn formatting_and_parsing_agree(micros in MIN_MICROS..=MAX_MICROS) {
            let ts = Timestamp::from_unix_micros(micros).unwrap();
            let back = Timestamp::parse(ts.as_str()).unwrap();
            prop_assert_eq!(back.unix_micros(), micros);
            prop_assert_eq!(back, ts);
        }

        #[test]
        fn text_order_is_time_order(a in MIN_MICROS..=MAX_MICROS, b in MIN_MICROS..=MAX_MICROS) {
            let (ta, tb) = (Timestamp::from_unix_micros(a).unwrap(), Timestamp::from_unix_micros(b).unwrap());
            prop_assert_eq!(ta.as_str().cmp(tb.as_str()), a.cmp(&b));
        }
    }
}
