//! [`Faulty`]: a fault-injecting wrapper for every port (state store, Auto Scaling, EC2,
//! Secrets Manager, WEKA), driven by one [`FaultPlan`] shared by all the ports of a run.
//!
//! The plan numbers every call that reaches any port of the run (one global index, in call
//! order), records which port and method each index was, and at one chosen index injects one
//! [`FaultKind`]: the call fails before reaching the service, fails after it took effect (its
//! answer lost), or hangs. A hung call sleeps on tokio's clock: with a paused runtime the
//! sleep costs no real time, and the caller's deadline (the Lambda's timeout, or a WEKA
//! session's own deadline) ends it first.

use crate::domain::control::Pause;
use crate::domain::events::Event;
use crate::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecycleRecord, LifecycleResult, NewLifecycleAction,
};
use crate::domain::report::Report;
use crate::domain::state::{ClaimOutcome, ClusterState, Group, Registration};
use crate::ports::{
    Credentials, Instance, InstanceInventory, InventoryError, LeaseClaim, LeaseOutcome,
    LifecycleAnswer, LifecycleTarget, Membership, NewReport, ScalingError, ScalingGroup,
    ScalingGroups, SecretError, Secrets, StateStore, StoreError, WekaApi, WekaConnector, WekaError,
};
use crate::wire::bootstrap::Vm;
use chrono::{DateTime, Utc};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a hung call sleeps when nothing ends it sooner: longer than any Lambda runs.
pub const HANG: Duration = Duration::from_secs(24 * 3600);

/// What happens to the call at the plan's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// The call never reaches the service; the caller gets the port's transient error.
    FailBefore,
    /// The call takes effect; its answer is lost and the caller gets the transient error.
    FailAfter,
    /// The call never reaches the service and never answers (until the caller's deadline).
    Hang,
    /// The call takes effect and never answers (until the caller's deadline).
    HangAfterEffect,
}

impl FaultKind {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 4] = [
        Self::FailBefore,
        Self::FailAfter,
        Self::Hang,
        Self::HangAfterEffect,
    ];

    /// Whether the inner call is made.
    pub const fn takes_effect(self) -> bool {
        matches!(self, Self::FailAfter | Self::HangAfterEffect)
    }

    /// Whether the call hangs rather than failing at once.
    pub const fn hangs(self) -> bool {
        matches!(self, Self::Hang | Self::HangAfterEffect)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FailBefore => "fail-before",
            Self::FailAfter => "fail-after",
            Self::Hang => "hang",
            Self::HangAfterEffect => "hang-after-effect",
        })
    }
}

/// The port a call went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Port {
    /// [`StateStore`] (DynamoDB).
    Store,
    /// [`ScalingGroups`] (Auto Scaling and the EC2 calls terminate makes).
    Scaling,
    /// [`InstanceInventory`] (EC2).
    Inventory,
    /// [`Secrets`] (Secrets Manager).
    Secrets,
    /// [`WekaApi`] (WEKA's JSON-RPC).
    Weka,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Store => "store",
            Self::Scaling => "autoscaling",
            Self::Inventory => "ec2",
            Self::Secrets => "secrets",
            Self::Weka => "weka",
        })
    }
}

/// One call a port received: its global index, port and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortCall {
    /// Position among all the calls of the run.
    pub index: usize,
    /// The port.
    pub port: Port,
    /// The method (the port's method name; for WEKA, the JSON-RPC method).
    pub method: String,
}

#[derive(Debug, Default)]
struct PlanState {
    calls: Vec<PortCall>,
    fault: Option<(usize, FaultKind)>,
    injected: Option<(PortCall, FaultKind)>,
}

/// The calls of a run across every port, and the one fault to inject.
#[derive(Debug, Default)]
pub struct FaultPlan(Mutex<PlanState>);

impl FaultPlan {
    /// A plan that only counts.
    pub fn counting() -> Arc<Self> {
        Arc::default()
    }

