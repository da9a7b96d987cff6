//! The DynamoDB state store on moto: registration, claims, crash-at-every-step recovery,
//! leases, reports and notes.

use super::common::{sdk, store_with};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weka_shared::adapters::dynamo::DynamoStateStore;
use weka_shared::config::StateConfig;
use weka_shared::domain::control::Pause;
use weka_shared::domain::events::{Event, EventKind};
use weka_shared::domain::report::ReportKind;
use weka_shared::domain::state::{ClaimOutcome, Group, Registration, RegistrationRefusal};
use weka_shared::error::{Classify, ErrorClass};
use weka_shared::ports::{LeaseOutcome, NewReport, StateStore, StoreError};
use weka_shared::testing::CrashingStore;
use weka_shared::wire::bootstrap::Vm;

fn vm(id: &str) -> Vm {
    Vm {
        name: id.to_owned(),
        ..Vm::default()
    }
}

#[tokio::test]
async fn registration_is_one_conditional_write_with_stable_answers() {
    require_emulator!();
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
    let (completing, new) = store
        .register_noting_new(Group::Backend, &vm("i-b"))
        .await
        .unwrap();
    assert!(
        completing.completes_set() && new,
        "the completer's registration is new"
    );
    assert_eq!(
        store
            .register_noting_new(Group::Backend, &vm("i-b"))
            .await
            .unwrap(),
        (completing, false),
        "completer retry: same answer, not new"
    );
    assert_eq!(
        store
            .register_noting_new(Group::Backend, &vm("i-late"))
            .await
            .unwrap(),
        (
            Registration::Refused(RegistrationRefusal::SetComplete { target: 2 }),
            false
        )
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

/// Issue 15: a departed member's slot is freed by one conditional write on the list pair; a
/// stale view (the set changed since it was read) or a claimed set refuses it.
#[tokio::test]
async fn eviction_frees_one_slot_and_refuses_a_changed_or_claimed_set() {
    require_emulator!();
    let store = store_with(3).await;
    for id in ["i-a", "i-b", "i-c"] {
        store.register(Group::Backend, &vm(id)).await.unwrap();
    }
    let seen = store.load(Group::Backend).await.unwrap();
    assert!(
        store
            .evict_registration(Group::Backend, &seen, "i-b")
            .await
            .unwrap()
    );
    let after = store.load(Group::Backend).await.unwrap();
    let names: Vec<&str> = after.instances.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["i-a", "i-c"]);
    assert!(after.version > seen.version);
    assert!(
        !store
            .evict_registration(Group::Backend, &seen, "i-c")
            .await
            .unwrap(),
        "a view from before the eviction is refused"
    );
    // The freed slot is taken by the next registration, which completes the set and claims.
    let replacement = store.register(Group::Backend, &vm("i-d")).await.unwrap();
    assert!(replacement.completes_set(), "{replacement:?}");
    assert!(matches!(
        store
            .claim_clusterization(Group::Backend, "i-d", Utc::now(), Duration::from_secs(60))
            .await
            .unwrap(),
        ClaimOutcome::Granted { .. }
    ));
    let claimed = store.load(Group::Backend).await.unwrap();
    assert!(
        !store
            .evict_registration(Group::Backend, &claimed, "i-a")
            .await
            .unwrap(),
        "a claimed set is the clusterizer's"
    );
    assert_eq!(store.load(Group::Backend).await.unwrap().instances.len(), 3);
}

#[tokio::test]
async fn a_missing_state_document_is_named_not_created() {
    require_emulator!();
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
    require_emulator!();
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
    for answer in &answers {
        match answer {
            Registration::Registered { position, target } => {
                assert_eq!(*target, 200);
                assert!(
                    answer.completes_set() || *position < 200,
                    "only the completer answers the target: {answer:?}"
                );
            }
            Registration::Refused(r) => panic!("refused: {r:?}"),
        }
    }
    assert_eq!(
        store.register(Group::Backend, &vm("i-0201")).await.unwrap(),
        Registration::Refused(RegistrationRefusal::SetComplete { target: 200 }),
        "the counter stopped at the target"
    );
    let per_registration = (store.write_calls() - 1) as f64 / 200.0;
    println!(
        "moto: 200 concurrent registrations in {:.2}s, {per_registration:.2} DynamoDB write calls per registration",
        elapsed.as_secs_f64()
    );
    assert!((per_registration - 1.0).abs() < f64::EPSILON);
}

/// Tells the patched moto to cancel the next `count` transactions on `table` as conflicting
/// with a concurrent one, as DynamoDB does under contention (tests/emulator/moto_dynamodb.py).
async fn inject_conflicts(table: &str, count: u32) {
    let endpoint = std::env::var("WEKA_TEST_AWS_ENDPOINT").unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{endpoint}/_dynamodb/transaction-conflicts"))
        .body(format!(r#"{{"table": "{table}", "count": {count}}}"#))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{answer:?}");
}

#[tokio::test]
async fn a_registration_canceled_by_conflicts_retries_and_then_reports_unavailable() {
    require_emulator!();
    let store = store_with(2).await;
    inject_conflicts(store.table(), 3).await;
    assert_eq!(
        store.register(Group::Backend, &vm("i-a")).await.unwrap(),
        Registration::Registered {
            position: 1,
            target: 2
        },
        "passes once the conflicts are over"
    );
    assert_eq!(
        store.write_calls(),
        4,
        "three canceled attempts, one commit"
    );
    inject_conflicts(store.table(), 100).await;
    let err = store
        .register(Group::Backend, &vm("i-b"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(store.write_calls(), 4 + 8, "bounded attempts");
    inject_conflicts(store.table(), 0).await;
    let state = store.load(Group::Backend).await.unwrap();
    assert_eq!(
        state.instances.len(),
        1,
        "a canceled registration wrote nothing"
    );
    assert!(
        store
            .register(Group::Backend, &vm("i-b"))
            .await
            .unwrap()
            .completes_set(),
        "the caller's retry completes the set"
    );
}

/// Issue 19: what a registration writes does not grow with the group. The head item keeps
/// counters only; each registration is its own item of a fixed shape.
#[tokio::test]
async fn the_head_item_stays_small_however_many_register() {
    require_emulator!();
    let store = store_with(60).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk().await);
    let head_size = || async {
        let item = client
            .get_item()
            .table_name(store.table())
            .key(
                "pk",
                AttributeValue::S(store.state_config().state_key.clone()),
            )
            .key("sk", AttributeValue::S("state".to_owned()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        format!("{item:?}").len()
    };
    store
        .register(Group::Backend, &vm("i-first"))
        .await
        .unwrap();
    let after_one = head_size().await;
    for i in 0..58 {
        store
            .register(Group::Backend, &vm(&format!("i-{i:017}")))
            .await
            .unwrap();
    }
    let after_many = head_size().await;
    assert!(
        after_many <= after_one + 32,
        "the head grew with the set: {after_one} -> {after_many} bytes"
    );
    assert_eq!(
        store.load(Group::Backend).await.unwrap().instances.len(),
        59
    );
}

#[tokio::test]
async fn clusterization_survives_a_writer_killed_between_any_two_steps() {
    require_emulator!();
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
    require_emulator!();
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
    require_emulator!();
    let store = store_with(2).await;
    let ttl = Duration::from_secs(60);
    let t0 = Utc::now();
    assert!(matches!(
        store
            .acquire_lease("scale", &"run-1".into(), t0, ttl)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
    let held = store
        .acquire_lease(
            "scale",
            &"run-2".into(),
            t0 + chrono::Duration::seconds(5),
            ttl,
        )
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
            .acquire_lease("scale", &"run-2".into(), later, ttl)
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
            .acquire_lease("scale", &"run-3".into(), later, ttl)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
}

#[tokio::test]
async fn reports_ring_per_host_and_survive_a_crash_between_steps() {
    require_emulator!();
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
            .next_report_seq(Group::Backend, "ip-10-0-0-1.ec2.internal", "2026-12", 10)
            .await
            .unwrap()
            .unwrap();
        store
            .put_report(Group::Backend, seq, &report(&format!("m{i}")), 3, retention)
            .await
            .unwrap();
    }
    // Crash after reserving a sequence number: a gap, nothing else.
    let dying = CrashingStore::after(&store, 1);
    let seq = dying
        .next_report_seq(Group::Backend, "ip-10-0-0-1.ec2.internal", "2026-12", 10)
        .await
        .unwrap()
        .unwrap();
    assert!(
        dying
            .put_report(Group::Backend, seq, &report("lost"), 3, retention)
            .await
            .is_err()
    );
    let seq = store
        .next_report_seq(Group::Backend, "ip-10-0-0-1.ec2.internal", "2026-12", 10)
        .await
        .unwrap()
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

#[tokio::test]
async fn notes_round_trip() {
    require_emulator!();
    let store = store_with(2).await;
    assert_eq!(store.note("scale-down").await.unwrap(), None);
    let body = serde_json::json!({"refusal": {"desired": 3, "minimum": 6}});
    store.put_note("scale-down", &body).await.unwrap();
    assert_eq!(store.note("scale-down").await.unwrap(), Some(body));
}

/// Every SDK call is bounded: against an endpoint that accepts connections and never answers,
/// a read fails as transient within the operation timeout instead of hanging until the
/// function's own timeout kills it mid-write.
#[tokio::test]
async fn a_call_to_a_silent_endpoint_fails_within_the_operation_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let sdk = super::common::on_endpoint(&endpoint).await;
    let store = weka_shared::adapters::dynamo::DynamoStateStore::from_sdk_config(
        &sdk,
        weka_shared::testing::state_config(),
    );
    let started = std::time::Instant::now();
    let err = store.load(Group::Backend).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        took < weka_shared::adapters::SDK_OPERATION_TIMEOUT + std::time::Duration::from_secs(5),
        "took {took:?}"
    );
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
}

/// Review M5: distinct reporting hosts were unbounded. A host's first report is admitted only
/// while the window's count of new hosts is below the limit; a known host always reports, and a
/// refused one leaves nothing behind (it stays refused within the window).
#[tokio::test]
async fn new_reporting_hosts_are_admitted_up_to_the_windows_limit() {
    require_emulator!();
    let store = store_with(6).await;
    for host in ["ip-10-0-0-1", "ip-10-0-0-2"] {
        assert_eq!(
            store
                .next_report_seq(Group::Backend, host, "2026-12", 2)
                .await
                .unwrap(),
            Some(1)
        );
    }
    for _ in 0..2 {
        assert_eq!(
            store
                .next_report_seq(Group::Backend, "ip-10-0-0-3", "2026-12", 2)
                .await
                .unwrap(),
            None,
            "a third new host in the window is refused, every time"
        );
    }
    assert_eq!(
        store
            .next_report_seq(Group::Backend, "ip-10-0-0-1", "2026-12", 2)
            .await
            .unwrap(),
        Some(2),
        "a known host keeps reporting"
    );
    assert_eq!(
        store
            .next_report_seq(Group::Backend, "ip-10-0-0-3", "2027-01", 2)
            .await
            .unwrap(),
        Some(1),
        "admitted in the next window"
    );
    assert_eq!(
        store
            .next_report_seq(Group::Nfs, "ip-10-0-0-9", "2026-12", 2)
            .await
            .unwrap(),
        Some(1),
        "each group counts its own hosts"
    );
}

#[tokio::test]
async fn a_pause_is_one_item_read_back_whole_and_lifted_once() {
    require_emulator!();
    let store = store_with(2).await;
    assert_eq!(store.paused().await.unwrap(), None);
    assert_eq!(store.resume().await.unwrap(), None, "nothing to lift");
    let since = chrono::DateTime::parse_from_rfc3339("2026-12-07T08:00:00.123Z")
        .unwrap()
        .to_utc();
    let pause = Pause::new("arn:aws:iam::111122223333:user/ops", "disk swap", since);
    store.pause(&pause).await.unwrap();
    assert_eq!(store.paused().await.unwrap(), Some(pause.clone()));
    // Last writer wins: a second pause replaces the reason.
    let again = Pause::new("arn:aws:iam::111122223333:user/ops", "", since);
    store.pause(&again).await.unwrap();
    assert_eq!(store.paused().await.unwrap(), Some(again.clone()));
    let item = sdk_item(&store, "c-state#control", "pause").await;
    assert_eq!(
        item.keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        ["paused_by", "pk", "reason", "since", "sk"].into(),
        "one small item, no TTL: a pause stands until an operator lifts it"
    );
    assert_eq!(store.resume().await.unwrap(), Some(again));
    assert_eq!(store.paused().await.unwrap(), None);
    assert_eq!(store.resume().await.unwrap(), None);
    // The group's state is untouched.
    assert!(!store.load(Group::Backend).await.unwrap().clusterized);
}

async fn sdk_item(
    store: &DynamoStateStore,
    pk: &str,
    sk: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    let client = aws_sdk_dynamodb::Client::new(&sdk().await);
    client
        .get_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(pk.to_owned()))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

#[tokio::test]
async fn events_are_a_bounded_ring_read_newest_first() {
    require_emulator!();
    let store = store_with(2).await;
    assert!(store.events().await.unwrap().is_empty());
    let t0 = Utc::now();
    for n in 0..5 {
        let event = Event::new(
            EventKind::Deactivation,
            &format!("10.0.0.{n}"),
            "scale down",
            t0 + chrono::Duration::seconds(n),
        );
        store
            .record_event(&event, 3, Duration::from_secs(3600))
            .await
            .unwrap();
    }
    let events = store.events().await.unwrap();
    let subjects: Vec<&str> = events.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(subjects, ["10.0.0.4", "10.0.0.3", "10.0.0.2"]);
    assert!(
        events
            .iter()
            .all(|e| e.kind == EventKind::Deactivation && e.reason == "scale down")
    );
    let item = sdk_item(&store, "c-state#events", "000001").await;
    assert!(item.contains_key("expires_at"), "each event expires");
}
