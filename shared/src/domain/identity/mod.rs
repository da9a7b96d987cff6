//! Who is calling: an instance proves its identity with the identity document EC2 signs for it
//! (IMDS `/latest/dynamic/instance-identity/document` and `…/signature`), checked against the
//! region's AWS RSA certificate. One host cannot speak for another: the document names the
//! instance, and only that instance's metadata service hands it out.

use crate::domain::instance::{InstanceId, InvalidInstanceId};
use crate::domain::lifecycle::HostRef;
use crate::wire::bootstrap::IdentityProof;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use x509_cert::der::{Decode as _, DecodePem as _};

/// Longest identity document accepted (AWS's are about 500 bytes).
pub const MAX_DOCUMENT_BYTES: usize = 4096;
/// Longest base64 signature accepted (an RSA-4096 signature is 684 characters).
pub const MAX_SIGNATURE_BYTES: usize = 1024;
/// `rsaEncryption`: the only key type AWS signs identity documents with here.
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

/// Why a certificate cannot check identity documents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Neither PEM nor the base64 of a DER certificate.
    #[error("not an X.509 certificate: {0}")]
    Unreadable(String),
    /// A certificate for another kind of key (e.g. AWS's DSA certificate).
    #[error("the certificate's key is {0}, expected RSA (AWS's RSA certificate for the region)")]
    NotRsa(String),
}

/// Why an identity proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The request carries no proof, and this deployment requires one.
    #[error("the request carries no instance identity document")]
    Missing,
    /// Document or signature longer than any real one.
    #[error("the identity {field} is {len} bytes; at most {max} are accepted")]
    TooLong {
        /// `document` or `signature`.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The signature is not base64.
    #[error("the identity signature is not base64")]
    SignatureEncoding,
    /// The signature does not match the document under the region's certificate.
    #[error("the identity document's signature does not verify")]
    BadSignature,
    /// Signed, but not a document this deployment accepts.
    #[error("the identity document is unusable: {0}")]
    Document(String),
    /// Signed for another region.
    #[error("the identity document is for region {found:?}, this deployment runs in {expected:?}")]
    WrongRegion {
        /// The document's region.
        found: String,
        /// The deployment's region.
        expected: String,
    },
    /// The request names another instance than the one the document proves.
    #[error("the request names {named:?}, but the caller is {caller}")]
    NotTheCaller {
        /// The instance the request names.
        named: String,
        /// The instance the document proves.
        caller: String,
    },
}

/// The fields of an identity document the control plane relies on.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    instance_id: String,
    region: String,
    #[serde(default)]
    private_ip: Option<String>,
}

/// An instance whose identity document verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedInstance {
    /// The calling instance.
    pub instance_id: InstanceId,
    /// Its primary private address, as the document states it.
    pub private_ip: Option<String>,
}

impl VerifiedInstance {
    /// Refuses a request that names an instance other than the caller.
    pub fn must_be(&self, named: &str) -> Result<(), IdentityError> {
        if self.instance_id.as_str() == named {
            Ok(())
        } else {
            Err(IdentityError::NotTheCaller {
                named: named.chars().take(64).collect(),
                caller: self.instance_id.as_str().to_owned(),
            })
        }
    }
}

impl VerifiedInstance {
    /// Whether `host` is a name of the caller: its instance id, or a host name of its private
    /// address (`ip-10-0-1-12`, `ip-10-0-1-12.ec2.internal`), the names scripts report under.
    pub fn is_named(&self, host: &str) -> bool {
        host == self.instance_id.as_str()
            || matches!(HostRef::parse(host), HostRef::Ip(ip) if self.private_ip.as_deref() == Some(ip.as_str()))
    }
}

/// Checks identity documents against one region's certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityVerifier {
    /// The certificate's RSA public key (PKCS#1 `RSAPublicKey`, DER).
    public_key: Vec<u8>,
    region: String,
}

impl std::fmt::Debug for IdentityVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityVerifier")
            .field("region", &self.region)
            .field("public_key_bytes", &self.public_key.len())
            .finish()
    }
}

impl IdentityVerifier {
    /// A verifier for `region` from AWS's RSA certificate, as PEM or as the bare base64 body
    /// (what fits a Lambda environment variable).
    pub fn from_certificate(certificate: &str, region: &str) -> Result<Self, CertificateError> {
        let text = certificate.trim();
        let parsed = if text.starts_with("-----BEGIN") {
            x509_cert::Certificate::from_pem(text.as_bytes())
                .map_err(|e| CertificateError::Unreadable(e.to_string()))?
        } else {
            let body: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let der = STANDARD
                .decode(body)
                .map_err(|e| CertificateError::Unreadable(e.to_string()))?;
            x509_cert::Certificate::from_der(&der)
                .map_err(|e| CertificateError::Unreadable(e.to_string()))?
        };
        let key_info = &parsed.tbs_certificate.subject_public_key_info;
        let algorithm = key_info.algorithm.oid.to_string();
        if algorithm != RSA_ENCRYPTION_OID {
            return Err(CertificateError::NotRsa(algorithm));
        }
        let public_key = key_info
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| CertificateError::Unreadable("key bits are not whole bytes".to_owned()))?
            .to_vec();
        Ok(Self {
            public_key,
            region: region.to_owned(),
        })
    }

    /// The instance a proof speaks for, if its signature verifies and it is for this region.
    pub fn verify(&self, proof: &IdentityProof) -> Result<VerifiedInstance, IdentityError> {
        for (field, value, max) in [
            ("document", &proof.document, MAX_DOCUMENT_BYTES),
            ("signature", &proof.signature, MAX_SIGNATURE_BYTES),
        ] {
            if value.len() > max {
                return Err(IdentityError::TooLong {
                    field,
                    len: value.len(),
                    max,
                });
            }
        }
        let signature: String = proof
            .signature
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let signature = STANDARD
            .decode(signature)
            .map_err(|_| IdentityError::SignatureEncoding)?;
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.public_key)
            .verify(proof.document.as_bytes(), &signature)
            .map_err(|_| IdentityError::BadSignature)?;
        let document: Document = serde_json::from_str(&proof.document)
            .map_err(|e| IdentityError::Document(e.to_string()))?;
        if document.region != self.region {
            return Err(IdentityError::WrongRegion {
                found: document.region,
                expected: self.region.clone(),
            });
        }
        let instance_id =
            InstanceId::parse(&document.instance_id).map_err(|InvalidInstanceId(id)| {
                IdentityError::Document(format!("instanceId {id:?}"))
            })?;
        Ok(VerifiedInstance {
            instance_id,
            private_ip: document.private_ip,
        })
    }
}

#[cfg(test)]
mod tests;
