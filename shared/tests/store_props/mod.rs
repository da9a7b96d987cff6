//! Store round-trip properties of the `StateStore` port, for any implementation (the in-memory
//! fake in `handlers.rs`, the DynamoDB adapter on moto in the `emulator` binary): every value a
//! write accepts reads back unchanged (cluster state with registrations, claim and finalization;
//! report rings; lifecycle records with times at the representable edges; notes; leases), a
//! write carrying a time the store could not read back is refused and stores nothing, and one
//! undecodable item never fails a read of its partition.
//!
//! Times are generated at the store's resolution, the millisecond (DynamoDB items hold
//! fixed-width RFC 3339 times with milliseconds, so they compare correctly as strings).
//! `PROPTEST_CASES` scales every count (proptest's own default, 256, is a factor of one).

#![allow(dead_code, unreachable_pub)]

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;
use weka_shared::domain::lifecycle::{
    LifecycleDecision, LifecycleKey, LifecyclePhase, LifecycleRecord, LifecycleResult,
    NewLifecycleAction,
};
use weka_shared::domain::report::{Report, ReportKind};
use weka_shared::domain::state::{ClusterState, Group, Registration};
use weka_shared::ports::{Acting, LeaseClaim, LeaseOutcome, NewReport, StateStore};
use weka_shared::wire::bootstrap::{Protocol, Vm};
use weka_shared::wire::events::Transition;

/// `default` cases, scaled by `PROPTEST_CASES / 256` when that is set.
pub fn scaled_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(default, |n| {
            u32::try_from((u64::from(default) * n / 256).max(1)).unwrap_or(u32::MAX)
        })
}

/// What a property needs from one store implementation.
pub trait Fixture {
    /// The store under test.
    type Store: StateStore;
    /// A store with fresh partitions: a backend state of `size`, an NFS state of 2, nothing
    /// else.
    fn fresh(&self, size: u32) -> impl Future<Output = Self::Store>;
    /// Writes one item into the lifecycle partition that the store cannot decode.
    fn corrupt_lifecycle(&self, store: &Self::Store) -> impl Future<Output = ()>;
    /// Writes one item into `group`'s report partition that the store cannot decode.
    fn corrupt_report(&self, store: &Self::Store, group: Group) -> impl Future<Output = ()>;
}

// ---------------------------------------------------------------------------------------------
// Generators

/// The earliest and latest instants the store represents (years 0000 and 9999), in ms.
pub const MIN_MS: i64 = -62_167_219_200_000;
/// See [`MIN_MS`].
pub const MAX_MS: i64 = 253_402_300_799_999;

fn at_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("in chrono's range")
}

/// A representable time at millisecond resolution, often at an edge.
pub fn arb_time() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        2 => Just(MIN_MS),
        2 => Just(MAX_MS),
        1 => Just(0_i64),
        1 => MIN_MS..MIN_MS + 86_400_000,
        1 => MAX_MS - 86_400_000..=MAX_MS,
        6 => 1_600_000_000_000_i64..1_900_000_000_000,
        3 => MIN_MS..=MAX_MS,
    ]
    .prop_map(at_ms)
}

/// A time outside the representable years (before 0000 or after 9999), within chrono's range.
pub fn arb_bad_time() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        Just(MAX_MS + 1),
        Just(MIN_MS - 1),
        // `+10000-01-01T00:00:00Z`, the review's payload.
        Just(253_402_300_800_000_i64),
        (MAX_MS + 1..8_000_000_000_000_000_i64),
        (-8_000_000_000_000_000_i64..MIN_MS),
    ]
    .prop_map(at_ms)
}

const PLAIN: &[char] = &[
    'a', 'b', 'c', 'i', 'p', 'x', 'z', '0', '1', '9', '.', '-', '_',
];

