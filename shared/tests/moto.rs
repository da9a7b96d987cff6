//! The AWS adapters against moto server (started by `make test`; endpoint in
//! `WEKA_TEST_AWS_ENDPOINT`): conditional writes and their refusals, concurrent writers,
//! crash-at-every-step recovery, leases, reports, lifecycle-action records, secrets and the EC2
//! inventory. (moto lacks `CompleteLifecycleAction`/`RecordLifecycleActionHeartbeat`: the
//! Auto Scaling side of the hooks is covered on the fakes, `tests/lifecycle.rs`.)
//!
//! Each test uses its own table, so tests run in parallel against one server.

#![allow(clippy::unwrap_used)]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use chrono::Utc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use weka_shared::adapters::dynamo::{DynamoStateStore, encode_new_state};
use weka_shared::adapters::ec2::AwsInventory;
use weka_shared::adapters::secrets::SecretsManager;
use weka_shared::config::StateConfig;
use weka_shared::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecyclePhase, LifecycleResult, NewLifecycleAction,
    Transition,
};
use weka_shared::domain::report::ReportKind;
use weka_shared::domain::state::{ClaimOutcome, Group, Registration, RegistrationRefusal};
use weka_shared::ports::{
    InstanceInventory, LeaseOutcome, NewReport, SecretError, Secrets, StateStore, StoreError,
};
use weka_shared::testing::CrashingStore;
use weka_shared::wire::bootstrap::Vm;

static TABLE_SEQ: AtomicU32 = AtomicU32::new(0);

async fn sdk() -> aws_config::SdkConfig {
    let endpoint = std::env::var("WEKA_TEST_AWS_ENDPOINT").expect(
        "WEKA_TEST_AWS_ENDPOINT is not set: run these tests through `make test`, which starts moto",
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

/// A fresh table holding a backend state of `size` and an NFS state of 2.
async fn store_with(size: u32) -> DynamoStateStore {
    let sdk = sdk().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!(
        "state-{}-{}",
        std::process::id(),
        TABLE_SEQ.fetch_add(1, Ordering::SeqCst)
    );
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

fn vm(id: &str) -> Vm {
    Vm {
        name: id.to_owned(),
        ..Vm::default()
    }
}

#[tokio::test]
async fn registration_is_one_conditional_write_with_stable_answers() {
    let store = store_with(2).await;
    let first = store.register(Group::Backend, &vm("i-a")).await.unwrap();
    assert_eq!(
        first,
        Registration::Registered {
            position: 1,
            target: 2
        }
    );
    assert_eq!(
        store.register(Group::Backend, &vm("i-a")).await.unwrap(),
        first,
        "retry: same answer"
    );
    let completing = store.register(Group::Backend, &vm("i-b")).await.unwrap();
    assert!(completing.completes_set());
    assert_eq!(
        store.register(Group::Backend, &vm("i-b")).await.unwrap(),
        completing,
        "completer retry"
    );
    assert_eq!(
        store.register(Group::Backend, &vm("i-late")).await.unwrap(),
        Registration::Refused(RegistrationRefusal::SetComplete { target: 2 })
    );
    assert_eq!(
        store.write_calls(),
        5,
        "one write call per registration, refused or not"
    );
    let state = store.load(Group::Backend).await.unwrap();
    assert_eq!(
        state
            .instances
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>(),
        ["i-a", "i-b"]
    );
    assert_eq!(
        state.version, 2,
        "refused and repeated registrations wrote nothing"
    );

    store.finalize(Group::Backend, Utc::now()).await.unwrap();
    assert_eq!(
        store
            .register(Group::Backend, &vm("i-after"))
            .await
            .unwrap(),
        Registration::Refused(RegistrationRefusal::AlreadyClusterized)
    );
    let nfs = store
        .register(
            Group::Nfs,
            &Vm {
                name: "i-gw".to_owned(),
                protocol: weka_shared::wire::bootstrap::Protocol::Nfs,
                container_uid: "u".to_owned(),
                nic_name: "eth1".to_owned(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        nfs,
        Registration::Registered {
            position: 1,
            target: 2
        }
    );
    let nfs_state = store.load(Group::Nfs).await.unwrap();
    assert_eq!(nfs_state.instances[0].nic_name, "eth1");
}

#[tokio::test]
async fn a_missing_state_document_is_named_not_created() {
    let store = store_with(2).await;
    let sdk = sdk().await;
    let orphan = DynamoStateStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        StateConfig {
            table: "no-such-table-x".to_owned(),
            state_key: "k".to_owned(),
            nfs_state_key: "n".to_owned(),
        },
    );
    assert!(orphan.load(Group::Backend).await.is_err());
    let wrong_key = DynamoStateStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        StateConfig {
            table: store.table().to_owned(),
            state_key: "absent".to_owned(),
            nfs_state_key: "n".to_owned(),
        },
    );
    for result in [
        wrong_key
            .register(Group::Backend, &vm("i"))
            .await
            .map(|_| ()),
        wrong_key
            .finalize(Group::Backend, Utc::now())
            .await
            .map(|_| ()),
        wrong_key.load(Group::Backend).await.map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(StoreError::StateMissing { ref key, .. }) if key == "absent"),
            "{result:?}"
        );
    }
    assert!(wrong_key.load(Group::Backend).await.is_err());
}

#[tokio::test]
async fn two_hundred_concurrent_registrations_register_once_with_one_completer() {
    let store = Arc::new(store_with(200).await);
    let started = Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .register(Group::Backend, &vm(&format!("i-{i:04}")))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    let state = store.load(Group::Backend).await.unwrap();
    let mut ids: Vec<_> = state.instances.iter().map(|v| v.name.clone()).collect();
    assert_eq!(ids.len(), 200, "every registration kept");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200, "nobody registered twice");
    assert_eq!(
        answers.iter().filter(|a| a.completes_set()).count(),
        1,
        "exactly one completer"
    );
    let mut positions: Vec<_> = answers
        .iter()
        .map(|a| match a {
            Registration::Registered { position, .. } => *position,
            Registration::Refused(r) => panic!("refused: {r:?}"),
        })
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=200).collect::<Vec<_>>());
    let per_registration = store.write_calls() as f64 / 200.0;
    println!(
        "moto: 200 concurrent registrations in {:.2}s, {per_registration:.2} DynamoDB write calls per registration",
        elapsed.as_secs_f64()
    );
    assert!((per_registration - 1.0).abs() < f64::EPSILON);
}

