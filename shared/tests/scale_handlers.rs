//! The scale loop's handlers (fetch, scale-down, terminate, transient) on in-memory fakes, and
//! the consistency of the state machine definition with the functions and their error types.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

#[path = "scale/common.rs"]
mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Asg, Cb, M, now};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weka_shared::config::geometry::GeometryConfig;
use weka_shared::config::lifecycle::LifecycleConfig;
use weka_shared::domain::scale_down::ClusterSnapshot;
use weka_shared::domain::state::{ClusterState, Group};
use weka_shared::domain::terminate::{AsgHealth, Ec2State, TerminatePolicy};
use weka_shared::error::{Classify, ErrorClass};
use weka_shared::handlers::{fetch, scale_down, status, terminate, transient};
use weka_shared::lambda::Invocation;
use weka_shared::ports::{
    Credentials, GroupInstance, Instance, LeaseOutcome, StateStore, WekaApi, WekaConnector,
    WekaError,
};
use weka_shared::services::scale_run::SCALE_LEASE;
use weka_shared::testing::{
    FakeClock, FakeInventory, FakeScalingGroups, FakeSecrets, FakeWeka, InMemoryStateStore,
    ScalingCall, assert_no_transient_errors, env, fake_secrets, fetch_env, group_instance,
    invocation, scale_down_config, scale_response, status_deps, terminate_config,
};
use weka_shared::weka::model::HostId;
use weka_shared::wire::bootstrap::Vm;
use weka_shared::wire::scale::{
    HostGroupInfoResponse, InstanceRef, ScaleResponse, TerminatedInstancesResponse,
};

const ASG: &str = "weka-poc-autoscaling-group";
const NFS_ASG: &str = "weka-poc-nfs-protocol-gateway";

async fn clusterized_store() -> InMemoryStateStore {
    let store = InMemoryStateStore::with_sizes(6, 0);
    store.finalize(Group::Backend, now()).await.unwrap();
    store
}

async fn lease_holder(store: &InMemoryStateStore) -> Option<String> {
    // A probe owner takes the lease only if nobody holds it; then gives it back.
    match store
        .acquire_lease(SCALE_LEASE, "probe", now(), Duration::from_secs(1))
        .await
        .unwrap()
    {
        LeaseOutcome::Held(l) => Some(l.owner),
        LeaseOutcome::Acquired(_) => {
            store.release_lease(SCALE_LEASE, "probe").await.unwrap();
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// fetch
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// scale-down
// ---------------------------------------------------------------------------------------------

/// The read answers of a cluster.
fn reads_for(snap: &ClusterSnapshot) -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        ("status", serde_json::to_value(&snap.status).unwrap()),
        (
            "manual_override_list",
            serde_json::to_value(&snap.overrides).unwrap(),
        ),
        ("hosts_list", serde_json::to_value(&snap.hosts).unwrap()),
        ("disks_list", serde_json::to_value(&snap.drives).unwrap()),
        ("nodes_list", serde_json::to_value(&snap.nodes).unwrap()),
        (
            "interface_group_list",
            serde_json::to_value(snap.interface_groups.as_ref().unwrap()).unwrap(),
        ),
    ])
}

