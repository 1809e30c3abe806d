//! A chain written by the reference SDK (spanforge 1.0.4): key rotated mid-chain, two
//! tombstones from `erase_subject`, and payloads that exercise its JSON corners. It verifies with
//! the compatible verifier and a keyring of both secrets (no key map), and every tampered variant
//! is reported with the right event id. The fixture and its keys are in
//! `crates/spanforge-event/tests/data/` (`reference_chain_rotated.*`).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use serde_json::Value;
use spanforge_chain::compat::{ChainReport, ChainVerifier, HmacSecret, Keyring, sign};
use spanforge_event::Event;

fn data(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../spanforge-event/tests/data")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Fixture {
    events: Vec<Event>,
    old: HmacSecret,
    new: HmacSecret,
    rotation: usize,
}

fn fixture() -> Fixture {
    let keys: Value = serde_json::from_str(&data("reference_chain_rotated.keys.json")).unwrap();
    let events: Vec<Event> = data("reference_chain_rotated.jsonl")
        .lines()
        .map(|l| Event::from_json_str(l).unwrap())
        .collect();
    let rotation_id = keys["rotation_event_id"].as_str().unwrap();
    let rotation = events
        .iter()
        .position(|e| e.event_id().as_str() == rotation_id)
        .unwrap();
    Fixture {
        old: HmacSecret::new(keys["initial_key"].as_str().unwrap()).unwrap(),
        new: HmacSecret::new(keys["key_map"][rotation_id].as_str().unwrap()).unwrap(),
        events,
        rotation,
    }
}

impl Fixture {
    fn ring(&self) -> Keyring {
        let mut ring = Keyring::new(self.old.clone());
        ring.add(self.new.clone());
        ring
    }

    /// The key the reference signed event `i` with.
    fn key_of(&self, i: usize) -> &HmacSecret {
        if i <= self.rotation {
            &self.old
        } else {
            &self.new
        }
    }

    fn id(&self, i: usize) -> String {
        self.events[i].event_id().to_string()
    }
}

fn verify(events: &[Event], ring: &Keyring) -> ChainReport {
    let mut v = ChainVerifier::new(ring, None);
    for e in events {
        v.push(e);
    }
    v.finish()
}

#[test]
fn the_reference_rotated_chain_verifies_with_a_keyring_and_no_key_map() {
    let f = fixture();
    assert_eq!(f.events.len(), 13);
    let report = verify(&f.events, &f.ring());
    assert!(report.valid, "{report:#?}");
    assert_eq!(report.events, 13);
    assert_eq!(report.tombstone_count, 2);
    assert_eq!(report.rotations.len(), 1);
    assert!(report.rotations[0].key_found);
    assert_eq!(report.rotations[0].event_id, f.id(f.rotation));

    // With the old key alone, the events after the rotation fail, and the report says why.
    let report = verify(&f.events, &Keyring::new(f.old.clone()));
    assert!(!report.valid);
    assert_eq!(
        report.tampered_count,
        (f.events.len() - f.rotation - 1) as u64
    );
    assert_eq!(report.first_tampered, Some(f.id(f.rotation + 1)));
    assert!(!report.rotations[0].key_found);
}

#[test]
fn each_tampered_variant_of_the_reference_chain_is_named() {
    let f = fixture();
    let ring = f.ring();
    // Before and after the rotation.
    for k in [3, f.rotation + 3] {
        // An edited payload: its checksum fails.
        let mut edited = f.events.clone();
        let text = edited[k].to_canonical_json();
        let changed = text.replacen(r#""seq":"#, r#""seq":1"#, 1).replacen(
            r#""purpose":"support""#,
            r#""purpose":"marketing""#,
            1,
        );
        assert_ne!(changed, text, "event {k} has neither member to edit");
        edited[k] = Event::from_json_str(&changed).unwrap();
        let r = verify(&edited, &ring);
        assert!(!r.valid);
        assert_eq!(r.first_tampered, Some(f.id(k)), "edited {k}");
        assert_eq!((r.tampered_count, r.tampered[0].reason), (1, "checksum"));

        // A deleted event: the next one no longer links.
        let mut deleted = f.events.clone();
        deleted.remove(k);
        let r = verify(&deleted, &ring);
        assert!(!r.valid);
        assert_eq!(r.gaps, [f.id(k + 1)], "deleted {k}");
        assert_eq!(r.tampered_count, 0);

        // Two events swapped: both, and the one after them, no longer link.
        let mut swapped = f.events.clone();
        swapped.swap(k, k + 1);
        let r = verify(&swapped, &ring);
        assert!(!r.valid);
        assert_eq!(r.gaps, [f.id(k + 1), f.id(k), f.id(k + 2)], "swapped {k}");

        // A forged event: same content and link, signed with a key the chain never had.
        let mut forged = f.events.clone();
        let stranger = HmacSecret::new("not-the-chain-key-0123456789abcdef0123456789").unwrap();
        forged[k] = sign(
            f.events[k].clone(),
            &stranger,
            Some(f.events[k - 1].event_id()),
        );
        let r = verify(&forged, &ring);
        assert!(!r.valid);
        assert_eq!(r.first_tampered, Some(f.id(k)), "forged {k}");
        assert_eq!(r.tampered[0].reason, "signature");

        // An inserted event, signed with the right key and linked to its predecessor: the event
        // after it no longer links.
        let mut inserted = f.events.clone();
        let text =
            f.events[k]
                .to_canonical_json()
                .replacen(&f.id(k)[..20], "01KE1MSZZZZZZZZZZZZZ", 1);
        let extra = Event::from_json_str(&text).unwrap();
        assert_ne!(extra.event_id(), f.events[k].event_id());
        inserted.insert(
            k,
            sign(extra, f.key_of(k), Some(f.events[k - 1].event_id())),
        );
        let r = verify(&inserted, &ring);
        assert!(!r.valid);
        assert_eq!(r.gaps, [f.id(k)], "inserted before {k}");
        assert_eq!(r.tampered_count, 0);
    }
}
