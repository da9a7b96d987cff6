//! Payloads of the bootstrap-path Lambdas (`deploy`, `clusterize`, `clusterize-finalization`,
//! `report`, `status`), field for field as the reference sends them (behaviour.md §5).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// The kind of instance calling: a backend (the reference sends `""` or nothing) or a gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Protocol {
    /// A WEKA backend (`""`).
    #[default]
    Backend,
    /// An NFS protocol gateway (`"nfs"`).
    Nfs,
    /// An SMB protocol gateway (`"smb"`).
    Smb,
    /// An SMB-W protocol gateway (`"smbw"`).
    Smbw,
    /// An S3 protocol gateway (`"s3"`).
    S3,
    /// A data-services instance (`"data"`).
    Data,
}

impl Protocol {
    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Backend => "",
            Self::Nfs => "nfs",
            Self::Smb => "smb",
            Self::Smbw => "smbw",
            Self::S3 => "s3",
            Self::Data => "data",
        }
    }

    /// Parses the wire spelling; `None` for anything unknown.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "" | "backend" => Self::Backend,
            "nfs" => Self::Nfs,
            "smb" => Self::Smb,
            "smbw" => Self::Smbw,
            "s3" => Self::S3,
            "data" => Self::Data,
            _ => return None,
        })
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Protocol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Option::<String>::deserialize(d)?.unwrap_or_default();
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unsupported protocol {text:?}: expected \"\", nfs, smb, smbw, s3 or data"
            ))
        })
    }
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// An instance as it introduces itself (`deploy` and `clusterize` input, and an element of the
/// registered `instances` list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Vm {
    /// EC2 instance id.
    #[serde(deserialize_with = "null_as_empty")]
    pub name: String,
    /// What kind of instance this is.
    #[serde(default)]
    pub protocol: Protocol,
    /// WEKA container uid (NFS gateways only).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub container_uid: String,
    /// NIC used for the NFS interface group (NFS gateways only).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub nic_name: String,
}

/// An instance's proof of who it is: the identity document and signature its metadata service
/// hands out (`/latest/dynamic/instance-identity/document` and `…/signature`), sent as an
/// `identity` field beside any instance request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProof {
    /// The document, byte for byte as IMDS served it.
    pub document: String,
    /// Its base64 signature.
    pub signature: String,
}

/// `report` input: `{"type","message","hostname","protocol"}`.
///
/// `type` stays a string here so an unknown value is answered with a typed error that names it
/// (`Weka.InvalidInput`) rather than a generic decode failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    /// `progress`, `error` or `debug`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Free text; quotes and newlines are fine.
    #[serde(deserialize_with = "null_as_empty")]
    pub message: String,
    /// Reporting host (usually `$HOSTNAME`, sometimes an instance id).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub hostname: String,
    /// `nfs` reports go to the NFS gateway group's state.
    #[serde(default)]
    pub protocol: Protocol,
}

/// `status` input: `{"type":"status"|"progress","protocol":""|"nfs"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRequest {
    /// `status` or `progress`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `nfs` reads the NFS gateway group's state.
    #[serde(default)]
    pub protocol: Protocol,
}

