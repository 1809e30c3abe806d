//! Tenant isolation: clean ledgers pass, shared keys warn, and an event moved into another
//! tenant's chain breaks every check that should notice it.

use spanforge_chain::compat::HmacSecret;
use spanforge_chain::note::NoteSigner;
use spanforge_mapping::isolation::{IsolationReport, TenantIsolation, verify_isolation};
use spanforge_mapping::period::Day;
use spanforge_mapping::testing::Workload;
use spanforge_store::{HmacKey, KeyId, SqliteLedger, StaticKeys, TenantId};

fn workload() -> Workload {
    Workload::new(Day::parse("2026-03-01").unwrap(), 3).with_calls_per_day(4)
}

fn own_keys(ledger: &SqliteLedger) -> StaticKeys {
    let key = |id: &str, secret: &str| {
        HmacKey::new(
            KeyId::new(id).unwrap(),
            HmacSecret::new_native(secret).unwrap(),
        )
    };
    StaticKeys::new()
        .with_tenant_key(
            TenantId::org("acme").unwrap(),
            key("acme-1", "acme-only-secret-0123456789abcdef!"),
        )
        .with_tenant_key(
            TenantId::org("globex").unwrap(),
            key("globex-1", "globex-only-secret-0123456789abcd!"),
        )
        .with_checkpoint_signer(NoteSigner::from_seed(&ledger.log_key_name(), &[1; 32]).unwrap())
}

fn tenant<'a>(report: &'a IsolationReport, path: &str) -> &'a TenantIsolation {
    report.tenants.iter().find(|t| t.tenant == path).unwrap()
}

#[test]
fn tenants_with_their_own_keys_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = SqliteLedger::open(dir.path().join("l.db")).unwrap();
    let keys = own_keys(&ledger);
    workload().append_to(&mut ledger, &keys).unwrap();
    let report = verify_isolation(&ledger, &keys).unwrap();
    assert!(report.ok, "{:?}", report.failures);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.tenants.len(), 2);
    for t in &report.tenants {
        assert!(t.chain_verified);
        assert!(t.events_checked_under_other_keys > 0);
        assert_eq!(t.verified_under_other_keys, 0);
        assert_eq!((t.foreign_events, t.query_leaks), (0, 0));
        assert_eq!(t.query_events, t.events);
    }
}

#[test]
fn a_shared_key_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = SqliteLedger::open(dir.path().join("l.db")).unwrap();
    let keys = StaticKeys::new().with_default_key(HmacKey::derived(
        HmacSecret::new_native("one-key-for-everyone-0123456789abc").unwrap(),
    ));
    workload().append_to(&mut ledger, &keys).unwrap();
    let report = verify_isolation(&ledger, &keys).unwrap();
    assert!(report.ok, "{:?}", report.failures);
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("shares a signing key"));
}

#[test]
fn an_event_moved_into_another_tenants_chain_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let mut ledger = SqliteLedger::open(&path).unwrap();
    let keys = own_keys(&ledger);
    workload().append_to(&mut ledger, &keys).unwrap();
    drop(ledger);
    {
        // Overwrite one of acme's stored events with one of globex's (envelope and leaf).
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch("DROP TRIGGER events_append_only_update;")
            .unwrap();
        let acme: i64 = db
            .query_row(
                "SELECT tenant FROM tenants WHERE org_id = 'acme'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let globex: i64 = db
            .query_row(
                "SELECT tenant FROM tenants WHERE org_id = 'globex'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let (envelope, leaf): (Vec<u8>, Vec<u8>) = db
            .query_row(
                "SELECT envelope, leaf_hash FROM events WHERE tenant = ?1 AND event_type = 'audit.chain_verified' LIMIT 1",
                [globex],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let changed = db
            .execute(
                "UPDATE events SET envelope = ?1, leaf_hash = ?2 WHERE id = (SELECT id FROM events WHERE tenant = ?3 AND event_type = 'audit.chain_verified' LIMIT 1)",
                rusqlite::params![envelope, leaf, acme],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
    let ledger = SqliteLedger::open(&path).unwrap();
    let report = verify_isolation(&ledger, &keys).unwrap();
    assert!(!report.ok);
    let acme = tenant(&report, "org/acme");
    assert!(!acme.chain_verified, "own-chain check");
    assert_eq!(acme.foreign_events, 1, "own-events check");
    assert_eq!(acme.query_leaks, 1, "query check");
    let text = report.failures.join("\n");
    assert!(text.contains("does not verify on its own"), "{text}");
    assert!(text.contains("belongs to org/globex"), "{text}");
    assert!(text.contains("evidence query returned"), "{text}");
    // Globex itself is untouched.
    let globex = tenant(&report, "org/globex");
    assert!(globex.chain_verified && globex.foreign_events == 0 && globex.query_leaks == 0);
}

#[test]
fn a_chain_signed_with_another_tenants_secret_fails_under_its_own_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = SqliteLedger::open(dir.path().join("l.db")).unwrap();
    let keys = own_keys(&ledger);
    // Acme's events are signed with globex's secret under acme's key id: what a misconfigured
    // writer (or one holding the wrong tenant's key) would produce.
    let crossed = StaticKeys::new()
        .with_tenant_key(
            TenantId::org("acme").unwrap(),
            HmacKey::new(
                KeyId::new("acme-1").unwrap(),
                HmacSecret::new_native("globex-only-secret-0123456789abcd!").unwrap(),
            ),
        )
        .with_tenant_key(
            TenantId::org("globex").unwrap(),
            HmacKey::new(
                KeyId::new("globex-1").unwrap(),
                HmacSecret::new_native("globex-only-secret-0123456789abcd!").unwrap(),
            ),
        );
    workload().append_to(&mut ledger, &crossed).unwrap();
    let report = verify_isolation(&ledger, &keys).unwrap();
    assert!(!report.ok);
    let acme = tenant(&report, "org/acme");
    assert!(
        !acme.chain_verified,
        "acme's chain must not verify under acme's own key"
    );
    // The ledger's key records show that one secret signed both chains.
    assert_eq!(acme.shares_key_with, vec!["org/globex".to_owned()]);
    let text = report.failures.join("\n");
    assert!(
        text.contains("tenant org/acme: its chain does not verify on its own"),
        "{text}"
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("shares a signing key")),
        "{:?}",
        report.warnings
    );
    // Globex signed with its own key: its chain still verifies.
    let globex = tenant(&report, "org/globex");
    assert!(globex.chain_verified);
}
