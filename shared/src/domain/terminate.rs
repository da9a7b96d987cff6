//! The terminate decision (behaviour.md §10): which ASG instances to detach, unprotect and terminate.
//!
//! Execution order for the shell, per ASG: for each `terminate` entry disable API termination/stop,
//! `SetInstanceProtection(false)` for `unprotect`, `TerminateInstances(terminate)`, then
//! `DetachInstances(batch, ShouldDecrementDesiredCapacity=false)` for each `detach_batches` entry.

use crate::wire::events::Transition;
use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};

use crate::wire::scale::{InstanceRef, PROTOCOL_VERSION, ScaleResponse};

/// Errors that stop terminate before it plans anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerminateError {
    /// The scale response speaks another protocol version.
    #[error("incompatible scale response version {found} (expected {expected})")]
    VersionMismatch {
        /// Version this code speaks.
        expected: i64,
        /// Version received.
        found: i64,
    },
}

/// ASG health status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsgHealth {
    /// `Healthy`.
    Healthy,
    /// `Unhealthy`.
    Unhealthy,
}

/// ASG lifecycle state (only the ones that matter are named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifecycle {
    /// `InService`.
    InService,
    /// `Standby`.
    Standby,
    /// Anything else (`Pending`, `Terminating`, `Detaching`, ...).
    Other(String),
}

impl Lifecycle {
    /// Whether an instance in this state still waits for (or is about to enter) `transition`'s
    /// hook: `Pending`/`Pending:Wait`, or `Terminating`/`Terminating:Wait`.
    pub fn waits_for(&self, transition: Transition) -> bool {
        let Self::Other(state) = self else {
            return false;
        };
        match transition {
            Transition::Launch => state == "Pending" || state == "Pending:Wait",
            Transition::Terminate => state == "Terminating" || state == "Terminating:Wait",
        }
    }

    /// Parses the ASG spelling.
    pub fn parse(s: &str) -> Self {
        match s {
            "InService" => Self::InService,
            "Standby" => Self::Standby,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// EC2 instance state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ec2State {
    /// `pending`.
    Pending,
    /// `running`.
    Running,
    /// `stopping`.
    Stopping,
    /// `stopped`.
    Stopped,
    /// `shutting-down`.
    ShuttingDown,
    /// `terminated`.
    Terminated,
}

/// One ASG instance as seen by the shell (ASG + EC2 describe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsgInstance {
    /// Instance id.
    pub id: String,
    /// Private IP, if any.
    pub private_ip: Option<String>,
    /// ASG health.
    pub health: AsgHealth,
    /// ASG lifecycle.
    pub lifecycle: Lifecycle,
    /// Scale-in protection.
    pub protected_from_scale_in: bool,
    /// EC2 state; `None` when EC2 does not know the instance.
    pub ec2_state: Option<Ec2State>,
    /// EC2 launch time, if known.
    pub launch_time: Option<DateTime<Utc>>,
}

/// One ASG and its instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsgSnapshot {
    /// ASG name.
    pub name: String,
    /// Instances.
    pub instances: Vec<AsgInstance>,
}

/// Tunables of terminate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminatePolicy {
    /// Instances younger than this are never terminated as strays (30 min).
    pub bootstrap_grace: TimeDelta,
    /// Most terminations per ASG per run (50).
    pub max_terminations_per_run: usize,
    /// Most instances per `DetachInstances` call (20, the AWS limit).
    pub detach_batch_size: usize,
    /// Protocol version expected in the scale response (1).
    pub expected_version: i64,
}

impl Default for TerminatePolicy {
    fn default() -> Self {
        Self {
            bootstrap_grace: TimeDelta::minutes(30),
            max_terminations_per_run: 50,
            detach_batch_size: 20,
            expected_version: PROTOCOL_VERSION,
        }
    }
}

/// Why an instance is terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TerminateReason {
    /// Listed in `to_terminate`: its WEKA containers were removed.
    Removed,
    /// Unhealthy, protected and stopped, with no WEKA host on its IP.
    StoppedUnhealthy,
    /// Older than the grace period and unknown to WEKA (never joined).
    NotInWeka,
    /// The group is still forming its cluster, the registration set is incomplete, and this
    /// instance is older than the grace period without having registered (its install failed
    /// or hung): the ASG replaces it so the set can complete.
    NeverRegistered,
}

/// An instance to terminate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminateTarget {
    /// Instance id.
    pub id: String,
    /// Private IP.
    pub private_ip: Option<String>,
    /// Launch time (reported as `creation_date`).
    pub launch_time: Option<DateTime<Utc>>,
    /// Why.
    pub reason: TerminateReason,
}

