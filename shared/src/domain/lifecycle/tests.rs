//! The lifecycle records and decisions, on literal inputs.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::domain::terminate::{AsgHealth, AsgInstance, Ec2State};
use std::collections::BTreeSet;

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_779_354_000 + secs, 0).unwrap()
}

fn policy() -> LifecyclePolicy {
    LifecyclePolicy {
        launch_timeout: Duration::from_secs(900),
        terminate_timeout: Duration::from_secs(900),
        heartbeat_interval: Duration::from_secs(30),
        deadline_margin: Duration::from_secs(120),
    }
}

fn record(id: &str, transition: Transition, phase: LifecyclePhase) -> LifecycleRecord {
    LifecycleRecord {
        key: LifecycleKey {
            instance_id: id.to_owned(),
            transition,
        },
        group: "asg".to_owned(),
        hook: "hook".to_owned(),
        token: None,
        started_at: t(0),
        private_ip: Some("10.0.0.9".to_owned()),
        last_heartbeat_at: None,
        phase,
        result: None,
        reason: None,
        decided_at: None,
        completed_at: None,
    }
}

fn instance(id: &str, state: &str) -> AsgInstance {
    AsgInstance {
        id: id.to_owned(),
        private_ip: Some("10.0.0.9".to_owned()),
        health: AsgHealth::Healthy,
        lifecycle: Lifecycle::parse(state),
        protected_from_scale_in: true,
        ec2_state: Some(Ec2State::Running),
        launch_time: Some(t(0)),
    }
}

fn hooks() -> Hooks {
    Hooks {
        launch: Some("launch-hook".to_owned()),
        terminate: Some("terminate-hook".to_owned()),
    }
}

#[test]
fn hostnames_name_instances_or_ips() {
    assert_eq!(
        HostRef::parse("ip-10-0-1-23.ec2.internal"),
        HostRef::Ip("10.0.1.23".to_owned())
    );
    assert_eq!(
        HostRef::parse("ip-10-0-1-23"),
        HostRef::Ip("10.0.1.23".to_owned())
    );
    assert_eq!(
        HostRef::parse("i-0123456789abcdef0.us-west-2.compute.internal"),
        HostRef::InstanceId("i-0123456789abcdef0".to_owned())
    );
    assert_eq!(
        HostRef::parse("ip-10-0-1"),
        HostRef::Name("ip-10-0-1".to_owned())
    );
    assert_eq!(
        HostRef::parse("weka-01"),
        HostRef::Name("weka-01".to_owned())
    );
}

#[test]
fn reports_map_to_signals() {
    assert_eq!(
        ReportSignal::of(ReportKind::Progress, "Join completed successfully"),
        ReportSignal::Joined
    );
    assert_eq!(
        ReportSignal::of(ReportKind::Progress, "Weka containers are ready"),
        ReportSignal::Progress
    );
    assert_eq!(
        ReportSignal::of(ReportKind::Error, "weka installation failed"),
        ReportSignal::Failed
    );
    assert_eq!(
        ReportSignal::of(ReportKind::Debug, "lsblk"),
        ReportSignal::None
    );
}

#[test]
fn termination_continues_when_weka_is_done_or_the_deadline_nears() {
    let r = record("i-1", Transition::Terminate, LifecyclePhase::Waiting);
    let p = policy();
    assert!(
        termination_decision(&r, Some(MachineState::Active { active: 3 }), &p, t(60)).is_none()
    );
    let (result, reason) =
        termination_decision(&r, Some(MachineState::Active { active: 3 }), &p, t(780)).unwrap();
    assert_eq!(result, LifecycleResult::Continue);
    assert!(reason.contains("deadline"), "{reason}");
    for machine in [
        None,
        Some(MachineState::Absent),
        Some(MachineState::Inactive),
    ] {
        let (result, _) = termination_decision(&r, machine, &p, t(1)).unwrap();
        assert_eq!(result, LifecycleResult::Continue);
    }
}

