//! [`InMemoryStateStore`]: the state store in memory, with the DynamoDB store's rules.

use crate::domain::control::Pause;
use crate::domain::events::Event;
use crate::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecyclePhase, LifecycleRecord, LifecycleResult,
    NewLifecycleAction,
};
use crate::domain::report::Report;
use crate::domain::state::{ClaimOutcome, ClusterState, Group, Registration};
use crate::ports::{
    Lease, LeaseClaim, LeaseOutcome, NewReport, StateStore, StoreError, check_storable_time,
};
use crate::wire::bootstrap::Vm;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
struct Tables {
    groups: HashMap<Group, ClusterState>,
    report_seq: HashMap<(Group, String), u64>,
    /// Hosts admitted to report per group and window.
    new_reporting_hosts: HashMap<(Group, String), u32>,
    reports: BTreeMap<(Group, String, u64), Report>,
    leases: HashMap<String, Lease>,
    notes: HashMap<String, serde_json::Value>,
    pause: Option<Pause>,
    events: Vec<(u64, Event)>,
    event_seq: u64,
    lifecycle: BTreeMap<LifecycleKey, LifecycleRecord>,
}

/// A state store in memory with the same rules as the DynamoDB one, counting its writes.
#[derive(Debug, Default)]
pub struct InMemoryStateStore {
    tables: Mutex<Tables>,
    writes: AtomicU64,
}

impl InMemoryStateStore {
    /// A store holding a fresh backend state of `size` and NFS state of `nfs_size`.
    pub fn with_sizes(size: u32, nfs_size: u32) -> Self {
        let store = Self::default();
        {
            let mut t = store.tables.lock().unwrap();
            t.groups.insert(Group::Backend, ClusterState::new(size));
            t.groups.insert(Group::Nfs, ClusterState::new(nfs_size));
        }
        store
    }

    /// An empty store: every state read fails with `StateMissing`.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Number of write operations performed so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Replaces a group's document (test setup).
    pub fn set_state(&self, group: Group, state: ClusterState) {
        self.tables.lock().unwrap().groups.insert(group, state);
    }

    fn with_group<T>(
        &self,
        group: Group,
        f: impl FnOnce(&mut ClusterState) -> T,
    ) -> Result<T, StoreError> {
        let mut t = self.tables.lock().unwrap();
        let state = t
            .groups
            .get_mut(&group)
            .ok_or_else(|| StoreError::StateMissing {
                table: "in-memory".to_owned(),
                key: group.as_str().to_owned(),
            })?;
        Ok(f(state))
    }

    fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }

    /// Stores a lifecycle record as is, bypassing every check (test setup: an item an older or
    /// buggy writer left). Reads skip a record the DynamoDB store could not decode (a time
    /// outside the years 0000 to 9999), as that store does.
    pub fn insert_raw_lifecycle(&self, record: LifecycleRecord) {
        self.tables
            .lock()
            .unwrap()
            .lifecycle
            .insert(record.key.clone(), record);
    }

    /// Stores a report in ring slot `slot` as is, bypassing every check (test setup, as
    /// [`Self::insert_raw_lifecycle`]); reads skip one whose time would not decode.
    pub fn insert_raw_report(&self, group: Group, slot: u64, report: Report) {
        self.tables
            .lock()
            .unwrap()
            .reports
            .insert((group, report.host.clone(), slot), report);
    }

    /// The current holder of lease `name`, expired or not (test inspection).
    pub fn lease(&self, name: &str) -> Option<Lease> {
        self.tables.lock().unwrap().leases.get(name).cloned()
    }

    /// An upper bound of the largest stored item's size in bytes (its debug form, which
    /// escapes and names every field), to check writes against DynamoDB's 400 KB item limit.
    pub fn largest_item_bytes(&self) -> usize {
        let t = self.tables.lock().unwrap();
        let sizes = t
            .groups
            .values()
            .map(|s| format!("{s:?}").len())
            .chain(t.reports.values().map(|r| format!("{r:?}").len()))
            .chain(t.leases.values().map(|l| format!("{l:?}").len()))
            .chain(
                t.notes
                    .iter()
                    .map(|(name, body)| name.len() + body.to_string().len()),
            )
            .chain(t.lifecycle.values().map(|r| format!("{r:?}").len()));
        sizes.max().unwrap_or(0)
    }

    /// The lifecycle record of `instance_id` for `transition`, if any (test inspection).
    pub fn lifecycle_record(
        &self,
        instance_id: &str,
        transition: crate::domain::lifecycle::Transition,
    ) -> Option<LifecycleRecord> {
        self.tables
            .lock()
            .unwrap()
            .lifecycle
            .get(&LifecycleKey {
                instance_id: instance_id.to_owned(),
                transition,
            })
            .cloned()
    }
}

/// Whether the DynamoDB store could read `record` back (every time in 0000 to 9999).
fn decodable_lifecycle(record: &LifecycleRecord) -> bool {
    [
        Some(record.started_at),
        record.last_heartbeat_at,
        record.decided_at,
        record.completed_at,
    ]
    .into_iter()
    .flatten()
    .all(crate::wire::rfc3339_representable)
}

