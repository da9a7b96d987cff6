//! Wire contracts of the Fetch → ScaleDown → Terminate → Transient pipeline (behaviour.md §5.8–5.11).
//!
//! Field names are the reference's exactly (including the capitalised `Id`/`PrivateIp` and
//! `TransientErrors`); secrets are wrapped in [`Secret`] so `Debug` never prints them.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::weka::model::{HostId, HostState};

/// Protocol version carried by every message of the pipeline.
pub const PROTOCOL_VERSION: i64 = 1;

/// A secret string: serialises verbatim, `Debug`/`Display` print `***`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(#[serde(deserialize_with = "null_default")] String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is sent.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty (then it is omitted from JSON).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Serialises an empty list as `null` (the reference's nil slice).
fn empty_as_null<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        v.serialize(s)
    }
}

/// An ASG instance as the reference's untagged Go struct writes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InstanceRef {
    /// EC2 instance id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Private IP.
    #[serde(rename = "PrivateIp", default, deserialize_with = "null_default")]
    pub private_ip: String,
}

/// The empty object used as the value of `nfs_interface_group_instance_ips`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// Output of fetch / input of scale-down (§5.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostGroupInfoResponse {
    /// WEKA user (may be empty when the secrets endpoint is used).
    #[serde(default, deserialize_with = "null_default")]
    pub username: String,
    /// WEKA password; omitted when empty.
    #[serde(default, skip_serializing_if = "Secret::is_empty")]
    pub password: Secret,
    /// Admin password; omitted when empty.
    #[serde(default, skip_serializing_if = "Secret::is_empty")]
    pub admin_password: Secret,
    /// Backend ASG desired capacity.
    #[serde(default, deserialize_with = "null_default")]
    pub weka_backends_desired_capacity: i64,
    /// NFS ASG desired capacity (0 when none).
    #[serde(default, deserialize_with = "null_default")]
    pub nfs_backends_desired_capacity: i64,
    /// Backend ASG instances that have a private IP.
    #[serde(default, deserialize_with = "null_default")]
    pub weka_backend_instances: Vec<InstanceRef>,
    /// NFS ASG instances (null when there is no NFS ASG).
    #[serde(default)]
    pub nfs_backend_instances: Option<Vec<InstanceRef>>,
    /// NFS instances tagged as once having joined the interface group.
    #[serde(default)]
    pub nfs_interface_group_instance_ips: Option<BTreeMap<String, Empty>>,
    /// DOWN-backend kick-out timeout in nanoseconds (Go `time.Duration`).
    #[serde(default, deserialize_with = "null_default")]
    pub down_backends_removal_timeout: i64,
    /// Running instances tagged as backends.
    #[serde(default, deserialize_with = "null_default")]
    pub backend_ips: Vec<String>,
    /// `backend`.
    #[serde(default, deserialize_with = "null_default")]
    pub role: String,
    /// Protocol version.
    #[serde(default, deserialize_with = "null_default")]
    pub version: i64,
    /// Backend instances Auto Scaling holds in a lifecycle wait state (`Pending:Wait`,
    /// `Terminating:Wait`), by instance id, as `scale-fetch` found the group (new; absent from
    /// `fetch`'s answer). Scale-down acts on a recorded lifecycle action only when this confirms
    /// it; absent, nothing is confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_waits: Option<BTreeMap<String, String>>,
}

impl HostGroupInfoResponse {
    /// The DOWN-backend kick-out timeout as a duration.
    pub fn down_backends_removal_timeout(&self) -> TimeDelta {
        TimeDelta::nanoseconds(self.down_backends_removal_timeout)
    }

    /// NFS instances, empty when there is no NFS ASG.
    pub fn nfs_instances(&self) -> &[InstanceRef] {
        self.nfs_backend_instances.as_deref().unwrap_or_default()
    }

    /// Whether Auto Scaling, as fetched this run, holds `instance_id` in `wait_state`.
    pub fn confirms_wait(&self, instance_id: &str, wait_state: &str) -> bool {
        self.lifecycle_waits
            .as_ref()
            .and_then(|w| w.get(instance_id))
            .is_some_and(|s| s == wait_state)
    }

    /// Whether an NFS instance IP once joined the interface group.
    pub fn nfs_ip_was_in_group(&self, ip: &str) -> bool {
        self.nfs_interface_group_instance_ips
            .as_ref()
            .is_some_and(|m| m.contains_key(ip))
    }
}

/// One WEKA container reported by scale-down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleHost {
    /// EC2 instance id known to WEKA (may be empty for DOWN hosts).
    #[serde(default, deserialize_with = "null_default")]
    pub instance_id: String,
    /// Machine private IP.
    #[serde(default, deserialize_with = "null_default")]
    pub private_ip: String,
    /// The WEKA host **state**.
    #[serde(default, deserialize_with = "null_default")]
    pub status: HostState,
    /// When the container joined (Go zero time when unknown).
    pub added_time: DateTime<Utc>,
    /// `HostId<N>`.
    pub host_id: HostId,
}

/// What the safety floor refused in one scale-down run (new; absent in the reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Requested desired machine count.
    pub desired: i64,
    /// `min_cluster_size` the floor enforces.
    pub minimum: u32,
    /// True when `desired < minimum`: nothing was deactivated to shrink.
    pub shrink_refused: bool,
    /// Set when healing of unhealthy machines was held back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healing_held: Option<HealingHold>,
}

