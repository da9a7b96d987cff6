//! The Auto Scaling / EC2 adapter of `terminate` and `fetch` on moto: describe with EC2 state,
//! empty and missing groups, detach without decrement, scale-in protection, API termination,
//! terminate; and the `terminate` handler itself on that adapter, judged by moto's state.

use super::common::{amazon_image, sdk, unique};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::time::Duration;
use weka_shared::adapters::autoscaling::AwsScalingGroups;
use weka_shared::config::lifecycle::LifecycleConfig;
use weka_shared::domain::state::Group;
use weka_shared::domain::terminate::{AsgHealth, Ec2State, Lifecycle, TerminatePolicy};
use weka_shared::handlers::terminate;
use weka_shared::lambda::Invocation;
use weka_shared::ports::{ScalingGroup, ScalingGroups, StateStore};
use weka_shared::testing::{
    FakeClock, InMemoryStateStore, assert_no_transient_errors, scale_response, terminate_config,
};

/// Creates an ASG of `desired` instances protected from scale-in, tagged `role=<name>`.
async fn asg(sdk: &aws_config::SdkConfig, desired: i32) -> String {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let autoscaling = aws_sdk_autoscaling::Client::new(sdk);
    let image = amazon_image(&ec2).await;
    let subnet = ec2.describe_subnets().send().await.unwrap().subnets()[0]
        .subnet_id()
        .unwrap()
        .to_owned();
    let name = unique("asg");
    ec2.create_launch_template()
        .launch_template_name(&name)
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id(image)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .unwrap();
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(&name)
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_name(&name)
                .version("$Latest")
                .build(),
        )
        .min_size(0)
        .max_size(10)
        .desired_capacity(desired)
        .vpc_zone_identifier(subnet)
        .new_instances_protected_from_scale_in(true)
        .tags(
            aws_sdk_autoscaling::types::Tag::builder()
                .key("role")
                .value(&name)
                .propagate_at_launch(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    name
}

/// `None` when `id` is not a member of `group`.
fn protected_from_scale_in(group: &ScalingGroup, id: &str) -> Option<bool> {
    group
        .instances
        .iter()
        .find(|i| i.instance.id == id)
        .map(|i| i.instance.protected_from_scale_in)
}

async fn ec2_state(ec2: &aws_sdk_ec2::Client, id: &str) -> String {
    ec2.describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap()
        .reservations()[0]
        .instances()[0]
        .state()
        .unwrap()
        .name()
        .unwrap()
        .as_str()
        .to_owned()
}

async fn assert_terminating(ec2: &aws_sdk_ec2::Client, id: &str) {
    let state = ec2_state(ec2, id).await;
    assert!(
        matches!(state.as_str(), "shutting-down" | "terminated"),
        "{id} is {state}"
    );
}

async fn termination_protected(ec2: &aws_sdk_ec2::Client, id: &str) -> bool {
    ec2.describe_instance_attribute()
        .instance_id(id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .unwrap()
        .disable_api_termination()
        .and_then(aws_sdk_ec2::types::AttributeBooleanValue::value)
        .unwrap()
}

async fn describe(groups: &AwsScalingGroups, name: &str) -> ScalingGroup {
    let mut found = groups.describe_groups(&[name.to_owned()]).await.unwrap();
    assert_eq!(found.len(), 1);
    found.remove(0)
}

#[tokio::test]
async fn describe_joins_asg_and_ec2_and_tolerates_empty_and_missing_groups() {
    require_emulator!();
    let sdk = sdk().await;
    let full = asg(&sdk, 3).await;
    let empty = asg(&sdk, 0).await;
    let groups = AwsScalingGroups::from_sdk_config(&sdk);
    let found = groups
        .describe_groups(&[full.clone(), empty.clone(), unique("missing")])
        .await
        .unwrap();
    assert_eq!(found.len(), 2, "the missing group is left out");
    let g = found.iter().find(|g| g.name == full).unwrap();
    assert_eq!(g.desired_capacity, 3);
    assert_eq!(g.instances.len(), 3);
    for i in &g.instances {
        assert!(i.instance.private_ip.is_some());
        assert_eq!(i.instance.health, AsgHealth::Healthy);
        assert_eq!(i.instance.lifecycle, Lifecycle::InService);
        assert!(i.instance.protected_from_scale_in);
        assert_eq!(i.instance.ec2_state, Some(Ec2State::Running));
        assert!(i.instance.launch_time.is_some());
        assert_eq!(i.tags.get("role"), Some(&full));
    }
    let e = found.iter().find(|g| g.name == empty).unwrap();
    assert!(e.instances.is_empty(), "an empty group is no error");
    assert!(groups.describe_groups(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn membership_names_the_group_and_state_of_one_instance_and_none_for_strangers() {
    require_emulator!();
    let sdk = sdk().await;
    let name = asg(&sdk, 2).await;
    let groups = AwsScalingGroups::from_sdk_config(&sdk);
    let member = describe(&groups, &name).await.instances[0]
        .instance
        .id
        .clone();
    let found = groups.membership(&member).await.unwrap().unwrap();
    assert_eq!(found.group, name);
    assert_eq!(found.lifecycle, Lifecycle::InService);
    assert_eq!(
        groups.membership("i-00000000deadbeef0").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn detach_protection_and_termination_act_on_the_named_instances_only() {
    require_emulator!();
    let sdk = sdk().await;
    let name = asg(&sdk, 3).await;
    let groups = AwsScalingGroups::from_sdk_config(&sdk);
    let before = describe(&groups, &name).await;
    let ids: Vec<String> = before
        .instances
        .iter()
        .map(|i| i.instance.id.clone())
        .collect();
    let (victim, detached, kept) = (&ids[0], &ids[1], &ids[2]);

    groups.allow_termination(victim).await.unwrap();
    groups
        .set_scale_in_protection(&name, std::slice::from_ref(victim), false)
        .await
        .unwrap();
    let after = describe(&groups, &name).await;
    assert_eq!(protected_from_scale_in(&after, victim), Some(false));
    assert_eq!(protected_from_scale_in(&after, kept), Some(true));

    let terminated = groups
        .terminate(std::slice::from_ref(victim))
        .await
        .unwrap();
    assert_eq!(&terminated, std::slice::from_ref(victim));
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    assert_terminating(&ec2, victim).await;

    groups
        .detach(&name, std::slice::from_ref(detached))
        .await
        .unwrap();
    let after = describe(&groups, &name).await;
    assert!(
        after.instances.iter().all(|i| &i.instance.id != detached),
        "detached instance left the group"
    );
    assert_eq!(
        after.desired_capacity, 3,
        "desired capacity not decremented"
    );
    assert_eq!(protected_from_scale_in(&after, kept), Some(true));
}

#[tokio::test]
async fn termination_protection_is_cleared_and_set_again() {
    require_emulator!();
    let sdk = sdk().await;
    let name = asg(&sdk, 1).await;
    let groups = AwsScalingGroups::from_sdk_config(&sdk);
    let id = describe(&groups, &name).await.instances[0]
        .instance
        .id
        .clone();
    let ec2 = aws_sdk_ec2::Client::new(&sdk);

    groups.protect_from_termination(&id).await.unwrap();
    assert!(termination_protected(&ec2, &id).await);
    groups.allow_termination(&id).await.unwrap();
    assert!(!termination_protected(&ec2, &id).await);
    groups.protect_from_termination(&id).await.unwrap();
    assert!(
        termination_protected(&ec2, &id).await,
        "protected again, as after a failed termination"
    );
}

/// The handler on the real Auto Scaling / EC2 adapter, for a clusterized backend group `asg_name`.
async fn terminate_deps(
    sdk: &aws_config::SdkConfig,
    asg_name: &str,
    now: DateTime<Utc>,
) -> terminate::Deps<AwsScalingGroups, InMemoryStateStore, FakeClock> {
    let store = InMemoryStateStore::with_sizes(5, 0);
    store.finalize(Group::Backend, now).await.unwrap();
    terminate::Deps {
        groups: AwsScalingGroups::from_sdk_config(sdk),
        store,
        clock: FakeClock::at(now),
        config: terminate_config(
            asg_name,
            None,
            TerminatePolicy::default(),
            LifecycleConfig::disabled(),
        ),
    }
}

#[tokio::test]
async fn terminate_handler_detaches_the_unhealthy_and_terminates_only_stopped_and_old_strays() {
    require_emulator!();
    let sdk = sdk().await;
    let name = asg(&sdk, 4).await;
    let autoscaling = aws_sdk_autoscaling::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    // As deployed: terminate, not the group, decides what becomes of an unhealthy instance.
    autoscaling
        .suspend_processes()
        .auto_scaling_group_name(&name)
        .scaling_processes("ReplaceUnhealthy")
        .send()
        .await
        .unwrap();
    let groups = AwsScalingGroups::from_sdk_config(&sdk);
    let older = describe(&groups, &name).await;
    let older_ids: Vec<String> = older
        .instances
        .iter()
        .map(|i| i.instance.id.clone())
        .collect();
    let (weka, sick, stopped, old_stray) =
        (&older_ids[0], &older_ids[1], &older_ids[2], &older_ids[3]);
    // moto stamps launch times to the second: the young stray must launch in a later one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    autoscaling
        .set_desired_capacity()
        .auto_scaling_group_name(&name)
        .desired_capacity(5)
        .send()
        .await
        .unwrap();
    let young_stray = describe(&groups, &name)
        .await
        .instances
        .into_iter()
        .map(|i| i.instance.id)
        .find(|id| !older_ids.contains(id))
        .unwrap();

    for id in older_ids.iter().chain([&young_stray]) {
        ec2.modify_instance_attribute()
            .instance_id(id)
            .disable_api_termination(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    autoscaling
        .set_instance_protection()
        .auto_scaling_group_name(&name)
        .instance_ids(sick)
        .protected_from_scale_in(false)
        .send()
        .await
        .unwrap();
    ec2.stop_instances()
        .instance_ids(stopped)
        .send()
        .await
        .unwrap();
    // AWS's EC2 health check marks a stopped instance Unhealthy by itself; moto does not.
    for id in [sick, stopped] {
        autoscaling
            .set_instance_health()
            .instance_id(id)
            .health_status("Unhealthy")
            .send()
            .await
            .unwrap();
    }
    let member = |id: &str| {
        &older
            .instances
            .iter()
            .find(|i| i.instance.id == id)
            .unwrap()
            .instance
    };
    let ip = |id: &str| member(id).private_ip.clone().unwrap();
    let launch_time = |id: &str| member(id).launch_time.unwrap();
    // WEKA runs containers on these two and removed none.
    let scale = scale_response(&[&ip(weka), &ip(sick)], &[], &[]);
    let older_launch = older_ids.iter().map(|id| launch_time(id)).max().unwrap();
    // The older instances are exactly one grace old, the young stray launched after them is not.
    let now = older_launch + TerminatePolicy::default().bootstrap_grace;

    let deps = terminate_deps(&sdk, &name, now).await;
    let out = terminate::handle(
        &deps,
        json!({"execution": unique("exec"), "input": scale}),
        Invocation {
            request_id: unique("request"),
            deadline: None,
        },
    )
    .await
    .unwrap();

    assert_no_transient_errors(&out.transient_errors);
    let mut terminated: Vec<(&str, DateTime<Utc>)> = out
        .set_to_terminate_instances
        .iter()
        .map(|t| (t.instance_id.as_str(), t.creation_date))
        .collect();
    terminated.sort_unstable();
    let mut expected = vec![
        (stopped.as_str(), launch_time(stopped)),
        (old_stray.as_str(), launch_time(old_stray)),
    ];
    expected.sort_unstable();
    assert_eq!(terminated, expected);
    for id in [stopped, old_stray] {
        assert_terminating(&ec2, id).await;
        assert!(!termination_protected(&ec2, id).await, "{id}");
    }
    assert_eq!(
        ec2_state(&ec2, sick).await,
        "running",
        "detached, not terminated"
    );
    for id in [weka, &young_stray] {
        assert_eq!(ec2_state(&ec2, id).await, "running", "{id}");
    }
    for id in [weka, sick, &young_stray] {
        assert!(termination_protected(&ec2, id).await, "{id}");
    }

    let after = describe(&groups, &name).await;
    assert_eq!(after.desired_capacity, 5, "no detach decremented it");
    assert_eq!(protected_from_scale_in(&after, sick), None, "detached");
    // Terminated through EC2 while ReplaceUnhealthy is suspended: as on AWS, the group keeps
    // them (Unhealthy) until a later run detaches them; never protected from scale-in.
    for gone in [stopped, old_stray] {
        assert_ne!(protected_from_scale_in(&after, gone), Some(true), "{gone}");
    }
    for kept in [weka, &young_stray] {
        assert_eq!(protected_from_scale_in(&after, kept), Some(true), "{kept}");
    }
}
