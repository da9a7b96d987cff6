//! Behaviour tests of scale-down: the deactivation-target table and the host-choosing history.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use crate::common::{Asg, Cb, M, now};
use chrono::TimeDelta;
use weka_shared::domain::scale_down::*;
use weka_shared::weka::model::*;
use weka_shared::wire::scale::InstanceRef;

/// The ten cases of wekactl's deleted `scale_test.go` (failure-modes.md §1.5).
#[test]
fn deactivation_target_matches_wekactl_table() {
    let cases = [
        ("manualDeactivate", 9, 0, 1, 10, 1),
        ("downscale", 20, 0, 0, 10, 10),
        ("downscaleP2", 10, 0, 6, 10, 6),
        ("downfailures", 8, 2, 6, 10, 6),
        ("failures", 20, 10, 0, 30, 2),
        ("failuresP2", 20, 8, 2, 30, 2),
        ("upscale", 20, 0, 0, 30, 0),
        ("upscaleFailures", 20, 3, 0, 30, 2),
        ("totalfailure", 0, 20, 0, 30, 2),
        ("totalfailureP2", 0, 18, 2, 30, 2),
    ];
    for (name, h, u, d, desired, want) in cases {
        assert_eq!(deactivation_target(h, u, d, desired), want, "{name}");
    }
}

fn deactivated(plan: &ScaleDownPlan) -> Vec<&str> {
    plan.deactivations.iter().map(|d| d.ip.as_str()).collect()
}

fn calls<'a>(plan: &'a ScaleDownPlan, method: &str) -> Vec<&'a PlannedAction> {
    plan.actions()
        .filter(|a| a.call.method() == method)
        .collect()
}

fn all_ok(plan: &ScaleDownPlan) -> BTreeMap<ActionId, ActionOutcome> {
    plan.actions().map(|a| (a.id, ActionOutcome::Ok)).collect()
}

#[test]
fn gates_are_not_now_conditions() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.snap.status.io_status = "STOPPED".to_owned();
    let e = c.plan().unwrap_err();
    assert!(e.is_not_now(), "{e}");
    c.snap.status.io_status = "STARTED".to_owned();
    c.snap.status.upgrade = "4.4.3".to_owned();
    assert!(c.plan().unwrap_err().is_not_now());
    c.snap.status.upgrade.clear();
    c.snap.overrides.insert(
        "ManualOverrideId<1>".to_owned(),
        ManualOverride {
            key: SKIP_SCALE_DOWN_OVERRIDE.to_owned(),
            ..ManualOverride::default()
        },
    );
    assert_eq!(
        c.plan().unwrap_err(),
        PlanError::NotNow(Gate::ManualOverride)
    );
}

#[test]
fn invalid_input_and_unsupported_cluster_are_real_errors() {
    let mut c = Cb::new(0);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    let e = c.plan().unwrap_err();
    assert!(matches!(e, PlanError::InvalidInput(_)) && !e.is_not_now());
    assert!(e.to_string().contains("weka_backends_desired_capacity 0"));
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.info.role = "client".to_owned();
    assert!(matches!(
        c.plan().unwrap_err(),
        PlanError::UnsupportedRole { .. }
    ));
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    for h in c.snap.hosts.values_mut() {
        h.container_name = "compute0".into();
    }
    assert_eq!(c.plan().unwrap_err(), PlanError::NotMultiBackendContainer);
}

/// go-cloud-lib@b9fbdb4: counting is per machine, not per container.
#[test]
fn deactivation_counts_machines_not_containers() {
    let mut c = Cb::new(2);
    for i in 1..=3 {
        c.machine(&format!("10.0.0.{i}"), M::Healthy, Asg::Backend);
    }
    let plan = c.plan().unwrap();
    assert_eq!(plan.groups[0].counts.healthy, 3);
    assert_eq!(plan.deactivations.len(), 1);
    let deact = calls(&plan, "cluster_deactivate_hosts");
    assert_eq!(deact.len(), 1);
    // all three containers of the machine in one call, with resource validation
    let p = deact[0].call.params();
    assert_eq!(p["host_ids"].as_array().unwrap().len(), 3);
    assert_eq!(p["skip_resource_validation"], false);
}

