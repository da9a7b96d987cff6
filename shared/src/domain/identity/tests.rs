use super::*;

const CERTIFICATE: &str = include_str!("../../../../tests/localcloud/identity/certificate.pem");
const DOCUMENT: &str = include_str!("../../../tests/fixtures/identity/document.json");
const SIGNATURE: &str = include_str!("../../../tests/fixtures/identity/document.signature");
const OTHER_REGION: &str =
    include_str!("../../../tests/fixtures/identity/document-other-region.json");
const OTHER_REGION_SIGNATURE: &str =
    include_str!("../../../tests/fixtures/identity/document-other-region.signature");
const FOREIGN_SIGNATURE: &str =
    include_str!("../../../tests/fixtures/identity/document.foreign-signature");

fn verifier() -> IdentityVerifier {
    IdentityVerifier::from_certificate(CERTIFICATE, "us-east-1").expect("test certificate")
}

fn proof(document: &str, signature: &str) -> IdentityProof {
    IdentityProof {
        document: document.to_owned(),
        signature: signature.to_owned(),
    }
}

#[test]
fn a_document_signed_for_the_region_names_its_instance() {
    let caller = verifier()
        .verify(&proof(DOCUMENT, SIGNATURE))
        .expect("verifies");
    assert_eq!(caller.instance_id.as_str(), "i-0123456789abcdef0");
    assert_eq!(caller.must_be("i-0123456789abcdef0"), Ok(()));
    for own in [
        "i-0123456789abcdef0",
        "ip-10-0-0-11",
        "ip-10-0-0-11.ec2.internal",
    ] {
        assert!(caller.is_named(own), "{own}");
    }
    for other in [
        "i-0aaaaaaaaaaaaaaaa",
        "ip-10-0-0-12",
        "ip-10-0-0-1",
        "anything",
    ] {
        assert!(!caller.is_named(other), "{other}");
    }
    assert!(matches!(
        caller.must_be("i-0aaaaaaaaaaaaaaaa"),
        Err(IdentityError::NotTheCaller { .. })
    ));
}

#[test]
fn the_bare_base64_body_of_the_certificate_is_the_same_certificate() {
    let body: String = CERTIFICATE
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let bare = IdentityVerifier::from_certificate(&body, "us-east-1").expect("bare body");
    assert_eq!(bare, verifier());
}

#[test]
fn a_changed_document_or_another_key_is_refused() {
    let changed = DOCUMENT.replace("i-0123456789abcdef0", "i-0fedcba9876543210");
    for (document, signature) in [(changed.as_str(), SIGNATURE), (DOCUMENT, FOREIGN_SIGNATURE)] {
        assert_eq!(
            verifier().verify(&proof(document, signature)),
            Err(IdentityError::BadSignature)
        );
    }
    assert_eq!(
        verifier().verify(&proof(DOCUMENT, "not base64!")),
        Err(IdentityError::SignatureEncoding)
    );
}

#[test]
fn a_document_signed_for_another_region_is_refused() {
    assert!(matches!(
        verifier().verify(&proof(OTHER_REGION, OTHER_REGION_SIGNATURE)),
        Err(IdentityError::WrongRegion { .. })
    ));
}

#[test]
fn oversized_proofs_are_refused_before_any_work() {
    let huge = "x".repeat(MAX_DOCUMENT_BYTES + 1);
    assert!(matches!(
        verifier().verify(&proof(&huge, SIGNATURE)),
        Err(IdentityError::TooLong {
            field: "document",
            ..
        })
    ));
    let long_signature = "A".repeat(MAX_SIGNATURE_BYTES + 1);
    assert!(matches!(
        verifier().verify(&proof(DOCUMENT, &long_signature)),
        Err(IdentityError::TooLong {
            field: "signature",
            ..
        })
    ));
}

#[test]
fn only_an_rsa_certificate_is_accepted() {
    assert!(matches!(
        IdentityVerifier::from_certificate(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "us-east-1"
        ),
        Err(CertificateError::Unreadable(_))
    ));
    assert!(matches!(
        IdentityVerifier::from_certificate("not a certificate", "us-east-1"),
        Err(CertificateError::Unreadable(_))
    ));
}
