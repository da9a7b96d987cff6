//! Lifecycle hooks on fakes: launch hook: reports and finalization.

use super::*;
use weka_shared::domain::identity::IdentityVerifier;

/// A clusterized world where `i-10007` (10.0.0.7) waits in `Pending:Wait` with a record.
async fn joining_world() -> World {
    let w = World::clusterized().await;
    w.launched(7, &[("i-10007", "10.0.0.7")]);
    w.launching("i-10007", "10.0.0.7").await;
    w
}

#[tokio::test]
async fn a_join_report_continues_the_launch_exactly_once() {
    let mut w = joining_world().await;
    w.advance(600);
    w.report_joined("10.0.0.7").await;
    assert_eq!(w.groups.completions(), vec![continued("i-10007")]);
    let record = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(record.phase, LifecyclePhase::Completed);
    assert_eq!(record.result, Some(LifecycleResult::Continue));
    assert!(!w.groups.is_pending("i-10007"));

    // A repeated report (the script retried) makes no second call; a later error changes nothing.
    w.report_joined("10.0.0.7").await;
    w.report("error", "late failure", &hostname("10.0.0.7"))
        .await;
    assert_eq!(w.groups.completions().len(), 1);
    // The token from the event was used.
    assert!(w.groups.calls().iter().any(|c| matches!(
        c,
        weka_shared::testing::ScalingCall::CompleteLifecycle { target, .. }
            if target.token.as_deref() == Some("token-i-10007")
    )));
}

#[tokio::test]
async fn an_error_report_abandons_the_launch() {
    let mut w = joining_world().await;
    w.advance(300);
    w.report(
        "error",
        "weka installation from backend 10.0.0.1 failed",
        &hostname("10.0.0.7"),
    )
    .await;
    assert_eq!(w.groups.completions(), vec![abandoned("i-10007")]);
    let record = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(record.phase, LifecyclePhase::Completed);
    assert!(
        record.reason.unwrap().contains("installation"),
        "the reason keeps the report"
    );
    assert!(
        w.groups.group(ASG).unwrap().instances.is_empty(),
        "the ASG replaces the abandoned instance"
    );
}

/// Review M5: any caller could abandon any waiting launch by naming it in `hostname`, and
/// distinct hostnames were unbounded. With identities checked, a host reports only as itself,
/// so it answers only its own launch action.
#[tokio::test]
async fn with_identities_checked_a_host_reports_only_as_itself() {
    const SIGNED: &str = "i-0123456789abcdef0";
    let mut w = World::clusterized().await;
    w.launched(7, &[("i-10007", "10.0.0.7"), (SIGNED, "10.0.0.11")]);
    w.launching("i-10007", "10.0.0.7").await;
    w.launching(SIGNED, "10.0.0.11").await;
    let mut policy = callers();
    policy.identity = Some(
        IdentityVerifier::from_certificate(
            include_str!("../../../tests/localcloud/identity/certificate.pem"),
            "us-east-1",
        )
        .unwrap(),
    );
    let identity = json!({
        "document": include_str!("../fixtures/identity/document.json"),
        "signature": include_str!("../fixtures/identity/document.signature"),
    });
    let as_neighbour = json!({"type": "error", "message": "boom", "hostname": hostname("10.0.0.7"), "protocol": "", "identity": identity});
    let anonymous = json!({"type": "error", "message": "boom", "hostname": hostname("10.0.0.7"), "protocol": ""});
    let invented = json!({"type": "progress", "message": "x", "hostname": "host-4711", "protocol": "", "identity": identity});
    for payload in [as_neighbour, anonymous, invented] {
        let err = w.report_with(payload, policy.clone()).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput, "{err}");
    }
    assert!(w.groups.completions().is_empty());
    assert!(w.groups.is_pending("i-10007"));
    assert!(w.store.reports(Group::Backend).await.unwrap().is_empty());
    let own = json!({"type": "error", "message": "boom", "hostname": hostname("10.0.0.11"), "protocol": "", "identity": identity});
    w.report_with(own, policy).await.unwrap();
    assert_eq!(w.groups.completions(), vec![abandoned(SIGNED)]);
}

