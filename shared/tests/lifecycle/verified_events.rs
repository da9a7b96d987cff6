//! Lifecycle hooks on fakes (issue 14, item 3; review C1): an event is acted on only once Auto
//! Scaling confirms the wait state, and a machine leaving through the terminate hook is held to
//! the safety floor and the in-flight cap, its hook kept alive and `status` saying why.

use super::*;

/// `n` healthy backends at 10.0.0.1..=n (instances `i-1000n`), WEKA's floor 3 + 2 + 1 = 6, the
/// ASG at `desired` holding them all InService.
async fn cluster_of(n: u32, desired: u32) -> (World, Cb, Arc<Mutex<ClusterSnapshot>>) {
    let mut w = World::clusterized().await;
    let mut cb = Cb::new(i64::from(desired));
    for i in 1..=n {
        cb.machine(&format!("10.0.0.{i}"), M::Healthy, Asg::Backend);
    }
    cb.info.backend_ips = (1..=n).map(|i| format!("10.0.0.{i}")).collect();
    cb.snap.status.stripe_data_drives = 3;
    cb.snap.status.stripe_protection_drives = 2;
    cb.snap.status.hot_spare = 1;
    let snap = Arc::new(Mutex::new(cb.snap.clone()));
    w.weka = live_weka(snap.clone());
    let instances = (1..=n)
        .map(|i| {
            group_instance(
                &format!("i-1000{i}"),
                &format!("10.0.0.{i}"),
                now() - TimeDelta::days(3),
            )
        })
        .collect();
    w.groups.add_group(ASG, desired, instances);
    (w, cb, snap)
}

