//! What a scale-down run plans, gathered the same way for `scale-down` (which then acts) and
//! `status` `{"type":"plan"}` (which only explains it, with no write and no lease): WEKA's
//! lists read in one round, and the safety floor from the configured geometry or WEKA's status.

use crate::config::geometry::GeometryConfig;
use crate::config::lifecycle::LifecycleConfig;
use crate::config::names::MIN_CLUSTER_SIZE_ENV;
use crate::config::{ConfigError, Lookup};
use crate::domain::control::Pause;
use crate::domain::scale_down::{
    ClusterSnapshot, MachineStep, PlanError, SafetyFloor, ScaleDownPolicy, explain,
    plan_with_leaving,
};
use crate::domain::state::Group;
use crate::error::{Classify, ErrorClass, error_chain};
use crate::ports::{
    RawResult, SecretError, Secrets, SecretsConfig, StateStore, StoreError, WekaApi, WekaConnector,
    WekaError, deployment_or_admin,
};
use crate::services::lifecycle::HookPass;
use crate::services::weka_refusals;
use crate::weka::decode::{self, DecodeError, FromResult, disks_list, hosts_list, nodes_list};
use crate::weka::model::{ClusterStatus, InterfaceGroupList, ManualOverrideList};
use crate::wire::scale::{HostGroupInfoResponse, Refusal};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// The safety floor's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FloorConfig {
    /// The geometry when configured with an explicit stripe width; else read from WEKA.
    pub geometry: Option<GeometryConfig>,
    /// `MIN_CLUSTER_SIZE` (0: geometry only).
    pub min_cluster_size: u32,
}

impl FloorConfig {
    /// Reads the configuration.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            geometry: GeometryConfig::optional_from_lookup(env)?,
            min_cluster_size: env.parsed_or(MIN_CLUSTER_SIZE_ENV, 0)?,
        })
    }

    /// The floor: the configured geometry's, else WEKA's, never below `min_cluster_size`.
    pub fn floor(&self, status: &ClusterStatus) -> SafetyFloor {
        let configured = self.geometry.and_then(|g| {
            g.stripe_width
                .map(|stripe| (stripe, g.protection_level, g.hot_spare))
        });
        let floor = match configured {
            Some((stripe, protection, spares)) => {
                SafetyFloor::from_geometry(stripe, protection, spares)
            }
            None => SafetyFloor::from_status(status),
        };
        floor.at_least(self.min_cluster_size)
    }
}

/// Why WEKA's lists could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterReadError {
    /// A WEKA read failed.
    #[error("weka {method} failed")]
    Read {
        /// Method.
        method: &'static str,
        /// Cause.
        #[source]
        source: WekaError,
    },
    /// A WEKA answer has an unexpected shape.
    #[error("weka {method} answer could not be decoded")]
    Decode {
        /// Method.
        method: &'static str,
        /// Cause.
        #[source]
        source: DecodeError,
    },
}

async fn read_raw<A: WekaApi>(
    api: &A,
    method: &'static str,
) -> Result<RawResult, ClusterReadError> {
    api.call_raw(method, json!({}))
        .await
        .map_err(|source| ClusterReadError::Read { method, source })
}

fn decoded<T>(method: &'static str, result: Result<T, DecodeError>) -> Result<T, ClusterReadError> {
    result.map_err(|source| ClusterReadError::Decode { method, source })
}

/// Reads and decodes one WEKA list.
pub async fn read<A: WekaApi, T: FromResult>(
    api: &A,
    method: &'static str,
) -> Result<T, ClusterReadError> {
    let raw = read_raw(api, method).await?;
    decoded(method, T::from_result(raw.json()))
}

/// Everything the planner reads from WEKA, in one round of parallel calls.
pub async fn read_cluster<A: WekaApi>(api: &A) -> Result<ClusterSnapshot, ClusterReadError> {
    let (status, overrides, hosts, drives, nodes, groups) = futures::join!(
        read::<A, ClusterStatus>(api, "status"),
        read::<A, ManualOverrideList>(api, "manual_override_list"),
        read_raw(api, "hosts_list"),
        read_raw(api, "disks_list"),
        read_raw(api, "nodes_list"),
        read::<A, InterfaceGroupList>(api, "interface_group_list"),
    );
    let (status, overrides) = (status?, overrides?);
    let (hosts, drives, nodes) = match (hosts, drives, nodes) {
        // The three large lists are decoded together, on the available cores.
        (Ok(h), Ok(d), Ok(n)) => {
            let (h, d, n) = decode::cluster_lists(h.json(), d.json(), n.json());
            (
                decoded("hosts_list", h)?,
                decoded("disks_list", d)?,
                decoded("nodes_list", n)?,
            )
        }
        // A read failed: report the first failure in the order of the lists.
        (h, d, n) => (
            decoded("hosts_list", hosts_list(h?.json()))?,
            decoded("disks_list", disks_list(d?.json()))?,
            decoded("nodes_list", nodes_list(n?.json()))?,
        ),
    };
    Ok(ClusterSnapshot {
        status,
        overrides,
        hosts,
        drives,
        nodes,
        // The planner keeps NFS hosts and reports the error when only this list is missing.
        interface_groups: groups.map_err(|e| error_chain(&e)),
    })
}

