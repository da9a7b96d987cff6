//! The control plane's CloudWatch metrics: their names and units (named once here; the
//! Terraform alarms and dashboard are checked against these in `shared/tests/infra.rs`), what
//! each run measures, and the embedded metric format (EMF) document that carries them: one JSON
//! object per log line, namespace [`NAMESPACE`], one dimension [`CLUSTER_DIMENSION`].
//! [`validate_emf`] checks a document against the format's rules (AWS "Specification: Embedded
//! metric format"). Pure: the caller passes the time; writing the line is `ports::metrics`.

use crate::domain::lifecycle::LifecycleRecord;
use crate::weka::model::{DriveStatus, HostState, HostStatus, HostsList};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The CloudWatch namespace of every metric here.
pub const NAMESPACE: &str = "WEKA/ControlPlane";
/// The one dimension: the cluster's name (`CLUSTER_NAME`).
pub const CLUSTER_DIMENSION: &str = "Cluster";
/// EMF: at most this many metrics per directive.
pub const MAX_METRICS: usize = 100;
/// EMF: at most this many dimensions per dimension set.
pub const MAX_DIMENSIONS: usize = 30;

/// A CloudWatch unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// Seconds.
    Seconds,
}

impl Unit {
    /// The CloudWatch name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Seconds => "Seconds",
        }
    }
}

/// A metric: its CloudWatch name and unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// Metric name.
    pub name: &'static str,
    /// Unit.
    pub unit: Unit,
}

const fn count(name: &'static str) -> Metric {
    Metric {
        name,
        unit: Unit::Count,
    }
}

const fn seconds(name: &'static str) -> Metric {
    Metric {
        name,
        unit: Unit::Seconds,
    }
}

/// scale-fetch, scale-down: 1 when another execution held the scale lease, else 0.
pub const LEASE_HELD: Metric = count("LeaseHeld");
/// scale-down: machines whose backend containers are all ACTIVE and none DOWN.
pub const BACKENDS_ACTIVE: Metric = count("BackendsActive");
/// scale-down: machines with a backend container WEKA reports DOWN.
pub const BACKENDS_DOWN: Metric = count("BackendsDown");
/// scale-down: machines (not DOWN) with a container DEACTIVATING, REMOVING or INACTIVE.
pub const BACKENDS_DEACTIVATING: Metric = count("BackendsDeactivating");
/// scale-down: drives whose status is not ACTIVE.
pub const DRIVES_INACTIVE: Metric = count("DrivesInactive");
/// scale-down: 1 when the safety floor refused part of the plan, else 0.
pub const FLOOR_REFUSALS: Metric = count("FloorRefusals");
/// scale-down: machines the plan deactivates this run.
pub const DEACTIVATIONS: Metric = count("Deactivations");
/// scale-down: machines the plan removes from WEKA this run.
pub const REMOVALS: Metric = count("Removals");
/// scale-down: launch lifecycle actions waiting (confirmed by Auto Scaling).
pub const LAUNCH_WAITS: Metric = count("LaunchWaits");
/// scale-down: terminate lifecycle actions waiting (confirmed by Auto Scaling).
pub const TERMINATE_WAITS: Metric = count("TerminateWaits");
/// scale-down: the longest a waiting launch has gone without its hook's timer restarting
/// (start or last heartbeat): compare with `launch_heartbeat_timeout`.
pub const OLDEST_LAUNCH_WAIT_AGE: Metric = seconds("OldestLaunchWaitAge");
/// scale-down: the age of the oldest waiting terminate action.
pub const OLDEST_TERMINATE_WAIT_AGE: Metric = seconds("OldestTerminateWaitAge");
/// terminate: instances terminated this run.
pub const TERMINATIONS: Metric = count("Terminations");
/// terminate: unhealthy instances planned for detaching this run.
pub const DETACHES: Metric = count("Detaches");
/// clusterize: 1 per backend registration taken.
pub const REGISTRATIONS: Metric = count("Registrations");
/// clusterize: 1 per registration refused (set complete or cluster formed).
pub const REGISTRATIONS_REFUSED: Metric = count("RegistrationsRefused");
/// clusterize: 1 when this call claimed the clusterization (the completer, or a takeover).
pub const CLUSTERIZATIONS_STARTED: Metric = count("ClusterizationsStarted");
/// clusterize: 1 when the claim was taken over from a stale clusterizer.
pub const CLUSTERIZATION_TAKEOVERS: Metric = count("ClusterizationTakeovers");
/// report: 1 per error report stored.
pub const ERROR_REPORTS: Metric = count("ErrorReports");

