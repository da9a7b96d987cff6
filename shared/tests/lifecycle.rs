//! ASG lifecycle hooks on in-memory fakes: the start events, the launch hook answered by reports
//! and finalization, the terminate hook answered after WEKA deactivated the machine, deadlines,
//! events lost to a held lease, idempotent completion, and `status`.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

#[path = "scale/common.rs"]
mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Asg, Cb, M, now};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weka_shared::config::lifecycle::LifecycleConfig;
use weka_shared::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecyclePhase, LifecycleRecord, LifecycleResult,
    NewLifecycleAction, Transition,
};
use weka_shared::domain::scale_down::ClusterSnapshot;
use weka_shared::domain::state::Group;
use weka_shared::domain::terminate::TerminatePolicy;
use weka_shared::error::{Classify, ErrorClass};
use weka_shared::handlers::{
    clusterize_finalization, fetch, report, scale_down, status, terminate,
};
use weka_shared::ports::{GroupInstance, LifecycleAnswer, StateStore};
use weka_shared::services::scale_run::SCALE_LEASE;
use weka_shared::testing::{
    FakeClock, FakeInventory, FakeScalingGroups, FakeWeka, InMemoryStateStore,
    assert_no_transient_errors, fake_secrets, fetch_env, group_instance, invocation,
    scale_down_config, state_config, status_deps, terminate_config,
};
use weka_shared::weka::model::HostState;
use weka_shared::wire::bootstrap::Vm;
use weka_shared::wire::events::{EventError, ScaleTrigger, parse_trigger};
use weka_shared::wire::scale::{HostGroupInfoResponse, ScaleResponse};

const ASG: &str = "weka-poc-autoscaling-group";
const LAUNCH_HOOK: &str = "weka-launch";
const TERMINATE_HOOK: &str = "weka-terminate";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn lifecycle() -> LifecycleConfig {
    LifecycleConfig::with_hooks(ASG, LAUNCH_HOOK, TERMINATE_HOOK)
}

/// Our hook for `transition`.
fn hook(transition: Transition) -> &'static str {
    match transition {
        Transition::Launch => LAUNCH_HOOK,
        Transition::Terminate => TERMINATE_HOOK,
    }
}

fn key(id: &str, transition: Transition) -> LifecycleKey {
    LifecycleKey {
        instance_id: id.to_owned(),
        transition,
    }
}

fn action(
    id: &str,
    transition: Transition,
    ip: &str,
    started: DateTime<Utc>,
) -> NewLifecycleAction {
    NewLifecycleAction {
        key: key(id, transition),
        group: ASG.to_owned(),
        hook: hook(transition).to_owned(),
        token: Some(format!("token-{id}")),
        started_at: started,
        private_ip: (!ip.is_empty()).then(|| ip.to_owned()),
    }
}

fn hostname(ip: &str) -> String {
    format!("ip-{}.ec2.internal", ip.replace('.', "-"))
}

/// A completion call the group received, and what it answered.
type Completion = (String, LifecycleResult, LifecycleAnswer);

/// `id`'s action completed with `result`, and the group answered `answer`.
fn completion(id: &str, result: LifecycleResult, answer: LifecycleAnswer) -> Completion {
    (id.to_owned(), result, answer)
}

/// `id`'s action was continued, and the group accepted.
fn continued(id: &str) -> Completion {
    completion(id, LifecycleResult::Continue, LifecycleAnswer::Accepted)
}

/// `id`'s action was abandoned, and the group accepted.
fn abandoned(id: &str) -> Completion {
    completion(id, LifecycleResult::Abandon, LifecycleAnswer::Accepted)
}

/// A WEKA whose reads come from a snapshot the test may change between runs.
fn live_weka(snap: Arc<Mutex<ClusterSnapshot>>) -> FakeWeka {
    FakeWeka::new(move |_, method, _| {
        let snap = snap.lock().unwrap();
        Ok(match method {
            "status" => serde_json::to_value(&snap.status).unwrap(),
            "manual_override_list" => serde_json::to_value(&snap.overrides).unwrap(),
            "hosts_list" => serde_json::to_value(&snap.hosts).unwrap(),
            "disks_list" => serde_json::to_value(&snap.drives).unwrap(),
            "nodes_list" => serde_json::to_value(&snap.nodes).unwrap(),
            "interface_group_list" => json!([]),
            _ => json!({}),
        })
    })
}

/// Six healthy backends at 10.0.0.1 to 10.0.0.6, as WEKA and fetch see them.
fn six_healthy_backends() -> Cb {
    let mut cb = Cb::new(6);
    for n in 1..=6 {
        cb.machine(&format!("10.0.0.{n}"), M::Healthy, Asg::Backend);
    }
    cb.info.backend_ips = (1..=6).map(|n| format!("10.0.0.{n}")).collect();
    cb
}

