//! Decodes the WEKA JSON-RPC fixtures and round-trips the wire fixtures.
#![allow(clippy::unwrap_used)]

use serde::Serialize;
use serde::de::DeserializeOwned;
use weka_shared::weka::model::*;
use weka_shared::wire::scale::*;

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(path: &str) -> T {
    let text = fixture(path);
    let parsed: T = serde_json::from_str(&text).unwrap();
    let again: T = serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
    assert_eq!(parsed, again, "{path} round-trip");
    parsed
}

#[test]
fn hosts_list_decodes_with_nulls_and_unknown_fields() {
    let hosts: HostsList = serde_json::from_str(&fixture("weka/hosts_list.json")).unwrap();
    assert_eq!(hosts.len(), 10);
    let h0 = &hosts[&HostId(0)];
    assert_eq!(h0.state, HostState::Active);
    assert_eq!(h0.mode, HostMode::Backend);
    assert_eq!(h0.instance_id(), "i-0000");
    assert!(h0.state_changed_time.is_none());
    let down = &hosts[&HostId(6)];
    assert_eq!(down.status, HostStatus::Down);
    assert_eq!(down.instance_id(), "");
    let client = &hosts[&HostId(9)];
    assert!(client.is_client());
    assert_eq!(client.auto_remove_timeout, Some(3600));
}

#[test]
fn disks_list_decodes_orphans_as_invalid_host() {
    let disks: DrivesList = serde_json::from_str(&fixture("weka/disks_list.json")).unwrap();
    assert_eq!(disks.len(), 7);
    let orphan = &disks[&DriveId(6)];
    assert!(orphan.host_id.is_invalid());
    assert_eq!(orphan.status, DriveStatus::Inactive);
    assert!(!orphan.should_be_active);
}

#[test]
fn nodes_list_decodes_and_flags_management_nodes() {
    let nodes: NodesList = serde_json::from_str(&fixture("weka/nodes_list.json")).unwrap();
    assert_eq!(nodes.len(), 18);
    assert_eq!(nodes.keys().filter(|n| n.is_management()).count(), 9);
    let fenced = &nodes[&NodeId(120)];
    assert_eq!(fenced.status, NodeStatus::Down);
    assert!(fenced.last_fencing_time.is_some());
}

#[test]
fn interface_groups_overrides_and_status_decode() {
    let groups: InterfaceGroupList =
        serde_json::from_str(&fixture("weka/interface_group_list.json")).unwrap();
    assert!(groups[0].is_nfs());
    assert_eq!(groups[0].ports[0].host_id, HostId(30));
    assert_eq!(groups[0].ports[0].port, "eth1");
    let ov: ManualOverrideList =
        serde_json::from_str(&fixture("weka/manual_override_list.json")).unwrap();
    assert_eq!(ov["ManualOverrideId<3>"].key, SKIP_SCALE_DOWN_OVERRIDE);
    let st: ClusterStatus = serde_json::from_str(&fixture("weka/status.json")).unwrap();
    assert_eq!(st.io_status, "STARTED");
    assert_eq!(st.upgrade, "");
    assert_eq!(
        (
            st.stripe_data_drives,
            st.stripe_protection_drives,
            st.hot_spare
        ),
        (3, 2, 1)
    );
    assert_eq!(st.hosts.backends.total, 18);
}

#[test]
fn host_group_info_round_trips_and_hides_password() {
    let info: HostGroupInfoResponse = round_trip("wire/host_group_info.json");
    assert_eq!(info.down_backends_removal_timeout().num_hours(), 3);
    assert_eq!(info.weka_backend_instances[1].private_ip, "10.0.1.11");
    assert!(info.nfs_ip_was_in_group("10.0.3.100"));
    assert!(info.nfs_instances().is_empty());
    assert!(!format!("{info:?}").contains("s3cr3t"));
    let v = serde_json::to_value(&info).unwrap();
    assert_eq!(v["password"], "s3cr3t-Deploy");
    assert!(v.get("admin_password").is_none());
    assert!(v["nfs_backend_instances"].is_null());
    assert_eq!(v["weka_backend_instances"][0]["Id"], "i-0000");
}

#[test]
fn scale_response_round_trips() {
    let r: ScaleResponse = round_trip("wire/scale_response.json");
    assert_eq!(r.hosts[1].host_id, HostId(6));
    assert_eq!(r.hosts[1].added_time, go_zero_time());
    assert_eq!(r.to_terminate[0].id, "i-0003");
    let v = serde_json::to_value(&r).unwrap();
    assert!(v["TransientErrors"].is_null());
    assert_eq!(v["hosts"][0]["host_id"], "HostId<0>");
    assert!(v.get("refusal").is_none());
}

#[test]
fn scale_response_with_refusal_round_trips() {
    let r: ScaleResponse = round_trip("wire/scale_response_refusal.json");
    let refusal = r.refusal.unwrap();
    assert!(refusal.shrink_refused);
    assert_eq!(refusal.healing_held.unwrap().required, 5);
    assert!(r.to_terminate.is_empty());
}

#[test]
fn terminated_instances_round_trip_and_transient_message() {
    let r: TerminatedInstancesResponse = round_trip("wire/terminated_instances.json");
    assert_eq!(r.set_to_terminate_instances[0].instance_id, "i-0003");
    assert!(r.transient_failure().is_none());
    let failed = TerminatedInstancesResponse {
        transient_errors: vec!["a".to_owned(), "b".to_owned()],
        ..r
    };
    assert_eq!(
        failed.transient_failure().unwrap(),
        "the following errors were found:\na\nb"
    );
}
