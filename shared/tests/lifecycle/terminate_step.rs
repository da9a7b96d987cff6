//! Lifecycle hooks on fakes: terminate step: completion, deadlines, reconcile.

use super::*;

#[tokio::test]
async fn completing_an_action_that_is_no_longer_pending_is_not_an_error() {
    let mut w = World::clusterized().await;
    w.launched(6, &[("i-10007", "10.0.0.7")]);
    w.launching("i-10007", "10.0.0.7").await;
    // Decided, but the completion call failed (AWS hiccup): the record stays decided.
    w.groups.fail("complete_lifecycle_action", "i-10007");
    w.report_joined("10.0.0.7").await;
    assert_eq!(
        w.phase("i-10007", Transition::Launch),
        Some(LifecyclePhase::Decided)
    );
    // Meanwhile AWS completed it anyway (say an operator did): the next run's completion gets
    // "No active Lifecycle Action found" and closes the record without an error.
    let groups = FakeScalingGroups::default();
    groups.add_group(ASG, 6, vec![group_instance("i-10007", "10.0.0.7", now())]);
    groups.update(ASG, "i-10007", |i| {
        i.instance.lifecycle =
            weka_shared::domain::terminate::Lifecycle::Other("Pending:Wait".to_owned());
    });
    w.groups = groups;
    w.advance(60);
    w.terminate_ok("exec-1", &empty_scale()).await;
    assert_eq!(
        w.groups.completions(),
        vec![completion(
            "i-10007",
            LifecycleResult::Continue,
            LifecycleAnswer::NotPending
        )]
    );
    let record = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(record.phase, LifecyclePhase::Completed);
    assert!(record.reason.unwrap().contains("no longer pending"));
}

#[tokio::test]
async fn terminate_abandons_silent_launches_and_keeps_forming_members_alive() {
    let mut w = World::forming(3);
    w.register("i-10001").await;
    w.launched(
        3,
        &[
            ("i-10001", "10.0.0.1"),
            ("i-10002", "10.0.0.2"),
            ("i-10003", "10.0.0.3"),
        ],
    );
    for id in ["i-10001", "i-10002"] {
        w.pending(id, Transition::Launch);
        w.record(id, Transition::Launch, "", now()).await;
    }
    // i-10003 went InService some other way: its record is closed, no call made.
    w.record("i-10003", Transition::Launch, "", now()).await;

    // Ten minutes in: the registered member waits for the others and is kept alive.
    w.advance(600);
    w.terminate_ok("exec-1", &empty_scale()).await;
    assert_eq!(w.groups.heartbeats(), vec!["i-10001".to_owned()]);
    assert!(w.groups.completions().is_empty());
    assert_eq!(
        w.phase("i-10003", Transition::Launch),
        Some(LifecyclePhase::Completed)
    );

    // Fifteen minutes without progress: the silent instance is abandoned (AWS's default result
    // would do the same; the record says why), the member lives on.
    w.advance(300);
    w.terminate_ok("exec-2", &empty_scale()).await;
    assert_eq!(w.groups.completions(), vec![abandoned("i-10002")]);
    assert_eq!(w.groups.heartbeats().len(), 2);
    let record = w.lifecycle_record("i-10002", Transition::Launch);
    assert!(record.reason.unwrap().contains("no progress for 900 s"));
}

#[tokio::test]
async fn terminate_records_wait_states_whose_events_were_lost() {
    let mut w = World::clusterized().await;
    w.groups.add_group(
        ASG,
        7,
        vec![
            group_instance("i-10006", "10.0.0.6", now() - TimeDelta::days(2)),
            group_instance("i-10007", "10.0.0.7", now()),
        ],
    );
    w.pending("i-10007", Transition::Launch);
    w.pending("i-10006", Transition::Terminate);
    w.terminate_ok("exec-1", &empty_scale()).await;
    let launch = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(launch.phase, LifecyclePhase::Waiting);
    assert_eq!(launch.private_ip.as_deref(), Some("10.0.0.7"));
    assert_eq!(launch.token, None);
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Waiting)
    );
}

/// Security review H4: finalization set the group clusterized and then died before deciding its
/// members' launch actions (a lost call). The next terminate pass continues them; none is left
/// to be abandoned at its heartbeat timeout.
#[tokio::test]
async fn members_of_the_formed_cluster_are_continued_when_finalization_lost_its_decisions() {
    let mut w = World::forming(3);
    let members = [
        ("i-10001", "10.0.0.1"),
        ("i-10002", "10.0.0.2"),
        ("i-10003", "10.0.0.3"),
    ];
    w.launched(3, &members);
    for (id, ip) in members {
        w.register(id).await;
        w.pending(id, Transition::Launch);
        w.record(id, Transition::Launch, ip, now()).await;
    }
    w.store.finalize(Group::Backend, now()).await.unwrap();
    w.advance(60);
    w.terminate_ok("exec-1", &empty_scale()).await;
    let mut completions = w.groups.completions();
    completions.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    assert_eq!(
        completions,
        vec![
            continued("i-10001"),
            continued("i-10002"),
            continued("i-10003")
        ]
    );
    for (id, _) in members {
        assert_eq!(
            w.phase(id, Transition::Launch),
            Some(LifecyclePhase::Completed)
        );
    }
}
