//! How a function process starts: tracing, its configuration read once from the process
//! environment, the AWS and WEKA clients its handler needs, and the Lambda runtime loop around
//! the handler. Each function's `main` is one call to its entry here.

use crate::adapters::acm::AwsCertificates;
use crate::adapters::autoscaling::AwsScalingGroups;
use crate::adapters::dynamo::{DynamoReferenceStates, DynamoStateStore};
use crate::adapters::ec2::AwsInventory;
use crate::adapters::secrets::SecretsManager;
use crate::adapters::weka_rpc::{JsonRpcConnector, WekaRpcConfig};
use crate::adapters::{AwsClients, load_aws_config};
use crate::config::names::CLUSTER_NAME_ENV;
use crate::config::process_env;
use crate::error::Classify;
use crate::handlers::{
    adopt, certificate, clusterize, clusterize_finalization, deploy, fetch, report, scale_down,
    scale_fetch, status, terminate, transient,
};
use crate::lambda::{Invocation, serve};
use crate::ports::SystemClock;
use crate::ports::metrics;
use lambda_runtime::{Error, service_fn, tracing};
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;

/// The start of every function: transparent huge pages off, then tracing. mimalloc asks the
/// kernel for huge pages on its arena and each 2 MiB page is zeroed whole on its first touch: a
/// process using a few megabytes at init zeroed several (`tests/bench/coldstart.py`: `transient`
/// 3.0-3.2 ms with them, 2.6-2.7 ms without; the page mimalloc touches before `main` stays
/// huge). Only scale-down turns them back on, for its invocations ([`huge_pages_on`]).
fn start() {
    let pages = set_huge_pages(false);
    tracing::init_default_subscriber();
    if let Err(error) = pages {
        tracing::debug!(%error, "transparent huge pages stay as the system sets them");
    }
}

/// Transparent huge pages back on, for scale-down's invocations: decoding WEKA's lists of up to
/// 10,000 machines (78 MB) allocates some 150 MB, faulted in 2 MiB at a time instead of 4 KiB
/// (the planner bench: decode + plan 31.5 ms with them, 37-43 ms without). Idempotent; it only
/// fails where the kernel has no such switch, and then nothing changed.
fn huge_pages_on() {
    if let Err(error) = set_huge_pages(true) {
        tracing::debug!(%error, "transparent huge pages stay as the system sets them");
    }
}

/// `PR_SET_THP_DISABLE`: the process's switch, checked at each page fault, so memory already
/// reserved follows it too.
fn set_huge_pages(on: bool) -> std::io::Result<()> {
    rustix::thread::disable_transparent_huge_pages(!on).map_err(std::io::Error::from)
}

/// Runs `handler` for every invocation until the runtime stops the process.
async fn run_handler<R, E, Fut>(
    handler: impl Fn(serde_json::Value, Invocation) -> Fut,
) -> Result<(), Error>
where
    R: Serialize,
    E: Classify + std::error::Error,
    Fut: Future<Output = Result<R, E>>,
{
    install_metrics();
    let handler = &handler;
    // Boxed, the run and each invocation's future: nested in one another, the runtime's and the
    // handler's futures pass rustc's query depth limit when a release build (rustc 1.95) of
    // scale-down or scale-fetch computes their layout.
    Box::pin(lambda_runtime::run(service_fn(|event| {
        Box::pin(serve(event, |payload, context| {
            handler(payload, Invocation::from_context(&context))
        }))
    })))
    .await
}

/// Sends the metrics handlers emit to stdout, as EMF lines for the cluster in `CLUSTER_NAME`
/// (every function has it); without it, metrics are not written.
fn install_metrics() {
    match process_env(CLUSTER_NAME_ENV).filter(|c| !c.trim().is_empty()) {
        Some(cluster) => metrics::install(metrics::MetricsSink {
            cluster,
            writer: Arc::new(metrics::StdoutMetrics),
        }),
        None => tracing::warn!("{CLUSTER_NAME_ENV} is not set: no metrics are written"),
    }
}

/// `deploy`.
pub async fn deploy() -> Result<(), Error> {
    start();
    let config = deploy::Config::from_lookup(&process_env)?;
    let aws = AwsClients::new(load_aws_config().await);
    let deps = deploy::Deps {
        store: DynamoStateStore::from_clients(&aws, config.state.clone()),
        inventory: AwsInventory::from_clients(&aws),
        config,
    };
    run_handler(|payload, _| deploy::handle(&deps, payload)).await
}

/// `clusterize`.
pub async fn clusterize() -> Result<(), Error> {
    start();
    let config = clusterize::Config::from_lookup(&process_env)?;
    let aws = AwsClients::new(load_aws_config().await);
    let deps = clusterize::Deps {
        store: DynamoStateStore::from_clients(&aws, config.state.clone()),
        inventory: AwsInventory::from_clients(&aws),
        secrets: SecretsManager::from_clients(&aws),
        clock: SystemClock,
        groups: AwsScalingGroups::from_clients(&aws),
        config,
    };
    run_handler(|payload, _| clusterize::handle(&deps, payload)).await
}

/// `clusterize-finalization`.
pub async fn clusterize_finalization() -> Result<(), Error> {
    start();
    let config = clusterize_finalization::Config::from_lookup(&process_env)?;
    let aws = AwsClients::new(load_aws_config().await);
    let deps = clusterize_finalization::Deps {
        store: DynamoStateStore::from_clients(&aws, config.state),
        inventory: AwsInventory::from_clients(&aws),
        clock: SystemClock,
        groups: AwsScalingGroups::from_clients(&aws),
        lifecycle: config.lifecycle,
        callers: config.callers,
    };
    run_handler(|payload, _| clusterize_finalization::handle(&deps, payload)).await
}