#[test]
fn reconcile_completes_decisions_and_closes_what_ended_elsewhere() {
    let mut decided = record("i-1", Transition::Launch, LifecyclePhase::Decided);
    decided.result = Some(LifecycleResult::Abandon);
    decided.reason = Some("failed".to_owned());
    let gone = record("i-2", Transition::Launch, LifecyclePhase::Waiting);
    let in_service = record("i-3", Transition::Launch, LifecyclePhase::Waiting);
    let done = record("i-4", Transition::Launch, LifecyclePhase::Completed);
    let instances = [
        instance("i-1", "Pending:Wait"),
        instance("i-3", "InService"),
        instance("i-4", "InService"),
    ];
    let steps = reconcile(
        &[decided.clone(), gone, in_service, done],
        Some(("asg", &instances)),
        &hooks(),
        &Members::default(),
        &policy(),
        &Held::These(BTreeSet::new()),
        t(10),
    );
    assert_eq!(
        steps,
        vec![
            ReconcileStep::Complete {
                record: decided,
                result: LifecycleResult::Abandon,
                reason: "failed".to_owned(),
                decide_first: false,
            },
            ReconcileStep::Close {
                key: LifecycleKey {
                    instance_id: "i-2".to_owned(),
                    transition: Transition::Launch
                },
                reason: "the instance left the group".to_owned(),
            },
            ReconcileStep::Close {
                key: LifecycleKey {
                    instance_id: "i-3".to_owned(),
                    transition: Transition::Launch
                },
                reason: "the instance is InService now".to_owned(),
            },
        ]
    );
}

