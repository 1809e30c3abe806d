//! [`RecordPage`]: a page of stored events read into reusable buffers, and [`RecordRef`], one
//! event of it borrowed.
//!
//! Scans that read every row (verification) would otherwise allocate a dozen strings and byte
//! vectors per event and free them on another thread; a page keeps the text columns in one
//! string and the blobs in one byte buffer, so once its buffers have grown to a page's size,
//! reading a page allocates nothing.

use std::ops::Range;

use crate::backend::{Record, TenantKey};

/// One stored event, borrowed: the fields of [`Record`], raw as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// The tenant.
    pub tenant: TenantKey,
    /// The position in the tenant's chain.
    pub seq: u64,
    /// The event id column.
    pub event_id: &'a str,
    /// The timestamp column, microseconds since the Unix epoch.
    pub ts_micros: i64,
    /// The event type column.
    pub event_type: &'a str,
    /// The model id column.
    pub model_id: Option<&'a str>,
    /// The actor id column.
    pub actor_id: Option<&'a str>,
    /// The session id column.
    pub session_id: Option<&'a str>,
    /// The key id column.
    pub key_id: &'a str,
    /// The stored envelope bytes.
    pub envelope: &'a [u8],
    /// The stored leaf hash (32 bytes when intact).
    pub leaf_hash: &'a [u8],
    /// The stored interior nodes, concatenated (32 bytes each when intact).
    pub nodes: &'a [u8],
}

impl Record {
    /// The record, borrowed.
    pub fn borrowed(&self) -> RecordRef<'_> {
        RecordRef {
            tenant: self.tenant,
            seq: self.seq,
            event_id: &self.event_id,
            ts_micros: self.ts_micros,
            event_type: &self.event_type,
            model_id: self.model_id.as_deref(),
            actor_id: self.actor_id.as_deref(),
            session_id: self.session_id.as_deref(),
            key_id: &self.key_id,
            envelope: &self.envelope,
            leaf_hash: &self.leaf_hash,
            nodes: &self.nodes,
        }
    }
}

/// Where one row's fields lie in the page's buffers.
#[derive(Clone, Debug)]
struct Spans {
    tenant: TenantKey,
    seq: u64,
    ts_micros: i64,
    /// Into `text`: event id, event type, model id, actor id, session id, key id.
    text: [Range<usize>; 6],
    /// Which of model id, actor id and session id are present.
    present: [bool; 3],
    /// Into `bytes`: envelope, leaf hash, nodes.
    bytes: [Range<usize>; 3],
}

/// Stored events read into reusable buffers; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct RecordPage {
    text: String,
    bytes: Vec<u8>,
    rows: Vec<Spans>,
}

impl RecordPage {
    /// An empty page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes every row, keeping the buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.bytes.clear();
        self.rows.clear();
    }

    /// How many rows the page holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the page holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Appends a copy of `record`.
    pub fn push(&mut self, record: &RecordRef<'_>) {
        let mut text = |s: Option<&str>| {
            let start = self.text.len();
            self.text.push_str(s.unwrap_or_default());
            start..self.text.len()
        };
        let text_spans = [
            text(Some(record.event_id)),
            text(Some(record.event_type)),
            text(record.model_id),
            text(record.actor_id),
            text(record.session_id),
            text(Some(record.key_id)),
        ];
        let mut bytes = |b: &[u8]| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(b);
            start..self.bytes.len()
        };
        let byte_spans = [
            bytes(record.envelope),
            bytes(record.leaf_hash),
            bytes(record.nodes),
        ];
        self.rows.push(Spans {
            tenant: record.tenant,
            seq: record.seq,
            ts_micros: record.ts_micros,
            text: text_spans,
            present: [
                record.model_id.is_some(),
                record.actor_id.is_some(),
                record.session_id.is_some(),
            ],
            bytes: byte_spans,
        });
    }

    /// The row at `index`.
    pub fn get(&self, index: usize) -> Option<RecordRef<'_>> {
        let spans = self.rows.get(index)?;
        // Every span was recorded when its text was pushed whole, so it lies on character
        // boundaries inside the buffer; `get` checks that again without panicking.
        let text = |i: usize| {
            spans
                .text
                .get(i)
                .and_then(|r| self.text.get(r.clone()))
                .unwrap_or_default()
        };
        let optional = |i: usize| {
            spans
                .present
                .get(i - 2)
                .copied()
                .unwrap_or(false)
                .then(|| text(i))
        };
        let bytes = |i: usize| {
            spans
                .bytes
                .get(i)
                .and_then(|r| self.bytes.get(r.clone()))
                .unwrap_or_default()
        };
        Some(RecordRef {
            tenant: spans.tenant,
            seq: spans.seq,
            event_id: text(0),
            ts_micros: spans.ts_micros,
            event_type: text(1),
            model_id: optional(2),
            actor_id: optional(3),
            session_id: optional(4),
            key_id: text(5),
            envelope: bytes(0),
            leaf_hash: bytes(1),
            nodes: bytes(2),
        })
    }

    /// The rows, in order.
    pub fn iter(&self) -> impl Iterator<Item = RecordRef<'_>> + '_ {
        (0..self.rows.len()).filter_map(|i| self.get(i))
    }

    /// The last row.
    pub fn last(&self) -> Option<RecordRef<'_>> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64, model: Option<&str>) -> Record {
        Record {
            tenant: TenantKey(3),
            seq,
            event_id: format!("id-{seq}"),
            ts_micros: -5 + seq as i64,
            event_type: "llm.trace.span.completed".into(),
            model_id: model.map(str::to_owned),
            actor_id: None,
            session_id: Some(String::new()),
            key_id: "k1".into(),
            envelope: format!("{{\"é\":{seq}}}").into_bytes(),
            leaf_hash: vec![seq as u8; 32],
            nodes: vec![7; 32 * (seq as usize % 3)],
        }
    }

    #[test]
    fn rows_come_back_as_pushed_and_clear_keeps_nothing() {
        let records: Vec<Record> = (0..5)
            .map(|i| record(i, (i % 2 == 0).then_some("gpt-4o")))
            .collect();
        let mut page = RecordPage::new();
        for _ in 0..2 {
            page.clear();
            assert!(page.is_empty());
            for r in &records {
                page.push(&r.borrowed());
            }
            assert_eq!(page.len(), records.len());
            let back: Vec<RecordRef<'_>> = page.iter().collect();
            let want: Vec<RecordRef<'_>> = records.iter().map(Record::borrowed).collect();
            assert_eq!(back, want);
            assert_eq!(page.last(), want.last().copied());
            assert_eq!(page.get(records.len()), None);
        }
    }
}
