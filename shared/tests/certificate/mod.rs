//! `certificate` on fakes: Terraform's create, update and destroy, a retried create, ACM's
//! expiry event, and what is refused.

use chrono::Duration as Days;
use serde_json::{Value, json};
use weka_shared::error::{Classify, ErrorClass};
use weka_shared::handlers::certificate::{self, CERTIFICATE_TAG, CertificateHandlerError};
use weka_shared::ports::Clock;
use weka_shared::testing::{FakeCertificates, FakeClock};

const CLUSTER: &str = "prod";

fn deps() -> certificate::Deps<FakeCertificates, FakeClock> {
    certificate::Deps {
        certificates: FakeCertificates::default(),
        clock: FakeClock::default_start(),
        config: certificate::Config {
            cluster_name: CLUSTER.to_owned(),
        },
    }
}

fn terraform(action: &str, names: &[&str]) -> Value {
    json!({"names": names, "tf": {"action": action, "prev_input": null}})
}

fn expiry(arn: &str) -> Value {
    json!({"version": "0", "id": "e", "source": "aws.acm",
           "detail-type": "ACM Certificate Approaching Expiration", "account": "123456789012",
           "region": "us-east-1", "resources": [arn],
           "detail": {"DaysToExpiry": 30, "CommonName": "lb.example"}})
}

async fn call(
    deps: &certificate::Deps<FakeCertificates, FakeClock>,
    payload: Value,
) -> Result<Value, CertificateHandlerError> {
    certificate::handle(deps, payload, None).await
}

