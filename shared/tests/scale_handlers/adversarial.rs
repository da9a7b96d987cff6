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
use std::collections::HashMap;
use weka_shared::domain::terminate::TerminatePolicy;
use weka_shared::handlers::{clusterize, clusterize_finalization, deploy, report};
use weka_shared::testing::{callers, state_config, terminate_config};

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

// ---------------------------------------------------------------------------------------------
// Generators

const FRAGMENTS: &[&str] = &[
    "",
    "\0",
    "\n",
    "\r\n",
    "\t",
    "\u{7f}",
    "\u{1b}[2J",
    "\u{202e}",
    "\u{feff}",
    "\u{10ffff}",
    "é",
    "日本語",
    "😀",
    "\"",
    "'",
    "\\",
    "$(reboot)",
    "`id`",
    "${IFS}",
    ";rm -rf /",
    "|sh",
    "../../etc/passwd",
    "/dev/null",
    "%00",
    "%2e%2e/",
    "#",
    "@@X@@",
    " ",
    "null",
    "true",
    "1e999",
    "-1",
    "0x10",
    "NaN",
    "i-",
    "i-0",
    "i-00000000000000000",
    "i-0123456789abcdef0",
    "i-ffffffffffffffffff",
    "ip-10-0-1-10",
    "10.0.1.10",
    "nfs",
    "smb",
    "data",
    "backend",
    "progress",
    "error",
    "debug",
    "status",
    "Join completed successfully",
    "+10000-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "2026-11-10T00:00:00Z",
];

fn fragment() -> impl Strategy<Value = String> {
    prop::sample::select(FRAGMENTS).prop_map(str::to_owned)
}

/// Hostile text, rarely huge (up to ~1 MB).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => prop::collection::vec(fragment(), 0..5).prop_map(|v| v.concat()),
        4 => "[a-z0-9-]{0,24}",
        2 => prop::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect()),
        1 => (fragment(), 1_usize..4_096).prop_map(|(f, n)| f.repeat(n).chars().take(n * 4).collect()),
        // Rare: one in ~100 strings is huge (up to ~1 MB).
        1 => prop_oneof![
            9 => Just(String::new()),
            1 => (1_usize..1_000_000).prop_map(|n| "A".repeat(n)),
        ],
    ]
}

/// An instance id: one the group holds, or one that looks right but is not there.
fn instance_id() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0_usize..6).prop_map(member),
        3 => (6_u64..u64::MAX).prop_map(|n| format!("i-{n:017x}")),
        1 => "i-[0-9a-f]{8}",
        1 => text(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            json!(0),
            json!(-1),
            json!(1),
            json!(6),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(i32::MAX),
            json!(u32::MAX),
            json!(-0.0),
            json!(0.5),
            json!(1e308),
            json!(-1e308),
            json!(5e-324),
        ]),
        any::<i64>().prop_map(Value::from),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => number(),
        4 => text().prop_map(Value::String),
        2 => instance_id().prop_map(Value::String),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((prop_oneof![fragment(), key()], inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A deeply nested value, within serde_json's recursion limit (128).
fn deep() -> impl Strategy<Value = Value> {
    (1_usize..120, any::<bool>()).prop_map(|(depth, arrays)| {
        let mut v = json!("x");
        for _ in 0..depth {
            v = if arrays {
                json!([v])
            } else {
                json!({ "a": v })
            };
        }
        v
    })
}

/// Every field name any handler reads, and the step envelope's.
const KEYS: &[&str] = &[
    "name",
    "protocol",
    "container_uid",
    "nic_name",
    "type",
    "message",
    "hostname",
    "fetch_weka_credentials",
    "show_admin_password",
    "execution",
    "input",
    "event",
    "username",
    "password",
    "admin_password",
    "weka_backends_desired_capacity",
    "nfs_backends_desired_capacity",
    "weka_backend_instances",
    "nfs_backend_instances",
    "nfs_interface_group_instance_ips",
    "down_backends_removal_timeout",
    "backend_ips",
    "role",
    "version",
    "Hosts",
    "ToTerminate",
    "TransientErrors",
    "set_to_terminate_instances",
    "refusal",
    "detail-type",
    "source",
    "time",
    "detail",
];

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS).prop_map(str::to_owned)
}

