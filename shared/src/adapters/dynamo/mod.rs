//! The state store on DynamoDB: one table per cluster, partition key `pk`, sort key `sk`.
//!
//! | item | `pk` | `sk` | written by |
//! |---|---|---|---|
//! | group state | `<state key>` | `state` | registration, claim, finalization: one conditional `UpdateItem` each |
//! | report | `<state key>#reports` | `<host>#<slot>` | report (`PutItem`, ring of N slots per host, TTL) |
//! | report counter | `<state key>#report-seq` | `<host>` | report (`UpdateItem ADD`, TTL) |
//! | lease | `<backend state key>#lease` | `<name>` | lease holders (conditional `UpdateItem`) |
//! | note | `<backend state key>#note` | `<name>` | e.g. the last scale-down outcome (`PutItem`) |
//! | lifecycle action | `<backend state key>#lifecycle` | `<instance id>#<launch\|terminate>` | fetch, report, finalization, scale-down, terminate (`UpdateItem`, conditional except the idempotent record; TTL) |
//!
//! Every attribute name and expression is a const here; nothing else touches `AttributeValue`.
//! NULL or missing attributes read as empty, as the reference's encoder writes them.

use crate::config::StateConfig;
use crate::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecyclePhase, LifecycleRecord, LifecycleResult,
    NewLifecycleAction, Transition,
};
use crate::domain::report::{Report, ReportKind};
use crate::domain::state::{ClaimOutcome, ClusterState, Clusterizer, Group, Registration};
use crate::ports::{Lease, LeaseOutcome, NewReport, StateStore, StoreError};
use crate::wire::bootstrap::{Protocol, Vm};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Partition key attribute.
pub const ATTR_PK: &str = "pk";
/// Sort key attribute.
pub const ATTR_SK: &str = "sk";
/// Sort key of a group's state item.
pub const SK_STATE: &str = "state";
/// TTL attribute (epoch seconds), enabled on the table by the Terraform module.
pub const ATTR_EXPIRES_AT: &str = "expires_at";

const ATTR_VERSION: &str = "version";
const ATTR_INITIAL_SIZE: &str = "initial_size";
const ATTR_DESIRED_SIZE: &str = "desired_size";
const ATTR_TARGET: &str = "clusterization_target";
const ATTR_CLUSTERIZED: &str = "clusterized";
const ATTR_CLUSTERIZED_AT: &str = "clusterized_at";
const ATTR_INSTANCES: &str = "instances";
const ATTR_INSTANCE_IDS: &str = "instance_ids";
const ATTR_CLUSTERIZER: &str = "clusterizer";
const ATTR_CLAIM_INSTANCE: &str = "instance";
const ATTR_CLAIM_SINCE: &str = "since";
const ATTR_HOST: &str = "host";
const ATTR_SEQ: &str = "seq";
const ATTR_AT: &str = "at";
const ATTR_KIND: &str = "kind";
const ATTR_MESSAGE: &str = "message";
const ATTR_OWNER: &str = "owner";
const ATTR_LEASE_UNTIL_MS: &str = "lease_until_ms";
const ATTR_BODY: &str = "body";
const ATTR_INSTANCE_ID: &str = "instance_id";
const ATTR_TRANSITION: &str = "transition";
const ATTR_ASG: &str = "asg";
const ATTR_HOOK: &str = "hook";
const ATTR_TOKEN: &str = "token";
const ATTR_STARTED_AT: &str = "started_at";
const ATTR_PRIVATE_IP: &str = "private_ip";
const ATTR_PHASE: &str = "phase";
const ATTR_RESULT: &str = "result";
const ATTR_REASON: &str = "reason";
const ATTR_DECIDED_AT: &str = "decided_at";
const ATTR_COMPLETED_AT: &str = "completed_at";
const ATTR_LAST_HEARTBEAT_AT: &str = "last_heartbeat_at";

/// How long a lifecycle record is kept after the action started (hooks last at most 48 h).
pub const LIFECYCLE_RETENTION: Duration = Duration::from_secs(7 * 86_400);

const REGISTER_UPDATE: &str = "SET #instances = list_append(if_not_exists(#instances, :empty), :vm), \
     #ids = list_append(if_not_exists(#ids, :empty), :id_list) ADD #version :one";
const REGISTER_CONDITION: &str = "attribute_exists(#pk) \
     AND (attribute_not_exists(#clusterized) OR #clusterized = :false) \
     AND NOT contains(#ids, :id) \
     AND (attribute_not_exists(#ids) OR size(#ids) < #target)";
