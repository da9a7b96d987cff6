//! The ALB's self-signed default certificate: which names it may carry, how it is made (an
//! ECDSA P-256 key and a one-year server certificate for exactly those names) and when it is
//! due for renewal. The private key exists only in memory on its way to ACM.

use chrono::{DateTime, Duration, Utc};
use std::fmt;

/// How long a certificate is valid.
pub const VALIDITY_DAYS: i64 = 365;
/// A certificate that expires within this many days is renewed (ACM announces an imported
/// certificate's expiry daily from 45 days before it).
pub const RENEW_WITHIN_DAYS: i64 = 45;
/// At most this many names in one certificate (ACM imports up to 100; an ALB has few names).
pub const MAX_NAMES: usize = 10;
/// The organization named in the certificate's subject.
pub const ORGANIZATION: &str = "WEKA cluster self-signed";

/// Why names cannot go into the certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamesRefusal {
    /// No name at all.
    #[error("no DNS name given: the certificate must name the ALB")]
    Empty,
    /// More names than a certificate carries here.
    #[error("{0} names given, at most {MAX_NAMES}")]
    TooMany(usize),
    /// Not a DNS name a client can be asked to verify.
    #[error(
        "{0:?} is not a DNS name (labels of letters, digits and inner hyphens, each at most 63 \
         characters, at most 253 in all; `*.` allowed as the whole first label)"
    )]
    Invalid(String),
}

/// The DNS names one certificate carries: lower-case, unique, in the order given; the first
/// is also the subject's common name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateNames(Vec<String>);

impl CertificateNames {
    /// Checks `names` (case folded, duplicates dropped).
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, NamesRefusal> {
        let mut kept: Vec<String> = Vec::new();
        for name in names {
            let name = name.as_ref().trim_end_matches('.').to_ascii_lowercase();
            if !is_dns_name(&name) {
                return Err(NamesRefusal::Invalid(name));
            }
            if !kept.contains(&name) {
                kept.push(name);
            }
        }
        match kept.len() {
            0 => Err(NamesRefusal::Empty),
            n if n > MAX_NAMES => Err(NamesRefusal::TooMany(n)),
            _ => Ok(Self(kept)),
        }
    }

