//! Typed serde models of the WEKA JSON-RPC results read by scale-down, and the mutating calls it issues.
//!
//! Decoding ignores unknown fields and tolerates `null`/missing optional fields, because WEKA adds
//! fields between versions and omits some (e.g. `aws` on a DOWN host).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod values;

pub use values::*;
use values::{null_default, opt_datetime};

/// `hosts_list[].aws`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AwsInfo {
    /// EC2 instance id.
    #[serde(deserialize_with = "null_default")]
    pub instance_id: CompactString,
}

/// One WEKA container (`hosts_list` value).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Host {
    /// When the container joined.
    #[serde(deserialize_with = "opt_datetime")]
    pub added_time: Option<DateTime<Utc>>,
    /// Last state change; null for long-running hosts.
    #[serde(deserialize_with = "opt_datetime")]
    pub state_changed_time: Option<DateTime<Utc>>,
    /// Lifecycle state.
    #[serde(deserialize_with = "null_default")]
    pub state: HostState,
    /// Health status.
    #[serde(deserialize_with = "null_default")]
    pub status: HostStatus,
    /// Private IP of the machine (shared by all its containers).
    #[serde(deserialize_with = "null_default")]
    pub host_ip: CompactString,
    /// Cloud metadata (missing when the host is DOWN).
    pub aws: Option<AwsInfo>,
    /// `drives0`, `compute0`, `frontend0`, `client`, ...
    #[serde(deserialize_with = "null_default")]
    pub container_name: CompactString,
    /// `backend` or `client`.
    #[serde(deserialize_with = "null_default")]
    pub mode: HostMode,
    /// Same for every container of one machine.
    #[serde(deserialize_with = "null_default")]
    pub machine_identifier: CompactString,
    /// Seconds after which WEKA removes a DOWN client on its own.
    pub auto_remove_timeout: Option<i64>,
}

impl Host {
    /// Whether this is a client container (never counted or scaled down).
    pub fn is_client(&self) -> bool {
        self.mode == HostMode::Client
    }

    /// The EC2 instance id WEKA knows for this container, if any.
    pub fn instance_id(&self) -> &str {
        self.aws.as_ref().map_or("", |a| a.instance_id.as_str())
    }
}

/// One drive (`disks_list` value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drive {
    /// Owning drive container; `HostId<INVALID>` when orphaned.
    #[serde(default = "invalid_host")]
    pub host_id: HostId,
    /// Drive status.
    #[serde(default, deserialize_with = "null_default")]
    pub status: DriveStatus,
    /// Drive uuid, the id used by the drive calls.
    #[serde(default, deserialize_with = "null_default")]
    pub uuid: String,
    /// False once deactivation was requested.
    #[serde(default, deserialize_with = "null_default")]
    pub should_be_active: bool,
}

fn invalid_host() -> HostId {
    HostId::INVALID
}

/// One process (`nodes_list` value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Owning container.
    #[serde(default = "invalid_host")]
    pub host_id: HostId,
    /// Node status.
    #[serde(default, deserialize_with = "null_default")]
    pub status: NodeStatus,
    /// Last fencing time.
    #[serde(default, deserialize_with = "opt_datetime")]
    pub last_fencing_time: Option<DateTime<Utc>>,
}

/// A port of an interface group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InterfaceGroupPort {
    /// Container uid.
    #[serde(deserialize_with = "null_default")]
    pub host_uid: String,
    /// Container id.
    #[serde(default = "invalid_host")]
    pub host_id: HostId,
    /// NIC name.
    #[serde(deserialize_with = "null_default")]
    pub port: String,
    /// Port status.
    #[serde(deserialize_with = "null_default")]
    pub status: String,
}

impl Default for HostId {
    fn default() -> Self {
        Self::INVALID
    }
}

