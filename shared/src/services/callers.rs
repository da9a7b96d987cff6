//! Admitting an instance request: the caller proves who it is (when the deployment checks
//! identities), and the instance it names is one Auto Scaling holds in the cluster's group in a
//! state where the request makes sense (launching or in service). A host can then neither
//! register a bogus or foreign id, nor act for another instance.

use crate::config::callers::CallerPolicy;
use crate::domain::identity::{IdentityError, VerifiedInstance};
use crate::domain::state::Group;
use crate::domain::terminate::Lifecycle;
use crate::error::{Classify, ErrorClass};
use crate::ports::{ScalingError, ScalingGroups};
use crate::wire::bootstrap::IdentityProof;

/// Why an instance request was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// The caller's identity document is missing, forged or for another instance.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The request is for a group this cluster does not have.
    #[error("this cluster has no {0} group")]
    NoGroup(&'static str),
    /// The named instance is not in the cluster's group.
    #[error("instance {instance} is not in this cluster's {group} group")]
    NotInGroup {
        /// The instance named.
        instance: String,
        /// The group it should be in.
        group: String,
    },
    /// The named instance is in the group, but leaving or on standby.
    #[error(
        "instance {instance} is {state} in {group}; only a launching or in-service instance may ask this"
    )]
    NotActive {
        /// The instance named.
        instance: String,
        /// The group.
        group: String,
        /// Its lifecycle state.
        state: String,
    },
    /// Auto Scaling could not be asked.
    #[error("instance membership could not be checked")]
    Scaling(#[from] ScalingError),
}

impl Classify for CallerError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Identity(_) | Self::NoGroup(_) => ErrorClass::InvalidInput,
            Self::NotInGroup { .. } | Self::NotActive { .. } => ErrorClass::Conflict,
            Self::Scaling(_) => ErrorClass::Transient,
        }
    }
}

/// The caller, when identities are checked: `Some` with the verified instance, `None` when the
/// deployment checks none. A request that must name its caller is refused without a proof.
pub fn identify(
    policy: &CallerPolicy,
    proof: Option<&IdentityProof>,
) -> Result<Option<VerifiedInstance>, IdentityError> {
    match (&policy.identity, proof) {
        (None, _) => Ok(None),
        (Some(_), None) => Err(IdentityError::Missing),
        (Some(verifier), Some(proof)) => verifier.verify(proof).map(Some),
    }
}

/// Admits a request that names `instance` in `group`: the caller must be that instance (when
/// identities are checked) and Auto Scaling must hold it in the group, launching or in service.
pub async fn admit(
    scaling: &impl ScalingGroups,
    policy: &CallerPolicy,
    group: Group,
    instance: &str,
    proof: Option<&IdentityProof>,
) -> Result<(), CallerError> {
    if let Some(caller) = identify(policy, proof)? {
        caller.must_be(instance)?;
    }
    let wanted = match group {
        Group::Backend => policy.groups.backend.as_str(),
        Group::Nfs => policy
            .groups
            .nfs
            .as_deref()
            .ok_or(CallerError::NoGroup("nfs"))?,
    };
    let membership = scaling.membership(instance).await?;
    let Some(membership) = membership.filter(|m| m.group == wanted) else {
        return Err(CallerError::NotInGroup {
            instance: instance.to_owned(),
            group: wanted.to_owned(),
        });
    };
    if is_active(&membership.lifecycle) {
        Ok(())
    } else {
        Err(CallerError::NotActive {
            instance: instance.to_owned(),
            group: wanted.to_owned(),
            state: match membership.lifecycle {
                Lifecycle::InService => "InService".to_owned(),
                Lifecycle::Standby => "Standby".to_owned(),
                Lifecycle::Other(state) => state,
            },
        })
    }
}

/// Launching (`Pending`, `Pending:Wait`, `Pending:Proceed`) or in service.
fn is_active(lifecycle: &Lifecycle) -> bool {
    match lifecycle {
        Lifecycle::InService => true,
        Lifecycle::Standby => false,
        Lifecycle::Other(state) => state == "Pending" || state.starts_with("Pending:"),
    }
}
