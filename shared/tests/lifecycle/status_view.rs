//! Lifecycle hooks on fakes: status.

use super::*;

#[tokio::test]
async fn status_lists_waiting_instances_with_how_long_they_waited() {
    let mut w = World::clusterized().await;
    w.record("i-10007", Transition::Launch, "10.0.0.7", now())
        .await;
    w.record(
        "i-10006",
        Transition::Terminate,
        "10.0.0.6",
        now() + TimeDelta::seconds(200),
    )
    .await;
    w.store
        .decide_lifecycle_action(&LifecycleDecision {
            key: key("i-10006", Transition::Terminate),
            group: ASG.to_owned(),
            hook: TERMINATE_HOOK.to_owned(),
            result: LifecycleResult::Continue,
            reason: "weka deactivated the machine".to_owned(),
            at: now() + TimeDelta::seconds(250),
        })
        .await
        .unwrap();
    w.record("i-10005", Transition::Launch, "10.0.0.5", now())
        .await;
    w.close_joined("i-10005", now()).await;
    w.advance(300);
    let shown = w.status().await;
    assert_eq!(
        shown["lifecycle_waiting"],
        json!([
            {"instance_id": "i-10007", "lifecycle_state": "Pending:Wait",
             "since": "2026-11-10T00:00:00.000Z", "waiting_seconds": 300, "phase": "waiting"},
            {"instance_id": "i-10006", "lifecycle_state": "Terminating:Wait",
             "since": "2026-11-10T00:03:20.000Z", "waiting_seconds": 100, "phase": "decided",
             "decision": "CONTINUE: weka deactivated the machine"}
        ]),
        "{shown}"
    );

    // Nothing waiting: the field is left out, as before.
    let mut quiet = World::clusterized().await;
    assert!(quiet.status().await.get("lifecycle_waiting").is_none());
}