/// `clusterize-finalization` input: `{}`, `{"protocol":"nfs"}`, or — in the role of the
/// reference's `join-nfs-finalization` — `{"name":"<instance-id>","protocol":"nfs"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FinalizationRequest {
    /// Which group to finalize.
    #[serde(default)]
    pub protocol: Protocol,
    /// An NFS gateway that joined an already set-up interface group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `status` answer to `{"type":"status"}` (behaviour.md §11), plus optional additions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// Size the cluster was created with.
    pub initial_size: u32,
    /// The group's current desired capacity (from the ASG when it can be read).
    pub desired_size: u32,
    /// Whether clusterization finished.
    pub clusterized: bool,
    /// WEKA's own `status` result; the all-zero object before clusterization, `null` when the
    /// cluster could not be asked (see `weka_status_error`).
    pub weka_status: Option<serde_json::Value>,
    /// Why `weka_status` is missing, when the WEKA call failed. The reference swallowed this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weka_status_error: Option<String>,
    /// When WEKA refuses the control plane's login on a clusterized cluster (e.g. the
    /// deployment user was never added): which user, WEKA's answer, and that the control plane
    /// cannot heal or scale down until it can log in again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weka_login_error: Option<String>,
    /// When clusterization finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusterized_at: Option<String>,
    /// The last scale-down refusal (safety floor), if the latest run refused to shrink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_refusal: Option<serde_json::Value>,
    /// The scale lease while runs find it held: holder, until, refused since, refused runs, and
    /// whether that has lasted beyond one lease period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_lease_held: Option<serde_json::Value>,
    /// The last scale-down that failed after its retries (`error`, `message`, `at`,
    /// `execution`), and whether it is the latest scale-down outcome (`latest`: no scale-down
    /// answered since); absent when none failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_failure: Option<serde_json::Value>,
    /// Instances held in a lifecycle wait state (launch or terminate hook), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_waiting: Vec<LifecycleWaiting>,
    /// Scale-down's WEKA calls that WEKA refused with an answer that stands, not sent again
    /// unchanged until the cluster view changes or `retry_after` passes; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weka_refusals: Vec<WekaRefusalShown>,
    /// Scale-down and terminations paused by an operator: who, why, since when; absent when
    /// not paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<PausedShown>,
}

/// An operator's pause, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedShown {
    /// Who paused.
    pub paused_by: String,
    /// Why (may be empty).
    pub reason: String,
    /// Since when (RFC 3339).
    pub since: String,
}

/// A WEKA refusal that stands, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WekaRefusalShown {
    /// The machine's IP (`cluster` for calls on no machine).
    pub machine: String,
    /// The refused JSON-RPC method (`cluster_deactivate_hosts`, ...).
    pub call: String,
    /// WEKA's JSON-RPC error code.
    pub code: i64,
    /// WEKA's message.
    pub reason: String,
    /// The first refusal (RFC 3339).
    pub since: String,
    /// When the unchanged call is tried again at the earliest (RFC 3339).
    pub retry_after: String,
    /// Refusals in a row so far.
    pub refused_runs: u32,
}

/// An instance held by a lifecycle hook, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleWaiting {
    /// EC2 instance id.
    pub instance_id: String,
    /// `Pending:Wait` (launch hook) or `Terminating:Wait` (terminate hook).
    pub lifecycle_state: String,
    /// When the wait started (RFC 3339).
    pub since: String,
    /// How long it has waited so far.
    pub waiting_seconds: i64,
    /// `waiting`, or `decided` when the outcome is fixed but AWS was not told yet.
    pub phase: String,
    /// The decided outcome and why (`CONTINUE: the instance joined the cluster`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// Last heartbeat (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_at: Option<String>,
    /// Why the last scale-down did not deactivate the machine of this terminating instance
    /// (the safety floor or the in-flight cap); absent when it was not held back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_back: Option<String>,
}

/// Per-host message lists, `"HH:MM:SS UTC: <message>"` as the reference prints them.
pub type HostMessages = BTreeMap<String, Vec<String>>;

/// A report with its full date, as added to the `progress` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatedMessage {
    /// RFC 3339 UTC timestamp.
    pub time: String,
    /// `progress`, `error` or `debug`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The reported text.
    pub message: String,
}

/// `summary` of the `progress` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProgressSummary {
    /// Instances registered and waiting for clusterization.
    pub ready_for_clusterization: u32,
    /// Always 0 (kept for compatibility; the reference never filled it).
    pub stopped: u32,
    /// Hosts reporting that are running and not yet registered.
    pub in_progress: u32,
    /// Always null (kept for compatibility).
    pub unknown: Option<Vec<String>>,
    /// Number of instances that trigger clusterization.
    pub clusterization_target: u32,
    /// The instance that completed the set and runs clusterization, or `""`.
    pub clusterization_instance: String,
    /// Whether clusterization finished.
    pub clusterized: bool,
}

