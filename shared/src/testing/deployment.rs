//! One fake deployment for handler tests: cluster `poc`, state table `t`, the WEKA credentials
//! under the secret ids `user-id` / `deploy-pw-id` / `admin-pw-id`; the handlers' configurations
//! and deps on it, and scale-down's answer as `terminate` receives it.

use super::{FakeClock, FakeInventory, FakeScalingGroups, FakeSecrets};
use crate::config::StateConfig;
use crate::config::asg::AsgConfig;
use crate::config::callers::CallerPolicy;
use crate::config::lifecycle::LifecycleConfig;
use crate::domain::terminate::TerminatePolicy;
use crate::handlers::{scale_down, status, terminate};
use crate::lambda::Invocation;
use crate::ports::SecretsConfig;
use crate::weka::model::{HostId, HostState};
use crate::wire::scale::{InstanceRef, PROTOCOL_VERSION, ScaleHost, ScaleResponse, go_zero_time};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

/// The deployment's cluster name (instance tag `weka_cluster_name`).
pub const CLUSTER_NAME: &str = "poc";

/// The deployment's backend Auto Scaling group.
pub const BACKEND_GROUP: &str = "weka-poc-autoscaling-group";
/// The deployment's NFS gateway Auto Scaling group.
pub const NFS_GROUP: &str = "weka-poc-nfs-protocol-gateway";

/// Instance requests bound to the deployment's groups, identities not checked.
pub fn callers() -> CallerPolicy {
    CallerPolicy {
        groups: AsgConfig {
            backend: BACKEND_GROUP.to_owned(),
            nfs: Some(NFS_GROUP.to_owned()),
        },
        identity: None,
    }
}

