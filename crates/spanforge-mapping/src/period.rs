//! Calendar days and assessment periods in UTC, without a clock or a date library.
//!
//! A [`Period`] is a closed range of whole UTC days: `--from 2026-01-01 --to 2026-03-31` covers
//! every instant from `2026-01-01T00:00:00Z` up to and including `2026-03-31T23:59:59.999999Z`,
//! so the `to` day is part of the period (the reference SDK's bound dropped it).

use std::fmt;

use crate::error::{Error, Result};

/// Microseconds in one day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A calendar day in UTC, stored as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i32);

impl Day {
    /// The day `days` after 1970-01-01 (negative for earlier days).
    pub const fn from_days(days: i32) -> Self {
        Day(days)
    }

    /// Days since 1970-01-01.
    pub const fn days(self) -> i32 {
        self.0
    }

    /// Builds a day from a proleptic Gregorian year, month (1–12) and day of month.
    ///
    /// # Errors
    ///
    /// [`Error::Date`] when the month or the day does not exist or the year is outside 1–9999.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Result<Self> {
        let bad = || Error::Date {
            input: format!("{year:04}-{month:02}-{day:02}"),
            reason: "no such calendar day (years 1 to 9999)".to_owned(),
        };
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(bad());
        }
        Ok(Day(days_from_civil(year, month, day)))
    }

    /// Parses `YYYY-MM-DD`.
    ///
    /// # Errors
    ///
    /// [`Error::Date`] for any other shape or a day that does not exist.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Date {
            input: text.to_owned(),
            reason: reason.to_owned(),
        };
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
            return Err(bad("expected YYYY-MM-DD"));
        }
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = text.get(range)?;
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10))
        else {
            return Err(bad("expected YYYY-MM-DD with digits"));
        };
        let year = i32::try_from(year).map_err(|_| bad("year out of range"))?;
        Day::from_ymd(year, month, day).map_err(|_| bad("no such calendar day"))
    }

    /// The day an instant (microseconds since the epoch) falls on.
    pub const fn of_micros(micros: i64) -> Self {
        // Saturate instead of overflowing for instants beyond any real calendar.
        let days = micros.div_euclid(MICROS_PER_DAY);
        if days > i32::MAX as i64 {
            Day(i32::MAX)
        } else if days < i32::MIN as i64 {
            Day(i32::MIN)
        } else {
            Day(days as i32)
        }
    }

    /// Midnight UTC at the start of the day, in microseconds since the epoch.
    pub const fn start_micros(self) -> i64 {
        self.0 as i64 * MICROS_PER_DAY
    }

    /// The day `n` days later (or earlier for negative `n`), saturating.
    #[must_use]
    pub const fn plus(self, n: i32) -> Self {
        Day(self.0.saturating_add(n))
    }

    /// Year, month and day of month.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// `YYYY-MM-DDT00:00:00Z`.
    pub fn midnight_rfc3339(self) -> String {
        format!("{self}T00:00:00Z")
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the classic era-based algorithm).
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i32::try_from(month).unwrap_or(1);
    let d = i32::try_from(day).unwrap_or(1);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if m <= 2 { y + 1 } else { y };
    (
        i32::try_from(year).unwrap_or(i32::MAX),
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

/// An assessment period: whole UTC days from `from` to `to`, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    from: Day,
    to: Day,
}

impl Period {
    /// The longest period accepted, in days (ten years).
    pub const MAX_DAYS: i32 = 3660;

    /// A period from `from` to `to`, both days included.
    ///
    /// # Errors
    ///
    /// [`Error::Period`] when `to` is before `from` or the period is longer than
    /// [`Period::MAX_DAYS`].
    pub fn new(from: Day, to: Day) -> Result<Self> {
        if to < from {
            return Err(Error::Period(format!(
                "the period ends ({to}) before it starts ({from})"
            )));
        }
        if to.days() - from.days() >= Self::MAX_DAYS {
            return Err(Error::Period(format!(
                "the period from {from} to {to} is longer than {} days",
                Self::MAX_DAYS
            )));
        }
        Ok(Period { from, to })
    }

    /// Parses `--from` and `--to` dates (`YYYY-MM-DD`).
    ///
    /// # Errors
    ///
    /// As for [`Day::parse`] and [`Period::new`].
    pub fn parse(from: &str, to: &str) -> Result<Self> {
        Period::new(Day::parse(from)?, Day::parse(to)?)
    }

    /// The first day.
    pub fn from(&self) -> Day {
        self.from
    }

    /// The last day (included).
    pub fn to(&self) -> Day {
        self.to
    }

    /// Number of days in the period.
    pub fn days(&self) -> u32 {
        u32::try_from(self.to.days() - self.from.days() + 1).unwrap_or(0)
    }

    /// The first instant of the period, in microseconds since the epoch.
    pub fn start_micros(&self) -> i64 {
        self.from.start_micros()
    }

    /// The last instant of the period (inclusive), in microseconds since the epoch.
    pub fn end_micros(&self) -> i64 {
        self.to.plus(1).start_micros() - 1
    }

    /// Whether an instant lies inside the period.
    pub fn contains_micros(&self, micros: i64) -> bool {
        (self.start_micros()..=self.end_micros()).contains(&micros)
    }

    /// The first instant in RFC 3339 form (`2026-01-01T00:00:00Z`).
    pub fn start_rfc3339(&self) -> String {
        self.from.midnight_rfc3339()
    }

    /// The last instant in RFC 3339 form (`2026-03-31T23:59:59.999999Z`).
    pub fn end_rfc3339(&self) -> String {
        format!("{}T23:59:59.999999Z", self.to)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.from, self.to)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_days() {
        assert_eq!(Day::parse("1970-01-01").unwrap().days(), 0);
        assert_eq!(Day::parse("2026-01-01").unwrap().days(), 20_454);
        assert_eq!(Day::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert_eq!(Day::from_days(-1).to_string(), "1969-12-31");
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "20260101",
            "2026-01-32",
            "2026-+1-01",
            "0000-01-01",
        ] {
            assert!(Day::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn period_includes_the_last_day() {
        let p = Period::parse("2026-01-01", "2026-01-20").unwrap();
        assert_eq!(p.days(), 20);
        let last = Day::parse("2026-01-20").unwrap().start_micros() + 23 * 3_600_000_000;
        assert!(p.contains_micros(last));
        assert!(p.contains_micros(p.end_micros()));
        assert!(!p.contains_micros(p.end_micros() + 1));
        assert!(!p.contains_micros(p.start_micros() - 1));
        assert_eq!(p.end_rfc3339(), "2026-01-20T23:59:59.999999Z");
        assert!(Period::parse("2026-01-02", "2026-01-01").is_err());
        assert!(Period::parse("2000-01-01", "2026-01-01").is_err());
    }

    #[test]
    fn of_micros_floors_before_the_epoch() {
        assert_eq!(Day::of_micros(-1).days(), -1);
        assert_eq!(Day::of_micros(0).days(), 0);
        assert_eq!(Day::of_micros(MICROS_PER_DAY - 1).days(), 0);
    }

    proptest! {
        #[test]
        fn civil_round_trips(days in -700_000i32..2_900_000) {
            let d = Day::from_days(days);
            let (y, m, dd) = d.ymd();
            if (1..=9999).contains(&y) {
                prop_assert_eq!(Day::from_ymd(y, m, dd).unwrap(), d);
                prop_assert_eq!(Day::parse(&d.to_string()).unwrap(), d);
            }
        }
    }
}
