//! Lifecycle hooks on fakes: a failed scale-down (issue 15 item 4, review M3). Terminate still
//! runs the lifecycle pass and the unhealthy detaches on the failure the state machine caught,
//! and `status` shows that failure.

use super::*;
use weka_shared::domain::terminate::AsgHealth;
use weka_shared::testing::ScalingCall;

/// Terminate's input as the state machine's `ScaleDownFailed` Pass state builds it.
fn failed_scale_down(execution: &str) -> Value {
    json!({"execution": execution, "input": {
        "hosts": [], "to_terminate": [], "TransientErrors": null, "version": 1,
        "scale_down_failure": {
            "Error": "Weka.Transient",
            "Cause": "{\"errorType\":\"Weka.Transient\",\"errorMessage\":\"weka api unreachable on every backend\"}"
        }
    }})
}

#[tokio::test]
async fn a_failed_scale_down_still_reconciles_the_hooks_and_detaches_and_status_shows_it() {
    let mut w = World::clusterized().await;
    let mut sick = group_instance("i-sick", "10.0.0.2", now() - TimeDelta::days(2));
    sick.instance.health = AsgHealth::Unhealthy;
    sick.instance.protected_from_scale_in = false;
    w.groups.add_group(
        ASG,
        7,
        vec![
            sick,
            group_instance("i-10006", "10.0.0.6", now() - TimeDelta::days(2)),
            group_instance("i-10007", "10.0.0.7", now()),
        ],
    );
    // A launch that never reported, and a termination whose event was lost.
    w.launching("i-10007", "10.0.0.7").await;
    w.pending("i-10006", Transition::Terminate);
    w.advance(901);

    let out = w.terminate_with(failed_scale_down("exec-f")).await;
    assert!(out.set_to_terminate_instances.is_empty());
    // The silent launch is abandoned past its heartbeat timeout, the lost termination recorded,
    // the unhealthy instance detached; nothing terminated.
    assert_eq!(w.groups.completions(), vec![abandoned("i-10007")]);
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Waiting)
    );
    let calls = w.groups.calls();
    assert!(
        calls.contains(&ScalingCall::Detach {
            group: ASG.to_owned(),
            ids: vec!["i-sick".to_owned()]
        }),
        "{calls:?}"
    );
    assert!(
        !calls
            .iter()
            .any(|c| matches!(c, ScalingCall::Terminate { .. })),
        "{calls:?}"
    );

    let shown = w.status().await;
    assert_eq!(
        shown["scale_down_failure"],
        json!({"error": "Weka.Transient", "message": "weka api unreachable on every backend",
               "at": "2026-11-10T00:15:01.000Z", "execution": "exec-f", "latest": true}),
        "{shown}"
    );
}

/// Review (terminate): a member held back by the safety floor has its terminate hook kept alive
/// by terminate's heartbeats. When scale-down then fails run after run (WEKA unreachable), no run
/// names it held: the heartbeats must not stop, or Auto Scaling's heartbeat timeout lets the
/// member go with its hook's default result, never deactivated. Every waiting termination is
/// kept alive while scale-down gives no answer, until the hook's deadline.
#[tokio::test]
async fn a_held_termination_is_kept_alive_while_scale_down_keeps_failing() {
    let mut w = World::clusterized().await;
    w.groups.add_group(
        ASG,
        6,
        vec![group_instance(
            "i-10006",
            "10.0.0.6",
            now() - TimeDelta::days(2),
        )],
    );
    w.pending("i-10006", Transition::Terminate);
    w.record("i-10006", Transition::Terminate, "10.0.0.6", w.now)
        .await;
    for run in 0..3 {
        w.advance(600);
        w.terminate_with(failed_scale_down("exec-f")).await;
        assert_eq!(
            w.groups.heartbeats().len(),
            run + 1,
            "run {run}: the waiting termination is heartbeated"
        );
    }
    assert!(w.groups.completions().is_empty());
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Waiting)
    );
}
