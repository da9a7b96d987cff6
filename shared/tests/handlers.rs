//! Handler behaviour on in-memory fakes: payload contracts, typed errors, idempotency, and
//! crash-at-every-step ("kill the writer between any two steps") recovery.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use std::time::Duration;
use weka_shared::config::lifecycle::LifecycleConfig;
use weka_shared::domain::state::{ClaimOutcome, Group, Registration, RegistrationRefusal};
use weka_shared::error::{Classify, ErrorClass};
use weka_shared::handlers::{clusterize_finalization, report, status};
use weka_shared::ports::{Clock, Instance, LeaseOutcome, StateStore, WekaError};
use weka_shared::testing::{
    CrashingStore, FakeClock, FakeInventory, FakeScalingGroups, FakeSecrets, FakeWeka,
    InMemoryStateStore, NFS_GROUP, callers, group_instance, state_config,
};
use weka_shared::wire::bootstrap::{Protocol, Vm};

fn report_deps<S>(store: S) -> report::Deps<S, FakeClock, FakeScalingGroups> {
    report::Deps {
        store,
        clock: FakeClock::default_start(),
        groups: FakeScalingGroups::default(),
        config: report::Config {
            state: state_config(),
            reports_per_host: 3,
            retention: Duration::from_secs(86_400),
            lifecycle: LifecycleConfig::disabled(),
            callers: callers(),
        },
    }
}

fn vm(id: &str) -> Vm {
    Vm {
        name: id.to_owned(),
        ..Vm::default()
    }
}

#[tokio::test]
async fn report_stores_each_kind_and_answers_like_the_reference() {
    let deps = report_deps(InMemoryStateStore::with_sizes(6, 1));
    for kind in ["progress", "error", "debug"] {
        let answer = report::handle(
            &deps,
            json!({"type": kind, "message": format!("{kind} \"quoted\" $(x)"), "hostname": "ip-10-0-0-1", "protocol": ""}),
        )
        .await
        .unwrap();
        assert_eq!(answer, "The report was added successfully");
    }
    let reports = deps.store.reports(Group::Backend).await.unwrap();
    assert_eq!(reports.len(), 3);
    assert_eq!(reports[0].message, "progress \"quoted\" $(x)");
    assert_eq!(deps.store.reports(Group::Nfs).await.unwrap().len(), 0);
}

