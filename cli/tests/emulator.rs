//! The console's SDK adapters against moto (`make test` starts it; endpoint in
//! `WEKA_TEST_AWS_ENDPOINT`): the caller from STS, the pause through the state store's DynamoDB
//! adapter, and Lambda's refusal of an unknown function as a failed call. Without an emulator
//! each test says so and passes, unless `WEKA_TEST_REQUIRE_EMULATOR=1`.

#![allow(clippy::unwrap_used)]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use serde_json::{Value, json};
use weka_shared::adapters::dynamo::DynamoStateStore;
use weka_shared::config::StateConfig;
use wekactl_aws::aws::{LambdaStatus, StsIdentity};
use wekactl_aws::console::{Console, Group};
use wekactl_aws::ports::{CallError, CallerIdentity, StatusFunction};

const ENDPOINT_ENV: &str = "WEKA_TEST_AWS_ENDPOINT";

fn endpoint() -> Option<String> {
    let endpoint = std::env::var(ENDPOINT_ENV).ok();
    if endpoint.is_none() {
        assert!(
            std::env::var_os("WEKA_TEST_REQUIRE_EMULATOR").is_none(),
            "{ENDPOINT_ENV} is not set but WEKA_TEST_REQUIRE_EMULATOR is: moto did not start"
        );
        eprintln!("skipped: no emulator ({ENDPOINT_ENV} unset)");
    }
    endpoint
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    weka_shared::adapters::aws_config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

struct Unused;

impl StatusFunction for Unused {
    async fn call(&self, _: Value) -> Result<Value, CallError> {
        unreachable!("pause and resume never call status")
    }
}

#[tokio::test]
async fn pause_and_resume_write_the_control_item_as_the_caller_sts_names() {
    let Some(endpoint) = endpoint() else { return };
    let config = sdk(&endpoint).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let table = format!("wekactl-{}", std::process::id());
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    dynamo
        .create_table()
        .table_name(&table)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let state = StateConfig {
        table: table.clone(),
        state_key: "p-c-state".to_owned(),
        nfs_state_key: "p-c-nfs-state".to_owned(),
    };
    let identity = StsIdentity::new(&config);
    let caller = identity.caller().await.unwrap();
    assert!(caller.starts_with("arn:aws:"), "{caller}");
    let console = Console {
        status: Unused,
        pause: Some(DynamoStateStore::new(dynamo.clone(), state)),
        identity,
        group: Group::Backend,
    };
    let now = chrono::Utc::now();
    let paused = console.pause("disk swap", None, now).await.unwrap();
    assert_eq!(paused.json["paused"]["paused_by"], caller.as_str());
    assert_eq!(paused.json["changed"], true);
    let item = dynamo
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("p-c-state#control".to_owned()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("pause".to_owned()),
        )
        .send()
        .await
        .unwrap();
    assert!(item.item().is_some(), "the control item the functions read");
    let again = console.pause("other", Some("someone"), now).await.unwrap();
    assert_eq!(again.json["changed"], false);
    let resumed = console.resume().await.unwrap();
    assert_eq!(resumed.json["resumed"]["reason"], "disk swap");
    assert_eq!(console.resume().await.unwrap().json["changed"], false);
}

#[tokio::test]
async fn an_unknown_status_function_is_a_failed_call_naming_lambda() {
    let Some(endpoint) = endpoint() else { return };
    let config = sdk(&endpoint).await;
    let status = LambdaStatus::new(&config, "no-such-function".to_owned());
    let err = status.call(json!({"type": "status"})).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Aws { call: "lambda:Invoke", reason } if reason.contains("ResourceNotFound")),
        "{err}"
    );
}