const CLAIM_UPDATE: &str = "SET #clusterizer = :claim ADD #version :one";
const CLAIM_CONDITION: &str = "attribute_exists(#pk) \
     AND (attribute_not_exists(#clusterized) OR #clusterized = :false) \
     AND contains(#ids, :id) AND size(#ids) >= #target \
     AND (attribute_not_exists(#clusterizer) OR #clusterizer.#claim_instance = :id \
          OR #clusterizer.#claim_since <= :stale_before)";
const FINALIZE_UPDATE: &str = "SET #clusterized = :true, \
     #clusterized_at = if_not_exists(#clusterized_at, :now) ADD #version :one";
const REPORT_SEQ_UPDATE: &str = "ADD #seq :one SET #expires_at = :expires_at";
const REPORT_PUT_CONDITION: &str = "attribute_not_exists(#seq) OR #seq < :seq";
const LEASE_UPDATE: &str = "SET #owner = :owner, #until = :until";
const LEASE_CONDITION: &str = "attribute_not_exists(#owner) OR #owner = :owner OR #until <= :now";
const LEASE_RELEASE_UPDATE: &str = "REMOVE #owner, #until";
const LEASE_RELEASE_CONDITION: &str = "#owner = :owner";
const LIFECYCLE_RECORD_UPDATE: &str = "SET #instance = :instance, #transition = :transition, \
     #asg = if_not_exists(#asg, :asg), #hook = if_not_exists(#hook, :hook), \
     #started = if_not_exists(#started, :started), #phase = if_not_exists(#phase, :waiting), \
     #expires_at = if_not_exists(#expires_at, :expires_at)";
const LIFECYCLE_HEARTBEAT_UPDATE: &str = "SET #hb = :now";
const LIFECYCLE_HEARTBEAT_CONDITION: &str = "attribute_exists(#pk) AND #phase = :waiting \
     AND (attribute_not_exists(#hb) OR #hb <= :before)";
const LIFECYCLE_DECIDE_UPDATE: &str = "SET #instance = :instance, #transition = :transition, \
     #asg = if_not_exists(#asg, :asg), #hook = if_not_exists(#hook, :hook), \
     #started = if_not_exists(#started, :now), #expires_at = if_not_exists(#expires_at, :expires_at), \
     #phase = :decided, #result = :result, #reason = :reason, #decided_at = :now";
const LIFECYCLE_DECIDE_CONDITION: &str = "attribute_not_exists(#pk) OR #phase = :waiting";
const LIFECYCLE_CLOSE_UPDATE: &str =
    "SET #phase = :completed, #reason = :reason, #completed_at = :now";
const LIFECYCLE_CLOSE_CONDITION: &str = "attribute_exists(#pk) AND #phase <> :completed";

/// The DynamoDB state store, counting the write calls it makes.
#[derive(Debug)]
pub struct DynamoStateStore {
    client: Client,
    config: StateConfig,
    write_calls: AtomicU64,
}

impl DynamoStateStore {
    /// A store on `config.table` through `client`.
    pub fn new(client: Client, config: StateConfig) -> Self {
        Self {
            client,
            config,
            write_calls: AtomicU64::new(0),
        }
    }