/// `report`.
pub async fn report() -> Result<(), Error> {
    start();
    let config = report::Config::from_lookup(&process_env)?;
    let aws = AwsClients::new(load_aws_config().await);
    let deps = report::Deps {
        store: DynamoStateStore::from_clients(&aws, config.state.clone()),
        clock: SystemClock,
        groups: AwsScalingGroups::from_clients(&aws),
        config,
    };
    run_handler(|payload, _| report::handle(&deps, payload)).await
}

/// `status`.
pub async fn status() -> Result<(), Error> {
    start();
    let config = status::Config::from_lookup(&process_env)?;
    let weka = JsonRpcConnector::new(WekaRpcConfig::from_lookup(&process_env)?);
    let aws = AwsClients::new(load_aws_config().await);
    let deps = status::Deps {
        store: DynamoStateStore::from_clients(&aws, config.state.clone()),
        groups: AwsScalingGroups::from_clients(&aws),
        inventory: AwsInventory::from_clients(&aws),
        secrets: SecretsManager::from_clients(&aws),
        weka,
        clock: SystemClock,
        config,
    };
    run_handler(|payload, invocation| status::handle(&deps, payload, invocation.deadline)).await
}

/// `certificate`.
pub async fn certificate() -> Result<(), Error> {
    start();
    let config = certificate::Config::from_lookup(&process_env)?;
    let deps = certificate::Deps {
        certificates: AwsCertificates::from_sdk_config(&load_aws_config().await),
        clock: SystemClock,
        config,
    };
    run_handler(|payload, invocation| certificate::handle(&deps, payload, invocation.deadline))
        .await
}

/// `adopt`.
pub async fn adopt() -> Result<(), Error> {
    start();
    let config = adopt::Config::from_lookup(&process_env)?;
    let weka = JsonRpcConnector::new(WekaRpcConfig::from_lookup(&process_env)?);
    let aws = AwsClients::new(load_aws_config().await);
    let deps = adopt::Deps {
        store: DynamoStateStore::from_clients(&aws, config.state.clone()),
        reference: DynamoReferenceStates::from_clients(&aws, config.reference.clone()),
        inventory: AwsInventory::from_clients(&aws),
        secrets: SecretsManager::from_clients(&aws),
        weka,
        clock: SystemClock,
        config,
    };
    run_handler(|payload, invocation| adopt::handle(&deps, payload, invocation.deadline)).await
}

/// `fetch`.
pub async fn fetch() -> Result<(), Error> {
    start();
    let config = fetch::Config::from_lookup(&process_env)?;
    let aws = AwsClients::new(load_aws_config().await);
    let deps = fetch::Deps {
        groups: AwsScalingGroups::from_clients(&aws),
        inventory: AwsInventory::from_clients(&aws),
        secrets: SecretsManager::from_clients(&aws),
        store: DynamoStateStore::from_clients(&aws, config.state.clone()),
        config,
    };
    run_handler(|payload, _| fetch::handle(&deps, payload)).await
}

/// `scale-fetch`.
pub async fn scale_fetch() -> Result<(), Error> {
    start();
    let config = scale_fetch::Config::from_lookup(&process_env)?;
    let aws = AwsClients::new(load_aws_config().await);
    let deps = scale_fetch::Deps {
        groups: AwsScalingGroups::from_clients(&aws),
        inventory: AwsInventory::from_clients(&aws),
        store: DynamoStateStore::from_clients(&aws, config.state.clone()),
        clock: SystemClock,
        config,
    };
    run_handler(|payload, invocation| scale_fetch::handle(&deps, payload, invocation)).await
}

/// `scale-down`.
pub async fn scale_down() -> Result<(), Error> {
    start();
    let config = scale_down::Config::from_lookup(&process_env)?;
    let weka = JsonRpcConnector::new(WekaRpcConfig::from_lookup(&process_env)?);
    let aws = AwsClients::new(load_aws_config().await);
    let deps = scale_down::Deps {
        store: DynamoStateStore::from_clients(&aws, config.state.clone()),
        secrets: SecretsManager::from_clients(&aws),
        weka,
        clock: SystemClock,
        config,
    };
    run_handler(|payload, invocation| {
        huge_pages_on();
        scale_down::handle(&deps, payload, invocation)
    })
    .await
}

/// `terminate`.
pub async fn terminate() -> Result<(), Error> {
    start();
    let config = terminate::Config::from_lookup(&process_env)?;
    let aws = AwsClients::new(load_aws_config().await);
    let deps = terminate::Deps {
        groups: AwsScalingGroups::from_clients(&aws),
        store: DynamoStateStore::from_clients(&aws, config.state.clone()),
        clock: SystemClock,
        config,
    };
    run_handler(|payload, invocation| terminate::handle(&deps, payload, invocation)).await
}

/// `transient`: no configuration, no clients.
pub async fn transient() -> Result<(), Error> {
    start();
    run_handler(|payload, _| transient::handle(payload)).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The switch is the process's: nextest runs each test in a process of its own.
    #[test]
    fn functions_start_without_huge_pages_and_scale_down_serves_with_them() {
        start();
        assert!(rustix::thread::transparent_huge_pages_are_disabled().unwrap());
        huge_pages_on();
        assert!(!rustix::thread::transparent_huge_pages_are_disabled().unwrap());
    }
}
