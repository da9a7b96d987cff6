//! [`FakeCertificates`]: ACM in memory: imported certificates with their tags, what uses them,
//! and the key each was last imported with (to check it changed, never to log it).

use crate::domain::certificate::IssuedCertificate;
use crate::ports::{CertificateError, CertificateFacts, Certificates};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One certificate held by [`FakeCertificates`].
#[derive(Debug, Clone)]
pub struct FakeCertificate {
    /// Its tags.
    pub tags: Vec<(String, String)>,
    /// Its certificate, PEM.
    pub certificate_pem: String,
    /// The key it was last imported with.
    pub private_key_pem: String,
    /// End of validity.
    pub not_after: Option<DateTime<Utc>>,
    /// Its names.
    pub names: Vec<String>,
    /// What uses it.
    pub in_use_by: Vec<String>,
    /// How many times it was imported (1 = never re-imported).
    pub imports: u32,
}

/// ACM in memory.
#[derive(Debug, Default)]
pub struct FakeCertificates {
    certificates: Mutex<BTreeMap<String, FakeCertificate>>,
    next: Mutex<u32>,
    calls: Mutex<Vec<String>>,
}

impl FakeCertificates {
    /// Every certificate, by ARN.
    pub fn all(&self) -> BTreeMap<String, FakeCertificate> {
        self.certificates.lock().unwrap().clone()
    }

    /// Adds a certificate as if imported by someone else (`pem` and names made up).
    pub fn insert(&self, arn: &str, tags: &[(&str, &str)], not_after: Option<DateTime<Utc>>) {
        self.certificates.lock().unwrap().insert(
            arn.to_owned(),
            FakeCertificate {
                tags: tags
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                certificate_pem: String::new(),
                private_key_pem: String::new(),
                not_after,
                names: vec!["other.example".to_owned()],
                in_use_by: Vec::new(),
                imports: 1,
            },
        );
    }

    /// Marks certificate `arn` used (or not) by `users`.
    pub fn set_in_use(&self, arn: &str, users: &[&str]) {
        if let Some(c) = self.certificates.lock().unwrap().get_mut(arn) {
            c.in_use_by = users.iter().map(|u| (*u).to_owned()).collect();
        }
    }

    /// The calls made so far (`import`, `reimport <arn>`, `delete <arn>`, ...).
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

/// The DNS names the certificate carries (its subject alternative names), as ACM describes them.
fn names_of(issued: &IssuedCertificate) -> Vec<String> {
    use x509_cert::der::DecodePem;
    use x509_cert::ext::pkix::{SubjectAltName, name::GeneralName};
    let Ok(cert) = x509_cert::Certificate::from_pem(issued.certificate_pem.as_bytes()) else {
        return Vec::new();
    };
    let Ok(Some((_, SubjectAltName(names)))) = cert.tbs_certificate.get::<SubjectAltName>() else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter_map(|name| match name {
            GeneralName::DnsName(dns) => Some(dns.to_string()),
            _ => None,
        })
        .collect()
}

impl Certificates for FakeCertificates {
    async fn tagged(&self, key: &str, value: &str) -> Result<Vec<String>, CertificateError> {
        self.record(format!("tagged {key}={value}"));
        Ok(self
            .certificates
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, c)| c.tags.iter().any(|(k, v)| k == key && v == value))
            .map(|(arn, _)| arn.clone())
            .collect())
    }

    async fn describe(&self, arn: &str) -> Result<CertificateFacts, CertificateError> {
        self.record(format!("describe {arn}"));
        let certificates = self.certificates.lock().unwrap();
        let c = certificates
            .get(arn)
            .ok_or_else(|| CertificateError::NotFound {
                arn: arn.to_owned(),
            })?;
        Ok(CertificateFacts {
            arn: arn.to_owned(),
            names: c.names.clone(),
            not_after: c.not_after,
            in_use_by: c.in_use_by.clone(),
        })
    }

    async fn import(
        &self,
        issued: &IssuedCertificate,
        tags: &[(String, String)],
    ) -> Result<String, CertificateError> {
        self.record("import".to_owned());
        let mut next = self.next.lock().unwrap();
        *next += 1;
        let arn = format!("arn:aws:acm:us-east-1:123456789012:certificate/fake-{next}");
        self.certificates.lock().unwrap().insert(
            arn.clone(),
            FakeCertificate {
                tags: tags.to_vec(),
                certificate_pem: issued.certificate_pem.clone(),
                private_key_pem: issued.private_key_pem.clone(),
                not_after: Some(issued.not_after),
                names: names_of(issued),
                in_use_by: Vec::new(),
                imports: 1,
            },
        );
        Ok(arn)
    }

    async fn reimport(
        &self,
        arn: &str,
        issued: &IssuedCertificate,
    ) -> Result<(), CertificateError> {
        self.record(format!("reimport {arn}"));
        let mut certificates = self.certificates.lock().unwrap();
        let c = certificates
            .get_mut(arn)
            .ok_or_else(|| CertificateError::NotFound {
                arn: arn.to_owned(),
            })?;
        c.certificate_pem.clone_from(&issued.certificate_pem);
        c.private_key_pem.clone_from(&issued.private_key_pem);
        c.not_after = Some(issued.not_after);
        c.names = names_of(issued);
        c.imports += 1;
        Ok(())
    }

    async fn delete(&self, arn: &str) -> Result<(), CertificateError> {
        self.record(format!("delete {arn}"));
        let mut certificates = self.certificates.lock().unwrap();
        match certificates.get(arn) {
            None => Err(CertificateError::NotFound {
                arn: arn.to_owned(),
            }),
            Some(c) if !c.in_use_by.is_empty() => Err(CertificateError::InUse {
                arn: arn.to_owned(),
            }),
            Some(_) => {
                certificates.remove(arn);
                Ok(())
            }
        }
    }
}