    /// A store built from the shared SDK configuration.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: StateConfig) -> Self {
        Self::new(Client::new(sdk), config)
    }

    /// The table this store writes to.
    pub fn table(&self) -> &str {
        &self.config.table
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

    fn key(pk: String, sk: impl Into<String>) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (ATTR_PK.to_owned(), AttributeValue::S(pk)),
            (ATTR_SK.to_owned(), AttributeValue::S(sk.into())),
        ])
    }

    fn state_item_key(&self, group: Group) -> HashMap<String, AttributeValue> {
        Self::key(self.state_key(group).to_owned(), SK_STATE)
    }

    fn lease_key(&self, name: &str) -> HashMap<String, AttributeValue> {
        Self::key(format!("{}#lease", self.config.state_key), name)
    }

    fn lifecycle_pk(&self) -> String {
        format!("{}#lifecycle", self.config.state_key)
    }

    fn lifecycle_key(&self, key: &LifecycleKey) -> HashMap<String, AttributeValue> {
        Self::key(
            self.lifecycle_pk(),
            format!("{}#{}", key.instance_id, key.transition.as_str()),
        )
    }

    /// A conditional lifecycle update: `Ok(true)` when applied, `Ok(false)` when the condition
    /// refused it.
    async fn lifecycle_update(
        &self,
        operation: &'static str,
        request: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
    ) -> Result<bool, StoreError> {
        self.counted_write();
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if refused_condition(&e).is_some() => Ok(false),
            Err(e) => Err(store_error(operation, e)),
        }
    }

    fn counted_write(&self) {
        self.write_calls.fetch_add(1, Ordering::Relaxed);
    }

    fn missing(&self, group: Group) -> StoreError {
        StoreError::StateMissing {
            table: self.config.table.clone(),
            key: self.state_key(group).to_owned(),
        }
    }

    fn decode_state(
        &self,
        group: Group,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<ClusterState, StoreError> {
        decode_state(item).map_err(|reason| StoreError::Corrupt {
            key: self.state_key(group).to_owned(),
            reason,
        })
    }

    /// The old item of a refused conditional write: from the error when DynamoDB returned it,
    /// else from a consistent read (refusals are monotone, so a later read explains them too).
    async fn refused_state(
        &self,
        group: Group,
        old: Option<&HashMap<String, AttributeValue>>,
    ) -> Result<ClusterState, StoreError> {
        match old {
            Some(item) => self.decode_state(group, item),
            None => self.load(group).await,
        }
    }

    fn inconsistent(&self, group: Group, what: &str) -> StoreError {
        StoreError::Corrupt {
            key: self.state_key(group).to_owned(),
            reason: format!("the table refused {what} but the stored document allows it"),
        }
    }
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

type UpdateError = SdkError<UpdateItemError, HttpResponse>;

/// `Some(old item)` when `error` is a refused condition (the old item is present when DynamoDB
/// returned it), `None` for any other failure.
fn refused_condition(error: &UpdateError) -> Option<Option<&HashMap<String, AttributeValue>>> {
    match error {
        SdkError::ServiceError(service) => match service.err() {
            UpdateItemError::ConditionalCheckFailedException(failed) => Some(failed.item()),
            _ => None,
        },
        _ => None,
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl Into<i128>) -> AttributeValue {
    AttributeValue::N(value.into().to_string())
}

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn timestamp(at: DateTime<Utc>) -> String {
    // Fixed width, so timestamps compare correctly as strings in condition expressions.
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn get_s(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn get_n<T: std::str::FromStr>(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Option<T>, String> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("attribute {name} is not a valid number: {v:?}")),
        Some(other) => Err(format!(
            "attribute {name} should be a number, found {other:?}"
        )),
    }
}

fn get_bool(item: &HashMap<String, AttributeValue>, name: &str) -> Result<bool, String> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(false),
        Some(AttributeValue::Bool(b)) => Ok(*b),
        Some(other) => Err(format!(
            "attribute {name} should be a boolean, found {other:?}"
        )),
    }
}

fn get_time(
    item: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, String> {
    get_s(item, name)
        .map(|v| {
            DateTime::parse_from_rfc3339(&v)
                .map(|t| t.to_utc())
                .map_err(|e| format!("attribute {name} is not an RFC 3339 time ({v:?}): {e}"))
        })
        .transpose()
}

fn vm_attribute(vm: &Vm) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("name".to_owned(), s(&vm.name)),
        ("protocol".to_owned(), s(vm.protocol.as_str())),
        ("container_uid".to_owned(), s(&vm.container_uid)),
        ("nic_name".to_owned(), s(&vm.nic_name)),
    ]))
}

fn decode_vm(value: &AttributeValue) -> Result<Vm, String> {
    let AttributeValue::M(map) = value else {
        return Err(format!("instance entry should be a map, found {value:?}"));
    };
    let protocol_text = get_s(map, "protocol").unwrap_or_default();
    Ok(Vm {
        name: get_s(map, "name").ok_or("instance entry has no name")?,
        protocol: Protocol::parse(&protocol_text)
            .ok_or_else(|| format!("instance entry has unknown protocol {protocol_text:?}"))?,
        container_uid: get_s(map, "container_uid").unwrap_or_default(),
        nic_name: get_s(map, "nic_name").unwrap_or_default(),
    })
}

/// Decodes a state item; NULL or missing attributes read as empty.
pub fn decode_state(item: &HashMap<String, AttributeValue>) -> Result<ClusterState, String> {
    let instances = match item.get(ATTR_INSTANCES) {
        None | Some(AttributeValue::Null(_)) => Vec::new(),
        Some(AttributeValue::L(list)) => list.iter().map(decode_vm).collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "attribute {ATTR_INSTANCES} should be a list, found {other:?}"
            ));
        }
    };
    let clusterizer = match item.get(ATTR_CLUSTERIZER) {
        Some(AttributeValue::M(map)) => Some(Clusterizer {
            instance: get_s(map, ATTR_CLAIM_INSTANCE).ok_or("clusterizer has no instance")?,
            since: get_time(map, ATTR_CLAIM_SINCE)?.ok_or("clusterizer has no start time")?,
        }),
        _ => None,
    };
    let initial_size = get_n(item, ATTR_INITIAL_SIZE)?.unwrap_or(0);
    Ok(ClusterState {
        version: get_n(item, ATTR_VERSION)?.unwrap_or(0),
        initial_size,
        desired_size: get_n(item, ATTR_DESIRED_SIZE)?.unwrap_or(initial_size),
        clusterization_target: get_n(item, ATTR_TARGET)?.unwrap_or(initial_size),
        clusterized: get_bool(item, ATTR_CLUSTERIZED)?,
        clusterized_at: get_time(item, ATTR_CLUSTERIZED_AT)?,
        instances,
        clusterizer,
    })
}

