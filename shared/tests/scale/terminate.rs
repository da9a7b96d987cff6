//! Behaviour tests of the terminate plan (§10).
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, TimeDelta, Utc};
use weka_shared::domain::terminate::*;
use weka_shared::testing::scale_response;
use weka_shared::wire::scale::ScaleResponse;

fn now() -> DateTime<Utc> {
    "2026-11-10T00:00:00Z".parse().unwrap()
}

fn inst(id: &str, ip: &str, age_min: i64) -> AsgInstance {
    AsgInstance {
        id: id.to_owned(),
        private_ip: Some(ip.to_owned()),
        health: AsgHealth::Healthy,
        lifecycle: Lifecycle::InService,
        protected_from_scale_in: true,
        ec2_state: Some(Ec2State::Running),
        launch_time: Some(now() - TimeDelta::minutes(age_min)),
    }
}

/// Scale-down's answer, carrying an error of its own that every plan must pass on.
fn scale(weka_ips: &[&str], to_terminate: &[(&str, &str)]) -> ScaleResponse {
    scale_response(weka_ips, to_terminate, &["carried"])
}

fn run(
    instances: Vec<AsgInstance>,
    s: &ScaleResponse,
    policy: &TerminatePolicy,
) -> AsgTerminatePlan {
    let asg = AsgSnapshot {
        name: "backends".to_owned(),
        instances,
    };
    let mut p = plan_terminate(&[asg], s, policy, &[], now()).unwrap();
    assert_eq!(p.transient_errors, ["carried"]);
    p.asgs.remove(0)
}

fn ids(t: &[TerminateTarget]) -> Vec<&str> {
    t.iter().map(|t| t.id.as_str()).collect()
}

#[test]
fn unhealthy_unprotected_is_detached_without_termination() {
    let mut i = inst("i-1", "10.0.0.1", 600);
    i.health = AsgHealth::Unhealthy;
    i.protected_from_scale_in = false;
    let p = run(
        vec![i, inst("i-2", "10.0.0.2", 600)],
        &scale(&["10.0.0.1", "10.0.0.2"], &[]),
        &TerminatePolicy::default(),
    );
    assert_eq!(p.detach_batches, [vec!["i-1".to_owned()]]);
    assert!(p.terminate.is_empty());
}

#[test]
fn stopped_protected_unhealthy_is_terminated_then_detached() {
    let mut i = inst("i-1", "10.0.0.1", 600);
    i.health = AsgHealth::Unhealthy;
    i.ec2_state = Some(Ec2State::Stopped);
    let p = run(
        vec![i.clone(), inst("i-2", "10.0.0.2", 600)],
        &scale(&["10.0.0.2"], &[]),
        &TerminatePolicy::default(),
    );
    assert_eq!(ids(&p.terminate), ["i-1"]);
    assert_eq!(p.terminate[0].reason, TerminateReason::StoppedUnhealthy);
    assert_eq!(p.unprotect, ["i-1"]);
    assert_eq!(p.detach_batches, [vec!["i-1".to_owned()]]);
    // still a WEKA host: left for scale-down to remove first
    let p = run(
        vec![i],
        &scale(&["10.0.0.1"], &[]),
        &TerminatePolicy::default(),
    );
    assert!(p.terminate.is_empty() && p.detach_batches.is_empty());
    assert_eq!(p.skipped[0].reason, SkipReason::StillWekaHost);
}

/// Review (terminate): scale-down answers no hosts when it did not look (IO not started, an
/// upgrade, WEKA's own `skip_scale_down`). A stopped member of the formed cluster is then not
/// known to be out of WEKA: it is left for a run that looked, not terminated mid-upgrade. In a
/// group still forming (a failed join stops its host) it is reaped as before.
#[test]
fn a_stopped_member_is_not_terminated_when_scale_down_did_not_look() {
    let mut i = inst("i-1", "10.0.0.1", 600);
    i.health = AsgHealth::Unhealthy;
    i.ec2_state = Some(Ec2State::Stopped);
    let p = run(
        vec![i.clone()],
        &scale(&[], &[]),
        &TerminatePolicy::default(),
    );
    assert!(
        p.terminate.is_empty() && p.detach_batches.is_empty(),
        "{p:?}"
    );
    assert_eq!(p.skipped[0].reason, SkipReason::HostsListEmpty);
    let p = run_forming(vec![i], &forming(&[], 4));
    assert_eq!(ids(&p.terminate), ["i-1"]);
    assert_eq!(p.terminate[0].reason, TerminateReason::StoppedUnhealthy);
}

