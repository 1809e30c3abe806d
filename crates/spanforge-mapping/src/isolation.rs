//! Tenant isolation (CC6.1, and the guide's question 8): proof that each tenant's chain stands
//! on its own, under its own key, holds only its own events, and that evidence queries never
//! cross tenants.
//!
//! Checks, per tenant:
//! 1. **Own chain.** The tenant's chain and tree verify on their own (`verify` limited to the
//!    tenant).
//! 2. **Own key.** The keys that signed the tenant's chain are not used by any other tenant
//!    (the ledger records a check value per key; equal values mean one secret). Tenants sharing
//!    a key are reported as a warning, since nothing is then wrong with either chain. For
//!    tenants with keys of their own, a sample of their events is checked under every other
//!    tenant's keys: none may verify.
//! 3. **Own events.** Every event in the tenant's chain carries the tenant's `org_id`.
//! 4. **Isolated queries.** The evidence query the mapping engine uses returns exactly the
//!    tenant's events: as many as its chain holds, all of them its own.

use std::collections::BTreeMap;

use serde::Serialize;
use spanforge_chain::compat::{self, EventCheck};
use spanforge_event::Event;
use spanforge_store::{Backend, HmacKey, KeyProvider, Ledger, Query, TenantId, VerifyOptions};

use crate::error::{Error, Result};

/// Events per tenant checked under other tenants' keys.
const KEY_SAMPLE: u64 = 64;

/// What the checks found for one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TenantIsolation {
    /// The tenant's origin path.
    pub tenant: String,
    /// Events in its chain.
    pub events: u64,
    /// Check 1: its chain verifies on its own.
    pub chain_verified: bool,
    /// The key ids that signed its chain.
    pub key_ids: Vec<String>,
    /// Tenants whose chains were signed with one of the same keys.
    pub shares_key_with: Vec<String>,
    /// Events checked under other tenants' keys.
    pub events_checked_under_other_keys: u64,
    /// Check 2: events that verified under another tenant's key.
    pub verified_under_other_keys: u64,
    /// Check 3: events in its chain whose `org_id` names another tenant.
    pub foreign_events: u64,
    /// Check 4: events its evidence query returned.
    pub query_events: u64,
    /// Check 4: events its query returned that belong to another tenant.
    pub query_leaks: u64,
}

/// The result of [`verify_isolation`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IsolationReport {
    /// True when no check failed (warnings allowed).
    pub ok: bool,
    /// Per-tenant results.
    pub tenants: Vec<TenantIsolation>,
    /// Conditions that weaken isolation without breaking it (shared keys).
    pub warnings: Vec<String>,
    /// Failed checks, naming tenant and event.
    pub failures: Vec<String>,
}

fn parse(envelope: &str, context: &str) -> Result<Event> {
    Event::from_json_str_for_reading(envelope).map_err(|source| Error::Event {
        context: context.to_owned(),
        source,
    })
}

