//! The simulator's JSON-RPC answers decode with the control plane's typed models.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{Value, json};
use weka_shared::weka::model::{
    ClusterStatus, DriveStatus, DrivesList, HostId, HostMode, HostState, HostStatus, HostsList,
    InterfaceGroupList, ManualOverrideList, NodeStatus, NodesList, SKIP_SCALE_DOWN_OVERRIDE,
};
use weka_sim::world::{SimInterfaceGroup, SimPort};

fn decode<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("decodes with weka_shared::weka::model")
}

#[test]
fn answers_decode_with_weka_shared_models() {
    let (mut world, guid) = common::running_cluster(3);
    world.set_machine_up(&common::ip(2), false).unwrap();
    world.deactivate_hosts(&guid, &[3, 4, 5], true).unwrap();
    world
        .set_override(&guid, SKIP_SCALE_DOWN_OVERRIDE, json!("true"), true)
        .unwrap();
    world
        .set_interface_group(
            &guid,
            SimInterfaceGroup {
                name: "nfs-ig".to_owned(),
                uid: "u1".to_owned(),
                group_type: "NFS".to_owned(),
                ips: vec![],
                ports: vec![SimPort {
                    host_id: 2,
                    port: "eth1".to_owned(),
                }],
            },
        )
        .unwrap();

    let hosts: HostsList = decode(world.hosts_list(&guid).unwrap());
    assert_eq!(hosts.len(), 9);
    let h0 = &hosts[&HostId(0)];
    assert_eq!(h0.container_name, "drives0");
    assert_eq!(h0.mode, HostMode::Backend);
    assert_eq!(h0.state, HostState::Active);
    assert_eq!(h0.status, HostStatus::Up);
    assert_eq!(h0.host_ip, common::ip(0));
    assert_eq!(h0.instance_id(), "i-00000000000000000");
    assert!(h0.added_time.is_some() && h0.state_changed_time.is_none());
    assert_eq!(hosts[&HostId(3)].state, HostState::Deactivating);
    assert!(hosts[&HostId(3)].state_changed_time.is_some());
    assert_eq!(hosts[&HostId(6)].status, HostStatus::Down);
    let machine_ids: std::collections::BTreeSet<_> = hosts
        .values()
        .filter(|h| h.host_ip == common::ip(1))
        .map(|h| h.machine_identifier.clone())
        .collect();
    assert_eq!(machine_ids.len(), 1, "one machine_identifier per machine");

    let drives: DrivesList = decode(world.disks_list(&guid).unwrap());
    assert_eq!(drives.len(), 6);
    let on_deactivated: Vec<_> = drives.values().filter(|d| d.host_id == HostId(3)).collect();
    assert_eq!(on_deactivated.len(), 2);
    assert!(
        on_deactivated
            .iter()
            .all(|d| !d.should_be_active && d.status == DriveStatus::PhasingOut)
    );
    assert!(drives.values().all(|d| !d.uuid.is_empty()));

    let nodes: NodesList = decode(world.nodes_list(&guid).unwrap());
    assert_eq!(nodes.len(), 18);
    let management: Vec<_> = nodes.keys().filter(|n| n.is_management()).collect();
    assert_eq!(management.len(), 9);
    let down: Vec<_> = nodes
        .values()
        .filter(|n| n.status == NodeStatus::Down)
        .collect();
    assert_eq!(down.len(), 6);
    assert!(down.iter().all(|n| n.last_fencing_time.is_some()));

    let status: ClusterStatus = decode(world.status(&guid).unwrap());
    assert_eq!(status.io_status, "STARTED");
    assert_eq!(status.upgrade, "");
    assert_eq!(status.guid, guid);
    assert_eq!(status.hosts.total_count, 9);
    assert_eq!(status.hosts.backends.total, 9);
    assert_eq!(status.hosts.backends.active, 3, "3 DEACTIVATING, 3 DOWN");

    let groups: InterfaceGroupList = decode(world.interface_group_list(&guid).unwrap());
    assert!(groups[0].is_nfs());
    assert_eq!(groups[0].ports[0].host_id, HostId(2));

    let overrides: ManualOverrideList = decode(world.manual_override_list(&guid).unwrap());
    assert!(
        overrides
            .values()
            .any(|o| o.key == SKIP_SCALE_DOWN_OVERRIDE)
    );
}

#[test]
fn orphaned_drives_decode_as_invalid_host() {
    let (mut world, guid) = common::running_cluster(1);
    world.config.deactivate_host_secs = 0.0;
    world.deactivate_hosts(&guid, &[0, 1, 2], true).unwrap();
    world.remove_host(&guid, 0).unwrap();
    let drives: DrivesList = decode(world.disks_list(&guid).unwrap());
    assert!(drives.values().all(|d| d.host_id == HostId::INVALID));
}