#[tokio::test]
async fn clusterization_survives_a_writer_killed_between_any_two_steps() {
    let stale = Duration::from_secs(600);
    for allowed in 0..3 {
        let store = store_with(2).await;
        store.register(Group::Backend, &vm("a")).await.unwrap();
        let t0 = Utc::now();
        let dying = CrashingStore::after(&store, allowed);
        let run = async {
            dying.register(Group::Backend, &vm("b")).await?;
            dying
                .claim_clusterization(Group::Backend, "b", t0, stale)
                .await?;
            dying.finalize(Group::Backend, t0).await
        };
        assert!(run.await.is_err());
        let later = t0 + chrono::Duration::from_std(stale).unwrap();
        assert!(
            store
                .register(Group::Backend, &vm("b"))
                .await
                .unwrap()
                .completes_set()
        );
        let claim = store
            .claim_clusterization(Group::Backend, "a", later, stale)
            .await
            .unwrap();
        assert!(
            matches!(claim, ClaimOutcome::Granted { .. }),
            "after crash at {allowed}: {claim:?}"
        );
        assert!(
            store
                .finalize(Group::Backend, later)
                .await
                .unwrap()
                .clusterized
        );
        assert_eq!(
            store
                .claim_clusterization(Group::Backend, "b", later, stale)
                .await
                .unwrap(),
            ClaimOutcome::AlreadyClusterized
        );
    }
}