/// What the next scale-down run would do now, per machine, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// Why the run would do nothing at all (not clusterized, a gate such as WEKA's
    /// `skip_scale_down` override, io not started, an upgrade); then `machines` is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// One line per machine WEKA runs, in IP order.
    pub machines: Vec<MachineStep>,
    /// The safety floor's refusal, when it refuses part of the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// What the planner found wrong (anomalous or partly DOWN machines, the NFS listing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub planning_errors: Vec<String>,
    /// The operator's pause the explanation read (its holds cite it); the caller shows it.
    #[serde(skip)]
    pub pause: Option<Pause>,
}

impl Explanation {
    /// How a hold for the pause reads, the same for scale-down's and terminate's side.
    pub fn pause_hold(&self) -> Option<String> {
        pause_hold(self.pause.as_ref())
    }
}

fn pause_hold(pause: Option<&Pause>) -> Option<String> {
    pause.map(|p| format!("scale-down and terminations are {p}"))
}

/// Why the plan could not be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// The state store failed.
    #[error("scale-down state could not be read")]
    Store(#[from] StoreError),
    /// The WEKA credentials could not be read.
    #[error("weka credentials unavailable")]
    Credentials(#[source] SecretError),
    /// WEKA's lists could not be read.
    #[error(transparent)]
    Cluster(#[from] ClusterReadError),
    /// The planner refused its input.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

impl Classify for ExplainError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Store(e) => e.class(),
            Self::Credentials(SecretError::Backend { .. }) | Self::Cluster(_) => {
                ErrorClass::Transient
            }
            Self::Credentials(_) => ErrorClass::Internal,
            Self::Plan(PlanError::InvalidInput(_) | PlanError::UnsupportedRole { .. }) => {
                ErrorClass::InvalidInput
            }
            Self::Plan(_) => ErrorClass::Internal,
        }
    }
}

/// What an explanation reads through.
#[derive(Debug)]
pub struct PlanSources<'a, S, K, W> {
    /// The state store (clusterized flag, lifecycle records, pause, WEKA refusals).
    pub store: &'a S,
    /// Secrets (WEKA credentials).
    pub secrets: &'a K,
    /// Their ids.
    pub secret_ids: &'a SecretsConfig,
    /// WEKA.
    pub weka: &'a W,
    /// The floor's configuration (as scale-down's).
    pub floor: &'a FloorConfig,
    /// The backend group's hooks (as scale-down's).
    pub lifecycle: &'a LifecycleConfig,
    /// When WEKA calls must end.
    pub deadline: Option<Instant>,
}

/// Plans as `scale-down` would for `info` (the inventory `scale-fetch` would answer) at `now`,
/// with the same reads and the same pure planner, and tells the plan per machine. Writes
/// nothing and takes no lease.
pub async fn explain_now<S, K, W>(
    sources: &PlanSources<'_, S, K, W>,
    info: &HostGroupInfoResponse,
    now: DateTime<Utc>,
) -> Result<Explanation, ExplainError>
where
    S: StateStore,
    K: Secrets,
    W: WekaConnector,
{
    let pause = sources.store.paused().await?;
    let skipped = |reason: String, pause: Option<Pause>| Explanation {
        skipped: Some(reason),
        machines: Vec::new(),
        refusal: None,
        planning_errors: Vec::new(),
        pause,
    };
    let state = sources.store.load(Group::Backend).await?;
    if !state.clusterized {
        return Ok(skipped("cluster is not clusterized yet".to_owned(), pause));
    }
    let mut hooks = HookPass::begin(sources.store, sources.lifecycle).await;
    hooks.keep_confirmed(info);
    let leaving: BTreeSet<String> = hooks.leaving_ips(info).into_values().flatten().collect();
    let credentials = deployment_or_admin(sources.secrets, sources.secret_ids)
        .await
        .map_err(ExplainError::Credentials)?;
    let api = sources
        .weka
        .connect_until(info.backend_ips.clone(), credentials, sources.deadline);
    let snapshot = read_cluster(&api).await?;
    let policy = ScaleDownPolicy::new(sources.floor.floor(&snapshot.status));
    let plan = match plan_with_leaving(info, &snapshot, &policy, now, &leaving) {
        Ok(plan) => plan,
        Err(PlanError::NotNow(gate)) => return Ok(skipped(gate.to_string(), pause)),
        Err(e) => return Err(e.into()),
    };
    let book = weka_refusals::load(sources.store, &snapshot.hosts, now).await;
    let withheld: BTreeMap<String, String> = plan
        .phases
        .iter()
        .flat_map(|p| &p.batches)
        .filter_map(|b| Some((b.machine_ip.clone()?, book.withheld(b)?.report())))
        .collect();
    let hold = pause_hold(pause.as_ref());
    Ok(Explanation {
        skipped: None,
        machines: explain(&plan, info, &leaving, hold.as_deref(), &withheld),
        refusal: plan.refusal,
        planning_errors: plan.transient_errors,
        pause,
    })
}
