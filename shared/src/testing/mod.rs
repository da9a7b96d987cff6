//! In-memory fakes of every port, a fault-injecting wrapper, and one fake deployment's handler
//! configurations, for fast domain and handler tests without an emulator. Compiled only with
//! the `test-util` feature.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod deployment;
mod scaling;
pub use deployment::*;
pub use scaling::*;

use crate::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecyclePhase, LifecycleRecord, LifecycleResult,
    NewLifecycleAction,
};
use crate::domain::report::Report;
use crate::domain::state::{ClaimOutcome, ClusterState, Group, Registration};
use crate::ports::{
    Clock, Credentials, Instance, InstanceInventory, InventoryError, Lease, LeaseOutcome,
    NewReport, SecretError, Secrets, StateStore, StoreError, WekaApi, WekaConnector, WekaError,
};
use crate::wire::bootstrap::Vm;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A fixed, advanceable clock.
#[derive(Debug)]
pub struct FakeClock(Mutex<DateTime<Utc>>);

impl FakeClock {
    /// A clock showing `start`.
    pub fn at(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    /// A clock showing 2026-05-21T09:00:00Z.
    pub fn default_start() -> Self {
        Self::at(DateTime::from_timestamp(1_779_354_000, 0).unwrap())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += chrono::Duration::from_std(by).unwrap();
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

#[derive(Debug, Default)]
struct Tables {
    groups: HashMap<Group, ClusterState>,
    report_seq: HashMap<(Group, String), u64>,
    reports: BTreeMap<(Group, String, u64), Report>,
    leases: HashMap<String, Lease>,
    notes: HashMap<String, serde_json::Value>,
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

    async fn register(&self, group: Group, vm: &Vm) -> Result<Registration, StoreError> {
        self.wrote();
        self.with_group(group, |s| s.register(vm).0)
    }

    async fn claim_clusterization(
        &self,
        group: Group,
        instance: &str,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        self.wrote();
        self.with_group(group, |s| s.claim(instance, now, stale_after))
    }

    async fn finalize(&self, group: Group, now: DateTime<Utc>) -> Result<ClusterState, StoreError> {
        self.wrote();
        self.with_group(group, |s| {
            s.finalize(now);
            s.clone()
        })
    }

    async fn next_report_seq(&self, group: Group, host: &str) -> Result<u64, StoreError> {
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        let seq = t.report_seq.entry((group, host.to_owned())).or_default();
        *seq += 1;
        Ok(*seq)
    }

    async fn put_report(
        &self,
        group: Group,
        seq: u64,
        report: &NewReport,
        per_host: u32,
        _retention: Duration,
    ) -> Result<(), StoreError> {
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
            .filter(|((g, _, _), _)| *g == group)
            .map(|(_, r)| r.clone())
            .collect();
        out.sort_by(|a, b| a.host.cmp(&b.host).then(a.seq.cmp(&b.seq)));
        Ok(out)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        if let Some(current) = t.leases.get(name)
            && current.owner != owner
            && current.expires_at > now
        {
            return Ok(LeaseOutcome::Held(current.clone()));
        }
        let lease = Lease {
            name: name.to_owned(),
            owner: owner.to_owned(),
            expires_at: now + chrono::Duration::from_std(ttl).unwrap(),
        };
        t.leases.insert(name.to_owned(), lease.clone());
        Ok(LeaseOutcome::Acquired(lease))
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

    async fn record_lifecycle_action(&self, action: &NewLifecycleAction) -> Result<(), StoreError> {
        self.wrote();
        let mut t = self.tables.lock().unwrap();
        let record = t
            .lifecycle
            .entry(action.key.clone())
            .or_insert_with(|| new_record(action));
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
            .cloned()
            .collect())
    }

    async fn claim_lifecycle_heartbeat(
        &self,
        key: &LifecycleKey,
        now: DateTime<Utc>,
        interval: Duration,
    ) -> Result<bool, StoreError> {
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

/// Wraps a store and "kills the writer" after a number of operations: that operation and
/// every later one fail, as if the Lambda had died there.
#[derive(Debug)]
pub struct CrashingStore<'a, S> {
    inner: &'a S,
    remaining: AtomicI64,
}

impl<'a, S: StateStore> CrashingStore<'a, S> {
    /// Lets `allowed` operations through, then fails everything.
    pub fn after(inner: &'a S, allowed: i64) -> Self {
        Self {
            inner,
            remaining: AtomicI64::new(allowed),
        }
    }

    fn step(&self) -> Result<(), StoreError> {
        if self.remaining.fetch_sub(1, Ordering::SeqCst) > 0 {
            Ok(())
        } else {
            Err(StoreError::Unavailable {
                operation: "injected crash",
                source: "writer killed by test".into(),
            })
        }
    }
}

impl<S: StateStore> StateStore for CrashingStore<'_, S> {
    async fn load(&self, group: Group) -> Result<ClusterState, StoreError> {
        self.step()?;
        self.inner.load(group).await
    }
    async fn register(&self, group: Group, vm: &Vm) -> Result<Registration, StoreError> {
        self.step()?;
        self.inner.register(group, vm).await
    }
    async fn claim_clusterization(
        &self,
        group: Group,
        instance: &str,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        self.step()?;
        self.inner
            .claim_clusterization(group, instance, now, stale_after)
            .await
    }
    async fn finalize(&self, group: Group, now: DateTime<Utc>) -> Result<ClusterState, StoreError> {
        self.step()?;
        self.inner.finalize(group, now).await
    }
    async fn next_report_seq(&self, group: Group, host: &str) -> Result<u64, StoreError> {
        self.step()?;
        self.inner.next_report_seq(group, host).await
    }
    async fn put_report(
        &self,
        group: Group,
        seq: u64,
        report: &NewReport,
        per_host: u32,
        retention: Duration,
    ) -> Result<(), StoreError> {
        self.step()?;
        self.inner
            .put_report(group, seq, report, per_host, retention)
            .await
    }
    async fn reports(&self, group: Group) -> Result<Vec<Report>, StoreError> {
        self.step()?;
        self.inner.reports(group).await
    }
    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        self.step()?;
        self.inner.acquire_lease(name, owner, now, ttl).await
    }
    async fn release_lease(&self, name: &str, owner: &str) -> Result<bool, StoreError> {
        self.step()?;
        self.inner.release_lease(name, owner).await
    }
    async fn put_note(&self, name: &str, body: &serde_json::Value) -> Result<(), StoreError> {
        self.step()?;
        self.inner.put_note(name, body).await
    }
    async fn note(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.step()?;
        self.inner.note(name).await
    }
    async fn record_lifecycle_action(&self, action: &NewLifecycleAction) -> Result<(), StoreError> {
        self.step()?;
        self.inner.record_lifecycle_action(action).await
    }
    async fn lifecycle_actions(&self) -> Result<Vec<LifecycleRecord>, StoreError> {
        self.step()?;
        self.inner.lifecycle_actions().await
    }
    async fn claim_lifecycle_heartbeat(
        &self,
        key: &LifecycleKey,
        now: DateTime<Utc>,
        interval: Duration,
    ) -> Result<bool, StoreError> {
        self.step()?;
        self.inner
            .claim_lifecycle_heartbeat(key, now, interval)
            .await
    }
    async fn decide_lifecycle_action(
        &self,
        decision: &LifecycleDecision,
    ) -> Result<bool, StoreError> {
        self.step()?;
        self.inner.decide_lifecycle_action(decision).await
    }
    async fn close_lifecycle_action(
        &self,
        key: &LifecycleKey,
        result: Option<LifecycleResult>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.step()?;
        self.inner
            .close_lifecycle_action(key, result, reason, now)
            .await
    }
}

/// Secrets in memory.
#[derive(Debug, Default)]
pub struct FakeSecrets(Mutex<HashMap<String, String>>);

impl FakeSecrets {
    /// A store holding `pairs`.
    pub fn with(pairs: &[(&str, &str)]) -> Self {
        Self(Mutex::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ))
    }

    /// The current value of `id`.
    pub fn value(&self, id: &str) -> Option<String> {
        self.0.lock().unwrap().get(id).cloned()
    }
}

impl Secrets for FakeSecrets {
    async fn get(&self, id: &str) -> Result<String, SecretError> {
        self.value(id)
            .ok_or_else(|| SecretError::Empty { id: id.to_owned() })
    }

