//! The store round-trip properties (`store_props`) on the DynamoDB store on moto: 64 cases each
//! (scaled by `PROPTEST_CASES / 256`), every case on fresh partitions of one table; the corrupt
//! items are written with the SDK directly.

use super::common::{emulator_running, sdk, store_with, unique};
use crate::store_props::{Fixture, run_all, scaled_cases};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::sync::Mutex;
use weka_shared::adapters::dynamo::{DynamoStateStore, encode_new_state};
use weka_shared::config::StateConfig;
use weka_shared::domain::state::Group;

struct Moto {
    client: Client,
    table: String,
    /// The state keys of the store `fresh` made last (backend, NFS).
    keys: Mutex<(String, String)>,
}

impl Moto {
    async fn put(&self, item: HashMap<String, AttributeValue>) {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

impl Fixture for Moto {
    type Store = DynamoStateStore;

    async fn fresh(&self, size: u32) -> DynamoStateStore {
        let backend = unique("props");
        let nfs = format!("{backend}-nfs");
        self.put(encode_new_state(&backend, size)).await;
        self.put(encode_new_state(&nfs, 2)).await;
        *self.keys.lock().unwrap() = (backend.clone(), nfs.clone());
        DynamoStateStore::new(
            self.client.clone(),
            StateConfig {
                table: self.table.clone(),
                state_key: backend,
                nfs_state_key: nfs,
            },
        )
    }

    async fn corrupt_lifecycle(&self, _store: &DynamoStateStore) {
        let backend = self.keys.lock().unwrap().0.clone();
        // The review's H5 item: a start time chrono cannot read back.
        self.put(HashMap::from([
            ("pk".to_owned(), s(&format!("{backend}#lifecycle"))),
            ("sk".to_owned(), s("i-corrupt#terminate")),
            ("instance_id".to_owned(), s("i-corrupt")),
            ("transition".to_owned(), s("terminate")),
            ("started_at".to_owned(), s("+10000-01-01T00:00:00.000Z")),
            ("phase".to_owned(), s("waiting")),
        ]))
        .await;
    }

    async fn corrupt_report(&self, _store: &DynamoStateStore, group: Group) {
        let keys = self.keys.lock().unwrap().clone();
        let key = if group == Group::Backend {
            keys.0
        } else {
            keys.1
        };
        self.put(HashMap::from([
            ("pk".to_owned(), s(&format!("{key}#reports"))),
            ("sk".to_owned(), s("corrupt#000000")),
            ("host".to_owned(), AttributeValue::N("7".to_owned())),
            ("seq".to_owned(), s("not a number")),
        ]))
        .await;
    }
}

#[test]
fn every_accepted_value_reads_back_and_a_corrupt_item_is_skipped_on_dynamodb() {
    if !emulator_running() {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fixture = rt.block_on(async {
        let table = store_with(1).await.table().to_owned();
        Moto {
            client: Client::new(&sdk().await),
            table,
            keys: Mutex::new((String::new(), String::new())),
        }
    });
    run_all(&rt, &fixture, scaled_cases(64));
}
