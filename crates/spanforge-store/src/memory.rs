//! [`MemoryBackend`]: a ledger held in memory, for tests, benchmarks and short-lived tools.
//!
//! It implements the same backend traits as [`SqliteBackend`](crate::SqliteBackend), so the
//! same [`Ledger`](crate::Ledger) code runs over it unchanged (which is also what shows that the
//! ledger logic does not depend on SQLite). Nothing is durable, queries scan instead of using
//! indexes, and a write transaction keeps an undo log so that dropping it without committing
//! restores the state it started from.

use spanforge_chain::compat::KEY_ROTATED_TYPE;
use spanforge_chain::merkle::{Frontier, HASH_LEN, Hash, NodeId};
use spanforge_event::EventId;

use crate::backend::{
    Backend, CheckpointRecord, KeyRecord, NewRecord, Reader, Record, RecordFilter, TenantKey,
    TenantState, Writer,
};
use crate::error::{Error, Result};
use crate::keys::KeyId;
use crate::tenant::TenantId;

#[derive(Debug, Default)]
struct State {
    tenants: Vec<TenantState>,
    /// Records per tenant, in `seq` order; index `i` belongs to `TenantKey(i + 1)`. They are kept
    /// as written (ids, key ids and hashes in their fixed-size forms), so appending copies
    /// nothing; reads build [`Record`]s from them ([`stored_record`]).
    events: Vec<Vec<NewRecord>>,
    /// Event id → (tenant index, seq). Hashed with `foldhash` (seeded per map): this backend is
    /// for tests, benchmarks and short-lived tools, not for input an adversary chooses at scale.
    by_id: foldhash::HashMap<EventId, (usize, u64)>,
    keys: Vec<KeyRecord>,
    checkpoints: Vec<CheckpointRecord>,
}

/// A ledger store in memory.
#[derive(Debug)]
pub struct MemoryBackend {
    ledger_id: String,
    state: State,
}

impl MemoryBackend {
    /// An empty ledger with a fresh random id.
    pub fn new() -> Result<Self> {
        Ok(Self {
            ledger_id: crate::sqlite::new_ledger_id()?,
            state: State::default(),
        })
    }
}

/// A read view of a [`MemoryBackend`].
#[derive(Debug)]
pub struct MemoryRead<'a> {
    state: &'a State,
}

/// What a [`MemoryWrite`] must undo if it is dropped without committing.
#[derive(Debug, Default)]
struct Undo {
    tenants: usize,
    events: Vec<usize>,
    saved_tenants: Vec<TenantState>,
    keys: usize,
    checkpoints: usize,
}

/// A write transaction on a [`MemoryBackend`]; rolled back on drop unless committed.
#[derive(Debug)]
pub struct MemoryWrite<'a> {
    state: &'a mut State,
    undo: Option<Undo>,
}

impl Drop for MemoryWrite<'_> {
    fn drop(&mut self) {
        let Some(undo) = self.undo.take() else {
            return;
        };
        let s = &mut *self.state;
        // The ids of the records this transaction appended: those past each tenant's length at
        // its start (every record of a tenant it created).
        for (i, records) in s.events.iter().enumerate() {
            let kept = undo.events.get(i).copied().unwrap_or(0);
            for r in records.get(kept..).unwrap_or_default() {
                s.by_id.remove(&r.event_id);
            }
        }
        s.tenants.truncate(undo.tenants);
        s.events.truncate(undo.tenants);
        for (events, len) in s.events.iter_mut().zip(&undo.events) {
            events.truncate(*len);
        }
        // Restore in reverse so the oldest saved copy of a tenant wins.
        for saved in undo.saved_tenants.into_iter().rev() {
            if let Some(slot) = index(saved.key).and_then(|i| s.tenants.get_mut(i)) {
                *slot = saved;
            }
        }
        s.keys.truncate(undo.keys);
        s.checkpoints.truncate(undo.checkpoints);
    }
}

fn index(key: TenantKey) -> Option<usize> {
    usize::try_from(key.0).ok()?.checked_sub(1)
}

impl Backend for MemoryBackend {
    type Read<'a> = MemoryRead<'a>;
    type Write<'a> = MemoryWrite<'a>;

    fn ledger_id(&self) -> &str {
        &self.ledger_id
    }