/// A fake WEKA answering the reads from `snap`; mutating calls succeed unless listed in `fail`.
fn weka_for(snap: &ClusterSnapshot, fail: &[&'static str]) -> FakeWeka {
    let reads = reads_for(snap);
    let fail: Vec<&'static str> = fail.to_vec();
    FakeWeka::new(move |_, method, _| {
        if fail.contains(&method) {
            return Err(WekaError::Rpc {
                method: method.to_owned(),
                code: -32000,
                message: "injected".to_owned(),
            });
        }
        Ok(reads.get(method).cloned().unwrap_or_else(|| json!({})))
    })
}

fn scale_deps<W>(
    store: InMemoryStateStore,
    weka: W,
    geometry: Option<(u32, u32, u32)>,
) -> scale_down::Deps<InMemoryStateStore, FakeSecrets, W, FakeClock> {
    scale_down::Deps {
        store,
        secrets: fake_secrets(),
        weka,
        clock: FakeClock::at(now()),
        config: scale_down::Config {
            geometry: geometry.map(|(stripe, protection_level, hot_spare)| GeometryConfig {
                stripe_width: Some(stripe),
                protection_level,
                hot_spare,
            }),
            ..scale_down_config(LifecycleConfig::disabled())
        },
    }
}

/// Runs scale-down on `info` as the state machine's execution `exec-1`.
async fn scale_down_step<W: WekaConnector>(
    deps: &scale_down::Deps<InMemoryStateStore, FakeSecrets, W, FakeClock>,
    info: &HostGroupInfoResponse,
) -> Result<ScaleResponse, scale_down::ScaleDownError> {
    scale_down::handle(deps, step(info), invocation(now())).await
}

fn step(info: &HostGroupInfoResponse) -> Value {
    json!({"execution": "exec-1", "input": info})
}

fn deactivated_ips(calls: &[(String, Value)], cb: &Cb) -> Vec<String> {
    let mut ips: Vec<String> = calls
        .iter()
        .filter(|(m, _)| m == "cluster_deactivate_hosts")
        .map(|(_, p)| {
            let first: HostId = p["host_ids"][0].as_str().unwrap().parse().unwrap();
            cb.snap.hosts[&first].host_ip.clone()
        })
        .collect();
    ips.sort();
    ips
}

/// Six machines, one of them to heal.
const FIVE_HEALTHY_ONE_UNHEALTHY: [M; 6] = [
    M::Healthy,
    M::Healthy,
    M::Healthy,
    M::Healthy,
    M::Healthy,
    M::Unhealthy,
];

fn machines(cb: &mut Cb, kinds: &[M]) {
    for (n, kind) in kinds.iter().enumerate() {
        cb.machine(
            &format!("10.0.{}.{}", n / 250, n % 250 + 1),
            *kind,
            Asg::Backend,
        );
    }
    cb.info.backend_ips = cb
        .info
        .weka_backend_instances
        .iter()
        .map(|i| i.private_ip.clone())
        .collect();
}

#[tokio::test]
async fn scale_down_before_clusterization_is_a_clean_empty_answer() {
    let mut cb = Cb::new(6);
    machines(&mut cb, &[M::Healthy; 6]);
    let weka = weka_for(&cb.snap, &[]);
    let deps = scale_deps(InMemoryStateStore::with_sizes(6, 0), weka.clone(), None);
    let out = scale_down_step(&deps, &cb.info).await.unwrap();
    assert_eq!(out, scale_down::skipped_response());
    assert!(weka.calls().is_empty(), "weka is not even asked");
    assert!(weka.logins().is_empty());
    let note = deps.store.note("scale-down").await.unwrap().unwrap();
    assert_eq!(note["refusal"], Value::Null);
    assert!(
        note["skipped"]
            .as_str()
            .unwrap()
            .contains("not clusterized")
    );
    assert_eq!(lease_holder(&deps.store).await.as_deref(), Some("exec-1"));
}

#[tokio::test]
async fn scale_down_not_now_gates_answer_empty_without_acting() {
    for (gate, expect) in [
        ("io", "not STARTED"),
        ("upgrade", "upgrade"),
        ("override", "skip_scale_down"),
    ] {
        let mut cb = Cb::new(3);
        machines(&mut cb, &[M::Healthy; 6]);
        match gate {
            "io" => cb.snap.status.io_status = "STOPPED".to_owned(),
            "upgrade" => cb.snap.status.upgrade = "4.4.3".to_owned(),
            _ => {
                cb.snap.overrides.insert(
                    "ManualOverrideId<1>".to_owned(),
                    serde_json::from_value(json!({"key": "skip_scale_down", "enabled": true}))
                        .unwrap(),
                );
            }
        }
        let weka = weka_for(&cb.snap, &[]);
        let deps = scale_deps(clusterized_store().await, weka.clone(), None);
        let out = scale_down_step(&deps, &cb.info).await.unwrap();
        assert_eq!(out, scale_down::skipped_response(), "{gate}");
        assert!(
            weka.calls().iter().all(|(m, _)| !m.starts_with("cluster_")),
            "{gate}: nothing mutated"
        );
        let note = deps.store.note("scale-down").await.unwrap().unwrap();
        assert!(
            note["skipped"].as_str().unwrap().contains(expect),
            "{gate}: {note}"
        );
    }
}

#[tokio::test]
async fn scale_down_deactivates_one_machine_and_loads_credentials_itself() {
    let mut cb = Cb::new(3);
    machines(&mut cb, &[M::Healthy; 4]);
    let weka = weka_for(&cb.snap, &[]);
    let deps = scale_deps(clusterized_store().await, weka.clone(), Some((1, 1, 0)));
    let out = scale_down_step(&deps, &cb.info).await.unwrap();
    assert_eq!(deactivated_ips(&weka.calls(), &cb).len(), 1);
    assert_eq!(out.hosts.len(), 12, "every container is reported");
    assert!(out.to_terminate.is_empty());
    assert_no_transient_errors(&out.transient_errors);
    assert_eq!(out.refusal, None);
    assert_eq!(
        weka.logins(),
        vec![
            Credentials {
                username: "weka-deployment".to_owned(),
                password: "deploy-secret-pw".to_owned()
            };
            2
        ],
        "one session for the run, one for the re-read"
    );
    let note = deps.store.note("scale-down").await.unwrap().unwrap();
    assert_eq!(note["refusal"], Value::Null);
    assert_eq!(
        lease_holder(&deps.store).await.as_deref(),
        Some("exec-1"),
        "terminate releases"
    );
}

#[tokio::test]
async fn safety_floor_refuses_the_shrink_heals_anyway_and_status_shows_it() {
    let mut cb = Cb::new(3);
    machines(&mut cb, &FIVE_HEALTHY_ONE_UNHEALTHY);
    let weka = weka_for(&cb.snap, &[]);
    let deps = scale_deps(clusterized_store().await, weka.clone(), Some((3, 2, 1)));
    let out = scale_down_step(&deps, &cb.info).await.unwrap();
    let refusal = out.refusal.clone().unwrap();
    assert!(refusal.shrink_refused);
    assert_eq!(refusal.minimum, 6);
    assert_eq!(
        deactivated_ips(&weka.calls(), &cb),
        vec!["10.0.0.6".to_owned()],
        "only the unhealthy machine is deactivated"
    );
    let note = deps.store.note("scale-down").await.unwrap().unwrap();
    assert_eq!(note["refusal"]["shrink_refused"], json!(true));

    let status_deps = status_deps(deps.store, weka, now());
    let shown = status::handle(&status_deps, json!({"type": "status"}), None)
        .await
        .unwrap();
    assert_eq!(shown["scale_refusal"]["minimum"], json!(6), "{shown}");

    // A later run without refusal clears it.
    let mut ok = Cb::new(6);
    machines(&mut ok, &[M::Healthy; 6]);
    let deps = scale_deps(status_deps.store, weka_for(&ok.snap, &[]), Some((3, 2, 1)));
    scale_down_step(&deps, &ok.info).await.unwrap();
    let note = deps.store.note("scale-down").await.unwrap().unwrap();
    assert_eq!(note["refusal"], Value::Null);
}

/// A connector whose mutating calls take `delay`, recording the most calls in flight at once.
#[derive(Clone)]
struct SlowWeka {
    inner: FakeWeka,
    delay: Duration,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    order: Arc<Mutex<Vec<(String, String)>>>,
}

impl SlowWeka {
    fn new(inner: FakeWeka, delay: Duration) -> Self {
        Self {
            inner,
            delay,
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
            order: Arc::default(),
        }
    }
}

struct SlowSession {
    weka: SlowWeka,
    inner: <FakeWeka as WekaConnector>::Api,
}

impl WekaConnector for SlowWeka {
    type Api = SlowSession;
    fn connect(&self, ips: Vec<String>, credentials: Credentials) -> SlowSession {
        SlowSession {
            weka: self.clone(),
            inner: self.inner.connect(ips, credentials),
        }
    }
}

impl WekaApi for SlowSession {
    async fn call(&self, method: &str, params: Value) -> Result<Value, WekaError> {
        if !method.starts_with("cluster_") {
            return self.inner.call(method, params).await;
        }
        let now = self.weka.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.weka.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.weka.delay).await;
        self.weka
            .order
            .lock()
            .unwrap()
            .push((method.to_owned(), params.to_string()));
        self.weka.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.inner.call(method, params).await
    }
}

