//! Lifecycle hooks on fakes: terminate hook: deactivate first, never past the deadline.

use super::*;

/// Six healthy backends; the ASG terminates i-10006 on its own (terminate hook pending).
async fn terminating_world() -> (World, Cb, Arc<Mutex<ClusterSnapshot>>) {
    let mut w = World::clusterized().await;
    let cb = six_healthy_backends();
    let snap = Arc::new(Mutex::new(cb.snap.clone()));
    w.weka = live_weka(snap.clone());
    w.groups.add_group(ASG, 6, six_old_instances());
    w.pending("i-10006", Transition::Terminate);
    w.record("i-10006", Transition::Terminate, "", now()).await;
    (w, cb, snap)
}

fn deactivated(weka: &FakeWeka, cb: &Cb) -> Vec<String> {
    let mut ips: Vec<String> = weka
        .calls()
        .iter()
        .filter(|(m, _)| m == "cluster_deactivate_hosts")
        .map(|(_, p)| {
            let first = p["host_ids"][0].as_str().unwrap().parse().unwrap();
            cb.snap.hosts[&first].host_ip.clone()
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

#[tokio::test]
async fn the_terminate_hook_deactivates_the_machine_then_continues() {
    let (mut w, cb, snap) = terminating_world().await;

    // Run 1: the machine is deactivated; nobody else is (it does not count against desired).
    let scale = w.scale_down("exec-1", &cb.info).await;
    assert_eq!(deactivated(&w.weka, &cb), vec!["10.0.0.6".to_owned()]);
    assert!(
        w.weka
            .calls()
            .iter()
            .any(|(m, p)| m == "events_trigger_custom"
                && p.to_string().contains("auto scaling termination")),
        "the WEKA event names the reason"
    );
    w.terminate_ok("exec-1", &scale).await;
    assert!(w.groups.completions().is_empty(), "held while deactivating");
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Waiting)
    );

    // Run 2, a minute later: WEKA finished; the action is continued in the same run.
    {
        let mut snap = snap.lock().unwrap();
        for host in snap.hosts.values_mut() {
            if host.host_ip == "10.0.0.6" {
                host.state = HostState::Inactive;
                host.status = weka_shared::weka::model::HostStatus::Inactive;
            }
        }
    }
    w.advance(60);
    let scale = w.scale_down("exec-2", &cb.info).await;
    w.terminate_ok("exec-2", &scale).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
    let record = w.lifecycle_record("i-10006", Transition::Terminate);
    assert_eq!(record.phase, LifecyclePhase::Completed);
    assert_eq!(
        record.reason.as_deref(),
        Some("weka deactivated the machine")
    );
}

#[tokio::test]
async fn the_terminate_hook_deadline_continues_without_waiting_for_weka() {
    let (mut w, cb, _snap) = terminating_world().await;
    // 900 s timeout, 120 s margin: at 780 s the instance is let go, deactivated or not.
    w.advance(779);
    let scale = w.scale_down("exec-1", &cb.info).await;
    w.terminate("exec-1", &scale).await;
    assert!(w.groups.completions().is_empty());
    w.advance(1);
    let scale = w.scale_down("exec-2", &cb.info).await;
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Decided)
    );
    w.terminate("exec-2", &scale).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
    let reason = w
        .lifecycle_record("i-10006", Transition::Terminate)
        .reason
        .unwrap();
    assert!(
        reason.contains("deadline") && reason.contains("still active"),
        "{reason}"
    );
}

#[tokio::test]
async fn the_deadline_holds_even_when_scale_down_cannot_decide() {
    // WEKA unreachable or scale-down skipped: terminate alone lets the instance go in time.
    let (mut w, _cb, _snap) = terminating_world().await;
    w.advance(780);
    w.terminate_ok("exec-1", &empty_scale()).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
}

#[tokio::test]
async fn a_recorded_ip_never_deactivates_the_machine_that_reused_it() {
    let (mut w, mut cb, _snap) = terminating_world().await;
    // i-10006 already left the group (the fetch no longer lists it) and a new backend holds
    // 10.0.0.6 now; the stale record still carries the old IP.
    w.record("i-10006", Transition::Terminate, "10.0.0.6", now())
        .await;
    cb.info.weka_backend_instances.retain(|i| i.id != "i-10006");
    cb.info
        .weka_backend_instances
        .push(weka_shared::wire::scale::InstanceRef {
            id: "i-20006".to_owned(),
            private_ip: "10.0.0.6".to_owned(),
        });
    w.scale_down("exec-1", &cb.info).await;
    assert!(deactivated(&w.weka, &cb).is_empty(), "{:?}", w.weka.calls());
    let record = w.lifecycle_record("i-10006", Transition::Terminate);
    assert_eq!(record.phase, LifecyclePhase::Decided);
    assert!(record.reason.unwrap().contains("no longer in the group"));
}

#[tokio::test]
async fn before_clusterization_a_termination_continues_at_once() {
    let mut w = World::forming(6);
    w.record("i-10006", Transition::Terminate, "10.0.0.6", now())
        .await;
    w.launched(6, &[("i-10006", "10.0.0.6")]);
    w.pending("i-10006", Transition::Terminate);
    let scale = w.scale_down("exec-1", &Cb::new(6).info).await;
    w.terminate("exec-1", &scale).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
}
