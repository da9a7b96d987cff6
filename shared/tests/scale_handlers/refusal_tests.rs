//! A WEKA refusal that stands (a JSON-RPC error answer to a mutation, e.g. a deactivation WEKA
//! rejects because it would leave too few failure domains) is recorded, shown in `status`, not
//! counted as a transient failure of the run, and not sent again while nothing changed; a view
//! change or the end of the back-off window gets it tried once more (issue 15, item 6).

use super::scale_down_tests::{machines, reads_for, scale_deps, step};
use super::*;
use std::sync::atomic::AtomicBool;
use weka_shared::ports::Clock as _;

const REFUSAL: &str = "cannot deactivate: too few failure domains would remain";

type Deps = scale_down::Deps<InMemoryStateStore, FakeSecrets, FakeWeka, FakeClock>;

/// A WEKA answering the reads of `view` (which tests may change) and refusing
/// `cluster_deactivate_hosts` with a JSON-RPC error while `refuse` is set.
struct Refusing {
    weka: FakeWeka,
    refuse: Arc<AtomicBool>,
    view: Arc<Mutex<ClusterSnapshot>>,
}

fn refusing(snap: &ClusterSnapshot) -> Refusing {
    let refuse = Arc::new(AtomicBool::new(true));
    let view = Arc::new(Mutex::new(snap.clone()));
    let (r, v) = (refuse.clone(), view.clone());
    let weka = FakeWeka::new(move |_, method, _| {
        if method == "cluster_deactivate_hosts" && r.load(Ordering::SeqCst) {
            return Err(WekaError::Rpc {
                method: method.to_owned(),
                code: -32000,
                message: REFUSAL.to_owned(),
            });
        }
        let reads = reads_for(&v.lock().unwrap());
        Ok(reads.get(method).cloned().unwrap_or_else(|| json!({})))
    });
    Refusing { weka, refuse, view }
}

/// Four healthy machines, three desired: one deactivation per run.
fn cluster() -> Cb {
    let mut cb = Cb::new(3);
    machines(&mut cb, &[M::Healthy; 4]);
    cb
}

fn sent(weka: &FakeWeka, method: &str) -> usize {
    weka.calls().iter().filter(|(m, _)| m == method).count()
}

async fn run(deps: &Deps, info: &HostGroupInfoResponse) -> ScaleResponse {
    let out = scale_down::handle(deps, step(info), invocation(deps.clock.now()))
        .await
        .unwrap();
    assert_no_transient_errors(&out.transient_errors);
    out
}

/// `status` as it would answer now, and the deps back.
async fn shown(deps: Deps) -> (Value, Deps) {
    let scale_down::Deps {
        store,
        secrets,
        weka,
        clock,
        config,
    } = deps;
    let status_deps = status_deps(store, weka.clone(), clock.now());
    let shown = status::handle(&status_deps, json!({"type": "status"}), None)
        .await
        .unwrap();
    let deps = scale_down::Deps {
        store: status_deps.store,
        secrets,
        weka,
        clock,
        config,
    };
    (shown, deps)
}

fn at(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

#[tokio::test]
async fn a_standing_refusal_is_recorded_shown_and_not_sent_again_unchanged() {
    let cb = cluster();
    let fake = refusing(&cb.snap);
    let deps = scale_deps(
        clusterized_store().await,
        fake.weka.clone(),
        Some((1, 1, 0)),
    );

    // First run: sent once, refused; the refusal is recorded, not a transient error.
    run(&deps, &cb.info).await;
    assert_eq!(sent(&fake.weka, "cluster_deactivate_hosts"), 1);
    let (status, deps) = shown(deps).await;
    let refusals = status["weka_refusals"]
        .as_array()
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(refusals.len(), 1, "{status}");
    let refusal = &refusals[0];
    assert_eq!(refusal["call"], "cluster_deactivate_hosts", "{refusal}");
    assert!(refusal["machine"].as_str().unwrap().starts_with("10.0.0."));
    assert!(
        refusal["reason"].as_str().unwrap().contains(REFUSAL),
        "{refusal}"
    );
    assert_eq!(at(&refusal["since"]), now());
    assert_eq!(at(&refusal["retry_after"]), now() + TimeDelta::minutes(15));

    // Same view, inside the window: nothing is sent for that machine, not even its event.
    let events = sent(&fake.weka, "events_trigger_custom");
    deps.clock.advance(minutes(1));
    run(&deps, &cb.info).await;
    deps.clock.advance(minutes(5));
    run(&deps, &cb.info).await;
    assert_eq!(sent(&fake.weka, "cluster_deactivate_hosts"), 1);
    assert_eq!(sent(&fake.weka, "events_trigger_custom"), events);
    let (status, deps) = shown(deps).await;
    assert_eq!(status["weka_refusals"][0]["since"], refusal["since"]);

    // The window passed: tried once more; refused again, the window doubles.
    deps.clock.advance(minutes(10));
    run(&deps, &cb.info).await;
    assert_eq!(sent(&fake.weka, "cluster_deactivate_hosts"), 2);
    let retried = deps.clock.now();
    deps.clock.advance(minutes(1));
    run(&deps, &cb.info).await;
    assert_eq!(sent(&fake.weka, "cluster_deactivate_hosts"), 2);
    let (status, _) = shown(deps).await;
    let refusal = &status["weka_refusals"][0];
    assert_eq!(at(&refusal["since"]), now(), "{refusal}");
    assert_eq!(
        at(&refusal["retry_after"]),
        retried + TimeDelta::minutes(30)
    );
}

#[tokio::test]
async fn a_changed_view_gets_a_refused_call_tried_once_more() {
    let mut cb = cluster();
    let fake = refusing(&cb.snap);
    let deps = scale_deps(
        clusterized_store().await,
        fake.weka.clone(),
        Some((1, 1, 0)),
    );
    run(&deps, &cb.info).await;
    assert_eq!(sent(&fake.weka, "cluster_deactivate_hosts"), 1);

    // A machine joins WEKA (outside the group): the view changed, the call is tried again once.
    cb.machine("10.0.9.9", M::Healthy, Asg::None);
    *fake.view.lock().unwrap() = cb.snap.clone();
    deps.clock.advance(minutes(1));
    run(&deps, &cb.info).await;
    assert_eq!(sent(&fake.weka, "cluster_deactivate_hosts"), 2);
    deps.clock.advance(minutes(1));
    run(&deps, &cb.info).await;
    assert_eq!(sent(&fake.weka, "cluster_deactivate_hosts"), 2);
    let (status, _) = shown(deps).await;
    assert_eq!(at(&status["weka_refusals"][0]["since"]), now(), "{status}");
}

#[tokio::test]
async fn a_refused_call_that_later_succeeds_clears_the_record() {
    let cb = cluster();
    let fake = refusing(&cb.snap);
    let deps = scale_deps(
        clusterized_store().await,
        fake.weka.clone(),
        Some((1, 1, 0)),
    );
    run(&deps, &cb.info).await;
    let (status, deps) = shown(deps).await;
    assert_eq!(status["weka_refusals"].as_array().map(Vec::len), Some(1));

    fake.refuse.store(false, Ordering::SeqCst);
    deps.clock.advance(minutes(16));
    run(&deps, &cb.info).await;
    assert_eq!(sent(&fake.weka, "cluster_deactivate_hosts"), 2);
    let (status, _) = shown(deps).await;
    assert!(status.get("weka_refusals").is_none(), "{status}");
}
