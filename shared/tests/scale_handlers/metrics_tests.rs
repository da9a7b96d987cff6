//! The metrics a scale run emits: one valid EMF line per step, captured through the writer
//! port (`RecordedMetrics`), with the run's values.

use super::scale_down_tests::{FIVE_HEALTHY_ONE_UNHEALTHY, machines, scale_deps, step, weka_for};
use super::*;
use weka_shared::domain::metrics::{CLUSTER_DIMENSION, NAMESPACE, validate_emf};
use weka_shared::testing::RecordedMetrics;

/// The one document of a run, checked against the EMF rules.
fn one_document(recorded: &RecordedMetrics) -> Value {
    let docs = recorded.documents();
    assert_eq!(
        docs.len(),
        1,
        "one EMF line per run: {:?}",
        recorded.lines()
    );
    let doc = docs.into_iter().next().unwrap();
    validate_emf(&doc).unwrap();
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
    assert_eq!(doc[CLUSTER_DIMENSION], "poc");
    assert_eq!(doc["_aws"]["Timestamp"], json!(now().timestamp_millis()));
    doc
}

#[tokio::test]
async fn a_scale_down_run_emits_one_emf_line_with_its_cluster_floor_and_decisions() {
    let mut cb = Cb::new(3);
    machines(&mut cb, &FIVE_HEALTHY_ONE_UNHEALTHY);
    let deps = scale_deps(
        clusterized_store().await,
        weka_for(&cb.snap, &[]),
        Some((3, 2, 1)),
    );
    let (out, recorded) = RecordedMetrics::scope(
        "poc",
        scale_down::handle(&deps, step(&cb.info), invocation(now())),
    )
    .await;
    let out = out.unwrap();
    assert!(out.refusal.is_some());
    let doc = one_document(&recorded);
    for (name, value) in [
        ("LeaseHeld", 0.0),
        ("BackendsActive", 5.0),
        ("BackendsDown", 1.0),
        ("BackendsDeactivating", 0.0),
        ("FloorRefusals", 1.0),
        ("Deactivations", 1.0),
        ("Removals", 0.0),
        ("LaunchWaits", 0.0),
        ("TerminateWaits", 0.0),
        ("OldestLaunchWaitAge", 0.0),
    ] {
        assert_eq!(doc[name], json!(value), "{name} in {doc}");
    }
    assert!(doc["DrivesInactive"].is_number(), "{doc}");
}

#[tokio::test]
async fn a_scale_down_refused_the_lease_emits_lease_held_only() {
    let mut cb = Cb::new(3);
    machines(&mut cb, &[M::Healthy; 4]);
    let deps = scale_deps(
        clusterized_store().await,
        weka_for(&cb.snap, &[]),
        Some((1, 1, 0)),
    );
    deps.store
        .acquire_lease(
            SCALE_LEASE,
            &"exec-0".into(),
            now(),
            Duration::from_secs(180),
        )
        .await
        .unwrap();
    let (out, recorded) = RecordedMetrics::scope(
        "poc",
        scale_down::handle(&deps, step(&cb.info), invocation(now())),
    )
    .await;
    assert!(out.is_err());
    let doc = one_document(&recorded);
    assert_eq!(doc["LeaseHeld"], json!(1.0));
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{doc}"
    );
}

#[tokio::test]
async fn without_a_sink_nothing_is_written_and_the_run_is_unchanged() {
    let mut cb = Cb::new(3);
    machines(&mut cb, &[M::Healthy; 4]);
    let deps = scale_deps(
        clusterized_store().await,
        weka_for(&cb.snap, &[]),
        Some((1, 1, 0)),
    );
    let out = scale_down::handle(&deps, step(&cb.info), invocation(now())).await;
    assert!(out.is_ok());
}

#[tokio::test]
async fn a_terminate_run_emits_its_terminations_and_detaches() {
    let old = now() - TimeDelta::days(2);
    let groups = FakeScalingGroups::default();
    let mut stopped = group_instance("i-stopped", "10.0.0.2", old);
    stopped.instance.health = AsgHealth::Unhealthy;
    stopped.instance.ec2_state = Some(Ec2State::Stopped);
    let mut sick = group_instance("i-sick", "10.0.0.3", old);
    sick.instance.health = AsgHealth::Unhealthy;
    sick.instance.protected_from_scale_in = false;
    groups.add_group(
        ASG,
        3,
        vec![group_instance("i-ok", "10.0.0.1", old), stopped, sick],
    );
    let deps = terminate::Deps {
        groups,
        store: InMemoryStateStore::with_sizes(6, 0),
        clock: FakeClock::at(now()),
        config: terminate_config(
            ASG,
            Some(NFS_ASG),
            TerminatePolicy::default(),
            LifecycleConfig::disabled(),
        ),
    };
    let scale = scale_response(&["10.0.0.1", "10.0.0.3"], &[], &[]);
    let (out, recorded) = RecordedMetrics::scope(
        "poc",
        terminate::handle(
            &deps,
            json!({"execution": "exec-1", "input": scale}),
            invocation(now()),
        ),
    )
    .await;
    assert_eq!(out.unwrap().set_to_terminate_instances.len(), 1);
    let doc = one_document(&recorded);
    assert_eq!(doc["Terminations"], json!(1.0), "{doc}");
    assert_eq!(doc["Detaches"], json!(2.0), "{doc}");
}