/// Their ASG instances, `i-1000n` at 10.0.0.n, launched three days ago.
fn six_old_instances() -> Vec<GroupInstance> {
    (1..=6)
        .map(|n| {
            group_instance(
                &format!("i-1000{n}"),
                &format!("10.0.0.{n}"),
                now() - TimeDelta::days(3),
            )
        })
        .collect()
}

/// The cluster's shared world: one store, one set of groups, one WEKA; each handler call
/// borrows them into its `Deps` and hands them back.
struct World {
    store: InMemoryStateStore,
    groups: FakeScalingGroups,
    inventory: FakeInventory,
    weka: FakeWeka,
    now: DateTime<Utc>,
}

impl World {
    fn new(store: InMemoryStateStore) -> Self {
        Self {
            store,
            groups: FakeScalingGroups::default(),
            inventory: FakeInventory::default(),
            weka: FakeWeka::new(|_, _, _| Ok(json!({}))),
            now: now(),
        }
    }

    async fn clusterized() -> Self {
        let store = InMemoryStateStore::with_sizes(6, 0);
        store.finalize(Group::Backend, now()).await.unwrap();
        Self::new(store)
    }

    /// A cluster of `size` being formed.
    fn forming(size: u32) -> Self {
        Self::new(InMemoryStateStore::with_sizes(size, 0))
    }

    fn advance(&mut self, secs: i64) {
        self.now += TimeDelta::seconds(secs);
    }

    // --- setup ---------------------------------------------------------------------------------

    /// `id` registered with the forming cluster.
    async fn register(&self, id: &str) {
        let vm = Vm {
            name: id.to_owned(),
            ..Vm::default()
        };
        self.store.register(Group::Backend, &vm).await.unwrap();
    }

    /// The ASG, at `desired`, holds `instances` (`(id, private IP)`), launched now.
    fn launched(&self, desired: u32, instances: &[(&str, &str)]) {
        let instances = instances
            .iter()
            .map(|(id, ip)| group_instance(id, ip, now()))
            .collect();
        self.groups.add_group(ASG, desired, instances);
    }

    /// The ASG holds `id` in `transition`'s wait state, under our hook.
    fn pending(&self, id: &str, transition: Transition) {
        self.groups
            .add_pending_action(ASG, hook(transition), id, transition);
    }

    /// The event of `id`'s `transition` (with `ip`, begun at `started`) was recorded.
    async fn record(&self, id: &str, transition: Transition, ip: &str, started: DateTime<Utc>) {
        self.store
            .record_lifecycle_action(&action(id, transition, ip, started))
            .await
            .unwrap();
    }

    /// `id`'s launch action was continued and closed at `at`, as after its join report.
    async fn close_joined(&self, id: &str, at: DateTime<Utc>) {
        self.store
            .close_lifecycle_action(
                &key(id, Transition::Launch),
                Some(LifecycleResult::Continue),
                "joined",
                at,
            )
            .await
            .unwrap();
    }

    /// `id` (at `ip`) waits in `Pending:Wait`, its event recorded now.
    async fn launching(&self, id: &str, ip: &str) {
        self.pending(id, Transition::Launch);
        self.record(id, Transition::Launch, ip, now()).await;
    }

    // --- inspection ----------------------------------------------------------------------------

    fn lifecycle_record(&self, id: &str, transition: Transition) -> LifecycleRecord {
        self.store.lifecycle_record(id, transition).unwrap()
    }

    fn phase(&self, id: &str, transition: Transition) -> Option<LifecyclePhase> {
        self.store.lifecycle_record(id, transition).map(|r| r.phase)
    }

    // --- handlers ------------------------------------------------------------------------------

    async fn report(&mut self, kind: &str, message: &str, host: &str) {
        let deps = report::Deps {
            store: std::mem::take(&mut self.store),
            clock: FakeClock::at(self.now),
            groups: std::mem::take(&mut self.groups),
            config: report::Config {
                state: state_config(),
                reports_per_host: 50,
                retention: Duration::from_secs(86_400),
                lifecycle: lifecycle(),
            },
        };
        let answer = report::handle(
            &deps,
            json!({"type": kind, "message": message, "hostname": host, "protocol": ""}),
        )
        .await;
        self.store = deps.store;
        self.groups = deps.groups;
        assert_eq!(answer.unwrap(), "The report was added successfully");
    }

    /// The host at `ip` reports that it joined.
    async fn report_joined(&mut self, ip: &str) {
        self.report("progress", "Join completed successfully", &hostname(ip))
            .await;
    }

    async fn finalize(&mut self) {
        let deps = clusterize_finalization::Deps {
            store: std::mem::take(&mut self.store),
            inventory: FakeInventory::default(),
            clock: FakeClock::at(self.now),
            groups: std::mem::take(&mut self.groups),
            lifecycle: lifecycle(),
        };
        let answer = clusterize_finalization::handle(&deps, json!({})).await;
        self.store = deps.store;
        self.groups = deps.groups;
        assert_eq!(
            answer.unwrap(),
            "ClusterizeFinalization completed successfully"
        );
    }

