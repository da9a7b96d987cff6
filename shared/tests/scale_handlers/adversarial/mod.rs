//! Adversarial payloads for all ten handlers on healthy fakes (issue 14, review §10 item 1):
//! hostile JSON (wrong types, missing and extra fields, strings up to ~1 MB, unicode, control
//! characters, path and shell fragments, nesting, numbers at the edges), valid-shaped requests
//! with hostile values, instance ids that look right but are not in the fake group, event times
//! past the year 9999, huge arrays for scale-down and terminate.
//!
//! Invariants, per payload: no panic; every error is `InvalidInput` or `Conflict` (`transient`
//! may fail with the `Transient` errors it is given: that is its job); every stored item well
//! under DynamoDB's 400 KB; registrations within the configured sets; report rings within
//! their size; no secret read for a payload that fails validation; `fetch` leases and records
//! nothing; `terminate` acts only on instances its groups hold.
//!
//! 2,000 cases per handler, scaled by `PROPTEST_CASES / 256` when that is set.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use weka_shared::domain::terminate::TerminatePolicy;
use weka_shared::handlers::{clusterize, clusterize_finalization, deploy, report};
use weka_shared::testing::{bootstrap_env, callers, state_config, terminate_config};

const DEFAULT_CASES: u32 = 2_000;
/// Far below DynamoDB's 400 KB item limit: what one request may add to the table.
const MAX_ITEM_BYTES: usize = 64 * 1024;
const REPORTS_PER_HOST: u32 = 3;
const BACKEND_SET: u32 = 6;
const NFS_SET: u32 = 2;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(DEFAULT_CASES, |n| {
            u32::try_from((u64::from(DEFAULT_CASES) * n / 256).max(1)).unwrap_or(u32::MAX)
        })
}

/// The ids the fake group and inventory hold: `i-00000000000000000` to `...05`.
fn member(i: usize) -> String {
    format!("i-{i:017x}")
}

fn member_ip(i: usize) -> String {
    format!("10.0.1.{}", 10 + i)
}

macro_rules! check {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($fmt)*)));
        }
    };
}

mod generators;
mod instances;
mod steps;

use generators::*;

// ---------------------------------------------------------------------------------------------
// Deployment on fakes

const GROUP_ENV: [(&str, &str); 3] = [
    ("NFS_ASG_NAME", NFS_ASG),
    ("ROLE", "backend"),
    ("DOWN_BACKENDS_REMOVAL_TIMEOUT", "3h"),
];

fn lifecycle() -> LifecycleConfig {
    LifecycleConfig::with_hooks(ASG, "weka-launch", "weka-terminate")
}

/// The six members, running in the inventory.
fn inventory() -> FakeInventory {
    let inv = FakeInventory::default();
    inv.add_running(
        "poc",
        "backend",
        (0..6)
            .map(|i| Instance {
                id: member(i),
                private_ip: Some(member_ip(i)),
                private_dns_name: None,
            })
            .collect(),
    );
    inv
}

/// The backend group holding the six members, in service; an empty NFS group.
fn groups() -> FakeScalingGroups {
    let groups = FakeScalingGroups::default();
    let launched = now() - TimeDelta::days(2);
    groups.add_group(
        ASG,
        6,
        (0..6)
            .map(|i| group_instance(&member(i), &member_ip(i), launched))
            .collect(),
    );
    groups.add_group(NFS_ASG, 0, vec![]);
    groups
}

fn store() -> InMemoryStateStore {
    InMemoryStateStore::with_sizes(BACKEND_SET, NFS_SET)
}

/// A 6-machine cluster WEKA answers for, all healthy.
fn healthy_weka() -> FakeWeka {
    let mut cb = Cb::new(6);
    for n in 0..6 {
        cb.machine(&member_ip(n), M::Healthy, Asg::Backend);
    }
    let snap = cb.snap;
    let reads: BTreeMap<&'static str, Value> = BTreeMap::from([
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
    ]);
    FakeWeka::new(move |_, method, _| Ok(reads.get(method).cloned().unwrap_or_else(|| json!({}))))
}

// ---------------------------------------------------------------------------------------------
// Invariants

/// The store after a request: items small, sets within their size, rings within theirs.
async fn bounded_writes(store: &InMemoryStateStore) -> Result<(), TestCaseError> {
    let largest = store.largest_item_bytes();
    check!(largest < MAX_ITEM_BYTES, "a stored item of {largest} bytes");
    for (group, set) in [(Group::Backend, BACKEND_SET), (Group::Nfs, NFS_SET)] {
        let state = store.load(group).await.unwrap();
        check!(
            state.instances.len() <= set as usize,
            "{} registered in a {group:?} set of {set}",
            state.instances.len()
        );
        let reports = store.reports(group).await.unwrap();
        let mut per_host: BTreeMap<&str, u32> = BTreeMap::new();
        for r in &reports {
            *per_host.entry(&r.host).or_default() += 1;
        }
        check!(
            per_host.values().all(|n| *n <= REPORTS_PER_HOST),
            "a report ring beyond {REPORTS_PER_HOST}: {per_host:?}"
        );
    }
    Ok(())
}

/// The error class is one a hostile payload may cause on healthy fakes.
fn expected_class(handler: &str, class: ErrorClass, error: &str) -> Result<(), TestCaseError> {
    check!(
        matches!(class, ErrorClass::InvalidInput | ErrorClass::Conflict),
        "{handler}: error class {class:?}: {error}"
    );
    Ok(())
}

/// Runs `property` on `cases()` payloads from `strategy`.
fn run(
    name: &str,
    strategy: &BoxedStrategy<Value>,
    property: impl Fn(&tokio::runtime::Runtime, Value) -> Result<(), TestCaseError>,
) {
    // Real time, not a paused clock: with a paused clock, the runtime jumps past the WEKA
    // client's timeouts whenever it idles, which a loaded machine turned into failed calls.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(RunnerConfig {
        cases: cases(),
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let started = std::time::Instant::now();
    runner
        .run(strategy, |payload| property(&rt, payload))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    eprintln!("{name}: {} cases in {:?}", cases(), started.elapsed());
}

fn short(payload: &Value) -> String {
    let text = payload.to_string();
    if text.len() > 300 {
        format!(
            "{}… ({} bytes)",
            &text[..text.floor_char_boundary(300)],
            text.len()
        )
    } else {
        text
    }
}
