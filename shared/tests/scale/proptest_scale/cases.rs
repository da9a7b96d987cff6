//! The properties themselves (10,000 random clusters) and the check that the generator covers
//! what it must.

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn scale_down_invariants(sc in scenario()) {
        check(&sc)?;
    }
}

/// The generator really produces what the audit found missing (so that the invariants above are
/// exercised on it): mixed machines, mixed drives, NFS members and leftovers, clients on backend
/// IPs, failed WEKA calls.
#[test]
fn scenarios_cover_mixed_machines_nfs_clients_and_failures() {
    let mut runner = TestRunner::deterministic();
    let strategy = scenario();
    let policy = ScaleDownPolicy::new(SafetyFloor::NONE);
    let mut seen: BTreeMap<&str, u32> = BTreeMap::new();
    for _ in 0..1_000 {
        let sc = strategy.new_tree(&mut runner).unwrap().current();
        let (c, facts) = sc.build();
        let mut hit = |what| *seen.entry(what).or_default() += 1;
        for f in facts.values() {
            let hosts: Vec<_> = f.backend.iter().map(|id| &c.snap.hosts[id]).collect();
            let states: BTreeSet<String> = hosts.iter().map(|h| h.state.to_string()).collect();
            let up = hosts.iter().filter(|h| h.status == HostStatus::Up).count();
            let down = hosts
                .iter()
                .filter(|h| h.status == HostStatus::Down)
                .count();
            let is = |s: HostState| hosts.iter().filter(|h| h.state == s).count();
            if up > 0 && down > 0 {
                hit("one container DOWN, others UP");
            }
            if is(HostState::Deactivating) > 0 && is(HostState::Active) > 0 {
                hit("DEACTIVATING among ACTIVE");
            }
            if is(HostState::Inactive) > 0 && states.len() > 1 {
                hit("partly INACTIVE");
            }
            if is(HostState::Inactive) == hosts.len() {
                hit("all INACTIVE");
            }
            if is(HostState::Inactive) == hosts.len()
                && hosts.iter().any(|h| h.status != HostStatus::Inactive)
            {
                hit("all INACTIVE, not all removable");
            }
            let drives: Vec<_> = c
                .snap
                .drives
                .values()
                .filter(|d| f.backend.contains(&d.host_id))
                .collect();
            if drives.iter().any(|d| d.status == DriveStatus::Inactive)
                && drives.iter().any(|d| d.status != DriveStatus::Inactive)
            {
                hit("drives mixed INACTIVE");
            }
            if drives.iter().any(|d| !d.should_be_active)
                && drives.iter().any(|d| d.should_be_active)
            {
                hit("drives mixed should_be_active");
            }
            if !drives.is_empty() && drives.iter().all(|d| !d.should_be_active) {
                hit("all drives being deactivated");
            }
            if f.backend
                .iter()
                .any(|&id| expected_container_state(&c, &policy, id) == ScaleState::Unhealthy)
                && f.backend.iter().any(|&id| {
                    expected_container_state(&c, &policy, id) == ScaleState::Deactivating
                })
            {
                hit("unhealthy and deactivating containers");
            }
            match f.asg {
                Asg::Nfs if f.nfs_in_group => hit("NFS in group"),
                Asg::Nfs => hit("NFS leftover"),
                _ => {}
            }
            if !f.clients.is_empty() && f.asg != Asg::None {
                hit("client on an ASG IP");
            }
        }
        if c.snap.interface_groups.is_err() {
            hit("interface_group_list failed");
        }
        let plan = c.plan_with(sc.floor()).unwrap();
        let outcomes = sc.execute(&plan);
        if outcomes
            .values()
            .any(|o| matches!(o, ActionOutcome::Failed(_)))
        {
            hit("failed WEKA call");
        }
        if plan
            .actions()
            .any(|a| !a.best_effort && !outcomes.contains_key(&a.id))
        {
            hit("unexecuted WEKA call");
        }
        if !finish(&plan, &outcomes).to_terminate.is_empty() {
            hit("instance terminated");
        }
        for x in &plan.deactivations {
            hit(match x.reason {
                Reason::ScaleDown => "deactivated: scale down",
                Reason::Unhealthy => "deactivated: unhealthy",
                Reason::AlreadyDeactivating => "deactivated: already deactivating",
                Reason::DownMachine => "deactivated: down leftover",
                Reason::NfsLeftover => "deactivated: NFS leftover",
                _ => "deactivated: other",
            });
        }
    }
    let wanted = [
        "one container DOWN, others UP",
        "DEACTIVATING among ACTIVE",
        "partly INACTIVE",
        "all INACTIVE",
        "all INACTIVE, not all removable",
        "drives mixed INACTIVE",
        "drives mixed should_be_active",
        "all drives being deactivated",
        "unhealthy and deactivating containers",
        "NFS in group",
        "NFS leftover",
        "client on an ASG IP",
        "interface_group_list failed",
        "failed WEKA call",
        "unexecuted WEKA call",
        "instance terminated",
        "deactivated: scale down",
        "deactivated: unhealthy",
        "deactivated: already deactivating",
        "deactivated: down leftover",
        "deactivated: NFS leftover",
    ];
    for what in wanted {
        let n = seen.get(what).copied().unwrap_or(0);
        assert!(n >= 20, "{what}: {n} in 1,000 scenarios ({seen:?})");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    /// The machines chosen for n deactivations are the first n of one priority order: lowering
    /// desired by one only appends to the list, whatever the states, drive counts and ages (few
    /// distinct ages, so that ties reach the id tie-break).
    #[test]
    fn a_lower_desired_only_appends_to_the_deactivation_list(
        machines in prop::collection::vec((0usize..6, 1i64..4, 0usize..3), 1..16),
    ) {
        let mut c = Cb::new(1);
        for (n, (k, age_days, inactive_drives)) in machines.iter().enumerate() {
            let ip = format!("10.0.0.{}", n + 1);
            c.machine_aged(&ip, KINDS[*k], Asg::Backend, chrono::TimeDelta::days(*age_days));
            c.inactive_drives(&ip, *inactive_drives);
        }
        let chosen = |c: &mut Cb, desired: i64| -> Vec<String> {
            c.info.weka_backends_desired_capacity = desired;
            c.plan()
                .unwrap()
                .deactivations
                .into_iter()
                .map(|d| d.ip)
                .collect()
        };
        let top = i64::try_from(machines.len()).unwrap() + 1;
        let mut previous = chosen(&mut c, top);
        for desired in (1..top).rev() {
            let next = chosen(&mut c, desired);
            prop_assert!(
                next.starts_with(&previous),
                "desired {}: {:?} does not extend {:?}", desired, next, previous
            );
            previous = next;
        }
    }
}
