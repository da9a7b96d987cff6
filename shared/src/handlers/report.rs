//! `report`: stores a progress, error or debug message from an instance script.
//!
//! Two writes, each safe to lose: reserve the host's next sequence number, then store the
//! message in that slot of the host's ring. A writer that dies between them leaves a gap in
//! the sequence and nothing else; no lock exists to leak.

use crate::config::{ConfigError, Lookup, StateConfig};
use crate::domain::report::{MAX_HOSTNAME_BYTES, ReportKind, bounded_message};
use crate::domain::state::Group;
use crate::lambda::{Classify, ErrorClass, PayloadError, decode};
use crate::ports::{Clock, NewReport, StateStore, StoreError};
use crate::wire::bootstrap::ReportRequest;
use std::time::Duration;

/// How many reports are kept per host (older ones are overwritten).
pub const REPORTS_PER_HOST_ENV: &str = "REPORTS_PER_HOST";
/// How many days a report is kept before DynamoDB's TTL removes it.
pub const REPORT_RETENTION_DAYS_ENV: &str = "REPORT_RETENTION_DAYS";
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
        })
    }
}

/// What `report` needs.
#[derive(Debug)]
pub struct Deps<S, C> {
    /// The state store.
    pub store: S,
    /// The clock.
    pub clock: C,
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
    /// The store failed.
    #[error("report could not be stored")]
    Store(#[from] StoreError),
}

impl Classify for ReportError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_) | Self::UnknownType(_) | Self::HostnameTooLong { .. } => {
                ErrorClass::InvalidInput
            }
            Self::Store(e) => e.class(),
        }
    }
}

/// Handles one `report` invocation.
#[tracing::instrument(skip_all, fields(host, kind))]
pub async fn handle<S: StateStore, C: crate::ports::Clock>(
    deps: &Deps<S, C>,
    payload: serde_json::Value,
) -> Result<&'static str, ReportError> {
    let request: ReportRequest = decode(payload)?;
    let kind = ReportKind::parse(&request.kind)
        .ok_or_else(|| ReportError::UnknownType(request.kind.clone()))?;
    if request.hostname.len() > MAX_HOSTNAME_BYTES {
        return Err(ReportError::HostnameTooLong {
            len: request.hostname.len(),
        });
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
    let seq = deps.store.next_report_seq(group, &report.host).await?;
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
    Ok(REPORT_ADDED)
}
