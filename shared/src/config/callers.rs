//! Who may call the instance-facing functions (`CallerPolicy`): the cluster's groups a named
//! instance must be in, and, when the deployment passes AWS's regional certificate, the
//! identity documents state-changing requests must carry. Read once at init.

use super::asg::AsgConfig;
use super::names::{AWS_REGION_ENV, INSTANCE_IDENTITY_CERTIFICATE_ENV, REGION_ENV};
use super::{ConfigError, Lookup};
use crate::domain::identity::IdentityVerifier;

/// The rules an instance request is admitted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerPolicy {
    /// The groups an instance the request names must be in.
    pub groups: AsgConfig,
    /// Checks identity documents; `None` when the deployment passes no certificate.
    pub identity: Option<IdentityVerifier>,
}

impl CallerPolicy {
    /// Reads the groups and, if set, the certificate (refused at init when unusable).
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        let groups = AsgConfig::from_lookup(env)?;
        let identity = match env.optional(INSTANCE_IDENTITY_CERTIFICATE_ENV) {
            None => {
                tracing::warn!(
                    "no instance identity certificate: instance requests are bound to the cluster's groups but not to the calling instance"
                );
                None
            }
            Some(certificate) => {
                let region = env
                    .optional(REGION_ENV)
                    .or_else(|| env.optional(AWS_REGION_ENV))
                    .ok_or(ConfigError::Missing { name: REGION_ENV })?;
                Some(
                    IdentityVerifier::from_certificate(&certificate, &region).map_err(|e| {
                        ConfigError::Invalid {
                            name: INSTANCE_IDENTITY_CERTIFICATE_ENV,
                            value: certificate.chars().take(40).collect(),
                            reason: e.to_string(),
                        }
                    })?,
                )
            }
        };
        Ok(Self { groups, identity })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::test_env as env;

    const CERTIFICATE: &str = include_str!("../../../tests/localcloud/identity/certificate.pem");

    #[test]
    fn without_a_certificate_identities_are_not_checked() {
        let policy = CallerPolicy::from_lookup(&env(&[("ASG_NAME", "b")])).unwrap();
        assert_eq!(policy.identity, None);
        assert_eq!(policy.groups.backend, "b");
    }

    #[test]
    fn a_certificate_is_read_once_and_an_unusable_one_fails_init() {
        let policy = CallerPolicy::from_lookup(&env(&[
            ("ASG_NAME", "b"),
            ("REGION", "us-east-1"),
            ("INSTANCE_IDENTITY_CERTIFICATE", CERTIFICATE),
        ]))
        .unwrap();
        assert!(policy.identity.is_some());
        assert!(matches!(
            CallerPolicy::from_lookup(&env(&[
                ("ASG_NAME", "b"),
                ("REGION", "us-east-1"),
                ("INSTANCE_IDENTITY_CERTIFICATE", "MIIB"),
            ])),
            Err(ConfigError::Invalid {
                name: INSTANCE_IDENTITY_CERTIFICATE_ENV,
                ..
            })
        ));
    }
}