#[test]
fn protected_running_unhealthy_is_left_to_weka() {
    let mut i = inst("i-1", "10.0.0.1", 600);
    i.health = AsgHealth::Unhealthy;
    let p = run(
        vec![i],
        &scale(&["10.0.0.1"], &[]),
        &TerminatePolicy::default(),
    );
    assert!(p.terminate.is_empty() && p.detach_batches.is_empty());
    assert_eq!(p.skipped[0].reason, SkipReason::ProtectedAndRunning);
}

#[test]
fn bootstrap_grace_is_respected_for_strays() {
    let p = run(
        vec![
            inst("i-young", "10.0.0.8", 10),
            inst("i-old", "10.0.0.9", 31),
            inst("i-w", "10.0.0.1", 600),
        ],
        &scale(&["10.0.0.1"], &[]),
        &TerminatePolicy::default(),
    );
    assert_eq!(ids(&p.terminate), ["i-old"]);
    assert_eq!(p.terminate[0].reason, TerminateReason::NotInWeka);
    assert_eq!(p.skipped[0].reason, SkipReason::WithinBootstrapGrace);
}

#[test]
fn to_terminate_bypasses_grace_but_needs_id_and_ip_match() {
    let p = run(
        vec![
            inst("i-1", "10.0.0.5", 1),
            inst("i-2", "10.0.0.6", 1),
            inst("i-w", "10.0.0.1", 600),
        ],
        &scale(&["10.0.0.1"], &[("i-1", "10.0.0.5"), ("i-2", "10.9.9.9")]),
        &TerminatePolicy::default(),
    );
    assert_eq!(ids(&p.terminate), ["i-1"]);
    assert_eq!(p.terminate[0].reason, TerminateReason::Removed);
}

#[test]
fn weka_hosts_are_never_terminated_unless_listed() {
    let p = run(
        vec![inst("i-1", "10.0.0.1", 600), inst("i-2", "10.0.0.2", 600)],
        &scale(&["10.0.0.1", "10.0.0.2"], &[("i-2", "10.0.0.2")]),
        &TerminatePolicy::default(),
    );
    assert_eq!(ids(&p.terminate), ["i-2"]);
}

#[test]
fn cap_is_respected_and_explicit_removals_go_first() {
    let mut instances: Vec<AsgInstance> = (0..60)
        .map(|k| inst(&format!("i-{k:02}"), &format!("10.0.1.{k}"), 600))
        .collect();
    instances.push(inst("i-listed", "10.0.2.1", 1));
    instances.push(inst("i-w", "10.0.0.1", 600));
    let p = run(
        instances,
        &scale(&["10.0.0.1"], &[("i-listed", "10.0.2.1")]),
        &TerminatePolicy::default(),
    );
    assert_eq!(p.terminate.len(), 50);
    assert_eq!(p.terminate[0].id, "i-listed");
    assert_eq!(
        p.skipped
            .iter()
            .filter(|s| s.reason == SkipReason::CapReached)
            .count(),
        11
    );
    assert_eq!(p.unprotect.len(), 50);
}

#[test]
fn unprotect_only_for_instances_terminated() {
    let mut unprotected = inst("i-2", "10.0.0.9", 600);
    unprotected.protected_from_scale_in = false;
    let p = run(
        vec![
            inst("i-1", "10.0.0.8", 600),
            unprotected,
            inst("i-young", "10.0.0.7", 5),
            inst("i-w", "10.0.0.1", 600),
        ],
        &scale(&["10.0.0.1"], &[]),
        &TerminatePolicy::default(),
    );
    assert_eq!(ids(&p.terminate), ["i-1", "i-2"]);
    assert_eq!(p.unprotect, ["i-1"]);
}

#[test]
fn version_mismatch_is_rejected() {
    let mut s = scale(&[], &[]);
    s.version = 0;
    let e = plan_terminate(&[], &s, &TerminatePolicy::default(), &[], now()).unwrap_err();
    assert_eq!(
        e,
        TerminateError::VersionMismatch {
            expected: 1,
            found: 0
        }
    );
    assert!(
        e.to_string()
            .contains("incompatible scale response version 0")
    );
}

/// Reference defect §12.17 / wekactl@76e3279: an empty host list must not terminate everything.
#[test]
fn empty_hosts_list_never_terminates_strays() {
    let p = run(
        vec![
            inst("i-1", "10.0.0.1", 600),
            inst("i-2", "10.0.0.2", 600),
            inst("i-3", "10.0.0.3", 600),
        ],
        &scale(&[], &[("i-3", "10.0.0.3")]),
        &TerminatePolicy::default(),
    );
    assert_eq!(ids(&p.terminate), ["i-3"]);
    assert_eq!(
        p.skipped
            .iter()
            .filter(|s| s.reason == SkipReason::HostsListEmpty)
            .count(),
        2
    );
}

