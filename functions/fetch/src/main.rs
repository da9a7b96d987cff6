use lambda_runtime::{run, service_fn, tracing};
use weka_shared::adapters::autoscaling::AwsScalingGroups;
use weka_shared::adapters::ec2::AwsInventory;
use weka_shared::adapters::secrets::SecretsManager;
use weka_shared::adapters::{dynamo::DynamoStateStore, load_aws_config};
use weka_shared::config::process_env;
use weka_shared::handlers::fetch::{Config, Deps, handle};
use weka_shared::lambda::Invocation;
use weka_shared::lambda::serve;
use weka_shared::ports::SystemClock;

#[global_allocator]
static ALLOCATOR: weka_shared::lambda::Allocator = weka_shared::lambda::ALLOCATOR;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    let config = Config::from_lookup(&process_env)?;
    let aws = load_aws_config().await;
    let deps = Deps {
        groups: AwsScalingGroups::from_sdk_config(&aws),
        inventory: AwsInventory::from_sdk_config(&aws),
        secrets: SecretsManager::from_sdk_config(&aws),
        store: DynamoStateStore::from_sdk_config(&aws, config.state.clone()),
        clock: SystemClock,
        config,
    };
    let deps = &deps;
    run(service_fn(|event| {
        serve(event, |payload, context| {
            handle(deps, payload, Invocation::from_context(&context))
        })
    }))
    .await
}
