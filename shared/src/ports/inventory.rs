//! What runs in the cluster's instance groups, as AWS sees it (EC2 and Auto Scaling).

use std::future::Future;

use super::BoxError;

/// Failure to read the inventory.
#[derive(Debug, thiserror::Error)]
#[error("instance inventory failed during {operation}")]
pub struct InventoryError {
    /// The operation that failed.
    pub operation: &'static str,
    /// The underlying error.
    #[source]
    pub source: BoxError,
}

pub use crate::domain::instance::Instance;

/// Read access to the cluster's instances.
pub trait InstanceInventory: Send + Sync {
    /// Running instances tagged `weka_cluster_name=<cluster>` and
    /// `weka_hostgroup_type=<hostgroup>` (`backend` or `gateways-protocol`).
    fn running_instances(
        &self,
        cluster: &str,
        hostgroup: &str,
    ) -> impl Future<Output = Result<Vec<Instance>, InventoryError>> + Send;

    /// Running protocol gateways of one protocol: tagged `weka_cluster_name=<cluster>`,
    /// `weka_hostgroup_type=gateways-protocol` and `protocol=<protocol>` (`SMB`, `S3`, as the
    /// reference tags them), sorted by instance id.
    fn running_gateways(
        &self,
        cluster: &str,
        protocol: &str,
    ) -> impl Future<Output = Result<Vec<Instance>, InventoryError>> + Send;

    /// The named instances (any state), in no particular order; unknown ids are left out.
    fn describe_instances(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Instance>, InventoryError>> + Send;

    /// Id of the EBS volume attached to `instance_id` at `device` (e.g. `/dev/sdp`).
    fn attached_volume(
        &self,
        instance_id: &str,
        device: &str,
    ) -> impl Future<Output = Result<Option<String>, InventoryError>> + Send;

    /// Private IP of the internal load balancer whose ARN suffix is `arn_suffix`.
    fn load_balancer_ip(
        &self,
        arn_suffix: &str,
    ) -> impl Future<Output = Result<Option<String>, InventoryError>> + Send;

    /// Secondary private IPs of the network interfaces attached to `instance_ids`.
    fn secondary_ips(
        &self,
        instance_ids: &[String],
    ) -> impl Future<Output = Result<Vec<String>, InventoryError>> + Send;

    /// Sets tag `key=value` on the given instances.
    fn tag_instances(
        &self,
        ids: &[String],
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), InventoryError>> + Send;

    /// The ASG's desired capacity, `None` when the group does not exist.
    fn desired_capacity(
        &self,
        asg_name: &str,
    ) -> impl Future<Output = Result<Option<u32>, InventoryError>> + Send;
}