#[tokio::test]
async fn a_plan_runs_machines_in_parallel_and_each_machine_in_order() {
    let mut cb = Cb::new(2);
    machines(&mut cb, &[M::Healthy; 6]);
    let slow = SlowWeka::new(weka_for(&cb.snap, &[]), Duration::from_millis(30));
    let deps = scale_deps(clusterized_store().await, slow.clone(), Some((1, 1, 0)));
    let out = scale_down_step(&deps, &cb.info).await.unwrap();
    assert_no_transient_errors(&out.transient_errors);
    assert_eq!(deactivated_ips(&slow.inner.calls(), &cb).len(), 4);
    let max = slow.max_in_flight.load(Ordering::SeqCst);
    assert!(
        (2..=16).contains(&max),
        "machines acted on in parallel: {max}"
    );
    // Per machine, its drives are deactivated before its containers.
    let order = slow.order.lock().unwrap().clone();
    for (n, (method, params)) in order.iter().enumerate() {
        if method == "cluster_deactivate_hosts" {
            let ids: Vec<HostId> = serde_json::from_str::<Value>(params).unwrap()["host_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().parse().unwrap())
                .collect();
            let drives: Vec<String> = cb
                .snap
                .drives
                .values()
                .filter(|d| ids.contains(&d.host_id))
                .map(|d| d.uuid.clone())
                .collect();
            for uuid in drives {
                let at = order
                    .iter()
                    .position(|(m, p)| m == "cluster_deactivate_drives" && p.contains(&uuid))
                    .unwrap();
                assert!(at < n, "drive {uuid} deactivated before its host");
            }
        }
    }
}

#[tokio::test]
async fn scale_down_with_the_lease_held_does_nothing() {
    let mut cb = Cb::new(3);
    machines(&mut cb, &[M::Healthy; 4]);
    let weka = weka_for(&cb.snap, &[]);
    let deps = scale_deps(clusterized_store().await, weka.clone(), Some((1, 1, 0)));
    deps.store
        .acquire_lease(SCALE_LEASE, "exec-0", now(), Duration::from_secs(180))
        .await
        .unwrap();
    let err = scale_down_step(&deps, &cb.info).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict);
    assert_eq!(err.class().error_type(), "Weka.Conflict");
    assert!(weka.calls().is_empty());
    assert!(deps.store.note("scale-down").await.unwrap().is_none());
    assert_eq!(lease_holder(&deps.store).await.as_deref(), Some("exec-0"));
}

#[tokio::test]
async fn scale_down_failures_are_typed_and_release_the_lease() {
    let mut cb = Cb::new(3);
    machines(&mut cb, &[M::Healthy; 4]);
    let weka = weka_for(&cb.snap, &["nodes_list"]);
    let deps = scale_deps(clusterized_store().await, weka, Some((1, 1, 0)));
    let err = scale_down_step(&deps, &cb.info).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
    assert_eq!(lease_holder(&deps.store).await, None);

    let mut bad = cb.info.clone();
    bad.weka_backends_desired_capacity = 0;
    let deps = scale_deps(clusterized_store().await, weka_for(&cb.snap, &[]), None);
    let err = scale_down_step(&deps, &bad).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput, "{err}");
}

#[tokio::test]
async fn an_unsafe_delta_is_a_typed_unsafe_error() {
    let mut cb = Cb::new(4);
    machines(&mut cb, &[M::Healthy; 4]);
    // An ASG instance with no WEKA host yet, that joins between the two hosts_list reads.
    cb.info.weka_backend_instances.push(InstanceRef {
        id: "i-new".to_owned(),
        private_ip: "10.0.0.99".to_owned(),
    });
    let mut joined = cb.snap.hosts.clone();
    let mut newcomer = joined.values().next().unwrap().clone();
    newcomer.host_ip = "10.0.0.99".to_owned();
    joined.insert(HostId(500), newcomer);
    let second = serde_json::to_value(&joined).unwrap();
    let reads = reads_for(&cb.snap);
    let hosts_reads = Arc::new(AtomicUsize::new(0));
    let weka = FakeWeka::new(move |_, method, _| {
        if method == "hosts_list" && hosts_reads.fetch_add(1, Ordering::SeqCst) > 0 {
            return Ok(second.clone());
        }
        Ok(reads.get(method).cloned().unwrap_or_else(|| json!({})))
    });
    let deps = scale_deps(clusterized_store().await, weka, Some((1, 1, 0)));
    let err = scale_down_step(&deps, &cb.info).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unsafe, "{err}");
    assert!(err.to_string().contains("10.0.0.99"), "{err}");
}

#[tokio::test]
async fn scale_down_stops_short_of_the_deadline() {
    let mut cb = Cb::new(2);
    machines(&mut cb, &[M::Healthy; 4]);
    let weka = weka_for(&cb.snap, &[]);
    let deps = scale_deps(clusterized_store().await, weka.clone(), Some((1, 1, 0)));
    let late = Invocation {
        deadline: Some(now() + TimeDelta::seconds(5)),
        ..invocation(now())
    };
    let out = scale_down::handle(&deps, step(&cb.info), late)
        .await
        .unwrap();
    assert!(weka.calls().iter().all(|(m, _)| !m.starts_with("cluster_")));
    assert!(
        out.transient_errors
            .iter()
            .any(|e| e.contains("not executed")),
        "{:?}",
        out.transient_errors
    );
}

