//! Remediation steps derived from a control's own data: its evidence rules (which events, with
//! which fields), its attributes, its documents and what the assessment found.

use spanforge_catalog::canonical::EvidenceRole;

use crate::conclusion::Conclusion;
use crate::coverage::CoverageResult;
use crate::engine::ControlResult;
use crate::period::Period;
use crate::rules::ControlRules;

/// How the control's evidence should be recorded, from its population (or attestation) rules.
fn how_to_record(rules: &ControlRules) -> String {
    let control = rules.control;
    let role = rules.population_role.unwrap_or(EvidenceRole::Population);
    let parts: Vec<String> = control
        .evidence
        .iter()
        .filter(|r| r.role == role)
        .map(|r| {
            let events: Vec<String> = r.events.iter().map(|e| format!("`{e}`")).collect();
            if r.conditions.is_empty() {
                events.join(" or ")
            } else {
                let conditions: Vec<String> =
                    r.conditions.iter().map(ToString::to_string).collect();
                format!("{} with {}", events.join(" or "), conditions.join(", "))
            }
        })
        .collect();
    if parts.is_empty() {
        "the control's evidence events".to_owned()
    } else {
        parts.join("; or ")
    }
}

fn frequency_words(frequency: &str) -> &'static str {
    match frequency {
        "continuous" => "continuously (every day of the period)",
        "daily" => "every day",
        "weekly" => "every week",
        "monthly" => "every month",
        "quarterly" => "every quarter",
        "annual" => "every year",
        "per-change" => "for every change",
        _ => "each time it is triggered",
    }
}

/// The remediation steps for a control's result.
pub fn for_control(rules: &ControlRules, result: &ControlResult, period: &Period) -> Vec<String> {
    let mut steps = Vec::new();
    let record = how_to_record(rules);
    let documents = if result.documents.is_empty() {
        String::new()
    } else {
        format!(" Keep on file: {}.", result.documents.join("; "))
    };
    match result.conclusion {
        Conclusion::Effective | Conclusion::NotApplicable => {}
        Conclusion::ManualEvidencePending => steps.push(format!(
            "Perform \"{}\" and record it as {record}, so the attestation and its document hash are in the ledger \
             for the period {period}.{documents}",
            result.title
        )),
        Conclusion::Stale => steps.push(format!(
            "The evidence is out of date ({}). Perform \"{}\" again ({}), record it as {record}, and keep it within the \
             control's interval from then on.{documents}",
            result.reason,
            result.title,
            frequency_words(&result.frequency)
        )),
        Conclusion::NotOccurred => steps.push(format!(
            "Nothing \"{}\" acts on occurred in {period}. If something should have, check that {record} is \
             instrumented; otherwise keep the procedure ready and show the auditor how it would operate.{documents}",
            result.title
        )),
        Conclusion::InsufficientEvidence | Conclusion::Ineffective | Conclusion::EffectiveWithExceptions => {}
    }
    match &result.coverage {
        CoverageResult::Gaps {
            missing_days,
            gaps,
            gap_count,
            ..
        } => {
            let listed: Vec<String> = gaps
                .iter()
                .take(5)
                .map(|g| if g.from == g.to { g.from.clone() } else { format!("{}..{}", g.from, g.to) })
                .collect();
            steps.push(format!(
                "Evidence is missing for {missing_days} day(s) in {gap_count} stretch(es) (first: {}). Make sure the \
                 control runs {} and that each run is recorded as {record}; explain the missing stretches to the \
                 auditor (outage, holiday) with supporting records.",
                listed.join(", "),
                frequency_words(&result.frequency)
            ));
        }
        CoverageResult::NoEvidence if result.conclusion == Conclusion::InsufficientEvidence => steps.push(format!(
            "No evidence of \"{}\" exists for {period}. Instrument it: record {record} {}.{documents}",
            result.title,
            frequency_words(&result.frequency)
        )),
        _ => {}
    }
    if let Some(cfg) = &result.configuration {
        let config_rules: Vec<String> = rules
            .configuration
            .iter()
            .map(|m| {
                let mut conditions: Vec<String> =
                    m.selectors.iter().map(ToString::to_string).collect();
                conditions.extend(m.tests.iter().map(ToString::to_string));
                format!(
                    "`dev.spanforge.config.captured` with {}",
                    conditions.join(", ")
                )
            })
            .collect();
        if cfg.in_period_meeting_rule == 0 && cfg.in_period_failing_rule == 0 {
            steps.push(format!(
                "Capture a configuration snapshot inside the period ({}), after the period starts and before it ends.",
                config_rules.join("; or ")
            ));
        } else if cfg.in_period_meeting_rule == 0 {
            steps.push(format!(
                "The configuration in force does not meet the control's rule ({}); correct the configuration and capture \
                 a new snapshot. Findings: {}",
                config_rules.join("; or "),
                cfg.failures.join("; ")
            ));
        }
    }
    if result.population == 0
        && result.conclusion == Conclusion::InsufficientEvidence
        && result.configuration.is_none()
        && !matches!(
            result.coverage,
            CoverageResult::Gaps { .. } | CoverageResult::NoEvidence
        )
    {
        steps.push(format!(
            "Record {record} inside the period {period}.{documents}"
        ));
    }
    for a in &result.attributes {
        if a.status != "fail" {
            continue;
        }
        if a.failed > 0 {
            steps.push(format!(
                "{} of {} item(s) failed {} \"{}\" ({}). Investigate each one listed in controls/{}/exceptions.jsonl, \
                 record its root cause and the fix, and correct the process so the attribute holds.",
                a.failed, a.tested, a.id, a.name, a.test, result.id
            ));
        }
        for check in a.period_checks.iter().filter(|c| !c.passed) {
            let detail = if check.listed.is_empty() {
                String::new()
            } else {
                format!(
                    " First finding: {}.",
                    check.listed.first().map_or("", String::as_str)
                )
            };
            steps.push(format!(
                "{} \"{}\" failed its period check ({}).{detail}",
                a.id, a.name, check.method
            ));
        }
    }
    if result.exception_events > 0 {
        let types: Vec<String> = rules
            .exceptions
            .iter()
            .flat_map(|m| m.patterns.iter().map(|p| format!("`{p}`")))
            .collect();
        steps.push(format!(
            "{} exception event(s) ({}) occurred; link each to an investigation with a root cause and resolution.",
            result.exception_events,
            types.join(", ")
        ));
    }
    let manual: Vec<String> = result
        .attributes
        .iter()
        .filter(|a| a.status == "manual")
        .map(|a| format!("{} \"{}\"", a.id, a.name))
        .collect();
    if !manual.is_empty() && result.conclusion != Conclusion::NotApplicable && !steps.is_empty() {
        steps.push(format!(
            "Test these attributes by inspection, since events cannot: {}.",
            manual.join(", ")
        ));
    }
    steps
}