    async fn put(&self, id: &str, value: &str) -> Result<(), SecretError> {
        self.0
            .lock()
            .unwrap()
            .insert(id.to_owned(), value.to_owned());
        Ok(())
    }
}

/// Instances and ASG capacities in memory.
#[derive(Debug, Default)]
pub struct FakeInventory {
    /// Running instances per `(cluster, hostgroup)`.
    pub running: Mutex<HashMap<(String, String), Vec<Instance>>>,
    /// Desired capacity per ASG name.
    pub desired: Mutex<HashMap<String, u32>>,
    /// When set, every call fails.
    pub fail: Mutex<bool>,
    /// Every known instance (any state), for `describe_instances`.
    pub known: Mutex<Vec<Instance>>,
    /// Volume ids per `(instance, device)`.
    pub volumes: Mutex<HashMap<(String, String), String>>,
    /// Load balancer IPs per ARN suffix.
    pub load_balancers: Mutex<HashMap<String, String>>,
    /// Secondary IPs per instance.
    pub secondaries: Mutex<HashMap<String, Vec<String>>>,
    /// Tags set, per instance.
    pub tags: Mutex<HashMap<String, BTreeMap<String, String>>>,
}

impl FakeInventory {
    /// Adds running instances to a host group.
    pub fn add_running(&self, cluster: &str, hostgroup: &str, instances: Vec<Instance>) {
        self.known.lock().unwrap().extend(instances.iter().cloned());
        self.running
            .lock()
            .unwrap()
            .entry((cluster.to_owned(), hostgroup.to_owned()))
            .or_default()
            .extend(instances);
    }

