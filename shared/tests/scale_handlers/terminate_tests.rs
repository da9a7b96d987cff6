//! `terminate` on fakes: unhealthy detaches, strays, the bootstrap grace, protections, errors.

use super::*;
use weka_shared::domain::events::EventKind;

fn terminate_deps(
    groups: FakeScalingGroups,
    policy: TerminatePolicy,
) -> terminate::Deps<FakeScalingGroups, InMemoryStateStore, FakeClock> {
    terminate::Deps {
        groups,
        store: InMemoryStateStore::with_sizes(6, 0),
        clock: FakeClock::at(now()),
        config: terminate_config(ASG, Some(NFS_ASG), policy, LifecycleConfig::disabled()),
    }
}

async fn run_terminate(
    deps: &terminate::Deps<FakeScalingGroups, InMemoryStateStore, FakeClock>,
    scale: &ScaleResponse,
) -> TerminatedInstancesResponse {
    terminate::handle(
        deps,
        json!({"execution": "exec-1", "input": scale}),
        invocation(now()),
    )
    .await
    .unwrap()
}

/// The ids of the instances terminate terminated.
fn terminated_ids(out: &TerminatedInstancesResponse) -> Vec<&str> {
    out.set_to_terminate_instances
        .iter()
        .map(|t| t.instance_id.as_str())
        .collect()
}

fn old() -> DateTime<Utc> {
    now() - TimeDelta::days(2)
}

/// An old instance the ASG found unhealthy, not protected from scale-in.
fn sick(id: &str, ip: &str) -> GroupInstance {
    let mut i = group_instance(id, ip, old());
    i.instance.health = AsgHealth::Unhealthy;
    i.instance.protected_from_scale_in = false;
    i
}

/// A backend group of two old instances: `healthy_id` at 10.0.0.1 and the sick `i-sick` at
/// 10.0.0.2.
fn healthy_and_sick(healthy_id: &str) -> FakeScalingGroups {
    let groups = FakeScalingGroups::default();
    groups.add_group(
        ASG,
        2,
        vec![
            group_instance(healthy_id, "10.0.0.1", old()),
            sick("i-sick", "10.0.0.2"),
        ],
    );
    groups
}

#[tokio::test]
async fn unhealthy_unprotected_instances_are_detached_without_termination() {
    let groups = healthy_and_sick("i-ok");
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let out = run_terminate(&deps, &scale_response(&["10.0.0.1", "10.0.0.2"], &[], &[])).await;
    assert!(out.set_to_terminate_instances.is_empty());
    assert_no_transient_errors(&out.transient_errors);
    assert_eq!(
        deps.groups.calls(),
        vec![ScalingCall::Detach {
            group: ASG.to_owned(),
            ids: vec!["i-sick".to_owned()]
        }]
    );
    assert_eq!(
        deps.groups.group(ASG).unwrap().desired_capacity,
        2,
        "not decremented"
    );
    assert_eq!(
        lease_holder(&deps.store).await,
        None,
        "released at the end of the run"
    );
}

#[tokio::test]
async fn one_instance_the_group_will_not_detach_does_not_hold_back_the_others() {
    let groups = FakeScalingGroups::default();
    groups.add_group(
        ASG,
        3,
        vec![
            sick("i-stuck", "10.0.0.1"),
            sick("i-sick", "10.0.0.2"),
            group_instance("i-ok", "10.0.0.3", old()),
        ],
    );
    groups.fail("detach", "i-stuck");
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let out = run_terminate(
        &deps,
        &scale_response(&["10.0.0.1", "10.0.0.2", "10.0.0.3"], &[], &[]),
    )
    .await;
    let detach = |ids: &[&str]| ScalingCall::Detach {
        group: ASG.to_owned(),
        ids: ids.iter().map(|id| (*id).to_owned()).collect(),
    };
    assert_eq!(
        deps.groups.calls(),
        vec![
            detach(&["i-sick", "i-stuck"]),
            detach(&["i-sick"]),
            detach(&["i-stuck"]),
        ],
        "the failed batch is retried one instance at a time"
    );
    let left: Vec<String> = deps
        .groups
        .group(ASG)
        .unwrap()
        .instances
        .iter()
        .map(|i| i.instance.id.clone())
        .collect();
    assert_eq!(left, vec!["i-stuck", "i-ok"]);
    assert_eq!(out.transient_errors.len(), 1, "{:?}", out.transient_errors);
    assert!(out.transient_errors[0].contains("i-stuck"));
    let events = deps.store.events().await.unwrap();
    let detached: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == EventKind::Detach)
        .map(|e| e.subject.as_str())
        .collect();
    assert_eq!(
        detached,
        ["i-sick"],
        "only the instance actually detached: {events:?}"
    );
    assert!(events[0].reason.contains("replacement"), "{events:?}");
}

