//! Lifecycle-action records in DynamoDB on moto: idempotent recording, conditional decisions,
//! heartbeats and closing.

use super::common::{sdk, store_with};
use aws_sdk_dynamodb::types::AttributeValue;
use std::sync::Arc;
use std::time::Duration;
use weka_shared::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecyclePhase, LifecycleResult, NewLifecycleAction,
    Transition,
};
use weka_shared::ports::StateStore;

fn lifecycle_key(id: &str, transition: Transition) -> LifecycleKey {
    LifecycleKey {
        instance_id: id.to_owned(),
        transition,
    }
}

#[tokio::test]
async fn lifecycle_records_are_idempotent_and_every_transition_conditional() {
    require_emulator!();
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

/// Security review H5: one item that does not decode (here, a start time written by an older
/// writer as `+10000-…`) must not take the whole lifecycle partition down with it.
#[tokio::test]
async fn one_undecodable_record_never_fails_a_read_of_its_partition() {
    require_emulator!();
    let store = store_with(6).await;
    let t0 = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let good = NewLifecycleAction {
        key: lifecycle_key("i-0good", Transition::Launch),
        group: "asg".to_owned(),
        hook: "weka-launch".to_owned(),
        token: None,
        started_at: t0,
        private_ip: None,
    };
    store.record_lifecycle_action(&good).await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(&sdk().await);
    let item = std::collections::HashMap::from([
        (
            "pk".to_owned(),
            AttributeValue::S("c-state#lifecycle".to_owned()),
        ),
        (
            "sk".to_owned(),
            AttributeValue::S("i-0poison#launch".to_owned()),
        ),
        (
            "instance_id".to_owned(),
            AttributeValue::S("i-0poison".to_owned()),
        ),
        (
            "transition".to_owned(),
            AttributeValue::S("launch".to_owned()),
        ),
        ("phase".to_owned(), AttributeValue::S("waiting".to_owned())),
        (
            "started_at".to_owned(),
            AttributeValue::S("+10000-01-01T00:00:00.000Z".to_owned()),
        ),
    ]);
    client
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
    let records = store.lifecycle_actions().await.unwrap();
    let ids: Vec<&str> = records.iter().map(|r| r.key.instance_id.as_str()).collect();
    assert_eq!(ids, ["i-0good"]);
}

/// A time that could not be read back (a year past 9999) is refused at the write, not stored.
#[tokio::test]
async fn a_start_time_that_would_not_read_back_is_refused() {
    require_emulator!();
    let store = store_with(6).await;
    let far = chrono::DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
        .unwrap()
        .to_utc()
        + chrono::Duration::days(1);
    let err = store
        .record_lifecycle_action(&NewLifecycleAction {
            key: lifecycle_key("i-0far", Transition::Terminate),
            group: "asg".to_owned(),
            hook: "weka-terminate".to_owned(),
            token: None,
            started_at: far,
            private_ip: None,
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("time"), "{err}");
    assert!(store.lifecycle_actions().await.unwrap().is_empty());
}

/// Review H5: a finished action does not swallow a later one for the same instance and
/// transition (a warm pool's second launch, say): a newer event opens it again, while a replay
/// of the finished one changes nothing.
#[tokio::test]
async fn a_finished_action_does_not_block_a_later_one_for_the_same_instance() {
    require_emulator!();
    let store = store_with(6).await;
    finished_then_reopened(&store).await;
}

/// The same on the in-memory store, so the fakes agree with DynamoDB.
#[tokio::test]
async fn the_in_memory_store_reopens_a_finished_action_the_same_way() {
    finished_then_reopened(&weka_shared::testing::InMemoryStateStore::with_sizes(6, 0)).await;
}

async fn finished_then_reopened(store: &impl StateStore) {
    let t0 = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
    let key = lifecycle_key("i-0warm", Transition::Launch);
    let first = NewLifecycleAction {
        key: key.clone(),
        group: "asg".to_owned(),
        hook: "weka-launch".to_owned(),
        token: Some("tok-1".to_owned()),
        started_at: t0,
        private_ip: Some("10.0.0.9".to_owned()),
    };
    store.record_lifecycle_action(&first).await.unwrap();
    let decision = LifecycleDecision {
        key: key.clone(),
        group: "asg".to_owned(),
        hook: "weka-launch".to_owned(),
        result: LifecycleResult::Continue,
        reason: "joined".to_owned(),
        at: t0 + chrono::Duration::seconds(60),
    };
    assert!(store.decide_lifecycle_action(&decision).await.unwrap());
    store
        .close_lifecycle_action(
            &key,
            Some(LifecycleResult::Continue),
            "joined",
            t0 + chrono::Duration::seconds(61),
        )
        .await
        .unwrap();
    // A replay of the finished action's event: nothing changes.
    store.record_lifecycle_action(&first).await.unwrap();
    let records = store.lifecycle_actions().await.unwrap();
    assert_eq!(records[0].phase, LifecyclePhase::Completed);
    // A later action: open again, with its own token and start, nothing of the old decision.
    let later = NewLifecycleAction {
        token: Some("tok-2".to_owned()),
        started_at: t0 + chrono::Duration::hours(2),
        private_ip: None,
        ..first
    };
    store.record_lifecycle_action(&later).await.unwrap();
    let records = store.lifecycle_actions().await.unwrap();
    let record = &records[0];
    assert_eq!(record.phase, LifecyclePhase::Waiting, "{record:?}");
    assert_eq!(record.token.as_deref(), Some("tok-2"));
    assert_eq!(record.started_at, later.started_at);
    assert_eq!(record.private_ip, None);
    assert_eq!(
        (record.result, record.decided_at, record.completed_at),
        (None, None, None)
    );
    assert_eq!(record.reason, None);
}