#[test]
fn detach_is_batched_by_twenty_and_skips_non_detachable() {
    let mut instances: Vec<AsgInstance> = (0..45)
        .map(|k| {
            let mut i = inst(&format!("i-{k:02}"), &format!("10.0.1.{k}"), 600);
            i.health = AsgHealth::Unhealthy;
            i.ec2_state = Some(Ec2State::Terminated);
            i
        })
        .collect();
    instances[0].lifecycle = Lifecycle::parse("Terminating");
    let ips: Vec<String> = (0..45).map(|k| format!("10.0.1.{k}")).collect();
    let ip_refs: Vec<&str> = ips.iter().map(String::as_str).collect();
    let p = run(
        instances,
        &scale(&ip_refs, &[]),
        &TerminatePolicy::default(),
    );
    let sizes: Vec<usize> = p.detach_batches.iter().map(Vec::len).collect();
    assert_eq!(sizes, [20, 20, 4]);
    assert_eq!(
        p.skipped[0].reason,
        SkipReason::NotDetachable("Terminating".to_owned())
    );
    assert!(p.terminate.is_empty());
}

#[test]
fn shutting_down_and_ipless_instances_are_not_terminated() {
    let mut a = inst("i-1", "10.0.0.8", 600);
    a.ec2_state = Some(Ec2State::ShuttingDown);
    let mut b = inst("i-2", "", 600);
    b.private_ip = None;
    let p = run(
        vec![a, b, inst("i-w", "10.0.0.1", 600)],
        &scale(&["10.0.0.1"], &[]),
        &TerminatePolicy::default(),
    );
    assert!(p.terminate.is_empty());
    assert_eq!(p.skipped[0].reason, SkipReason::AlreadyTerminating);
}

fn forming(registered: &[&str], target: usize) -> Forming {
    Forming {
        asg_name: "backends".to_owned(),
        registered: registered.iter().map(|s| (*s).to_owned()).collect(),
        target,
        launches_held: false,
    }
}

fn run_forming(instances: Vec<AsgInstance>, f: &Forming) -> AsgTerminatePlan {
    let asg = AsgSnapshot {
        name: "backends".to_owned(),
        instances,
    };
    let s = scale(&[], &[]);
    let mut p = plan_terminate(
        &[asg],
        &s,
        &TerminatePolicy::default(),
        std::slice::from_ref(f),
        now(),
    )
    .unwrap();
    p.asgs.remove(0)
}

#[test]
fn forming_group_recycles_an_instance_that_never_registered() {
    let p = run_forming(
        vec![
            inst("i-reg1", "10.0.0.1", 45),
            inst("i-reg2", "10.0.0.2", 45),
            inst("i-stuck", "10.0.0.3", 45),
            inst("i-young", "10.0.0.4", 5),
        ],
        &forming(&["i-reg1", "i-reg2"], 4),
    );
    assert_eq!(ids(&p.terminate), ["i-stuck"]);
    assert_eq!(p.terminate[0].reason, TerminateReason::NeverRegistered);
    let reasons: Vec<_> = p
        .skipped
        .iter()
        .map(|s| (s.id.as_str(), &s.reason))
        .collect();
    assert!(reasons.contains(&("i-reg1", &SkipReason::Registered)));
    assert!(reasons.contains(&("i-young", &SkipReason::WithinBootstrapGrace)));
}

/// Issue 17: after a switch from WEKA's module (before `adopt`), this module's state says the
/// backend group is forming, while its machines run the cluster. With the launch hook holding
/// newcomers in `Pending:Wait`, only those are recycled; a machine in service never is.
#[test]
fn a_forming_group_whose_launches_are_held_recycles_only_waiting_newcomers() {
    let mut stuck = inst("i-stuck", "10.0.0.9", 45);
    stuck.lifecycle = Lifecycle::parse("Pending:Wait");
    let mut held = forming(&[], 6);
    held.launches_held = true;
    let p = run_forming(
        vec![
            inst("i-running-1", "10.0.0.1", 600),
            inst("i-running-2", "10.0.0.2", 600),
            stuck,
        ],
        &held,
    );
    assert_eq!(ids(&p.terminate), ["i-stuck"]);
    let reasons: Vec<_> = p
        .skipped
        .iter()
        .map(|s| (s.id.as_str(), &s.reason))
        .collect();
    assert!(reasons.contains(&("i-running-1", &SkipReason::InServiceWhileForming)));
    assert!(reasons.contains(&("i-running-2", &SkipReason::InServiceWhileForming)));
}