    fn check(&self, operation: &'static str) -> Result<(), InventoryError> {
        if *self.fail.lock().unwrap() {
            return Err(InventoryError {
                operation,
                source: "injected inventory failure".into(),
            });
        }
        Ok(())
    }
}

impl InstanceInventory for FakeInventory {
    async fn running_instances(
        &self,
        cluster: &str,
        hostgroup: &str,
    ) -> Result<Vec<Instance>, InventoryError> {
        self.check("describe_instances")?;
        Ok(self
            .running
            .lock()
            .unwrap()
            .get(&(cluster.to_owned(), hostgroup.to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>, InventoryError> {
        self.check("describe_instances")?;
        let known = self.known.lock().unwrap();
        // Reverse order on purpose: callers must pair ids and IPs by id, not by position.
        Ok(known
            .iter()
            .rev()
            .filter(|i| ids.contains(&i.id))
            .cloned()
            .collect())
    }

    async fn attached_volume(
        &self,
        instance_id: &str,
        device: &str,
    ) -> Result<Option<String>, InventoryError> {
        self.check("describe_instances")?;
        Ok(self
            .volumes
            .lock()
            .unwrap()
            .get(&(instance_id.to_owned(), device.to_owned()))
            .cloned())
    }

    async fn load_balancer_ip(&self, arn_suffix: &str) -> Result<Option<String>, InventoryError> {
        self.check("describe_network_interfaces")?;
        Ok(self.load_balancers.lock().unwrap().get(arn_suffix).cloned())
    }

    async fn secondary_ips(&self, instance_ids: &[String]) -> Result<Vec<String>, InventoryError> {
        self.check("describe_network_interfaces")?;
        let map = self.secondaries.lock().unwrap();
        let mut ips: Vec<String> = instance_ids
            .iter()
            .flat_map(|id| map.get(id).cloned().unwrap_or_default())
            .collect();
        ips.sort();
        Ok(ips)
    }

    async fn tag_instances(
        &self,
        ids: &[String],
        key: &str,
        value: &str,
    ) -> Result<(), InventoryError> {
        self.check("create_tags")?;
        let mut tags = self.tags.lock().unwrap();
        for id in ids {
            tags.entry(id.clone())
                .or_default()
                .insert(key.to_owned(), value.to_owned());
        }
        Ok(())
    }

    async fn desired_capacity(&self, asg_name: &str) -> Result<Option<u32>, InventoryError> {
        self.check("describe_auto_scaling_groups")?;
        Ok(self.desired.lock().unwrap().get(asg_name).copied())
    }
}

/// How a fake WEKA cluster answers: `(backend_ips, method, params) -> result`.
pub type WekaResponder = dyn Fn(&[String], &str, &serde_json::Value) -> Result<serde_json::Value, WekaError>
    + Send
    + Sync;

/// A fake WEKA API that records every call and answers with a responder.
#[derive(Clone)]
pub struct FakeWeka {
    responder: Arc<WekaResponder>,
    calls: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    logins: Arc<Mutex<Vec<Credentials>>>,
}

impl std::fmt::Debug for FakeWeka {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeWeka")
            .field("calls", &self.calls)
            .finish()
    }
}

impl FakeWeka {
    /// A fake answering with `responder`.
    pub fn new(
        responder: impl Fn(&[String], &str, &serde_json::Value) -> Result<serde_json::Value, WekaError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            responder: Arc::new(responder),
            calls: Arc::default(),
            logins: Arc::default(),
        }
    }

    /// Every `(method, params)` called so far.
    pub fn calls(&self) -> Vec<(String, serde_json::Value)> {
        self.calls.lock().unwrap().clone()
    }

    /// Every credential a session was opened with.
    pub fn logins(&self) -> Vec<Credentials> {
        self.logins.lock().unwrap().clone()
    }
}

/// A session of [`FakeWeka`].
#[derive(Debug, Clone)]
pub struct FakeWekaSession {
    weka: FakeWeka,
    ips: Vec<String>,
}

impl WekaConnector for FakeWeka {
    type Api = FakeWekaSession;

    fn connect(&self, backend_ips: Vec<String>, credentials: Credentials) -> FakeWekaSession {
        self.logins.lock().unwrap().push(credentials);
        FakeWekaSession {
            weka: self.clone(),
            ips: backend_ips,
        }
    }
}

impl WekaApi for FakeWekaSession {
    async fn call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, WekaError> {
        self.weka
            .calls
            .lock()
            .unwrap()
            .push((method.to_owned(), params.clone()));
        if self.ips.is_empty() {
            return Err(WekaError::NoBackends {
                method: method.to_owned(),
            });
        }
        (self.weka.responder)(&self.ips, method, &params)
    }
}
