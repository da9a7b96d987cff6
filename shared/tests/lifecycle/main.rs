//! ASG lifecycle hooks on in-memory fakes: the start events, the launch hook answered by reports
//! and finalization, the terminate hook answered after WEKA deactivated the machine, deadlines,
//! events lost to a held lease, idempotent completion, and `status`.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

#[path = "../scale/common.rs"]
mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Asg, Cb, M, now};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weka_shared::config::callers::CallerPolicy;
use weka_shared::config::lifecycle::LifecycleConfig;
use weka_shared::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecyclePhase, LifecycleRecord, LifecycleResult,
    NewLifecycleAction, Transition,
};
use weka_shared::domain::scale_down::ClusterSnapshot;
use weka_shared::domain::state::Group;
use weka_shared::domain::terminate::{Lifecycle, TerminatePolicy};
use weka_shared::error::{Classify, ErrorClass};
use weka_shared::handlers::{
    clusterize_finalization, report, scale_down, scale_fetch, status, terminate,
};
use weka_shared::ports::{GroupInstance, LifecycleAnswer, StateStore};
use weka_shared::services::scale_run::SCALE_LEASE;
use weka_shared::testing::{
    FakeClock, FakeInventory, FakeScalingGroups, FakeWeka, InMemoryStateStore,
    assert_no_transient_errors, callers, fake_secrets, group_instance, invocation,
    scale_down_config, scale_fetch_env, state_config, status_deps, terminate_config,
};
use weka_shared::weka::model::HostState;
use weka_shared::wire::bootstrap::Vm;
use weka_shared::wire::events::{EventError, ScaleTrigger, parse_trigger};
use weka_shared::wire::scale::{HostGroupInfoResponse, ScaleResponse, TerminatedInstancesResponse};

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
        let payload = json!({"type": kind, "message": message, "hostname": host, "protocol": ""});
        let answer = self.report_with(payload, callers()).await;
        assert_eq!(answer.unwrap(), "The report was added successfully");
    }

    /// `report` with any payload, admitting callers by `policy`.
    async fn report_with(
        &mut self,
        payload: Value,
        policy: CallerPolicy,
    ) -> Result<&'static str, report::ReportError> {
        let deps = report::Deps {
            store: std::mem::take(&mut self.store),
            clock: FakeClock::at(self.now),
            groups: std::mem::take(&mut self.groups),
            config: report::Config {
                state: state_config(),
                reports_per_host: 50,
                retention: Duration::from_secs(86_400),
                lifecycle: lifecycle(),
                callers: policy,
            },
        };
        let answer = report::handle(&deps, payload).await;
        self.store = deps.store;
        self.groups = deps.groups;
        answer
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
            callers: callers(),
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
    ) -> Result<HostGroupInfoResponse, scale_fetch::ScaleFetchError> {
        let env = scale_fetch_env(
            ASG,
            &[
                ("LAUNCH_LIFECYCLE_HOOK_NAME", LAUNCH_HOOK),
                ("TERMINATE_LIFECYCLE_HOOK_NAME", TERMINATE_HOOK),
            ],
        );
        let deps = scale_fetch::Deps {
            groups: std::mem::take(&mut self.groups),
            inventory: std::mem::take(&mut self.inventory),
            store: std::mem::take(&mut self.store),
            clock: FakeClock::at(self.now),
            config: scale_fetch::Config::from_lookup(&env).unwrap(),
        };
        let out = scale_fetch::handle(
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

    /// Scale-down on `info` as the run hands it over: `scale-fetch`'s answer carries the
    /// backend instances the group holds in a wait state (unless `info` names them already).
    async fn scale_down(&mut self, execution: &str, info: &HostGroupInfoResponse) -> ScaleResponse {
        let mut info = info.clone();
        if info.lifecycle_waits.is_none() {
            let waits = self.groups.group(ASG).map_or_else(Default::default, |g| {
                g.instances
                    .iter()
                    .filter_map(|i| match &i.instance.lifecycle {
                        Lifecycle::Other(s) if s.ends_with(":Wait") => {
                            Some((i.instance.id.clone(), s.clone()))
                        }
                        _ => None,
                    })
                    .collect()
            });
            info.lifecycle_waits = Some(waits);
        }
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
        self.terminate_with(json!({"execution": execution, "input": scale}))
            .await
            .transient_errors
    }

    /// Runs terminate on the state machine's `payload`.
    async fn terminate_with(&mut self, payload: Value) -> TerminatedInstancesResponse {
        let deps = terminate::Deps {
            groups: std::mem::take(&mut self.groups),
            store: std::mem::take(&mut self.store),
            clock: FakeClock::at(self.now),
            config: terminate_config(ASG, None, TerminatePolicy::default(), lifecycle()),
        };
        let out = terminate::handle(&deps, payload, invocation(self.now)).await;
        self.groups = deps.groups;
        self.store = deps.store;
        out.unwrap()
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

mod departed_member;
mod events;
mod launch_hook;
mod lost_finalization;
mod paused;
mod recorded_before_the_lease;
mod scale_down_failed;
mod start_events;
mod status_view;
mod terminate_hook;
mod terminate_step;
mod verified_events;
