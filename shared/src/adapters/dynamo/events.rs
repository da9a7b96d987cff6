//! Events (`<backend state key>#events` / `<slot>`): a ring of one small item per automatic
//! decision, numbered by an atomic counter (`<backend state key>#event-seq` / `seq`), each
//! expiring (TTL). A slot is only overwritten by a newer sequence number.

use super::codec::{Item, expiry, get_n, get_s, get_time, key, n, s, timestamp};
use super::{ATTR_EXPIRES_AT, DynamoStateStore, store_error};
use crate::domain::events::{Event, EventKind};
use crate::ports::{StoreError, check_storable_time};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::Utc;
use std::time::Duration;

const ATTR_SEQ: &str = "seq";
const ATTR_AT: &str = "at";
const ATTR_KIND: &str = "kind";
const ATTR_SUBJECT: &str = "subject";
const ATTR_REASON: &str = "reason";
const SEQ_UPDATE: &str = "ADD #seq :one";
const PUT_CONDITION: &str = "attribute_not_exists(#seq) OR #seq < :seq";

pub(super) async fn record(
    store: &DynamoStateStore,
    event: &Event,
    kept: u32,
    retention: Duration,
) -> Result<(), StoreError> {
    check_storable_time("event time", event.at)?;
    let base = &store.config.state_key;
    store.counted_write();
    let attributes = store
        .update(
            key(format!("{base}#event-seq"), ATTR_SEQ),
            SEQ_UPDATE,
            &[("#seq", ATTR_SEQ)],
            [(":one", n(1))],
        )
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .map_err(|e| store_error("update_item event sequence", e))?
        .attributes
        .unwrap_or_default();
    let seq: u64 =
        get_n(&attributes, ATTR_SEQ)
            .ok()
            .flatten()
            .ok_or_else(|| StoreError::Corrupt {
                key: format!("{base}#event-seq"),
                reason: "the event counter answered no sequence number".to_owned(),
            })?;
    let slot = seq % u64::from(kept.max(1));
    let mut item = key(format!("{base}#events"), format!("{slot:06}"));
    item.extend([
        (ATTR_SEQ.to_owned(), n(seq)),
        (ATTR_AT.to_owned(), s(timestamp(event.at))),
        (ATTR_KIND.to_owned(), s(event.kind.as_str())),
        (ATTR_SUBJECT.to_owned(), s(&event.subject)),
        (ATTR_REASON.to_owned(), s(&event.reason)),
        (ATTR_EXPIRES_AT.to_owned(), n(expiry(event.at, retention))),
    ]);
    store.counted_write();
    let result = store
        .client
        .put_item()
        .table_name(&store.config.table)
        .set_item(Some(item))
        .condition_expression(PUT_CONDITION)
        .expression_attribute_names("#seq", ATTR_SEQ)
        .expression_attribute_values(":seq", n(seq))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        // A newer event already took this slot: ours is the older one to drop.
        Err(SdkError::ServiceError(service))
            if service.err().is_conditional_check_failed_exception() =>
        {
            Ok(())
        }
        Err(e) => Err(store_error("put_item event", e)),
    }
}

pub(super) async fn all(store: &DynamoStateStore) -> Result<Vec<Event>, StoreError> {
    let pk = format!("{}#events", store.config.state_key);
    let now = Utc::now().timestamp();
    let mut events = store.query_partition(&pk, "query events", decode).await?;
    // DynamoDB deletes expired items late: they are not shown.
    events.retain(|(_, expires_at, _)| expires_at.is_none_or(|t| t > now));
    events.sort_by(|a, b| b.2.at.cmp(&a.2.at).then(b.0.cmp(&a.0)));
    Ok(events.into_iter().map(|(_, _, e)| e).collect())
}

fn decode(item: &Item) -> Result<(u64, Option<i64>, Event), String> {
    let kind = get_s(item, ATTR_KIND).unwrap_or_default();
    Ok((
        get_n(item, ATTR_SEQ)?.ok_or("event has no sequence number")?,
        get_n(item, ATTR_EXPIRES_AT)?,
        Event {
            at: get_time(item, ATTR_AT)?.ok_or("event has no time")?,
            kind: EventKind::parse(&kind).ok_or_else(|| format!("unknown event kind {kind:?}"))?,
            subject: get_s(item, ATTR_SUBJECT).unwrap_or_default(),
            reason: get_s(item, ATTR_REASON).unwrap_or_default(),
        },
    ))
}