#[tokio::test]
async fn failed_weka_actions_become_transient_errors() {
    let mut cb = Cb::new(3);
    machines(&mut cb, &[M::Healthy; 4]);
    let weka = weka_for(&cb.snap, &["cluster_deactivate_hosts"]);
    let deps = scale_deps(clusterized_store().await, weka, Some((1, 1, 0)));
    let out = scale_down_step(&deps, &cb.info).await.unwrap();
    assert_eq!(out.transient_errors.len(), 1, "{:?}", out.transient_errors);
    assert!(out.transient_errors[0].contains("cluster_deactivate_hosts"));
}

#[test]
fn scale_down_config_reads_the_infra_variables() {
    let mut vars = env(&[
        ("STATE_TABLE", "t"),
        ("STATE_KEY", "k"),
        ("NFS_STATE_KEY", "n"),
        ("USERNAME_ID", "u"),
        ("DEPLOYMENT_PASSWORD_ID", "d"),
        ("ADMIN_PASSWORD_ID", "a"),
        ("STRIPE_WIDTH", "3"),
        ("PROTECTION_LEVEL", "2"),
        ("HOTSPARE", "1"),
        ("MIN_CLUSTER_SIZE", "7"),
    ]);
    let c = scale_down::Config::from_lookup(&vars).unwrap();
    assert_eq!(
        c.geometry,
        Some(GeometryConfig {
            stripe_width: Some(3),
            protection_level: 2,
            hot_spare: 1
        })
    );
    assert_eq!(c.min_cluster_size, 7);
    assert_eq!(c.lease_ttl, Duration::from_secs(180));
    vars.remove("HOTSPARE");
    assert!(
        scale_down::Config::from_lookup(&vars).is_err(),
        "geometry is all or nothing"
    );
}

/// Runs scale-down on `cb`'s cluster; returns the answer and the WEKA calls made.
async fn run_scale_down(
    cb: &Cb,
    geometry: Option<(u32, u32, u32)>,
    min_cluster_size: u32,
) -> (ScaleResponse, Vec<(String, Value)>, Value) {
    let weka = weka_for(&cb.snap, &[]);
    let mut deps = scale_deps(clusterized_store().await, weka.clone(), geometry);
    deps.config.min_cluster_size = min_cluster_size;
    let out = scale_down_step(&deps, &cb.info).await.unwrap();
    let note = deps.store.note("scale-down").await.unwrap().unwrap();
    (out, weka.calls(), note)
}

/// Asserts a refused shrink naming `desired` and `minimum`, in the answer and in the note.
fn assert_shrink_refused(out: &ScaleResponse, note: &Value, desired: i64, minimum: u32) {
    let refusal = out.refusal.clone().unwrap();
    assert!(refusal.shrink_refused, "{refusal:?}");
    assert_eq!((refusal.desired, refusal.minimum), (desired, minimum));
    assert_eq!(note["refusal"]["desired"], json!(desired), "{note}");
    assert_eq!(note["refusal"]["minimum"], json!(minimum), "{note}");
}

#[tokio::test]
async fn a_configured_minimum_above_the_geometry_wins_and_one_below_never_lowers_it() {
    // Geometry (3, 2, 1) alone allows shrinking to 6.
    for (configured, desired, minimum) in [(8, 7, 8), (4, 5, 6)] {
        let mut cb = Cb::new(desired);
        machines(&mut cb, &[M::Healthy; 9]);
        let (out, calls, note) = run_scale_down(&cb, Some((3, 2, 1)), configured).await;
        assert_shrink_refused(&out, &note, desired, minimum);
        assert!(
            deactivated_ips(&calls, &cb).is_empty(),
            "MIN_CLUSTER_SIZE {configured}, desired {desired}"
        );
    }
}

#[tokio::test]
async fn without_configured_geometry_the_floor_comes_from_weka_status() {
    let status_geometry = |cb: &mut Cb| {
        cb.snap.status.stripe_data_drives = 4;
        cb.snap.status.stripe_protection_drives = 2;
        cb.snap.status.hot_spare = 1;
    };
    let mut cb = Cb::new(6);
    machines(&mut cb, &[M::Healthy; 9]);
    status_geometry(&mut cb);
    let (out, calls, note) = run_scale_down(&cb, None, 0).await;
    assert_shrink_refused(&out, &note, 6, 7);
    assert!(deactivated_ips(&calls, &cb).is_empty());

    // A configured minimum still raises it.
    cb.info.weka_backends_desired_capacity = 8;
    let (out, _, note) = run_scale_down(&cb, None, 9).await;
    assert_shrink_refused(&out, &note, 8, 9);

    // Configured geometry takes precedence over status.
    cb.info.weka_backends_desired_capacity = 6;
    let (out, calls, _) = run_scale_down(&cb, Some((1, 1, 0)), 0).await;
    assert_eq!(out.refusal, None);
    assert_eq!(deactivated_ips(&calls, &cb).len(), 3);

    // Healing waits for stripe data + protection (6) healthy machines, also read from status.
    let mut cb = Cb::new(7);
    machines(&mut cb, &FIVE_HEALTHY_ONE_UNHEALTHY);
    status_geometry(&mut cb);
    let (out, calls, _) = run_scale_down(&cb, None, 0).await;
    let refusal = out.refusal.unwrap();
    assert!(!refusal.shrink_refused);
    let hold = refusal.healing_held.unwrap();
    assert_eq!((hold.healthy, hold.required), (5, 6));
    assert!(deactivated_ips(&calls, &cb).is_empty());
}

