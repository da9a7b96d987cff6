//! The fault matrix over the real handlers (issue 15, "Must show"): every port (state store,
//! Auto Scaling, EC2, Secrets Manager, WEKA) wrapped in one [`FaultPlan`]; each story played
//! unfaulted to count its calls K, then once per call index k < K and fault kind (fail before,
//! fail after the effect, hang, hang after the effect) with that one fault, the callers
//! retrying as the scripts and the state machine do and the minutes going on until nothing
//! moves. After recovery: one clusterization per claim; no member abandoned; no instance WEKA
//! counts on terminated; every terminate target terminated or protected again; the machines
//! deactivated those of the unfaulted plan and the healthy count never below its floor; no
//! scale run acting without the lease; the same end as the unfaulted run. Each story prints a
//! summary line (`cargo nextest run ... --no-capture` shows it).

#![allow(clippy::unwrap_used, clippy::too_many_lines)]

#[path = "../scale/common.rs"]
mod common;

mod agents;
mod checks;
mod findings;
mod matrix;
mod steps;
mod stories;
mod weka_model;
mod world;

use agents::*;
use chrono::{DateTime, TimeDelta, Utc};
use common::{Asg, Cb, M, now};
use futures::FutureExt as _;
use matrix::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steps::*;
use stories::*;
use weka_model::*;
use weka_shared::config::lifecycle::LifecycleConfig;
use weka_shared::domain::lifecycle::{LifecycleResult, Transition};
use weka_shared::domain::notes::{
    LEASE_NOTE, SCALE_DOWN_FAILURE_NOTE, SCALE_NOTE, WEKA_REFUSALS_NOTE,
};
use weka_shared::domain::scale_down::ClusterSnapshot;
use weka_shared::domain::state::Group;
use weka_shared::domain::terminate::TerminatePolicy;
use weka_shared::error::{Classify, ErrorClass, error_chain};
use weka_shared::handlers::{
    clusterize, clusterize_finalization, deploy, report, scale_down, scale_fetch, terminate,
};
use weka_shared::lambda::Invocation;
use weka_shared::ports::{
    Clock, Instance, LifecycleAnswer, LifecycleTarget, ScalingGroups, Secrets, StateStore,
    WekaError,
};
use weka_shared::services::scale_run::SCALE_LEASE;
use weka_shared::testing::{
    BACKEND_GROUP, CLUSTER_NAME, FakeInventory, FakeScalingGroups, FakeSecrets, FakeWeka,
    FaultKind, FaultPlan, Faulty, InMemoryStateStore, NFS_GROUP, Port, PortCall, ScalingCall,
    TokioClock, bootstrap_env, callers, group_instance, scale_down_config, scale_fetch_env,
    state_config, terminate_config,
};
use weka_shared::weka::model::{DriveStatus, HostId, HostState, HostStatus};
use weka_shared::wire::bootstrap::Vm;
use world::*;

/// Faults that fail a call at once, and faults that hang it: two tests per story, so the
/// matrix spreads over the cores.
const FAILS: [FaultKind; 2] = [FaultKind::FailBefore, FaultKind::FailAfter];
const HANGS: [FaultKind; 2] = [FaultKind::Hang, FaultKind::HangAfterEffect];

async fn matrix_of(story: Story, kinds: &[FaultKind]) {
    let summary = run_matrix(story, kinds).await;
    assert!(
        summary.failures.is_empty(),
        "{} faulted runs did not recover:\n{}",
        summary.failures.len(),
        summary.failures.join("\n")
    );
}

macro_rules! matrix_tests {
    ($($fails:ident, $hangs:ident: $story:expr;)*) => {$(
        #[tokio::test(start_paused = true)]
        async fn $fails() {
            matrix_of($story, &FAILS).await;
        }

        #[tokio::test(start_paused = true)]
        async fn $hangs() {
            matrix_of($story, &HANGS).await;
        }
    )*};
}

matrix_tests! {
    bootstrap_recovers_from_every_failed_call, bootstrap_recovers_from_every_hung_call: Story::Bootstrap;
    scale_in_recovers_from_every_failed_call, scale_in_recovers_from_every_hung_call: Story::ScaleIn;
    terminate_hook_recovers_from_every_failed_call, terminate_hook_recovers_from_every_hung_call: Story::TerminateHook;
    launch_hook_recovers_from_every_failed_call, launch_hook_recovers_from_every_hung_call: Story::LaunchHook;
    unhealthy_member_recovers_from_every_failed_call, unhealthy_member_recovers_from_every_hung_call: Story::Unhealthy;
}
