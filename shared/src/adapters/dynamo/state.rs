//! A group's state: a small head item (`<state key>` / `state`: sizes, the registration counter,
//! the claim, clusterized) and one item per registered instance (`<state key>` /
//! `reg#<instance id>`). A registration is one transaction on two small items whatever the
//! group's size; claim and finalization are one conditional `UpdateItem` of the head each.

use super::codec::{Item, get_bool, get_n, get_s, get_time, key, n, s, timestamp};
use super::{ATTR_PK, ATTR_SK, Conditional, DynamoStateStore, Transaction, store_error};
use crate::domain::state::{
    ClaimFacts, ClaimOutcome, ClusterState, Clusterizer, Group, Registration, RegistrationRefusal,
    claim_rule,
};
use crate::ports::{StoreError, check_storable_time};
use crate::wire::bootstrap::{Protocol, Vm};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update, builders::UpdateBuilder,
};
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;
use std::time::Duration;

/// Sort key of a group's head item.
pub const SK_STATE: &str = "state";
/// Sort key prefix of the registration items (`reg#<instance id>`).
pub const SK_REGISTRATION_PREFIX: &str = "reg#";

const ATTR_VERSION: &str = "version";
const ATTR_INITIAL_SIZE: &str = "initial_size";
const ATTR_DESIRED_SIZE: &str = "desired_size";
const ATTR_TARGET: &str = "clusterization_target";
const ATTR_CLUSTERIZED: &str = "clusterized";
const ATTR_CLUSTERIZED_AT: &str = "clusterized_at";
const ATTR_REGISTERED: &str = "registered";
const ATTR_LAST_REGISTRANT: &str = "last_registrant";
const ATTR_CLUSTERIZER: &str = "clusterizer";
const ATTR_CLAIM_INSTANCE: &str = "instance";
const ATTR_CLAIM_SINCE: &str = "since";
/// The registration list of the earlier single-item layout, still read (never written).
const ATTR_LEGACY_INSTANCES: &str = "instances";

const ATTR_REG_INSTANCE: &str = "instance_id";
const ATTR_REG_PROTOCOL: &str = "protocol";
const ATTR_REG_CONTAINER_UID: &str = "container_uid";
const ATTR_REG_NIC_NAME: &str = "nic_name";
const ATTR_REG_AT: &str = "registered_at";

const NOT_CLUSTERIZED: &str = "(attribute_not_exists(#clusterized) OR #clusterized = :false)";

/// The counter update of a registration; `last_registrant` ends as the completer's id, since
/// no registration passes the condition once the set is full.
const REGISTER_UPDATE: &str = "SET #registered = if_not_exists(#registered, :zero) + :one, \
     #last = :id ADD #version :one";
const CLAIM_UPDATE: &str = "SET #clusterizer = :claim ADD #version :one";
const FINALIZE_UPDATE: &str = "SET #clusterized = :true, \
     #clusterized_at = if_not_exists(#clusterized_at, :now) ADD #version :one";
const ADOPT_UPDATE: &str = "SET #clusterized = :true, #clusterized_at = :now ADD #version :one";
const EVICT_UPDATE: &str = "SET #registered = #registered - :one ADD #version :one";

fn register_condition() -> String {
    format!(
        "attribute_exists(#pk) AND {NOT_CLUSTERIZED} \
         AND (attribute_not_exists(#registered) OR #registered < #target)"
    )
}

fn claim_condition() -> String {
    format!(
        "attribute_exists(#pk) AND {NOT_CLUSTERIZED} AND #registered >= #target \
         AND (attribute_not_exists(#clusterizer) OR #clusterizer.#claim_instance = :id \
              OR #clusterizer.#claim_since <= :stale_before)"
    )
}

fn evict_condition() -> String {
    format!(
        "attribute_exists(#pk) AND {NOT_CLUSTERIZED} \
         AND attribute_not_exists(#clusterizer) AND #registered = :len"
    )
}

/// The head item: everything but the registration set.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    state: ClusterState,
    /// Registrations counted by the head (the number of registration items, once every
    /// transaction that wrote one is visible).
    registered: u32,
    /// Who made the last counted registration: the completer once the set is full.
    last_registrant: Option<String>,
}

impl Head {
    fn full(&self) -> bool {
        self.registered >= self.state.clusterization_target
    }

