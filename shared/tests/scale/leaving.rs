//! Machines leaving through the terminate hook (`plan_with_leaving`): the safety floor and the
//! in-flight cap of ordinary scale-down hold for them too (issue 14, review C1 (c)).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use crate::common::{Asg, Cb, M, now};
use weka_shared::domain::scale_down::*;

/// The floor of the review's reproduction: stripe 3 + protection 2 + hot spare 1 = 6.
fn floor_of_six() -> ScaleDownPolicy {
    ScaleDownPolicy::new(SafetyFloor::from_geometry(3, 2, 1))
}

/// `n` machines at 10.0.0.1..=n of `kind`, in the backend group.
fn backends(c: &mut Cb, from: u32, to: u32, kind: M) {
    for i in from..=to {
        c.machine(&format!("10.0.0.{i}"), kind, Asg::Backend);
    }
}

fn leaving(ips: &[&str]) -> BTreeSet<String> {
    ips.iter().map(|ip| (*ip).to_owned()).collect()
}

fn plan_of(c: &Cb, policy: &ScaleDownPolicy, ips: &[&str]) -> ScaleDownPlan {
    plan_with_leaving(&c.info, &c.snap, policy, now(), &leaving(ips)).unwrap()
}

/// Every deactivated machine with its reason, in plan order.
fn deactivated(plan: &ScaleDownPlan) -> Vec<(&str, Reason)> {
    plan.deactivations
        .iter()
        .map(|d| (d.ip.as_str(), d.reason))
        .collect()
}

/// Two machines the group terminates on its own while the cluster is at its floor: neither is
/// deactivated (the review's reproduction left 4 of 6 machines with active drives).
#[test]
fn at_the_floor_no_leaving_machine_is_deactivated() {
    let mut c = Cb::new(6);
    backends(&mut c, 1, 6, M::Healthy);
    let plan = plan_of(&c, &floor_of_six(), &["10.0.0.5", "10.0.0.6"]);
    assert_eq!(deactivated(&plan), []);
    assert_eq!(plan.phases.len(), 0, "no WEKA call at all");
}

/// One above the floor: one leaving machine goes (IP order), the other waits for a replacement.
#[test]
fn above_the_floor_only_as_many_leave_as_the_floor_allows() {
    let mut c = Cb::new(6);
    backends(&mut c, 1, 7, M::Healthy);
    let plan = plan_of(&c, &floor_of_six(), &["10.0.0.6", "10.0.0.7"]);
    assert_eq!(deactivated(&plan), [("10.0.0.6", Reason::AsgTermination)]);
}

/// Well above the floor, at most `max_unhealthy_in_flight` (2) machines are deactivating at once,
/// whatever put them in flight.
#[test]
fn the_in_flight_cap_bounds_leaving_machines() {
    let mut c = Cb::new(7);
    backends(&mut c, 1, 10, M::Healthy);
    let three = ["10.0.0.8", "10.0.0.9", "10.0.0.10"];
    let plan = plan_of(&c, &floor_of_six(), &three);
    assert_eq!(plan.deactivations.len(), 2, "{:?}", deactivated(&plan));
    assert!(
        plan.deactivations
            .iter()
            .all(|d| d.reason == Reason::AsgTermination)
    );

    // One machine already deactivating (an earlier scale-down) takes one slot.
    let mut c = Cb::new(7);
    backends(&mut c, 1, 9, M::Healthy);
    c.machine("10.0.0.10", M::Deactivating, Asg::Backend);
    let plan = plan_of(&c, &floor_of_six(), &["10.0.0.8", "10.0.0.9"]);
    let leaving: Vec<_> = deactivated(&plan)
        .into_iter()
        .filter(|(_, r)| *r == Reason::AsgTermination)
        .collect();
    assert_eq!(leaving.len(), 1, "{:?}", deactivated(&plan));
}

/// A leaving machine WEKA already deactivates stays in (the calls are idempotent) and takes its
/// slot; an unhealthy leaving machine does not lower the healthy count, so the floor allows it.
#[test]
fn leaving_machines_in_flight_or_unhealthy() {
    let mut c = Cb::new(6);
    backends(&mut c, 1, 6, M::Healthy);
    c.machine("10.0.0.7", M::Deactivating, Asg::Backend);
    c.machine("10.0.0.8", M::Unhealthy, Asg::Backend);
    let plan = plan_of(&c, &floor_of_six(), &["10.0.0.7", "10.0.0.8"]);
    let mut got = deactivated(&plan);
    got.sort_unstable();
    assert_eq!(
        got,
        [
            ("10.0.0.7", Reason::AsgTermination),
            ("10.0.0.8", Reason::AsgTermination)
        ]
    );
}

/// Healing shares the cap: two leaving machines in flight leave no slot for an unhealthy one.
#[test]
fn healing_and_leaving_share_the_in_flight_cap() {
    let mut c = Cb::new(8);
    backends(&mut c, 1, 9, M::Healthy);
    c.machine("10.0.0.20", M::Unhealthy, Asg::Backend);
    let plan = plan_of(&c, &floor_of_six(), &["10.0.0.8", "10.0.0.9"]);
    let mut got = deactivated(&plan);
    got.sort_unstable();
    assert_eq!(
        got,
        [
            ("10.0.0.8", Reason::AsgTermination),
            ("10.0.0.9", Reason::AsgTermination)
        ]
    );
}
