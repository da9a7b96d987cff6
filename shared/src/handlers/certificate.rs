//! `certificate`: the ALB's self-signed default certificate, made here so that its private key
//! never passes through Terraform (its state, its plan) or the operator's machine. Terraform
//! calls it on create, update and destroy (`aws_lambda_invocation`, `lifecycle_scope = "CRUD"`);
//! ACM's expiry event (EventBridge) calls it to renew in place. The deployment's certificate is
//! the one tagged `weka_alb_certificate = <cluster>`: a retried create takes it over instead of
//! importing a second one, an update or a renewal re-imports into the same ARN (the listeners
//! serve the new one unchanged), a destroy deletes it once no listener uses it.
//!
//! Invoked by operators (Terraform) and by the expiry rule only: no instance role may call it.

use crate::config::names::CLUSTER_NAME_ENV;
use crate::config::{ConfigError, Lookup};
use crate::domain::certificate::{
    CertificateNames, IssueError, NamesRefusal, due_for_renewal, issue,
};
use crate::error::{Classify, ErrorClass};
use crate::lambda::{PayloadError, decode};
use crate::ports::{CertificateError, Certificates, Clock};
use crate::wire::certificate::{
    ACM_EVENT_SOURCE, CertificateOutcome, CertificateRequest, CertificateResponse,
    EXPIRY_EVENT_DETAIL_TYPE, ExpiryEvent, TerraformAction,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use std::time::Duration;

/// The tag naming a deployment's certificate; its value is the cluster name.
pub const CERTIFICATE_TAG: &str = "weka_alb_certificate";
/// Wait between attempts to delete a certificate a listener still uses (ELB lets go of it
/// seconds after the listener is deleted).
pub const IN_USE_RETRY: Duration = Duration::from_secs(5);
/// Attempts to delete a certificate in use when the deadline is unknown.
const IN_USE_ATTEMPTS_WITHOUT_DEADLINE: u32 = 10;

/// `certificate` configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Cluster name: the tag value of the deployment's certificate.
    pub cluster_name: String,
}

impl Config {
    /// Reads the configuration.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            cluster_name: env.required(CLUSTER_NAME_ENV)?,
        })
    }
}

/// What `certificate` needs.
#[derive(Debug)]
pub struct Deps<A, C> {
    /// ACM.
    pub certificates: A,
    /// Clock.
    pub clock: C,
    /// Configuration.
    pub config: Config,
}

/// Why `certificate` failed.
#[derive(Debug, thiserror::Error)]
pub enum CertificateHandlerError {
    /// Neither Terraform's request nor ACM's expiry event.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// An event other than ACM's expiry of one certificate.
    #[error("{0}")]
    UnexpectedEvent(String),
    /// The names cannot go into a certificate.
    #[error("invalid certificate names")]
    Names(#[from] NamesRefusal),
    /// The expiry event names a certificate this deployment did not make.
    #[error("certificate {0:?} is not this deployment's (tag {CERTIFICATE_TAG}): nothing renewed")]
    NotOurs(String),
    /// The key or certificate could not be made.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// ACM failed or refused.
    #[error(transparent)]
    Acm(#[from] CertificateError),
    /// A listener still used the certificate when the time to delete it ran out.
    #[error(
        "certificate {arn} is still used by {users:?}: delete or change those listeners, then \
         destroy again"
    )]
    StillInUse {
        /// The certificate.
        arn: String,
        /// What uses it.
        users: Vec<String>,
    },
    /// The answer could not be encoded.
    #[error("certificate answer could not be encoded")]
    Encode(#[from] serde_json::Error),
}

impl Classify for CertificateHandlerError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Payload(_) | Self::UnexpectedEvent(_) | Self::Names(_) | Self::NotOurs(_) => {
                ErrorClass::InvalidInput
            }
            Self::Acm(CertificateError::Refused { .. }) => ErrorClass::InvalidInput,
            Self::Acm(CertificateError::InUse { .. }) | Self::StillInUse { .. } => {
                ErrorClass::Conflict
            }
            Self::Acm(_) => ErrorClass::Transient,
            Self::Issue(_) | Self::Encode(_) => ErrorClass::Internal,
        }
    }
}

/// Serves Terraform's request or ACM's expiry event.
pub async fn handle<A, C>(
    deps: &Deps<A, C>,
    payload: Value,
    deadline: Option<DateTime<Utc>>,
) -> Result<Value, CertificateHandlerError>
where
    A: Certificates,
    C: Clock,
{
    let response = if payload.get("detail-type").is_some() {
        renew(deps, decode::<ExpiryEvent>(payload)?).await?
    } else {
        let request = decode::<CertificateRequest>(payload)?;
        match request.tf.map_or(TerraformAction::Create, |tf| tf.action) {
            TerraformAction::Create | TerraformAction::Update => {
                let names = CertificateNames::parse(&request.names)?;
                put(deps, &names).await?
            }
            TerraformAction::Delete => delete(deps, deadline).await?,
        }
    };
    Ok(serde_json::to_value(response)?)
}