    fn read(&self) -> Result<MemoryRead<'_>> {
        Ok(MemoryRead { state: &self.state })
    }

    fn write(&mut self) -> Result<MemoryWrite<'_>> {
        let undo = Undo {
            tenants: self.state.tenants.len(),
            events: self.state.events.iter().map(Vec::len).collect(),
            keys: self.state.keys.len(),
            checkpoints: self.state.checkpoints.len(),
            ..Undo::default()
        };
        Ok(MemoryWrite {
            state: &mut self.state,
            undo: Some(undo),
        })
    }
}

/// A stored record as the backend traits return it.
fn stored_record(r: &NewRecord) -> Record {
    let mut nodes = Vec::with_capacity(r.nodes.len() * HASH_LEN);
    for n in &r.nodes {
        nodes.extend_from_slice(n.as_bytes());
    }
    Record {
        tenant: r.tenant,
        seq: r.seq,
        event_id: r.event_id.to_string(),
        ts_micros: r.ts_micros,
        event_type: r.event_type.as_str().to_owned(),
        model_id: r.model_id.as_deref().map(str::to_owned),
        actor_id: r.actor_id.as_deref().map(str::to_owned),
        session_id: r.session_id.as_deref().map(str::to_owned),
        key_id: r.key_id.as_str().to_owned(),
        envelope: r.envelope.clone(),
        leaf_hash: r.leaf_hash.as_bytes().to_vec(),
        nodes,
    }
}

impl State {
    fn tenant_events(&self, key: TenantKey) -> &[NewRecord] {
        index(key)
            .and_then(|i| self.events.get(i))
            .map_or(&[], Vec::as_slice)
    }

    fn record(&self, key: TenantKey, seq: u64) -> Option<&NewRecord> {
        let events = self.tenant_events(key);
        let first = events.first()?.seq;
        events.get(usize::try_from(seq.checked_sub(first)?).ok()?)
    }
}

impl Reader for State {
    fn tenants(&self) -> Result<Vec<TenantState>> {
        Ok(self.tenants.clone())
    }

    fn tenant(&self, id: &TenantId) -> Result<Option<TenantState>> {
        Ok(self.tenants.iter().find(|t| &t.id == id).cloned())
    }

    fn records(&self, tenant: TenantKey, from_seq: u64, limit: usize) -> Result<Vec<Record>> {
        Ok(self
            .tenant_events(tenant)
            .iter()
            .filter(|r| r.seq >= from_seq)
            .take(limit)
            .map(stored_record)
            .collect())
    }

    fn last_seq(&self, tenant: TenantKey) -> Result<Option<u64>> {
        // Appends keep each tenant's records in `seq` order (`append_owned` refuses any other).
        Ok(self.tenant_events(tenant).last().map(|r| r.seq))
    }

    fn record_at(&self, tenant: TenantKey, seq: u64) -> Result<Option<Record>> {
        Ok(self.record(tenant, seq).map(stored_record))
    }

    fn record_by_event_id(&self, event_id: &str) -> Result<Option<Record>> {
        // Ids are keyed as written; a string that is no event id names no stored event.
        Ok(EventId::parse(event_id)
            .ok()
            .and_then(|id| self.by_id.get(&id))
            .and_then(|&(i, seq)| self.record(TenantKey(i as i64 + 1), seq))
            .map(stored_record))
    }

    fn contains_event_id(&self, event_id: &str) -> Result<bool> {
        Ok(EventId::parse(event_id).is_ok_and(|id| self.by_id.contains_key(&id)))
    }

    fn rotation_records(&self, tenant: TenantKey) -> Result<Vec<Record>> {
        Ok(self
            .tenant_events(tenant)
            .iter()
            .filter(|r| r.event_type.as_str() == KEY_ROTATED_TYPE)
            .map(stored_record)
            .collect())
    }

    fn query(
        &self,
        filter: &RecordFilter,
        after: Option<(i64, u64)>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let mut hits: Vec<&NewRecord> = self
            .tenant_events(filter.tenant)
            .iter()
            .filter(|r| filter.from_micros.is_none_or(|f| r.ts_micros >= f))
            .filter(|r| filter.to_micros.is_none_or(|t| r.ts_micros <= t))
            .filter(|r| {
                filter
                    .event_type_prefix
                    .as_deref()
                    .is_none_or(|p| r.event_type.as_str().starts_with(p))
            })
            .filter(|r| {
                filter
                    .model_id
                    .as_deref()
                    .is_none_or(|m| r.model_id.as_deref() == Some(m))
            })
            .filter(|r| filter.before_seq.is_none_or(|end| r.seq < end))
            .filter(|r| after.is_none_or(|a| (r.ts_micros, r.seq) > a))
            .collect();
        hits.sort_by_key(|r| (r.ts_micros, r.seq));
        Ok(hits.into_iter().take(limit).map(stored_record).collect())
    }

