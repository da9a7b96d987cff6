//! The scale loop's handlers (fetch, scale-down, terminate, transient) on in-memory fakes, and
//! the consistency of the state machine definition with the functions and their error types.

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

#[path = "../scale/common.rs"]
mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{Asg, Cb, M, now};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weka_shared::config::geometry::GeometryConfig;
use weka_shared::config::lifecycle::LifecycleConfig;
use weka_shared::domain::scale_down::ClusterSnapshot;
use weka_shared::domain::state::{ClusterState, Group};
use weka_shared::domain::terminate::{AsgHealth, Ec2State, TerminatePolicy};
use weka_shared::error::{Classify, ErrorClass};
use weka_shared::handlers::{fetch, scale_down, scale_fetch, status, terminate, transient};
use weka_shared::lambda::Invocation;
use weka_shared::ports::{
    Acting, Credentials, GroupInstance, Instance, LeaseClaim, LeaseOutcome, StateStore, WekaApi,
    WekaConnector, WekaError,
};
use weka_shared::services::scale_run::SCALE_LEASE;
use weka_shared::testing::{
    FakeClock, FakeInventory, FakeScalingGroups, FakeSecrets, FakeWeka, InMemoryStateStore,
    ScalingCall, assert_no_transient_errors, env, fake_secrets, fetch_env, group_instance,
    invocation, scale_down_config, scale_fetch_env, scale_response, status_deps, terminate_config,
};
use weka_shared::weka::model::HostId;
use weka_shared::wire::bootstrap::Vm;
use weka_shared::wire::scale::{
    HostGroupInfoResponse, InstanceRef, ScaleResponse, TerminatedInstancesResponse,
};

const ASG: &str = "weka-poc-autoscaling-group";
const NFS_ASG: &str = "weka-poc-nfs-protocol-gateway";

async fn clusterized_store() -> InMemoryStateStore {
    let store = InMemoryStateStore::with_sizes(6, 0);
    store.finalize(Group::Backend, now()).await.unwrap();
    store
}

async fn lease_holder(store: &InMemoryStateStore) -> Option<String> {
    // A probe owner takes the lease only if nobody holds it; then gives it back.
    match store
        .acquire_lease(SCALE_LEASE, &"probe".into(), now(), Duration::from_secs(1))
        .await
        .unwrap()
    {
        LeaseOutcome::Held(l) => Some(l.owner),
        LeaseOutcome::Acquired(_) => {
            store.release_lease(SCALE_LEASE, "probe").await.unwrap();
            None
        }
    }
}

mod adversarial;
mod fetch_tests;
mod metrics_tests;
mod plan_tests;
mod refusal_tests;
mod scale_down_failed_tests;
mod scale_down_tests;
mod state_machine;
mod terminate_tests;
mod transient_tests;