fn new_record(action: &NewLifecycleAction) -> LifecycleRecord {
    LifecycleRecord {
        key: action.key.clone(),
        group: action.group.clone(),
        hook: action.hook.clone(),
        token: action.token.clone(),
        started_at: action.started_at,
        private_ip: action.private_ip.clone(),
        last_heartbeat_at: None,
        phase: LifecyclePhase::Waiting,
        result: None,
        reason: None,
        decided_at: None,
        completed_at: None,
    }
}

impl StateStore for InMemoryStateStore {
    async fn load(&self, group: Group) -> Result<ClusterState, StoreError> {
        self.with_group(group, |s| s.clone())
    }

    async fn register_noting_new(
        &self,
        group: Group,
        vm: &Vm,
    ) -> Result<(Registration, bool), StoreError> {
        self.wrote();
        self.with_group(group, |s| s.register(vm))
    }

    async fn claim_clusterization(
        &self,
        group: Group,
        instance: &str,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        check_storable_time("clusterization claim time", now)?;
        self.wrote();
        self.with_group(group, |s| s.claim(instance, now, stale_after))
    }

    async fn evict_registration(
        &self,
        group: Group,
        seen: &ClusterState,
        instance_id: &str,
    ) -> Result<bool, StoreError> {
        self.wrote();
        self.with_group(group, |s| {
            s.instances == seen.instances && s.clusterizer.is_none() && s.evict(instance_id)
        })
    }

    async fn adopt(
        &self,
        group: Group,
        seen_version: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        check_storable_time("adoption time", now)?;
        self.wrote();
        self.with_group(group, |s| {
            let may = s.version == seen_version && !s.clusterized && s.clusterizer.is_none();
            if may {
                s.finalize(now);
            }
            may
        })
    }

    async fn finalize(&self, group: Group, now: DateTime<Utc>) -> Result<ClusterState, StoreError> {
        check_storable_time("clusterization time", now)?;
        self.wrote();
        self.with_group(group, |s| {
            s.finalize(now);
            s.clone()
        })
    }

    async fn next_report_seq(
        &self,
        group: Group,
        host: &str,
        window: &str,
        max_new_hosts: u32,
    ) -> Result<Option<u64>, StoreError> {
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        let key = (group, host.to_owned());
        if !t.report_seq.contains_key(&key) {
            let admitted = t
                .new_reporting_hosts
                .entry((group, window.to_owned()))
                .or_default();
            if *admitted >= max_new_hosts {
                return Ok(None);
            }
            *admitted += 1;
        }
        let seq = t.report_seq.entry(key).or_default();
        *seq += 1;
        Ok(Some(*seq))
    }

    async fn put_report(
        &self,
        group: Group,
        seq: u64,
        report: &NewReport,
        per_host: u32,
        _retention: Duration,
    ) -> Result<(), StoreError> {
        check_storable_time("report time", report.at)?;
        self.wrote();
        let slot = seq % u64::from(per_host.max(1));
        let stored = Report {
            host: report.host.clone(),
            seq,
            at: report.at,
            kind: report.kind,
            message: report.message.clone(),
        };
        self.tables
            .lock()
            .unwrap()
            .reports
            .insert((group, report.host.clone(), slot), stored);
        Ok(())
    }

    async fn reports(&self, group: Group) -> Result<Vec<Report>, StoreError> {
        let t = self.tables.lock().unwrap();
        let mut out: Vec<Report> = t
            .reports
            .iter()
            .filter(|((g, _, _), r)| *g == group && crate::wire::rfc3339_representable(r.at))
            .map(|(_, r)| r.clone())
            .collect();
        out.sort_by(|a, b| a.host.cmp(&b.host).then(a.seq.cmp(&b.seq)));
        Ok(out)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        claim: &LeaseClaim,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        if let Some(current) = t.leases.get(name)
            && !claim.may_take(current, now)
        {
            return Ok(LeaseOutcome::Held(current.clone()));
        }
        let lease = Lease {
            name: name.to_owned(),
            owner: claim.owner.clone(),
            expires_at: claim.expires_at(now, ttl),
            acting: claim.acting.clone(),
        };
        t.leases.insert(name.to_owned(), lease.clone());
        Ok(LeaseOutcome::Acquired(lease))
    }