async fn ours<A: Certificates, C>(deps: &Deps<A, C>) -> Result<Vec<String>, CertificateError> {
    deps.certificates
        .tagged(CERTIFICATE_TAG, &deps.config.cluster_name)
        .await
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A new key and certificate for `names`: into the deployment's certificate if it has one
/// (the first, should a race have made two), else imported with the deployment's tags.
async fn put<A: Certificates, C: Clock>(
    deps: &Deps<A, C>,
    names: &CertificateNames,
) -> Result<CertificateResponse, CertificateHandlerError> {
    let existing = ours(deps).await?;
    if existing.len() > 1 {
        tracing::warn!(certificates = ?existing, "more than one certificate carries this deployment's tag; using the first");
    }
    reissue(deps, existing.into_iter().next(), names).await
}

/// A new key and certificate for `names`, re-imported into `into` (same ARN) or, without one,
/// imported anew with the deployment's tags.
async fn reissue<A: Certificates, C: Clock>(
    deps: &Deps<A, C>,
    into: Option<String>,
    names: &CertificateNames,
) -> Result<CertificateResponse, CertificateHandlerError> {
    let issued = issue(names, deps.clock.now())?;
    let (arn, outcome) = match into {
        Some(arn) => {
            deps.certificates.reimport(&arn, &issued).await?;
            (arn, CertificateOutcome::Reimported)
        }
        None => {
            let tags = [
                (CERTIFICATE_TAG, deps.config.cluster_name.as_str()),
                ("weka_cluster_name", deps.config.cluster_name.as_str()),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
            let arn = deps.certificates.import(&issued, &tags).await?;
            (arn, CertificateOutcome::Imported)
        }
    };
    tracing::info!(certificate = %arn, names = ?names.as_slice(), not_after = %issued.not_after, ?outcome, "self-signed ALB certificate issued");
    Ok(CertificateResponse {
        outcome,
        certificate_arn: Some(arn),
        names: names.as_slice().to_vec(),
        not_after: Some(rfc3339(issued.not_after)),
        deleted: Vec::new(),
    })
}

/// Re-issues the deployment's certificate named by ACM's expiry event, for the names it
/// carries, when it is due.
async fn renew<A: Certificates, C: Clock>(
    deps: &Deps<A, C>,
    event: ExpiryEvent,
) -> Result<CertificateResponse, CertificateHandlerError> {
    if event.source != ACM_EVENT_SOURCE || event.detail_type != EXPIRY_EVENT_DETAIL_TYPE {
        return Err(CertificateHandlerError::UnexpectedEvent(format!(
            "event {:?} from {:?}: only ACM's {EXPIRY_EVENT_DETAIL_TYPE:?} is served",
            event.detail_type, event.source
        )));
    }
    let [arn] = event.resources.as_slice() else {
        return Err(CertificateHandlerError::UnexpectedEvent(format!(
            "the expiry event names {} certificates, expected one",
            event.resources.len()
        )));
    };
    if !ours(deps).await?.contains(arn) {
        return Err(CertificateHandlerError::NotOurs(arn.clone()));
    }
    let facts = deps.certificates.describe(arn).await?;
    let now = deps.clock.now();
    if !due_for_renewal(facts.not_after, now) {
        return Ok(CertificateResponse {
            outcome: CertificateOutcome::Current,
            certificate_arn: Some(arn.clone()),
            names: facts.names,
            not_after: facts.not_after.map(rfc3339),
            deleted: Vec::new(),
        });
    }
    let names = CertificateNames::parse(&facts.names)?;
    tracing::info!(certificate = %arn, not_after = ?facts.not_after, "self-signed ALB certificate due for renewal: re-issued in place");
    reissue(deps, Some(arn.clone()), &names).await
}

/// Deletes the deployment's certificates, waiting (within the invocation's time) for ELB to let
/// go of one whose listener was just deleted. Already gone is deleted.
async fn delete<A: Certificates, C: Clock>(
    deps: &Deps<A, C>,
    deadline: Option<DateTime<Utc>>,
) -> Result<CertificateResponse, CertificateHandlerError> {
    // The last attempt comes at least two waits before the deadline, time to answer why.
    let wait = i64::try_from(IN_USE_RETRY.as_secs()).unwrap_or(i64::MAX);
    let attempts = deadline.map_or(IN_USE_ATTEMPTS_WITHOUT_DEADLINE, |end| {
        let left = (end - deps.clock.now()).num_seconds() - 2 * wait;
        u32::try_from(left / wait).unwrap_or(0) + 1
    });
    let mut deleted = Vec::new();
    for arn in ours(deps).await? {
        let mut attempt = 1;
        loop {
            match deps.certificates.delete(&arn).await {
                Ok(()) | Err(CertificateError::NotFound { .. }) => break,
                Err(CertificateError::InUse { .. }) if attempt < attempts => {
                    attempt += 1;
                    tokio::time::sleep(IN_USE_RETRY).await;
                }
                Err(CertificateError::InUse { .. }) => {
                    let users = deps.certificates.describe(&arn).await?.in_use_by;
                    return Err(CertificateHandlerError::StillInUse { arn, users });
                }
                Err(other) => return Err(other.into()),
            }
        }
        tracing::info!(certificate = %arn, "self-signed ALB certificate deleted");
        deleted.push(arn);
    }
    Ok(CertificateResponse {
        outcome: CertificateOutcome::Deleted,
        certificate_arn: None,
        names: Vec::new(),
        not_after: None,
        deleted,
    })
}
