//! The console on the real `status` handler over the in-memory deployment: what each command
//! answers, the pause it writes as status then shows it, the exit codes, `--json`, and `watch`
//! on scripted answers.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use clap::Parser as _;
use serde_json::{Value, json};
use weka_shared::domain::control::Pause;
use weka_shared::domain::events::{EVENT_RETENTION, EVENTS_KEPT, Event, EventKind};
use weka_shared::error::{Classify, error_chain};
use weka_shared::handlers::status;
use weka_shared::ports::{StateStore, StoreError};
use weka_shared::testing::{
    FakeClock, FakeInventory, FakeScalingGroups, FakeSecrets, FakeWeka, InMemoryStateStore,
    status_deps,
};
use wekactl_aws::args::Cli;
use wekactl_aws::console::{Console, Exit, Group};
use wekactl_aws::ports::{CallError, CallerIdentity, PauseSwitch, StatusFunction};
use wekactl_aws::watch::{Goal, WatchOptions, watch};

type Deps = status::Deps<
    InMemoryStateStore,
    FakeScalingGroups,
    FakeInventory,
    FakeSecrets,
    FakeWeka,
    FakeClock,
>;

/// The `status` function, in process: the handler the Lambda runs, errors as Lambda reports them.
#[derive(Clone)]
struct InProcess(Arc<Deps>);

impl StatusFunction for InProcess {
    async fn call(&self, request: Value) -> Result<Value, CallError> {
        status::handle(&self.0, request, None)
            .await
            .map_err(|e| CallError::Function {
                function: "status".to_owned(),
                error_type: e.class().error_type().to_owned(),
                message: error_chain(&e),
            })
    }
}

impl PauseSwitch for InProcess {
    async fn paused(&self) -> Result<Option<Pause>, StoreError> {
        StateStore::paused(&self.0.store).await
    }
    async fn pause(&self, pause: &Pause) -> Result<(), StoreError> {
        StateStore::pause(&self.0.store, pause).await
    }
    async fn resume(&self) -> Result<Option<Pause>, StoreError> {
        StateStore::resume(&self.0.store).await
    }
}

struct Operator;