/// Hostile text: empty, unicode, control characters, quotes, shell and path fragments.
pub fn arb_text(max_chars: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::collection::vec(prop::sample::select(PLAIN), 1..8)
            .prop_map(|c| c.into_iter().collect::<String>()),
        2 => prop::collection::vec(any::<char>(), 1..6)
            .prop_map(|c| c.into_iter().collect::<String>()),
        1 => prop::sample::select(vec![
            "\0", "\n", "\r\n", "\t", "\u{7f}", "\u{202e}", "\u{feff}", "\u{10ffff}", "é", "日本",
            "😀", "\"", "'", "\\", "$(id)", "`x`", "${X}", ";rm -rf /", "../../etc/passwd", "%00",
            "#", "@@X@@", ":", " ",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..max_chars.max(1)).prop_map(move |parts| {
        let s: String = parts.concat();
        s.chars().take(max_chars).collect()
    })
}

/// Non-empty text (DynamoDB refuses empty key attributes).
pub fn arb_key_text(max_chars: usize) -> impl Strategy<Value = String> {
    arb_text(max_chars).prop_map(|s| if s.is_empty() { "k".to_owned() } else { s })
}

fn arb_protocol() -> impl Strategy<Value = Protocol> {
    prop::sample::select(vec![
        Protocol::Backend,
        Protocol::Nfs,
        Protocol::Smb,
        Protocol::Smbw,
        Protocol::S3,
        Protocol::Data,
    ])
}

fn arb_vm() -> impl Strategy<Value = Vm> {
    (
        prop_oneof![
            2 => (0_u32..6).prop_map(|i| format!("i-{i:017x}")),
            1 => arb_text(40),
        ],
        arb_protocol(),
        arb_text(64),
        arb_text(16),
    )
        .prop_map(|(name, protocol, container_uid, nic_name)| Vm {
            name,
            protocol,
            container_uid,
            nic_name,
        })
}

fn arb_kind() -> impl Strategy<Value = ReportKind> {
    prop::sample::select(vec![
        ReportKind::Progress,
        ReportKind::Error,
        ReportKind::Debug,
    ])
}

fn arb_result() -> impl Strategy<Value = LifecycleResult> {
    prop::sample::select(vec![LifecycleResult::Continue, LifecycleResult::Abandon])
}

fn arb_transition() -> impl Strategy<Value = Transition> {
    prop::sample::select(vec![Transition::Launch, Transition::Terminate])
}

/// A JSON document: numbers at the edges, hostile strings, nesting.
pub fn arb_json(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![
            0.0,
            -0.0,
            0.1,
            1e308,
            -1e308,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            f64::EPSILON,
            1.0 / 3.0,
        ])
        .prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        arb_text(24).prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(arb_text(10), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One lifecycle action with what happens to it after it is recorded.
#[derive(Debug, Clone)]
pub struct LifecycleCase {
    action: NewLifecycleAction,
    heartbeat: Option<DateTime<Utc>>,
    decision: Option<(LifecycleResult, String, DateTime<Utc>)>,
    close: Option<(Option<LifecycleResult>, String, DateTime<Utc>)>,
}

fn arb_lifecycle() -> impl Strategy<Value = LifecycleCase> {
    (
        (
            arb_key_text(30),
            arb_transition(),
            arb_text(30),
            arb_text(30),
            prop::option::of(arb_text(60)),
            arb_time(),
            prop::option::of(arb_text(20)),
        ),
        prop::option::of(arb_time()),
        prop::option::of((arb_result(), arb_text(80), arb_time())),
        prop::option::of((prop::option::of(arb_result()), arb_text(80), arb_time())),
    )
        .prop_map(
            |((instance_id, transition, group, hook, token, started_at, ip), hb, d, c)| {
                LifecycleCase {
                    action: NewLifecycleAction {
                        key: LifecycleKey {
                            instance_id,
                            transition,
                        },
                        group,
                        hook,
                        token,
                        started_at,
                        private_ip: ip,
                    },
                    heartbeat: hb,
                    decision: d,
                    close: c,
                }
            },
        )
}

/// Everything one round-trip case writes.
#[derive(Debug, Clone)]
pub struct StoreCase {
    size: u32,
    vms: Vec<Vm>,
    claim: Option<(usize, DateTime<Utc>)>,
    finalize: Option<DateTime<Utc>>,
    per_host: u32,
    reports: Vec<(usize, Group, ReportKind, String, DateTime<Utc>)>,
    hosts: Vec<String>,
    lease: (String, String, String, DateTime<Utc>, u64),
    notes: Vec<(String, Value)>,
    lifecycle: Vec<LifecycleCase>,
}

pub fn arb_case() -> impl Strategy<Value = StoreCase> {
    (
        (
            1_u32..6,
            prop::collection::vec(arb_vm(), 0..8),
            prop::option::of((0_usize..8, arb_time())),
            prop::option::of(arb_time()),
        ),
        (
            1_u32..5,
            prop::collection::vec(
                (
                    0_usize..3,
                    prop::sample::select(vec![Group::Backend, Group::Nfs]),
                    arb_kind(),
                    arb_text(200),
                    arb_time(),
                ),
                0..10,
            ),
            prop::collection::vec(arb_text(60), 3),
        ),
        (
            arb_key_text(40),
            arb_key_text(60),
            arb_key_text(60),
            arb_time(),
            1_u64..86_400_000,
        ),
        prop::collection::vec((arb_key_text(30), arb_json(4)), 0..3),
        prop::collection::vec(arb_lifecycle(), 0..5),
    )
        .prop_map(
            |(
                (size, vms, claim, finalize),
                (per_host, reports, hosts),
                lease,
                notes,
                lifecycle,
            )| StoreCase {
                size,
                vms,
                claim,
                finalize,
                per_host,
                reports,
                hosts,
                lease,
                notes,
                lifecycle,
            },
        )
}

/// A write that carries a time the store cannot read back.
#[derive(Debug, Clone)]
pub enum BadWrite {
    Record(LifecycleCase),
    Report(String, DateTime<Utc>),
    Decide(LifecycleCase, DateTime<Utc>),
    Close(LifecycleCase, DateTime<Utc>),
    Heartbeat(LifecycleCase, DateTime<Utc>),
    Claim(DateTime<Utc>),
    Finalize(DateTime<Utc>),
}

pub fn arb_bad_write() -> impl Strategy<Value = BadWrite> {
    let lc = || arb_lifecycle();
    prop_oneof![
        (lc(), arb_bad_time()).prop_map(|(mut c, t)| {
            c.action.started_at = t;
            BadWrite::Record(c)
        }),
        (arb_text(40), arb_bad_time()).prop_map(|(h, t)| BadWrite::Report(h, t)),
        (lc(), arb_bad_time()).prop_map(|(c, t)| BadWrite::Decide(c, t)),
        (lc(), arb_bad_time()).prop_map(|(c, t)| BadWrite::Close(c, t)),
        (lc(), arb_bad_time()).prop_map(|(c, t)| BadWrite::Heartbeat(c, t)),
        arb_bad_time().prop_map(BadWrite::Claim),
        arb_bad_time().prop_map(BadWrite::Finalize),
    ]
}

// ---------------------------------------------------------------------------------------------
// Properties

macro_rules! check {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($fmt)*)));
        }
    };
}