    fn records_in_time(
        &self,
        tenant: TenantKey,
        from_seq: u64,
        end_seq: u64,
        from_micros: Option<i64>,
        to_micros: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        Ok(self
            .tenant_events(tenant)
            .iter()
            .filter(|r| r.seq >= from_seq && r.seq < end_seq)
            .filter(|r| from_micros.is_none_or(|f| r.ts_micros >= f))
            .filter(|r| to_micros.is_none_or(|t| r.ts_micros <= t))
            .take(limit)
            .map(stored_record)
            .collect())
    }

    fn nodes(&self, tenant: TenantKey, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
        Ok(ids
            .iter()
            .map(|node| {
                let seq = node
                    .index
                    .checked_add(1)?
                    .checked_mul(1u64.checked_shl(u32::from(node.level))?)?
                    .checked_sub(1)?;
                let record = self.record(tenant, seq)?;
                match node.level {
                    0 => Some(record.leaf_hash),
                    level => record.nodes.get(usize::from(level) - 1).copied(),
                }
            })
            .collect())
    }

    fn keys(&self, tenant: Option<TenantKey>) -> Result<Vec<KeyRecord>> {
        let mut keys: Vec<KeyRecord> = self
            .keys
            .iter()
            .filter(|k| tenant.is_none_or(|t| k.tenant == t))
            .cloned()
            .collect();
        keys.sort_by_key(|k| (k.tenant, k.first_seq));
        Ok(keys)
    }

    fn checkpoints(&self, tenant: TenantKey) -> Result<Vec<CheckpointRecord>> {
        let mut cps: Vec<CheckpointRecord> = self
            .checkpoints
            .iter()
            .filter(|c| c.tenant == tenant)
            .cloned()
            .collect();
        cps.sort_by_key(|c| c.size);
        Ok(cps)
    }
}

macro_rules! forward_reader {
    ($ty:ty, $s:ident => $state:expr) => {
        impl Reader for $ty {
            fn tenants(&self) -> Result<Vec<TenantState>> {
                let $s = self;
                $state.tenants()
            }
            fn tenant(&self, id: &TenantId) -> Result<Option<TenantState>> {
                let $s = self;
                $state.tenant(id)
            }
            fn records(&self, t: TenantKey, from: u64, limit: usize) -> Result<Vec<Record>> {
                let $s = self;
                $state.records(t, from, limit)
            }
            fn last_seq(&self, t: TenantKey) -> Result<Option<u64>> {
                let $s = self;
                $state.last_seq(t)
            }
            fn record_at(&self, t: TenantKey, seq: u64) -> Result<Option<Record>> {
                let $s = self;
                $state.record_at(t, seq)
            }
            fn record_by_event_id(&self, id: &str) -> Result<Option<Record>> {
                let $s = self;
                $state.record_by_event_id(id)
            }
            fn contains_event_id(&self, id: &str) -> Result<bool> {
                let $s = self;
                $state.contains_event_id(id)
            }
            fn rotation_records(&self, t: TenantKey) -> Result<Vec<Record>> {
                let $s = self;
                $state.rotation_records(t)
            }
            fn query(
                &self,
                f: &RecordFilter,
                after: Option<(i64, u64)>,
                limit: usize,
            ) -> Result<Vec<Record>> {
                let $s = self;
                $state.query(f, after, limit)
            }
            fn records_in_time(
                &self,
                t: TenantKey,
                from_seq: u64,
                end_seq: u64,
                from: Option<i64>,
                to: Option<i64>,
                limit: usize,
            ) -> Result<Vec<Record>> {
                let $s = self;
                $state.records_in_time(t, from_seq, end_seq, from, to, limit)
            }
            fn nodes(&self, t: TenantKey, ids: &[NodeId]) -> Result<Vec<Option<Hash>>> {
                let $s = self;
                $state.nodes(t, ids)
            }
            fn keys(&self, t: Option<TenantKey>) -> Result<Vec<KeyRecord>> {
                let $s = self;
                $state.keys(t)
            }
            fn checkpoints(&self, t: TenantKey) -> Result<Vec<CheckpointRecord>> {
                let $s = self;
                $state.checkpoints(t)
            }
        }
    };
}

