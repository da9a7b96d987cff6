//! Registration cost for N concurrent callers (N = 10, 100, 200; `BENCH_SIZES` overrides): the
//! in-memory store, and, when `WEKA_TEST_AWS_ENDPOINT` points at moto (`make bench` starts it),
//! the DynamoDB store against a one-write baseline client in the same run (one conditional
//! `UpdateItem` of a small counter per caller), with the items' sizes; medians of 3 rounds.
//! Prints figures and a verdict; a slow or failed call is counted and reported, never a panic.

#![allow(clippy::unwrap_used)]

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use weka_shared::adapters::dynamo::{DynamoStateStore, SK_STATE, encode_new_state};
use weka_shared::config::StateConfig;
use weka_shared::domain::state::Group;
use weka_shared::ports::StateStore;
use weka_shared::testing::InMemoryStateStore;
use weka_shared::wire::bootstrap::Vm;

/// The Lambdas' allocator, so that the figures are those of production.
#[global_allocator]
static ALLOCATOR: weka_shared::lambda::Allocator = weka_shared::lambda::ALLOCATOR;

/// Calls in flight at once against the emulator: moto serialises requests, so more only queue
/// (and at N = 1000 queued past any timeout). The same bound for the baseline and the store.
const IN_FLIGHT: usize = 50;
/// A call slower than this is counted as failed, not waited for.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
const STATE_KEY: &str = "bench-state";
/// Rounds per N against the emulator (medians shown): moto's timing moves ±30 % run to run.
const ROUNDS: usize = 3;

/// How a run of N callers went.
struct Run {
    elapsed: Duration,
    completers: usize,
    failed: usize,
}

/// Runs `call(i)` for i in 0..n, at most [`IN_FLIGHT`] at once; counts completers (`Ok(true)`)
/// and failures (errors, timeouts).
async fn run_callers<F, Fut, E>(n: usize, call: F) -> Run
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<bool, E>> + Send + 'static,
    E: std::fmt::Debug + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let gate = gate.clone();
            let call = call(i);
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await;
                match tokio::time::timeout(CALL_TIMEOUT, call).await {
                    Ok(Ok(completes)) => Ok(completes),
                    Ok(Err(e)) => Err(format!("{e:?}")),
                    Err(_) => Err(format!("no answer within {CALL_TIMEOUT:?}")),
                }
            })
        })
        .collect();
    let mut run = Run {
        elapsed: Duration::ZERO,
        completers: 0,
        failed: 0,
    };
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(Ok(completes)) => run.completers += usize::from(completes),
            Ok(Err(e)) => {
                run.failed += 1;
                first_error.get_or_insert(e);
            }
            Err(e) => {
                run.failed += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    run.elapsed = start.elapsed();
    if let Some(e) = first_error {
        eprintln!("  first failure of {}: {e:.300}", run.failed);
    }
    run
}

fn vm(i: usize) -> Vm {
    Vm {
        name: format!("i-{i:017x}"),
        ..Vm::default()
    }
}

async fn register_all<S: StateStore + 'static>(store: Arc<S>, n: usize) -> Run {
    run_callers(n, |i| {
        let store = store.clone();
        async move {
            store
                .register(Group::Backend, &vm(i))
                .await
                .map(|answer| answer.completes_set())
        }
    })
    .await
}

/// N callers each making one conditional `UpdateItem` of one small counter item, with a plain
/// client: what a write per caller costs on this emulator, whatever the store does.
async fn baseline(client: &Client, table: &str, n: usize) -> Run {
    run_callers(n, |_| {
        let request = client
            .update_item()
            .table_name(table)
            .key("pk", AttributeValue::S("baseline".to_owned()))
            .key("sk", AttributeValue::S("counter".to_owned()))
            .update_expression("ADD #n :one")
            .condition_expression("attribute_not_exists(#n) OR #n < :max")
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .expression_attribute_values(":max", AttributeValue::N(n.to_string()));
        async move { request.send().await.map(|_| false) }
    })
    .await
}

async fn client_for(endpoint: &str) -> Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(CALL_TIMEOUT)
                .build(),
        )
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await;
    Client::new(&sdk)
}

async fn create_table(client: &Client, table: &str) {
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
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .send()
        .await
        .unwrap();
}