/// Encodes a fresh state item, as the Terraform module writes it (used by tests and tools).
pub fn encode_new_state(state_key: &str, size: u32) -> HashMap<String, AttributeValue> {
    let mut item = DynamoStateStore::key(state_key.to_owned(), SK_STATE);
    item.extend([
        (ATTR_VERSION.to_owned(), n(0)),
        (ATTR_INITIAL_SIZE.to_owned(), n(size)),
        (ATTR_DESIRED_SIZE.to_owned(), n(size)),
        (ATTR_TARGET.to_owned(), n(size)),
        (ATTR_CLUSTERIZED.to_owned(), AttributeValue::Bool(false)),
        (ATTR_INSTANCES.to_owned(), AttributeValue::L(vec![])),
        (ATTR_INSTANCE_IDS.to_owned(), AttributeValue::L(vec![])),
    ]);
    item
}

fn decode_report(item: &HashMap<String, AttributeValue>) -> Result<Report, String> {
    let kind_text = get_s(item, ATTR_KIND).unwrap_or_default();
    Ok(Report {
        host: get_s(item, ATTR_HOST).ok_or("report has no host")?,
        seq: get_n(item, ATTR_SEQ)?.ok_or("report has no sequence number")?,
        at: get_time(item, ATTR_AT)?.ok_or("report has no time")?,
        kind: ReportKind::parse(&kind_text)
            .ok_or_else(|| format!("report has unknown kind {kind_text:?}"))?,
        message: get_s(item, ATTR_MESSAGE).unwrap_or_default(),
    })
}

fn decode_lifecycle(item: &HashMap<String, AttributeValue>) -> Result<LifecycleRecord, String> {
    let transition_text = get_s(item, ATTR_TRANSITION).unwrap_or_default();
    let phase_text = get_s(item, ATTR_PHASE).unwrap_or_default();
    let result = get_s(item, ATTR_RESULT)
        .map(|r| {
            LifecycleResult::parse(&r)
                .ok_or_else(|| format!("lifecycle action has unknown result {r:?}"))
        })
        .transpose()?;
    Ok(LifecycleRecord {
        key: LifecycleKey {
            instance_id: get_s(item, ATTR_INSTANCE_ID)
                .ok_or("lifecycle action has no instance id")?,
            transition: Transition::parse(&transition_text).ok_or_else(|| {
                format!("lifecycle action has unknown transition {transition_text:?}")
            })?,
        },
        group: get_s(item, ATTR_ASG).unwrap_or_default(),
        hook: get_s(item, ATTR_HOOK).unwrap_or_default(),
        token: get_s(item, ATTR_TOKEN),
        started_at: get_time(item, ATTR_STARTED_AT)?.ok_or("lifecycle action has no start time")?,
        private_ip: get_s(item, ATTR_PRIVATE_IP),
        last_heartbeat_at: get_time(item, ATTR_LAST_HEARTBEAT_AT)?,
        phase: LifecyclePhase::parse(&phase_text)
            .ok_or_else(|| format!("lifecycle action has unknown phase {phase_text:?}"))?,
        result,
        reason: get_s(item, ATTR_REASON),
        decided_at: get_time(item, ATTR_DECIDED_AT)?,
        completed_at: get_time(item, ATTR_COMPLETED_AT)?,
    })
}

fn expiry(at: DateTime<Utc>, retention: Duration) -> i64 {
    at.timestamp()
        .saturating_add(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX / 2))
}