#[tokio::test]
async fn an_error_from_a_member_of_a_forming_cluster_does_not_abandon_it() {
    let mut w = World::forming(3);
    w.register("i-10001").await;
    w.launched(3, &[("i-10001", "10.0.0.1")]);
    w.launching("i-10001", "10.0.0.1").await;
    // e.g. the clusterizer's non-fatal "creating .config_fs failed"
    w.report("error", "creating .config_fs failed", &hostname("10.0.0.1"))
        .await;
    assert!(w.groups.completions().is_empty());
    assert_eq!(
        w.phase("i-10001", Transition::Launch),
        Some(LifecyclePhase::Waiting)
    );
    // A refused late arrival (not a member) is recycled, as its message asks.
    w.launched(3, &[("i-10001", "10.0.0.1"), ("i-10009", "10.0.0.9")]);
    w.launching("i-10009", "10.0.0.9").await;
    w.report(
        "error",
        "Instance i-10009 is not needed: the clusterization set of 3 instances is already complete",
        &hostname("10.0.0.9"),
    )
    .await;
    assert_eq!(w.groups.completions(), vec![abandoned("i-10009")]);
}

#[tokio::test]
async fn progress_reports_record_throttled_heartbeats() {
    let mut w = joining_world().await;
    let host = hostname("10.0.0.7");
    w.report("progress", "Downloading weka install script", &host)
        .await;
    w.advance(10);
    w.report("progress", "Weka software installation completed", &host)
        .await;
    w.report("debug", "lsblk output", &host).await;
    assert_eq!(w.groups.heartbeats(), vec!["i-10007".to_owned()]);
    w.advance(25);
    w.report("progress", "Joining new instance i-10007 started", &host)
        .await;
    assert_eq!(w.groups.heartbeats(), vec!["i-10007".to_owned(); 2]);
    let record = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(
        record.last_heartbeat_at,
        Some(now() + TimeDelta::seconds(35))
    );
    // Resource-name hostnames find the record too.
    w.advance(31);
    w.report("progress", "Found 2 NVMe devices", "i-10007.ec2.internal")
        .await;
    assert_eq!(w.groups.heartbeats().len(), 3);
    assert!(w.groups.completions().is_empty());
}

#[tokio::test]
async fn a_report_that_arrives_before_the_event_still_completes() {
    let mut w = World::clusterized().await;
    w.launched(8, &[("i-10007", "10.0.0.7"), ("i-10008", "10.0.0.8")]);
    w.pending("i-10007", Transition::Launch);
    w.pending("i-10008", Transition::Launch);
    // No record yet: progress is not a reason to look the instance up...
    w.report(
        "progress",
        "Weka containers are ready",
        &hostname("10.0.0.7"),
    )
    .await;
    assert!(w.groups.heartbeats().is_empty());
    // ... the outcome is: found in the group (by IP or instance id) and completed without a token.
    w.report_joined("10.0.0.7").await;
    w.report("error", "drive scan failed", "i-10008").await;
    assert_eq!(
        w.groups.completions(),
        vec![continued("i-10007"), abandoned("i-10008")]
    );
    // The late event does not reopen the completed action.
    w.fetch("exec-late", fixture("launch_lifecycle_action"))
        .await
        .unwrap();
    assert_eq!(
        w.phase("i-10007", Transition::Launch),
        Some(LifecyclePhase::Completed)
    );
    // An instance not waiting in the group (a gateway, or launched before the hook) is left alone.
    w.report_joined("10.0.0.99").await;
    assert_eq!(w.groups.completions().len(), 2);
}

#[tokio::test]
async fn a_reused_private_ip_answers_the_new_instance() {
    let mut w = World::clusterized().await;
    // i-10005 had 10.0.0.7 and was replaced an hour ago; its record is completed, and an older
    // instance's record with the same IP was never closed.
    for (id, phase_done) in [("i-10005", true), ("i-10004", false)] {
        w.record(
            id,
            Transition::Launch,
            "10.0.0.7",
            now() - TimeDelta::hours(2),
        )
        .await;
        if phase_done {
            w.close_joined(id, now() - TimeDelta::hours(1)).await;
        }
    }
    w.launched(7, &[("i-10007", "10.0.0.7")]);
    w.launching("i-10007", "10.0.0.7").await;
    w.report_joined("10.0.0.7").await;
    assert_eq!(w.groups.completions(), vec![continued("i-10007")]);
}

