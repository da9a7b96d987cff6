//! The state store on DynamoDB: one table per cluster, partition key `pk`, sort key `sk`.
//!
//! | item | `pk` | `sk` | written by |
//! |---|---|---|---|
//! | group head | `<state key>` | `state` | registration (with its registration item, one transaction), claim, finalization (one conditional `UpdateItem` each), eviction (transaction) |
//! | registration | `<state key>` | `reg#<instance id>` | registration (`Put` if absent, in the registration's transaction), eviction (`Delete`) |
//! | report | `<state key>#reports` | `<host>#<slot>` | report (`PutItem`, ring of N slots per host, TTL) |
//! | report counter | `<state key>#report-seq` | `<host>` | report (`UpdateItem ADD`, TTL) |
//! | lease | `<backend state key>#lease` | `<name>` | lease holders (conditional `UpdateItem`) |
//! | note | `<backend state key>#note` | `<name>` | e.g. the last scale-down outcome (`PutItem`) |
//! | event | `<backend state key>#events` | `<slot>` | automatic decisions (`UpdateItem` of `#event-seq`, then `PutItem`; ring, TTL) |
//! | pause | `<backend state key>#control` | `pause` | operators only (the CLI: `PutItem`, `DeleteItem`) |
//! | WEKA's module's state (its table, read only) | `<prefix>-<cluster>-state` (hash key `Key`) | — | never: read once by `adopt` |
//! | lifecycle action | `<backend state key>#lifecycle` | `<instance id>#<launch\|terminate>` | fetch, report, finalization, scale-down, terminate (`UpdateItem`, conditional except the idempotent record; TTL) |
//!
//! Each item kind has its module (`state`, `reports`, `leases`, `notes`, `control`, `lifecycle`) holding
//! its attribute names and expressions as consts; `codec` holds the `AttributeValue` helpers.
//! This module holds the store, the shared request and error plumbing, and the [`StateStore`]
//! impl that dispatches to the item modules. Nothing outside `dynamo` touches `AttributeValue`.
//! NULL or missing attributes read as empty, as the reference's encoder writes them.

mod codec;
mod control;
mod events;
mod leases;
mod lifecycle;
mod notes;
mod reference;
mod reports;
mod state;

pub use lifecycle::LIFECYCLE_RETENTION;
pub use reference::{DynamoReferenceStates, decode_reference};
pub use state::{SK_REGISTRATION_PREFIX, SK_STATE, decode_state, encode_new_state};

use crate::adapters::LazyClient;
use crate::config::StateConfig;
use crate::domain::control::Pause;
use crate::domain::events::Event;
use crate::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecycleRecord, LifecycleResult, NewLifecycleAction,
};
use crate::domain::report::Report;
use crate::domain::state::{ClaimOutcome, ClusterState, Group, Registration};
use crate::ports::{LeaseClaim, LeaseOutcome, NewReport, StateStore, StoreError};
use crate::wire::bootstrap::Vm;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::paginator::QueryPaginatorItems;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, TransactWriteItem};
use chrono::{DateTime, Utc};
use codec::{Item, s};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Partition key attribute.
pub const ATTR_PK: &str = "pk";
/// Sort key attribute.
pub const ATTR_SK: &str = "sk";
/// TTL attribute (epoch seconds), enabled on the table by the Terraform module.
pub const ATTR_EXPIRES_AT: &str = "expires_at";

/// The DynamoDB state store, counting the write calls it makes.
#[derive(Debug)]
pub struct DynamoStateStore {
    client: LazyClient<Client>,
    config: StateConfig,
    write_calls: AtomicU64,
}

/// The answer to a conditional write.
enum Conditional {
    /// Written; the attributes the request's `ReturnValues` asked for (empty for none).
    Applied(Item),
    /// The condition refused it; the old item when the request asked for it on refusal.
    Refused(Option<Item>),
}

impl Conditional {
    const fn applied(&self) -> bool {
        matches!(self, Self::Applied(_))
    }
}

