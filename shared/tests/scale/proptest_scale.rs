//! Property tests of scale-down over random clusters.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{Asg, Cb, M};
use proptest::prelude::*;
use weka_shared::domain::scale_down::*;
use weka_shared::weka::model::HostState;

const KINDS: [M; 6] = [
    M::Healthy,
    M::Unhealthy,
    M::Deactivating,
    M::Inactive,
    M::BadDrive,
    M::RecentlyDown,
];

fn class(k: M) -> Option<ScaleState> {
    match k {
        M::Healthy | M::RecentlyDown => Some(ScaleState::Healthy),
        M::Unhealthy | M::BadDrive => Some(ScaleState::Unhealthy),
        M::Deactivating => Some(ScaleState::Deactivating),
        M::Inactive => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn scale_down_invariants(
        machines in prop::collection::vec((0usize..6, 0u8..4), 0..16),
        desired in 1i64..20,
        stripe in 0u32..6,
        spare in 0u32..3,
        configured in 0u32..10,
    ) {
        let mut c = Cb::new(desired);
        c.drives_per_machine = 1;
        let mut kinds = BTreeMap::new();
        for (n, (k, asg)) in machines.iter().enumerate() {
            let ip = format!("10.0.{}.{}", n / 200, n % 200 + 1);
            let asg = if *asg == 0 { Asg::None } else { Asg::Backend };
            c.machine(&ip, KINDS[*k], asg);
            kinds.insert(ip, (KINDS[*k], asg));
        }
        // keep the cluster multi-backend-container even when empty
        c.machine("10.9.9.9", M::Healthy, Asg::None);
        kinds.insert("10.9.9.9".to_owned(), (M::Healthy, Asg::None));
        let floor = SafetyFloor::from_geometry(stripe, 2, spare).at_least(configured);
        let plan = c.plan_with(floor).unwrap();

        // deterministic
        prop_assert_eq!(&plan, &c.plan_with(floor).unwrap());

        let (mut h, mut u, mut d) = (0u32, 0u32, 0u32);
        for (k, asg) in kinds.values() {
            if *asg == Asg::Backend {
                match class(*k) {
                    Some(ScaleState::Healthy) => h += 1,
                    Some(ScaleState::Unhealthy) => u += 1,
                    Some(ScaleState::Deactivating) => d += 1,
                    None => {}
                }
            }
        }
        let weka: Vec<&Deactivation> = plan.deactivations.iter().filter(|x| x.group == GroupKind::Weka).collect();
        let chosen: BTreeSet<&str> = weka.iter().map(|x| x.ip.as_str()).collect();
        // never more than the reference formula allows
        prop_assert!(u32::try_from(weka.len()).unwrap() <= deactivation_target(h, u, d, desired));
        // deactivating machines always stay in the set
        for (ip, (k, asg)) in &kinds {
            if *asg == Asg::Backend && *k == M::Deactivating {
                prop_assert!(chosen.contains(ip.as_str()), "deactivating {} dropped", ip);
            }
        }
        // never shrink below the floor
        let healthy_chosen = weka.iter().filter(|x| x.state == ScaleState::Healthy).count();
        if healthy_chosen > 0 {
            let total = h + u + d;
            prop_assert!(desired >= i64::from(floor.min_cluster_size));
            prop_assert!(total - u32::try_from(weka.len()).unwrap() >= floor.min_cluster_size);
        }
        // to_terminate never holds an instance whose WEKA host is active
        let outcomes = plan.actions().map(|a| (a.id, ActionOutcome::Ok)).collect();
        let resp = finish(&plan, &outcomes);
        let ids: BTreeSet<&str> = resp.to_terminate.iter().map(|i| i.id.as_str()).collect();
        prop_assert_eq!(ids.len(), resp.to_terminate.len());
        for i in &resp.to_terminate {
            for host in c.snap.hosts.values().filter(|h| h.host_ip == i.private_ip) {
                prop_assert_eq!(&host.state, &HostState::Inactive);
            }
        }
        prop_assert!(validate_delta(&c.info, &resp, &c.snap.hosts).is_ok());
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
