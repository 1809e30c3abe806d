use std::time::Instant;
use spanforge_store::{Query, SqliteLedger, TenantId};
fn cpu() -> f64 { unsafe_free_cpu() }
fn unsafe_free_cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}
fn main() {
    let ledger = SqliteLedger::open("/tmp/probe.db").unwrap();
    let (c0, t0) = (cpu(), Instant::now());
    let rows: Vec<_> = ledger.query(&Query::tenant(TenantId::org("acme").unwrap())).unwrap().take(200_000).map(|r| r.unwrap()).collect();
    println!("query 200k: wall {:?} cpu {:.2}", t0.elapsed(), cpu() - c0);
    let (c0, t0) = (cpu(), Instant::now());
    let mut n = 0; for r in &rows { if spanforge_event::Event::from_json_str(&r.envelope).is_ok() { n += 1; } }
    println!("Event::from_json_str: wall {:?} cpu {:.2} {n}", t0.elapsed(), cpu() - c0);
    let (c0, t0) = (cpu(), Instant::now());
    let mut n = 0; for r in &rows { if spanforge_event::json::parse(&r.envelope).is_ok() { n += 1; } }
    println!("json::parse: wall {:?} cpu {:.2} {n}", t0.elapsed(), cpu() - c0);
    let (c0, t0) = (cpu(), Instant::now());
    let mut n = 0; for r in &rows { if serde_json::from_str::<serde_json::Value>(&r.envelope).is_ok() { n += 1; } }
    println!("serde Value: wall {:?} cpu {:.2} {n}", t0.elapsed(), cpu() - c0);
    #[derive(serde::Deserialize)]
    struct Env<'a> { #[allow(dead_code)] payload: serde::de::IgnoredAny, #[serde(borrow)] trace_id: Option<&'a str>, #[serde(borrow)] actor_id: Option<&'a str> }
    let (c0, t0) = (cpu(), Instant::now());
    let mut n = 0; for r in &rows { if let Ok(e) = serde_json::from_str::<Env>(&r.envelope) { if e.trace_id.is_some() | e.actor_id.is_some() { n += 1; } } }
    println!("serde borrowed: wall {:?} cpu {:.2} {n}", t0.elapsed(), cpu() - c0);
    let (c0, t0) = (cpu(), Instant::now());
    let mut h = 0u8; for r in &rows { let d = spanforge_chain::merkle::leaf_hash(r.envelope.as_bytes()); h ^= d.as_bytes()[0]; }
    println!("leaf hash: wall {:?} cpu {:.2} {h}", t0.elapsed(), cpu() - c0);
}