#[tokio::test]
async fn machines_in_flight_never_exceed_the_parallelism_bound_yet_reach_it() {
    assert_eq!(scale_down::DEFAULT_PARALLELISM, 16);
    let mut cb = Cb::new(2);
    machines(&mut cb, &[M::Healthy; 42]);
    for bound in [scale_down::DEFAULT_PARALLELISM, 3] {
        let slow = SlowWeka::new(weka_for(&cb.snap, &[]), Duration::from_millis(5));
        let mut deps = scale_deps(clusterized_store().await, slow.clone(), Some((1, 1, 0)));
        deps.config.parallelism = bound;
        let out = scale_down_step(&deps, &cb.info).await.unwrap();
        assert_no_transient_errors(&out.transient_errors);
        assert_eq!(deactivated_ips(&slow.inner.calls(), &cb).len(), 40);
        // Every machine's first call waits, so the first `bound` machines are all in flight
        // before any call answers: the maximum is exactly the bound.
        assert_eq!(
            slow.max_in_flight.load(Ordering::SeqCst),
            bound,
            "40 machines to deactivate, bound {bound}"
        );
    }
}

#[tokio::test]
async fn a_thousand_machine_scale_down_issues_every_deactivation() {
    let mut cb = Cb::new(2);
    machines(&mut cb, &[M::Healthy; 1_002]);
    let slow = SlowWeka::new(weka_for(&cb.snap, &[]), Duration::from_millis(2));
    let deps = scale_deps(clusterized_store().await, slow.clone(), Some((1, 1, 0)));
    let out = scale_down_step(&deps, &cb.info).await.unwrap();
    assert_no_transient_errors(&out.transient_errors);
    let calls = slow.inner.calls();
    let mut deactivated = deactivated_ips(&calls, &cb);
    assert_eq!(deactivated.len(), 1_000);
    deactivated.dedup();
    assert_eq!(deactivated.len(), 1_000, "each machine once");
    let count = |method: &str| calls.iter().filter(|(m, _)| m == method).count();
    assert_eq!(count("cluster_deactivate_drives"), 2_000);
    assert_eq!(count("events_trigger_custom"), 1_000);
    assert!(slow.max_in_flight.load(Ordering::SeqCst) <= scale_down::DEFAULT_PARALLELISM);
    assert_eq!(out.hosts.len(), 3 * 1_002);
}

// ---------------------------------------------------------------------------------------------
// terminate
// ---------------------------------------------------------------------------------------------

fn terminate_deps(
    groups: FakeScalingGroups,
    policy: TerminatePolicy,
) -> terminate::Deps<FakeScalingGroups, InMemoryStateStore, FakeClock> {
    terminate::Deps {
        groups,
        store: InMemoryStateStore::with_sizes(6, 0),
        clock: FakeClock::at(now()),
        config: terminate_config(ASG, Some(NFS_ASG), policy, LifecycleConfig::disabled()),
    }
}

async fn run_terminate(
    deps: &terminate::Deps<FakeScalingGroups, InMemoryStateStore, FakeClock>,
    scale: &ScaleResponse,
) -> TerminatedInstancesResponse {
    terminate::handle(
        deps,
        json!({"execution": "exec-1", "input": scale}),
        invocation(now()),
    )
    .await
    .unwrap()
}

/// The ids of the instances terminate terminated.
fn terminated_ids(out: &TerminatedInstancesResponse) -> Vec<&str> {
    out.set_to_terminate_instances
        .iter()
        .map(|t| t.instance_id.as_str())
        .collect()
}

fn old() -> DateTime<Utc> {
    now() - TimeDelta::days(2)
}

/// An old instance the ASG found unhealthy, not protected from scale-in.
fn sick(id: &str, ip: &str) -> GroupInstance {
    let mut i = group_instance(id, ip, old());
    i.instance.health = AsgHealth::Unhealthy;
    i.instance.protected_from_scale_in = false;
    i
}

/// A backend group of two old instances: `healthy_id` at 10.0.0.1 and the sick `i-sick` at
/// 10.0.0.2.
fn healthy_and_sick(healthy_id: &str) -> FakeScalingGroups {
    let groups = FakeScalingGroups::default();
    groups.add_group(
        ASG,
        2,
        vec![
            group_instance(healthy_id, "10.0.0.1", old()),
            sick("i-sick", "10.0.0.2"),
        ],
    );
    groups
}

#[tokio::test]
async fn unhealthy_unprotected_instances_are_detached_without_termination() {
    let groups = healthy_and_sick("i-ok");
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let out = run_terminate(&deps, &scale_response(&["10.0.0.1", "10.0.0.2"], &[], &[])).await;
    assert!(out.set_to_terminate_instances.is_empty());
    assert_no_transient_errors(&out.transient_errors);
    assert_eq!(
        deps.groups.calls(),
        vec![ScalingCall::Detach {
            group: ASG.to_owned(),
            ids: vec!["i-sick".to_owned()]
        }]
    );
    assert_eq!(
        deps.groups.group(ASG).unwrap().desired_capacity,
        2,
        "not decremented"
    );
    assert_eq!(
        lease_holder(&deps.store).await,
        None,
        "released at the end of the run"
    );
}

#[tokio::test]
async fn one_instance_the_group_will_not_detach_does_not_hold_back_the_others() {
    let groups = FakeScalingGroups::default();
    groups.add_group(
        ASG,
        3,
        vec![
            sick("i-stuck", "10.0.0.1"),
            sick("i-sick", "10.0.0.2"),
            group_instance("i-ok", "10.0.0.3", old()),
        ],
    );
    groups.fail("detach", "i-stuck");
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let out = run_terminate(
        &deps,
        &scale_response(&["10.0.0.1", "10.0.0.2", "10.0.0.3"], &[], &[]),
    )
    .await;
    let detach = |ids: &[&str]| ScalingCall::Detach {
        group: ASG.to_owned(),
        ids: ids.iter().map(|id| (*id).to_owned()).collect(),
    };
    assert_eq!(
        deps.groups.calls(),
        vec![
            detach(&["i-sick", "i-stuck"]),
            detach(&["i-sick"]),
            detach(&["i-stuck"]),
        ],
        "the failed batch is retried one instance at a time"
    );
    let left: Vec<String> = deps
        .groups
        .group(ASG)
        .unwrap()
        .instances
        .iter()
        .map(|i| i.instance.id.clone())
        .collect();
    assert_eq!(left, vec!["i-stuck", "i-ok"]);
    assert_eq!(out.transient_errors.len(), 1, "{:?}", out.transient_errors);
    assert!(out.transient_errors[0].contains("i-stuck"));
}