forward_reader!(MemoryRead<'_>, r => r.state);
forward_reader!(MemoryWrite<'_>, w => &*w.state);

impl MemoryWrite<'_> {
    fn undo(&mut self) -> &mut Undo {
        self.undo.get_or_insert_with(Undo::default)
    }

    fn save_tenant(&mut self, key: TenantKey) {
        let saved = index(key).and_then(|i| self.state.tenants.get(i)).cloned();
        if let Some(saved) = saved {
            self.undo().saved_tenants.push(saved);
        }
    }
}

impl Writer for MemoryWrite<'_> {
    fn create_tenant(&mut self, id: &TenantId, key_id: &KeyId) -> Result<TenantState> {
        if self.state.tenants.iter().any(|t| &t.id == id) {
            return Err(Error::backend(
                "creating a tenant",
                std::io::Error::other(format!("tenant {id} exists")),
            ));
        }
        let state = TenantState {
            key: TenantKey(self.state.tenants.len() as i64 + 1),
            id: id.clone(),
            size: 0,
            head: None,
            frontier: Frontier::new(),
            key_id: key_id.clone(),
        };
        self.state.tenants.push(state.clone());
        self.state.events.push(Vec::new());
        Ok(state)
    }

    fn append(&mut self, records: &[NewRecord]) -> Result<()> {
        self.append_owned(records.to_vec()).map(drop)
    }

    fn append_owned(&mut self, records: Vec<NewRecord>) -> Result<Vec<NewRecord>> {
        for r in records {
            let Some(i) = index(r.tenant).filter(|&i| i < self.state.events.len()) else {
                return Err(Error::backend(
                    "appending events",
                    std::io::Error::other("unknown tenant"),
                ));
            };
            let State { events, by_id, .. } = &mut *self.state;
            let std::collections::hash_map::Entry::Vacant(slot) = by_id.entry(r.event_id) else {
                return Err(Error::DuplicateEventId {
                    location: None,
                    event_id: r.event_id.to_string(),
                });
            };
            let expected = events[i].last().map_or(0, |l| l.seq + 1);
            if r.seq != expected {
                return Err(Error::backend(
                    "appending events",
                    std::io::Error::other(format!("seq {} out of order", r.seq)),
                ));
            }
            slot.insert((i, r.seq));
            events[i].push(r);
        }
        // Every record was kept.
        Ok(Vec::new())
    }

    fn update_tenant(&mut self, state: &TenantState) -> Result<()> {
        self.save_tenant(state.key);
        let slot = index(state.key)
            .and_then(|i| self.state.tenants.get_mut(i))
            .ok_or_else(|| Error::NotALedger {
                reason: format!("tenant {} vanished during a write", state.id),
            })?;
        *slot = state.clone();
        Ok(())
    }

    fn add_key(&mut self, key: &KeyRecord) -> Result<()> {
        self.state.keys.push(key.clone());
        Ok(())
    }

    fn add_checkpoint(&mut self, checkpoint: &CheckpointRecord) -> Result<()> {
        if !self
            .state
            .checkpoints
            .iter()
            .any(|c| c.tenant == checkpoint.tenant && c.size == checkpoint.size)
        {
            self.state.checkpoints.push(checkpoint.clone());
        }
        Ok(())
    }

    fn commit(mut self) -> Result<()> {
        self.undo = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HmacKey, InputLine, Ledger, Location, SqliteLedger, StaticKeys, VerifyOptions};
    use spanforge_chain::compat::HmacSecret;
    use spanforge_chain::note::NoteSigner;
    use spanforge_event::{Event, EventId};

    fn event(n: u128, org: &str) -> Event {
        let id = EventId::from_parts(1_767_434_401_250, n).unwrap();
        Event::from_json_str(&format!(
            r#"{{"event_id":"{id}","event_type":"decision.made","org_id":"{org}","payload":{{"n":{n}}},"schema_version":"2.0","source":"t@1.0.0","timestamp":"2026-01-03T10:00:01.250000Z"}}"#
        ))
        .unwrap()
    }

    fn keys(name: &str) -> StaticKeys {
        StaticKeys::new()
            .with_default_key(HmacKey::derived(
                HmacSecret::new("memory-backend-test-secret-0123456789").unwrap(),
            ))
            .with_checkpoint_signer(NoteSigner::from_seed(name, &[3; 32]).unwrap())
    }

    #[test]
    fn the_same_ledger_logic_runs_over_memory_and_sqlite() {
        let mut mem = Ledger::new(MemoryBackend::new().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let mut sql = SqliteLedger::open(dir.path().join("l.db")).unwrap();
        let events: Vec<Event> = (0..50)
            .map(|n| event(n, if n % 2 == 0 { "a" } else { "b" }))
            .collect();
        let mk = mem.log_key_name();
        mem.append_batch(&keys(&mk), events.clone()).unwrap();
        let sk = sql.log_key_name();
        sql.append_batch(&keys(&sk), events).unwrap();
        // Same chains, same trees: the backends differ only in where bytes live.
        let roots = |t: Vec<crate::TenantSummary>| {
            t.into_iter()
                .map(|s| (s.tenant, s.size, s.root))
                .collect::<Vec<_>>()
        };
        assert_eq!(roots(mem.tenants().unwrap()), roots(sql.tenants().unwrap()));
        let report = mem.verify(&keys(&mk), &VerifyOptions::new()).unwrap();
        assert!(report.valid, "{report:#?}");
        let proof = mem
            .prove(&keys(&mk), event(7, "b").event_id().as_str())
            .unwrap();
        let verifier = NoteSigner::from_seed(&mk, &[3; 32]).unwrap().verifier();
        crate::verify_event_proof(proof.to_text().as_bytes(), &verifier, None).unwrap();
        // Same query answers, plain and paged, with and without a bound on the chain position.
        for before_seq in [None, Some(0), Some(10), Some(1000)] {
            let q = crate::Query {
                before_seq,
                ..crate::Query::tenant(crate::TenantId::org("a").unwrap())
            };
            let mem_rows: Vec<(u64, String)> = mem
                .query(&q)
                .unwrap()
                .map(|e| e.map(|e| (e.seq, e.envelope)).unwrap())
                .collect();
            let sql_rows: Vec<(u64, String)> = sql
                .query(&q)
                .unwrap()
                .map(|e| e.map(|e| (e.seq, e.envelope)).unwrap())
                .collect();
            assert_eq!(mem_rows, sql_rows, "{before_seq:?}");
            assert_eq!(
                mem_rows.len(),
                before_seq.map_or(25, |b| (b as usize).min(25))
            );
            let mut page = crate::EventPage::new();
            let mut pages = mem.query_pages(&q).unwrap();
            while pages.next_into(&mut page).unwrap() > 0 {}
            let paged: Vec<(u64, String)> = page
                .iter()
                .map(|e| (e.seq, e.envelope.to_owned()))
                .collect();
            assert_eq!(paged, mem_rows);
        }
    }

    #[test]
    fn a_failed_write_leaves_the_memory_ledger_unchanged() {
        let mut mem = Ledger::new(MemoryBackend::new().unwrap());
        let k = keys(&mem.log_key_name());
        mem.append_batch(&k, (0..5).map(|n| event(n, "a")).collect())
            .unwrap();
        let before = mem.tenants().unwrap();
        // New events of an existing tenant and of a new one (with its key), then a duplicate:
        // all of it is undone.
        let mut bad: Vec<Event> = (5..8).map(|n| event(n, "a")).collect();
        bad.extend((10..15).map(|n| event(n, "c")));
        bad.push(event(2, "a"));
        let input = bad
            .into_iter()
            .enumerate()
            .map(|(i, e)| Ok(InputLine::event(Location::new("x", i as u64 + 1), e)));
        assert!(mem.ingest(&k, input).is_err());
        assert_eq!(mem.tenants().unwrap(), before);
        assert_eq!(mem.keys(None).unwrap().len(), 1);
        assert!(
            mem.get(event(10, "c").event_id().as_str())
                .unwrap()
                .is_none()
        );
        assert!(
            mem.get(event(6, "a").event_id().as_str())
                .unwrap()
                .is_none()
        );
        assert!(mem.verify(&k, &VerifyOptions::new()).unwrap().valid);
        // No id of the undone events is left behind: they append as new.
        let again: Vec<Event> = (5..8)
            .map(|n| event(n, "a"))
            .chain((10..15).map(|n| event(n, "c")))
            .collect();
        mem.append_batch(&k, again).unwrap();
        assert!(mem.verify(&k, &VerifyOptions::new()).unwrap().valid);
    }
}
