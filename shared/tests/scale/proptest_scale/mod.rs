//! Property tests of scale-down over random clusters.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{Asg, Cb, M, execute, now};
use chrono::TimeDelta;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use weka_shared::domain::scale_down::*;
use weka_shared::weka::model::{DriveStatus, HostId, HostState, HostStatus, NodeStatus, WekaCall};

mod cases;
mod model;

use model::*;

const KINDS: [M; 6] = [
    M::Healthy,
    M::Unhealthy,
    M::Deactivating,
    M::Inactive,
    M::BadDrive,
    M::RecentlyDown,
];

/// (state, status) a single container may be put in, whatever its machine's kind.
const CONTAINER_STATES: [(HostState, HostStatus); 8] = [
    (HostState::Active, HostStatus::Up),
    (HostState::Active, HostStatus::Down),
    (HostState::Active, HostStatus::Degraded),
    (HostState::Deactivating, HostStatus::Up),
    (HostState::Deactivating, HostStatus::Down),
    (HostState::Removing, HostStatus::Inactive),
    (HostState::Inactive, HostStatus::Inactive),
    // deactivated, but WEKA does not report it INACTIVE yet: not removable this run
    (HostState::Inactive, HostStatus::Down),
];

const DRIVE_STATUSES: [DriveStatus; 4] = [
    DriveStatus::Active,
    DriveStatus::Inactive,
    DriveStatus::Failed,
    DriveStatus::PhasingOut,
];

/// Either side of the 1 h NFS-leftover, 2 h unhealthy and 3 h kick-out timeouts.
const DOWN_FOR_MINUTES: [i64; 4] = [30, 61, 121, 181];

/// Either side of the 5 min INACTIVE-drive grace.
const AGE_MINUTES: [i64; 4] = [2, 60 * 24, 5 * 60 * 24, 9 * 60 * 24];

/// One generated machine: a uniform kind, then per-container and per-drive changes.
#[derive(Debug, Clone)]
struct MachineGen {
    /// Index in `KINDS`.
    kind: usize,
    /// 0: no ASG (leftover), 1: NFS, else backend.
    group: u8,
    /// Index in `AGE_MINUTES`.
    age: usize,
    /// Index in `DOWN_FOR_MINUTES` (state change of every container); none: the kind's.
    down_for: Option<usize>,
    /// Drives on `drives0`.
    drives: usize,
    /// (container, index in `CONTAINER_STATES`, management node DOWN).
    containers: Vec<(usize, usize, bool)>,
    /// (drive, index in `DRIVE_STATUSES`, should be active).
    drive_changes: Vec<(usize, usize, bool)>,
    /// Client container on the IP: 0 UP, 1 DOWN and auto-removed, 2 DOWN; else none.
    client: u8,
    /// NFS machine: a port in the interface group.
    nfs_in_group: bool,
    /// NFS machine: tagged as once in the group.
    nfs_was_in_group: bool,
}

/// No change for half the machines (they stay uniform), else one or two.
fn changes<S: Strategy>(change: S) -> impl Strategy<Value = Vec<S::Value>>
where
    S::Value: Clone,
{
    prop_oneof![Just(Vec::new()), prop::collection::vec(change, 1..3)]
}

fn machine_gen() -> impl Strategy<Value = MachineGen> {
    (
        0..KINDS.len(),
        0u8..6,
        0..AGE_MINUTES.len(),
        prop::option::of(0..DOWN_FOR_MINUTES.len()),
        0usize..4,
        changes((0usize..3, 0..CONTAINER_STATES.len(), any::<bool>())),
        changes((
            0usize..3,
            0..DRIVE_STATUSES.len(),
            prop::bool::weighted(0.7),
        )),
        0u8..8,
        prop::bool::weighted(0.7),
        any::<bool>(),
    )
        .prop_map(
            |(kind, group, age, down_for, drives, containers, drive_changes, client, g, w)| {
                MachineGen {
                    kind,
                    group,
                    age,
                    down_for,
                    drives,
                    containers,
                    drive_changes,
                    client,
                    nfs_in_group: g,
                    nfs_was_in_group: w,
                }
            },
        )
}

