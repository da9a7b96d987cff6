//! A running EC2 instance as the decisions see it: id, private address and DNS name.

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