macro_rules! ok {
    ($e:expr) => {
        $e.map_err(|e| TestCaseError::fail(format!("{}: {e:?}", stringify!($e))))?
    };
}

/// The lifecycle record the store must hold after `case` (each write accepted).
fn expected_record(case: &LifecycleCase) -> LifecycleRecord {
    let a = &case.action;
    let mut r = LifecycleRecord {
        key: a.key.clone(),
        group: a.group.clone(),
        hook: a.hook.clone(),
        token: a.token.clone(),
        started_at: a.started_at,
        private_ip: a.private_ip.clone(),
        last_heartbeat_at: None,
        phase: LifecyclePhase::Waiting,
        result: None,
        reason: None,
        decided_at: None,
        completed_at: None,
    };
    if let Some(hb) = case.heartbeat {
        r.last_heartbeat_at = Some(hb);
    }
    if let Some((result, reason, at)) = &case.decision {
        r.phase = LifecyclePhase::Decided;
        r.result = Some(*result);
        r.reason = Some(reason.clone());
        r.decided_at = Some(*at);
    }
    if let Some((result, reason, at)) = &case.close {
        r.phase = LifecyclePhase::Completed;
        r.result = result.or(r.result);
        r.reason = Some(reason.clone());
        r.completed_at = Some(*at);
    }
    r
}