/// A random cluster, safety floor and run of the plan.
#[derive(Debug, Clone)]
struct Scenario {
    machines: Vec<MachineGen>,
    desired: i64,
    nfs_desired: i64,
    /// `interface_group_list` failed.
    groups_fail: bool,
    /// (stripe, hot spare, configured minimum), protection 2; none: the reference (no floor).
    floor: Option<(u32, u32, u32)>,
    /// Out of 16, how many outcome seeds fail: 0, 1, 4 or 8.
    fail_rate: usize,
    /// Outcome of action i: `seeds[i % len]`.
    seeds: Vec<u8>,
    /// The shell stops (e.g. Lambda timeout) after this many actions.
    cutoff: Option<usize>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(machine_gen(), 0..16),
        1i64..12,
        0i64..5,
        prop::bool::weighted(0.05),
        prop::option::of((0u32..6, 0u32..3, 0u32..10)),
        0usize..4,
        prop::collection::vec(any::<u8>(), 1..24),
        prop::option::weighted(0.1, 0usize..40),
    )
        .prop_map(
            |(machines, desired, nfs_desired, groups_fail, floor, fail_rate, seeds, cutoff)| {
                Scenario {
                    machines,
                    desired,
                    nfs_desired,
                    groups_fail,
                    floor,
                    fail_rate,
                    seeds,
                    cutoff,
                }
            },
        )
}

/// What the test knows about one machine (an IP with at least one non-client container).
#[derive(Debug)]
struct Facts {
    asg: Asg,
    nfs_in_group: bool,
    nfs_was_in_group: bool,
    /// Non-client containers, ascending.
    backend: Vec<HostId>,
    clients: Vec<HostId>,
}

impl Scenario {
    fn build(&self) -> (Cb, BTreeMap<String, Facts>) {
        let mut c = Cb::new(self.desired);
        c.info.nfs_backends_desired_capacity = self.nfs_desired;
        let mut facts = BTreeMap::new();
        let mut in_group = Vec::new();
        for (n, g) in self.machines.iter().enumerate() {
            let ip = format!("10.0.{}.{}", n / 200, n % 200 + 1);
            let asg = match g.group {
                0 => Asg::None,
                1 => Asg::Nfs,
                _ => Asg::Backend,
            };
            c.drives_per_machine = g.drives;
            let age = TimeDelta::minutes(AGE_MINUTES[g.age]);
            let backend = c.machine_aged(&ip, KINDS[g.kind], asg, age);
            if let Some(d) = g.down_for {
                c.state_changed(&ip, Some(now() - TimeDelta::minutes(DOWN_FOR_MINUTES[d])));
            }
            for &(k, s, mgmt_down) in &g.containers {
                let (state, status) = CONTAINER_STATES[s].clone();
                c.container(backend[k], state, status);
                let node = if mgmt_down {
                    NodeStatus::Down
                } else {
                    NodeStatus::Up
                };
                c.management_node(backend[k], node);
            }
            for &(k, s, should_be_active) in &g.drive_changes {
                c.drive(&ip, k, DRIVE_STATUSES[s].clone(), should_be_active);
            }
            let clients = match g.client {
                0 => vec![c.client(&ip, HostStatus::Up, None)],
                1 => vec![c.client(&ip, HostStatus::Down, Some(600))],
                2 => vec![c.client(&ip, HostStatus::Down, None)],
                _ => Vec::new(),
            };
            if asg == Asg::Nfs {
                if g.nfs_in_group {
                    in_group.push(ip.clone());
                }
                if g.nfs_was_in_group {
                    c.was_in_nfs_group(&ip);
                }
            }
            facts.insert(
                ip,
                Facts {
                    asg,
                    nfs_in_group: asg == Asg::Nfs && g.nfs_in_group,
                    nfs_was_in_group: asg == Asg::Nfs && g.nfs_was_in_group,
                    backend,
                    clients,
                },
            );
        }
        c.nfs_interface_group_of(&in_group);
        if self.groups_fail {
            c.snap.interface_groups = Err("timeout".to_owned());
        }
        // keep the cluster multi-backend-container even when empty
        c.drives_per_machine = 1;
        let anchor = c.machine("10.9.9.9", M::Healthy, Asg::None);
        facts.insert(
            "10.9.9.9".to_owned(),
            Facts {
                asg: Asg::None,
                nfs_in_group: false,
                nfs_was_in_group: false,
                backend: anchor,
                clients: Vec::new(),
            },
        );
        (c, facts)
    }