/// The answer to a `TransactWriteItems` whose conditions decide, not fail.
enum Transaction {
    /// Every item written.
    Committed,
    /// Nothing written; per item in request order, `None` where its condition held, else
    /// `Some(old item)` (present when the request asked for it on refusal).
    Canceled(Vec<Option<Option<Item>>>),
}

/// Attempts of a transaction that DynamoDB cancels for a conflict with a concurrent one on the
/// same item (it does not queue transactions as it queues single-item writes).
const TRANSACTION_ATTEMPTS: u32 = 8;

impl DynamoStateStore {
    /// A store on `config.table` through `client`.
    pub fn new(client: impl Into<LazyClient<Client>>, config: StateConfig) -> Self {
        Self {
            client: client.into(),
            config,
            write_calls: AtomicU64::new(0),
        }
    }

    /// A store built from the shared SDK configuration.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: StateConfig) -> Self {
        Self::from_clients(&crate::adapters::AwsClients::new(sdk.clone()), config)
    }

    /// A store on the process's DynamoDB client.
    pub fn from_clients(clients: &crate::adapters::AwsClients, config: StateConfig) -> Self {
        Self::new(clients.dynamodb(), config)
    }

    /// The table this store writes to.
    pub fn table(&self) -> &str {
        &self.config.table
    }

    /// The table and the groups' state keys.
    pub fn state_config(&self) -> &StateConfig {
        &self.config
    }

    /// Number of DynamoDB write API calls made so far (retries inside the SDK not counted).
    pub fn write_calls(&self) -> u64 {
        self.write_calls.load(Ordering::Relaxed)
    }

    fn state_key(&self, group: Group) -> &str {
        match group {
            Group::Backend => &self.config.state_key,
            Group::Nfs => &self.config.nfs_state_key,
        }
    }

    fn counted_write(&self) {
        self.write_calls.fetch_add(1, Ordering::Relaxed);
    }

    /// An `UpdateItem` of `key` on this table, not yet sent.
    fn update(
        &self,
        key: Item,
        update_expr: impl Into<String>,
        names: &[(&str, &str)],
        values: impl IntoIterator<Item = (&'static str, AttributeValue)>,
    ) -> UpdateItemFluentBuilder {
        let values: HashMap<String, AttributeValue> =
            values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        self.client
            .update_item()
            .table_name(&self.config.table)
            .set_key(Some(key))
            .update_expression(update_expr)
            .set_expression_attribute_names(Some(codec::names(names)))
            .set_expression_attribute_values(Some(values))
    }

    /// [`Self::update`] applied only where `condition_expr` holds; send it with
    /// [`Self::send_conditional`].
    fn conditional_update(
        &self,
        key: Item,
        update_expr: impl Into<String>,
        condition_expr: &str,
        names: &[(&str, &str)],
        values: impl IntoIterator<Item = (&'static str, AttributeValue)>,
    ) -> UpdateItemFluentBuilder {
        self.update(key, update_expr, names, values)
            .condition_expression(condition_expr)
    }

    /// Sends a conditional update, counting the write. A refused condition is an answer, not an
    /// error.
    async fn send_conditional(
        &self,
        operation: &'static str,
        request: UpdateItemFluentBuilder,
    ) -> Result<Conditional, StoreError> {
        self.counted_write();
        match request.send().await {
            Ok(out) => Ok(Conditional::Applied(out.attributes.unwrap_or_default())),
            Err(e) => match refused_condition(&e) {
                Some(old) => Ok(Conditional::Refused(old)),
                None => Err(store_error(operation, e)),
            },
        }
    }

    /// Sends a write transaction, counting each attempt as a write. A cancellation by the items'
    /// conditions is an answer; one by a conflicting concurrent transaction is retried after a
    /// jittered pause, up to [`TRANSACTION_ATTEMPTS`] attempts, then reported as unavailable.
    async fn transact(
        &self,
        operation: &'static str,
        items: Vec<TransactWriteItem>,
    ) -> Result<Transaction, StoreError> {
        let mut attempt = 1;
        loop {
            self.counted_write();
            let Err(error) = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await
            else {
                return Ok(Transaction::Committed);
            };
            let reasons = match &error {
                SdkError::ServiceError(service) => match service.err() {
                    TransactWriteItemsError::TransactionCanceledException(canceled) => {
                        Some(canceled.cancellation_reasons().to_vec())
                    }
                    _ => None,
                },
                _ => None,
            };
            let Some(reasons) = reasons else {
                return Err(store_error(operation, error));
            };
            match cancellation(&reasons) {
                Cancellation::Conditions(refusals) => return Ok(Transaction::Canceled(refusals)),
                Cancellation::Conflict if attempt < TRANSACTION_ATTEMPTS => {
                    tracing::debug!(operation, attempt, "transaction conflict, retrying");
                    tokio::time::sleep(conflict_pause(attempt)).await;
                    attempt += 1;
                }
                Cancellation::Conflict => {
                    return Err(StoreError::Unavailable {
                        operation,
                        source: Box::new(error),
                    });
                }
                Cancellation::Other => return Err(store_error(operation, error)),
            }
        }
    }

    /// The items of partition `pk`, all pages, read consistently (not sent yet).
    fn partition_items(&self, pk: &str) -> QueryPaginatorItems {
        self.client
            .query()
            .table_name(&self.config.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", ATTR_PK)
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true)
            .into_paginator()
            .items()
    }

    /// Every item of one partition (consistent read, all pages), decoded. An item that does not
    /// decode is skipped and logged as an error, so one bad item never takes its partition (every
    /// lifecycle action, every report) out of reach.
    async fn query_partition<T>(
        &self,
        pk: &str,
        what: &'static str,
        decode: fn(&Item) -> Result<T, String>,
    ) -> Result<Vec<T>, StoreError> {
        let mut pages = self.partition_items(pk).send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| store_error(what, e))?;
            match decode(&item) {
                Ok(value) => out.push(value),
                Err(reason) => tracing::error!(
                    partition = pk,
                    sort_key = ?codec::get_s(&item, ATTR_SK),
                    what,
                    reason,
                    "undecodable item skipped"
                ),
            }
        }
        Ok(out)
    }
}

