//! What every emulator test shares: the moto endpoint (or a skip when none runs), the SDK
//! configuration for it, unique names and a fresh state table.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use std::sync::atomic::{AtomicU32, Ordering};
use weka_shared::adapters::dynamo::{DynamoStateStore, encode_new_state};
use weka_shared::config::StateConfig;

/// Where moto listens (`http://127.0.0.1:<port>`).
const ENDPOINT_ENV: &str = "WEKA_TEST_AWS_ENDPOINT";

static TABLE_SEQ: AtomicU32 = AtomicU32::new(0);

/// Whether an emulator runs; without one, says so and lets the test pass, unless
/// `WEKA_TEST_REQUIRE_EMULATOR=1` (set by `make test`), where a missing emulator is a failure.
pub(crate) fn emulator_running() -> bool {
    if std::env::var_os(ENDPOINT_ENV).is_some() {
        return true;
    }
    assert!(
        std::env::var_os("WEKA_TEST_REQUIRE_EMULATOR").is_none(),
        "{ENDPOINT_ENV} is not set but WEKA_TEST_REQUIRE_EMULATOR is: moto did not start"
    );
    eprintln!(
        "skipped: no emulator ({ENDPOINT_ENV} unset); `make test` starts moto, or run \
         tests/emulator/moto.sh start <dir> and export {ENDPOINT_ENV}=http://127.0.0.1:<port>"
    );
    false
}

/// The SDK configuration for the emulator.
pub(crate) async fn sdk() -> aws_config::SdkConfig {
    let endpoint = std::env::var(ENDPOINT_ENV).unwrap_or_else(|_| {
        panic!("{ENDPOINT_ENV} is not set: guard the test with require_emulator!()")
    });
    // moto serialises every request: the 200-writer tests queue far longer than any AWS call
    // takes, so their calls get time; the functions' own timeouts are tested apart
    // (`on_endpoint`).
    let roomy = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(std::time::Duration::from_secs(120))
        .operation_timeout(std::time::Duration::from_secs(300))
        .build();
    at_endpoint(
        aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(roomy),
        &endpoint,
    )
    .await
}

/// The functions' SDK configuration (timeouts included) pointed at `endpoint`.
pub(crate) async fn on_endpoint(endpoint: &str) -> aws_config::SdkConfig {
    at_endpoint(weka_shared::adapters::aws_config_loader(), endpoint).await
}

async fn at_endpoint(loader: aws_config::ConfigLoader, endpoint: &str) -> aws_config::SdkConfig {
    loader
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

/// A name no other test of this run uses.
pub(crate) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        TABLE_SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh table holding a backend state of `size` and an NFS state of 2.
pub(crate) async fn store_with(size: u32) -> DynamoStateStore {
    let sdk = sdk().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = unique("state");
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for (key, n) in [("c-state", size), ("c-nfs-state", 2)] {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(encode_new_state(key, n)))
            .send()
            .await
            .unwrap();
    }
    DynamoStateStore::new(
        client,
        StateConfig {
            table,
            state_key: "c-state".to_owned(),
            nfs_state_key: "c-nfs-state".to_owned(),
        },
    )
}

/// The id of an Amazon-owned image moto knows.
pub(crate) async fn amazon_image(ec2: &aws_sdk_ec2::Client) -> String {
    ec2.describe_images()
        .owners("amazon")
        .send()
        .await
        .unwrap()
        .images()[0]
        .image_id()
        .unwrap()
        .to_owned()
}