/// A field value: usually plausible, often hostile.
fn field(plausible: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![
        5 => plausible,
        3 => scalar(),
        1 => any_json(),
        1 => deep(),
    ]
    .boxed()
}

/// An object with each of `fields` present or not, plus hostile extra fields.
fn shaped(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let present: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
        .into_iter()
        .map(|(k, s)| {
            prop::option::weighted(0.8, field(s).prop_map(move |v| (k.to_owned(), v))).boxed()
        })
        .collect();
    (
        present,
        prop::collection::vec((prop_oneof![key(), text()], scalar()), 0..3),
    )
        .prop_map(|(fields, extra)| {
            let mut map: serde_json::Map<String, Value> = extra.into_iter().collect();
            map.extend(fields.into_iter().flatten());
            Value::Object(map)
        })
        .boxed()
}

fn str_of(s: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Value> {
    s.prop_map(Value::String).boxed()
}

fn one_of(values: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop::sample::select(values)
        .prop_map(|s| Value::String(s.to_owned()))
        .boxed()
}

const PROTOCOLS: &[&str] = &["", "nfs", "smb", "smbw", "s3", "data", "NFS", "ftp"];

fn vm_payload() -> BoxedStrategy<Value> {
    shaped(vec![
        ("name", str_of(instance_id())),
        ("protocol", one_of(PROTOCOLS)),
        ("container_uid", str_of(text())),
        ("nic_name", str_of(text())),
    ])
}

fn instance_refs() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => prop::collection::vec((instance_id(), "10\\.0\\.[0-9]{1,3}\\.[0-9]{1,3}"), 0..8),
        1 => (0_usize..2_000).prop_map(|n| {
            (0..n).map(|i| (format!("i-{:017x}", 0x1000 + i), format!("10.9.{}.{}", i / 250, i % 250))).collect()
        }),
    ]
    .prop_map(|refs| {
        Value::Array(
            refs.into_iter()
                .map(|(id, ip)| json!({"Id": id, "PrivateIp": ip}))
                .collect(),
        )
    })
    .boxed()
}

fn strings() -> BoxedStrategy<Value> {
    prop_oneof![
        prop::collection::vec(text(), 0..6),
        (0_usize..5_000).prop_map(|n| (0..n).map(|i| format!("e{i}")).collect()),
    ]
    .prop_map(|v| json!(v))
    .boxed()
}

fn time() -> BoxedStrategy<Value> {
    one_of(&[
        "2026-11-10T00:00:00Z",
        "+10000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "+262143-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "2026-13-45T99:99:99Z",
    ])
}

fn host_group_info() -> BoxedStrategy<Value> {
    shaped(vec![
        ("username", str_of(text())),
        ("password", str_of(text())),
        ("admin_password", str_of(text())),
        ("weka_backends_desired_capacity", number().boxed()),
        ("nfs_backends_desired_capacity", number().boxed()),
        ("weka_backend_instances", instance_refs()),
        ("nfs_backend_instances", instance_refs()),
        ("down_backends_removal_timeout", number().boxed()),
        ("backend_ips", strings()),
        ("role", one_of(&["backend", "nfs", "client", ""])),
        (
            "version",
            prop::sample::select(vec![json!(1), json!(0), json!(2)]).boxed(),
        ),
    ])
}

fn scale_response() -> BoxedStrategy<Value> {
    let host = shaped(vec![
        ("instance_id", str_of(instance_id())),
        ("private_ip", str_of(text())),
        (
            "status",
            one_of(&["ACTIVE", "INACTIVE", "DEACTIVATING", "DOWN", "x"]),
        ),
        ("added_time", time()),
        (
            "host_id",
            one_of(&[
                "HostId<1>",
                "HostId<-1>",
                "HostId<99999999999999999999>",
                "1",
            ]),
        ),
    ]);
    shaped(vec![
        (
            "Hosts",
            prop::collection::vec(host, 0..4)
                .prop_map(Value::Array)
                .boxed(),
        ),
        ("ToTerminate", instance_refs()),
        ("TransientErrors", strings()),
        (
            "version",
            prop::sample::select(vec![json!(1), json!(0), json!(2)]).boxed(),
        ),
    ])
}

