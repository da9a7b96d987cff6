//! The instance inventory on EC2 and Auto Scaling.

use crate::ports::{Instance, InstanceInventory, InventoryError};
use aws_sdk_ec2::types::Filter;

/// Inventory backed by `DescribeInstances` and `DescribeAutoScalingGroups`.
#[derive(Debug, Clone)]
pub struct AwsInventory {
    ec2: super::LazyClient<aws_sdk_ec2::Client>,
    autoscaling: super::LazyClient<aws_sdk_autoscaling::Client>,
}

impl AwsInventory {
    /// Both clients on the shared SDK configuration, built on first use.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Self::from_clients(&super::AwsClients::new(sdk.clone()))
    }

    /// On the process's EC2 and Auto Scaling clients.
    pub fn from_clients(clients: &super::AwsClients) -> Self {
        Self {
            ec2: clients.ec2(),
            autoscaling: clients.autoscaling(),
        }
    }
}

fn inventory_error(
    operation: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> InventoryError {
    InventoryError {
        operation,
        source: Box::new(source),
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn to_instance(instance: &aws_sdk_ec2::types::Instance) -> Option<Instance> {
    Some(Instance {
        id: instance.instance_id()?.to_owned(),
        private_ip: instance.private_ip_address().map(str::to_owned),
        private_dns_name: instance
            .private_dns_name()
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
    })
}

impl AwsInventory {
    /// Running instances carrying every `(filter name, value)` tag filter, sorted by id.
    async fn running_tagged(&self, tags: &[(&str, &str)]) -> Result<Vec<Instance>, InventoryError> {
        let mut request = self
            .ec2
            .describe_instances()
            .filters(filter("instance-state-name", "running"));
        for (name, value) in tags {
            request = request.filters(filter(name, value));
        }
        let mut pages = request.into_paginator().send();
        let mut instances = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| inventory_error("describe_instances", e))?;
            instances.extend(
                page.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .filter_map(to_instance),
            );
        }
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(instances)
    }
}

impl InstanceInventory for AwsInventory {
    async fn running_instances(
        &self,
        cluster: &str,
        hostgroup: &str,
    ) -> Result<Vec<Instance>, InventoryError> {
        self.running_tagged(&[
            ("tag:weka_cluster_name", cluster),
            ("tag:weka_hostgroup_type", hostgroup),
        ])
        .await
    }

    async fn running_gateways(
        &self,
        cluster: &str,
        protocol: &str,
    ) -> Result<Vec<Instance>, InventoryError> {
        self.running_tagged(&[
            ("tag:weka_cluster_name", cluster),
            ("tag:weka_hostgroup_type", "gateways-protocol"),
            ("tag:protocol", protocol),
        ])
        .await
    }

    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>, InventoryError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pages = self
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .into_paginator()
            .send();
        let mut instances = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| inventory_error("describe_instances", e))?;
            instances.extend(
                page.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .filter_map(to_instance),
            );
        }
        Ok(instances)
    }

    async fn attached_volume(
        &self,
        instance_id: &str,
        device: &str,
    ) -> Result<Option<String>, InventoryError> {
        let out = self
            .ec2
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| inventory_error("describe_instances", e))?;
        Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .flat_map(|i| i.block_device_mappings())
            .find(|m| m.device_name() == Some(device))
            .and_then(|m| m.ebs())
            .and_then(|ebs| ebs.volume_id())
            .map(str::to_owned))
    }

    async fn load_balancer_ip(&self, arn_suffix: &str) -> Result<Option<String>, InventoryError> {
        let out = self
            .ec2
            .describe_network_interfaces()
            .filters(filter("description", &format!("ELB {arn_suffix}")))
            .send()
            .await
            .map_err(|e| inventory_error("describe_network_interfaces", e))?;
        Ok(out
            .network_interfaces()
            .iter()
            .filter_map(|eni| eni.private_ip_address())
            .min()
            .map(str::to_owned))
    }

    async fn secondary_ips(&self, instance_ids: &[String]) -> Result<Vec<String>, InventoryError> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let out = self
            .ec2
            .describe_network_interfaces()
            .filters(
                Filter::builder()
                    .name("attachment.instance-id")
                    .set_values(Some(instance_ids.to_vec()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| inventory_error("describe_network_interfaces", e))?;
        let mut ips: Vec<String> = out
            .network_interfaces()
            .iter()
            .flat_map(|eni| eni.private_ip_addresses())
            .filter(|a| a.primary() != Some(true))
            .filter_map(|a| a.private_ip_address())
            .map(str::to_owned)
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
        if ids.is_empty() {
            return Ok(());
        }
        self.ec2
            .create_tags()
            .set_resources(Some(ids.to_vec()))
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| inventory_error("create_tags", e))?;
        Ok(())
    }

    async fn desired_capacity(&self, asg_name: &str) -> Result<Option<u32>, InventoryError> {
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(asg_name)
            .send()
            .await
            .map_err(|e| inventory_error("describe_auto_scaling_groups", e))?;
        Ok(out
            .auto_scaling_groups()
            .first()
            .and_then(|g| g.desired_capacity())
            .and_then(|d| u32::try_from(d).ok()))
    }
}