/// Why DynamoDB canceled a transaction.
enum Cancellation {
    /// Only item conditions refused it (see [`Transaction::Canceled`]).
    Conditions(Vec<Option<Option<Item>>>),
    /// A concurrent transaction on one of its items: retrying may pass.
    Conflict,
    /// Anything else (validation, capacity): reported as the error it is.
    Other,
}

fn cancellation(reasons: &[CancellationReason]) -> Cancellation {
    let mut refusals = Vec::with_capacity(reasons.len());
    for reason in reasons {
        match reason.code() {
            None | Some("None") => refusals.push(None),
            Some("ConditionalCheckFailed") => refusals.push(Some(reason.item().cloned())),
            Some("TransactionConflict") => return Cancellation::Conflict,
            Some(_) => return Cancellation::Other,
        }
    }
    Cancellation::Conditions(refusals)
}

/// Exponential from 20 ms, capped at 640 ms, with the jitter the WEKA client's retries use.
fn conflict_pause(attempt: u32) -> Duration {
    super::jittered_backoff(
        Duration::from_millis(20),
        Duration::from_millis(640),
        attempt,
    )
}

fn store_error<E, R>(operation: &'static str, error: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if super::is_transient_sdk_error(&error) {
        StoreError::Unavailable {
            operation,
            source: Box::new(error),
        }
    } else {
        StoreError::Backend {
            operation,
            source: Box::new(error),
        }
    }
}

/// `Some(old item)` when `error` is a refused condition (the old item is present when DynamoDB
/// returned it), `None` for any other failure.
fn refused_condition<R>(error: &SdkError<UpdateItemError, R>) -> Option<Option<Item>> {
    match error {
        SdkError::ServiceError(service) => match service.err() {
            UpdateItemError::ConditionalCheckFailedException(failed) => Some(failed.item.clone()),
            _ => None,
        },
        _ => None,
    }
}