/// `status` answer to `{"type":"progress"}` (behaviour.md §11), plus dated messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressResponse {
    /// Registered instance ids; `null` once clusterized.
    pub ready_for_clusterization: Option<Vec<String>>,
    /// Progress lines per host; `null` when none.
    pub progress: Option<HostMessages>,
    /// Error lines per host; `null` when none.
    pub errors: Option<HostMessages>,
    /// Debug lines per host; `null` when none (the reference never returned them).
    pub debug: Option<HostMessages>,
    /// Hosts reporting that are running and not yet registered; `null` once clusterized.
    pub in_progress: Option<Vec<String>>,
    /// Counters.
    pub summary: ProgressSummary,
    /// Every report with its full date, per host, oldest first.
    #[serde(default)]
    pub messages: BTreeMap<String, Vec<DatedMessage>>,
    /// Present when the oldest reports were left out to keep the answer under Lambda's 6 MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<ProgressCut>,
}

/// What a cut `progress` answer left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressCut {
    /// Reports left out (the oldest).
    pub omitted_reports: u64,
    /// The answer's budget, in bytes.
    pub budget_bytes: u64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn round_trip<T>(value: serde_json::Value) -> T
    where
        T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        let parsed: T = serde_json::from_value(value).unwrap();
        let again: T = serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
        assert_eq!(parsed, again);
        parsed
    }

    #[test]
    fn vm_accepts_user_data_payload_and_nulls() {
        let vm: Vm = round_trip(json!({"name": "i-0abc"}));
        assert_eq!(vm.protocol, Protocol::Backend);
        let vm: Vm =
            round_trip(json!({"name":"i-1","protocol":null,"container_uid":null,"nic_name":null}));
        assert_eq!(vm.container_uid, "");
        let vm: Vm = round_trip(
            json!({"name":"i-2","protocol":"nfs","container_uid":"u-1","nic_name":"eth1"}),
        );
        assert_eq!(vm.protocol, Protocol::Nfs);
        assert_eq!(serde_json::to_value(&vm).unwrap()["protocol"], "nfs");
    }

    #[test]
    fn unknown_protocol_is_rejected_with_its_name() {
        let err = serde_json::from_value::<Vm>(json!({"name":"i","protocol":"ftp"})).unwrap_err();
        assert!(err.to_string().contains("\"ftp\""), "{err}");
    }

    #[test]
    fn report_and_status_requests_round_trip() {
        let r: ReportRequest = round_trip(json!({
            "type":"error","message":"drive \"nvme1\" failed: $(x)","hostname":"ip-10-0-0-1","protocol":""
        }));
        assert_eq!(r.kind, "error");
        let s: StatusRequest = round_trip(json!({"type":"progress"}));
        assert_eq!(s.protocol, Protocol::Backend);
        let f: FinalizationRequest = round_trip(json!({}));
        assert_eq!(f.protocol, Protocol::Backend);
        let f: FinalizationRequest = round_trip(json!({"protocol":"nfs"}));
        assert_eq!(f.protocol, Protocol::Nfs);
    }

    #[test]
    fn progress_response_has_reference_field_names() {
        let reference = json!({
          "ready_for_clusterization": ["i-0aaa", "i-0bbb"],
          "progress": {"ip-10-0-1-10.ec2.internal": ["09:01:02 UTC: Downloading weka install script"]},
          "errors": null, "debug": null,
          "in_progress": ["ip-10-0-1-12.ec2.internal"],
          "summary": {"ready_for_clusterization": 2, "stopped": 0, "in_progress": 1, "unknown": null,
                      "clusterization_target": 6, "clusterization_instance": "", "clusterized": false}
        });
        let parsed: ProgressResponse = round_trip(reference.clone());
        let out = serde_json::to_value(&parsed).unwrap();
        for key in reference.as_object().unwrap().keys() {
            assert_eq!(out[key], reference[key], "{key}");
        }
    }

    #[test]
    fn status_response_has_reference_field_names() {
        let s: StatusResponse = round_trip(json!({
            "initial_size": 6, "desired_size": 6, "clusterized": true,
            "weka_status": {"io_status": "STARTED", "status": "OK"}
        }));
        let out = serde_json::to_value(&s).unwrap();
        assert_eq!(out["weka_status"]["io_status"], "STARTED");
        assert!(out.get("weka_status_error").is_none());
    }
}
