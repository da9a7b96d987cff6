//! `fetch` on fakes: missing groups, credentials only to scripts that ask, the lease.

use super::*;

type FetchDeps =
    fetch::Deps<FakeScalingGroups, FakeInventory, FakeSecrets, InMemoryStateStore, FakeClock>;

fn fetch_deps(groups: FakeScalingGroups) -> FetchDeps {
    let config = fetch::Config::from_lookup(&fetch_env(
        ASG,
        &[
            ("NFS_ASG_NAME", NFS_ASG),
            ("ROLE", "backend"),
            ("DOWN_BACKENDS_REMOVAL_TIMEOUT", "3h"),
        ],
    ))
    .unwrap();
    fetch::Deps {
        groups,
        inventory: FakeInventory::default(),
        secrets: fake_secrets(),
        store: InMemoryStateStore::with_sizes(6, 0),
        clock: FakeClock::at(now()),
        config,
    }
}

/// Runs fetch on `payload`, invoked now.
async fn run_fetch(
    deps: &FetchDeps,
    payload: Value,
) -> Result<HostGroupInfoResponse, fetch::FetchError> {
    fetch::handle(deps, payload, invocation(now())).await
}

#[tokio::test]
async fn fetch_tolerates_missing_and_empty_groups() {
    let deps = fetch_deps(FakeScalingGroups::default());
    let out = run_fetch(&deps, json!({"execution": "exec-1"}))
        .await
        .unwrap();
    assert_eq!(out.weka_backends_desired_capacity, 0);
    assert!(out.weka_backend_instances.is_empty());
    assert_eq!(out.nfs_backend_instances, None);
    assert_eq!(out.version, 1);
    assert_eq!(out.role, "backend");
    assert_eq!(out.down_backends_removal_timeout, 10_800_000_000_000);

    deps.groups.add_group(ASG, 6, vec![]);
    deps.groups.add_group(NFS_ASG, 0, vec![]);
    let out = run_fetch(&deps, json!({"execution": "exec-1"}))
        .await
        .unwrap();
    assert_eq!(out.weka_backends_desired_capacity, 6);
    assert_eq!(out.nfs_backend_instances, Some(vec![]));
    assert_eq!(out.nfs_interface_group_instance_ips, None);
}

#[tokio::test]
async fn fetch_for_the_state_machine_never_returns_credentials_and_takes_the_lease() {
    let groups = FakeScalingGroups::default();
    let t = now() - TimeDelta::hours(1);
    groups.add_group(
        ASG,
        2,
        vec![
            group_instance("i-1", "10.0.0.1", t),
            group_instance("i-2", "", t),
        ],
    );
    let mut ready = group_instance("i-n1", "10.0.9.1", t);
    ready
        .tags
        .insert("nfs_interface_group_port".to_owned(), "ready".to_owned());
    groups.add_group(
        NFS_ASG,
        1,
        vec![ready, group_instance("i-n2", "10.0.9.2", t)],
    );
    let deps = fetch_deps(groups);
    deps.inventory.add_running(
        "poc",
        "backend",
        vec![Instance {
            id: "i-1".to_owned(),
            private_ip: Some("10.0.0.1".to_owned()),
            private_dns_name: None,
        }],
    );

    let out = run_fetch(&deps, json!({"execution": "exec-1"}))
        .await
        .unwrap();
    let wire = serde_json::to_string(&out).unwrap();
    for secret in [
        "deploy-secret-pw",
        "admin-secret-pw",
        "\"password\"",
        "admin_password",
    ] {
        assert!(!wire.contains(secret), "{secret} leaked: {wire}");
    }
    assert_eq!(out.username, "");
    assert_eq!(
        out.weka_backend_instances,
        vec![InstanceRef {
            id: "i-1".to_owned(),
            private_ip: "10.0.0.1".to_owned()
        }],
        "instances without a private ip are left out"
    );
    assert_eq!(out.nfs_instances().len(), 2);
    assert!(out.nfs_ip_was_in_group("10.0.9.1"));
    assert!(!out.nfs_ip_was_in_group("10.0.9.2"));
    assert_eq!(out.backend_ips, vec!["10.0.0.1".to_owned()]);
    assert_eq!(lease_holder(&deps.store).await.as_deref(), Some("exec-1"));

    let err = run_fetch(
        &deps,
        json!({"execution": "exec-1", "fetch_weka_credentials": true}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);

    let err = run_fetch(&deps, json!({"execution": "exec-2"}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    assert!(err.to_string().contains("exec-1"));
}

#[tokio::test]
async fn fetch_returns_credentials_only_to_scripts_that_ask() {
    let deps = fetch_deps(FakeScalingGroups::default());
    let plain = run_fetch(&deps, Value::Null).await.unwrap();
    assert!(plain.password.is_empty());
    let scheduled = run_fetch(
        &deps,
        json!({"version": "0", "detail-type": "Scheduled Event", "detail": {}}),
    )
    .await
    .unwrap();
    assert!(scheduled.password.is_empty());

    let creds = run_fetch(&deps, json!({"fetch_weka_credentials": true}))
        .await
        .unwrap();
    assert_eq!(creds.username, "weka-deployment");
    assert_eq!(creds.password.expose(), "deploy-secret-pw");
    assert!(creds.admin_password.is_empty());

    let admin = run_fetch(&deps, json!({"show_admin_password": true}))
        .await
        .unwrap();
    assert_eq!(admin.admin_password.expose(), "admin-secret-pw");
    assert_eq!(
        lease_holder(&deps.store).await,
        None,
        "scripts never take the lease"
    );
}
