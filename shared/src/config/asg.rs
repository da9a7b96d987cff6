//! The cluster's Auto Scaling groups as configured: the backend group (`ASG_NAME`, required)
//! and the NFS gateway group (`NFS_ASG_NAME`, absent when the cluster has none).

use super::names::{ASG_NAME_ENV, NFS_ASG_NAME_ENV};
use super::{ConfigError, Lookup};

/// The groups the scale steps read and act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsgConfig {
    /// The backend group.
    pub backend: String,
    /// The NFS protocol gateway group, when configured.
    pub nfs: Option<String>,
}

impl AsgConfig {
    /// Reads both names; the backend group is required.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            backend: env.required(ASG_NAME_ENV)?,
            nfs: env.optional(NFS_ASG_NAME_ENV),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::test_env as env;

    #[test]
    fn the_backend_group_is_required_and_an_empty_nfs_group_is_none() {
        assert_eq!(
            AsgConfig::from_lookup(&env(&[("NFS_ASG_NAME", "n")])),
            Err(ConfigError::Missing { name: ASG_NAME_ENV })
        );
        let groups =
            AsgConfig::from_lookup(&env(&[("ASG_NAME", "b"), ("NFS_ASG_NAME", "")])).unwrap();
        assert_eq!((groups.backend.as_str(), groups.nfs), ("b", None));
    }
}
