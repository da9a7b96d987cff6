//! `terminate` (state-machine step 3, behaviour.md §10 with its defects fixed): plans with the
//! pure `plan_terminate`, then per group allows API termination, lifts scale-in protection,
//! terminates, and detaches unhealthy instances (never decrementing desired capacity) in
//! batches of 20.
//!
//! Every failure becomes a `TransientErrors` entry; none is dropped. An instance whose
//! attribute change or protection lift failed is not terminated, and protection is lifted only
//! for instances about to be terminated (and restored if their termination, or the lift itself,
//! failed). The step renews the `scale` lease first and releases it at the end: it is the run's
//! last acting step.
//!
//! Lost calls: the machines scale-down removed are noted (`pending-terminations`) before any is
//! terminated and named again by later runs while their group holds them; a registered member
//! that left its group before the registration set completed is evicted from the set.
//!
//! It also holds the lifecycle hooks' level-triggered pass (`lifecycle::reconcile`): it
//! completes decided actions (whose first completion failed, or that scale-down decided), closes
//! actions that ended elsewhere, abandons launches silent past the heartbeat timeout, lets
//! terminations go a margin before their deadline, heartbeats the members of a cluster still
//! forming and the terminations scale-down held back (`held_back`: safety floor, in-flight
//! cap), and records wait states whose events were lost (e.g. to a held lease).
//!
//! Paused by an operator (the `pause` control item): nothing is terminated or detached, neither
//! scale-down's removed machines (noted in `pending-terminations` all the same, so they are named
//! again once resumed) nor unhealthy or never-bootstrapped instances. Evictions from a forming set and
//! the lifecycle pass go on: they answer Auto Scaling about terminations it chose itself.
//!
//! When scale-down failed (issue 15 item 4), the state machine still runs this step, on an input
//! with no scale answer and the caught failure: the lifecycle pass, the unhealthy detaches and
//! the bootstrap recycling run (`plan_terminate_without_scale_answer`), no machine is terminated
//! on WEKA's account, and the failure is recorded (`scale-down-failure` note, shown by `status`)
//! and passed on so the execution still ends failed.

use crate::config::asg::AsgConfig;
use crate::config::lifecycle::LifecycleConfig;
use crate::config::names::SCALE_LEASE_TTL_ENV;
use crate::config::terminate::terminate_policy;
use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::events::EventKind;
use crate::domain::formation::departed_members;
use crate::domain::lifecycle::{Held, Members};
use crate::domain::metrics::terminate_samples;
use crate::domain::notes::{
    Note as _, PENDING_TERMINATIONS_NOTE, PendingTerminationsNote, SCALE_DOWN_FAILURE_NOTE,
    ScaleDownFailureNote,
};
use crate::domain::state::Group;
use crate::domain::terminate::{
    AsgSnapshot, AsgTerminatePlan, Forming, TerminateError, TerminatePolicy, TerminateTarget,
    plan_terminate, plan_terminate_without_scale_answer, with_pending_terminations,
};
use crate::error::{Classify, ErrorClass, error_chain};
use crate::lambda::Invocation;
use crate::lambda::PayloadError;
use crate::ports::metrics;
use crate::ports::{Clock, ScalingError, ScalingGroups, StateStore, StoreError};
use crate::services::events;
use crate::services::lifecycle::{error_texts, run_reconcile};
use crate::services::notes::read_note;
use crate::services::scale_run::{
    DEFAULT_SCALE_LEASE_TTL, LeaseHeld, Step, decode_step, hold_scale_lease, release_scale_lease,
};
use crate::wire::scale::{
    PROTOCOL_VERSION, ScaleDownFailure, ScaleResponse, TerminateInput, TerminatedInstance,
    TerminatedInstancesResponse, go_zero_time,
};
use futures::StreamExt as _;
use std::collections::BTreeSet;
use std::time::Duration;

/// Concurrent `ModifyInstanceAttribute` calls.
const ATTRIBUTE_PARALLELISM: usize = 10;

