//! Lifecycle actions (`<backend state key>#lifecycle` / `<instance id>#<transition>`): the
//! idempotent record, then heartbeat claims, the decision and the completion as conditional
//! `UpdateItem`s; kept for [`LIFECYCLE_RETENTION`].

use super::codec::{Item, expiry, get_s, get_time, n, s, timestamp};
use super::{ATTR_EXPIRES_AT, ATTR_PK, Conditional, DynamoStateStore};
use crate::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecyclePhase, LifecycleRecord, LifecycleResult,
    NewLifecycleAction, Transition,
};
use crate::ports::{StoreError, check_storable_time};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How long a lifecycle record is kept after the action started (hooks last at most 48 h).
pub const LIFECYCLE_RETENTION: Duration = Duration::from_secs(7 * 86_400);

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

const LIFECYCLE_RECORD_UPDATE: &str = "SET #instance = :instance, #transition = :transition, \
     #asg = if_not_exists(#asg, :asg), #hook = if_not_exists(#hook, :hook), \
     #started = if_not_exists(#started, :started), #phase = if_not_exists(#phase, :waiting), \
     #expires_at = if_not_exists(#expires_at, :expires_at)";
/// Recording adds to an action that is open, or to the finished one the event belongs to (it
/// started before it was completed); a later action of a finished key is opened again instead.
const LIFECYCLE_RECORD_CONDITION: &str =
    "attribute_not_exists(#phase) OR #phase <> :completed OR #completed_at >= :started";
const LIFECYCLE_REOPEN_CONDITION: &str = "#phase = :completed AND #completed_at < :started";
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

fn pk(store: &DynamoStateStore) -> String {
    format!("{}#lifecycle", store.config.state_key)
}

fn item_key(store: &DynamoStateStore, key: &LifecycleKey) -> Item {
    super::codec::key(
        pk(store),
        format!("{}#{}", key.instance_id, key.transition.as_str()),
    )
}

pub(super) async fn record(
    store: &DynamoStateStore,
    action: &NewLifecycleAction,
) -> Result<(), StoreError> {
    check_storable_time("lifecycle action start time", action.started_at)?;
    let mut update = LIFECYCLE_RECORD_UPDATE.to_owned();
    let mut names = vec![
        ("#instance", ATTR_INSTANCE_ID),
        ("#transition", ATTR_TRANSITION),
        ("#asg", ATTR_ASG),
        ("#hook", ATTR_HOOK),
        ("#started", ATTR_STARTED_AT),
        ("#phase", ATTR_PHASE),
        ("#expires_at", ATTR_EXPIRES_AT),
    ];
    let mut values = vec![
        (":instance", s(&action.key.instance_id)),
        (":transition", s(action.key.transition.as_str())),
        (":asg", s(&action.group)),
        (":hook", s(&action.hook)),
        (":started", s(timestamp(action.started_at))),
        (":waiting", s(LifecyclePhase::Waiting.as_str())),
        (
            ":expires_at",
            n(expiry(action.started_at, LIFECYCLE_RETENTION)),
        ),
    ];
    if let Some(token) = &action.token {
        update.push_str(", #token = if_not_exists(#token, :token)");
        names.push(("#token", ATTR_TOKEN));
        values.push((":token", s(token)));
    }
    if let Some(ip) = &action.private_ip {
        update.push_str(", #ip = if_not_exists(#ip, :ip)");
        names.push(("#ip", ATTR_PRIVATE_IP));
        values.push((":ip", s(ip)));
    }
    names.push(("#completed_at", ATTR_COMPLETED_AT));
    values.push((":completed", s(LifecyclePhase::Completed.as_str())));
    let request = store.conditional_update(
        item_key(store, &action.key),
        update,
        LIFECYCLE_RECORD_CONDITION,
        &names,
        values,
    );
    match store
        .send_conditional("update_item lifecycle record", request)
        .await?
    {
        Conditional::Applied(_) => Ok(()),
        Conditional::Refused(_) => reopen(store, action).await,
    }
}