    fn floor(&self) -> SafetyFloor {
        self.floor
            .map_or(SafetyFloor::NONE, |(stripe, spare, configured)| {
                SafetyFloor::from_geometry(stripe, 2, spare).at_least(configured)
            })
    }

    /// Runs the plan with the scenario's failures and cutoff.
    fn execute(&self, plan: &ScaleDownPlan) -> BTreeMap<ActionId, ActionOutcome> {
        let failing = [0, 1, 4, 8][self.fail_rate];
        let mut ran = 0;
        execute(plan, |a| {
            if self.cutoff.is_some_and(|k| ran >= k) {
                return None;
            }
            ran += 1;
            let seed = self.seeds[a.id.0 % self.seeds.len()];
            Some(if usize::from(seed % 16) < failing {
                ActionOutcome::Failed("injected".to_owned())
            } else {
                ActionOutcome::Ok
            })
        })
    }
}

fn count<'a>(
    c: &Cb,
    policy: &ScaleDownPolicy,
    machines: impl Iterator<Item = &'a Facts>,
) -> MachineCounts {
    let mut counts = MachineCounts::default();
    for f in machines {
        match expected_machine_state(c, policy, f) {
            ScaleState::Healthy => counts.healthy += 1,
            ScaleState::Unhealthy => counts.unhealthy += 1,
            ScaleState::Deactivating => counts.deactivating += 1,
        }
    }
    counts
}

/// Containers and drives an action touches.
fn touched(call: &WekaCall) -> (Vec<HostId>, Vec<&str>) {
    match call {
        WekaCall::RemoveHost { host_id } | WekaCall::InterfaceGroupDeletePort { host_id, .. } => {
            (vec![*host_id], Vec::new())
        }
        WekaCall::DeactivateHosts { host_ids } => (host_ids.clone(), Vec::new()),
        WekaCall::RemoveDrives { drive_uuids } | WekaCall::DeactivateDrives { drive_uuids } => {
            (Vec::new(), drive_uuids.iter().map(String::as_str).collect())
        }
        WekaCall::EventsTriggerCustom { .. } => (Vec::new(), Vec::new()),
    }
}

fn group_of(plan: &ScaleDownPlan, group: GroupKind) -> Vec<&Deactivation> {
    plan.deactivations
        .iter()
        .filter(|x| x.group == group)
        .collect()
}

