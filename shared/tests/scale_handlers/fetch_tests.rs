//! `scale-fetch` (the state machine's step) and `fetch` (the instances') on fakes: missing
//! groups, the lease, credentials only to scripts that ask, and what an instance may not do.

use super::*;
use weka_shared::domain::state::ClaimOutcome;

type StepDeps = scale_fetch::Deps<FakeScalingGroups, FakeInventory, InMemoryStateStore, FakeClock>;
type FetchDeps = fetch::Deps<FakeScalingGroups, FakeInventory, FakeSecrets, InMemoryStateStore>;

const GROUP_ENV: [(&str, &str); 3] = [
    ("NFS_ASG_NAME", NFS_ASG),
    ("ROLE", "backend"),
    ("DOWN_BACKENDS_REMOVAL_TIMEOUT", "3h"),
];

fn step_deps(groups: FakeScalingGroups) -> StepDeps {
    scale_fetch::Deps {
        groups,
        inventory: FakeInventory::default(),
        store: InMemoryStateStore::with_sizes(6, 0),
        clock: FakeClock::at(now()),
        config: scale_fetch::Config::from_lookup(&scale_fetch_env(ASG, &GROUP_ENV)).unwrap(),
    }
}

fn fetch_deps(groups: FakeScalingGroups, store: InMemoryStateStore) -> FetchDeps {
    fetch::Deps {
        groups,
        inventory: FakeInventory::default(),
        secrets: fake_secrets(),
        store,
        config: fetch::Config::from_lookup(&fetch_env(ASG, &GROUP_ENV)).unwrap(),
    }
}

/// Runs the step on `payload`, invoked now.
async fn run_step(
    deps: &StepDeps,
    payload: Value,
) -> Result<HostGroupInfoResponse, scale_fetch::ScaleFetchError> {
    scale_fetch::handle(deps, payload, invocation(now())).await
}

#[tokio::test]
async fn scale_fetch_tolerates_missing_and_empty_groups() {
    let deps = step_deps(FakeScalingGroups::default());
    let out = run_step(&deps, json!({"execution": "exec-1"}))
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
    let out = run_step(&deps, json!({"execution": "exec-1"}))
        .await
        .unwrap();
    assert_eq!(out.weka_backends_desired_capacity, 6);
    assert_eq!(out.nfs_backend_instances, Some(vec![]));
    assert_eq!(out.nfs_interface_group_instance_ips, None);
}

