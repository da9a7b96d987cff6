//! `adopt` on fakes: a running cluster formed by WEKA's module is recorded clusterized only when
//! its accounts agree, once, and a retry answers what the first call recorded.

use serde_json::{Value, json};
use weka_shared::config::ReferenceStateConfig;
use weka_shared::domain::adoption::ReferenceState;
use weka_shared::domain::state::Group;
use weka_shared::error::{Classify, ErrorClass};
use weka_shared::handlers::adopt;
use weka_shared::ports::{Instance, StateStore};
use weka_shared::testing::{
    FakeClock, FakeInventory, FakeReferenceStates, FakeSecrets, FakeWeka, InMemoryStateStore,
    secrets_config, state_config,
};

type Deps = adopt::Deps<
    InMemoryStateStore,
    FakeReferenceStates,
    FakeInventory,
    FakeSecrets,
    FakeWeka,
    FakeClock,
>;

fn instance(n: u32) -> Instance {
    Instance {
        id: format!("i-{n}"),
        private_ip: Some(format!("10.0.1.{n}")),
        private_dns_name: None,
    }
}

/// WEKA's hosts: three containers per machine, on the given instances; one client.
fn hosts_list(machines: &[u32]) -> Value {
    let mut hosts = serde_json::Map::new();
    let mut id = 0;
    for m in machines {
        for container in ["drives0", "compute0", "frontend0"] {
            hosts.insert(
                format!("HostId<{id}>"),
                json!({"mode": "backend", "container_name": container, "state": "ACTIVE",
                       "status": "UP", "host_ip": format!("10.0.1.{m}"),
                       "machine_identifier": format!("m{m}"),
                       "aws": {"instance_id": format!("i-{m}")}}),
            );
            id += 1;
        }
    }
    hosts.insert(
        format!("HostId<{id}>"),
        json!({"mode": "client", "container_name": "client", "state": "ACTIVE", "status": "UP",
               "host_ip": "10.0.9.1", "aws": {"instance_id": "i-client"}}),
    );
    Value::Object(hosts)
}

fn reference(clusterized: bool) -> ReferenceState {
    ReferenceState {
        clusterized,
        initial_size: 3,
        desired_size: 3,
        clusterization_target: 3,
        instances: Vec::new(),
    }
}

/// A group of `running` backends of which WEKA runs `in_weka`, and WEKA's module's state.
fn deps(running: &[u32], in_weka: &[u32], reference: FakeReferenceStates) -> Deps {
    let inventory = FakeInventory::default();
    inventory.add_running(
        "poc",
        "backend",
        running.iter().map(|n| instance(*n)).collect(),
    );
    let hosts = hosts_list(in_weka);
    adopt::Deps {
        store: InMemoryStateStore::with_sizes(3, 0),
        reference,
        inventory,
        secrets: FakeSecrets::with(&[
            ("user-id", "weka-deployment"),
            ("deploy-pw-id", "d3ploy"),
            ("admin-pw-id", "adm1n"),
        ]),
        weka: FakeWeka::new(move |_, method, _| {
            assert_eq!(method, "hosts_list", "adopt only reads the host list");
            Ok(hosts.clone())
        }),
        clock: FakeClock::default_start(),
        config: adopt::Config {
            state: state_config(),
            reference: ReferenceStateConfig {
                table: "weka-poc-weka-deployment".to_owned(),
                hash_key: "Key".to_owned(),
                state_key: "weka-poc-state".to_owned(),
                nfs_state_key: "weka-poc-nfs-state".to_owned(),
            },
            cluster_name: "poc".to_owned(),
            secrets: secrets_config(),
        },
    }
}

async fn clusterized(deps: &Deps) -> bool {
    deps.store.load(Group::Backend).await.unwrap().clusterized
}

