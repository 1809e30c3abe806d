//! The model registry as change-management evidence.

use spanforge_event::json::{Map, Value};

/// The `decision.made` payload that records the approval of a model release.
pub fn approval_payload(model_id: &str, version: &str, change_id: &str, note: &str) -> Value {
    let mut map = Map::new();
    map.insert("agent_id", "spanforge-model-registry");
    map.insert("approval_of", "model_release");
    map.insert("change_id", change_id);
    map.insert("confidence", 1.0);
    map.insert("decision", "approved");
    map.insert("decision_id", format!("approve:{change_id}"));
    map.insert("decision_type", "other");
    map.insert("input_summary", format!("release of {model_id} version {version}"));
    map.insert("latency_ms", 0.0);
    map.insert("model_id", model_id);
    map.insert("output_summary", note);
    map.insert("rationale_hash", "");
    map.insert("version", version);
    Value::Object(map)
}
