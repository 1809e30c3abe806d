//! Period coverage: whether evidence exists across the whole period at a control's frequency,
//! not just somewhere in it.
//!
//! Occurrence days are kept in a bitset over the period plus a look-back window, so memory does
//! not grow with the number of events. Daily and continuous controls need evidence on every UTC
//! day of the period. Weekly, monthly, quarterly and annual controls (intervals of 7, 31, 92 and
//! 366 days) need that no stretch of the period is longer than the interval without evidence;
//! when the period holds no occurrence, the last one before it still counts while it is within
//! its interval at the period's end, so an annual control performed seven months before a
//! quarter-long period covers it, and one performed thirteen months before the period's end
//! does not (it is stale).

use serde::Serialize;

use crate::period::{Day, Period};
use crate::rules::Coverage;

/// Days before the period start searched for earlier occurrences (an annual interval plus a
/// month), so that stale evidence can be told from no evidence.
pub const LOOKBACK_DAYS: i32 = 400;

/// A set of days from a fixed first day.
#[derive(Clone, Debug)]
pub struct DayBits {
    first: Day,
    bits: Vec<u64>,
    len: u32,
}

impl DayBits {
    /// An empty set over `len` days from `first`.
    pub fn new(first: Day, len: u32) -> Self {
        Self {
            first,
            bits: vec![0; (len as usize).div_ceil(64)],
            len,
        }
    }

    /// Adds a day; days outside the range are ignored.
    pub fn insert(&mut self, day: Day) {
        let Ok(i) = u32::try_from(day.days() - self.first.days()) else {
            return;
        };
        if i >= self.len {
            return;
        }
        if let Some(word) = self.bits.get_mut((i / 64) as usize) {
            *word |= 1 << (i % 64);
        }
    }

    /// Whether a day is in the set.
    pub fn contains(&self, day: Day) -> bool {
        let Ok(i) = u32::try_from(day.days() - self.first.days()) else {
            return false;
        };
        i < self.len
            && self
                .bits
                .get((i / 64) as usize)
                .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// The days in the set from `from` to `to` (inclusive), ascending.
    pub fn days_between(&self, from: Day, to: Day) -> impl Iterator<Item = Day> + '_ {
        (from.days()..=to.days())
            .map(Day::from_days)
            .filter(|d| self.contains(*d))
    }
}

/// A run of days without evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// First day without evidence.
    pub from: String,
    /// Last day without evidence.
    pub to: String,
    /// Number of days.
    pub days: u32,
}

impl Gap {
    fn new(from: Day, to: Day) -> Self {
        Self {
            from: from.to_string(),
            to: to.to_string(),
            days: u32::try_from(to.days() - from.days() + 1).unwrap_or(0),
        }
    }
}

/// The verdict of the coverage check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CoverageResult {
    /// The control is event-driven; there is no periodic expectation.
    NotPeriodic,
    /// Evidence exists across the whole period at the control's frequency.
    Covered {
        /// Days of the period with evidence.
        days_with_evidence: u32,
    },
    /// Evidence exists, but stretches of the period are without it.
    Gaps {
        /// Days of the period with evidence.
        days_with_evidence: u32,
        /// Total days without evidence, counted over the gaps.
        missing_days: u32,
        /// The stretches without evidence (at most 20 are listed).
        gaps: Vec<Gap>,
        /// How many stretches there are.
        gap_count: u32,
    },
    /// The period holds no evidence and the last occurrence before it is too old.
    Stale {
        /// Day of the last occurrence.
        last: String,
    },
    /// No evidence in the period or the look-back window.
    NoEvidence,
}

impl CoverageResult {
    /// Whether the period is covered (or needs no coverage).
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            CoverageResult::NotPeriodic | CoverageResult::Covered { .. }
        )
    }
}

/// Most gaps listed in a [`CoverageResult::Gaps`].
const MAX_LISTED_GAPS: usize = 20;