impl StateStore for DynamoStateStore {
    async fn load(&self, group: Group) -> Result<ClusterState, StoreError> {
        state::load(self, group).await
    }

    async fn is_full(&self, group: Group) -> Result<bool, StoreError> {
        state::is_full(self, group).await
    }

    async fn register_noting_new(
        &self,
        group: Group,
        vm: &Vm,
    ) -> Result<(Registration, bool), StoreError> {
        state::register(self, group, vm).await
    }

    async fn claim_clusterization(
        &self,
        group: Group,
        instance: &str,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        state::claim(self, group, instance, now, stale_after).await
    }

    async fn evict_registration(
        &self,
        group: Group,
        seen: &ClusterState,
        instance_id: &str,
    ) -> Result<bool, StoreError> {
        state::evict(self, group, seen, instance_id).await
    }

    async fn finalize(&self, group: Group, now: DateTime<Utc>) -> Result<ClusterState, StoreError> {
        state::finalize(self, group, now).await
    }

    async fn adopt(
        &self,
        group: Group,
        seen_version: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        state::adopt(self, group, seen_version, now).await
    }

    async fn next_report_seq(
        &self,
        group: Group,
        host: &str,
        window: &str,
        max_new_hosts: u32,
    ) -> Result<Option<u64>, StoreError> {
        reports::next_seq(self, group, host, window, max_new_hosts).await
    }

    async fn put_report(
        &self,
        group: Group,
        seq: u64,
        report: &NewReport,
        per_host: u32,
        retention: Duration,
    ) -> Result<(), StoreError> {
        reports::put(self, group, seq, report, per_host, retention).await
    }

    async fn reports(&self, group: Group) -> Result<Vec<Report>, StoreError> {
        reports::all(self, group).await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        claim: &LeaseClaim,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        leases::acquire(self, name, claim, now, ttl).await
    }

    async fn end_acting(
        &self,
        name: &str,
        owner: &str,
        invocation: &str,
    ) -> Result<bool, StoreError> {
        leases::end_acting(self, name, owner, invocation).await
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<bool, StoreError> {
        leases::release(self, name, owner).await
    }

    async fn put_note(&self, name: &str, body: &serde_json::Value) -> Result<(), StoreError> {
        notes::put(self, name, body).await
    }

    async fn note(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        notes::get(self, name).await
    }

    async fn record_event(
        &self,
        event: &Event,
        kept: u32,
        retention: Duration,
    ) -> Result<(), StoreError> {
        events::record(self, event, kept, retention).await
    }

    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        events::all(self).await
    }

    async fn pause(&self, pause: &Pause) -> Result<(), StoreError> {
        control::pause(self, pause).await
    }

    async fn resume(&self) -> Result<Option<Pause>, StoreError> {
        control::resume(self).await
    }

    async fn paused(&self) -> Result<Option<Pause>, StoreError> {
        control::paused(self).await
    }

    async fn record_lifecycle_action(&self, action: &NewLifecycleAction) -> Result<(), StoreError> {
        lifecycle::record(self, action).await
    }

    async fn lifecycle_actions(&self) -> Result<Vec<LifecycleRecord>, StoreError> {
        lifecycle::all(self).await
    }

    async fn claim_lifecycle_heartbeat(
        &self,
        key: &LifecycleKey,
        now: DateTime<Utc>,
        interval: Duration,
    ) -> Result<bool, StoreError> {
        lifecycle::claim_heartbeat(self, key, now, interval).await
    }

    async fn decide_lifecycle_action(
        &self,
        decision: &LifecycleDecision,
    ) -> Result<bool, StoreError> {
        lifecycle::decide(self, decision).await
    }

    async fn close_lifecycle_action(
        &self,
        key: &LifecycleKey,
        result: Option<LifecycleResult>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        lifecycle::close(self, key, result, reason, now).await
    }
}
