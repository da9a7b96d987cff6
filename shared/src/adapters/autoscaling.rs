//! The cluster's Auto Scaling groups on the AWS SDK: `DescribeAutoScalingGroups` joined with
//! `DescribeInstances`, the mutations `terminate` performs, and the lifecycle-hook answers
//! (`CompleteLifecycleAction`, `RecordLifecycleActionHeartbeat`). AWS's `ValidationError` "No
//! active Lifecycle Action found" becomes [`LifecycleAnswer::NotPending`].

use crate::domain::lifecycle::LifecycleResult;
use crate::domain::terminate::{AsgHealth, AsgInstance, Ec2State, Lifecycle};
use crate::ports::{
    GroupInstance, LifecycleAnswer, LifecycleTarget, Membership, ScalingError, ScalingGroup,
    ScalingGroups,
};
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::AttributeBooleanValue;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// Most instance ids per `DescribeInstances` call.
const DESCRIBE_CHUNK: usize = 100;

/// Auto Scaling + EC2 clients.
#[derive(Debug, Clone)]
pub struct AwsScalingGroups {
    autoscaling: super::LazyClient<aws_sdk_autoscaling::Client>,
    ec2: super::LazyClient<aws_sdk_ec2::Client>,
}

impl AwsScalingGroups {
    /// Both clients on the shared SDK configuration, built on first use.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Self::from_clients(&super::AwsClients::new(sdk.clone()))
    }

    /// On the process's Auto Scaling and EC2 clients.
    pub fn from_clients(clients: &super::AwsClients) -> Self {
        Self {
            autoscaling: clients.autoscaling(),
            ec2: clients.ec2(),
        }
    }
}

fn scaling_error(
    operation: &'static str,
    target: impl Into<String>,
    source: impl std::error::Error + Send + Sync + 'static,
) -> ScalingError {
    ScalingError {
        operation,
        target: target.into(),
        source: Box::new(source),
    }
}

/// What EC2 says about one instance.
#[derive(Debug, Clone, Default)]
struct Ec2View {
    state: Option<Ec2State>,
    launch_time: Option<DateTime<Utc>>,
    private_ip: Option<String>,
    tags: BTreeMap<String, String>,
}

fn ec2_state(name: &str) -> Option<Ec2State> {
    Some(match name {
        "pending" => Ec2State::Pending,
        "running" => Ec2State::Running,
        "stopping" => Ec2State::Stopping,
        "stopped" => Ec2State::Stopped,
        "shutting-down" => Ec2State::ShuttingDown,
        "terminated" => Ec2State::Terminated,
        _ => return None,
    })
}

fn ec2_view(instance: &aws_sdk_ec2::types::Instance) -> Ec2View {
    Ec2View {
        state: instance
            .state()
            .and_then(|s| s.name())
            .and_then(|n| ec2_state(n.as_str())),
        launch_time: instance
            .launch_time()
            .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
        private_ip: instance
            .private_ip_address()
            .filter(|ip| !ip.is_empty())
            .map(str::to_owned),
        tags: instance
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
            .collect(),
    }
}

impl AwsScalingGroups {
    /// Sets or clears `DisableApiTermination`, then `DisableApiStop` (EC2 changes one attribute
    /// per call).
    async fn set_termination_protection(
        &self,
        instance_id: &str,
        protected: bool,
    ) -> Result<(), ScalingError> {
        let value = || AttributeBooleanValue::builder().value(protected).build();
        self.ec2
            .modify_instance_attribute()
            .instance_id(instance_id)
            .disable_api_termination(value())
            .send()
            .await
            .map_err(|e| {
                scaling_error(
                    "modify_instance_attribute disable_api_termination",
                    instance_id,
                    e,
                )
            })?;
        self.ec2
            .modify_instance_attribute()
            .instance_id(instance_id)
            .disable_api_stop(value())
            .send()
            .await
            .map_err(|e| {
                scaling_error("modify_instance_attribute disable_api_stop", instance_id, e)
            })?;
        Ok(())
    }

