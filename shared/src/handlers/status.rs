//! `status`: the cluster's state for operators and scripts — `{"type":"status"}` (state plus
//! WEKA's live status) and `{"type":"progress"}` (bootstrap progress and reports).
//!
//! Reads only; never locks. A failing WEKA call is reported in the answer, not swallowed.
//! Instances held by a lifecycle hook are listed with how long they have waited, and a
//! terminating one whose machine the last scale-down held back (safety floor, in-flight cap)
//! with why (`held_back`). The last scale-down failure (recorded by `terminate`) is shown with
//! whether a scale-down answered since (`scale_down_failure`); scale-down's WEKA calls that WEKA
//! refused with an answer that stands, with when they are tried again (`weka_refusals`). A login
//! WEKA refuses on a clusterized cluster (a deployment user never added, review M2) is named
//! (`weka_login_error`). `{"type":"plan"}` answers what the next scale-down run would do now,
//! per machine and why, planned as scale-down plans (no write, no lease). `{"type":"events"}`
//! lists the recorded automatic decisions, newest first. An operator's pause of scale-down and terminations is shown (`paused`).

use crate::config::lifecycle::LifecycleConfig;
use crate::config::names::{ASG_NAME_ENV, CLUSTER_NAME_ENV};
use crate::config::terminate::terminate_policy;
use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::control::Pause;
use crate::domain::lifecycle::{LifecycleRecord, Transition};
use crate::domain::notes::{LeaseNote, ScaleDownFailureNote, ScaleNote, WekaRefusalsNote};
use crate::domain::progress::progress_view;
use crate::domain::scale_down::MachineAction;
use crate::domain::state::{ClusterState, Group};
use crate::domain::terminate::{TerminatePolicy, plan_terminate_predicted};
use crate::domain::terminate_view::explain_terminate;
use crate::error::{Classify, ErrorClass, error_chain};
use crate::lambda::weka_deadline;
use crate::lambda::{PayloadError, decode};
use crate::ports::{
    Clock, InstanceInventory, InventoryError, ScalingError, ScalingGroups, SecretError, Secrets,
    SecretsConfig, StateStore, StoreError, WekaApi, WekaConnector, WekaError, deployment_or_admin,
};
use crate::services::inventory::{
    InventoryConfig, describe, host_group_info_from, lifecycle_waits,
};
use crate::services::notes::read_note;
use crate::services::scale_plan::{ExplainError, FloorConfig, PlanSources, explain_now};
use crate::wire::bootstrap::{
    LifecycleWaiting, PausedShown, Protocol, StatusRequest, StatusResponse, WekaRefusalShown,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// `status` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the state lives.
    pub state: StateConfig,
    /// Cluster name (instance tag `weka_cluster_name`).
    pub cluster_name: String,
    /// Secret ids of the WEKA credentials.
    pub secrets: SecretsConfig,
    /// Backend ASG name, when set.
    pub asg_name: Option<String>,
    /// What `{"type":"plan"}` plans with (as scale-fetch and scale-down), when the backend
    /// group is configured.
    pub plan: Option<PlanConfig>,
}

/// What `{"type":"plan"}` needs: the inventory as `scale-fetch` reads it, the floor and the
/// hooks as `scale-down` has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanConfig {
    /// The groups and what the inventory names.
    pub inventory: InventoryConfig,
    /// The safety floor.
    pub floor: FloorConfig,
    /// The backend group's hooks.
    pub lifecycle: LifecycleConfig,
    /// Terminate's grace and cap, as `terminate` has them.
    pub terminate: TerminatePolicy,
}

impl Config {
    /// Reads the configuration.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
            cluster_name: env.required(CLUSTER_NAME_ENV)?,
            secrets: SecretsConfig::from_lookup(env)?,
            asg_name: env.optional(ASG_NAME_ENV),
            plan: match env.optional(ASG_NAME_ENV) {
                Some(_) => Some(PlanConfig {
                    inventory: InventoryConfig::from_lookup(env)?,
                    floor: FloorConfig::from_lookup(env)?,
                    lifecycle: LifecycleConfig::from_lookup(env)?,
                    terminate: terminate_policy(env)?,
                }),
                None => None,
            },
        })
    }
}