#[tokio::test]
async fn stopped_protected_unhealthy_instances_are_terminated_then_detached() {
    let groups = FakeScalingGroups::default();
    let mut stopped = group_instance("i-stopped", "10.0.0.2", old());
    stopped.instance.health = AsgHealth::Unhealthy;
    stopped.instance.ec2_state = Some(Ec2State::Stopped);
    groups.add_group(
        ASG,
        2,
        vec![group_instance("i-ok", "10.0.0.1", old()), stopped],
    );
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let out = run_terminate(&deps, &scale_response(&["10.0.0.1"], &[], &[])).await;
    assert_eq!(out.set_to_terminate_instances.len(), 1);
    assert_eq!(out.set_to_terminate_instances[0].instance_id, "i-stopped");
    assert_eq!(out.set_to_terminate_instances[0].creation_date, old());
    let ids = vec!["i-stopped".to_owned()];
    assert_eq!(
        deps.groups.calls(),
        vec![
            ScalingCall::AllowTermination {
                id: "i-stopped".to_owned()
            },
            ScalingCall::Protect {
                group: ASG.to_owned(),
                ids: ids.clone(),
                protected: false
            },
            ScalingCall::Terminate { ids: ids.clone() },
            ScalingCall::Detach {
                group: ASG.to_owned(),
                ids
            },
        ]
    );
}

#[tokio::test]
async fn the_bootstrap_grace_is_respected_and_configurable() {
    let setup = || {
        let groups = FakeScalingGroups::default();
        groups.add_group(
            ASG,
            3,
            vec![
                group_instance("i-weka", "10.0.0.1", old()),
                group_instance("i-young", "10.0.0.2", now() - TimeDelta::minutes(10)),
                group_instance("i-stray", "10.0.0.3", now() - TimeDelta::minutes(40)),
            ],
        );
        groups
    };
    let scale = scale_response(&["10.0.0.1"], &[], &[]);
    let deps = terminate_deps(setup(), TerminatePolicy::default());
    let out = run_terminate(&deps, &scale).await;
    assert_eq!(terminated_ids(&out), ["i-stray"]);

    let config = terminate::Config::from_lookup(&env(&[
        ("STATE_TABLE", "t"),
        ("STATE_KEY", "k"),
        ("NFS_STATE_KEY", "n"),
        ("ASG_NAME", ASG),
        ("BOOTSTRAP_GRACE_MINUTES", "5"),
        ("MAX_TERMINATIONS_PER_RUN", "1"),
    ]))
    .unwrap();
    assert_eq!(config.policy.bootstrap_grace, TimeDelta::minutes(5));
    assert_eq!(config.policy.max_terminations_per_run, 1);
    assert_eq!(config.nfs_asg_name, None);
    let deps = terminate_deps(setup(), config.policy);
    let out = run_terminate(&deps, &scale).await;
    assert_eq!(
        out.set_to_terminate_instances.len(),
        1,
        "cap of one per run"
    );
    let deps = terminate_deps(
        setup(),
        TerminatePolicy {
            bootstrap_grace: TimeDelta::minutes(5),
            ..TerminatePolicy::default()
        },
    );
    let out = run_terminate(&deps, &scale).await;
    assert_eq!(
        out.set_to_terminate_instances.len(),
        2,
        "10 min > 5 min grace"
    );
}