/// One interface group (`interface_group_list` element).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InterfaceGroup {
    /// Group name (used by `interface_group_delete_port`).
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Group uid.
    #[serde(deserialize_with = "null_default")]
    pub uid: String,
    /// `NFS`, ...
    #[serde(rename = "type", deserialize_with = "null_default")]
    pub group_type: String,
    /// Group status.
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    /// Member ports.
    #[serde(deserialize_with = "null_default")]
    pub ports: Vec<InterfaceGroupPort>,
}

impl InterfaceGroup {
    /// Whether this is an NFS interface group.
    pub fn is_nfs(&self) -> bool {
        self.group_type.eq_ignore_ascii_case("NFS")
    }
}

/// One manual override (`manual_override_list` value).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ManualOverride {
    /// Override key, e.g. `skip_scale_down`.
    #[serde(deserialize_with = "null_default")]
    pub key: String,
    /// Override value.
    pub value: Option<Value>,
    /// Whether enabled.
    pub enabled: Option<bool>,
}

/// `status.hosts.{backends,clients}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ActiveTotal {
    /// Active count.
    #[serde(deserialize_with = "null_default")]
    pub active: u64,
    /// Total count.
    #[serde(deserialize_with = "null_default")]
    pub total: u64,
}

/// `status.hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusHosts {
    /// Active containers.
    #[serde(deserialize_with = "null_default")]
    pub active_count: u64,
    /// All containers.
    #[serde(deserialize_with = "null_default")]
    pub total_count: u64,
    /// Backend containers.
    #[serde(deserialize_with = "null_default")]
    pub backends: ActiveTotal,
    /// Client containers.
    #[serde(deserialize_with = "null_default")]
    pub clients: ActiveTotal,
}

/// The subset of the `status` result that scale-down and its safety floor read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterStatus {
    /// Cluster name.
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    /// Cluster guid.
    #[serde(deserialize_with = "null_default")]
    pub guid: String,
    /// Overall status (`OK`, ...).
    #[serde(deserialize_with = "null_default")]
    pub status: String,
    /// `STARTED` is required for scale-down.
    #[serde(deserialize_with = "null_default")]
    pub io_status: String,
    /// Non-empty while an upgrade runs.
    #[serde(deserialize_with = "null_default")]
    pub upgrade: String,
    /// Software release.
    #[serde(deserialize_with = "null_default")]
    pub release: String,
    /// Hot-spare failure domains.
    #[serde(deserialize_with = "null_default")]
    pub hot_spare: u32,
    /// Stripe data width.
    #[serde(deserialize_with = "null_default")]
    pub stripe_data_drives: u32,
    /// Stripe protection level.
    #[serde(deserialize_with = "null_default")]
    pub stripe_protection_drives: u32,
    /// Container counts.
    #[serde(deserialize_with = "null_default")]
    pub hosts: StatusHosts,
}

/// `hosts_list` result.
pub type HostsList = BTreeMap<HostId, Host>;
/// `disks_list` result.
pub type DrivesList = BTreeMap<DriveId, Drive>;
/// `nodes_list` result.
pub type NodesList = BTreeMap<NodeId, Node>;
/// `interface_group_list` result.
pub type InterfaceGroupList = Vec<InterfaceGroup>;
/// `manual_override_list` result, keyed by `ManualOverrideId<N>`.
pub type ManualOverrideList = BTreeMap<String, ManualOverride>;

/// Key of the manual override that stops automatic scale-down.
pub const SKIP_SCALE_DOWN_OVERRIDE: &str = "skip_scale_down";

/// A mutating JSON-RPC call planned by scale-down (behaviour.md §9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WekaCall {
    /// `cluster_remove_drives` (the reference sends one uuid per call).
    RemoveDrives {
        /// Drive uuids.
        drive_uuids: Vec<String>,
    },
    /// `cluster_remove_host` of an INACTIVE container, without waiting.
    RemoveHost {
        /// Container to remove.
        host_id: HostId,
    },
    /// `cluster_deactivate_drives`.
    DeactivateDrives {
        /// Drive uuids.
        drive_uuids: Vec<String>,
    },
    /// `cluster_deactivate_hosts` for all containers of one machine, with resource validation.
    DeactivateHosts {
        /// Containers of the machine.
        host_ids: Vec<HostId>,
    },
    /// `interface_group_delete_port`.
    InterfaceGroupDeletePort {
        /// Group name.
        name: String,
        /// Container holding the port.
        host_id: HostId,
        /// NIC name.
        port: String,
    },
    /// `events_trigger_custom` (audit event; failures are ignored).
    EventsTriggerCustom {
        /// Event text.
        message: String,
    },
}

