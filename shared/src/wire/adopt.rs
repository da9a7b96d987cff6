//! `adopt` payloads: an operator's request to take over a running cluster, and the answer.

use crate::wire::bootstrap::Protocol;
use serde::{Deserialize, Serialize};

/// `adopt` input: `{"source":"reference"|"cluster","protocol":""|"nfs","dry_run":false}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptRequest {
    /// `reference`: WEKA's module's state item, checked against the cluster; `cluster`: the
    /// cluster's own view (WEKA and the instances) alone.
    pub source: String,
    /// `nfs` adopts the NFS gateway group; `""` (default) the backends.
    #[serde(default)]
    pub protocol: Protocol,
    /// Decide and answer without writing anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// `adopt` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptResponse {
    /// `backend` or `nfs`.
    pub group: String,
    /// Whether this call recorded the group as clusterized.
    pub adopted: bool,
    /// The group was clusterized before this call (adopted earlier, or formed here).
    pub already_clusterized: bool,
    /// Nothing was written (a dry run).
    pub dry_run: bool,
    /// When the group was recorded clusterized, if it is.
    pub clusterized_at: Option<String>,
    /// What was (or, in a dry run, would be) adopted; for a group adopted earlier, that
    /// adoption's plan.
    pub plan: Option<AdoptionPlan>,
}

/// A group's state as WEKA's module keeps it (`Value` of its state item), read only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceState {
    /// Whether its clusterization finished.
    pub clusterized: bool,
    /// Size the group was created with.
    pub initial_size: u32,
    /// Desired size it recorded.
    pub desired_size: u32,
    /// Registrations that triggered its clusterization.
    pub clusterization_target: u32,
    /// Instance ids still in its registration list (it clears the list once clusterized).
    pub instances: Vec<String>,
}

/// What an adoption records and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdoptionPlan {
    /// `reference` or `cluster`.
    pub source: String,
    /// The group's running instances WEKA knows: the adopted members.
    pub members: Vec<String>,
    /// The group's running instances WEKA does not know yet (launching, or waiting for a join
    /// script); after the adoption they are handed join scripts, or replaced.
    pub not_members_yet: Vec<String>,
    /// Instances registered for a clusterization under this module before the adoption: they
    /// are told the cluster exists and are recycled into joining.
    pub pending_registrations: Vec<String>,
    /// The reference's sizes, when it was the source.
    pub reference: Option<ReferenceState>,
}