    /// A plan that injects `kind` at call `index`.
    pub fn at(index: usize, kind: FaultKind) -> Arc<Self> {
        let plan = Self::default();
        plan.0.lock().unwrap().fault = Some((index, kind));
        Arc::new(plan)
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<PortCall> {
        self.0.lock().unwrap().calls.clone()
    }

    /// How many calls were made so far.
    pub fn call_count(&self) -> usize {
        self.0.lock().unwrap().calls.len()
    }

    /// The call that was faulted, and how, once it happened.
    pub fn injected(&self) -> Option<(PortCall, FaultKind)> {
        self.0.lock().unwrap().injected.clone()
    }

    fn next(&self, port: Port, method: &str) -> Option<FaultKind> {
        let mut state = self.0.lock().unwrap();
        let call = PortCall {
            index: state.calls.len(),
            port,
            method: method.to_owned(),
        };
        state.calls.push(call.clone());
        let (index, kind) = state.fault?;
        if index != call.index {
            return None;
        }
        state.injected = Some((call, kind));
        Some(kind)
    }

    /// Runs `call` as the plan says: counted, and faulted at the plan's index. `lost` makes the
    /// port's transient error; a hang ends at `deadline` (on tokio's clock) or after [`HANG`].
    async fn around<T, E>(
        &self,
        port: Port,
        method: &str,
        call: impl Future<Output = Result<T, E>>,
        lost: impl FnOnce() -> E,
        deadline: Option<Instant>,
    ) -> Result<T, E> {
        let Some(kind) = self.next(port, method) else {
            return call.await;
        };
        if kind.takes_effect() {
            // The effect happens; the answer, whatever it was, never reaches the caller.
            drop(call.await);
        }
        if kind.hangs() {
            let forever = tokio::time::Instant::now() + HANG;
            let until =
                deadline.map_or(forever, |d| tokio::time::Instant::from_std(d).min(forever));
            tokio::time::sleep_until(until).await;
        }
        Err(lost())
    }
}

/// A port `P` whose calls go through a [`FaultPlan`]. One type wraps every port: it implements
/// each port trait its inner value implements.
#[derive(Debug)]
pub struct Faulty<P> {
    inner: Arc<P>,
    plan: Arc<FaultPlan>,
}

impl<P> Faulty<P> {
    /// `inner`'s calls, counted and faulted by `plan`.
    pub fn new(inner: Arc<P>, plan: Arc<FaultPlan>) -> Self {
        Self { inner, plan }
    }
}

impl<P> Clone for Faulty<P> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            plan: Arc::clone(&self.plan),
        }
    }
}

fn injected() -> Box<dyn std::error::Error + Send + Sync> {
    "injected fault: answer lost".into()
}

impl<P> Faulty<P> {
    async fn store<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let lost = || StoreError::Unavailable {
            operation,
            source: injected(),
        };
        self.plan
            .around(Port::Store, operation, call, lost, None)
            .await
    }

    async fn scaling<T>(
        &self,
        operation: &'static str,
        target: String,
        call: impl Future<Output = Result<T, ScalingError>>,
    ) -> Result<T, ScalingError> {
        let lost = || ScalingError {
            operation,
            target,
            source: injected(),
        };
        self.plan
            .around(Port::Scaling, operation, call, lost, None)
            .await
    }

    async fn inventory<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, InventoryError>>,
    ) -> Result<T, InventoryError> {
        let lost = || InventoryError {
            operation,
            source: injected(),
        };
        self.plan
            .around(Port::Inventory, operation, call, lost, None)
            .await
    }

    async fn secret<T>(
        &self,
        operation: &'static str,
        id: &str,
        call: impl Future<Output = Result<T, SecretError>>,
    ) -> Result<T, SecretError> {
        let lost = || SecretError::Backend {
            operation,
            id: id.to_owned(),
            source: injected(),
        };
        self.plan
            .around(Port::Secrets, operation, call, lost, None)
            .await
    }
}

