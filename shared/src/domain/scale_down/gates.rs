//! What may stop or limit a run: the policy and its safety floor, the deactivation target they
//! allow, the fetch-output validation and the "not now" gates.

use std::fmt;

use chrono::TimeDelta;

use crate::weka::model::{
    ClusterStatus, HostMode, HostsList, ManualOverrideList, SKIP_SCALE_DOWN_OVERRIDE,
};
use crate::wire::scale::HostGroupInfoResponse;

use super::DeltaViolation;

/// The minimum cluster geometry scale-down must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafetyFloor {
    /// Never shrink the backend group when desired is below this (stripe + protection + hot spare,
    /// or a configured larger minimum).
    pub min_cluster_size: u32,
    /// Start deactivating unhealthy machines only while at least this many machines are healthy
    /// (stripe + protection: enough failure domains for a full stripe without them).
    pub min_healthy_to_heal: u32,
}

impl SafetyFloor {
    /// No floor: the reference's behaviour.
    pub const NONE: Self = Self {
        min_cluster_size: 0,
        min_healthy_to_heal: 0,
    };

    /// Floor from the data-protection geometry.
    pub fn from_geometry(stripe_width: u32, protection_level: u32, hot_spare: u32) -> Self {
        Self {
            min_cluster_size: stripe_width + protection_level + hot_spare,
            min_healthy_to_heal: stripe_width + protection_level,
        }
    }

    /// Floor from the live `status` (`stripe_data_drives`, `stripe_protection_drives`, `hot_spare`).
    pub fn from_status(status: &ClusterStatus) -> Self {
        Self::from_geometry(
            status.stripe_data_drives,
            status.stripe_protection_drives,
            status.hot_spare,
        )
    }

    /// Raises `min_cluster_size` to a configured minimum (never lowers it).
    #[must_use]
    pub fn at_least(self, configured_minimum: u32) -> Self {
        Self {
            min_cluster_size: self.min_cluster_size.max(configured_minimum),
            ..self
        }
    }
}

/// Tunables of scale-down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleDownPolicy {
    /// DOWN/DEGRADED with a DOWN management node for this long → UNHEALTHY (reference: 120 min).
    pub unhealthy_timeout: TimeDelta,
    /// An INACTIVE drive makes a container unhealthy only once it was added this long ago (5 min).
    pub inactive_drive_grace: TimeDelta,
    /// An NFS host outside the interface group with a management node DOWN this long is deactivated (1 h).
    pub nfs_leftover_down_timeout: TimeDelta,
    /// Most machines deactivated at once because of unhealthiness (2).
    pub max_unhealthy_in_flight: u32,
    /// Safety floor for the backend group.
    pub floor: SafetyFloor,
}

impl ScaleDownPolicy {
    /// Reference timeouts with the given floor (no `Default`: callers must choose a floor).
    pub fn new(floor: SafetyFloor) -> Self {
        Self {
            unhealthy_timeout: TimeDelta::minutes(120),
            inactive_drive_grace: TimeDelta::minutes(5),
            nfs_leftover_down_timeout: TimeDelta::hours(1),
            max_unhealthy_in_flight: 2,
            floor,
        }
    }
}

/// A "not now" condition: scale-down is skipped this run; nothing is wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// `status.io_status` is not `STARTED`.
    IoNotStarted {
        /// The reported io status.
        io_status: String,
    },
    /// An upgrade is running.
    UpgradeRunning {
        /// The reported upgrade.
        upgrade: String,
    },
    /// An operator set the `skip_scale_down` manual override.
    ManualOverride,
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IoNotStarted { io_status } => {
                write!(f, "io status is {io_status:?}, not STARTED")
            }
            Self::UpgradeRunning { upgrade } => write!(f, "upgrade {upgrade:?} is running"),
            Self::ManualOverride => write!(f, "manual override {SKIP_SCALE_DOWN_OVERRIDE} is set"),
        }
    }
}

/// Why scale-down produced no plan or its result is unsafe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Skip this run (map to a non-failing "skipped" outcome that must not reach terminate).
    #[error("scale down skipped: {0}")]
    NotNow(Gate),
    /// The fetch output is invalid.
    #[error("invalid host group info: {}", .0.join("; "))]
    InvalidInput(Vec<String>),
    /// Only the `backend` role is supported (the reference returned an empty host list, §12.17).
    #[error("unsupported role {role:?}")]
    UnsupportedRole {
        /// The role received.
        role: String,
    },
    /// No `mode=backend` container named `drive*`: not a multi-backend-container cluster.
    #[error(
        "cluster has no backend drive container: only multi-backend-container clusters are supported"
    )]
    NotMultiBackendContainer,
    /// An instance headed for termination still has a live WEKA container (§9.7).
    #[error("unsafe delta: {}", .violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    UnsafeDelta {
        /// Every offending container.
        violations: Vec<DeltaViolation>,
    },
}

impl PlanError {
    /// Whether this is a "not now" condition rather than a failure.
    pub fn is_not_now(&self) -> bool {
        matches!(self, Self::NotNow(_))
    }
}

/// Machine counts of one group (clients excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MachineCounts {
    /// Healthy machines.
    pub healthy: u32,
    /// Machines with an unhealthy container.
    pub unhealthy: u32,
    /// Machines with a deactivating container and none unhealthy.
    pub deactivating: u32,
}

