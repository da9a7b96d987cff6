//! `report`: stores a progress, error or debug message from an instance script.
//!
//! Two writes, each safe to lose: reserve the host's next sequence number, then store the
//! message in that slot of the host's ring. A writer that dies between them leaves a gap in
//! the sequence and nothing else; no lock exists to leak.
//!
//! With a launch hook on the backend group, a backend's report also answers its launch action:
//! `Join completed successfully` completes it with CONTINUE, an error with ABANDON (not for a
//! member of a cluster still forming: the formation decides for its members), and other
//! progress records a throttled heartbeat. These effects never fail the report; what could not
//! be sent is finished by the next scale run. When the deployment checks identities, a report
//! is accepted only from the host it names (its instance id or the host name of its address,
//! proven by its identity document), so it answers only the caller's own launch action and the
//! reporting hosts are bounded by the real instances.

use crate::config::callers::CallerPolicy;
use crate::config::lifecycle::LifecycleConfig;
use crate::config::names::{REPORT_RETENTION_DAYS_ENV, REPORTS_PER_HOST_ENV};
use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::identity::IdentityError;
use crate::domain::lifecycle::{
    HostRef, LifecyclePhase, LifecycleResult, ReportSignal, Transition,
};
use crate::domain::metrics::{ERROR_REPORTS, Sample};
use crate::domain::report::{
    MAX_HOSTNAME_BYTES, NEW_REPORTING_HOSTS_PER_MONTH, ReportKind, bounded_message,
    reporting_window,
};
use crate::domain::state::Group;
use crate::error::{Classify, ErrorClass, error_chain};
use crate::lambda::{PayloadError, decode_identified};
use crate::ports::metrics;
use crate::ports::{Clock, LifecycleTarget, NewReport, ScalingGroups, StateStore, StoreError};
use crate::services::callers::identify;
use crate::services::lifecycle::{decide_and_complete, heartbeat, open_launch_record, target_of};
use crate::wire::bootstrap::{Protocol, ReportRequest};
use std::time::Duration;

/// Default of [`REPORTS_PER_HOST_ENV`].
pub const DEFAULT_REPORTS_PER_HOST: u32 = 200;
/// Default of [`REPORT_RETENTION_DAYS_ENV`].
pub const DEFAULT_REPORT_RETENTION_DAYS: u64 = 30;
/// The reference's success answer, kept for scripts that echo it.
pub const REPORT_ADDED: &str = "The report was added successfully";

/// `report` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where the state lives.
    pub state: StateConfig,
    /// Ring size per host.
    pub reports_per_host: u32,
    /// Retention of a report.
    pub retention: Duration,
    /// The backend group's hooks.
    pub lifecycle: LifecycleConfig,
    /// Whose launch action a report may answer.
    pub callers: CallerPolicy,
}

impl Config {
    /// Reads the configuration; fails on missing or invalid values.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        let reports_per_host = env.parsed_or(REPORTS_PER_HOST_ENV, DEFAULT_REPORTS_PER_HOST)?;
        if reports_per_host == 0 {
            return Err(ConfigError::Invalid {
                name: REPORTS_PER_HOST_ENV,
                value: "0".to_owned(),
                reason: "at least one report per host must be kept".to_owned(),
            });
        }
        let days: u64 = env.parsed_or(REPORT_RETENTION_DAYS_ENV, DEFAULT_REPORT_RETENTION_DAYS)?;
        Ok(Self {
            state: StateConfig::from_lookup(env)?,
            reports_per_host,
            retention: Duration::from_secs(days.saturating_mul(86_400)),
            lifecycle: LifecycleConfig::from_lookup(env)?,
            callers: CallerPolicy::from_lookup(env)?,
        })
    }
}

/// What `report` needs.
#[derive(Debug)]
pub struct Deps<S, C, G> {
    /// The state store.
    pub store: S,
    /// The clock.
    pub clock: C,
    /// Auto Scaling (lifecycle answers).
    pub groups: G,
    /// Configuration.
    pub config: Config,
}