/// Sort order: oldest healthy machine first when shrinking.
#[test]
fn shrink_picks_oldest_healthy_machine() {
    let mut c = Cb::new(2);
    c.machine_aged("10.0.0.1", M::Healthy, Asg::Backend, TimeDelta::days(1));
    c.machine_aged("10.0.0.2", M::Healthy, Asg::Backend, TimeDelta::days(9));
    c.machine_aged("10.0.0.3", M::Healthy, Asg::Backend, TimeDelta::days(3));
    assert_eq!(deactivated(&c.plan().unwrap()), ["10.0.0.2"]);
}

/// Unhealthy machines go before healthy ones, deactivating ones before all.
#[test]
fn shrink_prefers_deactivating_then_unhealthy_machines() {
    let mut c = Cb::new(2);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine("10.0.0.2", M::Unhealthy, Asg::Backend);
    c.machine("10.0.0.3", M::Deactivating, Asg::Backend);
    c.machine("10.0.0.4", M::Healthy, Asg::Backend);
    let plan = c.plan().unwrap();
    assert_eq!(deactivated(&plan), ["10.0.0.3", "10.0.0.2"]);
    assert_eq!(plan.deactivations[0].reason, Reason::AlreadyDeactivating);
    assert_eq!(plan.deactivations[1].reason, Reason::Unhealthy);
}

/// wekactl@4280793/@53d566b: DOWN is replaced after 120 min, not 5; DEGRADED too.
#[test]
fn down_host_replaced_only_after_unhealthy_timeout() {
    let mut c = Cb::new(3);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine("10.0.0.2", M::RecentlyDown, Asg::Backend);
    c.machine("10.0.0.3", M::Healthy, Asg::Backend);
    assert!(c.plan().unwrap().deactivations.is_empty());
    let mut c = Cb::new(3);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    let ids = c.machine("10.0.0.2", M::Unhealthy, Asg::Backend);
    c.machine("10.0.0.3", M::Healthy, Asg::Backend);
    c.snap.hosts.get_mut(&ids[0]).unwrap().status = HostStatus::Degraded;
    assert_eq!(deactivated(&c.plan().unwrap()), ["10.0.0.2"]);
}

/// wekactl@761e4b4: FAILED drives are not unhealthy, INACTIVE ones are (after the 5 min grace).
#[test]
fn only_inactive_drives_make_a_host_unhealthy() {
    let mut c = Cb::new(2);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine("10.0.0.2", M::BadDrive, Asg::Backend);
    assert_eq!(deactivated(&c.plan().unwrap()), ["10.0.0.2"]);
    for d in c.snap.drives.values_mut() {
        if d.status == DriveStatus::Inactive {
            d.status = DriveStatus::Failed;
        }
    }
    assert!(c.plan().unwrap().deactivations.is_empty());
    // a new host gets 5 minutes before an INACTIVE drive counts
    let mut c = Cb::new(2);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine_aged("10.0.0.2", M::BadDrive, Asg::Backend, TimeDelta::minutes(2));
    assert!(c.plan().unwrap().deactivations.is_empty());
}

/// wekactl@6f39d0f: orphan drive removal only for `HostId<INVALID>` and INACTIVE.
#[test]
fn orphan_drive_removal_is_narrow() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    let orphan = |status| Drive {
        host_id: HostId::INVALID,
        status,
        uuid: "orph".to_owned(),
        should_be_active: false,
    };
    c.snap
        .drives
        .insert(DriveId(100), orphan(DriveStatus::Inactive));
    c.snap
        .drives
        .insert(DriveId(101), orphan(DriveStatus::Failed));
    let plan = c.plan().unwrap();
    assert_eq!(plan.phases[0].kind, PhaseKind::RemoveOrphanDrives);
    assert_eq!(calls(&plan, "cluster_remove_drives").len(), 1);
}