impl MachineCounts {
    /// All counted machines.
    pub fn total(self) -> u32 {
        self.healthy + self.unhealthy + self.deactivating
    }
}

/// How many machines to deactivate and what the floor refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetDecision {
    /// Machines to deactivate (the first `n` in priority order).
    pub n: u32,
    /// Desired was below `min_cluster_size`: no shrink.
    pub shrink_refused: bool,
    /// Healing held: too few healthy machines.
    pub healing_held: bool,
}

/// The reference formula `n = max(H+U+D−desired, min(2−D, U)); n = max(D, n)`, clamped to
/// `0..=H+U+D` (the reference could go negative for an empty group).
pub fn deactivation_target(healthy: u32, unhealthy: u32, deactivating: u32, desired: i64) -> u32 {
    decide_target(
        MachineCounts {
            healthy,
            unhealthy,
            deactivating,
        },
        desired,
        SafetyFloor::NONE,
        2,
    )
    .n
}

/// The formula with the safety floor: shrink is refused when `desired < min_cluster_size`;
/// healing (at most `max_in_flight − D` unhealthy machines) is held while fewer than
/// `min_healthy_to_heal` machines are healthy; already-deactivating machines always stay in.
pub fn decide_target(
    c: MachineCounts,
    desired: i64,
    floor: SafetyFloor,
    max_in_flight: u32,
) -> TargetDecision {
    let (h, u, d) = (
        i64::from(c.healthy),
        i64::from(c.unhealthy),
        i64::from(c.deactivating),
    );
    let total = h + u + d;
    let shrink_refused = desired < i64::from(floor.min_cluster_size);
    let shrink = if shrink_refused { 0 } else { total - desired };
    let heal_wanted = (i64::from(max_in_flight) - d).min(u);
    let healing_held = heal_wanted > 0 && h < i64::from(floor.min_healthy_to_heal);
    let heal = if healing_held { 0 } else { heal_wanted };
    let n = shrink.max(heal).max(d).clamp(0, total);
    TargetDecision {
        n: u32::try_from(n).unwrap_or(0),
        shrink_refused,
        healing_held,
    }
}

/// Checks the fetch output (§9.3 step 1; credentials are the shell's to check).
pub fn validate_input(info: &HostGroupInfoResponse) -> Result<(), PlanError> {
    let mut errs = Vec::new();
    if info.role.is_empty() {
        errs.push("role is empty".to_owned());
    }
    if info.weka_backends_desired_capacity <= 0 {
        errs.push(format!(
            "weka_backends_desired_capacity {} must be > 0",
            info.weka_backends_desired_capacity
        ));
    }
    if info.nfs_backends_desired_capacity < 0 {
        errs.push(format!(
            "nfs_backends_desired_capacity {} must be >= 0",
            info.nfs_backends_desired_capacity
        ));
    }
    if info.down_backends_removal_timeout <= 0 {
        errs.push(format!(
            "down_backends_removal_timeout {}ns must be > 0",
            info.down_backends_removal_timeout
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(PlanError::InvalidInput(errs))
    }
}

/// The "not now" gates: io started, no upgrade, no `skip_scale_down` override.
pub fn check_gates(
    status: &ClusterStatus,
    overrides: &ManualOverrideList,
) -> Result<(), PlanError> {
    if status.io_status != "STARTED" {
        return Err(PlanError::NotNow(Gate::IoNotStarted {
            io_status: status.io_status.clone(),
        }));
    }
    if !status.upgrade.is_empty() {
        return Err(PlanError::NotNow(Gate::UpgradeRunning {
            upgrade: status.upgrade.clone(),
        }));
    }
    // Any entry stops automation, enabled or not, as in the reference: the conservative reading.
    if overrides
        .values()
        .any(|o| o.key == SKIP_SCALE_DOWN_OVERRIDE)
    {
        return Err(PlanError::NotNow(Gate::ManualOverride));
    }
    Ok(())
}

/// Whether some backend container is a drive container (multi-backend-container cluster).
pub fn is_multi_backend_container(hosts: &HostsList) -> bool {
    hosts
        .values()
        .any(|h| h.mode == HostMode::Backend && h.container_name.contains("drive"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn floor_none_is_reference_formula() {
        assert_eq!(deactivation_target(20, 0, 0, 10), 10);
        assert_eq!(deactivation_target(0, 0, 0, 3), 0);
    }

    #[test]
    fn shrink_refused_below_minimum_but_healing_proceeds() {
        let d = decide_target(
            MachineCounts {
                healthy: 6,
                unhealthy: 1,
                deactivating: 0,
            },
            3,
            SafetyFloor::from_geometry(3, 2, 1),
            2,
        );
        assert!(d.shrink_refused);
        assert!(!d.healing_held);
        assert_eq!(d.n, 1);
    }

    #[test]
    fn healing_held_when_healthy_below_stripe() {
        let d = decide_target(
            MachineCounts {
                healthy: 4,
                unhealthy: 2,
                deactivating: 0,
            },
            6,
            SafetyFloor::from_geometry(3, 2, 1),
            2,
        );
        assert!(d.healing_held);
        assert_eq!(d.n, 0);
    }

    #[test]
    fn deactivating_kept_even_when_healing_held() {
        let d = decide_target(
            MachineCounts {
                healthy: 3,
                unhealthy: 2,
                deactivating: 1,
            },
            6,
            SafetyFloor::from_geometry(3, 2, 1),
            2,
        );
        assert_eq!(d.n, 1);
    }
}