    fn claim_facts(&self, member: bool) -> ClaimFacts<'_> {
        ClaimFacts {
            clusterized: self.state.clusterized,
            full: self.full(),
            member,
            clusterizer: self.state.clusterizer.as_ref(),
        }
    }

    /// The answer to a registered instance (its registration item exists).
    fn member_answer(&self, instance_id: &str) -> Registration {
        let target = self.state.clusterization_target;
        if let Some(position) = self.state.position_of(instance_id) {
            // Registered under the single-item layout, which kept the order.
            return Registration::Registered { position, target };
        }
        let completer = self.full() && self.last_registrant.as_deref() == Some(instance_id);
        let position = if completer {
            target
        } else {
            self.registered.min(target.saturating_sub(1))
        };
        Registration::Registered { position, target }
    }

    /// Why the head's condition refused a registration of an instance that holds no slot.
    fn refusal(&self) -> Option<RegistrationRefusal> {
        if self.state.clusterized {
            Some(RegistrationRefusal::AlreadyClusterized)
        } else if self.full() {
            Some(RegistrationRefusal::SetComplete {
                target: self.state.clusterization_target,
            })
        } else {
            None
        }
    }
}

fn head_key(store: &DynamoStateStore, group: Group) -> Item {
    key(store.state_key(group).to_owned(), SK_STATE)
}

fn registration_key(store: &DynamoStateStore, group: Group, instance_id: &str) -> Item {
    key(
        store.state_key(group).to_owned(),
        format!("{SK_REGISTRATION_PREFIX}{instance_id}"),
    )
}

fn missing(store: &DynamoStateStore, group: Group) -> StoreError {
    StoreError::StateMissing {
        table: store.config.table.clone(),
        key: store.state_key(group).to_owned(),
    }
}

fn corrupt(store: &DynamoStateStore, group: Group, reason: String) -> StoreError {
    StoreError::Corrupt {
        key: store.state_key(group).to_owned(),
        reason,
    }
}

fn inconsistent(store: &DynamoStateStore, group: Group, what: &str) -> StoreError {
    corrupt(
        store,
        group,
        format!("the table refused {what} but the stored document allows it"),
    )
}

fn decode_head_or_corrupt(
    store: &DynamoStateStore,
    group: Group,
    item: &Item,
) -> Result<Head, StoreError> {
    decode_head(item).map_err(|reason| corrupt(store, group, reason))
}

