//! `adopt`: an operator takes over a running cluster this module did not form (one formed by
//! WEKA's own module, whose state cannot be carried over). Reads WEKA's module's state item
//! (`source = reference`) or not (`cluster`), WEKA's hosts and the running instances, decides
//! with `domain::adoption`, and records the group as clusterized in one conditional write.
//!
//! Invoked by operators only: no instance role may call it (it is the one path that marks a
//! group clusterized without a clusterization). A retry answers what the first call recorded.

use crate::config::names::CLUSTER_NAME_ENV;
use crate::config::{ConfigError, Lookup, ReferenceStateConfig, StateConfig};
use crate::domain::adoption::{
    AdoptionDecision, AdoptionPlan, AdoptionRefusal, AdoptionSource, ClusterView, decide_adoption,
};
use crate::domain::notes::{AdoptionNote, AdoptionRecord, Note};
use crate::domain::state::{ClusterState, Group};
use crate::error::{Classify, ErrorClass};
use crate::lambda::{PayloadError, decode, weka_deadline};
use crate::ports::{
    Clock, InstanceInventory, InventoryError, ReferenceStates, SecretError, Secrets, SecretsConfig,
    StateStore, StoreError, WekaApi, WekaConnector, WekaError, deployment_or_admin,
};
use crate::services::notes::read_note;
use crate::weka::decode::{DecodeError, FromResult};
use crate::weka::model::{HostMode, HostsList};
use crate::wire::adopt::{AdoptRequest, AdoptResponse};
use crate::wire::bootstrap::Protocol;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use std::collections::BTreeSet;

/// `adopt` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where this module's state lives.
    pub state: StateConfig,
    /// Where WEKA's module keeps its state.
    pub reference: ReferenceStateConfig,
    /// Cluster name (instance tag `weka_cluster_name`).
    pub cluster_name: String,
    /// Secret ids of the WEKA credentials.
    pub secrets: SecretsConfig,
}

impl Config {
    /// Reads the configuration.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
            reference: ReferenceStateConfig::from_lookup(env)?,
            cluster_name: env.required(CLUSTER_NAME_ENV)?,
            secrets: SecretsConfig::from_lookup(env)?,
        })
    }
}

/// What `adopt` needs.
#[derive(Debug)]
pub struct Deps<S, R, I, K, W, C> {
    /// This module's state store.
    pub store: S,
    /// WEKA's module's state, read only.
    pub reference: R,
    /// EC2 inventory.
    pub inventory: I,
    /// Secrets (WEKA credentials).
    pub secrets: K,
    /// WEKA API connector.
    pub weka: W,
    /// Clock.
    pub clock: C,
    /// Configuration.
    pub config: Config,
}

