//! Adopting a running cluster: what must hold before this control plane treats a cluster it did
//! not form (one formed by WEKA's own module, whose state it cannot carry over) as clusterized,
//! and what it records. A fresh state document says "not clusterized": left so, the next
//! instance the group launches would be handed a clusterization script instead of a join script.

use crate::domain::state::{ClusterState, Clusterizer};
// The payload types live in `wire` (the adopt answer carries them); named here as before.
pub use crate::wire::adopt::{AdoptionPlan, ReferenceState};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

/// Where the adoption takes its account of the cluster from, besides WEKA and EC2 themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdoptionSource {
    /// WEKA's module's state item, cross-checked with the cluster's own view.
    Reference(ReferenceState),
    /// The cluster's own view only (WEKA and the instances).
    Cluster,
}

impl AdoptionSource {
    /// `reference` or `cluster`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Reference(_) => "reference",
            Self::Cluster => "cluster",
        }
    }
}

/// The running cluster as WEKA and EC2 see it now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// Running instances of the group being adopted.
    pub group_instances: BTreeSet<String>,
    /// Running instances of every group of this deployment (backends and gateways).
    pub deployment_instances: BTreeSet<String>,
    /// Instance ids of the machines WEKA runs as backends (clients excluded).
    pub weka_machines: BTreeSet<String>,
}

/// Why a cluster is not adopted: the accounts disagree, or there is nothing (safe) to adopt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdoptionRefusal {
    /// WEKA runs none of the group's instances.
    #[error(
        "WEKA runs none of the group's {running} running instances: there is no formed cluster \
         to adopt (an unformed group is formed by this module on its own)"
    )]
    NoCluster {
        /// Running instances of the group.
        running: usize,
    },
    /// WEKA runs machines that are no running instance of this deployment.
    #[error(
        "WEKA runs backends on instances that are not running instances of this deployment \
         ({machines:?}): the cluster behind these backends is not (only) this deployment's; \
         check cluster_name and prefix against the deployment being replaced"
    )]
    ForeignMachines {
        /// The instance ids WEKA knows that the deployment does not run.
        machines: Vec<String>,
    },
    /// The reference says its clusterization never finished, yet WEKA runs a cluster.
    #[error(
        "WEKA's module's state says clusterization has not finished (clusterized = false), \
         while WEKA runs {members} of the group's instances: the two accounts disagree; let the \
         old deployment finish (or find why it did not) before adopting"
    )]
    ReferenceNotClusterized {
        /// Group instances WEKA runs.
        members: usize,
    },
    /// The reference still lists registrations the cluster does not run.
    #[error(
        "WEKA's module's state lists registrations WEKA does not run ({instances:?}): a \
         clusterization may still be under way there; wait for it, or clear them, before adopting"
    )]
    ReferenceRegistrationsOutstanding {
        /// Registered instance ids missing from WEKA.
        instances: Vec<String>,
    },
    /// An instance is forming a cluster under this module right now.
    #[error(
        "instance {instance} has been clusterizing under this module since {since}: a second \
         cluster may be forming on this group's new instances; terminate them before adopting"
    )]
    ClusterizationUnderWay {
        /// The claimant.
        instance: String,
        /// Since when.
        since: DateTime<Utc>,
    },
}

/// The decision on an adoption request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdoptionDecision {
    /// The group is clusterized already (adopted before, or formed here): nothing to write.
    AlreadyClusterized,
    /// Record the group as clusterized.
    Adopt(AdoptionPlan),
}

