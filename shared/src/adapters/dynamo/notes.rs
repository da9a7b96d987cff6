//! Notes (`<backend state key>#note` / `<name>`): small JSON documents, last writer wins.

use super::codec::{get_s, key, s};
use super::{DynamoStateStore, store_error};
use crate::ports::StoreError;

const ATTR_BODY: &str = "body";

fn pk(store: &DynamoStateStore) -> String {
    format!("{}#note", store.config.state_key)
}

pub(super) async fn put(
    store: &DynamoStateStore,
    name: &str,
    body: &serde_json::Value,
) -> Result<(), StoreError> {
    let text = body.to_string();
    // serde_json parses some floats back a bit off (no `float_roundtrip`): refuse what would
    // not read back rather than store it changed.
    if serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .as_ref()
        != Some(body)
    {
        return Err(StoreError::Unrepresentable {
            what: "note body",
            value: name.to_owned(),
        });
    }
    store.counted_write();
    let mut item = key(pk(store), name);
    item.insert(ATTR_BODY.to_owned(), s(text));
    store
        .client
        .put_item()
        .table_name(&store.config.table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(|e| store_error("put_item note", e))?;
    Ok(())
}

pub(super) async fn get(
    store: &DynamoStateStore,
    name: &str,
) -> Result<Option<serde_json::Value>, StoreError> {
    let pk = pk(store);
    let out = store
        .client
        .get_item()
        .table_name(&store.config.table)
        .set_key(Some(key(pk.clone(), name)))
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