fn terminated_instances() -> BoxedStrategy<Value> {
    let one = shaped(vec![
        ("instance_id", str_of(instance_id())),
        ("creation_date", time()),
    ]);
    shaped(vec![
        (
            "set_to_terminate_instances",
            prop::collection::vec(one, 0..4)
                .prop_map(Value::Array)
                .boxed(),
        ),
        ("TransientErrors", strings()),
        (
            "version",
            prop::sample::select(vec![json!(1), json!(0), json!(2)]).boxed(),
        ),
    ])
}

fn lifecycle_event() -> BoxedStrategy<Value> {
    let detail = shaped(vec![
        ("LifecycleActionToken", str_of(text())),
        (
            "AutoScalingGroupName",
            one_of(&[ASG, NFS_ASG, "other-group", ""]),
        ),
        (
            "LifecycleHookName",
            one_of(&["weka-launch", "weka-terminate", "x"]),
        ),
        ("EC2InstanceId", str_of(instance_id())),
        (
            "LifecycleTransition",
            one_of(&[
                "autoscaling:EC2_INSTANCE_TERMINATING",
                "autoscaling:EC2_INSTANCE_LAUNCHING",
                "autoscaling:TEST_NOTIFICATION",
                "x",
            ]),
        ),
    ]);
    shaped(vec![
        (
            "detail-type",
            one_of(&[
                "EC2 Instance-terminate Lifecycle Action",
                "EC2 Instance-launch Lifecycle Action",
                "EC2 Instance Launch Successful",
                "Scheduled Event",
                "x",
            ]),
        ),
        ("source", one_of(&["aws.autoscaling", "aws.events", "x"])),
        ("time", time()),
        ("detail", detail),
    ])
}

/// A Step Functions envelope around `input` (or a direct call with `input`'s fields).
fn step(input: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![
        3 => shaped(vec![
            ("execution", str_of(text())),
            ("input", input.clone()),
        ]),
        1 => input,
    ]
    .boxed()
}

/// Any payload for a handler whose valid shape is `shape`.
fn payload(shape: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![
        6 => shape,
        2 => any_json(),
        1 => deep(),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Deployment on fakes

fn bootstrap_env() -> HashMap<String, String> {
    env(&[
        ("STATE_TABLE", "t"),
        ("STATE_KEY", "weka-poc-state"),
        ("NFS_STATE_KEY", "weka-poc-nfs-state"),
        ("CLUSTER_NAME", "poc"),
        ("REGION", "eu-west-1"),
        ("REPORT_LAMBDA_NAME", "weka-poc-report-lambda"),
        ("CLUSTERIZE_LAMBDA_NAME", "weka-poc-clusterize-lambda"),
        (
            "CLUSTERIZE_FINALIZATION_LAMBDA_NAME",
            "weka-poc-clusterize-finalization-lambda",
        ),
        ("FETCH_LAMBDA_NAME", "weka-poc-fetch-lambda"),
        ("STATUS_LAMBDA_NAME", "weka-poc-status-lambda"),
        (
            "TOKEN_ID",
            "arn:aws:secretsmanager:eu-west-1:1:secret:weka/token",
        ),
        (
            "INSTALL_URL",
            "https://$TOKEN@get.weka.io/dist/v1/install/4.4.2/4.4.2?provider=aws&region=eu-west-1",
        ),
        ("COMPUTE_MEMORY", "32.9GB"),
        ("COMPUTE_CONTAINER_CORES_NUM", "2"),
        ("DRIVE_CONTAINER_CORES_NUM", "1"),
        ("FRONTEND_CONTAINER_CORES_NUM", "1"),
        ("NICS_NUM", "5"),
        ("HOSTS_NUM", "6"),
        ("STRIPE_WIDTH", "3"),
        ("PROTECTION_LEVEL", "2"),
        ("HOTSPARE", "1"),
        ("ADMIN_PASSWORD_ID", "admin-pw-id"),
        ("DEPLOYMENT_PASSWORD_ID", "deploy-pw-id"),
        ("CLUSTERIZE_TIMEOUT_MINUTES", "30"),
        ("ASG_NAME", ASG),
        ("NFS_ASG_NAME", NFS_ASG),
    ])
}

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

macro_rules! check {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($fmt)*)));
        }
    };
}

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