#[tokio::test]
async fn stopped_protected_unhealthy_instances_are_terminated_then_detached() {
    let groups = FakeScalingGroups::default();
    let mut stopped = group_instance("i-stopped", "10.0.0.2", old());
    stopped.instance.health = AsgHealth::Unhealthy;
    stopped.instance.ec2_state = Some(Ec2State::Stopped);
    groups.add_group(
        ASG,
        2,
        vec![group_instance("i-ok", "10.0.0.1", old()), stopped],
    );
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let out = run_terminate(&deps, &scale_response(&["10.0.0.1"], &[], &[])).await;
    assert_eq!(out.set_to_terminate_instances.len(), 1);
    assert_eq!(out.set_to_terminate_instances[0].instance_id, "i-stopped");
    assert_eq!(out.set_to_terminate_instances[0].creation_date, old());
    let ids = vec!["i-stopped".to_owned()];
    assert_eq!(
        deps.groups.calls(),
        vec![
            ScalingCall::AllowTermination {
                id: "i-stopped".to_owned()
            },
            ScalingCall::Protect {
                group: ASG.to_owned(),
                ids: ids.clone(),
                protected: false
            },
            ScalingCall::Terminate { ids: ids.clone() },
            ScalingCall::Detach {
                group: ASG.to_owned(),
                ids
            },
        ]
    );
}

#[tokio::test]
async fn the_bootstrap_grace_is_respected_and_configurable() {
    let setup = || {
        let groups = FakeScalingGroups::default();
        groups.add_group(
            ASG,
            3,
            vec![
                group_instance("i-weka", "10.0.0.1", old()),
                group_instance("i-young", "10.0.0.2", now() - TimeDelta::minutes(10)),
                group_instance("i-stray", "10.0.0.3", now() - TimeDelta::minutes(40)),
            ],
        );
        groups
    };
    let scale = scale_response(&["10.0.0.1"], &[], &[]);
    let deps = terminate_deps(setup(), TerminatePolicy::default());
    let out = run_terminate(&deps, &scale).await;
    assert_eq!(terminated_ids(&out), ["i-stray"]);

    let config = terminate::Config::from_lookup(&env(&[
        ("STATE_TABLE", "t"),
        ("STATE_KEY", "k"),
        ("NFS_STATE_KEY", "n"),
        ("ASG_NAME", ASG),
        ("BOOTSTRAP_GRACE_MINUTES", "5"),
        ("MAX_TERMINATIONS_PER_RUN", "1"),
    ]))
    .unwrap();
    assert_eq!(config.policy.bootstrap_grace, TimeDelta::minutes(5));
    assert_eq!(config.policy.max_terminations_per_run, 1);
    assert_eq!(config.nfs_asg_name, None);
    let deps = terminate_deps(setup(), config.policy);
    let out = run_terminate(&deps, &scale).await;
    assert_eq!(
        out.set_to_terminate_instances.len(),
        1,
        "cap of one per run"
    );
    let deps = terminate_deps(
        setup(),
        TerminatePolicy {
            bootstrap_grace: TimeDelta::minutes(5),
            ..TerminatePolicy::default()
        },
    );
    let out = run_terminate(&deps, &scale).await;
    assert_eq!(
        out.set_to_terminate_instances.len(),
        2,
        "10 min > 5 min grace"
    );
}