/// go-cloud-lib@c18710d: one INACTIVE container does not remove the machine.
#[test]
fn one_inactive_container_does_not_remove_machine() {
    let mut c = Cb::new(2);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    let ids = c.machine("10.0.0.2", M::Healthy, Asg::Backend);
    let h = c.snap.hosts.get_mut(&ids[1]).unwrap();
    h.state = HostState::Inactive;
    h.status = HostStatus::Inactive;
    let plan = c.plan().unwrap();
    assert!(plan.removals.is_empty());
    assert!(calls(&plan, "cluster_remove_host").is_empty());
    let resp = finish(&plan, &all_ok(&plan));
    assert!(resp.to_terminate.is_empty());
    assert_eq!(resp.hosts.len(), 6);
}

/// An INACTIVE machine is removed container by container, then terminated once.
#[test]
fn inactive_machine_removed_and_terminated_once() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine("10.0.0.2", M::Inactive, Asg::Backend);
    let plan = c.plan().unwrap();
    assert_eq!(plan.removals, ["10.0.0.2"]);
    assert_eq!(calls(&plan, "cluster_remove_host").len(), 3);
    // drive removal depends on the host removal
    let rm_drive = calls(&plan, "cluster_remove_drives");
    assert_eq!(rm_drive.len(), 2);
    assert_eq!(rm_drive[0].depends_on.len(), 1);
    let resp = finish(&plan, &all_ok(&plan));
    assert_eq!(
        resp.to_terminate,
        [InstanceRef {
            id: "i-10002".to_owned(),
            private_ip: "10.0.0.2".to_owned()
        }]
    );
    assert!(resp.hosts.iter().all(|h| h.private_ip != "10.0.0.2"));
    assert!(resp.transient_errors.is_empty());
    validate_delta(&c.info, &resp, &c.snap.hosts).unwrap();
}

/// Failed removal → no termination, a transient error, and its drive removals are skipped silently.
#[test]
fn failed_removal_is_transient_and_not_terminated() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine("10.0.0.2", M::Inactive, Asg::Backend);
    let plan = c.plan().unwrap();
    let mut outcomes = BTreeMap::new();
    for a in plan.actions() {
        if !ScaleDownPlan::is_runnable(a, &outcomes) {
            continue;
        }
        let o = if a.call.method() == "cluster_remove_host" {
            ActionOutcome::Failed("boom".to_owned())
        } else {
            ActionOutcome::Ok
        };
        outcomes.insert(a.id, o);
    }
    let resp = finish(&plan, &outcomes);
    assert!(resp.to_terminate.is_empty());
    assert_eq!(resp.transient_errors.len(), 3);
    assert!(
        resp.transient_errors[0]
            .starts_with("removeInactive: 10.0.0.2: cluster_remove_host failed: boom")
    );
}

/// go-cloud-lib@7695ce9/@9967ab1: a client container on the same IP is never counted or deactivated.
#[test]
fn client_container_sharing_ip_is_ignored() {
    let mut c = Cb::new(2);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine("10.0.0.2", M::Healthy, Asg::Backend);
    let mut client = c.snap.hosts[&HostId(0)].clone();
    client.mode = HostMode::Client;
    client.container_name = "client".into();
    client.status = HostStatus::Down;
    c.snap.hosts.insert(HostId(500), client);
    let plan = c.plan().unwrap();
    assert!(plan.deactivations.is_empty());
    assert!(plan.hosts.iter().all(|h| h.host_id != HostId(500)));
}

/// go-cloud-lib@57d1c8a made >3 containers fatal; here that machine alone is skipped.
#[test]
fn machine_with_more_than_three_containers_is_skipped_not_fatal() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    let ids = c.machine("10.0.0.2", M::Healthy, Asg::Backend);
    c.machine("10.0.0.3", M::Unhealthy, Asg::Backend);
    let mut extra = c.snap.hosts[&ids[0]].clone();
    extra.container_name = "dataserv0".into();
    c.snap.hosts.insert(HostId(900), extra);
    let plan = c.plan().unwrap();
    assert!(plan.transient_errors[0].contains("10.0.0.2: 4 backend containers"));
    assert_eq!(deactivated(&plan), ["10.0.0.3"]);
    assert!(plan.hosts.iter().any(|h| h.private_ip == "10.0.0.2"));
    // distinct machine identifiers are skipped the same way
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    let ids = c.machine("10.0.0.2", M::Healthy, Asg::Backend);
    c.snap.hosts.get_mut(&ids[2]).unwrap().machine_identifier = "other".into();
    let plan = c.plan().unwrap();
    assert!(plan.transient_errors[0].contains("distinct machine identifiers"));
    // the skipped machine is not counted, so a shrink never over-counts: nothing to do here
    assert!(plan.deactivations.is_empty());
}