// ---------------------------------------------------------------------------------------------
// One test per handler

#[test]
fn adversarial_deploy() {
    run("deploy", &payload(vm_payload()), |rt, p| {
        rt.block_on(async {
            let deps = deploy::Deps {
                store: store(),
                inventory: inventory(),
                config: deploy::Config::from_lookup(&bootstrap_env()).unwrap(),
            };
            if let Err(e) = deploy::handle(&deps, p.clone()).await {
                expected_class("deploy", e.class(), &format!("{e} for {}", short(&p)))?;
            }
            check!(deps.store.writes() == 0, "deploy wrote");
            bounded_writes(&deps.store).await
        })
    });
}

type ClusterizeDeps =
    clusterize::Deps<InMemoryStateStore, FakeInventory, FakeSecrets, FakeClock, FakeScalingGroups>;

fn clusterize_deps() -> ClusterizeDeps {
    clusterize::Deps {
        store: store(),
        inventory: inventory(),
        secrets: fake_secrets(),
        clock: FakeClock::at(now()),
        groups: groups(),
        config: clusterize::Config::from_lookup(&bootstrap_env()).unwrap(),
    }
}

#[test]
fn adversarial_clusterize() {
    run("clusterize", &payload(vm_payload()), |rt, p| {
        rt.block_on(async {
            let deps = clusterize_deps();
            // Five members first, so a sixth registration completes the set and clusterizes.
            for i in 1..6 {
                clusterize::handle(&deps, json!({"name": member(i)}))
                    .await
                    .unwrap();
            }
            let reads = deps.secrets.reads();
            match clusterize::handle(&deps, p.clone()).await {
                Ok(_) => {}
                // An id the group does not hold is registered and then has no IP (Transient):
                // the binding's case, asserted by the test below.
                Err(e) if names_an_unheld_instance(&p) => {
                    check!(
                        !matches!(e.class(), ErrorClass::Internal | ErrorClass::Unsafe),
                        "clusterize: {e} for {}",
                        short(&p)
                    );
                }
                Err(e) => {
                    expected_class("clusterize", e.class(), &format!("{e} for {}", short(&p)))?;
                    if e.class() == ErrorClass::InvalidInput {
                        check!(
                            deps.secrets.reads() == reads,
                            "secret read for an invalid payload {}",
                            short(&p)
                        );
                    }
                }
            }
            bounded_writes(&deps.store).await
        })
    });
}

/// Whether `payload` names a well-formed instance id (`i-` and 8 or 17 hex digits) that the
/// fake group does not hold.
fn names_an_unheld_instance(payload: &Value) -> bool {
    let Ok(vm) = serde_json::from_value::<Vm>(payload.clone()) else {
        return false;
    };
    weka_shared::domain::instance::InstanceId::parse(&vm.name).is_ok()
        && !(0..6).any(|i| member(i) == vm.name)
}

/// Review H3: `clusterize` registered any well-formed id; it registers only instances the
/// group holds, and reads no secret for any other.
#[test]
fn adversarial_clusterize_registers_only_instances_the_group_holds() {
    let groups = groups();
    let held: Vec<String> = groups
        .group(ASG)
        .unwrap()
        .instances
        .iter()
        .map(|i| i.instance.id.clone())
        .collect();
    run("clusterize (binding)", &payload(vm_payload()), |rt, p| {
        rt.block_on(async {
            let deps = clusterize_deps();
            let reads = deps.secrets.reads();
            let _ = clusterize::handle(&deps, p.clone()).await;
            for group in [Group::Backend, Group::Nfs] {
                let state = deps.store.load(group).await.unwrap();
                for vm in &state.instances {
                    check!(
                        held.contains(&vm.name),
                        "{:?} registered in {group:?}, but the group does not hold it; payload {}",
                        vm.name,
                        short(&p)
                    );
                }
            }
            let named = p.get("name").and_then(Value::as_str).unwrap_or_default();
            if !held.iter().any(|h| h == named) {
                check!(
                    deps.secrets.reads() == reads,
                    "secret read for {named:?}, which the group does not hold"
                );
            }
            Ok(())
        })
    });
}