#[test]
fn forming_group_with_a_complete_set_terminates_nothing() {
    let p = run_forming(
        vec![
            inst("i-reg1", "10.0.0.1", 45),
            inst("i-extra", "10.0.0.3", 45),
        ],
        &forming(&["i-reg1"], 1),
    );
    assert!(p.terminate.is_empty(), "{p:?}");
}

#[test]
fn registered_instances_are_never_recycled_however_old() {
    let p = run_forming(
        vec![inst("i-reg1", "10.0.0.1", 600)],
        &forming(&["i-reg1"], 6),
    );
    assert!(p.terminate.is_empty(), "{p:?}");
}

/// Issue 15 item 4: with no scale answer (scale-down failed), the detaches and a forming group's
/// bootstrap recycling still happen; a stopped unhealthy machine and an old stray are left to a
/// run that has WEKA's view.
#[test]
fn without_a_scale_answer_only_what_needs_no_weka_view_is_planned() {
    let mut sick = inst("i-sick", "10.0.0.1", 600);
    sick.health = AsgHealth::Unhealthy;
    sick.protected_from_scale_in = false;
    let mut stopped = inst("i-stopped", "10.0.0.2", 600);
    stopped.health = AsgHealth::Unhealthy;
    stopped.ec2_state = Some(Ec2State::Stopped);
    let formed = AsgSnapshot {
        name: "backends".to_owned(),
        instances: vec![sick, stopped, inst("i-stray", "10.0.0.3", 600)],
    };
    let still_forming = AsgSnapshot {
        name: "nfs".to_owned(),
        instances: vec![
            inst("i-reg", "10.0.1.1", 45),
            inst("i-stuck", "10.0.1.2", 45),
        ],
    };
    let mut f = forming(&["i-reg"], 3);
    f.asg_name = "nfs".to_owned();
    let plan = plan_terminate_without_scale_answer(
        &[formed, still_forming],
        &TerminatePolicy::default(),
        &[f],
        now(),
    );
    assert!(plan.transient_errors.is_empty());
    let (formed, still_forming) = (&plan.asgs[0], &plan.asgs[1]);
    assert!(formed.terminate.is_empty(), "{formed:?}");
    assert_eq!(formed.detach_batches, [vec!["i-sick".to_owned()]]);
    for id in ["i-stopped", "i-stray"] {
        assert!(
            formed
                .skipped
                .iter()
                .any(|s| s.id == id && s.reason == SkipReason::NoScaleAnswer),
            "{id}: {formed:?}"
        );
    }
    assert_eq!(ids(&still_forming.terminate), ["i-stuck"]);
}

fn pending(id: &str, ip: &str) -> weka_shared::wire::scale::InstanceRef {
    weka_shared::wire::scale::InstanceRef {
        id: id.to_owned(),
        private_ip: ip.to_owned(),
    }
}

/// A removed machine an earlier run did not get to terminate is named again while its group
/// holds it and WEKA's hosts (shown) do not include its IP; it is dropped once it left.
#[test]
fn pending_terminations_are_named_again_until_they_leave() {
    let group = [AsgSnapshot {
        name: "backends".to_owned(),
        instances: vec![inst("i-old", "10.0.0.9", 5), inst("i-a", "10.0.0.1", 900)],
    }];
    let earlier = [pending("i-old", "10.0.0.9"), pending("i-gone", "10.0.0.8")];

    let (answer, keep) = with_pending_terminations(&scale(&["10.0.0.1"], &[]), &earlier, &group);
    assert_eq!(answer.to_terminate, [pending("i-old", "10.0.0.9")]);
    assert_eq!(
        keep,
        [pending("i-old", "10.0.0.9")],
        "i-gone left its group"
    );
    let plan = run(
        group[0].instances.clone(),
        &answer,
        &TerminatePolicy::default(),
    );
    assert_eq!(
        ids(&plan.terminate),
        ["i-old"],
        "young, but removed: terminated"
    );

    // Scale-down did not look (no hosts), or WEKA shows the IP: kept, not named.
    for shown in [&[][..], &["10.0.0.1", "10.0.0.9"][..]] {
        let (answer, keep) = with_pending_terminations(&scale(shown, &[]), &earlier, &group);
        assert!(answer.to_terminate.is_empty(), "{shown:?}");
        assert_eq!(keep, [pending("i-old", "10.0.0.9")]);
    }

    // This run's own removals are pending too until they leave.
    let (_, keep) =
        with_pending_terminations(&scale(&["10.0.0.9"], &[("i-a", "10.0.0.1")]), &[], &group);
    assert_eq!(keep, [pending("i-a", "10.0.0.1")]);
}
