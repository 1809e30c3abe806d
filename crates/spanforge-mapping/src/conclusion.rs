//! The conclusion lattice of a control for a period, and the rules that pick one.
//!
//! The inputs are facts the engine gathered (population size, deviations, coverage, manual
//! evidence, configuration snapshots); [`decide`] is a pure function of them, so every state of
//! the lattice can be reached and tested without a ledger.

use std::fmt;

use serde::Serialize;

use crate::coverage::CoverageResult;

/// What can be concluded about a control for a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    /// Operated in the period with no deviation.
    Effective,
    /// Operated, with isolated deviations that are disclosed.
    EffectiveWithExceptions,
    /// Deviations are systematic (rate above the threshold, or recurring in a small
    /// population), or the configuration in force does not meet the rule.
    Ineffective,
    /// The population is empty and nothing required it to occur (a recorded zero-row
    /// retrieval, which is not the same as effective).
    NotOccurred,
    /// The evidence does not cover the period at the control's frequency, or a required
    /// configuration snapshot is missing.
    InsufficientEvidence,
    /// The only evidence is older than the control's interval allows.
    Stale,
    /// A document or attestation the control depends on has not been recorded.
    ManualEvidencePending,
    /// Scoped out, with a reason.
    NotApplicable,
}

impl Conclusion {
    /// Every state, in lattice order.
    pub const ALL: [Conclusion; 8] = [
        Conclusion::Effective,
        Conclusion::EffectiveWithExceptions,
        Conclusion::Ineffective,
        Conclusion::NotOccurred,
        Conclusion::InsufficientEvidence,
        Conclusion::Stale,
        Conclusion::ManualEvidencePending,
        Conclusion::NotApplicable,
    ];

    /// The snake-case id used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Conclusion::Effective => "effective",
            Conclusion::EffectiveWithExceptions => "effective_with_exceptions",
            Conclusion::Ineffective => "ineffective",
            Conclusion::NotOccurred => "not_occurred",
            Conclusion::InsufficientEvidence => "insufficient_evidence",
            Conclusion::Stale => "stale",
            Conclusion::ManualEvidencePending => "manual_evidence_pending",
            Conclusion::NotApplicable => "not_applicable",
        }
    }

    /// A short human label.
    pub const fn label(self) -> &'static str {
        match self {
            Conclusion::Effective => "Effective",
            Conclusion::EffectiveWithExceptions => "Effective with exceptions",
            Conclusion::Ineffective => "Ineffective",
            Conclusion::NotOccurred => "Not occurred",
            Conclusion::InsufficientEvidence => "Insufficient evidence",
            Conclusion::Stale => "Stale",
            Conclusion::ManualEvidencePending => "Manual evidence pending",
            Conclusion::NotApplicable => "Not applicable",
        }
    }

    /// Whether the control operated in the period (with or without exceptions).
    pub const fn is_operating(self) -> bool {
        matches!(
            self,
            Conclusion::Effective | Conclusion::EffectiveWithExceptions
        )
    }

    /// Whether the conclusion is a negative finding or a missing piece of evidence.
    pub const fn is_deficient(self) -> bool {
        matches!(
            self,
            Conclusion::Ineffective
                | Conclusion::InsufficientEvidence
                | Conclusion::Stale
                | Conclusion::ManualEvidencePending
        )
    }
}

impl fmt::Display for Conclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When deviations are systematic rather than isolated.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DeviationPolicy {
    /// Deviation rate above which a census is systematic.
    pub systematic_rate: f64,
    /// Smallest population for which a rate is meaningful.
    pub min_n_for_rate: u64,
    /// Below that size, this many deviations or more are systematic (recurring).
    pub recurring_below_min: u64,
    /// In a sample, this many deviations or more are systematic.
    pub sample_systematic: u64,
}

impl Default for DeviationPolicy {
    fn default() -> Self {
        Self {
            systematic_rate: 0.05,
            min_n_for_rate: 10,
            recurring_below_min: 2,
            sample_systematic: 2,
        }
    }
}

/// The facts a conclusion is drawn from.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    /// The control was scoped out.
    pub not_applicable: bool,
    /// Evidence of the control is a document or attestation.
    pub manual: bool,
    /// Population items in the period.
    pub population: u64,
    /// Deviations counted (items with a failed attribute, exception events, period-test
    /// violations); for a sample, those found in the sample plus the period-level ones.
    pub deviations: u64,
    /// Whether the items were sampled.
    pub sampled: bool,
    /// The coverage verdict.
    pub coverage: CoverageResult,
    /// Whether the control counts coverage from events other than its population (so that
    /// an empty population with coverage means "nothing to test occurred").
    pub coverage_from_other_events: bool,
    /// An empty population is insufficient evidence.
    pub require_population: bool,
    /// The control needs a configuration snapshot in the period and none was captured.
    pub configuration_missing: bool,
    /// A configuration snapshot was captured only before the period.
    pub configuration_stale: bool,
    /// Every configuration snapshot in the period fails the rule.
    pub configuration_failed: bool,
}