/// The review's H3 payload: a well-formed id that no instance of the group has.
#[test]
fn clusterize_refuses_an_id_the_group_does_not_hold() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let deps = clusterize_deps();
        let reads = deps.secrets.reads();
        let answer = clusterize::handle(&deps, json!({"name": member(6)})).await;
        let state = deps.store.load(Group::Backend).await.unwrap();
        assert!(
            state.instances.is_empty(),
            "registered: {:?} ({answer:?})",
            state.instances
        );
        assert_eq!(deps.secrets.reads(), reads, "secret read");
    });
}

#[test]
fn adversarial_clusterize_finalization() {
    let shape = shaped(vec![
        ("protocol", one_of(PROTOCOLS)),
        ("name", str_of(instance_id())),
    ]);
    run("clusterize-finalization", &payload(shape), |rt, p| {
        rt.block_on(async {
            let deps = clusterize_finalization::Deps {
                store: store(),
                inventory: inventory(),
                clock: FakeClock::at(now()),
                groups: groups(),
                lifecycle: lifecycle(),
                callers: callers(),
            };
            if let Err(e) = clusterize_finalization::handle(&deps, p.clone()).await {
                expected_class(
                    "clusterize-finalization",
                    e.class(),
                    &format!("{e} for {}", short(&p)),
                )?;
            }
            bounded_writes(&deps.store).await
        })
    });
}

#[test]
fn adversarial_report() {
    let shape = shaped(vec![
        (
            "type",
            one_of(&["progress", "error", "debug", "warning", ""]),
        ),
        ("message", str_of(text())),
        (
            "hostname",
            str_of(prop_oneof![
                instance_id(),
                text(),
                Just("ip-10-0-1-10".to_owned())
            ]),
        ),
        ("protocol", one_of(PROTOCOLS)),
    ]);
    run("report", &payload(shape), |rt, p| {
        rt.block_on(async {
            let deps = report::Deps {
                store: store(),
                clock: FakeClock::at(now()),
                groups: groups(),
                config: report::Config {
                    state: state_config(),
                    reports_per_host: REPORTS_PER_HOST,
                    retention: Duration::from_secs(86_400),
                    lifecycle: lifecycle(),
                    callers: callers(),
                },
            };
            // Four times: the host's ring (3) must stay within its size.
            for _ in 0..4 {
                if let Err(e) = report::handle(&deps, p.clone()).await {
                    expected_class("report", e.class(), &format!("{e} for {}", short(&p)))?;
                }
            }
            bounded_writes(&deps.store).await
        })
    });
}

#[test]
fn adversarial_status() {
    let shape = shaped(vec![
        ("type", one_of(&["status", "progress", "x", ""])),
        ("protocol", one_of(PROTOCOLS)),
    ]);
    run("status", &payload(shape), |rt, p| {
        rt.block_on(async {
            let deps = status_deps(store(), FakeWeka::new(|_, _, _| Ok(json!({}))), now());
            match status::handle(&deps, p.clone(), Some(now() + TimeDelta::seconds(60))).await {
                Ok(_) => {}
                Err(e) => {
                    expected_class("status", e.class(), &format!("{e} for {}", short(&p)))?;
                    if e.class() == ErrorClass::InvalidInput {
                        check!(
                            deps.secrets.reads() == 0,
                            "secret read for an invalid payload"
                        );
                    }
                }
            }
            check!(deps.store.writes() == 0, "status wrote");
            Ok(())
        })
    });
}

