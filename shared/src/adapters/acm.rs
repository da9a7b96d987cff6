//! Imported certificates on AWS Certificate Manager. The private key is sent once, in the
//! import request, and never enters an error or a log.

use crate::domain::certificate::IssuedCertificate;
use crate::ports::{CertificateError, CertificateFacts, Certificates};
use aws_sdk_acm::Client;
use aws_sdk_acm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_acm::primitives::Blob;
use aws_sdk_acm::types::{Filters, KeyAlgorithm, Tag};
use chrono::{DateTime, Utc};

/// ACM client.
#[derive(Debug, Clone)]
pub struct AwsCertificates {
    client: super::LazyClient<Client>,
}

impl AwsCertificates {
    /// The client on the shared SDK configuration, built on first use.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            client: super::clients::on(&std::sync::Arc::new(sdk.clone()), Client::new),
        }
    }
}

fn backend<E>(operation: &'static str) -> impl FnOnce(SdkError<E>) -> CertificateError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| CertificateError::Backend {
        operation,
        source: Box::new(e),
    }
}

/// An import error: refused for what was sent (a bad key or certificate, tags) or a failure.
fn import_error(
    operation: &'static str,
    arn: Option<&str>,
    e: SdkError<aws_sdk_acm::operation::import_certificate::ImportCertificateError>,
) -> CertificateError {
    match e.as_service_error() {
        Some(service) if service.is_resource_not_found_exception() => CertificateError::NotFound {
            arn: arn.unwrap_or_default().to_owned(),
        },
        Some(service)
            if service.is_validation_exception()
                || service.is_invalid_parameter_exception()
                || service.is_invalid_tag_exception()
                || service.is_too_many_tags_exception()
                || service.is_tag_policy_exception()
                || service.is_limit_exceeded_exception() =>
        {
            CertificateError::Refused {
                operation,
                source: Box::new(e),
            }
        }
        _ => backend(operation)(e),
    }
}

impl Certificates for AwsCertificates {
    async fn tagged(&self, key: &str, value: &str) -> Result<Vec<String>, CertificateError> {
        // ListCertificates answers RSA 2048 certificates unless asked for other key types.
        let key_types = Filters::builder()
            .set_key_types(Some(vec![
                KeyAlgorithm::EcPrime256v1,
                KeyAlgorithm::EcSecp384r1,
                KeyAlgorithm::Rsa2048,
                KeyAlgorithm::Rsa3072,
                KeyAlgorithm::Rsa4096,
            ]))
            .build();
        let mut candidates = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_certificates()
                .includes(key_types.clone())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(backend("list_certificates"))?;
            candidates.extend(
                page.certificate_summary_list()
                    .iter()
                    .filter_map(|c| c.certificate_arn().map(str::to_owned)),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        let mut found = Vec::new();
        for arn in candidates {
            let tags = match self
                .client
                .list_tags_for_certificate()
                .certificate_arn(&arn)
                .send()
                .await
            {
                Ok(out) => out,
                // Deleted between the list and this call: not ours to find.
                Err(e) if e.code() == Some("ResourceNotFoundException") => continue,
                Err(e) => return Err(backend("list_tags_for_certificate")(e)),
            };
            if tags
                .tags()
                .iter()
                .any(|t| t.key() == key && t.value() == Some(value))
            {
                found.push(arn);
            }
        }
        found.sort();
        Ok(found)
    }

    async fn describe(&self, arn: &str) -> Result<CertificateFacts, CertificateError> {
        let out = self
            .client
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(service) if service.is_resource_not_found_exception() => {
                    CertificateError::NotFound {
                        arn: arn.to_owned(),
                    }
                }
                _ => backend("describe_certificate")(e),
            })?;
        let detail = out.certificate();
        Ok(CertificateFacts {
            arn: arn.to_owned(),
            names: detail
                .map(|d| d.subject_alternative_names().to_vec())
                .unwrap_or_default(),
            not_after: detail
                .and_then(|d| d.not_after())
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), 0)),
            in_use_by: detail.map(|d| d.in_use_by().to_vec()).unwrap_or_default(),
        })
    }

    async fn import(
        &self,
        issued: &IssuedCertificate,
        tags: &[(String, String)],
    ) -> Result<String, CertificateError> {
        let out = self
            .client
            .import_certificate()
            .certificate(Blob::new(issued.certificate_pem.as_bytes()))
            .private_key(Blob::new(issued.private_key_pem.as_bytes()))
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| CertificateError::Refused {
                        operation: "import_certificate",
                        source: Box::new(e),
                    })?,
            ))
            .send()
            .await
            .map_err(|e| import_error("import_certificate", None, e))?;
        out.certificate_arn()
            .map(str::to_owned)
            .ok_or_else(|| CertificateError::Backend {
                operation: "import_certificate",
                source: "ACM answered no certificate ARN".into(),
            })
    }

    async fn reimport(
        &self,
        arn: &str,
        issued: &IssuedCertificate,
    ) -> Result<(), CertificateError> {
        self.client
            .import_certificate()
            .certificate_arn(arn)
            .certificate(Blob::new(issued.certificate_pem.as_bytes()))
            .private_key(Blob::new(issued.private_key_pem.as_bytes()))
            .send()
            .await
            .map_err(|e| import_error("import_certificate (re-import)", Some(arn), e))?;
        Ok(())
    }

    async fn delete(&self, arn: &str) -> Result<(), CertificateError> {
        match self
            .client
            .delete_certificate()
            .certificate_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(match e.as_service_error() {
                Some(service) if service.is_resource_in_use_exception() => {
                    CertificateError::InUse {
                        arn: arn.to_owned(),
                    }
                }
                Some(service) if service.is_resource_not_found_exception() => {
                    CertificateError::NotFound {
                        arn: arn.to_owned(),
                    }
                }
                _ => backend("delete_certificate")(e),
            }),
        }
    }
}
