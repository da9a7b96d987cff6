//! [`FakeReferenceStates`]: WEKA's module's state items, held in memory.

use crate::domain::adoption::ReferenceState;
use crate::domain::state::Group;
use crate::ports::{ReferenceStates, StoreError};
use std::collections::BTreeMap;

/// WEKA's module's state per group; a group without one reads as a missing item.
#[derive(Debug, Clone, Default)]
pub struct FakeReferenceStates {
    /// The items, per group.
    pub states: BTreeMap<Group, ReferenceState>,
}

impl FakeReferenceStates {
    /// Holding `state` for the backends.
    pub fn backend(state: ReferenceState) -> Self {
        Self {
            states: BTreeMap::from([(Group::Backend, state)]),
        }
    }
}

impl ReferenceStates for FakeReferenceStates {
    async fn reference_state(&self, group: Group) -> Result<ReferenceState, StoreError> {
        self.states
            .get(&group)
            .cloned()
            .ok_or_else(|| StoreError::StateMissing {
                table: "reference".to_owned(),
                key: format!("{}-state", group.as_str()),
            })
    }
}