/// Why an instance is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Launched less than the grace period ago.
    WithinBootstrapGrace,
    /// Launch time unknown: its age cannot be checked.
    LaunchTimeUnknown,
    /// Already shutting down or terminated.
    AlreadyTerminating,
    /// Unhealthy, protected and still running: WEKA scale-down owns it.
    ProtectedAndRunning,
    /// Unhealthy but its lifecycle state cannot be detached.
    NotDetachable(String),
    /// Stopped and unhealthy, but WEKA still has a container on its IP.
    StillWekaHost,
    /// The scale response reported no WEKA host at all (scale-down did not look): strays and, in
    /// a formed cluster, stopped instances are not terminated blindly.
    HostsListEmpty,
    /// Registered for clusterization and waiting for the cluster to form.
    Registered,
    /// The per-run termination cap was reached.
    CapReached,
    /// Scale-down failed: without WEKA's view, no machine is terminated on its account.
    NoScaleAnswer,
    /// In service in a forming group whose launches are held until the cluster forms: a machine
    /// of a running cluster this module has not recorded (adopt it), not a failed newcomer.
    InServiceWhileForming,
}

/// An instance left alone, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Instance id.
    pub id: String,
    /// Why.
    pub reason: SkipReason,
}

/// Plan for one ASG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsgTerminatePlan {
    /// ASG name.
    pub asg_name: String,
    /// Instances to terminate, in priority order, at most the cap.
    pub terminate: Vec<TerminateTarget>,
    /// Protected instances among `terminate`: remove scale-in protection first.
    pub unprotect: Vec<String>,
    /// `DetachInstances` batches, never decrementing desired capacity (the ASG backfills).
    pub detach_batches: Vec<Vec<String>>,
    /// Instances left alone.
    pub skipped: Vec<Skipped>,
}

/// The whole terminate plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminatePlan {
    /// One plan per ASG, in input order.
    pub asgs: Vec<AsgTerminatePlan>,
    /// Transient errors carried from the scale response.
    pub transient_errors: Vec<String>,
}

/// A group that has not clusterized yet: WEKA has no hosts to compare with, so the registration
/// set in the state store tells instances on their way (registered) from stuck ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Forming {
    /// The group's ASG.
    pub asg_name: String,
    /// Instance ids in the registration set.
    pub registered: BTreeSet<String>,
    /// Size of the registration set that triggers clusterization.
    pub target: usize,
    /// The launch hook holds the group's new instances in `Pending:Wait` until the cluster
    /// formed: an instance in service that never registered is then no newcomer whose install
    /// failed but a machine of a cluster this module has not recorded (a deployment switched
    /// from WEKA's module, before `adopt`), and is never recycled.
    pub launches_held: bool,
}

/// Plans terminate for every ASG.
///
/// An instance whose IP is in `scale.hosts` is terminated only if it is in `to_terminate`
/// (matched by id and IP). If `scale.hosts` is empty, stray (not-in-WEKA) terminations are refused
/// altogether: a running cluster always reports hosts, so an empty list means scale-down did not
/// look (reference defect §12.17), and terminating "every instance older than 30 min" would
/// destroy the cluster; a formed cluster's stopped instances are left then too (they may still
/// be members). `to_terminate` and unhealthy detaches still proceed. The one exception is
/// a group listed in `forming` (not clusterized yet) whose registration set is incomplete: there an
/// instance older than the grace period that never registered is terminated, so that one failed
/// install cannot keep the cluster from ever forming; registered instances are never touched, nor
/// (when the launch hook holds newcomers) instances already in service.
pub fn plan_terminate(
    asgs: &[AsgSnapshot],
    scale: &ScaleResponse,
    policy: &TerminatePolicy,
    forming: &[Forming],
    now: DateTime<Utc>,
) -> Result<TerminatePlan, TerminateError> {
    if scale.version != policy.expected_version {
        return Err(TerminateError::VersionMismatch {
            expected: policy.expected_version,
            found: scale.version,
        });
    }
    let weka_ips: BTreeSet<&str> = scale
        .hosts
        .iter()
        .map(|h| h.private_ip.as_str())
        .filter(|ip| !ip.is_empty())
        .collect();
    let to_terminate: BTreeSet<(&str, &str)> = scale
        .to_terminate
        .iter()
        .map(|i| (i.id.as_str(), i.private_ip.as_str()))
        .collect();
    let view = WekaView {
        known: true,
        weka_ips: &weka_ips,
        to_terminate: &to_terminate,
    };
    Ok(TerminatePlan {
        asgs: plan_asgs(asgs, &view, policy, forming, now),
        transient_errors: scale.transient_errors.clone(),
    })
}