impl Facts {
    /// Facts of a control with a population and nothing wrong, to adjust in tests and
    /// examples.
    pub fn clean(population: u64) -> Self {
        Self {
            not_applicable: false,
            manual: false,
            population,
            deviations: 0,
            sampled: false,
            coverage: CoverageResult::NotPeriodic,
            coverage_from_other_events: false,
            require_population: false,
            configuration_missing: false,
            configuration_stale: false,
            configuration_failed: false,
        }
    }
}

/// Whether deviations are systematic under `policy`.
pub fn is_systematic(facts: &Facts, policy: &DeviationPolicy) -> bool {
    if facts.deviations == 0 {
        return false;
    }
    if facts.sampled {
        return facts.deviations >= policy.sample_systematic;
    }
    if facts.population >= policy.min_n_for_rate {
        #[expect(clippy::cast_precision_loss, reason = "a rate needs no more precision")]
        let rate = facts.deviations as f64 / facts.population as f64;
        rate > policy.systematic_rate
    } else {
        facts.deviations >= policy.recurring_below_min
    }
}

/// Picks the conclusion for a set of facts, with the reason in words.
pub fn decide(facts: &Facts, policy: &DeviationPolicy) -> (Conclusion, String) {
    use Conclusion as C;
    if facts.not_applicable {
        return (C::NotApplicable, "scoped out of this assessment".to_owned());
    }
    let coverage_words = |c: &CoverageResult| match c {
        CoverageResult::Gaps {
            missing_days,
            gap_count,
            ..
        } => format!(
            "{missing_days} day(s) of the period in {gap_count} stretch(es) have no evidence"
        ),
        CoverageResult::Stale { last } => {
            format!("the last evidence ({last}) is older than the control's interval")
        }
        CoverageResult::NoEvidence => "no evidence in the period or the year before".to_owned(),
        CoverageResult::Covered { .. } | CoverageResult::NotPeriodic => String::new(),
    };
    if facts.population == 0 {
        if let CoverageResult::Stale { .. } = facts.coverage {
            return (C::Stale, coverage_words(&facts.coverage));
        }
        if facts.manual {
            return match facts.coverage {
                CoverageResult::Covered { .. } => (
                    C::Effective,
                    "the last attestation before the period is still within its interval"
                        .to_owned(),
                ),
                _ => (
                    C::ManualEvidencePending,
                    "no attestation or document record was found for the period".to_owned(),
                ),
            };
        }
        return match &facts.coverage {
            c @ (CoverageResult::Gaps { .. } | CoverageResult::NoEvidence) => {
                (C::InsufficientEvidence, coverage_words(c))
            }
            CoverageResult::Covered { .. } if facts.coverage_from_other_events => (
                C::NotOccurred,
                "the control operated throughout the period and nothing it tests occurred"
                    .to_owned(),
            ),
            CoverageResult::Covered { .. } => (
                C::Effective,
                "the last occurrence before the period is still within the control's interval"
                    .to_owned(),
            ),
            _ if facts.require_population || facts.configuration_missing => (
                C::InsufficientEvidence,
                "the evidence the control needs was not recorded in the period".to_owned(),
            ),
            _ => (
                C::NotOccurred,
                "no occurrence in the period (a recorded zero-row population)".to_owned(),
            ),
        };
    }
    if facts.configuration_failed {
        return (
            C::Ineffective,
            "the configuration captured in the period does not meet the control's rule".to_owned(),
        );
    }
    if is_systematic(facts, policy) {
        let how = if facts.sampled {
            format!("{} deviations in the sample", facts.deviations)
        } else {
            format!(
                "{} deviations in a population of {}",
                facts.deviations, facts.population
            )
        };
        return (C::Ineffective, format!("systematic deviations: {how}"));
    }
    if !facts.coverage.is_ok() {
        return (C::InsufficientEvidence, coverage_words(&facts.coverage));
    }
    if facts.configuration_stale {
        return (
            C::Stale,
            "the configuration snapshot was captured before the period, not inside it".to_owned(),
        );
    }
    if facts.configuration_missing {
        return (
            C::InsufficientEvidence,
            "no configuration snapshot was captured inside the period".to_owned(),
        );
    }
    if facts.deviations > 0 {
        return (
            C::EffectiveWithExceptions,
            format!(
                "{} isolated deviation(s) in {} item(s){}",
                facts.deviations,
                facts.population,
                if facts.sampled { " (sample)" } else { "" }
            ),
        );
    }
    (
        C::Effective,
        format!(
            "{} item(s) tested{} without deviation",
            facts.population,
            if facts.sampled { " (sample)" } else { "" }
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn policy() -> DeviationPolicy {
        DeviationPolicy::default()
    }

    #[test]
    fn every_state_is_reachable() {
        let gaps = CoverageResult::Gaps {
            days_with_evidence: 80,
            missing_days: 10,
            gaps: Vec::new(),
            gap_count: 1,
        };
        let cases: Vec<(Facts, Conclusion)> = vec![
            (Facts::clean(100), Conclusion::Effective),
            (
                Facts {
                    deviations: 3,
                    ..Facts::clean(100)
                },
                Conclusion::EffectiveWithExceptions,
            ),
            (
                Facts {
                    deviations: 6,
                    ..Facts::clean(100)
                },
                Conclusion::Ineffective,
            ),
            (Facts::clean(0), Conclusion::NotOccurred),
            (
                Facts {
                    coverage: gaps.clone(),
                    ..Facts::clean(80)
                },
                Conclusion::InsufficientEvidence,
            ),
            (
                Facts {
                    coverage: CoverageResult::Stale {
                        last: "2024-01-01".to_owned(),
                    },
                    ..Facts::clean(0)
                },
                Conclusion::Stale,
            ),
            (
                Facts {
                    manual: true,
                    coverage: CoverageResult::NoEvidence,
                    ..Facts::clean(0)
                },
                Conclusion::ManualEvidencePending,
            ),
            (
                Facts {
                    not_applicable: true,
                    ..Facts::clean(5)
                },
                Conclusion::NotApplicable,
            ),
        ];
        let mut seen = BTreeSet::new();
        for (facts, want) in cases {
            let (got, reason) = decide(&facts, &policy());
            assert_eq!(got, want, "{facts:?}: {reason}");
            assert!(!reason.is_empty());
            seen.insert(got);
        }
        assert_eq!(seen.len(), Conclusion::ALL.len());
    }

    #[test]
    fn deviation_rules() {
        // Small populations: one deviation is isolated, two recur.
        let small = |d| Facts {
            deviations: d,
            ..Facts::clean(5)
        };
        assert_eq!(
            decide(&small(1), &policy()).0,
            Conclusion::EffectiveWithExceptions
        );
        assert_eq!(decide(&small(2), &policy()).0, Conclusion::Ineffective);
        // The rate threshold is strict: exactly 5% is still isolated.
        let rate = |d| Facts {
            deviations: d,
            ..Facts::clean(200)
        };
        assert_eq!(
            decide(&rate(10), &policy()).0,
            Conclusion::EffectiveWithExceptions
        );
        assert_eq!(decide(&rate(11), &policy()).0, Conclusion::Ineffective);
        // Samples: two deviations are systematic whatever the population.
        let sample = Facts {
            deviations: 2,
            sampled: true,
            ..Facts::clean(1_000_000)
        };
        assert_eq!(decide(&sample, &policy()).0, Conclusion::Ineffective);
        // Systematic deviations outrank missing coverage.
        let both = Facts {
            deviations: 50,
            coverage: CoverageResult::NoEvidence,
            ..Facts::clean(100)
        };
        assert_eq!(decide(&both, &policy()).0, Conclusion::Ineffective);
    }

    #[test]
    fn configuration_rules() {
        let failed = Facts {
            configuration_failed: true,
            ..Facts::clean(3)
        };
        assert_eq!(decide(&failed, &policy()).0, Conclusion::Ineffective);
        let missing = Facts {
            configuration_missing: true,
            ..Facts::clean(3)
        };
        assert_eq!(
            decide(&missing, &policy()).0,
            Conclusion::InsufficientEvidence
        );
        let stale = Facts {
            configuration_stale: true,
            configuration_missing: true,
            ..Facts::clean(3)
        };
        assert_eq!(decide(&stale, &policy()).0, Conclusion::Stale);
        let required = Facts {
            require_population: true,
            ..Facts::clean(0)
        };
        assert_eq!(
            decide(&required, &policy()).0,
            Conclusion::InsufficientEvidence
        );
        // A monitoring control that ran all period with nothing to test did not occur.
        let quiet = Facts {
            coverage: CoverageResult::Covered {
                days_with_evidence: 90,
            },
            coverage_from_other_events: true,
            ..Facts::clean(0)
        };
        assert_eq!(decide(&quiet, &policy()).0, Conclusion::NotOccurred);
    }
}
