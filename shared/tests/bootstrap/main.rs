//! `deploy` and `clusterize` on fakes: which script each instance gets, the registration
//! barrier under concurrency, geometry validation, passwords, id/IP pairing, recovery (the NFS
//! gateways' group in `nfs.rs`).

#![allow(clippy::unwrap_used)]

use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use weka_shared::domain::state::Group;
use weka_shared::domain::terminate::Lifecycle;
use weka_shared::error::{Classify, ErrorClass};
use weka_shared::handlers::{clusterize, deploy};
use weka_shared::ports::{Clock, Instance, StateStore};
use weka_shared::testing::{
    BACKEND_GROUP, FakeClock, FakeInventory, FakeScalingGroups, FakeSecrets, InMemoryStateStore,
    NFS_GROUP, env, function_env_names, group_instance,
};

mod nfs;

/// The environment `deploy` and `clusterize` read (the shared deployment's, with this file's
/// secret ids), with `extra` set over it.
fn bootstrap_env(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars = weka_shared::testing::bootstrap_env();
    vars.extend(env(&[
        ("ADMIN_PASSWORD_ID", "admin-pw"),
        ("DEPLOYMENT_PASSWORD_ID", "deploy-pw"),
    ]));
    vars.extend(env(extra));
    let mut given = function_env_names("deploy");
    given.extend(function_env_names("clusterize"));
    let unknown: Vec<&String> = vars.keys().filter(|k| !given.contains(*k)).collect();
    assert!(
        unknown.is_empty(),
        "the module never gives deploy or clusterize {unknown:?}"
    );
    vars
}

fn id(i: usize) -> String {
    format!("i-{i:017x}")
}

/// The instance the identity fixtures (`tests/fixtures/identity/`) are signed for.
const SIGNED_INSTANCE: &str = "i-0123456789abcdef0";

/// Auto Scaling as the fixtures see it: backends `id(0..20)` and the signed instance in the
/// backend group, gateways `id(20..40)` in the NFS group, all in service.
fn scaling_groups() -> FakeScalingGroups {
    let groups = FakeScalingGroups::default();
    let at = FakeClock::default_start().now();
    let members = |ids: Vec<String>| {
        ids.iter()
            .map(|i| group_instance(i, "", at))
            .collect::<Vec<_>>()
    };
    let mut backends: Vec<String> = (0..20).map(id).collect();
    backends.push(SIGNED_INSTANCE.to_owned());
    groups.add_group(BACKEND_GROUP, 20, members(backends));
    groups.add_group(NFS_GROUP, 20, members((20..40).map(id).collect()));
    groups
}

fn inventory(n: usize) -> FakeInventory {
    let inv = FakeInventory::default();
    inv.add_running(
        "poc",
        "backend",
        (0..n)
            .map(|i| Instance {
                id: id(i),
                private_ip: Some(format!("10.0.1.{}", 10 + i)),
                private_dns_name: None,
            })
            .collect(),
    );
    inv
}

type ClusterizeDeps =
    clusterize::Deps<InMemoryStateStore, FakeInventory, FakeSecrets, FakeClock, FakeScalingGroups>;

fn clusterize_deps(n: usize, extra: &[(&str, &str)]) -> ClusterizeDeps {
    clusterize::Deps {
        store: InMemoryStateStore::with_sizes(6, 2),
        inventory: inventory(n),
        secrets: FakeSecrets::default(),
        clock: FakeClock::default_start(),
        groups: scaling_groups(),
        config: clusterize::Config::from_lookup(&bootstrap_env(extra)).unwrap(),
    }
}

async fn ask(deps: &ClusterizeDeps, i: usize) -> String {
    clusterize::handle(deps, json!({"name": id(i)}))
        .await
        .unwrap()
}

fn is_clusterization(script: &str) -> bool {
    script.contains("weka cluster create")
}

#[tokio::test]
async fn the_sixth_instance_gets_the_clusterization_script_with_ids_paired_to_their_ips() {
    let deps = clusterize_deps(6, &[]);
    for i in 0..5 {
        let script = ask(&deps, i).await;
        assert!(!is_clusterization(&script), "instance {i}");
        assert!(script.contains(&format!(
            "is instance {}/6 that is ready for clusterization",
            i + 1
        )));
    }
    let script = ask(&deps, 5).await;
    assert!(is_clusterization(&script));
    // The fake answers DescribeInstances in reverse order; pairs must still follow the ids.
    for i in 0..6 {
        assert!(script.contains(&id(i)));
        assert!(script.contains(&format!("10.0.1.{}", 10 + i)));
    }
    let first_id = script.find(&id(0)).unwrap();
    let last_id = script.find(&id(5)).unwrap();
    assert!(first_id < last_id, "hosts in registration order");
    let admin = deps.secrets.value("admin-pw").unwrap();
    let deploy_pw = deps.secrets.value("deploy-pw").unwrap();
    assert_ne!(admin, deploy_pw);
    assert!(
        !script.contains(&admin) && !script.contains(&deploy_pw),
        "passwords are fetched at run time"
    );
}

