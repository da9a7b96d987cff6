//! Machines the Auto Scaling group terminates on its own (terminate hook): which of them may be
//! deactivated now. They are held to the rules of ordinary scale-down: a healthy one goes only
//! if the healthy machines left keep the safety floor (`min_cluster_size`), an unhealthy one
//! only while enough machines are healthy to heal (`min_healthy_to_heal`), and no more machines
//! are in flight (deactivating) at once than `max_unhealthy_in_flight`. One WEKA already
//! deactivates is always kept (the calls are idempotent) and takes its slot. The rest are held
//! back; their hooks are kept alive, and the hook's deadline is the only override.

use std::fmt;

use super::{MachineCounts, SafetyFloor, ScaleState};

/// Why a leaving machine is not deactivated this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldReason {
    /// Deactivating it would leave fewer healthy machines than `minimum`.
    Floor {
        /// Healthy machines now (the leaving ones still serving included).
        healthy: u32,
        /// What must stay healthy (`min_cluster_size`; `min_healthy_to_heal` for an unhealthy
        /// machine).
        minimum: u32,
    },
    /// `cap` machines are deactivating already.
    InFlight {
        /// Machines in flight, with those chosen this run.
        in_flight: u32,
        /// The cap (`max_unhealthy_in_flight`).
        cap: u32,
    },
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Floor { healthy, minimum } => write!(
                f,
                "held back by the safety floor: {healthy} healthy machine(s), at least {minimum} \
                 must stay active; it leaves once a replacement has joined (or at the hook's \
                 deadline)"
            ),
            Self::InFlight { in_flight, cap } => write!(
                f,
                "held back by the in-flight cap: {in_flight} machine(s) in flight (deactivating), \
                 at most {cap} at once"
            ),
        }
    }
}

/// A leaving machine not deactivated this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldMachine {
    /// Machine IP.
    pub ip: String,
    /// Why.
    pub reason: HoldReason,
}

/// What [`admit_leaving`] decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeavingDecision<T> {
    /// To deactivate (or keep deactivating), in decision order.
    pub admitted: Vec<T>,
    /// Held back, with why.
    pub held: Vec<(T, HoldReason)>,
    /// Leaving machines in flight once the admitted ones are: the in-flight slots they take
    /// from healing.
    pub in_flight: u32,
}

/// Decides which leaving machines (`(machine, state)`, in IP order) may be deactivated, given
/// the counts of the whole group (the leaving machines included), the floor and the cap.
/// Already deactivating machines first, then unhealthy ones, then healthy ones, each in IP order.
pub fn admit_leaving<T: Copy>(
    leaving: &[(T, ScaleState)],
    group: MachineCounts,
    floor: SafetyFloor,
    cap: u32,
) -> LeavingDecision<T> {
    let mut ordered: Vec<(T, ScaleState)> = leaving.to_vec();
    ordered.sort_by_key(|(_, state)| *state);
    let mut in_flight = group.deactivating;
    let mut healthy = group.healthy;
    let mut decision = LeavingDecision {
        admitted: Vec::new(),
        held: Vec::new(),
        in_flight: 0,
    };
    for (machine, state) in ordered {
        let floor_hold = match state {
            ScaleState::Deactivating => {
                decision.admitted.push(machine);
                decision.in_flight += 1;
                continue;
            }
            ScaleState::Unhealthy => {
                (healthy < floor.min_healthy_to_heal).then_some(HoldReason::Floor {
                    healthy,
                    minimum: floor.min_healthy_to_heal,
                })
            }
            ScaleState::Healthy => {
                (healthy.saturating_sub(1) < floor.min_cluster_size).then_some(HoldReason::Floor {
                    healthy,
                    minimum: floor.min_cluster_size,
                })
            }
        };
        let hold = floor_hold
            .or_else(|| (in_flight >= cap).then_some(HoldReason::InFlight { in_flight, cap }));
        if let Some(reason) = hold {
            decision.held.push((machine, reason));
            continue;
        }
        decision.admitted.push(machine);
        decision.in_flight += 1;
        in_flight += 1;
        if state == ScaleState::Healthy {
            healthy -= 1;
        }
    }
    decision
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FLOOR: SafetyFloor = SafetyFloor {
        min_cluster_size: 6,
        min_healthy_to_heal: 5,
    };

    fn counts(healthy: u32, unhealthy: u32, deactivating: u32) -> MachineCounts {
        MachineCounts {
            healthy,
            unhealthy,
            deactivating,
        }
    }

    #[test]
    fn the_floor_holds_healthy_machines_and_names_itself() {
        let leaving = [(1, ScaleState::Healthy), (2, ScaleState::Healthy)];
        let d = admit_leaving(&leaving, counts(6, 0, 0), FLOOR, 2);
        assert!(d.admitted.is_empty());
        let reason = HoldReason::Floor {
            healthy: 6,
            minimum: 6,
        };
        assert_eq!(d.held, vec![(1, reason), (2, reason)]);
        assert!(reason.to_string().contains("safety floor"), "{reason}");
        let d = admit_leaving(&leaving, counts(7, 0, 0), FLOOR, 2);
        assert_eq!(d.admitted, vec![1]);
        assert_eq!(d.held.len(), 1);
        assert_eq!(d.in_flight, 1);
    }

    #[test]
    fn the_cap_counts_what_is_in_flight_already() {
        let leaving = [
            (1, ScaleState::Healthy),
            (2, ScaleState::Healthy),
            (3, ScaleState::Deactivating),
        ];
        let d = admit_leaving(&leaving, counts(20, 0, 1), FLOOR, 2);
        // 3 is in flight (counted in `deactivating`) and kept; one more slot: 1.
        assert_eq!(d.admitted, vec![3, 1]);
        assert_eq!(
            d.held,
            vec![(
                2,
                HoldReason::InFlight {
                    in_flight: 2,
                    cap: 2
                }
            )]
        );
        assert!(d.held[0].1.to_string().contains("in flight"));
        assert_eq!(d.in_flight, 2);
    }

    #[test]
    fn an_unhealthy_machine_goes_first_and_keeps_the_healthy_count() {
        let leaving = [(1, ScaleState::Healthy), (2, ScaleState::Unhealthy)];
        let d = admit_leaving(&leaving, counts(7, 1, 0), FLOOR, 2);
        assert_eq!(d.admitted, vec![2, 1]);
        // Below the healing floor an unhealthy machine waits too.
        let d = admit_leaving(&[(2, ScaleState::Unhealthy)], counts(4, 1, 0), FLOOR, 2);
        assert_eq!(
            d.held,
            vec![(
                2,
                HoldReason::Floor {
                    healthy: 4,
                    minimum: 5
                }
            )]
        );
    }

    #[test]
    fn without_a_floor_only_the_cap_holds() {
        let leaving = [(1, ScaleState::Healthy)];
        let d = admit_leaving(&leaving, counts(1, 0, 0), SafetyFloor::NONE, 2);
        assert_eq!(d.admitted, vec![1]);
    }
}