#[test]
fn adversarial_fetch() {
    let shape = shaped(vec![
        (
            "fetch_weka_credentials",
            field(any::<bool>().prop_map(Value::Bool).boxed()),
        ),
        (
            "show_admin_password",
            field(any::<bool>().prop_map(Value::Bool).boxed()),
        ),
        ("execution", str_of(text())),
        ("event", lifecycle_event()),
        ("input", lifecycle_event()),
    ]);
    run("fetch", &payload(shape), |rt, p| {
        rt.block_on(async {
            let deps = fetch::Deps {
                groups: groups(),
                inventory: FakeInventory::default(),
                secrets: fake_secrets(),
                store: store(),
                config: fetch::Config::from_lookup(&fetch_env(ASG, &GROUP_ENV)).unwrap(),
            };
            match fetch::handle(&deps, p.clone()).await {
                Ok(_) => {}
                Err(e) => {
                    expected_class("fetch", e.class(), &format!("{e} for {}", short(&p)))?;
                    if e.class() == ErrorClass::InvalidInput {
                        check!(
                            deps.secrets.reads() == 0,
                            "secret read for an invalid payload"
                        );
                    }
                }
            }
            check!(deps.store.writes() == 0, "fetch wrote");
            check!(
                deps.store
                    .lease(weka_shared::services::scale_run::SCALE_LEASE)
                    .is_none(),
                "fetch took the lease"
            );
            check!(
                deps.store.lifecycle_actions().await.unwrap().is_empty(),
                "fetch recorded a lifecycle action"
            );
            Ok(())
        })
    });
}

#[test]
fn adversarial_scale_fetch() {
    let shape = step(shaped(vec![("event", lifecycle_event())]));
    run("scale-fetch", &payload(shape), |rt, p| {
        rt.block_on(async {
            let deps = scale_fetch::Deps {
                groups: groups(),
                inventory: FakeInventory::default(),
                store: store(),
                clock: FakeClock::at(now()),
                config: scale_fetch::Config {
                    lifecycle: lifecycle(),
                    ..scale_fetch::Config::from_lookup(&scale_fetch_env(ASG, &GROUP_ENV)).unwrap()
                },
            };
            if let Err(e) = scale_fetch::handle(&deps, p.clone(), invocation(now())).await {
                expected_class("scale-fetch", e.class(), &format!("{e} for {}", short(&p)))?;
            }
            // A long execution name is stored whole as the lease owner (finding, see
            // `scale_fetch_refuses_an_execution_name_no_state_machine_gives`).
            if p.get("execution")
                .and_then(Value::as_str)
                .is_some_and(|e| e.len() > 80)
            {
                return Ok(());
            }
            bounded_writes(&deps.store).await
        })
    });
}

/// Whether the (wrapped) host group info names a usable backend IP (an IPv4 address).
fn has_backend_ips(payload: &Value) -> bool {
    [payload.get("input"), Some(payload)]
        .into_iter()
        .flatten()
        .any(|v| {
            v.get("backend_ips")
                .and_then(Value::as_array)
                .is_some_and(|ips| {
                    ips.iter().any(|ip| {
                        ip.as_str()
                            .is_some_and(|s| s.parse::<std::net::Ipv4Addr>().is_ok())
                    })
                })
        })
}

/// Finding: a scale-down input naming no backend IP can never succeed, yet fails `Transient`
/// (WEKA `NoBackends`), which the state machine retries. Fix in `handlers/scale_down.rs`:
/// refuse it as `InvalidInput` before connecting.
#[test]
#[ignore = "finding: fix in handlers/scale_down.rs (not this branch's to edit)"]
fn scale_down_without_backend_ips_is_invalid_input() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = store();
        store.finalize(Group::Backend, now()).await.unwrap();
        let deps = scale_down::Deps {
            store,
            secrets: fake_secrets(),
            weka: healthy_weka(),
            clock: FakeClock::at(now()),
            config: scale_down_config(lifecycle()),
        };
        let err = scale_down::handle(&deps, json!({}), invocation(now()))
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput, "{err}");
    });
}

/// Finding: `scale-fetch` stores any `execution` as the lease owner: a ~1 MB name makes a ~1 MB
/// lease item (DynamoDB refuses it past 400 KB, as `Internal`). Step Functions names are at most
/// 80 characters; fix in `services/scale_run.rs` (`Step`): refuse longer ones as `InvalidInput`.
#[test]
#[ignore = "finding: fix in services/scale_run.rs (not this branch's to edit)"]
fn scale_fetch_refuses_an_execution_name_no_state_machine_gives() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let deps = scale_fetch::Deps {
            groups: groups(),
            inventory: FakeInventory::default(),
            store: store(),
            clock: FakeClock::at(now()),
            config: scale_fetch::Config::from_lookup(&scale_fetch_env(ASG, &GROUP_ENV)).unwrap(),
        };
        let payload = json!({"execution": "A".repeat(65_536)});
        let err = scale_fetch::handle(&deps, payload, invocation(now()))
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput, "{err}");
        assert!(deps.store.largest_item_bytes() < MAX_ITEM_BYTES);
    });
}

