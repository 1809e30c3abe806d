use std::time::Instant;
use spanforge_chain::compat::HmacSecret;
use spanforge_chain::note::NoteSigner;
use spanforge_mapping::period::Day;
use spanforge_mapping::testing::Workload;
use spanforge_store::{HmacKey, Query, SqliteLedger, StaticKeys, TenantId, VerifyOptions};

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let path = std::env::args().nth(2).unwrap_or("/tmp/probe.db".into());
    let exists = std::path::Path::new(&path).exists();
    let mut ledger = SqliteLedger::open(&path).unwrap();
    let keys = StaticKeys::new()
        .with_default_key(HmacKey::derived(HmacSecret::new_native("probe-signing-secret-0123456789abcdef").unwrap()))
        .with_checkpoint_signer(NoteSigner::from_seed(&ledger.log_key_name(), &[9; 32]).unwrap());
    let w = Workload::new(Day::parse("2026-01-01").unwrap(), 90).sized_for(n);
    if !exists {
        let t = Instant::now();
        let total = w.append_to(&mut ledger, &keys).unwrap();
        println!("append {total} in {:?}", t.elapsed());
    }
    let t = Instant::now();
    let r = ledger.verify(&keys, &VerifyOptions::new()).unwrap();
    println!("verify valid={} events={} in {:?}", r.valid, r.events, t.elapsed());
    let t = Instant::now();
    let mut count = 0u64; let mut bytes = 0usize;
    for tenant in ["acme", "globex"] {
        for e in ledger.query(&Query::tenant(TenantId::org(tenant).unwrap())).unwrap() {
            let e = e.unwrap(); count += 1; bytes += e.envelope.len();
        }
    }
    println!("query {count} ({bytes} bytes) in {:?}", t.elapsed());
    let t = Instant::now();
    let mut parsed = 0u64;
    for tenant in ["acme", "globex"] {
        for e in ledger.query(&Query::tenant(TenantId::org(tenant).unwrap())).unwrap() {
            let e = e.unwrap(); let ev = e.event().unwrap(); if ev.model_id().is_some() { parsed += 1; }
        }
    }
    println!("query+parse {parsed} in {:?}", t.elapsed());
}