#[test]
fn reconcile_records_lost_events_and_missing_ips() {
    let mut no_ip = record("i-2", Transition::Launch, LifecyclePhase::Waiting);
    no_ip.private_ip = None;
    let instances = [
        instance("i-1", "Terminating:Wait"),
        instance("i-2", "Pending:Wait"),
        instance("i-3", "InService"),
    ];
    let steps = reconcile(
        &[no_ip],
        Some(("asg", &instances)),
        &hooks(),
        &Members::default(),
        &policy(),
        &Held::These(BTreeSet::new()),
        t(10),
    );
    let recorded: Vec<(String, Transition, Option<String>)> = steps
        .iter()
        .filter_map(|s| match s {
            ReconcileStep::Record(a) => Some((
                a.key.instance_id.clone(),
                a.key.transition,
                a.private_ip.clone(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        recorded,
        vec![
            (
                "i-1".to_owned(),
                Transition::Terminate,
                Some("10.0.0.9".to_owned())
            ),
            (
                "i-2".to_owned(),
                Transition::Launch,
                Some("10.0.0.9".to_owned())
            ),
        ]
    );
    // Without the hook configured nothing is recorded.
    let steps = reconcile(
        &[],
        Some(("asg", &instances)),
        &Hooks::default(),
        &Members::default(),
        &policy(),
        &Held::These(BTreeSet::new()),
        t(10),
    );
    assert!(steps.is_empty());
}

#[test]
fn silent_launches_are_abandoned_and_forming_members_kept_alive() {
    let mut quiet = record("i-1", Transition::Launch, LifecyclePhase::Waiting);
    quiet.last_heartbeat_at = Some(t(100));
    let mut member = record("i-2", Transition::Launch, LifecyclePhase::Waiting);
    member.last_heartbeat_at = Some(t(950));
    let instances = [
        instance("i-1", "Pending:Wait"),
        instance("i-2", "Pending:Wait"),
    ];
    let members = Members::Forming(BTreeSet::from(["i-2".to_owned()]));
    let steps = reconcile(
        &[quiet.clone(), member.clone()],
        Some(("asg", &instances)),
        &hooks(),
        &members,
        &policy(),
        &Held::These(BTreeSet::new()),
        t(999),
    );
    assert_eq!(steps, vec![ReconcileStep::Heartbeat(member.clone())]);
    let steps = reconcile(
        &[quiet, member.clone()],
        Some(("asg", &instances)),
        &hooks(),
        &members,
        &policy(),
        &Held::These(BTreeSet::new()),
        t(1000),
    );
    assert!(matches!(
        &steps[..],
        [ReconcileStep::Complete {
            result: LifecycleResult::Abandon,
            decide_first: true,
            ..
        }, ReconcileStep::Heartbeat(m)] if *m == member
    ));
}

#[test]
fn terminations_continue_a_margin_before_the_deadline() {
    let r = record("i-1", Transition::Terminate, LifecyclePhase::Waiting);
    let instances = [instance("i-1", "Terminating:Wait")];
    let at = |secs| {
        reconcile(
            std::slice::from_ref(&r),
            Some(("asg", &instances)),
            &hooks(),
            &Members::default(),
            &policy(),
            &Held::These(BTreeSet::new()),
            t(secs),
        )
    };
    assert!(at(779).is_empty());
    assert!(matches!(
        &at(780)[..],
        [ReconcileStep::Complete {
            result: LifecycleResult::Continue,
            decide_first: true,
            ..
        }]
    ));
}

#[test]
fn without_the_group_nothing_is_closed() {
    let r = record("i-1", Transition::Launch, LifecyclePhase::Waiting);
    let steps = reconcile(
        &[r],
        None,
        &hooks(),
        &Members::default(),
        &policy(),
        &Held::These(BTreeSet::new()),
        t(10),
    );
    assert!(steps.is_empty());
}

/// Security review H4: a member of the formed cluster whose launch action finalization did not
/// decide (a lost call) is continued by the next pass, not abandoned at its heartbeat timeout.
#[test]
fn a_formed_members_waiting_launch_is_continued_not_abandoned() {
    let member = record("i-2", Transition::Launch, LifecyclePhase::Waiting);
    let stranger = record("i-3", Transition::Launch, LifecyclePhase::Waiting);
    let instances = [
        instance("i-2", "Pending:Wait"),
        instance("i-3", "Pending:Wait"),
    ];
    let formed = Members::Formed(BTreeSet::from(["i-2".to_owned()]));
    for at in [t(10), t(5_000)] {
        let steps = reconcile(
            &[member.clone(), stranger.clone()],
            Some(("asg", &instances)),
            &hooks(),
            &formed,
            &policy(),
            &Held::These(BTreeSet::new()),
            at,
        );
        let continued: Vec<&str> = steps
            .iter()
            .filter_map(|s| match s {
                ReconcileStep::Complete {
                    record,
                    result: LifecycleResult::Continue,
                    decide_first: true,
                    ..
                } => Some(record.key.instance_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(continued, ["i-2"], "at {at}: {steps:?}");
    }
}

/// Review H4: a joined machine whose "Join completed" report was lost is continued once it has
/// been quiet for half the heartbeat timeout; one WEKA does not run (yet) is left waiting.
#[test]
fn a_joined_machine_whose_report_was_lost_is_continued_before_its_timeout() {
    let mut quiet = record("i-7", Transition::Launch, LifecyclePhase::Waiting);
    quiet.last_heartbeat_at = Some(t(100));
    // Timeout 900 s: halfway is 550 s.
    assert_eq!(
        joined_launch_decision(&quiet, true, &policy(), t(549)),
        None
    );
    let (result, reason) = joined_launch_decision(&quiet, true, &policy(), t(550)).unwrap();
    assert_eq!(result, LifecycleResult::Continue);
    assert!(reason.contains("join report"), "{reason}");
    assert_eq!(
        joined_launch_decision(&quiet, false, &policy(), t(899)),
        None
    );
}

#[test]
fn a_machine_is_joined_when_all_its_backend_containers_are_active_and_up() {
    use crate::weka::model::{Host, HostId, HostMode, HostState, HostStatus, HostsList};
    let host = |ip: &str, state, status, mode| Host {
        host_ip: ip.into(),
        state,
        status,
        mode,
        ..Host::default()
    };
    let hosts: HostsList = [
        (
            HostId(1),
            host(
                "10.0.0.1",
                HostState::Active,
                HostStatus::Up,
                HostMode::Backend,
            ),
        ),
        (
            HostId(2),
            host(
                "10.0.0.1",
                HostState::Active,
                HostStatus::Up,
                HostMode::Backend,
            ),
        ),
        (
            HostId(3),
            host(
                "10.0.0.2",
                HostState::Active,
                HostStatus::Up,
                HostMode::Backend,
            ),
        ),
        (
            HostId(4),
            host(
                "10.0.0.2",
                HostState::Active,
                HostStatus::Down,
                HostMode::Backend,
            ),
        ),
        (
            HostId(5),
            host(
                "10.0.0.3",
                HostState::Active,
                HostStatus::Up,
                HostMode::Client,
            ),
        ),
    ]
    .into_iter()
    .collect();
    assert!(machine_joined(&hosts, "10.0.0.1"));
    assert!(!machine_joined(&hosts, "10.0.0.2"), "one container down");
    assert!(
        !machine_joined(&hosts, "10.0.0.3"),
        "a client is not a member"
    );
    assert!(!machine_joined(&hosts, "10.0.0.9"), "no container at all");
}

/// Issue 14: a termination scale-down held back (safety floor, in-flight cap) is heartbeated;
/// its deadline follows the heartbeats, within the hook's global timeout (100 × 900 s = 25 h).
#[test]
fn a_held_termination_is_heartbeated_and_its_deadline_follows_within_the_global_timeout() {
    let mut held = record("i-1", Transition::Terminate, LifecyclePhase::Waiting);
    held.started_at = t(0);
    let other = {
        let mut r = record("i-2", Transition::Terminate, LifecyclePhase::Waiting);
        r.started_at = t(0);
        r
    };
    let instances = [
        instance("i-1", "Terminating:Wait"),
        instance("i-2", "Terminating:Wait"),
    ];
    let holding = Held::These(BTreeSet::from(["i-1".to_owned()]));
    let steps = reconcile(
        &[held.clone(), other.clone()],
        Some(("asg", &instances)),
        &hooks(),
        &Members::default(),
        &policy(),
        &holding,
        t(60),
    );
    assert_eq!(steps, vec![ReconcileStep::Heartbeat(held.clone())]);
    // Scale-down gave no answer: every waiting termination is kept alive.
    let steps = reconcile(
        &[held.clone(), other.clone()],
        Some(("asg", &instances)),
        &hooks(),
        &Members::default(),
        &policy(),
        &Held::Every,
        t(60),
    );
    assert_eq!(
        steps,
        vec![
            ReconcileStep::Heartbeat(held.clone()),
            ReconcileStep::Heartbeat(other)
        ]
    );

    // Without heartbeats: start + 900 s − 120 s. Heartbeated at 3000 s: 3000 + 780.
    assert_eq!(policy().terminate_deadline(&held), t(780));
    held.last_heartbeat_at = Some(t(3_000));
    assert_eq!(policy().terminate_deadline(&held), t(3_780));
    // Never past the global timeout less the margin, however recent the heartbeat.
    held.last_heartbeat_at = Some(t(90_000 - 10));
    assert_eq!(policy().terminate_deadline(&held), t(90_000 - 120));
    assert_eq!(
        global_timeout(Duration::from_secs(7_200)),
        Duration::from_secs(48 * 3600)
    );
    let steps = reconcile(
        &[held],
        Some(("asg", &instances[..1])),
        &hooks(),
        &Members::default(),
        &policy(),
        &holding,
        t(90_000 - 120),
    );
    assert!(
        matches!(
            &steps[..],
            [ReconcileStep::Complete {
                result: LifecycleResult::Continue,
                decide_first: true,
                ..
            }]
        ),
        "{steps:?}"
    );
}

/// Issue 14: only the exact wait state confirms an action.
#[test]
fn only_the_wait_state_confirms_an_action() {
    let parse = Lifecycle::parse;
    assert!(in_wait_state(
        &parse("Terminating:Wait"),
        Transition::Terminate
    ));
    assert!(in_wait_state(&parse("Pending:Wait"), Transition::Launch));
    for (state, transition) in [
        ("InService", Transition::Terminate),
        ("Terminating", Transition::Terminate),
        ("Terminating:Proceed", Transition::Terminate),
        ("Pending:Wait", Transition::Terminate),
        ("Terminating:Wait", Transition::Launch),
        ("Standby", Transition::Launch),
    ] {
        assert!(!in_wait_state(&parse(state), transition), "{state}");
    }
}