impl<S: StateStore> StateStore for Faulty<S> {
    async fn load(&self, group: Group) -> Result<ClusterState, StoreError> {
        self.store("load", self.inner.load(group)).await
    }
    async fn register_noting_new(
        &self,
        group: Group,
        vm: &Vm,
    ) -> Result<(Registration, bool), StoreError> {
        self.store("register", self.inner.register_noting_new(group, vm))
            .await
    }
    async fn claim_clusterization(
        &self,
        group: Group,
        instance: &str,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        let call = self
            .inner
            .claim_clusterization(group, instance, now, stale_after);
        self.store("claim_clusterization", call).await
    }
    async fn adopt(
        &self,
        group: Group,
        seen_version: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.store("adopt", self.inner.adopt(group, seen_version, now))
            .await
    }
    async fn finalize(&self, group: Group, now: DateTime<Utc>) -> Result<ClusterState, StoreError> {
        self.store("finalize", self.inner.finalize(group, now))
            .await
    }
    async fn next_report_seq(
        &self,
        group: Group,
        host: &str,
        window: &str,
        max_new_hosts: u32,
    ) -> Result<Option<u64>, StoreError> {
        let call = self
            .inner
            .next_report_seq(group, host, window, max_new_hosts);
        self.store("next_report_seq", call).await
    }
    async fn put_report(
        &self,
        group: Group,
        seq: u64,
        report: &NewReport,
        per_host: u32,
        retention: Duration,
    ) -> Result<(), StoreError> {
        let call = self
            .inner
            .put_report(group, seq, report, per_host, retention);
        self.store("put_report", call).await
    }
    async fn reports(&self, group: Group) -> Result<Vec<Report>, StoreError> {
        self.store("reports", self.inner.reports(group)).await
    }
    async fn evict_registration(
        &self,
        group: Group,
        seen: &ClusterState,
        instance_id: &str,
    ) -> Result<bool, StoreError> {
        let call = self.inner.evict_registration(group, seen, instance_id);
        self.store("evict_registration", call).await
    }
    async fn acquire_lease(
        &self,
        name: &str,
        claim: &LeaseClaim,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        let call = self.inner.acquire_lease(name, claim, now, ttl);
        self.store("acquire_lease", call).await
    }
    async fn end_acting(
        &self,
        name: &str,
        owner: &str,
        invocation: &str,
    ) -> Result<bool, StoreError> {
        let call = self.inner.end_acting(name, owner, invocation);
        self.store("end_acting", call).await
    }
    async fn release_lease(&self, name: &str, owner: &str) -> Result<bool, StoreError> {
        self.store("release_lease", self.inner.release_lease(name, owner))
            .await
    }
    async fn put_note(&self, name: &str, body: &serde_json::Value) -> Result<(), StoreError> {
        self.store("put_note", self.inner.put_note(name, body))
            .await
    }
    async fn note(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.store("note", self.inner.note(name)).await
    }
    async fn record_event(
        &self,
        event: &Event,
        kept: u32,
        retention: Duration,
    ) -> Result<(), StoreError> {
        let call = self.inner.record_event(event, kept, retention);
        self.store("record_event", call).await
    }
    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        self.store("events", self.inner.events()).await
    }
    async fn pause(&self, pause: &Pause) -> Result<(), StoreError> {
        self.store("pause", self.inner.pause(pause)).await
    }
    async fn resume(&self) -> Result<Option<Pause>, StoreError> {
        self.store("resume", self.inner.resume()).await
    }
    async fn paused(&self) -> Result<Option<Pause>, StoreError> {
        self.store("paused", self.inner.paused()).await
    }
    async fn record_lifecycle_action(&self, action: &NewLifecycleAction) -> Result<(), StoreError> {
        let call = self.inner.record_lifecycle_action(action);
        self.store("record_lifecycle_action", call).await
    }
    async fn lifecycle_actions(&self) -> Result<Vec<LifecycleRecord>, StoreError> {
        self.store("lifecycle_actions", self.inner.lifecycle_actions())
            .await
    }
    async fn claim_lifecycle_heartbeat(
        &self,
        key: &LifecycleKey,
        now: DateTime<Utc>,
        interval: Duration,
    ) -> Result<bool, StoreError> {
        let call = self.inner.claim_lifecycle_heartbeat(key, now, interval);
        self.store("claim_lifecycle_heartbeat", call).await
    }
    async fn decide_lifecycle_action(
        &self,
        decision: &LifecycleDecision,
    ) -> Result<bool, StoreError> {
        let call = self.inner.decide_lifecycle_action(decision);
        self.store("decide_lifecycle_action", call).await
    }
    async fn close_lifecycle_action(
        &self,
        key: &LifecycleKey,
        result: Option<LifecycleResult>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let call = self.inner.close_lifecycle_action(key, result, reason, now);
        self.store("close_lifecycle_action", call).await
    }
}

