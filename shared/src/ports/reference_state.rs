//! WEKA's own module's state, read (never written) when adopting a cluster it formed.

use crate::domain::adoption::ReferenceState;
use crate::domain::state::Group;
use std::future::Future;

use super::StoreError;

/// Read access to WEKA's module's state items.
pub trait ReferenceStates: Send + Sync {
    /// The group's state as WEKA's module wrote it; `StoreError::StateMissing` when its table or
    /// item does not exist, `StoreError::Corrupt` when the item is not in its shape.
    fn reference_state(
        &self,
        group: Group,
    ) -> impl Future<Output = Result<ReferenceState, StoreError>> + Send;
}
