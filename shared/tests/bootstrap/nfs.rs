//! The NFS gateways' registration set on fakes: the interface group setup for the last one,
//! and their registrations and refusals kept as events.

use super::*;

#[tokio::test]
async fn the_last_nfs_gateway_gets_the_interface_group_setup() {
    let deps = clusterize_deps(6, &[]);
    deps.inventory
        .secondaries
        .lock()
        .unwrap()
        .insert(id(21), vec!["10.0.2.50".to_owned()]);
    let first = clusterize::handle(
        &deps,
        json!({"name": id(20), "protocol": "nfs", "container_uid": "u-20", "nic_name": "eth1"}),
    )
    .await
    .unwrap();
    assert!(first.contains("nfs instance 1/2"), "{first}");
    let last = clusterize::handle(
        &deps,
        json!({"name": id(21), "protocol": "nfs", "container_uid": "u-21", "nic_name": "eth2"}),
    )
    .await
    .unwrap();
    assert!(
        last.contains("u-20") && last.contains("u-21") && last.contains("10.0.2.50"),
        "{last}"
    );
    assert!(
        deps.store
            .load(Group::Backend)
            .await
            .unwrap()
            .instances
            .is_empty()
    );
}

#[tokio::test]
async fn nfs_gateway_registrations_and_refusals_are_kept_as_events_once_each() {
    let deps = clusterize_deps(6, &[]);
    // Each gateway's call is retried once (a lost answer): a retry is no new registration.
    for n in [20, 20, 21, 21, 22] {
        let gateway =
            json!({"name": id(n), "protocol": "nfs", "container_uid": "u", "nic_name": "e"});
        clusterize::handle(&deps, gateway).await.unwrap();
    }
    let events = deps.store.events().await.unwrap();
    let seen: Vec<String> = events
        .iter()
        .rev()
        .map(|e| format!("{} {}: {}", e.kind.as_str(), e.subject, e.reason))
        .collect();
    assert_eq!(
        seen,
        [
            format!(
                "registration {}: NFS gateway registered: 1 of 2 so far",
                id(20)
            ),
            format!(
                "registration {}: NFS gateway registered: completes the set of 2",
                id(21)
            ),
            format!(
                "refusal {}: NFS gateway registration refused: the set of 2 is complete without it",
                id(22)
            ),
        ]
    );
}
