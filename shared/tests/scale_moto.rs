//! The Auto Scaling / EC2 adapter of `terminate` and `fetch` against moto server (started by
//! `make test`; endpoint in `WEKA_TEST_AWS_ENDPOINT`): describe with EC2 state, empty and
//! missing groups, detach without decrement, scale-in protection, API termination, terminate.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use weka_shared::adapters::autoscaling::AwsScalingGroups;
use weka_shared::domain::terminate::{AsgHealth, Ec2State, Lifecycle};
use weka_shared::ports::{ScalingGroup, ScalingGroups};

static SEQ: AtomicU32 = AtomicU32::new(0);

async fn sdk() -> aws_config::SdkConfig {
    let endpoint = std::env::var("WEKA_TEST_AWS_ENDPOINT").expect(
        "WEKA_TEST_AWS_ENDPOINT is not set: run these tests through `make test`, which starts moto",
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// Creates an ASG of `desired` instances protected from scale-in, tagged `role=<name>`.
async fn asg(sdk: &aws_config::SdkConfig, desired: i32) -> String {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let autoscaling = aws_sdk_autoscaling::Client::new(sdk);
    let image = ec2
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .unwrap()
        .images()[0]
        .image_id()
        .unwrap()
        .to_owned();
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

async fn describe(groups: &AwsScalingGroups, name: &str) -> ScalingGroup {
    let mut found = groups.describe_groups(&[name.to_owned()]).await.unwrap();
    assert_eq!(found.len(), 1);
    found.remove(0)
}

#[tokio::test]
async fn describe_joins_asg_and_ec2_and_tolerates_empty_and_missing_groups() {
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
async fn detach_protection_and_termination_act_on_the_named_instances_only() {
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
    let protected = |g: &ScalingGroup, id: &str| {
        g.instances
            .iter()
            .find(|i| i.instance.id == id)
            .map(|i| i.instance.protected_from_scale_in)
    };
    assert_eq!(protected(&after, victim), Some(false));
    assert_eq!(protected(&after, kept), Some(true));

    let terminated = groups
        .terminate(std::slice::from_ref(victim))
        .await
        .unwrap();
    assert_eq!(&terminated, std::slice::from_ref(victim));
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let state = ec2
        .describe_instances()
        .instance_ids(victim)
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
        .to_owned();
    assert!(
        matches!(state.as_str(), "shutting-down" | "terminated"),
        "{state}"
    );

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
    assert_eq!(protected(&after, kept), Some(true));
}