#[tokio::test]
async fn finalization_continues_every_member_of_the_formed_cluster() {
    let mut w = World::forming(3);
    let ids = ["i-10001", "i-10002", "i-10003"];
    for id in ids {
        w.register(id).await;
    }
    w.launched(
        3,
        &[
            ("i-10001", "10.0.0.1"),
            ("i-10002", "10.0.0.2"),
            ("i-10003", "10.0.0.3"),
        ],
    );
    // Two members' events were recorded, the third's not (yet); the first was launched before
    // the hook existed (nothing pending: AWS's ValidationError).
    for id in &ids[1..] {
        w.pending(id, Transition::Launch);
    }
    for id in &ids[..2] {
        w.record(id, Transition::Launch, "", now()).await;
    }
    w.advance(1200);
    w.finalize().await;
    let mut completions = w.groups.completions();
    completions.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        completions,
        vec![
            completion(
                "i-10001",
                LifecycleResult::Continue,
                LifecycleAnswer::NotPending
            ),
            continued("i-10002"),
            continued("i-10003"),
        ]
    );
    for id in ids {
        assert_eq!(
            w.phase(id, Transition::Launch),
            Some(LifecyclePhase::Completed),
            "{id}"
        );
    }
    // Finalization is idempotent: no second round of calls.
    w.finalize().await;
    assert_eq!(w.groups.completions().len(), 3);
}

/// Review H4: a backend joined WEKA but its "Join completed successfully" report was lost. The
/// scale-down after half the heartbeat timeout sees every container of the machine active and up
/// and decides CONTINUE; the terminate step completes it. Before then it is left alone (the
/// report may still come).
#[tokio::test]
async fn a_joined_backend_whose_join_report_was_lost_is_continued_not_abandoned() {
    let mut w = World::clusterized().await;
    let cb = six_healthy_backends();
    w.weka = live_weka(Arc::new(Mutex::new(cb.snap.clone())));
    w.groups.add_group(ASG, 6, six_old_instances());
    w.pending("i-10006", Transition::Launch);
    w.record("i-10006", Transition::Launch, "10.0.0.6", now())
        .await;

    w.advance(60);
    let scale = w.scale_down("exec-1", &cb.info).await;
    w.terminate_ok("exec-1", &scale).await;
    assert_eq!(
        w.phase("i-10006", Transition::Launch),
        Some(LifecyclePhase::Waiting),
        "a minute in, the report may still come"
    );

    w.advance(420);
    let scale = w.scale_down("exec-2", &cb.info).await;
    assert_eq!(
        w.phase("i-10006", Transition::Launch),
        Some(LifecyclePhase::Decided)
    );
    w.terminate_ok("exec-2", &scale).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
    let record = w.lifecycle_record("i-10006", Transition::Launch);
    assert!(record.reason.unwrap().contains("join report"));
}

/// The same while an operator paused scale-down (`skip_scale_down`): the pause holds back
/// removals, not the rescue of a member whose join report was lost.
#[tokio::test]
async fn a_lost_join_report_is_rescued_while_scale_down_is_paused() {
    let mut w = World::clusterized().await;
    let mut cb = six_healthy_backends();
    cb.snap.overrides.insert(
        "ManualOverrideId<1>".to_owned(),
        serde_json::from_value(json!({"key": "skip_scale_down", "enabled": true})).unwrap(),
    );
    w.weka = live_weka(Arc::new(Mutex::new(cb.snap.clone())));
    w.groups.add_group(ASG, 6, six_old_instances());
    w.pending("i-10006", Transition::Launch);
    w.record("i-10006", Transition::Launch, "10.0.0.6", now())
        .await;
    w.advance(480);
    let scale = w.scale_down("exec-1", &cb.info).await;
    assert!(scale.hosts.is_empty(), "paused: nothing planned");
    assert_eq!(
        w.phase("i-10006", Transition::Launch),
        Some(LifecyclePhase::Decided)
    );
}