/// What `status` needs.
#[derive(Debug)]
pub struct Deps<S, G, I, K, W, C> {
    /// The state store.
    pub store: S,
    /// Auto Scaling groups (`{"type":"plan"}`).
    pub groups: G,
    /// EC2/ASG inventory.
    pub inventory: I,
    /// Secrets (WEKA credentials).
    pub secrets: K,
    /// WEKA API connector.
    pub weka: W,
    /// Clock (how long instances have waited).
    pub clock: C,
    /// Configuration.
    pub config: Config,
}

/// Why `status` could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The payload is not a status request.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// `type` is none of `status`, `progress`, `plan`, `events`.
    #[error("invalid status type {0:?}: expected status, progress, plan or events")]
    UnknownType(String),
    /// `{"type":"plan"}` on a deployment whose backend group is not configured.
    #[error("plan needs the backend group: ASG_NAME is not set")]
    PlanUnconfigured,
    /// The groups could not be read.
    #[error("auto scaling groups could not be read")]
    Scaling(#[from] ScalingError),
    /// The plan could not be made.
    #[error("the next scale-down run could not be planned")]
    Plan(#[from] ExplainError),
    /// Only backend and NFS groups have a state.
    #[error("unsupported protocol {0:?}: expected \"\" or nfs")]
    UnsupportedProtocol(&'static str),
    /// The store failed.
    #[error("cluster state could not be read")]
    Store(#[from] StoreError),
    /// The instance inventory failed.
    #[error("instance inventory could not be read")]
    Inventory(#[from] InventoryError),
    /// An answer could not be encoded.
    #[error("status answer could not be encoded")]
    Encode(#[from] serde_json::Error),
}

impl Classify for StatusError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_)
            | Self::UnknownType(_)
            | Self::UnsupportedProtocol(_)
            | Self::PlanUnconfigured => ErrorClass::InvalidInput,
            Self::Scaling(_) => ErrorClass::Transient,
            Self::Plan(e) => e.class(),
            Self::Store(e) => e.class(),
            Self::Inventory(e) => e.class(),
            Self::Encode(_) => ErrorClass::Internal,
        }
    }
}

/// WEKA's `status` answer before clusterization: every field zero, as the reference returns.
pub fn zero_weka_status() -> Value {
    json!({
        "hot_spare": 0, "io_status": "", "drives": {"active": 0, "total": 0}, "name": "",
        "io_status_changed_time": "0001-01-01T00:00:00Z", "io_nodes": {"active": 0, "total": 0},
        "cloud": {"enabled": false, "healthy": false, "proxy": "", "url": ""},
        "release_hash": "",
        "hosts": {"active_count": 0, "backends": {"active": 0, "total": 0},
                  "clients": {"active": 0, "total": 0}, "total_count": 0},
        "stripe_data_drives": 0, "release": "", "active_alerts_count": 0,
        "capacity": {"total_bytes": 0, "hot_spare_bytes": 0, "unprovisioned_bytes": 0},
        "is_cluster": false, "status": "", "stripe_protection_drives": 0, "guid": "",
        "nodes": {"black_listed": 0, "total": 0},
        "licensing": {"io_start_eligibility": false,
                      "usage": {"drive_capacity_gb": 0, "usable_capacity_gb": 0, "obs_capacity_gb": 0},
                      "mode": ""}
    })
}

/// Handles one `status` invocation.
#[tracing::instrument(skip_all, fields(kind))]
pub async fn handle<S, G, I, K, W, C>(
    deps: &Deps<S, G, I, K, W, C>,
    payload: Value,
    deadline: Option<DateTime<Utc>>,
) -> Result<Value, StatusError>
where
    S: StateStore,
    G: ScalingGroups,
    I: InstanceInventory,
    K: Secrets,
    W: WekaConnector,
    C: Clock,
{
    let request: StatusRequest = decode(payload)?;
    tracing::Span::current().record("kind", request.kind.as_str());
    let group = match request.protocol {
        Protocol::Backend => Group::Backend,
        Protocol::Nfs => Group::Nfs,
        other => return Err(StatusError::UnsupportedProtocol(other.as_str())),
    };
    match request.kind.as_str() {
        "status" => Ok(serde_json::to_value(status(deps, group, deadline).await?)?),
        "progress" => {
            let state = deps.store.load(group).await?;
            let reports = deps.store.reports(group).await?;
            let running = if state.clusterized {
                Vec::new()
            } else {
                deps.inventory
                    .running_instances(&deps.config.cluster_name, group.hostgroup_tag())
                    .await?
            };
            Ok(serde_json::to_value(progress_view(
                &state, &reports, &running,
            ))?)
        }
        "plan" if group == Group::Backend => plan(deps, deadline).await,
        "events" => Ok(json!({"events": deps.store.events().await?})),
        other => Err(StatusError::UnknownType(other.to_owned())),
    }
}

/// `{"type":"plan"}`: what the next scale-down run would do now, per machine and why
/// (`services::scale_plan`: the same reads and planner, no write, no lease), with the last
/// run's outcome, the pause and the lease as runs found it.
async fn plan<S, G, I, K, W, C>(
    deps: &Deps<S, G, I, K, W, C>,
    deadline: Option<DateTime<Utc>>,
) -> Result<Value, StatusError>
where
    S: StateStore,
    G: ScalingGroups,
    I: InstanceInventory,
    K: Secrets,
    W: WekaConnector,
    C: Clock,
{
    let config = deps
        .config
        .plan
        .as_ref()
        .ok_or(StatusError::PlanUnconfigured)?;
    let described = describe(&deps.groups, &config.inventory).await?;
    let mut info =
        host_group_info_from::<_, StatusError>(&described, &deps.inventory, &config.inventory)
            .await?;
    info.lifecycle_waits = Some(lifecycle_waits(&described, &config.inventory));
    let now = deps.clock.now();
    let sources = PlanSources {
        store: &deps.store,
        secrets: &deps.secrets,
        secret_ids: &deps.config.secrets,
        weka: &deps.weka,
        floor: &config.floor,
        lifecycle: &config.lifecycle,
        deadline: weka_deadline(&deps.clock, deadline),
    };
    let explanation = explain_now(&sources, &info, now).await?;
    let instances = (explanation.skipped.is_none()).then(|| {
        // Terminate on the answer this plan predicts: the machines WEKA keeps, those removed.
        let weka_ips = explanation
            .machines
            .iter()
            .filter(|m| m.action != MachineAction::Remove)
            .map(|m| m.ip.as_str())
            .collect();
        let removed = explanation
            .machines
            .iter()
            .filter(|m| m.action == MachineAction::Remove)
            .filter_map(|m| Some((m.instance_id.as_deref()?, m.ip.as_str())))
            .collect();
        let snapshots: Vec<_> = described.iter().map(|g| g.snapshot()).collect();
        let plans =
            plan_terminate_predicted(&snapshots, &weka_ips, &removed, &config.terminate, &[], now);
        explain_terminate(&plans, explanation.pause_hold().as_deref())
    });
    let mut answer = serde_json::to_value(&explanation)?;
    if let Value::Object(fields) = &mut answer {
        if let Some(instances) = instances {
            fields.insert("instances".to_owned(), serde_json::to_value(instances)?);
        }
        fields.insert(
            "desired".to_owned(),
            json!(info.weka_backends_desired_capacity),
        );
        let pause = explanation.pause.clone().map(PausedShown::from);
        fields.insert("paused".to_owned(), serde_json::to_value(&pause)?);
        fields.insert(
            "last_run".to_owned(),
            read_note::<ScaleNote>(&deps.store)
                .await
                .and_then(|n| serde_json::to_value(n).ok())
                .unwrap_or(Value::Null),
        );
        fields.insert(
            "lease".to_owned(),
            read_note::<LeaseNote>(&deps.store)
                .await
                .filter(|n| n.current(now))
                .and_then(|n| serde_json::to_value(n).ok())
                .unwrap_or(Value::Null),
        );
    }
    Ok(answer)
}

async fn status<S, G, I, K, W, C>(
    deps: &Deps<S, G, I, K, W, C>,
    group: Group,
    deadline: Option<DateTime<Utc>>,
) -> Result<StatusResponse, StatusError>
where
    S: StateStore,
    I: InstanceInventory,
    K: Secrets,
    W: WekaConnector,
    C: Clock,
{
    let state = deps.store.load(group).await?;
    let desired_size = live_desired_size(deps, group, &state).await;
    let (weka_status, weka_status_error, weka_login_error) = if state.clusterized {
        match live_weka_status(deps, deadline).await {
            Ok(status) => (Some(status), None, None),
            Err(e) => {
                let message = error_chain(&e);
                tracing::warn!(error = %message, "weka status unavailable");
                (None, Some(message), refused_login(&e))
            }
        }
    } else {
        (Some(zero_weka_status()), None, None)
    };
    let scale_note: Option<ScaleNote> = read_note(&deps.store).await;
    let scale_lease_held = read_note::<LeaseNote>(&deps.store)
        .await
        .filter(|n| n.current(deps.clock.now()))
        .and_then(|n| serde_json::to_value(n).ok());
    let scale_down_failure = last_scale_down_failure(deps, scale_note.as_ref()).await;
    Ok(StatusResponse {
        initial_size: state.initial_size,
        desired_size,
        clusterized: state.clusterized,
        weka_status,
        weka_status_error,
        weka_login_error,
        clusterized_at: state
            .clusterized_at
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        scale_refusal: scale_note.as_ref().and_then(|n| n.refusal.clone()),
        scale_lease_held,
        scale_down_failure,
        lifecycle_waiting: if group == Group::Backend {
            lifecycle_waiting(deps, scale_note.as_ref()).await
        } else {
            Vec::new()
        },
        weka_refusals: if group == Group::Backend {
            weka_refusals(&deps.store).await
        } else {
            Vec::new()
        },
        paused: paused(&deps.store).await,
    })
}

/// The operator's pause, if one stands; an unreadable item only leaves it out (logged).
async fn paused<S: StateStore>(store: &S) -> Option<PausedShown> {
    match store.paused().await {
        Ok(pause) => pause.map(PausedShown::from),
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "pause unavailable");
            None
        }
    }
}

