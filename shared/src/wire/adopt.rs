//! `adopt` payloads: an operator's request to take over a running cluster, and the answer.

use crate::domain::adoption::AdoptionPlan;
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
