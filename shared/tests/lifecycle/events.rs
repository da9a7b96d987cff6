//! Events on fakes: every automatic deactivation, termination, lifecycle decision and refusal
//! is recorded with its reason, newest first, read by `status` `{"type":"events"}`; the ring
//! is bounded. (A floor refusal, recorded once per change: `scale_handlers/plan_tests.rs`.)

use super::*;
use weka_shared::domain::events::{Event, EventKind};
use weka_shared::testing::scale_response;

async fn events(w: &mut World) -> Vec<Value> {
    let deps = status_deps(std::mem::take(&mut w.store), w.weka.clone(), w.now);
    let out = status::handle(&deps, json!({"type": "events"}), None)
        .await
        .unwrap();
    w.store = deps.store;
    out["events"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_deactivation_a_hook_decision_and_a_termination_are_recorded_with_their_reasons() {
    let mut w = World::clusterized().await;
    let mut cb = six_healthy_backends();
    cb.info.weka_backends_desired_capacity = 5;
    w.weka = live_weka(Arc::new(Mutex::new(cb.snap.clone())));
    w.groups.add_group(ASG, 6, six_old_instances());
    let scale = w.scale_down("exec-1", &cb.info).await;
    w.terminate_ok("exec-1", &scale).await;
    let recorded = events(&mut w).await;
    assert_eq!(kinds(&recorded), vec!["deactivation"], "{recorded:#?}");
    assert_eq!(recorded[0]["reason"], "scale down");
    assert!(
        recorded[0]["subject"]
            .as_str()
            .unwrap()
            .starts_with("10.0.0.")
    );

    // Terminate terminates a machine scale-down removed; newest first.
    w.advance(60);
    let five = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
    w.terminate_ok(
        "exec-2",
        &scale_response(&five, &[("i-10006", "10.0.0.6")], &[]),
    )
    .await;
    let recorded = events(&mut w).await;
    assert_eq!(kinds(&recorded), vec!["termination", "deactivation"]);
    assert_eq!(recorded[0]["subject"], "i-10006");
    assert!(!recorded[0]["reason"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn a_terminate_hook_decision_is_recorded_once() {
    let mut w = World::clusterized().await;
    let cb = six_healthy_backends();
    let snap = Arc::new(Mutex::new(cb.snap.clone()));
    w.weka = live_weka(snap.clone());
    w.groups.add_group(ASG, 6, six_old_instances());
    w.pending("i-10006", Transition::Terminate);
    w.record("i-10006", Transition::Terminate, "", now()).await;
    let scale = w.scale_down("exec-1", &cb.info).await;
    w.terminate_ok("exec-1", &scale).await;
    for host in snap.lock().unwrap().hosts.values_mut() {
        if host.host_ip == "10.0.0.6" {
            host.state = HostState::Inactive;
            host.status = weka_shared::weka::model::HostStatus::Inactive;
        }
    }
    for run in 2..4 {
        w.advance(60);
        let exec = format!("exec-{run}");
        let scale = w.scale_down(&exec, &cb.info).await;
        w.terminate_ok(&exec, &scale).await;
    }
    let recorded = events(&mut w).await;
    let lifecycle: Vec<&Value> = recorded
        .iter()
        .filter(|e| e["kind"] == "lifecycle")
        .collect();
    assert_eq!(lifecycle.len(), 1, "{recorded:#?}");
    assert_eq!(lifecycle[0]["subject"], "i-10006");
    assert!(
        lifecycle[0]["reason"]
            .as_str()
            .unwrap()
            .contains("weka deactivated the machine"),
        "{}",
        lifecycle[0]["reason"]
    );
    assert!(kinds(&recorded).contains(&"deactivation"));
}

#[tokio::test]
async fn the_ring_keeps_the_newest_events_within_its_bound() {
    let store = InMemoryStateStore::with_sizes(6, 0);
    for n in 0..12 {
        let at = now() + TimeDelta::seconds(n);
        let event = Event::new(EventKind::Claim, &format!("i-{n}"), "test", at);
        store
            .record_event(&event, 5, Duration::from_secs(60))
            .await
            .unwrap();
    }
    let kept: Vec<String> = store
        .events()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.subject)
        .collect();
    assert_eq!(kept, ["i-11", "i-10", "i-9", "i-8", "i-7"]);
}