/// go-cloud-lib@787ca7f: a partly DOWN leftover machine is a transient error, not a crash.
#[test]
fn partially_down_leftover_machine_is_transient_error() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    let ids = c.machine("10.0.9.9", M::Unhealthy, Asg::None);
    c.snap.hosts.get_mut(&ids[2]).unwrap().status = HostStatus::Up;
    let plan = c.plan().unwrap();
    assert!(plan.deactivations.is_empty());
    assert!(
        plan.transient_errors[0].contains("is down but not all containers on the machine 10.0.9.9")
    );
}

/// wekactl 3 h kick-out, go-cloud-lib@b57bb6d tunable: leftovers DOWN past the timeout are deactivated,
/// with real sizes in the event.
#[test]
fn leftover_down_machine_kicked_after_tunable_timeout() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine("10.0.9.9", M::Unhealthy, Asg::None);
    let plan = c.plan().unwrap();
    assert_eq!(deactivated(&plan), ["10.0.9.9"]);
    assert_eq!(plan.deactivations[0].reason, Reason::DownMachine);
    let ev = calls(&plan, "events_trigger_custom");
    let msg = ev[0].call.params()["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("Desired size: 1, current size: 1"), "{msg}");
    assert!(!msg.contains("-1"));
    c.info.down_backends_removal_timeout = 4 * 3600 * 1_000_000_000;
    assert!(c.plan().unwrap().deactivations.is_empty());
}

/// wekactl@80f34de/@7c1a633: drives and host deactivation go out in the same run, in order.
#[test]
fn host_deactivated_in_same_batch_after_its_drives() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine("10.0.0.2", M::Healthy, Asg::Backend);
    let plan = c.plan().unwrap();
    let batch = &plan.phases.last().unwrap().batches[0];
    let methods: Vec<&str> = batch.actions.iter().map(|a| a.call.method()).collect();
    assert_eq!(
        methods,
        [
            "cluster_deactivate_drives",
            "cluster_deactivate_drives",
            "events_trigger_custom",
            "cluster_deactivate_hosts"
        ]
    );
    let last = batch.actions.last().unwrap();
    assert_eq!(
        last.on_success,
        [Effect::DropFromPool("10.0.0.1".to_owned())]
    );
    let msg = batch.actions[2].call.params()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        msg,
        "Trying to deactivate weka backend machine 10.0.0.1. Desired size: 1, current size: 2, reason: scale down."
    );
}

/// NFS: port deleted before deactivation, and deactivation depends on it.
#[test]
fn nfs_machine_deletes_port_before_deactivating() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    let a = c.machine("10.0.3.1", M::Healthy, Asg::Nfs);
    let b = c.machine("10.0.3.2", M::Healthy, Asg::Nfs);
    c.info.nfs_backends_desired_capacity = 1;
    let port = |id: HostId| InterfaceGroupPort {
        host_id: id,
        port: "eth1".to_owned(),
        ..InterfaceGroupPort::default()
    };
    c.snap.interface_groups = Ok(vec![InterfaceGroup {
        name: "nfs1".to_owned(),
        group_type: "NFS".to_owned(),
        ports: vec![port(a[2]), port(b[2])],
        ..InterfaceGroup::default()
    }]);
    let plan = c.plan().unwrap();
    assert_eq!(plan.deactivations.len(), 1);
    assert_eq!(plan.deactivations[0].group, GroupKind::Nfs);
    let del = calls(&plan, "interface_group_delete_port");
    let deact = calls(&plan, "cluster_deactivate_hosts");
    assert_eq!(deact[0].depends_on, [del[0].id]);
    // listing failure keeps every NFS host and reports it
    c.snap.interface_groups = Err("timeout".to_owned());
    let plan = c.plan().unwrap();
    assert!(plan.deactivations.is_empty());
    assert_eq!(plan.transient_errors, ["GetNfsHostsMap: timeout"]);
}

