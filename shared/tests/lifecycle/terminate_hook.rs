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

/// WEKA finished deactivating the machine at `ip`.
fn set_inactive(snap: &Mutex<ClusterSnapshot>, ip: &str) {
    let mut snap = snap.lock().unwrap();
    for host in snap.hosts.values_mut() {
        if host.host_ip == ip {
            host.state = HostState::Inactive;
            host.status = weka_shared::weka::model::HostStatus::Inactive;
        }
    }
}

fn deactivated(weka: &FakeWeka, cb: &Cb) -> Vec<String> {
    let mut ips: Vec<String> = weka
        .calls()
        .iter()
        .filter(|(m, _)| m == "cluster_deactivate_hosts")
        .map(|(_, p)| {
            let first = p["host_ids"][0].as_str().unwrap().parse().unwrap();
            cb.snap.hosts[&first].host_ip.to_string()
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
    set_inactive(&snap, "10.0.0.6");
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

/// Issue 15 item 5: while WEKA is still deactivating the machine, its hook is heartbeated past
/// the first deadline (900 s timeout, 120 s margin: 780 s), and the action is continued as soon
/// as WEKA is done, not before.
#[tokio::test]
async fn a_slow_deactivation_keeps_the_hook_alive_until_weka_is_done() {
    let (mut w, cb, snap) = terminating_world().await;
    for run in 0..40 {
        let exec = format!("exec-{run}");
        let scale = w.scale_down(&exec, &cb.info).await;
        assert!(
            scale
                .held_back
                .iter()
                .any(|h| h.instance_id == "i-10006" && h.reason.contains("deactivating")),
            "run {run}: {scale:?}"
        );
        w.terminate_ok(&exec, &scale).await;
        w.advance(60);
    }
    assert!(w.groups.completions().is_empty(), "kept while deactivating");
    assert!(
        w.groups
            .heartbeats()
            .iter()
            .filter(|b| *b == "i-10006")
            .count()
            >= 5
    );
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Waiting)
    );
    set_inactive(&snap, "10.0.0.6");
    let scale = w.scale_down("exec-done", &cb.info).await;
    w.terminate_ok("exec-done", &scale).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
    assert_eq!(
        w.lifecycle_record("i-10006", Transition::Terminate)
            .reason
            .as_deref(),
        Some("weka deactivated the machine")
    );
}

/// The bound of that wait is Auto Scaling's own: the hook's global timeout (100 heartbeat
/// timeouts, at most 48 h) minus the margin; past it the instance is let go, deactivated or not.
#[tokio::test]
async fn a_deactivation_that_never_ends_is_let_go_at_the_global_timeout() {
    let (mut w, cb, _snap) = terminating_world().await;
    let global = 100 * 900;
    let mut at = 0;
    while w.groups.completions().is_empty() {
        let exec = format!("exec-{at}");
        let scale = w.scale_down(&exec, &cb.info).await;
        w.terminate_ok(&exec, &scale).await;
        assert!(at <= global, "still waiting past the global timeout");
        w.advance(300);
        at += 300;
    }
    assert!(at >= global - 120 - 300, "let go early, at {at} s");
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