/// Decides an adoption from the source, the cluster's view and this module's state; pure.
pub fn decide_adoption(
    source: &AdoptionSource,
    view: &ClusterView,
    ours: &ClusterState,
) -> Result<AdoptionDecision, AdoptionRefusal> {
    if ours.clusterized {
        return Ok(AdoptionDecision::AlreadyClusterized);
    }
    if let Some(Clusterizer { instance, since }) = &ours.clusterizer {
        return Err(AdoptionRefusal::ClusterizationUnderWay {
            instance: instance.clone(),
            since: *since,
        });
    }
    let foreign: Vec<String> = view
        .weka_machines
        .difference(&view.deployment_instances)
        .cloned()
        .collect();
    if !foreign.is_empty() {
        return Err(AdoptionRefusal::ForeignMachines { machines: foreign });
    }
    let (members, not_members_yet): (Vec<String>, Vec<String>) = view
        .group_instances
        .iter()
        .cloned()
        .partition(|id| view.weka_machines.contains(id));
    if members.is_empty() {
        return Err(AdoptionRefusal::NoCluster {
            running: view.group_instances.len(),
        });
    }
    let reference = match source {
        AdoptionSource::Cluster => None,
        AdoptionSource::Reference(reference) => {
            if !reference.clusterized {
                return Err(AdoptionRefusal::ReferenceNotClusterized {
                    members: members.len(),
                });
            }
            let outstanding: Vec<String> = reference
                .instances
                .iter()
                .filter(|id| !view.weka_machines.contains(*id))
                .cloned()
                .collect();
            if !outstanding.is_empty() {
                return Err(AdoptionRefusal::ReferenceRegistrationsOutstanding {
                    instances: outstanding,
                });
            }
            Some(reference.clone())
        }
    };
    Ok(AdoptionDecision::Adopt(AdoptionPlan {
        source: source.as_str().to_owned(),
        members,
        not_members_yet,
        pending_registrations: ours.instances.iter().map(|vm| vm.name.clone()).collect(),
        reference,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::bootstrap::Vm;

    fn ids(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn view(group: &[&str], weka: &[&str]) -> ClusterView {
        ClusterView {
            group_instances: ids(group),
            deployment_instances: ids(group),
            weka_machines: ids(weka),
        }
    }

    fn reference(clusterized: bool) -> ReferenceState {
        ReferenceState {
            clusterized,
            initial_size: 3,
            desired_size: 3,
            clusterization_target: 3,
            instances: Vec::new(),
        }
    }

    fn plan(decision: AdoptionDecision) -> AdoptionPlan {
        match decision {
            AdoptionDecision::Adopt(plan) => plan,
            AdoptionDecision::AlreadyClusterized => panic!("expected a plan"),
        }
    }

    #[test]
    fn a_running_cluster_is_adopted_with_its_members_and_newcomers() {
        let v = view(&["i-1", "i-2", "i-3", "i-4"], &["i-1", "i-2", "i-3"]);
        let p = plan(
            decide_adoption(
                &AdoptionSource::Reference(reference(true)),
                &v,
                &ClusterState::new(3),
            )
            .unwrap(),
        );
        assert_eq!(p.members, ["i-1", "i-2", "i-3"]);
        assert_eq!(p.not_members_yet, ["i-4"]);
        assert_eq!(p.source, "reference");
        assert_eq!(p.reference, Some(reference(true)));
    }

    #[test]
    fn a_clusterized_state_needs_nothing() {
        let mut ours = ClusterState::new(3);
        ours.finalize(Utc::now());
        let empty = ClusterView::default();
        assert_eq!(
            decide_adoption(&AdoptionSource::Cluster, &empty, &ours),
            Ok(AdoptionDecision::AlreadyClusterized)
        );
    }

    #[test]
    fn nothing_formed_is_nothing_to_adopt() {
        let v = view(&["i-1", "i-2"], &[]);
        assert_eq!(
            decide_adoption(&AdoptionSource::Cluster, &v, &ClusterState::new(3)),
            Err(AdoptionRefusal::NoCluster { running: 2 })
        );
    }

    #[test]
    fn machines_outside_the_deployment_refuse() {
        let v = view(&["i-1", "i-2"], &["i-1", "i-9"]);
        assert_eq!(
            decide_adoption(&AdoptionSource::Cluster, &v, &ClusterState::new(3)),
            Err(AdoptionRefusal::ForeignMachines {
                machines: vec!["i-9".to_owned()]
            })
        );
    }

    #[test]
    fn gateways_of_the_deployment_are_not_foreign_to_the_backends() {
        let mut v = view(&["i-1"], &["i-1", "i-gw"]);
        v.deployment_instances.insert("i-gw".to_owned());
        let p = plan(decide_adoption(&AdoptionSource::Cluster, &v, &ClusterState::new(1)).unwrap());
        assert_eq!(p.members, ["i-1"]);
    }

    #[test]
    fn a_reference_that_never_finished_disagrees_with_a_running_cluster() {
        let v = view(&["i-1"], &["i-1"]);
        assert_eq!(
            decide_adoption(
                &AdoptionSource::Reference(reference(false)),
                &v,
                &ClusterState::new(3)
            ),
            Err(AdoptionRefusal::ReferenceNotClusterized { members: 1 })
        );
    }

    #[test]
    fn reference_registrations_weka_does_not_run_refuse() {
        let mut r = reference(true);
        r.instances = vec!["i-1".to_owned(), "i-7".to_owned()];
        let v = view(&["i-1"], &["i-1"]);
        assert_eq!(
            decide_adoption(&AdoptionSource::Reference(r), &v, &ClusterState::new(3)),
            Err(AdoptionRefusal::ReferenceRegistrationsOutstanding {
                instances: vec!["i-7".to_owned()]
            })
        );
    }

    #[test]
    fn a_clusterization_under_this_module_refuses_and_registrations_are_listed() {
        let v = view(&["i-1", "i-5"], &["i-1"]);
        let mut ours = ClusterState::new(3);
        ours.instances.push(Vm {
            name: "i-5".to_owned(),
            ..Vm::default()
        });
        let p = plan(decide_adoption(&AdoptionSource::Cluster, &v, &ours).unwrap());
        assert_eq!(p.pending_registrations, ["i-5"]);

        let since = Utc::now();
        ours.clusterizer = Some(Clusterizer {
            instance: "i-5".to_owned(),
            since,
        });
        assert_eq!(
            decide_adoption(&AdoptionSource::Cluster, &v, &ours),
            Err(AdoptionRefusal::ClusterizationUnderWay {
                instance: "i-5".to_owned(),
                since
            })
        );
    }
}