impl StateStore for DynamoStateStore {
    async fn load(&self, group: Group) -> Result<ClusterState, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.config.table)
            .set_key(Some(self.state_item_key(group)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("get_item state", e))?;
        let item = out.item().ok_or_else(|| self.missing(group))?;
        self.decode_state(group, item)
    }

    async fn register(&self, group: Group, vm: &Vm) -> Result<Registration, StoreError> {
        self.counted_write();
        let result = self
            .client
            .update_item()
            .table_name(&self.config.table)
            .set_key(Some(self.state_item_key(group)))
            .update_expression(REGISTER_UPDATE)
            .condition_expression(REGISTER_CONDITION)
            .set_expression_attribute_names(Some(names(&[
                ("#pk", ATTR_PK),
                ("#instances", ATTR_INSTANCES),
                ("#ids", ATTR_INSTANCE_IDS),
                ("#version", ATTR_VERSION),
                ("#clusterized", ATTR_CLUSTERIZED),
                ("#target", ATTR_TARGET),
            ])))
            .expression_attribute_values(":empty", AttributeValue::L(vec![]))
            .expression_attribute_values(":vm", AttributeValue::L(vec![vm_attribute(vm)]))
            .expression_attribute_values(":id_list", AttributeValue::L(vec![s(&vm.name)]))
            .expression_attribute_values(":id", s(&vm.name))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let state =
                    self.decode_state(group, out.attributes().unwrap_or(&HashMap::new()))?;
                state
                    .registration_answer(&vm.name)
                    .ok_or_else(|| self.inconsistent(group, "nothing"))
            }
            Err(e) => {
                let Some(old) = refused_condition(&e) else {
                    return Err(store_error("update_item register", e));
                };
                let state = self.refused_state(group, old).await?;
                state
                    .registration_answer(&vm.name)
                    .ok_or_else(|| self.inconsistent(group, "the registration"))
            }
        }
    }

    async fn claim_clusterization(
        &self,
        group: Group,
        instance: &str,
        now: DateTime<Utc>,
        stale_after: Duration,
    ) -> Result<ClaimOutcome, StoreError> {
        self.counted_write();
        let stale_before =
            now - chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
        let claim = AttributeValue::M(HashMap::from([
            (ATTR_CLAIM_INSTANCE.to_owned(), s(instance)),
            (ATTR_CLAIM_SINCE.to_owned(), s(timestamp(now))),
        ]));
        let result = self
            .client
            .update_item()
            .table_name(&self.config.table)
            .set_key(Some(self.state_item_key(group)))
            .update_expression(CLAIM_UPDATE)
            .condition_expression(CLAIM_CONDITION)
            .set_expression_attribute_names(Some(names(&[
                ("#pk", ATTR_PK),
                ("#ids", ATTR_INSTANCE_IDS),
                ("#version", ATTR_VERSION),
                ("#clusterized", ATTR_CLUSTERIZED),
                ("#target", ATTR_TARGET),
                ("#clusterizer", ATTR_CLUSTERIZER),
                ("#claim_instance", ATTR_CLAIM_INSTANCE),
                ("#claim_since", ATTR_CLAIM_SINCE),
            ])))
            .expression_attribute_values(":claim", claim)
            .expression_attribute_values(":id", s(instance))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":stale_before", s(timestamp(stale_before)))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let old = self.decode_state(group, out.attributes().unwrap_or(&HashMap::new()))?;
                let replaced = old.clusterizer.filter(|c| c.instance != instance);
                Ok(ClaimOutcome::Granted { replaced })
            }
            Err(e) => {
                let Some(old) = refused_condition(&e) else {
                    return Err(store_error("update_item claim", e));
                };
                let state = self.refused_state(group, old).await?;
                match state.claim_answer(instance, now, stale_after) {
                    ClaimOutcome::Granted { .. } => Err(self.inconsistent(group, "the claim")),
                    refused => Ok(refused),
                }
            }
        }
    }

    async fn finalize(&self, group: Group, now: DateTime<Utc>) -> Result<ClusterState, StoreError> {
        self.counted_write();
        let result = self
            .client
            .update_item()
            .table_name(&self.config.table)
            .set_key(Some(self.state_item_key(group)))
            .update_expression(FINALIZE_UPDATE)
            .condition_expression("attribute_exists(#pk)")
            .set_expression_attribute_names(Some(names(&[
                ("#pk", ATTR_PK),
                ("#version", ATTR_VERSION),
                ("#clusterized", ATTR_CLUSTERIZED),
                ("#clusterized_at", ATTR_CLUSTERIZED_AT),
            ])))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", s(timestamp(now)))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => self.decode_state(group, out.attributes().unwrap_or(&HashMap::new())),
            Err(e) if refused_condition(&e).is_some() => Err(self.missing(group)),
            Err(e) => Err(store_error("update_item finalize", e)),
        }
    }

    async fn next_report_seq(&self, group: Group, host: &str) -> Result<u64, StoreError> {
        self.counted_write();
        let out = self
            .client
            .update_item()
            .table_name(&self.config.table)
            .set_key(Some(Self::key(
                format!("{}#report-seq", self.state_key(group)),
                host,
            )))
            .update_expression(REPORT_SEQ_UPDATE)
            .set_expression_attribute_names(Some(names(&[
                ("#seq", ATTR_SEQ),
                ("#expires_at", ATTR_EXPIRES_AT),
            ])))
            .expression_attribute_values(":one", n(1))
            // The counter outlives its reports by a year so sequence numbers never restart
            // under live reports.
            .expression_attribute_values(":expires_at", n(Utc::now().timestamp() + 366 * 86_400))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| store_error("update_item report sequence", e))?;
        get_n(out.attributes().unwrap_or(&HashMap::new()), ATTR_SEQ)
            .ok()
            .flatten()
            .ok_or_else(|| StoreError::Corrupt {
                key: format!("{}#report-seq/{host}", self.state_key(group)),
                reason: "sequence counter did not return a number".to_owned(),
            })
    }

    async fn put_report(
        &self,
        group: Group,
        seq: u64,
        report: &NewReport,
        per_host: u32,
        retention: Duration,
    ) -> Result<(), StoreError> {
        self.counted_write();
        let slot = seq % u64::from(per_host.max(1));
        let mut item = Self::key(
            format!("{}#reports", self.state_key(group)),
            format!("{}#{slot:06}", report.host),
        );
        item.extend([
            (ATTR_HOST.to_owned(), s(&report.host)),
            (ATTR_SEQ.to_owned(), n(seq)),
            (ATTR_AT.to_owned(), s(timestamp(report.at))),
            (ATTR_KIND.to_owned(), s(report.kind.as_str())),
            (ATTR_MESSAGE.to_owned(), s(&report.message)),
            (ATTR_EXPIRES_AT.to_owned(), n(expiry(report.at, retention))),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.config.table)
            .set_item(Some(item))
            .condition_expression(REPORT_PUT_CONDITION)
            .expression_attribute_names("#seq", ATTR_SEQ)
            .expression_attribute_values(":seq", n(seq))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // A newer report already took this ring slot: ours is the one to drop.
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() =>
            {
                Ok(())
            }
            Err(e) => Err(store_error("put_item report", e)),
        }
    }

    async fn reports(&self, group: Group) -> Result<Vec<Report>, StoreError> {
        let pk = format!("{}#reports", self.state_key(group));
        let mut reports = self
            .query_partition(&pk, "query reports", decode_report)
            .await?;
        reports.sort_by(|a, b| a.host.cmp(&b.host).then(a.seq.cmp(&b.seq)));
        Ok(reports)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        self.counted_write();
        let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        let result = self
            .client
            .update_item()
            .table_name(&self.config.table)
            .set_key(Some(self.lease_key(name)))
            .update_expression(LEASE_UPDATE)
            .condition_expression(LEASE_CONDITION)
            .set_expression_attribute_names(Some(names(&[
                ("#owner", ATTR_OWNER),
                ("#until", ATTR_LEASE_UNTIL_MS),
            ])))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(expires_at.timestamp_millis()))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let lease = |owner: String, until: DateTime<Utc>| Lease {
            name: name.to_owned(),
            owner,
            expires_at: until,
        };
        match result {
            Ok(_) => Ok(LeaseOutcome::Acquired(lease(owner.to_owned(), expires_at))),
            Err(e) => {
                let Some(old) = refused_condition(&e) else {
                    return Err(store_error("update_item lease", e));
                };
                let old = old.cloned().unwrap_or_default();
                let holder = get_s(&old, ATTR_OWNER).unwrap_or_else(|| "unknown".to_owned());
                let until = get_n::<i64>(&old, ATTR_LEASE_UNTIL_MS)
                    .ok()
                    .flatten()
                    .and_then(DateTime::from_timestamp_millis)
                    .unwrap_or(expires_at);
                Ok(LeaseOutcome::Held(lease(holder, until)))
            }
        }
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<bool, StoreError> {
        self.counted_write();
        let result = self
            .client
            .update_item()
            .table_name(&self.config.table)
            .set_key(Some(self.lease_key(name)))
            .update_expression(LEASE_RELEASE_UPDATE)
            .condition_expression(LEASE_RELEASE_CONDITION)
            .set_expression_attribute_names(Some(names(&[
                ("#owner", ATTR_OWNER),
                ("#until", ATTR_LEASE_UNTIL_MS),
            ])))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if refused_condition(&e).is_some() => Ok(false),
            Err(e) => Err(store_error("update_item lease release", e)),
        }
    }

    async fn put_note(&self, name: &str, body: &serde_json::Value) -> Result<(), StoreError> {
        self.counted_write();
        let mut item = Self::key(format!("{}#note", self.config.state_key), name);
        item.insert(ATTR_BODY.to_owned(), s(body.to_string()));
        self.client
            .put_item()
            .table_name(&self.config.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_error("put_item note", e))?;
        Ok(())
    }

    async fn note(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let pk = format!("{}#note", self.config.state_key);
        let out = self
            .client
            .get_item()
            .table_name(&self.config.table)
            .set_key(Some(Self::key(pk.clone(), name)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("get_item note", e))?;
        out.item()
            .and_then(|item| get_s(item, ATTR_BODY))
            .map(|body| {
                serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                    key: format!("{pk}/{name}"),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }

    async fn record_lifecycle_action(&self, action: &NewLifecycleAction) -> Result<(), StoreError> {
        self.counted_write();
        let mut update = LIFECYCLE_RECORD_UPDATE.to_owned();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.config.table)
            .set_key(Some(self.lifecycle_key(&action.key)))
            .expression_attribute_names("#instance", ATTR_INSTANCE_ID)
            .expression_attribute_names("#transition", ATTR_TRANSITION)
            .expression_attribute_names("#asg", ATTR_ASG)
            .expression_attribute_names("#hook", ATTR_HOOK)
            .expression_attribute_names("#started", ATTR_STARTED_AT)
            .expression_attribute_names("#phase", ATTR_PHASE)
            .expression_attribute_names("#expires_at", ATTR_EXPIRES_AT)
            .expression_attribute_values(":instance", s(&action.key.instance_id))
            .expression_attribute_values(":transition", s(action.key.transition.as_str()))
            .expression_attribute_values(":asg", s(&action.group))
            .expression_attribute_values(":hook", s(&action.hook))
            .expression_attribute_values(":started", s(timestamp(action.started_at)))
            .expression_attribute_values(":waiting", s(LifecyclePhase::Waiting.as_str()))
            .expression_attribute_values(
                ":expires_at",
                n(expiry(action.started_at, LIFECYCLE_RETENTION)),
            );
        if let Some(token) = &action.token {
            update.push_str(", #token = if_not_exists(#token, :token)");
            request = request
                .expression_attribute_names("#token", ATTR_TOKEN)
                .expression_attribute_values(":token", s(token));
        }
        if let Some(ip) = &action.private_ip {
            update.push_str(", #ip = if_not_exists(#ip, :ip)");
            request = request
                .expression_attribute_names("#ip", ATTR_PRIVATE_IP)
                .expression_attribute_values(":ip", s(ip));
        }
        request
            .update_expression(update)
            .send()
            .await
            .map_err(|e| store_error("update_item lifecycle record", e))?;
        Ok(())
    }

    async fn lifecycle_actions(&self) -> Result<Vec<LifecycleRecord>, StoreError> {
        self.query_lifecycle().await
    }

    async fn claim_lifecycle_heartbeat(
        &self,
        key: &LifecycleKey,
        now: DateTime<Utc>,
        interval: Duration,
    ) -> Result<bool, StoreError> {
        let before = now - chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
        let request = self
            .client
            .update_item()
            .table_name(&self.config.table)
            .set_key(Some(self.lifecycle_key(key)))
            .update_expression(LIFECYCLE_HEARTBEAT_UPDATE)
            .condition_expression(LIFECYCLE_HEARTBEAT_CONDITION)
            .set_expression_attribute_names(Some(names(&[
                ("#pk", ATTR_PK),
                ("#phase", ATTR_PHASE),
                ("#hb", ATTR_LAST_HEARTBEAT_AT),
            ])))
            .expression_attribute_values(":now", s(timestamp(now)))
            .expression_attribute_values(":before", s(timestamp(before)))
            .expression_attribute_values(":waiting", s(LifecyclePhase::Waiting.as_str()));
        self.lifecycle_update("update_item lifecycle heartbeat", request)
            .await
    }

    async fn decide_lifecycle_action(
        &self,
        decision: &LifecycleDecision,
    ) -> Result<bool, StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.config.table)
            .set_key(Some(self.lifecycle_key(&decision.key)))
            .update_expression(LIFECYCLE_DECIDE_UPDATE)
            .condition_expression(LIFECYCLE_DECIDE_CONDITION)
            .set_expression_attribute_names(Some(names(&[
                ("#pk", ATTR_PK),
                ("#instance", ATTR_INSTANCE_ID),
                ("#transition", ATTR_TRANSITION),
                ("#asg", ATTR_ASG),
                ("#hook", ATTR_HOOK),
                ("#started", ATTR_STARTED_AT),
                ("#expires_at", ATTR_EXPIRES_AT),
                ("#phase", ATTR_PHASE),
                ("#result", ATTR_RESULT),
                ("#reason", ATTR_REASON),
                ("#decided_at", ATTR_DECIDED_AT),
            ])))
            .expression_attribute_values(":instance", s(&decision.key.instance_id))
            .expression_attribute_values(":transition", s(decision.key.transition.as_str()))
            .expression_attribute_values(":asg", s(&decision.group))
            .expression_attribute_values(":hook", s(&decision.hook))
            .expression_attribute_values(":now", s(timestamp(decision.at)))
            .expression_attribute_values(":expires_at", n(expiry(decision.at, LIFECYCLE_RETENTION)))
            .expression_attribute_values(":decided", s(LifecyclePhase::Decided.as_str()))
            .expression_attribute_values(":waiting", s(LifecyclePhase::Waiting.as_str()))
            .expression_attribute_values(":result", s(decision.result.as_str()))
            .expression_attribute_values(":reason", s(&decision.reason));
        self.lifecycle_update("update_item lifecycle decision", request)
            .await
    }

    async fn close_lifecycle_action(
        &self,
        key: &LifecycleKey,
        result: Option<LifecycleResult>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut update = LIFECYCLE_CLOSE_UPDATE.to_owned();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.config.table)
            .set_key(Some(self.lifecycle_key(key)))
            .condition_expression(LIFECYCLE_CLOSE_CONDITION)
            .set_expression_attribute_names(Some(names(&[
                ("#pk", ATTR_PK),
                ("#phase", ATTR_PHASE),
                ("#reason", ATTR_REASON),
                ("#completed_at", ATTR_COMPLETED_AT),
            ])))
            .expression_attribute_values(":completed", s(LifecyclePhase::Completed.as_str()))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", s(timestamp(now)));
        if let Some(result) = result {
            update.push_str(", #result = :result");
            request = request
                .expression_attribute_names("#result", ATTR_RESULT)
                .expression_attribute_values(":result", s(result.as_str()));
        }
        self.lifecycle_update(
            "update_item lifecycle completion",
            request.update_expression(update),
        )
        .await
    }
}