/// `terminate` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the lease lives.
    pub state: StateConfig,
    /// Backend ASG.
    pub asg_name: String,
    /// NFS ASG, when configured.
    pub nfs_asg_name: Option<String>,
    /// Grace, cap and batch size.
    pub policy: TerminatePolicy,
    /// Lease hold.
    pub lease_ttl: Duration,
    /// The backend group's hooks.
    pub lifecycle: LifecycleConfig,
}

impl Config {
    /// Reads the configuration.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        let groups = AsgConfig::from_lookup(env)?;
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
            asg_name: groups.backend,
            nfs_asg_name: groups.nfs,
            policy: terminate_policy(env)?,
            lease_ttl: env.duration_or(SCALE_LEASE_TTL_ENV, DEFAULT_SCALE_LEASE_TTL)?,
            lifecycle: LifecycleConfig::from_lookup(env)?,
        })
    }
}

/// What `terminate` needs.
#[derive(Debug)]
pub struct Deps<G, S, C> {
    /// Auto Scaling groups.
    pub groups: G,
    /// State store (lease).
    pub store: S,
    /// Clock.
    pub clock: C,
    /// Configuration.
    pub config: Config,
}

/// Why `terminate` failed before acting.
#[derive(Debug, thiserror::Error)]
pub enum TerminateHandlerError {
    /// Malformed payload.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The scale response speaks another protocol version.
    #[error(transparent)]
    Version(#[from] TerminateError),
    /// Another execution is acting.
    #[error(transparent)]
    LeaseHeld(#[from] LeaseHeld),
    /// The lease could not be taken.
    #[error("scale lease could not be taken")]
    Store(#[from] StoreError),
    /// The groups could not be read.
    #[error("auto scaling groups could not be read")]
    Scaling(#[from] ScalingError),
}

impl Classify for TerminateHandlerError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_) | Self::Version(_) => ErrorClass::InvalidInput,
            Self::LeaseHeld(_) => ErrorClass::Conflict,
            Self::Store(e) => e.class(),
            Self::Scaling(_) => ErrorClass::Transient,
        }
    }
}

/// Handles one `terminate` invocation.
#[tracing::instrument(skip_all, fields(execution))]
pub async fn handle<G, S, C>(
    deps: &Deps<G, S, C>,
    payload: serde_json::Value,
    invocation: Invocation,
) -> Result<TerminatedInstancesResponse, TerminateHandlerError>
where
    G: ScalingGroups,
    S: StateStore,
    C: Clock,
{
    let step: Step<TerminateInput> = decode_step(payload)?;
    let now = deps.clock.now();
    let claim = step.claim(&invocation, now, deps.config.lease_ttl);
    tracing::Span::current().record("execution", claim.owner.as_str());
    hold_scale_lease(&deps.store, &claim, now, deps.config.lease_ttl).await??;
    // Boxed: the SDK futures nest deeper than the default layout query limit.
    let result = Box::pin(run(deps, &step.input, &claim.owner)).await;
    release_scale_lease(&deps.store, &claim.owner).await;
    result
}