/// Every metric, for the cross-checks with the Terraform module and the docs.
pub const ALL: [Metric; 19] = [
    LEASE_HELD,
    BACKENDS_ACTIVE,
    BACKENDS_DOWN,
    BACKENDS_DEACTIVATING,
    DRIVES_INACTIVE,
    FLOOR_REFUSALS,
    DEACTIVATIONS,
    REMOVALS,
    LAUNCH_WAITS,
    TERMINATE_WAITS,
    OLDEST_LAUNCH_WAIT_AGE,
    OLDEST_TERMINATE_WAIT_AGE,
    TERMINATIONS,
    DETACHES,
    REGISTRATIONS,
    REGISTRATIONS_REFUSED,
    CLUSTERIZATIONS_STARTED,
    CLUSTERIZATION_TAKEOVERS,
    ERROR_REPORTS,
];

/// One value of one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The metric.
    pub metric: Metric,
    /// Its value.
    pub value: f64,
}

impl Sample {
    /// A sample of a count.
    pub fn count(metric: Metric, value: usize) -> Self {
        #[allow(clippy::cast_precision_loss)] // counts stay far below 2^52
        let value = value as f64;
        Self { metric, value }
    }

    /// A 0/1 sample.
    pub fn flag(metric: Metric, on: bool) -> Self {
        Self::count(metric, usize::from(on))
    }
}

/// What one scale-down run measured; a field left `None` was not measured this run (the
/// run stopped before) and is left out of the document, so alarms see missing data, not 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScaleDownMetrics {
    /// Whether another execution held the lease.
    pub lease_held: bool,
    /// Backends by state, and inactive drives.
    pub cluster: Option<BackendCounts>,
    /// Lifecycle waits.
    pub waits: Option<LifecycleWaits>,
    /// Whether the floor refused part of the plan.
    pub floor_refused: Option<bool>,
    /// Planned deactivations and removals.
    pub decisions: Option<(usize, usize)>,
}

impl ScaleDownMetrics {
    /// The samples to emit.
    pub fn samples(&self) -> Vec<Sample> {
        let mut out = vec![Sample::flag(LEASE_HELD, self.lease_held)];
        if let Some(c) = &self.cluster {
            out.extend([
                Sample::count(BACKENDS_ACTIVE, c.active),
                Sample::count(BACKENDS_DOWN, c.down),
                Sample::count(BACKENDS_DEACTIVATING, c.deactivating),
                Sample::count(DRIVES_INACTIVE, c.drives_inactive),
            ]);
        }
        if let Some(w) = &self.waits {
            out.extend([
                Sample::count(LAUNCH_WAITS, w.launches),
                Sample::count(TERMINATE_WAITS, w.terminations),
                Sample {
                    metric: OLDEST_LAUNCH_WAIT_AGE,
                    value: w.oldest_launch_secs,
                },
                Sample {
                    metric: OLDEST_TERMINATE_WAIT_AGE,
                    value: w.oldest_terminate_secs,
                },
            ]);
        }
        if let Some(refused) = self.floor_refused {
            out.push(Sample::flag(FLOOR_REFUSALS, refused));
        }
        if let Some((deactivations, removals)) = self.decisions {
            out.extend([
                Sample::count(DEACTIVATIONS, deactivations),
                Sample::count(REMOVALS, removals),
            ]);
        }
        out
    }
}

/// Backend machines by state (client containers ignored) and inactive drives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackendCounts {
    /// All backend containers ACTIVE, none DOWN.
    pub active: usize,
    /// A backend container DOWN.
    pub down: usize,
    /// Not DOWN, a container leaving (DEACTIVATING, REMOVING or INACTIVE).
    pub deactivating: usize,
    /// Drives not ACTIVE.
    pub drives_inactive: usize,
}