/// Judges coverage of `period` from the occurrence days in `days`.
pub fn judge(coverage: Coverage, period: &Period, days: &DayBits) -> CoverageResult {
    let from = period.from();
    let to = period.to();
    let in_period = u32::try_from(days.days_between(from, to).count()).unwrap_or(u32::MAX);
    let interval = match coverage {
        Coverage::None => return CoverageResult::NotPeriodic,
        Coverage::Daily => 1,
        Coverage::MaxGapDays(n) => i32::try_from(n).unwrap_or(i32::MAX),
    };
    let before: Vec<Day> = days
        .days_between(from.plus(-LOOKBACK_DAYS), from.plus(-1))
        .collect();
    let last_before = before.last().copied();
    if in_period == 0 {
        return match last_before {
            None => CoverageResult::NoEvidence,
            Some(last) if to.days() + 1 - last.days() > interval => CoverageResult::Stale {
                last: last.to_string(),
            },
            Some(_) => CoverageResult::Covered {
                days_with_evidence: 0,
            },
        };
    }
    // Evidence points: a virtual point on the day before the period (an occurrence before the
    // period can cover no more than that), the days with evidence, and a virtual point on the
    // day after the period. Consecutive points may be at most `interval` apart.
    let mut points = vec![from.plus(-1)];
    points.extend(days.days_between(from, to));
    points.push(to.plus(1));
    let mut gaps = Vec::new();
    let mut missing = 0_u32;
    let mut count = 0_u32;
    for pair in points.windows(2) {
        let [a, b] = pair else { continue };
        if b.days() - a.days() > interval {
            let gap_from = a.plus(1).max(from);
            let gap_to = b.plus(-1).min(to);
            if gap_to >= gap_from {
                count += 1;
                missing += u32::try_from(gap_to.days() - gap_from.days() + 1).unwrap_or(0);
                if gaps.len() < MAX_LISTED_GAPS {
                    gaps.push(Gap::new(gap_from, gap_to));
                }
            }
        }
    }
    if count == 0 {
        CoverageResult::Covered {
            days_with_evidence: in_period,
        }
    } else {
        CoverageResult::Gaps {
            days_with_evidence: in_period,
            missing_days: missing,
            gaps,
            gap_count: count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period() -> Period {
        Period::parse("2026-01-01", "2026-03-31").unwrap()
    }

    fn bits(days: &[i32]) -> DayBits {
        let p = period();
        let first = p.from().plus(-LOOKBACK_DAYS);
        let mut b = DayBits::new(first, u32::try_from(LOOKBACK_DAYS).unwrap() + p.days() + 30);
        for d in days {
            b.insert(p.from().plus(*d));
        }
        b
    }

    #[test]
    fn daily_needs_every_day() {
        let all: Vec<i32> = (0..90).collect();
        assert!(judge(Coverage::Daily, &period(), &bits(&all)).is_ok());
        let missing_one: Vec<i32> = (0..90).filter(|d| *d != 40).collect();
        match judge(Coverage::Daily, &period(), &bits(&missing_one)) {
            CoverageResult::Gaps {
                missing_days, gaps, ..
            } => {
                assert_eq!(missing_days, 1);
                assert_eq!(gaps[0].from, "2026-02-10");
            }
            other => panic!("{other:?}"),
        }
        // Evidence somewhere in the period is not coverage.
        assert!(!judge(Coverage::Daily, &period(), &bits(&[0, 89])).is_ok());
        // The last day counts: a control that stops a day early leaves a gap.
        let early: Vec<i32> = (0..89).collect();
        assert!(!judge(Coverage::Daily, &period(), &bits(&early)).is_ok());
    }

    #[test]
    fn weekly_and_quarterly_use_the_interval() {
        let weekly: Vec<i32> = (0..90).step_by(7).collect();
        assert!(judge(Coverage::MaxGapDays(7), &period(), &bits(&weekly)).is_ok());
        let fortnightly: Vec<i32> = (0..90).step_by(14).collect();
        assert!(!judge(Coverage::MaxGapDays(7), &period(), &bits(&fortnightly)).is_ok());
        assert!(judge(Coverage::MaxGapDays(92), &period(), &bits(&[10])).is_ok());
        // First occurrence late in the period: the start of the period is uncovered for weekly.
        assert!(
            !judge(
                Coverage::MaxGapDays(7),
                &period(),
                &bits(&[30, 37, 44, 51, 58, 65, 72, 79, 86])
            )
            .is_ok()
        );
    }

    #[test]
    fn earlier_occurrences_count_until_they_expire() {
        // Annual control done 300 days before a 90-day period: expired before the period ended.
        assert!(matches!(
            judge(Coverage::MaxGapDays(366), &period(), &bits(&[-300])),
            CoverageResult::Stale { .. }
        ));
        // Done 200 days before: still valid at the end of the period.
        assert!(judge(Coverage::MaxGapDays(366), &period(), &bits(&[-200])).is_ok());
        assert_eq!(
            judge(Coverage::MaxGapDays(366), &period(), &bits(&[])),
            CoverageResult::NoEvidence
        );
        assert_eq!(
            judge(Coverage::None, &period(), &bits(&[])),
            CoverageResult::NotPeriodic
        );
        // A weekly control must also run near the end of the period.
        assert!(!judge(Coverage::MaxGapDays(7), &period(), &bits(&[-2, 5, 12, 19])).is_ok());
    }
}
