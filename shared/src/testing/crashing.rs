//! [`CrashingStore`]: a state store wrapper that fails every operation from the n-th on.

use crate::domain::control::Pause;
use crate::domain::events::Event;
use crate::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecycleRecord, LifecycleResult, NewLifecycleAction,
};
use crate::domain::report::Report;
use crate::domain::state::{ClaimOutcome, ClusterState, Group, Registration};
use crate::ports::{LeaseClaim, LeaseOutcome, NewReport, StateStore, StoreError};
use crate::wire::bootstrap::Vm;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

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
    async fn register_noting_new(
        &self,
        group: Group,
        vm: &Vm,
    ) -> Result<(Registration, bool), StoreError> {
        self.step()?;
        self.inner.register_noting_new(group, vm).await
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
    async fn adopt(
        &self,
        group: Group,
        seen_version: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.step()?;
        self.inner.adopt(group, seen_version, now).await
    }
    async fn finalize(&self, group: Group, now: DateTime<Utc>) -> Result<ClusterState, StoreError> {
        self.step()?;
        self.inner.finalize(group, now).await
    }
    async fn next_report_seq(
        &self,
        group: Group,
        host: &str,
        window: &str,
        max_new_hosts: u32,
    ) -> Result<Option<u64>, StoreError> {
        self.step()?;
        self.inner
            .next_report_seq(group, host, window, max_new_hosts)
            .await
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
    async fn evict_registration(
        &self,
        group: Group,
        seen: &ClusterState,
        instance_id: &str,
    ) -> Result<bool, StoreError> {
        self.step()?;
        self.inner
            .evict_registration(group, seen, instance_id)
            .await
    }
    async fn acquire_lease(
        &self,
        name: &str,
        claim: &LeaseClaim,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        self.step()?;
        self.inner.acquire_lease(name, claim, now, ttl).await
    }
    async fn end_acting(
        &self,
        name: &str,
        owner: &str,
        invocation: &str,
    ) -> Result<bool, StoreError> {
        self.step()?;
        self.inner.end_acting(name, owner, invocation).await
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
    async fn record_event(
        &self,
        event: &Event,
        kept: u32,
        retention: Duration,
    ) -> Result<(), StoreError> {
        self.step()?;
        self.inner.record_event(event, kept, retention).await
    }
    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        self.step()?;
        self.inner.events().await
    }
    async fn pause(&self, pause: &Pause) -> Result<(), StoreError> {
        self.step()?;
        self.inner.pause(pause).await
    }
    async fn resume(&self) -> Result<Option<Pause>, StoreError> {
        self.step()?;
        self.inner.resume().await
    }
    async fn paused(&self) -> Result<Option<Pause>, StoreError> {
        self.step()?;
        self.inner.paused().await
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