/// The machines WEKA was asked to deactivate (by their IP), sorted.
fn deactivated(weka: &FakeWeka, cb: &Cb) -> Vec<String> {
    let mut ips: Vec<String> = weka
        .calls()
        .iter()
        .filter(|(m, _)| m == "cluster_deactivate_hosts" || m == "cluster_deactivate_drives")
        .filter_map(|(m, p)| {
            if m == "cluster_deactivate_hosts" {
                let first = p["host_ids"][0].as_str()?.parse().ok()?;
                Some(cb.snap.hosts[&first].host_ip.to_string())
            } else {
                let uuid = p["drive_uuids"][0].as_str()?;
                let drive = cb.snap.drives.values().find(|d| d.uuid == uuid)?;
                Some(cb.snap.hosts[&drive.host_id].host_ip.to_string())
            }
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

/// What `status` says about `id`'s wait.
fn waiting_entry(status: &Value, id: &str) -> Value {
    status["lifecycle_waiting"]
        .as_array()
        .and_then(|list| list.iter().find(|e| e["instance_id"] == id))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Review C1: a terminate action recorded for an instance Auto Scaling shows `InService` (a
/// forged or stale event) never deactivates, removes or terminates anything; the record is
/// closed by the terminate step's pass.
#[tokio::test]
async fn a_recorded_terminate_event_for_an_in_service_instance_is_never_acted_on() {
    let (mut w, cb, _snap) = cluster_of(6, 6).await;
    w.record("i-10006", Transition::Terminate, "10.0.0.6", now())
        .await;
    for run in 1..=3 {
        let exec = format!("exec-{run}");
        let scale = w.scale_down(&exec, &cb.info).await;
        assert!(scale.to_terminate.is_empty(), "{scale:?}");
        w.terminate(&exec, &scale).await;
        w.advance(60);
    }
    assert_eq!(deactivated(&w.weka, &cb), Vec::<String>::new());
    assert!(
        w.weka
            .calls()
            .iter()
            .all(|(m, _)| !m.starts_with("cluster_deactivate") && m != "cluster_remove_host"),
        "{:?}",
        w.weka.calls()
    );
    assert!(
        w.groups
            .calls()
            .iter()
            .all(|c| !matches!(c, weka_shared::testing::ScalingCall::Terminate { .. })),
        "{:?}",
        w.groups.calls()
    );
    let record = w.lifecycle_record("i-10006", Transition::Terminate);
    assert_eq!(record.phase, LifecyclePhase::Completed, "{record:?}");
    assert_eq!(record.result, None, "closed, never decided: {record:?}");
    assert!(
        record
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("InService"),
        "{record:?}"
    );
}

/// `scale-fetch` records an event only when the group shows the instance in that wait state.
#[tokio::test]
async fn scale_fetch_records_only_what_auto_scaling_confirms() {
    let (mut w, _cb, _snap) = cluster_of(6, 6).await;
    // The fixture names i-10006; the group shows it InService: not recorded.
    w.fetch("exec-1", fixture("terminate_lifecycle_action"))
        .await
        .unwrap();
    w.store.release_lease(SCALE_LEASE, "exec-1").await.unwrap();
    assert!(w.store.lifecycle_actions().await.unwrap().is_empty());

    // In Terminating:Wait under our hook: recorded, as before.
    w.pending("i-10006", Transition::Terminate);
    w.fetch("exec-2", fixture("terminate_lifecycle_action"))
        .await
        .unwrap();
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Waiting)
    );
}

/// The review's reproduction: two terminate-hook actions at the floor of 6. Neither machine is
/// deactivated, both hooks are heartbeated past the first deadline, and `status` names both as
/// held back by the floor. Once replacements joined, they leave.
#[tokio::test]
async fn two_terminate_hook_events_at_the_floor_leave_the_floor_intact() {
    let (mut w, mut cb, snap) = cluster_of(6, 6).await;
    for id in ["i-10005", "i-10006"] {
        w.pending(id, Transition::Terminate);
        w.record(id, Transition::Terminate, "", now()).await;
    }
    // A run a minute for 15 minutes: past the hook's first deadline (780 s).
    for run in 0..15 {
        let exec = format!("exec-{run}");
        let scale = w.scale_down(&exec, &cb.info).await;
        w.terminate_ok(&exec, &scale).await;
        w.advance(60);
    }
    assert_eq!(deactivated(&w.weka, &cb), Vec::<String>::new());
    assert!(w.groups.completions().is_empty(), "held, not let go");
    let beats = w.groups.heartbeats();
    for id in ["i-10005", "i-10006"] {
        assert!(beats.iter().filter(|b| *b == id).count() >= 14, "{beats:?}");
    }
    let shown = w.status().await;
    for id in ["i-10005", "i-10006"] {
        let entry = waiting_entry(&shown, id);
        let held = entry["held_back"].as_str().unwrap_or_default();
        assert!(held.contains("floor"), "{id}: {shown}");
    }

    // Two replacements join WEKA: the floor holds with both gone, and both are deactivated.
    for n in [7, 8] {
        cb.machine(&format!("10.0.0.{n}"), M::Healthy, Asg::Backend);
        cb.info.backend_ips.push(format!("10.0.0.{n}"));
    }
    *snap.lock().unwrap() = cb.snap.clone();
    let scale = w.scale_down("exec-joined", &cb.info).await;
    w.terminate_ok("exec-joined", &scale).await;
    assert_eq!(
        deactivated(&w.weka, &cb),
        vec!["10.0.0.5".to_owned(), "10.0.0.6".to_owned()]
    );
    let shown = w.status().await;
    assert!(
        waiting_entry(&shown, "i-10006").get("held_back").is_none(),
        "{shown}"
    );
}

/// Three terminate-hook actions well above the floor: two are deactivated (the cap), the third
/// is held back and named by `status`; all three hooks are heartbeated.
#[tokio::test]
async fn the_in_flight_cap_bounds_hook_leaving_deactivations() {
    let (mut w, cb, _snap) = cluster_of(9, 9).await;
    for id in ["i-10007", "i-10008", "i-10009"] {
        w.pending(id, Transition::Terminate);
        w.record(id, Transition::Terminate, "", now()).await;
    }
    let scale = w.scale_down("exec-1", &cb.info).await;
    w.terminate_ok("exec-1", &scale).await;
    assert_eq!(
        deactivated(&w.weka, &cb),
        vec!["10.0.0.7".to_owned(), "10.0.0.8".to_owned()]
    );
    // The two being deactivated are kept alive while WEKA works, the third while it waits.
    assert_eq!(w.groups.heartbeats(), ["i-10007", "i-10008", "i-10009"]);
    let shown = w.status().await;
    let held = waiting_entry(&shown, "i-10009");
    assert!(
        held["held_back"]
            .as_str()
            .unwrap_or_default()
            .contains("in flight"),
        "{shown}"
    );
    assert!(waiting_entry(&shown, "i-10007").get("held_back").is_none());
}