    async fn fetch(
        &mut self,
        execution: &str,
        event: Value,
    ) -> Result<HostGroupInfoResponse, fetch::FetchError> {
        let env = fetch_env(
            ASG,
            &[
                ("LAUNCH_LIFECYCLE_HOOK_NAME", LAUNCH_HOOK),
                ("TERMINATE_LIFECYCLE_HOOK_NAME", TERMINATE_HOOK),
            ],
        );
        let deps = fetch::Deps {
            groups: std::mem::take(&mut self.groups),
            inventory: std::mem::take(&mut self.inventory),
            secrets: fake_secrets(),
            store: std::mem::take(&mut self.store),
            clock: FakeClock::at(self.now),
            config: fetch::Config::from_lookup(&env).unwrap(),
        };
        let out = fetch::handle(
            &deps,
            json!({"execution": execution, "event": event}),
            invocation(self.now),
        )
        .await;
        self.groups = deps.groups;
        self.inventory = deps.inventory;
        self.store = deps.store;
        out
    }

    async fn scale_down(&mut self, execution: &str, info: &HostGroupInfoResponse) -> ScaleResponse {
        let deps = scale_down::Deps {
            store: std::mem::take(&mut self.store),
            secrets: fake_secrets(),
            weka: self.weka.clone(),
            clock: FakeClock::at(self.now),
            config: scale_down_config(lifecycle()),
        };
        let out = scale_down::handle(
            &deps,
            json!({"execution": execution, "input": info}),
            invocation(self.now),
        )
        .await;
        self.store = deps.store;
        out.unwrap()
    }

    /// Runs terminate on `scale`; returns its transient errors.
    async fn terminate(&mut self, execution: &str, scale: &ScaleResponse) -> Vec<String> {
        let deps = terminate::Deps {
            groups: std::mem::take(&mut self.groups),
            store: std::mem::take(&mut self.store),
            clock: FakeClock::at(self.now),
            config: terminate_config(ASG, None, TerminatePolicy::default(), lifecycle()),
        };
        let out = terminate::handle(
            &deps,
            json!({"execution": execution, "input": scale}),
            invocation(self.now),
        )
        .await;
        self.groups = deps.groups;
        self.store = deps.store;
        out.unwrap().transient_errors
    }

    /// Runs terminate on `scale`, which meets no error.
    async fn terminate_ok(&mut self, execution: &str, scale: &ScaleResponse) {
        let errors = self.terminate(execution, scale).await;
        assert_no_transient_errors(&errors);
    }

    async fn status(&mut self) -> Value {
        let deps = status_deps(std::mem::take(&mut self.store), self.weka.clone(), self.now);
        let out = status::handle(&deps, json!({"type": "status"}), None).await;
        self.store = deps.store;
        out.unwrap()
    }
}

fn empty_scale() -> ScaleResponse {
    scale_down::skipped_response()
}

// ---------------------------------------------------------------------------------------------
// start events
// ---------------------------------------------------------------------------------------------

