//! `scale-down` on fakes: gates, the plan executed in parallel and in order, the safety floor,
//! the lease, typed failures, the deadline and the configuration.

use super::*;

/// The read answers of a cluster.
pub(super) fn reads_for(snap: &ClusterSnapshot) -> BTreeMap<&'static str, Value> {
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
pub(super) fn weka_for(snap: &ClusterSnapshot, fail: &[&'static str]) -> FakeWeka {
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

pub(super) fn scale_deps<W>(
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

pub(super) fn step(info: &HostGroupInfoResponse) -> Value {
    json!({"execution": "exec-1", "input": info})
}

fn deactivated_ips(calls: &[(String, Value)], cb: &Cb) -> Vec<String> {
    let mut ips: Vec<String> = calls
        .iter()
        .filter(|(m, _)| m == "cluster_deactivate_hosts")
        .map(|(_, p)| {
            let first: HostId = p["host_ids"][0].as_str().unwrap().parse().unwrap();
            cb.snap.hosts[&first].host_ip.to_string()
        })
        .collect();
    ips.sort();
    ips
}

/// Six machines, one of them to heal.
pub(super) const FIVE_HEALTHY_ONE_UNHEALTHY: [M; 6] = [
    M::Healthy,
    M::Healthy,
    M::Healthy,
    M::Healthy,
    M::Healthy,
    M::Unhealthy,
];

pub(super) fn machines(cb: &mut Cb, kinds: &[M]) {
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

/// A call as the fake session saw it: method, params and the pool it could go through.
type PooledCall = (String, Value, Vec<String>);

/// Review (issue 15): the rest of a run still sent calls through a machine it had deactivated
/// (`DropFromPool` only affected the final re-read). The session stops using it at once.
#[tokio::test]
async fn a_deactivated_machine_serves_no_later_call_of_the_run() {
    let mut cb = Cb::new(3);
    machines(&mut cb, &[M::Healthy; 6]);
    let reads = reads_for(&cb.snap);
    let seen: Arc<Mutex<Vec<PooledCall>>> = Arc::default();
    let log = seen.clone();
    let weka = FakeWeka::new(move |pool, method, params| {
        log.lock()
            .unwrap()
            .push((method.to_owned(), params.clone(), pool.to_vec()));
        Ok(reads.get(method).cloned().unwrap_or_else(|| json!({})))
    });
    let deps = scale_deps(clusterized_store().await, weka, Some((1, 1, 0)));
    scale_down_step(&deps, &cb.info).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let at = seen
        .iter()
        .position(|(m, _, _)| m == "cluster_deactivate_hosts")
        .expect("one machine deactivated");
    let first: HostId = seen[at].1["host_ids"][0].as_str().unwrap().parse().unwrap();
    let gone = cb.snap.hosts[&first].host_ip.to_string();
    let later: Vec<&(String, Value, Vec<String>)> = seen[at + 1..].iter().collect();
    assert!(!later.is_empty());
    for (method, _, pool) in later {
        assert!(
            !pool.contains(&gone),
            "{method} could still go through {gone}: {pool:?}"
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
        .acquire_lease(
            SCALE_LEASE,
            &"exec-0".into(),
            now(),
            Duration::from_secs(180),
        )
        .await
        .unwrap();
    let err = scale_down_step(&deps, &cb.info).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict);
    assert_eq!(err.class().error_type(), "Weka.Conflict");
    assert!(weka.calls().is_empty());
    assert!(deps.store.note("scale-down").await.unwrap().is_none());
    assert_eq!(lease_holder(&deps.store).await.as_deref(), Some("exec-0"));
}

/// Issue 15 item 7 (review M10): a retried scale-down of the same execution (Step Functions
/// retrying an answer it lost) does not act while the first invocation may still run: it is
/// refused until that invocation ended its turn or its deadline passed.
#[tokio::test]
async fn a_retried_scale_down_waits_for_the_first_invocation_of_its_execution() {
    let mut cb = Cb::new(3);
    machines(&mut cb, &[M::Healthy; 4]);
    for first_deadline in [TimeDelta::seconds(120), TimeDelta::seconds(-1)] {
        let weka = weka_for(&cb.snap, &[]);
        let deps = scale_deps(clusterized_store().await, weka.clone(), Some((1, 1, 0)));
        let first = LeaseClaim {
            owner: "exec-1".to_owned(),
            acting: Some(Acting {
                invocation: "req-first".to_owned(),
                until: now() + first_deadline,
            }),
        };
        deps.store
            .acquire_lease(SCALE_LEASE, &first, now(), Duration::from_secs(180))
            .await
            .unwrap();
        if first_deadline > TimeDelta::zero() {
            let err = scale_down_step(&deps, &cb.info).await.unwrap_err();
            assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
            assert!(err.to_string().contains("req-first"), "{err}");
            assert!(weka.calls().is_empty(), "{:?}", weka.calls());
            assert!(
                deps.store
                    .end_acting(SCALE_LEASE, "exec-1", "req-first")
                    .await
                    .unwrap()
            );
        }
        scale_down_step(&deps, &cb.info).await.unwrap();
        assert!(
            !weka.calls().is_empty(),
            "the retry acts once the first is done"
        );
        assert_eq!(lease_holder(&deps.store).await.as_deref(), Some("exec-1"));
    }
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
    newcomer.host_ip = "10.0.0.99".into();
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
    // An answer whose outcome is unknown (HTTP 500); a standing JSON-RPC refusal is not
    // transient (`refusal_tests`).
    let reads = reads_for(&cb.snap);
    let weka = FakeWeka::new(move |_, method, _| {
        if method == "cluster_deactivate_hosts" {
            return Err(WekaError::Http {
                ip: "10.0.0.1".to_owned(),
                method: method.to_owned(),
                status: 500,
            });
        }
        Ok(reads.get(method).cloned().unwrap_or_else(|| json!({})))
    });
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
