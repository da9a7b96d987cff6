//! SMB and S3 protocol-cluster settings of `clusterize`: whether the gateways create the
//! protocol's cluster, on how many gateways, and the SMB cluster's name and domain.

use super::names::{
    S3_PROTOCOL_GATEWAYS_NUM_ENV, S3_SETUP_PROTOCOL_ENV, SMB_CLUSTER_NAME_ENV, SMB_DOMAIN_NAME_ENV,
    SMB_PROTOCOL_GATEWAYS_NUM_ENV, SMB_SETUP_PROTOCOL_ENV,
};
use super::{ConfigError, Lookup};

/// Default of [`SMB_CLUSTER_NAME_ENV`] (the reference's).
pub const DEFAULT_SMB_CLUSTER_NAME: &str = "Weka-SMB";
/// WEKA's S3 port, as the reference creates the cluster with.
pub const S3_PORT: u16 = 9000;
/// The filesystem new S3 buckets go to.
pub const S3_DEFAULT_FS: &str = "default";
/// Gateways an SMB cluster spans (WEKA's bounds, the reference's precondition).
pub const SMB_GATEWAYS: std::ops::RangeInclusive<u32> = 3..=8;

/// The SMB cluster the SMB gateways create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmbSetup {
    /// NetBIOS name.
    pub name: String,
    /// Active Directory domain.
    pub domain: String,
    /// Gateways the cluster is created on.
    pub gateways: u32,
}

/// The S3 cluster the S3 gateways create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S3Setup {
    /// Gateways the cluster is created on.
    pub gateways: u32,
}

/// Which protocol clusters the gateways create; `None` = the gateways only join WEKA as
/// frontends (`*_SETUP_PROTOCOL=false`, or no gateways of the protocol).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolSetup {
    /// SMB (and SMB-W) gateways.
    pub smb: Option<SmbSetup>,
    /// S3 gateways.
    pub s3: Option<S3Setup>,
}

fn netbios_name(value: &str) -> bool {
    (1..=15).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !value.starts_with('-')
}

fn domain_name(value: &str) -> bool {
    (1..=253).contains(&value.len())
        && value.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

impl ProtocolSetup {
    /// Reads the settings; a name or domain WEKA would refuse fails here, naming the variable.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        let smb_gateways: u32 = env.parsed_or(SMB_PROTOCOL_GATEWAYS_NUM_ENV, 0)?;
        let s3_gateways: u32 = env.parsed_or(S3_PROTOCOL_GATEWAYS_NUM_ENV, 0)?;
        let name = env
            .optional(SMB_CLUSTER_NAME_ENV)
            .unwrap_or_else(|| DEFAULT_SMB_CLUSTER_NAME.to_owned());
        if !netbios_name(&name) {
            return Err(ConfigError::Invalid {
                name: SMB_CLUSTER_NAME_ENV,
                value: name,
                reason: "expected a NetBIOS name: 1 to 15 letters, digits or -".to_owned(),
            });
        }
        let domain = env.optional(SMB_DOMAIN_NAME_ENV).unwrap_or_default();
        if !domain.is_empty() && !domain_name(&domain) {
            return Err(ConfigError::Invalid {
                name: SMB_DOMAIN_NAME_ENV,
                value: domain,
                reason: "expected a DNS domain such as corp.example.com".to_owned(),
            });
        }
        let smb = if env.flag_or(SMB_SETUP_PROTOCOL_ENV, true)? && smb_gateways > 0 {
            if !SMB_GATEWAYS.contains(&smb_gateways) {
                return Err(ConfigError::Invalid {
                    name: SMB_PROTOCOL_GATEWAYS_NUM_ENV,
                    value: smb_gateways.to_string(),
                    reason: "an SMB cluster spans 3 to 8 gateways".to_owned(),
                });
            }
            if domain.is_empty() {
                return Err(ConfigError::Missing {
                    name: SMB_DOMAIN_NAME_ENV,
                });
            }
            Some(SmbSetup {
                name,
                domain,
                gateways: smb_gateways,
            })
        } else {
            None
        };
        let s3 =
            (env.flag_or(S3_SETUP_PROTOCOL_ENV, true)? && s3_gateways > 0).then_some(S3Setup {
                gateways: s3_gateways,
            });
        Ok(Self { smb, s3 })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    fn setup(pairs: &[(&str, &str)]) -> Result<ProtocolSetup, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProtocolSetup::from_lookup(&env)
    }

    #[test]
    fn no_gateways_or_setup_off_means_no_protocol_cluster() {
        assert_eq!(setup(&[]).unwrap(), ProtocolSetup::default());
        let off = setup(&[
            (SMB_PROTOCOL_GATEWAYS_NUM_ENV, "3"),
            (SMB_SETUP_PROTOCOL_ENV, "false"),
            (S3_PROTOCOL_GATEWAYS_NUM_ENV, "1"),
            (S3_SETUP_PROTOCOL_ENV, "false"),
        ])
        .unwrap();
        assert_eq!(off, ProtocolSetup::default());
    }

    #[test]
    fn smb_and_s3_are_read_with_defaults() {
        let got = setup(&[
            (SMB_PROTOCOL_GATEWAYS_NUM_ENV, "3"),
            (SMB_DOMAIN_NAME_ENV, "corp.example.com"),
            (S3_PROTOCOL_GATEWAYS_NUM_ENV, "1"),
        ])
        .unwrap();
        assert_eq!(
            got.smb,
            Some(SmbSetup {
                name: DEFAULT_SMB_CLUSTER_NAME.to_owned(),
                domain: "corp.example.com".to_owned(),
                gateways: 3
            })
        );
        assert_eq!(got.s3, Some(S3Setup { gateways: 1 }));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let smb = [
            (SMB_PROTOCOL_GATEWAYS_NUM_ENV, "3"),
            (SMB_DOMAIN_NAME_ENV, "corp.example.com"),
        ];
        let with = |extra: (&'static str, &'static str)| {
            let mut all = smb.to_vec();
            all.retain(|(k, _)| *k != extra.0);
            all.push(extra);
            setup(&all).unwrap_err().to_string()
        };
        let err = with((SMB_CLUSTER_NAME_ENV, "far-too-long-smb-name"));
        assert!(
            err.contains("SMB_CLUSTER_NAME") && err.contains("NetBIOS"),
            "{err}"
        );
        let err = with((SMB_DOMAIN_NAME_ENV, "bad domain"));
        assert!(err.contains("SMB_DOMAIN_NAME"), "{err}");
        let err = with((SMB_DOMAIN_NAME_ENV, ""));
        assert!(err.contains("SMB_DOMAIN_NAME is required"), "{err}");
        let err = with((SMB_PROTOCOL_GATEWAYS_NUM_ENV, "2"));
        assert!(err.contains("3 to 8"), "{err}");
        let err = with((SMB_SETUP_PROTOCOL_ENV, "yes please"));
        assert!(err.contains("SMB_SETUP_PROTOCOL"), "{err}");
        let err = with((SMB_PROTOCOL_GATEWAYS_NUM_ENV, "three"));
        assert!(err.contains("SMB_PROTOCOL_GATEWAYS_NUM"), "{err}");
    }
}
