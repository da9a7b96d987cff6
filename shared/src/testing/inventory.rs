//! [`FakeInventory`]: instances, volumes, addresses, tags and ASG capacities in memory, with an
//! injectable failure.

use crate::ports::{Instance, InstanceInventory, InventoryError};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Instances and ASG capacities in memory.
#[derive(Debug, Default)]
pub struct FakeInventory {
    /// Running instances per `(cluster, hostgroup)`.
    pub running: Mutex<HashMap<(String, String), Vec<Instance>>>,
    /// Desired capacity per ASG name.
    pub desired: Mutex<HashMap<String, u32>>,
    /// When set, every call fails.
    pub fail: Mutex<bool>,
    /// Every known instance (any state), for `describe_instances`.
    pub known: Mutex<Vec<Instance>>,
    /// Volume ids per `(instance, device)`.
    pub volumes: Mutex<HashMap<(String, String), String>>,
    /// Load balancer IPs per ARN suffix.
    pub load_balancers: Mutex<HashMap<String, String>>,
    /// Secondary IPs per instance.
    pub secondaries: Mutex<HashMap<String, Vec<String>>>,
    /// Tags set, per instance.
    pub tags: Mutex<HashMap<String, BTreeMap<String, String>>>,
}

impl FakeInventory {
    /// Adds running instances to a host group.
    pub fn add_running(&self, cluster: &str, hostgroup: &str, instances: Vec<Instance>) {
        self.known.lock().unwrap().extend(instances.iter().cloned());
        self.running
            .lock()
            .unwrap()
            .entry((cluster.to_owned(), hostgroup.to_owned()))
            .or_default()
            .extend(instances);
    }

    /// Adds running protocol gateways tagged `protocol=<protocol>` (`SMB`, `S3`).
    pub fn add_gateways(&self, cluster: &str, protocol: &str, instances: Vec<Instance>) {
        self.add_running(cluster, &gateway_key(protocol), instances);
    }

    fn check(&self, operation: &'static str) -> Result<(), InventoryError> {
        if *self.fail.lock().unwrap() {
            return Err(InventoryError {
                operation,
                source: "injected inventory failure".into(),
            });
        }
        Ok(())
    }
}

/// Where [`FakeInventory::running`] keeps one protocol's gateways.
fn gateway_key(protocol: &str) -> String {
    format!("gateways-protocol/{protocol}")
}

impl InstanceInventory for FakeInventory {
    async fn running_instances(
        &self,
        cluster: &str,
        hostgroup: &str,
    ) -> Result<Vec<Instance>, InventoryError> {
        self.check("describe_instances")?;
        Ok(self
            .running
            .lock()
            .unwrap()
            .get(&(cluster.to_owned(), hostgroup.to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    async fn running_gateways(
        &self,
        cluster: &str,
        protocol: &str,
    ) -> Result<Vec<Instance>, InventoryError> {
        self.running_instances(cluster, &gateway_key(protocol))
            .await
    }

    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>, InventoryError> {
        self.check("describe_instances")?;
        let known = self.known.lock().unwrap();
        // Reverse order on purpose: callers must pair ids and IPs by id, not by position.
        Ok(known
            .iter()
            .rev()
            .filter(|i| ids.contains(&i.id))
            .cloned()
            .collect())
    }

    async fn attached_volume(
        &self,
        instance_id: &str,
        device: &str,
    ) -> Result<Option<String>, InventoryError> {
        self.check("describe_instances")?;
        Ok(self
            .volumes
            .lock()
            .unwrap()
            .get(&(instance_id.to_owned(), device.to_owned()))
            .cloned())
    }

    async fn load_balancer_ip(&self, arn_suffix: &str) -> Result<Option<String>, InventoryError> {
        self.check("describe_network_interfaces")?;
        Ok(self.load_balancers.lock().unwrap().get(arn_suffix).cloned())
    }

    async fn secondary_ips(&self, instance_ids: &[String]) -> Result<Vec<String>, InventoryError> {
        self.check("describe_network_interfaces")?;
        let map = self.secondaries.lock().unwrap();
        let mut ips: Vec<String> = instance_ids
            .iter()
            .flat_map(|id| map.get(id).cloned().unwrap_or_default())
            .collect();
        ips.sort();
        Ok(ips)
    }

    async fn tag_instances(
        &self,
        ids: &[String],
        key: &str,
        value: &str,
    ) -> Result<(), InventoryError> {
        self.check("create_tags")?;
        let mut tags = self.tags.lock().unwrap();
        for id in ids {
            tags.entry(id.clone())
                .or_default()
                .insert(key.to_owned(), value.to_owned());
        }
        Ok(())
    }

    async fn desired_capacity(&self, asg_name: &str) -> Result<Option<u32>, InventoryError> {
        self.check("describe_auto_scaling_groups")?;
        Ok(self.desired.lock().unwrap().get(asg_name).copied())
    }
}