/// Why a report was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The payload is not a report.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// `type` is not one of `progress`, `error`, `debug`.
    #[error("invalid report type {0:?}: expected progress, error or debug")]
    UnknownType(String),
    /// The hostname is too long to be a hostname.
    #[error("invalid hostname: {len} bytes, at most {MAX_HOSTNAME_BYTES} allowed")]
    HostnameTooLong {
        /// Its length.
        len: usize,
    },
    /// Too many hosts started reporting this month.
    #[error(
        "{NEW_REPORTING_HOSTS_PER_MONTH} hosts already started reporting in {window}; a new one is admitted next month"
    )]
    TooManyHosts {
        /// The month.
        window: String,
    },
    /// The caller is not the host the report names, or did not prove who it is.
    #[error("report refused")]
    Identity(#[from] IdentityError),
    /// The store failed.
    #[error("report could not be stored")]
    Store(#[from] StoreError),
}

impl Classify for ReportError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_)
            | Self::UnknownType(_)
            | Self::HostnameTooLong { .. }
            | Self::Identity(_) => ErrorClass::InvalidInput,
            Self::TooManyHosts { .. } => ErrorClass::Conflict,
            Self::Store(e) => e.class(),
        }
    }
}

/// Handles one `report` invocation.
#[tracing::instrument(skip_all, fields(host, kind))]
pub async fn handle<S: StateStore, C: Clock, G: ScalingGroups>(
    deps: &Deps<S, C, G>,
    payload: serde_json::Value,
) -> Result<&'static str, ReportError> {
    let (request, identity): (ReportRequest, _) = decode_identified(payload)?;
    let kind = ReportKind::parse(&request.kind)
        .ok_or_else(|| ReportError::UnknownType(request.kind.clone()))?;
    if request.hostname.len() > MAX_HOSTNAME_BYTES {
        return Err(ReportError::HostnameTooLong {
            len: request.hostname.len(),
        });
    }
    let caller = identify(&deps.config.callers, identity.as_ref())?;
    if let Some(caller) = &caller
        && !caller.is_named(&request.hostname)
    {
        return Err(IdentityError::NotTheCaller {
            named: request.hostname.chars().take(64).collect(),
            caller: caller.instance_id.as_str().to_owned(),
        }
        .into());
    }
    let span = tracing::Span::current();
    span.record("host", request.hostname.as_str());
    span.record("kind", kind.as_str());
    let group = Group::for_protocol(request.protocol);
    let report = NewReport {
        host: request.hostname,
        kind,
        message: bounded_message(&request.message),
        at: Clock::now(&deps.clock),
    };
    let window = reporting_window(report.at);
    let Some(seq) = deps
        .store
        .next_report_seq(group, &report.host, &window, NEW_REPORTING_HOSTS_PER_MONTH)
        .await?
    else {
        return Err(ReportError::TooManyHosts { window });
    };
    deps.store
        .put_report(
            group,
            seq,
            &report,
            deps.config.reports_per_host,
            deps.config.retention,
        )
        .await?;
    tracing::info!(seq, "report stored");
    if report.kind == ReportKind::Error {
        metrics::emit(report.at, &[Sample::count(ERROR_REPORTS, 1)]);
    }
    if request.protocol == Protocol::Backend {
        let host = match caller {
            None => HostRef::parse(&report.host),
            Some(caller) => HostRef::InstanceId(caller.instance_id.as_str().to_owned()),
        };
        // Boxed: the SDK futures nest deeper than the default layout query limit.
        Box::pin(answer_launch_action(deps, &report, &host)).await;
    }
    Ok(REPORT_ADDED)
}