#[tokio::test]
async fn protections_are_removed_only_for_instances_actually_terminated() {
    let groups = FakeScalingGroups::default();
    groups.add_group(
        ASG,
        3,
        vec![
            group_instance("i-a", "10.0.0.1", old()),
            group_instance("i-b", "10.0.0.2", old()),
            group_instance("i-c", "10.0.0.3", old()),
            group_instance("i-keep", "10.0.0.4", old()),
        ],
    );
    groups.fail("allow_termination", "i-b");
    groups.fail("terminate", "i-c");
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let scale = scale_response(
        &["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"],
        &[
            ("i-a", "10.0.0.1"),
            ("i-b", "10.0.0.2"),
            ("i-c", "10.0.0.3"),
        ],
        &[],
    );
    let out = run_terminate(&deps, &scale).await;
    assert_eq!(terminated_ids(&out), ["i-a"]);
    let calls = deps.groups.calls();
    assert!(calls.contains(&ScalingCall::Protect {
        group: ASG.to_owned(),
        ids: vec!["i-a".to_owned(), "i-c".to_owned()],
        protected: false
    }));
    assert!(
        calls.contains(&ScalingCall::Protect {
            group: ASG.to_owned(),
            ids: vec!["i-c".to_owned()],
            protected: true
        }),
        "protection restored where termination failed: {calls:?}"
    );
    let reprotected: Vec<&str> = calls
        .iter()
        .filter_map(|c| match c {
            ScalingCall::ProtectFromTermination { id } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reprotected,
        vec!["i-b", "i-c"],
        "termination protection back on every target not terminated, and only there"
    );
    let group = deps.groups.group(ASG).unwrap();
    let protected = |id: &str| {
        group
            .instances
            .iter()
            .find(|i| i.instance.id == id)
            .unwrap()
            .instance
            .protected_from_scale_in
    };
    assert!(!protected("i-a"));
    assert!(protected("i-b") && protected("i-c") && protected("i-keep"));
    assert_eq!(out.transient_errors.len(), 2, "{:?}", out.transient_errors);
    assert!(out.transient_errors.iter().any(|e| e.contains("i-b")));
    assert!(out.transient_errors.iter().any(|e| e.contains("i-c")));
}

#[tokio::test]
async fn terminate_never_drops_an_error() {
    let groups = healthy_and_sick("i-ok");
    groups.fail("detach", "i-sick");
    let deps = terminate_deps(groups, TerminatePolicy::default());
    // No delta at all: the reference dropped the detach error on this path.
    let out = run_terminate(
        &deps,
        &scale_response(&["10.0.0.1", "10.0.0.2"], &[], &["deactivateHost: carried"]),
    )
    .await;
    assert_eq!(out.transient_errors.len(), 2, "{:?}", out.transient_errors);
    assert_eq!(out.transient_errors[0], "deactivateHost: carried");
    assert!(out.transient_errors[1].contains("detach"));

    let deps = terminate_deps(FakeScalingGroups::default(), TerminatePolicy::default());
    deps.groups.fail_describe();
    let err = terminate::handle(
        &deps,
        json!({"execution": "exec-1", "input": scale_response(&[], &[], &[])}),
        invocation(now()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient);
    assert_eq!(lease_holder(&deps.store).await, None);
}

#[tokio::test]
async fn terminate_checks_the_protocol_version_and_the_lease() {
    let deps = terminate_deps(FakeScalingGroups::default(), TerminatePolicy::default());
    let mut scale = scale_response(&[], &[], &[]);
    scale.version = 2;
    let err = terminate::handle(
        &deps,
        json!({"execution": "e", "input": scale}),
        invocation(now()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    assert!(
        err.to_string()
            .contains("incompatible scale response version 2")
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
    let err = terminate::handle(
        &deps,
        json!({"execution": "exec-1", "input": scale_response(&[], &[], &[])}),
        invocation(now()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict);
    assert!(deps.groups.calls().is_empty());
}

#[tokio::test]
async fn an_empty_scale_response_only_heals() {
    let groups = healthy_and_sick("i-old");
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let mut formed = ClusterState::new(6);
    formed.clusterized = true;
    deps.store.set_state(Group::Backend, formed);
    let out = run_terminate(&deps, &scale_down::skipped_response()).await;
    assert!(
        out.set_to_terminate_instances.is_empty(),
        "no stray termination on a skipped run"
    );
    assert_eq!(deps.groups.calls().len(), 1, "{:?}", deps.groups.calls());
}

#[tokio::test]
async fn a_missing_state_document_does_not_fail_terminate() {
    let groups = FakeScalingGroups::default();
    groups.add_group(ASG, 1, vec![group_instance("i-old", "10.0.0.1", old())]);
    let mut deps = terminate_deps(groups, TerminatePolicy::default());
    deps.store = InMemoryStateStore::empty();
    let out = run_terminate(&deps, &scale_down::skipped_response()).await;
    assert!(out.set_to_terminate_instances.is_empty(), "{out:?}");
}

#[tokio::test]
async fn a_forming_cluster_recycles_an_old_instance_that_never_registered() {
    let groups = FakeScalingGroups::default();
    groups.add_group(
        ASG,
        2,
        vec![
            group_instance("i-registered", "10.0.0.1", old()),
            group_instance("i-failed-install", "10.0.0.2", old()),
        ],
    );
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let mut forming = ClusterState::new(2);
    forming.instances.push(Vm {
        name: "i-registered".to_owned(),
        ..Vm::default()
    });
    deps.store.set_state(Group::Backend, forming);
    let out = run_terminate(&deps, &scale_down::skipped_response()).await;
    assert_eq!(terminated_ids(&out), ["i-failed-install"]);
}

/// Issue 17: switched from WEKA's module, before `adopt`: this module's fresh state says the
/// backend group is forming, while its in-service machines run the cluster (none registered
/// here). With the launch hook on (the default) they are never recycled; a newcomer held in
/// `Pending:Wait` that never registered still is. The NFS gateways (a group without hooks,
/// whose fresh state says forming too) are not recycled either: no gateway can register before
/// the backend group is clusterized, so none is "never registered" while it forms.
#[tokio::test]
async fn a_switched_cluster_s_machines_are_not_recycled_before_adoption() {
    let groups = FakeScalingGroups::default();
    let mut newcomer = group_instance("i-new", "10.0.0.9", old());
    newcomer.instance.lifecycle = weka_shared::domain::terminate::Lifecycle::parse("Pending:Wait");
    groups.add_group(
        ASG,
        4,
        vec![
            group_instance("i-member-1", "10.0.0.1", old()),
            group_instance("i-member-2", "10.0.0.2", old()),
            group_instance("i-member-3", "10.0.0.3", old()),
            newcomer,
        ],
    );
    let mut deps = terminate_deps(groups, TerminatePolicy::default());
    deps.config = terminate_config(
        ASG,
        Some(NFS_ASG),
        TerminatePolicy::default(),
        LifecycleConfig::with_hooks(ASG, "weka-launch", "weka-terminate"),
    );
    deps.groups.add_group(
        NFS_ASG,
        2,
        vec![
            group_instance("i-gateway-1", "10.0.0.21", old()),
            group_instance("i-gateway-2", "10.0.0.22", old()),
        ],
    );
    deps.store.set_state(Group::Backend, ClusterState::new(3));
    deps.store.set_state(Group::Nfs, ClusterState::new(2));
    let out = run_terminate(&deps, &scale_down::skipped_response()).await;
    assert_eq!(terminated_ids(&out), ["i-new"], "{out:?}");
}

/// Fault matrix observation: the scale-in protection lift took effect but its answer was lost.
/// The instance is not terminated this run, and its protection is restored all the same (the
/// failed call may have done its work), as for a termination that failed.
#[tokio::test]
async fn a_protection_lift_whose_answer_was_lost_is_restored() {
    use weka_shared::testing::{FaultKind, FaultPlan, Faulty};
    let groups = || {
        let groups = FakeScalingGroups::default();
        groups.add_group(
            ASG,
            1,
            vec![
                group_instance("i-a", "10.0.0.1", old()),
                group_instance("i-keep", "10.0.0.2", old()),
            ],
        );
        Arc::new(groups)
    };
    let scale = scale_response(&["10.0.0.1", "10.0.0.2"], &[("i-a", "10.0.0.1")], &[]);
    let run = |plan: Arc<FaultPlan>, groups: Arc<FakeScalingGroups>| {
        let scale = scale.clone();
        async move {
            let deps = terminate::Deps {
                groups: Faulty::new(groups, plan),
                store: InMemoryStateStore::with_sizes(6, 0),
                clock: FakeClock::at(now()),
                config: terminate_config(
                    ASG,
                    None,
                    TerminatePolicy::default(),
                    LifecycleConfig::disabled(),
                ),
            };
            terminate::handle(
                &deps,
                json!({"execution": "exec-1", "input": scale}),
                invocation(now()),
            )
            .await
            .unwrap()
        }
    };
    let counting = FaultPlan::counting();
    run(counting.clone(), groups()).await;
    let lift = counting
        .calls()
        .iter()
        .position(|c| c.method == "set_scale_in_protection")
        .unwrap();

    let faulted = groups();
    let out = run(FaultPlan::at(lift, FaultKind::FailAfter), faulted.clone()).await;
    assert!(terminated_ids(&out).is_empty(), "{out:?}");
    let group = faulted.group(ASG).unwrap();
    let a = group
        .instances
        .iter()
        .find(|i| i.instance.id == "i-a")
        .unwrap();
    assert!(
        a.instance.protected_from_scale_in,
        "scale-in protection restored: {:?}",
        faulted.calls()
    );
}
