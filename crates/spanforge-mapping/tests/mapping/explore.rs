use spanforge_catalog::FrameworkId;
use spanforge_mapping::engine::AssessmentRequest;
use spanforge_mapping::package::{generate_package, verify_package};

use crate::support::*;

#[test]
fn explore() {
    let mut f = shared();
    println!("events {}", f.events);
    let req = AssessmentRequest::new(FrameworkId::Soc2, period(), now());
    let out = f.out("soc2");
    let t = std::time::Instant::now();
    let Fixture { ledger, keys, signer, .. } = &mut *f;
    let s = generate_package(ledger, keys, &rules(), &req, &out, signer, "test").unwrap();
    println!("generated in {:?}: {} files {} bytes {} proofs", t.elapsed(), s.files, s.bytes, s.proofs);
    for c in &s.assessment.controls {
        println!("{} {:?} pop={} dev={} :: {}", c.id, c.conclusion, c.population, c.deviations_counted, c.reason);
        for a in &c.attributes { if a.status == "fail" { println!("    {} {} tested={} failed={}", a.id, a.status, a.tested, a.failed); } }
        for d in c.deviations.iter().take(2) { println!("    dev: {}", d.reason); }
    }
    for n in &s.assessment.nodes { println!("{} {:?}", n.id, n.status); }
    let r = verify_package(&out, &[f.verifier()]).unwrap();
    println!("{r:?}");
    assert!(r.ok);
}
