//! Dates on the command line: `YYYY-MM-DD` (a whole UTC day) or a full event timestamp.

use anyhow::{Result, bail};
use spanforge_event::Timestamp;

/// Parses a period bound. A bare date is the start of that UTC day for a lower bound and its
/// last microsecond for an upper bound, so `--to 2026-03-31` includes all of March 31.
pub(crate) fn parse_bound(text: &str, upper: bool) -> Result<Timestamp> {
    let full = if text.len() == 10 {
        if upper {
            format!("{text}T23:59:59.999999Z")
        } else {
            format!("{text}T00:00:00.000000Z")
        }
    } else {
        text.to_owned()
    };
    match Timestamp::parse(&full) {
        Ok(t) => Ok(t),
        Err(_) => {
            bail!("{text:?} is not a date: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS.ffffffZ")
        }
    }
}

/// Microseconds since the epoch, now.
pub(crate) fn now_micros() -> Result<i64> {
    use anyhow::Context;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    i64::try_from(since.as_micros()).context("the system clock is out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_days_and_timestamps() {
        assert_eq!(
            parse_bound("2026-03-31", true).unwrap().as_str(),
            "2026-03-31T23:59:59.999999Z"
        );
        assert_eq!(
            parse_bound("2026-03-01", false).unwrap().as_str(),
            "2026-03-01T00:00:00.000000Z"
        );
        assert!(parse_bound("2026-02-30", false).is_err());
        assert!(parse_bound("yesterday", false).is_err());
        assert_eq!(
            parse_bound("2026-03-01T10:00:00.000000Z", true)
                .unwrap()
                .as_str(),
            "2026-03-01T10:00:00.000000Z"
        );
    }
}