async fn dynamo_store(client: &Client, table: String, n: usize) -> DynamoStateStore {
    create_table(client, &table).await;
    client
        .put_item()
        .table_name(&table)
        .set_item(Some(encode_new_state(STATE_KEY, u32::try_from(n).unwrap())))
        .send()
        .await
        .unwrap();
    DynamoStateStore::new(
        client.clone(),
        StateConfig {
            table,
            state_key: STATE_KEY.to_owned(),
            nfs_state_key: "bench-nfs".to_owned(),
        },
    )
}

/// An item's size as DynamoDB bills it (names + values; numbers approximated by their digits).
fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

/// (head item bytes, largest other item of the group's partition in bytes).
async fn item_sizes(client: &Client, table: &str) -> (usize, usize) {
    let items = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(STATE_KEY.to_owned()))
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    let mut head = 0;
    let mut other = 0;
    for item in items.into_iter().flatten() {
        if matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk == SK_STATE) {
            head = item_size(&item);
        } else {
            other = other.max(item_size(&item));
        }
    }
    (head, other)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let endpoint = std::env::var("WEKA_TEST_AWS_ENDPOINT").ok();
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 200]);
    println!(
        "{:>5} {:>14} {:>11} {:>11} {:>11} {:>10} {:>10} {:>10} {:>7}",
        "N",
        "in-memory/s",
        "baseline s",
        "store s",
        "store/base",
        "writes/reg",
        "head B",
        "per-reg B",
        "failed"
    );
    let client = match &endpoint {
        Some(ep) => Some(client_for(ep).await),
        None => None,
    };
    let mut ratios = Vec::new();
    let mut heads = Vec::new();
    let mut healthy = true;
    for (run, &n) in sizes.iter().enumerate() {
        let memory = Arc::new(InMemoryStateStore::with_sizes(u32::try_from(n).unwrap(), 1));
        let mem = register_all(memory, n).await;
        let mem_rate = n as f64 / secs(mem.elapsed);
        let Some(client) = &client else {
            println!("{n:>5} {mem_rate:>14.0}");
            continue;
        };
        // Rounds alternate the baseline and the store on fresh tables; the medians are shown.
        let mut rounds = Vec::new();
        let mut sizes_seen = (0, 0);
        let mut writes = 0.0;
        for round in 0..ROUNDS {
            let table = format!("bench-{}-{run}-{round}", std::process::id());
            create_table(client, &format!("{table}-base")).await;
            let base = baseline(client, &format!("{table}-base"), n).await;
            let store = Arc::new(dynamo_store(client, table.clone(), n).await);
            let reg = register_all(store.clone(), n).await;
            writes = store.write_calls() as f64 / n as f64;
            sizes_seen = item_sizes(client, &table).await;
            healthy &= base.failed + reg.failed == 0 && reg.completers == 1;
            if reg.completers != 1 {
                println!(
                    "  {} completers at N = {n} (expected exactly 1)",
                    reg.completers
                );
            }
            rounds.push((
                secs(base.elapsed),
                secs(reg.elapsed),
                base.failed + reg.failed,
            ));
        }
        let median = |pick: fn(&(f64, f64, usize)) -> f64| {
            let mut v: Vec<f64> = rounds.iter().map(pick).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (base_s, store_s) = (median(|r| r.0), median(|r| r.1));
        let ratio = median(|r| r.1 / r.0);
        let failed: usize = rounds.iter().map(|r| r.2).sum();
        let (head, per_reg) = sizes_seen;
        println!(
            "{n:>5} {mem_rate:>14.0} {base_s:>11.3} {store_s:>11.3} {ratio:>11.2} {writes:>10.2} {head:>10} {per_reg:>10} {failed:>7}"
        );
        ratios.push((n, ratio));
        heads.push(head);
    }
    let Some(client) = client else {
        println!("(moto columns empty: WEKA_TEST_AWS_ENDPOINT not set; run `make bench`)");
        return;
    };
    drop(client);
    if let (Some(&(n0, first)), Some(&(n1, last))) = (ratios.first(), ratios.last()) {
        let growth = last / first;
        // The counter's digits aside, the head does not change size.
        let head_flat = heads.iter().max().unwrap_or(&0) - heads.iter().min().unwrap_or(&0) <= 8;
        let verdict = if growth <= 1.5 && head_flat && healthy {
            "met"
        } else {
            "NOT met"
        };
        println!(
            "per-call cost vs the one-write baseline: {first:.2}x at N = {n0}, {last:.2}x at N = {n1} \
             (growth {growth:.2}, goal <= 1.5); head item ~{} bytes at every N: {head_flat}; \
             every call answered, one completer: {healthy} -> {verdict}",
            heads.first().copied().unwrap_or_default()
        );
    }
}