/// Runs the isolation checks over every tenant of the ledger.
///
/// # Errors
///
/// Ledger read errors; integrity findings are reported, not returned as errors.
pub fn verify_isolation<B: Backend>(
    ledger: &Ledger<B>,
    keys: &dyn KeyProvider,
) -> Result<IsolationReport> {
    let tenants = ledger
        .tenants()
        .map_err(|e| Error::store("listing tenants", e))?;
    let key_infos = ledger
        .keys(None)
        .map_err(|e| Error::store("listing keys", e))?;
    let mut warnings = Vec::new();
    let mut failures = Vec::new();

    // Key check values per tenant, and which tenants share one.
    let mut checks_of: BTreeMap<TenantId, Vec<(String, String)>> = BTreeMap::new();
    for k in &key_infos {
        checks_of
            .entry(k.tenant.clone())
            .or_default()
            .push((k.record.key_id.to_string(), k.record.check.clone()));
    }
    let mut tenants_of_check: BTreeMap<String, Vec<TenantId>> = BTreeMap::new();
    for (t, list) in &checks_of {
        for (_, check) in list {
            let entry = tenants_of_check.entry(check.clone()).or_default();
            if !entry.contains(t) {
                entry.push(t.clone());
            }
        }
    }

    let mut out = Vec::new();
    for summary in &tenants {
        let t = &summary.tenant;
        let path = t.origin_path();
        let own_checks = checks_of.get(t).cloned().unwrap_or_default();
        let mut shares: Vec<String> = own_checks
            .iter()
            .flat_map(|(_, check)| tenants_of_check.get(check).into_iter().flatten())
            .filter(|o| *o != t)
            .map(TenantId::origin_path)
            .collect();
        shares.sort();
        shares.dedup();
        let mut result = TenantIsolation {
            tenant: path.clone(),
            events: summary.size,
            chain_verified: false,
            key_ids: own_checks.iter().map(|(id, _)| id.clone()).collect(),
            shares_key_with: shares.clone(),
            events_checked_under_other_keys: 0,
            verified_under_other_keys: 0,
            foreign_events: 0,
            query_events: 0,
            query_leaks: 0,
        };

        // 1. Own chain.
        let report = ledger
            .verify(keys, &VerifyOptions::new().only_tenant(t.clone()))
            .map_err(|e| Error::store(format!("verifying tenant {t}"), e))?;
        result.chain_verified = report.valid && report.tenants.iter().all(|r| r.valid);
        if !result.chain_verified {
            let detail: Vec<String> = report
                .tenants
                .iter()
                .flat_map(|r| {
                    r.first_tampered
                        .iter()
                        .map(|e| format!("first failing event {e}"))
                        .chain(r.problems.iter().cloned())
                })
                .collect();
            failures.push(format!(
                "tenant {path}: its chain does not verify on its own ({})",
                detail.join("; ")
            ));
        }

        // 2. Own key: which other tenants' keys to try (events are sampled in the pass below).
        let mut others_keys: Vec<HmacKey> = Vec::new();
        if !shares.is_empty() {
            warnings.push(format!(
                "tenant {path} shares a signing key with {}: each chain verifies, but one key's compromise affects both",
                shares.join(", ")
            ));
        } else {
            let mut others: Vec<HmacKey> = Vec::new();
            for other in tenants.iter().filter(|o| o.tenant != *t) {
                let other_checks = checks_of.get(&other.tenant).cloned().unwrap_or_default();
                for k in keys.keys_for(&other.tenant).map_err(|e| {
                    Error::store(format!("reading the keys of tenant {}", other.tenant), e)
                })? {
                    // Only keys that really signed the other tenant's chain count as its own.
                    if other_checks.iter().any(|(_, c)| *c == k.check_value())
                        && !own_checks.iter().any(|(_, c)| *c == k.check_value())
                        && !others.iter().any(|o| o.check_value() == k.check_value())
                    {
                        others.push(k);
                    }
                }
            }
            others_keys = others;
        }

        // 3. Own events, in chain order; every `step`-th event is also tried under the other
        // tenants' keys (check 2).
        let step = (summary.size / KEY_SAMPLE).max(1);
        for (seq, line) in ledger
            .export(t, None, None)
            .map_err(|e| Error::store(format!("reading tenant {t}"), e))?
            .enumerate()
        {
            let line = line.map_err(|e| Error::store(format!("reading tenant {t}"), e))?;
            let event = parse(&line, "parsing an event for the ownership check")?;
            if !others_keys.is_empty() && (seq as u64).is_multiple_of(step) {
                result.events_checked_under_other_keys += 1;
                for k in &others_keys {
                    if compat::check_event(&event, k.secret()) == EventCheck::Valid {
                        result.verified_under_other_keys += 1;
                        failures.push(format!(
                            "tenant {path}: event {} verifies under key {} of another tenant",
                            event.event_id().as_str(),
                            k.id()
                        ));
                    }
                }
            }
            if TenantId::of_event(&event) != *t {
                result.foreign_events += 1;
                if result.foreign_events <= 10 {
                    failures.push(format!(
                        "tenant {path}: event {} in its chain belongs to {}",
                        event.event_id().as_str(),
                        TenantId::of_event(&event).origin_path()
                    ));
                }
            }
        }

        // 4. The evidence query returns exactly the tenant's events.
        for row in ledger
            .query(&Query::tenant(t.clone()))
            .map_err(|e| Error::store(format!("querying tenant {t}"), e))?
        {
            let row = row.map_err(|e| Error::store(format!("querying tenant {t}"), e))?;
            result.query_events += 1;
            let event = parse(&row.envelope, "parsing a queried event")?;
            if row.tenant != *t || TenantId::of_event(&event) != *t {
                result.query_leaks += 1;
                if result.query_leaks <= 10 {
                    failures.push(format!(
                        "tenant {path}: its evidence query returned event {} of {}",
                        row.event_id,
                        TenantId::of_event(&event).origin_path()
                    ));
                }
            }
        }
        if result.query_events != summary.size {
            failures.push(format!(
                "tenant {path}: its evidence query returned {} events, its chain holds {}",
                result.query_events, summary.size
            ));
        }
        out.push(result);
    }
    Ok(IsolationReport {
        ok: failures.is_empty(),
        tenants: out,
        warnings,
        failures,
    })
}