impl BackendCounts {
    /// Counts the machines of `hosts` (by IP) and the drives not ACTIVE.
    pub fn of<'a>(hosts: &HostsList, drives: impl IntoIterator<Item = &'a DriveStatus>) -> Self {
        let mut machines: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
        for host in hosts.values().filter(|h| !h.is_client()) {
            let (down, leaving) = machines.entry(host.host_ip.as_str()).or_default();
            *down |= host.status == HostStatus::Down;
            *leaving |= host.state != HostState::Active;
        }
        let mut counts = Self {
            drives_inactive: drives
                .into_iter()
                .filter(|s| **s != DriveStatus::Active)
                .count(),
            ..Self::default()
        };
        for (down, leaving) in machines.into_values() {
            match (down, leaving) {
                (true, _) => counts.down += 1,
                (false, true) => counts.deactivating += 1,
                (false, false) => counts.active += 1,
            }
        }
        counts
    }
}

/// Waiting lifecycle actions and how long the oldest have waited.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LifecycleWaits {
    /// Waiting launches.
    pub launches: usize,
    /// Waiting terminations.
    pub terminations: usize,
    /// Seconds since the oldest waiting launch's timer restarted (0 when none).
    pub oldest_launch_secs: f64,
    /// Seconds since the oldest waiting termination started (0 when none).
    pub oldest_terminate_secs: f64,
}

impl LifecycleWaits {
    /// From the waiting records of both hooks, at `now`.
    pub fn of(
        joining: &[LifecycleRecord],
        leaving: &[LifecycleRecord],
        now: DateTime<Utc>,
    ) -> Self {
        let age = |since: DateTime<Utc>| {
            #[allow(clippy::cast_precision_loss)] // seconds stay far below 2^52
            let secs = (now - since).num_seconds().max(0) as f64;
            secs
        };
        let oldest = |ages: &mut dyn Iterator<Item = f64>| ages.fold(0.0_f64, f64::max);
        Self {
            launches: joining.len(),
            terminations: leaving.len(),
            oldest_launch_secs: oldest(&mut joining.iter().map(|r| {
                age(r
                    .last_heartbeat_at
                    .unwrap_or(r.started_at)
                    .max(r.started_at))
            })),
            oldest_terminate_secs: oldest(&mut leaving.iter().map(|r| age(r.started_at))),
        }
    }
}

/// A terminate run's samples.
pub fn terminate_samples(terminations: usize, detaches: usize) -> Vec<Sample> {
    vec![
        Sample::count(TERMINATIONS, terminations),
        Sample::count(DETACHES, detaches),
    ]
}

/// Why a document is not valid EMF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmfError {
    /// A required member is missing or of the wrong type.
    #[error("emf member {0} is missing or has the wrong type")]
    Member(String),
    /// A metric named in a directive has no numeric value at the root.
    #[error("emf metric {0} has no numeric value at the root")]
    MetricValue(String),
    /// A dimension named in a directive has no string value at the root.
    #[error("emf dimension {0} has no string value at the root")]
    DimensionValue(String),
    /// A limit of the format is exceeded.
    #[error("emf limit exceeded: {0}")]
    Limit(String),
}

/// The EMF document carrying `samples` for `cluster` at `at`.
pub fn emf_document(cluster: &str, at: DateTime<Utc>, samples: &[Sample]) -> Value {
    let definitions: Vec<Value> = samples
        .iter()
        .map(|s| json!({ "Name": s.metric.name, "Unit": s.metric.unit.as_str() }))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[CLUSTER_DIMENSION]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert(CLUSTER_DIMENSION.to_owned(), Value::from(cluster));
    for sample in samples {
        root.insert(sample.metric.name.to_owned(), json!(sample.value));
    }
    Value::Object(root)
}