/// Creates the deployment's certificate for `lb.example`; its ARN.
async fn created(deps: &certificate::Deps<FakeCertificates, FakeClock>) -> String {
    let answer = call(deps, terraform("create", &["lb.example"]))
        .await
        .unwrap();
    answer["certificate_arn"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn create_imports_one_tagged_certificate_for_the_names_and_answers_no_secret() {
    let deps = deps();
    let answer = call(&deps, terraform("create", &["LB.example", "weka.example"]))
        .await
        .unwrap();
    let all = deps.certificates.all();
    assert_eq!(all.len(), 1);
    let (arn, cert) = all.iter().next().unwrap();
    assert_eq!(answer["outcome"], "imported");
    assert_eq!(answer["certificate_arn"], arn.as_str());
    assert_eq!(answer["names"], json!(["lb.example", "weka.example"]));
    assert_eq!(
        cert.names,
        ["lb.example", "weka.example"],
        "exactly the names, in order"
    );
    assert!(
        cert.tags
            .contains(&(CERTIFICATE_TAG.to_owned(), CLUSTER.to_owned()))
    );
    let expected_end = deps.clock.now() + Days::days(365);
    assert_eq!(cert.not_after, Some(expected_end));
    let text = answer.to_string();
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("BEGIN CERTIFICATE"),
        "{text}"
    );
}

#[tokio::test]
async fn a_retried_create_and_an_update_reissue_into_the_same_arn() {
    let deps = deps();
    let first = call(&deps, terraform("create", &["lb.example"]))
        .await
        .unwrap();
    let key = deps
        .certificates
        .all()
        .values()
        .next()
        .unwrap()
        .private_key_pem
        .clone();
    let again = call(&deps, terraform("create", &["lb.example"]))
        .await
        .unwrap();
    let update = call(&deps, terraform("update", &["alias.example", "lb.example"]))
        .await
        .unwrap();
    let all = deps.certificates.all();
    assert_eq!(all.len(), 1, "one certificate however often Terraform asks");
    assert_eq!(again["certificate_arn"], first["certificate_arn"]);
    assert_eq!(update["certificate_arn"], first["certificate_arn"]);
    assert_eq!(again["outcome"], "reimported");
    let cert = all.values().next().unwrap();
    assert_eq!(cert.imports, 3);
    assert_eq!(cert.names, ["alias.example", "lb.example"]);
    assert_ne!(cert.private_key_pem, key, "a new key on every issue");
}

#[tokio::test]
async fn another_deployments_certificate_is_never_touched() {
    let deps = deps();
    deps.certificates
        .insert("arn:other", &[(CERTIFICATE_TAG, "staging")], None);
    call(&deps, terraform("create", &["lb.example"]))
        .await
        .unwrap();
    let deleted = call(&deps, terraform("delete", &["lb.example"]))
        .await
        .unwrap();
    assert_eq!(deleted["deleted"].as_array().unwrap().len(), 1);
    let left = deps.certificates.all();
    assert_eq!(left.keys().collect::<Vec<_>>(), ["arn:other"]);
    assert_eq!(left["arn:other"].imports, 1);
    let err = call(&deps, expiry("arn:other")).await.unwrap_err();
    assert!(matches!(err, CertificateHandlerError::NotOurs(_)), "{err}");
    assert_eq!(err.class(), ErrorClass::InvalidInput);
    assert_eq!(deps.certificates.all()["arn:other"].imports, 1);
}

#[tokio::test(start_paused = true)]
async fn destroy_waits_for_the_listener_to_let_go_then_reports_who_still_holds_it() {
    let deps = deps();
    let arn = created(&deps).await;
    deps.certificates
        .set_in_use(&arn, &["arn:aws:elasticloadbalancing:lb"]);
    // The invocation has 60 s: about 11 attempts 5 s apart, then the error names the user.
    let deadline = deps.clock.now() + Days::seconds(60);
    let err = certificate::handle(&deps, terraform("delete", &["lb.example"]), Some(deadline))
        .await
        .unwrap_err();
    match &err {
        CertificateHandlerError::StillInUse { arn: a, users } => {
            assert_eq!(a, &arn);
            assert_eq!(users, &["arn:aws:elasticloadbalancing:lb"]);
        }
        other => panic!("{other}"),
    }
    assert_eq!(err.class(), ErrorClass::Conflict);
    let attempts = deps
        .certificates
        .calls()
        .iter()
        .filter(|c| c.starts_with("delete"))
        .count();
    assert_eq!(attempts, 11);
    // Released: the next destroy deletes it; one more finds nothing and succeeds.
    deps.certificates.set_in_use(&arn, &[]);
    let done = call(&deps, terraform("delete", &["lb.example"]))
        .await
        .unwrap();
    assert_eq!(done["deleted"], json!([arn]));
    let none = call(&deps, terraform("delete", &["lb.example"]))
        .await
        .unwrap();
    assert_eq!(none["outcome"], "deleted");
    assert!(none.get("deleted").is_none());
    assert!(deps.certificates.all().is_empty());
}

#[tokio::test]
async fn the_expiry_event_renews_in_place_only_when_due() {
    let deps = deps();
    let arn = created(&deps).await;
    let current = call(&deps, expiry(&arn)).await.unwrap();
    assert_eq!(current["outcome"], "current");
    assert_eq!(deps.certificates.all()[&arn].imports, 1);
    deps.clock
        .advance(std::time::Duration::from_secs(330 * 86_400));
    let renewed = call(&deps, expiry(&arn)).await.unwrap();
    assert_eq!(renewed["outcome"], "reimported");
    assert_eq!(renewed["certificate_arn"], arn.as_str());
    let cert = &deps.certificates.all()[&arn];
    assert_eq!(cert.imports, 2);
    assert_eq!(cert.not_after, Some(deps.clock.now() + Days::days(365)));
    assert_eq!(cert.names, ["lb.example"]);
}

#[tokio::test]
async fn bad_requests_are_refused_before_anything_is_imported() {
    let deps = deps();
    for payload in [
        json!({"names": []}),
        json!({"names": ["not a name"]}),
        json!({"names": ["lb.example"], "extra": 1}),
        json!({"names": ["lb.example"], "tf": {"action": "replace"}}),
        json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "resources": ["x"]}),
        json!({"source": "aws.acm", "detail-type": "ACM Certificate Approaching Expiration", "resources": []}),
        json!([1]),
    ] {
        let err = call(&deps, payload.clone()).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::InvalidInput, "{payload}: {err}");
    }
    assert!(deps.certificates.all().is_empty());
    assert!(
        !deps
            .certificates
            .calls()
            .iter()
            .any(|c| c.starts_with("import"))
    );
}
