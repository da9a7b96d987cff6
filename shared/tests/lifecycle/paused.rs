//! An operator's pause (`domain::control::Pause`) on fakes: scale-down deactivates and removes
//! nothing of its own choosing, terminate terminates and detaches nothing, a machine Auto
//! Scaling terminates on its own is still deactivated (within the floor and the cap), `status`
//! shows the pause; once resumed, the same runs act.

use super::*;
use weka_shared::domain::control::Pause;
use weka_shared::testing::{ScalingCall, scale_response};

fn deactivated(weka: &FakeWeka, cb: &Cb) -> Vec<String> {
    let mut ips: Vec<String> = weka
        .calls()
        .iter()
        .filter(|(m, _)| m == "cluster_deactivate_hosts" || m == "cluster_remove_host")
        .filter_map(|(_, p)| {
            let first = p["host_ids"]
                .get(0)
                .or_else(|| p.get("host_id"))?
                .as_str()?
                .parse()
                .ok()?;
            Some(cb.snap.hosts[&first].host_ip.to_string())
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

fn mutations(weka: &FakeWeka) -> Vec<String> {
    weka.calls()
        .into_iter()
        .map(|(m, _)| m)
        .filter(|m| m.starts_with("cluster_") || m == "events_trigger_custom")
        .collect()
}

fn terminations(groups: &FakeScalingGroups) -> Vec<ScalingCall> {
    groups
        .calls()
        .into_iter()
        .filter(|c| {
            matches!(
                c,
                ScalingCall::Terminate { .. } | ScalingCall::Detach { .. }
            )
        })
        .collect()
}

fn pause() -> Pause {
    Pause::new("arn:aws:iam::111122223333:user/ops", "disk swap", now())
}

#[tokio::test]
async fn a_paused_scale_down_deactivates_nothing_until_resumed() {
    let mut w = World::clusterized().await;
    let mut cb = six_healthy_backends();
    cb.info.weka_backends_desired_capacity = 5;
    w.weka = live_weka(Arc::new(Mutex::new(cb.snap.clone())));
    w.store.pause(&pause()).await.unwrap();

    let out = w.scale_down("exec-1", &cb.info).await;
    assert!(mutations(&w.weka).is_empty(), "{:?}", w.weka.calls());
    assert_eq!(out, empty_scale(), "a skip like the others");
    let note = w.store.note("scale-down").await.unwrap().unwrap();
    let skipped = note["skipped"].as_str().unwrap();
    assert!(
        skipped.contains("paused by arn:aws:iam::111122223333:user/ops")
            && skipped.contains("disk swap"),
        "{skipped}"
    );
    let status = w.status().await;
    assert_eq!(
        status["paused"],
        json!({"paused_by": "arn:aws:iam::111122223333:user/ops", "reason": "disk swap",
               "since": "2026-11-10T00:00:00.000Z"})
    );
    w.terminate_ok("exec-1", &out).await;

    assert_eq!(w.store.resume().await.unwrap(), Some(pause()));
    assert_eq!(
        w.store.resume().await.unwrap(),
        None,
        "resuming twice is harmless"
    );
    w.advance(60);
    let out = w.scale_down("exec-2", &cb.info).await;
    assert_eq!(deactivated(&w.weka, &cb).len(), 1, "resumed, it acts");
    assert!(!out.hosts.is_empty());
    assert!(w.status().await.get("paused").is_none());
}

#[tokio::test]
async fn a_paused_terminate_terminates_nothing_and_names_it_again_once_resumed() {
    let mut w = World::clusterized().await;
    w.groups.add_group(ASG, 5, six_old_instances());
    // Scale-down removed 10.0.0.6 from WEKA just before the operator paused.
    let five = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
    let scale = scale_response(&five, &[("i-10006", "10.0.0.6")], &[]);
    w.store.pause(&pause()).await.unwrap();
    w.terminate_ok("exec-1", &scale).await;
    assert!(terminations(&w.groups).is_empty(), "{:?}", w.groups.calls());
    assert!(
        lease_free(&w.store).await,
        "the lease is released all the same"
    );

    w.store.resume().await.unwrap();
    w.advance(60);
    w.terminate_ok("exec-2", &scale_response(&five, &[], &[]))
        .await;
    assert_eq!(
        terminations(&w.groups),
        vec![ScalingCall::Terminate {
            ids: vec!["i-10006".to_owned()]
        }],
        "the pending termination is named again"
    );
}

#[tokio::test]
async fn a_paused_terminate_detaches_no_unhealthy_instance() {
    let mut w = World::clusterized().await;
    w.groups.add_group(ASG, 6, six_old_instances());
    w.groups.update(ASG, "i-10003", |i| {
        i.instance.health = weka_shared::domain::terminate::AsgHealth::Unhealthy;
        i.instance.protected_from_scale_in = false;
    });
    let six = [
        "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6",
    ];
    w.store.pause(&pause()).await.unwrap();
    w.terminate_ok("exec-1", &scale_response(&six, &[], &[]))
        .await;
    assert!(terminations(&w.groups).is_empty(), "{:?}", w.groups.calls());
    w.store.resume().await.unwrap();
    w.advance(60);
    w.terminate_ok("exec-2", &scale_response(&six, &[], &[]))
        .await;
    assert!(
        terminations(&w.groups).iter().any(
            |c| matches!(c, ScalingCall::Detach { ids, .. } if ids == &["i-10003".to_owned()])
        ),
        "{:?}",
        w.groups.calls()
    );
}

/// The terminate hook while paused: Auto Scaling terminates the instance whatever we answer
/// (at the hook's deadline at the latest), so its machine is deactivated first, within the
/// floor and the cap; nothing of the control plane's own choosing is.
#[tokio::test]
async fn while_paused_a_machine_auto_scaling_terminates_is_still_deactivated() {
    let mut w = World::clusterized().await;
    let mut cb = six_healthy_backends();
    // Not paused, desired 4 would deactivate a second machine besides the leaving one.
    cb.info.weka_backends_desired_capacity = 4;
    let snap = Arc::new(Mutex::new(cb.snap.clone()));
    w.weka = live_weka(snap.clone());
    w.groups.add_group(ASG, 6, six_old_instances());
    w.pending("i-10006", Transition::Terminate);
    w.record("i-10006", Transition::Terminate, "", now()).await;
    w.store.pause(&pause()).await.unwrap();

    let out = w.scale_down("exec-1", &cb.info).await;
    assert_eq!(deactivated(&w.weka, &cb), vec!["10.0.0.6".to_owned()]);
    assert!(
        out.hosts.is_empty() && out.to_terminate.is_empty(),
        "{out:?}"
    );
    assert!(
        out.held_back
            .iter()
            .any(|h| h.instance_id == "i-10006" && h.reason.contains("deactivating")),
        "its hook is kept alive while WEKA works: {out:?}"
    );
    w.terminate_ok("exec-1", &out).await;
    assert!(terminations(&w.groups).is_empty());

    // WEKA is done: the hook is continued (Auto Scaling's own termination), still paused.
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
    let out = w.scale_down("exec-2", &cb.info).await;
    w.terminate_ok("exec-2", &out).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
    assert!(terminations(&w.groups).is_empty());
    assert_eq!(
        deactivated(&w.weka, &cb),
        vec!["10.0.0.6".to_owned()],
        "no other machine while paused"
    );
}

async fn lease_free(store: &InMemoryStateStore) -> bool {
    use weka_shared::ports::LeaseOutcome;
    match store
        .acquire_lease(SCALE_LEASE, &"probe".into(), now(), Duration::from_secs(1))
        .await
        .unwrap()
    {
        LeaseOutcome::Held(_) => false,
        LeaseOutcome::Acquired(_) => {
            store.release_lease(SCALE_LEASE, "probe").await.unwrap();
            true
        }
    }
}