/// Scale-down's answer with the removed machines of earlier runs still to terminate
/// (`pending`) named again, and the pending list to keep. A pending machine is kept while its
/// group still holds it, and named again only when this answer shows WEKA's hosts (scale-down
/// looked) and none of them has its IP: WEKA no longer counts on it.
pub fn with_pending_terminations(
    scale: &ScaleResponse,
    pending: &[InstanceRef],
    asgs: &[AsgSnapshot],
) -> (ScaleResponse, Vec<InstanceRef>) {
    let in_group = |r: &InstanceRef| asgs.iter().flat_map(|a| &a.instances).any(|i| i.id == r.id);
    let weka_ips: BTreeSet<&str> = scale.hosts.iter().map(|h| h.private_ip.as_str()).collect();
    let mut answer = scale.clone();
    let mut keep: BTreeSet<InstanceRef> = scale.to_terminate.iter().cloned().collect();
    for carried in pending.iter().filter(|r| in_group(r)) {
        if keep.insert(carried.clone())
            && !weka_ips.is_empty()
            && !weka_ips.contains(carried.private_ip.as_str())
        {
            answer.to_terminate.push(carried.clone());
        }
    }
    (answer, keep.into_iter().filter(in_group).collect())
}

/// Plans terminate when scale-down failed and left no answer (issue 15 item 4): only what needs
/// no WEKA view is done. Unhealthy instances that are unprotected, gone from EC2 or already
/// terminating are detached, and a forming group's never-registered instances are recycled as
/// in [`plan_terminate`]; nothing is terminated as removed, stopped-unhealthy or not-in-WEKA
/// (those instances are skipped with [`SkipReason::NoScaleAnswer`]).
pub fn plan_terminate_without_scale_answer(
    asgs: &[AsgSnapshot],
    policy: &TerminatePolicy,
    forming: &[Forming],
    now: DateTime<Utc>,
) -> TerminatePlan {
    let view = WekaView {
        known: false,
        weka_ips: &BTreeSet::new(),
        to_terminate: &BTreeSet::new(),
    };
    TerminatePlan {
        asgs: plan_asgs(asgs, &view, policy, forming, now),
        transient_errors: Vec::new(),
    }
}

/// Plans terminate on scale-down's answer as a plan predicts it (`status` `{"type":"plan"}`):
/// `weka_ips` are the machines WEKA keeps, `removed` the (instance id, IP) of those scale-down
/// would remove. Same rules as [`plan_terminate`].
pub fn plan_terminate_predicted(
    asgs: &[AsgSnapshot],
    weka_ips: &BTreeSet<&str>,
    removed: &BTreeSet<(&str, &str)>,
    policy: &TerminatePolicy,
    forming: &[Forming],
    now: DateTime<Utc>,
) -> Vec<AsgTerminatePlan> {
    let view = WekaView {
        known: true,
        weka_ips,
        to_terminate: removed,
    };
    plan_asgs(asgs, &view, policy, forming, now)
}

/// What scale-down's answer says about WEKA: its hosts' IPs and the machines it removed.
struct WekaView<'a> {
    /// False when there is no answer (scale-down failed).
    known: bool,
    weka_ips: &'a BTreeSet<&'a str>,
    to_terminate: &'a BTreeSet<(&'a str, &'a str)>,
}

fn plan_asgs(
    asgs: &[AsgSnapshot],
    view: &WekaView<'_>,
    policy: &TerminatePolicy,
    forming: &[Forming],
    now: DateTime<Utc>,
) -> Vec<AsgTerminatePlan> {
    asgs.iter()
        .map(|asg| {
            let forming = forming.iter().find(|f| f.asg_name == asg.name);
            plan_asg(asg, view, policy, forming, now)
        })
        .collect()
}