impl From<Pause> for PausedShown {
    fn from(p: Pause) -> Self {
        Self {
            paused_by: p.paused_by,
            reason: p.reason,
            since: rfc3339(p.since),
        }
    }
}

/// The WEKA refusals that stand, as the last scale-down recorded them; an unreadable note only
/// leaves the list empty.
async fn weka_refusals<S: StateStore>(store: &S) -> Vec<WekaRefusalShown> {
    read_note::<WekaRefusalsNote>(store)
        .await
        .map(|n| n.refusals)
        .unwrap_or_default()
        .into_iter()
        .map(|r| WekaRefusalShown {
            machine: r.machine,
            call: r.method,
            code: r.code,
            reason: r.message,
            since: rfc3339(r.since),
            retry_after: rfc3339(r.retry_after),
            refused_runs: r.refused_runs,
        })
        .collect()
}

/// Open lifecycle actions, oldest first, a terminating instance the last scale-down held back
/// with why; an unreadable store only leaves the list empty.
async fn lifecycle_waiting<S, G, I, K, W, C>(
    deps: &Deps<S, G, I, K, W, C>,
    scale_note: Option<&ScaleNote>,
) -> Vec<LifecycleWaiting>
where
    S: StateStore,
    C: Clock,
{
    let records = match deps.store.lifecycle_actions().await {
        Ok(records) => records,
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "lifecycle actions unavailable");
            return Vec::new();
        }
    };
    let now = deps.clock.now();
    let mut open: Vec<&LifecycleRecord> = records.iter().filter(|r| r.is_open()).collect();
    open.sort_by_key(|r| (r.started_at, r.key.clone()));
    open.into_iter()
        .map(|r| LifecycleWaiting {
            instance_id: r.key.instance_id.clone(),
            lifecycle_state: r.key.transition.wait_state().to_owned(),
            since: rfc3339(r.started_at),
            waiting_seconds: (now - r.started_at).num_seconds().max(0),
            phase: r.phase.as_str().to_owned(),
            decision: r.result.map(|result| match &r.reason {
                Some(reason) => format!("{result}: {reason}"),
                None => result.to_string(),
            }),
            last_heartbeat_at: r.last_heartbeat_at.map(rfc3339),
            held_back: scale_note
                .filter(|_| r.key.transition == Transition::Terminate)
                .and_then(|n| n.held_back_reason(&r.key.instance_id))
                .map(str::to_owned),
        })
        .collect()
}