#[tokio::test]
async fn a_fresh_claim_is_held_and_a_stale_one_is_taken_over() {
    let store = store_with(2).await;
    let stale = Duration::from_secs(600);
    let t0 = Utc::now();
    store.register(Group::Backend, &vm("a")).await.unwrap();
    assert_eq!(
        store
            .claim_clusterization(Group::Backend, "a", t0, stale)
            .await
            .unwrap(),
        ClaimOutcome::NotEligible
    );
    store.register(Group::Backend, &vm("b")).await.unwrap();
    assert_eq!(
        store
            .claim_clusterization(Group::Backend, "x", t0, stale)
            .await
            .unwrap(),
        ClaimOutcome::NotEligible
    );
    assert_eq!(
        store
            .claim_clusterization(Group::Backend, "b", t0, stale)
            .await
            .unwrap(),
        ClaimOutcome::Granted { replaced: None }
    );
    let held = store
        .claim_clusterization(
            Group::Backend,
            "a",
            t0 + chrono::Duration::seconds(10),
            stale,
        )
        .await
        .unwrap();
    assert!(
        matches!(held, ClaimOutcome::HeldBy(ref c) if c.instance == "b"),
        "{held:?}"
    );
    let taken = store
        .claim_clusterization(
            Group::Backend,
            "a",
            t0 + chrono::Duration::seconds(601),
            stale,
        )
        .await
        .unwrap();
    assert!(
        matches!(taken, ClaimOutcome::Granted { replaced: Some(ref c) } if c.instance == "b"),
        "{taken:?}"
    );
    assert_eq!(
        store
            .load(Group::Backend)
            .await
            .unwrap()
            .clusterizer
            .unwrap()
            .instance,
        "a"
    );
}