/// Healing held because too few healthy machines remain to carry a full stripe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealingHold {
    /// Healthy machines counted.
    pub healthy: u32,
    /// Healthy machines required before unhealthy ones are deactivated.
    pub required: u32,
}

/// Output of scale-down / input of terminate (§5.9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleResponse {
    /// Every non-client WEKA container that is not on a machine being removed.
    #[serde(default, deserialize_with = "null_default")]
    pub hosts: Vec<ScaleHost>,
    /// Instances whose WEKA containers were removed: terminate them.
    #[serde(default, deserialize_with = "null_default")]
    pub to_terminate: Vec<InstanceRef>,
    /// Errors to surface at the end of the execution (null when none).
    #[serde(
        rename = "TransientErrors",
        default,
        deserialize_with = "null_default",
        serialize_with = "empty_as_null"
    )]
    pub transient_errors: Vec<String>,
    /// Protocol version.
    #[serde(default, deserialize_with = "null_default")]
    pub version: i64,
    /// Safety-floor refusal (new; absent in the reference and when nothing was refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// Instances the group is terminating (terminate hook) whose machines were not deactivated
    /// because of the safety floor or the in-flight cap (new; absent when none). Terminate
    /// heartbeats their hooks so they do not time out while held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_back: Vec<HeldBack>,
}

/// Input of terminate: scale-down's answer (the reference's shape), or, when scale-down failed,
/// the failure the state machine caught in its place (new; absent in the reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminateInput {
    /// Scale-down's answer; empty when scale-down failed.
    #[serde(flatten)]
    pub scale: ScaleResponse,
    /// Set when scale-down failed (after its retries): terminate then has no scale answer and
    /// does only what needs none (new; absent when scale-down answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_failure: Option<ScaleDownFailure>,
}

/// A step failure as a Step Functions `Catch` records it (`{"Error": .., "Cause": ..}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleDownFailure {
    /// The error name (`Weka.InvalidInput`, `States.Timeout`, ...).
    #[serde(rename = "Error", default, deserialize_with = "null_default")]
    pub error: String,
    /// The cause: for a Lambda error, the JSON of its `errorType`/`errorMessage`.
    #[serde(rename = "Cause", default, deserialize_with = "null_default")]
    pub cause: String,
}

impl ScaleDownFailure {
    /// The human message: a Lambda error's `errorMessage`, else the cause as given.
    pub fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.cause)
            .ok()
            .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| self.cause.clone())
    }
}

/// A terminating instance whose machine scale-down did not deactivate this run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldBack {
    /// EC2 instance id.
    pub instance_id: String,
    /// Its machine's private IP.
    pub private_ip: String,
    /// Why (`held back by the safety floor: ...`).
    pub reason: String,
}

/// An instance terminate actually terminated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminatedInstance {
    /// EC2 instance id.
    pub instance_id: String,
    /// EC2 launch time.
    pub creation_date: DateTime<Utc>,
}

/// Output of terminate / input of transient (§5.10, §5.11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminatedInstancesResponse {
    /// Terminated instances.
    #[serde(default, deserialize_with = "null_default")]
    pub set_to_terminate_instances: Vec<TerminatedInstance>,
    /// Errors carried from scale-down plus terminate's own.
    #[serde(
        rename = "TransientErrors",
        default,
        deserialize_with = "null_default",
        serialize_with = "empty_as_null"
    )]
    pub transient_errors: Vec<String>,
    /// Protocol version.
    #[serde(default, deserialize_with = "null_default")]
    pub version: i64,
    /// Scale-down's failure, passed on when terminate ran without a scale answer, so the state
    /// machine still ends failed with it (new; absent when scale-down answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_failure: Option<ScaleDownFailure>,
}

impl TerminatedInstancesResponse {
    /// The transient step's failure message, `None` when the execution may succeed (§5.11).
    pub fn transient_failure(&self) -> Option<String> {
        (!self.transient_errors.is_empty()).then(|| {
            format!(
                "the following errors were found:\n{}",
                self.transient_errors.join("\n")
            )
        })
    }
}

/// Go's zero `time.Time` (`0001-01-01T00:00:00Z`), used when WEKA reports no time.
pub fn go_zero_time() -> DateTime<Utc> {
    DateTime::from_timestamp(-62_135_596_800, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_never_prints_passwords() {
        let info: HostGroupInfoResponse = serde_json::from_str(
            r#"{"username":"u","password":"hunter2","admin_password":"root-pw","role":"backend"}"#,
        )
        .unwrap();
        let dbg = format!("{info:?}");
        assert!(!dbg.contains("hunter2"));
        assert!(!dbg.contains("root-pw"));
        assert!(dbg.contains("***"));
        assert_eq!(info.password.expose(), "hunter2");
    }

    #[test]
    fn empty_passwords_are_omitted_and_transient_errors_null() {
        let info: HostGroupInfoResponse = serde_json::from_str(r#"{"username":""}"#).unwrap();
        let v = serde_json::to_value(&info).unwrap();
        assert!(v.get("password").is_none());
        assert!(v.get("admin_password").is_none());
        let r = ScaleResponse {
            hosts: vec![],
            to_terminate: vec![],
            transient_errors: vec![],
            version: 1,
            refusal: None,
            held_back: Vec::new(),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert!(v["TransientErrors"].is_null());
        assert!(v.get("refusal").is_none());
    }

    #[test]
    fn go_zero_time_is_year_one() {
        assert_eq!(go_zero_time().to_rfc3339(), "0001-01-01T00:00:00+00:00");
    }
}