/// NFS leftover: outside the group and once a member → deactivated.
#[test]
fn nfs_leftover_once_in_group_is_deactivated() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine("10.0.3.1", M::Healthy, Asg::Nfs);
    c.machine("10.0.3.2", M::Healthy, Asg::Nfs);
    c.info.nfs_interface_group_instance_ips =
        Some([("10.0.3.1".to_owned(), Default::default())].into());
    let plan = c.plan().unwrap();
    assert_eq!(deactivated(&plan), ["10.0.3.1"]);
    assert_eq!(plan.deactivations[0].reason, Reason::NfsLeftover);
}

/// The safety floor refuses the shrink but still heals and keeps deactivating machines.
#[test]
fn safety_floor_refuses_shrink_but_heals() {
    let mut c = Cb::new(3);
    for i in 1..=6 {
        c.machine(&format!("10.0.0.{i}"), M::Healthy, Asg::Backend);
    }
    c.machine("10.0.0.7", M::Unhealthy, Asg::Backend);
    let plan = c.plan_with(SafetyFloor::from_geometry(3, 2, 1)).unwrap();
    assert_eq!(deactivated(&plan), ["10.0.0.7"]);
    let refusal = plan.refusal.clone().unwrap();
    assert!(refusal.shrink_refused);
    assert_eq!((refusal.desired, refusal.minimum), (3, 6));
    let resp = finish(&plan, &all_ok(&plan));
    assert_eq!(resp.refusal, Some(refusal));
    // without the floor, the reference would shrink to 3
    assert_eq!(c.plan().unwrap().deactivations.len(), 4);
}

/// Healing is held while too few machines are healthy for a full stripe.
#[test]
fn safety_floor_holds_healing_below_stripe_width() {
    let mut c = Cb::new(6);
    for i in 1..=4 {
        c.machine(&format!("10.0.0.{i}"), M::Healthy, Asg::Backend);
    }
    c.machine("10.0.0.5", M::Unhealthy, Asg::Backend);
    c.machine("10.0.0.6", M::Deactivating, Asg::Backend);
    let plan = c.plan_with(SafetyFloor::from_geometry(3, 2, 1)).unwrap();
    assert_eq!(deactivated(&plan), ["10.0.0.6"]);
    let hold = plan.refusal.unwrap().healing_held.unwrap();
    assert_eq!((hold.healthy, hold.required), (4, 5));
}

/// go-cloud-lib@bc731a6/@bf626c5 + wekactl@7d8b6b7: validateDelta.
#[test]
fn validate_delta_rejects_live_container_but_allows_removing_and_auto_removed_clients() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine("10.0.0.2", M::Inactive, Asg::Backend);
    let plan = c.plan().unwrap();
    let resp = finish(&plan, &all_ok(&plan));
    let mut fresh = c.snap.hosts.clone();
    for h in fresh.values_mut().filter(|h| h.host_ip == "10.0.0.2") {
        h.state = HostState::Removing;
    }
    validate_delta(&c.info, &resp, &fresh).unwrap();
    let mut client = fresh[&HostId(0)].clone();
    client.host_ip = "10.0.0.2".into();
    client.mode = HostMode::Client;
    client.status = HostStatus::Down;
    client.auto_remove_timeout = Some(600);
    fresh.insert(HostId(700), client.clone());
    validate_delta(&c.info, &resp, &fresh).unwrap();
    client.auto_remove_timeout = None;
    fresh.insert(HostId(700), client);
    let e = validate_delta(&c.info, &resp, &fresh).unwrap_err();
    assert!(
        matches!(&e, PlanError::UnsafeDelta { violations } if violations[0].host_id == HostId(700))
    );
    assert!(e.to_string().contains("HostId<700>"));
}

/// wekactl@864e3dc: DOWN hosts lose `aws.instance_id`; hosts are still reported by IP.
#[test]
fn down_hosts_without_instance_id_are_reported_by_ip() {
    let mut c = Cb::new(2);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    let ids = c.machine("10.0.0.2", M::RecentlyDown, Asg::Backend);
    for id in ids {
        c.snap.hosts.get_mut(&id).unwrap().aws = None;
    }
    let resp = finish(&c.plan().unwrap(), &BTreeMap::new());
    let h: Vec<_> = resp
        .hosts
        .iter()
        .filter(|h| h.private_ip == "10.0.0.2")
        .collect();
    assert_eq!(h.len(), 3);
    assert!(h.iter().all(|h| h.instance_id.is_empty()));
}