impl CallerIdentity for Operator {
    async fn caller(&self) -> Result<String, CallError> {
        Ok("arn:aws:iam::1:user/ops".to_owned())
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn console() -> Console<InProcess, InProcess, Operator> {
    let weka = FakeWeka::new(|_, method, _| panic!("WEKA must not be called ({method})"));
    let deps = InProcess(Arc::new(status_deps(
        InMemoryStateStore::with_sizes(6, 0),
        weka,
        now(),
    )));
    Console {
        status: deps.clone(),
        pause: Some(deps),
        identity: Operator,
        group: Group::Backend,
    }
}

async fn run(console: &Console<InProcess, InProcess, Operator>, args: &[&str]) -> (Exit, String) {
    let cli =
        Cli::try_parse_from(std::iter::once("wekactl-aws").chain(args.iter().copied())).unwrap();
    let mut out = Vec::new();
    let exit = match wekactl_aws::execute(console, &cli, &mut out, false).await {
        Ok(exit) => exit,
        Err(e) => e.exit(),
    };
    (exit, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn pause_is_shown_by_status_kept_on_retry_and_lifted_by_resume() {
    let c = console();
    let (exit, text) = run(&c, &["pause", "--reason", "WEKA upgrade"]).await;
    assert_eq!(exit, Exit::Ok);
    assert!(text.contains("paused by arn:aws:iam::1:user/ops"), "{text}");

    let (_, json) = run(&c, &["--json", "status"]).await;
    let status: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(status["paused"]["paused_by"], "arn:aws:iam::1:user/ops");
    assert_eq!(status["paused"]["reason"], "WEKA upgrade");
    let (_, text) = run(&c, &["status"]).await;
    assert!(text.contains("PAUSED by arn:aws:iam::1:user/ops"), "{text}");

    // A second pause (a retry, or another operator) keeps the first one's who and since.
    let (exit, json) = run(&c, &["--json", "pause", "--by", "someone-else"]).await;
    assert_eq!(exit, Exit::Ok);
    let second: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(second["changed"], false);
    assert_eq!(second["paused"]["paused_by"], "arn:aws:iam::1:user/ops");

    let (_, json) = run(&c, &["--json", "resume"]).await;
    let resumed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(resumed["changed"], true);
    assert_eq!(resumed["resumed"]["reason"], "WEKA upgrade");
    let (_, json) = run(&c, &["--json", "status"]).await;
    assert!(
        serde_json::from_str::<Value>(&json)
            .unwrap()
            .get("paused")
            .is_none()
    );
    let (exit, text) = run(&c, &["resume"]).await;
    assert_eq!(
        (exit, text.as_str()),
        (Exit::Ok, "not paused; nothing to resume\n")
    );
}

#[tokio::test]
async fn events_are_listed_newest_first_and_filtered() {
    let c = console();
    let store = &c.status.0.store;
    let at = |minutes| now() - TimeDelta::minutes(minutes);
    for (kind, subject, minutes) in [
        (EventKind::Registration, "i-1", 50),
        (EventKind::Deactivation, "10.0.0.1", 30),
        (EventKind::Termination, "i-1", 10),
    ] {
        let event = Event::new(kind, subject, "why", at(minutes));
        store
            .record_event(&event, EVENTS_KEPT, EVENT_RETENTION)
            .await
            .unwrap();
    }
    let (_, json) = run(&c, &["--json", "events"]).await;
    let all: Value = serde_json::from_str(&json).unwrap();
    let kinds: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["termination", "deactivation", "registration"]);
    let (_, json) = run(&c, &["--json", "events", "--kind", "deactivation"]).await;
    let only: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(only["events"].as_array().unwrap().len(), 1);
    assert_eq!(only["events"][0]["subject"], "10.0.0.1");
    let (_, json) = run(&c, &["--json", "events", "--limit", "2"]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap()["events"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (_, text) = run(&c, &["events", "--kind", "termination"]).await;
    assert!(
        text.starts_with("AT") && text.contains("termination  i-1"),
        "{text}"
    );
}

#[tokio::test]
async fn progress_shows_registrations_toward_the_target() {
    let c = console();
    let (exit, text) = run(&c, &["progress"]).await;
    assert_eq!(exit, Exit::Ok);
    assert!(
        text.contains("registered   [") && text.contains("] 0/6"),
        "{text}"
    );
    let (_, json) = run(&c, &["--json", "progress"]).await;
    let progress: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(progress["summary"]["clusterization_target"], 6);
}

#[tokio::test]
async fn a_function_error_exits_1_and_a_missing_table_exits_3() {
    let c = console();
    // This deployment's status has no backend group configured: plan answers an error.
    let (exit, _) = run(&c, &["plan"]).await;
    assert_eq!(exit, Exit::Failed);
    let no_table = Console {
        pause: None::<InProcess>,
        ..console()
    };
    let (exit, _) = run(&no_table, &["pause"]).await;
    assert_eq!(exit, Exit::Deployment);
}

/// A `status` function answering from a script: `kind` and how many times it was asked.
struct Scripted<F>(F, Mutex<Vec<String>>);

impl<F> StatusFunction for Scripted<F>
where
    F: Fn(&str, usize) -> Result<Value, CallError> + Sync,
{
    async fn call(&self, request: Value) -> Result<Value, CallError> {
        let kind = request["type"].as_str().unwrap().to_owned();
        let asked = {
            let mut asked = self.1.lock().unwrap();
            asked.push(kind.clone());
            asked.iter().filter(|k| **k == kind).count()
        };
        (self.0)(&kind, asked)
    }
}

fn progress(registered: u32, clusterized: bool) -> Value {
    json!({"ready_for_clusterization": [], "progress": null, "errors": null, "debug": null,
           "in_progress": [], "summary": {"ready_for_clusterization": registered, "stopped": 0,
           "in_progress": 0, "unknown": null, "clusterization_target": 6,
           "clusterization_instance": "", "clusterized": clusterized}})
}

fn status_answer(desired: u32, clusterized: bool) -> Value {
    json!({"initial_size": 6, "desired_size": desired, "clusterized": clusterized,
           "weka_status": null,
           "scale_lease_held": {"holder": "tick-1", "beyond_one_period": false}})
}

fn plan(machines: usize, acting: usize) -> Value {
    let lines: Vec<Value> = (0..machines)
        .map(|i| {
            json!({"ip": format!("10.0.0.{i}"), "action":
            if i < acting { "deactivate" } else { "keep" }, "terminate": false, "reason": "r"})
        })
        .collect();
    json!({"machines": lines, "desired": 6})
}

fn watching<F>(script: F) -> Console<Scripted<F>, InProcess, Operator> {
    Console {
        status: Scripted(script, Mutex::default()),
        pause: None,
        identity: Operator,
        group: Group::Backend,
    }
}

fn options(goal: Goal, json: bool) -> WatchOptions {
    WatchOptions {
        goal,
        interval: Duration::ZERO,
        timeout: None,
        max_failures: 3,
        json,
        redraw: false,
    }
}

#[tokio::test]
async fn watch_follows_formation_until_formed_with_a_line_per_change() {
    let c = watching(|kind: &str, n: usize| match kind {
        "progress" => Ok(progress(u32::try_from(n.min(6)).unwrap(), n > 6)),
        "status" => Ok(status_answer(6, n > 6)),
        _ => Ok(plan(6, 0)),
    });
    let mut out = Vec::new();
    let exit = watch(&c, &options(Goal::Formed, false), &mut out)
        .await
        .unwrap();
    assert_eq!(exit, Exit::Ok);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert!(
        lines[0].contains("forming") && lines[0].contains("1/6"),
        "{text}"
    );
    assert!(
        lines[5].contains("[########################] 6/6"),
        "{text}"
    );
    assert!(lines[6].contains("settled"), "{text}");
    assert!(
        !text.contains("lease"),
        "a lease within its period is no alert: {text}"
    );
}

#[tokio::test]
async fn watch_waits_for_a_scale_in_to_settle_and_json_frames_parse() {
    // 8 machines, two deactivated, then removed one poll at a time.
    let c = watching(|kind: &str, n: usize| match kind {
        "progress" => Ok(progress(6, true)),
        "status" => Ok(status_answer(6, true)),
        _ => Ok(match n {
            1 => plan(8, 2),
            2 => plan(7, 1),
            _ => plan(6, 0),
        }),
    });
    let mut out = Vec::new();
    let exit = watch(&c, &options(Goal::Settled, true), &mut out)
        .await
        .unwrap();
    assert_eq!(exit, Exit::Ok);
    let frames: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let phases: Vec<(&str, u64, u64)> = frames
        .iter()
        .map(|f| {
            (
                f["phase"].as_str().unwrap(),
                f["machines"].as_u64().unwrap(),
                f["acting"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            ("scaling_in", 8, 2),
            ("scaling_in", 7, 1),
            ("settled", 6, 0)
        ]
    );
}

#[tokio::test]
async fn watch_times_out_with_4_and_gives_up_after_failures_in_a_row() {
    let c = watching(|kind: &str, _| match kind {
        "progress" => Ok(progress(2, false)),
        _ => {
            let mut status = status_answer(6, false);
            status["scale_lease_held"]["beyond_one_period"] = json!(true);
            Ok(status)
        }
    });
    let mut opts = options(Goal::Formed, false);
    opts.timeout = Some(Duration::ZERO);
    let mut out = Vec::new();
    assert_eq!(watch(&c, &opts, &mut out).await.unwrap(), Exit::TimedOut);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("scale lease held by tick-1 beyond one period"),
        "{text}"
    );

    let failing = watching(|_: &str, n: usize| {
        Err(CallError::Aws {
            call: "lambda:Invoke",
            reason: format!("refused #{n}"),
        })
    });
    let mut out = Vec::new();
    let err = watch(&failing, &options(Goal::Formed, false), &mut out)
        .await
        .unwrap_err();
    assert_eq!(err.exit(), Exit::Failed);
    assert_eq!(
        String::from_utf8(out)
            .unwrap()
            .matches("poll failed")
            .count(),
        3
    );

    // One failure between good polls is shown and the watch goes on.
    let flaky = watching(|kind: &str, n: usize| match (kind, n) {
        ("progress", 1) => Err(CallError::Aws {
            call: "lambda:Invoke",
            reason: "blip".to_owned(),
        }),
        ("progress", _) => Ok(progress(6, true)),
        ("status", _) => Ok(status_answer(6, true)),
        _ => Ok(plan(6, 0)),
    });
    let mut out = Vec::new();
    assert_eq!(
        watch(&flaky, &options(Goal::Settled, false), &mut out)
            .await
            .unwrap(),
        Exit::Ok
    );
}