    /// EC2's view of `ids`; an id EC2 does not know is left out.
    async fn describe_instances(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Ec2View>, ScalingError> {
        let mut views = HashMap::new();
        for chunk in ids.chunks(DESCRIBE_CHUNK) {
            match self.describe_chunk(chunk, &mut views).await {
                Ok(()) => {}
                // One unknown id fails the whole call: ask one by one to keep the known ones.
                Err(e) if is_not_found(&e) => {
                    for id in chunk {
                        match self
                            .describe_chunk(std::slice::from_ref(id), &mut views)
                            .await
                        {
                            Ok(()) => {}
                            Err(e) if is_not_found(&e) => {}
                            Err(e) => return Err(scaling_error("describe_instances", id, e)),
                        }
                    }
                }
                Err(e) => return Err(scaling_error("describe_instances", chunk.join(","), e)),
            }
        }
        Ok(views)
    }

    async fn describe_chunk(
        &self,
        ids: &[String],
        views: &mut HashMap<String, Ec2View>,
    ) -> Result<(), DescribeError> {
        let mut pages = self
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for reservation in page?.reservations() {
                for instance in reservation.instances() {
                    if let Some(id) = instance.instance_id() {
                        views.insert(id.to_owned(), ec2_view(instance));
                    }
                }
            }
        }
        Ok(())
    }
}

type DescribeError = aws_sdk_ec2::error::SdkError<
    aws_sdk_ec2::operation::describe_instances::DescribeInstancesError,
    aws_sdk_ec2::config::http::HttpResponse,
>;

fn is_not_found(e: &DescribeError) -> bool {
    e.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|c| c.starts_with("InvalidInstanceID"))
}

/// Whether a lifecycle call failed only because the action is no longer pending.
fn is_not_pending<E: ProvideErrorMetadata>(error: &E) -> bool {
    error.code() == Some("ValidationError")
        && error
            .message()
            .is_some_and(|m| m.contains("No active Lifecycle Action"))
}

fn lifecycle_answer<E, R>(
    operation: &'static str,
    target: &LifecycleTarget,
    result: Result<
        R,
        aws_sdk_autoscaling::error::SdkError<E, aws_sdk_autoscaling::config::http::HttpResponse>,
    >,
) -> Result<LifecycleAnswer, ScalingError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(LifecycleAnswer::Accepted),
        Err(e) if e.as_service_error().is_some_and(is_not_pending) => {
            Ok(LifecycleAnswer::NotPending)
        }
        Err(e) => Err(scaling_error(operation, &target.instance_id, e)),
    }
}

