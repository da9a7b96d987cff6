//! Lifecycle hooks on fakes: fetch: events recorded before the lease.

use super::*;

#[tokio::test]
async fn fetch_records_a_lifecycle_event_even_when_the_lease_is_held() {
    let mut w = World::clusterized().await;
    // Auto Scaling holds i-10007 in Pending:Wait: the event is confirmed (issue 14).
    w.launched(7, &[("i-10007", "10.0.0.7")]);
    w.pending("i-10007", Transition::Launch);
    w.store
        .acquire_lease(
            SCALE_LEASE,
            &"exec-running".into(),
            w.now,
            Duration::from_secs(180),
        )
        .await
        .unwrap();
    let err = w
        .fetch("exec-event", fixture("launch_lifecycle_action"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    let record = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(record.phase, LifecyclePhase::Waiting);
    assert_eq!(
        record.token.as_deref(),
        Some("87654321-4321-4321-4321-210987654321")
    );
    assert_eq!(record.started_at, now());
    assert_eq!(record.hook, LAUNCH_HOOK);

    // Delivered twice (EventBridge is at-least-once): still one record, unchanged.
    w.advance(30);
    w.fetch("exec-event-2", fixture("launch_lifecycle_action"))
        .await
        .unwrap_err();
    assert_eq!(w.store.lifecycle_actions().await.unwrap(), vec![record]);

    // Another hook's action on our group is not ours to answer.
    let mut foreign = fixture("launch_lifecycle_action");
    foreign["detail"]["LifecycleHookName"] = json!("someone-elses-hook");
    foreign["detail"]["EC2InstanceId"] = json!("i-99999");
    w.fetch("exec-event-3", foreign).await.unwrap_err();
    assert!(w.phase("i-99999", Transition::Launch).is_none());

    // Ticks and group events record nothing and, with the lease free, fetch as before.
    w.store
        .release_lease(SCALE_LEASE, "exec-running")
        .await
        .unwrap();
    for (n, event) in [
        fixture("scheduled"),
        json!({}),
        fixture("launch_successful"),
    ]
    .into_iter()
    .enumerate()
    {
        let exec = format!("exec-tick-{n}");
        w.fetch(&exec, event).await.unwrap();
        w.store.release_lease(SCALE_LEASE, &exec).await.unwrap();
    }
    assert_eq!(w.store.lifecycle_actions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_event_lost_to_the_lease_is_processed_by_the_next_run() {
    let mut w = World::clusterized().await;
    let mut cb = six_healthy_backends();
    // i-10006 was already removed from WEKA by an earlier scale-down (the control plane's own
    // choice): only its ASG instance remains.
    let removed: Vec<_> = cb
        .snap
        .hosts
        .iter()
        .filter(|(_, h)| h.host_ip == "10.0.0.6")
        .map(|(id, _)| *id)
        .collect();
    for id in removed {
        cb.snap.hosts.remove(&id);
    }
    w.weka = live_weka(Arc::new(Mutex::new(cb.snap.clone())));
    w.groups.add_group(ASG, 6, six_old_instances());
    w.pending("i-10006", Transition::Terminate);

    // The event's execution finds a run in progress and ends in LeaseHeld...
    w.store
        .acquire_lease(
            SCALE_LEASE,
            &"exec-tick-1".into(),
            w.now,
            Duration::from_secs(180),
        )
        .await
        .unwrap();
    let err = w
        .fetch("exec-event", fixture("terminate_lifecycle_action"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict);
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Waiting)
    );

    // ... and the next run, holding the lease, answers it: nothing to deactivate, CONTINUE.
    w.store
        .release_lease(SCALE_LEASE, "exec-tick-1")
        .await
        .unwrap();
    w.advance(60);
    let scale = w.scale_down("exec-tick-2", &cb.info).await;
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Decided)
    );
    w.terminate_ok("exec-tick-2", &scale).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
    let record = w.lifecycle_record("i-10006", Transition::Terminate);
    assert_eq!(record.phase, LifecyclePhase::Completed);
    assert!(
        record.reason.unwrap().contains("nothing to deactivate"),
        "a termination the control plane chose continues at once"
    );
    // No WEKA deactivation was attempted for it.
    assert!(
        w.weka
            .calls()
            .iter()
            .all(|(m, _)| m != "cluster_deactivate_hosts")
    );
}