/// The last scale-down failure terminate recorded, marked `latest` unless a scale-down answered
/// since; an unreadable note only leaves it out.
async fn last_scale_down_failure<S, G, I, K, W, C>(
    deps: &Deps<S, G, I, K, W, C>,
    scale_note: Option<&ScaleNote>,
) -> Option<Value>
where
    S: StateStore,
{
    let note: ScaleDownFailureNote = read_note(&deps.store).await?;
    let latest = scale_note.is_none_or(|n| n.at <= note.at);
    Some(json!({
        "error": note.error,
        "message": note.message,
        "at": rfc3339(note.at),
        "execution": note.execution,
        "latest": latest,
    }))
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The ASG's live desired capacity (the reference reported the never-updated initial value).
async fn live_desired_size<S, G, I, K, W, C>(
    deps: &Deps<S, G, I, K, W, C>,
    group: Group,
    state: &ClusterState,
) -> u32
where
    I: InstanceInventory,
{
    let Some(asg) = deps
        .config
        .asg_name
        .as_deref()
        .filter(|_| group == Group::Backend)
    else {
        return state.desired_size;
    };
    match deps.inventory.desired_capacity(asg).await {
        Ok(Some(desired)) => desired,
        Ok(None) => state.desired_size,
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "asg desired capacity unavailable");
            state.desired_size
        }
    }
}

