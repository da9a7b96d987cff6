//! Operator controls (`<backend state key>#control` / `pause`): `paused_by`, `reason`, `since`.
//! Written only by operators (`PutItem`, `DeleteItem` with their own credentials); the Lambdas
//! read it (`GetItem`).

use super::codec::{Item, get_s, get_time, key, s, timestamp};
use super::{DynamoStateStore, store_error};
use crate::domain::control::Pause;
use crate::ports::{StoreError, check_storable_time};
use aws_sdk_dynamodb::types::ReturnValue;

const SK_PAUSE: &str = "pause";
const ATTR_PAUSED_BY: &str = "paused_by";
const ATTR_REASON: &str = "reason";
const ATTR_SINCE: &str = "since";

fn pause_key(store: &DynamoStateStore) -> Item {
    key(format!("{}#control", store.config.state_key), SK_PAUSE)
}

fn decode(store: &DynamoStateStore, item: &Item) -> Result<Pause, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        key: format!("{}#control/{SK_PAUSE}", store.config.state_key),
        reason,
    };
    let since = get_time(item, ATTR_SINCE)
        .map_err(corrupt)?
        .ok_or_else(|| corrupt(format!("attribute {ATTR_SINCE} is missing")))?;
    Ok(Pause {
        paused_by: get_s(item, ATTR_PAUSED_BY).unwrap_or_default(),
        reason: get_s(item, ATTR_REASON).unwrap_or_default(),
        since,
    })
}

pub(super) async fn pause(store: &DynamoStateStore, pause: &Pause) -> Result<(), StoreError> {
    check_storable_time("pause time", pause.since)?;
    store.counted_write();
    let mut item = pause_key(store);
    item.insert(ATTR_PAUSED_BY.to_owned(), s(&pause.paused_by));
    item.insert(ATTR_REASON.to_owned(), s(&pause.reason));
    item.insert(ATTR_SINCE.to_owned(), s(timestamp(pause.since)));
    store
        .client
        .put_item()
        .table_name(&store.config.table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(|e| store_error("put_item pause", e))?;
    Ok(())
}

pub(super) async fn resume(store: &DynamoStateStore) -> Result<Option<Pause>, StoreError> {
    store.counted_write();
    let out = store
        .client
        .delete_item()
        .table_name(&store.config.table)
        .set_key(Some(pause_key(store)))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .map_err(|e| store_error("delete_item pause", e))?;
    // A corrupt item is gone all the same: the pause it held is lifted.
    Ok(out.attributes().and_then(|old| decode(store, old).ok()))
}

pub(super) async fn paused(store: &DynamoStateStore) -> Result<Option<Pause>, StoreError> {
    let out = store
        .client
        .get_item()
        .table_name(&store.config.table)
        .set_key(Some(pause_key(store)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| store_error("get_item pause", e))?;
    out.item().map(|item| decode(store, item)).transpose()
}