/// Why `adopt` did not adopt.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// The payload is not an adopt request.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// `source` is neither `reference` nor `cluster`.
    #[error("invalid source {0:?}: expected reference or cluster")]
    UnknownSource(String),
    /// Only backend and NFS groups have a state.
    #[error("unsupported protocol {0:?}: expected \"\" or nfs")]
    UnsupportedProtocol(&'static str),
    /// WEKA's module's state item is not where the configuration says.
    #[error(
        "WEKA's module's state item {key:?} is not in table {table:?}: set \
         reference_state_table_name (and dynamodb_hash_key_name) to where it is, or adopt with \
         source = cluster"
    )]
    ReferenceMissing {
        /// Table searched.
        table: String,
        /// Item key searched.
        key: String,
    },
    /// WEKA's module's state could not be read.
    #[error("WEKA's module's state could not be read")]
    Reference(#[source] StoreError),
    /// This module's state could not be read or written.
    #[error("cluster state could not be read or written")]
    Store(#[from] StoreError),
    /// The instances could not be listed.
    #[error("instance inventory could not be read")]
    Inventory(#[from] InventoryError),
    /// The WEKA credentials could not be read.
    #[error("WEKA credentials could not be read")]
    Credentials(#[from] SecretError),
    /// WEKA could not be asked.
    #[error("WEKA's hosts could not be read")]
    Weka(#[from] WekaError),
    /// WEKA answered something that is not a host list.
    #[error("WEKA's hosts_list answer could not be decoded")]
    Decode(#[from] DecodeError),
    /// The accounts disagree, or there is nothing to adopt.
    #[error("adoption refused")]
    Refused(#[from] AdoptionRefusal),
    /// The state changed between the decision and the write (a registration, a claim).
    #[error("the {0} group's state changed while adopting (a registration or a claim); call again")]
    Changed(&'static str),
    /// An answer could not be encoded.
    #[error("adopt answer could not be encoded")]
    Encode(#[from] serde_json::Error),
}

impl Classify for AdoptError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_)
            | Self::UnknownSource(_)
            | Self::UnsupportedProtocol(_)
            | Self::ReferenceMissing { .. } => ErrorClass::InvalidInput,
            Self::Reference(e) | Self::Store(e) => e.class(),
            Self::Inventory(e) => e.class(),
            Self::Credentials(e) => e.class(),
            Self::Weka(e) => e.class(),
            Self::Refused(_) | Self::Changed(_) => ErrorClass::Conflict,
            Self::Decode(_) | Self::Encode(_) => ErrorClass::Internal,
        }
    }
}

/// Handles one `adopt` invocation.
#[tracing::instrument(skip_all, fields(source, group, dry_run))]
pub async fn handle<S, R, I, K, W, C>(
    deps: &Deps<S, R, I, K, W, C>,
    payload: Value,
    deadline: Option<DateTime<Utc>>,
) -> Result<Value, AdoptError>
where
    S: StateStore,
    R: ReferenceStates,
    I: InstanceInventory,
    K: Secrets,
    W: WekaConnector,
    C: Clock,
{
    let request: AdoptRequest = decode(payload)?;
    let group = match request.protocol {
        Protocol::Backend => Group::Backend,
        Protocol::Nfs => Group::Nfs,
        other => return Err(AdoptError::UnsupportedProtocol(other.as_str())),
    };
    let span = tracing::Span::current();
    span.record("source", request.source.as_str());
    span.record("group", group.as_str());
    span.record("dry_run", request.dry_run);
    let ours = deps.store.load(group).await?;
    if ours.clusterized {
        return answer_clusterized(deps, group, &ours, request.dry_run).await;
    }
    let source = match request.source.as_str() {
        "reference" => AdoptionSource::Reference(reference_state(deps, group).await?),
        "cluster" => AdoptionSource::Cluster,
        other => return Err(AdoptError::UnknownSource(other.to_owned())),
    };
    let view = cluster_view(deps, group, deadline).await?;
    let plan = match decide_adoption(&source, &view, &ours)? {
        AdoptionDecision::AlreadyClusterized => {
            return answer_clusterized(deps, group, &ours, request.dry_run).await;
        }
        AdoptionDecision::Adopt(plan) => plan,
    };
    let now = deps.clock.now();
    if request.dry_run {
        return respond(group, false, false, true, None, Some(plan));
    }
    if !deps.store.adopt(group, ours.version, now).await? {
        let again = deps.store.load(group).await?;
        if again.clusterized {
            return answer_clusterized(deps, group, &again, false).await;
        }
        return Err(AdoptError::Changed(group.as_str()));
    }
    tracing::info!(
        members = plan.members.len(),
        not_members_yet = plan.not_members_yet.len(),
        "running cluster adopted"
    );
    record(deps, group, now, &plan).await;
    respond(group, true, false, false, Some(now), Some(plan))
}

async fn reference_state<S, R, I, K, W, C>(
    deps: &Deps<S, R, I, K, W, C>,
    group: Group,
) -> Result<crate::domain::adoption::ReferenceState, AdoptError>
where
    R: ReferenceStates,
{
    deps.reference
        .reference_state(group)
        .await
        .map_err(|e| match e {
            StoreError::StateMissing { table, key } => AdoptError::ReferenceMissing { table, key },
            other => AdoptError::Reference(other),
        })
}

/// The running instances of the group and of the whole deployment, and WEKA's backend machines
/// (asked through the backends, which serve WEKA's API).
async fn cluster_view<S, R, I, K, W, C>(
    deps: &Deps<S, R, I, K, W, C>,
    group: Group,
    deadline: Option<DateTime<Utc>>,
) -> Result<ClusterView, AdoptError>
where
    I: InstanceInventory,
    K: Secrets,
    W: WekaConnector,
    C: Clock,
{
    let cluster = &deps.config.cluster_name;
    let backends = deps
        .inventory
        .running_instances(cluster, Group::Backend.hostgroup_tag())
        .await?;
    let gateways = deps
        .inventory
        .running_instances(cluster, Group::Nfs.hostgroup_tag())
        .await?;
    let ids = |list: &[crate::ports::Instance]| -> BTreeSet<String> {
        list.iter().map(|i| i.id.clone()).collect()
    };
    let group_instances = match group {
        Group::Backend => ids(&backends),
        Group::Nfs => ids(&gateways),
    };
    let deployment_instances = ids(&backends).union(&ids(&gateways)).cloned().collect();
    let ips: Vec<String> = backends.into_iter().filter_map(|i| i.private_ip).collect();
    let credentials = deployment_or_admin(&deps.secrets, &deps.config.secrets).await?;
    let api = deps
        .weka
        .connect_until(ips, credentials, weka_deadline(&deps.clock, deadline));
    let raw = api.call_raw("hosts_list", serde_json::json!({})).await?;
    let hosts = HostsList::from_result(raw.json())?;
    Ok(ClusterView {
        group_instances,
        deployment_instances,
        weka_machines: hosts
            .values()
            .filter(|h| h.mode == HostMode::Backend && !h.instance_id().is_empty())
            .map(|h| h.instance_id().to_owned())
            .collect(),
    })
}

/// The answer for a group clusterized before this call: the adoption recorded then, if any.
async fn answer_clusterized<S, R, I, K, W, C>(
    deps: &Deps<S, R, I, K, W, C>,
    group: Group,
    state: &ClusterState,
    dry_run: bool,
) -> Result<Value, AdoptError>
where
    S: StateStore,
{
    let plan = read_note::<AdoptionNote>(&deps.store)
        .await
        .and_then(|mut note| note.groups.remove(group.as_str()))
        .map(|record| record.plan);
    respond(group, false, true, dry_run, state.clusterized_at, plan)
}

/// Keeps what the adoption found for `status` and for a retry's answer; a failure here loses
/// only that record (the group is adopted), so it is logged, not returned.
async fn record<S, R, I, K, W, C>(
    deps: &Deps<S, R, I, K, W, C>,
    group: Group,
    at: DateTime<Utc>,
    plan: &AdoptionPlan,
) where
    S: StateStore,
{
    let mut note = read_note::<AdoptionNote>(&deps.store)
        .await
        .unwrap_or_default();
    note.groups.insert(
        group.as_str().to_owned(),
        AdoptionRecord {
            at,
            plan: plan.clone(),
        },
    );
    if let Err(e) = deps
        .store
        .put_note(AdoptionNote::NAME, &note.to_value())
        .await
    {
        tracing::warn!(error = %crate::error::error_chain(&e), "adoption record not kept");
    }
}

fn respond(
    group: Group,
    adopted: bool,
    already_clusterized: bool,
    dry_run: bool,
    clusterized_at: Option<DateTime<Utc>>,
    plan: Option<AdoptionPlan>,
) -> Result<Value, AdoptError> {
    Ok(serde_json::to_value(AdoptResponse {
        group: group.as_str().to_owned(),
        adopted,
        already_clusterized,
        dry_run,
        clusterized_at: clusterized_at.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        plan,
    })?)
}