async fn run<G, S, C>(
    deps: &Deps<G, S, C>,
    input: &TerminateInput,
    owner: &str,
) -> Result<TerminatedInstancesResponse, TerminateHandlerError>
where
    G: ScalingGroups,
    S: StateStore,
    C: Clock,
{
    let mut names = vec![deps.config.asg_name.clone()];
    names.extend(deps.config.nfs_asg_name.clone());
    let groups = deps.groups.describe_groups(&names).await?;
    let snapshots: Vec<_> = groups.iter().map(|g| g.snapshot()).collect();
    let (forming, eviction_errors) = forming_groups(deps, &snapshots).await?;
    let failure = input.scale_down_failure.as_ref();
    // Unreadable, the pause is not assumed lifted: the run fails and terminates nothing.
    let pause = deps.store.paused().await?;
    let mut errors = match failure {
        None => Vec::new(),
        Some(failure) => note_scale_down_failure(deps, failure, owner).await,
    };
    errors.extend(eviction_errors);
    // Noted even while paused: a machine scale-down removed just before the pause is named again
    // once it is lifted.
    let (scale, pending_errors) = match failure {
        None => pending_terminations(deps, &input.scale, &snapshots).await,
        Some(_) => (input.scale.clone(), Vec::new()),
    };
    let mut terminated = Vec::new();
    let mut detaches = 0;
    if let Some(pause) = &pause {
        tracing::warn!(%pause, "terminations paused: terminating and detaching nothing");
        errors.extend(pending_errors);
    } else {
        let plan = match failure {
            None => plan_terminate(
                &snapshots,
                &scale,
                &deps.config.policy,
                &forming,
                deps.clock.now(),
            )?,
            Some(_) => plan_terminate_without_scale_answer(
                &snapshots,
                &deps.config.policy,
                &forming,
                deps.clock.now(),
            ),
        };
        if failure.is_none() {
            errors.splice(0..0, plan.transient_errors.iter().cloned());
        }
        errors.extend(pending_errors);
        detaches = plan
            .asgs
            .iter()
            .flat_map(|a| &a.detach_batches)
            .map(Vec::len)
            .sum();
        for asg in &plan.asgs {
            for skipped in &asg.skipped {
                tracing::debug!(asg = %asg.asg_name, instance = %skipped.id, reason = ?skipped.reason, "left alone");
            }
            let applied = apply(&deps.groups, asg, &mut errors).await;
            record_events(&deps.store, asg, &applied, deps.clock.now()).await;
            terminated.extend(applied.terminated);
        }
    }
    let backend = groups
        .iter()
        .find(|g| g.name == deps.config.lifecycle.asg_name)
        .map(|g| g.snapshot().instances);
    // Without a scale answer nothing says which termination may go: every one is held.
    let held = match failure {
        Some(_) => Held::Every,
        None => Held::These(
            input
                .scale
                .held_back
                .iter()
                .map(|h| h.instance_id.clone())
                .collect(),
        ),
    };
    errors.extend(lifecycle_pass(deps, backend.as_deref(), &held).await);
    tracing::info!(
        terminated = terminated.len(),
        transient_errors = errors.len(),
        "terminate done"
    );
    metrics::emit(
        deps.clock.now(),
        &terminate_samples(terminated.len(), detaches),
    );
    Ok(TerminatedInstancesResponse {
        set_to_terminate_instances: terminated,
        transient_errors: errors,
        version: PROTOCOL_VERSION,
        scale_down_failure: failure.cloned(),
    })
}

/// Scale-down's answer with the removed machines earlier runs did not get to terminate named
/// again (`with_pending_terminations`), after noting what is still pending *before* acting: a
/// run that dies before `TerminateInstances` lands leaves the next run the list. A failed note
/// write is returned as transient-error text.
async fn pending_terminations<G, S, C>(
    deps: &Deps<G, S, C>,
    scale: &ScaleResponse,
    snapshots: &[AsgSnapshot],
) -> (ScaleResponse, Vec<String>)
where
    S: StateStore,
{
    let previous: PendingTerminationsNote = read_note(&deps.store).await.unwrap_or_default();
    let (answer, pending) = with_pending_terminations(scale, &previous.instances, snapshots);
    for carried in answer.to_terminate.iter().skip(scale.to_terminate.len()) {
        tracing::warn!(instance = %carried.id, ip = %carried.private_ip, "removed machine still in its group: terminating it again");
    }
    let mut errors = Vec::new();
    if pending != previous.instances {
        let note = PendingTerminationsNote { instances: pending };
        if let Err(e) = deps
            .store
            .put_note(PENDING_TERMINATIONS_NOTE, &note.to_value())
            .await
        {
            errors.push(format!(
                "pending terminations note not written: {}",
                error_chain(&e)
            ));
        }
    }
    (answer, errors)
}

