//! A running EC2 instance as the decisions see it (id, private address and DNS name), and what
//! an instance may say about itself when it registers.

use crate::wire::bootstrap::Vm;

/// A running instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Instance {
    /// EC2 instance id.
    pub id: String,
    /// Primary private IPv4 address.
    pub private_ip: Option<String>,
    /// Private DNS name (`ip-10-0-1-2.ec2.internal` or a resource name).
    pub private_dns_name: Option<String>,
}

/// An EC2 instance id as instances send it (`i-` and 8 to 32 letters or digits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(String);

/// A name that is not an EC2 instance id; holds the name as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an EC2 instance id")]
pub struct InvalidInstanceId(pub String);

impl InstanceId {
    /// Checks that `name` looks like an EC2 instance id.
    pub fn parse(name: &str) -> Result<Self, InvalidInstanceId> {
        let valid = name.strip_prefix("i-").is_some_and(|rest| {
            (8..=32).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidInstanceId(name.to_owned()))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Longest WEKA container uid accepted at registration (a UUID is 36 characters).
pub const MAX_CONTAINER_UID_BYTES: usize = 64;
/// Longest NIC name accepted at registration (Linux interface names are at most 15 bytes).
pub const MAX_NIC_NAME_BYTES: usize = 15;

/// A registration field that cannot be what it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationFieldError {
    /// Longer than any real value.
    #[error("{field} is {len} bytes; at most {max} are accepted")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A character no real value has.
    #[error("{field} {value:?} has characters other than letters, digits, '-', '_', '.' or ':'")]
    Characters {
        /// The field.
        field: &'static str,
        /// The value, cut to the bound.
        value: String,
    },
}

/// Checks the optional fields an instance registers with (`container_uid`, `nic_name`): both
/// are stored in the group's state item, so their size and alphabet are bounded.
pub fn check_registration_fields(vm: &Vm) -> Result<(), RegistrationFieldError> {
    for (field, value, max) in [
        ("container_uid", &vm.container_uid, MAX_CONTAINER_UID_BYTES),
        ("nic_name", &vm.nic_name, MAX_NIC_NAME_BYTES),
    ] {
        if value.len() > max {
            return Err(RegistrationFieldError::TooLong {
                field,
                len: value.len(),
                max,
            });
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        {
            return Err(RegistrationFieldError::Characters {
                field,
                value: value.clone(),
            });
        }
    }
    Ok(())
}