impl WekaCall {
    /// JSON-RPC method name.
    pub fn method(&self) -> &'static str {
        match self {
            Self::RemoveDrives { .. } => "cluster_remove_drives",
            Self::RemoveHost { .. } => "cluster_remove_host",
            Self::DeactivateDrives { .. } => "cluster_deactivate_drives",
            Self::DeactivateHosts { .. } => "cluster_deactivate_hosts",
            Self::InterfaceGroupDeletePort { .. } => "interface_group_delete_port",
            Self::EventsTriggerCustom { .. } => "events_trigger_custom",
        }
    }

    /// JSON-RPC params, exactly as the reference sends them.
    pub fn params(&self) -> Value {
        match self {
            Self::RemoveDrives { drive_uuids } | Self::DeactivateDrives { drive_uuids } => {
                json!({ "drive_uuids": drive_uuids })
            }
            Self::RemoveHost { host_id } => json!({ "host_id": host_id.0, "no_wait": true }),
            Self::DeactivateHosts { host_ids } => {
                let ids: Vec<String> = host_ids.iter().map(ToString::to_string).collect();
                json!({ "host_ids": ids, "skip_resource_validation": false })
            }
            Self::InterfaceGroupDeletePort {
                name,
                host_id,
                port,
            } => json!({ "name": name, "host_id": host_id.to_string(), "port": port }),
            Self::EventsTriggerCustom { message } => json!({ "message": message }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::values::FastDateTime;
    use super::*;

    #[test]
    fn fast_datetime_matches_chrono() {
        let cases = [
            "2026-11-01T09:28:53.407011Z",
            "2026-11-01T09:30:00Z",
            "2026-11-09T00:00:00+00:00",
            "2026-11-09T23:59:59.999999999+05:30",
            "2026-01-01T00:00:00.1-08:00",
            "2024-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2026-11-01T24:00:00Z",
            "2026-11-01T09:28:60Z",
            "2026-11-01T09:28:53.Z",
            "2026-11-01T09:28:53.1234567891Z",
            "2026-11-01 09:28:53Z",
            "2026-11-01t09:28:53z",
            "2026-11-01T09:28:53+0000",
            "2026-11-01T09:28:53+24:00",
            "2026-11-01T09:28:53+23:59",
            "2026-11-01T09:28:53-00:00",
            "2026-11-01T09:28:53-12:60",
            "2026-11-01T09:28:53",
            "+2026-11-01T09:28:53Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2026-13-01T00:00:00Z",
            "20x6-11-01T00:00:00Z",
            "",
        ];
        for c in cases {
            let chrono = c
                .parse::<DateTime<chrono::FixedOffset>>()
                .map(|d| d.with_timezone(&Utc));
            assert_eq!(parse_datetime(c), chrono, "{c}");
            if let Some(fast) = parse_rfc3339_fast(c.as_bytes()) {
                assert_eq!(Ok(fast), chrono, "fast path {c}");
            }
            let json = serde_json::to_string(c).unwrap();
            let ours = serde_json::from_str::<FastDateTime>(&json).map(|t| t.0);
            let theirs = serde_json::from_str::<DateTime<Utc>>(&json);
            assert_eq!(ours.is_ok(), theirs.is_ok(), "{c}");
            if let (Ok(a), Ok(b)) = (&ours, &theirs) {
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn string_enums_decode_like_from_string() {
        for text in ["ACTIVE", "INACTIVE", "", "weird", "UP"] {
            let json = serde_json::to_string(text).unwrap();
            let got: HostState = serde_json::from_str(&json).unwrap();
            assert_eq!(got, HostState::from(text.to_owned()));
            assert_eq!(serde_json::to_string(&got).unwrap(), json);
        }
        let escaped: HostStatus = serde_json::from_str(r#""\u0055P""#).unwrap();
        assert_eq!(escaped, HostStatus::Up);
        assert!(serde_json::from_str::<HostStatus>("3").is_err());
    }

    #[test]
    fn host_id_parses_numbers_and_invalid() {
        assert_eq!("HostId<9>".parse::<HostId>().unwrap(), HostId(9));
        assert_eq!("HostId<INVALID>".parse::<HostId>().unwrap(), HostId(-1));
        assert_eq!(HostId(-1).to_string(), "HostId<INVALID>");
        assert_eq!(HostId(12).to_string(), "HostId<12>");
        assert!("DiskId<9>".parse::<HostId>().is_err());
        assert!("HostId<-3>".parse::<HostId>().is_err());
        assert!("HostId<9".parse::<HostId>().is_err());
        assert_eq!("DiskId<8>".parse::<DriveId>().unwrap(), DriveId(8));
    }

    #[test]
    fn management_node_is_multiple_of_twenty() {
        assert!(NodeId(0).is_management());
        assert!(NodeId(40).is_management());
        assert!(!NodeId(41).is_management());
        assert!(!NodeId(-1).is_management());
    }

    #[test]
    fn string_enums_keep_unknown_values() {
        let s: HostState = serde_json::from_str("\"PHASING\"").unwrap();
        assert_eq!(s, HostState::Other("PHASING".to_owned()));
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"PHASING\"");
    }

    #[test]
    fn host_tolerates_nulls_and_missing_fields() {
        let h: Host = serde_json::from_str(
            r#"{"state": null, "status": "DOWN", "aws": null, "added_time": null, "extra": [1]}"#,
        )
        .unwrap();
        assert_eq!(h.state, HostState::Unknown);
        assert_eq!(h.status, HostStatus::Down);
        assert_eq!(h.instance_id(), "");
    }

    #[test]
    fn call_params_match_reference() {
        let c = WekaCall::RemoveHost { host_id: HostId(7) };
        assert_eq!(c.method(), "cluster_remove_host");
        assert_eq!(c.params(), json!({"host_id": 7, "no_wait": true}));
        let c = WekaCall::DeactivateHosts {
            host_ids: vec![HostId(1), HostId(2)],
        };
        assert_eq!(
            c.params(),
            json!({"host_ids": ["HostId<1>", "HostId<2>"], "skip_resource_validation": false})
        );
        let c = WekaCall::InterfaceGroupDeletePort {
            name: "nfs1".to_owned(),
            host_id: HostId(3),
            port: "eth1".to_owned(),
        };
        assert_eq!(
            c.params(),
            json!({"name": "nfs1", "host_id": "HostId<3>", "port": "eth1"})
        );
        let c = WekaCall::DeactivateDrives {
            drive_uuids: vec!["u1".to_owned()],
        };
        assert_eq!(c.method(), "cluster_deactivate_drives");
        assert_eq!(c.params(), json!({"drive_uuids": ["u1"]}));
    }

    #[test]
    fn typed_id_fast_path_matches_the_text_parse() {
        let cases = [
            "HostId<0>",
            "HostId<42>",
            "HostId<007>",
            "HostId<999999999999999999>",
            "HostId<9999999999999999999>",
            "HostId<9223372036854775807>",
            "HostId<INVALID>",
            "HostId<>",
            "HostId<-4>",
            "HostId<+4>",
            "HostId<4",
            "HostId4>",
            "HostId<4a>",
            "HostId< 4>",
            "HostI<4>",
            "DiskId<4>",
            "hostId<4>",
            "HostId<4>>",
            "",
        ];
        for case in cases {
            assert_eq!(
                parse_typed_id_bytes("HostId", case.as_bytes()),
                parse_typed_id("HostId", case),
                "{case}"
            );
        }
    }
}