    async fn end_acting(
        &self,
        name: &str,
        owner: &str,
        invocation: &str,
    ) -> Result<bool, StoreError> {
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        let Some(lease) = t.leases.get_mut(name) else {
            return Ok(false);
        };
        if lease.owner == owner
            && lease
                .acting
                .as_ref()
                .is_some_and(|a| a.invocation == invocation)
        {
            lease.acting = None;
            return Ok(true);
        }
        Ok(false)
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<bool, StoreError> {
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        if t.leases.get(name).is_some_and(|l| l.owner == owner) {
            t.leases.remove(name);
            return Ok(true);
        }
        Ok(false)
    }

    async fn put_note(&self, name: &str, body: &serde_json::Value) -> Result<(), StoreError> {
        // As on DynamoDB, which stores the body as JSON text: refused unless it reads back.
        if serde_json::from_str::<serde_json::Value>(&body.to_string())
            .ok()
            .as_ref()
            != Some(body)
        {
            return Err(StoreError::Unrepresentable {
                what: "note body",
                value: name.to_owned(),
            });
        }
        self.wrote();
        self.tables
            .lock()
            .unwrap()
            .notes
            .insert(name.to_owned(), body.clone());
        Ok(())
    }

    async fn note(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(self.tables.lock().unwrap().notes.get(name).cloned())
    }

    async fn record_event(
        &self,
        event: &Event,
        kept: u32,
        _retention: Duration,
    ) -> Result<(), StoreError> {
        check_storable_time("event time", event.at)?;
        self.wrote();
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        t.event_seq += 1;
        let seq = t.event_seq;
        let slot = seq % u64::from(kept.max(1));
        t.events.retain(|(s, _)| s % u64::from(kept.max(1)) != slot);
        t.events.push((seq, event.clone()));
        Ok(())
    }

    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        let t = self.tables.lock().unwrap();
        let mut events = t.events.clone();
        events.sort_by(|a, b| b.1.at.cmp(&a.1.at).then(b.0.cmp(&a.0)));
        Ok(events.into_iter().map(|(_, e)| e).collect())
    }

    async fn pause(&self, pause: &Pause) -> Result<(), StoreError> {
        check_storable_time("pause time", pause.since)?;
        self.wrote();
        self.tables.lock().unwrap().pause = Some(pause.clone());
        Ok(())
    }

    async fn resume(&self) -> Result<Option<Pause>, StoreError> {
        self.wrote();
        Ok(self.tables.lock().unwrap().pause.take())
    }

    async fn paused(&self) -> Result<Option<Pause>, StoreError> {
        Ok(self.tables.lock().unwrap().pause.clone())
    }

    async fn record_lifecycle_action(&self, action: &NewLifecycleAction) -> Result<(), StoreError> {
        check_storable_time("lifecycle action start time", action.started_at)?;
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        let record = t
            .lifecycle
            .entry(action.key.clone())
            .or_insert_with(|| new_record(action));
        // As on DynamoDB: a later action of a finished key opens it again.
        if record.phase == LifecyclePhase::Completed
            && record
                .completed_at
                .is_some_and(|done| done < action.started_at)
        {
            *record = new_record(action);
        }
        if record.token.is_none() {
            record.token.clone_from(&action.token);
        }
        if record.private_ip.is_none() {
            record.private_ip.clone_from(&action.private_ip);
        }
        Ok(())
    }

    async fn lifecycle_actions(&self) -> Result<Vec<LifecycleRecord>, StoreError> {
        Ok(self
            .tables
            .lock()
            .unwrap()
            .lifecycle
            .values()
            .filter(|r| decodable_lifecycle(r))
            .cloned()
            .collect())
    }

    async fn claim_lifecycle_heartbeat(
        &self,
        key: &LifecycleKey,
        now: DateTime<Utc>,
        interval: Duration,
    ) -> Result<bool, StoreError> {
        check_storable_time("lifecycle heartbeat time", now)?;
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        let Some(record) = t.lifecycle.get_mut(key) else {
            return Ok(false);
        };
        let before = now - chrono::Duration::from_std(interval).unwrap();
        if record.phase != LifecyclePhase::Waiting
            || record.last_heartbeat_at.is_some_and(|h| h > before)
        {
            return Ok(false);
        }
        record.last_heartbeat_at = Some(now);
        Ok(true)
    }

    async fn decide_lifecycle_action(
        &self,
        decision: &LifecycleDecision,
    ) -> Result<bool, StoreError> {
        check_storable_time("lifecycle decision time", decision.at)?;
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        let record = t.lifecycle.entry(decision.key.clone()).or_insert_with(|| {
            new_record(&NewLifecycleAction {
                key: decision.key.clone(),
                group: decision.group.clone(),
                hook: decision.hook.clone(),
                token: None,
                started_at: decision.at,
                private_ip: None,
            })
        });
        if record.phase != LifecyclePhase::Waiting {
            return Ok(false);
        }
        record.phase = LifecyclePhase::Decided;
        record.result = Some(decision.result);
        record.reason = Some(decision.reason.clone());
        record.decided_at = Some(decision.at);
        Ok(true)
    }

    async fn close_lifecycle_action(
        &self,
        key: &LifecycleKey,
        result: Option<LifecycleResult>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        check_storable_time("lifecycle completion time", now)?;
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        let Some(record) = t.lifecycle.get_mut(key) else {
            return Ok(false);
        };
        if record.phase == LifecyclePhase::Completed {
            return Ok(false);
        }
        record.phase = LifecyclePhase::Completed;
        record.result = result.or(record.result);
        record.reason = Some(reason.to_owned());
        record.completed_at = Some(now);
        Ok(true)
    }
}