/// Records scale-down's failure for `status` (the `scale-down-failure` note); returns the
/// run's error entries: the failure itself, and the note's write failing.
async fn note_scale_down_failure<G, S, C>(
    deps: &Deps<G, S, C>,
    failure: &ScaleDownFailure,
    owner: &str,
) -> Vec<String>
where
    S: StateStore,
    C: Clock,
{
    let note =
        ScaleDownFailureNote::new(&failure.error, &failure.message(), deps.clock.now(), owner);
    tracing::error!(
        error = %note.error,
        message = %note.message,
        "scale-down failed: terminating nothing on its account, reconciling the rest"
    );
    let mut errors = vec![format!(
        "scale-down failed: {}: {}",
        note.error, note.message
    )];
    if let Err(e) = deps
        .store
        .put_note(SCALE_DOWN_FAILURE_NOTE, &note.to_value())
        .await
    {
        errors.push(format!(
            "scale-down failure note not written: {}",
            error_chain(&e)
        ));
    }
    errors
}

/// The groups that have not clusterized yet (the NFS group only once the backend group has),
/// with their registration sets, after evicting the registered members Auto Scaling no longer
/// runs (`departed_members`: a member that died before the set completed gives its slot to the
/// next registration). Eviction failures are returned as transient-error text: the next run
/// tries again.
async fn forming_groups<G, S, C>(
    deps: &Deps<G, S, C>,
    snapshots: &[AsgSnapshot],
) -> Result<(Vec<Forming>, Vec<String>), StoreError>
where
    S: StateStore,
{
    let mut groups = vec![(Group::Backend, deps.config.asg_name.clone())];
    groups.extend(deps.config.nfs_asg_name.clone().map(|n| (Group::Nfs, n)));
    let mut forming = Vec::new();
    let mut errors = Vec::new();
    let mut backend_formed = false;
    for (group, asg_name) in groups {
        let mut state = match deps.store.load(group).await {
            Ok(state) => state,
            // No document, no registration set: nothing can be recycled on its account.
            Err(StoreError::StateMissing { .. }) => continue,
            Err(e) => return Err(e),
        };
        if group == Group::Backend {
            backend_formed = state.clusterized;
        }
        // A gateway registers only once the backend cluster exists (it waits for it first): until
        // then none is "never registered" — and a switched cluster's running gateways are not.
        if state.clusterized || (group == Group::Nfs && !backend_formed) {
            continue;
        }
        if let Some(snapshot) = snapshots.iter().find(|s| s.name == asg_name) {
            for departed in departed_members(&state, &snapshot.instances) {
                match deps
                    .store
                    .evict_registration(group, &state, &departed)
                    .await
                {
                    Ok(true) => {
                        tracing::warn!(group = group.as_str(), instance = %departed, "registered member left the group before the set completed: slot freed");
                        state.evict(&departed);
                    }
                    Ok(false) => {
                        tracing::info!(instance = %departed, "eviction refused: the set changed; next run")
                    }
                    Err(e) => errors.push(format!(
                        "eviction of {departed} from the {} registration set failed: {}",
                        group.as_str(),
                        error_chain(&e)
                    )),
                }
            }
        }
        forming.push(Forming {
            asg_name,
            registered: state.instances.iter().map(|vm| vm.name.clone()).collect(),
            target: usize::try_from(state.clusterization_target).unwrap_or(usize::MAX),
            // Only the backend group has lifecycle hooks.
            launches_held: group == Group::Backend && deps.config.lifecycle.launch_hook().is_some(),
        });
    }
    Ok((forming, errors))
}