impl<G: ScalingGroups> ScalingGroups for Faulty<G> {
    async fn describe_groups(&self, names: &[String]) -> Result<Vec<ScalingGroup>, ScalingError> {
        let call = self.inner.describe_groups(names);
        self.scaling("describe_groups", names.join(","), call).await
    }
    async fn membership(&self, instance_id: &str) -> Result<Option<Membership>, ScalingError> {
        let call = self.inner.membership(instance_id);
        self.scaling("membership", instance_id.to_owned(), call)
            .await
    }
    async fn detach(&self, group: &str, instance_ids: &[String]) -> Result<(), ScalingError> {
        let call = self.inner.detach(group, instance_ids);
        self.scaling("detach", instance_ids.join(","), call).await
    }
    async fn set_scale_in_protection(
        &self,
        group: &str,
        instance_ids: &[String],
        protected: bool,
    ) -> Result<(), ScalingError> {
        let call = self
            .inner
            .set_scale_in_protection(group, instance_ids, protected);
        self.scaling("set_scale_in_protection", instance_ids.join(","), call)
            .await
    }
    async fn allow_termination(&self, instance_id: &str) -> Result<(), ScalingError> {
        let call = self.inner.allow_termination(instance_id);
        self.scaling("allow_termination", instance_id.to_owned(), call)
            .await
    }
    async fn protect_from_termination(&self, instance_id: &str) -> Result<(), ScalingError> {
        let call = self.inner.protect_from_termination(instance_id);
        self.scaling("protect_from_termination", instance_id.to_owned(), call)
            .await
    }
    async fn terminate(&self, instance_ids: &[String]) -> Result<Vec<String>, ScalingError> {
        let call = self.inner.terminate(instance_ids);
        self.scaling("terminate", instance_ids.join(","), call)
            .await
    }
    async fn complete_lifecycle_action(
        &self,
        target: &LifecycleTarget,
        result: LifecycleResult,
    ) -> Result<LifecycleAnswer, ScalingError> {
        let call = self.inner.complete_lifecycle_action(target, result);
        self.scaling(
            "complete_lifecycle_action",
            target.instance_id.clone(),
            call,
        )
        .await
    }
    async fn record_lifecycle_action_heartbeat(
        &self,
        target: &LifecycleTarget,
    ) -> Result<LifecycleAnswer, ScalingError> {
        let call = self.inner.record_lifecycle_action_heartbeat(target);
        self.scaling(
            "record_lifecycle_action_heartbeat",
            target.instance_id.clone(),
            call,
        )
        .await
    }
}

impl<I: InstanceInventory> InstanceInventory for Faulty<I> {
    async fn running_instances(
        &self,
        cluster: &str,
        hostgroup: &str,
    ) -> Result<Vec<Instance>, InventoryError> {
        let call = self.inner.running_instances(cluster, hostgroup);
        self.inventory("running_instances", call).await
    }
    async fn running_gateways(
        &self,
        cluster: &str,
        protocol: &str,
    ) -> Result<Vec<Instance>, InventoryError> {
        let call = self.inner.running_gateways(cluster, protocol);
        self.inventory("running_gateways", call).await
    }
    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>, InventoryError> {
        self.inventory("describe_instances", self.inner.describe_instances(ids))
            .await
    }
    async fn attached_volume(
        &self,
        instance_id: &str,
        device: &str,
    ) -> Result<Option<String>, InventoryError> {
        let call = self.inner.attached_volume(instance_id, device);
        self.inventory("attached_volume", call).await
    }
    async fn load_balancer_ip(&self, arn_suffix: &str) -> Result<Option<String>, InventoryError> {
        let call = self.inner.load_balancer_ip(arn_suffix);
        self.inventory("load_balancer_ip", call).await
    }
    async fn secondary_ips(&self, instance_ids: &[String]) -> Result<Vec<String>, InventoryError> {
        let call = self.inner.secondary_ips(instance_ids);
        self.inventory("secondary_ips", call).await
    }
    async fn tag_instances(
        &self,
        ids: &[String],
        key: &str,
        value: &str,
    ) -> Result<(), InventoryError> {
        let call = self.inner.tag_instances(ids, key, value);
        self.inventory("tag_instances", call).await
    }
    async fn desired_capacity(&self, asg_name: &str) -> Result<Option<u32>, InventoryError> {
        let call = self.inner.desired_capacity(asg_name);
        self.inventory("desired_capacity", call).await
    }
}