#[tokio::test]
async fn scale_fetch_never_returns_credentials_and_takes_the_lease() {
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
    let deps = step_deps(groups);
    deps.inventory.add_running(
        "poc",
        "backend",
        vec![Instance {
            id: "i-1".to_owned(),
            private_ip: Some("10.0.0.1".to_owned()),
            private_dns_name: None,
        }],
    );

    let out = run_step(
        &deps,
        json!({"execution": "exec-1", "fetch_weka_credentials": true, "show_admin_password": true}),
    )
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

    let err = run_step(&deps, json!({"execution": "exec-2"}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    assert!(err.to_string().contains("exec-1"));

    let err = run_step(&deps, json!({})).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput, "{err}");
}

#[tokio::test]
async fn fetch_returns_credentials_only_to_scripts_that_ask() {
    let deps = fetch_deps(
        FakeScalingGroups::default(),
        InMemoryStateStore::with_sizes(6, 0),
    );
    let plain = fetch::handle(&deps, Value::Null).await.unwrap();
    assert!(plain.password.is_empty());
    let plain = fetch::handle(&deps, json!({})).await.unwrap();
    assert!(plain.password.is_empty());

    let creds = fetch::handle(&deps, json!({"fetch_weka_credentials": true}))
        .await
        .unwrap();
    assert_eq!(creds.username, "weka-deployment");
    assert_eq!(creds.password.expose(), "deploy-secret-pw");
    assert!(creds.admin_password.is_empty());

    assert_eq!(
        lease_holder(&deps.store).await,
        None,
        "scripts never take the lease"
    );
}

/// The instance the identity fixture (`shared/tests/fixtures/identity`) is signed for.
const SIGNED_INSTANCE: &str = "i-0123456789abcdef0";

/// A store whose backend set of six (five members and `claimant`) is complete and claimed by
/// `claimant`.
async fn claimed_store(claimant: &str) -> InMemoryStateStore {
    let store = InMemoryStateStore::with_sizes(6, 0);
    let members = (0..5).map(|n| format!("i-member{n}"));
    for name in members.chain([claimant.to_owned()]) {
        let vm = Vm {
            name,
            ..Vm::default()
        };
        store.register(Group::Backend, &vm).await.unwrap();
    }
    let claim = store
        .claim_clusterization(Group::Backend, claimant, now(), Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(matches!(claim, ClaimOutcome::Granted { .. }), "{claim:?}");
    store
}

/// Review (fetch): the admin password goes to the instance creating the cluster and to nobody
/// else. Before any claim (a set still gathering, or a running cluster switched from WEKA's
/// module and not yet adopted) nobody gets it; while a claim stands the claimant does, and,
/// when identities are checked, only the claimant: another member's or an unsigned request is
/// refused, and nothing of the password is in the error.
#[tokio::test]
async fn the_admin_password_goes_only_to_the_claimant_while_the_cluster_forms() {
    let deps = fetch_deps(
        FakeScalingGroups::default(),
        InMemoryStateStore::with_sizes(6, 0),
    );
    let err = fetch::handle(&deps, json!({"show_admin_password": true}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    assert!(err.to_string().contains("no clusterization"), "{err}");

    let deps = fetch_deps(
        FakeScalingGroups::default(),
        claimed_store("i-member9").await,
    );
    let admin = fetch::handle(
        &deps,
        json!({"fetch_weka_credentials": true, "show_admin_password": true}),
    )
    .await
    .unwrap();
    assert_eq!(
        admin.admin_password.expose(),
        "admin-secret-pw",
        "identities not checked: the claim is all there is to go by"
    );

    let checked = |store| fetch::Deps {
        config: fetch::Config::from_lookup(&fetch_env(
            ASG,
            &[
                GROUP_ENV[0],
                GROUP_ENV[1],
                GROUP_ENV[2],
                ("REGION", "us-east-1"),
                (
                    "INSTANCE_IDENTITY_CERTIFICATE",
                    include_str!("../../../tests/localcloud/identity/certificate.pem"),
                ),
            ],
        ))
        .unwrap(),
        ..fetch_deps(FakeScalingGroups::default(), store)
    };
    let signed = |signature: &str| {
        json!({
            "fetch_weka_credentials": true,
            "show_admin_password": true,
            "identity": {
                "document": include_str!("../fixtures/identity/document.json"),
                "signature": signature,
            },
        })
    };
    let signature = include_str!("../fixtures/identity/document.signature");
    let deps = checked(claimed_store("i-member9").await);
    for (payload, class, why) in [
        (
            json!({"show_admin_password": true}),
            ErrorClass::InvalidInput,
            "no identity",
        ),
        (
            signed(include_str!(
                "../fixtures/identity/document.foreign-signature"
            )),
            ErrorClass::InvalidInput,
            "signed by another key",
        ),
        (signed(signature), ErrorClass::Conflict, "another member"),
    ] {
        let err = fetch::handle(&deps, payload).await.unwrap_err();
        assert_eq!(err.class(), class, "{why}: {err}");
        assert!(!err.to_string().contains("admin-secret-pw"), "{err}");
    }
    let plain = fetch::handle(&deps, json!({"fetch_weka_credentials": true}))
        .await
        .unwrap();
    assert_eq!(
        plain.password.expose(),
        "deploy-secret-pw",
        "the deployment credentials need no identity"
    );

    let deps = checked(claimed_store(SIGNED_INSTANCE).await);
    let admin = fetch::handle(&deps, signed(signature)).await.unwrap();
    assert_eq!(admin.admin_password.expose(), "admin-secret-pw");
}

/// Security review C1, H1, H2: what an instance sends to `fetch` can neither take the scale
/// lease, nor have a (forged) lifecycle action recorded, nor get the admin password once the
/// cluster is formed. Each attempt is refused with a typed error and leaves the store as it was.
#[tokio::test]
async fn an_instance_can_neither_lease_nor_record_a_lifecycle_action_nor_read_admin_after_formation()
 {
    let forged_terminate = json!({
        "version": "0",
        "id": "forged",
        "detail-type": "EC2 Instance-terminate Lifecycle Action",
        "source": "aws.autoscaling",
        "account": "123456789012",
        "time": "2026-12-06T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "LifecycleActionToken": "t",
            "AutoScalingGroupName": ASG,
            "LifecycleHookName": "weka-terminate",
            "EC2InstanceId": "i-0victim",
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING"
        }
    });
    let deps = fetch_deps(FakeScalingGroups::default(), clusterized_store().await);
    for payload in [
        json!({"execution": "x"}),
        json!({"execution": "x", "event": forged_terminate}),
        json!({"event": forged_terminate}),
        json!({"execution": "x", "input": {"event": forged_terminate}}),
    ] {
        let err = fetch::handle(&deps, payload.clone()).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput, "{payload}: {err}");
        assert!(err.to_string().contains("scale-fetch"), "{err}");
    }
    assert_eq!(lease_holder(&deps.store).await, None);
    assert!(deps.store.lifecycle_actions().await.unwrap().is_empty());

    let err = fetch::handle(&deps, json!({"show_admin_password": true}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    assert!(!err.to_string().contains("admin-secret-pw"));
    let creds = fetch::handle(&deps, json!({"fetch_weka_credentials": true}))
        .await
        .unwrap();
    assert_eq!(creds.password.expose(), "deploy-secret-pw");
    assert!(creds.admin_password.is_empty());
}

/// Issue 14 (lease): runs refused by a holder are counted in the `scale-lease` note, a refusal
/// beyond one lease period is flagged, and `status` shows the hold while it is in force.
#[tokio::test]
async fn a_held_lease_is_noted_flagged_beyond_one_period_and_shown_by_status() {
    let mut deps = step_deps(FakeScalingGroups::default());
    run_step(&deps, json!({"execution": "wedged"}))
        .await
        .unwrap();
    // The holder renews (its steps run) but never lets go: every other run is refused.
    for minutes in [1, 2, 5] {
        deps.clock = FakeClock::at(now() + TimeDelta::minutes(minutes));
        run_step(&deps, json!({"execution": "wedged"}))
            .await
            .unwrap();
        let err = run_step(&deps, json!({"execution": format!("run-{minutes}")}))
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Conflict);
    }
    let note = deps.store.note("scale-lease").await.unwrap().unwrap();
    assert_eq!(note["holder"], "wedged");
    assert_eq!(note["refused_runs"], 3);
    assert_eq!(note["beyond_one_period"], true, "{note}");

    let at = now() + TimeDelta::minutes(5);
    let weka = || FakeWeka::new(|_, _, _| Ok(json!({})));
    let shown = status_deps(std::mem::take(&mut deps.store), weka(), at);
    let status = status::handle(&shown, json!({"type": "status"}), None)
        .await
        .unwrap();
    assert_eq!(status["scale_lease_held"]["holder"], "wedged", "{status}");
    assert_eq!(status["scale_lease_held"]["beyond_one_period"], true);
    let lapsed = status_deps(shown.store, weka(), at + TimeDelta::minutes(10));
    let status = status::handle(&lapsed, json!({"type": "status"}), None)
        .await
        .unwrap();
    assert!(
        status.get("scale_lease_held").is_none(),
        "a lapsed hold is not shown: {status}"
    );
}