#[tokio::test]
async fn a_cluster_weka_s_module_formed_is_adopted_once_and_a_retry_answers_the_same() {
    let deps = deps(
        &[1, 2, 3, 4],
        &[1, 2, 3],
        FakeReferenceStates::backend(reference(true)),
    );
    let first = adopt::handle(&deps, json!({"source": "reference"}), None)
        .await
        .unwrap();
    assert_eq!(first["adopted"], true);
    assert_eq!(first["already_clusterized"], false);
    assert_eq!(first["plan"]["members"], json!(["i-1", "i-2", "i-3"]));
    assert_eq!(first["plan"]["not_members_yet"], json!(["i-4"]));
    assert_eq!(first["plan"]["reference"]["clusterization_target"], 3);
    assert!(clusterized(&deps).await);
    let writes = deps.store.writes();

    let retry = adopt::handle(&deps, json!({"source": "reference"}), None)
        .await
        .unwrap();
    assert_eq!(retry["adopted"], false);
    assert_eq!(retry["already_clusterized"], true);
    assert_eq!(
        retry["plan"], first["plan"],
        "the retry answers the recorded adoption"
    );
    assert_eq!(retry["clusterized_at"], first["clusterized_at"]);
    assert_eq!(deps.store.writes(), writes, "a retry writes nothing");
}

#[tokio::test]
async fn a_dry_run_decides_and_writes_nothing() {
    let deps = deps(&[1, 2, 3], &[1, 2, 3], FakeReferenceStates::default());
    let answer = adopt::handle(&deps, json!({"source": "cluster", "dry_run": true}), None)
        .await
        .unwrap();
    assert_eq!(answer["dry_run"], true);
    assert_eq!(answer["adopted"], false);
    assert_eq!(answer["plan"]["source"], "cluster");
    assert_eq!(answer["plan"]["members"], json!(["i-1", "i-2", "i-3"]));
    assert_eq!(deps.store.writes(), 0);
    assert!(!clusterized(&deps).await);
}

#[tokio::test]
async fn the_cluster_s_own_view_is_enough_without_weka_s_module_state() {
    let deps = deps(&[1, 2, 3], &[1, 2, 3], FakeReferenceStates::default());
    let answer = adopt::handle(&deps, json!({"source": "cluster"}), None)
        .await
        .unwrap();
    assert_eq!(answer["adopted"], true);
    assert_eq!(answer["plan"]["reference"], Value::Null);
    assert!(clusterized(&deps).await);
}

#[tokio::test]
async fn accounts_that_disagree_are_refused_and_nothing_is_written() {
    let cases: [(&str, Deps, &str); 3] = [
        (
            "reference never finished",
            deps(
                &[1, 2, 3],
                &[1, 2, 3],
                FakeReferenceStates::backend(reference(false)),
            ),
            "clusterized = false",
        ),
        (
            "no cluster in WEKA",
            deps(
                &[1, 2, 3],
                &[],
                FakeReferenceStates::backend(reference(true)),
            ),
            "no formed cluster",
        ),
        (
            "WEKA runs instances of another deployment",
            deps(
                &[1, 2, 3],
                &[1, 2, 3, 7],
                FakeReferenceStates::backend(reference(true)),
            ),
            "i-7",
        ),
    ];
    for (case, deps, says) in cases {
        let err = adopt::handle(&deps, json!({"source": "reference"}), None)
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Conflict, "{case}");
        let message = weka_shared::error::error_chain(&err);
        assert!(message.contains(says), "{case}: {message}");
        assert_eq!(deps.store.writes(), 0, "{case}");
        assert!(!clusterized(&deps).await, "{case}");
    }
}

#[tokio::test]
async fn a_missing_reference_item_names_where_it_was_looked_for() {
    let deps = deps(&[1], &[1], FakeReferenceStates::default());
    let err = adopt::handle(&deps, json!({"source": "reference"}), None)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    let message = err.to_string();
    assert!(message.contains("reference_state_table_name"), "{message}");
    assert!(message.contains("backend-state"), "{message}");
}

#[tokio::test]
async fn bad_requests_are_invalid_input() {
    let deps = deps(&[1], &[1], FakeReferenceStates::default());
    for payload in [
        json!({"source": "guess"}),
        json!({}),
        json!({"source": "cluster", "protocol": "smb"}),
        json!({"source": "cluster", "force": true}),
    ] {
        let err = adopt::handle(&deps, payload.clone(), None)
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput, "{payload}");
    }
    assert_eq!(deps.store.writes(), 0);
}