#[tokio::test]
async fn leases_expire_and_only_the_owner_releases() {
    let store = store_with(2).await;
    let ttl = Duration::from_secs(60);
    let t0 = Utc::now();
    assert!(matches!(
        store
            .acquire_lease("scale", "run-1", t0, ttl)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
    let held = store
        .acquire_lease("scale", "run-2", t0 + chrono::Duration::seconds(5), ttl)
        .await
        .unwrap();
    assert!(
        matches!(held, LeaseOutcome::Held(ref l) if l.owner == "run-1"),
        "{held:?}"
    );
    assert!(!store.release_lease("scale", "run-2").await.unwrap());
    // run-1 died without releasing; the lease lapses.
    let later = t0 + chrono::Duration::seconds(61);
    assert!(matches!(
        store
            .acquire_lease("scale", "run-2", later, ttl)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
    assert!(
        !store.release_lease("scale", "run-1").await.unwrap(),
        "late release by the dead owner refused"
    );
    assert!(store.release_lease("scale", "run-2").await.unwrap());
    assert!(matches!(
        store
            .acquire_lease("scale", "run-3", later, ttl)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
}

#[tokio::test]
async fn reports_ring_per_host_and_survive_a_crash_between_steps() {
    let store = store_with(2).await;
    let report = |message: &str| NewReport {
        host: "ip-10-0-0-1.ec2.internal".to_owned(),
        kind: ReportKind::Progress,
        message: message.to_owned(),
        at: Utc::now(),
    };
    let retention = Duration::from_secs(86_400);
    for i in 0..5 {
        let seq = store
            .next_report_seq(Group::Backend, "ip-10-0-0-1.ec2.internal")
            .await
            .unwrap();
        store
            .put_report(Group::Backend, seq, &report(&format!("m{i}")), 3, retention)
            .await
            .unwrap();
    }
    // Crash after reserving a sequence number: a gap, nothing else.
    let dying = CrashingStore::after(&store, 1);
    let seq = dying
        .next_report_seq(Group::Backend, "ip-10-0-0-1.ec2.internal")
        .await
        .unwrap();
    assert!(
        dying
            .put_report(Group::Backend, seq, &report("lost"), 3, retention)
            .await
            .is_err()
    );
    let seq = store
        .next_report_seq(Group::Backend, "ip-10-0-0-1.ec2.internal")
        .await
        .unwrap();
    store
        .put_report(Group::Backend, seq, &report("after"), 3, retention)
        .await
        .unwrap();
    // A stale writer holding an older sequence number cannot overwrite a newer slot.
    store
        .put_report(Group::Backend, seq - 3, &report("stale"), 3, retention)
        .await
        .unwrap();
    let kept: Vec<_> = store
        .reports(Group::Backend)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.seq, r.message))
        .collect();
    // Slots are seq % 3: seq 7 took seq 4's slot; the lost seq 6 left seq 3 in its slot.
    assert_eq!(
        kept,
        [
            (3, "m2".to_owned()),
            (5, "m4".to_owned()),
            (7, "after".to_owned())
        ]
    );
}

fn lifecycle_key(id: &str, transition: Transition) -> LifecycleKey {
    LifecycleKey {
        instance_id: id.to_owned(),
        transition,
    }
}

#[tokio::test]
async fn lifecycle_records_are_idempotent_and_every_transition_conditional() {
    let store = store_with(6).await;
    let t0 = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let launch = lifecycle_key("i-0a", Transition::Launch);
    let first = NewLifecycleAction {
        key: launch.clone(),
        group: "asg".to_owned(),
        hook: "weka-launch".to_owned(),
        token: None,
        started_at: t0,
        private_ip: None,
    };
    store.record_lifecycle_action(&first).await.unwrap();
    // Again, later, with a token and an IP: both filled in, the start time kept.
    store
        .record_lifecycle_action(&NewLifecycleAction {
            token: Some("tok-1".to_owned()),
            private_ip: Some("10.0.0.7".to_owned()),
            started_at: t0 + chrono::Duration::seconds(90),
            ..first.clone()
        })
        .await
        .unwrap();
    store
        .record_lifecycle_action(&NewLifecycleAction {
            token: Some("tok-2".to_owned()),
            ..first.clone()
        })
        .await
        .unwrap();
    let records = store.lifecycle_actions().await.unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.key, launch);
    assert_eq!((r.group.as_str(), r.hook.as_str()), ("asg", "weka-launch"));
    assert_eq!(r.token.as_deref(), Some("tok-1"), "the first token stays");
    assert_eq!(r.private_ip.as_deref(), Some("10.0.0.7"));
    assert_eq!(r.started_at, t0);
    assert_eq!(r.phase, LifecyclePhase::Waiting);

    // The item as documented: pk <state key>#lifecycle, sk <instance>#<transition>, TTL.
    let client = aws_sdk_dynamodb::Client::new(&sdk().await);
    let item = client
        .get_item()
        .table_name(store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("c-state#lifecycle".to_owned()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("i-0a#launch".to_owned()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    for attribute in [
        "instance_id",
        "transition",
        "asg",
        "hook",
        "token",
        "started_at",
        "private_ip",
        "phase",
        "expires_at",
    ] {
        assert!(
            item.contains_key(attribute),
            "{attribute} missing: {item:?}"
        );
    }

    // Heartbeat slots: one per interval, only while waiting, only for recorded actions.
    let interval = Duration::from_secs(30);
    assert!(
        store
            .claim_lifecycle_heartbeat(&launch, t0, interval)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_lifecycle_heartbeat(&launch, t0 + chrono::Duration::seconds(10), interval)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_lifecycle_heartbeat(&launch, t0 + chrono::Duration::seconds(30), interval)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_lifecycle_heartbeat(&lifecycle_key("i-none", Transition::Launch), t0, interval)
            .await
            .unwrap(),
        "no record, no heartbeat"
    );

    // Concurrent deciders agree on one outcome.
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for n in 0..10 {
        let store = Arc::clone(&store);
        let launch = launch.clone();
        tasks.push(tokio::spawn(async move {
            let result = if n % 2 == 0 {
                LifecycleResult::Continue
            } else {
                LifecycleResult::Abandon
            };
            let decided = store
                .decide_lifecycle_action(&LifecycleDecision {
                    key: launch,
                    group: "asg".to_owned(),
                    hook: "weka-launch".to_owned(),
                    result,
                    reason: format!("decider {n}"),
                    at: t0 + chrono::Duration::seconds(60),
                })
                .await
                .unwrap();
            (decided, result)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (decided, result) = task.await.unwrap();
        if decided {
            winners.push(result);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one decision");
    let r = store.lifecycle_actions().await.unwrap().remove(0);
    assert_eq!(r.phase, LifecyclePhase::Decided);
    assert_eq!(r.result, Some(winners[0]));
    assert!(
        !store
            .claim_lifecycle_heartbeat(&launch, t0 + chrono::Duration::seconds(600), interval)
            .await
            .unwrap(),
        "a decided action gets no heartbeat"
    );

    // Closing once; a second close and a close of an unknown action change nothing.
    let at = t0 + chrono::Duration::seconds(61);
    assert!(
        store
            .close_lifecycle_action(&launch, Some(winners[0]), "completed", at)
            .await
            .unwrap()
    );
    assert!(
        !store
            .close_lifecycle_action(&launch, None, "again", at)
            .await
            .unwrap()
    );
    assert!(
        !store
            .close_lifecycle_action(&lifecycle_key("i-none", Transition::Launch), None, "x", at)
            .await
            .unwrap()
    );
    let r = store.lifecycle_actions().await.unwrap().remove(0);
    assert_eq!(r.phase, LifecyclePhase::Completed);
    assert_eq!(r.reason.as_deref(), Some("completed"));
    assert_eq!(r.completed_at, Some(at));
    // Recording the event again (at-least-once delivery) never reopens it.
    store.record_lifecycle_action(&first).await.unwrap();
    assert_eq!(
        store.lifecycle_actions().await.unwrap()[0].phase,
        LifecyclePhase::Completed
    );

    // A decision before any record (a report ahead of its event) creates the record.
    let terminate = lifecycle_key("i-0b", Transition::Terminate);
    assert!(
        store
            .decide_lifecycle_action(&LifecycleDecision {
                key: terminate.clone(),
                group: "asg".to_owned(),
                hook: "weka-terminate".to_owned(),
                result: LifecycleResult::Continue,
                reason: "nothing to deactivate".to_owned(),
                at,
            })
            .await
            .unwrap()
    );
    let records = store.lifecycle_actions().await.unwrap();
    assert_eq!(
        records.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
        vec![launch, terminate],
        "ordered by key"
    );
    assert_eq!(records[1].started_at, at);
    assert_eq!(records[1].hook, "weka-terminate");
    assert_eq!(records[1].phase, LifecyclePhase::Decided);
    assert_eq!(records[1].decided_at, Some(at));
}

#[tokio::test]
async fn notes_round_trip() {
    let store = store_with(2).await;
    assert_eq!(store.note("scale-down").await.unwrap(), None);
    let body = serde_json::json!({"refusal": {"desired": 3, "minimum": 6}});
    store.put_note("scale-down", &body).await.unwrap();
    assert_eq!(store.note("scale-down").await.unwrap(), Some(body));
}

#[tokio::test]
async fn secrets_without_a_value_read_as_empty_and_values_round_trip() {
    let sdk = sdk().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let id = format!(
        "weka/test-{}-{}/weka-password",
        std::process::id(),
        TABLE_SEQ.fetch_add(1, Ordering::SeqCst)
    );
    client.create_secret().name(&id).send().await.unwrap();
    let secrets = SecretsManager::from_sdk_config(&sdk);
    assert!(matches!(
        secrets.get(&id).await,
        Err(SecretError::Empty { .. })
    ));
    assert!(matches!(
        secrets.get("weka/absent").await,
        Err(SecretError::Empty { .. })
    ));
    secrets.put(&id, "s3cr3t-value").await.unwrap();
    assert_eq!(secrets.get(&id).await.unwrap(), "s3cr3t-value");
    let err = secrets.put("weka/absent", "x").await.unwrap_err();
    assert!(!format!("{err:?}").contains("\"x\""));
}

#[tokio::test]
async fn inventory_lists_running_tagged_instances_with_private_ips() {
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let cluster = format!(
        "inv-{}-{}",
        std::process::id(),
        TABLE_SEQ.fetch_add(1, Ordering::SeqCst)
    );
    let image = ec2
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .unwrap()
        .images()[0]
        .image_id()
        .unwrap()
        .to_owned();
    let tags = |role: &str| {
        aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("weka_cluster_name")
                    .value(&cluster)
                    .build(),
            )
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("weka_hostgroup_type")
                    .value(role)
                    .build(),
            )
            .build()
    };
    let run = |role: &'static str, count: i32| {
        ec2.run_instances()
            .image_id(&image)
            .min_count(count)
            .max_count(count)
            .tag_specifications(tags(role))
            .send()
    };
    let backends = run("backend", 3).await.unwrap();
    run("gateways-protocol", 1).await.unwrap();
    let stopped = backends.instances()[2].instance_id().unwrap().to_owned();
    ec2.terminate_instances()
        .instance_ids(&stopped)
        .send()
        .await
        .unwrap();

    let inventory = AwsInventory::from_sdk_config(&sdk);
    let running = inventory
        .running_instances(&cluster, "backend")
        .await
        .unwrap();
    assert_eq!(running.len(), 2, "{running:?}");
    assert!(
        running
            .iter()
            .all(|i| i.private_ip.is_some() && i.id != stopped)
    );
    assert_eq!(
        inventory
            .running_instances(&cluster, "gateways-protocol")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        inventory.desired_capacity("no-such-asg").await.unwrap(),
        None
    );
}