#[test]
fn every_start_event_parses() {
    for tick in [
        Some(fixture("scheduled")),
        Some(json!({})),
        Some(Value::Null),
        None,
        Some(json!({"detail-type": "Scheduled Event", "detail": {}})),
    ] {
        assert_eq!(
            parse_trigger(tick.as_ref()).unwrap(),
            ScaleTrigger::Tick,
            "{tick:?}"
        );
    }
    for (name, detail_type, instance) in [
        (
            "launch_successful",
            "EC2 Instance Launch Successful",
            Some("i-10007"),
        ),
        (
            "launch_unsuccessful",
            "EC2 Instance Launch Unsuccessful",
            None,
        ),
        (
            "terminate_successful",
            "EC2 Instance Terminate Successful",
            Some("i-10006"),
        ),
    ] {
        assert_eq!(
            parse_trigger(Some(&fixture(name))).unwrap(),
            ScaleTrigger::GroupActivity {
                detail_type: detail_type.to_owned(),
                group: ASG.to_owned(),
                instance_id: instance.map(str::to_owned),
            },
            "{name}"
        );
    }
    let ScaleTrigger::LifecycleAction(launch) =
        parse_trigger(Some(&fixture("launch_lifecycle_action"))).unwrap()
    else {
        panic!("launch lifecycle action not recognised");
    };
    assert_eq!(launch.transition, Transition::Launch);
    assert_eq!(launch.instance_id, "i-10007");
    assert_eq!(launch.hook, LAUNCH_HOOK);
    assert_eq!(launch.group, ASG);
    assert_eq!(
        launch.token.as_deref(),
        Some("87654321-4321-4321-4321-210987654321")
    );
    assert_eq!(launch.at, now());
    let ScaleTrigger::LifecycleAction(term) =
        parse_trigger(Some(&fixture("terminate_lifecycle_action"))).unwrap()
    else {
        panic!("terminate lifecycle action not recognised");
    };
    assert_eq!(term.transition, Transition::Terminate);
    assert_eq!(term.instance_id, "i-10006");

    // The hook's test notification names no action.
    let mut test_notification = fixture("launch_lifecycle_action");
    test_notification["detail"]["LifecycleTransition"] = json!("autoscaling:TEST_NOTIFICATION");
    assert!(matches!(
        parse_trigger(Some(&test_notification)).unwrap(),
        ScaleTrigger::Other { .. }
    ));
    let mut broken = fixture("launch_lifecycle_action");
    broken["detail"]
        .as_object_mut()
        .unwrap()
        .remove("EC2InstanceId");
    assert!(matches!(
        parse_trigger(Some(&broken)),
        Err(EventError::MissingField {
            field: "EC2InstanceId"
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// fetch: events recorded before the lease
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fetch_records_a_lifecycle_event_even_when_the_lease_is_held() {
    let mut w = World::clusterized().await;
    w.store
        .acquire_lease(SCALE_LEASE, "exec-running", w.now, Duration::from_secs(180))
        .await
        .unwrap();
    let err = w
        .fetch("exec-event", fixture("launch_lifecycle_action"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict, "{err}");
    let record = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(record.phase, LifecyclePhase::Waiting);
    assert_eq!(
        record.token.as_deref(),
        Some("87654321-4321-4321-4321-210987654321")
    );
    assert_eq!(record.started_at, now());
    assert_eq!(record.hook, LAUNCH_HOOK);

    // Delivered twice (EventBridge is at-least-once): still one record, unchanged.
    w.advance(30);
    w.fetch("exec-event-2", fixture("launch_lifecycle_action"))
        .await
        .unwrap_err();
    assert_eq!(w.store.lifecycle_actions().await.unwrap(), vec![record]);

    // Another hook's action on our group is not ours to answer.
    let mut foreign = fixture("launch_lifecycle_action");
    foreign["detail"]["LifecycleHookName"] = json!("someone-elses-hook");
    foreign["detail"]["EC2InstanceId"] = json!("i-99999");
    w.fetch("exec-event-3", foreign).await.unwrap_err();
    assert!(w.phase("i-99999", Transition::Launch).is_none());

    // Ticks and group events record nothing and, with the lease free, fetch as before.
    w.store
        .release_lease(SCALE_LEASE, "exec-running")
        .await
        .unwrap();
    for (n, event) in [
        fixture("scheduled"),
        json!({}),
        fixture("launch_successful"),
    ]
    .into_iter()
    .enumerate()
    {
        let exec = format!("exec-tick-{n}");
        w.fetch(&exec, event).await.unwrap();
        w.store.release_lease(SCALE_LEASE, &exec).await.unwrap();
    }
    assert_eq!(w.store.lifecycle_actions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_event_lost_to_the_lease_is_processed_by_the_next_run() {
    let mut w = World::clusterized().await;
    let mut cb = six_healthy_backends();
    // i-10006 was already removed from WEKA by an earlier scale-down (the control plane's own
    // choice): only its ASG instance remains.
    let removed: Vec<_> = cb
        .snap
        .hosts
        .iter()
        .filter(|(_, h)| h.host_ip == "10.0.0.6")
        .map(|(id, _)| *id)
        .collect();
    for id in removed {
        cb.snap.hosts.remove(&id);
    }
    w.weka = live_weka(Arc::new(Mutex::new(cb.snap.clone())));
    w.groups.add_group(ASG, 6, six_old_instances());
    w.pending("i-10006", Transition::Terminate);

    // The event's execution finds a run in progress and ends in LeaseHeld...
    w.store
        .acquire_lease(SCALE_LEASE, "exec-tick-1", w.now, Duration::from_secs(180))
        .await
        .unwrap();
    let err = w
        .fetch("exec-event", fixture("terminate_lifecycle_action"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Conflict);
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Waiting)
    );

    // ... and the next run, holding the lease, answers it: nothing to deactivate, CONTINUE.
    w.store
        .release_lease(SCALE_LEASE, "exec-tick-1")
        .await
        .unwrap();
    w.advance(60);
    let scale = w.scale_down("exec-tick-2", &cb.info).await;
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Decided)
    );
    w.terminate_ok("exec-tick-2", &scale).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
    let record = w.lifecycle_record("i-10006", Transition::Terminate);
    assert_eq!(record.phase, LifecyclePhase::Completed);
    assert!(
        record.reason.unwrap().contains("nothing to deactivate"),
        "a termination the control plane chose continues at once"
    );
    // No WEKA deactivation was attempted for it.
    assert!(
        w.weka
            .calls()
            .iter()
            .all(|(m, _)| m != "cluster_deactivate_hosts")
    );
}

// ---------------------------------------------------------------------------------------------
// launch hook: reports and finalization
// ---------------------------------------------------------------------------------------------

/// A clusterized world where `i-10007` (10.0.0.7) waits in `Pending:Wait` with a record.
async fn joining_world() -> World {
    let w = World::clusterized().await;
    w.launched(7, &[("i-10007", "10.0.0.7")]);
    w.launching("i-10007", "10.0.0.7").await;
    w
}

#[tokio::test]
async fn a_join_report_continues_the_launch_exactly_once() {
    let mut w = joining_world().await;
    w.advance(600);
    w.report_joined("10.0.0.7").await;
    assert_eq!(w.groups.completions(), vec![continued("i-10007")]);
    let record = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(record.phase, LifecyclePhase::Completed);
    assert_eq!(record.result, Some(LifecycleResult::Continue));
    assert!(!w.groups.is_pending("i-10007"));

    // A repeated report (the script retried) makes no second call; a later error changes nothing.
    w.report_joined("10.0.0.7").await;
    w.report("error", "late failure", &hostname("10.0.0.7"))
        .await;
    assert_eq!(w.groups.completions().len(), 1);
    // The token from the event was used.
    assert!(w.groups.calls().iter().any(|c| matches!(
        c,
        weka_shared::testing::ScalingCall::CompleteLifecycle { target, .. }
            if target.token.as_deref() == Some("token-i-10007")
    )));
}

#[tokio::test]
async fn an_error_report_abandons_the_launch() {
    let mut w = joining_world().await;
    w.advance(300);
    w.report(
        "error",
        "weka installation from backend 10.0.0.1 failed",
        &hostname("10.0.0.7"),
    )
    .await;
    assert_eq!(w.groups.completions(), vec![abandoned("i-10007")]);
    let record = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(record.phase, LifecyclePhase::Completed);
    assert!(
        record.reason.unwrap().contains("installation"),
        "the reason keeps the report"
    );
    assert!(
        w.groups.group(ASG).unwrap().instances.is_empty(),
        "the ASG replaces the abandoned instance"
    );
}

#[tokio::test]
async fn an_error_from_a_member_of_a_forming_cluster_does_not_abandon_it() {
    let mut w = World::forming(3);
    w.register("i-10001").await;
    w.launched(3, &[("i-10001", "10.0.0.1")]);
    w.launching("i-10001", "10.0.0.1").await;
    // e.g. the clusterizer's non-fatal "creating .config_fs failed"
    w.report("error", "creating .config_fs failed", &hostname("10.0.0.1"))
        .await;
    assert!(w.groups.completions().is_empty());
    assert_eq!(
        w.phase("i-10001", Transition::Launch),
        Some(LifecyclePhase::Waiting)
    );
    // A refused late arrival (not a member) is recycled, as its message asks.
    w.launched(3, &[("i-10001", "10.0.0.1"), ("i-10009", "10.0.0.9")]);
    w.launching("i-10009", "10.0.0.9").await;
    w.report(
        "error",
        "Instance i-10009 is not needed: the clusterization set of 3 instances is already complete",
        &hostname("10.0.0.9"),
    )
    .await;
    assert_eq!(w.groups.completions(), vec![abandoned("i-10009")]);
}

#[tokio::test]
async fn progress_reports_record_throttled_heartbeats() {
    let mut w = joining_world().await;
    let host = hostname("10.0.0.7");
    w.report("progress", "Downloading weka install script", &host)
        .await;
    w.advance(10);
    w.report("progress", "Weka software installation completed", &host)
        .await;
    w.report("debug", "lsblk output", &host).await;
    assert_eq!(w.groups.heartbeats(), vec!["i-10007".to_owned()]);
    w.advance(25);
    w.report("progress", "Joining new instance i-10007 started", &host)
        .await;
    assert_eq!(w.groups.heartbeats(), vec!["i-10007".to_owned(); 2]);
    let record = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(
        record.last_heartbeat_at,
        Some(now() + TimeDelta::seconds(35))
    );
    // Resource-name hostnames find the record too.
    w.advance(31);
    w.report("progress", "Found 2 NVMe devices", "i-10007.ec2.internal")
        .await;
    assert_eq!(w.groups.heartbeats().len(), 3);
    assert!(w.groups.completions().is_empty());
}

#[tokio::test]
async fn a_report_that_arrives_before_the_event_still_completes() {
    let mut w = World::clusterized().await;
    w.launched(8, &[("i-10007", "10.0.0.7"), ("i-10008", "10.0.0.8")]);
    w.pending("i-10007", Transition::Launch);
    w.pending("i-10008", Transition::Launch);
    // No record yet: progress is not a reason to look the instance up...
    w.report(
        "progress",
        "Weka containers are ready",
        &hostname("10.0.0.7"),
    )
    .await;
    assert!(w.groups.heartbeats().is_empty());
    // ... the outcome is: found in the group (by IP or instance id) and completed without a token.
    w.report_joined("10.0.0.7").await;
    w.report("error", "drive scan failed", "i-10008").await;
    assert_eq!(
        w.groups.completions(),
        vec![continued("i-10007"), abandoned("i-10008")]
    );
    // The late event does not reopen the completed action.
    w.fetch("exec-late", fixture("launch_lifecycle_action"))
        .await
        .unwrap();
    assert_eq!(
        w.phase("i-10007", Transition::Launch),
        Some(LifecyclePhase::Completed)
    );
    // An instance not waiting in the group (a gateway, or launched before the hook) is left alone.
    w.report_joined("10.0.0.99").await;
    assert_eq!(w.groups.completions().len(), 2);
}

#[tokio::test]
async fn a_reused_private_ip_answers_the_new_instance() {
    let mut w = World::clusterized().await;
    // i-10005 had 10.0.0.7 and was replaced an hour ago; its record is completed, and an older
    // instance's record with the same IP was never closed.
    for (id, phase_done) in [("i-10005", true), ("i-10004", false)] {
        w.record(
            id,
            Transition::Launch,
            "10.0.0.7",
            now() - TimeDelta::hours(2),
        )
        .await;
        if phase_done {
            w.close_joined(id, now() - TimeDelta::hours(1)).await;
        }
    }
    w.launched(7, &[("i-10007", "10.0.0.7")]);
    w.launching("i-10007", "10.0.0.7").await;
    w.report_joined("10.0.0.7").await;
    assert_eq!(w.groups.completions(), vec![continued("i-10007")]);
}

#[tokio::test]
async fn finalization_continues_every_member_of_the_formed_cluster() {
    let mut w = World::forming(3);
    let ids = ["i-10001", "i-10002", "i-10003"];
    for id in ids {
        w.register(id).await;
    }
    w.launched(
        3,
        &[
            ("i-10001", "10.0.0.1"),
            ("i-10002", "10.0.0.2"),
            ("i-10003", "10.0.0.3"),
        ],
    );
    // Two members' events were recorded, the third's not (yet); the first was launched before
    // the hook existed (nothing pending: AWS's ValidationError).
    for id in &ids[1..] {
        w.pending(id, Transition::Launch);
    }
    for id in &ids[..2] {
        w.record(id, Transition::Launch, "", now()).await;
    }
    w.advance(1200);
    w.finalize().await;
    let mut completions = w.groups.completions();
    completions.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        completions,
        vec![
            completion(
                "i-10001",
                LifecycleResult::Continue,
                LifecycleAnswer::NotPending
            ),
            continued("i-10002"),
            continued("i-10003"),
        ]
    );
    for id in ids {
        assert_eq!(
            w.phase(id, Transition::Launch),
            Some(LifecyclePhase::Completed),
            "{id}"
        );
    }
    // Finalization is idempotent: no second round of calls.
    w.finalize().await;
    assert_eq!(w.groups.completions().len(), 3);
}

// ---------------------------------------------------------------------------------------------
// terminate step: completion, deadlines, reconcile
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn completing_an_action_that_is_no_longer_pending_is_not_an_error() {
    let mut w = World::clusterized().await;
    w.launched(6, &[("i-10007", "10.0.0.7")]);
    w.launching("i-10007", "10.0.0.7").await;
    // Decided, but the completion call failed (AWS hiccup): the record stays decided.
    w.groups.fail("complete_lifecycle_action", "i-10007");
    w.report_joined("10.0.0.7").await;
    assert_eq!(
        w.phase("i-10007", Transition::Launch),
        Some(LifecyclePhase::Decided)
    );
    // Meanwhile AWS completed it anyway (say an operator did): the next run's completion gets
    // "No active Lifecycle Action found" and closes the record without an error.
    let groups = FakeScalingGroups::default();
    groups.add_group(ASG, 6, vec![group_instance("i-10007", "10.0.0.7", now())]);
    groups.update(ASG, "i-10007", |i| {
        i.instance.lifecycle =
            weka_shared::domain::terminate::Lifecycle::Other("Pending:Wait".to_owned());
    });
    w.groups = groups;
    w.advance(60);
    w.terminate_ok("exec-1", &empty_scale()).await;
    assert_eq!(
        w.groups.completions(),
        vec![completion(
            "i-10007",
            LifecycleResult::Continue,
            LifecycleAnswer::NotPending
        )]
    );
    let record = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(record.phase, LifecyclePhase::Completed);
    assert!(record.reason.unwrap().contains("no longer pending"));
}

#[tokio::test]
async fn terminate_abandons_silent_launches_and_keeps_forming_members_alive() {
    let mut w = World::forming(3);
    w.register("i-10001").await;
    w.launched(
        3,
        &[
            ("i-10001", "10.0.0.1"),
            ("i-10002", "10.0.0.2"),
            ("i-10003", "10.0.0.3"),
        ],
    );
    for id in ["i-10001", "i-10002"] {
        w.pending(id, Transition::Launch);
        w.record(id, Transition::Launch, "", now()).await;
    }
    // i-10003 went InService some other way: its record is closed, no call made.
    w.record("i-10003", Transition::Launch, "", now()).await;

    // Ten minutes in: the registered member waits for the others and is kept alive.
    w.advance(600);
    w.terminate_ok("exec-1", &empty_scale()).await;
    assert_eq!(w.groups.heartbeats(), vec!["i-10001".to_owned()]);
    assert!(w.groups.completions().is_empty());
    assert_eq!(
        w.phase("i-10003", Transition::Launch),
        Some(LifecyclePhase::Completed)
    );

    // Fifteen minutes without progress: the silent instance is abandoned (AWS's default result
    // would do the same; the record says why), the member lives on.
    w.advance(300);
    w.terminate_ok("exec-2", &empty_scale()).await;
    assert_eq!(w.groups.completions(), vec![abandoned("i-10002")]);
    assert_eq!(w.groups.heartbeats().len(), 2);
    let record = w.lifecycle_record("i-10002", Transition::Launch);
    assert!(record.reason.unwrap().contains("no progress for 900 s"));
}

#[tokio::test]
async fn terminate_records_wait_states_whose_events_were_lost() {
    let mut w = World::clusterized().await;
    w.groups.add_group(
        ASG,
        7,
        vec![
            group_instance("i-10006", "10.0.0.6", now() - TimeDelta::days(2)),
            group_instance("i-10007", "10.0.0.7", now()),
        ],
    );
    w.pending("i-10007", Transition::Launch);
    w.pending("i-10006", Transition::Terminate);
    w.terminate_ok("exec-1", &empty_scale()).await;
    let launch = w.lifecycle_record("i-10007", Transition::Launch);
    assert_eq!(launch.phase, LifecyclePhase::Waiting);
    assert_eq!(launch.private_ip.as_deref(), Some("10.0.0.7"));
    assert_eq!(launch.token, None);
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Waiting)
    );
}

// ---------------------------------------------------------------------------------------------
// terminate hook: deactivate first, never past the deadline
// ---------------------------------------------------------------------------------------------

/// Six healthy backends; the ASG terminates i-10006 on its own (terminate hook pending).
async fn terminating_world() -> (World, Cb, Arc<Mutex<ClusterSnapshot>>) {
    let mut w = World::clusterized().await;
    let cb = six_healthy_backends();
    let snap = Arc::new(Mutex::new(cb.snap.clone()));
    w.weka = live_weka(snap.clone());
    w.groups.add_group(ASG, 6, six_old_instances());
    w.pending("i-10006", Transition::Terminate);
    w.record("i-10006", Transition::Terminate, "", now()).await;
    (w, cb, snap)
}

fn deactivated(weka: &FakeWeka, cb: &Cb) -> Vec<String> {
    let mut ips: Vec<String> = weka
        .calls()
        .iter()
        .filter(|(m, _)| m == "cluster_deactivate_hosts")
        .map(|(_, p)| {
            let first = p["host_ids"][0].as_str().unwrap().parse().unwrap();
            cb.snap.hosts[&first].host_ip.clone()
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

#[tokio::test]
async fn the_terminate_hook_deactivates_the_machine_then_continues() {
    let (mut w, cb, snap) = terminating_world().await;

    // Run 1: the machine is deactivated; nobody else is (it does not count against desired).
    let scale = w.scale_down("exec-1", &cb.info).await;
    assert_eq!(deactivated(&w.weka, &cb), vec!["10.0.0.6".to_owned()]);
    assert!(
        w.weka
            .calls()
            .iter()
            .any(|(m, p)| m == "events_trigger_custom"
                && p.to_string().contains("auto scaling termination")),
        "the WEKA event names the reason"
    );
    w.terminate_ok("exec-1", &scale).await;
    assert!(w.groups.completions().is_empty(), "held while deactivating");
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Waiting)
    );

    // Run 2, a minute later: WEKA finished; the action is continued in the same run.
    {
        let mut snap = snap.lock().unwrap();
        for host in snap.hosts.values_mut() {
            if host.host_ip == "10.0.0.6" {
                host.state = HostState::Inactive;
                host.status = weka_shared::weka::model::HostStatus::Inactive;
            }
        }
    }
    w.advance(60);
    let scale = w.scale_down("exec-2", &cb.info).await;
    w.terminate_ok("exec-2", &scale).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
    let record = w.lifecycle_record("i-10006", Transition::Terminate);
    assert_eq!(record.phase, LifecyclePhase::Completed);
    assert_eq!(
        record.reason.as_deref(),
        Some("weka deactivated the machine")
    );
}

#[tokio::test]
async fn the_terminate_hook_deadline_continues_without_waiting_for_weka() {
    let (mut w, cb, _snap) = terminating_world().await;
    // 900 s timeout, 120 s margin: at 780 s the instance is let go, deactivated or not.
    w.advance(779);
    let scale = w.scale_down("exec-1", &cb.info).await;
    w.terminate("exec-1", &scale).await;
    assert!(w.groups.completions().is_empty());
    w.advance(1);
    let scale = w.scale_down("exec-2", &cb.info).await;
    assert_eq!(
        w.phase("i-10006", Transition::Terminate),
        Some(LifecyclePhase::Decided)
    );
    w.terminate("exec-2", &scale).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
    let reason = w
        .lifecycle_record("i-10006", Transition::Terminate)
        .reason
        .unwrap();
    assert!(
        reason.contains("deadline") && reason.contains("still active"),
        "{reason}"
    );
}

#[tokio::test]
async fn the_deadline_holds_even_when_scale_down_cannot_decide() {
    // WEKA unreachable or scale-down skipped: terminate alone lets the instance go in time.
    let (mut w, _cb, _snap) = terminating_world().await;
    w.advance(780);
    w.terminate_ok("exec-1", &empty_scale()).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
}

#[tokio::test]
async fn a_recorded_ip_never_deactivates_the_machine_that_reused_it() {
    let (mut w, mut cb, _snap) = terminating_world().await;
    // i-10006 already left the group (the fetch no longer lists it) and a new backend holds
    // 10.0.0.6 now; the stale record still carries the old IP.
    w.record("i-10006", Transition::Terminate, "10.0.0.6", now())
        .await;
    cb.info.weka_backend_instances.retain(|i| i.id != "i-10006");
    cb.info
        .weka_backend_instances
        .push(weka_shared::wire::scale::InstanceRef {
            id: "i-20006".to_owned(),
            private_ip: "10.0.0.6".to_owned(),
        });
    w.scale_down("exec-1", &cb.info).await;
    assert!(deactivated(&w.weka, &cb).is_empty(), "{:?}", w.weka.calls());
    let record = w.lifecycle_record("i-10006", Transition::Terminate);
    assert_eq!(record.phase, LifecyclePhase::Decided);
    assert!(record.reason.unwrap().contains("no longer in the group"));
}

#[tokio::test]
async fn before_clusterization_a_termination_continues_at_once() {
    let mut w = World::forming(6);
    w.record("i-10006", Transition::Terminate, "10.0.0.6", now())
        .await;
    w.launched(6, &[("i-10006", "10.0.0.6")]);
    w.pending("i-10006", Transition::Terminate);
    let scale = w.scale_down("exec-1", &Cb::new(6).info).await;
    w.terminate("exec-1", &scale).await;
    assert_eq!(w.groups.completions(), vec![continued("i-10006")]);
}

// ---------------------------------------------------------------------------------------------
// status
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn status_lists_waiting_instances_with_how_long_they_waited() {
    let mut w = World::clusterized().await;
    w.record("i-10007", Transition::Launch, "10.0.0.7", now())
        .await;
    w.record(
        "i-10006",
        Transition::Terminate,
        "10.0.0.6",
        now() + TimeDelta::seconds(200),
    )
    .await;
    w.store
        .decide_lifecycle_action(&LifecycleDecision {
            key: key("i-10006", Transition::Terminate),
            group: ASG.to_owned(),
            hook: TERMINATE_HOOK.to_owned(),
            result: LifecycleResult::Continue,
            reason: "weka deactivated the machine".to_owned(),
            at: now() + TimeDelta::seconds(250),
        })
        .await
        .unwrap();
    w.record("i-10005", Transition::Launch, "10.0.0.5", now())
        .await;
    w.close_joined("i-10005", now()).await;
    w.advance(300);
    let shown = w.status().await;
    assert_eq!(
        shown["lifecycle_waiting"],
        json!([
            {"instance_id": "i-10007", "lifecycle_state": "Pending:Wait",
             "since": "2026-11-10T00:00:00.000Z", "waiting_seconds": 300, "phase": "waiting"},
            {"instance_id": "i-10006", "lifecycle_state": "Terminating:Wait",
             "since": "2026-11-10T00:03:20.000Z", "waiting_seconds": 100, "phase": "decided",
             "decision": "CONTINUE: weka deactivated the machine"}
        ]),
        "{shown}"
    );

    // Nothing waiting: the field is left out, as before.
    let mut quiet = World::clusterized().await;
    assert!(quiet.status().await.get("lifecycle_waiting").is_none());
}
