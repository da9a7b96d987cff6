//! Registrations per second for N concurrent callers (N = 10, 100, 1000), on the in-memory
//! store and, when `WEKA_TEST_AWS_ENDPOINT` points at moto (`make bench` starts it), on the
//! DynamoDB store. Prints figures; the in-memory store is the baseline of the same run.

#![allow(clippy::unwrap_used)]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use std::sync::Arc;
use std::time::Instant;
use weka_shared::adapters::dynamo::{DynamoStateStore, encode_new_state};
use weka_shared::config::StateConfig;
use weka_shared::domain::state::Group;
use weka_shared::ports::StateStore;
use weka_shared::testing::InMemoryStateStore;
use weka_shared::wire::bootstrap::Vm;

/// The Lambdas' allocator, so that the figures are those of production.
#[global_allocator]
static ALLOCATOR: weka_shared::lambda::Allocator = weka_shared::lambda::ALLOCATOR;

async fn register_all<S: StateStore + 'static>(store: Arc<S>, n: usize) -> (f64, usize) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let vm = Vm {
                    name: format!("i-{i:017x}"),
                    ..Vm::default()
                };
                store.register(Group::Backend, &vm).await.unwrap()
            })
        })
        .collect();
    let mut completers = 0;
    for t in tasks {
        completers += usize::from(t.await.unwrap().completes_set());
    }
    assert_eq!(completers, 1);
    (n as f64 / start.elapsed().as_secs_f64(), completers)
}

async fn dynamo_store(endpoint: &str, n: usize, run: usize) -> DynamoStateStore {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        // A thousand callers queue at moto's serialised handler; real Lambdas would retry.
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(300))
                .read_timeout(std::time::Duration::from_secs(300))
                .build(),
        )
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("bench-{}-{run}", std::process::id());
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
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
    let size = u32::try_from(n).unwrap();
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(encode_new_state("bench-state", size)))
        .send()
        .await
        .unwrap();
    DynamoStateStore::new(
        client,
        StateConfig {
            table,
            state_key: "bench-state".to_owned(),
            nfs_state_key: "bench-nfs".to_owned(),
        },
    )
}

#[tokio::main]
async fn main() {
    let endpoint = std::env::var("WEKA_TEST_AWS_ENDPOINT").ok();
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1000]);
    println!(
        "{:>6} {:>16} {:>16} {:>10} {:>12}",
        "N", "in-memory reg/s", "moto reg/s", "ratio", "writes/reg"
    );
    for (run, &n) in sizes.iter().enumerate() {
        let memory = Arc::new(InMemoryStateStore::with_sizes(u32::try_from(n).unwrap(), 1));
        let (mem_rate, _) = register_all(memory, n).await;
        let (moto_rate, writes) = match &endpoint {
            Some(ep) => {
                let store = Arc::new(dynamo_store(ep, n, run).await);
                let (rate, _) = register_all(store.clone(), n).await;
                (Some(rate), Some(store.write_calls() as f64 / n as f64))
            }
            None => (None, None),
        };
        let fmt =
            |v: Option<f64>, p: usize| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.p$}"));
        println!(
            "{n:>6} {mem_rate:>16.0} {:>16} {:>10} {:>12}",
            fmt(moto_rate, 1),
            fmt(moto_rate.map(|m| m / mem_rate), 5),
            fmt(writes, 2)
        );
    }
    if endpoint.is_none() {
        println!("(moto column empty: WEKA_TEST_AWS_ENDPOINT not set; run `make bench`)");
    }
}