impl DynamoStateStore {
    async fn query_lifecycle(&self) -> Result<Vec<LifecycleRecord>, StoreError> {
        let pk = self.lifecycle_pk();
        let mut records = self
            .query_partition(&pk, "query lifecycle actions", decode_lifecycle)
            .await?;
        records.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(records)
    }

    /// Every item of one partition (consistent read, all pages), decoded; an item that does not
    /// decode is reported as corrupt under the partition key.
    async fn query_partition<T>(
        &self,
        pk: &str,
        what: &'static str,
        decode: fn(&HashMap<String, AttributeValue>) -> Result<T, String>,
    ) -> Result<Vec<T>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.config.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", ATTR_PK)
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| store_error(what, e))?;
            out.push(decode(&item).map_err(|reason| StoreError::Corrupt {
                key: pk.to_owned(),
                reason,
            })?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn null_and_missing_attributes_read_as_empty() {
        let mut item = encode_new_state("k", 6);
        item.insert(ATTR_INSTANCES.to_owned(), AttributeValue::Null(true));
        item.remove(ATTR_CLUSTERIZED);
        let state = decode_state(&item).unwrap();
        assert_eq!(state, ClusterState::new(6));
    }

    #[test]
    fn reference_vm_encoding_with_null_fields_decodes() {
        let vm = AttributeValue::M(HashMap::from([
            ("name".to_owned(), s("i-1")),
            ("protocol".to_owned(), AttributeValue::Null(true)),
            ("container_uid".to_owned(), AttributeValue::Null(true)),
            ("nic_name".to_owned(), AttributeValue::Null(true)),
        ]));
        let decoded = decode_vm(&vm).unwrap();
        assert_eq!(decoded.name, "i-1");
        assert_eq!(decoded.protocol, Protocol::Backend);
    }

    #[test]
    fn wrong_types_are_reported_by_attribute_name() {
        let mut item = encode_new_state("k", 6);
        item.insert(ATTR_CLUSTERIZED.to_owned(), s("yes"));
        let err = decode_state(&item).unwrap_err();
        assert!(err.contains("clusterized"), "{err}");
    }

    #[test]
    fn timestamps_are_fixed_width_for_string_comparison() {
        let a = timestamp(DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        let b = timestamp(DateTime::from_timestamp(1_700_000_000, 5_000_000).unwrap());
        assert_eq!(a.len(), b.len());
        assert!(a < b);
    }
}
