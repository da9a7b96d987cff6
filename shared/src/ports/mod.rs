//! Narrow traits, in domain terms, through which handlers reach the outside world. Each has an
//! AWS/HTTP implementation in `adapters` and an in-memory fake in `testing` (feature
//! `test-util`).

/// The boxed cause every port error keeps as its source.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

mod clock;
mod inventory;
mod scaling;
mod secrets;
mod state_store;
mod weka;

pub use clock::{Clock, SystemClock};
pub use inventory::{Instance, InstanceInventory, InventoryError};
pub use scaling::{
    GroupInstance, LifecycleAnswer, LifecycleTarget, ScalingError, ScalingGroup, ScalingGroups,
};
pub use secrets::{
    ADMIN_PASSWORD_ID_ENV, Credentials, DEPLOYMENT_PASSWORD_ID_ENV, SecretError, Secrets,
    SecretsConfig, USERNAME_ID_ENV, deployment_or_admin,
};
pub use state_store::{Lease, LeaseOutcome, NewReport, StateStore, StoreError};
pub use weka::{RawResult, WekaApi, WekaConnector, WekaError};