/// Opens a finished action's record again for a later action of the same key.
async fn reopen(store: &DynamoStateStore, action: &NewLifecycleAction) -> Result<(), StoreError> {
    let mut set = vec![
        "#asg = :asg",
        "#hook = :hook",
        "#started = :started",
        "#phase = :waiting",
        "#expires_at = :expires_at",
    ];
    let mut remove = vec!["#result", "#reason", "#decided_at", "#completed_at", "#hb"];
    let names = [
        ("#asg", ATTR_ASG),
        ("#hook", ATTR_HOOK),
        ("#started", ATTR_STARTED_AT),
        ("#phase", ATTR_PHASE),
        ("#expires_at", ATTR_EXPIRES_AT),
        ("#result", ATTR_RESULT),
        ("#reason", ATTR_REASON),
        ("#decided_at", ATTR_DECIDED_AT),
        ("#completed_at", ATTR_COMPLETED_AT),
        ("#hb", ATTR_LAST_HEARTBEAT_AT),
        ("#token", ATTR_TOKEN),
        ("#ip", ATTR_PRIVATE_IP),
    ];
    let mut values = vec![
        (":asg", s(&action.group)),
        (":hook", s(&action.hook)),
        (":started", s(timestamp(action.started_at))),
        (":waiting", s(LifecyclePhase::Waiting.as_str())),
        (":completed", s(LifecyclePhase::Completed.as_str())),
        (
            ":expires_at",
            n(expiry(action.started_at, LIFECYCLE_RETENTION)),
        ),
    ];
    // The old action's token and IP go with it; the new one's, when known, replace them.
    match &action.token {
        Some(token) => {
            set.push("#token = :token");
            values.push((":token", s(token)));
        }
        None => remove.push("#token"),
    }
    match &action.private_ip {
        Some(ip) => {
            set.push("#ip = :ip");
            values.push((":ip", s(ip)));
        }
        None => remove.push("#ip"),
    }
    let update = format!("SET {} REMOVE {}", set.join(", "), remove.join(", "));
    let request = store.conditional_update(
        item_key(store, &action.key),
        update,
        LIFECYCLE_REOPEN_CONDITION,
        &names,
        values,
    );
    match store
        .send_conditional("update_item lifecycle reopen", request)
        .await?
    {
        Conditional::Applied(_) => tracing::info!(
            instance = %action.key.instance_id,
            transition = %action.key.transition,
            "a finished lifecycle action opened again for a later action"
        ),
        // Another writer changed it first: its answer stands.
        Conditional::Refused(_) => {}
    }
    Ok(())
}

pub(super) async fn all(store: &DynamoStateStore) -> Result<Vec<LifecycleRecord>, StoreError> {
    let mut records = store
        .query_partition(&pk(store), "query lifecycle actions", decode)
        .await?;
    records.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(records)
}

pub(super) async fn claim_heartbeat(
    store: &DynamoStateStore,
    key: &LifecycleKey,
    now: DateTime<Utc>,
    interval: Duration,
) -> Result<bool, StoreError> {
    check_storable_time("lifecycle heartbeat time", now)?;
    let before = now - chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
    let request = store.conditional_update(
        item_key(store, key),
        LIFECYCLE_HEARTBEAT_UPDATE,
        LIFECYCLE_HEARTBEAT_CONDITION,
        &[
            ("#pk", ATTR_PK),
            ("#phase", ATTR_PHASE),
            ("#hb", ATTR_LAST_HEARTBEAT_AT),
        ],
        [
            (":now", s(timestamp(now))),
            (":before", s(timestamp(before))),
            (":waiting", s(LifecyclePhase::Waiting.as_str())),
        ],
    );
    Ok(store
        .send_conditional("update_item lifecycle heartbeat", request)
        .await?
        .applied())
}

pub(super) async fn decide(
    store: &DynamoStateStore,
    decision: &LifecycleDecision,
) -> Result<bool, StoreError> {
    check_storable_time("lifecycle decision time", decision.at)?;
    let request = store.conditional_update(
        item_key(store, &decision.key),
        LIFECYCLE_DECIDE_UPDATE,
        LIFECYCLE_DECIDE_CONDITION,
        &[
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
        ],
        [
            (":instance", s(&decision.key.instance_id)),
            (":transition", s(decision.key.transition.as_str())),
            (":asg", s(&decision.group)),
            (":hook", s(&decision.hook)),
            (":now", s(timestamp(decision.at))),
            (":expires_at", n(expiry(decision.at, LIFECYCLE_RETENTION))),
            (":decided", s(LifecyclePhase::Decided.as_str())),
            (":waiting", s(LifecyclePhase::Waiting.as_str())),
            (":result", s(decision.result.as_str())),
            (":reason", s(&decision.reason)),
        ],
    );
    Ok(store
        .send_conditional("update_item lifecycle decision", request)
        .await?
        .applied())
}

pub(super) async fn close(
    store: &DynamoStateStore,
    key: &LifecycleKey,
    result: Option<LifecycleResult>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    check_storable_time("lifecycle completion time", now)?;
    let mut update = LIFECYCLE_CLOSE_UPDATE.to_owned();
    let mut names = vec![
        ("#pk", ATTR_PK),
        ("#phase", ATTR_PHASE),
        ("#reason", ATTR_REASON),
        ("#completed_at", ATTR_COMPLETED_AT),
    ];
    let mut values = vec![
        (":completed", s(LifecyclePhase::Completed.as_str())),
        (":reason", s(reason)),
        (":now", s(timestamp(now))),
    ];
    if let Some(result) = result {
        update.push_str(", #result = :result");
        names.push(("#result", ATTR_RESULT));
        values.push((":result", s(result.as_str())));
    }
    let request = store.conditional_update(
        item_key(store, key),
        update,
        LIFECYCLE_CLOSE_CONDITION,
        &names,
        values,
    );
    Ok(store
        .send_conditional("update_item lifecycle completion", request)
        .await?
        .applied())
}

fn decode(item: &Item) -> Result<LifecycleRecord, String> {
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