fn to_u32(v: Option<i32>) -> u32 {
    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

impl ScalingGroups for AwsScalingGroups {
    async fn membership(&self, instance_id: &str) -> Result<Option<Membership>, ScalingError> {
        let answer = self
            .autoscaling
            .describe_auto_scaling_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| scaling_error("describe_auto_scaling_instances", instance_id, e))?;
        Ok(answer
            .auto_scaling_instances()
            .iter()
            .find(|i| i.instance_id() == Some(instance_id))
            .and_then(|i| {
                Some(Membership {
                    group: i.auto_scaling_group_name()?.to_owned(),
                    lifecycle: Lifecycle::parse(i.lifecycle_state()?),
                })
            }))
    }

    async fn describe_groups(&self, names: &[String]) -> Result<Vec<ScalingGroup>, ScalingError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut raw = Vec::new();
        let mut pages = self
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names.to_vec()))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| scaling_error("describe_auto_scaling_groups", names.join(","), e))?;
            raw.extend(page.auto_scaling_groups().iter().cloned());
        }
        let ids: Vec<String> = raw
            .iter()
            .flat_map(|g| g.instances())
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        // The reference called DescribeInstances with an empty id list, which EC2 rejects.
        let views = if ids.is_empty() {
            HashMap::new()
        } else {
            self.describe_instances(&ids).await?
        };
        let mut groups = Vec::new();
        for g in &raw {
            let Some(name) = g.auto_scaling_group_name() else {
                continue;
            };
            let mut instances: Vec<GroupInstance> = g
                .instances()
                .iter()
                .filter_map(|i| {
                    let id = i.instance_id()?;
                    let view = views.get(id).cloned().unwrap_or_default();
                    Some(GroupInstance {
                        instance: AsgInstance {
                            id: id.to_owned(),
                            private_ip: view.private_ip,
                            health: if i
                                .health_status()
                                .is_some_and(|h| h.eq_ignore_ascii_case("Unhealthy"))
                            {
                                AsgHealth::Unhealthy
                            } else {
                                AsgHealth::Healthy
                            },
                            lifecycle: Lifecycle::parse(
                                i.lifecycle_state().map_or("", |l| l.as_str()),
                            ),
                            protected_from_scale_in: i.protected_from_scale_in().unwrap_or(false),
                            ec2_state: view.state,
                            launch_time: view.launch_time,
                        },
                        tags: view.tags,
                    })
                })
                .collect();
            instances.sort_by(|a, b| a.instance.id.cmp(&b.instance.id));
            groups.push(ScalingGroup {
                name: name.to_owned(),
                desired_capacity: to_u32(g.desired_capacity()),
                min_size: to_u32(g.min_size()),
                max_size: to_u32(g.max_size()),
                instances,
            });
        }
        Ok(groups)
    }

    async fn detach(&self, group: &str, instance_ids: &[String]) -> Result<(), ScalingError> {
        self.autoscaling
            .detach_instances()
            .auto_scaling_group_name(group)
            .set_instance_ids(Some(instance_ids.to_vec()))
            .should_decrement_desired_capacity(false)
            .send()
            .await
            .map_err(|e| scaling_error("detach_instances", instance_ids.join(","), e))?;
        Ok(())
    }

    async fn set_scale_in_protection(
        &self,
        group: &str,
        instance_ids: &[String],
        protected: bool,
    ) -> Result<(), ScalingError> {
        self.autoscaling
            .set_instance_protection()
            .auto_scaling_group_name(group)
            .set_instance_ids(Some(instance_ids.to_vec()))
            .protected_from_scale_in(protected)
            .send()
            .await
            .map_err(|e| scaling_error("set_instance_protection", instance_ids.join(","), e))?;
        Ok(())
    }

    async fn allow_termination(&self, instance_id: &str) -> Result<(), ScalingError> {
        self.set_termination_protection(instance_id, false).await
    }

    async fn protect_from_termination(&self, instance_id: &str) -> Result<(), ScalingError> {
        self.set_termination_protection(instance_id, true).await
    }

    async fn terminate(&self, instance_ids: &[String]) -> Result<Vec<String>, ScalingError> {
        let out = self
            .ec2
            .terminate_instances()
            .set_instance_ids(Some(instance_ids.to_vec()))
            .send()
            .await
            .map_err(|e| scaling_error("terminate_instances", instance_ids.join(","), e))?;
        Ok(out
            .terminating_instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect())
    }

    async fn complete_lifecycle_action(
        &self,
        target: &LifecycleTarget,
        result: LifecycleResult,
    ) -> Result<LifecycleAnswer, ScalingError> {
        let sent = self
            .autoscaling
            .complete_lifecycle_action()
            .auto_scaling_group_name(&target.group)
            .lifecycle_hook_name(&target.hook)
            .instance_id(&target.instance_id)
            .set_lifecycle_action_token(target.token.clone())
            .lifecycle_action_result(result.as_str())
            .send()
            .await;
        lifecycle_answer("complete_lifecycle_action", target, sent)
    }

    async fn record_lifecycle_action_heartbeat(
        &self,
        target: &LifecycleTarget,
    ) -> Result<LifecycleAnswer, ScalingError> {
        let sent = self
            .autoscaling
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&target.group)
            .lifecycle_hook_name(&target.hook)
            .instance_id(&target.instance_id)
            .set_lifecycle_action_token(target.token.clone())
            .send()
            .await;
        lifecycle_answer("record_lifecycle_action_heartbeat", target, sent)
    }
}