#[tokio::test]
async fn late_arrivals_get_the_refusal_script_never_a_second_clusterization() {
    let deps = clusterize_deps(8, &[]);
    for i in 0..6 {
        ask(&deps, i).await;
    }
    let late = ask(&deps, 6).await;
    assert!(!is_clusterization(&late));
    assert!(late.contains("is not needed"), "{late}");
    assert!(late.contains("exit 1"));
    deps.store
        .finalize(
            Group::Backend,
            weka_shared::ports::Clock::now(&FakeClock::default_start()),
        )
        .await
        .unwrap();
    let after = ask(&deps, 7).await;
    assert!(
        after.contains("is not needed") && after.contains("already clusterized"),
        "{after}"
    );
}

#[tokio::test]
async fn concurrent_clusterize_calls_for_n_plus_five_instances_yield_exactly_one_clusterization() {
    let deps = Arc::new(clusterize_deps(11, &[]));
    let tasks: Vec<_> = (0..11)
        .map(|i| {
            let deps = deps.clone();
            tokio::spawn(async move {
                clusterize::handle(&*deps, json!({"name": id(i)}))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut scripts = Vec::new();
    for t in tasks {
        scripts.push(t.await.unwrap());
    }
    assert_eq!(scripts.iter().filter(|s| is_clusterization(s)).count(), 1);
    assert_eq!(
        scripts
            .iter()
            .filter(|s| s.contains("is not needed"))
            .count(),
        5
    );
    assert_eq!(
        scripts
            .iter()
            .filter(|s| s.contains("ready for clusterization"))
            .count(),
        5
    );
}

#[tokio::test]
async fn a_stalled_clusterization_is_taken_over_by_a_waiting_member_after_the_timeout() {
    let deps = clusterize_deps(6, &[]);
    for i in 0..6 {
        ask(&deps, i).await;
    }
    let admin = deps.secrets.value("admin-pw").unwrap();
    // The clusterizer (instance 5) died. A member polling before the timeout keeps waiting.
    deps.clock.advance(Duration::from_secs(10 * 60));
    let waiting = ask(&deps, 0).await;
    assert!(
        !is_clusterization(&waiting) && waiting.contains("WAIT_POLLS"),
        "{waiting}"
    );
    deps.clock.advance(Duration::from_secs(21 * 60));
    let takeover = ask(&deps, 0).await;
    assert!(is_clusterization(&takeover));
    assert_eq!(
        deps.store
            .load(Group::Backend)
            .await
            .unwrap()
            .clusterizer
            .unwrap()
            .instance,
        id(0)
    );
    assert_eq!(
        deps.secrets.value("admin-pw").unwrap(),
        admin,
        "the admin password is kept"
    );
    // Once finalized, members asking again are acknowledged, not re-clusterized.
    deps.store
        .finalize(Group::Backend, weka_shared::ports::Clock::now(&deps.clock))
        .await
        .unwrap();
    let member = ask(&deps, 3).await;
    assert!(
        !is_clusterization(&member) && member.contains("of the clusterized set"),
        "{member}"
    );
}

#[tokio::test]
async fn bad_geometry_is_refused_before_anything_is_registered() {
    let deps = clusterize_deps(6, &[("STRIPE_WIDTH", "5"), ("HOTSPARE", "1")]);
    let err = clusterize::handle(&deps, json!({"name": id(0)}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    let message = weka_shared::error::error_chain(&err);
    assert!(message.contains('5') && message.contains('6'), "{message}");
    assert!(
        deps.store
            .load(Group::Backend)
            .await
            .unwrap()
            .instances
            .is_empty()
    );
    let deps = clusterize_deps(
        6,
        &[
            ("SET_OBS", "true"),
            ("OBS_NAME", "b"),
            ("SET_DEFAULT_FS", "false"),
        ],
    );
    let err = clusterize::handle(&deps, json!({"name": id(0)}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
}

/// Review H3: one registration must not be able to grow the state item toward DynamoDB's 400 KB
/// limit or carry characters no NIC or container uid has; it is refused and nothing is stored.
#[tokio::test]
async fn oversized_or_malformed_registration_fields_are_refused_and_nothing_is_registered() {
    let deps = clusterize_deps(6, &[]);
    for (field, value) in [
        ("container_uid", "u".repeat(390_000)),
        ("container_uid", "uid with spaces".to_owned()),
        ("nic_name", "eth0-with-a-very-long-name".to_owned()),
        ("nic_name", "eth0;reboot".to_owned()),
    ] {
        let payload = json!({"name": id(27), "protocol": "nfs", field: value});
        let err = clusterize::handle(&deps, payload).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput, "{field}: {err}");
        assert!(err.to_string().contains(field), "{err}");
    }
    for group in [Group::Backend, Group::Nfs] {
        assert!(deps.store.load(group).await.unwrap().instances.is_empty());
    }
    let ok = json!({"name": id(27), "protocol": "nfs", "container_uid": "a1b2c3d4-0000-4000-8000-00000000abcd", "nic_name": "eth1"});
    clusterize::handle(&deps, ok).await.unwrap();
    assert_eq!(
        deps.store.load(Group::Nfs).await.unwrap().instances.len(),
        1
    );
}

/// Review H3: bogus or foreign ids filled the registration set. A registration names an
/// instance Auto Scaling holds in the group it registers for, launching or in service.
#[tokio::test]
async fn a_registration_names_an_instance_of_the_group_that_is_launching_or_in_service() {
    let deps = clusterize_deps(6, &[]);
    deps.groups.update(BACKEND_GROUP, &id(3), |i| {
        i.instance.lifecycle = Lifecycle::parse("Terminating:Wait");
    });
    deps.groups.update(BACKEND_GROUP, &id(4), |i| {
        i.instance.lifecycle = Lifecycle::Standby;
    });
    deps.groups.update(BACKEND_GROUP, &id(5), |i| {
        i.instance.lifecycle = Lifecycle::parse("Pending:Wait");
    });
    for (payload, why) in [
        (json!({"name": "i-00000000deadbeef0"}), "in no group"),
        (
            json!({"name": id(25)}),
            "a gateway registering as a backend",
        ),
        (
            json!({"name": id(2), "protocol": "nfs"}),
            "a backend registering as a gateway",
        ),
        (json!({"name": id(3)}), "leaving"),
        (json!({"name": id(4)}), "on standby"),
    ] {
        let err = clusterize::handle(&deps, payload).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Conflict, "{why}: {err}");
    }
    for group in [Group::Backend, Group::Nfs] {
        assert!(deps.store.load(group).await.unwrap().instances.is_empty());
    }
    clusterize::handle(&deps, json!({"name": id(5)}))
        .await
        .unwrap();
    assert_eq!(
        deps.store
            .load(Group::Backend)
            .await
            .unwrap()
            .instances
            .len(),
        1
    );
    deps.groups.fail_describe();
    let err = clusterize::handle(&deps, json!({"name": id(1)}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
}

fn signed(name: &str, signature: &str) -> serde_json::Value {
    json!({
        "name": name,
        "identity": {
            "document": include_str!("../fixtures/identity/document.json"),
            "signature": signature,
        },
    })
}

/// Review H3/§1: with the region's certificate configured, a host registers only itself.
#[tokio::test]
async fn with_identities_checked_an_instance_registers_only_itself() {
    let deps = clusterize_deps(
        6,
        &[
            ("REGION", "us-east-1"),
            (
                "INSTANCE_IDENTITY_CERTIFICATE",
                include_str!("../../../tests/localcloud/identity/certificate.pem"),
            ),
        ],
    );
    let signature = include_str!("../fixtures/identity/document.signature");
    for (payload, why) in [
        (json!({"name": SIGNED_INSTANCE}), "no identity"),
        (signed(&id(1), signature), "another instance's name"),
        (
            signed(
                SIGNED_INSTANCE,
                include_str!("../fixtures/identity/document.foreign-signature"),
            ),
            "signed by another key",
        ),
    ] {
        let err = clusterize::handle(&deps, payload).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput, "{why}: {err}");
    }
    assert!(
        deps.store
            .load(Group::Backend)
            .await
            .unwrap()
            .instances
            .is_empty()
    );
    clusterize::handle(&deps, signed(SIGNED_INSTANCE, signature))
        .await
        .unwrap();
    let registered = deps.store.load(Group::Backend).await.unwrap().instances;
    assert_eq!(registered.len(), 1);
    assert_eq!(
        registered[0].name, SIGNED_INSTANCE,
        "the identity is not stored"
    );
}

#[tokio::test]
async fn gateways_and_data_services_are_dispatched_by_protocol() {
    let deps = clusterize_deps(6, &[]);
    let smb = clusterize::handle(&deps, json!({"name": id(1), "protocol": "smb"}))
        .await
        .unwrap();
    assert!(smb.contains("SMB protocol gw:"), "{smb}");
    let smbw = clusterize::handle(&deps, json!({"name": id(1), "protocol": "smbw"}))
        .await
        .unwrap();
    assert!(
        smbw.contains("SMBW protocol gw:"),
        "smbw is not a backend (reference §12.10)"
    );
    assert!(
        deps.store
            .load(Group::Backend)
            .await
            .unwrap()
            .instances
            .is_empty()
    );
    let err = clusterize::handle(&deps, json!({"name": id(1), "protocol": "data"}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    for name in ["", "i-1", "../etc", "i-0123456789abcdef0; rm -rf /"] {
        let err = clusterize::handle(&deps, json!({"name": name}))
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput, "{name:?}");
    }
}

#[tokio::test]
async fn deploy_hands_out_install_before_clusterization_and_join_after() {
    let deps = deploy_deps(6);
    let install = deploy::handle(&deps, json!({"name": id(0)})).await.unwrap();
    assert!(install.contains("vol-0abc"));
    assert!(install.contains("clusterize"));
    assert!(
        !install.contains("$TOKEN@"),
        "the token is fetched at run time, not embedded"
    );
    assert!(install.contains("arn:aws:secretsmanager:eu-west-1:1:secret:weka/token"));
    deps.store
        .finalize(
            Group::Backend,
            weka_shared::ports::Clock::now(&FakeClock::default_start()),
        )
        .await
        .unwrap();
    let join = deploy::handle(&deps, json!({"name": id(0)})).await.unwrap();
    assert_ne!(join, install);
    assert!(
        join.contains("10.0.1.11") && join.contains("10.0.1.15"),
        "join ips"
    );
    assert!(
        !join.contains("'10.0.1.10'"),
        "the joining instance is not its own join ip"
    );
}

#[tokio::test]
async fn deploy_refuses_to_hand_out_a_join_with_nothing_to_join() {
    let deps = deploy_deps(1);
    deps.store
        .finalize(
            Group::Backend,
            weka_shared::ports::Clock::now(&FakeClock::default_start()),
        )
        .await
        .unwrap();
    let err = deploy::handle(&deps, json!({"name": id(0)}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict);
}

#[tokio::test]
async fn deploy_dispatches_gateways_and_data_services() {
    let deps = deploy_deps(6);
    for protocol in ["nfs", "smb", "smbw", "s3", "data"] {
        let script = deploy::handle(&deps, json!({"name": id(3), "protocol": protocol}))
            .await
            .unwrap();
        assert!(script.starts_with("#!"), "{protocol}");
    }
    deps.store
        .finalize(
            Group::Nfs,
            weka_shared::ports::Clock::now(&FakeClock::default_start()),
        )
        .await
        .unwrap();
    let nfs_join = deploy::handle(&deps, json!({"name": id(3), "protocol": "nfs"}))
        .await
        .unwrap();
    assert!(
        nfs_join.contains("join_nfs_finalization"),
        "nfs join once the nfs group is clusterized"
    );
    let err = deploy::handle(&deps, json!({"name": id(3), "protocol": "ftp"}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
}

#[test]
fn install_urls_are_interpreted_without_embedding_the_token() {
    use weka_shared::domain::scripts::InstallSource;
    let src = deploy::install_source(
        "https://$TOKEN@get.weka.io/dist/v1/install/4.4.2/4.4.2?provider=aws",
        Some("tok"),
    )
    .unwrap();
    assert_eq!(
        src,
        InstallSource::WekaVersion {
            version: "4.4.2".to_owned(),
            token_secret_id: "tok".to_owned()
        }
    );
    assert!(
        deploy::install_source(
            "https://$TOKEN@get.weka.io/dist/v1/install/4.4.2/4.4.2",
            None
        )
        .is_err()
    );
    assert!(matches!(
        deploy::install_source("s3://b/weka-4.4.2.tar", None).unwrap(),
        InstallSource::Tar(_)
    ));
    assert!(matches!(
        deploy::install_source("https://mirror/install.sh", None).unwrap(),
        InstallSource::Url(_)
    ));
}

/// SMB / S3 gateways `id(40..)`: running, tagged `protocol=<tag>`, addressed 10.0.2.<40+i>.
fn add_gateways(deps: &ClusterizeDeps, tag: &str, range: std::ops::Range<usize>) {
    deps.inventory.add_gateways(
        "poc",
        tag,
        range
            .map(|i| Instance {
                id: id(i),
                private_ip: Some(format!("10.0.2.{i}")),
                private_dns_name: None,
            })
            .collect(),
    );
}

fn deploy_deps(n: usize) -> deploy::Deps<InMemoryStateStore, FakeInventory> {
    let inv = inventory(n);
    inv.volumes
        .lock()
        .unwrap()
        .insert((id(0), "/dev/sdp".to_owned()), "vol-0abc".to_owned());
    deploy::Deps {
        store: InMemoryStateStore::with_sizes(6, 2),
        inventory: inv,
        config: deploy::Config::from_lookup(&bootstrap_env(&[])).unwrap(),
    }
}

const SMB_SETUP: &[(&str, &str)] = &[
    ("SMB_PROTOCOL_GATEWAYS_NUM", "3"),
    ("SMB_DOMAIN_NAME", "corp.example.com"),
    ("SMB_CLUSTER_NAME", "Prod-SMB"),
    ("S3_PROTOCOL_GATEWAYS_NUM", "1"),
];

async fn gateway_asks(deps: &ClusterizeDeps, i: usize, protocol: &str) -> String {
    clusterize::handle(
        deps,
        json!({"name": id(i), "protocol": protocol, "container_uid": "u", "nic_name": "eth0"}),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn smb_gateways_wait_for_their_peers_then_all_get_the_setup_naming_every_gateway() {
    let deps = clusterize_deps(6, SMB_SETUP);
    // Terraform sends smbw when smbw_enabled: the same SMB cluster (SMB-W is WEKA's default).
    add_gateways(&deps, "SMB", 41..43);
    let early = gateway_asks(&deps, 42, "smbw").await;
    assert!(
        early.contains("is smbw gateway 2/3 running; waiting for the others"),
        "{early}"
    );
    assert!(early.contains("WAIT_POLLS=40"), "polls clusterize again");
    assert!(!early.contains("cluster create"));
    add_gateways(&deps, "SMB", 40..41);
    for asker in [42, 40, 41] {
        let script = gateway_asks(&deps, asker, "smbw").await;
        assert!(script.contains("SMB_CLUSTER_NAME='Prod-SMB'"), "{script}");
        assert!(script.contains("SMB_DOMAIN_NAME='corp.example.com'"));
        assert!(script.contains("PROTOCOL_KIND='smb'"));
        assert!(script.contains("GATEWAY_IPS=('10.0.2.40' '10.0.2.41' '10.0.2.42')"));
        // The lowest instance id creates, whoever asks.
        assert!(script.contains("CREATOR_IP='10.0.2.40'"));
        assert!(script.contains(&format!("OWN_IP='10.0.2.{asker}'")));
        assert!(script.contains("weka smb cluster create \"$SMB_CLUSTER_NAME\" \"$SMB_DOMAIN_NAME\" \"$CONFIG_FS\" --container-ids"));
    }
    assert!(
        deps.store
            .load(Group::Backend)
            .await
            .unwrap()
            .instances
            .is_empty(),
        "gateways never register with the backends"
    );
}

#[tokio::test]
async fn an_s3_gateway_gets_the_s3_setup_on_port_9000() {
    let deps = clusterize_deps(6, SMB_SETUP);
    add_gateways(&deps, "S3", 50..51);
    add_gateways(&deps, "SMB", 40..43);
    let script = gateway_asks(&deps, 50, "s3").await;
    assert!(script.contains("PROTOCOL_KIND='s3'"), "{script}");
    assert!(script.contains("S3_DEFAULT_FS='default'"));
    assert!(script.contains("S3_PORT=9000"));
    assert!(
        script.contains("GATEWAY_IPS=('10.0.2.50')"),
        "only the S3 gateways"
    );
    assert!(
        script.contains("weka s3 cluster create \"$S3_DEFAULT_FS\" \"$CONFIG_FS\" --container")
    );
}

#[tokio::test]
async fn only_a_running_gateway_of_the_protocol_gets_a_setup() {
    let deps = clusterize_deps(6, SMB_SETUP);
    add_gateways(&deps, "SMB", 40..43);
    add_gateways(&deps, "S3", 50..51);
    for (asker, protocol) in [(50, "smb"), (40, "s3"), (7, "smb")] {
        let err = clusterize::handle(&deps, json!({"name": id(asker), "protocol": protocol}))
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Conflict, "{asker} as {protocol}");
        assert!(
            weka_shared::error::error_chain(&err).contains("is not in this cluster's"),
            "{}",
            weka_shared::error::error_chain(&err)
        );
    }
}

#[tokio::test]
async fn setup_protocol_false_leaves_the_gateways_plain_frontends() {
    let deps = clusterize_deps(
        6,
        &[
            ("SMB_PROTOCOL_GATEWAYS_NUM", "3"),
            ("SMB_SETUP_PROTOCOL", "false"),
            ("S3_PROTOCOL_GATEWAYS_NUM", "1"),
            ("S3_SETUP_PROTOCOL", "false"),
        ],
    );
    // No inventory call is made: a failing inventory changes nothing.
    *deps.inventory.fail.lock().unwrap() = true;
    for (protocol, label) in [("smb", "SMB"), ("smbw", "SMBW"), ("s3", "S3")] {
        let script = gateway_asks(&deps, 40, protocol).await;
        assert!(
            script.contains(&format!("{label} protocol gw: {} setup is done", id(40))),
            "{script}"
        );
        assert!(!script.contains("cluster create"));
    }
}

#[test]
fn a_bad_protocol_setting_stops_clusterize_at_init_naming_it() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("SMB_PROTOCOL_GATEWAYS_NUM", "3")],
            "SMB_DOMAIN_NAME is required",
        ),
        (
            &[
                ("SMB_PROTOCOL_GATEWAYS_NUM", "3"),
                ("SMB_DOMAIN_NAME", "corp.example.com"),
                ("SMB_CLUSTER_NAME", "a name with spaces"),
            ],
            "SMB_CLUSTER_NAME",
        ),
        (&[("S3_SETUP_PROTOCOL", "maybe")], "S3_SETUP_PROTOCOL"),
    ];
    for (extra, needle) in cases {
        let err = clusterize::Config::from_lookup(&bootstrap_env(extra)).unwrap_err();
        assert!(err.to_string().contains(needle), "{err}");
    }
}

#[tokio::test]
async fn registrations_claims_takeovers_and_refusals_are_kept_as_events_with_their_reasons() {
    let deps = clusterize_deps(8, &[]);
    for i in 0..6 {
        ask(&deps, i).await;
        // Each member polls again while it waits.
        ask(&deps, i.saturating_sub(1)).await;
    }
    ask(&deps, 6).await;
    deps.clock.advance(Duration::from_secs(61 * 60));
    ask(&deps, 0).await;
    let events = deps.store.events().await.unwrap();
    let seen: Vec<(&str, &str, &str)> = events
        .iter()
        .rev()
        .map(|e| (e.kind.as_str(), e.subject.as_str(), e.reason.as_str()))
        .collect();
    let registrations: Vec<&(&str, &str, &str)> =
        seen.iter().filter(|e| e.0 == "registration").collect();
    assert_eq!(
        registrations.len(),
        6,
        "one per instance: a member's poll is no new registration: {seen:#?}"
    );
    assert_eq!(registrations[0].2, "registered: 1 of 6 so far");
    assert_eq!(registrations[5].2, "registered: completes the set of 6");
    let claims: Vec<(&str, &str)> = seen
        .iter()
        .filter(|e| e.0 == "claim")
        .map(|e| (e.1, e.2))
        .collect();
    assert_eq!(claims.len(), 2, "{seen:#?}");
    assert_eq!(
        claims[0],
        (
            id(5).as_str(),
            "claimed the clusterization: the set is complete"
        )
    );
    assert_eq!(claims[1].0, id(0));
    assert!(
        claims[1]
            .1
            .contains(&format!("taking it over from {}", id(5))),
        "{claims:?}"
    );
    let refusals: Vec<(&str, &str)> = seen
        .iter()
        .filter(|e| e.0 == "refusal")
        .map(|e| (e.1, e.2))
        .collect();
    assert_eq!(
        refusals,
        [(
            id(6).as_str(),
            "registration refused: the set of 6 is complete without it"
        )]
    );
}
