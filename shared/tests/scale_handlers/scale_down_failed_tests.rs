//! `terminate` after a failed scale-down (issue 15 item 4, review M3): the state machine hands
//! it no scale answer, only the failure. It detaches unhealthy instances and runs the lifecycle
//! pass, terminates nothing that needs WEKA's view, and leaves the failure for `status`.

use super::*;
use weka_shared::domain::notes::{Note as _, SCALE_DOWN_FAILURE_NOTE, ScaleDownFailureNote};

/// Terminate's input as the state machine's `ScaleDownFailed` Pass state builds it; `extra`
/// fields are merged in (a crafted input naming machines to terminate).
fn failed_scale_down_input(extra: &Value) -> Value {
    let mut input = json!({
        "hosts": [], "to_terminate": [], "TransientErrors": null, "version": 1,
        "scale_down_failure": {
            "Error": "Weka.InvalidInput",
            "Cause": "{\"errorType\":\"Weka.InvalidInput\",\"errorMessage\":\"unsafe delta: 3 machines would go\"}"
        }
    });
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    json!({"execution": "exec-failed", "input": input})
}

fn old() -> DateTime<Utc> {
    now() - TimeDelta::days(2)
}

/// i-ok (healthy, not in any WEKA answer), i-sick (unhealthy, unprotected: detach), i-stopped
/// (unhealthy, protected, stopped: WEKA's view decides) and i-listed (healthy, old).
fn groups() -> FakeScalingGroups {
    let groups = FakeScalingGroups::default();
    let mut sick = group_instance("i-sick", "10.0.0.2", old());
    sick.instance.health = AsgHealth::Unhealthy;
    sick.instance.protected_from_scale_in = false;
    let mut stopped = group_instance("i-stopped", "10.0.0.3", old());
    stopped.instance.health = AsgHealth::Unhealthy;
    stopped.instance.ec2_state = Some(Ec2State::Stopped);
    groups.add_group(
        ASG,
        4,
        vec![
            group_instance("i-ok", "10.0.0.1", old()),
            sick,
            stopped,
            group_instance("i-listed", "10.0.0.4", old()),
        ],
    );
    groups
}

#[tokio::test]
async fn terminate_after_a_failed_scale_down_detaches_but_terminates_nothing() {
    let deps = terminate::Deps {
        groups: groups(),
        store: clusterized_store().await,
        clock: FakeClock::at(now()),
        config: terminate_config(
            ASG,
            None,
            TerminatePolicy::default(),
            LifecycleConfig::disabled(),
        ),
    };
    // Even an input that names machines to terminate beside the failure terminates none.
    let payload = failed_scale_down_input(&json!({
        "to_terminate": [{"Id": "i-listed", "PrivateIp": "10.0.0.4"}],
        "hosts": [{"instance_id": "i-ok", "private_ip": "10.0.0.1", "status": "ACTIVE",
                   "added_time": "2026-01-01T00:00:00Z", "host_id": "HostId<0>"}],
    }));
    let out = terminate::handle(&deps, payload, invocation(now()))
        .await
        .unwrap();
    assert!(out.set_to_terminate_instances.is_empty(), "{out:?}");
    assert_eq!(
        deps.groups.calls(),
        vec![ScalingCall::Detach {
            group: ASG.to_owned(),
            ids: vec!["i-sick".to_owned()]
        }],
        "only the unhealthy unprotected instance is detached"
    );
    // The failure travels on, for the state machine's choice and the run's errors.
    let out = serde_json::to_value(&out).unwrap();
    assert_eq!(out["scale_down_failure"]["Error"], "Weka.InvalidInput");
    let errors = out["TransientErrors"].to_string();
    assert!(errors.contains("scale-down failed"), "{errors}");
    assert!(errors.contains("unsafe delta"), "{errors}");
    // And it is noted for status.
    let note = deps
        .store
        .note(SCALE_DOWN_FAILURE_NOTE)
        .await
        .unwrap()
        .unwrap();
    let note = ScaleDownFailureNote::from_value(note).unwrap();
    assert_eq!(note.error, "Weka.InvalidInput");
    assert_eq!(note.message, "unsafe delta: 3 machines would go");
    assert_eq!(note.at, now());
    assert_eq!(note.execution, "exec-failed");
    assert_eq!(lease_holder(&deps.store).await, None, "lease released");
}

#[tokio::test]
async fn a_scale_answer_without_a_failure_is_terminated_as_before() {
    // The same groups with a real scale answer: the listed and stopped machines go.
    let deps = terminate::Deps {
        groups: groups(),
        store: clusterized_store().await,
        clock: FakeClock::at(now()),
        config: terminate_config(
            ASG,
            None,
            TerminatePolicy::default(),
            LifecycleConfig::disabled(),
        ),
    };
    let scale = scale_response(&["10.0.0.1"], &[("i-listed", "10.0.0.4")], &[]);
    let out = terminate::handle(
        &deps,
        json!({"execution": "exec-ok", "input": scale}),
        invocation(now()),
    )
    .await
    .unwrap();
    let mut ids: Vec<&str> = out
        .set_to_terminate_instances
        .iter()
        .map(|t| t.instance_id.as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["i-listed", "i-stopped"]);
    assert!(out.scale_down_failure.is_none());
    assert!(
        serde_json::to_value(&out)
            .unwrap()
            .get("scale_down_failure")
            .is_none(),
        "the reference's output shape is kept"
    );
    assert_eq!(
        deps.store.note(SCALE_DOWN_FAILURE_NOTE).await.unwrap(),
        None
    );
}
