//! The `certificate` function's payloads: Terraform's (`aws_lambda_invocation` with
//! `lifecycle_scope = "CRUD"`, which adds `tf.action`), ACM's expiry event (EventBridge), and
//! the answer Terraform keeps in its state (no key, no certificate body).

use serde::{Deserialize, Serialize};

/// ACM's event for an imported certificate nearing its end, sent daily from 45 days before.
pub const EXPIRY_EVENT_DETAIL_TYPE: &str = "ACM Certificate Approaching Expiration";
/// The source of ACM's events.
pub const ACM_EVENT_SOURCE: &str = "aws.acm";

/// What Terraform's lifecycle step asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TerraformAction {
    /// The resource is created: make or take over the certificate.
    Create,
    /// Its input changed: re-issue in place.
    Update,
    /// It is destroyed: delete the certificate.
    Delete,
}

/// Terraform's lifecycle block (`terraform_key`, default `tf`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TerraformLifecycle {
    /// The step.
    pub action: TerraformAction,
    /// The input before an update (not used: the certificate is found by its tag).
    #[serde(default)]
    pub prev_input: Option<serde_json::Value>,
}

/// Terraform's request: the names the ALB is reached by.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// DNS names, the first the subject's common name.
    pub names: Vec<String>,
    /// Terraform's lifecycle step; absent (a direct call) means create.
    #[serde(default)]
    pub tf: Option<TerraformLifecycle>,
}

/// ACM's expiry event, the fields read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExpiryEvent {
    /// `aws.acm`.
    pub source: String,
    /// [`EXPIRY_EVENT_DETAIL_TYPE`].
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// The certificate's ARN.
    #[serde(default)]
    pub resources: Vec<String>,
}

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateOutcome {
    /// A new certificate was imported.
    Imported,
    /// The deployment's certificate got a new key and certificate, same ARN.
    Reimported,
    /// The certificate is not yet due for renewal: nothing done.
    Current,
    /// The deployment's certificates were deleted.
    Deleted,
}

/// The answer (kept in Terraform's state: public facts only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateResponse {
    /// What was done.
    pub outcome: CertificateOutcome,
    /// The deployment's certificate (none after a delete).
    pub certificate_arn: Option<String>,
    /// Its names.
    pub names: Vec<String>,
    /// End of its validity, RFC 3339.
    pub not_after: Option<String>,
    /// Certificates deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<String>,
}
