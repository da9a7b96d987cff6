//! `clusterize-finalization`: called last by the clusterization script; marks the group
//! clusterized so `deploy` hands out join scripts from then on. Idempotent.

use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::state::Group;
use crate::lambda::{Classify, ErrorClass, PayloadError, decode};
use crate::ports::{Clock, StateStore, StoreError};
use crate::wire::bootstrap::FinalizationRequest;

/// The reference's success answer.
pub const FINALIZED: &str = "ClusterizeFinalization completed successfully";

/// `clusterize-finalization` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the state lives.
    pub state: StateConfig,
}

impl Config {
    /// Reads the configuration.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
        })
    }
}

/// What finalization needs.
#[derive(Debug)]
pub struct Deps<S, C> {
    /// The state store.
    pub store: S,
    /// The clock.
    pub clock: C,
}

/// Why finalization failed.
#[derive(Debug, thiserror::Error)]
pub enum FinalizationError {
    /// The payload is not a finalization request.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The store failed.
    #[error("finalization could not be recorded")]
    Store(#[from] StoreError),
}

impl Classify for FinalizationError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_) => ErrorClass::InvalidInput,
            Self::Store(e) => e.class(),
        }
    }
}

/// Handles one `clusterize-finalization` invocation.
#[tracing::instrument(skip_all, fields(group))]
pub async fn handle<S: StateStore, C: Clock>(
    deps: &Deps<S, C>,
    payload: serde_json::Value,
) -> Result<&'static str, FinalizationError> {
    // The backend script sends `{}`; an empty payload (`null`) means the same.
    let payload = if payload.is_null() {
        serde_json::json!({})
    } else {
        payload
    };
    let request: FinalizationRequest = decode(payload)?;
    let group = Group::for_protocol(request.protocol);
    tracing::Span::current().record("group", group.as_str());
    let state = deps.store.finalize(group, deps.clock.now()).await?;
    tracing::info!(
        version = state.version,
        members = state.instances.len(),
        "group clusterized"
    );
    Ok(FINALIZED)
}
