//! The group state item (`<state key>` / `state`): its encoding, and registration, claim and
//! finalization as one conditional `UpdateItem` each.

use super::codec::{Item, get_bool, get_n, get_s, get_time, key, n, s, timestamp};
use super::{ATTR_PK, Conditional, DynamoStateStore, store_error};
use crate::domain::state::{ClaimOutcome, ClusterState, Clusterizer, Group, Registration};
use crate::ports::{StoreError, check_storable_time};
use crate::wire::bootstrap::{Protocol, Vm};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

/// Sort key of a group's state item.
pub const SK_STATE: &str = "state";

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
const FINALIZE_CONDITION: &str = "attribute_exists(#pk)";

fn item_key(store: &DynamoStateStore, group: Group) -> Item {
    key(store.state_key(group).to_owned(), SK_STATE)
}

fn missing(store: &DynamoStateStore, group: Group) -> StoreError {
    StoreError::StateMissing {
        table: store.config.table.clone(),
        key: store.state_key(group).to_owned(),
    }
}

fn decode(store: &DynamoStateStore, group: Group, item: &Item) -> Result<ClusterState, StoreError> {
    decode_state(item).map_err(|reason| StoreError::Corrupt {
        key: store.state_key(group).to_owned(),
        reason,
    })
}

/// The old item of a refused conditional write: from the error when DynamoDB returned it,
/// else from a consistent read (refusals are monotone, so a later read explains them too).
async fn refused_state(
    store: &DynamoStateStore,
    group: Group,
    old: Option<Item>,
) -> Result<ClusterState, StoreError> {
    match old {
        Some(item) => decode(store, group, &item),
        None => load(store, group).await,
    }
}

fn inconsistent(store: &DynamoStateStore, group: Group, what: &str) -> StoreError {
    StoreError::Corrupt {
        key: store.state_key(group).to_owned(),
        reason: format!("the table refused {what} but the stored document allows it"),
    }
}

pub(super) async fn load(
    store: &DynamoStateStore,
    group: Group,
) -> Result<ClusterState, StoreError> {
    let out = store
        .client
        .get_item()
        .table_name(&store.config.table)
        .set_key(Some(item_key(store, group)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| store_error("get_item state", e))?;
    let item = out.item().ok_or_else(|| missing(store, group))?;
    decode(store, group, item)
}

pub(super) async fn register(
    store: &DynamoStateStore,
    group: Group,
    vm: &Vm,
) -> Result<Registration, StoreError> {
    let request = store
        .conditional_update(
            item_key(store, group),
            REGISTER_UPDATE,
            REGISTER_CONDITION,
            &[
                ("#pk", ATTR_PK),
                ("#instances", ATTR_INSTANCES),
                ("#ids", ATTR_INSTANCE_IDS),
                ("#version", ATTR_VERSION),
                ("#clusterized", ATTR_CLUSTERIZED),
                ("#target", ATTR_TARGET),
            ],
            [
                (":empty", AttributeValue::L(vec![])),
                (":vm", AttributeValue::L(vec![vm_attribute(vm)])),
                (":id_list", AttributeValue::L(vec![s(&vm.name)])),
                (":id", s(&vm.name)),
                (":one", n(1)),
                (":false", AttributeValue::Bool(false)),
            ],
        )
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    let (state, refused) = match store
        .send_conditional("update_item register", request)
        .await?
    {
        Conditional::Applied(new) => (decode(store, group, &new)?, "nothing"),
        Conditional::Refused(old) => (refused_state(store, group, old).await?, "the registration"),
    };
    state
        .registration_answer(&vm.name)
        .ok_or_else(|| inconsistent(store, group, refused))
}

pub(super) async fn claim(
    store: &DynamoStateStore,
    group: Group,
    instance: &str,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> Result<ClaimOutcome, StoreError> {
    check_storable_time("clusterization claim time", now)?;
    let stale_before =
        now - chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
    let claim = AttributeValue::M(HashMap::from([
        (ATTR_CLAIM_INSTANCE.to_owned(), s(instance)),
        (ATTR_CLAIM_SINCE.to_owned(), s(timestamp(now))),
    ]));
    let request = store
        .conditional_update(
            item_key(store, group),
            CLAIM_UPDATE,
            CLAIM_CONDITION,
            &[
                ("#pk", ATTR_PK),
                ("#ids", ATTR_INSTANCE_IDS),
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
            let old = decode(store, group, &old)?;
            let replaced = old.clusterizer.filter(|c| c.instance != instance);
            Ok(ClaimOutcome::Granted { replaced })
        }
        Conditional::Refused(old) => {
            let state = refused_state(store, group, old).await?;
            match state.claim_answer(instance, now, stale_after) {
                ClaimOutcome::Granted { .. } => Err(inconsistent(store, group, "the claim")),
                refused => Ok(refused),
            }
        }
    }
}

/// Removes one slot of the list pair; the slot's index is part of the expression (DynamoDB takes
/// no placeholder there), the condition pins what `seen` had at that index and the list length.
const EVICT_CONDITION: &str = "attribute_exists(#pk) \
     AND (attribute_not_exists(#clusterized) OR #clusterized = :false) \
     AND attribute_not_exists(#clusterizer) AND size(#ids) = :len";

pub(super) async fn evict(
    store: &DynamoStateStore,
    group: Group,
    seen: &ClusterState,
    instance_id: &str,
) -> Result<bool, StoreError> {
    let Some(slot) = seen.evictable_slot(instance_id) else {
        return Ok(false);
    };
    let request = store.conditional_update(
        item_key(store, group),
        format!("REMOVE #instances[{slot}], #ids[{slot}] ADD #version :one"),
        &format!("{EVICT_CONDITION} AND #ids[{slot}] = :id"),
        &[
            ("#pk", ATTR_PK),
            ("#instances", ATTR_INSTANCES),
            ("#ids", ATTR_INSTANCE_IDS),
            ("#version", ATTR_VERSION),
            ("#clusterized", ATTR_CLUSTERIZED),
            ("#clusterizer", ATTR_CLUSTERIZER),
        ],
        [
            (":id", s(instance_id)),
            (":one", n(1)),
            (":false", AttributeValue::Bool(false)),
            (
                ":len",
                n(i64::try_from(seen.instances.len()).unwrap_or(i64::MAX)),
            ),
        ],
    );
    Ok(store
        .send_conditional("update_item evict", request)
        .await?
        .applied())
}

pub(super) async fn finalize(
    store: &DynamoStateStore,
    group: Group,
    now: DateTime<Utc>,
) -> Result<ClusterState, StoreError> {
    check_storable_time("clusterization time", now)?;
    let request = store
        .conditional_update(
            item_key(store, group),
            FINALIZE_UPDATE,
            FINALIZE_CONDITION,
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
        )
        .return_values(ReturnValue::AllNew);
    match store
        .send_conditional("update_item finalize", request)
        .await?
    {
        Conditional::Applied(new) => decode(store, group, &new),
        Conditional::Refused(_) => Err(missing(store, group)),
    }
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
    let mut item = key(state_key.to_owned(), SK_STATE);
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
}