/// Checks every property of one scenario.
fn check(sc: &Scenario) -> Result<(), TestCaseError> {
    let (c, facts) = sc.build();
    let floor = sc.floor();
    let policy = ScaleDownPolicy::new(floor);
    let plan = c.plan_with(floor).unwrap();

    // deterministic
    prop_assert_eq!(&plan, &c.plan_with(floor).unwrap());

    let groups_ok = c.snap.interface_groups.is_ok();
    let removed: BTreeSet<&str> = plan.removals.iter().map(String::as_str).collect();
    let deactivated: BTreeMap<&str, &Deactivation> = plan
        .deactivations
        .iter()
        .map(|x| (x.ip.as_str(), x))
        .collect();
    // one decision per machine
    prop_assert_eq!(removed.len(), plan.removals.len());
    prop_assert_eq!(deactivated.len(), plan.deactivations.len());
    prop_assert!(removed.iter().all(|ip| !deactivated.contains_key(ip)));

    // an all-INACTIVE machine is removed, never deactivated again (NFS machines wait for the
    // group listing); a machine with a container in another state is never removed
    for (ip, f) in &facts {
        let inactive = all_inactive(&c, f);
        let waits = f.asg == Asg::Nfs && !groups_ok;
        prop_assert_eq!(
            removed.contains(ip.as_str()),
            inactive && !waits,
            "removal of {}",
            ip
        );
        if inactive {
            prop_assert!(
                !deactivated.contains_key(ip.as_str()),
                "{} deactivated again",
                ip
            );
        }
    }

    // a machine with a DEACTIVATING/REMOVING/INACTIVE container, or whose drives are all being
    // deactivated, is never counted (or chosen as) healthy
    for x in &plan.deactivations {
        let f = &facts[&x.ip];
        prop_assert_eq!(
            x.state,
            expected_machine_state(&c, &policy, f),
            "state of {}",
            &x.ip
        );
        let leaving = f.backend.iter().any(|id| {
            c.snap.hosts[id].state != HostState::Active
                || expected_container_state(&c, &policy, *id) == ScaleState::Deactivating
        });
        prop_assert!(
            !leaving || x.state != ScaleState::Healthy,
            "{} counted healthy",
            &x.ip
        );
    }

    // the backend and NFS groups: counts, formula, deactivating machines kept, sickest first
    let members = |asg: Asg| -> BTreeMap<&str, &Facts> {
        facts
            .iter()
            .filter(|(_, f)| f.asg == asg && (asg != Asg::Nfs || f.nfs_in_group))
            .filter(|(_, f)| !all_inactive(&c, f))
            .map(|(ip, f)| (ip.as_str(), f))
            .collect()
    };
    let mut scaled = vec![(GroupKind::Weka, sc.desired, floor, members(Asg::Backend))];
    if groups_ok {
        scaled.push((
            GroupKind::Nfs,
            sc.nfs_desired,
            SafetyFloor::NONE,
            members(Asg::Nfs),
        ));
    }
    for (group, desired, floor, members) in scaled {
        let counts = count(&c, &policy, members.values().copied());
        let summary = plan.groups.iter().find(|g| g.group == group).unwrap();
        prop_assert_eq!(summary.counts, counts, "{:?} counts", group);
        let chosen = group_of(&plan, group);
        let n = u32::try_from(chosen.len()).unwrap();
        // never more than the reference formula allows; exactly what the floor leaves of it
        prop_assert!(
            n <= deactivation_target(
                counts.healthy,
                counts.unhealthy,
                counts.deactivating,
                desired
            )
        );
        prop_assert_eq!(n, decide_target(counts, desired, floor, 2).n);
        let chosen_ips: BTreeSet<&str> = chosen.iter().map(|x| x.ip.as_str()).collect();
        prop_assert!(chosen_ips.iter().all(|ip| members.contains_key(ip)));
        let mut spared = Vec::new();
        for (ip, f) in &members {
            let state = expected_machine_state(&c, &policy, f);
            // deactivating machines always stay in the set
            if state == ScaleState::Deactivating {
                prop_assert!(chosen_ips.contains(ip), "deactivating {} dropped", ip);
            }
            if !chosen_ips.contains(ip) {
                spared.push(state);
            }
        }
        // never a healthier machine while a sicker one is spared
        if let (Some(worst_spared), Some(best_chosen)) =
            (spared.iter().min(), chosen.iter().map(|x| x.state).max())
        {
            prop_assert!(
                best_chosen <= *worst_spared,
                "{:?}: chose {:?}, spared {:?}",
                group,
                best_chosen,
                worst_spared
            );
        }
        // never shrink below the floor
        if chosen.iter().any(|x| x.state == ScaleState::Healthy) {
            prop_assert!(desired >= i64::from(floor.min_cluster_size));
            prop_assert!(counts.total() - n >= floor.min_cluster_size);
        }
    }

    // leftovers: NFS hosts out of the group (once in it, or DOWN > 1 h); machines outside every
    // ASG kicked out only when every container is DOWN/INACTIVE and one DOWN > 3 h
    let kick_out = c.info.down_backends_removal_timeout();
    for (ip, f) in &facts {
        if all_inactive(&c, f) {
            continue;
        }
        let got = deactivated.get(ip.as_str()).map(|x| (x.group, x.reason));
        let nfs_leftover = f.asg == Asg::Nfs
            && groups_ok
            && !f.nfs_in_group
            && (f.nfs_was_in_group
                || f.backend
                    .iter()
                    .any(|&id| management_timed_out(&c, id, policy.nfs_leftover_down_timeout)));
        let leftover = f.asg == Asg::None || (f.asg == Asg::Nfs && groups_ok && !f.nfs_in_group);
        let down = f.backend.iter().any(|&id| {
            c.snap.hosts[&id].status == HostStatus::Down && management_timed_out(&c, id, kick_out)
        });
        let all_down = f.backend.iter().all(|id| {
            matches!(
                c.snap.hosts[id].status,
                HostStatus::Down | HostStatus::Inactive
            )
        });
        let partial = format!(" is down but not all containers on the machine {ip} are down");
        let reported = plan.transient_errors.iter().any(|e| e.ends_with(&partial));
        if nfs_leftover {
            prop_assert_eq!(
                got,
                Some((GroupKind::Leftover, Reason::NfsLeftover)),
                "{}",
                ip
            );
        } else if leftover {
            let want = (down && all_down).then_some((GroupKind::Leftover, Reason::DownMachine));
            prop_assert_eq!(got, want, "leftover {}", ip);
            prop_assert_eq!(reported, down && !all_down, "partly down {}", ip);
        } else {
            prop_assert!(!reported, "{}", ip);
        }
    }

    // the actions: never on a client; deactivations and removals touch exactly their machine
    let clients: BTreeSet<HostId> = facts
        .values()
        .flat_map(|f| f.clients.iter().copied())
        .collect();
    let drive_owner: BTreeMap<&str, HostId> = c
        .snap
        .drives
        .values()
        .map(|d| (d.uuid.as_str(), d.host_id))
        .collect();
    for a in plan.actions() {
        let (hosts, drives) = touched(&a.call);
        for id in hosts.iter().chain(drives.iter().map(|u| &drive_owner[u])) {
            prop_assert!(!clients.contains(id), "{:?} touches client {}", a.call, id);
        }
    }
    prop_assert!(plan.hosts.iter().all(|h| !clients.contains(&h.host_id)));
    let reported: BTreeSet<HostId> = plan.hosts.iter().map(|h| h.host_id).collect();
    let expected: BTreeSet<HostId> = facts
        .iter()
        .filter(|(ip, _)| !removed.contains(ip.as_str()))
        .flat_map(|(_, f)| f.backend.iter().copied())
        .collect();
    prop_assert_eq!(reported, expected);
    for a in plan.actions() {
        let Some(ip) = a.machine_ip.as_deref() else {
            let orphan = matches!(a.call, WekaCall::RemoveDrives { .. });
            prop_assert!(orphan, "{:?} without a machine", a.call);
            continue;
        };
        let f = &facts[ip];
        let (hosts, drives) = touched(&a.call);
        prop_assert!(
            hosts.iter().all(|id| f.backend.contains(id)),
            "{:?} on {}",
            a.call,
            ip
        );
        prop_assert!(
            drives.iter().all(|u| f.backend.contains(&drive_owner[u])),
            "{:?} on {}",
            a.call,
            ip
        );
        match &a.call {
            WekaCall::RemoveHost { host_id } => {
                prop_assert!(removed.contains(ip));
                prop_assert_eq!(&c.snap.hosts[host_id].status, &HostStatus::Inactive);
            }
            WekaCall::DeactivateHosts { host_ids } => {
                prop_assert!(deactivated.contains_key(ip));
                prop_assert_eq!(host_ids, &f.backend);
                let ports: Vec<ActionId> = plan
                    .actions()
                    .filter(|p| p.machine_ip.as_deref() == Some(ip))
                    .filter(|p| matches!(p.call, WekaCall::InterfaceGroupDeletePort { .. }))
                    .map(|p| p.id)
                    .collect();
                prop_assert_eq!(&a.depends_on, &ports);
                prop_assert_eq!(ports.is_empty(), deactivated[ip].group != GroupKind::Nfs);
            }
            WekaCall::DeactivateDrives { drive_uuids } => {
                prop_assert!(deactivated.contains_key(ip));
                let should: Vec<bool> = drive_uuids
                    .iter()
                    .map(|u| {
                        c.snap
                            .drives
                            .values()
                            .any(|d| d.uuid == *u && d.should_be_active)
                    })
                    .collect();
                prop_assert!(should.iter().all(|s| *s));
            }
            _ => {}
        }
    }
    for ip in deactivated.keys() {
        let f = &facts[*ip];
        let wanted = c
            .snap
            .drives
            .values()
            .filter(|d| f.backend.contains(&d.host_id) && d.should_be_active)
            .count();
        let got = plan
            .actions()
            .filter(|a| a.machine_ip.as_deref() == Some(*ip))
            .filter(|a| matches!(a.call, WekaCall::DeactivateDrives { .. }))
            .count();
        prop_assert_eq!(got, wanted, "drives deactivated on {}", ip);
    }

    // run the plan, with failures and a cutoff
    let outcomes = sc.execute(&plan);
    let resp = finish(&plan, &outcomes);
    let ok = |a: &PlannedAction| matches!(outcomes.get(&a.id), Some(ActionOutcome::Ok));

    // to_terminate: instances of removed machines whose removal succeeded, each once, never one
    // whose WEKA host is active and healthy
    let ids: BTreeSet<&str> = resp.to_terminate.iter().map(|i| i.id.as_str()).collect();
    prop_assert_eq!(ids.len(), resp.to_terminate.len());
    let leaving: BTreeSet<&str> = resp
        .to_terminate
        .iter()
        .map(|i| i.private_ip.as_str())
        .collect();
    for (ip, f) in &facts {
        let removed_ok = plan.actions().any(|a| {
            a.machine_ip.as_deref() == Some(ip.as_str())
                && matches!(a.call, WekaCall::RemoveHost { .. })
                && ok(a)
        });
        prop_assert_eq!(
            leaving.contains(ip.as_str()),
            removed_ok && f.asg != Asg::None,
            "to_terminate {}",
            ip
        );
        if leaving.contains(ip.as_str()) {
            prop_assert!(removed.contains(ip.as_str()));
            for id in &f.backend {
                let host = &c.snap.hosts[id];
                prop_assert_eq!(&host.state, &HostState::Inactive);
                prop_assert!(
                    expected_container_state(&c, &policy, *id) != ScaleState::Healthy,
                    "healthy {} terminated",
                    id
                );
            }
        }
    }

    // every failure is reported, audit events excepted
    prop_assert!(resp.transient_errors.starts_with(&plan.transient_errors));
    for a in plan.actions() {
        let head = format!(
            "{}: {}: {} ",
            a.error_context,
            a.machine_ip.as_deref().unwrap_or("cluster"),
            a.call.method()
        );
        let failed = matches!(outcomes.get(&a.id), Some(ActionOutcome::Failed(_)));
        let unexecuted = !outcomes.contains_key(&a.id) && ScaleDownPlan::is_runnable(a, &outcomes);
        let reported = resp.transient_errors.iter().any(|e| e.starts_with(&head));
        if a.best_effort {
            prop_assert!(!reported, "best-effort failure reported: {}", head);
        } else if failed || unexecuted {
            prop_assert!(reported, "not reported: {}", head);
        }
    }

    // the delta check aborts exactly when a removed machine still carries a live client (IP
    // reuse), and then only for those clients; when it passes, no instance headed for
    // termination has a live (ACTIVE and UP) container of any kind
    let live_client = |id: &HostId| {
        let h = &c.snap.hosts[id];
        !(h.status == HostStatus::Down && h.auto_remove_timeout.is_some_and(|t| t > 0))
    };
    let blocked: BTreeSet<HostId> = facts
        .iter()
        .filter(|(ip, f)| removed.contains(ip.as_str()) && f.asg != Asg::None)
        .flat_map(|(_, f)| f.clients.iter().copied())
        .filter(live_client)
        .collect();
    match validate_delta(&c.info, &resp, &c.snap.hosts) {
        Ok(()) => {
            prop_assert!(blocked.is_empty(), "clients {:?} not caught", blocked);
            for h in c
                .snap
                .hosts
                .values()
                .filter(|h| leaving.contains(h.host_ip.as_str()))
            {
                prop_assert!(!(h.state == HostState::Active && h.status == HostStatus::Up));
            }
        }
        Err(PlanError::UnsafeDelta { violations }) => {
            let got: BTreeSet<HostId> = violations.iter().map(|v| v.host_id).collect();
            prop_assert_eq!(got, blocked);
        }
        Err(e) => prop_assert!(false, "{}", e),
    }
    Ok(())
}