async fn write_lifecycle<S: StateStore>(
    store: &S,
    case: &LifecycleCase,
) -> Result<(), TestCaseError> {
    ok!(store.record_lifecycle_action(&case.action).await);
    if let Some(hb) = case.heartbeat {
        let took = ok!(store
            .claim_lifecycle_heartbeat(&case.action.key, hb, Duration::from_secs(60))
            .await);
        check!(took, "first heartbeat of a waiting action not taken");
    }
    if let Some((result, reason, at)) = &case.decision {
        let decided = ok!(store
            .decide_lifecycle_action(&LifecycleDecision {
                key: case.action.key.clone(),
                group: case.action.group.clone(),
                hook: case.action.hook.clone(),
                result: *result,
                reason: reason.clone(),
                at: *at,
            })
            .await);
        check!(decided, "a waiting action was not decided");
    }
    if let Some((result, reason, at)) = &case.close {
        let closed = ok!(store
            .close_lifecycle_action(&case.action.key, *result, reason, *at)
            .await);
        check!(closed, "an open action was not closed");
    }
    Ok(())
}

/// Whether a store's registration answer is the model's: the same refusal, or registered with
/// the same target and the same completer. The position beyond that is a progress figure whose
/// exactness depends on the store (see `Registration::Registered`).
fn same_outcome(answer: &Registration, expected: &Registration) -> bool {
    match (answer, expected) {
        (
            Registration::Registered { target, .. },
            Registration::Registered {
                target: expected_target,
                ..
            },
        ) => target == expected_target && answer.completes_set() == expected.completes_set(),
        _ => answer == expected,
    }
}