/// Unexecuted runnable actions surface as transient errors (e.g. Lambda timeout mid-run).
#[test]
fn unexecuted_actions_are_reported() {
    let mut c = Cb::new(1);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine("10.0.0.2", M::Healthy, Asg::Backend);
    let resp = finish(&c.plan().unwrap(), &BTreeMap::new());
    assert_eq!(resp.transient_errors.len(), 3);
    assert!(
        resp.transient_errors
            .iter()
            .all(|e| e.ends_with("not executed"))
    );
    let _ = now();
}

const SECOND: TimeDelta = TimeDelta::seconds(1);

/// A management node DOWN for exactly `timeout` has not timed out yet: only strictly longer does.
fn one_second_around(timeout: TimeDelta) -> [(TimeDelta, bool); 3] {
    [
        (timeout - SECOND, false),
        (timeout, false),
        (timeout + SECOND, true),
    ]
}

/// wekactl@53d566b: a DOWN or DEGRADED machine is replaced only once its management node has been
/// DOWN for longer than the 120 min `unhealthy_timeout`; one second either side decides.
#[test]
fn unhealthy_timeout_boundary() {
    let timeout = ScaleDownPolicy::new(SafetyFloor::NONE).unhealthy_timeout;
    assert_eq!(timeout, TimeDelta::minutes(120));
    for status in [HostStatus::Down, HostStatus::Degraded] {
        for (down_for, replaced) in one_second_around(timeout) {
            let mut c = Cb::new(3);
            c.machine("10.0.0.1", M::Healthy, Asg::Backend);
            c.machine("10.0.0.2", M::Unhealthy, Asg::Backend);
            c.machine("10.0.0.3", M::Healthy, Asg::Backend);
            c.status("10.0.0.2", &status);
            c.state_changed("10.0.0.2", Some(now() - down_for));
            let want: &[&str] = if replaced { &["10.0.0.2"] } else { &[] };
            assert_eq!(
                deactivated(&c.plan().unwrap()),
                want,
                "{status} for {down_for}"
            );
        }
    }
}

/// The 3 h kick-out of DOWN machines outside every group (`down_backends_removal_timeout`).
#[test]
fn leftover_kick_out_timeout_boundary() {
    for (down_for, kicked) in one_second_around(TimeDelta::hours(3)) {
        let mut c = Cb::new(1);
        assert_eq!(c.info.down_backends_removal_timeout(), TimeDelta::hours(3));
        c.machine("10.0.0.1", M::Healthy, Asg::Backend);
        c.machine("10.0.9.9", M::Unhealthy, Asg::None);
        c.state_changed("10.0.9.9", Some(now() - down_for));
        let plan = c.plan().unwrap();
        let want: &[&str] = if kicked { &["10.0.9.9"] } else { &[] };
        assert_eq!(deactivated(&plan), want, "DOWN for {down_for}");
        assert!(plan.transient_errors.is_empty(), "{down_for}");
        assert!(plan.hosts.iter().any(|h| h.private_ip == "10.0.9.9"));
    }
}

/// An NFS host outside the interface group (and never in it) is deactivated once its management
/// node has been DOWN for longer than `nfs_leftover_down_timeout` (1 h); before that it is an
/// ordinary leftover, far from the 3 h kick-out.
#[test]
fn nfs_leftover_down_timeout_boundary() {
    let timeout = ScaleDownPolicy::new(SafetyFloor::NONE).nfs_leftover_down_timeout;
    assert_eq!(timeout, TimeDelta::hours(1));
    for (down_for, kicked) in one_second_around(timeout) {
        let mut c = Cb::new(1);
        c.machine("10.0.0.1", M::Healthy, Asg::Backend);
        c.machine("10.0.3.1", M::Unhealthy, Asg::Nfs);
        c.state_changed("10.0.3.1", Some(now() - down_for));
        let plan = c.plan().unwrap();
        if kicked {
            assert_eq!(deactivated(&plan), ["10.0.3.1"], "{down_for}");
            assert_eq!(plan.deactivations[0].reason, Reason::NfsLeftover);
        } else {
            assert!(plan.deactivations.is_empty(), "{down_for}");
        }
    }
}

