//! Adoption on moto: WEKA's module's state item read from its own table, and the one
//! conditional write that records a running cluster as clusterized.

use super::common::{sdk, store_with, unique};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use chrono::Utc;
use std::collections::HashMap;
use std::time::Duration;
use weka_shared::adapters::dynamo::DynamoReferenceStates;
use weka_shared::config::ReferenceStateConfig;
use weka_shared::domain::state::Group;
use weka_shared::ports::{ReferenceStates, StateStore, StoreError};
use weka_shared::wire::bootstrap::Vm;

/// A table shaped as WEKA's module creates it (hash key `Key` only), holding its backend state
/// item as its Terraform writes it, then as its clusterization leaves it.
async fn reference_table(clusterized: bool) -> String {
    let client = aws_sdk_dynamodb::Client::new(&sdk().await);
    let table = unique("reference");
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("Key")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("Key")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let n = |v: &str| AttributeValue::N(v.to_owned());
    let value = HashMap::from([
        ("initial_size".to_owned(), n("6")),
        ("desired_size".to_owned(), n("7")),
        ("clusterization_target".to_owned(), n("6")),
        ("instances".to_owned(), AttributeValue::L(Vec::new())),
        ("clusterized".to_owned(), AttributeValue::Bool(clusterized)),
        ("progress".to_owned(), AttributeValue::Null(true)),
    ]);
    client
        .put_item()
        .table_name(&table)
        .item("Key", AttributeValue::S("weka-poc-state".to_owned()))
        .item("Locked", AttributeValue::Bool(false))
        .item("Value", AttributeValue::M(value))
        .send()
        .await
        .unwrap();
    table
}

async fn reader(table: &str) -> DynamoReferenceStates {
    DynamoReferenceStates::from_sdk_config(
        &sdk().await,
        ReferenceStateConfig {
            table: table.to_owned(),
            hash_key: "Key".to_owned(),
            state_key: "weka-poc-state".to_owned(),
            nfs_state_key: "weka-poc-nfs-state".to_owned(),
        },
    )
}

#[tokio::test]
async fn weka_s_module_state_is_read_from_its_own_table() {
    require_emulator!();
    let table = reference_table(true).await;
    let states = reader(&table).await;
    let backend = states.reference_state(Group::Backend).await.unwrap();
    assert!(backend.clusterized);
    assert_eq!(
        (
            backend.initial_size,
            backend.desired_size,
            backend.clusterization_target
        ),
        (6, 7, 6)
    );
    assert!(matches!(
        states.reference_state(Group::Nfs).await,
        Err(StoreError::StateMissing { ref key, .. }) if key == "weka-poc-nfs-state"
    ));
    let elsewhere = reader("no-such-reference-table").await;
    assert!(matches!(
        elsewhere.reference_state(Group::Backend).await,
        Err(StoreError::StateMissing { ref table, .. }) if table == "no-such-reference-table"
    ));
}

#[tokio::test]
async fn adoption_writes_only_the_state_it_read() {
    require_emulator!();
    let store = store_with(3).await;
    let fresh = store.load(Group::Backend).await.unwrap();
    assert!(!fresh.clusterized);

    // A registration after the read changes the head: the adoption is refused.
    store
        .register(
            Group::Backend,
            &Vm {
                name: "i-new".to_owned(),
                ..Vm::default()
            },
        )
        .await
        .unwrap();
    let now = Utc::now();
    assert!(
        !store
            .adopt(Group::Backend, fresh.version, now)
            .await
            .unwrap()
    );
    assert!(!store.load(Group::Backend).await.unwrap().clusterized);

    let seen = store.load(Group::Backend).await.unwrap();
    assert!(
        store
            .adopt(Group::Backend, seen.version, now)
            .await
            .unwrap()
    );
    let adopted = store.load(Group::Backend).await.unwrap();
    assert!(adopted.clusterized);
    assert!(adopted.clusterized_at.is_some());
    assert!(
        !store
            .adopt(Group::Backend, adopted.version, now)
            .await
            .unwrap(),
        "a clusterized group is not adopted again"
    );
    assert!(
        store
            .register(
                Group::Backend,
                &Vm {
                    name: "i-later".to_owned(),
                    ..Vm::default()
                },
            )
            .await
            .map(|r| !r.completes_set())
            .unwrap(),
        "after adoption a newcomer is refused a slot (it joins)"
    );

    // A group being clusterized under this module is not adopted.
    let claimed = store_with(1).await;
    claimed
        .register(
            Group::Backend,
            &Vm {
                name: "i-c".to_owned(),
                ..Vm::default()
            },
        )
        .await
        .unwrap();
    claimed
        .claim_clusterization(Group::Backend, "i-c", now, Duration::from_secs(3600))
        .await
        .unwrap();
    let seen = claimed.load(Group::Backend).await.unwrap();
    assert!(
        !claimed
            .adopt(Group::Backend, seen.version, now)
            .await
            .unwrap()
    );
}