/// Writes `case` and reads everything back.
pub async fn round_trip<F: Fixture>(fixture: &F, case: StoreCase) -> Result<(), TestCaseError> {
    let store = fixture.fresh(case.size).await;

    // Cluster state: the store's answers and document equal the domain model's.
    let mut model = ClusterState::new(case.size);
    for vm in &case.vms {
        let answer = ok!(store.register(Group::Backend, vm).await);
        let (expected, _) = model.register(vm);
        check!(
            same_outcome(&answer, &expected),
            "register {vm:?}: {answer:?} != {expected:?}"
        );
    }
    if let Some((i, now)) = case.claim {
        let instance = case
            .vms
            .get(i)
            .map_or_else(|| "i-nobody".to_owned(), |vm| vm.name.clone());
        let stale = Duration::from_secs(600);
        let answer = ok!(store
            .claim_clusterization(Group::Backend, &instance, now, stale)
            .await);
        let expected = model.claim(&instance, now, stale);
        check!(answer == expected, "claim: {answer:?} != {expected:?}");
    }
    if let Some(now) = case.finalize {
        let state = ok!(store.finalize(Group::Backend, now).await);
        model.finalize(now);
        check!(state == model, "finalize answer {state:?} != {model:?}");
    }
    let loaded = ok!(store.load(Group::Backend).await);
    check!(loaded == model, "state read back {loaded:?} != {model:?}");
    let nfs = ok!(store.load(Group::Nfs).await);
    check!(
        nfs == ClusterState::new(2),
        "the NFS state changed: {nfs:?}"
    );

    // Reports: per host, the last `per_host` in sequence order.
    let mut expected: BTreeMap<(Group, String), Vec<Report>> = BTreeMap::new();
    for (h, group, kind, message, at) in &case.reports {
        let host = &case.hosts[*h];
        let seq = ok!(store
            .next_report_seq(*group, host, "2026-12", u32::MAX)
            .await)
        .expect("no limit");
        let report = NewReport {
            host: host.clone(),
            kind: *kind,
            message: message.clone(),
            at: *at,
        };
        ok!(store
            .put_report(
                *group,
                seq,
                &report,
                case.per_host,
                Duration::from_secs(86_400)
            )
            .await);
        let ring = expected.entry((*group, host.clone())).or_default();
        check!(
            ring.last().is_none_or(|r| r.seq < seq),
            "sequence numbers of {host:?} not increasing"
        );
        ring.push(Report {
            host: host.clone(),
            seq,
            at: *at,
            kind: *kind,
            message: message.clone(),
        });
    }
    for group in [Group::Backend, Group::Nfs] {
        let mut want: Vec<Report> = expected
            .iter()
            .filter(|((g, _), _)| *g == group)
            .flat_map(|(_, ring)| {
                let keep = ring.len().saturating_sub(case.per_host as usize);
                ring[keep..].to_vec()
            })
            .collect();
        want.sort_by(|a, b| a.host.cmp(&b.host).then(a.seq.cmp(&b.seq)));
        let got = ok!(store.reports(group).await);
        check!(
            got == want,
            "{group:?} reports read back {got:?} != {want:?}"
        );
    }

    // Lease: the holder and its acting invocation read back as written; another owner is
    // refused, and so is a second invocation of the holder until the first ends its turn;
    // release frees it.
    let (name, owner, other, now, ttl_ms) = &case.lease;
    let ttl = Duration::from_millis(*ttl_ms);
    let acting = |invocation: &str| Acting {
        invocation: invocation.to_owned(),
        until: *now + TimeDelta::seconds(1),
    };
    let claim = |invocation: &str| LeaseClaim {
        owner: owner.clone(),
        acting: Some(acting(invocation)),
    };
    let lease = match ok!(store.acquire_lease(name, &claim("inv-1"), *now, ttl).await) {
        LeaseOutcome::Acquired(l) => l,
        held @ LeaseOutcome::Held(_) => {
            return Err(TestCaseError::fail(format!("free lease refused: {held:?}")));
        }
    };
    let until = (*now + TimeDelta::milliseconds(i64::try_from(*ttl_ms).unwrap()))
        .max(acting("inv-1").until);
    check!(
        lease.owner == *owner
            && lease.name == *name
            && lease.expires_at == until
            && lease.acting == Some(acting("inv-1")),
        "acquired {lease:?}"
    );
    if other != owner {
        let answer = ok!(store
            .acquire_lease(name, &other.as_str().into(), *now, ttl)
            .await);
        check!(
            answer == LeaseOutcome::Held(lease.clone()),
            "lease read back {answer:?} != held {lease:?}"
        );
        check!(
            !ok!(store.release_lease(name, other).await),
            "a non-holder released"
        );
    }
    let retried = ok!(store.acquire_lease(name, &claim("inv-2"), *now, ttl).await);
    check!(
        retried == LeaseOutcome::Held(lease.clone()),
        "a second invocation took the lease while the first acts: {retried:?}"
    );
    check!(
        !ok!(store.end_acting(name, owner, "inv-2").await),
        "an invocation not acting ended the turn"
    );
    check!(
        ok!(store.end_acting(name, owner, "inv-1").await),
        "the acting invocation could not end its turn"
    );
    let next = ok!(store.acquire_lease(name, &claim("inv-2"), *now, ttl).await);
    check!(
        matches!(&next, LeaseOutcome::Acquired(l) if l.acting == Some(acting("inv-2"))),
        "the next step was refused after the turn ended: {next:?}"
    );
    check!(
        ok!(store.release_lease(name, owner).await),
        "the holder could not release"
    );

    // Notes: last writer wins, the body reads back unchanged.
    let mut notes: BTreeMap<&str, &Value> = BTreeMap::new();
    for (name, body) in &case.notes {
        // A body that JSON text would not carry back unchanged is refused, not stored.
        if store.put_note(name, body).await.is_ok() {
            notes.insert(name, body);
        }
    }
    for (name, body) in notes {
        let got = ok!(store.note(name).await);
        check!(
            got.as_ref() == Some(body),
            "note {name:?} read back {got:?} != {body}"
        );
    }

    // Lifecycle records: every field, at every phase.
    let mut want: BTreeMap<LifecycleKey, LifecycleRecord> = BTreeMap::new();
    for lc in &case.lifecycle {
        if want.contains_key(&lc.action.key) {
            continue;
        }
        write_lifecycle(&store, lc).await?;
        want.insert(lc.action.key.clone(), expected_record(lc));
    }
    let want: Vec<LifecycleRecord> = want.into_values().collect();
    let got = ok!(store.lifecycle_actions().await);
    check!(got == want, "lifecycle read back {got:#?} != {want:#?}");

    // One undecodable item per partition: every read still answers, and with the same items.
    fixture.corrupt_lifecycle(&store).await;
    let after = ok!(store.lifecycle_actions().await);
    check!(after == want, "a corrupt item changed the lifecycle read");
    for group in [Group::Backend, Group::Nfs] {
        let before = ok!(store.reports(group).await);
        fixture.corrupt_report(&store, group).await;
        let after = ok!(store.reports(group).await);
        check!(
            after == before,
            "a corrupt item changed the {group:?} reports"
        );
    }
    Ok(())
}