/// wekactl@d10dfe3: the DOWN clock starts at the management node's last fencing; the container's
/// state change is the fallback only without one, and with neither the node counts as DOWN forever.
#[test]
fn last_fencing_time_takes_precedence_over_state_changed_time() {
    let long_ago = Some(now() - TimeDelta::hours(3));
    let recently = Some(now() - TimeDelta::minutes(30));
    for (state_changed, fenced, replaced) in [
        (long_ago, recently, false),
        (recently, long_ago, true),
        (None, recently, false),
        (recently, None, false),
        (None, None, true),
    ] {
        let mut c = Cb::new(3);
        c.machine("10.0.0.1", M::Healthy, Asg::Backend);
        c.machine("10.0.0.2", M::Unhealthy, Asg::Backend);
        c.machine("10.0.0.3", M::Healthy, Asg::Backend);
        c.state_changed("10.0.0.2", state_changed);
        c.fenced("10.0.0.2", fenced);
        let want: &[&str] = if replaced { &["10.0.0.2"] } else { &[] };
        assert_eq!(
            deactivated(&c.plan().unwrap()),
            want,
            "state changed {state_changed:?}, fenced {fenced:?}"
        );
    }
}

/// At most one unhealthy machine replaced at a time, so that the ranking among unhealthy machines
/// decides which one.
fn one_replacement_at_a_time() -> ScaleDownPolicy {
    ScaleDownPolicy {
        max_unhealthy_in_flight: 1,
        ..ScaleDownPolicy::new(SafetyFloor::NONE)
    }
}

/// Among unhealthy machines, more non-ACTIVE drives go first: before age and before IP order.
#[test]
fn more_inactive_drives_are_deactivated_first() {
    let mut c = Cb::new(3);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine_aged("10.0.0.2", M::BadDrive, Asg::Backend, TimeDelta::days(9));
    c.machine_aged("10.0.0.3", M::BadDrive, Asg::Backend, TimeDelta::days(1));
    c.inactive_drives("10.0.0.3", 2);
    let plan = c.plan_with_policy(&one_replacement_at_a_time()).unwrap();
    assert_eq!(plan.groups[0].counts.unhealthy, 2);
    assert_eq!(deactivated(&plan), ["10.0.0.3"]);
}

/// Equal drive counts: the oldest machine goes first; equal ages: the lowest container id, even
/// on the higher IP.
#[test]
fn drive_count_ties_go_oldest_first_then_lowest_container_id() {
    let mut c = Cb::new(3);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    c.machine_aged("10.0.0.2", M::BadDrive, Asg::Backend, TimeDelta::days(1));
    c.machine_aged("10.0.0.3", M::BadDrive, Asg::Backend, TimeDelta::days(9));
    let plan = c.plan_with_policy(&one_replacement_at_a_time()).unwrap();
    assert_eq!(deactivated(&plan), ["10.0.0.3"]);

    let mut c = Cb::new(3);
    c.machine("10.0.0.9", M::BadDrive, Asg::Backend);
    c.machine("10.0.0.2", M::BadDrive, Asg::Backend);
    c.machine("10.0.0.1", M::Healthy, Asg::Backend);
    assert_eq!(c.snap.hosts[&HostId(0)].host_ip, "10.0.0.9");
    let plan = c.plan_with_policy(&one_replacement_at_a_time()).unwrap();
    assert_eq!(deactivated(&plan), ["10.0.0.9"]);
}