    /// The names, first the common name.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

fn is_dns_name(name: &str) -> bool {
    let labels = name.strip_prefix("*.").unwrap_or(name);
    !labels.is_empty()
        && name.len() <= 253
        && labels.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A made certificate and its key. `Debug` never shows the key.
pub struct IssuedCertificate {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// The private key, PKCS#8 PEM: for ACM only.
    pub private_key_pem: String,
    /// End of validity.
    pub not_after: DateTime<Utc>,
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("certificate_pem", &self.certificate_pem)
            .field("private_key_pem", &"***")
            .field("not_after", &self.not_after)
            .finish()
    }
}

/// The certificate could not be made (the crypto library refused; not expected).
#[derive(Debug, thiserror::Error)]
#[error("the self-signed certificate could not be made")]
pub struct IssueError(#[source] rcgen::Error);

/// A new key and a self-signed server certificate for `names`, valid from an hour before `now`
/// (clocks of clients drift) for [`VALIDITY_DAYS`].
pub fn issue(
    names: &CertificateNames,
    now: DateTime<Utc>,
) -> Result<IssuedCertificate, IssueError> {
    use rcgen::{
        CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    };
    let not_after = now + Duration::days(VALIDITY_DAYS);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(IssueError)?;
    let mut params = CertificateParams::new(names.as_slice().to_vec()).map_err(IssueError)?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, names.as_slice()[0].as_str());
    subject.push(DnType::OrganizationName, ORGANIZATION);
    params.distinguished_name = subject;
    params.not_before = offset_date_time(now - Duration::hours(1));
    params.not_after = offset_date_time(not_after);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let certificate = params.self_signed(&key).map_err(IssueError)?;
    Ok(IssuedCertificate {
        certificate_pem: certificate.pem(),
        private_key_pem: key.serialize_pem(),
        not_after: DateTime::from_timestamp(not_after.timestamp(), 0).unwrap_or(not_after),
    })
}

fn offset_date_time(at: DateTime<Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(at.timestamp())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Whether a certificate valid until `not_after` (unknown: yes) is due for renewal at `now`.
pub fn due_for_renewal(not_after: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    not_after.is_none_or(|end| end - now <= Duration::days(RENEW_WITHIN_DAYS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_folded_deduplicated_and_checked() {
        let names = CertificateNames::parse(&[
            "Internal-LB-1.us-east-1.ELB.amazonaws.com.",
            "weka.example",
            "weka.example",
        ])
        .unwrap();
        assert_eq!(
            names.as_slice(),
            ["internal-lb-1.us-east-1.elb.amazonaws.com", "weka.example"]
        );
        assert!(CertificateNames::parse(&["*.us-east-1.elb.amazonaws.com"]).is_ok());
        let empty: [&str; 0] = [];
        assert_eq!(CertificateNames::parse(&empty), Err(NamesRefusal::Empty));
        for bad in [
            "",
            "a..b",
            "-a.b",
            "a-.b",
            "a b",
            "a.*.b",
            "*",
            "x/y",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(
                    CertificateNames::parse(&[bad]),
                    Err(NamesRefusal::Invalid(_))
                ),
                "{bad:?} accepted"
            );
        }
        let many: Vec<String> = (0..=MAX_NAMES).map(|i| format!("n{i}.example")).collect();
        assert_eq!(
            CertificateNames::parse(&many),
            Err(NamesRefusal::TooMany(MAX_NAMES + 1))
        );
    }

    #[test]
    fn an_issued_certificate_names_exactly_its_names_for_a_year_and_serves_only_tls_servers() {
        use x509_cert::der::DecodePem;
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let names = CertificateNames::parse(&["lb.example", "weka.example"]).unwrap();
        let issued = issue(&names, now).unwrap();
        assert_eq!(issued.not_after, now + Duration::days(365));
        assert!(
            issued
                .private_key_pem
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        assert!(!format!("{issued:?}").contains("PRIVATE KEY"));
        let cert = x509_cert::Certificate::from_pem(issued.certificate_pem.as_bytes()).unwrap();
        let tbs = &cert.tbs_certificate;
        assert_eq!(tbs.subject, tbs.issuer, "self-signed");
        let mut subject: Vec<String> = tbs
            .subject
            .to_string()
            .split(',')
            .map(str::to_owned)
            .collect();
        subject.sort();
        assert_eq!(subject, ["CN=lb.example", &format!("O={ORGANIZATION}")]);
        let not_after = tbs.validity.not_after.to_unix_duration().as_secs();
        let not_before = tbs.validity.not_before.to_unix_duration().as_secs();
        assert_eq!(not_after as i64, issued.not_after.timestamp());
        assert_eq!(not_before as i64, (now - Duration::hours(1)).timestamp());
        let extensions = tbs.extensions.as_deref().unwrap_or_default();
        let der = |oid: &str| {
            extensions
                .iter()
                .find(|e| e.extn_id.to_string() == oid)
                .map(|e| e.extn_value.as_bytes().to_vec())
                .unwrap_or_else(|| panic!("extension {oid} missing"))
        };
        let san = der("2.5.29.17");
        for name in ["lb.example", "weka.example"] {
            assert!(
                san.windows(name.len()).any(|w| w == name.as_bytes()),
                "{name} not in the SANs"
            );
        }
        // extendedKeyUsage = serverAuth (1.3.6.1.5.5.7.3.1) only; basicConstraints CA:FALSE.
        assert_eq!(
            der("2.5.29.37"),
            [0x30, 0x0a, 0x06, 0x08, 0x2b, 6, 1, 5, 5, 7, 3, 1]
        );
        assert_eq!(der("2.5.29.19"), [0x30, 0x00]);
        let again = issue(&names, now).unwrap();
        assert_ne!(
            again.private_key_pem, issued.private_key_pem,
            "a new key each time"
        );
    }

    #[test]
    fn renewal_is_due_within_the_last_45_days_or_when_the_end_is_unknown() {
        let now = Utc::now();
        assert!(due_for_renewal(None, now));
        assert!(due_for_renewal(Some(now + Duration::days(45)), now));
        assert!(due_for_renewal(Some(now - Duration::days(1)), now));
        assert!(!due_for_renewal(Some(now + Duration::days(46)), now));
    }
}