/// A write with an unrepresentable time is refused and leaves every read as it was.
pub async fn refused<F: Fixture>(fixture: &F, write: BadWrite) -> Result<(), TestCaseError> {
    let store = fixture.fresh(1).await;
    ok!(store
        .register(
            Group::Backend,
            &Vm {
                name: "i-0".to_owned(),
                ..Vm::default()
            }
        )
        .await);
    // An open action to decide, close or heartbeat.
    let open = |c: &LifecycleCase| {
        let mut a = c.action.clone();
        a.started_at = at_ms(1_700_000_000_000);
        a
    };
    match &write {
        BadWrite::Decide(c, _) | BadWrite::Close(c, _) | BadWrite::Heartbeat(c, _) => {
            ok!(store.record_lifecycle_action(&open(c)).await);
        }
        _ => {}
    }
    let state = ok!(store.load(Group::Backend).await);
    let lifecycle = ok!(store.lifecycle_actions().await);
    let reports = ok!(store.reports(Group::Backend).await);
    let result = match &write {
        BadWrite::Record(c) => store.record_lifecycle_action(&c.action).await.map(|_| ()),
        BadWrite::Report(host, at) => {
            let seq = ok!(store
                .next_report_seq(Group::Backend, host, "2026-12", u32::MAX)
                .await)
            .expect("no limit");
            let report = NewReport {
                host: host.clone(),
                kind: ReportKind::Progress,
                message: "m".to_owned(),
                at: *at,
            };
            store
                .put_report(Group::Backend, seq, &report, 3, Duration::from_secs(60))
                .await
        }
        BadWrite::Decide(c, at) => store
            .decide_lifecycle_action(&LifecycleDecision {
                key: c.action.key.clone(),
                group: c.action.group.clone(),
                hook: c.action.hook.clone(),
                result: LifecycleResult::Continue,
                reason: "r".to_owned(),
                at: *at,
            })
            .await
            .map(|_| ()),
        BadWrite::Close(c, at) => store
            .close_lifecycle_action(&c.action.key, None, "r", *at)
            .await
            .map(|_| ()),
        BadWrite::Heartbeat(c, at) => store
            .claim_lifecycle_heartbeat(&c.action.key, *at, Duration::from_secs(60))
            .await
            .map(|_| ()),
        BadWrite::Claim(at) => store
            .claim_clusterization(Group::Backend, "i-0", *at, Duration::from_secs(60))
            .await
            .map(|_| ()),
        BadWrite::Finalize(at) => store.finalize(Group::Backend, *at).await.map(|_| ()),
    };
    check!(result.is_err(), "{write:?} was accepted");
    let state_after = ok!(store.load(Group::Backend).await);
    check!(state_after == state, "a refused write changed the state");
    let lifecycle_after = ok!(store.lifecycle_actions().await);
    check!(
        lifecycle_after == lifecycle,
        "a refused write changed the lifecycle records"
    );
    let reports_after = ok!(store.reports(Group::Backend).await);
    check!(
        reports_after == reports,
        "a refused write changed the reports"
    );
    Ok(())
}

/// Runs `round_trip` for `cases` generated cases and `refused` for as many, each case on
/// `rt`.
pub fn run_all<F: Fixture>(rt: &tokio::runtime::Runtime, fixture: &F, cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&arb_case(), |case| rt.block_on(round_trip(fixture, case)))
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&arb_bad_write(), |write| {
            rt.block_on(refused(fixture, write))
        })
        .unwrap();
}