/// What a backend's report means for its launch action (module docs).
async fn answer_launch_action<S: StateStore, C, G: ScalingGroups>(
    deps: &Deps<S, C, G>,
    report: &NewReport,
    host: &HostRef,
) {
    let lifecycle = &deps.config.lifecycle;
    let Some(hook) = lifecycle.launch_hook() else {
        return;
    };
    let signal = ReportSignal::of(report.kind, &report.message);
    if signal == ReportSignal::None {
        return;
    }
    let records = match deps.store.lifecycle_actions().await {
        Ok(records) => records,
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "lifecycle actions unavailable; report not applied to the launch action");
            return;
        }
    };
    let known = open_launch_record(&records, host);
    let now = report.at;
    if signal == ReportSignal::Progress {
        if let Some(record) = known.filter(|r| r.phase == LifecyclePhase::Waiting)
            && let Err(e) = heartbeat(
                &deps.groups,
                &deps.store,
                record,
                lifecycle.policy.heartbeat_interval,
                now,
            )
            .await
        {
            tracing::warn!(error = %error_chain(&e), "lifecycle heartbeat not sent");
        }
        return;
    }
    let target = match known {
        Some(record) if record.phase != LifecyclePhase::Waiting => {
            tracing::debug!(instance = %record.key.instance_id, "launch action already decided");
            return;
        }
        Some(record) => target_of(record),
        // Already answered (e.g. a repeated join report): nothing to look up.
        None if matches!(host, HostRef::InstanceId(id) if records.iter().any(|r| {
            r.key.transition == Transition::Launch && &r.key.instance_id == id
        })) =>
        {
            tracing::debug!("launch action already completed");
            return;
        }
        // Not recorded yet (the report beat its event), or recorded without its IP: a completion
        // for an instance that is no longer waiting is refused by the conditional decision.
        None => match waiting_instance(deps, host).await {
            Some(instance_id) => LifecycleTarget {
                group: lifecycle.asg_name.clone(),
                hook: hook.to_owned(),
                instance_id,
                token: None,
            },
            None => return,
        },
    };
    let (result, reason) = if signal == ReportSignal::Joined {
        (
            LifecycleResult::Continue,
            "the instance joined the cluster".to_owned(),
        )
    } else {
        match deps.store.load(Group::Backend).await {
            Ok(state)
                if !state.clusterized
                    && state
                        .instances
                        .iter()
                        .any(|vm| vm.name == target.instance_id) =>
            {
                tracing::info!(instance = %target.instance_id, "error from a member of the forming cluster: its launch action waits for the formation");
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "cluster state unavailable; the error report does not abandon the instance");
                return;
            }
        }
        (
            LifecycleResult::Abandon,
            format!("the instance reported an error: {}", report.message),
        )
    };
    if let Err(e) = decide_and_complete(
        &deps.groups,
        &deps.store,
        &target,
        Transition::Launch,
        result,
        &reason,
        now,
    )
    .await
    {
        tracing::warn!(error = %error_chain(&e), "launch action not completed now");
    }
}

/// A report that arrived before its action was recorded: the backend instance it names, if
/// the group shows it waiting at launch.
async fn waiting_instance<S, C, G: ScalingGroups>(
    deps: &Deps<S, C, G>,
    host: &HostRef,
) -> Option<String> {
    if matches!(host, HostRef::Name(_)) {
        return None;
    }
    let asg = deps.config.lifecycle.asg_name.clone();
    let groups = match deps
        .groups
        .describe_groups(std::slice::from_ref(&asg))
        .await
    {
        Ok(groups) => groups,
        Err(e) => {
            tracing::warn!(error = %error_chain(&e), "backend group unavailable; report not applied to a launch action");
            return None;
        }
    };
    groups
        .iter()
        .filter(|g| g.name == asg)
        .flat_map(|g| &g.instances)
        .map(|i| &i.instance)
        .find(|i| match host {
            HostRef::InstanceId(id) => &i.id == id,
            HostRef::Ip(ip) => i.private_ip.as_deref() == Some(ip.as_str()),
            HostRef::Name(_) => false,
        })
        .filter(|i| i.lifecycle.waits_for(Transition::Launch))
        .map(|i| i.id.clone())
}