fn plan_asg(
    asg: &AsgSnapshot,
    view: &WekaView<'_>,
    policy: &TerminatePolicy,
    forming: Option<&Forming>,
    now: DateTime<Utc>,
) -> AsgTerminatePlan {
    let mut candidates: Vec<(TerminateReason, &AsgInstance)> = Vec::new();
    let mut detach: Vec<&AsgInstance> = Vec::new();
    let mut detach_if_terminated: Vec<&AsgInstance> = Vec::new();
    let mut skipped = Vec::new();
    let mut skip = |i: &AsgInstance, reason| {
        skipped.push(Skipped {
            id: i.id.clone(),
            reason,
        });
    };

    let (weka_ips, to_terminate) = (view.weka_ips, view.to_terminate);
    for i in &asg.instances {
        let ip = i.private_ip.as_deref().unwrap_or("");
        let listed = !ip.is_empty() && to_terminate.contains(&(i.id.as_str(), ip));
        let in_weka = !ip.is_empty() && weka_ips.contains(ip);
        let terminating = matches!(
            i.ec2_state,
            Some(Ec2State::ShuttingDown | Ec2State::Terminated)
        );

        if i.health == AsgHealth::Unhealthy {
            let detachable = matches!(i.lifecycle, Lifecycle::InService | Lifecycle::Standby);
            let not_detachable = |i: &AsgInstance| match &i.lifecycle {
                Lifecycle::Other(s) => SkipReason::NotDetachable(s.clone()),
                _ => SkipReason::NotDetachable(String::new()),
            };
            if !i.protected_from_scale_in || i.ec2_state.is_none() || terminating {
                if detachable {
                    detach.push(i);
                } else {
                    skip(i, not_detachable(i));
                }
                continue;
            }
            if i.ec2_state == Some(Ec2State::Stopped) {
                if !view.known {
                    skip(i, SkipReason::NoScaleAnswer);
                } else if in_weka && !listed {
                    skip(i, SkipReason::StillWekaHost);
                } else if weka_ips.is_empty() && !listed && forming.is_none() {
                    // Scale-down did not look (the cluster is formed): it may still be a member.
                    skip(i, SkipReason::HostsListEmpty);
                } else {
                    let reason = if listed {
                        TerminateReason::Removed
                    } else {
                        TerminateReason::StoppedUnhealthy
                    };
                    candidates.push((reason, i));
                    if detachable {
                        detach_if_terminated.push(i);
                    }
                }
                continue;
            }
            // Protected and running/pending/stopping: only the delta rule below may act on it.
        }

        if ip.is_empty() || (in_weka && !listed) {
            if i.health == AsgHealth::Unhealthy {
                skip(i, SkipReason::ProtectedAndRunning);
            }
            continue;
        }
        if terminating {
            skip(i, SkipReason::AlreadyTerminating);
            continue;
        }
        if listed {
            candidates.push((TerminateReason::Removed, i));
            continue;
        }
        let reason = if !weka_ips.is_empty() {
            TerminateReason::NotInWeka
        } else {
            match forming {
                Some(f) if f.registered.contains(&i.id) => {
                    skip(i, SkipReason::Registered);
                    continue;
                }
                Some(f) if f.launches_held && !i.lifecycle.waits_for(Transition::Launch) => {
                    skip(i, SkipReason::InServiceWhileForming);
                    continue;
                }
                Some(f) if f.registered.len() < f.target => TerminateReason::NeverRegistered,
                _ if !view.known => {
                    skip(i, SkipReason::NoScaleAnswer);
                    continue;
                }
                _ => {
                    skip(i, SkipReason::HostsListEmpty);
                    continue;
                }
            }
        };
        match i.launch_time {
            None => skip(i, SkipReason::LaunchTimeUnknown),
            Some(t) if now - t < policy.bootstrap_grace => {
                skip(i, SkipReason::WithinBootstrapGrace);
            }
            Some(_) => candidates.push((reason, i)),
        }
    }

    candidates
        .sort_by(|(ra, a), (rb, b)| (ra, a.launch_time, &a.id).cmp(&(rb, b.launch_time, &b.id)));
    let mut terminate = Vec::new();
    for (reason, i) in candidates {
        if terminate.len() >= policy.max_terminations_per_run {
            skip(i, SkipReason::CapReached);
            continue;
        }
        terminate.push(TerminateTarget {
            id: i.id.clone(),
            private_ip: i.private_ip.clone(),
            launch_time: i.launch_time,
            reason,
        });
    }
    let chosen: BTreeSet<&str> = terminate.iter().map(|t| t.id.as_str()).collect();
    detach.extend(
        detach_if_terminated
            .into_iter()
            .filter(|i| chosen.contains(i.id.as_str())),
    );
    let mut detach_ids: Vec<String> = detach.iter().map(|i| i.id.clone()).collect();
    detach_ids.sort_unstable();
    detach_ids.dedup();
    let unprotect = asg
        .instances
        .iter()
        .filter(|i| i.protected_from_scale_in && chosen.contains(i.id.as_str()))
        .map(|i| i.id.clone())
        .collect();
    AsgTerminatePlan {
        asg_name: asg.name.clone(),
        terminate,
        unprotect,
        detach_batches: detach_ids
            .chunks(policy.detach_batch_size.max(1))
            .map(<[String]>::to_vec)
            .collect(),
        skipped,
    }
}