/// The head, read consistently.
async fn load_head(store: &DynamoStateStore, group: Group) -> Result<Head, StoreError> {
    let out = store
        .client
        .get_item()
        .table_name(&store.config.table)
        .set_key(Some(head_key(store, group)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| store_error("get_item state", e))?;
    let item = out.item().ok_or_else(|| missing(store, group))?;
    decode_head_or_corrupt(store, group, item)
}

/// The head a refused write saw: from the refusal when DynamoDB returned it, else read again
/// (refusals are monotone, so a later read explains them too).
async fn refused_head(
    store: &DynamoStateStore,
    group: Group,
    old: Option<Item>,
) -> Result<Head, StoreError> {
    match old {
        Some(item) => decode_head_or_corrupt(store, group, &item),
        None => load_head(store, group).await,
    }
}

async fn holds_slot(
    store: &DynamoStateStore,
    group: Group,
    instance_id: &str,
) -> Result<bool, StoreError> {
    let out = store
        .client
        .get_item()
        .table_name(&store.config.table)
        .set_key(Some(registration_key(store, group, instance_id)))
        .consistent_read(true)
        .projection_expression("#pk")
        .expression_attribute_names("#pk", ATTR_PK)
        .send()
        .await
        .map_err(|e| store_error("get_item registration", e))?;
    Ok(out.item().is_some())
}

/// The head and every registration item of the group, in one paginated consistent query.
pub(super) async fn load(
    store: &DynamoStateStore,
    group: Group,
) -> Result<ClusterState, StoreError> {
    let mut pages = store.partition_items(store.state_key(group)).send();
    let mut head = None;
    let mut registrations = Vec::new();
    while let Some(item) = pages.next().await {
        let item = item.map_err(|e| store_error("query state", e))?;
        match get_s(&item, ATTR_SK).as_deref() {
            Some(SK_STATE) => head = Some(decode_head_or_corrupt(store, group, &item)?),
            Some(sk) if sk.starts_with(SK_REGISTRATION_PREFIX) => registrations
                .push(decode_registration(&item).map_err(|reason| corrupt(store, group, reason))?),
            _ => {}
        }
    }
    let head = head.ok_or_else(|| missing(store, group))?;
    Ok(assemble(head, registrations))
}

/// The group state from its head and registration items: registrations in the order they were
/// made (then by id), after any the earlier single-item layout listed.
fn assemble(head: Head, mut registrations: Vec<(String, Vm)>) -> ClusterState {
    let mut state = head.state;
    registrations.sort_by(|(at_a, a), (at_b, b)| at_a.cmp(at_b).then_with(|| a.name.cmp(&b.name)));
    for (_, vm) in registrations {
        if state.position_of(&vm.name).is_none() {
            state.instances.push(vm);
        }
    }
    state
}

pub(super) async fn is_full(store: &DynamoStateStore, group: Group) -> Result<bool, StoreError> {
    Ok(load_head(store, group).await?.full())
}

pub(super) async fn register(
    store: &DynamoStateStore,
    group: Group,
    vm: &Vm,
) -> Result<(Registration, bool), StoreError> {
    let table = &store.config.table;
    let slot = Put::builder()
        .table_name(table)
        .set_item(Some(registration_item(
            store.state_key(group),
            vm,
            Utc::now(),
        )))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", ATTR_PK)
        .build()
        .map_err(|e| build_error("register", e))?;
    let counter = head_update(
        store,
        group,
        REGISTER_UPDATE,
        register_condition(),
        &[
            ("#pk", ATTR_PK),
            ("#registered", ATTR_REGISTERED),
            ("#last", ATTR_LAST_REGISTRANT),
            ("#version", ATTR_VERSION),
            ("#clusterized", ATTR_CLUSTERIZED),
            ("#target", ATTR_TARGET),
        ],
        [
            (":zero", n(0)),
            (":one", n(1)),
            (":id", s(&vm.name)),
            (":false", AttributeValue::Bool(false)),
        ],
    )
    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    .build()
    .map_err(|e| build_error("register", e))?;
    let outcome = store
        .transact(
            "transact_write_items register",
            vec![
                TransactWriteItem::builder().put(slot).build(),
                TransactWriteItem::builder().update(counter).build(),
            ],
        )
        .await?;
    match outcome {
        Transaction::Committed => {
            Ok((load_head(store, group).await?.member_answer(&vm.name), true))
        }
        // The slot exists: a retry of a registration that was made. Same answer as then.
        Transaction::Canceled(refusals) if refusals.first().is_some_and(Option::is_some) => Ok((
            load_head(store, group).await?.member_answer(&vm.name),
            false,
        )),
        Transaction::Canceled(mut refusals) => {
            let old = refusals.pop().flatten().flatten();
            let head = refused_head(store, group, old).await?;
            head.refusal()
                .map(|refusal| (Registration::Refused(refusal), false))
                .ok_or_else(|| inconsistent(store, group, "the registration"))
        }
    }
}

pub(super) async fn claim(
    store: &DynamoStateStore,
    group: Group,
    instance: &str,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> Result<ClaimOutcome, StoreError> {
    check_storable_time("clusterization claim time", now)?;
    // Membership is read first: only an eviction removes a slot, and an eviction lowers the
    // counter below the target, which the claim's condition then refuses.
    if !holds_slot(store, group, instance).await? {
        let head = load_head(store, group).await?;
        return Ok(claim_rule(
            &head.claim_facts(false),
            instance,
            now,
            stale_after,
        ));
    }
    let stale_before =
        now - chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
    let claim = AttributeValue::M(HashMap::from([
        (ATTR_CLAIM_INSTANCE.to_owned(), s(instance)),
        (ATTR_CLAIM_SINCE.to_owned(), s(timestamp(now))),
    ]));
    let request = store
        .conditional_update(
            head_key(store, group),
            CLAIM_UPDATE,
            &claim_condition(),
            &[
                ("#pk", ATTR_PK),
                ("#registered", ATTR_REGISTERED),
                ("#version", ATTR_VERSION),
                ("#clusterized", ATTR_CLUSTERIZED),
                ("#target", ATTR_TARGET),
                ("#clusterizer", ATTR_CLUSTERIZER),
                ("#claim_instance", ATTR_CLAIM_INSTANCE),
                ("#claim_since", ATTR_CLAIM_SINCE),
            ],
            [
                (":claim", claim),
                (":id", s(instance)),
                (":one", n(1)),
                (":false", AttributeValue::Bool(false)),
                (":stale_before", s(timestamp(stale_before))),
            ],
        )
        .return_values(ReturnValue::AllOld)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    match store.send_conditional("update_item claim", request).await? {
        Conditional::Applied(old) => {
            let old = decode_head_or_corrupt(store, group, &old)?;
            let replaced = old.state.clusterizer.filter(|c| c.instance != instance);
            Ok(ClaimOutcome::Granted { replaced })
        }
        Conditional::Refused(old) => {
            let head = refused_head(store, group, old).await?;
            match claim_rule(&head.claim_facts(true), instance, now, stale_after) {
                ClaimOutcome::Granted { .. } => Err(inconsistent(store, group, "the claim")),
                refused => Ok(refused),
            }
        }
    }
}

/// Frees the slot of `instance_id` while the group is still gathering, if the set is still the
/// size `seen` had (a changed set is refused: the caller decided on a stale view).
pub(super) async fn evict(
    store: &DynamoStateStore,
    group: Group,
    seen: &ClusterState,
    instance_id: &str,
) -> Result<bool, StoreError> {
    if seen.evictable_slot(instance_id).is_none() {
        return Ok(false);
    }
    let table = &store.config.table;
    let slot = Delete::builder()
        .table_name(table)
        .set_key(Some(registration_key(store, group, instance_id)))
        .condition_expression("attribute_exists(#pk)")
        .expression_attribute_names("#pk", ATTR_PK)
        .build()
        .map_err(|e| build_error("evict", e))?;
    let counter = head_update(
        store,
        group,
        EVICT_UPDATE,
        evict_condition(),
        &[
            ("#pk", ATTR_PK),
            ("#registered", ATTR_REGISTERED),
            ("#version", ATTR_VERSION),
            ("#clusterized", ATTR_CLUSTERIZED),
            ("#clusterizer", ATTR_CLUSTERIZER),
        ],
        [
            (":one", n(1)),
            (":false", AttributeValue::Bool(false)),
            (
                ":len",
                n(i64::try_from(seen.instances.len()).unwrap_or(i64::MAX)),
            ),
        ],
    )
    .build()
    .map_err(|e| build_error("evict", e))?;
    let outcome = store
        .transact(
            "transact_write_items evict",
            vec![
                TransactWriteItem::builder().delete(slot).build(),
                TransactWriteItem::builder().update(counter).build(),
            ],
        )
        .await?;
    Ok(matches!(outcome, Transaction::Committed))
}

pub(super) async fn finalize(
    store: &DynamoStateStore,
    group: Group,
    now: DateTime<Utc>,
) -> Result<ClusterState, StoreError> {
    check_storable_time("clusterization time", now)?;
    let request = store.conditional_update(
        head_key(store, group),
        FINALIZE_UPDATE,
        "attribute_exists(#pk)",
        &[
            ("#pk", ATTR_PK),
            ("#version", ATTR_VERSION),
            ("#clusterized", ATTR_CLUSTERIZED),
            ("#clusterized_at", ATTR_CLUSTERIZED_AT),
        ],
        [
            (":true", AttributeValue::Bool(true)),
            (":now", s(timestamp(now))),
            (":one", n(1)),
        ],
    );
    match store
        .send_conditional("update_item finalize", request)
        .await?
    {
        Conditional::Applied(_) => load(store, group).await,
        Conditional::Refused(_) => Err(missing(store, group)),
    }
}

/// Marks an adopted group clusterized: only the document as the adoption read it (same
/// version), not clusterized and with no clusterization claim.
pub(super) async fn adopt(
    store: &DynamoStateStore,
    group: Group,
    seen_version: u64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    check_storable_time("adoption time", now)?;
    // A head written before versions were kept has none: it reads as version 0.
    let same_version = if seen_version == 0 {
        "(attribute_not_exists(#version) OR #version = :seen)"
    } else {
        "#version = :seen"
    };
    let condition = format!(
        "attribute_exists(#pk) AND {same_version} AND {NOT_CLUSTERIZED} \
         AND attribute_not_exists(#clusterizer)"
    );
    let request = store.conditional_update(
        head_key(store, group),
        ADOPT_UPDATE,
        &condition,
        &[
            ("#pk", ATTR_PK),
            ("#version", ATTR_VERSION),
            ("#clusterized", ATTR_CLUSTERIZED),
            ("#clusterized_at", ATTR_CLUSTERIZED_AT),
            ("#clusterizer", ATTR_CLUSTERIZER),
        ],
        [
            (":true", AttributeValue::Bool(true)),
            (":false", AttributeValue::Bool(false)),
            (":now", s(timestamp(now))),
            (":seen", n(seen_version)),
            (":one", n(1)),
        ],
    );
    Ok(store
        .send_conditional("update_item adopt", request)
        .await?
        .applied())
}

/// The head's part of a transaction: a conditional update, not yet built.
fn head_update<const N: usize>(
    store: &DynamoStateStore,
    group: Group,
    update_expr: &str,
    condition: String,
    names: &[(&str, &str)],
    values: [(&str, AttributeValue); N],
) -> UpdateBuilder {
    Update::builder()
        .table_name(&store.config.table)
        .set_key(Some(head_key(store, group)))
        .update_expression(update_expr)
        .condition_expression(condition)
        .set_expression_attribute_names(Some(super::codec::names(names)))
        .set_expression_attribute_values(Some(
            values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        ))
}

fn build_error(what: &'static str, error: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend {
        operation: what,
        source: Box::new(error),
    }
}

fn registration_item(state_key: &str, vm: &Vm, at: DateTime<Utc>) -> Item {
    let mut item = key(
        state_key.to_owned(),
        format!("{SK_REGISTRATION_PREFIX}{}", vm.name),
    );
    item.extend([
        (ATTR_REG_INSTANCE.to_owned(), s(&vm.name)),
        (ATTR_REG_PROTOCOL.to_owned(), s(vm.protocol.as_str())),
        // Nanoseconds: the order key of registrations made one after the other.
        (
            ATTR_REG_AT.to_owned(),
            s(at.to_rfc3339_opts(SecondsFormat::Nanos, true)),
        ),
    ]);
    // NFS gateways only; backends leave them out, keeping the item small.
    for (name, value) in [
        (ATTR_REG_CONTAINER_UID, &vm.container_uid),
        (ATTR_REG_NIC_NAME, &vm.nic_name),
    ] {
        if !value.is_empty() {
            item.insert(name.to_owned(), s(value));
        }
    }
    item
}

/// A registration item: its order key (the registration time) and the instance.
fn decode_registration(item: &Item) -> Result<(String, Vm), String> {
    let name = get_s(item, ATTR_REG_INSTANCE).ok_or("registration item has no instance_id")?;
    let protocol_text = get_s(item, ATTR_REG_PROTOCOL).unwrap_or_default();
    let protocol = Protocol::parse(&protocol_text)
        .ok_or_else(|| format!("registration of {name} has unknown protocol {protocol_text:?}"))?;
    Ok((
        get_s(item, ATTR_REG_AT).unwrap_or_default(),
        Vm {
            protocol,
            container_uid: get_s(item, ATTR_REG_CONTAINER_UID).unwrap_or_default(),
            nic_name: get_s(item, ATTR_REG_NIC_NAME).unwrap_or_default(),
            name,
        },
    ))
}

fn decode_legacy_vm(value: &AttributeValue) -> Result<Vm, String> {
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

fn decode_head(item: &Item) -> Result<Head, String> {
    let state = decode_state(item)?;
    let registered = get_n(item, ATTR_REGISTERED)?
        .unwrap_or_else(|| u32::try_from(state.instances.len()).unwrap_or(u32::MAX));
    Ok(Head {
        state,
        registered,
        last_registrant: get_s(item, ATTR_LAST_REGISTRANT),
    })
}

/// Decodes a head item as a state without the registration items (those the earlier
/// single-item layout listed in it included); NULL or missing attributes read as empty.
pub fn decode_state(item: &HashMap<String, AttributeValue>) -> Result<ClusterState, String> {
    let instances = match item.get(ATTR_LEGACY_INSTANCES) {
        None | Some(AttributeValue::Null(_)) => Vec::new(),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(decode_legacy_vm)
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "attribute {ATTR_LEGACY_INSTANCES} should be a list, found {other:?}"
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

/// Encodes a fresh head item, as the Terraform module writes it (used by tests and tools).
pub fn encode_new_state(state_key: &str, size: u32) -> HashMap<String, AttributeValue> {
    let mut item = key(state_key.to_owned(), SK_STATE);
    item.extend([
        (ATTR_VERSION.to_owned(), n(0)),
        (ATTR_INITIAL_SIZE.to_owned(), n(size)),
        (ATTR_DESIRED_SIZE.to_owned(), n(size)),
        (ATTR_TARGET.to_owned(), n(size)),
        (ATTR_CLUSTERIZED.to_owned(), AttributeValue::Bool(false)),
        (ATTR_REGISTERED.to_owned(), n(0)),
    ]);
    item
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn legacy_entry(name: &str) -> AttributeValue {
        AttributeValue::M(HashMap::from([
            ("name".to_owned(), s(name)),
            ("protocol".to_owned(), AttributeValue::Null(true)),
            ("container_uid".to_owned(), AttributeValue::Null(true)),
            ("nic_name".to_owned(), AttributeValue::Null(true)),
        ]))
    }

    #[test]
    fn null_and_missing_attributes_read_as_empty() {
        let mut item = encode_new_state("k", 6);
        item.insert(ATTR_LEGACY_INSTANCES.to_owned(), AttributeValue::Null(true));
        item.remove(ATTR_CLUSTERIZED);
        let state = decode_state(&item).unwrap();
        assert_eq!(state, ClusterState::new(6));
    }

    #[test]
    fn reference_vm_encoding_with_null_fields_decodes() {
        let decoded = decode_legacy_vm(&legacy_entry("i-1")).unwrap();
        assert_eq!(decoded.name, "i-1");
        assert_eq!(decoded.protocol, Protocol::Backend);
    }

    #[test]
    fn wrong_types_are_reported_by_attribute_name() {
        let mut item = encode_new_state("k", 6);
        item.insert(ATTR_CLUSTERIZED.to_owned(), s("yes"));
        let err = decode_state(&item).unwrap_err();
        assert!(err.contains("clusterized"), "{err}");
        let mut item = encode_new_state("k", 6);
        item.insert(ATTR_REGISTERED.to_owned(), s("two"));
        let err = decode_head(&item).unwrap_err();
        assert!(err.contains("registered"), "{err}");
    }

    #[test]
    fn registration_items_round_trip_and_keep_backends_small() {
        let backend = Vm {
            name: "i-b".to_owned(),
            ..Vm::default()
        };
        let gateway = Vm {
            name: "i-g".to_owned(),
            protocol: Protocol::Nfs,
            container_uid: "uid".to_owned(),
            nic_name: "eth1".to_owned(),
        };
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let item = registration_item("k", &backend, at);
        assert!(!item.contains_key(ATTR_REG_NIC_NAME));
        assert_eq!(decode_registration(&item).unwrap().1, backend);
        let item = registration_item("k", &gateway, at);
        assert_eq!(
            get_s(&item, ATTR_SK).as_deref(),
            Some("reg#i-g"),
            "one item per instance, beside the head"
        );
        assert_eq!(
            decode_registration(&item).unwrap(),
            (at.to_rfc3339_opts(SecondsFormat::Nanos, true), gateway)
        );
    }

    #[test]
    fn only_the_last_registrant_of_a_full_set_completes_it() {
        let mut item = encode_new_state("k", 3);
        item.insert(ATTR_REGISTERED.to_owned(), n(3));
        item.insert(ATTR_LAST_REGISTRANT.to_owned(), s("i-c"));
        let head = decode_head(&item).unwrap();
        assert!(head.member_answer("i-c").completes_set());
        assert_eq!(
            head.member_answer("i-a"),
            Registration::Registered {
                position: 2,
                target: 3
            },
            "a member that did not complete the set answers below the target"
        );
        assert_eq!(
            head.refusal(),
            Some(RegistrationRefusal::SetComplete { target: 3 })
        );
        item.insert(ATTR_REGISTERED.to_owned(), n(2));
        let gathering = decode_head(&item).unwrap();
        assert!(!gathering.member_answer("i-c").completes_set());
        assert_eq!(gathering.refusal(), None);
    }

    #[test]
    fn a_head_of_the_single_item_layout_keeps_its_members_and_order() {
        let mut item = encode_new_state("k", 2);
        item.remove(ATTR_REGISTERED);
        item.insert(
            ATTR_LEGACY_INSTANCES.to_owned(),
            AttributeValue::L(vec![legacy_entry("i-b"), legacy_entry("i-a")]),
        );
        let head = decode_head(&item).unwrap();
        assert_eq!(head.registered, 2);
        assert_eq!(
            head.member_answer("i-a"),
            Registration::Registered {
                position: 2,
                target: 2
            }
        );
        let state = assemble(
            head,
            vec![(
                String::new(),
                Vm {
                    name: "i-b".to_owned(),
                    ..Vm::default()
                },
            )],
        );
        let names: Vec<_> = state.instances.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["i-b", "i-a"], "listed once, in the listed order");
    }
}