/// The lifecycle hooks' pass; returns its failures as transient-error text.
async fn lifecycle_pass<G, S, C>(
    deps: &Deps<G, S, C>,
    backend: Option<&[crate::domain::terminate::AsgInstance]>,
    held: &Held,
) -> Vec<String>
where
    G: ScalingGroups,
    S: StateStore,
    C: Clock,
{
    let lifecycle = &deps.config.lifecycle;
    if lifecycle.launch_hook().is_none() && lifecycle.terminate_hook().is_none() {
        return Vec::new();
    }
    let mut errors = Vec::new();
    // Members of a cluster still forming wait for each other, bounded by their own polls;
    // members of the formed cluster are continued whatever became of finalization's call.
    let members = match deps.store.load(Group::Backend).await {
        Ok(state) => {
            let ids: BTreeSet<String> = state.instances.into_iter().map(|vm| vm.name).collect();
            if state.clusterized {
                Members::Formed(ids)
            } else {
                Members::Forming(ids)
            }
        }
        Err(e) => {
            errors.push(format!(
                "cluster state could not be read: {}",
                error_chain(&e)
            ));
            Members::Unknown
        }
    };
    errors.extend(error_texts(
        &run_reconcile(
            &deps.groups,
            &deps.store,
            lifecycle,
            backend,
            &members,
            held,
            deps.clock.now(),
        )
        .await,
    ));
    for e in &errors {
        tracing::warn!(error = %e, "lifecycle step failed");
    }
    errors
}

fn record(errors: &mut Vec<String>, asg: &str, error: &ScalingError) {
    let message = format!("{asg}: {}", error_chain(error));
    tracing::warn!(error = %message, "terminate step failed");
    errors.push(message);
}

/// What one group's plan did.
struct Applied {
    /// The instances terminated.
    terminated: Vec<TerminatedInstance>,
    /// The instances detached (the group replaces them).
    detached: Vec<String>,
}

/// Executes one group's plan; returns what was terminated and detached.
async fn apply<G: ScalingGroups>(
    groups: &G,
    plan: &AsgTerminatePlan,
    errors: &mut Vec<String>,
) -> Applied {
    let asg = plan.asg_name.as_str();
    let allowed: Vec<(&TerminateTarget, Result<(), ScalingError>)> =
        futures::stream::iter(&plan.terminate)
            .map(|t| async move { (t, groups.allow_termination(&t.id).await) })
            .buffered(ATTRIBUTE_PARALLELISM)
            .collect()
            .await;
    let mut ready: Vec<&TerminateTarget> = Vec::new();
    for (target, result) in allowed {
        match result {
            Ok(()) => ready.push(target),
            Err(e) => record(errors, asg, &e),
        }
    }

    let unprotect: Vec<String> = ready
        .iter()
        .filter(|t| plan.unprotect.contains(&t.id))
        .map(|t| t.id.clone())
        .collect();
    if !unprotect.is_empty()
        && let Err(e) = groups.set_scale_in_protection(asg, &unprotect, false).await
    {
        record(errors, asg, &e);
        ready.retain(|t| !unprotect.contains(&t.id));
    }
    // A failed lift may still have taken effect (its answer lost): every instance it named gets
    // its protection back unless it is terminated.
    let unprotected: BTreeSet<&str> = unprotect.iter().map(String::as_str).collect();

    let done = terminate_all(groups, asg, &ready, errors).await;

    let restore: Vec<String> = unprotected
        .iter()
        .filter(|id| !done.contains(**id))
        .map(|id| (*id).to_owned())
        .collect();
    if !restore.is_empty()
        && let Err(e) = groups.set_scale_in_protection(asg, &restore, true).await
    {
        record(errors, asg, &e);
    }
    // Termination protection was cleared (or partly cleared, when a call failed) for every
    // target: those not terminated get it back until a later run retries them.
    let reprotected: Vec<Result<(), ScalingError>> =
        futures::stream::iter(plan.terminate.iter().filter(|t| !done.contains(&t.id)))
            .map(|t| groups.protect_from_termination(&t.id))
            .buffered(ATTRIBUTE_PARALLELISM)
            .collect()
            .await;
    for e in reprotected.iter().filter_map(|r| r.as_ref().err()) {
        record(errors, asg, e);
    }

    let not_terminated: BTreeSet<&str> = plan
        .terminate
        .iter()
        .map(|t| t.id.as_str())
        .filter(|id| !done.contains(*id))
        .collect();
    let mut detached = Vec::new();
    for batch in &plan.detach_batches {
        let batch: Vec<String> = batch
            .iter()
            .filter(|id| !not_terminated.contains(id.as_str()))
            .cloned()
            .collect();
        if batch.is_empty() {
            continue;
        }
        detached.extend(detach_all(groups, asg, &batch, errors).await);
    }

    let terminated = ready
        .iter()
        .filter(|t| done.contains(&t.id))
        .map(|t| TerminatedInstance {
            instance_id: t.id.clone(),
            creation_date: t.launch_time.unwrap_or_else(go_zero_time),
        })
        .collect();
    Applied {
        terminated,
        detached,
    }
}