#[tokio::test]
async fn nfs_reports_go_to_the_nfs_group() {
    let deps = report_deps(InMemoryStateStore::with_sizes(6, 1));
    report::handle(
        &deps,
        json!({"type":"progress","message":"m","hostname":"gw","protocol":"nfs"}),
    )
    .await
    .unwrap();
    assert_eq!(deps.store.reports(Group::Nfs).await.unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_report_type_is_invalid_input_and_writes_nothing() {
    let deps = report_deps(InMemoryStateStore::with_sizes(6, 1));
    let err = report::handle(
        &deps,
        json!({"type":"warning","message":"m","hostname":"h"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    assert!(err.to_string().contains("\"warning\""), "{err}");
    assert_eq!(deps.store.writes(), 0);
    // Nothing is left locked: the next report goes through at once.
    report::handle(
        &deps,
        json!({"type":"progress","message":"m","hostname":"h"}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn malformed_report_payload_is_invalid_input() {
    let deps = report_deps(InMemoryStateStore::with_sizes(6, 1));
    for payload in [
        json!("text"),
        json!({"message": "no type"}),
        json!({"type":"progress","message":"m","protocol":"ftp"}),
    ] {
        let err = report::handle(&deps, payload).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput, "{err}");
    }
}

#[tokio::test]
async fn reports_are_bounded_per_host_keeping_the_newest() {
    let deps = report_deps(InMemoryStateStore::with_sizes(6, 1));
    for i in 1..=7 {
        report::handle(
            &deps,
            json!({"type":"progress","message": format!("m{i}"),"hostname":"h"}),
        )
        .await
        .unwrap();
    }
    let kept: Vec<_> = deps
        .store
        .reports(Group::Backend)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.message)
        .collect();
    assert_eq!(kept, ["m5", "m6", "m7"]);
}

#[tokio::test]
async fn report_survives_a_writer_killed_between_any_two_steps() {
    let store = InMemoryStateStore::with_sizes(6, 1);
    // The report transition has two steps; kill after 0 and after 1 of them.
    for allowed in 0..2 {
        let crashing = report_deps(CrashingStore::after(&store, allowed));
        let err = report::handle(
            &crashing,
            json!({"type":"progress","message":"dies","hostname":"h"}),
        )
        .await
        .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Transient);
        let next = report_deps(CrashingStore::after(&store, i64::MAX));
        report::handle(
            &next,
            json!({"type":"progress","message": format!("after crash {allowed}"),"hostname":"h"}),
        )
        .await
        .unwrap();
    }
    let messages: Vec<_> = store
        .reports(Group::Backend)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.message)
        .collect();
    assert_eq!(messages, ["after crash 0", "after crash 1"]);
}

#[tokio::test]
async fn clusterization_continues_after_a_caller_dies_at_any_step() {
    // Register → claim → finalize, killing the caller after each number of steps; a later caller
    // (the retried script or a fresh instance) always gets through.
    let stale = Duration::from_secs(3600);
    for allowed in 0..3 {
        let store = InMemoryStateStore::with_sizes(2, 1);
        let clock = FakeClock::default_start();
        store.register(Group::Backend, &vm("a")).await.unwrap();
        let dying = CrashingStore::after(&store, allowed);
        let run = async {
            dying.register(Group::Backend, &vm("b")).await?;
            dying
                .claim_clusterization(Group::Backend, "b", clock.now(), stale)
                .await?;
            dying.finalize(Group::Backend, clock.now()).await
        };
        assert!(run.await.is_err(), "crash after {allowed} steps");
        // The dead clusterizer's claim goes stale; the other member takes over.
        clock.advance(stale);
        let reg = store.register(Group::Backend, &vm("b")).await.unwrap();
        assert!(reg.completes_set());
        let claim = store
            .claim_clusterization(Group::Backend, "a", clock.now(), stale)
            .await
            .unwrap();
        assert!(
            matches!(claim, ClaimOutcome::Granted { .. }),
            "after crash {allowed}: {claim:?}"
        );
        let state = store.finalize(Group::Backend, clock.now()).await.unwrap();
        assert!(state.clusterized);
    }
}

#[tokio::test]
async fn a_lease_whose_holder_died_is_taken_after_expiry_and_release_is_owner_only() {
    let store = InMemoryStateStore::with_sizes(6, 1);
    let clock = FakeClock::default_start();
    let ttl = Duration::from_secs(60);
    // The holder dies between acquire and release.
    assert!(matches!(
        store
            .acquire_lease("scale", &"run-1".into(), clock.now(), ttl)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
    assert!(
        matches!(store.acquire_lease("scale", &"run-2".into(), clock.now(), ttl).await.unwrap(), LeaseOutcome::Held(l) if l.owner == "run-1")
    );
    assert!(
        !store.release_lease("scale", "run-2").await.unwrap(),
        "a non-owner cannot release"
    );
    clock.advance(ttl);
    assert!(matches!(
        store
            .acquire_lease("scale", &"run-2".into(), clock.now(), ttl)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
    assert!(
        !store.release_lease("scale", "run-1").await.unwrap(),
        "the dead owner's late release is refused"
    );
    assert!(store.release_lease("scale", "run-2").await.unwrap());
    assert!(matches!(
        store
            .acquire_lease("scale", &"run-3".into(), clock.now(), ttl)
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
}

#[tokio::test]
async fn concurrent_registrations_have_exactly_one_completer() {
    let store = std::sync::Arc::new(InMemoryStateStore::with_sizes(50, 1));
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .register(Group::Backend, &vm(&format!("i-{i}")))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert_eq!(answers.iter().filter(|a| a.completes_set()).count(), 1);
    assert_eq!(
        answers
            .iter()
            .filter(|a| matches!(a, Registration::Registered { .. }))
            .count(),
        50
    );
    assert_eq!(
        answers
            .iter()
            .filter(
                |a| **a == Registration::Refused(RegistrationRefusal::SetComplete { target: 50 })
            )
            .count(),
        10
    );
    assert_eq!(store.writes(), 60, "one write per registration");
}

/// Registers a complete set in both groups (6 backends, 2 gateways), as a formation leaves it.
async fn register_full_sets(store: &InMemoryStateStore) {
    for (group, count, protocol) in [
        (Group::Backend, 6, Protocol::Backend),
        (Group::Nfs, 2, Protocol::Nfs),
    ] {
        for i in 0..count {
            let vm = Vm {
                name: format!("i-{:017x}", 100 * (group == Group::Nfs) as usize + i),
                protocol,
                ..Vm::default()
            };
            store.register(group, &vm).await.unwrap();
        }
    }
}

/// Review H3: any caller could set `clusterized=true` before any cluster existed.
#[tokio::test]
async fn finalization_of_an_incomplete_set_is_refused_and_nothing_changes() {
    let deps = clusterize_finalization::Deps {
        store: InMemoryStateStore::with_sizes(6, 2),
        inventory: FakeInventory::default(),
        clock: FakeClock::default_start(),
        groups: FakeScalingGroups::default(),
        lifecycle: LifecycleConfig::disabled(),
        callers: callers(),
    };
    for payload in [json!({}), json!({"protocol": "nfs"})] {
        let err = clusterize_finalization::handle(&deps, payload)
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    }
    assert!(!deps.store.load(Group::Backend).await.unwrap().clusterized);
    assert!(!deps.store.load(Group::Nfs).await.unwrap().clusterized);
}

#[tokio::test]
async fn finalization_is_idempotent_and_accepts_reference_payloads() {
    let deps = clusterize_finalization::Deps {
        store: InMemoryStateStore::with_sizes(6, 2),
        inventory: FakeInventory::default(),
        clock: FakeClock::default_start(),
        groups: FakeScalingGroups::default(),
        lifecycle: LifecycleConfig::disabled(),
        callers: callers(),
    };
    register_full_sets(&deps.store).await;
    for payload in [json!({}), json!(null), json!({}), json!({"protocol":"nfs"})] {
        let answer = clusterize_finalization::handle(&deps, payload)
            .await
            .unwrap();
        assert_eq!(answer, "ClusterizeFinalization completed successfully");
    }
    assert!(deps.store.load(Group::Backend).await.unwrap().clusterized);
    assert!(deps.store.load(Group::Nfs).await.unwrap().clusterized);
    let err = clusterize_finalization::handle(&deps, json!({"protocol": 7}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
}

#[tokio::test]
async fn finalization_without_a_state_document_is_an_internal_error_naming_the_key() {
    let deps = clusterize_finalization::Deps {
        store: InMemoryStateStore::empty(),
        inventory: FakeInventory::default(),
        clock: FakeClock::default_start(),
        groups: FakeScalingGroups::default(),
        lifecycle: LifecycleConfig::disabled(),
        callers: callers(),
    };
    let err = clusterize_finalization::handle(&deps, json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Internal);
}

fn status_deps(
    weka: FakeWeka,
) -> status::Deps<
    InMemoryStateStore,
    weka_shared::testing::FakeScalingGroups,
    FakeInventory,
    FakeSecrets,
    FakeWeka,
    FakeClock,
> {
    let inventory = FakeInventory::default();
    inventory.add_running(
        "poc",
        "backend",
        vec![
            Instance {
                id: "i-1".to_owned(),
                private_ip: Some("10.0.1.10".to_owned()),
                private_dns_name: None,
            },
            Instance {
                id: "i-2".to_owned(),
                private_ip: Some("10.0.1.11".to_owned()),
                private_dns_name: None,
            },
        ],
    );
    inventory
        .desired
        .lock()
        .unwrap()
        .insert("asg".to_owned(), 8);
    status::Deps {
        store: InMemoryStateStore::with_sizes(2, 1),
        groups: weka_shared::testing::FakeScalingGroups::default(),
        inventory,
        secrets: FakeSecrets::with(&[("user", "weka-deployment"), ("admin", "adm1n-pw")]),
        weka,
        clock: FakeClock::default_start(),
        config: status::Config {
            state: state_config(),
            cluster_name: "poc".to_owned(),
            secrets: weka_shared::ports::SecretsConfig {
                username_id: "user".to_owned(),
                deployment_password_id: "deploy".to_owned(),
                admin_password_id: "admin".to_owned(),
            },
            asg_name: Some("asg".to_owned()),
            plan: None,
        },
    }
}

#[tokio::test]
async fn status_before_clusterization_returns_zero_weka_status_without_calling_weka() {
    let weka = FakeWeka::new(|_, _, _| panic!("weka must not be called before clusterization"));
    let deps = status_deps(weka.clone());
    let answer = status::handle(&deps, json!({"type":"status"}), None)
        .await
        .unwrap();
    assert_eq!(answer["clusterized"], false);
    assert_eq!(answer["initial_size"], 2);
    assert_eq!(
        answer["desired_size"], 8,
        "live ASG desired capacity, not the stale initial value"
    );
    assert_eq!(
        answer["weka_status"]["io_status_changed_time"],
        "0001-01-01T00:00:00Z"
    );
    assert!(weka.calls().is_empty());
}

#[tokio::test]
async fn status_when_clusterized_asks_weka_with_fallback_admin_credentials() {
    let weka = FakeWeka::new(|ips, method, _| {
        assert_eq!(ips, ["10.0.1.10", "10.0.1.11"]);
        assert_eq!(method, "status");
        Ok(
            json!({"io_status": "STARTED", "status": "OK", "hosts": {"backends": {"active": 18, "total": 18}}}),
        )
    });
    let deps = status_deps(weka.clone());
    deps.store
        .finalize(Group::Backend, FakeClock::default_start().now())
        .await
        .unwrap();
    let answer = status::handle(&deps, json!({"type":"status"}), None)
        .await
        .unwrap();
    assert_eq!(answer["weka_status"]["io_status"], "STARTED");
    assert!(answer.get("weka_status_error").is_none());
    assert_eq!(
        weka.logins()[0].username,
        "admin",
        "no deployment password yet: admin fallback"
    );
}

#[tokio::test]
async fn status_reports_a_failing_weka_call_instead_of_swallowing_it() {
    let weka = FakeWeka::new(|_, method, _| {
        Err(WekaError::Rpc {
            method: method.to_owned(),
            code: -32000,
            message: "cluster is busy".to_owned(),
        })
    });
    let deps = status_deps(weka);
    deps.store
        .finalize(Group::Backend, FakeClock::default_start().now())
        .await
        .unwrap();
    let answer = status::handle(&deps, json!({"type":"status"}), None)
        .await
        .unwrap();
    assert!(answer["weka_status"].is_null());
    assert!(
        answer["weka_status_error"]
            .as_str()
            .unwrap()
            .contains("cluster is busy"),
        "{answer}"
    );
    assert!(
        answer.get("weka_login_error").is_none(),
        "not a refused login: {answer}"
    );
}

/// A clusterized status whose WEKA refuses the login with `login_error` (as the real client
/// reports it: every backend refused) after the deployment password was stored or not.
async fn status_with_a_refused_login(deployment_password: bool) -> serde_json::Value {
    let weka = FakeWeka::new(|ips, method, _| {
        let username = "weka-deployment".to_owned();
        Err(WekaError::AllBackendsFailed {
            method: method.to_owned(),
            attempts: ips.len(),
            out_of_time: false,
            failures: ips
                .iter()
                .map(|ip| WekaError::Login {
                    ip: ip.clone(),
                    username: username.clone(),
                    message: "invalid username or password".to_owned(),
                })
                .collect(),
        })
    });
    let deps = status_deps(weka);
    if deployment_password {
        use weka_shared::ports::Secrets as _;
        deps.secrets.put("deploy", "dep1oy-pw").await.unwrap();
    }
    deps.store
        .finalize(Group::Backend, FakeClock::default_start().now())
        .await
        .unwrap();
    status::handle(&deps, json!({"type":"status"}), None)
        .await
        .unwrap()
}

/// Issue 15 item 3, review M2: a clusterized cluster whose WEKA refuses the deployment user's
/// login (the user was never added) says so explicitly: the control plane can no longer heal,
/// scale down or read WEKA's status.
#[tokio::test]
async fn status_says_when_weka_refuses_the_deployment_users_login() {
    let answer = status_with_a_refused_login(true).await;
    assert!(answer["weka_status"].is_null());
    let login = answer["weka_login_error"].as_str().unwrap_or_default();
    assert!(
        login.starts_with("the deployment user weka-deployment cannot log in: ")
            && login.contains("invalid username or password")
            && login.ends_with("the control plane cannot heal or scale down"),
        "{answer}"
    );
    let error = answer["weka_status_error"].as_str().unwrap();
    assert!(
        error.contains("weka-deployment") && error.contains("login"),
        "{answer}"
    );
    assert!(!answer.to_string().contains("dep1oy-pw"), "{answer}");
}

/// The same refusal of a bare `WekaError::Login`, and of the admin fallback (no deployment
/// password stored): named as the admin login.
#[tokio::test]
async fn status_names_which_login_weka_refuses() {
    let weka = FakeWeka::new(|ips, _, _| {
        Err(WekaError::Login {
            ip: ips[0].clone(),
            username: "admin".to_owned(),
            message: "invalid username or password".to_owned(),
        })
    });
    let deps = status_deps(weka);
    deps.store
        .finalize(Group::Backend, FakeClock::default_start().now())
        .await
        .unwrap();
    let answer = status::handle(&deps, json!({"type":"status"}), None)
        .await
        .unwrap();
    let login = answer["weka_login_error"].as_str().unwrap_or_default();
    assert!(
        login.starts_with("the admin user cannot log in")
            && login.contains("invalid username or password")
            && login.ends_with("the control plane cannot heal or scale down"),
        "{answer}"
    );
    assert!(
        answer["weka_status_error"]
            .as_str()
            .unwrap()
            .contains("admin"),
        "{answer}"
    );
}

#[tokio::test]
async fn status_never_includes_credentials() {
    let weka = FakeWeka::new(|_, _, _| Ok(json!({"status": "OK"})));
    let deps = status_deps(weka);
    deps.store
        .finalize(Group::Backend, FakeClock::default_start().now())
        .await
        .unwrap();
    for kind in ["status", "progress"] {
        let answer = status::handle(&deps, json!({"type": kind}), None)
            .await
            .unwrap()
            .to_string();
        assert!(!answer.contains("adm1n-pw"), "{answer}");
    }
}

#[tokio::test]
async fn progress_shows_reports_registrations_and_installing_hosts() {
    let weka = FakeWeka::new(|_, _, _| unreachable!());
    let deps = status_deps(weka);
    deps.store
        .register(Group::Backend, &vm("i-1"))
        .await
        .unwrap();
    let rdeps = report_deps(CrashingStore::after(&deps.store, i64::MAX));
    report::handle(&rdeps, json!({"type":"progress","message":"Downloading weka install script","hostname":"ip-10-0-1-11.ec2.internal"})).await.unwrap();
    report::handle(
        &rdeps,
        json!({"type":"debug","message":"lsblk","hostname":"ip-10-0-1-11.ec2.internal"}),
    )
    .await
    .unwrap();
    let answer = status::handle(&deps, json!({"type":"progress"}), None)
        .await
        .unwrap();
    assert_eq!(answer["ready_for_clusterization"], json!(["i-1"]));
    assert_eq!(answer["in_progress"], json!(["ip-10-0-1-11.ec2.internal"]));
    assert_eq!(answer["summary"]["clusterization_target"], 2);
    assert_eq!(
        answer["progress"]["ip-10-0-1-11.ec2.internal"][0],
        "09:00:00 UTC: Downloading weka install script"
    );
    assert_eq!(
        answer["debug"]["ip-10-0-1-11.ec2.internal"][0],
        "09:00:00 UTC: lsblk"
    );
    assert_eq!(
        answer["messages"]["ip-10-0-1-11.ec2.internal"][0]["time"],
        "2026-05-21T09:00:00.000Z"
    );
}

#[tokio::test]
async fn status_rejects_unknown_types_and_protocols() {
    let deps = status_deps(FakeWeka::new(|_, _, _| unreachable!()));
    let err = status::handle(&deps, json!({"type":"health"}), None)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    let err = status::handle(&deps, json!({"type":"status","protocol":"smb"}), None)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    assert!(err.to_string().contains("smb"));
}

#[tokio::test]
async fn status_inventory_failure_is_transient_for_progress() {
    let deps = status_deps(FakeWeka::new(|_, _, _| unreachable!()));
    *deps.inventory.fail.lock().unwrap() = true;
    let err = status::handle(&deps, json!({"type":"progress"}), None)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient);
    // The status view degrades to the recorded desired size instead of failing.
    let answer = status::handle(&deps, json!({"type":"status"}), None)
        .await
        .unwrap();
    assert_eq!(answer["desired_size"], 2);
}

#[tokio::test]
async fn nfs_finalization_tags_the_gateways_and_a_named_call_tags_one_joiner() {
    let deps = clusterize_finalization::Deps {
        store: InMemoryStateStore::with_sizes(6, 2),
        inventory: FakeInventory::default(),
        clock: FakeClock::default_start(),
        groups: FakeScalingGroups::default(),
        lifecycle: LifecycleConfig::disabled(),
        callers: callers(),
    };
    deps.groups.add_group(
        NFS_GROUP,
        3,
        vec![group_instance(
            "i-0000000000000gw3",
            "10.0.2.3",
            deps.clock.now(),
        )],
    );
    for id in ["i-0000000000000gw1", "i-0000000000000gw2"] {
        deps.store
            .register(
                Group::Nfs,
                &Vm {
                    name: id.to_owned(),
                    protocol: weka_shared::wire::bootstrap::Protocol::Nfs,
                    ..Vm::default()
                },
            )
            .await
            .unwrap();
    }
    clusterize_finalization::handle(&deps, json!({"protocol": "nfs"}))
        .await
        .unwrap();
    assert!(deps.store.load(Group::Nfs).await.unwrap().clusterized);
    assert!(!deps.store.load(Group::Backend).await.unwrap().clusterized);
    let answer = clusterize_finalization::handle(
        &deps,
        json!({"name": "i-0000000000000gw3", "protocol": "nfs"}),
    )
    .await
    .unwrap();
    assert_eq!(
        answer,
        "JoinFinalizationFinalization completed successfully"
    );
    let tags = deps.inventory.tags.lock().unwrap().clone();
    for id in [
        "i-0000000000000gw1",
        "i-0000000000000gw2",
        "i-0000000000000gw3",
    ] {
        assert_eq!(tags[id]["nfs_interface_group_port"], "ready", "{id}");
    }
    let err = clusterize_finalization::handle(&deps, json!({"name": "i-1"}))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    // A joiner names itself, an instance of the gateway group: not a backend, not a stranger.
    let err = clusterize_finalization::handle(
        &deps,
        json!({"name": "i-0000000000000gw9", "protocol": "nfs"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    assert!(
        !deps
            .inventory
            .tags
            .lock()
            .unwrap()
            .contains_key("i-0000000000000gw9")
    );
}

#[path = "adopt/mod.rs"]
mod adoption;

#[path = "certificate/mod.rs"]
mod certificate;

#[path = "store_props/mod.rs"]
mod store_props;

#[path = "store_props/in_memory.rs"]
mod store_round_trip;

/// Review M5: any caller could add hosts without bound (a counter and a ring each). New hosts
/// are admitted up to a monthly limit; beyond it a new host's report is refused and nothing is
/// stored for it, while known hosts keep reporting.
#[tokio::test]
async fn reporting_hosts_grow_at_a_bounded_rate() {
    use weka_shared::domain::report::NEW_REPORTING_HOSTS_PER_MONTH;
    let deps = report_deps(InMemoryStateStore::with_sizes(6, 1));
    let report =
        |host: String| json!({"type": "debug", "message": "m", "hostname": host, "protocol": ""});
    for i in 0..NEW_REPORTING_HOSTS_PER_MONTH {
        report::handle(&deps, report(format!("host-{i}")))
            .await
            .unwrap();
    }
    let err = report::handle(&deps, report("one-too-many".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    report::handle(&deps, report("host-7".to_owned()))
        .await
        .unwrap();
    let reports = deps.store.reports(Group::Backend).await.unwrap();
    assert!(!reports.iter().any(|r| r.host == "one-too-many"));
    assert_eq!(reports.len(), NEW_REPORTING_HOSTS_PER_MONTH as usize + 1);
}

/// Review M2: a login WEKA refuses on every backend, as the real client reports it
/// (`AllBackendsFailed` of `Login`s), is `Internal` for scale-down (an operator is needed), as a
/// bare `Login` is; it was `Transient`, retried every minute.
#[test]
fn scale_down_classifies_a_login_refused_by_every_backend_as_operator_needed() {
    use weka_shared::handlers::scale_down::ScaleDownError;
    let login = |ip: &str| WekaError::Login {
        ip: ip.to_owned(),
        username: "weka-deployment".to_owned(),
        message: "invalid username or password".to_owned(),
    };
    let bare = ScaleDownError::Read {
        method: "status",
        source: login("10.0.1.10"),
    };
    assert_eq!(bare.class(), ErrorClass::Internal);
    let every = ScaleDownError::Read {
        method: "status",
        source: WekaError::AllBackendsFailed {
            method: "status".to_owned(),
            attempts: 2,
            out_of_time: false,
            failures: vec![login("10.0.1.10"), login("10.0.1.11")],
        },
    };
    assert!(
        weka_shared::error::error_chain(&every).contains("weka-deployment"),
        "the message names the deployment user"
    );
    assert_eq!(every.class(), ErrorClass::Internal);
}