impl<K: Secrets> Secrets for Faulty<K> {
    async fn get(&self, id: &str) -> Result<String, SecretError> {
        self.secret("get", id, self.inner.get(id)).await
    }
    async fn put(&self, id: &str, value: &str) -> Result<(), SecretError> {
        self.secret("put", id, self.inner.put(id, value)).await
    }
}

/// A WEKA session whose calls go through the run's [`FaultPlan`]; a hung call ends at the
/// session's deadline when it has one (as the JSON-RPC client's does), else after [`HANG`].
#[derive(Debug)]
pub struct FaultySession<A> {
    inner: A,
    plan: Arc<FaultPlan>,
    deadline: Option<Instant>,
}

impl<W: WekaConnector> WekaConnector for Faulty<W> {
    type Api = FaultySession<W::Api>;

    fn connect(&self, backend_ips: Vec<String>, credentials: Credentials) -> Self::Api {
        self.connect_until(backend_ips, credentials, None)
    }

    fn connect_until(
        &self,
        backend_ips: Vec<String>,
        credentials: Credentials,
        deadline: Option<Instant>,
    ) -> Self::Api {
        FaultySession {
            inner: self.inner.connect_until(backend_ips, credentials, deadline),
            plan: Arc::clone(&self.plan),
            deadline,
        }
    }
}

impl<A: WekaApi> WekaApi for FaultySession<A> {
    async fn call(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, WekaError> {
        let lost = || WekaError::Http {
            ip: "injected".to_owned(),
            method: method.to_owned(),
            status: 500,
        };
        let call = self.inner.call(method, params);
        self.plan
            .around(Port::Weka, method, call, lost, self.deadline)
            .await
    }

    fn stop_using(&self, ip: &str) {
        self.inner.stop_using(ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::InMemoryStateStore;

    #[tokio::test]
    async fn every_call_is_counted_and_only_the_chosen_one_is_faulted() {
        let store = Arc::new(InMemoryStateStore::with_sizes(3, 0));
        let plan = FaultPlan::at(1, FaultKind::FailAfter);
        let faulty = Faulty::new(Arc::clone(&store), Arc::clone(&plan));
        faulty.load(Group::Backend).await.unwrap();
        let lost = faulty.finalize(Group::Backend, Utc::now()).await;
        assert!(matches!(lost, Err(StoreError::Unavailable { .. })));
        assert!(
            store.load(Group::Backend).await.unwrap().clusterized,
            "fail-after takes effect"
        );
        faulty.load(Group::Backend).await.unwrap();
        let methods: Vec<String> = plan.calls().into_iter().map(|c| c.method).collect();
        assert_eq!(methods, ["load", "finalize", "load"]);
        assert_eq!(plan.injected().unwrap().1, FaultKind::FailAfter);
    }

    #[tokio::test]
    async fn fail_before_never_reaches_the_service() {
        let store = Arc::new(InMemoryStateStore::with_sizes(3, 0));
        let faulty = Faulty::new(Arc::clone(&store), FaultPlan::at(0, FaultKind::FailBefore));
        assert!(faulty.finalize(Group::Backend, Utc::now()).await.is_err());
        assert!(!store.load(Group::Backend).await.unwrap().clusterized);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hang_sleeps_on_tokio_time_only() {
        let store = Arc::new(InMemoryStateStore::with_sizes(3, 0));
        let faulty = Faulty::new(Arc::clone(&store), FaultPlan::at(0, FaultKind::Hang));
        let started = std::time::Instant::now();
        let killed =
            tokio::time::timeout(Duration::from_secs(60), faulty.load(Group::Backend)).await;
        assert!(killed.is_err(), "the caller's deadline ends a hang");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
