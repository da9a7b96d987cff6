//! Secrets Manager and the EC2 inventory on moto.

use super::common::{amazon_image, sdk, unique};
use weka_shared::adapters::ec2::AwsInventory;
use weka_shared::adapters::secrets::SecretsManager;
use weka_shared::ports::{InstanceInventory, SecretError, Secrets};

#[tokio::test]
async fn secrets_without_a_value_read_as_empty_and_values_round_trip() {
    require_emulator!();
    let sdk = sdk().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let id = format!("weka/{}/weka-password", unique("test"));
    client.create_secret().name(&id).send().await.unwrap();
    let secrets = SecretsManager::from_sdk_config(&sdk);
    assert!(matches!(
        secrets.get(&id).await,
        Err(SecretError::Empty { .. })
    ));
    assert!(matches!(
        secrets.get("weka/absent").await,
        Err(SecretError::Empty { .. })
    ));
    secrets.put(&id, "s3cr3t-value").await.unwrap();
    assert_eq!(secrets.get(&id).await.unwrap(), "s3cr3t-value");
    let err = secrets.put("weka/absent", "x").await.unwrap_err();
    assert!(!format!("{err:?}").contains("\"x\""));
}

#[tokio::test]
async fn inventory_lists_running_tagged_instances_with_private_ips() {
    require_emulator!();
    let sdk = sdk().await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let cluster = unique("inv");
    let image = amazon_image(&ec2).await;
    let tag = |key: &str, value: &str| {
        aws_sdk_ec2::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
    };
    let tags = |role: &str, protocol: Option<&str>| {
        aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
            .set_tags(protocol.map(|p| vec![tag("protocol", p)]))
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("weka_cluster_name")
                    .value(&cluster)
                    .build(),
            )
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("weka_hostgroup_type")
                    .value(role)
                    .build(),
            )
            .build()
    };
    let run = |role: &'static str, protocol: Option<&'static str>, count: i32| {
        ec2.run_instances()
            .image_id(&image)
            .min_count(count)
            .max_count(count)
            .tag_specifications(tags(role, protocol))
            .send()
    };
    let backends = run("backend", None, 3).await.unwrap();
    run("gateways-protocol", None, 1).await.unwrap();
    run("gateways-protocol", Some("SMB"), 3).await.unwrap();
    run("gateways-protocol", Some("S3"), 1).await.unwrap();
    let stopped = backends.instances()[2].instance_id().unwrap().to_owned();
    ec2.terminate_instances()
        .instance_ids(&stopped)
        .send()
        .await
        .unwrap();

    let inventory = AwsInventory::from_sdk_config(&sdk);
    let running = inventory
        .running_instances(&cluster, "backend")
        .await
        .unwrap();
    assert_eq!(running.len(), 2, "{running:?}");
    assert!(
        running
            .iter()
            .all(|i| i.private_ip.is_some() && i.id != stopped)
    );
    assert_eq!(
        inventory
            .running_instances(&cluster, "gateways-protocol")
            .await
            .unwrap()
            .len(),
        5
    );
    let smb = inventory.running_gateways(&cluster, "SMB").await.unwrap();
    assert_eq!(smb.len(), 3, "{smb:?}");
    assert!(smb.windows(2).all(|w| w[0].id < w[1].id), "sorted by id");
    assert!(smb.iter().all(|i| i.private_ip.is_some()));
    assert_eq!(
        inventory
            .running_gateways(&cluster, "S3")
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        inventory
            .running_gateways(&unique("other"), "SMB")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        inventory.desired_capacity("no-such-asg").await.unwrap(),
        None
    );
}