/// Checks `doc` against the EMF rules: `_aws` with a millisecond `Timestamp` and a non-empty
/// `CloudWatchMetrics` of directives (a `Namespace`, `Dimensions` as arrays of at most
/// [`MAX_DIMENSIONS`] names, at most [`MAX_METRICS`] `Metrics` with a `Name` and a known
/// `Unit`); every dimension a string and every metric a number (or array of numbers) at the
/// root.
pub fn validate_emf(doc: &Value) -> Result<(), EmfError> {
    let member = |what: &str| EmfError::Member(what.to_owned());
    let root = doc.as_object().ok_or_else(|| member("root"))?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or_else(|| member("_aws"))?;
    let timestamp = aws
        .get("Timestamp")
        .and_then(Value::as_i64)
        .ok_or_else(|| member("_aws.Timestamp"))?;
    // Seconds would read as 1970: a millisecond timestamp of this century has 13 digits.
    if !(1_000_000_000_000..10_000_000_000_000).contains(&timestamp) {
        return Err(member("_aws.Timestamp (milliseconds)"));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| member("_aws.CloudWatchMetrics"))?;
    for directive in directives {
        directive
            .get("Namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| member("Namespace"))?;
        let sets = directive
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or_else(|| member("Dimensions"))?;
        for set in sets {
            let names = set.as_array().ok_or_else(|| member("Dimensions[]"))?;
            if names.len() > MAX_DIMENSIONS {
                return Err(EmfError::Limit(format!(
                    "{} dimensions in a set (at most {MAX_DIMENSIONS})",
                    names.len()
                )));
            }
            for name in names {
                let name = name.as_str().ok_or_else(|| member("Dimensions[][]"))?;
                if !root.get(name).is_some_and(Value::is_string) {
                    return Err(EmfError::DimensionValue(name.to_owned()));
                }
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or_else(|| member("Metrics"))?;
        if metrics.len() > MAX_METRICS {
            return Err(EmfError::Limit(format!(
                "{} metrics in a directive (at most {MAX_METRICS})",
                metrics.len()
            )));
        }
        for definition in metrics {
            let name = definition
                .get("Name")
                .and_then(Value::as_str)
                .ok_or_else(|| member("Metrics[].Name"))?;
            if let Some(unit) = definition.get("Unit") {
                let known = unit.as_str().is_some_and(|u| UNITS.contains(&u));
                if !known {
                    return Err(member(&format!("Metrics[{name}].Unit")));
                }
            }
            let numeric = match root.get(name) {
                Some(Value::Number(_)) => true,
                Some(Value::Array(values)) => {
                    !values.is_empty()
                        && values.len() <= MAX_METRICS
                        && values.iter().all(Value::is_number)
                }
                _ => false,
            };
            if !numeric {
                return Err(EmfError::MetricValue(name.to_owned()));
            }
        }
    }
    Ok(())
}

/// The units CloudWatch accepts (`MetricDatum.Unit`).
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::TimeZone as _;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap()
    }

    fn full_run() -> ScaleDownMetrics {
        ScaleDownMetrics {
            lease_held: false,
            cluster: Some(BackendCounts {
                active: 5,
                down: 1,
                deactivating: 2,
                drives_inactive: 3,
            }),
            waits: Some(LifecycleWaits {
                launches: 1,
                terminations: 2,
                oldest_launch_secs: 120.0,
                oldest_terminate_secs: 30.0,
            }),
            floor_refused: Some(true),
            decisions: Some((2, 1)),
        }
    }

    #[test]
    fn a_full_scale_down_document_is_valid_emf_with_every_value_at_the_root() {
        let doc = emf_document("prod", at(), &full_run().samples());
        validate_emf(&doc).unwrap();
        assert_eq!(doc["_aws"]["Timestamp"], json!(at().timestamp_millis()));
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[CLUSTER_DIMENSION]])
        );
        assert_eq!(doc[CLUSTER_DIMENSION], "prod");
        assert_eq!(doc["BackendsActive"], json!(5.0));
        assert_eq!(doc["FloorRefusals"], json!(1.0));
        assert_eq!(doc["OldestLaunchWaitAge"], json!(120.0));
        let units: BTreeMap<&str, &str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["Name"].as_str().unwrap(), m["Unit"].as_str().unwrap()))
            .collect();
        assert_eq!(units.len(), 12);
        assert_eq!(units["OldestLaunchWaitAge"], "Seconds");
        assert_eq!(units["Deactivations"], "Count");
    }

    #[test]
    fn a_run_stopped_at_the_lease_carries_only_lease_held() {
        let metrics = ScaleDownMetrics {
            lease_held: true,
            ..ScaleDownMetrics::default()
        };
        let doc = emf_document("c", at(), &metrics.samples());
        validate_emf(&doc).unwrap();
        assert_eq!(doc["LeaseHeld"], json!(1.0));
        assert!(doc.get("BackendsActive").is_none());
    }

    #[test]
    fn metric_names_are_unique_and_units_are_cloudwatch_units() {
        let names: std::collections::BTreeSet<&str> = ALL.iter().map(|m| m.name).collect();
        assert_eq!(names.len(), ALL.len());
        assert!(ALL.iter().all(|m| UNITS.contains(&m.unit.as_str())));
        assert!(ALL.len() <= MAX_METRICS);
    }

    #[test]
    fn documents_breaking_the_rules_are_refused() {
        let good = emf_document("c", at(), &terminate_samples(1, 2));
        validate_emf(&good).unwrap();
        let broken = |edit: &dyn Fn(&mut Value)| {
            let mut doc = good.clone();
            edit(&mut doc);
            validate_emf(&doc).unwrap_err()
        };
        assert_eq!(
            broken(&|d| {
                d.as_object_mut().unwrap().remove("_aws");
            }),
            EmfError::Member("_aws".into())
        );
        assert!(matches!(
            broken(&|d| d["_aws"]["Timestamp"] = json!(at().timestamp())),
            EmfError::Member(_)
        ));
        assert!(matches!(
            broken(&|d| d["_aws"]["Timestamp"] = json!("now")),
            EmfError::Member(_)
        ));
        assert!(matches!(
            broken(&|d| d["_aws"]["CloudWatchMetrics"] = json!([])),
            EmfError::Member(_)
        ));
        assert!(matches!(
            broken(&|d| d["_aws"]["CloudWatchMetrics"][0]
                .as_object_mut()
                .unwrap()
                .remove("Namespace")
                .map(|_| ())
                .unwrap()),
            EmfError::Member(_)
        ));
        assert_eq!(
            broken(&|d| d["Terminations"] = json!("1")),
            EmfError::MetricValue("Terminations".into())
        );
        assert_eq!(
            broken(&|d| {
                d.as_object_mut().unwrap().remove("Detaches");
            }),
            EmfError::MetricValue("Detaches".into())
        );
        assert_eq!(
            broken(&|d| d[CLUSTER_DIMENSION] = json!(7)),
            EmfError::DimensionValue(CLUSTER_DIMENSION.into())
        );
        assert!(matches!(
            broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Things")),
            EmfError::Member(_)
        ));
        let many: Vec<Value> = (0..=MAX_METRICS)
            .map(|i| json!({ "Name": format!("M{i}") }))
            .collect();
        assert!(matches!(
            broken(&|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"] = json!(many)),
            EmfError::Limit(_)
        ));
        let dims: Vec<String> = (0..=MAX_DIMENSIONS).map(|i| format!("D{i}")).collect();
        assert!(matches!(
            broken(&|d| {
                for name in &dims {
                    d[name.as_str()] = json!("x");
                }
                d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([dims]);
            }),
            EmfError::Limit(_)
        ));
    }

    #[test]
    fn the_launch_age_restarts_at_each_heartbeat_and_the_oldest_wins() {
        use crate::domain::lifecycle::{LifecycleKey, LifecyclePhase, Transition};
        let record = |id: &str, started: i64, beat: Option<i64>, transition| LifecycleRecord {
            key: LifecycleKey {
                instance_id: id.to_owned(),
                transition,
            },
            group: "g".to_owned(),
            hook: "h".to_owned(),
            token: None,
            started_at: at() - chrono::Duration::seconds(started),
            private_ip: None,
            last_heartbeat_at: beat.map(|b| at() - chrono::Duration::seconds(b)),
            phase: LifecyclePhase::Waiting,
            result: None,
            reason: None,
            decided_at: None,
            completed_at: None,
        };
        let joining = [
            record("i-1", 600, Some(60), Transition::Launch),
            record("i-2", 300, None, Transition::Launch),
        ];
        let leaving = [record("i-3", 900, Some(10), Transition::Terminate)];
        let waits = LifecycleWaits::of(&joining, &leaving, at());
        assert_eq!(waits.launches, 2);
        assert_eq!(waits.terminations, 1);
        assert!((waits.oldest_launch_secs - 300.0).abs() < f64::EPSILON);
        assert!((waits.oldest_terminate_secs - 900.0).abs() < f64::EPSILON);
        assert_eq!(
            LifecycleWaits::of(&[], &[], at()),
            LifecycleWaits::default()
        );
    }
}