/// Why WEKA's live status could not be read (answered in `weka_status_error`, not failed).
#[derive(Debug, thiserror::Error)]
enum LiveStatusError {
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Credentials(#[from] SecretError),
    #[error(transparent)]
    Weka(#[from] WekaError),
}

/// `weka_login_error`: WEKA refused the control plane's login (review M2: a deployment user
/// that was never added), said with which user and what that stops.
fn refused_login(e: &LiveStatusError) -> Option<String> {
    let LiveStatusError::Weka(e) = e else {
        return None;
    };
    let WekaError::Login {
        ip,
        username,
        message,
    } = e.refused_login()?
    else {
        return None;
    };
    let who = if username == "admin" {
        "the admin user cannot log in (no deployment user password is stored)".to_owned()
    } else {
        format!("the deployment user {username} cannot log in")
    };
    Some(format!(
        "{who}: {message} (refused by {ip}); the control plane cannot heal or scale down"
    ))
}

async fn live_weka_status<S, G, I, K, W, C>(
    deps: &Deps<S, G, I, K, W, C>,
    deadline: Option<DateTime<Utc>>,
) -> Result<Value, LiveStatusError>
where
    I: InstanceInventory,
    K: Secrets,
    W: WekaConnector,
    C: Clock,
{
    let backends = deps
        .inventory
        .running_instances(&deps.config.cluster_name, Group::Backend.hostgroup_tag())
        .await?;
    let ips: Vec<String> = backends.into_iter().filter_map(|i| i.private_ip).collect();
    let credentials = deployment_or_admin(&deps.secrets, &deps.config.secrets).await?;
    Ok(deps
        .weka
        .connect_until(ips, credentials, weka_deadline(&deps.clock, deadline))
        .call("status", json!({}))
        .await?)
}