/// An environment of literal pairs, for a `Config::from_lookup`.
pub fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The environment `deploy` and `clusterize` read: a six-backend cluster (stripe 3,
/// protection 2, one hot spare) whose passwords go under [`secrets_config`]'s ids.
pub fn bootstrap_env() -> HashMap<String, String> {
    env(&[
        ("STATE_TABLE", "t"),
        ("STATE_KEY", "weka-poc-state"),
        ("NFS_STATE_KEY", "weka-poc-nfs-state"),
        ("CLUSTER_NAME", CLUSTER_NAME),
        ("REGION", "eu-west-1"),
        ("REPORT_LAMBDA_NAME", "weka-poc-report-lambda"),
        ("CLUSTERIZE_LAMBDA_NAME", "weka-poc-clusterize-lambda"),
        (
            "CLUSTERIZE_FINALIZATION_LAMBDA_NAME",
            "weka-poc-clusterize-finalization-lambda",
        ),
        ("FETCH_LAMBDA_NAME", "weka-poc-fetch-lambda"),
        ("STATUS_LAMBDA_NAME", "weka-poc-status-lambda"),
        (
            "TOKEN_ID",
            "arn:aws:secretsmanager:eu-west-1:1:secret:weka/token",
        ),
        (
            "INSTALL_URL",
            "https://$TOKEN@get.weka.io/dist/v1/install/4.4.2/4.4.2?provider=aws&region=eu-west-1",
        ),
        ("COMPUTE_MEMORY", "32.9GB"),
        ("COMPUTE_CONTAINER_CORES_NUM", "2"),
        ("DRIVE_CONTAINER_CORES_NUM", "1"),
        ("FRONTEND_CONTAINER_CORES_NUM", "1"),
        ("NICS_NUM", "5"),
        ("HOSTS_NUM", "6"),
        ("STRIPE_WIDTH", "3"),
        ("PROTECTION_LEVEL", "2"),
        ("HOTSPARE", "1"),
        ("ADMIN_PASSWORD_ID", "admin-pw-id"),
        ("DEPLOYMENT_PASSWORD_ID", "deploy-pw-id"),
        ("CLUSTERIZE_TIMEOUT_MINUTES", "30"),
        ("ASG_NAME", BACKEND_GROUP),
        ("NFS_ASG_NAME", NFS_GROUP),
    ])
}

/// Where the deployment's state lives.
pub fn state_config() -> StateConfig {
    StateConfig {
        table: "t".to_owned(),
        state_key: "weka-poc-state".to_owned(),
        nfs_state_key: "weka-poc-nfs-state".to_owned(),
    }
}

/// The secret ids of the deployment's WEKA credentials.
pub fn secrets_config() -> SecretsConfig {
    SecretsConfig {
        username_id: "user-id".to_owned(),
        deployment_password_id: "deploy-pw-id".to_owned(),
        admin_password_id: "admin-pw-id".to_owned(),
    }
}

/// The secrets [`secrets_config`] names: user `weka-deployment`, deployment password
/// `deploy-secret-pw`, admin password `admin-secret-pw`.
pub fn fake_secrets() -> FakeSecrets {
    FakeSecrets::with(&[
        ("user-id", "weka-deployment"),
        ("deploy-pw-id", "deploy-secret-pw"),
        ("admin-pw-id", "admin-secret-pw"),
    ])
}

/// An invocation at `now` with two minutes left.
pub fn invocation(now: DateTime<Utc>) -> Invocation {
    Invocation {
        request_id: "req-1".to_owned(),
        deadline: Some(now + TimeDelta::seconds(120)),
    }
}

/// The environment `fetch` reads for the backend group `asg_name`, with `extra` added.
pub fn fetch_env(asg_name: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars = group_env(asg_name);
    vars.extend(env(&[
        ("USERNAME_ID", "user-id"),
        ("DEPLOYMENT_PASSWORD_ID", "deploy-pw-id"),
        ("ADMIN_PASSWORD_ID", "admin-pw-id"),
    ]));
    vars.extend(env(extra));
    assert_in_function_env("fetch", &vars);
    vars
}

/// The environment `scale-fetch` reads for the backend group `asg_name`, with `extra` added.
pub fn scale_fetch_env(asg_name: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars = group_env(asg_name);
    vars.extend(env(extra));
    assert_in_function_env("scale-fetch", &vars);
    vars
}

fn group_env(asg_name: &str) -> HashMap<String, String> {
    env(&[
        ("STATE_TABLE", "t"),
        ("STATE_KEY", "weka-poc-state"),
        ("NFS_STATE_KEY", "weka-poc-nfs-state"),
        ("CLUSTER_NAME", CLUSTER_NAME),
        ("ASG_NAME", asg_name),
    ])
}

/// The environment names `function` gets, from `infra/function-env.json` (the table the
/// module and the harness are checked against too).
pub fn function_env_names(function: &str) -> BTreeSet<String> {
    let table: BTreeMap<String, BTreeSet<String>> =
        serde_json::from_str(include_str!("../../../infra/function-env.json"))
            .expect("infra/function-env.json is a map of function to names");
    table
        .get(function)
        .cloned()
        .unwrap_or_else(|| panic!("{function} is not in infra/function-env.json"))
}

/// Panics when a fixture environment sets a name `function` never gets from the module.
pub fn assert_in_function_env(function: &str, vars: &HashMap<String, String>) {
    let names = function_env_names(function);
    let unknown: Vec<&String> = vars.keys().filter(|k| !names.contains(*k)).collect();
    assert!(
        unknown.is_empty(),
        "fixture environment of {function} sets {unknown:?}, which the module never gives it"
    );
}

/// `scale-down` with the geometry read from WEKA, no configured minimum, a 180 s lease and the
/// default parallelism.
pub fn scale_down_config(lifecycle: LifecycleConfig) -> scale_down::Config {
    scale_down::Config {
        state: state_config(),
        secrets: secrets_config(),
        geometry: None,
        min_cluster_size: 0,
        lease_ttl: Duration::from_secs(180),
        parallelism: scale_down::DEFAULT_PARALLELISM,
        lifecycle,
    }
}

/// `terminate` of the backend group `asg_name` (and NFS group `nfs_asg_name`), with a 180 s
/// lease.
pub fn terminate_config(
    asg_name: &str,
    nfs_asg_name: Option<&str>,
    policy: TerminatePolicy,
    lifecycle: LifecycleConfig,
) -> terminate::Config {
    terminate::Config {
        state: state_config(),
        asg_name: asg_name.to_owned(),
        nfs_asg_name: nfs_asg_name.map(str::to_owned),
        policy,
        lease_ttl: Duration::from_secs(180),
        lifecycle,
    }
}

/// `status` on `store` and `weka` at `now`, with an empty inventory and no backend group named.
pub fn status_deps<S, W>(
    store: S,
    weka: W,
    now: DateTime<Utc>,
) -> status::Deps<S, FakeScalingGroups, FakeInventory, FakeSecrets, W, FakeClock> {
    status::Deps {
        store,
        groups: FakeScalingGroups::default(),
        inventory: FakeInventory::default(),
        secrets: fake_secrets(),
        weka,
        clock: FakeClock::at(now),
        config: status::Config {
            state: state_config(),
            cluster_name: CLUSTER_NAME.to_owned(),
            secrets: secrets_config(),
            asg_name: None,
            plan: None,
        },
    }
}

/// Scale-down's answer: WEKA runs active containers on `weka_ips` (host ids 1, 2, ...), removed
/// those of the `(instance id, private IP)` pairs `to_terminate`, and met `transient_errors`.
pub fn scale_response(
    weka_ips: &[&str],
    to_terminate: &[(&str, &str)],
    transient_errors: &[&str],
) -> ScaleResponse {
    ScaleResponse {
        hosts: weka_ips
            .iter()
            .zip(1..)
            .map(|(ip, host_id)| ScaleHost {
                instance_id: String::new(),
                private_ip: (*ip).to_owned(),
                status: HostState::Active,
                added_time: go_zero_time(),
                host_id: HostId(host_id),
            })
            .collect(),
        to_terminate: to_terminate
            .iter()
            .map(|(id, ip)| InstanceRef {
                id: (*id).to_owned(),
                private_ip: (*ip).to_owned(),
            })
            .collect(),
        transient_errors: transient_errors.iter().map(|e| (*e).to_owned()).collect(),
        version: PROTOCOL_VERSION,
        refusal: None,
        held_back: Vec::new(),
    }
}

/// Fails, naming them, when a step met errors (its `TransientErrors`).
#[track_caller]
pub fn assert_no_transient_errors(errors: &[String]) {
    assert!(errors.is_empty(), "transient errors: {errors:?}");
}
