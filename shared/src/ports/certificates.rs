//! ACM, as a port: the certificates a deployment imported (found by their tag), imported anew or
//! re-imported in place, described, deleted. Never carries a private key in an error.

use crate::domain::certificate::IssuedCertificate;
use chrono::{DateTime, Utc};
use std::future::Future;

use super::BoxError;

/// A certificate as ACM describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// Its ARN.
    pub arn: String,
    /// The DNS names it carries (subject alternative names).
    pub names: Vec<String>,
    /// End of validity, when ACM knows it.
    pub not_after: Option<DateTime<Utc>>,
    /// ARNs of what uses it (load balancers).
    pub in_use_by: Vec<String>,
}

/// Failure of a certificate call.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// Something (a listener) still uses the certificate.
    #[error("certificate {arn} is still in use")]
    InUse {
        /// The certificate.
        arn: String,
    },
    /// No such certificate.
    #[error("certificate {arn} does not exist")]
    NotFound {
        /// The certificate.
        arn: String,
    },
    /// ACM refused the certificate (its key, its format).
    #[error("ACM refused the certificate during {operation}")]
    Refused {
        /// The operation that failed.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// ACM failed.
    #[error("ACM failed during {operation}")]
    Backend {
        /// The operation that failed.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// Imported certificates.
pub trait Certificates: Send + Sync {
    /// ARNs of the certificates tagged `key = value`, sorted.
    fn tagged(
        &self,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<Vec<String>, CertificateError>> + Send;

    /// What ACM knows of `arn`.
    fn describe(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<CertificateFacts, CertificateError>> + Send;

    /// Imports `issued` as a new certificate carrying `tags`; its ARN.
    fn import(
        &self,
        issued: &IssuedCertificate,
        tags: &[(String, String)],
    ) -> impl Future<Output = Result<String, CertificateError>> + Send;

    /// Replaces certificate `arn`'s key and certificate with `issued`, keeping its ARN (what
    /// uses it serves the new one) and its tags.
    fn reimport(
        &self,
        arn: &str,
        issued: &IssuedCertificate,
    ) -> impl Future<Output = Result<(), CertificateError>> + Send;

    /// Deletes certificate `arn`.
    fn delete(&self, arn: &str) -> impl Future<Output = Result<(), CertificateError>> + Send;
}