/// Records the run's terminations and detaches as events (best effort).
async fn record_events(
    store: &impl StateStore,
    plan: &AsgTerminatePlan,
    applied: &Applied,
    now: chrono::DateTime<chrono::Utc>,
) {
    for id in &applied.detached {
        events::record(
            store,
            EventKind::Detach,
            id,
            "detached without lowering the desired capacity: the group launches its replacement",
            now,
        )
        .await;
    }
    for done in &applied.terminated {
        let reason = plan
            .terminate
            .iter()
            .find(|t| t.id == done.instance_id)
            .map_or_else(String::new, |t| format!("{:?}", t.reason));
        events::record(
            store,
            EventKind::Termination,
            &done.instance_id,
            &reason,
            now,
        )
        .await;
    }
}

/// Detaches `ids` (without decrementing the desired capacity) in one call; if that call fails,
/// one by one, so one instance the group will not detach (already terminating, say) does not hold
/// back the others. Returns those detached.
async fn detach_all<G: ScalingGroups>(
    groups: &G,
    asg: &str,
    ids: &[String],
    errors: &mut Vec<String>,
) -> Vec<String> {
    let detached = match groups.detach(asg, ids).await {
        Ok(()) => ids.to_vec(),
        Err(e) if ids.len() == 1 => {
            record(errors, asg, &e);
            Vec::new()
        }
        Err(e) => {
            tracing::warn!(asg, error = %error_chain(&e), "batch detach failed, retrying one by one");
            let mut detached = Vec::new();
            for id in ids {
                match groups.detach(asg, std::slice::from_ref(id)).await {
                    Ok(()) => detached.push(id.clone()),
                    Err(e) => record(errors, asg, &e),
                }
            }
            detached
        }
    };
    if !detached.is_empty() {
        tracing::info!(asg, instances = ?detached, "detached without decrementing desired capacity");
    }
    detached
}

/// Terminates `targets` in one call; if that call fails, one by one, so one bad instance does
/// not hold back the others.
async fn terminate_all<G: ScalingGroups>(
    groups: &G,
    asg: &str,
    targets: &[&TerminateTarget],
    errors: &mut Vec<String>,
) -> BTreeSet<String> {
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    if ids.is_empty() {
        return BTreeSet::new();
    }
    let mut done = BTreeSet::new();
    let mut failed = BTreeSet::new();
    match groups.terminate(&ids).await {
        Ok(reported) => done.extend(reported),
        Err(e) => {
            tracing::warn!(asg, error = %error_chain(&e), "batch termination failed, retrying one by one");
            for id in &ids {
                match groups.terminate(std::slice::from_ref(id)).await {
                    Ok(reported) => done.extend(reported),
                    Err(e) => {
                        record(errors, asg, &e);
                        failed.insert(id.clone());
                    }
                }
            }
        }
    }
    for id in ids
        .iter()
        .filter(|id| !done.contains(*id) && !failed.contains(*id))
    {
        errors.push(format!(
            "{asg}: terminate_instances did not report {id} as terminating"
        ));
    }
    tracing::info!(asg, instances = ?done, "terminated");
    done
}