/// Eight candidates in several states, added in an IP order unrelated to their priority; returns
/// their IPs in priority order. Without `deactivating`, the one DEACTIVATING candidate (always
/// chosen, so that n could never be 0) is left out.
fn ranked_candidates(c: &mut Cb, asg: Asg, deactivating: bool) -> Vec<&'static str> {
    let day = TimeDelta::days(1);
    let candidates = [
        ("10.0.3.1", M::Healthy, 1, 0),
        ("10.0.3.2", M::Unhealthy, 5, 0),
        ("10.0.3.3", M::Healthy, 9, 0),
        ("10.0.3.4", M::BadDrive, 1, 1),
        ("10.0.3.5", M::Deactivating, 5, 0),
        ("10.0.3.6", M::RecentlyDown, 5, 0),
        ("10.0.3.7", M::BadDrive, 9, 1),
        ("10.0.3.8", M::BadDrive, 1, 2),
    ];
    for (ip, kind, age, bad_drives) in candidates {
        if kind == M::Deactivating && !deactivating {
            continue;
        }
        c.machine_aged(ip, kind, asg, day * age);
        c.inactive_drives(ip, bad_drives);
    }
    if asg == Asg::Nfs {
        c.nfs_interface_group();
    }
    let priority = [
        "10.0.3.5", // deactivating
        "10.0.3.8", // unhealthy, two INACTIVE drives
        "10.0.3.7", // unhealthy, one INACTIVE drive, 9 days old
        "10.0.3.4", // unhealthy, one INACTIVE drive, 1 day old
        "10.0.3.2", // unhealthy: DOWN past the timeout
        "10.0.3.3", // healthy, 9 days old
        "10.0.3.6", // healthy (DOWN too recently), 5 days old
        "10.0.3.1", // healthy, 1 day old
    ];
    priority
        .into_iter()
        .filter(|ip| deactivating || *ip != "10.0.3.5")
        .collect()
}

/// scale_group selects the first n machines before sorting them: for every n from 0 to all, the
/// chosen machines are exactly the first n of the priority order, in that order, in both groups
/// (only the NFS group accepts desired 0, which makes n = all reachable with mixed states).
#[test]
fn the_first_n_machines_are_chosen_in_priority_order_for_every_n() {
    // Healing off: n = max(candidates − desired, deactivating), set by desired alone.
    let policy = ScaleDownPolicy {
        max_unhealthy_in_flight: 0,
        ..ScaleDownPolicy::new(SafetyFloor::NONE)
    };
    let cases = [
        // (group, with the deactivating candidate, desired, n)
        (Asg::Backend, false, 8, 0),
        (Asg::Backend, false, 7, 0),
        (Asg::Backend, false, 6, 1),
        (Asg::Backend, false, 3, 4),
        (Asg::Backend, false, 1, 6),
        (Asg::Backend, true, 9, 1),
        (Asg::Backend, true, 7, 1),
        (Asg::Backend, true, 4, 4),
        (Asg::Backend, true, 1, 7),
        (Asg::Nfs, false, 7, 0),
        (Asg::Nfs, false, 6, 1),
        (Asg::Nfs, false, 4, 3),
        (Asg::Nfs, false, 0, 7),
        (Asg::Nfs, true, 7, 1),
        (Asg::Nfs, true, 4, 4),
        (Asg::Nfs, true, 1, 7),
        (Asg::Nfs, true, 0, 8),
    ];
    for (asg, deactivating, desired, n) in cases {
        let mut c = Cb::new(1);
        let priority = ranked_candidates(&mut c, asg, deactivating);
        let group = match asg {
            Asg::Backend => {
                c.info.weka_backends_desired_capacity = desired;
                GroupKind::Weka
            }
            _ => {
                c.info.nfs_backends_desired_capacity = desired;
                GroupKind::Nfs
            }
        };
        let plan = c.plan_with_policy(&policy).unwrap();
        let case = format!("{asg:?}, deactivating {deactivating}, desired {desired}");
        let summary = plan.groups.iter().find(|g| g.group == group).unwrap();
        assert_eq!(summary.decision.n, n, "{case}");
        let chosen: Vec<&str> = plan
            .deactivations
            .iter()
            .filter(|d| d.group == group)
            .map(|d| d.ip.as_str())
            .collect();
        assert_eq!(chosen, priority[..n as usize], "{case}");
        assert_eq!(
            chosen.len(),
            plan.deactivations.len(),
            "{case}: nothing else"
        );
        let batches: Vec<&str> = plan
            .phases
            .iter()
            .filter(|p| p.kind == PhaseKind::DeactivateMachines)
            .flat_map(|p| &p.batches)
            .map(|b| b.machine_ip.as_deref().unwrap())
            .collect();
        assert_eq!(batches, chosen, "{case}: batches in the same order");
    }
}
