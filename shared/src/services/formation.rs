//! The control plane's own finalization of a formed cluster whose `clusterize-finalization` call
//! was lost (review H4b; the rule is [`crate::domain::formation`]). Scale-down calls it while the
//! backend group is not clusterized: it asks WEKA, through the registered members' IPs and with
//! the deployment credentials (admin before the deployment user exists), and finalizes the group
//! with the same store write as `clusterize-finalization`. The members' launch actions are then
//! continued by the terminate step's lifecycle pass, as for any member of the formed cluster.
//!
//! Nothing here fails the caller: WEKA unreachable, login refused (the user not created yet), a
//! cluster not formed or the store failing leave the group as it was, with one log line a run.

use crate::domain::formation::{NotFormed, candidate_member_ips, formed_by};
use crate::domain::state::{ClusterState, Group};
use crate::error::error_chain;
use crate::ports::Secrets;
use crate::ports::{
    SecretsConfig, StateStore, WekaApi, WekaConnector, WekaError, deployment_or_admin,
};
use crate::weka::decode::{DecodeError, FromResult};
use crate::weka::model::{ClusterStatus, HostsList};
use crate::wire::scale::InstanceRef;
use chrono::{DateTime, Utc};
use std::time::Instant;

/// What the control plane needs to finalize a formed cluster.
#[derive(Debug)]
pub struct FormationCheck<'a, S, K, W> {
    /// The state store (the finalization write).
    pub store: &'a S,
    /// The WEKA credentials' secrets.
    pub secrets: &'a K,
    /// Their ids.
    pub secret_ids: &'a SecretsConfig,
    /// The WEKA API.
    pub weka: &'a W,
    /// When WEKA calls must be done.
    pub deadline: Option<Instant>,
}

/// Why WEKA could not tell.
#[derive(Debug, thiserror::Error)]
enum Unknown {
    #[error("weka credentials unavailable")]
    Credentials(#[source] crate::ports::SecretError),
    #[error("weka {method} failed")]
    Read {
        method: &'static str,
        #[source]
        source: WekaError,
    },
    #[error("weka {method} answer could not be decoded")]
    Decode {
        method: &'static str,
        #[source]
        source: DecodeError,
    },
}

impl<S, K, W> FormationCheck<'_, S, K, W>
where
    S: StateStore,
    K: Secrets,
    W: WekaConnector,
{
    /// Finalizes the backend group when `state` (not clusterized) is a formed cluster in WEKA
    /// whose finalization was lost; returns the state as it now is.
    pub async fn finalize_if_formed(
        &self,
        state: ClusterState,
        instances: &[InstanceRef],
        now: DateTime<Utc>,
    ) -> ClusterState {
        let members = match candidate_member_ips(&state, instances, now) {
            Ok(members) => members,
            Err(NotFormed::Clusterized) => return state,
            Err(why) => {
                tracing::debug!(reason = %why, "cluster not formed yet: no finalization check");
                return state;
            }
        };
        match self.weka_view(&members).await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => {
                tracing::info!(reason = %why, "weka shows no cluster of the registered members yet");
                return state;
            }
            Err(e) => {
                tracing::info!(error = %error_chain(&e), "weka not reachable for the forming cluster (it may still be forming)");
                return state;
            }
        }
        match self.store.finalize(Group::Backend, now).await {
            Ok(finalized) => {
                let claimant = state.clusterizer.as_ref().map(|c| c.instance.as_str());
                tracing::warn!(
                    members = finalized.instances.len(),
                    clusterizer = claimant.unwrap_or("none"),
                    version = finalized.version,
                    "finalization was lost; the control plane finalized the formed cluster"
                );
                finalized
            }
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "the formed cluster could not be finalized now; the next run retries");
                state
            }
        }
    }

    async fn weka_view(
        &self,
        members: &[(String, String)],
    ) -> Result<Result<(), NotFormed>, Unknown> {
        let credentials = deployment_or_admin(self.secrets, self.secret_ids)
            .await
            .map_err(Unknown::Credentials)?;
        let ips = members.iter().map(|(_, ip)| ip.clone()).collect();
        let api = self.weka.connect_until(ips, credentials, self.deadline);
        let status: ClusterStatus = read(&api, "status").await?;
        let hosts: HostsList = read(&api, "hosts_list").await?;
        Ok(formed_by(members, &status, &hosts))
    }
}

async fn read<A: WekaApi, T: FromResult>(api: &A, method: &'static str) -> Result<T, Unknown> {
    let raw = api
        .call_raw(method, serde_json::json!({}))
        .await
        .map_err(|source| Unknown::Read { method, source })?;
    T::from_result(raw.json()).map_err(|source| Unknown::Decode { method, source })
}
