//! Narrow traits, in domain terms, through which handlers reach the outside world. Each has an
//! AWS/HTTP implementation in `adapters` and an in-memory fake in `testing` (feature
//! `test-util`).

use crate::error::{Classify, ErrorClass};

/// The boxed cause every port error keeps as its source.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

mod certificates;
mod clock;
mod inventory;
pub mod metrics;
mod reference_state;
mod scaling;
mod secrets;
mod state_store;
mod weka;

pub use certificates::{CertificateError, CertificateFacts, Certificates};
pub use clock::{Clock, SystemClock};
pub use inventory::{Instance, InstanceInventory, InventoryError};
pub use reference_state::ReferenceStates;
pub use scaling::{
    GroupInstance, LifecycleAnswer, LifecycleTarget, Membership, ScalingError, ScalingGroup,
    ScalingGroups,
};
pub use secrets::{Credentials, SecretError, Secrets, SecretsConfig, deployment_or_admin};
pub use state_store::{
    Acting, Lease, LeaseClaim, LeaseOutcome, NewReport, StateStore, StoreError, check_storable_time,
};
pub use weka::{RawResult, WekaApi, WekaConnector, WekaError};

impl Classify for StoreError {
    fn class(&self) -> ErrorClass {
        if self.is_transient() {
            ErrorClass::Transient
        } else if matches!(self, Self::Unrepresentable { .. }) {
            ErrorClass::InvalidInput
        } else {
            ErrorClass::Internal
        }
    }
}

impl Classify for SecretError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Empty { .. } => ErrorClass::Conflict,
            Self::Backend { .. } => ErrorClass::Transient,
        }
    }
}

impl Classify for InventoryError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Transient
    }
}

impl Classify for WekaError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::NoBackends { .. } | Self::Login { .. } => ErrorClass::Conflict,
            Self::Decode { .. } => ErrorClass::Internal,
            _ => ErrorClass::Transient,
        }
    }
}