#[tokio::test]
async fn protections_are_removed_only_for_instances_actually_terminated() {
    let groups = FakeScalingGroups::default();
    groups.add_group(
        ASG,
        3,
        vec![
            group_instance("i-a", "10.0.0.1", old()),
            group_instance("i-b", "10.0.0.2", old()),
            group_instance("i-c", "10.0.0.3", old()),
            group_instance("i-keep", "10.0.0.4", old()),
        ],
    );
    groups.fail("allow_termination", "i-b");
    groups.fail("terminate", "i-c");
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let scale = scale_response(
        &["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"],
        &[
            ("i-a", "10.0.0.1"),
            ("i-b", "10.0.0.2"),
            ("i-c", "10.0.0.3"),
        ],
        &[],
    );
    let out = run_terminate(&deps, &scale).await;
    assert_eq!(terminated_ids(&out), ["i-a"]);
    let calls = deps.groups.calls();
    assert!(calls.contains(&ScalingCall::Protect {
        group: ASG.to_owned(),
        ids: vec!["i-a".to_owned(), "i-c".to_owned()],
        protected: false
    }));
    assert!(
        calls.contains(&ScalingCall::Protect {
            group: ASG.to_owned(),
            ids: vec!["i-c".to_owned()],
            protected: true
        }),
        "protection restored where termination failed: {calls:?}"
    );
    let reprotected: Vec<&str> = calls
        .iter()
        .filter_map(|c| match c {
            ScalingCall::ProtectFromTermination { id } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reprotected,
        vec!["i-b", "i-c"],
        "termination protection back on every target not terminated, and only there"
    );
    let group = deps.groups.group(ASG).unwrap();
    let protected = |id: &str| {
        group
            .instances
            .iter()
            .find(|i| i.instance.id == id)
            .unwrap()
            .instance
            .protected_from_scale_in
    };
    assert!(!protected("i-a"));
    assert!(protected("i-b") && protected("i-c") && protected("i-keep"));
    assert_eq!(out.transient_errors.len(), 2, "{:?}", out.transient_errors);
    assert!(out.transient_errors.iter().any(|e| e.contains("i-b")));
    assert!(out.transient_errors.iter().any(|e| e.contains("i-c")));
}

#[tokio::test]
async fn terminate_never_drops_an_error() {
    let groups = healthy_and_sick("i-ok");
    groups.fail("detach", "i-sick");
    let deps = terminate_deps(groups, TerminatePolicy::default());
    // No delta at all: the reference dropped the detach error on this path.
    let out = run_terminate(
        &deps,
        &scale_response(&["10.0.0.1", "10.0.0.2"], &[], &["deactivateHost: carried"]),
    )
    .await;
    assert_eq!(out.transient_errors.len(), 2, "{:?}", out.transient_errors);
    assert_eq!(out.transient_errors[0], "deactivateHost: carried");
    assert!(out.transient_errors[1].contains("detach"));

    let deps = terminate_deps(FakeScalingGroups::default(), TerminatePolicy::default());
    deps.groups.fail_describe();
    let err = terminate::handle(
        &deps,
        json!({"execution": "exec-1", "input": scale_response(&[], &[], &[])}),
        invocation(now()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient);
    assert_eq!(lease_holder(&deps.store).await, None);
}

#[tokio::test]
async fn terminate_checks_the_protocol_version_and_the_lease() {
    let deps = terminate_deps(FakeScalingGroups::default(), TerminatePolicy::default());
    let mut scale = scale_response(&[], &[], &[]);
    scale.version = 2;
    let err = terminate::handle(
        &deps,
        json!({"execution": "e", "input": scale}),
        invocation(now()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    assert!(
        err.to_string()
            .contains("incompatible scale response version 2")
    );

    deps.store
        .acquire_lease(SCALE_LEASE, "exec-0", now(), Duration::from_secs(180))
        .await
        .unwrap();
    let err = terminate::handle(
        &deps,
        json!({"execution": "exec-1", "input": scale_response(&[], &[], &[])}),
        invocation(now()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict);
    assert!(deps.groups.calls().is_empty());
}

#[tokio::test]
async fn an_empty_scale_response_only_heals() {
    let groups = healthy_and_sick("i-old");
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let mut formed = ClusterState::new(6);
    formed.clusterized = true;
    deps.store.set_state(Group::Backend, formed);
    let out = run_terminate(&deps, &scale_down::skipped_response()).await;
    assert!(
        out.set_to_terminate_instances.is_empty(),
        "no stray termination on a skipped run"
    );
    assert_eq!(deps.groups.calls().len(), 1, "{:?}", deps.groups.calls());
}

#[tokio::test]
async fn a_missing_state_document_does_not_fail_terminate() {
    let groups = FakeScalingGroups::default();
    groups.add_group(ASG, 1, vec![group_instance("i-old", "10.0.0.1", old())]);
    let mut deps = terminate_deps(groups, TerminatePolicy::default());
    deps.store = InMemoryStateStore::empty();
    let out = run_terminate(&deps, &scale_down::skipped_response()).await;
    assert!(out.set_to_terminate_instances.is_empty(), "{out:?}");
}

#[tokio::test]
async fn a_forming_cluster_recycles_an_old_instance_that_never_registered() {
    let groups = FakeScalingGroups::default();
    groups.add_group(
        ASG,
        2,
        vec![
            group_instance("i-registered", "10.0.0.1", old()),
            group_instance("i-failed-install", "10.0.0.2", old()),
        ],
    );
    let deps = terminate_deps(groups, TerminatePolicy::default());
    let mut forming = ClusterState::new(2);
    forming.instances.push(Vm {
        name: "i-registered".to_owned(),
        ..Vm::default()
    });
    deps.store.set_state(Group::Backend, forming);
    let out = run_terminate(&deps, &scale_down::skipped_response()).await;
    assert_eq!(terminated_ids(&out), ["i-failed-install"]);
}

// ---------------------------------------------------------------------------------------------
// transient
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn transient_fails_with_the_collected_errors_or_succeeds_with_null() {
    let ok = transient::handle(
        json!({"set_to_terminate_instances": [], "TransientErrors": null, "version": 1}),
    )
    .await
    .unwrap();
    assert_eq!(ok, Value::Null);
    let err = transient::handle(json!({"TransientErrors": ["a failed", "b failed"], "version": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.class().error_type(), "Weka.Transient");
    assert_eq!(
        err.to_string(),
        "the following errors were found:\na failed\nb failed"
    );
    let bad = transient::handle(json!("nope")).await.unwrap_err();
    assert_eq!(bad.class(), ErrorClass::InvalidInput);
}

// ---------------------------------------------------------------------------------------------
// state machine definition
// ---------------------------------------------------------------------------------------------

mod state_machine {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::PathBuf;
    use weka_shared::services::scale_run::DEFAULT_SCALE_LEASE_TTL;

    const PLACEHOLDERS: [(&str, &str); 4] = [
        ("fetch_lambda_arn", "fetch"),
        ("scale_down_lambda_arn", "scale-down"),
        ("terminate_lambda_arn", "terminate"),
        ("transient_lambda_arn", "transient"),
    ];
    const LAMBDA_ERRORS: [&str; 4] = [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ];

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn arn(function: &str) -> String {
        format!("arn:aws:lambda:us-east-1:123456789012:function:weka-poc-{function}-lambda")
    }

    /// The definition as Terraform's templatefile renders it.
    fn definition() -> Value {
        let mut text =
            std::fs::read_to_string(root().join("state-machine/scale.asl.json")).unwrap();
        for (placeholder, function) in PLACEHOLDERS {
            let token = format!("${{{placeholder}}}");
            assert!(text.contains(&token), "{token} missing");
            text = text.replace(&token, &arn(function));
        }
        assert!(!text.contains("${"), "unknown template placeholder left");
        serde_json::from_str(&text).unwrap()
    }

    fn function_of(resource: &str) -> &str {
        let name = resource.rsplit(":function:").next().unwrap();
        let (_, f) = PLACEHOLDERS
            .iter()
            .find(|(_, f)| name == format!("weka-poc-{f}-lambda"))
            .unwrap_or_else(|| panic!("task resource {resource} is not a scale function"));
        f
    }

    fn states(def: &Value) -> &serde_json::Map<String, Value> {
        def["States"].as_object().unwrap()
    }

    fn successors(state: &Value) -> Vec<String> {
        let mut next: Vec<String> = Vec::new();
        for key in ["Next", "Default"] {
            if let Some(n) = state[key].as_str() {
                next.push(n.to_owned());
            }
        }
        for list in ["Choices", "Catch"] {
            for item in state[list].as_array().into_iter().flatten() {
                next.push(item["Next"].as_str().unwrap().to_owned());
            }
        }
        next
    }

    fn is_terminal(state: &Value) -> bool {
        matches!(state["Type"].as_str(), Some("Succeed" | "Fail")) || state["End"] == json!(true)
    }

    #[test]
    fn every_task_names_an_existing_function() {
        let def = definition();
        let mut used = BTreeSet::new();
        for (name, state) in states(&def) {
            if state["Type"] == "Task" {
                let f = function_of(state["Resource"].as_str().unwrap());
                assert!(
                    root()
                        .join("functions")
                        .join(f)
                        .join("Cargo.toml")
                        .is_file(),
                    "{name}: functions/{f} does not exist"
                );
                used.insert(f);
            }
        }
        assert_eq!(used.len(), 4, "all four scale functions are used: {used:?}");
    }

    #[test]
    fn every_custom_error_name_is_one_the_lambdas_emit() {
        let def = definition();
        let emitted: BTreeSet<&str> = ErrorClass::ALL.iter().map(|c| c.error_type()).collect();
        for (name, state) in states(&def) {
            for list in ["Retry", "Catch"] {
                for rule in state[list].as_array().into_iter().flatten() {
                    for error in rule["ErrorEquals"].as_array().unwrap() {
                        let error = error.as_str().unwrap();
                        assert!(
                            error.starts_with("States.")
                                || LAMBDA_ERRORS.contains(&error)
                                || emitted.contains(error),
                            "{name}: {error} is never emitted"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_path_ends() {
        let def = definition();
        let states = states(&def);
        let start = def["StartAt"].as_str().unwrap();
        assert!(states.contains_key(start));
        let mut reachable = BTreeSet::from([start.to_owned()]);
        let mut queue = vec![start.to_owned()];
        while let Some(name) = queue.pop() {
            let state = &states[&name];
            let next = successors(state);
            assert!(
                is_terminal(state) || state["Next"].is_string() || state["Type"] == "Choice",
                "{name} neither ends nor continues"
            );
            if state["Type"] == "Choice" {
                assert!(state["Default"].is_string(), "{name} has no Default");
            }
            for n in next {
                assert!(states.contains_key(&n), "{name} -> unknown state {n}");
                if reachable.insert(n.clone()) {
                    queue.push(n);
                }
            }
        }
        assert_eq!(
            reachable.len(),
            states.len(),
            "unreachable states: {:?}",
            states
                .keys()
                .filter(|k| !reachable.contains(*k))
                .collect::<Vec<_>>()
        );
        // From every state some terminal state is reachable (no trap loop).
        for name in states.keys() {
            let mut seen = BTreeSet::from([name.clone()]);
            let mut queue = vec![name.clone()];
            let mut ends = false;
            while let Some(n) = queue.pop() {
                ends |= is_terminal(&states[&n]);
                for s in successors(&states[&n]) {
                    if seen.insert(s.clone()) {
                        queue.push(s);
                    }
                }
            }
            assert!(ends, "no path from {name} ends");
        }
    }

    #[test]
    fn every_lambda_task_retries_service_errors_and_catches_the_rest() {
        let def = definition();
        for (name, state) in states(&def) {
            if state["Type"] != "Task" {
                continue;
            }
            let retried: BTreeSet<&str> = state["Retry"]
                .as_array()
                .unwrap_or_else(|| panic!("{name} has no Retry"))
                .iter()
                .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
                .map(|e| e.as_str().unwrap())
                .collect();
            for error in LAMBDA_ERRORS {
                assert!(retried.contains(error), "{name} does not retry {error}");
            }
            // transient's error is its answer, not a fault: retrying it repeats the answer.
            let function = function_of(state["Resource"].as_str().unwrap());
            assert_eq!(
                retried.contains("Weka.Transient"),
                function != "transient",
                "{name}: Weka.Transient retry"
            );
            let catches: Vec<&str> = state["Catch"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["ErrorEquals"].as_array().unwrap())
                .map(|e| e.as_str().unwrap())
                .collect();
            assert_eq!(
                catches.last(),
                Some(&"States.ALL"),
                "{name} catches everything last"
            );
            if function != "transient" {
                assert!(
                    catches.contains(&"Weka.Conflict"),
                    "{name}: lease held ends cleanly"
                );
                assert_eq!(
                    state["Parameters"]["execution.$"], "$$.Execution.Name",
                    "{name} passes the lease owner"
                );
            }
        }
        let conflict_target = states(&def)["Fetch"]["Catch"][0]["Next"].as_str().unwrap();
        assert_eq!(states(&def)[conflict_target]["Type"], "Succeed");
    }

    #[test]
    fn fetch_gets_the_execution_input_as_its_event() {
        let def = definition();
        let fetch = &states(&def)["Fetch"];
        assert_eq!(fetch["Parameters"]["event.$"], "$");
        assert_eq!(fetch["Parameters"]["execution.$"], "$$.Execution.Name");
        // Only Fetch sees the event; the later steps get the previous output.
        for name in ["ScaleDown", "Terminate"] {
            assert!(
                states(&def)[name]["Parameters"].get("event.$").is_none(),
                "{name}"
            );
        }
    }

    #[test]
    fn the_run_times_out_after_the_lease_and_carries_no_credentials() {
        let def = definition();
        let timeout = def["TimeoutSeconds"].as_u64().unwrap();
        assert!(timeout > DEFAULT_SCALE_LEASE_TTL.as_secs());
        let text = def.to_string();
        for word in ["password", "fetch_weka_credentials", "show_admin_password"] {
            assert!(!text.contains(word), "{word} in the definition");
        }
    }
}