/// Finding: an input the planner refuses (`{"backend_ips":[""]}`) is refused only after the
/// WEKA credentials were read. Fix in `handlers/scale_down.rs`: validate before reading.
#[test]
#[ignore = "finding: fix in handlers/scale_down.rs (not this branch's to edit)"]
fn scale_down_reads_no_secret_for_an_input_it_refuses() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = store();
        store.finalize(Group::Backend, now()).await.unwrap();
        let deps = scale_down::Deps {
            store,
            secrets: fake_secrets(),
            weka: healthy_weka(),
            clock: FakeClock::at(now()),
            config: scale_down_config(lifecycle()),
        };
        let err = scale_down::handle(&deps, json!({"backend_ips": [""]}), invocation(now()))
            .await
            .unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput, "{err}");
        assert_eq!(deps.secrets.reads(), 0);
    });
}

#[test]
fn adversarial_scale_down() {
    run("scale-down", &payload(step(host_group_info())), |rt, p| {
        rt.block_on(async {
            let store = store();
            store.finalize(Group::Backend, now()).await.unwrap();
            let deps = scale_down::Deps {
                store,
                secrets: fake_secrets(),
                weka: healthy_weka(),
                clock: FakeClock::at(now()),
                config: scale_down_config(lifecycle()),
            };
            match scale_down::handle(&deps, p.clone(), invocation(now())).await {
                Ok(_) => {}
                // No backend IP to reach WEKA through: `Transient` (finding, see
                // `scale_down_without_backend_ips_is_invalid_input`).
                Err(e) if e.class() == ErrorClass::Transient && !has_backend_ips(&p) => {}
                Err(e) => {
                    expected_class("scale-down", e.class(), &format!("{e} for {}", short(&p)))?;
                    // The planner's refusals come after the credentials are read (finding, see
                    // `scale_down_reads_no_secret_for_an_input_it_refuses`).
                    if matches!(e, scale_down::ScaleDownError::Payload(_)) {
                        check!(
                            deps.secrets.reads() == 0,
                            "secret read for an invalid payload"
                        );
                    }
                }
            }
            bounded_writes(&deps.store).await
        })
    });
}

#[test]
fn adversarial_terminate() {
    run("terminate", &payload(step(scale_response())), |rt, p| {
        rt.block_on(async {
            let deps = terminate::Deps {
                groups: groups(),
                store: store(),
                clock: FakeClock::at(now()),
                config: terminate_config(
                    ASG,
                    Some(NFS_ASG),
                    TerminatePolicy::default(),
                    lifecycle(),
                ),
            };
            if let Err(e) = terminate::handle(&deps, p.clone(), invocation(now())).await {
                expected_class("terminate", e.class(), &format!("{e} for {}", short(&p)))?;
            }
            let members: Vec<String> = (0..6).map(member).collect();
            for call in deps.groups.calls() {
                let ids = match &call {
                    ScalingCall::Terminate { ids } | ScalingCall::Detach { ids, .. } => ids.clone(),
                    ScalingCall::AllowTermination { id } => vec![id.clone()],
                    _ => vec![],
                };
                check!(
                    ids.iter().all(|id| members.contains(id)),
                    "terminate acted on an instance outside its groups: {call:?}"
                );
            }
            bounded_writes(&deps.store).await
        })
    });
}

#[test]
fn adversarial_transient() {
    run("transient", &payload(terminated_instances()), |rt, p| {
        rt.block_on(async {
            if let Err(e) = transient::handle(p.clone()).await {
                // Failing with the errors it carries is the step's job.
                if !matches!(e, transient::TransientError::Carried(_)) {
                    expected_class("transient", e.class(), &format!("{e} for {}", short(&p)))?;
                }
            }
            Ok(())
        })
    });
}
